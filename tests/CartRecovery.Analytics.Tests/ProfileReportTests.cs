using System.Globalization;
using System.Text.RegularExpressions;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Storage;
using CartRecovery.Storage.Embedded;

namespace CartRecovery.Analytics.Tests;

/// <summary>The test classes that open chDB in this process: the engine opens one data directory per process, so they run
/// one after the other.</summary>
[CollectionDefinition(Name)]
public sealed class InProcessStoreCollection
{
    public const string Name = "in-process chDB store";
}

/// <summary>A real chDB store with the given rows written through the store (or none), for the profile and score figures.</summary>
public sealed class ScriptedStore : IAsyncDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("cartrecovery-profiles-").FullName;
    private EmbeddedClickHouse? _engine;

    public IAnalyticsStore Store { get; private set; } = null!;

    public static async Task<ScriptedStore> OpenAsync()
    {
        var scripted = new ScriptedStore();
        scripted._engine = EmbeddedClickHouse.Open(scripted._directory);
        scripted.Store = new ChDbAnalyticsStore(scripted._engine, AnalyticsStoreOptions.Default, ownsEngine: false);
        await scripted.Store.EnsureSchemaAsync(CancellationToken.None);
        return scripted;
    }

    public Task WriteAsync(IEnumerable<ShopperProfileRow> rows) => Write("shopper_profiles", rows.Select(ContractJson.Serialize));

    public Task WriteAsync(IEnumerable<RecoveryTrigger> rows) => Write("recovery_triggers", rows.Select(ContractJson.Serialize));

    public Task WriteAsync(IEnumerable<SessionOutcome> rows) => Write("session_outcomes", rows.Select(ContractJson.Serialize));

    public Task WriteAsync(IEnumerable<AuditRecord> rows) => Write("audit_log", rows.Select(ContractJson.Serialize));

    private Task Write(string table, IEnumerable<string> json) => Store.InsertJsonEachRowAsync(table, [.. json], CancellationToken.None);

    public async Task<QueryTable> RunAsync(AnalystQuery query) => QueryTable.Parse(await Store.QueryAsync(query.Sql, QueryTable.Format, CancellationToken.None));

    public async ValueTask DisposeAsync()
    {
        await Store.DisposeAsync();
        _engine?.Dispose();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }
}

