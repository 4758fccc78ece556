using System.Globalization;

namespace CartRecovery.Storage.Schema;

/// <summary>
/// Retention per table from configuration, applied to existing tables too: <c>CREATE TABLE IF NOT EXISTS</c> leaves an
/// existing table's TTL as it was, so a store created with another retention would silently keep it. The TTL clause
/// of each table comes from schema.sql rendered with the options (the one DDL source); a table whose TTL already has
/// the configured number of days is left alone (MODIFY TTL rewrites every part).
/// </summary>
public static class SchemaRetention
{
    /// <summary>The configuration key of the retention per table, e.g. <c>audit_log=730,dead_letters=7,recovery_triggers=forever</c>.</summary>
    public const string Setting = "Retention:Tables";

    /// <summary>The retention of consent evidence after the consent stopped being in force (<see cref="SchemaOptions.ConsentEvidenceDays"/>).</summary>
    public const string ConsentEvidence = "consent_evidence";

    /// <summary>The tables whose retention is configurable and the <see cref="SchemaOptions"/> member holding it.</summary>
    public static IReadOnlyList<string> Tables { get; } = ["recovery_triggers", "audit_log", "session_outcomes", "dead_letters", "outcome_events", "shopper_profiles"];

    /// <summary>Applies a specification <c>table=days|forever[,table=days...]</c> to <paramref name="options"/>; an unknown
    /// table or a bad number names the key and the problem.</summary>
    public static SchemaOptions Parse(string? specification, SchemaOptions options)
    {
        if (string.IsNullOrWhiteSpace(specification)) return options;
        foreach (var part in specification.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var pair = part.Split('=', 2, StringSplitOptions.TrimEntries);
            if (pair.Length != 2) throw new ArgumentException($"{Setting}: '{part}' must be table=days or table=forever");
            int? days = pair[1] == "forever" ? null
                : int.TryParse(pair[1], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n
                : throw new ArgumentException($"{Setting}: {pair[0]} must be a whole number of days > 0 or 'forever' (got '{pair[1]}')");
            options = pair[0] switch
            {
                "recovery_triggers" => options with { TriggerRetentionDays = days },
                "audit_log" => options with { AuditRetentionDays = days },
                "session_outcomes" => options with { OutcomeRetentionDays = days },
                "dead_letters" => options with { DeadLetterRetentionDays = days },
                "outcome_events" => options with { OutcomeEventRetentionDays = days },
                "shopper_profiles" => options with { ProfileRetentionDays = days },
                ConsentEvidence => options with { ConsentEvidenceDays = days },
                var other => throw new ArgumentException($"{Setting}: '{other}' is not a table with a retention (known: {string.Join(", ", Tables)}, {ConsentEvidence})"),
            };
        }
        return options;
    }

    /// <summary>The configured days of a table (null: kept forever).</summary>
    public static int? DaysOf(SchemaOptions options, string table) => table switch
    {
        "recovery_triggers" => options.TriggerRetentionDays,
        "audit_log" => options.AuditRetentionDays,
        "session_outcomes" => options.OutcomeRetentionDays,
        "dead_letters" => options.DeadLetterRetentionDays,
        "outcome_events" => options.OutcomeEventRetentionDays,
        "shopper_profiles" => options.ProfileRetentionDays,
        _ => throw new ArgumentException($"'{table}' has no retention"),
    };

    /// <summary>The TTL clause of each table as schema.sql renders it (null: no TTL).</summary>
    public static IReadOnlyDictionary<string, string?> TtlClauses(SchemaOptions options)
    {
        var clauses = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var statement in AnalyticsSchema.StatementsFor(options))
        {
            var lines = statement.Split('\n');
            var create = lines[0];
            const string prefix = "CREATE TABLE IF NOT EXISTS ";
            if (!create.StartsWith(prefix, StringComparison.Ordinal)) continue;
            var table = create[prefix.Length..].Trim();
            if (!Tables.Contains(table)) continue; // a table without a retention (audit_chain_heads): never expires
            clauses[table] = lines.FirstOrDefault(l => l.StartsWith("TTL ", StringComparison.Ordinal))?[4..];
        }
        return clauses;
    }

