namespace TinyTorch.Tests;

/// <summary>
/// Exact forward values and hand-computed gradients of the tensor operations (linear algebra,
/// shapes, indexing, reductions, elementwise functions, the softmax family, losses, dropout and
/// integer tensors) through the C# API. Reference numbers that are not obvious were computed with
/// plain-Python math (no NumPy); each test states the maths it checks.
/// </summary>
public class TensorOpsTests
{
    // ---------------------------------------------------------------- helpers

    /// <summary>A float64 leaf of the given shape from row-major values.</summary>
    private static Variable Leaf(double[] values, params int[] shape) =>
        new(Tensor.FromArray(values, shape.Length == 0 ? new[] { values.Length } : shape));

    /// <summary>A float64 constant (no gradient) of the given shape.</summary>
    private static Variable Const(double[] values, params int[] shape) =>
        new(Tensor.FromArray(values, shape.Length == 0 ? new[] { values.Length } : shape), requiresGrad: false);

    /// <summary>Backpropagates y = Σ (out ⊙ w), so that dL/dout = w.</summary>
    private static void BackwardWeighted(Variable output, double[] weights) =>
        (output * Const(weights, output.Shape.ToArray())).Sum().Backward();

    private static double[] Range(int n, double start = 0.0) => Enumerable.Range(0, n).Select(i => start + i).ToArray();

    private static void AssertShape(Variable v, params int[] dims) => Assert.Equal(Shape.Of(dims), v.Shape);

    private static void AssertGrad(Variable leaf, double[] expected, double tolerance = 1e-9)
    {
        var g = Check.GradOf(leaf);
        Assert.Equal(leaf.Shape, g.Shape);
        Check.Close(expected, g.ToArray(), tolerance, "gradient");
    }

    // ================================================================= linear algebra

    [Fact]
    public void MatMul_of_two_vectors_is_a_0d_dot_product()
    {
        // y = a·b = 1·4 + 2·5 + 3·6 = 32; dy/da = b, dy/db = a.
        var a = Leaf([1, 2, 3]);
        var b = Leaf([4, 5, 6]);
        var y = Autograd.MatMul(a, b);
        AssertShape(y);
        Assert.Equal(32.0, y.Item());
        y.Backward();
        AssertGrad(a, [4, 5, 6]);
        AssertGrad(b, [1, 2, 3]);
    }

    [Fact]
    public void MatMul_of_two_matrices()
    {
        // C = A·B = [[58, 64], [139, 154]]; y = Σ C; dy/dA = 1·Bᵀ (each row = row sums of B: 15, 19, 23),
        // dy/dB = Aᵀ·1 (row k = column sum k of A: 5, 7, 9).
        var a = Leaf([1, 2, 3, 4, 5, 6], 2, 3);
        var b = Leaf([7, 8, 9, 10, 11, 12], 3, 2);
        var c = Autograd.MatMul(a, b);
        AssertShape(c, 2, 2);
        Check.Close([58, 64, 139, 154], c.ToArray());
        c.Sum().Backward();
        AssertGrad(a, [15, 19, 23, 15, 19, 23]);
        AssertGrad(b, [5, 5, 7, 7, 9, 9]);
    }

    [Fact]
    public void MatMul_fluent_form_with_a_weighted_upstream_gradient()
    {
        // C = A·B, L = Σ C ⊙ G with G = [[1, 2], [3, 4]]: dL/dA = G·Bᵀ, dL/dB = Aᵀ·G.
        // G·Bᵀ = [[1·7+2·8, 1·9+2·10, 1·11+2·12], [3·7+4·8, 3·9+4·10, 3·11+4·12]] = [[23, 29, 35], [53, 67, 81]].
        // Aᵀ·G = [[1+12, 2+16], [2+15, 4+20], [3+18, 6+24]] = [[13, 18], [17, 24], [21, 30]].
        var a = Leaf([1, 2, 3, 4, 5, 6], 2, 3);
        var b = Leaf([7, 8, 9, 10, 11, 12], 3, 2);
        var c = a.MatMul(b);
        BackwardWeighted(c, [1, 2, 3, 4]);
        AssertGrad(a, [23, 29, 35, 53, 67, 81]);
        AssertGrad(b, [13, 18, 17, 24, 21, 30]);
    }

    [Fact]
    public void MatMul_vector_by_matrix_treats_the_vector_as_a_row_and_drops_it()
    {
        // [3]·[3, 2] → [2]: v·B = [1·7+2·9+3·11, 1·8+2·10+3·12] = [58, 64].
        // y = Σ v·B: dy/dv_k = Σ_n B[k, n] = [15, 19, 23]; dy/dB[k, n] = v_k.
        var v = Leaf([1, 2, 3]);
        var b = Leaf([7, 8, 9, 10, 11, 12], 3, 2);
        var y = Autograd.MatMul(v, b);
        AssertShape(y, 2);
        Check.Close([58, 64], y.ToArray());
        y.Sum().Backward();
        AssertGrad(v, [15, 19, 23]);
        AssertGrad(b, [1, 1, 2, 2, 3, 3]);
    }

    [Fact]
    public void MatMul_matrix_by_vector_treats_the_vector_as_a_column_and_drops_it()
    {
        // [2, 3]·[3] → [2]: A·v with v = [1, 0, −1] = [1 − 3, 4 − 6] = [−2, −2].
        // y = Σ A·v: dy/dA[m, k] = v_k; dy/dv_k = Σ_m A[m, k] = [5, 7, 9].
        var a = Leaf([1, 2, 3, 4, 5, 6], 2, 3);
        var v = Leaf([1, 0, -1]);
        var y = a.MatMul(v);
        AssertShape(y, 2);
        Check.Close([-2, -2], y.ToArray());
        y.Sum().Backward();
        AssertGrad(a, [1, 0, -1, 1, 0, -1]);
        AssertGrad(v, [5, 7, 9]);
    }

    [Fact]
    public void MatMul_batched_with_broadcast_batch_dimensions()
    {
        // [2, 1, 3, 4]·[3, 4, 2] → [2, 3, 3, 2]: batch dims [2, 1] and [3] broadcast to [2, 3].
        // A[b, 0, i, k] = 12b + 4i + k − 10, B[j, k, n] = 8j + 2k + n − 12, L = Σ C ⊙ W with
        // W[b, j, i, n] = ((18b + 6j + 2i + n) mod 5) − 2.
        // dL/dA[b, 0, i, k] = Σ_j Σ_n W[b, j, i, n]·B[j, k, n]  (summed over the broadcast j),
        // dL/dB[j, k, n] = Σ_b Σ_i A[b, 0, i, k]·W[b, j, i, n]   (summed over the broadcast b).
        var a = Leaf(Range(24, -10), 2, 1, 3, 4);
        var b = Leaf(Range(24, -12), 3, 4, 2);
        var c = Autograd.MatMul(a, b);
        AssertShape(c, 2, 3, 3, 2);
        Check.Close(
            [316, 282, 172, 154, 28, 26, 44, 10, 28, 10, 12, 10, -228, -262, -116, -134, -4, -6,
             -116, -102, -260, -230, -404, -358, -4, 10, -20, 10, -36, 10, 108, 122, 220, 250, 332, 378],
            c.ToArray());
        var w = Enumerable.Range(0, 36).Select(f => (double)(f % 5 - 2)).ToArray();
        BackwardWeighted(c, w);
        AssertGrad(a, [44, 38, 32, 26, -23, -15, -7, 1, 5, -3, -11, -19, -49, -49, -49, -49, 44, 38, 32, 26, -23, -15, -7, 1]);
        AssertGrad(b, [6, 16, 5, 16, 4, 16, 3, 16, 16, 6, 16, 7, 16, 8, 16, 9, 6, -14, 7, -17, 8, -20, 9, -23]);
    }

    [Fact]
    public void MatMul_batched_by_a_vector_and_a_vector_by_a_batch()
    {
        // [2, 2, 3]·[3] → [2, 2]: each row dotted with v = [1, 1, 1] gives the row sums.
        // x = 0..11: row sums 3, 12, 21, 30. y = Σ: dy/dx[.., k] = v_k = 1, dy/dv_k = Σ over rows of x[.., k] = [18, 22, 26].
        var x = Leaf(Range(12), 2, 2, 3);
        var v = Leaf([1, 1, 1]);
        var y = Autograd.MatMul(x, v);
        AssertShape(y, 2, 2);
        Check.Close([3, 12, 21, 30], y.ToArray());
        y.Sum().Backward();
        AssertGrad(x, Enumerable.Repeat(1.0, 12).ToArray());
        AssertGrad(v, [18, 22, 26]);

        // [2]·[3, 2, 4] → [3, 4]: u = [1, −1] takes row 0 minus row 1 of each matrix: −4 everywhere.
        var u = Leaf([1, -1]);
        var m = Leaf(Range(24), 3, 2, 4);
        var z = u.MatMul(m);
        AssertShape(z, 3, 4);
        Check.Close(Enumerable.Repeat(-4.0, 12).ToArray(), z.ToArray());
        z.Sum().Backward();
        // dz/du_0 = Σ of all row-0 entries = (0+1+2+3) + (8+…+11) + (16+…+19) = 6 + 38 + 70 = 114; row 1: 22 + 54 + 86 = 162.
        AssertGrad(u, [114, 162]);
        AssertGrad(m, Enumerable.Range(0, 24).Select(i => (i / 4) % 2 == 0 ? 1.0 : -1.0).ToArray());
    }

