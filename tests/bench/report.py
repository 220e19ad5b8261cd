#!/usr/bin/python3
"""report.py - turns a `make bench` result (latest.json) into the Markdown table, the goal
verdicts and the PNG chart (gnuplot).  bench.py calls it; to redo a report by hand:
    /usr/bin/python3 tests/bench/report.py tests/bench/results/latest.json"""

import json
import os
import shutil
import statistics
import subprocess
import sys

COLUMNS = ["native", "overlayfs", "fuse-overlayfs", "pressfs", "pressfs+ext"]
HIGHER, LOWER = "higher", "lower"
# the rows where the PHP extension can make a difference (the rest do not run PHP)
# rows whose value is a growth: one at or below zero is no measurement (shown as such)
POSITIVE_ROWS = {"redis_bytes_per_file"}
# tests/bench/topology.py's stores, each with the durability it has by default
TOPOLOGIES = (("single", "single Redis (durability=0)"),
              ("sentinel", "Sentinel: a primary, 1 replica, 3 sentinels (durability=1)"),
              ("cluster", "Redis Cluster: 3 primaries, 1 replica each (durability=1)"))
EXT_ROWS = {"front_rps", "front_p99", "admin_rps", "admin_p99", "front_daemon_reqs",
            "admin_daemon_reqs", "storm", "first_view"}


