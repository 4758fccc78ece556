using System.Collections.Immutable;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;
using CartRecovery.Streaming.Checkpointing;

namespace CartRecovery.Streaming.Tests.Checkpointing;

/// <summary>
/// The binary checkpoint format (<see cref="CheckpointCodec"/>): restore gives back exactly the state that was saved,
/// a checkpoint in the JSON of earlier releases is still read, and bytes that are no checkpoint fail with a
/// <see cref="CheckpointFormatException"/>, never another exception, a crash or a hang.
/// </summary>
public sealed class CheckpointFormatTests
{
    public static TheoryData<int> Seeds() => [.. Enumerable.Range(0, 40).Select(i => i * 7919)];

    [Theory]
    [MemberData(nameof(Seeds))]
    public void A_generated_checkpoint_round_trips_exactly(int seed)
    {
        // Five checkpoints per seed: 200 in all, every field of every record filled.
        for (var i = 0; i < 5; i++)
        {
            var checkpoint = new CheckpointGenerator(seed + i).Checkpoint();
            var bytes = checkpoint.ToBytes();

            Assert.Equal(CheckpointCodec.BinaryV1, bytes[0]);
            DeepEqual.Assert(checkpoint, PartitionCheckpoint.FromBytes(bytes));
        }
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void A_checkpoint_in_the_json_of_earlier_releases_is_read_and_written_back_binary(int seed)
    {
        var checkpoint = new CheckpointGenerator(seed, jsonSafe: true).Checkpoint();
        var json = PartitionCheckpoint.ToJsonBytes(checkpoint);
        Assert.Equal((byte)'{', json[0]);

        var restored = PartitionCheckpoint.FromBytes(json);

        DeepEqual.Assert(checkpoint, restored);
        Assert.Equal(CheckpointCodec.BinaryV1, restored.ToBytes()[0]);
    }

    [Fact]
    public void Restore_keeps_ordinal_order_offsets_decimal_scale_and_default_versus_empty_arrays()
    {
        var at = new DateTimeOffset(2026, 3, 2, 10, 0, 0, TimeSpan.FromHours(5.5));
        var session = new SessionState
        {
            ShopperId = "s1", SessionId = "a", OriginChannel = "web", Currency = "EUR", TimeZone = "Asia/Kolkata", StartedAt = at, LastActivityAt = at,
            // Ordinal: "B" before "a" (a culture-aware comparer puts "a" first).
            Lines = ImmutableSortedDictionary.CreateRange<string, Contracts.Events.CartLine>(StringComparer.Ordinal, [
                new("a", new Contracts.Events.CartLine { Sku = "a", UnitPrice = 1.10m, Quantity = 1 }),
                new("B", new Contracts.Events.CartLine { Sku = "B", UnitPrice = 2m, Quantity = 2 })]),
            TopFactors = default,
            UrgencyFactors = [],
        };
        var checkpoint = new PartitionCheckpoint
        {
            Partition = 3, NextOffsets = new() { ["cart-events"] = 12 }, Watermark = new Watermark(at, at.AddMinutes(-5)), Shoppers = [],
            Sessions = [session],
        };

        var restored = PartitionCheckpoint.FromBytes(checkpoint.ToBytes()).Sessions.Single();

        Assert.Equal(["B", "a"], restored.Lines.Keys);
        Assert.Same(StringComparer.Ordinal, restored.Lines.KeyComparer);
        Assert.Equal(TimeSpan.FromHours(5.5), restored.StartedAt.Offset);
        Assert.Equal("1.10", restored.Lines["a"].UnitPrice.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(5.10m, restored.CartValue);
        Assert.True(restored.TopFactors.IsDefault);
        Assert.False(restored.UrgencyFactors.IsDefault);
        Assert.Empty(restored.UrgencyFactors);
    }

    [Fact]
    public void Every_truncation_of_a_checkpoint_fails_with_a_format_error()
    {
        var bytes = new CheckpointGenerator(3).Checkpoint().ToBytes();
        for (var length = 0; length < bytes.Length; length++)
            Assert.Throws<CheckpointFormatException>(() => PartitionCheckpoint.FromBytes(bytes[..length]));
        Assert.Throws<CheckpointFormatException>(() => PartitionCheckpoint.FromBytes([.. bytes, 0xC0]));
    }

    [Fact]
    public void A_corrupted_byte_anywhere_either_still_decodes_or_fails_with_a_format_error()
    {
        var random = new Random(11);
        var bytes = new CheckpointGenerator(5).Checkpoint().ToBytes();
        for (var position = 0; position < bytes.Length; position++)
        {
            var corrupt = (byte[])bytes.Clone();
            corrupt[position] ^= (byte)random.Next(1, 256);
            DecodesOrFailsClearly(corrupt);
        }
    }

    [Fact]
    public void Random_bytes_in_either_format_fail_with_a_format_error()
    {
        var random = new Random(23);
        for (var i = 0; i < 3000; i++)
        {
            var garbage = new byte[random.Next(1, 300)];
            random.NextBytes(garbage);
            garbage[0] = (i % 3) switch { 0 => CheckpointCodec.BinaryV1, 1 => (byte)'{', _ => garbage[0] };
            DecodesOrFailsClearly(garbage);
        }
        var error = Assert.Throws<CheckpointFormatException>(() => PartitionCheckpoint.FromBytes([0x42, 0x00]));
        Assert.Contains("0x42", error.Message);
        Assert.Throws<CheckpointFormatException>(() => PartitionCheckpoint.FromBytes([]));
    }

    [Fact]
    public void A_forged_count_fails_at_once_without_allocating_for_it()
    {
        // A checkpoint of 8 fields whose offsets map claims 2^31 - 1 entries in 8 bytes.
        byte[] forged = [CheckpointCodec.BinaryV1, 0x98, 0x00, 0xDF, 0x7F, 0xFF, 0xFF, 0xFF];
        var error = Assert.Throws<CheckpointFormatException>(() => PartitionCheckpoint.FromBytes(forged));
        Assert.Contains("cannot be read", error.Message);
        // The same for the root: an array header of 2^32 - 1 fields.
        Assert.Throws<CheckpointFormatException>(() => PartitionCheckpoint.FromBytes([CheckpointCodec.BinaryV1, 0xDD, 0xFF, 0xFF, 0xFF, 0xFF]));
    }

    private static void DecodesOrFailsClearly(byte[] bytes)
    {
        try
        {
            PartitionCheckpoint.FromBytes(bytes);
        }
        catch (CheckpointFormatException e)
        {
            Assert.Contains("checkpoint", e.Message, StringComparison.OrdinalIgnoreCase);
        }
    }
}
