using System.Collections;
using System.Reflection;
using System.Text.RegularExpressions;
using CartRecovery.Kafka.Configuration;
using CartRecovery.Storage.Server;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.CommandLine;
using Npgsql;

namespace CartRecovery.Streaming.Configuration;

/// <summary>Where the operator's configuration comes from, lowest precedence first: <see cref="SettingsFiles"/>
/// (appsettings.json), the <see cref="SecretsDirectory"/> (one file per key, a mounted Kubernetes Secret), environment
/// variables with the prefix <c>CARTRECOVERY_</c> (<c>CARTRECOVERY_Kafka__SecurityProtocol</c>), the command line
/// (<c>--Kafka:ClientId=worker-1</c>; secrets refused there).</summary>
public sealed record ConfigurationSources
{
    public const string EnvironmentPrefix = "CARTRECOVERY_";
    public const string SettingsFileVariable = "CARTRECOVERY_SETTINGS_FILE";
    public const string SecretsDirectoryVariable = "CARTRECOVERY_SECRETS_DIR";

    public IReadOnlyList<string> SettingsFiles { get; init; } = [];
    public string? SecretsDirectory { get; init; }
    /// <summary>Environment variables (name → value); the process's own in production.</summary>
    public IDictionary? Environment { get; init; }
    public IReadOnlyList<string> CommandLine { get; init; } = [];

    /// <summary>The process's sources: ./appsettings.json, the file named by CARTRECOVERY_SETTINGS_FILE, the directory
    /// named by CARTRECOVERY_SECRETS_DIR, the environment and the given command-line tokens.</summary>
    public static ConfigurationSources ForProcess(IReadOnlyList<string> commandLine)
    {
        var files = new List<string> { Path.Combine(Directory.GetCurrentDirectory(), "appsettings.json") };
        if (System.Environment.GetEnvironmentVariable(SettingsFileVariable) is { Length: > 0 } file)
        {
            if (!File.Exists(file)) throw new ArgumentException($"{SettingsFileVariable}: file not found: {file}");
            files.Add(Path.GetFullPath(file));
        }
        var secrets = System.Environment.GetEnvironmentVariable(SecretsDirectoryVariable);
        if (secrets is { Length: > 0 } && !Directory.Exists(secrets)) throw new ArgumentException($"{SecretsDirectoryVariable}: directory not found: {secrets}");
        return new ConfigurationSources
        {
            SettingsFiles = files, SecretsDirectory = secrets is { Length: > 0 } ? Path.GetFullPath(secrets) : null,
            Environment = System.Environment.GetEnvironmentVariables(), CommandLine = commandLine,
        };
    }
}

/// <summary>
/// The operator's configuration, bound and checked: the Kafka clients (section <c>Kafka</c>), the ClickHouse server
/// (<c>ClickHouse</c>), the PostgreSQL checkpoint store (<c>Postgres</c>) and the worker's tuning (<c>Worker</c>, onto
/// <see cref="WorkerSettings"/>). Every problem names its key; secrets never come from the command line and are never
/// printed (<see cref="Describe"/> shows them as ***).
/// </summary>
public sealed partial record OperatorSettings(IConfigurationRoot Configuration, KafkaClientSettings Kafka, ClickHouseServerSettings? ClickHouse, string? Postgres)
{
    private static readonly string[] Sections = ["Kafka", "ClickHouse", "Postgres", "Worker", "Logging", "Compliance", "Retention", "Query"];

    // Worker settings that come from elsewhere: the Kafka section, --drain, the checkpoint store options.
    private static readonly HashSet<string> NotBoundWorkerProperties = [nameof(WorkerSettings.BootstrapServers), nameof(WorkerSettings.Kafka),
        nameof(WorkerSettings.KafkaClients), nameof(WorkerSettings.Drain), nameof(WorkerSettings.Checkpoints), nameof(WorkerSettings.StartOver)];

