namespace TinyTorch.Tests;

/// <summary>The autograd toolbox: Grad, createGraph, the function transforms, NoGrad, Detach, RequiresGrad, RetainGrad, hooks and GradFn.Inputs.</summary>
public class ToolboxTests
{
    private const double Tolerance = 1e-9;

    private static Variable Vector(params double[] values) => new(values);

    private static Tensor T(params double[] values) => new(values);

    // ---------------------------------------------------------------- Grad

    [Fact]
    public void Grad_agrees_with_backward_and_leaves_every_grad_untouched()
    {
        // y = Σ (x·w + eˣ), so dy/dx = w + eˣ and dy/dw = x.
        var x = Vector(0.5, -1.0, 2.0);
        var w = Vector(3.0, 0.25, -2.0);
        var y = (x * w + Autograd.Exp(x)).Sum();

        var grads = Autograd.Grad(y, [x, w]);
        Assert.Null(x.Grad);
        Assert.Null(w.Grad);
        Assert.False(grads[0]!.RequiresGrad);

        y.Backward();
        Check.Close(x.Grad!.ToArray(), grads[0]!.ToArray(), Tolerance);
        Check.Close(w.Grad!.ToArray(), grads[1]!.ToArray(), Tolerance);
        Check.Close([3.0 + Math.Exp(0.5), 0.25 + Math.Exp(-1.0), -2.0 + Math.Exp(2.0)], grads[0]!.ToArray(), Tolerance);

        var before = x.Grad!.ToArray();
        Autograd.Grad(y, x);
        Assert.Equal(before, x.Grad!.ToArray());
    }

    [Fact]
    public void Grad_of_grad_with_create_graph_gives_the_second_derivative()
    {
        // y = x³ at x = 2: dy/dx = 3x² = 12, d²y/dx² = 6x = 12, d³y/dx³ = 6.
        var x = new Variable(2.0);
        var y = x * x * x;

        var dy = Autograd.Grad(y, x, createGraph: true);
        Assert.True(dy.RequiresGrad);
        Assert.NotNull(dy.GradFn);
        Assert.Equal(12.0, dy.Item(), Tolerance);

        var d2y = Autograd.Grad(dy, x, createGraph: true);
        Assert.Equal(12.0, d2y.Item(), Tolerance);
        Assert.Equal(6.0, Autograd.Grad(d2y, x).Item(), Tolerance);
        Assert.Null(x.Grad);
    }

    [Fact]
    public void Backward_with_create_graph_stores_differentiable_gradients()
    {
        // y = x³ at x = 3: x.Grad = 3x² = 27, and d(x.Grad)/dx = 6x = 18.
        var x = new Variable(3.0);
        (x * x * x).Backward(createGraph: true);

        var g = x.Grad!;
        Assert.Equal(27.0, g.Item(), Tolerance);
        Assert.True(g.RequiresGrad);
        Assert.NotNull(g.GradFn);
        Assert.Equal(18.0, Autograd.Grad(g, x).Item(), Tolerance);
    }

    [Fact]
    public void Backward_with_create_graph_accumulates_differentiably()
    {
        // Two passes of y = x² at x = 3: x.Grad = 2x + 2x = 12, whose derivative is 4.
        var x = new Variable(3.0);
        (x * x).Backward(createGraph: true);
        (x * x).Backward(createGraph: true);
        Assert.Equal(12.0, x.Grad!.Item(), Tolerance);
        Assert.Equal(4.0, Autograd.Grad(x.Grad!, x).Item(), Tolerance);
    }

    [Fact]
    public void An_unused_input_throws_naming_its_index_unless_allow_unused_gives_null()
    {
        // y = 2x does not use z.
        var x = new Variable(1.0);
        var z = new Variable(5.0);
        var y = x * 2.0;

        var ex = Assert.Throws<ArgumentException>(() => Autograd.Grad(y, [x, z]));
        Assert.Contains("input 1", ex.Message);
        Assert.Contains("allowUnused", ex.Message);

        var grads = Autograd.Grad(y, [x, z], allowUnused: true);
        Assert.Equal(2.0, grads[0]!.Item(), Tolerance);
        Assert.Null(grads[1]);
    }

