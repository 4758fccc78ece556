using Akka.Actor;
using Akka.Hosting;
using Akka.Persistence.Hosting;
using Akka.Persistence.Sql.Hosting;
using CartRecovery.Streaming.Checkpointing;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Kafka.Native;
using CartRecovery.Storage;
using CartRecovery.Streaming.Actors;
using CartRecovery.Streaming.Ingest;
using CartRecovery.Streaming.Output;
using CartRecovery.Streaming.Pipeline;
using Akka.Streams;
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
        // The merge bounds event times as the partition actors do (one rule, from the policy).
        settings = settings with { MaxFutureSkew = policy.MaxFutureSkew };
        LibrdkafkaLibrary.EnsureLoaded();
        services.AddSingleton(settings);
        // The writer keeps every record within the producer's message.max.bytes, as the operator configured it.
        services.AddSingleton(output with { MaxRecordBytes = WorkerKafkaConfig.OutputProducer(settings).MessageMaxBytes ?? output.MaxRecordBytes });
        services.AddSingleton(new RecoveryEngine(policy));
        services.AddSingleton(policy.Keys);
        services.AddSingleton<WorkerMetrics>();
        services.AddSingleton<WorkerHealth>();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(store);
        services.AddSingleton<BrokerWatch>();
        services.AddSingleton<IProducer<string, byte[]>>(provider => new ProducerBuilder<string, byte[]>(WorkerKafkaConfig.OutputProducer(settings))
            .SetErrorHandler((_, e) => provider.GetRequiredService<BrokerWatch>().Error("producer", e))
            .SetLogHandler((_, m) => provider.GetRequiredService<BrokerWatch>().Log("producer", m))
            .Build());
        services.AddSingleton<OutputWriter>();
        services.AddSingleton<WorkerPipeline>();
        services.AddSingleton<StreamWorker>();
        services.AddAkka("cartrecovery", (akka, _) => akka
            .WithCheckpointStore(settings.Checkpoints)
            // Akka registers its own SIGTERM handler that terminates the actor system at once; the worker owns
            // SIGTERM instead (finish in-flight batches, checkpoint, commit) and stops Akka itself afterwards.
            .AddHocon("akka.coordinated-shutdown.run-by-clr-shutdown-hook = off", HoconAddMode.Prepend)
            // The insert groups are substreams consumed one after the other (SplitAfter + ConcatSubstream): the next one
            // waits, unsubscribed, for as long as the write before it takes. The default 5 s failed the whole worker
            // whenever an insert took longer (a slow or busy ClickHouse, a loaded node: seen in the durability tests).
            .AddHocon("akka.stream.materializer.subscription-timeout.timeout = 1h", HoconAddMode.Prepend)
            .ConfigureLoggers(loggers =>
            {
                loggers.LogLevel = Akka.Event.LogLevel.WarningLevel;
                loggers.ClearLoggers();
                loggers.AddLoggerFactory();
            })
            .WithRecoveryActors());
        return services;
    }

    /// <summary>Partition checkpoints in Akka.Persistence.Sql (SQLite or PostgreSQL), configured through its Akka.Hosting options.</summary>
    public static AkkaConfigurationBuilder WithCheckpointStore(this AkkaConfigurationBuilder builder, CheckpointStoreSettings store) =>
        builder.WithSqlPersistence(store.JournalOptions(), store.SnapshotOptions()).AddHocon(store.RecoveryTimeouts(), HoconAddMode.Prepend);

    /// <summary>The actor tree: /user/partitions/partition-N/session-M.</summary>
    public static AkkaConfigurationBuilder WithRecoveryActors(this AkkaConfigurationBuilder builder) =>
        builder.WithActors((system, registry, resolver) =>
        {
            var settings = resolver.GetService<WorkerSettings>();
            var partitions = system.ActorOf(
                PartitionSupervisor.Props(settings.GroupId, resolver.GetService<RecoveryEngine>(), resolver.GetService<WorkerPipeline>()), "partitions");
            registry.Register<PartitionSupervisor>(partitions);
        });
}

/// <summary>Runs the consume loop and the pipeline behind it until cancelled or, in drain mode, until every input is
/// consumed, written and committed.</summary>
public sealed class StreamWorker(WorkerSettings settings, IRequiredActor<PartitionSupervisor> partitions, ActorSystem system, WorkerPipeline pipeline,
    WorkerMetrics metrics, WorkerHealth health, TimeProvider clock, ILogger<StreamWorker> logger, Domain.Compliance.ComplianceKeys keys, BrokerWatch watch)
{
    public WorkerMetrics Metrics => metrics;

    /// <summary>Runs until <paramref name="stop"/> (graceful: in-flight work is finished, checkpointed and committed)
    /// or, in drain mode, until all input is consumed. A failure of the pipeline stops the ingest without committing.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        var supervisor = await partitions.GetAsync(stop);
        // The pipeline is not cancelled by a stop request: a graceful stop needs it to write what is in flight.
        pipeline.Start(supervisor, system.Materializer());
        var ingest = new KafkaIngest(settings, supervisor, pipeline, metrics, health, logger, clock, keys, watch);
        health.WatchBroker(() => watch.DownSince, clock);
        // A broker gone past Worker:BrokerPatience ends every wait of the worker with that cause (drain or live).
        watch.Expired += cause =>
        {
            health.Failed(cause);
            pipeline.Abort(cause);
        };
        try
        {
            await ingest.RunAsync(stop);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            health.Failed(pipeline.Failure ?? e);
            // Configuration found wrong at run time (a topic missing, topics not co-partitioned) stays a configuration error.
            if (e is WorkerFailedException or ArgumentException) throw;
            throw new WorkerFailedException("the consume loop stopped", e);
        }
        finally
        {
            pipeline.Close();
        }
        // What is in flight is written within the shutdown timeout, whatever the broker does; then the worker leaves
        // (the outputs not acknowledged are produced again by the next owner, from the last checkpoint).
        try
        {
            await pipeline.Completion.WaitAsync(settings.ShutdownTimeout);
        }
        catch (TimeoutException)
        {
            pipeline.Abort(new WorkerFailedException($"the outputs in flight were not written within the shutdown timeout ({settings.ShutdownTimeout.TotalSeconds:F0} s)"));
            logger.LogWarning("shutdown timeout: outputs in flight not acknowledged; the next owner replays them from the last checkpoint");
        }
        // An erasure's replaced parts leave the disk within about 30 s of it; a stop (or the end of a drain) waits for them,
        // so no process exits with the erased shopper still in a part file.
        var purge = await pipeline.ErasuresPurgedAsync();
        if (!purge.Complete)
            logger.LogWarning("{Parts} parts replaced by an erasure were still on disk after {Timeout}; the engine removes them at its next cleanup",
                purge.ReplacedPartsLeft, OutputWriter.ErasurePurgeTimeout);
    }
}
