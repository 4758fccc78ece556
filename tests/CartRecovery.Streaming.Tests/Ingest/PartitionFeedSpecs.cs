using System.Text;
using System.Text.Json;
using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Compliance;
using CartRecovery.Streaming.Ingest;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using static CartRecovery.Streaming.Actors.PartitionProtocol;

namespace CartRecovery.Streaming.Tests.Ingest;

/// <summary>One assigned input partition as the consume loop drives it (issue 22: "the partition feeds tested without a
/// broker"): consumed records and ends go in, merged and numbered batches come out.</summary>
public sealed class PartitionFeedSpecs : IDisposable
{
    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    // Fixed dates: the feed reads time only from its clock, which the tests set.
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 10, 0, 0, TimeSpan.Zero);
    private const int Partition = 3;

    private readonly ManualClock _clock = new(T0);
    private readonly WorkerMetrics _metrics = new();

    public void Dispose() => _metrics.Dispose();

    private PartitionFeed Feed(bool drain = false, int maxBatchRecords = 2_000, long lastSequence = 0)
    {
        var settings = new WorkerSettings
        {
            BootstrapServers = "unused:9092", Checkpoints = Streaming.Checkpointing.CheckpointStoreSettings.Sqlite("/tmp/unused.db"), Drain = drain, MaxBatchRecords = maxBatchRecords, IdleWatermarkAfter = TimeSpan.FromSeconds(5),
        };
        var feed = new PartitionFeed(Partition, settings, _clock, ComplianceKeys.Development, _metrics, NullLogger.Instance, lastSequence);
        feed.NoteAssigned();
        foreach (var topic in Topics.Inputs) feed.Resume(topic, 0);
        return feed;
    }

    private static string Viewed(string shopper, DateTimeOffset at, string id) =>
        $$"""{"type":"product_viewed","event_id":"{{id}}","shopper_id":"{{shopper}}","event_time":"{{at:yyyy-MM-ddTHH:mm:ss.fffZ}}","session_id":"v1","sku":"A","unit_price":12.5,"category":"home"}""";

    private static string Ordered(string shopper, DateTimeOffset at, string id) =>
        $$"""{"type":"payment_authorized","event_id":"{{id}}","shopper_id":"{{shopper}}","event_time":"{{at:yyyy-MM-ddTHH:mm:ss.fffZ}}","session_id":"v1","order_id":"o1","amount":25}""";

    private static ConsumeResult<byte[], byte[]> Record(string topic, long offset, string json, string key = "s1", Headers? headers = null) => Record(topic, offset, Encoding.UTF8.GetBytes(json), key, headers);

    private static ConsumeResult<byte[], byte[]> Record(string topic, long offset, byte[] value, string key = "s1", Headers? headers = null) => new()
    {
        TopicPartitionOffset = new TopicPartitionOffset(topic, Partition, offset),
        Message = new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes(key), Value = value, Headers = headers ?? [], Timestamp = new Timestamp(T0) },
    };

    private static void EndAll(PartitionFeed feed, IEnumerable<string>? topics = null)
    {
        foreach (var topic in topics ?? Topics.Inputs) feed.ReachedEnd(topic, 1_000);
    }

    private static List<ProcessBatch> Batches(PartitionFeed feed)
    {
        var batches = new List<ProcessBatch>();
        while (feed.NextBatch() is { } batch) batches.Add(batch);
        return batches;
    }

    private static string Describe(InputRecord r) => $"{r.Topic}@{r.Offset}:{r.Event?.EventId ?? r.Rejected?.Reason ?? "skip"}";

    [Fact]
    public void The_topics_records_come_out_in_one_order_by_event_time_once_every_topic_is_known_to_be_at_its_end()
    {
        var feed = Feed();
        Assert.Equal(PartitionFeed.Outcome.Accepted, feed.Accept(Record(Topics.CartEvents, 0, Viewed("s1", T0.AddMinutes(2), "c0"))));
        feed.Accept(Record(Topics.CartEvents, 1, Viewed("s1", T0.AddMinutes(3), "c1")));
        feed.Accept(Record(Topics.OrderEvents, 0, Ordered("s1", T0.AddMinutes(1), "o0")));
        Assert.True(feed.Changed);
        // consent-events and outcome-events may still deliver earlier records.
        Assert.Empty(Batches(feed));
        Assert.Equal(3, feed.Buffered);

        EndAll(feed, [Topics.ConsentEvents, Topics.OutcomeEvents]);
        // cart-events and order-events are not at their end: each head waits until the other topic's next record or end
        // is known, so only what is certain comes out.
        Assert.Equal(["order-events@0:o0"], Batches(feed).SelectMany(b => b.Records).Select(Describe));
        EndAll(feed, [Topics.CartEvents, Topics.OrderEvents]);
        var batch = Assert.Single(Batches(feed));
        Assert.Equal(["cart-events@0:c0", "cart-events@1:c1"], batch.Records.Select(Describe));
        Assert.Equal(2, batch.Sequence);
        Assert.Equal(Partition, batch.Partition);
        Assert.True(feed.IsConsumed);
        Assert.True(feed.SinceCheckpoint);
    }

    [Fact]
    public void A_record_below_the_offset_its_topic_must_deliver_next_is_a_stale_copy_and_is_dropped()
    {
        var feed = Feed(drain: true);
        feed.Resume(Topics.CartEvents, 5); // restored from a checkpoint that holds offsets 0-4
        Assert.Equal(PartitionFeed.Outcome.Stale, feed.Accept(Record(Topics.CartEvents, 3, Viewed("s1", T0, "old"))));
        Assert.Equal(PartitionFeed.Outcome.Accepted, feed.Accept(Record(Topics.CartEvents, 5, Viewed("s1", T0, "new"))));
        // The same record delivered again (a fetch from before a seek): already merged.
        Assert.Equal(PartitionFeed.Outcome.Stale, feed.Accept(Record(Topics.CartEvents, 5, Viewed("s1", T0, "new"))));
        EndAll(feed);
        Assert.Equal(["cart-events@5:new"], Batches(feed).SelectMany(b => b.Records).Select(Describe));
    }

    [Fact]
    public void A_record_beyond_the_drain_end_ends_its_topic_for_the_run_and_is_not_merged()
    {
        var feed = Feed(drain: true);
        feed.Accept(Record(Topics.CartEvents, 0, Viewed("s1", T0, "c0")));
        Assert.Equal(PartitionFeed.Outcome.EndedHere, feed.Accept(Record(Topics.CartEvents, 1, Viewed("s1", T0, "late")), beyondDrainEnd: true));
        EndAll(feed, [Topics.OrderEvents, Topics.ConsentEvents, Topics.OutcomeEvents]);
        Assert.Equal(["cart-events@0:c0"], Batches(feed).SelectMany(b => b.Records).Select(Describe));
        Assert.True(feed.IsConsumed);
        // Nothing more is read there in this run, whatever its high watermark says.
        Assert.True(feed.EndsHold(tp => tp.Topic == Topics.CartEvents ? 1_000_000 : 1_000));
    }

    [Fact]
    public void A_topic_whose_high_watermark_moved_past_its_reported_end_is_no_longer_consumed()
    {
        var feed = Feed(drain: true);
        EndAll(feed);
        Assert.True(feed.IsConsumed);
        Assert.True(feed.EndsHold(_ => 1_000));
        Assert.False(feed.EndsHold(tp => tp.Topic == Topics.CartEvents ? 1_001 : 1_000));
        Assert.False(feed.IsConsumed);
        Assert.Equal([new TopicPartition(Topics.CartEvents, Partition)], feed.NotAtEnd);
    }

    [Fact]
    public void Batches_hold_at_most_MaxBatchRecords_and_every_command_of_the_partition_is_numbered_in_order()
    {
        var feed = Feed(drain: true, maxBatchRecords: 2);
        for (var i = 0; i < 5; i++) feed.Accept(Record(Topics.CartEvents, i, Viewed("s1", T0.AddSeconds(i), $"c{i}")));
        EndAll(feed);
        var batches = Batches(feed);
        Assert.Equal([2, 2, 1], batches.Select(b => b.Records.Count));
        Assert.Equal([1L, 2, 3], batches.Select(b => b.Sequence));
        Assert.Equal(["c0", "c1", "c2", "c3", "c4"], batches.SelectMany(b => b.Records).Select(r => r.Event!.EventId));
        Assert.Equal(4, feed.DueCheckpoint()!.Sequence);
        Assert.Null(feed.DueCheckpoint()); // nothing handed since
        Assert.Equal(5, feed.DrainCommand().Sequence);
        Assert.Equal(6, feed.CheckpointCommand().Sequence);
    }

    [Fact]
    public void An_invalid_record_is_merged_as_its_dead_letter_and_counted()
    {
        var feed = Feed(drain: true);
        feed.Accept(Record(Topics.CartEvents, 0, "{not json"));
        feed.Accept(Record(Topics.CartEvents, 1, Viewed("s1", T0, "c1"), key: "someone-else"));
        feed.Accept(Record(Topics.CartEvents, 2, Viewed("s1", T0, "c2")));
        EndAll(feed);
        var records = Batches(feed).SelectMany(b => b.Records).ToList();
        Assert.Equal(["cart-events@0:" + RejectReasons.NotJson, "cart-events@1:" + RejectReasons.KeyMismatch, "cart-events@2:c2"], records.Select(Describe));
        Assert.Equal(Partition, records[0].Rejected!.Partition);
        Assert.Equal(1, _metrics.DeadLettersByReason[RejectReasons.NotJson]);
        Assert.Equal(1, _metrics.DeadLettersByReason[RejectReasons.KeyMismatch]);
    }

    private static (List<ConsumeResult<byte[], byte[]>> Parts, byte[] Whole) SplitHandOver(long firstOffset, bool signed = true)
    {
        var handOver = new IdentityMerged
        {
            EventId = "h1", ShopperId = "s1", EventTime = T0, AnonymousId = "anon", CustomerId = "s1", LinkEventId = "link",
            State = JsonSerializer.SerializeToElement(new { lines = Enumerable.Range(0, 20_000).Select(i => $"sku-{i:D6}").ToArray() }),
        };
        var whole = ContractJson.SerializeEvent(handOver);
        Assert.True(SplitRecords.MustSplit(whole.Length));
        var mac = InternalRecords.Sign(ComplianceKeys.Development, Topics.CartEvents, "s1", whole);
        var parts = SplitRecords.Split(whole).Select((p, i) =>
        {
            var headers = new Headers { { SplitRecords.PartHeader, p.PartHeaderValue }, { SplitRecords.PartOfHeader, p.PartOfHeaderValue } };
            if (signed) headers.Add(InternalRecords.MacHeader, mac);
            return Record(Topics.CartEvents, firstOffset + i, p.Part, headers: headers);
        }).ToList();
        return (parts, whole);
    }

    [Fact]
    public void A_split_hand_over_is_merged_once_whole_at_its_first_offset_with_its_later_parts_as_progress()
    {
        var feed = Feed(drain: true);
        var (parts, _) = SplitHandOver(firstOffset: 10);
        Assert.True(parts.Count > 2);
        foreach (var part in parts) feed.Accept(part);
        feed.Accept(Record(Topics.CartEvents, 10 + parts.Count, Viewed("s1", T0.AddMinutes(1), "after")));
        EndAll(feed);

        var records = Batches(feed).SelectMany(b => b.Records).ToList();
        var merged = Assert.IsType<IdentityMerged>(records[0].Event);
        Assert.Equal(20_000, merged.State.GetProperty("lines").GetArrayLength());
        Assert.Equal(10, records[0].Offset);
        // Each later part is progress only (its offset is consumed, it decides nothing); then the record that followed.
        Assert.Equal(Enumerable.Range(11, parts.Count - 1).Select(o => (long)o), records.Skip(1).SkipLast(1).Select(r => r.Offset));
        Assert.All(records.Skip(1).SkipLast(1), r => Assert.True(r.Event is null && r.Rejected is null));
        Assert.Equal("after", records[^1].Event!.EventId);
    }

    [Fact]
    public void An_unfinished_split_record_holds_back_its_topic_and_an_unsigned_one_is_refused_once_joined()
    {
        var feed = Feed(drain: true);
        var (parts, _) = SplitHandOver(firstOffset: 0, signed: false);
        feed.Accept(parts[0]);
        feed.Accept(parts[1]);
        EndAll(feed);
        Assert.True(feed.IsJoining);
        Assert.False(feed.IsConsumed);
        Assert.Empty(Batches(feed));

        foreach (var part in parts.Skip(2)) feed.Accept(part);
        var refused = Batches(feed).SelectMany(b => b.Records).First();
        Assert.Equal(RejectReasons.UnauthenticatedInternalRecord, refused.Rejected!.Reason);
        Assert.IsType<IdentityMerged>(refused.Refused);
        Assert.False(feed.IsJoining);
    }

    [Fact]
    public void Reading_a_backlog_a_topic_at_its_end_holds_back_the_merge_until_it_stayed_there_for_the_idle_interval()
    {
        var feed = Feed();
        // Events two hours behind the clock: a backlog (an upstream outage flushing), where the producer may still write.
        feed.Accept(Record(Topics.CartEvents, 0, Viewed("s1", T0.AddHours(-2), "c0")));
        EndAll(feed);
        Assert.Empty(Batches(feed));

        _clock.Now = T0.AddSeconds(4);
        feed.ConfirmEnds(_clock.Now);
        Assert.Empty(Batches(feed));
        _clock.Now = T0.AddSeconds(5);
        feed.ConfirmEnds(_clock.Now);
        Assert.Equal(["cart-events@0:c0"], Batches(feed).SelectMany(b => b.Records).Select(Describe));

        // New input on order-events: cart-events, confirmed at its end, may soon deliver earlier records again.
        _clock.Now = T0.AddSeconds(6);
        feed.Accept(Record(Topics.OrderEvents, 0, Ordered("s1", T0.AddHours(-2).AddMinutes(1), "o0")));
        feed.ReachedEnd(Topics.OrderEvents, 1);
        _clock.Now = T0.AddSeconds(10);
        feed.ConfirmEnds(_clock.Now);
        Assert.Empty(Batches(feed)); // cart-events reopened and order-events at its end since 6 s: not 5 s yet
        _clock.Now = T0.AddSeconds(11);
        feed.ConfirmEnds(_clock.Now);
        Assert.Equal(["order-events@0:o0"], Batches(feed).SelectMany(b => b.Records).Select(Describe));
    }

    [Fact]
    public void A_caught_up_partition_without_input_is_idle_after_the_idle_interval_and_advances_once_per_target()
    {
        var feed = Feed();
        EndAll(feed);
        Assert.False(feed.IsIdle(T0.AddSeconds(4)));
        Assert.True(feed.IsIdle(T0.AddSeconds(5)));

        var advance = feed.AdvanceIdleTo(T0.AddMinutes(1), TimeSpan.Zero)!;
        Assert.Equal((Partition, 1L, T0.AddMinutes(1)), (advance.Partition, advance.Sequence, advance.To));
        Assert.Null(feed.AdvanceIdleTo(T0.AddMinutes(1), TimeSpan.Zero));
        Assert.Null(feed.AdvanceIdleTo(T0.AddMinutes(1.5), TimeSpan.FromMinutes(1))); // within the step
        Assert.Equal(2, feed.AdvanceIdleTo(T0.AddMinutes(3), TimeSpan.FromMinutes(1))!.Sequence);
        Assert.True(feed.SinceCheckpoint);

        // A record read restarts the interval; one the merge holds back keeps the partition busy.
        _clock.Now = T0.AddSeconds(20);
        feed.Accept(Record(Topics.CartEvents, 0, Viewed("s1", T0.AddSeconds(20), "c0")));
        Assert.False(feed.IsIdle(T0.AddSeconds(24)));
        feed.ReachedEnd(Topics.CartEvents, 1);
        Assert.False(feed.IsIdle(T0.AddSeconds(25)));
        Assert.Single(Batches(feed));
        Assert.False(feed.IsIdle(T0.AddSeconds(24)));
        Assert.True(feed.IsIdle(T0.AddSeconds(25)));
    }

    [Fact]
    public void A_revoked_topic_is_forgotten_and_a_partition_assigned_again_starts_empty_with_its_numbers_continued()
    {
        var feed = Feed(drain: true);
        feed.Resume(Topics.CartEvents, 5);
        var (parts, _) = SplitHandOver(firstOffset: 5);
        feed.Accept(parts[0]);
        feed.Accept(Record(Topics.OrderEvents, 0, Ordered("s1", T0, "o0")));
        Assert.True(feed.IsJoining);

        Assert.True(feed.Revoke(Topics.CartEvents)); // order-events is still assigned
        Assert.False(feed.IsJoining); // the unfinished split record went with its topic
        Assert.False(feed.IsAssigned(Topics.CartEvents));
        Assert.Equal(PartitionFeed.Outcome.Accepted, feed.Accept(Record(Topics.CartEvents, 0, Viewed("s1", T0, "c0")))); // no resume offset left
        EndAll(feed);
        Assert.Equal(1, Batches(feed).Single().Sequence);

        foreach (var topic in Topics.Inputs.Where(t => t != Topics.CartEvents)) Assert.Equal(topic != Topics.OutcomeEvents, feed.Revoke(topic));
        Assert.False(feed.HasAssignedTopics);

        var again = Feed(drain: true, lastSequence: feed.LastSequence);
        Assert.Equal(0, again.Buffered);
        again.Accept(Record(Topics.OrderEvents, 0, Ordered("s1", T0, "o0")));
        EndAll(again);
        var batch = again.NextBatch()!;
        Assert.Equal(["order-events@0:o0"], batch.Records.Select(Describe));
        Assert.Equal(2, batch.Sequence);
    }

    [Fact]
    public void Lag_counts_from_the_last_committed_checkpoint_and_is_unknown_while_a_high_watermark_is()
    {
        var feed = Feed();
        feed.Checkpointed(Topics.CartEvents, 40);
        WatermarkOffsets Marks(TopicPartition tp) => tp.Topic == Topics.CartEvents ? new(0, 100) : new(0, 10);
        Assert.Equal(60 + 3 * 10, feed.Lag(Marks));
        Assert.Null(feed.Lag(tp => tp.Topic == Topics.OutcomeEvents ? new(Offset.Unset, Offset.Unset) : Marks(tp)));
    }

    /// <summary>Records are parsed in bulk, in parallel, at a dispatch; merged in read order, they give exactly the batches
    /// that parsing each record as it was read gives (determinism and exactly-once rest on it). Live, the input is a
    /// backlog two hours behind the clock: ends are confirmed after the idle interval and reopened by new input.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Parsing_in_bulk_merges_exactly_like_parsing_each_record_as_it_is_read(bool drain)
    {
        var random = new Random(7);
        var offsets = Topics.Inputs.ToDictionary(t => t, _ => 0L);
        var steps = new List<(ConsumeResult<byte[], byte[]>? Record, string? End)>();
        var start = drain ? T0 : T0.AddHours(-2);
        for (var i = 0; i < 3_000; i++)
        {
            var topic = random.Next(4) switch { 0 or 1 => Topics.CartEvents, 2 => Topics.OrderEvents, _ => Topics.ConsentEvents };
            if (random.Next(40) == 0)
            {
                steps.Add((null, topic));
                continue;
            }
            var at = start.AddSeconds(i + random.Next(-120, 120));
            var shopper = $"s{random.Next(50)}";
            var json = random.Next(25) == 0 ? "{broken" : topic == Topics.OrderEvents ? Ordered(shopper, at, $"e{i}")
                : topic == Topics.CartEvents ? Viewed(shopper, at, $"e{i}")
                : $$"""{"type":"unsubscribed","event_id":"e{{i}}","shopper_id":"{{shopper}}","event_time":"{{at:yyyy-MM-ddTHH:mm:ss.fffZ}}","purpose":"cart_recovery","channel":"email","source":"checkout_form","wording_version":"v3"}""";
            steps.Add((Record(topic, offsets[topic]++, json, shopper), null));
        }

        List<string> Run(bool settleEachRecord)
        {
            _clock.Now = T0;
            var feed = Feed(drain, maxBatchRecords: 500);
            var released = new List<string>();
            for (var i = 0; i < steps.Count; i++)
            {
                var (record, end) = steps[i];
                _clock.Now = T0.AddMilliseconds(100 * i); // the time each record is read at counts (a backlog's ends)
                if (end is not null) feed.ReachedEnd(end, offsets[end]);
                else
                {
                    feed.Accept(record!);
                    if (settleEachRecord) feed.Settle();
                }
                if (i % 97 != 0) continue; // dispatch now and then, as the loop does
                feed.ConfirmEnds(_clock.Now);
                released.AddRange(Batches(feed).SelectMany(b => b.Records.Select(Describe).Prepend($"#{b.Sequence}")));
            }
            EndAll(feed);
            _clock.Now = _clock.Now.AddMinutes(1);
            feed.ConfirmEnds(_clock.Now);
            released.AddRange(Batches(feed).SelectMany(b => b.Records.Select(Describe).Prepend($"#{b.Sequence}")));
            return released;
        }

        var asRead = Run(settleEachRecord: true);
        Assert.True(asRead.Count(r => !r.StartsWith('#')) > 2_900);
        Assert.Equal(asRead, Run(settleEachRecord: false));
    }
}
