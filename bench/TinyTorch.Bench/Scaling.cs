using System.Diagnostics;
using System.Globalization;
using System.Text;
using ScottPlot;

namespace TinyTorch.Bench;

/// <summary>
/// <c>scaling [--out folder] [--threads 1,2] [--quick]</c>: how costs grow with size — backward time per node for scalar
/// chains of 10³ … 10⁶ nodes, GEMM GFLOP/s for square sizes 64 … 2048 (through <c>Autograd.MatMul</c>, per thread
/// count), and elementwise ns/element for a·b + c forward + backward at 10⁴ … 10⁷ elements. Prints markdown tables and
/// writes them with one PNG plot per table into the output folder.
/// </summary>
internal static class Scaling
{
    public static int Run(string[] args)
    {
        string outFolder = "bench/scaling";
        int[] threads = [1, 2];
        bool quick = false;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--out": outFolder = args[++i]; break;
                case "--threads": threads = args[++i].Split(',').Select(int.Parse).ToArray(); break;
                case "--quick": quick = true; break;
                default: Console.Error.WriteLine($"unknown arg {args[i]}"); return 2;
            }
        }
        Directory.CreateDirectory(outFolder);
        int saved = Threads.Count;
        var md = new StringBuilder();
        md.AppendLine(FormattableString.Invariant($"# TinyTorch scaling ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, .NET {Environment.Version})"));
        md.AppendLine();
        try
        {
            Threads.Count = 1;
            Chains(md, outFolder, quick);
            Gemm(md, outFolder, threads, quick);
            Threads.Count = 1;
            Elementwise(md, outFolder, quick);
        }
        finally
        {
            Threads.Count = saved;
        }
        File.WriteAllText(Path.Combine(outFolder, "scaling.md"), md.ToString());
        Console.WriteLine($"wrote {Path.Combine(outFolder, "scaling.md")} and the PNG plots next to it");
        return 0;
    }

    private static void Emit(StringBuilder md, string text)
    {
        Console.WriteLine(text);
        md.AppendLine(text);
    }

    private static void Chains(StringBuilder md, string outFolder, bool quick)
    {
        Emit(md, "## Backward pass of a scalar chain (y = y·c + 0), one thread\n");
        // The fastest backward is the walk alone; the median includes the collections that land in it (a gen-1
        // collection while a graph of 10⁵–10⁶ nodes is alive moves the graph, tens of milliseconds).
        Emit(md, "| nodes | forward ns/node | backward ns/node, median | backward ns/node, fastest |");
        Emit(md, "| ---: | ---: | ---: | ---: |");
        var xs = new List<double>(); var fwdYs = new List<double>(); var bwdYs = new List<double>(); var bwdMins = new List<double>();
        // Warm-up for at least one second (tiered compilation), on a chain of 10⁴ nodes, through the same method the
        // timed passes call.
        for (long warmEnd = Stopwatch.GetTimestamp() + Stopwatch.Frequency; Stopwatch.GetTimestamp() < warmEnd;)
        {
            BuildChain(new Variable(1.0), 5_000).Backward();
        }
        // The sizes take turns, one pass each per round (the large ones in fewer rounds), so that a slow spell of this
        // shared machine — seen here as tens of milliseconds at 10-15x the usual cost per node, unchanged by
        // DOTNET_GCRetainVM=1 or a fixed gen-0 size — falls on every size alike instead of on whichever size was being timed.
        int[] sizes = [1_000, 10_000, 100_000, 1_000_000];
        int Reps(int nodes) => quick ? 2 : nodes >= 1_000_000 ? 5 : nodes >= 100_000 ? 9 : 15;
        var fwd = sizes.ToDictionary(n => n, _ => new List<double>());
        var bwd = sizes.ToDictionary(n => n, _ => new List<double>());
        for (int round = 0; round < Reps(sizes[0]); round++)
        {
            foreach (int nodes in sizes)
            {
                if (round >= Reps(nodes)) continue;
                var x = new Variable(1.0);
                long t0 = Stopwatch.GetTimestamp();
                var y = BuildChain(x, nodes / 2);
                long t1 = Stopwatch.GetTimestamp();
                y.Backward();
                long t2 = Stopwatch.GetTimestamp();
                fwd[nodes].Add((t1 - t0) / (double)Stopwatch.Frequency / nodes);
                bwd[nodes].Add((t2 - t1) / (double)Stopwatch.Frequency / nodes);
            }
        }
        foreach (int nodes in sizes)
        {
            double f = Stats.Of(fwd[nodes]).Median * 1e9, b = Stats.Of(bwd[nodes]).Median * 1e9, bMin = bwd[nodes].Min() * 1e9;
            Emit(md, FormattableString.Invariant($"| {nodes:N0} | {f:F0} | {b:F0} | {bMin:F0} |"));
            xs.Add(Math.Log10(nodes)); fwdYs.Add(f); bwdYs.Add(b); bwdMins.Add(bMin);
        }
        Emit(md, "");
        SavePlot(Path.Combine(outFolder, "chain.png"), "Scalar chain: cost per node", "log10(nodes)", "ns per node",
            [("forward", xs, fwdYs), ("backward (median)", xs, bwdYs), ("backward (fastest)", xs, bwdMins)]);
    }

    /// <summary>A chain of 2·<paramref name="steps"/> nodes: y = y·c + 0, repeated.</summary>
    private static Variable BuildChain(Variable x, int steps)
    {
        var y = x;
        for (int i = 0; i < steps; i++) y = y * 1.0000001 + 0.0;
        return y;
    }

    private static void Gemm(StringBuilder md, string outFolder, int[] threads, bool quick)
    {
        Emit(md, "## Square float32 matrix product through Autograd.MatMul (new output per call)\n");
        Emit(md, "| n | " + string.Join(" | ", threads.Select(t => $"GFLOP/s, {t} thread{(t == 1 ? "" : "s")}")) + " |");
        Emit(md, "| ---: |" + string.Concat(threads.Select(_ => " ---: |")));
        var series = threads.Select(t => (Name: $"{t} thread{(t == 1 ? "" : "s")}", X: new List<double>(), Y: new List<double>())).ToArray();
        var rng = new Random(9);
        // Warm-up: let the JIT reach its optimised code for the kernel and its packing before anything is timed.
        var w = new Variable(Tensor.FromArray(new float[256 * 256], 256, 256), requiresGrad: false);
        foreach (int t in threads)
        {
            Threads.Count = t;
            // At least one second per thread count: tiered compilation optimizes hot methods only after they have run a while.
            long warmEnd = Stopwatch.GetTimestamp() + Stopwatch.Frequency;
            for (int i = 0; i < 60 || Stopwatch.GetTimestamp() < warmEnd; i++) GC.KeepAlive(Autograd.MatMul(w, w));
        }
        foreach (int n in new[] { 64, 128, 256, 512, 1024, 2048 })
        {
            FullCollection(); // each size starts from a clean heap, not from the previous size's garbage
            var a = new Variable(Tensor.FromArray(Enumerable.Range(0, n * n).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray(), n, n), requiresGrad: false);
            var b = new Variable(Tensor.FromArray(Enumerable.Range(0, n * n).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray(), n, n), requiresGrad: false);
            double flops = 2.0 * n * n * n;
            int inner = Math.Max(1, (int)((quick ? 2e8 : 1e9) / flops));
            int samples = quick ? 3 : n >= 2048 ? 5 : 9;
            var cells = new List<string>();
            // One thread count after the other (not interleaved sample by sample: a pool worker still spinning
            // after a two-thread call shares the core with the next one-thread call and halves it).
            var times = threads.ToDictionary(t => t, _ => new List<double>());
            // Per size, first as many products as it takes the pool to hold enough outputs of this size (three
            // times its collection budget of 64 MB: the collections that return them come partly from the GC's own
            // schedule): until then many outputs are new arrays, and the page faults of a new array here (~8 µs
            // per 4 KB) cost about as much as a 1024² product itself.
            int fill = 8 + 3 * (int)Math.Ceiling(64.0 * 1024 * 1024 / (4.0 * n * n));
            for (int i = 0; i < fill; i++) GC.KeepAlive(Autograd.MatMul(a, b));
            foreach (int t in threads)
            {
                Threads.Count = t;
                for (int s = 0; s < samples + 1; s++)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    for (int i = 0; i < inner; i++) GC.KeepAlive(Autograd.MatMul(a, b));
                    if (s > 0) times[t].Add((Stopwatch.GetTimestamp() - t0) / (double)Stopwatch.Frequency / inner);
                }
            }
            for (int i = 0; i < threads.Length; i++)
            {
                double g = flops / Stats.Of(times[threads[i]]).Median / 1e9;
                cells.Add(g.ToString("F1", CultureInfo.InvariantCulture));
                series[i].X.Add(Math.Log2(n)); series[i].Y.Add(g);
            }
            Emit(md, $"| {n} | {string.Join(" | ", cells)} |");
        }
        Emit(md, "");
        SavePlot(Path.Combine(outFolder, "gemm.png"), "Square float32 matmul", "log2(n)", "GFLOP/s",
            series.Select(s => (s.Name, s.X, s.Y)).ToArray());
    }

    private static void Elementwise(StringBuilder md, string outFolder, bool quick)
    {
        Emit(md, "## Elementwise float32: SumAll(a·b + c) forward + backward, one thread\n");
        Emit(md, "| elements | forward ns/element | forward + backward ns/element |");
        Emit(md, "| ---: | ---: | ---: |");
        var xs = new List<double>(); var fwdYs = new List<double>(); var totYs = new List<double>();
        var rng = new Random(10);
        foreach (int n in new[] { 10_000, 100_000, 1_000_000, 10_000_000 })
        {
            Variable Make() => new(Tensor.FromArray(Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray(), n));
            FullCollection(); // each size starts from a clean heap, not from the previous size's garbage
            var a = Make(); var b = Make(); var c = Make();
            // Warm-up for at least one second per size (tiered compilation; the pool fills with this size's buffers).
            for (long warmEnd = Stopwatch.GetTimestamp() + Stopwatch.Frequency; Stopwatch.GetTimestamp() < warmEnd;)
            {
                a.Grad = null; b.Grad = null; c.Grad = null;
                Autograd.SumAll(a * b + c).Backward();
            }
            int reps = quick ? 3 : n >= 10_000_000 ? 7 : n >= 1_000_000 ? 15 : 41;
            int inner = Math.Max(1, 1_000_000 / n);
            var fwd = new List<double>(); var tot = new List<double>();
            for (int r = 0; r < reps + 2; r++)
            {
                long tf = 0, tt = 0;
                for (int i = 0; i < inner; i++)
                {
                    a.Grad = null; b.Grad = null; c.Grad = null;
                    long t0 = Stopwatch.GetTimestamp();
                    var loss = Autograd.SumAll(a * b + c);
                    long t1 = Stopwatch.GetTimestamp();
                    loss.Backward();
                    long t2 = Stopwatch.GetTimestamp();
                    tf += t1 - t0; tt += t2 - t0;
                }
                if (r >= 2)
                {
                    fwd.Add(tf / (double)Stopwatch.Frequency / inner / n);
                    tot.Add(tt / (double)Stopwatch.Frequency / inner / n);
                }
            }
            double f = Stats.Of(fwd).Median * 1e9, t = Stats.Of(tot).Median * 1e9;
            Emit(md, FormattableString.Invariant($"| {n:N0} | {f:F2} | {t:F2} |"));
            xs.Add(Math.Log10(n)); fwdYs.Add(f); totYs.Add(t);
        }
        Emit(md, "");
        SavePlot(Path.Combine(outFolder, "elementwise.png"), "SumAll(a*b + c), float32", "log10(elements)", "ns per element",
            [("forward", xs, fwdYs), ("forward + backward", xs, totYs)]);
    }

    private static void SavePlot(string path, string title, string xLabel, string yLabel, (string Name, List<double> X, List<double> Y)[] series)
    {
        var plot = new Plot();
        foreach (var (name, x, y) in series)
        {
            var line = plot.Add.Scatter(x.ToArray(), y.ToArray());
            line.LegendText = name;
        }
        plot.Title(title);
        plot.Axes.Bottom.Label.Text = xLabel;
        plot.Axes.Left.Label.Text = yLabel;
        plot.Axes.SetLimitsY(0, series.SelectMany(s => s.Y).DefaultIfEmpty(1).Max() * 1.1);
        plot.ShowLegend();
        plot.SavePng(path, 800, 500);
    }

    private static void FullCollection()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}
