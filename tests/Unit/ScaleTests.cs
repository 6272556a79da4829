using TinyTorch.Cli;
using TinyTorch.Data;
using TinyTorch.Nn;
using TinyTorch.Optim;

namespace TinyTorch.Tests;

/// <summary>Tests that measure the process's managed memory run alone, after every parallel test has finished.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryCollection
{
    public const string Name = "memory (runs alone)";
}

/// <summary>
/// Scale and resources (README "Guarantees"): a 10⁶-node graph, a tensor of 10⁸ float32 elements and
/// 10 000 training steps run without growing memory — asserted on <see cref="GC.GetTotalMemory(bool)"/>
/// after a full collection, never on time — and the digits training run is repeatable bit for bit.
/// Memory is compared between two points after a warm-up, so caches and pools of bounded size are allowed.
/// </summary>
[Collection(MemoryCollection.Name)]
public class ScaleTests
{
    private const long MiB = 1L << 20;

    private static long Settled()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static double MillionNodeChain()
    {
        // y = ((x · 1.000001) · 1.000001) … 10⁶ times, then backward through every node.
        var x = new Variable(1.0);
        var y = x;
        for (var i = 0; i < 1_000_000; i++)
        {
            y = y * 1.000001;
        }
        y.Backward();
        return x.Grad!.Item();
    }

    [Fact]
    public void A_million_node_graph_is_released_after_backward()
    {
        var before = Settled();
        Check.Relative(Math.Pow(1.000001, 1_000_000), MillionNodeChain(), 1e-9);
        var after = Settled();
        // A live 10⁶-node graph takes well over 100 MiB; nothing of it may survive.
        Assert.True(after - before < 16 * MiB, $"managed memory grew from {before / MiB} MiB to {after / MiB} MiB");
    }

    /// <summary>In its own frame, so nothing keeps the tensors alive afterwards (Debug builds extend locals to the end of a method).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static (double Sum, double GradientSum) HundredMillion()
    {
        const int n = 100_000_000;
        var x = new Variable(Tensor.Full(Shape.Of(n), 0.5, DType.Float32));
        var y = x.Sum();
        var sum = y.Item();
        y.Backward();
        var g = x.Grad!.Data;
        Assert.Equal(Shape.Of(n), g.Shape);
        Assert.Equal(DType.Float32, g.DType);
        return (sum, g.GetFlat(0) + g.GetFlat(n / 2) + g.GetFlat(n - 1));
    }

    [Fact]
    public void A_tensor_of_a_hundred_million_float32_elements_sums_and_backpropagates_and_is_released()
    {
        var before = Settled();
        var (sum, gradientSum) = HundredMillion();
        Assert.Equal(5e7, sum, 0);  // 0.5 · 10⁸, exactly representable however the sum is split
        Assert.Equal(3.0, gradientSum);
        var after = Settled();
        Assert.True(after - before < 64 * MiB, $"managed memory grew from {before / MiB} MiB to {after / MiB} MiB (one such tensor is 381 MiB)");
    }

    private static (Sequential Model, Optimizer Optimizer, Variable Input, Tensor Labels) SmallTrainingSetup()
    {
        var random = new Random(11);
        var model = new Sequential(new Linear(10, 32, random: random), new ReLU(), new Linear(32, 4, random: random));
        var optimizer = new Adam(model.Parameters(), lr: 1e-3);
        var x = new float[16, 10];
        var labels = new long[16];
        for (var i = 0; i < 16; i++)
        {
            labels[i] = i % 4;
            for (var j = 0; j < 10; j++)
            {
                x[i, j] = (float)random.NextDouble();
            }
        }
        return (model, optimizer, new Variable(x, requiresGrad: false), new Tensor(labels));
    }

    private static double Steps(Sequential model, Optimizer optimizer, Variable input, Tensor labels, int count)
    {
        var loss = 0.0;
        for (var s = 0; s < count; s++)
        {
            optimizer.ZeroGrad();
            var l = Autograd.CrossEntropy(model.Forward(input), labels);
            l.Backward();
            Autograd.ClipGradients(model.Parameters(), 10.0);
            optimizer.Step();
            loss = l.Item();
        }
        return loss;
    }

