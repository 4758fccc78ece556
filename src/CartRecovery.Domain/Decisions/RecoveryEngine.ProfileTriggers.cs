using System.Collections.Immutable;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.Profiles;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;

namespace CartRecovery.Domain.Decisions;

/// <summary>
/// The two messages the shopper's profile drives, both off by default and both under the same send-time rules as a
/// cart reminder (purpose-specific consent, opt-outs, retired channels, the per-shopper cap across every message, quiet
/// hours deferring, never dropping; an audit row for every sent, deferred and not-sent decision, with its kind):
/// <list type="bullet">
/// <item>browse abandonment: a session deadline (<see cref="BrowseDeadline"/>), fired like the others by the session;</item>
/// <item>win-back: the shopper's own deadline (<see cref="ShopperDeadline"/>): the instant the profile turns at risk, a
/// pure function of the shopper's state, so the partition's timer index can hold it next to the session deadlines, a
/// checkpoint needs to keep only the state, and a replay fires it at the same event time.</item>
/// </list>
/// </summary>
public sealed partial class RecoveryEngine
{
    // ---------------------------------------------------------------- browse abandonment

    /// <summary>The category a browsing session is about: its most viewed with at least the policy's min_views (ties: the
    /// first by name); null when none qualifies.</summary>
    public string? BrowsedCategory(SessionState session)
    {
        string? best = null;
        var views = 0;
        foreach (var (category, count) in session.ViewedCategories)
            if (count > views) (best, views) = (category, count);
        return views >= Policy.BrowseAbandonment.MinViews ? best : null;
    }

    /// <summary>When the session's browse-abandonment message is due: the policy's delay after its last activity, or the
    /// end of the quiet hours it was deferred to. None when browse abandonment is off, the session ever had a cart, its
    /// message was decided, or no category was viewed often enough.</summary>
    public Deadline? BrowseDeadline(SessionState session)
    {
        var settings = Policy.BrowseAbandonment;
        if (!settings.Enabled || session.HadCart || session.BrowseDecided || session.Phase != SessionPhase.Active || BrowsedCategory(session) is null)
            return null;
        var due = session.LastActivityAt.Plus(settings.Delay);
        // A deferral counts only while the shopper stayed away: new activity moves the due time past it anyway.
        return new Deadline(session.BrowseDeferredUntil is { } deferred && deferred > due ? deferred : due, DeadlineKind.BrowseAbandonment);
    }

    private Decision FireBrowse(ShopperState shopper, SessionState session, DateTimeOffset at)
    {
        const string kind = TriggerKinds.BrowseAbandonment;
        var category = BrowsedCategory(session)!;
        var due = session.LastActivityAt + Policy.BrowseAbandonment.Delay;
        var decided = session with { BrowseDecided = true, BrowseDeferredUntil = null };
        var detail = $"category={category} views={session.ViewedCategories[category]} last_activity={session.LastActivityAt:O}";

        // Decided: the session goes on if the shopper may still come back within its inactivity timeout, else it ends now
        // (the message may have waited out quiet hours long after the timeout).
        Decision Decided(ShopperState after, Effects effects) => at >= session.LastActivityAt + Policy.SegmentFor(session).InactivityTimeout
            ? Close(after, decided, Outcomes.Browsed, at, effects)
            : new Decision(after, decided, effects);

        if (BrowseCancelled(shopper, session, at) is { } cancel)
            return Decided(shopper, Effects.None.Add(Rows.KindAudit(kind, session, AuditDecisions.Suppressed, cancel.Reason, at,
                cancel.Evidence, detail: $"{detail} {cancel.Detail}")));

        var segment = Policy.VariantNamed(Policy.VariantFor(session.ShopperId)).Apply(Policy.SegmentFor(session));
        var verdict = SendGate.CheckMessage(shopper, segment, Policy.BrowseAbandonment.Purpose, at, session.LastEventId);
        if (verdict.MaySend && SendGate.QuietUntil(segment, session, at) is { } until)
            return new Decision(shopper, session with { BrowseDeferredUntil = until }, Effects.None.Add(Rows.KindAudit(kind, session,
                AuditDecisions.Deferred, DecisionReason.QuietHours, at, [session.LastEventId], verdict.Channel!, $"until {until:O} ({session.TimeZone}) {detail}")));
        if (!verdict.MaySend)
            return Decided(shopper, Effects.None.Add(Rows.KindAudit(kind, session, AuditDecisions.Suppressed, verdict.Suppression!, at,
                verdict.Evidence, verdict.Channel ?? "", Joined(detail, verdict.Detail))));

        var triggerId = RecoveryIds.BrowseAbandonment(Policy.Version, session);
        var trigger = Rows.WithObligations(Rows.Trigger(session, triggerId, kind, 0, verdict.Channel!, DecisionReason.BrowseAbandonment, at, due, "",
            verdict.Consent!.EventId) with { Category = category }, verdict.Consent, session.TimeZone);
        var effects = Effects.None.Add(trigger).Add(Rows.KindAudit(kind, session, AuditDecisions.Triggered, DecisionReason.BrowseAbandonment, at,
            verdict.Evidence, verdict.Channel!, Joined($"trigger_id={triggerId} {detail}", verdict.Detail)));
        return Decided(shopper with { Sent = shopper.Sent.Add(new SentMessage(at, triggerId, session.SessionId)) }, effects);
    }

