using MerkleSync.Core.Errors;
using MerkleSync.Core.Hashing;
using MerkleSync.Core.Index;

namespace MerkleSync.Core.Repository;

/// <summary>
/// Which versions a forget keeps, besides every version a branch or tag points at: the newest
/// <paramref name="KeepLast"/> of each branch's history; those published within
/// <paramref name="KeepWithin"/> of now; and, as restic's <c>--keep-daily</c> and the like, the
/// newest of each of a branch's last <paramref name="KeepDaily"/> days (UTC), ISO weeks, months,
/// hours and years that have a version. At least one rule must be given. With <paramref name="Branches"/> the rules
/// apply to those branches' histories only, and every version another branch or a tag reaches is kept.
/// </summary>
public sealed record ForgetPolicy(int? KeepLast, TimeSpan? KeepWithin, int? KeepDaily = null, int? KeepWeekly = null, int? KeepMonthly = null, IReadOnlyList<string>? Branches = null,
    int? KeepHourly = null, int? KeepYearly = null)
{
    public void Validate()
    {
        if (KeepLast is null && KeepWithin is null && KeepHourly is null && KeepDaily is null && KeepWeekly is null && KeepMonthly is null && KeepYearly is null)
        {
            throw new InvalidInputException("Say which versions to keep (--keep-last N, --keep-within DURATION, --keep-hourly/--keep-daily/--keep-weekly/--keep-monthly/--keep-yearly N): a forget without a policy would keep only the versions branches and tags point at.");
        }

        foreach (var (count, option) in new[] { (KeepLast, "--keep-last"), (KeepHourly, "--keep-hourly"), (KeepDaily, "--keep-daily"), (KeepWeekly, "--keep-weekly"), (KeepMonthly, "--keep-monthly"), (KeepYearly, "--keep-yearly") })
        {
            if (count is < 1)
            {
                throw new InvalidInputException($"{option} must be 1 or more, not {count}: leave it out to keep none by that rule (a branch's head is always kept).");
            }
        }

        if (KeepWithin is { } within && within < TimeSpan.Zero)
        {
            throw new InvalidInputException($"--keep-within must not be negative, not {within}.");
        }
    }

    /// <summary>
    /// Applies the policy to the histories of every ref (newest first; a tag's keeps only its
    /// target, and the time rule; one the policy's branches leave out keeps all): the versions no
    /// rule keeps, and those kept with why (as <c>restic forget</c> lists them), each newest first.
    /// </summary>
    internal (List<(Hash Id, VersionRecord Record)> Forgotten, List<KeptVersion> Kept) Select(
        IEnumerable<(RefName Name, IEnumerable<(Hash Id, VersionRecord Record)> History)> histories, long nowUnixMs, CancellationToken cancellationToken)
    {
        long keepFrom = KeepWithin is { } within ? nowUnixMs - (long)Math.Min(within.TotalMilliseconds, nowUnixMs) : long.MaxValue;
        var rules = CalendarRules().ToArray();
        var kept = new Dictionary<Hash, (VersionRecord Record, SortedSet<string> Reasons)>();
        var candidates = new Dictionary<Hash, VersionRecord>();
        foreach (var (name, history) in histories)
        {
            bool isTag = name.IsTag, applies = Branches is null || (!isTag && Branches.Contains(name.Name));
            string refName = name.ToString();
            int position = 0;
            var periods = rules.Select(_ => new HashSet<int>()).ToArray(); // per rule, the periods that kept a version
            foreach (var (id, record) in history)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var reasons = new List<string>();
                if (position++ == 0)
                {
                    reasons.Add(refName);
                }

                if (!applies)
                {
                    reasons.Add($"in {refName}'s history"); // no rule judges it
                }
                else if (!isTag)
                {
                    if (position <= KeepLast)
                    {
                        reasons.Add("last");
                    }

                    // The newest version of each period, for the rule's first periods that have one.
                    for (int r = 0; r < rules.Length; r++)
                    {
                        if (periods[r].Count < rules[r].Count && periods[r].Add(rules[r].Period(record.Time.UtcDateTime)))
                        {
                            reasons.Add(rules[r].Name);
                        }
                    }
                }

                if (applies && record.TimeUnixMs >= keepFrom)
                {
                    reasons.Add("within");
                }

                if (reasons.Count == 0)
                {
                    candidates[id] = record;
                }
                else if (kept.TryGetValue(id, out var known))
                {
                    known.Reasons.UnionWith(reasons);
                }
                else
                {
                    kept[id] = (record, new SortedSet<string>(reasons, StringComparer.Ordinal));
                }
            }
        }

        var forgotten = candidates.Where(c => !kept.ContainsKey(c.Key)).Select(c => (c.Key, c.Value)).OrderBy(v => v, NewestFirst).ToList();
        var keptVersions = kept.Select(k => (k.Key, k.Value.Record)).OrderBy(v => v, NewestFirst)
            .Select(v => new KeptVersion(v.Key, v.Record, [.. kept[v.Key].Reasons])).ToList();
        return (forgotten, keptVersions);
    }

    private static readonly Comparer<(Hash Id, VersionRecord Record)> NewestFirst = Comparer<(Hash Id, VersionRecord Record)>.Create((a, b) =>
        b.Record.TimeUnixMs != a.Record.TimeUnixMs ? b.Record.TimeUnixMs.CompareTo(a.Record.TimeUnixMs) : string.CompareOrdinal(a.Id.ToString(), b.Id.ToString()));

    /// <summary>The calendar rules: how many periods each keeps, and which period a time falls in.</summary>
    private IEnumerable<(string Name, int Count, Func<DateTime, int> Period)> CalendarRules()
    {
        if (KeepHourly is { } hours)
        {
            yield return ("hourly", hours, t => (int)(t.Ticks / TimeSpan.TicksPerHour)); // about 17.7 million in 2026: fits
        }

        if (KeepDaily is { } days)
        {
            yield return ("daily", days, t => DateOnly.FromDateTime(t).DayNumber);
        }

        if (KeepWeekly is { } weeks)
        {
            yield return ("weekly", weeks, t => (System.Globalization.ISOWeek.GetYear(t) * 100) + System.Globalization.ISOWeek.GetWeekOfYear(t));
        }

        if (KeepMonthly is { } months)
        {
            yield return ("monthly", months, t => (t.Year * 12) + t.Month);
        }

        if (KeepYearly is { } years)
        {
            yield return ("yearly", years, t => t.Year);
        }
    }
}

