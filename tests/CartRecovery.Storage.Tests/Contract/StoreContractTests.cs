using CartRecovery.Storage;
using CartRecovery.Storage.Embedded;
using CartRecovery.Storage.Server;

namespace CartRecovery.Storage.Tests.Contract;

/// <summary>
/// One chDB engine for the whole test run: a process can have only one chDB data directory open (a second
/// chdb_connect to another path fails), so tests share the engine and isolate themselves by database.
/// </summary>
public sealed class ChDbEngineFixture : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("cartrecovery-storage-").FullName;

    public ChDbEngineFixture() => Engine = EmbeddedClickHouse.Open(_directory);

    public EmbeddedClickHouse Engine { get; }

    public void Dispose()
    {
        Engine.Dispose();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }
}

[CollectionDefinition(Name)]
public sealed class ChDbCollection : ICollectionFixture<ChDbEngineFixture>
{
    public const string Name = "chDB engine";
}

internal static class TestDatabases
{
    public static string Fresh() => "contract_" + Guid.NewGuid().ToString("N")[..12];
}

[Collection(ChDbCollection.Name)]
public sealed class ChDbStoreContractTests(ChDbEngineFixture fixture) : AnalyticsStoreContract
{
    protected override Task<IAnalyticsStore> OpenFreshStoreAsync() =>
        Task.FromResult<IAnalyticsStore>(new ChDbAnalyticsStore(fixture.Engine, new AnalyticsStoreOptions { Database = TestDatabases.Fresh() }, ownsEngine: false));

    [Fact] public Task Schema_is_idempotent_on_chdb() => Schema_is_idempotent();
    [Fact] public Task Rows_round_trip_on_chdb() => Inserted_rows_round_trip_with_exact_values();
    [Fact] public Task Redelivery_is_absorbed_on_chdb() => Redelivered_batch_leaves_final_results_unchanged();
    [Fact] public Task Bad_sql_raises_on_chdb() => Refused_sql_raises_ClickHouseQueryException();
    [Fact] public Task Colliding_ids_keep_their_rows_on_chdb() => Colliding_ids_of_different_shoppers_or_sessions_keep_their_rows();
}

/// <summary>A [Fact] that runs only when CARTRECOVERY_CLICKHOUSE_URL names a ClickHouse server.</summary>
public sealed class ServerFactAttribute : FactAttribute
{
    public const string Variable = "CARTRECOVERY_CLICKHOUSE_URL";

    public ServerFactAttribute()
    {
        if (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(Variable)))
            Skip = $"no ClickHouse server: set {Variable} to a ClickHouse.Driver connection string to run the contract against one";
    }
}

public sealed class ServerStoreContractTests : AnalyticsStoreContract
{
    protected override Task<IAnalyticsStore> OpenFreshStoreAsync() => Task.FromResult<IAnalyticsStore>(new ClickHouseServerStore(
        new ClickHouseServerSettings(Environment.GetEnvironmentVariable(ServerFactAttribute.Variable)!),
        new AnalyticsStoreOptions { Database = TestDatabases.Fresh() }));

    [ServerFact] public Task Schema_is_idempotent_on_server() => Schema_is_idempotent();
    [ServerFact] public Task Rows_round_trip_on_server() => Inserted_rows_round_trip_with_exact_values();
    [ServerFact] public Task Redelivery_is_absorbed_on_server() => Redelivered_batch_leaves_final_results_unchanged();
    [ServerFact] public Task Bad_sql_raises_on_server() => Refused_sql_raises_ClickHouseQueryException();
    [ServerFact] public Task Colliding_ids_keep_their_rows_on_server() => Colliding_ids_of_different_shoppers_or_sessions_keep_their_rows();
}
