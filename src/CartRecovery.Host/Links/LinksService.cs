using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;
using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Compliance;
using CartRecovery.Domain.Policy;
using Confluent.Kafka;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CartRecovery.Host.Links;

/// <summary>How many link requests one client address may make per window (<c>Links:RateLimit:PermitLimit</c>,
/// <c>Links:RateLimit:Window</c>); beyond it 429 until the window turns.</summary>
public sealed record LinkRateLimit(int PermitLimit, TimeSpan Window)
{
    public static LinkRateLimit Default { get; } = new(30, TimeSpan.FromMinutes(1));
}

/// <summary>
/// The links a message carries, served to the shopper (docs/compliance.md, "Links"): one-click unsubscribe per RFC 8058
/// (GET shows a confirmation page, POST with <c>List-Unsubscribe=One-Click</c> publishes <c>unsubscribed</c> for the
/// token's shopper, purpose and channel on consent-events, where the worker applies and audits it like any consent
/// change) and resume (redirects to the policy's checkout URL with the cart the token carries). Tokens are checked with
/// the token key at the clock's instant: altered or foreign tokens get 400, expired ones 410, each with a page saying so.
/// Every link request is rate limited per client address. Pages and logs never show the shopper id.
/// </summary>
public static class LinksService
{
    public const string RateLimitPolicy = "links";
    /// <summary>Where a one-click unsubscribe came from, as the consent event's <c>source</c>.</summary>
    public const string UnsubscribeSource = "one_click_unsubscribe";

    public static WebApplication Build(WebApplicationBuilder builder, RecoveryPolicy policy, IProducer<string, byte[]> producer, TimeProvider clock,
        LinkRateLimit rateLimit, bool trustForwardedFor = false)
    {
        builder.Services.AddSingleton(clock);
        builder.Services.AddRateLimiter(options =>
        {
            options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            options.AddPolicy(RateLimitPolicy, context => RateLimitPartition.GetFixedWindowLimiter(
                context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                _ => new FixedWindowRateLimiterOptions { PermitLimit = rateLimit.PermitLimit, Window = rateLimit.Window, QueueLimit = 0 }));
            options.OnRejected = async (rejected, ct) =>
            {
                if (rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retry))
                    rejected.HttpContext.Response.Headers.RetryAfter = ((int)Math.Ceiling(retry.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                await Page("Too many requests", "<p>Too many requests from your address. Please try again in a minute.</p>", StatusCodes.Status429TooManyRequests)
                    .ExecuteAsync(rejected.HttpContext);
            };
        });
        var app = builder.Build();
        // Behind an ingress every request comes from the ingress controller; the client is in X-Forwarded-For. Trusted
        // only when configured (Links:ForwardedHeaders): directly exposed, a client could name any address it likes.
        if (trustForwardedFor)
        {
            var forwarded = new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto };
            forwarded.KnownIPNetworks.Clear();
            forwarded.KnownProxies.Clear();
            app.UseForwardedHeaders(forwarded);
        }
        app.UseRateLimiter();
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("CartRecovery.Links");

        app.MapGet("/healthz", () => Results.Text("live\n"));
        app.MapGet("/unsubscribe", (string? token) =>
        {
            var (claims, refusal) = Open(policy, clock, token, TokenClaims.Unsubscribe);
            if (claims is null) return refusal!;
            // The page posts the same body a mailbox provider posts (RFC 8058, section 3.1): one path for both.
            return Page("Unsubscribe",
                $"<p>Stop {Describe(claims)}?</p>" +
                "<form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">" +
                "<button type=\"submit\" id=\"unsubscribe\">Unsubscribe</button></form>");
        }).RequireRateLimiting(RateLimitPolicy);
        app.MapPost("/unsubscribe", async (HttpRequest request, string? token, CancellationToken ct) =>
        {
            var (claims, refusal) = Open(policy, clock, token, TokenClaims.Unsubscribe);
            if (claims is null) return refusal!;
            if (!request.HasFormContentType || (await request.ReadFormAsync(ct))["List-Unsubscribe"] != "One-Click")
                return Page("Not unsubscribed", "<p>This request did not ask to unsubscribe (the body must be List-Unsubscribe=One-Click).</p>",
                    StatusCodes.Status400BadRequest);
            var unsubscribed = Unsubscription(claims, token!, clock.GetUtcNow());
            try
            {
                await producer.ProduceAsync(Topics.ConsentEvents, new Message<string, byte[]>
                {
                    Key = unsubscribed.ShopperId,
                    Value = ContractJson.SerializeEvent(unsubscribed),
                    Timestamp = new Timestamp(unsubscribed.EventTime),
                }, ct);
            }
            catch (ProduceException<string, byte[]> e)
            {
                log.LogError("unsubscribe {EventId} not published: {Error}", unsubscribed.EventId, e.Error.Reason);
                return Page("Please try again", "<p>We could not record your request just now. Please try again in a few minutes.</p>",
                    StatusCodes.Status503ServiceUnavailable);
            }
            log.LogInformation("unsubscribe {EventId} published ({Purpose}, {Channel})", unsubscribed.EventId, unsubscribed.Purpose, unsubscribed.Channel);
            return Page("Unsubscribed", $"<p id=\"done\">You are unsubscribed: no more {Describe(claims)}.</p>");
        }).RequireRateLimiting(RateLimitPolicy).DisableAntiforgery();
        app.MapGet("/resume", (string? token) =>
        {
            var (claims, refusal) = Open(policy, clock, token, TokenClaims.Resume);
            if (claims is null) return refusal!;
            return MessageObligations.CheckoutUrl(policy.Messages, claims) is { } checkout
                ? Results.Redirect(checkout)
                : Page("Not available", "<p>This shop has no checkout address configured for links.</p>", StatusCodes.Status503ServiceUnavailable);
        }).RequireRateLimiting(RateLimitPolicy);
        return app;
    }

