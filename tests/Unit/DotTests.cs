using System.Text.RegularExpressions;
using TinyTorch.Functional;

namespace TinyTorch.Tests;

/// <summary>
/// Graph export: <c>Autograd.ToDot</c> and <c>tinytorch graph</c> write Graphviz DOT, read back here by a
/// small parser (node declarations and edges) to check the node count, the labels, the styles and that
/// the edges form a DAG ending at the output.
/// </summary>
public partial class DotTests
{
    /// <summary>One declared node: its label (DOT escapes undone) and its other attributes as written.</summary>
    private sealed record DotNode(string Id, string Label, string Attributes);

    /// <summary>One edge from an input to its consumer, with the input's position when labelled.</summary>
    private sealed record DotEdge(string From, string To, int? Position);

    private sealed record DotGraph(IReadOnlyList<DotNode> Nodes, IReadOnlyList<DotEdge> Edges);

    [GeneratedRegex("""^\s*(n\d+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$""")]
    private static partial Regex NodeLine();

    [GeneratedRegex("""^\s*(n\d+) -> (n\d+)(?: \[label="(\d+)"\])?;$""")]
    private static partial Regex EdgeLine();

    /// <summary>Parses the subset of DOT the writer emits; any other statement fails the test.</summary>
    private static DotGraph Parse(string dot)
    {
        var lines = dot.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("digraph tinytorch {", lines[0]);
        Assert.Equal("}", lines[^1]);
        var nodes = new List<DotNode>();
        var edges = new List<DotEdge>();
        foreach (var line in lines[1..^1])
        {
            if (NodeLine().Match(line) is { Success: true } n)
            {
                var label = Regex.Replace(n.Groups[2].Value, @"\\(.)", m => m.Groups[1].Value == "n" ? "\n" : m.Groups[1].Value);
                nodes.Add(new DotNode(n.Groups[1].Value, label, n.Groups[3].Value));
            }
            else if (EdgeLine().Match(line) is { Success: true } e)
            {
                edges.Add(new DotEdge(e.Groups[1].Value, e.Groups[2].Value, e.Groups[3].Success ? int.Parse(e.Groups[3].Value) : null));
            }
            else if (!line.TrimStart().StartsWith("node [", StringComparison.Ordinal) && !line.TrimStart().StartsWith("edge [", StringComparison.Ordinal))
            {
                Assert.Fail($"unexpected DOT statement: {line}");
            }
        }
        return new DotGraph(nodes, edges);
    }

    /// <summary>Ids are n0, n1, … in declaration order; every edge goes from a lower id to a higher one (so the graph
    /// is acyclic), every node but the last feeds some other node, and the last one (the output) feeds none.</summary>
    private static void AssertDagEndingAtTheOutput(DotGraph graph)
    {
        Assert.Equal(Enumerable.Range(0, graph.Nodes.Count).Select(i => $"n{i}"), graph.Nodes.Select(n => n.Id));
        static int Index(string id) => int.Parse(id[1..]);
        Assert.All(graph.Edges, e => Assert.True(Index(e.From) < Index(e.To), $"edge {e.From} -> {e.To} goes backwards"));
        var output = graph.Nodes[^1].Id;
        Assert.DoesNotContain(graph.Edges, e => e.From == output);
        var feeding = graph.Edges.Select(e => e.From).ToHashSet();
        Assert.All(graph.Nodes.SkipLast(1), n => Assert.Contains(n.Id, feeding));
        Assert.Contains("peripheries=2", graph.Nodes[^1].Attributes);
    }

    /// <summary>The number of distinct nodes reachable from a node, counted independently of the writer.</summary>
    private static int Reachable(Node root)
    {
        var seen = new HashSet<Node>(ReferenceEqualityComparer.Instance) { root };
        var pending = new Stack<Node>([root]);
        while (pending.Count > 0)
        {
            foreach (var input in pending.Pop().Inputs)
            {
                if (seen.Add(input))
                {
                    pending.Push(input);
                }
            }
        }
        return seen.Count;
    }

    [Fact]
    public void A_small_graph_has_one_node_per_value_labelled_with_op_and_shape()
    {
        // loss = Σ (x · w), x a constant [2, 3] and w a leaf [2, 3].
        var x = new Variable(Tensor.FromArray([1.0, 2, 3, 4, 5, 6], 2, 3), requiresGrad: false);
        var w = new Variable(Tensor.FromArray([0.5, 0.5, 0.5, 0.5, 0.5, 0.5], 2, 3));
        var dot = Autograd.ToDot(Autograd.SumAll(x * w));
        Assert.Contains("""[label="multiply\n[2, 3]", """, dot);

        var graph = Parse(dot);
        Assert.Equal(["constant\n[2, 3]", "leaf\n[2, 3]", "multiply\n[2, 3]", "sum_all\n[]"], graph.Nodes.Select(n => n.Label));
        Assert.Equal([new DotEdge("n0", "n2", 0), new DotEdge("n1", "n2", 1), new DotEdge("n2", "n3", null)], graph.Edges);
        Assert.Contains("style=dashed", graph.Nodes[0].Attributes);   // constant: needs no grad
        Assert.Contains("fillcolor=lightblue", graph.Nodes[1].Attributes); // leaf that requires grad
        Assert.Contains("shape=ellipse", graph.Nodes[2].Attributes);  // op that requires grad
        AssertDagEndingAtTheOutput(graph);
    }

