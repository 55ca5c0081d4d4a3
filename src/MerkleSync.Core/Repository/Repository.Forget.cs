using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Index;

namespace MerkleSync.Core.Repository;

/// <summary>
/// Which versions a forget keeps, besides every version a branch or tag points at: the newest
/// <paramref name="KeepLast"/> of each branch's history, and those published within
/// <paramref name="KeepWithin"/> of now. At least one of the two must be given.
/// </summary>
public sealed record ForgetPolicy(int? KeepLast, TimeSpan? KeepWithin)
{
    public void Validate()
    {
        if (KeepLast is null && KeepWithin is null)
        {
            throw new InvalidInputException("Say which versions to keep (--keep-last N, --keep-within DURATION, or both): a forget without a policy would keep only the versions branches and tags point at.");
        }

        if (KeepLast is < 1)
        {
            throw new InvalidInputException($"--keep-last must be 1 or more, not {KeepLast}: a branch's head is always kept.");
        }

        if (KeepWithin is { } within && within < TimeSpan.Zero)
        {
            throw new InvalidInputException($"--keep-within must not be negative, not {within}.");
        }
    }
}

/// <param name="Forgotten">The versions forgotten (or, in a dry run, that would be), newest first.</param>
/// <param name="Kept">How many versions the branches' and tags' histories keep.</param>
public sealed record ForgetReport(IReadOnlyList<(Hash Id, VersionRecord Record)> Forgotten, int Kept);

public sealed partial class Repository
{
    /// <summary>Meta key prefix of a forgotten version's marker (the prefix, then its record id; the value is when, in Unix milliseconds).</summary>
    private static readonly byte[] ForgottenPrefix = "forgotten/"u8.ToArray();

    /// <summary>
    /// Forgets the versions in the branches' and tags' histories that <paramref name="policy"/> does
    /// not keep, as <c>restic forget</c> does: their records go, and a marker says each was
    /// forgotten, so a history ends where it reaches one (a missing record that is not marked
    /// stays an error that <c>verify</c> reports). What only they reach is left for gc to remove.
    /// A version a branch or tag points at is always kept. Holds the publish lock, so no ref moves
    /// while the policy is applied.
    /// </summary>
    public async Task<ForgetReport> ForgetAsync(ForgetPolicy policy, bool dryRun, CancellationToken cancellationToken)
    {
        policy.Validate();
        await PublishLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            long keepFrom = policy.KeepWithin is { } within ? now - (long)Math.Min(within.TotalMilliseconds, now) : long.MaxValue;
            var kept = new HashSet<Hash>();
            var candidates = new Dictionary<Hash, VersionRecord>();
            foreach (var (name, head) in ListRefs())
            {
                int position = 0;
                foreach (var (id, record) in History(head))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    bool keep = position == 0 || (!name.IsTag && position < policy.KeepLast) || record.TimeUnixMs >= keepFrom;
                    if (keep)
                    {
                        kept.Add(id);
                    }
                    else
                    {
                        candidates[id] = record;
                    }

                    position++;
                }
            }

            var forgotten = candidates.Where(c => !kept.Contains(c.Key)).Select(c => (c.Key, c.Value))
                .OrderByDescending(v => v.Value.TimeUnixMs).ThenBy(v => v.Key.ToString(), StringComparer.Ordinal).ToList();
            if (!dryRun && forgotten.Count > 0)
            {
                byte[] when = new byte[sizeof(long)];
                System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(when, now);
                Db.WriteDurable(batch =>
                {
                    foreach (var (id, _) in forgotten)
                    {
                        batch.Delete(Families.Versions, Key(id));
                        batch.Put(Families.Meta, ForgottenKey(id), when);
                    }
                });
            }

            return new ForgetReport(forgotten, kept.Count);
        }
        finally
        {
            PublishLock.Release();
        }
    }

    /// <summary>Whether the version <paramref name="id"/> was forgotten (its record removed on purpose).</summary>
    public bool IsForgotten(Hash id) => Db.Get(Families.Meta, ForgottenKey(id)) is not null;

    /// <summary>The forgotten record whose id starts with <paramref name="hexPrefix"/> (lower-case hex), if exactly one does.</summary>
    private Hash? ForgottenWithPrefix(string hexPrefix)
    {
        var matches = Db.Scan(Families.Meta, ForgottenPrefix).Select(kv => Hash.FromBytes(kv.Key.AsSpan(ForgottenPrefix.Length)))
            .Where(id => id.ToString().StartsWith(hexPrefix, StringComparison.Ordinal)).Take(2).ToList();
        return matches.Count == 1 ? matches[0] : null;
    }

    private static byte[] ForgottenKey(Hash id) => [.. ForgottenPrefix, .. id.ToArray()];
}
