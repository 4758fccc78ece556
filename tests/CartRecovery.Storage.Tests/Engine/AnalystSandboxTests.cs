using CartRecovery.Storage.Embedded;
using CartRecovery.Storage.Tests.Contract;
using Xunit.Abstractions;

namespace CartRecovery.Storage.Tests.Engine;

/// <summary>
/// The analyst path on the real chDB engine (26.5): it reads the store's tables and nothing else. Both layers are
/// shown: the statement guard (<see cref="ReadOnlySql"/>) and, behind it, the engine's read-only session with the
/// analyst limits, which refuses what reaches outside even when the guard is bypassed.
/// </summary>
[Collection(ChDbCollection.Name)]
public sealed class AnalystSandboxTests(ChDbEngineFixture fixture, ITestOutputHelper output) : IDisposable
{
    private readonly DirectoryInfo _secrets = Directory.CreateTempSubdirectory("cartrecovery-secrets-");
    private readonly string _marker = "secret-" + Guid.NewGuid().ToString("N");

    public void Dispose()
    {
        try { _secrets.Delete(recursive: true); } catch (IOException) { }
    }

    private async Task<ChDbAnalyticsStore> AnalystStoreAsync(AnalystLimits? limits = null)
    {
        var database = "analyst_" + Guid.NewGuid().ToString("N")[..12];
        await using (var writer = new ChDbAnalyticsStore(fixture.Engine, new AnalyticsStoreOptions { Database = database }, ownsEngine: false))
        {
            await writer.EnsureSchemaAsync(CancellationToken.None);
            await writer.InsertJsonEachRowAsync("dead_letters", [DeadLetter(1)], CancellationToken.None);
        }
        return new ChDbAnalyticsStore(fixture.Engine,
            new AnalyticsStoreOptions { Database = database, ReadOnly = true, Limits = limits ?? AnalystLimits.Default }, ownsEngine: false);
    }

    /// <summary>A dead letter received an hour ago: inside any retention, whatever the date the test runs on.</summary>
    private static string DeadLetter(int offset) =>
        $$"""{"dead_letter_id":"d-{{offset}}","topic":"cart-events","partition":0,"offset":{{offset}},"reason":"malformed_json","received_at":"{{DateTimeOffset.UtcNow.AddHours(-1):yyyy-MM-ddTHH:mm:ss}}Z"}""";

    [Fact]
    public async Task Every_table_function_of_the_engine_outside_the_allow_list_is_refused()
    {
        // The engine's own list, so a table function a later chDB adds is covered without editing this test.
        var names = fixture.Engine.Query("SELECT name FROM system.table_functions ORDER BY name", "TabSeparated")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var outside = names.Where(n => !ReadOnlySql.AllowedTableFunctions.Contains(n)).ToList();
        Assert.True(outside.Count > 50, $"system.table_functions lists {names.Length} names");
        await using var store = await AnalystStoreAsync();
        foreach (var name in outside)
            foreach (var sql in new[] { $"SELECT * FROM {name}('x')", $"SELECT * FROM numbers(1), `{name}` ('x', 'y')", $"DESCRIBE TABLE {name.ToUpperInvariant()}('x')" })
            {
                var error = await Record.ExceptionAsync(() => store.QueryAsync(sql, "TabSeparated", CancellationToken.None));
                Assert.True(error is ReadOnlyViolationException, $"{sql}: {error?.Message ?? "accepted"}");
                Assert.Contains(name, error!.Message, StringComparison.OrdinalIgnoreCase);
            }
        output.WriteLine($"{outside.Count} table functions refused: {string.Join(", ", outside)}");
        // And the allowed ones still run.
        Assert.Equal("3\n", await store.QueryAsync("SELECT count() FROM numbers(3)", "TabSeparated", CancellationToken.None));
    }