    [Fact]
    public void A_value_used_twice_is_one_node_with_two_edges()
    {
        // y = x · x: one leaf, two edges into the multiply (positions 0 and 1).
        var x = new Variable(new[] { 1.0, 2.0 });
        var graph = Parse(Autograd.ToDot(x * x));
        Assert.Equal(2, graph.Nodes.Count);
        Assert.Equal([new DotEdge("n0", "n1", 0), new DotEdge("n0", "n1", 1)], graph.Edges);
    }

    [Fact]
    public void The_mlp_loss_graph_contains_every_reachable_node_including_constants()
    {
        var loss = Cli.GraphCommand.ExampleLoss();
        var graph = Parse(Autograd.ToDot(loss));
        Assert.Equal(Reachable(loss.Node), graph.Nodes.Count);
        // Four parameters (two weights, two biases), the batch as a constant, and ops ending in a scalar.
        Assert.Equal(["leaf\n[4, 3]", "leaf\n[4]", "leaf\n[2, 4]", "leaf\n[2]"], graph.Nodes.Where(n => n.Label.StartsWith("leaf", StringComparison.Ordinal)).Select(n => n.Label));
        Assert.Contains(graph.Nodes, n => n.Label == "constant\n[2, 3]");
        Assert.Contains(graph.Nodes, n => n.Label == "relu\n[2, 4]");
        Assert.Contains(graph.Nodes, n => n.Label == "matmul\n[2, 2]");
        Assert.EndsWith("\n[]", graph.Nodes[^1].Label);
        // Every op node requires grad here, and the requires-grad count matches the core's topological order.
        Assert.Equal(Reverse.topologicalOrder(loss.Node).Count, graph.Nodes.Count(n => !n.Attributes.Contains("style=dashed")));
        AssertDagEndingAtTheOutput(graph);
    }

    [Fact]
    public void The_output_is_stable_and_names_custom_ops_with_escaped_quotes()
    {
        var quoted = Autograd.DefineFunction("say \"hi\"", v => v[0], (_, _, g) => [g], check: false);
        var x = new Variable(new[] { 1.0, 2.0 });
        var y = Autograd.Exp(quoted.Apply(x));
        var dot = Autograd.ToDot(y);
        Assert.Equal(dot, Autograd.ToDot(y));
        Assert.Contains("""label="say \"hi\"\n[2]""", dot);
        Assert.Equal("say \"hi\"\n[2]", Parse(dot).Nodes[1].Label);
    }

    [Fact]
    public void A_value_with_no_graph_is_a_single_constant()
    {
        var graph = Parse(Autograd.ToDot(new Variable(3.0, requiresGrad: false)));
        Assert.Equal("constant\n[]", Assert.Single(graph.Nodes).Label);
        Assert.Empty(graph.Edges);
        Assert.Throws<ArgumentNullException>(() => Autograd.ToDot(null!));
    }

    [Fact]
    public void A_long_chain_exports_without_recursion()
    {
        // 50 000 ops (each adds a scalar constant): an explicit stack, no stack overflow.
        var x = new Variable(0.0);
        var y = x;
        for (var i = 0; i < 50_000; i++)
        {
            y = y + 1.0;
        }
        var dot = Autograd.ToDot(y);
        Assert.Contains("n100000 [label=\"add\\n[]\"", dot);
    }

    // ---------------------------------------------------------------- tinytorch graph

    private static (int ExitCode, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = Cli.Cli.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void The_graph_command_prints_the_dot_of_a_small_mlp_loss()
    {
        var (code, output, error) = Run("graph");
        Assert.True(code == 0, error);
        Assert.Equal(Autograd.ToDot(Cli.GraphCommand.ExampleLoss()), output);
        AssertDagEndingAtTheOutput(Parse(output));
    }

    [Fact]
    public void The_graph_command_writes_the_dot_to_a_file()
    {
        using var folder = new TempFolder();
        var path = folder.File("graph.dot");
        var (code, output, error) = Run("graph", "--out", path);
        Assert.True(code == 0, error);
        Assert.Contains(path, output);
        Assert.Equal(Run("graph").Output, File.ReadAllText(path));
    }

    [Fact]
    public void The_graph_command_reports_an_unwritable_file_in_one_line()
    {
        using var folder = new TempFolder();
        var (code, _, error) = Run("graph", "--out", Path.Combine(folder.Root, "missing", "graph.dot"));
        Assert.Equal(1, code);
        Assert.StartsWith("tinytorch: ", error);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
