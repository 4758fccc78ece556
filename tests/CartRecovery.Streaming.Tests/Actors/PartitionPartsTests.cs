using CartRecovery.Contracts.Events;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;
using CartRecovery.Streaming.Actors;
using CartRecovery.Streaming.Checkpointing;
using CartRecovery.Streaming.Ingest;
using CartRecovery.Streaming.Tests.Checkpointing;

namespace CartRecovery.Streaming.Tests.Actors;

/// <summary>The partition actor's parts on their own, without actors: the session store and its timer index, per-shopper
/// ordering, and the checkpoint protocol.</summary>
public sealed class PartitionPartsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 10, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Lateness = TimeSpan.FromMinutes(2);
    private readonly RecoveryEngine _engine = new(PolicyFile.LoadDefault() with { HoldoutShare = 0 });

    private SessionState Session(string shopper, string session, DateTimeOffset lastActivity) =>
        _engine.Apply(ShopperState.New(shopper), null,
            new SessionStarted { EventId = $"{shopper}-{session}", ShopperId = shopper, SessionId = session, EventTime = lastActivity },
            Watermark.Start).Session!;

    [Fact]
    public void Session_store_indexes_sessions_by_shopper_and_wakes_them_when_their_deadline_passes()
    {
        var store = new SessionStore(_engine);
        var early = new SessionKey("a", "s2");
        store.Track(early, Session("a", "s2", T0));
        store.Track(new SessionKey("a", "s1"), Session("a", "s1", T0.AddMinutes(10)));
        store.Track(new SessionKey("b", "s1"), Session("b", "s1", T0.AddMinutes(20)));

        Assert.Equal(3, store.Count);
        Assert.Equal(["s1", "s2"], store.OfShopper("a").Keys.Order(StringComparer.Ordinal));
        var inactivity = _engine.Deadlines(Session("a", "s2", T0)).Single().At;
        Assert.False(store.AnyDue(Watermark.Start.Observe(inactivity.AddSeconds(-1), TimeSpan.Zero)));

        var passed = Watermark.Start.Observe(inactivity + Lateness + TimeSpan.FromSeconds(1), Lateness);
        Assert.True(store.AnyDue(passed));
        Assert.Equal(["a"], store.DueShoppers(passed));
        Assert.Equal(early, store.EarliestDue("a", passed, null)!.Value.Key);
        // An input of the shopper later than the deadline makes it due first, whatever the watermark.
        Assert.Equal(early, store.EarliestDue("a", Watermark.Start, inactivity.AddSeconds(1))!.Value.Key);

        store.Forget(early);
        Assert.False(store.AnyDue(passed));
        Assert.True(store.HasSessions("a"));
        var taken = store.TakeShopper("a");
        Assert.Equal(["s1"], taken.Select(t => t.Key.SessionId));
        Assert.False(store.HasSessions("a"));
        Assert.Equal(1, store.Count);
    }

    [Fact]
    public void Session_store_keeps_a_live_sessions_deadlines_but_not_its_state_which_its_actor_owns()
    {
        var store = new SessionStore(_engine);
        var key = new SessionKey("a", "s1");
        var state = Session("a", "s1", T0);
        store.Track(key, state);
        Assert.False(store.IsLive(key));

        // Revived: the state leaves the store for the new actor (decoded: the store held it encoded); the key and the deadlines stay.
        DeepEqual.Assert(state, store.Revive(key));
        Assert.True(store.IsLive(key));
        Assert.Equal(1, store.LiveCount);
        Assert.Equal([key], store.Live("a"));
        Assert.Throws<InvalidOperationException>(() => store.Revive(key));
        Assert.Throws<InvalidOperationException>(() => store.SessionsOf("a", new Dictionary<SessionKey, SessionState>()).ToList());
        // A checkpoint reads it from the copy its actor answered.
        Assert.Equal([state], store.SessionsOf("a", new Dictionary<SessionKey, SessionState> { [key] = state }));
        var passed = Watermark.Start.Observe(_engine.Deadlines(state).Single().At + Lateness + TimeSpan.FromSeconds(1), Lateness);
        Assert.Equal(key, store.EarliestDue("a", passed, null)!.Value.Key);

        // The actor decided: the store learns the new deadlines only.
        var later = Session("a", "s1", T0.AddHours(1));
        store.TrackLive(key, _engine.Deadlines(later));
        Assert.Null(store.EarliestDue("a", passed, null));

        // Passivated: the state is the store's again.
        store.Track(key, later);
        Assert.Equal(0, store.LiveCount);
        DeepEqual.Assert(new[] { later }, store.SessionsOf("a", new Dictionary<SessionKey, SessionState>()).ToArray());
        Assert.Null(store.Revive(new SessionKey("a", "new-session")));
        Assert.Equal(1, store.Count);
    }

    [Fact]
    public void A_run_of_a_shopper_s_commands_leaves_the_queue_as_far_as_its_actor_took_it()
    {
        var queues = new ShopperQueues();
        var record = new InputRecord("cart-events", 0, 7, null, null);
        ShopperCommand Command(string id) => new(new SessionStarted { EventId = id, ShopperId = "a", SessionId = "s", EventTime = T0 }, Watermark.Start, record);
        foreach (var id in new[] { "1", "2", "3", "4" }) queues.Enqueue("a", Command(id));
        var first = queues.Dequeue("a");
        // Sent with the next two waiting commands; the actor took two of the three (the second failed): the third waits.
        queues.Started("a", first, peeked: 2);
        Assert.Equal("2", queues.Finished("a", consumed: 2)!.Value.Event.EventId);
        Assert.True(queues.TryPeek("a", out var next));
        Assert.Equal("3", next.Event.EventId);
        queues.Started("a", queues.Dequeue("a"), peeked: 1);
        Assert.Throws<InvalidOperationException>(() => queues.Finished("a", consumed: 3));
    }

    [Fact]
    public void Shopper_queues_run_one_command_per_shopper_in_input_order()
    {
        var queues = new ShopperQueues();
        var record = new InputRecord("cart-events", 0, 7, null, null);
        ShopperCommand Command(string id) => new(new SessionStarted { EventId = id, ShopperId = "a", SessionId = "s", EventTime = T0 }, Watermark.Start, record);
        queues.Enqueue("a", Command("first"));
        queues.Enqueue("a", Command("second"));
        Assert.False(queues.IsIdle);

        Assert.True(queues.TryPeek("a", out var next));
        Assert.Equal("first", next.Event.EventId);
        var first = queues.Dequeue("a");
        Assert.Equal("first", first.Event.EventId);
        queues.Started("a", first);
        Assert.True(queues.IsInFlight("a"));
        Assert.False(queues.IsInFlight("b"));
        Assert.Equal(first, queues.Finished("a"));
        Assert.False(queues.AnyInFlight);

        Assert.Equal("second", queues.Dequeue("a").Event.EventId);
        Assert.False(queues.TryPeek("a", out _));
        queues.Drop("a");
        Assert.True(queues.IsIdle);
    }

    [Fact]
    public void Checkpoint_protocol_saves_after_durability_one_at_a_time_and_keeps_only_the_newest_waiting_capture()
    {
        var protocol = new CheckpointProtocol();
        protocol.Captured(1, [1], new Dictionary<string, long> { ["t"] = 10 }, drained: false);
        Assert.Null(protocol.Durable(0)); // an older durability answer does not release it
        var first = protocol.Durable(1);
        Assert.Equal(1, first!.Sequence);

        protocol.Captured(2, [2], new Dictionary<string, long> { ["t"] = 20 }, drained: false);
        protocol.Captured(3, [3, 3], new Dictionary<string, long> { ["t"] = 30 }, drained: true);
        Assert.Null(protocol.Durable(3)); // one save at a time: 1 is still saving

        var saved = protocol.Succeeded();
        Assert.Equal((1L, 1, 1), (saved!.Sequence, saved.Answered, saved.Bytes));
        var next = protocol.NextToSave();
        Assert.Equal(3, next!.Sequence); // 2 was superseded by 3 before it could start
        var last = protocol.Succeeded();
        Assert.Equal((3L, 2, true, 30L), (last!.Sequence, last.Answered, last.Drained, last.Offsets["t"]));
        Assert.Null(protocol.Succeeded());
        Assert.Null(protocol.NextToSave());
    }

    [Fact]
    public void Checkpoint_changes_keep_a_change_after_a_capture_for_the_next_one_and_go_full_when_deltas_reach_the_snapshot()
    {
        var changes = new CheckpointChanges();
        Assert.True(changes.NextIsFull);
        changes.Touched(["a", "b"]);
        var captured = changes.Generation;
        changes.Touched(["b"]); // changed again after the capture
        changes.Saving(captured);
        Assert.Equal(["b"], changes.Changed);

        changes.SnapshotSaved(1000);
        Assert.False(changes.NextIsFull);
        changes.DeltaSaved(600);
        Assert.False(changes.NextIsFull);
        changes.DeltaSaved(400);
        Assert.True(changes.NextIsFull);
        changes.SnapshotSaved(1200);
        Assert.False(changes.NextIsFull);
    }

    [Fact]
    public void After_an_erasure_checkpoints_are_full_until_one_covering_it_saves_and_only_that_one_must_delete_what_it_replaces()
    {
        var changes = new CheckpointChanges();
        changes.Touched(["cust-x"]);
        changes.SnapshotSaved(1_000);
        Assert.False(changes.NextIsFull);
        Assert.False(changes.FullSaving(changes.Generation)); // a full snapshot with no erasure pending

        changes.Touched(["cust-x"]);
        changes.RequireFull(); // cust-x erased in this generation
        var erasedIn = changes.Generation;
        Assert.True(changes.NextIsFull);
        // A full capture taken before the erasure does not cover it: still full next time.
        Assert.False(changes.FullSaving(erasedIn - 1));
        Assert.True(changes.NextIsFull);
        // The capture that covers it: the rows it replaces still name cust-x and must be deleted.
        Assert.True(changes.FullSaving(erasedIn));
        changes.SnapshotSaved(1_000);
        Assert.False(changes.NextIsFull);
        Assert.False(changes.FullSaving(changes.Generation));
    }
}
