using System.Text;
using CartRecovery.Replay.Tests.Support;
using CartRecovery.Traffic.Import;
using Xunit.Abstractions;

namespace CartRecovery.Replay.Tests;

/// <summary>A replay of the same input under the same policy gives the same triggers and audit rows, byte for byte:
/// run twice, and run with the worker killed (SIGKILL) midway and restarted in the same consumer group.</summary>
public sealed class ReplayDeterminismTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    [Fact]
    public async Task Same_input_replayed_twice_gives_byte_identical_triggers_and_audit_rows()
    {
        var input = Inputs.WriteGeneratedNdjson(_temp.Sub("traffic.ndjson"), shoppers: 1500);
        var first = await ReplayAndExportAsync(input, _temp.Sub("first"));
        var second = await ReplayAndExportAsync(input, _temp.Sub("second"));

        Assert.True(Cli.Rows(first.Triggers).Length > 50, "the input should produce a fair number of triggers");
        Assert.Equal(first.Triggers, second.Triggers);
        Assert.Equal(first.Audit, second.Audit);
    }

    [Fact]
    public async Task Replay_with_the_worker_killed_midway_and_restarted_gives_byte_identical_triggers_and_audit_rows()
    {
        var input = Inputs.WriteGeneratedNdjson(_temp.Sub("traffic.ndjson"), shoppers: 6_000);
        var reference = await ReplayAndExportAsync(input, _temp.Sub("reference"));

        using var broker = Cli.Start("broker", "--partitions", "3");
        try
        {
            var first = await broker.StandardOutput.ReadLineAsync() ?? "";
            Assert.StartsWith("bootstrap=", first);
            var bootstrap = first["bootstrap=".Length..];
            Kafka.Native.LibrdkafkaLibrary.EnsureLoaded();
            var statistics = new ImportStatistics();
            Host.TrafficPublisher.Publish(bootstrap, ImportFormats.Read(input, ImportFormats.Ndjson, statistics));
            Assert.Empty(statistics.BadLines);

            var data = _temp.Sub("killed");
            string[] workerArgs = ["worker", "--bootstrap", bootstrap, "--data", data, "--drain", "--group", "replay-kill-test"];
            using (var worker = Cli.Start(workerArgs))
            {
                var log = new StringBuilder();
                var assigned = new TaskCompletionSource();
                worker.OutputDataReceived += (_, e) =>
                {
                    if (e.Data is null) return;
                    lock (log) log.AppendLine(e.Data);
                    if (e.Data.Contains("assigned", StringComparison.Ordinal)) assigned.TrySetResult();
                };
                worker.BeginOutputReadLine();
                await assigned.Task.WaitAsync(TimeSpan.FromMinutes(2));
                await Task.Delay(TimeSpan.FromSeconds(2));
                Assert.False(worker.HasExited, $"the worker finished before it could be killed midway; use a larger input:\n{log}");
                worker.Kill(); // SIGKILL: no graceful stop, no final commit
                await worker.WaitForExitAsync();
                output.WriteLine(log.ToString());
            }
            var restart = await Cli.RunOkAsync(TimeSpan.FromMinutes(10), workerArgs);
            output.WriteLine(restart.Stdout);

            var afterCrash = await Cli.ExportAsync(data);
            Assert.Equal(reference.Triggers, afterCrash.Triggers);
            Assert.Equal(reference.Audit, afterCrash.Audit);
        }
        finally
        {
            if (!broker.HasExited) broker.Kill();
        }
    }

    private async Task<(string Triggers, string Audit)> ReplayAndExportAsync(string input, string data)
    {
        var run = await Cli.RunOkAsync(TimeSpan.FromMinutes(10), "replay", "--input", input, "--format", "ndjson", "--data", data, "--partitions", "3");
        output.WriteLine(run.Stdout);
        return await Cli.ExportAsync(data);
    }

    public void Dispose() => _temp.Dispose();
}
