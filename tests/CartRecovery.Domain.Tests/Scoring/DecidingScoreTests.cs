using System.Text.Json.Nodes;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Scoring;

/// <summary>The score that decides is the score shown (issue 23): a reminder and its audit row carry the score taken when
/// the cart was left, which a step's min_score compares; an explicit exit scores as the abandonment signal it is.</summary>
public class DecidingScoreTests
{
    /// <summary>The issue's two carts: a 99.80 EUR cart left by an explicit exit at checkout, a 9 EUR cart left silently.</summary>
    private static (ShopperScript Exited, ShopperScript Silent) IssueCarts()
    {
        var exited = new ShopperScript("cust-exit", T0).GrantAll();
        var e1 = exited.Session("s-exit");
        e1.Start();
        e1.Add("coat-99", 99.80m);
        e1.Checkout();
        e1.Exit();
        var silent = new ShopperScript("cust-silent", T0).GrantAll();
        var s1 = silent.Session("s-silent");
        s1.Start();
        s1.Add("socks-09", 9m);
        return (exited, silent);
    }

    private static AuditRecord Abandoned(Scenario scenario) => Assert.Single(scenario.AuditsOf(AuditDecisions.Abandoned));

    [Fact]
    public void An_explicit_exit_of_a_checkout_cart_scores_above_a_silent_timeout_of_a_small_cart()
    {
        var (exited, silent) = IssueCarts();

        var exitScore = Abandoned(Scenario.Play(exited.Events));
        var silentScore = Abandoned(Scenario.Play(silent.Events));

        // Before: 0.424 (the idle term is 0 at an exit; the issue's cart 0.454) against 0.59. Now the exit weighs what the timeout would have.
        Assert.Equal(0.59, silentScore.Score, 2);
        Assert.True(exitScore.Score > silentScore.Score, $"exit {exitScore.Score} <= silent {silentScore.Score}");
        Assert.Equal(0.7674, exitScore.Score);
        Assert.Equal("explicit_exit:+1.50", exitScore.TopFactors[0]);
        Assert.DoesNotContain(silentScore.TopFactors, f => f.StartsWith("explicit_exit"));
    }

    [Fact]
    public void The_exit_weight_is_the_policy_s()
    {
        var (exited, _) = IssueCarts();
        var policy = Policies.Edited(root => root["risk"]!["weights"]!["explicit_exit"] = 0.0) with { HoldoutShare = 0 };

        // Weight 0: scored as before, the idle term 0 at the exit.
        Assert.Equal(0.4241, Abandoned(Scenario.Play(exited.Events, policy)).Score);
    }

    [Fact]
    public void A_reminder_and_its_audit_row_carry_the_score_that_decided_it_and_the_send_time_score_apart()
    {
        var (exited, _) = IssueCarts();
        // Step 2 sends only to carts scored at least 0.5 when left: the exited checkout cart (before: suppressed).
        var policy = Policies.Edited(root => root["defaults"]!["steps"]![1]!["min_score"] = 0.5) with { HoldoutShare = 0 };

        var scenario = Scenario.Play(exited.Events, policy);

        var abandoned = Abandoned(scenario);
        Assert.Equal([1, 2], scenario.Reminders.Select(r => r.Step));
        Assert.Empty(scenario.AuditsOf(AuditDecisions.Suppressed, SuppressionReason.ScoreBelowThreshold));
        foreach (var reminder in scenario.Reminders)
        {
            Assert.Equal(abandoned.Score, reminder.Score);
            Assert.Equal(abandoned.TopFactors, reminder.TopFactors);
            Assert.True(reminder.SendTimeScore > reminder.Score, $"send-time {reminder.SendTimeScore} vs deciding {reminder.Score}");
            var triggered = Assert.Single(scenario.AuditsOf(AuditDecisions.Triggered), a => a.Step == reminder.Step);
            Assert.Equal(reminder.Score, triggered.Score);
            Assert.EndsWith($"send_time_score={reminder.SendTimeScore:0.####}", triggered.Detail);
        }
    }

    [Fact]
    public void A_step_suppressed_below_its_min_score_shows_the_score_it_compared()
    {
        var (_, silent) = IssueCarts();
        var policy = Policies.Edited(root => root["defaults"]!["steps"]![1]!["min_score"] = 0.6) with { HoldoutShare = 0 };

        var scenario = Scenario.Play(silent.Events, policy);

        var suppressed = Assert.Single(scenario.AuditsOf(AuditDecisions.Suppressed, SuppressionReason.ScoreBelowThreshold));
        Assert.Equal(Abandoned(scenario).Score, suppressed.Score);
        Assert.Equal($"score_at_abandonment={suppressed.Score:0.###} min_score=0.6", suppressed.Detail);
    }
}
