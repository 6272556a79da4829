#:project ../src/TinyTorch/TinyTorch.csproj
#:project ../src/TinyTorch.Testing/TinyTorch.Testing.fsproj
#:package FsCheck
// Checking the derivatives of your own C# code with GradCheck: first order (the gradient against central
// differences and forward mode) and second order (the gradient's own derivatives), what a failure says, and
// property tests over generated inputs with FsCheck and TinyTorch.Testing (shrunk counterexamples).
// Run from the repository root: dotnet run examples/gradcheck.cs   (.NET 10 file-based app)
using FsCheck;
using FsCheck.Fluent;
using TinyTorch;
using TinyTorch.Functional;
using TinyTorch.Functional.Testing;

var failures = 0;

void Expect(string what, bool ok)
{
    Console.WriteLine($"{(ok ? "ok  " : "FAIL")} {what}");
    failures += ok ? 0 : 1;
}

var a = Tensor.FromArray([0.5, -1.25, 2.0], 3);
var b = Tensor.FromArray([1.5, 0.75, -0.5], 3);

// 1. Any function of variables built with the library: f(a, b) = tanh(a·b), elementwise.
var result = GradCheck.Check(x => Autograd.Tanh(x[0] * x[1]), a, b);
Console.WriteLine(result);
Expect("tanh(a·b) has the right gradient", result.Passed);

// 2. Second order (gradgrad): needed for anything that differentiates a gradient (Hessians, gradient penalties).
var second = GradCheck.CheckSecondOrder(x => Autograd.SumAll(Autograd.Tanh(x[0]) * Autograd.Sin(x[1])), a, b);
Console.WriteLine(second);
Expect("Σ tanh(a)·sin(b) has the right second derivatives", second.Passed);

// 3. Your own op with its own derivative rule. This square forgets the factor 2 in its VJP (x instead of 2x)...
var buggy = Autograd.DefineFunction("buggy_square", v => v[0] * v[0], (x, _, g) => [g * x[0]], check: false);
var caught = GradCheck.Check(x => Autograd.SumAll(buggy.Apply(x[0])), a);
Console.WriteLine(caught); // names the input, the element, analytic and numeric values, and the tolerance
Expect("the missing factor 2 is caught", !caught.Passed && caught.Mismatches.Any(m => m.Input == 0 && m.Element == 0));

// ...and this one is right to first order but detaches x inside its VJP, so its second derivative is lost.
var detached = Autograd.DefineFunction("detached_square", v => v[0] * v[0], (x, _, g) => [g * (2.0 * x[0].Detach())], check: false);
Variable UsesDetached(Variable[] x) => Autograd.SumAll(detached.Apply(x[0]));
Expect("the detached VJP passes first order", GradCheck.Check(UsesDetached, a).Passed);
var lost = GradCheck.CheckSecondOrder(UsesDetached, a);
Console.WriteLine(lost);
Expect("the detached VJP fails second order", !lost.Passed);

// 4. The throwing form, for tests; options for other tolerances (e.g. float32 code) or steps.
try
{
    GradCheck.AssertGradients(x => Autograd.SumAll(buggy.Apply(x[0])), GradCheckOptions.Default.WithTolerance(1e-4, 1e-2), a);
    Expect("AssertGradients throws for the buggy square", false);
}
catch (GradientCheckException e)
{
    Expect($"AssertGradients throws GradientCheckException with {e.Mismatches.Count} mismatches", e.Mismatches.Count > 0);
}

// 5. Property tests: for all generated inputs (one random shape of rank 0-3, values from a domain kept away from
// kinks), the check passes. A failure is shrunk by FsCheck to a small case and labelled with the report.
Prop.ForAll(
        GradientInputs.SameShape(Domain.Any, 2),
        (Tensor[] xs) => GradientProperties.Of(GradCheck.Check(x => Autograd.Tanh(x[0] * x[1]) + Autograd.Sin(x[0]), xs)))
    .Check(Config.QuickThrowOnFailure.WithMaxTest(50));
Expect("tanh(a·b) + sin(a) passes for 50 generated input pairs", true);

Prop.ForAll(
        GradientInputs.SameShape(Domain.Positive, 1),
        (Tensor[] xs) => GradientProperties.Of(GradCheck.CheckSecondOrder(x => Autograd.Log(x[0]) * Autograd.Sqrt(x[0]), xs)))
    .Check(Config.QuickThrowOnFailure.WithMaxTest(30));
Expect("log(x)·sqrt(x) passes second order for 30 generated positive inputs", true);

try
{
    Prop.ForAll(
            GradientInputs.SameShape(Domain.AwayFrom(0.5), 1),
            (Tensor[] xs) => GradientProperties.Of(GradCheck.Check(x => Autograd.SumAll(buggy.Apply(x[0])), xs)))
        .Check(Config.QuickThrowOnFailure.WithMaxTest(100));
    Expect("FsCheck finds the buggy square", false);
}
catch (Exception e)
{
    // "Falsifiable, after 1 test (4 shrinks) … Label of failing property: gradient check failed … Shrunk: [|Tensor(1)|]"
    Console.WriteLine(e.Message);
    Expect("FsCheck finds the buggy square and names input 0", e.Message.Contains("Falsifiable") && e.Message.Contains("input 0"));
}

Console.WriteLine(failures == 0 ? "gradcheck: every check behaved as expected" : $"gradcheck: {failures} unexpected results");
return failures == 0 ? 0 : 1;
