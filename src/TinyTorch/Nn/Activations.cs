namespace TinyTorch.Nn;

/// <summary>max(x, 0) elementwise, as a module; its gradient at 0 is 0.</summary>
/// <remarks>PyTorch: <c>torch.nn.ReLU</c>.</remarks>
public sealed class ReLU : Module
{
    /// <summary>max(x, 0).</summary>
    /// <param name="input">Any shape.</param>
    /// <returns>The same shape.</returns>
    /// <remarks>PyTorch: <c>ReLU.forward</c>.</remarks>
    public override Variable Forward(Variable input) => Autograd.Relu(input);

    /// <summary><c>ReLU()</c>.</summary>
    /// <returns>The module's name.</returns>
    public override string ToString() => "ReLU()";
}

/// <summary>Hyperbolic tangent elementwise, as a module.</summary>
/// <remarks>PyTorch: <c>torch.nn.Tanh</c>.</remarks>
public sealed class Tanh : Module
{
    /// <summary>tanh x.</summary>
    /// <param name="input">Any shape.</param>
    /// <returns>The same shape.</returns>
    /// <remarks>PyTorch: <c>Tanh.forward</c>.</remarks>
    public override Variable Forward(Variable input) => Autograd.Tanh(input);

    /// <summary><c>Tanh()</c>.</summary>
    /// <returns>The module's name.</returns>
    public override string ToString() => "Tanh()";
}

/// <summary>The logistic sigmoid 1 / (1 + e^−x) elementwise, as a module.</summary>
/// <remarks>PyTorch: <c>torch.nn.Sigmoid</c>.</remarks>
public sealed class Sigmoid : Module
{
    /// <summary>σ(x), without overflow for either sign.</summary>
    /// <param name="input">Any shape.</param>
    /// <returns>The same shape.</returns>
    /// <remarks>PyTorch: <c>Sigmoid.forward</c>.</remarks>
    public override Variable Forward(Variable input) => Autograd.Sigmoid(input);

    /// <summary><c>Sigmoid()</c>.</summary>
    /// <returns>The module's name.</returns>
    public override string ToString() => "Sigmoid()";
}

/// <summary>GELU x·Φ(x) elementwise, as a module: exact, or the tanh approximation.</summary>
/// <param name="tanhApproximation">True for 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))); false (the default) for the exact normal CDF.</param>
/// <remarks>PyTorch: <c>torch.nn.GELU(approximate='none' | 'tanh')</c>.</remarks>
public sealed class Gelu(bool tanhApproximation = false) : Module
{
    /// <summary>True when the tanh approximation is used.</summary>
    /// <remarks>PyTorch: <c>GELU.approximate == 'tanh'</c>.</remarks>
    public bool TanhApproximation { get; } = tanhApproximation;

    /// <summary>GELU of each element.</summary>
    /// <param name="input">Any shape.</param>
    /// <returns>The same shape.</returns>
    /// <remarks>PyTorch: <c>GELU.forward</c>.</remarks>
    public override Variable Forward(Variable input) => Autograd.Gelu(input, TanhApproximation);

    /// <summary><c>GELU(approximate='none')</c> or <c>GELU(approximate='tanh')</c>, as PyTorch prints it.</summary>
    /// <returns>The module's description.</returns>
    public override string ToString() => $"GELU(approximate='{(TanhApproximation ? "tanh" : "none")}')";
}
