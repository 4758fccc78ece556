using CartRecovery.Domain.Policy;
using CartRecovery.Domain.State;

namespace CartRecovery.Domain.Decisions;

/// <summary>One person, one sequence: carts of one shopper on several devices that share an item and are abandoned
/// within the policy's duplicate-case window are one recovery case, led by the cart abandoned first.</summary>
public sealed partial class RecoveryEngine
{
    /// <summary>The newly abandoned cart joins an open case of the same shopper (its steps are audited as
    /// <c>duplicate_case</c> with the leading cart's abandonment as evidence, and it closes), or opens its own.
    /// Deterministic: abandonment instants come from event time, and a shopper's deadlines fire earliest first
    /// (ties by session id), so the same cart leads whatever the arrival order.</summary>
    private Decision JoinOrOpenCase(ShopperState shopper, SessionState abandoned, SegmentPolicy segment, DateTimeOffset at, Effects effects)
    {
        if (CaseToJoin(shopper, abandoned, at) is { } lead)
        {
            effects = effects.Concat(SuppressRemainingSteps(abandoned, segment, SuppressionReason.DuplicateCase, at, [lead.AbandonEventId],
                $"joined the recovery case of session {lead.SessionId} (abandoned {lead.AbandonedAt:O})"));
            return Close(shopper, abandoned, Contracts.Outputs.Outcomes.Abandoned, at, effects);
        }
        shopper = shopper with
        {
            OpenCases = shopper.OpenCases.Add(new OpenCase(abandoned.SessionId, at, [.. abandoned.Lines.Keys], abandoned.LastEventId)),
        };
        return new Decision(shopper, abandoned, effects);
    }

    private OpenCase? CaseToJoin(ShopperState shopper, SessionState abandoned, DateTimeOffset at)
    {
        if (Policy.DuplicateCaseWindow <= TimeSpan.Zero) return null;
        OpenCase? lead = null;
        foreach (var open in shopper.OpenCases)
        {
            if (open.SessionId == abandoned.SessionId || (at - open.AbandonedAt).Duration() > Policy.DuplicateCaseWindow) continue;
            if (!open.Skus.Any(abandoned.Lines.ContainsKey)) continue;
            if (lead is null || open.AbandonedAt < lead.AbandonedAt
                || (open.AbandonedAt == lead.AbandonedAt && string.CompareOrdinal(open.SessionId, lead.SessionId) < 0))
                lead = open;
        }
        return lead;
    }

    private static ShopperState WithoutOpenCase(ShopperState shopper, string sessionId) =>
        shopper.OpenCases.IsEmpty ? shopper : shopper with { OpenCases = shopper.OpenCases.RemoveAll(c => c.SessionId == sessionId) };
}
