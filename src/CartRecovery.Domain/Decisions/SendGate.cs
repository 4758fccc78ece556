using System.Collections.Concurrent;
using System.Collections.Immutable;
using CartRecovery.Contracts.Events;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.State;

namespace CartRecovery.Domain.Decisions;

/// <summary>What the send-time gate decided for one reminder step: sent (no suppression) on <see cref="Channel"/>
/// relying on <see cref="Consent"/>, or suppressed for <see cref="Suppression"/>; <see cref="Evidence"/> is what the
/// audit row cites either way; <see cref="Detail"/> says what else the audit row should (a fallback from a retired channel, a score below the step's
/// threshold).</summary>
public sealed record SendVerdict(string? Suppression, string? Channel, ConsentRecord? Consent, ImmutableArray<string> Evidence, string Detail = "")
{
    public bool MaySend => Suppression is null;
}

/// <summary>
/// The send-time gate: whether a due reminder step of a session may go out, decided from the shopper's state at the
/// step's instant (never when the cart was left): a purchase since, a pending payment, items already bought, consent
/// and opt-outs, frequency caps, the holdout, and quiet hours in the shopper's time zone.
/// </summary>
public sealed class SendGate(RecoveryPolicy policy)
{
    // Only opt-outs travel down the nesting: a grant must name cart recovery itself (purpose-specific consent).
    internal static readonly string[] PurposesCoveringRecovery =
        [RecoveryEngine.RecoveryPurpose, RecoveryEngine.MarketingPurpose, RecoveryEngine.Everything];

    private static readonly ConcurrentDictionary<string, TimeZoneInfo> Zones = new();

    public RecoveryPolicy Policy { get; } = policy;

    /// <summary>Send-time suppression, in order of precedence: the verdict carries the chosen channel and the consent it
    /// relies on when the step may be sent. <paramref name="offered"/> is the cart without the lines in
    /// <paramref name="bought"/>.</summary>
    /// <param name="minScore">The step's minimum risk score (0: none); a cart scored below gets no message at this step.</param>
    public SendVerdict Check(ShopperState shopper, SessionState session, SessionState offered,
        IReadOnlyDictionary<string, Purchase> bought, SegmentPolicy segment, DateTimeOffset at, double minScore = 0)
    {
        if (!session.HasCart) return Suppressed(SuppressionReason.CartEmptied, [session.LastEventId]);

        if (PendingPaymentFor(shopper, session, at) is { } pending)
            return Suppressed(SuppressionReason.PaymentPending, [pending.EventId, session.LastEventId]);

        if (!offered.HasCart)
            return Suppressed(SuppressionReason.ItemsAlreadyBought,
                [.. bought.Values.Select(p => p.EventId).Distinct().Order(StringComparer.Ordinal), session.LastEventId]);

        // The policy chooses not to spend a message on a cart this unlikely to be lost: before consent and caps, so the
        // holdout and the messaged group exclude the same low-score carts. The score is the one when the cart was left
        // (the score at send time has the idle hours in it, high for every cart by then).
        if (session.UrgencyScore < minScore)
            return new SendVerdict(SuppressionReason.ScoreBelowThreshold, null, null, [session.LastEventId],
                $"score_at_abandonment={session.UrgencyScore:0.###} min_score={minScore:0.###}");

        var chosen = ConsentedChannel(shopper, segment, RecoveryEngine.RecoveryPurpose, at, session.LastEventId);
        if (!chosen.MaySend) return chosen;
        var (channel, consent) = (chosen.Channel, chosen.Consent!);

        ImmutableArray<string> evidence = [consent.EventId, session.LastEventId];
        if (session.RemindersSent >= segment.Caps.PerCart) return new SendVerdict(SuppressionReason.CapPerCart, channel, consent, evidence);
        if (ShopperCapReached(shopper, segment, at) is { } capped) return capped with { Channel = channel, Consent = consent };
        if (session.Holdout) return new SendVerdict(SuppressionReason.Holdout, channel, consent, evidence);
        return chosen with { Evidence = evidence };
    }