    [Fact]
    public async Task A_secrets_file_cannot_be_read_by_any_means()
    {
        var secretFile = Path.Combine(_secrets.FullName, "token-key");
        await File.WriteAllTextAsync(secretFile, $"{_marker}\n");
        await File.WriteAllTextAsync(Path.Combine(_secrets.FullName, "keys.csv"), $"{_marker},x\n1,2\n");
        var dir = _secrets.FullName;
        await using var store = await AnalystStoreAsync();
        string[] attempts =
        [
            $"SELECT _file, line FROM file('{dir}/*', 'LineAsString')",
            $"SELECT * FROM file('{secretFile}')",
            $"SELECT * FROM `file`('{secretFile}', 'RawBLOB')",
            $"select * from FILE('{secretFile}', 'LineAsString')",
            $"SELECT * FROM \"fi\\x6ce\"('{secretFile}', 'LineAsString')",
            $"SELECT * FROM /* x */ file /* y */ ('{secretFile}', 'LineAsString')",
            $"SELECT file('{secretFile}')",
            $"SELECT `file`('{secretFile}')",
            $"SELECT arrayMap(p -> file(p), ['{secretFile}'])",
            $"SELECT * FROM url('file://{secretFile}', 'LineAsString')",
            $"SELECT * FROM filesystem('{dir}')",
            $"SELECT * FROM fileCluster('default', '{dir}/*', 'LineAsString')",
            $"SELECT * FROM icebergLocal('{dir}')",
            $"SELECT * FROM deltaLakeLocal('{dir}')",
            $"SELECT * FROM sqlite('{secretFile}', 'snapshot')",
            $"SELECT * FROM executable('cat {secretFile}', 'LineAsString', 'line String')",
            $"DESCRIBE TABLE file('{dir}/keys.csv', 'CSVWithNames')",
            $"SELECT * FROM (SELECT * FROM file('{secretFile}', 'LineAsString'))",
            $"SELECT 1 WHERE '{_marker}' IN file('{secretFile}', 'LineAsString')",
            $"SELECT line FROM file('{secretFile}', 'LineAsString') SETTINGS readonly = 0",
            "SELECT * FROM file('/proc/self/environ', 'LineAsString')",
            "SELECT * FROM merge('system', '.*')",
            "SELECT query FROM system.query_log",
            $"SELECT * FROM numbers(1); SELECT * FROM file('{secretFile}', 'LineAsString')",
        ];
        foreach (var sql in attempts)
        {
            var error = await Assert.ThrowsAnyAsync<Exception>(() => store.QueryAsync(sql, "TabSeparated", CancellationToken.None));
            Assert.True(error is ReadOnlyViolationException or ClickHouseQueryException, $"{sql}: {error}");
            Assert.DoesNotContain(_marker, error.Message.Replace(secretFile, "").Replace(dir, ""));
        }

        // Behind the guard, the engine alone (a read-only session with the analyst limits) refuses every table-function form.
        using var session = fixture.Engine.OpenReadOnlySession(AnalystLimits.Default.Settings());
        foreach (var sql in attempts.Where(a => a.Contains("FROM", StringComparison.OrdinalIgnoreCase) && !a.Contains("system", StringComparison.Ordinal)
                     && !a.Contains(';') && !a.Contains("fileCluster", StringComparison.Ordinal)))
        {
            var error = Assert.Throws<ClickHouseQueryException>(() => session.Query(sql, "TabSeparated", "default"));
            Assert.DoesNotContain(_marker, error.EngineMessage);
        }
    }

    [Theory]
    [InlineData("SELECT * FROM url('http://127.0.0.1:9/x', 'LineAsString', 'line String')")]
    [InlineData("SELECT * FROM s3('http://127.0.0.1:9/bucket/x.csv', 'CSV', 'a String')")]
    [InlineData("SELECT * FROM gcs('http://127.0.0.1:9/bucket/x.csv', 'CSV', 'a String')")]
    [InlineData("SELECT * FROM mysql('127.0.0.1:9', 'db', 'orders', 'user', 'password')")]
    [InlineData("SELECT * FROM postgresql('127.0.0.1:9', 'db', 'orders', 'user', 'password')")]
    [InlineData("SELECT * FROM mongodb('127.0.0.1:9', 'db', 'orders', 'user', 'password', 'a String')")]
    [InlineData("SELECT * FROM redis('127.0.0.1:9', 'k', 'k String')")]
    [InlineData("SELECT * FROM remote('127.0.0.1:9', system.one)")]
    [InlineData("SELECT * FROM remoteSecure('127.0.0.1:9', system.one)")]
    [InlineData("SELECT * FROM hdfs('hdfs://127.0.0.1:9/x', 'CSV', 'a String')")]
    [InlineData("SELECT * FROM jdbc('jdbc:x', 'db', 'orders')")]
    [InlineData("SELECT * FROM odbc('DSN=x', 'db', 'orders')")]
    [InlineData("SELECT * FROM hudi('http://127.0.0.1:9/bucket/x')")]
    [InlineData("SELECT * FROM dictionary('secrets')")]
    [InlineData("SELECT * FROM loop(numbers(3))")]
    [InlineData("INSERT INTO FUNCTION file('/tmp/cartrecovery-analyst-write', 'LineAsString') SELECT 'x'")]
    [InlineData("CREATE DATABASE analyst_scratch")]
    [InlineData("CREATE TEMPORARY TABLE t (line String) ENGINE = File(LineAsString, '/etc/hostname')")]
    [InlineData("CREATE TABLE default.t (line String) ENGINE = URL('http://127.0.0.1:9/x', LineAsString)")]
    [InlineData("SELECT 1 SETTINGS max_execution_time = 0")]
    [InlineData("SET readonly = 0")]
    public void The_engine_alone_refuses_sources_outside_the_store_writes_and_setting_changes(string sql)
    {
        using var session = fixture.Engine.OpenReadOnlySession(AnalystLimits.Default.Settings());
        var error = Assert.Throws<ClickHouseQueryException>(() => session.Query(sql, "TabSeparated", "default"));
        Assert.Equal(164, error.Code); // READONLY: refused before any connection or file is opened
    }

