using Microsoft.FSharp.Core;
using TinyTorch.Functional;

namespace TinyTorch.Tests;

/// <summary>
/// User-defined differentiable functions: a forward, a VJP and optionally a JVP given from C#; the op then
/// works in Backward, forward mode, every core transform and higher derivatives, and registration checks
/// the rules against finite differences and the adjoint identity.
/// </summary>
public class CustomFunctionTests
{
    private static readonly Tensor[] Sample = [Tensor.FromArray([0.5, -1.25, 2.0], 3)];

    /// <summary>cube(x) = x³ with d/dx = 3x², its VJP and JVP written with Autograd ops (so they are differentiable).</summary>
    private static CustomFunction Cube(
        Func<Variable, Variable>? slope = null,
        bool withJvp = true,
        double jvpFactor = 3.0,
        Tensor[]? sampleInputs = null,
        bool check = false)
    {
        slope ??= x => 3.0 * x * x;
        return Autograd.DefineFunction(
            "cube",
            v => v[0] * v[0] * v[0],
            (x, _, g) => [g * slope(x[0])],
            withJvp ? (x, _, t) => t[0] * (jvpFactor * x[0] * x[0]) : null,
            sampleInputs,
            check);
    }

    private static FSharpFunc<Node, Node> Core(Func<Variable, Variable> f) =>
        FuncConvert.FromFunc((Node x) => f(Variable.FromNode(x)).Node);

    [Fact]
    public void A_custom_function_backpropagates_through_its_vjp()
    {
        // y = Σ x³, so dy/dx = 3x².
        var cube = Cube();
        var x = new Variable(new[] { 1.0, -2.0, 0.5 });
        var y = cube.Apply(x);
        Assert.Equal([1.0, -8.0, 0.125], y.ToArray());
        Assert.Equal("cube", y.GradFn!.Name);
        Assert.Equal("cube", cube.Name);
        Assert.True(cube.HasJvp);
        Autograd.SumAll(y).Backward();
        Check.Close([3.0, 12.0, 0.75], x.Grad!.ToArray());
    }

    [Fact]
    public void The_vjp_written_with_autograd_ops_is_itself_differentiable()
    {
        // d/dx Σ (d/dx x³) = d/dx Σ 3x² = 6x: reverse mode over reverse mode through the custom VJP.
        var cube = Cube();
        var f = Core(x => Autograd.SumAll(cube.Apply(x)));
        var gradSum = FuncConvert.FromFunc((Node x) => NodeModule.sumAll(Transforms.grad(f, x)));
        var second = Transforms.grad(gradSum, NodeModule.constant(Tensor.FromArray([1.0, -2.0], 2)));
        Check.Close([6.0, -12.0], second.Value.ToArray());
    }

    [Fact]
    public void The_vjp_records_its_graph_when_asked_even_inside_no_grad()
    {
        // The core decides what the rule records (create_graph), not the caller's NoGrad scope.
        var cube = Cube();
        var x = new Variable(new[] { 1.0, 2.0 });
        var y = Autograd.SumAll(cube.Apply(x));
        using (Autograd.NoGrad())
        {
            var g = Reverse.gradientsWith(true, NodeModule.constant(new Tensor(1.0)), y.Node)[x];
            Assert.True(g.RequiresGrad);
            Check.Close([3.0, 12.0], g.Value.ToArray());
        }
    }