    public static IConfigurationRoot Build(ConfigurationSources sources)
    {
        var builder = new ConfigurationBuilder();
        foreach (var file in sources.SettingsFiles)
            builder.AddJsonFile(file, optional: true, reloadOnChange: false);
        if (sources.SecretsDirectory is { } secrets)
            builder.AddKeyPerFile(secrets, optional: false);
        if (sources.Environment is { } environment)
        {
            var prefixed = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
            foreach (DictionaryEntry variable in environment)
                if (variable.Key is string name && name.StartsWith(ConfigurationSources.EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
                    prefixed[name[ConfigurationSources.EnvironmentPrefix.Length..].Replace("__", ConfigurationPath.KeyDelimiter)] = variable.Value as string;
            builder.AddInMemoryCollection(prefixed);
        }
        builder.AddCommandLine([.. sources.CommandLine]);
        return builder.Build();
    }

    /// <summary>Builds and binds; throws <see cref="ArgumentException"/> naming the key and the problem.</summary>
    public static OperatorSettings Load(ConfigurationSources sources)
    {
        CheckCommandLineTokens(sources.CommandLine);
        IConfigurationRoot root;
        try
        {
            root = Build(sources);
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or IOException)
        {
            throw new ArgumentException($"configuration: {e.Message}");
        }
        CheckCommandLine(root);
        var kafka = KafkaConfigurationBinder.Bind(root.GetSection(KafkaConfigurationBinder.SectionName));
        var settings = new OperatorSettings(root, kafka, BindClickHouse(root), BindPostgres(root)) { JsonLogs = BindLogFormat(root) };
        settings.Worker(new WorkerSettings { BootstrapServers = "check", Checkpoints = Checkpointing.CheckpointStoreSettings.PostgreSql("check") });
        return settings;
    }

    /// <summary>Every command-line token the command's options did not take must be a configuration key of a known section
    /// (<c>--Kafka:ClientId=x</c>, <c>--Kafka:ClientId x</c>, <c>Kafka:ClientId=x</c>): anything else is a mistyped option.</summary>
    private static void CheckCommandLineTokens(IReadOnlyList<string> tokens)
    {
        for (var i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            var prefixed = token.StartsWith("--", StringComparison.Ordinal) ? 2 : token.StartsWith('/') || token.StartsWith('-') ? 1 : 0;
            var body = token[prefixed..];
            var equals = body.IndexOf('=');
            var key = equals >= 0 ? body[..equals] : body;
            var section = key.Split(':')[0];
            if ((prefixed == 0 && equals < 0) || !key.Contains(':') || !Sections.Contains(section, StringComparer.OrdinalIgnoreCase))
                throw new ArgumentException($"unknown option or argument '{token}' (configuration keys on the command line look like --Kafka:ClientId=worker-1; " +
                    $"sections: {string.Join(", ", Sections)}; see --help)");
            if (equals < 0)
            {
                if (i + 1 >= tokens.Count) throw new ArgumentException($"{key}: a value is missing after {token}");
                i++;
            }
        }
    }

    /// <summary>Secrets on the command line show in the process list and shell history; unknown sections are typos.</summary>
    private static void CheckCommandLine(IConfigurationRoot root)
    {
        var commandLine = root.Providers.OfType<CommandLineConfigurationProvider>().Single();
        foreach (var (key, _) in root.AsEnumerable())
        {
            if (!commandLine.TryGet(key, out var value) || value is null) continue;
            var section = key.Split(':')[0];
            if (!Sections.Contains(section, StringComparer.OrdinalIgnoreCase))
                throw new ArgumentException($"unknown option --{key} (configuration sections: {string.Join(", ", Sections)}; see --help)");
            // A URL with a password in it (--ClickHouse:Url=https://user:password@host) is a secret like any other.
            if (UrlWithPassword(value))
                throw new ArgumentException($"{key}: secrets are not accepted on the command line (they show in the process list): the URL carries a password; " +
                    $"give the URL with it as the environment variable {ConfigurationSources.EnvironmentPrefix}{key.Replace(":", "__")} or a file in {ConfigurationSources.SecretsDirectoryVariable}");
            if (IsSecretKey(key) || (key.EndsWith("ConnectionString", StringComparison.OrdinalIgnoreCase) && HasPassword(value)))
                throw new ArgumentException($"{key}: secrets are not accepted on the command line (they show in the process list); use the environment " +
                    $"variable {ConfigurationSources.EnvironmentPrefix}{key.Replace(":", "__")}, a '{LastSegment(key)}File' key or a file in {ConfigurationSources.SecretsDirectoryVariable}");
        }
    }

    private static string LastSegment(string key) => key[(key.LastIndexOf(':') + 1)..];

    public static bool IsSecretKey(string key)
    {
        var name = LastSegment(key);
        return !name.EndsWith("File", StringComparison.Ordinal) && (SecretName().IsMatch(name) || KafkaClientSettings.IsSecret(name));
    }

    [GeneratedRegex("password|secret|tokenkey|pseudonymkey|recordkey", RegexOptions.IgnoreCase)]
    private static partial Regex SecretName();

    private static bool UrlWithPassword(string value) =>
        Uri.TryCreate(value.Trim(), UriKind.Absolute, out var uri) && uri.UserInfo.Contains(':');

    private static bool HasPassword(string connectionString)
    {
        if (Uri.TryCreate(connectionString, UriKind.Absolute, out var uri) && uri.UserInfo.Contains(':')) return true;
        try { return new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString }.ContainsKey("password"); }
        catch (ArgumentException) { return false; }
    }

    /// <summary>A value or the content of the file named by <c>&lt;key&gt;File</c> (a mounted Secret).</summary>
    private static string? ValueOrFile(IConfigurationSection section, string key)
    {
        var file = section[key + "File"];
        if (file is { Length: > 0 }) return KafkaConfigurationBinder.ReadSecretFile($"{section.Path}:{key}File", file);
        return section[key] is { Length: > 0 } value ? value : null;
    }

    private static readonly string[] ClickHouseKeys = ["Url", "ConnectionString", "Username", "Password", "PasswordFile", "Database", "CaCertificateFile",
        "ClientCertificateFile", "ClientKeyFile", "RowsPerInsert", "MaxAttempts"];

    /// <summary>Section ClickHouse; the legacy variable CARTRECOVERY_CLICKHOUSE_URL still works as ClickHouse:Url.</summary>
    private static ClickHouseServerSettings? BindClickHouse(IConfigurationRoot root)
    {
        var section = root.GetSection("ClickHouse");
        CheckKnownKeys(section, ClickHouseKeys);
        var url = ValueOrFile(section, "Url") ?? ValueOrFile(section, "ConnectionString") ?? (root["CLICKHOUSE_URL"] is { Length: > 0 } legacy ? legacy : null);
        if (url is null)
        {
            if (section.GetChildren().Any()) throw new ArgumentException("ClickHouse:Url is required when other ClickHouse settings are given (e.g. https://clickhouse.internal:8443)");
            return null;
        }
        ClickHouseServerSettings settings;
        try
        {
            settings = new ClickHouseServerSettings(url)
            {
                Username = section["Username"], Password = ValueOrFile(section, "Password"),
                CaCertificateFile = ExistingFile(section, "CaCertificateFile"), ClientCertificateFile = ExistingFile(section, "ClientCertificateFile"),
                ClientKeyFile = ExistingFile(section, "ClientKeyFile"), Database = section["Database"],
                RowsPerInsert = PositiveInt(section, "RowsPerInsert") ?? 50_000, MaxAttempts = PositiveInt(section, "MaxAttempts") ?? 5,
            };
            settings.ToClientSettings().HttpClient?.Dispose(); // parses the URL, reads the certificates
        }
        catch (Exception e) when (e is FormatException or ArgumentException or UriFormatException or System.Security.Cryptography.CryptographicException)
        {
            throw new ArgumentException($"ClickHouse: {e.Message.Replace(url, "***", StringComparison.Ordinal)}");
        }
        if (settings.Database is { } database && !new Storage.AnalyticsStoreOptions { Database = database }.IsValidDatabase())
            throw new ArgumentException($"ClickHouse:Database: '{database}' is not a plain identifier (letters, digits, '_')");
        if (settings.ClientKeyFile is not null && settings.ClientCertificateFile is null)
            throw new ArgumentException("ClickHouse:ClientKeyFile needs ClickHouse:ClientCertificateFile");
        return settings;
    }

    private static readonly string[] PostgresKeys = ["ConnectionString", "ConnectionStringFile", "Host", "Port", "Database", "Username", "Password", "PasswordFile",
        "SslMode", "RootCertificate", "SslCertificate", "SslKey"];

    /// <summary>Section Postgres (the checkpoint store shared by pods); the legacy CARTRECOVERY_CHECKPOINT_POSTGRES still
    /// works as Postgres:ConnectionString. Null: no PostgreSQL configured.</summary>
    private static string? BindPostgres(IConfigurationRoot root)
    {
        var section = root.GetSection("Postgres");
        CheckKnownKeys(section, PostgresKeys);
        var connection = ValueOrFile(section, "ConnectionString") ?? (root["CHECKPOINT_POSTGRES"] is { Length: > 0 } legacy ? legacy : null);
        if (connection is null && !section.GetChildren().Any()) return null;
        var builder = new NpgsqlConnectionStringBuilder();
        try
        {
            builder.ConnectionString = connection ?? "";
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"Postgres:ConnectionString: {e.Message}");
        }
        Set(section, "Host", v => builder.Host = v);
        Set(section, "Port", v => builder.Port = int.TryParse(v, out var port) && port is > 0 and < 65536 ? port : throw new ArgumentException($"Postgres:Port: '{v}' is not a port number"));
        Set(section, "Database", v => builder.Database = v);
        Set(section, "Username", v => builder.Username = v);
        if (ValueOrFile(section, "Password") is { } password) builder.Password = password;
        Set(section, "SslMode", v => builder.SslMode = Enum.TryParse<SslMode>(v.Replace("-", ""), ignoreCase: true, out var mode) ? mode
            : throw new ArgumentException($"Postgres:SslMode: '{v}' is not one of {string.Join(", ", Enum.GetNames<SslMode>())}"));
        if (ExistingFile(section, "RootCertificate") is { } root1) builder.RootCertificate = root1;
        if (ExistingFile(section, "SslCertificate") is { } certificate) builder.SslCertificate = certificate;
        if (ExistingFile(section, "SslKey") is { } key) builder.SslKey = key;
        if (string.IsNullOrWhiteSpace(builder.Host)) throw new ArgumentException("Postgres:Host is required (or Postgres:ConnectionString with Host=...)");
        return builder.ConnectionString;
    }

