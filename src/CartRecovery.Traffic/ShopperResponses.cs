using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;

namespace CartRecovery.Traffic;

/// <summary>
/// How simulated shoppers and their inboxes answer the worker's triggers: probabilities by channel, step, incentive and
/// risk score. Defaults are in the range published for cart-recovery programmes (email opens ~40-50 %, clicks ~10 % of
/// delivered, SMS read but not "opened", push opened less often); every number is a knob, so a run can test a policy
/// against a pessimistic or optimistic audience.
/// </summary>
public sealed record ResponseModel
{
    /// <summary>P(bounce) by channel; a bounce is hard with <see cref="HardBounceShare"/>.</summary>
    public IReadOnlyDictionary<string, double> Bounce { get; init; } = new Dictionary<string, double> { ["email"] = 0.03, ["sms"] = 0.02, ["push"] = 0.05 };
    public double HardBounceShare { get; init; } = 0.6;
    /// <summary>P(complaint) of a delivered message, by channel.</summary>
    public IReadOnlyDictionary<string, double> Complaint { get; init; } = new Dictionary<string, double> { ["email"] = 0.003, ["sms"] = 0.006, ["push"] = 0.002 };
    /// <summary>P(open) of a delivered message at step 1, by channel (SMS reports no opens: its clicks count as opens).</summary>
    public IReadOnlyDictionary<string, double> Open { get; init; } = new Dictionary<string, double> { ["email"] = 0.45, ["sms"] = 0.0, ["push"] = 0.30 };
    /// <summary>P(click) of an opened message (of a delivered one for SMS), by channel.</summary>
    public IReadOnlyDictionary<string, double> Click { get; init; } = new Dictionary<string, double> { ["email"] = 0.25, ["sms"] = 0.12, ["push"] = 0.30 };
    /// <summary>Engagement multiplier by step (index = step - 1): later reminders are opened and clicked less.</summary>
    public IReadOnlyList<double> StepFactor { get; init; } = [1.0, 0.75, 0.6];
    /// <summary>Added to P(click) when the message carries an incentive code.</summary>
    public double IncentiveClickBonus { get; init; } = 0.08;
    /// <summary>P(return and buy) after a click, for a cart of risk score 0.5; <see cref="ScoreEffect"/> moves it with the score.</summary>
    public double BuyAfterClick { get; init; } = 0.40;
    /// <summary>Added to P(buy) when the message carries an incentive code.</summary>
    public double IncentiveBuyBonus { get; init; } = 0.10;
    /// <summary>P(buy) is multiplied by 1 + ScoreEffect × (0.5 - score): a high-risk cart is harder to win back.</summary>
    public double ScoreEffect { get; init; } = 0.8;
    /// <summary>P(survey answer) of an opened message whose cart was not bought.</summary>
    public double SurveyAnswer { get; init; } = 0.10;
    /// <summary>P(accept) of a proactive chat offer, and P(buy) after an accepted chat.</summary>
    public double ChatAccept { get; init; } = 0.35;
    public double BuyAfterChat { get; init; } = 0.45;
    /// <summary>P(resolved on first contact) of an accepted chat.</summary>
    public double FirstContactResolution { get; init; } = 0.72;

    public static ResponseModel Default { get; } = new();
}

/// <summary>
/// The audience's answers to triggers, as input events: delivery, opens, clicks, bounces and complaints from the
/// dispatchers, chat outcomes, survey answers (on outcome-events), and the orders of shoppers a message or chat won
/// back (on order-events, in the cart's session, listing the trigger's cart lines). Deterministic: every draw is a
/// hash of the seed, the trigger id and what is drawn, so the same triggers give the same answers in any order.
/// A shopper who already ordered the session (in the generated traffic, or after an earlier trigger) answers no more.
/// </summary>
public static class ShopperResponses
{
    /// <param name="triggers">The triggers the worker emitted (recovery-triggers).</param>
    /// <param name="ordersBySession">First order time per (shopper, session) in the traffic the triggers answer.</param>
    public static IReadOnlyList<GeneratedEvent> Respond(IEnumerable<RecoveryTrigger> triggers,
        IReadOnlyDictionary<(string Shopper, string Session), DateTimeOffset> ordersBySession, ResponseModel model, int seed)
    {
        var events = new List<GeneratedEvent>();
        var bought = new Dictionary<(string, string), DateTimeOffset>(ordersBySession);
        var blocked = new HashSet<(string Shopper, string Channel)>();
        var ordered = triggers.Where(t => t.Kind is TriggerKinds.Reminder or TriggerKinds.ProactiveChat)
            .OrderBy(t => t.EventTime).ThenBy(t => t.TriggerId, StringComparer.Ordinal);
        foreach (var trigger in ordered)
        {
            var session = (trigger.ShopperId, trigger.SessionId);
            if (bought.TryGetValue(session, out var boughtAt) && boughtAt <= trigger.EventTime) continue;
            var draw = new Draws(seed, trigger.TriggerId);
            var buyAt = trigger.Kind == TriggerKinds.ProactiveChat
                ? Chat(trigger, model, draw, events)
                : Message(trigger, model, draw, events, blocked);
            if (buyAt is { } at && !(bought.TryGetValue(session, out var earlier) && earlier <= at))
            {
                Order(trigger, at, events);
                bought[session] = at;
            }
        }
        return events;
    }

