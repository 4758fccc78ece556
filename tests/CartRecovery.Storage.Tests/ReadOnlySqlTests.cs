using CartRecovery.Storage;
using Xunit;

namespace CartRecovery.Storage.Tests;

/// <summary>The analyst path's statement check: reads of the store pass however they are written; writes, table functions and
/// functions that reach outside the store, and other databases are refused however they hide.</summary>
public sealed class ReadOnlySqlTests
{
    [Theory]
    [InlineData("SELECT count() FROM audit_log FINAL")]
    [InlineData("  select 1  ;  ")]
    [InlineData("-- a comment\nSELECT 1")]
    [InlineData("# hash comment\nSELECT 1")]
    [InlineData("/* block /* nested */ still comment */ SELECT 1")]
    [InlineData("WITH t AS (SELECT 1 AS x) SELECT x FROM t")]
    [InlineData("(SELECT 1) UNION ALL (SELECT 2)")]
    [InlineData("SHOW TABLES")]
    [InlineData("DESCRIBE TABLE audit_log")]
    [InlineData("DESC audit_log")]
    [InlineData("EXPLAIN SELECT 1")]
    [InlineData("EXISTS TABLE audit_log")]
    [InlineData("SELECT 'DROP TABLE audit_log; ALTER' AS text")]
    [InlineData("SELECT 'it''s; DELETE' AS text")]
    [InlineData("SELECT 'a\\'; DROP TABLE x' AS text")]
    [InlineData("SELECT `weird;name` FROM audit_log")]
    [InlineData("SELECT \"insert\" FROM audit_log")]
    [InlineData("SELECT reason FROM audit_log -- ; DROP TABLE audit_log")]
    // Row generators, metadata of the store, and functions whose names look like refused ones.
    [InlineData("SELECT count() FROM numbers(10)")]
    [InlineData("SELECT * FROM numbers(1) AS a, zeros(2) AS b, generate_series(1, 3) AS c")]
    [InlineData("SELECT * FROM values('a UInt8', 1, 2)")]
    [InlineData("SELECT * FROM view(SELECT 1)")]
    [InlineData("SELECT name FROM system.tables WHERE database = currentDatabase()")]
    [InlineData("SELECT name, type FROM `system`.`columns` WHERE table = 'audit_log'")]
    [InlineData("SELECT dummy FROM system.one")]
    [InlineData("SELECT * FROM information_schema.tables")]
    [InlineData("SELECT count() FROM default.audit_log FINAL")]
    [InlineData("SELECT a.reason FROM audit_log AS a JOIN recovery_triggers AS b ON a.shopper_id = b.shopper_id AND a.session_id = b.session_id")]
    [InlineData("SELECT extract(DAY FROM toDate(now())), trim(BOTH ' ' FROM toString(1)), substring('abc' FROM 2)")]
    [InlineData("SELECT x FROM (SELECT [1, 2] AS arr) ARRAY JOIN range(3) AS x")]
    [InlineData("SELECT 1 WHERE 1 IN tuple(1, 2)")]
    [InlineData("SELECT 1 WHERE 1 IN (SELECT number FROM numbers(3))")]
    [InlineData("SELECT format('{} {}', 'a', 'b'), URLHash('x'), filesystemAvailable() > 0, getSetting('max_execution_time')")]
    [InlineData("SELECT 'file(''/etc/passwd'')' AS text, 'system.users' AS other")]
    [InlineData("SHOW TABLES FROM default")]
    [InlineData("SHOW FULL TABLES")]
    [InlineData("SHOW DATABASES")]
    [InlineData("SHOW CREATE TABLE audit_log")]
    [InlineData("SHOW COLUMNS FROM audit_log")]
    [InlineData("DESCRIBE TABLE default.audit_log")]
    public void Reads_pass(string sql) => ReadOnlySql.Check(sql);

    [Theory]
    [InlineData("ALTER TABLE audit_log DELETE WHERE 1", "ALTER")]
    [InlineData("alter table audit_log update reason = 'x' where 1", "ALTER")]
    [InlineData("DELETE FROM audit_log WHERE 1", "DELETE")]
    [InlineData("INSERT INTO audit_log SELECT * FROM audit_log", "INSERT")]
    [InlineData("DROP TABLE audit_log", "DROP")]
    [InlineData("TRUNCATE TABLE audit_log", "TRUNCATE")]
    [InlineData("CREATE TABLE x (a UInt8) ENGINE = Memory", "CREATE")]
    [InlineData("OPTIMIZE TABLE audit_log FINAL", "OPTIMIZE")]
    [InlineData("SYSTEM DROP MARK CACHE", "SYSTEM")]
    [InlineData("SET readonly = 0", "SET")]
    [InlineData("RENAME TABLE audit_log TO old", "RENAME")]
    [InlineData("ATTACH TABLE audit_log", "ATTACH")]
    [InlineData("DETACH TABLE audit_log", "DETACH")]
    [InlineData("GRANT ALL ON *.* TO x", "GRANT")]
    [InlineData("KILL QUERY WHERE 1", "KILL")]
    [InlineData("USE system", "USE")]
    [InlineData("/* SELECT */ DROP TABLE audit_log", "DROP")]
    [InlineData("-- SELECT\nALTER TABLE audit_log DELETE WHERE 1", "ALTER")]
    [InlineData("SELECT 1; DROP TABLE audit_log", "DROP")]
    [InlineData("SELECT 1;\n-- harmless?\nALTER TABLE audit_log DELETE WHERE 1;", "ALTER")]
    [InlineData("SELECT * FROM audit_log INTO OUTFILE '/tmp/x'", "INTO OUTFILE")]
    public void Writes_are_refused_naming_the_statement(string sql, string named)
    {
        var error = Assert.Throws<ReadOnlyViolationException>(() => ReadOnlySql.Check(sql));
        Assert.Contains(named, error.Message);
        Assert.StartsWith("query refused: ", error.Message);
    }

