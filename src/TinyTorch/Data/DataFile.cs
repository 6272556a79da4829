using System.IO.Compression;
using System.Text;

namespace TinyTorch.Data;

/// <summary>Opening data files that may be gzipped (detected by their first two bytes, 1f 8b).</summary>
internal static class DataFile
{
    /// <summary>A read-only file stream with a large buffer, for sequential reading.</summary>
    public static FileStream OpenRead(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16, FileOptions.SequentialScan);

    /// <summary>True when a seekable stream starts with the gzip magic bytes; the position is restored.</summary>
    public static bool StartsWithGzipMagic(Stream stream)
    {
        var start = stream.Position;
        Span<byte> magic = stackalloc byte[2];
        var read = stream.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        stream.Position = start;
        return read == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }

    /// <summary>The file's bytes, decompressed when it is gzipped; <paramref name="gzip"/> tells which.</summary>
    public static Stream OpenMaybeGzip(string path, out bool gzip, out long fileLength)
    {
        var file = OpenRead(path);
        try
        {
            fileLength = file.Length;
            gzip = StartsWithGzipMagic(file);
            return gzip ? new GZipStream(file, CompressionMode.Decompress, leaveOpen: false) : file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>A text reader over the file (UTF-8 unless a byte-order mark says otherwise), decompressing gzip.</summary>
    public static StreamReader OpenText(string path) =>
        new(OpenMaybeGzip(path, out _, out _), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
}