    [Fact]
    public void MatMul_batched_with_equal_batch_dimensions()
    {
        // [2, 1, 2]·[2, 2, 1]: batch 0: [1, 2]·[5, 6]ᵀ = 17; batch 1: [3, 4]·[7, 8]ᵀ = 53.
        var a = Leaf([1, 2, 3, 4], 2, 1, 2);
        var b = Leaf([5, 6, 7, 8], 2, 2, 1);
        var c = Autograd.MatMul(a, b);
        AssertShape(c, 2, 1, 1);
        Check.Close([17, 53], c.ToArray());
        c.Sum().Backward();
        AssertGrad(a, [5, 6, 7, 8]);
        AssertGrad(b, [1, 2, 3, 4]);
    }

    [Fact]
    public void MatMul_and_CrossEntropy_keep_float32()
    {
        // float32 operands give a float32 product with the same values: [[1, 2], [3, 4]]·[1, 1] = [3, 7].
        var a = new Variable(new float[,] { { 1, 2 }, { 3, 4 } });
        var v = new Variable(new[] { 1f, 1f });
        var y = a.MatMul(v);
        Assert.Equal(DType.Float32, y.DType);
        Assert.Equal(new[] { 3.0, 7.0 }, y.ToArray());
        y.Sum().Backward();
        Assert.Equal(DType.Float32, Check.GradOf(a).DType);
        Assert.Equal(new[] { 1.0, 1.0, 1.0, 1.0 }, a.Grad!.ToArray());
        Assert.Equal(new[] { 4.0, 6.0 }, Check.GradOf(v).ToArray());

        // Cross-entropy of float32 logits is float32: [[0, 0]] with label 1 → ln 2.
        var logits = new Variable(new float[,] { { 0, 0 } });
        var loss = Autograd.CrossEntropy(logits, new Tensor(new long[] { 1 }));
        Assert.Equal(DType.Float32, loss.DType);
        Check.Close(Math.Log(2), loss.Item(), 1e-6);
    }

    [Fact]
    public void Outer_product_of_two_vectors()
    {
        // a ⊗ b = [[3, 4, 5], [6, 8, 10]]; y = Σ: dy/da_i = Σ b = 12, dy/db_j = Σ a = 3.
        var a = Leaf([1, 2]);
        var b = Leaf([3, 4, 5]);
        var y = Autograd.Outer(a, b);
        AssertShape(y, 2, 3);
        Check.Close([3, 4, 5, 6, 8, 10], y.ToArray());
        y.Sum().Backward();
        AssertGrad(a, [12, 12]);
        AssertGrad(b, [3, 3, 3]);
    }

    [Fact]
    public void Transpose_swaps_the_last_two_axes_and_its_gradient_is_transposed_back()
    {
        // xᵀ[j, i] = x[i, j]; L = Σ xᵀ ⊙ W: dL/dx = Wᵀ = [[1, 3, 5], [2, 4, 6]].
        var x = Leaf([1, 2, 3, 4, 5, 6], 2, 3);
        var t = x.Transpose();
        AssertShape(t, 3, 2);
        Check.Close([1, 4, 2, 5, 3, 6], t.ToArray());
        BackwardWeighted(t, [1, 2, 3, 4, 5, 6]);
        AssertGrad(x, [1, 3, 5, 2, 4, 6]);
    }

    [Fact]
    public void Transpose_with_negative_axes_on_a_3d_tensor()
    {
        // Transpose(x, 0, −1) of [2, 1, 3] → [3, 1, 2]: out[k, 0, i] = x[i, 0, k].
        var x = Leaf(Range(6), 2, 1, 3);
        var t = Autograd.Transpose(x, 0, -1);
        AssertShape(t, 3, 1, 2);
        Check.Close([0, 3, 1, 4, 2, 5], t.ToArray());
        BackwardWeighted(t, [10, 20, 30, 40, 50, 60]);
        // dL/dx[i, 0, k] = W[k, 0, i].
        AssertGrad(x, [10, 30, 50, 20, 40, 60]);
    }

    [Fact]
    public void Permute_reorders_axes_and_its_gradient_uses_the_inverse_permutation()
    {
        // x [2, 3, 4] = 0..23, out = permute(2, 0, 1) of shape [4, 2, 3], out[k, i, j] = x[i, j, k].
        var x = Leaf(Range(24), 2, 3, 4);
        var p = x.Permute(2, 0, 1);
        AssertShape(p, 4, 2, 3);
        var expected = new double[24];
        for (var k = 0; k < 4; k++)
            for (var i = 0; i < 2; i++)
                for (var j = 0; j < 3; j++)
                    expected[(k * 2 + i) * 3 + j] = (i * 3 + j) * 4 + k;
        Check.Close(expected, p.ToArray());
        // L = Σ out ⊙ W with W = 0..23 (flat in out's layout): dL/dx[i, j, k] = W[k, i, j] = (k·2 + i)·3 + j.
        BackwardWeighted(p, Range(24));
        var grad = new double[24];
        for (var i = 0; i < 2; i++)
            for (var j = 0; j < 3; j++)
                for (var k = 0; k < 4; k++)
                    grad[(i * 3 + j) * 4 + k] = (k * 2 + i) * 3 + j;
        AssertGrad(x, grad);

        // Negative axes in Permute count from the end: (−1, −3, −2) is (2, 0, 1).
        Check.Close(expected, Autograd.Permute(x, -1, -3, -2).ToArray());
    }

    // ================================================================= shapes

    [Fact]
    public void Reshape_infers_one_minus_one_and_the_gradient_gets_the_input_shape()
    {
        // [2, 3] → [−1, 2] = [3, 2], same row-major order; L = Σ r ⊙ W → dL/dx = W in x's shape.
        var x = Leaf([1, 2, 3, 4, 5, 6], 2, 3);
        var r = x.Reshape(-1, 2);
        AssertShape(r, 3, 2);
        Check.Close([1, 2, 3, 4, 5, 6], r.ToArray());
        BackwardWeighted(r, [6, 5, 4, 3, 2, 1]);
        AssertGrad(x, [6, 5, 4, 3, 2, 1]);

        AssertShape(Autograd.Reshape(x, 6), 6);
        AssertShape(Autograd.Reshape(x, 1, -1), 1, 6);
        AssertShape(Autograd.Reshape(x, 3, 1, -1), 3, 1, 2);
    }

    [Fact]
    public void Flatten_whole_and_from_an_axis()
    {
        var x = Leaf(Range(24), 2, 3, 4);
        AssertShape(x.Flatten(), 24);
        AssertShape(x.Flatten(1), 2, 12);
        AssertShape(Autograd.Flatten(x, 0, 1), 6, 4);
        AssertShape(Autograd.Flatten(x, -2, -1), 2, 12);
        var f = x.Flatten();
        Check.Close(Range(24), f.ToArray());
        BackwardWeighted(f, Range(24, 1));
        AssertGrad(x, Range(24, 1));
    }

    [Fact]
    public void Squeeze_and_unsqueeze_change_only_the_shape()
    {
        var x = Leaf([1, 2, 3], 1, 3, 1);
        AssertShape(x.Squeeze(), 3);
        AssertShape(x.Squeeze(-1), 1, 3);
        AssertShape(Autograd.Squeeze(x, 0), 3, 1);

        var v = Leaf([1, 2, 3]);
        AssertShape(v.Unsqueeze(0), 1, 3);
        AssertShape(v.Unsqueeze(-1), 3, 1);
        AssertShape(Autograd.Unsqueeze(v, 1), 3, 1);

        // L = Σ squeeze(x) ⊙ [1, 2, 3] → dL/dx = [1, 2, 3] in shape [1, 3, 1].
        var s = x.Squeeze();
        Check.Close([1, 2, 3], s.ToArray());
        BackwardWeighted(s, [1, 2, 3]);
        AssertGrad(x, [1, 2, 3]);
        AssertShape(x.Grad!, 1, 3, 1);

        var u = v.Unsqueeze(0);
        BackwardWeighted(u, [4, 5, 6]);
        AssertGrad(v, [4, 5, 6]);
    }

