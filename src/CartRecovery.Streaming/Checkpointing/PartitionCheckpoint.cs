using System.Buffers;
using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Serialization;
using CartRecovery.Domain.Identity;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;

namespace CartRecovery.Streaming.Checkpointing;

/// <summary>
/// The durable state of one input partition: its shoppers' policy state, its live and waiting sessions, its
/// watermark, and the input offsets (per topic) this state reflects. Restoring it and seeking to the offsets
/// resumes exactly where it was taken. Taken only when every output of the batches it covers is written.
/// </summary>
public sealed record PartitionCheckpoint
{
    public required int Partition { get; init; }
    public required Dictionary<string, long> NextOffsets { get; init; }
    public required Watermark Watermark { get; init; }
    /// <summary>The event-time frontier and its unconfirmed claims (absent in checkpoints written before it was kept:
    /// resumed from <see cref="Watermark"/>).</summary>
    public EventTimeFrontier? Frontier { get; init; }
    public required List<ShopperState> Shoppers { get; init; }
    public required List<SessionState> Sessions { get; init; }
    /// <summary>Linked anonymous ids and applied hand-overs (absent in checkpoints written before identity linking).</summary>
    public IdentityLinks Identity { get; set; } = IdentityLinks.Empty;
    /// <summary>Null: a full snapshot of the partition. Otherwise a delta (journaled after a snapshot): for these
    /// shoppers, <see cref="Shoppers"/> and <see cref="Sessions"/> replace everything the partition held (a shopper
    /// listed here but absent there is gone); offsets, watermark and identity replace the partition's.</summary>
    public List<string>? ChangedShoppers { get; init; }

    public bool IsDelta => ChangedShoppers is not null;

    /// <summary>More shoppers, as the partition holds them encoded (<see cref="CheckpointCodec.EncodeShopper"/>): written
    /// after <see cref="Shoppers"/> as they are, not decoded and encoded again. Reading a checkpoint returns every shopper
    /// in <see cref="Shoppers"/>.</summary>
    internal IReadOnlyList<byte[]> EncodedShoppers { get; init; } = [];

    /// <summary>More sessions, as the partition holds its waiting ones (<see cref="CheckpointCodec.EncodeSession"/>):
    /// written after <see cref="Sessions"/> as they are. Reading a checkpoint returns every session in <see cref="Sessions"/>.</summary>
    internal IReadOnlyList<byte[]> EncodedSessions { get; init; } = [];

    /// <summary>The checkpoint in its binary format (<see cref="CheckpointCodec"/>): a format byte, then MessagePack.</summary>
    public byte[] ToBytes()
    {
        // Written into one buffer kept per thread: a full snapshot is megabytes, and growing a fresh pooled buffer by
        // doubling for each one was a large share of the bytes the worker allocated (docs/performance.md, session 6).
        var buffer = _buffer ??= new ArrayBufferWriter<byte>(64 * 1024);
        buffer.ResetWrittenCount();
        CheckpointCodec.Write(buffer, this);
        var bytes = buffer.WrittenSpan.ToArray();
        // A buffer grown past any normal snapshot is not kept (a partition that briefly held a huge state).
        if (buffer.Capacity > MaxKeptBuffer) _buffer = null;
        return bytes;
    }

    [ThreadStatic] private static ArrayBufferWriter<byte>? _buffer;

    /// <summary>The capacity of this thread's kept buffer (a measurement: the heap probe counts it apart from the state).</summary>
    internal static long KeptBufferBytes => _buffer?.Capacity ?? 0;
    private const int MaxKeptBuffer = 64 * 1024 * 1024;

    /// <summary>Reads a checkpoint in the binary format, or in the JSON of releases before it (its first byte is '{'), so
    /// a store written by the previous release restores; every checkpoint written from then on is binary.</summary>
    /// <exception cref="CheckpointFormatException">The bytes are no readable checkpoint (empty, truncated, corrupt, another format).</exception>
    public static PartitionCheckpoint FromBytes(byte[] bytes)
    {
        if (bytes.Length == 0) throw new CheckpointFormatException("empty checkpoint");
        return bytes[0] switch
        {
            CheckpointCodec.BinaryV1 => CheckpointCodec.Read(bytes),
            (byte)'{' => FromJson(bytes),
            var other => throw new CheckpointFormatException($"checkpoint starts with byte 0x{other:x2}: not a known checkpoint format"),
        };
    }

