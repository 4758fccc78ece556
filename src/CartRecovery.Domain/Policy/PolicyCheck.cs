using System.Collections.Immutable;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Compliance;
using CartRecovery.Domain.State;

namespace CartRecovery.Domain.Policy;

/// <summary>What check-policy found in a policy that parses: <see cref="Error"/> findings make it refuse the file (a step
/// that can never fire, a template that does not render), <see cref="Warning"/> ones are printed (a message that would
/// go out without a body). <see cref="Path"/> is the JSON path to change.</summary>
public sealed record PolicyFinding(string Severity, string Path, string Problem)
{
    public const string Error = "error";
    public const string Warning = "warning";

    public override string ToString() => $"{Severity}: '{Path}' {Problem}";
}

/// <summary>
/// Checks a parsed policy against itself, beyond what <see cref="PolicyFile"/> validates key by key: a step the policy's
/// own caps stop every time, an enabled step with no template for one of its channels, and a template that does not
/// render for a sample reminder of its step. Pure: the policy in, the findings out.
/// </summary>
public static class PolicyCheck
{
    private static readonly DateTimeOffset SampleTime = new(2026, 1, 5, 10, 0, 0, TimeSpan.Zero);

    public static ImmutableArray<PolicyFinding> Findings(RecoveryPolicy policy)
    {
        var findings = new List<PolicyFinding>();
        // A step inherited by several segments is one finding naming them all.
        var bySegment = new Dictionary<(string Severity, string Path, string Problem), List<string>>();
        void Add(string severity, string path, string problem, string segmentName)
        {
            if (!bySegment.TryGetValue((severity, path, problem), out var names)) bySegment[(severity, path, problem)] = names = [];
            if (!names.Contains(segmentName)) names.Add(segmentName);
        }
        var runs = policy.Segments.SelectMany(segment => policy.Variants.Select(variant => variant.Apply(segment))).ToList();
        foreach (var segment in runs)
        {
            for (var i = 0; i < segment.Steps.Length; i++)
            {
                var step = segment.Steps[i];
                var path = $"{segment.StepsPath}[{step.Number - 1}]";
                // Each step before this one sends at most one message: once they went out, the cart's count is i.
                if (i >= segment.Caps.PerCart)
                    Add(PolicyFinding.Error, path,
                        $"can never fire once the {i} step(s) before it were sent: '{segment.CapsPath}.per_cart' is {segment.Caps.PerCart}; " +
                        "every message of it would be suppressed cap_per_cart. Raise per_cart or leave it out (one per enabled step)", segment.Name);
                else if (i >= segment.Caps.PerShopper && step.Delay - segment.Steps[0].Delay < segment.Caps.PerShopperWindow)
                    Add(PolicyFinding.Error, path,
                        $"can never fire once the {i} step(s) before it were sent: '{segment.CapsPath}.per_shopper' is {segment.Caps.PerShopper} " +
                        $"within per_shopper_window; every message of it would be suppressed cap_per_shopper", segment.Name);

                foreach (var channel in step.In(segment).ChannelPreference)
                    if (policy.Messages.TemplateFor(step.Number, channel) is null)
                        Add(PolicyFinding.Warning, "messages.templates",
                            $"has no template for step {step.Number} on {channel} (enabled at '{path}'): its reminders would go out with an empty message_body",
                            segment.Name);
            }
        }
        foreach (var ((severity, path, problem), names) in bySegment)
            findings.Add(new(severity, path, $"{problem} (segment{(names.Count > 1 ? "s" : "")} {string.Join(", ", names)})"));

        foreach (var ((stepNumber, channel), template) in policy.Messages.Templates.OrderBy(t => t.Value.Path, StringComparer.Ordinal))
        {
            // Rendered with the step's own offer where a segment runs the step, and without one, so both branches of
            // an {% if has_incentive %} are tried.
            var offer = runs.SelectMany(s => s.Steps).FirstOrDefault(s => s.Number == stepNumber && s.Incentive is not null)?.Incentive
                ?? new IncentiveOffer(IncentiveTypes.Percent, 10, TimeSpan.FromDays(7));
            foreach (var incentive in new IncentiveOffer?[] { offer, null })
            {
                var sample = SampleReminder(policy, stepNumber, channel, incentive);
                string problem;
                try
                {
                    var (_, body) = MessageObligations.RenderStrict(template, sample, policy.Messages.PurposeStatement);
                    if (body.Length > 0) continue;
                    problem = "renders an empty body";
                }
                catch (Exception e) // whatever a template of the file throws is its finding, never a crash of check-policy
                {
                    problem = $"does not render: {e.Message}";
                }
                findings.Add(new(PolicyFinding.Error, $"{template.Path}.body",
                    $"{problem} for a sample reminder of step {stepNumber} on {channel} ({(incentive is null ? "no incentive" : "with an incentive")})"));
                break;
            }
        }
        findings.AddRange(SurveyFindings(policy, runs));
        return [.. findings];
    }

