using System.Collections.Immutable;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;

namespace CartRecovery.Domain.Identity;

/// <summary>What the anonymous shopper's partition hands to the customer's: its policy state and its sessions.</summary>
public sealed record HandOver(ShopperState Shopper, ImmutableArray<SessionState> Sessions);

/// <summary>The customer's state after adopting a hand-over: the merged shopper, the sessions to keep (new or
/// replacing a live one with the same id), the ids of sessions that ended on adoption, and the audit rows.</summary>
public sealed record Adoption(ShopperState Shopper, ImmutableArray<SessionState> Sessions, ImmutableArray<string> Ended, Effects Effects);

/// <summary>
/// Pure rules that make an anonymous id and a customer id one shopper once they are linked (docs/events.md,
/// "Identity"). The anonymous side hands over everything it holds for the person; the customer side adopts it:
/// consent newest-wins as if both ids' consent events were one stream, messages sent count against one set of
/// caps, purchases and recently closed sessions are shared, and a cart the customer already bought in the same
/// session ends as that order's instead of waiting for reminders. Adoption gives the same state whether the
/// hand-over arrives before or after the customer's own events, except where noted in the docs.
/// </summary>
public sealed class IdentityMerger(RecoveryEngine engine)
{
    public static class Decisions
    {
        /// <summary>Anonymous side: the id was linked (state handed over, or the link was already known).</summary>
        public const string Linked = "identity_linked";
        /// <summary>Customer side: a hand-over was adopted, or could not be.</summary>
        public const string Merged = "identity_merged";
    }

    public static class Reasons
    {
        public const string HandedOver = "handed_over";
        public const string AlreadyLinked = "already_linked";
        public const string Relinked = "relinked";
        public const string Adopted = "adopted";
        public const string AlreadyOrdered = "already_ordered";
        public const string DuplicateHandOver = "duplicate_hand_over";
        public const string InvalidState = "invalid_state";
        public const string LinkCycle = "link_cycle";
    }

    /// <summary>Room left for the state in a hand-over beside the record's own fields. A hand-over larger than one input
    /// record travels in parts (<see cref="Contracts.Serialization.SplitRecords"/>), so the bound is what a split record
    /// may carry, not the 64 KiB of one input record.</summary>
    public const int MaxStateBytes = (int)Contracts.Serialization.SplitRecords.MaxJoinedBytes - 64 * 1024;

    /// <summary>The hand-over record the anonymous side sends to the customer's key, and its audit row. A state too
    /// large for one input record leaves out the closed sessions (kept only to attribute late orders), audited.</summary>
    public (IdentityMerged Record, HandOver State, Effects Effects) HandOverFor(IdentityLinked link, ShopperState anonymous,
        IEnumerable<SessionState> sessions, Func<HandOver, System.Text.Json.JsonElement> serialize)
    {
        var state = new HandOver(anonymous, [.. sessions.OrderBy(s => s.SessionId, StringComparer.Ordinal)]);
        var json = serialize(state);
        var trimmed = "";
        if (System.Text.Encoding.UTF8.GetByteCount(json.GetRawText()) > MaxStateBytes)
        {
            state = state with { Shopper = state.Shopper with { ClosedSessions = ImmutableDictionary<string, ClosedSession>.Empty } };
            json = serialize(state);
            trimmed = $" left_out=closed_sessions:{anonymous.ClosedSessions.Count}";
        }
        var record = new IdentityMerged
        {
            EventId = RecoveryIds.IdentityMerged(link.EventId, link.AnonymousId, link.CustomerId),
            ShopperId = link.CustomerId,
            EventTime = link.EventTime,
            AnonymousId = link.AnonymousId,
            CustomerId = link.CustomerId,
            LinkEventId = link.EventId,
            State = json,
        };
        var effects = Effects.None.Add(Audit(link.AnonymousId, link.SessionId ?? "", Decisions.Linked, Reasons.HandedOver, link.EventTime, [link.EventId],
            $"customer={Pseudonym(link.CustomerId)} source={link.Source} sessions={state.Sessions.Length} hand_over_id={record.EventId}{trimmed}"));
        return (record, state, effects);
    }

    /// <summary>An audit row of the anonymous side for a link that moves nothing (already linked, or linked anew).</summary>
    public AuditRecord LinkAudit(IdentityLinked link, string reason, IdentityAlias previous) =>
        Audit(link.AnonymousId, link.SessionId ?? "", Decisions.Linked, reason, link.EventTime, [link.EventId, previous.LinkEventId],
            $"customer={Pseudonym(link.CustomerId)} previous_customer={Pseudonym(previous.CustomerId)} source={link.Source}");

