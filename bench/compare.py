#!/usr/bin/env python3
"""MerkleSync against restic, borg and casync in one run (driven by bench/compare.sh).

Every figure is the median of --runs runs; within a run the tools take turns in a rotating order,
so none always runs first on a machine whose page cache and CPU are shared. Writes
WORK/compare.json, WORK/compare.md and an SVG chart; with --docs, puts the table and chart into
docs/benchmarks.md between the compare markers. Stdlib only.
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone

TOOLS = ["merklesync", "borg", "restic", "casync"]
# The large case also runs MerkleSync with compression off: the setting borg runs with here (-C none).
LARGE_TOOLS = ["merklesync", "merklesync-off", *TOOLS[1:]]
CHART_LABELS = {"merklesync-off": ["merklesync", "(uncompressed)"]}
ENV = dict(os.environ, BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK="yes", BORG_RELOCATED_REPO_ACCESS_IS_OK="yes",
           RESTIC_PASSWORD="bench", DOTNET_CLI_TELEMETRY_OPTOUT="1")


# CPU seconds (user + system) of the last command run(), for the tables' CPU columns.
LAST_CPU = [0.0]


def run(cmd, cwd=None, out=None):
    """Runs a command under /usr/bin/time; returns (wall seconds, peak RSS in MiB, stdout)."""
    stats = os.path.join(ARGS.work, "time.out")
    proc = subprocess.run(["/usr/bin/time", "-f", "%e %M %U %S", "-o", stats, *cmd], cwd=cwd, env=ENV,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    wall, rss, user, system = open(stats).read().split()[-4:]
    LAST_CPU[0] = float(user) + float(system)
    return float(wall), int(rss) / 1024, proc.stdout


def size_of(path):
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except FileNotFoundError:
                pass
    return total


def fresh(path):
    shutil.rmtree(path, ignore_errors=True)
    return path


def copy_tree(source, target):
    fresh(target)
    subprocess.run(["cp", "-a", source, target], check=True)


def update_tree(source, target):
    subprocess.run(["rsync", "-a", "--delete", "--exclude", ".merklesync", source + "/", target + "/"], check=True)


def same_tree(a, b):
    return subprocess.run(["diff", "-r", "-q", "--exclude", ".merklesync", a, b], stdout=subprocess.DEVNULL).returncode == 0


class MerkleSyncServer:
    """`merklesync serve` on a free loopback port, with a fresh root."""

    def __init__(self, root):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc = subprocess.Popen([*MS, "serve", "--root", fresh(root), "--listen", f"http://127.0.0.1:{self.port}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        self.root = root
        self.url = f"http://127.0.0.1:{self.port}/bench"
        run([*MS, "init", self.url])

    def cpu_seconds(self):
        fields = open(f"/proc/{self.proc.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mib(self):
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Tool:
    """One tool's repository in WORK/NAME: first backup, second backup, restore, stored size."""

    def __init__(self, name, work):
        self.name, self.dir = name, os.path.join(work, name)
        self.repo, self.server = os.path.join(self.dir, "repo"), None
        self.wire = []
        self.cpu = 0.0  # CPU seconds of the last backup or restore: the command's, and the server's meanwhile

    def setup(self):
        fresh(self.dir)
        os.makedirs(self.dir)
        if self.name.startswith("merklesync"):
            self.server = MerkleSyncServer(self.repo)
        elif self.name == "borg":
            run(["borg", "init", "-e", "none", self.repo])
        elif self.name == "restic":
            run(["restic", "init", "-q", "-r", self.repo])
        else:
            os.makedirs(self.repo)

    def run_with_server(self, cmd):
        """run() for a MerkleSync command; self.cpu adds the server's CPU meanwhile."""
        server_before = self.server.cpu_seconds()
        result = run(cmd)
        self.cpu = LAST_CPU[0] + self.server.cpu_seconds() - server_before
        return result

    def backup(self, source, label):
        if self.name.startswith("merklesync"):
            off = ["--compression", "off"] if self.name == "merklesync-off" else []
            wall, rss, out = self.run_with_server([*MS, "push", source, self.server.url, "--json", "--quiet", *off])
            result = json.loads(out)
            self.wire.append(result["wire_bytes_sent"] + result["wire_bytes_received"])
            return wall, rss
        if self.name == "borg":
            wall, rss, _ = run(["borg", "create", "-C", "none", f"{self.repo}::{label}", "."], cwd=source)
        elif self.name == "restic":
            wall, rss, _ = run(["restic", "backup", "-q", "-r", self.repo, "."], cwd=source)
        else:
            wall, rss, _ = run(["casync", "make", f"--store={self.repo}", os.path.join(self.dir, f"{label}.caidx"), source])
        self.cpu = LAST_CPU[0]
        return wall, rss

    def status(self, source):
        return run([*MS, "status", source, "--json", "--quiet"])[:2]

    def restore(self, label, target):
        fresh(target)
        if self.name.startswith("merklesync"):
            return self.run_with_server([*MS, "pull", self.server.url, target, "--json", "--quiet"])[:2]
        os.makedirs(target)
        if self.name == "borg":
            result = run(["borg", "extract", f"{self.repo}::{label}"], cwd=target)[:2]
        elif self.name == "restic":
            result = run(["restic", "restore", "-q", "-r", self.repo, "latest", "--target", target])[:2]
        else:
            result = run(["casync", "extract", f"--store={self.repo}", os.path.join(self.dir, f"{label}.caidx"), target])[:2]
        self.cpu = LAST_CPU[0]
        return result

    def stored(self):
        return size_of(self.repo)

    def teardown(self):
        if self.server:
            self.server_rss = self.server.peak_rss_mib()
            self.server.stop()
        fresh(self.dir)


