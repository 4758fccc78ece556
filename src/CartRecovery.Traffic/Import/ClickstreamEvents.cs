using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;

namespace CartRecovery.Traffic.Import;

/// <summary>The choices a public clickstream dataset (REES46, Taobao) leaves open; docs/replay.md explains each per format.</summary>
public sealed record ClickstreamDefaults
{
    /// <summary>Channel of origin of every session (each dataset is one web store).</summary>
    public string Channel { get; init; } = "web";
    /// <summary>Currency of the prices (neither dataset names one).</summary>
    public required string Currency { get; init; }
    /// <summary>Time zone of every shopper, for quiet hours (event times are UTC; shoppers' zones are not recorded).</summary>
    public required string TimeZone { get; init; }
    /// <summary>Channel of the synthetic cart-recovery consent granted at a shopper's first event; null: no consent
    /// (every reminder is then suppressed with no_consent).</summary>
    public string? AssumedConsentChannel { get; init; } = "email";

    public const string ConsentSource = "import_default";
    public const string ConsentPurpose = "cart_recovery";

    /// <summary>REES46 does not name its currency; its store is read as USD, its shoppers' zone as unknown (UTC).</summary>
    public static ClickstreamDefaults Rees46 => new() { Currency = "USD", TimeZone = "UTC" };

    /// <summary>Taobao has no prices at all (every unit price is 0, so the currency names nothing); its shoppers are in
    /// mainland China, one time zone.</summary>
    public static ClickstreamDefaults Taobao => new() { Currency = "CNY", TimeZone = "Asia/Shanghai" };
}

/// <summary>What a clickstream line did, in the contract's terms.</summary>
internal enum ClickKind { View, CartAdd, CartRemove, Purchase }

/// <summary>One accepted line of a clickstream dataset, normalized: the importers differ in how they parse and order
/// lines and where a session comes from, not in the events a line becomes.</summary>
/// <param name="Category">a contract category code, null when the dataset gives none.</param>
internal readonly record struct Click(long LineNumber, DateTimeOffset Time, ClickKind Kind, string Product, string Name, decimal Price,
    string Shopper, string Session, string? Category);

/// <summary>
/// Turns clicks, in the order they are to be published, into contract events:
/// <list type="bullet">
/// <item>a shopper's first click is preceded by a synthetic <c>consent_granted</c> (if configured), a session's first click by a
/// synthetic <c>session_started</c> (returning_shopper when the shopper had an earlier session);</item>
/// <item>view → product_viewed, cart add → cart_line_added (quantity 1), cart remove → cart_line_removed, purchase →
/// order_placed with the purchased line (quantity 1, total = price);</item>
/// <item>ids from the line number: <c>{format}-L{n}</c>, synthetic ones <c>{format}-L{n}-session</c> and
/// <c>{format}-L{n}-consent</c>, order ids <c>{format}-order-L{n}</c>: the same file gives the same events, byte for byte.</item>
/// </list>
/// </summary>
internal sealed class ClickstreamEvents(string format, ClickstreamDefaults defaults, ImportStatistics statistics)
{
    private readonly Dictionary<string, int> _sessionsPerShopper = new(StringComparer.Ordinal);
    private readonly HashSet<(string Shopper, string Session)> _sessionsSeen = [];
    private readonly string _consentWordingVersion = format + "-import";

    public IEnumerable<GeneratedEvent> For(Click click)
    {
        var id = $"{format}-L{click.LineNumber}";
        var firstOfShopper = !_sessionsPerShopper.ContainsKey(click.Shopper);
        if (firstOfShopper && defaults.AssumedConsentChannel is { } consentChannel)
        {
            statistics.CountEvent(click.Time);
            yield return new GeneratedEvent(Topics.ConsentEvents, new ConsentGranted
            {
                EventId = id + "-consent", ShopperId = click.Shopper, EventTime = click.Time, Purpose = ClickstreamDefaults.ConsentPurpose,
                Channel = consentChannel, Source = ClickstreamDefaults.ConsentSource, WordingVersion = _consentWordingVersion,
            });
        }
        if (_sessionsSeen.Add((click.Shopper, click.Session)))
        {
            var earlierSessions = _sessionsPerShopper.GetValueOrDefault(click.Shopper);
            _sessionsPerShopper[click.Shopper] = earlierSessions + 1;
            statistics.CountEvent(click.Time);
            yield return new GeneratedEvent(Topics.CartEvents, new SessionStarted
            {
                EventId = id + "-session", ShopperId = click.Shopper, SessionId = click.Session, EventTime = click.Time, Channel = defaults.Channel,
                TimeZone = defaults.TimeZone, Currency = defaults.Currency, ReturningShopper = earlierSessions > 0,
            });
        }

        var productLine = new CartLine { Sku = click.Product, Name = click.Name, UnitPrice = click.Price, Quantity = 1 };
        SessionEvent evt = click.Kind switch
        {
            ClickKind.View => new ProductViewed { EventId = id, ShopperId = click.Shopper, SessionId = click.Session, EventTime = click.Time, Channel = defaults.Channel, Sku = click.Product, UnitPrice = click.Price, Category = click.Category },
            ClickKind.CartAdd => new CartLineAdded { EventId = id, ShopperId = click.Shopper, SessionId = click.Session, EventTime = click.Time, Channel = defaults.Channel, Line = productLine, Currency = defaults.Currency, Category = click.Category },
            ClickKind.CartRemove => new CartLineRemoved { EventId = id, ShopperId = click.Shopper, SessionId = click.Session, EventTime = click.Time, Channel = defaults.Channel, Sku = click.Product },
            _ => new OrderPlaced
            {
                EventId = id, ShopperId = click.Shopper, SessionId = click.Session, EventTime = click.Time, Channel = defaults.Channel,
                OrderId = $"{format}-order-L{click.LineNumber}", Lines = [productLine], Total = click.Price, Currency = defaults.Currency,
            },
        };
        statistics.CountEvent(click.Time);
        yield return new GeneratedEvent(InputTopics.For(evt), evt);
    }
}
