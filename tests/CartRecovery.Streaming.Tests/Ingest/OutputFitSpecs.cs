using System.Text;
using System.Text.Json;
using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Streaming.Ingest;
using Confluent.Kafka;

namespace CartRecovery.Streaming.Tests.Ingest;

/// <summary>The rules that make every output fit one Kafka record (OutputLimits) and the transport of a hand-over larger
/// than one input record (SplitRecords, SplitRecordJoiner): pure, without a broker.</summary>
public sealed class OutputFitSpecs
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);

    private static RecoveryTrigger Trigger(int lines, int skuLength, string body = "") => new()
    {
        TriggerId = "t", Kind = TriggerKinds.Reminder, ShopperId = "s", SessionId = "x", Step = 1, Channel = "email", Score = 0.5, Reason = "abandoned",
        PolicyVersion = "v", EventTime = T0, DueTime = T0, MessageBody = body,
        CartLines = [.. Enumerable.Range(0, lines).Select(i => new CartLine { Sku = i + new string('k', skuLength), UnitPrice = 1m, Quantity = 1 })],
    };

    [Fact]
    public void A_trigger_that_fits_is_unchanged()
    {
        var trigger = Trigger(lines: 3, skuLength: 10);
        var (fitted, json) = OutputLimits.FitTrigger(trigger, 100_000);
        Assert.Same(trigger, fitted);
        Assert.Equal(ContractJson.SerializeToUtf8(trigger), json);
    }

    [Theory]
    [InlineData(20, 60_000, 1_000_000)]
    [InlineData(100, 20_000, 300_000)]
    [InlineData(7, 30_000, 50_000)]
    public void Lines_that_do_not_fit_are_left_out_from_the_end_and_counted(int lines, int skuLength, int max)
    {
        var (fitted, json) = OutputLimits.FitTrigger(Trigger(lines, skuLength), max);
        Assert.True(json.Length <= max, $"{json.Length} > {max}");
        Assert.Equal(lines, fitted.CartLines.Count + fitted.CartLinesOmitted);
        Assert.True(fitted.CartLinesOmitted > 0);
        Assert.Equal(Enumerable.Range(0, fitted.CartLines.Count).Select(i => i.ToString()), fitted.CartLines.Select(l => l.Sku.TrimEnd('k')));
        Assert.Equal(json, ContractJson.SerializeToUtf8(fitted));
    }

    [Fact]
    public void A_body_too_large_even_without_lines_is_cut_to_fit()
    {
        var (fitted, json) = OutputLimits.FitTrigger(Trigger(lines: 2, skuLength: 10, body: string.Concat(Enumerable.Repeat("<é>\"", 100_000))), 50_000);
        Assert.True(json.Length <= 50_000);
        Assert.Empty(fitted.CartLines);
        Assert.Equal(2, fitted.CartLinesOmitted);
        Assert.EndsWith("[...]", fitted.MessageBody);
    }

    [Fact]
    public void A_dead_letter_of_a_huge_record_keeps_a_prefix_and_a_long_key_becomes_its_digest()
    {
        var payload = new byte[1_500_000];
        var (value, truncated) = OutputLimits.DeadLetterValue(payload);
        Assert.True(truncated);
        Assert.Equal(OutputLimits.DeadLetterValueBytes, value.Length);
        Assert.False(OutputLimits.DeadLetterValue(new byte[100]).Truncated);
        Assert.Equal("short", OutputLimits.DeadLetterKey("short"u8.ToArray()));
        Assert.StartsWith("sha256:", OutputLimits.DeadLetterKey(new byte[5_000]));
        Assert.Null(OutputLimits.DeadLetterKey(null));
        Assert.DoesNotContain("jane", OutputLimits.KeyDigest("jane@example.com"));
    }

    private static IdentityMerged HandOver(int lines) => new()
    {
        EventId = "h1", ShopperId = "cust", EventTime = T0, AnonymousId = "anon", CustomerId = "cust", LinkEventId = "link",
        State = JsonSerializer.SerializeToElement(new { lines = Enumerable.Range(0, lines).Select(i => $"sku-{i:D6}").ToArray() }),
    };

    private static long _offset;

    private static ConsumeResult<byte[], byte[]> Record(byte[] value, (byte[] Part, byte[] Of)? part = null, int partition = 0)
    {
        var headers = new Headers();
        if (part is { } p)
        {
            headers.Add(SplitRecords.PartHeader, p.Part);
            headers.Add(SplitRecords.PartOfHeader, p.Of);
        }
        return new ConsumeResult<byte[], byte[]>
        {
            TopicPartitionOffset = new TopicPartitionOffset(Topics.CartEvents, partition, _offset++),
            Message = new Message<byte[], byte[]> { Key = "cust"u8.ToArray(), Value = value, Headers = headers },
        };
    }

    private static ConsumeResult<byte[], byte[]> Reoffset(ConsumeResult<byte[], byte[]> record) => new()
    {
        TopicPartitionOffset = new TopicPartitionOffset(record.TopicPartition, _offset++), Message = record.Message,
    };

    private static List<ConsumeResult<byte[], byte[]>> Parts(byte[] whole) =>
        [.. SplitRecords.Split(whole).Select(p => Record(p.Part, (p.PartHeaderValue, p.PartOfHeaderValue)))];

    [Fact]
    public void A_split_hand_over_is_joined_whole_at_its_first_offset_and_what_arrived_between_its_parts_follows_it()
    {
        var whole = ContractJson.SerializeEvent(HandOver(lines: 20_000));
        Assert.True(SplitRecords.MustSplit(whole.Length));
        var parts = Parts(whole);
        Assert.True(parts.Count > 2);
        Assert.All(parts, p => Assert.True(p.Message.Value.Length <= EventParser.MaxEventBytes));
        var joiner = new SplitRecordJoiner();
        var ready = new List<SplitRecordJoiner.Ready>();
        var between = Record("{}"u8.ToArray()); // a storefront record written between two parts
        // The log's order: the first part, the storefront's record, the other parts.
        parts = [Reoffset(parts[0]), Reoffset(between), .. parts.Skip(1).Select(Reoffset)];
        between = parts[1];
        parts.RemoveAt(1);
        joiner.Accept(parts[0], ready);
        joiner.Accept(between, ready);
        foreach (var part in parts.Skip(1)) joiner.Accept(part, ready);

        Assert.False(joiner.IsHolding);
        var joined = ready[0];
        Assert.Equal(parts[0].Offset, joined.Result.Offset);
        Assert.Equal(whole, joined.Joined);
        Assert.Null(joined.Problem);
        var merged = Assert.IsType<IdentityMerged>(SplitRecords.ParseJoined(joined.Joined).Event);
        Assert.Equal(20_000, merged.State.GetProperty("lines").GetArrayLength());
        // Then, in offset order: the record from between the parts as read, each later part as progress only.
        var after = ready.Skip(1).Select(r => r.Result.Offset.Value).ToList();
        Assert.Equal([between.Offset.Value, .. parts.Skip(1).Select(p => p.Offset.Value)], after.Order());
        Assert.Equal(after.Order(), after);
        Assert.False(ready.Single(r => r.Result.Offset.Value == between.Offset.Value).Skip);
        Assert.All(ready.Skip(1).Where(r => r.Result.Offset.Value != between.Offset.Value), r => Assert.True(r.Skip));
    }

    [Fact]
    public void Parts_read_after_a_restart_past_the_first_part_are_skipped_and_an_unfinished_sequence_is_superseded_by_its_resend()
    {
        var whole = ContractJson.SerializeEvent(HandOver(lines: 20_000));
        var joiner = new SplitRecordJoiner();
        var ready = new List<SplitRecordJoiner.Ready>();
        // Resumed after the first part: the joined record was decided before the checkpoint; its later parts are progress.
        foreach (var part in Parts(whole).Skip(1)) joiner.Accept(part, ready);
        Assert.All(ready, r => Assert.True(r.Skip));
        Assert.Equal(Parts(whole).Count - 1, joiner.Orphans);

        // A writer that failed mid-sequence sends the whole record again: the unfinished one is given up.
        ready.Clear();
        var first = Parts(whole);
        joiner.Accept(first[0], ready);
        joiner.Accept(first[1], ready);
        Assert.True(joiner.IsHolding);
        foreach (var part in Parts(whole)) joiner.Accept(part, ready);
        Assert.Equal(1, joiner.Abandoned);
        Assert.Single(ready, r => r.Joined is not null);
        Assert.Equal(whole, ready.Single(r => r.Joined is not null).Joined);
    }

    [Fact]
    public void Only_identity_records_are_joined_and_a_corrupted_part_is_rejected()
    {
        var notInternal = ContractJson.SerializeEvent(new SessionStarted { EventId = "e", ShopperId = "cust", SessionId = "s", EventTime = T0, TimeZone = "UTC" });
        Assert.Equal(RejectReasons.InvalidField, SplitRecords.ParseJoined(notInternal).RejectReason);
        Assert.Equal(RejectReasons.NotJson, SplitRecords.ParseJoined(Encoding.UTF8.GetBytes(new string('{', 100_000))).RejectReason);

        var parts = Parts(ContractJson.SerializeEvent(HandOver(lines: 20_000)));
        parts[1].Message.Value[10] ^= 0xff;
        var joiner = new SplitRecordJoiner();
        var ready = new List<SplitRecordJoiner.Ready>();
        foreach (var part in parts) joiner.Accept(part, ready);
        Assert.NotNull(ready[0].Problem);
    }
}
