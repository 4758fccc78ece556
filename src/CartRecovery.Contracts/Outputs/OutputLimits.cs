using System.Security.Cryptography;
using System.Text;
using CartRecovery.Contracts.Serialization;

namespace CartRecovery.Contracts.Outputs;

/// <summary>
/// The sizes every record the worker writes stays within, whatever the input held (docs/events.md, "Output sizes").
/// A Kafka record larger than the producer's <c>message.max.bytes</c> is refused by librdkafka, and a refused output
/// stops the worker on every restart; so each kind of output has a rule that makes it fit:
/// <list type="bullet">
/// <item>a trigger lists the first <see cref="MaxTriggerLines"/> lines of the cart and counts the rest
/// (<see cref="RecoveryTrigger.CartLinesOmitted"/>); when even those do not fit, lines are left out from the end, then the
/// rendered message body is cut (<see cref="FitTrigger"/>);</item>
/// <item>a dead letter of a record larger than <see cref="DeadLetterValueBytes"/> carries its first
/// <see cref="DeadLetterValueBytes"/> bytes and the SHA-256 of the whole value (<see cref="DeadLetterValue"/>);</item>
/// <item>an identity hand-over or forwarded event larger than one input record is split into parts
/// (<see cref="SplitRecords"/>).</item>
/// </list>
/// </summary>
public static class OutputLimits
{
    /// <summary>librdkafka's default <c>message.max.bytes</c>, the limit when the operator configures none.</summary>
    public const int DefaultMaxRecordBytes = 1_000_000;

    /// <summary>Room for the record's key, headers and librdkafka's framing within <c>message.max.bytes</c>.</summary>
    public const int RecordOverheadBytes = 4 * 1024;

    /// <summary>At most this many cart lines are listed in a trigger (in the cart's order); the rest are counted.</summary>
    public const int MaxTriggerLines = 100;

    /// <summary>A dead letter's value keeps at most this much of the rejected record: any record that could be valid
    /// input (<see cref="EventParser.MaxEventBytes"/>) is kept whole, so it can be repaired and replayed.</summary>
    public const int DeadLetterValueBytes = EventParser.MaxEventBytes;

    /// <summary>A dead letter's key keeps at most this many bytes; a longer key is replaced by its SHA-256.</summary>
    public const int DeadLetterKeyBytes = 1024;

    /// <summary>Bytes the record's key and headers take in a produce request (librdkafka counts them against the limit).</summary>
    public static int Overhead(string? key, IEnumerable<(string Key, byte[]? Value)> headers) =>
        (key is null ? 0 : Encoding.UTF8.GetByteCount(key)) + headers.Sum(h => Encoding.UTF8.GetByteCount(h.Key) + (h.Value?.Length ?? 0));

    /// <summary>The trigger as JSON within <paramref name="maxValueBytes"/>: unchanged when it fits; otherwise cart lines
    /// are left out from the end (counted in cart_lines_omitted), and when no line is left and it still does not fit, the
    /// rendered message body, then the subject, are cut at a character boundary. Returns the (possibly reduced) trigger
    /// and its JSON.</summary>
    public static (RecoveryTrigger Trigger, byte[] Json) FitTrigger(RecoveryTrigger trigger, int maxValueBytes)
    {
        var json = ContractJson.SerializeToUtf8(trigger);
        if (json.Length <= maxValueBytes) return (trigger, json);
        // Halve the listed lines until it fits (a few serialisations, not one per line), then the text.
        var lines = trigger.CartLines.Count;
        while (json.Length > maxValueBytes && lines > 0)
        {
            lines /= 2;
            trigger = trigger with
            {
                CartLines = [.. trigger.CartLines.Take(lines)],
                CartLinesOmitted = trigger.CartLinesOmitted + trigger.CartLines.Count - lines,
            };
            json = ContractJson.SerializeToUtf8(trigger);
        }
        // Escaping can make the text longer in JSON than in UTF-8, so cut again until it fits (or nothing is left).
        while (json.Length > maxValueBytes && trigger.MessageBody.Length > 0)
        {
            var escaped = json.Length - ContractJson.SerializeToUtf8(trigger with { MessageBody = "" }).Length;
            trigger = trigger with { MessageBody = Cut(trigger.MessageBody, json.Length - maxValueBytes, escaped) };
            json = ContractJson.SerializeToUtf8(trigger);
        }
        while (json.Length > maxValueBytes && trigger.MessageSubject.Length > 0)
        {
            var escaped = json.Length - ContractJson.SerializeToUtf8(trigger with { MessageSubject = "" }).Length;
            trigger = trigger with { MessageSubject = Cut(trigger.MessageSubject, json.Length - maxValueBytes, escaped) };
            json = ContractJson.SerializeToUtf8(trigger);
        }
        return (trigger, json);
    }

    /// <summary>The dead letter's value and its headers saying what was kept: the whole value when it is at most
    /// <see cref="DeadLetterValueBytes"/>, else its first bytes, with <c>payload_bytes</c>, <c>payload_sha256</c> and
    /// <c>payload_truncated</c> headers so the record can still be identified at its source offset.</summary>
    public static (byte[] Value, bool Truncated) DeadLetterValue(byte[]? payload)
    {
        payload ??= [];
        return payload.Length <= DeadLetterValueBytes ? (payload, false) : (payload[..DeadLetterValueBytes], true);
    }

    /// <summary>A dead letter's key: the record's own when it is short enough, else <c>sha256:HEX</c> of it.</summary>
    public static string? DeadLetterKey(byte[]? key) =>
        key is null ? null
        : key.Length <= DeadLetterKeyBytes ? Encoding.UTF8.GetString(key)
        : "sha256:" + Convert.ToHexStringLower(SHA256.HashData(key));

    /// <summary>A short digest of a record key for logs: names the record for an operator who knows the key without
    /// quoting it (keys are shopper ids, which logs never carry).</summary>
    public static string KeyDigest(string? key) =>
        key is null ? "(no key)" : "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..16];

    /// <summary>The text shortened so that its JSON form (<paramref name="escapedBytes"/> now, longer than its UTF-8 when
    /// characters are escaped) loses at least <paramref name="excessBytes"/>, ending in a marker.</summary>
    private static string Cut(string text, int excessBytes, int escapedBytes)
    {
        const string marker = " [...]";
        var utf8 = Encoding.UTF8.GetByteCount(text);
        var keep = (int)((long)(escapedBytes - excessBytes) * utf8 / Math.Max(1, escapedBytes)) - 2 * marker.Length;
        if (keep <= 0) return "";
        var chars = 0;
        var bytes = 0;
        while (chars < text.Length)
        {
            var width = char.IsHighSurrogate(text[chars]) && chars + 1 < text.Length ? 2 : 1;
            var size = Encoding.UTF8.GetByteCount(text.AsSpan(chars, width));
            if (bytes + size > keep) break;
            bytes += size;
            chars += width;
        }
        return string.Concat(text.AsSpan(0, chars), marker);
    }
}
