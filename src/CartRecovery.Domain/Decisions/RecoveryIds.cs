using CartRecovery.Domain.State;

namespace CartRecovery.Domain.Decisions;

/// <summary>
/// The deterministic ids of everything the engine emits, in one place, so their uniqueness rules are reviewed together.
/// A session is identified by (shopper, session id, start): storefronts reuse session ids across shoppers, and a
/// shopper's session id may come back days later, after its closed state was forgotten, as a new session. Inside a
/// session, each abandonment is a new recovery case (its number is part of reminder ids), each visit may get its own
/// chat. Dispatchers deduplicate on trigger_id, so two different messages must never share one, while a replay of the
/// same input must give the same ids: every part is content (ids, event times, counters), never randomness or the clock.
/// </summary>
public static class RecoveryIds
{
    public static string Reminder(string policyVersion, SessionState session, int step) =>
        DeterministicId.From("trigger", Contracts.Outputs.TriggerKinds.Reminder, policyVersion, session.ShopperId, session.SessionId,
            StartKey(session), session.Abandonments.ToString(), step.ToString());

    public static string IncentiveCode(string policyVersion, SessionState session, int step) =>
        DeterministicId.Code("CR-", policyVersion, session.ShopperId, session.SessionId, StartKey(session), session.Abandonments.ToString(), step.ToString());

    public static string ProactiveChat(string policyVersion, SessionState session) =>
        DeterministicId.From("trigger", Contracts.Outputs.TriggerKinds.ProactiveChat, policyVersion, session.ShopperId, session.SessionId,
            StartKey(session), session.Visits.ToString());

    /// <summary>One browse-abandonment message per visit of a session.</summary>
    public static string BrowseAbandonment(string policyVersion, SessionState session) =>
        DeterministicId.From("trigger", Contracts.Outputs.TriggerKinds.BrowseAbandonment, policyVersion, session.ShopperId, session.SessionId,
            StartKey(session), session.Visits.ToString());

    /// <summary>One win-back message per lapse: the lapse is named by the last order before it.</summary>
    public static string WinBack(string policyVersion, string shopperId, DateTimeOffset lastOrderAt) =>
        DeterministicId.From("trigger", Contracts.Outputs.TriggerKinds.WinBack, policyVersion, shopperId, lastOrderAt.UtcTicks.ToString());

    /// <summary>One survey invitation per recovery case: the case is the session (id, start) and its abandonment number.</summary>
    public static string SurveyInvitation(string policyVersion, string shopperId, PendingSurvey survey) =>
        DeterministicId.From("trigger", Contracts.Outputs.TriggerKinds.SurveyInvitation, policyVersion, shopperId, survey.SessionId,
            survey.SessionStart.UtcTicks.ToString(), survey.Abandonment.ToString());

    /// <summary>One void per issued incentive: the incentive's trigger id is already unique.</summary>
    public static string IncentiveVoid(string incentiveTriggerId) =>
        DeterministicId.From("trigger", Contracts.Outputs.TriggerKinds.IncentiveVoid, incentiveTriggerId);

    /// <summary>An audit row: the decision, about whom (shopper and session), which step, when, and on what evidence
    /// (event and trigger ids). Two different decisions differ in one of these.</summary>
    public static string Audit(string decision, string reason, string shopperId, string sessionId, int step, DateTimeOffset at,
        IEnumerable<string> evidence) =>
        DeterministicId.From("audit", decision, reason, shopperId, sessionId, step.ToString(), at.UtcTicks.ToString(), string.Join(",", evidence));

    /// <summary>The hand-over of an anonymous shopper's state to the customer: one per link event.</summary>
    public static string IdentityMerged(string linkEventId, string anonymousId, string customerId) =>
        DeterministicId.From("identity-merged", linkEventId, anonymousId, customerId);

    /// <summary>A hand-over passed on to the customer id the customer is itself linked to.</summary>
    public static string IdentityMergedPassedOn(string handOverId, string customerId) =>
        DeterministicId.From("identity-merged", handOverId, customerId);

    /// <summary>An event of a linked anonymous id passed on to its customer: one per (event, customer).</summary>
    public static string IdentityForwarded(string eventId, string customerId) =>
        DeterministicId.From("identity-forwarded", eventId, customerId);

    /// <summary>The order that ends a handed-over session the customer already ordered in: one per (hand-over, session).</summary>
    public static string IdentityOrder(string handOverId, string sessionId) =>
        DeterministicId.From("identity-order", handOverId, sessionId);

    /// <summary>The session's start (event time of its first event, kept when a closed session is reopened).</summary>
    public static string StartKey(SessionState session) => session.StartedAt.UtcTicks.ToString();
}