    [Fact]
    public void ExpandTo_and_BroadcastTo_sum_the_gradient_back()
    {
        // [3] → [2, 3]: each row is x; L = Σ e ⊙ W → dL/dx_j = W[0, j] + W[1, j] = [5, 7, 9].
        var x = Leaf([1, 2, 3]);
        var e = Autograd.ExpandTo(x, 2, 3);
        AssertShape(e, 2, 3);
        Check.Close([1, 2, 3, 1, 2, 3], e.ToArray());
        BackwardWeighted(e, [1, 2, 3, 4, 5, 6]);
        AssertGrad(x, [5, 7, 9]);

        // [2, 1] → [2, 3]: each column is c; dL/dc_i = Σ_j W[i, j] = [6, 15].
        var c = Leaf([10, 20], 2, 1);
        var b = Autograd.BroadcastTo(c, Shape.Of(2, 3));
        Check.Close([10, 10, 10, 20, 20, 20], b.ToArray());
        BackwardWeighted(b, [1, 2, 3, 4, 5, 6]);
        AssertGrad(c, [6, 15]);
    }

    [Fact]
    public void Concat_along_the_last_axis_splits_the_gradient_back()
    {
        // a [2, 2] ‖ b [2, 1] along −1 → [2, 3] = [[1, 2, 5], [3, 4, 6]]; dL/da = W[:, :2], dL/db = W[:, 2:].
        var a = Leaf([1, 2, 3, 4], 2, 2);
        var b = Leaf([5, 6], 2, 1);
        var c = Autograd.Concat([a, b], -1);
        AssertShape(c, 2, 3);
        Check.Close([1, 2, 5, 3, 4, 6], c.ToArray());
        BackwardWeighted(c, [10, 20, 30, 40, 50, 60]);
        AssertGrad(a, [10, 20, 40, 50]);
        AssertGrad(b, [30, 60]);
    }

    [Fact]
    public void Concat_along_axis_0_of_three_parts()
    {
        var a = Leaf([1, 2], 1, 2);
        var b = Leaf([3, 4, 5, 6], 2, 2);
        var c = Leaf([7, 8], 1, 2);
        var y = Autograd.Concat([a, b, c]);
        AssertShape(y, 4, 2);
        Check.Close(Range(8, 1), y.ToArray());
        BackwardWeighted(y, Range(8, 10));
        AssertGrad(a, [10, 11]);
        AssertGrad(b, [12, 13, 14, 15]);
        AssertGrad(c, [16, 17]);
    }

    [Fact]
    public void Stack_along_a_new_axis_splits_the_gradient_back()
    {
        // stack([a, b], 0) = [[1, 2], [3, 4]]; stack([a, b], −1) = [[1, 3], [2, 4]].
        var a = Leaf([1, 2]);
        var b = Leaf([3, 4]);
        var s0 = Autograd.Stack([a, b]);
        AssertShape(s0, 2, 2);
        Check.Close([1, 2, 3, 4], s0.ToArray());

        var s1 = Autograd.Stack([a, b], -1);
        AssertShape(s1, 2, 2);
        Check.Close([1, 3, 2, 4], s1.ToArray());
        // L = Σ s1 ⊙ [[10, 20], [30, 40]]: dL/da = column 0 = [10, 30], dL/db = column 1 = [20, 40].
        BackwardWeighted(s1, [10, 20, 30, 40]);
        AssertGrad(a, [10, 30]);
        AssertGrad(b, [20, 40]);
    }

    // ================================================================= indexing

    [Fact]
    public void Slice_with_a_step_and_its_gradient_scattered_into_zeros()
    {
        // x = 0..9, Slice(axis 0, start 1, length 3, step 3) = x[1], x[4], x[7] = [1, 4, 7];
        // L = Σ s ⊙ [1, 2, 3] → dL/dx has 1, 2, 3 at 1, 4, 7 and 0 elsewhere.
        var x = Leaf(Range(10));
        var s = Autograd.Slice(x, 0, 1, 3, 3);
        AssertShape(s, 3);
        Check.Close([1, 4, 7], s.ToArray());
        BackwardWeighted(s, [1, 2, 3]);
        AssertGrad(x, [0, 1, 0, 0, 2, 0, 0, 3, 0, 0]);
    }

    [Fact]
    public void Slice_with_a_negative_start_and_a_negative_axis()
    {
        // x [2, 5] = 0..9; Slice(axis −1, start −3, length 2) = columns 2, 3 = [[2, 3], [7, 8]].
        var x = Leaf(Range(10), 2, 5);
        var s = Autograd.Slice(x, -1, -3, 2);
        AssertShape(s, 2, 2);
        Check.Close([2, 3, 7, 8], s.ToArray());
        s.Sum().Backward();
        AssertGrad(x, [0, 0, 1, 1, 0, 0, 0, 1, 1, 0]);

        // Step 2 from the last-but-four: columns 0, 2, 4.
        Check.Close([0, 2, 4, 5, 7, 9], Autograd.Slice(x, 1, -5, 3, 2).ToArray());
    }

    [Fact]
    public void Narrow_takes_contiguous_elements()
    {
        // x [3, 2] = 0..5; Narrow(axis 0, start 1, length 2) = rows 1, 2 = [2, 3, 4, 5].
        var x = Leaf(Range(6), 3, 2);
        var n = Autograd.Narrow(x, 0, 1, 2);
        AssertShape(n, 2, 2);
        Check.Close([2, 3, 4, 5], n.ToArray());
        BackwardWeighted(n, [1, 2, 3, 4]);
        AssertGrad(x, [0, 0, 1, 2, 3, 4]);
    }

    [Fact]
    public void Select_with_a_negative_index_removes_the_axis()
    {
        // x [3, 2] = [[0, 1], [2, 3], [4, 5]]; Select(0, −1) = last row [4, 5]; dL/dx = W in that row.
        var x = Leaf(Range(6), 3, 2);
        var r = Autograd.Select(x, 0, -1);
        AssertShape(r, 2);
        Check.Close([4, 5], r.ToArray());
        BackwardWeighted(r, [7, 8]);
        AssertGrad(x, [0, 0, 0, 0, 7, 8]);

        // Select(−1, 0) = first column [0, 2, 4].
        var x2 = Leaf(Range(6), 3, 2);
        var col = Autograd.Select(x2, -1, 0);
        AssertShape(col, 3);
        Check.Close([0, 2, 4], col.ToArray());
        col.Sum().Backward();
        AssertGrad(x2, [1, 0, 1, 0, 1, 0]);
    }

    [Fact]
    public void IndexSelect_with_repeated_indices_accumulates_the_gradient()
    {
        // x [3, 2]; rows [2, 0, 2] → [[4, 5], [0, 1], [4, 5]]; L = Σ out ⊙ W with W = [[1, 2], [3, 4], [5, 6]]:
        // dL/dx row 0 = W row 1 = [3, 4], row 1 = 0, row 2 = W row 0 + W row 2 = [6, 8].
        var x = Leaf(Range(6), 3, 2);
        var y = Autograd.IndexSelect(x, 0, new Tensor(new long[] { 2, 0, 2 }));
        AssertShape(y, 3, 2);
        Check.Close([4, 5, 0, 1, 4, 5], y.ToArray());
        BackwardWeighted(y, [1, 2, 3, 4, 5, 6]);
        AssertGrad(x, [3, 4, 0, 0, 6, 8]);
    }

    [Fact]
    public void IndexSelect_along_a_negative_axis_with_int32_indices()
    {
        // x [2, 3] = [[0, 1, 2], [3, 4, 5]]; columns [1, 1] along −1 → [[1, 1], [4, 4]]; Σ → column 1 gets 2.
        var x = Leaf(Range(6), 2, 3);
        var y = Autograd.IndexSelect(x, -1, new Tensor(new[] { 1, 1 }));
        AssertShape(y, 2, 2);
        Check.Close([1, 1, 4, 4], y.ToArray());
        y.Sum().Backward();
        AssertGrad(x, [0, 2, 0, 0, 2, 0]);
    }

    [Fact]
    public void Gather_along_the_last_axis_and_its_gradient_scatter_adds()
    {
        // x = [[1, 2, 3], [4, 5, 6]], index = [[2, 0], [1, 1]] along 1: out[i, j] = x[i, index[i, j]] = [[3, 1], [5, 5]].
        // y = Σ out: dy/dx[i, c] = number of times c appears in index row i → [[1, 0, 1], [0, 2, 0]].
        var x = Leaf([1, 2, 3, 4, 5, 6], 2, 3);
        var g = Autograd.Gather(x, 1, Tensor.FromArray(new long[] { 2, 0, 1, 1 }, 2, 2));
        AssertShape(g, 2, 2);
        Check.Close([3, 1, 5, 5], g.ToArray());
        g.Sum().Backward();
        AssertGrad(x, [1, 0, 1, 0, 2, 0]);
    }

    [Fact]
    public void Gather_along_axis_0()
    {
        // x = [[1, 2], [3, 4], [5, 6]], index [1, 2] (int32) = [[2, 0]] along 0: out[0, j] = x[index[0, j], j] = [5, 2].
        var x = Leaf([1, 2, 3, 4, 5, 6], 3, 2);
        var g = Autograd.Gather(x, -2, Tensor.FromArray(new[] { 2, 0 }, 1, 2));
        AssertShape(g, 1, 2);
        Check.Close([5, 2], g.ToArray());
        BackwardWeighted(g, [10, 20]);
        AssertGrad(x, [0, 20, 0, 0, 10, 0]);
    }