/// <param name="Forgotten">The versions forgotten (or, in a dry run, that would be), newest first.</param>
/// <param name="KeptVersions">The versions the branches' and tags' histories keep, newest first, each with why.</param>
/// <param name="Gc">With a prune, the gc that followed (in a dry run, what it would remove and free); otherwise null.</param>
public sealed record ForgetReport(IReadOnlyList<(Hash Id, VersionRecord Record)> Forgotten, IReadOnlyList<KeptVersion> KeptVersions, GcReport? Gc = null)
{
    public int Kept => KeptVersions.Count;
}

/// <summary>A version a forget keeps, and the refs and rules that keep it ("branch main", "tag t", "last", "within", "hourly", "daily", "weekly", "monthly", "yearly").</summary>
public sealed record KeptVersion(Hash Id, VersionRecord Record, IReadOnlyList<string> Reasons);

public sealed partial class Repository
{
    /// <summary>Meta key prefix of a forgotten version's marker (the prefix, then its record id; the value: <see cref="ForgottenMarkerLength"/>).</summary>
    private static readonly byte[] ForgottenPrefix = "forgotten/"u8.ToArray();

    /// <summary>A marker's value: when (Unix ms), the version's root and its parent (earlier markers: 40 bytes, without the parent).</summary>
    private const int ForgottenMarkerLength = sizeof(long) + (2 * Hash.Size);

