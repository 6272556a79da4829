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

    /// <summary>Wraps the result of a core op.</summary>
    internal static Variable FromNode(Node node) => new(node);

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
    /// into it. Always null for the results of ops. Setting it replaces it (null clears it).
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

    /// <summary>True when backward passes compute gradients through this variable.</summary>
    /// <remarks>Python course: <c>requires_grad</c>.</remarks>
    public bool RequiresGrad => node.RequiresGrad;

    /// <summary>True for variables created by the user (or not requiring grad); false for results of ops that require grad.</summary>
    /// <remarks>Python course: <c>is_leaf</c>.</remarks>
    public bool IsLeaf => node.IsLeaf || !node.RequiresGrad;

    /// <summary>The op that produced this variable; null for leaves.</summary>
    /// <remarks>Python course: <c>grad_fn</c>.</remarks>
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
    /// leaf it depends on. A second call accumulates again (the graph is immutable, so it is never freed:
    /// like PyTorch's <c>retain_graph=True</c>). All or nothing: if anything throws, no Grad changes.
    /// </summary>
    /// <param name="gradient">The gradient of some later scalar with respect to this variable; null means ones of this shape.</param>
    /// <exception cref="ArgumentException"><paramref name="gradient"/>'s shape differs from this variable's.</exception>
    /// <exception cref="InvalidOperationException">This variable does not depend on anything that requires grad.</exception>
    /// <remarks>Python course: <c>backward</c>.</remarks>
    public void Backward(Variable? gradient = null)
    {
        var seed = gradient?.Node ?? NodeModule.constant(TensorModule.onesLike(Data));
        var gradients = Reverse.gradientsWith(false, seed, node);
        Autograd.Accumulate(gradients);
    }

    /// <summary>What <see cref="Grad"/> becomes once <paramref name="gradient"/> is added (computed, not stored).</summary>
    /// <remarks>A previous gradient of another shape (left from before <see cref="Data"/> was replaced) is overwritten.</remarks>
    internal Variable AccumulatedGrad(Tensor gradient) =>
        new(Grad is null || !Grad.Shape.Equals(gradient.Shape) ? gradient : Grad.Data + gradient, requiresGrad: false);

    /// <summary>
    /// Sets the gradient of a leaf that requires grad to zeros of its shape (zeros, not null, as in the
    /// course); other variables keep a null gradient.
    /// </summary>
    /// <remarks>Python course: <c>zero_grad</c>.</remarks>
    public void ZeroGrad()
    {
        if (Grad is not null || (IsLeaf && RequiresGrad))
        {
            Grad = new Variable(TensorModule.zerosLike(Data), requiresGrad: false);
        }
    }

    /// <summary>The data, <c>requires_grad</c> and, for results of ops, the op, as the course prints them.</summary>
    /// <returns>For example <c>Variable([1, 2], requires_grad=True, grad_fn=multiply)</c>.</returns>
    /// <remarks>Python course: <c>__repr__</c>.</remarks>
    public override string ToString() =>
        $"Variable({Data.Format()}, requires_grad={(RequiresGrad ? "True" : "False")}{(GradFn is { } f ? $", grad_fn={f.Name}" : "")})";
}
