using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using CartRecovery.Streaming;
using CartRecovery.Streaming.Checkpointing;

namespace CartRecovery.EndToEnd.Tests;

/// <summary>
/// The Kubernetes manifests under k8s/ against the real CLI: every manifest is well-formed YAML, the StatefulSet
/// passes only options that <c>cartrecovery worker</c> accepts, probes and metrics annotations use its --http-port,
/// the grace period outlasts the worker's shutdown timeout, and the Secret template holds placeholders only.
/// No YAML package is available in this registry, so <see cref="MiniYaml"/> parses the block-style subset the
/// manifests use (and rejects what it does not understand).
/// </summary>
public sealed class KubernetesManifestTests
{
    private static readonly string K8sDirectory = Path.Combine(Cli.RepoRoot, "k8s");
    private const string WorkerStatefulSet = "cartrecovery-worker";

    private static IReadOnlyList<string> ManifestFiles() =>
        [.. Directory.EnumerateFiles(K8sDirectory, "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)];

    private static IEnumerable<(string File, Dictionary<string, object?> Document)> Documents() =>
        ManifestFiles().SelectMany(file => MiniYaml.ParseDocuments(File.ReadAllText(file), file)
            .Select(doc => (file, Assert.IsType<Dictionary<string, object?>>(doc))));

    private static Dictionary<string, object?> WorkerPodSpec()
    {
        var statefulSets = Documents().Where(d => Str(d.Document, "kind") == "StatefulSet" && Str(d.Document, "metadata.name") == WorkerStatefulSet).ToList();
        var statefulSet = Assert.Single(statefulSets).Document;
        return Map(statefulSet, "spec.template.spec");
    }

    private static Dictionary<string, object?> WorkerContainer()
    {
        var containers = Seq(WorkerPodSpec(), "containers");
        return Assert.IsType<Dictionary<string, object?>>(Assert.Single(containers));
    }

    private static List<string> WorkerArgs() => [.. Seq(WorkerContainer(), "args").Select(a => Assert.IsType<string>(a))];

    /// <summary>Options passed to the worker, with their values (null for a flag), accepting both --opt value and --opt=value.</summary>
    private static List<(string Option, string? Value)> WorkerOptions(IReadOnlyList<string> args)
    {
        var options = new List<(string, string?)>();
        for (var i = 1; i < args.Count; i++)
        {
            var arg = args[i];
            Assert.True(arg.StartsWith("--", StringComparison.Ordinal), $"unexpected positional argument '{arg}' in the worker args");
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0) options.Add((arg[..eq], arg[(eq + 1)..]));
            else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) options.Add((arg, args[++i]));
            else options.Add((arg, null));
        }
        return options;
    }

    [Fact]
    public void Every_manifest_parses_as_yaml_with_an_apiVersion_and_a_kind()
    {
        var files = ManifestFiles();
        Assert.True(files.Count >= 6, $"expected the base (kustomization, StatefulSet, Service, PDB, Secret template) and a production overlay, found: {string.Join(", ", files)}");
        foreach (var file in files)
        {
            var documents = MiniYaml.ParseDocuments(File.ReadAllText(file), file);
            Assert.NotEmpty(documents);
            foreach (var document in documents)
            {
                var map = Assert.IsType<Dictionary<string, object?>>(document);
                Assert.False(string.IsNullOrWhiteSpace(Str(map, "apiVersion")), $"{file}: no apiVersion");
                Assert.False(string.IsNullOrWhiteSpace(Str(map, "kind")), $"{file}: no kind");
            }
        }
    }

    [Fact]
    public void Kustomizations_reference_existing_files_and_never_the_secret_template()
    {
        var kustomizations = Documents().Where(d => Str(d.Document, "kind") == "Kustomization").ToList();
        Assert.Contains(kustomizations, k => k.File.EndsWith(Path.Combine("overlays", "production", "kustomization.yaml"), StringComparison.Ordinal));
        foreach (var (file, kustomization) in kustomizations)
        {
            var dir = Path.GetDirectoryName(file)!;
            var resources = kustomization.TryGetValue("resources", out var r) && r is List<object?> list ? list.Cast<string>().ToList() : [];
            foreach (var resource in resources)
            {
                var path = Path.GetFullPath(Path.Combine(dir, resource));
                Assert.True(File.Exists(path) || Directory.Exists(path), $"{file}: resource '{resource}' does not exist");
                // Applying a Secret with placeholders would overwrite the real one: the template stays out of every kustomization.
                if (File.Exists(path))
                    Assert.DoesNotContain(MiniYaml.ParseDocuments(File.ReadAllText(path), path), d => d is Dictionary<string, object?> m && Str(m, "kind") == "Secret");
            }
            if (kustomization.TryGetValue("configMapGenerator", out var generators) && generators is List<object?> gens)
                foreach (var generator in gens.Cast<Dictionary<string, object?>>())
                    if (generator.TryGetValue("files", out var files) && files is List<object?> fileList)
                        foreach (var f in fileList.Cast<string>())
                        {
                            var source = f.Contains('=', StringComparison.Ordinal) ? f[(f.IndexOf('=', StringComparison.Ordinal) + 1)..] : f;
                            Assert.True(File.Exists(Path.Combine(dir, source)), $"{file}: configMapGenerator file '{source}' does not exist");
                        }
        }
    }