    /// <summary>What ends a browse abandonment before its message: since the browsing began, the shopper ordered or put
    /// something in a cart (in any session), a cart of theirs is in a running recovery case, or another message went out.</summary>
    private static (string Reason, ImmutableArray<string> Evidence, string Detail)? BrowseCancelled(ShopperState shopper, SessionState session, DateTimeOffset at)
    {
        if (shopper.Orders.Where(o => o.At >= session.StartedAt && o.At <= at).OrderBy(o => o.At).ThenBy(o => o.EventId, StringComparer.Ordinal)
                .FirstOrDefault() is { } order)
            return (SuppressionReason.OrderPlaced, [order.EventId], $"ordered_at={order.At:O}");
        if (shopper.Profile?.LastCartAt is { } carted && carted >= session.StartedAt && carted <= at)
            return (SuppressionReason.CartAdded, [session.LastEventId], $"carted_at={carted:O}");
        if (!shopper.OpenCases.IsEmpty)
            return (SuppressionReason.RecoveryCaseOpen, [shopper.OpenCases[0].AbandonEventId], $"case_session={shopper.OpenCases[0].SessionId}");
        if (shopper.Sent.Where(s => s.At >= session.StartedAt && s.At <= at).OrderBy(s => s.At).FirstOrDefault() is { } sent)
            return (SuppressionReason.MessageSentSince, [sent.TriggerId], $"sent_at={sent.At:O}");
        return null;
    }

    // ---------------------------------------------------------------- win-back

    /// <summary>When the shopper's win-back is due: the instant their profile turns at risk (<see cref="ShopperProfile.AtRiskFrom"/>),
    /// not before the policy period since the last win-back sent, or the end of the quiet hours it was deferred to. None when
    /// win-back is off, the shopper never ordered, or this lapse (since their last order) was already decided.</summary>
    public Deadline? ShopperDeadline(ShopperState shopper) =>
        Earliest(WinBackDeadline(shopper), SurveyDeadline(shopper));

    private static Deadline? Earliest(Deadline? a, Deadline? b) => a is null ? b : b is null ? a : b.Value.At < a.Value.At ? b : a;

    private Deadline? WinBackDeadline(ShopperState shopper)
    {
        var settings = Policy.WinBack;
        if (!settings.Enabled || shopper.Profile is not { LastOrderAt: { } lastOrder } profile) return null;
        var state = shopper.WinBack;
        if (state?.DecidedFor == lastOrder) return null;
        var due = WinBackDue(profile, state);
        return new Deadline(state?.DeferredUntil is { } deferred && deferred > due ? deferred : due, DeadlineKind.WinBack);
    }

    /// <summary>When the win-back of the current lapse is due by policy (before quiet hours): the at-risk instant, not
    /// before the period since the last one sent.</summary>
    private DateTimeOffset WinBackDue(ShopperProfile profile, WinBackState? state)
    {
        var due = profile.AtRiskFrom(Policy.Profiles.TypicalInterval)!.Value;
        return state?.LastSentAt is { } sent && sent.Plus(Policy.WinBack.Period) > due ? sent.Plus(Policy.WinBack.Period) : due;
    }

