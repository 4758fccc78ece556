using System.Globalization;
using CartRecovery.Contracts.Serialization;

namespace CartRecovery.Traffic.Import;

/// <summary>
/// Maps the public Alibaba Taobao "UserBehavior" dataset (CSV without a header:
/// <c>user_id,item_id,category_id,behavior_type,timestamp</c>, behavior_type <c>pv|cart|fav|buy</c>, timestamp in unix
/// seconds) onto the event contract (docs/replay.md, "Formats"):
/// <list type="bullet">
/// <item>shopper id = user_id; the dataset has no sessions: a shopper's session ends after more than <see cref="SessionGap"/>
/// without an event of theirs, and the next event starts a new one, id <c>taobao-session-L{n}</c> (n = line of its first event);</item>
/// <item><c>pv</c> → product view, <c>fav</c> → product view (a favourite is made on the product's page; the contract has no
/// wishlist event), <c>cart</c> → cart add, <c>buy</c> → purchase; unit price 0 (the dataset has none); category
/// <c>taobao.{category_id}</c>;</item>
/// <item>made into events (synthetic consent and session starts, ids from line numbers) by <see cref="ClickstreamEvents"/>.</item>
/// </list>
/// The dataset is grouped by user, not ordered by time, while the worker reads event time in arrival order: the whole
/// file is read first and published in time order (file order within a second). A bad line (wrong column count,
/// timestamp not unix seconds in the accepted window, unknown behavior type, empty id) is counted and skipped.
/// </summary>
public static class TaobaoImporter
{
    public static readonly string[] Columns = ["user_id", "item_id", "category_id", "behavior_type", "timestamp"];

    /// <summary>The default policy's inactivity timeout: a cart left this long is abandoned, so an event after a longer
    /// silence is a new visit (the usual web-analytics session gap too).</summary>
    public static readonly TimeSpan SessionGap = TimeSpan.FromMinutes(30);

    public static IEnumerable<GeneratedEvent> Read(TextReader reader, ClickstreamDefaults defaults, ImportStatistics statistics)
    {
        var clicks = new List<Click>();
        long lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            statistics.CountLine();
            if (TryParse(line, lineNumber, statistics, out var click)) clicks.Add(click);
        }
        clicks.Sort((a, b) => a.Time != b.Time ? a.Time.CompareTo(b.Time) : a.LineNumber.CompareTo(b.LineNumber));

        var events = new ClickstreamEvents(ImportFormats.Taobao, defaults, statistics);
        var openSessions = new Dictionary<string, (string Session, DateTimeOffset LastEvent)>(StringComparer.Ordinal);
        foreach (var click in clicks)
        {
            var session = openSessions.TryGetValue(click.Shopper, out var open) && click.Time - open.LastEvent <= SessionGap
                ? open.Session
                : $"{ImportFormats.Taobao}-session-L{click.LineNumber}";
            openSessions[click.Shopper] = (session, click.Time);
            foreach (var evt in events.For(click with { Session = session })) yield return evt;
        }
    }

    private static readonly long EarliestSeconds = EntryLimits.EarliestTime.ToUnixTimeSeconds();
    private static readonly long WindowEndSeconds = EntryLimits.TimeWindowEnd.ToUnixTimeSeconds();

    private static bool TryParse(string line, long lineNumber, ImportStatistics statistics, out Click click)
    {
        click = default;
        var fields = Rees46Importer.SplitCsv(line.TrimEnd());
        if (fields.Count != Columns.Length)
            return Reject("wrong_column_count", $"{fields.Count} columns, expected {Columns.Length}");
        if (fields[0].Length == 0) return Reject("missing_field", "user_id is empty");
        if (fields[1].Length == 0) return Reject("missing_field", "item_id is empty");
        ClickKind? kind = fields[3] switch
        {
            "pv" or "fav" => ClickKind.View, "cart" => ClickKind.CartAdd, "buy" => ClickKind.Purchase, _ => null,
        };
        if (kind is null) return Reject("unknown_event_type", "behavior_type is not pv, fav, cart or buy");
        if (!long.TryParse(fields[4], NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds < EarliestSeconds || seconds >= WindowEndSeconds)
            return Reject("invalid_field", $"timestamp is not unix seconds {EntryLimits.TimeWindow}");
        // category_id is a number; the contract's category is a code that starts with a letter.
        var category = fields[2].Length > 0 ? FieldValues.Code($"{ImportFormats.Taobao}.{fields[2]}") : null;
        click = new Click(lineNumber, DateTimeOffset.FromUnixTimeSeconds(seconds), kind.Value, fields[1], Name: "", Price: 0m, fields[0], Session: "", category);
        return true;

        bool Reject(string reason, string detail)
        {
            statistics.Reject(lineNumber, reason, detail, line);
            return false;
        }
    }
}
