using System.Globalization;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.State;
using Fluid;

namespace CartRecovery.Domain.Compliance;

/// <summary>
/// Completes a reminder with what a dispatcher needs to send it compliantly: the purpose and consent wording it relies
/// on, the signed unsubscribe and resume tokens with their links from the policy's templates, and the subject and body
/// rendered from the policy's template for the step and channel (when there is one). Pure: the same trigger, consent,
/// policy and keys give the same message.
/// </summary>
public static class MessageObligations
{
    private static readonly TemplateOptions Options = CreateOptions();
    // check-policy's sample render: a variable or filter the context does not have is an error, not an empty string.
    private static readonly TemplateOptions StrictOptions = CreateOptions(strict: true);

    /// <summary>A reminder relying on <paramref name="consent"/>, sent in <paramref name="timeZone"/>.</summary>
    public static RecoveryTrigger Complete(RecoveryTrigger reminder, RecoveryPolicy policy, ConsentRecord consent, TimeZoneInfo timeZone)
    {
        var keys = policy.Keys;
        var unsubscribe = MessageTokens.Unsubscribe(keys, reminder.ShopperId, consent.Purpose, reminder.Channel);
        var resume = MessageTokens.Resume(keys, reminder.ShopperId, reminder.SessionId, reminder.TriggerId);
        var completed = Located(reminder, timeZone) with
        {
            Purpose = consent.Purpose,
            ConsentWordingVersion = consent.WordingVersion,
            UnsubscribeToken = unsubscribe,
            UnsubscribeUrl = Link(policy.Messages.UnsubscribeLink, unsubscribe),
            ResumeToken = resume,
            ResumeUrl = Link(policy.Messages.ResumeLink, resume),
        };
        if (policy.Messages.TemplateFor(reminder.Step, reminder.Channel) is not { } template) return completed;
        var context = Context(completed, policy.Messages.PurposeStatement);
        return completed with { MessageSubject = template.Subject.Render(context).Trim(), MessageBody = template.Body.Render(context).Trim() };
    }

    /// <summary>Renders <paramref name="template"/> for a completed reminder the way <see cref="Complete"/> does, except that an
    /// unknown variable or filter throws (<see cref="InvalidOperationException"/>): check-policy's test of a template.</summary>
    public static (string Subject, string Body) RenderStrict(MessageTemplate template, RecoveryTrigger completed, string purposeStatement)
    {
        var context = Context(completed, purposeStatement, StrictOptions);
        return (template.Subject.Render(context).Trim(), template.Body.Render(context).Trim());
    }

    /// <summary>Any trigger: the shopper's zone and wall-clock time at the decision, for quiet-hours checks.</summary>
    public static RecoveryTrigger Located(RecoveryTrigger trigger, TimeZoneInfo timeZone) => trigger with
    {
        ShopperTimeZone = timeZone.Id,
        ShopperLocalTime = DateTime.SpecifyKind(TimeZoneInfo.ConvertTime(trigger.EventTime, timeZone).DateTime, DateTimeKind.Unspecified),
    };

    private static string Link(IFluidTemplate? template, string token)
    {
        if (template is null) return "";
        var context = new TemplateContext(Options);
        context.SetValue("token", token);
        return template.Render(context).Trim();
    }

    /// <summary>What a message template can reference: items, cart value, incentive (with the offer described), purpose
    /// statement and both links.</summary>
    private static TemplateContext Context(RecoveryTrigger trigger, string purposeStatement, TemplateOptions? options = null)
    {
        var context = new TemplateContext(options ?? Options);
        context.SetValue("items", trigger.CartLines.Select(line => new Dictionary<string, object>
        {
            ["sku"] = line.Sku, ["name"] = line.Name, ["quantity"] = line.Quantity,
            ["unit_price"] = line.UnitPrice, ["total"] = line.Total,
        }).ToList());
        context.SetValue("cart_value", trigger.CartValue);
        context.SetValue("currency", trigger.Currency);
        context.SetValue("step", trigger.Step);
        context.SetValue("channel", trigger.Channel);
        context.SetValue("has_incentive", trigger.IncentiveCode.Length > 0);
        context.SetValue("incentive", new Dictionary<string, object>
        {
            ["code"] = trigger.IncentiveCode, ["type"] = trigger.IncentiveType, ["value"] = trigger.IncentiveValue,
            // The offer named as the shopper reads it ("10 % off", "free shipping"): a code alone says nothing.
            ["offer"] = IncentiveTypes.Describe(trigger.IncentiveType, trigger.IncentiveValue, trigger.Currency),
            ["expires_at"] = trigger.IncentiveExpiresAt?.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture) ?? "",
        });
        context.SetValue("purpose_statement", purposeStatement);
        context.SetValue("unsubscribe_url", trigger.UnsubscribeUrl);
        context.SetValue("resume_url", trigger.ResumeUrl);
        return context;
    }

    private static TemplateOptions CreateOptions(bool strict = false)
    {
        // Invariant culture: a message must not change with the host's locale (decimal separators in prices).
        var options = new TemplateOptions { CultureInfo = CultureInfo.InvariantCulture, StrictVariables = strict, StrictFilters = strict };
        return options;
    }
}
