using Microsoft.FSharp.Core;
using TinyTorch.Functional;

namespace TinyTorch;

// The autograd toolbox: gradients as values (Grad), the gradient mode (NoGrad), and the function
// transforms (Jvp, Vjp, Jacobian, Hessian, Hvp), each a call into the core's Reverse and Transforms.
public static partial class Autograd
{
    // ---------------------------------------------------------------- gradient mode

    /// <summary>False inside a <see cref="NoGrad"/> scope (the default, true, is stored as false).</summary>
    /// <remarks>
    /// Its change handler mirrors the value into <see cref="gradDisabledHere"/> whenever it changes on a
    /// thread (a scope entered or left, or the thread switching to another execution context), so
    /// <see cref="IsGradEnabled"/>, read by every op, is a thread-static read instead of an execution-context look-up.
    /// </remarks>
    private static readonly AsyncLocal<bool> GradDisabled = new(change => gradDisabledHere = change.CurrentValue);

    /// <summary>This thread's copy of <see cref="GradDisabled"/>'s current value.</summary>
    [ThreadStatic]
    private static bool gradDisabledHere;

    /// <summary>
    /// False inside a <see cref="NoGrad"/> scope (and not inside a nested <see cref="EnableGrad"/>),
    /// true otherwise. The mode flows with the execution context: into <c>await</c> continuations and
    /// tasks started inside the scope, never into other concurrent tasks or back out to callers.
    /// </summary>
    /// <remarks>PyTorch: <c>torch.is_grad_enabled</c>.</remarks>
    public static bool IsGradEnabled => !gradDisabledHere;

    /// <summary>
    /// A scope in which op results never require grad and record no graph (their <see cref="Variable.GradFn"/>
    /// is null), for inference and parameter updates: <c>using (Autograd.NoGrad()) { … }</c>. Scopes nest;
    /// disposing one restores the mode it found, also when the scope is left by an exception. The mode
    /// flows into <c>await</c> continuations (it is an <see cref="AsyncLocal{T}"/>), not into other tasks.
    /// New variables created inside still require grad when asked to (as in PyTorch), and
    /// <see cref="Variable.Backward"/> still works (its gradients are then constants).
    /// </summary>
    /// <returns>The scope; dispose it to leave (disposing twice does nothing).</returns>
    /// <remarks>PyTorch: <c>with torch.no_grad():</c>.</remarks>
    public static IDisposable NoGrad() => new GradModeScope(enabled: false);

    /// <summary>
    /// A scope that turns the gradient mode back on inside a <see cref="NoGrad"/> scope; nests and
    /// restores like it. The function transforms (<see cref="Jacobian(Func{Variable, Variable}, Tensor)"/>, …)
    /// use it around the function they differentiate, so they work inside <see cref="NoGrad"/> too.
    /// </summary>
    /// <returns>The scope; dispose it to leave.</returns>
    /// <remarks>PyTorch: <c>with torch.enable_grad():</c>.</remarks>
    public static IDisposable EnableGrad() => new GradModeScope(enabled: true);

    /// <summary>Sets the mode for its lifetime and restores the previous one on the first Dispose.</summary>
    private sealed class GradModeScope : IDisposable
    {
        private readonly bool previous;
        private bool disposed;

        public GradModeScope(bool enabled)
        {
            previous = GradDisabled.Value;
            GradDisabled.Value = !enabled;
        }

        public void Dispose()
        {
            if (!disposed)
            {
                disposed = true;
                GradDisabled.Value = previous;
            }
        }
    }

    // ---------------------------------------------------------------- gradients as values

    /// <summary>
    /// The gradient of <paramref name="output"/> with respect to one variable, returned instead of
    /// accumulated: no <see cref="Variable.Grad"/> changes and no hooks run.
    /// </summary>
    /// <param name="output">The output; any shape.</param>
    /// <param name="input">A leaf or an intermediate result that <paramref name="output"/> depends on.</param>
    /// <param name="gradOutput">The cotangent of <paramref name="output"/> (its shape); null means ones.</param>
    /// <param name="createGraph">Record the backward pass, so the result can be differentiated again (higher derivatives).</param>
    /// <returns>d output / d input, shaped like <paramref name="input"/>; a constant unless <paramref name="createGraph"/>.</returns>
    /// <exception cref="ArgumentException">
    /// <paramref name="input"/> does not require grad or <paramref name="output"/> does not depend on it
    /// (use the list overload with <c>allowUnused: true</c> to get null instead), or <paramref name="gradOutput"/> has the wrong shape.
    /// </exception>
    /// <exception cref="InvalidOperationException"><paramref name="output"/> does not depend on anything that requires grad.</exception>
    /// <remarks>PyTorch: <c>torch.autograd.grad(output, input, grad_output, create_graph=...)[0]</c>.</remarks>
    public static Variable Grad(Variable output, Variable input, Variable? gradOutput = null, bool createGraph = false) =>
        Grad([NotNull(output)], [NotNull(input)], [gradOutput], createGraph, allowUnused: false)[0]!;

