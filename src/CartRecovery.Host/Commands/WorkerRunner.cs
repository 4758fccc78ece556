using System.Diagnostics;
using CartRecovery.Domain.Policy;
using CartRecovery.Storage;
using CartRecovery.Streaming;
using CartRecovery.Streaming.Checkpointing;
using CartRecovery.Streaming.Hosting;
using CartRecovery.Streaming.Output;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CartRecovery.Host.Commands;

public sealed record WorkerRun(long EventsConsumed, long DeadLetters, long LateEvents, TimeSpan Elapsed, IReadOnlyDictionary<string, long> DeadLettersByReason);

/// <summary>Hosts the worker (Akka.Hosting + the stream worker) against a broker and an analytics store.</summary>
public static class WorkerRunner
{
    /// <param name="progress">Show progress under this label (events of <paramref name="expectedEvents"/>, or of what
    /// the input holds: consumed + lag), live on a terminal, as a periodic line on stderr otherwise.</param>
    public static async Task<WorkerRun> RunAsync(WorkerSettings settings, string? policyFile, string dataDirectory, CancellationToken ct,
        AnalyticsStoreOptions? storeOptions = null, int? httpPort = null, OutputSettings? output = null, string? progress = null, long? expectedEvents = null)
    {
        var policy = LoadPolicy(policyFile);
        Directory.CreateDirectory(dataDirectory);
        // With --http-port the worker serves /healthz, /readyz and /metrics (Prometheus) for operators.
        IHostApplicationBuilder builder = httpPort is { } port
            ? WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [$"--urls=http://0.0.0.0:{port}"] })
            : Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        // JSON lines for log shippers (Logging:Console:FormatterName = json), one readable line per entry otherwise.
        if (HostConfiguration.Current.JsonLogs)
            builder.Logging.AddJsonConsole(o => { o.UseUtcTimestamp = true; o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ"; });
        else
            builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Logging.AddFilter("Akka", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        // The command owns SIGTERM/SIGINT (graceful stop through its token); the host must not stop Akka underneath it.
        builder.Services.AddSingleton<IHostLifetime, CommandOwnedLifetime>();
        builder.Services.AddCartRecoveryWorker(settings, output ?? new OutputSettings(), policy,
            // The worker owns the store it writes (the live one, or a replay's or backtest's own database): it sets its retention.
            _ => AnalyticsStoreFactory.Open(dataDirectory, (storeOptions ?? AnalyticsStoreFactory.LiveOptions) with { SetsRetention = true }));

        IHost host;
        if (builder is WebApplicationBuilder web)
        {
            web.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(WorkerMetrics.MeterName).AddPrometheusExporter());
            var app = web.Build();
            app.MapGet("/healthz", (WorkerHealth health) => health.IsLive ? Results.Text("live\n") : Results.Text("failed\n", statusCode: 503));
            app.MapGet("/readyz", (WorkerHealth health) => Results.Text(health.Status + "\n", statusCode: health.IsReady ? 200 : 503));
            app.MapPrometheusScrapingEndpoint("/metrics");
            host = app;
        }
        else
        {
            host = ((HostApplicationBuilder)builder).Build();
        }

        using var _ = host;
        if (policy.Keys.IsDevelopment)
            host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("CartRecovery.Compliance").LogWarning(
                "{TokenKey}, {PseudonymKey} and {RecordKey} are not set and {Allow} is: tokens, pseudonyms and the worker's own records use the public development keys (never in production)",
                Domain.Compliance.ComplianceKeys.TokenKeySetting, Domain.Compliance.ComplianceKeys.PseudonymKeySetting,
                Domain.Compliance.ComplianceKeys.RecordKeySetting, Domain.Compliance.ComplianceKeys.AllowDevelopmentSetting);
        var store = host.Services.GetRequiredService<IAnalyticsStore>();
        await store.EnsureSchemaAsync(ct);
        await host.StartAsync(ct);
        var worker = host.Services.GetRequiredService<StreamWorker>();
        var clock = Stopwatch.StartNew();
        var shown = progress is null ? null
            : RunProgress.Start(progress, () => new ProgressSample(worker.Metrics.EventsConsumed + worker.Metrics.DeadLetters, expectedEvents, worker.Metrics.TotalLag));
        try
        {
            await worker.RunAsync(ct);
        }
        finally
        {
            // Stopping disposes the Kafka clients, which may wait for a broker that is gone: bounded like the rest of the stop.
            using var deadline = ExitDeadline.Arm(settings.ShutdownTimeout + TimeSpan.FromSeconds(15), "stopping the worker");
            if (shown is not null) await shown.DisposeAsync();
            await host.StopAsync(CancellationToken.None);
            await store.DisposeAsync();
        }
        var m = worker.Metrics;
        return new WorkerRun(m.EventsConsumed, m.DeadLetters, m.LateEvents, clock.Elapsed, m.DeadLettersByReason.ToDictionary());
    }

    /// <summary>PostgreSQL when given (option or the Postgres configuration section), else a SQLite file (default DATA/checkpoints.db).</summary>
    public static CheckpointStoreSettings CheckpointStore(string dataDirectory, string? sqliteFile, string? postgres)
    {
        postgres ??= HostConfiguration.Current.Postgres;
        if (!string.IsNullOrWhiteSpace(postgres)) return CheckpointStoreSettings.PostgreSql(postgres);
        Directory.CreateDirectory(dataDirectory);
        return CheckpointStoreSettings.Sqlite(sqliteFile ?? Path.Combine(dataDirectory, "checkpoints.db"));
    }

    /// <summary>--postgres without a password: the command line shows in the process list.</summary>
    public static string? PostgresFromCommandLine(string? connectionString)
    {
        if (connectionString is null) return null;
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
        if (builder.Password is not null)
            throw new ArgumentException("--postgres: the connection string carries a password, which the process list would show; give it as " +
                "CARTRECOVERY_Postgres__Password, Postgres:PasswordFile or a file Postgres__Password in the secrets directory");
        // A password configured separately (a Secret) joins the connection given here.
        if (HostConfiguration.Current.Postgres is { } configured && new Npgsql.NpgsqlConnectionStringBuilder(configured).Password is { } password)
            builder.Password = password;
        return builder.ConnectionString;
    }

    /// <summary>Forgets a previous run of the embedded default: its analytics store and checkpoints.</summary>
    public static void ClearEmbeddedState(string dataDirectory)
    {
        if (!Directory.Exists(dataDirectory)) return;
        var clickhouse = Path.Combine(dataDirectory, "clickhouse");
        if (Directory.Exists(clickhouse)) Directory.Delete(clickhouse, recursive: true);
        foreach (var file in new[] { "checkpoints.db", "checkpoints.db-wal", "checkpoints.db-shm" })
            File.Delete(Path.Combine(dataDirectory, file));
    }

    /// <summary>The policy file with the compliance keys of the environment (they are configuration, not policy).</summary>
    /// <param name="withKeys">false: only the policy's rules are read (reference policies of metrics), which sign and key
    /// nothing, so no keys are required.</param>
    public static RecoveryPolicy LoadPolicy(string? policyFile, bool withKeys = true)
    {
        var keys = withKeys ? HostConfiguration.Current.ComplianceKeys() : Domain.Compliance.ComplianceKeys.Development;
        if (policyFile is null) return PolicyFile.LoadDefault() with { Keys = keys };
        if (!File.Exists(policyFile)) throw new ArgumentException($"--policy: file not found: {policyFile}");
        return PolicyFile.Parse(File.ReadAllText(policyFile)) with { Keys = keys };
    }
}

/// <summary>A host lifetime that ignores process signals: the CLI command turns them into a graceful stop.</summary>
internal sealed class CommandOwnedLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
