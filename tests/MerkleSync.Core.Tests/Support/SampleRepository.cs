using MerkleSync.Core.Sync;

namespace MerkleSync.Core.Tests.Support;

/// <summary>
/// The start of most push and pull tests: a temporary folder holding an empty file:// repository
/// ("repo") and the sample dataset written into one folder, with the repository opened as a remote.
/// </summary>
internal sealed class SampleRepository : IAsyncDisposable
{
    private readonly TempFolder _temp = new();

    private SampleRepository(string sampleFolder) => Source = _temp.Sub(sampleFolder);

    /// <summary>The folder the sample was written into.</summary>
    public string Source { get; }

    public IRemote Remote { get; private set; } = null!;

    /// <summary>Another folder in the temporary folder (not created).</summary>
    public string Sub(string name) => _temp.Sub(name);

    public static async Task<SampleRepository> CreateAsync(string sampleFolder = "source")
    {
        var sample = new SampleRepository(sampleFolder);
        DatasetFiles.WriteSample(sample.Source);
        string repo = sample.Sub("repo");
        Core.Repository.Repository.Init(repo).Dispose();
        sample.Remote = await RemoteUrl.OpenAsync(repo, CancellationToken.None);
        return sample;
    }

    public async ValueTask DisposeAsync()
    {
        if (Remote is not null)
        {
            await Remote.DisposeAsync();
        }

        _temp.Dispose();
    }
}
