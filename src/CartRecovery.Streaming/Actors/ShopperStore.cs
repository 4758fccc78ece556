using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using CartRecovery.Domain.State;
using CartRecovery.Streaming.Checkpointing;

namespace CartRecovery.Streaming.Actors;

/// <summary>
/// A partition's shoppers' policy state (consent, caps, orders, seen ids, ...), by shopper id. A shopper in use holds
/// its state as objects; once a checkpoint has encoded it while none of its sessions is live (<see cref="Collect"/>), the
/// store keeps those bytes instead (a third of the objects' size), and the next full snapshot copies them. Reading the
/// shopper again decodes it (the domain gets the state it left), and it stays decoded until a later checkpoint finds it
/// quiet again: a waiting shopper costs its bytes, and each one is encoded once per change, not once per checkpoint.
/// The state is held in the shopper's entry of <paramref name="entries"/>, which the partition's <see cref="SessionStore"/>
/// shares for the shopper's sessions (one entry per shopper).
/// </summary>
internal sealed class ShopperStore(ShopperEntries entries)
{
    private int _count;

    /// <summary>A store with entries of its own (no session store shares them).</summary>
    public ShopperStore() : this(new ShopperEntries())
    {
    }

    public int Count => _count;

    /// <summary>Bytes of the quiet shoppers' encoded states (a measurement: counts them one by one).</summary>
    public long EncodedBytes => entries.All.Values.Sum(entry => (long)((entry.Shopper as byte[])?.Length ?? 0));

    public bool TryGetValue(string shopperId, [MaybeNullWhen(false)] out ShopperState shopper)
    {
        ref var entry = ref entries.Find(shopperId);
        if (Unsafe.IsNullRef(ref entry) || entry.Shopper is null)
        {
            shopper = null;
            return false;
        }
        // In use again: decoded once, kept as objects until a checkpoint finds the shopper quiet.
        if (entry.Shopper is byte[] bytes) entry.Shopper = CheckpointCodec.DecodeShopper(bytes);
        shopper = (ShopperState)entry.Shopper;
        return true;
    }

    public ShopperState? GetValueOrDefault(string shopperId) => TryGetValue(shopperId, out var shopper) ? shopper : null;

    public ShopperState this[string shopperId]
    {
        set
        {
            ref var entry = ref entries.FindOrAdd(shopperId);
            if (entry.Shopper is null) _count++;
            entry.Shopper = value;
        }
    }

    public bool Remove(string shopperId)
    {
        ref var entry = ref entries.Find(shopperId);
        if (Unsafe.IsNullRef(ref entry) || entry.Shopper is null) return false;
        entry.Shopper = null;
        _count--;
        entries.RemoveIfEmpty(shopperId);
        return true;
    }

    /// <summary>Every shopper (<paramref name="shopperIds"/> null) or these shoppers, for a checkpoint: held bytes into
    /// <paramref name="encoded"/> as they are; a decoded state that is <paramref name="quiet"/> is encoded there and held
    /// as those bytes from now on; any other into <paramref name="states"/> (the checkpoint encodes it).</summary>
    public void Collect(IEnumerable<string>? shopperIds, Func<string, bool> quiet, List<ShopperState> states, List<byte[]> encoded)
    {
        List<(string, byte[])>? cooled = null;
        foreach (var shopperId in shopperIds ?? entries.All.Keys)
        {
            if (!entries.All.TryGetValue(shopperId, out var entry) || entry.Shopper is not { } held) continue;
            if (held is byte[] bytes) encoded.Add(bytes);
            else if (quiet(shopperId))
            {
                var cold = CheckpointCodec.EncodeShopper((ShopperState)held);
                encoded.Add(cold);
                (cooled ??= []).Add((shopperId, cold));
            }
            else states.Add((ShopperState)held);
        }
        // Not while enumerating the entries.
        if (cooled is null) return;
        foreach (var (shopperId, cold) in cooled) entries.Find(shopperId).Shopper = cold;
    }
}
