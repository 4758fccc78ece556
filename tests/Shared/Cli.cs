using System.Diagnostics;
using System.Text;

namespace CartRecovery.Testing;

/// <summary>Runs the real CLI (the build run.sh uses, in .build/host) as a separate process, as an operator would: the
/// end-to-end, analytics and replay tests are black box. Shared by those test projects (linked, not copied).</summary>
public static class Cli
{
    public static string RepoRoot { get; } = FindRoot();

    /// <summary>Allows the public development compliance keys (docs/compliance.md); set for every CLI a test starts.</summary>
    public const string DevelopmentKeysVariable = "CARTRECOVERY_Compliance__AllowDevelopmentKeys";

    public static string HostDll => Path.Combine(RepoRoot, ".build", "host", "cartrecovery.dll");

    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {ExitCode}\n{Stdout}\n{Stderr}";
    }

    public static Process Start(params string[] args) => Start(new Dictionary<string, string?>(), args);

    /// <summary>Starts the CLI with extra environment variables (a null value removes one), e.g. CARTRECOVERY_Kafka__* configuration.</summary>
    public static Process Start(IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        if (!File.Exists(HostDll)) throw new FileNotFoundException($"CLI not built: {HostDll} (./test.sh builds it)");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(HostDll);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        info.Environment["CARTRECOVERY_CHDB_LIB"] = Environment.GetEnvironmentVariable("CARTRECOVERY_CHDB_LIB") ?? Path.Combine(RepoRoot, ".tools", "chdb", "libchdb.so");
        info.Environment.Remove("CARTRECOVERY_CLICKHOUSE_URL");
        // Tests run with the public development keys (a test passing null here sees the production refusal).
        info.Environment[DevelopmentKeysVariable] = "true";
        foreach (var (name, value) in environment)
            if (value is null) info.Environment.Remove(name);
            else info.Environment[name] = value;
        return Process.Start(info) ?? throw new InvalidOperationException("could not start the CLI");
    }

    public static Task<Result> RunAsync(TimeSpan timeout, params string[] args) => RunAsync(timeout, new Dictionary<string, string?>(), args);

    public static async Task<Result> RunAsync(TimeSpan timeout, IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        using var process = Start(environment, args);
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            // What the process was doing when it was given up on, before it is killed: a rare stall then names its place.
            var where = await StallReportAsync(process.Id);
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"cartrecovery {string.Join(' ', args)} did not finish in {timeout}:\n{stdout}\n{stderr}\n{where}");
        }
        process.WaitForExit();
        return new Result(process.ExitCode, stdout.ToString(), stderr.ToString());
    }

    /// <summary>The threads of a process that did not finish: each thread's name, state and kernel wait channel (from /proc,
    /// which answers whatever the runtime is doing), then the managed stacks from dotnet-stack when it is installed
    /// (test.sh installs it; CARTRECOVERY_DOTNET_STACK names it) and answers within 30 s.</summary>
    private static async Task<string> StallReportAsync(int pid)
    {
        var report = new StringBuilder("threads of the process (name, state, wait channel):\n");
        try
        {
            foreach (var task in Directory.GetDirectories($"/proc/{pid}/task"))
            {
                var stat = await File.ReadAllTextAsync(Path.Combine(task, "stat"));
                var name = stat[(stat.IndexOf('(') + 1)..stat.LastIndexOf(')')];
                var state = stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[0];
                var wchan = File.Exists(Path.Combine(task, "wchan")) ? await File.ReadAllTextAsync(Path.Combine(task, "wchan")) : "";
                report.AppendLine($"  {Path.GetFileName(task)} {name} {state} {wchan}");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            report.AppendLine($"  (not readable: {e.Message})");
        }
        var tool = Environment.GetEnvironmentVariable("CARTRECOVERY_DOTNET_STACK");
        if (string.IsNullOrEmpty(tool) || !File.Exists(tool)) return report.ToString();
        try
        {
            var info = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            info.ArgumentList.Add("report");
            info.ArgumentList.Add("-p");
            info.ArgumentList.Add(pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
            using var stack = Process.Start(info)!;
            var output = stack.StandardOutput.ReadToEndAsync();
            using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try { await stack.WaitForExitAsync(patience.Token); }
            catch (OperationCanceledException)
            {
                stack.Kill(entireProcessTree: true);
                return report.AppendLine("managed stacks: dotnet-stack got no answer in 30 s (the runtime itself is stuck)").ToString();
            }
            report.AppendLine("managed stacks (dotnet-stack):").Append(await output);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException or InvalidOperationException)
        {
            report.AppendLine($"managed stacks: dotnet-stack failed: {e.Message}");
        }
        return report.ToString();
    }

    public static async Task<Result> RunOkAsync(TimeSpan timeout, params string[] args)
    {
        var result = await RunAsync(timeout, args);
        if (result.ExitCode != 0) throw new InvalidOperationException($"cartrecovery {string.Join(' ', args)} failed: {result}");
        return result;
    }

    public static async Task<string> QueryTsvAsync(string dataDirectory, string sql)
    {
        var result = await RunAsync(TimeSpan.FromMinutes(2), "query", "--data", dataDirectory, "--format", "tsv", sql);
        if (result.ExitCode != 0) throw new InvalidOperationException($"query failed ({result.ExitCode}): {result.Stderr}");
        return result.Stdout;
    }

    /// <summary>Rows of a TabSeparatedWithNames result, without the header.</summary>
    public static string[] Rows(string tsv) => tsv.Split('\n', StringSplitOptions.RemoveEmptyEntries)[1..];

    /// <summary>The exported triggers and audit rows of a data directory, each sorted by its id: what must be byte-identical between replays.</summary>
    public static async Task<(string Triggers, string Audit)> ExportAsync(string dataDirectory) =>
        (await QueryTsvAsync(dataDirectory, "SELECT * FROM recovery_triggers FINAL ORDER BY trigger_id"),
         await QueryTsvAsync(dataDirectory, "SELECT * FROM audit_log FINAL ORDER BY audit_id"));

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CartRecovery.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root (CartRecovery.sln) not found above " + AppContext.BaseDirectory);
    }
}
