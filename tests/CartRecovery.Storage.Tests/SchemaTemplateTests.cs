using CartRecovery.Storage.Schema;

namespace CartRecovery.Storage.Tests;

public sealed class SchemaTemplateTests
{
    [Fact]
    public void Default_schema_keeps_outcomes_and_audit_400_days_and_dead_letters_30()
    {
        var ttls = AnalyticsSchema.Statements.Select(TtlOf).ToList();
        Assert.Equal(["400", "400", "400", "30", "400", "400", "", "", "", "", ""], ttls);
        Assert.DoesNotContain(AnalyticsSchema.Statements, s => s.Contains('{'));
        Assert.Contains("toIntervalSecond(432000)", AnalyticsSchema.Statements[^1]);
    }

    [Fact]
    public void Retention_and_attribution_window_are_configurable_and_keep_forever_drops_the_ttl()
    {
        var statements = AnalyticsSchema.StatementsFor(new SchemaOptions
        {
            OutcomeRetentionDays = null, AuditRetentionDays = 2555, DeadLetterRetentionDays = 7, AttributionWindow = TimeSpan.FromDays(3),
        });
        Assert.Equal(["", "2555", "", "7", "", "", "", "", "", "", ""], statements.Select(TtlOf));
        Assert.Contains("toIntervalSecond(259200)", statements[^1]);
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

    private static string TtlOf(string statement)
    {
        var line = statement.Split('\n').FirstOrDefault(l => l.StartsWith("TTL ", StringComparison.Ordinal));
        return line is null ? "" : line.Split("INTERVAL ")[1].Split(' ')[0];
    }
}
