using FsCheck;
using FsCheck.Fluent;
using TinyTorch.IO;
using TinyTorch.Nn;
using TinyTorch.Optim;

namespace TinyTorch.Tests;

/// <summary>
/// The strong exception guarantee as a property: a model, an optimizer with state, free leaves with
/// gradients and the no-grad/anomaly modes are snapshotted; a random sequence of failing public calls
/// runs (bad shapes, a custom op whose backward throws midway, a hook simulating an out-of-memory, a
/// failing optimizer step, corrupt checkpoints, …), each inside random no-grad/anomaly scopes; after
/// every exception every Data, Grad, RequiresGrad, parameter, optimizer state tensor, learning rate and
/// mode must be exactly as before, and the next training step must equal that of a twin that never failed.
/// </summary>
public class StrongGuaranteeTests
{
    /// <summary>A small model, its Adam optimizer and a few free variables, built deterministically from a seed.</summary>
    internal sealed class World
    {
        public World(int seed, int warmSteps)
        {
            var random = new Random(seed);
            Model = new Sequential(
                new Linear(3, 4, dtype: DType.Float64, random: random),
                new Tanh(),
                new Linear(4, 2, dtype: DType.Float64, random: random));
            A = new Variable(new[] { 0.5 + random.NextDouble(), -0.25, 1.5 });
            B = new Variable(new[] { 2.0, random.NextDouble() - 2.0, 0.75 });
            Constant = new Variable(new[] { 1.0, 2.0 }, requiresGrad: false);
            Ints = new Variable(new Tensor(new[] { 1, 2, 3 }), requiresGrad: false);
            var x = new double[5, 3];
            for (var i = 0; i < 5; i++)
            {
                for (var j = 0; j < 3; j++)
                {
                    x[i, j] = random.NextDouble() * 2 - 1;
                }
            }
            Input = new Variable(x, requiresGrad: false);
            Optimizer = new Adam([.. Model.Parameters(), A, B], lr: 0.05);
            for (var s = 0; s < warmSteps; s++)
            {
                Optimizer.ZeroGrad();
                Loss().Backward();
                Optimizer.Step();
            }
            // Leave gradients in place (not zeroed) so that accumulation would be visible.
            Loss().Backward();
        }

        public Sequential Model { get; }
        public Adam Optimizer { get; }
        public Variable A { get; }
        public Variable B { get; }
        public Variable Constant { get; }
        public Variable Ints { get; }
        public Variable Input { get; }

        public Variable Loss() => (Model.Forward(Input) * Model.Forward(Input)).Mean() + (A * B).Sum() + Autograd.Tanh(A).Sum();

        public IEnumerable<(string Name, Variable Variable)> Variables() =>
            Model.NamedParameters().Concat([("A", A), ("B", B), ("Constant", Constant), ("Ints", Ints), ("Input", Input)]);
    }

    private sealed record VariableState(Tensor DataRef, ulong[] Data, Shape Shape, DType DType, Variable? GradRef, ulong[]? Grad, bool RequiresGrad, bool IsLeaf);

    private sealed record Snapshot(
        Dictionary<string, VariableState> Variables,
        Dictionary<string, ulong[]> OptimizerState,
        double LearningRate,
        bool[] Training,
        bool GradEnabled,
        bool Anomaly);

    private static ulong[] Bits(Tensor t) => t.ToArray().Select(v => (ulong)BitConverter.DoubleToInt64Bits(v)).ToArray();

    private static Snapshot Take(World w) => new(
        w.Variables().ToDictionary(
            p => p.Name,
            p => new VariableState(p.Variable.Data, Bits(p.Variable.Data), p.Variable.Shape, p.Variable.DType,
                p.Variable.Grad, p.Variable.Grad is { } g ? Bits(g.Data) : null, p.Variable.RequiresGrad, p.Variable.IsLeaf)),
        w.Optimizer.StateTensors().ToDictionary(p => p.Key, p => Bits(p.Value)),
        w.Optimizer.LearningRate,
        w.Model.Modules().Select(m => m.IsTraining).ToArray(),
        Autograd.IsGradEnabled,
        Autograd.IsAnomalyDetectionEnabled);