    /// <summary>
    /// Brings the TTL of each existing table to the configured retention (idempotent), then prunes consent evidence past its
    /// period. Only the command that owns the store calls this (<see cref="AnalyticsStoreOptions.SetsRetention"/>): the
    /// worker for the live store, a replay or backtest for its own database.
    /// </summary>
    public static async Task ApplyAsync(IAnalyticsStore store, SchemaOptions options, CancellationToken ct)
    {
        foreach (var (table, clause) in TtlClauses(options))
        {
            // engine_full shows the TTL as ClickHouse normalised it, e.g. "TTL written_at + toIntervalDay(400)".
            var engine = (await store.QueryAsync(
                $"SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = '{table}'", "TabSeparatedRaw", ct)).Trim();
            var ttl = engine.IndexOf(" TTL ", StringComparison.Ordinal) is var at and >= 0 ? engine[(at + 5)..] : null;
            var days = DaysOf(options, table);
            if (days is null)
            {
                if (ttl is not null) await store.QueryAsync($"ALTER TABLE {table} REMOVE TTL", "TabSeparated", ct);
            }
            else if (ttl is null || !IsCurrent(ttl, table, days.Value))
            {
                await store.QueryAsync($"ALTER TABLE {table} MODIFY TTL {clause}", "TabSeparated", ct);
            }
        }
        await PruneConsentEvidenceAsync(store, options, ct);
    }

    /// <summary>A TTL already counting <paramref name="days"/> from written_at (an older store counted from the data's own dates).</summary>
    private static bool IsCurrent(string ttl, string table, int days) =>
        ttl.Contains($"written_at + toIntervalDay({days.ToString(CultureInfo.InvariantCulture)})", StringComparison.Ordinal)
        && (table != "audit_log" || ttl.Contains("consent_changed", StringComparison.Ordinal));

    /// <summary>
    /// The consent rows whose consent stopped being in force more than <see cref="SchemaOptions.ConsentEvidenceDays"/> ago:
    /// a newer change for the same shopper, purpose and channel took over, or a grant's valid_until passed. The rule reads
    /// the same fields as the consent_ledger view; the row in force is never among them, however old.
    /// </summary>
    public static string ExpiredConsentEvidenceQuery(int days) => $"""
        SELECT audit_id FROM
        (
            SELECT audit_id, event_time,
                   parseDateTime64BestEffortOrNull(extract(detail, 'valid_until=([^ ]+)'), 3, 'UTC') AS valid_until,
                   leadInFrame(toNullable(event_time), 1, NULL) OVER (
                       PARTITION BY shopper_id, extract(detail, 'purpose=([^ ]*)'), channel ORDER BY event_time, audit_id
                       ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS next_change
            FROM audit_log FINAL
            WHERE decision = 'consent_changed'
        )
        WHERE least(ifNull(next_change, toDateTime64('2299-12-31 00:00:00', 3, 'UTC')), ifNull(valid_until, toDateTime64('2299-12-31 00:00:00', 3, 'UTC')))
              + toIntervalDay({days.ToString(CultureInfo.InvariantCulture)}) < now64(3)
        ORDER BY audit_id
        """;

    /// <summary>Deletes consent evidence past its period (<see cref="ExpiredConsentEvidenceQuery"/>); returns how many rows.</summary>
    public static async Task<int> PruneConsentEvidenceAsync(IAnalyticsStore store, SchemaOptions options, CancellationToken ct)
    {
        if (options.ConsentEvidenceDays is not { } days) return 0;
        var expired = (await store.QueryAsync(ExpiredConsentEvidenceQuery(days), "TabSeparatedRaw", ct))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var chunk in expired.Chunk(1000))
        {
            var ids = string.Join(", ", chunk.Select(AnalyticsErasure.Quote));
            await store.QueryAsync($"ALTER TABLE audit_log DELETE WHERE decision = 'consent_changed' AND audit_id IN ({ids}) SETTINGS mutations_sync = 2", "TabSeparated", ct);
        }
        return expired.Length;
    }
}
