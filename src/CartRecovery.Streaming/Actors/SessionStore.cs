using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
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
/// when it leaves the store (revived, handed over, erased, adopted), so the domain gets the state it passivated. A
/// waiting session costs its bytes and one small record in its shopper's entry of <paramref name="shoppers"/>, which
/// the partition's <see cref="ShopperStore"/> shares for the shopper's state (docs/performance.md, session 11: keyed
/// dictionaries per session cost more than the state's bytes).
/// </summary>
internal sealed class SessionStore(RecoveryEngine engine, ShopperEntries shoppers)
{
    /// <summary>One session: its id, its encoded state (null while its actor holds the state) and its pending deadlines.</summary>
    private sealed class Held(string id)
    {
        public readonly string Id = id;
        public byte[]? State;
        // A waiting session has one pending deadline (a browsing one may have more): that one is kept inline, as an
        // array of one costs 48 B. _all is default when the session's one deadline is _only, else all of them (none, several).
        private Deadline _only;
        private ImmutableArray<Deadline> _all = [];

        public ReadOnlySpan<Deadline> Deadlines => _all.IsDefault ? new ReadOnlySpan<Deadline>(in _only) : _all.AsSpan();

        public void SetDeadlines(ImmutableArray<Deadline> deadlines)
        {
            if (deadlines.Length == 1)
            {
                _only = deadlines[0];
                _all = default;
            }
            else _all = deadlines.IsDefault ? [] : deadlines;
        }
    }

    // A shopper's sessions (its entry's Sessions): one Held, or a Held[] sorted by session id (ordinal) when there are
    // several (rare).
    private readonly ShopperEntries _byShopper = shoppers;
    private readonly TimerIndex _timers = new();
    // The shoppers' own deadlines (win-back), few: their entries in the timer index carry the session id "".
    private readonly Dictionary<string, Deadline> _shopperDeadlines = new(StringComparer.Ordinal);
    private int _count;
    private int _live;

    /// <summary>A store with shopper entries of its own (no shopper store shares them).</summary>
    public SessionStore(RecoveryEngine engine) : this(engine, new ShopperEntries())
    {
    }

    /// <summary>Sessions of the partition, live and passivated.</summary>
    public int Count => _count;

    /// <summary>Sessions whose state a session actor holds.</summary>
    public int LiveCount => _live;

    /// <summary>Bytes of the waiting sessions' encoded states (a measurement: counts them one by one).</summary>
    public long EncodedBytes
    {
        get
        {
            long bytes = 0;
            foreach (var (_, sessions) in Sessions())
                for (var i = 0; i < CountOf(sessions); i++) bytes += At(sessions, i).State?.Length ?? 0;
            return bytes;
        }
    }

    private static int CountOf(object sessions) => sessions is Held[] several ? several.Length : 1;

    private static Held At(object sessions, int i) => sessions is Held[] several ? several[i] : (Held)sessions;

    /// <summary>The shopper's sessions (one Held or a Held[]), if any.</summary>
    private bool TryGetSessions(string shopperId, [NotNullWhen(true)] out object? sessions)
    {
        ref var entry = ref _byShopper.Find(shopperId);
        sessions = Unsafe.IsNullRef(ref entry) ? null : entry.Sessions;
        return sessions is not null;
    }

    /// <summary>Every shopper with sessions here, and them.</summary>
    private IEnumerable<(string ShopperId, object Sessions)> Sessions()
    {
        foreach (var (shopperId, entry) in _byShopper.All)
            if (entry.Sessions is { } sessions) yield return (shopperId, sessions);
    }

    /// <summary>Replaces the shopper's sessions (null: none left; the entry goes unless the shopper store holds the shopper).</summary>
    private void SetSessions(string shopperId, object? sessions)
    {
        if (sessions is not null)
        {
            _byShopper.FindOrAdd(shopperId).Sessions = sessions;
            return;
        }
        ref var entry = ref _byShopper.Find(shopperId);
        if (Unsafe.IsNullRef(ref entry)) return;
        entry.Sessions = null;
        _byShopper.RemoveIfEmpty(shopperId);
    }