    // ================================================================= reductions

    [Fact]
    public void Sum_along_axes_with_and_without_keepDim()
    {
        // x = [[1, 2, 3], [4, 5, 6]]: column sums [5, 7, 9], row sums [6, 15], total 21.
        var x = Leaf([1, 2, 3, 4, 5, 6], 2, 3);
        var s0 = x.Sum(0);
        AssertShape(s0, 3);
        Check.Close([5, 7, 9], s0.ToArray());

        var s1 = x.Sum(-1, keepDim: true);
        AssertShape(s1, 2, 1);
        Check.Close([6, 15], s1.ToArray());

        var s01 = Autograd.Sum(x, [0, -1]);
        AssertShape(s01);
        Assert.Equal(21.0, s01.Item());
        AssertShape(Autograd.Sum(x, [1, 0], keepDim: true), 1, 1);

        // L = Σ sum(x, −1, keepDim) ⊙ [a, b]: dL/dx[i, j] = W[i] → [[1, 1, 1], [2, 2, 2]].
        BackwardWeighted(s1, [1, 2]);
        AssertGrad(x, [1, 1, 1, 2, 2, 2]);
    }

    [Fact]
    public void Sum_along_axis_0_of_a_3d_tensor_routes_each_gradient_to_its_column()
    {
        // x [2, 2, 2] = 0..7; sum over axis −3: [0+4, 1+5, 2+6, 3+7] = [4, 6, 8, 10]; dL/dx[b, i, j] = W[i, j].
        var x = Leaf(Range(8), 2, 2, 2);
        var s = Autograd.Sum(x, -3);
        AssertShape(s, 2, 2);
        Check.Close([4, 6, 8, 10], s.ToArray());
        BackwardWeighted(s, [1, 2, 3, 4]);
        AssertGrad(x, [1, 2, 3, 4, 1, 2, 3, 4]);
    }

    [Fact]
    public void Mean_along_an_axis_divides_the_gradient_by_the_count()
    {
        // Row means [2, 5]; L = Σ mean(x, −1) ⊙ [3, 6] → dL/dx[i, j] = W[i] / 3 = [[1, 1, 1], [2, 2, 2]].
        var x = Leaf([1, 2, 3, 4, 5, 6], 2, 3);
        var m = x.Mean(-1);
        AssertShape(m, 2);
        Check.Close([2, 5], m.ToArray());
        BackwardWeighted(m, [3, 6]);
        AssertGrad(x, [1, 1, 1, 2, 2, 2]);

        var mk = Autograd.Mean(x, 0, keepDim: true);
        AssertShape(mk, 1, 3);
        Check.Close([2.5, 3.5, 4.5], mk.ToArray());
        var all = Autograd.Mean(x, [0, 1]);
        AssertShape(all);
        Assert.Equal(3.5, all.Item());
    }

    [Fact]
    public void Max_and_Min_of_the_whole_tensor_with_a_unique_extreme()
    {
        // max [1, 3, 2] = 3 → gradient one-hot at index 1; min = 1 → one-hot at index 0.
        var x = Leaf([1, 3, 2]);
        var mx = x.Max();
        AssertShape(mx);
        Assert.Equal(3.0, mx.Item());
        mx.Backward();
        AssertGrad(x, [0, 1, 0]);

        var y = Leaf([1, 3, 2]);
        var mn = Autograd.Min(y);
        Assert.Equal(1.0, mn.Item());
        mn.Backward();
        AssertGrad(y, [1, 0, 0]);
    }

    [Fact]
    public void Max_and_Min_along_an_axis_with_keepDim_and_negative_axes()
    {
        // x = [[1, 5, 3], [7, 2, 7]]; max along 1 = [5, 7] (row 1 ties at 0 and 2 → first, index 0).
        var x = Leaf([1, 5, 3, 7, 2, 7], 2, 3);
        var m1 = x.Max(1);
        AssertShape(m1, 2);
        Check.Close([5, 7], m1.ToArray());
        BackwardWeighted(m1, [10, 20]);
        AssertGrad(x, [0, 10, 0, 20, 0, 0]);

        // max along −2 with keepDim: [[7, 5, 7]]; each column's gradient goes to its maximal row.
        var x2 = Leaf([1, 5, 3, 7, 2, 7], 2, 3);
        var m0 = Autograd.Max(x2, -2, keepDim: true);
        AssertShape(m0, 1, 3);
        Check.Close([7, 5, 7], m0.ToArray());
        BackwardWeighted(m0, [1, 2, 3]);
        AssertGrad(x2, [0, 2, 0, 1, 0, 3]);

        // min along −1: [1, 2]; along 0 with keepDim: [[1, 2, 3]].
        var x3 = Leaf([1, 5, 3, 7, 2, 7], 2, 3);
        var n1 = x3.Min(-1);
        Check.Close([1, 2], n1.ToArray());
        BackwardWeighted(n1, [10, 20]);
        AssertGrad(x3, [10, 0, 0, 0, 20, 0]);
        var n0 = Autograd.Min(x3, 0, keepDim: true);
        AssertShape(n0, 1, 3);
        Check.Close([1, 2, 3], n0.ToArray());
    }

    [Fact]
    public void ArgMax_and_ArgMin_return_int64_positions_first_on_ties()
    {
        var x = Leaf([1, 5, 3, 7, 2, 7], 2, 3);
        var am = Autograd.ArgMax(x, 1);
        Assert.Equal(DType.Int64, am.DType);
        Assert.Equal(Shape.Of(2), am.Shape);
        Assert.Equal(new long[] { 1, 0 }, am.ToInt64Array());

        var amk = Autograd.ArgMax(x, -1, keepDim: true);
        Assert.Equal(Shape.Of(2, 1), amk.Shape);
        Assert.Equal(new long[] { 1, 0 }, amk.ToInt64Array());

        var an = Autograd.ArgMin(x, 0);
        Assert.Equal(DType.Int64, an.DType);
        Assert.Equal(new long[] { 0, 1, 0 }, an.ToInt64Array());

        // Not differentiable: nothing is recorded, the leaf gets no gradient from it.
        Assert.Null(x.Grad);
    }

    [Fact]
    public void Var_and_Std_unbiased_versus_biased()
    {
        // x = [1, 2, 3, 4]: mean 2.5, Σ(x − mean)² = 5 → unbiased var 5/3, biased 5/4.
        // dvar/dx = 2(x − mean)/(n − 1) = [−1, −1/3, 1/3, 1] (unbiased), 2(x − mean)/n = [−0.75, −0.25, 0.25, 0.75] (biased).
        var x = Leaf([1, 2, 3, 4]);
        var vu = Autograd.Var(x);
        AssertShape(vu);
        Check.Close(5.0 / 3.0, vu.Item(), 1e-12);
        vu.Backward();
        AssertGrad(x, [-1, -1.0 / 3, 1.0 / 3, 1]);

        var x2 = Leaf([1, 2, 3, 4]);
        var vb = Autograd.Var(x2, unbiased: false);
        Check.Close(1.25, vb.Item(), 1e-12);
        vb.Backward();
        AssertGrad(x2, [-0.75, -0.25, 0.25, 0.75]);

        // std = √var; dstd/dx = dvar/dx / (2·std).
        var x3 = Leaf([1, 2, 3, 4]);
        var su = Autograd.Std(x3);
        Check.Close(1.2909944487358056, su.Item(), 1e-12);
        su.Backward();
        AssertGrad(x3, [-0.3872983346207417, -0.12909944487358055, 0.12909944487358055, 0.3872983346207417], 1e-12);

        var x4 = Leaf([1, 2, 3, 4]);
        var sb = Autograd.Std(x4, unbiased: false);
        Check.Close(1.118033988749895, sb.Item(), 1e-12);
        sb.Backward();
        AssertGrad(x4, [-0.33541019662496846, -0.11180339887498948, 0.11180339887498948, 0.33541019662496846], 1e-12);
    }

    [Fact]
    public void Var_along_an_axis_with_keepDim()
    {
        // Rows [1, 2, 3, 4] and [2, 2, 2, 2]: unbiased variances [5/3, 0].
        var x = Leaf([1, 2, 3, 4, 2, 2, 2, 2], 2, 4);
        var v = Autograd.Var(x, [-1], keepDim: true);
        AssertShape(v, 2, 1);
        Check.Close([5.0 / 3.0, 0.0], v.ToArray(), 1e-12);
        var vb = Autograd.Var(x, [1], unbiased: false);
        AssertShape(vb, 2);
        Check.Close([1.25, 0.0], vb.ToArray(), 1e-12);
        // Over axis 0: columns [1, 2], [2, 2], [3, 2], [4, 2] → unbiased [0.5, 0, 0.5, 2].
        Check.Close([0.5, 0, 0.5, 2], Autograd.Var(x, [0]).ToArray(), 1e-12);
        Check.Close([Math.Sqrt(0.5), 0, Math.Sqrt(0.5), Math.Sqrt(2)], Autograd.Std(x, [0]).ToArray(), 1e-12);
    }

