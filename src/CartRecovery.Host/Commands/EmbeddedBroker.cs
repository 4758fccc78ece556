using CartRecovery.Contracts;
using CartRecovery.Kafka.Embedded;
using CartRecovery.Kafka.Native;

namespace CartRecovery.Host.Commands;

/// <summary>The embedded Kafka-protocol broker (librdkafka's mock cluster) with the project's topics created.</summary>
public static class EmbeddedBroker
{
    public static MockKafkaCluster Start(int partitions, int brokers = 1)
    {
        if (partitions <= 0) throw new ArgumentException($"--partitions must be > 0 (got {partitions})");
        LibrdkafkaLibrary.EnsureLoaded();
        var cluster = MockKafkaCluster.Start(brokers);
        // The mock waits 3 s before a group's first rebalance; a local run has no other members to wait for.
        cluster.SetGroupInitialRebalanceDelay(TimeSpan.Zero);
        foreach (var topic in Topics.Inputs) cluster.CreateTopic(topic, partitions);
        cluster.CreateTopic(Topics.RecoveryTriggers, partitions);
        cluster.CreateTopic(Topics.DeadLetter, 1);
        return cluster;
    }
}
