using System.Diagnostics;
using System.Globalization;
using ScottPlot;
using Spectre.Console;
using TinyTorch.Data;
using TinyTorch.IO;
using TinyTorch.Optim;

namespace TinyTorch.Cli;

/// <summary><c>tinytorch train</c>: trains an MLP classifier, reports test accuracy, saves weights and a plot.</summary>
public static class TrainCommand
{
    /// <summary>The name of the weights file written into the output folder.</summary>
    public const string WeightsFile = "model.safetensors";

    /// <summary>The name of the loss and accuracy plot written into the output folder.</summary>
    public const string PlotFile = "training.png";

    /// <summary>Runs the training and writes the results into <paramref name="outputFolder"/>.</summary>
    /// <param name="options">Data, model and optimizer settings.</param>
    /// <param name="outputFolder">Where the weights and the plot go (created if missing).</param>
    /// <param name="output">Where progress and results are written.</param>
    /// <param name="interactive">True to draw a live progress bar (a terminal); false for one line per epoch.</param>
    /// <returns>0.</returns>
    public static int Run(TrainingOptions options, string outputFolder, TextWriter output, bool interactive)
    {
        var (train, test) = Training.Load(options.Data, options.Seed);
        var classes = Math.Max(Training.ClassCount(train), Training.ClassCount(test));
        var inputs = train.Features.Shape[1];
        var model = Training.Mlp(inputs, options.Hidden, classes, options.Seed);
        var optimizer = Training.CreateOptimizer(options.Optimizer, model.Parameters(), options.LearningRate);
        var loader = new DataLoader(train, options.BatchSize, shuffle: true, seed: options.Seed);
        // The learning rate follows a cosine from its start value to 0 over the run, so the last epochs settle.
        var schedule = new CosineAnnealingLr(optimizer, options.Epochs);
        output.WriteLine($"data {options.Data}: {train.Count} training and {test.Count} test samples, {inputs} features, {classes} classes");
        output.WriteLine($"model {inputs}-{string.Join("-", options.Hidden)}-{classes}, {options.Optimizer} lr {options.LearningRate} (cosine to 0), batch {options.BatchSize}, {options.Epochs} epochs, seed {options.Seed}");

        var history = new List<EpochResult>();
        var clock = Stopwatch.StartNew();
        if (interactive)
        {
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .Start(context =>
                {
                    for (var epoch = 0; epoch < options.Epochs; epoch++)
                    {
                        var task = context.AddTask($"epoch {epoch + 1}/{options.Epochs}", maxValue: loader.Count);
                        var loss = Training.TrainEpoch(model, optimizer, loader, epoch, (done, running) =>
                        {
                            task.Value = done;
                            task.Description = $"epoch {epoch + 1}/{options.Epochs} loss {running:F4}";
                        });
                        var result = new EpochResult(epoch + 1, loss, Training.Accuracy(Training.Predict(model, test.Features), test.Labels));
                        history.Add(result);
                        schedule.Step();
                        task.Description = $"epoch {result.Epoch}/{options.Epochs} loss {result.Loss:F4} test accuracy {result.TestAccuracy:P1}";
                    }
                });
        }
        else
        {
            for (var epoch = 0; epoch < options.Epochs; epoch++)
            {
                var loss = Training.TrainEpoch(model, optimizer, loader, epoch);
                var result = new EpochResult(epoch + 1, loss, Training.Accuracy(Training.Predict(model, test.Features), test.Labels));
                history.Add(result);
                schedule.Step();
                output.WriteLine($"epoch {result.Epoch,3}/{options.Epochs}: loss {result.Loss:F4}, test accuracy {result.TestAccuracy:P1}");
            }
        }

        var seconds = clock.Elapsed.TotalSeconds;
        var predicted = Training.Predict(model, test.Features);
        output.WriteLine($"trained in {seconds:F1} s");
        output.WriteLine($"test accuracy: {Training.Accuracy(predicted, test.Labels):P2} ({test.Count} samples)");
        Training.WriteConfusionMatrix(output, Training.ConfusionMatrix(predicted, test.Labels, classes));

        Directory.CreateDirectory(outputFolder);
        var weights = Path.Combine(outputFolder, WeightsFile);
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "tinytorch-mlp",
            ["inputs"] = inputs.ToString(CultureInfo.InvariantCulture),
            ["hidden"] = string.Join(",", options.Hidden),
            ["classes"] = classes.ToString(CultureInfo.InvariantCulture),
            ["data"] = options.Data,
            ["seed"] = options.Seed.ToString(CultureInfo.InvariantCulture),
        };
        Checkpoint.Save(weights, model, optimizer, metadata);
        var plot = Path.Combine(outputFolder, PlotFile);
        SavePlot(plot, history);
        output.WriteLine($"wrote weights to {weights}");
        output.WriteLine($"wrote the loss and accuracy curves to {plot}");
        return 0;
    }

    private static void SavePlot(string path, IReadOnlyList<EpochResult> history)
    {
        var plot = new Plot();
        var epochs = history.Select(h => (double)h.Epoch).ToArray();
        var loss = plot.Add.Scatter(epochs, history.Select(h => h.Loss).ToArray());
        loss.LegendText = "training loss";
        var accuracy = plot.Add.Scatter(epochs, history.Select(h => h.TestAccuracy * 100).ToArray());
        accuracy.LegendText = "test accuracy (%)";
        accuracy.Axes.YAxis = plot.Axes.Right;
        plot.Axes.Bottom.Label.Text = "epoch";
        plot.Axes.Left.Label.Text = "loss";
        plot.Axes.Right.Label.Text = "accuracy (%)";
        plot.Title("TinyTorch training");
        plot.ShowLegend();
        plot.SavePng(path, 800, 500);
    }
}
