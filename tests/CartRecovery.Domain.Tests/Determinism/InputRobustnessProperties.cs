using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.Tests.Support;
using CartRecovery.Traffic;
using FsCheck.Xunit;
using Xunit;

namespace CartRecovery.Domain.Tests.Determinism;

/// <summary>
/// Properties over generated traffic (the storefront simulator) for input that real producers deliver: events
/// delivered twice, events delayed within the allowed lateness, and purchases after an abandonment.
/// </summary>
public class InputRobustnessProperties
{
    private static readonly RecoveryPolicy Policy = Policies.ThreeSteps(perCart: 2);

    private static List<ShopperEvent> Traffic(int seed) =>
        [.. StorefrontSimulator.Generate(new SimulationSettings { Shoppers = 40, Seed = seed }).Select(g => g.Event)];

    private static Scenario Play(IEnumerable<ShopperEvent> events) => new Scenario(Policy).Run(events).Drain();

    private static List<string> Messages(Scenario scenario) =>
        [.. scenario.Reminders.Select(t => $"{t.TriggerId} {t.CartValue}").Order(StringComparer.Ordinal)];

    /// <summary>Every trigger, suppression and session outcome: what a redelivery must not change.</summary>
    private static List<string> Decisions(Scenario scenario) =>
        [.. scenario.CanonicalOutputs().Where(row => !row.StartsWith("audit ", StringComparison.Ordinal)),
         .. scenario.AuditsOf(AuditDecisions.Suppressed).Select(a => a.AuditId).Order(StringComparer.Ordinal)];

    [Property(MaxTest = 20)]
    public void Delivering_any_events_twice_changes_no_trigger_suppression_or_outcome(ushort seed, int pickSeed)
    {
        var events = Traffic(seed);
        var expected = Decisions(Play(events));
        var random = new Random(pickSeed);
        var redelivered = events.ToList();
        for (var k = 0; k < 10; k++)
        {
            var original = random.Next(events.Count);
            var copyAt = Math.Min(redelivered.Count, redelivered.IndexOf(events[original]) + 1 + random.Next(30));
            redelivered.Insert(copyAt, events[original]);
        }

        var actual = Play(redelivered);

        // A copy of an event older than the dedup horizon (the simulator backdates consent grants by days) is applied
        // again, harmlessly: the grant is superseded by itself. Every other copy is audited as a duplicate.
        Assert.NotEmpty(actual.AuditsOf(AuditDecisions.DuplicateEvent));
        Assert.Equal(expected, Decisions(actual));
    }

    [Property(MaxTest = 40)]
    public void Delaying_any_event_within_the_allowed_lateness_never_adds_a_message(ushort seed, int pickSeed)
    {
        var events = Traffic(seed);
        var expected = Messages(Play(events));
        var random = new Random(pickSeed);
        var delayed = events.ToList();
        var moved = 0;
        for (var k = 0; k < 20; k++)
        {
            // Move one event past the following events whose time is still within the lateness of it: when it arrives
            // the settled watermark has not passed it, so it is delayed, not late.
            var from = random.Next(delayed.Count - 1);
            var evt = delayed[from];
            var limit = evt.EventTime + Policy.AllowedLateness;
            if (delayed.Take(from).Any(e => e.EventTime >= limit)) continue; // already behind: it would arrive late
            var to = from;
            while (to + 1 < delayed.Count && delayed[to + 1].EventTime < limit && random.Next(4) != 0)
                to++;
            if (to == from) continue;
            delayed.RemoveAt(from);
            delayed.Insert(to, evt);
            moved++;
        }

        var actual = Play(delayed);

        Assert.True(moved > 0, "the delays must move something");
        Assert.Empty(actual.AuditsOf(AuditDecisions.LateEvent, DecisionReason.BeyondAllowedLateness));
        Assert.Equal(expected, Messages(actual));
    }

    [Property(MaxTest = 20)]
    public void An_order_after_an_abandonment_is_never_followed_by_a_reminder_for_that_cart_or_the_items_it_bought(ushort seed, int orderSeed)
    {
        var events = Traffic(seed);
        var random = new Random(orderSeed);
        // Orders on another device, some without lines, placed a random while after a cart line was added.
        var adds = events.OfType<CartLineAdded>().GroupBy(a => a.ShopperId).Select(g => g.First()).ToList();
        var orders = new List<OrderPlaced>();
        foreach (var add in adds.Where(_ => random.Next(3) == 0))
        {
            var at = add.EventTime + TimeSpan.FromMinutes(31 + random.Next(60 * 30));
            IReadOnlyList<CartLine> lines = random.Next(2) == 0 ? [add.Line] : [];
            orders.Add(new OrderPlaced
            {
                EventId = $"extra-order-{orders.Count}", ShopperId = add.ShopperId, SessionId = $"extra-device-{orders.Count}", EventTime = at,
                OrderId = $"extra-{orders.Count}", Lines = lines, Total = lines.Sum(l => l.Total),
            });
        }
        var input = events.ToList();
        foreach (var order in orders)
        {
            var at = input.FindIndex(e => e.EventTime > order.EventTime);
            input.Insert(at < 0 ? input.Count : at, order);
        }

        var scenario = Play(input);

        var allOrders = input.OfType<OrderPlaced>().Concat<SessionEvent>(input.OfType<PaymentAuthorized>()).ToList();
        var abandonments = scenario.AuditsOf(AuditDecisions.Abandoned);
        foreach (var reminder in scenario.Reminders)
        {
            var abandonedAt = abandonments.Where(a => a.ShopperId == reminder.ShopperId && a.SessionId == reminder.SessionId && a.EventTime <= reminder.EventTime)
                .Max(a => a.EventTime);
            foreach (var order in allOrders.Where(o => o.ShopperId == reminder.ShopperId && o.EventTime <= reminder.EventTime))
            {
                Assert.False(order.SessionId != reminder.SessionId && order.EventTime >= abandonedAt,
                    $"reminder {reminder.TriggerId} at {reminder.EventTime:O} after order {order.EventId} at {order.EventTime:O} (cart left {abandonedAt:O})");
                if (order is OrderPlaced placed && order.EventTime > reminder.EventTime - Policy.PurchaseMemory)
                    Assert.DoesNotContain(reminder.CartLines, l => placed.Lines.Any(b => b.Sku == l.Sku));
            }
        }
        Assert.NotEmpty(scenario.Reminders);
    }
}
