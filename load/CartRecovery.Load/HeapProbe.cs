using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;
using CartRecovery.Streaming.Checkpointing;

namespace CartRecovery.Load;

public sealed record HeapRun(int Sessions, long StateBytes, long IndexBytes, long HeapAfter)
{
    /// <summary>A full checkpoint of one partition's share of the waiting sessions (1 in <see cref="SnapshotPartitions"/>)
    /// and their shoppers: size and serialisation time (a delta holds only changed shoppers).</summary>
    public long SnapshotBytes { get; init; }
    public double SnapshotMs { get; init; }
    /// <summary>Reading that snapshot back (restore), and the same snapshot in the JSON format of releases before session 10.</summary>
    public double SnapshotDecodeMs { get; init; }
    public long JsonSnapshotBytes { get; init; }
    public double JsonSnapshotMs { get; init; }
    public double JsonSnapshotDecodeMs { get; init; }
    public int SnapshotSessions { get; init; }
    public int SnapshotPartitions { get; init; }

    /// <summary>SessionState + ShopperState held in dictionaries as the partition actor holds them.</summary>
    public double StateBytesPerSession => (double)StateBytes / Sessions;
    /// <summary>Plus replicas of the partition actor's per-session indexes (sessions by shopper, timer index).</summary>
    public double TotalBytesPerSession => (double)(StateBytes + IndexBytes) / Sessions;
}

