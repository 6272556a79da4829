using System.Diagnostics;
using System.Globalization;
using System.Reflection;

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
        long t0 = Stopwatch.GetTimestamp();
        F32(transA, transB, m, n, k, a, 0, b, 0, c, 0);
        double once = Math.Max(1e-7, Stopwatch.GetElapsedTime(t0).TotalSeconds);
        int inner = Math.Max(1, (int)(targetSeconds / once));
        var times = new List<double>();
        for (int s = 0; s < samples; s++)
        {
            t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < inner; i++) F32(transA, transB, m, n, k, a, 0, b, 0, c, 0);
            times.Add(Stopwatch.GetElapsedTime(t0).TotalSeconds / inner);
        }
        return Stats.Of(times);
    }

    /// <summary>
    /// <c>gemm [--threads 1,2] [--shapes 512,1024,256x784x256t0 ...]</c>: raw kernel GFLOP/s per shape and thread count,
    /// thread counts interleaved per shape so that their ratio is trustworthy on a noisy machine.
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
                Console.WriteLine(FormattableString.Invariant($"gemm f32 {shape,-16} {line}"));
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
