using System.Globalization;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Storage;
using CartRecovery.Storage.Embedded;

namespace CartRecovery.Analytics.Tests;

/// <summary>
/// A scripted history of carts, reminders, dispatcher reports, chats (offered and held out) and survey answers, written
/// as rows to a real chDB store. Each closed-loop metric's one SQL definition (<see cref="FeedbackQueries"/>) must give
/// what a plain computation over the same scripted objects gives.
/// </summary>
public sealed class ClosedLoopMetricFixture : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("cartrecovery-metrics-").FullName;
    private EmbeddedClickHouse? _engine;

    public IAnalyticsStore Store { get; private set; } = null!;
    public ClosedLoopScript Script { get; } = ClosedLoopScript.Build();

    public async Task InitializeAsync()
    {
        _engine = EmbeddedClickHouse.Open(_directory);
        Store = new ChDbAnalyticsStore(_engine, AnalyticsStoreOptions.Default, ownsEngine: false);
        await Store.EnsureSchemaAsync(CancellationToken.None);
        await Store.InsertJsonEachRowAsync("session_outcomes", [.. Script.Sessions.Select(ContractJson.Serialize)], CancellationToken.None);
        await Store.InsertJsonEachRowAsync("recovery_triggers", [.. Script.Triggers.Select(ContractJson.Serialize)], CancellationToken.None);
        await Store.InsertJsonEachRowAsync("audit_log", [.. Script.Audits.Select(ContractJson.Serialize)], CancellationToken.None);
        // Every outcome twice (a re-delivered batch): FINAL keeps one.
        await Store.InsertJsonEachRowAsync("outcome_events", [.. Script.Outcomes.Select(ContractJson.Serialize)], CancellationToken.None);
        await Store.InsertJsonEachRowAsync("outcome_events", [.. Script.Outcomes.Select(ContractJson.Serialize)], CancellationToken.None);
    }

    public async Task<QueryTable> RunAsync(AnalystQuery query) =>
        QueryTable.Parse(await Store.QueryAsync(query.Sql, QueryTable.Format, CancellationToken.None));

    public async Task DisposeAsync()
    {
        await Store.DisposeAsync();
        _engine?.Dispose();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }
}

/// <summary>The scripted rows: plain objects the test computes expectations from.</summary>
public sealed record ClosedLoopScript(List<SessionOutcome> Sessions, List<RecoveryTrigger> Triggers, List<AuditRecord> Audits, List<OutcomeRecord> Outcomes)
{
    public static readonly DateTimeOffset T0 = new(2026, 3, 2, 8, 0, 0, TimeSpan.Zero);
    public static readonly string[] Origins = ["web", "app", "instagram"];
    public static readonly string[] Channels = ["email", "sms", "push"];

