using System.CommandLine;
using System.Text.Json.Nodes;
using MerkleSync.Cli.Output;
using MerkleSync.Core.Repository;
using MerkleSync.Core.Sync;

namespace MerkleSync.Cli.Commands;

/// <summary>
/// Drops old versions from the histories, as <c>restic forget</c> does: what a policy does not
/// keep is forgotten, and <c>--prune</c> (or a later gc) frees what only those versions used.
/// </summary>
internal static class ForgetCommand
{
    public static Command Create()
    {
        var remote = CommonOptions.Remote();
        var keepLast = new Option<int?>("--keep-last") { HelpName = "N", Description = "Keep the newest N versions of each branch." };
        var keepWithin = new Option<string?>("--keep-within") { HelpName = "DURATION", Description = "Keep the versions published within this long of now (e.g. 30d, 12h)." };
        var keepHourly = new Option<int?>("--keep-hourly") { HelpName = "N", Description = "Keep the newest version of each of a branch's last N hours that have one (UTC)." };
        var keepDaily = new Option<int?>("--keep-daily") { HelpName = "N", Description = "Keep the newest version of each of a branch's last N days that have one (UTC)." };
        var keepWeekly = new Option<int?>("--keep-weekly") { HelpName = "N", Description = "Keep the newest version of each of a branch's last N weeks that have one (ISO weeks)." };
        var keepMonthly = new Option<int?>("--keep-monthly") { HelpName = "N", Description = "Keep the newest version of each of a branch's last N months that have one." };
        var keepYearly = new Option<int?>("--keep-yearly") { HelpName = "N", Description = "Keep the newest version of each of a branch's last N years that have one." };
        var branches = new Option<string[]>("--branch", "-b")
        {
            Description = "Apply the rules to this branch only (repeatable); versions other branches or tags reach are kept. Default: every branch.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var dryRun = new Option<bool>("--dry-run", "-n") { Description = "List what would be forgotten; change nothing." };
        var prune = new Option<bool>("--prune") { Description = "Then run gc, freeing what only the forgotten versions used." };
        var grace = GcCommand.GraceOption();
        var command = new Command("forget",
            "Forget old versions: keep each branch's newest N (--keep-last), those newer than a duration (--keep-within), the newest of each of the last N hours, days, weeks, months or years (--keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly); a version any rule keeps stays, and so does every version a branch or tag points at.\n\n"
            + "Examples:\n  merklesync forget file:///srv/repos/ds --keep-last 10 --dry-run\n  merklesync forget file:///srv/repos/ds --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --prune")
        {
            remote, keepLast, keepWithin, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly, branches, dryRun, prune, grace,
        };
        command.SetAction((parse, ct) => CliApp.GuardAsync(parse, () => CommonOptions.WithRemoteAsync(parse.GetValue(remote)!, async r =>
        {
            var policy = new ForgetPolicy(parse.GetValue(keepLast), parse.GetValue(keepWithin) is { } within ? Duration.Parse(within) : null,
                parse.GetValue(keepDaily), parse.GetValue(keepWeekly), parse.GetValue(keepMonthly), parse.GetValue(branches) is { Length: > 0 } named ? named : null,
                parse.GetValue(keepHourly), parse.GetValue(keepYearly));
            policy.Validate(); // before --grace is read or anything is asked of the remote
            bool dry = parse.GetValue(dryRun), json = parse.GetValue(CliApp.Json);
            var graceTime = Duration.Parse(parse.GetValue(grace)!);
            var report = await r.ForgetAsync(policy, dry, parse.GetValue(prune) ? graceTime : null, ct);
            var gc = report.Gc;
            if (json)
            {
                JsonOut.Write(new JsonObject
                {
                    ["dry_run"] = dry,
                    ["forgotten"] = new JsonArray([.. report.Forgotten.Select(v => (JsonNode)CommonOptions.VersionJson(new VersionRef(v.Id, v.Record)))]),
                    ["kept"] = report.Kept,
                    ["kept_versions"] = new JsonArray([.. report.KeptVersions.Select(v =>
                    {
                        var version = CommonOptions.VersionJson(new VersionRef(v.Id, v.Record));
                        version["reasons"] = new JsonArray([.. v.Reasons.Select(r => (JsonNode)r)]);
                        return (JsonNode)version;
                    })]),
                    ["gc"] = gc is null ? null : GcCommand.ReportJson(gc),
                });
                return CliApp.Ok;
            }

            string versions = report.Forgotten.Count == 1 ? "1 version" : $"{report.Forgotten.Count} versions";
            Console.Out.WriteLine($"{(dry ? "Would forget" : "Forgot")} {versions}; {report.Kept} kept.");
            foreach (var (id, record) in report.Forgotten)
            {
                Console.Out.WriteLine(Line(id, record));
            }

            if (dry)
            {
                // As restic lists what it keeps and why, so a policy can be checked before it is applied.
                Console.Out.WriteLine("Kept:");
                foreach (var kept in report.KeptVersions)
                {
                    Console.Out.WriteLine($"{Line(kept.Id, kept.Record)}  ({string.Join(", ", kept.Reasons)})");
                }
            }

            if (gc is not null)
            {
                GcCommand.PrintReport(gc);
                if (graceTime > TimeSpan.Zero && report.Forgotten.Count > 0)
                {
                    Console.Out.WriteLine($"What only the forgotten versions use stays for gc's grace period ({parse.GetValue(grace)}), so that a pull of one can finish; a gc after that frees it ('--grace 0s' frees it now).");
                }
            }
            else if (!dry && report.Forgotten.Count > 0)
            {
                Console.Out.WriteLine("Their data stays until gc ('merklesync gc', or 'forget --prune') removes what no kept version uses.");
            }

            return CliApp.Ok;
        }, ct)));
        return command;
    }

    private static string Line(Core.Hashing.Hash id, Core.Index.VersionRecord record)
    {
        string subject = Format.FirstLine(record.Message);
        return $"  {id.ToString()[..12]}  {record.Time.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC  {record.Author}{(subject.Length > 0 ? "  " + subject : "")}";
    }
}
