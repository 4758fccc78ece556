using System.Collections.Frozen;

namespace CartRecovery.Contracts.Serialization;

/// <summary>
/// The enumerated and structured values of the contract, and how input is normalised to them. A value whose meaning
/// is unambiguous is normalised ("Email" is the channel "email", "eur" the currency "EUR", "europe/berlin" the zone
/// "Europe/Berlin"); anything else is not guessed at: <see cref="EventParser"/> rejects the record as
/// <c>invalid_field</c>, naming the field. Used at every entry (the worker's ingest, file imports) and by the policy file.
/// </summary>
public static class FieldValues
{
    /// <summary>Channels a consent can be given or taken on; "all" takes every channel at once.</summary>
    public static readonly FrozenSet<string> ConsentChannels = FrozenSet.Create(StringComparer.Ordinal, "email", "sms", "push", "all");

    /// <summary>A code such as a purpose, channel of origin or checkout step: lower case letters, digits, '_', '-' and '.',
    /// starting with a letter. Case is normalised; anything else (spaces, other characters) is rejected.</summary>
    public static string? Code(string? value)
    {
        if (value is null) return null;
        if (IsCode(value)) return value; // the common case: already normal, no copy on the hot path
        var code = value.Trim().ToLowerInvariant();
        return IsCode(code) ? code : null;
    }

    private static bool IsCode(string code)
    {
        if (code.Length is 0 or > 64 || code[0] is < 'a' or > 'z') return false;
        foreach (var c in code)
            if (c is not ((>= 'a' and <= 'z') or (>= '0' and <= '9') or '_' or '-' or '.')) return false;
        return true;
    }

    public static string? ConsentChannel(string? value) => Code(value) is { } channel && ConsentChannels.Contains(channel) ? channel : null;

    /// <summary>An ISO 4217 currency code: three letters, upper case ("eur" → "EUR").</summary>
    public static string? Currency(string? value)
    {
        if (value is null) return null;
        if (IsCurrency(value)) return value;
        var code = value.Trim().ToUpperInvariant();
        return IsCurrency(code) ? code : null;
    }

    private static bool IsCurrency(string code) => code is [>= 'A' and <= 'Z', >= 'A' and <= 'Z', >= 'A' and <= 'Z'];

    /// <summary>An IANA time zone id as the system's time zone database spells it ("europe/berlin" → "Europe/Berlin"),
    /// or null when the database does not know it.</summary>
    public static string? TimeZone(string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) return null;
        var id = value.Trim();
        if (ZoneIds.Value.TryGetValue(id, out var canonical)) return canonical;
        try
        {
            var zone = TimeZoneInfo.FindSystemTimeZoneById(id);
            return zone.HasIanaId ? zone.Id : TimeZoneInfo.TryConvertWindowsIdToIanaId(zone.Id, out var iana) ? iana : null;
        }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException or ArgumentException)
        {
            return null;
        }
    }

    private static readonly Lazy<FrozenDictionary<string, string>> ZoneIds = new(() =>
    {
        var ids = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var zone in TimeZoneInfo.GetSystemTimeZones(skipSorting: true))
            if (zone.HasIanaId) ids.TryAdd(zone.Id, zone.Id);
        foreach (var id in (string[])["UTC", "Etc/UTC"]) ids.TryAdd(id, id);
        return ids.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
    });
}
