using System.Collections.Immutable;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.State;

namespace CartRecovery.Domain.Decisions;

/// <summary>
/// Survey invitations (policy <c>survey_invitation</c>): a recovery case that ends without an order leaves a
/// <see cref="PendingSurvey"/> in the shopper's state, and the shopper's own deadline (<see cref="ShopperDeadline"/>, next to
/// the win-back) fires it the policy's delay later, through the partition's timer index in live mode, drains and replays
/// alike: a pure function of the state, so the same input decides the same. Sent under the same send-time rules as a
/// reminder (consent of the survey's own purpose, opt-outs, retired channels, the per-shopper cap counting every message,
/// quiet hours deferring, never dropping), with an audit row for every sent, deferred and not-sent decision of kind
/// <c>survey_invitation</c>. The trigger's id is the one the answer (<c>survey_answered.trigger_id</c>) names: it is kept
/// with the case's session in the shopper's sent messages, so the answer's outcome row carries the case's session.
/// </summary>
public sealed partial class RecoveryEngine
{
    /// <summary>The shopper with a survey invitation pending for the case that just ended without an order (when the policy
    /// has them on).</summary>
    private ShopperState InviteToSurvey(ShopperState shopper, SessionState session, DateTimeOffset at)
    {
        if (!Policy.SurveyInvitation.Enabled || session.AbandonedAt is not { } abandonedAt) return shopper;
        var abandonEventId = shopper.OpenCases.FirstOrDefault(c => c.SessionId == session.SessionId)?.AbandonEventId ?? session.LastEventId;
        return shopper with
        {
            PendingSurveys = shopper.PendingSurveys.Add(new PendingSurvey(session.SessionId, session.StartedAt, session.Abandonments, abandonedAt, at,
                abandonEventId, session.Segment, session.Variant, session.TimeZone, session.Holdout,
                session.MixedCurrencies ? 0 : session.CartValue, session.MixedCurrencies ? SessionState.MixedCurrency : session.Currency)),
        };
    }

    /// <summary>When the earliest pending survey invitation is due: the policy's delay after its case ended, or the end of
    /// the quiet hours it was deferred to. None when surveys are off or none is pending.</summary>
    private Deadline? SurveyDeadline(ShopperState shopper) =>
        NextSurvey(shopper) is { } next ? new Deadline(SurveyDue(next), DeadlineKind.SurveyInvitation) : null;

    private DateTimeOffset SurveyDue(PendingSurvey survey) =>
        survey.DeferredUntil ?? survey.EndedAt + Policy.SurveyInvitation.Delay;

    /// <summary>The pending survey due first (ties: by session id), so the order of decisions is a function of the state.</summary>
    private PendingSurvey? NextSurvey(ShopperState shopper)
    {
        if (!Policy.SurveyInvitation.Enabled || shopper.PendingSurveys.IsEmpty) return null;
        PendingSurvey? next = null;
        foreach (var survey in shopper.PendingSurveys)
            if (next is null || SurveyDue(survey) < SurveyDue(next)
                || (SurveyDue(survey) == SurveyDue(next) && string.CompareOrdinal(survey.SessionId, next.SessionId) < 0))
                next = survey;
        return next;
    }

    private Decision FireSurvey(ShopperState shopper, Deadline deadline)
    {
        const string kind = TriggerKinds.SurveyInvitation;
        var settings = Policy.SurveyInvitation;
        var at = deadline.At;
        var survey = NextSurvey(shopper)!;
        var undecided = shopper with { PendingSurveys = shopper.PendingSurveys.Remove(survey) };
        var detail = $"case_session={survey.SessionId} abandoned_at={survey.AbandonedAt:O} case_ended_at={survey.EndedAt:O}";

        AuditRecord Audit(string decision, string reason, ImmutableArray<string> evidence, string channel = "", string more = "") =>
            Rows.Audit(shopper.ShopperId, survey.SessionId, decision, reason, at, evidence, 0, channel, Joined(more, detail)) with { Kind = kind };

        // An order since the cart was left (in any session) answers the question the survey would ask.
        if (shopper.Orders.Where(o => o.At >= survey.AbandonedAt && o.At <= at).OrderBy(o => o.At).ThenBy(o => o.EventId, StringComparer.Ordinal)
                .FirstOrDefault() is { } order)
            return new Decision(undecided, null, Effects.None.Add(Audit(AuditDecisions.Suppressed, SuppressionReason.OrderPlaced, [order.EventId],
                more: $"ordered_at={order.At:O}")));
        // The holdout gets no message about its case, the survey included, so it stays a clean comparison group.
        if (survey.Holdout)
            return new Decision(undecided, null, Effects.None.Add(Audit(AuditDecisions.Suppressed, SuppressionReason.Holdout, [survey.AbandonEventId])));
        // Another cart of the shopper is being reminded: its reminders come first, no "why did you leave" in between.
        if (!shopper.OpenCases.IsEmpty)
            return new Decision(undecided, null, Effects.None.Add(Audit(AuditDecisions.Suppressed, SuppressionReason.RecoveryCaseOpen,
                [shopper.OpenCases[0].AbandonEventId], more: $"open_case_session={shopper.OpenCases[0].SessionId}")));

        var segment = settings.In(Policy.VariantNamed(survey.Variant).Apply(SegmentNamed(survey.Segment)));
        var verdict = SendGate.CheckMessage(shopper, segment, settings.Purpose, at, survey.AbandonEventId);
        var zone = survey.TimeZone.Length > 0 ? survey.TimeZone : Policy.DefaultTimeZone;
        if (verdict.MaySend && segment.QuietHours.DeferUntil(at, SendGate.Zone(zone)) is { } until)
            return new Decision(shopper with { PendingSurveys = shopper.PendingSurveys.Replace(survey, survey with { DeferredUntil = until }) }, null,
                Effects.None.Add(Audit(AuditDecisions.Deferred, DecisionReason.QuietHours, verdict.Evidence, verdict.Channel!, $"until {until:O} ({zone})")));
        if (!verdict.MaySend)
            return new Decision(undecided, null, Effects.None.Add(Audit(AuditDecisions.Suppressed, verdict.Suppression!, verdict.Evidence,
                verdict.Channel ?? "", Joined($"purpose={settings.Purpose}", verdict.Detail))));

        var triggerId = RecoveryIds.SurveyInvitation(Policy.Version, shopper.ShopperId, survey);
        var trigger = Rows.WithObligations(Rows.SurveyInvitation(shopper.ShopperId, triggerId, verdict.Channel!, survey, segment.Name, at,
            survey.EndedAt + settings.Delay, verdict.Consent!.EventId), verdict.Consent, zone);
        var effects = Effects.None.Add(trigger)
            .Add(Audit(AuditDecisions.Triggered, DecisionReason.CaseEnded, verdict.Evidence, verdict.Channel!, Joined($"trigger_id={triggerId}", verdict.Detail)));
        // Remembered with the case's session: the per-shopper cap counts it, and the answer naming it is linked to the case.
        return new Decision(undecided with { Sent = undecided.Sent.Add(new SentMessage(at, triggerId, survey.SessionId)) }, null, effects);
    }

    private Policy.SegmentPolicy SegmentNamed(string name)
    {
        foreach (var segment in Policy.Segments)
            if (segment.Name == name) return segment;
        return Policy.Segments[^1];
    }
}
