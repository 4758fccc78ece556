using System.Collections.Immutable;

namespace CartRecovery.Domain.State;

/// <summary>
/// One shared empty ordinal sorted dictionary per value type. <c>ImmutableSortedDictionary.Create(StringComparer.Ordinal)</c>
/// makes a new empty instance every time, and every new state record (each session opened, each checkpoint restored)
/// ran it for each of its dictionaries: a waiting session kept several empty ones (docs/performance.md, session 6).
/// </summary>
public static class OrdinalEmpty
{
    public static ImmutableSortedDictionary<string, TValue> Sorted<TValue>() => Holder<TValue>.Empty;

    private static class Holder<TValue>
    {
        public static readonly ImmutableSortedDictionary<string, TValue> Empty = ImmutableSortedDictionary.Create<string, TValue>(StringComparer.Ordinal);
    }
}