    /// <summary>The survey invitation's findings: when it is on, a channel it may use without a template (a warning, as for a
    /// step); whether on or off, a template that does not render for a sample invitation (an error: switching it on later
    /// must not be the moment a broken template shows).</summary>
    private static IEnumerable<PolicyFinding> SurveyFindings(RecoveryPolicy policy, List<SegmentPolicy> runs)
    {
        var survey = policy.SurveyInvitation;
        if (survey.Enabled)
            foreach (var channel in runs.SelectMany(segment => survey.In(segment).ChannelPreference).Distinct())
                if (!survey.Templates.ContainsKey(channel))
                    yield return new(PolicyFinding.Warning, $"{SurveyInvitationPolicy.Path}.templates",
                        $"has no template for {channel} (a channel of '{SurveyInvitationPolicy.Path}'): its invitations would go out with an empty message_body");
        foreach (var (channel, template) in survey.Templates.OrderBy(t => t.Value.Path, StringComparer.Ordinal))
        {
            string problem;
            try
            {
                var (_, body) = MessageObligations.RenderStrict(template, SampleSurvey(policy, channel), policy.Messages.PurposeStatement);
                if (body.Length > 0) continue;
                problem = "renders an empty body";
            }
            catch (Exception e) // whatever a template of the file throws is its finding, never a crash of check-policy
            {
                problem = $"does not render: {e.Message}";
            }
            yield return new(PolicyFinding.Error, $"{template.Path}.body", $"{problem} for a sample survey invitation on {channel}");
        }
    }

    private static RecoveryTrigger SampleSurvey(RecoveryPolicy policy, string channel)
    {
        var invitation = new RecoveryTrigger
        {
            TriggerId = "sample-trigger", Kind = TriggerKinds.SurveyInvitation, ShopperId = "sample-shopper", SessionId = "sample-session",
            Step = 0, Channel = channel, Score = 0, Reason = "case_ended", PolicyVersion = policy.Version,
            EventTime = SampleTime, DueTime = SampleTime, Currency = policy.DefaultCurrency, CartValue = 55.5m,
        };
        var consent = new ConsentRecord(policy.SurveyInvitation.Purpose, channel, true, "sample-consent", SampleTime.AddDays(-1),
            "checkout_form", "sample", "granted", null);
        return MessageObligations.Complete(invitation, policy with
        {
            SurveyInvitation = policy.SurveyInvitation with { Templates = policy.SurveyInvitation.Templates.Clear() },
        }, consent, TimeZoneInfo.Utc);
    }

    /// <summary>A reminder as the engine would complete it: two cart lines, the step's incentive if any, both links.</summary>
    private static RecoveryTrigger SampleReminder(RecoveryPolicy policy, int step, string channel, IncentiveOffer? incentive)
    {
        var reminder = new RecoveryTrigger
        {
            TriggerId = "sample-trigger", Kind = TriggerKinds.Reminder, ShopperId = "sample-shopper", SessionId = "sample-session",
            Step = step, Channel = channel, Score = 0.5, Reason = "reminder_step", PolicyVersion = policy.Version,
            EventTime = SampleTime, DueTime = SampleTime, Currency = policy.DefaultCurrency, CartValue = 55.5m,
            CartLines =
            [
                new CartLine { Sku = "sample-1", Name = "Kettle", UnitPrice = 39.5m, Quantity = 1 },
                new CartLine { Sku = "sample-2", Name = "Mug", UnitPrice = 8m, Quantity = 2 },
            ],
            IncentiveCode = incentive is null ? "" : "CR-SAMPLE",
            IncentiveType = incentive?.Type ?? "",
            IncentiveValue = incentive?.Value ?? 0,
            IncentiveExpiresAt = incentive is null ? null : SampleTime + incentive.ValidFor,
        };
        var consent = new ConsentRecord(Decisions.RecoveryEngine.RecoveryPurpose, channel, true, "sample-consent", SampleTime.AddDays(-1),
            "checkout_form", "sample", "granted", null);
        // Complete renders too (leniently); the strict render is the test.
        return MessageObligations.Complete(reminder, policy with { Messages = policy.Messages with { Templates = policy.Messages.Templates.Clear() } },
            consent, TimeZoneInfo.Utc);
    }
}
