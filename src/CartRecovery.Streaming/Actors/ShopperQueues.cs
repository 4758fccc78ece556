using CartRecovery.Contracts.Events;
using CartRecovery.Domain.Time;
using CartRecovery.Streaming.Ingest;

namespace CartRecovery.Streaming.Actors;

/// <summary>One input event for a shopper, stamped with the partition's watermark when it was read.</summary>
/// <param name="Source">The input record the event came in (a forwarded event's: the forward).</param>
/// <param name="Hops">How many times the event was passed on from a linked id to its customer.</param>
/// <param name="Notice">Not an event to apply but an audit row of this shopper to write in the shopper's order of commands:
/// a <c>future_event</c> claim the input refuted (<see cref="EventTimeFrontier"/>). <see cref="Event"/> is then the
/// event that refuted it (only its record's progress matters).</param>
internal readonly record struct ShopperCommand(ShopperEvent Event, Watermark Watermark, InputRecord Source, int Hops = 0,
    Contracts.Outputs.AuditRecord? Notice = null);

/// <summary>
/// Per-shopper ordering: a shopper's commands wait in input order and run one at a time (at most one in flight at a
/// session actor), while different shoppers run concurrently. So every shopper sees the same sequence of commands
/// however the input was batched.
/// </summary>
internal sealed class ShopperQueues
{
    private readonly Dictionary<string, Queue<ShopperCommand>> _queues = new(StringComparer.Ordinal);
    // Each shopper's command in flight (null for a deadline), dead-lettered if its decision throws, and how many more
    // of the shopper's commands went with it in one run (they stay at the queue's front until it is decided).
    private readonly Dictionary<string, (ShopperCommand? First, int Peeked)> _inFlight = new(StringComparer.Ordinal);
    // Emptied queues, reused: most shoppers have a command or two per batch, so a queue per shopper per batch was
    // one of the larger allocations per event (docs/performance.md, session 6).
    private readonly Stack<Queue<ShopperCommand>> _spare = new();
    private const int MaxSpare = 1024;

    /// <summary>Nothing waits and nothing is in flight: the batch may complete.</summary>
    public bool IsIdle => _queues.Count == 0 && _inFlight.Count == 0;

    public bool AnyInFlight => _inFlight.Count > 0;

    public void Enqueue(string shopperId, ShopperCommand command)
    {
        if (!_queues.TryGetValue(shopperId, out var queue))
            _queues[shopperId] = queue = _spare.TryPop(out var spare) ? spare : new Queue<ShopperCommand>();
        queue.Enqueue(command);
    }

    public bool TryPeek(string shopperId, out ShopperCommand command)
    {
        if (_queues.TryGetValue(shopperId, out var queue) && queue.Count > 0)
        {
            command = queue.Peek();
            return true;
        }
        command = default;
        return false;
    }

    public ShopperCommand Dequeue(string shopperId) => _queues[shopperId].Dequeue();

    /// <summary>The shopper's commands waiting, in order (a run is collected from its front).</summary>
    public Queue<ShopperCommand>.Enumerator Waiting(string shopperId) =>
        (_queues.TryGetValue(shopperId, out var queue) ? queue : Empty).GetEnumerator();

    private static readonly Queue<ShopperCommand> Empty = new();

    /// <summary>The shopper has nothing waiting: forget the queue (idle shoppers hold no memory here).</summary>
    public void Drop(string shopperId)
    {
        if (!_queues.Remove(shopperId, out var queue) || _spare.Count >= MaxSpare) return;
        queue.Clear();
        _spare.Push(queue);
    }

    public bool IsInFlight(string shopperId) => _inFlight.ContainsKey(shopperId);

    /// <summary>A command of the shopper (dequeued; null: a deadline) went to a session actor, with the next
    /// <paramref name="peeked"/> commands of the queue in the same run; nothing else of the shopper runs until it is decided.</summary>
    public void Started(string shopperId, ShopperCommand? command, int peeked = 0) => _inFlight[shopperId] = (command, peeked);

    /// <summary>The shopper's command in flight was decided (or failed) after taking <paramref name="consumed"/> commands of
    /// its run: those leave the queue. Returns the last one taken (the failed one, when the decision threw).</summary>
    public ShopperCommand? Finished(string shopperId, int consumed = 1)
    {
        if (!_inFlight.Remove(shopperId, out var flight)) return null;
        if (consumed - 1 > flight.Peeked) throw new InvalidOperationException($"a run of {flight.Peeked + 1} commands cannot take {consumed}");
        var last = flight.First;
        for (var i = 1; i < consumed; i++) last = _queues[shopperId].Dequeue();
        return last;
    }
}
