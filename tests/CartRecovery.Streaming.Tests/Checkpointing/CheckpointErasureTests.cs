using CartRecovery.Domain.Identity;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;
using CartRecovery.Streaming.Checkpointing;
using Microsoft.Data.Sqlite;

namespace CartRecovery.Streaming.Tests.Checkpointing;

/// <summary>Erasure in a checkpoint matches the shopper by whole id, as decoded from the row: <c>s1</c> is not <c>s10</c>.</summary>
public sealed class CheckpointErasureTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 2, 10, 0, 0, TimeSpan.Zero);

    private static SessionState Session(string shopper) => new()
    {
        ShopperId = shopper, SessionId = $"sess-{shopper}", OriginChannel = "web", Currency = "EUR", TimeZone = "UTC", StartedAt = T0, LastActivityAt = T0,
    };

    private static PartitionCheckpoint Checkpoint(params string[] shoppers) => new()
    {
        Partition = 0, NextOffsets = new() { ["cart-events"] = 3 }, Watermark = Watermark.Start,
        Shoppers = [.. shoppers.Select(ShopperState.New)], Sessions = [.. shoppers.Select(Session)],
    };

    [Fact]
    public void A_shorter_id_inside_a_longer_one_is_not_the_shopper()
    {
        var checkpoint = PartitionCheckpoint.FromBytes(Checkpoint("s10", "s2").ToBytes());
        Assert.False(CheckpointErasure.Names(checkpoint, "s1"));
        Assert.True(CheckpointErasure.Names(checkpoint, "s10"));

        var forgotten = CheckpointErasure.Forget(PartitionCheckpoint.FromBytes(Checkpoint("s1", "s10").ToBytes()), "s1");
        Assert.False(CheckpointErasure.Names(forgotten, "s1"));
        Assert.Equal(["s10"], forgotten.Shoppers.Select(s => s.ShopperId));
        Assert.Equal(["s10"], forgotten.Sessions.Select(s => s.ShopperId));
    }

    [Fact]
    public void An_identity_link_or_a_delta_listing_the_shopper_names_them()
    {
        var linked = Checkpoint() with
        {
            Identity = IdentityLinks.Empty.Link("dev-1", new IdentityAlias("s1", "link-evt", T0, T0)),
        };
        Assert.True(CheckpointErasure.Names(linked, "s1"));
        Assert.True(CheckpointErasure.Names(linked, "dev-1"));
        Assert.False(CheckpointErasure.Names(linked, "s10"));
        Assert.False(CheckpointErasure.Names(CheckpointErasure.Forget(linked, "s1"), "dev-1"));

        var delta = Checkpoint() with { ChangedShoppers = ["s1"] };
        Assert.True(CheckpointErasure.Names(delta, "s1"));
        Assert.False(CheckpointErasure.Names(CheckpointErasure.Forget(delta, "s1"), "s1"));
    }

    /// <summary>A store holding a JSON snapshot of an earlier release and binary deltas: the erasure decodes both, rewrites
    /// each row naming the shopper without them (in the binary format), and leaves the other shoppers.</summary>
    [Fact]
    public async Task Erasure_decodes_json_and_binary_rows_and_rewrites_them_binary_without_the_shopper()
    {
        var path = Path.Combine(Path.GetTempPath(), $"cartrecovery-erasure-rows-{Guid.NewGuid():N}.db");
        var store = CheckpointStoreSettings.Sqlite(path);
        const string id = "cartrecovery/g/partition-0";
        using (var connection = new SqliteConnection(store.ConnectionString))
        {
            connection.Open();
            using var create = connection.CreateCommand();
            create.CommandText = """
                CREATE TABLE snapshot (persistence_id TEXT, sequence_number INTEGER, snapshot BLOB);
                CREATE TABLE journal (ordering INTEGER PRIMARY KEY, persistence_id TEXT, sequence_number INTEGER, message BLOB);
                INSERT INTO snapshot VALUES (@id, 1, @json);
                INSERT INTO journal VALUES (1, @id, 2, @delta);
                INSERT INTO journal VALUES (2, @id, 3, @other);
                INSERT INTO journal VALUES (3, @id, 4, x'');
                """;
            create.Parameters.AddWithValue("@id", id);
            create.Parameters.AddWithValue("@json", PartitionCheckpoint.ToJsonBytes(Checkpoint("s1", "s10")));
            create.Parameters.AddWithValue("@delta", (Checkpoint("s1") with { ChangedShoppers = ["s1"] }).ToBytes());
            create.Parameters.AddWithValue("@other", (Checkpoint("s10") with { ChangedShoppers = ["s10"] }).ToBytes());
            create.ExecuteNonQuery();
        }
        Assert.Equal(2, await CheckpointErasure.CountRowsOfShopperAsync(store, "s1", CancellationToken.None));

        var result = await CheckpointErasure.EraseAsync(store, "s1", CancellationToken.None);

        Assert.Equal(new CheckpointErasureResult(1, 1, 0), result);
        var rows = StoreRows.Of(store, id).Where(row => row.Length > 0).Select(PartitionCheckpoint.FromBytes).ToList();
        Assert.Equal(3, rows.Count);
        Assert.DoesNotContain(rows, row => CheckpointErasure.Names(row, "s1"));
        Assert.Equal(["s10"], rows[0].Shoppers.Select(s => s.ShopperId));
        Assert.All(StoreRows.Of(store, id).Where(row => row.Length > 0), row => Assert.Equal(CheckpointCodec.BinaryV1, row[0]));
        SqliteConnection.ClearAllPools();
        File.Delete(path);
    }
}
