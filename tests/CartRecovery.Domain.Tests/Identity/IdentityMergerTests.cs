using System.Collections.Immutable;
using System.Text.Json;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Identity;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Tests.Support;
using CartRecovery.Domain.Time;
using static CartRecovery.Domain.Tests.Support.Times;

namespace CartRecovery.Domain.Tests.Identity;

/// <summary>The pure rules that make a linked anonymous id and a customer id one shopper.</summary>
public sealed class IdentityMergerTests
{
    private readonly RecoveryEngine _engine = new(Policies.NoHoldout);
    private IdentityMerger Merger => new(_engine);

    [Fact]
    public void Consent_merges_as_one_stream_whichever_side_it_came_from()
    {
        var device = ShopperState.New("dev") with
        {
            Consents = ImmutableDictionary<string, ConsentRecord>.Empty
                .Add(ShopperState.ConsentKey("cart_recovery", "email"), Consent("dev-grant", T0.AddMinutes(5), granted: true))
                .Add(ShopperState.ConsentKey("cart_recovery", "sms"), Consent("dev-sms-grant", T0, granted: true)),
        };
        var customer = ShopperState.New("cust") with
        {
            Consents = ImmutableDictionary<string, ConsentRecord>.Empty
                .Add(ShopperState.ConsentKey("cart_recovery", "email"), Consent("cust-withdraw", T0, granted: false))
                .Add(ShopperState.ConsentKey("cart_recovery", "sms"), Consent("cust-sms-withdraw", T0, granted: false)),
        };

        var merged = IdentityMerger.MergeShopper(customer, device);
        Assert.Equal("cust", merged.ShopperId);
        Assert.Equal("dev-grant", merged.ConsentFor("cart_recovery", "email")!.EventId); // newer wins
        Assert.Equal("cust-sms-withdraw", merged.ConsentFor("cart_recovery", "sms")!.EventId); // same instant: the withdrawal wins
        var other = IdentityMerger.MergeShopper(device with { ShopperId = "cust" }, customer);
        Assert.Equal(Ids(merged.Consents), Ids(other.Consents));
    }

    [Fact]
    public void Messages_sent_purchases_closed_sessions_and_incentives_are_pooled_once()
    {
        var shared = new SentMessage(T0, "t-shared", "s-a");
        var device = ShopperState.New("dev") with
        {
            Sent = [shared, new SentMessage(T0.AddHours(1), "t-dev", "s-a")],
            PurchasedSkus = ImmutableDictionary<string, Purchase>.Empty.Add("mug", new Purchase(T0.AddDays(1), "dev-order")).Add("cup", new Purchase(T0, "dev-cup")),
            OpenIncentives = [new OpenIncentive("CR-1", "t-dev", "s-a", T0, T0.AddDays(7))],
            HasOrdered = true,
        };
        var customer = ShopperState.New("cust") with
        {
            Sent = [shared, new SentMessage(T0.AddHours(2), "t-cust", "s-b")],
            PurchasedSkus = ImmutableDictionary<string, Purchase>.Empty.Add("mug", new Purchase(T0, "cust-order")),
            OpenIncentives = [new OpenIncentive("CR-1", "t-dev", "s-a", T0, T0.AddDays(7))],
        };

        var merged = IdentityMerger.MergeShopper(customer, device);
        Assert.Equal(["t-shared", "t-dev", "t-cust"], merged.Sent.Select(s => s.TriggerId));
        Assert.Equal("dev-order", merged.PurchasedSkus["mug"].EventId); // the later purchase
        Assert.Equal("dev-cup", merged.PurchasedSkus["cup"].EventId);
        Assert.Single(merged.OpenIncentives);
        Assert.True(merged.HasOrdered);
    }

    [Fact]
    public void Every_field_of_the_shopper_state_is_known_to_the_merge()
    {
        // A field added to ShopperState must be pooled in MergeShopper (or deliberately left to the customer's side,
        // and then listed here): otherwise a link would silently lose it.
        string[] handled = ["ShopperId", "Consents", "Sent", "PurchasedSkus", "OpenIncentives", "ClosedSessions", "HasOrdered", "IsEmpty",
            "Orders", "PendingPayments", "OpenCases", "SeenEvents", "BlockedChannels", "OfferedChats", "Profile", "Engagement", "WinBack",
            "PendingSurveys",
            // The customer's audit chain goes on; the anonymous id's chain ends with its hand-over row.
            "AuditHead"];
        Assert.Empty(typeof(ShopperState).GetProperties().Select(p => p.Name).Except(handled));
    }

