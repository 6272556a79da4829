namespace TinyTorch.Tests;

/// <summary>The documented behaviour of <see cref="Variable"/>, <see cref="Tensor"/>, <see cref="Shape"/> and the utilities.</summary>
public class VariableApiTests
{
    private const double Tolerance = 1e-12;

    // ---------------------------------------------------------------- defaults and graph flags

    [Fact]
    public void A_new_variable_requires_grad_is_a_leaf_and_has_no_gradient()
    {
        var x = new Variable(new[] { 1.0, 2.0 });
        Assert.True(x.RequiresGrad);
        Assert.True(x.IsLeaf);
        Assert.Null(x.GradFn);
        Assert.Null(x.Grad);
        Assert.Equal(DType.Float64, x.DType);
        Assert.Equal(Shape.Of(2), x.Shape);
        Assert.Equal(2, x.Size);
    }

    [Fact]
    public void A_variable_created_without_grad_is_a_leaf_that_does_not_require_grad()
    {
        var c = new Variable(3.0, requiresGrad: false);
        Assert.False(c.RequiresGrad);
        Assert.True(c.IsLeaf);
        Assert.Null(c.GradFn);
        Assert.Null(c.Grad);
    }

    [Fact]
    public void Every_constructor_gives_the_expected_shape_and_dtype()
    {
        Assert.Equal((Shape.Scalar, DType.Float64), Describe(new Variable(1.0)));
        Assert.Equal((Shape.Scalar, DType.Float32), Describe(new Variable(1.0f)));
        Assert.Equal((Shape.Of(3), DType.Float64), Describe(new Variable(new[] { 1.0, 2.0, 3.0 })));
        Assert.Equal((Shape.Of(3), DType.Float32), Describe(new Variable(new[] { 1f, 2f, 3f })));
        Assert.Equal((Shape.Of(2, 3), DType.Float64), Describe(new Variable(new double[2, 3])));
        Assert.Equal((Shape.Of(3, 2), DType.Float32), Describe(new Variable(new float[3, 2])));
        Assert.Equal((Shape.Of(2, 2), DType.Float32), Describe(new Variable(Tensor.Zeros(Shape.Of(2, 2), DType.Float32))));

        static (Shape, DType) Describe(Variable v) => (v.Shape, v.DType);
    }

    [Fact]
    public void An_op_result_requires_grad_when_any_input_does_and_records_its_op()
    {
        var x = new Variable(2.0);
        var c = new Variable(3.0, requiresGrad: false);

        var mixed = x * c;
        Assert.True(mixed.RequiresGrad);
        Assert.False(mixed.IsLeaf);
        Assert.Equal("multiply", mixed.GradFn!.Name);

        var constants = c * c;
        Assert.False(constants.RequiresGrad);
        Assert.True(constants.IsLeaf);
        Assert.Null(constants.GradFn);
        Assert.Equal(9.0, constants.Item());
    }

    [Fact]
    public void Every_op_is_named_in_its_grad_fn()
    {
        var x = new Variable(new[] { 0.5, 1.5 });
        var y = new Variable(new[] { 2.0, 4.0 });
        Assert.Equal("add", Autograd.Add(x, y).GradFn!.Name);
        Assert.Equal("subtract", Autograd.Subtract(x, y).GradFn!.Name);
        Assert.Equal("multiply", Autograd.Multiply(x, y).GradFn!.Name);
        Assert.Equal("divide", Autograd.Divide(x, y).GradFn!.Name);
        Assert.Equal("relu", Autograd.Relu(x).GradFn!.Name);
        Assert.Equal("sigmoid", Autograd.Sigmoid(x).GradFn!.Name);
        Assert.Equal("tanh", Autograd.Tanh(x).GradFn!.Name);
        Assert.Equal("exp", Autograd.Exp(x).GradFn!.Name);
        Assert.Equal("log", Autograd.Log(x).GradFn!.Name);
        Assert.Equal("sum_all", Autograd.SumAll(x).GradFn!.Name);
        Assert.Equal("power", Autograd.Power(x, 2).GradFn!.Name);
        Assert.Equal("negate", (-x).GradFn!.Name);
        Assert.Equal("add", (x + 1.0).GradFn!.Name);
        Assert.Equal("subtract", (1.0 - x).GradFn!.Name);
        Assert.Equal("multiply", (2.0 * x).GradFn!.Name);
        Assert.Equal("divide", (x / 2.0).GradFn!.Name);
        Assert.Equal("multiply", (x * y).GradFn!.ToString());
    }

    // ---------------------------------------------------------------- Data

    [Fact]
    public void Setting_data_on_a_leaf_replaces_its_value()
    {
        var w = new Variable(new[] { 1.0, 2.0 });
        w.Data = new Tensor(new[] { 5.0, 6.0, 7.0 });
        Assert.Equal(new[] { 5.0, 6.0, 7.0 }, w.ToArray());
        Assert.Equal(Shape.Of(3), w.Shape);
        Assert.True(w.IsLeaf);
        Assert.True(w.RequiresGrad);
    }

    [Fact]
    public void Setting_data_on_a_constant_keeps_it_a_constant()
    {
        var c = new Variable(1.0, requiresGrad: false);
        c.Data = new Tensor(4.0);
        Assert.Equal(4.0, c.Item());
        Assert.False(c.RequiresGrad);
    }