    [Fact]
    public void LogSumExp_of_1000_1000_is_1000_plus_ln2_without_overflow()
    {
        // log(e^1000 + e^1000) = 1000 + ln 2; gradient = softmax = [½, ½].
        var x = Leaf([1000, 1000]);
        var l = Autograd.LogSumExp(x, 0);
        AssertShape(l);
        Check.Close(1000 + Math.Log(2), l.Item(), 1e-9);
        l.Backward();
        AssertGrad(x, [0.5, 0.5]);
    }

    [Fact]
    public void LogSumExp_along_the_last_axis_with_keepDim()
    {
        // Row [1, 2, 3]: ln(e + e² + e³) = 3.40760596444438; row [−1000, −1000, −1000]: −1000 + ln 3.
        // Gradient of the sum: each row's softmax.
        var x = Leaf([1, 2, 3, -1000, -1000, -1000], 2, 3);
        var l = Autograd.LogSumExp(x, -1, keepDim: true);
        AssertShape(l, 2, 1);
        Check.Close([3.40760596444438, -1000 + Math.Log(3)], l.ToArray(), 1e-9);
        l.Sum().Backward();
        AssertGrad(x, [0.09003057317038046, 0.24472847105479767, 0.6652409557748219, 1.0 / 3, 1.0 / 3, 1.0 / 3], 1e-12);
    }

    // ================================================================= elementwise

    [Fact]
    public void Abs_Sqrt_Square_Neg()
    {
        // |x|' = sign x.
        var a = Leaf([-2, 3]);
        var ya = a.Abs();
        Check.Close([2, 3], ya.ToArray());
        ya.Sum().Backward();
        AssertGrad(a, [-1, 1]);

        // √x' = 1/(2√x): [1/4, 1/6].
        var s = Leaf([4, 9]);
        var ys = s.Sqrt();
        Check.Close([2, 3], ys.ToArray());
        ys.Sum().Backward();
        AssertGrad(s, [0.25, 1.0 / 6], 1e-12);

        // (x²)' = 2x.
        var q = Leaf([3, -2]);
        var yq = q.Square();
        Check.Close([9, 4], yq.ToArray());
        yq.Sum().Backward();
        AssertGrad(q, [6, -4]);

        // (−x)' = −1.
        var n = Leaf([3, -2]);
        var yn = Autograd.Neg(n);
        Check.Close([-3, 2], yn.ToArray());
        yn.Sum().Backward();
        AssertGrad(n, [-1, -1]);
    }

    [Fact]
    public void Sin_and_Cos()
    {
        // sin' = cos, cos' = −sin at [0, π/2, 1].
        var x = Leaf([0, Math.PI / 2, 1]);
        var s = Autograd.Sin(x);
        Check.Close([0, 1, 0.8414709848078965], s.ToArray(), 1e-12);
        s.Sum().Backward();
        AssertGrad(x, [1, 0, 0.5403023058681398], 1e-12);

        var x2 = Leaf([0, Math.PI / 2, 1]);
        var c = Autograd.Cos(x2);
        Check.Close([1, 0, 0.5403023058681398], c.ToArray(), 1e-12);
        c.Sum().Backward();
        AssertGrad(x2, [0, -1, -0.8414709848078965], 1e-12);
    }

    [Fact]
    public void Log1p_and_Expm1_values_and_gradients()
    {
        // log1p = ln(1 + x): [ln 2, 0, ln 0.5]; log1p' = 1/(1 + x) = [½, 1, 2].
        var x = Leaf([1, 0, -0.5]);
        var l = Autograd.Log1p(x);
        Check.Close([Math.Log(2), 0, Math.Log(0.5)], l.ToArray(), 1e-12);
        l.Sum().Backward();
        AssertGrad(x, [0.5, 1, 2], 1e-12);

        // expm1 = eˣ − 1: [e − 1, 0, e⁻¹ − 1]; expm1' = eˣ.
        var x2 = Leaf([1, 0, -1]);
        var e = Autograd.Expm1(x2);
        Check.Close([1.718281828459045, 0, Math.Exp(-1) - 1], e.ToArray(), 1e-12);
        e.Sum().Backward();
        AssertGrad(x2, [Math.E, 1, Math.Exp(-1)], 1e-12);
    }

    [Fact]
    public void Log1p_is_accurate_near_zero()
    {
        // The point of log1p ("accurate near 0"): log1p(1e-10) = 1e-10 − ½·1e-20 + … = 9.9999999995e-11
        // to full relative precision, whereas ln(1 + 1e-10) loses ~7 digits to the rounding of 1 + 1e-10.
        var x = Leaf([1e-10, 1e-300]);
        var l = Autograd.Log1p(x).ToArray();
        Check.Relative(9.999999999500001e-11, l[0], 1e-12, "log1p(1e-10)");
        Check.Relative(1e-300, l[1], 1e-12, "log1p(1e-300)");
    }

    [Fact]
    public void Expm1_is_accurate_near_zero()
    {
        // expm1(1e-10) = 1e-10 + ½·1e-20 + … = 1.00000000005e-10 to full relative precision,
        // whereas e^(1e-10) − 1 loses ~7 digits.
        var x = Leaf([1e-10, 1e-300]);
        var e = Autograd.Expm1(x).ToArray();
        Check.Relative(1.00000000005e-10, e[0], 1e-12, "expm1(1e-10)");
        Check.Relative(1e-300, e[1], 1e-12, "expm1(1e-300)");
    }

    [Fact]
    public void Softplus_and_LogSigmoid_are_stable_at_plus_and_minus_1000()
    {
        // softplus = ln(1 + eˣ): [ln 2, 1000, 0]; softplus' = σ(x) = [½, 1, 0].
        var x = Leaf([0, 1000, -1000]);
        var sp = Autograd.Softplus(x);
        Check.Close([Math.Log(2), 1000, 0], sp.ToArray(), 1e-12);
        sp.Sum().Backward();
        AssertGrad(x, [0.5, 1, 0], 1e-12);

        // log σ(x) = −softplus(−x): [−ln 2, 0, −1000]; derivative σ(−x) = [½, 0, 1].
        var x2 = Leaf([0, 1000, -1000]);
        var ls = Autograd.LogSigmoid(x2);
        Check.Close([-Math.Log(2), 0, -1000], ls.ToArray(), 1e-12);
        ls.Sum().Backward();
        AssertGrad(x2, [0.5, 0, 1], 1e-12);
    }

    [Fact]
    public void Maximum_and_Minimum_with_broadcasting_and_a_tie()
    {
        // a = [1, 5, 3], b = [2, 2, 3]: maximum = [2, 5, 3], gradients a [0, 1, ½], b [1, 0, ½].
        var a = Leaf([1, 5, 3]);
        var b = Leaf([2, 2, 3]);
        var mx = Autograd.Maximum(a, b);
        Check.Close([2, 5, 3], mx.ToArray());
        mx.Sum().Backward();
        AssertGrad(a, [0, 1, 0.5]);
        AssertGrad(b, [1, 0, 0.5]);

        // minimum = [1, 2, 3]: a [1, 0, ½], b [0, 1, ½].
        var a2 = Leaf([1, 5, 3]);
        var b2 = Leaf([2, 2, 3]);
        var mn = Autograd.Minimum(a2, b2);
        Check.Close([1, 2, 3], mn.ToArray());
        mn.Sum().Backward();
        AssertGrad(a2, [1, 0, 0.5]);
        AssertGrad(b2, [0, 1, 0.5]);

        // Broadcast scalar: maximum(x, 0) on [−1, 0, 2] = [0, 0, 2]; x gets [0, ½, 1], the scalar gets 1 + ½ = 1.5.
        var x = Leaf([-1, 0, 2]);
        var z = new Variable(0.0);
        var r = Autograd.Maximum(x, z);
        Check.Close([0, 0, 2], r.ToArray());
        r.Sum().Backward();
        AssertGrad(x, [0, 0.5, 1]);
        Check.Close(1.5, Check.GradOf(z).Item());
    }

    [Fact]
    public void Clamp_values_and_gradient_inside_and_outside()
    {
        // clamp [−2, 0.5, 2] into [−1, 1] = [−1, 0.5, 1]; gradient 1 inside, 0 outside.
        var x = Leaf([-2, 0.5, 2]);
        var c = x.Clamp(-1, 1);
        Check.Close([-1, 0.5, 1], c.ToArray());
        c.Sum().Backward();
        AssertGrad(x, [0, 1, 0]);
    }

