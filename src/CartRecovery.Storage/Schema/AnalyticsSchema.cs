namespace CartRecovery.Storage.Schema;

/// <summary>The one DDL source (schema.sql, embedded) for the embedded engine and a ClickHouse server.</summary>
public static class AnalyticsSchema
{
    public static string Text { get; } = Load();

    /// <summary>Statements of schema.sql: separated by a ';' at the end of a line; '--' comment lines dropped.</summary>
    public static IReadOnlyList<string> Statements { get; } = Split(Text);

    /// <summary>Settings every insert uses: ISO-8601 timestamps as our serializer writes them, unknown fields ignored.</summary>
    public const string InsertSettings = "date_time_input_format = 'best_effort', input_format_skip_unknown_fields = 1";

    private static string Load()
    {
        using var stream = typeof(AnalyticsSchema).Assembly.GetManifestResourceStream("CartRecovery.Storage.Schema.schema.sql")
            ?? throw new InvalidOperationException("embedded schema.sql missing");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static List<string> Split(string text)
    {
        var statements = new List<string>();
        var current = new List<string>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd();
            if (line.TrimStart().StartsWith("--", StringComparison.Ordinal) || line.Length == 0) continue;
            if (line.EndsWith(';'))
            {
                current.Add(line[..^1]);
                statements.Add(string.Join('\n', current));
                current.Clear();
            }
            else current.Add(line);
        }
        if (current.Count > 0) statements.Add(string.Join('\n', current));
        return statements;
    }
}
