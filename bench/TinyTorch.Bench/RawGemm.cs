using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace TinyTorch.Bench;

/// <summary>
/// The library's internal GEMM kernel called directly (no graph, no fresh output per call), reached through
/// reflection because it is internal. Used to tune the kernel and to separate its speed from the public API's
/// allocation and graph costs.
/// </summary>
internal static class RawGemm
{
    /// <summary>C = op(A)·op(B) into a caller-owned float32 output.</summary>
    public delegate void Gemm32(bool transA, bool transB, int m, int n, int k, float[] a, int aOffset, float[] b, int bOffset, float[] c, int cOffset);

    /// <summary>The float64 twin.</summary>
    public delegate void Gemm64(bool transA, bool transB, int m, int n, int k, double[] a, int aOffset, double[] b, int bOffset, double[] c, int cOffset);

    private static Type GemmType =>
        typeof(TinyTorch.Threads).Assembly.GetType("TinyTorch.Functional.Gemm", throwOnError: true)!;

    /// <summary>The internal float32 kernel entry point.</summary>
    public static readonly Gemm32 F32 =
        GemmType.GetMethod("gemm32", BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)!.CreateDelegate<Gemm32>();

    /// <summary>The internal float64 kernel entry point.</summary>
    public static readonly Gemm64 F64 =
        GemmType.GetMethod("gemm64", BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)!.CreateDelegate<Gemm64>();

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);

    /// <summary>
    /// When set (<c>--cpu</c>), samples are timed in the calling thread's CPU time (Linux CLOCK_THREAD_CPUTIME_ID)
    /// rather than wall time: on a shared machine this leaves out the time the thread waited for a core, which is
    /// what makes wall-clock samples of a single-thread kernel swing. Meaningful for --threads 1 only.
    /// </summary>
    public static bool ThreadCpuTime { get; set; }

    private static double Now()
    {
        if (ThreadCpuTime && ClockGetTime(3, out var t) == 0) return t.Seconds + t.Nanoseconds * 1e-9;
        return Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency;
    }

    /// <summary>
    /// The core's float32 FMA speed right now (GFLOP/s, best of the samples): 24 independent Vector512 (or Vector256)
    /// multiply-add chains in registers, no memory traffic. Printed next to the kernel's speed, it turns a noisy
    /// GFLOP/s figure into a share of what the core delivers at this moment (its clock and its sharing vary).
    /// </summary>
    public static double FmaPeak(int samples = 15)
    {
        double best = 0;
        for (int s = 0; s < samples; s++)
        {
            const int steps = 200_000;
            double t0 = Now();
            float sink = Vector512.IsHardwareAccelerated ? Fma512(steps) : Fma256(steps);
            double dt = Now() - t0;
            int lanes = Vector512.IsHardwareAccelerated ? 16 : 8;
            best = Math.Max(best, 2.0 * 24 * lanes * steps / dt / 1e9 + (sink == 1234.5f ? 1e-9 : 0));
        }
        return best;
    }

    private static float Fma512(int steps)
    {
        var x = Vector512.Create(0.999f);
        var y = Vector512.Create(1e-3f);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        Vector512<float> a8 = default, a9 = default, a10 = default, a11 = default, a12 = default, a13 = default, a14 = default, a15 = default;
        Vector512<float> a16 = default, a17 = default, a18 = default, a19 = default, a20 = default, a21 = default, a22 = default, a23 = default;
        for (int i = 0; i < steps; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, x, y); a1 = Vector512.FusedMultiplyAdd(a1, x, y);
            a2 = Vector512.FusedMultiplyAdd(a2, x, y); a3 = Vector512.FusedMultiplyAdd(a3, x, y);
            a4 = Vector512.FusedMultiplyAdd(a4, x, y); a5 = Vector512.FusedMultiplyAdd(a5, x, y);
            a6 = Vector512.FusedMultiplyAdd(a6, x, y); a7 = Vector512.FusedMultiplyAdd(a7, x, y);
            a8 = Vector512.FusedMultiplyAdd(a8, x, y); a9 = Vector512.FusedMultiplyAdd(a9, x, y);
            a10 = Vector512.FusedMultiplyAdd(a10, x, y); a11 = Vector512.FusedMultiplyAdd(a11, x, y);
            a12 = Vector512.FusedMultiplyAdd(a12, x, y); a13 = Vector512.FusedMultiplyAdd(a13, x, y);
            a14 = Vector512.FusedMultiplyAdd(a14, x, y); a15 = Vector512.FusedMultiplyAdd(a15, x, y);
            a16 = Vector512.FusedMultiplyAdd(a16, x, y); a17 = Vector512.FusedMultiplyAdd(a17, x, y);
            a18 = Vector512.FusedMultiplyAdd(a18, x, y); a19 = Vector512.FusedMultiplyAdd(a19, x, y);
            a20 = Vector512.FusedMultiplyAdd(a20, x, y); a21 = Vector512.FusedMultiplyAdd(a21, x, y);
            a22 = Vector512.FusedMultiplyAdd(a22, x, y); a23 = Vector512.FusedMultiplyAdd(a23, x, y);
        }
        var sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11 + a12 + a13 + a14 + a15 + a16 + a17 + a18 + a19 + a20 + a21 + a22 + a23;
        return Vector512.Sum(sum);
    }

    private static float Fma256(int steps)
    {
        var x = Vector256.Create(0.999f);
        var y = Vector256.Create(1e-3f);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        Vector256<float> a8 = default, a9 = default, a10 = default, a11 = default;
        for (int i = 0; i < 2 * steps; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, x, y); a1 = Vector256.FusedMultiplyAdd(a1, x, y);
            a2 = Vector256.FusedMultiplyAdd(a2, x, y); a3 = Vector256.FusedMultiplyAdd(a3, x, y);
            a4 = Vector256.FusedMultiplyAdd(a4, x, y); a5 = Vector256.FusedMultiplyAdd(a5, x, y);
            a6 = Vector256.FusedMultiplyAdd(a6, x, y); a7 = Vector256.FusedMultiplyAdd(a7, x, y);
            a8 = Vector256.FusedMultiplyAdd(a8, x, y); a9 = Vector256.FusedMultiplyAdd(a9, x, y);
            a10 = Vector256.FusedMultiplyAdd(a10, x, y); a11 = Vector256.FusedMultiplyAdd(a11, x, y);
        }
        var sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
        return Vector256.Sum(sum);
    }

    /// <summary>
    /// <c>gemm --kernel</c>: the float32 micro-kernel alone (tile512f32, 8 × 32 tile) on packed operands already in
    /// cache, best GFLOP/s and share of the FMA probe, in three layouts: both strips in L1 (the loop's own speed);
    /// one A strip (KC = 512) in L1 against the 8 B strips of a 512 × 256 panel streamed from L2 (the library's
    /// macro-kernel); one B strip (KC = 256) in L1 against 16 A strips streamed from L2 (the previous layout).
    /// </summary>
    private static unsafe void KernelProbe()
    {
        var method = GemmType.GetMethod("tile512f32", BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public);
        if (method is null || !Vector512.IsHardwareAccelerated)
        {
            Console.WriteLine("kernel probe: no Vector512 micro-kernel");
            return;
        }
        var tile = (delegate* managed<int, float*, float*, float*, int, bool, void>)method.MethodHandle.GetFunctionPointer();
        const int mr = 8, nr = 32;
        var a = GC.AllocateArray<float>(16 * 512 * mr + 16, pinned: true);
        var b = GC.AllocateArray<float>(8 * 512 * nr + 16, pinned: true);
        var c = GC.AllocateArray<float>(16 * mr * 256 + 16, pinned: true);
        var rng = new Random(3);
        for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble();
        for (int i = 0; i < b.Length; i++) b[i] = (float)rng.NextDouble();
        fixed (float* ap0 = a, bp0 = b, cp0 = c)
        {
            float* ap = (float*)(((nint)ap0 + 63) & ~(nint)63), bp = (float*)(((nint)bp0 + 63) & ~(nint)63);
            float* cp = (float*)(((nint)cp0 + 63) & ~(nint)63);
            double Measure(Action<int> body, double flopsPerRep)
            {
                double best = double.MaxValue;
                body(10);
                for (int s = 0; s < 15; s++)
                {
                    double t0 = Now();
                    body(200);
                    best = Math.Min(best, (Now() - t0) / 200);
                }
                return flopsPerRep / best / 1e9;
            }
            double l1 = Measure(reps => { for (int r = 0; r < reps; r++) for (int t = 0; t < 8; t++) tile(256, ap, bp, cp, nr, false); }, 8 * 2.0 * mr * nr * 256);
            double aL1 = Measure(reps => { for (int r = 0; r < reps; r++) for (int j = 0; j < 8; j++) tile(512, ap, bp + j * 512 * nr, cp + j * nr, 256, r > 0); }, 8 * 2.0 * mr * nr * 512);
            double bL1 = Measure(reps => { for (int r = 0; r < reps; r++) for (int i = 0; i < 16; i++) tile(256, ap + i * 256 * mr, bp, cp + i * mr * 256, 256, r > 0); }, 16 * 2.0 * mr * nr * 256);
            double peak = FmaPeak();
            Console.WriteLine(FormattableString.Invariant(
                $"kernel f32 8x32: L1 only {l1,6:F1} ({100 * l1 / peak:F1}%)  A in L1, B from L2 {aL1,6:F1} ({100 * aL1 / peak:F1}%)  B in L1, A from L2 {bL1,6:F1} ({100 * bL1 / peak:F1}%)  [fma peak {peak:F1}]"));
        }
    }

    /// <summary>Median seconds per call of C = op(A)·op(B) for float32, ~target seconds per sample.</summary>
    public static double Time32(int m, int n, int k, bool transA, bool transB, int samples = 9, double targetSeconds = 0.05) =>
        Time32Stats(m, n, k, transA, transB, samples, targetSeconds).Median;

    /// <summary>Seconds per call of C = op(A)·op(B) for float32: statistics over samples of ~target seconds each.</summary>
    public static Stats Time32Stats(int m, int n, int k, bool transA, bool transB, int samples, double targetSeconds)
    {
        var rng = new Random(7);
        var a = new float[m * k];
        var b = new float[k * n];
        var c = new float[m * n];
        for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() - 0.5);
        for (int i = 0; i < b.Length; i++) b[i] = (float)(rng.NextDouble() - 0.5);
        F32(transA, transB, m, n, k, a, 0, b, 0, c, 0);
        double t0 = Now();
        F32(transA, transB, m, n, k, a, 0, b, 0, c, 0);
        double once = Math.Max(1e-7, Now() - t0);
        int inner = Math.Max(1, (int)(targetSeconds / once));
        var times = new List<double>();
        for (int s = 0; s < samples; s++)
        {
            t0 = Now();
            for (int i = 0; i < inner; i++) F32(transA, transB, m, n, k, a, 0, b, 0, c, 0);
            times.Add((Now() - t0) / inner);
        }
        return Stats.Of(times);
    }

    /// <summary>
    /// <c>gemm [--threads 1,2] [--shapes 512,1024,256x784x256t0 ...] [--rounds 3] [--cpu]</c>: raw kernel GFLOP/s per
    /// shape and thread count, thread counts interleaved per shape so that their ratio is trustworthy on a noisy
    /// machine; --cpu times single-thread samples in thread CPU time instead of wall time.
    /// </summary>
    public static int Run(string[] args)
    {
        int[] threads = [1, 2];
        string[] shapes = ["64", "128", "256", "512", "1024", "256x784x256", "784x256x256TN", "256x256x784NT", "256x256x128", "256x128x10"];
        int rounds = 3;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--threads": threads = args[++i].Split(',').Select(int.Parse).ToArray(); break;
                case "--shapes": shapes = args[++i].Split(','); break;
                case "--rounds": rounds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--cpu": ThreadCpuTime = true; break;
                case "--kernel": KernelProbe(); return 0;
                default: Console.Error.WriteLine($"unknown arg {args[i]}"); return 2;
            }
        }
        int saved = Threads.Count;
        try
        {
            foreach (var shape in shapes)
            {
                var (m, n, k, ta, tb) = Parse(shape);
                var results = threads.ToDictionary(t => t, _ => new List<double>());
                var best = threads.ToDictionary(t => t, _ => double.MaxValue);
                for (int r = 0; r < rounds; r++)
                {
                    foreach (int t in threads)
                    {
                        Threads.Count = t;
                        var st = Time32Stats(m, n, k, ta, tb, 15, 0.01);
                        results[t].Add(st.Median);
                        best[t] = Math.Min(best[t], st.Min);
                    }
                }
                double flops = 2.0 * m * n * k;
                // The best sample is the speed of the kernel when the machine's other tenants left it alone.
                var line = string.Join("  ", threads.Select(t =>
                {
                    double s = Stats.Of(results[t]).Median;
                    return FormattableString.Invariant($"t{t}: {s * 1e6,9:F1} us {flops / s / 1e9,7:F1} GFLOP/s (best {flops / best[t] / 1e9,6:F1})");
                }));
                // The core's FMA speed measured right after this shape: the best gemm sample as a share of it.
                double peak = FmaPeak();
                double bestT1 = threads.Contains(1) ? flops / best[1] / 1e9 : double.NaN;
                Console.WriteLine(FormattableString.Invariant($"gemm f32 {shape,-16} {line}  [fma peak {peak,6:F1}, t1 best {100 * bestT1 / peak,5:F1}%]"));
                foreach (int t in threads)
                {
                    double s = Stats.Of(results[t]).Median;
                    Console.WriteLine(FormattableString.Invariant($"RESULT\tgemm\traw_gflops_{shape}_t{t}\t{flops / s / 1e9:F2}"));
                }
            }
        }
        finally
        {
            Threads.Count = saved;
        }
        return 0;
    }

    /// <summary>"512" is 512³; "MxNxK" with an optional "TN"/"NT"/"TT" suffix for (transA, transB).</summary>
    public static (int M, int N, int K, bool TransA, bool TransB) Parse(string shape)
    {
        bool ta = false, tb = false;
        string dims = shape;
        if (shape.Length > 2 && (shape.EndsWith("NN", StringComparison.Ordinal) || shape.EndsWith("TN", StringComparison.Ordinal) ||
                                 shape.EndsWith("NT", StringComparison.Ordinal) || shape.EndsWith("TT", StringComparison.Ordinal)))
        {
            ta = shape[^2] == 'T';
            tb = shape[^1] == 'T';
            dims = shape[..^2];
        }
        var parts = dims.Split('x').Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        return parts.Length == 1 ? (parts[0], parts[0], parts[0], ta, tb) : (parts[0], parts[1], parts[2], ta, tb);
    }
}
