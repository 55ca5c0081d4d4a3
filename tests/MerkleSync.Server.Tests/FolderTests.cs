namespace MerkleSync.Server.Tests;

/// <summary>Base of tests that need data folders: xUnit disposes the test class after each test, which deletes them (some hold tens of MB).</summary>
public abstract class FolderTests : IDisposable
{
    private readonly List<string> _folders = [];

    protected string NewFolder()
    {
        string folder = Directory.CreateTempSubdirectory("merklesync-data-").FullName;
        lock (_folders)
        {
            _folders.Add(folder);
        }

        return folder;
    }

    public void Dispose()
    {
        foreach (string folder in _folders)
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        GC.SuppressFinalize(this);
    }
}
