namespace TinyTorch.Tests;

/// <summary>
/// The six test functions of the Python course module ("Module 7: Autograd", autograd_dev.py),
/// ported with the same inputs, expected numbers and tolerances, using the free functions as the seed does.
/// </summary>
public class SeedTests
{
    private const double Tolerance = 1e-6;

    // Seed: test_basic_operations.
    [Fact]
    public void Basic_operations_give_the_seed_values_and_gradients()
    {
        // Addition: z = x + y, so dz/dx = 1 and dz/dy = 1.
        var x = new Variable(2.0, requiresGrad: true);
        var y = new Variable(3.0, requiresGrad: true);
        var z = Autograd.Add(x, y);
        Check.Close(5.0, z.Data.Item(), Tolerance, "addition");
        z.Backward();
        Check.Close(1.0, Check.GradOf(x).Data.Item(), Tolerance, "addition gradient for x");
        Check.Close(1.0, Check.GradOf(y).Data.Item(), Tolerance, "addition gradient for y");

        // Multiplication: z = x * y, so dz/dx = y = 3 and dz/dy = x = 2.
        x = new Variable(2.0, requiresGrad: true);
        y = new Variable(3.0, requiresGrad: true);
        z = Autograd.Multiply(x, y);
        Check.Close(6.0, z.Data.Item(), Tolerance, "multiplication");
        z.Backward();
        Check.Close(3.0, Check.GradOf(x).Data.Item(), Tolerance, "multiplication gradient for x");
        Check.Close(2.0, Check.GradOf(y).Data.Item(), Tolerance, "multiplication gradient for y");

        // Subtraction: z = x - y, so dz/dx = 1 and dz/dy = -1.
        x = new Variable(5.0, requiresGrad: true);
        y = new Variable(3.0, requiresGrad: true);
        z = Autograd.Subtract(x, y);
        Check.Close(2.0, z.Data.Item(), Tolerance, "subtraction");
        z.Backward();
        Check.Close(1.0, Check.GradOf(x).Data.Item(), Tolerance, "subtraction gradient for x");
        Check.Close(-1.0, Check.GradOf(y).Data.Item(), Tolerance, "subtraction gradient for y");

        // Division: z = x / y, so dz/dx = 1/y = 0.5 and dz/dy = -x/y^2 = -6/4 = -1.5.
        x = new Variable(6.0, requiresGrad: true);
        y = new Variable(2.0, requiresGrad: true);
        z = Autograd.Divide(x, y);
        Check.Close(3.0, z.Data.Item(), Tolerance, "division");
        z.Backward();
        Check.Close(0.5, Check.GradOf(x).Data.Item(), Tolerance, "division gradient for x");
        Check.Close(-1.5, Check.GradOf(y).Data.Item(), Tolerance, "division gradient for y");
    }

    // Seed: test_chain_rule.
    [Fact]
    public void Chain_rule_gives_the_seed_gradients()
    {
        // f(x, y) = (x + y) * (x - y) = x^2 - y^2, so df/dx = 2x = 6 and df/dy = -2y = -4 at (3, 2).
        var x = new Variable(3.0, requiresGrad: true);
        var y = new Variable(2.0, requiresGrad: true);
        var sumXy = Autograd.Add(x, y);            // x + y = 5
        var diffXy = Autograd.Subtract(x, y);      // x - y = 1
        var result = Autograd.Multiply(sumXy, diffXy); // (x + y) * (x - y) = 5
        Check.Close(5.0, result.Data.Item(), Tolerance, "chain rule forward");
        result.Backward();
        Check.Close(2 * 3.0, Check.GradOf(x).Data.Item(), Tolerance, "chain rule x gradient");
        Check.Close(-2 * 2.0, Check.GradOf(y).Data.Item(), Tolerance, "chain rule y gradient");

        // f(x) = x * x * x = x^3, so df/dx = 3x^2 = 12 at x = 2.
        x = new Variable(2.0, requiresGrad: true);
        var xSquared = Autograd.Multiply(x, x);
        var xCubed = Autograd.Multiply(xSquared, x);
        Check.Close(8.0, xCubed.Data.Item(), Tolerance, "x^3 forward");
        xCubed.Backward();
        Check.Close(3 * Math.Pow(2.0, 2), Check.GradOf(x).Data.Item(), Tolerance, "x^3 gradient");
    }

