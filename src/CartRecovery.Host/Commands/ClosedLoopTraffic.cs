using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Kafka;
using CartRecovery.Storage;
using CartRecovery.Streaming;
using CartRecovery.Streaming.Checkpointing;
using CartRecovery.Traffic;
using Confluent.Kafka;

namespace CartRecovery.Host.Commands;

/// <summary>
/// The main job's simulated audience answers back. A first pass runs the worker on the generated traffic (own embedded
/// broker, then its state is cleared) to learn which triggers it sends; <see cref="ShopperResponses"/> turns those into
/// the dispatchers' reports, chat and survey outcomes and won-back orders; the main pass then runs on the traffic and
/// the answers together, so each answer is decided in its event-time place (an order after step 1 suppresses step 2, a
/// hard bounce moves step 2 to another channel). Deterministic: both passes are, and so are the answers. An answer to a
/// trigger the main pass decides differently (its shopper's bounce changed a later step) arrives unmatched, as it would
/// from a real dispatcher after a policy change.
/// </summary>
public static class ClosedLoopTraffic
{
    private const string FirstPass = "closed_loop_first_pass";

    public static async Task<IReadOnlyList<GeneratedEvent>> WithResponsesAsync(IReadOnlyList<GeneratedEvent> traffic, int partitions,
        string? policyFile, string dataDirectory, int seed, ResponseModel model, CancellationToken ct)
    {
        IReadOnlyList<RecoveryTrigger> triggers;
        // The first pass keeps to itself: its own broker, checkpoint file and analytics database, all gone afterwards,
        // so the main pass starts from nothing as the main job always does.
        var checkpoints = Path.Combine(dataDirectory, FirstPass + ".db");
        var store = new AnalyticsStoreOptions { Database = FirstPass };
        using (var broker = EmbeddedBroker.Start(partitions))
        {
            TrafficPublisher.Publish(broker.BootstrapServers, traffic);
            await WorkerRunner.RunAsync(new WorkerSettings
            {
                BootstrapServers = broker.BootstrapServers,
                Drain = true,
                Checkpoints = CheckpointStoreSettings.Sqlite(checkpoints),
            }, policyFile, dataDirectory, ct, store);
            triggers = ReadTriggers(broker.BootstrapServers, partitions);
        }
        await using (var firstPass = AnalyticsStoreFactory.Open(dataDirectory, store))
            await firstPass.QueryAsync($"DROP DATABASE IF EXISTS {FirstPass}", "TabSeparated", ct);
        // Pooled connections would keep the deleted file open.
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var file in new[] { checkpoints, checkpoints + "-wal", checkpoints + "-shm" }) File.Delete(file);

        var orders = new Dictionary<(string, string), DateTimeOffset>();
        foreach (var generated in traffic)
            if (generated.Event is OrderPlaced order && (!orders.TryGetValue((order.ShopperId, order.SessionId), out var first) || order.EventTime < first))
                orders[(order.ShopperId, order.SessionId)] = order.EventTime;
        var responses = ShopperResponses.Respond(triggers, orders, model, seed);
        return Merge(traffic, responses);
    }

    /// <summary>Everything the recovery-triggers topic holds, read to its end.</summary>
    private static List<RecoveryTrigger> ReadTriggers(string bootstrap, int partitions)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrap, GroupId = "closed-loop-reader", EnableAutoCommit = false, FetchWaitMaxMs = 10,
            IsolationLevel = IsolationLevel.ReadCommitted,
        }).Build();
        var triggers = new List<RecoveryTrigger>();
        var ends = new Dictionary<int, long>();
        for (var p = 0; p < partitions; p++)
        {
            var offsets = consumer.QueryWatermarkOffsetsRetrying(new TopicPartition(Topics.RecoveryTriggers, p), TimeSpan.FromSeconds(20));
            if (offsets.High > offsets.Low) ends[p] = offsets.High;
        }
        consumer.Assign(ends.Keys.Select(p => new TopicPartitionOffset(Topics.RecoveryTriggers, p, Offset.Beginning)));
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (ends.Count > 0)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("closed loop: the recovery-triggers topic could not be read to its end");
            var record = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (record is null) continue;
            triggers.Add(ContractJson.DeserializeTrigger(record.Message.Value));
            if (record.Offset.Value + 1 >= ends[record.Partition.Value]) ends.Remove(record.Partition.Value);
        }
        // A re-delivered trigger (same id) is one message to the audience, as it is to a dispatcher.
        return [.. triggers.DistinctBy(t => t.TriggerId)];
    }

    /// <summary>The traffic in its publishing order with the answers slotted in by event time, so no partition of an input
    /// topic holds an answer behind traffic from later in event time.</summary>
    private static List<GeneratedEvent> Merge(IReadOnlyList<GeneratedEvent> traffic, IReadOnlyList<GeneratedEvent> responses)
    {
        var answers = responses.Select((e, i) => (e, i)).OrderBy(x => x.e.Event.EventTime).ThenBy(x => x.i).Select(x => x.e).ToList();
        var merged = new List<GeneratedEvent>(traffic.Count + answers.Count);
        var next = 0;
        var reached = DateTimeOffset.MinValue;
        foreach (var generated in traffic)
        {
            if (generated.Event.EventTime > reached) reached = generated.Event.EventTime;
            while (next < answers.Count && answers[next].Event.EventTime <= reached) merged.Add(answers[next++]);
            merged.Add(generated);
        }
        merged.AddRange(answers.Skip(next));
        return merged;
    }
}
