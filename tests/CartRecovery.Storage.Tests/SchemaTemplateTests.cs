using CartRecovery.Storage.Schema;

namespace CartRecovery.Storage.Tests;

public sealed class SchemaTemplateTests
{
    [Fact]
    public void Default_schema_keeps_outcomes_and_audit_400_days_and_dead_letters_30()
    {
        var ttls = AnalyticsSchema.Statements.Select(TtlOf).ToList();
        Assert.Equal(["400", "400", "400", "30", "400", "400"], ttls.Take(6));
        Assert.All(ttls.Skip(6), ttl => Assert.Equal("", ttl));
        Assert.DoesNotContain(AnalyticsSchema.Statements, s => s.Contains('{'));
        Assert.Contains("toIntervalSecond(432000)", RecoveryOutcomesView(AnalyticsSchema.Statements));
    }

    [Fact]
    public void Retention_and_attribution_window_are_configurable_and_keep_forever_drops_the_ttl()
    {
        var statements = AnalyticsSchema.StatementsFor(new SchemaOptions
        {
            TriggerRetentionDays = 90, OutcomeRetentionDays = null, AuditRetentionDays = 2555, DeadLetterRetentionDays = 7, AttributionWindow = TimeSpan.FromDays(3),
        });
        Assert.Equal(["90", "2555", "", "7", "400", "400"], statements.Select(TtlOf).Take(6));
        Assert.Contains("toIntervalSecond(259200)", RecoveryOutcomesView(statements));
        Assert.All(AnalyticsSchema.StatementsFor(SchemaOptions.KeepForever), s => Assert.DoesNotContain("TTL", s));
    }

    [Fact]
    public void Non_positive_retention_is_refused() =>
        Assert.Throws<ArgumentException>(() => AnalyticsSchema.Render(new SchemaOptions { AuditRetentionDays = 0 }));

    [Fact]
    public void Database_names_must_be_plain_identifiers()
    {
        Assert.Equal("replay_2019_10", new AnalyticsStoreOptions { Database = "replay_2019_10" }.ValidatedDatabase());
        Assert.Throws<ArgumentException>(() => new AnalyticsStoreOptions { Database = "x; DROP TABLE audit_log" }.ValidatedDatabase());
    }

    [Fact]
    public void Retention_per_table_comes_from_a_specification_that_names_bad_keys()
    {
        var options = SchemaRetention.Parse("audit_log=730, recovery_triggers=forever,dead_letters=7", SchemaOptions.Default);
        Assert.Equal((730, (int?)null, 400, 7), (options.AuditRetentionDays, options.TriggerRetentionDays, options.OutcomeRetentionDays, options.DeadLetterRetentionDays));
        var clauses = SchemaRetention.TtlClauses(options);
        Assert.Null(clauses["recovery_triggers"]);
        // Counted from the write, never from a date in the data; consent evidence is exempt from the audit retention.
        Assert.Equal("written_at + INTERVAL 730 DAY DELETE WHERE decision != 'consent_changed'", clauses["audit_log"]);
        Assert.Equal("written_at + INTERVAL 400 DAY", clauses["session_outcomes"]);
        Assert.Equal(1095, options.ConsentEvidenceDays);
        Assert.Null(SchemaRetention.Parse("consent_evidence=forever", SchemaOptions.Default).ConsentEvidenceDays);
        Assert.Contains("sessions", Assert.Throws<ArgumentException>(() => SchemaRetention.Parse("sessions=3", SchemaOptions.Default)).Message);
        Assert.Contains("audit_log", Assert.Throws<ArgumentException>(() => SchemaRetention.Parse("audit_log=0", SchemaOptions.Default)).Message);
        Assert.Contains(SchemaRetention.Setting, Assert.Throws<ArgumentException>(() => SchemaRetention.Parse("audit_log", SchemaOptions.Default)).Message);
    }

    private static string RecoveryOutcomesView(IReadOnlyList<string> statements) =>
        statements.Single(s => s.StartsWith("CREATE OR REPLACE VIEW recovery_outcomes", StringComparison.Ordinal));

    private static string TtlOf(string statement)
    {
        var line = statement.Split('\n').FirstOrDefault(l => l.StartsWith("TTL ", StringComparison.Ordinal));
        return line is null ? "" : line.Split("INTERVAL ")[1].Split(' ')[0];
    }
}
