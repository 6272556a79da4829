namespace TinyTorch.Data;

/// <summary>
/// A data file is malformed: truncated, a wrong magic number, counts that disagree, corrupt gzip data,
/// an empty or non-numeric cell, a ragged row. The message names the file, the place (line and column
/// for text files) and what is wrong; <see cref="Path"/>, <see cref="Line"/> and <see cref="Column"/> carry them.
/// </summary>
/// <remarks>
/// Thrown by <see cref="Idx"/> and <see cref="Csv"/> (checkpoints throw <see cref="InvalidDataException"/>).
/// Python: torchvision raises <c>AssertionError</c>/<c>RuntimeError</c> for bad IDX files, <c>np.loadtxt</c> a <c>ValueError</c>.
/// </remarks>
public sealed class DataFormatException : FormatException
{
    /// <summary>A bad-file error for <paramref name="path"/>.</summary>
    /// <param name="path">The file (or resource) that is malformed.</param>
    /// <param name="problem">What is wrong, as a sentence (the message prefixes the file and place).</param>
    /// <param name="line">The 1-based line of a text file where the problem is, if any.</param>
    /// <param name="column">The 1-based column (cell) of a text file where the problem is, if any.</param>
    /// <param name="innerException">The lower-level error (a gzip or JSON error), if any.</param>
    /// <remarks>PyTorch: no single equivalent (see the class remarks).</remarks>
    public DataFormatException(string path, string problem, int? line = null, int? column = null, Exception? innerException = null)
        : base(Compose(path, problem, line, column), innerException)
    {
        Path = path;
        Problem = problem;
        Line = line;
        Column = column;
    }

    /// <summary>The file (or resource) that is malformed, as the caller named it.</summary>
    /// <remarks>PyTorch: the file name in the message of its <c>RuntimeError</c>.</remarks>
    public string Path { get; }

    /// <summary>What is wrong, without the file and place.</summary>
    /// <remarks>PyTorch: no equivalent (the message only).</remarks>
    public string Problem { get; }

    /// <summary>The 1-based line of a text file where the problem is; null for binary files.</summary>
    /// <remarks>Python: <c>csv.Error</c> reports <c>line_num</c>.</remarks>
    public int? Line { get; }

    /// <summary>The 1-based column (cell) of a text file where the problem is; null when not about one cell.</summary>
    /// <remarks>Python: no equivalent in <c>csv</c>; pandas names the column in its parser errors.</remarks>
    public int? Column { get; }

    private static string Compose(string path, string problem, int? line, int? column) =>
        (line, column) switch
        {
            ({ } l, { } c) => $"{path}, line {l}, column {c}: {problem}",
            ({ } l, null) => $"{path}, line {l}: {problem}",
            _ => $"{path}: {problem}",
        };
}
