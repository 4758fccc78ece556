using System.CommandLine;
using System.Text;
using CartRecovery.Analytics;
using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Compliance;
using CartRecovery.Domain.Decisions;
using CartRecovery.Storage;
using CartRecovery.Streaming.Checkpointing;

namespace CartRecovery.Host.Commands;

/// <summary>
/// The operator's and auditor's compliance commands (docs/compliance.md): <c>erase</c>, <c>audit verify</c>,
/// <c>token verify</c>, <c>preview</c> and <c>consent</c>.
/// </summary>
public static class ComplianceCommands
{
    public static IEnumerable<Command> Create() => [Erase(), Audit(), Token(), Preview(), Consent(), Metrics()];

    private static Option<string> DataOption() =>
        new("--data") { Description = "Directory of the embedded ClickHouse store and checkpoints (a server: CARTRECOVERY_CLICKHOUSE_URL)", DefaultValueFactory = _ => "./data" };

    private static Command Erase()
    {
        var shopper = new Option<string>("--shopper") { Description = "The shopper id to erase", Required = true };
        var data = DataOption();
        var checkpointDb = new Option<string?>("--checkpoint-db") { Description = "SQLite checkpoint file (default: DATA/checkpoints.db)" };
        var postgres = new Option<string?>("--postgres") { Description = "PostgreSQL checkpoints (no password here: the Postgres configuration section holds it)" };
        var bootstrap = new Option<string?>("--bootstrap")
        {
            Description = "Running workers: publish an erasure_requested event to consent-events instead; the worker owning the shopper erases state, checkpoints and rows",
        };
        var source = new Option<string>("--source") { Description = "Where the request came from (a code)", DefaultValueFactory = _ => "operator" };
        var command = new Command("erase",
            "Erase a shopper's personal data: analytics rows pseudonymised or cleared, checkpoints rewritten, the erasure audited. " +
            "Stopped workers: run it against their --data / checkpoint store; running workers: --bootstrap");
        foreach (var option in new Option[] { shopper, data, checkpointDb, postgres, bootstrap, source }) command.Options.Add(option);
        command.SetAction(async (parse, ct) =>
        {
            var id = parse.GetValue(shopper)!;
            if (string.IsNullOrWhiteSpace(id)) throw new ArgumentException("--shopper must not be empty");
            var request = new ErasureRequested
            {
                // Deterministic per (shopper, minute): repeating the command by mistake is one request.
                EventId = "erasure-" + DeterministicId.From("operator-erasure", id, DateTimeOffset.UtcNow.ToString("yyyyMMddHHmm")),
                ShopperId = id,
                EventTime = DateTimeOffset.UtcNow,
                Source = FieldValues.Code(parse.GetValue(source)!) ?? throw new ArgumentException("--source must be a code such as operator or support"),
            };
            if (parse.GetValue(bootstrap) is { } servers)
            {
                CartRecovery.Kafka.Native.LibrdkafkaLibrary.EnsureLoaded();
                TrafficPublisher.PublishRaw(servers, [(Topics.ConsentEvents, id, ContractJson.SerializeEvent(request))]);
                Console.WriteLine($"erasure_requested {request.EventId} published to {Topics.ConsentEvents}; the worker owning the shopper erases it");
                return 0;
            }
            var keys = HostConfiguration.Current.ComplianceKeys();
            var pseudonyms = new ErasurePseudonyms(keys, id);
            var pseudonym = pseudonyms.Shopper;
            var directory = parse.GetValue(data)!;
            var checkpoints = WorkerRunner.CheckpointStore(directory, parse.GetValue(checkpointDb), WorkerRunner.PostgresFromCommandLine(parse.GetValue(postgres)));
            await using var store = AnalyticsStoreFactory.Open(directory);
            await store.EnsureSchemaAsync(ct);
            // Nothing names the id (a typo, a shopper this store never saw): say so and change nothing, no erasure audited.
            var found = await AnalyticsErasure.CountAsync(store, id, ct);
            var checkpointRows = await CheckpointErasure.CountRowsOfShopperAsync(checkpoints, id, ct);
            if (found.Total == 0 && checkpointRows == 0)
            {
                var earlier = await AnalyticsErasure.ErasuresOfAsync(store, pseudonym, ct);
                Console.Error.WriteLine(earlier > 0
                    ? $"nothing left to erase: no row or checkpoint names this shopper; erased before as {pseudonym} ({earlier} erasure(s) audited)"
                    : "unknown shopper: no row of the store and no checkpoint names this id; nothing erased");
                return earlier > 0 ? 0 : 1;
            }
            var state = await CheckpointErasure.EraseAsync(checkpoints, id, ct);
            var rows = await AnalyticsErasure.EraseAsync(store, id, pseudonym, pseudonyms.Session, ct);
            var replaced = await AnalyticsErasure.ReplacedPartsAsync(store, ct);
            var head = await ChainHeadAsync(store, pseudonym, ct);
            var scope = $"rows={rows.Total} checkpoints={state.SnapshotsRewritten + state.DeltasRewritten}";
            var audit = AuditChain.Link(head, Erasure.Audit(request, pseudonym, "operator", scope), pseudonym, keys);
            await store.InsertJsonEachRowAsync("audit_log", [ContractJson.Serialize(audit)], ct);
            await store.InsertJsonEachRowAsync("audit_chain_heads", [.. AuditChainAnchors.HeadsOf([audit], keys).Select(ContractJson.Serialize)], ct);
            var left = await AnalyticsErasure.CountAsync(store, id, ct);
            // The parts the mutations replaced still hold the rows as they were: the command returns once the engine has
            // removed them from disk (docs/compliance.md: about 30 s), so nothing of the shopper outlives the process.
            var purge = await AnalyticsErasure.PurgeAsync(store, replaced, ErasurePurgeTimeout, ct);
            Console.WriteLine($"erased shopper as {pseudonym}: {rows.Triggers} trigger, {rows.Audits} audit, {rows.Outcomes} outcome, {rows.OutcomeEvents} outcome-event and {rows.Profiles} profile rows; " +
                $"{state.SnapshotsRewritten} checkpoint snapshots and {state.DeltasRewritten} checkpoint deltas rewritten; " +
                $"left naming the id: {left.Total} rows, {state.RowsStillNaming} checkpoint rows; " +
                $"replaced parts left on disk: {purge.ReplacedPartsLeft} of {replaced.Count}, detached parts dropped: {purge.DetachedPartsDropped}");
            return left.Total == 0 && state.RowsStillNaming == 0 && purge.Complete ? 0 : 1;
        });
        return command;
    }