    [Fact]
    public void An_input_that_does_not_require_grad_throws()
    {
        var x = new Variable(1.0);
        var c = new Variable(2.0, requiresGrad: false);
        var ex = Assert.Throws<ArgumentException>(() => Autograd.Grad(x * c, [x, c], allowUnused: true));
        Assert.Contains("input 1", ex.Message);
    }

    [Fact]
    public void An_output_that_requires_no_grad_throws()
    {
        var c = new Variable(2.0, requiresGrad: false);
        var x = new Variable(1.0);
        var ex = Assert.Throws<InvalidOperationException>(() => Autograd.Grad([x * 2.0, c * c], [x]));
        Assert.Contains("output 1", ex.Message);
    }

    [Fact]
    public void Grad_outputs_seed_a_vector_output()
    {
        // y = x² elementwise; with cotangent v the result is 2x·v.
        var x = Vector(1.0, 2.0, 3.0);
        var g = Autograd.Grad(x * x, x, gradOutput: Vector(1.0, 10.0, 100.0));
        Check.Close([2.0, 40.0, 600.0], g.ToArray(), Tolerance);

        var ex = Assert.Throws<ArgumentException>(() => Autograd.Grad(x * x, x, gradOutput: Vector(1.0, 2.0)));
        Assert.Contains("[2]", ex.Message);
        Assert.Contains("[3]", ex.Message);
    }

    [Fact]
    public void Several_outputs_sum_their_contributions()
    {
        // y1 = Σ x² (seeded with ones), y2 = 3x (seeded with [1, 2, 3]): the gradient is 2x + 3·[1, 2, 3].
        var x = Vector(1.0, -2.0, 0.5);
        var y1 = (x * x).Sum();
        var y2 = x * 3.0;

        var g = Autograd.Grad([y1, y2], [x], [null, Vector(1.0, 2.0, 3.0)])[0]!;
        Check.Close([2.0 + 3.0, -4.0 + 6.0, 1.0 + 9.0], g.ToArray(), Tolerance);

        Assert.Throws<ArgumentException>(() => Autograd.Grad([y1, y2], [x], [null]));
    }

    [Fact]
    public void Several_outputs_of_different_dtypes_and_shapes_keep_each_input_dtype()
    {
        // y1 = Σ a (float32), y2 = b² (float64 matrix): gradients ones and 2b.
        var a = new Variable(new[] { 1f, 2f });
        var b = new Variable(new[,] { { 1.0, 2.0 }, { 3.0, 4.0 } });
        var grads = Autograd.Grad([a.Sum(), (b * b).Sum()], [a, b]);
        Assert.Equal(DType.Float32, grads[0]!.DType);
        Check.Close([1.0, 1.0], grads[0]!.ToArray(), Tolerance);
        Check.Close([2.0, 4.0, 6.0, 8.0], grads[1]!.ToArray(), Tolerance);
        Assert.Equal(Shape.Of(2, 2), grads[1]!.Shape);
    }

    [Fact]
    public void Grad_with_respect_to_an_intermediate_variable_is_the_complete_gradient_reaching_it()
    {
        // h = x², y = h² + h (h used twice), so dy/dh = 2h + 1 = 19 at x = 3, and dy/dx = (2h + 1)·2x = 114.
        var x = new Variable(3.0);
        var h = x * x;
        var y = h * h + h;

        var grads = Autograd.Grad(y, [h, x]);
        Assert.Equal(19.0, grads[0]!.Item(), Tolerance);
        Assert.Equal(114.0, grads[1]!.Item(), Tolerance);
    }

    [Fact]
    public void Grad_differentiates_through_a_non_scalar_grad_output_with_create_graph()
    {
        // g = d/dx ⟨v, x²⟩ = 2x·v, so d Σg / dv = 2x.
        var x = Vector(1.0, 2.0);
        var v = Vector(3.0, 4.0);
        var g = Autograd.Grad(x * x, x, gradOutput: v, createGraph: true);
        Check.Close([6.0, 16.0], g.ToArray(), Tolerance);
        Check.Close([2.0, 4.0], Autograd.Grad(g.Sum(), v).ToArray(), Tolerance);
    }

