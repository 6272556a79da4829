using System.Runtime.CompilerServices;

namespace TinyTorch.Tests;

/// <summary>A fresh folder under the system temp folder for one test, deleted (with its files) on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder([CallerMemberName] string test = "")
    {
        Root = Path.Combine(Path.GetTempPath(), "tinytorch-tests", $"{test}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Root);
    }

    /// <summary>The folder.</summary>
    public string Root { get; }

    /// <summary>The path of <paramref name="name"/> inside the folder.</summary>
    public string File(string name) => Path.Combine(Root, name);

    /// <summary>The names of the files in the folder, sorted.</summary>
    public string[] FileNames() => Directory.GetFiles(Root).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // Leave it for the OS temp cleaner rather than fail a test.
        }
        catch (UnauthorizedAccessException)
        {
            // Same.
        }
    }
}