    private Held? Find(SessionKey key)
    {
        if (!TryGetSessions(key.ShopperId, out var sessions)) return null;
        if (sessions is Held one) return one.Id == key.SessionId ? one : null;
        var several = (Held[])sessions;
        var at = IndexOf(several, key.SessionId);
        return at >= 0 ? several[at] : null;
    }

    private static int IndexOf(Held[] several, string sessionId)
    {
        int low = 0, high = several.Length - 1;
        while (low <= high)
        {
            var mid = (low + high) >>> 1;
            var order = string.CompareOrdinal(several[mid].Id, sessionId);
            if (order == 0) return mid;
            if (order < 0) low = mid + 1;
            else high = mid - 1;
        }
        return ~low;
    }

    public bool Contains(SessionKey key) => Find(key) is not null;

    public bool IsLive(SessionKey key) => Find(key) is { State: null };

    public bool HasSessions(string shopperId) => TryGetSessions(shopperId, out _);

    /// <summary>Whether a session actor holds the state of one of the shopper's sessions.</summary>
    public bool HasLive(string shopperId)
    {
        if (_live == 0 || !TryGetSessions(shopperId, out var sessions)) return false;
        for (var i = 0; i < CountOf(sessions); i++)
            if (At(sessions, i).State is null) return true;
        return false;
    }

    /// <summary>The keys of the live sessions (of one shopper, or of all).</summary>
    public List<SessionKey> Live(string? shopperId = null)
    {
        var live = new List<SessionKey>();
        if (_live == 0) return live;
        if (shopperId is null)
        {
            foreach (var (id, sessions) in Sessions()) AddLive(id, sessions, live);
        }
        else if (TryGetSessions(shopperId, out var sessions)) AddLive(shopperId, sessions, live);
        return live;
    }

    private static void AddLive(string shopperId, object sessions, List<SessionKey> live)
    {
        for (var i = 0; i < CountOf(sessions); i++)
            if (At(sessions, i) is { State: null } held) live.Add(new SessionKey(shopperId, held.Id));
    }

    /// <summary>Every session's state for a checkpoint: a live one's from <paramref name="live"/> (copies its actor
    /// answered) into <paramref name="states"/>, a waiting one's bytes as held into <paramref name="encoded"/>.</summary>
    public void CollectAll(IReadOnlyDictionary<SessionKey, SessionState> live, List<SessionState> states, List<byte[]> encoded)
    {
        foreach (var (shopperId, sessions) in Sessions()) Collect(shopperId, sessions, live, states, encoded);
    }

    /// <summary>The shopper's sessions for a checkpoint, in session id order, as <see cref="CollectAll"/>.</summary>
    public void CollectShopper(string shopperId, IReadOnlyDictionary<SessionKey, SessionState> live, List<SessionState> states, List<byte[]> encoded)
    {
        if (TryGetSessions(shopperId, out var sessions)) Collect(shopperId, sessions, live, states, encoded);
    }

    private static void Collect(string shopperId, object sessions, IReadOnlyDictionary<SessionKey, SessionState> live, List<SessionState> states,
        List<byte[]> encoded)
    {
        for (var i = 0; i < CountOf(sessions); i++)
        {
            var held = At(sessions, i);
            if (held.State is { } bytes) encoded.Add(bytes);
            else states.Add(Copied(new SessionKey(shopperId, held.Id), live));
        }
    }

    /// <summary>Every session's state: a waiting one's decoded from the store, a live one's from <paramref name="live"/>.</summary>
    public IEnumerable<SessionState> All(IReadOnlyDictionary<SessionKey, SessionState> live)
    {
        foreach (var shopperId in Sessions().Select(held => held.ShopperId).ToList())
            foreach (var session in SessionsOf(shopperId, live))
                yield return session;
    }

