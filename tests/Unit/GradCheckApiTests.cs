using FsCheck;
using FsCheck.Fluent;
using TinyTorch.Functional;
using TinyTorch.Functional.Testing;

namespace TinyTorch.Tests;

/// <summary>
/// The public gradient checker from C#: <see cref="GradCheck.Check(Func{Variable[], Variable}, Tensor[])"/>,
/// <see cref="GradCheck.CheckSecondOrder(Func{Variable[], Variable}, Tensor[])"/>, the throwing variants, the
/// old <see cref="GradientChecker"/>, and FsCheck properties built from TinyTorch.Testing's generators.
/// </summary>
public class GradCheckApiTests
{
    private static readonly Tensor A = Tensor.FromArray([0.5, -1.25, 2.0], 3);
    private static readonly Tensor B = Tensor.FromArray([1.5, 0.75, -0.5], 3);

    /// <summary>square(x) = x² whose VJP multiplies by <paramref name="factor"/>·x (right when it is 2).</summary>
    private static CustomFunction Square(double factor, bool detachInput = false) =>
        Autograd.DefineFunction(
            "square",
            v => v[0] * v[0],
            (x, _, g) => [g * (factor * (detachInput ? x[0].Detach() : x[0]))],
            check: false);

    [Fact]
    public void A_correct_function_passes_with_no_mismatches()
    {
        // f(a, b) = tanh(a·b) elementwise.
        var result = GradCheck.Check(x => Autograd.Tanh(x[0] * x[1]), A, B);
        Assert.True(result.Passed, result.ToString());
        Assert.Empty(result.Mismatches);
        Assert.Equal(1, result.Order);
        Assert.Equal([Shape.Of(3), Shape.Of(3)], result.InputShapes);
        Assert.Contains("passed", result.ToString());
        result.ThrowIfFailed();
        GradCheck.AssertGradients(x => Autograd.SumAll(Autograd.Sin(x[0]) * Autograd.Exp(x[1])), A, B);
    }

    [Fact]
    public void A_wrong_gradient_is_reported_with_input_element_values_and_tolerance()
    {
        // d/dx x² = 2x, but the VJP returns x: analytic x against numeric 2x at every element.
        var square = Square(1.0);
        var result = GradCheck.Check(x => Autograd.SumAll(square.Apply(x[0])), A);
        Assert.False(result.Passed);
        var elementwise = result.Mismatches.Where(m => m.Check == "finite-difference").ToArray();
        Assert.Equal(3, elementwise.Length);
        Assert.All(elementwise, m => Assert.Equal(0, m.Input));
        Assert.Equal([0, 1, 2], elementwise.Select(m => m.Element));
        Check.Close(-1.25, elementwise[1].Analytic, 1e-12);
        Check.Close(-2.5, elementwise[1].Reference, 1e-6);
        var report = result.ToString();
        Assert.Contains("finite-difference check failed at input 0 (shape [3]), element 1: analytic -1.25, numeric -2.5", report);
        Assert.Contains("atol 1e-05", report);
        Assert.Contains("rtol 0.001", report);
        Assert.Contains("step 1e-06", report);
        Assert.Equal(report, Assert.Throws<GradientCheckException>(() => GradCheck.AssertGradients(x => Autograd.SumAll(square.Apply(x[0])), A)).Message);
    }

    [Fact]
    public void Looser_options_accept_a_slightly_wrong_gradient()
    {
        // A VJP off by 1%: outside the default rtol 1e-3, inside rtol 5e-2.
        var square = Square(2.02);
        Variable F(Variable[] x) => Autograd.SumAll(square.Apply(x[0]));
        Assert.False(GradCheck.Check(F, A).Passed);
        var loose = GradCheckOptions.Default.WithTolerance(1e-5, 5e-2).WithSeed(3);
        Assert.True(GradCheck.Check(F, loose, A).Passed);
        GradCheck.AssertGradients(F, loose, A);
    }

    [Fact]
    public void Second_order_passes_for_tanh_and_sin_compositions()
    {
        var result = GradCheck.CheckSecondOrder(x => Autograd.Tanh(x[0]) * Autograd.Sin(x[1]), A, B);
        Assert.True(result.Passed, result.ToString());
        Assert.Equal(2, result.Order);
        GradCheck.AssertSecondOrder(x => Autograd.SumAll(Autograd.Sin(Autograd.Tanh(x[0]) * x[0])), A);
    }

