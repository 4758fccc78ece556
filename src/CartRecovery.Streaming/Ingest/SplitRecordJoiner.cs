using CartRecovery.Contracts.Serialization;
using Confluent.Kafka;

namespace CartRecovery.Streaming.Ingest;

/// <summary>
/// Joins the parts of a split record (<see cref="SplitRecords"/>: an identity hand-over or forwarded event larger than
/// one input record) per topic-partition, without letting a checkpoint pass a part before the whole is decided.
/// From a first part on, every record of its topic-partition is held back until the last part arrives; then the
/// joined record is released at the first part's offset, followed by what was held in offset order, each later part as
/// a <see cref="Ready.Skip"/> (progress only). So a checkpoint either lies before the first part (a restart reads every
/// part again) or after the joined record was decided (a restart reads only later parts, which have no first part to
/// join and are skipped: their record was already applied).
/// A first part whose sequence never completes is superseded by the next first part of the partition (the writer, failed
/// mid-sequence, did not commit and sends the whole record again); it is skipped, with a warning.
/// </summary>
public sealed class SplitRecordJoiner
{
    /// <summary>How many records of a partition may wait behind an unfinished sequence before it is given up.</summary>
    public const int MaxHeld = 100_000;

    /// <summary>What to hand on, in this order: a record as read, a joined record (at its first part's offset), or a
    /// consumed part whose content is in a joined record (or was given up).</summary>
    public readonly record struct Ready(ConsumeResult<byte[], byte[]> Result, byte[]? Joined, bool Skip, string? Problem);

    private sealed class Joining(ConsumeResult<byte[], byte[]> first, string partOf, int count)
    {
        public ConsumeResult<byte[], byte[]> First { get; } = first;
        public string PartOf { get; } = partOf;
        public int Count { get; } = count;
        public List<byte[]> Parts { get; } = [first.Message.Value ?? []];
        public List<Ready> Held { get; } = [];
    }

    private readonly Dictionary<TopicPartition, Joining> _open = new();

    /// <summary>Sequences given up (their first part superseded, or too much held behind them).</summary>
    public long Abandoned { get; private set; }

    /// <summary>Later parts read without their first part (the joined record was decided before the resume offset).</summary>
    public long Orphans { get; private set; }

    /// <summary>Whether a sequence is being joined on any partition (records are held back).</summary>
    public bool IsHolding => _open.Count > 0;

    public void Forget(TopicPartition tp) => _open.Remove(tp);

    /// <summary>Takes a consumed record; appends what can be handed on now to <paramref name="ready"/>.</summary>
    public void Accept(ConsumeResult<byte[], byte[]> result, List<Ready> ready)
    {
        var tp = result.TopicPartition;
        _open.TryGetValue(tp, out var open);
        var headers = result.Message.Headers;
        var part = headers is not null && headers.TryGetLastBytes(SplitRecords.PartHeader, out var partHeader) ? SplitRecords.ReadPart(partHeader) : null;
        var partOf = part is not null && headers!.TryGetLastBytes(SplitRecords.PartOfHeader, out var digest) ? System.Text.Encoding.ASCII.GetString(digest) : null;
        if (part is not { } p || partOf is null)
        {
            Hold(tp, open, new Ready(result, null, false, null), ready);
            return;
        }
        if (p.Index == 0)
        {
            if (open is not null) GiveUp(tp, open, ready);
            _open[tp] = new Joining(result, partOf, p.Count);
            return;
        }
        if (open is not null && open.PartOf == partOf && open.Count == p.Count && open.Parts.Count == p.Index)
        {
            open.Parts.Add(result.Message.Value ?? []);
            open.Held.Add(new Ready(result, null, true, null));
            if (open.Parts.Count < open.Count) return;
            _open.Remove(tp);
            var joined = open.Parts.SelectMany(bytes => bytes).ToArray();
            ready.Add(SplitRecords.IsWhole(joined, System.Text.Encoding.ASCII.GetBytes(partOf))
                ? new Ready(open.First, joined, false, null)
                : new Ready(open.First, joined, false, "the parts of a split record do not join to their digest"));
            ready.AddRange(open.Held);
            return;
        }
        Orphans++;
        Hold(tp, open, new Ready(result, null, true, null), ready);
    }

    private void Hold(TopicPartition tp, Joining? open, Ready item, List<Ready> ready)
    {
        if (open is null)
        {
            ready.Add(item);
            return;
        }
        open.Held.Add(item);
        if (open.Held.Count > MaxHeld) GiveUp(tp, open, ready);
    }

    private void GiveUp(TopicPartition tp, Joining open, List<Ready> ready)
    {
        _open.Remove(tp);
        Abandoned++;
        ready.Add(new Ready(open.First, null, true, null));
        ready.AddRange(open.Held);
    }
}
