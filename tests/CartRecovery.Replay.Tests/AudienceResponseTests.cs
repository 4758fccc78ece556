using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Traffic;

namespace CartRecovery.Replay.Tests;

/// <summary>The simulated audience: deterministic under a seed whatever the order of the triggers, answering with the
/// configured probabilities, and never answering for a cart already bought or on a channel it bounced from.</summary>
public sealed class AudienceResponseTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 10, 0, 0, TimeSpan.Zero);

    private static List<RecoveryTrigger> Triggers(int count, string channel = "email", int step = 1, double score = 0.5) =>
        [.. Enumerable.Range(0, count).Select(i => new RecoveryTrigger
        {
            TriggerId = $"t{step}-{i:D5}", Kind = TriggerKinds.Reminder, ShopperId = $"s{i}", SessionId = $"x{i}", Step = step, Channel = channel,
            Score = score, Reason = "reminder_step", PolicyVersion = "v1", EventTime = T0.AddMinutes(i + 1440 * (step - 1)), DueTime = T0,
            CartLines = [new CartLine { Sku = "a", UnitPrice = 30, Quantity = 1 }], CartValue = 30, Currency = "EUR", OriginChannel = "web",
        })];

    private static readonly Dictionary<(string, string), DateTimeOffset> NoOrders = [];

    private static IEnumerable<string> Serialized(IEnumerable<GeneratedEvent> events) => events.Select(e => e.Topic + " " + ContractJson.SerializeEventToString(e.Event));

    [Fact]
    public void The_same_triggers_and_seed_give_the_same_answers_in_any_order_and_another_seed_others()
    {
        var triggers = Triggers(300);
        var first = ShopperResponses.Respond(triggers, NoOrders, ResponseModel.Default, 7);
        var shuffled = ShopperResponses.Respond(Enumerable.Reverse(triggers), NoOrders, ResponseModel.Default, 7);
        var otherSeed = ShopperResponses.Respond(triggers, NoOrders, ResponseModel.Default, 8);

        Assert.Equal(Serialized(first), Serialized(shuffled));
        Assert.NotEqual(Serialized(first), Serialized(otherSeed));
        Assert.All(first, e => Assert.True(EventParser.Parse(ContractJson.SerializeEvent(e.Event)).IsValid));
    }

    [Fact]
    public void Answers_follow_the_model_probabilities()
    {
        var model = ResponseModel.Default;
        var answers = ShopperResponses.Respond(Triggers(4000), NoOrders, model, 1);
        double Count<T>() => answers.Count(a => a.Event is T);

        var delivered = Count<MessageDelivered>();
        Assert.InRange(Count<MessageBounced>() / 4000, model.Bounce["email"] - 0.01, model.Bounce["email"] + 0.01);
        Assert.InRange(Count<MessageOpened>() / delivered, model.Open["email"] - 0.03, model.Open["email"] + 0.03);
        Assert.InRange(Count<MessageClicked>() / Count<MessageOpened>(), model.Click["email"] - 0.04, model.Click["email"] + 0.04);
        Assert.InRange(Count<OrderPlaced>() / Count<MessageClicked>(), model.BuyAfterClick - 0.07, model.BuyAfterClick + 0.07);
    }

    [Fact]
    public void Incentives_and_lower_scores_win_more_orders_and_later_steps_fewer_opens()
    {
        var plain = ShopperResponses.Respond(Triggers(3000, score: 0.8), NoOrders, ResponseModel.Default, 3);
        var easy = ShopperResponses.Respond(Triggers(3000, score: 0.2), NoOrders, ResponseModel.Default, 3);
        var withCode = ShopperResponses.Respond(Triggers(3000, score: 0.8).Select(t => t with { IncentiveCode = "CR-1" }), NoOrders, ResponseModel.Default, 3);
        var later = ShopperResponses.Respond(Triggers(3000, step: 2, score: 0.8), NoOrders, ResponseModel.Default, 3);
        static int Orders(IEnumerable<GeneratedEvent> events) => events.Count(e => e.Event is OrderPlaced);

        Assert.True(Orders(easy) > Orders(plain));
        Assert.True(Orders(withCode) > Orders(plain));
        Assert.True(later.Count(e => e.Event is MessageOpened) < plain.Count(e => e.Event is MessageOpened));
    }

    [Fact]
    public void A_bought_cart_gets_no_answer_and_a_hard_bounced_channel_no_more()
    {
        var step1 = Triggers(400);
        var step2 = Triggers(400, step: 2);
        var bought = step1.Take(100).ToDictionary(t => (t.ShopperId, t.SessionId), t => t.EventTime.AddMinutes(-1));

        var answers = ShopperResponses.Respond([.. step1, .. step2], bought, ResponseModel.Default, 5);

        Assert.DoesNotContain(answers, a => bought.ContainsKey((a.Event.ShopperId, ((a.Event as OutcomeEvent)?.SessionId ?? (a.Event as SessionEvent)?.SessionId)!)));
        var hard = answers.Select(a => a.Event).OfType<MessageBounced>().Where(b => b.BounceType == "hard" && b.TriggerId.StartsWith("t1-", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(hard);
        Assert.All(hard, b => Assert.DoesNotContain(answers, a => a.Event.ShopperId == b.ShopperId && a.Event is MessageOutcome m && m.TriggerId.StartsWith("t2-", StringComparison.Ordinal)));
        // One order per bought session at most.
        Assert.All(answers.Where(a => a.Event is OrderPlaced).GroupBy(a => a.Event.ShopperId), g => Assert.Single(g));
    }
}