    private static readonly string[] ComplianceSettings = ["TokenKey", "TokenKeyFile", "PseudonymKey", "PseudonymKeyFile", "RecordKey", "RecordKeyFile",
        "AllowDevelopmentKeys"];

    /// <summary>Section Compliance: the keys that sign message tokens, key shopper pseudonyms and authenticate the worker's
    /// own records (secrets: the secrets directory, a *File key or the environment). The older variables
    /// CARTRECOVERY_TOKEN_KEY and CARTRECOVERY_PSEUDONYM_KEY still work. None set: an error naming the key, unless
    /// <c>Compliance:AllowDevelopmentKeys=true</c> allows the public development keys (local runs and tests).</summary>
    public Domain.Compliance.ComplianceKeys ComplianceKeys()
    {
        var section = Configuration.GetSection("Compliance");
        CheckKnownKeys(section, ComplianceSettings);
        var allow = section["AllowDevelopmentKeys"] switch
        {
            null or "" or "false" or "False" => false,
            "true" or "True" => true,
            var other => throw new ArgumentException($"{Domain.Compliance.ComplianceKeys.AllowDevelopmentSetting}: '{other}' is not true or false"),
        };
        return Domain.Compliance.ComplianceKeys.From(
            ValueOrFile(section, "TokenKey") ?? Configuration["TOKEN_KEY"],
            ValueOrFile(section, "PseudonymKey") ?? Configuration["PSEUDONYM_KEY"],
            ValueOrFile(section, "RecordKey"),
            allow);
    }

