namespace TinyTorch.Tests;

/// <summary>
/// Regression tests for the numerically questionable behaviours of the Python seed (ANCHORS.md (d),
/// items 13–18), each with the outcome this library documents (README "Guarantees", numerics at the
/// edges): stable sigmoid and softplus in float32 at ±100, divide without squaring the denominator,
/// ClipGradients without overflow and with a defined result for ∞/NaN, exp overflow, pow at and below 0.
/// </summary>
public class NumericsEdgeTests
{
    private static (double[] Value, double[] Grad) ValueAndGrad(Func<Variable, Variable> f, float[] x)
    {
        var v = new Variable(x);
        var y = f(v);
        Assert.Equal(DType.Float32, y.DType);
        y.Sum().Backward();
        return (y.ToArray(), Check.GradOf(v).ToArray());
    }

    [Fact]
    public void Sigmoid_in_float32_at_plus_and_minus_100_is_finite_with_the_right_limits_and_tiny_symmetric_gradients()
    {
        var (value, grad) = ValueAndGrad(Autograd.Sigmoid, [100f, -100f, 20f, -20f]);
        Assert.Equal(1.0, value[0]);
        Assert.InRange(value[1], 0.0, 1e-40);               // e^-100 ≈ 3.7e-44, a float32 subnormal: no overflow, no NaN
        Assert.All(grad, g => Assert.True(double.IsFinite(g) && g >= 0 && g <= 0.25));
        Assert.InRange(grad[1], 0.0, 1e-40);
        // At 20 the seed's σ(1 − σ) rounds to exactly 0 in float32; 1 − σ computed as σ(−x) keeps ≈ 2.06e-9.
        Check.Relative(Math.Exp(-20), grad[2], 1e-3, "sigmoid'(20)");
        Check.Relative(Math.Exp(-20), grad[3], 1e-3, "sigmoid'(-20)");

        // The same in float64 at ±40, where 1 − σ(40) rounds to 0.
        var x = new Variable(new[] { 40.0, -40.0 });
        Autograd.Sigmoid(x).Sum().Backward();
        Check.Relative(Math.Exp(-40), x.Grad!.ToArray()[0], 1e-9, "sigmoid'(40)");
        Check.Relative(Math.Exp(-40), x.Grad!.ToArray()[1], 1e-9, "sigmoid'(-40)");
    }

    [Fact]
    public void Softplus_in_float32_at_plus_and_minus_100_neither_overflows_nor_loses_the_linear_tail()
    {
        var (value, grad) = ValueAndGrad(Autograd.Softplus, [100f, -100f, 0f]);
        Assert.Equal(100.0, value[0]);                      // ln(1 + e^100) would overflow e^100 in float32
        Assert.InRange(value[1], 0.0, 1e-40);               // ≈ e^-100
        Check.Relative(Math.Log(2), value[2], 1e-6);
        Assert.Equal(1.0, grad[0]);
        Assert.InRange(grad[1], 0.0, 1e-40);
        Check.Relative(0.5, grad[2], 1e-6);
    }

    [Fact]
    public void Divide_in_float32_at_a_equal_b_equal_1e20_gives_finite_gradients_because_b_is_never_squared()
    {
        var a = new Variable(1e20f);
        var b = new Variable(1e20f);
        var y = a / b;
        Assert.Equal(1.0, y.Item());
        y.Backward();
        Check.Relative(1e-20, Check.GradOf(a).Item(), 1e-6, "d/da");
        Check.Relative(-1e-20, Check.GradOf(b).Item(), 1e-6, "d/db"); // b² = 1e40 overflows float32; −g·(a/b)/b does not
    }

    [Fact]
    public void ClipGradients_of_float32_gradients_of_1e20_does_not_overflow_and_scales_them_to_the_max_norm()
    {
        var a = new Variable(new[] { 1f, 1f });
        (a * 1e20f).Sum().Backward();
        var norm = Autograd.ClipGradients([a], maxNorm: 1.0);
        Check.Relative(Math.Sqrt(2) * 1e20, norm, 1e-6, "norm");
        Assert.Equal(DType.Float32, Check.GradOf(a).DType);
        Assert.All(a.Grad!.ToArray(), g => Check.Relative(1 / Math.Sqrt(2), g, 1e-6, "clipped"));

        // Near float32's largest value the sum of squares would overflow even in float64 order of magnitude terms.
        var big = new Variable(new[] { 1f, 1f, 1f });
        (big * 3e38f).Sum().Backward();
        var bigNorm = Autograd.ClipGradients([big], maxNorm: 2.0);
        Check.Relative(Math.Sqrt(3) * 3e38, bigNorm, 1e-6, "norm near float32 max");
        Assert.All(big.Grad!.ToArray(), g => Check.Relative(2 / Math.Sqrt(3), g, 1e-6, "clipped near float32 max"));
    }

