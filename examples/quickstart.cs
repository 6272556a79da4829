#:project ../src/TinyTorch/TinyTorch.csproj
// C# quick start: variables, Backward, Autograd ops.
// Run from the repository root: dotnet run examples/quickstart.cs   (.NET 10 file-based app)
using TinyTorch;

var failures = 0;

void Expect(string what, double expected, double actual)
{
    var ok = Math.Abs(expected - actual) <= 1e-9 * Math.Max(1.0, Math.Abs(expected));
    Console.WriteLine($"{what,-34} = {actual,12:G8}   (expected {expected:G8}){(ok ? "" : "   MISMATCH")}");
    failures += ok ? 0 : 1;
}

// A variable records every operation applied to it; Backward() fills .Grad.
// y = x² + 5x + 4, so dy/dx = 2x + 5 = 11 at x = 3.
var x = new Variable(3.0);
var y = x * x + 5.0 * x + 4.0;
y.Backward();
Expect("y(3)", 28.0, y.Item());
Expect("dy/dx at 3", 11.0, x.Grad!.Item());

// Vectors and an Autograd op: z = Σ tanh(w·v), so dz/dw = (1 − tanh²(w·v))·v and dz/dv = (1 − tanh²(w·v))·w.
var w = new Variable(new[] { 0.5, -1.0, 2.0 });
var v = new Variable(new[] { 1.0, 2.0, -0.5 });
var z = Autograd.SumAll(Autograd.Tanh(w * v));
z.Backward();
var wv = w.ToArray().Zip(v.ToArray(), (a, b) => a * b).ToArray();
for (var i = 0; i < 3; i++)
{
    var slope = 1.0 - Math.Tanh(wv[i]) * Math.Tanh(wv[i]);
    Expect($"dz/dw[{i}]", slope * v.ToArray()[i], w.Grad!.ToArray()[i]);
    Expect($"dz/dv[{i}]", slope * w.ToArray()[i], v.Grad!.ToArray()[i]);
}

// Gradients accumulate until cleared, as in PyTorch: a second backward pass adds to .Grad.
x.ZeroGrad();
(x * x).Backward();
Expect("d(x²)/dx at 3 after ZeroGrad", 6.0, x.Grad!.Item());

Console.WriteLine(failures == 0 ? "quickstart: all values as expected" : $"quickstart: {failures} mismatches");
return failures == 0 ? 0 : 1;
