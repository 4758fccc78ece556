using System.Collections.Immutable;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;
using CartRecovery.Streaming.Checkpointing;

namespace CartRecovery.Streaming.Actors;

public readonly record struct SessionKey(string ShopperId, string SessionId);

/// <summary>
/// A partition's sessions, indexed by shopper (a shopper's deadlines fire earliest first across all of their sessions)
/// and by pending deadline (so idle sessions wake when the watermark passes their deadline, without a scan).
///
/// Each session's state has one owner. A live session's state is held by its <see cref="SessionActor"/> alone: the
/// store keeps only its key and its pending deadlines (a checkpoint asks the actor for a copy). A passivated session
/// (one that waits for a later reminder step, one restored from a checkpoint, one handed over, one whose shopper is
/// erased) has its state here, until its next event or deadline revives it (<see cref="Revive"/>) in a new actor.
///
/// A passivated session's state is held encoded, as a checkpoint carries it (<see cref="CheckpointCodec.EncodeSession"/>):
/// a third of its size as objects, and a checkpoint copies those bytes rather than encoding it again. It is decoded
/// when it leaves the store (revived, handed over, erased, adopted), so the domain gets the state it passivated.
/// </summary>
internal sealed class SessionStore(RecoveryEngine engine)
{
    // A passivated session's encoded state; null while the session's actor holds its state.
    private readonly Dictionary<SessionKey, byte[]?> _sessions = new();
    // A shopper's session ids, sorted (ordinal): usually one, so a small array rather than a set per shopper.
    private readonly Dictionary<string, string[]> _byShopper = new(StringComparer.Ordinal);
    private readonly TimerIndex _timers = new();
    private int _live;

    /// <summary>Sessions of the partition, live and passivated.</summary>
    public int Count => _sessions.Count;

    /// <summary>Sessions whose state a session actor holds.</summary>
    public int LiveCount => _live;

    /// <summary>Bytes of the waiting sessions' encoded states (a measurement: counts them one by one).</summary>
    public long EncodedBytes => _sessions.Values.Sum(held => (long)(held?.Length ?? 0));

    public bool Contains(SessionKey key) => _sessions.ContainsKey(key);

    public bool IsLive(SessionKey key) => _sessions.TryGetValue(key, out var state) && state is null;

    public bool HasSessions(string shopperId) => _byShopper.ContainsKey(shopperId);

    /// <summary>Whether a session actor holds the state of one of the shopper's sessions.</summary>
    public bool HasLive(string shopperId)
    {
        if (_live == 0 || !_byShopper.TryGetValue(shopperId, out var ids)) return false;
        foreach (var id in ids)
            if (IsLive(new SessionKey(shopperId, id))) return true;
        return false;
    }

    /// <summary>The keys of the live sessions (of one shopper, or of all).</summary>
    public List<SessionKey> Live(string? shopperId = null)
    {
        var live = new List<SessionKey>();
        if (_live == 0) return live;
        if (shopperId is null)
        {
            foreach (var (key, state) in _sessions)
                if (state is null) live.Add(key);
        }
        else if (_byShopper.TryGetValue(shopperId, out var ids))
        {
            foreach (var id in ids)
                if (IsLive(new SessionKey(shopperId, id))) live.Add(new SessionKey(shopperId, id));
        }
        return live;
    }

    /// <summary>Every session's state for a checkpoint: a live one's from <paramref name="live"/> (copies its actor
    /// answered) into <paramref name="states"/>, a waiting one's bytes as held into <paramref name="encoded"/>.</summary>
    public void CollectAll(IReadOnlyDictionary<SessionKey, SessionState> live, List<SessionState> states, List<byte[]> encoded)
    {
        foreach (var (key, held) in _sessions)
            if (held is null) states.Add(Copied(key, live));
            else encoded.Add(held);
    }

    /// <summary>The shopper's sessions for a checkpoint, in session id order, as <see cref="CollectAll"/>.</summary>
    public void CollectShopper(string shopperId, IReadOnlyDictionary<SessionKey, SessionState> live, List<SessionState> states, List<byte[]> encoded)
    {
        if (!_byShopper.TryGetValue(shopperId, out var ids)) return;
        foreach (var id in ids)
        {
            var key = new SessionKey(shopperId, id);
            if (_sessions[key] is { } held) encoded.Add(held);
            else states.Add(Copied(key, live));
        }
    }

    /// <summary>Every session's state: a waiting one's decoded from the store, a live one's from <paramref name="live"/>.</summary>
    public IEnumerable<SessionState> All(IReadOnlyDictionary<SessionKey, SessionState> live)
    {
        foreach (var (key, held) in _sessions) yield return held is null ? Copied(key, live) : Decoded(held);
    }

    /// <summary>The session's state is handed to the store (passivated, restored or adopted); its deadlines are the engine's.</summary>
    public void Track(SessionKey key, SessionState session)
    {
        Set(key, CheckpointCodec.EncodeSession(session));
        _timers.Set(key, engine.Deadlines(session));
    }

    /// <summary>The session's actor holds its state, which now has these pending deadlines.</summary>
    public void TrackLive(SessionKey key, ImmutableArray<Deadline> deadlines)
    {
        Set(key, null);
        _timers.Set(key, deadlines);
    }

    /// <summary>Hands the session's state (null for a new session) to a new session actor: the store keeps its key and deadlines.</summary>
    public SessionState? Revive(SessionKey key)
    {
        if (!_sessions.TryGetValue(key, out var held)) return null;
        if (held is null) throw new InvalidOperationException("the session is already live in its actor");
        var state = Decoded(held);
        Set(key, null);
        return state;
    }

