namespace TinyTorch.Tests;

/// <summary>
/// Tests that change the process-wide <see cref="Threads.Count"/>. They run in this collection, which xunit never runs in
/// parallel with any other test, and each restores the count it found.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ThreadsCountCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Threads.Count (not parallel)";
}

/// <summary>
/// <see cref="Threads.Count"/>: its validation, and the guarantee that results do not depend on it — a matrix product
/// splits its work over output blocks only (never over the inner dimension), so every output element is computed by the
/// same sequence of operations on one thread or many.
/// </summary>
[Collection(ThreadsCountCollection.Name)]
public sealed class ThreadsTests
{
    private static readonly int[] Counts = [1, 2, 3, 8];

    /// <summary>Runs <paramref name="body"/> with the thread count set, restoring the previous count afterwards.</summary>
    private static T With<T>(int threads, Func<T> body)
    {
        var saved = Threads.Count;
        Threads.Count = threads;
        try
        {
            return body();
        }
        finally
        {
            Threads.Count = saved;
        }
    }

    private static Tensor Random(Random rng, bool float32, params int[] shape)
    {
        var size = shape.Aggregate(1, (a, d) => a * d);
        if (float32)
        {
            var data = new float[size];
            for (var i = 0; i < size; i++) data[i] = (float)(rng.NextDouble() * 2 - 1);
            return Tensor.FromArray(data, shape);
        }
        var values = new double[size];
        for (var i = 0; i < size; i++) values[i] = rng.NextDouble() * 2 - 1;
        return Tensor.FromArray(values, shape);
    }

    /// <summary>
    /// C = A·B, then the backward pass of Σ (C ⊙ W), which computes dA = W·Bᵀ and dB = Aᵀ·W: the plain product and both
    /// transposed-operand products. Returns the three results' values.
    /// </summary>
    private static double[][] ProductAndGradients(Tensor a, Tensor b, Tensor w)
    {
        var va = new Variable(a);
        var vb = new Variable(b);
        var c = Autograd.MatMul(va, vb);
        Autograd.SumAll(c * new Variable(w, requiresGrad: false)).Backward();
        return [c.Data.ToArray(), va.Grad!.Data.ToArray(), vb.Grad!.Data.ToArray()];
    }

    private static void AssertBitwiseEqual(double[] expected, double[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            if (BitConverter.DoubleToInt64Bits(expected[i]) != BitConverter.DoubleToInt64Bits(actual[i]))
            {
                Assert.Fail($"{what}: element {i} is {actual[i]:R}, with one thread {expected[i]:R}");
            }
        }
    }

    public static TheoryData<int, int, int, bool> Shapes()
    {
        // Edge tiles in every direction (sizes that are not multiples of the register tile), several inner-dimension
        // slices (k > 256), more than one column panel (n > 2048 for float32, > 1024 for float64), and products large
        // enough to be split over threads as well as small ones that stay on one thread.
        var data = new TheoryData<int, int, int, bool>();
        foreach (var float32 in new[] { true, false })
        {
            data.Add(257, 129, 513, float32);
            data.Add(9, 2100, 300, float32);
            data.Add(300, 33, 700, float32);
            data.Add(128, 256, 256, float32);
            data.Add(7, 5, 3, float32);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void A_matrix_product_and_its_gradients_are_bitwise_identical_for_any_thread_count(int m, int n, int k, bool float32)
    {
        var rng = new Random(m * 1_000_003 + n * 1009 + k);
        var a = Random(rng, float32, m, k);
        var b = Random(rng, float32, k, n);
        var w = Random(rng, float32, m, n);
        var reference = With(1, () => ProductAndGradients(a, b, w));
        foreach (var threads in Counts[1..])
        {
            var result = With(threads, () => ProductAndGradients(a, b, w));
            AssertBitwiseEqual(reference[0], result[0], $"A·B [{m}, {k}]·[{k}, {n}] on {threads} threads");
            AssertBitwiseEqual(reference[1], result[1], $"dA = W·Bᵀ on {threads} threads");
            AssertBitwiseEqual(reference[2], result[2], $"dB = Aᵀ·W on {threads} threads");
        }
    }

    [Fact]
    public void Random_shapes_give_bitwise_identical_products_for_any_thread_count()
    {
        var rng = new Random(2024);
        for (var trial = 0; trial < 24; trial++)
        {
            var float32 = trial % 2 == 0;
            int m = rng.Next(1, 300), n = rng.Next(1, 300), k = rng.Next(1, 600);
            var a = Random(rng, float32, m, k);
            var b = Random(rng, float32, k, n);
            var w = Random(rng, float32, m, n);
            var reference = With(1, () => ProductAndGradients(a, b, w));
            var result = With(2 + trial % 3, () => ProductAndGradients(a, b, w));
            for (var i = 0; i < 3; i++)
            {
                AssertBitwiseEqual(reference[i], result[i], $"trial {trial} ({(float32 ? "float32" : "float64")} m={m} n={n} k={k}), result {i}");
            }
        }
    }

    [Fact]
    public void A_product_too_large_to_pack_at_once_is_bitwise_identical_for_any_thread_count()
    {
        // B is 4000 × 2100 float32 (33.6 MB): split over threads, the inner dimension is packed in spans of whole
        // slices that fit the packing workspace, and the columns in more than one panel.
        var rng = new Random(8);
        var a = Random(rng, true, 9, 4000);
        var b = Random(rng, true, 4000, 2100);
        var reference = With(1, () => Autograd.MatMul(new Variable(a), new Variable(b)).Data.ToArray());
        var parallel = With(2, () => Autograd.MatMul(new Variable(a), new Variable(b)).Data.ToArray());
        AssertBitwiseEqual(reference, parallel, "[9, 4000]·[4000, 2100]");
    }

    [Fact]
    public void A_batched_product_is_bitwise_identical_for_any_thread_count()
    {
        var rng = new Random(5);
        var a = Random(rng, true, 3, 130, 270);
        var b = Random(rng, true, 3, 270, 70);
        var reference = With(1, () => Autograd.MatMul(new Variable(a), new Variable(b)).Data.ToArray());
        var parallel = With(4, () => Autograd.MatMul(new Variable(a), new Variable(b)).Data.ToArray());
        AssertBitwiseEqual(reference, parallel, "batched [3, 130, 270]·[3, 270, 70]");
    }

    /// <summary>Σ_p x[i, p]·y[p, j] in float64, with x m×k (or k×m when transX) and y k×n (or n×k when transY).</summary>
    private static double[] Reference(double[] x, double[] y, int m, int n, int k, bool transX, bool transY)
    {
        var c = new double[m * n];
        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < n; j++)
            {
                var sum = 0.0;
                for (var p = 0; p < k; p++) sum += (transX ? x[p * m + i] : x[i * k + p]) * (transY ? y[j * k + p] : y[p * n + j]);
                c[i * n + j] = sum;
            }
        }
        return c;
    }

