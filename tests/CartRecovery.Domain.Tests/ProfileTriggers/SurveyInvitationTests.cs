using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.ProfileTriggers;

/// <summary>Survey invitations: a recovery case that ends without an order gets one invitation the policy's delay later,
/// under consent of its own purpose, the per-shopper cap, quiet hours and opt-outs, fired by the shopper's own timer; the
/// answer naming its trigger id is linked to the case.</summary>
public sealed class SurveyInvitationTests
{
    private const string Kind = TriggerKinds.SurveyInvitation;
    private const string Feedback = SurveyInvitationPolicy.FeedbackPurpose;

    /// <summary>The default policy with survey invitations on (24 h after the case, email then push) and no holdouts.</summary>
    private static RecoveryPolicy SurveysOn(Action<System.Text.Json.Nodes.JsonNode>? more = null) => Policies.WithoutHoldouts(Policies.Edited(root =>
    {
        root["survey_invitation"]!["enabled"] = true;
        more?.Invoke(root);
    }));

    /// <summary>A shopper who granted cart-recovery email (and, unless told otherwise, feedback email) and left a 60 EUR cart
    /// at T0: step 1 and step 2 go out by email, and the case ends when step 2 is decided.</summary>
    private static (ShopperScript Shopper, SessionScript Session) Abandoner(bool feedbackConsent = true)
    {
        var shopper = new ShopperScript("cust-s", T0);
        shopper.Grant("email", T0 - Days(3));
        if (feedbackConsent) shopper.Grant("email", T0 - Days(3), Feedback);
        var s1 = shopper.Session("s1");
        s1.Start();
        s1.Add("lamp-1", 60m);
        return (shopper, s1);
    }

    private static RecoveryTrigger CaseEnd(Scenario scenario) => scenario.Reminders.Single(r => r.Step == 2);

    [Fact]
    public void A_case_that_ends_without_an_order_gets_one_invitation_the_delay_later_with_its_own_trigger_id()
    {
        var (shopper, _) = Abandoner();

        var scenario = Scenario.Play(shopper.Events, SurveysOn());

        var ended = CaseEnd(scenario).EventTime;
        var invitation = Assert.Single(scenario.OfKind(Kind));
        Assert.Equal(("s1", "email", Feedback, DecisionReason.CaseEnded), (invitation.SessionId, invitation.Channel, invitation.Purpose, invitation.Reason));
        Assert.Equal(ended + Hours(24), invitation.EventTime);
        Assert.Equal(ended + Hours(24), invitation.DueTime);
        Assert.DoesNotContain(invitation.TriggerId, scenario.Reminders.Select(r => r.TriggerId));
        // The message carries the id the answer sends back, and the links.
        Assert.Contains($"ref={invitation.TriggerId}", invitation.MessageBody);
        Assert.NotEmpty(invitation.UnsubscribeUrl);
        Assert.Contains(invitation.UnsubscribeUrl, invitation.MessageBody);
        var audit = Assert.Single(scenario.AuditsOfKind(Kind));
        Assert.Equal((AuditDecisions.Triggered, DecisionReason.CaseEnded, "s1", "email"), (audit.Decision, audit.Reason, audit.SessionId, audit.Channel));
        Assert.StartsWith($"trigger_id={invitation.TriggerId} ", audit.Detail);
        Assert.Contains("case_session=s1", audit.Detail);
        // Counted like every message, and remembered with the case's session.
        Assert.Contains(scenario.Shopper("cust-s").Sent, s => s.TriggerId == invitation.TriggerId && s.SessionId == "s1");
        Assert.Empty(scenario.Shopper("cust-s").PendingSurveys);
    }