    /// <summary>Outside-reaching table functions, each in every place and spelling a query can hold one.</summary>
    public static readonly string[] OutsideSources =
        ["file", "url", "s3", "mysql", "postgresql", "sqlite", "remote", "remoteSecure", "cluster", "executable", "hdfs", "odbc", "jdbc",
         "mongodb", "redis", "azureBlobStorage", "gcs", "iceberg", "icebergLocal", "deltaLake", "hudi", "dictionary", "merge", "input",
         "filesystem", "s3Cluster", "urlCluster", "fileCluster", "mergeTreeIndex", "loop", "viewIfPermitted"];

    public static readonly string[] Spellings =
    [
        "SELECT * FROM {0}('x')",
        "select * from {1}('x')",
        "SELECT * FROM `{0}`('x')",
        "SELECT * FROM \"{0}\" ('x')",
        "SELECT * FROM /* a comment */ {0} /* another */ ( 'x' )",
        "SELECT * FROM -- comment\n{0}\n('x')",
        "SELECT * FROM numbers(1), {0}('x')",
        "SELECT * FROM numbers(1) AS a JOIN {0}('x') AS b ON 1",
        "SELECT * FROM numbers(1) AS a LEFT ANY JOIN (SELECT * FROM {0}('x')) AS b ON 1",
        "SELECT * FROM (SELECT * FROM {0}('x'))",
        "WITH t AS (SELECT * FROM {0}('x')) SELECT * FROM t",
        "SELECT (SELECT count() FROM {0}('x'))",
        "SELECT 1 WHERE 1 IN (SELECT 1 FROM {0}('x'))",
        "SELECT 1 WHERE 1 IN {0}('x')",
        "SELECT * FROM view(SELECT * FROM {0}('x'))",
        "DESCRIBE TABLE {0}('x')",
        "DESC {0}('x')",
        "EXPLAIN SELECT * FROM {0}('x')",
        "(SELECT 1) UNION ALL (SELECT * FROM {0}('x'))",
    ];

    public static IEnumerable<object[]> OutsideSourcesInEverySpelling() =>
        from source in OutsideSources
        from spelling in Spellings
        select new object[] { string.Format(System.Globalization.CultureInfo.InvariantCulture, spelling, source, source.ToUpperInvariant()), source };

