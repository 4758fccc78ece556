using CartRecovery.Contracts.Events;
using CartRecovery.Domain.Feedback;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;

namespace CartRecovery.Domain.Decisions;

/// <summary>Outcomes reported back about triggers (outcome-events): applied once, audited, kept for analysts, and, for a
/// hard bounce or a complaint, retiring the channel for the shopper (<see cref="OutcomeRecorder"/>).</summary>
public sealed partial class RecoveryEngine
{
    public Decision Apply(ShopperState shopper, OutcomeEvent evt, Watermark watermark)
    {
        if (IsRedelivery(ref shopper, evt, evt.SessionId ?? "", out var duplicate)) return new Decision(shopper, null, duplicate);
        var effects = LateAudit(shopper, evt, evt.SessionId ?? "", watermark);
        var recorded = OutcomeRecorder.Record(shopper, evt, Rows);
        foreach (var audit in recorded.Audits) effects = effects.Add(audit);
        return new Decision(recorded.Shopper, null, effects.Add(recorded.Row));
    }
}
