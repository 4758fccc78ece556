using System.Runtime.InteropServices;

namespace CartRecovery.Kafka.Native;

/// <summary>
/// The few librdkafka C functions this assembly calls directly (the mock cluster API of
/// <c>rdkafka_mock.h</c> plus what it needs from <c>rdkafka.h</c>). They bind, through the resolver
/// installed by <see cref="LibrdkafkaLibrary.EnsureLoaded"/>, to the same library handle that
/// Confluent.Kafka uses; call <see cref="LibrdkafkaLibrary.EnsureLoaded"/> before the first call.
/// </summary>
/// <remarks>
/// <c>rd_kafka_resp_err_t</c> is a C enum (int) whose values are those of
/// <see cref="Confluent.Kafka.ErrorCode"/>. The variadic <c>rd_kafka_mock_push_request_errors</c> is
/// deliberately not bound: <c>rd_kafka_mock_push_request_errors_array</c> does the same.
/// </remarks>
internal static partial class RdKafkaNative
{
    internal const int RD_KAFKA_PRODUCER = 0;
    internal const int RD_KAFKA_CONF_OK = 0;

    // --- rdkafka.h ---

    [LibraryImport(LibrdkafkaLibrary.LibraryName)]
    internal static partial IntPtr rd_kafka_conf_new();

    [LibraryImport(LibrdkafkaLibrary.LibraryName)]
    internal static partial void rd_kafka_conf_destroy(IntPtr conf);

    [LibraryImport(LibrdkafkaLibrary.LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static unsafe partial int rd_kafka_conf_set(IntPtr conf, string name, string value, byte* errstr, nuint errstrSize);

    /// <summary>On success takes ownership of <paramref name="conf"/>; on failure the caller still owns it.</summary>
    [LibraryImport(LibrdkafkaLibrary.LibraryName)]
    internal static unsafe partial IntPtr rd_kafka_new(int type, IntPtr conf, byte* errstr, nuint errstrSize);

    [LibraryImport(LibrdkafkaLibrary.LibraryName)]
    internal static partial void rd_kafka_destroy(IntPtr rk);

    /// <summary>Returns a static string (never freed).</summary>
    [LibraryImport(LibrdkafkaLibrary.LibraryName)]
    internal static partial IntPtr rd_kafka_err2name(int err);

    /// <summary>Returns a static string (never freed).</summary>
    [LibraryImport(LibrdkafkaLibrary.LibraryName)]
    internal static partial IntPtr rd_kafka_version_str();

    // --- rdkafka_mock.h ---

    [LibraryImport(LibrdkafkaLibrary.LibraryName)]
    internal static partial IntPtr rd_kafka_mock_cluster_new(IntPtr rk, int brokerCount);

    [LibraryImport(LibrdkafkaLibrary.LibraryName)]
    internal static partial void rd_kafka_mock_cluster_destroy(IntPtr mcluster);

    /// <summary>Returns a string owned by the mock cluster.</summary>
    [LibraryImport(LibrdkafkaLibrary.LibraryName)]
    internal static partial IntPtr rd_kafka_mock_cluster_bootstraps(IntPtr mcluster);

    [LibraryImport(LibrdkafkaLibrary.LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_topic_create(IntPtr mcluster, string topic, int partitionCount, int replicationFactor);

    [LibraryImport(LibrdkafkaLibrary.LibraryName)]
    internal static unsafe partial void rd_kafka_mock_push_request_errors_array(IntPtr mcluster, short apiKey, nuint count, int* errors);

    [LibraryImport(LibrdkafkaLibrary.LibraryName)]
    internal static partial void rd_kafka_mock_clear_request_errors(IntPtr mcluster, short apiKey);

    [LibraryImport(LibrdkafkaLibrary.LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_partition_set_leader(IntPtr mcluster, string topic, int partition, int brokerId);

    [LibraryImport(LibrdkafkaLibrary.LibraryName)]
    internal static partial int rd_kafka_mock_broker_set_down(IntPtr mcluster, int brokerId);

    [LibraryImport(LibrdkafkaLibrary.LibraryName)]
    internal static partial int rd_kafka_mock_broker_set_up(IntPtr mcluster, int brokerId);

    [LibraryImport(LibrdkafkaLibrary.LibraryName)]
    internal static partial void rd_kafka_mock_group_initial_rebalance_delay_ms(IntPtr mcluster, int delayMs);

    internal static string ErrorName(int err) =>
        Marshal.PtrToStringUTF8(rd_kafka_err2name(err)) ?? err.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
