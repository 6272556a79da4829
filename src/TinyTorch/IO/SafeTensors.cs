using System.Buffers.Binary;
using System.Collections.ObjectModel;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace TinyTorch.IO;

/// <summary>
/// Reads and writes named tensors in the safetensors format, so PyTorch (and JAX, MLX, candle, …)
/// can read our tensors and we can read theirs: an 8-byte little-endian header length N, N bytes of
/// UTF-8 JSON — <c>{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, …,
/// "__metadata__": {"key": "value"}}</c>, padded with spaces to a multiple of 8 — and then the raw
/// little-endian, row-major data of every tensor, at offsets relative to the end of the header.
/// </summary>
/// <remarks>
/// Python: <c>safetensors.torch.save_file(tensors, path, metadata)</c> and <c>load_file(path)</c>.
/// Files are laid out as the reference implementation lays them out (tensors by descending dtype,
/// I64, F64, F32, I32, then by name; <c>__metadata__</c> first in the header), so the same tensors
/// give the same bytes. Loading validates the whole header against the file before reading any data.
/// </remarks>
public static class SafeTensors
{
    /// <summary>The largest header accepted, 100,000,000 bytes (the reference implementation's limit).</summary>
    /// <remarks>safetensors: <c>MAX_HEADER_SIZE</c>.</remarks>
    public const int MaxHeaderLength = 100_000_000;

    /// <summary>The reserved header key of the string-to-string metadata.</summary>
    /// <remarks>safetensors: <c>__metadata__</c>.</remarks>
    public const string MetadataKey = "__metadata__";

    /// <summary>How a file dtype is read: its element size and the tensor dtype it becomes (wider types are widened).</summary>
    private static readonly Dictionary<string, (int Size, DType Target)> Readable = new(StringComparer.Ordinal)
    {
        ["F64"] = (8, DType.Float64),
        ["F32"] = (4, DType.Float32),
        ["I64"] = (8, DType.Int64),
        ["I32"] = (4, DType.Int32),
        ["F16"] = (2, DType.Float32),
        ["BF16"] = (2, DType.Float32),
        ["U32"] = (4, DType.Int64),
        ["I16"] = (2, DType.Int32),
        ["U16"] = (2, DType.Int32),
        ["I8"] = (1, DType.Int32),
        ["U8"] = (1, DType.Int32),
        ["BOOL"] = (1, DType.Int32),
    };

