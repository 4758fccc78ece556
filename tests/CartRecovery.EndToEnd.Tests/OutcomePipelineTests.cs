using System.Text;
using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.State;
using CartRecovery.Host.Commands;
using CartRecovery.Kafka.Embedded;
using Xunit.Abstractions;

namespace CartRecovery.EndToEnd.Tests;

/// <summary>
/// Every outcome event, end to end: published on outcome-events to the embedded broker, consumed by the worker CLI,
/// kept in ClickHouse (outcome_events) and audited; a hard bounce moves the next step to the next consented channel,
/// a complaint leaves none (suppressed channel_blocked); an outcome of a trigger the worker never sent is kept as
/// unmatched; an invalid one is dead-lettered; the survey's free text reaches outcome_events only.
/// </summary>
[Collection("processes")]
public sealed class OutcomePipelineTests(ITestOutputHelper output) : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);
    private const string SecretText = "the parcel to my flat at 12 Secret Street costs too much";
    private readonly string _data = Directory.CreateTempSubdirectory("cartrecovery-e2e-outcomes-").FullName;
    private readonly MockKafkaCluster _broker = EmbeddedBroker.Start(partitions: 3);

    [Fact]
    public async Task Each_outcome_event_reaches_ClickHouse_and_bounces_and_complaints_retire_the_channel()
    {
        var version = PolicyFile.LoadDefault().Version;
        var events = new List<ShopperEvent>();
        // Bounced: sms and email consent; step 1 goes by sms (the default prefers push, sms, email) and bounces hard.
        events.Add(Consent("bounced", "sms", "b-c1"));
        events.Add(Consent("bounced", "email", "b-c2"));
        events.AddRange(Cart("bounced", "b-sess", T0, "b"));
        var bouncedStep1 = ReminderId(version, "bounced", "b-sess", T0, 1);
        var bouncedStep2 = ReminderId(version, "bounced", "b-sess", T0, 2);
        events.Add(new MessageBounced { EventId = "b-bounce", ShopperId = "bounced", EventTime = T0.AddMinutes(100), TriggerId = bouncedStep1, Channel = "sms", BounceType = "hard" });
        events.Add(new SurveyAnswered { EventId = "b-survey", ShopperId = "bounced", EventTime = T0.AddHours(3), TriggerId = bouncedStep1, Reason = "Shipping_Cost", FreeText = SecretText });
        events.Add(new MessageDelivered { EventId = "b-delivered-2", ShopperId = "bounced", EventTime = T0.AddDays(1).AddHours(2), TriggerId = bouncedStep2, Channel = "email" });
        // Reader: email only; reads, clicks, then complains: step 2 has no channel left.
        events.Add(Consent("reader", "email", "r-c1"));
        events.AddRange(Cart("reader", "r-sess", T0.AddMinutes(2), "r"));
        var readerStep1 = ReminderId(version, "reader", "r-sess", T0.AddMinutes(2), 1);
        events.Add(new MessageDelivered { EventId = "r-delivered", ShopperId = "reader", SessionId = "r-sess", EventTime = T0.AddMinutes(99), TriggerId = readerStep1, Channel = "email" });
        events.Add(new MessageOpened { EventId = "r-opened", ShopperId = "reader", EventTime = T0.AddMinutes(110), TriggerId = readerStep1, Channel = "Email" });
        events.Add(new MessageClicked { EventId = "r-clicked", ShopperId = "reader", EventTime = T0.AddMinutes(112), TriggerId = readerStep1, Channel = "email" });
        events.Add(new MessageComplained { EventId = "r-complained", ShopperId = "reader", EventTime = T0.AddMinutes(120), TriggerId = readerStep1, Channel = "email" });
        events.Add(new MessageOpened { EventId = "r-unknown", ShopperId = "reader", EventTime = T0.AddMinutes(121), TriggerId = "sent-by-an-older-version", Channel = "email" });
        // Payer: two payment failures bring a proactive chat; accepted, resolved on first contact, then the order.
        events.Add(new SessionStarted { EventId = "p-start", ShopperId = "payer", SessionId = "p-sess", EventTime = T0.AddMinutes(3), TimeZone = "UTC" });
        events.Add(new CartLineAdded { EventId = "p-add", ShopperId = "payer", SessionId = "p-sess", EventTime = T0.AddMinutes(4), Line = new CartLine { Sku = "tv", UnitPrice = 640, Quantity = 1 } });
        events.Add(new PaymentFailed { EventId = "p-fail-1", ShopperId = "payer", SessionId = "p-sess", EventTime = T0.AddMinutes(5), ErrorCode = "card_declined" });
        events.Add(new PaymentFailed { EventId = "p-fail-2", ShopperId = "payer", SessionId = "p-sess", EventTime = T0.AddMinutes(6), ErrorCode = "3ds_failed" });
        var chatId = RecoveryIds.ProactiveChat(version, Session("payer", "p-sess", T0.AddMinutes(3), abandonments: 0));
        events.Add(new ChatAccepted { EventId = "p-accepted", ShopperId = "payer", SessionId = "p-sess", EventTime = T0.AddMinutes(7), TriggerId = chatId });
        events.Add(new ChatResolved { EventId = "p-resolved", ShopperId = "payer", EventTime = T0.AddMinutes(12), TriggerId = chatId, ResolvedFirstContact = true, Satisfaction = 5 });
        events.Add(new OrderPlaced { EventId = "p-order", ShopperId = "payer", SessionId = "p-sess", EventTime = T0.AddMinutes(14), OrderId = "o-p", Total = 640m });
        // Something far in the event-time future closes every window.
        events.Add(new SessionStarted { EventId = "l-start", ShopperId = "late-visitor", SessionId = "l-sess", EventTime = T0.AddDays(3), TimeZone = "UTC" });

        var records = events.OrderBy(e => e.EventTime)
            .Select(e => (InputTopic(e), (string?)e.ShopperId, ContractJson.SerializeEvent(e)))
            .Append((Topics.OutcomeEvents, "reader", Encoding.UTF8.GetBytes(
                """{"type":"survey_answered","event_id":"r-bad","shopper_id":"reader","event_time":"2026-11-02T12:00:00Z","trigger_id":"x","reason":"bogus","free_text":"secret"}""")))
            .ToList();
        Host.TrafficPublisher.PublishRaw(_broker.BootstrapServers, records);

        var policyFile = Path.Combine(_data, "policy.json");
        await File.WriteAllTextAsync(policyFile, PolicyFile.DefaultText().Replace("\"holdout_share\": 0.10", "\"holdout_share\": 0.0"));
        var run = await Cli.RunAsync(TimeSpan.FromMinutes(4), "worker", "--bootstrap", _broker.BootstrapServers, "--data", _data, "--drain", "--policy", policyFile);
        output.WriteLine(run.Stdout + run.Stderr);
        Assert.Equal(0, run.ExitCode);
        Assert.DoesNotContain("Secret Street", run.Stdout + run.Stderr);

        // Every outcome type kept, with what the worker knew; the channel normalised; the unknown trigger unmatched.
        var kept = await Cli.QueryTsvAsync(_data,
            "SELECT event_id, type, shopper_id, channel, matched, trigger_id = '' FROM outcome_events FINAL ORDER BY event_id");
        Assert.Equal(
        [
            "b-bounce\tmessage_bounced\tbounced\tsms\ttrue\t0",
            "b-delivered-2\tmessage_delivered\tbounced\temail\ttrue\t0",
            "b-survey\tsurvey_answered\tbounced\t\ttrue\t0",
            "p-accepted\tchat_accepted\tpayer\tchat\ttrue\t0",
            "p-resolved\tchat_resolved\tpayer\tchat\ttrue\t0",
            "r-clicked\tmessage_clicked\treader\temail\ttrue\t0",
            "r-complained\tmessage_complained\treader\temail\ttrue\t0",
            "r-delivered\tmessage_delivered\treader\temail\ttrue\t0",
            "r-opened\tmessage_opened\treader\temail\ttrue\t0",
            "r-unknown\tmessage_opened\treader\temail\tfalse\t0",
        ], Lines(kept));
        var details = await Cli.QueryTsvAsync(_data,
            "SELECT survey_reason, free_text, bounce_type, resolved_first_contact, satisfaction, session_id FROM outcome_events FINAL WHERE event_id IN ('b-survey', 'b-bounce', 'p-resolved') ORDER BY event_id");
        Assert.Equal(["\t\\N\thard\t\\N\t\\N\tb-sess", $"shipping_cost\t{SecretText}\t\t\\N\t\\N\tb-sess", "\t\\N\t\ttrue\t5\tp-sess"], Lines(details));

        // The bounce moved step 2 to email; the complaint left the reader no channel for step 2.
        var reminders = await Cli.QueryTsvAsync(_data, "SELECT shopper_id, step, channel FROM recovery_triggers FINAL WHERE kind = 'reminder' ORDER BY shopper_id, step");
        Assert.Equal(["bounced\t1\tsms", "bounced\t2\temail", "reader\t1\temail"], Lines(reminders));
        var audits = await Cli.QueryTsvAsync(_data,
            "SELECT shopper_id, decision, reason, channel, arrayStringConcat(evidence, ',') FROM audit_log FINAL " +
            "WHERE decision IN ('channel_blocked', 'suppressed') OR (decision = 'triggered' AND step = 2) ORDER BY shopper_id, decision");
        Assert.Equal(
        [
            $"bounced\tchannel_blocked\tmessage_bounced\tsms\tb-bounce,{bouncedStep1}",
            "bounced\ttriggered\treminder_step\temail\tb-c2,b-add-2",
            $"reader\tchannel_blocked\tmessage_complained\temail\tr-complained,{readerStep1}",
            "reader\tsuppressed\tchannel_blocked\temail\tr-complained",
        ], Lines(audits));
        var fallback = await Cli.QueryTsvAsync(_data, "SELECT detail FROM audit_log FINAL WHERE shopper_id = 'bounced' AND decision = 'triggered' AND step = 2");
        Assert.Contains("fallback_from=sms(message_bounced)", Lines(fallback).Single());

        // Audited once each, unmatched with its own reason; the survey's free text in no audit row or dead letter.
        var received = await Cli.QueryTsvAsync(_data, "SELECT reason, count() FROM audit_log FINAL WHERE decision = 'outcome_received' GROUP BY reason ORDER BY reason");
        Assert.Equal(["chat_accepted\t1", "chat_resolved\t1", "message_bounced\t1", "message_clicked\t1", "message_complained\t1", "message_delivered\t2",
            "message_opened\t1", "survey_answered\t1", "unmatched\t1"], Lines(received));
        Assert.Equal("0", Lines(await Cli.QueryTsvAsync(_data, "SELECT count() FROM audit_log FINAL WHERE detail LIKE '%Secret%' OR detail LIKE '%parcel%'")).Single());
        Assert.Equal(["outcome-events\tinvalid_field\treason must be one of shipping_cost, payment_trouble, price, comparison, just_browsing, other"],
            Lines(await Cli.QueryTsvAsync(_data, "SELECT topic, reason, detail FROM dead_letters FINAL")));
    }

    private static string ReminderId(string version, string shopper, string session, DateTimeOffset start, int step) =>
        RecoveryIds.Reminder(version, Session(shopper, session, start, abandonments: 1), step);

    private static SessionState Session(string shopper, string session, DateTimeOffset start, int abandonments) => new()
    {
        ShopperId = shopper, SessionId = session, OriginChannel = "web", Currency = "EUR", TimeZone = "UTC", StartedAt = start,
        LastActivityAt = start, Abandonments = abandonments,
    };

    private static ConsentGranted Consent(string shopper, string channel, string id) => new()
    {
        EventId = id, ShopperId = shopper, EventTime = T0.AddDays(-3), Purpose = "cart_recovery", Channel = channel, Source = "checkout_form", WordingVersion = "v3",
    };

    private static IEnumerable<ShopperEvent> Cart(string shopper, string session, DateTimeOffset start, string prefix)
    {
        yield return new SessionStarted { EventId = $"{prefix}-start", ShopperId = shopper, SessionId = session, EventTime = start, TimeZone = "UTC" };
        yield return new CartLineAdded
        {
            EventId = $"{prefix}-add-2", ShopperId = shopper, SessionId = session, EventTime = start.AddMinutes(1),
            Line = new CartLine { Sku = "lamp", Name = "lamp", UnitPrice = 49.90m, Quantity = 1 },
        };
    }

    private static string InputTopic(ShopperEvent e) => e switch
    {
        ConsentEvent => Topics.ConsentEvents,
        OutcomeEvent => Topics.OutcomeEvents,
        OrderPlaced or PaymentAuthorized => Topics.OrderEvents,
        _ => Topics.CartEvents,
    };

    private static string[] Lines(string tsv) => tsv.Split('\n', StringSplitOptions.RemoveEmptyEntries)[1..];

    public void Dispose()
    {
        _broker.Dispose();
        try { Directory.Delete(_data, recursive: true); } catch (IOException) { }
    }
}