    /// <summary>The session's state is handed to the store (passivated, restored or adopted); its deadlines are the engine's.</summary>
    public void Track(SessionKey key, SessionState session) => Set(key, CheckpointCodec.EncodeSession(session), engine.Deadlines(session));

    /// <summary>The session's actor holds its state, which now has these pending deadlines.</summary>
    public void TrackLive(SessionKey key, ImmutableArray<Deadline> deadlines) => Set(key, null, deadlines);

    /// <summary>Hands the session's state (null for a new session) to a new session actor: the store keeps its key and deadlines.</summary>
    public SessionState? Revive(SessionKey key)
    {
        if (Find(key) is not { } held) return null;
        if (held.State is null) throw new InvalidOperationException("the session is already live in its actor");
        var state = Decoded(held.State);
        held.State = null;
        _live++;
        return state;
    }

    /// <summary>A held state decodes unless the process's own memory is corrupt or the codec broke its round trip: the
    /// exception names the cause, and the partition's supervisor stops the partition with it.</summary>
    private static SessionState Decoded(byte[] held) => CheckpointCodec.DecodeSession(held);

    private void Set(SessionKey key, byte[]? state, ImmutableArray<Deadline> deadlines)
    {
        var held = Find(key);
        if (held is null)
        {
            held = new Held(key.SessionId);
            Add(key.ShopperId, held);
            _count++;
        }
        else if (held.State is null) _live--;
        held.State = state;
        if (state is null) _live++;
        // The timer index keys the session by the entries' instance of the shopper's id: one string per shopper.
        var shopperId = _byShopper.StoredId(key.ShopperId)!;
        _timers.Remove(shopperId, held.Id, held.Deadlines);
        held.SetDeadlines(deadlines);
        _timers.Add(shopperId, held.Id, held.Deadlines);
    }

    private void Add(string shopperId, Held held)
    {
        if (!TryGetSessions(shopperId, out var sessions))
        {
            SetSessions(shopperId, held);
            return;
        }
        var several = sessions as Held[] ?? [(Held)sessions];
        var at = ~IndexOf(several, held.Id);
        var grown = new Held[several.Length + 1];
        Array.Copy(several, grown, at);
        grown[at] = held;
        Array.Copy(several, at, grown, at + 1, several.Length - at);
        SetSessions(shopperId, grown);
    }

    /// <summary>The session ended: its key and deadlines go.</summary>
    public void Forget(SessionKey key)
    {
        if (!TryGetSessions(key.ShopperId, out var sessions) || Find(key) is not { } held) return;
        _timers.Remove(key.ShopperId, held.Id, held.Deadlines);
        if (held.State is null) _live--;
        _count--;
        if (sessions is Held)
        {
            SetSessions(key.ShopperId, null);
            return;
        }
        var several = (Held[])sessions;
        if (several.Length == 2)
        {
            SetSessions(key.ShopperId, several[0] == held ? several[1] : several[0]);
            return;
        }
        SetSessions(key.ShopperId, several.Where(other => other != held).ToArray());
    }

    /// <summary>Removes every session of the shopper (an identity hand-over, an erasure) and returns them, in session id
    /// order. The shopper's live sessions must have been passivated first.</summary>
    public List<(SessionKey Key, SessionState Session)> TakeShopper(string shopperId)
    {
        var taken = new List<(SessionKey, SessionState)>();
        if (!TryGetSessions(shopperId, out var sessions)) return taken;
        for (var i = 0; i < CountOf(sessions); i++)
        {
            var held = At(sessions, i);
            taken.Add((new SessionKey(shopperId, held.Id), Decoded(Passivated(held.State))));
        }
        SetSessions(shopperId, null);
        for (var i = 0; i < CountOf(sessions); i++)
        {
            var held = At(sessions, i);
            _timers.Remove(shopperId, held.Id, held.Deadlines);
            _count--;
        }
        return taken;
    }

