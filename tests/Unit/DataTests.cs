using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using TinyTorch.Data;

namespace TinyTorch.Tests;

/// <summary>
/// Data loading: the embedded digits set and its stratified split, TensorDataset and DataLoader
/// batching and shuffling, the IDX reader (MNIST / Fashion-MNIST) and the CSV reader, with bad files.
/// </summary>
public class DataTests
{
    // Class counts of the 1797 digits 0..9, computed once from digits.csv.gz with Python's gzip and csv modules.
    private static readonly int[] DigitClassCounts = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180];

    // ---------------------------------------------------------------- digits

    [Fact]
    public void Digits_load_gives_1797_float32_images_of_64_pixels_and_int64_labels()
    {
        var digits = Digits.Load();
        Assert.Equal(1797, digits.Count);
        Assert.Equal(Shape.Of(1797, 64), digits.Features.Shape);
        Assert.Equal(DType.Float32, digits.Features.DType);
        Assert.Equal(Shape.Of(1797), digits.Labels.Shape);
        Assert.Equal(DType.Int64, digits.Labels.DType);
        Assert.Equal(Digits.SampleCount, digits.Count);
        Assert.Equal(Digits.FeatureCount, digits.Features.Shape[1]);
    }

    [Fact]
    public void Digits_have_ten_classes_with_the_known_counts()
    {
        var counts = new int[10];
        foreach (var label in Digits.Load().Labels.ToInt64Array())
        {
            Assert.InRange(label, 0, 9);
            counts[label]++;
        }

        Assert.Equal(DigitClassCounts, counts);
        Assert.Equal(Digits.ClassCount, counts.Length);
    }

    [Fact]
    public void Digits_pixels_are_the_file_values_divided_by_sixteen()
    {
        var pixels = Digits.Load().Features.ToArray();
        Assert.All(pixels, p => Assert.InRange(p, 0.0, 1.0));
        // The 1797 × 64 integer pixels of the file sum to 561718 (Python); k/16 is exact in float32.
        Assert.Equal(561718.0 / 16.0, pixels.Sum());
        // First line of the file: 0,0,5,13,9,1,0,0,0,0,13,15,10,15,5,0,… with class 0.
        Assert.Equal(new[] { 0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0 }.Select(v => v / 16.0), pixels[..16]);
        Assert.Equal(0L, Digits.Load().Labels.GetInt64Flat(0));
        Assert.Same(Digits.Load(), Digits.Load());
    }

    [Fact]
    public void Digits_split_is_stratified_per_class()
    {
        var (train, test) = Digits.Split(testFraction: 0.2, seed: 0);
        var testCounts = ClassCounts(test.Labels);
        var trainCounts = ClassCounts(train.Labels);
        for (var c = 0; c < 10; c++)
        {
            // round(count · 0.2) of every class goes to the test set, the rest to training.
            var expectedTest = (int)Math.Round(DigitClassCounts[c] * 0.2, MidpointRounding.AwayFromZero);
            Assert.Equal(expectedTest, testCounts[c]);
            Assert.Equal(DigitClassCounts[c] - expectedTest, trainCounts[c]);
        }

        Assert.Equal(359, test.Count);
        Assert.Equal(1438, train.Count);
        Assert.Equal(DType.Float32, train.Features.DType);
        Assert.Equal(Shape.Of(359, 64), test.Features.Shape);
    }

    [Fact]
    public void Digits_split_is_disjoint_and_covers_every_sample_once()
    {
        var (train, test) = Digits.Split(0.25, seed: 7);
        var whole = RowMultiset(Digits.Load());
        var parts = RowMultiset(train);
        foreach (var (row, count) in RowMultiset(test))
        {
            parts[row] = parts.GetValueOrDefault(row) + count;
        }

        Assert.Equal(whole.OrderBy(p => p.Key, StringComparer.Ordinal), parts.OrderBy(p => p.Key, StringComparer.Ordinal));
        Assert.Equal(1797, train.Count + test.Count);
    }

    [Fact]
    public void Digits_split_is_deterministic_for_a_seed_and_differs_between_seeds()
    {
        var (trainA, testA) = Digits.Split(0.2, seed: 3);
        var (trainB, testB) = Digits.Split(0.2, seed: 3);
        var (_, testC) = Digits.Split(0.2, seed: 4);
        Assert.Equal(testA.Features.ToArray(), testB.Features.ToArray());
        Assert.Equal(testA.Labels.ToInt64Array(), testB.Labels.ToInt64Array());
        Assert.Equal(trainA.Features.ToArray(), trainB.Features.ToArray());
        Assert.NotEqual(testA.Features.ToArray(), testC.Features.ToArray());
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(-0.1)]
    [InlineData(double.NaN)]
    public void Digits_split_refuses_a_test_fraction_outside_zero_to_one(double fraction)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Digits.Split(fraction));
    }

    // ---------------------------------------------------------------- TensorDataset and DataLoader

    /// <summary>N samples whose single feature and label both equal the sample's index.</summary>
    private static TensorDataset Numbered(int n) =>
        new(Tensor.FromArray(Enumerable.Range(0, n).Select(i => (double)i).ToArray(), n, 1),
            new Tensor(Enumerable.Range(0, n).Select(i => (long)i).ToArray()));

    [Fact]
    public void TensorDataset_refuses_tensors_with_different_first_dimensions()
    {
        var ex = Assert.Throws<ArgumentException>(() => new TensorDataset(Tensor.Zeros(Shape.Of(4, 2), DType.Float32), Tensor.Zeros(Shape.Of(3), DType.Int64)));
        Assert.Contains("[4, 2]", ex.Message);
        Assert.Contains("[3]", ex.Message);
        Assert.Throws<ArgumentException>(() => new TensorDataset(new Tensor(1.0), new Tensor(new long[] { 1 })));
    }

    [Fact]
    public void TensorDataset_indexer_and_subset_select_rows()
    {
        var data = new TensorDataset(Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 3, 2), new Tensor(new long[] { 7, 8, 9 }));
        var (features, label) = data[1];
        Assert.Equal(Shape.Of(2), features.Shape);
        Assert.Equal(new[] { 3.0, 4.0 }, features.ToArray());
        Assert.Equal(Shape.Scalar, label.Shape);
        Assert.Equal(8.0, label.Item());
        var subset = data.Subset([2, 0, 2]);
        Assert.Equal(new[] { 5.0, 6.0, 1.0, 2.0, 5.0, 6.0 }, subset.Features.ToArray());
        Assert.Equal(new long[] { 9, 7, 9 }, subset.Labels.ToInt64Array());
        Assert.Throws<ArgumentOutOfRangeException>(() => data[3]);
        Assert.Throws<ArgumentOutOfRangeException>(() => data.Subset([0, 3]));
    }

    [Theory]
    [InlineData(10, 3, false, 4)]
    [InlineData(10, 3, true, 3)]
    [InlineData(9, 3, false, 3)]
    [InlineData(9, 3, true, 3)]
    [InlineData(2, 5, false, 1)]
    [InlineData(2, 5, true, 0)]
    [InlineData(0, 4, false, 0)]
    public void DataLoader_batch_count_is_ceil_or_floor_of_n_over_batch_size(int n, int batchSize, bool dropLast, int batches)
    {
        var loader = new DataLoader(Numbered(n), batchSize, dropLast: dropLast);
        Assert.Equal(batches, loader.Count);
        var sizes = loader.Select(b => b.Features.Shape[0]).ToArray();
        Assert.Equal(batches, sizes.Length);
        Assert.All(sizes.SkipLast(1), s => Assert.Equal(batchSize, s));
        if (dropLast && sizes.Length > 0)
        {
            Assert.Equal(batchSize, sizes[^1]);
        }
    }

    [Fact]
    public void DataLoader_without_shuffle_yields_the_rows_in_order_with_matching_labels()
    {
        var loader = new DataLoader(Numbered(7), batchSize: 3);
        var batches = loader.ToList();
        Assert.Equal(new[] { 3, 3, 1 }, batches.Select(b => b.Labels.Shape[0]));
        Assert.Equal(Shape.Of(3, 1), batches[0].Features.Shape);
        Assert.Equal(new[] { 3.0, 4.0, 5.0 }, batches[1].Features.ToArray());
        Assert.Equal(new long[] { 3, 4, 5 }, batches[1].Labels.ToInt64Array());
        Assert.Equal(DType.Int64, batches[2].Labels.DType);
    }

    [Fact]
    public void DataLoader_shuffled_epoch_visits_every_sample_exactly_once()
    {
        var loader = new DataLoader(Numbered(23), batchSize: 5, shuffle: true, seed: 42);
        for (var epoch = 0; epoch < 3; epoch++)
        {
            var seen = new List<long>();
            foreach (var (features, labels) in loader)
            {
                // Features and labels stay paired: both equal the sample index.
                Assert.Equal(features.ToArray(), labels.ToInt64Array().Select(l => (double)l));
                seen.AddRange(labels.ToInt64Array());
            }

            Assert.Equal(Enumerable.Range(0, 23).Select(i => (long)i), seen.Order());
            Assert.NotEqual(Enumerable.Range(0, 23).Select(i => (long)i), seen);
        }

        Assert.Equal(3, loader.Epoch);
    }

    [Fact]
    public void DataLoader_shuffle_repeats_per_seed_and_differs_per_epoch_and_seed()
    {
        static long[][] Run(int seed, int epochs)
        {
            var loader = new DataLoader(Numbered(50), batchSize: 50, shuffle: true, seed: seed);
            return Enumerable.Range(0, epochs).Select(_ => loader.Single().Labels.ToInt64Array()).ToArray();
        }

        var first = Run(seed: 1, epochs: 3);
        var second = Run(seed: 1, epochs: 3);
        var other = Run(seed: 2, epochs: 1);
        Assert.Equal(first, second);
        Assert.NotEqual(first[0], first[1]);
        Assert.NotEqual(first[1], first[2]);
        Assert.NotEqual(first[0], other[0]);
    }

    [Fact]
    public void DataLoader_epoch_batches_match_the_enumerations_and_resume_from_a_set_epoch()
    {
        var loader = new DataLoader(Numbered(12), batchSize: 4, shuffle: true, seed: 5);
        var epoch2 = loader.EpochBatches(2).SelectMany(b => b.Labels.ToInt64Array()).ToArray();
        Assert.Equal(0, loader.Epoch);
        loader.Epoch = 2;
        Assert.Equal(epoch2, loader.SelectMany(b => b.Labels.ToInt64Array()));
        Assert.Equal(3, loader.Epoch);
        Assert.Equal(loader.Order(2).Select(i => (long)i), epoch2);
    }

    [Fact]
    public void DataLoader_with_drop_last_drops_the_remainder_of_a_shuffled_epoch()
    {
        var loader = new DataLoader(Numbered(10), batchSize: 4, shuffle: true, seed: 9, dropLast: true);
        var labels = loader.SelectMany(b => b.Labels.ToInt64Array()).ToArray();
        Assert.Equal(8, labels.Length);
        Assert.Equal(8, labels.Distinct().Count());
    }

    [Fact]
    public void DataLoader_refuses_a_batch_size_below_one()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(Numbered(3), batchSize: 0));
    }

    // ---------------------------------------------------------------- IDX

    /// <summary>The bytes of an IDX file: two zero bytes, the type, the rank, big-endian sizes, then the data.</summary>
    private static byte[] IdxBytes(int magic, uint[] dims, byte[] data)
    {
        var bytes = new byte[4 + 4 * dims.Length + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        for (var d = 0; d < dims.Length; d++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4 + 4 * d), dims[d]);
        }

        data.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    private static byte[] Gzip(byte[] bytes)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal))
        {
            gzip.Write(bytes);
        }

        return buffer.ToArray();
    }

    private static void WriteIdx(string path, int magic, uint[] dims, byte[] data, bool gzip) =>
        File.WriteAllBytes(path, gzip ? Gzip(IdxBytes(magic, dims, data)) : IdxBytes(magic, dims, data));

    // Three 2×3 images with pixels 0, 10, …, 170, and their labels 4, 0, 9.
    private static readonly byte[] Pixels = Enumerable.Range(0, 18).Select(i => (byte)(i * 10)).ToArray();
    private static readonly byte[] Labels = [4, 0, 9];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Idx_images_and_labels_round_trip_plain_or_gzipped(bool gzip)
    {
        using var folder = new TempFolder();
        var images = folder.File("images");
        var labels = folder.File("labels");
        WriteIdx(images, Idx.ImagesMagic, [3, 2, 3], Pixels, gzip);
        WriteIdx(labels, Idx.LabelsMagic, [3], Labels, gzip);

        var flat = Idx.ReadImages(images);
        Assert.Equal(Shape.Of(3, 6), flat.Shape);
        Assert.Equal(DType.Float32, flat.DType);
        Assert.Equal(Pixels.Select(p => p / 255f), flat.ToSingleArray());
        Assert.Equal(Shape.Of(3, 2, 3), Idx.ReadImages(images, flatten: false).Shape);

        var y = Idx.ReadLabels(labels);
        Assert.Equal(DType.Int64, y.DType);
        Assert.Equal(new long[] { 4, 0, 9 }, y.ToInt64Array());

        var dataset = Idx.ReadDataset(images, labels);
        Assert.Equal(3, dataset.Count);
    }

    [Fact]
    public void Idx_load_folder_finds_the_four_mnist_files_gzipped_or_not()
    {
        using var folder = new TempFolder();
        WriteIdx(folder.File("train-images-idx3-ubyte.gz"), Idx.ImagesMagic, [3, 2, 3], Pixels, gzip: true);
        WriteIdx(folder.File("train-labels-idx1-ubyte.gz"), Idx.LabelsMagic, [3], Labels, gzip: true);
        WriteIdx(folder.File("t10k-images-idx3-ubyte"), Idx.ImagesMagic, [1, 2, 3], Pixels[..6], gzip: false);
        WriteIdx(folder.File("t10k-labels-idx1-ubyte"), Idx.LabelsMagic, [1], [7], gzip: false);

        var (train, test) = Idx.LoadFolder(folder.Root);
        Assert.Equal(Shape.Of(3, 6), train.Features.Shape);
        Assert.Equal(new long[] { 4, 0, 9 }, train.Labels.ToInt64Array());
        Assert.Equal(Shape.Of(1, 6), test.Features.Shape);
        Assert.Equal(new long[] { 7 }, test.Labels.ToInt64Array());
    }

    [Fact]
    public void Idx_load_folder_names_the_missing_file()
    {
        using var folder = new TempFolder();
        WriteIdx(folder.File("train-images-idx3-ubyte"), Idx.ImagesMagic, [3, 2, 3], Pixels, gzip: false);
        var ex = Assert.Throws<FileNotFoundException>(() => Idx.LoadFolder(folder.Root));
        Assert.Contains("train-labels-idx1-ubyte", ex.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Idx_truncated_image_file_is_refused_naming_the_file(bool gzip)
    {
        using var folder = new TempFolder();
        var path = folder.File("train-images-idx3-ubyte");
        WriteIdx(path, Idx.ImagesMagic, [3, 2, 3], Pixels[..17], gzip);
        var ex = Assert.Throws<DataFormatException>(() => Idx.ReadImages(path));
        Assert.Equal(path, ex.Path);
        Assert.Contains(path, ex.Message);
        Assert.Contains("truncated", ex.Message);
        Assert.Contains("3 images of 2×3 pixels", ex.Message);
    }

    [Fact]
    public void Idx_file_cut_inside_the_header_is_refused()
    {
        using var folder = new TempFolder();
        var path = folder.File("cut");
        File.WriteAllBytes(path, IdxBytes(Idx.ImagesMagic, [3, 2, 3], [])[..9]);
        Assert.Contains("header needs 16 bytes", Assert.Throws<DataFormatException>(() => Idx.ReadImages(path)).Message);
        File.WriteAllBytes(path, []);
        Assert.Contains("truncated", Assert.Throws<DataFormatException>(() => Idx.ReadLabels(path)).Message);
    }

    [Fact]
    public void Idx_extra_bytes_after_the_data_are_refused()
    {
        using var folder = new TempFolder();
        var path = folder.File("labels");
        WriteIdx(path, Idx.LabelsMagic, [2], Labels, gzip: false);
        Assert.Contains("1 unexpected bytes", Assert.Throws<DataFormatException>(() => Idx.ReadLabels(path)).Message);
        WriteIdx(path, Idx.LabelsMagic, [2], Labels, gzip: true);
        Assert.Contains("unexpected bytes", Assert.Throws<DataFormatException>(() => Idx.ReadLabels(path)).Message);
    }

    [Fact]
    public void Idx_wrong_magic_number_is_refused_with_both_numbers()
    {
        using var folder = new TempFolder();
        var labels = folder.File("labels.gz");
        WriteIdx(labels, Idx.LabelsMagic, [3], Labels, gzip: true);
        var ex = Assert.Throws<DataFormatException>(() => Idx.ReadImages(labels));
        Assert.Contains("magic number 0x00000801", ex.Message);
        Assert.Contains("0x00000803", ex.Message);
        Assert.Contains("swapped", ex.Message);

        var text = folder.File("text");
        File.WriteAllText(text, "hello, this is not an IDX file");
        Assert.Contains("not an IDX file", Assert.Throws<DataFormatException>(() => Idx.ReadLabels(text)).Message);
    }

    [Fact]
    public void Idx_label_count_different_from_image_count_is_refused()
    {
        using var folder = new TempFolder();
        var images = folder.File("images");
        var labels = folder.File("labels");
        WriteIdx(images, Idx.ImagesMagic, [3, 2, 3], Pixels, gzip: false);
        WriteIdx(labels, Idx.LabelsMagic, [2], Labels[..2], gzip: false);
        var ex = Assert.Throws<DataFormatException>(() => Idx.ReadDataset(images, labels));
        Assert.Equal(labels, ex.Path);
        Assert.Contains("2 labels", ex.Message);
        Assert.Contains("3 images", ex.Message);
        Assert.Contains(images, ex.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Idx_huge_declared_count_in_a_tiny_file_throws_quickly_without_allocating(bool gzip)
    {
        using var folder = new TempFolder();
        var path = folder.File("huge");
        // 2 000 000 000 images of 28×28 declared (1.5 TB), three bytes of pixels.
        WriteIdx(path, Idx.ImagesMagic, [2_000_000_000, 28, 28], [1, 2, 3], gzip);
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        var ex = Assert.Throws<DataFormatException>(() => Idx.ReadImages(path));
        clock.Stop();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        Assert.Contains("2000000000 images of 28×28 pixels", ex.Message);
        Assert.True(allocated < 4_000_000, $"reading the header allocated {allocated} bytes");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
    }

    [Fact]
    public void Idx_corrupt_gzip_data_is_refused_naming_the_file()
    {
        using var folder = new TempFolder();
        var path = folder.File("corrupt.gz");
        var bytes = Gzip(IdxBytes(Idx.LabelsMagic, [3], Labels));
        bytes[12] ^= 0xff;
        bytes[13] ^= 0xff;
        File.WriteAllBytes(path, bytes);
        var ex = Assert.ThrowsAny<FormatException>(() => Idx.ReadLabels(path));
        Assert.Contains(path, ex.Message);
    }

    // ---------------------------------------------------------------- CSV

    [Fact]
    public void Csv_reads_a_table_with_a_header_skipping_blank_lines()
    {
        using var folder = new TempFolder();
        var path = folder.File("table.csv");
        File.WriteAllText(path, "a,b,c\r\n1, 2.5 ,-3e-1\r\n\r\n4,NaN,6\r\n");
        var table = Csv.ReadTable(path, hasHeader: true);
        Assert.Equal(DType.Float64, table.DType);
        Assert.Equal(Shape.Of(2, 3), table.Shape);
        Assert.Equal(new[] { 1, 2.5, -0.3, 4, double.NaN, 6 }, table.ToArray());
    }

    [Fact]
    public void Csv_reads_other_separators_and_gzipped_files()
    {
        using var folder = new TempFolder();
        var path = folder.File("table.tsv.gz");
        File.WriteAllBytes(path, Gzip(Encoding.UTF8.GetBytes("1\t2\n3\t4\n")));
        Assert.Equal(new[] { 1.0, 2, 3, 4 }, Csv.ReadTable(path, separator: '\t').ToArray());
        var empty = folder.File("empty.csv");
        File.WriteAllText(empty, "x,y\n");
        Assert.Equal(Shape.Of(0, 0), Csv.ReadTable(empty, hasHeader: true).Shape);
    }

    [Fact]
    public void Csv_ragged_row_is_refused_with_file_line_and_column()
    {
        using var folder = new TempFolder();
        var path = folder.File("ragged.csv");
        File.WriteAllText(path, "1,2,3\n4,5\n");
        var ex = Assert.Throws<DataFormatException>(() => Csv.ReadTable(path));
        Assert.Equal(path, ex.Path);
        Assert.Equal(2, ex.Line);
        Assert.Equal(3, ex.Column);
        Assert.StartsWith($"{path}, line 2, column 3:", ex.Message);
        Assert.Contains("2 cells", ex.Message);

        File.WriteAllText(path, "1,2\n3,4\n5,6,7\n");
        ex = Assert.Throws<DataFormatException>(() => Csv.ReadTable(path));
        Assert.Equal(3, ex.Line);
        Assert.Equal(3, ex.Column);
    }

    [Fact]
    public void Csv_non_numeric_or_empty_cell_is_refused_with_file_line_and_column()
    {
        using var folder = new TempFolder();
        var path = folder.File("bad.csv");
        File.WriteAllText(path, "x,y\n1,2\n3,abc\n");
        var ex = Assert.Throws<DataFormatException>(() => Csv.ReadTable(path, hasHeader: true));
        Assert.Equal(3, ex.Line);
        Assert.Equal(2, ex.Column);
        Assert.Contains("'abc' is not a number", ex.Message);
        Assert.Contains(path, ex.Message);

        // A header read as data: the message suggests hasHeader.
        Assert.Contains("hasHeader", Assert.Throws<DataFormatException>(() => Csv.ReadTable(path)).Message);

        File.WriteAllText(path, "1,,3\n");
        ex = Assert.Throws<DataFormatException>(() => Csv.ReadTable(path));
        Assert.Equal((1, 2), (ex.Line, ex.Column));
        Assert.Contains("empty", ex.Message);
    }

    [Fact]
    public void Csv_labelled_table_splits_features_and_integer_labels()
    {
        using var folder = new TempFolder();
        var path = folder.File("labelled.csv");
        File.WriteAllText(path, "0.5,1.5,2\n3.5,4.5,0\n");
        var last = Csv.ReadLabelled(path);
        Assert.Equal(Shape.Of(2, 2), last.Features.Shape);
        Assert.Equal(new[] { 0.5, 1.5, 3.5, 4.5 }, last.Features.ToArray());
        Assert.Equal(new long[] { 2, 0 }, last.Labels.ToInt64Array());

        File.WriteAllText(path, "1,0.5,1.5\n0,3.5,4.5\n");
        var first = Csv.ReadLabelled(path, labelColumn: 0);
        Assert.Equal(new[] { 0.5, 1.5, 3.5, 4.5 }, first.Features.ToArray());
        Assert.Equal(new long[] { 1, 0 }, first.Labels.ToInt64Array());
    }

    [Fact]
    public void Csv_labelled_table_refuses_a_fractional_label_and_a_column_outside_the_table()
    {
        using var folder = new TempFolder();
        var path = folder.File("labelled.csv");
        File.WriteAllText(path, "1,2\n3,4.5\n");
        var ex = Assert.Throws<DataFormatException>(() => Csv.ReadLabelled(path));
        Assert.Equal((2, 2), (ex.Line, ex.Column));
        Assert.Contains("not an integer", ex.Message);
        Assert.Contains("outside the table", Assert.Throws<DataFormatException>(() => Csv.ReadLabelled(path, labelColumn: 5)).Message);
    }

    // ---------------------------------------------------------------- helpers

    private static int[] ClassCounts(Tensor labels)
    {
        var counts = new int[10];
        foreach (var label in labels.ToInt64Array())
        {
            counts[label]++;
        }

        return counts;
    }

    private static Dictionary<string, int> RowMultiset(TensorDataset data)
    {
        var features = data.Features.ToArray();
        var labels = data.Labels.ToInt64Array();
        var width = data.Features.Shape[1];
        var rows = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var r = 0; r < data.Count; r++)
        {
            var key = string.Join(",", features.Skip(r * width).Take(width)) + ":" + labels[r];
            rows[key] = rows.GetValueOrDefault(key) + 1;
        }

        return rows;
    }
}