    [Fact]
    public void A_graph_built_before_a_data_update_keeps_the_value_it_saw()
    {
        // y = 3w at w = 2 is 6; after w.Data = 10 the old y still is 6 and dy/dw = 3.
        var w = new Variable(2.0);
        var y = w * 3.0;
        w.Data = new Tensor(10.0);
        Assert.Equal(6.0, y.Item());
        Assert.Equal(10.0, w.Item());
        y.Backward();
        Assert.Equal(3.0, Check.GradOf(w).Item());
    }

    [Fact]
    public void The_sgd_update_idiom_subtracts_the_scaled_gradient()
    {
        // loss = w^2, dloss/dw = 2w = 6 at w = 3; w ← 3 - 0.1 · 6 = 2.4.
        var w = new Variable(3.0);
        (w * w).Backward();
        w.Data -= 0.1 * w.Grad!.Data;
        Assert.Equal(2.4, w.Item(), Tolerance);
    }

    [Fact]
    public void Setting_data_on_an_op_result_throws_invalid_operation()
    {
        var x = new Variable(1.0);
        var y = x * 2.0;
        var ex = Assert.Throws<InvalidOperationException>(() => y.Data = new Tensor(3.0));
        Assert.Contains("multiply", ex.Message);
        Assert.Equal(2.0, y.Item());
    }

    // ---------------------------------------------------------------- Grad and Backward

    [Fact]
    public void Grad_is_null_until_a_backward_pass_reaches_the_leaf()
    {
        var x = new Variable(2.0);
        var unused = new Variable(5.0);
        var y = x * 3.0;
        Assert.Null(x.Grad);
        y.Backward();
        Assert.Equal(3.0, Check.GradOf(x).Item());
        Assert.Null(unused.Grad);
    }

    [Fact]
    public void The_gradient_is_a_constant_variable_of_the_leaf_shape()
    {
        var x = new Variable(new[,] { { 1.0, 2.0, 3.0 }, { 4.0, 5.0, 6.0 } });
        Autograd.SumAll(x * x).Backward();
        var g = Check.GradOf(x);
        Assert.Equal(Shape.Of(2, 3), g.Shape);
        Assert.False(g.RequiresGrad);
        Assert.Equal(new[] { 2.0, 4.0, 6.0, 8.0, 10.0, 12.0 }, g.ToArray());
    }

    [Fact]
    public void Two_backward_calls_accumulate_into_the_leaves()
    {
        // y = 3x, so each pass adds dy/dx = 3.
        var x = new Variable(2.0);
        var y = x * 3.0;
        y.Backward();
        Assert.Equal(3.0, Check.GradOf(x).Item());
        y.Backward();
        Assert.Equal(6.0, Check.GradOf(x).Item());
    }

    [Fact]
    public void Backward_passes_of_different_outputs_accumulate_into_a_shared_leaf()
    {
        // a = 2x and b = x^2: da/dx + db/dx = 2 + 2x = 8 at x = 3.
        var x = new Variable(3.0);
        (x * 2.0).Backward();
        (x * x).Backward();
        Assert.Equal(8.0, Check.GradOf(x).Item());
    }

    [Fact]
    public void Non_leaf_results_keep_a_null_gradient()
    {
        var x = new Variable(2.0);
        var h = x * x;
        var y = h + x;
        y.Backward();
        Assert.Null(h.Grad);
        Assert.Null(y.Grad);
        Assert.Equal(5.0, Check.GradOf(x).Item()); // y = x^2 + x, dy/dx = 2x + 1 = 5
    }

    [Fact]
    public void Constants_in_the_graph_get_no_gradient()
    {
        var x = new Variable(2.0);
        var c = new Variable(7.0, requiresGrad: false);
        (x * c).Backward();
        Assert.Null(c.Grad);
        Assert.Equal(7.0, Check.GradOf(x).Item());
    }

    [Fact]
    public void Zero_grad_gives_zeros_of_the_leaf_shape_not_null()
    {
        var x = new Variable(new[] { 1.0, 2.0, 3.0 });
        x.ZeroGrad();
        Assert.Equal(new[] { 0.0, 0.0, 0.0 }, Check.GradOf(x).ToArray());

        Autograd.SumAll(x * 4.0).Backward();
        Assert.Equal(new[] { 4.0, 4.0, 4.0 }, Check.GradOf(x).ToArray());
        x.ZeroGrad();
        Assert.Equal(new[] { 0.0, 0.0, 0.0 }, Check.GradOf(x).ToArray());
        Assert.Equal(Shape.Of(3), Check.GradOf(x).Shape);
    }

    [Fact]
    public void Zero_grad_on_a_constant_leaves_its_gradient_null()
    {
        var c = new Variable(1.0, requiresGrad: false);
        c.ZeroGrad();
        Assert.Null(c.Grad);
    }

    [Fact]
    public void Zero_gradients_zeroes_every_variable_including_those_without_a_gradient_yet()
    {
        var a = new Variable(1.0);
        var b = new Variable(2.0);
        (a * 5.0).Backward();
        Autograd.ZeroGradients(new[] { a, b, a });
        Assert.Equal(0.0, Check.GradOf(a).Item());
        Assert.Equal(0.0, Check.GradOf(b).Item());
    }

    [Fact]
    public void Backward_with_an_explicit_gradient_weights_a_vector_output()
    {
        // y = x ⊙ x, so x.grad = g ⊙ 2x = [1·2, 0.5·4, 2·6] = [2, 2, 12].
        var x = new Variable(new[] { 1.0, 2.0, 3.0 });
        var y = x * x;
        y.Backward(new Variable(new[] { 1.0, 0.5, 2.0 }, requiresGrad: false));
        Assert.Equal(new[] { 2.0, 2.0, 12.0 }, Check.GradOf(x).ToArray());
    }

