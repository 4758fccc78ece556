using System.Diagnostics;
using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Decisions;
using CartRecovery.Host.Commands;
using CartRecovery.Traffic;
using Confluent.Kafka;
using HdrHistogram;

namespace CartRecovery.Load;

public sealed record LatencyRun(
    HistogramBase TimerLagMicros, HistogramBase ChatLagMicros, HistogramBase PromoChatLagMicros,
    int TimerTriggers, int TimerUnmatched, int ChatTriggers, int ChatUnmatched, int Negative,
    long Published, TimeSpan PublishWall, double Pace, IReadOnlyList<SinkFlush> Flushes)
{
    public double InputEventsPerSecond => Published / Math.Max(PublishWall.TotalSeconds, 1e-6);
}

/// <summary>
/// The latency phase: the same generator, published paced so that event time runs <c>pace</c> times faster than
/// the wall clock (event times shifted a day into the future, so the worker's live-mode idle watermark, which
/// follows the wall clock, never overtakes them), while the worker runs live (not drain) on a second embedded
/// broker and a plain consumer reads the recovery-triggers topic.
///
/// For every input record the harness keeps the wall time at which the broker acknowledged it (delivery report),
/// per partition. The watermark of partition p passes instant T at the first acknowledged record of p (any input
/// topic) whose event time, or the maximum of the event times acknowledged before it, is past T: eager
/// watermark (event time) for proactive assist, settled watermark (event time − allowed lateness) for reminders.
///   timer lag = trigger's Kafka CreateTime (the worker's Produce call) − ack time of the record that moved the
///               settled watermark past the reminder's deadline (trigger.event_time + allowed lateness);
///   chat latency = trigger's CreateTime − ack time of the event that crossed the threshold: the payment_failed
///               event itself for repeated payment failures, the promo_code_rejected event for a refused code (also
///               reported on its own), the first record past last-activity + checkout_idle for checkout idle.
/// Triggers whose deadline only passes at end of input (no record of the partition is past it) are not counted.
/// </summary>
public static class PacedLatency
{
    private sealed class Partition
    {
        public readonly List<long> AckMs = [];
        public readonly List<long> MaxEventTicks = [];
    }

    public static async Task<LatencyRun> RunAsync(BenchOptions options, string dataDirectory, TextWriter log)
    {
        using var broker = EmbeddedBroker.Start(options.Partitions);
        var start = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(1), TimeSpan.Zero);
        var events = StorefrontSimulator.Generate(new SimulationSettings
        {
            Shoppers = options.PacedShoppers, Seed = options.Seed, Duration = options.PacedDuration, Start = start,
        });
        var policy = WorkerRunner.LoadPolicy(null);
        var lateness = policy.AllowedLateness;

