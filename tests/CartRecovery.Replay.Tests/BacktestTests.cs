using System.Text.Json.Nodes;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Policy;
using CartRecovery.Replay.Tests.Support;
using Xunit.Abstractions;

namespace CartRecovery.Replay.Tests;

/// <summary>A backtest compares two policies on the same input; a change of one setting shows as exactly its effect.</summary>
public sealed class BacktestTests(ITestOutputHelper output) : IDisposable
{
    private static readonly DateTimeOffset Morning = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _temp = new();

    [Fact]
    public async Task Policies_differing_only_in_the_first_step_delay_differ_only_in_when_step_one_is_due_and_sent()
    {
        var input = _temp.Sub("shoppers.ndjson");
        await File.WriteAllLinesAsync(input, DaytimeShoppers(40).Select(ContractJson.SerializeEventToString));
        var oneHour = _temp.Sub("step1-1h.json");
        var twoHours = _temp.Sub("step1-2h.json");
        var defaults = PolicyFile.DefaultText();
        Assert.Contains("{ \"delay\": \"1h\" }", defaults);
        await File.WriteAllTextAsync(oneHour, defaults);
        await File.WriteAllTextAsync(twoHours, defaults.Replace("{ \"delay\": \"1h\" }", "{ \"delay\": \"2h\" }"));

        var html = _temp.Sub("report.html");
        var json = _temp.Sub("report.json");
        var run = await Cli.RunOkAsync(TimeSpan.FromMinutes(10), "backtest", "--input", input, "--format", "ndjson", "--policy", oneHour, "--policy", twoHours,
            "--out", html, "--json", json, "--work", _temp.Sub("work"));
        output.WriteLine(run.Stdout);

        var rows = JsonNode.Parse(await File.ReadAllTextAsync(json))!["rows"]!.AsArray()
            .Select(r => (Section: (string)r!["section"]!, Name: (string)r["name"]!, A: (string)r["a"]!, B: (string)r["b"]!)).ToList();
        var differing = rows.Where(r => r.A != r.B).Select(r => $"{r.Name}: {r.A} -> {r.B}").ToList();
        Assert.Equal(["step 1 due: 1 -> 2", "step 1 sent: 1.08 -> 2.08"], differing);

        // The rest is really there, and equal: both steps sent, holdout, recoveries from the input's own orders.
        string Value(string name) => rows.Single(r => r.Name == name).A;
        Assert.Equal("24", Value("step 2 due"));
        Assert.NotEqual("0", Value("reminder step 1 via email"));
        Assert.NotEqual("0", Value("reminder step 2 via email"));
        Assert.NotEqual("0", Value("abandoned carts recovered"));
        Assert.Contains(rows, r => r.Name == "holdout share of abandoned carts");
        Assert.Contains(rows, r => r.Name == "reminders per messaged shopper (mean)");

        var page = await File.ReadAllTextAsync(html);
        Assert.Contains("<table", page);
        Assert.Contains("step 1 due", page);
        Assert.DoesNotContain("<script", page);
        Assert.DoesNotContain("<link", page);
        Assert.DoesNotContain("http://", page);
        Assert.DoesNotContain("https://", page);
    }

    [Fact]
    public async Task A_policy_where_the_risk_score_decides_shows_its_suppressions_and_earlier_timing()
    {
        var input = _temp.Sub("shoppers.ndjson");
        await File.WriteAllLinesAsync(input, DaytimeShoppers(40).Select(ContractJson.SerializeEventToString));
        var defaults = _temp.Sub("default.json");
        var scored = _temp.Sub("scored.json");
        await File.WriteAllTextAsync(defaults, PolicyFile.DefaultText());
        // Step 1 anywhere from 1 h to 4 h (earlier for riskier carts); step 2 only for carts scored 0.99 or more (none here).
        await File.WriteAllTextAsync(scored, PolicyFile.DefaultText()
            .Replace("{ \"delay\": \"1h\" }", "{ \"delay\": \"1h\", \"latest_delay\": \"4h\" }")
            .Replace("{ \"delay\": \"24h\" }", "{ \"delay\": \"24h\", \"min_score\": 0.99 }"));

        var json = _temp.Sub("report.json");
        var run = await Cli.RunOkAsync(TimeSpan.FromMinutes(10), "backtest", "--input", input, "--format", "ndjson", "--policy", defaults, "--policy", scored,
            "--out", _temp.Sub("report.html"), "--json", json, "--work", _temp.Sub("work"));
        output.WriteLine(run.Stdout);

        var rows = JsonNode.Parse(await File.ReadAllTextAsync(json))!["rows"]!.AsArray()
            .Select(r => (Name: (string)r!["name"]!, A: (string)r["a"]!, B: (string)r["b"]!)).ToList();
        (string A, string B) Row(string name) => rows.Where(r => r.Name == name).Select(r => (r.A, r.B)).SingleOrDefault(("0", "0"));
        var step2 = Row("reminder step 2 via email");
        Assert.NotEqual("0", step2.A);
        Assert.Equal("0", step2.B);
        // Every cart that reached step 2 (messaged in A, or held out: the threshold comes before the holdout) is suppressed.
        Assert.True(int.Parse(Row("score_below_threshold").B) >= int.Parse(step2.A));
        Assert.Equal("0", Row("score_below_threshold").A);
        var due = Row("step 1 due");
        Assert.Equal("1", due.A);
        Assert.InRange(double.Parse(due.B, System.Globalization.CultureInfo.InvariantCulture), 1.01, 3.99);
    }

    /// <summary>Shoppers on UTC in the morning (no quiet hours in reach), all with email consent: a quarter buy at once,
    /// a quarter come back and buy 30 h later (after both reminders), the rest abandon.</summary>
    private static IEnumerable<ShopperEvent> DaytimeShoppers(int count)
    {
        for (var i = 0; i < count; i++)
        {
            var shopper = $"shopper-{i:D3}";
            var session = $"session-{i:D3}";
            var start = Morning.AddMinutes(i);
            yield return new ConsentGranted
            {
                EventId = $"{shopper}-consent", ShopperId = shopper, EventTime = Morning.AddDays(-1), Purpose = "cart_recovery", Channel = "email",
                Source = "checkout_form", WordingVersion = "v1",
            };
            yield return new SessionStarted { EventId = $"{shopper}-start", ShopperId = shopper, SessionId = session, EventTime = start, TimeZone = "UTC", Currency = "EUR" };
            var line = new CartLine { Sku = $"sku-{i % 7}", Name = "item", UnitPrice = 20 + i, Quantity = 1 };
            yield return new CartLineAdded { EventId = $"{shopper}-add", ShopperId = shopper, SessionId = session, EventTime = start.AddMinutes(1), Line = line, Currency = "EUR" };
            var orderAt = (i % 4) switch { 0 => start.AddMinutes(3), 1 => start.AddHours(30), _ => (DateTimeOffset?)null };
            if (orderAt is { } at)
                yield return new OrderPlaced
                {
                    EventId = $"{shopper}-order", ShopperId = shopper, SessionId = session, EventTime = at, OrderId = $"order-{i:D3}", Lines = [line],
                    Total = line.Total, Currency = "EUR",
                };
        }
    }

    public void Dispose() => _temp.Dispose();
}
