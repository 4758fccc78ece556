using System.Data.Common;
using CartRecovery.Streaming.Checkpointing;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace CartRecovery.Streaming.Tests.Checkpointing;

/// <summary>A partition's checkpoint rows as the persistence plugin stored them (snapshot and journal tables), read and
/// rewritten directly: what format they are in, and a store as an earlier release left it.</summary>
internal static class StoreRows
{
    public static List<byte[]> Of(CheckpointStoreSettings store, string persistenceId)
    {
        using var connection = Open(store);
        var rows = new List<byte[]>();
        foreach (var (table, column) in Tables)
        {
            using var select = connection.CreateCommand();
            select.CommandText = $"SELECT {column} FROM {table} WHERE persistence_id = @id";
            Add(select, "@id", persistenceId);
            using var reader = select.ExecuteReader();
            while (reader.Read())
                if (!reader.IsDBNull(0)) rows.Add((byte[])reader.GetValue(0));
        }
        return rows;
    }

    /// <summary>Replaces every non-empty row of the partition by <paramref name="rewrite"/> of it.</summary>
    public static int Rewrite(CheckpointStoreSettings store, string persistenceId, Func<byte[], byte[]> rewrite)
    {
        using var connection = Open(store);
        var rewritten = 0;
        foreach (var (table, column) in Tables)
        {
            var rows = new List<(long Seq, byte[] Bytes)>();
            using (var select = connection.CreateCommand())
            {
                select.CommandText = $"SELECT sequence_number, {column} FROM {table} WHERE persistence_id = @id";
                Add(select, "@id", persistenceId);
                using var reader = select.ExecuteReader();
                while (reader.Read())
                    if (!reader.IsDBNull(1) && ((byte[])reader.GetValue(1)).Length > 0) rows.Add((reader.GetInt64(0), (byte[])reader.GetValue(1)));
            }
            foreach (var (seq, bytes) in rows)
            {
                using var update = connection.CreateCommand();
                update.CommandText = $"UPDATE {table} SET {column} = @bytes WHERE persistence_id = @id AND sequence_number = @seq";
                Add(update, "@bytes", rewrite(bytes));
                Add(update, "@id", persistenceId);
                Add(update, "@seq", seq);
                rewritten += update.ExecuteNonQuery();
            }
        }
        return rewritten;
    }

    private static readonly (string Table, string Column)[] Tables = [("snapshot", "snapshot"), ("journal", "message")];

    private static DbConnection Open(CheckpointStoreSettings store)
    {
        DbConnection connection = store.Provider == CheckpointProvider.Sqlite
            ? new SqliteConnection(store.ConnectionString)
            : new NpgsqlConnection(store.ConnectionString);
        connection.Open();
        return connection;
    }

    private static void Add(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }
}
