using CartRecovery.Replay.Tests.Support;
using Xunit.Abstractions;

namespace CartRecovery.Replay.Tests;

/// <summary>
/// The recorded REES46 sample replayed through the real parts (embedded broker, worker, chDB), checked against a
/// computation over the same CSV that shares no code with the importer or the engine.
/// </summary>
public sealed class Rees46SampleReplayTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    [SharedSampleFact]
    public async Task Replay_abandons_exactly_the_sessions_with_a_cart_and_no_later_purchase_and_purchases_suppress_reminders()
    {
        var data = _temp.Sub("data");
        var replay = await Cli.RunOkAsync(TimeSpan.FromMinutes(5), "replay", "--input", SharedSample.Path, "--format", "rees46", "--data", data, "--partitions", "3");
        output.WriteLine(replay.Stdout);
        Assert.Contains("0 bad lines skipped", replay.Stdout);

        var expected = IndependentSessions.Compute(SharedSample.Path);
        Assert.NotEmpty(expected.CartWithoutPurchase);

        var abandoned = Cli.Rows(await Cli.QueryTsvAsync(data, "SELECT session_id FROM session_outcomes FINAL WHERE outcome = 'abandoned' ORDER BY session_id"));
        // The definition: a cart event and no purchase in the session. The engine also judges a session abandoned
        // when the shopper put something in the cart again after the session's last purchase (the order closed the
        // session, the new cart line reopened it); the independent computation names those sessions separately.
        Assert.Equal(expected.CartWithoutPurchase.Union(expected.CartAfterLastPurchase).Order(StringComparer.Ordinal), abandoned);

        var reminded = Cli.Rows(await Cli.QueryTsvAsync(data, "SELECT DISTINCT session_id FROM recovery_triggers FINAL WHERE kind = 'reminder' ORDER BY session_id"));
        Assert.NotEmpty(reminded); // the default consent of the import makes reminders possible at all
        Assert.Empty(reminded.Intersect(expected.WithPurchase));
        Assert.Subset(abandoned.ToHashSet(), reminded.ToHashSet()); // reminders only for abandoned sessions

        // Every abandoned session's first step is either a trigger or an audited suppression (holdout, ...).
        var decided = Cli.Rows(await Cli.QueryTsvAsync(data,
            "SELECT DISTINCT session_id FROM audit_log FINAL WHERE step = 1 AND decision IN ('triggered', 'suppressed') ORDER BY session_id"));
        Assert.Subset(decided.ToHashSet(), abandoned.ToHashSet());

        // The re-added-after-purchase sessions hold only items just bought: their reminders are suppressed for that.
        foreach (var session in expected.CartAfterLastPurchase)
        {
            var reasons = Cli.Rows(await Cli.QueryTsvAsync(data,
                $"SELECT DISTINCT reason FROM audit_log FINAL WHERE decision = 'suppressed' AND session_id = '{session}'"));
            Assert.Equal(["items_already_bought"], reasons);
        }
    }

    public void Dispose() => _temp.Dispose();
}

/// <summary>Abandonment computed straight from the CSV: plain string handling, no project code.</summary>
public sealed record IndependentSessions(IReadOnlyList<string> CartWithoutPurchase, IReadOnlyList<string> CartAfterLastPurchase, IReadOnlyList<string> WithPurchase)
{
    public static IndependentSessions Compute(string csvPath)
    {
        var sessions = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(csvPath).Skip(1))
        {
            if (line.Length == 0) continue;
            var fields = line.Split(',');
            var (eventType, session) = (fields[1], fields[8]);
            if (!sessions.TryGetValue(session, out var types)) sessions[session] = types = [];
            types.Add(eventType);
        }
        var withoutPurchase = new List<string>();
        var afterLastPurchase = new List<string>();
        var withPurchase = new List<string>();
        foreach (var (session, types) in sessions)
        {
            var lastPurchase = types.LastIndexOf("purchase");
            if (lastPurchase >= 0) withPurchase.Add(session);
            if (lastPurchase < 0 && types.Contains("cart")) withoutPurchase.Add(session);
            if (lastPurchase >= 0 && types.Skip(lastPurchase + 1).Contains("cart")) afterLastPurchase.Add(session);
        }
        return new IndependentSessions(withoutPurchase, afterLastPurchase, withPurchase);
    }
}
