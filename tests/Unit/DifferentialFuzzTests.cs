using FsCheck;
using FsCheck.Fluent;

namespace TinyTorch.Tests;

/// <summary>
/// Differential fuzzing of the public API: FsCheck builds random programs (leaves of random shapes and
/// dtypes, some not requiring grad; random unary, binary, matmul, reduction, softmax, log-sum-exp, concat, unsqueeze, reshape and transpose calls on
/// any earlier value, so subexpressions are shared; detaches; calls inside NoGrad scopes; one or two
/// backward passes). An oracle written from the documented rules predicts, call by call, whether it is
/// valid and which shape it gives, or which exception it throws. Valid programs must give gradients equal
/// to central differences of the same program (detached and no-grad values held fixed), finite values
/// everywhere, and exactly twice the gradient after two backward passes; invalid calls must throw the
/// documented exception and change nothing. Anything else (another exception type, a crash, a NaN) fails.
/// </summary>
public class DifferentialFuzzTests
{
    internal enum Kind { Unary, Binary, MatMul, SumAxis, Mean, Reshape, Transpose, Detach, Softmax, LogSumExp, Concat, Unsqueeze }

    internal sealed record Call(Kind Kind, int Op, int A, int B, int Axis, int[] Target, bool NoGrad);

    internal sealed record Leaf(int[] Shape, double[] Values, bool RequiresGrad, bool Float32);

    internal sealed record Program(Leaf[] Leaves, Call[] Calls, int[] Outputs, double[] Weights, bool TwoPasses)
    {
        public override string ToString() =>
            "leaves: " + string.Join(", ", Leaves.Select(l => $"[{string.Join(", ", l.Shape)}]{(l.RequiresGrad ? "" : " const")}{(l.Float32 ? " f32" : "")}"))
            + "; calls: " + string.Join(", ", Calls.Select(c => $"{c.Kind}({c.Op}; {c.A}, {c.B}; axis {c.Axis}; [{string.Join(", ", c.Target)}]{(c.NoGrad ? "; nograd" : "")})"))
            + $"; outputs {string.Join(", ", Outputs)}; two passes {TwoPasses}";
    }

    private static readonly int[][] LeafShapes = [[], [3], [4], [2, 3], [1, 3], [2, 1], [3, 2], [3, 3]];

    private static readonly int[][] ReshapeTargets = [[], [6], [2, 3], [3, 2], [1, 6], [3], [4], [9], [3, 3], [1]];

    private static readonly string[] UnaryNames = ["tanh", "sigmoid", "sin", "cos", "softplus", "neg", "square", "exp∘tanh"];

    private static readonly string[] BinaryNames = ["add", "subtract", "multiply", "divide by 1.5 + sigmoid"];

    private static Variable Unary(int op, Variable x) => op switch
    {
        0 => Autograd.Tanh(x),
        1 => Autograd.Sigmoid(x),
        2 => Autograd.Sin(x),
        3 => Autograd.Cos(x),
        4 => Autograd.Softplus(x),
        5 => -x,
        6 => Autograd.Square(x),
        _ => Autograd.Exp(Autograd.Tanh(x)),
    };

    private static Variable Binary(int op, Variable a, Variable b) => op switch
    {
        0 => a + b,
        1 => a - b,
        2 => a * b,
        _ => a / (Autograd.Sigmoid(b) + 1.5),
    };

    // ------------------------------------------------------------------ the oracle

    private static int[]? Broadcast(int[] a, int[] b)
    {
        var rank = Math.Max(a.Length, b.Length);
        var result = new int[rank];
        for (var i = 0; i < rank; i++)
        {
            var da = i < a.Length ? a[a.Length - 1 - i] : 1;
            var db = i < b.Length ? b[b.Length - 1 - i] : 1;
            if (da != db && da != 1 && db != 1)
            {
                return null;
            }
            result[rank - 1 - i] = Math.Max(da, db);
        }
        return result;
    }

