using System.CommandLine;
using TinyTorch.Nn;

namespace TinyTorch.Cli;

/// <summary><c>tinytorch graph</c>: the computation graph of a small MLP's loss as Graphviz DOT.</summary>
public static class GraphCommand
{
    /// <summary>The <c>graph</c> command with its <c>--out</c> option.</summary>
    /// <param name="output">Where the DOT (or the confirmation when writing a file) goes.</param>
    /// <returns>The command, ready to add to the root command.</returns>
    public static Command Create(TextWriter output)
    {
        var outFile = new Option<string?>("--out") { Description = "write the DOT to this file (e.g. graph.dot) instead of standard output" };
        var graph = new Command("graph", "print the computation graph of a small MLP's loss as Graphviz DOT (render with: dot -Tsvg)") { outFile };
        graph.SetAction(r => Run(r.GetValue(outFile), output));
        return graph;
    }

    /// <summary>
    /// The example: the cross-entropy loss of a 3-4-2 MLP (Linear, ReLU, Linear; seed 0) on a batch of two
    /// samples, so the graph shows leaves (weights, biases), constants (the batch) and the ops between them.
    /// </summary>
    /// <returns>The loss, a scalar.</returns>
    public static Variable ExampleLoss()
    {
        var random = new Random(0);
        var model = new Sequential(new Linear(3, 4, random: random), new ReLU(), new Linear(4, 2, random: random));
        var batch = new Variable(Tensor.FromArray(new float[] { 0.5f, -1.0f, 2.0f, 1.5f, 0.25f, -0.75f }, 2, 3), requiresGrad: false);
        var labels = new Tensor(new long[] { 1, 0 });
        return Autograd.CrossEntropy(model.Forward(batch), labels);
    }

    /// <summary>Prints the example's DOT, or writes it to <paramref name="outFile"/> and says where it went.</summary>
    /// <param name="outFile">The file to write; null prints to <paramref name="output"/>.</param>
    /// <param name="output">Where the DOT or the confirmation goes.</param>
    /// <returns>0.</returns>
    /// <exception cref="IOException">The file cannot be written (the CLI reports it in one line, exit code 1).</exception>
    public static int Run(string? outFile, TextWriter output)
    {
        var dot = Autograd.ToDot(ExampleLoss());
        if (outFile is null)
        {
            output.Write(dot);
            return 0;
        }
        File.WriteAllText(outFile, dot);
        output.WriteLine($"wrote the graph of a 3-4-2 MLP's cross-entropy loss to {outFile}; render it with: dot -Tsvg {outFile} -o graph.svg");
        return 0;
    }
}
