using FsCheck;
using FsCheck.Xunit;
using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Verification;

namespace MerkleSync.Core.Tests.Verification;

public class PackSubsetTests
{
    [Property(MaxTest = 300)]
    public void Groups_1_to_t_of_t_take_every_pack_exactly_once(byte[] seed, PositiveInt groups)
    {
        int t = (groups.Get % 40) + 1;
        var id = Hash.FromBytes(System.Security.Cryptography.SHA256.HashData(seed));
        int taken = Enumerable.Range(1, t).Count(n => PackSubset.Parse($"{n}/{t}").Includes(id));
        Assert.Equal(1, taken);
    }

    [Fact]
    public void The_group_is_the_first_16_hex_digits_modulo_t()
    {
        var id = Hash.Parse("000000000000000a" + new string('f', 48));
        Assert.True(PackSubset.Parse("1/5").Includes(id)); // 10 % 5 == 0: group 1
        Assert.False(PackSubset.Parse("2/5").Includes(id));
        Assert.True(PackSubset.Parse("4/7").Includes(id)); // 10 % 7 == 3: group 4
    }

    [Fact]
    public void A_percentage_takes_about_that_share_and_a_new_one_each_time()
    {
        var ids = Enumerable.Range(0, 20_000).Select(i => Hash.FromBytes(System.Security.Cryptography.SHA256.HashData(BitConverter.GetBytes(i)))).ToArray();
        var first = PackSubset.Parse("10%");
        var second = PackSubset.Parse("10%");
        int inFirst = ids.Count(first.Includes), inSecond = ids.Count(second.Includes), inBoth = ids.Count(i => first.Includes(i) && second.Includes(i));

        Assert.InRange(inFirst, 1_700, 2_300); // 2 000 expected; the bounds are over 7 standard deviations out
        Assert.InRange(inSecond, 1_700, 2_300);
        Assert.InRange(inBoth, 50, 400); // independent draws share ~1%, not all 10%
        Assert.All(ids, i => Assert.True(PackSubset.Parse("100%").Includes(i)));
        Assert.Equal(ids.Count(first.Includes), inFirst); // the same pack is always answered the same way
    }

    [Theory]
    [InlineData("0/3")]
    [InlineData("4/3")]
    [InlineData("1/0")]
    [InlineData("1/")]
    [InlineData("/3")]
    [InlineData("a/b")]
    [InlineData("-1/3")]
    [InlineData("0%")]
    [InlineData("101%")]
    [InlineData("ten%")]
    [InlineData("3")]
    [InlineData("")]
    public void Anything_else_is_refused_with_what_was_expected(string text)
    {
        var e = Assert.Throws<InvalidInputException>(() => PackSubset.Parse(text));
        Assert.Contains("expected n/t", e.Message, StringComparison.Ordinal);
    }
}
