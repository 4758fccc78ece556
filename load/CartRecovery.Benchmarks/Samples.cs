using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;

namespace CartRecovery.Benchmarks;

/// <summary>Representative inputs and states, built by running the real engine on parsed events.</summary>
public static class Samples
{
    public static readonly DateTimeOffset At = new(2026, 11, 2, 10, 0, 0, TimeSpan.Zero);
    public static readonly RecoveryEngine Engine = new(PolicyFile.LoadDefault());
    public static readonly Watermark Watermark = new(At, At - TimeSpan.FromMinutes(2));

    public static T Parse<T>(ShopperEvent evt) where T : ShopperEvent =>
        (T)(EventParser.Parse(ContractJson.SerializeEvent(evt)).Event ?? throw new InvalidOperationException("rejected"));

    public static ProductViewed View(int i = 0) => new()
    {
        EventId = $"evt-42-000123-{i:D3}", ShopperId = "cust-42-000123", SessionId = "sess-42-000123-0", EventTime = At + TimeSpan.FromSeconds(i),
        Channel = "web", Sku = "shoes-0042", UnitPrice = 59.90m,
    };

    public static CartLineAdded Add(int i = 0) => new()
    {
        EventId = $"evt-42-000123-{i:D3}", ShopperId = "cust-42-000123", SessionId = "sess-42-000123-0", EventTime = At + TimeSpan.FromSeconds(i),
        Channel = "web", Currency = "EUR", Line = new CartLine { Sku = $"shoes-{i:D4}", Name = "shoes item", UnitPrice = 89.50m, Quantity = 1 },
    };

    public static OrderPlaced Order(int i = 0) => new()
    {
        EventId = $"evt-42-000123-{i:D3}", ShopperId = "cust-42-000123", SessionId = "sess-42-000123-0", EventTime = At + TimeSpan.FromSeconds(i),
        Channel = "web", OrderId = "ord-42-000123-9", Currency = "EUR", Total = 179m,
        Lines = [new CartLine { Sku = "shoes-0001", Name = "shoes item", UnitPrice = 89.50m, Quantity = 2 }],
    };

    /// <summary>A shopper with email consent and an active session holding a two-line cart at checkout.</summary>
    public static (ShopperState Shopper, SessionState Session) ActiveCart()
    {
        var shopper = Engine.Apply(ShopperState.New("cust-42-000123"), Parse<ConsentEvent>(new ConsentGranted
        {
            EventId = "evt-42-000123-900", ShopperId = "cust-42-000123", EventTime = At - TimeSpan.FromDays(3), Purpose = "cart_recovery",
            Channel = "email", Source = "checkout_form", WordingVersion = "v3",
        }), Watermark).Shopper;
        SessionState? session = null;
        foreach (var evt in new SessionEvent[]
        {
            new SessionStarted { EventId = "evt-42-000123-000", ShopperId = "cust-42-000123", SessionId = "sess-42-000123-0", EventTime = At, Channel = "web", TimeZone = "Europe/Berlin", Currency = "EUR" },
            Add(1), Add(2),
            new CheckoutStarted { EventId = "evt-42-000123-003", ShopperId = "cust-42-000123", SessionId = "sess-42-000123-0", EventTime = At + TimeSpan.FromSeconds(3), Channel = "web" },
        })
        {
            var d = Engine.Apply(shopper, session, Parse<SessionEvent>(evt), Watermark);
            (shopper, session) = (d.Shopper, d.Session);
        }
        return (shopper, session!);
    }

    /// <summary>The same cart after the inactivity deadline: abandoned, waiting for reminder step 1.</summary>
    public static (ShopperState Shopper, SessionState Session, Deadline Step) Abandoned()
    {
        var (shopper, session) = ActiveCart();
        var inactivity = Engine.Deadlines(session).First(d => d.Kind == DeadlineKind.Inactivity);
        var d = Engine.Fire(shopper, session, inactivity);
        var waiting = d.Session!;
        return (d.Shopper, waiting, Engine.Deadlines(waiting).Single());
    }

    public static readonly RecoveryTrigger Trigger = new()
    {
        TriggerId = "trg-7d1c0e4b9a2f4c55", Kind = TriggerKinds.Reminder, ShopperId = "cust-42-000123", SessionId = "sess-42-000123-0", Step = 1,
        Channel = "email", Score = 0.8123, TopFactors = ["idle:+1.50", "funnel_step:+0.80", "cart_value:+0.41"], Reason = DecisionReason.ReminderStep,
        CartLines = [new CartLine { Sku = "shoes-0001", Name = "shoes item", UnitPrice = 89.50m, Quantity = 1 }, new CartLine { Sku = "shoes-0002", Name = "shoes item", UnitPrice = 89.50m, Quantity = 1 }],
        CartValue = 179m, Currency = "EUR", ConsentEventId = "evt-42-000123-900", PolicyVersion = "2026-11-01", Variant = "control", Segment = "default",
        OriginChannel = "web", FunnelStep = "checkout", EventTime = At + TimeSpan.FromMinutes(95), DueTime = At + TimeSpan.FromMinutes(90),
    };

    public static readonly AuditRecord Audit = new()
    {
        AuditId = "aud-1f0e9d8c7b6a5948", ShopperId = "cust-42-000123", SessionId = "sess-42-000123-0", Decision = AuditDecisions.Triggered,
        Reason = DecisionReason.ReminderStep, Step = 1, Channel = "email", Evidence = ["evt-42-000123-900", "evt-42-000123-003"], Score = 0.8123,
        TopFactors = ["idle:+1.50", "funnel_step:+0.80", "cart_value:+0.41"], PolicyVersion = "2026-11-01", Detail = "trigger_id=trg-7d1c0e4b9a2f4c55",
        EventTime = At + TimeSpan.FromMinutes(95),
    };

    public static readonly SessionOutcome Outcome = new()
    {
        SessionId = "sess-42-000123-0", ShopperId = "cust-42-000123", OriginChannel = "web", Segment = "default", FurthestStep = "checkout",
        CartValue = 179m, Currency = "EUR", ItemCount = 2, Outcome = Outcomes.Abandoned, AbandonedAt = At + TimeSpan.FromMinutes(33),
        PolicyVersion = "2026-11-01", Variant = "control", StartedAt = At, EndedAt = At + TimeSpan.FromHours(25),
    };
}
