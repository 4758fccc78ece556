using System.Globalization;
using CartRecovery.Domain.Compliance;
using CartRecovery.Domain.Policy;
using Xunit.Abstractions;

namespace CartRecovery.Analytics.Tests;

/// <summary>
/// The compliance metrics on the main job's data (<see cref="PipelineFixture"/>), and on the same kind of run under a
/// deliberately broken policy judged against the default policy's rules; the tokens and messages the triggers carry.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed class ComplianceMetricsTests(PipelineFixture pipeline, ITestOutputHelper output)
{
    private static readonly RecoveryPolicy Reference = PolicyFile.LoadDefault();

    [Fact]
    public async Task On_the_main_job_there_are_no_incidents_and_the_audit_trail_is_complete_for_every_decision_kind()
    {
        var incidents = await pipeline.QueryAsync(ComplianceQueries.Incidents(Reference).Sql);
        output.WriteLine(string.Join('\n', incidents.Rows.Select(r => string.Join('\t', r))));
        Assert.True(incidents.Rows.Count >= 3, "reminders from several channels of origin");
        Assert.True(incidents.RowIndexes.Sum(i => incidents.Number(i, "reminders")) > 100);
        Assert.All(incidents.RowIndexes, i => Assert.Equal(0, incidents.Number(i, "incidents")));

        var completeness = await pipeline.QueryAsync(ComplianceQueries.Completeness(Reference).Sql);
        output.WriteLine(string.Join('\n', completeness.Rows.Select(r => string.Join('\t', r))));
        var kinds = completeness.RowIndexes.Select(i => completeness.Text(i, "decision_kind")).ToHashSet();
        Assert.Superset(new HashSet<string> { "abandonment", "reminder", "proactive_chat", "step_decision", "consent_change", "erasure" }, kinds);
        Assert.All(completeness.RowIndexes, i => Assert.Equal(completeness.Number(i, "expected"), completeness.Number(i, "audited")));
        Assert.All(completeness.RowIndexes.Where(i => completeness.Text(i, "decision_kind") != "erasure"),
            i => Assert.True(completeness.Number(i, "expected") > 0, completeness.Text(i, "decision_kind")));

        var rates = await pipeline.QueryAsync(ComplianceQueries.ConsentRates.Sql);
        Assert.All(rates.RowIndexes, i => Assert.InRange(rates.Number(i, "opt_in_rate"), 0.01, 1));
        Assert.True(rates.RowIndexes.Sum(i => rates.Number(i, "unsubscribed_after_reminder")) > 0, "the traffic has shoppers who opt out after a reminder");
    }

    [Fact]
    public async Task A_policy_that_ignores_quiet_hours_shows_exactly_the_reminders_sent_inside_them_as_incidents()
    {
        var data = Directory.CreateTempSubdirectory("cartrecovery-broken-").FullName;
        try
        {
            var broken = Path.Combine(data, "broken-policy.json");
            await File.WriteAllTextAsync(broken, PolicyFile.DefaultText()
                .Replace("\"quiet_hours\": { \"start\": \"21:00\", \"end\": \"08:00\" }", "\"quiet_hours\": { \"start\": \"00:00\", \"end\": \"00:00\" }")
                .Replace("\"version\": \"default-2026-11\"", "\"version\": \"broken-no-quiet-hours\""));
            await Cli.RunOkAsync(TimeSpan.FromMinutes(8), "--shoppers", "800", "--seed", "11", "--data", data, "--policy", broken);

            var incidents = QueryTable.Parse(await Cli.QueryTsvAsync(data, ComplianceQueries.Incidents(Reference).Sql));
            var quiet = incidents.RowIndexes.Sum(i => (int)incidents.Number(i, "in_quiet_hours"));
            // The right count, computed here from the reminders with the domain's own quiet-hours rule of the reference policy.
            var reminders = QueryTable.Parse(await Cli.QueryTsvAsync(data,
                "SELECT segment, shopper_local_time FROM recovery_triggers FINAL WHERE kind = 'reminder'"));
            var expected = reminders.RowIndexes.Count(i =>
                Reference.Segments.Single(s => s.Name == reminders.Text(i, "segment")).QuietHours.Contains(
                    TimeOnly.FromDateTime(DateTime.Parse(reminders.Text(i, "shopper_local_time"), CultureInfo.InvariantCulture))));
            output.WriteLine($"{reminders.Rows.Count} reminders, {expected} inside the reference quiet hours, incidents query: {quiet}");
            Assert.True(expected > 10, "the broken policy sends inside quiet hours");
            Assert.Equal(expected, quiet);
            Assert.Equal(expected, incidents.RowIndexes.Sum(i => (int)incidents.Number(i, "incidents")));
        }
        finally
        {
            try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task Tokens_in_triggers_verify_with_the_token_command_and_a_forged_one_does_not()
    {
        var triggers = await pipeline.QueryAsync(
            "SELECT shopper_id, session_id, trigger_id, channel, purpose, unsubscribe_token, resume_token, unsubscribe_url FROM recovery_triggers FINAL " +
            "WHERE kind = 'reminder' ORDER BY trigger_id LIMIT 3");
        Assert.Equal(3, triggers.Rows.Count);
        foreach (var i in triggers.RowIndexes)
        {
            Assert.Equal("cart_recovery", triggers.Text(i, "purpose"));
            Assert.EndsWith(triggers.Text(i, "unsubscribe_token"), triggers.Text(i, "unsubscribe_url"));
            var unsubscribe = await Cli.RunAsync(TimeSpan.FromMinutes(1), "token", "verify", triggers.Text(i, "unsubscribe_token"));
            Assert.Equal(0, unsubscribe.ExitCode);
            Assert.Contains($"shopper={triggers.Text(i, "shopper_id")} purpose=cart_recovery channel={triggers.Text(i, "channel")}", unsubscribe.Stdout);
            var resume = await Cli.RunAsync(TimeSpan.FromMinutes(1), "token", "verify", triggers.Text(i, "resume_token"));
            Assert.Contains($"session={triggers.Text(i, "session_id")} trigger={triggers.Text(i, "trigger_id")}", resume.Stdout);
        }
        var other = MessageTokens.Unsubscribe(ComplianceKeys.Development, "someone-else", "cart_recovery", "email", "trig-x",
            new DateTimeOffset(2100, 1, 1, 0, 0, 0, TimeSpan.Zero)).Split('.');
        var parts = triggers.Text(0, "unsubscribe_token").Split('.');
        var forged = await Cli.RunAsync(TimeSpan.FromMinutes(1), "token", "verify", string.Join('.', parts[0], parts[1], other[2], parts[3]));
        Assert.Equal(1, forged.ExitCode);
    }

    [Fact]
    public async Task Preview_prints_the_rendered_message_of_a_trigger()
    {
        var email = await pipeline.QueryAsync(
            "SELECT trigger_id, message_subject, resume_url, length(cart_lines) AS lines FROM recovery_triggers FINAL " +
            "WHERE kind = 'reminder' AND channel = 'email' AND step = 1 ORDER BY trigger_id LIMIT 1");
        Assert.Single(email.Rows);
        Assert.StartsWith("You left ", email.Text(0, "message_subject"));
        var preview = await Cli.RunOkAsync(TimeSpan.FromMinutes(1), "preview", "--data", pipeline.DataDirectory, "--trigger", email.Text(0, "trigger_id"));
        output.WriteLine(preview.Stdout);
        Assert.Contains($"subject   {email.Text(0, "message_subject")}", preview.Stdout);
        Assert.Contains("Your cart is waiting:", preview.Stdout);
        Assert.Contains(email.Text(0, "resume_url"), preview.Stdout);
        Assert.Contains("Unsubscribe: https://links.shop.example/unsubscribe?token=unsubscribe.v2.", preview.Stdout);
        Assert.Equal(1, (await Cli.RunAsync(TimeSpan.FromMinutes(1), "preview", "--data", pipeline.DataDirectory, "--trigger", "no-such-trigger")).ExitCode);
    }

    [Fact]
    public async Task The_consent_ledger_answers_which_consent_was_in_force_at_an_instant_with_its_evidence()
    {
        var grants = await pipeline.QueryAsync(
            "SELECT shopper_id, channel, consent_event_id, given_at FROM consent_ledger WHERE granted AND NOT superseded AND purpose = 'cart_recovery' " +
            "ORDER BY consent_event_id LIMIT 1");
        var shopper = grants.Text(0, "shopper_id");
        var givenAt = DateTimeOffset.Parse(grants.Text(0, "given_at") + "Z", CultureInfo.InvariantCulture);

        var before = await Cli.RunOkAsync(TimeSpan.FromMinutes(1), "consent", "--data", pipeline.DataDirectory, "--shopper", shopper,
            "--at", givenAt.AddSeconds(-1).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture), "--format", "tsv");
        Assert.DoesNotContain(grants.Text(0, "consent_event_id"), before.Stdout);
        var after = QueryTable.Parse((await Cli.RunOkAsync(TimeSpan.FromMinutes(1), "consent", "--data", pipeline.DataDirectory, "--shopper", shopper,
            "--at", givenAt.AddMinutes(1).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture), "--format", "tsv")).Stdout);
        var row = after.RowIndexes.Single(i => after.Text(i, "purpose") == "cart_recovery" && after.Text(i, "channel") == grants.Text(0, "channel"));
        Assert.Equal(("yes", grants.Text(0, "consent_event_id")), (after.Text(row, "in_force"), after.Text(row, "consent_event_id")));
        Assert.NotEqual("", after.Text(row, "wording_version"));
    }
}