    public static ClosedLoopScript Build()
    {
        var script = new ClosedLoopScript([], [], [], []);
        // Carts 0..59: abandoned 20 min after start; every 7th in the holdout; reminders at +1 h (step 1) and +24 h (step 2,
        // not for every 4th); every 3rd ordered 2 h after abandonment (after step 1: recovered unless holdout).
        for (var i = 0; i < 60; i++)
        {
            var start = T0 + TimeSpan.FromMinutes(10 * i);
            var abandoned = start + TimeSpan.FromMinutes(20);
            var holdout = i % 7 == 0;
            var ordered = i % 3 == 0 ? abandoned + TimeSpan.FromHours(2) : (DateTimeOffset?)null;
            var variant = i % 2 == 0 ? "a" : "b";
            script.Sessions.Add(Session($"s{i}", $"x{i}", Origins[i % 3], start, abandoned, ordered, 10 + i, holdout, variant));
            if (holdout) continue;
            var steps = i % 4 == 0 ? 1 : 2;
            for (var step = 1; step <= steps; step++)
            {
                var at = abandoned + (step == 1 ? TimeSpan.FromHours(1) : TimeSpan.FromHours(24));
                var trigger = Trigger($"r{i}-{step}", TriggerKinds.Reminder, $"s{i}", $"x{i}", step, Channels[(i + step) % 3], at, variant, Origins[i % 3]);
                script.Triggers.Add(trigger);
                var delivered = (i + step) % 5 != 0;
                var opened = delivered && (i * step) % 3 != 1;
                var clicked = opened && i % 4 == 1;
                if (delivered && i % 8 != 3) script.Outcomes.Add(Outcome($"{trigger.TriggerId}-d", OutcomeTypes.MessageDelivered, trigger, at.AddMinutes(1)));
                if (opened) script.Outcomes.Add(Outcome($"{trigger.TriggerId}-o", OutcomeTypes.MessageOpened, trigger, at.AddMinutes(30)));
                if (clicked) script.Outcomes.Add(Outcome($"{trigger.TriggerId}-c", OutcomeTypes.MessageClicked, trigger, at.AddMinutes(32)));
                if (!delivered && i % 2 == 0) script.Outcomes.Add(Outcome($"{trigger.TriggerId}-b", OutcomeTypes.MessageBounced, trigger, at.AddMinutes(1)) with { BounceType = "hard" });
                if (i == 11 && step == 1) script.Outcomes.Add(Outcome($"{trigger.TriggerId}-x", OutcomeTypes.MessageComplained, trigger, at.AddHours(3)));
                if (i % 5 == 2 && step == 1)
                    script.Outcomes.Add(Outcome($"{trigger.TriggerId}-s", OutcomeTypes.SurveyAnswered, trigger, at.AddHours(4))
                        with { Channel = "", SurveyReason = SurveyReasons.All[(i / 5) % SurveyReasons.All.Count], FreeText = "not in any figure" });
            }
        }
        // Orders never abandoned: every 4th shopper orders a second visit directly.
        for (var i = 0; i < 60; i += 4)
            script.Sessions.Add(Session($"s{i}", $"y{i}", Origins[(i + 1) % 3], T0 + TimeSpan.FromDays(1) + TimeSpan.FromMinutes(i), null,
                T0 + TimeSpan.FromDays(1) + TimeSpan.FromMinutes(i + 15), 100 + i, false, "a"));
        // A survey linked by session only (origin from session_outcomes) and one whose session no row knows.
        script.Outcomes.Add(new OutcomeRecord { EventId = "sv-session", Type = OutcomeTypes.SurveyAnswered, ShopperId = "s4", SessionId = "y4", Matched = true, SurveyReason = "price", EventTime = T0.AddDays(2) });
        script.Outcomes.Add(new OutcomeRecord { EventId = "sv-lost", Type = OutcomeTypes.SurveyAnswered, ShopperId = "s999", SessionId = "gone", Matched = false, SurveyReason = "other", EventTime = T0.AddDays(2) });

        // Chat experiment: 30 sessions eligible for a chat, every 3rd held out (audited); 6 of 10 held out and 5 of 20 offered
        // sessions abandoned, the others ordered.
        for (var j = 0; j < 30; j++)
        {
            var start = T0 + TimeSpan.FromDays(3) + TimeSpan.FromMinutes(30 * j);
            var chatAt = start + TimeSpan.FromMinutes(5);
            var abandonedChat = j % 3 == 0 ? j % 2 == 0 || j % 5 == 1 : j % 4 == 0;
            script.Sessions.Add(Session($"c{j}", $"cs{j}", Origins[j % 3], start, abandonedChat ? start.AddMinutes(35) : null,
                abandonedChat ? null : start.AddMinutes(12), 200, false, "a"));
            if (j % 3 == 0)
            {
                script.Audits.Add(new AuditRecord
                {
                    AuditId = $"a{j}", ShopperId = $"c{j}", SessionId = $"cs{j}", Decision = AuditDecisions.Suppressed, Reason = "chat_holdout",
                    Channel = "chat", PolicyVersion = "v1", EventTime = chatAt,
                });
                continue;
            }
            var chat = Trigger($"chat{j}", TriggerKinds.ProactiveChat, $"c{j}", $"cs{j}", 0, "chat", chatAt, "a", Origins[j % 3]);
            script.Triggers.Add(chat);
            if (j % 3 == 1)
            {
                script.Outcomes.Add(Outcome($"chat{j}-a", OutcomeTypes.ChatAccepted, chat, chatAt.AddSeconds(20)) with { Channel = "chat" });
                script.Outcomes.Add(Outcome($"chat{j}-r", OutcomeTypes.ChatResolved, chat, chatAt.AddMinutes(6)) with
                {
                    Channel = "chat", ResolvedFirstContact = j % 2 == 1, Satisfaction = j % 4 == 0 ? null : 3 + j % 3,
                });
            }
        }
        return script;
    }

