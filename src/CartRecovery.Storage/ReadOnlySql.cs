using System.Text;

namespace CartRecovery.Storage;

/// <summary>
/// The analyst path's guard, run before a query reaches either engine: a query is one read statement
/// (<c>SELECT</c>, <c>WITH ... SELECT</c>, <c>VALUES</c>, a few <c>SHOW</c> forms, <c>DESCRIBE</c>, <c>EXPLAIN</c>,
/// <c>EXISTS</c>), without <c>INTO OUTFILE</c> or a <c>SETTINGS</c> clause, that reads the store's database and
/// nothing else. The text is tokenized the way ClickHouse reads it (line comments <c>--</c> and <c>#</c>, nested
/// block comments, string literals, quoted identifiers unquoted to the names they spell), so a keyword inside a
/// string or a comment neither refuses a read nor hides a write, and <c>`system`.`processes`</c> or
/// <c>/*x*/ FILE /*y*/ (...)</c> are the names ClickHouse sees.
/// </summary>
/// <remarks>
/// <para>Refused by name, case-insensitively, wherever they are called: every table function of ClickHouse 26.5 that
/// is not in <see cref="AllowedTableFunctions"/> (<see cref="RefusedFunctions"/>, which reach files, processes, other
/// databases or the network), and the ordinary functions that do (<c>file</c>, <c>dictGet*</c>, <c>joinGet</c>,
/// <c>hasColumnInTable</c>, the AI functions, ...). Where a table is expected (after <c>FROM</c>, <c>JOIN</c>, a
/// comma of a <c>FROM</c> clause, <c>DESCRIBE</c>, <c>TABLE</c>), a table function is refused unless it is in the
/// allow-list, so one added by a later engine version is refused by default. A <c>db.table</c> there must name the
/// store's database, <c>information_schema</c>, or one of <see cref="AllowedSystemTables"/>.</para>
/// <para>The guard is the first of two layers: the engine also runs analyst queries read-only with limits
/// (<see cref="AnalystLimits"/>; on chDB a session with <c>readonly = 1</c>, which refuses every table function that
/// needs a source privilege and any change of a setting; on a server the analyst user's profile, docs/analytics.md).</para>
/// </remarks>
public static class ReadOnlySql
{
    private static readonly HashSet<string> ReadStatements = new(StringComparer.OrdinalIgnoreCase) { "SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "EXISTS", "VALUES" };

    /// <summary>The SHOW forms that only list the store's tables, columns and definitions (SHOW PROCESSLIST, USERS, GRANTS,
    /// SETTINGS, ACCESS, DICTIONARIES, ... are refused).</summary>
    private static readonly HashSet<string> ShowForms = new(StringComparer.OrdinalIgnoreCase) { "TABLES", "COLUMNS", "FIELDS", "CREATE", "DATABASES", "INDEX", "INDEXES", "INDICES", "KEYS" };

    /// <summary>Table functions that generate rows from their arguments alone (no file, network, process or other table).</summary>
    public static readonly IReadOnlySet<string> AllowedTableFunctions = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "numbers", "numbers_mt", "zeros", "zeros_mt", "generate_series", "generateSeries", "primes", "values", "view",
    };

