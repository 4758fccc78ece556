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
        if (utf8.IsEmpty)
            return ParseResult.Reject(RejectReasons.NotJson, "empty payload");

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
        if (e.Path is { Length: > 1 } path && e.LineNumber is not null && !message.Contains("invalid start of a value", StringComparison.OrdinalIgnoreCase)
            && !message.Contains("end of data", StringComparison.OrdinalIgnoreCase))
            return ParseResult.Reject(RejectReasons.InvalidField, $"bad value at {path}");
        return ParseResult.Reject(RejectReasons.NotJson, "not a JSON object");
    }

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
                if (viewed.UnitPrice < 0) return Invalid("unit_price", "must be >= 0");
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
                if (updated.Quantity < 0) return Invalid("quantity", "must be >= 0");
                break;
            case CheckoutStepCompleted step:
                if (FieldValues.Code(step.Step) is not { } stepCode) return Invalid("step", "must be a checkout step code such as shipping, delivery or payment");
                return ParseResult.Ok(step with { Step = stepCode });
            case PaymentFailed failed when string.IsNullOrWhiteSpace(failed.ErrorCode):
                return Invalid("error_code", "is empty");
            case OrderPlaced order:
                if (string.IsNullOrWhiteSpace(order.OrderId)) return Invalid("order_id", "is empty");
                if (order.Total < 0) return Invalid("total", "must be >= 0");
                foreach (var line in order.Lines)
                    if (LineProblem(line) is { } orderLineProblem) return Invalid("lines", orderLineProblem);
                if (order.Currency is not null && FieldValues.Currency(order.Currency) is null) return Invalid("currency", CurrencyRule);
                return ParseResult.Ok(order with { Currency = FieldValues.Currency(order.Currency) });
            case PaymentAuthorized payment:
                if (string.IsNullOrWhiteSpace(payment.OrderId)) return Invalid("order_id", "is empty");
                if (payment.Amount < 0) return Invalid("amount", "must be >= 0");
                break;
            case ConsentEvent consent:
                if (FieldValues.Code(consent.Purpose) is not { } purpose) return Invalid("purpose", "must be a purpose code such as cart_recovery or marketing");
                if (FieldValues.ConsentChannel(consent.Channel) is not { } channel)
                    return Invalid("channel", $"must be one of {string.Join(", ", FieldValues.ConsentChannels.Order(StringComparer.Ordinal))}");
                if (ComplianceRules.ValidUntilProblem(consent) is { } expiryProblem) return InvalidDetail(expiryProblem);
                return ParseResult.Ok(consent with { Purpose = purpose, Channel = channel });
            case ErasureRequested erasure:
                if (FieldValues.Code(erasure.Source) is not { } erasureSource) return Invalid("source", "must be a code such as privacy_portal, support or operator");
                return ParseResult.Ok(erasure with { Source = erasureSource });
            case PaymentPending pending:
                if (pending.SessionId is not null && string.IsNullOrWhiteSpace(pending.SessionId)) return Invalid("session_id", "is empty (leave it out when the payment is not for one session)");
                if (pending.OrderId is not null && string.IsNullOrWhiteSpace(pending.OrderId)) return Invalid("order_id", "is empty (leave it out when there is no order yet)");
                if (pending.Amount < 0) return Invalid("amount", "must be >= 0");
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
                // The inner event goes through the same validation; forward its normalised form.
                return ParseResult.Ok(forwarded with { Event = Validate(forwarded.Event).Event! });
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

    private static string? LineProblem(CartLine line) =>
        string.IsNullOrWhiteSpace(line.Sku) ? "needs a sku" : line.Quantity <= 0 ? "needs quantity > 0" : line.UnitPrice < 0 ? "needs unit_price >= 0" : null;

    /// <summary>Rejected as invalid_field; the detail names the field and the rule, never the value (it may be personal).</summary>
    private static ParseResult Invalid(string field, string rule) => ParseResult.Reject(RejectReasons.InvalidField, $"{field} {rule}");

    /// <summary>A detail that already starts with the field it names (the identity rules).</summary>
    private static ParseResult InvalidDetail(string detail) => ParseResult.Reject(RejectReasons.InvalidField, detail);
}
