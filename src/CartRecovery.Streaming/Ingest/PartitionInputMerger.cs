namespace CartRecovery.Streaming.Ingest;

/// <summary>
/// Merges partition p of every input topic into one deterministic sequence: the head with the smallest
/// (event time, topic rank, offset) goes first, and a topic whose buffer is empty blocks the merge until it
/// either delivers a record or is known to be at its end (Kafka's partition EOF: nothing more to fetch now).
/// With all input present (replay, backfill, drain) the order is a pure function of the topics' contents,
/// whatever the fetch timing, so a replay decides exactly like the first run. Each topic's own offset order is
/// kept, so committing "highest released offset + 1" per topic never skips a record.
/// Rejected records carry no event time; they are released as soon as they reach the head.
/// </summary>
public sealed class PartitionInputMerger
{
    private readonly string[] _topics;
    private readonly Queue<InputRecord>[] _buffers;
    private readonly bool[] _atEnd;

    public PartitionInputMerger(IReadOnlyList<string> topics)
    {
        _topics = [.. topics];
        _buffers = [.. topics.Select(_ => new Queue<InputRecord>())];
        _atEnd = new bool[topics.Count];
    }

    public int Buffered => _buffers.Sum(b => b.Count);

    public void Add(InputRecord record)
    {
        var i = IndexOf(record.Topic);
        _buffers[i].Enqueue(record);
        _atEnd[i] = false;
    }

    /// <summary>The consumer reached the end of this topic's partition: an empty buffer no longer blocks.</summary>
    public void MarkEnd(string topic) => _atEnd[IndexOf(topic)] = true;

    public bool IsMarkedEnd(string topic) => _atEnd[IndexOf(topic)];

    /// <summary>The end may have moved (new input arrived on another topic of the partition): an empty buffer of this
    /// topic blocks again until its end is confirmed.</summary>
    public void ReopenEnd(string topic) => _atEnd[IndexOf(topic)] = false;

    /// <summary>Releases every record whose place in the merged order is now certain.</summary>
    public void Release(List<InputRecord> into)
    {
        while (true)
        {
            var best = -1;
            for (var i = 0; i < _buffers.Length; i++)
            {
                var buffer = _buffers[i];
                while (buffer.Count > 0 && buffer.Peek().Event is null) into.Add(buffer.Dequeue());
                if (buffer.Count == 0)
                {
                    if (!_atEnd[i]) return;
                    continue;
                }
                if (best < 0 || Before(buffer.Peek(), i, _buffers[best].Peek(), best)) best = i;
            }
            if (best < 0) return;
            into.Add(_buffers[best].Dequeue());
        }
    }

    private static bool Before(InputRecord a, int rankA, InputRecord b, int rankB)
    {
        var byTime = a.Event!.EventTime.CompareTo(b.Event!.EventTime);
        if (byTime != 0) return byTime < 0;
        return rankA != rankB ? rankA < rankB : a.Offset < b.Offset;
    }

    private int IndexOf(string topic)
    {
        var i = Array.IndexOf(_topics, topic);
        return i >= 0 ? i : throw new ArgumentException($"topic {topic} is not an input of this merger", nameof(topic));
    }
}
