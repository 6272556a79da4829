using System.Collections;

namespace TinyTorch.Data;

/// <summary>
/// Mini-batches of a <see cref="TensorDataset"/>: each enumeration is one epoch that visits every
/// sample once (or all but the last incomplete batch with <see cref="DropLast"/>), in order or
/// shuffled. A batch is the rows of the features and labels at its indices,
/// <c>[batchSize, …]</c> (the last one may be smaller).
/// </summary>
/// <remarks>
/// PyTorch: <c>torch.utils.data.DataLoader(dataset, batch_size, shuffle, drop_last, generator)</c>.
/// Shuffling is reproducible: epoch e is shuffled with <c>new Random(seed + e)</c>, so every epoch has
/// its own order and a second run with the same seed sees the same orders (like setting the sampler's
/// epoch with <c>DistributedSampler.set_epoch</c>). Each call of <see cref="GetEnumerator"/> starts the
/// next epoch, so do not enumerate a shuffling loader for anything but training (use
/// <see cref="EpochBatches"/> to look at a given epoch).
/// </remarks>
public sealed class DataLoader : IEnumerable<(Tensor Features, Tensor Labels)>
{
    private int nextEpoch;

    /// <summary>A loader over <paramref name="dataset"/>.</summary>
    /// <param name="dataset">The samples.</param>
    /// <param name="batchSize">Samples per batch, at least 1.</param>
    /// <param name="shuffle">Visit the samples in a new random order every epoch (false: in order).</param>
    /// <param name="seed">The seed of the shuffle: epoch e uses <c>new Random(seed + e)</c>.</param>
    /// <param name="dropLast">Skip the last batch when it has fewer than <paramref name="batchSize"/> samples.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is less than 1.</exception>
    /// <remarks>PyTorch: <c>DataLoader(dataset, batch_size=batchSize, shuffle=shuffle, drop_last=dropLast, generator=torch.Generator().manual_seed(seed))</c>.</remarks>
    public DataLoader(TensorDataset dataset, int batchSize, bool shuffle = false, int seed = 0, bool dropLast = false)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        Dataset = dataset;
        BatchSize = batchSize;
        Shuffle = shuffle;
        Seed = seed;
        DropLast = dropLast;
    }

    /// <summary>The samples.</summary>
    /// <remarks>PyTorch: <c>loader.dataset</c>.</remarks>
    public TensorDataset Dataset { get; }

    /// <summary>Samples per batch.</summary>
    /// <remarks>PyTorch: <c>loader.batch_size</c>.</remarks>
    public int BatchSize { get; }

    /// <summary>Whether every epoch visits the samples in a new random order.</summary>
    /// <remarks>PyTorch: the <c>shuffle</c> argument (a <c>RandomSampler</c>).</remarks>
    public bool Shuffle { get; }

    /// <summary>The seed of the shuffle; epoch e uses <c>new Random(Seed + e)</c>.</summary>
    /// <remarks>PyTorch: the seed of the <c>generator</c> argument.</remarks>
    public int Seed { get; }

    /// <summary>Whether the last, incomplete batch is skipped.</summary>
    /// <remarks>PyTorch: <c>loader.drop_last</c>.</remarks>
    public bool DropLast { get; }

    /// <summary>Batches per epoch: ⌈N / batchSize⌉, or ⌊N / batchSize⌋ with <see cref="DropLast"/>.</summary>
    /// <remarks>PyTorch: <c>len(loader)</c>.</remarks>
    public int Count => DropLast ? Dataset.Count / BatchSize : (Dataset.Count + BatchSize - 1) / BatchSize;

    /// <summary>
    /// The epoch that the next enumeration will be (0 at first; each <see cref="GetEnumerator"/> call
    /// takes it and adds 1). Set it to resume a run from a checkpoint with the same shuffles.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to a negative number.</exception>
    /// <remarks>PyTorch: <c>DistributedSampler.set_epoch(epoch)</c>.</remarks>
    public int Epoch
    {
        get => Volatile.Read(ref nextEpoch);
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            Volatile.Write(ref nextEpoch, value);
        }
    }

    /// <summary>The sample indices of epoch <paramref name="epoch"/>, in visiting order (before dropping the last batch).</summary>
    /// <param name="epoch">The epoch (only matters when shuffling).</param>
    /// <returns>A permutation of 0 … N − 1 (the identity without shuffling).</returns>
    /// <remarks>PyTorch: <c>list(iter(loader.sampler))</c>.</remarks>
    public int[] Order(int epoch)
    {
        var order = new int[Dataset.Count];
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        if (Shuffle)
        {
            TensorDataset.Shuffle(order, new Random(unchecked(Seed + epoch)));
        }

        return order;
    }

    /// <summary>The batches of epoch <paramref name="epoch"/>, without advancing <see cref="Epoch"/>; computed lazily, one batch at a time.</summary>
    /// <param name="epoch">The epoch (only matters when shuffling).</param>
    /// <returns>The batches: features <c>[b, …]</c> and labels <c>[b, …]</c>.</returns>
    /// <remarks>PyTorch: iterating the loader after <c>sampler.set_epoch(epoch)</c>.</remarks>
    public IEnumerable<(Tensor Features, Tensor Labels)> EpochBatches(int epoch)
    {
        var order = Order(epoch);
        for (var batch = 0; batch < Count; batch++)
        {
            var start = batch * BatchSize;
            var size = Math.Min(BatchSize, order.Length - start);
            yield return Dataset.Rows(order[start..(start + size)]);
        }
    }

    /// <summary>Starts the next epoch (see <see cref="Epoch"/>) and enumerates its batches.</summary>
    /// <returns>The batches of this epoch.</returns>
    /// <remarks>PyTorch: <c>iter(loader)</c>.</remarks>
    public IEnumerator<(Tensor Features, Tensor Labels)> GetEnumerator()
    {
        var epoch = Interlocked.Increment(ref nextEpoch) - 1;
        return EpochBatches(epoch).GetEnumerator();
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
