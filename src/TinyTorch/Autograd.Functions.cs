using TinyTorch.Functional;

namespace TinyTorch;

// Elementwise functions, the softmax family, losses and dropout: one line each into the F# core.
public static partial class Autograd
{
    /// <summary>|x|, with gradient 0 at 0.</summary>
    /// <remarks>PyTorch: <c>torch.abs</c>.</remarks>
    public static Variable Abs(Variable x) => Unary(NodeModule.abs, x);

    /// <summary>√x; the gradient at 0 is +∞.</summary>
    /// <remarks>PyTorch: <c>torch.sqrt</c>.</remarks>
    public static Variable Sqrt(Variable x) => Unary(NodeModule.sqrt, x);

    /// <summary>x².</summary>
    /// <remarks>PyTorch: <c>torch.square</c>.</remarks>
    public static Variable Square(Variable x) => Unary(NodeModule.square, x);

    /// <summary>−x.</summary>
    /// <remarks>PyTorch: <c>torch.neg</c>.</remarks>
    public static Variable Neg(Variable x) => Unary(NodeModule.negate, x);

    /// <summary>sin x.</summary>
    /// <remarks>PyTorch: <c>torch.sin</c>.</remarks>
    public static Variable Sin(Variable x) => Unary(NodeModule.sin, x);

    /// <summary>cos x.</summary>
    /// <remarks>PyTorch: <c>torch.cos</c>.</remarks>
    public static Variable Cos(Variable x) => Unary(NodeModule.cos, x);

    /// <summary>ln(1 + x), accurate near 0.</summary>
    /// <remarks>PyTorch: <c>torch.log1p</c>.</remarks>
    public static Variable Log1p(Variable x) => Unary(NodeModule.log1p, x);

    /// <summary>eˣ − 1, accurate near 0.</summary>
    /// <remarks>PyTorch: <c>torch.expm1</c>.</remarks>
    public static Variable Expm1(Variable x) => Unary(NodeModule.expm1, x);

    /// <summary>The error function.</summary>
    /// <remarks>PyTorch: <c>torch.erf</c>.</remarks>
    public static Variable Erf(Variable x) => Unary(NodeModule.erf, x);

    /// <summary>ln(1 + eˣ), computed without overflow.</summary>
    /// <remarks>PyTorch: <c>torch.nn.functional.softplus</c>.</remarks>
    public static Variable Softplus(Variable x) => Unary(NodeModule.softplus, x);

    /// <summary>ln σ(x) = −softplus(−x), stable for any x.</summary>
    /// <remarks>PyTorch: <c>torch.nn.functional.logsigmoid</c>.</remarks>
    public static Variable LogSigmoid(Variable x) => Unary(NodeModule.logSigmoid, x);

    /// <summary>Elementwise maximum with broadcasting; ties give ½ of the gradient to each operand.</summary>
    /// <remarks>PyTorch: <c>torch.maximum</c>.</remarks>
    public static Variable Maximum(Variable a, Variable b) => Binary(NodeModule.maximum, a, b);

    /// <summary>Elementwise minimum with broadcasting; ties give ½ of the gradient to each operand.</summary>
    /// <remarks>PyTorch: <c>torch.minimum</c>.</remarks>
    public static Variable Minimum(Variable a, Variable b) => Binary(NodeModule.minimum, a, b);

    /// <summary>Clamps into [<paramref name="min"/>, <paramref name="max"/>]; the gradient passes at the bounds.</summary>
    /// <exception cref="ArgumentException"><paramref name="min"/> is above <paramref name="max"/>.</exception>
    /// <remarks>PyTorch: <c>torch.clamp</c>.</remarks>
    public static Variable Clamp(Variable x, double min, double max) => Wrap(NodeModule.clamp(min, max, NotNull(x).Node));

    /// <summary>
    /// Where <paramref name="condition"/> is nonzero take <paramref name="a"/>, else <paramref name="b"/>, with broadcasting.
    /// The backward pass selects the gradient instead of multiplying by a mask, and every derivative rule treats a zero
    /// gradient as exactly zero, so a NaN or ∞ in the branch not taken never reaches the gradient.
    /// </summary>
    /// <remarks>PyTorch: <c>torch.where</c>.</remarks>
    public static Variable Where(Tensor condition, Variable a, Variable b) => Wrap(NodeModule.where(condition, NotNull(a).Node, NotNull(b).Node));

    /// <summary>The same as <see cref="Where(Tensor, Variable, Variable)"/> with the condition's current value (no gradient flows into it).</summary>
    /// <remarks>PyTorch: <c>torch.where</c>.</remarks>
    public static Variable Where(Variable condition, Variable a, Variable b) => Where(NotNull(condition).Data, a, b);

