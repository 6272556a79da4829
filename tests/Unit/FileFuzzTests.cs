using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using TinyTorch.Data;
using TinyTorch.IO;
using TinyTorch.Nn;
using TinyTorch.Optim;

namespace TinyTorch.Tests;

/// <summary>
/// The checkpoint and data-set readers against fuzzed files (README "Guarantees"): random truncations,
/// random byte flips, inserted bytes and huge declared sizes. Every read either succeeds or throws the
/// documented exception (<see cref="InvalidDataException"/> for safetensors and checkpoints,
/// <see cref="DataFormatException"/> for IDX and CSV) — never an out-of-memory, an overflow, an index
/// error, or a hang — and a failed checkpoint load leaves every parameter and the optimizer's state as it was.
/// </summary>
public class FileFuzzTests
{
    internal enum Mutation { Truncate, Flip, Insert, HugeSize }

    internal sealed record Edit(Mutation Kind, int Position, int Value, int Count);

    private static readonly Gen<Edit> Edits =
        from kind in Gen.Frequency(
            (3, Gen.Constant(Mutation.Truncate)), (5, Gen.Constant(Mutation.Flip)),
            (1, Gen.Constant(Mutation.Insert)), (2, Gen.Constant(Mutation.HugeSize)))
        from position in Gen.Choose(0, int.MaxValue - 1)
        from value in Gen.Choose(1, 255)
        from count in Gen.Choose(1, 4)
        select new Edit(kind, position, value, count);

    /// <summary>Applies one edit; <paramref name="huge"/> knows where the format declares its sizes.</summary>
    private static byte[] Apply(byte[] bytes, Edit e, Func<byte[], int, byte[]> huge)
    {
        var b = (byte[])bytes.Clone();
        switch (e.Kind)
        {
            case Mutation.Truncate:
                return b[..(e.Position % b.Length)];
            case Mutation.Flip:
                var random = new Random(e.Position);
                for (var i = 0; i < e.Count; i++)
                {
                    b[random.Next(b.Length)] ^= (byte)e.Value;
                }
                return b;
            case Mutation.Insert:
                var at = e.Position % (b.Length + 1);
                return [.. b[..at], .. Enumerable.Repeat((byte)e.Value, e.Count), .. b[at..]];
            default:
                return huge(b, e.Position);
        }
    }