/// <summary>
/// The report's "Shopper profiles" section and its score ranking, on rows written to a real chDB store: each figure is what
/// a plain count over the same rows gives, re-written rows count once (FINAL), currencies are never mixed, and an empty
/// store says so instead of printing NaN.
/// </summary>
[Collection(InProcessStoreCollection.Name)]
public sealed partial class ProfileReportTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 2, 8, 0, 0, TimeSpan.Zero);

    private static ShopperProfileRow Profile(string shopper, string segment, double churn, int orders, decimal ltv, string currency = "EUR", int version = 0) => new()
    {
        ShopperId = shopper, Segment = segment, ChurnRisk = churn, OrderCount = orders, Monetary = ltv / 2, MonetaryCurrency = currency,
        LifetimeValue = ltv, TypicalIntervalDays = 30, FirstSeen = T0, LastOrderAt = orders > 0 ? T0 : null, UpdatedAt = T0.AddHours(version),
    };

    /// <summary>Profiles: 4 new (1 customer, 3 prospects), 3 active, 2 at risk, 1 lapsed, in EUR, and 2 customers in GBP.</summary>
    private static List<ShopperProfileRow> Profiles() =>
    [
        Profile("n1", "new", 0, 1, 40m), Profile("n2", "new", 0, 0, 0), Profile("n3", "new", 0, 0, 0), Profile("n4", "new", 0, 0, 0),
        Profile("a1", "active", 0, 3, 100m), Profile("a2", "active", 0.1, 2, 200m), Profile("a3", "active", 0.3, 4, 300m),
        Profile("r1", "at_risk", 0.5, 2, 60m), Profile("r2", "at_risk", 0.7, 5, 80m),
        Profile("l1", "lapsed", 0.9, 2, 10m),
        Profile("g1", "active", 0.2, 2, 1000m, "GBP"), Profile("g2", "new", 0, 1, 3000m, "GBP"),
    ];

    private static RecoveryTrigger WinBack(string shopper, DateTimeOffset at) => new()
    {
        TriggerId = $"wb-{shopper}", Kind = TriggerKinds.WinBack, ShopperId = shopper, SessionId = "", Step = 0, Channel = "email", Score = 0.5,
        Reason = "turned_at_risk", PolicyVersion = "v1", EventTime = at, DueTime = at,
    };

    private static SessionOutcome Order(string shopper, string session, DateTimeOffset at) => new()
    {
        SessionId = session, ShopperId = shopper, OriginChannel = "web", FurthestStep = "payment", CartValue = 50, Currency = "EUR", ItemCount = 1,
        Outcome = Outcomes.Ordered, OrderedAt = at, OrderValue = 50, OrderCurrency = "EUR", PolicyVersion = "v1", StartedAt = at.AddMinutes(-10), EndedAt = at,
    };

    private static AuditRecord Suppressed(string id, string shopper, string reason, string kind = TriggerKinds.WinBack) => new()
    {
        AuditId = id, ShopperId = shopper, SessionId = "", Decision = AuditDecisions.Suppressed, Reason = reason, PolicyVersion = "v1", EventTime = T0, Kind = kind,
    };

    [Fact]
    public async Task Segments_churn_risk_and_lifetime_value_count_each_shopper_once_and_never_mix_currencies()
    {
        await using var store = await ScriptedStore.OpenAsync();
        var profiles = Profiles();
        // An older version of a1 (as prospect) and of r1 (active): the newer row wins, the shopper counts once.
        await store.WriteAsync([Profile("a1", "new", 0, 0, 0, version: -1), Profile("r1", "active", 0.1, 2, 90m, version: -1)]);
        await store.WriteAsync(profiles);

        var figures = await ProfileFigures.ReadAsync(store.Store, CancellationToken.None);

        Assert.Equal(12, figures.Shoppers);
        Assert.Equal([("new", 5.0), ("active", 4.0), ("at_risk", 2.0), ("lapsed", 1.0)], figures.Segments.Select(b => (b.Label, b.Value)));
        Assert.Equal("5 (41.7%)", figures.Segments[0].Caption);
        Assert.Equal([("0 (not overdue)", 6.0), ("0-0.25", 2.0), ("0.25-0.5", 1.0), ("0.5-0.85 (at risk)", 2.0), ("0.85-1 (lapsed)", 1.0)],
            figures.ChurnRisk.Select(b => (b.Label, b.Value)));

        var ltv = figures.LifetimeValue;
        Assert.Equal(["EUR", "GBP"], ltv.RowIndexes.Select(i => ltv.Text(i, "currency")));
        // EUR customers (an order at least): 10, 40, 60, 80, 100, 200, 300; prospects are left out of the quantiles.
        var eur = Enumerable.Range(0, ltv.Rows.Count).Single(i => ltv.Text(i, "currency") == "EUR");
        Assert.Equal((10.0, 7.0), (ltv.Number(eur, "shoppers"), ltv.Number(eur, "customers")));
        Assert.Equal(80, ltv.Number(eur, "ltv_median"));
        Assert.Equal(300, ltv.Number(eur, "ltv_max"));
        Assert.Equal(790, ltv.Number(eur, "ltv_total"));
        var gbp = 1 - eur;
        Assert.Equal((2.0, 4000.0, 3000.0), (ltv.Number(gbp, "customers"), ltv.Number(gbp, "ltv_total"), ltv.Number(gbp, "ltv_max")));

        var html = AnalyticsReport.Render(Empty() with { Profiles = figures });
        Assert.Contains("data-profiles=\"12\"", html);
        Assert.Contains("data-chart=\"profile-segments\"", html);
        Assert.Contains("data-label=\"at_risk\" data-series=\"\" data-value=\"2\"", html);
        Assert.Contains("data-label=\"0.85-1 (lapsed)\" data-series=\"\" data-value=\"1\"", html);
        Assert.Contains("<td>GBP</td><td>2</td><td>2</td>", html);
        Assert.DoesNotMatch(NotANumber(), html);
    }

    [Fact]
    public async Task Win_back_results_count_orders_within_the_attribution_window_and_suppressions_by_reason()
    {
        await using var store = await ScriptedStore.OpenAsync();
        // 12 win-backs: w0..w3 ordered within 5 days (w0 twice: one win-back, one order counted), w4 ordered 6 days later,
        // w5 ordered only before its win-back, the others never.
        var winBacks = Enumerable.Range(0, 12).Select(i => WinBack($"w{i}", T0.AddDays(i))).ToList();
        await store.WriteAsync(winBacks);
        await store.WriteAsync(winBacks); // re-delivered batch: FINAL keeps one
        await store.WriteAsync([
            Order("w0", "o0a", T0.AddHours(2)), Order("w0", "o0b", T0.AddDays(3)), Order("w1", "o1", T0.AddDays(1).AddDays(4.9)),
            Order("w2", "o2", T0.AddDays(2).AddMinutes(1)), Order("w3", "o3", T0.AddDays(3).AddDays(5)),
            Order("w4", "o4", T0.AddDays(4).AddDays(6)), Order("w5", "o5", T0.AddDays(5).AddHours(-1)),
        ]);
        await store.WriteAsync([
            Suppressed("s1", "x1", "consent_missing"), Suppressed("s2", "x2", "consent_missing"), Suppressed("s3", "x3", "recovery_case_open"),
            // Not win-back rows: a cart reminder's suppression and a deferral of a win-back.
            Suppressed("s4", "x4", "holdout", kind: ""), Suppressed("s5", "x5", "quiet_hours") with { Decision = AuditDecisions.Deferred },
        ]);

        var figures = await ProfileFigures.ReadAsync(store.Store, CancellationToken.None);

        var winBack = figures.WinBack;
        Assert.Equal((12L, 4L, 3L), (winBack.Sent, winBack.OrderedWithinWindow, winBack.Suppressed));
        Assert.Equal(ConfidenceIntervals.Wilson(4, 12), winBack.OrderRateInterval);
        var reasons = figures.WinBackSuppressions;
        Assert.Equal(["consent_missing\t2", "recovery_case_open\t1"], reasons.Rows.Select(r => string.Join('\t', r)));

        var html = AnalyticsReport.Render(Empty() with { Profiles = figures });
        Assert.Contains("data-figure=\"win_backs_sent\" data-value=\"12\"", html);
        Assert.Contains("data-figure=\"ordered_within_window\" data-value=\"4\"", html);
        Assert.Contains("data-figure=\"order_rate\" data-value=\"33.3%\"", html);
        var ci = ConfidenceIntervals.Wilson(4, 12);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"95% CI {ci.Low * 100:0.0}%, {ci.High * 100:0.0}%"), html);
        Assert.Contains("no holdout", html);
        // No profile row was written: the section says so rather than drawing empty charts.
        Assert.Contains(AnalyticsReport.NoProfilesYet, html);
    }

    [Fact]
    public async Task Few_win_backs_have_no_interval()
    {
        await using var store = await ScriptedStore.OpenAsync();
        await store.WriteAsync([WinBack("w0", T0), WinBack("w1", T0)]);
        var figures = await ProfileFigures.ReadAsync(store.Store, CancellationToken.None);
        Assert.Null(figures.WinBack.OrderRateInterval);
        Assert.Contains($"{ConfidenceIntervals.TooFew}: fewer than {ConfidenceIntervals.MinimumGroup} sent", AnalyticsReport.Render(Empty() with { Profiles = figures }));
    }

    [Fact]
    public async Task An_empty_store_reports_no_profiles_yet_and_an_undefined_auc_without_nan()
    {
        await using var store = await ScriptedStore.OpenAsync();

        var html = await AnalyticsReport.RenderAsync(store.Store, CancellationToken.None);

        Assert.Contains("<section id=\"profiles\">", html);
        Assert.Contains(AnalyticsReport.NoProfilesYet, html);
        Assert.Contains("data-figure=\"win-back\" data-empty=\"true\"", html);
        Assert.Contains("<section id=\"score-ranking\">", html);
        Assert.Equal(3, Regex.Count(html, "data-auc=\"undefined\""));
        Assert.Contains("undefined: nothing to rank", html);
        Assert.DoesNotMatch(NotANumber(), html);
    }

    /// <summary>Abandoned carts with the score of their <c>abandoned</c> audit row; some got a step-1 reminder (its decided
    /// and send-time score); some converted. The AUC per score is the pairwise one over the same carts.</summary>
    [Fact]
    public async Task Score_ranking_is_the_auc_of_each_score_over_the_carts_it_scored()
    {
        await using var store = await ScriptedStore.OpenAsync();
        var carts = new List<(string Shopper, double Score, bool Converted, double? TriggerScore, double SendTimeScore)>();
        var sessions = new List<SessionOutcome>();
        var audits = new List<AuditRecord>();
        var triggers = new List<RecoveryTrigger>();
        for (var i = 0; i < 24; i++)
        {
            var shopper = $"c{i}";
            var start = T0.AddMinutes(30 * i);
            var abandoned = start.AddMinutes(20);
            // Scores with ties (rounded to 0.1); carts with a higher score are lost more often, not always.
            var score = Math.Round(0.2 + 0.7 * ((i * 7) % 24) / 24.0, 1);
            var converted = i % 3 == 0 || (score < 0.5 && i % 2 == 0);
            var reminded = i % 4 != 3;
            var sendTime = Math.Round(0.9 + (i % 5) / 100.0, 4);
            carts.Add((shopper, score, converted, reminded ? score : null, sendTime));
            var ordered = converted ? abandoned.AddHours(3) : (DateTimeOffset?)null;
            sessions.Add(new SessionOutcome
            {
                SessionId = "s", ShopperId = shopper, OriginChannel = "web", FurthestStep = "cart", CartValue = 10, Currency = "EUR", ItemCount = 1,
                Outcome = converted ? Outcomes.AbandonedRecovered : Outcomes.Abandoned, AbandonedAt = abandoned, OrderedAt = ordered,
                OrderValue = converted ? 10 : 0, OrderCurrency = converted ? "EUR" : "", PolicyVersion = "v1", StartedAt = start, EndedAt = ordered ?? abandoned.AddDays(3),
            });
            audits.Add(new AuditRecord
            {
                AuditId = $"ab{i}", ShopperId = shopper, SessionId = "s", Decision = AuditDecisions.Abandoned, Reason = "inactivity", Score = score,
                PolicyVersion = "v1", EventTime = abandoned,
            });
            // Another shopper's session of the same id abandoned at another time must not lend its score.
            audits.Add(new AuditRecord
            {
                AuditId = $"other{i}", ShopperId = shopper, SessionId = "s", Decision = AuditDecisions.Abandoned, Reason = "inactivity", Score = 1 - score,
                PolicyVersion = "v1", EventTime = abandoned.AddDays(-30),
            });
            if (reminded)
                triggers.Add(new RecoveryTrigger
                {
                    TriggerId = $"r{i}", Kind = TriggerKinds.Reminder, ShopperId = shopper, SessionId = "s", Step = 1, Channel = "email", Score = score,
                    SendTimeScore = sendTime, Reason = "scripted", PolicyVersion = "v1", EventTime = abandoned.AddHours(1), DueTime = abandoned.AddHours(1),
                });
        }
        await store.WriteAsync(sessions);
        await store.WriteAsync(audits);
        await store.WriteAsync(triggers);

        var ranking = await ScoreRanking.ReadAsync(store.Store, CancellationToken.None);

        static double Pairwise(IEnumerable<(double Score, bool Lost)> carts)
        {
            var list = carts.ToList();
            var lost = list.Where(c => c.Lost).Select(c => c.Score).ToList();
            var converted = list.Where(c => !c.Lost).Select(c => c.Score).ToList();
            return lost.Sum(l => converted.Sum(c => l > c ? 1.0 : l == c ? 0.5 : 0)) / (lost.Count * converted.Count);
        }
        var byKind = ranking.ToDictionary(r => r.ScoreKind);
        Assert.Equal(["abandonment", "trigger", "send_time"], ranking.Select(r => r.ScoreKind));
        Assert.Equal((carts.Count(c => !c.Converted), carts.Count(c => c.Converted)), (byKind["abandonment"].Result.Positives, byKind["abandonment"].Result.Negatives));
        Assert.Equal(Pairwise(carts.Select(c => (c.Score, !c.Converted))), byKind["abandonment"].Result.Auc!.Value, 12);
        var remindedCarts = carts.Where(c => c.TriggerScore is not null).ToList();
        Assert.Equal(remindedCarts.Count, byKind["trigger"].Result.Positives + byKind["trigger"].Result.Negatives);
        Assert.Equal(Pairwise(remindedCarts.Select(c => (c.TriggerScore!.Value, !c.Converted))), byKind["trigger"].Result.Auc!.Value, 12);
        Assert.Equal(Pairwise(remindedCarts.Select(c => (c.SendTimeScore, !c.Converted))), byKind["send_time"].Result.Auc!.Value, 12);
        Assert.True(byKind["abandonment"].Result.Auc > 0.5, "the scripted carts with higher scores are lost more often");

        // ClickHouse's own arrayAUC over the same carts agrees (ties included).
        var arrayAuc = await store.Store.QueryAsync(
            "SELECT arrayAUC(groupArray(a.score), groupArray(1 - o.converted)) FROM recovery_outcomes AS o INNER JOIN (SELECT shopper_id, session_id, event_time, score FROM audit_log FINAL WHERE decision = 'abandoned') AS a " +
            "ON a.shopper_id = o.shopper_id AND a.session_id = o.session_id AND a.event_time = o.abandoned_at", "TabSeparated", CancellationToken.None);
        Assert.Equal(double.Parse(arrayAuc, CultureInfo.InvariantCulture), byKind["abandonment"].Result.Auc!.Value, 9);

        var html = AnalyticsReport.Render(Empty() with { ScoreRanking = ranking });
        Assert.Contains($"data-score=\"abandonment\" data-auc=\"{byKind["abandonment"].Result.Auc!.Value.ToString("R", CultureInfo.InvariantCulture)}\"", html);
    }

    private static ReportData Empty() => new([], [], [], QueryTable.Parse(""), [], [], [], QueryTable.Parse(""), [], QueryTable.Parse(""));

    [GeneratedRegex(@"\b(nan|NaN|-nan|inf)\b")]
    private static partial Regex NotANumber();
}