    /// <summary>NumPy/PyTorch matmul: 1-D operands get a dimension of 1 prepended (left) or appended (right), removed again afterwards; batch dimensions broadcast.</summary>
    private static int[]? MatMulShape(int[] a, int[] b)
    {
        if (a.Length == 1 && b.Length == 1)
        {
            return a[0] == b[0] ? [] : null;
        }
        int[] a2 = a.Length == 1 ? [1, a[0]] : a;
        int[] b2 = b.Length == 1 ? [b[0], 1] : b;
        if (a2[^1] != b2[^2] || Broadcast(a2[..^2], b2[..^2]) is not { } batch)
        {
            return null;
        }
        var result = new List<int>(batch);
        if (a.Length > 1)
        {
            result.Add(a2[^2]);
        }
        if (b.Length > 1)
        {
            result.Add(b2[^1]);
        }
        return [.. result];
    }

    /// <summary>The predicted outcome of one call: the result's shape, or the exception type it must throw.</summary>
    private static (int[]? Shape, Type? Throws) Predict(Call c, int[] a, int[] b)
    {
        switch (c.Kind)
        {
            case Kind.Unary:
            case Kind.Detach:
                return (a, null);
            case Kind.Binary:
                return Broadcast(a, b) is { } s ? (s, null) : (null, typeof(ShapeMismatchException));
            case Kind.MatMul:
                if (a.Length == 0 || b.Length == 0)
                {
                    return (null, typeof(ArgumentException));
                }
                return MatMulShape(a, b) is { } m ? (m, null) : (null, typeof(ShapeMismatchException));
            case Kind.SumAxis:
            case Kind.Mean:
                if (c.Axis < -a.Length || c.Axis >= a.Length)
                {
                    return (null, typeof(ArgumentOutOfRangeException));
                }
                var axis = c.Axis < 0 ? c.Axis + a.Length : c.Axis;
                return (a.Where((_, i) => i != axis).ToArray(), null);
            case Kind.Reshape:
                return c.Target.Aggregate(1, (p, d) => p * d) == a.Aggregate(1, (p, d) => p * d) ? (c.Target, null) : (null, typeof(ArgumentException));
            case Kind.Softmax:
                return c.Axis < -a.Length || c.Axis >= a.Length ? (null, typeof(ArgumentOutOfRangeException)) : (a, null);
            case Kind.LogSumExp:
                if (c.Axis < -a.Length || c.Axis >= a.Length)
                {
                    return (null, typeof(ArgumentOutOfRangeException));
                }
                var lseAxis = c.Axis < 0 ? c.Axis + a.Length : c.Axis;
                return (a.Where((_, i) => i != lseAxis).ToArray(), null);
            case Kind.Unsqueeze:
                if (c.Axis < -a.Length - 1 || c.Axis > a.Length)
                {
                    return (null, typeof(ArgumentOutOfRangeException));
                }
                var at = c.Axis < 0 ? c.Axis + a.Length + 1 : c.Axis;
                return ([.. a[..at], 1, .. a[at..]], null);
            case Kind.Concat:
            {
                // One reason to refuse: that reason's exception; several: any of the ArgumentException family.
                var reasons = new List<Type>();
                if (a.Length == 0 || b.Length == 0)
                {
                    reasons.Add(typeof(ArgumentException));
                }
                if (a.Length != b.Length)
                {
                    reasons.Add(typeof(ShapeMismatchException));
                }
                if (c.Axis < -a.Length || c.Axis >= a.Length)
                {
                    reasons.Add(typeof(ArgumentOutOfRangeException));
                }
                if (reasons.Count == 0)
                {
                    var cat = c.Axis < 0 ? c.Axis + a.Length : c.Axis;
                    if (a.Where((d, i) => i != cat && d != b[i]).Any())
                    {
                        reasons.Add(typeof(ShapeMismatchException));
                    }
                    else
                    {
                        return (a.Select((d, i) => i == cat ? d + b[i] : d).ToArray(), null);
                    }
                }
                return (null, reasons.Count == 1 ? reasons[0] : typeof(ArgumentException));
            }
            default: // Transpose of the last two axes
                return a.Length >= 2 ? ([.. a[..^2], a[^1], a[^2]], null) : (null, typeof(ArgumentException));
        }
    }

    // ------------------------------------------------------------------ running a program

    private sealed class Run
    {
        public required Variable[] Leaves { get; init; }
        public required List<Variable> Pool { get; init; }
        public required List<bool> Tracked { get; init; } // predicted RequiresGrad of each pool entry
        public required Dictionary<int, Tensor> Frozen { get; init; }
        public int Rejected { get; set; }
        public required Variable? Loss { get; set; }
    }