    private static void Fuzz(byte[] valid, Func<byte[], int, byte[]> huge, Type documented, Action<string> read, Action? afterFailure, int tests, string fileName)
    {
        using var folder = new TempFolder();
        var path = folder.File(fileName);
        File.WriteAllBytes(path, valid);
        read(path); // the unmutated file is valid
        var outcomes = new Dictionary<string, int>();
        Prop.ForAll(Gen.ArrayOf(Edits, 1).Select(a => a[0]).ToArbitrary(), (Edit e) =>
        {
            File.WriteAllBytes(path, Apply(valid, e, huge));
            var thrown = Record.Exception(() => read(path));
            if (thrown is not null)
            {
                Assert.True(documented.IsInstanceOfType(thrown),
                    $"{e}: {thrown.GetType().Name} instead of {documented.Name}: {thrown.Message}\n{thrown.StackTrace}");
                Assert.Contains(Path.GetFileName(path), thrown.Message);
                afterFailure?.Invoke();
            }
            var key = thrown is null ? "loaded" : "refused";
            outcomes[key] = outcomes.GetValueOrDefault(key) + 1;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(tests));
        Assert.True(outcomes.GetValueOrDefault("refused") > tests / 4, $"too few refusals: {string.Join(", ", outcomes)}");
    }

    // ---------------------------------------------------------------- checkpoints (safetensors)

    private static byte[] WithHeader(byte[] file, Func<string, string> edit)
    {
        var length = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
        var header = Encoding.UTF8.GetBytes(edit(Encoding.UTF8.GetString(file, 8, length)));
        var result = new byte[8 + header.Length + file.Length - 8 - length];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)header.Length);
        header.CopyTo(result, 8);
        file.AsSpan(8 + length).CopyTo(result.AsSpan(8 + header.Length));
        return result;
    }

    /// <summary>Huge declared sizes in a safetensors file: the header length, a shape, or a data offset.</summary>
    private static byte[] HugeSafeTensors(byte[] file, int choice)
    {
        switch (choice % 4)
        {
            case 0:
                var b = (byte[])file.Clone();
                BinaryPrimitives.WriteUInt64LittleEndian(b, choice % 8 == 0 ? ulong.MaxValue : (1UL << 40) + (ulong)choice);
                return b;
            case 1:
                return WithHeader(file, h => ReplaceFirst(h, "\"shape\":[", "\"shape\":[2147483647,2147483647,"));
            case 2:
                return WithHeader(file, h => ReplaceFirst(h, "\"data_offsets\":[", "\"data_offsets\":[18446744073709551000,"));
            default:
                return WithHeader(file, h => ReplaceFirst(h, "\"shape\":[", "\"shape\":[-1,"));
        }
    }

    private static string ReplaceFirst(string text, string what, string with)
    {
        var i = text.IndexOf(what, StringComparison.Ordinal);
        Assert.True(i >= 0, $"'{what}' not found in the header {text}");
        return text[..i] + with + text[(i + what.Length)..];
    }

    private static ulong[] Bits(Tensor t) => t.ToArray().Select(v => (ulong)BitConverter.DoubleToInt64Bits(v)).ToArray();

    private static void FuzzCheckpoints(int tests)
    {
        var random = new Random(5);
        var model = new Sequential(new Linear(3, 4, random: random), new Tanh(), new Linear(4, 2, random: random));
        var optimizer = new Adam(model.Parameters(), lr: 0.01);
        var x = new Variable(new float[,] { { 1, 2, 3 }, { -1, 0.5f, 2 } }, requiresGrad: false);
        (model.Forward(x) * model.Forward(x)).Sum().Backward();
        optimizer.Step();

        // The file holds other values than the model, so a partial load would show.
        var other = new Sequential(new Linear(3, 4, random: new Random(9)), new Tanh(), new Linear(4, 2, random: new Random(10)));
        var otherOptimizer = new Adam(other.Parameters(), lr: 0.01);
        (other.Forward(x) * other.Forward(x)).Sum().Backward();
        otherOptimizer.Step();
        otherOptimizer.Step();
        using var folder = new TempFolder();
        var source = folder.File("source.safetensors");
        Checkpoint.Save(source, other, otherOptimizer);
        var valid = File.ReadAllBytes(source);

        var parameters = model.Parameters().Select(p => p.Data).ToArray();
        var bits = parameters.Select(Bits).ToArray();
        var state = optimizer.StateTensors().ToDictionary(p => p.Key, p => Bits(p.Value));
        void Unchanged()
        {
            var now = model.Parameters();
            for (var i = 0; i < now.Count; i++)
            {
                Assert.Same(parameters[i], now[i].Data);
                Assert.Equal(bits[i], Bits(now[i].Data));
            }
            var nowState = optimizer.StateTensors();
            Assert.Equal(state.Keys.Order(), nowState.Keys.Order());
            Assert.All(state, p => Assert.Equal(p.Value, Bits(nowState[p.Key])));
        }
        Fuzz(valid, HugeSafeTensors, typeof(InvalidDataException), path =>
        {
            try
            {
                Checkpoint.Load(path, model, optimizer);
            }
            catch (ArgumentException e) when (e.Message.Contains("optimizer", StringComparison.OrdinalIgnoreCase) || e.Message.Contains("Adam", StringComparison.Ordinal))
            {
                // A documented outcome too: state that does not fit the optimizer. Rethrown as the file error it is.
                throw new InvalidDataException($"{Path.GetFileName(path)}: {e.Message}", e);
            }
            // A flip inside the tensor data can leave a valid file: then everything is loaded, and becomes the new baseline.
            parameters = model.Parameters().Select(p => p.Data).ToArray();
            bits = parameters.Select(Bits).ToArray();
            state = optimizer.StateTensors().ToDictionary(p => p.Key, p => Bits(p.Value));
        }, Unchanged, tests, "model.safetensors");
    }

    [Fact]
    public void A_safetensors_header_with_invalid_utf8_is_refused_as_invalid_data()
    {
        // Regression found by the fuzzer: invalid UTF-8 in a tensor name passed the JSON parser and threw
        // InvalidOperationException when the name was read.
        using var folder = new TempFolder();
        var path = folder.File("bad-utf8.safetensors");
        byte[] header = [.. "{\""u8, 0xC3, 0x28, .. "\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}"u8];
        var file = new byte[8 + header.Length + 4];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)header.Length);
        header.CopyTo(file, 8);
        File.WriteAllBytes(path, file);
        var ex = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path));
        Assert.Contains("bad-utf8.safetensors", ex.Message);
        Assert.Contains("UTF-8", ex.Message);
    }

    [Fact]
    public void Fuzzed_checkpoints_load_completely_or_throw_InvalidDataException_and_change_nothing() => FuzzCheckpoints(300);

    [Fact]
    [Trait("Category", "Long")]
    public void Long_fuzzed_checkpoints_load_completely_or_throw_InvalidDataException_and_change_nothing() => FuzzCheckpoints(20_000);

    // ---------------------------------------------------------------- IDX

    private static byte[] Idx(int magic, uint[] dims, byte[] data)
    {
        var bytes = new byte[4 + 4 * dims.Length + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        for (var i = 0; i < dims.Length; i++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4 + 4 * i), dims[i]);
        }
        data.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    private static byte[] Gzip(byte[] bytes)
    {
        using var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Optimal))
        {
            gz.Write(bytes);
        }
        return output.ToArray();
    }

    /// <summary>Huge dimensions in an IDX header (at byte 4 + 4·d), optionally gzipped afterwards.</summary>
    private static Func<byte[], int, byte[]> HugeIdx(int rank, bool gzip, byte[] plain) => (_, choice) =>
    {
        var b = (byte[])plain.Clone();
        var d = choice % rank;
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(4 + 4 * d), choice % 3 == 0 ? uint.MaxValue : 0x7FFFFFFFu - (uint)(choice % 1000));
        return gzip ? Gzip(b) : b;
    };

    private static void FuzzIdx(int tests)
    {
        var pixels = Enumerable.Range(0, 5 * 4 * 3).Select(i => (byte)(i * 7)).ToArray();
        var images = Idx(TinyTorch.Data.Idx.ImagesMagic, [5, 4, 3], pixels);
        var labels = Idx(TinyTorch.Data.Idx.LabelsMagic, [5], [1, 2, 3, 4, 5]);
        Fuzz(images, HugeIdx(3, false, images), typeof(DataFormatException), p => TinyTorch.Data.Idx.ReadImages(p), null, tests, "images-idx3-ubyte");
        Fuzz(labels, HugeIdx(1, false, labels), typeof(DataFormatException), p => TinyTorch.Data.Idx.ReadLabels(p), null, tests, "labels-idx1-ubyte");
        Fuzz(Gzip(images), HugeIdx(3, true, images), typeof(DataFormatException), p => TinyTorch.Data.Idx.ReadImages(p), null, tests, "images-idx3-ubyte.gz");
    }

    [Fact]
    public void Fuzzed_idx_files_plain_and_gzipped_read_or_throw_DataFormatException() => FuzzIdx(200);

    [Fact]
    [Trait("Category", "Long")]
    public void Long_fuzzed_idx_files_plain_and_gzipped_read_or_throw_DataFormatException() => FuzzIdx(10_000);

    // ---------------------------------------------------------------- CSV

    private static void FuzzCsv(int tests)
    {
        var csv = Encoding.UTF8.GetBytes("a,b,label\n0.5,1.25,0\n-3,4e2,1\n7.5,0,2\n1,2,1\n");
        // A huge size in a text file: a number with a thousand digits, or one enormous line.
        byte[] Huge(byte[] b, int choice) => choice % 2 == 0
            ? Encoding.UTF8.GetBytes("a,b,label\n" + new string('9', 1000) + ",1,0\n")
            : Encoding.UTF8.GetBytes("a,b,label\n" + string.Join(",", Enumerable.Repeat("1", 100_000)) + "\n1,2,0\n");
        Fuzz(csv, Huge, typeof(DataFormatException), p => Csv.ReadLabelled(p, hasHeader: true), null, tests, "table.csv");
    }

    [Fact]
    public void Fuzzed_csv_files_read_or_throw_DataFormatException() => FuzzCsv(200);

    [Fact]
    [Trait("Category", "Long")]
    public void Long_fuzzed_csv_files_read_or_throw_DataFormatException() => FuzzCsv(10_000);
}