    [Fact]
    public void Where_selects_values_and_gradients_with_broadcasting()
    {
        // where([1, 0, 1], a, b) = [a0, b1, a2]; Σ → a gets [1, 0, 1], b gets [0, 1, 0].
        var a = Leaf([1, 2, 3]);
        var b = Leaf([10, 20, 30]);
        var w = Autograd.Where(new Tensor(new[] { 1.0, 0.0, 1.0 }), a, b);
        Check.Close([1, 20, 3], w.ToArray());
        w.Sum().Backward();
        AssertGrad(a, [1, 0, 1]);
        AssertGrad(b, [0, 1, 0]);

        // A scalar branch broadcasts and collects the gradient of every unselected position: 2.
        var x = Leaf([1, -2, -3]);
        var s = new Variable(7.0);
        var r = Autograd.Where(x.Data > 0.0, x, s);
        Check.Close([1, 7, 7], r.ToArray());
        r.Sum().Backward();
        AssertGrad(x, [1, 0, 0]);
        Check.Close(2.0, Check.GradOf(s).Item());

        // The Variable-condition overload uses the condition's value.
        var cond = new Variable(new[] { 0.0, 1.0 }, requiresGrad: false);
        Check.Close([5, 2], Autograd.Where(cond, Leaf([1, 2]), Leaf([5, 6])).ToArray());
    }

    [Fact]
    public void LeakyRelu_and_Elu()
    {
        // leaky_relu(x, 0.1) on [−2, 3] = [−0.2, 3]; derivative [0.1, 1].
        var x = Leaf([-2, 3]);
        var l = Autograd.LeakyRelu(x, 0.1);
        Check.Close([-0.2, 3], l.ToArray(), 1e-12);
        l.Sum().Backward();
        AssertGrad(x, [0.1, 1], 1e-12);

        // Default slope 0.01.
        Check.Close([-0.02, 3], Autograd.LeakyRelu(Leaf([-2, 3])).ToArray(), 1e-12);

        // elu(x, 1) on [−1, 2] = [e⁻¹ − 1, 2]; derivative [e⁻¹, 1]. With α = 2: [2(e⁻¹ − 1), 2], derivative [2e⁻¹, 1].
        var x2 = Leaf([-1, 2]);
        var e = Autograd.Elu(x2);
        Check.Close([Math.Exp(-1) - 1, 2], e.ToArray(), 1e-12);
        e.Sum().Backward();
        AssertGrad(x2, [Math.Exp(-1), 1], 1e-12);

        var x3 = Leaf([-1, 2]);
        var e2 = Autograd.Elu(x3, 2.0);
        Check.Close([2 * (Math.Exp(-1) - 1), 2], e2.ToArray(), 1e-12);
        e2.Sum().Backward();
        AssertGrad(x3, [2 * Math.Exp(-1), 1], 1e-12);
    }

    [Fact]
    public void Gelu_exact_values_and_gradient()
    {
        // gelu(x) = x·Φ(x); gelu'(x) = Φ(x) + x·φ(x).
        var x = Leaf([-1.5, 0, 0.7, 2]);
        var g = Autograd.Gelu(x);
        Check.Close([-0.10021080190328713, 0.0, 0.5306254434438489, 1.9544997361036416], g.ToArray(), 1e-12);
        g.Sum().Backward();
        AssertGrad(x, [-0.12746919222997954, 0.5, 0.9766141011336599, 1.085231801078197], 1e-12);
    }

    [Fact]
    public void Gelu_tanh_approximation_values_and_gradient()
    {
        // gelu(x) ≈ ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³);
        // derivative ½(1 + tanh u) + ½x(1 − tanh² u)·√(2/π)(1 + 3·0.044715x²).
        var x = Leaf([-1.5, 0, 0.7, 2]);
        var g = Autograd.Gelu(x, tanhApproximation: true);
        Check.Close([-0.10042842301976707, 0.0, 0.5305701347051167, 1.954597694087775], g.ToArray(), 1e-12);
        g.Sum().Backward();
        AssertGrad(x, [-0.1277107931514331, 0.5, 0.976357218656104, 1.0860992566236183], 1e-12);
    }

    [Fact]
    public void Tanh_and_Relu_fluent_forms()
    {
        // tanh' = 1 − tanh²; relu' = [x > 0].
        var x = Leaf([-1, 0.5]);
        var t = x.Tanh();
        Check.Close([Math.Tanh(-1), Math.Tanh(0.5)], t.ToArray(), 1e-12);
        t.Sum().Backward();
        AssertGrad(x, [1 - Math.Tanh(-1) * Math.Tanh(-1), 1 - Math.Tanh(0.5) * Math.Tanh(0.5)], 1e-12);

        var x2 = Leaf([-1, 0.5]);
        var r = x2.Relu();
        Check.Close([0, 0.5], r.ToArray());
        r.Sum().Backward();
        AssertGrad(x2, [0, 1]);
    }

    // ================================================================= softmax family

    [Fact]
    public void Softmax_rows_sum_to_one_even_for_huge_logits()
    {
        var x = Leaf([1, 2, 3, 1000, 1000, -1000, -1000, -1000, -1000], 3, 3);
        var p = x.Softmax();
        AssertShape(p, 3, 3);
        var v = p.ToArray();
        Assert.All(v, e => Assert.True(double.IsFinite(e), "softmax produced a non-finite value"));
        Check.Close([1.0, 1.0, 1.0], p.Sum(-1).ToArray(), 1e-12);
        Check.Close([0.09003057317038046, 0.24472847105479767, 0.6652409557748219, 0.5, 0.5, 0, 1.0 / 3, 1.0 / 3, 1.0 / 3], v, 1e-12);
    }

    [Fact]
    public void Softmax_gradient_is_p_times_w_minus_p_dot_w()
    {
        // p = softmax([1, 2, 3]), L = Σ p ⊙ w with w = [1, −2, 0.5]: dL/dx = p ⊙ (w − p·w).
        var x = Leaf([1, 2, 3]);
        var p = Autograd.Softmax(x, 0);
        BackwardWeighted(p, [1, -2, 0.5]);
        AssertGrad(x, [0.09604514583293236, -0.47310763853503396, 0.37706249270210157], 1e-12);
    }

    [Fact]
    public void Softmax_along_axis_0_normalizes_columns()
    {
        var x = Leaf([0, 1, 0, 1], 2, 2);
        var p = Autograd.Softmax(x, 0);
        Check.Close([0.5, 0.5, 0.5, 0.5], p.ToArray(), 1e-12);
        Check.Close([1, 1], p.Sum(0).ToArray(), 1e-12);
    }

    [Fact]
    public void LogSoftmax_of_1000_minus_1000_0_is_finite_with_the_correct_gradient()
    {
        // log softmax = x − logsumexp(x) = [0, −2000, −1000] (logsumexp = 1000 + ln(1 + e⁻¹⁰⁰⁰ + e⁻²⁰⁰⁰) = 1000).
        // y = Σ log softmax: dy/dx = 1 − 3·softmax(x) = [1 − 3, 1, 1] = [−2, 1, 1].
        var x = Leaf([1000, -1000, 0]);
        var l = x.LogSoftmax();
        var v = l.ToArray();
        Assert.All(v, e => Assert.True(double.IsFinite(e), "log_softmax produced a non-finite value"));
        Check.Close([0, -2000, -1000], v, 1e-9);
        l.Sum().Backward();
        var g = Check.GradOf(x).ToArray();
        Assert.All(g, e => Assert.True(double.IsFinite(e), "log_softmax gradient is not finite"));
        Check.Close([-2, 1, 1], g, 1e-12);
    }

    [Fact]
    public void LogSoftmax_of_an_ordinary_matrix()
    {
        var x = Leaf([2.0, 1.0, 0.1, 0.5, 2.5, -1.0], 2, 3);
        var l = Autograd.LogSoftmax(x, -1);
        Check.Close(
            [-0.41703001627783354, -1.4170300162778335, -2.3170300162778332, -2.1531782071222882, -0.15317820712228827, -3.6531782071222882],
            l.ToArray(), 1e-12);
    }

    // ================================================================= losses

    [Fact]
    public void MseLoss_mean_sum_and_none()
    {
        // d = input − target = [0, 2, −2]; mean d² = 8/3, gradient 2d/n = [0, 4/3, −4/3].
        var x = Leaf([1, 2, 3]);
        var t = Const([1, 0, 5]);
        var mean = Autograd.MseLoss(x, t);
        AssertShape(mean);
        Check.Close(8.0 / 3, mean.Item(), 1e-12);
        mean.Backward();
        AssertGrad(x, [0, 4.0 / 3, -4.0 / 3], 1e-12);

        // sum: 8, gradient 2d.
        var x2 = Leaf([1, 2, 3]);
        var sum = Autograd.MseLoss(x2, t, Reduction.Sum);
        Check.Close(8, sum.Item());
        sum.Backward();
        AssertGrad(x2, [0, 4, -4]);

        // none: [0, 4, 4].
        var none = Autograd.MseLoss(Leaf([1, 2, 3]), t, Reduction.None);
        AssertShape(none, 3);
        Check.Close([0, 4, 4], none.ToArray());
    }

