using CartRecovery.Traffic;

namespace CartRecovery.Analytics.Tests;

/// <summary>
/// Data produced by the real pipeline: the CLI's main job (embedded broker, generated traffic, worker, chDB) run
/// once as its own process into a temporary --data directory; tests read it back through the query CLI.
/// </summary>
public sealed class PipelineFixture : IAsyncLifetime
{
    public static readonly SimulationSettings Traffic = new() { Shoppers = 1500, Seed = 7 };

    public string DataDirectory { get; } = Directory.CreateTempSubdirectory("cartrecovery-analytics-").FullName;

    public string RunOutput { get; private set; } = "";

    public async Task InitializeAsync()
    {
        var run = await Cli.RunAsync(TimeSpan.FromMinutes(8),
            // The oracle (ExpectedAnalytics) is the generated traffic itself: the audience stays silent, so no answers add orders.
            "--shoppers", Traffic.Shoppers.ToString(), "--seed", Traffic.Seed.ToString(), "--data", DataDirectory, "--audience", "silent");
        RunOutput = run.Stdout + run.Stderr;
        if (run.ExitCode != 0) throw new InvalidOperationException($"pipeline run failed ({run.ExitCode}):\n{RunOutput}");
    }

    public async Task<QueryTable> QueryAsync(string sql) => QueryTable.Parse(await Cli.QueryTsvAsync(DataDirectory, sql));

    public Task DisposeAsync()
    {
        try { Directory.Delete(DataDirectory, recursive: true); } catch (IOException) { }
        return Task.CompletedTask;
    }
}

[CollectionDefinition(Name)]
public sealed class PipelineCollection : ICollectionFixture<PipelineFixture>
{
    public const string Name = "pipeline data";
}
