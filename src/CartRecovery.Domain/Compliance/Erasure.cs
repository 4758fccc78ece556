using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;

namespace CartRecovery.Domain.Compliance;

/// <summary>
/// What erasing a shopper does to the rows the product keeps (docs/compliance.md), for rows still in memory when the
/// request is decided. The analytics store applies the same rules to rows already written
/// (CartRecovery.Storage.AnalyticsErasure): the shopper id and the shopper's session ids become keyed pseudonyms everywhere,
/// so counts, rates and recoveries stay right; a trigger loses what is personal (cart lines, incentive code, tokens, links, message, the category it named); the
/// audit log keeps its non-personal evidence (decision, reason, ids of events, times) and its chain.
/// </summary>
public static class Erasure
{
    public const string Reason = "erasure_requested";

    public static RecoveryTrigger Redact(RecoveryTrigger trigger, ErasurePseudonyms pseudonyms) => trigger with
    {
        ShopperId = pseudonyms.Shopper,
        SessionId = pseudonyms.Session(trigger.SessionId),
        CartLines = [],
        IncentiveCode = "",
        UnsubscribeToken = "",
        UnsubscribeUrl = "",
        ResumeToken = "",
        ResumeUrl = "",
        MessageSubject = "",
        MessageBody = "",
        // The category a browse or win-back message names is the shopper's behaviour, like the profile it came from.
        Category = "",
    };

    /// <summary>The chain does not hash the session id (AuditChain), so pseudonymising it keeps the row verifiable.</summary>
    public static AuditRecord Redact(AuditRecord audit, ErasurePseudonyms pseudonyms) =>
        audit with { ShopperId = pseudonyms.Shopper, ShopperPseudonym = pseudonyms.Shopper, SessionId = pseudonyms.Session(audit.SessionId) };

    public static SessionOutcome Redact(SessionOutcome outcome, ErasurePseudonyms pseudonyms) =>
        outcome with { ShopperId = pseudonyms.Shopper, SessionId = pseudonyms.Session(outcome.SessionId) };

    /// <summary>An outcome keeps what happened (delivered, opened, a survey's reason) under the pseudonym; the survey's
    /// free text is the shopper's own words and goes.</summary>
    public static OutcomeRecord Redact(OutcomeRecord outcome, ErasurePseudonyms pseudonyms) =>
        outcome with { ShopperId = pseudonyms.Shopper, SessionId = pseudonyms.Session(outcome.SessionId), FreeText = null };

    /// <summary>The audit row that records the erasure: the pseudonym, the request's event id, where it came from.</summary>
    public static AuditRecord Audit(ErasureRequested request, string pseudonym, string policyVersion, string scope) => new()
    {
        AuditId = RecoveryIds.Audit(AuditDecisions.Erased, Reason, pseudonym, "", 0, request.EventTime, [request.EventId]),
        ShopperId = pseudonym,
        ShopperPseudonym = pseudonym,
        Decision = AuditDecisions.Erased,
        Reason = Reason,
        Evidence = [request.EventId],
        PolicyVersion = policyVersion,
        Detail = $"source={request.Source} scope={scope}",
        EventTime = request.EventTime,
    };
}

/// <summary>What replaces an erased shopper's ids: the keyed pseudonym of the shopper and of each of their session ids
/// (<see cref="ComplianceKeys.SessionPseudonym"/>), the same for rows in memory and rows in the store.</summary>
public sealed class ErasurePseudonyms(ComplianceKeys keys, string shopperId)
{
    public string ShopperId { get; } = shopperId;
    public string Shopper { get; } = keys.Pseudonym(shopperId);
    public string Session(string sessionId) => keys.SessionPseudonym(ShopperId, sessionId);
}
