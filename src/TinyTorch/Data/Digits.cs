using System.IO.Compression;
using System.Text;

namespace TinyTorch.Data;

/// <summary>
/// The optical-recognition handwritten digits (UCI, Alpaydin and Kaynak 1998, CC BY 4.0), embedded in
/// the library: 1797 images of 8×8 pixels with integer values 0..16, 10 classes (the digits 0–9).
/// See <c>Data/README.md</c> and <c>Data/digits.rst</c> beside the source for the licence and provenance.
/// </summary>
/// <remarks>scikit-learn: <c>sklearn.datasets.load_digits()</c> (the same file).</remarks>
public static class Digits
{
    /// <summary>The name of the embedded resource (a gzipped CSV: 64 pixels, then the class, per line).</summary>
    internal const string ResourceName = "TinyTorch.Data.digits.csv.gz";

    /// <summary>The number of images, 1797.</summary>
    /// <remarks>scikit-learn: <c>load_digits().data.shape[0]</c>.</remarks>
    public const int SampleCount = 1797;

    /// <summary>The number of pixels of an image, 64 (8×8, row-major).</summary>
    /// <remarks>scikit-learn: <c>load_digits().data.shape[1]</c>.</remarks>
    public const int FeatureCount = 64;

    /// <summary>The number of classes, 10.</summary>
    /// <remarks>scikit-learn: <c>len(load_digits().target_names)</c>.</remarks>
    public const int ClassCount = 10;

    private static readonly Lazy<TensorDataset> Cached = new(Read, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// The whole data set: float32 features <c>[1797, 64]</c> scaled to [0, 1] (pixel / 16) and int64
    /// labels <c>[1797]</c> in 0..9, in file order. Parsed once, then shared (tensors are immutable).
    /// </summary>
    /// <returns>The 1797 samples.</returns>
    /// <remarks>scikit-learn: <c>X, y = load_digits(return_X_y=True); X = X / 16</c>.</remarks>
    public static TensorDataset Load() => Cached.Value;

    /// <summary>
    /// A deterministic stratified split of <see cref="Load"/>: within every class, round(count ·
    /// <paramref name="testFraction"/>) samples go to the test set (359 of 1797 for 0.2).
    /// </summary>
    /// <param name="testFraction">The share of every class in the test set, strictly between 0 and 1.</param>
    /// <param name="seed">The seed of the per-class shuffle.</param>
    /// <returns>Disjoint training and test sets with the class proportions of the whole set.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="testFraction"/> is not strictly between 0 and 1.</exception>
    /// <remarks>scikit-learn: <c>train_test_split(X, y, test_size=0.2, stratify=y, random_state=seed)</c>.</remarks>
    public static (TensorDataset Train, TensorDataset Test) Split(double testFraction = 0.2, int seed = 0) =>
        Load().StratifiedSplit(testFraction, seed);

    private static TensorDataset Read()
    {
        using var resource = typeof(Digits).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded resource {ResourceName} is missing from {typeof(Digits).Assembly.GetName().Name}; the library was built without it.");
        using var reader = new StreamReader(new GZipStream(resource, CompressionMode.Decompress), Encoding.UTF8);
        var table = Csv.Parse(reader, "embedded resource " + ResourceName, hasHeader: false, separator: ',');
        if (table.Rows != SampleCount || table.Columns != FeatureCount + 1)
        {
            throw new InvalidOperationException($"The embedded resource {ResourceName} has {table.Rows} rows of {table.Columns} columns; expected {SampleCount} of {FeatureCount + 1}.");
        }

        var dataset = Csv.Labelled(table, "embedded resource " + ResourceName, labelColumn: -1);
        var pixels = dataset.Features.ToSingleArray();
        for (var i = 0; i < pixels.Length; i++)
        {
            pixels[i] /= 16f;
        }

        return new TensorDataset(Tensor.Wrap(dataset.Features.Shape, pixels), dataset.Labels);
    }
}
