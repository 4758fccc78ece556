using Akka.Actor;
using Akka.Hosting;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Kafka.Native;
using CartRecovery.Storage;
using CartRecovery.Streaming.Actors;
using CartRecovery.Streaming.Ingest;
using CartRecovery.Streaming.Output;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CartRecovery.Streaming.Hosting;

/// <summary>Composition of the worker: one call registers the pipeline and its actors, so Program reads like a
/// table of contents.</summary>
public static class WorkerHosting
{
    public static IServiceCollection AddCartRecoveryWorker(this IServiceCollection services, WorkerSettings settings, OutputSettings output,
        RecoveryPolicy policy, Func<IServiceProvider, IAnalyticsStore> store)
    {
        settings.Validate();
        LibrdkafkaLibrary.EnsureLoaded();
        services.AddSingleton(settings);
        services.AddSingleton(output);
        services.AddSingleton(new RecoveryEngine(policy));
        services.AddSingleton<WorkerMetrics>();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(new BatchTracker(settings.MaxOutstandingBatches));
        services.AddSingleton(store);
        services.AddSingleton<IProducer<string, byte[]>>(_ => new ProducerBuilder<string, byte[]>(new ProducerConfig
        {
            BootstrapServers = settings.BootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 5,
            CompressionType = CompressionType.Lz4,
        }).Build());
        services.AddSingleton<OutputWriter>();
        services.AddSingleton<StreamWorker>();
        services.AddAkka("cartrecovery", (akka, _) => akka
            .ConfigureLoggers(loggers =>
            {
                loggers.LogLevel = Akka.Event.LogLevel.WarningLevel;
                loggers.ClearLoggers();
                loggers.AddLoggerFactory();
            })
            .WithRecoveryActors());
        return services;
    }

    /// <summary>The actor tree: /user/partitions/partition-N/session-M.</summary>
    public static AkkaConfigurationBuilder WithRecoveryActors(this AkkaConfigurationBuilder builder) =>
        builder.WithActors((system, registry, resolver) =>
        {
            var partitions = system.ActorOf(PartitionSupervisor.Props(resolver.GetService<RecoveryEngine>(), resolver.GetService<OutputWriter>()), "partitions");
            registry.Register<PartitionSupervisor>(partitions);
        });
}

/// <summary>Runs the consume loop and the output writer together until cancelled or, in drain mode, until
/// every input is consumed, written and committed.</summary>
public sealed class StreamWorker(WorkerSettings settings, IRequiredActor<PartitionSupervisor> partitions, BatchTracker tracker, OutputWriter writer,
    WorkerMetrics metrics, TimeProvider clock, ILogger<StreamWorker> logger)
{
    public WorkerMetrics Metrics => metrics;

    public async Task RunAsync(CancellationToken ct)
    {
        using var failure = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var supervisor = await partitions.GetAsync(ct);
        var ingest = new KafkaIngest(settings, supervisor, tracker, metrics, logger, clock);
        var writing = Task.Run(async () =>
        {
            try { await writer.RunAsync(failure.Token); }
            catch (Exception) { await failure.CancelAsync(); throw; }
        }, CancellationToken.None);
        try
        {
            await ingest.RunAsync(failure.Token);
        }
        catch (OperationCanceledException) when (writing.IsFaulted)
        {
            // the writer's failure is the one to report
        }
        writer.Close();
        await writing;
    }
}
