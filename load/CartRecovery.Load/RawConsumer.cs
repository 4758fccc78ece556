using System.Diagnostics;
using CartRecovery.Contracts;
using Confluent.Kafka;

namespace CartRecovery.Load;

public sealed record RawRun(long Records, TimeSpan Elapsed, ProcessSample Process)
{
    public double RecordsPerSecond => Records / Math.Max(Elapsed.TotalSeconds, 1e-6);
}

/// <summary>
/// The raw ceiling: a plain Confluent.Kafka consume loop over the worker's input topics on the same broker, doing
/// nothing with the records (values are still copied into byte[], as the worker gets them). Assign (no group
/// protocol), read_committed like the worker, fetch.wait.max.ms 10, partition EOF to know when it is done.
/// </summary>
public static class RawConsumer
{
    public static RawRun Run(string bootstrap, int partitions, long expected)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "bench-raw-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            EnablePartitionEof = true,
            IsolationLevel = IsolationLevel.ReadCommitted,
            FetchWaitMaxMs = 10,
        };
        using var consumer = new ConsumerBuilder<byte[], byte[]>(config).Build();
        var assignment = Topics.Inputs.SelectMany(t => Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(t, p, Offset.Beginning))).ToList();
        var probe = ProcessProbe.Start();
        var clock = Stopwatch.StartNew();
        consumer.Assign(assignment);
        var atEnd = new HashSet<TopicPartition>();
        long records = 0, bytes = 0;
        while (atEnd.Count < assignment.Count || records < expected)
        {
            if (clock.Elapsed > TimeSpan.FromMinutes(10)) throw new TimeoutException($"raw consume: {records} of {expected} records after 10 min");
            var result = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (result is null) continue;
            if (result.IsPartitionEOF) { atEnd.Add(result.TopicPartition); continue; }
            atEnd.Remove(result.TopicPartition);
            records++;
            bytes += result.Message.Value?.Length ?? 0;
        }
        var elapsed = clock.Elapsed;
        var sample = probe.Stop();
        consumer.Close();
        return new RawRun(records, elapsed, sample);
    }
}