    [Fact]
    public async Task A_long_query_is_stopped_by_the_time_limit()
    {
        await using var store = await AnalystStoreAsync(AnalystLimits.Default with { MaxExecutionTime = TimeSpan.FromSeconds(1) });
        var error = await Assert.ThrowsAsync<ClickHouseQueryException>(
            () => store.QueryAsync("SELECT count() FROM numbers(1e12)", "TabSeparated", CancellationToken.None));
        Assert.Equal(159, error.Code); // TIMEOUT_EXCEEDED
        Assert.Contains("analyst time limit", error.Message);
        Assert.Contains("Query:MaxExecutionSeconds", error.Message);
    }

    [Fact]
    public async Task A_query_past_the_memory_or_result_limit_is_stopped()
    {
        await using (var store = await AnalystStoreAsync(AnalystLimits.Default with { MaxMemoryBytes = 64L << 20 }))
        {
            var error = await Assert.ThrowsAsync<ClickHouseQueryException>(
                () => store.QueryAsync("SELECT length(groupArray(number)) FROM numbers(200000000)", "TabSeparated", CancellationToken.None));
            Assert.Equal(241, error.Code); // MEMORY_LIMIT_EXCEEDED
            Assert.Contains("Query:MaxMemoryBytes", error.Message);
        }
        await using (var store = await AnalystStoreAsync(AnalystLimits.Default with { MaxResultBytes = 1000 }))
        {
            var error = await Assert.ThrowsAsync<ClickHouseQueryException>(
                () => store.QueryAsync("SELECT number FROM numbers(100000)", "TabSeparated", CancellationToken.None));
            Assert.Equal(396, error.Code); // TOO_MANY_ROWS_OR_BYTES
            Assert.Contains("Query:MaxResultBytes", error.Message);
        }
    }

    [Fact]
    public async Task The_analyst_reads_its_tables_and_metadata_and_leaves_the_writers_connection_writable()
    {
        await using var store = await AnalystStoreAsync();
        Assert.Equal("1\n", await store.QueryAsync("SELECT count() FROM dead_letters FINAL", "TabSeparated", CancellationToken.None));
        Assert.Contains("dead_letters", await store.QueryAsync(
            "SELECT name FROM system.tables WHERE database = currentDatabase()", "TabSeparated", CancellationToken.None));
        Assert.Contains("reason", await store.QueryAsync("DESCRIBE TABLE dead_letters", "TabSeparated", CancellationToken.None));
        Assert.Contains("dead_letters", await store.QueryAsync("SHOW TABLES", "TabSeparated", CancellationToken.None));
        // The read-only session is the analyst's own: the process's connection still writes.
        await using var writer = new ChDbAnalyticsStore(fixture.Engine, new AnalyticsStoreOptions { Database = store.Database }, ownsEngine: false);
        await writer.InsertJsonEachRowAsync("dead_letters", [DeadLetter(2)], CancellationToken.None);
        Assert.Equal("2\n", await store.QueryAsync("SELECT count() FROM dead_letters FINAL", "TabSeparated", CancellationToken.None));
        Assert.Equal("0\n", await writer.QueryAsync("SELECT getSetting('readonly')", "TabSeparated", CancellationToken.None));
    }
}
