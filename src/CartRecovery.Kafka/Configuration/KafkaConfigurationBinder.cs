using System.Collections.Immutable;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using CartRecovery.Kafka.Native;
using Confluent.Kafka;
using Microsoft.Extensions.Configuration;

namespace CartRecovery.Kafka.Configuration;

/// <summary>
/// Binds the configuration section <c>Kafka</c> into <see cref="KafkaClientSettings"/> and checks every value with
/// librdkafka itself, so a bad value stops the process before it consumes anything, with the key and the problem.
/// </summary>
/// <remarks>
/// <para>Keys are either Confluent.Kafka property names (<c>SecurityProtocol</c>, <c>SaslMechanism</c>,
/// <c>SslCaLocation</c>, <c>ClientId</c>, <c>CompressionType</c>; enum values in either spelling, <c>SaslSsl</c> or
/// <c>SASL_SSL</c>) or librdkafka property names (<c>ssl.endpoint.identification.algorithm</c>), so any librdkafka
/// property can be set. A Confluent name that only consumers or only producers have goes to that role.</para>
/// <para>Subsections <c>Kafka:Consumer</c>, <c>Kafka:Producer</c>, <c>Kafka:Admin</c> hold properties for one role.</para>
/// <para>Secrets: <c>&lt;Key&gt;File</c> (e.g. <c>SaslPasswordFile</c>) reads the value from a file, the way a mounted
/// Kubernetes Secret provides it; a secrets directory (one file per key) or an environment variable work too.</para>
/// </remarks>
public static class KafkaConfigurationBinder
{
    public const string SectionName = "Kafka";
    private static readonly string[] RoleSections = ["Consumer", "Producer", "Admin"];
    private const string FileSuffix = "File";

    public static KafkaClientSettings Bind(IConfigurationSection section)
    {
        var common = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var roles = RoleSections.ToDictionary(r => r, _ => new SortedDictionary<string, string>(StringComparer.Ordinal));
        var origin = new Dictionary<(string Role, string Name), string>();
        foreach (var child in section.GetChildren())
        {
            if (RoleSections.Contains(child.Key, StringComparer.OrdinalIgnoreCase) && child.Value is null)
            {
                var role = RoleSections.First(r => r.Equals(child.Key, StringComparison.OrdinalIgnoreCase));
                foreach (var property in child.GetChildren())
                    Add(property, RoleType(role), (_, name, value) => { roles[role][name] = value; origin[(role, name)] = property.Path; });
                continue;
            }
            Add(child, null, (declaring, name, value) =>
            {
                var role = declaring == typeof(ConsumerConfig) ? "Consumer" : declaring == typeof(ProducerConfig) ? "Producer" : null;
                if (role is null) { common[name] = value; origin[("", name)] = child.Path; }
                else { roles[role][name] = value; origin[(role, name)] = child.Path; }
            });
        }

        var settings = new KafkaClientSettings
        {
            Common = common.ToImmutableSortedDictionary(StringComparer.Ordinal),
            Consumer = roles["Consumer"].ToImmutableSortedDictionary(StringComparer.Ordinal),
            Producer = roles["Producer"].ToImmutableSortedDictionary(StringComparer.Ordinal),
            Admin = roles["Admin"].ToImmutableSortedDictionary(StringComparer.Ordinal),
        };
        foreach (var ((role, name), path) in origin)
        {
            if (KafkaClientSettings.PinnedProperties.Contains(name))
                throw new ArgumentException($"{path}: '{name}' is set by the worker (offsets are committed only after outputs and checkpoints are " +
                    "durable; range assignment keeps partition p of every input topic together; idempotent acks=all producers); remove it");
            var value = role switch { "" => settings.Common[name], "Consumer" => settings.Consumer[name], "Producer" => settings.Producer[name], _ => settings.Admin[name] };
            CheckWithLibrdkafka(path, name, value);
            CheckFileExists(path, name, value);
        }
        return settings;
    }

    private static Type RoleType(string role) => role switch
    {
        "Consumer" => typeof(ConsumerConfig),
        "Producer" => typeof(ProducerConfig),
        _ => typeof(AdminClientConfig),
    };

