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
}