    /// <summary>
    /// Forgets the versions in the branches' and tags' histories that <paramref name="policy"/> does
    /// not keep, as <c>restic forget</c> does: their records go, and a marker says each was
    /// forgotten and names its parent, so a history steps over it to the versions kept behind it
    /// (a missing record that is not marked stays an error that <c>verify</c> reports). What only they reach is left for gc to remove.
    /// A version a branch or tag points at is always kept. Holds the publish lock, so no ref moves
    /// while the policy is applied. With <paramref name="prune"/> (gc's grace period), a gc follows;
    /// in a dry run, a gc dry run that judges the versions as if they were forgotten now, which is
    /// what the prune would remove and free (with a grace period, none of their data yet).
    /// </summary>
    public async Task<ForgetReport> ForgetAsync(ForgetPolicy policy, bool dryRun, TimeSpan? prune, CancellationToken cancellationToken)
    {
        var report = await ForgetVersionsAsync(policy, dryRun, cancellationToken).ConfigureAwait(false);
        if (prune is not { } grace)
        {
            return report;
        }

        var asIfForgotten = dryRun ? report.Forgotten.Select(f => f.Id).ToHashSet() : null;
        return report with { Gc = await CollectGarbageAsync(new GcOptions(grace, DryRun: dryRun, AsIfForgotten: asIfForgotten), cancellationToken).ConfigureAwait(false) };
    }

    private async Task<ForgetReport> ForgetVersionsAsync(ForgetPolicy policy, bool dryRun, CancellationToken cancellationToken)
    {
        policy.Validate();
        await PublishLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long now = NowUnixMs;
            if (policy.Branches?.FirstOrDefault(b => GetRef(RefName.Branch(b)) is null) is { } missing)
            {
                throw new NotFoundException($"No branch '{missing}' to apply the rules to.");
            }

            var (forgotten, kept) = policy.Select(ListRefs().Select(r => (r.Name, History(r.Id))), now, cancellationToken);
            if (!dryRun && forgotten.Count > 0)
            {
                Db.WriteDurable(batch =>
                {
                    foreach (var (id, record) in forgotten)
                    {
                        // When, and the root: gc keeps what the version reaches for its grace period.
                        // The parent: a history steps over the version to the ones a rule kept behind it.
                        byte[] marker = new byte[ForgottenMarkerLength];
                        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(marker, now);
                        record.Root.WriteTo(marker.AsSpan(sizeof(long)));
                        record.Parent.WriteTo(marker.AsSpan(sizeof(long) + Hash.Size));
                        batch.Delete(Families.Versions, Key(id));
                        batch.Put(Families.Meta, ForgottenKey(id), marker);
                    }
                });
            }

            return new ForgetReport(forgotten, kept);
        }
        finally
        {
            PublishLock.Release();
        }
    }

    /// <summary>Whether the version <paramref name="id"/> was forgotten (its record removed on purpose).</summary>
    public bool IsForgotten(Hash id) => IsForgotten(id, out _);

    /// <summary>
    /// Whether the version <paramref name="id"/> was forgotten, and if so its parent, where a history
    /// goes on (zero at a first version, and for versions forgotten before markers kept the parent).
    /// </summary>
    private bool IsForgotten(Hash id, out Hash parent)
    {
        byte[]? marker = Db.Get(Families.Meta, ForgottenKey(id));
        parent = marker is { Length: ForgottenMarkerLength } ? Hash.FromBytes(marker.AsSpan(sizeof(long) + Hash.Size)) : Hash.Zero;
        return marker is not null;
    }

    /// <summary>The roots of the versions forgotten after <paramref name="sinceUnixMs"/>.</summary>
    internal IEnumerable<Hash> ForgottenRootsSince(long sinceUnixMs) =>
        ForgottenMarkers()
            .Where(m => m.Marker.Length >= sizeof(long) + Hash.Size && System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(m.Marker) > sinceUnixMs)
            .Select(m => Hash.FromBytes(m.Marker.AsSpan(sizeof(long), Hash.Size)));

    /// <summary>The forgotten record whose id starts with <paramref name="hexPrefix"/> (lower-case hex), if exactly one does.</summary>
    private Hash? ForgottenWithPrefix(string hexPrefix)
    {
        var matches = ForgottenMarkers().Select(m => m.Id).Where(id => id.ToString().StartsWith(hexPrefix, StringComparison.Ordinal)).Take(2).ToList();
        return matches.Count == 1 ? matches[0] : null;
    }

    private IEnumerable<(Hash Id, byte[] Marker)> ForgottenMarkers() =>
        Db.Scan(Families.Meta, ForgottenPrefix).Select(kv => (Hash.FromBytes(kv.Key.AsSpan(ForgottenPrefix.Length)), kv.Value));

    private static byte[] ForgottenKey(Hash id) => [.. ForgottenPrefix, .. id.ToArray()];
}
