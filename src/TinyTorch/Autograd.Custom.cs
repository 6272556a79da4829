using Microsoft.FSharp.Core;
using TinyTorch.Functional;

namespace TinyTorch;

// User-defined differentiable functions and gradient checkpointing: thin wrappers over the core's CustomOp and Transforms.checkpoint.
public static partial class Autograd
{
#if DEBUG
    private const bool CheckCustomFunctionsByDefault = true;
#else
    private const bool CheckCustomFunctionsByDefault = false;
#endif

    /// <summary>
    /// Defines a new differentiable op from its forward and its reverse rule (VJP), and optionally its
    /// forward rule (JVP). The rules receive variables wrapping the graph's nodes, so a rule written with
    /// <see cref="Autograd"/> ops and operators is itself differentiable (second derivatives, Hessians).
    /// </summary>
    /// <param name="name">The op's name in <see cref="GradFn.Name"/>, graphs and messages, e.g. <c>"cube"</c>.</param>
    /// <param name="forward">Computes the output from the input values (called with float64 values during the check).</param>
    /// <param name="vjp">
    /// (inputs, output, output cotangent) → one cotangent per input, each of that input's shape (cast to its
    /// dtype if needed); null for an input that gets no gradient.
    /// </param>
    /// <param name="jvp">
    /// (inputs, output, one tangent per input) → the output's tangent, of the output's shape; the tangent of an
    /// input that does not move is zeros. Null when the op has no forward-mode rule: forward mode then throws
    /// <see cref="NotSupportedException"/> at this op.
    /// </param>
    /// <param name="sampleInputs">Values to check the rules at (converted to float64, kept away from kinks); null: no check.</param>
    /// <param name="check">
    /// Whether to check the rules at <paramref name="sampleInputs"/> now: the VJP against central differences,
    /// element by element and along a random direction, and, when a JVP is given, the JVP against the VJP by
    /// the adjoint identity. Default: true in Debug builds of TinyTorch, false in Release builds.
    /// </param>
    /// <returns>The function; call <see cref="CustomFunction.Apply"/> to use it.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="forward"/>, <paramref name="vjp"/> or a sample input is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty.</exception>
    /// <exception cref="GradientCheckException">The check ran and found disagreements; <see cref="GradientCheckException.Mismatches"/> lists them.</exception>
    /// <remarks>
    /// PyTorch: subclassing <c>torch.autograd.Function</c> with <c>forward</c>, <c>backward</c> and <c>jvp</c>,
    /// checked with <c>torch.autograd.gradcheck</c>; JAX: <c>jax.custom_vjp</c> / <c>jax.custom_jvp</c>.
    /// F# users of the core build a <c>CustomOp</c> and apply it with <c>Node.custom</c>.
    /// </remarks>
    public static CustomFunction DefineFunction(
        string name,
        Func<Tensor[], Tensor> forward,
        Func<Variable[], Variable, Variable, Variable?[]> vjp,
        Func<Variable[], Variable, Variable[], Variable>? jvp = null,
        Tensor[]? sampleInputs = null,
        bool check = CheckCustomFunctionsByDefault)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(forward);
        ArgumentNullException.ThrowIfNull(vjp);
        if (sampleInputs is not null && Array.IndexOf(sampleInputs, null) is var missing and >= 0)
        {
            throw new ArgumentNullException(nameof(sampleInputs), $"{name}: sample input {missing} is null.");
        }

        var op = new CustomOp(
            name,
            values => forward(values) ?? throw new InvalidOperationException($"custom function {name}: the forward returned null; return the output tensor."),
            (inputs, output, cotangent) => CoreVjp(name, vjp, inputs, output, cotangent),
            jvp is null ? null : (inputs, output, tangents) => CoreJvp(name, jvp, inputs, output, tangents));
        var function = new CustomFunction(op);

