using System.Text;

namespace CartRecovery.Storage;

/// <summary>
/// The analyst path's guard for the embedded engine (a ClickHouse server enforces its own <c>readonly</c> setting):
/// a query is one read statement, <c>SELECT</c>, <c>WITH ... SELECT</c>, <c>SHOW</c>, <c>DESCRIBE</c>, <c>EXPLAIN</c>,
/// <c>EXISTS</c>, without <c>INTO OUTFILE</c>. The text is tokenized the way ClickHouse reads it (line comments
/// <c>--</c> and <c>#</c>, block comments, string literals, quoted identifiers), so a keyword inside a string or a
/// comment neither refuses a read nor hides a write, and <c>SELECT 1; DROP TABLE audit_log</c> is refused as a whole.
/// </summary>
public static class ReadOnlySql
{
    private static readonly HashSet<string> ReadStatements = new(StringComparer.OrdinalIgnoreCase) { "SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "EXISTS", "VALUES" };

    public const string Hint = "the analyst path is read-only: schema changes come from src/CartRecovery.Storage/Schema/schema.sql (applied when a worker " +
        "starts) and records are changed or erased only by the commands made for it";

    /// <summary>Throws <see cref="ReadOnlyViolationException"/> unless <paramref name="sql"/> is one read statement.</summary>
    public static void Check(string sql)
    {
        ArgumentNullException.ThrowIfNull(sql);
        var statements = Statements(sql);
        if (statements.Count == 0) throw new ReadOnlyViolationException("the query is empty");
        foreach (var words in statements)
        {
            var first = words[0];
            if (first == "(") first = words.FirstOrDefault(w => w != "(") ?? first;
            if (!ReadStatements.Contains(first))
                throw new ReadOnlyViolationException($"{first.ToUpperInvariant()} statements are refused: {Hint}");
            for (var i = 0; i + 1 < words.Count; i++)
                if (words[i].Equals("INTO", StringComparison.OrdinalIgnoreCase) && words[i + 1].Equals("OUTFILE", StringComparison.OrdinalIgnoreCase))
                    throw new ReadOnlyViolationException($"INTO OUTFILE is refused (it writes a file on this machine): {Hint}");
        }
        if (statements.Count > 1) throw new ReadOnlyViolationException($"one statement per query ({statements.Count} given)");
    }

    /// <summary>The statements of <paramref name="sql"/> as their words and parentheses, comments and literals left out.</summary>
    public static IReadOnlyList<IReadOnlyList<string>> Statements(string sql)
    {
        var statements = new List<IReadOnlyList<string>>();
        var words = new List<string>();
        var word = new StringBuilder();
        void EndWord()
        {
            if (word.Length > 0) words.Add(word.ToString());
            word.Clear();
        }
        void EndStatement()
        {
            EndWord();
            if (words.Count > 0) statements.Add(words.ToList());
            words.Clear();
        }
        for (var i = 0; i < sql.Length; i++)
        {
            var c = sql[i];
            var next = i + 1 < sql.Length ? sql[i + 1] : '\0';
            if ((c == '-' && next == '-') || c == '#')
            {
                EndWord();
                while (i < sql.Length && sql[i] != '\n') i++;
            }
            else if (c == '/' && next == '*')
            {
                EndWord();
                // ClickHouse nests block comments.
                var depth = 0;
                for (; i < sql.Length; i++)
                {
                    if (sql[i] == '/' && i + 1 < sql.Length && sql[i + 1] == '*') { depth++; i++; }
                    else if (sql[i] == '*' && i + 1 < sql.Length && sql[i + 1] == '/') { depth--; i++; if (depth == 0) break; }
                }
                if (depth != 0) throw new ReadOnlyViolationException("unterminated comment");
            }
            else if (c is '\'' or '"' or '`')
            {
                EndWord();
                i = SkipQuoted(sql, i, c);
                words.Add(c == '\'' ? "'literal'" : "identifier");
            }
            else if (c == ';')
            {
                EndStatement();
            }
            else if (char.IsLetterOrDigit(c) || c == '_')
            {
                word.Append(c);
            }
            else
            {
                EndWord();
                if (c == '(' ) words.Add("(");
            }
        }
        EndStatement();
        return statements;
    }

    /// <summary>Index of the closing quote; backslash escapes and doubled quotes stay inside.</summary>
    private static int SkipQuoted(string sql, int start, char quote)
    {
        for (var i = start + 1; i < sql.Length; i++)
        {
            if (sql[i] == '\\') { i++; continue; }
            if (sql[i] != quote) continue;
            if (i + 1 < sql.Length && sql[i + 1] == quote) { i++; continue; }
            return i;
        }
        throw new ReadOnlyViolationException($"unterminated {(quote == '\'' ? "string literal" : "quoted identifier")}");
    }
}

/// <summary>A statement the read-only analyst path refuses.</summary>
public sealed class ReadOnlyViolationException(string message) : InvalidOperationException("query refused: " + message);
