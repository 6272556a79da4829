using System.Globalization;

namespace TinyTorch.Cli;

/// <summary>The <c>tinytorch</c> command line: subcommands by name, the training demo by default.</summary>
public static class Commands
{
    private static readonly (string Name, string Summary, Func<TextWriter, int> Run)[] All =
    [
        ("linear", "train the course's linear regression y ≈ 2x + 1 (the default)", LinearRegression.Run),
        ("gradcheck", "check every op's gradient against finite differences", GradCheckCommand.Run),
    ];

    /// <summary>Runs the subcommand named by <paramref name="args"/>[0]; no arguments runs <c>linear</c>.</summary>
    /// <param name="args">The command-line arguments.</param>
    /// <param name="output">Where results go.</param>
    /// <param name="error">Where usage errors go.</param>
    /// <returns>The process exit code: 0 on success, 2 on a usage error.</returns>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        if (args.Length == 0)
        {
            return LinearRegression.Run(output);
        }
        if (args[0] is "help" or "--help" or "-h")
        {
            Usage(output);
            return 0;
        }
        foreach (var (name, _, run) in All)
        {
            if (args[0] == name)
            {
                return run(output);
            }
        }
        error.WriteLine($"tinytorch: unknown command '{args[0]}'.");
        Usage(error);
        return 2;
    }

    private static void Usage(TextWriter writer)
    {
        writer.WriteLine("usage: tinytorch [command]");
        writer.WriteLine();
        writer.WriteLine("commands:");
        foreach (var (name, summary, _) in All)
        {
            writer.WriteLine($"  {name,-10} {summary}");
        }
        writer.WriteLine($"  {"help",-10} show this list");
    }
}
