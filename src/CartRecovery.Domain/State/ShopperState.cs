using System.Collections.Immutable;
using CartRecovery.Contracts.Outputs;

namespace CartRecovery.Domain.State;

/// <summary>The latest consent for one purpose on one channel, with its evidence. <paramref name="ValidUntil"/>: a grant
/// given for a limited time is no consent from then on.</summary>
public sealed record ConsentRecord(string Purpose, string Channel, bool Granted, string EventId, DateTimeOffset At,
    string Source, string WordingVersion, string Kind, DateTimeOffset? ValidUntil = null)
{
    /// <summary>A grant whose validity ran out by <paramref name="at"/>.</summary>
    public bool ExpiredAt(DateTimeOffset at) => Granted && ValidUntil is { } until && until <= at;
}

public sealed record SentMessage(DateTimeOffset At, string TriggerId, string SessionId);

/// <summary>When a sku was bought, and the order event that bought it (evidence for items_already_bought).</summary>
public readonly record struct Purchase(DateTimeOffset At, string EventId);

/// <summary>An incentive code issued and not yet voided; it stops being valid at <see cref="ExpiresAt"/>.</summary>
public sealed record OpenIncentive(string Code, string TriggerId, string SessionId, DateTimeOffset IssuedAt, DateTimeOffset ExpiresAt);

/// <summary>An order or payment authorization of the shopper, in any session: it ends the recovery of every cart the
/// shopper had left before it.</summary>
public sealed record ShopperOrder(DateTimeOffset At, string EventId, string SessionId);

/// <summary>A payment reported pending by the payment processor; it holds the reminders of the carts it may pay for
/// until it is resolved or the policy's hold runs out.</summary>
public sealed record PendingPayment(DateTimeOffset At, string EventId, string? SessionId);

/// <summary>An abandoned cart whose reminder sequence is running: a cart of the same shopper abandoned shortly after
/// with an item in common joins it instead of starting a second sequence.</summary>
public sealed record OpenCase(string SessionId, DateTimeOffset AbandonedAt, ImmutableArray<string> Skus, string AbandonEventId);

/// <summary>An event id already applied and its event time (UTC), in 16 bytes: a 64-bit hash of the id and a
/// <see cref="DateTime"/>, to keep waiting shoppers small.</summary>
public readonly record struct SeenEvent(ulong IdHash, DateTime AtUtc);

/// <summary>A finished session kept for the attribution window: a late order still recovers it, and a
/// returning shopper's next visit keeps its per-cart message count.</summary>
public sealed record ClosedSession(SessionOutcome Outcome, int RemindersSent, int Abandonments, int Visits, string TimeZone, DateTimeOffset ClosedAt);

/// <summary>A message channel the shopper is not to be sent on again: it hard-bounced or drew a complaint
/// (<see cref="Reason"/> is the outcome type), with the outcome event as evidence.</summary>
public sealed record ChannelBlock(string Channel, string Reason, string EventId, string TriggerId, DateTimeOffset At);

/// <summary>A proactive chat offered to the shopper: chat outcomes (accepted, resolved) are matched against it.</summary>
public sealed record OfferedChat(DateTimeOffset At, string TriggerId, string SessionId);

/// <summary>The shopper's win-back decisions: <see cref="DecidedFor"/> is the last order of the lapse the latest one was
/// about (sent or not: one decision per lapse), <see cref="LastSentAt"/> when one last went out (at most one per policy
/// period), <see cref="DeferredUntil"/> set while one waits out quiet hours.</summary>
public sealed record WinBackState(DateTimeOffset? DecidedFor, DateTimeOffset? LastSentAt, DateTimeOffset? DeferredUntil = null);

