using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CartRecovery.Contracts.Events;

namespace CartRecovery.Contracts.Serialization;

/// <summary>
/// The transport of a worker-written input record (an identity hand-over or forwarded event) too large for one input
/// record (<see cref="EventParser.MaxEventBytes"/>): its JSON is cut into parts of <see cref="PartBytes"/>, produced in
/// order under the same key (so to the same partition, in order), each marked with two headers:
/// <c>cartrecovery-part</c> = <c>INDEX/COUNT</c> and <c>cartrecovery-part-of</c> = the SHA-256 of the whole JSON. The
/// reading worker joins them and parses the whole (<see cref="ParseJoined"/>), so nothing of the state is left out.
/// The record's format is unchanged: a part is a slice of the same bytes a small hand-over is sent as.
/// </summary>
public static class SplitRecords
{
    public const string PartHeader = "cartrecovery-part";
    public const string PartOfHeader = "cartrecovery-part-of";

    /// <summary>Each part is well under the input record limit and the producer's <c>message.max.bytes</c>.</summary>
    public const int PartBytes = 48 * 1024;

    /// <summary>At most this many parts (48 MiB): what a reader holds in memory while it joins them.</summary>
    public const int MaxParts = 1024;

    public const long MaxJoinedBytes = (long)PartBytes * MaxParts;

    /// <summary>Whether a record of this many bytes must be split to be read as input.</summary>
    public static bool MustSplit(int bytes) => bytes > EventParser.MaxEventBytes;

    /// <summary>The parts of <paramref name="value"/> with their two header values each.</summary>
    public static IEnumerable<(byte[] Part, byte[] PartHeaderValue, byte[] PartOfHeaderValue)> Split(byte[] value)
    {
        var count = (value.Length + PartBytes - 1) / PartBytes;
        if (count > MaxParts)
            throw new ArgumentException($"a record of {value.Length} bytes needs {count} parts; at most {MaxParts} ({MaxJoinedBytes} bytes) can be joined");
        var digest = Encoding.ASCII.GetBytes(Convert.ToHexStringLower(SHA256.HashData(value)));
        for (var i = 0; i < count; i++)
            yield return (value[(i * PartBytes)..Math.Min(value.Length, (i + 1) * PartBytes)], Encoding.ASCII.GetBytes($"{i}/{count}"), digest);
    }

    /// <summary>Reads a part header (<c>INDEX/COUNT</c>); null when it is not a well-formed one.</summary>
    public static (int Index, int Count)? ReadPart(ReadOnlySpan<byte> header)
    {
        Span<char> text = stackalloc char[24];
        if (header.Length > text.Length) return null;
        for (var i = 0; i < header.Length; i++) text[i] = (char)header[i];
        var slash = text[..header.Length].IndexOf('/');
        if (slash <= 0 || !int.TryParse(text[..slash], System.Globalization.NumberStyles.None, null, out var index)
            || !int.TryParse(text[(slash + 1)..header.Length], System.Globalization.NumberStyles.None, null, out var count)) return null;
        return count is >= 2 and <= MaxParts && index < count ? (index, count) : null;
    }

    /// <summary>Whether the joined bytes are the whole record the parts were cut from.</summary>
    public static bool IsWhole(ReadOnlySpan<byte> joined, ReadOnlySpan<byte> partOf) =>
        partOf.SequenceEqual(Encoding.ASCII.GetBytes(Convert.ToHexStringLower(SHA256.HashData(joined))));

    /// <summary>Parses a joined record like <see cref="EventParser.Parse(ReadOnlySpan{byte})"/>, without its size limit (the
    /// joined size is bounded by <see cref="MaxJoinedBytes"/>), and only as a record the worker splits: an identity
    /// hand-over or forwarded event. Never throws.</summary>
    public static ParseResult ParseJoined(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length <= EventParser.MaxEventBytes) return OnlyInternal(EventParser.Parse(utf8));
        if (utf8.Length > MaxJoinedBytes) return ParseResult.Reject(RejectReasons.Oversized, $"{utf8.Length} bytes > {MaxJoinedBytes}");
        ShopperEvent? evt;
        try
        {
            evt = ContractJson.DeserializeEvent(utf8);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException or ArgumentException)
        {
            return ParseResult.Reject(RejectReasons.NotJson, "a joined split record is not a readable event");
        }
        if (evt is null) return ParseResult.Reject(RejectReasons.NotJson, "null document");
        if (evt is not (IdentityMerged or IdentityForwarded))
            return ParseResult.Reject(RejectReasons.InvalidField, "type: only identity_merged and identity_forwarded records are split");
        try
        {
            return EventParser.Validate(evt);
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or ArgumentException)
        {
            return ParseResult.Reject(RejectReasons.InvalidField, "a joined split record failed validation");
        }
    }

    private static ParseResult OnlyInternal(ParseResult parsed) =>
        parsed.Event is null or IdentityMerged or IdentityForwarded ? parsed
            : ParseResult.Reject(RejectReasons.InvalidField, "type: only identity_merged and identity_forwarded records are split");
}
