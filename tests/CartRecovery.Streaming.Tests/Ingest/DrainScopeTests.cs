using CartRecovery.Streaming.Ingest;
using Confluent.Kafka;

namespace CartRecovery.Streaming.Tests.Ingest;

public sealed class DrainScopeTests
{
    private static readonly TopicPartition Carts0 = new("cart-events", 0);
    private static readonly TopicPartition Orders0 = new("order-events", 0);
    private static readonly TopicPartition Carts1 = new("cart-events", 1);
    private static readonly TopicPartition EmptyConsent = new("consent-events", 1);

    private static readonly DrainScope Scope = new(new Dictionary<TopicPartition, long>
    {
        [Carts0] = 100, [Orders0] = 10, [Carts1] = 50, [EmptyConsent] = 0,
    });

    [Fact]
    public void The_group_is_done_only_when_every_partition_with_input_was_drained_to_its_end()
    {
        var all = new Dictionary<TopicPartition, long> { [Carts0] = 100, [Orders0] = 10, [Carts1] = 50 };
        Assert.True(Scope.IsDone(all));
        // Partition 1 was drained by an earlier drain, before the newest 20 records arrived: not done, and named.
        var earlier = new Dictionary<TopicPartition, long>(all) { [Carts1] = 30 };
        Assert.False(Scope.IsDone(earlier));
        Assert.Equal([Carts1], Scope.Unfinished(earlier));
        // Nobody has drained partition 1 yet (a live worker may have committed it to its end: that does not count).
        Assert.False(Scope.IsDone(new Dictionary<TopicPartition, long> { [Carts0] = 100, [Orders0] = 10 }));
    }

    [Fact]
    public void Drain_progress_records_round_trip_group_partition_and_offsets()
    {
        Assert.Equal(("group/with/slashes", 12), DrainProgress.ParseKey("group/with/slashes/12"));
        Assert.Equal([("cart-events", 100L), ("order-events", 7L)], DrainProgress.ParseValue("cart-events=100;order-events=7"));
        Assert.Empty(DrainProgress.ParseValue(""));
    }

    [Fact]
    public void Records_written_after_the_drain_began_belong_to_the_next_run()
    {
        Assert.False(Scope.IsBeyondEnd(Carts0, 99));
        Assert.True(Scope.IsBeyondEnd(Carts0, 100));
        Assert.True(Scope.IsBeyondEnd(EmptyConsent, 0));
    }
}
