using System.Text;
using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Compliance;
using CartRecovery.Domain.Policy;
using CartRecovery.Host.Commands;
using CartRecovery.Kafka.Embedded;
using CartRecovery.Streaming.Checkpointing;
using CartRecovery.Streaming.Output;
using Xunit.Abstractions;

namespace CartRecovery.EndToEnd.Tests;

/// <summary>
/// Erasure and the tamper-evident audit log on the real parts: the embedded broker, the worker CLI in its own process,
/// chDB under --data, checkpoints in SQLite or PostgreSQL (CARTRECOVERY_TEST_POSTGRES), read back through the CLI.
/// </summary>
[Collection("processes")]
public sealed class ComplianceTests(ITestOutputHelper output) : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);
    private const string Erased = "erased-shopper-7731";
    private static readonly DateTimeOffset ErasedAt = T0.AddHours(5);
    private static readonly string[] CartContents = ["SKU-SECRET-1", "Secret Widget"];
    private readonly string _data = Directory.CreateTempSubdirectory("cartrecovery-compliance-").FullName;
    private readonly MockKafkaCluster _broker = EmbeddedBroker.Start(partitions: 3);

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Erasure_mid_stream_leaves_no_trace_in_tables_checkpoints_or_state_and_later_events_start_from_nothing(string store)
    {
        var checkpointArgs = store == "sqlite" ? [] : new[] { "--postgres", Postgres() };
        var checkpoints = store == "sqlite"
            ? CheckpointStoreSettings.Sqlite(Path.Combine(_data, "checkpoints.db"))
            : CheckpointStoreSettings.PostgreSql(Postgres());
        await RunPipelineAsync(checkpointArgs, group: "erasure-" + Guid.NewGuid().ToString("N")[..8]);
        var pseudonym = ComplianceKeys.Development.Pseudonym(Erased);

        // Every table, every row version (no FINAL): nothing from before the erasure names the shopper or the cart.
        foreach (var (table, rows) in await AllRowsAsync())
        {
            foreach (var leak in rows.Where(row => CartContents.Any(row.Contains))) output.WriteLine($"{table} still holds the cart: {leak}");
            Assert.DoesNotContain(rows, row => CartContents.Any(row.Contains));
            // Rows that name the id again are the shopper's new visit after the erasure, which started from nothing (its
            // profile, too, knows the shopper only from then on).
            Assert.All(rows.Where(row => row.Contains(Erased)), row =>
                Assert.True(row.Contains("e-after") || (table == "shopper_profiles" && FirstSeen(row) >= ErasedAt), $"{table}: {row}"));
            output.WriteLine($"{table}: {rows.Count} rows, {rows.Count(r => r.Contains(pseudonym))} under the pseudonym");
        }
        // The decisions stay countable under the pseudonym; the message lost what was personal.
        Assert.Equal([$"{pseudonym}\treminder\t1\t0\t0\t0"], Cli.Rows(await Cli.QueryTsvAsync(_data,
            "SELECT shopper_id, kind, step, length(cart_lines), length(unsubscribe_token), length(message_body) FROM recovery_triggers FINAL " +
            $"WHERE shopper_id = '{pseudonym}'")));
        Assert.Equal([$"{pseudonym}\terasure_requested\te-erase"], Cli.Rows(await Cli.QueryTsvAsync(_data,
            "SELECT shopper_id, reason, arrayStringConcat(evidence, ',') FROM audit_log FINAL WHERE decision = 'erased'")));
        // Later events start from nothing: the consent given before the erasure is gone, so the new cart gets no message.
        Assert.Equal(["no_consent", "no_consent"], Cli.Rows(await Cli.QueryTsvAsync(_data,
            $"SELECT reason FROM audit_log FINAL WHERE shopper_id = '{Erased}' AND decision = 'suppressed' ORDER BY step")));
        Assert.Equal(2, Cli.Rows(await Cli.QueryTsvAsync(_data, "SELECT trigger_id FROM recovery_triggers FINAL WHERE shopper_id = 'kept-shopper'")).Length);

        // The worker's state as checkpointed (every snapshot row, and the journal) holds nothing from before the erasure.
        foreach (var needle in CartContents.Append("e-before").Append("e-consent"))
            Assert.Equal(0, await CheckpointErasure.CountRowsNamingAsync(checkpoints, needle, CancellationToken.None));
        Assert.True(await CheckpointErasure.CountRowsNamingAsync(checkpoints, Erased, CancellationToken.None) > 0, "the new visit's state is checkpointed");
        await AssertAuditIntactAsync();

        // The operator's erase (offline, the worker stopped) then removes the new visit too, and vacuums the store.
        // The command returns once the engine's cleanup removed the replaced parts, which it waits for up to its own bound
        // (slow on a loaded machine): the test allows that bound and the command's own work.
        var erase = await Cli.RunAsync(ComplianceCommands.ErasurePurgeTimeout + TimeSpan.FromMinutes(2), ["erase", "--shopper", Erased, "--data", _data, .. checkpointArgs]);
        output.WriteLine(erase.ToString());
        Assert.Equal(0, erase.ExitCode);
        foreach (var (_, rows) in await AllRowsAsync()) Assert.DoesNotContain(rows, row => row.Contains(Erased));
        Assert.Equal(0, await CheckpointErasure.CountRowsNamingAsync(checkpoints, Erased, CancellationToken.None));
        if (store == "sqlite")
            foreach (var file in Directory.GetFiles(_data, "checkpoints.db*"))
            {
                var bytes = await File.ReadAllBytesAsync(file);
                foreach (var needle in CartContents.Append(Erased))
                    Assert.True(bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(needle)) < 0, $"{Path.GetFileName(file)} still holds '{needle}'");
            }
        Assert.Equal(2, Cli.Rows(await Cli.QueryTsvAsync(_data, "SELECT audit_id FROM audit_log FINAL WHERE decision = 'erased'")).Length);
        await AssertAuditIntactAsync();
    }

    [Fact]
    public async Task Audit_verify_reports_deleted_altered_and_reordered_rows()
    {
        await RunPipelineAsync([], group: "audit-" + Guid.NewGuid().ToString("N")[..8]);
        await AssertAuditIntactAsync();
        // The control shopper's chain: consent, abandonment, step 1, step 2.
        var chain = Cli.Rows(await Cli.QueryTsvAsync(_data,
            "SELECT audit_id, chain_seq FROM audit_log FINAL WHERE shopper_id = 'kept-shopper' ORDER BY chain_seq")).Select(r => r.Split('\t')).ToList();
        Assert.True(chain.Count >= 4, $"chain of {chain.Count} rows");
        string Id(int i) => chain[i][0];

        await Tamper($"ALTER TABLE audit_log DELETE WHERE audit_id = '{Id(1)}' SETTINGS mutations_sync = 2");
        await Tamper($"ALTER TABLE audit_log UPDATE detail = 'nothing to see' WHERE audit_id = '{Id(3)}' SETTINGS mutations_sync = 2");
        // Another shopper's two rows swap places in the sequence.
        var other = Cli.Rows(await Cli.QueryTsvAsync(_data,
            $"SELECT audit_id FROM audit_log FINAL WHERE shopper_id = 'other-shopper' ORDER BY chain_seq")).ToList();
        Assert.True(other.Count >= 3);
        await Tamper($"ALTER TABLE audit_log UPDATE chain_seq = if(audit_id = '{other[1]}', 3, 2) WHERE audit_id IN ('{other[1]}', '{other[2]}') SETTINGS mutations_sync = 2");

        var verify = await Cli.RunAsync(TimeSpan.FromMinutes(2), "audit", "verify", "--data", _data);
        output.WriteLine(verify.ToString());
        Assert.Equal(1, verify.ExitCode);
        var problems = verify.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.Contains("audit_id=")).ToList();
        Assert.Contains(problems, p => p.StartsWith("missing") && p.Contains($"audit_id={Id(2)}"));
        Assert.Contains(problems, p => p.StartsWith("altered") && p.Contains($"audit_id={Id(3)}"));
        Assert.Contains(problems, p => p.StartsWith("reordered") && (p.Contains($"audit_id={other[1]}") || p.Contains($"audit_id={other[2]}")));
        // Nothing else is reported: the break shows at the tampered rows and the row right after the swap, other chains are intact.
        string[] expected = [Id(2), Id(3), other[1], other[2], .. other.Skip(3).Take(1)];
        Assert.All(problems, p => Assert.True(expected.Any(p.Contains), p));
    }

    [Fact]
    public async Task Audit_verify_reports_moved_rows_a_changed_session_or_factor_and_a_deleted_chain()
    {
        await RunPipelineAsync([], group: "audit-moved-" + Guid.NewGuid().ToString("N")[..8]);
        await AssertAuditIntactAsync();
        var kept = Cli.Rows(await Cli.QueryTsvAsync(_data,
            "SELECT audit_id, decision, session_id FROM audit_log FINAL WHERE shopper_id = 'kept-shopper' ORDER BY chain_seq")).Select(r => r.Split('\t')).ToList();
        var consent = kept.Where(r => r[1] == "consent_changed").Select(r => r[0]).ToList();
        var inSession = kept.Where(r => r[2] == "k-sess").Select(r => r[0]).ToList();
        Assert.NotEmpty(consent);
        Assert.True(inSession.Count >= 2, $"{inSession.Count} rows in the session");
        var deletedChain = ComplianceKeys.Development.Pseudonym("other-shopper");
        Assert.NotEmpty(Cli.Rows(await Cli.QueryTsvAsync(_data, $"SELECT audit_id FROM audit_log FINAL WHERE shopper_pseudonym = '{deletedChain}'")));

        // The tester's case: the consent rows moved to an invented shopper (who would then have a grant in force).
        await Tamper("ALTER TABLE audit_log UPDATE shopper_id = 'invented-shopper' WHERE shopper_id = 'kept-shopper' AND decision = 'consent_changed' SETTINGS mutations_sync = 2");
        await Tamper($"ALTER TABLE audit_log UPDATE session_id = 'k-elsewhere' WHERE audit_id = '{inSession[0]}' SETTINGS mutations_sync = 2");
        await Tamper($"ALTER TABLE audit_log UPDATE top_factors = arrayPushBack(top_factors, 'forged_factor') WHERE audit_id = '{inSession[1]}' SETTINGS mutations_sync = 2");
        // A whole chain deleted.
        await Tamper($"ALTER TABLE audit_log DELETE WHERE shopper_pseudonym = '{deletedChain}' SETTINGS mutations_sync = 2");

        var verify = await Cli.RunAsync(TimeSpan.FromMinutes(2), "audit", "verify", "--data", _data);
        output.WriteLine(verify.ToString());
        Assert.Equal(1, verify.ExitCode);
        var problems = verify.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.Contains("seq=")).ToList();
        Assert.All(consent, id => Assert.Contains(problems, p => p.StartsWith("moved") && p.Contains($"audit_id={id}")));
        Assert.Contains(problems, p => p.StartsWith("moved") && p.Contains($"audit_id={inSession[0]}") && p.Contains("session_id"));
        Assert.Contains(problems, p => p.StartsWith("altered") && p.Contains($"audit_id={inSession[1]}"));
        Assert.Contains(problems, p => p.StartsWith("head_missing") && p.Contains(deletedChain) && p.Contains("deleted"));
    }

    [Fact]
    public async Task Consent_of_a_shopper_without_any_record_says_so_and_fails_and_run_sh_prints_no_chdb_install_line()
    {
        await RunPipelineAsync([], group: "consent-" + Guid.NewGuid().ToString("N")[..8]);

        // Through run.sh, as an operator types it: with chDB installed, nothing about installing it is printed.
        var known = await RunShAsync("consent", "--data", _data, "--shopper", "kept-shopper", "--at", T0.ToString("O"), "--format", "tsv");
        output.WriteLine(known.ToString());
        Assert.Equal(0, known.ExitCode);
        Assert.Contains("k-consent", known.Stdout);
        Assert.Equal("", known.Stderr);

        var unknown = await RunShAsync("consent", "--data", _data, "--shopper", "no-such-shopper", "--format", "tsv");
        output.WriteLine(unknown.ToString());
        Assert.Equal(1, unknown.ExitCode);
        Assert.Equal("", unknown.Stdout);
        Assert.Contains("consent: no consent record for this shopper", unknown.Stderr);
        Assert.DoesNotContain("install-chdb", unknown.Stderr);
        Assert.DoesNotContain("libchdb.so", unknown.Stderr);
    }

    private static async Task<Cli.Result> RunShAsync(params string[] args)
    {
        var info = new System.Diagnostics.ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(Cli.RepoRoot, "run.sh"));
        foreach (var arg in args) info.ArgumentList.Add(arg);
        info.Environment.Remove("CARTRECOVERY_CLICKHOUSE_URL");
        using var process = System.Diagnostics.Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"run.sh {string.Join(' ', args)} did not finish in 4 minutes");
        }
        return new Cli.Result(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>What an intruder with write access to the store would do (the CLI's query path is read-only): opened in this
    /// process and closed again, so the next CLI process can own the directory.</summary>
    private async Task Tamper(string sql)
    {
        if (Environment.GetEnvironmentVariable("CARTRECOVERY_CHDB_LIB") is not { Length: > 0 })
            Environment.SetEnvironmentVariable("CARTRECOVERY_CHDB_LIB", Path.Combine(Cli.RepoRoot, ".tools", "chdb", "libchdb.so"));
        await using var store = Host.AnalyticsStoreFactory.Open(_data);
        await store.QueryAsync(sql, "TabSeparated", CancellationToken.None);
    }

    private async Task AssertAuditIntactAsync()
    {
        var verify = await Cli.RunAsync(TimeSpan.FromMinutes(2), "audit", "verify", "--data", _data);
        Assert.True(verify.ExitCode == 0, verify.ToString());
        Assert.Contains("audit log intact", verify.Stdout);
    }

    /// <summary>The scripted stream: the shopper to be erased (consent, a cart, a reminder, the erasure request, then a new
    /// visit), a control shopper with the same story minus the erasure, and one more shopper for chain tampering.</summary>
    private async Task RunPipelineAsync(string[] checkpointArgs, string group)
    {
        var events = new List<ShopperEvent>();
        events.Add(Grant(Erased, "e-consent", T0.AddDays(-1)));
        events.AddRange(Session(Erased, "e-before", T0, "e-b", ("SKU-SECRET-1", "Secret Widget", 42m)));
        events.Add(new ErasureRequested { EventId = "e-erase", ShopperId = Erased, EventTime = ErasedAt, Source = "privacy_portal" });
        events.AddRange(Session(Erased, "e-after", T0.AddDays(2), "e-a", ("SKU-AFTER", "After Item", 10m)));
        events.Add(Grant("kept-shopper", "k-consent", T0.AddDays(-1)));
        events.AddRange(Session("kept-shopper", "k-sess", T0, "k", ("SKU-KEPT", "Kept Item", 30m)));
        events.Add(Grant("other-shopper", "o-consent", T0.AddDays(-1)));
        events.AddRange(Session("other-shopper", "o-sess", T0.AddMinutes(3), "o", ("SKU-OTHER", "Other Item", 25m)));
        events.AddRange(Session("late-visitor", "l-sess", T0.AddDays(5), "l"));
        Host.TrafficPublisher.PublishRaw(_broker.BootstrapServers,
            [.. events.OrderBy(e => e.EventTime).Select(e => (e is ConsentEvent or ErasureRequested ? Topics.ConsentEvents : Topics.CartEvents, (string?)e.ShopperId, ContractJson.SerializeEvent(e)))]);

        var policyFile = Path.Combine(_data, "policy.json");
        await File.WriteAllTextAsync(policyFile, PolicyFile.DefaultText().Replace("\"holdout_share\": 0.10", "\"holdout_share\": 0.0"));
        // A worker that wrote an erasure waits at its stop, up to its own bound, for the engine to remove the replaced parts.
        var run = await Cli.RunAsync(OutputWriter.ErasurePurgeTimeout + TimeSpan.FromMinutes(4),
            ["worker", "--bootstrap", _broker.BootstrapServers, "--data", _data, "--drain", "--policy", policyFile, "--group", group, .. checkpointArgs]);
        output.WriteLine(run.ToString());
        Assert.Equal(0, run.ExitCode);
    }

    private static DateTimeOffset FirstSeen(string profileRow) =>
        DateTimeOffset.Parse(System.Text.Json.JsonDocument.Parse(profileRow).RootElement.GetProperty("first_seen").GetString()!,
            System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal);

    private async Task<List<(string Table, List<string> Rows)>> AllRowsAsync()
    {
        var tables = Cli.Rows(await Cli.QueryTsvAsync(_data, "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree'"));
        Assert.Contains("audit_log", tables);
        var all = new List<(string, List<string>)>();
        foreach (var table in tables)
        {
            var dump = await Cli.RunOkAsync(TimeSpan.FromMinutes(2), "query", "--data", _data, "--format", "json", $"SELECT * FROM {table}");
            all.Add((table, dump.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList()));
        }
        return all;
    }

    private static ConsentGranted Grant(string shopper, string id, DateTimeOffset at) => new()
    {
        EventId = id, ShopperId = shopper, EventTime = at, Purpose = "cart_recovery", Channel = "email", Source = "checkout_form", WordingVersion = "w-7",
    };

    private static IEnumerable<ShopperEvent> Session(string shopper, string session, DateTimeOffset start, string idPrefix, params (string Sku, string Name, decimal Price)[] cart)
    {
        yield return new SessionStarted { EventId = $"{idPrefix}-start", ShopperId = shopper, SessionId = session, EventTime = start, TimeZone = "UTC" };
        var minute = 1;
        foreach (var (sku, name, price) in cart)
            yield return new CartLineAdded
            {
                EventId = $"{idPrefix}-add-{minute}", ShopperId = shopper, SessionId = session, EventTime = start.AddMinutes(minute++),
                Line = new CartLine { Sku = sku, Name = name, UnitPrice = price, Quantity = 1 },
            };
    }

    private static string Postgres() => Environment.GetEnvironmentVariable("CARTRECOVERY_TEST_POSTGRES") is { Length: > 0 } pg
        ? pg : throw new InvalidOperationException("CARTRECOVERY_TEST_POSTGRES is not set: run the tests through ./test.sh");

    public void Dispose()
    {
        _broker.Dispose();
        try { Directory.Delete(_data, recursive: true); } catch (IOException) { }
    }
}
