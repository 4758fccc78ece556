using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Storage;

namespace CartRecovery.Storage.Tests.Contract;

/// <summary>
/// What every analytics store must do, whichever engine is behind it: the schema applies twice without harm, rows
/// come back with exactly the values written, a batch delivered twice leaves FINAL results unchanged, and SQL the
/// engine refuses surfaces as <see cref="ClickHouseQueryException"/>. Each test works in a fresh database.
/// Subclasses bind it to an engine; their [Fact]s call these methods.
/// </summary>
public abstract class AnalyticsStoreContract
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);

    /// <summary>A store on a database no other test uses.</summary>
    protected abstract Task<IAnalyticsStore> OpenFreshStoreAsync();

    protected async Task Schema_is_idempotent()
    {
        await using var store = await OpenFreshStoreAsync();
        await store.EnsureSchemaAsync(CancellationToken.None);
        await store.InsertJsonEachRowAsync("recovery_triggers", [ContractJson.Serialize(Trigger("t-1", 1))], CancellationToken.None);
        await store.EnsureSchemaAsync(CancellationToken.None);

        var tables = await Query(store, "SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name");
        Assert.Equal(["audit_chain_heads", "audit_log", "consent_ledger", "dead_letters", "outcome_events", "recovery_outcomes", "recovery_triggers", "session_outcomes", "shopper_profiles"], tables);
        Assert.Equal(["1"], await Query(store, "SELECT count() FROM recovery_triggers FINAL"));
    }

    protected async Task Inserted_rows_round_trip_with_exact_values()
    {
        await using var store = await OpenFreshStoreAsync();
        await store.EnsureSchemaAsync(CancellationToken.None);
        await store.InsertJsonEachRowAsync("recovery_triggers", [ContractJson.Serialize(Trigger("t-1", 1))], CancellationToken.None);
        await store.InsertJsonEachRowAsync("session_outcomes", [ContractJson.Serialize(Outcome("s-1", T0.AddHours(3)))], CancellationToken.None);
        await store.InsertJsonEachRowAsync("audit_log", [ContractJson.Serialize(Audit("a-1"))], CancellationToken.None);
        await store.InsertJsonEachRowAsync("dead_letters", [ContractJson.Serialize(new DeadLetter
        {
            DeadLetterId = "d-1", Topic = "cart-events", Partition = 2, Offset = 41, Reason = "not_json", PayloadSha256 = "ab12", ReceivedAt = T0,
        })], CancellationToken.None);

        Assert.Equal(
            ["t-1\treminder\tshopper-1\tsession-1\t1\temail\t0.8125\t['idle:+1.50','cart_value:+0.40']\t[('sku-lamp','lamp',49.9,1),('sku-bulb','bulb',2.55,2)]\t55\tEUR\tconsent-1\t2026-11-02 10:35:00.123\t2026-11-02 10:30:00.000"],
            await Query(store, "SELECT trigger_id, kind, shopper_id, session_id, step, channel, score, top_factors, cart_lines, cart_value, currency, consent_event_id, event_time, due_time FROM recovery_triggers FINAL"));
        Assert.Equal(
            ["s-1\tshopper-1\tinstagram\tcheckout\t55\t2\tabandoned_recovered\t2026-11-02 09:30:00.000\t2026-11-02 12:00:00.000\t55\ttrue"],
            await Query(store, "SELECT session_id, shopper_id, origin_channel, furthest_step, cart_value, item_count, outcome, abandoned_at, ordered_at, order_value, holdout FROM session_outcomes FINAL"));
        Assert.Equal(["a-1\tsuppressed\tno_consent\t['evt-1','evt-2']"], await Query(store, "SELECT audit_id, decision, reason, evidence FROM audit_log FINAL"));
        Assert.Equal(["d-1\tcart-events\t2\t41\tnot_json"], await Query(store, "SELECT dead_letter_id, topic, partition, offset, reason FROM dead_letters FINAL"));
    }

    protected async Task Redelivered_batch_leaves_final_results_unchanged()
    {
        await using var store = await OpenFreshStoreAsync();
        await store.EnsureSchemaAsync(CancellationToken.None);
        string[] triggers = [ContractJson.Serialize(Trigger("t-1", 1)), ContractJson.Serialize(Trigger("t-2", 2))];
        // A session re-emitted by a late order: the later ended_at wins.
        string[] outcomes = [ContractJson.Serialize(Outcome("s-1", T0.AddHours(1)) with { }), ContractJson.Serialize(Outcome("s-1", T0.AddHours(3)))];
        const string triggerSummary = "SELECT trigger_id, step, channel, cart_value FROM recovery_triggers FINAL ORDER BY trigger_id";
        const string outcomeSummary = "SELECT session_id, outcome, ended_at FROM session_outcomes FINAL";

        await store.InsertJsonEachRowAsync("recovery_triggers", triggers, CancellationToken.None);
        await store.InsertJsonEachRowAsync("session_outcomes", outcomes, CancellationToken.None);
        var triggersOnce = await Query(store, triggerSummary);
        var outcomesOnce = await Query(store, outcomeSummary);

        await store.InsertJsonEachRowAsync("recovery_triggers", triggers, CancellationToken.None);
        await store.InsertJsonEachRowAsync("session_outcomes", outcomes, CancellationToken.None);

        Assert.Equal(2, triggersOnce.Length);
        Assert.Equal(triggersOnce, await Query(store, triggerSummary));
        Assert.Equal(outcomesOnce, await Query(store, outcomeSummary));
        Assert.Equal(["s-1\tabandoned_recovered\t2026-11-02 12:00:00.000"], outcomesOnce);
    }

    /// <summary>Every sorting key keeps apart what is different: two shoppers' sessions with the same id (and a session id
    /// reused later by the same shopper) are distinct rows under FINAL, and so are two triggers or audit rows whose ids
    /// differ in nothing but the shopper they are for.</summary>
    protected async Task Colliding_ids_of_different_shoppers_or_sessions_keep_their_rows()
    {
        await using var store = await OpenFreshStoreAsync();
        await store.EnsureSchemaAsync(CancellationToken.None);
        var ordered = Outcome("sess-1", T0.AddHours(3));
        string[] outcomes =
        [
            ContractJson.Serialize(ordered),
            ContractJson.Serialize(ordered with { ShopperId = "shopper-2", Outcome = Outcomes.Browsed, OrderedAt = null, EndedAt = T0.AddHours(4) }),
            ContractJson.Serialize(ordered with { StartedAt = T0.AddDays(8), AbandonedAt = T0.AddDays(8).AddMinutes(30), OrderedAt = null, EndedAt = T0.AddDays(9) }),
        ];
        await store.InsertJsonEachRowAsync("session_outcomes", outcomes, CancellationToken.None);
        var reminder = Trigger("t-1", 1) with { SessionId = "sess-1" };
        string[] triggers = [ContractJson.Serialize(reminder), ContractJson.Serialize(reminder with { TriggerId = "t-2", ShopperId = "shopper-2" })];
        await store.InsertJsonEachRowAsync("recovery_triggers", triggers, CancellationToken.None);

        Assert.Equal(["shopper-1\tsess-1\t2026-11-02 09:00:00.000", "shopper-1\tsess-1\t2026-11-10 09:00:00.000", "shopper-2\tsess-1\t2026-11-02 09:00:00.000"],
            await Query(store, "SELECT shopper_id, session_id, started_at FROM session_outcomes FINAL ORDER BY shopper_id, started_at"));
        Assert.Equal(["2"], await Query(store, "SELECT count() FROM recovery_triggers FINAL"));
        // The view keeps one cart per (shopper, session, start): each shopper's reminders count for their own cart only.
        Assert.Equal(["shopper-1\t2026-11-02 09:00:00.000\t1", "shopper-1\t2026-11-10 09:00:00.000\t0", "shopper-2\t2026-11-02 09:00:00.000\t1"],
            await Query(store, "SELECT shopper_id, started_at, reminders_sent FROM recovery_outcomes ORDER BY shopper_id, started_at"));
    }

    protected async Task Refused_sql_raises_ClickHouseQueryException()
    {
        await using var store = await OpenFreshStoreAsync();
        await store.EnsureSchemaAsync(CancellationToken.None);
        var error = await Assert.ThrowsAsync<ClickHouseQueryException>(() => store.QueryAsync("SELECT no_such_column FROM recovery_triggers", "TabSeparated", CancellationToken.None));
        Assert.Contains("no_such_column", error.Message);
        await Assert.ThrowsAsync<ClickHouseQueryException>(() => store.QueryAsync("SELEC 1", "TabSeparated", CancellationToken.None));
    }

    protected static async Task<string[]> Query(IAnalyticsStore store, string sql) =>
        (await store.QueryAsync(sql, "TabSeparated", CancellationToken.None)).Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static RecoveryTrigger Trigger(string id, int step) => new()
    {
        TriggerId = id, Kind = TriggerKinds.Reminder, ShopperId = "shopper-1", SessionId = "session-1", Step = step, Channel = "email",
        Score = 0.8125, TopFactors = ["idle:+1.50", "cart_value:+0.40"], Reason = "reminder_step",
        CartLines = [new CartLine { Sku = "sku-lamp", Name = "lamp", UnitPrice = 49.90m, Quantity = 1 }, new CartLine { Sku = "sku-bulb", Name = "bulb", UnitPrice = 2.55m, Quantity = 2 }],
        CartValue = 55.00m, Currency = "EUR", ConsentEventId = "consent-1", PolicyVersion = "p-1",
        EventTime = T0.AddMinutes(95).AddMilliseconds(123), DueTime = T0.AddMinutes(90),
    };

    private static SessionOutcome Outcome(string sessionId, DateTimeOffset endedAt) => new()
    {
        SessionId = sessionId, ShopperId = "shopper-1", OriginChannel = "instagram", FurthestStep = "checkout", CartValue = 55m, ItemCount = 2,
        Outcome = endedAt > T0.AddHours(2) ? Outcomes.AbandonedRecovered : Outcomes.Abandoned,
        AbandonedAt = T0.AddMinutes(30), OrderedAt = endedAt > T0.AddHours(2) ? T0.AddHours(3) : null, OrderValue = endedAt > T0.AddHours(2) ? 55m : 0m,
        Holdout = true, PolicyVersion = "p-1", StartedAt = T0, EndedAt = endedAt,
    };

    private static AuditRecord Audit(string id) => new()
    {
        AuditId = id, ShopperId = "shopper-1", SessionId = "session-1", Decision = AuditDecisions.Suppressed, Reason = "no_consent",
        Evidence = ["evt-1", "evt-2"], PolicyVersion = "p-1", EventTime = T0,
    };
}
