using System.Buffers.Binary;

namespace TinyTorch.Data;

/// <summary>
/// Reads the IDX files of MNIST and Fashion-MNIST (plain or gzipped, detected by the gzip magic bytes
/// 1f 8b): a big-endian header — a magic number <c>0x00000803</c> (unsigned bytes, 3 dimensions) for
/// images or <c>0x00000801</c> (unsigned bytes, 1 dimension) for labels, then one 32-bit size per
/// dimension — followed by the bytes. Every size is checked against the file before anything large is
/// allocated; a bad file raises a <see cref="DataFormatException"/> naming the file and the problem.
/// </summary>
/// <remarks>
/// torchvision: <c>torchvision.datasets.MNIST</c> / <c>FashionMNIST</c> (<c>read_image_file</c>,
/// <c>read_label_file</c>). Fashion-MNIST on Debian: <c>apt-get install dataset-fashion-mnist</c>, then
/// <c>Idx.LoadFolder("/usr/share/datasets/fashion-mnist")</c>.
/// </remarks>
public static class Idx
{
    /// <summary>The magic number of an image file: unsigned bytes (0x08), 3 dimensions [N, rows, columns].</summary>
    /// <remarks>torchvision: <c>read_sn3_pascalvincent_tensor</c> checks the same number.</remarks>
    public const int ImagesMagic = 0x00000803;

    /// <summary>The magic number of a label file: unsigned bytes (0x08), 1 dimension [N].</summary>
    /// <remarks>torchvision: <c>read_sn3_pascalvincent_tensor</c> checks the same number.</remarks>
    public const int LabelsMagic = 0x00000801;

    // Deflate cannot expand data by more than about 1032:1, so a gzip file of L bytes holds at most this many times L.
    private const long MaxGzipRatio = 1032;

    /// <summary>
    /// The images of an IDX image file as float32 pixels scaled to [0, 1] (byte / 255): shape
    /// <c>[N, rows · columns]</c> (row-major pixels, ready for a linear layer, like <see cref="Digits"/>)
    /// or, with <paramref name="flatten"/> false, <c>[N, rows, columns]</c>.
    /// </summary>
    /// <param name="path">The file (e.g. <c>train-images-idx3-ubyte</c> or <c>train-images-idx3-ubyte.gz</c>).</param>
    /// <param name="flatten">Flatten each image to one row (default) instead of keeping rows × columns.</param>
    /// <returns>The images.</returns>
    /// <exception cref="DataFormatException">A wrong magic number, a truncated file, extra bytes after the data, or corrupt gzip data.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <remarks>torchvision: <c>FashionMNIST(root).data.float() / 255</c> (flattened: <c>.flatten(1)</c>).</remarks>
    public static Tensor ReadImages(string path, bool flatten = true)
    {
        ArgumentNullException.ThrowIfNull(path);
        var (bytes, dims) = Read(path, ImagesMagic);
        var pixels = new float[bytes.Length];
        for (var i = 0; i < bytes.Length; i++)
        {
            pixels[i] = bytes[i] / 255f;
        }

        var shape = flatten ? Shape.Of(dims[0], dims[1] * dims[2]) : Shape.Of(dims);
        return Tensor.Wrap(shape, pixels);
    }

    /// <summary>The labels of an IDX label file as an int64 tensor <c>[N]</c>.</summary>
    /// <param name="path">The file (e.g. <c>train-labels-idx1-ubyte</c> or <c>train-labels-idx1-ubyte.gz</c>).</param>
    /// <returns>The labels (0..255; 0..9 for MNIST).</returns>
    /// <exception cref="DataFormatException">A wrong magic number, a truncated file, extra bytes after the data, or corrupt gzip data.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <remarks>torchvision: <c>FashionMNIST(root).targets</c>.</remarks>
    public static Tensor ReadLabels(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var (bytes, dims) = Read(path, LabelsMagic);
        var labels = new long[bytes.Length];
        for (var i = 0; i < bytes.Length; i++)
        {
            labels[i] = bytes[i];
        }

        return Tensor.Wrap(Shape.Of(dims[0]), labels);
    }

