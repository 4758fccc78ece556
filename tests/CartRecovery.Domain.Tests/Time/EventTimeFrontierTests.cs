using CartRecovery.Domain.Policy;
using CartRecovery.Domain.Time;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Time;

/// <summary>
/// The event-time frontier of a partition (issue 21, "one record moves time for everyone"): one shopper's clock far
/// ahead moves nobody else's time, whatever the skew; a real gap in traffic, which two shoppers agree on, still does.
/// </summary>
public class EventTimeFrontierTests
{
    private static readonly TimeSpan Bound = RecoveryPolicy.DefaultMaxFutureSkew;

    /// <summary>Observes (shopper, time) pairs in order; returns the frontier and each event's verdict.</summary>
    private static (EventTimeFrontier Frontier, List<FrontierVerdict> Verdicts) Run(EventTimeFrontier start, params (string Shopper, DateTimeOffset At)[] events)
    {
        var frontier = start;
        var verdicts = new List<FrontierVerdict>();
        foreach (var (shopper, at) in events)
        {
            (frontier, var verdict, _) = frontier.Observe(shopper, at, Bound);
            verdicts.Add(verdict);
        }
        return (frontier, verdicts);
    }

    private static EventTimeFrontier Anchored(DateTimeOffset at) => Run(EventTimeFrontier.Empty, ("a", at), ("b", at)).Frontier;

    public static TheoryData<TimeSpan> Skews => new()
    {
        Bound + Sec(1), Hours(3), Days(1), Days(240), Days(365 * 50),
    };

    [Theory]
    [MemberData(nameof(Skews))]
    public void One_shopper_far_ahead_moves_the_frontier_by_nothing_and_the_next_shopper_refutes_it(TimeSpan skew)
    {
        var (device, verdicts) = Run(Anchored(T0), ("device", T0 + skew), ("device", T0 + skew + Sec(30)));
        // The device's events stay one claim, however many it sends.
        Assert.Single(device.Claims);

        var (frontier, verdict, refuted) = device.Observe("c", T0 + Sec(10), Bound);

        Assert.Equal(T0 + Sec(10), frontier.Accepted);
        Assert.Equal([FrontierVerdict.Ahead, FrontierVerdict.Ahead, FrontierVerdict.Accepted], [.. verdicts, verdict]);
        // Refuted: reported once, with its first event and how many there were; it can confirm nothing any more.
        var claim = Assert.Single(refuted);
        Assert.Equal(("device", T0 + skew + Sec(30), 2, T0), (claim.ShopperId, claim.At, claim.Events, claim.AheadOf!.Value));
        Assert.Empty(frontier.Claims);
    }

    [Fact]
    public void Year_9999_is_ahead_and_overflows_nothing()
    {
        var end = new DateTimeOffset(9999, 12, 31, 23, 0, 0, TimeSpan.Zero);
        var (frontier, verdicts) = Run(Anchored(T0), ("device", end), ("device", DateTimeOffset.MaxValue));

        Assert.Equal(T0, frontier.Accepted);
        Assert.Equal([FrontierVerdict.Ahead, FrontierVerdict.Ahead], verdicts);
    }

    [Fact]
    public void Within_the_bound_one_shopper_moves_it_as_any_stream_time_would()
    {
        var (frontier, verdicts) = Run(Anchored(T0), ("a", T0 + Bound - Sec(1)), ("a", T0 + Bound + Min(1)), ("b", T0 + Min(5)));

        Assert.Equal(T0 + Bound + Min(1), frontier.Accepted);
        Assert.All(verdicts, v => Assert.Equal(FrontierVerdict.Accepted, v));
    }

    [Fact]
    public void A_real_gap_in_traffic_moves_it_once_a_second_shopper_confirms_the_new_time()
    {
        var morning = T0 + Hours(14);
        var (frontier, verdicts) = Run(Anchored(T0), ("a", morning), ("b", morning + Min(3)), ("c", morning + Min(4)));

        Assert.Equal([FrontierVerdict.Ahead, FrontierVerdict.Confirmed, FrontierVerdict.Accepted], verdicts);
        Assert.Equal(morning + Min(4), frontier.Accepted);
        Assert.Empty(frontier.Claims);
    }

    [Fact]
    public void Two_bad_clocks_that_disagree_confirm_neither()
    {
        var (frontier, verdicts) = Run(Anchored(T0), ("x", T0 + Days(1)), ("y", T0 + Days(240)), ("z", T0 + Days(365 * 50)));

        Assert.Equal(T0, frontier.Accepted);
        Assert.All(verdicts, v => Assert.Equal(FrontierVerdict.Ahead, v));
    }

