using System.Globalization;
using System.Runtime.InteropServices;
using CartRecovery.Kafka.Native;
using Confluent.Kafka;

namespace CartRecovery.Kafka.Embedded;

/// <summary>
/// An in-memory Kafka cluster for tests and local runs: librdkafka's built-in mock cluster, which
/// speaks the Kafka protocol on real loopback TCP ports (produce, fetch, consumer groups,
/// idempotence, transactions) and offers fault injection. Data lives in memory only and is lost on
/// <see cref="Dispose"/>.
/// </summary>
/// <remarks>
/// <para>
/// Clients connect with ordinary Confluent.Kafka producers and consumers whose
/// <c>BootstrapServers</c> is <see cref="BootstrapServers"/>, from this process or another one.
/// Production runs against a real Kafka cluster through the very same Confluent.Kafka code; nothing
/// but the bootstrap string differs, and nothing outside tests and local runs may depend on this class.
/// </para>
/// <para>
/// Broker ids are 1 .. <see cref="BrokerCount"/>. All members are thread-safe. Dispose the cluster
/// after the clients that use it (clients of a vanished cluster just keep retrying to connect).
/// </para>
/// </remarks>
public sealed class MockKafkaCluster : IDisposable
{
    private const int ErrorStringSize = 512;

    private readonly object gate = new();
    private IntPtr rk;
    private IntPtr mcluster;

    private MockKafkaCluster(IntPtr rk, IntPtr mcluster, int brokerCount, string bootstrapServers)
    {
        this.rk = rk;
        this.mcluster = mcluster;
        BrokerCount = brokerCount;
        BootstrapServers = bootstrapServers;
    }

    /// <summary>Comma-separated <c>host:port</c> list of the mock brokers, for <c>bootstrap.servers</c>.</summary>
    public string BootstrapServers { get; }

    /// <summary>Number of brokers; their ids are 1 .. <see cref="BrokerCount"/>.</summary>
    public int BrokerCount { get; }

    /// <summary>
    /// Starts a mock cluster with <paramref name="brokers"/> brokers listening on ephemeral loopback
    /// ports. Loads librdkafka first (<see cref="LibrdkafkaLibrary.EnsureLoaded"/>).
    /// </summary>
    public static unsafe MockKafkaCluster Start(int brokers = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokers, 1);
        LibrdkafkaLibrary.EnsureLoaded();

        var errstr = stackalloc byte[ErrorStringSize];
        var conf = RdKafkaNative.rd_kafka_conf_new();
        if (conf == IntPtr.Zero)
        {
            throw new InvalidOperationException("rd_kafka_conf_new returned NULL.");
        }

        IntPtr handle;
        try
        {
            SetConf(conf, "client.id", "cartrecovery-mock-cluster", errstr);
            // The owning handle never connects anywhere; keep its "no bootstrap.servers" notice quiet.
            SetConf(conf, "log_level", "3", errstr);

            handle = RdKafkaNative.rd_kafka_new(RdKafkaNative.RD_KAFKA_PRODUCER, conf, errstr, ErrorStringSize);
            if (handle == IntPtr.Zero)
            {
                throw new InvalidOperationException($"rd_kafka_new failed: {Utf8(errstr)}");
            }
        }
        catch
        {
            RdKafkaNative.rd_kafka_conf_destroy(conf); // still ours when rd_kafka_new failed
            throw;
        }

        var cluster = RdKafkaNative.rd_kafka_mock_cluster_new(handle, brokers);
        if (cluster == IntPtr.Zero)
        {
            RdKafkaNative.rd_kafka_destroy(handle);
            throw new InvalidOperationException($"rd_kafka_mock_cluster_new(brokers: {brokers}) failed.");
        }

        var bootstraps = Marshal.PtrToStringUTF8(RdKafkaNative.rd_kafka_mock_cluster_bootstraps(cluster));
        if (string.IsNullOrEmpty(bootstraps))
        {
            RdKafkaNative.rd_kafka_mock_cluster_destroy(cluster);
            RdKafkaNative.rd_kafka_destroy(handle);
            throw new InvalidOperationException("rd_kafka_mock_cluster_bootstraps returned no address.");
        }

