using System.Diagnostics;
using System.Runtime.CompilerServices;
using CartRecovery.Storage.Embedded;

namespace CartRecovery.Storage.Tests.Engine;

/// <summary>
/// Entry point of the test assembly run as a plain program (<c>dotnet CartRecovery.Storage.Tests.dll scenario ...</c>).
/// chDB's limits are per process (one data directory at a time, one owner process per directory, process-wide
/// signal handlers), so the tests that probe them run each scenario in a fresh process and read what it prints.
/// The test host never calls this.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 0) return 0;
        try
        {
            return args[0] switch
            {
                "signals" => Signals(args[1]),
                "directories" => Directories(args[1], args[2]),
                "hold" => Hold(args[1]),
                "open" => OpenAndCount(args[1]),
                _ => Fail($"unknown scenario {args[0]}"),
            };
        }
        catch (Exception e)
        {
            return Fail($"unexpected {e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>The runtime's own use of signals keeps working after the engine has connected.</summary>
    private static int Signals(string directory)
    {
        using var engine = EmbeddedClickHouse.Open(directory);
        Say("select " + engine.Query("SELECT 1", "TabSeparated").Trim());
        Say("restored handlers " + (HostSignalHandlers.RestoredCount > 0 ? "yes" : "no"));

        try { Say("no exception " + Nothing()!.GetHashCode()); }
        catch (NullReferenceException) { Say("NullReferenceException caught"); }

        try { Say("no exception " + (1 / Zero())); }
        catch (DivideByZeroException) { Say("DivideByZeroException caught"); }

        // A thread spinning in a loop without calls can only be stopped for a GC by signalling it (SIGRTMIN).
        var stop = 0;
        long spins = 0;
        var spinner = new Thread(() => { while (Volatile.Read(ref stop) == 0) spins++; }) { IsBackground = true };
        spinner.Start();
        var collected = Task.Run(() => { for (var i = 0; i < 20; i++) { _ = new byte[1 << 20]; GC.Collect(2, GCCollectionMode.Forced, blocking: true); } });
        Say(collected.Wait(TimeSpan.FromSeconds(30)) ? "20 collections with a spinning thread" : "GC hung");
        Volatile.Write(ref stop, 1);
        spinner.Join();

        Say("select " + engine.Query("SELECT 2", "TabSeparated").Trim());
        return 0;
    }

    /// <summary>One data directory per process at a time; same directory shares; close, then another; reopen keeps data.</summary>
    private static int Directories(string first, string second)
    {
        var a = EmbeddedClickHouse.Open(first);
        a.Query("CREATE TABLE t (x UInt32) ENGINE = MergeTree ORDER BY x");
        a.Query("INSERT INTO t VALUES (1)");

        var sameAgain = EmbeddedClickHouse.Open(first + Path.DirectorySeparatorChar);
        Say($"same directory shared {sameAgain.DataDirectory == a.DataDirectory} rows {sameAgain.Query("SELECT count() FROM t", "TabSeparated").Trim()}");

        try
        {
            EmbeddedClickHouse.Open(second).Dispose();
            Say("second directory opened");
        }
        catch (InvalidOperationException e)
        {
            Say($"second directory refused, names both {e.Message.Contains(a.DataDirectory, StringComparison.Ordinal) && e.Message.Contains(Path.GetFullPath(second), StringComparison.Ordinal)}");
        }

        a.Dispose();
        Say("after first handle disposed rows " + sameAgain.Query("SELECT count() FROM t", "TabSeparated").Trim());
        try { a.Query("SELECT 1"); }
        catch (ObjectDisposedException) { Say("disposed handle refuses queries"); }
        sameAgain.Dispose();
        Say("open directory " + (EmbeddedClickHouse.OpenDataDirectory ?? "none"));

        using (var b = EmbeddedClickHouse.Open(second))
        {
            b.Query("CREATE TABLE u (x UInt32) ENGINE = MergeTree ORDER BY x");
            b.Query("INSERT INTO u VALUES (1), (2)");
            Say("second directory rows " + b.Query("SELECT count() FROM u", "TabSeparated").Trim());
        }

        using (var reopened = EmbeddedClickHouse.Open(first))
            Say("first directory reopened rows " + reopened.Query("SELECT count() FROM t", "TabSeparated").Trim());
        return 0;
    }

    /// <summary>Owns a directory until its standard input closes.</summary>
    private static int Hold(string directory)
    {
        using (var engine = EmbeddedClickHouse.Open(directory))
        {
            engine.Query("CREATE TABLE IF NOT EXISTS held (x UInt32) ENGINE = MergeTree ORDER BY x");
            engine.Query("INSERT INTO held VALUES (1), (2), (3)");
            Say("ready");
            while (Console.In.ReadLine() is not null) { }
        }
        Say("released");
        return 0;
    }

    private static int OpenAndCount(string directory)
    {
        try
        {
            using var engine = EmbeddedClickHouse.Open(directory);
            Say("opened rows " + engine.Query("SELECT count() FROM held", "TabSeparated").Trim());
        }
        catch (IOException e)
        {
            Say("IOException " + e.Message);
        }
        return 0;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static object? Nothing() => null;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Zero() => 0;

    private static void Say(string line)
    {
        Console.Out.WriteLine(line);
        Console.Out.Flush();
    }

    private static int Fail(string message)
    {
        Say(message);
        return 70;
    }
}

/// <summary>Runs <see cref="Program"/> scenarios in child processes.</summary>
internal sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ChildProcess(Process process) => _process = process;

    public static ChildProcess Start(params string[] arguments)
    {
        var assembly = typeof(Program).Assembly.Location;
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(assembly)!,
        };
        start.ArgumentList.Add(assembly);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        // The child must load the same engine as this process, whatever its working directory.
        ChDbNative.EnsureLoaded();
        start.Environment[ChDbNative.PathVariable] = ChDbNative.LoadedFrom;

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var child = new ChildProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (child._lines) child._lines.Add(e.Data);
        };
        process.ErrorDataReceived += (_, _) => { }; // the engine logs to stderr
        process.Exited += (_, _) => child._exited.TrySetResult();
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    public string[] Lines
    {
        get { lock (_lines) return [.. _lines]; }
    }

    public async Task WaitForLineAsync(string line, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Lines.Contains(line))
        {
            if (_process.HasExited) throw new InvalidOperationException($"child exited ({_process.ExitCode}) without '{line}': {string.Join(" | ", Lines)}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"no '{line}' within {timeout}: {string.Join(" | ", Lines)}");
            await Task.Delay(50);
        }
    }

    public void CloseInput() => _process.StandardInput.Close();

    /// <summary>Waits for the exit and returns the exit code and every line printed.</summary>
    public async Task<(int ExitCode, string[] Lines)> WaitForExitAsync(TimeSpan timeout)
    {
        if (await Task.WhenAny(_exited.Task, Task.Delay(timeout)) != _exited.Task)
            throw new TimeoutException($"child still running after {timeout}: {string.Join(" | ", Lines)}");
        await _process.WaitForExitAsync(); // drains the output
        return (_process.ExitCode, Lines);
    }

    public static async Task<(int ExitCode, string[] Lines)> RunAsync(TimeSpan timeout, params string[] arguments)
    {
        using var child = Start(arguments);
        child.CloseInput();
        return await child.WaitForExitAsync(timeout);
    }

    private static string DotnetHost()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)) return host;
        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return "dotnet";
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
        _process.Dispose();
    }
}
