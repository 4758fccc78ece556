using CartRecovery.Kafka.Configuration;
using CartRecovery.Streaming.Configuration;

namespace CartRecovery.Host;

/// <summary>
/// The process's operator configuration (<see cref="OperatorSettings"/>): appsettings.json, the secrets directory,
/// CARTRECOVERY_* environment variables and the command line's configuration keys (<c>--Kafka:ClientId=x</c>).
/// Loaded on first use, so a command that needs none (schema, check-policy) is not stopped by it; a bad value stops
/// the command that needs it before it connects to anything.
/// </summary>
public static class HostConfiguration
{
    private static IReadOnlyList<string> _commandLine = [];
    private static OperatorSettings? _current;

    /// <summary>The configuration tokens of the command line (what the command's own options did not match).</summary>
    public static void UseCommandLine(IReadOnlyList<string> tokens)
    {
        _commandLine = tokens;
        _current = null;
    }

    /// <summary>The configuration tokens of the command line, for a child process of this CLI to run under the same configuration.</summary>
    public static IReadOnlyList<string> CommandLine => _commandLine;

    public static OperatorSettings Current => _current ??= OperatorSettings.Load(ConfigurationSources.ForProcess(_commandLine));

    /// <summary>The configured cluster settings (security, client id, ...) at these bootstrap servers, or at the configured ones.</summary>
    public static KafkaClientSettings KafkaAt(string? bootstrapServers) => Current.Kafka.WithBootstrapServers(Current.BootstrapServers(bootstrapServers));
}