    [Fact]
    public void The_first_events_of_a_partition_anchor_it_only_when_two_shoppers_agree()
    {
        // A device a year ahead comes first: it anchors nothing; the real shoppers do.
        var (frontier, verdicts) = Run(EventTimeFrontier.Empty, ("device", T0 + Days(365)), ("a", T0), ("b", T0 + Min(1)), ("device", T0 + Days(365) + Min(1)));

        Assert.Equal([FrontierVerdict.Unanchored, FrontierVerdict.Unanchored, FrontierVerdict.Confirmed, FrontierVerdict.Ahead], verdicts);
        Assert.Equal(T0 + Min(1), frontier.Accepted);
    }

    [Fact]
    public void Before_a_frontier_old_history_and_a_clock_far_ahead_are_both_unanchored()
    {
        // A consent given a month before the traffic, then the traffic: the traffic is not "ahead" of the consent.
        var (frontier, verdicts) = Run(EventTimeFrontier.Empty, ("consent", T0 - Days(30)), ("a", T0), ("b", T0 + Min(1)));

        Assert.Equal([FrontierVerdict.Unanchored, FrontierVerdict.Unanchored, FrontierVerdict.Confirmed], verdicts);
        Assert.Equal(T0 + Min(1), frontier.Accepted);
    }

    [Fact]
    public void A_single_shopper_partition_has_no_frontier_so_nothing_is_late()
    {
        var (frontier, verdicts) = Run(EventTimeFrontier.Empty, ("a", T0), ("a", T0 + Hours(5)), ("a", T0 + Days(3)));

        Assert.Null(frontier.Accepted);
        Assert.All(verdicts, v => Assert.Equal(FrontierVerdict.Unanchored, v));
    }

    [Fact]
    public void Claims_are_bounded_and_the_oldest_goes_first()
    {
        var frontier = Anchored(T0);
        for (var i = 0; i < EventTimeFrontier.MaxClaims + 3; i++)
            (frontier, _, _) = frontier.Observe($"device-{i}", T0 + Days(10 * (i + 1)), Bound);

        Assert.Equal(EventTimeFrontier.MaxClaims, frontier.Claims.Length);
        Assert.Equal(T0 + Days(40), frontier.Claims[0].At);
        Assert.Equal(T0, frontier.Accepted);
    }

    [Fact]
    public void The_same_input_gives_the_same_frontier()
    {
        (string, DateTimeOffset)[] input = [("a", T0), ("device", T0 + Days(30)), ("b", T0 + Min(3)), ("c", T0 + Hours(9)), ("d", T0 + Hours(9) + Min(2))];

        Assert.Equal(Run(EventTimeFrontier.Empty, input).Frontier.Claims.AsEnumerable(), Run(EventTimeFrontier.Empty, input).Frontier.Claims.AsEnumerable());
        Assert.Empty(Run(EventTimeFrontier.Empty, input).Frontier.Claims);
        Assert.Equal(T0 + Hours(9) + Min(2), Run(EventTimeFrontier.Empty, input).Frontier.Accepted);
    }

    [Fact]
    public void Exactly_the_bound_ahead_is_ahead_and_case_09_s_shopper_1_h_49_min_ahead_moves_time()
    {
        Assert.Equal(FrontierVerdict.Ahead, Anchored(T0).Observe("a", T0 + Bound, Bound).Verdict);
        Assert.Equal(FrontierVerdict.Accepted, Anchored(T0).Observe("a", T0 + Hours(1) + Min(49), Bound).Verdict);
        // Field case 09: one shopper's events up to 10:01, then another shopper at 11:50: the frontier is 11:50.
        var (frontier, _) = Run(EventTimeFrontier.Empty, ("9001", T0), ("9001", T0 + Min(1)), ("other", T0 + Hours(1) + Min(50)));
        Assert.Equal(T0 + Hours(1) + Min(50), frontier.Accepted);
        // A device exactly the bound ahead of a lone shopper (field case t3-02 at +2 h) does not anchor the partition at its
        // time; the shopper's next event, less than the bound behind it, anchors it at hers.
        var (alone, verdicts) = Run(EventTimeFrontier.Empty, ("0202", T0), ("device", T0 + Bound), ("0202", T0 + Min(20)));
        Assert.Equal([FrontierVerdict.Unanchored, FrontierVerdict.Unanchored, FrontierVerdict.Confirmed], verdicts);
        Assert.Equal(T0 + Min(20), alone.Accepted);
    }