    /// <summary>The dispatcher's reports and the shopper's reaction to one reminder; the time of the order it wins, if any.</summary>
    private static DateTimeOffset? Message(RecoveryTrigger trigger, ResponseModel model, Draws draw, List<GeneratedEvent> events,
        HashSet<(string, string)> blocked)
    {
        var channel = trigger.Channel;
        var at = trigger.EventTime;
        // The worker retires a channel after a hard bounce: a later message there is one the closed loop does not send.
        if (blocked.Contains((trigger.ShopperId, channel))) return null;
        if (draw.Below("bounce", Of(model.Bounce, channel)))
        {
            var hard = draw.Below("hard", model.HardBounceShare);
            if (hard) blocked.Add((trigger.ShopperId, channel));
            events.Add(Outcome(new MessageBounced
            {
                EventId = EventId(trigger, "bounced"), ShopperId = trigger.ShopperId, SessionId = trigger.SessionId, EventTime = at + TimeSpan.FromMinutes(1),
                TriggerId = trigger.TriggerId, Channel = channel, BounceType = hard ? "hard" : "soft",
            }));
            return null;
        }
        events.Add(Outcome(new MessageDelivered
        {
            EventId = EventId(trigger, "delivered"), ShopperId = trigger.ShopperId, SessionId = trigger.SessionId, EventTime = at + TimeSpan.FromSeconds(30),
            TriggerId = trigger.TriggerId, Channel = channel,
        }));
        if (draw.Below("complaint", Of(model.Complaint, channel)))
        {
            events.Add(Outcome(new MessageComplained
            {
                EventId = EventId(trigger, "complained"), ShopperId = trigger.ShopperId, SessionId = trigger.SessionId, EventTime = at + TimeSpan.FromHours(2),
                TriggerId = trigger.TriggerId, Channel = channel,
            }));
            blocked.Add((trigger.ShopperId, channel));
            return null;
        }

        var stepFactor = model.StepFactor.Count == 0 ? 1 : model.StepFactor[Math.Clamp(trigger.Step - 1, 0, model.StepFactor.Count - 1)];
        var reportsOpens = Of(model.Open, channel) > 0;
        var opened = !reportsOpens || draw.Below("open", Of(model.Open, channel) * stepFactor);
        if (!opened) return null;
        var openedAt = at + Minutes(draw, "open-delay", 5, 360);
        if (reportsOpens)
            events.Add(Outcome(new MessageOpened
            {
                EventId = EventId(trigger, "opened"), ShopperId = trigger.ShopperId, SessionId = trigger.SessionId, EventTime = openedAt,
                TriggerId = trigger.TriggerId, Channel = channel,
            }));
        var incentive = trigger.IncentiveCode.Length > 0;
        var clickChance = Of(model.Click, channel) * stepFactor + (incentive ? model.IncentiveClickBonus : 0);
        if (!draw.Below("click", clickChance))
        {
            Survey(trigger, model, draw, openedAt + TimeSpan.FromMinutes(2), events, reportsOpens);
            return null;
        }
        var clickedAt = openedAt + Minutes(draw, "click-delay", 0, 5);
        events.Add(Outcome(new MessageClicked
        {
            EventId = EventId(trigger, "clicked"), ShopperId = trigger.ShopperId, SessionId = trigger.SessionId, EventTime = clickedAt,
            TriggerId = trigger.TriggerId, Channel = channel,
        }));
        var buyChance = (model.BuyAfterClick + (incentive ? model.IncentiveBuyBonus : 0)) * (1 + model.ScoreEffect * (0.5 - trigger.Score));
        if (trigger.CartLines.Count > 0 && draw.Below("buy", buyChance)) return clickedAt + Minutes(draw, "buy-delay", 3, 20);
        Survey(trigger, model, draw, clickedAt + TimeSpan.FromMinutes(30), events, reportsOpens: true);
        return null;
    }

