using System.Data.Common;
using System.Text;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace CartRecovery.Streaming.Checkpointing;

/// <summary>What an erasure changed in a checkpoint store.</summary>
public sealed record CheckpointErasureResult(int SnapshotsRewritten, int DeltasRewritten, int RowsStillNaming);

/// <summary>
/// Erasure in the checkpoint store (Akka.Persistence.Sql, SQLite or PostgreSQL; docs/compliance.md). A partition's
/// checkpoint is a snapshot row (binary, <see cref="CheckpointCodec"/>; JSON when an earlier release wrote it): every
/// snapshot row of every partition, whatever its sequence number (older versions included), is decoded, the shopper's
/// state, sessions and identity links are removed, and the row is written back in the binary format. The journal holds
/// the incremental checkpoints between snapshots (deltas, same format): each naming the shopper is rewritten the same
/// way (deleting it would lose the other shoppers' changes it carries). Rows are decoded and the shopper matched by
/// whole id, never by bytes: erasing <c>s1</c> leaves <c>s10</c> alone and is not reported as left over.
/// Then the store is vacuumed, so the replaced bytes do not linger in free pages (SQLite) or dead tuples (PostgreSQL).
/// A running worker forgets the shopper itself when the erasure_requested event reaches it, and its next checkpoint
/// replaces the row; this is the path for stopped workers and for the operator's <c>./run.sh erase</c>.
/// </summary>
public static class CheckpointErasure
{
    /// <summary>The checkpoint without anything about <paramref name="shopperId"/>.</summary>
    public static PartitionCheckpoint Forget(PartitionCheckpoint checkpoint, string shopperId) => checkpoint with
    {
        Shoppers = [.. checkpoint.Shoppers.Where(s => s.ShopperId != shopperId)],
        Sessions = [.. checkpoint.Sessions.Where(s => s.ShopperId != shopperId)],
        Identity = checkpoint.Identity.Forget(shopperId),
        Frontier = checkpoint.Frontier?.Forget(shopperId),
        // A delta that changed the shopper no longer says so: every earlier row of the partition is rewritten too.
        ChangedShoppers = checkpoint.ChangedShoppers is null ? null : [.. checkpoint.ChangedShoppers.Where(id => id != shopperId)],
    };

    /// <summary>Whether the checkpoint holds anything about <paramref name="shopperId"/>, compared as whole ids (erasing
    /// <c>s1</c> is not about <c>s10</c>).</summary>
    public static bool Names(PartitionCheckpoint checkpoint, string shopperId) =>
        checkpoint.Shoppers.Any(s => s.ShopperId == shopperId)
        || checkpoint.Sessions.Any(s => s.ShopperId == shopperId)
        || checkpoint.Identity.Aliases.Any(a => a.Key == shopperId || a.Value.CustomerId == shopperId)
        || checkpoint.ChangedShoppers?.Contains(shopperId) == true
        || checkpoint.Frontier?.Names(shopperId) == true;

    public static async Task<CheckpointErasureResult> EraseAsync(CheckpointStoreSettings store, string shopperId, CancellationToken ct)
    {
        await using var connection = Open(store);
        if (connection is null) return new CheckpointErasureResult(0, 0, 0);
        var rewritten = 0;
        foreach (var (persistenceId, sequenceNr, bytes) in await SnapshotsAsync(connection, ct))
        {
            if (Decode(bytes) is not { } checkpoint || !Names(checkpoint, shopperId)) continue;
            var forgotten = Forget(checkpoint, shopperId).ToBytes();
            await using var update = connection.CreateCommand();
            update.CommandText = "UPDATE snapshot SET snapshot = @bytes WHERE persistence_id = @id AND sequence_number = @seq";
            Add(update, "@bytes", forgotten);
            Add(update, "@id", persistenceId);
            Add(update, "@seq", sequenceNr);
            await update.ExecuteNonQueryAsync(ct);
            rewritten++;
        }
        // Between snapshots a partition journals deltas (the shoppers changed since the previous checkpoint): each delta
        // naming the shopper is rewritten without them. Deleting it would lose the other shoppers' changes it carries.
        var deltas = 0;
        foreach (var (ordering, bytes) in await JournalRowsAsync(connection, ct))
        {
            if (Decode(bytes) is not { } checkpoint || !Names(checkpoint, shopperId)) continue;
            var forgotten = Forget(checkpoint, shopperId).ToBytes();
            await using var update = connection.CreateCommand();
            update.CommandText = "UPDATE journal SET message = @bytes WHERE ordering = @ordering";
            Add(update, "@bytes", forgotten);
            Add(update, "@ordering", ordering);
            deltas += await update.ExecuteNonQueryAsync(ct);
        }
        await using (var vacuum = connection.CreateCommand())
        {
            // SQLite in WAL mode keeps page images in the -wal file until a checkpoint truncates it.
            vacuum.CommandText = connection is SqliteConnection ? "VACUUM; PRAGMA wal_checkpoint(TRUNCATE);" : "VACUUM snapshot";
            await vacuum.ExecuteNonQueryAsync(ct);
        }
        return new CheckpointErasureResult(rewritten, deltas, await CountRowsOfAsync(connection, shopperId, ct));
    }

