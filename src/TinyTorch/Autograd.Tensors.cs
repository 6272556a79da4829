using TinyTorch.Functional;

namespace TinyTorch;

// Linear algebra, shapes and reductions: one line each into the F# core.
public static partial class Autograd
{
    /// <summary>Matrix product with NumPy semantics: 1-D·1-D is a dot product, a 1-D operand is a row (first) or column (second) whose dimension is then dropped, N-D operands are stacks of matrices with broadcast batch dimensions.</summary>
    /// <exception cref="ShapeMismatchException">Inner dimensions differ, an operand is 0-d, or batch dimensions do not broadcast.</exception>
    /// <remarks>PyTorch: <c>torch.matmul</c>.</remarks>
    public static Variable MatMul(Variable a, Variable b) => Binary(NodeModule.matmul, a, b);

    /// <summary>x·weightᵀ + bias, for a weight [out, in] and an optional bias [out]; no transposed copy of the weight is made.</summary>
    /// <exception cref="ShapeMismatchException">The input's last dimension is not in_features, or the bias is not [out_features].</exception>
    /// <remarks>PyTorch: <c>torch.nn.functional.linear</c>.</remarks>
    public static Variable Linear(Variable x, Variable weight, Variable? bias = null) => Wrap(NodeModule.linear(NotNull(x).Node, NotNull(weight).Node, bias?.Node));

    /// <summary>The outer product of two vectors, [m] ⊗ [n] → [m, n].</summary>
    /// <remarks>PyTorch: <c>torch.outer</c>.</remarks>
    public static Variable Outer(Variable a, Variable b) => Binary(NodeModule.outer, a, b);

    /// <summary>Swaps two dimensions (by default the last two). Negative axes count from the end.</summary>
    /// <remarks>PyTorch: <c>torch.transpose</c>.</remarks>
    public static Variable Transpose(Variable x, int axis0 = -2, int axis1 = -1) => Wrap(NodeModule.transpose(axis0, axis1, NotNull(x).Node));

    /// <summary>Reorders dimensions: result dimension i is <paramref name="x"/>'s dimension <paramref name="axes"/>[i].</summary>
    /// <remarks>PyTorch: <c>torch.permute</c>.</remarks>
    public static Variable Permute(Variable x, params int[] axes) => Wrap(NodeModule.permute(axes, NotNull(x).Node));

    /// <summary>The same elements in a new shape; one dimension may be −1 and is inferred.</summary>
    /// <remarks>PyTorch: <c>torch.reshape</c>.</remarks>
    public static Variable Reshape(Variable x, params int[] shape) => Wrap(NodeModule.reshape(shape, NotNull(x).Node));

    /// <summary>Flattens dimensions <paramref name="startAxis"/> to <paramref name="endAxis"/> (inclusive) into one.</summary>
    /// <remarks>PyTorch: <c>torch.flatten</c>.</remarks>
    public static Variable Flatten(Variable x, int startAxis = 0, int endAxis = -1) => Wrap(NodeModule.flatten(startAxis, endAxis, NotNull(x).Node));

    /// <summary>Removes every dimension of size 1.</summary>
    /// <remarks>PyTorch: <c>torch.squeeze</c>.</remarks>
    public static Variable Squeeze(Variable x) => Unary(NodeModule.squeeze, x);

    /// <summary>Removes dimension <paramref name="axis"/>, which must have size 1.</summary>
    /// <remarks>PyTorch: <c>torch.squeeze(x, dim)</c>.</remarks>
    public static Variable Squeeze(Variable x, int axis) => Wrap(NodeModule.squeezeAxis(axis, NotNull(x).Node));

    /// <summary>Inserts a dimension of size 1 at <paramref name="axis"/> (−1 appends).</summary>
    /// <remarks>PyTorch: <c>torch.unsqueeze</c>.</remarks>
    public static Variable Unsqueeze(Variable x, int axis) => Wrap(NodeModule.unsqueeze(axis, NotNull(x).Node));