def median(values):
    return statistics.median(values) if values else None


def dataset_pair(size):
    folder = os.path.join(ARGS.work, f"set-{size}")
    if not os.path.isdir(os.path.join(folder, "v2")):
        subprocess.run([sys.executable, GEN, folder, "--size", size, "--seed", "7"], check=True, stdout=subprocess.DEVNULL)
    return folder


def small_files(count):
    """COUNT files of 1-16 KiB of random bytes in 100 folders (deterministic)."""
    folder = os.path.join(ARGS.work, f"small-{count}")
    if os.path.isdir(folder):
        return folder
    rng = random.Random(11)
    partial = folder + ".partial"
    fresh(partial)
    for i in range(count):
        path = os.path.join(partial, f"d{i % 100:02d}", f"f{i:06d}.bin")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(rng.randbytes(rng.randint(1024, 16384)))
    os.rename(partial, folder)
    return folder


def turns(runs, tools):
    """(run, tool) in a rotating order, so that no tool always goes first."""
    for r in range(runs):
        for name in tools[r % len(tools):] + tools[:r % len(tools)]:
            yield r, name


def large_case(pair, runs):
    v1, v2 = os.path.join(pair, "v1"), os.path.join(pair, "v2")
    figures = {t: {k: [] for k in ["v1_s", "v2_s", "restore_s", "v2_added_bytes", "v1_rss_mib", "v2_rss_mib", "restore_rss_mib",
                                   "server_rss_mib", "v1_wire_bytes", "v2_wire_bytes", "v1_cpu_s", "restore_cpu_s"]} for t in LARGE_TOOLS}
    checked = set()
    for r, name in turns(runs, LARGE_TOOLS):
        tool, f = Tool(name, ARGS.work), figures[name]
        source = os.path.join(ARGS.work, "source")
        copy_tree(v1, source)
        tool.setup()
        wall, rss = tool.backup(source, "v1")
        f["v1_s"].append(wall), f["v1_rss_mib"].append(rss), f["v1_cpu_s"].append(tool.cpu)
        after_v1 = tool.stored()
        update_tree(v2, source)
        wall, rss = tool.backup(source, "v2")
        f["v2_s"].append(wall), f["v2_rss_mib"].append(rss)
        f["v2_added_bytes"].append(tool.stored() - after_v1)
        fresh(source)
        target = os.path.join(ARGS.work, "restore")
        wall, rss = tool.restore("v2", target)
        f["restore_s"].append(wall), f["restore_rss_mib"].append(rss), f["restore_cpu_s"].append(tool.cpu)
        if name not in checked:
            if not same_tree(v2, target):
                sys.exit(f"{name}: the restored tree differs from v2")
            checked.add(name)
        fresh(target)
        if tool.wire:
            f["v1_wire_bytes"].append(tool.wire[0]), f["v2_wire_bytes"].append(tool.wire[1])
        tool.teardown()
        if tool.server:
            f["server_rss_mib"].append(tool.server_rss)
        print(f"  run {r + 1} {name}: v1 {f['v1_s'][-1]:.2f} s ({f['v1_cpu_s'][-1]:.2f} CPU-s), v2 {f['v2_s'][-1]:.2f} s, restore {f['restore_s'][-1]:.2f} s ({f['restore_cpu_s'][-1]:.2f} CPU-s)", file=sys.stderr)
    return {t: {k: median(v) for k, v in fig.items()} for t, fig in figures.items()}


