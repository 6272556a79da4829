using TinyTorch.Functional;
using TinyTorch.Nn;
using TinyTorch.Optim;

namespace TinyTorch.Tests;

/// <summary>
/// The optimizers' first steps against values computed by hand (with a plain-Python transcription of the PyTorch
/// docs' pseudo-code), clipping, schedulers, argument validation and an end-to-end training run.
/// </summary>
/// <remarks>
/// Every optimizer test minimises L(p) = Σ cᵢ·pᵢ² with c = [1, 2, 3] from p₀ = [1, −2, 0.5], so ∂L/∂p = 2c·p
/// (g₀ = [2, −8, 3]). Expected values are after steps 1, 2 and 3.
/// </remarks>
public class OptimTests
{
    private static readonly double[] C = [1, 2, 3];
    private static readonly double[] P0 = [1, -2, 0.5];

    private static Variable Parameter(DType dtype = DType.Float64) =>
        new(dtype == DType.Float64 ? new Tensor(P0) : new Tensor(P0.Select(v => (float)v).ToArray()));

    /// <summary>Sets p.Grad to ∂L/∂p = 2c·p by a backward pass.</summary>
    private static void Backward(Variable p) => (new Variable(C, requiresGrad: false) * p * p).Sum().Backward();

    private static void AssertSteps(Optimizer optimizer, Variable p, double[][] expected, double tolerance = 1e-12)
    {
        for (var step = 0; step < expected.Length; step++)
        {
            optimizer.ZeroGrad();
            Backward(p);
            optimizer.Step();
            Check.Close(expected[step], p.ToArray(), tolerance, $"step {step + 1}");
        }
    }

    [Fact]
    public void Sgd_takes_plain_gradient_steps()
    {
        // p ← p − 0.1·2c·p = p·(1 − 0.2c): [1, −2, 0.5] → [0.8, −1.2, 0.2] → [0.64, −0.72, 0.08] → …
        var p = Parameter();
        AssertSteps(new Sgd([p], lr: 0.1), p, [
            [0.8, -1.2, 0.2],
            [0.64, -0.72, 0.08],
            [0.512, -0.432, 0.032],
        ]);
    }

    [Fact]
    public void Sgd_with_momentum_accumulates_a_velocity()
    {
        // b₁ = g₀ = [2, −8, 3], p₁ = [0.8, −1.2, 0.2]; g₁ = [1.6, −4.8, 1.2], b₂ = 0.9·b₁ + g₁ = [3.4, −12, 3.9],
        // p₂ = p₁ − 0.1·b₂ = [0.46, 0, −0.19].
        var p = Parameter();
        AssertSteps(new Sgd([p], lr: 0.1, momentum: 0.9), p, [
            [0.8, -1.2, 0.2],
            [0.46, 0, -0.19],
            [0.062, 1.08, -0.427],
        ]);
    }

    [Fact]
    public void Sgd_dampening_scales_the_new_gradient_in_the_velocity()
    {
        // b₂ = 0.9·b₁ + (1 − 0.5)·g₁ = [2.6, −9.6, 3.3], p₂ = p₁ − 0.1·b₂ = [0.54, −0.24, −0.13] (b₁ = g₀, undamped).
        var p = Parameter();
        AssertSteps(new Sgd([p], lr: 0.1, momentum: 0.9, dampening: 0.5), p, [
            [0.8, -1.2, 0.2],
            [0.54, -0.24, -0.13],
            [0.252, 0.672, -0.388],
        ]);
    }

    [Fact]
    public void Sgd_with_nesterov_steps_along_the_gradient_plus_momentum_times_velocity()
    {
        // b₁ = g₀, direction = g₀ + 0.9·b₁ = 1.9·[2, −8, 3], p₁ = p₀ − 0.19·[2, −8, 3] = [0.62, −0.48, −0.07].
        var p = Parameter();
        AssertSteps(new Sgd([p], lr: 0.1, momentum: 0.9, nesterov: true), p, [
            [0.62, -0.48, -0.07],
            [0.2224, 0.5328, -0.2332],
            [-0.108352, 0.866592, -0.152032],
        ]);
    }

