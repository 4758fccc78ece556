using System.Diagnostics;
using CartRecovery.Contracts.Events;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;
using CartRecovery.Streaming.Actors;
using CartRecovery.Streaming.Checkpointing;

namespace CartRecovery.Load;

/// <summary>One point of the checkpoint curve: a partition holding <see cref="Held"/> waiting sessions (one per shopper),
/// of which <see cref="Changed"/> shoppers change between two checkpoints.</summary>
public sealed record CurvePoint(int Held, int Changed, double HeapBytesPerSession, long FirstSnapshotBytes, double FirstSnapshotMs,
    long SnapshotBytes, double SnapshotMs, long DeltaBytes, double DeltaMs, double ChangeMs);

/// <summary>
/// Checkpoint bytes against the shoppers held (issue 22: they must follow the shoppers changed): one partition's real
/// stores and capture (<see cref="HeldPartition"/>) hold N waiting sessions; then, interval after interval, a fixed
/// number of shoppers get an event through the real engine (their session revived from the store, decided, passivated
/// again) and a delta checkpoint is taken, as the worker does every 5 s. Reports, per N, the delta's bytes and encode
/// time (median of the intervals), and a full snapshot's, the first (shoppers still as objects) and the next (all copied).
/// </summary>
public static class CheckpointCurve
{
    // Distinct waiting sessions built by the engine; beyond them, copies under new ids (the engine's 1M would take minutes).
    private const int Templates = 10_000;

    public static CurvePoint Run(int held, int changed, int intervals)
    {
        var engine = new RecoveryEngine(PolicyFile.LoadDefault());
        var random = new Random(11);
        var templates = Enumerable.Range(0, Math.Min(held, Templates)).Select(i => HeapProbe.WaitingSession(engine, i, random)).ToList();

        var before = HeapProbe.Settle() - PartitionCheckpoint.KeptBufferBytes;
        var partition = new HeldPartition(engine);
        var keys = new SessionKey[held];
        for (var i = 0; i < held; i++)
        {
            var (shopper, session) = templates[i % templates.Count];
            if (i >= templates.Count)
            {
                var shopperId = $"cust-8-{i:D7}";
                shopper = shopper with { ShopperId = shopperId };
                session = session with { ShopperId = shopperId, SessionId = $"sess-8-{i:D7}-0" };
            }
            partition.Hold(shopper, session);
            keys[i] = new SessionKey(session.ShopperId, session.SessionId);
        }
        var clock = Stopwatch.StartNew();
        var firstBytes = partition.FullSnapshot().LongLength;
        var firstMs = clock.Elapsed.TotalMilliseconds;
        // The templates were alive at both ends: counted in neither.
        var heap = HeapProbe.Settle() - PartitionCheckpoint.KeptBufferBytes - before;
        templates.Clear();
        clock.Restart();
        var snapshot = partition.FullSnapshot();
        var snapshotMs = clock.Elapsed.TotalMilliseconds;

        var deltas = new List<(long Bytes, double Ms, double ChangeMs)>();
        var at = new DateTimeOffset(2026, 11, 2, 12, 0, 0, TimeSpan.Zero);
        for (var interval = 0; interval < intervals; interval++)
        {
            clock.Restart();
            var touched = new List<string>(changed);
            var picked = new HashSet<int>();
            while (picked.Count < Math.Min(changed, held)) picked.Add(random.Next(held));
            foreach (var key in picked.Select(i => keys[i]))
            {
                // The shopper views a product in their waiting session: revived from the store, decided, passivated again.
                var shopperId = key.ShopperId;
                if (!partition.Shoppers.TryGetValue(shopperId, out var shopper)) throw new InvalidOperationException($"{shopperId} is not held");
                var session = partition.Sessions.Revive(key);
                at += TimeSpan.FromMilliseconds(1);
                var decision = engine.Apply(shopper, session, new ProductViewed
                {
                    EventId = $"view-{interval}-{shopperId}", ShopperId = shopperId, SessionId = key.SessionId, EventTime = at, Channel = "web", Sku = "shoes-0001",
                }, Watermark.Start);
                partition.Shoppers[shopperId] = decision.Shopper;
                if (decision.Session is { } next) partition.Sessions.Track(key, next);
                else partition.Sessions.Forget(key);
                touched.Add(shopperId);
            }
            partition.Changes.Touched(touched);
            var changeMs = clock.Elapsed.TotalMilliseconds;
            clock.Restart();
            var delta = partition.Delta();
            deltas.Add((delta.LongLength, clock.Elapsed.TotalMilliseconds, changeMs));
        }
        var median = deltas.OrderBy(d => d.Ms).ElementAt(deltas.Count / 2);
        return new CurvePoint(held, changed, (double)heap / held, firstBytes, firstMs, snapshot.LongLength, snapshotMs,
            (long)deltas.Select(d => (double)d.Bytes).Order().ElementAt(deltas.Count / 2), median.Ms, median.ChangeMs);
    }

    public static void Print(IReadOnlyList<CurvePoint> points, TextWriter output)
    {
        output.WriteLine();
        output.WriteLine($"== checkpoint curve: one partition, {points[0].Changed:N0} shoppers changed per interval (median of the intervals) ==");
        output.WriteLine("| waiting sessions held | heap per waiting session | delta checkpoint | delta bytes/s at 5 s | full snapshot, first (encodes shoppers) | full snapshot, next (copies) |");
        output.WriteLine("|---:|---:|---:|---:|---:|---:|");
        foreach (var p in points)
            output.WriteLine($"| {p.Held:N0} | {p.HeapBytesPerSession:N0} B | {p.DeltaBytes / 1024.0:N0} KiB in {p.DeltaMs:N1} ms | {p.DeltaBytes / 5.0 / 1024:N0} KiB/s " +
                             $"| {p.FirstSnapshotBytes / 1048576.0:N1} MiB in {p.FirstSnapshotMs:N0} ms | {p.SnapshotBytes / 1048576.0:N1} MiB in {p.SnapshotMs:N0} ms |");
    }
}
