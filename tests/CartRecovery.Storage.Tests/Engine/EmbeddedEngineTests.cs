using CartRecovery.Storage.Embedded;
using CartRecovery.Storage.Tests.Contract;

namespace CartRecovery.Storage.Tests.Engine;

/// <summary>The engine wrapper in this process, on the collection's shared data directory.</summary>
[Collection(ChDbCollection.Name)]
public sealed class EmbeddedEngineTests(ChDbEngineFixture fixture)
{
    private EmbeddedClickHouse Engine => fixture.Engine;

    [Fact]
    public void Opening_the_open_directory_again_shares_the_connection()
    {
        using (var again = EmbeddedClickHouse.Open(Engine.DataDirectory))
        {
            Assert.Equal(Engine.DataDirectory, again.DataDirectory);
            Assert.Equal("42\n", again.Query("SELECT 42", "TabSeparated"));
        }
        Assert.Equal("43\n", Engine.Query("SELECT 43", "TabSeparated")); // the fixture's handle is still open
        Assert.Equal(Engine.DataDirectory, EmbeddedClickHouse.OpenDataDirectory);
    }

    [Fact]
    public void Opening_another_directory_while_one_is_open_is_refused_with_both_paths()
    {
        var other = Path.Combine(Path.GetTempPath(), "cartrecovery-not-opened-" + Guid.NewGuid().ToString("N"));
        var error = Assert.Throws<InvalidOperationException>(() => EmbeddedClickHouse.Open(other));
        Assert.Contains(Engine.DataDirectory, error.Message);
        Assert.Contains(other, error.Message);
        Assert.False(Directory.Exists(other));
    }

    [Fact]
    public void Results_come_back_as_utf8_text_in_the_requested_format()
    {
        Assert.Equal("s\tn\nZoë – 🛒 \\t\t1.5\n", Engine.Query("SELECT 'Zoë – 🛒 \\t' AS s, 1.5 AS n"));
        Assert.Equal("{\"s\":\"Zoë\",\"n\":2}\n", Engine.Query("SELECT 'Zoë' AS s, 2 AS n", "JSONEachRow"));
        Assert.Equal("\"a\",1\n", Engine.Query("SELECT 'a', 1", "CSV"));
        // A FORMAT clause in the statement wins over the argument.
        Assert.Equal("{\"x\":3}\n", Engine.Query("SELECT 3 AS x FORMAT JSONEachRow", "CSV"));
        Assert.Equal("", Engine.Query("SELECT 1 WHERE 0", "TabSeparated"));
    }

    [Fact]
    public void Refused_statements_raise_ClickHouseQueryException_with_the_engine_message_and_the_statement()
    {
        var syntax = Assert.Throws<ClickHouseQueryException>(() => Engine.Query("SELEC 1"));
        Assert.Equal(62, syntax.Code);
        Assert.StartsWith("Code: 62. DB::Exception: Syntax error", syntax.EngineMessage);
        Assert.Equal("SELEC 1", syntax.SqlHead);
        Assert.Equal($"{syntax.EngineMessage} [SQL: SELEC 1]", syntax.Message);

        var longSql = "SELECT * FROM no_such_table WHERE x IN (" + string.Join(", ", Enumerable.Range(0, 100)) + ")";
        var missing = Assert.Throws<ClickHouseQueryException>(() => Engine.Query(longSql));
        Assert.Equal(60, missing.Code); // UNKNOWN_TABLE
        Assert.Contains("no_such_table", missing.EngineMessage);
        Assert.Equal(longSql[..200] + "...", missing.SqlHead);

        Assert.Equal("1\n", Engine.Query("SELECT 1", "TabSeparated")); // the connection is fine afterwards
    }

    [Fact]
    public void Each_call_runs_in_its_database_and_USE_does_not_carry_over()
    {
        var database = "engine_" + Guid.NewGuid().ToString("N")[..12];
        Engine.Query($"CREATE DATABASE {database}");
        Assert.Equal(database + "\n", Engine.Query("SELECT currentDatabase()", "TabSeparated", database));
        Assert.Equal("default\n", Engine.Query("SELECT currentDatabase()", "TabSeparated"));

        Engine.Query($"USE {database}");
        Assert.Equal("default\n", Engine.Query("SELECT currentDatabase()", "TabSeparated"));
        Assert.Equal(database + "\n", Engine.Query("SELECT currentDatabase()", "TabSeparated", database));
    }

    [Theory]
    [InlineData("x; DROP TABLE audit_log")]
    [InlineData("db`name")]
    [InlineData("")]
    public void Database_and_format_names_must_be_plain_identifiers(string name)
    {
        Assert.Throws<ArgumentException>(() => Engine.Query("SELECT 1", "TabSeparated", name));
        Assert.Throws<ArgumentException>(() => Engine.Query("SELECT 1", name));
    }
}
