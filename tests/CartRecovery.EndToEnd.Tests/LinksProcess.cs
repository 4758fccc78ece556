using System.Diagnostics;

namespace CartRecovery.EndToEnd.Tests;

/// <summary>`cartrecovery links` as its own process on a free port; its first line names its address.</summary>
public sealed class LinksProcess : IDisposable
{
    private readonly Process _process;

    public LinksProcess(string bootstrap, string policyFile, params string[] extra)
    {
        _process = Cli.Start(["links", "--bootstrap", bootstrap, "--policy", policyFile, "--port", "0", .. extra]);
        var first = _process.StandardOutput.ReadLine() ?? throw new InvalidOperationException("links printed nothing: " + _process.StandardError.ReadToEnd());
        Assert.StartsWith("links=", first);
        Address = first["links=".Length..].TrimEnd('/');
        _ = _process.StandardError.ReadToEndAsync();
    }

    /// <summary>http://127.0.0.1:PORT</summary>
    public string Address { get; }

    public void Dispose()
    {
        try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        _process.Dispose();
    }
}
