using System.Runtime.CompilerServices;
using Microsoft.FSharp.Core;
using TinyTorch.Functional;

namespace TinyTorch.Tests;

/// <summary>
/// Gradient checkpointing: <c>Autograd.Checkpoint(f, inputs)</c> keeps one node instead of f's internal graph
/// and recomputes f in the backward pass; gradients are unchanged.
/// </summary>
public class CheckpointingTests
{
    /// <summary>A deep segment: ten rounds of h = tanh(h·W) + h, then a sum.</summary>
    private static Variable Segment(Variable x, Variable w)
    {
        var h = x;
        for (var i = 0; i < 10; i++)
        {
            h = Autograd.Tanh(Autograd.MatMul(h, w)) + h;
        }
        return h;
    }

    private static (Variable X, Variable W) Inputs() =>
        (new Variable(Tensor.FromArray([0.1, -0.2, 0.3, 0.4, -0.5, 0.6], 2, 3)),
         new Variable(Tensor.FromArray([0.2, -0.1, 0.05, 0.3, 0.1, -0.2, -0.15, 0.25, 0.1], 3, 3)));

    [Fact]
    public void Checkpointed_gradients_equal_the_plain_ones()
    {
        var (x1, w1) = Inputs();
        Autograd.SumAll(Autograd.Square(Segment(x1, w1))).Backward();

        var (x2, w2) = Inputs();
        var y = Autograd.Checkpoint(v => Segment(v[0], v[1]), x2, w2);
        Assert.Equal("checkpoint", y.GradFn!.Name);
        Autograd.SumAll(Autograd.Square(y)).Backward();

        Check.Close(x1.Grad!.ToArray(), x2.Grad!.ToArray(), 1e-12, "dx");
        Check.Close(w1.Grad!.ToArray(), w2.Grad!.ToArray(), 1e-12, "dw");
    }

    [Fact]
    public void The_checkpointed_graph_keeps_far_fewer_nodes()
    {
        var (x, w) = Inputs();
        var plain = Autograd.SumAll(Segment(x, w));
        var checkpointed = Autograd.SumAll(Autograd.Checkpoint(v => Segment(v[0], v[1]), x, w));
        var plainNodes = Reverse.topologicalOrder(plain.Node).Count;
        var checkpointedNodes = Reverse.topologicalOrder(checkpointed.Node).Count;
        // x, w, the checkpoint node and the sum: 4 nodes, against 3 per round (matmul, tanh, add) without checkpointing.
        Assert.Equal(4, checkpointedNodes);
        Assert.Equal(2 + 3 * 10 + 1, plainNodes);
    }

    /// <summary>Builds the loss through <see cref="Segment"/> (optionally checkpointed), recording weak references to its intermediate nodes.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (Variable Loss, List<WeakReference> Intermediates) Build(Variable x, Variable w, bool checkpoint)
    {
        var intermediates = new List<WeakReference>();
        Variable Tracked(Variable[] v)
        {
            var h = v[0];
            for (var i = 0; i < 5; i++)
            {
                h = Autograd.Tanh(Autograd.MatMul(h, v[1])) + h;
                intermediates.Add(new WeakReference(h.Node));
            }
            return h;
        }
        var y = checkpoint ? Autograd.Checkpoint(Tracked, x, w) : Tracked([x, w]);
        return (Autograd.SumAll(y), intermediates);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Alive(List<WeakReference> references)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return references.Count(r => r.IsAlive);
    }

    [Fact]
    public void The_intermediate_results_can_be_collected_after_the_forward_pass()
    {
        var (x, w) = Inputs();
        var (plainLoss, plainIntermediates) = Build(x, w, checkpoint: false);
        var (loss, intermediates) = Build(x, w, checkpoint: true);
        // Without checkpointing the loss's graph holds every intermediate; with it, none survives.
        Assert.Equal(5, Alive(plainIntermediates));
        Assert.Equal(0, Alive(intermediates));
        GC.KeepAlive(plainLoss);

        // The backward pass recomputes them and the gradients still match.
        loss.Backward();
        var dx = x.Grad!.ToArray();
        x.ZeroGrad();
        w.ZeroGrad();
        plainLoss.Backward();
        Check.Close(x.Grad!.ToArray(), dx, 1e-12);
    }

