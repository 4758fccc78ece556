using System.Collections.Immutable;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Time;

namespace CartRecovery.Streaming.Actors;

/// <summary>Pending deadlines of a partition's sessions, ordered by time, so idle sessions wake without a scan.</summary>
internal sealed class TimerIndex
{
    // Ordinal: the default comparer of a tuple compares its strings by culture (ICU), 3 % of the worker's CPU in the
    // profile of 2026-11-30 (docs/performance.md, session 6). Ids are opaque: ordinal order is as good a tie-break.
    private static readonly IComparer<(DateTimeOffset At, string ShopperId, string SessionId)> ByTimeThenIds =
        Comparer<(DateTimeOffset At, string ShopperId, string SessionId)>.Create((a, b) =>
        {
            var byTime = a.At.CompareTo(b.At);
            if (byTime != 0) return byTime;
            var byShopper = string.CompareOrdinal(a.ShopperId, b.ShopperId);
            return byShopper != 0 ? byShopper : string.CompareOrdinal(a.SessionId, b.SessionId);
        });

    private readonly SortedSet<(DateTimeOffset At, string ShopperId, string SessionId)> _eager = new(ByTimeThenIds);
    private readonly SortedSet<(DateTimeOffset At, string ShopperId, string SessionId)> _settled = new(ByTimeThenIds);
    // The engine's own immutable array of the session's deadlines: no copy per waiting session.
    private readonly Dictionary<SessionKey, ImmutableArray<Deadline>> _bySession = new();

    /// <summary>Replaces the session's pending deadlines.</summary>
    public void Set(SessionKey key, ImmutableArray<Deadline> deadlines)
    {
        Remove(key);
        if (deadlines.IsDefaultOrEmpty) return;
        foreach (var deadline in deadlines) (deadline.Eager ? _eager : _settled).Add((deadline.At, key.ShopperId, key.SessionId));
        _bySession[key] = deadlines;
    }

    public void Remove(SessionKey key)
    {
        if (!_bySession.Remove(key, out var list)) return;
        foreach (var d in list) (d.Eager ? _eager : _settled).Remove((d.At, key.ShopperId, key.SessionId));
    }

    /// <summary>The session's pending deadlines (empty when it has none).</summary>
    public ImmutableArray<Deadline> Of(SessionKey key) => _bySession.TryGetValue(key, out var deadlines) ? deadlines : [];

    public bool AnyDue(Watermark watermark) =>
        (_eager.Count > 0 && watermark.HasPassed(_eager.Min.At, eager: true)) ||
        (_settled.Count > 0 && watermark.HasPassed(_settled.Min.At, eager: false));

    public List<string> DueShoppers(Watermark watermark)
    {
        var shoppers = new List<string>();
        foreach (var entry in _eager)
        {
            if (!watermark.HasPassed(entry.At, eager: true)) break;
            shoppers.Add(entry.ShopperId);
        }
        foreach (var entry in _settled)
        {
            if (!watermark.HasPassed(entry.At, eager: false)) break;
            shoppers.Add(entry.ShopperId);
        }
        return shoppers;
    }
}

/// <summary>Sorted (ordinal) arrays of ids with copy-on-change add and remove.</summary>
internal static class SortedIds
{
    public static string[] With(string[] ids, string id)
    {
        var at = Array.BinarySearch(ids, id, StringComparer.Ordinal);
        if (at >= 0) return ids;
        at = ~at;
        var copy = new string[ids.Length + 1];
        Array.Copy(ids, copy, at);
        copy[at] = id;
        Array.Copy(ids, at, copy, at + 1, ids.Length - at);
        return copy;
    }

    public static string[] Without(string[] ids, string id)
    {
        var at = Array.BinarySearch(ids, id, StringComparer.Ordinal);
        if (at < 0) return ids;
        var copy = new string[ids.Length - 1];
        Array.Copy(ids, copy, at);
        Array.Copy(ids, at + 1, copy, at, ids.Length - at - 1);
        return copy;
    }
}
