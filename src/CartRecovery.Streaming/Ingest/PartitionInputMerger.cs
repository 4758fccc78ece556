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
/// An event one clock put <c>max_future_skew</c> or more ahead of the partition's frontier (the partition actor's rule,
/// <see cref="EventTimeFrontier"/>, fed with the released order) while the next record of its own topic is back at the
/// old time is released as soon as it reaches its topic's head (<see cref="Outlier"/>): ordered by its time, a record
/// claiming year 9999 would hold back every later record of its topic while the other topics pass them.
/// </summary>
public sealed class PartitionInputMerger
{
    private readonly string[] _topics;
    private readonly Queue<InputRecord>[] _buffers;
    private readonly bool[] _atEnd;
    private readonly TimeSpan _maxFutureSkew;
    private EventTimeFrontier _frontier = EventTimeFrontier.Empty;
    // The merge key of each topic's head in the current round (its event time, or the start of time for an outlier).
    private readonly DateTimeOffset[] _keys;

    public PartitionInputMerger(IReadOnlyList<string> topics, TimeSpan? maxFutureSkew = null)
    {
        _maxFutureSkew = maxFutureSkew ?? RecoveryPolicy.DefaultMaxFutureSkew;
        _topics = [.. topics];
        _buffers = [.. topics.Select(_ => new Queue<InputRecord>())];
        _atEnd = new bool[topics.Count];
        _keys = new DateTimeOffset[topics.Count];
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
                if (Outlier(i) is not { } outlier) return;
                _keys[i] = outlier ? DateTimeOffset.MinValue : buffer.Peek().Event!.EventTime;
                if (best < 0 || Before(_keys[i], buffer.Peek(), i, _keys[best], _buffers[best].Peek(), best)) best = i;
            }
            if (best < 0) return;
            var released = _buffers[best].Dequeue();
            _frontier = _frontier.Observe(released.Event!.ShopperId, released.Event.EventTime, _maxFutureSkew).Frontier;
            into.Add(released);
        }
    }

    private static bool Before(DateTimeOffset keyA, InputRecord a, int rankA, DateTimeOffset keyB, InputRecord b, int rankB)
    {
        var byTime = keyA.CompareTo(keyB);
        if (byTime != 0) return byTime < 0;
        return rankA != rankB ? rankA < rankB : a.Offset < b.Offset;
    }

    /// <summary>Whether the head of topic <paramref name="i"/> is one clock's outlier (merged at once, at its place in its
    /// topic), not (merged by its time), or null: not known until more of the topic is read. A head less than
    /// <c>max_future_skew</c> ahead of the frontier is not. One further ahead is an outlier when the next record of its
    /// topic from another shopper is the bound or more behind it (the topic itself says the head is off: it would hold
    /// back every record behind it while the other topics pass them); when that record lies near the head the whole topic
    /// moved on (a lull, or the first traffic after a month of consents on another topic) and time order holds. Looking
    /// only at records of the head's own topic, in offset order, and waiting for them (or the topic's end) keeps the
    /// order a function of the input, whatever the fetch timing.</summary>
    private bool? Outlier(int i)
    {
        var head = _buffers[i].Peek().Event!;
        if (_frontier.Accepted is not { } accepted || head.EventTime - accepted < _maxFutureSkew) return false;
        foreach (var next in _buffers[i].Skip(1))
            if (next.Event is { } evt && evt.ShopperId != head.ShopperId)
                return head.EventTime - evt.EventTime >= _maxFutureSkew;
        return _atEnd[i] ? false : null;
    }
    private int IndexOf(string topic)
    {
        var i = Array.IndexOf(_topics, topic);
        return i >= 0 ? i : throw new ArgumentException($"topic {topic} is not an input of this merger", nameof(topic));
    }
}
