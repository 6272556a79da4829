namespace TinyTorch.Tests;

/// <summary>
/// Anomaly detection (TESTING.md §3, the NonFiniteGradientException row): off by default, opt-in with
/// <c>using (Autograd.DetectAnomaly())</c>, the first non-finite value in forward or backward throws,
/// the scope is restored even on exceptions and flows with async code, and Backward stays all-or-nothing.
/// </summary>
public class AnomalyTests
{
    /// <summary>A custom op that is the identity forward but whose VJP returns NaN.</summary>
    private static readonly CustomFunction PoisonedGradient = Autograd.DefineFunction(
        "poisoned",
        values => values[0],
        (inputs, _, _) => [new Variable(Tensor.Full(inputs[0].Shape, double.NaN, inputs[0].DType), requiresGrad: false)],
        check: false);

    [Fact]
    public void Anomaly_detection_is_off_by_default_and_non_finite_values_pass_silently()
    {
        Assert.False(Autograd.IsAnomalyDetectionEnabled);
        // 1 / 0 = inf forward; then inf · 0 = NaN: IEEE semantics, no exception.
        var x = new Variable(new[] { 1.0, 2.0 });
        var zero = new Variable(new[] { 0.0, 1.0 });
        var y = Autograd.SumAll(x / zero * zero);
        Assert.True(double.IsNaN(y.Item()));
        y.Backward();
        Assert.NotNull(x.Grad);
    }

    [Fact]
    public void A_forward_infinity_throws_naming_the_op_and_the_input_ranges()
    {
        var x = new Variable(new[] { 1.0, 2.0 });
        var zero = new Variable(new[] { 0.0, 1.0 });
        using (Autograd.DetectAnomaly())
        {
            // x / 0 = inf in the first element: the divide is the first op with a non-finite output.
            var ex = Assert.Throws<NonFiniteGradientException>(() => x / zero * zero);
            Assert.Equal("divide", ex.Operation);
            Assert.Equal("forward", ex.Pass);
            Assert.Contains("divide", ex.Message);
            Assert.Contains("[0, 1]", ex.Message); // the denominator's range
            Assert.Contains("[1, 2]", ex.Message); // the numerator's range
            Assert.IsAssignableFrom<ArithmeticException>(ex);
        }
    }

    [Fact]
    public void A_forward_nan_from_a_domain_error_throws_naming_the_op()
    {
        // sqrt(−1) is NaN (IEEE), caught at the sqrt.
        var x = new Variable(new[] { 4.0, -1.0 });
        using var scope = Autograd.DetectAnomaly();
        var ex = Assert.Throws<NonFiniteGradientException>(() => Autograd.Sqrt(x));
        Assert.Equal("sqrt", ex.Operation);
        Assert.Contains("NaN", ex.Message);
    }

    [Fact]
    public void A_backward_nan_throws_in_backward_naming_the_op_and_the_path_from_the_loss()
    {
        var x = new Variable(new[] { 1.0, 2.0 });
        var loss = Autograd.SumAll(Autograd.Exp(PoisonedGradient.Apply(x)));
        using (Autograd.DetectAnomaly())
        {
            var ex = Assert.Throws<NonFiniteGradientException>(() => loss.Backward());
            Assert.Equal("poisoned", ex.Operation);
            Assert.Equal("backward", ex.Pass);
            Assert.Contains("sum_all → exp → poisoned", ex.Message);
        }
        Assert.Null(x.Grad);
    }

    [Fact]
    public void Sqrt_at_zero_gives_an_infinite_gradient_that_anomaly_detection_stops_in_backward()
    {
        // d/dx √x = 1 / (2√x) = +inf at x = 0 (PyTorch's convention): finite forward, infinite backward.
        var x = new Variable(new[] { 0.0, 4.0 });
        var loss = Autograd.SumAll(Autograd.Sqrt(x));
        Assert.Equal(2.0, loss.Item());
        using (Autograd.DetectAnomaly())
        {
            var ex = Assert.Throws<NonFiniteGradientException>(() => loss.Backward());
            Assert.Contains("Infinity", ex.Message);
        }
        Assert.Null(x.Grad);
        loss.Backward(); // without the scope: IEEE semantics
        Assert.Equal([double.PositiveInfinity, 0.25], x.Grad!.ToArray());
    }

