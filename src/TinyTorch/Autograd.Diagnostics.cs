using TinyTorch.Functional;

namespace TinyTorch;

// Anomaly detection and graph export: one call each into the F# core.
public static partial class Autograd
{
    /// <summary>
    /// Opens an anomaly-detection scope: until it is disposed, the first op that produces a NaN or an
    /// infinity, in a forward pass or in a backward pass, throws <see cref="NonFiniteGradientException"/>
    /// naming the op, the ranges of its inputs and, in backward, the path of ops from the output to it.
    /// A backward pass that throws changes no <see cref="Variable.Grad"/>. Off by default; when no scope is
    /// open the check costs one integer read per op.
    /// </summary>
    /// <returns>The scope; disposing it restores the previous state (also when an exception leaves the <c>using</c> block).</returns>
    /// <remarks>
    /// PyTorch: <c>with torch.autograd.detect_anomaly():</c> (its <c>check_nan</c> behaviour). The scope belongs to
    /// the current flow of execution (<see cref="AsyncLocal{T}"/>): tasks started inside it see it, other threads do not.
    /// </remarks>
    public static IDisposable DetectAnomaly() => Anomaly.enter();

    /// <summary>True inside a <see cref="DetectAnomaly"/> scope on the current flow of execution.</summary>
    /// <remarks>PyTorch: <c>torch.is_anomaly_enabled()</c>.</remarks>
    public static bool IsAnomalyDetectionEnabled => Anomaly.isActive();

    /// <summary>
    /// The graph that computed <paramref name="output"/> as Graphviz DOT: every node it depends on (constants
    /// included), labelled with its op and shape (<c>multiply\n[2, 3]</c>), with ids <c>n0</c>, <c>n1</c>, … in
    /// topological order and an edge from each input to the op that uses it. Leaves that require grad are
    /// filled boxes, constants dashed grey boxes, ops ellipses, and the output has a double outline.
    /// </summary>
    /// <param name="output">The value whose graph to draw, typically a loss.</param>
    /// <returns>The DOT text; render it with <c>dot -Tsvg graph.dot -o graph.svg</c>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="output"/> is null.</exception>
    /// <remarks>PyTorch: <c>torchviz.make_dot(output)</c>.</remarks>
    public static string ToDot(Variable output) => Dot.write(NotNull(output).Node);
}