    [Fact]
    public void Sgd_weight_decay_adds_an_L2_term_to_the_gradient()
    {
        // d = g + 0.1·p = [2.1, −8.2, 3.05], p₁ = p₀ − 0.1·d = [0.79, −1.18, 0.195].
        var p = Parameter();
        AssertSteps(new Sgd([p], lr: 0.1, weightDecay: 0.1), p, [
            [0.79, -1.18, 0.195],
            [0.6241, -0.6962, 0.07605],
            [0.493039, -0.410758, 0.0296595],
        ]);
    }

    [Fact]
    public void Adam_first_step_moves_each_parameter_by_about_lr_against_its_gradient_sign()
    {
        // Step 1: m̂ = g, v̂ = g², so p₁ = p₀ − 0.1·g/(|g| + 1e-8) ≈ p₀ − 0.1·sign(g) = [0.9, −1.9, 0.4].
        var p = Parameter();
        AssertSteps(new Adam([p], lr: 0.1), p, [
            [0.9000000005, -1.900000000125, 0.4000000003333333],
            [0.8004122286917928, -1.8001664858630053, 0.30118742027818446],
            [0.7015862729460303, -1.7006233916636408, 0.20487125044086527],
        ]);
    }

    [Fact]
    public void Adam_weight_decay_is_an_L2_term_that_the_adaptive_scaling_nearly_cancels()
    {
        // g + 0.1·p is rescaled by its own RMS, so the decay barely shows (compare the test above).
        var p = Parameter();
        AssertSteps(new Adam([p], lr: 0.1, weightDecay: 0.1), p, [
            [0.9000000004761904, -1.9000000001219512, 0.4000000003278688],
            [0.8004122286431954, -1.800166485856842, 0.30118742026686485],
            [0.7015862728718214, -1.7006233916543037, 0.20487125042349275],
        ]);
    }

    [Fact]
    public void AdamW_decays_the_weights_directly_before_the_Adam_step()
    {
        // p ← p·(1 − 0.1·0.1) first: p₁ = 0.99·p₀ − 0.1·sign(g) ≈ [0.89, −1.88, 0.395], visibly unlike Adam's.
        var p = Parameter();
        AssertSteps(new AdamW([p], lr: 0.1, weightDecay: 0.1), p, [
            [0.8900000004999999, -1.880000000125, 0.3950000003333333],
            [0.7815718559365048, -1.7614089503325472, 0.2923387028785837],
            [0.6751012216400698, -1.6443686831798794, 0.1934156021775545],
        ]);
    }

    [Fact]
    public void AdamW_defaults_to_PyTorch_hyper_parameters()
    {
        var optimizer = new AdamW([Parameter()]);

        Assert.Equal((1e-3, 0.9, 0.999, 1e-8, 1e-2), (optimizer.LearningRate, optimizer.Beta1, optimizer.Beta2, optimizer.Eps, optimizer.WeightDecay));
        Assert.Equal(0.0, new Adam([Parameter()]).WeightDecay);
    }

    [Fact]
    public void Float32_parameters_stay_float32_and_follow_the_same_steps()
    {
        var p = Parameter(DType.Float32);
        AssertSteps(new Adam([p], lr: 0.1), p, [
            [0.9000000005, -1.900000000125, 0.4000000003333333],
            [0.8004122286917928, -1.8001664858630053, 0.30118742027818446],
        ], tolerance: 1e-6);
        Assert.Equal(DType.Float32, p.DType);
    }

    [Fact]
    public void Updates_never_record_graph_nodes()
    {
        var p = Parameter();
        var optimizer = new Sgd([p], lr: 0.1, momentum: 0.9);
        Backward(p);
        optimizer.Step();

        Assert.True(p.IsLeaf);
        Assert.True(p.RequiresGrad);
        Assert.Null(p.GradFn);

        // A fresh backward pass sees only the new value: ∂L/∂p = 2c·p₁ = 2·[1, 2, 3]·[0.8, −1.2, 0.2].
        optimizer.ZeroGrad();
        Backward(p);
        Check.Close([1.6, -4.8, 1.2], Check.GradOf(p).ToArray(), 1e-12);
    }

