using CartRecovery.Storage.Embedded;
using CartRecovery.Storage.Schema;
using CartRecovery.Storage.Server;

namespace CartRecovery.Storage.Tests;

public sealed class LibraryLocatorTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("cartrecovery-locate-").FullName;

    [Fact]
    public void The_variable_wins_and_must_name_an_existing_file()
    {
        var library = Touch(Path.Combine(_root, "custom", "libchdb.so"));
        Assert.Equal(library, ChDbNative.Locate(library, [_root]));

        var missing = Path.Combine(_root, "nope", "libchdb.so");
        var error = Assert.Throws<ChDbNotFoundException>(() => ChDbNative.Locate(missing, [_root]));
        Assert.Contains(ChDbNative.PathVariable, error.Message);
        Assert.Contains(missing, error.Message);
        Assert.Contains("scripts/install-chdb.sh", error.Message);
    }

    [Fact]
    public void Tools_folder_is_searched_upwards_from_each_start_directory_in_order()
    {
        var deep = Directory.CreateDirectory(Path.Combine(_root, "repo", "tests", "bin", "Debug")).FullName;
        var other = Directory.CreateDirectory(Path.Combine(_root, "app")).FullName;
        var inRepo = Touch(Path.Combine(_root, "repo", ".tools", "chdb", "libchdb.so"));
        var inApp = Touch(Path.Combine(other, ".tools", "chdb", "libchdb.so"));

        Assert.Equal(inRepo, ChDbNative.Locate(null, [deep, other]));
        Assert.Equal(inApp, ChDbNative.Locate("", [other, deep]));
    }

    [Fact]
    public void Missing_library_names_the_install_script_and_every_path_searched()
    {
        var start = Directory.CreateDirectory(Path.Combine(_root, "a", "b")).FullName;
        var error = Assert.Throws<ChDbNotFoundException>(() => ChDbNative.Locate(null, [start]));
        Assert.Contains("scripts/install-chdb.sh", error.Message);
        Assert.Contains(Path.Combine(start, ".tools", "chdb", "libchdb.so"), error.Message);
        Assert.Contains(Path.Combine(_root, "a", ".tools", "chdb", "libchdb.so"), error.Message);
    }

    private static string Touch(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "");
        return path;
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}

public sealed class SchemaSplitTests
{
    [Fact]
    public void Statements_end_at_a_semicolon_at_line_end_and_comments_are_dropped()
    {
        const string script = """
            -- header comment; with a semicolon
            CREATE TABLE a
            (
                x String, -- trailing comment; not an end
                y String DEFAULT '--not a comment;'
            )
            ENGINE = Memory;   -- done

            CREATE VIEW b AS SELECT 1 ; 
            SELECT 2
            """;

        Assert.Equal(
            [
                "CREATE TABLE a\n(\n    x String,\n    y String DEFAULT '--not a comment;'\n)\nENGINE = Memory",
                "CREATE VIEW b AS SELECT 1",
                "SELECT 2",
            ],
            AnalyticsSchema.Split(script));
    }

    [Fact]
    public void The_embedded_schema_creates_the_tables_then_migrates_then_replaces_the_views()
    {
        var statements = AnalyticsSchema.Statements;
        Assert.Equal(AnalyticsSchema.Tables, statements.Take(6).Select(s => s.Split([' ', '\n'])[5]));
        Assert.All(statements.Take(6), s => Assert.StartsWith("CREATE TABLE IF NOT EXISTS ", s));
        // Columns added since the first release reach stores created before them; every migration is idempotent.
        Assert.All(statements.Skip(6).SkipLast(2), s => Assert.Matches("^(ALTER TABLE [a-z_]+ ADD COLUMN IF NOT EXISTS |CREATE TABLE IF NOT EXISTS )", s));
        Assert.Contains("ALTER TABLE session_outcomes ADD COLUMN IF NOT EXISTS order_currency LowCardinality(String) AFTER order_value", statements);
        // Retention counted from the write: every table gets written_at, older stores too.
        Assert.All(AnalyticsSchema.Tables, t => Assert.Contains($"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS written_at DateTime MATERIALIZED now()", statements));
        // The views come last, over the migrated tables.
        Assert.StartsWith($"CREATE OR REPLACE VIEW {AnalyticsSchema.RecoveryOutcomesView} ", statements[^2]);
        Assert.StartsWith("CREATE OR REPLACE VIEW consent_ledger ", statements[^1]);
        Assert.DoesNotContain(statements, s => s.Contains("--", StringComparison.Ordinal));
    }

    [Fact]
    public void Create_database_accepts_identifiers_only() =>
        Assert.Throws<ArgumentException>(() => AnalyticsSchema.CreateDatabaseStatement("x`; DROP DATABASE default"));
}

public sealed class ServerSettingsTests
{
    [Fact]
    public void Connection_strings_and_urls_both_configure_the_driver()
    {
        var fromString = new ClickHouseServerSettings("Host=ch.internal;Port=8443;Protocol=https;Username=cr;Password=s3cret").ToClientSettings();
        Assert.Equal(("https", "ch.internal", (ushort)8443, "cr", "s3cret"),
            (fromString.Protocol, fromString.Host, fromString.Port, fromString.Username, fromString.Password));

        var fromUrl = new ClickHouseServerSettings("https://cr:s%40cret@ch.internal:8443/").ToClientSettings();
        Assert.Equal(("https", "ch.internal", (ushort)8443, "cr", "s@cret"),
            (fromUrl.Protocol, fromUrl.Host, fromUrl.Port, fromUrl.Username, fromUrl.Password));

        var plain = new ClickHouseServerSettings("http://localhost:8123").ToClientSettings();
        Assert.Equal(("http", "localhost", (ushort)8123, "default"), (plain.Protocol, plain.Host, plain.Port, plain.Username));
    }

    [Fact]
    public void Settings_never_print_the_password() =>
        Assert.DoesNotContain("s3cret", new ClickHouseServerSettings("Host=h;Password=s3cret").ToString());

    [Fact]
    public async Task The_server_store_refuses_unsafe_names_before_sending_anything()
    {
        await using var store = new ClickHouseServerStore(new ClickHouseServerSettings("Host=127.0.0.1;Port=1"));
        await Assert.ThrowsAsync<ArgumentException>(() => store.InsertJsonEachRowAsync("t; DROP TABLE x", ["{}"], CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentException>(() => store.QueryAsync("SELECT 1", "CSV; DROP", CancellationToken.None));
        Assert.Throws<ArgumentException>(() => new ClickHouseServerStore(new ClickHouseServerSettings("Host=h"), new AnalyticsStoreOptions { Database = "a-b" }));
    }
}
