using System.CommandLine;
using System.Globalization;
using CartRecovery.Host.Commands;
using Confluent.Kafka;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CartRecovery.Host.Links;

/// <summary>The <c>links</c> command: runs <see cref="LinksService"/> until SIGTERM/SIGINT; first line <c>links=http://HOST:PORT</c>.</summary>
public static class LinksCommand
{
    public static Command Create(Option<string?> bootstrap, Option<string?> policy)
    {
        var port = new Option<int>("--port") { Description = "HTTP port (0: any free port, printed on the first line)", DefaultValueFactory = _ => 8080 };
        var command = new Command("links", "Serve the links of messages: one-click unsubscribe (RFC 8058) and resume-checkout redirects; " +
            "publishes unsubscribes to consent-events")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        command.Options.Add(bootstrap);
        command.Options.Add(policy);
        command.Options.Add(port);
        command.SetAction(async (parse, ct) =>
        {
            var recoveryPolicy = WorkerRunner.LoadPolicy(parse.GetValue(policy));
            var rateLimit = RateLimit(HostConfiguration.Current.Configuration);
            var trustForwardedFor = HostConfiguration.Current.Configuration["Links:ForwardedHeaders"] is { } forwarded
                && (bool.TryParse(forwarded, out var trust) ? trust : throw new ArgumentException($"Links:ForwardedHeaders: '{forwarded}' is not true or false"));
            CartRecovery.Kafka.Native.LibrdkafkaLibrary.EnsureLoaded();
            using var producer = new ProducerBuilder<string, byte[]>(HostConfiguration.KafkaAt(parse.GetValue(bootstrap)).ProducerConfig(new ProducerConfig
            {
                // One unsubscribe, one record, written to every in-sync replica before the page says it is done.
                EnableIdempotence = true,
                Acks = Acks.All,
                MessageTimeoutMs = 30_000,
            })).Build();

            var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [$"--urls=http://0.0.0.0:{parse.GetValue(port)}"] });
            builder.Logging.ClearProviders();
            if (HostConfiguration.Current.JsonLogs)
                builder.Logging.AddJsonConsole(o => { o.UseUtcTimestamp = true; o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ"; });
            else
                builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
            builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
            // Logs on stderr: stdout is the address line a script or test reads.
            builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
            await using var app = LinksService.Build(builder, recoveryPolicy, producer, TimeProvider.System, rateLimit, trustForwardedFor);
            if (recoveryPolicy.Keys.IsDevelopment)
                app.Logger.LogWarning("{TokenKey} is not set: links are checked with the public development key (never in production)",
                    Domain.Compliance.ComplianceKeys.TokenKeySetting);
            using var stop = new GracefulStop(ct);
            await app.StartAsync(stop.Token);
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            Console.WriteLine($"links={address.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal)}");
            Console.Out.Flush();
            try { await Task.Delay(Timeout.Infinite, stop.Token); }
            catch (OperationCanceledException) { }
            await app.StopAsync(CancellationToken.None);
            producer.Flush(TimeSpan.FromSeconds(10));
            return 0;
        });
        return command;
    }

    /// <summary><c>Links:RateLimit:PermitLimit</c> (requests per window per client address, default 30) and
    /// <c>Links:RateLimit:Window</c> (a TimeSpan, default 00:01:00).</summary>
    public static LinkRateLimit RateLimit(Microsoft.Extensions.Configuration.IConfiguration configuration)
    {
        var limit = LinkRateLimit.Default;
        if (configuration["Links:RateLimit:PermitLimit"] is { } permits)
            limit = limit with
            {
                PermitLimit = int.TryParse(permits, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n
                    : throw new ArgumentException($"Links:RateLimit:PermitLimit: '{permits}' is not a positive whole number"),
            };
        if (configuration["Links:RateLimit:Window"] is { } window)
            limit = limit with
            {
                Window = TimeSpan.TryParse(window, CultureInfo.InvariantCulture, out var w) && w > TimeSpan.Zero ? w
                    : throw new ArgumentException($"Links:RateLimit:Window: '{window}' is not a positive duration (00:01:00)"),
            };
        return limit;
    }
}
