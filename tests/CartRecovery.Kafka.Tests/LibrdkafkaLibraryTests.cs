using System.Runtime.InteropServices;
using CartRecovery.Kafka.Embedded;
using CartRecovery.Kafka.Native;
using Confluent.Kafka;
using Xunit;

namespace CartRecovery.Kafka.Tests;

public sealed class LibrdkafkaLibraryTests
{
    [Fact]
    public void EnsureLoaded_is_idempotent_across_threads()
    {
        var paths = new string[16];
        Parallel.For(0, paths.Length, i => paths[i] = LibrdkafkaLibrary.EnsureLoaded());

        Assert.Single(paths.Distinct());
        Assert.True(Library.IsLoaded);
    }

    [Fact]
    public void On_linux_x64_the_centos8_build_is_loaded_from_the_build_output()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64 ||
            !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(LibrdkafkaLibrary.PathEnvironmentVariable)))
        {
            return;
        }

        var expected = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "centos8-librdkafka.so");

        Assert.Equal(expected, LibrdkafkaLibrary.EnsureLoaded());
        Assert.True(File.Exists(expected));
    }

    [Fact]
    public void Confluent_clients_and_our_PInvokes_share_one_native_library()
    {
        var path = LibrdkafkaLibrary.EnsureLoaded();
        using var cluster = MockKafkaCluster.Start();
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers })
            .SetLogHandler((_, _) => { })
            .Build();

        // Our P/Invoke and Confluent's binding report the same library version.
        var ours = Marshal.PtrToStringUTF8(RdKafkaNative.rd_kafka_version_str());
        Assert.Equal(Library.VersionString, ours);

        if (OperatingSystem.IsLinux())
        {
            // Exactly one librdkafka image is mapped into the process, and it is the one EnsureLoaded chose.
            var mapped = File.ReadLines("/proc/self/maps")
                .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(f => f.Length >= 6 && f[5].Contains("librdkafka", StringComparison.Ordinal))
                .Select(f => f[5])
                .Distinct()
                .ToList();
            Assert.Equal([path], mapped);
        }
    }

    [Fact]
    public void Missing_override_file_is_reported_with_the_path_and_the_variable()
    {
        var missing = Path.Combine(Path.GetTempPath(), "no-such-dir-" + Guid.NewGuid().ToString("N"), "librdkafka.so");

        var ex = Assert.Throws<FileNotFoundException>(
            () => LibrdkafkaLibrary.ResolvePath(missing, AppContext.BaseDirectory, isLinux: true, Architecture.X64));

        Assert.Contains(missing, ex.Message, StringComparison.Ordinal);
        Assert.Contains(LibrdkafkaLibrary.PathEnvironmentVariable, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_bundled_file_is_reported_with_the_searched_path_and_the_variable()
    {
        var emptyDir = Directory.CreateTempSubdirectory("cartrecovery-kafka-").FullName;
        try
        {
            var ex = Assert.Throws<FileNotFoundException>(
                () => LibrdkafkaLibrary.ResolvePath(null, emptyDir, isLinux: true, Architecture.X64));

            Assert.Contains(Path.Combine(emptyDir, "runtimes", "linux-x64", "native", "centos8-librdkafka.so"), ex.Message, StringComparison.Ordinal);
            Assert.Contains(LibrdkafkaLibrary.PathEnvironmentVariable, ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(emptyDir, recursive: true);
        }
    }

    [Fact]
    public void Override_wins_and_non_linux_defers_to_Confluent()
    {
        var file = Path.GetTempFileName();
        try
        {
            Assert.Equal(file, LibrdkafkaLibrary.ResolvePath(file, "/nowhere", isLinux: true, Architecture.X64));
            Assert.Equal(file, LibrdkafkaLibrary.ResolvePath(file, "/nowhere", isLinux: false, Architecture.Arm64));
            Assert.Null(LibrdkafkaLibrary.ResolvePath(null, "/nowhere", isLinux: false, Architecture.X64));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