    /// <summary>An audit row of the customer side for a hand-over that is not adopted (duplicate, unreadable, cycle).</summary>
    public AuditRecord MergeAudit(string shopperId, string reason, DateTimeOffset at, ImmutableArray<string> evidence, string detail = "") =>
        Audit(shopperId, "", Decisions.Merged, reason, at, evidence, detail);

    /// <summary>The customer adopts the anonymous shopper's hand-over.</summary>
    /// <param name="liveSessions">The customer's live and waiting sessions by id.</param>
    /// <param name="late">The hand-over arrived after the customer's partition had settled past the link time.</param>
    public Adoption Adopt(ShopperState customer, IReadOnlyDictionary<string, SessionState> liveSessions, HandOver handOver, IdentityMerged record, bool late)
    {
        var shopper = MergeShopper(customer, handOver.Shopper);
        var kept = ImmutableArray.CreateBuilder<SessionState>();
        var ended = ImmutableArray.CreateBuilder<string>();
        var effects = Effects.None;
        var lateness = late ? " late=1" : "";
        foreach (var handed in handOver.Sessions)
        {
            var session = handed with { ShopperId = customer.ShopperId };
            if (liveSessions.TryGetValue(session.SessionId, out var live))
            {
                kept.Add(MergeSession(live, session));
                effects = effects.Add(SessionAudit(session, Reasons.Adopted, record, "merged_with_live_session=1" + lateness));
            }
            else if (OrderedSince(shopper, session.SessionId, session.StartedAt) is { Outcome.OrderedAt: { } orderedAt } closed)
            {
                // The customer already ordered in this very session (the guest who signed up at checkout): the
                // cart was bought. Ending it through the engine's own order rule gives the outcome row the order
                // would have given had the hand-over arrived first.
                var order = new PaymentAuthorized
                {
                    EventId = RecoveryIds.IdentityOrder(record.EventId, session.SessionId),
                    ShopperId = customer.ShopperId, SessionId = session.SessionId, Channel = session.OriginChannel,
                    EventTime = orderedAt, OrderId = "", Amount = closed.Outcome.OrderValue,
                };
                // The session is one (shopper, session id, start): it continues as the customer's session that holds
                // the order, so its outcome row replaces that one instead of adding a second row for the same visit.
                var decision = engine.Apply(shopper, session with { StartedAt = closed.Outcome.StartedAt }, order, Watermark.Start);
                shopper = decision.Shopper;
                effects = effects.Add(SessionAudit(session, Reasons.AlreadyOrdered, record, $"ordered_at={orderedAt:O}" + lateness)).Concat(decision.Effects);
                if (decision.Session is { } stillOpen) kept.Add(stillOpen);
                else ended.Add(session.SessionId);
            }
            else
            {
                kept.Add(session);
                effects = effects.Add(SessionAudit(session, Reasons.Adopted, record, $"phase={session.Phase}" + lateness));
            }
        }
        if (handOver.Sessions.IsEmpty)
            effects = effects.Add(MergeAudit(customer.ShopperId, Reasons.Adopted, record.EventTime, [record.LinkEventId],
                $"anonymous={Pseudonym(record.AnonymousId)} sessions=0" + lateness));
        return new Adoption(shopper, kept.ToImmutable(), ended.ToImmutable(), effects);
    }

    /// <summary>
    /// An event of a linked id that reaches the customer after the customer ordered in the same session, and is
    /// older than that order, is part of the cart that was bought (a forwarded event is usually late): it must not
    /// reopen the session. Returns the audit row that records it, or null when the event applies normally.
    /// </summary>
    public AuditRecord? PartOfBoughtCart(ShopperState customer, SessionEvent forwarded)
    {
        if (forwarded is OrderPlaced or PaymentAuthorized) return null;
        if (OrderedSince(customer, forwarded.SessionId, forwarded.EventTime) is not { Outcome.OrderedAt: { } orderedAt }) return null;
        return Audit(customer.ShopperId, forwarded.SessionId, Decisions.Merged, Reasons.AlreadyOrdered, forwarded.EventTime, [forwarded.EventId],
            $"forwarded event older than the session's order at {orderedAt:O}: not applied");
    }

    /// <summary>The shopper's closed session with this id when it ended in an order at or after <paramref name="since"/>.</summary>
    private static ClosedSession? OrderedSince(ShopperState shopper, string sessionId, DateTimeOffset since) =>
        shopper.ClosedSessions.TryGetValue(sessionId, out var closed) && closed.Outcome.OrderedAt >= since
        && closed.Outcome.Outcome is Outcomes.Ordered or Outcomes.AbandonedRecovered ? closed : null;

