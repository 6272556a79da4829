namespace TinyTorch.Nn;

/// <summary>Flattens dimensions <see cref="StartAxis"/> to <see cref="EndAxis"/> (inclusive) into one; by default all but the batch dimension.</summary>
/// <param name="startAxis">First dimension to flatten (default 1, keeping the batch dimension); negative counts from the end.</param>
/// <param name="endAxis">Last dimension to flatten (default −1, the last).</param>
/// <remarks>PyTorch: <c>torch.nn.Flatten(start_dim=1, end_dim=-1)</c>.</remarks>
public sealed class Flatten(int startAxis = 1, int endAxis = -1) : Module
{
    /// <summary>First dimension flattened.</summary>
    /// <remarks>PyTorch: <c>Flatten.start_dim</c>.</remarks>
    public int StartAxis { get; } = startAxis;

    /// <summary>Last dimension flattened.</summary>
    /// <remarks>PyTorch: <c>Flatten.end_dim</c>.</remarks>
    public int EndAxis { get; } = endAxis;

    /// <summary>The input with dimensions <see cref="StartAxis"/>..<see cref="EndAxis"/> merged.</summary>
    /// <param name="input">A variable with at least the dimensions named.</param>
    /// <returns>The same elements, fewer dimensions.</returns>
    /// <remarks>PyTorch: <c>Flatten.forward</c>.</remarks>
    public override Variable Forward(Variable input) => Autograd.Flatten(input, StartAxis, EndAxis);

    /// <summary>For example <c>Flatten(start_dim=1, end_dim=-1)</c>, as PyTorch prints it.</summary>
    /// <returns>The module's description.</returns>
    public override string ToString() => $"Flatten(start_dim={StartAxis}, end_dim={EndAxis})";
}
