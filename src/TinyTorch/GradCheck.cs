using Microsoft.FSharp.Core;
using TinyTorch.Functional;

namespace TinyTorch;

/// <summary>
/// Checks the derivatives of your own differentiable code: the gradient against central differences in
/// float64 (element by element and along a random direction) and against forward mode (the adjoint
/// identity), and, one order up, the gradient's own derivatives (gradgrad).
/// </summary>
/// <example>
/// <code>
/// var result = GradCheck.Check(x =&gt; Autograd.Tanh(x[0] * x[1]), a, b);
/// if (!result.Passed) Console.WriteLine(result); // input, element, analytic and numeric values, tolerance
/// GradCheck.AssertSecondOrder(x =&gt; Autograd.Sin(x[0]) * Autograd.Tanh(x[0]), a);
/// </code>
/// </example>
/// <remarks>
/// Python course: <c>numerical_gradient</c>, grown into PyTorch's <c>torch.autograd.gradcheck</c> and
/// <c>torch.autograd.gradgradcheck</c>. The defaults are PyTorch's: step 1e-6 (scaled by max(1, |x|)),
/// pass rule |analytic − numeric| ≤ 1e-5 + 1e-3·|numeric|. Inputs are converted to float64. Keep the inputs
/// away from kinks (relu and abs at 0, clamp bounds, ties of max) by more than the step: central differences
/// cannot see a kink. For FsCheck generators of shapes and inputs, see the TinyTorch.Testing package
/// (namespace <c>TinyTorch.Functional.Testing</c>).
/// </remarks>
public static class GradCheck
{
    /// <summary>Checks the gradient of <paramref name="f"/> at <paramref name="inputs"/> with the default options.</summary>
    /// <param name="f">The function; it receives one variable per input (float64) and may return any shape.</param>
    /// <param name="inputs">The point to check at, one tensor per argument.</param>
    /// <returns>
    /// The result: <see cref="GradCheckResult.Passed"/>, <see cref="GradCheckResult.Mismatches"/>, and a
    /// <see cref="GradCheckResult.ToString"/> naming input, element, analytic and numeric values and the tolerance.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="f"/>, <paramref name="inputs"/> or an input is null.</exception>
    /// <remarks>PyTorch: <c>torch.autograd.gradcheck(f, inputs, raise_exception=False)</c>.</remarks>
    public static GradCheckResult Check(Func<Variable[], Variable> f, params Tensor[] inputs) => Check(f, GradCheckOptions.Default, inputs);

    /// <summary>Checks the gradient of <paramref name="f"/> at <paramref name="inputs"/>.</summary>
    /// <param name="f">The function; it receives one variable per input (float64) and may return any shape.</param>
    /// <param name="options">Step, tolerances and seed, e.g. <c>GradCheckOptions.Default.WithTolerance(1e-4, 1e-2)</c>.</param>
    /// <param name="inputs">The point to check at, one tensor per argument.</param>
    /// <returns>The result of the finite-difference, random-direction and adjoint checks.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="f"/>, <paramref name="options"/>, <paramref name="inputs"/> or an input is null.</exception>
    /// <remarks>PyTorch: <c>torch.autograd.gradcheck(f, inputs, eps, atol, rtol)</c>.</remarks>
    public static GradCheckResult Check(Func<Variable[], Variable> f, GradCheckOptions options, params Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(options);
        return GradCheckModule.report(options, Core(f), Inputs(inputs));
    }

    /// <summary>
    /// Checks the derivatives of the gradient of <paramref name="f"/> (second order) with the default options:
    /// for a random output cotangent v, the engine's derivative of x ↦ ∂⟨v, f(x)⟩/∂x (and of its dependence on v)
    /// against central differences of first-order gradients.
    /// </summary>
    /// <param name="f">The function; it receives one variable per input (float64) and may return any shape.</param>
    /// <param name="inputs">The point to check at, one tensor per argument.</param>
    /// <returns>The result; a mismatch at input index <c>inputs.Length</c> concerns the cotangent v.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="f"/>, <paramref name="inputs"/> or an input is null.</exception>
    /// <remarks>PyTorch: <c>torch.autograd.gradgradcheck(f, inputs, raise_exception=False)</c>.</remarks>
    public static GradCheckResult CheckSecondOrder(Func<Variable[], Variable> f, params Tensor[] inputs) => CheckSecondOrder(f, GradCheckOptions.Default, inputs);

    /// <summary>Checks the derivatives of the gradient of <paramref name="f"/> (second order).</summary>
    /// <param name="f">The function; it receives one variable per input (float64) and may return any shape.</param>
    /// <param name="options">Step, tolerances and seed.</param>
    /// <param name="inputs">The point to check at, one tensor per argument.</param>
    /// <returns>The result; a mismatch at input index <c>inputs.Length</c> concerns the cotangent v.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="f"/>, <paramref name="options"/>, <paramref name="inputs"/> or an input is null.</exception>
    /// <remarks>PyTorch: <c>torch.autograd.gradgradcheck(f, inputs, eps=..., atol=..., rtol=...)</c>.</remarks>
    public static GradCheckResult CheckSecondOrder(Func<Variable[], Variable> f, GradCheckOptions options, params Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(options);
        return GradCheckModule.reportSecondOrder(options, Core(f), Inputs(inputs));
    }