    [Fact]
    public void Step_skips_parameters_without_a_gradient()
    {
        var p = Parameter();
        var untouched = Parameter();
        var optimizer = new Adam([p, untouched], lr: 0.1);

        Backward(p);
        optimizer.Step();

        Assert.Equal(P0, untouched.ToArray());
        Check.Close([0.9, -1.9, 0.4], p.ToArray(), 1e-6);

        // Its first real step later is a first Adam step (no state was made for it).
        optimizer.ZeroGrad();
        Backward(untouched);
        optimizer.Step();
        Check.Close([0.9, -1.9, 0.4], untouched.ToArray(), 1e-6);
    }

    [Fact]
    public void A_step_that_fails_for_one_parameter_changes_no_parameter_and_no_state()
    {
        var good = Parameter();
        var bad = Parameter();
        var optimizer = new Adam([good, bad], lr: 0.1);
        Backward(good);
        Backward(bad);
        bad.Data = new Tensor(new[] { 1.0, 2.0 }); // its gradient still has shape [3]

        var error = Assert.ThrowsAny<ArgumentException>(optimizer.Step);
        Assert.Contains("[3]", error.Message);
        Assert.Equal(P0, good.ToArray());

        // Nothing was stored: the next successful step of `good` is still Adam's first.
        bad.Grad = null;
        optimizer.Step();
        Check.Close([0.9000000005, -1.900000000125, 0.4000000003333333], good.ToArray(), 1e-12);
    }

    [Fact]
    public void The_learning_rate_can_be_changed_between_steps()
    {
        var p = Parameter();
        var optimizer = new Sgd([p], lr: 0.1) { LearningRate = 0.05 };
        Backward(p);
        optimizer.Step();

        // p₀ − 0.05·[2, −8, 3] = [0.9, −1.6, 0.35].
        Check.Close([0.9, -1.6, 0.35], p.ToArray(), 1e-12);
    }

