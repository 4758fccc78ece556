using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Feedback;

/// <summary>Outcomes feed decisions, and the risk score decides. cust-1 starts s1 at 09:00 UTC, adds a line at 09:01, is
/// abandoned at 09:31; with the default policy step 1 fires at 10:36 and step 2 at 09:36 the next day.</summary>
public sealed class ClosedLoopDecisionTests
{
    private static readonly DateTimeOffset AbandonedAt = T0 + Min(31);
    private static readonly DateTimeOffset Step1Fires = AbandonedAt + Hours(1) + Min(5);

    private static (ShopperScript Shopper, SessionScript Session) Cart(string consent, decimal price = 40m, string shopperId = "cust-1")
    {
        var shopper = new ShopperScript(shopperId, T0);
        foreach (var channel in consent.Split(',')) shopper.Grant(channel, T0 - Days(1));
        var s1 = shopper.Session("s1");
        s1.Start();
        s1.Add("shoes-0001", price);
        return (shopper, s1);
    }

    private static T Outcome<T>(string shopperId, string triggerId, string channel, DateTimeOffset at, string id) where T : MessageOutcome =>
        (T)(MessageOutcome)(typeof(T).Name switch
        {
            nameof(MessageDelivered) => new MessageDelivered { EventId = id, ShopperId = shopperId, EventTime = at, TriggerId = triggerId, Channel = channel },
            nameof(MessageOpened) => new MessageOpened { EventId = id, ShopperId = shopperId, EventTime = at, TriggerId = triggerId, Channel = channel },
            nameof(MessageClicked) => new MessageClicked { EventId = id, ShopperId = shopperId, EventTime = at, TriggerId = triggerId, Channel = channel },
            nameof(MessageBounced) => new MessageBounced { EventId = id, ShopperId = shopperId, EventTime = at, TriggerId = triggerId, Channel = channel },
            _ => (MessageOutcome)new MessageComplained { EventId = id, ShopperId = shopperId, EventTime = at, TriggerId = triggerId, Channel = channel },
        });

    private static Scenario StepOneThen(string consent, Func<RecoveryTrigger, IEnumerable<ShopperEvent>> after, RecoveryPolicy? policy = null)
    {
        var (shopper, _) = Cart(consent);
        var scenario = new Scenario(policy).Run(shopper.Events);
        // Another shopper's event moves the watermark past step 1.
        scenario.Feed(new ShopperScript("noise", Step1Fires + Min(10)).Session("n").Start());
        var step1 = Assert.Single(scenario.Reminders);
        return scenario.Run(after(step1)).Drain();
    }

    [Fact]
    public void A_hard_bounce_retires_the_channel_and_the_next_step_falls_back_to_the_next_consented_one()
    {
        var scenario = StepOneThen("push,email", step1 => [Outcome<MessageBounced>("cust-1", step1.TriggerId, "push", Step1Fires + Min(11), "bounce-1") with { BounceType = "hard" }]);

        Assert.Equal(["1/push", "2/email"], scenario.Reminders.Select(r => $"{r.Step}/{r.Channel}"));
        var blocked = Assert.Single(scenario.AuditsOf(AuditDecisions.ChannelBlocked));
        Assert.Equal(("message_bounced", "push"), (blocked.Reason, blocked.Channel));
        Assert.Equal(["bounce-1", scenario.Reminders[0].TriggerId], blocked.Evidence);
        var step2 = Assert.Single(scenario.AuditsOf(AuditDecisions.Triggered), a => a.Step == 2);
        Assert.Contains("fallback_from=push(message_bounced)", step2.Detail);
        Assert.True(Assert.Single(scenario.OutcomeRows).Matched);
    }

    [Fact]
    public void A_soft_bounce_is_recorded_and_the_channel_stays()
    {
        var scenario = StepOneThen("push,email", step1 => [Outcome<MessageBounced>("cust-1", step1.TriggerId, "push", Step1Fires + Min(11), "bounce-1") with { BounceType = "soft" }]);

        Assert.Equal(["1/push", "2/push"], scenario.Reminders.Select(r => $"{r.Step}/{r.Channel}"));
        Assert.Empty(scenario.AuditsOf(AuditDecisions.ChannelBlocked));
        Assert.Equal("soft", Assert.Single(scenario.OutcomeRows).BounceType);
    }

    [Fact]
    public void A_complaint_on_the_only_consented_channel_suppresses_the_next_step_as_channel_blocked()
    {
        var scenario = StepOneThen("email", step1 => [Outcome<MessageComplained>("cust-1", step1.TriggerId, "email", Step1Fires + Min(30), "complaint-1")]);

        Assert.Single(scenario.Reminders);
        var suppressed = Assert.Single(scenario.AuditsOf(AuditDecisions.Suppressed, SuppressionReason.ChannelBlocked));
        Assert.Equal((2, "email"), (suppressed.Step, suppressed.Channel));
        Assert.Equal(["complaint-1"], suppressed.Evidence);
    }