    /// <summary>Checks the gradient with the default options and throws when any check disagrees.</summary>
    /// <param name="f">The function; it receives one variable per input (float64) and may return any shape.</param>
    /// <param name="inputs">The point to check at.</param>
    /// <exception cref="GradientCheckException">The report: check, input, element, analytic and numeric values, tolerance and step.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="f"/>, <paramref name="inputs"/> or an input is null.</exception>
    /// <remarks>PyTorch: <c>torch.autograd.gradcheck(f, inputs)</c> (raises by default).</remarks>
    public static void AssertGradients(Func<Variable[], Variable> f, params Tensor[] inputs) => Check(f, inputs).ThrowIfFailed();

    /// <summary>Checks the gradient and throws when any check disagrees.</summary>
    /// <param name="f">The function; it receives one variable per input (float64) and may return any shape.</param>
    /// <param name="options">Step, tolerances and seed.</param>
    /// <param name="inputs">The point to check at.</param>
    /// <exception cref="GradientCheckException">The report: check, input, element, analytic and numeric values, tolerance and step.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="f"/>, <paramref name="options"/>, <paramref name="inputs"/> or an input is null.</exception>
    /// <remarks>PyTorch: <c>torch.autograd.gradcheck(f, inputs, eps, atol, rtol)</c>.</remarks>
    public static void AssertGradients(Func<Variable[], Variable> f, GradCheckOptions options, params Tensor[] inputs) => Check(f, options, inputs).ThrowIfFailed();

    /// <summary>Checks the second-order derivatives with the default options and throws when they disagree.</summary>
    /// <param name="f">The function; it receives one variable per input (float64) and may return any shape.</param>
    /// <param name="inputs">The point to check at.</param>
    /// <exception cref="GradientCheckException">The report: check, input, element, analytic and numeric values, tolerance and step.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="f"/>, <paramref name="inputs"/> or an input is null.</exception>
    /// <remarks>PyTorch: <c>torch.autograd.gradgradcheck(f, inputs)</c>.</remarks>
    public static void AssertSecondOrder(Func<Variable[], Variable> f, params Tensor[] inputs) => CheckSecondOrder(f, inputs).ThrowIfFailed();

    /// <summary>Checks the second-order derivatives and throws when they disagree.</summary>
    /// <param name="f">The function; it receives one variable per input (float64) and may return any shape.</param>
    /// <param name="options">Step, tolerances and seed.</param>
    /// <param name="inputs">The point to check at.</param>
    /// <exception cref="GradientCheckException">The report: check, input, element, analytic and numeric values, tolerance and step.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="f"/>, <paramref name="options"/>, <paramref name="inputs"/> or an input is null.</exception>
    /// <remarks>PyTorch: <c>torch.autograd.gradgradcheck(f, inputs, eps=..., atol=..., rtol=...)</c>.</remarks>
    public static void AssertSecondOrder(Func<Variable[], Variable> f, GradCheckOptions options, params Tensor[] inputs) => CheckSecondOrder(f, options, inputs).ThrowIfFailed();

    /// <summary>The largest absolute and relative differences between the gradient and central differences, for reports.</summary>
    /// <param name="f">The function; it receives one variable per input (float64).</param>
    /// <param name="inputs">The point to check at.</param>
    /// <returns>The largest |analytic − numeric| and the largest |analytic − numeric| / max(|numeric|, 1e-12).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="f"/>, <paramref name="inputs"/> or an input is null.</exception>
    public static (double MaxAbsolute, double MaxRelative) MaxErrors(Func<Variable[], Variable> f, params Tensor[] inputs)
    {
        var (absolute, relative) = GradCheckModule.maxErrors(GradCheckOptions.Default, Core(f), Inputs(inputs));
        return (absolute, relative);
    }

    /// <summary>The inputs, naming the null one.</summary>
    private static Tensor[] Inputs(Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var missing = Array.IndexOf(inputs, null);
        return missing < 0 ? inputs : throw new ArgumentNullException(nameof(inputs), $"gradient check: input {missing} is null.");
    }

    /// <summary>The function over core nodes: each node wrapped in a variable, the result unwrapped.</summary>
    internal static FSharpFunc<Node[], Node> Core(Func<Variable[], Variable> f)
    {
        ArgumentNullException.ThrowIfNull(f);
        return FuncConvert.FromFunc((Node[] nodes) =>
            (f(Array.ConvertAll(nodes, Variable.FromNode)) ?? throw new InvalidOperationException("gradient check: the checked function returned null; return its output variable.")).Node);
    }
}
