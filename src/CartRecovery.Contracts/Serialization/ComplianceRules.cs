using CartRecovery.Contracts.Events;

namespace CartRecovery.Contracts.Serialization;

/// <summary>Entry rules of the compliance fields (kept apart from <see cref="EventParser"/>'s other rules).</summary>
public static class ComplianceRules
{
    /// <summary>valid_until only on a grant, and after the grant itself: an expiry on a withdrawal means nothing, and one
    /// before the grant would be a grant that never held. Null when fine; the detail names the field, never the value.</summary>
    public static string? ValidUntilProblem(ConsentEvent consent) => consent.ValidUntil switch
    {
        null => null,
        _ when consent is not ConsentGranted => "valid_until is only allowed on consent_granted",
        { } until when until <= consent.EventTime => "valid_until must be after event_time",
        _ => null,
    };
}
