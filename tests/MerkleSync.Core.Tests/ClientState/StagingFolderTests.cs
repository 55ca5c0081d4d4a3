using MerkleSync.Core.ClientState;
using MerkleSync.Core.Tests.Support;

namespace MerkleSync.Core.Tests.ClientState;

/// <summary>Opening the state clears what interrupted pulls staged, and spares what a running pull stages.</summary>
public class StagingFolderTests
{
    [Fact]
    public void Opening_the_state_deletes_files_of_ended_processes_and_keeps_those_of_running_ones()
    {
        using var temp = new TempFolder();
        string staging = ClientStateStore.StagingFolderOf(temp.Path);
        Directory.CreateDirectory(staging);
        string running = Path.Combine(staging, ClientStateStore.StagedFileName());
        string olderThanThisProcess = Path.Combine(staging, ClientStateStore.StagedFileName());
        string ended = Path.Combine(staging, $"{int.MaxValue}.0123.partial"); // no process has this id
        string unnamed = Path.Combine(staging, "0123456789abcdef.partial"); // staged by earlier builds
        foreach (string file in new[] { running, olderThanThisProcess, ended, unnamed })
        {
            File.WriteAllText(file, "staged");
        }

        // The same process id, but from before this process started: an earlier process that had it.
        File.SetLastWriteTimeUtc(olderThanThisProcess, new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc));

        using (ClientStateStore.Open(temp.Path))
        {
        }

        Assert.Equal([running], Directory.EnumerateFiles(staging));
    }
}
