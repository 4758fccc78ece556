using System.Diagnostics;
using System.Text;

namespace CartRecovery.Storage;

/// <summary>How many rows of each table named the shopper before an erasure.</summary>
public sealed record ErasureCounts(long Triggers, long Audits, long Outcomes, long OutcomeEvents, long Profiles)
{
    public long Total => Triggers + Audits + Outcomes + OutcomeEvents + Profiles;
}

/// <summary>What is left on disk after an erasure: parts the erasure replaced that the engine has not removed yet.</summary>
public sealed record ErasurePurge(int ReplacedPartsLeft, int DetachedPartsDropped)
{
    public bool Complete => ReplacedPartsLeft == 0;
}

/// <summary>
/// Erasure in the analytics store (docs/compliance.md), the same rules as CartRecovery.Domain.Compliance.Erasure for
/// rows still in memory: every row naming the shopper gets the keyed pseudonym instead, and each of the shopper's session
/// ids its keyed session pseudonym (the caller's function, the one the worker redacts rows in memory with), so joins on
/// (shopper, session) still match and no metric changes; recovery_triggers also loses cart lines, incentive code, tokens,
/// links and message; audit_log keeps its evidence and chain (the chain hashes the pseudonym and not the session id).
/// session_outcomes has the shopper and the session in its sorting key, which ClickHouse cannot update in place: its rows
/// are copied under the pseudonyms and the originals deleted. outcome_events keep the fact of a delivery, open or survey
/// answer, without the survey's free text; shopper_profiles (keyed by the shopper, all of it derived from the shopper's
/// behaviour) are deleted. dead_letters hold no shopper id. Idempotent: erasing twice finds nothing the second time.
///
/// No statement the engine keeps names the shopper: a mutation's text stays on disk (<c>mutation_N.txt</c>), so the ids
/// and their pseudonyms travel in a Memory table (never written to disk) that the mutations read, dropped afterwards.
/// Mutations run synchronously (<c>mutations_sync = 2</c>), so when <see cref="EraseAsync"/> returns no query can see the
/// id; the parts they replaced stay on disk until the engine's cleanup removes them (<see cref="PurgeAsync"/>).
/// </summary>
public static class AnalyticsErasure
{
    /// <summary>The tables that may name a shopper.</summary>
    public static readonly IReadOnlyList<string> Tables = ["recovery_triggers", "audit_log", "session_outcomes", "outcome_events", "shopper_profiles"];

    // Subqueries in a mutation read another table: allowed for a plain MergeTree, and stated so for a replicated one.
    private const string Sync = "SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1";

    public static async Task<ErasureCounts> EraseAsync(IAnalyticsStore store, string shopperId, string pseudonym, Func<string, string> sessionPseudonym,
        CancellationToken ct)
    {
        var counts = await CountAsync(store, shopperId, ct);
        if (counts.Total == 0) return counts;
        var sessions = await SessionIdsAsync(store, shopperId, ct);

        var map = "erasure_map_" + Guid.NewGuid().ToString("N");
        await store.QueryAsync($"CREATE TABLE {map} (kind String, id String, pseudonym String) ENGINE = Memory", "TabSeparated", ct);
        try
        {
            var rows = new StringBuilder($"INSERT INTO {map} VALUES ('shopper', {Quote(shopperId)}, {Quote(pseudonym)})");
            foreach (var session in sessions) rows.Append($", ('session', {Quote(session)}, {Quote(sessionPseudonym(session))})");
            await store.QueryAsync(rows.ToString(), "TabSeparated", ct);

            var ps = Quote(pseudonym);
            var ofShopper = $"shopper_id IN (SELECT id FROM {map} WHERE kind = 'shopper')";
            var newSession = $"transform(session_id, (SELECT groupArray(id) FROM {map} WHERE kind = 'session'), " +
                             $"(SELECT groupArray(pseudonym) FROM {map} WHERE kind = 'session'), session_id)";
            if (counts.Triggers > 0)
                await store.QueryAsync(
                    $"ALTER TABLE recovery_triggers UPDATE shopper_id = {ps}, session_id = {newSession}, cart_lines = [], incentive_code = '', unsubscribe_token = '', " +
                    $"unsubscribe_url = '', resume_token = '', resume_url = '', list_unsubscribe = '', message_subject = '', message_body = '', category = '' WHERE {ofShopper} {Sync}",
                    "TabSeparated", ct);
            if (counts.Audits > 0)
                await store.QueryAsync(
                    $"ALTER TABLE audit_log UPDATE shopper_id = {ps}, shopper_pseudonym = {ps}, session_id = {newSession} WHERE {ofShopper} {Sync}", "TabSeparated", ct);
            if (counts.Outcomes > 0)
            {
                // Filtered in a subquery: in `SELECT * REPLACE (x AS shopper_id) ... WHERE shopper_id = ...` the alias
                // shadows the column, the filter compares the pseudonym, nothing is copied and the delete loses the rows.
                await store.QueryAsync(
                    $"INSERT INTO session_outcomes SELECT * REPLACE ({ps} AS shopper_id, {newSession} AS session_id) " +
                    $"FROM (SELECT * FROM session_outcomes WHERE {ofShopper})", "TabSeparated", ct);
                await store.QueryAsync($"ALTER TABLE session_outcomes DELETE WHERE {ofShopper} {Sync}", "TabSeparated", ct);
            }
            if (counts.OutcomeEvents > 0)
            {
                // A NULL written over a string keeps the string's bytes under the null map: empty it first.
                await store.QueryAsync($"ALTER TABLE outcome_events UPDATE free_text = '' WHERE {ofShopper} AND free_text IS NOT NULL {Sync}", "TabSeparated", ct);
                await store.QueryAsync(
                    $"ALTER TABLE outcome_events UPDATE shopper_id = {ps}, session_id = {newSession}, free_text = NULL WHERE {ofShopper} {Sync}", "TabSeparated", ct);
            }
            if (counts.Profiles > 0)
                await store.QueryAsync($"ALTER TABLE shopper_profiles DELETE WHERE {ofShopper} {Sync}", "TabSeparated", ct);
        }
        finally
        {
            // Not SYNC: a synchronous drop waits until nothing references the table, and the mutations above read it. A
            // worker's writer once hung for good inside an erasure statement with the engine's merge threads idle; this is
            // the one wait of the erasure beyond the mutations themselves. (The ids stay out of the mutation files on disk
            // because they are read from this table: a Memory table, so the dropped table leaves nothing on disk.)
            await store.QueryAsync($"DROP TABLE IF EXISTS {map}", "TabSeparated", CancellationToken.None);
        }
        return counts;
    }

