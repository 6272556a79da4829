namespace TinyTorch.Tests;

/// <summary>
/// One test per error kind of the tensor ops: the exception type, a message that names the op and
/// the shapes (or the axis and rank, or the index and size), and that nothing changed.
/// </summary>
public class TensorOpErrorTests
{
    private static Variable Leaf(double[] values, params int[] shape) =>
        new(Tensor.FromArray(values, shape.Length == 0 ? new[] { values.Length } : shape));

    private static Variable Zeros(params int[] shape) =>
        new(Tensor.Zeros(Shape.Of(shape), DType.Float64));

    /// <summary>Gives <paramref name="v"/> a known gradient, to check later that a failed op left it alone.</summary>
    private static void SeedGrad(Variable v, double value) =>
        v.Grad = new Variable(Tensor.Full(v.Shape, value, v.DType), requiresGrad: false);

    private static void AssertGradStill(Variable v, double value)
    {
        Assert.NotNull(v.Grad);
        Assert.All(v.Grad!.ToArray(), g => Assert.Equal(value, g));
    }

    private static void AssertNames(Exception ex, params string[] parts)
    {
        foreach (var part in parts)
        {
            Assert.Contains(part, ex.Message);
        }
    }

    // ---------------------------------------------------------------- matmul

    [Fact]
    public void MatMul_inner_dimension_mismatch_names_both_shapes_and_the_rule()
    {
        var a = Zeros(2, 3);
        var b = Zeros(4, 5);
        SeedGrad(a, 7);
        var ex = Assert.Throws<ShapeMismatchException>(() => Autograd.MatMul(a, b));
        Assert.Equal("matmul", ex.Operation);
        Assert.Equal(Shape.Of(2, 3), ex.LeftShape);
        Assert.Equal(Shape.Of(4, 5), ex.RightShape);
        Assert.StartsWith("matmul: cannot multiply [2, 3] by [4, 5]: inner dimensions 3 and 4 differ", ex.Message);
        AssertGradStill(a, 7);
        Assert.Null(b.Grad);
    }

    [Fact]
    public void MatMul_inner_dimension_mismatch_of_vectors_and_through_the_fluent_form()
    {
        var ex = Assert.Throws<ShapeMismatchException>(() => Zeros(3).MatMul(Zeros(4)));
        AssertNames(ex, "matmul", "[3]", "[4]", "inner dimensions");

        var ex2 = Assert.Throws<ShapeMismatchException>(() => Autograd.MatMul(Zeros(2, 3), Zeros(2)));
        AssertNames(ex2, "matmul", "[2, 3]", "[2]", "inner dimensions 3 and 2");
    }

    [Fact]
    public void MatMul_with_a_0d_operand_is_rejected()
    {
        var s = new Variable(2.0);
        var m = Zeros(2, 2);
        var ex = Assert.Throws<ShapeMismatchException>(() => Autograd.MatMul(s, m));
        Assert.Equal("matmul", ex.Operation);
        AssertNames(ex, "matmul", "[]", "[2, 2]");

        var ex2 = Assert.Throws<ShapeMismatchException>(() => Autograd.MatMul(m, s));
        AssertNames(ex2, "matmul", "[2, 2]", "[]");
    }

    [Fact]
    public void MatMul_batch_dimensions_that_do_not_broadcast_name_both_operand_shapes()
    {
        // Batches [2] and [3] do not broadcast; the message must let the user find the operands [2, 3, 4] and [3, 4, 5].
        var a = Zeros(2, 3, 4);
        var b = Zeros(3, 4, 5);
        var ex = Assert.Throws<ShapeMismatchException>(() => Autograd.MatMul(a, b));
        Assert.Equal("matmul", ex.Operation);
        AssertNames(ex, "matmul", "broadcast", "[2, 3, 4]", "[3, 4, 5]");
    }

    // ---------------------------------------------------------------- reshape, concat, stack, squeeze

