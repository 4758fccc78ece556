using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CartRecovery.Streaming.Actors;

/// <summary>
/// A partition's shoppers, one dictionary entry each, shared by the <see cref="ShopperStore"/> (the shopper's policy
/// state) and the <see cref="SessionStore"/> (the shopper's sessions): both are keyed by shopper id, and a waiting
/// shopper has both, so one entry and one instance of the id serve the two (docs/performance.md, session 11: a second
/// keyed dictionary cost about 50 B per waiting session). Each store reads and writes only its own half of an entry;
/// an entry goes when both halves are empty.
/// </summary>
internal sealed class ShopperEntries
{
    public struct Entry
    {
        /// <summary>The <see cref="ShopperStore"/>'s half: ShopperState in use, byte[] while quiet, null: none held.</summary>
        public object? Shopper;

        /// <summary>The <see cref="SessionStore"/>'s half: its sessions of the shopper, null: none.</summary>
        public object? Sessions;
    }

    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>Every entry, to enumerate (the stores skip those whose half is empty).</summary>
    public Dictionary<string, Entry> All => _entries;

    /// <summary>The shopper's entry, or a null reference (<see cref="Unsafe.IsNullRef{T}(ref readonly T)"/>) when there is none.</summary>
    public ref Entry Find(string shopperId) => ref CollectionsMarshal.GetValueRefOrNullRef(_entries, shopperId);

    /// <summary>The shopper's entry, added empty when there is none.</summary>
    public ref Entry FindOrAdd(string shopperId) => ref CollectionsMarshal.GetValueRefOrAddDefault(_entries, shopperId, out _);

    /// <summary>Drops the shopper's entry once neither store holds anything in it.</summary>
    public void RemoveIfEmpty(string shopperId)
    {
        ref var entry = ref Find(shopperId);
        if (!Unsafe.IsNullRef(ref entry) && entry.Shopper is null && entry.Sessions is null) _entries.Remove(shopperId);
    }

    /// <summary>The instance of the shopper's id the entries are keyed by (null: no entry).</summary>
    public string? StoredId(string shopperId) =>
        _entries.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(shopperId, out var stored, out _) ? stored : null;
}
