using System.Collections.Immutable;
using CartRecovery.Contracts.Outputs;

namespace CartRecovery.Domain.State;

/// <summary>The latest consent for one purpose on one channel, with its evidence.</summary>
public sealed record ConsentRecord(string Purpose, string Channel, bool Granted, string EventId, DateTimeOffset At,
    string Source, string WordingVersion, string Kind);

public sealed record SentMessage(DateTimeOffset At, string TriggerId, string SessionId);

/// <summary>When a sku was bought, and the order event that bought it (evidence for items_already_bought).</summary>
public readonly record struct Purchase(DateTimeOffset At, string EventId);

public sealed record OpenIncentive(string Code, string TriggerId, string SessionId, DateTimeOffset IssuedAt);

/// <summary>A finished session kept for the attribution window: a late order still recovers it, and a
/// returning shopper's next visit keeps its per-cart message count.</summary>
public sealed record ClosedSession(SessionOutcome Outcome, int RemindersSent, int Abandonments, int Visits, string TimeZone, DateTimeOffset ClosedAt);

/// <summary>Policy state of one shopper, shared by all of the shopper's sessions (devices): consent by purpose
/// and channel, messages sent (frequency caps), purchases, open incentives and recently closed sessions.</summary>
public sealed record ShopperState
{
    public required string ShopperId { get; init; }
    public ImmutableDictionary<string, ConsentRecord> Consents { get; init; } = ImmutableDictionary<string, ConsentRecord>.Empty;
    public ImmutableList<SentMessage> Sent { get; init; } = [];
    public ImmutableDictionary<string, Purchase> PurchasedSkus { get; init; } = ImmutableDictionary<string, Purchase>.Empty;
    public ImmutableList<OpenIncentive> OpenIncentives { get; init; } = [];
    public ImmutableDictionary<string, ClosedSession> ClosedSessions { get; init; } = ImmutableDictionary<string, ClosedSession>.Empty;
    public bool HasOrdered { get; init; }

    public static ShopperState New(string shopperId) => new() { ShopperId = shopperId };

    public static string ConsentKey(string purpose, string channel) => SharedStrings.Of($"{purpose}/{channel}");

    public ConsentRecord? ConsentFor(string purpose, string channel) =>
        Consents.TryGetValue(ConsentKey(purpose, channel), out var record) ? record : null;

    /// <summary>True when nothing in it matters any more (no consent, nothing inside a window): the shopper can be forgotten.</summary>
    public bool IsEmpty => Consents.IsEmpty && Sent.IsEmpty && PurchasedSkus.IsEmpty && OpenIncentives.IsEmpty && ClosedSessions.IsEmpty;
}