    /// <summary>x for x &gt; 0, <paramref name="negativeSlope"/>·x otherwise.</summary>
    /// <remarks>PyTorch: <c>torch.nn.functional.leaky_relu</c>.</remarks>
    public static Variable LeakyRelu(Variable x, double negativeSlope = 0.01) => Wrap(NodeModule.leakyRelu(negativeSlope, NotNull(x).Node));

    /// <summary>GELU: x·Φ(x) with the exact normal CDF, or its tanh approximation when <paramref name="tanhApproximation"/> is set.</summary>
    /// <remarks>PyTorch: <c>torch.nn.functional.gelu(x, approximate='none' | 'tanh')</c>.</remarks>
    public static Variable Gelu(Variable x, bool tanhApproximation = false) => Wrap(NodeModule.gelu(tanhApproximation, NotNull(x).Node));

    /// <summary>x for x &gt; 0, <paramref name="alpha"/>·(eˣ − 1) otherwise.</summary>
    /// <remarks>PyTorch: <c>torch.nn.functional.elu</c>.</remarks>
    public static Variable Elu(Variable x, double alpha = 1.0) => Wrap(NodeModule.elu(alpha, NotNull(x).Node));

    /// <summary>Softmax along <paramref name="axis"/>, stable for logits of any size.</summary>
    /// <remarks>PyTorch: <c>torch.softmax</c>.</remarks>
    public static Variable Softmax(Variable x, int axis = -1) => Wrap(NodeModule.softmax(axis, NotNull(x).Node));

    /// <summary>log softmax along <paramref name="axis"/>: x − logsumexp(x), stable for logits of ±1000.</summary>
    /// <remarks>PyTorch: <c>torch.log_softmax</c>.</remarks>
    public static Variable LogSoftmax(Variable x, int axis = -1) => Wrap(NodeModule.logSoftmax(axis, NotNull(x).Node));

    /// <summary>Squared error between equally shaped input and target, reduced.</summary>
    /// <remarks>PyTorch: <c>torch.nn.functional.mse_loss</c>.</remarks>
    public static Variable MseLoss(Variable input, Variable target, Reduction reduction = Reduction.Mean) =>
        Wrap(Loss.mse(reduction, NotNull(input).Node, NotNull(target).Node));

    /// <summary>Huber loss: ½d² for |d| ≤ <paramref name="delta"/>, delta·(|d| − ½delta) beyond.</summary>
    /// <remarks>PyTorch: <c>torch.nn.functional.huber_loss</c>.</remarks>
    public static Variable HuberLoss(Variable input, Variable target, double delta = 1.0, Reduction reduction = Reduction.Mean) =>
        Wrap(Loss.huber(delta, reduction, NotNull(input).Node, NotNull(target).Node));

    /// <summary>Binary cross-entropy on logits, softplus(x) − x·y: stable for any logit.</summary>
    /// <remarks>PyTorch: <c>torch.nn.functional.binary_cross_entropy_with_logits</c>.</remarks>
    public static Variable BinaryCrossEntropyWithLogits(Variable logits, Variable targets, Reduction reduction = Reduction.Mean) =>
        Wrap(Loss.binaryCrossEntropyWithLogits(reduction, NotNull(logits).Node, NotNull(targets).Node));

    /// <summary>
    /// Cross-entropy of logits [N, C] against integer class labels [N], fused with log-softmax. Optional class
    /// <paramref name="weights"/> [C] (the mean then divides by the labels' total weight) and label smoothing ε:
    /// each sample's loss is (1 − ε)·(−w[y]·log p[y]) + ε·(−Σ_c w[c]·log p[c]) / C.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A label is outside [0, C).</exception>
    /// <remarks>PyTorch: <c>torch.nn.functional.cross_entropy</c>.</remarks>
    public static Variable CrossEntropy(Variable logits, Tensor labels, Reduction reduction = Reduction.Mean, Tensor? weights = null, double labelSmoothing = 0.0) =>
        Wrap(Loss.crossEntropy(reduction, weights, labelSmoothing, NotNull(logits).Node, labels));

    /// <summary>Negative log-likelihood of integer labels [N] given log-probabilities [N, C], with optional class weights.</summary>
    /// <remarks>PyTorch: <c>torch.nn.functional.nll_loss</c>.</remarks>
    public static Variable NllLoss(Variable logProbabilities, Tensor labels, Reduction reduction = Reduction.Mean, Tensor? weights = null) =>
        Wrap(Loss.nll(reduction, weights, NotNull(logProbabilities).Node, labels));

    /// <summary>
    /// Inverted dropout: when <paramref name="training"/>, zeroes each element with probability <paramref name="p"/>, drawing
    /// from <paramref name="random"/> (no hidden global state), and scales the rest by 1/(1 − p); the identity otherwise.
    /// </summary>
    /// <remarks>PyTorch: <c>torch.nn.functional.dropout</c>.</remarks>
    public static Variable Dropout(Variable x, double p, Random random, bool training = true) => Wrap(NodeModule.dropout(p, random, training, NotNull(x).Node));
}
