using Akka.Actor;
using Akka.TestKit.Xunit2;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.State;
using CartRecovery.Streaming.Actors;
using CartRecovery.Streaming.Checkpointing;
using CartRecovery.Streaming.Ingest;
using CartRecovery.Streaming.Tests.Support;
using static CartRecovery.Streaming.Actors.PartitionProtocol;
using static CartRecovery.Streaming.Actors.SessionProtocol;

namespace CartRecovery.Streaming.Tests.Actors;

/// <summary>
/// A live session's state has one owner, its session actor: one actor per live session, holding that session's
/// state; a session that only waits for a later reminder step has no actor (its state is in the partition's store)
/// until its deadline revives it; a checkpoint copies the live sessions' states without stopping their actors.
/// </summary>
public sealed class SessionOwnershipSpecs() : TestKit(Checkpointing.TestConfig.With(CheckpointStoreSettings.Sqlite(Path.Combine(Path.GetTempPath(), $"cartrecovery-ownership-{Guid.NewGuid():N}.db"))))
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 10, 0, 0, TimeSpan.Zero);
    private readonly RecoveryEngine _engine = new(PolicyFile.LoadDefault() with { HoldoutShare = 0 });
    private readonly Dictionary<string, long> _offsets = new();
    private readonly string _groupId = $"ownership-{Guid.NewGuid():N}";

    [Fact]
    public void Each_live_session_has_one_actor_holding_its_state_across_checkpoints_and_waiting_sessions_are_passivated_until_revived()
    {
        var partition = Sys.ActorOf(PartitionActor.Props(_groupId, 0, _engine, new ProbeSink(TestActor)));
        // w left a cart 70 minutes before the others' traffic: abandoned when the watermark passes its inactivity, and
        // waiting for its first reminder (96 minutes after the cart). a browses on one device, b on two: all live.
        partition.Tell(new ProcessBatch(0, 1, Records([
            .. Cart("w", "w1", T0.AddMinutes(-70), "tent"),
            .. Cart("a", "a1", T0, "lamp"),
            .. Cart("b", "b1", T0.AddMinutes(1), "mug"),
            .. Cart("b", "b2", T0.AddMinutes(2), "plate", consent: false),
        ])));
        var first = ExpectMsg<BatchCompleted>();
        Assert.Equal(4, first.ActiveSessions);
        Assert.Contains(first.Audits, a => a.ShopperId == "w" && a.Decision == AuditDecisions.Abandoned);

        var owners = SessionActors(partition, expected: 3);
        Assert.Equal(["a1", "b1", "b2"], owners.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["lamp"], owners["a1"].State.Lines.Keys);
        Assert.Equal(["plate"], owners["b2"].State.Lines.Keys);

        // A checkpoint does not stop a live session: each actor answers with a copy of its state and goes on.
        foreach (var (_, owner) in owners) Watch(owner.Actor);
        partition.Tell(new Checkpoint(0, 2));
        ExpectMsg<CheckpointSaved>();
        ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // no Terminated
        foreach (var (_, owner) in owners) Unwatch(owner.Actor);
        var kept = SessionActors(partition, expected: 3);
        Assert.Equal(owners.ToDictionary(o => o.Key, o => o.Value.Actor.Path), kept.ToDictionary(o => o.Key, o => o.Value.Actor.Path));

        // a's next event goes to the same actor, which still holds the line it had: one actor, both lines.
        partition.Tell(new ProcessBatch(0, 3, Records([Line("a", "a1", T0.AddMinutes(4), "shade")])));
        ExpectMsg<BatchCompleted>();
        var after = SessionActors(partition, expected: 3);
        Assert.Equal(owners["a1"].Actor.Path, after["a1"].Actor.Path);
        Assert.Equal(["lamp", "shade"], after["a1"].State.Lines.Keys.Order(StringComparer.Ordinal));

        // A restore from that checkpoint (a new owner of the partition) holds every session as the actors did then.
        var restored = Sys.ActorOf(PartitionActor.Props(_groupId, 0, _engine, new ProbeSink(TestActor)));
        restored.Tell(new RestorePartition(0));
        Assert.Equal(4, ExpectMsg<PartitionRestored>().Sessions);
        restored.Tell(new ProcessBatch(0, 3, Records([Line("b", "b1", T0.AddMinutes(4), "bowl")])));
        ExpectMsg<BatchCompleted>();
        var revived = Assert.Single(SessionActors(restored, expected: 1));
        Assert.Equal(["bowl", "mug"], revived.Value.State.Lines.Keys.Order(StringComparer.Ordinal));

        // The drain revives w's waiting session by its deadlines: both reminders go out.
        partition.Tell(new Drain(0, 4));
        var drained = ExpectMsg<BatchCompleted>();
        Assert.Equal([1, 2], drained.Triggers.Where(t => t.ShopperId == "w").Select(t => t.Step).Order());
        Assert.Equal(0, drained.ActiveSessions);
    }

    /// <summary>The partition's session actors (exactly <paramref name="expected"/>), by the session id of the state each owns.</summary>
    private Dictionary<string, (IActorRef Actor, SessionState State)> SessionActors(IActorRef partition, int expected)
    {
        Sys.ActorSelection(partition.Path / "*").Tell(new Identify(null), TestActor);
        var actors = ReceiveN(expected).Cast<ActorIdentity>().Select(identity => identity.Subject!).ToList();
        // Any further child would have answered alongside these.
        ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        var owned = new Dictionary<string, (IActorRef, SessionState)>(StringComparer.Ordinal);
        foreach (var actor in actors)
        {
            actor.Tell(ReportState.Instance);
            var state = ExpectMsg<SessionStateOwned>().State!;
            owned.Add(state.SessionId, (actor, state)); // Add: two actors owning one session would throw
        }
        return owned;
    }

    // In event-time order, as the partition's input merger hands the two topics over (the consents of the day before
    // first): interleaved as written, each later consent would be another shopper's event a day behind the carts.
    private List<InputRecord> Records(IEnumerable<ShopperEvent> events) => [.. events.OrderBy(e => e.EventTime).Select(e =>
    {
        var topic = e is ConsentEvent ? "consent-events" : "cart-events";
        var offset = _offsets.GetValueOrDefault(topic);
        _offsets[topic] = offset + 1;
        return new InputRecord(topic, 0, offset, e, null);
    })];

    private static IEnumerable<ShopperEvent> Cart(string shopper, string session, DateTimeOffset start, string sku, bool consent = true)
    {
        if (consent)
            yield return new ConsentGranted
            {
                EventId = $"{shopper}-consent", ShopperId = shopper, EventTime = start.AddDays(-1), Purpose = "cart_recovery", Channel = "email",
                Source = "checkout_form", WordingVersion = "v3",
            };
        yield return new SessionStarted { EventId = $"{session}-start", ShopperId = shopper, SessionId = session, EventTime = start, TimeZone = "UTC" };
        yield return Line(shopper, session, start.AddMinutes(1), sku);
    }

    private static CartLineAdded Line(string shopper, string session, DateTimeOffset at, string sku) => new()
    {
        EventId = $"{session}-add-{sku}", ShopperId = shopper, SessionId = session, EventTime = at,
        Line = new CartLine { Sku = sku, Name = sku, UnitPrice = 30m, Quantity = 1 },
    };
}
