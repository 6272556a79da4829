namespace TinyTorch.Tests;

/// <summary>
/// Exact-value tests of the derivative conventions at kinks and ties: abs′(0) = 0, sqrt′(0) = +∞,
/// relu′(0) = 0, whole-tensor max/min ties share 1/k, max/min along an axis give everything to the first
/// extreme, Maximum/Minimum ties split ½, Clamp passes the gradient at its bounds, and Where never
/// lets a NaN or ∞ of the unselected branch into the gradient.
/// </summary>
public class KinkConventionTests
{
    private static Variable Leaf(params double[] values) => new(values);

    private static double[] GradOf(Variable v) => Check.GradOf(v).ToArray();

    [Fact]
    public void Abs_derivative_at_zero_is_zero()
    {
        // abs′ = sign: [−1, 0, 1] at [−3, 0, 2]; exactly 0 at 0 (the minimum-norm subgradient).
        var x = Leaf(-3, 0, 2);
        Autograd.Abs(x).Sum().Backward();
        Assert.Equal(new[] { -1.0, 0.0, 1.0 }, GradOf(x));
    }

    [Fact]
    public void Abs_derivative_at_negative_zero_is_zero()
    {
        var x = Leaf(-0.0);
        x.Abs().Sum().Backward();
        Assert.Equal(0.0, GradOf(x)[0]);
    }

    [Fact]
    public void Sqrt_derivative_at_zero_is_positive_infinity()
    {
        // sqrt′(x) = 1/(2√x) → +∞ as x → 0⁺ (the limit, as PyTorch); value √0 = 0.
        var x = Leaf(0, 4);
        var y = Autograd.Sqrt(x);
        Assert.Equal(new[] { 0.0, 2.0 }, y.ToArray());
        y.Sum().Backward();
        var g = GradOf(x);
        Assert.True(double.IsPositiveInfinity(g[0]), $"sqrt'(0) should be +inf, got {g[0]}");
        Assert.Equal(0.25, g[1]);
    }

    [Fact]
    public void Relu_derivative_at_zero_is_zero()
    {
        var x = Leaf(-1, 0, 2);
        var y = x.Relu();
        Assert.Equal(new[] { 0.0, 0.0, 2.0 }, y.ToArray());
        y.Sum().Backward();
        Assert.Equal(new[] { 0.0, 0.0, 1.0 }, GradOf(x));
    }

    [Fact]
    public void Whole_tensor_max_with_three_ties_gives_one_third_to_each()
    {
        // max [3, 1, 3, 3] = 3, k = 3 ties → each tied element gets 1/3, the rest 0.
        var x = Leaf(3, 1, 3, 3);
        var m = Autograd.Max(x);
        Assert.Equal(3.0, m.Item());
        m.Backward();
        Check.Close([1.0 / 3, 0, 1.0 / 3, 1.0 / 3], GradOf(x), 1e-15);
    }

    [Fact]
    public void Whole_tensor_max_with_two_ties_in_a_matrix_gives_one_half_to_each()
    {
        // [[5, 2], [1, 5]]: two maxima → ½ each; with upstream 4 → 2 each.
        var x = new Variable(new double[,] { { 5, 2 }, { 1, 5 } });
        var m = x.Max();
        Assert.Equal(5.0, m.Item());
        (m * 4.0).Backward();
        Assert.Equal(new[] { 2.0, 0.0, 0.0, 2.0 }, GradOf(x));
    }

    [Fact]
    public void Whole_tensor_min_with_k_ties_gives_one_over_k_to_each()
    {
        // min [0, 0, 1, 0] = 0 with 3 ties → 1/3 each.
        var x = Leaf(0, 0, 1, 0);
        var m = x.Min();
        Assert.Equal(0.0, m.Item());
        m.Backward();
        Check.Close([1.0 / 3, 1.0 / 3, 0, 1.0 / 3], GradOf(x), 1e-15);
    }

    [Fact]
    public void Whole_tensor_max_with_all_elements_equal_splits_evenly()
    {
        var x = Leaf(2, 2, 2, 2);
        x.Max().Backward();
        Assert.Equal(new[] { 0.25, 0.25, 0.25, 0.25 }, GradOf(x));
    }

