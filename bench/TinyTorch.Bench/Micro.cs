using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Perfolizer.Horology;

namespace TinyTorch.Bench;

/// <summary>
/// <c>bdn [BenchmarkDotNet args]</c>: the BenchmarkDotNet micro-benchmarks. They run in this process (no generated
/// project to build) with a short job, so the whole set takes a few minutes; BenchmarkDotNet's own arguments pass
/// through (<c>--filter *Gemm*</c>, <c>--list flat</c>, <c>--job</c> …). Without <c>--filter</c> everything runs.
/// </summary>
internal static class Micro
{
    public static int Run(string[] args)
    {
        var job = Job.Default
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithLaunchCount(1)
            .WithWarmupCount(3)
            .WithIterationCount(7)
            .WithIterationTime(TimeInterval.FromMilliseconds(120))
            .WithId("short-inprocess");
        var config = DefaultConfig.Instance
            .AddJob(job)
            .WithOptions(ConfigOptions.DisableLogFile);
        bool hasFilter = args.Any(a => a is "--filter" or "-f" || a.StartsWith("--filter=", StringComparison.Ordinal));
        bool listing = args.Any(a => a is "--list" or "--info" or "--help" or "-h" || a.StartsWith("--list=", StringComparison.Ordinal));
        string[] full = hasFilter || listing ? args : [.. args, "--filter", "*"];
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Micro).Assembly).Run(full, config);
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }
}

/// <summary>Per-op overhead: one scalar op through the public API, and one scalar op plus its backward pass.</summary>
[MemoryDiagnoser]
public class ScalarOp
{
    private Variable x = null!;
    private Variable y = null!;

    /// <summary>Builds the inputs once, on one thread unless the benchmark says otherwise.</summary>
    [GlobalSetup]
    public void Setup()
    {
        Threads.Count = 1;
        x = new Variable(1.5);
        y = new Variable(2.5);
    }

    /// <summary>z = x·y on 0-d float64 variables that require grad (records one graph node).</summary>
    [Benchmark(Baseline = true)]
    public Variable Multiply() => x * y;

    /// <summary>z = x·y + x, then backward and zero grad.</summary>
    [Benchmark]
    public Variable MultiplyAddBackward()
    {
        var z = x * y + x;
        z.Backward();
        x.Grad = null;
        y.Grad = null;
        return z;
    }
}

/// <summary>
/// GEMM shapes: the W4 MLP's products (forward X·W, weight gradient Xᵀ·G, input gradient G·Wᵀ, the small layers)
/// and square W6 sizes, through the internal kernel into a reused output (<c>Raw</c>) and through
/// <c>Autograd.MatMul</c> (<c>Api</c>, a fresh output tensor per call), on 1 and 2 threads.
/// </summary>
public class Gemm
{
    private float[] a = [];
    private float[] b = [];
    private float[] c = [];
    private Variable va = null!;
    private Variable vb = null!;
    private (int M, int N, int K, bool TA, bool TB) s;

    /// <summary>m×n×k with the transposes of A and B ("TN": A stored k×m).</summary>
    [Params("256x784x256", "784x256x256TN", "256x256x784NT", "256x256x128", "256x128x10", "512", "1024")]
    public string Shape { get; set; } = "512";

    /// <summary>Threads.Count during the benchmark.</summary>
    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    /// <summary>Builds the inputs once, on one thread unless the benchmark says otherwise.</summary>
    [GlobalSetup]
    public void Setup()
    {
        TinyTorch.Threads.Count = Threads;
        s = RawGemm.Parse(Shape);
        var rng = new Random(3);
        a = Enumerable.Range(0, s.M * s.K).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        b = Enumerable.Range(0, s.K * s.N).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        c = new float[s.M * s.N];
        // The API products use the plain layout (Autograd.MatMul has no transposed operands of its own).
        va = new Variable(Tensor.FromArray(a, s.M, s.K), requiresGrad: false);
        vb = new Variable(Tensor.FromArray(b, s.K, s.N), requiresGrad: false);
    }

