using MerkleSync.Core.ClientState;
using MerkleSync.Core.Tests.Support;
using RocksDbSharp;

namespace MerkleSync.Core.Tests.ClientState;

/// <summary>
/// A process killed while it created a directory's state leaves a database without all its column
/// families, or without even its CURRENT file. The next command must read it as empty and the
/// next writable open finish it: a re-run of a killed first push failed with "Column family not
/// found" for good.
/// </summary>
public class HalfCreatedStateTests
{
    [Fact]
    public void A_state_killed_before_its_column_families_reads_as_empty_and_the_next_writable_open_finishes_it()
    {
        using var temp = new TempFolder();
        string database = Path.Combine(temp.Path, ".merklesync", "state");
        Directory.CreateDirectory(database);
        using (RocksDb.Open(new DbOptions().SetCreateIfMissing(true), database))
        {
            // What was on disk when the kill came: the database and its default family only.
        }

        Assert.True(ClientStateStore.Exists(temp.Path));
        Assert.Null(ClientStateStore.StoredToken(temp.Path, "http://127.0.0.1:1/ds"));
        using (var read = ClientStateStore.OpenToRead(temp.Path))
        {
            Assert.Null(read.GetRemote("origin"));
            Assert.Empty(read.ListRemotes());
            Assert.Null(read.LastSynced());
        }

        using (var state = ClientStateStore.Open(temp.Path))
        {
            state.SetRemote("origin", "http://127.0.0.1:1/ds");
        }

        using var reopened = ClientStateStore.OpenToRead(temp.Path);
        Assert.Equal("http://127.0.0.1:1/ds", reopened.GetRemote("origin"));
    }

    [Fact]
    public void A_state_folder_without_a_finished_database_does_not_count_as_state()
    {
        using var temp = new TempFolder();
        string database = Path.Combine(temp.Path, ".merklesync", "state");
        Directory.CreateDirectory(database);
        File.WriteAllText(Path.Combine(database, "LOCK"), ""); // killed before RocksDB wrote CURRENT

        Assert.False(ClientStateStore.Exists(temp.Path));
        Assert.Null(ClientStateStore.StoredToken(temp.Path, "http://127.0.0.1:1/ds"));
        using (var state = ClientStateStore.Open(temp.Path))
        {
            state.SetRemote("origin", "http://127.0.0.1:1/ds");
        }

        Assert.True(ClientStateStore.Exists(temp.Path));
    }
}
