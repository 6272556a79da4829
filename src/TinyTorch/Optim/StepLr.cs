using OptimCore = TinyTorch.Functional.Optim;

namespace TinyTorch.Optim;

/// <summary>Multiplies the learning rate by <see cref="Gamma"/> every <see cref="StepSize"/> epochs: lr = base·gamma^⌊epoch / stepSize⌋.</summary>
/// <remarks>PyTorch: <c>torch.optim.lr_scheduler.StepLR</c>.</remarks>
public sealed class StepLr : LrScheduler
{
    /// <summary>A step schedule for <paramref name="optimizer"/>.</summary>
    /// <param name="optimizer">The optimizer whose learning rate is scheduled.</param>
    /// <param name="stepSize">Epochs between decays, ≥ 1.</param>
    /// <param name="gamma">Factor of each decay, finite and ≥ 0.</param>
    /// <exception cref="ArgumentNullException"><paramref name="optimizer"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="stepSize"/> or <paramref name="gamma"/> is out of range.</exception>
    /// <remarks>PyTorch: <c>StepLR(optimizer, step_size, gamma=0.1)</c>.</remarks>
    public StepLr(Optimizer optimizer, int stepSize, double gamma = 0.1) : base(optimizer)
    {
        _ = OptimCore.stepLr(BaseLearningRate, stepSize, gamma, 0);
        StepSize = stepSize;
        Gamma = gamma;
    }

    /// <summary>Epochs between decays.</summary>
    /// <remarks>PyTorch: <c>StepLR.step_size</c>.</remarks>
    public int StepSize { get; }

    /// <summary>Factor of each decay.</summary>
    /// <remarks>PyTorch: <c>StepLR.gamma</c>.</remarks>
    public double Gamma { get; }

    /// <inheritdoc/>
    public override double LearningRateAt(int epoch) => OptimCore.stepLr(BaseLearningRate, StepSize, Gamma, epoch);
}
