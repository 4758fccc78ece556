using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;
using CartRecovery.Streaming.Checkpointing;

namespace CartRecovery.Streaming.Tests.Checkpointing;

/// <summary>What the engine needs across a restart survives the checkpoint's JSON: the ids of events already applied
/// (redeliveries), orders and pending payments (suppression), open recovery cases and codes with their expiry.</summary>
public sealed class CheckpointSerializationTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 2, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void The_shopper_state_the_engine_adds_round_trips()
    {
        var shopper = ShopperState.New("cust-1") with
        {
            SeenEvents = [new SeenEvent(DeterministicId.Hash64("e-1"), T0.UtcDateTime), new SeenEvent(DeterministicId.Hash64("e-2"), T0.AddMinutes(1).UtcDateTime)],
            Orders = [new ShopperOrder(T0.AddMinutes(50), "order-evt", "s-phone")],
            PendingPayments = [new PendingPayment(T0.AddMinutes(40), "pending-evt", null), new PendingPayment(T0.AddMinutes(41), "pending-2", "s-laptop")],
            OpenCases = [new OpenCase("s-laptop", T0.AddMinutes(31), ["lens-13", "strap-13"], "add-evt")],
            OpenIncentives = [new OpenIncentive("CR-ABC", "trigger-1", "s-laptop", T0.AddDays(3), T0.AddDays(10))],
        };
        var checkpoint = new PartitionCheckpoint
        {
            Partition = 0, NextOffsets = new() { ["cart-events"] = 7 }, Watermark = Watermark.Start, Shoppers = [shopper], Sessions = [],
        };

        var restored = PartitionCheckpoint.FromBytes(checkpoint.ToBytes()).Shoppers.Single();

        Assert.Equal(shopper.SeenEvents.ToArray(), restored.SeenEvents.ToArray());
        Assert.Equal(shopper.Orders, restored.Orders);
        Assert.Equal(shopper.PendingPayments, restored.PendingPayments);
        Assert.Equal(shopper.OpenIncentives, restored.OpenIncentives);
        var openCase = Assert.Single(restored.OpenCases);
        Assert.Equal(("s-laptop", T0.AddMinutes(31), "add-evt"), (openCase.SessionId, openCase.AbandonedAt, openCase.AbandonEventId));
        Assert.Equal(["lens-13", "strap-13"], openCase.Skus.ToArray());
        Assert.Equal(checkpoint.ToBytes(), (checkpoint with { Shoppers = [restored] }).ToBytes());
    }
}