    /// <summary>
    /// The consent event one unsubscribe token publishes. Its id is a digest of the token, so every POST of one link (a
    /// mailbox provider retrying, the shopper clicking twice) is the same event and the worker applies it once within its
    /// dedup horizon; after that, applying it again changes nothing (an opt-out of an opt-out).
    /// </summary>
    public static Unsubscribed Unsubscription(TokenClaims claims, string token, DateTimeOffset now) => new()
    {
        EventId = "unsub-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token.Trim())))[..32],
        ShopperId = claims.ShopperId,
        EventTime = now,
        Purpose = claims.Purpose,
        Channel = claims.Channel,
        Source = UnsubscribeSource,
    };

    private static (TokenClaims? Claims, IResult? Refusal) Open(RecoveryPolicy policy, TimeProvider clock, string? token, string kind)
    {
        var check = MessageTokens.Check(policy.Keys, token ?? "", clock.GetUtcNow());
        if (check.Status == TokenStatus.Invalid || check.Claims!.Kind != kind)
            return (null, Page("Link not valid", "<p>This link is not valid. Please use the link from your message as it was sent.</p>", StatusCodes.Status400BadRequest));
        if (check.Status == TokenStatus.Expired)
            return (null, Page("Link expired", kind == TokenClaims.Unsubscribe
                ? "<p>This unsubscribe link has expired. Use the link in a newer message, or change your preferences in your account.</p>"
                : "<p>This link has expired. Your cart may still be waiting in the shop.</p>", StatusCodes.Status410Gone));
        return (check.Claims, null);
    }

    private static string Describe(TokenClaims claims) =>
        $"{WebUtility.HtmlEncode(claims.Purpose.Replace('_', ' '))} messages by {WebUtility.HtmlEncode(claims.Channel)}";

    private static IResult Page(string title, string body, int status = StatusCodes.Status200OK) => Results.Content(
        $"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">" +
        $"<meta name=\"robots\" content=\"noindex\"><title>{WebUtility.HtmlEncode(title)}</title></head>" +
        $"<body><h1>{WebUtility.HtmlEncode(title)}</h1>{body}</body></html>\n", "text/html; charset=utf-8", Encoding.UTF8, status);
}
