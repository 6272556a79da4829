namespace TinyTorch.Tests;

/// <summary>Small assertion helpers shared by the unit tests.</summary>
internal static class Check
{
    /// <summary>|actual - expected| &lt; tolerance, as the seed's <c>abs(a - e) &lt; 1e-6</c>.</summary>
    public static void Close(double expected, double actual, double tolerance = 1e-6, string? what = null)
    {
        Assert.True(
            Math.Abs(actual - expected) < tolerance,
            $"{what ?? "value"}: expected {expected:R}, got {actual:R} (tolerance {tolerance:R}).");
    }

    /// <summary>Elementwise <see cref="Close"/>, same length.</summary>
    public static void Close(double[] expected, double[] actual, double tolerance = 1e-6, string? what = null)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Close(expected[i], actual[i], tolerance, $"{what ?? "element"} [{i}]");
        }
    }

    /// <summary>|actual - expected| &lt;= tolerance · |expected|.</summary>
    public static void Relative(double expected, double actual, double tolerance, string? what = null)
    {
        Assert.True(
            Math.Abs(actual - expected) <= tolerance * Math.Abs(expected),
            $"{what ?? "value"}: expected {expected:R}, got {actual:R} (relative tolerance {tolerance:R}, relative error {Math.Abs(actual - expected) / Math.Abs(expected):R}).");
    }

    /// <summary>The gradient of a leaf, asserting that a backward pass reached it.</summary>
    public static Variable GradOf(Variable v)
    {
        Assert.NotNull(v.Grad);
        return v.Grad!;
    }
}
