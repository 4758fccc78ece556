using System.CommandLine;
using CartRecovery.Host;
using CartRecovery.Host.Commands;
using CartRecovery.Domain.Policy;
using CartRecovery.Streaming;
using CartRecovery.Traffic;

// Entry point of every part: the main job (default), the embedded broker, the traffic generator, the worker,
// and analyst queries. Each can run in its own process, so operators and tests can compose them.

var dataOption = new Option<string>("--data") { Description = "Directory of the embedded ClickHouse store and state", DefaultValueFactory = _ => "./data" };
var bootstrapOption = new Option<string?>("--bootstrap") { Description = "Kafka bootstrap servers (HOST:PORT[,HOST:PORT]); default: Kafka:BootstrapServers of the configuration" };
var shoppersOption = new Option<int>("--shoppers") { Description = "Number of simulated shoppers", DefaultValueFactory = _ => 3000 };
var seedOption = new Option<int>("--seed") { Description = "Seed of the traffic generator (same seed, same traffic)", DefaultValueFactory = _ => 42 };
var partitionsOption = new Option<int>("--partitions") { Description = "Partitions per topic", DefaultValueFactory = _ => 6 };
var policyOption = new Option<string?>("--policy") { Description = "Recovery policy file (JSON); default: the built-in default policy" };
var groupOption = new Option<string>("--group") { Description = "Consumer group id", DefaultValueFactory = _ => "cartrecovery-worker" };
var drainOption = new Option<bool>("--drain") { Description = "Exit 0 once all input is consumed: end of input is end of event time" };
var checkpointDbOption = new Option<string?>("--checkpoint-db") { Description = "SQLite file of the state checkpoints (default: DATA/checkpoints.db); share it between workers on one machine" };
var postgresOption = new Option<string?>("--postgres") { Description = "PostgreSQL connection string for the checkpoints (shared by pods), without a password; or the Postgres configuration section" };
var instanceOption = new Option<string?>("--instance-id") { Description = "Static group membership id (group.instance.id) for fast restarts" };
var idleWatermarkOption = new Option<string>("--idle-watermark")
{
    Description = "Live mode: where an idle partition's watermark goes: follow (the newest event time of the other partitions; a paused input moves nothing), " +
        "wall-clock (reminders fall due in total silence; a backlog after an upstream outage is late) or off",
    DefaultValueFactory = _ => "follow",
};
idleWatermarkOption.AcceptOnlyFromAmong("follow", "wall-clock", "off");
var startOverOption = new Option<bool>("--start-over")
{
    Description = "A partition without a checkpoint whose group has committed offsets (the checkpoint store was lost) is rebuilt from the " +
        "beginning of the input, every decision taken again, instead of stopping the worker",
};
var httpPortOption = new Option<int?>("--http-port") { Description = "Serve /healthz, /readyz and /metrics (Prometheus) on this port" };