    [Fact]
    public void The_segment_runs_again_in_each_backward_pass()
    {
        var calls = 0;
        var x = new Variable(new[] { 1.0, 2.0 });
        // y = Σ exp(x), so dy/dx = exp(x).
        var y = Autograd.SumAll(Autograd.Checkpoint(v => { calls++; return Autograd.Exp(v[0]); }, x));
        Assert.Equal(1, calls);
        y.Backward();
        Assert.Equal(2, calls);
        Check.Close([Math.Exp(1), Math.Exp(2)], x.Grad!.ToArray());
    }

    [Fact]
    public void Second_derivatives_pass_through_a_checkpoint()
    {
        // f(x) = Σ x³ inside a checkpoint: d/dx Σ (d/dx f) = d/dx Σ 3x² = 6x.
        var f = FuncConvert.FromFunc((Node x) => NodeModule.sumAll(
            Autograd.Checkpoint(v => v[0] * v[0] * v[0], Variable.FromNode(x)).Node));
        var gradSum = FuncConvert.FromFunc((Node x) => NodeModule.sumAll(Transforms.grad(f, x)));
        var second = Transforms.grad(gradSum, NodeModule.constant(Tensor.FromArray([1.0, -2.0], 2)));
        Check.Close([6.0, -12.0], second.Value.ToArray());
    }

    [Fact]
    public void Forward_mode_passes_through_a_checkpoint()
    {
        // d/dε sin(x + ε t) = cos(x)·t.
        var f = FuncConvert.FromFunc((Node x) => Autograd.Checkpoint(v => Autograd.Sin(v[0]), Variable.FromNode(x)).Node);
        var (_, tangent) = Transforms.jvp(f, NodeModule.constant(Tensor.FromArray([0.0, 1.0], 2)), NodeModule.constant(Tensor.FromArray([2.0, 1.0], 2)));
        Check.Close([2.0, Math.Cos(1.0)], tangent.Value.ToArray());
    }

    [Fact]
    public void A_segment_that_captures_a_variable_instead_of_receiving_it_is_rejected()
    {
        var (x, w) = Inputs();
        var ex = Assert.Throws<ArgumentException>(() => Autograd.Checkpoint(v => Autograd.MatMul(v[0], w), x));
        Assert.Equal("f", ex.ParamName);
        Assert.Contains("not one of the inputs", ex.Message);
        // Capturing a constant is fine.
        var scale = new Variable(2.0, requiresGrad: false);
        var y = Autograd.Checkpoint(v => v[0] * scale, x);
        Assert.Equal(x.Data.ToArray().Select(d => 2 * d), y.ToArray());
    }

    [Fact]
    public void The_backward_recomputation_records_its_graph_even_inside_no_grad()
    {
        // y = Σ exp(x) built outside; its gradient exp(x) taken inside NoGrad still recomputes the segment's graph.
        var x = new Variable(new[] { 0.0, 1.0 });
        var y = Autograd.SumAll(Autograd.Checkpoint(v => Autograd.Exp(v[0]), x));
        using (Autograd.NoGrad())
        {
            Check.Close([1.0, Math.E], Reverse.gradients(y.Node)[x].Value.ToArray());
        }
    }

    [Fact]
    public void Null_arguments_throw()
    {
        var x = new Variable(1.0);
        Assert.Throws<ArgumentNullException>(() => Autograd.Checkpoint(null!, x));
        Assert.Throws<ArgumentNullException>(() => Autograd.Checkpoint(v => v[0], null!));
        Assert.Throws<ArgumentNullException>(() => Autograd.Checkpoint(v => v[0], x, null!));
        Assert.Throws<InvalidOperationException>(() => Autograd.Checkpoint(_ => null!, x));
    }
}