    [Fact]
    public async Task Every_option_the_StatefulSet_passes_is_one_the_worker_CLI_accepts()
    {
        var args = WorkerArgs();
        Assert.Equal("worker", args[0]);
        var passed = WorkerOptions(args);

        var help = await Cli.RunAsync(TimeSpan.FromMinutes(1), "worker", "--help");
        Assert.True(help.ExitCode == 0, $"worker --help exited {help.ExitCode}: {help.Stderr}");
        // "  --instance-id <instance-id>   Static group membership id ..." : option name, then <value> unless it is a flag.
        var accepted = new Dictionary<string, (bool TakesValue, bool Required)>();
        foreach (Match m in Regex.Matches(help.Stdout, @"^\s+(?:-\S+,\s+)*(--[a-z0-9-]+)(\s+<[^>]+>)?(.*)$", RegexOptions.Multiline))
            accepted[m.Groups[1].Value] = (m.Groups[2].Success, m.Groups[3].Value.Contains("(REQUIRED)", StringComparison.Ordinal));
        Assert.True(accepted.ContainsKey("--bootstrap"), $"could not read the options from worker --help:\n{help.Stdout}");

        foreach (var (option, value) in passed)
        {
            Assert.True(accepted.TryGetValue(option, out var spec), $"the StatefulSet passes {option}, which `cartrecovery worker` does not accept:\n{help.Stdout}");
            Assert.True(spec.TakesValue == value is not null, $"{option}: {(spec.TakesValue ? "needs a value" : "is a flag and takes no value")} (passed: '{value}')");
        }
        Assert.Equal(passed.Count, passed.Select(p => p.Option).Distinct().Count());
        foreach (var (option, spec) in accepted.Where(a => a.Value.Required))
            Assert.True(passed.Any(p => p.Option == option), $"the StatefulSet does not pass the required option {option}");
        // A long-running worker: --drain would exit at end of input and crash-loop the pod.
        Assert.DoesNotContain(passed, p => p.Option == "--drain");
        // Credentials come from the Secret through the environment, never through args visible in the pod spec.
        Assert.DoesNotContain(passed, p => p.Option == "--postgres");
    }

