using System.Collections;
using CartRecovery.Kafka.Configuration;
using CartRecovery.Streaming.Checkpointing;
using CartRecovery.Streaming.Configuration;
using CartRecovery.Streaming.Ingest;
using Confluent.Kafka;
using Xunit;

namespace CartRecovery.Streaming.Tests.Configuration;

/// <summary>The operator's configuration reaches the librdkafka, ClickHouse and PostgreSQL clients from appsettings.json,
/// environment variables, a secrets directory and the command line; bad values are named with their key.</summary>
public sealed class OperatorConfigurationTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("cartrecovery-config-");

    public void Dispose() => _dir.Delete(recursive: true);

    private static WorkerSettings Defaults => new() { BootstrapServers = "cli:9092", Checkpoints = CheckpointStoreSettings.Sqlite("/tmp/unused.db") };

    private string WriteFile(string name, string text)
    {
        var path = Path.Combine(_dir.FullName, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    private static OperatorSettings Load(IDictionary? environment = null, string[]? commandLine = null, string? settingsFile = null, string? secrets = null) =>
        OperatorSettings.Load(new ConfigurationSources
        {
            Environment = environment ?? new Hashtable(), CommandLine = commandLine ?? [], SettingsFiles = settingsFile is null ? [] : [settingsFile],
            SecretsDirectory = secrets,
        });

    [Fact]
    public void Sasl_and_tls_from_environment_variables_reach_the_consumer_and_producer_configs()
    {
        var ca = WriteFile("ca.pem", "-----BEGIN CERTIFICATE-----\n");
        var password = WriteFile("kafka-password", "s3cret\n");
        var settings = Load(new Hashtable
        {
            ["CARTRECOVERY_Kafka__BootstrapServers"] = "kafka-1:9093,kafka-2:9093",
            ["CARTRECOVERY_Kafka__SecurityProtocol"] = "SASL_SSL",
            ["CARTRECOVERY_Kafka__SaslMechanism"] = "ScramSha512",
            ["CARTRECOVERY_Kafka__SaslUsername"] = "cartrecovery",
            ["CARTRECOVERY_Kafka__SaslPasswordFile"] = password,
            ["CARTRECOVERY_Kafka__SslCaLocation"] = ca,
            ["CARTRECOVERY_Kafka__ClientId"] = "worker-0",
            ["CARTRECOVERY_Kafka__CompressionType"] = "Zstd",
            ["CARTRECOVERY_Kafka__Consumer__fetch.wait.max.ms"] = "100",
            ["UNRELATED"] = "x",
        });
        var worker = settings.Worker(Defaults with { BootstrapServers = settings.BootstrapServers(null) });

        var consumer = WorkerKafkaConfig.InputConsumer(worker);
        Assert.Equal("kafka-1:9093,kafka-2:9093", consumer.BootstrapServers);
        Assert.Equal(SecurityProtocol.SaslSsl, consumer.SecurityProtocol);
        Assert.Equal(SaslMechanism.ScramSha512, consumer.SaslMechanism);
        Assert.Equal("cartrecovery", consumer.SaslUsername);
        Assert.Equal("s3cret", consumer.SaslPassword);
        Assert.Equal(ca, consumer.SslCaLocation);
        Assert.Equal("worker-0", consumer.ClientId);
        Assert.Equal(100, consumer.FetchWaitMaxMs);
        // What correctness rests on stays as the worker sets it.
        Assert.False(consumer.EnableAutoCommit);
        Assert.Equal(IsolationLevel.ReadCommitted, consumer.IsolationLevel);
        Assert.Equal(PartitionAssignmentStrategy.Range, consumer.PartitionAssignmentStrategy);

        var producer = WorkerKafkaConfig.OutputProducer(worker);
        Assert.Equal(SecurityProtocol.SaslSsl, producer.SecurityProtocol);
        Assert.Equal("s3cret", producer.SaslPassword);
        Assert.Equal(CompressionType.Zstd, producer.CompressionType);
        Assert.True(producer.EnableIdempotence);
        Assert.Equal(Acks.All, producer.Acks);
        Assert.Equal(SecurityProtocol.SaslSsl, WorkerKafkaConfig.Admin(worker).SecurityProtocol);
    }

    [Fact]
    public void Appsettings_binds_worker_settings_and_the_environment_wins_over_it()
    {
        var file = WriteFile("appsettings.json", """
            {
              "Kafka": { "BootstrapServers": "from-file:9092", "ClientId": "file", "ssl.endpoint.identification.algorithm": "none" },
              "Worker": { "GroupId": "file-group", "MaxBatchRecords": 500, "CheckpointInterval": "00:00:02", "IdleWatermark": "WallClock" }
            }
            """);
        var settings = Load(new Hashtable { ["CARTRECOVERY_Kafka__ClientId"] = "env", ["CARTRECOVERY_Worker__MaxBatchRecords"] = "700" }, settingsFile: file);
        var worker = settings.Worker(Defaults with { BootstrapServers = settings.BootstrapServers(null) });

        Assert.Equal("file-group", worker.GroupId);
        Assert.Equal(700, worker.MaxBatchRecords);
        Assert.Equal(TimeSpan.FromSeconds(2), worker.CheckpointInterval);
        Assert.Equal(IdleWatermark.WallClock, worker.IdleWatermark);
        var consumer = WorkerKafkaConfig.InputConsumer(worker);
        Assert.Equal("from-file:9092", consumer.BootstrapServers);
        Assert.Equal("env", consumer.ClientId);
        Assert.Equal("none", consumer.Get("ssl.endpoint.identification.algorithm"));
        Assert.Equal("file-group", consumer.GroupId);
        // The command line's --bootstrap wins over the configured one.
        Assert.Equal("cli:9092", settings.BootstrapServers("cli:9092"));
    }

    [Fact]
    public void A_secrets_directory_provides_passwords_for_kafka_clickhouse_and_postgres()
    {
        WriteFile("secrets/Kafka__SaslPassword", "kafka-pw");
        WriteFile("secrets/ClickHouse__Password", "ch-pw");
        WriteFile("secrets/Postgres__Password", "pg-pw");
        var settings = Load(new Hashtable
        {
            ["CARTRECOVERY_Kafka__SecurityProtocol"] = "SaslPlaintext",
            ["CARTRECOVERY_ClickHouse__Url"] = "https://clickhouse.internal:8443",
            ["CARTRECOVERY_ClickHouse__Username"] = "worker",
            ["CARTRECOVERY_ClickHouse__Database"] = "recovery",
            ["CARTRECOVERY_Postgres__Host"] = "pg.internal",
            ["CARTRECOVERY_Postgres__Username"] = "cartrecovery",
            ["CARTRECOVERY_Postgres__SslMode"] = "verify-full",
        }, secrets: Path.Combine(_dir.FullName, "secrets"));

        Assert.Equal("kafka-pw", settings.Kafka.Common["sasl.password"]);
        var clickhouse = settings.ClickHouse!.ToClientSettings();
        Assert.Equal(("https", "clickhouse.internal", 8443), (clickhouse.Protocol, clickhouse.Host, (int)clickhouse.Port));
        Assert.Equal(("worker", "ch-pw"), (clickhouse.Username, clickhouse.Password));
        Assert.Equal("recovery", settings.ClickHouse.Database);
        var postgres = new Npgsql.NpgsqlConnectionStringBuilder(settings.Postgres);
        Assert.Equal(("pg.internal", "cartrecovery", "pg-pw", Npgsql.SslMode.VerifyFull), (postgres.Host, postgres.Username, postgres.Password, postgres.SslMode));

        var described = string.Join("\n", settings.Describe("kafka:9092"));
        Assert.DoesNotContain("kafka-pw", described);
        Assert.DoesNotContain("ch-pw", described);
        Assert.DoesNotContain("pg-pw", described);
        Assert.Contains("kafka.consumer.sasl.password = ***", described);
    }

    [Fact]
    public void Command_line_keys_are_accepted_but_secrets_there_are_refused()
    {
        var settings = Load(commandLine: ["--Kafka:ClientId=cli", "--Kafka:Producer:LingerMs", "20"]);
        Assert.Equal("cli", settings.Kafka.Common["client.id"]);
        Assert.Equal("20", settings.Kafka.Producer["linger.ms"]);

        var secret = Assert.Throws<ArgumentException>(() => Load(commandLine: ["--Kafka:SaslPassword=x"]));
        Assert.StartsWith("Kafka:SaslPassword: secrets are not accepted on the command line", secret.Message);
        Assert.DoesNotContain("=x", secret.Message);
        var connection = Assert.Throws<ArgumentException>(() => Load(commandLine: ["--Postgres:ConnectionString=Host=a;Password=x"]));
        Assert.StartsWith("Postgres:ConnectionString: secrets are not accepted", connection.Message);
        var typo = Assert.Throws<ArgumentException>(() => Load(commandLine: ["--drian"]));
        Assert.Contains("'--drian'", typo.Message);
    }

    [Theory]
    [InlineData("CARTRECOVERY_Kafka__SecurityProtocol", "tls", "Kafka:SecurityProtocol: 'tls' is not one of")]
    [InlineData("CARTRECOVERY_Kafka__sessions.timeout.ms", "5", "Kafka:sessions.timeout.ms: No such configuration property")]
    [InlineData("CARTRECOVERY_Kafka__Consumer__session.timeout.ms", "-5", "Kafka:Consumer:session.timeout.ms: Configuration property \"session.timeout.ms\" value -5 is outside allowed range")]
    [InlineData("CARTRECOVERY_Kafka__Producer__EnableIdempotence", "false", "Kafka:Producer:EnableIdempotence: 'enable.idempotence' is set by the worker")]
    [InlineData("CARTRECOVERY_Kafka__SslCaLocation", "/nonexistent/ca.pem", "Kafka:SslCaLocation: file not found: /nonexistent/ca.pem")]
    [InlineData("CARTRECOVERY_Kafka__SaslPasswordFile", "/nonexistent/password", "Kafka:SaslPasswordFile: file not found")]
    [InlineData("CARTRECOVERY_Kafka__Frobnicate", "1", "Kafka:Frobnicate: unknown Kafka client setting")]
    [InlineData("CARTRECOVERY_Worker__MaxBatchRecords", "many", "'Worker:MaxBatchRecords'")]
    [InlineData("CARTRECOVERY_Worker__MaxBatchRecords", "0", "Worker:MaxBatchRecords must be > 0")]
    [InlineData("CARTRECOVERY_Worker__MaxBatchRecord", "5", "Worker:MaxBatchRecord: unknown setting")]
    [InlineData("CARTRECOVERY_ClickHouse__Usrname", "x", "ClickHouse:Usrname: unknown setting")]
    [InlineData("CARTRECOVERY_ClickHouse__Username", "x", "ClickHouse:Url is required")]
    [InlineData("CARTRECOVERY_Postgres__SslMode", "sometimes", "Postgres:SslMode: 'sometimes' is not one of")]
    [InlineData("CARTRECOVERY_Postgres__Port", "99999", "Postgres:Port: '99999' is not a port number")]
    public void A_bad_value_names_its_key_and_the_problem(string variable, string value, string expected)
    {
        var environment = new Hashtable { [variable] = value };
        if (variable.Contains("Postgres")) environment["CARTRECOVERY_Postgres__Host"] = "pg";
        var error = Assert.Throws<ArgumentException>(() => Load(environment));
        Assert.Contains(expected, error.Message);
    }
}