    /// <summary>
    /// Runs the program on <paramref name="leafValues"/>. With <paramref name="frozen"/> (from an earlier run),
    /// detached and no-grad results take those values instead, which is what finite differences must hold fixed.
    /// </summary>
    private static Run Execute(Program p, double[][] leafValues, Dictionary<int, Tensor>? frozen, bool check)
    {
        var leaves = p.Leaves.Select((l, i) =>
        {
            var t = Tensor.FromArray(leafValues[i], l.Shape);
            return new Variable(l.Float32 ? t.ToFloat32() : t, l.RequiresGrad);
        }).ToArray();
        var run = new Run
        {
            Leaves = leaves,
            Pool = [.. leaves],
            Tracked = [.. p.Leaves.Select(l => l.RequiresGrad)],
            Frozen = frozen ?? [],
            Loss = null,
        };
        for (var k = 0; k < p.Calls.Length; k++)
        {
            var c = p.Calls[k];
            var ia = c.A % run.Pool.Count;
            var ib = c.B % run.Pool.Count;
            var a = run.Pool[ia];
            var b = run.Pool[ib];
            var (shape, throws) = Predict(c, a.Shape.ToArray(), b.Shape.ToArray());
            var aData = a.Data;
            var aGrad = a.Grad;
            Variable? result = null;
            var thrown = Record.Exception(() =>
            {
                using var scope = c.NoGrad ? Autograd.NoGrad() : null;
                result = c.Kind switch
                {
                    Kind.Unary => Unary(c.Op, a),
                    Kind.Binary => Binary(c.Op, a, b),
                    Kind.MatMul => Autograd.MatMul(a, b),
                    Kind.SumAxis => Autograd.Sum(a, c.Axis),
                    Kind.Mean => Autograd.Mean(a, c.Axis),
                    Kind.Reshape => a.Reshape(c.Target),
                    Kind.Transpose => Autograd.Transpose(a),
                    Kind.Softmax => c.Op % 2 == 0 ? Autograd.Softmax(a, c.Axis) : Autograd.LogSoftmax(a, c.Axis),
                    Kind.LogSumExp => Autograd.LogSumExp(a, c.Axis),
                    Kind.Concat => Autograd.Concat([a, b], c.Axis),
                    Kind.Unsqueeze => Autograd.Unsqueeze(a, c.Axis),
                    _ => a.Detach(),
                };
            });
            if (check)
            {
                Assert.True(Autograd.IsGradEnabled, "a NoGrad scope leaked past its call");
                if (throws is not null)
                {
                    Assert.True(thrown is not null, $"call {k} ({c.Kind}) on [{string.Join(", ", a.Shape)}] and [{string.Join(", ", b.Shape)}] should throw {throws.Name}");
                    Assert.True(throws.IsInstanceOfType(thrown),
                        $"call {k} ({c.Kind}) threw {thrown!.GetType().Name} instead of {throws.Name}: {thrown.Message}");
                    Assert.False(string.IsNullOrWhiteSpace(thrown!.Message));
                    Assert.Same(aData, a.Data);
                    Assert.Same(aGrad, a.Grad);
                }
                else
                {
                    Assert.True(thrown is null, $"call {k} ({c.Kind}) on [{string.Join(", ", a.Shape)}] and [{string.Join(", ", b.Shape)}] threw {thrown?.GetType().Name}: {thrown?.Message}");
                    Assert.Equal(shape, result!.Shape.ToArray());
                }
            }
            if (thrown is not null)
            {
                run.Rejected++;
                continue;
            }
            var cut = c.Kind == Kind.Detach || c.NoGrad;
            var tracked = !cut && (run.Tracked[ia] || (c.Kind is Kind.Binary or Kind.MatMul or Kind.Concat && run.Tracked[ib]));
            if (cut)
            {
                if (frozen is not null)
                {
                    result = new Variable(frozen[k], requiresGrad: false);
                }
                else
                {
                    run.Frozen[k] = result!.Data;
                }
            }
            if (check)
            {
                Assert.Equal(tracked, result!.RequiresGrad);
                Assert.All(result.ToArray(), v => Assert.True(double.IsFinite(v), $"call {k} ({c.Kind}) gave a non-finite value from finite inputs"));
            }
            run.Pool.Add(result!);
            run.Tracked.Add(tracked);
        }

        Variable? loss = null;
        for (var i = 0; i < p.Outputs.Length; i++)
        {
            var term = run.Pool[p.Outputs[i] % run.Pool.Count].Sum() * p.Weights[i];
            loss = loss is null ? term : loss + term;
        }
        run.Loss = loss;
        return run;
    }

