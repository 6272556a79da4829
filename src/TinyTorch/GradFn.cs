using TinyTorch.Functional;

namespace TinyTorch;

/// <summary>
/// One node of the recorded graph, as its backward pass sees it: the op that produced a variable, or
/// (only inside <see cref="Inputs"/>) a leaf that gradients are accumulated into. Walk a graph from a
/// loss back to its leaves by recursing over <see cref="Inputs"/>:
/// <code>
/// void Walk(GradFn f) { foreach (var input in f.Inputs) if (input is not null) Walk(input); }
/// </code>
/// Two instances for the same graph node are equal, so a visited set can stop a walk from visiting a
/// node used several times more than once.
/// </summary>
/// <remarks>Python course: <c>grad_fn</c>; PyTorch: <c>torch.autograd.graph.Node</c> (<c>grad_fn</c>).</remarks>
public sealed class GradFn : IEquatable<GradFn>
{
    private readonly Node node;

    internal GradFn(Node node) => this.node = node;

    /// <summary>The op's name, e.g. <c>multiply</c>; <c>leaf</c> for a leaf.</summary>
    /// <remarks>PyTorch: <c>grad_fn.name()</c> (<c>MulBackward0</c>, <c>AccumulateGrad</c> for leaves).</remarks>
    public string Name => node.Op.Name;

    /// <summary>True for a leaf, which has no inputs: where gradients are accumulated.</summary>
    /// <remarks>PyTorch: an <c>AccumulateGrad</c> node.</remarks>
    public bool IsLeaf => node.IsLeaf;

    /// <summary>
    /// For a leaf, the variable whose <see cref="Variable.Grad"/> receives its gradient (null for leaves
    /// created by the F# core rather than by a <see cref="TinyTorch.Variable"/>); null for ops.
    /// </summary>
    /// <remarks>PyTorch: <c>AccumulateGrad.variable</c>.</remarks>
    public Variable? Variable => node.IsLeaf ? node.Key as Variable : null;

    /// <summary>
    /// One entry per input of the op, in the op's order: the <see cref="GradFn"/> of the op that produced
    /// the input, a leaf <see cref="GradFn"/> (<see cref="IsLeaf"/>, with its <see cref="Variable"/>) for a
    /// leaf that requires grad, or null for an input that requires no gradient (a constant). Empty for leaves.
    /// The broadcasts and dtype casts the ops insert appear as <c>expand</c> and <c>cast</c> nodes.
    /// </summary>
    /// <remarks>PyTorch: <c>grad_fn.next_functions</c> (<c>None</c> for inputs that require no gradient).</remarks>
    public IReadOnlyList<GradFn?> Inputs => node.Inputs.Select(input => input.RequiresGrad ? new GradFn(input) : null).ToArray();

    /// <summary>True when both stand for the same graph node.</summary>
    /// <param name="other">Another graph node.</param>
    /// <returns>Whether <paramref name="other"/> wraps the same node.</returns>
    /// <remarks>PyTorch: <c>grad_fn is other</c>.</remarks>
    public bool Equals(GradFn? other) => other is not null && ReferenceEquals(node, other.node);

    /// <summary>True when <paramref name="obj"/> is a <see cref="GradFn"/> for the same graph node.</summary>
    /// <param name="obj">Any object.</param>
    /// <returns>Whether it wraps the same node.</returns>
    /// <remarks>PyTorch: <c>grad_fn is other</c>.</remarks>
    public override bool Equals(object? obj) => Equals(obj as GradFn);

    /// <summary>A hash of the graph node's identity.</summary>
    /// <returns>The node's hash.</returns>
    /// <remarks>PyTorch: <c>hash(grad_fn)</c>.</remarks>
    public override int GetHashCode() => node.Id.GetHashCode();

    /// <summary>The op's name.</summary>
    /// <returns><see cref="Name"/>.</returns>
    /// <remarks>PyTorch: <c>repr(grad_fn)</c>.</remarks>
    public override string ToString() => Name;
}
