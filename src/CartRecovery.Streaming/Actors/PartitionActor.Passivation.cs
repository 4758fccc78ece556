using Akka.Actor;
using CartRecovery.Contracts.Events;
using static CartRecovery.Streaming.Actors.SessionProtocol;

namespace CartRecovery.Streaming.Actors;

/// <summary>
/// Passivation: a live session's state is its <see cref="SessionActor"/>'s alone, so whatever needs the states of
/// sessions first asks their actors to hand them to the partition's store (<see cref="Passivate"/>). A checkpoint does
/// so for every live session before it captures (other commands wait, stashed); an identity hand-over or an erasure for
/// the shopper's live sessions before it runs (the shopper's commands wait, as while a command is in flight). A
/// passivated session's next event or deadline revives it in a new actor.
/// </summary>
public sealed partial class PartitionActor
{
    // Shoppers whose live sessions are handing their states over, and how many answers are still awaited.
    private readonly Dictionary<string, int> _passivatingShoppers = new(StringComparer.Ordinal);
    // A checkpoint request waiting for every live session's state, and how many answers are still awaited.
    private long? _checkpointAwaitingStates;
    private int _checkpointPassivations;

    /// <summary>Takes a checkpoint once every live session's state is in the store.</summary>
    private void RequestCheckpoint(long sequence)
    {
        var live = _sessions.Live();
        if (live.Count == 0)
        {
            Capture(sequence);
            return;
        }
        foreach (var key in live) _actors[key].Tell(Passivate.Instance);
        _checkpointAwaitingStates = sequence;
        _checkpointPassivations = live.Count;
    }

    /// <summary>Identity commands (a link moves the id's sessions, a hand-over merges them) and an erasure (which
    /// forgets them) work on the shopper's session states.</summary>
    private bool NeedsSessionStates(string shopperId, ShopperCommand command) =>
        command.Event is ErasureRequested or IdentityLinked or IdentityMerged || _identity.Resolve(shopperId, command.Event.EventTime) is not null;

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
            return;
        }
        if (--_checkpointPassivations > 0 || _checkpointAwaitingStates is not { } sequence) return;
        _checkpointAwaitingStates = null;
        Capture(sequence);
        Stash.UnstashAll();
    }
}
