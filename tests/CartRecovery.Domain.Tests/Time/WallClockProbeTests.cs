using System.Globalization;

namespace CartRecovery.Domain.Tests.Time;

/// <summary>
/// The clock the tests run on. scripts/test-clock-ahead.sh runs the suites a year ahead (libfaketime) and sets
/// CARTRECOVERY_CLOCK_AHEAD_SINCE to the real time it started at: then the wall clock must be about a year past it, or
/// the run proved nothing. In a normal run the wall clock is near the time this test assembly was built.
/// </summary>
public sealed class WallClockProbeTests
{
    [Fact]
    public void The_wall_clock_is_the_one_the_run_asked_for()
    {
        var since = Environment.GetEnvironmentVariable("CARTRECOVERY_CLOCK_AHEAD_SINCE");
        if (since is not null)
        {
            var realStart = DateTimeOffset.FromUnixTimeSeconds(long.Parse(since, CultureInfo.InvariantCulture));
            Assert.InRange(DateTimeOffset.UtcNow - realStart, TimeSpan.FromDays(364), TimeSpan.FromDays(367));
        }
        else
        {
            var built = File.GetLastWriteTimeUtc(typeof(WallClockProbeTests).Assembly.Location);
            Assert.InRange(DateTime.UtcNow - built, TimeSpan.FromMinutes(-5), TimeSpan.FromDays(300));
        }
    }
}