    [Fact]
    public void Engagement_is_kept_matched_an_unknown_trigger_unmatched_and_a_redelivery_once()
    {
        var scenario = StepOneThen("push", step1 =>
        [
            Outcome<MessageDelivered>("cust-1", step1.TriggerId, "push", Step1Fires + Min(11), "d-1"),
            Outcome<MessageOpened>("cust-1", step1.TriggerId, "push", Step1Fires + Min(12), "o-1"),
            Outcome<MessageOpened>("cust-1", step1.TriggerId, "push", Step1Fires + Min(12), "o-1"),
            Outcome<MessageClicked>("cust-1", "from-before-the-restore", "push", Step1Fires + Min(13), "c-9"),
        ]);

        Assert.Equal(["d-1/message_delivered/True/s1", "o-1/message_opened/True/s1", "c-9/message_clicked/False/"],
            scenario.OutcomeRows.Select(r => $"{r.EventId}/{r.Type}/{r.Matched}/{r.SessionId}"));
        Assert.Equal(["message_delivered", "message_opened", CartRecovery.Domain.Feedback.OutcomeRecorder.UnmatchedReason],
            scenario.AuditsOf(AuditDecisions.OutcomeReceived).Select(a => a.Reason));
        Assert.Single(scenario.AuditsOf(AuditDecisions.DuplicateEvent));
        Assert.Equal(["1/push", "2/push"], scenario.Reminders.Select(r => $"{r.Step}/{r.Channel}"));
    }

    [Fact]
    public void A_survey_answer_keeps_its_free_text_in_the_analyst_row_only()
    {
        var scenario = StepOneThen("push", step1 =>
        [
            new SurveyAnswered { EventId = "sv-1", ShopperId = "cust-1", EventTime = Step1Fires + Hours(1), TriggerId = step1.TriggerId, Reason = "price", FreeText = "my name is Jane" },
        ]);

        var row = Assert.Single(scenario.OutcomeRows);
        Assert.Equal(("price", "my name is Jane", "s1", true), (row.SurveyReason, row.FreeText, row.SessionId, row.Matched));
        Assert.DoesNotContain(scenario.Audits, a => a.Detail.Contains("Jane") || a.Evidence.Any(e => e.Contains("Jane")));
    }

    [Fact]
    public void A_step_minimum_score_suppresses_a_low_score_cart_with_its_score_and_factors()
    {
        var policy = Policies.Edited(root =>
        {
            root["holdout_share"] = 0;
            root["defaults"]!["steps"]![0]!["min_score"] = 0.9;
        });
        var (shopper, _) = Cart("push", price: 2m);

        var scenario = Scenario.Play(shopper.Events, policy);

        var suppressed = Assert.Single(scenario.AuditsOf(AuditDecisions.Suppressed, SuppressionReason.ScoreBelowThreshold));
        var abandoned = Assert.Single(scenario.AuditsOf(AuditDecisions.Abandoned));
        Assert.Equal(1, suppressed.Step);
        Assert.InRange(abandoned.Score, 0, 0.9);
        Assert.NotEmpty(suppressed.TopFactors);
        Assert.InRange(suppressed.Score, 0, 1);
        Assert.Contains("min_score=0.9", suppressed.Detail);
        Assert.Contains($"score_at_abandonment={abandoned.Score:0.###}", suppressed.Detail);
        // Step 2 has no threshold: the cart still gets its second reminder.
        Assert.Equal([2], scenario.Reminders.Select(r => r.Step));
    }

    [Fact]
    public void Urgency_moves_a_step_inside_its_window_earlier_for_a_higher_score()
    {
        var policy = Policies.Edited(root =>
        {
            root["holdout_share"] = 0;
            root["defaults"]!["steps"]![0]!["latest_delay"] = "4h";
        });
        var (cheap, _) = Cart("push", price: 5m, shopperId: "cheap");
        var (dear, _) = Cart("push", price: 240m, shopperId: "dear");

        var scenario = Scenario.Play([.. cheap.Events, .. dear.Events], policy);

        var step1 = scenario.Reminders.Where(r => r.Step == 1).ToDictionary(r => r.ShopperId);
        var abandonedAudit = scenario.AuditsOf(AuditDecisions.Abandoned).ToDictionary(a => a.ShopperId);
        foreach (var (shopperId, trigger) in step1)
        {
            var urgency = abandonedAudit[shopperId].Score;
            var expected = AbandonedAt + Hours(4) - TimeSpan.FromTicks((long)(Hours(3).Ticks * urgency));
            Assert.Equal(expected, trigger.DueTime);
            Assert.InRange(trigger.DueTime, AbandonedAt + Hours(1), AbandonedAt + Hours(4));
        }
        Assert.True(abandonedAudit["dear"].Score > abandonedAudit["cheap"].Score);
        Assert.True(step1["dear"].DueTime < step1["cheap"].DueTime);
        Assert.Contains("urgency=", Assert.Single(scenario.AuditsOf(AuditDecisions.Triggered), a => a.ShopperId == "dear" && a.Step == 1).Detail);
    }

