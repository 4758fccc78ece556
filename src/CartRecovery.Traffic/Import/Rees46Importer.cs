using System.Globalization;
using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;

namespace CartRecovery.Traffic.Import;

/// <summary>The choices the REES46 format leaves open; docs/replay.md explains each.</summary>
public sealed record Rees46Defaults
{
    /// <summary>Channel of origin of every session (the dataset is one web store).</summary>
    public string Channel { get; init; } = "web";
    /// <summary>Currency of the prices (the dataset does not name one).</summary>
    public string Currency { get; init; } = "USD";
    /// <summary>Time zone of every shopper, for quiet hours (event times are UTC; shoppers' zones are unknown).</summary>
    public string TimeZone { get; init; } = "UTC";
    /// <summary>Channel of the synthetic cart-recovery consent granted at a shopper's first event; null: no consent
    /// (every reminder is then suppressed with no_consent).</summary>
    public string? AssumedConsentChannel { get; init; } = "email";

    public const string ConsentSource = "import_default";
    public const string ConsentWordingVersion = "rees46-import";
    public const string ConsentPurpose = "cart_recovery";
}

/// <summary>
/// Maps the public REES46 e-commerce behaviour dataset (CSV:
/// <c>event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session</c>) onto the
/// event contract, streaming in file order:
/// <list type="bullet">
/// <item>shopper id = user_id, session id = user_session, channel of origin, currency and time zone from <see cref="Rees46Defaults"/>;</item>
/// <item>a shopper's first line is preceded by a synthetic <c>consent_granted</c> (if configured), a session's first line by a
/// synthetic <c>session_started</c> (returning_shopper when the shopper had an earlier session in the file);</item>
/// <item><c>view</c> → product_viewed, <c>cart</c> → cart_line_added (quantity 1), <c>remove_from_cart</c> → cart_line_removed,
/// <c>purchase</c> → order_placed with the purchased line (quantity 1, total = price);</item>
/// <item>event ids from the line number: <c>rees46-L{n}</c>, synthetic ones <c>rees46-L{n}-session</c> and <c>rees46-L{n}-consent</c>,
/// order ids <c>rees46-order-L{n}</c>; the same file gives the same events, byte for byte.</item>
/// </list>
/// A bad line (wrong column count, unparsable time or price, unknown event type, empty id) is counted and skipped.
/// </summary>
public static class Rees46Importer
{
    public static readonly string[] Columns = ["event_time", "event_type", "product_id", "category_id", "category_code", "brand", "price", "user_id", "user_session"];
    private const string TimeFormat = "yyyy-MM-dd HH:mm:ss 'UTC'";