    private static SessionOutcome Session(string shopper, string session, string origin, DateTimeOffset start, DateTimeOffset? abandoned,
        DateTimeOffset? ordered, decimal value, bool holdout, string variant) => new()
    {
        SessionId = session, ShopperId = shopper, OriginChannel = origin, FurthestStep = "cart", CartValue = value, Currency = "EUR", ItemCount = 1,
        Outcome = ordered is null ? Contracts.Outputs.Outcomes.Abandoned : abandoned is null ? Contracts.Outputs.Outcomes.Ordered : Contracts.Outputs.Outcomes.AbandonedRecovered,
        AbandonedAt = abandoned, OrderedAt = ordered, OrderValue = ordered is null ? 0 : value, OrderCurrency = ordered is null ? "" : "EUR",
        Holdout = holdout, PolicyVersion = "v1", Variant = variant, StartedAt = start, EndedAt = ordered ?? (abandoned ?? start).AddDays(3),
    };

    private static RecoveryTrigger Trigger(string id, string kind, string shopper, string session, int step, string channel, DateTimeOffset at,
        string variant, string origin) => new()
    {
        TriggerId = id, Kind = kind, ShopperId = shopper, SessionId = session, Step = step, Channel = channel, Score = 0.5, Reason = "scripted",
        PolicyVersion = "v1", Variant = variant, OriginChannel = origin, EventTime = at, DueTime = at,
    };

    private static OutcomeRecord Outcome(string id, string type, RecoveryTrigger trigger, DateTimeOffset at) => new()
    {
        EventId = id, Type = type, ShopperId = trigger.ShopperId, SessionId = trigger.SessionId, TriggerId = trigger.TriggerId, Channel = trigger.Channel,
        Matched = true, EventTime = at,
    };
}

[Collection(InProcessStoreCollection.Name)]
public sealed class ClosedLoopMetricTests(ClosedLoopMetricFixture fixture) : IClassFixture<ClosedLoopMetricFixture>
{
    private ClosedLoopScript Script => fixture.Script;

    private IEnumerable<SessionOutcome> Carts => Script.Sessions.Where(s => s.AbandonedAt is not null);

    /// <summary>The order that converts a cart: the shopper's first order, in any session, within the 5-day attribution
    /// window after the abandonment (each scripted shopper has one abandoned cart, so every such order is credited to it).</summary>
    private SessionOutcome? CreditedOrder(SessionOutcome cart) =>
        Script.Sessions.Where(s => s.ShopperId == cart.ShopperId && s.OrderedAt is { } o && o >= cart.AbandonedAt && o - cart.AbandonedAt!.Value <= TimeSpan.FromDays(5))
            .MinBy(s => s.OrderedAt);

    /// <summary>Recovered: converted, and a reminder of the cart (sent while its session lasted) went out before the order.</summary>
    private bool Recovered(SessionOutcome cart) =>
        CreditedOrder(cart) is { OrderedAt: { } ordered }
        && Script.Triggers.Any(t => t.Kind == TriggerKinds.Reminder && t.ShopperId == cart.ShopperId && t.SessionId == cart.SessionId
                                    && t.EventTime >= cart.StartedAt && t.EventTime <= cart.EndedAt && t.EventTime <= ordered);