    // Seed: test_integration.
    [Fact]
    public void Simple_network_integration_gives_the_seed_gradients()
    {
        // input -> linear -> ReLU -> output:
        // output = relu(x * w1 + b1) * w2 = relu(2 * 0.5 + 0.1) * 1.5 = 1.1 * 1.5 = 1.65.
        var x = new Variable(2.0, requiresGrad: true);
        var w1 = new Variable(0.5, requiresGrad: true);
        var b1 = new Variable(0.1, requiresGrad: true);
        var w2 = new Variable(1.5, requiresGrad: true);

        var linear1 = Autograd.Add(Autograd.Multiply(x, w1), b1);
        var activation1 = Autograd.Relu(linear1);
        var output = Autograd.Multiply(activation1, w2);
        Check.Close(1.65, output.Data.Item(), Tolerance, "integration forward");

        output.Backward();
        // d/dx = w2 * 1 * w1 = 0.75; d/dw1 = w2 * 1 * x = 3.0; d/db1 = w2 * 1 = 1.5; d/dw2 = activation1 = 1.1.
        Check.Close(0.75, Check.GradOf(x).Data.Item(), Tolerance, "integration x gradient");
        Check.Close(3.0, Check.GradOf(w1).Data.Item(), Tolerance, "integration w1 gradient");
        Check.Close(1.5, Check.GradOf(b1).Data.Item(), Tolerance, "integration b1 gradient");
        Check.Close(1.1, Check.GradOf(w2).Data.Item(), Tolerance, "integration w2 gradient");
    }

    // Seed: test_advanced_operations.
    [Fact]
    public void Advanced_operations_give_the_seed_values_and_gradients()
    {
        // Power: y = x^3 = 8 at x = 2, dy/dx = 3x^2 = 12.
        var x = new Variable(2.0, requiresGrad: true);
        var y = Autograd.Power(x, 3);
        Check.Close(8.0, y.Data.Item(), Tolerance, "power forward");
        y.Backward();
        Check.Close(12.0, Check.GradOf(x).Data.Item(), Tolerance, "power gradient");

        // Exponential: y = e^x, dy/dx = e^x = e at x = 1.
        x = new Variable(1.0, requiresGrad: true);
        y = Autograd.Exp(x);
        var expectedExp = Math.Exp(1.0);
        Check.Close(expectedExp, y.Data.Item(), Tolerance, "exp forward");
        y.Backward();
        Check.Close(expectedExp, Check.GradOf(x).Data.Item(), Tolerance, "exp gradient");

        // Logarithm: y = ln x, dy/dx = 1/x = 0.5 at x = 2.
        x = new Variable(2.0, requiresGrad: true);
        y = Autograd.Log(x);
        Check.Close(Math.Log(2.0), y.Data.Item(), Tolerance, "log forward");
        y.Backward();
        Check.Close(0.5, Check.GradOf(x).Data.Item(), Tolerance, "log gradient");

        // Sum: y = sum of all elements = 10, dy/dx_ij = 1.
        x = new Variable(new[,] { { 1.0, 2.0 }, { 3.0, 4.0 } }, requiresGrad: true);
        y = Autograd.SumAll(x);
        Check.Close(10.0, y.Data.Item(), Tolerance, "sum forward");
        y.Backward();
        Assert.Equal(Shape.Of(2, 2), Check.GradOf(x).Shape);
        Check.Close(new[] { 1.0, 1.0, 1.0, 1.0 }, Check.GradOf(x).ToArray(), Tolerance, "sum gradient");

        // Mean: y = mean of all elements = 2.5, dy/dx_ij = 1/n = 0.25.
        x = new Variable(new[,] { { 1.0, 2.0 }, { 3.0, 4.0 } }, requiresGrad: true);
        y = Autograd.Mean(x);
        Check.Close(2.5, y.Data.Item(), Tolerance, "mean forward");
        y.Backward();
        Assert.Equal(Shape.Of(2, 2), Check.GradOf(x).Shape);
        Check.Close(new[] { 0.25, 0.25, 0.25, 0.25 }, Check.GradOf(x).ToArray(), Tolerance, "mean gradient");
    }

