using System.Text;
using CartRecovery.Contracts;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Streaming.Ingest;
using FsCheck.Xunit;

namespace CartRecovery.Streaming.Tests.Ingest;

/// <summary>
/// Fuzzing the entry: random bytes, and valid records of every event type mutated at the byte level (flips, cuts, copies,
/// hostile tokens spliced in) and at the value level (any field set to a hostile value), go through the parser and the
/// ingest's admission. Whatever comes in, the answer is an event or a reject reason with a detail, never an exception,
/// and an admitted event honours the entry limits.
/// </summary>
public sealed class HostileInputProperties
{
    private static readonly string[] Topics_ = [Topics.CartEvents, Topics.OrderEvents, Topics.ConsentEvents, Topics.OutcomeEvents];

    private static readonly string[] Tokens =
    [
        "null", "[null]", "[", "]", "{", "}", "\"", ",", ":", "1e400", "-1", "0", "1e28", "79228162514264337593543950336", "2147483648",
        "\"0001-01-01T00:01:00Z\"", "\"9999-12-31T23:59:00Z\"", "\"2026-11-23T10:00:00\"", "\"\"", "\" \"", "true", "{}", "[]",
        ",\"event_id\":\"dup\"", ",\"type\":\"order_placed\"", ",\"lines\":[null]", "\"\\ud800\"", "\"\\u0000\"", "\uFEFF", "\u00e9",
        "\"" + new string('x', 300) + "\"", new string('[', 70), "NaN", "Infinity", "{\"$ref\":\"1\"}",
    ];

    private static readonly string[] HostileValues =
    [
        "null", "[null]", "[]", "{}", "\"\"", "true", "-1", "0", "1e28", "1e400", "-1e400", "2147483648", "1.5", "\"2026-11-23T10:00:00\"",
        "\"0001-01-01T00:01:00Z\"", "\"9999-12-31T23:59:00Z\"", "\"" + new string('x', 5000) + "\"", "[" + string.Join(",", Enumerable.Repeat("null", 50)) + "]",
        "{\"sku\":\"A\",\"unit_price\":1e28,\"quantity\":10}", "[{\"sku\":\"A\",\"unit_price\":1,\"quantity\":1},null]", "\"checkout_started\"", "\"identity_merged\"",
    ];

    private static void AssertAnswered(byte[] payload)
    {
        var parsed = EventParser.Parse(payload);
        if (parsed.Event is { } evt)
        {
            Assert.Null(parsed.RejectReason);
            Assert.True(EntryLimits.InTimeWindow(evt.EventTime));
            Assert.True(evt.EventId.Length <= EntryLimits.MaxIdLength && evt.ShopperId.Length <= EntryLimits.MaxIdLength);
        }
        else
        {
            Assert.False(string.IsNullOrWhiteSpace(parsed.RejectReason));
            Assert.False(string.IsNullOrWhiteSpace(parsed.Detail));
            // Every shape met here is classified: the parser's last-resort catch is not how these are answered.
            Assert.DoesNotContain("unreadable record", parsed.Detail);
        }
        foreach (var topic in Topics_)
            foreach (var key in new[] { null, "s1"u8.ToArray(), payload.Length > 4 ? payload[..4] : payload })
            {
                var admitted = IngestValidation.Admit(topic, key, payload);
                Assert.True(admitted.Event is not null ^ admitted.Reason is not null);
                if (admitted.Event is null) Assert.False(string.IsNullOrWhiteSpace(admitted.Detail));
            }
    }

    [Property(MaxTest = 500)]
    public void Random_bytes_are_answered_never_thrown(byte[] payload) => AssertAnswered(payload ?? []);

    [Property(MaxTest = 300)]
    public void Random_text_is_answered_never_thrown(string text) => AssertAnswered(Encoding.UTF8.GetBytes(text ?? ""));

    [Property(MaxTest = 1500)]
    public void Valid_events_of_every_type_mutated_byte_by_byte_are_answered_never_thrown(int seed)
    {
        var random = new Random(seed);
        var (_, json) = ValidEvents.All[random.Next(ValidEvents.All.Count)];
        var bytes = Encoding.UTF8.GetBytes(json).ToList();
        for (var mutations = 1 + random.Next(4); mutations > 0 && bytes.Count > 0; mutations--)
        {
            var at = random.Next(bytes.Count);
            switch (random.Next(5))
            {
                case 0:
                    bytes[at] = (byte)random.Next(256);
                    break;
                case 1:
                    bytes.RemoveRange(at, Math.Min(bytes.Count - at, 1 + random.Next(12)));
                    break;
                case 2:
                    var length = Math.Min(bytes.Count - at, 1 + random.Next(40));
                    bytes.InsertRange(random.Next(bytes.Count), bytes.GetRange(at, length));
                    break;
                default:
                    bytes.InsertRange(at, Encoding.UTF8.GetBytes(Tokens[random.Next(Tokens.Length)]));
                    break;
            }
        }
        AssertAnswered([.. bytes]);
    }

    [Property(MaxTest = 1500)]
    public void Valid_events_of_every_type_with_any_field_set_to_a_hostile_value_are_answered_never_thrown(int seed)
    {
        var random = new Random(seed);
        var (_, json) = ValidEvents.All[random.Next(ValidEvents.All.Count)];
        var fields = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject().Select(p => p.Key).ToList();
        var field = random.Next(8) == 0 ? "extra" : fields[random.Next(fields.Count)];
        var mutated = ValidEvents.With(json, field, random.Next(10) == 0 ? null : HostileValues[random.Next(HostileValues.Length)]);
        AssertAnswered(Encoding.UTF8.GetBytes(mutated));
    }
}
