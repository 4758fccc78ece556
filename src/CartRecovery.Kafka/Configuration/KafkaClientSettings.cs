using System.Collections.Immutable;
using System.Reflection;
using System.Text.RegularExpressions;
using CartRecovery.Kafka.Native;
using Confluent.Kafka;

namespace CartRecovery.Kafka.Configuration;

/// <summary>
/// The one Kafka client configuration of the process, as librdkafka properties: bootstrap servers, security protocol,
/// SASL, TLS, client id, compression, anything librdkafka accepts. Bound from the configuration section
/// <c>Kafka</c> (<see cref="KafkaConfigurationBinder"/>); every consumer, producer and admin client of the worker,
/// the replay and the publishers is built from it, so pointing the worker at a secured cluster is configuration only.
/// </summary>
/// <remarks>
/// A client's properties are layered: the call site's defaults (tuning such as <c>linger.ms</c>, <c>fetch.wait.max.ms</c>,
/// <c>compression.type</c>), then the operator's <see cref="Common"/> properties, then the operator's properties for
/// that role (<see cref="Consumer"/>, <see cref="Producer"/>, <see cref="Admin"/>), then the call site's
/// <see cref="PinnedProperties"/>: the ones correctness rests on (manual commits, read_committed, range assignment,
/// idempotence, acks=all). The binder refuses an operator value for a pinned property, so none is ever silently
/// overridden.
/// </remarks>
public sealed partial record KafkaClientSettings
{
    public const string BootstrapServersProperty = "bootstrap.servers";

    /// <summary>Properties whose values the code fixes: exactly-once effects and the per-shopper merge depend on them.</summary>
    public static readonly ImmutableHashSet<string> PinnedProperties = ImmutableHashSet.Create(StringComparer.Ordinal,
        "enable.auto.commit", "enable.auto.offset.store", "isolation.level", "partition.assignment.strategy", "group.id",
        "group.instance.id", "enable.partition.eof", "enable.idempotence", "acks", "transactional.id");

    /// <summary>Properties for every client (librdkafka names), including <c>bootstrap.servers</c>.</summary>
    public ImmutableSortedDictionary<string, string> Common { get; init; } = ImmutableSortedDictionary<string, string>.Empty;

    public ImmutableSortedDictionary<string, string> Consumer { get; init; } = ImmutableSortedDictionary<string, string>.Empty;

    public ImmutableSortedDictionary<string, string> Producer { get; init; } = ImmutableSortedDictionary<string, string>.Empty;

    public ImmutableSortedDictionary<string, string> Admin { get; init; } = ImmutableSortedDictionary<string, string>.Empty;

    public string BootstrapServers => Common.GetValueOrDefault(BootstrapServersProperty, "");

    /// <summary>A plaintext cluster with nothing but its address: the embedded broker, a test broker.</summary>
    public static KafkaClientSettings Plaintext(string bootstrapServers) =>
        new() { Common = ImmutableSortedDictionary<string, string>.Empty.Add(BootstrapServersProperty, bootstrapServers) };

    /// <summary>The same cluster settings (security, client id, ...) at another address.</summary>
    public KafkaClientSettings WithBootstrapServers(string bootstrapServers) => this with { Common = Common.SetItem(BootstrapServersProperty, bootstrapServers) };

    /// <summary>A consumer's configuration: <paramref name="site"/> holds the call site's defaults and pinned properties.</summary>
    public ConsumerConfig ConsumerConfig(ConsumerConfig site) => new(Layer(site, Consumer));

    /// <summary>A producer's configuration: <paramref name="site"/> holds the call site's defaults and pinned properties.</summary>
    public ProducerConfig ProducerConfig(ProducerConfig site) => new(Layer(site, Producer));

    public AdminClientConfig AdminConfig() => new(Layer(new AdminClientConfig(), Admin));

    /// <summary>The properties of one role, ready for librdkafka (what <see cref="ConsumerConfig"/> etc. build).</summary>
    public IReadOnlyDictionary<string, string> Effective(KafkaClientRole role) => role switch
    {
        KafkaClientRole.Consumer => Layer(new ConsumerConfig(), Consumer),
        KafkaClientRole.Producer => Layer(new ProducerConfig(), Producer),
        _ => Layer(new AdminClientConfig(), Admin),
    };

    private Dictionary<string, string> Layer(IEnumerable<KeyValuePair<string, string>> site, IReadOnlyDictionary<string, string> role)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var pinned = new List<KeyValuePair<string, string>>();
        foreach (var (name, value) in site)
        {
            if (value is null) continue;
            if (PinnedProperties.Contains(name)) pinned.Add(new(name, value));
            else result[name] = value;
        }
        foreach (var (name, value) in Common) result[name] = value;
        foreach (var (name, value) in role) result[name] = value;
        foreach (var (name, value) in pinned) result[name] = value;
        return result;
    }

    /// <summary>Names of librdkafka properties that hold secrets: shown as *** and refused on the command line.</summary>
    public static bool IsSecret(string librdkafkaName) => SecretProperty().IsMatch(librdkafkaName);

    /// <summary>The properties with secrets replaced by ***: what may be printed or logged.</summary>
    public static IEnumerable<KeyValuePair<string, string>> Redacted(IEnumerable<KeyValuePair<string, string>> properties) =>
        properties.Select(p => new KeyValuePair<string, string>(p.Key, IsSecret(p.Key) ? "***" : p.Value));

    [GeneratedRegex(@"password|secret|^ssl\.key\.pem$|^sasl\.oauthbearer\.config$|^ssl_key$", RegexOptions.IgnoreCase)]
    private static partial Regex SecretProperty();

    /// <summary>Never prints the properties: they may hold passwords.</summary>
    public override string ToString() => $"KafkaClientSettings {{ BootstrapServers = {BootstrapServers}, Properties = {Common.Count + Consumer.Count + Producer.Count + Admin.Count} }}";
}

public enum KafkaClientRole { Consumer, Producer, Admin }
