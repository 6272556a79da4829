using TinyTorch.Functional;
using TinyTorch.Nn;

namespace TinyTorch.Tests;

/// <summary>The <c>TinyTorch.Nn</c> modules: parameter discovery and naming, modes, initialisation and forward values.</summary>
public class NnTests
{
    /// <summary>A user-defined model: one own parameter, a list of layers, a head, and a constant that is not a parameter.</summary>
    private sealed class Model : Module
    {
        public Variable Scale { get; } = new(1.0);
        private readonly List<Linear> _layers = [new Linear(2, 3, random: new Random(0)), new Linear(3, 1, bias: false, random: new Random(1))];
        public Linear Head { get; } = new(1, 2, random: new Random(2));
        public Variable Offset { get; } = new(2.0, requiresGrad: false);

        public IReadOnlyList<Linear> Layers => _layers;

        public override Variable Forward(Variable input) =>
            Head.Forward(_layers.Aggregate(input, (x, layer) => layer.Forward(x).Relu())) * Scale + Offset;
    }

    [Fact]
    public void Nested_sequential_names_its_parameters_by_index_as_PyTorch_does()
    {
        var first = new Linear(2, 3);
        var inner = new Linear(3, 3);
        var last = new Linear(3, 1);
        var model = new Sequential(first, new ReLU(), new Sequential(inner, new Tanh()), last);

        var named = model.NamedParameters();

        Assert.Equal(["0.weight", "0.bias", "2.0.weight", "2.0.bias", "3.weight", "3.bias"], named.Select(p => p.Name));
        Assert.Equal([first.Weight, first.Bias!, inner.Weight, inner.Bias!, last.Weight, last.Bias!], named.Select(p => p.Parameter));
        Assert.Equal(named.Select(p => p.Parameter), model.Parameters());
    }

    [Fact]
    public void A_custom_module_lists_its_own_parameters_first_then_its_children_in_declaration_order()
    {
        var model = new Model();

        // Own parameters first (scale; offset does not require grad), then the children: the list's elements named
        // layers.0 and layers.1 (the leading underscore dropped), then head.
        Assert.Equal(
            ["scale", "layers.0.weight", "layers.0.bias", "layers.1.weight", "head.weight", "head.bias"],
            model.NamedParameters().Select(p => p.Name));
        Assert.Equal(["layers.0", "layers.1", "head"], model.NamedChildren().Select(c => c.Name));
        Assert.Equal(["", "layers.0", "layers.1", "head"], model.NamedModules().Select(m => m.Name));
        Assert.Same(model.Layers[1].Weight, model.NamedParameters()[3].Parameter);
    }

    [Fact]
    public void A_layer_used_twice_contributes_its_parameters_once()
    {
        var shared = new Linear(3, 3);
        var model = new Sequential(shared, new ReLU(), shared);

        Assert.Equal(["0.weight", "0.bias"], model.NamedParameters().Select(p => p.Name));
        Assert.Equal(2, model.Parameters().Count);
    }

    [Fact]
    public void Train_and_eval_reach_every_nested_module()
    {
        var random = new Random(0);
        var model = new Sequential(new Linear(2, 2), new Dropout(0.5, random), new Sequential(new Dropout(0.2, random), new ReLU()));
        Assert.All(model.Modules(), m => Assert.True(m.IsTraining));

        Assert.Same(model, model.Eval());
        Assert.Equal(6, model.Modules().Count()); // outer, Linear, Dropout, inner Sequential, Dropout, ReLU
        Assert.All(model.Modules(), m => Assert.False(m.IsTraining));

        model.Train();
        Assert.All(model.Modules(), m => Assert.True(m.IsTraining));
    }

    [Fact]
    public void Dropout_is_the_identity_in_eval_mode_and_scales_kept_elements_in_training()
    {
        var dropout = new Dropout(0.5, new Random(3));
        var x = new Variable(Tensor.Ones(Shape.Of(1000), DType.Float64));

        var trained = dropout.Forward(x).ToArray();
        // Inverted dropout: each element is 0 (dropped) or 1/(1 − 0.5) = 2 (kept).
        Assert.All(trained, v => Assert.True(v == 0.0 || v == 2.0, $"{v} is neither 0 nor 2"));
        Assert.InRange(trained.Count(v => v == 0.0), 400, 600);

        dropout.Eval();
        Assert.Equal(x.ToArray(), dropout.Forward(x).ToArray());
    }