    [Fact]
    public void Max_along_an_axis_gives_the_whole_gradient_to_the_first_maximal_index()
    {
        // Rows [2, 5, 5] and [4, 4, 1]: maxima 5 and 4, both tied; the gradient goes to the first (columns 1 and 0).
        var x = new Variable(new double[,] { { 2, 5, 5 }, { 4, 4, 1 } });
        var m = x.Max(1);
        Assert.Equal(new[] { 5.0, 4.0 }, m.ToArray());
        m.Sum().Backward();
        Assert.Equal(new[] { 0.0, 1.0, 0.0, 1.0, 0.0, 0.0 }, GradOf(x));
    }

    [Fact]
    public void Min_along_an_axis_gives_the_whole_gradient_to_the_first_minimal_index()
    {
        // Columns [1, 1] and [3, 0] of [[1, 3], [1, 0]] along axis 0: minima 1 (tie → row 0) and 0 (row 1).
        var x = new Variable(new double[,] { { 1, 3 }, { 1, 0 } });
        var m = Autograd.Min(x, 0);
        Assert.Equal(new[] { 1.0, 0.0 }, m.ToArray());
        m.Sum().Backward();
        Assert.Equal(new[] { 1.0, 0.0, 0.0, 1.0 }, GradOf(x));
    }

    [Fact]
    public void ArgMax_picks_the_first_maximal_index_consistently_with_Max_along_an_axis()
    {
        var x = new Variable(new double[,] { { 2, 5, 5 }, { 4, 4, 1 } });
        Assert.Equal(new long[] { 1, 0 }, Autograd.ArgMax(x, 1).ToInt64Array());
        // Row minima: 2 at column 0; 1 at column 2.
        Assert.Equal(new long[] { 0, 2 }, Autograd.ArgMin(x, -1).ToInt64Array());
        // Ties in ArgMin go to the first index: [[3, 3], [3, 1]] along 0 → [0, 1], along 1 → [0, 1].
        var t = new Variable(new double[,] { { 3, 3 }, { 3, 1 } });
        Assert.Equal(new long[] { 0, 1 }, Autograd.ArgMin(t, 0).ToInt64Array());
        Assert.Equal(new long[] { 0, 1 }, Autograd.ArgMin(t, 1).ToInt64Array());
    }

    [Fact]
    public void Maximum_of_two_equal_operands_gives_one_half_to_each()
    {
        var a = Leaf(2, -1);
        var b = Leaf(2, -1);
        var y = Autograd.Maximum(a, b);
        Assert.Equal(new[] { 2.0, -1.0 }, y.ToArray());
        y.Sum().Backward();
        Assert.Equal(new[] { 0.5, 0.5 }, GradOf(a));
        Assert.Equal(new[] { 0.5, 0.5 }, GradOf(b));
    }

    [Fact]
    public void Maximum_of_a_variable_with_itself_gives_a_total_gradient_of_one()
    {
        // ½ through each operand slot, summed on the same leaf: d max(a, a)/da = 1.
        var a = Leaf(2, -1);
        Autograd.Maximum(a, a).Sum().Backward();
        Assert.Equal(new[] { 1.0, 1.0 }, GradOf(a));

        var b = Leaf(3);
        Autograd.Minimum(b, b).Sum().Backward();
        Assert.Equal(new[] { 1.0 }, GradOf(b));
    }

    [Fact]
    public void Minimum_of_two_equal_operands_gives_one_half_to_each()
    {
        var a = Leaf(0, 7);
        var b = Leaf(0, 7);
        var y = Autograd.Minimum(a, b);
        y.Sum().Backward();
        Assert.Equal(new[] { 0.5, 0.5 }, GradOf(a));
        Assert.Equal(new[] { 0.5, 0.5 }, GradOf(b));
    }

    [Fact]
    public void Clamp_passes_the_gradient_at_both_bounds()
    {
        // clamp into [−1, 1]: at x = −1 and x = 1 the gradient is 1 (as PyTorch), outside 0.
        var x = Leaf(-1, 1, -1.5, 1.5, 0);
        var y = Autograd.Clamp(x, -1, 1);
        Assert.Equal(new[] { -1.0, 1.0, -1.0, 1.0, 0.0 }, y.ToArray());
        y.Sum().Backward();
        Assert.Equal(new[] { 1.0, 1.0, 0.0, 0.0, 1.0 }, GradOf(x));
    }

