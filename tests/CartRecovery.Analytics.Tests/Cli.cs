using System.Diagnostics;
using System.Text;

namespace CartRecovery.Analytics.Tests;

/// <summary>Runs the real CLI (the build run.sh uses, in .build/host) as a separate process, as an operator would.</summary>
public static class Cli
{
    public static string RepoRoot { get; } = FindRoot();

    public static string HostDll => Path.Combine(RepoRoot, ".build", "host", "cartrecovery.dll");

    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static async Task<Result> RunAsync(TimeSpan timeout, params string[] args)
    {
        if (!File.Exists(HostDll)) throw new FileNotFoundException($"CLI not built: {HostDll} (./test.sh builds it)");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(HostDll);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        info.Environment["CARTRECOVERY_CHDB_LIB"] = Environment.GetEnvironmentVariable("CARTRECOVERY_CHDB_LIB") ?? Path.Combine(RepoRoot, ".tools", "chdb", "libchdb.so");
        // These tests are about the embedded default; a server URL in the environment must not redirect them.
        info.Environment.Remove("CARTRECOVERY_CLICKHOUSE_URL");
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the CLI");
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
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"cartrecovery {string.Join(' ', args)} did not finish in {timeout}:\n{stdout}\n{stderr}");
        }
        process.WaitForExit();
        return new Result(process.ExitCode, stdout.ToString(), stderr.ToString());
    }

    public static async Task<string> QueryTsvAsync(string dataDirectory, string sql)
    {
        var result = await RunAsync(TimeSpan.FromMinutes(2), "query", "--data", dataDirectory, "--format", "tsv", sql);
        if (result.ExitCode != 0) throw new InvalidOperationException($"query failed ({result.ExitCode}): {result.Stderr}");
        return result.Stdout;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CartRecovery.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root (CartRecovery.sln) not found above " + AppContext.BaseDirectory);
    }
}