def rows(meta, extra=None):
    a = meta.get("args", {})
    pt = (extra or {}).get("passthrough")
    pt = f" (pressfs passthrough: {pt})" if pt else ""
    nfiles = f"{a.get('static_files', 400)}"
    pol = a.get("policy_rules") or [20000, 100000]
    if isinstance(pol, str):
        pol = [int(x) for x in pol.split(",")]
    imp = (f"{a.get('import_small_files', 10000):,}", a.get("import_large_files", 8),
           a.get("import_large_mib", 32))
    small = f"{a.get('small_files', 10000):,}"
    if a.get("small_seconds"):
        small += f" (or what {a['small_seconds']:g} s allow)"
    big = f"{a.get('big_mib', 1024) // 1024} GiB" if a.get("big_mib", 1024) >= 1024 \
        else f"{a.get('big_mib')} MiB"
    cold = f"{a.get('cold_files', 100000):,}"
    topo = (a.get("topo_files", 32), a.get("topo_trials", 100))
    return [
        # key, label, unit, which way is better, in the chart
        ("front_rps", "WordPress front page", "req/s", HIGHER, True),
        ("front_p99", "WordPress front page, p99 latency", "ms", LOWER, True),
        ("admin_rps", "WordPress admin page (Posts list)", "req/s", HIGHER, True),
        ("admin_p99", "WordPress admin page, p99 latency", "ms", LOWER, True),
        ("front_daemon_reqs", "daemon requests per warm front-page view", "requests", LOWER,
         False),
        ("admin_daemon_reqs", "daemon requests per warm admin-page view", "requests", LOWER,
         False),
        ("storm", "include/stat/read storm (PHP CLI, opcache)", "files/s", HIGHER, True),
        ("lower_read_warm", f"{big} file of the lower tree: read, warm{pt}", "MB/s", HIGHER,
         True),
        ("lower_read_cold", f"{big} file of the lower tree: read, cold", "MB/s", HIGHER, True),
        ("big_write", f"{big} sequential write + fsync, uploads/ (shared)", "MB/s", HIGHER,
         True),
        ("big_read_warm", f"{big} written file: read back, warm", "MB/s", HIGHER, True),
        ("big_read_cold", f"{big} written file: read back, cold", "MB/s", HIGHER, True),
        ("small_create_shared", f"{small} × 4 KiB create+write+close, uploads/ (shared)",
         "files/s", HIGHER, True),
        ("small_read_shared", f"{small} × 4 KiB read back, uploads/ (shared)", "files/s",
         HIGHER, True),
        ("small_create_cache", f"{small} × 4 KiB create+write+close, cache/ (cache)",
         "files/s", HIGHER, True),
        ("small_read_cache", f"{small} × 4 KiB read back, cache/ (cache)", "files/s", HIGHER,
         True),
        ("rename_over", "write temp + rename over a page, cache/", "ops/s", HIGHER, True),
        ("upload_64m", "upload: 64 MiB file into uploads/", "MB/s", HIGHER, True),
        ("upload_1m", "upload: 1 MiB files into uploads/", "MB/s", HIGHER, True),
        ("redis_set_raw", "raw Redis SET of 1 MiB values (redis-benchmark -P 8)", "MB/s",
         HIGHER, False),
        ("static_nginx_uploads", f"nginx (sendfile): {nfiles} uploads, 20-200 KB, at random",
         "req/s", HIGHER, True),
        ("static_nginx_pages", f"nginx (sendfile): {nfiles} cached pages, 8-40 KB (cache class)",
         "req/s", HIGHER, True),
        ("static_apache_uploads", f"Apache (AllowOverride All): {nfiles} uploads, at random",
         "req/s", HIGHER, True),
        ("static_apache_pages", f"Apache (AllowOverride All): {nfiles} cached pages",
         "req/s", HIGHER, True),
        ("xnode_p50", "cross-node visibility, close on A → new content on B, p50", "ms",
         LOWER, False),
        ("xnode_p99", "cross-node visibility, p99", "ms", LOWER, False),
        ("populate", f"storing {cold} × 10-byte cold-start files (4 threads)", "files/s",
         HIGHER, True),
        ("redis_bytes_per_file", "Redis memory per 10-byte file (INFO used_memory Δ over "
         f"{(extra or {}).get('redis_bytes_files') or a.get('cold_files', 100000):,} files; "
         "JuiceFS publishes ~300 B of metadata per file)", "bytes", LOWER, False),
        ("mount_empty", "mount time, nothing stored", "ms", LOWER, False),
        ("mount_100k", f"mount time, {cold} files stored" + (
            " (fewer where the notes say)" if any(
                k.startswith("cold_files:") and v < a.get("cold_files", 100000)
                for k, v in (extra or {}).items()) else ""), "ms", LOWER, False),
        ("first_view", "first front page after mount (caches dropped, fresh php-fpm)", "ms",
         LOWER, True),
        ("policy_small_s", f"policy compile, {pol[0]:,} rules (`pressfs policy check`)", "s",
         LOWER, False),
        ("policy_small_rss", f"policy compile, {pol[0]:,} rules: peak RSS", "MB", LOWER, False),
        ("policy_large_s", f"policy compile, {pol[1]:,} rules", "s", LOWER, False),
        ("policy_large_rss", f"policy compile, {pol[1]:,} rules: peak RSS", "MB", LOWER, False),
        ("import_small", f"`pressfs import` of {imp[0]} × 4 KiB files", "files/s", HIGHER,
         False),
        ("import_large", f"`pressfs import` of {imp[1]} × {imp[2]} MiB files", "MB/s", HIGHER,
         False),
        ("import_large_vs_raw", "`pressfs import` of large files ÷ raw Redis SET rate", "×",
         HIGHER, False),
    ] + [(f"topo_upload_{k}", f"upload: {topo[0]} × 1 MiB files into uploads/, {v}", "MB/s",
          HIGHER, False) for k, v in TOPOLOGIES] + [
        (f"topo_vis_{k}", f"cross-node visibility p50 ({topo[1]} files), {v}", "ms", LOWER,
         False) for k, v in TOPOLOGIES]


def fmt(v):
    if v is None:
        return "—"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def median(samples):
    return statistics.median(samples) if samples else None


def cell_text(samples, failed):
    if not samples:
        if isinstance(failed, str) and "still running after" in failed:
            return "> " + failed.split("after", 1)[1].split("(")[0].strip()
        return "failed" if failed else "—"
    m = median(samples)
    if len(samples) > 1 and m:
        spread = (max(samples) - min(samples)) / 2 / abs(m) * 100
        return f"{fmt(m)} ±{spread:.0f}%"
    return fmt(m)


