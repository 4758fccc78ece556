using System.Collections.Frozen;
using CartRecovery.Contracts.Events;

namespace CartRecovery.Contracts.Serialization;

/// <summary>
/// Validation of the outcome events (<c>outcome-events</c>): ids present, enumerated fields (message channel, bounce
/// type, survey reason) normalised or rejected, the survey linked to a case. Problems name the field, never its value
/// (a survey's free text is personal data).
/// </summary>
public static class OutcomeRules
{
    /// <summary>Channels a recovery message goes out on (a trigger's channel other than chat).</summary>
    public static readonly FrozenSet<string> MessageChannels = FrozenSet.Create(StringComparer.Ordinal, "email", "sms", "push");

    public static readonly FrozenSet<string> BounceTypes = FrozenSet.Create(StringComparer.Ordinal, "hard", "soft");

    public static readonly FrozenSet<string> SurveyReasonCodes = FrozenSet.Create(StringComparer.Ordinal, [.. SurveyReasons.All]);

    /// <summary>Longest survey free text kept (characters); a longer one is rejected rather than cut.</summary>
    public const int MaxFreeTextLength = 2000;

    /// <summary>The normalised event, or the field and the rule it breaks.</summary>
    public static (OutcomeEvent? Event, string? Field, string? Rule) Validate(OutcomeEvent outcome)
    {
        if (outcome.SessionId is not null && string.IsNullOrWhiteSpace(outcome.SessionId))
            return Problem("session_id", "is empty (leave it out when unknown)");
        switch (outcome)
        {
            case MessageOutcome message:
                if (string.IsNullOrWhiteSpace(message.TriggerId)) return Problem("trigger_id", "is empty");
                if (Enumerated(message.Channel, MessageChannels) is not { } channel) return Problem("channel", $"must be one of {List(MessageChannels)}");
                if (message is MessageBounced bounced && bounced.BounceType is not null)
                {
                    if (Enumerated(bounced.BounceType, BounceTypes) is not { } bounceType) return Problem("bounce_type", $"must be one of {List(BounceTypes)}");
                    return Ok(bounced with { Channel = channel, BounceType = bounceType });
                }
                return Ok(message with { Channel = channel });
            case ChatAccepted accepted:
                return string.IsNullOrWhiteSpace(accepted.TriggerId) ? Problem("trigger_id", "is empty") : Ok(accepted);
            case ChatResolved resolved:
                if (string.IsNullOrWhiteSpace(resolved.TriggerId)) return Problem("trigger_id", "is empty");
                if (resolved.Satisfaction is < 1 or > 5) return Problem("satisfaction", "must be between 1 and 5");
                return Ok(resolved);
            case SurveyAnswered survey:
                if (survey.TriggerId is not null && string.IsNullOrWhiteSpace(survey.TriggerId)) return Problem("trigger_id", "is empty (leave it out when the survey is linked by session_id)");
                if (survey.TriggerId is null && survey.SessionId is null) return Problem("trigger_id", "or session_id is required: a survey answer must name its abandonment case");
                if (Enumerated(survey.Reason, SurveyReasonCodes) is not { } reason) return Problem("reason", $"must be one of {string.Join(", ", SurveyReasons.All)}");
                if (survey.FreeText is { Length: > MaxFreeTextLength }) return Problem("free_text", $"is longer than {MaxFreeTextLength} characters");
                return Ok(survey with { Reason = reason, FreeText = string.IsNullOrWhiteSpace(survey.FreeText) ? null : survey.FreeText });
        }
        return Ok(outcome);
    }

    private static string? Enumerated(string? value, FrozenSet<string> allowed) => FieldValues.Code(value) is { } code && allowed.Contains(code) ? code : null;

    private static string List(FrozenSet<string> values) => string.Join(", ", values.Order(StringComparer.Ordinal));

    private static (OutcomeEvent?, string?, string?) Ok(OutcomeEvent outcome) => (outcome, null, null);

    private static (OutcomeEvent?, string?, string?) Problem(string field, string rule) => (null, field, rule);
}