    [Fact]
    public void Pending_survey_invitations_of_either_id_are_pooled_once()
    {
        PendingSurvey Survey(string session, int hour) => new(session, T0, 1, T0, T0.AddHours(hour), "ab-" + session, "default", "control", "UTC", false, 10m, "EUR");
        var device = ShopperState.New("dev") with { PendingSurveys = [Survey("s-a", 2), Survey("s-c", 1)] };
        var customer = ShopperState.New("cust") with { PendingSurveys = [Survey("s-b", 3), Survey("s-a", 2)] };

        var merged = IdentityMerger.MergeShopper(customer, device);

        Assert.Equal(["s-c", "s-a", "s-b"], merged.PendingSurveys.Select(p => p.SessionId));
    }

    [Fact]
    public void Orders_pending_payments_open_cases_and_seen_events_of_either_id_are_pooled_once()
    {
        var order = new ShopperOrder(T0, "ord-dev", "s-a");
        var pending = new PendingPayment(T0.AddMinutes(1), "pp-dev", null);
        var device = ShopperState.New("dev") with
        {
            Orders = [order], PendingPayments = [pending],
            OpenCases = [new OpenCase("s-a", T0, ["mug"], "ab-a")],
            SeenEvents = [new SeenEvent(1, T0.UtcDateTime), new SeenEvent(2, T0.UtcDateTime)],
        };
        var customer = ShopperState.New("cust") with
        {
            Orders = [order], SeenEvents = [new SeenEvent(2, T0.UtcDateTime)],
            OpenCases = [new OpenCase("s-b", T0.AddMinutes(2), ["cup"], "ab-b")],
        };

        var merged = IdentityMerger.MergeShopper(customer, device);

        Assert.Equal([order], merged.Orders);
        Assert.Equal([pending], merged.PendingPayments);
        Assert.Equal(["s-a", "s-b"], merged.OpenCases.Select(c => c.SessionId));
        Assert.Equal([1UL, 2UL], merged.SeenEvents.Select(e => e.IdHash).Order());
    }

    [Fact]
    public void A_handed_over_cart_the_customer_already_ordered_in_the_same_session_ends_as_if_the_order_came_after_the_hand_over()
    {
        var cart = Cart("dev", "s-1", T0, ("mug", 24m));
        var order = new PaymentAuthorized { EventId = "pay-1", ShopperId = "cust", SessionId = "s-1", EventTime = T0.AddMinutes(5), OrderId = "o-1", Amount = 24m };

        // Hand-over first: the customer's live session is the adopted cart, then the order ends it.
        var first = Merger.Adopt(ShopperState.New("cust"), new Dictionary<string, SessionState>(), new HandOver(ShopperState.New("dev"), [cart]), Record(), late: false);
        var adopted = Assert.Single(first.Sessions);
        var expected = _engine.Apply(first.Shopper, adopted, order, Watermark.Start);

        // Order first: the order made its own row; the hand-over then finds the session ordered.
        var ordered = _engine.Apply(ShopperState.New("cust"), null, order, Watermark.Start);
        var late = Merger.Adopt(ordered.Shopper, new Dictionary<string, SessionState>(), new HandOver(ShopperState.New("dev"), [cart]), Record(), late: true);

        Assert.Empty(late.Sessions);
        Assert.Equal("s-1", Assert.Single(late.Ended));
        Assert.Empty(late.Effects.Triggers);
        // Same outcome as had the hand-over come first, except the start: a session is (shopper, session id, start),
        // and the order-first row already stored it with the order's start, so the late row keeps that start and
        // replaces it (one row per visit in session_outcomes) instead of adding a second row for the same session.
        var orderRow = Assert.Single(ordered.Effects.Outcomes);
        var lateRow = Assert.Single(late.Effects.Outcomes);
        Assert.Equal(orderRow.StartedAt, lateRow.StartedAt);
        Assert.Equal(Assert.Single(expected.Effects.Outcomes) with { StartedAt = orderRow.StartedAt }, lateRow);
        Assert.Contains(late.Effects.Audits, a => a.Reason == IdentityMerger.Reasons.AlreadyOrdered && a.Detail.Contains("late=1"));
    }

