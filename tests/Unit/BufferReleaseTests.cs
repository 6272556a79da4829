using TinyTorch.Functional;

namespace TinyTorch.Tests;

/// <summary>
/// Backward passes give the cotangent buffers that only the engine holds back to the buffer pool as
/// soon as they are consumed. Everything user code can still reach must keep its values: gradients,
/// retained gradients of intermediates, tensors a hook stashed, the cotangent a custom function's VJP
/// received and what it returned, <see cref="Autograd.Grad(Variable, IReadOnlyList{Variable}, Variable?, bool, bool)"/>
/// results. Each test snapshots them, then rents and overwrites many pooled arrays of the same length
/// (a buffer given back too early would be one of them) and checks nothing changed.
/// </summary>
[Collection(MemoryCollection.Name)]
public class BufferReleaseTests
{
    /// <summary>Pooled (more than 16 K elements) and a length no other test uses.</summary>
    private const int N = 20_000 + 77;

    private static Variable Vector(int seed, bool requiresGrad = true)
    {
        var r = new Random(seed);
        return new Variable(Tensor.FromArray(Enumerable.Range(0, N).Select(_ => r.NextDouble() * 2 - 1).ToArray(), N), requiresGrad);
    }

    /// <summary>A collection (dead buffers go back), then 60 rents of the test length, each filled with 7.</summary>
    private static void Churn()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var kept = new List<Tensor>();
        for (var i = 0; i < 60; i++)
        {
            kept.Add(Tensor.Full(Shape.Of(N), 7.0, DType.Float64));
        }
        GC.KeepAlive(kept);
    }

    /// <summary>Snapshots every tensor, churns, and asserts each is bit for bit unchanged.</summary>
    private static void AssertSurvive(params (string Name, Tensor Value)[] kept)
    {
        var before = kept.Select(k => k.Value.ToArray()).ToArray();
        Churn();
        for (var i = 0; i < kept.Length; i++)
        {
            Assert.True(before[i].SequenceEqual(kept[i].Value.ToArray()), $"{kept[i].Name} changed after later allocations: its buffer was released while still reachable");
        }
    }

    [Fact]
    public void XPlusXGivesTwoAndTheGradientSurvives()
    {
        var x = Vector(1);
        Autograd.SumAll(Autograd.Tanh(x + x)).Backward();
        var expected = x.Data.ToArray().Select(v => { var t = Math.Tanh(v + v); return 2 * (1 - t * t); }).ToArray();
        Assert.True(expected.Zip(x.Grad!.Data.ToArray()).All(p => Math.Abs(p.First - p.Second) < 1e-12));
        AssertSurvive(("x.Grad", x.Grad!.Data));
    }

    [Fact]
    public void RetainedGradientsOfIntermediatesSurvive()
    {
        var x = Vector(2);
        var y = Vector(3);
        var h = x * y;
        h.RetainGrad();
        var r = Autograd.Reshape(h, 1, N);
        r.RetainGrad();
        var z = Autograd.Tanh(r);
        Autograd.SumAll(z * z + z).Backward();
        Assert.NotNull(h.Grad);
        AssertSurvive(("h.Grad", h.Grad!.Data), ("r.Grad", r.Grad!.Data), ("x.Grad", x.Grad!.Data), ("y.Grad", y.Grad!.Data));
    }

    [Fact]
    public void TensorsThatHooksStashSurvive()
    {
        var x = Vector(4);
        var h = Autograd.Exp(x * x);
        var g = Autograd.Tanh(h);
        var stashed = new List<(string, Tensor)>();
        using var first = h.RegisterHook(t => { stashed.Add(("h hook argument", t)); return null; });
        using var second = g.RegisterHook(t =>
        {
            stashed.Add(("g hook argument", t));
            var doubled = TensorModule.add(t, t);
            stashed.Add(("g hook result", doubled));
            return doubled;
        });
        using var leafHook = x.RegisterHook(t => { stashed.Add(("x hook argument", t)); return null; });
        Autograd.SumAll(g * g).Backward();
        Assert.Equal(4, stashed.Count);
        AssertSurvive([.. stashed, ("x.Grad", x.Grad!.Data)]);
    }

    [Fact]
    public void ACustomFunctionsCotangentAndResultsSurvive()
    {
        var seen = new List<(string, Tensor)>();
        var triple = Autograd.DefineFunction(
            "triple",
            v => TensorModule.add(TensorModule.add(v[0], v[0]), v[0]),
            (inputs, output, g) =>
            {
                seen.Add(("custom VJP cotangent", g.Data));
                seen.Add(("custom VJP output", output.Data));
                var result = 3.0 * g;
                seen.Add(("custom VJP result", result.Data));
                return [result];
            });
        var x = Vector(5);
        var inner = Autograd.Tanh(x);
        var y = Autograd.Tanh(triple.Apply(inner));
        Autograd.SumAll(y * y).Backward();
        Assert.Equal(3, seen.Count);
        AssertSurvive([.. seen, ("x.Grad", x.Grad!.Data)]);
    }

    [Fact]
    public void GradWithRespectToIntermediatesSurvives()
    {
        var x = Vector(6);
        var h = x * x;
        var v = Autograd.Reshape(h, N, 1);
        var loss = Autograd.SumAll(Autograd.Reshape(Autograd.Tanh(v), N) + Autograd.Exp(h));
        var grads = Autograd.Grad(loss, [h, v, x]);
        var again = Autograd.Grad(loss, [h, v, x]);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(again[i]!.Data.ToArray(), grads[i]!.Data.ToArray());
        }
        AssertSurvive(("d/dh", grads[0]!.Data), ("d/dv", grads[1]!.Data), ("d/dx", grads[2]!.Data));
    }
}