    [Fact]
    public void ClipGradNorm_returns_the_norm_and_scales_gradients_above_the_limit()
    {
        var (a, b, none) = (new Variable(new[] { 0.0, 0.0 }), new Variable(new[] { 0.0 }), new Variable(1.0));
        a.Grad = new Variable(new[] { 3.0, 4.0 }, requiresGrad: false);
        b.Grad = new Variable(new[] { 12.0 }, requiresGrad: false);

        // ‖(3, 4, 12)‖ = 13; scaled by 6.5/13 = ½.
        Assert.Equal(13.0, GradientClipping.ClipGradNorm([a, b, none], maxNorm: 6.5), 12);
        Check.Close([1.5, 2.0], a.Grad.ToArray(), 1e-12);
        Check.Close([6.0], b.Grad.ToArray(), 1e-12);
        Assert.Null(none.Grad);

        // Now the norm is 6.5, under a limit of 20: returned, nothing scaled.
        Assert.Equal(6.5, GradientClipping.ClipGradNorm([a, b], maxNorm: 20), 12);
        Check.Close([1.5, 2.0], a.Grad.ToArray(), 1e-12);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void ClipGradNorm_with_a_non_finite_norm_throws_when_asked_and_changes_nothing_either_way(double bad)
    {
        var a = new Variable(new[] { 0.0, 0.0 }) { Grad = new Variable(new[] { 3.0, bad }, requiresGrad: false) };
        var b = new Variable(new[] { 0.0 }) { Grad = new Variable(new[] { 100.0 }, requiresGrad: false) };

        var error = Assert.Throws<NotFiniteNumberException>(() => GradientClipping.ClipGradNorm([a, b], 1.0, errorIfNonFinite: true));
        Assert.IsAssignableFrom<ArithmeticException>(error);
        Assert.Contains("errorIfNonFinite", error.Message);
        Assert.Equal([3.0, bad], a.Grad.ToArray());
        Assert.Equal([100.0], b.Grad.ToArray());

        Assert.Equal(bad, GradientClipping.ClipGradNorm([a, b], 1.0));
        Assert.Equal([3.0, bad], a.Grad.ToArray());
        Assert.Equal([100.0], b.Grad.ToArray());
    }

    [Fact]
    public void StepLr_multiplies_the_rate_by_gamma_every_step_size_epochs()
    {
        var optimizer = new Sgd([Parameter()], lr: 0.1);
        var scheduler = new StepLr(optimizer, stepSize: 2, gamma: 0.5);

        // lr = 0.1·0.5^⌊epoch/2⌋ for epochs 1…6.
        double[] expected = [0.1, 0.05, 0.05, 0.025, 0.025, 0.0125];
        Assert.Equal(0.1, scheduler.LastLearningRate);
        foreach (var (lr, epoch) in expected.Select((lr, i) => (lr, i + 1)))
        {
            scheduler.Step();
            Assert.Equal(epoch, scheduler.Epoch);
            Check.Close(lr, optimizer.LearningRate, 1e-15, $"epoch {epoch}");
            Assert.Equal(optimizer.LearningRate, scheduler.LastLearningRate);
        }
    }

    [Fact]
    public void CosineAnnealingLr_follows_a_half_cosine_down_to_eta_min_and_back()
    {
        var optimizer = new Adam([Parameter()], lr: 0.1);
        var scheduler = new CosineAnnealingLr(optimizer, tMax: 4, etaMin: 0.01);

        // lr = 0.01 + 0.09·(1 + cos(π·epoch/4))/2 for epochs 1…8: down to 0.01 at epoch 4, back to 0.1 at 8.
        double[] expected = [0.08681980515339464, 0.055, 0.023180194846605363, 0.01, 0.023180194846605356, 0.055, 0.08681980515339464, 0.1];
        foreach (var (lr, epoch) in expected.Select((lr, i) => (lr, i + 1)))
        {
            scheduler.Step();
            Check.Close(lr, optimizer.LearningRate, 1e-15, $"epoch {epoch}");
        }
    }

    public static TheoryData<string, Func<object>, string> BadArguments => new()
    {
        { "negative lr", () => new Sgd([Parameter()], lr: -0.1), "lr" },
        { "NaN lr", () => new Sgd([Parameter()], lr: double.NaN), "lr" },
        { "negative momentum", () => new Sgd([Parameter()], lr: 0.1, momentum: -0.5), "momentum" },
        { "negative SGD weight decay", () => new Sgd([Parameter()], lr: 0.1, weightDecay: -1), "weightDecay" },
        { "Nesterov without momentum", () => new Sgd([Parameter()], lr: 0.1, nesterov: true), "nesterov" },
        { "Nesterov with dampening", () => new Sgd([Parameter()], lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true), "nesterov" },
        { "Adam negative lr", () => new Adam([Parameter()], lr: -1e-3), "lr" },
        { "beta1 = 1", () => new Adam([Parameter()], beta1: 1.0), "beta1" },
        { "negative beta2", () => new Adam([Parameter()], beta2: -0.1), "beta2" },
        { "eps = 0", () => new Adam([Parameter()], eps: 0), "eps" },
        { "negative Adam weight decay", () => new Adam([Parameter()], weightDecay: -0.1), "weightDecay" },
        { "AdamW beta2 = 1", () => new AdamW([Parameter()], beta2: 1.0), "beta2" },
        { "empty parameter list", () => new Sgd([], lr: 0.1), "parameters" },
        { "non-leaf parameter", () => new Sgd([Parameter() * 2.0], lr: 0.1), "parameters" },
        { "constant parameter", () => new Adam([new Variable(1.0, requiresGrad: false)]), "parameters" },
        { "step size 0", () => new StepLr(new Sgd([Parameter()], lr: 0.1), stepSize: 0), "stepSize" },
        { "negative gamma", () => new StepLr(new Sgd([Parameter()], lr: 0.1), stepSize: 1, gamma: -1), "gamma" },
        { "tMax 0", () => new CosineAnnealingLr(new Sgd([Parameter()], lr: 0.1), tMax: 0), "tMax" },
        { "negative etaMin", () => new CosineAnnealingLr(new Sgd([Parameter()], lr: 0.1), tMax: 3, etaMin: -1), "etaMin" },
        { "maxNorm 0", () => GradientClipping.ClipGradNorm([Parameter()], maxNorm: 0), "maxNorm" },
        { "negative lr set later", () => new Sgd([Parameter()], lr: 0.1) { LearningRate = -1 }, "lr" },
    };

    [Theory]
    [MemberData(nameof(BadArguments))]
    public void Bad_arguments_throw_an_argument_exception_naming_the_argument(string what, Func<object> create, string parameter)
    {
        var error = Assert.ThrowsAny<ArgumentException>(create);
        Assert.True(error.ParamName == parameter, $"{what}: expected ParamName {parameter}, got {error.ParamName} ({error.Message})");
    }

    [Fact]
    public void A_rejected_learning_rate_leaves_the_old_one()
    {
        var optimizer = new Sgd([Parameter()], lr: 0.1);

        Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.LearningRate = double.PositiveInfinity);
        Assert.Equal(0.1, optimizer.LearningRate);
    }