    /// <summary>Broadcasts to <paramref name="shape"/> (NumPy rules); the gradient is summed back.</summary>
    /// <remarks>PyTorch: <c>Tensor.expand</c>.</remarks>
    public static Variable ExpandTo(Variable x, params int[] shape) => Wrap(NodeModule.broadcastTo(Shape.Of(shape), NotNull(x).Node));

    /// <summary>Broadcasts to <paramref name="shape"/> (NumPy rules); the gradient is summed back.</summary>
    /// <remarks>PyTorch: <c>torch.broadcast_to</c>.</remarks>
    public static Variable BroadcastTo(Variable x, Shape shape) => Wrap(NodeModule.broadcastTo(shape, NotNull(x).Node));

    /// <summary>Joins variables along an existing axis; every other dimension must agree.</summary>
    /// <remarks>PyTorch: <c>torch.cat</c>.</remarks>
    public static Variable Concat(IEnumerable<Variable> xs, int axis = 0) => Wrap(NodeModule.concat(axis, Nodes(xs)));

    /// <summary>Joins equally shaped variables along a new axis.</summary>
    /// <remarks>PyTorch: <c>torch.stack</c>.</remarks>
    public static Variable Stack(IEnumerable<Variable> xs, int axis = 0) => Wrap(NodeModule.stack(axis, Nodes(xs)));

    /// <summary>Elements <paramref name="start"/>, start + step, … along <paramref name="axis"/>, <paramref name="length"/> of them; a negative start counts from the end.</summary>
    /// <remarks>PyTorch: <c>x[..., start:start + length * step:step]</c>.</remarks>
    public static Variable Slice(Variable x, int axis, int start, int length, int step = 1) => Wrap(NodeModule.slice(axis, start, length, step, NotNull(x).Node));

    /// <summary>The contiguous elements start .. start + length − 1 along <paramref name="axis"/>.</summary>
    /// <remarks>PyTorch: <c>torch.narrow</c>.</remarks>
    public static Variable Narrow(Variable x, int axis, int start, int length) => Wrap(NodeModule.narrow(axis, start, length, NotNull(x).Node));

    /// <summary>The slice at <paramref name="index"/> along <paramref name="axis"/>, with that axis removed.</summary>
    /// <remarks>PyTorch: <c>torch.select</c>.</remarks>
    public static Variable Select(Variable x, int axis, int index) => Wrap(NodeModule.select(axis, index, NotNull(x).Node));

    /// <summary>The slices at the positions in the integer vector <paramref name="indices"/> along <paramref name="axis"/>; repeats allowed, their gradients add up.</summary>
    /// <remarks>PyTorch: <c>torch.index_select</c>.</remarks>
    public static Variable IndexSelect(Variable x, int axis, Tensor indices) => Wrap(NodeModule.indexSelect(axis, indices, NotNull(x).Node));

    /// <summary>out[…, j, …] = x[…, index[…, j, …], …] along <paramref name="axis"/>, for an integer <paramref name="index"/> of x's rank.</summary>
    /// <remarks>PyTorch: <c>torch.gather</c>.</remarks>
    public static Variable Gather(Variable x, int axis, Tensor index) => Wrap(NodeModule.gather(axis, index, NotNull(x).Node));

    /// <summary>Sum over one axis.</summary>
    /// <remarks>PyTorch: <c>torch.sum(x, dim, keepdim)</c>.</remarks>
    public static Variable Sum(Variable x, int axis, bool keepDim = false) => Sum(x, [axis], keepDim);

    /// <summary>Sum over several axes.</summary>
    /// <remarks>PyTorch: <c>torch.sum(x, dims, keepdim)</c>.</remarks>
    public static Variable Sum(Variable x, int[] axes, bool keepDim = false) => Wrap(NodeModule.sum(axes, keepDim, NotNull(x).Node));

    /// <summary>Mean over one axis.</summary>
    /// <remarks>PyTorch: <c>torch.mean(x, dim, keepdim)</c>.</remarks>
    public static Variable Mean(Variable x, int axis, bool keepDim = false) => Mean(x, [axis], keepDim);

