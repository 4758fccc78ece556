using Akka.Actor;
using Akka.TestKit.Xunit2;
using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Compliance;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Streaming.Actors;
using CartRecovery.Streaming.Checkpointing;
using CartRecovery.Streaming.Ingest;
using CartRecovery.Streaming.Tests.Support;
using static CartRecovery.Streaming.Actors.PartitionProtocol;

namespace CartRecovery.Streaming.Tests.Actors;

/// <summary>
/// Erasure in the partition actor: the shopper's live state is forgotten (sessions, consent, timers), the batch's
/// rows of the shopper before the request are redacted, the erasure is the last row of the shopper's audit chain, the
/// next checkpoint no longer holds the shopper, and later events start from nothing.
/// </summary>
public sealed class ErasureSpecs : TestKit
{
    private readonly CheckpointStoreSettings _store;

    public ErasureSpecs() : this(CheckpointStoreSettings.Sqlite(Path.Combine(Path.GetTempPath(), $"cartrecovery-erasure-{Guid.NewGuid():N}.db"))) { }

    private ErasureSpecs(CheckpointStoreSettings store) : base(Checkpointing.TestConfig.With(store)) => _store = store;

    private static readonly DateTimeOffset T0 = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);
    private readonly RecoveryEngine _engine = new(PolicyFile.LoadDefault() with { HoldoutShare = 0 });
    private long _offset;

    [Fact]
    public void An_erased_shopper_leaves_the_live_state_and_the_checkpoint_and_comes_back_as_new()
    {
        var group = $"erasure-{Guid.NewGuid():N}";
        var pseudonym = _engine.Policy.Keys.Pseudonym("cust-x");
        var first = Sys.ActorOf(PartitionActor.Props(group, 0, _engine, new ProbeSink(TestActor)));
        // Both shoppers abandon; cust-x also gets step 1; the erasure comes in the same batch after it.
        first.Tell(new ProcessBatch(0, 1, Records([.. Cart("cust-x", "s-x", "secret-sku"), .. Cart("cust-y", "s-y", "mug"),
            Later(T0.AddHours(3)), new ErasureRequested { EventId = "erase-x", ShopperId = "cust-x", EventTime = T0.AddHours(3).AddMinutes(1), Source = "support" }])));
        var batch = ExpectMsg<BatchCompleted>();

        var erasure = Assert.Single(batch.Erasures);
        Assert.Equal(("cust-x", pseudonym), (erasure.ShopperId, erasure.Pseudonym));
        // The store path pseudonymises session ids with the function the batch's own rows were redacted with.
        var sessionPseudonym = _engine.Policy.Keys.SessionPseudonym("cust-x", "s-x");
        Assert.Equal(sessionPseudonym, erasure.SessionPseudonym("s-x"));
        Assert.DoesNotContain(batch.Audits, a => a.SessionId == "s-x");
        Assert.Contains(batch.Audits, a => a.SessionId == sessionPseudonym);
        Assert.DoesNotContain(batch.Triggers, t => t.ShopperId == "cust-x" || t.CartLines.Any(l => l.Sku == "secret-sku"));
        var redacted = Assert.Single(batch.Triggers, t => t.ShopperId == pseudonym);
        Assert.Equal(("", ""), (redacted.UnsubscribeToken, redacted.MessageBody));
        Assert.DoesNotContain(batch.Audits, a => a.ShopperId == "cust-x");
        var chain = batch.Audits.Where(a => a.ShopperPseudonym == pseudonym).OrderBy(a => a.ChainSeq).ToList();
        Assert.Equal(AuditDecisions.Erased, chain[^1].Decision);
        Assert.True(AuditChainVerifier.Verify(batch.Audits).Intact);
        Assert.Equal(2, batch.ActiveSessions); // cust-y's and cust-z's

        first.Tell(new Checkpoint(0, 2));
        ExpectMsg<CheckpointSaved>();
        Watch(first);
        Sys.Stop(first);
        ExpectTerminated(first);

        var second = Sys.ActorOf(PartitionActor.Props(group, 0, _engine, new ProbeSink(TestActor)));
        second.Tell(new RestorePartition(0));
        Assert.Equal(2, ExpectMsg<PartitionRestored>().Sessions); // cust-y's and cust-z's, none of cust-x

        // cust-x comes back: no consent any more (it was erased), so the new cart's steps are suppressed as no_consent.
        second.Tell(new ProcessBatch(0, 3, Records([.. Cart("cust-x", "s-x2", "other-sku", consent: false, day: 1)])));
        second.Tell(new Drain(0, 4));
        var later = new[] { ExpectMsg<BatchCompleted>(), ExpectMsg<BatchCompleted>() };
        var suppressed = later.SelectMany(b => b.Audits).Where(a => a.ShopperId == "cust-x" && a.Decision == AuditDecisions.Suppressed).ToList();
        Assert.Equal([SuppressionReason.NoConsent, SuppressionReason.NoConsent], suppressed.Select(a => a.Reason));
        Assert.Equal([1L], later.SelectMany(b => b.Audits).Where(a => a.ShopperId == "cust-x").Select(a => a.ChainSeq).Take(1));
        // The other shopper is untouched: both steps (step 1 went out in the first batch).
        Assert.Equal(2, later.Prepend(batch).SelectMany(b => b.Triggers).Count(t => t.ShopperId == "cust-y"));
    }

    [Fact]
    public async Task An_erasure_between_incremental_checkpoints_leaves_no_checkpoint_row_naming_the_shopper_and_restore_lacks_them()
    {
        var group = $"erasure-incremental-{Guid.NewGuid():N}";
        var partition = Sys.ActorOf(PartitionActor.Props(group, 0, _engine, new ProbeSink(TestActor)));
        long sequence = 0;
        CheckpointSaved BatchThenCheckpoint(IEnumerable<ShopperEvent> events)
        {
            partition.Tell(new ProcessBatch(0, ++sequence, Records(events)));
            ExpectMsg<BatchCompleted>();
            partition.Tell(new Checkpoint(0, ++sequence));
            return ExpectMsg<CheckpointSaved>();
        }

        Assert.False(BatchThenCheckpoint([.. Cart("cust-x", "s-x", "secret-sku"), .. Cart("cust-y", "s-y", "mug")]).Incremental);
        // cust-x changes again: journaled as a delta after the snapshot, naming cust-x's cart.
        Assert.True(BatchThenCheckpoint([Line("cust-x", "s-x", "secret-sku-2", T0.AddMinutes(5))]).Incremental);
        Assert.True(await CheckpointErasure.CountRowsNamingAsync(_store, "secret-sku-2", CancellationToken.None) > 0);
        // The erasure: the next checkpoint is a full snapshot, which deletes the snapshot and the deltas that named cust-x.
        Assert.False(BatchThenCheckpoint([new ErasureRequested { EventId = "erase-x", ShopperId = "cust-x", EventTime = T0.AddMinutes(6), Source = "support" }]).Incremental);
        // Another shopper's change after it: a delta again, so the restore below reads a snapshot and a delta.
        Assert.True(BatchThenCheckpoint([Line("cust-y", "s-y", "plate", T0.AddMinutes(7))]).Incremental);
        foreach (var needle in new[] { "cust-x", "secret-sku", "s-x-add" })
            Assert.Equal(0, await CheckpointErasure.CountRowsNamingAsync(_store, needle, CancellationToken.None));
        Watch(partition);
        Sys.Stop(partition);
        ExpectTerminated(partition);

        var restored = Sys.ActorOf(PartitionActor.Props(group, 0, _engine, new ProbeSink(TestActor)));
        restored.Tell(new RestorePartition(0));
        Assert.Equal(1, ExpectMsg<PartitionRestored>().Sessions); // cust-y's only
        restored.Tell(new Drain(0, ++sequence));
        var drained = ExpectMsg<BatchCompleted>();
        Assert.DoesNotContain(drained.Triggers, t => t.ShopperId == "cust-x");
        Assert.Contains(drained.Triggers, t => t.ShopperId == "cust-y" && t.CartLines.Any(l => l.Sku == "plate"));
    }

    private static CartLineAdded Line(string shopper, string session, string sku, DateTimeOffset at) => new()
    {
        EventId = $"{session}-add-{sku}", ShopperId = shopper, SessionId = session, EventTime = at,
        Line = new CartLine { Sku = sku, Name = sku, UnitPrice = 24m, Quantity = 1 },
    };

    private List<InputRecord> Records(IEnumerable<ShopperEvent> events) =>
        [.. events.Select(e => new InputRecord(e is ConsentEvent or ErasureRequested ? Topics.ConsentEvents : Topics.CartEvents, 0, _offset++, e, null))];

    /// <summary>Another shopper's event that moves the watermark, so cust-x's step 1 (10:36) fires before the erasure.</summary>
    private static SessionStarted Later(DateTimeOffset at) =>
        new() { EventId = "z-start", ShopperId = "cust-z", SessionId = "s-z", EventTime = at, TimeZone = "UTC" };

    private static IEnumerable<ShopperEvent> Cart(string shopper, string session, string sku, bool consent = true, int day = 0)
    {
        var start = T0.AddDays(day);
        if (consent)
            yield return new ConsentGranted
            {
                EventId = $"{shopper}-consent", ShopperId = shopper, EventTime = T0.AddDays(-1), Purpose = "cart_recovery", Channel = "email",
                Source = "checkout_form", WordingVersion = "v3",
            };
        yield return new SessionStarted { EventId = $"{session}-start", ShopperId = shopper, SessionId = session, EventTime = start, TimeZone = "UTC" };
        yield return new CartLineAdded
        {
            EventId = $"{session}-add", ShopperId = shopper, SessionId = session, EventTime = start.AddMinutes(1),
            Line = new CartLine { Sku = sku, Name = sku, UnitPrice = 24m, Quantity = 1 },
        };
    }
}
