using CartRecovery.Contracts.Events;
using CartRecovery.Domain.Tests.Support;
using CartRecovery.Traffic;
using FsCheck.Xunit;
using Xunit;

namespace CartRecovery.Domain.Tests.Keys;

/// <summary>Over generated traffic whose storefront reuses session ids across shoppers (every session id cut down to
/// its shopper-independent part), no two different triggers, audit rows or session outcomes share a key.</summary>
public class UniqueIdProperties
{
    /// <summary>Generated traffic with session ids made to collide: "sess-42-000001-0" becomes "sess-0" for every shopper.</summary>
    private static List<ShopperEvent> CollidingSessions(int seed) =>
        [.. StorefrontSimulator.Generate(new SimulationSettings { Shoppers = 40, Seed = seed }).Select(g => g.Event switch
        {
            // Every session event, whatever its type (a type added later is covered too).
            SessionEvent e => e with { SessionId = Collide(e.SessionId) },
            var e => e,
        })];

    private static string Collide(string sessionId) => "sess-" + sessionId[(sessionId.LastIndexOf('-') + 1)..];

    [Property(MaxTest = 10)]
    public void Colliding_session_ids_never_make_two_outputs_share_a_key(ushort seed)
    {
        var events = CollidingSessions(seed);
        Assert.True(events.OfType<SessionStarted>().GroupBy(e => e.SessionId).Any(g => g.Select(e => e.ShopperId).Distinct().Count() > 1),
            "the traffic must reuse session ids across shoppers");

        var scenario = Scenario.Play(events, Policies.NoHoldout);

        Assert.Equal(scenario.Triggers.Count, scenario.Triggers.Select(t => t.TriggerId).Distinct().Count());
        Assert.Equal(scenario.Audits.Count, scenario.Audits.Select(a => a.AuditId).Distinct().Count());
        // session_outcomes' key; a session's row re-emitted by a late order carries the same key on purpose (it replaces).
        var keys = scenario.Outcomes.GroupBy(o => (o.StartedAt.Date, o.OriginChannel, o.ShopperId, o.SessionId, o.StartedAt));
        Assert.All(keys, g => Assert.All(g.Skip(1), o => Assert.NotNull(o.OrderedAt)));
        Assert.Equal(events.OfType<SessionStarted>().Select(e => (e.ShopperId, e.SessionId, e.EventTime)).Distinct().Count(),
            scenario.Outcomes.Select(o => (o.ShopperId, o.SessionId, o.StartedAt)).Distinct().Count());
    }
}