    [Fact]
    public void Instance_id_is_the_pod_name_and_every_referenced_variable_is_defined()
    {
        var container = WorkerContainer();
        var options = WorkerOptions(WorkerArgs());
        Assert.Equal("$(POD_NAME)", Assert.Single(options, o => o.Option == "--instance-id").Value);

        var env = Seq(container, "env").Cast<Dictionary<string, object?>>().ToDictionary(e => Str(e, "name")!);
        Assert.Equal("metadata.name", Str(env["POD_NAME"], "valueFrom.fieldRef.fieldPath"));
        // Kubernetes leaves an undefined $(VAR) as literal text: every reference must name a variable of the container.
        foreach (var arg in WorkerArgs())
            foreach (Match m in Regex.Matches(arg, @"\$\(([A-Za-z_][A-Za-z0-9_]*)\)"))
                Assert.True(env.ContainsKey(m.Groups[1].Value), $"args reference $({m.Groups[1].Value}), which the container does not define");
        // Secrets reach the worker as files of the Secret (one configuration key per file), settings as a ConfigMap file.
        var mounts = Seq(container, "volumeMounts").Cast<Dictionary<string, object?>>().ToDictionary(m => Str(m, "mountPath")!, m => Str(m, "name")!);
        var volumes = Seq(WorkerPodSpec(), "volumes").Cast<Dictionary<string, object?>>().ToDictionary(v => Str(v, "name")!);
        var secretsDir = Str(env["CARTRECOVERY_SECRETS_DIR"], "value")!;
        Assert.Equal("cartrecovery-secrets", Str(volumes[mounts[secretsDir]], "secret.secretName"));
        var settingsFile = Str(env["CARTRECOVERY_SETTINGS_FILE"], "value")!;
        Assert.Equal("cartrecovery-settings", Str(volumes[mounts[Path.GetDirectoryName(settingsFile)!]], "configMap.name"));
        // No secret as a plain env value or arg.
        Assert.DoesNotContain(env.Keys, name => name.Contains("PASSWORD", StringComparison.OrdinalIgnoreCase) || name.Contains("POSTGRES", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_secret_template_and_the_production_settings_reach_the_workers_configuration()
    {
        // The Secret as the pod sees it: one file per key in the mounted directory.
        var secrets = Directory.CreateTempSubdirectory("cartrecovery-secrets-");
        try
        {
            var template = Documents().Single(d => Str(d.Document, "kind") == "Secret").Document;
            foreach (var (key, value) in Map(template, "stringData"))
                File.WriteAllText(Path.Combine(secrets.FullName, key), (string)value!);
            var result = await Cli.RunAsync(TimeSpan.FromMinutes(1), new Dictionary<string, string?>
            {
                ["CARTRECOVERY_SECRETS_DIR"] = secrets.FullName,
                ["CARTRECOVERY_SETTINGS_FILE"] = Path.Combine(K8sDirectory, "overlays", "production", "appsettings.json"),
            }, "config", "--bootstrap", "kafka-0:9092");
            Assert.True(result.ExitCode == 0, result.ToString());
            foreach (var expected in new[]
            {
                "kafka.consumer.security.protocol = sasl_ssl", "kafka.consumer.sasl.mechanism = SCRAM-SHA-512", "kafka.consumer.sasl.username = REPLACE_ME",
                "kafka.consumer.sasl.password = ***", "kafka.producer.sasl.password = ***", "kafka.producer.compression.type = zstd",
                "clickhouse.username = REPLACE_ME", "clickhouse.password = ***", "clickhouse.database = cartrecovery",
            })
                Assert.Contains(expected, result.Stdout);
            Assert.Matches("postgres = .*Host=postgres.postgres.svc.cluster.local.*Password=\\*\\*\\*", result.Stdout);
            // The placeholder passwords are never printed.
            Assert.DoesNotMatch("password = REPLACE_ME|Password=REPLACE_ME", result.Stdout);
        }
        finally
        {
            secrets.Delete(recursive: true);
        }
    }

    /// <summary>Every kustomization (base, overlays, monitoring) renders with a real Kustomize: kubectl's, installed by
    /// scripts/install-kubectl.sh (./test.sh exports its path as CARTRECOVERY_KUBECTL).</summary>
    [Fact]
    public async Task Every_kustomization_renders_with_kubectl_kustomize()
    {
        var kubectl = Environment.GetEnvironmentVariable("CARTRECOVERY_KUBECTL") is { Length: > 0 } configured ? configured : "kubectl";
        var directories = Directory.EnumerateFiles(K8sDirectory, "kustomization.yaml", SearchOption.AllDirectories).Select(Path.GetDirectoryName).Order(StringComparer.Ordinal).ToList();
        Assert.Contains(directories, d => d!.EndsWith(Path.Combine("overlays", "autoscaling"), StringComparison.Ordinal));
        var rendered = new Dictionary<string, string>();
        foreach (var directory in directories)
        {
            var info = new System.Diagnostics.ProcessStartInfo(kubectl) { RedirectStandardOutput = true, RedirectStandardError = true };
            info.ArgumentList.Add("kustomize");
            info.ArgumentList.Add(directory!);
            System.Diagnostics.Process process;
            try
            {
                process = System.Diagnostics.Process.Start(info)!;
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                throw new Xunit.Sdk.XunitException($"{kubectl} not found ({e.Message}): run scripts/install-kubectl.sh and set CARTRECOVERY_KUBECTL (./test.sh does)");
            }
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.True(process.ExitCode == 0, $"kubectl kustomize {directory} failed: {await stderr}");
            rendered[Path.GetRelativePath(K8sDirectory, directory!)] = await stdout;
        }
        var autoscaling = rendered[Path.Combine("overlays", "autoscaling")];
        Assert.Contains("kind: ScaledObject", autoscaling);
        Assert.Contains("kind: TriggerAuthentication", autoscaling);
        // KEDA owns the replica count there: the rendered StatefulSet has none, the plain production overlay has its 6.
        var statefulSet = Regex.Match(autoscaling, @"kind: StatefulSet
(.*?)
---", RegexOptions.Singleline).Groups[1].Value;
        Assert.DoesNotContain("replicas:", statefulSet);
        Assert.Contains("replicas: 6", rendered[Path.Combine("overlays", "production")]);
        // The links service renders beside the worker in the base and every overlay.
        foreach (var overlay in new[] { "base", Path.Combine("overlays", "production"), Path.Combine("overlays", "autoscaling") })
        {
            Assert.Matches(@"kind: Deployment\nmetadata:\n(  .*\n)*  name: cartrecovery-links\n", rendered[overlay]);
            Assert.Matches(@"kind: Service\nmetadata:\n(  .*\n)*  name: cartrecovery-links\n", rendered[overlay]);
        }
        var maxReplicas = int.Parse(Regex.Match(autoscaling, @"maxReplicaCount: (\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(maxReplicas <= 6, $"maxReplicaCount {maxReplicas} exceeds the partition count the production overlay assumes (6)");
        Assert.Contains("kind: PrometheusRule", rendered["monitoring"]);
        Assert.Contains("grafana_dashboard: \"1\"", rendered["monitoring"]);
    }

    [Fact]
    public void Grace_period_outlasts_the_worker_shutdown_timeout()
    {
        var shutdown = new WorkerSettings { BootstrapServers = "unused:9092", Checkpoints = CheckpointStoreSettings.Sqlite("unused.db") }.ShutdownTimeout;
        var grace = int.Parse(Str(WorkerPodSpec(), "terminationGracePeriodSeconds")!, CultureInfo.InvariantCulture);
        Assert.True(grace > 30, $"terminationGracePeriodSeconds {grace} must exceed 30 s");
        Assert.True(grace > shutdown.TotalSeconds, $"terminationGracePeriodSeconds {grace} must exceed the worker's shutdown timeout {shutdown.TotalSeconds} s");
    }

    [Fact]
    public void Probes_and_metrics_use_the_http_port()
    {
        var options = WorkerOptions(WorkerArgs());
        var httpPort = int.Parse(Assert.Single(options, o => o.Option == "--http-port").Value!, CultureInfo.InvariantCulture);
        var container = WorkerContainer();
        var ports = Seq(container, "ports").Cast<Dictionary<string, object?>>().ToList();
        Assert.Contains(ports, p => Str(p, "containerPort") == httpPort.ToString(CultureInfo.InvariantCulture));

        int Resolve(string port) => int.TryParse(port, CultureInfo.InvariantCulture, out var n)
            ? n
            : int.Parse(Str(Assert.Single(ports, p => Str(p, "name") == port), "containerPort")!, CultureInfo.InvariantCulture);

        foreach (var (probe, path) in new[] { ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/healthz") })
        {
            Assert.True(container.ContainsKey(probe), $"no {probe}");
            Assert.Equal(path, Str(container, $"{probe}.httpGet.path"));
            Assert.Equal(httpPort, Resolve(Str(container, $"{probe}.httpGet.port")!));
        }

        var statefulSet = Documents().Single(d => Str(d.Document, "kind") == "StatefulSet").Document;
        Assert.Equal("true", Str(statefulSet, "spec.template.metadata.annotations.prometheus.io/scrape"));
        Assert.Equal(httpPort.ToString(CultureInfo.InvariantCulture), Str(statefulSet, "spec.template.metadata.annotations.prometheus.io/port"));
        Assert.Equal("/metrics", Str(statefulSet, "spec.template.metadata.annotations.prometheus.io/path"));
        Assert.Equal("Parallel", Str(statefulSet, "spec.podManagementPolicy"));

        var service = Documents().Single(d => Str(d.Document, "kind") == "Service" && Str(d.Document, "metadata.name") == Str(statefulSet, "spec.serviceName")).Document;
        Assert.Equal("None", Str(service, "spec.clusterIP"));
        var servicePort = Assert.IsType<Dictionary<string, object?>>(Assert.Single(Seq(service, "spec.ports")));
        Assert.Equal(httpPort, Resolve(Str(servicePort, "targetPort")!));
    }

    /// <summary>The links service beside the worker: a Deployment passing only options `cartrecovery links` accepts, probes
    /// on its port, the worker's policy, settings and secrets, and a Service in front of that port.</summary>
    [Fact]
    public async Task The_links_Deployment_passes_options_the_links_CLI_accepts_and_its_Service_targets_its_port()
    {
        var deployment = Assert.Single(Documents(), d => Str(d.Document, "kind") == "Deployment" && Str(d.Document, "metadata.name") == "cartrecovery-links").Document;
        var pod = Map(deployment, "spec.template.spec");
        var container = Assert.IsType<Dictionary<string, object?>>(Assert.Single(Seq(pod, "containers")));
        var args = Seq(container, "args").Select(a => Assert.IsType<string>(a)).ToList();
        Assert.Equal("links", args[0]);
        var passed = WorkerOptions(args);
        var help = await Cli.RunAsync(TimeSpan.FromMinutes(1), "links", "--help");
        Assert.True(help.ExitCode == 0, $"links --help exited {help.ExitCode}: {help.Stderr}");
        foreach (var (option, value) in passed)
        {
            Assert.Matches($@"(?m)^\s+{Regex.Escape(option)} <", help.Stdout);
            Assert.NotNull(value);
        }
        var port = Assert.Single(passed, p => p.Option == "--port").Value!;
        var containerPort = Assert.IsType<Dictionary<string, object?>>(Assert.Single(Seq(container, "ports")));
        Assert.Equal(port, Str(containerPort, "containerPort"));
        foreach (var probe in new[] { "livenessProbe", "readinessProbe" })
        {
            Assert.Equal("/healthz", Str(container, $"{probe}.httpGet.path"));
            Assert.Equal(Str(containerPort, "name"), Str(container, $"{probe}.httpGet.port"));
        }
        // The same policy file as the worker (checkout_url, link validity) and the same secrets (the token key).
        Assert.Equal(Assert.Single(WorkerOptions(WorkerArgs()), o => o.Option == "--policy").Value, Assert.Single(passed, p => p.Option == "--policy").Value);
        var volumes = Seq(pod, "volumes").Cast<Dictionary<string, object?>>().ToList();
        Assert.Equal("cartrecovery-secrets", Str(Assert.Single(volumes, v => Str(v, "name") == "secrets"), "secret.secretName"));
        Assert.Equal("cartrecovery-policy", Str(Assert.Single(volumes, v => Str(v, "name") == "policy"), "configMap.name"));
        Assert.Equal("true", Str(container, "securityContext.readOnlyRootFilesystem"));

        var service = Assert.Single(Documents(), d => Str(d.Document, "kind") == "Service" && Str(d.Document, "metadata.name") == "cartrecovery-links").Document;
        Assert.Equal("cartrecovery-links", Str(service, "spec.selector.app.kubernetes.io/name"));
        Assert.Equal("cartrecovery-links", Str(deployment, "spec.template.metadata.labels.app.kubernetes.io/name"));
        var servicePort = Assert.IsType<Dictionary<string, object?>>(Assert.Single(Seq(service, "spec.ports")));
        Assert.Equal(Str(containerPort, "name"), Str(servicePort, "targetPort"));
    }

    [Fact]
    public void Secret_template_holds_placeholders_only()
    {
        var secrets = Documents().Where(d => Str(d.Document, "kind") == "Secret").ToList();
        Assert.NotEmpty(secrets);
        foreach (var (file, secret) in secrets)
        {
            var values = new Dictionary<string, string>();
            if (secret.TryGetValue("stringData", out var sd) && sd is Dictionary<string, object?> stringData)
                foreach (var (k, v) in stringData) values[k] = v as string ?? "";
            if (secret.TryGetValue("data", out var d) && d is Dictionary<string, object?> data)
                foreach (var (k, v) in data) values[k] = Encoding.UTF8.GetString(Convert.FromBase64String(v as string ?? ""));
            Assert.NotEmpty(values);
            foreach (var (key, value) in values)
            {
                Assert.True(value.Contains(Placeholder, StringComparison.Ordinal), $"{file}: '{key}' has no {Placeholder} placeholder: it may be a real value");
                foreach (var password in PasswordsIn(value))
                    Assert.True(password == Placeholder, $"{file}: '{key}' holds a password that is not the {Placeholder} placeholder");
            }
        }
    }

    private const string Placeholder = "REPLACE_ME";

    /// <summary>Password-like parts of a connection string or URL: Password=/Pwd= values and the user-info password.</summary>
    private static IEnumerable<string> PasswordsIn(string value)
    {
        foreach (Match m in Regex.Matches(value, @"(?i)\b(?:password|pwd|passwd|secret|token)\s*=\s*([^;&\s]*)")) yield return m.Groups[1].Value;
        foreach (Match m in Regex.Matches(value, @"://[^:/@\s]+:([^@/\s]*)@")) yield return m.Groups[1].Value;
    }

    [Fact]
    public async Task The_policy_in_the_ConfigMap_is_a_valid_policy()
    {
        var policy = Path.Combine(K8sDirectory, "base", "policy.json");
        var result = await Cli.RunAsync(TimeSpan.FromMinutes(1), "check-policy", policy);
        Assert.True(result.ExitCode == 0, $"check-policy {policy} failed ({result.ExitCode}): {result.Stderr}");
        var mount = Assert.Single(Seq(WorkerContainer(), "volumeMounts").Cast<Dictionary<string, object?>>(), v => Str(v, "name") == "policy");
        var policyArg = Assert.Single(WorkerOptions(WorkerArgs()), o => o.Option == "--policy").Value!;
        Assert.Equal(Str(mount, "mountPath") + "/policy.json", policyArg);
    }

    [Fact]
    public void Dockerfile_publishes_the_host_and_runs_it_as_non_root()
    {
        var dockerfile = File.ReadAllText(Path.Combine(Cli.RepoRoot, "Dockerfile"));
        var publish = Regex.Match(dockerfile, @"dotnet publish (\S+\.csproj)");
        Assert.True(publish.Success, "the Dockerfile does not run dotnet publish");
        Assert.True(File.Exists(Path.Combine(Cli.RepoRoot, publish.Groups[1].Value)), $"{publish.Groups[1].Value} does not exist");
        Assert.Contains(@"ENTRYPOINT [""dotnet"", ""/app/cartrecovery.dll""]", dockerfile, StringComparison.Ordinal);
        var users = Regex.Matches(dockerfile, @"^USER\s+(\S+)", RegexOptions.Multiline);
        Assert.NotEmpty(users);
        Assert.DoesNotMatch(@"^(root|0)(:|$)", users[^1].Groups[1].Value);
        var ignored = File.ReadAllLines(Path.Combine(Cli.RepoRoot, ".dockerignore"));
        foreach (var dir in new[] { "bin/", "obj/", ".build/", ".tools/", "data/" })
            Assert.Contains(ignored, line => line.Trim().TrimStart('*', '/') == dir);
    }

    // ---- navigation helpers over MiniYaml's tree (mappings, lists, strings) ----

    /// <summary>Follows a dotted path; a key that itself contains dots (annotations) is matched greedily.</summary>
    private static object? Get(Dictionary<string, object?> map, string path)
    {
        if (map.TryGetValue(path, out var whole)) return whole;
        var parts = path.Split('.');
        for (var take = parts.Length - 1; take >= 1; take--)
        {
            var key = string.Join('.', parts[..take]);
            if (map.TryGetValue(key, out var child) && child is Dictionary<string, object?> childMap)
                return Get(childMap, string.Join('.', parts[take..]));
        }
        return null;
    }

    private static string? Str(Dictionary<string, object?> map, string path) => Get(map, path) as string;

    private static Dictionary<string, object?> Map(Dictionary<string, object?> map, string path) =>
        Get(map, path) as Dictionary<string, object?> ?? throw new Xunit.Sdk.XunitException($"no mapping at '{path}'");

    private static List<object?> Seq(Dictionary<string, object?> map, string path) =>
        Get(map, path) as List<object?> ?? throw new Xunit.Sdk.XunitException($"no list at '{path}'");
}

/// <summary>
/// A small parser for block-style YAML as Kubernetes manifests write it: mappings, sequences ("- " items, also
/// "- key: value" items), plain, single- and double-quoted scalars, block scalars (| and >), flow lists of scalars,
/// comments and "---" document separators. Scalars stay strings. Anything else (tabs in indentation, a line at an
/// unexpected indentation, duplicate keys, unterminated quotes, anchors, tags) is a <see cref="FormatException"/>.
/// </summary>
public static class MiniYaml
{
    private sealed class Line(int number, int indent, string text)
    {
        public int Number { get; } = number;
        public int Indent { get; set; } = indent;
        public string Text { get; set; } = text;
    }

    public static List<object?> ParseDocuments(string yaml, string source = "<yaml>")
    {
        var documents = new List<object?>();
        var raw = yaml.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var start = 0;
        for (var i = 0; i <= raw.Length; i++)
        {
            if (i < raw.Length && !(raw[i].StartsWith("---", StringComparison.Ordinal) && raw[i][3..].Trim().Length == 0)) continue;
            var part = raw[start..i];
            if (!part.All(IsBlankOrComment)) documents.Add(new Parser(part, start, source).ParseDocument());
            start = i + 1;
        }
        return documents;
    }

    private static bool IsBlankOrComment(string line) => line.Trim().Length == 0 || line.TrimStart().StartsWith('#');

    private sealed class Parser
    {
        private readonly string[] _raw;
        private readonly int _firstLine;
        private readonly string _source;
        private readonly List<Line> _lines = [];
        private int _pos;

        public Parser(string[] raw, int firstLine, string source)
        {
            _raw = raw;
            _firstLine = firstLine;
            _source = source;
            for (var i = 0; i < raw.Length; i++)
            {
                var line = raw[i];
                if (IsBlankOrComment(line)) continue;
                var indent = line.Length - line.TrimStart(' ').Length;
                if (line[indent] == '\t') throw Error(i, "tab in indentation");
                var text = StripComment(line[indent..], i).TrimEnd();
                _lines.Add(new Line(i, indent, text));
                if (!Regex.IsMatch(text, @"(^|: |^- )[|>][+-]?$")) continue;
                // A block scalar: its lines are content (no comments, any quotes) and are read raw by ParseBlockScalar.
                var keyIndent = indent;
                for (var rest = text; rest.StartsWith("- ", StringComparison.Ordinal); rest = rest[2..].TrimStart(' '))
                    keyIndent += 2 + (rest[2..].Length - rest[2..].TrimStart(' ').Length);
                while (i + 1 < raw.Length && (raw[i + 1].Trim().Length == 0 || raw[i + 1].Length - raw[i + 1].TrimStart(' ').Length > keyIndent)) i++;
            }
        }

        private FormatException Error(int index, string message) =>
            new($"{_source}:{_firstLine + index + 1}: {message}: '{(index < _raw.Length ? _raw[index].Trim() : "")}'");

        public object? ParseDocument()
        {
            var value = ParseNode(_lines[0].Indent);
            if (_pos < _lines.Count) throw Error(_lines[_pos].Number, "unexpected indentation");
            return value;
        }

        private static bool IsSequenceItem(string text) => text == "-" || text.StartsWith("- ", StringComparison.Ordinal);

        private object? ParseNode(int indent)
        {
            var line = _lines[_pos];
            if (line.Indent != indent) throw Error(line.Number, "unexpected indentation");
            if (IsSequenceItem(line.Text)) return ParseSequence(indent);
            if (FindKeySeparator(line.Text) >= 0) return ParseMapping(indent);
            _pos++;
            return ParseScalar(line.Text, line.Number);
        }

        private List<object?> ParseSequence(int indent)
        {
            var items = new List<object?>();
            while (_pos < _lines.Count && _lines[_pos].Indent == indent && IsSequenceItem(_lines[_pos].Text))
            {
                var line = _lines[_pos];
                var rest = line.Text.Length > 1 ? line.Text[2..] : "";
                var offset = 2 + (rest.Length - rest.TrimStart(' ').Length);
                rest = rest.TrimStart(' ');
                if (rest.Length == 0)
                {
                    _pos++;
                    items.Add(_pos < _lines.Count && _lines[_pos].Indent > indent ? ParseNode(_lines[_pos].Indent) : null);
                }
                else if (IsSequenceItem(rest) || FindKeySeparator(rest) >= 0)
                {
                    // "- key: value" opens a mapping (or "- - x" a sequence) indented at the item's content.
                    line.Indent = indent + offset;
                    line.Text = rest;
                    items.Add(ParseNode(line.Indent));
                }
                else if (Regex.IsMatch(rest, @"^[|>][+-]?$"))
                {
                    _pos++;
                    items.Add(ParseBlockScalar(rest, indent, line.Number));
                }
                else
                {
                    _pos++;
                    items.Add(ParseScalar(rest, line.Number));
                }
            }
            return items;
        }

        private Dictionary<string, object?> ParseMapping(int indent)
        {
            var map = new Dictionary<string, object?>(StringComparer.Ordinal);
            while (_pos < _lines.Count && _lines[_pos].Indent == indent)
            {
                var line = _lines[_pos];
                if (IsSequenceItem(line.Text)) throw Error(line.Number, "sequence item inside a mapping");
                var sep = FindKeySeparator(line.Text);
                if (sep < 0) throw Error(line.Number, "expected 'key: value'");
                var key = Unquote(line.Text[..sep].Trim(), line.Number);
                var value = line.Text[(sep + 1)..].Trim();
                if (!map.TryAdd(key, null)) throw Error(line.Number, $"duplicate key '{key}'");
                _pos++;
                if (value.Length == 0)
                {
                    if (_pos < _lines.Count && (_lines[_pos].Indent > indent || (_lines[_pos].Indent == indent && IsSequenceItem(_lines[_pos].Text))))
                        map[key] = ParseNode(_lines[_pos].Indent);
                }
                else if (value[0] is '|' or '>')
                {
                    map[key] = ParseBlockScalar(value, indent, line.Number);
                }
                else
                {
                    map[key] = ParseScalar(value, line.Number);
                }
            }
            return map;
        }

        private string ParseBlockScalar(string header, int indent, int headerIndex)
        {
            if (!Regex.IsMatch(header, @"^[|>][+-]?$")) throw Error(headerIndex, "unsupported block scalar header");
            // The constructor left the block's lines out of _lines: the content runs up to the next structural line.
            var end = _pos < _lines.Count ? _lines[_pos].Number : _raw.Length;
            var body = _raw[(headerIndex + 1)..end];
            var contentIndent = body.Where(l => l.Trim().Length > 0).Select(l => l.Length - l.TrimStart(' ').Length).DefaultIfEmpty(indent + 1).First();
            if (contentIndent <= indent) throw Error(headerIndex, "block scalar content is not indented");
            var text = string.Join('\n', body.Select(l => l.Length >= contentIndent ? l[contentIndent..] : l.Trim()));
            return header.Contains('-', StringComparison.Ordinal) ? text.TrimEnd('\n') : text.TrimEnd('\n') + "\n";
        }

        private object? ParseScalar(string text, int index)
        {
            if (text[0] is '&' or '*' or '!') throw Error(index, "anchors, aliases and tags are not supported");
            if (text[0] == '{')
            {
                if (text != "{}") throw Error(index, "flow mappings are not supported");
                return new Dictionary<string, object?>(StringComparer.Ordinal);
            }
            if (text[0] == '[')
            {
                if (!text.EndsWith(']')) throw Error(index, "unterminated flow sequence");
                var inner = text[1..^1].Trim();
                if (inner.Length == 0) return new List<object?>();
                if (inner.IndexOfAny(['[', '{', '"', '\'']) >= 0) throw Error(index, "only flow sequences of plain scalars are supported");
                return inner.Split(',').Select(s => (object?)s.Trim()).ToList();
            }
            if (text is "~" or "null") return null;
            return Unquote(text, index);
        }

        private string Unquote(string text, int index)
        {
            if (text.Length == 0) return text;
            if (text[0] == '"')
            {
                if (text.Length < 2 || text[^1] != '"') throw Error(index, "unterminated double-quoted string");
                return Regex.Unescape(text[1..^1]);
            }
            if (text[0] == '\'')
            {
                if (text.Length < 2 || text[^1] != '\'') throw Error(index, "unterminated single-quoted string");
                return text[1..^1].Replace("''", "'", StringComparison.Ordinal);
            }
            return text;
        }

        /// <summary>Index of the ':' that separates a key from its value (followed by a space or the end), outside quotes; -1 if none.</summary>
        private static int FindKeySeparator(string text)
        {
            if (text.Length == 0) return -1;
            var i = 0;
            if (text[0] is '"' or '\'')
            {
                var close = text.IndexOf(text[0], 1);
                if (close < 0) return -1;
                i = close + 1;
            }
            else if (text[0] is '[' or '{') return -1;
            for (; i < text.Length; i++)
                if (text[i] == ':' && (i + 1 == text.Length || text[i + 1] == ' ')) return i;
            return -1;
        }

        /// <summary>Drops a " #" comment outside quotes; an unterminated quote is an error.</summary>
        private string StripComment(string text, int index)
        {
            char? quote = null;
            for (var i = 0; i < text.Length; i++)
            {
                var c = text[i];
                if (quote is null)
                {
                    if ((c == '"' || c == '\'') && (i == 0 || text[i - 1] is ' ' or ':' or '[' or ',' or '-')) quote = c;
                    else if (c == '#' && (i == 0 || text[i - 1] == ' ')) return text[..i];
                }
                else if (c == '\\' && quote == '"') i++;
                else if (c == quote)
                {
                    if (quote == '\'' && i + 1 < text.Length && text[i + 1] == '\'') i++;
                    else quote = null;
                }
            }
            if (quote is not null) throw Error(index, "unterminated quoted string");
            return text;
        }
    }
}
