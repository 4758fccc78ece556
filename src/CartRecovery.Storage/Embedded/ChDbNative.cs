using System.Runtime.InteropServices;

namespace CartRecovery.Storage.Embedded;

/// <summary>
/// The chDB C API (libchdb.so from the npm package @chdb/lib-linux-x64-gnu; chdb.h of chdb-io/chdb):
/// <c>chdb_connection* chdb_connect(int argc, char** argv)</c>, <c>chdb_result* chdb_query_n(chdb_connection,
/// const char* q, size_t, const char* fmt, size_t)</c>, result accessors, <c>chdb_destroy_query_result</c>,
/// <c>chdb_close_conn(chdb_connection*)</c>. Loaded by path at run time: the library is 559 MB and not shipped.
/// </summary>
internal static unsafe class ChDbNative
{
    public const string PathVariable = "CARTRECOVERY_CHDB_LIB";

    private static readonly Lock Gate = new();
    private static nint _library;

    public static delegate* unmanaged<int, byte**, nint> Connect;
    public static delegate* unmanaged<nint, void> CloseConnection;
    public static delegate* unmanaged<nint, byte*, nuint, byte*, nuint, nint> QueryN;
    public static delegate* unmanaged<nint, void> DestroyQueryResult;
    public static delegate* unmanaged<nint, byte*> ResultBuffer;
    public static delegate* unmanaged<nint, nuint> ResultLength;
    public static delegate* unmanaged<nint, byte*> ResultError;

    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (_library != 0) return;
            var path = Locate();
            _library = NativeLibrary.Load(path);
            Connect = (delegate* unmanaged<int, byte**, nint>)Export("chdb_connect");
            CloseConnection = (delegate* unmanaged<nint, void>)Export("chdb_close_conn");
            QueryN = (delegate* unmanaged<nint, byte*, nuint, byte*, nuint, nint>)Export("chdb_query_n");
            DestroyQueryResult = (delegate* unmanaged<nint, void>)Export("chdb_destroy_query_result");
            ResultBuffer = (delegate* unmanaged<nint, byte*>)Export("chdb_result_buffer");
            ResultLength = (delegate* unmanaged<nint, nuint>)Export("chdb_result_length");
            ResultError = (delegate* unmanaged<nint, byte*>)Export("chdb_result_error");
        }
    }

    private static nint Export(string name) => NativeLibrary.GetExport(_library, name);

    private static string Locate()
    {
        var searched = new List<string>();
        if (Environment.GetEnvironmentVariable(PathVariable) is { Length: > 0 } configured)
        {
            if (File.Exists(configured)) return configured;
            searched.Add(configured);
        }
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, ".tools", "chdb", "libchdb.so");
                if (File.Exists(candidate)) return candidate;
                searched.Add(candidate);
            }
        throw new FileNotFoundException(
            $"chDB engine (libchdb.so) not found; run scripts/install-chdb.sh or set {PathVariable}. Searched: {string.Join(", ", searched.Distinct().Take(6))}");
    }
}
