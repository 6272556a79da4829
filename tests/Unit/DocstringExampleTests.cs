namespace TinyTorch.Tests;

/// <summary>
/// Every EXAMPLE block (and worked example) of the Python course module, each with the free
/// functions and again with the C# operators.
/// </summary>
public class DocstringExampleTests
{
    private const double Tolerance = 1e-12;

    // Variable.__init__: Variable(5.0) wraps Tensor(5.0); Variable([1, 2, 3]) wraps Tensor([1, 2, 3]).
    [Fact]
    public void Variable_of_five_wraps_a_scalar_tensor_of_five()
    {
        var v = new Variable(5.0);
        Assert.Equal(5.0, v.Data.Item());
        Assert.Equal(Shape.Scalar, v.Shape);
        Assert.Equal(0, v.Data.Rank);
        Assert.True(v.RequiresGrad);
        Assert.Null(v.Grad);
        Assert.True(v.IsLeaf);
        Assert.Null(v.GradFn);
    }

    [Fact]
    public void Variable_of_one_two_three_wraps_a_vector_tensor()
    {
        var v = new Variable(new[] { 1.0, 2.0, 3.0 });
        Assert.Equal(new[] { 1.0, 2.0, 3.0 }, v.Data.ToArray());
        Assert.Equal(Shape.Of(3), v.Shape);
        Assert.Equal(3, v.Size);
        Assert.Equal("Tensor([1, 2, 3])", v.Data.ToString());
    }

    // Variable.backward: x = Variable(5.0); y = x * 2; y.backward() gives x.grad = 2.0.
    [Fact]
    public void Backward_example_times_two_gives_gradient_two()
    {
        // y = 2x, so dy/dx = 2.
        var x = new Variable(5.0);
        var y = x * 2;
        Assert.Equal(10.0, y.Item());
        y.Backward();
        Assert.Equal(2.0, Check.GradOf(x).Item());
    }

    [Fact]
    public void Backward_example_with_the_number_on_the_left_gives_gradient_two()
    {
        // y = 2x, so dy/dx = 2.
        var x = new Variable(5.0);
        var y = 2.0 * x;
        y.Backward();
        Assert.Equal(2.0, Check.GradOf(x).Item());
    }

    // add: add(2, 3) = 5, gradients 1 and 1.
    [Fact]
    public void Add_example_two_plus_three_is_five_with_gradients_one_and_one()
    {
        // z = x + y, so dz/dx = dz/dy = 1.
        var x = new Variable(2.0);
        var y = new Variable(3.0);
        var z = Autograd.Add(x, y);
        Assert.Equal(5.0, z.Item());
        Assert.Equal("add", z.GradFn!.Name);
        z.Backward();
        Assert.Equal(1.0, Check.GradOf(x).Item());
        Assert.Equal(1.0, Check.GradOf(y).Item());

        var x2 = new Variable(2.0);
        var y2 = new Variable(3.0);
        var z2 = x2 + y2;
        Assert.Equal(5.0, z2.Item());
        z2.Backward();
        Assert.Equal(1.0, Check.GradOf(x2).Item());
        Assert.Equal(1.0, Check.GradOf(y2).Item());
    }

    // multiply: multiply(2, 3) = 6, gradients 3 and 2.
    [Fact]
    public void Multiply_example_two_times_three_is_six_with_gradients_three_and_two()
    {
        // z = x * y, so dz/dx = y = 3 and dz/dy = x = 2.
        var x = new Variable(2.0);
        var y = new Variable(3.0);
        var z = Autograd.Multiply(x, y);
        Assert.Equal(6.0, z.Item());
        Assert.Equal("multiply", z.GradFn!.Name);
        z.Backward();
        Assert.Equal(3.0, Check.GradOf(x).Item());
        Assert.Equal(2.0, Check.GradOf(y).Item());

        var x2 = new Variable(2.0);
        var y2 = new Variable(3.0);
        var z2 = x2 * y2;
        Assert.Equal(6.0, z2.Item());
        z2.Backward();
        Assert.Equal(3.0, Check.GradOf(x2).Item());
        Assert.Equal(2.0, Check.GradOf(y2).Item());
    }

    // subtract: subtract(5, 3) = 2, gradients 1 and -1.
    [Fact]
    public void Subtract_example_five_minus_three_is_two_with_gradients_one_and_minus_one()
    {
        // z = x - y, so dz/dx = 1 and dz/dy = -1.
        var x = new Variable(5.0);
        var y = new Variable(3.0);
        var z = Autograd.Subtract(x, y);
        Assert.Equal(2.0, z.Item());
        Assert.Equal("subtract", z.GradFn!.Name);
        z.Backward();
        Assert.Equal(1.0, Check.GradOf(x).Item());
        Assert.Equal(-1.0, Check.GradOf(y).Item());

        var x2 = new Variable(5.0);
        var y2 = new Variable(3.0);
        var z2 = x2 - y2;
        Assert.Equal(2.0, z2.Item());
        z2.Backward();
        Assert.Equal(1.0, Check.GradOf(x2).Item());
        Assert.Equal(-1.0, Check.GradOf(y2).Item());
    }

