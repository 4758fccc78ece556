using CartRecovery.Contracts.Events;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.Time;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Tests.Support;
using Xunit;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Suppression;

public class HoldoutShareTests
{
    /// <summary>Abandons <paramref name="carts"/> distinct carts through the engine (add a line, exit) and returns
    /// the ids of the sessions marked holdout.</summary>
    private static HashSet<string> HeldOut(RecoveryPolicy policy, int carts)
    {
        var engine = new RecoveryEngine(policy);
        var held = new HashSet<string>(StringComparer.Ordinal);
        var watermark = Watermark.Start.Observe(T0 + Min(1), policy.AllowedLateness);
        for (var i = 0; i < carts; i++)
        {
            var shopperId = $"cust-{i:D5}";
            var sessionId = $"sess-{i:D5}";
            var add = new CartLineAdded
            {
                EventId = $"{shopperId}-e1", ShopperId = shopperId, SessionId = sessionId, EventTime = T0,
                Line = new CartLine { Sku = "shoes-0001", UnitPrice = 40m, Quantity = 1 },
            };
            var exit = new SessionExited { EventId = $"{shopperId}-e2", ShopperId = shopperId, SessionId = sessionId, EventTime = T0 + Min(1) };
            var added = engine.Apply(ShopperState.New(shopperId), null, add, watermark);
            var exited = engine.Apply(added.Shopper, added.Session, exit, watermark);
            var session = exited.Session!;
            Assert.Equal(SessionPhase.Abandoned, session.Phase);
            var audit = Assert.Single(exited.Effects.Audits);
            Assert.Contains(session.Holdout ? "holdout=1" : "holdout=0", audit.Detail);
            if (session.Holdout) held.Add(sessionId);
        }
        return held;
    }

    [Fact]
    public void About_ten_percent_of_ten_thousand_carts_are_held_out()
    {
        var held = HeldOut(Policies.Default, 10_000);

        Assert.InRange(held.Count / 10_000.0, 0.085, 0.115);
    }

    [Fact]
    public void Holdout_assignment_is_deterministic_and_keyed_by_policy_version()
    {
        var first = HeldOut(Policies.Default, 2_000);
        var again = HeldOut(Policies.Default, 2_000);
        var otherVersion = HeldOut(Policies.Default with { Version = "default-2026-12" }, 2_000);

        Assert.Equal(first, again);
        Assert.NotEqual(first, otherVersion);
        Assert.InRange(otherVersion.Count / 2_000.0, 0.07, 0.13);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.25)]
    [InlineData(1.0)]
    public void The_holdout_share_comes_from_the_policy(double share)
    {
        var held = HeldOut(Policies.Default with { HoldoutShare = share }, 4_000);

        Assert.InRange(held.Count / 4_000.0, share - 0.03, share + 0.03);
    }
}