    /// <summary>The JSON checkpoint of an earlier release (and of tests that write one to show it is still read).</summary>
    internal static byte[] ToJsonBytes(PartitionCheckpoint checkpoint) =>
        JsonSerializer.SerializeToUtf8Bytes(checkpoint, CheckpointJsonContext.Default.PartitionCheckpoint);

    private static PartitionCheckpoint FromJson(byte[] bytes)
    {
        PartitionCheckpoint checkpoint;
        try
        {
            checkpoint = JsonSerializer.Deserialize(bytes, CheckpointJsonContext.Default.PartitionCheckpoint)
                ?? throw new CheckpointFormatException("JSON checkpoint is null");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException)
        {
            throw new CheckpointFormatException($"JSON checkpoint ({bytes.Length} bytes) cannot be read: {e.Message}", e);
        }
        if (checkpoint.NextOffsets is null || checkpoint.Shoppers is null || checkpoint.Sessions is null || checkpoint.Identity is null
            || checkpoint.Shoppers.Contains(null!) || checkpoint.Sessions.Any(s => s is null || s.Lines is null))
            throw new CheckpointFormatException("JSON checkpoint has a null where a value is required");
        // JSON keeps no comparer: give the sorted dictionaries back their ordinal order, or replays would list them
        // differently (cart lines, viewed categories, engagement and profile interests alike).
        return checkpoint with
        {
            Shoppers = [.. checkpoint.Shoppers.Select(WithOrdinalMaps)],
            Sessions = [.. checkpoint.Sessions.Select(s => WithOrdinalLines(s) with { ViewedCategories = s.ViewedCategories.WithComparers(StringComparer.Ordinal) })],
            Identity = checkpoint.Identity with
            {
                Aliases = checkpoint.Identity.Aliases.WithComparers(StringComparer.Ordinal),
                Applied = checkpoint.Identity.Applied.WithComparers(StringComparer.Ordinal),
            },
        };
    }

    private static ShopperState WithOrdinalMaps(ShopperState shopper) => shopper with
    {
        Engagement = shopper.Engagement.WithComparers(StringComparer.Ordinal),
        Profile = shopper.Profile is { } profile ? profile with
        {
            CategoryInterest = profile.CategoryInterest.WithComparers(StringComparer.Ordinal),
            SkuCategories = profile.SkuCategories.WithComparers(StringComparer.Ordinal),
        } : null,
    };

    private static SessionState WithOrdinalLines(SessionState session) => session with { Lines = session.Lines.WithComparers(StringComparer.Ordinal) };

    /// <summary>A hand-over travels as JSON inside an event on the input topic (it is a piece of a partition's state, in
    /// the format the checkpoints had before they turned binary; the event contracts are JSON).</summary>
    public static JsonElement ToJson(HandOver handOver) => JsonSerializer.SerializeToElement(handOver, CheckpointJsonContext.Default.HandOver);

    /// <summary>Reads a hand-over; null when the state cannot be read (it came from the input topic, so it is untrusted).</summary>
    public static HandOver? HandOverFrom(JsonElement state)
    {
        try
        {
            var handOver = state.Deserialize(CheckpointJsonContext.Default.HandOver);
            return handOver is null || handOver.Shopper is null || handOver.Sessions.IsDefault || handOver.Sessions.Any(s => s is null) ? null
                : handOver with { Sessions = [.. handOver.Sessions.Select(WithOrdinalLines)] };
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, IgnoreReadOnlyProperties = true,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(PartitionCheckpoint))]
[JsonSerializable(typeof(HandOver))]
internal sealed partial class CheckpointJsonContext : JsonSerializerContext;
