namespace CartRecovery.EndToEnd.Tests;

/// <summary>What a run left in the analytics store(s): triggers, audit rows and session outcomes, as sorted
/// TSV lines, so two runs compare exactly.</summary>
public sealed record PipelineSnapshot(IReadOnlyList<string> Triggers, IReadOnlyList<string> Audits, IReadOnlyList<string> Outcomes)
{
    public static async Task<PipelineSnapshot> ReadAsync(params string[] dataDirectories)
    {
        async Task<IReadOnlyList<string>> Rows(string sql)
        {
            var args = new List<string> { "query" };
            foreach (var dir in dataDirectories) args.AddRange(["--data", dir]);
            args.AddRange(["--format", "tsv", sql]);
            var result = await Cli.RunAsync(TimeSpan.FromMinutes(3), [.. args]);
            if (result.ExitCode != 0) throw new InvalidOperationException($"query failed: {result.Stderr}");
            return result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[1..];
        }

        return new PipelineSnapshot(
            await Rows("SELECT trigger_id, kind, shopper_id, session_id, step, channel, score, event_time, due_time, consent_event_id, incentive_code FROM recovery_triggers FINAL ORDER BY trigger_id"),
            await Rows("SELECT audit_id, decision, reason, shopper_id, session_id, step, channel, evidence, event_time FROM audit_log FINAL ORDER BY audit_id"),
            await Rows("SELECT session_id, outcome, furthest_step, cart_value, abandoned_at, ordered_at, holdout FROM session_outcomes FINAL ORDER BY session_id"));
    }

    public void AssertSameAs(PipelineSnapshot expected)
    {
        Assert.Equal(expected.Triggers.Count, Triggers.Count);
        Assert.Equal(expected.Triggers, Triggers);
        Assert.Equal(expected.Audits.Count, Audits.Count);
        Assert.Equal(expected.Audits, Audits);
        Assert.Equal(expected.Outcomes, Outcomes);
    }
}
