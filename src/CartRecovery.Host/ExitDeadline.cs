using System.Runtime.InteropServices;

namespace CartRecovery.Host;

/// <summary>
/// The last bound on a stop: every part of the worker's shutdown has its own timeout, but a native client waiting for a
/// broker that is gone (librdkafka's close or destroy) cannot be interrupted; past the deadline the process exits with the
/// runtime failure code and says why, instead of hanging until an orchestrator kills it.
/// </summary>
public sealed class ExitDeadline : IDisposable
{
    /// <summary>The exit code of a runtime failure (README, "Exit codes").</summary>
    public const int RuntimeFailure = 3;

    private readonly CancellationTokenSource _disarmed = new();

    private ExitDeadline(TimeSpan within, string what)
    {
        var thread = new Thread(() =>
        {
            if (_disarmed.Token.WaitHandle.WaitOne(within)) return;
            Console.Error.WriteLine($"error: {what} did not finish within {within.TotalSeconds:F0} s; exiting without waiting further " +
                "(the next owner replays from the last checkpoint)");
            Console.Error.Flush();
            ExitNow(RuntimeFailure);
        }) { IsBackground = true, Name = "exit-deadline" };
        thread.Start();
    }

    /// <summary>Exits the process unless disposed within <paramref name="within"/>.</summary>
    public static ExitDeadline Arm(TimeSpan within, string what) => new(within, what);

    public void Dispose() => _disarmed.Cancel();

    /// <summary>Ends the process with <paramref name="code"/> at once. Not <see cref="Environment.Exit"/>: that runs the
    /// native libraries' exit handlers, and the embedded ClickHouse engine's static destructors then race its own
    /// threads, still inside the insert the stop gave up on (a stop past its deadline under heavy load once exited 139,
    /// SIGSEGV, instead of 3). Nothing is lost by skipping them: the outputs not yet written are replayed by the next
    /// owner from the last checkpoint.</summary>
    private static void ExitNow(int code)
    {
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()) ExitImmediately(code);
        Environment.Exit(code);
    }

    [DllImport("libc", EntryPoint = "_exit")]
    private static extern void ExitImmediately(int status);
}
