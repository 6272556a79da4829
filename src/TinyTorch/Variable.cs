using System.Runtime.CompilerServices;
using Microsoft.FSharp.Core;
using TinyTorch.Functional;

namespace TinyTorch;

/// <summary>
/// A mutable handle on one node of an expression graph, plus its accumulated gradient.
/// </summary>
/// <remarks>
/// Python course: <c>Variable</c>. The value itself is an immutable <see cref="Tensor"/>; setting
/// <see cref="Data"/> on a leaf rebinds the handle to a new leaf, so graphs built earlier keep the
/// value they saw. Not thread-safe: use one variable from one thread at a time.
/// </remarks>
public sealed partial class Variable
{
    private Node node;

    /// <summary>A variable holding <paramref name="data"/>.</summary>
    /// <param name="data">The value.</param>
    /// <param name="requiresGrad">Whether backward passes compute a gradient for it (default true, as in the course).</param>
    /// <remarks>Python course: <c>Variable(data, requires_grad=True)</c>.</remarks>
    public Variable(Tensor data, bool requiresGrad = true)
    {
        ArgumentNullException.ThrowIfNull(data);
        node = requiresGrad ? NodeModule.leafWithKey(this, data) : NodeModule.constant(data);
    }

    /// <summary>A float64 scalar variable.</summary>
    /// <param name="value">The value.</param>
    /// <param name="requiresGrad">Whether backward passes compute a gradient for it.</param>
    /// <remarks>Python course: <c>Variable(5.0)</c>.</remarks>
    public Variable(double value, bool requiresGrad = true) : this(new Tensor(value), requiresGrad) { }

    /// <summary>A float32 scalar variable.</summary>
    /// <param name="value">The value.</param>
    /// <param name="requiresGrad">Whether backward passes compute a gradient for it.</param>
    /// <remarks>Python course: <c>Variable(np.float32(5.0))</c>.</remarks>
    public Variable(float value, bool requiresGrad = true) : this(new Tensor(value), requiresGrad) { }

    /// <summary>A float64 vector variable (the values are copied).</summary>
    /// <param name="values">The values.</param>
    /// <param name="requiresGrad">Whether backward passes compute a gradient for it.</param>
    /// <remarks>Python course: <c>Variable([1.0, 2.0, 3.0])</c>.</remarks>
    public Variable(double[] values, bool requiresGrad = true) : this(new Tensor(values), requiresGrad) { }

    /// <summary>A float32 vector variable (the values are copied).</summary>
    /// <param name="values">The values.</param>
    /// <param name="requiresGrad">Whether backward passes compute a gradient for it.</param>
    /// <remarks>Python course: <c>Variable(np.array([...], dtype=np.float32))</c>.</remarks>
    public Variable(float[] values, bool requiresGrad = true) : this(new Tensor(values), requiresGrad) { }

    /// <summary>A float64 matrix variable (the values are copied).</summary>
    /// <param name="values">The values.</param>
    /// <param name="requiresGrad">Whether backward passes compute a gradient for it.</param>
    /// <remarks>Python course: <c>Variable([[1.0, 2.0], [3.0, 4.0]])</c>.</remarks>
    public Variable(double[,] values, bool requiresGrad = true) : this(new Tensor(values), requiresGrad) { }

    /// <summary>A float32 matrix variable (the values are copied).</summary>
    /// <param name="values">The values.</param>
    /// <param name="requiresGrad">Whether backward passes compute a gradient for it.</param>
    /// <remarks>Python course: <c>Variable(np.array([[...]], dtype=np.float32))</c>.</remarks>
    public Variable(float[,] values, bool requiresGrad = true) : this(new Tensor(values), requiresGrad) { }

    private Variable(Node node) => this.node = node;

    /// <summary>
    /// Wraps the result of a core op: the one place every op result becomes a variable, so the one place
    /// <see cref="Autograd.NoGrad"/> is honoured (inside such a scope the result is detached). Leaves are
    /// wrapped as they are: they are inputs (e.g. the points a transform differentiates at), not op results;
    /// except a variable's own leaf, which comes back from an op that returns its input unchanged (a reshape
    /// to the same shape, dropout in eval mode) and is an op result like any other.
    /// </summary>
    internal static Variable FromNode(Node node) =>
        new((node.IsLeaf && node.Key is not Variable) || Autograd.IsGradEnabled ? node : NodeModule.detach(node));

