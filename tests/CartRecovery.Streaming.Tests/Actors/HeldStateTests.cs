using CartRecovery.Contracts.Events;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Identity;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;
using CartRecovery.Streaming.Actors;
using CartRecovery.Streaming.Checkpointing;
using CartRecovery.Streaming.Tests.Checkpointing;

namespace CartRecovery.Streaming.Tests.Actors;

/// <summary>A partition holds its waiting sessions and quiet shoppers encoded (<see cref="SessionStore"/>,
/// <see cref="ShopperStore"/>): whatever leaves the stores (revived, handed over, erased, checkpointed) is the state that
/// went in, field for field, and a checkpoint that copies the held bytes reads back as one that encoded the states.</summary>
public sealed class HeldStateTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 10, 0, 0, TimeSpan.Zero);
    private static readonly Dictionary<SessionKey, SessionState> NoLiveCopies = new();
    private readonly RecoveryEngine _engine = new(PolicyFile.LoadDefault() with { HoldoutShare = 0 });

    /// <summary>Generated sessions and shoppers with every field set (extremes, non-ASCII, default and empty arrays).</summary>
    private static PartitionCheckpoint Generated(int seed) => new CheckpointGenerator(seed).Checkpoint();

    /// <summary>Sessions the engine made (the store asks the engine for their deadlines): for each shopper, one
    /// abandoned and waiting for its first reminder, and one still active.</summary>
    private List<(ShopperState Shopper, List<SessionState> Sessions)> EngineMade(int shoppers)
    {
        var made = new List<(ShopperState, List<SessionState>)>();
        for (var i = 0; i < shoppers; i++)
        {
            var shopperId = $"cust-{i}";
            var shopper = ShopperState.New(shopperId);
            var sessions = new List<SessionState>();
            foreach (var sessionId in new[] { $"s-{i}-b", $"s-{i}-a" })
            {
                var started = _engine.Apply(shopper, null, new SessionStarted
                {
                    EventId = $"{sessionId}-1", ShopperId = shopperId, SessionId = sessionId, EventTime = T0.AddMinutes(i), Currency = "EUR", TimeZone = "Europe/Berlin",
                }, Watermark.Start);
                var added = _engine.Apply(started.Shopper, started.Session, new CartLineAdded
                {
                    EventId = $"{sessionId}-2", ShopperId = shopperId, SessionId = sessionId, EventTime = T0.AddMinutes(i + 1), Currency = "EUR",
                    Line = new CartLine { Sku = $"lens-{i}", Name = "Lens", UnitPrice = 19.90m, Quantity = 2 },
                }, Watermark.Start);
                shopper = added.Shopper;
                if (sessionId.EndsWith('b'))
                {
                    var inactivity = _engine.Deadlines(added.Session!).First(d => d.Kind == DeadlineKind.Inactivity);
                    var abandoned = _engine.Fire(shopper, added.Session!, inactivity);
                    shopper = abandoned.Shopper;
                    sessions.Add(Assert.IsType<SessionState>(abandoned.Session));
                }
                else sessions.Add(added.Session!);
            }
            made.Add((shopper, sessions));
        }
        return made;
    }

    private static SessionKey KeyOf(SessionState session) => new(session.ShopperId, session.SessionId);

    [Fact]
    public void Every_field_of_a_session_and_of_a_shopper_survives_the_encoding_the_stores_hold()
    {
        var sessions = 0;
        for (var seed = 1; seed <= 30; seed++)
        {
            var generated = Generated(seed);
            foreach (var session in generated.Sessions)
                DeepEqual.Assert(session, CheckpointCodec.DecodeSession(CheckpointCodec.EncodeSession(session)), $"seed {seed}: session");
            foreach (var shopper in generated.Shoppers)
                DeepEqual.Assert(shopper, CheckpointCodec.DecodeShopper(CheckpointCodec.EncodeShopper(shopper)), $"seed {seed}: shopper");
            sessions += generated.Sessions.Count;
            // Held bytes are what a checkpoint writes for the state: a snapshot that copies them is the snapshot of the states.
            Assert.Equal(generated.ToBytes(), (generated with
            {
                Sessions = [], Shoppers = [],
                EncodedSessions = [.. generated.Sessions.Select(CheckpointCodec.EncodeSession)],
                EncodedShoppers = [.. generated.Shoppers.Select(CheckpointCodec.EncodeShopper)],
            }).ToBytes());
        }
        Assert.True(sessions > 10);
    }

    [Fact]
    public void A_waiting_session_revived_is_the_session_that_was_passivated()
    {
        var sessions = EngineMade(3).SelectMany(m => m.Sessions).ToList();
        var store = new SessionStore(_engine);
        foreach (var session in sessions) store.Track(KeyOf(session), session);
        Assert.True(store.EncodedBytes > 0);

        foreach (var session in sessions)
        {
            var revived = store.Revive(KeyOf(session));
            DeepEqual.Assert(session, revived, $"session {session.SessionId}");
            Assert.True(store.IsLive(KeyOf(session)));
        }
        Assert.Equal(0, store.EncodedBytes);
    }

    [Fact]
    public void An_engine_made_waiting_session_decides_the_same_after_the_store_held_it()
    {
        var shopper = ShopperState.New("a");
        var started = _engine.Apply(shopper, null, new SessionStarted { EventId = "e1", ShopperId = "a", SessionId = "s1", EventTime = T0, Currency = "EUR" }, Watermark.Start);
        var added = _engine.Apply(started.Shopper, started.Session, new CartLineAdded
        {
            EventId = "e2", ShopperId = "a", SessionId = "s1", EventTime = T0.AddMinutes(1), Currency = "EUR",
            Line = new CartLine { Sku = "lens-13", Name = "Lens", UnitPrice = 19.90m, Quantity = 2 },
        }, Watermark.Start);
        var inactivity = _engine.Deadlines(added.Session!).First(d => d.Kind == DeadlineKind.Inactivity);
        var abandoned = _engine.Fire(added.Shopper, added.Session!, inactivity);
        var waiting = abandoned.Session!;
        var store = new SessionStore(_engine);
        store.Track(KeyOf(waiting), waiting);

        var revived = store.Revive(KeyOf(waiting))!;
        // The next reminder step fires on the revived state exactly as on the state that was passivated.
        var next = _engine.Deadlines(waiting).First();
        Assert.Equal(_engine.Deadlines(waiting).ToArray(), _engine.Deadlines(revived).ToArray());
        var fromHeld = _engine.Fire(abandoned.Shopper, revived, next);
        var fromObject = _engine.Fire(abandoned.Shopper, waiting, next);
        DeepEqual.Assert(fromObject.Session, fromHeld.Session);
        DeepEqual.Assert(fromObject.Shopper, fromHeld.Shopper);
        Assert.False(fromObject.Effects.IsEmpty);
        DeepEqual.Assert(fromObject.Effects, fromHeld.Effects);
    }

    [Fact]
    public void A_hand_over_or_an_erasure_takes_the_shopper_s_sessions_decoded_and_leaves_the_others()
    {
        var sessions = EngineMade(3).SelectMany(m => m.Sessions).ToList();
        var store = new SessionStore(_engine);
        foreach (var session in sessions) store.Track(KeyOf(session), session);
        var shopperId = sessions[0].ShopperId;
        var ofShopper = sessions.Where(s => s.ShopperId == shopperId).OrderBy(s => s.SessionId, StringComparer.Ordinal).ToList();
        Assert.Equal(2, ofShopper.Count);

        var adopted = store.OfShopper(shopperId);
        Assert.Equal(ofShopper.Select(s => s.SessionId), adopted.Keys.Order(StringComparer.Ordinal));
        foreach (var session in ofShopper) DeepEqual.Assert(session, adopted[session.SessionId]);

        var taken = store.TakeShopper(shopperId);
        Assert.Equal(ofShopper.Select(KeyOf), taken.Select(t => t.Key));
        DeepEqual.Assert(ofShopper.ToArray(), taken.Select(t => t.Session).ToArray());
        Assert.False(store.HasSessions(shopperId));
        Assert.Equal(sessions.Count - ofShopper.Count, store.Count);
        Assert.DoesNotContain(store.All(NoLiveCopies), s => s.ShopperId == shopperId);
    }

    [Fact]
    public void A_quiet_shopper_is_held_encoded_after_a_checkpoint_and_reads_back_as_it_was()
    {
        var shoppers = Enumerable.Range(1, 10).SelectMany(seed => Generated(seed).Shoppers).DistinctBy(s => s.ShopperId).ToList();
        Assert.True(shoppers.Count >= 2);
        var store = new ShopperStore();
        foreach (var shopper in shoppers) store[shopper.ShopperId] = shopper;
        var busy = shoppers[0].ShopperId;

        var states = new List<ShopperState>();
        var encoded = new List<byte[]>();
        store.Collect(null, shopperId => shopperId != busy, states, encoded);

        // The shopper with a live session stays as objects; the others are now held as the bytes the checkpoint took.
        Assert.Same(shoppers[0], Assert.Single(states));
        Assert.Equal(shoppers.Count - 1, encoded.Count);
        Assert.Equal(encoded.Sum(b => (long)b.Length), store.EncodedBytes);
        foreach (var shopper in shoppers.Skip(1))
        {
            Assert.True(store.TryGetValue(shopper.ShopperId, out var read));
            DeepEqual.Assert(shopper, read, $"shopper {shopper.ShopperId}");
        }
        // Read: in use again, as objects, until a checkpoint finds it quiet.
        Assert.Equal(0, store.EncodedBytes);
        Assert.True(store.Remove(shoppers[1].ShopperId));
        Assert.False(store.TryGetValue(shoppers[1].ShopperId, out _));
    }

    [Fact]
    public void A_shopper_s_state_and_sessions_held_in_one_entry_each_survive_revival_erasure_and_hand_over_of_the_other()
    {
        var made = EngineMade(3);
        var entries = new ShopperEntries();
        var sessions = new SessionStore(_engine, entries);
        var shoppers = new ShopperStore(entries);
        foreach (var (shopper, ofShopper) in made)
        {
            shoppers[shopper.ShopperId] = shopper;
            foreach (var session in ofShopper) sessions.Track(KeyOf(session), session);
        }
        // A checkpoint finds every shopper quiet: their states are held as bytes, beside their sessions.
        shoppers.Collect(null, shopperId => !sessions.HasLive(shopperId), [], []);
        Assert.True(shoppers.EncodedBytes > 0);
        Assert.Equal(3, shoppers.Count);
        Assert.Equal(6, sessions.Count);

        // Deadlines as the engine gives them (a single one is kept inline); then several, then none, for the live one.
        var (first, firstSessions) = made[0];
        var (waiting, active) = (firstSessions[0], firstSessions[1]);
        Assert.Single(_engine.Deadlines(waiting));
        Assert.Equal(_engine.Deadlines(active).ToArray(), sessions.OtherDeadlines(KeyOf(waiting)).ToArray());
        Assert.Equal(_engine.Deadlines(waiting).ToArray(), sessions.OtherDeadlines(KeyOf(active)).ToArray());
        var earliest = _engine.Deadlines(waiting).Concat(_engine.Deadlines(active)).MinBy(d => d.At);
        Assert.Equal(earliest, sessions.EarliestDue(first.ShopperId, Watermark.Start, DateTimeOffset.MaxValue)?.Deadline);
        DeepEqual.Assert(active, sessions.Revive(KeyOf(active)));
        Deadline[] several = [new(T0.AddDays(2), DeadlineKind.Inactivity), new(T0.AddHours(-1), DeadlineKind.ProactiveAssist)];
        sessions.TrackLive(KeyOf(active), [.. several]);
        Assert.Equal(several, sessions.OtherDeadlines(KeyOf(waiting)).ToArray());
        Assert.Equal((KeyOf(active), several[1]), sessions.EarliestDue(first.ShopperId, Watermark.Start, DateTimeOffset.MaxValue));
        sessions.TrackLive(KeyOf(active), []);
        Assert.Empty(sessions.OtherDeadlines(KeyOf(waiting)));
        Assert.Equal(_engine.Deadlines(waiting).Single(), sessions.EarliestDue(first.ShopperId, Watermark.Start, DateTimeOffset.MaxValue)?.Deadline);

        // Revived: the session and the shopper read back as they went in; the shopper's state outlives its sessions.
        DeepEqual.Assert(waiting, sessions.Revive(KeyOf(waiting)));
        DeepEqual.Assert(first, shoppers.GetValueOrDefault(first.ShopperId));
        sessions.Forget(KeyOf(waiting));
        sessions.Forget(KeyOf(active));
        Assert.False(sessions.HasSessions(first.ShopperId));
        DeepEqual.Assert(first, shoppers.GetValueOrDefault(first.ShopperId));

        // Erased: the shopper's state goes first, its sessions stay until taken, then nothing of the shopper is left.
        var (erased, erasedSessions) = made[1];
        Assert.True(shoppers.Remove(erased.ShopperId));
        Assert.False(shoppers.TryGetValue(erased.ShopperId, out _));
        Assert.True(sessions.HasSessions(erased.ShopperId));
        DeepEqual.Assert(erasedSessions.OrderBy(s => s.SessionId, StringComparer.Ordinal).ToArray(),
            sessions.TakeShopper(erased.ShopperId).Select(t => t.Session).ToArray());
        Assert.False(sessions.HasSessions(erased.ShopperId));
        Assert.False(shoppers.Remove(erased.ShopperId));

        // Handed over: the sessions go to another shopper id; the anonymous shopper's state stays until it is removed.
        var (anonymous, anonymousSessions) = made[2];
        foreach (var (key, session) in sessions.TakeShopper(anonymous.ShopperId))
            sessions.Track(new SessionKey("customer-7", key.SessionId), session);
        DeepEqual.Assert(anonymous, shoppers.GetValueOrDefault(anonymous.ShopperId));
        Assert.False(sessions.HasSessions(anonymous.ShopperId));
        Assert.True(shoppers.Remove(anonymous.ShopperId));
        var adopted = sessions.OfShopper("customer-7");
        foreach (var session in anonymousSessions) DeepEqual.Assert(session, adopted[session.SessionId]);
        Assert.False(shoppers.TryGetValue("customer-7", out _));

        Assert.Equal(1, shoppers.Count);
        Assert.Equal(2, sessions.Count);
    }

    [Fact]
    public void A_snapshot_that_copies_held_states_reads_back_as_the_states_and_a_delta_holds_only_the_changed_shoppers()
    {
        var made = EngineMade(4);
        var generated = new { Sessions = made.SelectMany(m => m.Sessions).ToList(), Shoppers = made.Select(m => m.Shopper).ToList() };
        // Sharing one entry per shopper, as in the partition.
        var entries = new ShopperEntries();
        var sessions = new SessionStore(_engine, entries);
        var shoppers = new ShopperStore(entries);
        foreach (var session in generated.Sessions) sessions.Track(KeyOf(session), session);
        foreach (var shopper in generated.Shoppers) shoppers[shopper.ShopperId] = shopper;
        // One session is live: its actor answered a copy of its state for the checkpoint.
        var live = generated.Sessions[0];
        sessions.Revive(KeyOf(live));
        var copies = new Dictionary<SessionKey, SessionState> { [KeyOf(live)] = live };

        PartitionCheckpoint Take(List<string>? changed) => PartitionCheckpoint.FromBytes(CheckpointCapture.Take(3, new() { ["cart-events"] = 9 },
            Watermark.Start, null, IdentityLinks.Empty, shoppers, sessions, copies, changed).ToBytes());

        var first = Take(null);
        var second = Take(null); // every quiet shopper now copied from its held bytes
        foreach (var snapshot in new[] { first, second })
        {
            DeepEqual.Assert(generated.Sessions.OrderBy(s => s.ShopperId + "\n" + s.SessionId, StringComparer.Ordinal).ToArray(), snapshot.Sessions.OrderBy(s => s.ShopperId + "\n" + s.SessionId, StringComparer.Ordinal).ToArray());
            DeepEqual.Assert(generated.Shoppers.OrderBy(s => s.ShopperId, StringComparer.Ordinal).ToArray(),
                snapshot.Shoppers.OrderBy(s => s.ShopperId, StringComparer.Ordinal).ToArray());
            Assert.Null(snapshot.ChangedShoppers);
        }

        var changed = generated.Sessions[^1].ShopperId;
        var delta = Take([changed]);
        Assert.Equal([changed], delta.ChangedShoppers);
        Assert.All(delta.Sessions, s => Assert.Equal(changed, s.ShopperId));
        Assert.Equal(generated.Sessions.Count(s => s.ShopperId == changed), delta.Sessions.Count);
        Assert.Equal(generated.Shoppers.Where(s => s.ShopperId == changed).Select(s => s.ShopperId), delta.Shoppers.Select(s => s.ShopperId));
    }

    [Fact]
    public void Bytes_that_are_not_one_encoded_state_fail_with_a_format_error_naming_the_state_and_the_cause()
    {
        var session = EngineMade(1)[0].Sessions[0];
        var bytes = CheckpointCodec.EncodeSession(session);

        var truncated = Assert.Throws<CheckpointFormatException>(() => CheckpointCodec.DecodeSession(bytes.AsMemory(0, bytes.Length / 2)));
        Assert.Contains(nameof(SessionState), truncated.Message);
        Assert.NotNull(truncated.InnerException);

        var trailing = Assert.Throws<CheckpointFormatException>(() => CheckpointCodec.DecodeSession(bytes.Append((byte)0xc0).ToArray()));
        Assert.Contains("1 bytes follow the state", trailing.Message);

        // A shopper's bytes are not a session's (their records' field counts differ).
        var shopperBytes = CheckpointCodec.EncodeShopper(EngineMade(1)[0].Shopper);
        var wrong = Assert.Throws<CheckpointFormatException>(() => CheckpointCodec.DecodeSession(shopperBytes));
        Assert.Contains("fields, expected 40", wrong.Message);
    }
}
