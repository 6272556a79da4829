namespace TinyTorch.Optim;

/// <summary>
/// The base of learning-rate schedulers: counts epochs and sets the optimizer's <see cref="Optimizer.LearningRate"/>
/// from a closed-form schedule of the epoch and the learning rate the optimizer had when the scheduler was created.
/// </summary>
/// <remarks>PyTorch: <c>torch.optim.lr_scheduler.LRScheduler</c>. Call <see cref="Step"/> once per epoch, after the optimizer's steps.</remarks>
public abstract class LrScheduler
{
    /// <summary>A scheduler for <paramref name="optimizer"/>, starting at epoch 0 with the optimizer's current learning rate as the base.</summary>
    /// <param name="optimizer">The optimizer whose learning rate is scheduled.</param>
    /// <exception cref="ArgumentNullException"><paramref name="optimizer"/> is null.</exception>
    /// <remarks>PyTorch: <c>LRScheduler(optimizer, last_epoch=-1)</c>.</remarks>
    protected LrScheduler(Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        Optimizer = optimizer;
        BaseLearningRate = optimizer.LearningRate;
    }

    /// <summary>The optimizer whose learning rate is scheduled.</summary>
    /// <remarks>PyTorch: <c>scheduler.optimizer</c>.</remarks>
    public Optimizer Optimizer { get; }

    /// <summary>The optimizer's learning rate when the scheduler was created.</summary>
    /// <remarks>PyTorch: <c>scheduler.base_lrs[0]</c>.</remarks>
    public double BaseLearningRate { get; }

    /// <summary>The number of <see cref="Step"/> calls so far.</summary>
    /// <remarks>PyTorch: <c>scheduler.last_epoch</c>.</remarks>
    public int Epoch { get; private set; }

    /// <summary>The learning rate the scheduler last set (the base rate before the first <see cref="Step"/>).</summary>
    /// <remarks>PyTorch: <c>scheduler.get_last_lr()[0]</c>.</remarks>
    public double LastLearningRate => LearningRateAt(Epoch);

    /// <summary>Advances one epoch and sets the optimizer's learning rate to the schedule's value there.</summary>
    /// <remarks>PyTorch: <c>scheduler.step()</c>.</remarks>
    public void Step()
    {
        var lr = LearningRateAt(Epoch + 1);
        Optimizer.LearningRate = lr;
        Epoch++;
    }

    /// <summary>The schedule: the learning rate after <paramref name="epoch"/> epochs (computed by the F# core).</summary>
    /// <param name="epoch">Epochs done, ≥ 0.</param>
    /// <returns>The learning rate.</returns>
    /// <remarks>PyTorch: <c>LRScheduler._get_closed_form_lr</c>.</remarks>
    public abstract double LearningRateAt(int epoch);
}
