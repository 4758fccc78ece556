using System.Globalization;
using Xunit.Abstractions;

namespace CartRecovery.Analytics.Tests;

/// <summary>
/// Every documented query, run through the query CLI on the pipeline's data, returns what the generated traffic
/// and the worker's rows imply (<see cref="ExpectedAnalytics"/>); a re-delivered batch changes none of them.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed class AnalystQueryTests(PipelineFixture pipeline, ITestOutputHelper output)
{
    [Fact]
    public async Task Worker_rows_agree_with_the_generated_traffic()
    {
        var expected = await ExpectedAnalytics.BuildAsync(pipeline);
        var sessions = await pipeline.QueryAsync("SELECT session_id, origin_channel, ordered_at, order_value FROM session_outcomes FINAL");
        Assert.Equal(expected.Origins.Count, sessions.Rows.Count);
        Assert.All(sessions.RowIndexes, i => Assert.Equal(expected.Origins[sessions.Text(i, "session_id")], sessions.Text(i, "origin_channel")));
        var orders = expected.Orders.ToDictionary(o => o.SessionId);
        var ordered = sessions.RowIndexes.Where(i => sessions.Text(i, "ordered_at") != "\\N").ToList();
        Assert.Equal(orders.Count, ordered.Count);
        Assert.All(ordered, i =>
        {
            var order = orders[sessions.Text(i, "session_id")];
            Assert.Equal(order.At, ExpectedAnalytics.Time(sessions.Text(i, "ordered_at")));
            Assert.Equal(order.Total, decimal.Parse(sessions.Text(i, "order_value"), CultureInfo.InvariantCulture));
        });
        // The scripted traffic has recoveries, holdout carts and reminders on several channels: the queries below are not vacuous.
        Assert.True(expected.Attributions.Count(a => a.Recovered) >= 10, "expected at least 10 recovered carts");
        Assert.True(expected.Carts.Count(c => c.Holdout) >= 10, "expected at least 10 holdout carts");
        Assert.True(expected.Reminders.Select(r => r.Channel).Distinct().Count() >= 3, "expected reminders on email, push and sms");
    }

    [Fact]
    public async Task Recovery_rate_by_day_step_and_channel()
    {
        var expected = await ExpectedAnalytics.BuildAsync(pipeline);
        var lastTouches = expected.Attributions.Where(a => a.Recovered).Select(a => a.LastTouch!.TriggerId).ToHashSet();
        var rows = expected.Reminders
            .GroupBy(r => (Day: r.At.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), r.Step, r.Channel))
            .OrderBy(g => g.Key.Day, StringComparer.Ordinal).ThenBy(g => g.Key.Step).ThenBy(g => g.Key.Channel, StringComparer.Ordinal)
            .Select(g => $"{g.Key.Day}\t{g.Key.Step}\t{g.Key.Channel}\t{g.Count()}\t{g.Count(r => lastTouches.Contains(r.TriggerId))}")
            .ToList();
        var actual = await pipeline.QueryAsync(AnalystQueries.RecoveryRateByDayStepChannel.Sql);
        Assert.Equal(rows, actual.Rows.Select(r => string.Join('\t', r.Take(5))));
        foreach (var i in actual.RowIndexes)
            Assert.Equal(Math.Round(actual.Number(i, "recoveries") / actual.Number(i, "reminders"), 4), actual.Number(i, "last_touch_rate"), 4);
    }

    [Fact]
    public async Task Revenue_recovered()
    {
        var expected = await ExpectedAnalytics.BuildAsync(pipeline);
        var rows = expected.Attributions.Where(a => a.Recovered)
            .GroupBy(a => (a.LastTouch!.Step, a.LastTouch.Channel))
            .OrderBy(g => g.Key.Step).ThenBy(g => g.Key.Channel, StringComparer.Ordinal)
            .Select(g => $"EUR\t{g.Key.Step}\t{g.Key.Channel}\t{g.Count()}\t{Decimal(g.Sum(a => a.Revenue))}");
        var actual = await pipeline.QueryAsync(AnalystQueries.RevenueRecovered.Sql);
        Assert.Equal(rows, actual.Rows.Select(r => string.Join('\t', r)));
    }

    [Fact]
    public async Task Lift_vs_holdout_with_confidence_interval()
    {
        var expected = await ExpectedAnalytics.BuildAsync(pipeline);
        var treated = expected.Attributions.Where(a => !a.Cart.Holdout).ToList();
        var holdout = expected.Attributions.Where(a => a.Cart.Holdout).ToList();
        double pt = (double)treated.Count(a => a.Converted) / treated.Count, ph = (double)holdout.Count(a => a.Converted) / holdout.Count;

        var actual = await pipeline.QueryAsync(AnalystQueries.LiftVsHoldout.Sql);
        output.WriteLine(string.Join('\t', actual.Columns) + "\n" + string.Join('\t', actual.Rows[0]));
        Assert.Equal(treated.Count, (int)actual.Number(0, "treated_carts"));
        Assert.Equal(treated.Count(a => a.Converted), (int)actual.Number(0, "treated_converted"));
        Assert.Equal(holdout.Count, (int)actual.Number(0, "holdout_carts"));
        Assert.Equal(holdout.Count(a => a.Converted), (int)actual.Number(0, "holdout_converted"));
        Assert.Equal(pt - ph, actual.Number(0, "lift"), 9);
        // The interval comes from the query's counts (ConfidenceIntervals, tested on its own): Newcombe's, or none when a group is small.
        var interval = FigureIntervals.Lift(actual);
        if (ConfidenceIntervals.EnoughToTell(treated.Count, holdout.Count))
            Assert.Equal(ConfidenceIntervals.Newcombe(treated.Count(a => a.Converted), treated.Count, holdout.Count(a => a.Converted), holdout.Count), interval);
        else
            Assert.Null(interval);
    }

    [Fact]
    public async Task Abandonment_and_recovery_by_channel_of_origin()
    {
        var expected = await ExpectedAnalytics.BuildAsync(pipeline);
        var levels = expected.FunnelLevels();
        var rows = expected.Origins.GroupBy(o => o.Value).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g =>
        {
            var sessions = g.Select(o => o.Key).ToHashSet();
            var carts = sessions.Count(s => levels[s] >= 2);
            var abandoned = expected.Carts.Count(c => sessions.Contains(c.SessionId));
            var recovered = expected.Attributions.Where(a => sessions.Contains(a.Cart.SessionId) && a.Recovered).ToList();
            // Revenue per currency (a map), never one sum over currencies; the generated traffic is all in EUR.
            var revenue = recovered.Count == 0 ? "{}" : $"{{'EUR':{Decimal(recovered.Sum(a => a.Revenue))}}}";
            return $"{g.Key}\t{sessions.Count}\t{carts}\t{abandoned}\t{Round4(abandoned, carts)}\t{recovered.Count}\t{Round4(recovered.Count, abandoned)}\t{revenue}";
        });
        var actual = await pipeline.QueryAsync(AnalystQueries.OriginComparison.Sql);
        Assert.Equal(rows, actual.Rows.Select(r => string.Join('\t', r)));
        Assert.Contains(actual.RowIndexes, i => actual.Text(i, "origin_channel") == "web");
        Assert.Contains(actual.RowIndexes, i => actual.Text(i, "origin_channel") == "instagram");
    }

    [Fact]
    public async Task Shopping_funnel_by_step()
    {
        var expected = await ExpectedAnalytics.BuildAsync(pipeline);
        var levels = expected.FunnelLevels().Values.ToList();
        string[] steps = ["session", "cart", "checkout", "payment", "order"];
        var counts = Enumerable.Range(1, 5).Select(level => levels.Count(l => l >= level)).ToList();
        var rows = Enumerable.Range(1, 5).Select(level =>
            $"{level}\t{steps[level - 1]}\t{counts[level - 1]}\t{Round4(counts[level - 1], counts[0])}\t{Round4(counts[level - 1], counts[Math.Max(0, level - 2)])}");
        var actual = await pipeline.QueryAsync(AnalystQueries.ShoppingFunnel.Sql);
        Assert.Equal(rows, actual.Rows.Select(r => string.Join('\t', r)));
    }

    [Fact]
    public async Task Recovery_funnel_with_windowFunnel()
    {
        var expected = await ExpectedAnalytics.BuildAsync(pipeline);
        var window = ExpectedAnalytics.AttributionWindow;
        var remindersBySession = expected.Reminders.ToLookup(r => r.SessionId);
        var carts = expected.Attributions.Where(a => !a.Cart.Holdout).ToList();
        // windowFunnel sees second-resolution times: a reminder within the window after abandonment, then the order after it.
        var reminded = carts.Where(a => remindersBySession[a.Cart.SessionId].Any(r => Within(a.Cart.AbandonedAt, r.At))).ToList();
        var orderedAfter = reminded.Count(a => a.Order is not null && remindersBySession[a.Cart.SessionId]
            .Any(r => Within(a.Cart.AbandonedAt, r.At) && ExpectedAnalytics.Seconds(r.At) < ExpectedAnalytics.Seconds(a.Order.At) && Within(a.Cart.AbandonedAt, a.Order.At)));

        var actual = await pipeline.QueryAsync(AnalystQueries.RecoveryFunnel.Sql);
        Assert.Equal([$"1\tabandoned\t{carts.Count}", $"2\treminded\t{reminded.Count}", $"3\tordered after reminder\t{orderedAfter}"],
            actual.Rows.Select(r => string.Join('\t', r)));
        Assert.Equal(expected.Attributions.Count(a => a.Recovered), orderedAfter);

        bool Within(DateTime start, DateTime at) =>
            ExpectedAnalytics.Seconds(at) >= ExpectedAnalytics.Seconds(start) && ExpectedAnalytics.Seconds(at) <= ExpectedAnalytics.Seconds(start) + window;
    }

    [Fact]
    public async Task Time_to_recovery_distribution()
    {
        var expected = await ExpectedAnalytics.BuildAsync(pipeline);
        string[] names = ["< 1 h", "1-2 h", "2-4 h", "4-24 h", "1-5 days"];
        var rows = expected.Attributions.Where(a => a.Recovered)
            .GroupBy(a =>
            {
                var seconds = (ExpectedAnalytics.Seconds(a.Order!.At) - ExpectedAnalytics.Seconds(a.Cart.AbandonedAt)).TotalSeconds;
                return seconds < 3600 ? 1 : seconds < 7200 ? 2 : seconds < 14400 ? 3 : seconds < 86400 ? 4 : 5;
            })
            .OrderBy(g => g.Key)
            .Select(g => $"{g.Key}\t{names[g.Key - 1]}\t{g.Count()}\t{Decimal(g.Sum(a => a.Revenue))}");
        var actual = await pipeline.QueryAsync(AnalystQueries.TimeToRecovery.Sql);
        Assert.Equal(rows, actual.Rows.Select(r => string.Join('\t', r)));
    }

    [Fact]
    public async Task Audit_trail_completeness()
    {
        var expected = await ExpectedAnalytics.BuildAsync(pipeline);
        // Consent evidence must name a real grant: a ConsentGranted event of that shopper for the reminder's channel.
        var grants = expected.Events.Select(e => e.Event).OfType<CartRecovery.Contracts.Events.ConsentGranted>()
            .Select(g => (g.EventId, g.ShopperId, g.Channel)).ToHashSet();
        var audits = expected.TriggeredAudits.ToDictionary(a => a.TriggerId, a => a.Evidence);
        var withEvidence = expected.Reminders.Count(r => grants.Contains((r.ConsentEventId, r.ShopperId, r.Channel))
            && audits.TryGetValue(r.TriggerId, out var evidence) && evidence.Contains(r.ConsentEventId));
        var withReason = expected.SuppressionReasons.Count(r => r.Length > 0);

        var actual = await pipeline.QueryAsync(AnalystQueries.AuditCompleteness.Sql);
        Assert.Equal(
            $"{expected.Reminders.Count}\t{withEvidence}\t{Round4(withEvidence, expected.Reminders.Count)}\t{expected.SuppressionReasons.Count}\t{withReason}\t{Round4(withReason, expected.SuppressionReasons.Count)}",
            string.Join('\t', actual.Rows.Single()));
        Assert.Equal(expected.Reminders.Count, withEvidence); // the worker's audit trail is complete for this traffic
    }

    [Fact]
    public async Task Redelivering_every_row_leaves_every_query_result_unchanged()
    {
        var before = new List<string>();
        foreach (var query in AnalystQueries.All) before.Add(await Cli.QueryTsvAsync(pipeline.DataDirectory, query.Sql));
        var rowsBefore = await Cli.QueryTsvAsync(pipeline.DataDirectory, "SELECT (SELECT count() FROM recovery_triggers), (SELECT count() FROM audit_log), (SELECT count() FROM session_outcomes)");

        // A crash after the store write and before the offset commit re-delivers batches: write every row again, as
        // the worker's writer would (the store opened for writing in this process; the analyst path cannot write).
        await using (var store = Host.AnalyticsStoreFactory.Open(pipeline.DataDirectory))
            foreach (var table in new[] { "recovery_triggers", "audit_log", "session_outcomes" })
                await store.QueryAsync($"INSERT INTO {table} SELECT * FROM {table}", "TabSeparated", CancellationToken.None);
        var rowsAfter = await Cli.QueryTsvAsync(pipeline.DataDirectory, "SELECT (SELECT count() FROM recovery_triggers), (SELECT count() FROM audit_log), (SELECT count() FROM session_outcomes)");
        output.WriteLine($"raw rows before: {rowsBefore.Split('\n')[1]}, after re-delivery: {rowsAfter.Split('\n')[1]}");
        Assert.NotEqual(rowsBefore, rowsAfter); // the duplicates really are stored (until a merge collapses them)

        for (var i = 0; i < AnalystQueries.All.Count; i++)
            Assert.Equal(before[i], await Cli.QueryTsvAsync(pipeline.DataDirectory, AnalystQueries.All[i].Sql));
    }

    private static string Round4(int numerator, int denominator) =>
        Math.Round((double)numerator / denominator, 4, MidpointRounding.AwayFromZero).ToString("R", CultureInfo.InvariantCulture);

    // ClickHouse prints decimals without trailing zeros.
    private static string Decimal(decimal value) => value.ToString("0.##", CultureInfo.InvariantCulture);
}