    [Fact]
    public void Genuine_traffic_after_lulls_and_a_month_of_sparse_history_is_never_refuted()
    {
        // Consents a day apart (the generated history), then traffic with a 14 h lull: every claim is confirmed or
        // caught up with, none refuted.
        var events = new List<(string, DateTimeOffset)>();
        for (var d = 30; d > 0; d--) events.Add(($"consent-{d}", T0 - Days(d) + Min(d)));
        events.AddRange([("a", T0), ("b", T0 + Min(3)), ("c", T0 + Hours(14)), ("c", T0 + Hours(14) + Min(1)), ("d", T0 + Hours(14) + Min(5))]);

        var frontier = EventTimeFrontier.Empty;
        foreach (var (shopper, at) in events)
        {
            var step = frontier.Observe(shopper, at, Bound);
            Assert.Empty(step.Refuted);
            frontier = step.Frontier;
        }
        Assert.Equal(T0 + Hours(14) + Min(5), frontier.Accepted);
    }

    [Fact]
    public void A_refuted_clock_confirms_no_later_lull_so_every_other_event_sees_the_frontier_it_would_see_without_it()
    {
        // A random stream of shoppers with lulls of up to 10 h, with and without devices a day to 50 years ahead inserted
        // at random places: the frontier after each genuine event is the same.
        var random = new Random(7);
        var at = T0;
        var genuine = new List<(string Shopper, DateTimeOffset At)>();
        for (var i = 0; i < 2_000; i++)
        {
            at += random.NextDouble() < 0.02 ? Hours(2 + random.Next(8)) : Sec(random.Next(600));
            genuine.Add(($"shopper-{random.Next(40)}", at - Sec(random.Next(60))));
        }
        TimeSpan[] skews = [Days(1), Days(30), Days(240), Days(365 * 50)];
        var withDevices = new List<(string Shopper, DateTimeOffset At)>();
        for (var i = 0; i < genuine.Count; i++)
        {
            if (i > 0 && random.NextDouble() < 0.05)
                withDevices.Add(($"device-{i}", genuine[i - 1].At + skews[random.Next(skews.Length)]));
            withDevices.Add(genuine[i]);
        }

        static List<DateTimeOffset?> Frontiers(IEnumerable<(string Shopper, DateTimeOffset At)> input)
        {
            var frontier = EventTimeFrontier.Empty;
            var seen = new List<DateTimeOffset?>();
            foreach (var (shopper, at) in input)
            {
                frontier = frontier.Observe(shopper, at, Bound).Frontier;
                if (!shopper.StartsWith("device-", StringComparison.Ordinal)) seen.Add(frontier.Accepted);
            }
            return seen;
        }

        Assert.True(withDevices.Count > genuine.Count + 50);
        Assert.Equal(Frontiers(genuine), Frontiers(withDevices));
    }

    [Fact]
    public void An_erasure_forgets_the_shopper_s_claim()
    {
        var frontier = Run(Anchored(T0), ("device", T0 + Days(1))).Frontier;
        Assert.True(frontier.Names("device"));

        Assert.False(frontier.Forget("device").Names("device"));
        Assert.Empty(frontier.Forget("device").Claims);
    }

    [Fact]
    public void A_checkpoint_without_a_frontier_resumes_from_its_watermark()
    {
        Assert.Equal(T0, EventTimeFrontier.Resume(Watermark.Start.Observe(T0, Min(2))).Accepted);
        Assert.Null(EventTimeFrontier.Resume(Watermark.Start).Accepted);
        Assert.Null(EventTimeFrontier.Resume(Watermark.EndOfTime).Accepted);
    }

    [Fact]
    public void The_policy_bound_is_read_and_may_not_be_inside_the_allowed_lateness()
    {
        var text = PolicyFile.DefaultText();
        Assert.Equal(Hours(2), PolicyFile.Parse(text).MaxFutureSkew);
        Assert.Equal(Min(30), PolicyFile.Parse(text.Replace("\"max_future_skew\": \"2h\"", "\"max_future_skew\": \"30m\"")).MaxFutureSkew);
        var error = Assert.Throws<PolicyValidationException>(() => PolicyFile.Parse(text.Replace("\"max_future_skew\": \"2h\"", "\"max_future_skew\": \"1m\"")));
        Assert.Contains("max_future_skew", error.Message);
    }
}
