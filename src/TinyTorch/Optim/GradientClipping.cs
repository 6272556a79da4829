using TinyTorch.Functional;

namespace TinyTorch.Optim;

/// <summary>Gradient clipping for training loops.</summary>
/// <remarks>PyTorch: <c>torch.nn.utils</c>.</remarks>
public static class GradientClipping
{
    /// <summary>
    /// Scales the gradients of <paramref name="parameters"/> together, in place, so that their global L2 norm is at most
    /// <paramref name="maxNorm"/>: each is multiplied by maxNorm / norm when the norm exceeds maxNorm. The norm is
    /// computed in float64 with the largest magnitude factored out, so it neither overflows nor underflows.
    /// Parameters without a gradient are ignored.
    /// </summary>
    /// <param name="parameters">The parameters whose gradients are clipped (e.g. <see cref="Nn.Module.Parameters"/>).</param>
    /// <param name="maxNorm">The largest norm allowed, &gt; 0.</param>
    /// <param name="errorIfNonFinite">Throw when the norm is NaN or infinite (before anything changes) instead of leaving the gradients unchanged.</param>
    /// <returns>The global norm of the gradients before clipping (0 when none has a gradient).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> or one of its elements is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxNorm"/> is not positive.</exception>
    /// <exception cref="NotFiniteNumberException"><paramref name="errorIfNonFinite"/> is set and the norm is NaN or infinite.</exception>
    /// <remarks>
    /// PyTorch: <c>torch.nn.utils.clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False)</c>.
    /// Two deliberate differences: the scale is maxNorm / norm exactly (PyTorch adds 1e-6 to the norm), and a
    /// non-finite norm leaves the gradients unchanged when not raising (PyTorch would multiply them by NaN or 0).
    /// </remarks>
    public static double ClipGradNorm(IEnumerable<Variable> parameters, double maxNorm, bool errorIfNonFinite = false)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var list = parameters.ToArray();
        if (Array.IndexOf(list, null) is var i and >= 0)
        {
            throw new ArgumentNullException(nameof(parameters), $"clip_grad_norm: parameter {i} is null.");
        }
        var withGrad = list.Distinct(ReferenceEqualityComparer.Instance).Cast<Variable>().Where(p => p.Grad is not null).ToArray();
        var (clipped, norm) = TensorModule.clipByGlobalNorm(maxNorm, withGrad.Select(p => p.Grad!.Data).ToArray());
        if (errorIfNonFinite && !double.IsFinite(norm))
        {
            throw new NotFiniteNumberException(
                $"clip_grad_norm: the total norm of the gradients of {withGrad.Length} parameters is {norm}, so they cannot be clipped; the gradients were left unchanged. Look for a NaN or infinite loss, or pass errorIfNonFinite: false.",
                norm);
        }
        for (var k = 0; k < withGrad.Length; k++)
        {
            withGrad[k].Grad!.Data = clipped[k];
        }
        return norm;
    }
}