    [Fact]
    public void Backward_without_a_gradient_seeds_a_vector_output_with_ones()
    {
        // y = x ⊙ x seeded with ones: x.grad = 2x = [2, 4, 6].
        var x = new Variable(new[] { 1.0, 2.0, 3.0 });
        (x * x).Backward();
        Assert.Equal(new[] { 2.0, 4.0, 6.0 }, Check.GradOf(x).ToArray());
    }

    [Fact]
    public void Backward_without_a_gradient_seeds_a_matrix_output_with_ones()
    {
        // y = 3x for a [2, 2] x, seeded with ones: x.grad = 3 everywhere.
        var x = new Variable(new[,] { { 1.0, 2.0 }, { 3.0, 4.0 } });
        (x * 3.0).Backward();
        Assert.Equal(new[] { 3.0, 3.0, 3.0, 3.0 }, Check.GradOf(x).ToArray());
    }

    [Fact]
    public void Backward_on_a_leaf_gives_the_seed_itself()
    {
        var x = new Variable(new[] { 1.0, 2.0 });
        x.Backward();
        Assert.Equal(new[] { 1.0, 1.0 }, Check.GradOf(x).ToArray());
    }

    [Fact]
    public void A_shared_subexpression_x_times_x_gives_two_x()
    {
        // y = x·x, d/dx = 2x = 7 at x = 3.5 (both operands contribute).
        var x = new Variable(3.5);
        (x * x).Backward();
        Assert.Equal(7.0, Check.GradOf(x).Item());
    }

    [Fact]
    public void A_node_used_by_several_later_nodes_sums_their_contributions()
    {
        // h = 2x; y = h·h + h + 1 = 4x^2 + 2x + 1, so dy/dx = 8x + 2 = 18 at x = 2.
        var x = new Variable(2.0);
        var h = x * 2.0;
        var y = h * h + h + 1.0;
        Assert.Equal(21.0, y.Item());
        y.Backward();
        Assert.Equal(18.0, Check.GradOf(x).Item());
    }

    [Fact]
    public void Unary_minus_negates_value_and_gradient()
    {
        // y = -x, dy/dx = -1.
        var x = new Variable(new[] { 1.0, -2.0 });
        var y = -x;
        Assert.Equal(new[] { -1.0, 2.0 }, y.ToArray());
        y.Backward();
        Assert.Equal(new[] { -1.0, -1.0 }, Check.GradOf(x).ToArray());
    }

    [Fact]
    public void Tanh_has_gradient_one_minus_tanh_squared()
    {
        // y = tanh x, dy/dx = 1 - tanh^2 x.
        var x = new Variable(new[] { 0.0, 1.0, -2.0 });
        var y = Autograd.Tanh(x);
        Check.Close(new[] { 0.0, Math.Tanh(1.0), Math.Tanh(-2.0) }, y.ToArray(), Tolerance);
        y.Backward();
        Check.Close(
            new[] { 1.0, 1 - Math.Tanh(1.0) * Math.Tanh(1.0), 1 - Math.Tanh(-2.0) * Math.Tanh(-2.0) },
            Check.GradOf(x).ToArray(),
            Tolerance);
    }

    // ---------------------------------------------------------------- conventions at edges

    [Fact]
    public void Relu_gradient_at_zero_is_zero()
    {
        var x = new Variable(0.0);
        Autograd.Relu(x).Backward();
        Assert.Equal(0.0, Check.GradOf(x).Item());
    }

    [Fact]
    public void Log_clamps_at_1e_minus_8_and_its_gradient_is_that_of_the_clamped_function()
    {
        // log(x) = ln(max(x, 1e-8)): log 0 = ln 1e-8; the gradient is 1/x for x ≥ 1e-8 and 0 below.
        var x = new Variable(new[] { 0.0, -1.0, 1e-8, 4.0 });
        var y = Autograd.Log(x);
        var values = y.ToArray();
        Assert.Equal(-18.420680743952367, values[0], Tolerance);
        Assert.Equal(Math.Log(1e-8), values[0], Tolerance);
        Assert.Equal(Math.Log(1e-8), values[1], Tolerance);
        Assert.Equal(Math.Log(1e-8), values[2], Tolerance);
        Assert.Equal(Math.Log(4.0), values[3], Tolerance);
        y.Backward();
        var g = Check.GradOf(x).ToArray();
        Assert.Equal(0.0, g[0]);
        Assert.Equal(0.0, g[1]);
        Check.Relative(1e8, g[2], 1e-12);
        Assert.Equal(0.25, g[3], Tolerance);
    }

    [Fact]
    public void Power_zero_has_gradient_zero_also_at_zero()
    {
        // x^0 = 1 is constant, so d/dx = 0 everywhere, x = 0 included.
        var x = new Variable(new[] { 0.0, 3.0, -2.0 });
        var y = Autograd.Power(x, 0);
        Assert.Equal(new[] { 1.0, 1.0, 1.0 }, y.ToArray());
        y.Backward();
        Assert.Equal(new[] { 0.0, 0.0, 0.0 }, Check.GradOf(x).ToArray());
    }

    [Fact]
    public void Power_with_a_fractional_exponent_uses_the_power_rule()
    {
        // y = x^0.5, dy/dx = 0.5 x^-0.5 = 0.25 at x = 4.
        var x = new Variable(4.0);
        var y = Autograd.Power(x, 0.5);
        Assert.Equal(2.0, y.Item(), Tolerance);
        y.Backward();
        Assert.Equal(0.25, Check.GradOf(x).Item(), Tolerance);
    }

