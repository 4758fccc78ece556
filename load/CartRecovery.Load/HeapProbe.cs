using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;
using CartRecovery.Domain.Identity;
using CartRecovery.Streaming.Actors;
using CartRecovery.Streaming.Checkpointing;

namespace CartRecovery.Load;

public sealed record HeapRun(int Sessions, long HeapBytes, long HeapAfter)
{
    /// <summary>Bytes the stores hold encoded: the waiting sessions' and the quiet shoppers' (part of <see cref="HeapBytes"/>).</summary>
    public long EncodedSessionBytes { get; init; }
    public long EncodedShopperBytes { get; init; }
    /// <summary>A full checkpoint of the partition holding them: the first (the shoppers still as objects: encoded) and
    /// the next (every state held encoded: copied), size and time; and reading it back (restore).</summary>
    public long SnapshotBytes { get; init; }
    public double FirstSnapshotMs { get; init; }
    public double SnapshotMs { get; init; }
    public double SnapshotDecodeMs { get; init; }
    /// <summary>The same snapshot in the JSON format of releases before session 10.</summary>
    public long JsonSnapshotBytes { get; init; }
    public double JsonSnapshotMs { get; init; }
    public double JsonSnapshotDecodeMs { get; init; }

    /// <summary>What the partition holds per waiting session: the session store (encoded state, key, indexes, timers)
    /// and the shopper store (the shopper's policy state).</summary>
    public double BytesPerSession => (double)HeapBytes / Sessions;
}

/// <summary>
/// Managed heap per waiting session, measured on the partition's own stores (<see cref="SessionStore"/>,
/// <see cref="ShopperStore"/>): N shoppers each get a realistic abandoned cart by running the real
/// <see cref="RecoveryEngine"/> on events that went through the real <see cref="EventParser"/> (so the strings are
/// per-event copies, as in the worker), then fire the inactivity deadline, leaving the session Abandoned and waiting
/// for reminder step 1. The session is passivated into the store as the partition actor does (a waiting session holds
/// no actor), the shopper goes into the shopper store, and one full checkpoint is taken (as every 5 s in the worker),
/// which leaves the quiet shoppers encoded. Bytes = GC.GetTotalMemory(true) after minus before, everything kept alive,
/// less the buffer the snapshot was written into (kept per thread for the next snapshot, at most 64 MiB).
/// </summary>
public static class HeapProbe
{
    private static readonly DateTimeOffset At0 = new(2026, 11, 2, 10, 0, 0, TimeSpan.Zero);

    public static HeapRun Run(int n)
    {
        var engine = new RecoveryEngine(PolicyFile.LoadDefault());
        var random = new Random(7);

        var before = Settle() - PartitionCheckpoint.KeptBufferBytes;
        var partition = new HeldPartition(engine);
        for (var i = 0; i < n; i++)
        {
            var (shopper, session) = WaitingSession(engine, i, random);
            partition.Hold(shopper, session);
        }
        var clock = System.Diagnostics.Stopwatch.StartNew();
        partition.FullSnapshot();
        var firstMs = clock.Elapsed.TotalMilliseconds;
        // The snapshot's buffer, kept for the next one on this thread (up to 64 MiB), is per partition thread, not per session.
        var after = Settle() - PartitionCheckpoint.KeptBufferBytes;
        var heap = GC.GetGCMemoryInfo().HeapSizeBytes;

        clock.Restart();
        var bytes = partition.FullSnapshot();
        var ms = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        var read = PartitionCheckpoint.FromBytes(bytes);
        var decodeMs = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        var json = PartitionCheckpoint.ToJsonBytes(read);
        var jsonMs = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        PartitionCheckpoint.FromBytes(json);
        var jsonDecodeMs = clock.Elapsed.TotalMilliseconds;
        GC.KeepAlive(partition);
        return new HeapRun(n, after - before, heap)
        {
            EncodedSessionBytes = partition.Sessions.EncodedBytes, EncodedShopperBytes = partition.Shoppers.EncodedBytes,
            SnapshotBytes = bytes.LongLength, FirstSnapshotMs = firstMs, SnapshotMs = ms, SnapshotDecodeMs = decodeMs,
            JsonSnapshotBytes = json.LongLength, JsonSnapshotMs = jsonMs, JsonSnapshotDecodeMs = jsonDecodeMs,
        };
    }

    /// <summary>Shopper <paramref name="i"/> with one abandoned cart waiting for its first reminder.</summary>
    internal static (ShopperState Shopper, SessionState Session) WaitingSession(RecoveryEngine engine, int i, Random random)
    {
        var watermark = Watermark.Start;
        var shopperId = $"cust-7-{i:D7}";
        var sessionId = $"sess-7-{i:D7}-0";
        var at = At0 + TimeSpan.FromSeconds(i % 3600);
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
        return (fired.Shopper, waiting);
    }

    private static T Parse<T>(ShopperEvent evt) where T : ShopperEvent =>
        (T)(EventParser.Parse(ContractJson.SerializeEvent(evt)).Event ?? throw new InvalidOperationException("generated event rejected"));

    internal static long Settle()
    {
        // The large object heap too (a snapshot's buffers are large objects): an earlier point's free space is not counted.
        System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}

/// <summary>A partition's state as <see cref="CartRecovery.Streaming.Actors.PartitionActor"/> holds it, without the
/// actor: its session store, shopper store and change tracking, checkpointed by the actor's own capture
/// (<see cref="CheckpointCapture"/>) and codec.</summary>
internal sealed class HeldPartition(RecoveryEngine engine, ShopperEntries entries)
{
    private static readonly IReadOnlyDictionary<SessionKey, SessionState> NoLiveSessions = new Dictionary<SessionKey, SessionState>();

    /// <summary>The two stores share one entry per shopper, as in the partition actor.</summary>
    public HeldPartition(RecoveryEngine engine) : this(engine, new ShopperEntries())
    {
    }

    public SessionStore Sessions { get; } = new(engine, entries);
    public ShopperStore Shoppers { get; } = new(entries);
    public CheckpointChanges Changes { get; } = new();

    /// <summary>A waiting session passivated into the store, and its shopper (as after the abandonment's decision).</summary>
    public void Hold(ShopperState shopper, SessionState session)
    {
        Sessions.Track(new SessionKey(session.ShopperId, session.SessionId), session);
        Shoppers[shopper.ShopperId] = shopper;
    }

    public byte[] FullSnapshot() => Capture(null);

    public byte[] Delta() => Capture([.. Changes.Changed.Order(StringComparer.Ordinal)]);

    private byte[] Capture(List<string>? changed)
    {
        var bytes = CheckpointCapture.Take(0, new Dictionary<string, long> { ["cart-events"] = 0 }, Watermark.Start, null, IdentityLinks.Empty,
            Shoppers, Sessions, NoLiveSessions, changed).ToBytes();
        Changes.Saving(Changes.Generation);
        if (changed is null) Changes.SnapshotSaved(bytes.Length);
        else Changes.DeltaSaved(bytes.Length);
        return bytes;
    }
}
