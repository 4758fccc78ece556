using System.Globalization;
using CartRecovery.Contracts.Events;
using CartRecovery.Traffic;

namespace CartRecovery.Analytics.Tests;

/// <summary>
/// What the analyst queries must return, computed here in C# and not in SQL: sessions, carts, funnel steps and
/// orders from the generated events themselves (the same simulator and seed the pipeline ran); abandonment
/// times, holdout flags and reminders from plain row reads of the worker's tables (the worker decides those);
/// attribution by the rules of docs/analytics.md, re-implemented over those inputs.
/// </summary>
public sealed class ExpectedAnalytics
{
    public static readonly TimeSpan AttributionWindow = TimeSpan.FromDays(5);

    public sealed record Cart(string SessionId, string ShopperId, string Origin, DateTime AbandonedAt, bool Holdout);
    public sealed record Order(string SessionId, string ShopperId, DateTime At, decimal Total);
    public sealed record Reminder(string TriggerId, string SessionId, string ShopperId, int Step, string Channel, DateTime At, string ConsentEventId);
    public sealed record Attribution(Cart Cart, Order? Order, Reminder? LastTouch)
    {
        public bool Converted => Order is not null;
        public bool Recovered => LastTouch is not null;
        public decimal Revenue => Recovered ? Order!.Total : 0m;
    }

    public required IReadOnlyList<GeneratedEvent> Events { get; init; }
    public required IReadOnlyList<Cart> Carts { get; init; }
    public required IReadOnlyList<Order> Orders { get; init; }
    public required IReadOnlyList<Reminder> Reminders { get; init; }
    public required IReadOnlyList<Attribution> Attributions { get; init; }
    /// <summary>Session id → channel of origin, from SessionStarted events.</summary>
    public required IReadOnlyDictionary<string, string> Origins { get; init; }
    /// <summary>(trigger id, evidence) of the audit rows of triggered decisions.</summary>
    public required IReadOnlyList<(string TriggerId, string[] Evidence)> TriggeredAudits { get; init; }
    public required IReadOnlyList<string> SuppressionReasons { get; init; }

    public static async Task<ExpectedAnalytics> BuildAsync(PipelineFixture pipeline)
    {
        var events = StorefrontSimulator.Generate(PipelineFixture.Traffic);
        var origins = events.Select(e => e.Event).OfType<SessionStarted>().ToDictionary(s => s.SessionId, s => s.Channel!);
        var orders = events.Select(e => e.Event).OfType<OrderPlaced>()
            .Select(o => new Order(o.SessionId, o.ShopperId, Millis(o.EventTime), o.Total)).ToList();

        var outcomeRows = await pipeline.QueryAsync("SELECT session_id, shopper_id, abandoned_at, holdout FROM session_outcomes FINAL WHERE abandoned_at IS NOT NULL");
        var carts = outcomeRows.RowIndexes.Select(i => new Cart(outcomeRows.Text(i, "session_id"), outcomeRows.Text(i, "shopper_id"),
            origins[outcomeRows.Text(i, "session_id")], Time(outcomeRows.Text(i, "abandoned_at")), outcomeRows.Text(i, "holdout") == "true")).ToList();

        var triggerRows = await pipeline.QueryAsync(
            "SELECT trigger_id, session_id, shopper_id, step, channel, event_time, consent_event_id FROM recovery_triggers FINAL WHERE kind = 'reminder'");
        var reminders = triggerRows.RowIndexes.Select(i => new Reminder(triggerRows.Text(i, "trigger_id"), triggerRows.Text(i, "session_id"),
            triggerRows.Text(i, "shopper_id"), int.Parse(triggerRows.Text(i, "step"), CultureInfo.InvariantCulture), triggerRows.Text(i, "channel"),
            Time(triggerRows.Text(i, "event_time")), triggerRows.Text(i, "consent_event_id"))).ToList();

        var auditRows = await pipeline.QueryAsync("SELECT decision, reason, detail, arrayStringConcat(evidence, ',') AS evidence FROM audit_log FINAL WHERE decision IN ('triggered', 'suppressed')");
        var triggered = auditRows.RowIndexes.Where(i => auditRows.Text(i, "decision") == "triggered")
            .Select(i => (auditRows.Text(i, "detail").Split(' ')[0].Replace("trigger_id=", "", StringComparison.Ordinal), auditRows.Text(i, "evidence").Split(','))).ToList();
        var suppressionReasons = auditRows.RowIndexes.Where(i => auditRows.Text(i, "decision") == "suppressed").Select(i => auditRows.Text(i, "reason")).ToList();

        return new ExpectedAnalytics
        {
            Events = events, Carts = carts, Orders = orders, Reminders = reminders, Attributions = Attribute(carts, orders, reminders),
            Origins = origins, TriggeredAudits = triggered, SuppressionReasons = suppressionReasons,
        };
    }

    /// <summary>Each order credits the shopper's latest abandoned cart before it within the window (its own session
    /// first); a cart keeps its first credited order; recovered if one of its reminders preceded that order.</summary>
    private static List<Attribution> Attribute(List<Cart> carts, List<Order> orders, List<Reminder> reminders)
    {
        var cartsByShopper = carts.ToLookup(c => c.ShopperId);
        var credited = new Dictionary<string, Order>();
        foreach (var order in orders)
        {
            var cart = cartsByShopper[order.ShopperId]
                .Where(c => c.AbandonedAt <= order.At && order.At <= c.AbandonedAt + AttributionWindow)
                .OrderByDescending(c => c.SessionId == order.SessionId).ThenByDescending(c => c.AbandonedAt)
                .FirstOrDefault();
            if (cart is null) continue;
            if (!credited.TryGetValue(cart.SessionId, out var first) || order.At < first.At) credited[cart.SessionId] = order;
        }
        var remindersBySession = reminders.ToLookup(r => r.SessionId);
        return carts.Select(cart =>
        {
            var order = credited.GetValueOrDefault(cart.SessionId);
            var lastTouch = order is null ? null : remindersBySession[cart.SessionId]
                .Where(r => r.At >= cart.AbandonedAt && r.At <= order.At)
                .OrderByDescending(r => r.At).FirstOrDefault();
            return new Attribution(cart, order, lastTouch);
        }).ToList();
    }

    /// <summary>Funnel level a session reached, from its events: 1 session, 2 cart, 3 checkout, 4 payment, 5 order.</summary>
    public IReadOnlyDictionary<string, int> FunnelLevels()
    {
        var levels = Origins.Keys.ToDictionary(s => s, _ => 1);
        foreach (var e in Events.Select(g => g.Event).OfType<SessionEvent>())
        {
            var level = e switch
            {
                OrderPlaced => 5,
                PaymentFailed => 4,
                CheckoutStepCompleted { Step: "payment" } => 4,
                CheckoutStarted or CheckoutStepCompleted => 3,
                CartLineAdded => 2,
                _ => 1,
            };
            levels[e.SessionId] = Math.Max(levels[e.SessionId], level);
        }
        return levels;
    }

    /// <summary>Event times as ClickHouse keeps them: DateTime64(3), UTC.</summary>
    public static DateTime Millis(DateTimeOffset time) => new(time.UtcTicks - time.UtcTicks % TimeSpan.TicksPerMillisecond, DateTimeKind.Utc);

    public static DateTime Seconds(DateTime time) => new(time.Ticks - time.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);

    public static DateTime Time(string text) => DateTime.SpecifyKind(DateTime.ParseExact(text, "yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture), DateTimeKind.Utc);
}
