using System.Text.Json;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Identity;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Tests.Support;
using CartRecovery.Domain.Time;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Identity;

/// <summary>Where a partition routes identity commands and the events of linked ids: every route, from the links and
/// the command alone.</summary>
public sealed class IdentityRoutingTests
{
    private static readonly RecoveryEngine Engine = new(Policies.NoHoldout);
    private static readonly IdentityMerger Merger = new(Engine);
    private static readonly HandOver Readable = new(ShopperState.New("dev"), []);

    // The state a hand-over carries is read by the caller's format: here "{}" reads as a hand-over, anything else does not.
    private static readonly IdentityRouting Routing = new(Merger, state => state.ValueKind == JsonValueKind.Object ? Readable : null);

    private static readonly IdentityLinks DevLinked = IdentityLinks.Empty.Link("dev", new IdentityAlias("cust", "link-1", T0, T0));

    [Fact]
    public void An_event_of_an_id_linked_to_nobody_is_its_own_shoppers_to_decide()
    {
        var added = Added("dev", T0);
        Assert.False(IdentityRouting.Routes(IdentityLinks.Empty, "dev", added));
        Assert.Null(Routing.Route(IdentityLinks.Empty, "dev", added, 0, Watermark.Start));
        Assert.Null(Routing.Route(IdentityLinks.Empty, "dev", Erasure("dev", T0), 0, Watermark.Start));
        // An alias lapses: a device silent for longer than the retention is its own shopper again.
        var later = Added("dev", T0 + IdentityLinks.Retention + TimeSpan.FromDays(1));
        Assert.False(IdentityRouting.Routes(DevLinked, "dev", later));
        Assert.Null(Routing.Route(DevLinked, "dev", later, 0, Watermark.Start));
    }

    [Fact]
    public void A_first_link_hands_the_id_over_and_links_it_to_the_customer()
    {
        var link = Link("link-1", "cust", T0);
        Assert.True(IdentityRouting.Routes(IdentityLinks.Empty, "dev", link));

        var route = Assert.IsType<IdentityRoute.FirstLink>(Routing.Route(IdentityLinks.Empty, "dev", link, 0, Watermark.Start));
        Assert.Same(link, route.Link);
        Assert.Equal(new IdentityAlias("cust", "link-1", T0, T0), route.Links.Resolve("dev", T0.AddMinutes(1)));
        Assert.Empty(route.Links.Applied);
    }

    [Fact]
    public void A_link_published_under_the_customers_key_goes_to_the_anonymous_ids_key_unchanged()
    {
        var link = Link("link-1", "cust", T0) with { ShopperId = "cust" };

        var route = Assert.IsType<IdentityRoute.PassOn>(Routing.Route(IdentityLinks.Empty, "cust", link, 0, Watermark.Start));
        Assert.Equal(link with { ShopperId = "dev" }, route.Onward);
        Assert.Equal("link-1", route.Onward.EventId); // same id: the hand-over's id is the same whichever key was used
        Assert.Same(IdentityLinks.Empty, route.Links);
    }

    [Fact]
    public void A_repeated_link_moves_nothing_and_keeps_the_alias_alive()
    {
        var again = Link("link-2", "cust", T0.AddDays(30));

        var route = Assert.IsType<IdentityRoute.Audited>(Routing.Route(DevLinked, "dev", again, 0, Watermark.Start));
        Assert.Equal(("dev", IdentityMerger.Decisions.Linked, IdentityMerger.Reasons.AlreadyLinked), (route.Audit.ShopperId, route.Audit.Decision, route.Audit.Reason));
        Assert.Equal(["link-2", "link-1"], route.Audit.Evidence);
        // Still the first link's alias, used at the repeated link's time.
        Assert.Equal(new IdentityAlias("cust", "link-1", T0, T0.AddDays(30)), route.Links.Resolve("dev", T0.AddDays(31)));
    }

    [Fact]
    public void A_link_to_another_customer_sends_the_ids_later_events_there()
    {
        var relink = Link("link-2", "other", T0.AddDays(1));

        var route = Assert.IsType<IdentityRoute.Audited>(Routing.Route(DevLinked, "dev", relink, 0, Watermark.Start));
        Assert.Equal(IdentityMerger.Reasons.Relinked, route.Audit.Reason);
        // Other shoppers by their pseudonym only.
        Assert.Equal($"customer={Merger.Pseudonym("other")} previous_customer={Merger.Pseudonym("cust")} source=login", route.Audit.Detail);
        Assert.Equal(new IdentityAlias("other", "link-2", T0.AddDays(1), T0.AddDays(1)), route.Links.Resolve("dev", T0.AddDays(2)));

        var next = Assert.IsType<IdentityRoute.PassOn>(Routing.Route(route.Links, "dev", Added("dev", T0.AddDays(2)), 0, Watermark.Start));
        Assert.Equal("other", next.Onward.ShopperId);
    }

