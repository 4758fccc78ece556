using BenchmarkDotNet.Attributes;
using CartRecovery.Contracts.Events;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;
using CartRecovery.Traffic;

namespace CartRecovery.Benchmarks;

/// <summary>
/// The pure decision path per event, as the session actor runs it: <see cref="RecoveryEngine.Apply(ShopperState, SessionState?, SessionEvent, Watermark)"/>
/// then <see cref="RecoveryEngine.Deadlines"/> of the live session. Results are per event (OperationsPerInvoke), so
/// ns and bytes compare directly with the harness's per-event figures (docs/performance.md, session 10).
/// </summary>
[MemoryDiagnoser]
public class DecisionPathBenchmarks
{
    private readonly RecoveryEngine _engine = Samples.Engine;
    private ShopperState _shopper = null!;
    private SessionEvent[] _session = null!;
    private ShopperEvent[] _traffic = null!;

    private const int SessionEvents = 14;
    private const int TrafficShoppers = 100;
    /// <summary>Events the generator makes for <see cref="TrafficShoppers"/> shoppers, seed 42 (checked in <see cref="Setup"/>).</summary>
    private const int TrafficEvents = 1103;

    [GlobalSetup]
    public void Setup()
    {
        _shopper = Samples.ActiveCart().Shopper;
        _session = SessionStream();
        if (_session.Length != SessionEvents) throw new InvalidOperationException($"the session stream has {_session.Length} events");
        _traffic = [.. StorefrontSimulator.Generate(new SimulationSettings { Shoppers = TrafficShoppers, Seed = 42 }).Select(g => Samples.Parse<ShopperEvent>(g.Event))];
        if (_traffic.Length != TrafficEvents) throw new InvalidOperationException($"the traffic has {_traffic.Length} events");
    }

    /// <summary>One shopper's session from its start to a failed payment: views with categories, adds, a removal,
    /// checkout, each event applied and the session's deadlines computed, as the session actor does.</summary>
    [Benchmark(OperationsPerInvoke = SessionEvents)]
    public int ApplySessionStream()
    {
        var shopper = _shopper;
        SessionState? session = null;
        var deadlines = 0;
        foreach (var evt in _session)
        {
            var decision = _engine.Apply(shopper, session, evt, Samples.Watermark);
            (shopper, session) = (decision.Shopper, decision.Session);
            if (session is { Phase: not SessionPhase.Abandoned } live) deadlines += _engine.Deadlines(live).Length;
        }
        return deadlines;
    }

    /// <summary>The generator's traffic (100 shoppers, seed 42) replayed through the engine as the partition does it, per
    /// input event: every session and consent event applied, every deadline fired when the watermark (or the shopper's next
    /// event) passes it, the rest at the end of input. A realistic mix of views, carts, abandonments, reminders and orders.</summary>
    [Benchmark(OperationsPerInvoke = TrafficEvents)]
    public int SimulatedTrafficPerEvent()
    {
        var replay = new Replay(_engine);
        foreach (var evt in _traffic) replay.Feed(evt);
        replay.Drain();
        return replay.Rows;
    }

    private static SessionEvent[] SessionStream()
    {
        var at = Samples.At;
        var i = 100;
        SessionEvent Next(SessionEvent e) => e with { EventId = $"evt-42-000123-{i++:D3}", EventTime = at = at + TimeSpan.FromSeconds(40) };
        var start = new SessionStarted
        {
            EventId = "", ShopperId = "cust-42-000123", SessionId = "sess-42-000123-7", EventTime = at, Channel = "web",
            TimeZone = "Europe/Berlin", Currency = "EUR",
        };
        ProductViewed View(string sku, string category) => Samples.View() with { SessionId = start.SessionId, Sku = sku, Category = category };
        CartLineAdded Add(string sku, string category, decimal price) => Samples.Add() with
        {
            SessionId = start.SessionId, Category = category, Line = new CartLine { Sku = sku, Name = $"{category} item", UnitPrice = price, Quantity = 1 },
        };
        SessionEvent[] events =
        [
            Next(start),
            Next(View("shoes-0042", "shoes")), Next(View("shoes-0043", "shoes")), Next(View("jackets-0007", "jackets")),
            Next(Add("shoes-0042", "shoes", 89.50m)), Next(View("lamps-0101", "lamps")), Next(Add("jackets-0007", "jackets", 129m)),
            Next(View("books-0310", "books")), Next(Add("books-0310", "books", 19.90m)),
            Next(new CartLineRemoved { EventId = "", ShopperId = start.ShopperId, SessionId = start.SessionId, EventTime = at, Channel = "web", Sku = "books-0310" }),
            Next(new CheckoutStarted { EventId = "", ShopperId = start.ShopperId, SessionId = start.SessionId, EventTime = at, Channel = "web" }),
            Next(new CheckoutStepCompleted { EventId = "", ShopperId = start.ShopperId, SessionId = start.SessionId, EventTime = at, Channel = "web", Step = "shipping" }),
            Next(new CheckoutStepCompleted { EventId = "", ShopperId = start.ShopperId, SessionId = start.SessionId, EventTime = at, Channel = "web", Step = "payment" }),
            Next(new PaymentFailed { EventId = "", ShopperId = start.ShopperId, SessionId = start.SessionId, EventTime = at, Channel = "web", ErrorCode = "card_declined" }),
        ];
        // As the worker sees them: parsed from their JSON (fresh strings per event).
        return [.. events.Select(e => Samples.Parse<SessionEvent>(e))];
    }

