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
        string endedSmall = Path.Combine(staging, "s3", $"{int.MaxValue}.4567.partial"); // small files are staged in subfolders
        string runningSmall = Path.Combine(staging, "s3", ClientStateStore.StagedFileName());
        Directory.CreateDirectory(Path.Combine(staging, "s3"));
        foreach (string file in new[] { running, olderThanThisProcess, ended, unnamed, endedSmall, runningSmall })
        {
            File.WriteAllText(file, "staged");
        }

        // A link in the staging folder is not followed: what it leads to is not the state's.
        string elsewhere = Directory.CreateDirectory(temp.Sub("elsewhere")).FullName;
        string notStaged = Path.Combine(elsewhere, $"{int.MaxValue}.89ab.partial");
        File.WriteAllText(notStaged, "not the state's");
        Directory.CreateSymbolicLink(Path.Combine(staging, "s4"), elsewhere);

        // The same process id, but from before this process started: an earlier process that had it.
        File.SetLastWriteTimeUtc(olderThanThisProcess, new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc));

        using (ClientStateStore.Open(temp.Path))
        {
        }

        Assert.Equal([running, runningSmall], Directory.EnumerateFiles(staging, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint }).Order(StringComparer.Ordinal));
        Assert.True(File.Exists(notStaged));
    }
}