    [Fact]
    public void Sigmoid_is_stable_at_plus_and_minus_a_thousand()
    {
        // σ(-1000) = 0, σ(1000) = 1, σ' = σ(1 - σ) = 0 at both; no NaN.
        var x = new Variable(new[] { -1000.0, 1000.0 });
        var y = Autograd.Sigmoid(x);
        Assert.Equal(new[] { 0.0, 1.0 }, y.ToArray());
        y.Backward();
        var g = Check.GradOf(x).ToArray();
        Assert.All(g, v => Assert.False(double.IsNaN(v)));
        Assert.Equal(new[] { 0.0, 0.0 }, g);
    }

    [Fact]
    public void Divide_gradients_stay_finite_for_huge_operands()
    {
        // z = a / b at a = b = 1e200: dz/da = 1/b = 1e-200, dz/db = -a/b^2 = -1e-200 (b^2 would overflow).
        var a = new Variable(1e200);
        var b = new Variable(1e200);
        var z = a / b;
        Assert.Equal(1.0, z.Item());
        z.Backward();
        var ga = Check.GradOf(a).Item();
        var gb = Check.GradOf(b).Item();
        Assert.True(double.IsFinite(ga), $"dz/da = {ga}");
        Assert.True(double.IsFinite(gb), $"dz/db = {gb}");
        Check.Relative(1e-200, ga, 1e-12);
        Check.Relative(-1e-200, gb, 1e-12);
    }

    // ---------------------------------------------------------------- numbers and dtypes

    [Fact]
    public void A_double_converts_implicitly_to_a_constant_variable()
    {
        Variable c = 2.5;
        Assert.False(c.RequiresGrad);
        Assert.True(c.IsLeaf);
        Assert.Equal(2.5, c.Item());
        Assert.Equal(DType.Float64, c.DType);
        Assert.Equal(Shape.Scalar, c.Shape);

        // The conversion also applies to free-function arguments: y = 4x, dy/dx = 4.
        var x = new Variable(1.0);
        var y = Autograd.Multiply(4.0, x);
        y.Backward();
        Assert.Equal(4.0, Check.GradOf(x).Item());
    }

    [Fact]
    public void A_float32_variable_stays_float32_with_a_double_constant()
    {
        var x = new Variable(new float[] { 1, 2 });
        Assert.Equal(DType.Float32, (x * 2.0).DType);
        Assert.Equal(DType.Float32, (2.0 * x).DType);
        Assert.Equal(DType.Float32, (x + 1.0).DType);
        Assert.Equal(DType.Float32, (x - 1.0).DType);
        Assert.Equal(DType.Float32, (x / 2.0).DType);
        Assert.Equal(DType.Float32, (1.0 / x).DType);
        Assert.Equal(new[] { 2.0, 4.0 }, (x * 2.0).ToArray());
    }

    [Fact]
    public void A_float64_scalar_variable_does_not_promote_a_float32_vector()
    {
        var x = new Variable(new float[] { 1, 2 });
        var s = new Variable(3.0);
        var y = x * s;
        Assert.Equal(DType.Float32, y.DType);
        Autograd.SumAll(y).Backward();
        // d/ds Σ x_i s = Σ x_i = 3; d/dx_i = s = 3.
        Assert.Equal(3.0, Check.GradOf(s).Item(), 1e-6);
        Assert.Equal(DType.Float64, Check.GradOf(s).DType);
        Assert.Equal(new[] { 3.0, 3.0 }, Check.GradOf(x).ToArray());
        Assert.Equal(DType.Float32, Check.GradOf(x).DType);
    }

    [Fact]
    public void Float32_plus_float64_promotes_to_float64_and_gradients_keep_each_input_dtype()
    {
        var a = new Variable(new float[] { 1, 2 });
        var b = new Variable(new double[] { 0.5, 0.25 });
        var y = a + b;
        Assert.Equal(DType.Float64, y.DType);
        Assert.Equal(new[] { 1.5, 2.25 }, y.ToArray());
        y.Backward();
        Assert.Equal(DType.Float32, Check.GradOf(a).DType);
        Assert.Equal(DType.Float64, Check.GradOf(b).DType);
        Assert.Equal(new[] { 1.0, 1.0 }, Check.GradOf(a).ToArray());
        Assert.Equal(new[] { 1.0, 1.0 }, Check.GradOf(b).ToArray());
    }

    [Fact]
    public void A_float32_computation_keeps_float32_gradients()
    {
        // y = Σ x^2, dy/dx = 2x.
        var x = new Variable(new float[] { 1.5f, -2f });
        var y = Autograd.SumAll(x * x);
        Assert.Equal(DType.Float32, y.DType);
        y.Backward();
        Assert.Equal(DType.Float32, Check.GradOf(x).DType);
        Assert.Equal(new[] { 3.0, -4.0 }, Check.GradOf(x).ToArray());
    }

    // ---------------------------------------------------------------- broadcasting

