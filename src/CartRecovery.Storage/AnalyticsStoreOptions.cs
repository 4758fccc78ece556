using System.Text.RegularExpressions;
using CartRecovery.Storage.Schema;

namespace CartRecovery.Storage;

/// <summary>
/// Where a store writes and what schema it creates. <see cref="Database"/> isolates outputs: a replay or
/// backtest writes to its own database (e.g. <c>replay_2019_10</c>), created if missing, and never touches
/// <c>default</c>, where the live worker writes.
/// </summary>
public sealed partial record AnalyticsStoreOptions
{
    public const string DefaultDatabase = "default";

    public string Database { get; init; } = DefaultDatabase;

    public SchemaOptions Schema { get; init; } = SchemaOptions.Default;

    /// <summary>The analyst path: queries may only read the store's database (<see cref="ReadOnlySql"/> first, then the
    /// engine: a <c>readonly = 1</c> session on chDB, <c>readonly</c> and the analyst user's grants on a server), within
    /// <see cref="Limits"/>, and nothing is created.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>This command owns the store and sets its retention (<see cref="Schema.SchemaRetention.ApplyAsync"/>): the worker
    /// for the live store, a replay or backtest for its own database. Commands that read, report or erase leave every
    /// retention as it is, so opening a replay's database to read it never deletes its rows.</summary>
    public bool SetsRetention { get; init; }

    /// <summary>The time, memory and result bounds of each query on the analyst path (<see cref="ReadOnly"/>).</summary>
    public AnalystLimits Limits { get; init; } = AnalystLimits.Default;

    public static AnalyticsStoreOptions Default { get; } = new();

    /// <summary>The database name, checked: it is spliced into SQL, so only identifier characters are allowed.</summary>
    public bool IsValidDatabase() => DatabaseName().IsMatch(Database);

    public string ValidatedDatabase() => DatabaseName().IsMatch(Database)
        ? Database
        : throw new ArgumentException($"database name '{Database}' is not a plain identifier (letters, digits, '_'; not starting with a digit)");

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
    private static partial Regex DatabaseName();
}
