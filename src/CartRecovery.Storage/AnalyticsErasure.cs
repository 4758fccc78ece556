using System.Text;

namespace CartRecovery.Storage;

/// <summary>How many rows of each table named the shopper before an erasure.</summary>
public sealed record ErasureCounts(long Triggers, long Audits, long Outcomes, long OutcomeEvents, long Profiles)
{
    public long Total => Triggers + Audits + Outcomes + OutcomeEvents + Profiles;
}

/// <summary>
/// Erasure in the analytics store (docs/compliance.md), the same rules as CartRecovery.Domain.Compliance.Erasure for
/// rows still in memory: every row naming the shopper gets the keyed pseudonym instead; recovery_triggers also loses
/// cart lines, incentive code, tokens, links and message; audit_log keeps its evidence and chain (the chain hashes the
/// pseudonym, not the id). session_outcomes has the shopper in its sorting key, which ClickHouse cannot update in
/// place: its rows are copied under the pseudonym and the originals deleted. outcome_events keep the fact of a delivery,
/// open or survey answer under the pseudonym, without the survey's free text; shopper_profiles (keyed by the shopper,
/// and all of it derived from the shopper's behaviour) are deleted. Mutations run synchronously
/// (<c>mutations_sync = 2</c>), so when this returns no query can see the id. dead_letters hold no shopper id.
/// Idempotent: erasing twice finds nothing the second time.
/// </summary>
public static class AnalyticsErasure
{
    private const string Sync = "SETTINGS mutations_sync = 2";

    public static async Task<ErasureCounts> EraseAsync(IAnalyticsStore store, string shopperId, string pseudonym, CancellationToken ct)
    {
        var id = Quote(shopperId);
        var ps = Quote(pseudonym);
        var counts = await CountAsync(store, shopperId, ct);
        if (counts.Triggers > 0)
            await store.QueryAsync(
                $"ALTER TABLE recovery_triggers UPDATE shopper_id = {ps}, cart_lines = [], incentive_code = '', unsubscribe_token = '', " +
                $"unsubscribe_url = '', resume_token = '', resume_url = '', message_subject = '', message_body = '', category = '' WHERE shopper_id = {id} {Sync}",
                "TabSeparated", ct);
        if (counts.Audits > 0)
            await store.QueryAsync($"ALTER TABLE audit_log UPDATE shopper_id = {ps}, shopper_pseudonym = {ps} WHERE shopper_id = {id} {Sync}", "TabSeparated", ct);
        if (counts.Outcomes > 0)
        {
            await store.QueryAsync(
                $"INSERT INTO session_outcomes SELECT * REPLACE ({ps} AS shopper_id) FROM session_outcomes FINAL WHERE shopper_id = {id}", "TabSeparated", ct);
            await store.QueryAsync($"ALTER TABLE session_outcomes DELETE WHERE shopper_id = {id} {Sync}", "TabSeparated", ct);
        }
        if (counts.OutcomeEvents > 0)
            await store.QueryAsync($"ALTER TABLE outcome_events UPDATE shopper_id = {ps}, free_text = NULL WHERE shopper_id = {id} {Sync}", "TabSeparated", ct);
        if (counts.Profiles > 0)
            await store.QueryAsync($"ALTER TABLE shopper_profiles DELETE WHERE shopper_id = {id} {Sync}", "TabSeparated", ct);
        return counts;
    }

    /// <summary>Rows of each table that name the shopper (all versions, not only the FINAL ones).</summary>
    public static async Task<ErasureCounts> CountAsync(IAnalyticsStore store, string shopperId, CancellationToken ct)
    {
        var id = Quote(shopperId);
        var text = await store.QueryAsync(
            $"SELECT (SELECT count() FROM recovery_triggers WHERE shopper_id = {id}), (SELECT count() FROM audit_log WHERE shopper_id = {id}), " +
            $"(SELECT count() FROM session_outcomes WHERE shopper_id = {id}), (SELECT count() FROM outcome_events WHERE shopper_id = {id}), " +
            $"(SELECT count() FROM shopper_profiles WHERE shopper_id = {id})", "TabSeparated", ct);
        var parts = text.Trim().Split('\t');
        return new ErasureCounts(long.Parse(parts[0]), long.Parse(parts[1]), long.Parse(parts[2]), long.Parse(parts[3]), long.Parse(parts[4]));
    }

    /// <summary>A ClickHouse string literal: the id comes from outside, so it is escaped, never spliced raw.</summary>
    public static string Quote(string value)
    {
        var sb = new StringBuilder("'");
        foreach (var c in value)
        {
            if (c is '\\' or '\'') sb.Append('\\');
            sb.Append(c);
        }
        return sb.Append('\'').ToString();
    }
}
