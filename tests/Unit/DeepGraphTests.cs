namespace TinyTorch.Tests;

/// <summary>
/// Very deep and heavily shared graphs: backward must neither recurse (stack overflow) nor revisit
/// shared nodes once per path (exponential time). No timing assertions.
/// </summary>
public class DeepGraphTests
{
    [Fact]
    public void A_chain_of_a_million_nodes_backpropagates_without_stack_overflow()
    {
        // 500,000 times y = y * 1.0000001 + 0.0 (two op nodes each): dy/dx = 1.0000001^500000.
        const int steps = 500_000;
        const double factor = 1.0000001;
        var x = new Variable(1.0);
        var y = x;
        for (var i = 0; i < steps; i++)
        {
            y = y * factor + 0.0;
        }

        var expected = Math.Pow(factor, steps);
        Check.Relative(expected, y.Item(), 1e-9, "forward value");

        y.Backward();
        Check.Relative(expected, Check.GradOf(x).Item(), 1e-9, "dy/dx");
    }

    [Fact]
    public void A_chain_of_a_million_nodes_can_be_backpropagated_twice()
    {
        // Same chain built with the free functions; a second backward accumulates: 2 · 1.0000001^500000.
        const int steps = 500_000;
        const double factor = 1.0000001;
        var x = new Variable(1.0);
        var y = x;
        for (var i = 0; i < steps; i++)
        {
            y = Autograd.Add(Autograd.Multiply(y, factor), 0.0);
        }

        y.Backward();
        y.Backward();
        Check.Relative(2 * Math.Pow(factor, steps), Check.GradOf(x).Item(), 1e-9, "accumulated dy/dx");
    }

    [Theory]
    [InlineData(40)]
    [InlineData(60)]
    public void A_graph_reusing_each_node_three_times_gives_one_and_a_half_to_the_depth(int depth)
    {
        // y ← y·y·0.5 + y·0.5 keeps y = 1 at x = 1, and dy_new/dy = y + 0.5 = 1.5,
        // so dy/dx = 1.5^depth. Each level uses the previous node three times (3^depth paths).
        var x = new Variable(1.0);
        var y = x;
        for (var i = 0; i < depth; i++)
        {
            y = y * y * 0.5 + y * 0.5;
        }

        Assert.Equal(1.0, y.Item());
        y.Backward();
        Check.Relative(Math.Pow(1.5, depth), Check.GradOf(x).Item(), 1e-9, $"dy/dx at depth {depth}");
    }

    [Fact]
    public void A_leaf_used_a_hundred_thousand_times_gets_the_sum_of_all_contributions()
    {
        // y = x + x + ... + x (100,000 terms after the first), so dy/dx = 100,001.
        const int uses = 100_000;
        var x = new Variable(new[] { 1.0, 2.0 });
        var y = x;
        for (var i = 0; i < uses; i++)
        {
            y = y + x;
        }

        Assert.Equal(new[] { uses + 1.0, 2.0 * (uses + 1) }, y.ToArray());
        y.Backward();
        Assert.Equal(new[] { uses + 1.0, uses + 1.0 }, Check.GradOf(x).ToArray());
    }

    [Fact]
    public void A_deep_chain_of_unary_ops_backpropagates_without_stack_overflow()
    {
        // 200,000 times y = -(-y): the identity, so dy/dx = 1 (400,000 negate nodes).
        var x = new Variable(3.0);
        var y = x;
        for (var i = 0; i < 200_000; i++)
        {
            y = -(-y);
        }

        Assert.Equal(3.0, y.Item());
        y.Backward();
        Assert.Equal(1.0, Check.GradOf(x).Item());
    }
}