    [Fact]
    public void Linear_weights_lie_within_one_over_root_fan_in_and_fill_that_range()
    {
        var layer = new Linear(100, 50, random: new Random(7));
        var bound = 1 / Math.Sqrt(100); // Kaiming uniform with a = √5: gain √(1/3) · √3 / √fan_in = 1/√fan_in.

        Assert.Equal(Shape.Of(50, 100), layer.Weight.Shape);
        Assert.Equal(Shape.Of(50), layer.Bias!.Shape);
        var w = layer.Weight.ToArray();
        var b = layer.Bias.ToArray();
        Assert.All(w, v => Assert.InRange(v, -bound, bound));
        Assert.All(b, v => Assert.InRange(v, -bound, bound));
        Assert.True(w.Max() > 0.95 * bound && w.Min() < -0.95 * bound, "the weights should spread over the whole range");
        Assert.InRange(w.Average(), -0.01, 0.01);
        Assert.True(layer.Weight.IsLeaf && layer.Weight.RequiresGrad);
    }

    [Fact]
    public void Linear_draws_the_weight_then_the_bias_from_the_generator_given()
    {
        var layer = new Linear(5, 3, dtype: DType.Float64, random: new Random(11));
        var random = new Random(11);
        var bound = 1 / Math.Sqrt(5);
        var expectedWeight = Enumerable.Range(0, 15).Select(_ => -bound + 2 * bound * random.NextDouble()).ToArray();
        var expectedBias = Enumerable.Range(0, 3).Select(_ => -bound + 2 * bound * random.NextDouble()).ToArray();

        Check.Close(expectedWeight, layer.Weight.ToArray(), 1e-12, "weight");
        Check.Close(expectedBias, layer.Bias!.ToArray(), 1e-12, "bias");
    }

    [Fact]
    public void The_same_seed_gives_the_same_weights_and_another_seed_different_ones()
    {
        var a = new Linear(4, 3, random: new Random(42));
        var b = new Linear(4, 3, random: new Random(42));
        var c = new Linear(4, 3, random: new Random(43));

        Assert.Equal(a.Weight.ToArray(), b.Weight.ToArray());
        Assert.Equal(a.Bias!.ToArray(), b.Bias!.ToArray());
        Assert.NotEqual(a.Weight.ToArray(), c.Weight.ToArray());
    }

