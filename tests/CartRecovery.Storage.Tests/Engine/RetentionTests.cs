using System.Globalization;
using CartRecovery.Storage.Embedded;
using CartRecovery.Storage.Schema;
using CartRecovery.Storage.Tests.Contract;

namespace CartRecovery.Storage.Tests.Engine;

/// <summary>
/// Retention counts from when a row was written, never from a date in the data, and never deletes consent evidence
/// while the consent is in force. Every time here is relative to the clock of the run (the engine's <c>now()</c> and
/// the test's <see cref="DateTimeOffset.UtcNow"/> are the same clock, also under libfaketime), so the tests pass on any
/// day. TTLs are applied by a merge: <c>OPTIMIZE TABLE ... FINAL</c> forces one.
/// </summary>
[Collection(ChDbCollection.Name)]
public sealed class RetentionTests(ChDbEngineFixture fixture)
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    private async Task<ChDbAnalyticsStore> OwnedStoreAsync(SchemaOptions? schema = null)
    {
        var store = new ChDbAnalyticsStore(fixture.Engine, new AnalyticsStoreOptions
        {
            Database = "retention_" + Guid.NewGuid().ToString("N")[..12], Schema = schema ?? SchemaOptions.Default, SetsRetention = true,
        }, ownsEngine: false);
        await store.EnsureSchemaAsync(CancellationToken.None);
        return store;
    }

    [Fact]
    public async Task Rows_dated_long_ago_in_the_data_are_kept_when_just_written()
    {
        await using var store = await OwnedStoreAsync();
        // A backfill of 2019 traffic, an event stamped 1970, a dead letter of an event two years old: all written now.
        foreach (var at in new[] { new DateTimeOffset(1970, 1, 1, 0, 0, 1, TimeSpan.Zero), new DateTimeOffset(2019, 10, 1, 8, 0, 0, TimeSpan.Zero), Now.AddYears(-2) })
        {
            var id = at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            await store.QueryAsync($"INSERT INTO audit_log (audit_id, shopper_id, decision, reason, event_time) VALUES ('a-{id}', 's', 'suppressed', 'no_consent', {Time(at)})", "TabSeparated", default);
            await store.QueryAsync($"INSERT INTO dead_letters (dead_letter_id, topic, reason, received_at) VALUES ('d-{id}', 'cart-events', 'not_json', {Time(at)})", "TabSeparated", default);
            await store.QueryAsync($"INSERT INTO recovery_triggers (trigger_id, shopper_id, event_time, due_time) VALUES ('t-{id}', 's', {Time(at)}, {Time(at)})", "TabSeparated", default);
        }
        await MergeAsync(store, "audit_log", "dead_letters", "recovery_triggers");

        Assert.Equal("3", await Scalar(store, "SELECT count() FROM audit_log"));
        Assert.Equal("3", await Scalar(store, "SELECT count() FROM dead_letters"));
        Assert.Equal("3", await Scalar(store, "SELECT count() FROM recovery_triggers"));
    }

    [Fact]
    public async Task Rows_written_longer_ago_than_the_retention_go_and_consent_evidence_in_force_stays()
    {
        await using var store = await OwnedStoreAsync();
        var longAgo = Now.AddDays(-500); // past the 400-day audit retention and the 30-day dead-letter retention
        var recent = Now.AddDays(-10);
        await InsertAuditAsync(store, "old-suppression", "suppressed", "no_consent", "", longAgo, writtenAt: longAgo);
        await InsertAuditAsync(store, "new-suppression", "suppressed", "no_consent", "", recent, writtenAt: recent);
        // The grant is older than the audit retention and still in force (nothing newer for its purpose and channel).
        await InsertAuditAsync(store, "old-grant", "consent_changed", "granted", "purpose=marketing source=web wording=v1", longAgo, writtenAt: longAgo);
        await store.QueryAsync($"INSERT INTO dead_letters (dead_letter_id, topic, reason, received_at, written_at) SETTINGS insert_allow_materialized_columns = 1 " +
                               $"VALUES ('d-old', 'cart-events', 'not_json', {Time(longAgo)}, {Time(Now.AddDays(-31))})", "TabSeparated", default);
        await MergeAsync(store, "audit_log", "dead_letters");

        Assert.Equal(["new-suppression", "old-grant"], await Lines(store, "SELECT audit_id FROM audit_log ORDER BY audit_id"));
        Assert.Equal("0", await Scalar(store, "SELECT count() FROM dead_letters"));
        // The ledger still shows the grant in force, as the worker holds it.
        Assert.Equal(["marketing\temail\tgranted\t0"], await Lines(store, "SELECT purpose, channel, kind, superseded FROM consent_ledger WHERE shopper_id = 'shopper-1'"));
    }

    [Fact]
    public async Task Consent_evidence_goes_only_its_evidence_period_after_the_consent_stopped_being_in_force()
    {
        await using var store = await OwnedStoreAsync(SchemaOptions.Default with { ConsentEvidenceDays = 365 });
        // email: granted 6 years ago, withdrawn 2 years ago (> 365 days): the grant's evidence period is over; the
        // withdrawal is in force. sms: granted 5 years ago, still in force. push: granted 3 years ago with a valid_until
        // 2 years ago (expired, > 365 days) and a grant 300 days ago that replaced it (< 365 days: the older one stays).
        await InsertAuditAsync(store, "email-grant", "consent_changed", "granted", "purpose=marketing source=web wording=v1", Now.AddYears(-6), channel: "email");
        await InsertAuditAsync(store, "email-withdrawal", "consent_changed", "withdrawn", "purpose=marketing source=web wording=v1", Now.AddYears(-2), channel: "email");
        await InsertAuditAsync(store, "sms-grant", "consent_changed", "granted", "purpose=marketing source=web wording=v1", Now.AddYears(-5), channel: "sms");
        await InsertAuditAsync(store, "push-grant-expired", "consent_changed", "granted",
            $"purpose=marketing source=app wording=v1 valid_until={Now.AddYears(-2).UtcDateTime:yyyy-MM-ddTHH:mm:ss.fffZ}", Now.AddYears(-3), channel: "push");
        await InsertAuditAsync(store, "push-regrant", "consent_changed", "granted", "purpose=marketing source=app wording=v2", Now.AddDays(-300), channel: "push");
        // Another shopper's grant for the same purpose and channel does not end the first one's.
        await InsertAuditAsync(store, "other-shopper-grant", "consent_changed", "granted", "purpose=marketing source=web wording=v1", Now.AddYears(-1), channel: "sms", shopper: "shopper-2");

        var pruned = await SchemaRetention.PruneConsentEvidenceAsync(store, SchemaOptions.Default with { ConsentEvidenceDays = 365 }, default);

        Assert.Equal(2, pruned);
        Assert.Equal(["email-withdrawal", "other-shopper-grant", "push-regrant", "sms-grant"], await Lines(store, "SELECT audit_id FROM audit_log ORDER BY audit_id"));
        Assert.Equal(0, await SchemaRetention.PruneConsentEvidenceAsync(store, SchemaOptions.Default with { ConsentEvidenceDays = null }, default));
    }

    private static Task InsertAuditAsync(IAnalyticsStore store, string id, string decision, string reason, string detail, DateTimeOffset eventTime,
        DateTimeOffset? writtenAt = null, string channel = "email", string shopper = "shopper-1") =>
        store.QueryAsync(
            "INSERT INTO audit_log (audit_id, shopper_id, decision, reason, channel, detail, event_time, written_at) SETTINGS insert_allow_materialized_columns = 1 " +
            $"VALUES ('{id}', '{shopper}', '{decision}', '{reason}', '{channel}', '{detail}', {Time(eventTime)}, {Time(writtenAt ?? Now)})", "TabSeparated", default);

    private static async Task MergeAsync(IAnalyticsStore store, params string[] tables)
    {
        foreach (var table in tables) await store.QueryAsync($"OPTIMIZE TABLE {table} FINAL", "TabSeparated", default);
    }

    private static string Time(DateTimeOffset at) => $"toDateTime64('{at.UtcDateTime:yyyy-MM-dd HH:mm:ss}', 3, 'UTC')";

    private static async Task<string> Scalar(IAnalyticsStore store, string sql) => (await store.QueryAsync(sql, "TabSeparated", default)).Trim();

    private static async Task<string[]> Lines(IAnalyticsStore store, string sql) =>
        (await store.QueryAsync(sql, "TabSeparated", default)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
}
