using System.Diagnostics.CodeAnalysis;
using CartRecovery.Domain.State;
using CartRecovery.Streaming.Checkpointing;

namespace CartRecovery.Streaming.Actors;

/// <summary>
/// A partition's shoppers' policy state (consent, caps, orders, seen ids, ...), by shopper id. A shopper in use holds
/// its state as objects; once a checkpoint has encoded it while none of its sessions is live (<see cref="Collect"/>), the
/// store keeps those bytes instead (a third of the objects' size), and the next full snapshot copies them. Reading the
/// shopper again decodes it (the domain gets the state it left), and it stays decoded until a later checkpoint finds it
/// quiet again: a waiting shopper costs its bytes, and each one is encoded once per change, not once per checkpoint.
/// </summary>
internal sealed class ShopperStore
{
    // ShopperState while in use, byte[] (CheckpointCodec.EncodeShopper) while quiet.
    private readonly Dictionary<string, object> _shoppers = new(StringComparer.Ordinal);

    public int Count => _shoppers.Count;

    /// <summary>Bytes of the quiet shoppers' encoded states (a measurement: counts them one by one).</summary>
    public long EncodedBytes => _shoppers.Values.Sum(held => (long)((held as byte[])?.Length ?? 0));

    public bool TryGetValue(string shopperId, [MaybeNullWhen(false)] out ShopperState shopper)
    {
        if (!_shoppers.TryGetValue(shopperId, out var held))
        {
            shopper = null;
            return false;
        }
        if (held is byte[] bytes)
        {
            // In use again: decoded once, kept as objects until a checkpoint finds the shopper quiet.
            held = CheckpointCodec.DecodeShopper(bytes);
            _shoppers[shopperId] = held;
        }
        shopper = (ShopperState)held;
        return true;
    }

    public ShopperState this[string shopperId]
    {
        set => _shoppers[shopperId] = value;
    }

    public bool Remove(string shopperId) => _shoppers.Remove(shopperId);

    /// <summary>Every shopper (<paramref name="shopperIds"/> null) or these shoppers, for a checkpoint: held bytes into
    /// <paramref name="encoded"/> as they are; a decoded state that is <paramref name="quiet"/> is encoded there and held
    /// as those bytes from now on (keyed by <paramref name="storedId"/>'s instance of the id when it has one: the session
    /// store's, so a waiting shopper's id is one string); any other into <paramref name="states"/> (the checkpoint encodes it).</summary>
    public void Collect(IEnumerable<string>? shopperIds, Func<string, bool> quiet, Func<string, string?> storedId, List<ShopperState> states,
        List<byte[]> encoded)
    {
        List<(string, byte[])>? cooled = null;
        foreach (var shopperId in shopperIds ?? _shoppers.Keys)
        {
            if (!_shoppers.TryGetValue(shopperId, out var held)) continue;
            if (held is byte[] bytes) encoded.Add(bytes);
            else if (quiet(shopperId))
            {
                var cold = CheckpointCodec.EncodeShopper((ShopperState)held);
                encoded.Add(cold);
                (cooled ??= []).Add((shopperId, cold));
            }
            else states.Add((ShopperState)held);
        }
        // Not while enumerating the dictionary's keys.
        if (cooled is null) return;
        foreach (var (shopperId, cold) in cooled)
        {
            // Removed and added: a dictionary keeps the key instance it was first given.
            _shoppers.Remove(shopperId);
            _shoppers.Add(storedId(shopperId) ?? shopperId, cold);
        }
    }
}
