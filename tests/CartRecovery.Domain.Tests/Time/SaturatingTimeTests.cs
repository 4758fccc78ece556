using CartRecovery.Contracts.Events;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Tests.Support;
using CartRecovery.Domain.Time;
using Xunit;

namespace CartRecovery.Domain.Tests.Time;

/// <summary>Event-time arithmetic at the ends of <see cref="DateTimeOffset"/> (issue 21): entry bounds event times to a
/// window, and the domain's own deadlines and watermark still stop at the ends instead of throwing.</summary>
public class SaturatingTimeTests
{
    private static readonly DateTimeOffset StartOfTime = new(1, 1, 1, 0, 1, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset EndOfTime = new(9999, 12, 31, 23, 59, 0, TimeSpan.Zero);

    [Fact]
    public void Plus_and_minus_stop_at_the_ends()
    {
        Assert.Equal(DateTimeOffset.MaxValue, EndOfTime.Plus(TimeSpan.FromHours(1)));
        Assert.Equal(DateTimeOffset.MinValue, StartOfTime.Minus(TimeSpan.FromHours(1)));
        Assert.Equal(DateTimeOffset.MaxValue, StartOfTime.Plus(TimeSpan.MaxValue));
        Assert.Equal(DateTimeOffset.MinValue, EndOfTime.Minus(TimeSpan.MaxValue));
        Assert.Equal(DateTimeOffset.MaxValue, EndOfTime.Minus(TimeSpan.MinValue));
        var t = new DateTimeOffset(2026, 11, 2, 10, 0, 0, TimeSpan.FromHours(1));
        Assert.Equal(t.AddMinutes(90), t.Plus(TimeSpan.FromMinutes(90)));
        Assert.Equal(t.AddMinutes(-90), t.Minus(TimeSpan.FromMinutes(90)));
        Assert.Equal(t.Offset, t.Plus(TimeSpan.FromMinutes(90)).Offset);
    }

    [Fact]
    public void A_partitions_first_event_at_the_start_of_time_does_not_underflow_the_watermark()
    {
        var watermark = Watermark.Start.Observe(StartOfTime, TimeSpan.FromMinutes(2));

        Assert.Equal(new Watermark(StartOfTime, DateTimeOffset.MinValue), watermark);
        Assert.False(watermark.IsLate(StartOfTime));
    }

    [Fact]
    public void A_cart_at_the_end_of_time_has_deadlines_at_the_end_instead_of_an_overflow()
    {
        var engine = new RecoveryEngine(Policies.ThreeSteps(perCart: 2));
        var shopper = ShopperState.New("s1");
        var started = engine.Apply(shopper, null, new SessionStarted { EventId = "e1", ShopperId = "s1", SessionId = "v1", EventTime = EndOfTime }, Watermark.Start);
        var added = engine.Apply(started.Shopper, started.Session, new CartLineAdded
        {
            EventId = "e2", ShopperId = "s1", SessionId = "v1", EventTime = EndOfTime.AddSeconds(30),
            Line = new CartLine { Sku = "A", Name = "Mug", UnitPrice = 10m, Quantity = 1 },
        }, Watermark.Start);

        var deadlines = engine.Deadlines(added.Session!);

        Assert.Contains(deadlines, d => d.Kind == DeadlineKind.Inactivity && d.At == DateTimeOffset.MaxValue);
    }
}