    private static string? Difference(Snapshot before, Snapshot after)
    {
        foreach (var (name, b) in before.Variables)
        {
            var a = after.Variables[name];
            if (!ReferenceEquals(b.DataRef, a.DataRef) || !b.Data.SequenceEqual(a.Data) || !b.Shape.Equals(a.Shape) || b.DType != a.DType)
            {
                return $"{name}.Data changed";
            }
            if (!ReferenceEquals(b.GradRef, a.GradRef) || (b.Grad is null) != (a.Grad is null) || (b.Grad is not null && !b.Grad.SequenceEqual(a.Grad!)))
            {
                return $"{name}.Grad changed";
            }
            if (b.RequiresGrad != a.RequiresGrad || b.IsLeaf != a.IsLeaf)
            {
                return $"{name}.RequiresGrad/IsLeaf changed";
            }
        }
        if (!before.OptimizerState.Keys.Order().SequenceEqual(after.OptimizerState.Keys.Order()))
        {
            return "the optimizer's state names changed";
        }
        foreach (var (key, bits) in before.OptimizerState)
        {
            if (!bits.SequenceEqual(after.OptimizerState[key]))
            {
                return $"optimizer state {key} changed";
            }
        }
        if (BitConverter.DoubleToInt64Bits(before.LearningRate) != BitConverter.DoubleToInt64Bits(after.LearningRate))
        {
            return "the learning rate changed";
        }
        if (!before.Training.SequenceEqual(after.Training))
        {
            return "a module's training mode changed";
        }
        if (before.GradEnabled != after.GradEnabled)
        {
            return "the no-grad mode changed";
        }
        return before.Anomaly != after.Anomaly ? "the anomaly mode changed" : null;
    }

    /// <summary>A public call that must fail: set up outside the scopes (graphs, hooks), then the failing call.</summary>
    internal sealed record Failure(string Name, Type Expected, Func<World, (Action Fail, Action Cleanup)> Prepare);

    private static (Action, Action) Just(Action fail) => (fail, () => { });

    private static readonly CustomFunction ThrowingBackward = Autograd.DefineFunction(
        "throwing_backward",
        xs => xs[0],
        (inputs, output, g) => throw new InvalidOperationException("simulated failure inside a custom backward"),
        check: false);

    private static readonly CustomFunction ThrowingForward = Autograd.DefineFunction(
        "throwing_forward",
        xs => throw new OutOfMemoryException("simulated out-of-memory in a forward"),
        (inputs, output, g) => [g],
        check: false);