    [Fact]
    public void Linear_computes_x_times_w_transposed_plus_b_and_its_gradients()
    {
        var layer = new Linear(3, 2, dtype: DType.Float64);
        layer.Weight.Data = new Tensor(new double[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        layer.Bias!.Data = new Tensor(new[] { 0.5, -1.0 });
        var x = new Variable(new double[,] { { 1, 0, -1 }, { 2, 1, 0 } }, requiresGrad: false);

        var y = layer.Forward(x);

        // Row 1: [1 − 3, 4 − 6] + b = [−1.5, −3]; row 2: [2 + 2, 8 + 5] + b = [4.5, 12].
        Assert.Equal(Shape.Of(2, 2), y.Shape);
        Check.Close([-1.5, -3.0, 4.5, 12.0], y.ToArray());

        // L = Σ y: dL/dW[o, i] = Σ_n x[n, i] = [3, 1, −1] for each output o; dL/db = [2, 2] (two samples).
        y.Sum().Backward();
        Check.Close([3, 1, -1, 3, 1, -1], Check.GradOf(layer.Weight).ToArray());
        Check.Close([2, 2], Check.GradOf(layer.Bias).ToArray());
    }

    [Fact]
    public void Linear_without_bias_has_only_a_weight()
    {
        var layer = new Linear(2, 2, bias: false, dtype: DType.Float64);
        layer.Weight.Data = new Tensor(new double[,] { { 1, 2 }, { 3, 4 } });

        Assert.Null(layer.Bias);
        Assert.Equal(["weight"], layer.NamedParameters().Select(p => p.Name));
        Check.Close([5, 11], layer.Forward(new Variable(new[] { 1.0, 2.0 }, requiresGrad: false)).ToArray());
    }

    [Fact]
    public void Parameters_are_float32_by_default_and_float64_on_request()
    {
        var single = new Linear(3, 2);
        var dbl = new Linear(3, 2, dtype: DType.Float64);

        Assert.All(single.Parameters(), p => Assert.Equal(DType.Float32, p.DType));
        Assert.All(dbl.Parameters(), p => Assert.Equal(DType.Float64, p.DType));
        Assert.Equal(DType.Float32, single.Forward(new Variable(new float[,] { { 1, 2, 3 } }, requiresGrad: false)).DType);
        Assert.Equal(DType.Float64, dbl.Forward(new Variable(new double[,] { { 1, 2, 3 } }, requiresGrad: false)).DType);
    }

    [Fact]
    public void CollectParameters_finds_the_parameters_of_modules_given_directly_or_held_in_properties()
    {
        var net = new Sequential(new Linear(2, 3), new ReLU(), new Linear(3, 1));
        var extra = new Variable(1.0);
        var holder = new { Net = net, Extra = extra };

        Assert.Equal(net.Parameters(), Autograd.CollectParameters(net));
        Assert.Equal(net.Parameters().Append(extra), Autograd.CollectParameters(holder));
        Assert.Equal(net.Parameters().Append(extra), Autograd.CollectParameters(net, extra, holder));
    }

    [Fact]
    public void ZeroGrad_clears_every_parameter_gradient_to_null_or_to_zeros()
    {
        var model = new Sequential(new Linear(2, 3, dtype: DType.Float64), new Tanh(), new Linear(3, 1, dtype: DType.Float64));
        model.Forward(new Variable(new double[,] { { 1, 2 } }, requiresGrad: false)).Sum().Backward();
        Assert.All(model.Parameters(), p => Assert.NotNull(p.Grad));

        model.ZeroGrad(setToNone: false);
        Assert.All(model.Parameters(), p => Assert.All(p.Grad!.ToArray(), g => Assert.Equal(0.0, g)));

        model.ZeroGrad();
        Assert.All(model.Parameters(), p => Assert.Null(p.Grad));
    }

    [Fact]
    public void Activation_modules_apply_the_matching_function()
    {
        var x = new Variable(new[] { -1.5, 0.0, 0.7 }, requiresGrad: false);

        Check.Close([0, 0, 0.7], new ReLU().Forward(x).ToArray());
        Check.Close(Autograd.Tanh(x).ToArray(), new Tanh().Forward(x).ToArray());
        Check.Close(Autograd.Sigmoid(x).ToArray(), new Sigmoid().Forward(x).ToArray());
        Check.Close(Autograd.Gelu(x).ToArray(), new Gelu().Forward(x).ToArray());
        Check.Close(Autograd.Gelu(x, tanhApproximation: true).ToArray(), new Gelu(tanhApproximation: true).Forward(x).ToArray());
        Assert.Empty(new ReLU().Parameters());
    }

    [Fact]
    public void Flatten_keeps_the_batch_dimension_by_default()
    {
        var x = new Variable(Tensor.Zeros(Shape.Of(2, 3, 4), DType.Float32), requiresGrad: false);

        Assert.Equal(Shape.Of(2, 12), new Flatten().Forward(x).Shape);
        Assert.Equal(Shape.Of(24), new Flatten(0).Forward(x).Shape);
        Assert.Equal(Shape.Of(6, 4), new Flatten(0, 1).Forward(x).Shape);
    }

    [Fact]
    public void Modules_print_as_PyTorch_prints_them()
    {
        var model = new Sequential(new Linear(4, 16), new ReLU(), new Dropout(0.25, new Random(0)), new Linear(16, 3, bias: false));

        Assert.Equal(
            "Sequential(\n  (0): Linear(in_features=4, out_features=16, bias=True)\n  (1): ReLU()\n  (2): Dropout(p=0.25)\n  (3): Linear(in_features=16, out_features=3, bias=False)\n)",
            model.ToString());
    }

    [Fact]
    public void Bad_module_arguments_throw_naming_the_argument()
    {
        Assert.Equal("inFeatures", Assert.Throws<ArgumentOutOfRangeException>(() => new Linear(0, 3)).ParamName);
        Assert.Equal("outFeatures", Assert.Throws<ArgumentOutOfRangeException>(() => new Linear(3, -1)).ParamName);
        Assert.Equal("dtype", Assert.Throws<ArgumentException>(() => new Linear(3, 3, dtype: DType.Int64)).ParamName);
        Assert.Equal("p", Assert.Throws<ArgumentOutOfRangeException>(() => new Dropout(1.5, new Random(0))).ParamName);
        Assert.Equal("random", Assert.Throws<ArgumentNullException>(() => new Dropout(0.5, null!)).ParamName);
        Assert.Equal("layers", Assert.Throws<ArgumentNullException>(() => new Sequential(new ReLU(), null!)).ParamName);
    }
}