    /// <summary>Whether a message for <paramref name="purpose"/> (browse abandonment, win-back) may go out at
    /// <paramref name="at"/>: consent and retired channels as for reminders (<see cref="ConsentedChannel"/>), then the
    /// per-shopper cap, which counts every message the shopper was sent.</summary>
    public static SendVerdict CheckMessage(ShopperState shopper, SegmentPolicy segment, string purpose, DateTimeOffset at, string lastEventId)
    {
        var chosen = ConsentedChannel(shopper, segment, purpose, at, lastEventId);
        if (!chosen.MaySend) return chosen;
        if (ShopperCapReached(shopper, segment, at) is { } capped) return capped with { Channel = chosen.Channel, Consent = chosen.Consent };
        return chosen with { Evidence = lastEventId.Length > 0 ? [chosen.Consent!.EventId, lastEventId] : [chosen.Consent!.EventId] };
    }

    private static SendVerdict? ShopperCapReached(ShopperState shopper, SegmentPolicy segment, DateTimeOffset at)
    {
        var recent = shopper.Sent.Where(s => s.At > at - segment.Caps.PerShopperWindow && s.At <= at).ToList();
        return recent.Count >= segment.Caps.PerShopper
            ? new SendVerdict(SuppressionReason.CapPerShopper, null, null, [.. recent.Select(s => s.TriggerId)])
            : null;
    }

    /// <summary>The first channel of the segment's order that the shopper consented to for <paramref name="purpose"/> and that
    /// no bounce or complaint retired (the verdict's detail names the retired channels it fell back from); otherwise the
    /// suppression: every consented channel retired, consent withdrawn, expired, or never given.</summary>
    public static SendVerdict ConsentedChannel(ShopperState shopper, SegmentPolicy segment, string purpose, DateTimeOffset at, string lastEventId)
    {
        string? channel = null;
        ConsentRecord? consent = null;
        var retired = new List<ChannelBlock>();
        foreach (var candidate in segment.ChannelsFor(shopper))
        {
            if (PurposeConsent(shopper, purpose, candidate, at) is not { Granted: true } record || record.ExpiredAt(at)) continue;
            // A channel that hard-bounced or drew a complaint is not used again: the next consented one is the fallback.
            if (shopper.BlockedChannels.TryGetValue(candidate, out var block) && block.At <= at)
            {
                retired.Add(block);
                continue;
            }
            channel = candidate;
            consent = record;
            break;
        }
        if (consent is null && retired.Count > 0)
            return new SendVerdict(SuppressionReason.ChannelBlocked, retired[0].Channel, null, [.. retired.Select(b => b.EventId)],
                string.Join(' ', retired.Select(b => $"blocked={b.Channel}({b.Reason})")));
        var fallback = retired.Count == 0 ? "" : " " + string.Join(' ', retired.Select(b => $"fallback_from={b.Channel}({b.Reason})"));
        if (consent is null)
        {
            var withdrawal = segment.ChannelPreference.Select(c => PurposeConsent(shopper, purpose, c, at))
                .Where(r => r is { Granted: false }).OrderByDescending(r => r!.At).ThenBy(r => r!.EventId, StringComparer.Ordinal).FirstOrDefault();
            if (withdrawal is not null) return Suppressed(SuppressionReason.ConsentWithdrawn, [withdrawal.EventId]);
            // An expired grant is no consent, said as such: the audit cites the grant whose validity ran out.
            var expired = segment.ChannelPreference.Select(c => PurposeConsent(shopper, purpose, c, at)).Where(r => r is not null && r.ExpiredAt(at))
                .OrderByDescending(r => r!.ValidUntil).ThenBy(r => r!.EventId, StringComparer.Ordinal).FirstOrDefault();
            return expired is not null
                ? Suppressed(SuppressionReason.ConsentExpired, [expired.EventId])
                : Suppressed(SuppressionReason.NoConsent, lastEventId.Length > 0 ? [lastEventId] : []);
        }

        return new SendVerdict(null, channel, consent, [consent.EventId], fallback.TrimStart());
    }

    private static SendVerdict Suppressed(string reason, ImmutableArray<string> evidence) => new(reason, null, null, evidence);

    /// <summary>When a step that may be sent falls in the segment's quiet hours (in the session's time zone): the instant
    /// it is deferred to. Null: send now.</summary>
    public static DateTimeOffset? QuietUntil(SegmentPolicy segment, SessionState session, DateTimeOffset at) =>
        segment.QuietHours.DeferUntil(at, Zone(session.TimeZone));

    /// <summary>What cart recovery may rely on for <paramref name="channel"/> at <paramref name="at"/>: the cart-recovery
    /// grant for that channel, unless an opt-out at least as new covers it (cart recovery, marketing or everything, on
    /// that channel or on every channel); then that opt-out, the evidence of the suppression. Null: never asked.</summary>
    public static ConsentRecord? RecoveryConsent(ShopperState shopper, string channel, DateTimeOffset at) =>
        PurposeConsent(shopper, RecoveryEngine.RecoveryPurpose, channel, at);

