using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;

namespace CartRecovery.Traffic;

public sealed record SimulationSettings
{
    public int Shoppers { get; init; } = 3_000;
    public int Seed { get; init; } = 42;
    public DateTimeOffset Start { get; init; } = new(2026, 11, 2, 6, 0, 0, TimeSpan.Zero);
    /// <summary>Simulated span in which sessions start.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromHours(6);
}

/// <summary>An event and the topic it is published on (key = shopper id).</summary>
public sealed record GeneratedEvent(string Topic, ShopperEvent Event);

/// <summary>
/// Deterministic synthetic storefront traffic: the same settings give the same events, byte for byte.
/// Shaped like real stores: most sessions only browse, a third add to cart, few buy; session lengths are
/// skewed; traffic comes in bursts; some shoppers use several devices; consent varies by channel; a few
/// order events arrive out of order (within the allowed lateness); some abandoned carts are bought later.
/// Ids are opaque (no names, emails or phones).
/// </summary>
public static class StorefrontSimulator
{
    private static readonly string[] Zones = ["Europe/Berlin", "Europe/London", "America/New_York", "America/Los_Angeles", "Asia/Tokyo"];
    private static readonly (string Channel, double Weight)[] Origins = [("web", 0.55), ("app", 0.25), ("instagram", 0.12), ("tiktok", 0.08)];
    private static readonly string[] Categories = ["shoes", "jackets", "phones", "headphones", "lamps", "books", "toys", "watches"];
    private static readonly string[] PaymentErrors = ["card_declined", "insufficient_funds", "3ds_failed", "expired_card"];
    private static readonly string[] PromoReasons = [PromoCodeRejections.Invalid, PromoCodeRejections.Expired, PromoCodeRejections.NotApplicable];