    /// <summary>The shopper's deadline if the watermark has passed it, or it is earlier than the shopper's next input
    /// (<paramref name="before"/>). The end of input is not a passing of event time for it: a win-back weeks after the last
    /// event replayed is not decided by the drain (it stays pending in the checkpoint; docs/replay.md).</summary>
    /// <remarks>A survey invitation is due at the end of input like a reminder step: it is hours after its case, not weeks.</remarks>
    public Deadline? DueShopperDeadline(ShopperState shopper, Watermark watermark, DateTimeOffset? before = null) => Earliest(
        WinBackDeadline(shopper) is { } winBack && (winBack.At < before || (!watermark.IsEndOfTime && watermark.HasPassed(winBack.At, eager: false)))
            ? winBack : null,
        SurveyDeadline(shopper) is { } survey && (survey.At < before || watermark.HasPassed(survey.At, eager: false)) ? survey : null);

    /// <summary>Fires the shopper's own deadline (one returned by <see cref="ShopperDeadline"/>): a win-back or a survey invitation.</summary>
    public Decision Fire(ShopperState shopper, Deadline deadline) =>
        deadline.Kind == DeadlineKind.SurveyInvitation ? FireSurvey(shopper, deadline) : FireWinBack(shopper, deadline);

    private Decision FireWinBack(ShopperState shopper, Deadline deadline)
    {
        const string kind = TriggerKinds.WinBack;
        var at = deadline.At;
        var profile = shopper.Profile!;
        var lapse = profile.LastOrderAt!.Value;
        var fallback = Policy.Profiles.TypicalInterval;
        var churn = profile.ChurnRisk(at, fallback);
        var profileSegment = profile.Segment(at, fallback);
        var segment = Policy.VariantNamed(Policy.VariantFor(shopper.ShopperId)).Apply(Policy.SegmentFor(null, "", profileSegment));
        var detail = $"segment={profileSegment} churn_risk={churn:0.####} last_order_at={lapse:O} typical_interval={profile.TypicalInterval(fallback):c} orders={profile.OrderCount}";
        var decided = new WinBackState(lapse, shopper.WinBack?.LastSentAt);

        AuditRecord Audit(string decision, string reason, ImmutableArray<string> evidence, string channel = "", string more = "") =>
            Rows.KindAudit(kind, shopper.ShopperId, decision, reason, at, evidence, churn, channel, Joined(more, detail));

        if (!shopper.OpenCases.IsEmpty)
            return new Decision(shopper with { WinBack = decided }, null, Effects.None.Add(Audit(AuditDecisions.Suppressed,
                SuppressionReason.RecoveryCaseOpen, [shopper.OpenCases[0].AbandonEventId], more: $"case_session={shopper.OpenCases[0].SessionId}")));

        var verdict = SendGate.CheckMessage(shopper, segment, Policy.WinBack.Purpose, at, "");
        var zone = profile.TimeZone.Length > 0 ? profile.TimeZone : Policy.DefaultTimeZone;
        if (verdict.MaySend && segment.QuietHours.DeferUntil(at, SendGate.Zone(zone)) is { } until)
            return new Decision(shopper with { WinBack = (shopper.WinBack ?? new WinBackState(null, null)) with { DeferredUntil = until } }, null,
                Effects.None.Add(Audit(AuditDecisions.Deferred, DecisionReason.QuietHours, verdict.Evidence, verdict.Channel!, $"until {until:O} ({zone})")));
        if (!verdict.MaySend)
            return new Decision(shopper with { WinBack = decided }, null,
                Effects.None.Add(Audit(AuditDecisions.Suppressed, verdict.Suppression!, verdict.Evidence, verdict.Channel ?? "", verdict.Detail)));

        var triggerId = RecoveryIds.WinBack(Policy.Version, shopper.ShopperId, lapse);
        var category = profile.TopCategories.FirstOrDefault() ?? "";
        var trigger = Rows.WithObligations(Rows.WinBack(shopper.ShopperId, triggerId, verdict.Channel!, churn, category, segment.Name, at,
            WinBackDue(profile, shopper.WinBack),
            verdict.Consent!.EventId), verdict.Consent, zone);
        shopper = shopper with
        {
            WinBack = decided with { LastSentAt = at },
            Sent = shopper.Sent.Add(new SentMessage(at, triggerId, "")),
        };
        var effects = Effects.None.Add(trigger)
            .Add(Audit(AuditDecisions.Triggered, DecisionReason.TurnedAtRisk, verdict.Evidence, verdict.Channel!, Joined($"trigger_id={triggerId} category={category}", verdict.Detail)))
            // The profile as the message saw it: shopper_profiles shows the shopper at risk from here.
            .Add(ProfileRows.Row(shopper, Policy, at));
        return new Decision(shopper, null, effects);
    }

    private static string Joined(string a, string b) => a.Length == 0 ? b : b.Length == 0 ? a : $"{a} {b}";
}
