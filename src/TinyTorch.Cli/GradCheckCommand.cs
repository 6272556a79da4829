namespace TinyTorch.Cli;

/// <summary><c>tinytorch gradcheck</c>: checks every differentiable op's gradient against central differences.</summary>
public static class GradCheckCommand
{
    private static readonly Random Source = new(1234);

    private static Tensor Values(double low, double high, params int[] shape)
    {
        var count = shape.Aggregate(1, (a, b) => a * b);
        return Tensor.FromArray(Enumerable.Range(0, count).Select(_ => low + (high - low) * Source.NextDouble()).ToArray(), shape);
    }

    /// <summary>Every op with inputs inside its domain, away from kinks (margin ≫ the finite-difference step).</summary>
    public static IReadOnlyList<(string Op, Func<Variable[], Variable> F, Tensor[] Inputs)> Cases() =>
    [
        ("add", x => x[0] + x[1], [Values(-2, 2, 2, 3), Values(-2, 2, 3)]),
        ("subtract", x => x[0] - x[1], [Values(-2, 2, 2, 3), Values(-2, 2, 2, 1)]),
        ("multiply", x => x[0] * x[1], [Values(-2, 2, 2, 3), Values(-2, 2, 3)]),
        ("divide", x => x[0] / x[1], [Values(-2, 2, 2, 3), Values(0.5, 2, 3)]),
        ("negate", x => -x[0], [Values(-2, 2, 4)]),
        ("power", x => Autograd.Power(x[0], 2.5), [Values(0.5, 2, 4)]),
        ("exp", x => Autograd.Exp(x[0]), [Values(-2, 2, 4)]),
        ("log", x => Autograd.Log(x[0]), [Values(0.5, 3, 4)]),
        ("relu", x => Autograd.Relu(x[0]), [Tensor.FromArray([-1.5, -0.5, 0.5, 1.5], 4)]),
        ("sigmoid", x => Autograd.Sigmoid(x[0]), [Values(-3, 3, 4)]),
        ("tanh", x => Autograd.Tanh(x[0]), [Values(-2, 2, 4)]),
        ("sum_all", x => Autograd.SumAll(x[0]), [Values(-2, 2, 2, 3)]),
        ("mean", x => Autograd.Mean(x[0]), [Values(-2, 2, 2, 3)]),
        ("matmul", x => Autograd.MatMul(x[0], x[1]), [Values(-1, 1, 2, 3, 4), Values(-1, 1, 4, 5)]),
        ("outer", x => Autograd.Outer(x[0], x[1]), [Values(-1, 1, 3), Values(-1, 1, 2)]),
        ("transpose", x => Autograd.Transpose(x[0]), [Values(-1, 1, 2, 3)]),
        ("permute", x => Autograd.Permute(x[0], 2, 0, 1), [Values(-1, 1, 2, 3, 4)]),
        ("reshape", x => Autograd.Reshape(x[0], -1, 2), [Values(-1, 1, 2, 3, 2)]),
        ("concat", x => Autograd.Concat([x[0], x[1]], axis: 1), [Values(-1, 1, 2, 3), Values(-1, 1, 2, 2)]),
        ("stack", x => Autograd.Stack([x[0], x[1]]), [Values(-1, 1, 3), Values(-1, 1, 3)]),
        ("slice", x => Autograd.Slice(x[0], 1, 1, 2, step: 2), [Values(-1, 1, 2, 5)]),
        ("select", x => Autograd.Select(x[0], 0, -1), [Values(-1, 1, 3, 2)]),
        ("index_select", x => Autograd.IndexSelect(x[0], 0, new Tensor(new long[] { 2, 0, 2 })), [Values(-1, 1, 3, 2)]),
        ("gather", x => Autograd.Gather(x[0], 1, Tensor.FromArray(new long[] { 1, 0, 2, 2 }, 2, 2)), [Values(-1, 1, 2, 3)]),
        ("sum(axis)", x => Autograd.Sum(x[0], [0, 2]), [Values(-1, 1, 2, 3, 4)]),
        ("mean(axis)", x => Autograd.Mean(x[0], -1, keepDim: true), [Values(-1, 1, 2, 3)]),
        ("max(axis)", x => Autograd.Max(x[0], 1), [Tensor.FromArray([0.1, 0.9, 0.5, -0.2, -0.7, 0.3], 2, 3)]),
        ("min", x => Autograd.Min(x[0]), [Tensor.FromArray([0.1, 0.9, 0.5, -0.2, -0.7, 0.3], 2, 3)]),
        ("var", x => Autograd.Var(x[0], [1]), [Values(-1, 1, 3, 4)]),
        ("std", x => Autograd.Std(x[0]), [Values(-1, 1, 3, 4)]),
        ("logsumexp", x => Autograd.LogSumExp(x[0], 1), [Values(-2, 2, 3, 4)]),
        ("abs", x => Autograd.Abs(x[0]), [Tensor.FromArray([-1.5, -0.5, 0.5, 1.5], 4)]),
        ("sqrt", x => Autograd.Sqrt(x[0]), [Values(0.5, 2, 4)]),
        ("square", x => Autograd.Square(x[0]), [Values(-2, 2, 4)]),
        ("sin", x => Autograd.Sin(x[0]), [Values(-2, 2, 4)]),
        ("cos", x => Autograd.Cos(x[0]), [Values(-2, 2, 4)]),
        ("log1p", x => Autograd.Log1p(x[0]), [Values(0, 2, 4)]),
        ("expm1", x => Autograd.Expm1(x[0]), [Values(-2, 2, 4)]),
        ("erf", x => Autograd.Erf(x[0]), [Values(-2, 2, 4)]),
        ("softplus", x => Autograd.Softplus(x[0]), [Values(-3, 3, 4)]),
        ("logsigmoid", x => Autograd.LogSigmoid(x[0]), [Values(-3, 3, 4)]),
        ("maximum", x => Autograd.Maximum(x[0], x[1]), [Tensor.FromArray([0.1, 0.9, -0.5], 3), Tensor.FromArray([0.5, 0.2, -0.1], 3)]),
        ("minimum", x => Autograd.Minimum(x[0], x[1]), [Tensor.FromArray([0.1, 0.9, -0.5], 3), Tensor.FromArray([0.5, 0.2, -0.1], 3)]),
        ("clamp", x => Autograd.Clamp(x[0], -0.5, 0.5), [Tensor.FromArray([-1.5, -0.2, 0.3, 1.5], 4)]),
        ("where", x => Autograd.Where(Tensor.FromArray([1.0, 0.0, 1.0], 3), x[0], x[1]), [Values(-1, 1, 2, 3), Values(-1, 1, 3)]),
        ("leaky_relu", x => Autograd.LeakyRelu(x[0]), [Tensor.FromArray([-1.5, -0.5, 0.5, 1.5], 4)]),
        ("gelu", x => Autograd.Gelu(x[0]), [Values(-2, 2, 4)]),
        ("gelu(tanh)", x => Autograd.Gelu(x[0], tanhApproximation: true), [Values(-2, 2, 4)]),
        ("elu", x => Autograd.Elu(x[0]), [Tensor.FromArray([-1.5, -0.5, 0.5, 1.5], 4)]),
        ("softmax", x => Autograd.Softmax(x[0]), [Values(-2, 2, 3, 4)]),
        ("log_softmax", x => Autograd.LogSoftmax(x[0]), [Values(-2, 2, 3, 4)]),
        ("mse_loss", x => Autograd.MseLoss(x[0], x[1]), [Values(-1, 1, 3, 2), Values(-1, 1, 3, 2)]),
        ("huber_loss", x => Autograd.HuberLoss(x[0], x[1], delta: 0.5), [Values(-1, 1, 3, 2), Values(-1, 1, 3, 2)]),
        ("bce_with_logits", x => Autograd.BinaryCrossEntropyWithLogits(x[0], x[1]), [Values(-2, 2, 3, 2), Values(0, 1, 3, 2)]),
        ("cross_entropy", x => Autograd.CrossEntropy(x[0], new Tensor(new long[] { 2, 0, 1 }), labelSmoothing: 0.1), [Values(-2, 2, 3, 4)]),
        ("nll_loss", x => Autograd.NllLoss(Autograd.LogSoftmax(x[0]), new Tensor(new long[] { 2, 0, 1 })), [Values(-2, 2, 3, 4)]),
    ];

    /// <summary>Prints one row per op: the largest absolute and relative errors and whether the check passed.</summary>
    /// <param name="output">Where the table goes.</param>
    /// <returns>0 when every op passes, 1 otherwise.</returns>
    public static int Run(TextWriter output)
    {
        output.WriteLine($"{"op",-16} {"max abs error",14} {"max rel error",14}  result");
        var failures = 0;
        foreach (var (op, f, inputs) in Cases())
        {
            var (absolute, relative) = GradientChecker.MaxErrors(f, inputs);
            var passed = GradientChecker.Compare(f, null, inputs).Count == 0;
            failures += passed ? 0 : 1;
            output.WriteLine($"{op,-16} {absolute.ToString("0.00e+00"),14} {relative.ToString("0.00e+00"),14}  {(passed ? "pass" : "FAIL")}");
        }
        output.WriteLine(failures == 0 ? "all ops pass (finite differences, random direction, adjoint identity)" : $"{failures} ops failed");
        return failures == 0 ? 0 : 1;
    }
}
