using System.Text.RegularExpressions;
using CartRecovery.Replay.Tests.Support;

namespace CartRecovery.Replay.Tests;

/// <summary>docs/replay.md's synopsis and the commands' --help agree: every option a command prints is in the synopsis,
/// and every option the synopsis names is one the command has.</summary>
public sealed partial class CommandHelpDocsTests
{
    [GeneratedRegex(@"^\s+(--[a-z0-9-]+)", RegexOptions.Multiline)]
    private static partial Regex HelpOption();

    [GeneratedRegex(@"(?<![\w-])(--[a-z][a-z0-9-]+)")]
    private static partial Regex DocOption();

    [Theory]
    [InlineData("replay")]
    [InlineData("backtest")]
    public async Task The_replay_docs_synopsis_names_exactly_the_options_of_the_command(string command)
    {
        var help = await Cli.RunOkAsync(TimeSpan.FromMinutes(1), command, "--help");
        var docs = await File.ReadAllTextAsync(Path.Combine(Cli.RepoRoot, "docs", "replay.md"));
        var synopsis = Regex.Match(docs, "```bash\n(\\./run\\.sh replay .*?)```", RegexOptions.Singleline).Groups[1].Value;
        var lines = synopsis.Split("./run.sh ").Where(l => l.StartsWith(command + " ")).ToList();
        Assert.NotEmpty(lines);

        var helped = HelpOption().Matches(help.Stdout).Select(m => m.Groups[1].Value).Where(o => o != "--help").ToHashSet();
        var documented = lines.SelectMany(l => DocOption().Matches(l).Select(m => m.Groups[1].Value)).ToHashSet();

        Assert.Equal(helped.Order(), documented.Order());
    }

    [Theory]
    [InlineData("query")]
    [InlineData("config")]
    public async Task Query_and_config_help_say_what_their_additional_arguments_are(string command)
    {
        var help = await Cli.RunOkAsync(TimeSpan.FromMinutes(1), command, "--help");

        Assert.Contains("The additional arguments are configuration keys", help.Stdout);
    }
}