    /// <summary>
    /// The gradients of <paramref name="output"/> with respect to <paramref name="inputs"/>, returned
    /// instead of accumulated: no <see cref="Variable.Grad"/> changes and no hooks run.
    /// </summary>
    /// <param name="output">The output; any shape.</param>
    /// <param name="inputs">Leaves or intermediate results, each requiring grad.</param>
    /// <param name="gradOutput">The cotangent of <paramref name="output"/> (its shape); null means ones.</param>
    /// <param name="createGraph">Record the backward pass, so the results can be differentiated again.</param>
    /// <param name="allowUnused">Give null for an input the output does not depend on, instead of throwing.</param>
    /// <returns>One gradient per input, in order, shaped like that input.</returns>
    /// <exception cref="ArgumentException">An input does not require grad, or is unused without <paramref name="allowUnused"/>; or a shape is wrong.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="output"/> does not depend on anything that requires grad.</exception>
    /// <remarks>PyTorch: <c>torch.autograd.grad(output, inputs, grad_output, create_graph=..., allow_unused=...)</c>.</remarks>
    public static Variable?[] Grad(Variable output, IReadOnlyList<Variable> inputs, Variable? gradOutput = null, bool createGraph = false, bool allowUnused = false) =>
        Grad([NotNull(output)], inputs, [gradOutput], createGraph, allowUnused);

    /// <summary>
    /// The gradients of the sum of <paramref name="outputs"/>' contributions (each seeded with its
    /// <paramref name="gradOutputs"/> entry, or ones) with respect to <paramref name="inputs"/>, in one
    /// backward pass, returned instead of accumulated: no <see cref="Variable.Grad"/> changes and no hooks run.
    /// An input can be a leaf (its gradient then sums every node the leaf had, as
    /// <see cref="Variable.Backward"/> does) or any intermediate result (the complete gradient reaching it).
    /// An input the outputs reach but no gradient flows into (e.g. only through <c>ArgMax</c>-like
    /// constants) gets zeros; an input they never reach is unused.
    /// </summary>
    /// <param name="outputs">The outputs (at least one); any shapes.</param>
    /// <param name="inputs">Leaves or intermediate results, each requiring grad.</param>
    /// <param name="gradOutputs">One cotangent per output (null entries mean ones); null means ones for all.</param>
    /// <param name="createGraph">
    /// Record the backward pass, so the results are differentiable variables (second derivatives:
    /// <c>Grad(Grad(y, x, createGraph: true), x)</c>); otherwise they are constants.
    /// </param>
    /// <param name="allowUnused">
    /// Give null (as PyTorch does) for an input that no output depends on; without it such an input
    /// throws an <see cref="ArgumentException"/> naming its index.
    /// </param>
    /// <returns>One gradient per input, in order, shaped like that input (null only for unused inputs with <paramref name="allowUnused"/>).</returns>
    /// <exception cref="ArgumentNullException">A list, an output or an input is null.</exception>
    /// <exception cref="ArgumentException">
    /// No outputs; <paramref name="gradOutputs"/> has another count than <paramref name="outputs"/> or an entry of the wrong shape;
    /// an input does not require grad, or is unused without <paramref name="allowUnused"/>.
    /// </exception>
    /// <exception cref="InvalidOperationException">An output does not depend on anything that requires grad.</exception>
    /// <remarks>PyTorch: <c>torch.autograd.grad(outputs, inputs, grad_outputs, create_graph=..., allow_unused=...)</c>.</remarks>
    public static Variable?[] Grad(
        IReadOnlyList<Variable> outputs,
        IReadOnlyList<Variable> inputs,
        IReadOnlyList<Variable?>? gradOutputs = null,
        bool createGraph = false,
        bool allowUnused = false)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentNullException.ThrowIfNull(inputs);
        if (outputs.Count == 0)
        {
            throw new ArgumentException("Grad: needs at least one output.", nameof(outputs));
        }
        if (gradOutputs is not null && gradOutputs.Count != outputs.Count)
        {
            throw new ArgumentException(
                $"Grad: {gradOutputs.Count} gradOutputs for {outputs.Count} outputs; give one per output (null entries mean ones).", nameof(gradOutputs));
        }

