using System.Text.Json;
using System.Text.Json.Serialization;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;

namespace CartRecovery.Contracts.Serialization;

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    AllowOutOfOrderMetadataProperties = true,
    // A key given twice is refused (invalid_field): parsers disagree on which value wins, so a record could mean one
    // thing to a storefront's validator and another to the worker.
    AllowDuplicateProperties = false,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    IgnoreReadOnlyProperties = true)]
[JsonSerializable(typeof(ShopperEvent))]
[JsonSerializable(typeof(RecoveryTrigger))]
[JsonSerializable(typeof(AuditRecord))]
[JsonSerializable(typeof(SessionOutcome))]
[JsonSerializable(typeof(DeadLetter))]
[JsonSerializable(typeof(OutcomeRecord))]
[JsonSerializable(typeof(ShopperProfileRow))]
[JsonSerializable(typeof(AnchoredHead))]
internal sealed partial class ContractJsonContext : JsonSerializerContext;

/// <summary>
/// The one serializer of the project: input events, triggers, audit rows, outcomes and dead letters,
/// snake_case JSON with System.Text.Json source generation (no reflection on the hot path).
/// The same JSON is the Kafka payload and the ClickHouse JSONEachRow row.
/// </summary>
public static class ContractJson
{
    private static readonly ContractJsonContext Context = ContractJsonContext.Default;

    public static byte[] SerializeEvent(ShopperEvent evt) => JsonSerializer.SerializeToUtf8Bytes(evt, Context.ShopperEvent);
    public static string SerializeEventToString(ShopperEvent evt) => JsonSerializer.Serialize(evt, Context.ShopperEvent);

    public static byte[] SerializeToUtf8(RecoveryTrigger trigger) => JsonSerializer.SerializeToUtf8Bytes(trigger, Context.RecoveryTrigger);
    public static string Serialize(RecoveryTrigger trigger) => JsonSerializer.Serialize(trigger, Context.RecoveryTrigger);
    public static string Serialize(AuditRecord audit) => JsonSerializer.Serialize(audit, Context.AuditRecord);
    public static string Serialize(AnchoredHead head) => JsonSerializer.Serialize(head, Context.AnchoredHead);
    public static AnchoredHead DeserializeAnchoredHead(ReadOnlySpan<byte> utf8) =>
        JsonSerializer.Deserialize(utf8, Context.AnchoredHead) ?? throw new JsonException("null chain head row");
    public static string Serialize(SessionOutcome outcome) => JsonSerializer.Serialize(outcome, Context.SessionOutcome);
    public static string Serialize(DeadLetter deadLetter) => JsonSerializer.Serialize(deadLetter, Context.DeadLetter);
    public static string Serialize(OutcomeRecord outcome) => JsonSerializer.Serialize(outcome, Context.OutcomeRecord);
    public static string Serialize(ShopperProfileRow profile) => JsonSerializer.Serialize(profile, Context.ShopperProfileRow);
    public static byte[] SerializeToUtf8(DeadLetter deadLetter) => JsonSerializer.SerializeToUtf8Bytes(deadLetter, Context.DeadLetter);

    /// <summary>The writer options of a JSONEachRow row written in place (<see cref="Serialize(Utf8JsonWriter, AuditRecord)"/>
    /// and its overloads): the options' encoder, unindented, so the bytes are those of the string overloads.</summary>
    public static JsonWriterOptions RowWriterOptions => new() { Encoder = Context.Options.Encoder, Indented = false };

    // A row written straight into the insert's UTF-8 buffer (the output writer's rows are never .NET strings).
    public static void Serialize(Utf8JsonWriter writer, AuditRecord audit) => JsonSerializer.Serialize(writer, audit, Context.AuditRecord);
    public static void Serialize(Utf8JsonWriter writer, AnchoredHead head) => JsonSerializer.Serialize(writer, head, Context.AnchoredHead);
    public static void Serialize(Utf8JsonWriter writer, SessionOutcome outcome) => JsonSerializer.Serialize(writer, outcome, Context.SessionOutcome);
    public static void Serialize(Utf8JsonWriter writer, DeadLetter deadLetter) => JsonSerializer.Serialize(writer, deadLetter, Context.DeadLetter);
    public static void Serialize(Utf8JsonWriter writer, OutcomeRecord outcome) => JsonSerializer.Serialize(writer, outcome, Context.OutcomeRecord);
    public static void Serialize(Utf8JsonWriter writer, ShopperProfileRow profile) => JsonSerializer.Serialize(writer, profile, Context.ShopperProfileRow);

