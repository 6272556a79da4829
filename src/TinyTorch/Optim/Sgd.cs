using TinyTorch.Functional;
using OptimCore = TinyTorch.Functional.Optim;

namespace TinyTorch.Optim;

/// <summary>
/// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and (L2) weight decay.
/// With d = g + weightDecay·p: b = d on the first step, then momentum·b + (1 − dampening)·d; p ← p − lr·(d + momentum·b)
/// with Nesterov, p − lr·b without (p − lr·d when momentum is 0).
/// </summary>
/// <remarks>PyTorch: <c>torch.optim.SGD</c>. The rule is computed by the F# core (<c>Optim.sgdStep</c>).</remarks>
public sealed class Sgd : Optimizer
{
    private readonly Dictionary<Variable, Tensor> momentumBuffers = new(ReferenceEqualityComparer.Instance);

    /// <summary>SGD over <paramref name="parameters"/>.</summary>
    /// <param name="parameters">Leaves that require grad.</param>
    /// <param name="lr">Learning rate, ≥ 0.</param>
    /// <param name="momentum">Momentum factor, ≥ 0 (0: none).</param>
    /// <param name="dampening">Dampening of the momentum.</param>
    /// <param name="nesterov">Nesterov momentum (needs momentum &gt; 0 and dampening 0).</param>
    /// <param name="weightDecay">L2 penalty added to the gradient, ≥ 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">A hyper-parameter is out of range (the exception names it).</exception>
    /// <exception cref="ArgumentException"><paramref name="nesterov"/> without momentum or with dampening; or the parameter list is empty or holds a non-leaf.</exception>
    /// <remarks>PyTorch: <c>torch.optim.SGD(params, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False)</c>.</remarks>
    public Sgd(IEnumerable<Variable> parameters, double lr, double momentum = 0, double dampening = 0, bool nesterov = false, double weightDecay = 0)
        : base(parameters, Validated(lr, momentum, dampening, nesterov, weightDecay))
    {
        Momentum = momentum;
        Dampening = dampening;
        Nesterov = nesterov;
        WeightDecay = weightDecay;
    }

    /// <summary>The momentum factor.</summary>
    /// <remarks>PyTorch: <c>param_groups[0]['momentum']</c>.</remarks>
    public double Momentum { get; }

    /// <summary>The dampening of the momentum.</summary>
    /// <remarks>PyTorch: <c>param_groups[0]['dampening']</c>.</remarks>
    public double Dampening { get; }

    /// <summary>Whether Nesterov momentum is used.</summary>
    /// <remarks>PyTorch: <c>param_groups[0]['nesterov']</c>.</remarks>
    public bool Nesterov { get; }

    /// <summary>The L2 penalty.</summary>
    /// <remarks>PyTorch: <c>param_groups[0]['weight_decay']</c>.</remarks>
    public double WeightDecay { get; }

    /// <inheritdoc/>
    protected override IEnumerable<(string Name, Tensor Value)> StateOf(Variable parameter) =>
        momentumBuffers.TryGetValue(parameter, out var buffer) ? [("momentum_buffer", buffer)] : [];

    /// <inheritdoc/>
    protected override Action RestoreState(Variable parameter, IReadOnlyDictionary<string, Tensor> entries)
    {
        if (entries.Count != 1 || !entries.TryGetValue("momentum_buffer", out var buffer))
        {
            throw new ArgumentException($"Sgd: a parameter's saved state must be exactly momentum_buffer, but it has [{string.Join(", ", entries.Keys)}].");
        }
        var restored = MatchingShape(parameter, "momentum_buffer", buffer);
        return () => momentumBuffers[parameter] = restored;
    }

    /// <inheritdoc/>
    protected override Action Prepare(Variable parameter, Tensor gradient)
    {
        var (data, buffer) = OptimCore.sgdStep(
            LearningRate, Momentum, Dampening, Nesterov, WeightDecay, parameter.Data, gradient, momentumBuffers.GetValueOrDefault(parameter));
        return () =>
        {
            parameter.Data = data;
            if (buffer is not null)
            {
                momentumBuffers[parameter] = buffer;
            }
        };
    }

    // Validates before the base constructor runs, so nothing is built from bad arguments.
    private static double Validated(double lr, double momentum, double dampening, bool nesterov, double weightDecay)
    {
        OptimCore.validateSgd(lr, momentum, dampening, nesterov, weightDecay);
        return lr;
    }
}