var root = new RootCommand("CartRecovery: abandoned-cart recovery stream worker.\nWithout a command: run the main job on the embedded default (broker, generated traffic, worker, summary).");
root.Options.Add(dataOption);
root.Options.Add(shoppersOption);
root.Options.Add(seedOption);
root.Options.Add(partitionsOption);
root.Options.Add(policyOption);
// The simulated audience answers the triggers (docs/analytics.md, "Simulated audience"), or stays silent (no outcomes, no won-back orders).
var audienceOption = new Option<string>("--audience") { Description = "answers: simulated shoppers answer the triggers (two passes); silent: they do not", DefaultValueFactory = _ => "answers" };
audienceOption.AcceptOnlyFromAmong("answers", "silent");
root.Options.Add(audienceOption);
root.SetAction(async (parse, ct) =>
{
    var data = parse.GetValue(dataOption)!;
    // The embedded broker starts empty, so the run starts from nothing too: old checkpoints would point into a log that is gone.
    WorkerRunner.ClearEmbeddedState(data);
    IReadOnlyList<GeneratedEvent> events = StorefrontSimulator.Generate(new SimulationSettings { Shoppers = parse.GetValue(shoppersOption), Seed = parse.GetValue(seedOption) });
    var generated = events.Count;
    if (parse.GetValue(audienceOption) == "answers")
        events = await ClosedLoopTraffic.WithResponsesAsync(events, parse.GetValue(partitionsOption), parse.GetValue(policyOption), data,
            parse.GetValue(seedOption), ResponseModel.Default, ct);
    using var broker = EmbeddedBroker.Start(parse.GetValue(partitionsOption));
    Console.WriteLine($"embedded broker: {broker.BootstrapServers}");
    var sent = TrafficPublisher.Publish(broker.BootstrapServers, events);
    Console.WriteLine($"generated {generated:N0} events for {parse.GetValue(shoppersOption):N0} shoppers (seed {parse.GetValue(seedOption)})" +
        (sent > generated ? $", and {sent - generated:N0} answers of the simulated audience to the triggers (outcomes and won-back orders)" : ""));
    var run = await WorkerRunner.RunAsync(new WorkerSettings
    {
        BootstrapServers = broker.BootstrapServers,
        Drain = true,
        Checkpoints = WorkerRunner.CheckpointStore(data, null, null),
    }, parse.GetValue(policyOption), data, ct, progress: "main job", expectedEvents: sent);
    if (run.EventsConsumed + run.DeadLetters < sent)
        Console.Error.WriteLine($"warning: {sent - run.EventsConsumed - run.DeadLetters:N0} of {sent:N0} generated events were not consumed: the embedded " +
            "broker keeps only the newest 5 MB per partition; use more --partitions for inputs this large");
    await using var store = AnalyticsStoreFactory.Open(data);
    await RunSummary.PrintAsync(store, run, Console.Out, ct);
    Console.WriteLine($"\ndata stays queryable: ./run.sh query --data {data} \"SELECT * FROM recovery_triggers FINAL LIMIT 10\"");
    return 0;
});

var brokerCommand = new Command("broker", "Run the embedded Kafka-protocol broker (librdkafka mock cluster) until stopped; first line: bootstrap=HOST:PORT");
brokerCommand.Options.Add(partitionsOption);
brokerCommand.SetAction(async (parse, ct) =>
{
    using var broker = EmbeddedBroker.Start(parse.GetValue(partitionsOption));
    Console.WriteLine($"bootstrap={broker.BootstrapServers}");
    Console.Out.Flush();
    using var stop = new GracefulStop(ct);
    try { await Task.Delay(Timeout.Infinite, stop.Token); }
    catch (OperationCanceledException) { }
    return 0;
});

var generateCommand = new Command("generate", "Produce synthetic storefront, order and consent traffic into the input topics, then exit");
generateCommand.Options.Add(bootstrapOption);
generateCommand.Options.Add(shoppersOption);
generateCommand.Options.Add(seedOption);
generateCommand.SetAction(parse =>
{
    CartRecovery.Kafka.Native.LibrdkafkaLibrary.EnsureLoaded();
    var events = StorefrontSimulator.Generate(new SimulationSettings { Shoppers = parse.GetValue(shoppersOption), Seed = parse.GetValue(seedOption) });
    var sent = TrafficPublisher.Publish(HostConfiguration.KafkaAt(parse.GetValue(bootstrapOption)), events);
    Console.WriteLine($"generated {sent} events");
    return 0;
});

