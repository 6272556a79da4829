using TinyTorch.Functional;

namespace TinyTorch.Tests;

/// <summary>
/// The bad-input table of TESTING.md §3, one test per row, in the table's order. Each asserts the
/// exception type, the properties the type carries, that the message names the op, what was expected,
/// what was found and the fix, and the row's state guarantee. Rows that are design choices rather than
/// errors (a seedless backward on a non-scalar, backward twice, in-place updates, NaN in forward) assert
/// the documented outcome instead (README "Guarantees").
/// </summary>
public class BadInputTableTests
{
    private static void AssertMentions(string message, params string[] parts)
    {
        foreach (var part in parts)
        {
            Assert.True(message.Contains(part, StringComparison.Ordinal), $"the message should mention \"{part}\":\n{message}");
        }
    }

    [Fact]
    public void Row_01_broadcast_mismatch_throws_ShapeMismatchException_and_creates_no_node()
    {
        var a = new Variable(new double[2, 3]);
        var b = new Variable(new double[4, 3]);
        var ex = Assert.Throws<ShapeMismatchException>(() => a + b);
        Assert.IsAssignableFrom<ArgumentException>(ex);
        Assert.Equal("add", ex.Operation);
        Assert.Equal(Shape.Of(2, 3), ex.LeftShape);
        Assert.Equal(Shape.Of(4, 3), ex.RightShape);
        Assert.Equal(0, ex.Dimension);
        AssertMentions(ex.Message, "add:", "[2, 3]", "[4, 3]", "dimension 0", "sizes 2 and 4", "equal or one of them 1");
        // Inputs untouched, still leaves, no gradient; a later valid pass sees no trace of the failure.
        Assert.True(a.IsLeaf && b.IsLeaf);
        Assert.Null(a.Grad);
        (a * 2.0).Sum().Backward();
        Assert.All(Check.GradOf(a).ToArray(), g => Assert.Equal(2.0, g));
        Assert.Null(b.Grad);
    }

    [Fact]
    public void Row_02_matmul_mismatch_throws_ShapeMismatchException_naming_the_inner_dimensions()
    {
        var a = new Variable(new double[2, 3]);
        var b = new Variable(new double[4, 5]);
        var ex = Assert.Throws<ShapeMismatchException>(() => Autograd.MatMul(a, b));
        Assert.Equal("matmul", ex.Operation);
        Assert.Equal(Shape.Of(2, 3), ex.LeftShape);
        Assert.Equal(Shape.Of(4, 5), ex.RightShape);
        AssertMentions(ex.Message, "matmul", "[2, 3]", "[4, 5]", "3", "4");
        Assert.Null(a.Grad);
        Assert.Null(b.Grad);
    }