    [Fact]
    public void An_event_of_a_linked_id_is_forwarded_to_the_customer_with_an_id_of_its_own()
    {
        var added = Added("dev", T0.AddDays(2));
        Assert.True(IdentityRouting.Routes(DevLinked, "dev", added));

        var route = Assert.IsType<IdentityRoute.PassOn>(Routing.Route(DevLinked, "dev", added, 2, Watermark.Start));
        var forwarded = Assert.IsType<IdentityForwarded>(route.Onward);
        Assert.Equal((RecoveryIds.IdentityForwarded("add-dev", "cust"), "cust", "dev", 2, added.EventTime),
            (forwarded.EventId, forwarded.ShopperId, forwarded.AnonymousId, forwarded.Hops, forwarded.EventTime));
        Assert.Same(added, forwarded.Event);
        Assert.Equal(T0.AddDays(2), route.Links.Resolve("dev", T0.AddDays(2))!.LastUsedAt); // used: lives on from here

        // The same event routed again (a replay) is passed on as the same record.
        var again = Assert.IsType<IdentityRoute.PassOn>(Routing.Route(DevLinked, "dev", added, 2, Watermark.Start));
        Assert.Equal(forwarded.EventId, again.Onward.EventId);
        // An erasure of the id is passed on the same way: the person is erased.
        var erasure = Assert.IsType<IdentityRoute.PassOn>(Routing.Route(DevLinked, "dev", Erasure("dev", T0.AddDays(2)), 0, Watermark.Start));
        Assert.IsType<ErasureRequested>(Assert.IsType<IdentityForwarded>(erasure.Onward).Event);
    }

    [Fact]
    public void A_hand_over_for_a_customer_linked_onwards_is_passed_on_with_one_more_hop()
    {
        var links = IdentityLinks.Empty.Link("cust", new IdentityAlias("cust-2", "link-9", T0, T0));
        var record = HandOverRecord("merge-1", T0.AddMinutes(3)) with { Hops = 1 };

        var route = Assert.IsType<IdentityRoute.PassOn>(Routing.Route(links, "cust", record, record.Hops, Watermark.Start));
        var onward = Assert.IsType<IdentityMerged>(route.Onward);
        Assert.Equal((RecoveryIds.IdentityMergedPassedOn("merge-1", "cust-2"), "cust-2", "cust-2", 2, "link-1"),
            (onward.EventId, onward.ShopperId, onward.CustomerId, onward.Hops, onward.LinkEventId));
    }

    [Fact]
    public void A_record_passed_on_more_than_the_hop_limit_is_refused_as_a_link_cycle()
    {
        var atLimit = Assert.IsType<IdentityRoute.PassOn>(Routing.Route(DevLinked, "dev", Added("dev", T0), IdentityRules.MaxHops, Watermark.Start));
        Assert.Equal(IdentityRules.MaxHops, ((IdentityForwarded)atLimit.Onward).Hops);

        var route = Assert.IsType<IdentityRoute.Audited>(Routing.Route(DevLinked, "dev", Added("dev", T0), IdentityRules.MaxHops + 1, Watermark.Start));
        Assert.Equal(("dev", IdentityMerger.Decisions.Merged, IdentityMerger.Reasons.LinkCycle), (route.Audit.ShopperId, route.Audit.Decision, route.Audit.Reason));
        Assert.Equal(["add-dev", "link-1"], route.Audit.Evidence);
        Assert.Equal($"not passed on to customer={Merger.Pseudonym("cust")} after {IdentityRules.MaxHops} hops", route.Audit.Detail);
        Assert.Same(DevLinked, route.Links); // not used: nothing was passed on

        var handOver = HandOverRecord("merge-1", T0) with { ShopperId = "dev", CustomerId = "dev", Hops = IdentityRules.MaxHops };
        Assert.Equal(IdentityMerger.Reasons.LinkCycle,
            Assert.IsType<IdentityRoute.Audited>(Routing.Route(DevLinked, "dev", handOver, handOver.Hops, Watermark.Start)).Audit.Reason);
    }

