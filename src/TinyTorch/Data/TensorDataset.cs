namespace TinyTorch.Data;

/// <summary>
/// A data set held as two tensors whose first dimension counts the samples: features
/// <c>[N, …]</c> and labels <c>[N, …]</c> (usually int64 class labels <c>[N]</c>). Immutable.
/// </summary>
/// <remarks>PyTorch: <c>torch.utils.data.TensorDataset(features, labels)</c>.</remarks>
public sealed class TensorDataset
{
    /// <summary>A data set of <paramref name="features"/> and <paramref name="labels"/> (not copied: tensors are immutable).</summary>
    /// <param name="features">One row per sample: shape <c>[N, …]</c>.</param>
    /// <param name="labels">One label (or target row) per sample: shape <c>[N, …]</c>.</param>
    /// <exception cref="ArgumentException">A tensor is 0-d, or their first dimensions differ.</exception>
    /// <remarks>PyTorch: <c>TensorDataset(features, labels)</c>.</remarks>
    public TensorDataset(Tensor features, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labels);
        if (features.Rank == 0 || labels.Rank == 0)
        {
            throw new ArgumentException(
                $"TensorDataset: features and labels need a first dimension that counts the samples, but got shapes {features.Shape} and {labels.Shape}. Reshape a scalar to [1].");
        }

        if (features.Shape[0] != labels.Shape[0])
        {
            throw new ArgumentException(
                $"TensorDataset: features have {features.Shape[0]} samples (shape {features.Shape}) but labels have {labels.Shape[0]} (shape {labels.Shape}); the first dimensions must be equal.");
        }

        Features = features;
        Labels = labels;
    }

    /// <summary>The features, shape <c>[N, …]</c>.</summary>
    /// <remarks>PyTorch: <c>dataset.tensors[0]</c>.</remarks>
    public Tensor Features { get; }

    /// <summary>The labels, shape <c>[N, …]</c>.</summary>
    /// <remarks>PyTorch: <c>dataset.tensors[1]</c>.</remarks>
    public Tensor Labels { get; }

    /// <summary>The number of samples N.</summary>
    /// <remarks>PyTorch: <c>len(dataset)</c>.</remarks>
    public int Count => Features.Shape[0];

    /// <summary>Sample <paramref name="index"/>: its feature row (shape <c>Features.Shape[1..]</c>) and its label (0-d for labels <c>[N]</c>).</summary>
    /// <param name="index">0 to <see cref="Count"/> − 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the data set.</exception>
    /// <remarks>PyTorch: <c>dataset[index]</c>.</remarks>
    public (Tensor Features, Tensor Labels) this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            var (features, labels) = Rows([index]);
            return (DropFirst(features), DropFirst(labels));
        }
    }

    /// <summary>The samples at <paramref name="indices"/>, in that order (repeats allowed).</summary>
    /// <param name="indices">Positions 0 to <see cref="Count"/> − 1.</param>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside the data set.</exception>
    /// <remarks>PyTorch: <c>torch.utils.data.Subset(dataset, indices)</c> (materialized).</remarks>
    public TensorDataset Subset(IEnumerable<int> indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        var rows = indices.ToArray();
        foreach (var i in rows)
        {
            if ((uint)i >= (uint)Count)
            {
                throw new ArgumentOutOfRangeException(nameof(indices), i, $"Subset: index {i} is outside a data set of {Count} samples.");
            }
        }

        var (features, labels) = Rows(rows);
        return new TensorDataset(features, labels);
    }

    /// <summary>
    /// Splits into a training and a test set with the same class proportions: within each class
    /// (labels ascending) the samples are shuffled with <c>new Random(seed)</c> and the first
    /// round(count · <paramref name="testFraction"/>) go to the test set. Both sets keep the original
    /// sample order. The same seed always gives the same split.
    /// </summary>
    /// <param name="testFraction">The share of every class that goes to the test set, strictly between 0 and 1.</param>
    /// <param name="seed">The seed of the shuffle.</param>
    /// <returns>Disjoint training and test sets that together hold every sample once.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="testFraction"/> is not strictly between 0 and 1.</exception>
    /// <exception cref="InvalidOperationException">The labels are not an integer tensor of shape <c>[N]</c>.</exception>
    /// <remarks>scikit-learn: <c>train_test_split(X, y, test_size=testFraction, stratify=y, random_state=seed)</c> (its allocation differs slightly).</remarks>
    public (TensorDataset Train, TensorDataset Test) StratifiedSplit(double testFraction = 0.2, int seed = 0)
    {
        if (!(testFraction > 0.0 && testFraction < 1.0))
        {
            throw new ArgumentOutOfRangeException(nameof(testFraction), testFraction, "StratifiedSplit: testFraction must be strictly between 0 and 1.");
        }

        if (Labels.Rank != 1 || Labels.IsFloatingPoint)
        {
            throw new InvalidOperationException(
                $"StratifiedSplit needs integer class labels of shape [N], but the labels are {Labels.DType} of shape {Labels.Shape}.");
        }

        var byClass = new SortedDictionary<long, List<int>>();
        for (var i = 0; i < Count; i++)
        {
            var label = Labels.GetInt64Flat(i);
            if (!byClass.TryGetValue(label, out var members))
            {
                byClass[label] = members = [];
            }

            members.Add(i);
        }

        var random = new Random(seed);
        var train = new List<int>(Count);
        var test = new List<int>(Count);
        foreach (var members in byClass.Values)
        {
            var order = members.ToArray();
            Shuffle(order, random);
            var testCount = (int)Math.Round(order.Length * testFraction, MidpointRounding.AwayFromZero);
            test.AddRange(order.AsSpan(0, testCount));
            train.AddRange(order.AsSpan(testCount));
        }

        train.Sort();
        test.Sort();
        return (Subset(train), Subset(test));
    }

    /// <summary>The rows at <paramref name="indices"/> of both tensors (indices already validated).</summary>
    internal (Tensor Features, Tensor Labels) Rows(int[] indices)
    {
        var index = new Tensor(indices);
        return (TensorModule.indexSelect(0, index, Features), TensorModule.indexSelect(0, index, Labels));
    }

    /// <summary>Fisher–Yates with <paramref name="random"/>: the same seed gives the same order on every .NET version.</summary>
    internal static void Shuffle(int[] order, Random random)
    {
        for (var i = order.Length - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
    }

    private static Tensor DropFirst(Tensor x) => TensorModule.reshape(Shape.Of(x.Shape.ToArray()[1..]), x);
}
