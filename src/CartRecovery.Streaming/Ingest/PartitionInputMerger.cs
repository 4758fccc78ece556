using CartRecovery.Domain.Policy;
using CartRecovery.Domain.Time;

namespace CartRecovery.Streaming.Ingest;

/// <summary>
/// Merges partition p of every input topic into one deterministic sequence: the head with the smallest
/// (event time, topic rank, offset) goes first, and a topic whose buffer is empty blocks the merge until it
/// either delivers a record or is known to be at its end (Kafka's partition EOF: nothing more to fetch now).
/// With all input present (replay, backfill, drain) the order is a pure function of the topics' contents,
/// whatever the fetch timing, so a replay decides exactly like the first run. Each topic's own offset order is
/// kept, so committing "highest released offset + 1" per topic never skips a record.
/// Rejected records carry no event time; they are released as soon as they reach the head.
/// An event one clock put further ahead of the partition's frontier than <c>max_future_skew</c> (the partition actor's
/// rule, <see cref="EventTimeFrontier"/>, fed with the released order) is released as soon as it reaches its topic's
/// head, like a rejected record: ordered by its time, a record claiming year 9999 would hold back every later record of
/// its topic until the others end, and ordered at the frontier it would still let the other topics pass the records behind it.
/// </summary>
public sealed class PartitionInputMerger
{
    private readonly string[] _topics;
    private readonly Queue<InputRecord>[] _buffers;
    private readonly bool[] _atEnd;
    private readonly TimeSpan _maxFutureSkew;
    private EventTimeFrontier _frontier = EventTimeFrontier.Empty;

    public PartitionInputMerger(IReadOnlyList<string> topics, TimeSpan? maxFutureSkew = null)
    {
        _maxFutureSkew = maxFutureSkew ?? RecoveryPolicy.DefaultMaxFutureSkew;
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
            var released = _buffers[best].Dequeue();
            _frontier = _frontier.Observe(released.Event!.ShopperId, released.Event.EventTime, _maxFutureSkew).Frontier;
            into.Add(released);
        }
    }

    private bool Before(InputRecord a, int rankA, InputRecord b, int rankB)
    {
        var byTime = MergeTime(a).CompareTo(MergeTime(b));
        if (byTime != 0) return byTime < 0;
        return rankA != rankB ? rankA < rankB : a.Offset < b.Offset;
    }

    /// <summary>The event time, or for an event further ahead than the frontier vouches for, the start of time (it goes first).</summary>
    private DateTimeOffset MergeTime(InputRecord record)
    {
        var evt = record.Event!;
        if (_frontier.Accepted is not { } accepted || evt.EventTime - accepted < _maxFutureSkew) return evt.EventTime;
        return _frontier.Observe(evt.ShopperId, evt.EventTime, _maxFutureSkew).Verdict == FrontierVerdict.Ahead ? DateTimeOffset.MinValue : evt.EventTime;
    }

    private int IndexOf(string topic)
    {
        var i = Array.IndexOf(_topics, topic);
        return i >= 0 ? i : throw new ArgumentException($"topic {topic} is not an input of this merger", nameof(topic));
    }
}
