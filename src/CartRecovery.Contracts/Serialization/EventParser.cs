using System.Text.Json;
using CartRecovery.Contracts.Events;

namespace CartRecovery.Contracts.Serialization;

/// <summary>Why an input record was rejected; the reason code travels to the dead-letter topic and metrics.</summary>
public static class RejectReasons
{
    public const string NotJson = "not_json";
    public const string Oversized = "oversized";
    public const string UnknownEventType = "unknown_event_type";
    public const string MissingField = "missing_field";
    public const string InvalidField = "invalid_field";
    public const string UnsupportedSchemaVersion = "unsupported_schema_version";
    public const string WrongTopic = "wrong_topic";
    public const string KeyMismatch = "key_mismatch";
    /// <summary>An event type only the worker writes (identity_merged, identity_forwarded) without its valid MAC.</summary>
    public const string UnauthenticatedInternalRecord = "unauthenticated_internal_record";
    /// <summary>Valid input on which the decision code threw (a bug, not bad input): dead-lettered with the cause so the
    /// shopper's other events go on (streaming runtime's supervision).</summary>
    public const string DecisionFailed = "decision_failed";
}

public readonly record struct ParseResult(ShopperEvent? Event, string? RejectReason, string? Detail)
{
    public bool IsValid => Event is not null;
    public static ParseResult Ok(ShopperEvent evt) => new(evt, null, null);
    public static ParseResult Reject(string reason, string detail) => new(null, reason, detail);
}

/// <summary>
/// Turns untrusted bytes into a validated <see cref="ShopperEvent"/> or a reject reason. Never throws:
/// a malformed record must not stop the worker. Details name fields, never echo values (they may be personal).
/// </summary>
public static class EventParser
{
    public const int MaxEventBytes = 64 * 1024;

