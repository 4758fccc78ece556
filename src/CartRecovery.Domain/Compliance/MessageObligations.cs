using System.Globalization;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.State;
using Fluid;

namespace CartRecovery.Domain.Compliance;

/// <summary>
/// Completes a reminder with what a dispatcher needs to send it compliantly: the purpose and consent wording it relies
/// on, the opaque unsubscribe and resume tokens with their links from the policy's templates (and the RFC 8058 headers
/// of an email), and the subject and body
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
        // Expiries count from the decision's event time, so a replay issues the same tokens.
        var unsubscribe = MessageTokens.Unsubscribe(keys, reminder.ShopperId, consent.Purpose, reminder.Channel, reminder.TriggerId,
            reminder.EventTime + policy.Messages.UnsubscribeValidFor);
        var resume = MessageTokens.Resume(keys, reminder.ShopperId, reminder.SessionId, reminder.TriggerId, reminder.EventTime + policy.Messages.ResumeValidFor,
            reminder.FunnelStep, [.. reminder.CartLines.Select(line => new TokenCartLine(line.Sku, line.Quantity))], reminder.CartLinesOmitted);
        var unsubscribeUrl = Link(policy.Messages.UnsubscribeLink, unsubscribe);
        var oneClick = reminder.Channel == "email" && unsubscribeUrl.StartsWith("https://", StringComparison.Ordinal);
        // Located and completed in one copy of the trigger (Located's fields set here too).
        var completed = reminder with
        {
            ShopperTimeZone = timeZone.Id,
            ShopperLocalTime = LocalTime(reminder.EventTime, timeZone),
            Purpose = consent.Purpose,
            ConsentWordingVersion = consent.WordingVersion,
            UnsubscribeToken = unsubscribe,
            UnsubscribeUrl = unsubscribeUrl,
            ResumeToken = resume,
            ResumeUrl = Link(policy.Messages.ResumeLink, resume),
            // RFC 8058 one-click unsubscribe: the header pair an email dispatcher sets. The RFC requires an HTTPS URI;
            // a plain-http link (a local test) gets no header rather than one the mailbox providers would reject.
            ListUnsubscribe = oneClick ? $"<{unsubscribeUrl}>" : "",
            ListUnsubscribePost = oneClick ? OneClickPostBody : "",
        };
        var template = reminder.Kind == TriggerKinds.SurveyInvitation
            ? policy.SurveyInvitation.Templates.GetValueOrDefault(reminder.Channel)
            : policy.Messages.TemplateFor(reminder.Step, reminder.Channel);
        if (template is null) return completed;
        var context = Context(completed, policy.Messages.PurposeStatement);
        return completed with { MessageSubject = template.Subject.Render(context).Trim(), MessageBody = template.Body.Render(context).Trim() };
    }

    /// <summary>The value of <c>List-Unsubscribe-Post</c> and the body a one-click unsubscribe POST carries (RFC 8058).</summary>
    public const string OneClickPostBody = "List-Unsubscribe=One-Click";

    /// <summary>
    /// The storefront checkout URL a resume token leads to, from the policy's <c>checkout_url</c>, with the cart the token
    /// carries: <c>cart</c> as <c>sku:quantity</c> pairs joined by commas (each sku URL-escaped, so neither separator can
    /// come from a sku), <c>step</c> the furthest funnel step, <c>trigger</c> (escaped) for the storefront to find lines the
    /// token does not carry, <c>lines_omitted</c>. Null when the policy has no checkout URL or it does not render an
    /// absolute http(s) URL.
    /// </summary>
    public static string? CheckoutUrl(MessagePolicy messages, TokenClaims resume)
    {
        if (messages.CheckoutUrl is null) return null;
        var context = new TemplateContext(Options);
        context.SetValue("cart", string.Join(',', resume.Lines.Select(line =>
            $"{Uri.EscapeDataString(line.Sku)}:{line.Quantity.ToString(CultureInfo.InvariantCulture)}")));
        context.SetValue("step", Uri.EscapeDataString(resume.CheckoutStep));
        context.SetValue("trigger", Uri.EscapeDataString(resume.TriggerId));
        context.SetValue("lines_omitted", resume.LinesOmitted);
        var url = messages.CheckoutUrl.Render(context).Trim();
        return Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http" ? uri.AbsoluteUri : null;
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
        ShopperLocalTime = LocalTime(trigger.EventTime, timeZone),
    };

    private static DateTime LocalTime(DateTimeOffset at, TimeZoneInfo timeZone) =>
        DateTime.SpecifyKind(TimeZoneInfo.ConvertTime(at, timeZone).DateTime, DateTimeKind.Unspecified);

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
        // The id a survey answer sends back (survey_answered.trigger_id) to be linked to its case.
        context.SetValue("trigger_id", trigger.TriggerId);
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