    private static void CheckProgram(Program p)
    {
        var values = p.Leaves.Select(l => l.Values).ToArray();
        var run = Execute(p, values, frozen: null, check: true);
        var loss = run.Loss!;
        var anyTracked = p.Outputs.Any(o => run.Tracked[o % run.Pool.Count]);
        if (!anyTracked)
        {
            var ex = Assert.Throws<InvalidOperationException>(() => loss.Backward());
            Assert.All(run.Leaves, l => Assert.Null(l.Grad));
            return;
        }
        loss.Backward();
        var first = run.Leaves.Select(l => l.Grad?.ToArray()).ToArray();
        if (p.TwoPasses)
        {
            loss.Backward();
            for (var i = 0; i < run.Leaves.Length; i++)
            {
                if (first[i] is { } g)
                {
                    var twice = run.Leaves[i].Grad!.ToArray();
                    for (var e = 0; e < g.Length; e++)
                    {
                        Assert.Equal(2 * g[e], twice[e]); // g + g is exact
                    }
                }
            }
        }

        // With a float32 constant in the program, part of it may run in float32: once unsqueezed or reshaped, the
        // constant has dimensions, and then a float64 0-d leaf does not promote it (PyTorch's rule), so the leaf is
        // rounded to float32 (an ulp is ~6e-8 relative) and so are the values after it. A step of 1e-6 then gives a
        // quotient wrong by percents (found by the long run). Such programs get a step of 1e-3 (truncation error
        // ~1e-7·f‴) and a tolerance of 1 % (float32 rounding over the step).
        var partlyFloat32 = p.Leaves.Any(l => l.Float32);
        var step = partlyFloat32 ? 1e-3 : 1e-6;
        var relativeTolerance = partlyFloat32 ? 1e-2 : 1e-3;
        for (var i = 0; i < p.Leaves.Length; i++)
        {
            var leaf = p.Leaves[i];
            if (!leaf.RequiresGrad)
            {
                Assert.Null(run.Leaves[i].Grad);
                continue;
            }
            var analytic = first[i] ?? new double[leaf.Values.Length];
            Assert.Equal(leaf.Values.Length, analytic.Length);
            for (var e = 0; e < leaf.Values.Length; e++)
            {
                Assert.True(double.IsFinite(analytic[e]), $"leaf {i} element {e}: gradient {analytic[e]} is not finite ({p})");
                var h = step * Math.Max(1, Math.Abs(leaf.Values[e]));
                double At(double delta)
                {
                    var shifted = values.Select(v => (double[])v.Clone()).ToArray();
                    shifted[i][e] += delta;
                    return Execute(p, shifted, run.Frozen, check: false).Loss!.Item();
                }
                var numeric = (At(h) - At(-h)) / (2 * h);
                Assert.True(Math.Abs(analytic[e] - numeric) <= 1e-5 + relativeTolerance * Math.Abs(numeric),
                    $"leaf {i} element {e}: analytic {analytic[e]:R}, numeric {numeric:R} ({p})");
            }
        }
    }

    // ------------------------------------------------------------------ generators

    private static readonly Gen<double> Value = Gen.Choose(-1500, 1500).Select(v => v / 1000.0);

    private static readonly Gen<Leaf> Leaves =
        from shape in Gen.Elements(LeafShapes)
        from values in Gen.ArrayOf(Value, shape.Aggregate(1, (p, d) => p * d))
        from kind in Gen.Choose(0, 5) // 0: constant float64, 1: constant float32, else requires grad
        // Float32 constants are 0-d, so on their own they never lower a float64 tensor's precision (a 0-d operand does
        // not promote); an unsqueeze or reshape can give them dimensions, which CheckProgram allows for.
        let f32 = kind == 1 && shape.Length == 0
        select new Leaf(shape, f32 ? values.Select(v => (double)(float)v).ToArray() : values, kind >= 2, f32);

