namespace MerkleSync.Cli.Tests;

/// <summary>The repository verbs end to end through the real executable and a file:// repository.</summary>
public class RepositoryVerbTests
{
    [Fact]
    public async Task Init_push_log_diff_pull_status_verify_tag_and_gc_work_together()
    {
        using var dir = new TempDirectory();
        string repo = "file://" + Path.Combine(dir.Path, "repo");
        string data = Path.Combine(dir.Path, "data");
        string copy = Path.Combine(dir.Path, "copy");
        var random = new Random(5);
        byte[] big = new byte[400_000];
        random.NextBytes(big);
        dir.Write("data/big.bin", big);
        dir.Write("data/notes/readme.txt", "hello\n"u8.ToArray());

        Assert.Equal(0, (await CliRunner.RunAsync("init", repo)).ExitCode);
        var empty = await CliRunner.RunAsync("log", repo);
        Assert.Equal(1, empty.ExitCode);
        Assert.Contains("has no versions yet: the first push creates branch 'main'", empty.Stderr, StringComparison.Ordinal);

        var first = CliRunner.Json(await CliRunner.RunAsync("push", data, repo, "-m", "first", "--json"));
        Assert.True(first.GetProperty("published").GetBoolean());
        Assert.Equal(first.GetProperty("chunks_total").GetInt64(), first.GetProperty("chunks_new").GetInt64());

        dir.Write("data/notes/readme.txt", "hello again\n"u8.ToArray());
        dir.Write("data/extra.csv", "a,b\n1,2\n"u8.ToArray());
        var second = CliRunner.Json(await CliRunner.RunAsync("push", data, repo, "-m", "second", "--json"));
        Assert.Equal(2, second.GetProperty("chunks_new").GetInt64());

        var log = CliRunner.Json(await CliRunner.RunAsync("log", repo, "--json")).EnumerateArray().ToList();
        Assert.Equal(["second", "first"], log.Select(v => v.GetProperty("message").GetString()));
        Assert.Equal(log[1].GetProperty("record").GetString(), log[0].GetProperty("parent").GetString());

        var diff = CliRunner.Json(await CliRunner.RunAsync("diff", repo, first.GetProperty("record").GetString()!, "main", "--json"));
        Assert.Equal(["added extra.csv", "modified notes/readme.txt"],
            diff.GetProperty("changes").EnumerateArray().Select(c => $"{c.GetProperty("kind").GetString()} {c.GetProperty("path").GetString()}"));
        var notes = CliRunner.Json(await CliRunner.RunAsync("diff", repo, first.GetProperty("record").GetString()!, "main", "--path", "./notes/", "--json"));
        Assert.Equal(["notes/readme.txt"], notes.GetProperty("changes").EnumerateArray().Select(c => c.GetProperty("path").GetString()));

        var both = await CliRunner.RunAsync("pull", repo, copy, "--branch", "main", "--version", first.GetProperty("record").GetString()!);
        Assert.Equal(2, both.ExitCode);
        Assert.Contains("give one of them", both.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(copy));
        var intoFile = await CliRunner.RunAsync("pull", repo, Path.Combine(data, "big.bin"));
        Assert.Equal(2, intoFile.ExitCode);
        Assert.Contains("big.bin' is a file; pull into a folder", intoFile.Stderr, StringComparison.Ordinal);
        var fromFile = await CliRunner.RunAsync("push", Path.Combine(data, "big.bin"), repo);
        Assert.Equal(2, fromFile.ExitCode);
        Assert.Contains("big.bin' is a file; give the folder that holds the dataset", fromFile.Stderr, StringComparison.Ordinal);

        var pulled = CliRunner.Json(await CliRunner.RunAsync("pull", repo, copy, "--json"));
        Assert.Equal(3, pulled.GetProperty("files_written").GetInt32());
        Assert.Equal(File.ReadAllBytes(Path.Combine(data, "big.bin")), File.ReadAllBytes(Path.Combine(copy, "big.bin")));

        var clean = CliRunner.Json(await CliRunner.RunAsync("status", copy, "--json"));
        Assert.Empty(clean.GetProperty("changes").EnumerateArray());
        File.WriteAllText(Path.Combine(copy, "extra.csv"), "changed");
        var dirty = CliRunner.Json(await CliRunner.RunAsync("status", copy, "--json"));
        Assert.Equal("extra.csv", dirty.GetProperty("changes")[0].GetProperty("path").GetString());

        Assert.Equal(0, (await CliRunner.RunAsync("tag", repo, "v1", first.GetProperty("record").GetString()!)).ExitCode);
        var verify = CliRunner.Json(await CliRunner.RunAsync("verify", repo, "--read-data", "--json"));
        Assert.True(verify.GetProperty("ok").GetBoolean());
        Assert.Equal(2, verify.GetProperty("versions").GetInt32());

        var gc = CliRunner.Json(await CliRunner.RunAsync("gc", repo, "--grace", "0s", "--json"));
        Assert.Equal(0, gc.GetProperty("versions_removed").GetInt32());
        var forever = CliRunner.Json(await CliRunner.RunAsync("gc", repo, "--grace", "10000000d", "--json")); // longer than since year 1
        Assert.Equal(0, forever.GetProperty("versions_removed").GetInt32());
        var tooLong = await CliRunner.RunAsync("gc", repo, "--grace", "1e300d");
        Assert.Equal(2, tooLong.ExitCode);
        Assert.Contains("'1e300d' is longer than a duration can be", tooLong.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Forget_lists_what_it_would_drop_then_drops_it_and_prune_frees_the_data_log_steps_over_gaps_and_says_where_the_history_ends()
    {
        using var dir = new TempDirectory();
        string repo = "file://" + Path.Combine(dir.Path, "repo"), data = Path.Combine(dir.Path, "data");
        Assert.Equal(0, (await CliRunner.RunAsync("init", repo)).ExitCode);
        var random = new Random(11);
        for (int i = 1; i <= 3; i++)
        {
            byte[] content = new byte[300_000];
            random.NextBytes(content);
            dir.Write("data/data.bin", content); // each version replaces the file
            Assert.Equal(0, (await CliRunner.RunAsync("push", data, repo, "-m", $"v{i}", "-q")).ExitCode);
        }

        var noPolicy = await CliRunner.RunAsync("forget", repo);
        Assert.Equal(2, noPolicy.ExitCode);
        Assert.Contains("Say which versions to keep", noPolicy.Stderr, StringComparison.Ordinal);

        var dry = await CliRunner.RunAsync("forget", repo, "--keep-last", "2", "--dry-run");
        Assert.Equal(0, dry.ExitCode);
        Assert.StartsWith("Would forget 1 version; 2 kept.", dry.Stdout, StringComparison.Ordinal);
        Assert.Contains(" v1", dry.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"Kept:\n.* v3  \(branch main, last\)\n.* v2  \(last\)\n", dry.Stdout.ReplaceLineEndings("\n"));
        Assert.Equal(3, CliRunner.Json(await CliRunner.RunAsync("log", repo, "--json")).GetArrayLength());

        var estimate = CliRunner.Json(await CliRunner.RunAsync("forget", repo, "--keep-last", "2", "--dry-run", "--prune", "--grace", "0s", "--json"));
        Assert.True(estimate.GetProperty("gc").GetProperty("dry_run").GetBoolean());
        var withGrace = await CliRunner.RunAsync("forget", repo, "--keep-last", "2", "--dry-run", "--prune");
        Assert.Contains("Would free about 0 B", withGrace.Stdout, StringComparison.Ordinal);
        Assert.Contains("stays for gc's grace period (1h)", withGrace.Stdout, StringComparison.Ordinal);
        var forgot = CliRunner.Json(await CliRunner.RunAsync("forget", repo, "--keep-last", "2", "--prune", "--grace", "0s", "--json"));
        Assert.Equal("v1", Assert.Single(forgot.GetProperty("forgotten").EnumerateArray()).GetProperty("message").GetString());
        Assert.True(forgot.GetProperty("gc").GetProperty("bytes_freed").GetInt64() > 250_000);
        Assert.Equal(estimate.GetProperty("gc").GetProperty("bytes_freed").GetInt64(), forgot.GetProperty("gc").GetProperty("bytes_freed").GetInt64());

        var log = await CliRunner.RunAsync("log", repo);
        Assert.Contains("was forgotten: the history ends here", log.Stdout, StringComparison.Ordinal);
        var fileLog = await CliRunner.RunAsync("log", repo, "--path", "data.bin");
        Assert.Contains("    v3\n\n    M data.bin  (293.0 KiB -> 293.0 KiB)", fileLog.Stdout.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.DoesNotContain("v2", fileLog.Stdout, StringComparison.Ordinal); // its parent was forgotten: what it changed is not known
        var verify = CliRunner.Json(await CliRunner.RunAsync("verify", repo, "--read-data", "--json"));
        Assert.True(verify.GetProperty("ok").GetBoolean());
        Assert.Equal(2, verify.GetProperty("versions").GetInt32());
        var provenance = CliRunner.Json(await CliRunner.RunAsync("verify", repo, "main", "--json"));
        Assert.True(provenance.GetProperty("ok").GetBoolean());
        Assert.Equal(["v3", "v2"], provenance.GetProperty("provenance").EnumerateArray().Select(v => v.GetProperty("message").GetString()));
        Assert.Equal(forgot.GetProperty("forgotten")[0].GetProperty("record").GetString(), provenance.GetProperty("provenance_forgotten_parent").GetString());

        // v4 on top, v2 tagged: forgetting v3 leaves a gap that log and verify step over.
        dir.Write("data/data.bin", new byte[1000]);
        Assert.Equal(0, (await CliRunner.RunAsync("push", data, repo, "-m", "v4", "-q")).ExitCode);
        Assert.Equal(0, (await CliRunner.RunAsync("tag", repo, "release", "main~2")).ExitCode);
        var gap = CliRunner.Json(await CliRunner.RunAsync("forget", repo, "--keep-last", "1", "--json"));
        Assert.Equal("v3", Assert.Single(gap.GetProperty("forgotten").EnumerateArray()).GetProperty("message").GetString());
        log = await CliRunner.RunAsync("log", repo);
        string v3 = gap.GetProperty("forgotten")[0].GetProperty("record").GetString()![..12];
        Assert.Matches($"(?s)v4.*\\(parent record {v3} was forgotten; the versions kept before it follow\\).*v2.*the history ends here", log.Stdout);
        fileLog = await CliRunner.RunAsync("log", repo, "--path", "data.bin");
        Assert.Contains("    v4\n\n    M data.bin  (293.0 KiB -> 1000 B)", fileLog.Stdout.ReplaceLineEndings("\n"), StringComparison.Ordinal); // against v2, across the gap
        Assert.DoesNotContain("v2", fileLog.Stdout, StringComparison.Ordinal);
        provenance = CliRunner.Json(await CliRunner.RunAsync("verify", repo, "main", "--json"));
        Assert.True(provenance.GetProperty("ok").GetBoolean());
        Assert.Equal(["v4", "v2"], provenance.GetProperty("provenance").EnumerateArray().Select(v => v.GetProperty("message").GetString()));
        Assert.Contains($"(parent record {v3} was forgotten; the chain goes on", (await CliRunner.RunAsync("verify", repo, "main")).Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_damaged_state_or_a_file_in_its_place_gets_an_error_that_says_to_move_it_and_moving_it_recovers()
    {
        using var dir = new TempDirectory();
        string repo = "file://" + Path.Combine(dir.Path, "repo"), data = Path.Combine(dir.Path, "data"), state = Path.Combine(data, ".merklesync");
        dir.Write("data/a.txt", "a\n"u8.ToArray());
        Assert.Equal(0, (await CliRunner.RunAsync("init", repo)).ExitCode);
        Assert.Equal(0, (await CliRunner.RunAsync("push", data, repo)).ExitCode);

        File.WriteAllText(Path.Combine(state, "state", "CURRENT"), "garbage");
        var damaged = await CliRunner.RunAsync("push", data);
        Directory.Delete(Path.Combine(state, "state"), recursive: true);
        var recovered = await CliRunner.RunAsync("push", data, repo);
        Directory.Delete(state, recursive: true);
        File.WriteAllText(state, "not a folder");
        var blocked = await CliRunner.RunAsync("push", data, repo);

        Assert.Equal(3, damaged.ExitCode);
        Assert.Contains("not your data: move '" + Path.Combine(state, "state") + "' away and run again", damaged.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, recovered.ExitCode);
        Assert.Equal(2, blocked.ExitCode);
        Assert.Contains("'" + state + "' is a file, where MerkleSync keeps the state of", blocked.Stderr, StringComparison.Ordinal);
        Assert.Equal("not a folder", File.ReadAllText(state));
    }

    [Fact]
    public async Task Diff_of_a_directory_that_never_synced_compares_it_and_leaves_no_state_in_it()
    {
        using var dir = new TempDirectory();
        string repo = "file://" + Path.Combine(dir.Path, "repo"), data = Path.Combine(dir.Path, "data"), other = Path.Combine(dir.Path, "other");
        dir.Write("data/same.txt", "same\n"u8.ToArray());
        dir.Write("data/changed.txt", "old\n"u8.ToArray());
        dir.Write("other/same.txt", "same\n"u8.ToArray());
        dir.Write("other/changed.txt", "new\n"u8.ToArray());
        dir.Write("other/new.bin", new byte[100_000]);
        Assert.Equal(0, (await CliRunner.RunAsync("init", repo)).ExitCode);
        Assert.Equal(0, (await CliRunner.RunAsync("push", data, repo)).ExitCode);

        var diff = CliRunner.Json(await CliRunner.RunAsync("diff", other, repo, "--json"));

        Assert.Equal(["modified changed.txt", "added new.bin"],
            diff.GetProperty("changes").EnumerateArray().Select(c => $"{c.GetProperty("kind").GetString()} {c.GetProperty("path").GetString()}"));
        Assert.Equal(["changed.txt", "new.bin", "same.txt"], Directory.EnumerateFileSystemEntries(other).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Status_of_a_directory_as_its_last_push_left_it_shows_no_changes_and_then_a_rewrite_that_kept_size_and_mtime()
    {
        using var dir = new TempDirectory();
        string repo = "file://" + Path.Combine(dir.Path, "repo"), data = Path.Combine(dir.Path, "data");
        for (int i = 0; i < 5; i++)
        {
            // Modified an hour ago, outside the racy window: the push leaves its record (.merklesync/last-push).
            File.SetLastWriteTimeUtc(dir.Write($"data/f{i}.txt", System.Text.Encoding.ASCII.GetBytes($"file {i}\n")), DateTime.UtcNow.AddHours(-1));
        }

        Assert.Equal(0, (await CliRunner.RunAsync("init", repo)).ExitCode);
        Assert.Equal(0, (await CliRunner.RunAsync("push", data, repo)).ExitCode);
        Assert.True(File.Exists(Path.Combine(data, ".merklesync", "last-push")));
        Assert.Empty(CliRunner.Json(await CliRunner.RunAsync("status", data, "--json")).GetProperty("changes").EnumerateArray());

        string changed = Path.Combine(data, "f3.txt");
        var mtime = File.GetLastWriteTimeUtc(changed);
        File.WriteAllText(changed, "FILE 3\n");
        File.SetLastWriteTimeUtc(changed, mtime);
        var dirty = CliRunner.Json(await CliRunner.RunAsync("status", data, "--json"));
        Assert.Equal("modified f3.txt", string.Join(", ", dirty.GetProperty("changes").EnumerateArray().Select(c => $"{c.GetProperty("kind").GetString()} {c.GetProperty("path").GetString()}")));
    }

    [Fact]
    public async Task After_a_pull_that_left_every_file_as_the_last_push_did_status_compares_with_the_pulled_version()
    {
        using var dir = new TempDirectory();
        string repo = "file://" + Path.Combine(dir.Path, "repo"), data = Path.Combine(dir.Path, "data"), other = Path.Combine(dir.Path, "other");
        for (int i = 0; i < 5; i++)
        {
            File.SetLastWriteTimeUtc(dir.Write($"data/f{i}.txt", System.Text.Encoding.ASCII.GetBytes($"file {i}\n")), DateTime.UtcNow.AddHours(-1));
        }

        Assert.Equal(0, (await CliRunner.RunAsync("init", repo)).ExitCode);
        Assert.Equal(0, (await CliRunner.RunAsync("push", data, repo)).ExitCode);
        Assert.True(File.Exists(Path.Combine(data, ".merklesync", "last-push")));
        // Elsewhere f4 is deleted and pushed; pulled here without --delete, f4 stays and no file changes.
        Assert.Equal(0, (await CliRunner.RunAsync("pull", repo, other)).ExitCode);
        File.Delete(Path.Combine(other, "f4.txt"));
        Assert.Equal(0, (await CliRunner.RunAsync("push", other, repo)).ExitCode);
        Assert.Equal(0, (await CliRunner.RunAsync("pull", repo, data)).ExitCode);

        var status = CliRunner.Json(await CliRunner.RunAsync("status", data, "--json"));

        Assert.Equal("added f4.txt", string.Join(", ", status.GetProperty("changes").EnumerateArray().Select(c => $"{c.GetProperty("kind").GetString()} {c.GetProperty("path").GetString()}")));
    }

    [Fact]
    public async Task Status_compares_with_the_branch_pushed_or_pulled_last_not_the_first_by_name()
    {
        using var dir = new TempDirectory();
        string repo = "file://" + Path.Combine(dir.Path, "repo"), data = Path.Combine(dir.Path, "data");
        for (int i = 0; i < 3; i++)
        {
            dir.Write($"data/f{i}.txt", System.Text.Encoding.ASCII.GetBytes($"file {i}\n"));
        }

        Assert.Equal(0, (await CliRunner.RunAsync("init", repo)).ExitCode);
        Assert.Equal(0, (await CliRunner.RunAsync("push", data, repo)).ExitCode);
        dir.Write("data/f0.txt", "edited for side\n"u8.ToArray());
        Assert.Equal(0, (await CliRunner.RunAsync("push", data, repo, "--branch", "side")).ExitCode);
        dir.Write("data/f1.txt", "edited after\n"u8.ToArray());

        var status = await CliRunner.RunAsync("status", data, "--json");
        var text = await CliRunner.RunAsync("status", data);

        Assert.Equal("modified f1.txt", string.Join(", ", CliRunner.Json(status).GetProperty("changes").EnumerateArray().Select(c => $"{c.GetProperty("kind").GetString()} {c.GetProperty("path").GetString()}")));
        Assert.Contains("branch 'side'", text.Stdout, StringComparison.Ordinal);

        // Pulling main back makes main the one to compare with.
        Assert.Equal(0, (await CliRunner.RunAsync("pull", repo, data, "--force")).ExitCode);
        Assert.Contains("branch 'main'", (await CliRunner.RunAsync("status", data)).Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_exits_3_and_names_the_file_when_a_pack_is_damaged()
    {
        using var dir = new TempDirectory();
        var (repo, _) = await PushModelAndDamageItsPackAsync(dir);

        var result = await CliRunner.RunAsync("verify", repo, "--read-data");

        Assert.Equal(3, result.ExitCode);
        Assert.Contains("breaks model.bin", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_reads_a_subset_of_packs_by_group_and_refuses_a_bad_subset()
    {
        using var dir = new TempDirectory();
        var (repo, pack) = await PushModelAndDamageItsPackAsync(dir);

        // The one pack's group of 2: its id's first 16 hex digits modulo 2, plus one.
        int group = (int)(ulong.Parse(Path.GetFileNameWithoutExtension(pack)[..16], System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture) % 2) + 1;
        var other = await CliRunner.RunAsync("verify", repo, "--read-data-subset", $"{3 - group}/2", "--json");
        var its = await CliRunner.RunAsync("verify", repo, "--read-data-subset", $"{group}/2");
        var bad = await CliRunner.RunAsync("verify", repo, "--read-data-subset", "3/2");

        Assert.Equal(0, other.ExitCode);
        var report = CliRunner.Json(other);
        Assert.Equal(0, report.GetProperty("packs_read").GetInt32());
        Assert.Equal($"{3 - group}/2", report.GetProperty("read_subset").GetString());
        Assert.Equal(3, its.ExitCode);
        Assert.Contains($"read 1 packs", its.Stdout, StringComparison.Ordinal);
        Assert.Contains("breaks model.bin", its.Stdout, StringComparison.Ordinal);
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("n must be from 1 to t", bad.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stats_reports_sizes_of_every_reachable_version_or_of_one()
    {
        using var dir = new TempDirectory();
        string repo = "file://" + Path.Combine(dir.Path, "repo");
        byte[] content = new byte[120_000];
        new Random(11).NextBytes(content);
        dir.Write("data/a.bin", content);
        dir.Write("data/same.bin", content);
        await CliRunner.RunAsync("init", repo);
        await CliRunner.RunAsync("push", Path.Combine(dir.Path, "data"), repo);
        dir.Write("data/b.bin", content[..1000]);
        await CliRunner.RunAsync("push", Path.Combine(dir.Path, "data"), repo);

        var all = CliRunner.Json(await CliRunner.RunAsync("stats", repo, "--json"));
        var text = await CliRunner.RunAsync("stats", repo, "main");

        Assert.Equal(2, all.GetProperty("versions").GetInt32());
        Assert.Equal(2 + 3, all.GetProperty("entries").GetInt64());
        Assert.Equal((2 * 240_000) + 1000, all.GetProperty("bytes").GetInt64());
        Assert.Equal(2, all.GetProperty("distinct_files").GetInt64());
        Assert.Equal(0, text.ExitCode);
        Assert.Contains("1 versions: 3 entries", text.Stdout, StringComparison.Ordinal);
        Assert.Contains("Deduplication ", text.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_input_gets_a_clear_error_and_creates_nothing()
    {
        using var dir = new TempDirectory();
        string repo = "file://" + Path.Combine(dir.Path, "repo");

        var noRepo = await CliRunner.RunAsync("push", dir.Path, repo);
        Assert.Equal(1, noRepo.ExitCode);
        Assert.Contains("No repository at", noRepo.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "repo")));

        await CliRunner.RunAsync("init", repo);
        var twice = await CliRunner.RunAsync("init", repo);
        Assert.Equal(2, twice.ExitCode);

        var badVersion = await CliRunner.RunAsync("pull", repo, Path.Combine(dir.Path, "target"), "--version", "nope");
        Assert.Equal(1, badVersion.ExitCode);
        Assert.Contains("No branch, tag or version 'nope'", badVersion.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "target")));

        var badBranch = await CliRunner.RunAsync("push", dir.Path, repo, "--branch", "../x");
        Assert.Equal(2, badBranch.ExitCode);
        Assert.Contains("not a valid branch", badBranch.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Push_dry_run_says_what_would_be_sent_and_publishes_nothing()
    {
        using var dir = new TempDirectory();
        string repo = "file://" + Path.Combine(dir.Path, "repo"), data = Path.Combine(dir.Path, "data");
        dir.Write("data/a.txt", "one\n"u8.ToArray());
        Assert.Equal(0, (await CliRunner.RunAsync("init", repo)).ExitCode);
        CliRunner.Json(await CliRunner.RunAsync("push", data, repo, "--json"));
        dir.Write("data/b.txt", "two\n"u8.ToArray());

        var dry = CliRunner.Json(await CliRunner.RunAsync("push", data, repo, "--dry-run", "--json"));
        var text = await CliRunner.RunAsync("push", data, repo, "-n");
        var log = CliRunner.Json(await CliRunner.RunAsync("log", repo, "--json"));

        Assert.True(dry.GetProperty("dry_run").GetBoolean());
        Assert.True(dry.GetProperty("would_publish").GetBoolean());
        Assert.False(dry.GetProperty("published").GetBoolean());
        Assert.Equal(1, dry.GetProperty("chunks_new").GetInt64());
        Assert.Equal(4, dry.GetProperty("new_chunk_bytes").GetInt64());
        Assert.Contains("Dry run: would push version", text.Stdout, StringComparison.Ordinal);
        Assert.Single(log.EnumerateArray());
    }

    [Fact]
    public async Task The_ignore_file_keeps_paths_out_of_push_and_status_and_pull_delete_leaves_them_alone()
    {
        using var dir = new TempDirectory();
        string repo = "file://" + Path.Combine(dir.Path, "repo"), data = Path.Combine(dir.Path, "data"), copy = Path.Combine(dir.Path, "copy");
        dir.Write("data/.merklesyncignore", "# scratch\n*.tmp\ncache/\n"u8.ToArray());
        dir.Write("data/a.txt", "kept\n"u8.ToArray());
        dir.Write("data/b.tmp", "scratch\n"u8.ToArray());
        dir.Write("data/cache/x.bin", new byte[5000]);

        Assert.Equal(0, (await CliRunner.RunAsync("init", repo)).ExitCode);
        var pushed = CliRunner.Json(await CliRunner.RunAsync("push", data, repo, "--json"));
        var clean = CliRunner.Json(await CliRunner.RunAsync("status", data, "--json"));
        dir.Write("data/more.tmp", "more scratch\n"u8.ToArray());
        var stillClean = CliRunner.Json(await CliRunner.RunAsync("status", data, "--json"));
        CliRunner.Json(await CliRunner.RunAsync("pull", repo, copy, "--json"));
        dir.Write("copy/local.tmp", "mine\n"u8.ToArray());
        dir.Write("copy/cache/model.bin", "mine too\n"u8.ToArray());
        dir.Write("copy/stale.txt", "not in the version\n"u8.ToArray());
        var deleted = CliRunner.Json(await CliRunner.RunAsync("pull", repo, copy, "--delete", "--force", "--json"));

        Assert.Equal(2, pushed.GetProperty("files").GetInt64()); // .merklesyncignore and a.txt
        Assert.Empty(clean.GetProperty("changes").EnumerateArray());
        Assert.Empty(stillClean.GetProperty("changes").EnumerateArray());
        Assert.Equal(1, deleted.GetProperty("files_deleted").GetInt32());
        Assert.False(File.Exists(Path.Combine(copy, "stale.txt")));
        Assert.True(File.Exists(Path.Combine(copy, "local.tmp")));
        Assert.True(File.Exists(Path.Combine(copy, "cache", "model.bin")));
        Assert.False(File.Exists(Path.Combine(copy, "b.tmp")));
    }

    [Fact]
    public async Task A_bad_pattern_in_the_ignore_file_is_a_usage_error_naming_its_line()
    {
        using var dir = new TempDirectory();
        dir.Write("data/.merklesyncignore", "ok.tmp\n[oops\n"u8.ToArray());
        dir.Write("data/a.txt", "a"u8.ToArray());

        var result = await CliRunner.RunAsync("snapshot", Path.Combine(dir.Path, "data"));

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(".merklesyncignore, line 2", result.Stderr, StringComparison.Ordinal);
    }

    /// <summary>Pushes one 200 kB file (model.bin) to a new file:// repository and flips a byte in its only pack.</summary>
    private static async Task<(string Repo, string PackFile)> PushModelAndDamageItsPackAsync(TempDirectory dir)
    {
        string repo = "file://" + Path.Combine(dir.Path, "repo");
        byte[] content = new byte[200_000];
        new Random(9).NextBytes(content);
        dir.Write("data/model.bin", content);
        await CliRunner.RunAsync("init", repo);
        CliRunner.Json(await CliRunner.RunAsync("push", Path.Combine(dir.Path, "data"), repo, "--json"));
        string pack = Directory.EnumerateFiles(Path.Combine(dir.Path, "repo", "packs"), "*.pack", SearchOption.AllDirectories).Single();
        using (var stream = new FileStream(pack, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.Position = 5000;
            int b = stream.ReadByte();
            stream.Position = 5000;
            stream.WriteByte((byte)(b ^ 0xFF));
        }

        return (repo, pack);
    }

    [Fact]
    public async Task Verify_names_a_damaged_pack_repair_salvages_it_and_push_full_makes_the_repository_whole()
    {
        using var dir = new TempDirectory();
        string repo = "file://" + Path.Combine(dir.Path, "repo");
        string data = Path.Combine(dir.Path, "data");
        var random = new Random(9);
        foreach (string name in new[] { "a.bin", "b.bin", "c.bin" })
        {
            byte[] bytes = new byte[30_000];
            random.NextBytes(bytes);
            dir.Write("data/" + name, bytes);
        }

        Assert.Equal(0, (await CliRunner.RunAsync("init", repo)).ExitCode);
        Assert.Equal(0, (await CliRunner.RunAsync("push", data, repo, "--compression", "off", "-q")).ExitCode);
        string packFile = Directory.EnumerateFiles(Path.Combine(dir.Path, "repo", "packs"), "*.pack", SearchOption.AllDirectories).Single();
        string pack = Path.GetFileNameWithoutExtension(packFile);
        byte[] stored = File.ReadAllBytes(packFile);
        stored[100] ^= 0x01; // inside the first chunk
        File.WriteAllBytes(packFile, stored);

        var damaged = await CliRunner.RunAsync("verify", repo, "--read-data");
        var notAPack = await CliRunner.RunAsync("repair", repo, "xyz");
        var repaired = CliRunner.Json(await CliRunner.RunAsync("repair", repo, pack, "--json"))[0];
        var missing = await CliRunner.RunAsync("verify", repo, "--read-data");
        var full = CliRunner.Json(await CliRunner.RunAsync("push", "--full", data, repo, "--json"));
        var whole = await CliRunner.RunAsync("verify", repo, "--read-data");
        var neither = await CliRunner.RunAsync("repair", repo);
        var checkAll = await CliRunner.RunAsync("repair", repo, "--all");

        Assert.Equal(3, damaged.ExitCode);
        Assert.Contains($"merklesync repair {repo} {pack}", damaged.Stdout, StringComparison.Ordinal);
        Assert.Equal(2, notAPack.ExitCode);
        Assert.Contains("'xyz' is not a pack id", notAPack.Stderr, StringComparison.Ordinal);
        Assert.False(repaired.GetProperty("intact").GetBoolean());
        Assert.Equal(1, repaired.GetProperty("chunks_lost").GetInt32());
        Assert.Single(repaired.GetProperty("files_lost").EnumerateArray());
        Assert.Equal(3, missing.ExitCode);
        Assert.Contains("file record is missing", missing.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("merklesync repair", missing.Stdout, StringComparison.Ordinal);
        Assert.False(full.GetProperty("published").GetBoolean());
        Assert.Equal(1, full.GetProperty("chunks_new").GetInt64());
        Assert.Equal(0, whole.ExitCode);
        Assert.Equal(2, neither.ExitCode);
        Assert.Contains("Name the packs to repair, or give --all", neither.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, checkAll.ExitCode);
        Assert.Contains("Checked 2 pack(s): 2 intact, 0 repaired.", checkAll.Stdout, StringComparison.Ordinal); // the salvaged pack and the one push --full sent
        Assert.Contains("checking 2 pack(s) where they are stored", checkAll.Stderr, StringComparison.Ordinal); // progress, on stderr
    }
}