    /// <summary>Snapshot and journal rows that hold anything about the shopper (whole-id match; 0 when the store does not exist yet).</summary>
    public static async Task<int> CountRowsOfShopperAsync(CheckpointStoreSettings store, string shopperId, CancellationToken ct)
    {
        await using var connection = Open(store);
        return connection is null ? 0 : await CountRowsOfAsync(connection, shopperId, ct);
    }

    /// <summary>Snapshot and journal rows whose bytes contain <paramref name="text"/> anywhere (0 when the store does not
    /// exist yet): a leak check for any text (a SKU, an event id), not a test of whether a shopper is held.</summary>
    public static async Task<int> CountRowsNamingAsync(CheckpointStoreSettings store, string text, CancellationToken ct)
    {
        await using var connection = Open(store);
        if (connection is null) return 0;
        var needle = Encoding.UTF8.GetBytes(text);
        return (await SnapshotsAsync(connection, ct)).Count(s => s.Bytes.AsSpan().IndexOf(needle) >= 0)
            + (await JournalRowsAsync(connection, ct)).Count(r => r.Bytes.AsSpan().IndexOf(needle) >= 0);
    }

    private static async Task<int> CountRowsOfAsync(DbConnection connection, string shopperId, CancellationToken ct) =>
        (await SnapshotsAsync(connection, ct)).Count(s => NamesOrUnreadable(s.Bytes, shopperId))
        + (await JournalRowsAsync(connection, ct)).Count(r => NamesOrUnreadable(r.Bytes, shopperId));

    /// <summary>A row that cannot be read as a checkpoint cannot be shown not to hold the shopper: it counts when its bytes
    /// contain the id (a partition's checkpoint is the only thing the worker persists, its strings stored as UTF-8 in both
    /// formats; the delta fence is empty).</summary>
    private static bool NamesOrUnreadable(byte[] bytes, string shopperId) => bytes.Length > 0 && (Decode(bytes) is { } checkpoint
        ? Names(checkpoint, shopperId)
        : bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(shopperId)) >= 0);

    private static PartitionCheckpoint? Decode(byte[] bytes)
    {
        if (bytes.Length == 0) return null;
        try
        {
            return PartitionCheckpoint.FromBytes(bytes);
        }
        catch (CheckpointFormatException)
        {
            return null;
        }
    }

    private static DbConnection? Open(CheckpointStoreSettings store)
    {
        DbConnection connection;
        if (store.Provider == CheckpointProvider.Sqlite)
        {
            var path = new SqliteConnectionStringBuilder(store.ConnectionString).DataSource;
            if (!File.Exists(path)) return null;
            connection = new SqliteConnection(store.ConnectionString);
        }
        else
        {
            connection = new NpgsqlConnection(store.ConnectionString);
        }
        connection.Open();
        if (!TableExists(connection, "snapshot"))
        {
            connection.Dispose();
            return null;
        }
        return connection;
    }

    private static bool TableExists(DbConnection connection, string table)
    {
        using var command = connection.CreateCommand();
        command.CommandText = connection is SqliteConnection
            ? "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = @name"
            : "SELECT count(*) FROM information_schema.tables WHERE table_name = @name";
        Add(command, "@name", table);
        return Convert.ToInt64(command.ExecuteScalar()) > 0;
    }

    private static async Task<List<(string PersistenceId, long SequenceNr, byte[] Bytes)>> SnapshotsAsync(DbConnection connection, CancellationToken ct)
    {
        var rows = new List<(string, long, byte[])>();
        await using var select = connection.CreateCommand();
        select.CommandText = "SELECT persistence_id, sequence_number, snapshot FROM snapshot";
        await using var reader = await select.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            rows.Add((reader.GetString(0), reader.GetInt64(1), reader.IsDBNull(2) ? [] : (byte[])reader.GetValue(2)));
        return rows;
    }

    private static async Task<List<(long Ordering, byte[] Bytes)>> JournalRowsAsync(DbConnection connection, CancellationToken ct)
    {
        var rows = new List<(long, byte[])>();
        if (!TableExists(connection, "journal")) return rows;
        await using var select = connection.CreateCommand();
        select.CommandText = "SELECT ordering, message FROM journal";
        await using var reader = await select.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            if (!reader.IsDBNull(1)) rows.Add((reader.GetInt64(0), (byte[])reader.GetValue(1)));
        return rows;
    }

    private static void Add(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }
}