/// <summary>
/// Managed heap per waiting session, measured on the pure domain state, not through the actor path (the partition
/// actor's collections are private and being reworked for checkpointing): N shoppers each get a realistic
/// abandoned cart by running the real <see cref="RecoveryEngine"/> on events that went through the real
/// <see cref="EventParser"/> (so the strings are per-event copies, as in the worker), then fire the inactivity
/// deadline, leaving the session Abandoned and waiting for reminder step 1. Bytes = GC.GetTotalMemory(true) after
/// minus before, with everything kept alive. A waiting (abandoned) session holds no session actor in the worker
/// (PartitionActor stops it), so state + indexes is what the worker keeps per waiting session.
/// </summary>
public static class HeapProbe
{
    public static HeapRun Run(int n, int partitions)
    {
        var engine = new RecoveryEngine(PolicyFile.LoadDefault());
        var at0 = new DateTimeOffset(2026, 11, 2, 10, 0, 0, TimeSpan.Zero);
        var random = new Random(7);
        var watermark = Watermark.Start;

        var before = Settle();
        var sessions = new Dictionary<(string Shopper, string Session), SessionState>(n);
        var shoppers = new Dictionary<string, ShopperState>(n, StringComparer.Ordinal);
        for (var i = 0; i < n; i++)
        {
            var shopperId = $"cust-7-{i:D7}";
            var sessionId = $"sess-7-{i:D7}-0";
            var at = at0 + TimeSpan.FromSeconds(i % 3600);
            var e = 0;
            string Id() => $"evt-7-{i:D7}-{e++:D3}";
            var shopper = ShopperState.New(shopperId);
            if (random.NextDouble() < 0.7)
                shopper = engine.Apply(shopper, Parse<ConsentEvent>(new ConsentGranted
                {
                    EventId = Id(), ShopperId = shopperId, EventTime = at - TimeSpan.FromDays(3), Purpose = "cart_recovery", Channel = "email",
                    Source = "checkout_form", WordingVersion = "v3",
                }), watermark).Shopper;
            SessionState? session = null;
            void Apply(SessionEvent evt)
            {
                var d = engine.Apply(shopper, session, Parse<SessionEvent>(evt), watermark);
                (shopper, session) = (d.Shopper, d.Session);
            }
            Apply(new SessionStarted { EventId = Id(), ShopperId = shopperId, SessionId = sessionId, EventTime = at, Channel = "web", TimeZone = "Europe/Berlin", Currency = "EUR" });
            var lines = 1 + (random.NextDouble() < 0.3 ? 1 : 0);
            for (var l = 0; l < lines; l++)
            {
                var sku = $"shoes-{random.Next(400):D4}";
                at += TimeSpan.FromSeconds(30);
                Apply(new ProductViewed { EventId = Id(), ShopperId = shopperId, SessionId = sessionId, EventTime = at, Channel = "web", Sku = sku });
                at += TimeSpan.FromSeconds(30);
                Apply(new CartLineAdded
                {
                    EventId = Id(), ShopperId = shopperId, SessionId = sessionId, EventTime = at, Channel = "web", Currency = "EUR",
                    Line = new CartLine { Sku = sku, Name = "shoes item", UnitPrice = 20 + random.Next(200), Quantity = 1 },
                });
            }
            if (random.NextDouble() < 0.5)
                Apply(new CheckoutStarted { EventId = Id(), ShopperId = shopperId, SessionId = sessionId, EventTime = at + TimeSpan.FromSeconds(20), Channel = "web" });
            var inactivity = engine.Deadlines(session!).First(d => d.Kind == DeadlineKind.Inactivity);
            var fired = engine.Fire(shopper, session!, inactivity);
            if (fired.Session is not { Phase: SessionPhase.Abandoned } waiting) throw new InvalidOperationException("session did not become a waiting session");
            sessions[(shopperId, sessionId)] = waiting;
            shoppers[shopperId] = fired.Shopper;
        }
        var afterState = Settle();

        // Replicas of PartitionActor's per-session indexes: sessions by shopper (a sorted id array), and the timer
        // index (a sorted set entry per deadline plus the engine's deadline array per session).
        var byShopper = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var timers = new SortedSet<(DateTimeOffset At, string ShopperId, string SessionId)>();
        var bySession = new Dictionary<(string, string), System.Collections.Immutable.ImmutableArray<Deadline>>();
        foreach (var ((shopperId, sessionId), state) in sessions)
        {
            byShopper[shopperId] = [sessionId];
            var deadlines = engine.Deadlines(state);
            foreach (var d in deadlines) timers.Add((d.At, shopperId, sessionId));
            if (!deadlines.IsEmpty) bySession[(shopperId, sessionId)] = deadlines;
        }
        var afterIndexes = Settle();
        var heap = GC.GetGCMemoryInfo().HeapSizeBytes;
        // As one of the topic's partitions holds them: every partitions-th shopper (a 1M-session partition would not fit
        // one JSON array of at most 2 GiB).
        var snapshot = Snapshot(sessions.Where((_, i) => i % partitions == 0).Select(s => s.Value),
            shoppers.Where((_, i) => i % partitions == 0).Select(s => s.Value));
        GC.KeepAlive(sessions);
        GC.KeepAlive(shoppers);
        GC.KeepAlive(byShopper);
        GC.KeepAlive(timers);
        GC.KeepAlive(bySession);
        return new HeapRun(n, afterState - before, afterIndexes - afterState, heap) {
            SnapshotBytes = snapshot.Bytes, SnapshotMs = snapshot.Ms, SnapshotDecodeMs = snapshot.DecodeMs,
            JsonSnapshotBytes = snapshot.JsonBytes, JsonSnapshotMs = snapshot.JsonMs, JsonSnapshotDecodeMs = snapshot.JsonDecodeMs, SnapshotSessions = (n + partitions - 1) / partitions, SnapshotPartitions = partitions,
        };
    }

    /// <summary>Serialises the sessions and shoppers as one full partition checkpoint (the worker's own format and code) and
    /// reads it back; the same in the JSON format of earlier releases, for comparison.</summary>
    private static (long Bytes, double Ms, double DecodeMs, long JsonBytes, double JsonMs, double JsonDecodeMs) Snapshot(
        IEnumerable<SessionState> sessions, IEnumerable<ShopperState> shoppers)
    {
        var checkpoint = new PartitionCheckpoint
        {
            Partition = 0, NextOffsets = new() { ["cart-events"] = 0 }, Watermark = Watermark.Start, Shoppers = [.. shoppers], Sessions = [.. sessions],
        };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var bytes = checkpoint.ToBytes();
        var ms = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        PartitionCheckpoint.FromBytes(bytes);
        var decodeMs = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        var json = PartitionCheckpoint.ToJsonBytes(checkpoint);
        var jsonMs = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        PartitionCheckpoint.FromBytes(json);
        return (bytes.LongLength, ms, decodeMs, json.LongLength, jsonMs, clock.Elapsed.TotalMilliseconds);
    }

    private static T Parse<T>(ShopperEvent evt) where T : ShopperEvent =>
        (T)(EventParser.Parse(ContractJson.SerializeEvent(evt)).Event ?? throw new InvalidOperationException("generated event rejected"));

    private static long Settle()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