        var seeds = new Node[outputs.Count];
        for (var i = 0; i < outputs.Count; i++)
        {
            var output = outputs[i] ?? throw new ArgumentNullException(nameof(outputs), $"Grad: output {i} is null.");
            if (!output.RequiresGrad)
            {
                throw new InvalidOperationException(
                    $"Grad: output {i} does not depend on any variable with RequiresGrad = true, so it has no gradient. Create its inputs with requiresGrad: true.");
            }
            var given = gradOutputs?[i];
            if (given is not null && !given.Shape.Equals(output.Shape))
            {
                throw new ArgumentException(
                    $"Grad: gradOutputs[{i}] has shape {given.Shape} but output {i} has shape {output.Shape}; pass a gradient of shape {output.Shape}.", nameof(gradOutputs));
            }
            seeds[i] = NodeModule.cast(output.DType, given?.Node ?? NodeModule.constant(TensorModule.onesLike(output.Data)));
        }

        // What to look for during the walk: a leaf by its key (every node the variable had), anything else by node.
        var keys = new object[inputs.Count];
        var wanted = new Dictionary<object, Node?>(ReferenceEqualityComparer.Instance);
        for (var j = 0; j < inputs.Count; j++)
        {
            var input = inputs[j] ?? throw new ArgumentNullException(nameof(inputs), $"Grad: input {j} is null.");
            if (!input.RequiresGrad)
            {
                throw new ArgumentException(
                    $"Grad: input {j} (shape {input.Shape}) does not require grad, so no gradient is computed for it. Set RequiresGrad = true on it before building the outputs.", nameof(inputs));
            }
            keys[j] = input.Node.IsLeaf ? input.Node.Key : input.Node;
            wanted[keys[j]] = null;
        }

        // Several outputs: one pass from all of them at once, joined (flattened) into one root.
        var (root, seed) = outputs.Count == 1
            ? (outputs[0].Node, seeds[0])
            : (NodeModule.concat(0, outputs.Select(o => NodeModule.reshape([-1], o.Node)).ToArray()),
               NodeModule.concat(0, seeds.Select(s => NodeModule.reshape([-1], s)).ToArray()));

        var reached = new HashSet<object>(ReferenceEqualityComparer.Instance);
        Node? Visit(Node n, Node? cotangent)
        {
            var key = n.IsLeaf ? n.Key : n;
            if (wanted.TryGetValue(key, out var previous))
            {
                reached.Add(key);
                if (cotangent is not null)
                {
                    wanted[key] = previous is null ? cotangent : NodeModule.add(previous, cotangent);
                }
            }
            return cotangent;
        }
        using (EnableGrad()) // C# code the walk calls back (custom VJPs, checkpoint recomputation) must record graphs even inside NoGrad
        {
            Reverse.walkKeeping(createGraph, seed, root, FuncConvert.FromFunc<Node, bool>(n => wanted.ContainsKey(n.IsLeaf ? n.Key : n)),
                FuncConvert.FromFunc<Node, Node?, Node?>(Visit));
        }