    /// <summary>
    /// One shopper from two: consent per purpose and channel as if both ids' consent events were one stream (the
    /// newer wins; at the same instant a withdrawal wins), messages sent (caps), purchases (the later per sku),
    /// open incentives and recently closed sessions are pooled. Fields not named here are the customer's.
    /// Commutative in the pooled parts, so the order in which two hand-overs arrive does not matter.
    /// </summary>
    public static ShopperState MergeShopper(ShopperState customer, ShopperState anonymous)
    {
        var consents = customer.Consents;
        foreach (var (key, record) in anonymous.Consents.OrderBy(c => c.Key, StringComparer.Ordinal))
            if (!consents.TryGetValue(key, out var current) || Supersedes(record, current))
                consents = consents.SetItem(key, record);

        var purchases = customer.PurchasedSkus;
        foreach (var (sku, purchase) in anonymous.PurchasedSkus)
            if (!purchases.TryGetValue(sku, out var known) || purchase.At > known.At)
                purchases = purchases.SetItem(sku, purchase);

        var sentIds = customer.Sent.Select(s => s.TriggerId).ToHashSet(StringComparer.Ordinal);
        var codes = customer.OpenIncentives.Select(i => i.Code).ToHashSet(StringComparer.Ordinal);
        return customer with
        {
            Consents = consents,
            Sent = [.. customer.Sent.Concat(anonymous.Sent.Where(s => !sentIds.Contains(s.TriggerId)))
                .OrderBy(s => s.At).ThenBy(s => s.TriggerId, StringComparer.Ordinal)],
            PurchasedSkus = purchases,
            OpenIncentives = [.. customer.OpenIncentives.Concat(anonymous.OpenIncentives.Where(i => !codes.Contains(i.Code)))
                .OrderBy(i => i.IssuedAt).ThenBy(i => i.Code, StringComparer.Ordinal)],
            ClosedSessions = anonymous.ClosedSessions.Aggregate(customer.ClosedSessions,
                (closed, entry) => closed.ContainsKey(entry.Key) ? closed : closed.SetItem(entry.Key, entry.Value)),
            HasOrdered = customer.HasOrdered || anonymous.HasOrdered,
            // Orders and pending payments of either id end or hold the other's carts; open cases make one sequence per
            // person; the event ids either id has seen stay applied once (a forwarded copy is still a redelivery).
            Orders = [.. customer.Orders.Concat(anonymous.Orders).DistinctBy(o => o.EventId, StringComparer.Ordinal)
                .OrderBy(o => o.At).ThenBy(o => o.EventId, StringComparer.Ordinal)],
            PendingPayments = [.. customer.PendingPayments.Concat(anonymous.PendingPayments).DistinctBy(p => p.EventId, StringComparer.Ordinal)
                .OrderBy(p => p.At).ThenBy(p => p.EventId, StringComparer.Ordinal)],
            OpenCases = [.. customer.OpenCases.Concat(anonymous.OpenCases).DistinctBy(c => c.SessionId, StringComparer.Ordinal)
                .OrderBy(c => c.AbandonedAt).ThenBy(c => c.SessionId, StringComparer.Ordinal)],
            SeenEvents = [.. customer.SeenEvents.Concat(anonymous.SeenEvents).DistinctBy(e => e.IdHash).OrderBy(e => e.AtUtc).ThenBy(e => e.IdHash)],
            // A channel either id retired (bounce, complaint) stays retired for the person; the earlier block is the evidence.
            BlockedChannels = anonymous.BlockedChannels.Aggregate(customer.BlockedChannels,
                (blocked, entry) => blocked.TryGetValue(entry.Key, out var known) && known.At <= entry.Value.At ? blocked : blocked.SetItem(entry.Key, entry.Value)),
            Profile = Profiles.ShopperProfile.Merge(customer.Profile, anonymous.Profile),
            // A win-back either id was sent counts for the person's period.
            WinBack = customer.WinBack is null || anonymous.WinBack?.LastSentAt > customer.WinBack.LastSentAt ? anonymous.WinBack ?? customer.WinBack : customer.WinBack,
            Engagement = anonymous.Engagement.Aggregate(customer.Engagement,
                (engagement, entry) => engagement.SetItem(entry.Key, engagement.GetValueOrDefault(entry.Key) + entry.Value)),
            OfferedChats = [.. customer.OfferedChats.Concat(anonymous.OfferedChats).DistinctBy(c => c.TriggerId, StringComparer.Ordinal)
                .OrderBy(c => c.At).ThenBy(c => c.TriggerId, StringComparer.Ordinal)],
            // Each id's ended cases keep their survey invitation (the person's caps and consent then decide it).
            PendingSurveys = [.. customer.PendingSurveys.Concat(anonymous.PendingSurveys).DistinctBy(p => (p.SessionId, p.SessionStart, p.Abandonment))
                .OrderBy(p => p.EndedAt).ThenBy(p => p.SessionId, StringComparer.Ordinal)],
        };
    }