    // ---------------------------------------------------------------- transforms

    [Fact]
    public void Jvp_is_the_directional_derivative()
    {
        // f(x) = x² elementwise: J·v = 2x·v.
        var (output, tangent) = Autograd.Jvp(x => x * x, T(1.0, 2.0, 3.0), T(1.0, 0.0, 2.0));
        Check.Close([1.0, 4.0, 9.0], output.ToArray(), Tolerance);
        Check.Close([2.0, 0.0, 12.0], tangent.ToArray(), Tolerance);

        // f(a, b) = a·b: the tangent is b·ta + a·tb.
        var (product, both) = Autograd.Jvp(xs => xs[0] * xs[1], [T(2.0, 3.0), T(5.0, 7.0)], [T(1.0, 1.0), T(10.0, 0.0)]);
        Check.Close([10.0, 21.0], product.ToArray(), Tolerance);
        Check.Close([5.0 + 20.0, 7.0], both.ToArray(), Tolerance);
    }

    [Fact]
    public void Vjp_is_the_cotangent_times_the_jacobian()
    {
        // f(x) = x² elementwise: vᵀ·J = 2x·v.
        var (output, cotangent) = Autograd.Vjp(x => x * x, T(1.0, 2.0, 3.0), T(1.0, 2.0, 3.0));
        Check.Close([1.0, 4.0, 9.0], output.ToArray(), Tolerance);
        Check.Close([2.0, 8.0, 18.0], cotangent.ToArray(), Tolerance);

        // f(a, b) = a·b, cotangent ones by default: (b, a).
        var (_, cotangents) = Autograd.Vjp(xs => xs[0] * xs[1], [T(2.0, 3.0), T(5.0, 7.0)]);
        Check.Close([5.0, 7.0], cotangents[0].ToArray(), Tolerance);
        Check.Close([2.0, 3.0], cotangents[1].ToArray(), Tolerance);
    }

    [Fact]
    public void The_jacobian_of_an_elementwise_function_is_diagonal()
    {
        // f(x) = eˣ: J = diag(eˣ).
        var j = Autograd.Jacobian(x => Autograd.Exp(x), T(0.0, 1.0));
        Assert.Equal(Shape.Of(2, 2), j.Shape);
        Check.Close([1.0, 0.0, 0.0, Math.E], j.ToArray(), Tolerance);

        // f(x) = sin x · x: J = diag(cos x · x + sin x).
        var j2 = Autograd.Jacobian(x => Autograd.Sin(x) * x, T(0.5, 2.0));
        Check.Close([Math.Cos(0.5) * 0.5 + Math.Sin(0.5), 0.0, 0.0, Math.Cos(2.0) * 2.0 + Math.Sin(2.0)], j2.ToArray(), Tolerance);
    }

    [Fact]
    public void The_jacobian_of_a_matrix_product_is_the_matrix()
    {
        // f(x) = A·x: J = A, shape [2, 3].
        var a = new Variable(new[,] { { 1.0, 2.0, 3.0 }, { 4.0, 5.0, 6.0 } }, requiresGrad: false);
        var j = Autograd.Jacobian(x => a.MatMul(x), T(1.0, 1.0, 1.0));
        Assert.Equal(Shape.Of(2, 3), j.Shape);
        Check.Close([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], j.ToArray(), Tolerance);
    }

    [Fact]
    public void The_jacobian_of_several_inputs_has_one_block_per_input()
    {
        // f(a, b) = a·b elementwise: ∂f/∂a = diag(b), ∂f/∂b = diag(a).
        var blocks = Autograd.Jacobian(xs => xs[0] * xs[1], T(2.0, 3.0), T(5.0, 7.0));
        Check.Close([5.0, 0.0, 0.0, 7.0], blocks[0].ToArray(), Tolerance);
        Check.Close([2.0, 0.0, 0.0, 3.0], blocks[1].ToArray(), Tolerance);
    }

    private static Variable Xyz(Variable v) => Autograd.Select(v, 0, 0) * Autograd.Select(v, 0, 1) * Autograd.Select(v, 0, 2);

