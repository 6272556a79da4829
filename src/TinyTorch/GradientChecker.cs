using TinyTorch.Functional;

namespace TinyTorch;

/// <summary>
/// The first gradient-checker API, kept for existing callers; it delegates to <see cref="GradCheck"/>, which
/// returns a <see cref="GradCheckResult"/> and adds second-order checks.
/// </summary>
/// <remarks>Python course: <c>numerical_gradient</c> (the course's hand-rolled check), grown into PyTorch's <c>gradcheck</c>.</remarks>
public static class GradientChecker
{
    /// <summary>Runs all three checks with <paramref name="options"/> (default: step 1e-6, atol 1e-5, rtol 1e-3).</summary>
    /// <param name="f">The function; it receives one variable per input (converted to float64) and returns any shape.</param>
    /// <param name="options">Step, tolerances and random seed; null for the defaults.</param>
    /// <param name="inputs">The point to check at.</param>
    /// <returns>Every disagreement found; empty when the gradients are right.</returns>
    public static IReadOnlyList<GradCheckMismatch> Compare(Func<Variable[], Variable> f, GradCheckOptions? options, params Tensor[] inputs) =>
        GradCheck.Check(f, options ?? GradCheckOptions.Default, inputs).Mismatches;

    /// <summary>Runs all three checks with the default options and throws when any disagrees.</summary>
    /// <param name="f">The function; it receives one variable per input (converted to float64) and returns any shape.</param>
    /// <param name="inputs">The point to check at.</param>
    /// <exception cref="GradientCheckException">Lists every disagreement: check, input, element, analytic and reference values, tolerance.</exception>
    public static void AssertCorrect(Func<Variable[], Variable> f, params Tensor[] inputs) => GradCheck.AssertGradients(f, inputs);

    /// <summary>The largest absolute and relative differences between the gradient and central differences, for reports.</summary>
    /// <param name="f">The function; it receives one variable per input (converted to float64).</param>
    /// <param name="inputs">The point to check at.</param>
    /// <returns>The largest |analytic − numeric| and the largest |analytic − numeric| / max(|numeric|, 1e-12).</returns>
    public static (double MaxAbsolute, double MaxRelative) MaxErrors(Func<Variable[], Variable> f, params Tensor[] inputs) => GradCheck.MaxErrors(f, inputs);
}