    /// <summary>How long <c>erase</c> waits for the engine to remove the parts the erasure replaced (docs/compliance.md).</summary>
    public static readonly TimeSpan ErasurePurgeTimeout = TimeSpan.FromMinutes(3);

    private static async Task<AuditChainHead?> ChainHeadAsync(IAnalyticsStore store, string pseudonym, CancellationToken ct)
    {
        var text = (await store.QueryAsync(
            $"SELECT chain_seq, chain_hash FROM audit_log FINAL WHERE shopper_pseudonym = {AnalyticsErasure.Quote(pseudonym)} ORDER BY chain_seq DESC LIMIT 1",
            "TabSeparated", ct)).Trim();
        if (text.Length == 0) return null;
        var parts = text.Split('\t');
        // The chain's root, as its anchor names it (empty for a chain anchored before roots were kept).
        var root = (await store.QueryAsync(
            $"SELECT chain_root FROM audit_chain_heads FINAL WHERE shopper_pseudonym = {AnalyticsErasure.Quote(pseudonym)} AND chain_hash = {AnalyticsErasure.Quote(parts[1])} LIMIT 1",
            "TabSeparated", ct)).Trim();
        return new AuditChainHead(long.Parse(parts[0]), parts[1], root);
    }

    private static Command Audit()
    {
        var data = DataOption();
        var verify = new Command("verify",
            "Recompute every audit chain, check each row's shopper and session against its pseudonyms and each chain against its anchored head; " +
            "report every missing, reordered, altered, moved or unanchored row and every deleted chain (exit 1 when any)");
        verify.Options.Add(data);
        verify.SetAction(async (parse, ct) =>
        {
            // The keys check that each row's ids are those its pseudonyms stand for, and the anchors' MACs.
            var keys = HostConfiguration.Current.ComplianceKeys();
            await using var store = AnalyticsStoreFactory.Open(parse.GetValue(data)!);
            await store.EnsureSchemaAsync(ct);
            var rows = await AuditRowsAsync(store, ct);
            var report = AuditChainVerifier.Verify(rows, await AnchoredHeadsAsync(store, ct), keys);
            foreach (var problem in report.Problems)
                Console.WriteLine($"{problem.Kind}\t{problem.Pseudonym}\tseq={problem.Seq}\taudit_id={problem.AuditId}\t{problem.Detail}");
            Console.WriteLine(report.Intact
                ? $"audit log intact: {report.Rows} rows in {report.Chains} chains"
                : $"audit log NOT intact: {report.Problems.Count} problems in {report.Rows} rows, {report.Chains} chains");
            return report.Intact ? 0 : 1;
        });
        var command = new Command("audit", "Audit log commands");
        command.Subcommands.Add(verify);
        return command;
    }