    public static IEnumerable<GeneratedEvent> Read(TextReader reader, Rees46Defaults defaults, ImportStatistics statistics)
    {
        var header = reader.ReadLine();
        if (header is null) yield break;
        if (!SplitCsv(header.Trim()).SequenceEqual(Columns))
            throw new InvalidDataException($"not a REES46 file: the header must be {string.Join(',', Columns)}");

        var sessionsPerShopper = new Dictionary<string, int>(StringComparer.Ordinal);
        var sessionsSeen = new HashSet<(string Shopper, string Session)>();
        long lineNumber = 1;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            statistics.CountLine();
            if (!TryParse(line, lineNumber, statistics, out var row)) continue;

            var id = $"rees46-L{lineNumber}";
            var firstOfShopper = !sessionsPerShopper.ContainsKey(row.Shopper);
            if (firstOfShopper && defaults.AssumedConsentChannel is { } consentChannel)
            {
                statistics.CountEvent(row.Time);
                yield return new GeneratedEvent(Topics.ConsentEvents, new ConsentGranted
                {
                    EventId = id + "-consent", ShopperId = row.Shopper, EventTime = row.Time, Purpose = Rees46Defaults.ConsentPurpose,
                    Channel = consentChannel, Source = Rees46Defaults.ConsentSource, WordingVersion = Rees46Defaults.ConsentWordingVersion,
                });
            }
            if (sessionsSeen.Add((row.Shopper, row.Session)))
            {
                var earlierSessions = sessionsPerShopper.GetValueOrDefault(row.Shopper);
                sessionsPerShopper[row.Shopper] = earlierSessions + 1;
                statistics.CountEvent(row.Time);
                yield return new GeneratedEvent(Topics.CartEvents, new SessionStarted
                {
                    EventId = id + "-session", ShopperId = row.Shopper, SessionId = row.Session, EventTime = row.Time, Channel = defaults.Channel,
                    TimeZone = defaults.TimeZone, Currency = defaults.Currency, ReturningShopper = earlierSessions > 0,
                });
            }

            var productLine = new CartLine { Sku = row.Product, Name = row.Name, UnitPrice = row.Price, Quantity = 1 };
            SessionEvent evt = row.Type switch
            {
                "view" => new ProductViewed { EventId = id, ShopperId = row.Shopper, SessionId = row.Session, EventTime = row.Time, Channel = defaults.Channel, Sku = row.Product, UnitPrice = row.Price, Category = row.Category },
                "cart" => new CartLineAdded { EventId = id, ShopperId = row.Shopper, SessionId = row.Session, EventTime = row.Time, Channel = defaults.Channel, Line = productLine, Currency = defaults.Currency, Category = row.Category },
                "remove_from_cart" => new CartLineRemoved { EventId = id, ShopperId = row.Shopper, SessionId = row.Session, EventTime = row.Time, Channel = defaults.Channel, Sku = row.Product },
                _ => new OrderPlaced
                {
                    EventId = id, ShopperId = row.Shopper, SessionId = row.Session, EventTime = row.Time, Channel = defaults.Channel,
                    OrderId = $"rees46-order-L{lineNumber}", Lines = [productLine], Total = row.Price, Currency = defaults.Currency,
                },
            };
            statistics.CountEvent(row.Time);
            yield return new GeneratedEvent(InputTopics.For(evt), evt);
        }
    }

    /// <param name="Category">category_code as a contract category code (<c>electronics.smartphone</c>), null when empty or not a code.</param>
    private readonly record struct Row(DateTimeOffset Time, string Type, string Product, string Name, decimal Price, string Shopper, string Session, string? Category);

    private static bool TryParse(string line, long lineNumber, ImportStatistics statistics, out Row row)
    {
        row = default;
        var fields = SplitCsv(line);
        if (fields.Count != Columns.Length)
            return Reject("wrong_column_count", $"{fields.Count} columns, expected {Columns.Length}");
        if (!DateTimeOffset.TryParseExact(fields[0], TimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time))
            return Reject("invalid_field", "event_time is not 'yyyy-MM-dd HH:mm:ss UTC'");
        var type = fields[1];
        if (type is not ("view" or "cart" or "remove_from_cart" or "purchase"))
            return Reject("unknown_event_type", "event_type is not view, cart, remove_from_cart or purchase");
        if (fields[2].Length == 0) return Reject("missing_field", "product_id is empty");
        if (!decimal.TryParse(fields[6], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var price))
            return Reject("invalid_field", "price is not a non-negative decimal");
        if (fields[7].Length == 0) return Reject("missing_field", "user_id is empty");
        if (fields[8].Length == 0) return Reject("missing_field", "user_session is empty");
        var name = fields[4].Length > 0 ? fields[4] : fields[5];
        // category_code is often empty in REES46; a value that is not a code is left out rather than rejecting the row.
        row = new Row(time, type, fields[2], name, price, fields[7], fields[8], Contracts.Serialization.FieldValues.Code(fields[4]));
        return true;

        bool Reject(string reason, string detail)
        {
            statistics.Reject(lineNumber, reason, detail, line);
            return false;
        }
    }

    /// <summary>Splits one CSV line (RFC 4180 quoting; no embedded line breaks in this dataset).</summary>
    internal static List<string> SplitCsv(string line)
    {
        var fields = new List<string>(Columns.Length);
        var current = new System.Text.StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"') { current.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else current.Append(c);
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { fields.Add(current.ToString()); current.Clear(); }
            else current.Append(c);
        }
        fields.Add(current.ToString());
        return fields;
    }
}