    /// <summary>An image file and its label file as one data set (see <see cref="ReadImages"/>).</summary>
    /// <param name="imagesPath">The IDX image file.</param>
    /// <param name="labelsPath">The IDX label file.</param>
    /// <param name="flatten">Flatten each image to one row (default).</param>
    /// <returns>Float32 images and int64 labels.</returns>
    /// <exception cref="DataFormatException">Either file is malformed, or the label count differs from the image count.</exception>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <remarks>torchvision: <c>FashionMNIST(root, train=...)</c> as a whole.</remarks>
    public static TensorDataset ReadDataset(string imagesPath, string labelsPath, bool flatten = true)
    {
        ArgumentNullException.ThrowIfNull(imagesPath);
        ArgumentNullException.ThrowIfNull(labelsPath);
        var labels = ReadLabels(labelsPath);
        var images = ReadImages(imagesPath, flatten);
        if (labels.Shape[0] != images.Shape[0])
        {
            throw new DataFormatException(labelsPath, $"the file holds {labels.Shape[0]} labels but its image file {imagesPath} holds {images.Shape[0]} images; there must be exactly one label per image.");
        }

        return new TensorDataset(images, labels);
    }

    /// <summary>
    /// The training and test sets of an MNIST-style folder: <c>train-images-idx3-ubyte</c>,
    /// <c>train-labels-idx1-ubyte</c>, <c>t10k-images-idx3-ubyte</c> and <c>t10k-labels-idx1-ubyte</c>,
    /// each plain or with <c>.gz</c> (also found with a dot before <c>idx</c>, as some mirrors name them).
    /// </summary>
    /// <param name="folder">The folder, e.g. <c>/usr/share/datasets/fashion-mnist</c>.</param>
    /// <param name="flatten">Flatten each image to one row (default).</param>
    /// <returns>The training set (60000 images for MNIST) and the test set (10000).</returns>
    /// <exception cref="FileNotFoundException">The folder lacks one of the four files (the message lists the names tried).</exception>
    /// <exception cref="DataFormatException">A file is malformed, or a label count differs from its image count.</exception>
    /// <remarks>torchvision: <c>FashionMNIST(root, train=True)</c> and <c>FashionMNIST(root, train=False)</c>.</remarks>
    public static (TensorDataset Train, TensorDataset Test) LoadFolder(string folder, bool flatten = true)
    {
        ArgumentNullException.ThrowIfNull(folder);
        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"Idx.LoadFolder: the folder {folder} does not exist.");
        }

        var train = ReadDataset(Find(folder, "train-images", "idx3-ubyte"), Find(folder, "train-labels", "idx1-ubyte"), flatten);
        var test = ReadDataset(Find(folder, "t10k-images", "idx3-ubyte"), Find(folder, "t10k-labels", "idx1-ubyte"), flatten);
        return (train, test);
    }

    private static string Find(string folder, string stem, string kind)
    {
        string[] names = [$"{stem}-{kind}", $"{stem}-{kind}.gz", $"{stem}.{kind}", $"{stem}.{kind}.gz"];
        foreach (var name in names)
        {
            var path = Path.Combine(folder, name);
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new FileNotFoundException($"Idx.LoadFolder: {folder} has none of {string.Join(", ", names)}.", Path.Combine(folder, names[0]));
    }

    /// <summary>Reads and validates an unsigned-byte IDX file; returns its data and dimensions.</summary>
    private static (byte[] Data, int[] Dims) Read(string path, int expectedMagic)
    {
        var rank = expectedMagic & 0xff;
        var what = rank == 3 ? "image" : "label";
        using var stream = DataFile.OpenMaybeGzip(path, out var gzip, out var fileLength);
        try
        {
            var header = new byte[4 + 4 * rank];
            var got = stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
            if (got < 4)
            {
                throw new DataFormatException(path, $"the file is truncated: it holds {got} bytes{(gzip ? " after decompression" : "")}, fewer than the 4-byte magic number of an IDX file.");
            }

            var magic = BinaryPrimitives.ReadInt32BigEndian(header);
            if (magic != expectedMagic)
            {
                throw new DataFormatException(path, $"wrong magic number 0x{magic:X8}: an IDX {what} file starts with 0x{expectedMagic:X8} (unsigned bytes, {rank} dimension{(rank == 1 ? "" : "s")}){MagicHint(magic)}.");
            }

            if (got < header.Length)
            {
                throw new DataFormatException(path, $"the file is truncated: its header needs {header.Length} bytes (the magic number and {rank} dimension size{(rank == 1 ? "" : "s")}) but the file holds only {got}.");
            }

            var dims = new int[rank];
            UInt128 declared = 1;
            for (var d = 0; d < rank; d++)
            {
                var size = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4 + 4 * d));
                if (size > int.MaxValue)
                {
                    throw new DataFormatException(path, $"dimension {d} declares {size} entries, more than {int.MaxValue}; the header is corrupt.");
                }

                dims[d] = (int)size;
                declared *= size;
            }

            var described = rank == 3
                ? $"{dims[0]} images of {dims[1]}×{dims[2]} pixels ({declared} bytes after the {header.Length}-byte header)"
                : $"{dims[0]} labels ({declared} bytes after the {header.Length}-byte header)";
            if (rank == 3 && (long)dims[1] * dims[2] > int.MaxValue)
            {
                throw new DataFormatException(path, $"the header declares {dims[1]}×{dims[2]} pixels per image, too many for one row; the header is corrupt.");
            }

            if (gzip)
            {
                var bound = (UInt128)fileLength * MaxGzipRatio;
                if (declared > bound)
                {
                    throw new DataFormatException(path, $"the file is truncated or corrupt: its header declares {described}, but a gzip file of {fileLength} bytes cannot hold more than {bound}.");
                }
            }
            else
            {
                var available = (UInt128)(fileLength - header.Length);
                if (declared > available)
                {
                    throw new DataFormatException(path, $"the file is truncated: its header declares {described} but only {available} bytes follow.");
                }

                if (declared < available)
                {
                    throw new DataFormatException(path, $"the file has {available - declared} unexpected bytes after the data: its header declares {described} but {available} bytes follow.");
                }
            }

            if (declared > (UInt128)Array.MaxLength)
            {
                throw new DataFormatException(path, $"its header declares {described}, more than one array can hold ({Array.MaxLength} bytes).");
            }

            var data = new byte[(int)declared];
            var read = stream.ReadAtLeast(data, data.Length, throwOnEndOfStream: false);
            if (read < data.Length)
            {
                throw new DataFormatException(path, $"the file is truncated: its header declares {described} but only {read} bytes follow after decompression.");
            }

            if (gzip && stream.ReadByte() >= 0)
            {
                throw new DataFormatException(path, $"the file has unexpected bytes after the data: its header declares {described} but more follow after decompression.");
            }

            return (data, dims);
        }
        catch (InvalidDataException ex)
        {
            throw new DataFormatException(path, $"the gzip data is corrupt ({ex.Message}).", innerException: ex);
        }
    }

    private static string MagicHint(int magic) => magic switch
    {
        ImagesMagic => "; this is an image file: are the image and label files swapped?",
        LabelsMagic => "; this is a label file: are the image and label files swapped?",
        _ when (magic & unchecked((int)0xffff0000)) != 0 => "; IDX files start with two zero bytes, so this is not an IDX file (or it is corrupt)",
        _ => $"; this IDX file holds element type 0x{(magic >> 8) & 0xff:X2} with {magic & 0xff} dimensions, but only unsigned-byte images and labels are read",
    };
}
