using Microsoft.FSharp.Core;
using TinyTorch.Functional;

namespace TinyTorch;

/// <summary>
/// Checks the gradients of any function of variables built with this library: central differences in
/// float64, a random direction, and the JVP/VJP adjoint identity. For property-testing your own code.
/// </summary>
/// <remarks>Python course: <c>numerical_gradient</c> (the course's hand-rolled check), grown into PyTorch's <c>gradcheck</c>.</remarks>
public static class GradientChecker
{
    /// <summary>Runs all three checks with <paramref name="options"/> (default: step 1e-6, atol 1e-5, rtol 1e-3).</summary>
    /// <param name="f">The function; it receives one variable per input (converted to float64) and returns any shape.</param>
    /// <param name="options">Step, tolerances and random seed; null for the defaults.</param>
    /// <param name="inputs">The point to check at.</param>
    /// <returns>Every disagreement found; empty when the gradients are right.</returns>
    public static IReadOnlyList<GradCheckMismatch> Compare(Func<Variable[], Variable> f, GradCheckOptions? options, params Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(inputs);
        var o = options ?? GradCheckOptions.Default;
        var core = Core(f);
        return [.. GradCheck.compareAll(o, core, inputs)];
    }

    /// <summary>Runs all three checks with the default options and throws when any disagrees.</summary>
    /// <param name="f">The function; it receives one variable per input (converted to float64) and returns any shape.</param>
    /// <param name="inputs">The point to check at.</param>
    /// <exception cref="GradientCheckException">Lists every disagreement: check, input, element, analytic and reference values, bound.</exception>
    public static void AssertCorrect(Func<Variable[], Variable> f, params Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(f);
        GradCheck.assertCorrect(GradCheckOptions.Default, Core(f), inputs);
    }

    /// <summary>The largest absolute and relative differences between the gradient and central differences, for reports.</summary>
    /// <param name="f">The function; it receives one variable per input (converted to float64).</param>
    /// <param name="inputs">The point to check at.</param>
    /// <returns>The largest |analytic − numeric| and the largest |analytic − numeric| / max(|numeric|, 1e-12).</returns>
    public static (double MaxAbsolute, double MaxRelative) MaxErrors(Func<Variable[], Variable> f, params Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(f);
        var (absolute, relative) = GradCheck.maxErrors(GradCheckOptions.Default, Core(f), inputs);
        return (absolute, relative);
    }

    private static FSharpFunc<Node[], Node> Core(Func<Variable[], Variable> f) =>
        FuncConvert.FromFunc((Node[] nodes) => (f(Array.ConvertAll(nodes, Variable.FromNode)) ?? throw new InvalidOperationException("the checked function returned null.")).Node);
}
