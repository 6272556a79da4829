namespace TinyTorch.Nn;

/// <summary>A chain of modules applied in order; its children are named by their index (<c>0</c>, <c>1</c>, …).</summary>
/// <remarks>PyTorch: <c>torch.nn.Sequential</c>.</remarks>
public sealed class Sequential : Module
{
    private readonly Module[] layers;

    /// <summary>A chain of <paramref name="layers"/> (none gives the identity).</summary>
    /// <param name="layers">The modules, applied first to last.</param>
    /// <exception cref="ArgumentNullException"><paramref name="layers"/> or one of its elements is null.</exception>
    /// <remarks>PyTorch: <c>torch.nn.Sequential(*modules)</c>.</remarks>
    public Sequential(params Module[] layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        if (Array.IndexOf(layers, null) is var i and >= 0)
        {
            throw new ArgumentNullException(nameof(layers), $"Sequential: layer {i} is null.");
        }
        this.layers = (Module[])layers.Clone();
    }

    /// <summary>The modules, in the order they are applied.</summary>
    /// <remarks>PyTorch: indexing a <c>Sequential</c> (<c>seq[i]</c>, <c>len(seq)</c>).</remarks>
    public IReadOnlyList<Module> Layers => layers;

    /// <summary>Applies each layer to the previous one's output.</summary>
    /// <param name="input">The first layer's input.</param>
    /// <returns>The last layer's output (<paramref name="input"/> itself when there are no layers).</returns>
    /// <remarks>PyTorch: <c>Sequential.forward</c>.</remarks>
    public override Variable Forward(Variable input) => layers.Aggregate(input, (x, layer) => layer.Forward(x));

    /// <summary>The layers named by their index, as PyTorch names them (so parameters are <c>0.weight</c>, <c>2.bias</c>, …).</summary>
    /// <returns>Pairs of the index as a string and the layer.</returns>
    /// <remarks>PyTorch: <c>Sequential.named_children</c>.</remarks>
    public override IEnumerable<(string Name, Module Module)> NamedChildren() =>
        layers.Select((layer, i) => (i.ToString(System.Globalization.CultureInfo.InvariantCulture), layer));

    /// <summary>The layers one per line, indented, as PyTorch prints them.</summary>
    /// <returns>For example <c>Sequential(\n  (0): Linear(…)\n  (1): ReLU()\n)</c>.</returns>
    public override string ToString() =>
        layers.Length == 0
            ? "Sequential()"
            : "Sequential(\n" + string.Concat(layers.Select((l, i) => $"  ({i}): {l.ToString()!.Replace("\n", "\n  ")}\n")) + ")";
}
