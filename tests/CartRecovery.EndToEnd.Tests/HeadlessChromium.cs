using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace CartRecovery.EndToEnd.Tests;

/// <summary>
/// Debian's headless Chromium (scripts/install-chromium.sh) driven over the DevTools protocol: navigate, evaluate,
/// click, as a shopper's browser would (forms, redirects, cookies off). No package for it is in this registry, so this
/// speaks the protocol's JSON over a WebSocket directly.
/// </summary>
public sealed partial class HeadlessChromium : IAsyncDisposable
{
    public const string Executable = "/usr/bin/chromium";
    private readonly Process _process;
    private readonly ClientWebSocket _socket;
    private readonly string _profile;
    private readonly StringBuilder _log;
    private int _nextId;

    private HeadlessChromium(Process process, ClientWebSocket socket, string profile, StringBuilder log) =>
        (_process, _socket, _profile, _log) = (process, socket, profile, log);

    public static bool Installed => File.Exists(Executable);

    public static async Task<HeadlessChromium> StartAsync()
    {
        var profile = Directory.CreateTempSubdirectory("cartrecovery-chromium-").FullName;
        var info = new ProcessStartInfo(Executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--no-first-run", "--remote-debugging-port=0", "--remote-allow-origins=*", $"--user-data-dir={profile}", "about:blank" })
            info.ArgumentList.Add(arg);
        var process = Process.Start(info)!;
        var log = new StringBuilder();
        using var started = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        int port;
        while (true)
        {
            var line = await process.StandardError.ReadLineAsync(started.Token) ?? throw new InvalidOperationException($"chromium exited:\n{log}");
            log.AppendLine(line);
            if (DevToolsLine().Match(line) is { Success: true } match) { port = int.Parse(match.Groups["port"].Value); break; }
        }
        _ = Task.Run(async () => { while (await process.StandardError.ReadLineAsync() is { } more) lock (log) log.AppendLine(more); });
        _ = process.StandardOutput.ReadToEndAsync();

        // The page target Chromium opened for about:blank.
        using var http = new HttpClient();
        string? pageSocket = null;
        for (var attempt = 0; pageSocket is null && attempt < 50; attempt++)
        {
            var targets = JsonNode.Parse(await http.GetStringAsync($"http://127.0.0.1:{port}/json/list"))!.AsArray();
            pageSocket = targets.FirstOrDefault(t => (string?)t!["type"] == "page")?["webSocketDebuggerUrl"]?.GetValue<string>();
            if (pageSocket is null) await Task.Delay(100);
        }
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri(pageSocket ?? throw new InvalidOperationException($"no page target:\n{log}")), started.Token);
        return new HeadlessChromium(process, socket, profile, log);
    }

    public async Task NavigateAsync(string url) => await SendAsync("Page.navigate", new JsonObject { ["url"] = url });

    /// <summary>A JavaScript expression's value in the page, as a string ("" for undefined or null).</summary>
    public async Task<string> EvaluateAsync(string expression)
    {
        var result = await SendAsync("Runtime.evaluate", new JsonObject { ["expression"] = expression, ["returnByValue"] = true });
        return result?["result"]?["value"]?.ToString() ?? "";
    }

    /// <summary>Waits (up to a minute) until <paramref name="expression"/> is true in a fully loaded page.</summary>
    public async Task WaitUntilAsync(string expression)
    {
        var clock = Stopwatch.StartNew();
        while (await EvaluateAsync($"document.readyState === 'complete' && !!({expression})") != "true")
        {
            if (clock.Elapsed > TimeSpan.FromMinutes(1))
                throw new TimeoutException($"page never satisfied {expression}; at {await EvaluateAsync("location.href")}: " +
                    $"{await EvaluateAsync("document.body ? document.body.innerText : ''")}\n{Log}");
            await Task.Delay(100);
        }
    }

    public string Log { get { lock (_log) return _log.ToString(); } }

    private async Task<JsonNode?> SendAsync(string method, JsonObject parameters)
    {
        var id = ++_nextId;
        var request = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters };
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await _socket.SendAsync(Encoding.UTF8.GetBytes(request.ToJsonString()), WebSocketMessageType.Text, true, timeout.Token);
        var buffer = new byte[1 << 16];
        while (true)
        {
            using var message = new MemoryStream();
            WebSocketReceiveResult received;
            do
            {
                received = await _socket.ReceiveAsync(buffer, timeout.Token);
                message.Write(buffer, 0, received.Count);
            } while (!received.EndOfMessage);
            var reply = JsonNode.Parse(message.ToArray())!;
            // Events (no id) and replies to earlier requests pass by.
            if ((int?)reply["id"] != id) continue;
            if (reply["error"] is { } error) throw new InvalidOperationException($"{method}: {error.ToJsonString()}");
            return reply["result"];
        }
    }

    public async ValueTask DisposeAsync()
    {
        try { await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None); } catch (WebSocketException) { }
        _socket.Dispose();
        try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        await _process.WaitForExitAsync();
        _process.Dispose();
        try { Directory.Delete(_profile, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    [GeneratedRegex(@"DevTools listening on ws://127\.0\.0\.1:(?<port>\d+)/")]
    private static partial Regex DevToolsLine();
}
