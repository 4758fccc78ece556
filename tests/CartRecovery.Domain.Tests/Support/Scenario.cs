using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;

namespace CartRecovery.Domain.Tests.Support;

/// <summary>
/// Drives <see cref="RecoveryEngine"/> the way the partition actor does, without actors: one partition-wide
/// watermark; for each input event the watermark observes its event time, then every deadline of the event's
/// shopper that this watermark has passed fires (earliest first across the shopper's sessions), then the event
/// is applied. With <see cref="FireAllAfterEachEvent"/> every shopper's due deadlines also fire after each
/// event, as the actor does at the end of each batch (here: a batch per event). <see cref="AdvanceTo"/> is an
/// idle partition following the wall clock; <see cref="Drain"/> is the end of input (end of event time).
/// Every trigger, audit row and outcome is collected in order.
/// </summary>
public sealed class Scenario
{
    private readonly Dictionary<string, ShopperState> _shoppers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SortedDictionary<string, SessionState>> _sessions = new(StringComparer.Ordinal);

    public Scenario(RecoveryPolicy? policy = null, bool fireAllAfterEachEvent = true)
    {
        Engine = new RecoveryEngine(policy ?? Policies.NoHoldout);
        FireAllAfterEachEvent = fireAllAfterEachEvent;
    }

    public RecoveryEngine Engine { get; }
    public RecoveryPolicy Policy => Engine.Policy;
    public bool FireAllAfterEachEvent { get; }
    public Watermark Watermark { get; private set; } = Watermark.Start;

    public List<RecoveryTrigger> Triggers { get; } = [];
    public List<AuditRecord> Audits { get; } = [];
    public List<SessionOutcome> Outcomes { get; } = [];
    public List<OutcomeRecord> OutcomeRows { get; } = [];
    public List<ShopperProfileRow> ProfileRows { get; } = [];

    public static Scenario Play(IEnumerable<ShopperEvent> events, RecoveryPolicy? policy = null, bool drain = true)
    {
        var scenario = new Scenario(policy).Run(events);
        return drain ? scenario.Drain() : scenario;
    }

    public Scenario Run(IEnumerable<ShopperEvent> events)
    {
        foreach (var evt in events) Feed(evt);
        return this;
    }

    public Scenario Feed(ShopperEvent evt)
    {
        Watermark = Watermark.Observe(evt.EventTime, Policy.AllowedLateness);
        FireDue(evt.ShopperId, Watermark, before: evt.EventTime);
        var shopper = Shopper(evt.ShopperId);
        switch (evt)
        {
            case ConsentEvent consent:
                Record(Engine.Apply(shopper, consent, Watermark), null);
                break;
            case PaymentPending pending:
                Record(Engine.Apply(shopper, pending, Watermark), null);
                break;
            case OutcomeEvent outcome:
                Record(Engine.Apply(shopper, outcome, Watermark), null);
                break;
            case SessionEvent sessionEvent:
                Record(Engine.Apply(shopper, Session(evt.ShopperId, sessionEvent.SessionId), sessionEvent, Watermark), sessionEvent.SessionId);
                break;
        }
        if (FireAllAfterEachEvent) FireAllDue();
        return this;
    }

    /// <summary>Live mode with no traffic: the watermark follows the wall clock and due timers fire.</summary>
    public Scenario AdvanceTo(DateTimeOffset wallClock)
    {
        Watermark = Watermark.AdvanceTo(wallClock, Policy.AllowedLateness);
        FireAllDue();
        return this;
    }

    /// <summary>End of input as end of event time: every pending timer fires.</summary>
    public Scenario Drain()
    {
        Watermark = Watermark.EndOfTime;
        FireAllDue();
        return this;
    }

    public ShopperState Shopper(string shopperId) =>
        _shoppers.TryGetValue(shopperId, out var shopper) ? shopper : _shoppers[shopperId] = ShopperState.New(shopperId);

    public SessionState? Session(string shopperId, string sessionId) =>
        _sessions.TryGetValue(shopperId, out var sessions) && sessions.TryGetValue(sessionId, out var session) ? session : null;

