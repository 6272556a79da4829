using TinyTorch.Nn;
using TinyTorch.Optim;

namespace TinyTorch.Tests;

/// <summary>
/// Concurrency (README "Guarantees", thread safety): independent graphs built and differentiated on many
/// threads at once give bitwise the same results as one after another; forward passes and
/// <see cref="Autograd.Grad(Variable, IReadOnlyList{Variable}, Variable?, bool, bool)"/> over shared
/// parameters that nobody mutates are safe; NoGrad and anomaly scopes belong to their async flow;
/// results do not depend on <see cref="Threads.Count"/>.
/// </summary>
public class ConcurrencyTests
{
    private const int Workers = 16;

    private static ulong[] Bits(Tensor t) => t.ToArray().Select(v => (ulong)BitConverter.DoubleToInt64Bits(v)).ToArray();

    /// <summary>One worker's job: a model, a few training steps, an Adam optimizer, a custom op and a hook, all its own.</summary>
    private static List<ulong[]> Job(int seed)
    {
        var random = new Random(seed);
        var model = new Sequential(
            new Linear(8, 16, dtype: DType.Float64, random: random),
            new Tanh(),
            new Linear(16, 3, dtype: DType.Float64, random: random));
        var optimizer = new Adam(model.Parameters(), lr: 0.01);
        var x = new double[12, 8];
        var labels = new long[12];
        for (var i = 0; i < 12; i++)
        {
            labels[i] = random.Next(3);
            for (var j = 0; j < 8; j++)
            {
                x[i, j] = random.NextDouble() * 2 - 1;
            }
        }
        var input = new Variable(x, requiresGrad: false);
        var target = new Tensor(labels);
        var results = new List<ulong[]>();
        for (var step = 0; step < 5; step++)
        {
            optimizer.ZeroGrad();
            var hidden = model.Forward(input);
            using var hook = hidden.RegisterHook(g => g * 0.5);
            var loss = Autograd.CrossEntropy(hidden, target) + (hidden * hidden).Mean() * 0.01;
            loss.Backward();
            Autograd.ClipGradients(model.Parameters(), 5.0);
            optimizer.Step();
            results.Add(Bits(loss.Data));
        }
        results.AddRange(model.Parameters().Select(p => Bits(p.Data)));
        results.AddRange(optimizer.StateTensors().OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => Bits(p.Value)));
        return results;
    }

    private static T[] OnThreads<T>(int count, Func<int, T> body)
    {
        using var start = new Barrier(count);
        var results = new T[count];
        var errors = new Exception?[count];
        var threads = Enumerable.Range(0, count).Select(i => new Thread(() =>
        {
            try
            {
                start.SignalAndWait();
                results[i] = body(i);
            }
            catch (Exception e)
            {
                errors[i] = e;
            }
        })).ToArray();
        foreach (var t in threads)
        {
            t.Start();
        }
        foreach (var t in threads)
        {
            t.Join();
        }
        Assert.All(errors, e => Assert.Null(e));
        return results;
    }

    private static void AssertSameBits(List<ulong[]> expected, List<ulong[]> actual, string what)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.True(expected[i].SequenceEqual(actual[i]), $"{what}: result {i} differs from the sequential run");
        }
    }

    [Fact]
    public void Training_runs_on_many_threads_at_once_match_the_sequential_runs_bit_for_bit()
    {
        var sequential = Enumerable.Range(0, Workers).Select(i => Job(1000 + i % 4)).ToArray();
        var concurrent = OnThreads(Workers, i => Job(1000 + i % 4));
        for (var i = 0; i < Workers; i++)
        {
            AssertSameBits(sequential[i], concurrent[i], $"worker {i}");
        }
    }

    [Fact]
    [Trait("Category", "Long")]
    public void Long_training_runs_on_many_threads_at_once_match_the_sequential_runs_bit_for_bit()
    {
        for (var round = 0; round < 20; round++)
        {
            var sequential = Enumerable.Range(0, 64).Select(i => Job(round * 100 + i)).ToArray();
            var concurrent = OnThreads(64, i => Job(round * 100 + i));
            for (var i = 0; i < 64; i++)
            {
                AssertSameBits(sequential[i], concurrent[i], $"round {round}, worker {i}");
            }
        }
    }

    [Fact]
    public void Forward_passes_and_Autograd_Grad_over_shared_parameters_are_safe_when_nobody_mutates_them()
    {
        var model = new Sequential(
            new Linear(6, 10, dtype: DType.Float64, random: new Random(7)),
            new Tanh(),
            new Linear(10, 2, dtype: DType.Float64, random: new Random(8)));
        var parameters = model.Parameters();
        List<ulong[]> Gradients(int i)
        {
            var random = new Random(i);
            var x = new double[4, 6];
            for (var r = 0; r < 4; r++)
            {
                for (var c = 0; c < 6; c++)
                {
                    x[r, c] = random.NextDouble();
                }
            }
            var y = model.Forward(new Variable(x, requiresGrad: false));
            var loss = (y * y).Sum();
            return [Bits(loss.Data), .. Autograd.Grad(loss, parameters).Select(g => Bits(g!.Data))];
        }
        var sequential = Enumerable.Range(0, Workers).Select(Gradients).ToArray();
        var concurrent = OnThreads(Workers, Gradients);
        for (var i = 0; i < Workers; i++)
        {
            AssertSameBits(sequential[i], concurrent[i], $"worker {i}");
        }
        Assert.All(parameters, p => Assert.Null(p.Grad)); // Autograd.Grad never touches Grad
    }

    [Fact]
    public void NoGrad_and_anomaly_scopes_on_one_thread_do_not_affect_threads_running_at_the_same_time()
    {
        var x = new Variable(new[] { 1.0, 2.0 });
        using var inside = new Barrier(Workers);
        var seen = OnThreads(Workers, i =>
        {
            var noGrad = i % 2 == 0;
            var anomaly = i % 3 == 0;
            using var g = noGrad ? Autograd.NoGrad() : null;
            using var a = anomaly ? Autograd.DetectAnomaly() : null;
            inside.SignalAndWait(); // every thread is inside its scopes (or none) at this point
            var requires = (x * x).RequiresGrad;
            var detects = Autograd.IsAnomalyDetectionEnabled;
            var threw = Record.Exception(() => Autograd.Log(new Variable(new[] { -1.0, 1.0 }) * double.NaN)) is NonFiniteGradientException;
            inside.SignalAndWait(); // and still inside while the others check
            return (Expected: (!noGrad, anomaly), Seen: (requires, detects), Threw: threw);
        });
        Assert.All(seen, s =>
        {
            Assert.Equal(s.Expected, s.Seen);
            Assert.Equal(s.Expected.Item2, s.Threw);
        });
        Assert.True(Autograd.IsGradEnabled);
        Assert.False(Autograd.IsAnomalyDetectionEnabled);
    }

    [Fact]
    public async Task A_NoGrad_scope_follows_its_async_flow_across_awaits_and_into_child_tasks_but_not_back_out()
    {
        var x = new Variable(3.0);
        using (Autograd.NoGrad())
        {
            await Task.Yield();
            Assert.False(Autograd.IsGradEnabled);
            Assert.False(await Task.Run(() => (x * x).RequiresGrad));
            await Task.Delay(1);
            Assert.False((x * x).RequiresGrad);
        }
        Assert.True(Autograd.IsGradEnabled);

        // A scope opened inside a child task ends with that task: the parent flow never sees it.
        await Task.Run(async () =>
        {
            var scope = Autograd.NoGrad();
            await Task.Yield();
            Assert.False(Autograd.IsGradEnabled);
            _ = scope; // deliberately not disposed
        });
        Assert.True(Autograd.IsGradEnabled);
        Assert.True((x * x).RequiresGrad);
    }

    [Fact]
    public void Results_are_bitwise_identical_for_any_thread_count()
    {
        List<ulong[]> Compute()
        {
            var random = new Random(3);
            var a = Tensor.FromArray(Enumerable.Range(0, 300 * 200).Select(_ => random.NextDouble() - 0.5).ToArray(), 300, 200);
            var b = Tensor.FromArray(Enumerable.Range(0, 200 * 100).Select(_ => random.NextDouble() - 0.5).ToArray(), 200, 100);
            var big = Tensor.FromArray(Enumerable.Range(0, 1 << 20).Select(_ => (float)random.NextDouble()).ToArray(), 1 << 20);
            var wa = new Variable(a);
            var wb = new Variable(b);
            var v = new Variable(big);
            var loss = Autograd.Tanh(Autograd.MatMul(wa, wb)).Sum() + (Autograd.Sigmoid(v) * v).Sum() + Autograd.Exp(v * -1f).Mean();
            loss.Backward();
            return [Bits(loss.Data), Bits(wa.Grad!.Data), Bits(wb.Grad!.Data), Bits(v.Grad!.Data)];
        }
        var saved = Threads.Count;
        try
        {
            Threads.Count = 1;
            var one = Compute();
            foreach (var n in new[] { 2, 3, 8 })
            {
                Threads.Count = n;
                AssertSameBits(one, Compute(), $"{n} threads");
            }
        }
        finally
        {
            Threads.Count = saved;
        }
    }

    [Fact]
    public void An_op_that_returns_its_input_unchanged_inside_NoGrad_still_gives_a_result_that_requires_no_grad()
    {
        // Regression: reshape to the same shape (and dropout in eval mode) return the input's own node; inside
        // NoGrad the façade used to hand back a variable that required grad and led to the leaf.
        var x = new Variable(new[] { 1.0, 2.0 });
        var dropout = new Dropout(0.5, new Random(1));
        dropout.Eval();
        using (Autograd.NoGrad())
        {
            var same = x.Reshape(2);
            Assert.False(same.RequiresGrad);
            Assert.False(dropout.Forward(x).RequiresGrad);
            Assert.True(x.RequiresGrad);
        }
        var outside = x.Reshape(2);
        Assert.True(outside.RequiresGrad);
        (outside * 3.0).Sum().Backward();
        Assert.Equal(new[] { 3.0, 3.0 }, x.Grad!.ToArray());
    }
}