    public static IReadOnlyList<GeneratedEvent> Generate(SimulationSettings settings)
    {
        var random = new Random(settings.Seed);
        // Promo-code refusals draw from their own generator: adding them left every other event of a seed as it was.
        var promoRandom = new Random(unchecked(settings.Seed * 31 + 7));
        var events = new List<(DateTimeOffset EmitAt, long Sequence, GeneratedEvent Event)>();
        long sequence = 0;
        void Emit(string topic, ShopperEvent evt, TimeSpan delay = default) => events.Add((evt.EventTime + delay, sequence++, new GeneratedEvent(topic, evt)));

        // Bursts: a few moments (campaign sends, social posts) attract a share of the session starts.
        var bursts = Enumerable.Range(0, 4).Select(_ => settings.Start + settings.Duration * random.NextDouble()).ToArray();

        for (var s = 0; s < settings.Shoppers; s++)
        {
            var shopperId = random.NextDouble() < 0.3 ? $"dev-{settings.Seed}-{s:D6}" : $"cust-{settings.Seed}-{s:D6}";
            var zone = Zones[random.Next(Zones.Length)];
            var eventNo = 0;
            string NextId() => $"evt-{settings.Seed}-{s:D6}-{eventNo++:D3}";

            var firstSeen = settings.Start + settings.Duration * random.NextDouble() * 0.9;
            if (random.NextDouble() < 0.3) firstSeen = bursts[random.Next(bursts.Length)] + TimeSpan.FromMinutes(random.NextDouble() * 10);

            // Consent: given at sign-up for some channels, before any session of this run.
            var consentAt = firstSeen - TimeSpan.FromDays(1 + random.Next(30));
            foreach (var (channel, share) in new[] { ("email", 0.70), ("push", 0.40), ("sms", 0.20) })
            {
                if (random.NextDouble() >= share) continue;
                Emit(Topics.ConsentEvents, new ConsentGranted
                {
                    EventId = NextId(), ShopperId = shopperId, EventTime = consentAt, Purpose = "cart_recovery", Channel = channel,
                    Source = "checkout_form", WordingVersion = "v3",
                });
            }

            var sessions = Skewed(random, [0.70, 0.22, 0.08]) + 1;
            var at = firstSeen;
            for (var n = 0; n < sessions; n++)
            {
                var sessionId = $"sess-{settings.Seed}-{s:D6}-{n}";
                var origin = Pick(random, Origins);
                Emit(Topics.CartEvents, new SessionStarted
                {
                    EventId = NextId(), ShopperId = shopperId, SessionId = sessionId, EventTime = at, Channel = origin,
                    TimeZone = zone, Currency = "EUR", ReturningShopper = n > 0,
                });
                var lines = new List<CartLine>();
                var views = 1 + Geometric(random, 0.25);
                for (var v = 0; v < views; v++)
                {
                    at += Gap(random);
                    var sku = Sku(random);
                    Emit(Topics.CartEvents, new ProductViewed { EventId = NextId(), ShopperId = shopperId, SessionId = sessionId, EventTime = at, Channel = origin, Sku = sku, Category = CategoryOf(sku) });
                    if (random.NextDouble() < 0.12)
                    {
                        at += Gap(random);
                        var line = new CartLine { Sku = sku, Name = $"{sku.Split('-')[0]} item", UnitPrice = Price(random), Quantity = 1 + Skewed(random, [0.8, 0.15, 0.05]) };
                        lines.Add(line);
                        Emit(Topics.CartEvents, new CartLineAdded { EventId = NextId(), ShopperId = shopperId, SessionId = sessionId, EventTime = at, Channel = origin, Line = line, Currency = "EUR", Category = CategoryOf(sku) });
                    }
                }
                if (lines.Count > 1 && random.NextDouble() < 0.15)
                {
                    at += Gap(random);
                    var removed = lines[random.Next(lines.Count)];
                    lines.Remove(removed);
                    Emit(Topics.CartEvents, new CartLineRemoved { EventId = NextId(), ShopperId = shopperId, SessionId = sessionId, EventTime = at, Channel = origin, Sku = removed.Sku });
                }

                if (lines.Count > 0)
                {
                    var checkout = random.NextDouble() < 0.55;
                    if (checkout)
                    {
                        at += Gap(random);
                        Emit(Topics.CartEvents, new CheckoutStarted { EventId = NextId(), ShopperId = shopperId, SessionId = sessionId, EventTime = at, Channel = origin });
                        at += Gap(random);
                        Emit(Topics.CartEvents, new CheckoutStepCompleted { EventId = NextId(), ShopperId = shopperId, SessionId = sessionId, EventTime = at, Channel = origin, Step = "shipping" });
                        if (promoRandom.NextDouble() < 0.08)
                        {
                            // Entered at the payment step, before the shopper pays (or fails to).
                            at += TimeSpan.FromSeconds(3 + promoRandom.Next(15));
                            Emit(Topics.CartEvents, new PromoCodeRejected
                            {
                                EventId = $"promo-{settings.Seed}-{s:D6}-{n}", ShopperId = shopperId, SessionId = sessionId, EventTime = at, Channel = origin,
                                Reason = PromoReasons[promoRandom.Next(PromoReasons.Length)],
                            });
                        }
                        var failures = random.NextDouble() < 0.12 ? 1 + random.Next(3) : 0;
                        for (var f = 0; f < failures; f++)
                        {
                            at += TimeSpan.FromSeconds(20 + random.Next(60));
                            Emit(Topics.CartEvents, new PaymentFailed
                            {
                                EventId = NextId(), ShopperId = shopperId, SessionId = sessionId, EventTime = at, Channel = origin,
                                ErrorCode = PaymentErrors[random.Next(PaymentErrors.Length)],
                            });
                        }
                    }
                    var roll = random.NextDouble();
                    var buys = checkout ? roll < 0.55 : roll < 0.08;
                    if (buys)
                    {
                        at += Gap(random);
                        // A few order events reach Kafka late (payment systems batch), inside the allowed lateness.
                        var delay = random.NextDouble() < 0.05 ? TimeSpan.FromSeconds(30 + random.Next(60)) : TimeSpan.Zero;
                        EmitOrder(shopperId, sessionId, origin, at, lines, delay);
                    }
                    else if (random.NextDouble() < 0.1)
                    {
                        at += Gap(random);
                        Emit(Topics.CartEvents, new SessionExited { EventId = NextId(), ShopperId = shopperId, SessionId = sessionId, EventTime = at, Channel = origin });
                    }
                    else if (random.NextDouble() < 0.12)
                    {
                        // Comes back after a reminder and buys the cart (a recovery within the attribution window).
                        var later = at + TimeSpan.FromMinutes(95 + random.Next(120));
                        EmitOrder(shopperId, sessionId, origin, later, lines, TimeSpan.Zero);
                    }
                }

                if (random.NextDouble() < 0.02)
                {
                    var channel = new[] { "email", "push", "sms" }[random.Next(3)];
                    ConsentEvent optOut = random.NextDouble() < 0.5
                        ? new Unsubscribed { EventId = NextId(), ShopperId = shopperId, EventTime = at + TimeSpan.FromMinutes(40), Purpose = "cart_recovery", Channel = channel, Source = "email_link", WordingVersion = "v3" }
                        : new ConsentWithdrawn { EventId = NextId(), ShopperId = shopperId, EventTime = at + TimeSpan.FromMinutes(40), Purpose = "cart_recovery", Channel = channel, Source = "preference_center", WordingVersion = "v3" };
                    Emit(Topics.ConsentEvents, optOut);
                }
                at += TimeSpan.FromMinutes(45 + random.Next(180));
            }

            void EmitOrder(string shopper, string session, string origin, DateTimeOffset when, List<CartLine> cart, TimeSpan delay)
            {
                var orderId = $"ord-{settings.Seed}-{s:D6}-{eventNo}";
                Emit(Topics.OrderEvents, new OrderPlaced
                {
                    EventId = NextId(), ShopperId = shopper, SessionId = session, EventTime = when, Channel = origin, OrderId = orderId,
                    Lines = [.. cart], Total = cart.Sum(l => l.Total), Currency = "EUR",
                }, delay);
                Emit(Topics.OrderEvents, new PaymentAuthorized
                {
                    EventId = NextId(), ShopperId = shopper, SessionId = session, EventTime = when + TimeSpan.FromSeconds(2), Channel = origin,
                    OrderId = orderId, Amount = cart.Sum(l => l.Total),
                }, delay);
            }
        }

        return [.. events.OrderBy(e => e.EmitAt).ThenBy(e => e.Sequence).Select(e => e.Event)];
    }

    private static TimeSpan Gap(Random random) => TimeSpan.FromSeconds(5 + random.Next(85));

    private static int Geometric(Random random, double p)
    {
        var n = 0;
        while (random.NextDouble() > p && n < 40) n++;
        return n;
    }

    private static int Skewed(Random random, double[] weights)
    {
        var roll = random.NextDouble();
        for (var i = 0; i < weights.Length; i++)
        {
            if (roll < weights[i]) return i;
            roll -= weights[i];
        }
        return weights.Length - 1;
    }

    private static string Pick(Random random, (string Value, double Weight)[] options)
    {
        var roll = random.NextDouble();
        foreach (var (value, weight) in options)
        {
            if (roll < weight) return value;
            roll -= weight;
        }
        return options[^1].Value;
    }

    private static string CategoryOf(string sku) => sku[..sku.IndexOf('-')];

    private static string Sku(Random random) => $"{Categories[random.Next(Categories.Length)]}-{random.Next(400):D4}";

    // Skewed prices: many cheap items, a long tail of expensive ones.
    private static decimal Price(Random random) => Math.Round((decimal)(9.99 + Math.Pow(random.NextDouble(), 3) * 490), 2);
}
