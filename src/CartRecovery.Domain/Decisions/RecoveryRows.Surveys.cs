using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.State;

namespace CartRecovery.Domain.Decisions;

public sealed partial class RecoveryRows
{
    /// <summary>A survey invitation about the recovery case of <paramref name="survey"/>: its session, segment, variant and
    /// cart value, no cart lines (the case is over), no score (the survey is not a bet on the cart).</summary>
    public RecoveryTrigger SurveyInvitation(string shopperId, string triggerId, string channel, PendingSurvey survey, string segment,
        DateTimeOffset at, DateTimeOffset due, string consentEventId) => new()
    {
        TriggerId = triggerId,
        Kind = TriggerKinds.SurveyInvitation,
        ShopperId = shopperId,
        SessionId = survey.SessionId,
        Step = 0,
        Channel = channel,
        Score = 0,
        Reason = DecisionReason.CaseEnded,
        CartValue = survey.CartValue,
        Currency = survey.Currency,
        ConsentEventId = consentEventId,
        PolicyVersion = Policy.Version,
        Variant = survey.Variant.Length > 0 ? survey.Variant : Policy.VariantFor(shopperId),
        Segment = segment,
        EventTime = at,
        DueTime = due,
    };
}