    /// <summary>The core graph node this variable stands for now.</summary>
    internal Node Node => node;

    /// <summary>The value. Setting it on a leaf replaces the value (<c>w.Data -= lr * w.Grad!.Data</c>).</summary>
    /// <exception cref="InvalidOperationException">Set on the result of an op (not a leaf).</exception>
    /// <remarks>Python course: <c>data</c>.</remarks>
    public Tensor Data
    {
        get => node.Value;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            if (!IsLeaf)
            {
                throw new InvalidOperationException(
                    $"Data can only be set on a leaf variable, but this one is the result of {node.Op.Name}. Create a new Variable instead.");
            }
            node = node.RequiresGrad ? NodeModule.leafWithKey(this, value) : NodeModule.constant(value);
        }
    }

    /// <summary>
    /// The accumulated gradient: null until a backward pass reaches this leaf; backward passes add
    /// into it. Null for the results of ops unless <see cref="RetainGrad"/> was called on them. After
    /// <c>Backward(createGraph: true)</c> it is itself differentiable (it has a <see cref="GradFn"/>).
    /// Setting it replaces it (null clears it).
    /// </summary>
    /// <exception cref="ArgumentException">Set to a gradient whose shape differs from <see cref="Shape"/>.</exception>
    /// <remarks>Python course: <c>grad</c>.</remarks>
    public Variable? Grad
    {
        get;
        set
        {
            if (value is not null && !value.Shape.Equals(Shape))
            {
                throw new ArgumentException($"Grad: the gradient has shape {value.Shape} but the variable has shape {Shape}.", nameof(value));
            }
            field = value;
        }
    }

    /// <summary>
    /// True when backward passes compute gradients through this variable. Settable on leaves only:
    /// the variable is rebound to a new leaf (or constant) with the same <see cref="Data"/>, and its
    /// <see cref="Grad"/> and hooks are kept; graphs built earlier keep the node they saw.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// Set on the result of an op (use <see cref="Detach"/> instead), or set to true on an integer tensor
    /// (only floating-point tensors can require gradients; the flag stays false).
    /// </exception>
    /// <remarks>Python course: <c>requires_grad</c>; PyTorch: <c>Tensor.requires_grad</c> (settable on leaves, <c>requires_grad_()</c>).</remarks>
    public bool RequiresGrad
    {
        get => node.RequiresGrad;
        set
        {
            if (!IsLeaf)
            {
                throw new InvalidOperationException(
                    $"RequiresGrad can only be changed on a leaf variable, but this one is the result of {node.Op.Name}. Use Detach() for a copy that does not require grad.");
            }
            if (value != node.RequiresGrad)
            {
                node = value ? NodeModule.leafWithKey(this, node.Value) : NodeModule.constant(node.Value);
            }
        }
    }

    /// <summary>True when <see cref="Backward"/> fills <see cref="Grad"/> for this result of an op (see <see cref="RetainGrad"/>); always true for leaves that require grad.</summary>
    /// <remarks>PyTorch: <c>Tensor.retains_grad</c> (false for leaves there).</remarks>
    public bool RetainsGrad => retainsGrad || (node.IsLeaf && node.RequiresGrad);

    /// <summary>True for variables created by the user (or not requiring grad); false for results of ops that require grad.</summary>
    /// <remarks>Python course: <c>is_leaf</c>.</remarks>
    public bool IsLeaf => node.IsLeaf || !node.RequiresGrad;

    /// <summary>The op that produced this variable; null for leaves.</summary>
    /// <remarks>Python course: <c>grad_fn</c>; <see cref="TinyTorch.GradFn.Inputs"/> walks the graph back to the leaves.</remarks>
    public GradFn? GradFn => IsLeaf ? null : new GradFn(node);

    /// <summary>The dimensions.</summary>
    /// <remarks>Python course: <c>shape</c>.</remarks>
    public Shape Shape => node.Shape;

    /// <summary>Number of elements.</summary>
    /// <remarks>Python course: <c>size</c>.</remarks>
    public int Size => node.Shape.Size;

    /// <summary>Element type.</summary>
    public DType DType => node.DType;

    /// <summary>The only element, widened to double.</summary>
    /// <exception cref="InvalidOperationException">The variable has more or fewer than one element.</exception>
    /// <remarks>Python course: <c>data.data.item()</c>.</remarks>
    public double Item() => Data.Item();

    /// <summary>All elements in row-major order, widened to double.</summary>
    /// <remarks>Python course: <c>data.data.tolist()</c> (flattened).</remarks>
    public double[] ToArray() => Data.ToArray();

    /// <summary>
    /// Backpropagates from this variable and adds the gradients into the <see cref="Grad"/> of every
    /// leaf it depends on, and of every intermediate variable that called <see cref="RetainGrad"/>;
    /// gradient hooks (<see cref="RegisterHook"/>) transform the gradient that reaches their variable
    /// first. A second call accumulates again (the graph is immutable, so it is never freed: like
    /// PyTorch's <c>retain_graph=True</c>). All or nothing: every gradient is computed (and every hook
    /// run) before any Grad is assigned, so if anything throws, no Grad changes.
    /// </summary>
    /// <param name="gradient">The gradient of some later scalar with respect to this variable; null means ones of this shape.</param>
    /// <param name="createGraph">
    /// Record the backward pass itself, so that the gradients stored in <see cref="Grad"/> are
    /// differentiable variables (for second derivatives: <c>Autograd.Grad(x.Grad!, x)</c>).
    /// </param>
    /// <exception cref="ArgumentException"><paramref name="gradient"/>'s shape differs from this variable's.</exception>
    /// <exception cref="InvalidOperationException">
    /// This variable does not depend on anything that requires grad, or a hook returned a gradient of the wrong shape.
    /// </exception>
    /// <remarks>Python course: <c>backward</c>; PyTorch: <c>Tensor.backward(gradient, create_graph=...)</c>.</remarks>
    public void Backward(Variable? gradient = null, bool createGraph = false)
    {
        var seed = gradient?.Node ?? (createGraph ? NodeModule.constant(TensorModule.onesLike(Data)) : Ones(node));
        var leafGradients = new Dictionary<Variable, Node>(ReferenceEqualityComparer.Instance);
        List<(Variable Variable, Node Gradient)>? retained = null;
        var anyWatched = Volatile.Read(ref watchedCount) > 0;

        Node? Visit(Node n, Node? cotangent)
        {
            if (n.IsLeaf)
            {
                if (n.Key is not Variable leaf)
                {
                    return cotangent;
                }
                var g = leaf.ApplyHooks(n, cotangent ?? Zeros(n));
                leafGradients[leaf] = leafGradients.TryGetValue(leaf, out var previous) ? NodeModule.add(previous, g) : g;
                return g;
            }
            if (!anyWatched || !Watched.TryGetValue(n, out var watchers))
            {
                return cotangent;
            }
            var flowing = cotangent ?? Zeros(n);
            foreach (var v in Snapshot(watchers))
            {
                flowing = v.ApplyHooks(n, flowing);
                if (v.retainsGrad)
                {
                    (retained ??= []).Add((v, flowing));
                }
            }
            return flowing;
        }

        // The walk may call back into C# (custom VJPs, checkpoint recomputation), which must record graphs even inside NoGrad.
        // (Entering the scope writes an AsyncLocal, which allocates: skipped when the mode is on already.)
        using (Autograd.IsGradEnabled ? null : Autograd.EnableGrad())
        {
            // Visit keeps the cotangents of leaves and of watched nodes (hooks, RetainGrad); the engine may give the others' buffers back.
            Reverse.walkKeeping(createGraph, seed, node, FuncConvert.FromFunc<Node, bool>(n => n.IsLeaf || (anyWatched && Watched.TryGetValue(n, out _))),
                FuncConvert.FromFunc<Node, Node?, Node?>(Visit));
        }

        var updates = new (Variable Variable, Variable Grad)[leafGradients.Count + (retained?.Count ?? 0)];
        var k = 0;
        foreach (var (v, g) in leafGradients)
        {
            updates[k++] = (v, v.AccumulatedGrad(g, createGraph));
        }
        foreach (var (v, g) in retained ?? [])
        {
            updates[k++] = (v, v.AccumulatedGrad(g, createGraph));
        }
        // The gradients leave Backward computed (deferred elementwise ones together, in one fused pass).
        TensorModule.materialize(updates.Select(u => u.Grad.Data));
        foreach (var (v, grad) in updates)
        {
            v.Grad = grad;
        }
    }

    /// <summary>
    /// What <see cref="Grad"/> becomes once <paramref name="gradient"/> is added (computed, not stored):
    /// differentiable with <paramref name="createGraph"/>, a constant otherwise.
    /// </summary>
    private Variable AccumulatedGrad(Node gradient, bool createGraph)
    {
        if (!gradient.Shape.Equals(Shape))
        {
            throw new InvalidOperationException(
                $"backward: the graph used this leaf when it had shape {gradient.Shape}, but its Data now has shape {Shape}; rebuild the graph from the current value.");
        }
        var sum = Grad is null || !Grad.Shape.Equals(gradient.Shape) || (!createGraph && TensorModule.addsNothing(Grad.Data, gradient.Value))
            ? gradient
            : NodeModule.add(createGraph ? Grad.Node : NodeModule.detach(Grad.Node), gradient);
        return FromNode(createGraph ? sum : NodeModule.detach(sum));
    }

    /// <summary>The 0-d zeros <see cref="ZeroGrad"/> gives scalar leaves (tensors are immutable, so one serves all).</summary>
    private static readonly Tensor[] ZeroScalars = [new Tensor(0.0f), new Tensor(0.0)];

    private static Node Zeros(Node like) => NodeModule.constant(TensorModule.zerosLike(like.Value));

    /// <summary>The seed of a first-order pass: a 0-d one is a shared constant (immutable, and never part of a recorded graph).</summary>
    private static Node Ones(Node like) =>
        like.Shape.Rank == 0 && like.DType is DType.Float32 or DType.Float64 ? OneScalars[(int)like.DType] : NodeModule.constant(TensorModule.onesLike(like.Value));

    private static readonly Node[] OneScalars = [NodeModule.constant(new Tensor(1.0f)), NodeModule.constant(new Tensor(1.0))];

    /// <summary>
    /// Sets the gradient of a leaf that requires grad to zeros of its shape (zeros, not null, as in the
    /// course); other variables keep a null gradient.
    /// </summary>
    /// <remarks>Python course: <c>zero_grad</c>.</remarks>
    public void ZeroGrad()
    {
        if (Grad is not null || (IsLeaf && RequiresGrad))
        {
            var data = Data;
            var zeros = data.Shape.Rank == 0 && data.DType is DType.Float32 or DType.Float64 ? ZeroScalars[(int)data.DType] : TensorModule.zerosLike(data);
            Grad = new Variable(zeros, requiresGrad: false);
        }
    }

    /// <summary>
    /// The same value cut off from the graph: a leaf that does not require grad, sharing the (immutable) data.
    /// </summary>
    /// <remarks>PyTorch: <c>Tensor.detach</c>.</remarks>
    public Variable Detach() => FromNode(NodeModule.detach(node));

    /// <summary>
    /// Makes <see cref="Backward"/> fill <see cref="Grad"/> for this result of an op, as it does for
    /// leaves (accumulating across calls, after this variable's hooks have run). It receives the complete
    /// gradient once, however many times the variable was used. A no-op on leaves that require grad.
    /// </summary>
    /// <exception cref="InvalidOperationException">The variable does not require grad.</exception>
    /// <remarks>PyTorch: <c>Tensor.retain_grad</c>.</remarks>
    public void RetainGrad()
    {
        RequireGradFor("RetainGrad");
        if (!node.IsLeaf && !retainsGrad)
        {
            Watch();
            retainsGrad = true;
        }
    }

    /// <summary>
    /// Registers a hook that transforms the gradient flowing into this variable during
    /// <see cref="Backward"/>: for a leaf, before it is added into <see cref="Grad"/>; for the result of
    /// an op, before it propagates further back (and before a retained gradient is stored). The hook sees
    /// the complete (summed) gradient once per backward pass, however many times the variable was used.
    /// Several hooks compose in registration order. A hook returning null (or its argument) leaves the
    /// gradient unchanged; a changed gradient is a constant, even with <c>createGraph</c>.
    /// <see cref="Autograd.Grad(Variable, Variable, Variable?, bool)"/> does not run hooks.
    /// </summary>
    /// <param name="hook">Receives the gradient, returns the gradient to use instead (the same shape).</param>
    /// <returns>A handle whose <see cref="IDisposable.Dispose"/> removes the hook.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="hook"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The variable does not require grad. (A hook returning a gradient of another shape makes <see cref="Backward"/> throw <see cref="InvalidOperationException"/>.)</exception>
    /// <remarks>PyTorch: <c>Tensor.register_hook</c>, returning a <c>RemovableHandle</c>.</remarks>
    public IDisposable RegisterHook(Func<Tensor, Tensor?> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        RequireGradFor("RegisterHook");
        if (!node.IsLeaf)
        {
            Watch();
        }
        var entry = new HookEntry(this, hook);
        hooks = [.. hooks ?? [], entry];
        return entry;
    }

    /// <summary>The data, <c>requires_grad</c> and, for results of ops, the op, as the course prints them.</summary>
    /// <returns>For example <c>Variable([1, 2], requires_grad=True, grad_fn=multiply)</c>.</returns>
    /// <remarks>Python course: <c>__repr__</c>.</remarks>
    public override string ToString() =>
        $"Variable({Data.Format()}, requires_grad={(RequiresGrad ? "True" : "False")}{(GradFn is { } f ? $", grad_fn={f.Name}" : "")})";

    // ---- hooks and retained gradients ----

    /// <summary>The results of ops that have hooks or retain their gradient, found from their nodes during backward.</summary>
    private static readonly ConditionalWeakTable<Node, List<Variable>> Watched = new();

    /// <summary>How many nodes were ever watched: when none, backward skips the look-ups.</summary>
    private static int watchedCount;

    private HookEntry[]? hooks;
    private bool retainsGrad;

    private void RequireGradFor(string operation)
    {
        if (!RequiresGrad)
        {
            throw new InvalidOperationException(
                $"{operation}: this variable does not require grad, so no gradient ever flows into it. Set RequiresGrad = true on the leaf first.");
        }
    }

    private void Watch()
    {
        var watchers = Watched.GetOrCreateValue(node);
        lock (watchers)
        {
            if (!watchers.Contains(this))
            {
                watchers.Add(this);
                Interlocked.Increment(ref watchedCount);
            }
        }
    }

    private static Variable[] Snapshot(List<Variable> watchers)
    {
        lock (watchers)
        {
            return [.. watchers];
        }
    }

    /// <summary>Runs this variable's hooks, in registration order, on the gradient reaching <paramref name="at"/>.</summary>
    private Node ApplyHooks(Node at, Node gradient)
    {
        foreach (var entry in hooks ?? [])
        {
            var result = entry.Hook(gradient.Value);
            if (result is null || ReferenceEquals(result, gradient.Value))
            {
                continue;
            }
            if (!result.Shape.Equals(at.Shape))
            {
                throw new InvalidOperationException(
                    $"backward: a gradient hook of a variable of shape {at.Shape} returned a gradient of shape {result.Shape}; a hook must return a gradient of the variable's shape {at.Shape}.");
            }
            gradient = NodeModule.cast(at.DType, NodeModule.constant(result));
        }
        return gradient;
    }

    private void RemoveHook(HookEntry entry) => hooks = hooks is null ? null : Array.FindAll(hooks, h => !ReferenceEquals(h, entry));

    /// <summary>One registered hook; disposing it removes the hook (again: nothing).</summary>
    private sealed class HookEntry(Variable owner, Func<Tensor, Tensor?> hook) : IDisposable
    {
        public Func<Tensor, Tensor?> Hook => hook;

        public void Dispose() => owner.RemoveHook(this);
    }
}
