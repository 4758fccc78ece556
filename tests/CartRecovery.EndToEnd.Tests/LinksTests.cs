using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Compliance;
using CartRecovery.Domain.Policy;
using Confluent.Kafka;
using Xunit.Abstractions;

namespace CartRecovery.EndToEnd.Tests;

/// <summary>
/// The `links` service as its own process against the embedded broker (a CLI process too): one-click unsubscribe and
/// resume in headless Chromium, refusals and the rate limit over HTTP, and the whole loop with the worker: the
/// unsubscribe link of a real reminder, POSTed as a mailbox provider does (RFC 8058), suppresses the next step.
/// </summary>
[Collection("processes")]
public sealed partial class LinksTests(ITestOutputHelper output) : IDisposable
{
    private static readonly ComplianceKeys Keys = ComplianceKeys.Development;
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("cartrecovery-links-");
    // Expiries far from any "now" the suite runs at: valid tokens stay valid, expired ones stay expired.
    private static readonly DateTimeOffset FarFuture = new(2099, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset LongAgo = new(2001, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private string Dir(string name) => Path.Combine(_root.FullName, name);

    private async Task<string> PolicyAsync(Func<string, string> edit)
    {
        var file = Dir($"policy-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, edit(PolicyFile.DefaultText()));
        return file;
    }

    [Fact]
    public async Task The_unsubscribe_page_in_a_browser_confirms_and_its_button_publishes_one_unsubscribed_event()
    {
        if (!HeadlessChromium.Installed)
        {
            output.WriteLine($"SKIPPED: {HeadlessChromium.Executable} not installed (scripts/install-chromium.sh installs Debian's chromium)");
            return;
        }
        using var broker = new BrokerProcess(partitions: 2);
        using var links = new LinksProcess(broker.Bootstrap, await PolicyAsync(text => text));
        var token = MessageTokens.Unsubscribe(Keys, "cust-browser-1", "cart_recovery", "email", "trig-b1", FarFuture);
        await using var browser = await HeadlessChromium.StartAsync();

        await browser.NavigateAsync($"{links.Address}/unsubscribe?token={token}");
        await browser.WaitUntilAsync("document.getElementById('unsubscribe')");
        Assert.Equal("Unsubscribe", await browser.EvaluateAsync("document.title"));
        Assert.Contains("Stop cart recovery messages by email?", await browser.EvaluateAsync("document.body.innerText"));
        // Opening the page changed nothing: a mail scanner following the link must not unsubscribe anyone.
        Assert.Empty(ConsentEvents(broker.Bootstrap));

        await browser.EvaluateAsync("document.getElementById('unsubscribe').click()");
        await browser.WaitUntilAsync("document.getElementById('done')");
        Assert.Equal("You are unsubscribed: no more cart recovery messages by email.", await browser.EvaluateAsync("document.getElementById('done').innerText"));
        Assert.DoesNotContain("cust-browser-1", await browser.EvaluateAsync("document.documentElement.outerHTML"));

        var published = Assert.Single(ConsentEvents(broker.Bootstrap));
        Assert.Equal("cust-browser-1", published.Message.Key);
        var unsubscribed = Assert.IsType<Unsubscribed>(Parsed(published.Message.Value));
        Assert.Equal(("cust-browser-1", "cart_recovery", "email", "one_click_unsubscribe"),
            (unsubscribed.ShopperId, unsubscribed.Purpose, unsubscribed.Channel, unsubscribed.Source));
        Assert.StartsWith("unsub-", unsubscribed.EventId);
    }

    [Fact]
    public async Task The_resume_link_in_a_browser_lands_on_the_storefront_checkout_with_the_cart_and_step()
    {
        if (!HeadlessChromium.Installed)
        {
            output.WriteLine($"SKIPPED: {HeadlessChromium.Executable} not installed (scripts/install-chromium.sh installs Debian's chromium)");
            return;
        }
        // The storefront: a real HTTP listener that records the checkout request the browser makes.
        var storefrontPort = FreePort();
        using var storefront = new HttpListener();
        storefront.Prefixes.Add($"http://127.0.0.1:{storefrontPort}/");
        storefront.Start();
        var checkoutRequest = ServeOnceAsync(storefront, "<html><head><title>Checkout</title></head><body><p id=\"checkout\">checkout</p></body></html>");

        using var broker = new BrokerProcess(partitions: 1);
        using var links = new LinksProcess(broker.Bootstrap,
            await PolicyAsync(text => text.Replace("https://shop.example/checkout?", $"http://127.0.0.1:{storefrontPort}/checkout?")));
        var token = MessageTokens.Resume(Keys, "cust-browser-2", "sess-b2", "trig-b2", FarFuture, "payment",
            [new TokenCartLine("kettle-06", 2), new TokenCartLine("mug&co,blue", 1)]);
        await using var browser = await HeadlessChromium.StartAsync();

        await browser.NavigateAsync($"{links.Address}/resume?token={token}");
        await browser.WaitUntilAsync("document.getElementById('checkout')");
        var expected = $"http://127.0.0.1:{storefrontPort}/checkout?cart=kettle-06:2,mug%26co%2Cblue:1&step=payment&ref=trig-b2";
        Assert.Equal(expected, await browser.EvaluateAsync("location.href"));
        Assert.Equal("/checkout?cart=kettle-06:2,mug%26co%2Cblue:1&step=payment&ref=trig-b2", await checkoutRequest);
    }

    [Fact]
    public async Task Bad_expired_and_wrong_kind_tokens_are_refused_with_a_page_and_requests_beyond_the_limit_get_429()
    {
        using var broker = new BrokerProcess(partitions: 1);
        // A window of an hour: the limit cannot reset between the requests below.
        using var links = new LinksProcess(broker.Bootstrap, await PolicyAsync(text => text), "--Links:RateLimit:PermitLimit=6", "--Links:RateLimit:Window=01:00:00");
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        var expired = MessageTokens.Unsubscribe(Keys, "cust-x", "cart_recovery", "email", "trig-x", LongAgo);
        var resume = MessageTokens.Resume(Keys, "cust-x", "s-x", "trig-x", FarFuture, "cart", []);
        var valid = MessageTokens.Unsubscribe(Keys, "cust-x", "cart_recovery", "sms", "trig-x", FarFuture);

        async Task<(HttpStatusCode, string)> Get(string path)
        {
            using var response = await http.GetAsync(links.Address + path);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        var (status, page) = await Get("/unsubscribe?token=unsubscribe.v2.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("This link is not valid", page);
        (status, page) = await Get($"/unsubscribe?token={expired}");
        Assert.Equal(HttpStatusCode.Gone, status);
        Assert.Contains("This unsubscribe link has expired", page);
        (status, _) = await Get($"/unsubscribe?token={resume}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        (status, _) = await Get($"/resume?token={valid}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        // A POST without the RFC 8058 body is not an unsubscribe.
        using (var noBody = await http.PostAsync($"{links.Address}/unsubscribe?token={valid}", new FormUrlEncodedContent([new("other", "1")])))
            Assert.Equal(HttpStatusCode.BadRequest, noBody.StatusCode);
        Assert.Empty(ConsentEvents(broker.Bootstrap));
        (status, _) = await Get($"/unsubscribe?token={valid}");
        Assert.Equal(HttpStatusCode.OK, status);
        // Six requests so far: the seventh is over the limit.
        (status, page) = await Get($"/unsubscribe?token={valid}");
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Contains("Too many requests", page);
        // Probes are not rate limited.
        Assert.Equal(HttpStatusCode.OK, (await Get("/healthz")).Item1);
    }

    [Fact]
    public async Task The_unsubscribe_link_of_a_real_reminder_posted_one_click_suppresses_the_next_step_as_consent_withdrawn()
    {
        using var broker = new BrokerProcess(partitions: 1);
        var policy = await PolicyAsync(text => text.Replace("\"holdout_share\": 0.10,", "\"holdout_share\": 0.0,"));
        using var links = new LinksProcess(broker.Bootstrap, policy);

        // Times relative to now: the unsubscribe is published at the wall clock, between step 1 (1 h after the cart was
        // left) and step 2 (24 h after). The shopper's zone puts step 1 at midday local time, outside quiet hours.
        var now = DateTimeOffset.UtcNow;
        var left = now.AddHours(-4);
        var stepOneDue = left.AddMinutes(30 + 60);
        var offset = ((12 - stepOneDue.UtcDateTime.Hour) % 24 + 24) % 24;
        if (offset > 12) offset -= 24;
        var zone = offset == 0 ? "UTC" : $"Etc/GMT{(offset > 0 ? "-" : "+")}{Math.Abs(offset)}";
        const string shopper = "cust-links-loop";
        ShopperEvent[] events =
        [
            new ConsentGranted { EventId = "l-consent", ShopperId = shopper, EventTime = left.AddHours(-1), Purpose = "cart_recovery", Channel = "email",
                Source = "checkout_form", WordingVersion = "w-1" },
            new SessionStarted { EventId = "l-start", ShopperId = shopper, SessionId = "l-sess", EventTime = left, TimeZone = zone },
            new CartLineAdded { EventId = "l-add", ShopperId = shopper, SessionId = "l-sess", EventTime = left.AddSeconds(10), Currency = "EUR",
                Line = new CartLine { Sku = "kettle-06", Name = "Kettle", UnitPrice = 39.5m, Quantity = 2 } },
            new CheckoutStarted { EventId = "l-checkout", ShopperId = shopper, SessionId = "l-sess", EventTime = left.AddSeconds(20) },
            // Two other shoppers' visits about an hour ago move the watermark past step 1's due time. They are three hours
            // after the cart, so one alone would be a clock that might be off until another shopper confirms it
            // (max_future_skew, README "Semantics"); the second does.
            new SessionStarted { EventId = "w-start", ShopperId = "cust-links-other", SessionId = "w-sess", EventTime = now.AddHours(-1) },
            new SessionStarted { EventId = "v-start", ShopperId = "cust-links-another", SessionId = "v-sess", EventTime = now.AddMinutes(-50) },
        ];
        Host.TrafficPublisher.PublishRaw(broker.Bootstrap, events.Select(e =>
            (e is ConsentEvent ? Topics.ConsentEvents : Topics.CartEvents, (string?)e.ShopperId, ContractJson.SerializeEvent(e))));

        using var live = Cli.Start("worker", "--bootstrap", broker.Bootstrap, "--group", "links", "--data", Dir("data"), "--policy", policy);
        var log = new SynchronizedLog();
        live.OutputDataReceived += (_, e) => log.Add(e.Data);
        live.ErrorDataReceived += (_, e) => log.Add(e.Data);
        live.BeginOutputReadLine();
        live.BeginErrorReadLine();
        var reminder = await FirstReminderAsync(broker.Bootstrap, shopper, live, log);
        Assert.Equal((1, "email"), (reminder.Step, reminder.Channel));
        Assert.DoesNotContain(shopper, reminder.UnsubscribeUrl);
        Assert.DoesNotContain(shopper, reminder.ResumeUrl);
        Assert.Equal("List-Unsubscribe=One-Click", reminder.ListUnsubscribePost);
        var header = ListUnsubscribeHeader().Match(reminder.ListUnsubscribe);
        Assert.True(header.Success, reminder.ListUnsubscribe);

        // The dispatcher's header, POSTed as a mailbox provider does, to the links service (the link's host is the
        // service's public name; here it runs on loopback). Twice: a retry must not count twice.
        var oneClick = new Uri(header.Groups["url"].Value);
        using var http = new HttpClient();
        for (var i = 0; i < 2; i++)
        {
            using var response = await http.PostAsync(links.Address + oneClick.PathAndQuery,
                new FormUrlEncodedContent([new("List-Unsubscribe", "One-Click")]));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        var unsubscribeId = Assert.IsType<Unsubscribed>(Parsed(ConsentEvents(broker.Bootstrap).Last().Message.Value)).EventId;

        // The live worker stops (checkpoint, commit); a drain of the group reads the unsubscribe and ends event time,
        // so step 2 falls due.
        Process.Start("kill", ["-TERM", live.Id.ToString()])!.WaitForExit();
        Assert.True(live.WaitForExit(TimeSpan.FromMinutes(2)), $"the live worker did not stop:\n{log}");
        live.WaitForExit();
        Assert.True(live.ExitCode == 0, $"live worker exit {live.ExitCode}:\n{log}");
        var drain = await Cli.RunAsync(TimeSpan.FromMinutes(4), "worker", "--bootstrap", broker.Bootstrap, "--group", "links", "--data", Dir("data"),
            "--drain", "--policy", policy);
        Assert.True(drain.ExitCode == 0, drain.ToString());

        var audit = await Cli.QueryTsvAsync(Dir("data"),
            $"SELECT step, decision, reason FROM audit_log FINAL WHERE shopper_id = '{shopper}' AND decision IN ('triggered', 'suppressed') ORDER BY step");
        output.WriteLine(audit);
        Assert.Equal(["1\ttriggered\treminder_step", "2\tsuppressed\tconsent_withdrawn"], Cli.Rows(audit));
        // Audited once, as a consent change resting on the published event; the retry is the same event id.
        var changes = await Cli.QueryTsvAsync(Dir("data"),
            $"SELECT decision, reason FROM audit_log FINAL WHERE shopper_id = '{shopper}' AND has(evidence, '{unsubscribeId}') ORDER BY decision");
        output.WriteLine(changes);
        Assert.Contains("consent_changed\tunsubscribed", Cli.Rows(changes));
        Assert.Single(Cli.Rows(changes), row => row.StartsWith("consent_changed", StringComparison.Ordinal));
        Assert.Equal(2, ConsentEvents(broker.Bootstrap).Count(m => Parsed(m.Message.Value).EventId == unsubscribeId));
    }

    /// <summary>A published record as the worker's parser reads it: it must pass the worker's validation.</summary>
    private static ShopperEvent Parsed(byte[] value)
    {
        var parsed = EventParser.Parse(value);
        Assert.True(parsed.IsValid, $"{parsed.RejectReason}: {parsed.Detail}");
        return parsed.Event!;
    }

    private static async Task<RecoveryTrigger> FirstReminderAsync(string bootstrap, string shopper, Process worker, SynchronizedLog log)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrap, GroupId = "links-reader-" + Guid.NewGuid(), AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
        consumer.Assign(new TopicPartitionOffset(Topics.RecoveryTriggers, 0, Offset.Beginning));
        var clock = Stopwatch.StartNew();
        while (true)
        {
            Assert.False(worker.HasExited, $"the worker exited:\n{log}");
            if (clock.Elapsed > TimeSpan.FromMinutes(3)) throw new TimeoutException($"no reminder for {shopper}:\n{log}");
            if (consumer.Consume(TimeSpan.FromMilliseconds(500)) is { } result &&
                ContractJson.DeserializeTrigger(result.Message.Value) is { Kind: TriggerKinds.Reminder } trigger && trigger.ShopperId == shopper)
                return trigger;
            await Task.Yield();
        }
    }

    /// <summary>Every record on consent-events (every partition), read to its end.</summary>
    private static List<ConsumeResult<string, byte[]>> ConsentEvents(string bootstrap)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build();
        var partitions = admin.GetMetadata(Topics.ConsentEvents, TimeSpan.FromSeconds(10)).Topics.Single().Partitions.Count;
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrap, GroupId = "links-consent-" + Guid.NewGuid(), EnablePartitionEof = true, AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(Topics.ConsentEvents, p, Offset.Beginning)));
        var records = new List<ConsumeResult<string, byte[]>>();
        var atEnd = new HashSet<int>();
        while (atEnd.Count < partitions)
        {
            var result = consumer.Consume(TimeSpan.FromSeconds(10)) ?? throw new TimeoutException("consent-events not readable");
            if (result.IsPartitionEOF) atEnd.Add(result.Partition.Value);
            else records.Add(result);
        }
        return records;
    }

    private static async Task<string> ServeOnceAsync(HttpListener listener, string html)
    {
        var context = await listener.GetContextAsync();
        var url = context.Request.RawUrl ?? "";
        var body = System.Text.Encoding.UTF8.GetBytes(html);
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.ContentLength64 = body.Length;
        await context.Response.OutputStream.WriteAsync(body);
        context.Response.Close();
        // Later requests (a favicon) get a 404 without being recorded.
        _ = Task.Run(async () =>
        {
            while (listener.IsListening)
            {
                try { var next = await listener.GetContextAsync(); next.Response.StatusCode = 404; next.Response.Close(); }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException) { return; }
            }
        });
        return url;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [GeneratedRegex(@"^<(?<url>https://[^>]+)>$")]
    private static partial Regex ListUnsubscribeHeader();

    public void Dispose()
    {
        try { _root.Delete(recursive: true); } catch (IOException) { }
    }
}