    [Fact]
    public void A_variant_can_change_the_steps_its_shoppers_get()
    {
        var policy = Policies.Edited(root =>
        {
            root["holdout_share"] = 0;
            root["variants"] = System.Text.Json.Nodes.JsonNode.Parse("""
                [ { "name": "control", "weight": 1 },
                  { "name": "one_fast_email", "weight": 1, "steps": [ { "delay": "20m" } ], "channel_preference": [ "email" ] } ]
                """);
        });
        var shoppers = Enumerable.Range(0, 12).Select(i => Cart("push,email", shopperId: $"cust-{i}").Shopper).ToList();

        var scenario = Scenario.Play(shoppers.SelectMany(s => s.Events), policy);

        var byVariant = scenario.Reminders.GroupBy(r => r.Variant).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal(["control", "one_fast_email"], byVariant.Keys.Order());
        Assert.All(byVariant["one_fast_email"], r => Assert.Equal((1, "email", AbandonedAt + Min(20)), (r.Step, r.Channel, r.DueTime)));
        Assert.All(byVariant["control"], r => Assert.Equal("push", r.Channel));
        Assert.Contains(byVariant["control"], r => r.Step == 2);
    }

    [Fact]
    public void A_chat_holdout_gets_no_chat_and_is_audited()
    {
        RecoveryPolicy Assist(double share) => Policies.Edited(root =>
        {
            root["holdout_share"] = 0;
            root["defaults"]!["proactive_assist"]!["holdout_share"] = share;
        });
        IEnumerable<ShopperEvent> Payer()
        {
            var shopper = new ShopperScript("payer", T0);
            var s1 = shopper.Session("s1");
            s1.Start();
            s1.Add("tv-1", 640m);
            s1.Checkout();
            s1.PaymentFailed("card_declined");
            s1.PaymentFailed("3ds_failed");
            return shopper.Events;
        }

        var held = Scenario.Play(Payer(), Assist(1.0));
        var offered = Scenario.Play(Payer(), Assist(0.0));

        Assert.Empty(held.Chats);
        var audit = Assert.Single(held.AuditsOf(AuditDecisions.Suppressed, SuppressionReason.ChatHoldout));
        Assert.Equal(RecoveryEngine.ChatChannel, audit.Channel);
        Assert.Single(offered.Chats);
        Assert.Empty(offered.AuditsOf(AuditDecisions.Suppressed, SuppressionReason.ChatHoldout));
        // The chat offered is known to the shopper's state: its outcomes match.
        Assert.Equal(offered.Chats[0].TriggerId, Assert.Single(offered.Shopper("payer").OfferedChats).TriggerId);
    }
}

/// <summary>The channel order can follow the shopper's engagement: opens and clicks reported back put a channel first.</summary>
public sealed class EngagementChannelOrderTests
{
    [Fact]
    public void A_segment_ordered_by_engagement_tries_the_channel_the_shopper_reads_first()
    {
        RecoveryPolicy Order(string order) => Policies.Edited(root =>
        {
            root["holdout_share"] = 0;
            root["defaults"]!["channel_order"] = order;
        });
        IEnumerable<ShopperEvent> Shopper()
        {
            var shopper = new ShopperScript("cust-1", T0);
            shopper.Grant("push", T0 - Days(1));
            shopper.Grant("email", T0 - Days(1));
            // An earlier message the shopper read and clicked by email (before this worker's memory: unmatched, still engagement).
            yield return new MessageOpened { EventId = "o-old", ShopperId = "cust-1", EventTime = T0 - Hours(20), TriggerId = "old", Channel = "email" };
            yield return new MessageClicked { EventId = "c-old", ShopperId = "cust-1", EventTime = T0 - Hours(20) + Min(1), TriggerId = "old", Channel = "email" };
            var s1 = shopper.Session("s1");
            s1.Start();
            s1.Add("shoes-0001", 40m);
            foreach (var evt in shopper.Events) yield return evt;
        }

        var listed = Scenario.Play(Shopper().OrderBy(e => e.EventTime), Order("preference"));
        var engaged = Scenario.Play(Shopper().OrderBy(e => e.EventTime), Order("engagement"));

        Assert.Equal(["push", "push"], listed.Reminders.Select(r => r.Channel));
        Assert.Equal(["email", "email"], engaged.Reminders.Select(r => r.Channel));
        Assert.Equal(3, engaged.Shopper("cust-1").Engagement["email"]);
        Assert.Throws<PolicyValidationException>(() => Order("loudest"));
    }
}