    [Fact]
    public void Broadcasting_a_row_over_a_matrix_sums_its_gradient_back_to_the_row_shape()
    {
        // y = m + r with m [2, 3], r [3]: dΣy/dm = 1 everywhere; dΣy/dr_j = 2 (one per row).
        var m = new Variable(new[,] { { 1.0, 2.0, 3.0 }, { 4.0, 5.0, 6.0 } });
        var r = new Variable(new[] { 10.0, 20.0, 30.0 });
        var y = m + r;
        Assert.Equal(Shape.Of(2, 3), y.Shape);
        Assert.Equal(new[] { 11.0, 22.0, 33.0, 14.0, 25.0, 36.0 }, y.ToArray());
        y.Backward();
        Assert.Equal(Shape.Of(3), Check.GradOf(r).Shape);
        Assert.Equal(new[] { 2.0, 2.0, 2.0 }, Check.GradOf(r).ToArray());
        Assert.Equal(Shape.Of(2, 3), Check.GradOf(m).Shape);
        Assert.Equal(new[] { 1.0, 1.0, 1.0, 1.0, 1.0, 1.0 }, Check.GradOf(m).ToArray());
    }

    [Fact]
    public void Broadcasting_a_column_multiplies_and_sums_back_along_the_rows()
    {
        // y = m ⊙ c with m [2, 3] and c [2, 1]: dΣy/dc_i = Σ_j m_ij = [6, 15]; dΣy/dm_ij = c_i.
        var m = new Variable(new[,] { { 1.0, 2.0, 3.0 }, { 4.0, 5.0, 6.0 } });
        var c = new Variable(Tensor.FromArray(new[] { 2.0, -1.0 }, 2, 1));
        var y = m * c;
        Assert.Equal(Shape.Of(2, 3), y.Shape);
        Autograd.SumAll(y).Backward();
        Assert.Equal(Shape.Of(2, 1), Check.GradOf(c).Shape);
        Assert.Equal(new[] { 6.0, 15.0 }, Check.GradOf(c).ToArray());
        Assert.Equal(new[] { 2.0, 2.0, 2.0, -1.0, -1.0, -1.0 }, Check.GradOf(m).ToArray());
    }

    [Fact]
    public void A_scalar_times_a_vector_gets_the_sum_of_the_vector_as_gradient()
    {
        // y = Σ s·v: dy/ds = Σ v = 6; dy/dv_i = s = 2.
        var s = new Variable(2.0);
        var v = new Variable(new[] { 1.0, 2.0, 3.0 });
        var y = s * v;
        Assert.Equal(Shape.Of(3), y.Shape);
        Autograd.SumAll(y).Backward();
        Assert.Equal(Shape.Scalar, Check.GradOf(s).Shape);
        Assert.Equal(6.0, Check.GradOf(s).Item());
        Assert.Equal(new[] { 2.0, 2.0, 2.0 }, Check.GradOf(v).ToArray());
    }

    [Fact]
    public void Broadcast_division_and_subtraction_reduce_gradients_to_each_operand()
    {
        // y = Σ (v / s) - Σ (v - s) with v = [2, 4], s = 2 (a 0-d operand).
        // d/ds Σ v_i / s = -Σ v_i / s^2 = -6/4 = -1.5; d/ds Σ (v_i - s) = -2, so dy/ds = -1.5 + 2 = 0.5.
        // d/dv_i = 1/s - 1 = -0.5.
        var v = new Variable(new[] { 2.0, 4.0 });
        var s = new Variable(2.0);
        var y = Autograd.SumAll(v / s) - Autograd.SumAll(v - s);
        Assert.Equal(3.0 - 2.0, y.Item(), Tolerance);
        y.Backward();
        Assert.Equal(0.5, Check.GradOf(s).Item(), Tolerance);
        Check.Close(new[] { -0.5, -0.5 }, Check.GradOf(v).ToArray(), Tolerance);
    }

    // ---------------------------------------------------------------- ToString

    [Fact]
    public void Variable_to_string_shows_the_data_requires_grad_and_grad_fn()
    {
        Assert.Equal("Variable(5, requires_grad=True)", new Variable(5.0).ToString());
        Assert.Equal("Variable(5, requires_grad=False)", new Variable(5.0, requiresGrad: false).ToString());
        var x = new Variable(new[] { 0.5, 1.0 });
        Assert.Equal("Variable([1, 2], requires_grad=True, grad_fn=multiply)", (x * 2.0).ToString());
        Assert.Equal("Variable([[1, 2], [3, 4]], requires_grad=True)", new Variable(new[,] { { 1.0, 2.0 }, { 3.0, 4.0 } }).ToString());
    }

    // ---------------------------------------------------------------- Tensor

    [Fact]
    public void Tensor_constructors_give_shape_rank_size_and_dtype()
    {
        var s = new Tensor(2.5);
        Assert.Equal(Shape.Scalar, s.Shape);
        Assert.Equal(0, s.Rank);
        Assert.Equal(1, s.Size);
        Assert.Equal(DType.Float64, s.DType);
        Assert.Equal(2.5, s.Item());

        var f = new Tensor(2.5f);
        Assert.Equal(DType.Float32, f.DType);
        Assert.Equal(2.5, f.Item());

        var v = new Tensor(new[] { 1.0, 2.0, 3.0 });
        Assert.Equal(Shape.Of(3), v.Shape);
        Assert.Equal(1, v.Rank);
        Assert.Equal(3, v.Size);

        var vf = new Tensor(new[] { 1f, 2f });
        Assert.Equal(DType.Float32, vf.DType);
        Assert.Equal(new[] { 1f, 2f }, vf.ToSingleArray());

        var m = new Tensor(new[,] { { 1.0, 2.0, 3.0 }, { 4.0, 5.0, 6.0 } });
        Assert.Equal(Shape.Of(2, 3), m.Shape);
        Assert.Equal(2, m.Rank);
        Assert.Equal(6, m.Size);
        Assert.Equal(new[] { 1.0, 2.0, 3.0, 4.0, 5.0, 6.0 }, m.ToArray());

        var mf = new Tensor(new[,] { { 1f, 2f }, { 3f, 4f } });
        Assert.Equal(DType.Float32, mf.DType);
        Assert.Equal(Shape.Of(2, 2), mf.Shape);
        Assert.Equal(4.0, mf.GetFlat(3));
    }