    /// <summary>A minimal partition: one watermark, the shoppers' states, their live sessions, deadlines fired earliest
    /// first per shopper before the shopper's next event and at the end of input (docs: tests' Scenario, without the rows).</summary>
    private sealed class Replay(RecoveryEngine engine)
    {
        private readonly Dictionary<string, ShopperState> _shoppers = new(StringComparer.Ordinal);
        private readonly Dictionary<string, SortedDictionary<string, SessionState>> _sessions = new(StringComparer.Ordinal);
        private Watermark _watermark = Watermark.Start;

        public int Rows { get; private set; }

        public void Feed(ShopperEvent evt)
        {
            _watermark = _watermark.Observe(evt.EventTime, engine.Policy.AllowedLateness);
            FireDue(evt.ShopperId, before: evt.EventTime);
            var shopper = Shopper(evt.ShopperId);
            switch (evt)
            {
                case ConsentEvent consent: Record(engine.Apply(shopper, consent, _watermark), null); break;
                case PaymentPending pending: Record(engine.Apply(shopper, pending, _watermark), null); break;
                case OutcomeEvent outcome: Record(engine.Apply(shopper, outcome, _watermark), null); break;
                case SessionEvent e:
                    var session = _sessions.TryGetValue(e.ShopperId, out var live) && live.TryGetValue(e.SessionId, out var s) ? s : null;
                    var decision = engine.Apply(shopper, session, e, _watermark);
                    Record(decision, e.SessionId);
                    // The session actor computes the live session's deadlines after every event.
                    if (decision.Session is { Phase: not SessionPhase.Abandoned } next) Rows += engine.Deadlines(next).Length;
                    break;
            }
        }

        public void Drain()
        {
            _watermark = Watermark.EndOfTime;
            foreach (var shopperId in _shoppers.Keys.ToList()) FireDue(shopperId);
        }

        private ShopperState Shopper(string id) => _shoppers.TryGetValue(id, out var s) ? s : _shoppers[id] = ShopperState.New(id);

        private void FireDue(string shopperId, DateTimeOffset? before = null)
        {
            while (true)
            {
                var own = engine.DueShopperDeadline(Shopper(shopperId), _watermark, before);
                (string SessionId, Deadline Deadline)? best = null;
                if (_sessions.TryGetValue(shopperId, out var sessions))
                    foreach (var (sessionId, session) in sessions)
                        if (engine.DueDeadline(session, _watermark, before) is { } due && (best is null || due.At < best.Value.Deadline.At))
                            best = (sessionId, due);
                if (own is { } mine && (best is null || mine.At <= best.Value.Deadline.At))
                {
                    Record(engine.Fire(Shopper(shopperId), mine), null);
                    continue;
                }
                if (best is not { } next) return;
                Record(engine.Fire(Shopper(shopperId), sessions![next.SessionId], next.Deadline), next.SessionId);
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
                    if (!_sessions.TryGetValue(shopperId, out var sessions)) _sessions[shopperId] = sessions = new(StringComparer.Ordinal);
                    sessions[sessionId] = session;
                }
                else if (_sessions.TryGetValue(shopperId, out var sessions) && sessions.Remove(sessionId) && sessions.Count == 0)
                {
                    _sessions.Remove(shopperId);
                }
            }
            var effects = decision.Effects;
            Rows += effects.Triggers.Length + effects.Audits.Length + effects.Outcomes.Length + effects.Profiles.Length;
        }
    }
}
