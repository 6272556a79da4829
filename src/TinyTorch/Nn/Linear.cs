using TinyTorch.Functional;

namespace TinyTorch.Nn;

/// <summary>
/// A fully connected layer, y = x·Wᵀ + b, with a weight of shape [outFeatures, inFeatures] and a bias of shape
/// [outFeatures], initialised as PyTorch does: the weight uniform in ±1/√inFeatures (Kaiming uniform with a = √5),
/// then the bias uniform in ±1/√inFeatures, drawn from the generator given.
/// </summary>
/// <remarks>PyTorch: <c>torch.nn.Linear</c>.</remarks>
public sealed class Linear : Module
{
    /// <summary>A linear layer from <paramref name="inFeatures"/> to <paramref name="outFeatures"/> features.</summary>
    /// <param name="inFeatures">Size of each input sample (the input's last dimension).</param>
    /// <param name="outFeatures">Size of each output sample.</param>
    /// <param name="bias">Whether to add a learnable bias.</param>
    /// <param name="dtype">Element type of the parameters: Float32 (the default) or Float64.</param>
    /// <param name="random">The generator the initial values are drawn from (weight first, then bias); null uses <see cref="Random.Shared"/>. Pass <c>new Random(seed)</c> for reproducible weights.</param>
    /// <exception cref="ArgumentOutOfRangeException">A feature count is not positive.</exception>
    /// <exception cref="ArgumentException"><paramref name="dtype"/> is not a floating-point type.</exception>
    /// <remarks>PyTorch: <c>torch.nn.Linear(in_features, out_features, bias=True, dtype=torch.float32)</c>.</remarks>
    public Linear(int inFeatures, int outFeatures, bool bias = true, DType dtype = DType.Float32, Random? random = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inFeatures);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outFeatures);
        var (weight, biasValue) = Init.linear(random ?? Random.Shared, inFeatures, outFeatures, bias, dtype);
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = new Variable(weight);
        Bias = biasValue is null ? null : new Variable(biasValue);
    }

    /// <summary>Size of each input sample.</summary>
    /// <remarks>PyTorch: <c>Linear.in_features</c>.</remarks>
    public int InFeatures { get; }

    /// <summary>Size of each output sample.</summary>
    /// <remarks>PyTorch: <c>Linear.out_features</c>.</remarks>
    public int OutFeatures { get; }

    /// <summary>The weight, shape [outFeatures, inFeatures] (parameter name <c>weight</c>).</summary>
    /// <remarks>PyTorch: <c>Linear.weight</c>.</remarks>
    public Variable Weight { get; }

    /// <summary>The bias, shape [outFeatures] (parameter name <c>bias</c>); null when the layer has none.</summary>
    /// <remarks>PyTorch: <c>Linear.bias</c>.</remarks>
    public Variable? Bias { get; }

    /// <summary>x·Wᵀ + b for an input whose last dimension is <see cref="InFeatures"/> (any leading dimensions).</summary>
    /// <param name="input">Shape [..., inFeatures].</param>
    /// <returns>Shape [..., outFeatures].</returns>
    /// <exception cref="ShapeMismatchException">The input's last dimension is not <see cref="InFeatures"/>.</exception>
    /// <remarks>PyTorch: <c>torch.nn.functional.linear</c>.</remarks>
    public override Variable Forward(Variable input) =>
        Autograd.Linear(input, Weight, Bias);

    /// <summary>For example <c>Linear(in_features=4, out_features=16, bias=True)</c>, as PyTorch prints it.</summary>
    /// <returns>The layer's description.</returns>
    public override string ToString() => $"Linear(in_features={InFeatures}, out_features={OutFeatures}, bias={(Bias is null ? "False" : "True")})";
}