def ratio(data, key, col, base="native"):
    s = data["samples"].get(key, {})
    a, b = median(s.get(col, [])), median(s.get(base, []))
    if a is None or not b:
        return None
    return a / b


# --- goals ------------------------------------------------------------------------------------

def _per_col(fn):
    """{col: fn(col)} for pressfs and pressfs+ext, leaving out what FN cannot tell."""
    d = {}
    for col in ("pressfs", "pressfs+ext"):
        try:
            r = fn(col)
        except (TypeError, ZeroDivisionError):
            r = None
        if r is not None:
            d[col] = r
    return d


def _vs_native(data, key, op, target):
    def fn(col):
        r = ratio(data, key, col)
        if r is None:
            return None
        return (f"{r:.2f}×", r >= target if op == ">=" else r <= target)
    return _per_col(fn)


def issue_goals(data):
    """The goals of the rows added for issues 12, 13, 16 and 17 (static serving, Redis memory
    per file, policy compile, import)."""
    S = data["samples"]
    out = []
    per_col = _per_col

    def vs_native(key, op, target):
        return _vs_native(data, key, op, target)

    def static(key):
        return vs_native(key, ">=", 0.9)
    out.append(("nginx: uploads vs native", "≥ 0.9×", static("static_nginx_uploads")))
    out.append(("nginx: cached pages vs native", "≥ 0.9×", static("static_nginx_pages")))
    out.append(("Apache: uploads vs native", "≥ 0.9×", static("static_apache_uploads")))
    out.append(("Apache: cached pages vs native", "≥ 0.9×", static("static_apache_pages")))

    def store_per_req(col):
        if col != "pressfs":
            return None
        costs = [c for k, v in data.get("extra", {}).items() if k.startswith("static_cost:")
                 for c in v]
        if not costs:
            return None
        worst = max(c["redis"] + c["memcached"] for c in costs)
        return (f"{fmt(worst)} (worst row)", worst <= 0.05)
    out.append(("store commands per warm static request", "≤ 0.05", per_col(store_per_req)))

    def only_pressfs(key, target, text, ok, valid=lambda m: True):
        def fn(col):
            if col != "pressfs":
                return None
            m = median(S.get(key, {}).get(col, []))
            if m is None or not valid(m):
                measured = m is not None or col in data.get("not_measured", {}).get(key, {})
                return ("not measured", None) if measured else None
            return (text(m), ok(m))
        return per_col(fn)
    # memory per file is a growth: a negative one (memory freed meanwhile) is no measurement
    out.append(("Redis memory per 10-byte file", "≤ 250 bytes",
                only_pressfs("redis_bytes_per_file", 250, lambda m: f"{m:.0f} B",
                             lambda m: m <= 250, valid=lambda m: m > 0)))
    def policy(col):
        if col != "pressfs":
            return None
        t = median(S.get("policy_large_s", {}).get(col, []))
        rss = median(S.get("policy_large_rss", {}).get(col, []))
        why = data.get("failed", {}).get("policy_large_s", {}).get(col) or ""
        if t is None:
            return ("> " + cell_text([], why)[2:], False) if "still running" in why else None
        return (f"{fmt(t)} s, {fmt(rss)} MB", t < 1 and rss is not None and rss < 200)
    pol = (data["meta"].get("args", {}).get("policy_rules") or [0, 100000])[1]
    out.append((f"policy compile, {pol:,} rules", "< 1 s and < 200 MB", per_col(policy)))
    out.append(("`pressfs import`, small files", "≥ 20,000 files/s",
                only_pressfs("import_small", 20000, lambda m: f"{fmt(m)}/s",
                             lambda m: m >= 20000)))
    out.append(("`pressfs import`, large files vs raw Redis SET", "≥ 0.8×",
                only_pressfs("import_large_vs_raw", 0.8, lambda m: f"{m:.2f}×",
                             lambda m: m >= 0.8)))

    return out