/// <summary>A survey invitation waiting for its time (policy <c>survey_invitation</c>): the recovery case of
/// <see cref="SessionId"/> (started <see cref="SessionStart"/>, abandonment number <see cref="Abandonment"/>, left at
/// <see cref="AbandonedAt"/>) ended without an order at <see cref="EndedAt"/>. Kept in the shopper's state, so the shopper's
/// own deadline (<see cref="Decisions.RecoveryEngine.ShopperDeadline"/>) fires it in live mode, replays and restores alike.</summary>
public sealed record PendingSurvey(string SessionId, DateTimeOffset SessionStart, int Abandonment, DateTimeOffset AbandonedAt, DateTimeOffset EndedAt,
    string AbandonEventId, string Segment, string Variant, string TimeZone, bool Holdout, decimal CartValue, string Currency,
    DateTimeOffset? DeferredUntil = null);

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
    /// <summary>Orders and payment authorizations within the purchase memory, in any session.</summary>
    public ImmutableList<ShopperOrder> Orders { get; init; } = [];
    public ImmutableList<PendingPayment> PendingPayments { get; init; } = [];
    public ImmutableList<OpenCase> OpenCases { get; init; } = [];
    /// <summary>Event ids applied within the policy's dedup horizon: part of the checkpoint, so a redelivery after a
    /// restart is recognised too.</summary>
    public ImmutableArray<SeenEvent> SeenEvents { get; init; } = [];
    /// <summary>The newest row of the shopper's audit chain (docs/compliance.md); not part of <see cref="IsEmpty"/>: a
    /// forgotten shopper's next row starts a new chain.</summary>
    public Compliance.AuditChainHead? AuditHead { get; init; }
    /// <summary>Channels retired by a hard bounce or a complaint, by channel: never used again for this shopper.</summary>
    public ImmutableDictionary<string, ChannelBlock> BlockedChannels { get; init; } = ImmutableDictionary<string, ChannelBlock>.Empty;
    /// <summary>Engagement by message channel: 1 point per reported open, 2 per click. A segment with
    /// <c>channel_order: "engagement"</c> tries the shopper's most engaged consented channel first.</summary>
    public ImmutableSortedDictionary<string, int> Engagement { get; init; } = OrdinalEmpty.Sorted<int>();
    /// <summary>Proactive chats offered within the attribution window, to match chat outcomes against.</summary>
    public ImmutableList<OfferedChat> OfferedChats { get; init; } = [];
    /// <summary>What the shopper's history says (category interest, RFM, churn risk, segment); null before any event.</summary>
    public Profiles.ShopperProfile? Profile { get; init; }
    /// <summary>Where the shopper's win-back stands (policy <c>win_back</c>); null before the first one was decided.</summary>
    public WinBackState? WinBack { get; init; }
    /// <summary>Survey invitations of ended recovery cases not decided yet (policy <c>survey_invitation</c>).</summary>
    public ImmutableList<PendingSurvey> PendingSurveys { get; init; } = [];

    public static ShopperState New(string shopperId) => new() { ShopperId = shopperId };

    public static string ConsentKey(string purpose, string channel)
    {
        // Formatted on the stack and looked up by span: read on every send-time check, so no string per lookup once seen.
        var length = purpose.Length + 1 + channel.Length;
        if (length > 256) return SharedStrings.Of($"{purpose}/{channel}");
        Span<char> key = stackalloc char[length];
        purpose.CopyTo(key);
        key[purpose.Length] = '/';
        channel.CopyTo(key[(purpose.Length + 1)..]);
        return SharedStrings.Of(key);
    }

    public ConsentRecord? ConsentFor(string purpose, string channel) =>
        Consents.TryGetValue(ConsentKey(purpose, channel), out var record) ? record : null;

    /// <summary>True when nothing in it matters any more (no consent, nothing inside a window): the shopper can be forgotten.
    /// Seen event ids alone do not keep a shopper: one with nothing else has had no session for the attribution window.</summary>
    public bool IsEmpty => Consents.IsEmpty && Sent.IsEmpty && PurchasedSkus.IsEmpty && OpenIncentives.IsEmpty && ClosedSessions.IsEmpty
        && Orders.IsEmpty && PendingPayments.IsEmpty && OpenCases.IsEmpty && BlockedChannels.IsEmpty && OfferedChats.IsEmpty
        && PendingSurveys.IsEmpty
        // A customer's profile (at least one order) is kept: churn risk and win-back need it long after the last visit;
        // a prospect's is forgotten with the rest (shopper_profiles keeps its last row).
        && Profile is not { OrderCount: > 0 };
}
