namespace TinyTorch.Tests;

/// <summary>
/// Bad input (TESTING.md §3): typed exceptions, their properties, messages naming the shapes,
/// and the strong exception guarantee (nothing changes before a throw).
/// </summary>
public class ErrorTests
{
    private static Variable Apply(string op, Variable a, Variable b) => op switch
    {
        "add" => Autograd.Add(a, b),
        "subtract" => Autograd.Subtract(a, b),
        "multiply" => Autograd.Multiply(a, b),
        "divide" => Autograd.Divide(a, b),
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    private static Variable ApplyOperator(string op, Variable a, Variable b) => op switch
    {
        "add" => a + b,
        "subtract" => a - b,
        "multiply" => a * b,
        "divide" => a / b,
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    private static void AssertMismatch(ShapeMismatchException ex, string op, Shape left, Shape right, int dimension)
    {
        Assert.Equal(op, ex.Operation);
        Assert.Equal(left, ex.LeftShape);
        Assert.Equal(right, ex.RightShape);
        Assert.Equal(dimension, ex.Dimension);
        Assert.StartsWith(op + ":", ex.Message);
        Assert.Contains(left.ToString(), ex.Message);
        Assert.Contains(right.ToString(), ex.Message);
    }

    // ---------------------------------------------------------------- broadcast mismatch

    [Theory]
    [InlineData("add")]
    [InlineData("subtract")]
    [InlineData("multiply")]
    [InlineData("divide")]
    public void Binary_op_of_shapes_3_and_2_throws_shape_mismatch_naming_both_shapes(string op)
    {
        var a = new Variable(new[] { 1.0, 2.0, 3.0 });
        var b = new Variable(new[] { 1.0, 2.0 });

        var ex = Assert.Throws<ShapeMismatchException>(() => Apply(op, a, b));
        AssertMismatch(ex, op, Shape.Of(3), Shape.Of(2), 0);
        Assert.Equal(
            $"{op}: shapes [3] and [2] are not broadcast-compatible: dimension 0 of the result has sizes 3 and 2 (sizes must be equal or one of them 1).",
            ex.Message);

        var viaOperator = Assert.Throws<ShapeMismatchException>(() => ApplyOperator(op, a, b));
        AssertMismatch(viaOperator, op, Shape.Of(3), Shape.Of(2), 0);
    }

    [Fact]
    public void Shape_mismatch_is_an_argument_exception()
    {
        var a = new Variable(new[] { 1.0, 2.0, 3.0 });
        var b = new Variable(new[] { 1.0, 2.0 });
        Assert.ThrowsAny<ArgumentException>(() => a + b);
    }

    [Theory]
    [InlineData("add")]
    [InlineData("subtract")]
    [InlineData("multiply")]
    [InlineData("divide")]
    public void Binary_op_of_shapes_2x3_and_4x3_throws_shape_mismatch_at_dimension_0(string op)
    {
        var a = new Variable(new double[2, 3]);
        var b = new Variable(new double[4, 3]);
        var ex = Assert.Throws<ShapeMismatchException>(() => Apply(op, a, b));
        AssertMismatch(ex, op, Shape.Of(2, 3), Shape.Of(4, 3), 0);
        Assert.Contains("sizes 2 and 4", ex.Message);
    }

    [Fact]
    public void A_mismatch_in_a_trailing_dimension_reports_that_dimension_of_the_result()
    {
        // [2, 3] and [2]: aligned from the right, result dimension 1 has sizes 3 and 2.
        var a = new Variable(new double[2, 3]);
        var b = new Variable(new[] { 1.0, 2.0 });
        var ex = Assert.Throws<ShapeMismatchException>(() => a * b);
        AssertMismatch(ex, "multiply", Shape.Of(2, 3), Shape.Of(2), 1);
    }

    [Fact]
    public void Tensor_operators_throw_the_same_shape_mismatch()
    {
        var a = new Tensor(new[] { 1.0, 2.0, 3.0 });
        var b = new Tensor(new[] { 1.0, 2.0 });
        AssertMismatch(Assert.Throws<ShapeMismatchException>(() => a + b), "add", Shape.Of(3), Shape.Of(2), 0);
        AssertMismatch(Assert.Throws<ShapeMismatchException>(() => a - b), "subtract", Shape.Of(3), Shape.Of(2), 0);
        AssertMismatch(Assert.Throws<ShapeMismatchException>(() => a * b), "multiply", Shape.Of(3), Shape.Of(2), 0);
        AssertMismatch(Assert.Throws<ShapeMismatchException>(() => a / b), "divide", Shape.Of(3), Shape.Of(2), 0);
    }

    // ---------------------------------------------------------------- Backward

    [Fact]
    public void Backward_with_a_gradient_of_the_wrong_shape_throws_argument_exception_naming_both_shapes()
    {
        var x = new Variable(new[] { 1.0, 2.0, 3.0 });
        var y = x * 2.0;
        var ex = Assert.Throws<ArgumentException>(() => y.Backward(new Variable(new[] { 1.0, 1.0 }, requiresGrad: false)));
        Assert.Equal("gradient", ex.ParamName);
        Assert.Contains("[2]", ex.Message);
        Assert.Contains("[3]", ex.Message);
        Assert.Null(x.Grad);
    }

    [Fact]
    public void Backward_with_a_scalar_gradient_for_a_vector_output_is_rejected_not_broadcast()
    {
        var x = new Variable(new[] { 1.0, 2.0, 3.0 });
        var y = x * 2.0;
        var ex = Assert.Throws<ArgumentException>(() => y.Backward(new Variable(1.0, requiresGrad: false)));
        Assert.Equal("gradient", ex.ParamName);
        Assert.Contains("[]", ex.Message);
        Assert.Contains("[3]", ex.Message);
    }

    [Fact]
    public void Backward_on_a_constant_throws_invalid_operation()
    {
        var c = new Variable(3.0, requiresGrad: false);
        Assert.Throws<InvalidOperationException>(() => c.Backward());
    }

    [Fact]
    public void Backward_on_a_result_of_constants_only_throws_invalid_operation()
    {
        var a = new Variable(2.0, requiresGrad: false);
        var b = new Variable(3.0, requiresGrad: false);
        var y = a * b + 1.0;
        Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.Null(a.Grad);
        Assert.Null(b.Grad);
    }

    // ---------------------------------------------------------------- Item, construction

    [Fact]
    public void Item_on_a_tensor_of_shape_3_throws_invalid_operation_naming_the_shape()
    {
        var t = new Tensor(new[] { 1.0, 2.0, 3.0 });
        var ex = Assert.Throws<InvalidOperationException>(() => t.Item());
        Assert.Contains("[3]", ex.Message);

        var v = new Variable(new[] { 1.0, 2.0, 3.0 });
        var vex = Assert.Throws<InvalidOperationException>(() => v.Item());
        Assert.Contains("[3]", vex.Message);
    }

    [Fact]
    public void Item_on_an_empty_tensor_throws_invalid_operation()
    {
        var t = Tensor.FromArray(Array.Empty<double>(), 0);
        Assert.Throws<InvalidOperationException>(() => t.Item());
    }

    [Fact]
    public void From_array_with_the_wrong_number_of_values_throws_argument_exception()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.FromArray(new[] { 1.0, 2.0, 3.0, 4.0, 5.0 }, 2, 3));
        Assert.Contains("[2, 3]", ex.Message);
        Assert.Contains("5", ex.Message);
        Assert.Throws<ArgumentException>(() => Tensor.FromArray(new[] { 1f, 2f }, 3));
    }