        if (check && sampleInputs is not null)
        {
            // Finite differences (element by element and along a random direction) check the VJP; the adjoint
            // identity checks the JVP against the VJP, and is skipped by the core when there is no JVP.
            var f = FuncConvert.FromFunc((Node[] xs) => function.ApplyNodes(xs));
            GradCheckModule.report(GradCheckOptions.Default, f, sampleInputs).ThrowIfFailed();
        }
        return function;
    }

    /// <summary>
    /// Applies <paramref name="f"/> without keeping its internal graph: the result is one node whose backward
    /// pass runs <paramref name="f"/> again to rebuild what it needs (gradient checkpointing). Gradients,
    /// forward-mode tangents and higher derivatives equal those of <paramref name="f"/> itself; the
    /// intermediate results of <paramref name="f"/> can be collected as soon as this returns, at the price of
    /// a second forward pass during backward.
    /// </summary>
    /// <param name="f">
    /// The segment to checkpoint. Pass every variable it differentiates through (weights included) in
    /// <paramref name="inputs"/>: it receives them as its argument array and must not capture a variable that
    /// requires grad. It should be deterministic (it runs again in backward).
    /// </param>
    /// <param name="inputs">The segment's inputs.</param>
    /// <returns>f's output, differentiable with respect to <paramref name="inputs"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="f"/>, <paramref name="inputs"/> or an input is null.</exception>
    /// <exception cref="ArgumentException">
    /// <paramref name="f"/> uses a variable that requires grad without receiving it in <paramref name="inputs"/>
    /// (its gradient would be lost).
    /// </exception>
    /// <exception cref="InvalidOperationException"><paramref name="f"/> returned null.</exception>
    /// <remarks>PyTorch: <c>torch.utils.checkpoint.checkpoint(function, *args)</c>; JAX: <c>jax.checkpoint</c> (<c>jax.remat</c>).</remarks>
    public static Variable Checkpoint(Func<Variable[], Variable> f, params Variable[] inputs)
    {
        ArgumentNullException.ThrowIfNull(f);
        var nodes = InputNodes(inputs);
        var segment = FuncConvert.FromFunc((Node[] xs) =>
        {
            // The backward pass calls f again on fresh leaves and needs its graph, whatever the caller's NoGrad scope.
            using var recording = Array.Exists(xs, x => x.RequiresGrad) ? EnableGrad() : null;
            var y = (f(Array.ConvertAll(xs, Variable.FromNode)) ?? throw new InvalidOperationException("Checkpoint: f returned null; return the segment's output.")).Node;
            // The core calls f on constants for the forward value: an output that still requires grad
            // depends on a variable f captured instead of receiving it.
            if (y.RequiresGrad && !Array.Exists(xs, x => x.RequiresGrad))
            {
                throw new ArgumentException(
                    "Checkpoint: f uses a variable that requires grad but is not one of the inputs, so its gradient would be lost. " +
                    "Pass every such variable as an input, e.g. Checkpoint(xs => Autograd.Linear(xs[0], xs[1], xs[2]), x, layer.Weight, layer.Bias).",
                    nameof(f));
            }
            return y;
        });
        return Variable.FromNode(Transforms.checkpoint(segment, nodes));
    }

    /// <summary>The inputs' nodes, naming the null one.</summary>
    internal static Node[] InputNodes(Variable[] inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        return Array.ConvertAll(inputs, x => x?.Node ?? throw new ArgumentNullException(nameof(inputs), $"input {Array.IndexOf(inputs, null)} is null."));
    }

    private static Node[] CoreVjp(string name, Func<Variable[], Variable, Variable, Variable?[]> vjp, Node[] inputs, Node output, Node cotangent)
    {
        // The core decides what is recorded (it passes constants unless a graph of the backward pass is wanted),
        // so the rule runs with the gradient mode on, whatever the caller's NoGrad scope.
        using var recording = EnableGrad();
        var gradients = vjp(Array.ConvertAll(inputs, Variable.FromNode), Variable.FromNode(output), Variable.FromNode(cotangent))
            ?? throw new InvalidOperationException($"custom function {name}: the VJP returned null; return one gradient per input (null for an input with no gradient).");
        if (gradients.Length != inputs.Length)
        {
            throw new InvalidOperationException($"custom function {name}: the VJP returned {gradients.Length} gradients for {inputs.Length} inputs; return one per input (null for an input with no gradient).");
        }
        var result = new Node[inputs.Length];
        for (var i = 0; i < inputs.Length; i++)
        {
            if (gradients[i] is { } g)
            {
                RequireShape(name, "the VJP's gradient for input " + i, g.Shape, inputs[i].Shape);
                result[i] = NodeModule.cast(inputs[i].DType, g.Node);
            }
        }
        return result;
    }

    private static Node CoreJvp(string name, Func<Variable[], Variable, Variable[], Variable> jvp, Node[] inputs, Node output, Node[] tangents)
    {
        using var recording = EnableGrad();
        var moved = new Variable[inputs.Length];
        for (var i = 0; i < inputs.Length; i++)
        {
            moved[i] = Variable.FromNode(tangents[i] ?? NodeModule.constant(TensorModule.zerosLike(inputs[i].Value)));
        }
        var tangent = jvp(Array.ConvertAll(inputs, Variable.FromNode), Variable.FromNode(output), moved)
            ?? throw new InvalidOperationException($"custom function {name}: the JVP returned null; return the output's tangent.");
        RequireShape(name, "the JVP's tangent", tangent.Shape, output.Shape);
        return NodeModule.cast(output.DType, tangent.Node);
    }

    private static void RequireShape(string name, string what, Shape actual, Shape expected)
    {
        if (!actual.Equals(expected))
        {
            throw new InvalidOperationException($"custom function {name}: {what} has shape {actual} but must have shape {expected}, the shape of the value it belongs to.");
        }
    }
}