    // divide: divide(6, 2) = 3, gradients 0.5 and -1.5.
    [Fact]
    public void Divide_example_six_over_two_is_three_with_gradients_half_and_minus_one_and_a_half()
    {
        // z = x / y, so dz/dx = 1/y = 0.5 and dz/dy = -x/y^2 = -1.5.
        var x = new Variable(6.0);
        var y = new Variable(2.0);
        var z = Autograd.Divide(x, y);
        Assert.Equal(3.0, z.Item());
        Assert.Equal("divide", z.GradFn!.Name);
        z.Backward();
        Assert.Equal(0.5, Check.GradOf(x).Item(), Tolerance);
        Assert.Equal(-1.5, Check.GradOf(y).Item(), Tolerance);

        var x2 = new Variable(6.0);
        var y2 = new Variable(2.0);
        var z2 = x2 / y2;
        Assert.Equal(3.0, z2.Item());
        z2.Backward();
        Assert.Equal(0.5, Check.GradOf(x2).Item(), Tolerance);
        Assert.Equal(-1.5, Check.GradOf(y2).Item(), Tolerance);
    }

    // relu_with_grad: x = [-1, 0, 1] gives [0, 0, 1], gradient [0, 0, 1].
    [Fact]
    public void Relu_example_gives_zero_zero_one_with_gradient_zero_zero_one()
    {
        // relu'(x) = 1 for x > 0, else 0 (relu'(0) = 0).
        var x = new Variable(new[] { -1.0, 0.0, 1.0 });
        var y = Autograd.Relu(x);
        Assert.Equal(new[] { 0.0, 0.0, 1.0 }, y.ToArray());
        Assert.Equal("relu", y.GradFn!.Name);
        y.Backward();
        Assert.Equal(new[] { 0.0, 0.0, 1.0 }, Check.GradOf(x).ToArray());
    }

    // sigmoid_with_grad: sigmoid(0) = 0.5, gradient 0.25.
    [Fact]
    public void Sigmoid_example_of_zero_is_half_with_gradient_a_quarter()
    {
        // σ'(x) = σ(x)(1 - σ(x)) = 0.5 · 0.5 = 0.25 at x = 0.
        var x = new Variable(0.0);
        var y = Autograd.Sigmoid(x);
        Assert.Equal(0.5, y.Item(), Tolerance);
        Assert.Equal("sigmoid", y.GradFn!.Name);
        y.Backward();
        Assert.Equal(0.25, Check.GradOf(x).Item(), Tolerance);
    }

    // power: power(2, 3) = 8, gradient 3 · 2^2 = 12.
    [Fact]
    public void Power_example_two_cubed_is_eight_with_gradient_twelve()
    {
        // y = x^3, so dy/dx = 3x^2 = 12 at x = 2.
        var x = new Variable(2.0);
        var y = Autograd.Power(x, 3);
        Assert.Equal(8.0, y.Item(), Tolerance);
        Assert.Equal("power", y.GradFn!.Name);
        y.Backward();
        Assert.Equal(12.0, Check.GradOf(x).Item(), Tolerance);
    }

    // exp: exp(1) = e ≈ 2.718, gradient e.
    [Fact]
    public void Exp_example_of_one_is_e_with_gradient_e()
    {
        // y = e^x, so dy/dx = e^x = e at x = 1.
        var x = new Variable(1.0);
        var y = Autograd.Exp(x);
        Assert.Equal(Math.E, y.Item(), Tolerance);
        Assert.Equal("exp", y.GradFn!.Name);
        y.Backward();
        Assert.Equal(Math.E, Check.GradOf(x).Item(), Tolerance);
    }

    // log: log(2) ≈ 0.693, gradient 1/2 = 0.5.
    [Fact]
    public void Log_example_of_two_is_ln_two_with_gradient_half()
    {
        // y = ln x, so dy/dx = 1/x = 0.5 at x = 2.
        var x = new Variable(2.0);
        var y = Autograd.Log(x);
        Assert.Equal(Math.Log(2.0), y.Item(), Tolerance);
        Assert.Equal(0.693, y.Item(), 1e-3);
        Assert.Equal("log", y.GradFn!.Name);
        y.Backward();
        Assert.Equal(0.5, Check.GradOf(x).Item(), Tolerance);
    }

