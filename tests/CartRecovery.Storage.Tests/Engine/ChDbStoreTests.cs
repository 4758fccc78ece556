using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Storage.Embedded;
using CartRecovery.Storage.Schema;
using CartRecovery.Storage.Tests.Contract;
using Xunit.Abstractions;

namespace CartRecovery.Storage.Tests.Engine;

/// <summary>The chDB store beyond the shared contract: batching, cancellation, schema/contract agreement, speed.</summary>
[Collection(ChDbCollection.Name)]
public sealed class ChDbStoreTests(ChDbEngineFixture fixture, ITestOutputHelper output)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);

    private async Task<ChDbAnalyticsStore> FreshStoreAsync(int rowsPerStatement = ChDbAnalyticsStore.RowsPerStatement)
    {
        var store = new ChDbAnalyticsStore(fixture.Engine, new AnalyticsStoreOptions { Database = "store_" + Guid.NewGuid().ToString("N")[..12], SetsRetention = true }, ownsEngine: false)
        {
            MaxRowsPerStatement = rowsPerStatement,
        };
        await store.EnsureSchemaAsync(CancellationToken.None);
        return store;
    }

    [Fact]
    public async Task Schema_statements_create_the_tables_and_the_view_with_ttl_and_replacing_engines()
    {
        await using var store = await FreshStoreAsync();
        await store.EnsureSchemaAsync(CancellationToken.None); // a second time: no error, nothing changes

        var tables = await store.QueryAsync(
            "SELECT name, engine FROM system.tables WHERE database = currentDatabase() ORDER BY name", "TabSeparated", CancellationToken.None);
        Assert.Equal(
            "audit_chain_heads\tReplacingMergeTree\naudit_log\tReplacingMergeTree\nconsent_ledger\tView\ndead_letters\tReplacingMergeTree\noutcome_events\tReplacingMergeTree\nrecovery_outcomes\tView\n" +
            "recovery_triggers\tReplacingMergeTree\nsession_outcomes\tReplacingMergeTree\nshopper_profiles\tReplacingMergeTree\n",
            tables);
        foreach (var (table, days) in new[] { ("recovery_triggers", 400), ("audit_log", 400), ("session_outcomes", 400), ("dead_letters", 30), ("outcome_events", 400), ("shopper_profiles", 400) })
        {
            var ddl = await store.QueryAsync($"SELECT create_table_query FROM system.tables WHERE database = currentDatabase() AND name = '{table}'", "TSVRaw", CancellationToken.None);
            Assert.Contains("TTL written_at + ", ddl);
            Assert.Contains($"toIntervalDay({days})", ddl);
        }
    }

    [Fact]
    public async Task A_changed_retention_reaches_existing_tables_and_forever_removes_the_ttl()
    {
        string database;
        await using (var store = await FreshStoreAsync())
            database = store.Database;
        var options = SchemaRetention.Parse("audit_log=730,dead_letters=forever", SchemaOptions.Default);
        static string DdlOf(IAnalyticsStore store, string table) => store.QueryAsync($"SELECT create_table_query FROM system.tables WHERE database = currentDatabase() AND name = '{table}'",
            "TSVRaw", CancellationToken.None).Result;
        // A command that only reads, reports or erases opens the store with whatever retention it was configured with and
        // changes none: the store's owner sets it.
        await using (var reader = new ChDbAnalyticsStore(fixture.Engine, new AnalyticsStoreOptions { Database = database, Schema = SchemaOptions.KeepForever }, ownsEngine: false))
        {
            await reader.EnsureSchemaAsync(CancellationToken.None);
            Assert.Contains("toIntervalDay(30)", DdlOf(reader, "dead_letters"));
        }
        await using var reopened = new ChDbAnalyticsStore(fixture.Engine, new AnalyticsStoreOptions { Database = database, Schema = options, SetsRetention = true }, ownsEngine: false);
        await reopened.EnsureSchemaAsync(CancellationToken.None);
        string Ddl(string table) => DdlOf(reopened, table);
        Assert.Contains("toIntervalDay(730)", Ddl("audit_log"));
        Assert.DoesNotContain("TTL", Ddl("dead_letters"));
        Assert.Contains("toIntervalDay(400)", Ddl("recovery_triggers"));
    }

    [Fact]
    public async Task Every_field_the_contracts_write_has_a_column_and_every_column_a_field()
    {
        await using var store = await FreshStoreAsync();
        var samples = new Dictionary<string, string>
        {
            [AnalyticsSchema.Tables[0]] = ContractJson.Serialize(Trigger("t-1")),
            [AnalyticsSchema.Tables[1]] = ContractJson.Serialize(new AuditRecord
            {
                AuditId = "a", ShopperId = "s", Decision = AuditDecisions.Suppressed, Reason = "r", PolicyVersion = "p", EventTime = T0,
            }),
            [AnalyticsSchema.Tables[2]] = ContractJson.Serialize(new SessionOutcome
            {
                SessionId = "s", ShopperId = "s", OriginChannel = "web", FurthestStep = "cart", Outcome = Outcomes.Abandoned,
                PolicyVersion = "p", StartedAt = T0, EndedAt = T0,
            }),
            [AnalyticsSchema.Tables[3]] = ContractJson.Serialize(new DeadLetter
            {
                DeadLetterId = "d", Topic = "t", Partition = 0, Offset = 0, Reason = "r", ReceivedAt = T0,
            }),
        };
        Assert.Equal(["recovery_triggers", "audit_log", "session_outcomes", "dead_letters"], samples.Keys);

        foreach (var (table, json) in samples)
        {
            var fields = JsonDocument.Parse(json).RootElement.EnumerateObject().Select(p => p.Name).Order().ToList();
            var columns = (await store.QueryAsync(
                    // written_at is the engine's (MATERIALIZED at insert, for retention), never a field of a contract.
                    $"SELECT name FROM system.columns WHERE database = currentDatabase() AND table = '{table}' AND default_kind != 'MATERIALIZED' ORDER BY name",
                    "TabSeparated", CancellationToken.None))
                .Split('\n', StringSplitOptions.RemoveEmptyEntries).Order().ToList();
            Assert.True(fields.SequenceEqual(columns), $"{table}: fields [{string.Join(", ", fields)}] vs columns [{string.Join(", ", columns)}]");
        }
    }

    [Fact]
    public async Task Text_with_quotes_newlines_and_non_ascii_round_trips_exactly()
    {
        await using var store = await FreshStoreAsync();
        const string detail = "Zoë's \"cart\"\n\t– 🛒 \\ \u0001 end";
        await store.InsertJsonEachRowAsync("audit_log", [ContractJson.Serialize(new AuditRecord
        {
            AuditId = "a-1", ShopperId = "shopper-ä", Decision = AuditDecisions.Suppressed, Reason = "quiet_hours",
            Detail = detail, PolicyVersion = "p-1", EventTime = T0.AddTicks(1_234_567), // 123.4567 ms: stored to the millisecond
        })], CancellationToken.None);

        var row = await store.QueryAsync("SELECT shopper_id, detail, event_time FROM audit_log FINAL", "JSONEachRow", CancellationToken.None);
        using var parsed = JsonDocument.Parse(row);
        Assert.Equal("shopper-ä", parsed.RootElement.GetProperty("shopper_id").GetString());
        Assert.Equal(detail, parsed.RootElement.GetProperty("detail").GetString());
        Assert.Equal("2026-11-02 09:00:00.123", parsed.RootElement.GetProperty("event_time").GetString());
    }

    [Fact]
    public async Task Large_batches_are_split_into_statements_without_losing_or_repeating_rows()
    {
        await using var store = await FreshStoreAsync(rowsPerStatement: 7);
        var rows = Enumerable.Range(0, 50).Select(i => ContractJson.Serialize(Trigger($"t-{i:D3}"))).ToList();

        await store.InsertJsonEachRowAsync("recovery_triggers", rows, CancellationToken.None);

        Assert.Equal("50\t50\tt-000\tt-049\n", await store.QueryAsync(
            "SELECT count(), uniqExact(trigger_id), min(trigger_id), max(trigger_id) FROM recovery_triggers", "TabSeparated", CancellationToken.None));
    }

    [Fact]
    public async Task Utf8_rows_go_in_as_given_split_at_line_ends_the_last_line_end_optional()
    {
        await using var store = await FreshStoreAsync(rowsPerStatement: 3);
        using var rows = new JsonEachRowBuffer();
        var audits = Enumerable.Range(0, 10).Select(i => new AuditRecord
        {
            AuditId = $"a-{i:D2}", ShopperId = "shopper-漢字", Decision = AuditDecisions.Suppressed, Reason = "quiet_hours", PolicyVersion = "p-1",
            Detail = $"Zoë's \"cart\"\n– 🛒 {i}", EventTime = T0,
        }).ToList();
        foreach (var audit in audits)
        {
            using var json = new Utf8JsonWriter(rows.Writer, ContractJson.RowWriterOptions);
            ContractJson.Serialize(json, audit);
            rows.EndRow();
        }

        // Without the last line end: the store ends the statement's last row itself.
        await store.InsertJsonEachRowAsync("audit_log", rows.Rows[..^1], CancellationToken.None);

        Assert.Equal(string.Concat(audits.Select(a => $"{a.AuditId}\t{a.ShopperId}\t{a.Detail.Replace("\n", "\\n").Replace("'", "\\'")}\n")),
            await store.QueryAsync("SELECT audit_id, shopper_id, detail FROM audit_log ORDER BY audit_id", "TabSeparated", CancellationToken.None));
        await store.InsertJsonEachRowAsync("audit_log", ReadOnlyMemory<byte>.Empty, CancellationToken.None); // nothing to write
        Assert.Equal("10\n", await store.QueryAsync("SELECT count() FROM audit_log", "TabSeparated", CancellationToken.None));
    }

    [Fact]
    public async Task Insert_errors_name_the_table_and_leave_the_store_usable()
    {
        await using var store = await FreshStoreAsync();

        var missing = await Assert.ThrowsAsync<ClickHouseQueryException>(() =>
            store.InsertJsonEachRowAsync("no_such_table", ["{\"x\":1}"], CancellationToken.None));
        Assert.Equal(60, missing.Code);
        Assert.StartsWith($"INSERT INTO `{store.Database}`.`no_such_table`", missing.SqlHead);

        var malformed = await Assert.ThrowsAsync<ClickHouseQueryException>(() =>
            store.InsertJsonEachRowAsync("audit_log", ["{\"audit_id\": \"a\", \"event_time\": \"not a time\"}"], CancellationToken.None));
        Assert.Contains("event_time", malformed.EngineMessage);

        // A failed insert names its error and table, never its rows (shoppers' data): not in the message, not in the SQL head.
        Assert.DoesNotContain("not a time", malformed.Message);
        Assert.DoesNotContain("\"a\"", malformed.SqlHead);
        Assert.EndsWith("(rows not shown)", malformed.SqlHead);
        var personal = await Assert.ThrowsAsync<ClickHouseQueryException>(() =>
            store.InsertJsonEachRowAsync("recovery_triggers", ["{\"trigger_id\": \"jane.doe@example.com\", \"step\": \"step-of-jane.doe@example.com\"}"], CancellationToken.None));
        Assert.DoesNotContain("jane.doe", personal.ToString());

        await Assert.ThrowsAsync<ArgumentException>(() => store.InsertJsonEachRowAsync("audit_log; DROP TABLE x", ["{}"], CancellationToken.None));
        Assert.Equal("0\n", await store.QueryAsync("SELECT count() FROM audit_log", "TabSeparated", CancellationToken.None));
    }

    [Fact]
    public async Task A_cancelled_insert_writes_nothing()
    {
        await using var store = await FreshStoreAsync();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            store.InsertJsonEachRowAsync("recovery_triggers", [ContractJson.Serialize(Trigger("t-1"))], cancelled.Token));
        Assert.Equal("0\n", await store.QueryAsync("SELECT count() FROM recovery_triggers", "TabSeparated", CancellationToken.None));
    }

    [Fact]
    public async Task Hundred_thousand_rows_insert_and_a_repeat_counts_once_under_FINAL()
    {
        await using var store = await FreshStoreAsync();
        const int count = 100_000;
        var serialize = Stopwatch.StartNew();
        var rows = new List<string>(count);
        for (var i = 0; i < count; i++)
            rows.Add(ContractJson.Serialize(Trigger($"t-{i:D6}") with { EventTime = T0.AddSeconds(i % 86_400 * 30), Step = 1 + i % 3 }));
        serialize.Stop();

        var insert = Stopwatch.StartNew();
        await store.InsertJsonEachRowAsync("recovery_triggers", rows, CancellationToken.None);
        insert.Stop();
        var bytes = rows.Sum(r => (long)r.Length);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"serialize {count:N0} triggers: {serialize.ElapsedMilliseconds} ms; insert ({bytes / 1024 / 1024} MB JSON, {count / ChDbAnalyticsStore.RowsPerStatement} statements): " +
            $"{insert.ElapsedMilliseconds} ms = {count / insert.Elapsed.TotalSeconds:N0} rows/s"));

        await store.InsertJsonEachRowAsync("recovery_triggers", rows, CancellationToken.None);
        // The speed is printed, never asserted (a shared machine is noisy; load/bench.sh measures). Without FINAL a
        // background merge may already have collapsed some repeats, so the raw count lies between once and twice.
        var counts = (await store.QueryAsync(
            "SELECT (SELECT count() FROM recovery_triggers), (SELECT count() FROM recovery_triggers FINAL), (SELECT uniqExact(trigger_id) FROM recovery_triggers)",
            "TabSeparated", CancellationToken.None)).Trim().Split('\t').Select(long.Parse).ToArray();
        Assert.InRange(counts[0], count, 2 * count);
        Assert.Equal([count, count], counts[1..]);
    }

    private static RecoveryTrigger Trigger(string id) => new()
    {
        TriggerId = id, Kind = TriggerKinds.Reminder, ShopperId = "shopper-" + id, SessionId = "session-" + id, Step = 1, Channel = "email",
        Score = 0.8125, TopFactors = ["idle:+1.50", "cart_value:+0.40"], Reason = "reminder_step",
        CartLines = [new CartLine { Sku = "sku-lamp", Name = "lamp", UnitPrice = 49.90m, Quantity = 1 }],
        CartValue = 49.90m, Currency = "EUR", IncentiveCode = "", ConsentEventId = "consent-1", PolicyVersion = "p-1",
        Variant = "a", Segment = "returning", OriginChannel = "web", FunnelStep = "checkout", PaymentErrorCodes = ["card_declined"],
        EventTime = T0, DueTime = T0,
    };
}