    /// <summary>
    /// Writes <paramref name="tensors"/> (and optional <paramref name="metadata"/>) to
    /// <paramref name="path"/> atomically: the file is written to <c>path + ".tmp-&lt;random&gt;"</c> in
    /// the same folder, flushed to disk, then renamed over <paramref name="path"/>, so a crash or an
    /// error never leaves a half-written file (the previous file stays intact and the temporary file is removed).
    /// </summary>
    /// <param name="path">The file to create or replace.</param>
    /// <param name="tensors">The tensors by name (float32 → F32, float64 → F64, int32 → I32, int64 → I64).</param>
    /// <param name="metadata">Free-form strings stored under <c>__metadata__</c>; null writes none.</param>
    /// <exception cref="ArgumentException">A tensor or metadata value is null, or a tensor is named <c>__metadata__</c>.</exception>
    /// <exception cref="IOException">The file cannot be written (the previous file is left intact).</exception>
    /// <remarks>Python: <c>safetensors.torch.save_file(tensors, path, metadata=metadata)</c>.</remarks>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var prepared = Prepare(tensors, metadata);
        AtomicFile.Write(path, stream => Write(stream, prepared));
    }

    /// <summary>
    /// Reads every tensor and the metadata of a safetensors file. The whole header is validated first
    /// (header length, JSON, every entry's dtype, shape and offsets, offsets that tile the data section
    /// exactly); nothing is returned from a bad file. F32, F64, I32 and I64 are read as they are; F16
    /// and BF16 are widened to float32, I8, U8, I16, U16 and BOOL to int32, U32 to int64.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <returns>The tensors by name (ordinal order) and the metadata (empty when there is none).</returns>
    /// <exception cref="InvalidDataException">The file is malformed (the message names the file and the problem).</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <remarks>Python: <c>safetensors.torch.load_file(path)</c> and <c>safe_open(path, "pt").metadata()</c>.</remarks>
    public static (IReadOnlyDictionary<string, Tensor> Tensors, IReadOnlyDictionary<string, string> Metadata) Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16, FileOptions.SequentialScan);
        return Read(stream, stream.Length, path);
    }

    /// <summary>The bytes of a safetensors file holding <paramref name="tensors"/> (for tests and in-memory use).</summary>
    internal static byte[] Serialize(IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var prepared = Prepare(tensors, metadata);
        using var stream = new MemoryStream();
        Write(stream, prepared);
        return stream.ToArray();
    }

    /// <summary>Reads a safetensors file from bytes; <paramref name="source"/> names it in errors.</summary>
    internal static (IReadOnlyDictionary<string, Tensor> Tensors, IReadOnlyDictionary<string, string> Metadata) Deserialize(byte[] bytes, string source)
    {
        using var stream = new MemoryStream(bytes, writable: false);
        return Read(stream, bytes.Length, source);
    }

    // ------------------------------------------------------------------ writing

    private sealed record Entry(string Name, byte[] NameUtf8, Tensor Tensor, long Begin, long End);

    private sealed record Prepared(byte[] Header, Entry[] Entries);

    private static string CodeOf(DType dtype) => dtype switch
    {
        DType.Float32 => "F32",
        DType.Float64 => "F64",
        DType.Int32 => "I32",
        DType.Int64 => "I64",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "safetensors: unknown dtype."),
    };

    private static int SizeOf(DType dtype) => dtype is DType.Float64 or DType.Int64 ? 8 : 4;

    // The reference implementation sorts by descending dtype in its enum order (… I32 < F32 < F64 < I64 …).
    private static int LayoutRank(DType dtype) => dtype switch
    {
        DType.Int64 => 3,
        DType.Float64 => 2,
        DType.Float32 => 1,
        _ => 0,
    };

    private static Prepared Prepare(IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var items = new List<(string Name, byte[] Utf8, Tensor Tensor)>(tensors.Count);
        foreach (var (name, tensor) in tensors)
        {
            if (name == MetadataKey)
            {
                throw new ArgumentException($"SafeTensors.Save: the name {MetadataKey} is reserved for the metadata; rename that tensor.", nameof(tensors));
            }

            if (tensor is null)
            {
                throw new ArgumentException($"SafeTensors.Save: tensor '{name}' is null.", nameof(tensors));
            }

            items.Add((name, Encoding.UTF8.GetBytes(name), tensor));
        }

        SortedDictionary<string, string>? sortedMetadata = null;
        if (metadata is not null)
        {
            sortedMetadata = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (var (key, value) in metadata)
            {
                sortedMetadata[key] = value ?? throw new ArgumentException($"SafeTensors.Save: metadata value '{key}' is null; metadata maps strings to strings.", nameof(metadata));
            }
        }

        items.Sort((a, b) =>
        {
            var byType = LayoutRank(b.Tensor.DType).CompareTo(LayoutRank(a.Tensor.DType));
            return byType != 0 ? byType : a.Utf8.AsSpan().SequenceCompareTo(b.Utf8);
        });

        var entries = new Entry[items.Count];
        long offset = 0;
        for (var i = 0; i < items.Count; i++)
        {
            var (name, utf8, tensor) = items[i];
            var length = (long)tensor.Size * SizeOf(tensor.DType);
            entries[i] = new Entry(name, utf8, tensor, offset, offset + length);
            offset += length;
        }

        return new Prepared(Header(entries, sortedMetadata), entries);
    }

    private static byte[] Header(Entry[] entries, SortedDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is not null)
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata)
                {
                    json.WriteString(key, value);
                }

                json.WriteEndObject();
            }

            foreach (var entry in entries)
            {
                json.WriteStartObject(entry.Name);
                json.WriteString("dtype", CodeOf(entry.Tensor.DType));
                json.WriteStartArray("shape");
                foreach (var size in entry.Tensor.Shape)
                {
                    json.WriteNumberValue(size);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(entry.Begin);
                json.WriteNumberValue(entry.End);
                json.WriteEndArray();
                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        // Pad with spaces to a multiple of 8, as the reference implementation does, so the data is aligned.
        while (buffer.Length % 8 != 0)
        {
            buffer.WriteByte((byte)' ');
        }

        return buffer.ToArray();
    }

    private static void Write(Stream stream, Prepared prepared)
    {
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)prepared.Header.Length);
        stream.Write(length);
        stream.Write(prepared.Header);
        foreach (var entry in prepared.Entries)
        {
            var tensor = entry.Tensor;
            switch (tensor.Data)
            {
                case float[] values:
                    WriteLittleEndian(stream, values.AsSpan(0, tensor.Size));
                    break;
                case double[] values:
                    WriteLittleEndian(stream, values.AsSpan(0, tensor.Size));
                    break;
                case int[] values:
                    WriteLittleEndian(stream, values.AsSpan(0, tensor.Size));
                    break;
                case long[] values:
                    WriteLittleEndian(stream, values.AsSpan(0, tensor.Size));
                    break;
                default:
                    throw new InvalidOperationException($"SafeTensors.Save: tensor '{entry.Name}' holds {tensor.Data.GetType().Name} data, which has no safetensors dtype.");
            }
        }
    }

    private static void WriteLittleEndian<T>(Stream stream, ReadOnlySpan<T> values)
        where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(values);
        if (BitConverter.IsLittleEndian)
        {
            stream.Write(bytes);
            return;
        }

        var swapped = bytes.ToArray();
        SwapEach(swapped, bytes.Length / Math.Max(values.Length, 1));
        stream.Write(swapped);
    }

    private static void SwapEach(Span<byte> bytes, int size)
    {
        for (var i = 0; i + size <= bytes.Length; i += size)
        {
            bytes.Slice(i, size).Reverse();
        }
    }

    // ------------------------------------------------------------------ reading

    private sealed record Info(string Name, string Code, int ElementSize, DType Target, int[] Shape, int Count, long Begin, long End);

    private static InvalidDataException Bad(string source, string problem, Exception? inner = null) =>
        new($"{source}: {problem}", inner);

    private static (IReadOnlyDictionary<string, Tensor> Tensors, IReadOnlyDictionary<string, string> Metadata) Read(Stream stream, long length, string source)
    {
        if (length < 8)
        {
            throw Bad(source, $"the file is {length} bytes long, shorter than the 8-byte header length that starts a safetensors file (it is truncated or not a safetensors file).");
        }

        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > MaxHeaderLength)
        {
            throw Bad(source, $"the header length is {headerLength} bytes, more than the limit of {MaxHeaderLength} bytes (100 MB): the file is corrupt or not a safetensors file.");
        }

        if (headerLength > (ulong)(length - 8))
        {
            throw Bad(source, $"the header length is {headerLength} bytes but only {length - 8} bytes follow the 8-byte length: the file is truncated or not a safetensors file.");
        }

        var header = new byte[(int)headerLength];
        stream.ReadExactly(header);
        var dataLength = length - 8 - (long)headerLength;
        var (infos, metadata) = ParseHeader(header, source);
        var ordered = ValidateLayout(infos, dataLength, source);

        var tensors = new SortedDictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var info in ordered)
            {
                tensors[info.Name] = ReadTensor(stream, info);
            }
        }
        catch (EndOfStreamException ex)
        {
            throw Bad(source, "the file ended before the data its header describes (was it changed while being read?).", ex);
        }

        return (new ReadOnlyDictionary<string, Tensor>(tensors), new ReadOnlyDictionary<string, string>(metadata));
    }

    private static (List<Info> Infos, SortedDictionary<string, string> Metadata) ParseHeader(byte[] header, string source)
    {
        // The JSON parser checks the structure but leaves invalid UTF-8 inside names and strings to the
        // first read of them, which would then throw InvalidOperationException: check the encoding first.
        if (!System.Text.Unicode.Utf8.IsValid(header))
        {
            throw Bad(source, "the header is not valid UTF-8 text (safetensors headers are UTF-8 JSON).");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header);
        }
        catch (JsonException ex)
        {
            throw Bad(source, $"the header is not valid JSON ({ex.Message}).", ex);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Bad(source, $"the header must be a JSON object of tensor entries, but it is {Describe(root)}.");
            }

            var infos = new List<Info>();
            var metadata = new SortedDictionary<string, string>(StringComparer.Ordinal);
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in root.EnumerateObject())
            {
                if (!names.Add(property.Name))
                {
                    throw Bad(source, $"the header names '{property.Name}' twice.");
                }

                if (property.Name == MetadataKey)
                {
                    ReadMetadata(property.Value, metadata, source);
                }
                else
                {
                    infos.Add(ParseEntry(property.Name, property.Value, source));
                }
            }

            return (infos, metadata);
        }
    }

    private static void ReadMetadata(JsonElement value, SortedDictionary<string, string> metadata, string source)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Bad(source, $"{MetadataKey} must be a JSON object of strings, but it is {Describe(value)}.");
        }

        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
            {
                throw Bad(source, $"{MetadataKey} entry '{item.Name}' must be a string, but it is {Describe(item.Value)}.");
            }

            if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
            {
                throw Bad(source, $"{MetadataKey} names '{item.Name}' twice.");
            }
        }
    }

    private static Info ParseEntry(string name, JsonElement value, string source)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Bad(source, $"the entry of tensor '{name}' must be an object with dtype, shape and data_offsets, but it is {Describe(value)}.");
        }

        if (!value.TryGetProperty("dtype", out var dtype) || dtype.ValueKind != JsonValueKind.String)
        {
            throw Bad(source, $"tensor '{name}' has no dtype string (such as \"dtype\": \"F32\").");
        }

        var code = dtype.GetString()!;
        if (!Readable.TryGetValue(code, out var kind))
        {
            throw Bad(source, $"tensor '{name}' has dtype '{code}', which TinyTorch does not read (it reads F32, F64, I32 and I64, and widens F16, BF16, U32, I16, U16, I8, U8 and BOOL).");
        }

        if (!value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
        {
            throw Bad(source, $"tensor '{name}' has no shape array (such as \"shape\": [2, 3]).");
        }

        var shape = new int[shapeElement.GetArrayLength()];
        var index = 0;
        foreach (var size in shapeElement.EnumerateArray())
        {
            if (size.ValueKind != JsonValueKind.Number || !size.TryGetInt64(out var d) || d < 0 || d > int.MaxValue)
            {
                throw Bad(source, $"tensor '{name}' has shape {shapeElement.GetRawText()}; every size must be an integer from 0 to {int.MaxValue}.");
            }

            shape[index++] = (int)d;
        }

        long count = 1;
        foreach (var d in shape)
        {
            if (d != 0 && count > int.MaxValue / d)
            {
                throw Bad(source, $"tensor '{name}' has shape {shapeElement.GetRawText()}, more than the {int.MaxValue} elements a TinyTorch tensor can hold.");
            }

            count *= Math.Max(d, 1);
        }

        if (shape.Contains(0))
        {
            count = 0;
        }

        if (!value.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2
            || !TryGetOffset(offsets[0], out var begin) || !TryGetOffset(offsets[1], out var end) || begin > end)
        {
            var found = value.TryGetProperty("data_offsets", out var raw) ? raw.GetRawText() : "nothing";
            throw Bad(source, $"tensor '{name}' needs \"data_offsets\": [begin, end] with integers 0 ≤ begin ≤ end, but has {found}.");
        }

        var bytes = count * kind.Size;
        if (end - begin != bytes)
        {
            throw Bad(source, $"tensor '{name}' has dtype {code} and shape [{string.Join(", ", shape)}], which take {bytes} bytes, but its data_offsets [{begin}, {end}] span {end - begin} bytes.");
        }

        return new Info(name, code, kind.Size, kind.Target, shape, (int)count, begin, end);
    }

    private static bool TryGetOffset(JsonElement element, out long offset)
    {
        offset = 0;
        if (element.ValueKind != JsonValueKind.Number || !element.TryGetUInt64(out var value) || value > long.MaxValue)
        {
            return false;
        }

        offset = (long)value;
        return true;
    }

    /// <summary>Checks that the tensors' byte ranges tile the data section exactly; returns them in file order.</summary>
    private static List<Info> ValidateLayout(List<Info> infos, long dataLength, string source)
    {
        foreach (var info in infos)
        {
            if (info.End > dataLength)
            {
                throw Bad(source, $"tensor '{info.Name}' has data_offsets [{info.Begin}, {info.End}], beyond the data section, which holds {dataLength} bytes: the file is truncated or its header is wrong.");
            }
        }

        var ordered = infos.OrderBy(i => i.Begin).ThenBy(i => i.End).ThenBy(i => i.Name, StringComparer.Ordinal).ToList();
        long covered = 0;
        Info? previous = null;
        foreach (var info in ordered)
        {
            if (info.Begin < covered)
            {
                throw Bad(source, $"tensors '{previous!.Name}' (data_offsets [{previous.Begin}, {previous.End}]) and '{info.Name}' ([{info.Begin}, {info.End}]) overlap.");
            }

            if (info.Begin > covered)
            {
                throw Bad(source, $"bytes {covered} to {info.Begin} of the data section belong to no tensor (the next one, '{info.Name}', starts at {info.Begin}); the offsets must cover the data section without gaps.");
            }

            covered = info.End;
            previous = info;
        }

        if (covered != dataLength)
        {
            throw Bad(source, $"the data section holds {dataLength} bytes but the tensors cover only the first {covered}: {dataLength - covered} unexpected bytes follow.");
        }

        return ordered;
    }

    private static Tensor ReadTensor(Stream stream, Info info)
    {
        var shape = Shape.Of(info.Shape);
        var n = info.Count;
        switch (info.Code)
        {
            case "F32":
            {
                var values = new float[n];
                ReadLittleEndian<float>(stream, values);
                return Tensor.Wrap(shape, values);
            }

            case "F64":
            {
                var values = new double[n];
                ReadLittleEndian<double>(stream, values);
                return Tensor.Wrap(shape, values);
            }

            case "I32":
            {
                var values = new int[n];
                ReadLittleEndian<int>(stream, values);
                return Tensor.WrapAs(DType.Int32, shape, values);
            }

            case "I64":
            {
                var values = new long[n];
                ReadLittleEndian<long>(stream, values);
                return Tensor.Wrap(shape, values);
            }
        }

        var raw = new byte[n * info.ElementSize];
        stream.ReadExactly(raw);
        switch (info.Code)
        {
            case "F16":
                return Tensor.Wrap(shape, Widen(n, i => (float)BinaryPrimitives.ReadHalfLittleEndian(raw.AsSpan(2 * i))));
            case "BF16":
                return Tensor.Wrap(shape, Widen(n, i => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(raw.AsSpan(2 * i)) << 16)));
            case "U32":
                return Tensor.Wrap(shape, Widen(n, i => (long)BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(4 * i))));
            case "I16":
                return Tensor.WrapAs(DType.Int32, shape, Widen(n, i => (int)BinaryPrimitives.ReadInt16LittleEndian(raw.AsSpan(2 * i))));
            case "U16":
                return Tensor.WrapAs(DType.Int32, shape, Widen(n, i => (int)BinaryPrimitives.ReadUInt16LittleEndian(raw.AsSpan(2 * i))));
            case "I8":
                return Tensor.WrapAs(DType.Int32, shape, Widen(n, i => (int)(sbyte)raw[i]));
            case "U8":
                return Tensor.WrapAs(DType.Int32, shape, Widen(n, i => (int)raw[i]));
            default: // BOOL
                return Tensor.WrapAs(DType.Int32, shape, Widen(n, i => raw[i] != 0 ? 1 : 0));
        }
    }

    private static T[] Widen<T>(int count, Func<int, T> element)
    {
        var values = new T[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = element(i);
        }

        return values;
    }

    private static void ReadLittleEndian<T>(Stream stream, Span<T> values)
        where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(values);
        stream.ReadExactly(bytes);
        if (!BitConverter.IsLittleEndian && values.Length > 0)
        {
            SwapEach(bytes, bytes.Length / values.Length);
        }
    }

    private static string Describe(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => element.ValueKind.ToString(),
    };
}
