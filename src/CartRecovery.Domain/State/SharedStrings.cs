using System.Collections.Concurrent;

namespace CartRecovery.Domain.State;

/// <summary>
/// One shared instance per distinct low-cardinality value (channels, currencies, time zones, SKUs and product
/// names, consent purposes and wording versions, top-factor labels). Every event brings fresh copies of these, and a
/// session waiting days for its next reminder would otherwise keep its own; sharing them is most of what keeps a
/// waiting session small. Bounded, so input with unbounded distinct values cannot grow it without limit (beyond the
/// bound a value is simply not shared). Identity never changes a decision: strings compare by value.
/// </summary>
public static class SharedStrings
{
    private const int Capacity = 200_000;
    private static readonly ConcurrentDictionary<string, string> Pool = new(StringComparer.Ordinal);

    public static string Of(string value)
    {
        if (Pool.TryGetValue(value, out var shared)) return shared;
        // A counter of its own: ConcurrentDictionary.Count takes every lock of the dictionary, which session actors on
        // other threads then waited for (1 % of the worker's CPU in the profile, docs/performance.md, session 6).
        if (Volatile.Read(ref _count) >= Capacity) return value;
        if (!Pool.TryAdd(value, value)) return Pool.TryGetValue(value, out shared) ? shared : value;
        Interlocked.Increment(ref _count);
        return value;
    }

    private static int _count;

    /// <summary>The shared instance of <paramref name="value"/>'s text: no string is made when it is already shared.</summary>
    public static string Of(ReadOnlySpan<char> value)
    {
        if (Lookup.TryGetValue(value, out var shared)) return shared;
        return Of(value.ToString());
    }

    private static readonly ConcurrentDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> Lookup = Pool.GetAlternateLookup<ReadOnlySpan<char>>();

    public static string? OfNullable(string? value) => value is null ? null : Of(value);
}
