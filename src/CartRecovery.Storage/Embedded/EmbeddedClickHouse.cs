using System.Runtime.InteropServices;
using System.Text;

namespace CartRecovery.Storage.Embedded;

/// <summary>
/// The in-process ClickHouse engine (chDB) over a data directory. One process at a time may own a directory,
/// and one process can have only one directory open at a time (measured: a second <c>chdb_connect</c> to another
/// path fails while the first is open; to the same path it shares the session). Isolation inside one process is
/// therefore by database, not by directory: each statement runs in the database its caller names, and the
/// connection switches with USE when needed. All statements go through one connection, serialized by a lock.
/// </summary>
public sealed unsafe class EmbeddedClickHouse : IDisposable
{
    private readonly Lock _gate = new();
    private nint _connection; // chdb_connection*
    private string _currentDatabase = AnalyticsStoreOptions.DefaultDatabase;

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
                var argvPointer = (byte**)argv;
                var connection = SignalHandlerGuard.Preserve(() => ChDbNative.Connect(args.Length, argvPointer));
                if (connection == 0 || *(nint*)connection == 0)
                    throw new ClickHouseQueryException(
                        $"chDB could not open {path} (is another process using it, or has this process another chDB directory open?)");
                return new EmbeddedClickHouse(path, connection);
            }
        }
        finally
        {
            foreach (var handle in handles) Marshal.FreeCoTaskMem(handle);
        }
    }

    /// <summary>Runs one statement in the default database; returns its output in <paramref name="format"/> as text.</summary>
    public string Query(string sql, string format = "TabSeparatedWithNames") => Query(sql, format, AnalyticsStoreOptions.DefaultDatabase);

    /// <summary>Runs one statement with <paramref name="database"/> as the current database (a validated identifier).</summary>
    public string Query(string sql, string format, string database)
    {
        lock (_gate)
        {
            if (!string.Equals(_currentDatabase, database, StringComparison.Ordinal))
            {
                Run($"USE {database}", "TabSeparated");
                _currentDatabase = database;
            }
            return Run(sql, format);
        }
    }

    private string Run(string sql, string format)
    {
        var sqlBytes = Encoding.UTF8.GetBytes(sql);
        var formatBytes = Encoding.UTF8.GetBytes(format);
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