    // Logits and labels for the cross-entropy tests; references computed in plain Python with
    // log p = x − max − ln Σ e^(x − max), gradients checked against central finite differences.
    private static readonly double[] Logits = [2.0, 1.0, 0.1, 0.5, 2.5, -1.0, -0.3, 0.2, 1.7];
    private static Tensor Labels => new(new long[] { 0, 2, 1 });
    private static Tensor ClassWeights => new(new[] { 1.0, 2.0, 0.5 });

    [Fact]
    public void CrossEntropy_mean_matches_the_hand_computed_value_and_gradient()
    {
        // loss = −(1/N) Σ_i log p[i, y_i]; gradient (softmax − onehot)/N.
        var x = Leaf(Logits, 3, 3);
        var loss = Autograd.CrossEntropy(x, Labels);
        AssertShape(loss);
        Check.Close(1.9588546452097562, loss.Item(), 1e-12);
        loss.Backward();
        AssertGrad(x,
        [
            -0.1136662870380107, 0.08081099023490464, 0.03285529680310607,
            0.03870484489138038, 0.28599227020281903, -0.32469711509419946,
            0.03320788268743943, -0.2785827907916374, 0.24537490810419796,
        ], 1e-12);
    }

    [Fact]
    public void CrossEntropy_sum_and_none()
    {
        // sum: Σ_i −log p[i, y_i]; gradient softmax − onehot.
        var x = Leaf(Logits, 3, 3);
        var loss = Autograd.CrossEntropy(x, Labels, Reduction.Sum);
        Check.Close(5.876563935629268, loss.Item(), 1e-12);
        loss.Backward();
        AssertGrad(x,
        [
            -0.3409988611140321, 0.2424329707047139, 0.0985658904093182,
            0.11611453467414115, 0.8579768106084571, -0.9740913452825984,
            0.0996236480623183, -0.8357483723749122, 0.7361247243125939,
        ], 1e-12);

        // none: one loss per sample.
        var none = Autograd.CrossEntropy(Leaf(Logits, 3, 3), Labels, Reduction.None);
        AssertShape(none, 3);
        Check.Close([0.41703001627783354, 3.6531782071222882, 1.8063557122291465], none.ToArray(), 1e-12);

        // int32 labels give the same result.
        var int32 = Autograd.CrossEntropy(Leaf(Logits, 3, 3), new Tensor(new[] { 0, 2, 1 }));
        Check.Close(1.9588546452097562, int32.Item(), 1e-12);
    }

    [Fact]
    public void CrossEntropy_with_class_weights()
    {
        // weights w = [1, 2, 0.5]: mean = Σ_i w[y_i]·(−log p[i, y_i]) / Σ_i w[y_i]; gradient w[y_i](p − onehot)/Σ w[y].
        var x = Leaf(Logits, 3, 3);
        var loss = Autograd.CrossEntropy(x, Labels, weights: ClassWeights);
        Check.Close(1.6732372983706487, loss.Item(), 1e-12);
        loss.Backward();
        AssertGrad(x,
        [
            -0.0974282460325806, 0.06926656305848969, 0.028161682974090912,
            0.01658779066773445, 0.12256811580120816, -0.13915590646894263,
            0.05692779889275331, -0.4775704984999498, 0.4206426996071965,
        ], 1e-12);

        var x2 = Leaf(Logits, 3, 3);
        var sum = Autograd.CrossEntropy(x2, Labels, Reduction.Sum, ClassWeights);
        Check.Close(5.85633054429727, sum.Item(), 1e-12);
        sum.Backward();
        AssertGrad(x2,
        [
            -0.3409988611140321, 0.2424329707047139, 0.0985658904093182,
            0.058057267337070576, 0.42898840530422855, -0.4870456726412992,
            0.1992472961246366, -1.6714967447498243, 1.4722494486251878,
        ], 1e-12);

        var none = Autograd.CrossEntropy(Leaf(Logits, 3, 3), Labels, Reduction.None, ClassWeights);
        Check.Close([0.41703001627783354, 1.8265891035611441, 3.612711424458293], none.ToArray(), 1e-12);
    }

    [Fact]
    public void CrossEntropy_with_label_smoothing_0_1()
    {
        // Sample loss (1 − ε)(−log p[y]) + ε·(−Σ_c log p[c])/C with ε = 0.1, C = 3;
        // gradient (p − ((1 − ε)·onehot + ε/C)) / N for the mean.
        var x = Leaf(Logits, 3, 3);
        var loss = Autograd.CrossEntropy(x, Labels, labelSmoothing: 0.1);
        Check.Close(1.9244102007653117, loss.Item(), 1e-12);
        loss.Backward();
        AssertGrad(x,
        [
            -0.09144406481578848, 0.06969987912379352, 0.021744185691994957,
            0.027593733780269275, 0.2748811590917079, -0.30247489287197726,
            0.02209677157632832, -0.2563605685694152, 0.23426379699308686,
        ], 1e-12);

        var x2 = Leaf(Logits, 3, 3);
        var sum = Autograd.CrossEntropy(x2, Labels, Reduction.Sum, labelSmoothing: 0.1);
        Check.Close(5.773230602295935, sum.Item(), 1e-12);
        sum.Backward();
        AssertGrad(x2,
        [
            -0.27433219444736545, 0.20909963737138057, 0.06523255707598487,
            0.08278120134080783, 0.8246434772751238, -0.9074246786159318,
            0.06629031472898496, -0.7690817057082455, 0.7027913909792606,
        ], 1e-12);
    }

    [Fact]
    public void CrossEntropy_with_class_weights_and_label_smoothing()
    {
        // Sample loss (1 − ε)(−w[y]·log p[y]) + ε·(−Σ_c w[c]·log p[c])/C, mean divides by Σ_i w[y_i] (PyTorch's rule).
        var x = Leaf(Logits, 3, 3);
        var loss = Autograd.CrossEntropy(x, Labels, Reduction.Mean, ClassWeights, 0.1);
        Check.Close(1.646560937816464, loss.Item(), 1e-12);
        loss.Backward();
        AssertGrad(x,
        [
            -0.07524252632359982, 0.05137338672851214, 0.023869139595087668,
            0.00927568656628952, 0.1198629121937502, -0.12913859876003975,
            0.0450319977484124, -0.44338601344340434, 0.3983540156949919,
        ], 1e-12);
    }

    [Fact]
    public void CrossEntropy_is_finite_for_logits_of_plus_and_minus_1000()
    {
        // Row [1000, −1000] with label 1: −log p = 2000; row [−1000, 1000] with label 1: 0.
        // Gradient (softmax − onehot): [[1, −1], [0, 0]] for the sum.
        var x = Leaf([1000, -1000, -1000, 1000], 2, 2);
        var loss = Autograd.CrossEntropy(x, new Tensor(new long[] { 1, 1 }), Reduction.Sum);
        Check.Close(2000, loss.Item(), 1e-9);
        loss.Backward();
        AssertGrad(x, [1, -1, 0, 0], 1e-12);
    }

    [Fact]
    public void NllLoss_mean_sum_none_and_weights()
    {
        // log-probabilities [[−0.5, −1, −2], [−1.5, −0.2, −3]], labels [2, 1]: losses [2, 0.2].
        // mean 1.1, gradient −1/N at the labels.
        var lp = Leaf([-0.5, -1.0, -2.0, -1.5, -0.2, -3.0], 2, 3);
        var labels = new Tensor(new long[] { 2, 1 });
        var mean = Autograd.NllLoss(lp, labels);
        Check.Close(1.1, mean.Item(), 1e-12);
        mean.Backward();
        AssertGrad(lp, [0, 0, -0.5, 0, -0.5, 0], 1e-12);

        Check.Close(2.2, Autograd.NllLoss(Leaf([-0.5, -1.0, -2.0, -1.5, -0.2, -3.0], 2, 3), labels, Reduction.Sum).Item(), 1e-12);
        var none = Autograd.NllLoss(Leaf([-0.5, -1.0, -2.0, -1.5, -0.2, -3.0], 2, 3), labels, Reduction.None);
        Check.Close([2.0, 0.2], none.ToArray(), 1e-12);

        // weights [1, 2, 3]: (3·2 + 2·0.2)/(3 + 2) = 1.28; gradient −w[y]/5 = [−0.6, −0.4] at the labels.
        var lp2 = Leaf([-0.5, -1.0, -2.0, -1.5, -0.2, -3.0], 2, 3);
        var weighted = Autograd.NllLoss(lp2, labels, weights: new Tensor(new[] { 1.0, 2.0, 3.0 }));
        Check.Close(1.28, weighted.Item(), 1e-12);
        weighted.Backward();
        AssertGrad(lp2, [0, 0, -0.6, 0, -0.4, 0], 1e-12);
    }