    [Fact]
    public void Tensor_constructors_copy_their_input()
    {
        var data = new[] { 1.0, 2.0 };
        var t = new Tensor(data);
        data[0] = 99.0;
        Assert.Equal(new[] { 1.0, 2.0 }, t.ToArray());

        var returned = t.ToArray();
        returned[1] = 99.0;
        Assert.Equal(new[] { 1.0, 2.0 }, t.ToArray());
    }

    [Fact]
    public void From_array_reshapes_row_major_data()
    {
        var t = Tensor.FromArray(new[] { 1.0, 2.0, 3.0, 4.0, 5.0, 6.0 }, 2, 3);
        Assert.Equal(Shape.Of(2, 3), t.Shape);
        Assert.Equal(DType.Float64, t.DType);
        Assert.Equal(6.0, t.GetFlat(5));
        Assert.Equal("Tensor([[1, 2, 3], [4, 5, 6]])", t.ToString());

        var f = Tensor.FromArray(new[] { 1f, 2f, 3f, 4f }, 4, 1);
        Assert.Equal(Shape.Of(4, 1), f.Shape);
        Assert.Equal(DType.Float32, f.DType);

        var scalar = Tensor.FromArray(new[] { 7.0 });
        Assert.Equal(Shape.Scalar, scalar.Shape);
        Assert.Equal(7.0, scalar.Item());
    }

    [Fact]
    public void Zeros_ones_full_and_scalar_fill_the_shape()
    {
        Assert.Equal(new[] { 0.0, 0.0, 0.0, 0.0 }, Tensor.Zeros(Shape.Of(2, 2), DType.Float64).ToArray());
        var ones = Tensor.Ones(Shape.Of(3), DType.Float32);
        Assert.Equal(DType.Float32, ones.DType);
        Assert.Equal(new[] { 1.0, 1.0, 1.0 }, ones.ToArray());
        Assert.Equal(new[] { 2.5, 2.5 }, Tensor.Full(Shape.Of(2), 2.5, DType.Float64).ToArray());
        var s = Tensor.Scalar(4.0, DType.Float32);
        Assert.Equal(Shape.Scalar, s.Shape);
        Assert.Equal(DType.Float32, s.DType);
        Assert.Equal(4.0, s.Item());
    }

    [Fact]
    public void Tensor_to_string_and_format()
    {
        Assert.Equal("Tensor([1, 2, 3])", new Tensor(new[] { 1.0, 2.0, 3.0 }).ToString());
        Assert.Equal("Tensor([1, 2], dtype=Float32)", new Tensor(new[] { 1f, 2f }).ToString());
        Assert.Equal("Tensor(5)", new Tensor(5.0).ToString());
        Assert.Equal("Tensor(0.5)", new Tensor(0.5).ToString());
        Assert.Equal("[[1, 2], [3, 4]]", new Tensor(new[,] { { 1.0, 2.0 }, { 3.0, 4.0 } }).Format());
        Assert.Equal(
            "[0, 1, 2, ..., 7, 8, 9]",
            new Tensor(Enumerable.Range(0, 10).Select(i => (double)i).ToArray()).Format());
    }

    [Fact]
    public void Tensor_conversions_between_dtypes()
    {
        var t = new Tensor(new[] { 1.5, 0.1 });
        var f = t.ToFloat32();
        Assert.Equal(DType.Float32, f.DType);
        Assert.Equal(new[] { 1.5f, 0.1f }, f.ToSingleArray());
        var back = f.ToFloat64();
        Assert.Equal(DType.Float64, back.DType);
        Assert.Equal((double)0.1f, back.GetFlat(1));
        Assert.Equal(new[] { 1.5f, 0.1f }, t.ToSingleArray());
    }

    [Fact]
    public void Tensor_operators_broadcast_and_compute_elementwise()
    {
        var m = new Tensor(new[,] { { 1.0, 2.0 }, { 3.0, 4.0 } });
        var r = new Tensor(new[] { 10.0, 20.0 });
        Assert.Equal(new[] { 11.0, 22.0, 13.0, 24.0 }, (m + r).ToArray());
        Assert.Equal(new[] { -9.0, -18.0, -7.0, -16.0 }, (m - r).ToArray());
        Assert.Equal(new[] { 10.0, 40.0, 30.0, 80.0 }, (m * r).ToArray());
        Assert.Equal(new[] { 0.1, 0.1, 0.3, 0.2 }, (m / r).ToArray());
        Assert.Equal(new[] { -1.0, -2.0, -3.0, -4.0 }, (-m).ToArray());
        Assert.Equal(Shape.Of(2, 2), (m + r).Shape);

        Assert.Equal(new[] { 3.0, 4.0, 5.0, 6.0 }, (m + 2.0).ToArray());
        Assert.Equal(new[] { 1.0, 0.0, -1.0, -2.0 }, (2.0 - m).ToArray());
        Assert.Equal(new[] { 2.0, 4.0, 6.0, 8.0 }, (2.0 * m).ToArray());
        Assert.Equal(new[] { 0.5, 1.0, 1.5, 2.0 }, (m / 2.0).ToArray());
        Assert.Equal(new[] { 12.0, 6.0, 4.0, 3.0 }, (12.0 / m).ToArray());
        Assert.Equal(new[] { 0.0, 1.0, 2.0, 3.0 }, (m - 1.0).ToArray());
    }

