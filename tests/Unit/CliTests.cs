using TinyTorch.Cli;

namespace TinyTorch.Tests;

/// <summary>The command line run in-process, as a user types it.</summary>
public class CliTests
{
    private static (int ExitCode, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = Cli.Cli.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    private static void AssertOneLineError((int ExitCode, string Output, string Error) result, int expectedCode, string mentions)
    {
        Assert.Equal(expectedCode, result.ExitCode);
        var lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("tinytorch: ", lines[0]);
        Assert.Contains(mentions, lines[0]);
        Assert.DoesNotContain("   at ", result.Error); // never a stack trace
    }

    [Fact]
    public void Regression_trains_the_course_line()
    {
        var (code, output, _) = Run("regression");
        Assert.Equal(0, code);
        Assert.Contains("learned w = 1.9892, b = 1.0345", output);
    }

    [Fact]
    public void Train_writes_weights_and_a_plot_and_eval_reads_them_back()
    {
        using var folder = new TempFolder();
        var (code, output, error) = Run("train", "--epochs", "3", "--hidden", "32", "--out", folder.Root);
        Assert.True(code == 0, error);
        Assert.Contains("test accuracy:", output);
        Assert.Contains("confusion matrix", output);
        var weights = folder.File(TrainCommand.WeightsFile);
        Assert.True(File.Exists(weights));
        var png = File.ReadAllBytes(folder.File(TrainCommand.PlotFile));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);

        var trained = output.Split('\n').Single(l => l.StartsWith("test accuracy:", StringComparison.Ordinal));
        var (evalCode, evalOutput, evalError) = Run("eval", "--weights", weights);
        Assert.True(evalCode == 0, evalError);
        // The same model on the same test split gives the same figure.
        Assert.Contains(trained["test accuracy:".Length..].Trim(), evalOutput);
    }

    [Fact]
    public void The_same_seed_gives_the_same_weights()
    {
        using var first = new TempFolder();
        using var second = new TempFolder();
        Assert.Equal(0, Run("train", "--epochs", "2", "--hidden", "16", "--seed", "7", "--out", first.Root).ExitCode);
        Assert.Equal(0, Run("train", "--epochs", "2", "--hidden", "16", "--seed", "7", "--out", second.Root).ExitCode);
        Assert.Equal(File.ReadAllBytes(first.File(TrainCommand.WeightsFile)), File.ReadAllBytes(second.File(TrainCommand.WeightsFile)));
    }

    [Theory]
    [InlineData("--epochs", "0", "--epochs")]
    [InlineData("--epochs", "x", "x")]
    [InlineData("--batch-size", "-3", "--batch-size")]
    [InlineData("--lr", "0", "--lr")]
    [InlineData("--optimizer", "rmsprop", "rmsprop")]
    [InlineData("--hidden", "128,x", "--hidden")]
    [InlineData("--data", "mnist", "mnist")]
    [InlineData("--threads", "0", "--threads")]
    public void Bad_train_options_give_one_line_and_exit_code_2(string option, string value, string mentions) =>
        AssertOneLineError(Run("train", option, value), 2, mentions);

    [Fact]
    public void An_unknown_command_gives_one_line_and_exit_code_2() => AssertOneLineError(Run("fly"), 2, "fly");

    [Fact]
    public void Eval_without_weights_gives_one_line_and_exit_code_2() => AssertOneLineError(Run("eval"), 2, "--weights");

    [Fact]
    public void A_missing_weights_file_gives_one_line_and_exit_code_1()
    {
        using var folder = new TempFolder();
        AssertOneLineError(Run("eval", "--weights", folder.File("none.safetensors")), 1, "none.safetensors");
    }

    [Fact]
    public void A_file_that_is_not_safetensors_gives_one_line_and_exit_code_1()
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder.File("bad.safetensors"), "not a checkpoint");
        AssertOneLineError(Run("eval", "--weights", folder.File("bad.safetensors")), 1, "bad.safetensors");
    }

    [Fact]
    public void A_missing_csv_file_gives_one_line_and_exit_code_1()
    {
        using var folder = new TempFolder();
        AssertOneLineError(Run("train", "--data", "csv:" + folder.File("none.csv")), 1, "none.csv");
    }

    [Fact]
    public void An_idx_folder_without_files_gives_one_line_and_exit_code_1()
    {
        using var folder = new TempFolder();
        AssertOneLineError(Run("train", "--data", "idx:" + folder.Root), 1, folder.Root);
    }

    [Fact]
    public void A_csv_data_set_trains()
    {
        using var folder = new TempFolder();
        // Two separable classes: label 1 when x + y > 0.
        var random = new Random(3);
        var rows = Enumerable.Range(0, 200).Select(_ =>
        {
            var (x, y) = (random.NextDouble() * 2 - 1, random.NextDouble() * 2 - 1);
            return FormattableString.Invariant($"{x},{y},{(x + y > 0 ? 1 : 0)}");
        });
        File.WriteAllLines(folder.File("points.csv"), rows);
        var (code, output, error) = Run("train", "--data", "csv:" + folder.File("points.csv"), "--epochs", "20", "--hidden", "8", "--out", folder.File("out"));
        Assert.True(code == 0, error);
        Assert.Contains("2 features, 2 classes", output);
    }

    [Fact]
    public void Every_command_has_help()
    {
        foreach (var command in new[] { "train", "eval", "regression", "gradcheck" })
        {
            var (code, output, _) = Run(command, "--help");
            Assert.Equal(0, code);
            Assert.Contains("Usage:", output);
        }
    }

    [Fact]
    public void Gradcheck_passes_for_every_op()
    {
        var (code, output, _) = Run("gradcheck");
        Assert.Equal(0, code);
        Assert.Contains("all ops pass", output);
        Assert.DoesNotContain("FAIL", output);
    }

    [Fact]
    public void Parse_widths_accepts_positive_lists_only()
    {
        Assert.Equal(new[] { 128, 64 }, Cli.Cli.ParseWidths("128, 64")!);
        Assert.Null(Cli.Cli.ParseWidths("128,0"));
        Assert.Null(Cli.Cli.ParseWidths("-1"));
    }
}
