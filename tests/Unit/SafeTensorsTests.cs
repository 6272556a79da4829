using System.Buffers.Binary;
using System.Text;
using TinyTorch.IO;

namespace TinyTorch.Tests;

/// <summary>
/// The safetensors format: round trips of every dtype, byte-for-byte agreement with the format's
/// reference layout, validation of bad files, and atomic writes.
/// </summary>
public class SafeTensorsTests
{
    /// <summary>A file as the spec describes it: 8-byte little-endian header length, the header, the data.</summary>
    private static byte[] FileBytes(string header, params byte[][] data)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new List<byte>();
        var length = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)json.Length);
        bytes.AddRange(length);
        bytes.AddRange(json);
        foreach (var d in data)
        {
            bytes.AddRange(d);
        }

        return bytes.ToArray();
    }

    private static byte[] LittleEndian(params float[] values) => values.SelectMany(BitConverter.GetBytes).ToArray();

    // ---------------------------------------------------------------- round trips

    [Fact]
    public void Every_dtype_round_trips_with_its_values_shape_and_metadata()
    {
        using var folder = new TempFolder();
        var path = folder.File("all.safetensors");
        var tensors = new Dictionary<string, Tensor>
        {
            ["f32"] = Tensor.FromArray(new[] { 1.5f, -0f, float.NaN, float.PositiveInfinity, float.Epsilon, -3.25f }, 2, 3),
            ["f64"] = Tensor.FromArray(new[] { Math.PI, -1e-300, double.NegativeInfinity, 0.1 }, 2, 1, 2),
            ["i32"] = Tensor.FromArray(new[] { int.MinValue, -1, 0, int.MaxValue }, 4),
            ["i64"] = Tensor.FromArray(new[] { long.MinValue, 42L, long.MaxValue }, 3, 1),
            ["scalar"] = new Tensor(2.5f),
            ["empty"] = Tensor.Zeros(Shape.Of(0), DType.Float64),
            ["empty2d"] = Tensor.Zeros(Shape.Of(2, 0, 3), DType.Int64),
        };
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcödé \"quoted\"" };
        SafeTensors.Save(path, tensors, metadata);

        var (loaded, loadedMetadata) = SafeTensors.Load(path);
        Assert.Equal(tensors.Keys.Order(StringComparer.Ordinal), loaded.Keys);
        foreach (var (name, tensor) in tensors)
        {
            Assert.Equal(tensor.DType, loaded[name].DType);
            Assert.Equal(tensor.Shape, loaded[name].Shape);
        }

        // Bit-exact: compare the raw bits so that NaN, -0 and denormals count.
        Assert.Equal(tensors["f32"].ToSingleArray().Select(BitConverter.SingleToInt32Bits), loaded["f32"].ToSingleArray().Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(tensors["f64"].ToArray().Select(BitConverter.DoubleToInt64Bits), loaded["f64"].ToArray().Select(BitConverter.DoubleToInt64Bits));
        Assert.Equal(tensors["i32"].ToInt64Array(), loaded["i32"].ToInt64Array());
        Assert.Equal(tensors["i64"].ToInt64Array(), loaded["i64"].ToInt64Array());
        Assert.Equal(Shape.Scalar, loaded["scalar"].Shape);
        Assert.Equal(2.5, loaded["scalar"].Item());
        Assert.Equal(0, loaded["empty2d"].Size);
        Assert.Equal(metadata.OrderBy(p => p.Key, StringComparer.Ordinal), loadedMetadata);
    }

    [Fact]
    public void A_file_without_tensors_or_metadata_round_trips()
    {
        using var folder = new TempFolder();
        var path = folder.File("empty.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor>());
        var (tensors, metadata) = SafeTensors.Load(path);
        Assert.Empty(tensors);
        Assert.Empty(metadata);
    }

    // ---------------------------------------------------------------- the format, byte for byte

    [Fact]
    public void One_float32_tensor_gives_the_reference_bytes()
    {
        // The format's reference example: "attn.0", F32, shape [1, 2, 3], values 0..5. The header is
        // exactly 64 bytes (already a multiple of 8, so no padding), then 24 bytes of little-endian floats.
        var expected = FileBytes(
            """{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}""",
            LittleEndian(0, 1, 2, 3, 4, 5));
        Assert.Equal(64, BinaryPrimitives.ReadInt64LittleEndian(expected));
        Assert.Equal(8 + 64 + 24, expected.Length);

        var tensors = new Dictionary<string, Tensor> { ["attn.0"] = Tensor.FromArray(new float[] { 0, 1, 2, 3, 4, 5 }, 1, 2, 3) };
        Assert.Equal(expected, SafeTensors.Serialize(tensors));

        using var folder = new TempFolder();
        var path = folder.File("attn.safetensors");
        SafeTensors.Save(path, tensors);
        Assert.Equal(expected, File.ReadAllBytes(path));
    }

    [Fact]
    public void The_header_is_padded_with_spaces_to_a_multiple_of_eight()
    {
        // "attn0" is one byte shorter, so the 65-byte JSON gets 7 spaces: header length 72.
        var expected = FileBytes(
            """{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       """,
            LittleEndian(0, 1, 2, 3, 4, 5));
        Assert.Equal(72, BinaryPrimitives.ReadInt64LittleEndian(expected));
        var tensors = new Dictionary<string, Tensor> { ["attn0"] = Tensor.FromArray(new float[] { 0, 1, 2, 3, 4, 5 }, 1, 1, 2, 3) };
        Assert.Equal(expected, SafeTensors.Serialize(tensors));

        // No tensors: "{}" and 6 spaces. Metadata only: __metadata__ is the first key.
        Assert.Equal(FileBytes("{}      "), SafeTensors.Serialize(new Dictionary<string, Tensor>()));
        Assert.Equal(
            FileBytes("""{"__metadata__":{"framework":"pt"}}     """),
            SafeTensors.Serialize(new Dictionary<string, Tensor>(), new Dictionary<string, string> { ["framework"] = "pt" }));
    }

    [Fact]
    public void Tensors_are_laid_out_by_descending_dtype_then_name_so_every_tensor_is_aligned()
    {
        var tensors = new Dictionary<string, Tensor>
        {
            ["a_i32"] = new Tensor(new[] { 1 }),
            ["z_f32"] = new Tensor(new[] { 1f, 2f, 3f }),
            ["b_f32"] = new Tensor(new[] { 4f }),
            ["c_f64"] = new Tensor(new[] { 5.0 }),
            ["d_i64"] = new Tensor(new long[] { 6 }),
        };
        var bytes = SafeTensors.Serialize(tensors);
        var headerLength = (int)BinaryPrimitives.ReadInt64LittleEndian(bytes);
        var header = Encoding.UTF8.GetString(bytes, 8, headerLength);
        Assert.Equal(
            """{"d_i64":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"c_f64":{"dtype":"F64","shape":[1],"data_offsets":[8,16]},"b_f32":{"dtype":"F32","shape":[1],"data_offsets":[16,20]},"z_f32":{"dtype":"F32","shape":[3],"data_offsets":[20,32]},"a_i32":{"dtype":"I32","shape":[1],"data_offsets":[32,36]}}""",
            header.TrimEnd(' '));
        Assert.Equal(0, headerLength % 8);
        Assert.Equal(6L, BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(8 + headerLength)));
    }

    [Fact]
    public void A_hand_built_file_with_offsets_in_any_order_and_unpadded_header_loads()
    {
        // Written by another tool: keys in any order, tensors not sorted, no padding, metadata last.
        var bytes = FileBytes(
            """{"b":{"dtype":"I64","shape":[],"data_offsets":[8,16]},"a":{"data_offsets":[0,8],"shape":[2],"dtype":"F32"},"__metadata__":{"k":"v"}}""",
            LittleEndian(1.5f, -2f),
            BitConverter.GetBytes(7L));
        var (tensors, metadata) = SafeTensors.Deserialize(bytes, "hand-built");
        Assert.Equal(new[] { 1.5, -2.0 }, tensors["a"].ToArray());
        Assert.Equal(DType.Float32, tensors["a"].DType);
        Assert.Equal(Shape.Scalar, tensors["b"].Shape);
        Assert.Equal(7L, tensors["b"].GetInt64Flat(0));
        Assert.Equal("v", metadata["k"]);
    }

    [Fact]
    public void Half_precision_and_small_integer_dtypes_are_widened_on_load()
    {
        // F16 1.0 = 0x3C00, -2.0 = 0xC000; BF16 0.5 = 0x3F00, -3.0 = 0xC040 (the top half of a float32).
        var f16 = new byte[] { 0x00, 0x3C, 0x00, 0xC0 };
        var bf16 = new byte[] { 0x00, 0x3F, 0x40, 0xC0 };
        var bytes = FileBytes(
            """{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"bh":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]},"u":{"dtype":"U8","shape":[2],"data_offsets":[8,10]},"s":{"dtype":"I8","shape":[1],"data_offsets":[10,11]},"t":{"dtype":"BOOL","shape":[1],"data_offsets":[11,12]}}""",
            f16, bf16, [200, 7], [0xFF], [1]);
        var (tensors, _) = SafeTensors.Deserialize(bytes, "widened");
        Assert.Equal(new[] { 1.0, -2.0 }, tensors["h"].ToArray());
        Assert.Equal(DType.Float32, tensors["h"].DType);
        Assert.Equal(new[] { 0.5, -3.0 }, tensors["bh"].ToArray());
        Assert.Equal(new long[] { 200, 7 }, tensors["u"].ToInt64Array());
        Assert.Equal(DType.Int32, tensors["u"].DType);
        Assert.Equal(new long[] { -1 }, tensors["s"].ToInt64Array());
        Assert.Equal(new long[] { 1 }, tensors["t"].ToInt64Array());
    }

    // ---------------------------------------------------------------- bad files

    private static string ExpectInvalid(byte[] bytes, params string[] fragments)
    {
        using var folder = new TempFolder();
        var path = folder.File("bad.safetensors");
        File.WriteAllBytes(path, bytes);
        var ex = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path));
        Assert.StartsWith(path + ": ", ex.Message);
        foreach (var fragment in fragments)
        {
            Assert.Contains(fragment, ex.Message);
        }

        return ex.Message;
    }

    private static byte[] Valid() => FileBytes("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", LittleEndian(1, 2));

    [Fact]
    public void A_file_shorter_than_eight_bytes_is_refused()
    {
        ExpectInvalid([], "0 bytes long");
        ExpectInvalid([1, 2, 3], "3 bytes long", "8-byte");
    }

    [Fact]
    public void Truncated_data_is_refused()
    {
        var valid = Valid();
        ExpectInvalid(valid[..^4], "'w'", "beyond the data section", "truncated");
    }

    [Fact]
    public void A_truncated_header_is_refused()
    {
        ExpectInvalid(Valid()[..20], "header length is", "follow the 8-byte length");
    }

    [Fact]
    public void A_header_length_larger_than_the_file_is_refused()
    {
        var bytes = Valid();
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1000);
        ExpectInvalid(bytes, "1000 bytes", "truncated");
    }

    [Theory]
    [InlineData(100_000_001UL)]
    [InlineData(ulong.MaxValue)]
    [InlineData(1UL << 62)]
    public void An_absurd_header_length_is_refused_without_allocating_it(ulong length)
    {
        var bytes = Valid();
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, length);
        var before = GC.GetAllocatedBytesForCurrentThread();
        ExpectInvalid(bytes, length.ToString(), "limit");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 10_000_000);
    }

    [Theory]
    [InlineData("""{"w":{"dtype":"F32",""")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},}""")]
    [InlineData("not json")]
    [InlineData("")]
    public void A_header_that_is_not_valid_json_is_refused(string header)
    {
        ExpectInvalid(FileBytes(header, LittleEndian(1, 2)), "not valid JSON");
    }

    [Theory]
    [InlineData("""[1,2]""", "must be a JSON object")]
    [InlineData("""{"w":[0,8]}""", "'w' must be an object")]
    [InlineData("""{"w":{"shape":[2],"data_offsets":[0,8]}}""", "no dtype")]
    [InlineData("""{"w":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}}""", "'F8_E4M3'")]
    [InlineData("""{"w":{"dtype":"F32","data_offsets":[0,8]}}""", "no shape")]
    [InlineData("""{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}""", "[-2]")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}""", "[2.5]")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2]}}""", "data_offsets")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}""", "0 ≤ begin ≤ end")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2],"data_offsets":["0","8"]}}""", "data_offsets")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8,9]}}""", "data_offsets")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", "'w' twice")]
    [InlineData("""{"__metadata__":{"k":1},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", "'k' must be a string")]
    [InlineData("""{"__metadata__":"text","w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", "__metadata__ must be a JSON object")]
    [InlineData("""{"w":{"dtype":"F32","shape":[65536,65536],"data_offsets":[0,8]}}""", "more than the 2147483647 elements")]
    public void A_header_with_a_bad_entry_is_refused(string header, string fragment)
    {
        ExpectInvalid(FileBytes(header, LittleEndian(1, 2)), fragment);
    }

    [Fact]
    public void Offsets_outside_the_data_section_are_refused()
    {
        ExpectInvalid(FileBytes("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}""", LittleEndian(1, 2)), "[8, 16]", "beyond the data section, which holds 8 bytes");
    }

    [Fact]
    public void Overlapping_offsets_are_refused()
    {
        ExpectInvalid(
            FileBytes("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", LittleEndian(1, 2, 3)),
            "'a'", "'b'", "overlap");
    }

    [Fact]
    public void Offsets_that_leave_a_gap_or_trailing_bytes_are_refused()
    {
        ExpectInvalid(FileBytes("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", LittleEndian(1, 2)), "bytes 0 to 4", "no tensor");
        ExpectInvalid(FileBytes("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", LittleEndian(1, 2)), "holds 8 bytes", "cover only the first 4", "4 unexpected bytes");
    }

    [Fact]
    public void A_byte_count_that_does_not_match_the_shape_is_refused()
    {
        ExpectInvalid(
            FileBytes("""{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", LittleEndian(1, 2)),
            "'w'", "F32", "[3]", "take 12 bytes", "span 8 bytes");
        ExpectInvalid(
            FileBytes("""{"w":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}""", LittleEndian(1, 2)),
            "take 16 bytes");
    }

    [Fact]
    public void A_missing_file_throws_file_not_found()
    {
        using var folder = new TempFolder();
        Assert.Throws<FileNotFoundException>(() => SafeTensors.Load(folder.File("none.safetensors")));
    }

    // ---------------------------------------------------------------- atomic writes

    [Fact]
    public void Saving_replaces_the_previous_file_and_leaves_no_temporary_file()
    {
        using var folder = new TempFolder();
        var path = folder.File("model.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["w"] = new Tensor(new[] { 1.0 }) });
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["w"] = new Tensor(new[] { 2.0, 3.0 }) });
        Assert.Equal(new[] { 2.0, 3.0 }, SafeTensors.Load(path).Tensors["w"].ToArray());
        Assert.Equal(["model.safetensors"], folder.FileNames());
    }

    [Fact]
    public void A_save_refused_for_bad_arguments_leaves_the_previous_file_intact()
    {
        using var folder = new TempFolder();
        var path = folder.File("model.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["w"] = new Tensor(new[] { 1.0 }) });
        var before = File.ReadAllBytes(path);

        var reserved = new Dictionary<string, Tensor> { ["w"] = new Tensor(new[] { 9.0 }), [SafeTensors.MetadataKey] = new Tensor(new[] { 9.0 }) };
        Assert.Contains("reserved", Assert.Throws<ArgumentException>(() => SafeTensors.Save(path, reserved)).Message);
        var withNull = new Dictionary<string, Tensor> { ["w"] = null! };
        Assert.Contains("'w' is null", Assert.Throws<ArgumentException>(() => SafeTensors.Save(path, withNull)).Message);
        var nullMetadata = new Dictionary<string, string> { ["k"] = null! };
        Assert.Throws<ArgumentException>(() => SafeTensors.Save(path, new Dictionary<string, Tensor>(), nullMetadata));

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(["model.safetensors"], folder.FileNames());
    }

    [Fact]
    public void A_write_that_fails_halfway_leaves_the_previous_file_intact_and_no_temporary_file()
    {
        using var folder = new TempFolder();
        var path = folder.File("model.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["w"] = new Tensor(new[] { 1.0 }) });
        var before = File.ReadAllBytes(path);

        // A crash after half the bytes are out (the disk fills up, the process is stopped, …).
        var ex = Assert.Throws<IOException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write(new byte[1000]);
            throw new IOException("disk full");
        }));
        Assert.Equal("disk full", ex.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(["model.safetensors"], folder.FileNames());
    }

    [Fact]
    public void Saving_onto_a_folder_or_into_a_missing_folder_fails_without_leaving_files()
    {
        using var folder = new TempFolder();
        var tensors = new Dictionary<string, Tensor> { ["w"] = new Tensor(new[] { 1.0 }) };
        Directory.CreateDirectory(folder.File("taken"));
        Assert.Throws<IOException>(() => SafeTensors.Save(folder.File("taken"), tensors));
        Assert.ThrowsAny<IOException>(() => SafeTensors.Save(Path.Combine(folder.Root, "missing", "model.safetensors"), tensors));
        Assert.Empty(folder.FileNames());
        Assert.Equal([folder.File("taken")], Directory.GetDirectories(folder.Root));
    }

    [Fact]
    public void A_temporary_file_is_written_beside_the_target_and_renamed()
    {
        using var folder = new TempFolder();
        var path = folder.File("model.safetensors");
        string? seen = null;
        AtomicFile.Write(path, stream =>
        {
            seen = ((FileStream)stream).Name;
            stream.Write(Valid());
        });
        Assert.NotNull(seen);
        Assert.StartsWith(path + ".tmp-", seen);
        Assert.Equal(Path.GetDirectoryName(path), Path.GetDirectoryName(seen));
        Assert.False(File.Exists(seen));
        Assert.Equal(new[] { 1.0, 2.0 }, SafeTensors.Load(path).Tensors["w"].ToArray());
    }
}