    /// <summary>Mean over several axes.</summary>
    /// <remarks>PyTorch: <c>torch.mean(x, dims, keepdim)</c>.</remarks>
    public static Variable Mean(Variable x, int[] axes, bool keepDim = false) => Wrap(NodeModule.meanAlong(axes, keepDim, NotNull(x).Node));

    /// <summary>Maximum of all elements; k tied maxima share the gradient evenly (1/k each).</summary>
    /// <remarks>PyTorch: <c>torch.max(x)</c>.</remarks>
    public static Variable Max(Variable x) => Unary(NodeModule.maxAll, x);

    /// <summary>Maximum along an axis; the whole gradient goes to the selected (first maximal) position.</summary>
    /// <remarks>PyTorch: <c>torch.amax</c> / <c>torch.max(x, dim).values</c>.</remarks>
    public static Variable Max(Variable x, int axis, bool keepDim = false) => Wrap(NodeModule.maxAlong(axis, keepDim, NotNull(x).Node));

    /// <summary>Minimum of all elements; k tied minima share the gradient evenly (1/k each).</summary>
    /// <remarks>PyTorch: <c>torch.min(x)</c>.</remarks>
    public static Variable Min(Variable x) => Unary(NodeModule.minAll, x);

    /// <summary>Minimum along an axis; the whole gradient goes to the selected (first minimal) position.</summary>
    /// <remarks>PyTorch: <c>torch.amin</c> / <c>torch.min(x, dim).values</c>.</remarks>
    public static Variable Min(Variable x, int axis, bool keepDim = false) => Wrap(NodeModule.minAlong(axis, keepDim, NotNull(x).Node));

    /// <summary>Positions of the maxima along an axis (first on ties), as an int64 tensor; not differentiable.</summary>
    /// <remarks>PyTorch: <c>torch.argmax</c>.</remarks>
    public static Tensor ArgMax(Variable x, int axis, bool keepDim = false) => NodeModule.argMax(axis, keepDim, NotNull(x).Data);

    /// <summary>Positions of the minima along an axis (first on ties), as an int64 tensor; not differentiable.</summary>
    /// <remarks>PyTorch: <c>torch.argmin</c>.</remarks>
    public static Tensor ArgMin(Variable x, int axis, bool keepDim = false) => NodeModule.argMin(axis, keepDim, NotNull(x).Data);

    /// <summary>Variance over axes (all axes when none are given); <paramref name="unbiased"/> divides by n − 1.</summary>
    /// <remarks>PyTorch: <c>torch.var(x, dim, unbiased, keepdim)</c>.</remarks>
    public static Variable Var(Variable x, int[]? axes = null, bool unbiased = true, bool keepDim = false) =>
        Wrap(NodeModule.variance(axes ?? AllAxes(x), unbiased, keepDim, NotNull(x).Node));

    /// <summary>Standard deviation over axes (all axes when none are given); <paramref name="unbiased"/> divides by n − 1.</summary>
    /// <remarks>PyTorch: <c>torch.std(x, dim, unbiased, keepdim)</c>.</remarks>
    public static Variable Std(Variable x, int[]? axes = null, bool unbiased = true, bool keepDim = false) =>
        Wrap(NodeModule.std(axes ?? AllAxes(x), unbiased, keepDim, NotNull(x).Node));

    /// <summary>log Σ exp(x) over an axis, shifted by the maximum so it never overflows.</summary>
    /// <remarks>PyTorch: <c>torch.logsumexp</c>.</remarks>
    public static Variable LogSumExp(Variable x, int axis, bool keepDim = false) => Wrap(NodeModule.logSumExp([axis], keepDim, NotNull(x).Node));

    private static int[] AllAxes(Variable? x) => Enumerable.Range(0, NotNull(x).Shape.Rank).ToArray();

    private static Node[] Nodes(IEnumerable<Variable> xs)
    {
        ArgumentNullException.ThrowIfNull(xs);
        return xs.Select((x, i) => x?.Node ?? throw new ArgumentNullException(nameof(xs), $"element {i} is null.")).ToArray();
    }

    private static Variable Wrap(Node node) => Variable.FromNode(node);
}
