using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Streaming.Ingest;

namespace CartRecovery.Streaming.Tests.Ingest;

public sealed class PartitionInputMergerSpecs
{
    private static readonly string[] Inputs = ["cart-events", "order-events", "consent-events"];
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void An_empty_topic_blocks_until_it_is_known_to_be_at_its_end()
    {
        var merger = new PartitionInputMerger(Inputs);
        merger.Add(Record("cart-events", 0, 5));
        var released = new List<InputRecord>();
        merger.Release(released);
        Assert.Empty(released);

        merger.MarkEnd("order-events");
        merger.MarkEnd("consent-events");
        merger.Release(released);
        Assert.Single(released);
    }

    [Fact]
    public void Release_order_is_by_event_time_then_topic_rank_whatever_the_arrival_order()
    {
        var records = new[]
        {
            Record("cart-events", 0, 10), Record("cart-events", 1, 30), Record("order-events", 0, 20), Record("order-events", 1, 30),
            Record("consent-events", 0, 5),
        };
        string Merge(IEnumerable<InputRecord> arrival)
        {
            var merger = new PartitionInputMerger(Inputs);
            var released = new List<InputRecord>();
            foreach (var record in arrival)
            {
                merger.Add(record);
                merger.Release(released);
            }
            foreach (var topic in Inputs) merger.MarkEnd(topic);
            merger.Release(released);
            return string.Join(",", released.Select(r => $"{r.Topic[0]}{r.Offset}"));
        }

        Assert.Equal("c0,c0,o0,c1,o1", Merge(records));
        Assert.Equal("c0,c0,o0,c1,o1", Merge(records.Reverse().OrderBy(r => r.Topic == "cart-events" ? 1 : 0).ThenBy(r => r.Offset)));
    }

    [Fact]
    public void A_new_record_after_the_end_makes_the_topic_block_again()
    {
        var merger = new PartitionInputMerger(Inputs);
        foreach (var topic in Inputs) merger.MarkEnd(topic);
        merger.Add(Record("order-events", 0, 1));
        merger.Add(Record("cart-events", 0, 2));
        var released = new List<InputRecord>();
        merger.Release(released);
        // order-events delivered a record after its end, so it may have more: cart-events waits for it.
        Assert.Equal(["order-events"], released.Select(r => r.Topic));
        merger.MarkEnd("order-events");
        merger.Release(released);
        Assert.Equal(["order-events", "cart-events"], released.Select(r => r.Topic));
    }

    [Fact]
    public void Rejected_records_never_wait()
    {
        var merger = new PartitionInputMerger(Inputs);
        var letter = new DeadLetter { DeadLetterId = "x", Topic = "cart-events", Partition = 0, Offset = 0, Reason = "not_json", ReceivedAt = T0 };
        merger.Add(new InputRecord("cart-events", 0, 0, null, letter));
        var released = new List<InputRecord>();
        merger.Release(released);
        Assert.Single(released);
    }

    /// <summary>Issue 21: a record one clock put years ahead, at the head of cart-events, is ordered at the partition's
    /// frontier: it holds back neither the cart events behind it nor puts the order events before them.</summary>
    [Fact]
    public void A_record_far_ahead_is_merged_at_the_frontier_and_holds_back_no_topic()
    {
        var merger = new PartitionInputMerger(Inputs);
        var records = new[]
        {
            Record("cart-events", 0, 0, "a"), Record("order-events", 0, 1, "b"), Record("cart-events", 1, 60 * 24 * 365 * 50, "device"),
            Record("cart-events", 2, 5, "a"), Record("order-events", 1, 10, "a"), Record("order-events", 2, 20, "b"),
        };
        var released = new List<InputRecord>();
        foreach (var record in records) merger.Add(record);
        foreach (var topic in Inputs) merger.MarkEnd(topic);
        merger.Release(released);

        // Two shoppers (a, b) set the frontier; without the bound the order events (10, 20 min) would pass the cart event
        // at 5 min held behind the device's: c0,o0,o1,o2,c1,c2.
        Assert.Equal("c0,o0,c1,c2,o1,o2", string.Join(",", released.Select(r => $"{r.Topic[0]}{r.Offset}")));
    }

    /// <summary>The main job's input: a month of consents (sparse, on consent-events), then the day's traffic on
    /// cart-events, far ahead of the consents. The cart topic itself goes on from its head, so it is no outlier: time
    /// order holds and every consent goes first (released the other way, the consents would then refute the traffic).</summary>
    [Fact]
    public void A_whole_topic_ahead_of_the_others_is_merged_by_time()
    {
        var merger = new PartitionInputMerger(Inputs);
        const int Day = 60 * 24;
        var records = new[]
        {
            Record("consent-events", 0, -30 * Day, "a"), Record("consent-events", 1, -30 * Day + 5, "b"), Record("cart-events", 0, 0, "c"),
            Record("cart-events", 1, 1, "d"), Record("consent-events", 2, -10 * Day, "e"), Record("consent-events", 3, -Day, "f"),
        };
        var released = new List<InputRecord>();
        foreach (var record in records) merger.Add(record);
        foreach (var topic in Inputs) merger.MarkEnd(topic);
        merger.Release(released);

        Assert.Equal("s0,s1,s2,s3,c0,c1", string.Join(",", released.Select(r => $"{(r.Topic == "consent-events" ? 's' : r.Topic[0])}{r.Offset}")));
    }

    /// <summary>Whether a head far ahead is an outlier is known only from the next record of its topic: until it is read
    /// (or the topic's end is known) the merge waits, so the order does not depend on fetch timing.</summary>
    [Fact]
    public void A_head_far_ahead_waits_for_the_next_record_of_its_topic()
    {
        var merger = new PartitionInputMerger(Inputs);
        var released = new List<InputRecord>();
        merger.Add(Record("cart-events", 0, 0, "a"));
        merger.Add(Record("order-events", 0, 1, "b"));
        merger.Add(Record("cart-events", 1, 60 * 24 * 365, "device"));
        merger.Add(Record("order-events", 1, 20, "b"));
        merger.MarkEnd("consent-events");
        merger.Release(released);
        Assert.Equal("c0,o0", string.Join(",", released.Select(r => $"{r.Topic[0]}{r.Offset}")));

        merger.Add(Record("cart-events", 2, 5, "a"));
        merger.Release(released);
        Assert.Equal("c0,o0,c1,c2", string.Join(",", released.Select(r => $"{r.Topic[0]}{r.Offset}")));
    }

    private static InputRecord Record(string topic, long offset, int minutes, string shopper = "s") =>
        new(topic, 0, offset, new ProductViewed
        {
            EventId = $"{topic}-{offset}", ShopperId = shopper, SessionId = "x", EventTime = T0.AddMinutes(minutes), Sku = "k",
        }, null);
}