def small_case(folder, runs):
    figures = {t: {k: [] for k in ["first_s", "nochange_s", "status_s", "onechange_s", "restore_s"]} for t in TOOLS}
    checked = set()
    for r, name in turns(runs, TOOLS):
        tool, f = Tool(name, ARGS.work), figures[name]
        source = os.path.join(ARGS.work, "source")
        copy_tree(folder, source)
        tool.setup()
        f["first_s"].append(tool.backup(source, "a")[0])
        if name == "merklesync":
            f["status_s"].append(tool.status(source)[0])
        f["nochange_s"].append(tool.backup(source, "b")[0])
        with open(os.path.join(source, "d07", "f000007.bin"), "r+b") as changed:
            changed.write(b"changed!")
        f["onechange_s"].append(tool.backup(source, "c")[0])
        target = os.path.join(ARGS.work, "restore")
        f["restore_s"].append(tool.restore("c", target)[0])
        if name not in checked:
            if not same_tree(source, target):
                sys.exit(f"{name}: the restored small files differ from the source")
            checked.add(name)
        fresh(target)
        tool.teardown()
        fresh(source)
        print(f"  run {r + 1} {name}: first {f['first_s'][-1]:.2f} s, no change {f['nochange_s'][-1]:.2f} s, one change {f['onechange_s'][-1]:.2f} s, "
              f"restore {f['restore_s'][-1]:.2f} s", file=sys.stderr)
    return {t: {k: median(v) for k, v in fig.items()} for t, fig in figures.items()}


def rss_case(size):
    """Peak RSS of a MerkleSync push of v1 and pull, client and server (one run)."""
    pair = dataset_pair(size)
    tool = Tool("merklesync", ARGS.work)
    source = os.path.join(ARGS.work, "source")
    copy_tree(os.path.join(pair, "v1"), source)
    tool.setup()
    _, push_rss = tool.backup(source, "v1")
    fresh(source)
    _, pull_rss = tool.restore("v1", os.path.join(ARGS.work, "restore"))
    fresh(os.path.join(ARGS.work, "restore"))
    tool.teardown()
    return {"push_rss_mib": push_rss, "pull_rss_mib": pull_rss, "server_rss_mib": tool.server_rss}


def versions():
    def first_line(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, env=ENV).stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"
    return {"merklesync": "merklesync " + first_line([*MS, "--version"]), "dotnet": ".NET " + first_line(["dotnet", "--version"]),
            "borg": first_line(["borg", "--version"]), "restic": first_line(["restic", "version"]),
            "casync": first_line(["casync", "--version"]), "b3sum": first_line(["b3sum", "--version"])}