    /// <summary>The shopper's sessions, in session id order (live ones from <paramref name="live"/>, as in <see cref="All"/>).</summary>
    public IEnumerable<SessionState> SessionsOf(string shopperId, IReadOnlyDictionary<SessionKey, SessionState> live)
    {
        if (!TryGetSessions(shopperId, out var sessions)) yield break;
        for (var i = 0; i < CountOf(sessions); i++)
        {
            var held = At(sessions, i);
            yield return held.State is { } bytes ? Decoded(bytes) : Copied(new SessionKey(shopperId, held.Id), live);
        }
    }

    private static SessionState Copied(SessionKey key, IReadOnlyDictionary<SessionKey, SessionState> live) =>
        live.TryGetValue(key, out var copy) ? copy : throw new InvalidOperationException("a live session's state is its actor's: ask it for a copy first");

    /// <summary>The shopper's sessions by session id (passivated: see <see cref="TakeShopper"/>).</summary>
    public Dictionary<string, SessionState> OfShopper(string shopperId)
    {
        var of = new Dictionary<string, SessionState>(StringComparer.Ordinal);
        if (!TryGetSessions(shopperId, out var sessions)) return of;
        for (var i = 0; i < CountOf(sessions); i++)
        {
            var held = At(sessions, i);
            of[held.Id] = Decoded(Passivated(held.State));
        }
        return of;
    }

    private static byte[] Passivated(byte[]? state) =>
        state ?? throw new InvalidOperationException("a live session's state is its actor's: passivate the session first");

    /// <summary>The pending deadlines of the shopper's sessions other than <paramref name="key"/> (usually none: one session).</summary>
    public ImmutableArray<Deadline> OtherDeadlines(SessionKey key)
    {
        if (!TryGetSessions(key.ShopperId, out var sessions) || sessions is Held) return [];
        var others = ImmutableArray.CreateBuilder<Deadline>();
        foreach (var held in (Held[])sessions)
            if (held.Id != key.SessionId) foreach (var deadline in held.Deadlines) others.Add(deadline);
        return others.DrainToImmutable();
    }

    /// <summary>The shopper's earliest deadline that is due under <paramref name="stamp"/> or before <paramref name="before"/>.</summary>
    public (SessionKey Key, Deadline Deadline)? EarliestDue(string shopperId, Watermark stamp, DateTimeOffset? before)
    {
        if (!TryGetSessions(shopperId, out var sessions)) return null;
        (SessionKey, Deadline)? best = null;
        for (var i = 0; i < CountOf(sessions); i++)
        {
            var held = At(sessions, i);
            if (RecoveryEngine.DueAmong(held.Deadlines, stamp, before) is { } due && (best is null || due.At < best.Value.Item2.At))
                best = (new SessionKey(shopperId, held.Id), due);
        }
        return best;
    }

    /// <summary>The key of a shopper's own deadline (win-back) in the timer index: session ids are never empty
    /// (EventParser), so it cannot collide with a session's, and it is not a session of the store.</summary>
    public static SessionKey ShopperKey(string shopperId) => new(shopperId, "");

    /// <summary>Puts the shopper's own deadline in the index (null: takes it out), so an idle shopper wakes for it.</summary>
    public void SetShopperDeadline(string shopperId, Deadline? deadline)
    {
        if (_shopperDeadlines.Remove(shopperId, out var previous)) _timers.Remove(shopperId, "", [previous]);
        if (deadline is not { } due) return;
        _shopperDeadlines[shopperId] = due;
        _timers.Add(shopperId, "", [due]);
    }

    public bool AnyDue(Watermark watermark) => _timers.AnyDue(watermark);

    /// <summary>Shoppers with a deadline the watermark has passed, earliest first (a shopper may appear more than once).</summary>
    public List<string> DueShoppers(Watermark watermark) => _timers.DueShoppers(watermark);
}