    [Fact]
    public async Task Recovery_rate_is_recovered_of_remindable_carts()
    {
        var remindable = Carts.Where(c => !c.Holdout).ToList();
        var recovered = remindable.Count(Recovered);

        var table = await fixture.RunAsync(FeedbackQueries.RecoveryRate);

        Assert.True(recovered > 5);
        Assert.Equal(remindable.Count, (int)table.Number(0, "remindable_carts"));
        Assert.Equal(recovered, (int)table.Number(0, "recovered_carts"));
        Assert.Equal(Math.Round((double)recovered / remindable.Count, 4), table.Number(0, "recovery_rate"), 4);
    }

    [Fact]
    public async Task Average_order_value_of_recovered_orders_against_the_others()
    {
        var orders = Script.Sessions.Where(s => s.OrderedAt is not null).ToList();
        var recovered = Carts.Where(Recovered).Select(c => CreditedOrder(c)!).Distinct().ToList();
        var other = orders.Except(recovered).ToList();

        var table = await fixture.RunAsync(FeedbackQueries.AverageOrderValue);

        var rows = table.RowIndexes.ToDictionary(i => table.Text(i, "orders_of"));
        Assert.Equal(["other", "recovered"], rows.Keys.Order());
        Assert.Equal(recovered.Count, (int)table.Number(rows["recovered"], "orders"));
        Assert.Equal(other.Count, (int)table.Number(rows["other"], "orders"));
        Assert.Equal((double)Math.Round(recovered.Average(o => o.OrderValue), 2), table.Number(rows["recovered"], "average_order_value"), 2);
        Assert.Equal((double)Math.Round(other.Average(o => o.OrderValue), 2), table.Number(rows["other"], "average_order_value"), 2);
        Assert.All(table.RowIndexes, i => Assert.Equal("EUR", table.Text(i, "currency")));
    }

    [Fact]
    public async Task Delivery_open_and_click_rates_by_step_channel_and_variant()
    {
        var reports = Script.Outcomes.GroupBy(o => o.TriggerId).ToDictionary(g => g.Key, g => g.Select(o => o.Type).ToHashSet());
        bool Has(RecoveryTrigger t, params string[] types) => reports.TryGetValue(t.TriggerId, out var seen) && types.Any(seen.Contains);
        var expected = Script.Triggers.Where(t => t.Kind == TriggerKinds.Reminder)
            .GroupBy(t => (t.Step, t.Channel, t.Variant))
            .OrderBy(g => g.Key.Step).ThenBy(g => g.Key.Channel, StringComparer.Ordinal).ThenBy(g => g.Key.Variant, StringComparer.Ordinal)
            .Select(g =>
            {
                var sent = g.Count();
                var delivered = g.Count(t => Has(t, OutcomeTypes.MessageDelivered, OutcomeTypes.MessageOpened, OutcomeTypes.MessageClicked));
                var opened = g.Count(t => Has(t, OutcomeTypes.MessageOpened, OutcomeTypes.MessageClicked));
                var clicked = g.Count(t => Has(t, OutcomeTypes.MessageClicked));
                return $"{g.Key.Step}\t{g.Key.Channel}\t{g.Key.Variant}\t{sent}\t{delivered}\t{opened}\t{clicked}\t"
                    + $"{g.Count(t => Has(t, OutcomeTypes.MessageBounced))}\t{g.Count(t => Has(t, OutcomeTypes.MessageComplained))}\t"
                    + $"{Rate(delivered, sent)}\t{Rate(opened, delivered)}\t{Rate(clicked, delivered)}";
            }).ToList();

        var table = await fixture.RunAsync(FeedbackQueries.MessageEngagement);

        Assert.Equal(expected, table.Rows.Select(r => string.Join('\t', r.Take(9).Concat(r.Skip(9).Select(Round4)))));
        Assert.Contains(table.RowIndexes, i => table.Number(i, "open_rate") > 0);
    }

