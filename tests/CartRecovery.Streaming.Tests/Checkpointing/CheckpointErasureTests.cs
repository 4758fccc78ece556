using CartRecovery.Domain.Identity;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;
using CartRecovery.Streaming.Checkpointing;

namespace CartRecovery.Streaming.Tests.Checkpointing;

/// <summary>Erasure in a checkpoint matches the shopper by whole id, as decoded from the row: <c>s1</c> is not <c>s10</c>.</summary>
public sealed class CheckpointErasureTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 2, 10, 0, 0, TimeSpan.Zero);

    private static SessionState Session(string shopper) => new()
    {
        ShopperId = shopper, SessionId = $"sess-{shopper}", OriginChannel = "web", Currency = "EUR", TimeZone = "UTC", StartedAt = T0, LastActivityAt = T0,
    };

    private static PartitionCheckpoint Checkpoint(params string[] shoppers) => new()
    {
        Partition = 0, NextOffsets = new() { ["cart-events"] = 3 }, Watermark = Watermark.Start,
        Shoppers = [.. shoppers.Select(ShopperState.New)], Sessions = [.. shoppers.Select(Session)],
    };

    [Fact]
    public void A_shorter_id_inside_a_longer_one_is_not_the_shopper()
    {
        var checkpoint = PartitionCheckpoint.FromBytes(Checkpoint("s10", "s2").ToBytes());
        Assert.False(CheckpointErasure.Names(checkpoint, "s1"));
        Assert.True(CheckpointErasure.Names(checkpoint, "s10"));

        var forgotten = CheckpointErasure.Forget(PartitionCheckpoint.FromBytes(Checkpoint("s1", "s10").ToBytes()), "s1");
        Assert.False(CheckpointErasure.Names(forgotten, "s1"));
        Assert.Equal(["s10"], forgotten.Shoppers.Select(s => s.ShopperId));
        Assert.Equal(["s10"], forgotten.Sessions.Select(s => s.ShopperId));
    }

    [Fact]
    public void An_identity_link_or_a_delta_listing_the_shopper_names_them()
    {
        var linked = Checkpoint() with
        {
            Identity = IdentityLinks.Empty.Link("dev-1", new IdentityAlias("s1", "link-evt", T0, T0)),
        };
        Assert.True(CheckpointErasure.Names(linked, "s1"));
        Assert.True(CheckpointErasure.Names(linked, "dev-1"));
        Assert.False(CheckpointErasure.Names(linked, "s10"));
        Assert.False(CheckpointErasure.Names(CheckpointErasure.Forget(linked, "s1"), "dev-1"));

        var delta = Checkpoint() with { ChangedShoppers = ["s1"] };
        Assert.True(CheckpointErasure.Names(delta, "s1"));
        Assert.False(CheckpointErasure.Names(CheckpointErasure.Forget(delta, "s1"), "s1"));
    }
}
