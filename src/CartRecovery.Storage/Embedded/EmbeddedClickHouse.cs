using System.Runtime.InteropServices;
using System.Text;

namespace CartRecovery.Storage.Embedded;

/// <summary>
/// The in-process ClickHouse engine (chDB) over a data directory. One process at a time may own a directory;
/// within a process all statements go through one connection, serialized by a lock.
/// </summary>
public sealed unsafe class EmbeddedClickHouse : IDisposable
{
    private readonly Lock _gate = new();
    private nint _connection; // chdb_connection*

    private EmbeddedClickHouse(string dataDirectory, nint connection)
    {
        DataDirectory = dataDirectory;
        _connection = connection;
    }

    public string DataDirectory { get; }

    public static EmbeddedClickHouse Open(string dataDirectory)
    {
        ChDbNative.EnsureLoaded();
        var path = Path.GetFullPath(dataDirectory);
        Directory.CreateDirectory(path);
        var args = new[] { "clickhouse", $"--path={path}" };
        var handles = args.Select(a => Marshal.StringToCoTaskMemUTF8(a)).ToArray();
        try
        {
            fixed (nint* argv = handles)
            {
                var connection = ChDbNative.Connect(args.Length, (byte**)argv);
                if (connection == 0 || *(nint*)connection == 0)
                    throw new ClickHouseQueryException($"chDB could not open {path} (is another process using it?)");
                return new EmbeddedClickHouse(path, connection);
            }
        }
        finally
        {
            foreach (var handle in handles) Marshal.FreeCoTaskMem(handle);
        }
    }

    /// <summary>Runs one statement; returns its output in <paramref name="format"/> as text.</summary>
    public string Query(string sql, string format = "TabSeparatedWithNames")
    {
        var sqlBytes = Encoding.UTF8.GetBytes(sql);
        var formatBytes = Encoding.UTF8.GetBytes(format);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_connection == 0, this);
            nint result;
            fixed (byte* q = sqlBytes)
            fixed (byte* f = formatBytes)
                result = ChDbNative.QueryN(*(nint*)_connection, q, (nuint)sqlBytes.Length, f, (nuint)formatBytes.Length);
            if (result == 0) throw new ClickHouseQueryException($"chDB returned no result for: {Head(sql)}");
            try
            {
                var error = ChDbNative.ResultError(result);
                if (error != null)
                    throw new ClickHouseQueryException($"{Marshal.PtrToStringUTF8((nint)error)?.Trim()} [query: {Head(sql)}]");
                var buffer = ChDbNative.ResultBuffer(result);
                var length = (int)ChDbNative.ResultLength(result);
                return buffer == null || length == 0 ? "" : Encoding.UTF8.GetString(buffer, length);
            }
            finally
            {
                ChDbNative.DestroyQueryResult(result);
            }
        }
    }

    private static string Head(string sql) => sql.Length <= 200 ? sql : sql[..200] + "...";

    public void Dispose()
    {
        lock (_gate)
        {
            if (_connection == 0) return;
            ChDbNative.CloseConnection(_connection);
            _connection = 0;
        }
    }
}