    /// <summary>Every audit row as stored (FINAL: one version per audit id), with times in ISO form for the contract's reader.</summary>
    public static async Task<List<AuditRecord>> AuditRowsAsync(IAnalyticsStore store, CancellationToken ct)
    {
        var text = await store.QueryAsync(
            "SELECT * FROM audit_log FINAL SETTINGS date_time_output_format = 'iso', output_format_json_quote_64bit_integers = 0", "JSONEachRow", ct);
        return [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => ContractJson.DeserializeAudit(Encoding.UTF8.GetBytes(line)))];
    }

    /// <summary>Every anchored chain head (FINAL: the newest per chain).</summary>
    public static async Task<List<AnchoredHead>> AnchoredHeadsAsync(IAnalyticsStore store, CancellationToken ct)
    {
        var text = await store.QueryAsync("SELECT * FROM audit_chain_heads FINAL SETTINGS output_format_json_quote_64bit_integers = 0", "JSONEachRow", ct);
        return [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => ContractJson.DeserializeAnchoredHead(Encoding.UTF8.GetBytes(line)))];
    }

    private static Command Token()
    {
        var token = new Argument<string>("token") { Description = "An unsubscribe or resume token from a trigger" };
        var verify = new Command("verify", $"Check a token with the configured key ({ComplianceKeys.TokenKeySetting}): authentic (exit 0) or not (exit 1), expired or valid, and what it is scoped to");
        verify.Arguments.Add(token);
        verify.SetAction(parse =>
        {
            var check = MessageTokens.Check(HostConfiguration.Current.ComplianceKeys(), parse.GetValue(token)!, TimeProvider.System.GetUtcNow());
            if (check.Claims is not { } claims)
            {
                Console.WriteLine("invalid: malformed, altered, or not issued with this key");
                return 1;
            }
            var expires = claims.ExpiresAt.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
            var state = check.Status == TokenStatus.Valid ? "valid" : "expired";
            Console.WriteLine(claims.Kind == TokenClaims.Unsubscribe
                ? $"{state} unsubscribe token: shopper={claims.ShopperId} purpose={claims.Purpose} channel={claims.Channel} trigger={claims.TriggerId} expires={expires}"
                : $"{state} resume token: shopper={claims.ShopperId} session={claims.SessionId} trigger={claims.TriggerId} step={claims.CheckoutStep} " +
                  $"lines={string.Join(',', claims.Lines.Select(l => $"{l.Sku}:{l.Quantity}"))} lines_omitted={claims.LinesOmitted} expires={expires}");
            // Exit 0 for an authentic token, expired or not (the line says which): the question is whether the product issued it.
            return 0;
        });
        var command = new Command("token", "Unsubscribe and resume-checkout tokens");
        command.Subcommands.Add(verify);
        return command;
    }

    private static Command Preview()
    {
        var data = DataOption();
        var trigger = new Option<string>("--trigger") { Description = "The trigger id", Required = true };
        var command = new Command("preview", "Print the message a trigger carries: channel, purpose and consent wording, links, subject and body");
        command.Options.Add(data);
        command.Options.Add(trigger);
        command.SetAction(async (parse, ct) =>
        {
            await using var store = AnalyticsStoreFactory.Open(parse.GetValue(data)!);
            var json = (await store.QueryAsync(
                $"SELECT * FROM recovery_triggers FINAL WHERE trigger_id = {AnalyticsErasure.Quote(parse.GetValue(trigger)!)} LIMIT 1 " +
                "SETTINGS date_time_output_format = 'iso', output_format_json_quote_64bit_integers = 0", "JSONEachRow", ct)).Trim();
            if (json.Length == 0)
            {
                Console.Error.WriteLine("no such trigger");
                return 1;
            }
            Console.Write(MessagePreview.Render(ContractJson.DeserializeTrigger(Encoding.UTF8.GetBytes(json))));
            return 0;
        });
        return command;
    }

    private static Command Metrics()
    {
        var data = DataOption();
        var policy = new Option<string?>("--policy") { Description = "Reference policy whose rules (quiet hours, caps, steps) the outputs are judged against; default: the built-in default" };
        var format = new Option<string>("--format") { Description = "table | tsv | json", DefaultValueFactory = _ => "table" };
        var command = new Command("compliance", "Compliance metrics by channel of origin: audit completeness per decision kind, incidents, opt-in and unsubscribe rates");
        foreach (var option in new Option[] { data, policy, format }) command.Options.Add(option);
        command.SetAction(async (parse, ct) =>
        {
            var outputFormat = parse.GetValue(format) switch
            {
                "table" => "PrettyCompactMonoBlock", "tsv" => "TabSeparatedWithNames", "json" => "JSONEachRow",
                var other => throw new ArgumentException($"--format: unknown format '{other}' (table, tsv, json)"),
            };
            var reference = WorkerRunner.LoadPolicy(parse.GetValue(policy), withKeys: false);
            await using var store = AnalyticsStoreFactory.Open(parse.GetValue(data)!);
            await store.EnsureSchemaAsync(ct);
            foreach (var query in ComplianceQueries.For(reference))
            {
                if (outputFormat != "JSONEachRow") Console.WriteLine($"{query.Name}: {query.Question}");
                Console.Write(await store.QueryAsync(query.Sql, outputFormat, ct));
            }
            return 0;
        });
        return command;
    }

    private static Command Consent()
    {
        var data = DataOption();
        var shopper = new Option<string>("--shopper") { Description = "The shopper id", Required = true };
        var at = new Option<string?>("--at") { Description = "The instant (ISO 8601 with offset); default: now" };
        var format = new Option<string>("--format") { Description = "table | tsv | json", DefaultValueFactory = _ => "table" };
        var command = new Command("consent", "The consent ledger: the consent in force for a shopper at an instant, per purpose and channel, with its evidence");
        foreach (var option in new Option[] { data, shopper, at, format }) command.Options.Add(option);
        command.SetAction(async (parse, ct) =>
        {
            var instant = parse.GetValue(at) is { } text
                ? DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var t) && text.Contains('T')
                    ? t : throw new ArgumentException("--at must be an ISO 8601 time with its offset, e.g. 2026-11-30T10:00:00Z")
                : DateTimeOffset.UtcNow;
            await using var store = AnalyticsStoreFactory.Open(parse.GetValue(data)!);
            await store.EnsureSchemaAsync(ct);
            var outputFormat = parse.GetValue(format) switch
            {
                "table" => "PrettyCompactMonoBlock", "tsv" => "TabSeparatedWithNames", "json" => "JSONEachRow",
                var other => throw new ArgumentException($"--format: unknown format '{other}' (table, tsv, json)"),
            };
            var shopperId = parse.GetValue(shopper)!;
            var ledger = await store.QueryAsync(ComplianceQueries.ConsentInForce(shopperId, instant), outputFormat, ct);
            if (!await ComplianceQueries.HasConsentRecordAsync(store, shopperId, ct))
            {
                // An empty table would read as "no consent", which an auditor could take for an answer: say that nothing
                // is recorded for the id at all (a typo, another store, or an erased shopper, whose rows carry a pseudonym).
                Console.Error.WriteLine($"consent: no consent record for this shopper in {parse.GetValue(data)} (no grant, withdrawal or unsubscribe " +
                    "at any time); check the id and --data (an erased shopper's records are under their pseudonym)");
                return 1;
            }
            Console.Write(ledger);
            return 0;
        });
        return command;
    }
}