    [Theory]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    [InlineData(float.NaN)]
    public void ClipGradients_with_an_infinite_or_nan_float32_gradient_returns_that_norm_and_leaves_gradients_unchanged(float bad)
    {
        var a = new Variable(new[] { 1f, 1f });
        a.Grad = new Variable(new[] { bad, 3f }, requiresGrad: false);
        var before = a.Grad.Data;
        var norm = Autograd.ClipGradients([a], maxNorm: 1.0);
        Assert.True(float.IsNaN(bad) ? double.IsNaN(norm) : double.IsPositiveInfinity(norm), $"norm {norm}");
        Assert.Same(before, a.Grad!.Data);
    }

    [Fact]
    public void Exp_overflows_to_infinity_in_float32_above_88_7_and_in_float64_above_709_7_with_an_infinite_gradient()
    {
        var (value, grad) = ValueAndGrad(Autograd.Exp, [88f, 89f]);
        Assert.True(double.IsFinite(value[0]) && double.IsFinite(grad[0]));
        Assert.Equal(double.PositiveInfinity, value[1]);
        Assert.Equal(double.PositiveInfinity, grad[1]);

        var x = new Variable(new[] { 709.0, 710.0, -1000.0 });
        var y = Autograd.Exp(x);
        y.Sum().Backward();
        Assert.True(double.IsFinite(y.ToArray()[0]));
        Assert.Equal(double.PositiveInfinity, y.ToArray()[1]);
        Assert.Equal(0.0, y.ToArray()[2]);                  // underflow is a clean 0, not NaN
        Assert.Equal(new[] { y.ToArray()[0], double.PositiveInfinity, 0.0 }, x.Grad!.ToArray());

        // No exception by default; anomaly detection stops it in the forward pass, naming exp.
        using (Autograd.DetectAnomaly())
        {
            var ex = Assert.Throws<NonFiniteGradientException>(() => Autograd.Exp(new Variable(new[] { 89f })));
            Assert.Equal("exp", ex.Operation);
            Assert.Equal("forward", ex.Pass);
        }
    }

    [Fact]
    public void Pow_with_a_fractional_exponent_at_and_below_zero_gives_ieee_values()
    {
        // x^0.5 at [0, -1, 4]: values [0, NaN, 2]; gradients [+inf, NaN, 0.25] (sqrt'(0) = +inf by continuity).
        var x = new Variable(new[] { 0.0, -1.0, 4.0 });
        var y = Autograd.Power(x, 0.5);
        var values = y.ToArray();
        Assert.Equal(0.0, values[0]);
        Assert.True(double.IsNaN(values[1]));
        Assert.Equal(2.0, values[2]);
        y.Backward(new Variable(new[] { 1.0, 1.0, 1.0 }, requiresGrad: false));
        var g = x.Grad!.ToArray();
        Assert.Equal(double.PositiveInfinity, g[0]);
        Assert.True(double.IsNaN(g[1]));
        Assert.Equal(0.25, g[2]);
    }

    [Fact]
    public void Pow_with_integer_exponents_at_and_below_zero_follows_the_power_rule()
    {
        // x^2 and x^3 are defined for negative x; x^0 has gradient 0 everywhere (also at 0, scaled by nothing);
        // x^-1 at 0 is +inf with gradient -inf.
        var x = new Variable(new[] { -3.0, 0.0 });
        Autograd.Power(x, 2).Sum().Backward();
        Assert.Equal(new[] { -6.0, 0.0 }, x.Grad!.ToArray());
        x.Grad = null;
        var cube = Autograd.Power(x, 3);
        Assert.Equal(new[] { -27.0, 0.0 }, cube.ToArray());
        cube.Sum().Backward();
        Assert.Equal(new[] { 27.0, 0.0 }, x.Grad!.ToArray());
        x.Grad = null;
        var zeroth = Autograd.Power(x, 0);
        Assert.Equal(new[] { 1.0, 1.0 }, zeroth.ToArray());
        zeroth.Backward(new Variable(new[] { 5.0, 7.0 }, requiresGrad: false));
        Assert.Equal(new[] { 0.0, 0.0 }, x.Grad!.ToArray());

        var z = new Variable(new[] { 0.0 });
        var inverse = Autograd.Power(z, -1);
        Assert.Equal(double.PositiveInfinity, inverse.Item());
        inverse.Sum().Backward();
        Assert.Equal(double.NegativeInfinity, z.Grad!.Item());
    }
}