    public int LiveSessions => _sessions.Values.Sum(s => s.Count);

    private void FireAllDue()
    {
        var waiting = _shoppers.Values.Where(s => Engine.ShopperDeadline(s) is not null).Select(s => s.ShopperId);
        foreach (var shopperId in _sessions.Keys.Union(waiting).Order(StringComparer.Ordinal).ToList()) FireDue(shopperId, Watermark);
    }

    /// <summary>Fires the shopper's due deadlines one at a time, earliest first: the shopper's own (win-back) first, then
    /// across its sessions (ties: the shopper's own, then the lowest session id, as the actor does), until none is due.</summary>
    private void FireDue(string shopperId, Watermark watermark, DateTimeOffset? before = null)
    {
        while (true)
        {
            var own = Engine.DueShopperDeadline(Shopper(shopperId), watermark, before);
            (string SessionId, Deadline Deadline)? best = null;
            if (_sessions.TryGetValue(shopperId, out var sessions))
                foreach (var (sessionId, session) in sessions)
                    if (Engine.DueDeadline(session, watermark, before) is { } due && (best is null || due.At < best.Value.Deadline.At))
                        best = (sessionId, due);
            if (own is { } mine && (best is null || mine.At <= best.Value.Deadline.At))
            {
                Record(Engine.Fire(Shopper(shopperId), mine), null);
                continue;
            }
            if (best is not { } next) return;
            Record(Engine.Fire(Shopper(shopperId), sessions![next.SessionId], next.Deadline), next.SessionId);
        }
    }

    private void Record(Decision decision, string? sessionId)
    {
        var shopperId = decision.Shopper.ShopperId;
        _shoppers[shopperId] = decision.Shopper;
        if (sessionId is not null)
        {
            if (decision.Session is { } session)
            {
                if (!_sessions.TryGetValue(shopperId, out var sessions))
                    _sessions[shopperId] = sessions = new SortedDictionary<string, SessionState>(StringComparer.Ordinal);
                sessions[sessionId] = session;
            }
            else if (_sessions.TryGetValue(shopperId, out var sessions) && sessions.Remove(sessionId) && sessions.Count == 0)
            {
                _sessions.Remove(shopperId);
            }
        }
        Triggers.AddRange(decision.Effects.Triggers);
        Audits.AddRange(decision.Effects.Audits);
        Outcomes.AddRange(decision.Effects.Outcomes);
        OutcomeRows.AddRange(decision.Effects.OutcomeRows);
        ProfileRows.AddRange(decision.Effects.Profiles);
    }

    // ------------------------------------------------------------ queries

    public List<RecoveryTrigger> Reminders => [.. Triggers.Where(t => t.Kind == TriggerKinds.Reminder)];
    public List<RecoveryTrigger> Chats => [.. Triggers.Where(t => t.Kind == TriggerKinds.ProactiveChat)];
    public List<RecoveryTrigger> OfKind(string kind) => [.. Triggers.Where(t => t.Kind == kind)];
    public List<AuditRecord> AuditsOfKind(string kind) => [.. Audits.Where(a => a.Kind == kind)];

    public List<AuditRecord> AuditsOf(string decision, string? reason = null) =>
        [.. Audits.Where(a => a.Decision == decision && (reason is null || a.Reason == reason))];

    /// <summary>Triggers, audit rows and outcomes as JSON lines sorted by their ids: what a replay must reproduce.</summary>
    public IReadOnlyList<string> CanonicalOutputs() =>
    [
        .. Triggers.OrderBy(t => t.TriggerId, StringComparer.Ordinal).Select(t => "trigger " + ContractJson.Serialize(t)),
        .. Audits.OrderBy(a => a.AuditId, StringComparer.Ordinal).Select(a => "audit " + ContractJson.Serialize(a)),
        .. Outcomes.Select(ContractJson.Serialize).Order(StringComparer.Ordinal).Select(o => "outcome " + o),
    ];
}
