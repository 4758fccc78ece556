using Akka.Actor;
using CartRecovery.Domain.State;
using CartRecovery.Contracts.Events;
using static CartRecovery.Streaming.Actors.SessionProtocol;

namespace CartRecovery.Streaming.Actors;

/// <summary>
/// A live session's state is its <see cref="SessionActor"/>'s alone. A checkpoint asks the live sessions it covers
/// (every one for a full snapshot, the changed shoppers' for a delta) for a copy of their states and captures once every
/// copy is in; the actors go on (other commands wait, stashed, meanwhile). An identity hand-over or an erasure takes the
/// shopper's sessions away: their live actors first hand their states to the partition's store and stop
/// (<see cref="Passivate"/>; the shopper's commands wait, as while a command is in flight). A passivated session's next
/// event or deadline revives it in a new actor.
/// </summary>
public sealed partial class PartitionActor
{
    // Shoppers whose live sessions are handing their states over, and how many answers are still awaited.
    private readonly Dictionary<string, int> _passivatingShoppers = new(StringComparer.Ordinal);
    // A checkpoint request (and who asked) waiting for the copies of its live sessions' states, how many are still
    // awaited, and those in.
    private (long Sequence, IActorRef ReplyTo)? _checkpointAwaitingStates;
    private int _checkpointCopiesAwaited;
    private readonly Dictionary<SessionKey, SessionState> _liveCopies = new();

    /// <summary>Takes a checkpoint once every live session it covers has answered with a copy of its state.</summary>
    private void RequestCheckpoint(long sequence, IActorRef replyTo)
    {
        var live = _changes.NextIsFull ? _sessions.Live() : [.. _changes.Changed.SelectMany(shopperId => _sessions.Live(shopperId))];
        if (live.Count == 0)
        {
            Capture(sequence, replyTo);
            return;
        }
        foreach (var key in live) _actors[key].Tell(CopyState.Instance);
        _checkpointAwaitingStates = (sequence, replyTo);
        _checkpointCopiesAwaited = live.Count;
    }

    private void OnStateCopied(SessionStateCopy msg)
    {
        _liveCopies[new SessionKey(msg.ShopperId, msg.SessionId)] = msg.State;
        if (--_checkpointCopiesAwaited > 0 || _checkpointAwaitingStates is not { } awaiting) return;
        _checkpointAwaitingStates = null;
        Capture(awaiting.Sequence, awaiting.ReplyTo);
        Stash.UnstashAll();
    }

    /// <summary>What the partition decides itself (identity commands: a link moves the id's sessions, a hand-over merges
    /// them; an erasure forgets them) works on the shopper's session states.</summary>
    private bool NeedsSessionStates(string shopperId, ShopperCommand command) => IsDecidedHere(shopperId, command);

    /// <summary>Asks the shopper's live sessions to hand their states over; false when none is live. The shopper's
    /// commands wait meanwhile.</summary>
    private bool PassivateShopper(string shopperId)
    {
        var live = _sessions.Live(shopperId);
        if (live.Count == 0) return false;
        foreach (var key in live) _actors[key].Tell(Passivate.Instance);
        _passivatingShoppers[shopperId] = live.Count;
        _queues.Started(shopperId, null);
        return true;
    }

    private void OnPassivated(SessionPassivated msg)
    {
        var key = new SessionKey(msg.ShopperId, msg.SessionId);
        _actors.Remove(key); // the session actor stopped itself
        _sessions.Track(key, msg.State);
        if (_passivatingShoppers.TryGetValue(msg.ShopperId, out var awaited))
        {
            if (awaited > 1)
            {
                _passivatingShoppers[msg.ShopperId] = awaited - 1;
                return;
            }
            _passivatingShoppers.Remove(msg.ShopperId);
            _queues.Finished(msg.ShopperId);
            Pump(msg.ShopperId);
            TryComplete();
        }
    }
}
