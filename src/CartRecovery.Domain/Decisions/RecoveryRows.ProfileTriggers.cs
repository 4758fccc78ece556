using System.Collections.Immutable;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.State;

namespace CartRecovery.Domain.Decisions;

/// <summary>The rows of the two triggers the shopper's profile drives: browse abandonment (about a session) and win-back
/// (about the shopper). Their audit rows carry the kind, so their sent and not-sent rows can be told from a cart's.</summary>
public sealed partial class RecoveryRows
{
    /// <summary>An audit row of a browse-abandonment (session) or win-back (shopper) decision.</summary>
    public AuditRecord KindAudit(string kind, SessionState session, string decision, string reason, DateTimeOffset at,
        ImmutableArray<string> evidence, string channel = "", string detail = "") =>
        Audit(session, decision, reason, at, evidence, 0, channel, detail) with { Kind = kind };

    public AuditRecord KindAudit(string kind, string shopperId, string decision, string reason, DateTimeOffset at,
        ImmutableArray<string> evidence, double score, string channel = "", string detail = "") =>
        Audit(shopperId, "", decision, reason, at, evidence, 0, channel, detail, score, [WinBackFactor]) with { Kind = kind };

    /// <summary>The factor a win-back's score (the churn risk) stands for.</summary>
    public const string WinBackFactor = "churn_risk";

    /// <summary>A win-back message: no session, no cart; the score is the churn risk, the category the strongest interest.</summary>
    public RecoveryTrigger WinBack(string shopperId, string triggerId, string channel, double churnRisk, string category, string segment,
        DateTimeOffset at, DateTimeOffset due, string consentEventId) => new()
    {
        TriggerId = triggerId,
        Kind = TriggerKinds.WinBack,
        ShopperId = shopperId,
        SessionId = "",
        Step = 0,
        Channel = channel,
        Score = churnRisk,
        TopFactors = [WinBackFactor],
        Reason = DecisionReason.TurnedAtRisk,
        Currency = Policy.DefaultCurrency,
        ConsentEventId = consentEventId,
        PolicyVersion = Policy.Version,
        Variant = Policy.VariantFor(shopperId),
        Segment = segment,
        EventTime = at,
        DueTime = due,
        Category = category,
    };
}