    internal static readonly Failure[] Failures =
    [
        new("broadcast mismatch", typeof(ShapeMismatchException), w => Just(() => _ = w.Model.Parameters()[0] + w.Constant)),
        new("matmul mismatch", typeof(ShapeMismatchException), w => Just(() => _ = Autograd.MatMul(w.Model.Parameters()[0], w.Model.Parameters()[0]))),
        new("model input of the wrong width", typeof(ArgumentException),
            w => Just(() => _ = w.Model.Forward(new Variable(new double[5, 7], requiresGrad: false)))),
        new("backward seed of the wrong shape", typeof(ArgumentException), w =>
        {
            var output = w.Model.Forward(w.Input);
            return Just(() => output.Backward(new Variable(new[] { 1.0, 1.0, 1.0 }, requiresGrad: false)));
        }),
        new("custom op whose backward throws midway", typeof(InvalidOperationException), w =>
        {
            // Gradients of the model's parameters and of B are computed before or after the custom node; none may land.
            var loss = w.Loss() + ThrowingBackward.Apply(w.A).Sum() + (w.B * w.B).Sum();
            return Just(() => loss.Backward());
        }),
        new("custom op whose forward runs out of memory", typeof(OutOfMemoryException),
            w => Just(() => _ = ThrowingForward.Apply(w.A * 2.0))),
        new("leaf hook simulating an out-of-memory", typeof(OutOfMemoryException), w =>
        {
            var loss = w.Loss();
            var hook = w.B.RegisterHook(_ => throw new OutOfMemoryException("simulated out-of-memory in a hook"));
            return (() => loss.Backward(), hook.Dispose);
        }),
        new("hook on an intermediate result simulating an out-of-memory", typeof(OutOfMemoryException), w =>
        {
            var hidden = w.Model.Forward(w.Input);
            var hook = hidden.RegisterHook(_ => throw new OutOfMemoryException("simulated out-of-memory in a hook"));
            var loss = (hidden * hidden).Sum() + (w.A * w.B).Sum();
            return (() => loss.Backward(createGraph: true), hook.Dispose);
        }),
        new("infinite gradient under anomaly detection", typeof(NonFiniteGradientException), w =>
        {
            var loss = Autograd.Sqrt(w.A - w.A.Detach()).Sum() + w.Loss();
            return Just(() =>
            {
                using (Autograd.DetectAnomaly())
                {
                    loss.Backward();
                }
            });
        }),
        new("clip with a max norm of -1", typeof(ArgumentOutOfRangeException),
            w => Just(() => Autograd.ClipGradients(w.Optimizer.Parameters, -1.0))),
        new("clip with a null in the list", typeof(ArgumentNullException),
            w => Just(() => Autograd.ClipGradients([.. w.Optimizer.Parameters, null!], 1e-3))),
        new("zero gradients with a null in the list", typeof(ArgumentNullException),
            w => Just(() => Autograd.ZeroGradients([w.A, w.B, null!]))),
        new("negative learning rate", typeof(ArgumentException), w => Just(() => w.Optimizer.LearningRate = -1.0)),
        new("NaN learning rate", typeof(ArgumentException), w => Just(() => w.Optimizer.LearningRate = double.NaN)),
        new("Grad of the wrong shape", typeof(ArgumentException),
            w => Just(() => w.A.Grad = new Variable(new[] { 1.0, 2.0 }, requiresGrad: false))),
        new("Data on a non-leaf", typeof(InvalidOperationException), w =>
        {
            var y = w.A * w.B;
            return Just(() => y.Data = new Tensor(new[] { 0.0, 0.0, 0.0 }));
        }),
        new("RequiresGrad on an integer tensor", typeof(InvalidOperationException), w => Just(() => w.Ints.RequiresGrad = true)),
        new("RetainGrad on a constant", typeof(InvalidOperationException), w => Just(() => w.Constant.RetainGrad())),
        new("backward on constants only", typeof(InvalidOperationException), w => Just(() => (w.Constant * 2.0).Sum().Backward())),
        new("Autograd.Grad for an unused input", typeof(ArgumentException), w =>
        {
            var loss = (w.A * w.A).Sum();
            return Just(() => Autograd.Grad(loss, [w.A, w.B]));
        }),
        new("optimizer step with a parameter whose data changed shape", typeof(ArgumentException), w =>
        {
            var saved = w.B.Data;
            return (() =>
            {
                w.B.Data = new Tensor(new[] { 1.0, 2.0 });
                try
                {
                    w.Optimizer.Step();
                }
                finally
                {
                    w.B.Data = saved;
                }
            }, () => { });
        }),
        new("optimizer state of the wrong shape", typeof(ArgumentException), w =>
        {
            var state = w.Optimizer.StateTensors().ToDictionary(p => p.Key, p => p.Value);
            // Perturb every tensor, and break the last one: a partial load would show up as a change.
            foreach (var key in state.Keys.Where(k => state[k].DType == DType.Float64).ToArray())
            {
                state[key] = Tensor.FromArray(state[key].ToArray().Select(v => v + 1).ToArray(), state[key].Shape.ToArray());
            }
            // (Before the first step there is no state: then a new entry of the wrong shape is the only change.)
            var broken = state.Keys.Order(StringComparer.Ordinal).LastOrDefault(k => !k.EndsWith(".step", StringComparison.Ordinal)) ?? "0.exp_avg";
            state[broken] = new Tensor(new[] { 1.0 });
            return Just(() => w.Optimizer.LoadStateTensors(state));
        }),
        new("checkpoint with one tensor of the wrong shape", typeof(InvalidDataException), w =>
        {
            var folder = new TempFolder();
            var path = folder.File("bad.safetensors");
            var other = new World(12345, 1);
            var tensors = other.Model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Data);
            foreach (var (key, value) in other.Optimizer.StateTensors())
            {
                tensors[Checkpoint.OptimizerPrefix + key] = value;
            }
            var lastName = tensors.Keys.Where(k => !k.StartsWith(Checkpoint.OptimizerPrefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal).Last();
            tensors[lastName] = new Tensor(new[] { 1.0, 2.0, 3.0, 4.0, 5.0 });
            SafeTensors.Save(path, tensors);
            return (() => Checkpoint.Load(path, w.Model, w.Optimizer), folder.Dispose);
        }),
        new("truncated checkpoint", typeof(InvalidDataException), w =>
        {
            var folder = new TempFolder();
            var path = folder.File("truncated.safetensors");
            var other = new World(54321, 2);
            Checkpoint.Save(path, other.Model, other.Optimizer);
            var bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..(bytes.Length - 3)]);
            return (() => Checkpoint.Load(path, w.Model, w.Optimizer), folder.Dispose);
        }),
        new("checkpoint whose optimizer state does not fit", typeof(ArgumentException), w =>
        {
            // The parameters fit, the optimizer state names a parameter that does not exist.
            var folder = new TempFolder();
            var path = folder.File("state.safetensors");
            var other = new World(777, 1);
            var state = other.Optimizer.StateTensors().ToDictionary(p => p.Key, p => p.Value);
            state["99.exp_avg"] = new Tensor(new[] { 1.0 });
            Checkpoint.Save(path, other.Model.NamedParameters().Select(p => KeyValuePair.Create(p.Name, p.Parameter)), state);
            return (() => Checkpoint.Load(path, w.Model, w.Optimizer), folder.Dispose);
        }),
        new("checkpointed segment that throws when recomputed in backward", typeof(InvalidOperationException), w =>
        {
            var calls = 0;
            var y = Autograd.Checkpoint(v =>
            {
                if (++calls > 1)
                {
                    throw new InvalidOperationException("simulated failure during recomputation");
                }
                return Autograd.Tanh(v[0]) * v[1];
            }, w.A, w.B);
            var loss = y.Sum() + w.Loss();
            return Just(() => loss.Backward());
        }),
    ];

    internal sealed record Scenario(int Seed, int WarmSteps, (int Failure, bool NoGrad, bool Anomaly)[] Calls)
    {
        public override string ToString() =>
            $"seed {Seed}, {WarmSteps} warm steps, calls: {string.Join("; ", Calls.Select(c => $"{Failures[c.Failure].Name}{(c.NoGrad ? " in NoGrad" : "")}{(c.Anomaly ? " in DetectAnomaly" : "")}"))}";
    }

    private static readonly Gen<Scenario> Scenarios =
        from seed in Gen.Choose(0, 1_000_000)
        from warm in Gen.Choose(0, 2)
        from count in Gen.Choose(1, 4)
        from calls in Gen.ArrayOf(
            from f in Gen.Choose(0, Failures.Length - 1)
            from noGrad in Gen.Elements(false, true)
            from anomaly in Gen.Elements(false, false, true)
            select (f, noGrad, anomaly),
            count)
        select new Scenario(seed, warm, calls);

    private static void RunScenario(Scenario s)
    {
        var world = new World(s.Seed, s.WarmSteps);
        var outer = Take(world);
        foreach (var (index, noGrad, anomaly) in s.Calls)
        {
            var failure = Failures[index];
            var (fail, cleanup) = failure.Prepare(world);
            try
            {
                var before = Take(world);
                IDisposable? gradScope = noGrad ? Autograd.NoGrad() : null;
                IDisposable? anomalyScope = anomaly ? Autograd.DetectAnomaly() : null;
                try
                {
                    var inScope = Take(world);
                    var thrown = Record.Exception(fail);
                    Assert.True(thrown is not null, $"{failure.Name}: no exception ({s})");
                    Assert.True(failure.Expected.IsInstanceOfType(thrown),
                        $"{failure.Name}: expected {failure.Expected.Name}, got {thrown!.GetType().Name}: {thrown.Message} ({s})");
                    Assert.True(Difference(inScope, Take(world)) is null, $"{failure.Name}: {Difference(inScope, Take(world))} ({s})");
                }
                finally
                {
                    anomalyScope?.Dispose();
                    gradScope?.Dispose();
                }
                Assert.True(Difference(before, Take(world)) is null, $"{failure.Name}: {Difference(before, Take(world))} after the scopes closed ({s})");
            }
            finally
            {
                cleanup();
            }
        }
        Assert.Null(Difference(outer, Take(world)));

        // Nothing hidden was lost or half-done: the next step equals that of a twin that never failed.
        var twin = new World(s.Seed, s.WarmSteps);
        foreach (var w in new[] { world, twin })
        {
            w.Optimizer.Step();
            w.Optimizer.ZeroGrad();
            w.Loss().Backward();
            w.Optimizer.Step();
        }
        var a = Take(world);
        var b = Take(twin);
        foreach (var name in a.Variables.Keys)
        {
            Assert.Equal(b.Variables[name].Data, a.Variables[name].Data);
            Assert.Equal(b.Variables[name].Grad, a.Variables[name].Grad);
        }
        Assert.Equal(b.OptimizerState.Keys.Order(), a.OptimizerState.Keys.Order());
        foreach (var (key, bits) in b.OptimizerState)
        {
            Assert.Equal(bits, a.OptimizerState[key]);
        }
    }

    [Fact]
    public void Every_failing_call_alone_changes_nothing()
    {
        for (var i = 0; i < Failures.Length; i++)
        {
            RunScenario(new Scenario(i, 1, [(i, false, false)]));
            RunScenario(new Scenario(i + 100, 2, [(i, true, true)]));
        }
    }

    [Fact]
    public void Random_sequences_of_failing_calls_in_random_scopes_change_nothing() =>
        Prop.ForAll(Scenarios.ToArbitrary(), s => RunScenario(s))
            .Check(Config.QuickThrowOnFailure.WithMaxTest(60));

    [Fact]
    [Trait("Category", "Long")]
    public void Long_random_sequences_of_failing_calls_in_random_scopes_change_nothing() =>
        Prop.ForAll(Scenarios.ToArbitrary(), s => RunScenario(s))
            .Check(Config.QuickThrowOnFailure.WithMaxTest(20_000));
}