    public static ParseResult Parse(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > MaxEventBytes)
            return ParseResult.Reject(RejectReasons.Oversized, $"{utf8.Length} bytes > {MaxEventBytes}");
        // A byte-order mark is allowed before JSON text (RFC 8259, 8.1) and means nothing.
        if (utf8.StartsWith(Utf8Bom)) utf8 = utf8[Utf8Bom.Length..];
        if (utf8.IsEmpty || utf8.IndexOfAnyExcept(" \t\r\n"u8) < 0)
            return ParseResult.Reject(RejectReasons.NotJson, "empty payload");
        if (!System.Text.Unicode.Utf8.IsValid(utf8))
            return ParseResult.Reject(RejectReasons.NotJson, "not valid UTF-8");
        try
        {
            return ParseValid(utf8);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Every known shape of bad input is classified above; this is the promise that none stops the worker.
            return ParseResult.Reject(RejectReasons.InvalidField, $"unreadable record ({e.GetType().Name})");
        }
    }

    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    private static ParseResult ParseValid(ReadOnlySpan<byte> utf8)
    {
        ShopperEvent? evt;
        try
        {
            evt = ContractJson.DeserializeEvent(utf8);
        }
        catch (JsonException e)
        {
            if (IdentityRules.KeyedByAnonymousId(utf8) is { } keyed) return Parse(keyed);
            return Classify(e);
        }
        catch (NotSupportedException)
        {
            // System.Text.Json raises this for a missing or unknown "type" discriminator on the abstract base.
            return ParseResult.Reject(RejectReasons.UnknownEventType, "missing or unknown 'type'");
        }

        if (evt is null)
            return ParseResult.Reject(RejectReasons.NotJson, "null document");
        if (TimeWithoutOffset(utf8) is { } field)
            return ParseResult.Reject(RejectReasons.InvalidField, $"{field} must carry its UTC offset (Z or +hh:mm)");
        return Validate(evt);
    }

    public static ParseResult Parse(string json) => Parse(System.Text.Encoding.UTF8.GetBytes(json));

    /// <summary>True when the event belongs on the given input topic (storefront events on cart-events, ...).</summary>
    public static bool BelongsOn(ShopperEvent evt, string topic) => topic switch
    {
        Topics.OrderEvents => evt is OrderPlaced or PaymentAuthorized or PaymentPending,
        Topics.ConsentEvents => evt is ConsentEvent or ErasureRequested,
        Topics.OutcomeEvents => evt is OutcomeEvent,
        Topics.CartEvents => evt is SessionEvent and not (OrderPlaced or PaymentAuthorized) || IdentityRules.IsIdentityEvent(evt),
        _ => true,
    };

    private static ParseResult Classify(JsonException e)
    {
        var message = e.Message;
        if (message.Contains("required properties", StringComparison.OrdinalIgnoreCase) ||
            message.Contains("missing required", StringComparison.OrdinalIgnoreCase))
            return ParseResult.Reject(RejectReasons.MissingField, FieldList(message));
        if (message.Contains("type discriminator", StringComparison.OrdinalIgnoreCase))
            return ParseResult.Reject(RejectReasons.UnknownEventType, "unknown 'type'");
        // Two values for one key: which one a reader takes differs between parsers, so neither is taken.
        if (message.Contains("duplicate", StringComparison.OrdinalIgnoreCase))
            return ParseResult.Reject(RejectReasons.InvalidField, $"duplicate property at {Shortened(e.Path)}");
        if (message.Contains("maximum configured depth", StringComparison.OrdinalIgnoreCase))
            return ParseResult.Reject(RejectReasons.NotJson, "nested deeper than 64 levels");
        if (e.Path is { Length: > 1 } path && e.LineNumber is not null && !message.Contains("invalid start of a value", StringComparison.OrdinalIgnoreCase)
            && !message.Contains("end of data", StringComparison.OrdinalIgnoreCase))
            return ParseResult.Reject(RejectReasons.InvalidField, $"bad value at {Shortened(path)}");
        return ParseResult.Reject(RejectReasons.NotJson, "not a JSON object");
    }

    /// <summary>A JSON path as the detail names it: the property names come from the input, so a long one is cut.</summary>
    private static string Shortened(string? path) => path is null ? "$" : path.Length <= 120 ? path : path[..120] + "...";

    // The runtime message lists the missing property names: keep just those, never values.
    private static string FieldList(string message)
    {
        var colon = message.LastIndexOf(':');
        return colon >= 0 ? "missing " + message[(colon + 1)..].Trim().TrimEnd('.') : "missing required field";
    }

    internal static ParseResult Validate(ShopperEvent evt)
    {
        if (evt.SchemaVersion != ShopperEvent.CurrentSchemaVersion)
            return ParseResult.Reject(RejectReasons.UnsupportedSchemaVersion, $"schema_version {evt.SchemaVersion}");
        if (string.IsNullOrWhiteSpace(evt.EventId)) return Invalid("event_id", "is empty");
        if (string.IsNullOrWhiteSpace(evt.ShopperId)) return Invalid("shopper_id", "is empty");
        if (evt.EventTime == default) return Invalid("event_time", "is missing");
        if (!EntryLimits.InTimeWindow(evt.EventTime)) return Invalid("event_time", "must be " + EntryLimits.TimeWindow);
        if (OverlongField(evt) is { } overlong) return Invalid(overlong.Field, $"is longer than {overlong.Limit} characters");
        if (evt is SessionEvent session)
        {
            if (string.IsNullOrWhiteSpace(session.SessionId)) return Invalid("session_id", "is empty");
            if (FieldValues.Code(session.Channel) is not { } origin) return Invalid("channel", "must be a channel-of-origin code such as web, app or instagram");
            session.Channel = origin;
        }
        switch (evt)
        {
            case SessionStarted started:
                if (started.TimeZone is not null && FieldValues.TimeZone(started.TimeZone) is null) return Invalid("time_zone", "is not a known IANA time zone");
                if (started.Currency is not null && FieldValues.Currency(started.Currency) is null) return Invalid("currency", CurrencyRule);
                return ParseResult.Ok(started with { TimeZone = FieldValues.TimeZone(started.TimeZone), Currency = FieldValues.Currency(started.Currency) });
            case ProductViewed viewed:
                if (string.IsNullOrWhiteSpace(viewed.Sku)) return Invalid("sku", "is empty");
                if (viewed.UnitPrice is < 0 or > EntryLimits.MaxUnitPrice) return Invalid("unit_price", $"must be between 0 and {EntryLimits.MaxUnitPrice}");
                if (viewed.Category is not null && FieldValues.Code(viewed.Category) is null) return Invalid("category", CategoryRule);
                return ParseResult.Ok(viewed with { Category = FieldValues.Code(viewed.Category) });
            case CartLineAdded added:
                if (LineProblem(added.Line) is { } lineProblem) return Invalid("line", lineProblem);
                if (added.Currency is not null && FieldValues.Currency(added.Currency) is null) return Invalid("currency", CurrencyRule);
                if (added.Category is not null && FieldValues.Code(added.Category) is null) return Invalid("category", CategoryRule);
                return ParseResult.Ok(added with { Currency = FieldValues.Currency(added.Currency), Category = FieldValues.Code(added.Category) });
            case CartLineRemoved removed when string.IsNullOrWhiteSpace(removed.Sku):
                return Invalid("sku", "is empty");
            case CartLineUpdated updated:
                if (string.IsNullOrWhiteSpace(updated.Sku)) return Invalid("sku", "is empty");
                if (updated.Quantity is < 0 or > EntryLimits.MaxQuantity) return Invalid("quantity", $"must be between 0 and {EntryLimits.MaxQuantity}");
                break;
            case CheckoutStepCompleted step:
                if (FieldValues.Code(step.Step) is not { } stepCode) return Invalid("step", "must be a checkout step code such as shipping, delivery or payment");
                return ParseResult.Ok(step with { Step = stepCode });
            case PaymentFailed failed when string.IsNullOrWhiteSpace(failed.ErrorCode):
                return Invalid("error_code", "is empty");
            case PromoCodeRejected promo:
                if (FieldValues.Code(promo.Reason) is not { } promoReason || !PromoCodeRejections.All.Contains(promoReason))
                    return Invalid("reason", $"must be one of {string.Join(", ", PromoCodeRejections.All)}");
                return ParseResult.Ok(promo with { Reason = promoReason });
            case OrderPlaced order:
                if (string.IsNullOrWhiteSpace(order.OrderId)) return Invalid("order_id", "is empty");
                if (order.Total is < 0 or > EntryLimits.MaxAmount) return Invalid("total", $"must be between 0 and {EntryLimits.MaxAmount}");
                if (order.Lines.Count > EntryLimits.MaxOrderLines) return Invalid("lines", $"has more than {EntryLimits.MaxOrderLines} lines");
                foreach (var line in order.Lines)
                    if (LineProblem(line) is { } orderLineProblem) return Invalid("lines", orderLineProblem);
                if (order.Currency is not null && FieldValues.Currency(order.Currency) is null) return Invalid("currency", CurrencyRule);
                return ParseResult.Ok(order with { Currency = FieldValues.Currency(order.Currency) });
            case PaymentAuthorized payment:
                if (string.IsNullOrWhiteSpace(payment.OrderId)) return Invalid("order_id", "is empty");
                if (payment.Amount is < 0 or > EntryLimits.MaxAmount) return Invalid("amount", $"must be between 0 and {EntryLimits.MaxAmount}");
                break;
            case ConsentEvent consent:
                if (FieldValues.Code(consent.Purpose) is not { } purpose) return Invalid("purpose", "must be a purpose code such as cart_recovery or marketing");
                if (FieldValues.ConsentChannel(consent.Channel) is not { } channel)
                    return Invalid("channel", $"must be one of {string.Join(", ", FieldValues.ConsentChannels.Order(StringComparer.Ordinal))}");
                if (ComplianceRules.ValidUntilProblem(consent) is { } expiryProblem) return InvalidDetail(expiryProblem);
                if (consent.ValidUntil is { } until && !EntryLimits.InTimeWindow(until))
                    return Invalid("valid_until", $"must be {EntryLimits.TimeWindow} (leave it out for a consent without expiry)");
                return ParseResult.Ok(consent with { Purpose = purpose, Channel = channel });
            case ErasureRequested erasure:
                if (FieldValues.Code(erasure.Source) is not { } erasureSource) return Invalid("source", "must be a code such as privacy_portal, support or operator");
                return ParseResult.Ok(erasure with { Source = erasureSource });
            case PaymentPending pending:
                if (pending.SessionId is not null && string.IsNullOrWhiteSpace(pending.SessionId)) return Invalid("session_id", "is empty (leave it out when the payment is not for one session)");
                if (pending.OrderId is not null && string.IsNullOrWhiteSpace(pending.OrderId)) return Invalid("order_id", "is empty (leave it out when there is no order yet)");
                if (pending.Amount is < 0 or > EntryLimits.MaxAmount) return Invalid("amount", $"must be between 0 and {EntryLimits.MaxAmount}");
                if (pending.Currency is not null && FieldValues.Currency(pending.Currency) is null) return Invalid("currency", CurrencyRule);
                return ParseResult.Ok(pending with { Currency = FieldValues.Currency(pending.Currency) });
            case IdentityLinked link:
                if (IdentityRules.Invalid(link) is { } linkProblem) return InvalidDetail(linkProblem);
                if (FieldValues.Code(link.Source) is not { } source) return Invalid("source", "must be a code such as login, signup or checkout_email");
                if (link.SessionId is not null && string.IsNullOrWhiteSpace(link.SessionId)) return Invalid("session_id", "is empty (leave it out when the link has no session)");
                return ParseResult.Ok(link with { Source = source });
            case OutcomeEvent outcome:
                var (validOutcome, outcomeField, outcomeRule) = OutcomeRules.Validate(outcome);
                return validOutcome is not null ? ParseResult.Ok(validOutcome) : Invalid(outcomeField!, outcomeRule!);
            case IdentityForwarded forwarded:
                if (IdentityRules.Invalid(forwarded) is { } forwardProblem) return InvalidDetail(forwardProblem);
                // The inner event went through the same validation (IdentityRules.Invalid); forward its normalised form.
                return Validate(forwarded.Event) is { Event: { } inner } ? ParseResult.Ok(forwarded with { Event = inner }) : Invalid("event", "is not a valid event");
        }
        if (IdentityRules.Invalid(evt) is { } identityProblem) return InvalidDetail(identityProblem);
        return ParseResult.Ok(evt);
    }

    /// <summary>The deserializer reads a time without an offset as the machine's local time: a silent default that would
    /// move every timer by the host's zone. The raw top-level event_time (and a consent's valid_until) must say its offset.
    /// Returns the first field that does not, or null.</summary>
    private static string? TimeWithoutOffset(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = reader.ValueTextEquals("event_time"u8) ? "event_time" : reader.ValueTextEquals("valid_until"u8) ? "valid_until" : null;
            if (!reader.Read()) return null;
            if (field is not null && reader.TokenType == JsonTokenType.String)
            {
                // On the UTF-8 bytes (no string, no char array per event: docs/performance.md, session 6); an escaped value
                // is unescaped first. The characters looked for are ASCII, which never occur inside a multi-byte character.
                ReadOnlySpan<byte> text = reader.ValueIsEscaped ? System.Text.Encoding.UTF8.GetBytes(reader.GetString()!) : reader.ValueSpan;
                var time = text[Math.Max(text.IndexOfAny("Tt "u8), 0)..];
                if (!(time.EndsWith("Z"u8) || time.EndsWith("z"u8) || time.IndexOfAny("+-"u8) >= 0)) return field;
            }
            reader.Skip();
        }
        return null;
    }

    private const string CurrencyRule = "must be a 3-letter ISO 4217 currency code";
    private const string CategoryRule = "must be a category code such as electronics.smartphone (letters, digits, '_', '-', '.')";

    // The deserializer checks the nullability of properties, not of collection elements: a null line is caught here.
    private static string? LineProblem(CartLine? line) => line switch
    {
        null => "must not hold null",
        _ when string.IsNullOrWhiteSpace(line.Sku) => "needs a sku",
        { Sku.Length: > EntryLimits.MaxIdLength } => $"needs a sku of at most {EntryLimits.MaxIdLength} characters",
        { Name.Length: > EntryLimits.MaxNameLength } => $"needs a name of at most {EntryLimits.MaxNameLength} characters",
        { Quantity: <= 0 or > EntryLimits.MaxQuantity } => $"needs quantity between 1 and {EntryLimits.MaxQuantity}",
        { UnitPrice: < 0 or > EntryLimits.MaxUnitPrice } => $"needs unit_price between 0 and {EntryLimits.MaxUnitPrice}",
        _ => null,
    };

    /// <summary>The first free-form string of the event (an id, a sku, a free code) longer than its limit, with the limit.
    /// Codes (<see cref="FieldValues.Code"/>), currencies and the survey's free text have their own rules.</summary>
    private static (string Field, int Limit)? OverlongField(ShopperEvent evt)
    {
        const int limit = EntryLimits.MaxIdLength;
        static bool Over(string? value) => value is { Length: > limit };
        if (Over(evt.EventId)) return ("event_id", limit);
        if (Over(evt.ShopperId)) return ("shopper_id", limit);
        string? field = evt switch
        {
            SessionEvent session when Over(session.SessionId) => "session_id",
            SessionStarted started when Over(started.TimeZone) => "time_zone",
            ProductViewed viewed when Over(viewed.Sku) => "sku",
            CartLineRemoved removed when Over(removed.Sku) => "sku",
            CartLineUpdated updated when Over(updated.Sku) => "sku",
            PaymentFailed failed when Over(failed.ErrorCode) => "error_code",
            OrderPlaced order when Over(order.OrderId) => "order_id",
            PaymentAuthorized payment when Over(payment.OrderId) => "order_id",
            PaymentPending pending when Over(pending.SessionId) => "session_id",
            PaymentPending pending when Over(pending.OrderId) => "order_id",
            ConsentEvent consent when Over(consent.Source) => "source",
            ConsentEvent consent when Over(consent.WordingVersion) => "wording_version",
            IdentityLinked link when Over(link.AnonymousId) => "anonymous_id",
            IdentityLinked link when Over(link.CustomerId) => "customer_id",
            IdentityLinked link when Over(link.SessionId) => "session_id",
            IdentityMerged merged when Over(merged.AnonymousId) => "anonymous_id",
            IdentityMerged merged when Over(merged.CustomerId) => "customer_id",
            IdentityMerged merged when Over(merged.LinkEventId) => "link_event_id",
            IdentityForwarded forwarded when Over(forwarded.AnonymousId) => "anonymous_id",
            OutcomeEvent outcome when Over(outcome.SessionId) => "session_id",
            OutcomeEvent outcome when Over(outcome.TriggerRef) => "trigger_id",
            _ => null,
        };
        return field is null ? null : (field, limit);
    }

    /// <summary>Rejected as invalid_field; the detail names the field and the rule, never the value (it may be personal).</summary>
    private static ParseResult Invalid(string field, string rule) => ParseResult.Reject(RejectReasons.InvalidField, $"{field} {rule}");

    /// <summary>A detail that already starts with the field it names (the identity rules).</summary>
    private static ParseResult InvalidDetail(string detail) => ParseResult.Reject(RejectReasons.InvalidField, detail);
}
