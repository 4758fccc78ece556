namespace CartRecovery.EndToEnd.Tests;

/// <summary>
/// The reproductions of issue 21 against the real CLI: <c>query</c> hands out no secret file, no environment variable and
/// no other database, opens no outbound connection, and a query past its time limit is stopped with a message that
/// names the limit. Black box: the CLI process on its own embedded store.
/// </summary>
[Collection("processes")]
public sealed class AnalystQueryTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("cartrecovery-analyst-");
    private readonly string _marker = "planted-secret-" + Guid.NewGuid().ToString("N");

    public void Dispose()
    {
        try { _root.Delete(recursive: true); } catch (IOException) { }
    }

    [Fact]
    public async Task Query_reads_no_secret_file_environment_or_other_database_and_a_long_query_is_stopped_by_its_limit()
    {
        var data = Path.Combine(_root.FullName, "data");
        var secrets = Directory.CreateDirectory(Path.Combine(_root.FullName, "secrets")).FullName;
        await File.WriteAllTextAsync(Path.Combine(secrets, "Compliance__TokenKey"), _marker + "\n");
        var checkpoints = Path.Combine(_root.FullName, "checkpoints.db");
        await File.WriteAllTextAsync(checkpoints, _marker);
        var environment = new Dictionary<string, string?> { ["CARTRECOVERY_TEST_PLANTED_SECRET"] = _marker };

        // A read of the store works (the guard does not refuse everything).
        var ok = await Cli.RunAsync(TimeSpan.FromMinutes(2), environment, "query", "--data", data, "--format", "tsv",
            "SELECT count() FROM numbers(10) UNION ALL SELECT count() FROM system.tables WHERE database = currentDatabase()");
        Assert.True(ok.ExitCode == 0, ok.ToString());

        foreach (var sql in new[]
        {
            $"SELECT _file, line FROM file('{secrets}/*', 'LineAsString')",
            "SELECT _file, line FROM file('/proc/self/environ', 'LineAsString')",
            $"SELECT file('{secrets}/Compliance__TokenKey')",
            $"select * from `FILE`('{secrets}/*', 'LineAsString')",
            $"SELECT * FROM sqlite('{checkpoints}', 'snapshot')",
            "SELECT * FROM url('http://127.0.0.1:9/exfiltrate', 'LineAsString')",
            "SELECT * FROM s3('http://127.0.0.1:9/bucket/x.csv', 'CSV', 'a String')",
            "SELECT * FROM mysql('127.0.0.1:9', 'db', 'orders', 'user', 'password')",
            "SELECT query FROM system.query_log",
        })
        {
            var refused = await Cli.RunAsync(TimeSpan.FromMinutes(2), environment, "query", "--data", data, sql);
            Assert.True(refused.ExitCode != 0, $"{sql} was accepted: {refused}");
            Assert.Contains("query refused", refused.Stderr);
            Assert.DoesNotContain(_marker, refused.Stdout + refused.Stderr);
        }

        environment["CARTRECOVERY_Query__MaxExecutionSeconds"] = "1";
        var stopped = await Cli.RunAsync(TimeSpan.FromMinutes(2), environment, "query", "--data", data, "SELECT count() FROM numbers(1e12)");
        Assert.Equal(1, stopped.ExitCode);
        Assert.Contains("analyst time limit", stopped.Stderr);
        Assert.Contains("Query:MaxExecutionSeconds", stopped.Stderr);
        Assert.Contains("TIMEOUT_EXCEEDED", stopped.Stderr);
    }
}
