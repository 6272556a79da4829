namespace TinyTorch.Nn;

/// <summary>
/// Inverted dropout as a module: in training mode zeroes each element with probability <see cref="P"/> (drawn from
/// the generator given) and scales the rest by 1/(1 − p); in evaluation mode (<see cref="Module.Eval"/>) the identity.
/// </summary>
/// <remarks>PyTorch: <c>torch.nn.Dropout</c>.</remarks>
public sealed class Dropout : Module
{
    private readonly Random random;

    /// <summary>Dropout with probability <paramref name="p"/>, drawing masks from <paramref name="random"/>.</summary>
    /// <param name="p">Probability of zeroing an element, in [0, 1].</param>
    /// <param name="random">The generator the masks are drawn from (pass <c>new Random(seed)</c> for reproducible runs).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="p"/> is outside [0, 1].</exception>
    /// <exception cref="ArgumentNullException"><paramref name="random"/> is null.</exception>
    /// <remarks>PyTorch: <c>torch.nn.Dropout(p)</c>.</remarks>
    public Dropout(double p, Random random)
    {
        if (!(p >= 0 && p <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(p), p, $"Dropout: p must be in [0, 1], but got {p}.");
        }
        ArgumentNullException.ThrowIfNull(random);
        P = p;
        this.random = random;
    }

    /// <summary>The probability of zeroing an element.</summary>
    /// <remarks>PyTorch: <c>Dropout.p</c>.</remarks>
    public double P { get; }

    /// <summary>Dropout of <paramref name="input"/> in training mode; <paramref name="input"/> itself in evaluation mode.</summary>
    /// <param name="input">Any shape.</param>
    /// <returns>The same shape.</returns>
    /// <remarks>PyTorch: <c>Dropout.forward</c>.</remarks>
    public override Variable Forward(Variable input) => Autograd.Dropout(input, P, random, IsTraining);

    /// <summary>For example <c>Dropout(p=0.5)</c>, as PyTorch prints it.</summary>
    /// <returns>The module's description.</returns>
    public override string ToString() => $"Dropout(p={P.ToString(System.Globalization.CultureInfo.InvariantCulture)})";
}