    [Fact]
    public void Tensor_operators_follow_the_dtype_promotion_rule()
    {
        var f = new Tensor(new[] { 1f, 2f });
        var d = new Tensor(new[] { 1.0, 2.0 });
        Assert.Equal(DType.Float32, (f * 2.0).DType);
        Assert.Equal(DType.Float32, (2.0 + f).DType);
        Assert.Equal(DType.Float64, (f + d).DType);
        Assert.Equal(DType.Float64, (d * f).DType);
        Assert.Equal(DType.Float32, (f * new Tensor(3.0)).DType);   // 0-d float64 never promotes a vector
        Assert.Equal(DType.Float64, (new Tensor(3.0) * new Tensor(2f)).DType); // both 0-d: float64
        Assert.Equal(DType.Float64, (new Tensor(new[] { 1.0 }) * new Tensor(2f)).DType);
    }

    // ---------------------------------------------------------------- Shape

    [Fact]
    public void Shape_exposes_its_dimensions()
    {
        var s = Shape.Of(2, 3, 4);
        Assert.Equal(3, s.Count);
        Assert.Equal(3, s.Rank);
        Assert.Equal(24, s.Size);
        Assert.Equal(2, s[0]);
        Assert.Equal(4, s[2]);
        Assert.Equal(new[] { 2, 3, 4 }, s.ToList());
        Assert.Equal("[2, 3, 4]", s.ToString());
        Assert.True(s.Equals(Shape.Of(2, 3, 4)));
        Assert.Equal(Shape.Of(2, 3, 4).GetHashCode(), s.GetHashCode());
        Assert.False(s.Equals(Shape.Of(2, 3)));
        Assert.False(s.Equals(Shape.Of(4, 3, 2)));

        Assert.Equal(0, Shape.Scalar.Rank);
        Assert.Equal(1, Shape.Scalar.Size);
        Assert.Equal("[]", Shape.Scalar.ToString());
        Assert.Equal(Shape.Scalar, Shape.Of());
        Assert.Equal(0, Shape.Of(3, 0).Size);
    }

    // ---------------------------------------------------------------- CollectParameters

    private sealed class Layer
    {
        public Variable Weight = new(new[] { 0.1, 0.2 });
        public Variable Bias { get; } = new(0.0);
        public Variable Frozen = new(1.0, requiresGrad: false);
        public Variable? Missing = null;
        public Variable Alias;
        public double Scale = 2.0;
        public string Name { get; } = "layer";
        private readonly Variable hidden = new(3.0);
        internal Variable Internal { get; } = new(4.0);

        public Layer() => Alias = Weight;

        public Variable Hidden => hidden;
    }

    [Fact]
    public void Collect_parameters_finds_public_fields_and_properties_that_require_grad()
    {
        var layer = new Layer();
        var parameters = Autograd.CollectParameters(layer);

        // Weight (field, also aliased by Alias), Bias (property), Hidden (public property over a private field).
        Assert.Equal(3, parameters.Count);
        Assert.Contains(parameters, p => ReferenceEquals(p, layer.Weight));
        Assert.Contains(parameters, p => ReferenceEquals(p, layer.Bias));
        Assert.Contains(parameters, p => ReferenceEquals(p, layer.Hidden));
        Assert.DoesNotContain(parameters, p => ReferenceEquals(p, layer.Frozen));
        Assert.DoesNotContain(parameters, p => ReferenceEquals(p, layer.Internal));
        Assert.Null(layer.Missing);
    }

    [Fact]
    public void Collect_parameters_lists_each_variable_once_by_reference()
    {
        var layer1 = new Layer();
        var layer2 = new Layer { Alias = layer1.Weight };
        var extra = new Variable(5.0);
        var twin = new Variable(5.0); // equal value, different variable

        var parameters = Autograd.CollectParameters(layer1, layer2, layer1, extra, twin, extra, layer1.Bias);

        Assert.Equal(parameters.Count, parameters.Distinct(ReferenceEqualityComparer.Instance).Count());
        // layer1: Weight, Bias, Hidden; layer2: its own Weight, Bias, Hidden (its Alias is layer1.Weight); extra; twin.
        Assert.Equal(3 + 3 + 2, parameters.Count);
        Assert.Contains(parameters, p => ReferenceEquals(p, extra));
        Assert.Contains(parameters, p => ReferenceEquals(p, twin));
    }

    [Fact]
    public void Collect_parameters_includes_a_variable_passed_directly_when_it_requires_grad()
    {
        var w = new Variable(1.0);
        var c = new Variable(1.0, requiresGrad: false);
        var parameters = Autograd.CollectParameters(w, c);
        Assert.Single(parameters);
        Assert.Same(w, parameters[0]);
    }

    [Fact]
    public void Collect_parameters_of_an_object_without_variables_is_empty()
    {
        Assert.Empty(Autograd.CollectParameters(new object(), "text", 42));
        Assert.Empty(Autograd.CollectParameters());
    }

    // ---------------------------------------------------------------- ClipGradients