var workerCommand = new Command("worker", "Run the stream worker in a consumer group");
workerCommand.Options.Add(bootstrapOption);
workerCommand.Options.Add(dataOption);
workerCommand.Options.Add(drainOption);
workerCommand.Options.Add(groupOption);
workerCommand.Options.Add(policyOption);
workerCommand.Options.Add(checkpointDbOption);
workerCommand.Options.Add(postgresOption);
workerCommand.Options.Add(instanceOption);
workerCommand.Options.Add(httpPortOption);
workerCommand.Options.Add(idleWatermarkOption);
workerCommand.Options.Add(startOverOption);
workerCommand.SetAction(async (parse, ct) =>
{
    var data = parse.GetValue(dataOption)!;
    // Defaults, then the configuration (section Worker), then the options given on this command line.
    var operatorSettings = HostConfiguration.Current;
    var configured = operatorSettings.Worker(new WorkerSettings
    {
        BootstrapServers = operatorSettings.BootstrapServers(parse.GetValue(bootstrapOption)),
        Drain = parse.GetValue(drainOption),
        Checkpoints = WorkerRunner.CheckpointStore(data, parse.GetValue(checkpointDbOption), WorkerRunner.PostgresFromCommandLine(parse.GetValue(postgresOption))),
    });
    var settings = configured with
    {
        GroupId = parse.GetResult(groupOption) is { Implicit: false } ? parse.GetValue(groupOption)! : configured.GroupId,
        GroupInstanceId = parse.GetValue(instanceOption) ?? configured.GroupInstanceId,
        IdleWatermark = parse.GetResult(idleWatermarkOption) is { Implicit: false }
            ? parse.GetValue(idleWatermarkOption) switch { "wall-clock" => IdleWatermark.WallClock, "off" => IdleWatermark.Off, _ => IdleWatermark.Follow }
            : configured.IdleWatermark,
        StartOver = parse.GetValue(startOverOption),
    };
    using var stop = new GracefulStop(ct);
    // SIGTERM: the stop finishes within Worker:ShutdownTimeout whatever the broker does (ExitDeadline is the last resort).
    ExitDeadline? deadline = null;
    using var armed = stop.Token.Register(() => deadline = ExitDeadline.Arm(settings.ShutdownTimeout + TimeSpan.FromSeconds(5), "the graceful stop"));
    var run = await WorkerRunner.RunAsync(settings, parse.GetValue(policyOption), data, stop.Token, httpPort: parse.GetValue(httpPortOption));
    Console.WriteLine($"worker: {run.EventsConsumed} events, {run.DeadLetters} dead letters, {run.Elapsed.TotalSeconds:F1} s");
    deadline?.Dispose();
    return 0;
});

var formatOption = new Option<string>("--format") { Description = "table | tsv | json", DefaultValueFactory = _ => "table" };
var sqlArgument = new Argument<string>("sql") { Description = "The SQL query" };
var queryDataOption = new Option<string[]>("--data")
{
    Description = "Directory of the embedded store; repeat it to query the stores of several workers as one",
    DefaultValueFactory = _ => ["./data"],
};
var queryCommand = new Command("query", "Run a read-only analyst query (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN) on the analytics store's tables " +
    "and nothing else (no files, network, processes or other databases), bounded by Query:MaxExecutionSeconds, Query:MaxMemoryBytes " +
    "and Query:MaxResultBytes. The additional arguments are configuration keys, e.g. --Query:MaxExecutionSeconds=60");
queryCommand.Options.Add(queryDataOption);
queryCommand.Options.Add(formatOption);
queryCommand.Arguments.Add(sqlArgument);
queryCommand.SetAction(async (parse, ct) =>
{
    var format = parse.GetValue(formatOption) switch
    {
        "table" => "PrettyCompactMonoBlock",
        "tsv" => "TabSeparatedWithNames",
        "json" => "JSONEachRow",
        var other => throw new ArgumentException($"--format: unknown format '{other}' (table, tsv, json)"),
    };
    var directories = parse.GetValue(queryDataOption)!;
    if (directories.Length > 1)
    {
        Console.Write(await CombinedQuery.RunAsync(directories, parse.GetValue(sqlArgument)!, format, ct));
        return 0;
    }
    // Analysts read; the record (audit log, triggers, outcomes) is changed only by the worker and the commands made for it.
    await using var store = AnalyticsStoreFactory.Open(directories[0], new CartRecovery.Storage.AnalyticsStoreOptions { ReadOnly = true, Limits = HostConfiguration.Current.QueryLimits });
    Console.Write(await store.QueryAsync(parse.GetValue(sqlArgument)!, format, ct));
    return 0;
});

var configCommand = new Command("config", "Print the effective configuration (Kafka client properties per role, ClickHouse, PostgreSQL; secrets as ***) " +
    "and where it is read from. The additional arguments are configuration keys, applied last, e.g. --Kafka:ClientId=worker-1");
configCommand.Options.Add(bootstrapOption);
configCommand.SetAction(parse =>
{
    var operatorSettings = HostConfiguration.Current;
    foreach (var line in operatorSettings.Describe(parse.GetValue(bootstrapOption) ?? operatorSettings.Kafka.BootstrapServers))
        Console.WriteLine(line);
    return 0;
});