    /// <summary>150 samples of 3 classes in 4-D: Gaussian blobs (σ = 0.6) around 3·e₀, 3·e₁ and 3·e₂, from a seeded generator.</summary>
    private static (Variable X, Tensor Labels) Blobs(Random random, int perClass)
    {
        var n = 3 * perClass;
        var x = new float[n * 4];
        var labels = new long[n];
        for (var i = 0; i < n; i++)
        {
            labels[i] = i % 3;
            for (var j = 0; j < 4; j++)
            {
                // Box–Muller: a standard normal from two uniforms.
                var normal = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                x[i * 4 + j] = (float)((j == labels[i] ? 3.0 : 0.0) + 0.6 * normal);
            }
        }
        return (new Variable(Tensor.FromArray(x, n, 4), requiresGrad: false), new Tensor(labels));
    }

    private static double Accuracy(Module model, Variable x, Tensor labels)
    {
        var predicted = Autograd.ArgMax(model.Forward(x), axis: 1).ToInt64Array();
        return predicted.Zip(labels.ToInt64Array()).Count(p => p.First == p.Second) / (double)predicted.Length;
    }

    [Fact]
    public void An_mlp_trained_with_Adam_and_cross_entropy_separates_three_classes()
    {
        var random = new Random(2024);
        var (train, trainLabels) = Blobs(random, 50);
        var (test, testLabels) = Blobs(random, 50);
        var model = new Sequential(new Linear(4, 16, random: random), new ReLU(), new Linear(16, 3, random: random));
        var optimizer = new Adam(model.Parameters(), lr: 0.01);

        var firstLoss = double.NaN;
        var loss = double.NaN;
        for (var epoch = 0; epoch < 150; epoch++)
        {
            optimizer.ZeroGrad();
            var l = Autograd.CrossEntropy(model.Forward(train), trainLabels);
            l.Backward();
            optimizer.Step();
            loss = l.Item();
            firstLoss = epoch == 0 ? loss : firstLoss;
        }

        Assert.True(loss < firstLoss / 4, $"the loss should fall well below its start {firstLoss}, but ended at {loss}");
        model.Eval();
        Assert.True(Accuracy(model, train, trainLabels) >= 0.95, $"train accuracy {Accuracy(model, train, trainLabels)}");
        Assert.True(Accuracy(model, test, testLabels) >= 0.95, $"test accuracy {Accuracy(model, test, testLabels)}");
    }
}
