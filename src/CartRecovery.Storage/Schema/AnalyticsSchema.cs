using System.Globalization;
using System.Text;

namespace CartRecovery.Storage.Schema;

/// <summary>
/// The one DDL source of the analytics store (<c>Schema/schema.sql</c>, an embedded resource) for the embedded
/// engine and a ClickHouse server alike. schema.sql is a template: <see cref="Render"/> fills in
/// <see cref="SchemaOptions"/>; <see cref="IAnalyticsStore.EnsureSchemaAsync"/> runs <see cref="StatementsFor"/>
/// in order, in the store's database.
/// </summary>
public static class AnalyticsSchema
{
    /// <summary>
    /// Settings of every insert: timestamps parsed as ISO-8601 with any offset (as the contracts' serializer writes
    /// them), and fields the table does not have ignored, so a contract can gain a field before the table does.
    /// </summary>
    public const string InsertSettings = "date_time_input_format = 'best_effort', input_format_skip_unknown_fields = 1";

    /// <summary>The same settings as name/value pairs, for clients that pass settings out of band (HTTP parameters).</summary>
    public static IReadOnlyDictionary<string, object> InsertSettingValues { get; } = new Dictionary<string, object>
    {
        ["date_time_input_format"] = "best_effort",
        ["input_format_skip_unknown_fields"] = 1,
    };

    /// <summary>The view of attributed recoveries, derived from session_outcomes and recovery_triggers.</summary>
    public const string RecoveryOutcomesView = "recovery_outcomes";

    /// <summary>schema.sql as embedded, with its <c>{parameters}</c>.</summary>
    public static string Template { get; } = Load();

    /// <summary>schema.sql rendered with <see cref="SchemaOptions.Default"/>.</summary>
    public static string Text { get; } = Render(SchemaOptions.Default);

    /// <summary>The statements of <see cref="Text"/>.</summary>
    public static IReadOnlyList<string> Statements { get; } = Split(Text);

    /// <summary>The tables the worker writes (the view is derived from them).</summary>
    public static IReadOnlyList<string> Tables { get; } = ["recovery_triggers", "audit_log", "session_outcomes", "dead_letters", "outcome_events", "shopper_profiles"];

    /// <summary><c>CREATE DATABASE IF NOT EXISTS</c> for a database name (validated: it is spliced into SQL).</summary>
    public static string CreateDatabaseStatement(string database) =>
        $"CREATE DATABASE IF NOT EXISTS `{new AnalyticsStoreOptions { Database = database }.ValidatedDatabase()}`";

    /// <summary>The statements of schema.sql rendered with <paramref name="options"/>.</summary>
    public static IReadOnlyList<string> StatementsFor(SchemaOptions options) => Split(Render(options));

    /// <summary>
    /// Fills in the template: <c>{outcome_retention_days}</c>, <c>{audit_retention_days}</c>,
    /// <c>{dead_letter_retention_days}</c> (a null retention removes the line that holds it, the TTL clause, moving
    /// its terminating ';' to the line before) and <c>{attribution_window_seconds}</c>. Comment lines are left as is.
    /// </summary>
    public static string Render(SchemaOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.AttributionWindow <= TimeSpan.Zero) throw new ArgumentException("attribution window must be positive");
        var retentions = new Dictionary<string, int?>
        {
            ["{trigger_retention_days}"] = options.TriggerRetentionDays,
            ["{outcome_retention_days}"] = options.OutcomeRetentionDays,
            ["{audit_retention_days}"] = options.AuditRetentionDays,
            ["{dead_letter_retention_days}"] = options.DeadLetterRetentionDays,
            ["{outcome_event_retention_days}"] = options.OutcomeEventRetentionDays,
            ["{profile_retention_days}"] = options.ProfileRetentionDays,
        };
        var window = ((long)options.AttributionWindow.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        var lines = new List<string>();
        foreach (var original in Template.Split('\n'))
        {
            var line = original;
            var keep = true;
            if (!line.TrimStart().StartsWith("--", StringComparison.Ordinal))
            {
                foreach (var (placeholder, days) in retentions)
                {
                    if (!line.Contains(placeholder, StringComparison.Ordinal)) continue;
                    if (days is null)
                    {
                        keep = false;
                        continue;
                    }
                    if (days <= 0)
                        throw new ArgumentException($"{placeholder.Trim('{', '}')} must be positive, or null to keep rows forever");
                    line = line.Replace(placeholder, days.Value.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
                }
                line = line.Replace("{attribution_window_seconds}", window, StringComparison.Ordinal);
            }
            if (keep) lines.Add(line);
            else if (line.TrimEnd().EndsWith(';') && lines.Count > 0) lines[^1] = lines[^1].TrimEnd() + ";";
        }
        return string.Join('\n', lines);
    }

    /// <summary>
    /// Splits a script into statements: a statement ends at a line whose code ends with ';' (the ';' is dropped).
    /// <c>--</c> comments, whole lines or line ends outside quoted strings and identifiers, are removed, and so are
    /// blank lines.
    /// </summary>
    public static IReadOnlyList<string> Split(string script)
    {
        ArgumentNullException.ThrowIfNull(script);
        var statements = new List<string>();
        var current = new StringBuilder();
        foreach (var rawLine in script.ReplaceLineEndings("\n").Split('\n'))
        {
            var line = StripComment(rawLine).TrimEnd();
            if (line.Length == 0) continue;
            var ends = line.EndsWith(';');
            if (ends) line = line[..^1].TrimEnd();
            if (line.Length > 0)
            {
                if (current.Length > 0) current.Append('\n');
                current.Append(line);
            }
            if (ends && current.Length > 0)
            {
                statements.Add(current.ToString());
                current.Clear();
            }
        }
        if (current.Length > 0) statements.Add(current.ToString());
        return statements;
    }

    /// <summary>Removes a <c>--</c> comment from a line, ignoring <c>--</c> inside '...', "..." or `...`.</summary>
    private static string StripComment(string line)
    {
        var quote = '\0';
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quote != '\0')
            {
                if (c == '\\') i++;
                else if (c == quote) quote = '\0';
            }
            else if (c is '\'' or '"' or '`') quote = c;
            else if (c == '-' && i + 1 < line.Length && line[i + 1] == '-') return line[..i];
        }
        return line;
    }

    private static string Load()
    {
        using var stream = typeof(AnalyticsSchema).Assembly.GetManifestResourceStream("CartRecovery.Storage.Schema.schema.sql")
            ?? throw new InvalidOperationException("embedded resource CartRecovery.Storage.Schema.schema.sql is missing");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }
}
