using CartRecovery.Contracts.Events;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.Scoring;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Tests.Support;
using FsCheck.Xunit;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Scoring;

public class RiskModelTests
{
    private static readonly RiskWeights Weights = Policies.Default.Risk;
    private static readonly TimeSpan Timeout = Min(30);

    private static SessionState Session(decimal cartValue = 80m, int quantity = 1, FunnelStep step = FunnelStep.Cart,
        int paymentFailures = 0, bool returning = false, string channel = "web")
    {
        var session = new SessionState
        {
            ShopperId = "cust-1", SessionId = "s1", OriginChannel = channel, Currency = "EUR", TimeZone = "UTC",
            StartedAt = T0, LastActivityAt = T0, FurthestStep = step, PaymentFailures = paymentFailures, ReturningShopper = returning,
        };
        return cartValue <= 0 || quantity <= 0 ? session : session with
        {
            Lines = session.Lines.Add("sku-1", new CartLine { Sku = "sku-1", UnitPrice = cartValue / quantity, Quantity = quantity }),
        };
    }

    [Fact]
    public void A_typical_fresh_cart_scores_exactly_as_the_default_weights_say()
    {
        var score = RiskModel.Score(Session(), T0, Timeout, Weights);

        // logit = -2 + funnel_step 0.6 + cart_value 0.6*ln(2) + item_count 0.3*ln(2) = -0.7762
        Assert.Equal(0.3151, score.Value);
        Assert.Equal(["funnel_step:+0.60", "cart_value:+0.42", "item_count:+0.21"], score.Top().ToArray());
        Assert.Equal(8, score.Factors.Length);
    }

    [Fact]
    public void Factors_are_formatted_name_signed_two_decimals()
    {
        Assert.Equal("idle:+0.42", new RiskFactor("idle", 0.4159).ToString());
        Assert.Equal("returning_shopper:-0.50", new RiskFactor("returning_shopper", -0.5).ToString());
        Assert.Equal("origin_channel:+0.00", new RiskFactor("origin_channel", 0.0001).ToString());

        var returning = RiskModel.Score(Session(returning: true, channel: "app"), T0, Timeout, Weights);
        Assert.Equal(["funnel_step:+0.60", "returning_shopper:-0.50", "cart_value:+0.42"], returning.Top().ToArray());
        Assert.All(returning.Top(7), f => Assert.Matches(@"^[a-z_]+:[+-]\d+\.\d\d$", f));
    }

    [Property(MaxTest = 300)]
    public bool The_score_is_always_between_0_and_1(byte failures, ushort idleMinutes, uint cents, byte quantity, byte step, bool returning)
    {
        var session = Session((decimal)cents / 100m, quantity % 20, (FunnelStep)(step % 4), failures, returning,
            new[] { "web", "app", "instagram", "tiktok", "email", "unknown" }[step % 6]);
        var score = RiskModel.Score(session, T0 + Min(idleMinutes), Timeout, Weights);
        return score.Value is >= 0 and <= 1;
    }

    [Property(MaxTest = 200)]
    public bool More_payment_failures_never_lower_the_score(byte failures, ushort idleMinutes, uint cents)
    {
        var at = T0 + Min(idleMinutes % 200);
        double ScoreWith(int f) => RiskModel.Score(Session((decimal)(cents % 100_000) / 100m, 1, FunnelStep.Payment, f), at, Timeout, Weights).Value;
        return ScoreWith(failures + 1) >= ScoreWith(failures);
    }

    [Property(MaxTest = 200)]
    public bool More_idle_time_never_lowers_the_score(ushort idleMinutes, byte more, byte failures)
    {
        var session = Session(80m, 1, FunnelStep.Checkout, failures % 4);
        double ScoreAt(int minutes) => RiskModel.Score(session, T0 + Min(minutes), Timeout, Weights).Value;
        return ScoreAt(idleMinutes + more) >= ScoreAt(idleMinutes);
    }

    [Fact]
    public void Payment_failures_and_idle_time_raise_the_score_strictly_until_their_caps()
    {
        var scores = Enumerable.Range(0, 5).Select(f => RiskModel.Score(Session(paymentFailures: f), T0, Timeout, Weights).Value).ToList();
        Assert.True(scores[0] < scores[1] && scores[1] < scores[2] && scores[2] < scores[3], string.Join(", ", scores));
        Assert.Equal(scores[3], scores[4]); // capped at 3 failures

        var idle = new[] { 0, 10, 30, 60, 90, 120 }.Select(m => RiskModel.Score(Session(), T0 + Min(m), Timeout, Weights).Value).ToList();
        Assert.True(idle[0] < idle[1] && idle[1] < idle[2] && idle[2] < idle[3] && idle[3] < idle[4], string.Join(", ", idle));
        Assert.Equal(idle[4], idle[5]); // capped at 3x the inactivity timeout
    }

    [Fact]
    public void Weights_come_from_the_policy_file()
    {
        var heavier = Policies.Edited(root => root["risk"]!["weights"]!["idle"] = 3.0).Risk;
        Assert.Equal(3.0, heavier.Idle);

        var session = Session();
        var at = T0 + Min(15); // half the timeout
        var byDefault = RiskModel.Score(session, at, Timeout, Weights);
        var byEdited = RiskModel.Score(session, at, Timeout, heavier);

        Assert.Equal("idle:+0.75", byDefault.Factors.Single(f => f.Name == "idle").ToString());
        Assert.Equal("idle:+1.50", byEdited.Factors.Single(f => f.Name == "idle").ToString());
        Assert.True(byEdited.Value > byDefault.Value);

        var noFailures = Policies.Edited(root => root["risk"]!["weights"]!["payment_failures"] = 0).Risk;
        Assert.Equal(RiskModel.Score(Session(paymentFailures: 0), at, Timeout, noFailures).Value,
            RiskModel.Score(Session(paymentFailures: 3), at, Timeout, noFailures).Value);

        var biased = Policies.Edited(root => root["risk"]!["bias"] = 0.0).Risk;
        Assert.True(RiskModel.Score(session, at, Timeout, biased).Value > byDefault.Value);

        var typical = Policies.Edited(root => root["risk"]!["typical_cart_value"] = 40).Risk;
        Assert.Equal("cart_value:+0.66", RiskModel.Score(session, at, Timeout, typical).Factors.Single(f => f.Name == "cart_value").ToString());
    }

    [Fact]
    public void The_engine_scores_with_the_policy_weights()
    {
        var shopper = new ShopperScript("cust-1", T0);
        shopper.Grant("push", T0 - Days(1));
        var s1 = shopper.Session("s1");
        s1.Start();
        s1.Add("shoes-0001", 40m);

        var byDefault = Scenario.Play(shopper.Events).Reminders[0];
        var policy = Policies.Edited(root => root["risk"]!["weights"]!["idle"] = 0.5) with { HoldoutShare = 0 };
        var byEdited = Scenario.Play(shopper.Events, policy).Reminders[0];

        // The reminder shows the score that decided, taken when the cart was left: idle is then one inactivity timeout.
        Assert.Equal("idle:+1.50", byDefault.TopFactors[0]);
        Assert.Equal("funnel_step:+0.60", byEdited.TopFactors[0]);
        Assert.Contains("idle:+0.50", byEdited.TopFactors);
        Assert.True(byEdited.Score < byDefault.Score);
        Assert.True(byEdited.SendTimeScore < byDefault.SendTimeScore);
    }
}
