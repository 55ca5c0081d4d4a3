namespace MerkleSync.Core.Collections;

/// <summary>Cuts a list into consecutive runs of bounded total size.</summary>
public static class Runs
{
    /// <summary>
    /// Consecutive runs of <paramref name="items"/>, each as long as it can be with its items'
    /// sizes adding up to at most <paramref name="budget"/>; an item larger than that is a run alone.
    /// </summary>
    public static IEnumerable<Range> Bounded<T>(IReadOnlyList<T> items, Func<T, long> size, long budget)
    {
        int start = 0;
        while (start < items.Count)
        {
            int end = start + 1;
            for (long total = size(items[start]); end < items.Count && total + size(items[end]) <= budget; end++)
            {
                total += size(items[end]);
            }

            yield return start..end;
            start = end;
        }
    }
}