    private static readonly Gen<Call> Calls =
        from kind in Gen.Frequency(
            (5, Gen.Constant(Kind.Unary)), (6, Gen.Constant(Kind.Binary)), (2, Gen.Constant(Kind.MatMul)),
            (1, Gen.Constant(Kind.SumAxis)), (1, Gen.Constant(Kind.Mean)), (1, Gen.Constant(Kind.Reshape)),
            (1, Gen.Constant(Kind.Transpose)), (1, Gen.Constant(Kind.Detach)), (1, Gen.Constant(Kind.Softmax)),
            (1, Gen.Constant(Kind.LogSumExp)), (2, Gen.Constant(Kind.Concat)), (1, Gen.Constant(Kind.Unsqueeze)))
        from op in Gen.Choose(0, 7)
        from a in Gen.Choose(0, 63)
        from b in Gen.Choose(0, 63)
        from axis in Gen.Choose(-3, 2)
        from target in Gen.Elements(ReshapeTargets)
        from noGrad in Gen.Frequency((9, Gen.Constant(false)), (1, Gen.Constant(true)))
        select new Call(kind, kind == Kind.Binary ? op % 4 : op, a, b, axis, target, noGrad);

    private static Gen<Program> Programs(int maxCalls) =>
        from leafCount in Gen.Choose(1, 3)
        from leaves in Gen.ArrayOf(Leaves, leafCount)
        from callCount in Gen.Choose(1, maxCalls)
        from calls in Gen.ArrayOf(Calls, callCount)
        from outputCount in Gen.Choose(1, 3)
        from outputs in Gen.ArrayOf(Gen.Choose(0, 63), outputCount)
        from weights in Gen.ArrayOf(Gen.Choose(-20, 20).Select(w => w / 10.0 + 0.05), outputCount)
        from twice in Gen.Elements(false, true)
        select new Program(leaves, calls, outputs, weights, twice);

    private static IEnumerable<Program> Shrink(Program p)
    {
        for (var i = 0; i < p.Calls.Length; i++)
        {
            yield return p with { Calls = [.. p.Calls[..i], .. p.Calls[(i + 1)..]] };
        }
        for (var i = 0; i < p.Calls.Length; i++)
        {
            if (p.Calls[i].NoGrad)
            {
                yield return p with { Calls = [.. p.Calls[..i], p.Calls[i] with { NoGrad = false }, .. p.Calls[(i + 1)..]] };
            }
        }
        if (p.Outputs.Length > 1)
        {
            yield return p with { Outputs = p.Outputs[1..], Weights = p.Weights[1..] };
        }
        if (p.TwoPasses)
        {
            yield return p with { TwoPasses = false };
        }
    }

    private static void Check(int maxCalls, int tests) =>
        Prop.ForAll(Arb.From(Programs(maxCalls), Shrink), CheckProgram)
            .Check(Config.QuickThrowOnFailure.WithMaxTest(tests));

    [Fact]
    public void Random_programs_match_finite_differences_or_throw_the_documented_exception() => Check(maxCalls: 8, tests: 300);

    [Fact]
    [Trait("Category", "Long")]
    public void Long_random_programs_match_finite_differences_or_throw_the_documented_exception() => Check(maxCalls: 14, tests: 30_000);

    [Fact]
    public void The_generator_produces_valid_and_invalid_calls_and_every_kind()
    {
        // A guard on the fuzzer itself: it must exercise rejections, each call kind, no-grad scopes and constants.
        var programs = Programs(8).Sample(300, 20);
        var rejected = 0;
        var accepted = 0;
        foreach (var p in programs)
        {
            var run = Execute(p, p.Leaves.Select(l => l.Values).ToArray(), null, check: false);
            rejected += run.Rejected;
            accepted += p.Calls.Length - run.Rejected;
        }
        Assert.True(rejected > 20, $"only {rejected} rejected calls");
        Assert.True(accepted > rejected, $"{accepted} accepted, {rejected} rejected");
        var calls = programs.SelectMany(p => p.Calls).ToArray();
        Assert.All(Enum.GetValues<Kind>(), k => Assert.Contains(calls, c => c.Kind == k));
        Assert.Contains(calls, c => c.NoGrad);
        Assert.Contains(programs, p => p.Leaves.Any(l => l.Float32));
        Assert.Contains(programs, p => p.Leaves.All(l => !l.RequiresGrad));
    }
}
