using System.Reflection;
using CartRecovery.Storage;

namespace CartRecovery.Analytics.Tests;

/// <summary>The queries the report and the docs give analysts pass the analyst path's guard: it refuses what reaches outside
/// the store, not the project's own questions.</summary>
public sealed class AnalystGuardTests
{
    public static IEnumerable<object[]> ProjectQueries() =>
        typeof(AnalystQueries).Assembly.GetTypes()
            .SelectMany(t => t.GetFields(BindingFlags.Public | BindingFlags.Static))
            .Where(f => f.FieldType == typeof(AnalystQuery))
            .Select(f => (AnalystQuery)f.GetValue(null)!)
            .Select(q => new object[] { q.Name, q.Sql });

    [Theory]
    [MemberData(nameof(ProjectQueries))]
    public void Every_query_of_the_project_passes_the_guard(string name, string sql)
    {
        Assert.False(string.IsNullOrWhiteSpace(name));
        ReadOnlySql.Check(sql); // throws ReadOnlyViolationException naming what it refused
    }

    [Fact]
    public void The_project_has_queries_to_check() => Assert.True(ProjectQueries().Count() >= 12);
}
