using System.Collections.Immutable;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.Scoring;
using CartRecovery.Domain.State;

namespace CartRecovery.Domain.Decisions;

/// <summary>A score and its top factors as a row shows them.</summary>
public readonly record struct DecidingScore(double Score, ImmutableArray<string> TopFactors);

/// <summary>
/// The rows the engine emits, built in one place from the session (or shopper) they are about: triggers (reminders,
/// proactive chats, incentive voids), audit rows and session outcome rows, each under its id from
/// <see cref="RecoveryIds"/> and stamped with the policy version and the session's segment and variant.
/// </summary>
public sealed partial class RecoveryRows(RecoveryPolicy policy)
{
    public RecoveryPolicy Policy { get; } = policy;

    /// <param name="decidedBy">The score the trigger shows when it is not the session's own (a reminder step: the score when
    /// the cart was left).</param>
    /// <param name="sendTimeScore">A reminder's score at send time, shown next to the deciding one.</param>
    public RecoveryTrigger Trigger(SessionState session, string triggerId, string kind, int step, string channel, string reason,
        DateTimeOffset at, DateTimeOffset due, string incentiveCode, string consentEventId, IncentiveOffer? incentive = null,
        DecidingScore? decidedBy = null, double sendTimeScore = 0) => new()
    {
        TriggerId = triggerId,
        Kind = kind,
        ShopperId = session.ShopperId,
        SessionId = session.SessionId,
        Step = step,
        Channel = channel,
        Score = decidedBy?.Score ?? session.Score,
        TopFactors = decidedBy?.TopFactors ?? session.TopFactors,
        SendTimeScore = sendTimeScore,
        Reason = reason,
        // Bounded so that every trigger fits one Kafka record whatever the cart holds (OutputLimits); the value stays the whole cart's.
        CartLines = [.. session.Lines.Values.Take(OutputLimits.MaxTriggerLines)],
        CartLinesOmitted = Math.Max(0, session.Lines.Count - OutputLimits.MaxTriggerLines),
        CartValue = session.MixedCurrencies ? 0 : session.CartValue,
        Currency = session.MixedCurrencies ? SessionState.MixedCurrency : session.Currency,
        IncentiveCode = incentiveCode,
        IncentiveType = incentive?.Type ?? "",
        IncentiveValue = incentive?.Value ?? 0,
        IncentiveExpiresAt = incentive is null ? null : at + incentive.ValidFor,
        ConsentEventId = consentEventId,
        PolicyVersion = Policy.Version,
        Variant = session.Variant.Length > 0 ? session.Variant : Policy.VariantFor(session.ShopperId),
        Segment = session.Segment.Length > 0 ? session.Segment : Policy.SegmentFor(session).Name,
        OriginChannel = session.OriginChannel,
        FunnelStep = RiskModel.StepName(session.FurthestStep),
        PaymentErrorCodes = session.PaymentErrorCodes,
        EventTime = at,
        DueTime = due,
    };

    /// <summary>A reminder with what its dispatcher needs to send it compliantly (purpose and wording of the consent it
    /// relies on, opaque unsubscribe and resume links, the rendered message): <see cref="Compliance.MessageObligations"/>.</summary>
    public RecoveryTrigger WithObligations(RecoveryTrigger reminder, ConsentRecord consent, string timeZone) =>
        Compliance.MessageObligations.Complete(reminder, Policy, consent, SendGate.Zone(timeZone));

    /// <summary>A trigger with the shopper's zone and local time at the decision.</summary>
    public RecoveryTrigger Located(RecoveryTrigger trigger, string timeZone) => Compliance.MessageObligations.Located(trigger, SendGate.Zone(timeZone));

    /// <summary>The trigger that voids an issued incentive code (expired at <paramref name="at"/>, or the shopper ordered).</summary>
    public RecoveryTrigger IncentiveVoid(string shopperId, OpenIncentive incentive, string voidId, string reason, DateTimeOffset at) => new()
    {
        TriggerId = voidId, Kind = TriggerKinds.IncentiveVoid, ShopperId = shopperId, SessionId = incentive.SessionId,
        Step = 0, Channel = "", Score = 0, Reason = reason, IncentiveCode = incentive.Code, IncentiveExpiresAt = incentive.ExpiresAt,
        PolicyVersion = Policy.Version, EventTime = at, DueTime = at,
    };