    [Fact]
    public void A_session_the_storefront_continued_under_the_customer_id_becomes_one_cart()
    {
        var handed = Cart("dev", "s-1", T0, ("mug", 24m), ("plate", 8m)) with { FurthestStep = FunnelStep.Checkout, PaymentFailures = 1 };
        var live = Cart("cust", "s-1", T0.AddMinutes(4), ("mug", 24m), ("bowl", 12m));

        var adoption = Merger.Adopt(ShopperState.New("cust"), new Dictionary<string, SessionState> { ["s-1"] = live }, new HandOver(ShopperState.New("dev"), [handed]), Record(), late: false);
        var merged = Assert.Single(adoption.Sessions);
        Assert.Equal("cust", merged.ShopperId);
        Assert.Equal(["bowl", "mug", "plate"], merged.Lines.Keys);
        Assert.Equal(44m, merged.CartValue);
        Assert.Equal((T0, FunnelStep.Checkout, 1), (merged.StartedAt, merged.FurthestStep, merged.PaymentFailures));
    }

    [Fact]
    public void A_forwarded_event_older_than_the_order_of_its_session_belongs_to_the_bought_cart()
    {
        var ordered = _engine.Apply(ShopperState.New("cust"), null,
            new OrderPlaced { EventId = "o", ShopperId = "cust", SessionId = "s-1", EventTime = T0.AddMinutes(6), OrderId = "o", Total = 60m }, Watermark.Start).Shopper;
        CartLineAdded Added(DateTimeOffset at) => new()
        {
            EventId = "add", ShopperId = "cust", SessionId = "s-1", EventTime = at, Line = new CartLine { Sku = "rug", UnitPrice = 60m, Quantity = 1 },
        };

        Assert.NotNull(Merger.PartOfBoughtCart(ordered, Added(T0.AddMinutes(2))));
        Assert.Null(Merger.PartOfBoughtCart(ordered, Added(T0.AddMinutes(7)))); // after the order: the shopper came back
        Assert.Null(Merger.PartOfBoughtCart(ShopperState.New("cust"), Added(T0.AddMinutes(2))));
    }

    [Fact]
    public void The_hand_over_record_is_keyed_by_the_customer_with_an_id_derived_from_the_link()
    {
        var link = new IdentityLinked { EventId = "l-1", ShopperId = "dev", AnonymousId = "dev", CustomerId = "cust", EventTime = T0, Source = "login" };
        var json = JsonDocument.Parse("{}").RootElement;
        var (a, state, effects) = Merger.HandOverFor(link, ShopperState.New("dev"), [Cart("dev", "s-2", T0, ("b", 1m)), Cart("dev", "s-1", T0, ("a", 1m))], _ => json);
        var (b, _, _) = Merger.HandOverFor(link, ShopperState.New("dev"), [], _ => json);

        Assert.Equal(("cust", "cust", "dev", "l-1", T0), (a.ShopperId, a.CustomerId, a.AnonymousId, a.LinkEventId, a.EventTime));
        Assert.Equal(a.EventId, b.EventId);
        Assert.Equal(["s-1", "s-2"], state.Sessions.Select(s => s.SessionId));
        Assert.Equal(("dev", IdentityMerger.Decisions.Linked, IdentityMerger.Reasons.HandedOver), (effects.Audits[0].ShopperId, effects.Audits[0].Decision, effects.Audits[0].Reason));
    }

