using System.Collections.Immutable;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using CartRecovery.Domain.Time;

namespace CartRecovery.Domain.Policy;

/// <summary>A policy file that does not validate: <see cref="Exception.Message"/> names the key and the problem.</summary>
public sealed class PolicyValidationException(string key, string problem)
    : Exception($"policy: '{key}' {problem}")
{
    public string Key { get; } = key;
}

/// <summary>
/// Parses and validates a JSON policy file. Segments inherit every key they do not set from
/// <c>defaults</c>. Unknown keys are errors (a typo must not silently fall back to a default).
/// Durations are written like "90s", "30m", "1h", "7d".
/// </summary>
public static partial class PolicyFile
{
    public const string DefaultResourceName = "CartRecovery.Domain.Policy.default-policy.json";

    public static RecoveryPolicy LoadDefault()
    {
        using var stream = typeof(PolicyFile).Assembly.GetManifestResourceStream(DefaultResourceName)
            ?? throw new InvalidOperationException($"embedded resource {DefaultResourceName} missing");
        using var reader = new StreamReader(stream);
        return Parse(reader.ReadToEnd());
    }

    public static string DefaultText()
    {
        using var stream = typeof(PolicyFile).Assembly.GetManifestResourceStream(DefaultResourceName)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    public static RecoveryPolicy Parse(string json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new PolicyValidationException("(file)", $"is not valid JSON: line {e.LineNumber + 1}: {e.Message}");
        }
        using (doc)
        {
            var root = new Node(doc.RootElement, "");
            root.AllowOnly("version", "allowed_lateness", "max_future_skew", "purchase_grace", "attribution_window", "purchase_memory",
                "dedup_horizon", "duplicate_case_window", "payment_pending_hold", "default_time_zone", "default_currency", "exchange_rates",
                "holdout_share", "variants", "risk", "defaults", "segments", "messages", "profiles", "browse_abandonment", "win_back", "survey_invitation");
            var defaults = ParseSegment(root.Required("defaults"), null, "default");
            var segments = ImmutableArray.CreateBuilder<SegmentPolicy>();
            if (root.Optional("segments") is { } list)
                foreach (var (item, i) in list.Items())
                    segments.Add(ParseSegment(item, defaults, item.Required("name").String()));
            segments.Add(defaults with { Match = SegmentMatch.Any });

            var names = segments.Select(s => s.Name).ToList();
            var duplicate = names.GroupBy(n => n).FirstOrDefault(g => g.Count() > 1);
            if (duplicate is not null) throw new PolicyValidationException("segments", $"has two segments named '{duplicate.Key}'");

            var timeZone = root.Optional("default_time_zone")?.String() ?? "UTC";
            ResolveZone(timeZone, "default_time_zone");
            var currency = root.Optional("default_currency")?.Currency() ?? "EUR";
            var holdout = root.Optional("holdout_share")?.Number() ?? 0.10;
            if (holdout is < 0 or > 1) throw new PolicyValidationException("holdout_share", "must be between 0 and 1");

            var lateness = root.Optional("allowed_lateness")?.Duration() ?? TimeSpan.FromMinutes(2);
            // A horizon shorter than the lateness would let a redelivery that is still on time be applied twice.
            var dedupHorizon = root.Optional("dedup_horizon")?.Duration() ?? TimeSpan.FromHours(24);
            if (dedupHorizon < lateness)
                throw new PolicyValidationException("dedup_horizon", $"must be at least allowed_lateness ({lateness})");
            // A bound inside the lateness would hold the frontier behind events that are on time.
            var maxFutureSkew = root.Optional("max_future_skew")?.Duration() ?? RecoveryPolicy.DefaultMaxFutureSkew;
            if (maxFutureSkew < lateness)
                throw new PolicyValidationException("max_future_skew", $"must be at least allowed_lateness ({lateness})");

            return new RecoveryPolicy
            {
                Version = root.Required("version").String(),
                AllowedLateness = lateness,
                MaxFutureSkew = maxFutureSkew,
                DedupHorizon = dedupHorizon,
                DuplicateCaseWindow = root.Optional("duplicate_case_window")?.Duration() ?? TimeSpan.FromMinutes(30),
                PaymentPendingHold = root.Optional("payment_pending_hold")?.PositiveDuration() ?? TimeSpan.FromDays(3),
                PurchaseGrace = root.Optional("purchase_grace")?.Duration() ?? TimeSpan.FromMinutes(5),
                AttributionWindow = root.Optional("attribution_window")?.Duration() ?? TimeSpan.FromDays(5),
                PurchaseMemory = root.Optional("purchase_memory")?.Duration() ?? TimeSpan.FromDays(30),
                DefaultTimeZone = timeZone,
                DefaultCurrency = currency,
                Rates = root.Optional("exchange_rates") is { } rates ? ParseRates(rates, currency) : ExchangeRates.None,
                HoldoutShare = holdout,
                Variants = ParseVariants(root.Optional("variants")),
                Risk = ParseRisk(root.Required("risk")),
                Segments = segments.ToImmutable(),
                Messages = ParseMessages(root.Optional("messages")),
                Profiles = root.Optional("profiles") is { } profiles ? ParseProfiles(profiles) : ProfileSettings.Default,
                BrowseAbandonment = ParseBrowseAbandonment(root.Optional("browse_abandonment")),
                WinBack = ParseWinBack(root.Optional("win_back")),
                SurveyInvitation = ParseSurveyInvitation(root.Optional("survey_invitation")),
            };
        }
    }

