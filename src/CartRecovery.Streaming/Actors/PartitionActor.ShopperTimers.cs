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
    /// <summary>Session ids are never empty (EventParser), so this key cannot collide with a session's.</summary>
    private const string ShopperTimerSession = "";

    private static bool IsShopperDeadline(SessionKey key) => key.SessionId.Length == 0;

    private (SessionKey Key, Deadline Deadline)? ShopperDeadlineDue(string shopperId, Watermark stamp, DateTimeOffset? before)
    {
        var key = new SessionKey(shopperId, ShopperTimerSession);
        if (!_shoppers.TryGetValue(shopperId, out var shopper))
        {
            // A shopper forgotten (erased, handed over) leaves no timer behind.
            _timers.Remove(key);
            return null;
        }
        return _engine.DueShopperDeadline(shopper, stamp, before) is { } due ? (key, due) : null;
    }

    private void FireShopperDeadline(string shopperId, Deadline deadline)
    {
        var decision = _engine.Fire(Shopper(shopperId), deadline);
        _shoppers[shopperId] = decision.Shopper;
        _batch!.Add(decision.Effects);
        _batch.Touched.Add(shopperId);
        TrackShopperDeadline(shopperId);
    }

    /// <summary>Puts the shopper's current deadline in the index (or takes a stale one out).</summary>
    private void TrackShopperDeadline(string shopperId)
    {
        var key = new SessionKey(shopperId, ShopperTimerSession);
        if (_shoppers.TryGetValue(shopperId, out var shopper) && _engine.ShopperDeadline(shopper) is { } deadline) _timers.Set(key, [deadline]);
        else _timers.Remove(key);
    }
}
