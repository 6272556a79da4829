using TinyTorch.Functional;

namespace TinyTorch;

/// <summary>
/// A user-defined differentiable op: a forward over tensors with its own reverse rule (VJP) and,
/// optionally, forward rule (JVP). Once defined it works like a built-in op: in <see cref="Variable.Backward"/>,
/// in forward mode (when it has a JVP), in higher derivatives, inside <see cref="Autograd.Checkpoint"/>,
/// and it appears under its name in <see cref="Variable.GradFn"/> and <see cref="Autograd.ToDot"/>.
/// Create one with <see cref="Autograd.DefineFunction"/>.
/// </summary>
/// <remarks>PyTorch: a subclass of <c>torch.autograd.Function</c> (<c>forward</c>, <c>backward</c>, <c>jvp</c>) and its <c>apply</c>.</remarks>
public sealed class CustomFunction
{
    private readonly CustomOp op;

    internal CustomFunction(CustomOp op) => this.op = op;

    /// <summary>The name given at definition, used in <see cref="GradFn.Name"/>, graphs and error messages.</summary>
    /// <remarks>PyTorch: the <c>Function</c> subclass's name (<c>grad_fn</c> shows <c>NameBackward</c>).</remarks>
    public string Name => op.Name;

    /// <summary>True when the function has a forward-mode rule (JVP), so forward mode can pass through it.</summary>
    /// <remarks>PyTorch: a <c>Function</c> that overrides <c>jvp</c>.</remarks>
    public bool HasJvp => op.Jvp is not null;

    /// <summary>
    /// Applies the function: computes the forward on the inputs' values now and records the op in the
    /// graph when any input requires grad.
    /// </summary>
    /// <param name="inputs">The inputs, floating point, in the order the forward and the rules expect.</param>
    /// <returns>The result, differentiable through the function's VJP (and JVP).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="inputs"/> or one of its elements is null.</exception>
    /// <exception cref="ArgumentException">An input is not floating point.</exception>
    /// <exception cref="InvalidOperationException">The forward returned null.</exception>
    /// <remarks>PyTorch: <c>Function.apply(*inputs)</c>.</remarks>
    public Variable Apply(params Variable[] inputs) => Variable.FromNode(NodeModule.custom(op, Autograd.InputNodes(inputs)));

    /// <summary>The op applied to core nodes: for the gradient check and for F# callers of the core.</summary>
    internal Node ApplyNodes(Node[] inputs) => NodeModule.custom(op, inputs);

    /// <summary>The name.</summary>
    /// <returns><see cref="Name"/>.</returns>
    public override string ToString() => Name;
}
