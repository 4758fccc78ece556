using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Serialization;

namespace CartRecovery.Streaming.Tests.Ingest;

/// <summary>The identity events at the entry: identity_linked from storefronts, and the worker's own hand-overs and
/// forwarded events, which come back through the same validation.</summary>
public sealed class IdentityEventContractTests
{
    private const string Link = """
        {"type":"identity_linked","event_id":"l1","shopper_id":"dev-1","anonymous_id":"dev-1","customer_id":"cust-1",
         "event_time":"2026-03-02T16:02:15Z","source":"signup","session_id":"s-1"}
        """;

    [Fact]
    public void A_link_parses_and_belongs_on_cart_events_only()
    {
        var link = Assert.IsType<IdentityLinked>(EventParser.Parse(Link).Event);
        Assert.Equal(("dev-1", "cust-1", "signup", "s-1"), (link.AnonymousId, link.CustomerId, link.Source, link.SessionId));
        Assert.True(EventParser.BelongsOn(link, Topics.CartEvents));
        Assert.False(EventParser.BelongsOn(link, Topics.OrderEvents));
        Assert.False(EventParser.BelongsOn(link, Topics.ConsentEvents));
    }

    [Fact]
    public void A_link_without_shopper_id_is_the_anonymous_ids()
    {
        var link = Assert.IsType<IdentityLinked>(EventParser.Parse(Link.Replace("\"shopper_id\":\"dev-1\",", "")).Event);
        Assert.Equal(("dev-1", "dev-1"), (link.ShopperId, link.AnonymousId));
        Assert.Equal(RejectReasons.MissingField, EventParser.Parse(Link.Replace("\"shopper_id\":\"dev-1\",", "").Replace("\"anonymous_id\":\"dev-1\",", "")).RejectReason);
    }

    [Theory]
    [InlineData("\"anonymous_id\":\"dev-1\"", "\"anonymous_id\":\"dev-2\"", RejectReasons.InvalidField, "shopper_id")]
    [InlineData("\"customer_id\":\"cust-1\"", "\"customer_id\":\"dev-1\"", RejectReasons.InvalidField, "customer_id")]
    [InlineData("\"customer_id\":\"cust-1\"", "\"customer_id\":\" \"", RejectReasons.InvalidField, "customer_id")]
    [InlineData(",\"source\":\"signup\"", "", RejectReasons.MissingField, "source")]
    [InlineData("\"customer_id\":\"cust-1\",", "", RejectReasons.MissingField, "customer_id")]
    public void A_link_that_cannot_be_trusted_is_rejected_naming_the_field(string from, string to, string reason, string field)
    {
        Assert.Contains(from, Link);
        var result = EventParser.Parse(Link.Replace(from, to));
        Assert.Equal(reason, result.RejectReason);
        Assert.Contains(field, result.Detail);
    }

    [Fact]
    public void A_forwarded_event_round_trips_and_its_inner_event_is_validated_too()
    {
        var added = new CartLineAdded
        {
            EventId = "e1", ShopperId = "dev-1", SessionId = "s-1", EventTime = DateTimeOffset.Parse("2026-03-02T16:04:00Z"),
            Line = new CartLine { Sku = "mug", Name = "mug", UnitPrice = 24m, Quantity = 1 },
        };
        var forwarded = new IdentityForwarded { EventId = "f1", ShopperId = "cust-1", EventTime = added.EventTime, AnonymousId = "dev-1", Event = added };
        var parsed = Assert.IsType<IdentityForwarded>(EventParser.Parse(ContractJson.SerializeEvent(forwarded)).Event);
        Assert.Equal(added with { ShopperId = "cust-1" }, parsed.AsCustomers());

        var broken = forwarded with { Event = added with { Line = added.Line with { Quantity = 0 } } };
        Assert.Equal(RejectReasons.InvalidField, EventParser.Parse(ContractJson.SerializeEvent(broken)).RejectReason);
        var looping = forwarded with { Hops = IdentityRules.MaxHops + 1 };
        Assert.Equal(RejectReasons.InvalidField, EventParser.Parse(ContractJson.SerializeEvent(looping)).RejectReason);
    }
}
