using TinyTorch.Functional;
using OptimCore = TinyTorch.Functional.Optim;

namespace TinyTorch.Optim;

/// <summary>
/// Adam: m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², p ← p − lr·m̂/(√v̂ + eps) with the bias corrections
/// m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ); weight decay is an L2 penalty added to the gradient (g + weightDecay·p).
/// </summary>
/// <remarks>PyTorch: <c>torch.optim.Adam</c> (Kingma and Ba, 2015). The rule is computed by the F# core (<c>Optim.adamStep</c>).</remarks>
public class Adam : Optimizer
{
    private readonly Dictionary<Variable, (int Step, Tensor M, Tensor V)> state = new(ReferenceEqualityComparer.Instance);
    private readonly bool decoupled;

    /// <summary>Adam over <paramref name="parameters"/>.</summary>
    /// <param name="parameters">Leaves that require grad.</param>
    /// <param name="lr">Learning rate, ≥ 0.</param>
    /// <param name="beta1">Decay of the first-moment average, in [0, 1).</param>
    /// <param name="beta2">Decay of the second-moment average, in [0, 1).</param>
    /// <param name="eps">Added to the denominator for stability, &gt; 0.</param>
    /// <param name="weightDecay">L2 penalty added to the gradient, ≥ 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">A hyper-parameter is out of range (the exception names it).</exception>
    /// <exception cref="ArgumentException">The parameter list is empty or holds a non-leaf.</exception>
    /// <remarks>PyTorch: <c>torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)</c>.</remarks>
    public Adam(IEnumerable<Variable> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0)
        : this(parameters, lr, beta1, beta2, eps, weightDecay, decoupled: false)
    {
    }

    /// <summary>Adam, or AdamW when <paramref name="decoupled"/> (used by <see cref="AdamW"/>).</summary>
    private protected Adam(IEnumerable<Variable> parameters, double lr, double beta1, double beta2, double eps, double weightDecay, bool decoupled)
        : base(parameters, Validated(decoupled, lr, beta1, beta2, eps, weightDecay))
    {
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
        WeightDecay = weightDecay;
        this.decoupled = decoupled;
    }

    /// <summary>Decay of the first-moment average.</summary>
    /// <remarks>PyTorch: <c>param_groups[0]['betas'][0]</c>.</remarks>
    public double Beta1 { get; }

    /// <summary>Decay of the second-moment average.</summary>
    /// <remarks>PyTorch: <c>param_groups[0]['betas'][1]</c>.</remarks>
    public double Beta2 { get; }

    /// <summary>The denominator's stabilizer.</summary>
    /// <remarks>PyTorch: <c>param_groups[0]['eps']</c>.</remarks>
    public double Eps { get; }

    /// <summary>The weight decay: an L2 penalty for <see cref="Adam"/>, decoupled for <see cref="AdamW"/>.</summary>
    /// <remarks>PyTorch: <c>param_groups[0]['weight_decay']</c>.</remarks>
    public double WeightDecay { get; }

    /// <inheritdoc/>
    protected sealed override IEnumerable<(string Name, Tensor Value)> StateOf(Variable parameter) =>
        state.TryGetValue(parameter, out var s) ? [("step", Tensor.Scalar(s.Step, DType.Float64)), ("exp_avg", s.M), ("exp_avg_sq", s.V)] : [];

    /// <inheritdoc/>
    protected sealed override Action RestoreState(Variable parameter, IReadOnlyDictionary<string, Tensor> entries)
    {
        if (entries.Count != 3 || !entries.TryGetValue("step", out var step) || !entries.TryGetValue("exp_avg", out var m) || !entries.TryGetValue("exp_avg_sq", out var v) || step.Size != 1)
        {
            throw new ArgumentException($"{GetType().Name}: a parameter's saved state must be exactly step (a scalar), exp_avg and exp_avg_sq, but it has [{string.Join(", ", entries.Keys)}].");
        }
        var restored = ((int)step.Item(), MatchingShape(parameter, "exp_avg", m), MatchingShape(parameter, "exp_avg_sq", v));
        return () => state[parameter] = restored;
    }

    /// <inheritdoc/>
    protected sealed override Action Prepare(Variable parameter, Tensor gradient)
    {
        var (previousStep, m, v) = state.GetValueOrDefault(parameter);
        var step = previousStep + 1;
        var (data, newM, newV) = OptimCore.adamStep(LearningRate, Beta1, Beta2, Eps, WeightDecay, decoupled, step, parameter.Data, gradient, m, v);
        return () =>
        {
            parameter.Data = data;
            state[parameter] = (step, newM, newV);
        };
    }

    private static double Validated(bool decoupled, double lr, double beta1, double beta2, double eps, double weightDecay)
    {
        OptimCore.validateAdam(decoupled ? "adamw" : "adam", lr, beta1, beta2, eps, weightDecay);
        return lr;
    }
}

/// <summary>
/// AdamW: Adam with decoupled weight decay — the parameter is first multiplied by (1 − lr·weightDecay), and the
/// gradient is left alone — so the decay does not pass through the adaptive scaling.
/// </summary>
/// <remarks>PyTorch: <c>torch.optim.AdamW</c> (Loshchilov and Hutter, 2019).</remarks>
public sealed class AdamW : Adam
{
    /// <summary>AdamW over <paramref name="parameters"/>.</summary>
    /// <param name="parameters">Leaves that require grad.</param>
    /// <param name="lr">Learning rate, ≥ 0.</param>
    /// <param name="beta1">Decay of the first-moment average, in [0, 1).</param>
    /// <param name="beta2">Decay of the second-moment average, in [0, 1).</param>
    /// <param name="eps">Added to the denominator for stability, &gt; 0.</param>
    /// <param name="weightDecay">Decoupled weight decay, ≥ 0 (default 1e-2, as PyTorch).</param>
    /// <exception cref="ArgumentOutOfRangeException">A hyper-parameter is out of range (the exception names it).</exception>
    /// <exception cref="ArgumentException">The parameter list is empty or holds a non-leaf.</exception>
    /// <remarks>PyTorch: <c>torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)</c>.</remarks>
    public AdamW(IEnumerable<Variable> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 1e-2)
        : base(parameters, lr, beta1, beta2, eps, weightDecay, decoupled: true)
    {
    }
}