    [Fact]
    public void The_hessian_of_xyz_is_the_other_variables_off_the_diagonal()
    {
        // f = x·y·z at (2, 3, 5): H = [[0, z, y], [z, 0, x], [y, x, 0]] = [[0, 5, 3], [5, 0, 2], [3, 2, 0]].
        var h = Autograd.Hessian(Xyz, T(2.0, 3.0, 5.0));
        Assert.Equal(Shape.Of(3, 3), h.Shape);
        Check.Close([0.0, 5.0, 3.0, 5.0, 0.0, 2.0, 3.0, 2.0, 0.0], h.ToArray(), Tolerance);
    }

    [Fact]
    public void The_hessian_of_xyz_as_three_inputs_has_scalar_blocks()
    {
        // The same Hessian, block [i][j] = ∂²f/∂xᵢ∂xⱼ, each of shape [].
        var blocks = Autograd.Hessian(xs => xs[0] * xs[1] * xs[2], new Tensor(2.0), new Tensor(3.0), new Tensor(5.0));
        double[,] expected = { { 0, 5, 3 }, { 5, 0, 2 }, { 3, 2, 0 } };
        for (var i = 0; i < 3; i++)
        {
            for (var j = 0; j < 3; j++)
            {
                Assert.Equal(Shape.Scalar, blocks[i][j].Shape);
                Assert.Equal(expected[i, j], blocks[i][j].Item(), Tolerance);
            }
        }
    }

    [Fact]
    public void The_hessian_vector_product_is_the_hessian_times_the_vector()
    {
        // H·v for f = x·y·z at (2, 3, 5), v = (1, 2, 3): [5·2 + 3·3, 5·1 + 2·3, 3·1 + 2·2] = [19, 11, 7].
        var x = T(2.0, 3.0, 5.0);
        var v = T(1.0, 2.0, 3.0);
        var hv = Autograd.Hvp(Xyz, x, v);
        Check.Close([19.0, 11.0, 7.0], hv.ToArray(), Tolerance);

        var h = Autograd.Hessian(Xyz, x).ToArray();
        var product = Enumerable.Range(0, 3).Select(i => Enumerable.Range(0, 3).Sum(j => h[3 * i + j] * v.ToArray()[j])).ToArray();
        Check.Close(product, hv.ToArray(), Tolerance);

        var blocks = Autograd.Hvp(xs => xs[0] * xs[1] * xs[2], [new Tensor(2.0), new Tensor(3.0), new Tensor(5.0)], [new Tensor(1.0), new Tensor(2.0), new Tensor(3.0)]);
        Check.Close([19.0, 11.0, 7.0], blocks.Select(b => b.Item()).ToArray(), Tolerance);
    }

    [Fact]
    public void A_transform_of_a_non_scalar_function_where_a_scalar_is_needed_throws()
    {
        Assert.Throws<ArgumentException>(() => Autograd.Hessian(x => x * x, T(1.0, 2.0)));
    }

    // ---------------------------------------------------------------- NoGrad

    [Fact]
    public void Inside_no_grad_op_results_require_no_grad_and_have_no_grad_fn()
    {
        var x = Vector(1.0, 2.0);
        Assert.True(Autograd.IsGradEnabled);
        using (Autograd.NoGrad())
        {
            Assert.False(Autograd.IsGradEnabled);
            var y = Autograd.Exp(x * 2.0 + x).Sum();
            Assert.False(y.RequiresGrad);
            Assert.Null(y.GradFn);
            Assert.True(y.IsLeaf);
            Assert.Equal(Math.Exp(3.0) + Math.Exp(6.0), y.Item(), 1e-9);

            var fresh = new Variable(1.0);
            Assert.True(fresh.RequiresGrad);
        }
        Assert.True(Autograd.IsGradEnabled);
        Assert.True((x * 2.0).RequiresGrad);
    }