    /// <summary>Restores the default thread count.</summary>
    [GlobalCleanup]
    public void Cleanup() => TinyTorch.Threads.Count = Environment.ProcessorCount;

    /// <summary>The kernel alone, into a reused output.</summary>
    [Benchmark]
    public float[] Raw()
    {
        RawGemm.F32(s.TA, s.TB, s.M, s.N, s.K, a, 0, b, 0, c, 0);
        return c;
    }

    /// <summary>Autograd.MatMul on variables that do not require grad (new output per call).</summary>
    [Benchmark]
    public Variable Api() => Autograd.MatMul(va, vb);
}

/// <summary>Reductions and softmax on a [1000, 1000] float32 matrix, and a backward pass through softmax.</summary>
[MemoryDiagnoser]
public class Reductions
{
    private Variable x = null!;
    private Variable leaf = null!;

    /// <summary>Builds the inputs once, on one thread unless the benchmark says otherwise.</summary>
    [GlobalSetup]
    public void Setup()
    {
        Threads.Count = 1;
        var rng = new Random(4);
        var data = Enumerable.Range(0, 1000 * 1000).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        x = new Variable(Tensor.FromArray(data, 1000, 1000), requiresGrad: false);
        leaf = new Variable(Tensor.FromArray(data, 1000, 1000));
    }

    /// <summary>Σ of all 10⁶ elements.</summary>
    [Benchmark]
    public Variable SumAll() => Autograd.SumAll(x);

    /// <summary>Σ over the rows (axis 0): strided.</summary>
    [Benchmark]
    public Variable SumAxis0() => Autograd.Sum(x, 0);

    /// <summary>Σ over the columns (axis 1): contiguous.</summary>
    [Benchmark]
    public Variable SumAxis1() => Autograd.Sum(x, 1);

    /// <summary>Max over the last axis.</summary>
    [Benchmark]
    public Variable MaxAxis1() => Autograd.Max(x, 1);

    /// <summary>Softmax over the last axis.</summary>
    [Benchmark]
    public Variable Softmax() => Autograd.Softmax(x);

    /// <summary>Σ softmax(x)⊙softmax(x) forward and backward.</summary>
    [Benchmark]
    public Variable SoftmaxBackward()
    {
        var p = Autograd.Softmax(leaf);
        var loss = Autograd.SumAll(p * p);
        loss.Backward();
        leaf.Grad = null;
        return loss;
    }
}

/// <summary>The backward pass of a large graph built once: a chain of 10⁵ scalar nodes, and a 200-level diamond.</summary>
public class LargeBackward
{
    private Variable chainLeaf = null!;
    private Variable chainRoot = null!;
    private Variable diamondLeaf = null!;
    private Variable diamondRoot = null!;

    /// <summary>Builds the inputs once, on one thread unless the benchmark says otherwise.</summary>
    [GlobalSetup]
    public void Setup()
    {
        Threads.Count = 1;
        chainLeaf = new Variable(1.0);
        var y = chainLeaf;
        for (int i = 0; i < 50_000; i++) y = y * 1.0000001 + 0.0;
        chainRoot = y;
        diamondLeaf = new Variable(0.5);
        var d = diamondLeaf;
        for (int i = 0; i < 200; i++) d = d * d * 0.5 + d * 0.5;
        diamondRoot = d;
    }

    /// <summary>Backward through 10⁵ nodes (y = y·c + 0, 50 000 times).</summary>
    [Benchmark]
    public Variable Chain100k()
    {
        chainRoot.Backward();
        var g = chainLeaf.Grad!;
        chainLeaf.Grad = null;
        return g;
    }

    /// <summary>Backward through 800 nodes where each level's value is used three times.</summary>
    [Benchmark]
    public Variable Diamond800()
    {
        diamondRoot.Backward();
        var g = diamondLeaf.Grad!;
        diamondLeaf.Grad = null;
        return g;
    }
}
