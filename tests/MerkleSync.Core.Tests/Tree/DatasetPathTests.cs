using MerkleSync.Core.Errors;
using MerkleSync.Core.Tree;

namespace MerkleSync.Core.Tests.Tree;

public class DatasetPathTests
{
    [Theory]
    [InlineData("a.txt")]
    [InlineData("dir/sub/file.bin")]
    [InlineData(".hidden/x")]
    [InlineData("...")]
    [InlineData("name with spaces/ü.txt")]
    public void Valid_paths_are_accepted(string path) => Assert.Equal(path, DatasetPath.Normalize(path));

    [Theory]
    [InlineData("", "empty")]
    [InlineData("/etc/passwd", "absolute")]
    [InlineData("C:/x", "absolute")]
    [InlineData("a//b", "empty segment")]
    [InlineData("a/", "empty segment")]
    [InlineData("../up", "'..'")]
    [InlineData("a/./b", "'.'")]
    [InlineData("a\0b", "NUL")]
    public void Invalid_paths_get_a_clear_error(string path, string reason)
    {
        var error = Assert.Throws<InvalidInputException>(() => DatasetPath.Normalize(path));
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("data", "data")]
    [InlineData("./data/", "data")]
    [InlineData("/data//sub/./x.bin", "data/sub/x.bin")]
    [InlineData("", null)]
    [InlineData(".", null)]
    [InlineData("/", null)]
    [InlineData("././", null)]
    public void A_path_typed_on_a_command_line_drops_empty_and_dot_segments(string typed, string? expected) =>
        Assert.Equal(expected, DatasetPath.FromArgument(typed));

    [Fact]
    public void A_typed_path_with_a_dot_dot_segment_is_still_refused() =>
        Assert.Contains("'..'", Assert.Throws<InvalidInputException>(() => DatasetPath.FromArgument("./a/../b")).Message, StringComparison.Ordinal);

    [Fact]
    public void Decomposed_names_are_normalised_to_NFC()
    {
        string decomposed = "cafe\u0301.txt";

        Assert.Equal("caf\u00e9.txt", DatasetPath.Normalize(decomposed));
    }

    [Fact]
    public void Order_is_UTF8_byte_order_not_UTF16_order()
    {
        string supplementary = "\U0001F600"; // a surrogate pair in UTF-16, F0 9F 98 80 in UTF-8
        string privateUse = "\uE000";        // EE 80 80 in UTF-8

        Assert.True(DatasetPath.Compare(privateUse, supplementary) < 0);
        Assert.True(string.CompareOrdinal(privateUse, supplementary) > 0);
        Assert.True(DatasetPath.Compare("a", "a/b") < 0);
        Assert.True(DatasetPath.Compare("a/b", "a0") < 0);
    }

    [Theory]
    [InlineData("a", "a", true)]
    [InlineData("a/b", "a", true)]
    [InlineData("a/b/c", "a/b", true)]
    [InlineData("ab", "a", false)]
    [InlineData("a!b", "a", false)]
    [InlineData("a", "a/b", false)]
    [InlineData("b/a", "a", false)]
    public void A_path_is_at_or_under_a_prefix_only_at_a_folder_boundary(string path, string prefix, bool expected) =>
        Assert.Equal(expected, DatasetPath.IsAtOrUnder(path, prefix));
}