def goals(data):
    """[(goal, target, {col: (value text, met)})] for pressfs and pressfs+ext."""
    S = data["samples"]
    out = []

    per_col = _per_col

    def vs_native(key, op, target):
        return _vs_native(data, key, op, target)

    out.append(("front page req/s vs native", "≥ 0.97×", vs_native("front_rps", ">=", 0.97)))
    out.append(("front page p99 vs native", "≤ 1.05×", vs_native("front_p99", "<=", 1.05)))
    out.append(("admin page req/s vs native", "≥ 0.97×", vs_native("admin_rps", ">=", 0.97)))
    out.append(("admin page p99 vs native", "≤ 1.05×", vs_native("admin_p99", "<=", 1.05)))

    def reqs(col):
        m = median(S.get("front_daemon_reqs", {}).get(col, []))
        return None if m is None else (f"{fmt(m)}", m < 1)
    out.append(("daemon requests per warm front-page view", "< 1 (with the extension)",
                per_col(reqs)))
    out.append(("include/stat storm vs native", "≥ 0.9×", vs_native("storm", ">=", 0.9)))
    out.append(("warm read of a large lower file vs native", "≥ 0.95×",
                vs_native("lower_read_warm", ">=", 0.95)))
    out.append(("warm read of a large written file vs native", "≥ 0.95×",
                vs_native("big_read_warm", ">=", 0.95)))

    def upload(key):
        def fn(col):
            if col != "pressfs":
                return None
            u = median(S.get(key, {}).get(col, []))
            raw = median(S.get("redis_set_raw", {}).get("pressfs", []))
            return None if u is None or not raw else (f"{u / raw:.2f}×", u / raw >= 0.5)
        return per_col(fn)
    out.append(("64 MiB upload vs raw Redis SET rate", "≥ 0.5×", upload("upload_64m")))
    out.append(("1 MiB uploads vs raw Redis SET rate", "≥ 0.5×", upload("upload_1m")))

    def xnode(col):
        if col != "pressfs":
            return None
        m = median(S.get("xnode_p99", {}).get(col, []))
        return None if m is None else (f"{fmt(m)} ms", m < 50)
    out.append(("cross-node visibility p99", "< 50 ms", per_col(xnode)))

    def flat(col):
        if col != "pressfs":
            return None
        e = median(S.get("mount_empty", {}).get(col, []))
        f = median(S.get("mount_100k", {}).get(col, []))
        if e is None or f is None:
            return None
        return (f"{fmt(e)} → {fmt(f)} ms", f <= max(1.2 * e, e + 20))
    out.append(("mount time flat in the number of stored files", "≤ 1.2× or +20 ms",
                per_col(flat)))
    return out + issue_goals(data)


# --- the report -------------------------------------------------------------------------------