    [Theory]
    [MemberData(nameof(OutsideSourcesInEverySpelling))]
    public void Table_functions_that_reach_outside_are_refused_in_every_place_and_spelling(string sql, string source)
    {
        var error = Assert.Throws<ReadOnlyViolationException>(() => ReadOnlySql.Check(sql));
        Assert.Contains(source, error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("nothing else", error.Message);
    }

    public static IEnumerable<object[]> EveryRefusedFunction() => ReadOnlySql.RefusedFunctions.Select(f => new object[] { f });

    [Theory]
    [MemberData(nameof(EveryRefusedFunction))]
    public void Every_refused_function_is_refused_as_a_table_and_as_an_ordinary_function(string function)
    {
        Assert.Throws<ReadOnlyViolationException>(() => ReadOnlySql.Check($"SELECT * FROM {function}('x')"));
        Assert.Throws<ReadOnlyViolationException>(() => ReadOnlySql.Check($"SELECT {function}('x')"));
        Assert.Throws<ReadOnlyViolationException>(() => ReadOnlySql.Check($"SELECT arrayMap(p -> `{function}`(p), ['x'])"));
    }

    [Theory]
    [InlineData("SELECT * FROM someSourceOfALaterRelease('x')", "someSourceOfALaterRelease")]
    [InlineData("SELECT * FROM numbers(1), nextYearsGenerator('a UInt8')", "nextYearsGenerator")]
    [InlineData("SELECT * FROM format(CSV, 'a')", "format")]
    [InlineData("DESCRIBE newTableFunction('x')", "newTableFunction")]
    public void A_table_function_outside_the_allow_list_is_refused_by_default(string sql, string named)
    {
        var error = Assert.Throws<ReadOnlyViolationException>(() => ReadOnlySql.Check(sql));
        Assert.Contains($"table function {named}()", error.Message);
        Assert.Contains("allowed: numbers", error.Message);
    }

    [Theory]
    [InlineData("SELECT file('/etc/passwd')", "file")]
    [InlineData("SELECT FILE ('/proc/self/environ')", "FILE")]
    [InlineData("SELECT `file`('/tmp/secrets/token-key')", "file")]
    [InlineData("SELECT \"fi\\x6ce\"('/etc/passwd')", "file")]
    [InlineData("SELECT length(file('/etc/passwd')) > 0", "file")]
    [InlineData("SELECT dictGet('secrets', 'value', 1)", "dictGet")]
    [InlineData("SELECT dictGetString('d', 'a', toUInt64(1))", "dictGetString")]
    [InlineData("SELECT joinGet('system.users', 'name', 1)", "joinGet")]
    [InlineData("SELECT hasColumnInTable('10.0.0.1', 'db', 't', 'c')", "hasColumnInTable")]
    [InlineData("SELECT getServerSetting('path')", "getServerSetting")]
    [InlineData("SELECT getMacro('shard')", "getMacro")]
    [InlineData("SELECT addressToSymbol(1)", "addressToSymbol")]
    [InlineData("SELECT aiGenerate('summarize', reason) FROM audit_log", "aiGenerate")]
    public void Functions_that_read_files_dictionaries_or_the_network_are_refused(string sql, string named) =>
        Assert.Contains($"{named}() is refused", Assert.Throws<ReadOnlyViolationException>(() => ReadOnlySql.Check(sql)).Message);

    [Theory]
    [InlineData("SELECT * FROM system.processes", "system.processes")]
    [InlineData("SELECT query FROM `system`.`query_log`", "system.query_log")]
    [InlineData("SELECT * FROM \"system\".\"settings\"", "system.settings")]
    [InlineData("SELECT * FROM SYSTEM . users", "system.users")]
    [InlineData("SELECT * FROM system /* x */ . /* y */ server_settings", "system.server_settings")]
    [InlineData("SELECT * FROM numbers(1), system.macros", "system.macros")]
    [InlineData("SELECT * FROM numbers(1) AS n JOIN system.disks AS d ON 1", "system.disks")]
    [InlineData("SELECT 1 WHERE 'x' IN system.users", "system.users")]
    [InlineData("DESCRIBE system.processes", "system.processes")]
    [InlineData("SHOW CREATE TABLE system.users", "system.users")]
    [InlineData("SELECT count() FROM other_db.audit_log", "other_db.audit_log")]
    [InlineData("SELECT count() FROM `replay_x`.`audit_log`", "replay_x.audit_log")]
    [InlineData("SHOW TABLES FROM system", "database system")]
    [InlineData("SHOW TABLES IN other_db", "database other_db")]
    [InlineData("SHOW COLUMNS FROM processes FROM system", "database system")]
    public void Other_databases_and_system_tables_outside_the_allow_list_are_refused(string sql, string named) =>
        Assert.Contains($"{named} is refused", Assert.Throws<ReadOnlyViolationException>(() => ReadOnlySql.Check(sql)).Message);

    [Fact]
    public void The_store_database_is_the_one_given()
    {
        ReadOnlySql.Check("SELECT count() FROM replay_x.audit_log", "replay_x");
        Assert.Throws<ReadOnlyViolationException>(() => ReadOnlySql.Check("SELECT count() FROM default.audit_log", "replay_x"));
    }

    [Theory]
    [InlineData("SHOW PROCESSLIST", "PROCESSLIST")]
    [InlineData("SHOW USERS", "USERS")]
    [InlineData("SHOW GRANTS", "GRANTS")]
    [InlineData("SHOW ACCESS", "ACCESS")]
    [InlineData("SHOW SETTINGS LIKE '%'", "SETTINGS")]
    [InlineData("SHOW DICTIONARIES", "DICTIONARIES")]
    [InlineData("SHOW CREATE USER default", "CREATE USER")]
    [InlineData("SHOW CREATE DICTIONARY d", "CREATE DICTIONARY")]
    public void Show_forms_beyond_tables_and_columns_are_refused(string sql, string named) =>
        Assert.Contains($"SHOW {named} is refused", Assert.Throws<ReadOnlyViolationException>(() => ReadOnlySql.Check(sql)).Message);

    [Theory]
    [InlineData("SELECT count() FROM audit_log SETTINGS readonly = 0")]
    [InlineData("SELECT count() FROM numbers(1e12) settings max_execution_time = 0")]
    [InlineData("WITH x AS (SELECT 1 SETTINGS max_memory_usage = 0) SELECT * FROM x")]
    public void Settings_clauses_are_refused_so_the_limits_stay(string sql) =>
        Assert.Contains("SETTINGS clauses are refused", Assert.Throws<ReadOnlyViolationException>(() => ReadOnlySql.Check(sql)).Message);

    [Theory]
    [InlineData("", "empty")]
    [InlineData("-- only a comment", "empty")]
    [InlineData("SELECT 1; SELECT 2", "one statement per query")]
    [InlineData("SELECT 'open", "unterminated string literal")]
    [InlineData("SELECT 1 /* open", "unterminated comment")]
    public void Malformed_or_several_statements_are_refused(string sql, string problem) =>
        Assert.Contains(problem, Assert.Throws<ReadOnlyViolationException>(() => ReadOnlySql.Check(sql)).Message);
}