    [Fact]
    public async Task Abandonment_reduction_from_proactive_chat_against_the_chat_holdout()
    {
        var holdoutSessions = Script.Audits.Where(a => a.Reason == "chat_holdout").Select(a => (a.ShopperId, a.SessionId)).ToHashSet();
        var offeredSessions = Script.Triggers.Where(t => t.Kind == TriggerKinds.ProactiveChat).Select(t => (t.ShopperId, t.SessionId)).ToHashSet();
        bool Abandoned((string Shopper, string Session) key) => Script.Sessions.Single(s => s.ShopperId == key.Shopper && s.SessionId == key.Session).AbandonedAt is not null;
        var offeredRate = (double)offeredSessions.Count(Abandoned) / offeredSessions.Count;
        var holdoutRate = (double)holdoutSessions.Count(Abandoned) / holdoutSessions.Count;

        var table = await fixture.RunAsync(FeedbackQueries.ChatAbandonmentReduction);

        Assert.Equal((offeredSessions.Count, holdoutSessions.Count), ((int)table.Number(0, "offered_sessions"), (int)table.Number(0, "holdout_sessions")));
        Assert.Equal(offeredSessions.Count(Abandoned), (int)table.Number(0, "offered_abandoned"));
        Assert.Equal(holdoutRate - offeredRate, table.Number(0, "abandonment_reduction"), 9);
        Assert.Equal((holdoutRate - offeredRate) / holdoutRate, table.Number(0, "relative_reduction"), 9);
        Assert.Equal(holdoutSessions.Count(Abandoned), (int)table.Number(0, "holdout_abandoned"));
        var interval = FigureIntervals.ChatAbandonmentReduction(table);
        if (ConfidenceIntervals.EnoughToTell(holdoutSessions.Count, offeredSessions.Count))
            Assert.Equal(ConfidenceIntervals.Newcombe(holdoutSessions.Count(Abandoned), holdoutSessions.Count, offeredSessions.Count(Abandoned), offeredSessions.Count), interval);
        else
            Assert.Null(interval);
        Assert.True(holdoutRate > offeredRate, "the script gives chat a lower abandonment");
    }

    [Fact]
    public async Task Proactive_chat_conversion_and_acceptance()
    {
        var chats = Script.Triggers.Where(t => t.Kind == TriggerKinds.ProactiveChat).ToList();
        var accepted = Script.Outcomes.Where(o => o.Type == OutcomeTypes.ChatAccepted).Select(o => o.TriggerId).ToHashSet();
        bool Ordered(RecoveryTrigger chat) => Script.Sessions.Single(s => s.ShopperId == chat.ShopperId && s.SessionId == chat.SessionId).OrderedAt >= chat.EventTime;

        var table = await fixture.RunAsync(FeedbackQueries.ChatConversion);

        Assert.Equal(chats.Count, (int)table.Number(0, "chats_offered"));
        Assert.Equal(accepted.Count, (int)table.Number(0, "chats_accepted"));
        Assert.Equal(chats.Count(Ordered), (int)table.Number(0, "offered_then_ordered"));
        Assert.Equal(chats.Count(c => accepted.Contains(c.TriggerId) && Ordered(c)), (int)table.Number(0, "accepted_then_ordered"));
        Assert.Equal(Math.Round((double)chats.Count(Ordered) / chats.Count, 4), table.Number(0, "conversion_of_offered"), 4);
    }

    [Fact]
    public async Task First_contact_resolution_of_resolved_chats()
    {
        var resolved = Script.Outcomes.Where(o => o.Type == OutcomeTypes.ChatResolved).ToList();
        var rated = resolved.Where(r => r.Satisfaction is not null).ToList();

        var table = await fixture.RunAsync(FeedbackQueries.FirstContactResolution);

        Assert.Equal(resolved.Count, (int)table.Number(0, "chats_resolved"));
        Assert.Equal(resolved.Count(r => r.ResolvedFirstContact == true), (int)table.Number(0, "resolved_first_contact"));
        Assert.Equal(Math.Round((double)resolved.Count(r => r.ResolvedFirstContact == true) / resolved.Count, 4), table.Number(0, "first_contact_resolution_rate"), 4);
        Assert.Equal(rated.Count, (int)table.Number(0, "rated"));
        Assert.Equal(Math.Round(rated.Average(r => r.Satisfaction!.Value), 2), table.Number(0, "average_satisfaction"), 2);
    }