    /// <summary>System tables an analyst may read: table and column metadata, the function list, and the row generators.</summary>
    public static readonly IReadOnlySet<string> AllowedSystemTables = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "one", "numbers", "numbers_mt", "zeros", "zeros_mt", "tables", "columns", "databases", "functions", "data_type_families",
    };

    /// <summary>Functions refused wherever they are called: ClickHouse 26.5's table functions outside the allow-list
    /// (<c>SELECT name FROM system.table_functions</c>), and ordinary functions that read files, dictionaries (whose
    /// sources can be files, URLs, processes or other servers), other tables, server configuration or the network.</summary>
    public static readonly IReadOnlySet<string> RefusedFunctions = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        // Table functions of 26.5 (system.table_functions) minus AllowedTableFunctions and format (also a string function;
        // as a table function it parses its literal argument, and the engine's readonly refuses it anyway).
        "SQLStandardValues", "arrowstream", "azureBlobStorage", "azureBlobStorageCluster", "cluster", "clusterAllReplicas", "cosn",
        "deltaLake", "deltaLakeAzure", "deltaLakeAzureCluster", "deltaLakeCluster", "deltaLakeLocal", "deltaLakeS3", "deltaLakeS3Cluster",
        "dictionary", "executable", "file", "fileCluster", "filesystem", "fuzzJSON", "fuzzQuery", "gcs", "generateRandom",
        "hdfs", "hdfsCluster", "hudi", "hudiCluster", "iceberg", "icebergAzure", "icebergAzureCluster", "icebergCluster", "icebergHDFS",
        "icebergHDFSCluster", "icebergLocal", "icebergLocalCluster", "icebergS3", "icebergS3Cluster", "input", "jdbc", "loop", "merge",
        "mergeTreeAnalyzeIndexes", "mergeTreeAnalyzeIndexesUUID", "mergeTreeIndex", "mergeTreeProjection", "mergeTreeTextIndex",
        "mongodb", "mysql", "null", "odbc", "oss", "paimon", "paimonAzure", "paimonAzureCluster", "paimonCluster", "paimonHDFS",
        "paimonHDFSCluster", "paimonLocal", "paimonS3", "paimonS3Cluster", "postgresql", "prometheusQuery", "prometheusQueryRange",
        "redis", "remote", "remoteSecure", "s3", "s3Cluster", "sqlite", "timeSeriesData", "timeSeriesMetrics", "timeSeriesSelector",
        "timeSeriesTags", "url", "urlCluster", "viewExplain", "viewIfPermitted", "ytsaurus",
        // Older or alternative spellings of the same sources.
        "postgres", "mongo", "azure", "hive", "s3queue", "deltaLakeCluster", "python",
        // Ordinary functions that reach outside the store (file is both a table and an ordinary function).
        "joinGet", "joinGetOrNull", "hasColumnInTable", "catboostEvaluate", "naiveBayesClassifier", "getServerSetting", "getMacro",
        "getClientHTTPHeader", "addressToLine", "addressToLineWithInlines", "addressToSymbol", "demangle",
        "aiClassify", "aiGenerate", "aiExtract", "aiTranslate",
    };

    /// <summary>Words that end a FROM clause at their depth: a comma after them is no longer a join of tables.</summary>
    private static readonly HashSet<string> ClauseKeywords = new(StringComparer.OrdinalIgnoreCase)
    {
        "WHERE", "PREWHERE", "GROUP", "ORDER", "LIMIT", "HAVING", "WINDOW", "QUALIFY", "SETTINGS", "FORMAT", "UNION", "EXCEPT",
        "INTERSECT", "ON", "USING", "SELECT", "SAMPLE", "ARRAY", "OFFSET", "FETCH", "INTO",
    };

    public const string Hint = "the analyst path is read-only: schema changes come from src/CartRecovery.Storage/Schema/schema.sql (applied when a worker " +
        "starts) and records are changed or erased only by the commands made for it";

    private const string OutsideHint = "the analyst path reads the analytics tables of its store and nothing else (no files, processes, network or other databases)";

    /// <summary>Throws <see cref="ReadOnlyViolationException"/> unless <paramref name="sql"/> is one read statement over
    /// <paramref name="database"/> (the store's database; unqualified names resolve to it).</summary>
    public static void Check(string sql, string database = AnalyticsStoreOptions.DefaultDatabase)
    {
        ArgumentNullException.ThrowIfNull(sql);
        ArgumentNullException.ThrowIfNull(database);
        var statements = Tokenize(sql);
        if (statements.Count == 0) throw new ReadOnlyViolationException("the query is empty");
        foreach (var tokens in statements)
        {
            var first = tokens.FirstOrDefault(t => t.Kind != Kind.Open) ?? tokens[0];
            if (first.Kind != Kind.Word || !ReadStatements.Contains(first.Text))
                throw new ReadOnlyViolationException($"{first.Text.ToUpperInvariant()} statements are refused: {Hint}");
            CheckStatement(tokens, database);
        }
        if (statements.Count > 1) throw new ReadOnlyViolationException($"one statement per query ({statements.Count} given)");
    }

    private static void CheckStatement(IReadOnlyList<Token> tokens, string database)
    {
        var show = tokens[0].Is("SHOW") ? ShowForm(tokens) : null;
        // One frame per open parenthesis: whether a FROM clause is open there (its commas separate tables), and whether
        // the parenthesis holds a function's arguments (EXTRACT(DAY FROM t), trim(BOTH ' ' FROM s): that FROM takes no table).
        var frames = new Stack<Frame>();
        frames.Push(new Frame());
        var tableFroms = new HashSet<int>();
        var fromOrIn = 0;
        for (var i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            var frame = frames.Peek();
            if (token.Kind == Kind.Open)
                frames.Push(new Frame { CallArguments = i > 0 && tokens[i - 1].Kind is Kind.Word or Kind.QuotedIdentifier && !IsKeyword(tokens[i - 1]) });
            else if (token.Kind == Kind.Close && frames.Count > 1)
                frames.Pop();
            else if (token.Is("SELECT") || token.Is("WITH"))
                frame.CallArguments = false; // view(SELECT ...): a query inside parentheses
            if (token.Is("FROM") && !frame.CallArguments)
            {
                frame.FromOpen = true;
                tableFroms.Add(i);
            }
            else if (token.Kind == Kind.Word && ClauseKeywords.Contains(token.Text))
            {
                frame.FromOpen = false;
            }

            if (token.Is("INTO") && i + 1 < tokens.Count && tokens[i + 1].Is("OUTFILE"))
                throw new ReadOnlyViolationException($"INTO OUTFILE is refused (it writes a file on this machine): {Hint}");
            if (token.Is("SETTINGS"))
                throw new ReadOnlyViolationException("SETTINGS clauses are refused: the analyst path's read-only mode (readonly) and its limits " +
                    "(max_execution_time, max_memory_usage, max_result_bytes) are fixed by the Query section of the configuration");
            if (token.Is("FROM") || token.Is("IN")) fromOrIn++;
            if (token.Kind is not (Kind.Word or Kind.QuotedIdentifier)) continue;

            var isCall = i + 1 < tokens.Count && tokens[i + 1].Kind == Kind.Open && (token.Kind == Kind.QuotedIdentifier || !IsKeyword(token));
            var position = Position(tokens, i, frame.FromOpen, tableFroms);
            if (isCall)
            {
                if (RefusedFunctions.Contains(token.Text) || token.Text.StartsWith("dict", StringComparison.OrdinalIgnoreCase))
                    throw new ReadOnlyViolationException($"{token.Text}() is refused: {OutsideHint}");
                // After IN a call may be an ordinary function (x IN tuple(1, 2)): only the refused names are refused there.
                if (position == Place.Table && !AllowedTableFunctions.Contains(token.Text))
                    throw new ReadOnlyViolationException($"table function {token.Text}() is refused (allowed: {string.Join(", ", AllowedTableFunctions)}): {OutsideHint}");
                continue;
            }
            if (position != Place.None && i + 2 < tokens.Count && tokens[i + 1].Kind == Kind.Dot && tokens[i + 2].Kind is Kind.Word or Kind.QuotedIdentifier)
                CheckQualifiedTable(token.Text, tokens[i + 2].Text, database);
            // SHOW TABLES FROM db; SHOW COLUMNS FROM t FROM db: the name after FROM/IN that is a database.
            if (show is not null && i > 0 && (tokens[i - 1].Is("FROM") || tokens[i - 1].Is("IN")) && (i + 1 >= tokens.Count || tokens[i + 1].Kind != Kind.Dot)
                && (show is "TABLES" or "DATABASES" || fromOrIn >= 2) && !string.Equals(token.Text, database, StringComparison.Ordinal))
                throw new ReadOnlyViolationException($"database {token.Text} is refused: {OutsideHint} (its database is {database})");
        }
    }

    private sealed class Frame
    {
        public bool FromOpen;
        public bool CallArguments;
    }

    /// <summary>The SHOW form (TABLES, COLUMNS, CREATE, ...), checked: the ones that print users, grants, settings, queries or
    /// dictionaries are refused.</summary>
    private static string ShowForm(IReadOnlyList<Token> tokens)
    {
        var form = tokens.Skip(1).FirstOrDefault(t => !(t.Is("FULL") || t.Is("EXTENDED") || t.Is("TEMPORARY")))?.Text ?? "";
        if (!ShowForms.Contains(form))
            throw new ReadOnlyViolationException($"SHOW {form.ToUpperInvariant()} is refused: only SHOW TABLES, DATABASES, COLUMNS, CREATE TABLE and INDEX " +
                $"are allowed; {OutsideHint}");
        // SHOW CREATE [TABLE|VIEW] name only: SHOW CREATE USER prints credentials, SHOW CREATE DICTIONARY its source.
        var formAt = tokens.ToList().FindIndex(1, t => t.Text.Equals(form, StringComparison.Ordinal));
        if (form.Equals("CREATE", StringComparison.OrdinalIgnoreCase) && formAt + 1 < tokens.Count && ShowCreateRefused.Contains(tokens[formAt + 1].Text)
            && tokens[formAt + 1].Kind == Kind.Word)
            throw new ReadOnlyViolationException($"SHOW CREATE {tokens[formAt + 1].Text.ToUpperInvariant()} is refused: only tables and views; {OutsideHint}");
        return form.ToUpperInvariant() switch { "FIELDS" => "COLUMNS", "INDEXES" or "INDICES" or "KEYS" => "INDEX", var f => f };
    }

    private static readonly HashSet<string> ShowCreateRefused = new(StringComparer.OrdinalIgnoreCase)
    {
        "USER", "USERS", "ROLE", "ROLES", "ROW", "POLICY", "POLICIES", "QUOTA", "QUOTAS", "SETTINGS", "PROFILE", "PROFILES", "DICTIONARY",
        "NAMED", "MASKING", "FUNCTION", "DATABASE",
    };

    private enum Place { None, Table, AfterIn }

    /// <summary>Words that are SQL syntax rather than a function's name when a parenthesis follows (<c>IN (</c>, <c>FROM (</c>, <c>AS (</c>).</summary>
    private static bool IsKeyword(Token token) => token.Kind == Kind.Word && SyntaxBeforeParenthesis.Contains(token.Text);

    private static readonly HashSet<string> SyntaxBeforeParenthesis = new(StringComparer.OrdinalIgnoreCase)
    {
        "FROM", "JOIN", "IN", "AS", "SELECT", "WITH", "WHERE", "PREWHERE", "HAVING", "AND", "OR", "NOT", "ON", "USING", "BY", "EXISTS",
        "UNION", "ALL", "DISTINCT", "EXCEPT", "INTERSECT", "VALUES", "OVER", "TABLE", "DESCRIBE", "DESC", "EXPLAIN", "THEN", "ELSE",
        "WHEN", "CASE", "LIMIT", "OFFSET", "ANY", "ARRAY", "TUPLE", "INTERVAL", "IS", "LIKE", "ILIKE", "BETWEEN", "GLOBAL", "ASOF",
        "FINAL", "SAMPLE", "WINDOW", "QUALIFY", "ORDER", "GROUP",
    };

    /// <summary>Whether the name at <paramref name="i"/> is where a table goes: after a FROM that takes tables, JOIN (not ARRAY
    /// JOIN), a comma of an open FROM clause, DESCRIBE/DESC or TABLE; or after IN (a table, a subquery or an expression).</summary>
    private static Place Position(IReadOnlyList<Token> tokens, int i, bool fromClauseOpen, HashSet<int> tableFroms)
    {
        if (i == 0) return Place.None;
        var previous = tokens[i - 1];
        if (previous.Kind == Kind.Comma) return fromClauseOpen ? Place.Table : Place.None;
        if (previous.Kind != Kind.Word) return Place.None;
        if (previous.Is("IN")) return Place.AfterIn;
        if (previous.Is("JOIN")) return i >= 2 && tokens[i - 2].Is("ARRAY") ? Place.None : Place.Table;
        if (previous.Is("FROM")) return tableFroms.Contains(i - 1) ? Place.Table : Place.None;
        return previous.Is("DESCRIBE") || previous.Is("DESC") || previous.Is("TABLE") ? Place.Table : Place.None;
    }

    private static void CheckQualifiedTable(string databaseName, string table, string database)
    {
        if (string.Equals(databaseName, database, StringComparison.Ordinal)) return;
        if (databaseName.Equals("information_schema", StringComparison.OrdinalIgnoreCase)) return;
        if (databaseName.Equals("system", StringComparison.OrdinalIgnoreCase))
        {
            if (AllowedSystemTables.Contains(table)) return;
            throw new ReadOnlyViolationException($"system.{table} is refused (allowed: {string.Join(", ", AllowedSystemTables.Select(t => "system." + t))}): {OutsideHint}");
        }
        throw new ReadOnlyViolationException($"{databaseName}.{table} is refused: {OutsideHint} (its database is {database})");
    }

    private enum Kind { Word, QuotedIdentifier, Literal, Open, Close, Dot, Comma }

    private sealed record Token(Kind Kind, string Text)
    {
        public bool Is(string word) => Kind == Kind.Word && Text.Equals(word, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>The statements of <paramref name="sql"/> as tokens: words, quoted identifiers (unquoted), literals and
    /// punctuation that matters here; comments and whitespace left out.</summary>
    private static List<List<Token>> Tokenize(string sql)
    {
        var statements = new List<List<Token>>();
        var tokens = new List<Token>();
        var word = new StringBuilder();
        void EndWord()
        {
            if (word.Length > 0) tokens.Add(new Token(Kind.Word, word.ToString()));
            word.Clear();
        }
        void EndStatement()
        {
            EndWord();
            if (tokens.Count > 0) statements.Add(tokens.ToList());
            tokens.Clear();
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
                var end = SkipQuoted(sql, i, c);
                tokens.Add(c == '\'' ? new Token(Kind.Literal, "'literal'") : new Token(Kind.QuotedIdentifier, Unquote(sql.AsSpan(i + 1, end - i - 1), c)));
                i = end;
            }
            else if (c == ';')
            {
                EndStatement();
            }
            else if (char.IsLetterOrDigit(c) || c == '_' || c == '$')
            {
                word.Append(c);
            }
            else
            {
                EndWord();
                switch (c)
                {
                    case '(': tokens.Add(new Token(Kind.Open, "(")); break;
                    case ')': tokens.Add(new Token(Kind.Close, ")")); break;
                    case '.': tokens.Add(new Token(Kind.Dot, ".")); break;
                    case ',': tokens.Add(new Token(Kind.Comma, ",")); break;
                }
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

    /// <summary>The name a quoted identifier spells: <c>`fi``le`</c> is fi`le, <c>"s\x33"</c> is s3 (ClickHouse's escapes).</summary>
    private static string Unquote(ReadOnlySpan<char> body, char quote)
    {
        var name = new StringBuilder(body.Length);
        for (var i = 0; i < body.Length; i++)
        {
            var c = body[i];
            if (c == quote && i + 1 < body.Length && body[i + 1] == quote) { name.Append(quote); i++; continue; }
            if (c != '\\' || i + 1 >= body.Length) { name.Append(c); continue; }
            var e = body[++i];
            switch (e)
            {
                case 'x' when i + 2 < body.Length && IsHex(body[i + 1]) && IsHex(body[i + 2]):
                    name.Append((char)Convert.ToInt32(body.Slice(i + 1, 2).ToString(), 16));
                    i += 2;
                    break;
                case 'n': name.Append('\n'); break;
                case 't': name.Append('\t'); break;
                case 'r': name.Append('\r'); break;
                case '0': name.Append('\0'); break;
                case 'b': name.Append('\b'); break;
                case 'f': name.Append('\f'); break;
                case 'a': name.Append('\a'); break;
                case 'v': name.Append('\v'); break;
                case 'e': name.Append('\x1b'); break;
                default: name.Append(e); break;
            }
        }
        return name.ToString();
    }

    private static bool IsHex(char c) => char.IsAsciiHexDigit(c);
}

/// <summary>A statement the read-only analyst path refuses.</summary>
public sealed class ReadOnlyViolationException(string message) : InvalidOperationException("query refused: " + message);
