using MerkleSync.Core.ClientState;
using MerkleSync.Core.Tests.Support;

namespace MerkleSync.Core.Tests.ClientState;

public class FileStatTests
{
    [Fact]
    public void The_stat_of_an_open_file_is_the_stat_of_its_path_and_follows_the_file_not_the_path()
    {
        using var temp = new TempFolder();
        string path = DatasetFiles.Write(temp.Path, "f.bin", DatasetFiles.Random(1, 5000));
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        var before = FileStat.Of(path);
        Assert.Equal(before, FileStat.Of(handle, path));

        // Another file renamed over the path: the path now names it, the handle still the file read
        // (whose ctime moved as it lost its last link).
        string other = DatasetFiles.Write(temp.Path, "g.bin", DatasetFiles.Random(2, 7000));
        File.Move(other, path, overwrite: true);
        var opened = FileStat.Of(handle, path);
        Assert.Equal((before.Inode, before.Size), (opened.Inode, opened.Size));
        Assert.NotEqual(before.Inode, FileStat.Of(path).Inode);
    }
}