def machine():
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next((int(l.split()[1]) // (1024 * 1024) for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
    return f"{os.cpu_count()} cores, {model}, {mem} GiB RAM, {os.uname().sysname} {os.uname().release}"


def b3sum_seconds(folder):
    files = [os.path.join(d, n) for d, _, names in os.walk(folder) for n in names]
    start = time.perf_counter()
    for i in range(0, len(files), 500):
        subprocess.run(["b3sum", *files[i:i + 500]], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main():
    global ARGS, MS, GEN
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--size", default="1GiB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--small-files", type=int, default=100_000)
    parser.add_argument("--rss-sizes", default="1GiB,4GiB", help="sizes for the RSS flatness check ('' to skip)")
    parser.add_argument("--cli", help="merklesync executable to run (compare.sh passes bench/publish-cli.sh's release build)")
    parser.add_argument("--docs", action="store_true", help="write the results into docs/benchmarks.md")
    ARGS = parser.parse_args()
    os.makedirs(ARGS.work, exist_ok=True)
    MS = [ARGS.cli] if ARGS.cli else ["dotnet", os.path.join(ARGS.root, "src/MerkleSync.Cli/bin/Release/net10.0/merklesync.dll")]
    GEN = os.path.join(ARGS.root, "..", "shared", "bench", "gen_versions.py")
    bench = ["dotnet", os.path.join(ARGS.root, "bench/MerkleSync.Bench/bin/Release/net10.0/MerkleSync.Bench.dll")]

    pair = dataset_pair(ARGS.size)
    print(f"dataset {ARGS.size}: chunk-level ideal, b3sum floor", file=sys.stderr)
    ideal = json.loads(subprocess.run([*bench, "ideal", os.path.join(pair, "v1"), os.path.join(pair, "v2")],
                                      capture_output=True, text=True, check=True).stdout)
    changes = json.load(open(os.path.join(pair, "changes.json")))
    b3 = median([b3sum_seconds(os.path.join(pair, "v1")) for _ in range(ARGS.runs)])
    print("large files", file=sys.stderr)
    large = large_case(pair, ARGS.runs)
    print(f"{ARGS.small_files} small files", file=sys.stderr)
    small = small_case(small_files(ARGS.small_files), ARGS.runs) if ARGS.small_files else None
    print("1M-entry tree diff", file=sys.stderr)
    diffs = [json.loads(subprocess.run([*bench, "treediff", "1000000", "100"], capture_output=True, text=True, check=True).stdout)
             for _ in range(ARGS.runs)]
    treediff = {"diff_seconds": median([d["diff_seconds"] for d in diffs]), "build_both_seconds": median([d["build_both_seconds"] for d in diffs])}
    rss = {}
    for size in filter(None, ARGS.rss_sizes.split(",")):
        print(f"peak RSS at {size}", file=sys.stderr)
        rss[size] = rss_case(size)

    results = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "machine": machine(), "versions": versions(),
               "size": ARGS.size, "runs": ARGS.runs, "ideal": ideal, "changes": changes, "b3sum_v1_s": b3,
               "large": large, "small_files": ARGS.small_files, "small": small, "treediff": treediff, "rss": rss}
    json.dump(results, open(os.path.join(ARGS.work, "compare.json"), "w"), indent=2)
    chart = os.path.join(ARGS.root, "docs", "compare.svg") if ARGS.docs else os.path.join(ARGS.work, "compare.svg")
    open(chart, "w").write(svg_chart(results))
    text = markdown(results)
    open(os.path.join(ARGS.work, "compare.md"), "w").write(text)
    if ARGS.docs:
        doc = os.path.join(ARGS.root, "docs", "benchmarks.md")
        content = open(doc).read()
        begin, end = "<!-- compare:begin -->", "<!-- compare:end -->"
        head, rest = content.split(begin, 1) if begin in content else (content.rstrip() + "\n\n", end)
        tail = rest.split(end, 1)[1] if end in rest else ""
        open(doc, "w").write(f"{head}{begin}\n{text}{end}{tail}")
    print(text)


def markdown(r):
    L, S, ideal = r["large"], r["small"], r["ideal"]["ideal_new_chunk_bytes"]
    peers = [t for t in TOOLS if t != "merklesync"]
    tools = [t for t in LARGE_TOOLS if t in L]
    ms = L["merklesync"]
    best = lambda key: min(L[t][key] for t in peers)
    mb = lambda b: f"{b / 1e6:.1f} MB"
    out = [f"Measured {r['date']} on {r['machine']}, by `bench/compare.sh` (median of {r['runs']} runs, tools in rotating order).",
           "Versions: " + "; ".join(r["versions"].values()) + ".",
           "",
           f"![time and bytes per tool](compare.svg)",
           "",
           f"**{r['size']} pair from `gen_versions.py --seed 7`** (truly new bytes in v2: {mb(r['changes']['new_bytes'])}; "
           f"chunk-level ideal for v2: {mb(ideal)}). Reading and hashing v1 with `b3sum`: {r['b3sum_v1_s']:.2f} s.",
           "",
           "| tool | v1 backup | v2 backup | restore v2 | CPU v1 / restore v2 | bytes added by v2 | peak RSS v1 / v2 / restore |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
    settings = {"merklesync": "push over HTTP to a loopback server (file-system store), server verifies every chunk",
                "borg": "`borg create -C none`, `-e none` repo", "restic": "`restic backup`, default compression",
                "casync": "`casync make`, default store", "merklesync-off": "the same with `push --compression off`"}
    for t in tools:
        f = L[t]
        out.append(f"| {t} ({settings[t]}) | {f['v1_s']:.2f} s | {f['v2_s']:.2f} s | {f['restore_s']:.2f} s | {f['v1_cpu_s']:.2f} / {f['restore_cpu_s']:.2f} s "
                   f"| {mb(f['v2_added_bytes'])} = {f['v2_added_bytes'] / ideal:.2f}x ideal "
                   f"| {f['v1_rss_mib']:.0f} / {f['v2_rss_mib']:.0f} / {f['restore_rss_mib']:.0f} MiB |")
    out += ["",
            "| target (ratios in this run) | measured | met |",
            "| --- | --- | --- |"]

    def target(text, value, limit):
        out.append(f"| {text} | {value:.2f} | {'yes' if value <= limit else 'no'} |")
    target("push v1 / borg create (≤ 0.75)", ms["v1_s"] / L["borg"]["v1_s"], 0.75)
    target("push v1 / restic backup (≤ 0.5)", ms["v1_s"] / L["restic"]["v1_s"], 0.5)
    if "merklesync-off" in L:
        target("push v1 with `--compression off` / borg create `-C none`, both uncompressed (≤ 0.75)", L["merklesync-off"]["v1_s"] / L["borg"]["v1_s"], 0.75)
    target("v2 stored bytes / chunk-level ideal (≤ 1.15)", ms["v2_added_bytes"] / ideal, 1.15)
    target("v2 stored bytes / casync's (< 1)", ms["v2_added_bytes"] / L["casync"]["v2_added_bytes"], 0.999999)
    target("v2 bytes over the wire / chunk-level ideal (≤ 1.25, issue 4)", ms["v2_wire_bytes"] / ideal, 1.25)
    if S:
        target(f"no-change push of {r['small_files']} files, seconds (≤ 1)", S["merklesync"]["nochange_s"], 1.0)
    target("diff of two 1M-entry trees differing in 100 files, seconds (≤ 0.5)", r["treediff"]["diff_seconds"], 0.5)
    if len(r["rss"]) >= 2:
        sizes = list(r["rss"])
        a, b = r["rss"][sizes[0]], r["rss"][sizes[-1]]
        worst = max(abs(b[k] / a[k] - 1) for k in a)
        target(f"peak RSS change {sizes[0]} → {sizes[-1]} (push, pull, server; ≤ 0.20)", worst, 0.20)
    out += ["", f"Best peer per column: v1 {best('v1_s'):.2f} s, v2 {best('v2_s'):.2f} s, restore {best('restore_s'):.2f} s, "
            f"v2 bytes {mb(best('v2_added_bytes'))}. MerkleSync over the wire: v1 {mb(ms['v1_wire_bytes'])}, v2 {mb(ms['v2_wire_bytes'])}; "
            f"server peak RSS {ms['server_rss_mib']:.0f} MiB. CPU is user + system seconds of the command (for MerkleSync, plus the "
            f"server's during it)."]
    if S:
        out += ["", f"**{r['small_files']} files of 1–16 KiB** (random bytes, 100 folders):", "",
                "| tool | first backup | no-change status | no-change backup | one file changed | restore |", "| --- | --- | --- | --- | --- | --- |"]
        for t in TOOLS:
            f = S[t]
            status = f"{f['status_s']:.2f} s" if f["status_s"] is not None else "—"
            out.append(f"| {t} | {f['first_s']:.2f} s | {status} | {f['nochange_s']:.2f} s | {f['onechange_s']:.2f} s | {f['restore_s']:.2f} s |")
    out += ["", f"**Scale:** diff of two 1M-entry trees (tree only, RocksDB node store reopened, nothing cached) differing in 100 files: "
            f"{r['treediff']['diff_seconds'] * 1000:.0f} ms (building both trees: {r['treediff']['build_both_seconds']:.1f} s)."]
    if r["rss"]:
        out += ["", "**Peak RSS by input size** (MerkleSync push of v1, pull, server):", "", "| input | push | pull | server |", "| --- | --- | --- | --- |"]
        for size, f in r["rss"].items():
            out.append(f"| {size} | {f['push_rss_mib']:.0f} MiB | {f['pull_rss_mib']:.0f} MiB | {f['server_rss_mib']:.0f} MiB |")
    return "\n".join(out) + "\n"


def svg_chart(r):
    """Two bar panels: seconds (v1, v2, restore) and MB (v2 added; ideal as a line), one group per tool."""
    L, ideal = r["large"], r["ideal"]["ideal_new_chunk_bytes"] / 1e6
    tools = [t for t in LARGE_TOOLS if t in L]
    colors = ["#4e79a7", "#f28e2b", "#59a14f"]
    width, height, top, bottom, left = 760, 312, 40, 52, 50
    panel = 340
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
             f'<rect width="{width}" height="{height}" fill="white"/>']

    def panel_bars(x0, title, series, unit, line=None):
        peak = max([v for s in series for v in s[1]] + ([line] if line else [])) * 1.15
        plot_h = height - top - bottom
        parts.append(f'<text x="{x0 + panel / 2}" y="20" text-anchor="middle" font-size="13">{title}</text>')
        parts.append(f'<line x1="{x0}" y1="{top + plot_h}" x2="{x0 + panel - 10}" y2="{top + plot_h}" stroke="#333"/>')
        group_w = (panel - 20) / len(tools)
        bar_w = (group_w - 10) / len(series)
        for g, tool in enumerate(tools):
            gx = x0 + 5 + g * group_w
            for s, (name, values) in enumerate(series):
                v = values[g]
                h = plot_h * v / peak
                x = gx + s * bar_w
                parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" fill="{colors[s]}"/>')
                parts.append(f'<text x="{x + bar_w / 2 - 1:.1f}" y="{top + plot_h - h - 3:.1f}" text-anchor="middle" font-size="9">{v:.1f}</text>')
            for row, label in enumerate(CHART_LABELS.get(tool, [tool])):
                parts.append(f'<text x="{gx + group_w / 2 - 5:.1f}" y="{top + plot_h + 15 + 12 * row}" text-anchor="middle" font-size="10">{label}</text>')
        if line:
            y = top + plot_h - plot_h * line / peak
            parts.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + panel - 10}" y2="{y:.1f}" stroke="#e15759" stroke-dasharray="4 3"/>')
            legend_x = x0 + len(series) * 95 + 40
            parts.append(f'<line x1="{legend_x}" y1="{height - 9}" x2="{legend_x + 16}" y2="{height - 9}" stroke="#e15759" stroke-dasharray="4 3"/>'
                         f'<text x="{legend_x + 20}" y="{height - 5}">chunk-level ideal ({line:.1f} {unit})</text>')
        for s, (name, _) in enumerate(series):
            parts.append(f'<rect x="{x0 + s * 95}" y="{height - 14}" width="10" height="10" fill="{colors[s]}"/>'
                         f'<text x="{x0 + s * 95 + 14}" y="{height - 5}">{name}</text>')

    panel_bars(left - 30, f"seconds, {r['size']} pair (lower is better)",
               [("v1 backup", [L[t]["v1_s"] for t in tools]), ("v2 backup", [L[t]["v2_s"] for t in tools]),
                ("restore v2", [L[t]["restore_s"] for t in tools])], "s")
    panel_bars(left + panel + 20, "MB stored by v2 (lower is better)",
               [("bytes added by v2", [L[t]["v2_added_bytes"] / 1e6 for t in tools])], "MB", line=ideal)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    main()
