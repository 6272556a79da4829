namespace TinyTorch;

// Fluent forms of the Autograd ops, for chains like x.MatMul(w).Relu().Sum(axis: 1).
public sealed partial class Variable
{
    /// <summary>Matrix product with this variable on the left.</summary>
    /// <remarks>PyTorch: <c>Tensor.matmul</c>.</remarks>
    public Variable MatMul(Variable other) => Autograd.MatMul(this, other);

    /// <summary>Swaps two dimensions (by default the last two).</summary>
    /// <remarks>PyTorch: <c>Tensor.transpose</c>.</remarks>
    public Variable Transpose(int axis0 = -2, int axis1 = -1) => Autograd.Transpose(this, axis0, axis1);

    /// <summary>Reorders dimensions.</summary>
    /// <remarks>PyTorch: <c>Tensor.permute</c>.</remarks>
    public Variable Permute(params int[] axes) => Autograd.Permute(this, axes);

    /// <summary>The same elements in a new shape; one dimension may be −1.</summary>
    /// <remarks>PyTorch: <c>Tensor.reshape</c>.</remarks>
    public Variable Reshape(params int[] shape) => Autograd.Reshape(this, shape);

    /// <summary>Flattens dimensions <paramref name="startAxis"/> to <paramref name="endAxis"/> into one.</summary>
    /// <remarks>PyTorch: <c>Tensor.flatten</c>.</remarks>
    public Variable Flatten(int startAxis = 0, int endAxis = -1) => Autograd.Flatten(this, startAxis, endAxis);

    /// <summary>Removes every dimension of size 1.</summary>
    /// <remarks>PyTorch: <c>Tensor.squeeze</c>.</remarks>
    public Variable Squeeze() => Autograd.Squeeze(this);

    /// <summary>Removes dimension <paramref name="axis"/> (of size 1).</summary>
    /// <remarks>PyTorch: <c>Tensor.squeeze(dim)</c>.</remarks>
    public Variable Squeeze(int axis) => Autograd.Squeeze(this, axis);

    /// <summary>Inserts a dimension of size 1.</summary>
    /// <remarks>PyTorch: <c>Tensor.unsqueeze</c>.</remarks>
    public Variable Unsqueeze(int axis) => Autograd.Unsqueeze(this, axis);

    /// <summary>The sum of all elements.</summary>
    /// <remarks>PyTorch: <c>Tensor.sum()</c>; Python course: <c>sum_all</c>.</remarks>
    public Variable Sum() => Autograd.SumAll(this);

    /// <summary>Sum over one axis.</summary>
    /// <remarks>PyTorch: <c>Tensor.sum(dim, keepdim)</c>.</remarks>
    public Variable Sum(int axis, bool keepDim = false) => Autograd.Sum(this, axis, keepDim);

    /// <summary>The mean of all elements.</summary>
    /// <remarks>PyTorch: <c>Tensor.mean()</c>; Python course: <c>mean</c>.</remarks>
    public Variable Mean() => Autograd.Mean(this);

    /// <summary>Mean over one axis.</summary>
    /// <remarks>PyTorch: <c>Tensor.mean(dim, keepdim)</c>.</remarks>
    public Variable Mean(int axis, bool keepDim = false) => Autograd.Mean(this, axis, keepDim);

    /// <summary>Maximum of all elements (ties share the gradient).</summary>
    /// <remarks>PyTorch: <c>Tensor.max()</c>.</remarks>
    public Variable Max() => Autograd.Max(this);

    /// <summary>Maximum along an axis (the gradient goes to the selected position).</summary>
    /// <remarks>PyTorch: <c>Tensor.amax(dim, keepdim)</c>.</remarks>
    public Variable Max(int axis, bool keepDim = false) => Autograd.Max(this, axis, keepDim);

    /// <summary>Minimum of all elements (ties share the gradient).</summary>
    /// <remarks>PyTorch: <c>Tensor.min()</c>.</remarks>
    public Variable Min() => Autograd.Min(this);

    /// <summary>Minimum along an axis (the gradient goes to the selected position).</summary>
    /// <remarks>PyTorch: <c>Tensor.amin(dim, keepdim)</c>.</remarks>
    public Variable Min(int axis, bool keepDim = false) => Autograd.Min(this, axis, keepDim);

    /// <summary>x raised to a fixed exponent.</summary>
    /// <remarks>PyTorch: <c>Tensor.pow</c>; Python course: <c>power</c>.</remarks>
    public Variable Pow(double exponent) => Autograd.Power(this, exponent);

    /// <summary>eˣ.</summary>
    /// <remarks>PyTorch: <c>Tensor.exp</c>; Python course: <c>exp</c>.</remarks>
    public Variable Exp() => Autograd.Exp(this);

    /// <summary>The course's clamped natural logarithm, ln(max(x, 1e-8)).</summary>
    /// <remarks>PyTorch: <c>Tensor.log</c> (unclamped there); Python course: <c>log</c>.</remarks>
    public Variable Log() => Autograd.Log(this);

    /// <summary>max(x, 0).</summary>
    /// <remarks>PyTorch: <c>Tensor.relu</c>; Python course: <c>relu_with_grad</c>.</remarks>
    public Variable Relu() => Autograd.Relu(this);

    /// <summary>The logistic sigmoid.</summary>
    /// <remarks>PyTorch: <c>Tensor.sigmoid</c>; Python course: <c>sigmoid_with_grad</c>.</remarks>
    public Variable Sigmoid() => Autograd.Sigmoid(this);

    /// <summary>Hyperbolic tangent.</summary>
    /// <remarks>PyTorch: <c>Tensor.tanh</c>.</remarks>
    public Variable Tanh() => Autograd.Tanh(this);

    /// <summary>|x|.</summary>
    /// <remarks>PyTorch: <c>Tensor.abs</c>.</remarks>
    public Variable Abs() => Autograd.Abs(this);

    /// <summary>√x.</summary>
    /// <remarks>PyTorch: <c>Tensor.sqrt</c>.</remarks>
    public Variable Sqrt() => Autograd.Sqrt(this);

    /// <summary>x².</summary>
    /// <remarks>PyTorch: <c>Tensor.square</c>.</remarks>
    public Variable Square() => Autograd.Square(this);

    /// <summary>Softmax along an axis.</summary>
    /// <remarks>PyTorch: <c>Tensor.softmax</c>.</remarks>
    public Variable Softmax(int axis = -1) => Autograd.Softmax(this, axis);

    /// <summary>log softmax along an axis.</summary>
    /// <remarks>PyTorch: <c>Tensor.log_softmax</c>.</remarks>
    public Variable LogSoftmax(int axis = -1) => Autograd.LogSoftmax(this, axis);

    /// <summary>Clamps into [min, max].</summary>
    /// <remarks>PyTorch: <c>Tensor.clamp</c>.</remarks>
    public Variable Clamp(double min, double max) => Autograd.Clamp(this, min, max);
}