    /// <summary>Retention:Tables (<c>audit_log=2555,dead_letters=forever</c>); the older CARTRECOVERY_RETENTION still works.</summary>
    public string? Retention
    {
        get
        {
            CheckKnownKeys(Configuration.GetSection("Retention"), ["Tables"]);
            return Configuration["Retention:Tables"] ?? Configuration["RETENTION"];
        }
    }

    /// <summary>Section Query: the limits of every analyst query (<c>MaxExecutionSeconds</c>, default 60; <c>MaxMemoryBytes</c>,
    /// default 2 GiB; <c>MaxResultBytes</c>, default 256 MiB).</summary>
    public Storage.AnalystLimits QueryLimits
    {
        get
        {
            var section = Configuration.GetSection("Query");
            CheckKnownKeys(section, ["MaxExecutionSeconds", "MaxMemoryBytes", "MaxResultBytes"]);
            var limits = Storage.AnalystLimits.Default;
            if (PositiveLong(section, "MaxExecutionSeconds") is { } seconds) limits = limits with { MaxExecutionTime = TimeSpan.FromSeconds(seconds) };
            if (PositiveLong(section, "MaxMemoryBytes") is { } memory) limits = limits with { MaxMemoryBytes = memory };
            if (PositiveLong(section, "MaxResultBytes") is { } result) limits = limits with { MaxResultBytes = result };
            return limits;
        }
    }

    private static long? PositiveLong(IConfigurationSection section, string key)
    {
        if (section[key] is not { Length: > 0 } text) return null;
        return long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : throw new ArgumentException($"{section.Path}:{key}: '{text}' is not a positive integer");
    }

    /// <summary>Logging:Console:FormatterName: json (one JSON object per line, for log shippers) or simple (the default).</summary>
    public bool JsonLogs { get; init; }

    private static bool BindLogFormat(IConfigurationRoot root) => root["Logging:Console:FormatterName"] switch
    {
        null or "" or "simple" => false,
        "json" => true,
        var other => throw new ArgumentException($"Logging:Console:FormatterName: '{other}' is not json or simple"),
    };