        var results = new Variable?[inputs.Count];
        for (var j = 0; j < inputs.Count; j++)
        {
            if (!reached.Contains(keys[j]))
            {
                if (allowUnused)
                {
                    continue;
                }
                throw new ArgumentException(
                    $"Grad: input {j} (shape {inputs[j].Shape}) does not take part in the computation of the outputs. Pass allowUnused: true to get null for it.", nameof(inputs));
            }
            results[j] = Variable.FromNode(wanted[keys[j]] ?? NodeModule.constant(TensorModule.zerosLike(inputs[j].Data)));
        }
        // The gradients leave Grad computed (deferred elementwise ones together, in one fused pass).
        TensorModule.materialize(results.Where(r => r is not null).Select(r => r!.Data));
        return results;
    }

    // ---------------------------------------------------------------- function transforms

    /// <summary>
    /// The value of <paramref name="f"/> at <paramref name="x"/> and its directional derivative along
    /// <paramref name="tangent"/> (J·v), by forward mode over the op table.
    /// </summary>
    /// <param name="f">The function; it receives a variable holding the point and returns any shape.</param>
    /// <param name="x">The point.</param>
    /// <param name="tangent">The direction, shaped like <paramref name="x"/>.</param>
    /// <returns>f(x) and J·<paramref name="tangent"/> (shaped like f(x)), as tensors.</returns>
    /// <exception cref="ArgumentException"><paramref name="tangent"/>'s shape differs from <paramref name="x"/>'s.</exception>
    /// <remarks>PyTorch: <c>torch.autograd.functional.jvp(f, x, v)</c>; JAX: <c>jax.jvp</c>.</remarks>
    public static (Tensor Output, Tensor Tangent) Jvp(Func<Variable, Variable> f, Tensor x, Tensor tangent)
    {
        var core = ToolboxFunction(f);
        using var _ = EnableGrad();
        var result = Transforms.jvp(core, Point(x), Point(tangent));
        return (result.Item1.Value, result.Item2.Value);
    }

    /// <summary>
    /// The value of <paramref name="f"/> at <paramref name="xs"/> and its directional derivative when
    /// every input moves along its tangent (Σᵢ Jᵢ·vᵢ), by forward mode over the op table.
    /// </summary>
    /// <param name="f">The function; it receives one variable per input and returns any shape.</param>
    /// <param name="xs">The point, one tensor per input.</param>
    /// <param name="tangents">One direction per input, each shaped like its input.</param>
    /// <returns>f(xs) and the directional derivative (shaped like f(xs)), as tensors.</returns>
    /// <exception cref="ArgumentException">Another number of tangents than inputs, or a tangent of the wrong shape.</exception>
    /// <remarks>PyTorch: <c>torch.autograd.functional.jvp(f, inputs, v)</c>; JAX: <c>jax.jvp</c>.</remarks>
    public static (Tensor Output, Tensor Tangent) Jvp(Func<Variable[], Variable> f, Tensor[] xs, Tensor[] tangents)
    {
        var core = ToolboxFunction(f);
        using var _ = EnableGrad();
        var result = Transforms.jvpArgs(core, Points(xs), Points(tangents));
        return (result.Item1.Value, result.Item2.Value);
    }

    /// <summary>
    /// The value of <paramref name="f"/> at <paramref name="x"/> and the vector-Jacobian product
    /// <paramref name="cotangent"/>ᵀ·J (the gradient of ⟨cotangent, f⟩), by reverse mode.
    /// </summary>
    /// <param name="f">The function; it receives a variable holding the point and returns any shape.</param>
    /// <param name="x">The point.</param>
    /// <param name="cotangent">Shaped like f(x); null means ones (for a scalar f: the gradient).</param>
    /// <returns>f(x) and vᵀ·J (shaped like <paramref name="x"/>), as tensors.</returns>
    /// <exception cref="ArgumentException"><paramref name="cotangent"/>'s shape differs from f(x)'s.</exception>
    /// <remarks>PyTorch: <c>torch.autograd.functional.vjp(f, x, v)</c>; JAX: <c>jax.vjp</c>.</remarks>
    public static (Tensor Output, Tensor Cotangent) Vjp(Func<Variable, Variable> f, Tensor x, Tensor? cotangent = null)
    {
        var core = ToolboxFunction(f);
        using var _ = EnableGrad();
        var (output, back) = Transforms.vjp(core, Point(x));
        return (output.Value, back.Invoke(Seed(cotangent, output)).Value);
    }

    /// <summary>
    /// The value of <paramref name="f"/> at <paramref name="xs"/> and the vector-Jacobian products
    /// <paramref name="cotangent"/>ᵀ·Jᵢ for every input, by one reverse pass.
    /// </summary>
    /// <param name="f">The function; it receives one variable per input and returns any shape.</param>
    /// <param name="xs">The point, one tensor per input.</param>
    /// <param name="cotangent">Shaped like f(xs); null means ones.</param>
    /// <returns>f(xs) and one product per input (shaped like that input), as tensors.</returns>
    /// <exception cref="ArgumentException"><paramref name="cotangent"/>'s shape differs from f(xs)'s.</exception>
    /// <remarks>PyTorch: <c>torch.autograd.functional.vjp(f, inputs, v)</c>; JAX: <c>jax.vjp</c>.</remarks>
    public static (Tensor Output, Tensor[] Cotangents) Vjp(Func<Variable[], Variable> f, Tensor[] xs, Tensor? cotangent = null)
    {
        var core = ToolboxFunction(f);
        using var _ = EnableGrad();
        var (output, back) = Transforms.vjpArgs(core, Points(xs));
        return (output.Value, Array.ConvertAll(back.Invoke(Seed(cotangent, output)), g => g.Value));
    }

    /// <summary>The Jacobian of <paramref name="f"/> at <paramref name="x"/>, by reverse mode (one pass per output element).</summary>
    /// <param name="f">The function; it receives a variable holding the point and returns any shape.</param>
    /// <param name="x">The point.</param>
    /// <returns>∂f/∂x as a tensor of shape f(x).shape followed by x.shape (an elementwise function of a vector gives a diagonal matrix).</returns>
    /// <remarks>PyTorch: <c>torch.autograd.functional.jacobian(f, x)</c>; JAX: <c>jax.jacrev</c>.</remarks>
    public static Tensor Jacobian(Func<Variable, Variable> f, Tensor x)
    {
        var core = ToolboxFunction(f);
        using var _ = EnableGrad();
        return Transforms.jacobian(core, Point(x)).Value;
    }

    /// <summary>The Jacobian of <paramref name="f"/> with respect to each of its inputs at <paramref name="xs"/>.</summary>
    /// <param name="f">The function; it receives one variable per input and returns any shape.</param>
    /// <param name="xs">The point, one tensor per input.</param>
    /// <returns>One block per input i: ∂f/∂xᵢ of shape f(xs).shape followed by xᵢ.shape.</returns>
    /// <remarks>PyTorch: <c>torch.autograd.functional.jacobian(f, inputs)</c> (a tuple); JAX: <c>jax.jacrev(f, argnums)</c>.</remarks>
    public static Tensor[] Jacobian(Func<Variable[], Variable> f, params Tensor[] xs)
    {
        var core = ToolboxFunction(f);
        var points = Points(xs);
        using var _ = EnableGrad();
        return Enumerable.Range(0, points.Length).Select(i => Transforms.jacobian(Partial(core, points, i), points[i]).Value).ToArray();
    }

    /// <summary>The Hessian of a scalar function, by forward mode over its gradient.</summary>
    /// <param name="f">The function; it receives a variable holding the point and returns one element.</param>
    /// <param name="x">The point.</param>
    /// <returns>∂²f/∂x², of shape x.shape twice (symmetric).</returns>
    /// <exception cref="ArgumentException"><paramref name="f"/> returns more than one element.</exception>
    /// <remarks>PyTorch: <c>torch.autograd.functional.hessian(f, x)</c>; JAX: <c>jax.hessian</c>.</remarks>
    public static Tensor Hessian(Func<Variable, Variable> f, Tensor x)
    {
        var core = ToolboxFunction(f);
        using var _ = EnableGrad();
        return Transforms.hessian(core, Point(x)).Value;
    }

    /// <summary>The Hessian of a scalar function of several inputs, as blocks.</summary>
    /// <param name="f">The function; it receives one variable per input and returns one element.</param>
    /// <param name="xs">The point, one tensor per input.</param>
    /// <returns>Block [i][j] is ∂²f/∂xᵢ∂xⱼ, of shape xᵢ.shape followed by xⱼ.shape.</returns>
    /// <exception cref="ArgumentException"><paramref name="f"/> returns more than one element.</exception>
    /// <remarks>PyTorch: <c>torch.autograd.functional.hessian(f, inputs)</c> (a tuple of tuples); JAX: <c>jax.hessian(f, argnums)</c>.</remarks>
    public static Tensor[][] Hessian(Func<Variable[], Variable> f, params Tensor[] xs)
    {
        var core = ToolboxFunction(f);
        var points = Points(xs);
        using var _ = EnableGrad();
        return Enumerable.Range(0, points.Length)
            .Select(i => Enumerable.Range(0, points.Length)
                .Select(j => Transforms.jacfwd(Partial(GradientOf(core, i), points, j), points[j]).Value)
                .ToArray())
            .ToArray();
    }

    /// <summary>The Hessian-vector product H·v of a scalar function, without forming H (forward mode over its gradient).</summary>
    /// <param name="f">The function; it receives a variable holding the point and returns one element.</param>
    /// <param name="x">The point.</param>
    /// <param name="v">The vector, shaped like <paramref name="x"/>.</param>
    /// <returns>H·v, shaped like <paramref name="x"/>.</returns>
    /// <exception cref="ArgumentException"><paramref name="f"/> returns more than one element, or <paramref name="v"/> has the wrong shape.</exception>
    /// <remarks>PyTorch: <c>torch.autograd.functional.hvp(f, x, v)[1]</c>; JAX: <c>jax.jvp(jax.grad(f), (x,), (v,))[1]</c>.</remarks>
    public static Tensor Hvp(Func<Variable, Variable> f, Tensor x, Tensor v)
    {
        var core = ToolboxFunction(f);
        using var _ = EnableGrad();
        return Transforms.hvp(core, Point(x), Point(v)).Value;
    }

    /// <summary>The Hessian-vector product of a scalar function of several inputs: block row i is Σⱼ Hᵢⱼ·vⱼ.</summary>
    /// <param name="f">The function; it receives one variable per input and returns one element.</param>
    /// <param name="xs">The point, one tensor per input.</param>
    /// <param name="vs">One vector per input, each shaped like its input.</param>
    /// <returns>One product per input, shaped like that input.</returns>
    /// <exception cref="ArgumentException"><paramref name="f"/> returns more than one element, or <paramref name="vs"/> does not match <paramref name="xs"/>.</exception>
    /// <remarks>PyTorch: <c>torch.autograd.functional.hvp(f, inputs, v)[1]</c>.</remarks>
    public static Tensor[] Hvp(Func<Variable[], Variable> f, Tensor[] xs, Tensor[] vs)
    {
        var core = ToolboxFunction(f);
        var points = Points(xs);
        var directions = Points(vs);
        using var _ = EnableGrad();
        return Enumerable.Range(0, points.Length).Select(i => Transforms.jvpArgs(GradientOf(core, i), points, directions).Item2.Value).ToArray();
    }

    // ---- conversions between delegates over variables and the core's functions over nodes

    private static FSharpFunc<Node, Node> ToolboxFunction(Func<Variable, Variable> f)
    {
        ArgumentNullException.ThrowIfNull(f);
        return FuncConvert.FromFunc((Node x) => ToolboxOutput(f(Variable.FromNode(x))));
    }

    private static FSharpFunc<Node[], Node> ToolboxFunction(Func<Variable[], Variable> f)
    {
        ArgumentNullException.ThrowIfNull(f);
        return FuncConvert.FromFunc((Node[] xs) => ToolboxOutput(f(Array.ConvertAll(xs, Variable.FromNode))));
    }

    private static Node ToolboxOutput(Variable? y) =>
        y?.Node ?? throw new InvalidOperationException("the differentiated function returned null; it must return a Variable.");

    /// <summary>f as a function of its i-th input alone, the others fixed at <paramref name="xs"/>.</summary>
    private static FSharpFunc<Node, Node> Partial(FSharpFunc<Node[], Node> f, Node[] xs, int i) =>
        FuncConvert.FromFunc((Node xi) =>
        {
            var args = (Node[])xs.Clone();
            args[i] = xi;
            return f.Invoke(args);
        });

    /// <summary>The gradient of f with respect to its i-th input, as a function of all of them (it nests).</summary>
    private static FSharpFunc<Node[], Node> GradientOf(FSharpFunc<Node[], Node> f, int i) =>
        FuncConvert.FromFunc((Node[] args) => Transforms.gradArgs([i], f, args)[0]);

    private static Node Point(Tensor x) => NodeModule.constant(x ?? throw new ArgumentNullException(nameof(x)));

    private static Node[] Points(Tensor[] xs)
    {
        ArgumentNullException.ThrowIfNull(xs);
        return xs.Select((x, i) => NodeModule.constant(x ?? throw new ArgumentNullException(nameof(xs), $"element {i} is null."))).ToArray();
    }

    private static Node Seed(Tensor? cotangent, Node output) =>
        NodeModule.constant(cotangent ?? TensorModule.onesLike(output.Value));
}