    [Fact]
    public void Reshape_to_a_wrong_element_count_names_both_shapes()
    {
        var x = Zeros(2, 3);
        var ex = Assert.Throws<ShapeMismatchException>(() => x.Reshape(4));
        Assert.Equal("reshape", ex.Operation);
        AssertNames(ex, "reshape", "[2, 3]", "[4]", "6", "4");

        // With −1, a size that does not divide: [2, 3] has 6 elements, 4 does not divide 6.
        var ex2 = Assert.Throws<ShapeMismatchException>(() => Autograd.Reshape(x, -1, 4));
        AssertNames(ex2, "reshape", "[2, 3]", "-1, 4");
    }

    [Fact]
    public void Reshape_with_two_minus_ones_is_rejected()
    {
        var x = Zeros(2, 3);
        var ex = Assert.Throws<ArgumentException>(() => x.Reshape(-1, -1));
        AssertNames(ex, "reshape", "-1, -1", "only one");
    }

    [Fact]
    public void Concat_with_a_mismatched_other_dimension_names_both_shapes_and_the_axis()
    {
        var a = Zeros(2, 3);
        var b = Zeros(3, 4);
        SeedGrad(a, 1);
        var ex = Assert.Throws<ShapeMismatchException>(() => Autograd.Concat([a, b], 1));
        Assert.Equal("concat", ex.Operation);
        Assert.Equal(Shape.Of(2, 3), ex.LeftShape);
        Assert.Equal(Shape.Of(3, 4), ex.RightShape);
        AssertNames(ex, "concat", "[2, 3]", "[3, 4]", "axis 1");
        AssertGradStill(a, 1);
    }

    [Fact]
    public void Concat_of_different_ranks_is_rejected()
    {
        var ex = Assert.Throws<ShapeMismatchException>(() => Autograd.Concat([Zeros(2, 3), Zeros(3)]));
        AssertNames(ex, "concat", "[2, 3]", "[3]");
    }

    [Fact]
    public void Stack_of_different_shapes_names_both_shapes()
    {
        var ex = Assert.Throws<ShapeMismatchException>(() => Autograd.Stack([Zeros(2), Zeros(2), Zeros(3)]));
        Assert.Equal("stack", ex.Operation);
        AssertNames(ex, "stack", "[2]", "[3]");
    }

    [Fact]
    public void Squeeze_of_a_dimension_that_is_not_1_names_the_dimension_and_the_shape()
    {
        var x = Zeros(2, 3);
        var ex = Assert.Throws<ArgumentException>(() => x.Squeeze(1));
        AssertNames(ex, "squeeze", "[2, 3]", "size 3");
    }

    // ---------------------------------------------------------------- axis out of range

