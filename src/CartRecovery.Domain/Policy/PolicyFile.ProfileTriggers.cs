namespace CartRecovery.Domain.Policy;

/// <summary>The <c>browse_abandonment</c> and <c>win_back</c> sections of a policy file.</summary>
public static partial class PolicyFile
{
    private static BrowseAbandonmentPolicy ParseBrowseAbandonment(Node? node)
    {
        if (node is null) return BrowseAbandonmentPolicy.Off;
        node.AllowOnly("enabled", "delay", "min_views", "purpose");
        var off = BrowseAbandonmentPolicy.Off;
        var minViews = node.Optional("min_views")?.NonNegativeInt() ?? off.MinViews;
        if (minViews == 0) throw new PolicyValidationException(node.Key("min_views"), "must be at least 1 (views of one category)");
        return new BrowseAbandonmentPolicy(node.Optional("enabled")?.Bool() ?? false, node.Optional("delay")?.PositiveDuration() ?? off.Delay,
            minViews, node.Optional("purpose")?.Code() ?? off.Purpose);
    }

    private static WinBackPolicy ParseWinBack(Node? node)
    {
        if (node is null) return WinBackPolicy.Off;
        node.AllowOnly("enabled", "period", "purpose");
        var off = WinBackPolicy.Off;
        return new WinBackPolicy(node.Optional("enabled")?.Bool() ?? false, node.Optional("period")?.PositiveDuration() ?? off.Period,
            node.Optional("purpose")?.Code() ?? off.Purpose);
    }

    private static SurveyInvitationPolicy ParseSurveyInvitation(Node? node)
    {
        if (node is null) return SurveyInvitationPolicy.Off;
        node.AllowOnly("enabled", "delay", "channels", "purpose", "templates");
        var off = SurveyInvitationPolicy.Off;
        var channels = node.Optional("channels") is { } order ? ParseChannels(order) : [];
        if (channels.Distinct().Count() != channels.Length) throw new PolicyValidationException(node.Key("channels"), "names a channel twice");
        var templates = System.Collections.Immutable.ImmutableDictionary.CreateBuilder<string, MessageTemplate>();
        if (node.Optional("templates") is { } list)
            foreach (var (item, _) in list.Items())
            {
                item.AllowOnly("channel", "subject", "body");
                var channel = item.Required("channel").String();
                if (!MessageChannels.Contains(channel))
                    throw new PolicyValidationException(item.Key("channel"), $"must be one of {string.Join(", ", MessageChannels)}");
                if (templates.ContainsKey(channel)) throw new PolicyValidationException(item.Path, $"is a second template for {channel}");
                var subject = item.Optional("subject") is { } subjectNode ? Template(subjectNode) : Template(new Node(default, item.Key("subject")), "");
                templates[channel] = new MessageTemplate(subject, Template(item.Required("body")), item.Path);
            }
        return new SurveyInvitationPolicy(node.Optional("enabled")?.Bool() ?? false, node.Optional("delay")?.PositiveDuration() ?? off.Delay,
            channels, node.Optional("purpose")?.Code() ?? off.Purpose) { Templates = templates.ToImmutable() };
    }
}