    [Fact]
    public void Row_02b_an_axis_out_of_range_throws_ArgumentOutOfRangeException_naming_the_valid_axes()
    {
        var x = new Variable(new double[2, 3]);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.Softmax(x, 2));
        Assert.Equal("axis", ex.ParamName);
        Assert.Equal(2, ex.ActualValue);
        AssertMentions(ex.Message, "softmax:", "axis 2", "rank 2", "valid axes: -2 to 1");
        // A scalar has no axes at all: the message says so and gives the fix (no "valid axes: 0 to -1").
        var scalar = Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.Softmax(new Variable(1.0), 0));
        AssertMentions(scalar.Message, "softmax:", "rank 0", "no axes", "reshape it to [1]");
        Assert.DoesNotContain("0 to -1", scalar.Message);
    }

    [Fact]
    public void Row_03_backward_on_a_non_scalar_without_a_seed_seeds_ones_as_documented()
    {
        // Design choice (README Conventions): ones of the output's shape, as in the course; the
        // result is the gradient of the sum. Asserted so that a change of policy is a visible decision.
        var x = new Variable(new[] { 1.0, 2.0 });
        (x * x).Backward();
        Assert.Equal(new[] { 2.0, 4.0 }, Check.GradOf(x).ToArray());
    }

    [Fact]
    public void Row_04_seed_of_the_wrong_shape_throws_ArgumentException_for_gradient_and_changes_no_grad()
    {
        var x = new Variable(new[] { 1.0, 2.0, 3.0 });
        var y = x * x;
        var ex = Assert.Throws<ArgumentException>(() => y.Backward(new Variable(new[] { 1.0, 1.0 }, requiresGrad: false)));
        Assert.IsNotType<ShapeMismatchException>(ex);
        Assert.Equal("gradient", ex.ParamName);
        AssertMentions(ex.Message, "[2]", "[3]");
        Assert.Null(x.Grad);
    }

    [Fact]
    public void Row_05_backward_from_a_value_that_needs_no_gradient_throws_InvalidOperationException()
    {
        var c = new Variable(new[] { 1.0, 2.0 }, requiresGrad: false);
        var ex = Assert.Throws<InvalidOperationException>(() => (c * 2.0).Backward());
        AssertMentions(ex.Message, "backward", "requires grad", "requiresGrad = true");
        Assert.Null(c.Grad);
        Assert.False(c.RequiresGrad);
    }

    [Fact]
    public void Row_06_backward_twice_accumulates_twice_as_documented()
    {
        var x = new Variable(3.0);
        var y = x * x;
        y.Backward();
        y.Backward();
        Assert.Equal(12.0, Check.GradOf(x).Item()); // 6 + 6, like PyTorch's retain_graph=True
    }

    [Fact]
    public void Row_07_requires_grad_on_an_integer_tensor_throws_and_the_flag_stays_false()
    {
        var ints = new Variable(new Tensor(new[] { 1, 2, 3 }), requiresGrad: false);
        var ex = Assert.Throws<InvalidOperationException>(() => ints.RequiresGrad = true);
        AssertMentions(ex.Message, "Int32", "floating-point");
        Assert.False(ints.RequiresGrad);
        var viaConstructor = Assert.ThrowsAny<Exception>(() => new Variable(new Tensor(new[] { 1, 2, 3 })));
        Assert.True(viaConstructor is InvalidOperationException or NotSupportedException or ArgumentException, viaConstructor.GetType().Name);
        AssertMentions(viaConstructor.Message, "Int32");
    }

    [Fact]
    public void Row_08_updating_a_value_saved_for_backward_cannot_corrupt_the_graph()
    {
        // The façade has no in-place storage: setting Data rebinds the handle, so the graph keeps the
        // value it saw. exp saves its output; the gradient is exp(1), not exp(5).
        var x = new Variable(1.0);
        var y = Autograd.Exp(x);
        x.Data = new Tensor(5.0);
        y.Backward();
        Assert.Equal(Math.Exp(1.0), Check.GradOf(x).Item(), 12);
        Assert.Equal(5.0, x.Item());

        // A new value of another shape cannot receive the old graph's gradient: a clear error, no Grad.
        var v = new Variable(new[] { 1.0, 2.0 });
        var z = (v * v).Sum();
        v.Data = new Tensor(new[] { 1.0, 2.0, 3.0 });
        var ex = Assert.Throws<InvalidOperationException>(() => z.Backward());
        AssertMentions(ex.Message, "backward", "[2]", "[3]", "rebuild the graph");
        Assert.Null(v.Grad);
    }

    [Fact]
    public void Row_09_setting_data_on_a_non_leaf_throws_InvalidOperationException_and_keeps_the_value()
    {
        var x = new Variable(2.0);
        var y = x * 3.0;
        var ex = Assert.Throws<InvalidOperationException>(() => y.Data = new Tensor(0.0));
        AssertMentions(ex.Message, "Data", "leaf", "multiply", "new Variable");
        Assert.Equal(6.0, y.Item());
        // On a leaf that requires grad, updates (optimizer style) are allowed anywhere: they rebind.
        x.Data = new Tensor(4.0);
        Assert.True(x.IsLeaf && x.RequiresGrad);
        Assert.Equal(6.0, y.Item());
    }

    [Fact]
    public void Row_10_gradient_for_an_unused_input_throws_unless_allowUnused()
    {
        var x = new Variable(2.0);
        var unused = new Variable(5.0);
        var y = x * x;
        var ex = Assert.Throws<ArgumentException>(() => Autograd.Grad(y, new[] { x, unused }));
        AssertMentions(ex.Message, "1", "allowUnused");
        var grads = Autograd.Grad(y, new[] { x, unused }, allowUnused: true);
        Assert.Equal(4.0, grads[0]!.Item());
        Assert.Null(grads[1]);
        Assert.Null(x.Grad);
        Assert.Null(unused.Grad);
    }

    [Fact]
    public void Row_11_nan_in_backward_under_DetectAnomaly_throws_NonFiniteGradientException_and_changes_no_grad()
    {
        var x = new Variable(new[] { 0.0, 1.0 });
        (x * 2.0).Sum().Backward();
        var before = x.Grad;
        var y = Autograd.Sqrt(x).Sum(); // d sqrt / dx at 0 = +inf
        Assert.False(Autograd.IsAnomalyDetectionEnabled);
        using (Autograd.DetectAnomaly())
        {
            var ex = Assert.Throws<NonFiniteGradientException>(() => y.Backward());
            Assert.IsAssignableFrom<ArithmeticException>(ex);
            Assert.Equal("sqrt", ex.Operation);
            Assert.Equal("backward", ex.Pass);
            AssertMentions(ex.Message, "sqrt");
        }
        Assert.False(Autograd.IsAnomalyDetectionEnabled);
        Assert.Same(before, x.Grad);
        Assert.Equal(new[] { 2.0, 2.0 }, x.Grad!.ToArray());
    }

    [Fact]
    public void Row_12_domain_errors_in_forward_are_ieee_values_not_exceptions()
    {
        // Sqrt of a negative number is NaN (no exception); Log keeps the course's documented clamp.
        var x = new Variable(new[] { -1.0 });
        Assert.True(double.IsNaN(Autograd.Sqrt(x).Item()));
        Assert.Equal(Math.Log(1e-8), Autograd.Log(x).Item(), 12);
        Assert.Equal(double.PositiveInfinity, (new Variable(1.0) / new Variable(0.0)).Item());
    }

    [Fact]
    public void Row_13_a_gradient_check_failure_throws_GradientCheckException_listing_each_mismatch()
    {
        // A gradient broken by Detach: d/dx (x · detach(x)) is reported as x instead of 2x.
        var ex = Assert.Throws<GradientCheckException>(() =>
            GradientChecker.AssertCorrect(v => (v[0] * v[0].Detach()).Sum(), new Tensor(new[] { 1.5, -2.0 })));
        Assert.NotEmpty(ex.Mismatches);
        var m = ex.Mismatches[0];
        Assert.Equal(0, m.Input);
        Assert.True(Math.Abs(m.Analytic - m.Reference) > 0.5, $"analytic {m.Analytic} reference {m.Reference}");
        AssertMentions(ex.Message, "input 0");
    }
}
