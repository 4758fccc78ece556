using System.Collections.Immutable;
using Fluid;

namespace CartRecovery.Domain.Policy;

/// <summary>
/// What the policy says about the messages its reminders become (policy key <c>messages</c>, docs/compliance.md): the
/// purpose statement shown to the shopper, the unsubscribe and resume-checkout link templates (Liquid, with
/// <c>{{ token }}</c>) and how long their tokens are honoured, the storefront checkout URL a resume link leads to, and optional subject/body templates per step and channel. All Liquid, parsed when the policy
/// is loaded, so a template error is a policy error naming its key.
/// </summary>
public sealed record MessagePolicy
{
    public string PurposeStatement { get; init; } = "";
    public IFluidTemplate? UnsubscribeLink { get; init; }
    public IFluidTemplate? ResumeLink { get; init; }
    /// <summary>How long after its message an unsubscribe link is honoured (<c>unsubscribe_valid_for</c>, default 90 days:
    /// longer than the 30 days after sending that CAN-SPAM asks an opt-out to work).</summary>
    public TimeSpan UnsubscribeValidFor { get; init; } = DefaultUnsubscribeValidFor;
    /// <summary>How long after its message a resume link restores the cart (<c>resume_valid_for</c>, default 30 days).</summary>
    public TimeSpan ResumeValidFor { get; init; } = DefaultResumeValidFor;
    /// <summary>The storefront's checkout URL a resume link redirects to (<c>checkout_url</c>, Liquid: <c>cart</c> as
    /// <c>sku:quantity</c> pairs joined by commas, each sku URL-escaped, <c>step</c>, <c>trigger</c>, <c>lines_omitted</c>).</summary>
    public IFluidTemplate? CheckoutUrl { get; init; }

    public static readonly TimeSpan DefaultUnsubscribeValidFor = TimeSpan.FromDays(90);
    public static readonly TimeSpan DefaultResumeValidFor = TimeSpan.FromDays(30);
    /// <summary>Keyed by (step number, channel).</summary>
    public ImmutableDictionary<(int Step, string Channel), MessageTemplate> Templates { get; init; } =
        ImmutableDictionary<(int Step, string Channel), MessageTemplate>.Empty;

    public static MessagePolicy None { get; } = new();

    public MessageTemplate? TemplateFor(int step, string channel) => Templates.GetValueOrDefault((step, channel));
}

/// <summary>A message's subject (may be empty for SMS and push) and body, as parsed Liquid templates; <see cref="Path"/> is
/// where it is in the policy file (<c>messages.templates[0]</c>).</summary>
public sealed record MessageTemplate(IFluidTemplate Subject, IFluidTemplate Body, string Path = "");