    [Fact]
    public void Clamp_with_equal_bounds_passes_the_gradient_at_that_point()
    {
        var x = Leaf(2, 1, 3);
        var y = x.Clamp(2, 2);
        Assert.Equal(new[] { 2.0, 2.0, 2.0 }, y.ToArray());
        y.Sum().Backward();
        Assert.Equal(new[] { 1.0, 0.0, 0.0 }, GradOf(x));
    }

    [Fact]
    public void Where_does_not_leak_the_nan_of_sqrt_of_a_negative_number()
    {
        // x = [1, −1], y = where(x > 0, √x, x): y = [1, −1]; dy/dx = [1/(2√1), 1] = [0.5, 1] — √(−1) is NaN and its
        // derivative NaN, but that branch is not selected at index 1, so no NaN reaches the gradient.
        var x = Leaf(1, -1);
        var y = Autograd.Where(x.Data > 0.0, Autograd.Sqrt(x), x);
        Assert.Equal(new[] { 1.0, -1.0 }, y.ToArray());
        y.Sum().Backward();
        var g = GradOf(x);
        Assert.DoesNotContain(g, double.IsNaN);
        Assert.Equal(new[] { 0.5, 1.0 }, g);
    }

    [Fact]
    public void Where_with_a_constant_branch_as_in_the_readme()
    {
        // where(x > 0, √x, 0) at x = [4, −1]: gradient [1/(2·2), 0] = [0.25, 0], no NaN.
        var x = Leaf(4, -1);
        var y = Autograd.Where(x.Data > 0.0, Autograd.Sqrt(x), 0.0);
        Assert.Equal(new[] { 2.0, 0.0 }, y.ToArray());
        y.Sum().Backward();
        Assert.Equal(new[] { 0.25, 0.0 }, GradOf(x));
    }

    [Fact]
    public void Where_does_not_leak_the_infinite_derivative_of_sqrt_at_zero()
    {
        // At x = 0 the unselected √x has derivative +∞; the selected branch x has derivative 1.
        var x = Leaf(0, 9);
        var y = Autograd.Where(x.Data > 0.0, Autograd.Sqrt(x), x);
        y.Sum().Backward();
        Assert.Equal(new[] { 1.0, 1.0 / 6 }, GradOf(x));
    }

    [Fact]
    public void Where_does_not_leak_the_infinity_of_a_division_by_zero()
    {
        // y = where(x > 0, 1/x, x) at x = [0, 2]: 1/0 = ∞ (and its derivative −1/x² = −∞) is not selected at 0.
        // Gradient [1, −1/4].
        var x = Leaf(0, 2);
        var y = Autograd.Where(x.Data > 0.0, 1.0 / x, x);
        Assert.Equal(new[] { 0.0, 0.5 }, y.ToArray());
        y.Sum().Backward();
        Assert.Equal(new[] { 1.0, -0.25 }, GradOf(x));
    }

    [Fact]
    public void Where_after_further_ops_still_does_not_leak_nan()
    {
        // L = Σ 3·where(x > 0, √x · 2, 0): the NaN of √(−4) passes through a multiply before the where.
        // dL/dx = 3·2/(2√x) = 3/√x at x = 9 → 1; 0 at x = −4.
        var x = Leaf(9, -4);
        var y = Autograd.Where(x.Data > 0.0, Autograd.Sqrt(x) * 2.0, 0.0) * 3.0;
        y.Sum().Backward();
        Assert.Equal(new[] { 1.0, 0.0 }, GradOf(x));
    }

    [Fact]
    public void LeakyRelu_and_Elu_at_zero_use_the_negative_branch()
    {
        // Both are where(x > 0, x, ·): at x = 0 the condition is false, so the derivative is the
        // negative branch's: slope for leaky_relu, α·e⁰ = α for elu.
        var x = Leaf(0);
        Autograd.LeakyRelu(x, 0.2).Sum().Backward();
        Check.Close(0.2, GradOf(x)[0], 1e-15);

        var y = Leaf(0);
        Autograd.Elu(y, 1.5).Sum().Backward();
        Check.Close(1.5, GradOf(y)[0], 1e-15);
    }
}
