using System.Text;
using System.Text.Json;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Contracts.Serialization;

namespace CartRecovery.Storage.Tests;

/// <summary>The pooled buffer the writer serialises an insert's rows into (no engine needed).</summary>
public sealed class JsonEachRowBufferTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);

    private static AuditRecord Audit(string id, string detail) => new()
    {
        AuditId = id, ShopperId = "shopper-ü", Decision = AuditDecisions.Suppressed, Reason = "quiet_hours", PolicyVersion = "p-1",
        Detail = detail, EventTime = T0,
    };

    private static void Write(JsonEachRowBuffer buffer, AuditRecord audit)
    {
        using var json = new Utf8JsonWriter(buffer.Writer, ContractJson.RowWriterOptions);
        ContractJson.Serialize(json, audit);
        buffer.EndRow();
    }

    [Fact]
    public void Rows_written_in_place_are_the_bytes_of_the_serializers_strings_one_line_each()
    {
        using var buffer = new JsonEachRowBuffer();
        var audits = Enumerable.Range(0, 300).Select(i => Audit($"a-{i}", $"Zoë \"{i}\"\n🛒 {new string('x', i * 37)}")).ToList();
        foreach (var audit in audits) Write(buffer, audit);

        Assert.Equal(300, buffer.RowCount);
        // Grown well past its first 4 KB: the rows written before a growth are kept whole.
        Assert.True(buffer.Rows.Length > 1_000_000);
        Assert.Equal(string.Concat(audits.Select(a => ContractJson.Serialize(a) + "\n")), Encoding.UTF8.GetString(buffer.Rows.Span));
    }

    [Fact]
    public void A_cleared_buffer_holds_only_the_rows_written_after_it()
    {
        using var buffer = new JsonEachRowBuffer();
        for (var i = 0; i < 50; i++) Write(buffer, Audit($"long-{i}", new string('l', 5_000)));
        buffer.Clear();
        Assert.Equal(0, buffer.RowCount);
        Assert.True(buffer.Rows.IsEmpty);

        Write(buffer, Audit("short", "s"));
        buffer.AppendRow("{\"audit_id\":\"raw\"}"u8);

        Assert.Equal(2, buffer.RowCount);
        Assert.Equal(ContractJson.Serialize(Audit("short", "s")) + "\n{\"audit_id\":\"raw\"}\n", Encoding.UTF8.GetString(buffer.Rows.Span));
    }

    [Fact]
    public void A_row_that_is_not_one_line_is_refused_and_the_rows_before_it_stay()
    {
        using var buffer = new JsonEachRowBuffer();
        buffer.AppendRow("{\"a\":1}"u8);

        Assert.Throws<ArgumentException>(() => buffer.AppendRow("{\n\"a\": 2}"u8));
        Assert.Throws<InvalidOperationException>(() => buffer.EndRow()); // nothing written since the last row

        buffer.AppendRow("{\"a\":3}"u8);
        Assert.Equal("{\"a\":1}\n{\"a\":3}\n", Encoding.UTF8.GetString(buffer.Rows.Span));
        Assert.Equal(2, buffer.RowCount);
    }

    [Fact]
    public void A_disposed_buffer_is_back_in_the_pool_and_refuses_use()
    {
        var buffer = new JsonEachRowBuffer();
        buffer.AppendRow("{\"a\":1}"u8);
        buffer.Dispose();
        buffer.Dispose(); // twice is harmless: the array is returned once

        Assert.Throws<ObjectDisposedException>(() => buffer.Rows);
        Assert.Throws<ObjectDisposedException>(() => buffer.AppendRow("{}"u8));
        // The next buffer starts empty whatever pooled memory it gets.
        using var next = new JsonEachRowBuffer();
        Assert.Equal(0, next.RowCount);
        Assert.True(next.Rows.IsEmpty);
    }
}