    /// <summary>The same consent rule as for consent events: the newer record wins; at the same instant a withdrawal wins.</summary>
    public static bool Supersedes(ConsentRecord candidate, ConsentRecord current) =>
        candidate.At > current.At || (candidate.At == current.At && !candidate.Granted && current.Granted);

    /// <summary>
    /// A session the storefront continued under the customer id after the link (same session id on both sides):
    /// one cart. The customer's session is the base (it is the newer view of the cart); lines only the device had
    /// are added, and the funnel and activity facts are combined.
    /// </summary>
    public static SessionState MergeSession(SessionState live, SessionState handed)
    {
        var lines = live.Lines;
        foreach (var (sku, line) in handed.Lines)
            if (!lines.ContainsKey(sku)) lines = lines.Add(sku, line);
        var addsLines = lines.Count > live.Lines.Count;
        var handedIsNewer = handed.LastActivityAt > live.LastActivityAt;
        return live with
        {
            Lines = lines,
            HadCart = live.HadCart || handed.HadCart,
            StartedAt = handed.StartedAt < live.StartedAt ? handed.StartedAt : live.StartedAt,
            LastActivityAt = handedIsNewer ? handed.LastActivityAt : live.LastActivityAt,
            LastEventId = handedIsNewer ? handed.LastEventId : live.LastEventId,
            FurthestStep = handed.FurthestStep > live.FurthestStep ? handed.FurthestStep : live.FurthestStep,
            PaymentFailures = live.PaymentFailures + handed.PaymentFailures,
            PaymentErrorCodes = handed.PaymentErrorCodes.AddRange(live.PaymentErrorCodes),
            ReturningShopper = live.ReturningShopper || handed.ReturningShopper,
            ProactiveChatSent = live.ProactiveChatSent || handed.ProactiveChatSent,
            RemindersSent = Math.Max(live.RemindersSent, handed.RemindersSent),
            Abandonments = Math.Max(live.Abandonments, handed.Abandonments),
            Visits = Math.Max(live.Visits, handed.Visits),
            // Money and zone, by the engine's rule for a line in a currency (WithCurrency): an empty cart takes the
            // currency of the lines that arrive; lines in another currency joining a cart make it mixed (never added up
            // as one currency). A zone the input named beats the policy's default.
            Currency = live.HasCart || !handed.HasCart ? live.Currency : handed.Currency,
            CurrencyFromPolicy = live.HasCart || !handed.HasCart ? live.CurrencyFromPolicy : handed.CurrencyFromPolicy,
            MixedCurrencies = live.HasCart || !handed.HasCart
                ? live.MixedCurrencies || (addsLines && (handed.MixedCurrencies || handed.Currency != live.Currency))
                : handed.MixedCurrencies,
            TimeZone = live.TimeZoneFromPolicy && !handed.TimeZoneFromPolicy ? handed.TimeZone : live.TimeZone,
            TimeZoneFromPolicy = live.TimeZoneFromPolicy && handed.TimeZoneFromPolicy,
        };
    }

    /// <summary>Audit details name other shoppers by their keyed pseudonym only: the audit log holds no personal data, so
    /// erasing a shopper never has to rewrite (and break the chain of) another shopper's rows.</summary>
    public string Pseudonym(string shopperId) => engine.Policy.Keys.Pseudonym(shopperId);

    private AuditRecord SessionAudit(SessionState session, string reason, IdentityMerged record, string detail) =>
        Audit(session.ShopperId, session.SessionId, Decisions.Merged, reason, record.EventTime, [record.LinkEventId, session.LastEventId],
            $"anonymous={Pseudonym(record.AnonymousId)} {detail}");

    private AuditRecord Audit(string shopperId, string sessionId, string decision, string reason, DateTimeOffset at,
        ImmutableArray<string> evidence, string detail) => new()
    {
        AuditId = RecoveryIds.Audit(decision, reason, shopperId, sessionId, 0, at, evidence),
        ShopperId = shopperId,
        SessionId = sessionId,
        Decision = decision,
        Reason = reason,
        Evidence = evidence,
        PolicyVersion = engine.Policy.Version,
        Detail = detail,
        EventTime = at,
    };
}