    private static void AssertClose(double[] expected, double[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"{what}: element {i} is {actual[i]:R}, expected {expected[i]:R}");
        }
    }

    [Theory]
    [InlineData(150, 90, 310, 2, false)]
    [InlineData(150, 90, 310, 2, true)]
    [InlineData(67, 131, 45, 1, true)]
    [InlineData(67, 131, 45, 3, true)]
    [InlineData(260, 70, 530, 1, true)]
    public void The_product_and_its_transposed_gradients_match_a_plain_triple_loop(int m, int n, int k, int threads, bool float32)
    {
        // Not only repeatable but right, on one thread and split over several, in both dtypes: C = A·B, dA = W·Bᵀ and
        // dB = Aᵀ·W against Σ_p in float64 (float32 inputs are exact in float64; the tolerance covers float32 rounding).
        var rng = new Random(m + n + k);
        var a = Random(rng, float32, m, k);
        var b = Random(rng, float32, k, n);
        var w = Random(rng, float32, m, n);
        var results = With(threads, () => ProductAndGradients(a, b, w));
        double[] av = a.ToArray(), bv = b.ToArray(), wv = w.ToArray();
        var tolerance = float32 ? 1e-5 * k : 1e-12 * k;
        AssertClose(Reference(av, bv, m, n, k, false, false), results[0], tolerance, "A·B");
        AssertClose(Reference(wv, bv, m, k, n, false, true), results[1], float32 ? 1e-5 * n : 1e-12 * n, "dA = W·Bᵀ");
        AssertClose(Reference(av, wv, k, n, m, true, false), results[2], float32 ? 1e-5 * m : 1e-12 * m, "dB = Aᵀ·W");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(1025)]
    public void An_impossible_thread_count_is_refused_and_the_count_is_unchanged(int value)
    {
        var before = Threads.Count;
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Threads.Count = value);
        Assert.Contains("Threads.Count", error.Message);
        Assert.Contains("1 to 1024", error.Message);
        Assert.Equal(before, Threads.Count);
    }

    [Fact]
    public void The_cli_train_command_sets_the_thread_count_only_while_it_runs()
    {
        using var folder = new TempFolder();
        var before = Threads.Count;
        var output = new StringWriter();
        var error = new StringWriter();
        var code = Cli.Cli.Run(["train", "--epochs", "1", "--hidden", "8", "--threads", "3", "--out", folder.Root], output, error);
        Assert.True(code == 0, error.ToString());
        Assert.Equal(before, Threads.Count);
    }

    [Fact]
    public void The_cli_refuses_more_than_1024_threads_with_exit_code_2()
    {
        var error = new StringWriter();
        var code = Cli.Cli.Run(["train", "--threads", "5000"], new StringWriter(), error);
        Assert.Equal(2, code);
        Assert.Contains("--threads", error.ToString());
    }
}
