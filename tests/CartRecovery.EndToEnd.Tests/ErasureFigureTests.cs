using System.Text;
using CartRecovery.Analytics;
using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.State;
using CartRecovery.Host.Commands;
using CartRecovery.Kafka.Embedded;
using CartRecovery.Streaming.Checkpointing;
using K4os.Compression.LZ4;
using Xunit.Abstractions;

namespace CartRecovery.EndToEnd.Tests;

/// <summary>
/// Erasure keeps every figure and leaves no byte of the shopper on disk (issue 20), on the real parts: the embedded broker,
/// the worker CLI in its own process, chDB under --data, SQLite checkpoints. The erased shopper's id is a prefix of a
/// neighbour's (<c>X</c> next to <c>X0</c>, like <c>s1</c> next to <c>s10</c>); ids and the survey's free text carry random
/// letters found nowhere else, and every file under --data is read, LZ4 blocks of the part files decompressed.
/// </summary>
[Collection("processes")]
public sealed class ErasureFigureTests(ITestOutputHelper output) : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);
    private static readonly string Tag = RandomLetters();
    private static readonly string Erased = $"s1-{Tag}";
    private static readonly string Neighbour = Erased + "0";
    private static readonly string ErasedSession = $"sess-{Erased}-a";
    private static readonly string FreeText = $"my neighbour {RandomLetters()} at 5 Hidden Lane";
    private readonly string _data = Directory.CreateTempSubdirectory("cartrecovery-erasure-figures-").FullName;
    private readonly MockKafkaCluster _broker = EmbeddedBroker.Start(partitions: 3);

    [Fact]
    public async Task Cli_erase_keeps_every_figure_leaves_no_bytes_spares_the_longer_id_and_refuses_an_unknown_shopper()
    {
        var policyFile = await RunPipelineAsync("erase-cli");
        var before = await FiguresAsync(policyFile);
        await AssertErasedShopperWasRecoveredAsync();
        var neighbourRows = await RowsOfAsync(Neighbour);
        var checkpoints = CheckpointStoreSettings.Sqlite(Path.Combine(_data, "checkpoints.db"));

        // An id nobody has: said so, exit 1, nothing changed (no erasure audited).
        var unknown = await Cli.RunAsync(TimeSpan.FromMinutes(2), "erase", "--shopper", "no-such-" + Tag, "--data", _data);
        output.WriteLine(unknown.ToString());
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("unknown shopper", unknown.Stderr);
        Assert.Equal(before, await FiguresAsync(policyFile));
        Assert.Empty(Cli.Rows(await Cli.QueryTsvAsync(_data, "SELECT audit_id FROM audit_log FINAL WHERE decision = 'erased'")));

        var erase = await Cli.RunAsync(CartRecovery.Host.Commands.ComplianceCommands.ErasurePurgeTimeout + TimeSpan.FromMinutes(2), "erase", "--shopper", Erased, "--data", _data);
        output.WriteLine(erase.ToString());
        Assert.Equal(0, erase.ExitCode);
        Assert.Contains("left naming the id: 0 rows, 0 checkpoint rows", erase.Stdout);

        Assert.Equal(WithoutErasureRow(before), WithoutErasureRow(await FiguresAsync(policyFile)));
        // The longer id is untouched, in the store and in the checkpoints.
        Assert.Equal(neighbourRows, await RowsOfAsync(Neighbour));
        Assert.True(await CheckpointErasure.CountRowsOfShopperAsync(checkpoints, Neighbour, CancellationToken.None) > 0);
        // The analytics store and the checkpoint file (which erase vacuums).
        AssertNothingOnDisk(_data);
        await AssertAuditIntactAsync();
    }

    [Fact]
    public async Task Worker_erasure_of_rows_already_written_keeps_every_figure_and_leaves_no_bytes()
    {
        var group = "erase-worker-" + Guid.NewGuid().ToString("N")[..8];
        var policyFile = await RunPipelineAsync(group);
        var before = await FiguresAsync(policyFile);
        await AssertErasedShopperWasRecoveredAsync();

        // The request reaches the worker after the shopper's rows are written: the writer erases them in the store.
        var request = new ErasureRequested { EventId = "erase-" + Tag, ShopperId = Erased, EventTime = T0.AddDays(7), Source = "privacy_portal" };
        Host.TrafficPublisher.PublishRaw(_broker.BootstrapServers, [(Topics.ConsentEvents, Erased, ContractJson.SerializeEvent(request))]);
        // A worker that wrote an erasure waits at its stop, up to its own bound, for the engine to remove the replaced parts.
        var run = await Cli.RunAsync(CartRecovery.Streaming.Output.OutputWriter.ErasurePurgeTimeout + TimeSpan.FromMinutes(4), "worker", "--bootstrap", _broker.BootstrapServers, "--data", _data, "--drain", "--policy", policyFile, "--group", group);
        output.WriteLine(run.ToString());
        Assert.Equal(0, run.ExitCode);

        Assert.Single(Cli.Rows(await Cli.QueryTsvAsync(_data, "SELECT audit_id FROM audit_log FINAL WHERE decision = 'erased'")));
        Assert.Equal(WithoutErasureRow(before), WithoutErasureRow(await FiguresAsync(policyFile)));
        // The analytics store. (The worker's own checkpoint deletions leave SQLite free pages until a vacuum: not covered here.)
        AssertNothingOnDisk(Path.Combine(_data, "clickhouse"));
        await AssertAuditIntactAsync();
    }

    /// <summary>Every file under --data, raw and with its ClickHouse LZ4 blocks decompressed, holds neither the erased id
    /// (other than as the start of the neighbour's), nor its session id, nor the survey's free text.</summary>
    private void AssertNothingOnDisk(string root)
    {
        var files = Directory.GetFiles(root, "*", SearchOption.AllDirectories).Where(f => !f.EndsWith("policy.json")).ToList();
        Assert.Contains(files, f => f.EndsWith(".bin"));
        foreach (var file in files)
        {
            var raw = File.ReadAllBytes(file);
            foreach (var content in new[] { raw, Decompressed(raw) })
            {
                var text = Encoding.UTF8.GetString(content);
                Assert.False(text.Contains(FreeText.Split(' ')[2]), $"{file} holds the survey's free text");
                Assert.False(text.Contains(ErasedSession), $"{file} holds the erased session id");
                for (var at = text.IndexOf(Erased, StringComparison.Ordinal); at >= 0; at = text.IndexOf(Erased, at + 1, StringComparison.Ordinal))
                    Assert.True(at + Erased.Length < text.Length && text[at + Erased.Length] == '0', $"{file} holds the erased id");
            }
        }
    }

    /// <summary>The content of a ClickHouse compressed file: blocks of checksum (16 bytes), method, compressed size (with the
    /// 9-byte header), uncompressed size, payload. Stops at the first thing that is not such a block (other files).</summary>
    private static byte[] Decompressed(byte[] file)
    {
        using var result = new MemoryStream();
        for (var at = 0; at + 25 <= file.Length;)
        {
            var method = file[at + 16];
            var compressed = BitConverter.ToInt32(file, at + 17);
            var size = BitConverter.ToInt32(file, at + 21);
            if (compressed < 9 || size < 0 || at + 16 + compressed > file.Length || size > 256 << 20) break;
            if (method == 0x82)
            {
                var block = new byte[size];
                if (LZ4Codec.Decode(file, at + 25, compressed - 9, block, 0, size) != size) break;
                result.Write(block);
            }
            else if (method == 0x02) result.Write(file, at + 25, compressed - 9);
            else break;
            at += 16 + compressed;
        }
        return result.ToArray();
    }

    /// <summary>The figures the product reports, each query's whole result: the analyst queries (recovery, revenue, lift,
    /// funnels, engagement, chat, surveys), the compliance metrics and recovery_outcomes' totals.</summary>
    private async Task<Dictionary<string, string>> FiguresAsync(string policyFile)
    {
        if (Environment.GetEnvironmentVariable("CARTRECOVERY_CHDB_LIB") is not { Length: > 0 })
            Environment.SetEnvironmentVariable("CARTRECOVERY_CHDB_LIB", Path.Combine(Cli.RepoRoot, ".tools", "chdb", "libchdb.so"));
        var figures = new Dictionary<string, string>();
        await using var store = Host.AnalyticsStoreFactory.Open(_data);
        var queries = AnalystQueries.All.Concat(ComplianceQueries.For(PolicyFile.Parse(await File.ReadAllTextAsync(policyFile))))
            .Append(new AnalystQuery("outcome totals", "",
                "SELECT count(), sum(converted), sum(recovered), sum(revenue), sum(reminders_sent), sum(cart_value), countIf(holdout) FROM recovery_outcomes"))
;
        foreach (var query in queries) figures[query.Name] = await store.QueryAsync(query.Sql, "TabSeparatedWithNames", CancellationToken.None);
        output.WriteLine(figures["outcome totals"]);
        return figures;
    }

    /// <summary>The scenario gives the shopper to erase a recovered cart, with revenue, a reminder and a survey answer.</summary>
    private async Task AssertErasedShopperWasRecoveredAsync()
    {
        Assert.Equal(["1\t100\t2"], Cli.Rows(await Cli.QueryTsvAsync(_data,
            $"SELECT sum(recovered), sum(revenue), sum(reminders_sent) FROM recovery_outcomes WHERE shopper_id = '{Erased}'")));
        Assert.Equal([FreeText], Cli.Rows(await Cli.QueryTsvAsync(_data, $"SELECT free_text FROM outcome_events FINAL WHERE shopper_id = '{Erased}' AND free_text != 'fine'")));
    }

    /// <summary>The compliance completeness counts erasures too: that row gains the erasure itself, every other is equal.</summary>
    private static Dictionary<string, string> WithoutErasureRow(Dictionary<string, string> figures) => figures.ToDictionary(f => f.Key,
        f => string.Join('\n', f.Value.Split('\n').Where(line => !line.StartsWith("erasure\t"))));

    private async Task<string> RowsOfAsync(string shopper)
    {
        var rows = new StringBuilder();
        foreach (var table in new[] { "recovery_triggers", "audit_log", "session_outcomes", "outcome_events", "shopper_profiles" })
            rows.Append(await Cli.QueryTsvAsync(_data, $"SELECT * FROM {table} FINAL WHERE shopper_id = '{shopper}' ORDER BY ALL"));
        Assert.Contains($"sess-{shopper}-a", rows.ToString());
        return rows.ToString();
    }

    private async Task AssertAuditIntactAsync()
    {
        var verify = await Cli.RunAsync(TimeSpan.FromMinutes(2), "audit", "verify", "--data", _data);
        Assert.True(verify.ExitCode == 0, verify.ToString());
    }

    /// <summary>The erased shopper and the neighbour whose id starts with theirs: consent, a cart, reminders, a survey
    /// answer with free text, an order that recovers the cart; another shopper who never orders; a late visit that
    /// closes every window.</summary>
    private async Task<string> RunPipelineAsync(string group)
    {
        var version = PolicyFile.LoadDefault().Version;
        var events = new List<ShopperEvent>();
        // Event ids do not embed the shopper id: producers' event ids are kept as audit evidence (docs/compliance.md).
        foreach (var (shopper, value, e) in new[] { (Erased, 100m, "e1"), (Neighbour, 80m, "e2"), ("kept-" + Tag, 30m, "e3") })
        {
            var session = $"sess-{shopper}-a";
            events.Add(new ConsentGranted
            {
                EventId = $"{e}-consent", ShopperId = shopper, EventTime = T0.AddDays(-1), Purpose = "cart_recovery", Channel = "email",
                Source = "checkout_form", WordingVersion = "v3",
            });
            events.Add(new SessionStarted { EventId = $"{e}-start", ShopperId = shopper, SessionId = session, EventTime = T0, TimeZone = "UTC" });
            events.Add(new CartLineAdded
            {
                EventId = $"{e}-add", ShopperId = shopper, SessionId = session, EventTime = T0.AddMinutes(1),
                Line = new CartLine { Sku = "lamp", Name = "Lamp", UnitPrice = value, Quantity = 1 },
            });
            if (shopper.StartsWith("kept-")) continue;
            var step1 = RecoveryIds.Reminder(version, new SessionState
            {
                ShopperId = shopper, SessionId = session, OriginChannel = "web", Currency = "EUR", TimeZone = "UTC", StartedAt = T0, LastActivityAt = T0, Abandonments = 1,
            }, 1);
            events.Add(new MessageDelivered { EventId = $"{e}-delivered", ShopperId = shopper, SessionId = session, EventTime = T0.AddHours(3), TriggerId = step1, Channel = "email" });
            events.Add(new SurveyAnswered
            {
                EventId = $"{e}-survey", ShopperId = shopper, EventTime = T0.AddHours(4), TriggerId = step1, Reason = "Shipping_Cost",
                FreeText = shopper == Erased ? FreeText : "fine",
            });
            events.Add(new OrderPlaced { EventId = $"{e}-order", ShopperId = shopper, SessionId = session, EventTime = T0.AddHours(30), OrderId = $"o-{e}", Total = value });
        }
        events.Add(new SessionStarted { EventId = "late-start", ShopperId = "late-visitor", SessionId = "late-sess", EventTime = T0.AddDays(7), TimeZone = "UTC" });
        Host.TrafficPublisher.PublishRaw(_broker.BootstrapServers,
            [.. events.OrderBy(e => e.EventTime).Select(e => (InputTopic(e), (string?)e.ShopperId, ContractJson.SerializeEvent(e)))]);

        var policyFile = Path.Combine(_data, "policy.json");
        await File.WriteAllTextAsync(policyFile, PolicyFile.DefaultText().Replace("\"holdout_share\": 0.10", "\"holdout_share\": 0.0"));
        var run = await Cli.RunAsync(TimeSpan.FromMinutes(4), "worker", "--bootstrap", _broker.BootstrapServers, "--data", _data, "--drain", "--policy", policyFile, "--group", group);
        output.WriteLine(run.ToString());
        Assert.Equal(0, run.ExitCode);
        return policyFile;
    }

    private static string InputTopic(ShopperEvent e) => e switch
    {
        ConsentEvent or ErasureRequested => Topics.ConsentEvents,
        OutcomeEvent => Topics.OutcomeEvents,
        OrderPlaced or PaymentAuthorized => Topics.OrderEvents,
        _ => Topics.CartEvents,
    };

    /// <summary>Letters that are not hex digits, so no hash or pseudonym in the store can contain them by chance.</summary>
    private static string RandomLetters() => string.Concat(Enumerable.Range(0, 12).Select(_ => (char)('g' + Random.Shared.Next(20))));

    public void Dispose()
    {
        _broker.Dispose();
        try { Directory.Delete(_data, recursive: true); } catch (IOException) { }
    }
}