    [Fact]
    public void A_negative_dimension_throws_argument_exception()
    {
        Assert.Throws<ArgumentException>(() => Shape.Of(2, -1));
        Assert.Throws<ArgumentException>(() => Tensor.FromArray(new[] { 1.0, 2.0 }, -2));
        Assert.Throws<ArgumentException>(() => Tensor.FromArray(new[] { 1f, 2f }, 2, -1));
    }

    [Fact]
    public void Clip_gradients_with_a_max_norm_not_positive_throws_argument_out_of_range()
    {
        var a = new Variable(1.0) { Grad = new Variable(10.0, requiresGrad: false) };
        Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.ClipGradients(new[] { a }, 0.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.ClipGradients(new[] { a }, -1.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.ClipGradients(new[] { a }, double.NaN));
        Assert.Equal(10.0, a.Grad!.Item());
    }

    [Fact]
    public void Setting_grad_to_a_gradient_of_another_shape_throws_argument_exception()
    {
        var x = new Variable(new[] { 1.0, 2.0 });
        Assert.ThrowsAny<ArgumentException>(() => x.Grad = new Variable(new[] { 1.0, 2.0, 3.0 }, requiresGrad: false));
        Assert.Null(x.Grad);
    }

    // ---------------------------------------------------------------- Data on a non-leaf

    [Fact]
    public void Setting_data_on_a_non_leaf_throws_invalid_operation_and_keeps_the_value()
    {
        var x = new Variable(new[] { 1.0, 2.0 });
        var y = Autograd.Relu(x);
        Assert.Throws<InvalidOperationException>(() => y.Data = new Tensor(new[] { 5.0, 5.0 }));
        Assert.Equal(new[] { 1.0, 2.0 }, y.ToArray());
        Assert.False(y.IsLeaf);
        Assert.Equal("relu", y.GradFn!.Name);
    }

    // ---------------------------------------------------------------- null arguments

    [Fact]
    public void Null_arguments_to_constructors_throw_argument_null()
    {
        Assert.Throws<ArgumentNullException>(() => new Variable((Tensor)null!));
        Assert.Throws<ArgumentNullException>(() => new Variable((double[])null!));
        Assert.Throws<ArgumentNullException>(() => new Variable((float[])null!));
        Assert.Throws<ArgumentNullException>(() => new Variable((double[,])null!));
        Assert.Throws<ArgumentNullException>(() => new Variable((float[,])null!));
        Assert.Throws<ArgumentNullException>(() => new Tensor((double[])null!));
        Assert.Throws<ArgumentNullException>(() => new Tensor((float[])null!));
        Assert.Throws<ArgumentNullException>(() => new Tensor((double[,])null!));
        Assert.Throws<ArgumentNullException>(() => new Tensor((float[,])null!));
        Assert.Throws<ArgumentNullException>(() => Tensor.FromArray((double[])null!, 2));
        Assert.Throws<ArgumentNullException>(() => Tensor.FromArray((float[])null!, 2));
        Assert.Throws<ArgumentNullException>(() => Tensor.FromArray(new[] { 1.0 }, (int[])null!));
        Assert.Throws<ArgumentNullException>(() => Tensor.Zeros(null!, DType.Float64));
        Assert.Throws<ArgumentNullException>(() => Tensor.Ones(null!, DType.Float64));
        Assert.Throws<ArgumentNullException>(() => Tensor.Full(null!, 1.0, DType.Float64));
        Assert.Throws<ArgumentNullException>(() => Shape.Of(null!));
    }

    [Fact]
    public void Null_arguments_to_ops_throw_argument_null()
    {
        var x = new Variable(1.0);
        Variable nothing = null!;
        Assert.Throws<ArgumentNullException>(() => Autograd.Add(nothing, x));
        Assert.Throws<ArgumentNullException>(() => Autograd.Add(x, nothing));
        Assert.Throws<ArgumentNullException>(() => Autograd.Subtract(nothing, x));
        Assert.Throws<ArgumentNullException>(() => Autograd.Multiply(x, nothing));
        Assert.Throws<ArgumentNullException>(() => Autograd.Divide(nothing, x));
        Assert.Throws<ArgumentNullException>(() => Autograd.Relu(nothing));
        Assert.Throws<ArgumentNullException>(() => Autograd.Sigmoid(nothing));
        Assert.Throws<ArgumentNullException>(() => Autograd.Tanh(nothing));
        Assert.Throws<ArgumentNullException>(() => Autograd.Exp(nothing));
        Assert.Throws<ArgumentNullException>(() => Autograd.Log(nothing));
        Assert.Throws<ArgumentNullException>(() => Autograd.SumAll(nothing));
        Assert.Throws<ArgumentNullException>(() => Autograd.Mean(nothing));
        Assert.Throws<ArgumentNullException>(() => Autograd.Power(nothing, 2));
    }

    [Fact]
    public void Null_operands_of_operators_throw_argument_null()
    {
        var x = new Variable(1.0);
        Variable nothing = null!;
        Assert.Throws<ArgumentNullException>(() => x + nothing);
        Assert.Throws<ArgumentNullException>(() => nothing - x);
        Assert.Throws<ArgumentNullException>(() => x * nothing);
        Assert.Throws<ArgumentNullException>(() => nothing / x);
        Assert.Throws<ArgumentNullException>(() => nothing + 1.0);
        Assert.Throws<ArgumentNullException>(() => 1.0 - nothing);
        Assert.Throws<ArgumentNullException>(() => 2.0 * nothing);
        Assert.Throws<ArgumentNullException>(() => nothing / 2.0);
        Assert.Throws<ArgumentNullException>(() => -nothing);

        var t = new Tensor(1.0);
        Tensor none = null!;
        Assert.Throws<ArgumentNullException>(() => t + none);
        Assert.Throws<ArgumentNullException>(() => none * t);
        Assert.Throws<ArgumentNullException>(() => none - 1.0);
        Assert.Throws<ArgumentNullException>(() => 1.0 / none);
        Assert.Throws<ArgumentNullException>(() => -none);
    }

    [Fact]
    public void Null_arguments_to_utilities_throw_argument_null()
    {
        var x = new Variable(1.0);
        Assert.Throws<ArgumentNullException>(() => Autograd.ClipGradients(null!));
        Assert.Throws<ArgumentNullException>(() => Autograd.ClipGradients(new[] { x, null! }));
        Assert.Throws<ArgumentNullException>(() => Autograd.ZeroGradients(null!));
        Assert.Throws<ArgumentNullException>(() => Autograd.ZeroGradients(new[] { x, null! }));
        Assert.Throws<ArgumentNullException>(() => Autograd.CollectParameters(null!));
        Assert.Throws<ArgumentNullException>(() => Autograd.CollectParameters(x, null!));
        Assert.Throws<ArgumentNullException>(() => x.Data = null!);
    }

    // ---------------------------------------------------------------- strong exception guarantee

    [Fact]
    public void A_failing_backward_leaves_null_gradients_null()
    {
        var a = new Variable(new[] { 1.0, 2.0, 3.0 });
        var b = new Variable(new[] { 4.0, 5.0, 6.0 });
        var y = a * b;
        Assert.Throws<ArgumentException>(() => y.Backward(new Variable(new[] { 1.0, 1.0 }, requiresGrad: false)));
        Assert.Null(a.Grad);
        Assert.Null(b.Grad);
    }

    [Fact]
    public void A_failing_backward_leaves_existing_gradients_unchanged()
    {
        // First pass: y = a ⊙ b seeded with ones gives a.grad = b, b.grad = a.
        var a = new Variable(new[] { 1.0, 2.0, 3.0 });
        var b = new Variable(new[] { 4.0, 5.0, 6.0 });
        var fresh = new Variable(new[] { 7.0, 8.0, 9.0 });
        var y = a * b;
        y.Backward();
        var aGrad = a.Grad;
        var bGrad = b.Grad;

        var z = y + fresh;
        Assert.Throws<ArgumentException>(() => z.Backward(new Variable(new[] { 1.0 }, requiresGrad: false)));

        Assert.Same(aGrad, a.Grad);
        Assert.Same(bGrad, b.Grad);
        Assert.Equal(new[] { 4.0, 5.0, 6.0 }, Check.GradOf(a).ToArray());
        Assert.Equal(new[] { 1.0, 2.0, 3.0 }, Check.GradOf(b).ToArray());
        Assert.Null(fresh.Grad);

        // And the graph still works afterwards: a second good pass accumulates once.
        y.Backward();
        Assert.Equal(new[] { 8.0, 10.0, 12.0 }, Check.GradOf(a).ToArray());
    }

    [Fact]
    public void A_failing_backward_on_a_constant_changes_no_gradient()
    {
        var x = new Variable(2.0);
        (x * 3.0).Backward();
        var before = x.Grad;
        var c = new Variable(5.0, requiresGrad: false);
        Assert.Throws<InvalidOperationException>(() => (c * 2.0).Backward());
        Assert.Same(before, x.Grad);
        Assert.Equal(3.0, Check.GradOf(x).Item());
    }

    [Fact]
    public void A_failing_op_changes_nothing_on_its_inputs()
    {
        var a = new Variable(new[] { 1.0, 2.0, 3.0 });
        var b = new Variable(new[] { 1.0, 2.0 });
        (a * 2.0).Backward();
        var aGrad = a.Grad;
        var aData = a.Data;

        Assert.Throws<ShapeMismatchException>(() => a + b);
        Assert.Throws<ShapeMismatchException>(() => Autograd.Divide(b, a));

        Assert.Same(aData, a.Data);
        Assert.Same(aGrad, a.Grad);
        Assert.Null(b.Grad);
        Assert.True(a.IsLeaf && a.RequiresGrad && b.IsLeaf && b.RequiresGrad);
        Assert.Equal(new[] { 1.0, 2.0, 3.0 }, a.ToArray());
        Assert.Equal(new[] { 1.0, 2.0 }, b.ToArray());

        // Later passes see no trace of the failed op.
        Autograd.SumAll(a * a).Backward();
        Assert.Equal(new[] { 4.0, 6.0, 8.0 }, Check.GradOf(a).ToArray()); // 2 + 2a
        Assert.Null(b.Grad);
    }

    [Fact]
    public void A_failing_zero_gradients_zeroes_nothing()
    {
        var a = new Variable(1.0);
        (a * 3.0).Backward();
        Assert.Throws<ArgumentNullException>(() => Autograd.ZeroGradients(new[] { a, null! }));
        Assert.Equal(3.0, Check.GradOf(a).Item());
    }

    [Fact]
    public void A_failing_clip_gradients_scales_nothing()
    {
        var a = new Variable(1.0);
        (a * 30.0).Backward();
        Assert.Throws<ArgumentNullException>(() => Autograd.ClipGradients(new[] { a, null! }, 1.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.ClipGradients(new[] { a }, 0.0));
        Assert.Equal(30.0, Check.GradOf(a).Item());
    }

    [Fact]
    public void A_failing_data_set_keeps_the_old_value()
    {
        var w = new Variable(2.0);
        Assert.Throws<ArgumentNullException>(() => w.Data = null!);
        Assert.Equal(2.0, w.Item());
        Assert.True(w.IsLeaf);
    }
}