    /// <summary>The parts an erasure replaced (inactive parts of the tables that may name a shopper, at this moment).
    /// Taken right after <see cref="EraseAsync"/>; every part that held the shopper's rows is among them.</summary>
    public static async Task<IReadOnlyList<(string Table, string Part)>> ReplacedPartsAsync(IAnalyticsStore store, CancellationToken ct)
    {
        var text = await store.QueryAsync(
            $"SELECT table, name FROM system.parts WHERE database = currentDatabase() AND table IN ({TableList}) AND NOT active", "TabSeparated", ct);
        return [.. Lines(text).Select(line => line.Split('\t')).Select(f => (f[0], f[1]))];
    }

    /// <summary>
    /// Waits until the engine has removed <paramref name="replaced"/> from disk (its cleanup runs about every 30 s, and
    /// chDB removes a replaced part at once when due: <c>old_parts_lifetime</c> is 0), polling once a second, at most
    /// <paramref name="timeout"/>. Detached parts of these tables (set aside by the engine or an operator, invisible to
    /// queries, so never pseudonymised) are dropped first.
    /// </summary>
    public static async Task<ErasurePurge> PurgeAsync(IAnalyticsStore store, IReadOnlyList<(string Table, string Part)> replaced, TimeSpan timeout,
        CancellationToken ct)
    {
        var detached = Lines(await store.QueryAsync(
            $"SELECT table, name FROM system.detached_parts WHERE database = currentDatabase() AND table IN ({TableList})", "TabSeparated", ct)).ToList();
        foreach (var fields in detached.Select(line => line.Split('\t')))
            await store.QueryAsync($"ALTER TABLE `{fields[0]}` DROP DETACHED PART {Quote(fields[1])} SETTINGS allow_drop_detached = 1", "TabSeparated", ct);

        var waited = Stopwatch.StartNew();
        var left = replaced.Count;
        while (left > 0)
        {
            var names = string.Join(", ", replaced.Select(p => $"({Quote(p.Table)}, {Quote(p.Part)})"));
            left = int.Parse((await store.QueryAsync(
                $"SELECT count() FROM system.parts WHERE database = currentDatabase() AND (table, name) IN ({names})", "TabSeparated", ct)).Trim());
            if (left == 0 || waited.Elapsed >= timeout) break;
            await Task.Delay(TimeSpan.FromSeconds(1), ct);
        }
        return new ErasurePurge(left, detached.Count);
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

    /// <summary>Audit rows recording an erasure of <paramref name="pseudonym"/> (the shopper was erased before).</summary>
    public static async Task<long> ErasuresOfAsync(IAnalyticsStore store, string pseudonym, CancellationToken ct) =>
        long.Parse((await store.QueryAsync(
            $"SELECT count() FROM audit_log FINAL WHERE shopper_pseudonym = {Quote(pseudonym)} AND decision = 'erased'", "TabSeparated", ct)).Trim());

    /// <summary>Every session id the shopper's rows carry, in any table.</summary>
    private static async Task<List<string>> SessionIdsAsync(IAnalyticsStore store, string shopperId, CancellationToken ct)
    {
        var id = Quote(shopperId);
        var union = string.Join(" UNION ALL ", Tables.Where(t => t != "shopper_profiles")
            .Select(t => $"SELECT session_id FROM {t} WHERE shopper_id = {id} AND session_id != ''"));
        // JSON strings: a session id may hold tabs or newlines, which TabSeparated would escape.
        var text = await store.QueryAsync($"SELECT DISTINCT session_id FROM ({union}) ORDER BY session_id", "JSONEachRow", ct);
        return [.. Lines(text).Select(line => System.Text.Json.JsonDocument.Parse(line).RootElement.GetProperty("session_id").GetString()!)];
    }

    private static string TableList => string.Join(", ", Tables.Select(Quote));

    private static IEnumerable<string> Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

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