    [Fact]
    public void NllLoss_of_LogSoftmax_equals_CrossEntropy()
    {
        var a = Autograd.NllLoss(Autograd.LogSoftmax(Leaf(Logits, 3, 3), 1), Labels);
        var b = Autograd.CrossEntropy(Leaf(Logits, 3, 3), Labels);
        Check.Close(b.Item(), a.Item(), 1e-12);
    }

    [Fact]
    public void BinaryCrossEntropyWithLogits_is_finite_at_plus_and_minus_1000()
    {
        // loss = softplus(x) − x·y: (1000, 1) → 0, (−1000, 0) → 0, (1000, 0) → 1000, (−1000, 1) → 1000, (0, ½) → ln 2.
        // gradient σ(x) − y = [0, 0, 1, −1, 0].
        var x = Leaf([1000, -1000, 1000, -1000, 0]);
        var t = Const([1, 0, 0, 1, 0.5]);
        var none = Autograd.BinaryCrossEntropyWithLogits(x, t, Reduction.None);
        Check.Close([0, 0, 1000, 1000, Math.Log(2)], none.ToArray(), 1e-9);

        var sum = Autograd.BinaryCrossEntropyWithLogits(x, t, Reduction.Sum);
        Check.Close(2000 + Math.Log(2), sum.Item(), 1e-9);
        sum.Backward();
        AssertGrad(x, [0, 0, 1, -1, 0], 1e-12);

        // mean: divided by 5.
        var x2 = Leaf([1000, -1000, 1000, -1000, 0]);
        var mean = Autograd.BinaryCrossEntropyWithLogits(x2, t);
        Check.Close((2000 + Math.Log(2)) / 5, mean.Item(), 1e-9);
        mean.Backward();
        AssertGrad(x2, [0, 0, 0.2, -0.2, 0], 1e-12);
    }

    [Fact]
    public void BinaryCrossEntropyWithLogits_of_ordinary_logits()
    {
        // x = 2, y = 1: ln(1 + e⁻²) = 0.12692801104297263; gradient σ(2) − 1 = −0.11920292202211755.
        var x = Leaf([2.0]);
        var l = Autograd.BinaryCrossEntropyWithLogits(x, Const([1.0]));
        Check.Close(Math.Log(1 + Math.Exp(-2)), l.Item(), 1e-12);
        l.Backward();
        AssertGrad(x, [1 / (1 + Math.Exp(-2)) - 1], 1e-12);
    }

    [Fact]
    public void HuberLoss_quadratic_and_linear_regions()
    {
        // δ = 1, d = [0.5, 3, −2]: ½·0.25 = 0.125 (quadratic), 1·(3 − ½) = 2.5, 1·(2 − ½) = 1.5 (linear).
        // gradient: d inside (0.5), δ·sign(d) outside (1, −1).
        var x = Leaf([0.5, 3, -2]);
        var t = Const([0, 0, 0]);
        var none = Autograd.HuberLoss(x, t, reduction: Reduction.None);
        Check.Close([0.125, 2.5, 1.5], none.ToArray(), 1e-12);

        var sum = Autograd.HuberLoss(x, t, reduction: Reduction.Sum);
        Check.Close(4.125, sum.Item(), 1e-12);
        sum.Backward();
        AssertGrad(x, [0.5, 1, -1], 1e-12);

        var x2 = Leaf([0.5, 3, -2]);
        var mean = Autograd.HuberLoss(x2, t);
        Check.Close(1.375, mean.Item(), 1e-12);
        mean.Backward();
        AssertGrad(x2, [0.5 / 3, 1.0 / 3, -1.0 / 3], 1e-12);

        // δ = 2, d = [1, −3, 2]: ½·1 = 0.5; 2·(3 − 1) = 4; at |d| = δ both pieces give ½·4 = 2·(2 − 1) = 2.
        // gradient [1, −2, 2].
        var x3 = Leaf([1, -3, 2]);
        var l3 = Autograd.HuberLoss(x3, t, 2.0, Reduction.None);
        Check.Close([0.5, 4, 2], l3.ToArray(), 1e-12);
        l3.Sum().Backward();
        AssertGrad(x3, [1, -2, 2], 1e-12);
    }

    // ================================================================= dropout

    [Fact]
    public void Dropout_with_the_same_seed_gives_the_same_mask()
    {
        var x = Leaf(Range(200, 1));
        var a = Autograd.Dropout(x, 0.3, new Random(1234)).ToArray();
        var b = Autograd.Dropout(x, 0.3, new Random(1234)).ToArray();
        Assert.Equal(a, b);

        // The generator's state advances: a second draw from the same Random gives another mask.
        var rng = new Random(1234);
        var first = Autograd.Dropout(x, 0.3, rng).ToArray();
        var second = Autograd.Dropout(x, 0.3, rng).ToArray();
        Assert.Equal(a, first);
        Assert.NotEqual(first, second);
    }

    [Fact]
    public void Dropout_scales_survivors_by_1_over_1_minus_p_and_the_gradient_equals_the_mask()
    {
        // out = x ⊙ m with m ∈ {0, 1/(1 − p)}; y = Σ out → dy/dx = m. With p = 0.5 the scale is 2.
        var values = Range(1000, 1);
        var x = Leaf(values);
        var y = Autograd.Dropout(x, 0.5, new Random(42));
        var o = y.ToArray();
        y.Sum().Backward();
        var mask = Check.GradOf(x).ToArray();
        var kept = 0;
        for (var i = 0; i < o.Length; i++)
        {
            Assert.True(mask[i] == 0.0 || mask[i] == 2.0, $"mask[{i}] = {mask[i]}");
            Assert.Equal(values[i] * mask[i], o[i]);
            if (mask[i] != 0.0) kept++;
        }
        // Seeded, so deterministic; the count is merely a sanity check that both outcomes occur.
        Assert.InRange(kept, 400, 600);
    }

    [Fact]
    public void Dropout_is_the_identity_when_p_is_0_or_not_training()
    {
        var x = Leaf([1, 2, 3, 4]);
        Assert.Equal(new double[] { 1, 2, 3, 4 }, Autograd.Dropout(x, 0.0, new Random(1)).ToArray());
        var eval = Autograd.Dropout(x, 0.9, new Random(1), training: false);
        Assert.Equal(new double[] { 1, 2, 3, 4 }, eval.ToArray());
        eval.Sum().Backward();
        AssertGrad(x, [1, 1, 1, 1]);
    }

    [Fact]
    public void Dropout_with_p_1_zeroes_everything()
    {
        var x = Leaf([1, 2, 3]);
        var y = Autograd.Dropout(x, 1.0, new Random(7));
        Assert.Equal(new double[] { 0, 0, 0 }, y.ToArray());
        y.Sum().Backward();
        AssertGrad(x, [0, 0, 0]);
    }

    // ================================================================= integer tensors

    [Fact]
    public void Integer_tensors_cannot_require_grad_but_can_be_constants()
    {
        var i64 = new Tensor(new long[] { 2, 0, 1 });
        var i32 = new Tensor(new[] { 2, 0, 1 });
        Assert.Equal(DType.Int64, i64.DType);
        Assert.Equal(DType.Int32, i32.DType);

        Assert.Throws<InvalidOperationException>(() => new Variable(i64));
        Assert.Throws<InvalidOperationException>(() => new Variable(i32));
        Assert.Throws<InvalidOperationException>(() => new Variable(Tensor.FromArray(new long[] { 1, 2, 3, 4 }, 2, 2), requiresGrad: true));

        var c = new Variable(i64, requiresGrad: false);
        Assert.False(c.RequiresGrad);
        Assert.Equal(DType.Int64, c.DType);
        Assert.Equal(new long[] { 2, 0, 1 }, c.Data.ToInt64Array());
        Assert.Null(c.Grad);

        var c32 = new Variable(i32, requiresGrad: false);
        Assert.Equal(DType.Int32, c32.DType);
        Assert.Equal(new double[] { 2, 0, 1 }, c32.ToArray());
    }

    [Fact]
    public void Setting_an_integer_tensor_as_the_data_of_a_leaf_that_requires_grad_throws()
    {
        var w = Leaf([1, 2]);
        Assert.Throws<InvalidOperationException>(() => w.Data = new Tensor(new long[] { 1, 2 }));
        Assert.True(w.RequiresGrad);
        Assert.Equal(new double[] { 1, 2 }, w.ToArray());
    }

    [Fact]
    public void Comparison_operators_give_0_1_masks()
    {
        var t = new Tensor(new[] { -1.0, 0.0, 2.0 });
        Assert.Equal(new double[] { 0, 0, 1 }, (t > 0.0).ToArray());
        Assert.Equal(new double[] { 0, 1, 1 }, (t >= 0.0).ToArray());
        Assert.Equal(new double[] { 1, 0, 0 }, (t < 0.0).ToArray());
        Assert.Equal(new double[] { 1, 1, 0 }, (t <= 0.0).ToArray());
    }
}