    public static RecoveryTrigger DeserializeTrigger(ReadOnlySpan<byte> utf8) =>
        JsonSerializer.Deserialize(utf8, Context.RecoveryTrigger) ?? throw new JsonException("null trigger");

    public static AuditRecord DeserializeAudit(ReadOnlySpan<byte> utf8) =>
        JsonSerializer.Deserialize(utf8, Context.AuditRecord) ?? throw new JsonException("null audit row");

    public static DeadLetter DeserializeDeadLetter(ReadOnlySpan<byte> utf8) =>
        JsonSerializer.Deserialize(utf8, Context.DeadLetter) ?? throw new JsonException("null dead letter");

    /// <summary>JSON Schema of the input events (one subschema per event type, discriminated by "type"),
    /// exported from the contract types themselves so docs/events.schema.json cannot drift from the code.</summary>
    public static string EventSchema()
    {
        var schema = System.Text.Json.Schema.JsonSchemaExporter.GetJsonSchemaAsNode(Context.Options, typeof(ShopperEvent),
            new System.Text.Json.Schema.JsonSchemaExporterOptions { TreatNullObliviousAsNonNullable = true, TransformSchemaNode = WithEntryLimits });
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema";
        schema["$id"] = $"https://cartrecovery.example/schemas/shopper-event/v{ShopperEvent.CurrentSchemaVersion}.json";
        return schema.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>The entry limits (<see cref="EntryLimits"/>) of a property, in the schema's own keywords where it has one
    /// (lengths, ranges, item counts) and in its description where it has none (the event-time window).</summary>
    private static System.Text.Json.Nodes.JsonNode WithEntryLimits(System.Text.Json.Schema.JsonSchemaExporterContext context, System.Text.Json.Nodes.JsonNode node)
    {
        if (context.PropertyInfo is not { } property || node is not System.Text.Json.Nodes.JsonObject schema) return node;
        switch (property.Name)
        {
            case "event_time" or "valid_until":
                schema["description"] = $"RFC 3339 with its UTC offset, {EntryLimits.TimeWindow}";
                break;
            case "name" when property.DeclaringType == typeof(CartLine):
                schema["maxLength"] = EntryLimits.MaxNameLength;
                break;
            case "free_text":
                schema["maxLength"] = OutcomeRules.MaxFreeTextLength;
                break;
            case "event_id" or "shopper_id" or "session_id" or "order_id" or "sku" or "error_code" or "trigger_id" or "anonymous_id"
                or "customer_id" or "link_event_id" or "wording_version" or "time_zone":
            case "source" when typeof(ConsentEvent).IsAssignableFrom(property.DeclaringType):
                schema["maxLength"] = EntryLimits.MaxIdLength;
                break;
            case "unit_price":
                (schema["minimum"], schema["maximum"]) = (0, EntryLimits.MaxUnitPrice);
                break;
            case "total" or "amount" when property.DeclaringType != typeof(CartLine): // a line's total is price × quantity, not input
                (schema["minimum"], schema["maximum"]) = (0, EntryLimits.MaxAmount);
                break;
            case "quantity":
                (schema["minimum"], schema["maximum"]) = (property.DeclaringType == typeof(CartLine) ? 1 : 0, EntryLimits.MaxQuantity);
                break;
            case "lines":
                schema["maxItems"] = EntryLimits.MaxOrderLines;
                break;
            case "reason" when property.DeclaringType == typeof(PromoCodeRejected):
                schema["enum"] = new System.Text.Json.Nodes.JsonArray([.. PromoCodeRejections.All.Select(r => (System.Text.Json.Nodes.JsonNode?)r)]);
                break;
        }
        return schema;
    }

    /// <summary>Deserializes without validation; use <see cref="EventParser"/> for untrusted input.</summary>
    internal static ShopperEvent? DeserializeEvent(ReadOnlySpan<byte> utf8) => JsonSerializer.Deserialize(utf8, Context.ShopperEvent);
}