    [Fact]
    public void The_custom_function_works_in_forward_mode_and_the_jacobian_transforms()
    {
        var cube = Cube();
        var f = Core(v => cube.Apply(v));
        var x = NodeModule.constant(Tensor.FromArray([1.0, -2.0], 2));
        // jvp: d/dε cube(x + ε t) = 3x² · t, through the custom JVP.
        var (value, tangent) = Transforms.jvp(f, x, NodeModule.constant(Tensor.FromArray([1.0, 0.5], 2)));
        Assert.Equal([1.0, -8.0], value.Value.ToArray());
        Check.Close([3.0, 6.0], tangent.Value.ToArray());
        // Both Jacobians are diag(3x²).
        Check.Close([3.0, 0.0, 0.0, 12.0], Transforms.jacrev(f, x).Value.ToArray());
        Check.Close([3.0, 0.0, 0.0, 12.0], Transforms.jacfwd(f, x).Value.ToArray());
        // The Hessian of Σ x³ is diag(6x).
        Check.Close([6.0, 0.0, 0.0, -12.0], Transforms.hessian(Core(v => Autograd.SumAll(cube.Apply(v))), x).Value.ToArray());
    }

    [Fact]
    public void Forward_mode_through_a_function_without_a_jvp_throws_naming_it()
    {
        var cube = Cube(withJvp: false);
        Assert.False(cube.HasJvp);
        var ex = Assert.Throws<NotSupportedException>(() =>
            Transforms.jvp(Core(v => cube.Apply(v)), NodeModule.constant(new Tensor(2.0)), NodeModule.constant(new Tensor(1.0))));
        Assert.Contains("cube", ex.Message);
        // Reverse mode still works: d/dx x³ = 3x² = 12 at 2.
        var x = new Variable(2.0);
        cube.Apply(x).Backward();
        Assert.Equal(12.0, x.Grad!.Item());
    }

    [Fact]
    public void Registration_with_sample_inputs_accepts_correct_rules()
    {
        var cube = Cube(sampleInputs: Sample, check: true);
        Assert.Equal("cube", cube.Name);
        // Without a JVP the adjoint identity is skipped; the finite-difference checks still run.
        Assert.Equal("cube", Cube(withJvp: false, sampleInputs: Sample, check: true).Name);
    }

    [Fact]
    public void Registration_rejects_a_wrong_vjp_listing_the_finite_difference_mismatches()
    {
        // The VJP claims 2x² instead of 3x².
        var ex = Assert.Throws<GradientCheckException>(() => Cube(slope: x => 2.0 * x * x, withJvp: false, sampleInputs: Sample, check: true));
        var elements = ex.Mismatches.Where(m => m.Check == "finite-difference").Select(m => m.Element).ToArray();
        Assert.Equal([0, 1, 2], elements);
        Assert.Contains(ex.Mismatches, m => m.Check == "random-direction");
        Assert.Contains("finite-difference check failed at input 0", ex.Message);
        Assert.Contains("element 1", ex.Message);
    }

    [Fact]
    public void Registration_rejects_a_jvp_that_disagrees_with_the_vjp_by_the_adjoint_identity()
    {
        // The VJP is right; the JVP claims 2x² instead of 3x².
        var ex = Assert.Throws<GradientCheckException>(() => Cube(jvpFactor: 2.0, sampleInputs: Sample, check: true));
        Assert.Equal(["adjoint"], ex.Mismatches.Select(m => m.Check).ToArray());
    }

    [Fact]
    public void With_checking_off_a_wrong_vjp_is_accepted()
    {
        var wrong = Cube(slope: x => 2.0 * x * x, sampleInputs: Sample, check: false);
        Assert.Equal("cube", wrong.Name);
    }

    [Fact]
    public void Checking_is_on_by_default_in_debug_builds()
    {
        static CustomFunction Define() => Autograd.DefineFunction(
            "cube", v => v[0] * v[0] * v[0], (x, _, g) => [g * x[0] * x[0]], sampleInputs: Sample);
#if DEBUG
        Assert.Throws<GradientCheckException>(Define);
#else
        Assert.Equal("cube", Define().Name);
#endif
    }