    [Fact]
    public void Two_ids_linked_to_each_other_pass_an_event_back_and_forth_until_the_hop_limit_stops_it()
    {
        // Each partition's links: a → b on one, b → a on the other. Every pass goes through the input topic (Arrived).
        var links = new Dictionary<string, IdentityLinks>
        {
            ["a"] = IdentityLinks.Empty.Link("a", new IdentityAlias("b", "link-ab", T0, T0)),
            ["b"] = IdentityLinks.Empty.Link("b", new IdentityAlias("a", "link-ba", T0, T0)),
        };
        ShopperEvent record = Added("a", T0.AddMinutes(1));
        var hops = 0;
        var passes = 0;
        IdentityRoute route;
        while ((route = Routing.Route(links[record.ShopperId], record.ShopperId, record, hops, Watermark.Start)!) is IdentityRoute.PassOn passOn)
        {
            links[record.ShopperId] = passOn.Links;
            (record, hops) = IdentityRouting.Arrived(passOn.Onward);
            passes++;
        }
        Assert.Equal(1 + IdentityRules.MaxHops, passes); // the first forward, then passed on MaxHops times
        Assert.Equal(IdentityMerger.Reasons.LinkCycle, Assert.IsType<IdentityRoute.Audited>(route).Audit.Reason);
        Assert.Equal("add-a", record.EventId); // the original event, as the last partition's shopper
    }

    [Fact]
    public void A_hand_over_is_adopted_once_late_when_the_partition_had_settled_past_it()
    {
        var record = HandOverRecord("merge-1", T0.AddMinutes(3));

        var adopt = Assert.IsType<IdentityRoute.Adopt>(Routing.Route(IdentityLinks.Empty, "cust", record, 0, Watermark.Start));
        Assert.Same(Readable, adopt.State);
        Assert.Same(record, adopt.Record);
        Assert.False(adopt.Late);
        Assert.True(adopt.Links.WasApplied("merge-1", record.EventTime));

        var settled = Watermark.Start.Observe(T0.AddHours(1), TimeSpan.FromMinutes(10));
        Assert.True(Assert.IsType<IdentityRoute.Adopt>(Routing.Route(IdentityLinks.Empty, "cust", record, 0, settled)).Late);

        var again = Assert.IsType<IdentityRoute.Audited>(Routing.Route(adopt.Links, "cust", record, 0, Watermark.Start));
        Assert.Equal(("cust", IdentityMerger.Reasons.DuplicateHandOver), (again.Audit.ShopperId, again.Audit.Reason));
        Assert.Equal(["link-1", "merge-1"], again.Audit.Evidence);
        Assert.Same(adopt.Links, again.Links);
    }

    [Fact]
    public void A_hand_over_whose_state_cannot_be_read_is_audited_and_not_marked_applied()
    {
        var record = HandOverRecord("merge-1", T0) with { State = JsonDocument.Parse("[]").RootElement };

        var route = Assert.IsType<IdentityRoute.Audited>(Routing.Route(IdentityLinks.Empty, "cust", record, 0, Watermark.Start));
        Assert.Equal(IdentityMerger.Reasons.InvalidState, route.Audit.Reason);
        Assert.Equal("state is not a hand-over: nothing adopted", route.Audit.Detail);
        Assert.Same(IdentityLinks.Empty, route.Links);
    }

    [Fact]
    public void A_forwarded_record_arrives_as_the_customers_event_one_hop_further()
    {
        var inner = Added("dev", T0);
        var forwarded = new IdentityForwarded { EventId = "fwd", ShopperId = "cust", EventTime = T0, AnonymousId = "dev", Hops = 1, Event = inner };

        var (evt, hops) = IdentityRouting.Arrived(forwarded);
        Assert.Equal(inner with { ShopperId = "cust" }, evt);
        Assert.Equal(2, hops);
        var handOver = HandOverRecord("merge-1", T0) with { Hops = 3 };
        Assert.Equal((handOver, 3), IdentityRouting.Arrived(handOver));
        Assert.Equal((inner, 0), IdentityRouting.Arrived(inner));
    }

    private static IdentityLinked Link(string id, string customer, DateTimeOffset at) =>
        new() { EventId = id, ShopperId = "dev", AnonymousId = "dev", CustomerId = customer, EventTime = at, Source = "login" };

    private static CartLineAdded Added(string shopper, DateTimeOffset at) => new()
    {
        EventId = $"add-{shopper}", ShopperId = shopper, SessionId = "s-1", EventTime = at, Line = new CartLine { Sku = "mug", UnitPrice = 10m, Quantity = 1 },
    };

    private static ErasureRequested Erasure(string shopper, DateTimeOffset at) =>
        new() { EventId = $"erase-{shopper}", ShopperId = shopper, EventTime = at, Source = "privacy_portal" };

    private static IdentityMerged HandOverRecord(string id, DateTimeOffset at) => new()
    {
        EventId = id, ShopperId = "cust", EventTime = at, AnonymousId = "dev", CustomerId = "cust", LinkEventId = "link-1",
        State = JsonDocument.Parse("{}").RootElement,
    };
}
