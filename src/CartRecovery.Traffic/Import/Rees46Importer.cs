using System.Globalization;

namespace CartRecovery.Traffic.Import;

/// <summary>
/// Maps the public REES46 e-commerce behaviour dataset (CSV:
/// <c>event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session</c>) onto the
/// event contract, streaming in file order:
/// <list type="bullet">
/// <item>shopper id = user_id, session id = user_session, channel of origin, currency and time zone from <see cref="ClickstreamDefaults"/>;</item>
/// <item><c>view</c> → product view, <c>cart</c> → cart add, <c>remove_from_cart</c> → cart remove, <c>purchase</c> → purchase,
/// made into events (synthetic consent and session starts, ids from line numbers) by <see cref="ClickstreamEvents"/>.</item>
/// </list>
/// A bad line (wrong column count, unparsable time or price, unknown event type, empty id) is counted and skipped.
/// </summary>
public static class Rees46Importer
{
    public static readonly string[] Columns = ["event_time", "event_type", "product_id", "category_id", "category_code", "brand", "price", "user_id", "user_session"];
    private const string TimeFormat = "yyyy-MM-dd HH:mm:ss 'UTC'";

    public static IEnumerable<GeneratedEvent> Read(TextReader reader, ClickstreamDefaults defaults, ImportStatistics statistics)
    {
        var header = reader.ReadLine();
        if (header is null) yield break;
        if (!SplitCsv(header.Trim()).SequenceEqual(Columns))
            throw new InvalidDataException($"not a REES46 file: the header must be {string.Join(',', Columns)}");

        var events = new ClickstreamEvents(ImportFormats.Rees46, defaults, statistics);
        long lineNumber = 1;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            statistics.CountLine();
            if (!TryParse(line, lineNumber, statistics, out var click)) continue;
            foreach (var evt in events.For(click)) yield return evt;
        }
    }

    private static bool TryParse(string line, long lineNumber, ImportStatistics statistics, out Click click)
    {
        click = default;
        var fields = SplitCsv(line);
        if (fields.Count != Columns.Length)
            return Reject("wrong_column_count", $"{fields.Count} columns, expected {Columns.Length}");
        if (!DateTimeOffset.TryParseExact(fields[0], TimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time))
            return Reject("invalid_field", "event_time is not 'yyyy-MM-dd HH:mm:ss UTC'");
        ClickKind? kind = fields[1] switch
        {
            "view" => ClickKind.View, "cart" => ClickKind.CartAdd, "remove_from_cart" => ClickKind.CartRemove, "purchase" => ClickKind.Purchase, _ => null,
        };
        if (kind is null)
            return Reject("unknown_event_type", "event_type is not view, cart, remove_from_cart or purchase");
        if (fields[2].Length == 0) return Reject("missing_field", "product_id is empty");
        if (!decimal.TryParse(fields[6], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var price))
            return Reject("invalid_field", "price is not a non-negative decimal");
        if (fields[7].Length == 0) return Reject("missing_field", "user_id is empty");
        if (fields[8].Length == 0) return Reject("missing_field", "user_session is empty");
        var name = fields[4].Length > 0 ? fields[4] : fields[5];
        // category_code (electronics.smartphone) is often empty in REES46; a value that is not a code is left out rather
        // than rejecting the row.
        click = new Click(lineNumber, time, kind.Value, fields[2], name, price, fields[7], fields[8], Contracts.Serialization.FieldValues.Code(fields[4]));
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
