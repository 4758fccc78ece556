using CartRecovery.Domain.Time;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Time;

public class WatermarkTests
{
    private static readonly TimeSpan Lateness = Min(2);

    [Fact]
    public void Observe_tracks_the_max_event_time_and_settles_the_allowed_lateness_behind_it()
    {
        var w = Watermark.Start.Observe(T0, Lateness);
        Assert.Equal(new Watermark(T0, T0 - Lateness), w);

        var later = w.Observe(T0 + Min(5), Lateness);
        Assert.Equal(new Watermark(T0 + Min(5), T0 + Min(3)), later);

        // an older event never moves it back
        Assert.Equal(later, later.Observe(T0 + Min(1), Lateness));
    }

    [Fact]
    public void An_event_is_late_only_strictly_before_the_settled_watermark()
    {
        var w = Watermark.Start.Observe(T0 + Min(10), Lateness);
        Assert.False(w.IsLate(T0 + Min(8)));
        Assert.True(w.IsLate(T0 + Min(8) - Sec(1)));
        Assert.False(Watermark.Start.IsLate(T0));
    }

    [Fact]
    public void A_deadline_passes_only_strictly_after_it_settled_or_eagerly()
    {
        var w = Watermark.Start.Observe(T0 + Min(10), Lateness);
        Assert.False(w.HasPassed(T0 + Min(8), eager: false));
        Assert.True(w.HasPassed(T0 + Min(8) - Sec(1), eager: false));
        Assert.False(w.HasPassed(T0 + Min(10), eager: true));
        Assert.True(w.HasPassed(T0 + Min(10) - Sec(1), eager: true));
    }

    [Fact]
    public void End_of_time_passes_every_deadline()
    {
        Assert.True(Watermark.EndOfTime.IsEndOfTime);
        Assert.True(Watermark.EndOfTime.HasPassed(new DateTimeOffset(9000, 1, 1, 0, 0, 0, TimeSpan.Zero), eager: false));
        Assert.False(Watermark.Start.IsEndOfTime);
    }
}
