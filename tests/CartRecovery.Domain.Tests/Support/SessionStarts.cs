using CartRecovery.Contracts.Events;

namespace CartRecovery.Domain.Tests.Support;

/// <summary>The start of a session as trigger ids carry it (RecoveryIds.StartKey): the event time of its first event.</summary>
public static class SessionStarts
{
    public static string Key(IEnumerable<ShopperEvent> events, string sessionId) =>
        events.OfType<SessionEvent>().Where(e => e.SessionId == sessionId).Min(e => e.EventTime).UtcTicks.ToString();
}
