using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;

namespace CartRecovery.Domain.Compliance;

/// <summary>
/// The audit row of an input record refused because it claimed to be the worker's own and was not (a forged, unsigned
/// or altered identity hand-over or forwarded event): it names the shopper the record targeted, so an auditor looking
/// at that shopper sees the attempt; the event's and the dead letter's ids are the evidence. Nothing of it is applied.
/// </summary>
public static class InputRefusals
{
    public static AuditRecord Audit(ShopperEvent refused, string reason, string detail, string deadLetterId, string policyVersion)
    {
        var type = refused switch { IdentityMerged => "identity_merged", IdentityForwarded => "identity_forwarded", _ => refused.GetType().Name };
        string[] evidence = [refused.EventId, deadLetterId];
        return new AuditRecord
        {
            AuditId = RecoveryIds.Audit(AuditDecisions.InputRefused, reason, refused.ShopperId, "", 0, refused.EventTime, evidence),
            ShopperId = refused.ShopperId,
            Decision = AuditDecisions.InputRefused,
            Reason = reason,
            Evidence = evidence,
            PolicyVersion = policyVersion,
            Detail = $"{type} not adopted: {detail}",
            EventTime = refused.EventTime,
        };
    }
}