    [Fact]
    public void Sqrt_at_zero_is_reported_as_the_backward_of_sqrt_with_its_path()
    {
        var x = new Variable(new[] { 0.0, 4.0 });
        var loss = Autograd.SumAll(Autograd.Sqrt(x));
        using var scope = Autograd.DetectAnomaly();
        var ex = Assert.Throws<NonFiniteGradientException>(() => loss.Backward());
        Assert.Equal("sqrt", ex.Operation);
        Assert.Equal("backward", ex.Pass);
        Assert.Contains("sum_all → sqrt", ex.Message);
    }

    [Fact]
    public void A_backward_that_throws_leaves_every_grad_unchanged()
    {
        var a = new Variable(new[] { 1.0, 2.0 });
        var b = new Variable(new[] { 3.0, 4.0 });
        a.Grad = new Variable(new[] { 10.0, 20.0 }, requiresGrad: false);
        var loss = Autograd.SumAll(a * b + PoisonedGradient.Apply(a * a));
        using (Autograd.DetectAnomaly())
        {
            Assert.Throws<NonFiniteGradientException>(() => loss.Backward());
        }
        Assert.Equal([10.0, 20.0], a.Grad.ToArray());
        Assert.Null(b.Grad);
    }

    [Fact]
    public void The_scope_is_restored_after_an_exception_and_nested_scopes_unwind_in_order()
    {
        Assert.False(Autograd.IsAnomalyDetectionEnabled);
        try
        {
            using (Autograd.DetectAnomaly())
            {
                Assert.True(Autograd.IsAnomalyDetectionEnabled);
                _ = Autograd.Sqrt(new Variable(-1.0));
            }
        }
        catch (NonFiniteGradientException)
        {
        }
        Assert.False(Autograd.IsAnomalyDetectionEnabled);

        using (Autograd.DetectAnomaly())
        {
            using (Autograd.DetectAnomaly())
            {
                Assert.True(Autograd.IsAnomalyDetectionEnabled);
            }
            Assert.True(Autograd.IsAnomalyDetectionEnabled);
        }
        Assert.False(Autograd.IsAnomalyDetectionEnabled);
    }

    [Fact]
    public void Disposing_a_scope_twice_is_harmless()
    {
        var scope = Autograd.DetectAnomaly();
        scope.Dispose();
        scope.Dispose();
        Assert.False(Autograd.IsAnomalyDetectionEnabled);
    }

    [Fact]
    public async Task The_scope_flows_into_async_code_and_does_not_leak_to_other_flows()
    {
        using var started = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        // A thread started outside the scope never sees it, even while the scope is open.
        var outside = Task.Factory.StartNew(
            () =>
            {
                started.Set();
                release.Wait();
                return Autograd.IsAnomalyDetectionEnabled;
            },
            TaskCreationOptions.LongRunning);
        started.Wait();

        using (Autograd.DetectAnomaly())
        {
            release.Set();
            Assert.False(await outside);
            await Task.Yield();
            Assert.True(Autograd.IsAnomalyDetectionEnabled);
            var inside = await Task.Run(() =>
            {
                var ex = Assert.Throws<NonFiniteGradientException>(() => Autograd.Sqrt(new Variable(-1.0)));
                return (Autograd.IsAnomalyDetectionEnabled, ex.Operation);
            });
            Assert.Equal((true, "sqrt"), inside);
        }
        Assert.False(Autograd.IsAnomalyDetectionEnabled);
    }

    [Fact]
    public void Finite_computations_run_unchanged_inside_the_scope()
    {
        // y = Σ x², so dy/dx = 2x.
        var x = new Variable(new[] { 1.0, -3.0 });
        using (Autograd.DetectAnomaly())
        {
            Autograd.SumAll(x * x).Backward();
        }
        Assert.Equal([2.0, -6.0], x.Grad!.ToArray());
    }
}