    public AuditRecord Audit(SessionState session, string decision, string reason, DateTimeOffset at, ImmutableArray<string> evidence,
        int step = 0, string channel = "", string detail = "") =>
        Audit(session.ShopperId, session.SessionId, decision, reason, at, evidence, step, channel, detail, session.Score, session.TopFactors);

    /// <summary>An audit row about <paramref name="session"/> showing <paramref name="decidedBy"/> as its score.</summary>
    public AuditRecord Audit(SessionState session, DecidingScore decidedBy, string decision, string reason, DateTimeOffset at,
        ImmutableArray<string> evidence, int step = 0, string channel = "", string detail = "") =>
        Audit(session.ShopperId, session.SessionId, decision, reason, at, evidence, step, channel, detail, decidedBy.Score, decidedBy.TopFactors);

    public AuditRecord Audit(string shopperId, string sessionId, string decision, string reason, DateTimeOffset at,
        ImmutableArray<string> evidence, int step = 0, string channel = "", string detail = "", double score = 0,
        ImmutableArray<string> topFactors = default) => new()
    {
        AuditId = RecoveryIds.Audit(decision, reason, shopperId, sessionId, step, at, evidence),
        ShopperId = shopperId,
        SessionId = sessionId,
        Decision = decision,
        Reason = reason,
        Step = step,
        Channel = channel,
        Evidence = evidence,
        Score = score,
        TopFactors = topFactors.IsDefault ? [] : topFactors,
        PolicyVersion = Policy.Version,
        Detail = detail,
        EventTime = at,
    };

    /// <summary>The session's outcome row, keyed by (shopper, session, start).</summary>
    public SessionOutcome Outcome(SessionState session, string outcome, DateTimeOffset at,
        DateTimeOffset? orderedAt = null, decimal orderValue = 0, string orderCurrency = "") => new()
    {
        SessionId = session.SessionId,
        ShopperId = session.ShopperId,
        OriginChannel = session.OriginChannel,
        Segment = session.Segment.Length > 0 ? session.Segment : Policy.SegmentFor(session).Name,
        FurthestStep = RiskModel.StepName(session.FurthestStep),
        CartValue = session.MixedCurrencies ? 0 : session.CartValue,
        Currency = session.MixedCurrencies ? SessionState.MixedCurrency : session.Currency,
        ItemCount = session.ItemCount,
        Outcome = outcome,
        AbandonedAt = session.AbandonedAt,
        OrderedAt = orderedAt,
        OrderValue = orderValue,
        OrderCurrency = orderCurrency,
        Holdout = session.Holdout,
        PolicyVersion = Policy.Version,
        Variant = session.Variant.Length > 0 ? session.Variant : Policy.VariantFor(session.ShopperId),
        StartedAt = session.StartedAt,
        EndedAt = at,
    };

    /// <summary>For the abandonment's audit row: how the cart's value met the policy's amounts (currency, conversion
    /// and its rate date, or why no threshold applied) and which settings were the policy's defaults.</summary>
    public string MoneyAndDefaults(SessionState session)
    {
        var note = new System.Text.StringBuilder();
        if (session.MixedCurrencies)
            note.Append("cart_value=none currency=mixed value_thresholds=not_applied(lines in several currencies)");
        else
        {
            note.Append("cart_value=").Append(session.CartValue).Append(' ').Append(session.Currency);
            if (session.Currency != Policy.DefaultCurrency)
                note.Append(Policy.InPolicyCurrency(session.CartValue, session.Currency) is { } converted
                    ? $" value_in_{Policy.DefaultCurrency}={converted} (rates of {Policy.Rates.AsOf:yyyy-MM-dd})"
                    : $" value_thresholds=not_applied(no {session.Currency} rate in the policy)");
        }
        if (session.CurrencyFromPolicy) note.Append(" currency_source=policy_default");
        if (session.TimeZoneFromPolicy) note.Append(" time_zone_source=policy_default");
        return note.ToString();
    }
}