    [Fact]
    public void Clip_gradients_returns_the_norm_before_clipping_and_scales_to_the_max()
    {
        // Gradients 3 and 4: global norm 5; clipped to max 1 they become 0.6 and 0.8.
        var a = new Variable(0.0);
        var b = new Variable(0.0);
        (3.0 * a + 4.0 * b).Backward();
        var norm = Autograd.ClipGradients(new[] { a, b }, 1.0);
        Assert.Equal(5.0, norm, Tolerance);
        Assert.Equal(0.6, Check.GradOf(a).Item(), Tolerance);
        Assert.Equal(0.8, Check.GradOf(b).Item(), Tolerance);
    }

    [Fact]
    public void Clip_gradients_uses_the_global_norm_over_all_elements()
    {
        // Gradients [1, 2] and [2]: norm √(1 + 4 + 4) = 3; clipped to 1.5 they halve.
        var a = new Variable(new[] { 0.0, 0.0 });
        var b = new Variable(new[] { 0.0 });
        a.Backward(new Variable(new[] { 1.0, 2.0 }, requiresGrad: false));
        b.Backward(new Variable(new[] { 2.0 }, requiresGrad: false));
        var norm = Autograd.ClipGradients(new[] { a, b }, maxNorm: 1.5);
        Assert.Equal(3.0, norm, Tolerance);
        Check.Close(new[] { 0.5, 1.0 }, Check.GradOf(a).ToArray(), Tolerance);
        Check.Close(new[] { 1.0 }, Check.GradOf(b).ToArray(), Tolerance);
    }

    [Fact]
    public void Clip_gradients_leaves_gradients_under_the_max_unchanged()
    {
        // Gradients 0.3 and 0.4: norm 0.5 < 1, nothing changes.
        var a = new Variable(0.0);
        var b = new Variable(0.0);
        (0.3 * a + 0.4 * b).Backward();
        var norm = Autograd.ClipGradients(new[] { a, b });
        Assert.Equal(0.5, norm, Tolerance);
        Assert.Equal(0.3, Check.GradOf(a).Item(), Tolerance);
        Assert.Equal(0.4, Check.GradOf(b).Item(), Tolerance);
    }

    [Fact]
    public void Clip_gradients_does_not_overflow_for_gradients_of_1e200()
    {
        // Gradients 1e200 and 1e200: norm √2·1e200 (squaring would overflow); clipped each is 1/√2.
        var a = new Variable(1.0);
        var b = new Variable(1.0);
        (a * 1e200 + b * 1e200).Backward();
        Assert.Equal(1e200, Check.GradOf(a).Item());
        var norm = Autograd.ClipGradients(new[] { a, b }, 1.0);
        Assert.True(double.IsFinite(norm), $"norm = {norm}");
        Check.Relative(Math.Sqrt(2) * 1e200, norm, 1e-12);
        Assert.Equal(1 / Math.Sqrt(2), Check.GradOf(a).Item(), Tolerance);
        Assert.Equal(1 / Math.Sqrt(2), Check.GradOf(b).Item(), Tolerance);
    }

    [Fact]
    public void Clip_gradients_with_a_nan_norm_leaves_gradients_unchanged()
    {
        var a = new Variable(0.0) { Grad = new Variable(double.NaN, requiresGrad: false) };
        var b = new Variable(0.0) { Grad = new Variable(10.0, requiresGrad: false) };
        var norm = Autograd.ClipGradients(new[] { a, b }, 1.0);
        Assert.True(double.IsNaN(norm));
        Assert.True(double.IsNaN(Check.GradOf(a).Item()));
        Assert.Equal(10.0, Check.GradOf(b).Item());
    }

    [Fact]
    public void Clip_gradients_with_an_infinite_norm_leaves_gradients_unchanged()
    {
        var a = new Variable(0.0) { Grad = new Variable(double.PositiveInfinity, requiresGrad: false) };
        var b = new Variable(0.0) { Grad = new Variable(10.0, requiresGrad: false) };
        var norm = Autograd.ClipGradients(new[] { a, b }, 1.0);
        Assert.Equal(double.PositiveInfinity, norm);
        Assert.Equal(double.PositiveInfinity, Check.GradOf(a).Item());
        Assert.Equal(10.0, Check.GradOf(b).Item());
    }

    [Fact]
    public void Clip_gradients_skips_variables_without_a_gradient_and_returns_zero_for_none()
    {
        var a = new Variable(0.0);
        Assert.Equal(0.0, Autograd.ClipGradients(new[] { a }));
        Assert.Null(a.Grad);
        Assert.Equal(0.0, Autograd.ClipGradients(Array.Empty<Variable>()));
    }

    [Fact]
    public void Clip_gradients_counts_a_variable_listed_twice_once()
    {
        // One gradient of 2: norm 2 (not 2√2); clipped to 1.
        var a = new Variable(0.0);
        (2.0 * a).Backward();
        var norm = Autograd.ClipGradients(new[] { a, a }, 1.0);
        Assert.Equal(2.0, norm, Tolerance);
        Assert.Equal(1.0, Check.GradOf(a).Item(), Tolerance);
    }

    [Fact]
    public void Clip_gradients_keeps_a_float32_gradient_float32()
    {
        var a = new Variable(new float[] { 0, 0 });
        a.Backward(new Variable(new float[] { 3, 4 }, requiresGrad: false));
        var norm = Autograd.ClipGradients(new[] { a }, 1.0);
        Assert.Equal(5.0, norm, 1e-6);
        Assert.Equal(DType.Float32, Check.GradOf(a).DType);
        Check.Close(new[] { 0.6, 0.8 }, Check.GradOf(a).ToArray(), 1e-6);
    }
}