        return new MockKafkaCluster(handle, cluster, brokers, bootstraps);
    }

    /// <summary>
    /// Creates a topic. (The mock also auto-creates unknown topics on first use, with 4 partitions.)
    /// </summary>
    /// <exception cref="KafkaException">The mock refused, e.g. <c>TOPIC_ALREADY_EXISTS</c>; the message names the error.</exception>
    public void CreateTopic(string name, int partitions, int replicationFactor = 1)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(replicationFactor, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(replicationFactor, BrokerCount);

        lock (gate)
        {
            var err = RdKafkaNative.rd_kafka_mock_topic_create(Cluster(), name, partitions, replicationFactor);
            ThrowIfError(err, $"create topic '{name}' ({partitions} partitions, replication factor {replicationFactor})");
        }
    }

    /// <summary>
    /// Makes the next <paramref name="errors"/>.Length requests with Kafka API key
    /// <paramref name="apiKey"/> (0 = Produce, 1 = Fetch, 8 = OffsetCommit, ...), on whichever broker
    /// receives them, fail with these errors, in order. Errors for the same API key queue up.
    /// <see cref="ErrorCode.Local_Transport"/> closes the connection instead.
    /// </summary>
    public unsafe void PushRequestErrors(short apiKey, params ErrorCode[] errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        ArgumentOutOfRangeException.ThrowIfNegative(apiKey);
        if (errors.Length == 0)
        {
            return;
        }

        var codes = new int[errors.Length];
        for (var i = 0; i < errors.Length; i++)
        {
            codes[i] = (int)errors[i];
        }

        lock (gate)
        {
            var cluster = Cluster();
            fixed (int* p = codes)
            {
                RdKafkaNative.rd_kafka_mock_push_request_errors_array(cluster, apiKey, (nuint)codes.Length, p);
            }
        }
    }

    /// <summary>
    /// Moves the leadership of a partition to broker <paramref name="brokerId"/> (1-based; -1 leaves the
    /// partition without a leader). Clients find out the way they do on a real cluster: the old leader
    /// answers NOT_LEADER_FOR_PARTITION and they refresh their metadata. Like any use of the mock, an
    /// unknown topic is auto-created (4 partitions).
    /// </summary>
    /// <exception cref="KafkaException"><c>UNKNOWN_TOPIC_OR_PART</c> (no such partition) or
    /// <c>BROKER_NOT_AVAILABLE</c> (no such broker).</exception>
    public void SetPartitionLeader(string topic, int partition, int brokerId)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        lock (gate)
        {
            var err = RdKafkaNative.rd_kafka_mock_partition_set_leader(Cluster(), topic, partition, brokerId);
            ThrowIfError(err, $"set leader of {topic} [{partition}] to broker {brokerId}");
        }
    }

    /// <summary>Takes broker <paramref name="brokerId"/> down: closes its connections and refuses new ones.</summary>
    public void SetBrokerDown(int brokerId)
    {
        lock (gate)
        {
            ThrowIfError(RdKafkaNative.rd_kafka_mock_broker_set_down(Cluster(), brokerId), $"set broker {brokerId} down");
        }
    }

    /// <summary>Brings broker <paramref name="brokerId"/> back up.</summary>
    public void SetBrokerUp(int brokerId)
    {
        lock (gate)
        {
            ThrowIfError(RdKafkaNative.rd_kafka_mock_broker_set_up(Cluster(), brokerId), $"set broker {brokerId} up");
        }
    }

    /// <summary>
    /// Sets the group coordinator's initial rebalance delay (the mock's default is 3 s, like Kafka's
    /// <c>group.initial.rebalance.delay.ms</c>); tests that subscribe usually want it near zero.
    /// Applies to consumer groups created afterwards.
    /// </summary>
    public void SetGroupInitialRebalanceDelay(TimeSpan delay)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        lock (gate)
        {
            RdKafkaNative.rd_kafka_mock_group_initial_rebalance_delay_ms(Cluster(), checked((int)delay.TotalMilliseconds));
        }
    }

    /// <summary>Stops the brokers and frees all data (idempotent): rd_kafka_mock_cluster_destroy, then rd_kafka_destroy.</summary>
    public void Dispose()
    {
        IntPtr cluster, handle;
        lock (gate)
        {
            cluster = mcluster;
            handle = rk;
            mcluster = IntPtr.Zero;
            rk = IntPtr.Zero;
        }

        if (cluster != IntPtr.Zero)
        {
            RdKafkaNative.rd_kafka_mock_cluster_destroy(cluster);
        }

        if (handle != IntPtr.Zero)
        {
            RdKafkaNative.rd_kafka_destroy(handle);
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"MockKafkaCluster({BrokerCount} broker(s) at {BootstrapServers})";

    private IntPtr Cluster()
    {
        ObjectDisposedException.ThrowIf(mcluster == IntPtr.Zero, this);
        return mcluster;
    }

    private static void ThrowIfError(int err, string what)
    {
        if (err != 0)
        {
            var name = RdKafkaNative.ErrorName(err);
            throw new KafkaException(new Error((ErrorCode)err, $"Mock cluster: {what} failed: {name} ({err.ToString(CultureInfo.InvariantCulture)})"));
        }
    }

    private static unsafe void SetConf(IntPtr conf, string name, string value, byte* errstr)
    {
        if (RdKafkaNative.rd_kafka_conf_set(conf, name, value, errstr, ErrorStringSize) != RdKafkaNative.RD_KAFKA_CONF_OK)
        {
            throw new InvalidOperationException($"rd_kafka_conf_set({name}={value}) failed: {Utf8(errstr)}");
        }
    }

    private static unsafe string Utf8(byte* s) => Marshal.PtrToStringUTF8((IntPtr)s) ?? string.Empty;
}