    [Fact]
    public void A_vjp_written_with_detach_passes_first_order_and_fails_second_order()
    {
        // The VJP g·2·detach(x) has the right value, but its derivative with respect to x is lost:
        // the engine sees d/dx (2·v·x) = 0 where the differences see 2v.
        var square = Square(2.0, detachInput: true);
        Variable F(Variable[] x) => Autograd.SumAll(square.Apply(x[0]));
        Assert.True(GradCheck.Check(F, A).Passed);
        var result = GradCheck.CheckSecondOrder(F, A);
        Assert.False(result.Passed);
        var m = result.Mismatches.First(m => m.Check == "second-order finite-difference");
        Assert.Equal(0, m.Input);
        Assert.Equal(0.0, m.Analytic);
        Assert.Contains("second-order finite-difference check failed at input 0 (shape [3])", result.ToString());
        Assert.Throws<GradientCheckException>(() => GradCheck.AssertSecondOrder(F, A));
    }

    [Fact]
    public void The_old_gradient_checker_still_works()
    {
        Func<Variable[], Variable> f = x => Autograd.Tanh(x[0] * x[1]);
        Assert.Empty(GradientChecker.Compare(f, null, A, B));
        var (absolute, relative) = GradientChecker.MaxErrors(f, A, B);
        Assert.InRange(absolute, 0.0, 1e-6);
        Assert.InRange(relative, 0.0, 1e-3);
        GradientChecker.AssertCorrect(f, A, B);
        var square = Square(1.0);
        Assert.NotEmpty(GradientChecker.Compare(x => square.Apply(x[0]), GradCheckOptions.Default, A));
    }

    [Fact]
    public void Null_arguments_are_rejected()
    {
        Assert.Throws<ArgumentNullException>(() => GradCheck.Check(null!, A));
        Assert.Throws<ArgumentNullException>(() => GradCheck.Check(x => x[0], (Tensor[])null!));
        Assert.Throws<ArgumentNullException>(() => GradCheck.Check(x => x[0], A, null!));
        Assert.Throws<ArgumentNullException>(() => GradCheck.CheckSecondOrder(x => x[0], (GradCheckOptions)null!, A));
        Assert.Throws<InvalidOperationException>(() => GradCheck.Check(_ => null!, A));
    }

    [Fact]
    public void FsCheck_properties_over_generated_inputs_pass_for_correct_code()
    {
        // For all pairs of tensors of one random shape with values in [−3, 3]: tanh(a·b) + sin(a).
        Prop.ForAll(
                GradientInputs.SameShape(Domain.Any, 2),
                (Tensor[] xs) => GradientProperties.Of(GradCheck.Check(x => Autograd.Tanh(x[0] * x[1]) + Autograd.Sin(x[0]), xs)))
            .Check(Config.QuickThrowOnFailure.WithMaxTest(50));

        // log and sqrt on positive inputs, second order.
        Prop.ForAll(
                GradientInputs.SameShape(Domain.Positive, 1),
                (Tensor[] xs) => GradientProperties.Of(GradCheck.CheckSecondOrder(x => Autograd.Log(x[0]) * Autograd.Sqrt(x[0]), xs)))
            .Check(Config.QuickThrowOnFailure.WithMaxTest(30));
    }

    [Fact]
    public void FsCheck_finds_and_shrinks_a_wrong_gradient()
    {
        var square = Square(1.0);
        var property = Prop.ForAll(
            GradientInputs.SameShape(Domain.AwayFrom(0.5), 1),
            (Tensor[] xs) => GradientProperties.Of(GradCheck.Check(x => Autograd.SumAll(square.Apply(x[0])), xs)));
        var ex = Assert.ThrowsAny<Exception>(() => property.Check(Config.QuickThrowOnFailure.WithMaxTest(100)));
        Assert.Contains("Falsifiable", ex.Message);
        Assert.Contains("finite-difference check failed at input 0", ex.Message);
        Assert.Contains("element 0", ex.Message);
        Assert.Contains("tolerance", ex.Message);
        // The counterexample (shrunk, or the original when it was minimal already) is one scalar.
        var last = ex.Message[Math.Max(ex.Message.LastIndexOf("Shrunk:", StringComparison.Ordinal), ex.Message.LastIndexOf("Original:", StringComparison.Ordinal))..];
        Assert.Matches(@"^(Shrunk|Original):\s*\[\|Tensor\(-?[0-9.]+\)\|\]", last);
    }
}
