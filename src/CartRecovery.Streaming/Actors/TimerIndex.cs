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

    /// <summary>Adds a session's pending deadlines (its owner, <see cref="SessionStore"/>, keeps them to remove them later).</summary>
    public void Add(string shopperId, string sessionId, ReadOnlySpan<Deadline> deadlines)
    {
        foreach (var deadline in deadlines) (deadline.Eager ? _eager : _settled).Add((deadline.At, shopperId, sessionId));
    }

    public void Remove(string shopperId, string sessionId, ReadOnlySpan<Deadline> deadlines)
    {
        foreach (var d in deadlines) (d.Eager ? _eager : _settled).Remove((d.At, shopperId, sessionId));
    }

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
