using System.Globalization;
using TinyTorch.IO;

namespace TinyTorch.Cli;

/// <summary><c>tinytorch eval</c>: evaluates saved weights on a data set's test split.</summary>
public static class EvalCommand
{
    /// <summary>Rebuilds the MLP described by the checkpoint's metadata, loads its weights and reports test accuracy.</summary>
    /// <param name="weights">A file written by <c>tinytorch train</c>.</param>
    /// <param name="data">The data source; null for the one the model was trained on.</param>
    /// <param name="output">Where results go.</param>
    /// <returns>0.</returns>
    /// <exception cref="InvalidDataException">The file is not a TinyTorch MLP checkpoint or does not match.</exception>
    public static int Run(string weights, string? data, TextWriter output)
    {
        var (_, metadata) = SafeTensors.Load(weights);
        string Field(string key) => metadata.TryGetValue(key, out var value)
            ? value
            : throw new InvalidDataException($"{weights}: no '{key}' in the metadata; this file was not written by tinytorch train.");
        if (Field("format") != "tinytorch-mlp")
        {
            throw new InvalidDataException($"{weights}: the metadata format is '{metadata["format"]}', not tinytorch-mlp.");
        }
        var inputs = int.Parse(Field("inputs"), CultureInfo.InvariantCulture);
        var hidden = Field("hidden").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(h => int.Parse(h, CultureInfo.InvariantCulture)).ToArray();
        var classes = int.Parse(Field("classes"), CultureInfo.InvariantCulture);
        var seed = int.Parse(Field("seed"), CultureInfo.InvariantCulture);
        var model = Training.Mlp(inputs, hidden, classes, seed);
        Checkpoint.Load(weights, model);

        var source = data ?? Field("data");
        var (_, test) = Training.Load(source, seed);
        if (test.Features.Shape[1] != inputs)
        {
            throw new InvalidDataException($"{weights}: the model takes {inputs} features but {source} has {test.Features.Shape[1]}.");
        }
        var predicted = Training.Predict(model, test.Features);
        output.WriteLine($"model {inputs}-{string.Join("-", hidden)}-{classes} from {weights}");
        output.WriteLine($"test accuracy on {source}: {Training.Accuracy(predicted, test.Labels):P2} ({test.Count} samples)");
        Training.WriteConfusionMatrix(output, Training.ConfusionMatrix(predicted, test.Labels, classes));
        return 0;
    }
}
