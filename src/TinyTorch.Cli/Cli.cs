using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using TinyTorch.Data;

namespace TinyTorch.Cli;

/// <summary>The <c>tinytorch</c> command line: train (the default), eval, regression and gradcheck.</summary>
public static class Cli
{
    /// <summary>Parses <paramref name="args"/> and runs the command. No arguments runs <c>train</c> with its defaults.</summary>
    /// <param name="args">The command-line arguments.</param>
    /// <param name="output">Where results go.</param>
    /// <param name="error">Where the one-line error messages go.</param>
    /// <returns>0 on success, 1 when a command fails (bad file, bad data), 2 on bad arguments.</returns>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        CultureInfo.CurrentUICulture = CultureInfo.InvariantCulture;
        var root = Build(output);
        var parsed = root.Parse(args.Length == 0 ? ["train"] : args);
        if (parsed.Errors.Count > 0)
        {
            var command = parsed.CommandResult.Command;
            var name = command == root ? "" : command.Name + " ";
            var message = parsed.UnmatchedTokens.Count > 0 && command == root
                ? $"unknown command '{parsed.UnmatchedTokens[0]}'"
                : parsed.Errors.FirstOrDefault(e => parsed.UnmatchedTokens.Any(e.Message.Contains))?.Message ?? parsed.Errors[0].Message;
            error.WriteLine($"tinytorch: {OneLine(message)} (see 'tinytorch {name}--help')");
            return 2;
        }
        try
        {
            return parsed.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (e is DataFormatException or InvalidDataException or IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            error.WriteLine($"tinytorch: {e.Message}");
            return 1;
        }
    }

    /// <summary>The command tree.</summary>
    /// <param name="output">Where the commands write.</param>
    /// <returns>The root command.</returns>
    public static RootCommand Build(TextWriter output)
    {
        var data = new Option<string>("--data") { Description = "digits (embedded), idx:<folder> (MNIST-format files) or csv:<file> (last column the class)", DefaultValueFactory = _ => "digits" };
        data.Validators.Add(r => WhenParsed<string>(r, value =>
        {
            if (value != "digits" && !value.StartsWith("idx:", StringComparison.Ordinal) && !value.StartsWith("csv:", StringComparison.Ordinal))
            {
                r.AddError($"--data '{value}' is not digits, idx:<folder> or csv:<file>");
            }
        }));
        var epochs = Positive(new Option<int>("--epochs") { Description = "passes over the training set", DefaultValueFactory = _ => 30 });
        var batchSize = Positive(new Option<int>("--batch-size") { Description = "samples per optimizer step", DefaultValueFactory = _ => 32 });
        var lr = new Option<double>("--lr") { Description = "learning rate (the start of a cosine schedule down to 0)", DefaultValueFactory = _ => 2e-3 };
        lr.Validators.Add(r => WhenParsed<double>(r, value =>
        {
            if (!(value > 0))
            {
                r.AddError("--lr must be a positive number");
            }
        }));
        var optimizer = new Option<string>("--optimizer") { Description = "sgd (momentum 0.9), adam or adamw", DefaultValueFactory = _ => "adam" };
        optimizer.AcceptOnlyFromAmong("sgd", "adam", "adamw");
        var hidden = new Option<string>("--hidden") { Description = "hidden layer widths, comma-separated", DefaultValueFactory = _ => "128,64" };
        hidden.Validators.Add(r => WhenParsed<string>(r, value =>
        {
            if (ParseWidths(value) is null)
            {
                r.AddError($"--hidden '{value}' is not a comma-separated list of positive widths (e.g. 128,64)");
            }
        }));
        var seed = new Option<int>("--seed") { Description = "seeds the weights, the shuffling and the split", DefaultValueFactory = _ => 0 };
        var outFolder = new Option<string>("--out") { Description = "folder for the weights and the plot", DefaultValueFactory = _ => "tinytorch-out" };
        var threads = Positive(new Option<int>("--threads")
        {
            Description = $"threads the kernels may use (TinyTorch.Threads.Count; default: the number of processors, {Environment.ProcessorCount} here); results are bitwise identical for any count",
            DefaultValueFactory = _ => Threads.Count,
        });
        threads.Validators.Add(r => WhenParsed<int>(r, value =>
        {
            if (value > 1024)
            {
                r.AddError($"--threads {value} is too many; pass a number from 1 to 1024");
            }
        }));

        var train = new Command("train", "train an MLP classifier (the default command)") { data, epochs, batchSize, lr, optimizer, hidden, seed, outFolder, threads };
        train.SetAction(r => WithThreads(r.GetValue(threads), () => TrainCommand.Run(
            new TrainingOptions(r.GetValue(data)!, r.GetValue(epochs), r.GetValue(batchSize), r.GetValue(lr), r.GetValue(optimizer)!, ParseWidths(r.GetValue(hidden)!)!, r.GetValue(seed)),
            r.GetValue(outFolder)!,
            output,
            interactive: ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected)));

        var weights = new Option<string>("--weights") { Description = "a model.safetensors written by train", Required = true };
        var evalData = new Option<string?>("--data") { Description = "digits, idx:<folder> or csv:<file>; default: the data the model was trained on" };
        var eval = new Command("eval", "evaluate saved weights on a test set") { weights, evalData };
        eval.SetAction(r => EvalCommand.Run(r.GetValue(weights)!, r.GetValue(evalData), output));

        var regression = new Command("regression", "the course's linear regression y ≈ 2x + 1, one scalar op at a time");
        regression.SetAction(_ => LinearRegression.Run(output));

        var gradcheck = new Command("gradcheck", "check every op's gradient against finite differences and print a table");
        gradcheck.SetAction(_ => GradCheckCommand.Run(output));

        return new RootCommand("tinytorch: automatic differentiation for .NET, from the TinyTorch course") { train, eval, regression, gradcheck, GraphCommand.Create(output) };
    }

    /// <summary>Runs <paramref name="command"/> with <see cref="Threads.Count"/> set to <paramref name="threads"/>, then restores it
    /// (the setting is process-wide, and the CLI may run inside a host such as a test).</summary>
    private static int WithThreads(int threads, Func<int> command)
    {
        var saved = Threads.Count;
        Threads.Count = threads;
        try
        {
            return command();
        }
        finally
        {
            Threads.Count = saved;
        }
    }

    private static string OneLine(string message) => string.Join(' ', message.Split((char[])['\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>Runs <paramref name="check"/> on the option's value when it parsed (a value that did not parse is already an error).</summary>
    private static void WhenParsed<T>(OptionResult result, Action<T> check)
    {
        T value;
        try
        {
            value = result.GetValueOrDefault<T>();
        }
        catch (InvalidOperationException)
        {
            return;
        }
        check(value);
    }

    private static Option<int> Positive(Option<int> option)
    {
        option.Validators.Add(r => WhenParsed<int>(r, value =>
        {
            if (value < 1)
            {
                r.AddError($"{option.Name} must be at least 1");
            }
        }));
        return option;
    }

    /// <summary>Parses "128,64" into widths; null when any part is not a positive integer.</summary>
    /// <param name="text">The option's text.</param>
    /// <returns>The widths, or null.</returns>
    public static int[]? ParseWidths(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var widths = new int[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out widths[i]) || widths[i] < 1)
            {
                return null;
            }
        }
        return widths;
    }
}