    [Fact]
    public void Ten_thousand_training_steps_in_a_loop_do_not_grow_memory()
    {
        var (model, optimizer, input, labels) = SmallTrainingSetup();
        var first = Steps(model, optimizer, input, labels, 1_000);
        var afterWarmUp = Settled();
        var last = Steps(model, optimizer, input, labels, 9_000);
        var afterAll = Settled();
        Assert.True(last < first, $"the loss should go down: {first} then {last}");
        Assert.True(double.IsFinite(last));
        // 9 000 more steps: even 1 KiB kept per step would be 9 MiB.
        Assert.True(afterAll - afterWarmUp < 4 * MiB, $"managed memory grew from {afterWarmUp / MiB} MiB to {afterAll / MiB} MiB over 9 000 steps");
    }

    [Fact]
    [Trait("Category", "Long")]
    public void Long_fifty_thousand_training_steps_and_ten_million_node_graphs_do_not_grow_memory()
    {
        var (model, optimizer, input, labels) = SmallTrainingSetup();
        Steps(model, optimizer, input, labels, 5_000);
        var afterWarmUp = Settled();
        Steps(model, optimizer, input, labels, 50_000);
        var afterSteps = Settled();
        Assert.True(afterSteps - afterWarmUp < 4 * MiB, $"managed memory grew from {afterWarmUp / MiB} MiB to {afterSteps / MiB} MiB over 50 000 steps");

        for (var round = 0; round < 10; round++)
        {
            MillionNodeChain();
        }
        var afterGraphs = Settled();
        Assert.True(afterGraphs - afterSteps < 16 * MiB, $"managed memory grew from {afterSteps / MiB} MiB to {afterGraphs / MiB} MiB over ten 10⁶-node graphs");
    }

    private static List<ulong[]> TrainDigits(int threads)
    {
        var saved = Threads.Count;
        try
        {
            Threads.Count = threads;
            var (train, test) = Training.Load("digits", seed: 0);
            var model = Training.Mlp(64, [64], Training.ClassCount(train), seed: 0);
            var optimizer = Training.CreateOptimizer("adam", model.Parameters(), 1e-2);
            var loader = new DataLoader(train, batchSize: 32, shuffle: true, seed: 1);
            var losses = new List<double>();
            for (var epoch = 0; epoch < 2; epoch++)
            {
                losses.Add(Training.TrainEpoch(model, optimizer, loader, epoch));
            }
            var accuracy = Training.Accuracy(Training.Predict(model, test.Features), test.Labels);
            Assert.True(accuracy > 0.8, $"test accuracy {accuracy}");
            return
            [
                losses.Select(l => (ulong)BitConverter.DoubleToInt64Bits(l)).ToArray(),
                .. model.Parameters().Select(p => p.Data.ToArray().Select(v => (ulong)BitConverter.DoubleToInt64Bits(v)).ToArray()),
                .. optimizer.StateTensors().OrderBy(p => p.Key, StringComparer.Ordinal)
                    .Select(p => p.Value.ToArray().Select(v => (ulong)BitConverter.DoubleToInt64Bits(v)).ToArray()),
            ];
        }
        finally
        {
            Threads.Count = saved;
        }
    }

    [Fact]
    public void The_digits_training_run_is_repeatable_bit_for_bit_with_one_thread_or_several()
    {
        var one = TrainDigits(1);
        var again = TrainDigits(1);
        var several = TrainDigits(Math.Max(2, Environment.ProcessorCount));
        Assert.Equal(one.Count, again.Count);
        for (var i = 0; i < one.Count; i++)
        {
            Assert.True(one[i].SequenceEqual(again[i]), $"result {i} differs between two runs");
            Assert.True(one[i].SequenceEqual(several[i]), $"result {i} differs between 1 and several threads");
        }
    }
}