    [Fact]
    public void No_grad_scopes_nest_and_enable_grad_reopens_one()
    {
        var x = new Variable(1.0);
        using (Autograd.NoGrad())
        {
            using (Autograd.NoGrad())
            {
                Assert.False(Autograd.IsGradEnabled);
            }
            Assert.False(Autograd.IsGradEnabled);
            using (Autograd.EnableGrad())
            {
                Assert.True((x * x).RequiresGrad);
            }
            Assert.False((x * x).RequiresGrad);
        }
        Assert.True(Autograd.IsGradEnabled);
    }

    [Fact]
    public void No_grad_is_restored_after_an_exception()
    {
        try
        {
            using (Autograd.NoGrad())
            {
                throw new InvalidOperationException("boom");
            }
        }
        catch (InvalidOperationException)
        {
        }
        Assert.True(Autograd.IsGradEnabled);
        Assert.True((new Variable(1.0) * 2.0).RequiresGrad);
    }

    [Fact]
    public void Disposing_a_no_grad_scope_twice_does_nothing_more()
    {
        var outer = Autograd.NoGrad();
        var inner = Autograd.NoGrad();
        inner.Dispose();
        inner.Dispose();
        Assert.False(Autograd.IsGradEnabled);
        outer.Dispose();
        Assert.True(Autograd.IsGradEnabled);
    }

    [Fact]
    public async Task No_grad_flows_into_an_async_method_and_does_not_leak_to_another_task()
    {
        var x = new Variable(2.0);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        async Task<bool> InsideNoGrad()
        {
            using (Autograd.NoGrad())
            {
                await Task.Yield();
                entered.SetResult();
                await release.Task;
                return (x * x).RequiresGrad || Autograd.IsGradEnabled;
            }
        }

        var inside = InsideNoGrad();
        await entered.Task;
        var other = await Task.Run(() => (Autograd.IsGradEnabled, (x * x).RequiresGrad));
        release.SetResult();

        Assert.False(await inside);
        Assert.Equal((true, true), other);
        Assert.True(Autograd.IsGradEnabled);
    }

    [Fact]
    public void Backward_and_the_transforms_still_work_inside_no_grad()
    {
        // y = x² at x = 3: dy/dx = 6; the Jacobian of x² at [1, 2] is diag(2, 4).
        var x = new Variable(3.0);
        var y = x * x;
        using (Autograd.NoGrad())
        {
            y.Backward();
            Assert.Equal(6.0, x.Grad!.Item(), Tolerance);
            Check.Close([2.0, 0.0, 0.0, 4.0], Autograd.Jacobian(v => v * v, T(1.0, 2.0)).ToArray(), Tolerance);
            Assert.Equal(6.0, Autograd.Grad(y, x).Item(), Tolerance);
            Assert.False(Autograd.IsGradEnabled);
        }
    }

    [Fact]
    public void Backward_inside_no_grad_still_recomputes_a_checkpointed_segment_with_its_graph()
    {
        // y = Σ checkpoint(x²) at x = [1, 2]: dy/dx = 2x; the recomputation in backward must record a graph.
        var x = Vector(1.0, 2.0);
        var y = Autograd.Checkpoint(v => v[0] * v[0], x).Sum();
        using (Autograd.NoGrad())
        {
            y.Backward();
            Check.Close([2.0, 4.0], Autograd.Grad(y, x).ToArray(), Tolerance);
        }
        Check.Close([2.0, 4.0], x.Grad!.ToArray(), Tolerance);
    }

    // ---------------------------------------------------------------- Detach and RequiresGrad

    [Fact]
    public void Detach_cuts_the_graph_and_keeps_the_value()
    {
        // y = x · stop(x) at x = 3: dy/dx = stop(x) = 3, not 2x.
        var x = new Variable(3.0);
        var d = x.Detach();
        Assert.Equal(3.0, d.Item());
        Assert.False(d.RequiresGrad);
        Assert.True(d.IsLeaf);
        Assert.Null(d.GradFn);

        (x * d).Backward();
        Assert.Equal(3.0, x.Grad!.Item(), Tolerance);

        var h = (x * x).Detach();
        Assert.False(h.RequiresGrad);
        Assert.Equal(9.0, h.Item());
    }

