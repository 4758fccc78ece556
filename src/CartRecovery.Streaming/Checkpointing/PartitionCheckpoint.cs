using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Serialization;
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
    public required List<ShopperState> Shoppers { get; init; }
    public required List<SessionState> Sessions { get; init; }

    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, CheckpointJsonContext.Default.PartitionCheckpoint);

    public static PartitionCheckpoint FromBytes(byte[] bytes)
    {
        var checkpoint = JsonSerializer.Deserialize(bytes, CheckpointJsonContext.Default.PartitionCheckpoint)
            ?? throw new JsonException("empty checkpoint");
        // JSON keeps no comparer: give cart lines back their ordinal order, or replays would list them differently.
        return checkpoint with
        {
            Sessions = [.. checkpoint.Sessions.Select(s => s with { Lines = s.Lines.WithComparers(StringComparer.Ordinal) })],
        };
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, IgnoreReadOnlyProperties = true,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(PartitionCheckpoint))]
internal sealed partial class CheckpointJsonContext : JsonSerializerContext;