    /// <summary>As <see cref="RecoveryConsent"/> for any purpose: the grant must name <paramref name="ownPurpose"/>; an
    /// opt-out from it, from marketing or from everything covers it.</summary>
    public static ConsentRecord? PurposeConsent(ShopperState shopper, string ownPurpose, string channel, DateTimeOffset at)
    {
        var own = shopper.ConsentFor(ownPurpose, channel);
        ConsentRecord? optOut = own is { Granted: false } ? own : null;
        foreach (var purpose in ownPurpose == RecoveryEngine.RecoveryPurpose ? PurposesCoveringRecovery : [ownPurpose, RecoveryEngine.MarketingPurpose, RecoveryEngine.Everything])
            foreach (var scope in (ReadOnlySpan<string>)[channel, RecoveryEngine.Everything])
                if (shopper.ConsentFor(purpose, scope) is { Granted: false } record
                    && (optOut is null || record.At > optOut.At || (record.At == optOut.At && string.CompareOrdinal(record.EventId, optOut.EventId) < 0)))
                    optOut = record;

        var grant = own is { Granted: true } && own.At <= at ? own : null;
        if (grant is not null && (optOut is null || optOut.At < grant.At)) return grant;
        return optOut;
    }

    /// <summary>A pending payment that may pay for this cart: reported for this session, or (from any session or none)
    /// after the cart's last activity; unresolved and within the policy's hold at <paramref name="at"/>.</summary>
    public PendingPayment? PendingPaymentFor(ShopperState shopper, SessionState session, DateTimeOffset at)
    {
        PendingPayment? first = null;
        foreach (var pending in shopper.PendingPayments)
            if (pending.At <= at && at < pending.At + Policy.PaymentPendingHold
                && (pending.SessionId == session.SessionId || pending.At >= session.LastActivityAt)
                && (first is null || pending.At < first.At || (pending.At == first.At && string.CompareOrdinal(pending.EventId, first.EventId) < 0)))
                first = pending;
        return first;
    }

    /// <summary>The earliest order or payment authorization of the shopper, in another session, placed after this cart's
    /// last activity and by <paramref name="at"/>: the shopper bought after leaving the cart, so its case is over even
    /// when the order lists no lines.</summary>
    public static ShopperOrder? OrderSinceCartLeft(ShopperState shopper, SessionState session, DateTimeOffset at)
    {
        ShopperOrder? first = null;
        foreach (var order in shopper.Orders)
            if (order.At >= session.LastActivityAt && order.At <= at && order.SessionId != session.SessionId
                && (first is null || order.At < first.At || (order.At == first.At && string.CompareOrdinal(order.EventId, first.EventId) < 0)))
                first = order;
        return first;
    }

    /// <summary>The cart's lines the shopper has not bought (within the purchase memory, by <paramref name="at"/>);
    /// <paramref name="bought"/> gets the others with the purchase that bought them.</summary>
    public ImmutableSortedDictionary<string, CartLine> Unbought(ShopperState shopper, SessionState session, DateTimeOffset at,
        out IReadOnlyDictionary<string, Purchase> bought)
    {
        // Made only when something was bought: most carts hold nothing the shopper bought since.
        SortedDictionary<string, Purchase>? found = null;
        if (!shopper.PurchasedSkus.IsEmpty)
            foreach (var (sku, _) in session.Lines)
                if (shopper.PurchasedSkus.TryGetValue(sku, out var purchase) && purchase.At > at - Policy.PurchaseMemory && purchase.At <= at)
                    (found ??= new SortedDictionary<string, Purchase>(StringComparer.Ordinal))[sku] = purchase;
        bought = found ?? NothingBought;
        return found is null ? session.Lines : session.Lines.RemoveRange(found.Keys);
    }

    private static readonly IReadOnlyDictionary<string, Purchase> NothingBought = ImmutableSortedDictionary<string, Purchase>.Empty;

    // Zones reach the engine validated (EventParser for input, PolicyFile for the default): the UTC fallback is for a
    // tz database that lost a zone between a checkpoint and its restore, not for unknown input.
    public static TimeZoneInfo Zone(string id) => Zones.GetOrAdd(id, static z =>
    {
        try { return TimeZoneInfo.FindSystemTimeZoneById(z); }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException) { return TimeZoneInfo.Utc; }
    });
}
