using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using CartRecovery.Contracts;
using CartRecovery.Host;
using CartRecovery.Traffic;
using Xunit.Abstractions;

namespace CartRecovery.EndToEnd.Tests;

/// <summary>
/// What an operator sees of a running worker, black box (broker and worker are CLI processes): the lag gauge while a
/// backlog exists and once caught up, every metric the Grafana dashboard and the alert rules use on a real /metrics
/// scrape, JSON logs without personal data, the read-only analyst path, and configuration from the environment.
/// </summary>
[Collection("processes")]
public sealed partial class OperatorSurfaceTests(ITestOutputHelper output) : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("cartrecovery-operator-");
    private static readonly string Monitoring = Path.Combine(Cli.RepoRoot, "k8s", "monitoring");

    // Personal data planted in rejected records: it reaches the dead-letter topic and table, never a log line.
    private const string PlantedEmail = "jane.doe.planted@example.com";
    private const string PlantedPhone = "+49 151 23456789";
    private const string PlantedPayloadMarker = "planted-payload-7f3a";

    private string Dir(string name) => Path.Combine(_root.FullName, name);

    [Fact]
    public async Task Lag_is_non_zero_during_a_backlog_and_zero_once_caught_up_and_the_dashboard_and_alerts_use_only_exported_metrics()
    {
        using var broker = new BrokerProcess(partitions: 3);
        var settings = new SimulationSettings { Shoppers = 300, Seed = 77 };
        var events = StorefrontSimulator.Generate(settings).ToList();
        CartRecovery.Kafka.Native.LibrdkafkaLibrary.EnsureLoaded();
        TrafficPublisher.Publish(broker.Bootstrap, events);
        // A redelivered event (the newest one again, same event_id) and a copy of the oldest under a new id, far behind
        // the watermark by then, so the duplicate and late counters exist as well.
        var (oldest, newest) = (events[0], events[^1]);
        TrafficPublisher.Publish(broker.Bootstrap, [newest, oldest with { Event = oldest.Event with { EventId = "late-" + oldest.Event.EventId } }]);
        TrafficPublisher.PublishRaw(broker.Bootstrap, BadRecordsWithPersonalData());

        var port = FreePort();
        // Lag counts the records after the last committed checkpoint, so the backlog shows from the first fetch until
        // the first checkpoint after it was processed: at least the checkpoint interval, many lag reports (about one a
        // second) and scrapes, however fast this machine processes the input.
        using var worker = Cli.Start("worker", "--bootstrap", broker.Bootstrap, "--group", "operator", "--data", Dir("worker"), "--http-port",
            port.ToString(CultureInfo.InvariantCulture), "--Worker:CheckpointInterval=00:00:15", "--Logging:Console:FormatterName=json");
        var stdout = new SynchronizedLog();
        var stderr = new SynchronizedLog();
        worker.OutputDataReceived += (_, e) => stdout.Add(e.Data);
        worker.ErrorDataReceived += (_, e) => stderr.Add(e.Data);
        worker.BeginOutputReadLine();
        worker.BeginErrorReadLine();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };

        // While records wait, the gauge is above 0; caught up (every partition's lag 0 and nothing more being
        // processed over a few polls), it is 0 on every partition.
        var sawBacklog = false;
        Scrape last = Scrape.Empty;
        var done = new List<double>();
        await WaitForAsync(async () =>
        {
            last = await Scrape.ReadAsync(http, port);
            if (!last.Has("cartrecovery_consumer_lag")) return false;
            var lag = last.Sum("cartrecovery_consumer_lag");
            if (lag > 0)
            {
                if (!sawBacklog) output.WriteLine($"backlog seen: lag {lag}, {last.Sum("cartrecovery_events_consumed_total")} events processed so far");
                sawBacklog = true;
                done.Clear();
                return false;
            }
            done.Add(last.Sum("cartrecovery_events_consumed_total") + last.Sum("cartrecovery_dead_letters_total"));
            return sawBacklog && done.Count >= 15 && done[^1] == done[^15] && done[^1] >= events.Count / 2;
        }, worker, stdout, stderr, onTimeout: () => $"lag exported {last.Has("cartrecovery_consumer_lag")}, lag {last.Sum("cartrecovery_consumer_lag")}, " +
            $"backlog seen {sawBacklog}, {last.Sum("cartrecovery_events_consumed_total")} of {events.Count} events processed");
        output.WriteLine($"caught up: {last.Sum("cartrecovery_events_consumed_total")} events, {last.Sum("cartrecovery_dead_letters_total")} dead letters, lag 0");
        Assert.True(sawBacklog, "the lag gauge was never above 0 while records were waiting");
        // One series per partition this worker holds, each 0 now.
        Assert.Equal(3, last.Series("cartrecovery_consumer_lag").Count);
        Assert.All(last.Series("cartrecovery_consumer_lag"), s => Assert.Equal(0, s.Value));

        // Every metric the dashboard and the rules query, on the real endpoint (some appear only once their event happened).
        var used = MetricNamesUsed();
        Assert.Contains("cartrecovery_consumer_lag", used);
        Assert.Contains("cartrecovery_checkpoint_age_seconds", used);
        await WaitForAsync(async () =>
        {
            last = await Scrape.ReadAsync(http, port);
            return used.All(last.Has);
        }, worker, stdout, stderr, onTimeout: () => $"not exported: {string.Join(", ", used.Where(n => !last.Has(n)))}");
        Assert.All(last.Series("cartrecovery_checkpoint_age_seconds"), s => Assert.True(s.Value >= 0));
        Assert.Equal(3, last.Series("cartrecovery_watermark_delay_seconds").Count);
        Assert.Equal(1, last.Sum("cartrecovery_ready"));
        output.WriteLine($"dashboard and rules use {used.Count} metrics, all exported: {string.Join(", ", used)}");

        Process.Start("kill", ["-TERM", worker.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
        Assert.True(worker.WaitForExit(TimeSpan.FromMinutes(2)), $"the worker did not stop:\n{stdout}\n{stderr}");
        worker.WaitForExit();
        Assert.True(worker.ExitCode == 0, $"worker exit {worker.ExitCode}:\n{stdout}\n{stderr}");
        AssertNoPersonalData(stdout.ToString(), stderr.ToString(), events, expectJson: true);
    }

    [Fact]
    public async Task A_full_run_logs_no_personal_data_and_its_store_refuses_writes_through_query()
    {
        var settings = new SimulationSettings { Shoppers = 300, Seed = 42 };
        var run = await Cli.RunAsync(TimeSpan.FromMinutes(5), "--shoppers", "300", "--seed", "42", "--data", Dir("main"), "--Logging:Console:FormatterName=json");
        Assert.True(run.ExitCode == 0, run.ToString());
        AssertNoPersonalData(run.Stdout, run.Stderr, StorefrontSimulator.Generate(settings).ToList(), expectJson: true);

        const string count = "SELECT count() FROM audit_log";
        var before = Cli.Rows(await Cli.QueryTsvAsync(Dir("main"), count)).Single();
        Assert.NotEqual("0", before);
        foreach (var (sql, named) in new[]
        {
            ("ALTER TABLE audit_log DELETE WHERE 1", "ALTER"),
            ("/* looks harmless */ SELECT 1; DROP TABLE audit_log", "DROP"),
            ("-- a comment\nTRUNCATE TABLE audit_log", "TRUNCATE"),
            ("INSERT INTO audit_log SELECT * FROM audit_log", "INSERT"),
            ("OPTIMIZE TABLE audit_log FINAL", "OPTIMIZE"),
        })
        {
            var refused = await Cli.RunAsync(TimeSpan.FromMinutes(1), "query", "--data", Dir("main"), sql);
            Assert.True(refused.ExitCode != 0, $"{sql} was accepted: {refused}");
            Assert.Contains($"query refused: {named}", refused.Stderr);
        }
        // The engine refuses a write the statement check would miss: a setting that turns read-only off.
        var setting = await Cli.RunAsync(TimeSpan.FromMinutes(1), "query", "--data", Dir("main"), "SELECT count() FROM audit_log SETTINGS readonly = 0");
        Assert.True(setting.ExitCode != 0, setting.ToString());
        Assert.Contains("readonly", setting.Stderr);
        Assert.Equal(before, Cli.Rows(await Cli.QueryTsvAsync(Dir("main"), count)).Single());
        // Reads in every form still work.
        Assert.Equal(before, Cli.Rows(await Cli.QueryTsvAsync(Dir("main"), "-- total\nWITH (SELECT count() FROM audit_log) AS n SELECT n")).Single());
        Assert.Contains("audit_log", await Cli.QueryTsvAsync(Dir("main"), "SHOW TABLES"));
    }

    [Fact]
    public async Task Configuration_from_environment_and_settings_file_reaches_librdkafka_and_a_bad_value_stops_the_worker_before_it_consumes()
    {
        var settingsFile = Path.Combine(_root.FullName, "appsettings.json");
        await File.WriteAllTextAsync(settingsFile, """
            { "Kafka": { "BootstrapServers": "file-broker:9093", "ClientId": "from-file", "Producer": { "LingerMs": 20 } } }
            """);
        var passwordFile = Path.Combine(_root.FullName, "kafka-password");
        await File.WriteAllTextAsync(passwordFile, "pw-from-file\n");
        var shown = await Cli.RunAsync(TimeSpan.FromMinutes(1), new Dictionary<string, string?>
        {
            ["CARTRECOVERY_SETTINGS_FILE"] = settingsFile,
            ["CARTRECOVERY_Kafka__SecurityProtocol"] = "SaslSsl",
            ["CARTRECOVERY_Kafka__SaslMechanism"] = "SCRAM-SHA-256",
            ["CARTRECOVERY_Kafka__SaslUsername"] = "worker",
            ["CARTRECOVERY_Kafka__SaslPasswordFile"] = passwordFile,
            ["CARTRECOVERY_Kafka__SslCaLocation"] = settingsFile, // any existing file: librdkafka reads it only when connecting
            ["CARTRECOVERY_Kafka__ClientId"] = "from-env",
        }, "config");
        Assert.True(shown.ExitCode == 0, shown.ToString());
        foreach (var expected in new[]
        {
            "kafka.consumer.bootstrap.servers = file-broker:9093", "kafka.consumer.security.protocol = sasl_ssl", "kafka.consumer.sasl.mechanism = SCRAM-SHA-256",
            "kafka.consumer.sasl.username = worker", "kafka.consumer.sasl.password = ***", $"kafka.consumer.ssl.ca.location = {settingsFile}",
            "kafka.consumer.client.id = from-env", "kafka.producer.linger.ms = 20", "kafka.admin.security.protocol = sasl_ssl",
        })
            Assert.Contains(expected, shown.Stdout);
        Assert.DoesNotContain("pw-from-file", shown.Stdout + shown.Stderr);

        // A bad value: exit 2 naming the key, before the worker touches its data directory or the broker's group.
        using var broker = new BrokerProcess(partitions: 3);
        var data = Dir("never-created");
        var bad = await Cli.RunAsync(TimeSpan.FromMinutes(1), new Dictionary<string, string?> { ["CARTRECOVERY_Kafka__SecurityProtocol"] = "tls" },
            "worker", "--bootstrap", broker.Bootstrap, "--data", data, "--drain");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("Kafka:SecurityProtocol: 'tls' is not one of", bad.Stderr);
        Assert.False(Directory.Exists(data), "the worker created its data directory before refusing its configuration");
        var secret = await Cli.RunAsync(TimeSpan.FromMinutes(1), "worker", "--bootstrap", broker.Bootstrap, "--data", data, "--Kafka:SaslPassword=on-the-command-line");
        Assert.Equal(2, secret.ExitCode);
        Assert.Contains("Kafka:SaslPassword: secrets are not accepted on the command line", secret.Stderr);
        Assert.DoesNotContain("on-the-command-line", secret.Stderr);
    }

    private static List<(string Topic, string? Key, byte[] Value)> BadRecordsWithPersonalData() =>
    [
        (Topics.CartEvents, "bad-1", Encoding.UTF8.GetBytes($"{{\"event_type\":\"cart_line_added\",\"email\":\"{PlantedEmail}\",\"phone\":\"{PlantedPhone}\",\"note\":\"{PlantedPayloadMarker}\"")),
        (Topics.ConsentEvents, "bad-2", Encoding.UTF8.GetBytes($"{{\"event_type\":\"consent_granted\",\"event_id\":\"{PlantedPayloadMarker}\",\"shopper_id\":\"{PlantedEmail}\",\"channel\":\"carrier-pigeon\",\"phone\":\"{PlantedPhone}\"}}")),
    ];

    /// <summary>No line names a shopper, carries an email address, a phone number or an event payload; with JSON logs
    /// every log line on stdout is one JSON object.</summary>
    private void AssertNoPersonalData(string stdout, string stderr, IReadOnlyList<GeneratedEvent> events, bool expectJson)
    {
        var shoppers = events.Select(e => e.Event.ShopperId).ToHashSet(StringComparer.Ordinal);
        var sessions = events.Select(e => e.Event).OfType<CartRecovery.Contracts.Events.SessionEvent>().Select(e => e.SessionId).ToHashSet(StringComparer.Ordinal);
        var lines = (stdout + "\n" + stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var logLines = 0;
        foreach (var line in lines)
        {
            if (line.StartsWith('{'))
            {
                logLines++;
                using var _ = JsonDocument.Parse(line); // one complete JSON object per log line
            }
            foreach (Match token in IdLike().Matches(line))
            {
                Assert.False(shoppers.Contains(token.Value), $"a shopper id in the output: {line}");
                Assert.False(sessions.Contains(token.Value), $"a session id in the output: {line}");
            }
            Assert.False(Email().IsMatch(line), $"an email address in the output: {line}");
            Assert.False(line.Contains(PlantedPhone, StringComparison.Ordinal) || Phone().IsMatch(line), $"a phone number in the output: {line}");
            Assert.DoesNotContain(PlantedPayloadMarker, line);
            Assert.DoesNotContain("\"event_type\"", line);
            Assert.DoesNotContain("\\u0022event_type", line);
        }
        if (expectJson) Assert.True(logLines > 0, $"no JSON log line in the output:\n{stdout}");
        output.WriteLine($"{lines.Length} output lines ({logLines} JSON log lines) checked against {shoppers.Count} shopper ids and {sessions.Count} session ids");
    }

    private static IReadOnlySet<string> MetricNamesUsed()
    {
        var text = File.ReadAllText(Path.Combine(Monitoring, "grafana-dashboard.json")) + "\n" + File.ReadAllText(Path.Combine(Monitoring, "prometheus-rules.yaml"));
        return MetricName().Matches(text).Select(m => m.Value).ToHashSet(StringComparer.Ordinal);
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition, Process worker, SynchronizedLog stdout, SynchronizedLog stderr, Func<string>? onTimeout = null)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.False(worker.HasExited, $"the worker exited {(worker.HasExited ? worker.ExitCode : 0)}:\n{stdout}\n{stderr}");
            if (clock.Elapsed > TimeSpan.FromMinutes(4))
                throw new TimeoutException($"the worker did not get there: {onTimeout?.Invoke()}\n{stdout}\n{stderr}");
            await Task.Delay(200);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>One read of the worker's Prometheus text: series by exposition name (what dashboards query).</summary>
    private sealed partial record Scrape(IReadOnlyList<(string Name, string Labels, double Value)> Samples)
    {
        public static readonly Scrape Empty = new([]);

        public static async Task<Scrape> ReadAsync(HttpClient http, int port)
        {
            string text;
            try
            {
                text = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");
            }
            catch (HttpRequestException)
            {
                return Empty;
            }
            return new([.. Sample().Matches(text).Select(m => (m.Groups["name"].Value, m.Groups["labels"].Value,
                double.Parse(m.Groups["value"].Value, NumberStyles.Float, CultureInfo.InvariantCulture)))]);
        }

        public bool Has(string name) => Samples.Any(s => s.Name == name);

        public double Sum(string name) => Samples.Where(s => s.Name == name).Sum(s => s.Value);

        public List<(string Name, string Labels, double Value)> Series(string name) => [.. Samples.Where(s => s.Name == name)];

        [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?<labels>\{[^}]*\})? (?<value>\S+)", RegexOptions.Multiline)]
        private static partial Regex Sample();
    }

    [GeneratedRegex(@"\bcartrecovery_[a-z_]+[a-z]")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"[A-Za-z0-9][A-Za-z0-9_-]*[A-Za-z0-9]")]
    private static partial Regex IdLike();

    [GeneratedRegex(@"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")]
    private static partial Regex Email();

    // An international or long local number (digits with optional spaces or dashes), not a timestamp or an offset list.
    [GeneratedRegex(@"\+\d[\d \-]{7,}\d")]
    private static partial Regex Phone();

    public void Dispose()
    {
        try { _root.Delete(recursive: true); } catch (IOException) { }
    }
}