var policyCheck = new Command("check-policy",
    "Validate a policy file, print its segments and what would not work as written: refuses (exit 1) a step its own caps " +
    "stop every time or a template that does not render for a sample reminder; warns about an enabled step without a " +
    "template for one of its channels. Each finding names its JSON path");
var policyFileArgument = new Argument<string>("file");
policyCheck.Arguments.Add(policyFileArgument);
policyCheck.SetAction(parse =>
{
    var policy = PolicyFile.Parse(File.ReadAllText(parse.GetValue(policyFileArgument)!));
    var findings = PolicyCheck.Findings(policy);
    foreach (var finding in findings) Console.Error.WriteLine(finding);
    var errors = findings.Count(f => f.Severity == PolicyFinding.Error);
    Console.WriteLine($"policy {policy.Version}: segments {string.Join(", ", policy.Segments.Select(s => s.Name))}; " +
        $"{errors} error(s), {findings.Length - errors} warning(s)");
    return errors > 0 ? 1 : 0;
});

var schemaCommand = new Command("schema", "Print the JSON Schema of the input events (docs/events.schema.json)");
schemaCommand.SetAction(_ =>
{
    Console.Write(CartRecovery.Contracts.Serialization.ContractJson.EventSchema());
    return 0;
});

root.Subcommands.Add(brokerCommand);
root.Subcommands.Add(generateCommand);
root.Subcommands.Add(workerCommand);
root.Subcommands.Add(queryCommand);
root.Subcommands.Add(policyCheck);
root.Subcommands.Add(schemaCommand);
root.Subcommands.Add(configCommand);
root.Subcommands.Add(ReplayCommand.Create());
root.Subcommands.Add(BacktestCommand.Create());
root.Subcommands.Add(ReportCommand.Create());
foreach (var compliance in ComplianceCommands.Create()) root.Subcommands.Add(compliance);
root.Subcommands.Add(CartRecovery.Host.Links.LinksCommand.Create(bootstrapOption, policyOption));

try
{
    // The worker and broker commands handle SIGTERM/SIGINT themselves (graceful stop, exit 0); the parser must
    // neither kill the process after its default 2 s nor turn a graceful stop into exit code 143.
    // Configuration keys on the command line (--Kafka:ClientId=worker-1) are the tokens no option matched.
    foreach (var command in new[] { root, workerCommand, generateCommand, queryCommand, configCommand })
        command.TreatUnmatchedTokensAsErrors = false;
    var parsed = root.Parse(args);
    HostConfiguration.UseCommandLine([.. parsed.UnmatchedTokens]);
    // A mistyped option or command must stop the command before it does anything, not when it first reads the configuration.
    if (parsed.UnmatchedTokens.Count > 0) _ = HostConfiguration.Current;
    // The default handler would print a stack trace and exit 1; a bad value is reported with its key and exit 2.
    return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false });
}
// Exit codes (README, "Exit codes"): 0 done, 1 unexpected error or a refused query, 2 configuration or usage, 3 the worker
// failed at run time (broker, checkpoint store, outputs). Each prints its chain of causes.
catch (WorkerFailedException e)
{
    Console.Error.WriteLine($"error: the worker failed: {CauseChain(e)}");
    return ExitDeadline.RuntimeFailure;
}
catch (Exception e) when (e is PolicyValidationException or ArgumentException or InvalidOperationException)
{
    Console.Error.WriteLine($"error: {CauseChain(e)}");
    return 2;
}
catch (CartRecovery.Storage.ClickHouseQueryException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}
catch (Exception e)
{
    Console.Error.WriteLine($"error: {CauseChain(e)}\n{e}");
    return 1;
}

static string CauseChain(Exception e) => string.Join("\n  caused by: ", Causes(e));

static IEnumerable<string> Causes(Exception e)
{
    for (Exception? cause = e; cause is not null; cause = cause.InnerException)
        if (cause is not AggregateException { InnerExceptions.Count: 1 }) yield return $"{cause.Message}{(cause == e ? "" : $" ({cause.GetType().Name})")}";
}
