namespace MerkleSync.Testing;

/// <summary>Valid bytes damaged as links, disks and hostile peers damage them (shared by the test projects).</summary>
public static class Damage
{
    /// <summary>Replaced by random bytes, truncated, bits flipped, extended, or a run set to 0x00 or 0xFF (lengths and counts at their extremes).</summary>
    public static byte[] Apply(Random random, byte[] valid)
    {
        switch (random.Next(5))
        {
            case 0:
                return RandomBytes(random, random.Next(0, (2 * valid.Length) + 16));
            case 1:
                return valid[..random.Next(valid.Length)];
            case 2:
            {
                byte[] flipped = (byte[])valid.Clone();
                for (int i = random.Next(1, 5); i > 0; i--)
                {
                    flipped[random.Next(flipped.Length)] ^= (byte)(1 << random.Next(8));
                }

                return flipped;
            }

            case 3:
                return [.. valid, .. RandomBytes(random, random.Next(1, 64))];
            default:
            {
                byte[] smashed = (byte[])valid.Clone();
                int start = random.Next(smashed.Length);
                smashed.AsSpan(start, Math.Min(smashed.Length - start, random.Next(1, 9))).Fill(random.Next(2) == 0 ? (byte)0 : (byte)0xFF);
                return smashed;
            }
        }
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        byte[] bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