    public static TimeZoneInfo ResolveZone(string id, string key)
    {
        try { return TimeZoneInfo.FindSystemTimeZoneById(id); }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            throw new PolicyValidationException(key, $"is not a known IANA time zone: '{id}'");
        }
    }

    /// <summary>Rates into the policy currency: <c>{ "as_of": "2026-11-01", "rates": { "USD": 0.92 } }</c>, one unit of each
    /// currency in the policy currency on that date. The date is required: a rate without one cannot be reviewed.</summary>
    private static ExchangeRates ParseRates(Node node, string policyCurrency)
    {
        node.AllowOnly("as_of", "rates");
        var asOf = node.Required("as_of").Date();
        var rates = node.Required("rates");
        if (rates.Element.ValueKind != JsonValueKind.Object) throw new PolicyValidationException(rates.Path, "must be an object of currency codes to rates");
        var map = ImmutableDictionary.CreateBuilder<string, decimal>(StringComparer.Ordinal);
        foreach (var property in rates.Element.EnumerateObject())
        {
            var key = rates.Key(property.Name);
            if (Contracts.Serialization.FieldValues.Currency(property.Name) != property.Name)
                throw new PolicyValidationException(key, "must be a 3-letter ISO 4217 currency code in capitals");
            var rate = new Node(property.Value, key).Decimal();
            if (rate <= 0) throw new PolicyValidationException(key, "must be a rate > 0 (value of one unit in the policy currency)");
            if (property.Name == policyCurrency && rate != 1) throw new PolicyValidationException(key, "is the policy currency (default_currency): its rate is 1");
            map[property.Name] = rate;
        }
        return new ExchangeRates(asOf, map.ToImmutable());
    }

    private static ImmutableArray<Variant> ParseVariants(Node? node)
    {
        if (node is null) return [new Variant("control", 1)];
        var variants = node.Items().Select(x =>
        {
            var (item, _) = x;
            item.AllowOnly("name", "weight", "steps", "channel_preference");
            var weight = item.Optional("weight")?.Number() ?? 1;
            if (weight <= 0) throw new PolicyValidationException(item.Path + ".weight", "must be > 0");
            // A variant may change what its shoppers get: steps (delays, incentives, score thresholds) and channels.
            return new Variant(item.Required("name").String(), weight,
                item.Optional("steps") is { } steps ? ParseSteps(steps) : null,
                item.Optional("channel_preference") is { } channels ? ParseChannels(channels) : null) { StepsPath = item.Key("steps") };
        }).ToImmutableArray();
        if (variants.IsEmpty) throw new PolicyValidationException(node.Path, "needs at least one variant");
        return variants;
    }

    private static RiskWeights ParseRisk(Node node)
    {
        node.AllowOnly("bias", "typical_cart_value", "weights", "funnel_step", "origin_channel");
        var weights = node.Required("weights");
        weights.AllowOnly("idle", "payment_failures", "cart_value", "item_count", "returning_shopper", "explicit_exit");
        var typical = node.Required("typical_cart_value").Decimal();
        if (typical <= 0) throw new PolicyValidationException(node.Path + ".typical_cart_value", "must be > 0");
        return new RiskWeights
        {
            Bias = node.Required("bias").Number(),
            TypicalCartValue = typical,
            Idle = weights.Required("idle").Number(),
            ExplicitExit = weights.Optional("explicit_exit")?.Number() ?? weights.Required("idle").Number(),
            PaymentFailures = weights.Required("payment_failures").Number(),
            CartValue = weights.Required("cart_value").Number(),
            ItemCount = weights.Required("item_count").Number(),
            ReturningShopper = weights.Required("returning_shopper").Number(),
            FunnelStep = node.Required("funnel_step").NumberMap(["browsing", "cart", "checkout", "payment"]),
            // Keyed by channel-of-origin codes as the input is normalised to; a channel not listed weighs 0 (neutral).
            OriginChannel = node.Optional("origin_channel") is { } origins ? CodeKeys(origins).NumberMap(null) : ImmutableDictionary<string, double>.Empty,
        };
    }

    private static Node CodeKeys(Node node)
    {
        if (node.Element.ValueKind == JsonValueKind.Object)
            foreach (var property in node.Element.EnumerateObject())
                if (Contracts.Serialization.FieldValues.Code(property.Name) != property.Name)
                    throw new PolicyValidationException(node.Key(property.Name), "must be a lower-case channel-of-origin code (letters, digits, '_', '-', '.')");
        return node;
    }

    private static readonly string[] Channels = ["push", "sms", "email"];

    private static SegmentPolicy ParseSegment(Node node, SegmentPolicy? inherit, string name)
    {
        node.AllowOnly("name", "match", "inactivity_timeout", "steps", "channel_preference", "channel_order", "caps", "quiet_hours", "proactive_assist");
        T Get<T>(string key, Func<Node, T> parse, Func<SegmentPolicy, T> inherited) =>
            node.Optional(key) is { } n ? parse(n)
            : inherit is not null ? inherited(inherit)
            : throw new PolicyValidationException(node.Key(key), "is required in defaults");

        var timeout = Get("inactivity_timeout", n => n.PositiveDuration(), s => s.InactivityTimeout);
        var steps = Get("steps", ParseSteps, s => s.Steps);
        return new SegmentPolicy
        {
            Name = name,
            Match = node.Optional("match") is { } m ? ParseMatch(m) : SegmentMatch.Any,
            InactivityTimeout = timeout,
            Steps = steps,
            ChannelPreference = Get("channel_preference", ParseChannels, s => s.ChannelPreference),
            // Optional even in defaults: the preference as listed is what every earlier policy file meant.
            ChannelOrder = node.Optional("channel_order") is { } order
                ? ChannelOrders.All.Contains(order.String()) ? order.String()
                    : throw new PolicyValidationException(order.Path, $"must be one of {string.Join(", ", ChannelOrders.All)}")
                : inherit?.ChannelOrder ?? ChannelOrders.Preference,
            Caps = Get("caps", ParseCaps, s => s.Caps).For(steps),
            StepsPath = node.Optional("steps") is not null ? node.Key("steps") : inherit?.StepsPath ?? node.Key("steps"),
            CapsPath = node.Optional("caps") is not null ? node.Key("caps") : inherit?.CapsPath ?? node.Key("caps"),
            QuietHours = Get("quiet_hours", ParseQuietHours, s => s.QuietHours),
            Assist = Get("proactive_assist", ParseAssist, s => s.Assist),
        };
    }

    private static ImmutableArray<string> ParseChannels(Node node) => node.Items().Select(x =>
    {
        var channel = x.Item.String();
        if (!Channels.Contains(channel)) throw new PolicyValidationException(x.Item.Path, $"must be one of {string.Join(", ", Channels)}");
        return channel;
    }).ToImmutableArray();

    private static SegmentMatch ParseMatch(Node node)
    {
        node.AllowOnly("min_cart_value", "max_cart_value", "channels", "shopper_segments");
        // Channels of origin are compared with the input's, which are lower-case codes (EventParser normalises them).
        return new SegmentMatch(node.Optional("min_cart_value")?.Amount(), node.Optional("max_cart_value")?.Amount(),
            node.Optional("channels")?.Items().Select(x => x.Item.Code()).ToImmutableArray() ?? [],
            node.Optional("shopper_segments")?.Items().Select(x =>
            {
                var code = x.Item.String();
                return Profiles.ProfileSegments.All.Contains(code) ? code
                    : throw new PolicyValidationException(x.Item.Path, $"must be one of {string.Join(", ", Profiles.ProfileSegments.All)}");
            }).ToImmutableArray() ?? []);
    }

    private static ProfileSettings ParseProfiles(Node node)
    {
        node.AllowOnly("typical_interval", "lifetime_horizon");
        return new ProfileSettings(node.Optional("typical_interval")?.PositiveDuration() ?? ProfileSettings.Default.TypicalInterval,
            node.Optional("lifetime_horizon")?.PositiveDuration() ?? ProfileSettings.Default.LifetimeHorizon);
    }

    private static ImmutableArray<ReminderStep> ParseSteps(Node node)
    {
        var steps = ImmutableArray.CreateBuilder<ReminderStep>();
        var previous = TimeSpan.Zero;
        foreach (var (item, i) in node.Items())
        {
            item.AllowOnly("delay", "latest_delay", "min_score", "enabled", "incentive", "incentive_type", "incentive_value", "incentive_percent", "incentive_valid_for",
                "channel", "channels");
            var delay = item.Required("delay").PositiveDuration();
            if (delay <= previous) throw new PolicyValidationException(item.Key("delay"), "must be later than the previous step's delay (or latest_delay)");
            // Urgency moves the step inside [delay, latest_delay]; the windows of two steps must not overlap, or a step
            // could fall due before the one before it.
            var latest = item.Optional("latest_delay")?.PositiveDuration();
            if (latest < delay) throw new PolicyValidationException(item.Key("latest_delay"), "must be at least the step's delay");
            var minScore = item.Optional("min_score")?.Number() ?? 0;
            if (minScore is < 0 or > 1) throw new PolicyValidationException(item.Key("min_score"), "must be a risk score between 0 and 1");
            previous = latest ?? delay;
            var offer = ParseIncentive(item);
            var channels = ParseStepChannels(item);
            if (item.Optional("enabled")?.Bool() ?? true)
                steps.Add(new ReminderStep(i + 1, delay, offer, minScore, latest) { Channels = channels });
        }
        return steps.ToImmutable();
    }

    /// <summary>A step's own channel (<c>"channel": "sms"</c>) or channel order (<c>"channels": ["sms", "push"]</c>); default
    /// (none): the segment's channel_preference.</summary>
    private static ImmutableArray<string> ParseStepChannels(Node step)
    {
        var one = step.Optional("channel");
        var order = step.Optional("channels");
        if (one is not null && order is not null)
            throw new PolicyValidationException(step.Key("channel"), "and channels are two ways to name the step's channels: set only one");
        if (one is not null)
            return Channels.Contains(one.String()) ? [one.String()]
                : throw new PolicyValidationException(one.Path, $"must be one of {string.Join(", ", Channels)}");
        if (order is null) return default;
        var list = ParseChannels(order);
        if (list.IsEmpty) throw new PolicyValidationException(order.Path, "must name at least one channel");
        if (list.Distinct().Count() != list.Length) throw new PolicyValidationException(order.Path, "names a channel twice");
        return list;
    }

    /// <summary>The step's incentive, validated even when the step is disabled (a file that is switched on later
    /// must not fail then). <c>incentive_type</c> defaults to percent; <c>incentive_percent</c> is the older
    /// spelling of a percent value. Every code expires: <c>incentive_valid_for</c> defaults to 7 days.</summary>
    private static IncentiveOffer? ParseIncentive(Node step)
    {
        var type = step.Optional("incentive_type")?.String();
        if (type is not null && !IncentiveTypes.All.Contains(type))
            throw new PolicyValidationException(step.Key("incentive_type"), $"must be one of {string.Join(", ", IncentiveTypes.All)} (got '{type}')");
        var percent = step.Optional("incentive_percent");
        var value = step.Optional("incentive_value");
        if (percent is not null && value is not null)
            throw new PolicyValidationException(step.Key("incentive_percent"), "and incentive_value are two spellings of one value: set only incentive_value");
        if (percent is not null && type is not null && type != IncentiveTypes.Percent)
            throw new PolicyValidationException(step.Key("incentive_percent"), $"only applies to incentive_type percent (this step is {type})");
        type ??= IncentiveTypes.Percent;
        var amountNode = value ?? percent;
        var amount = amountNode?.Decimal() ?? 0;
        switch (type)
        {
            case IncentiveTypes.Percent when amountNode is not null && amount is <= 0 or > 100:
                throw new PolicyValidationException(amountNode.Path, "must be a percent above 0 and at most 100");
            case IncentiveTypes.FixedAmount when amountNode is not null && amount <= 0:
                throw new PolicyValidationException(amountNode.Path, "must be an amount above 0 (in the cart's currency)");
            case IncentiveTypes.FreeShipping when value is not null:
                throw new PolicyValidationException(value.Path, "must not be set for incentive_type free_shipping");
        }
        var validFor = step.Optional("incentive_valid_for")?.PositiveDuration() ?? TimeSpan.FromDays(7);

        // An incentive_type names an offer, so it switches the incentive on unless "incentive": false says otherwise.
        var on = step.Optional("incentive")?.Bool() ?? step.Optional("incentive_type") is not null;
        if (!on) return null;
        if (type != IncentiveTypes.FreeShipping && amountNode is null)
            throw new PolicyValidationException(step.Key("incentive_value"), $"is required for incentive_type {type}");
        return new IncentiveOffer(type, amount, validFor);
    }

    private static Caps ParseCaps(Node node)
    {
        node.AllowOnly("per_cart", "per_shopper", "per_shopper_window");
        // Without per_cart, one message per enabled step (Caps.For): enabling a step then never needs a second edit.
        var perCart = node.Optional("per_cart")?.NonNegativeInt();
        return new Caps(perCart ?? 0, node.Required("per_shopper").NonNegativeInt(),
            node.Required("per_shopper_window").PositiveDuration(), PerCartFromSteps: perCart is null);
    }

    private static QuietHours ParseQuietHours(Node node)
    {
        node.AllowOnly("start", "end");
        return new QuietHours(node.Required("start").Clock(), node.Required("end").Clock());
    }

    private static ProactiveAssist ParseAssist(Node node)
    {
        node.AllowOnly("enabled", "min_cart_value", "checkout_idle", "payment_failures", "holdout_share", "promo_code_failure");
        var holdout = node.Optional("holdout_share")?.Number() ?? 0;
        if (holdout is < 0 or > 1) throw new PolicyValidationException(node.Key("holdout_share"), "must be between 0 and 1");
        return new ProactiveAssist(node.Optional("enabled")?.Bool() ?? true, node.Required("min_cart_value").Amount(),
            node.Required("checkout_idle").PositiveDuration(), node.Required("payment_failures").NonNegativeInt(), holdout)
        {
            PromoCodeFailure = node.Optional("promo_code_failure") is { } promo ? ParsePromoCodeAssist(promo) : PromoCodeAssist.Off,
        };
    }

    private static PromoCodeAssist ParsePromoCodeAssist(Node node)
    {
        node.AllowOnly("enabled", "min_score");
        var minScore = node.Required("min_score").Number();
        if (minScore is < 0 or > 1) throw new PolicyValidationException(node.Key("min_score"), "must be a risk score between 0 and 1");
        return new PromoCodeAssist(node.Optional("enabled")?.Bool() ?? true, minScore);
    }

    /// <summary>A JSON element with its path, so every error names the key.</summary>
    private sealed record Node(JsonElement Element, string Path)
    {
        public string Key(string key) => Path.Length == 0 ? key : $"{Path}.{key}";

        public void AllowOnly(params string[] keys)
        {
            if (Element.ValueKind != JsonValueKind.Object) throw new PolicyValidationException(Path.Length == 0 ? "(root)" : Path, "must be an object");
            foreach (var property in Element.EnumerateObject())
                if (!keys.Contains(property.Name))
                    throw new PolicyValidationException(Key(property.Name), $"is not a known key here (known: {string.Join(", ", keys)})");
        }

        public Node Required(string key) => Optional(key) ?? throw new PolicyValidationException(Key(key), "is required");

        public Node? Optional(string key) =>
            Element.ValueKind == JsonValueKind.Object && Element.TryGetProperty(key, out var value) && value.ValueKind != JsonValueKind.Null
                ? new Node(value, Key(key)) : null;

        public IEnumerable<(Node Item, int Index)> Items()
        {
            if (Element.ValueKind != JsonValueKind.Array) throw new PolicyValidationException(Path, "must be a list");
            return Element.EnumerateArray().Select((e, i) => (new Node(e, $"{Path}[{i}]"), i)).ToList();
        }

        public string String() => Element.ValueKind == JsonValueKind.String && Element.GetString() is { Length: > 0 } s
            ? s : throw new PolicyValidationException(Path, "must be a non-empty string");

        public bool Bool() => Element.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? Element.GetBoolean() : throw new PolicyValidationException(Path, "must be true or false");

        public double Number() => Element.ValueKind == JsonValueKind.Number
            ? Element.GetDouble() : throw new PolicyValidationException(Path, "must be a number");

        public decimal Decimal() => Element.ValueKind == JsonValueKind.Number
            ? Element.GetDecimal() : throw new PolicyValidationException(Path, "must be a number");

        /// <summary>An amount of money in the policy currency: a plain number >= 0 (per-currency amounts go through exchange_rates).</summary>
        public decimal Amount()
        {
            if (Element.ValueKind == JsonValueKind.Object)
                throw new PolicyValidationException(Path, "must be one amount in the policy currency (default_currency); give other currencies' rates in exchange_rates");
            var amount = Decimal();
            return amount >= 0 ? amount : throw new PolicyValidationException(Path, "must be an amount >= 0");
        }

        public string Currency() => Contracts.Serialization.FieldValues.Currency(String()) is { } code && code == String()
            ? code : throw new PolicyValidationException(Path, "must be a 3-letter ISO 4217 currency code in capitals");

        public string Code() => Contracts.Serialization.FieldValues.Code(String()) is { } code && code == String()
            ? code : throw new PolicyValidationException(Path, "must be a lower-case code (letters, digits, '_', '-', '.')");

        public DateOnly Date() => Element.ValueKind == JsonValueKind.String &&
            DateOnly.TryParseExact(Element.GetString(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d)
                ? d : throw new PolicyValidationException(Path, "must be a date like \"2026-11-01\"");

        public int NonNegativeInt() => Element.ValueKind == JsonValueKind.Number && Element.TryGetInt32(out var v) && v >= 0
            ? v : throw new PolicyValidationException(Path, "must be a whole number >= 0");

        public ImmutableDictionary<string, double> NumberMap(string[]? requiredKeys)
        {
            if (Element.ValueKind != JsonValueKind.Object) throw new PolicyValidationException(Path, "must be an object of numbers");
            var map = Element.EnumerateObject().ToImmutableDictionary(p => p.Name, p => new Node(p.Value, Key(p.Name)).Number());
            foreach (var key in requiredKeys ?? [])
                if (!map.ContainsKey(key)) throw new PolicyValidationException(Key(key), "is required");
            return map;
        }

        public TimeOnly Clock() => Element.ValueKind == JsonValueKind.String &&
            TimeOnly.TryParseExact(Element.GetString(), "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var t)
                ? t : throw new PolicyValidationException(Path, "must be a local time like \"21:00\"");

        public TimeSpan PositiveDuration()
        {
            var d = Duration();
            return d > TimeSpan.Zero ? d : throw new PolicyValidationException(Path, "must be a positive duration");
        }

        public TimeSpan Duration()
        {
            var text = Element.ValueKind == JsonValueKind.String ? Element.GetString() ?? "" : "";
            if (text.Length >= 2 && double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n >= 0)
            {
                switch (text[^1])
                {
                    case 's': return TimeSpan.FromSeconds(n);
                    case 'm': return TimeSpan.FromMinutes(n);
                    case 'h': return TimeSpan.FromHours(n);
                    case 'd': return TimeSpan.FromDays(n);
                }
            }
            throw new PolicyValidationException(Path, $"must be a duration like \"30m\", \"1h\" or \"7d\" (got '{text}')");
        }
    }
}