def table(data):
    meta = data["meta"]
    cols = [c for c in COLUMNS if c in meta.get("columns", COLUMNS) or c in
            data.get("failed", {}).get("*", {})]
    head = ["workload", "unit"] + cols + ["pressfs ÷ native", "+ext ÷ native"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    failed_all = data.get("failed", {}).get("*", {})
    dead = data.get("dead", {})
    unavailable = data.get("unavailable", {})
    for key, label, unit, better, _ in rows(meta, data.get("extra")):
        s = data["samples"].get(key, {})
        f = data.get("failed", {}).get(key, {})
        nm = dict(data.get("not_measured", {}).get(key, {}))
        if key in POSITIVE_ROWS:
            for c, v in s.items():
                if v and not [x for x in v if x > 0]:
                    nm.setdefault(c, "its change was not a growth")
            s = {c: [x for x in v if x > 0] for c, v in s.items()}
        if key in unavailable:
            arrow = "↑" if better == HIGHER else "↓"
            cells = ["not available" if c == "pressfs" else "" for c in cols]
            lines.append(f"| {label} | {unit} {arrow} | " + " | ".join(cells + ["—", "—"])
                         + " |")
            continue
        if not s and not f and not nm:
            continue
        cells = []
        for c in cols:
            if c in nm and not s.get(c):
                cells.append("not measured")
            elif c in failed_all:
                cells.append("failed" if "failed" in failed_all[c] else "skipped")
            elif c == "pressfs+ext" and key not in EXT_ROWS:
                cells.append("")
            else:
                cells.append(cell_text(s.get(c), f.get(c) or c in dead))
        rs = []
        for c in ("pressfs", "pressfs+ext"):
            r = ratio(data, key, c)
            rs.append(f"{r:.2f}" if r is not None else "—")
        arrow = "↑" if better == HIGHER else "↓"
        lines.append(f"| {label} | {unit} {arrow} | " + " | ".join(cells + rs) + " |")
    return "\n".join(lines)


def goal_table(data):
    lines = ["| goal | target | pressfs | pressfs + extension |", "|---|---|---|---|"]
    for goal, target, res in goals(data):
        if not res:  # not measured in this run (--only, a partial run)
            continue
        cells = []
        for col in ("pressfs", "pressfs+ext"):
            if col in res:
                text, met = res[col]
                verdict = "" if met is None else " **met**" if met else " **missed**"
                cells.append(text + verdict)
            else:
                cells.append("—")
        lines.append(f"| {goal} | {target} | " + " | ".join(cells) + " |")
    return "\n".join(lines) if len(lines) > 2 else None


def daemon_breakdown(data):
    ex = data.get("extra", {})
    lines = []
    for key in sorted(ex):
        if not key.startswith(("front_daemon_reqs:", "admin_daemon_reqs:")):
            continue
        row, col = key.split(":", 1)
        ops = sorted(ex[key].items(), key=lambda kv: -kv[1])
        page = "front page" if row.startswith("front") else "admin page"
        txt = ", ".join(f"{k} {v:.1f}" for k, v in ops[:10]) or "none"
        lines.append(f"- {col}, {page}: {txt}")
    return "\n".join(lines)


def partial_status(m):
    """The line saying what an interrupted run measured and what it did not reach."""
    if not m.get("partial"):
        return None
    planned, done = m.get("planned", []), m.get("done", [])
    skipped, cur = m.get("skipped", []), m.get("current")
    why = f"interrupted ({m['interrupted']})" if m.get("interrupted") else "stopped"
    if not m.get("cleaned_up") and not m.get("interrupted"):
        why = "still running, or stopped without cleaning up"
    left = [w for w in planned if w not in done and w not in skipped and w != cur]
    parts = [f"**Partial run**: {why}"]
    if cur:
        parts.append(f"during `{cur}` (its rows hold what it measured before that)")
    parts = [" ".join(parts) + "."]
    parts.append("Finished: " + (", ".join(done) or "none") + ".")
    parts.append("Not reached: " + (", ".join(left) or "none") + ".")
    if skipped:
        parts.append("Skipped (over the time budget): " + ", ".join(skipped) + ".")
    return " ".join(parts)


def static_costs(data):
    """Per HTTP request, for pressfs: daemon requests by type, Redis commands, memcached
    gets and sets (medians over the rounds)."""
    ex = data.get("extra", {})
    lines = []
    for key, label, *_ in rows(data["meta"]):
        costs = ex.get(f"static_cost:{key}")
        if not costs:
            continue
        med = lambda k: median([c[k] for c in costs])  # noqa: E731
        ops = {}
        for c in costs:
            for k, v in c["ops"].items():
                ops.setdefault(k, []).append(v)
        top = sorted(((k, median(v)) for k, v in ops.items()), key=lambda kv: -kv[1])[:6]
        cmds = {}
        for c in costs:
            for k, v in c.get("redis_cmds", {}).items():
                cmds.setdefault(k, []).append(v)
        topc = sorted(((k, median(v)) for k, v in cmds.items()), key=lambda kv: -kv[1])[:4]
        lines.append(f"| {label} | {fmt(med('daemon'))} | "
                     + (", ".join(f"{k} {fmt(v)}" for k, v in top) or "none")
                     + f" | {fmt(med('redis'))} | "
                     + (", ".join(f"{k} {fmt(v)}" for k, v in topc) or "none")
                     + f" | {fmt(med('memcached'))} |")
    if not lines:
        return None
    return "\n".join(["Counted by the servers themselves over each wrk round, divided by its "
                      "HTTP requests: the daemon's `pressfs status` counters, Redis "
                      "`INFO commandstats` (without INFO), memcached `stats` cmd_get + cmd_set. "
                      "Medians over the rounds. The other columns use no store, and "
                      "fuse-overlayfs keeps no request counters.", "",
                      "| row | daemon requests | by type | Redis commands | which | memcached "
                      "gets + sets |", "|---|---|---|---|---|---|"] + lines)


def ext_cost(data):
    """The extension's price per PHP call (ext_bench.php), or None when it did not run."""
    e = data.get("extra", {}).get("ext_cost")
    if not e:
        return None
    cfgs = e["configs"]
    lines = [f"ns per call, best of {e['rounds']} rounds of {e['n']:,} calls each (on "
             f"{e['dir']}, no FUSE: the hooks' own cost); in brackets, against no extension.",
             "", "| call | " + " | ".join(cfgs) + " |", "|---|" + "---|" * len(cfgs)]
    for op in e["ops"]:
        cells = []
        for c in cfgs:
            ns = e["ns_per_call"][c][op]
            r = e.get("ratio", {}).get(c, {}).get(op)
            cells.append(f"{ns:,.0f}" + (f" ({(r - 1) * 100:+.0f}%)" if r else ""))
        lines.append(f"| {op} | " + " | ".join(cells) + " |")
    lines += ["", "pressfs: the overlay at the root (writes judged, reads untouched); + lower: "
              "reads of paths no rule can change served from `pressfs.lower`; + mount: the "
              "redirect deployment (uploads written to the mount)."]
    return "\n".join(lines)


def markdown(data, chart_name=None):
    m = data["meta"]
    a = m.get("args", {})
    load = lambda t: " / ".join(f"{x:.2f}" for x in t) if t else "?"  # noqa: E731
    out = [f"## pressfs benchmark, {m.get('started', '?')}"
           + (" (partial run)" if m.get("partial") else ""), ""]
    ps = partial_status(m)
    if ps:
        out += [ps, ""]
    out.append(f"Machine: {m.get('cpu', '?')}, {m.get('cpus', '?')} CPUs, "
               f"{m.get('mem_gib', '?')} GiB, Linux {m.get('kernel', '?')}, Debian "
               f"{m.get('debian', '?')}; pressfs at {m.get('git', '?')}. Load average (1/5/15 "
               f"min) at the start {load(m.get('load_start'))}, at the end "
               f"{load(m.get('load_end'))}. The run took {m.get('seconds', '?')} s"
               + (f" (budget {a['budget']} s)." if a.get("budget") else "."))
    out.append("")
    out.append(f"Each cell: median of {a.get('rounds', '?')} rounds ({a.get('page_rounds', a.get('rounds', '?'))} "
               "for page views, each round starting at another column) ± half the range between "
               f"the slowest and the fastest round. Page views: wrk, 1 thread, "
               f"{a.get('wrk_connections', '?')} connections, {a.get('wrk_seconds', '?')} s "
               f"per round and page, against nginx + php-fpm ({a.get('fpm_workers', '?')} "
               "workers, opcache, validate_timestamps=0) serving the tree from each "
               "filesystem. ↑ higher is better, ↓ lower is better. Policy: "
               f"{m.get('policy', '?')}. Sizes: the {a.get('mode', 'default')} run.")
    if m.get("small_method"):
        out += ["", "Small files (the four small-file rows and rename-over) of native, overlayfs "
                f"and fuse-overlayfs: {m['small_method']}; pressfs keeps its files in Redis "
                "and memcached."]
    if m.get("static"):
        out += ["", f"Static rows: {m['static']}."]
    if m.get("disk"):
        out += ["", "The lower tree (with its large file) and the files of native, overlayfs and "
                f"fuse-overlayfs (their upper dirs) are on a data disk: {m['disk']}, so that a "
                "cold read or an fsync does not measure the virtual machine's disk. Large "
                "writes start once earlier writeback is done."]
    out.append("")
    out.append(table(data))
    out.append("")
    gt = goal_table(data)
    if gt:
        out += ["### Goals", "", gt]
    ec = ext_cost(data)
    if ec:
        out += ["", "### What pressfs.so costs a PHP call", "", ec]
    sc = static_costs(data)
    if sc:
        out += ["", "### What one static request costs pressfs", "", sc]
    bd = daemon_breakdown(data)
    if bd:
        out += ["", "### Daemon requests per warm page view, by type", "", bd]
    notes = list(data.get("notes", []))
    labels = {k: lab for k, lab, *_ in rows(m, data.get("extra"))}
    for key, cols in sorted(data.get("not_measured", {}).items()):
        for col, why in sorted(cols.items()):
            notes.append(f"{labels.get(key, key).split(' (')[0]}, {col}: not measured: {why}.")
    ex = data.get("extra", {})
    if ex.get("passthrough"):
        notes.append(f"Large lower file, FUSE passthrough: {ex['passthrough']} "
                     f"({ex.get('passthrough_detail', '')}).")
    if notes:
        out += ["", "### Notes", ""] + [f"- {n}" for n in notes]
    if chart_name:
        out += ["", f"![speed relative to native]({chart_name})"]
    return "\n".join(out) + "\n"


def chart(data, png):
    """Clustered bars: each filesystem's speed relative to native (log scale)."""
    meta = data["meta"]
    others = [c for c in COLUMNS[1:] if c in meta.get("columns", [])]
    if not others:
        return False
    dat = png[:-4] + ".dat"
    lines = []
    for key, label, unit, better, in_chart in rows(meta):
        if not in_chart:
            continue
        vals = []
        for c in others:
            r = ratio(data, key, c)
            if r is not None and better == LOWER:
                r = 1 / r if r else None
            vals.append(f"{r:.4f}" if r else "NaN")
        if all(v == "NaN" for v in vals):
            continue
        short = label.replace('"', "'")
        if len(short) > 46:
            short = short[:44] + "…"
        lines.append(f'"{short}" ' + " ".join(vals))
    if not lines:
        return False
    with open(dat, "w") as f:
        f.write("\n".join(lines) + "\n")
    plots = ", ".join(f"'{dat}' using {i + 2}:xtic(1) title '{c}'" if i == 0 else
                      f"'' using {i + 2} title '{c}'" for i, c in enumerate(others))
    script = f"""set terminal pngcairo size 1400,{420 + 26 * len(lines)} font 'DejaVu Sans,10'
set output '{png}'
set title 'Speed relative to native (1 = native; higher is better; latencies inverted)'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [0.01:*]
set grid ytics
set xtics rotate by 40 right
set key top right
set bmargin 14
set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 2 lc rgb 'black'
plot {plots}
"""
    if not shutil.which("gnuplot"):  # `make bench-deps` installs it; the table needs none
        os.unlink(dat)
        return False
    r = subprocess.run(["gnuplot"], input=script, capture_output=True, text=True)
    os.unlink(dat)
    if r.returncode != 0:
        print(f"report: gnuplot failed: {r.stderr}", file=sys.stderr)
        return False
    return True


def write_all(data, outdir, name="latest"):
    png = os.path.join(outdir, f"{name}.png")
    have_chart = chart(data, png)
    md = markdown(data, f"{name}.png" if have_chart else None)
    with open(os.path.join(outdir, f"{name}.md"), "w") as f:
        f.write(md)
    return md


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__),
                                                              "results", "latest.json")
    with open(path) as f:
        d = json.load(f)
    print(write_all(d, os.path.dirname(os.path.abspath(path))))