    [Fact]
    public void Required_grad_can_be_switched_on_and_off_on_a_leaf_keeping_its_data()
    {
        // c² at c = 2 after switching grad on: dc²/dc = 4.
        var c = new Variable(new[] { 2.0 }, requiresGrad: false);
        c.RequiresGrad = true;
        Assert.True(c.RequiresGrad);
        Assert.True(c.IsLeaf);
        Assert.Equal(new[] { 2.0 }, c.ToArray());
        (c * c).Sum().Backward();
        Assert.Equal(4.0, c.Grad!.Item(), Tolerance);

        c.RequiresGrad = false;
        Assert.False(c.RequiresGrad);
        Assert.Equal(new[] { 2.0 }, c.ToArray());
        Assert.False((c * c).RequiresGrad);
        Assert.Equal(4.0, c.Grad!.Item(), Tolerance);
    }

    [Fact]
    public void Setting_requires_grad_on_an_op_result_throws()
    {
        var x = new Variable(1.0);
        var y = x * 2.0;
        var ex = Assert.Throws<InvalidOperationException>(() => y.RequiresGrad = false);
        Assert.Contains("multiply", ex.Message);
        Assert.True(y.RequiresGrad);
    }

    [Fact]
    public void Setting_requires_grad_on_an_integer_tensor_throws_and_the_flag_stays_false()
    {
        var labels = new Variable(new Tensor(new long[] { 2, 0, 1 }), requiresGrad: false);
        var ex = Assert.Throws<InvalidOperationException>(() => labels.RequiresGrad = true);
        Assert.Contains("Only floating-point tensors can require gradients", ex.Message);
        Assert.False(labels.RequiresGrad);
        Assert.Equal(new[] { 2.0, 0.0, 1.0 }, labels.ToArray());
    }

    // ---------------------------------------------------------------- RetainGrad

    [Fact]
    public void Retain_grad_fills_the_gradient_of_an_intermediate_used_twice()
    {
        // h = x², y = h² + 2h at x = 3: dy/dh = 2h + 2 = 20, dy/dx = 20 · 2x = 120.
        var x = new Variable(3.0);
        var h = x * x;
        var unretained = x * 1.0;
        h.RetainGrad();
        Assert.True(h.RetainsGrad);
        Assert.False(unretained.RetainsGrad);
        var y = h * h + 2.0 * h + unretained;

        y.Backward();
        Assert.Equal(20.0, h.Grad!.Item(), Tolerance);
        Assert.Equal(121.0, x.Grad!.Item(), Tolerance);
        Assert.Null(unretained.Grad);

        y.Backward();
        Assert.Equal(40.0, h.Grad!.Item(), Tolerance);
    }

    [Fact]
    public void Retain_grad_on_a_variable_that_requires_no_grad_throws()
    {
        Assert.Throws<InvalidOperationException>(() => new Variable(1.0, requiresGrad: false).RetainGrad());
    }

    // ---------------------------------------------------------------- hooks

    [Fact]
    public void A_hook_doubles_the_gradient_of_a_leaf()
    {
        // y = x² at x = 3: 2x = 6, doubled 12.
        var x = new Variable(3.0);
        x.RegisterHook(g => g * 2.0);
        (x * x).Backward();
        Assert.Equal(12.0, x.Grad!.Item(), Tolerance);
    }

    [Fact]
    public void A_hook_on_an_intermediate_used_twice_sees_the_summed_gradient_once_and_changes_what_flows_back()
    {
        // h = x², y = h·3 + h at x = 2: dy/dh = 4, times 10 by the hook = 40; dy/dx = 40 · 2x = 160.
        var x = new Variable(2.0);
        var h = x * x;
        var seen = new List<double>();
        h.RegisterHook(g =>
        {
            seen.Add(g.Item());
            return g * 10.0;
        });
        h.RetainGrad();
        (h * 3.0 + h).Backward();
        Assert.Equal([4.0], seen);
        Assert.Equal(40.0, h.Grad!.Item(), Tolerance);
        Assert.Equal(160.0, x.Grad!.Item(), Tolerance);
    }