    // sum_all: [[1, 2], [3, 4]] sums to 10, gradient [[1, 1], [1, 1]].
    [Fact]
    public void Sum_all_example_is_ten_with_gradient_of_ones()
    {
        // y = Σ x_ij, so dy/dx_ij = 1.
        var x = new Variable(new[,] { { 1.0, 2.0 }, { 3.0, 4.0 } });
        var y = Autograd.SumAll(x);
        Assert.Equal(10.0, y.Item());
        Assert.Equal(Shape.Scalar, y.Shape);
        Assert.Equal("sum_all", y.GradFn!.Name);
        y.Backward();
        Assert.Equal(Shape.Of(2, 2), Check.GradOf(x).Shape);
        Assert.Equal(new[] { 1.0, 1.0, 1.0, 1.0 }, Check.GradOf(x).ToArray());
    }

    // mean: [[1, 2], [3, 4]] has mean 2.5, gradient [[0.25, 0.25], [0.25, 0.25]].
    [Fact]
    public void Mean_example_is_two_and_a_half_with_gradient_of_quarters()
    {
        // y = (1/n) Σ x_ij, so dy/dx_ij = 1/n = 0.25.
        var x = new Variable(new[,] { { 1.0, 2.0 }, { 3.0, 4.0 } });
        var y = Autograd.Mean(x);
        Assert.Equal(2.5, y.Item(), Tolerance);
        Assert.Equal(Shape.Scalar, y.Shape);
        y.Backward();
        Assert.Equal(Shape.Of(2, 2), Check.GradOf(x).Shape);
        Check.Close(new[] { 0.25, 0.25, 0.25, 0.25 }, Check.GradOf(x).ToArray(), Tolerance);
    }

    // Step 1 worked example: f(x, y) = (x + y) * (x - y) at x = 3, y = 2 is 5, df/dx = 6, df/dy = -4.
    [Fact]
    public void Worked_example_sum_times_difference_gives_six_and_minus_four()
    {
        // f = x^2 - y^2, so df/dx = 2x = 6 and df/dy = -2y = -4.
        var x = new Variable(3.0);
        var y = new Variable(2.0);
        var output = (x + y) * (x - y);
        Assert.Equal(5.0, output.Item());
        output.Backward();
        Assert.Equal(6.0, Check.GradOf(x).Item());
        Assert.Equal(-4.0, Check.GradOf(y).Item());
    }

    // Module summary: x = 2; y = x**2 + 3*x + 1; y.backward().
    [Fact]
    public void Summary_example_square_plus_three_x_plus_one_has_gradient_seven()
    {
        // y = x^2 + 3x + 1 = 11 at x = 2, so dy/dx = 2x + 3 = 7.
        var x = new Variable(2.0, requiresGrad: true);
        var y = Autograd.Power(x, 2) + 3 * x + 1;
        Assert.Equal(11.0, y.Item(), Tolerance);
        y.Backward();
        Assert.Equal(7.0, Check.GradOf(x).Item(), Tolerance);

        var x2 = new Variable(2.0, requiresGrad: true);
        var y2 = Autograd.Add(Autograd.Add(Autograd.Power(x2, 2), Autograd.Multiply(3.0, x2)), 1.0);
        Assert.Equal(11.0, y2.Item(), Tolerance);
        y2.Backward();
        Assert.Equal(7.0, Check.GradOf(x2).Item(), Tolerance);
    }

    // Operators in one expression.
    [Fact]
    public void Operators_x_times_y_plus_three_give_the_product_rule_gradients()
    {
        // z = x·y + 3 = 9 at (2, 3), so dz/dx = y = 3 and dz/dy = x = 2.
        var x = new Variable(2.0);
        var y = new Variable(3.0);
        var z = x * y + 3.0;
        Assert.Equal(9.0, z.Item());
        Assert.Equal("add", z.GradFn!.Name);
        z.Backward();
        Assert.Equal(3.0, Check.GradOf(x).Item());
        Assert.Equal(2.0, Check.GradOf(y).Item());
    }

    [Fact]
    public void Operators_with_numbers_on_both_sides_give_the_expected_gradients()
    {
        // z = (10 - x) / 2 + 6 / x - x * 0.5 at x = 2: 4 + 3 - 1 = 6;
        // dz/dx = -1/2 - 6/x^2 - 0.5 = -0.5 - 1.5 - 0.5 = -2.5.
        var x = new Variable(2.0);
        var z = (10.0 - x) / 2.0 + 6.0 / x - x * 0.5;
        Assert.Equal(6.0, z.Item(), Tolerance);
        z.Backward();
        Assert.Equal(-2.5, Check.GradOf(x).Item(), Tolerance);
    }

