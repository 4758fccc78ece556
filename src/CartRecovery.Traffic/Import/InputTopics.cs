using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Serialization;

namespace CartRecovery.Traffic.Import;

/// <summary>The input topic an event belongs on (docs/events.md): order and payment events on order-events,
/// consent events on consent-events, every other session event on cart-events.</summary>
public static class InputTopics
{
    public static string For(ShopperEvent evt)
    {
        foreach (var topic in Topics.Inputs)
            if (EventParser.BelongsOn(evt, topic)) return topic;
        throw new ArgumentOutOfRangeException(nameof(evt), $"no input topic for {evt.GetType().Name}");
    }
}