    private static void Set(IConfigurationSection section, string key, Action<string> apply)
    {
        if (section[key] is { Length: > 0 } value) apply(value);
    }

    private static string? ExistingFile(IConfigurationSection section, string key)
    {
        if (section[key] is not { Length: > 0 } file) return null;
        return File.Exists(file) ? file : throw new ArgumentException($"{section.Path}:{key}: file not found: {file}");
    }

    private static int? PositiveInt(IConfigurationSection section, string key)
    {
        if (section[key] is not { Length: > 0 } text) return null;
        return int.TryParse(text, out var value) && value > 0 ? value : throw new ArgumentException($"{section.Path}:{key}: '{text}' is not a positive integer");
    }

    private static void CheckKnownKeys(IConfigurationSection section, IReadOnlyCollection<string> known)
    {
        foreach (var child in section.GetChildren())
            if (!known.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
                throw new ArgumentException($"{child.Path}: unknown setting (known: {string.Join(", ", known)})");
    }

    /// <summary>The worker's settings: <paramref name="defaults"/> (from the command line's options) with section
    /// Worker bound over it and the Kafka section attached. Unknown keys and unconvertible values are named.</summary>
    public WorkerSettings Worker(WorkerSettings defaults)
    {
        var section = Configuration.GetSection("Worker");
        var bindable = typeof(WorkerSettings).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && !NotBoundWorkerProperties.Contains(p.Name)).Select(p => p.Name).ToList();
        CheckKnownKeys(section, bindable);
        var settings = defaults with { Kafka = Kafka };
        try
        {
            section.Bind(settings, o => o.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException e)
        {
            // The binder's message names the key ("Failed to convert configuration value '...' at 'Worker:MaxBatchRecords' to type ...").
            throw new ArgumentException(e.InnerException is { } inner ? $"{e.Message} ({inner.Message})" : e.Message);
        }
        settings.Validate();
        return settings;
    }

    /// <summary>The bootstrap servers: the command line's when given, else Kafka:BootstrapServers; a worker needs one.</summary>
    public string BootstrapServers(string? commandLine) =>
        commandLine is { Length: > 0 } ? commandLine
        : Kafka.BootstrapServers is { Length: > 0 } configured ? configured
        : throw new ArgumentException("Kafka:BootstrapServers is required (--bootstrap HOST:PORT, CARTRECOVERY_Kafka__BootstrapServers or appsettings.json)");

    /// <summary>The effective configuration, secrets as ***: what `cartrecovery config` prints.</summary>
    public IEnumerable<string> Describe(string bootstrapServers)
    {
        var kafka = Kafka.WithBootstrapServers(bootstrapServers);
        foreach (var role in Enum.GetValues<KafkaClientRole>())
            foreach (var (name, value) in KafkaClientSettings.Redacted(kafka.Effective(role).OrderBy(p => p.Key, StringComparer.Ordinal)))
                yield return $"kafka.{role.ToString().ToLowerInvariant()}.{name} = {value}";
        if (ClickHouse is { } clickhouse)
        {
            yield return "clickhouse.url = " + RedactUrl(clickhouse.ConnectionString);
            if (clickhouse.Username is { } user) yield return "clickhouse.username = " + user;
            if (clickhouse.Password is not null) yield return "clickhouse.password = ***";
            if (clickhouse.Database is { } database) yield return "clickhouse.database = " + database;
            if (clickhouse.CaCertificateFile is { } ca) yield return "clickhouse.ca_certificate = " + ca;
            if (clickhouse.ClientCertificateFile is { } cert) yield return "clickhouse.client_certificate = " + cert;
        }
        else
        {
            yield return "clickhouse = embedded (chDB under --data)";
        }
        if (Postgres is { } postgres)
        {
            var builder = new NpgsqlConnectionStringBuilder(postgres);
            if (builder.Password is not null) builder.Password = "***";
            yield return "postgres = " + builder.ConnectionString;
        }
        else
        {
            yield return "postgres = (none: checkpoints in SQLite under --data)";
        }
    }

    private static string RedactUrl(string url)
    {
        if (Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme.StartsWith("http", StringComparison.Ordinal))
            return new UriBuilder(uri) { Password = uri.UserInfo.Contains(':') ? "***" : "", Query = HasPassword(url) ? "" : uri.Query }.Uri.ToString();
        var builder = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = url };
        if (builder.ContainsKey("password")) builder["password"] = "***";
        return builder.ConnectionString;
    }
}
