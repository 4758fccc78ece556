using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;

namespace CartRecovery.Streaming.Actors;

public readonly record struct SessionKey(string ShopperId, string SessionId);

/// <summary>
/// A partition's session states (what its checkpoint holds and what a session actor starts from), indexed by shopper
/// (a shopper's deadlines fire earliest first across all of their sessions) and by pending deadline (so idle sessions
/// wake when the watermark passes their deadline, without a scan).
/// </summary>
internal sealed class SessionStore(RecoveryEngine engine)
{
    private readonly Dictionary<SessionKey, SessionState> _sessions = new();
    // A shopper's session ids, sorted (ordinal): usually one, so a small array rather than a set per shopper.
    private readonly Dictionary<string, string[]> _byShopper = new(StringComparer.Ordinal);
    private readonly TimerIndex _timers = new();

    public int Count => _sessions.Count;

    public IEnumerable<SessionState> All => _sessions.Values;

    public bool Contains(SessionKey key) => _sessions.ContainsKey(key);

    public bool TryGet(SessionKey key, out SessionState? session) => _sessions.TryGetValue(key, out session);

    public bool HasSessions(string shopperId) => _byShopper.ContainsKey(shopperId);

    /// <summary>Stores the session's state and replaces its pending deadlines with the engine's.</summary>
    public void Track(SessionKey key, SessionState session)
    {
        _sessions[key] = session;
        _byShopper[key.ShopperId] = _byShopper.TryGetValue(key.ShopperId, out var ids) ? SortedIds.With(ids, key.SessionId) : [key.SessionId];
        _timers.Set(key, engine.Deadlines(session));
    }

    /// <summary>The session ended: its state and deadlines go.</summary>
    public void Forget(SessionKey key)
    {
        _timers.Remove(key);
        _sessions.Remove(key);
        if (!_byShopper.TryGetValue(key.ShopperId, out var ids)) return;
        var rest = SortedIds.Without(ids, key.SessionId);
        if (rest.Length == 0) _byShopper.Remove(key.ShopperId);
        else _byShopper[key.ShopperId] = rest;
    }

    /// <summary>Removes every session of the shopper (an identity hand-over) and returns them, in session id order.</summary>
    public List<(SessionKey Key, SessionState Session)> TakeShopper(string shopperId)
    {
        var taken = new List<(SessionKey, SessionState)>();
        if (!_byShopper.Remove(shopperId, out var ids)) return taken;
        foreach (var id in ids)
        {
            var key = new SessionKey(shopperId, id);
            taken.Add((key, _sessions[key]));
            _sessions.Remove(key);
            _timers.Remove(key);
        }
        return taken;
    }

    /// <summary>The shopper's sessions, in session id order.</summary>
    public IEnumerable<SessionState> SessionsOf(string shopperId)
    {
        if (!_byShopper.TryGetValue(shopperId, out var ids)) yield break;
        foreach (var id in ids) yield return _sessions[new SessionKey(shopperId, id)];
    }

    /// <summary>The shopper's sessions by session id.</summary>
    public Dictionary<string, SessionState> OfShopper(string shopperId) =>
        _byShopper.TryGetValue(shopperId, out var ids)
            ? ids.ToDictionary(id => id, id => _sessions[new SessionKey(shopperId, id)], StringComparer.Ordinal)
            : new Dictionary<string, SessionState>(StringComparer.Ordinal);

    /// <summary>The shopper's earliest deadline that is due under <paramref name="stamp"/> or before <paramref name="before"/>.</summary>
    public (SessionKey Key, Deadline Deadline)? EarliestDue(string shopperId, Watermark stamp, DateTimeOffset? before)
    {
        if (!_byShopper.TryGetValue(shopperId, out var sessionIds)) return null;
        (SessionKey, Deadline)? best = null;
        foreach (var sessionId in sessionIds)
        {
            var key = new SessionKey(shopperId, sessionId);
            if (engine.DueDeadline(_sessions[key], stamp, before) is { } due && (best is null || due.At < best.Value.Item2.At))
                best = (key, due);
        }
        return best;
    }

    public bool AnyDue(Watermark watermark) => _timers.AnyDue(watermark);

    /// <summary>Shoppers with a deadline the watermark has passed, earliest first (a shopper may appear more than once).</summary>
    public List<string> DueShoppers(Watermark watermark) => _timers.DueShoppers(watermark);
}
