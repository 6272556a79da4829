using OptimCore = TinyTorch.Functional.Optim;

namespace TinyTorch.Optim;

/// <summary>
/// Anneals the learning rate along a half cosine from its base value to <see cref="EtaMin"/> over <see cref="TMax"/>
/// epochs: lr = etaMin + (base − etaMin)·(1 + cos(π·epoch/tMax))/2 (rising again after tMax, like PyTorch's closed form).
/// </summary>
/// <remarks>PyTorch: <c>torch.optim.lr_scheduler.CosineAnnealingLR</c> (SGDR without restarts, Loshchilov and Hutter, 2017).</remarks>
public sealed class CosineAnnealingLr : LrScheduler
{
    /// <summary>A cosine schedule for <paramref name="optimizer"/>.</summary>
    /// <param name="optimizer">The optimizer whose learning rate is scheduled.</param>
    /// <param name="tMax">Epochs of the half period, ≥ 1.</param>
    /// <param name="etaMin">The smallest learning rate, finite and ≥ 0.</param>
    /// <exception cref="ArgumentNullException"><paramref name="optimizer"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tMax"/> or <paramref name="etaMin"/> is out of range.</exception>
    /// <remarks>PyTorch: <c>CosineAnnealingLR(optimizer, T_max, eta_min=0)</c>.</remarks>
    public CosineAnnealingLr(Optimizer optimizer, int tMax, double etaMin = 0) : base(optimizer)
    {
        _ = OptimCore.cosineAnnealingLr(BaseLearningRate, tMax, etaMin, 0);
        TMax = tMax;
        EtaMin = etaMin;
    }

    /// <summary>Epochs of the half period.</summary>
    /// <remarks>PyTorch: <c>CosineAnnealingLR.T_max</c>.</remarks>
    public int TMax { get; }

    /// <summary>The smallest learning rate.</summary>
    /// <remarks>PyTorch: <c>CosineAnnealingLR.eta_min</c>.</remarks>
    public double EtaMin { get; }

    /// <inheritdoc/>
    public override double LearningRateAt(int epoch) => OptimCore.cosineAnnealingLr(BaseLearningRate, TMax, EtaMin, epoch);
}