    [Fact]
    public void A_function_of_two_inputs_may_give_no_gradient_to_one_of_them()
    {
        // scale(x, s) = x · s with s treated as a constant: d/dx = s, and s gets zeros.
        var scale = Autograd.DefineFunction(
            "scale",
            v => v[0] * v[1],
            (x, _, g) => [g * x[1], null],
            (x, _, t) => t[0] * x[1]);
        var x = new Variable(new[] { 1.0, 2.0 });
        var s = new Variable(new[] { 3.0, -1.0 });
        Autograd.SumAll(scale.Apply(x, s)).Backward();
        Assert.Equal([3.0, -1.0], x.Grad!.ToArray());
        Assert.Equal([0.0, 0.0], s.Grad!.ToArray());
    }

    [Fact]
    public void A_vjp_of_the_wrong_shape_throws_naming_the_function_and_changes_no_grad()
    {
        var broken = Autograd.DefineFunction("broken", v => v[0], (_, _, g) => [Autograd.SumAll(g)], check: false);
        var x = new Variable(new[] { 1.0, 2.0 });
        var ex = Assert.Throws<InvalidOperationException>(() => Autograd.SumAll(broken.Apply(x)).Backward());
        Assert.Contains("broken", ex.Message);
        Assert.Contains("[]", ex.Message);
        Assert.Contains("[2]", ex.Message);
        Assert.Null(x.Grad);
    }

    [Fact]
    public void A_vjp_returning_the_wrong_number_of_gradients_throws_naming_the_function()
    {
        var broken = Autograd.DefineFunction("two_for_one", v => v[0], (_, _, g) => [g, g], check: false);
        var ex = Assert.Throws<InvalidOperationException>(() => broken.Apply(new Variable(1.0)).Backward());
        Assert.Contains("two_for_one", ex.Message);
        Assert.Contains("2 gradients for 1 inputs", ex.Message);
    }

    [Fact]
    public void A_float64_gradient_for_a_float32_input_is_cast_to_float32()
    {
        var widen = Autograd.DefineFunction("widen", v => v[0], (x, _, g) => [new Variable(Tensor.Ones(x[0].Shape, DType.Float64), requiresGrad: false)], check: false);
        var x = new Variable(new[] { 1f, 2f });
        Autograd.SumAll(widen.Apply(x)).Backward();
        Assert.Equal(DType.Float32, x.Grad!.DType);
    }

    [Fact]
    public void Bad_definitions_and_inputs_throw_before_anything_is_recorded()
    {
        Assert.Throws<ArgumentException>(() => Autograd.DefineFunction(" ", v => v[0], (_, _, g) => [g]));
        Assert.Throws<ArgumentNullException>(() => Autograd.DefineFunction("f", null!, (_, _, g) => [g]));
        Assert.Throws<ArgumentNullException>(() => Autograd.DefineFunction("f", v => v[0], null!));
        Assert.Throws<ArgumentNullException>(() => Autograd.DefineFunction("f", v => v[0], (_, _, g) => [g], sampleInputs: [null!], check: true));
        var identity = Autograd.DefineFunction("identity", v => v[0], (_, _, g) => [g], check: false);
        Assert.Throws<ArgumentNullException>(() => identity.Apply(null!));
        Assert.Throws<ArgumentNullException>(() => identity.Apply(new Variable(1.0), null!));
        var labels = new Variable(new Tensor(new long[] { 1, 2 }), requiresGrad: false);
        Assert.Contains("identity", Assert.Throws<ArgumentException>(() => identity.Apply(labels)).Message);
    }

    [Fact]
    public void A_custom_function_inside_a_checkpoint_gives_the_same_gradient()
    {
        // y = Σ cube(x)·w, so dy/dx = 3x²·w and dy/dw = x³.
        var cube = Cube();
        var x = new Variable(new[] { 1.0, 2.0 });
        var w = new Variable(new[] { 0.5, -1.0 });
        Autograd.SumAll(Autograd.Checkpoint(v => cube.Apply(v[0]) * v[1], x, w)).Backward();
        Check.Close([1.5, -12.0], x.Grad!.ToArray());
        Check.Close([1.0, 8.0], w.Grad!.ToArray());
    }
}