    // Seed: test_gradient_utilities.
    [Fact]
    public void Gradient_utilities_clip_and_zero_as_in_the_seed()
    {
        var x = new Variable(1.0, requiresGrad: true);
        var y = new Variable(1.0, requiresGrad: true);

        // loss = 10x + 10y, so dloss/dx = dloss/dy = 10 (global norm 10·√2).
        var z = Autograd.Multiply(x, 10.0);
        var w = Autograd.Multiply(y, 10.0);
        var loss = Autograd.Add(z, w);
        loss.Backward();
        Check.Close(10.0, Check.GradOf(x).Data.Item(), Tolerance);
        Check.Close(10.0, Check.GradOf(y).Data.Item(), Tolerance);

        Autograd.ClipGradients(new[] { x, y }, maxNorm: 1.0);
        var totalNorm = Math.Sqrt(Math.Pow(Check.GradOf(x).Data.Item(), 2) + Math.Pow(Check.GradOf(y).Data.Item(), 2));
        Check.Close(1.0, totalNorm, Tolerance, "gradient clipping total norm");

        // Zero gradients.
        Assert.True(Math.Abs(Check.GradOf(x).Data.Item()) > 1e-6);
        Assert.True(Math.Abs(Check.GradOf(y).Data.Item()) > 1e-6);
        Autograd.ZeroGradients(new[] { x, y });
        Assert.True(Math.Abs(Check.GradOf(x).Data.Item()) < 1e-6);
        Assert.True(Math.Abs(Check.GradOf(y).Data.Item()) < 1e-6);
    }

    // Seed: test_complete_ml_pipeline.
    [Fact]
    public void Complete_ml_pipeline_learns_the_seed_regression()
    {
        // Data approximately y = 2x + 1 with noise.
        double[] xData = [1.0, 2.0, 3.0, 4.0, 5.0];
        double[] yData = [3.1, 4.9, 7.2, 9.1, 10.8];

        var w = new Variable(0.1, requiresGrad: true);
        var b = new Variable(0.0, requiresGrad: true);

        const double learningRate = 0.01;
        const int numEpochs = 100;

        for (var epoch = 0; epoch < numEpochs; epoch++)
        {
            var totalLoss = new Variable(0.0, requiresGrad: false);
            for (var i = 0; i < xData.Length; i++)
            {
                var x = new Variable(xData[i], requiresGrad: false);
                var yTarget = new Variable(yData[i], requiresGrad: false);

                // y_pred = w * x + b; loss = (y_pred - y_target)^2, so dloss/dw = 2(y_pred - y)x and dloss/db = 2(y_pred - y).
                var yPred = Autograd.Add(Autograd.Multiply(w, x), b);
                var diff = Autograd.Subtract(yPred, yTarget);
                var loss = Autograd.Multiply(diff, diff);
                totalLoss = Autograd.Add(totalLoss, loss);
            }

            totalLoss.Backward();

            w.Data -= learningRate * w.Grad!.Data;
            b.Data -= learningRate * b.Grad!.Data;

            Autograd.ZeroGradients(new[] { w, b });
        }

        var finalW = w.Data.Item();
        var finalB = b.Data.Item();

        // The seed's bounds: close to the true values w = 2, b = 1.
        Assert.True(Math.Abs(finalW - 2.0) < 0.5, $"Weight not learned correctly: expected ~2.0, got {finalW}");
        Assert.True(Math.Abs(finalB - 1.0) < 0.5, $"Bias not learned correctly: expected ~1.0, got {finalB}");

        // The known result of exactly this loop (confirmed by a plain Python re-computation):
        // w = 1.98921842..., b = 1.03451222...
        Check.Close(1.989, finalW, 0.01, "final w");
        Check.Close(1.035, finalB, 0.01, "final b");

        // Prediction on new data: 2 * 6 + 1 = 13, within 1.0.
        var xTest = new Variable(6.0, requiresGrad: false);
        var prediction = Autograd.Add(Autograd.Multiply(w, xTest), b);
        Assert.True(Math.Abs(prediction.Data.Item() - (2.0 * 6.0 + 1.0)) < 1.0, $"Prediction accuracy insufficient: {prediction.Data.Item()}");
    }
}
