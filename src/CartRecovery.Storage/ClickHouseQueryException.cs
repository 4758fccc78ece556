using System.Globalization;
using System.Text.RegularExpressions;

namespace CartRecovery.Storage;

/// <summary>
/// A statement the engine (embedded chDB or a ClickHouse server) refused. <see cref="Exception.Message"/> is the
/// engine's error text followed by the first 200 characters of the statement.
/// </summary>
public sealed partial class ClickHouseQueryException : Exception
{
    /// <summary>How much of the statement the message quotes.</summary>
    public const int SqlHeadLength = 200;

    /// <summary>An error without a statement to quote (e.g. a failed connection).</summary>
    public ClickHouseQueryException(string message) : this(message, sql: null) { }

    /// <param name="engineMessage">The engine's error text.</param>
    /// <param name="sql">The statement; only its first <see cref="SqlHeadLength"/> characters are kept.</param>
    /// <param name="inner">The client library's exception, if any.</param>
    /// <param name="code">The ClickHouse error code if known; otherwise parsed from "Code: N." in the message.</param>
    public ClickHouseQueryException(string engineMessage, string? sql, Exception? inner = null, int? code = null)
        // An insert's client exception may quote its rows too: it is not kept as the cause.
        : base(sql is null ? Redacted(engineMessage, sql) : $"{Redacted(engineMessage, sql)} [SQL: {Head(sql)}]", sql is not null && IsInsert(sql) ? null : inner)
    {
        EngineMessage = Redacted(engineMessage, sql);
        SqlHead = sql is null ? "" : Head(sql);
        var parsed = CodePattern().Match(EngineMessage);
        Code = code ?? (parsed.Success ? int.Parse(parsed.Groups[1].ValueSpan, CultureInfo.InvariantCulture) : null);
    }

    /// <summary>The engine's error text as it reported it, e.g. "Code: 62. DB::Exception: Syntax error: ...".</summary>
    public string EngineMessage { get; }

    /// <summary>The first <see cref="SqlHeadLength"/> characters of the statement (for INSERTs: the INSERT line and the start of the data).</summary>
    public string SqlHead { get; }

    /// <summary>ClickHouse's error code ("Code: 62." is SYNTAX_ERROR, 60 UNKNOWN_TABLE, ...), when the message carries one.</summary>
    public int? Code { get; }

    /// <summary>The start of the statement. For an INSERT only its first line (up to FORMAT): the rows after it are
    /// shoppers' data, which messages and logs never quote.</summary>
    internal static string Head(string sql)
    {
        if (IsInsert(sql)) sql = sql[..Math.Min(sql.Length, sql.IndexOf('\n') is var newline and >= 0 ? newline : sql.Length)] + " (rows not shown)";
        return sql.Length <= SqlHeadLength ? sql : string.Concat(sql.AsSpan(0, SqlHeadLength), "...");
    }

    /// <summary>The engine quotes the input it could not parse ("Cannot parse input: expected ... before: '...'", "Row 1:
    /// ... parsed text: ..."): for an INSERT everything quoted is replaced, so an insert failure names its error, not the rows.</summary>
    private static string Redacted(string engineMessage, string? sql)
    {
        var message = engineMessage.Trim();
        if (sql is null || !IsInsert(sql)) return message;
        message = RowDetail().Replace(message, "");
        return Quoted().Replace(message, "'<row data>'");
    }

    private static bool IsInsert(string sql) => sql.AsSpan().TrimStart().StartsWith("INSERT", StringComparison.OrdinalIgnoreCase);

    [GeneratedRegex(@"'(?:[^'\\]|\\.)*'|""(?:[^""\\]|\\.)*""", RegexOptions.Singleline)]
    private static partial Regex Quoted();

    [GeneratedRegex(@"\n?\s*Row \d+:.*?(?=\(\w+\)\s*$|$)", RegexOptions.Singleline)]
    private static partial Regex RowDetail();

    [GeneratedRegex(@"^Code:\s*(\d+)\.")]
    private static partial Regex CodePattern();
}