    // The "before autograd" example: a two-layer sigmoid network, manual chain rule vs autograd.
    [Fact]
    public void Two_layer_sigmoid_network_gradients_match_the_manual_chain_rule()
    {
        const double xv = 0.5, yv = 1.0, w1v = 0.3, b1v = -0.1, w2v = 0.8, b2v = 0.2;
        static double Sigmoid(double z) => 1.0 / (1.0 + Math.Exp(-z));

        // Manual gradients, exactly as the course's manual_gradient.
        var z1 = w1v * xv + b1v;
        var a1 = Sigmoid(z1);
        var z2 = w2v * a1 + b2v;
        var a2 = Sigmoid(z2);
        var dlossDa2 = 2 * (a2 - yv);
        var da2Dz2 = a2 * (1 - a2);
        var da1Dz1 = a1 * (1 - a1);
        var dlossDw2 = dlossDa2 * da2Dz2 * a1;
        var dlossDb2 = dlossDa2 * da2Dz2 * 1;
        var dlossDw1 = dlossDa2 * da2Dz2 * w2v * da1Dz1 * xv;
        var dlossDb1 = dlossDa2 * da2Dz2 * w2v * da1Dz1 * 1;

        // Autograd.
        var x = new Variable(xv, requiresGrad: false);
        var y = new Variable(yv, requiresGrad: false);
        var w1 = new Variable(w1v);
        var b1 = new Variable(b1v);
        var w2 = new Variable(w2v);
        var b2 = new Variable(b2v);
        var h = Autograd.Sigmoid(w1 * x + b1);
        var output = Autograd.Sigmoid(w2 * h + b2);
        var loss = Autograd.Power(output - y, 2);
        Assert.Equal(Math.Pow(a2 - yv, 2), loss.Item(), Tolerance);
        loss.Backward();

        Assert.Equal(dlossDw1, Check.GradOf(w1).Item(), Tolerance);
        Assert.Equal(dlossDb1, Check.GradOf(b1).Item(), Tolerance);
        Assert.Equal(dlossDw2, Check.GradOf(w2).Item(), Tolerance);
        Assert.Equal(dlossDb2, Check.GradOf(b2).Item(), Tolerance);
        Assert.Null(x.Grad);
        Assert.Null(y.Grad);
    }

    // clip_gradients: variables = [w1, w2, b1, b2]; clip_gradients(variables, max_norm=1.0).
    [Fact]
    public void Clip_gradients_example_scales_four_parameters_to_norm_one()
    {
        // loss = 1·w1 + 2·w2 + 2·b1 + 4·b2, so the gradients are 1, 2, 2, 4 with norm √25 = 5.
        var w1 = new Variable(1.0);
        var w2 = new Variable(1.0);
        var b1 = new Variable(1.0);
        var b2 = new Variable(1.0);
        var loss = w1 + 2 * w2 + 2 * b1 + 4 * b2;
        loss.Backward();

        var variables = new[] { w1, w2, b1, b2 };
        var norm = Autograd.ClipGradients(variables, maxNorm: 1.0);

        Assert.Equal(5.0, norm, Tolerance);
        Assert.Equal(0.2, Check.GradOf(w1).Item(), Tolerance);
        Assert.Equal(0.4, Check.GradOf(w2).Item(), Tolerance);
        Assert.Equal(0.4, Check.GradOf(b1).Item(), Tolerance);
        Assert.Equal(0.8, Check.GradOf(b2).Item(), Tolerance);
    }

    private sealed class SomeLayer
    {
        public Variable Weight = new(new[] { 0.1, 0.2 });
        public Variable Bias = new(0.0);
    }

    // collect_parameters: params = collect_parameters(layer1, layer2).
    [Fact]
    public void Collect_parameters_example_finds_the_weights_and_biases_of_two_layers()
    {
        var layer1 = new SomeLayer();
        var layer2 = new SomeLayer();
        var parameters = Autograd.CollectParameters(layer1, layer2);

        Assert.Equal(4, parameters.Count);
        Assert.Contains(parameters, p => ReferenceEquals(p, layer1.Weight));
        Assert.Contains(parameters, p => ReferenceEquals(p, layer1.Bias));
        Assert.Contains(parameters, p => ReferenceEquals(p, layer2.Weight));
        Assert.Contains(parameters, p => ReferenceEquals(p, layer2.Bias));
    }

    // zero_gradients: parameters = [w1, w2, b1, b2]; zero_gradients(parameters).
    [Fact]
    public void Zero_gradients_example_zeroes_four_parameters()
    {
        var w1 = new Variable(1.0);
        var w2 = new Variable(2.0);
        var b1 = new Variable(3.0);
        var b2 = new Variable(4.0);
        (w1 * w2 + b1 * b2).Backward();
        Assert.Equal(2.0, Check.GradOf(w1).Item());

        var parameters = new[] { w1, w2, b1, b2 };
        Autograd.ZeroGradients(parameters);

        foreach (var p in parameters)
        {
            Assert.Equal(0.0, Check.GradOf(p).Item());
        }
    }
}