        var partitions = Enumerable.Range(0, options.Partitions).Select(_ => new Partition()).ToArray();
        var shopperPartition = new Dictionary<string, int>(StringComparer.Ordinal);
        // The ack of each event that decides a chat on its own arrival (a payment failure, a refused promo code).
        var decidingEventAck = new Dictionary<(string, long), long>();
        var gate = new object();

        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig
        {
            BootstrapServers = broker.BootstrapServers, EnableIdempotence = true, Acks = Acks.All, LingerMs = 5, CompressionType = CompressionType.Lz4,
        }).Build();

        void Publish(GeneratedEvent generated)
        {
            var evt = generated.Event;
            var ticks = evt.EventTime.UtcTicks;
            var decides = evt is PaymentFailed or PromoCodeRejected ? ((SessionEvent)evt).SessionId : null;
            producer.Produce(generated.Topic, new Message<string, byte[]>
            {
                Key = evt.ShopperId, Value = ContractJson.SerializeEvent(evt), Timestamp = new Timestamp(evt.EventTime),
            }, report =>
            {
                if (report.Error.IsError) throw new KafkaException(report.Error);
                var ack = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                lock (gate)
                {
                    var p = partitions[report.Partition.Value];
                    var max = p.MaxEventTicks.Count > 0 ? Math.Max(p.MaxEventTicks[^1], ticks) : ticks;
                    p.AckMs.Add(ack);
                    p.MaxEventTicks.Add(max);
                    shopperPartition[evt.ShopperId] = report.Partition.Value;
                    if (decides is not null) decidingEventAck[(decides, ticks)] = ack;
                }
            });
        }

        // Triggers as the dispatchers would see them, with the worker's produce time (CreateTime).
        var triggers = new List<(long CreateMs, RecoveryTrigger Trigger)>();
        var lastTriggerAt = Stopwatch.StartNew();
        using var stopObserver = new CancellationTokenSource();
        var observer = Task.Factory.StartNew(() =>
        {
            using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
            {
                BootstrapServers = broker.BootstrapServers, GroupId = "bench-trigger-observer", EnableAutoCommit = false, FetchWaitMaxMs = 5, IsolationLevel = IsolationLevel.ReadCommitted,
            }).Build();
            consumer.Assign(Enumerable.Range(0, options.Partitions).Select(p => new TopicPartitionOffset(Topics.RecoveryTriggers, p, Offset.Beginning)));
            while (!stopObserver.IsCancellationRequested)
            {
                var r = consumer.Consume(TimeSpan.FromMilliseconds(50));
                if (r is null || r.IsPartitionEOF) continue;
                lock (triggers) triggers.Add((r.Message.Timestamp.UnixTimestampMs, ContractJson.DeserializeTrigger(r.Message.Value)));
                lastTriggerAt.Restart();
            }
            consumer.Close();
        }, TaskCreationOptions.LongRunning);

        using var sink = new SinkObserver();
        using var stopWorker = new CancellationTokenSource();
        var worker = WorkerRunner.RunAsync(options.Worker(broker.BootstrapServers, drain: false, "bench-paced-" + Guid.NewGuid().ToString("N"), dataDirectory),
            null, dataDirectory, stopWorker.Token);

        // Consents are back-dated (given days before the first session): they go out at once, and the pacing starts
        // once the worker has written them (so start-up is not counted as latency).
        var sessionEvents = events.Where(e => e.Event is not ConsentEvent || e.Event.EventTime >= start).ToList();
        if (sessionEvents.Count > 0)
        {
            var end = sessionEvents[0].Event.EventTime + options.PacedWindow;
            sessionEvents = sessionEvents.Where(e => e.Event.EventTime <= end).ToList();
        }
        var early = events.Where(e => e.Event is ConsentEvent && e.Event.EventTime < start).ToList();
        foreach (var e in early) Publish(e);
        producer.Flush(TimeSpan.FromSeconds(30));
        var waitStart = Stopwatch.StartNew();
        while (sink.EventsWritten < early.Count && waitStart.Elapsed < TimeSpan.FromSeconds(60) && !worker.IsCompleted) await Task.Delay(20);
        log.WriteLine($"latency phase: worker up after {waitStart.Elapsed.TotalSeconds:F1} s; publishing {sessionEvents.Count:N0} events at {options.Pace:G}x real time");

        var t0 = sessionEvents.Count > 0 ? sessionEvents[0].Event.EventTime : start;
        var emitClock = t0;
        var publishClock = Stopwatch.StartNew();
        foreach (var generated in sessionEvents)
        {
            // Emit order is the generator's (event time + transport delay): follow the running maximum event time.
            if (generated.Event.EventTime > emitClock) emitClock = generated.Event.EventTime;
            var due = TimeSpan.FromTicks((long)((emitClock - t0).Ticks / options.Pace));
            var wait = due - publishClock.Elapsed;
            if (wait > TimeSpan.FromMilliseconds(2)) Thread.Sleep(wait);
            else while (publishClock.Elapsed < due) Thread.SpinWait(50);
            Publish(generated);
        }
        producer.Flush(TimeSpan.FromSeconds(60));
        var publishWall = publishClock.Elapsed;

        // Let the worker finish what the input made due: stop once no trigger came for 3 s.
        lastTriggerAt.Restart();
        while (lastTriggerAt.Elapsed < TimeSpan.FromSeconds(3) && !worker.IsCompleted) await Task.Delay(100);
        await stopWorker.CancelAsync();
        try { await worker; }
        catch (OperationCanceledException) { }
        await stopObserver.CancelAsync();
        await observer;

        var timer = new LongHistogram(TimeSpan.FromHours(1).Ticks / 10, 3);
        var chat = new LongHistogram(TimeSpan.FromHours(1).Ticks / 10, 3);
        var promoChat = new LongHistogram(TimeSpan.FromHours(1).Ticks / 10, 3);
        int timerCount = 0, timerUnmatched = 0, chatCount = 0, chatUnmatched = 0, negative = 0;

        long? CrossedAt(int partition, DateTimeOffset instant)
        {
            var p = partitions[partition];
            var ticks = instant.UtcTicks;
            int lo = 0, hi = p.MaxEventTicks.Count;
            while (lo < hi)
            {
                var mid = (lo + hi) / 2;
                if (p.MaxEventTicks[mid] > ticks) hi = mid; else lo = mid + 1;
            }
            return lo < p.AckMs.Count ? p.AckMs[lo] : null;
        }

        void Record(HistogramBase histogram, long createMs, long crossedMs)
        {
            var lagMs = createMs - crossedMs;
            if (lagMs < 0) { negative++; lagMs = 0; }
            histogram.RecordValue(lagMs * 1000);
        }

        foreach (var (createMs, trigger) in triggers)
        {
            if (!shopperPartition.TryGetValue(trigger.ShopperId, out var partition)) continue;
            if (trigger.Kind == TriggerKinds.Reminder)
            {
                timerCount++;
                if (CrossedAt(partition, trigger.EventTime + lateness) is { } crossed) Record(timer, createMs, crossed);
                else timerUnmatched++;
            }
            else if (trigger.Kind == TriggerKinds.ProactiveChat)
            {
                chatCount++;
                long? crossed = trigger.Reason is DecisionReason.RepeatedPaymentFailures or DecisionReason.PromoCodeRejected
                    ? decidingEventAck.TryGetValue((trigger.SessionId, trigger.EventTime.UtcTicks), out var ack) ? ack : null
                    : CrossedAt(partition, trigger.EventTime);
                if (crossed is { } c)
                {
                    Record(chat, createMs, c);
                    if (trigger.Reason == DecisionReason.PromoCodeRejected) Record(promoChat, createMs, c);
                }
                else chatUnmatched++;
            }
        }
        return new LatencyRun(timer, chat, promoChat, timerCount, timerUnmatched, chatCount, chatUnmatched, negative, sessionEvents.Count, publishWall,
            options.Pace, sink.Flushes);
    }
}
