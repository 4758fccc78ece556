namespace CartRecovery.Analytics.Tests;

/// <summary>docs/analytics.md quotes every analyst query verbatim, so the page and the code cannot drift apart.</summary>
public sealed class DocsTests
{
    [Fact]
    public void Every_query_is_documented_verbatim_with_its_question()
    {
        var docs = File.ReadAllText(Path.Combine(Cli.RepoRoot, "docs", "analytics.md")).Replace("\r\n", "\n");
        Assert.All(AnalystQueries.All.Concat(ProfileQueries.OfProfiles), query =>
        {
            Assert.Contains($"```sql\n{query.Sql}\n```", docs);
            Assert.Contains(query.Question, docs);
        });
    }

    [Fact]
    public void Query_names_are_unique() =>
        Assert.Equal(AnalystQueries.All.Count + ProfileQueries.OfProfiles.Count, AnalystQueries.All.Concat(ProfileQueries.OfProfiles).Select(q => q.Name).Distinct().Count());
}