    [Fact]
    public void The_invitation_fires_on_the_watermark_in_live_mode_as_in_a_drain_and_the_same_input_gives_the_same_rows()
    {
        var (shopper, _) = Abandoner();
        var drained = Scenario.Play(shopper.Events, SurveysOn());
        var due = Assert.Single(drained.OfKind(Kind)).EventTime;

        // Live: other shoppers' traffic moves the watermark; nothing before the due time, the invitation once it is passed.
        var live = Scenario.Play(shopper.Events, SurveysOn(), drain: false);
        live.Feed(new ShopperScript("cust-other", due - Hours(1)).Session("o1").Start());
        Assert.Empty(live.OfKind(Kind));
        live.Feed(new ShopperScript("cust-other-2", due + Policies.Default.AllowedLateness + Sec(1)).Session("o2").Start());
        var fired = Assert.Single(live.OfKind(Kind));

        var expected = Assert.Single(drained.OfKind(Kind));
        Assert.Equal((expected.TriggerId, expected.EventTime, expected.Channel, expected.MessageBody), (fired.TriggerId, fired.EventTime, fired.Channel, fired.MessageBody));
        var (drainedAudit, liveAudit) = (Assert.Single(drained.AuditsOfKind(Kind)), Assert.Single(live.AuditsOfKind(Kind)));
        Assert.Equal((drainedAudit.AuditId, drainedAudit.Detail), (liveAudit.AuditId, liveAudit.Detail));
    }

    [Fact]
    public void An_order_before_the_invitation_suppresses_it_and_an_order_within_the_case_invites_nobody()
    {
        // Ordered (another session) after the case ended, before the invitation: suppressed order_placed, the order as evidence.
        var (shopper, _) = Abandoner();
        var probe = Scenario.Play(shopper.Events, SurveysOn());
        var ended = CaseEnd(probe).EventTime;
        shopper.At(ended + Hours(2));
        var s2 = shopper.Session("s2");
        s2.Start();
        s2.Add("lamp-1", 60m);
        var order = s2.Order();

        var scenario = Scenario.Play(shopper.Events, SurveysOn());

        Assert.Empty(scenario.OfKind(Kind));
        var audit = Assert.Single(scenario.AuditsOfKind(Kind));
        Assert.Equal((AuditDecisions.Suppressed, SuppressionReason.OrderPlaced), (audit.Decision, audit.Reason));
        Assert.Equal([order.EventId], audit.Evidence);

        // Ordered while the case ran: the case ends with the order, no invitation is pending or decided.
        var (buyer, s1) = Abandoner();
        buyer.At(T0 + Hours(3));
        s1.Order();
        var bought = Scenario.Play(buyer.Events, SurveysOn());
        Assert.Empty(bought.OfKind(Kind));
        Assert.Empty(bought.AuditsOfKind(Kind));
    }

    [Fact]
    public void A_shopper_with_only_cart_recovery_consent_gets_no_invitation_and_an_audited_no_consent()
    {
        var (shopper, _) = Abandoner(feedbackConsent: false);

        var scenario = Scenario.Play(shopper.Events, SurveysOn());

        Assert.Equal(2, scenario.Reminders.Count);   // the reminders rely on cart_recovery, which the shopper gave
        Assert.Empty(scenario.OfKind(Kind));
        var audit = Assert.Single(scenario.AuditsOfKind(Kind));
        Assert.Equal((AuditDecisions.Suppressed, SuppressionReason.NoConsent, "s1"), (audit.Decision, audit.Reason, audit.SessionId));
        Assert.Contains($"purpose={Feedback}", audit.Detail);
    }

    [Fact]
    public void An_opt_out_from_the_survey_purpose_wins_over_the_grant()
    {
        var (shopper, _) = Abandoner();
        shopper.Withdraw("email", T0 + Hours(30), Feedback);

        var scenario = Scenario.Play(shopper.Events, SurveysOn());

        Assert.Empty(scenario.OfKind(Kind));
        Assert.Equal(SuppressionReason.ConsentWithdrawn, Assert.Single(scenario.AuditsOfKind(Kind)).Reason);
    }