    [Fact]
    public async Task Survey_reasons_by_channel_of_origin()
    {
        string Origin(OutcomeRecord survey) =>
            Script.Triggers.FirstOrDefault(t => t.TriggerId == survey.TriggerId && survey.TriggerId != "")?.OriginChannel
            ?? Script.Sessions.FirstOrDefault(s => s.ShopperId == survey.ShopperId && s.SessionId == survey.SessionId)?.OriginChannel
            ?? "unknown";
        var answers = Script.Outcomes.Where(o => o.Type == OutcomeTypes.SurveyAnswered).Select(s => (Origin: Origin(s), Reason: s.SurveyReason)).ToList();
        var expected = answers.GroupBy(a => a).OrderBy(g => g.Key.Origin, StringComparer.Ordinal).ThenBy(g => g.Key.Reason, StringComparer.Ordinal)
            .Select(g => $"{g.Key.Origin}\t{g.Key.Reason}\t{g.Count()}\t{Rate(g.Count(), answers.Count(a => a.Origin == g.Key.Origin))}").ToList();

        var table = await fixture.RunAsync(FeedbackQueries.SurveyReasonsByOrigin);

        Assert.Equal(expected, table.Rows.Select(r => $"{r[0]}\t{r[1]}\t{r[2]}\t{Round4(r[3])}"));
        Assert.Contains(table.RowIndexes, i => table.Text(i, "origin_channel") == "unknown");
    }

    [Fact]
    public async Task Variants_are_compared_with_their_own_holdout()
    {
        var expected = Carts.GroupBy(c => c.Variant).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g =>
        {
            var treated = g.Where(c => !c.Holdout).ToList();
            var holdout = g.Where(c => c.Holdout).ToList();
            bool Converted(SessionOutcome c) => CreditedOrder(c) is not null;
            var lift = (double)treated.Count(Converted) / treated.Count - (holdout.Count == 0 ? 0 : (double)holdout.Count(Converted) / holdout.Count);
            var interval = ConfidenceIntervals.EnoughToTell(treated.Count, holdout.Count)
                ? Bounds(ConfidenceIntervals.Newcombe(treated.Count(Converted), treated.Count, holdout.Count(Converted), holdout.Count))
                : ConfidenceIntervals.TooFew;
            return (g.Key, treated.Count, treated.Count(Recovered), lift, interval);
        }).ToList();

        var table = FigureIntervals.WithIntervalColumn(FeedbackQueries.VariantComparison, await fixture.RunAsync(FeedbackQueries.VariantComparison));

        Assert.Equal(expected.Select(e => e.Key), table.RowIndexes.Select(i => table.Text(i, "variant")));
        foreach (var (e, i) in expected.Zip(table.RowIndexes))
        {
            Assert.Equal(e.Item2, (int)table.Number(i, "treated_carts"));
            Assert.Equal(e.Item3, (int)table.Number(i, "recovered_carts"));
            Assert.Equal(e.lift, table.Number(i, "lift"), 9);
            Assert.Equal(e.interval, table.Text(i, "lift_95_ci"));
        }
    }

    private static string Bounds(Interval ci) => string.Create(CultureInfo.InvariantCulture, $"[{ci.Low:0.0000}, {ci.High:0.0000}]");

    [Fact]
    public async Task Survey_free_text_is_in_no_figure()
    {
        foreach (var query in FeedbackQueries.All)
            Assert.DoesNotContain("not in any figure", await fixture.Store.QueryAsync(query.Sql, QueryTable.Format, CancellationToken.None));
    }

    private static string Rate(int part, int whole) => whole == 0 ? "0" : Math.Round((double)part / whole, 4).ToString(CultureInfo.InvariantCulture);

    private static string Round4(string cell) => Math.Round(double.Parse(cell, CultureInfo.InvariantCulture), 4).ToString(CultureInfo.InvariantCulture);
}
