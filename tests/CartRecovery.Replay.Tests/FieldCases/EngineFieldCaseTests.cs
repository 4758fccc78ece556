using CartRecovery.Replay.Tests.Support;
using Xunit.Abstractions;

namespace CartRecovery.Replay.Tests.FieldCases;

/// <summary>
/// Field cases of the decision engine (issue 11, kinds 3-7 and 10), each replayed through the CLI as an operator would
/// (`replay --format ndjson --policy ...`) and checked with the query its write-up names. The inputs and policies are
/// copies of ../shared/field-cases (ours), kept beside this file.
/// </summary>
public sealed class EngineFieldCaseTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    private static string CaseFile(string name) => Path.Combine(Cli.RepoRoot, "tests", "CartRecovery.Replay.Tests", "FieldCases", name);

    /// <summary>Replays one case and returns its data directory.</summary>
    private async Task<string> Replay(string name, string policy = "no-holdout.json", params string[] extra)
    {
        var data = _temp.Sub(name);
        var run = await Cli.RunAsync(TimeSpan.FromMinutes(5),
            ["replay", "--input", CaseFile(name + ".ndjson"), "--format", "ndjson", "--policy", CaseFile(policy), "--data", data, .. extra]);
        output.WriteLine(run.ToString());
        Assert.Equal(0, run.ExitCode);
        return data;
    }

    private static async Task<string[]> Rows(string data, string sql) => Cli.Rows(await Cli.QueryTsvAsync(data, sql));

    [Fact]
    public async Task Case_03b_a_purchase_without_lines_on_another_device_ends_the_reminders()
    {
        var data = await Replay("03b-order-other-device-no-lines");

        Assert.Empty(await Rows(data, "SELECT step, event_time FROM recovery_triggers FINAL WHERE kind = 'reminder' AND session_id = 's-laptop'"));
        Assert.Equal(["1\torder_placed\t['g03b-p2']", "2\torder_placed\t['g03b-p2']"],
            await Rows(data, "SELECT step, reason, evidence FROM audit_log FINAL WHERE decision = 'suppressed' AND session_id = 's-laptop' ORDER BY step"));
    }

    [Fact]
    public async Task Case_13_one_shopper_on_two_devices_gets_one_message_per_step()
    {
        var data = await Replay("13-same-cart-two-devices");

        Assert.Equal(["1\ts-1313-laptop", "2\ts-1313-laptop"],
            await Rows(data, "SELECT step, session_id FROM recovery_triggers FINAL WHERE kind = 'reminder' ORDER BY event_time"));
        Assert.Equal(["1\tduplicate_case", "2\tduplicate_case"],
            await Rows(data, "SELECT step, reason FROM audit_log FINAL WHERE decision = 'suppressed' AND session_id = 's-1313-phone' ORDER BY step"));
    }

    [Fact]
    public async Task Case_14_a_redelivered_event_is_applied_once()
    {
        var data = await Replay("14-redelivered-event");

        Assert.Equal(["140\t[('jacket-14','jacket',140,1)]\tdefault", "140\t[('jacket-14','jacket',140,1)]\tdefault"],
            await Rows(data, "SELECT cart_value, cart_lines, segment FROM recovery_triggers FINAL ORDER BY step"));
        Assert.Equal(["140\tdefault"], await Rows(data, "SELECT cart_value, segment FROM session_outcomes FINAL"));
        Assert.Equal(["redelivered\t['g14-e2']"], await Rows(data, "SELECT reason, evidence FROM audit_log FINAL WHERE decision = 'duplicate_event'"));
    }

    [Fact]
    public async Task Case_09_a_late_event_from_before_the_abandonment_does_not_resume_the_session()
    {
        var data = await Replay("09-late-event-after-reminder", "no-holdout.json", "--partitions", "1");

        Assert.Equal(["1\t2026-03-02 11:36:00.000", "2\t2026-03-03 10:36:00.000"],
            await Rows(data, "SELECT step, event_time FROM recovery_triggers FINAL WHERE session_id = 's-9001' ORDER BY event_time"));
        Assert.Empty(await Rows(data, "SELECT step FROM audit_log FINAL WHERE session_id = 's-9001' AND reason = 'session_resumed'"));
        Assert.Equal(["1"], await Rows(data, "SELECT count() FROM audit_log FINAL WHERE session_id = 's-9001' AND decision = 'abandoned'"));
        Assert.Equal(["before_abandonment\t['g09-e3']"],
            await Rows(data, "SELECT reason, evidence FROM audit_log FINAL WHERE session_id = 's-9001' AND reason = 'before_abandonment'"));
    }

    [Fact]
    public async Task Case_90_unsubscribing_from_all_marketing_covers_cart_recovery()
    {
        var data = await Replay("90-unsubscribe-all-marketing");

        Assert.Equal(["1"], await Rows(data, "SELECT step FROM recovery_triggers FINAL"));
        Assert.Equal(["2\tconsent_withdrawn\t['g06b-u1']"],
            await Rows(data, "SELECT step, reason, evidence FROM audit_log FINAL WHERE decision = 'suppressed'"));
    }

    [Fact]
    public async Task Case_11_every_code_expires_and_an_order_voids_its_shopper_s_code()
    {
        var data = await Replay("11-coupon-after-purchase", "incentive-on.json");

        var codes = await Rows(data,
            "SELECT kind, step, session_id, reason, incentive_type, incentive_value, event_time, incentive_expires_at FROM recovery_triggers FINAL " +
            "WHERE incentive_code != '' ORDER BY event_time, kind");
        Assert.Equal(
        [
            "reminder\t3\ts-1111-web\treminder_step\tpercent\t10\t2026-03-05 10:36:00.000\t2026-03-12 10:36:00.000",
            "incentive_void\t0\ts-1111-web\torder_voids_incentive\t\t0\t2026-03-06 09:05:00.000\t2026-03-12 10:36:00.000",
            "reminder\t3\ts-1111-web2\treminder_step\tpercent\t10\t2026-03-23 10:36:00.000\t2026-03-30 10:36:00.000",
            "incentive_void\t0\ts-1111-web2\tincentive_expired\t\t0\t2026-03-30 10:36:00.000\t2026-03-30 10:36:00.000",
        ], codes);
        Assert.Equal(["0"], await Rows(data,
            "SELECT count() FROM recovery_triggers FINAL WHERE incentive_code != '' AND incentive_expires_at IS NULL"));
    }

    [Fact]
    public async Task Check_policy_accepts_every_incentive_type_and_names_the_bad_key()
    {
        var text = await File.ReadAllTextAsync(CaseFile("incentive-on.json"));
        var freeShipping = _temp.Sub("free-shipping.json");
        await File.WriteAllTextAsync(freeShipping, text.Replace("\"incentive\": true, \"incentive_percent\": 10",
            "\"incentive\": true, \"incentive_type\": \"free_shipping\", \"incentive_valid_for\": \"48h\""));
        var bad = _temp.Sub("bad.json");
        await File.WriteAllTextAsync(bad, text.Replace("\"incentive_percent\": 10", "\"incentive_type\": \"voucher\""));

        var accepted = await Cli.RunAsync(TimeSpan.FromMinutes(1), "check-policy", freeShipping);
        var rejected = await Cli.RunAsync(TimeSpan.FromMinutes(1), "check-policy", bad);

        Assert.True(accepted.ExitCode == 0, accepted.ToString());
        Assert.NotEqual(0, rejected.ExitCode);
        Assert.Contains("'defaults.steps[2].incentive_type' must be one of percent, fixed_amount, free_shipping", rejected.ToString());
    }

    [Fact]
    public async Task Case_15_a_sequence_goes_email_then_sms_then_push()
    {
        var data = await Replay("15-email-sms-push", "channel-sequence.json");

        Assert.Equal(["1\temail\t", "2\tsms\t", "3\tpush\tpercent"],
            await Rows(data, "SELECT step, channel, incentive_type FROM recovery_triggers FINAL WHERE kind = 'reminder' ORDER BY step"));
        Assert.Equal(["1\temail", "2\tsms", "3\tpush"],
            await Rows(data, "SELECT step, channel FROM audit_log FINAL WHERE decision = 'triggered' AND reason = 'reminder_step' ORDER BY step"));
    }

    [Fact]
    public async Task Check_policy_refuses_a_step_its_own_caps_stop_and_names_its_path()
    {
        var text = await File.ReadAllTextAsync(CaseFile("incentive-on.json"));
        var capped = _temp.Sub("capped.json");
        await File.WriteAllTextAsync(capped, text.Replace("\"per_cart\": 3", "\"per_cart\": 2"));

        var accepted = await Cli.RunAsync(TimeSpan.FromMinutes(1), "check-policy", CaseFile("incentive-on.json"));
        var refused = await Cli.RunAsync(TimeSpan.FromMinutes(1), "check-policy", capped);

        Assert.True(accepted.ExitCode == 0, accepted.ToString());
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("error: 'defaults.steps[2]' can never fire once the 2 step(s) before it were sent: 'defaults.caps.per_cart' is 2", refused.Stderr);
        Assert.Contains("error: 'segments[0].steps[2]' can never fire", refused.Stderr);
    }

    public void Dispose() => _temp.Dispose();
}
