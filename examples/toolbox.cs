#:project ../src/TinyTorch/TinyTorch.csproj
// The autograd toolbox from C#: the README's "Autograd toolbox" snippet, checked.
// Run from the repository root: dotnet run examples/toolbox.cs   (.NET 10 file-based app)
using TinyTorch;

var failures = 0;

void Expect(string what, double expected, double actual)
{
    var ok = Math.Abs(expected - actual) <= 1e-9 * Math.Max(1.0, Math.Abs(expected));
    Console.WriteLine($"{what,-40} = {actual,12:G8}   (expected {expected:G8}){(ok ? "" : "   MISMATCH")}");
    failures += ok ? 0 : 1;
}

var x = new Variable(new[] { 1.0, 2.0 });
var y = Autograd.SumAll(Autograd.Sin(x) * x);

// y = Σ x·sin x, so dy/dx = sin x + x·cos x and d²y/dx² = 2·cos x − x·sin x.
var dx = Autograd.Grad(y, x, createGraph: true);
Expect("dy/dx at 1", Math.Sin(1) + Math.Cos(1), dx.ToArray()[0]);
var d2 = Autograd.Grad(Autograd.SumAll(dx), x);
Expect("d2y/dx2 at 2", 2 * Math.Cos(2) - 2 * Math.Sin(2), d2.ToArray()[1]);
Expect("x.Grad untouched (null = 0)", 0, x.Grad is null ? 0 : 1);

y.Backward(createGraph: true);
Expect("x.Grad after Backward(createGraph)", Math.Sin(2) + 2 * Math.Cos(2), x.Grad!.ToArray()[1]);
Expect("x.Grad is differentiable", 1, x.Grad.RequiresGrad ? 1 : 0);

// Σ v³: Hessian diag(6v), H·(1, 1) = 6v.
var h = Autograd.Hessian(v => Autograd.SumAll(Autograd.Power(v, 3)), x.Data);
Expect("Hessian[1, 1]", 12, h.ToArray()[3]);
var (value, tangent) = Autograd.Jvp(v => Autograd.Exp(v), x.Data, Tensor.FromArray([1.0, 0.0], 2));
Expect("jvp of exp along e0", Math.E, tangent.ToArray()[0]);
var hv = Autograd.Hvp(v => Autograd.SumAll(Autograd.Power(v, 3)), x.Data, Tensor.FromArray([1.0, 1.0], 2));
Expect("Hvp[0]", 6, hv.ToArray()[0]);

using (Autograd.NoGrad())
{
    var z = x * 2.0;
    Expect("NoGrad: z requires grad (0 = no)", 0, z.RequiresGrad ? 1 : 0);
}

var w = new Variable(3.0);
using (w.RegisterHook(g => g * 0.5))
{
    (w * w).Backward();
}
Expect("hooked gradient of w² at 3 (halved)", 3, w.Grad!.Item());

var hidden = Autograd.Tanh(x);
hidden.RetainGrad();
Autograd.SumAll(hidden * hidden).Backward();
Expect("retained gradient of tanh(x)² at 1", 2 * Math.Tanh(1), hidden.Grad!.ToArray()[0]);
Expect("GradFn inputs of y", 1, y.GradFn!.Inputs.Count);

var softsign = Autograd.DefineFunction("softsign",
    forward: t => t[0] / (Autograd.Abs(new Variable(t[0], false)).Data + 1.0),
    vjp: (inputs, output, g) => [g / Autograd.Square(Autograd.Abs(inputs[0]) + 1.0)],
    sampleInputs: [Tensor.FromArray([0.5, -2.0], 2)], check: true);
var s = new Variable(0.5);
softsign.Apply(s).Backward();
Expect("softsign'(0.5) = 1/(1.5)²", 1 / 2.25, s.Grad!.Item());

var c = new Variable(new[] { 0.3, -0.2 });
Autograd.Checkpoint(v => Autograd.SumAll(Autograd.Tanh(v[0] * v[0])), c).Backward();
Expect("checkpointed gradient at 0.3", 2 * 0.3 * (1 - Math.Pow(Math.Tanh(0.09), 2)), c.Grad!.ToArray()[0]);

var caught = 0;
using (Autograd.DetectAnomaly())
{
    try
    {
        var bad = Autograd.Sqrt(new Variable(-1.0));
    }
    catch (NonFiniteGradientException e)
    {
        Console.WriteLine($"anomaly detected: {e.Message}");
        caught = 1;
    }
}
Expect("anomaly detection caught sqrt(-1)", 1, caught);
Expect("DOT output starts with digraph", 1, Autograd.ToDot(y).StartsWith("digraph", StringComparison.Ordinal) ? 1 : 0);

Console.WriteLine(failures == 0 ? "toolbox example: all checks passed" : $"toolbox example: {failures} checks failed");
return failures == 0 ? 0 : 1;