    [Fact]
    public void Disposing_the_handle_removes_the_hook()
    {
        var x = new Variable(3.0);
        var handle = x.RegisterHook(g => g * 2.0);
        handle.Dispose();
        handle.Dispose();
        (x * x).Backward();
        Assert.Equal(6.0, x.Grad!.Item(), Tolerance);
    }

    [Fact]
    public void Hooks_compose_in_registration_order()
    {
        // y = x at x = 1: gradient 1; (1 + 1)·10 = 20, not 1·10 + 1 = 11.
        var x = new Variable(1.0);
        x.RegisterHook(g => g + 1.0);
        x.RegisterHook(g => g * 10.0);
        (x * 1.0).Backward();
        Assert.Equal(20.0, x.Grad!.Item(), Tolerance);
    }

    [Fact]
    public void A_hook_returning_null_leaves_the_gradient_unchanged()
    {
        var x = new Variable(3.0);
        var calls = 0;
        x.RegisterHook(_ =>
        {
            calls++;
            return null;
        });
        (x * x).Backward();
        Assert.Equal(1, calls);
        Assert.Equal(6.0, x.Grad!.Item(), Tolerance);
    }

    [Fact]
    public void A_hook_returning_the_wrong_shape_throws_naming_the_shape_and_leaves_every_grad_unchanged()
    {
        var x = Vector(1.0, 2.0, 3.0);
        var w = Vector(4.0, 5.0, 6.0);
        var h = x * w;
        h.RetainGrad();
        h.Sum().Backward();
        var before = (x: x.Grad!.ToArray(), w: w.Grad!.ToArray(), h: h.Grad!.ToArray());

        x.RegisterHook(_ => T(1.0, 2.0));
        var ex = Assert.Throws<InvalidOperationException>(() => h.Sum().Backward());
        Assert.Contains("[3]", ex.Message);
        Assert.Contains("[2]", ex.Message);
        Assert.Equal(before.x, x.Grad!.ToArray());
        Assert.Equal(before.w, w.Grad!.ToArray());
        Assert.Equal(before.h, h.Grad!.ToArray());
    }

    [Fact]
    public void Registering_a_hook_on_a_variable_that_requires_no_grad_throws()
    {
        Assert.Throws<InvalidOperationException>(() => new Variable(1.0, requiresGrad: false).RegisterHook(g => g));
    }

    [Fact]
    public void Grad_runs_no_hooks()
    {
        var x = new Variable(3.0);
        x.RegisterHook(g => g * 2.0);
        Assert.Equal(6.0, Autograd.Grad(x * x, x).Item(), Tolerance);
    }

    // ---------------------------------------------------------------- GradFn.Inputs

    [Fact]
    public void Grad_fn_inputs_walk_from_a_loss_back_to_the_leaves()
    {
        // loss = Σ (x·w + b)², b a constant.
        var x = Vector(1.0, 2.0);
        var w = Vector(3.0, 4.0);
        var b = new Variable(new[] { 0.5, 0.5 }, requiresGrad: false);
        var loss = ((x * w + b) * (x * w + b)).Sum();

        var leaves = new List<Variable>();
        var names = new List<string>();
        var visited = new HashSet<GradFn>();
        var pending = new Stack<GradFn>([loss.GradFn!]);
        while (pending.Count > 0)
        {
            var f = pending.Pop();
            if (!visited.Add(f))
            {
                continue;
            }
            names.Add(f.Name);
            if (f.IsLeaf)
            {
                Assert.Empty(f.Inputs);
                leaves.Add(f.Variable!);
            }
            foreach (var input in f.Inputs)
            {
                if (input is not null)
                {
                    pending.Push(input);
                }
            }
        }

        Assert.Equal(2, leaves.Count);
        Assert.Contains(x, leaves);
        Assert.Contains(w, leaves);
        Assert.Equal("sum_all", names[0]);
        Assert.Contains("multiply", names);
        Assert.Contains("add", names);

        var add = (x * w + b).GradFn!;
        Assert.Equal("multiply", add.Inputs[0]!.Name);
        Assert.Null(add.Inputs[1]);
        Assert.Null(add.Variable);
        Assert.False(add.IsLeaf);
    }
}
