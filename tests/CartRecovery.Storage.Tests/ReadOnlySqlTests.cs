using CartRecovery.Storage;
using Xunit;

namespace CartRecovery.Storage.Tests;

/// <summary>The analyst path's statement check: reads pass however they are written; writes are refused however they hide.</summary>
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

    [Theory]
    [InlineData("", "empty")]
    [InlineData("-- only a comment", "empty")]
    [InlineData("SELECT 1; SELECT 2", "one statement per query")]
    [InlineData("SELECT 'open", "unterminated string literal")]
    [InlineData("SELECT 1 /* open", "unterminated comment")]
    public void Malformed_or_several_statements_are_refused(string sql, string problem) =>
        Assert.Contains(problem, Assert.Throws<ReadOnlyViolationException>(() => ReadOnlySql.Check(sql)).Message);
}
