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
        return Validate(evt);
    }

    public static ParseResult Parse(string json) => Parse(System.Text.Encoding.UTF8.GetBytes(json));

    /// <summary>True when the event belongs on the given input topic (storefront events on cart-events, ...).</summary>
    public static bool BelongsOn(ShopperEvent evt, string topic) => topic switch
    {
        Topics.OrderEvents => evt is OrderPlaced or PaymentAuthorized or PaymentPending,
        Topics.ConsentEvents => evt is ConsentEvent,
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
        if (string.IsNullOrWhiteSpace(evt.EventId)) return Invalid("event_id is empty");
        if (string.IsNullOrWhiteSpace(evt.ShopperId)) return Invalid("shopper_id is empty");
        if (evt.EventTime == default) return Invalid("event_time is missing");
        switch (evt)
        {
            case SessionEvent s when string.IsNullOrWhiteSpace(s.SessionId):
                return Invalid("session_id is empty");
            case CartLineAdded a when a.Line.Quantity <= 0 || a.Line.UnitPrice < 0 || string.IsNullOrWhiteSpace(a.Line.Sku):
                return Invalid("line needs a sku, quantity > 0 and unit_price >= 0");
            case CartLineUpdated u when u.Quantity < 0:
                return Invalid("quantity must be >= 0");
            case OrderPlaced o when o.Total < 0:
                return Invalid("total must be >= 0");
            case PaymentPending p when p.Amount < 0:
                return Invalid("amount must be >= 0");
            case PaymentPending p when p.SessionId is not null && string.IsNullOrWhiteSpace(p.SessionId):
                return Invalid("session_id is empty");
            case ConsentEvent c when string.IsNullOrWhiteSpace(c.Purpose) || string.IsNullOrWhiteSpace(c.Channel):
                return Invalid("purpose and channel are required");
        }
        if (IdentityRules.Invalid(evt) is { } identityProblem) return Invalid(identityProblem);
        return ParseResult.Ok(evt);

        static ParseResult Invalid(string detail) => ParseResult.Reject(RejectReasons.InvalidField, detail);
    }
}
