using System.Globalization;

namespace CartRecovery.Analytics;

/// <summary>A query result read from ClickHouse's TabSeparatedWithNames output: column names, then rows of text cells.</summary>
public sealed class QueryTable
{
    private readonly Dictionary<string, int> _index;

    private QueryTable(IReadOnlyList<string> columns, IReadOnlyList<string[]> rows)
    {
        Columns = columns;
        Rows = rows;
        _index = columns.Select((name, i) => (name, i)).ToDictionary(c => c.name, c => c.i);
    }

    public const string Format = "TabSeparatedWithNames";

    public IReadOnlyList<string> Columns { get; }

    public IReadOnlyList<string[]> Rows { get; }

    public static QueryTable Parse(string tsv)
    {
        var lines = tsv.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length == 0) return new QueryTable([], []);
        return new QueryTable(lines[0].Split('\t'), [.. lines.Skip(1).Select(l => l.Split('\t'))]);
    }

    public string Text(int row, string column) => Rows[row][_index.TryGetValue(column, out var i) ? i : throw new KeyNotFoundException($"no column '{column}' in ({string.Join(", ", Columns)})")];

    public double Number(int row, string column)
    {
        var text = Text(row, column);
        return text switch
        {
            "nan" or "-nan" => double.NaN,
            "inf" => double.PositiveInfinity,
            "-inf" => double.NegativeInfinity,
            _ => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture),
        };
    }

    public IEnumerable<int> RowIndexes => Enumerable.Range(0, Rows.Count);

    /// <summary>This table with one more column, its cell of each row computed from the row's index.</summary>
    public QueryTable WithColumn(string name, Func<int, string> cell) =>
        new([.. Columns, name], [.. RowIndexes.Select(i => (string[])[.. Rows[i], cell(i)])]);
}