    [Fact]
    public void The_per_shopper_cap_counts_the_reminders_before_it()
    {
        // Two reminders went out within the window: a cap of 2 per shopper leaves no room for the invitation.
        var (shopper, _) = Abandoner();
        var scenario = Scenario.Play(shopper.Events, SurveysOn(root => root["defaults"]!["caps"]!["per_shopper"] = 2));

        Assert.Equal(2, scenario.Reminders.Count);
        Assert.Empty(scenario.OfKind(Kind));
        var audit = Assert.Single(scenario.AuditsOfKind(Kind));
        Assert.Equal((AuditDecisions.Suppressed, SuppressionReason.CapPerShopper), (audit.Decision, audit.Reason));
        Assert.Equal(scenario.Reminders.Select(r => r.TriggerId).Order(StringComparer.Ordinal), audit.Evidence.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void An_invitation_due_in_quiet_hours_waits_for_their_end()
    {
        // Due 24 h after the case ended, moved to 22:00 by a 37-hour delay: deferred to 08:00 the next morning.
        var (shopper, _) = Abandoner();
        var probe = Scenario.Play(shopper.Events, SurveysOn());
        var ended = CaseEnd(probe).EventTime;
        var delay = new DateTimeOffset(ended.Date, TimeSpan.Zero).AddDays(1).AddHours(22) - ended;
        var policy = SurveysOn(root => root["survey_invitation"]!["delay"] = $"{(int)delay.TotalMinutes}m");

        var scenario = Scenario.Play(shopper.Events, policy);

        var invitation = Assert.Single(scenario.OfKind(Kind));
        Assert.Equal(new DateTimeOffset(ended.Date, TimeSpan.Zero).AddDays(2).AddHours(8), invitation.EventTime);
        Assert.Equal([AuditDecisions.Deferred, AuditDecisions.Triggered], scenario.AuditsOfKind(Kind).Select(a => a.Decision));
    }

    [Fact]
    public void Off_by_default_nothing_is_pending_sent_or_audited()
    {
        var (shopper, _) = Abandoner();

        var scenario = Scenario.Play(shopper.Events, Policies.NoHoldout);

        Assert.False(Policies.Default.SurveyInvitation.Enabled);
        Assert.Empty(scenario.OfKind(Kind));
        Assert.Empty(scenario.AuditsOfKind(Kind));
        Assert.Empty(scenario.Shopper("cust-s").PendingSurveys);
    }

    [Fact]
    public void The_answer_naming_the_invitation_is_linked_to_the_case()
    {
        var (shopper, _) = Abandoner();
        var invitation = Assert.Single(Scenario.Play(shopper.Events, SurveysOn()).OfKind(Kind));
        shopper.Emit((id, t) => new SurveyAnswered
        {
            EventId = id, ShopperId = "cust-s", EventTime = t, TriggerId = invitation.TriggerId, Reason = SurveyReasons.ShippingCost,
        }, invitation.EventTime + Hours(1));

        var scenario = Scenario.Play(shopper.Events, SurveysOn());

        var row = Assert.Single(scenario.OutcomeRows);
        Assert.Equal((OutcomeTypes.SurveyAnswered, invitation.TriggerId, "s1", true, SurveyReasons.ShippingCost),
            (row.Type, row.TriggerId, row.SessionId, row.Matched, row.SurveyReason));
    }

    [Fact]
    public void Check_policy_warns_about_a_survey_channel_without_a_template_and_refuses_one_that_does_not_render()
    {
        Assert.Empty(PolicyCheck.Findings(SurveysOn()));

        var missing = PolicyCheck.Findings(SurveysOn(root => root["survey_invitation"]!["channels"] = new System.Text.Json.Nodes.JsonArray("sms", "email")));
        var warning = Assert.Single(missing);
        Assert.Equal((PolicyFinding.Warning, "survey_invitation.templates"), (warning.Severity, warning.Path));
        Assert.Contains("no template for sms", warning.Problem);

        var broken = PolicyCheck.Findings(Policies.Edited(root => root["survey_invitation"]!["templates"]![0]!["body"] = "{{ survey_link | nope }}"));
        var error = Assert.Single(broken);
        Assert.Equal((PolicyFinding.Error, "survey_invitation.templates[0].body"), (error.Severity, error.Path));
    }
}
