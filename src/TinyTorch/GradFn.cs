using TinyTorch.Functional;

namespace TinyTorch;

/// <summary>The op that produced a variable: what its backward pass runs.</summary>
/// <remarks>Python course: <c>grad_fn</c>.</remarks>
public sealed class GradFn
{
    private readonly Node node;

    internal GradFn(Node node) => this.node = node;

    /// <summary>The op's name, e.g. <c>multiply</c>.</summary>
    public string Name => node.Op.Name;

    /// <summary>The op's name.</summary>
    /// <returns><see cref="Name"/>.</returns>
    public override string ToString() => Name;
}