    /// <summary>Turns one configuration key into librdkafka properties (a Confluent name may set one property).</summary>
    private static void Add(IConfigurationSection entry, Type? roleType, Action<Type?, string, string> add)
    {
        if (entry.Value is null)
            throw new ArgumentException($"{entry.Path}: expected a value, found a section (role sections are Kafka:Consumer, Kafka:Producer, Kafka:Admin)");
        var key = entry.Key;
        var value = entry.Value;
        if (key.EndsWith(FileSuffix, StringComparison.Ordinal) && key.Length > FileSuffix.Length && !key.Contains('.') && FindProperty(key, roleType) is null)
        {
            key = key[..^FileSuffix.Length];
            value = ReadSecretFile(entry.Path, value);
        }
        if (key.Contains('.'))
        {
            add(null, key, value);
            return;
        }
        var property = FindProperty(key, roleType)
            ?? throw new ArgumentException($"{entry.Path}: unknown Kafka client setting '{key}' (use a Confluent.Kafka property name such as SecurityProtocol, " +
                "or a librdkafka property name such as security.protocol)");
        var config = (ClientConfig)Activator.CreateInstance(property.ReflectedType!)!;
        property.SetValue(config, Convert(entry.Path, value, property.PropertyType));
        var declaring = property.DeclaringType == typeof(ClientConfig) ? null : property.DeclaringType;
        foreach (var (name, converted) in config)
            add(declaring, name, converted);
    }

    /// <summary>A Confluent.Kafka property of the role's config type, or of any client type for the common section.</summary>
    private static PropertyInfo? FindProperty(string name, Type? roleType)
    {
        foreach (var type in roleType is null ? [typeof(ConsumerConfig), typeof(ProducerConfig), typeof(AdminClientConfig)] : new[] { roleType })
        {
            var property = type.GetProperty(name, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            if (property is { CanWrite: true } && property.GetIndexParameters().Length == 0) return property;
        }
        return null;
    }

    private static object Convert(string path, string value, Type type)
    {
        var target = Nullable.GetUnderlyingType(type) ?? type;
        if (target.IsEnum)
        {
            var wanted = value.Replace("_", "").Replace("-", "").Trim();
            foreach (var name in Enum.GetNames(target))
                if (string.Equals(name, wanted, StringComparison.OrdinalIgnoreCase)) return Enum.Parse(target, name);
            throw new ArgumentException($"{path}: '{value}' is not one of {string.Join(", ", Enum.GetNames(target))}");
        }
        try
        {
            return target == typeof(bool) ? bool.Parse(value) : System.Convert.ChangeType(value, target, CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is FormatException or OverflowException or InvalidCastException)
        {
            throw new ArgumentException($"{path}: '{value}' is not a valid {target.Name.ToLowerInvariant()}");
        }
    }

    /// <summary>Reads a secret mounted as a file (a Kubernetes Secret volume); the trailing newline editors add is dropped.</summary>
    public static string ReadSecretFile(string path, string file)
    {
        if (!File.Exists(file)) throw new ArgumentException($"{path}: file not found: {file}");
        return File.ReadAllText(file).TrimEnd('\r', '\n');
    }

    /// <summary>librdkafka's own check of the name and the value (unknown property, invalid enum or range).</summary>
    private static unsafe void CheckWithLibrdkafka(string path, string name, string value)
    {
        LibrdkafkaLibrary.EnsureLoaded();
        const int size = 512;
        var conf = RdKafkaNative.rd_kafka_conf_new();
        try
        {
            var error = stackalloc byte[size];
            if (RdKafkaNative.rd_kafka_conf_set(conf, name, value, error, size) != RdKafkaNative.RD_KAFKA_CONF_OK)
            {
                var message = (Marshal.PtrToStringUTF8((IntPtr)error) ?? "rejected").Trim();
                // librdkafka repeats the value in its message; a secret must not reach the terminal or a log.
                if (KafkaClientSettings.IsSecret(name)) message = message.Replace(value, "***", StringComparison.Ordinal);
                throw new ArgumentException($"{path}: {message}");
            }
        }
        finally
        {
            RdKafkaNative.rd_kafka_conf_destroy(conf);
        }
    }

    private static void CheckFileExists(string path, string name, string value)
    {
        if (!name.EndsWith(".location", StringComparison.Ordinal) || value.Length == 0) return;
        if (name == "ssl.ca.location" && value == "probe") return;
        if (!File.Exists(value) && !Directory.Exists(value)) throw new ArgumentException($"{path}: file not found: {value}");
    }
}