    [Fact]
    public void A_hand_over_too_large_for_one_input_record_leaves_out_the_closed_sessions_and_says_so()
    {
        var link = new IdentityLinked { EventId = "l-1", ShopperId = "dev", AnonymousId = "dev", CustomerId = "cust", EventTime = T0, Source = "login" };
        var closed = new ClosedSession(new SessionOutcome
        {
            SessionId = "old", ShopperId = "dev", OriginChannel = "web", Segment = "default", FurthestStep = "cart", Currency = "EUR", Outcome = Outcomes.Abandoned,
            PolicyVersion = "v", Variant = "control", StartedAt = T0, EndedAt = T0,
        }, 0, 1, 0, "UTC", T0);
        var device = ShopperState.New("dev") with { ClosedSessions = ImmutableDictionary<string, ClosedSession>.Empty.Add("old", closed) };
        // The size of the state as the caller serializes it: large while it still holds closed sessions.
        JsonElement Serialize(HandOver h) => JsonDocument.Parse(JsonSerializer.Serialize(new string('x', h.Shopper.ClosedSessions.IsEmpty ? 10 : IdentityMerger.MaxStateBytes))).RootElement;

        var (_, state, effects) = Merger.HandOverFor(link, device, [Cart("dev", "s-1", T0, ("a", 1m))], Serialize);
        Assert.Empty(state.Shopper.ClosedSessions);
        Assert.Single(state.Sessions);
        Assert.Contains("left_out=closed_sessions:1", effects.Audits[0].Detail);
    }

    private static IdentityMerged Record() => new()
    {
        EventId = "merge-1", ShopperId = "cust", EventTime = T0.AddMinutes(3), AnonymousId = "dev", CustomerId = "cust", LinkEventId = "link-1",
        State = JsonDocument.Parse("{}").RootElement,
    };

    private static SessionState Cart(string shopper, string session, DateTimeOffset at, params (string Sku, decimal Price)[] lines) => new()
    {
        ShopperId = shopper, SessionId = session, OriginChannel = "web", Currency = "EUR", TimeZone = "UTC", StartedAt = at, LastActivityAt = at.AddMinutes(1),
        Lines = lines.ToImmutableSortedDictionary(l => l.Sku, l => new CartLine { Sku = l.Sku, Name = l.Sku, UnitPrice = l.Price, Quantity = 1 }, StringComparer.Ordinal),
        HadCart = true, FurthestStep = FunnelStep.Cart, LastEventId = $"{shopper}-{session}-last",
    };

    private static ConsentRecord Consent(string id, DateTimeOffset at, bool granted) =>
        new("cart_recovery", "email", granted, id, at, "checkout_form", "v3", granted ? "granted" : "withdrawn");

    private static string[] Ids(ImmutableDictionary<string, ConsentRecord> consents) => [.. consents.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => c.Value.EventId)];
}

public sealed class IdentityLinksTests
{
    private static readonly IdentityAlias Alias = new("cust", "l-1", T0, T0);

    [Fact]
    public void An_alias_resolves_until_it_lapses_and_use_keeps_it_alive()
    {
        var links = IdentityLinks.Empty.Link("dev", Alias);
        Assert.Equal("cust", links.Resolve("dev", T0.AddDays(1))!.CustomerId);
        Assert.Null(links.Resolve("other", T0));
        Assert.Null(links.Resolve("dev", T0 + IdentityLinks.Retention + Days(1)));
        var used = links.Used("dev", T0.AddDays(60));
        Assert.NotNull(used.Resolve("dev", T0 + IdentityLinks.Retention + Days(1)));
    }

    [Fact]
    public void Pruning_never_changes_what_resolves()
    {
        var links = IdentityLinks.Empty.Link("dev", Alias).Link("dev-2", Alias with { LastUsedAt = T0.AddDays(100) }).MarkApplied("h-1", T0);
        var later = T0 + IdentityLinks.Retention + Days(5);
        var pruned = links.Prune(later);
        Assert.Equal(["dev-2"], pruned.Aliases.Keys);
        foreach (var id in new[] { "dev", "dev-2" })
            Assert.Equal(links.Resolve(id, later), pruned.Resolve(id, later));
        Assert.Equal(links.WasApplied("h-1", later), pruned.WasApplied("h-1", later));
    }

    [Fact]
    public void A_hand_over_is_applied_once()
    {
        var links = IdentityLinks.Empty;
        Assert.False(links.WasApplied("h-1", T0));
        links = links.MarkApplied("h-1", T0);
        Assert.True(links.WasApplied("h-1", T0));
        Assert.True(links.WasApplied("h-1", T0.AddDays(1)));
    }
}
