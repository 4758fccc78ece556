using Akka.Event;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Time;

namespace CartRecovery.Streaming.Actors;

/// <summary>
/// The shopper's own deadline (win-back: the instant the profile turns at risk), held in the same timer index as the
/// session deadlines under the shopper's key with an empty session id, and decided here, synchronously, like the other
/// shopper-wide facts. It is a pure function of the shopper's state (<see cref="RecoveryEngine.ShopperDeadline"/>), so:
/// whether it is due before a command is computed from the state, not from the index (the same sequence of decisions
/// however the input was batched); the index only wakes idle shoppers and is refreshed for the shoppers a batch touched;
/// and a checkpoint keeps only the state, the index being rebuilt from it on restore.
/// </summary>
public sealed partial class PartitionActor
{
    private static bool IsShopperDeadline(SessionKey key) => key == SessionStore.ShopperKey(key.ShopperId);

    /// <summary>The shopper's earliest due deadline: their own, or one of their sessions'.</summary>
    private (SessionKey Key, Deadline Deadline)? EarliestDue(string shopperId, Watermark stamp, DateTimeOffset? before)
    {
        var session = _sessions.EarliestDue(shopperId, stamp, before);
        if (ShopperDeadlineDue(shopperId, stamp, before) is not { } own) return session;
        return session is { } other && other.Deadline.At < own.Deadline.At ? session : own;
    }

    private (SessionKey Key, Deadline Deadline)? ShopperDeadlineDue(string shopperId, Watermark stamp, DateTimeOffset? before)
    {
        if (!_shoppers.TryGetValue(shopperId, out var shopper))
        {
            // A shopper forgotten (erased, handed over) leaves no timer behind.
            _sessions.SetShopperDeadline(shopperId, null);
            return null;
        }
        return _engine.DueShopperDeadline(shopper, stamp, before) is { } due && !_failedShopperDeadlines.Contains((shopperId, due))
            ? (SessionStore.ShopperKey(shopperId), due) : null;
    }

    // Shopper deadlines whose decision threw: the state is unchanged, so the same deadline would be due again at once.
    // Kept in memory only: after a restart each fails once more (one more dead letter), never in a loop.
    private readonly HashSet<(string ShopperId, Deadline Deadline)> _failedShopperDeadlines = [];

    private void FireShopperDeadline(string shopperId, Deadline deadline)
    {
        try
        {
            var decision = _engine.Fire(Shopper(shopperId), deadline);
            _shoppers[shopperId] = decision.Shopper;
            _batch!.Add(decision.Effects);
        }
        catch (Exception e)
        {
            Context.GetLogger().Error(e, "partition {0}: decision failed on a {1} deadline; deadline dead-lettered", _partition, deadline.Kind);
            _failedShopperDeadlines.Add((shopperId, deadline));
            _batch!.DeadLetters.Add(DecisionFailures.TimerDeadLetter(_partition, shopperId, "", deadline, e));
        }
        _batch.Touched.Add(shopperId);
        TrackShopperDeadline(shopperId);
    }

    /// <summary>Puts the shopper's current deadline in the index (or takes a stale one out, or one that failed).</summary>
    private void TrackShopperDeadline(string shopperId)
    {
        var deadline = _shoppers.TryGetValue(shopperId, out var shopper) ? _engine.ShopperDeadline(shopper) : null;
        _sessions.SetShopperDeadline(shopperId, deadline is { } due && _failedShopperDeadlines.Contains((shopperId, due)) ? null : deadline);
    }
}