    /// <summary>A held state decodes unless the process's own memory is corrupt or the codec broke its round trip: the
    /// exception names the cause, and the partition's supervisor stops the partition with it.</summary>
    private static SessionState Decoded(byte[] held) => CheckpointCodec.DecodeSession(held);

    private void Set(SessionKey key, byte[]? state)
    {
        if (_sessions.TryGetValue(key, out var previous))
        {
            if (previous is null) _live--;
        }
        else
        {
            _byShopper[key.ShopperId] = _byShopper.TryGetValue(key.ShopperId, out var ids) ? SortedIds.With(ids, key.SessionId) : [key.SessionId];
        }
        _sessions[key] = state;
        if (state is null) _live++;
    }

    /// <summary>The session ended: its key and deadlines go.</summary>
    public void Forget(SessionKey key)
    {
        _timers.Remove(key);
        if (!_sessions.Remove(key, out var state)) return;
        if (state is null) _live--;
        if (!_byShopper.TryGetValue(key.ShopperId, out var ids)) return;
        var rest = SortedIds.Without(ids, key.SessionId);
        if (rest.Length == 0) _byShopper.Remove(key.ShopperId);
        else _byShopper[key.ShopperId] = rest;
    }

    /// <summary>Removes every session of the shopper (an identity hand-over, an erasure) and returns them, in session id
    /// order. The shopper's live sessions must have been passivated first.</summary>
    public List<(SessionKey Key, SessionState Session)> TakeShopper(string shopperId)
    {
        var taken = new List<(SessionKey, SessionState)>();
        if (!_byShopper.Remove(shopperId, out var ids)) return taken;
        foreach (var id in ids)
        {
            var key = new SessionKey(shopperId, id);
            taken.Add((key, Decoded(Passivated(_sessions[key]))));
            _sessions.Remove(key);
            _timers.Remove(key);
        }
        return taken;
    }

    /// <summary>The shopper's sessions, in session id order (live ones from <paramref name="live"/>, as in <see cref="All"/>).</summary>
    public IEnumerable<SessionState> SessionsOf(string shopperId, IReadOnlyDictionary<SessionKey, SessionState> live)
    {
        if (!_byShopper.TryGetValue(shopperId, out var ids)) yield break;
        foreach (var id in ids)
        {
            var key = new SessionKey(shopperId, id);
            yield return _sessions[key] is { } held ? Decoded(held) : Copied(key, live);
        }
    }

    private static SessionState Copied(SessionKey key, IReadOnlyDictionary<SessionKey, SessionState> live) =>
        live.TryGetValue(key, out var copy) ? copy : throw new InvalidOperationException("a live session's state is its actor's: ask it for a copy first");

    /// <summary>The shopper's sessions by session id (passivated: see <see cref="TakeShopper"/>).</summary>
    public Dictionary<string, SessionState> OfShopper(string shopperId) =>
        _byShopper.TryGetValue(shopperId, out var ids)
            ? ids.ToDictionary(id => id, id => Decoded(Passivated(_sessions[new SessionKey(shopperId, id)])), StringComparer.Ordinal)
            : new Dictionary<string, SessionState>(StringComparer.Ordinal);

    private static byte[] Passivated(byte[]? state) =>
        state ?? throw new InvalidOperationException("a live session's state is its actor's: passivate the session first");

    /// <summary>The pending deadlines of the shopper's sessions other than <paramref name="key"/> (usually none: one session).</summary>
    public ImmutableArray<Deadline> OtherDeadlines(SessionKey key)
    {
        if (!_byShopper.TryGetValue(key.ShopperId, out var ids) || ids.Length == 1) return [];
        var others = ImmutableArray.CreateBuilder<Deadline>();
        foreach (var id in ids)
            if (id != key.SessionId) others.AddRange(_timers.Of(new SessionKey(key.ShopperId, id)));
        return others.DrainToImmutable();
    }

    /// <summary>The shopper's earliest deadline that is due under <paramref name="stamp"/> or before <paramref name="before"/>.</summary>
    public (SessionKey Key, Deadline Deadline)? EarliestDue(string shopperId, Watermark stamp, DateTimeOffset? before)
    {
        if (!_byShopper.TryGetValue(shopperId, out var sessionIds)) return null;
        (SessionKey, Deadline)? best = null;
        foreach (var sessionId in sessionIds)
        {
            var key = new SessionKey(shopperId, sessionId);
            if (RecoveryEngine.DueAmong(_timers.Of(key), stamp, before) is { } due && (best is null || due.At < best.Value.Item2.At))
                best = (key, due);
        }
        return best;
    }

    /// <summary>The key of a shopper's own deadline (win-back) in the timer index: session ids are never empty
    /// (EventParser), so it cannot collide with a session's, and it is not a session of <see cref="_byShopper"/>.</summary>
    public static SessionKey ShopperKey(string shopperId) => new(shopperId, "");

    /// <summary>Puts the shopper's own deadline in the index (null: takes it out), so an idle shopper wakes for it.</summary>
    public void SetShopperDeadline(string shopperId, Deadline? deadline)
    {
        if (deadline is { } due) _timers.Set(ShopperKey(shopperId), [due]);
        else _timers.Remove(ShopperKey(shopperId));
    }

    public bool AnyDue(Watermark watermark) => _timers.AnyDue(watermark);

    /// <summary>Shoppers with a deadline the watermark has passed, earliest first (a shopper may appear more than once).</summary>
    public List<string> DueShoppers(Watermark watermark) => _timers.DueShoppers(watermark);
}