    /// <summary>A proactive chat: accepted or not, resolved (first contact or not, satisfaction), and maybe an order.</summary>
    private static DateTimeOffset? Chat(RecoveryTrigger trigger, ResponseModel model, Draws draw, List<GeneratedEvent> events)
    {
        if (!draw.Below("accept", model.ChatAccept)) return null;
        var acceptedAt = trigger.EventTime + TimeSpan.FromSeconds(20);
        events.Add(Outcome(new ChatAccepted
        {
            EventId = EventId(trigger, "accepted"), ShopperId = trigger.ShopperId, SessionId = trigger.SessionId, EventTime = acceptedAt, TriggerId = trigger.TriggerId,
        }));
        var resolvedAt = acceptedAt + Minutes(draw, "chat-length", 2, 12);
        var firstContact = draw.Below("fcr", model.FirstContactResolution);
        events.Add(Outcome(new ChatResolved
        {
            EventId = EventId(trigger, "resolved"), ShopperId = trigger.ShopperId, SessionId = trigger.SessionId, EventTime = resolvedAt, TriggerId = trigger.TriggerId,
            ResolvedFirstContact = firstContact, Satisfaction = firstContact ? 4 + (int)(draw.Unit("satisfaction") * 2) : 2 + (int)(draw.Unit("satisfaction") * 2),
        }));
        return trigger.CartLines.Count > 0 && draw.Below("buy", model.BuyAfterChat) ? resolvedAt + TimeSpan.FromMinutes(1) : null;
    }

    /// <summary>Some shoppers who read a reminder and did not buy say why. Payment trouble is likelier after payment
    /// failures, shipping cost on small carts; no free text (the simulation has no personal data to give).</summary>
    private static void Survey(RecoveryTrigger trigger, ResponseModel model, Draws draw, DateTimeOffset at, List<GeneratedEvent> events, bool reportsOpens)
    {
        if (!reportsOpens || !draw.Below("survey", model.SurveyAnswer)) return;
        (string Reason, double Weight)[] weights =
        [
            (SurveyReasons.ShippingCost, trigger.CartValue < 50 ? 0.35 : 0.15),
            (SurveyReasons.PaymentTrouble, trigger.PaymentErrorCodes.Count > 0 ? 0.45 : 0.05),
            (SurveyReasons.Price, 0.20),
            (SurveyReasons.Comparison, trigger.OriginChannel is "instagram" or "tiktok" ? 0.10 : 0.20),
            (SurveyReasons.JustBrowsing, trigger.OriginChannel is "instagram" or "tiktok" ? 0.35 : 0.15),
            (SurveyReasons.Other, 0.05),
        ];
        var roll = draw.Unit("survey-reason") * weights.Sum(w => w.Weight);
        var reason = weights[^1].Reason;
        foreach (var (code, weight) in weights)
        {
            if (roll < weight) { reason = code; break; }
            roll -= weight;
        }
        events.Add(Outcome(new SurveyAnswered
        {
            EventId = EventId(trigger, "survey"), ShopperId = trigger.ShopperId, SessionId = trigger.SessionId, EventTime = at, TriggerId = trigger.TriggerId, Reason = reason,
        }));
    }

    private static void Order(RecoveryTrigger trigger, DateTimeOffset at, List<GeneratedEvent> events)
    {
        var total = trigger.CartLines.Sum(l => l.Total);
        var orderId = "ord-" + EventId(trigger, "order");
        var currency = trigger.Currency is { Length: 3 } code ? code : null;
        events.Add(new GeneratedEvent(Topics.OrderEvents, new OrderPlaced
        {
            EventId = EventId(trigger, "order"), ShopperId = trigger.ShopperId, SessionId = trigger.SessionId, EventTime = at,
            Channel = trigger.OriginChannel.Length > 0 ? trigger.OriginChannel : "web", OrderId = orderId, Lines = [.. trigger.CartLines], Total = total, Currency = currency,
        }));
        events.Add(new GeneratedEvent(Topics.OrderEvents, new PaymentAuthorized
        {
            EventId = EventId(trigger, "payment"), ShopperId = trigger.ShopperId, SessionId = trigger.SessionId, EventTime = at + TimeSpan.FromSeconds(2),
            Channel = trigger.OriginChannel.Length > 0 ? trigger.OriginChannel : "web", OrderId = orderId, Amount = total,
        }));
    }

    private static GeneratedEvent Outcome(OutcomeEvent evt) => new(Topics.OutcomeEvents, evt);

    private static string EventId(RecoveryTrigger trigger, string what) => $"rsp-{trigger.TriggerId}-{what}";

    private static double Of(IReadOnlyDictionary<string, double> byChannel, string channel) => byChannel.TryGetValue(channel, out var p) ? p : 0;

    private static TimeSpan Minutes(Draws draw, string what, int min, int max) => TimeSpan.FromMinutes(min + draw.Unit(what) * (max - min));

    /// <summary>Independent uniform draws in [0, 1) per (seed, trigger, purpose): stable across runs, orders and processes.</summary>
    private readonly struct Draws(int seed, string triggerId)
    {
        public double Unit(string what)
        {
            Span<byte> hash = stackalloc byte[32];
            SHA256.HashData(Encoding.UTF8.GetBytes($"{seed}|{triggerId}|{what}"), hash);
            return (BinaryPrimitives.ReadUInt64LittleEndian(hash) >> 11) * (1.0 / (1UL << 53));
        }

        public bool Below(string what, double probability) => Unit(what) < Math.Clamp(probability, 0, 1);
    }
}