    [Fact]
    public void Sum_along_an_axis_out_of_range_names_the_axis_and_the_rank()
    {
        var x = Zeros(2, 3);
        SeedGrad(x, 5);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => x.Sum(2));
        AssertNames(ex, "sum", "axis 2", "rank 2");
        var neg = Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.Sum(x, -3));
        AssertNames(neg, "sum", "axis -3", "rank 2");
        AssertGradStill(x, 5);
    }

    [Fact]
    public void Softmax_along_an_axis_out_of_range_names_the_axis_and_the_rank()
    {
        var x = Zeros(2, 3);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => x.Softmax(2));
        AssertNames(ex, "axis 2", "rank 2");
        var ls = Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.LogSoftmax(x, -3));
        AssertNames(ls, "axis -3", "rank 2");
    }

    [Fact]
    public void Softmax_axis_errors_name_the_op_the_user_called()
    {
        // "every error names the op": a Softmax call should not report an internal composite's name only.
        var x = Zeros(2, 3);
        AssertNames(Assert.Throws<ArgumentOutOfRangeException>(() => x.Softmax(2)), "softmax");
        AssertNames(Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.LogSoftmax(x, -3)), "log_softmax");
    }

    [Fact]
    public void Select_along_an_axis_out_of_range_names_the_axis_and_the_rank()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.Select(Zeros(4), 1, 0));
        AssertNames(ex, "select", "axis 1", "rank 1");
    }

    [Fact]
    public void Transpose_with_an_axis_out_of_range_names_the_axis_and_the_rank()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Zeros(2, 3).Transpose(0, 3));
        AssertNames(ex, "transpose", "axis 3", "rank 2");

        // The default (−2, −1) on a vector: axis −2 is out of range for rank 1.
        var vec = Assert.Throws<ArgumentOutOfRangeException>(() => Zeros(3).Transpose());
        AssertNames(vec, "transpose", "axis -2", "rank 1");
    }

    [Fact]
    public void Other_axis_arguments_out_of_range_name_the_axis_and_the_rank()
    {
        var x = Zeros(2, 3);
        AssertNames(Assert.Throws<ArgumentOutOfRangeException>(() => x.Mean(5)), "axis 5", "rank 2");
        AssertNames(Assert.Throws<ArgumentOutOfRangeException>(() => x.Max(2)), "axis 2", "rank 2");
        AssertNames(Assert.Throws<ArgumentOutOfRangeException>(() => x.Min(-3)), "axis -3", "rank 2");
        AssertNames(Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.ArgMax(x, 2)), "axis 2", "rank 2");
        AssertNames(Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.LogSumExp(x, 2)), "axis 2", "rank 2");
        AssertNames(Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.Var(x, [2])), "axis 2", "rank 2");
        AssertNames(Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.Concat([x, x], 2)), "axis 2", "rank 2");
        AssertNames(Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.Stack([x, x], 4)), "axis 4", "rank 3");
        AssertNames(Assert.Throws<ArgumentOutOfRangeException>(() => x.Unsqueeze(4)), "axis 4", "rank 3");
        AssertNames(Assert.Throws<ArgumentOutOfRangeException>(() => x.Squeeze(2)), "axis 2", "rank 2");
        AssertNames(Assert.Throws<ArgumentOutOfRangeException>(() => x.Flatten(0, 2)), "axis 2", "rank 2");
        AssertNames(Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.Slice(x, 2, 0, 1)), "axis 2", "rank 2");
        AssertNames(Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.IndexSelect(x, 2, new Tensor(new long[] { 0 }))), "axis 2", "rank 2");
        AssertNames(Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.Gather(x, -3, Tensor.FromArray(new long[] { 0 }, 1, 1))), "axis -3", "rank 2");
    }

    // ---------------------------------------------------------------- index out of range

    [Fact]
    public void Slice_out_of_range_names_the_range_and_the_size()
    {
        var x = Zeros(10);
        SeedGrad(x, 3);
        // 3 elements from 8: indices 8, 9, 10 — 10 does not fit in size 10.
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.Slice(x, 0, 8, 3));
        AssertNames(ex, "slice", "8", "size 10");
        // With a step: 1, 4, 7, 10.
        var step = Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.Slice(x, 0, 1, 4, 3));
        AssertNames(step, "slice", "step 3", "size 10");
        // A negative start before the beginning.
        var neg = Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.Narrow(x, 0, -11, 1));
        AssertNames(neg, "slice", "size 10");
        AssertGradStill(x, 3);
    }

    [Fact]
    public void Select_index_out_of_range_names_the_index_and_the_size()
    {
        var x = Zeros(3, 2);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.Select(x, 0, 3));
        AssertNames(ex, "select", "index 3", "size 3");
        var neg = Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.Select(x, -1, -3));
        AssertNames(neg, "select", "index -3", "size 2");
    }

    [Fact]
    public void IndexSelect_index_out_of_range_names_the_index_and_the_size()
    {
        var x = Zeros(3, 2);
        SeedGrad(x, 2);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.IndexSelect(x, 0, new Tensor(new long[] { 0, 5 })));
        AssertNames(ex, "index_select", "index 5", "size 3");
        var neg = Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.IndexSelect(x, 1, new Tensor(new[] { -1 })));
        AssertNames(neg, "index_select", "index -1", "size 2");
        AssertGradStill(x, 2);
    }

    [Fact]
    public void IndexSelect_with_float_indices_is_rejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => Autograd.IndexSelect(Zeros(3), 0, new Tensor(new[] { 0.0 })));
        AssertNames(ex, "index_select", "Int32 or Int64", "Float64");
    }

    [Fact]
    public void Gather_index_out_of_range_names_the_index_and_the_size()
    {
        var x = Zeros(2, 3);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.Gather(x, 1, Tensor.FromArray(new long[] { 0, 3 }, 2, 1)));
        AssertNames(ex, "gather", "index 3", "size 3");
    }

    [Fact]
    public void Gather_with_a_wrongly_shaped_index_names_both_shapes()
    {
        // Along axis 1 the index must be [2, k]; [3, 1] differs in dimension 0.
        var x = Zeros(2, 3);
        var ex = Assert.Throws<ShapeMismatchException>(() => Autograd.Gather(x, 1, Tensor.FromArray(new long[] { 0, 0, 0 }, 3, 1)));
        Assert.Equal("gather", ex.Operation);
        AssertNames(ex, "gather", "[2, 3]", "[3, 1]");

        // Wrong rank.
        var rank = Assert.Throws<ShapeMismatchException>(() => Autograd.Gather(x, 1, new Tensor(new long[] { 0, 1 })));
        AssertNames(rank, "gather", "[2, 3]", "[2]");
    }

    // ---------------------------------------------------------------- classification losses

    private static Variable Logits() => Zeros(2, 3);

    [Fact]
    public void CrossEntropy_with_a_label_out_of_range_names_the_label_and_the_class_count()
    {
        var x = Logits();
        SeedGrad(x, 4);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.CrossEntropy(x, new Tensor(new long[] { 0, 3 })));
        AssertNames(ex, "cross_entropy", "label 3", "3 classes");
        var neg = Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.CrossEntropy(x, new Tensor(new[] { -1, 0 })));
        AssertNames(neg, "cross_entropy", "label -1");
        AssertGradStill(x, 4);
    }

    [Fact]
    public void CrossEntropy_with_labels_of_the_wrong_length_names_both_shapes()
    {
        var ex = Assert.Throws<ShapeMismatchException>(() => Autograd.CrossEntropy(Logits(), new Tensor(new long[] { 0, 1, 2 })));
        Assert.Equal("cross_entropy", ex.Operation);
        AssertNames(ex, "cross_entropy", "[2, 3]", "[3]");

        var nll = Assert.Throws<ShapeMismatchException>(() => Autograd.NllLoss(Logits(), new Tensor(new long[] { 0 })));
        AssertNames(nll, "nll_loss", "[2, 3]", "[1]");
    }

    [Fact]
    public void CrossEntropy_with_float_labels_is_rejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => Autograd.CrossEntropy(Logits(), new Tensor(new[] { 0.0, 1.0 })));
        AssertNames(ex, "cross_entropy", "Int32 or Int64", "Float64");
    }

    [Fact]
    public void CrossEntropy_with_class_weights_of_the_wrong_length_names_both_shapes()
    {
        var ex = Assert.Throws<ShapeMismatchException>(() =>
            Autograd.CrossEntropy(Logits(), new Tensor(new long[] { 0, 1 }), weights: new Tensor(new[] { 1.0, 2.0 })));
        AssertNames(ex, "cross_entropy", "[2, 3]", "[2]", "[3]");
    }

    [Fact]
    public void CrossEntropy_of_a_non_matrix_input_is_rejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => Autograd.CrossEntropy(Zeros(3), new Tensor(new long[] { 0, 1, 2 })));
        AssertNames(ex, "cross_entropy", "[N, C]", "[3]");
    }

    [Fact]
    public void NllLoss_with_a_label_out_of_range_names_the_label_and_the_class_count()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.NllLoss(Logits(), new Tensor(new long[] { 4, 0 })));
        AssertNames(ex, "nll_loss", "label 4", "3 classes");
    }

    [Fact]
    public void Elementwise_losses_with_different_shapes_name_both_shapes()
    {
        AssertNames(Assert.Throws<ShapeMismatchException>(() => Autograd.MseLoss(Zeros(3), Zeros(3, 1))), "mse_loss", "[3]", "[3, 1]");
        AssertNames(Assert.Throws<ShapeMismatchException>(() => Autograd.HuberLoss(Zeros(2), Zeros(3))), "huber_loss", "[2]", "[3]");
        AssertNames(Assert.Throws<ShapeMismatchException>(() => Autograd.BinaryCrossEntropyWithLogits(Zeros(2), Zeros(1))),
            "binary_cross_entropy_with_logits", "[2]", "[1]");
    }

    // ---------------------------------------------------------------- argument values

    [Fact]
    public void Clamp_with_min_above_max_is_rejected()
    {
        var x = Zeros(2);
        var ex = Assert.Throws<ArgumentException>(() => x.Clamp(1, -1));
        AssertNames(ex, "clamp", "1", "-1");
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void Dropout_with_p_outside_0_1_is_rejected(double p)
    {
        var x = Zeros(4);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.Dropout(x, p, new Random(0)));
        AssertNames(ex, "dropout", "[0, 1]");
        // Also in evaluation mode: the argument is invalid either way.
        Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.Dropout(x, p, new Random(0), training: false));
    }

    [Fact]
    public void Dropout_with_p_outside_0_1_does_not_consume_random_numbers()
    {
        var rng = new Random(5);
        Assert.Throws<ArgumentOutOfRangeException>(() => Autograd.Dropout(Zeros(4), 2.0, rng));
        Assert.Equal(new Random(5).NextDouble(), rng.NextDouble());
    }

    [Fact]
    public void Integer_tensor_requiring_grad_is_rejected()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => new Variable(new Tensor(new long[] { 1, 2 })));
        AssertNames(ex, "Int64", "[2]");
        var ex32 = Assert.Throws<InvalidOperationException>(() => new Variable(Tensor.FromArray(new[] { 1, 2, 3, 4 }, 2, 2)));
        AssertNames(ex32, "Int32", "[2, 2]");
    }

    [Fact]
    public void Float_ops_on_an_integer_constant_are_rejected()
    {
        var i = new Variable(new Tensor(new long[] { 1, 2 }), requiresGrad: false);
        var ex = Assert.Throws<ArgumentException>(() => Autograd.Sqrt(i));
        AssertNames(ex, "sqrt", "Int64");
        Assert.Throws<ArgumentException>(() => Autograd.MatMul(i, i));
    }

    [Fact]
    public void A_failed_op_followed_by_no_backward_leaves_every_gradient_unchanged()
    {
        // A graph built before the failure keeps working; the failed op recorded nothing that a later
        // backward pass could reach.
        var w = Leaf([1, 2, 3, 4, 5, 6], 2, 3);
        var v = Leaf([1, 1]);
        SeedGrad(w, 0.5);
        Assert.Throws<ShapeMismatchException>(() => Autograd.MatMul(w, v));
        AssertGradStill(w, 0.5);
        Assert.Null(v.Grad);

        // y = Σ (vᵀ·W): dy/dW[i, j] = v_i = 1, added to the 0.5 already there.
        Autograd.MatMul(v, w).Sum().Backward();
        AssertGradStill(w, 1.5);
        Assert.Equal(new[] { 6.0, 15.0 }, v.Grad!.ToArray());
    }
}
