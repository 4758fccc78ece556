using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;

namespace CartRecovery.Domain.Compliance;

/// <summary>
/// What erasing a shopper does to the rows the product keeps (docs/compliance.md), for rows still in memory when the
/// request is decided. The analytics store applies the same rules to rows already written
/// (CartRecovery.Storage.AnalyticsErasure): the shopper id becomes the keyed pseudonym everywhere, so counts, rates and
/// recoveries stay right; a trigger loses what is personal (cart lines, incentive code, tokens, links, message, the category it named); the
/// audit log keeps its non-personal evidence (decision, reason, ids of events, times) and its chain.
/// </summary>
public static class Erasure
{
    public const string Reason = "erasure_requested";

    public static RecoveryTrigger Redact(RecoveryTrigger trigger, string pseudonym) => trigger with
    {
        ShopperId = pseudonym,
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

    public static AuditRecord Redact(AuditRecord audit, string pseudonym) => audit with { ShopperId = pseudonym, ShopperPseudonym = pseudonym };

    public static SessionOutcome Redact(SessionOutcome outcome, string pseudonym) => outcome with { ShopperId = pseudonym };

    /// <summary>An outcome keeps what happened (delivered, opened, a survey's reason) under the pseudonym; the survey's
    /// free text is the shopper's own words and goes.</summary>
    public static OutcomeRecord Redact(OutcomeRecord outcome, string pseudonym) => outcome with { ShopperId = pseudonym, FreeText = null };

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
