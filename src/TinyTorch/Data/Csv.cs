using System.Globalization;

namespace TinyTorch.Data;

/// <summary>
/// Reads numeric tables from delimited text files (plain or gzipped, detected by their first bytes):
/// one row per line, cells separated by one character, numbers in invariant culture
/// (<c>1.5</c>, <c>-2e-3</c>, <c>NaN</c>). Blank lines are skipped; there is no quoting.
/// </summary>
/// <remarks>NumPy: <c>np.loadtxt(path, delimiter=",", skiprows=1)</c>; pandas: <c>pd.read_csv(path).to_numpy()</c>.</remarks>
public static class Csv
{
    /// <summary>The whole table as a float64 tensor <c>[rows, columns]</c>.</summary>
    /// <param name="path">The file; a gzipped file is decompressed.</param>
    /// <param name="hasHeader">Skip the first line (column names).</param>
    /// <param name="separator">The cell separator (',' by default; ';' and '\t' are common).</param>
    /// <returns>The numbers, row-major; <c>[0, 0]</c> for a file without data rows.</returns>
    /// <exception cref="DataFormatException">A cell is empty or not a number, or a row has a different number of cells than the first (the message names the file, line and column).</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <remarks>NumPy: <c>np.loadtxt(path, delimiter=separator, skiprows=1 if hasHeader else 0)</c>.</remarks>
    public static Tensor ReadTable(string path, bool hasHeader = false, char separator = ',')
    {
        ArgumentNullException.ThrowIfNull(path);
        using var reader = DataFile.OpenText(path);
        var table = Parse(reader, path, hasHeader, separator);
        return Tensor.Wrap(Shape.Of(table.Rows, table.Columns), table.Values);
    }

    /// <summary>
    /// A table whose column <paramref name="labelColumn"/> holds integer class labels: the other
    /// columns become float64 features <c>[rows, columns − 1]</c>, the labels int64 <c>[rows]</c>.
    /// </summary>
    /// <param name="path">The file; a gzipped file is decompressed.</param>
    /// <param name="labelColumn">The 0-based column of the labels; negative counts from the end (−1: the last).</param>
    /// <param name="hasHeader">Skip the first line (column names).</param>
    /// <param name="separator">The cell separator.</param>
    /// <returns>The features and labels.</returns>
    /// <exception cref="DataFormatException">As <see cref="ReadTable"/>; also a label that is not an integer, a label column outside the table, or a table of fewer than 2 columns.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <remarks>pandas: <c>df = pd.read_csv(path); X, y = df.drop(columns=label), df[label]</c>.</remarks>
    public static TensorDataset ReadLabelled(string path, int labelColumn = -1, bool hasHeader = false, char separator = ',')
    {
        ArgumentNullException.ThrowIfNull(path);
        using var reader = DataFile.OpenText(path);
        return Labelled(Parse(reader, path, hasHeader, separator), path, labelColumn);
    }

    /// <summary>A parsed table: row-major values and the line number of every row.</summary>
    internal sealed record Table(double[] Values, int Rows, int Columns, int[] LineOfRow);

    /// <summary>Parses a numeric table; <paramref name="source"/> names the file in errors.</summary>
    internal static Table Parse(TextReader reader, string source, bool hasHeader, char separator)
    {
        var values = new List<double>();
        var lines = new List<int>();
        var columns = -1;
        var lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if ((hasHeader && lineNumber == 1) || string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            var count = 0;
            var rest = line.AsSpan();
            while (true)
            {
                var end = rest.IndexOf(separator);
                var cell = (end < 0 ? rest : rest[..end]).Trim();
                count++;
                if (columns >= 0 && count > columns)
                {
                    throw new DataFormatException(source, $"this row has more than {columns} cells, but the first data row (line {lines[0]}) has {columns}; every row needs the same number of cells.", lineNumber, count);
                }

                if (cell.IsEmpty)
                {
                    throw new DataFormatException(source, "the cell is empty; every cell must hold a number (fill in missing values first).", lineNumber, count);
                }

                if (!double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                {
                    var shown = cell.Length > 40 ? cell[..40].ToString() + "…" : cell.ToString();
                    throw new DataFormatException(source, $"'{shown}' is not a number{(lines.Count == 0 && !hasHeader ? " (if this line holds column names, pass hasHeader: true)" : "")}.", lineNumber, count);
                }

                values.Add(value);
                if (end < 0)
                {
                    break;
                }

                rest = rest[(end + 1)..];
            }

            if (columns < 0)
            {
                columns = count;
            }
            else if (count < columns)
            {
                throw new DataFormatException(source, $"this row has {count} cells, but the first data row (line {lines[0]}) has {columns}; every row needs the same number of cells.", lineNumber, count + 1);
            }

            lines.Add(lineNumber);
        }

        return new Table(values.ToArray(), lines.Count, Math.Max(columns, 0), lines.ToArray());
    }

    /// <summary>Splits a parsed table into float64 features and int64 labels.</summary>
    internal static TensorDataset Labelled(Table table, string source, int labelColumn)
    {
        if (table.Rows > 0 && table.Columns < 2)
        {
            throw new DataFormatException(source, $"the table has {table.Columns} column; a labelled table needs at least one feature column and one label column.");
        }

        var label = labelColumn < 0 ? table.Columns + labelColumn : labelColumn;
        if (table.Rows > 0 && (label < 0 || label >= table.Columns))
        {
            throw new DataFormatException(source, $"label column {labelColumn} is outside the table, which has {table.Columns} columns (0 to {table.Columns - 1}, or −1 to −{table.Columns} from the end).");
        }

        var featureCount = Math.Max(table.Columns - 1, 0);
        var features = new double[table.Rows * featureCount];
        var labels = new long[table.Rows];
        for (var r = 0; r < table.Rows; r++)
        {
            var row = table.Values.AsSpan(r * table.Columns, table.Columns);
            var value = row[label];
            if (value != Math.Floor(value) || Math.Abs(value) > 9.0e15)
            {
                throw new DataFormatException(source, $"the label {value.ToString(CultureInfo.InvariantCulture)} is not an integer; class labels must be whole numbers (0, 1, 2, …).", table.LineOfRow[r], label + 1);
            }

            labels[r] = (long)value;
            row[..label].CopyTo(features.AsSpan(r * featureCount));
            row[(label + 1)..].CopyTo(features.AsSpan(r * featureCount + label));
        }

        return new TensorDataset(Tensor.Wrap(Shape.Of(table.Rows, featureCount), features), Tensor.Wrap(Shape.Of(table.Rows), labels));
    }
}
