using CartRecovery.Contracts.Events;

namespace CartRecovery.Domain.Tests.Support;

/// <summary>
/// Builds one shopper's input events with sequential ids (<c>{shopper}-e01</c>, <c>-e02</c>, ...) and sequential
/// event times: each event is stamped at the cursor <see cref="Now"/>, which then moves on by <see cref="Spacing"/>.
/// An explicit <c>at</c> stamps that time instead (older times make late events; the cursor never goes back).
/// </summary>
public sealed class ShopperScript(string shopperId, DateTimeOffset start)
{
    public const string Purpose = "cart_recovery";

    private int _count;

    public string ShopperId { get; } = shopperId;
    public DateTimeOffset Now { get; private set; } = start;
    public TimeSpan Spacing { get; init; } = TimeSpan.FromMinutes(1);
    public List<ShopperEvent> Events { get; } = [];

    public ShopperScript At(DateTimeOffset time)
    {
        Now = time;
        return this;
    }

    public ShopperScript Wait(TimeSpan span)
    {
        Now += span;
        return this;
    }

    public SessionScript Session(string sessionId, string channel = "web") => new(this, sessionId, channel);

    public ConsentGranted Grant(string channel, DateTimeOffset? at = null, string purpose = Purpose) =>
        Emit((id, t) => new ConsentGranted
        {
            EventId = id, ShopperId = ShopperId, EventTime = t, Purpose = purpose, Channel = channel,
            Source = "checkout_form", WordingVersion = "v3",
        }, at);

    /// <summary>Grants <c>cart_recovery</c> on every channel, a day before the cursor.</summary>
    public ShopperScript GrantAll(params string[] channels)
    {
        foreach (var channel in channels.Length == 0 ? ["push", "sms", "email"] : channels)
            Grant(channel, Now - TimeSpan.FromDays(1));
        return this;
    }

    public ConsentWithdrawn Withdraw(string channel, DateTimeOffset? at = null, string purpose = Purpose) =>
        Emit((id, t) => new ConsentWithdrawn
        {
            EventId = id, ShopperId = ShopperId, EventTime = t, Purpose = purpose, Channel = channel,
            Source = "preference_center", WordingVersion = "v3",
        }, at);

    public Unsubscribed Unsubscribe(string channel, DateTimeOffset? at = null) =>
        Emit((id, t) => new Unsubscribed
        {
            EventId = id, ShopperId = ShopperId, EventTime = t, Purpose = Purpose, Channel = channel,
            Source = "email_link", WordingVersion = "v3",
        }, at);

    internal T Emit<T>(Func<string, DateTimeOffset, T> make, DateTimeOffset? at) where T : ShopperEvent
    {
        var time = at ?? Now;
        var evt = make($"{ShopperId}-e{++_count:D2}", time);
        Events.Add(evt);
        if (time + Spacing > Now) Now = time + Spacing;
        return evt;
    }
}

/// <summary>Events of one session of a <see cref="ShopperScript"/>; keeps the cart lines so an order can buy them.</summary>
public sealed class SessionScript(ShopperScript shopper, string sessionId, string channel)
{
    private readonly List<CartLine> _lines = [];

    public string SessionId { get; } = sessionId;
    public string ShopperId => shopper.ShopperId;
    public IReadOnlyList<CartLine> Lines => _lines;

    public SessionStarted Start(string? timeZone = null, bool returning = false, DateTimeOffset? at = null) =>
        shopper.Emit((id, t) => new SessionStarted
        {
            EventId = id, ShopperId = ShopperId, SessionId = SessionId, EventTime = t, Channel = channel,
            TimeZone = timeZone, Currency = "EUR", ReturningShopper = returning,
        }, at);

    public ProductViewed View(string sku, DateTimeOffset? at = null, string? category = null) =>
        shopper.Emit((id, t) => new ProductViewed
        {
            EventId = id, ShopperId = ShopperId, SessionId = SessionId, EventTime = t, Channel = channel, Sku = sku, Category = category,
        }, at);

    public CartLineAdded Add(string sku, decimal unitPrice, int quantity = 1, DateTimeOffset? at = null, string? category = null)
    {
        var line = new CartLine { Sku = sku, Name = $"{sku} item", UnitPrice = unitPrice, Quantity = quantity };
        _lines.Add(line);
        return shopper.Emit((id, t) => new CartLineAdded
        {
            EventId = id, ShopperId = ShopperId, SessionId = SessionId, EventTime = t, Channel = channel, Line = line, Currency = "EUR",
            Category = category,
        }, at);
    }

    public CartLineRemoved Remove(string sku, DateTimeOffset? at = null)
    {
        _lines.RemoveAll(l => l.Sku == sku);
        return shopper.Emit((id, t) => new CartLineRemoved { EventId = id, ShopperId = ShopperId, SessionId = SessionId, EventTime = t, Channel = channel, Sku = sku }, at);
    }

    public CheckoutStarted Checkout(DateTimeOffset? at = null) =>
        shopper.Emit((id, t) => new CheckoutStarted { EventId = id, ShopperId = ShopperId, SessionId = SessionId, EventTime = t, Channel = channel }, at);

    public CheckoutStepCompleted Step(string step, DateTimeOffset? at = null) =>
        shopper.Emit((id, t) => new CheckoutStepCompleted { EventId = id, ShopperId = ShopperId, SessionId = SessionId, EventTime = t, Channel = channel, Step = step }, at);

    public PaymentFailed PaymentFailed(string errorCode, DateTimeOffset? at = null) =>
        shopper.Emit((id, t) => new PaymentFailed { EventId = id, ShopperId = ShopperId, SessionId = SessionId, EventTime = t, Channel = channel, ErrorCode = errorCode }, at);

    public PromoCodeRejected PromoCodeRejected(string reason, DateTimeOffset? at = null) =>
        shopper.Emit((id, t) => new PromoCodeRejected { EventId = id, ShopperId = ShopperId, SessionId = SessionId, EventTime = t, Channel = channel, Reason = reason }, at);

    public SessionExited Exit(DateTimeOffset? at = null) =>
        shopper.Emit((id, t) => new SessionExited { EventId = id, ShopperId = ShopperId, SessionId = SessionId, EventTime = t, Channel = channel }, at);

    /// <summary>An order for the given lines (default: the lines added in this session so far).</summary>
    public OrderPlaced Order(IReadOnlyList<CartLine>? lines = null, DateTimeOffset? at = null)
    {
        var bought = lines ?? [.. _lines];
        return shopper.Emit((id, t) => new OrderPlaced
        {
            EventId = id, ShopperId = ShopperId, SessionId = SessionId, EventTime = t, Channel = channel,
            OrderId = $"ord-{id}", Lines = [.. bought], Total = bought.Sum(l => l.Total), Currency = "EUR",
        }, at);
    }

    public PaymentAuthorized Authorize(decimal amount, DateTimeOffset? at = null) =>
        shopper.Emit((id, t) => new PaymentAuthorized
        {
            EventId = id, ShopperId = ShopperId, SessionId = SessionId, EventTime = t, Channel = channel, OrderId = $"ord-{id}", Amount = amount,
        }, at);
}
