"""test_bench - `make bench` keeps what it measured and fits its time: a --quick run interrupted
(SIGTERM, SIGINT) once its first workload has finished leaves that workload's rows in latest.json
and latest.md, marked partial with the workloads it did not reach, and leaves nothing mounted,
attached or running; the default run's estimate fits in 15 minutes, a run out of budget starts no
workload, a slow file system's small-file cell stops at its time bound, and the Redis memory row
never calls a fall of used_memory a measurement.  Run by `make bench-tests` (part of `make
test`); the runs need root, like the bench."""

import json
import os
import re
import select
import signal
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "env"))
import loopfs  # noqa: E402
import bench  # noqa: E402
import plan  # noqa: E402
import report  # noqa: E402

BENCH = os.path.join(HERE, "bench.py")
# small first (the fresh ext4 images: loop devices to clean up), then two that it never finishes
ONLY = "small,uploads,bigfile"
COLUMNS = "native,overlayfs,fuse-overlayfs,pressfs"

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the bench mounts: needs root")


def run_until(argv, line_re, timeout):
    """Start ARGV; return (process, output so far) once a line of its stdout matches."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    out, buf = [], b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([p.stdout], [], [], 1)
        if not r:
            if p.poll() is not None:
                break
            continue
        chunk = os.read(p.stdout.fileno(), 65536)
        if not chunk:
            break
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for ln in lines:
            text = ln.decode(errors="replace")
            out.append(text)
            if re.search(line_re, text):
                return p, out
    p.kill()
    p.wait()
    pytest.fail(f"bench.py never printed /{line_re}/ within {timeout}s:\n" + "\n".join(out))


def drain(p, out, timeout):
    """Read the rest of P's output until it exits."""
    deadline = time.monotonic() + timeout
    buf = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([p.stdout], [], [], 1)
        if r:
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
        elif p.poll() is not None:
            break
    out += buf.decode(errors="replace").splitlines()
    try:
        return p.wait(timeout=max(1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        pytest.fail("bench.py did not exit after the signal:\n" + "\n".join(out[-40:]))


def leftovers(base, pids, images=()):
    """What the bench left behind below BASE: mounts, loop devices (also on IMAGES, the data
    disk's file in /dev/shm), processes."""
    found = [f"{img} still exists" for img in images if os.path.exists(img)]
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4]
            if mp.startswith(base):
                found.append(f"mounted: {mp}")
    for dev, backing in loopfs.backing_files().items():
        if backing.startswith(base) or any(backing.startswith(i) for i in images):
            found.append(f"loop device {dev} on {backing}")
    for name, pid in pids.items():
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            if state != "Z":
                found.append(f"{name} (pid {pid}) still running")
        except FileNotFoundError:
            pass
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace")
        except OSError:
            continue
        if base in argv and int(d) != os.getpid():
            found.append(f"process {d}: {argv.replace(chr(0), ' ')[:200]}")
    return found


@needs_root
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_interrupted_run_keeps_its_rows(tmp_path, sig):
    base = str(tmp_path / "tmp")
    outdir = str(tmp_path / "results")
    os.makedirs(base)
    os.chmod(tmp_path, 0o755)
    argv = ["/usr/bin/python3", BENCH, "--quick", "--only", ONLY, "--columns", COLUMNS,
            "--tmp", base, "--out", outdir]
    p, out = run_until(argv, r"== small done", timeout=600)
    # small is done and written; the next workload is running (or about to).  SIGTERM as
    # timeout(1) sends it, to the bench alone; SIGINT as Ctrl-C in a terminal, to the bench's
    # whole process group (the fsload, wrk or mount it is waiting for gets it too)
    if sig == signal.SIGINT:
        os.killpg(p.pid, sig)
    else:
        os.kill(p.pid, sig)
    rc = drain(p, out, timeout=300)
    text = "\n".join(out)
    assert rc == 0, text[-3000:]

    with open(os.path.join(outdir, "latest.json")) as f:
        data = json.load(f)
    m = data["meta"]
    assert m["partial"] is True, text[-2000:]
    assert m["interrupted"] == sig.name
    assert m["done"][:1] == ["small"]
    assert "bigfile" not in m["done"] and "bigfile" in m["not_reached"]
    assert m.get("cleaned_up") is True
    # the rows of the finished workload, for every column that mounted
    for row in ("small_create_shared", "small_read_shared", "small_create_cache",
                "small_read_cache", "rename_over"):
        got = data["samples"].get(row, {})
        for col in m["columns"]:
            assert got.get(col), f"{row} has no {col} sample: {data['samples']}"
    assert "native" in m["columns"] and "overlayfs" in m["columns"]
    assert m.get("small_method"), "the table does not say how the native side was measured"

    with open(os.path.join(outdir, "latest.md")) as f:
        md = f.read()
    assert "(partial run)" in md
    assert re.search(r"\*\*Partial run\*\*: interrupted \(" + sig.name, md), md[:1500]
    assert re.search(r"Not reached: [^.]*bigfile", md), md[:1500]
    assert re.search(r"^\| 500 \(or what 5 s allow\) × 4 KiB create\+write\+close, "
                     r"uploads/ \(shared\) \|", md, re.M), md

    assert m.get("disk_image"), "no data disk in RAM: " + "; ".join(data["notes"])
    left = leftovers(base, m.get("pids", {}), [m["disk_image"]])
    assert not left, left
    assert os.listdir(base) == [], "the bench's temp dir was not removed"


@needs_root
def test_topology_rows(tmp_path):
    """The topology workload measures uploads and visibility on a single Redis, Sentinel and
    a Redis Cluster it starts, shows them in the table, and stops every server it started."""
    base, outdir = str(tmp_path / "tmp"), str(tmp_path / "results")
    os.makedirs(base)
    os.chmod(tmp_path, 0o755)
    r = subprocess.run(["/usr/bin/python3", BENCH, "--quick", "--only", "topology",
                        "--columns", "pressfs", "--tmp", base, "--out", outdir],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    with open(os.path.join(outdir, "latest.json")) as f:
        data = json.load(f)
    assert data["meta"]["done"] == ["topology"], data["meta"]
    for store in ("single", "sentinel", "cluster"):
        for row in ("topo_upload_", "topo_vis_"):
            got = data["samples"].get(row + store, {}).get("pressfs")
            assert got and all(v > 0 for v in got), (row + store, data["samples"],
                                                      data["failed"])
    with open(os.path.join(outdir, "latest.md")) as f:
        md = f.read()
    for label in ("single Redis (durability=0)", "Sentinel: a primary, 1 replica",
                  "Redis Cluster: 3 primaries, 1 replica each"):
        assert re.search(r"^\| upload: 4 × 1 MiB files into uploads/, " + re.escape(label) +
                         r".*\| \d", md, re.M), md
        assert re.search(r"^\| cross-node visibility p50 \(10 files\), " + re.escape(label) +
                         r".*\| \d", md, re.M), md
    image = data["meta"].get("disk_image")
    left = leftovers(base, data["meta"].get("pids", {}), [image] if image else [])
    assert not left, left


# --- the time the run takes -------------------------------------------------------------------

def test_default_run_fits_in_fifteen_minutes():
    """The default run's estimate (set-up, every workload with all five columns, the clean-up)
    stays inside 15 minutes with a margin, and inside its own budget; the estimate counts
    pressfs's small-file cells at their time bound, so it holds whatever pressfs's speed."""
    a = bench.parse_args([])
    assert a.mode == "default" and a.budget <= 900
    total = plan.total(a, 5, 4)
    assert total <= 0.95 * 900, {w: plan.estimate(w, a, 5, 4) for w in a.only}
    assert total <= a.budget
    # the small-file workload is bounded: ten times slower pressfs cells cost it nothing more
    slow = bench.parse_args(["--small-files", "50000", "--rename-ops", "20000"])
    assert plan.small_round(slow, 4) <= plan.small_round(a, 4) + 4 * 2 * a.small_seconds
    assert a.only.index("policy") < a.only.index("small") < a.only.index("coldstart")
    assert a.only.index("import") < a.only.index("static")


def test_small_cell_stops_at_its_time_bound(tmp_path):
    """fsload's small-file cell creates what SECONDS allow and says how many: a file system
    too slow for COUNT files in that time gives a rate over the files it did create."""
    count = 10 ** 7  # far more than any file system here creates in a second
    r = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "fsload.py"), "small",
                        str(tmp_path / "d"), str(count), "4096", "0.5"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout.strip().splitlines()[-1])
    assert 0 < d["files"] < count
    assert d["mismatches"] == 0 and d["create_per_s"] > 0
    assert not os.listdir(tmp_path / "d"), "the cell left its files"


@needs_root
def test_run_out_of_budget_starts_no_workload(tmp_path):
    """A run whose budget is spent before a workload would end skips it, says so, and still
    writes its results and cleans up."""
    base, outdir = str(tmp_path / "tmp"), str(tmp_path / "results")
    os.makedirs(base)
    r = subprocess.run(["/usr/bin/python3", BENCH, "--quick", "--only", "policy,import",
                        "--columns", "native", "--budget", "10", "--tmp", base,
                        "--out", outdir], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    with open(os.path.join(outdir, "latest.json")) as f:
        data = json.load(f)
    m = data["meta"]
    assert m["skipped"] == ["policy", "import"] and m["done"] == [], m
    assert any("budget" in n for n in data["notes"]), data["notes"]
    assert m.get("cleaned_up") is True
    assert os.listdir(base) == []


# --- Redis memory per file --------------------------------------------------------------------

def memory_data(samples=None, not_measured=None):
    d = {"meta": {"columns": ["native", "pressfs"], "args": {}}, "samples": {}, "failed": {},
         "notes": [], "extra": {}, "not_measured": {}}
    if samples is not None:
        d["samples"]["redis_bytes_per_file"] = {"pressfs": samples}
    if not_measured:
        d["not_measured"]["redis_bytes_per_file"] = {"pressfs": not_measured}
    return d


def memory_goal(data):
    md = report.markdown(data)
    line = [ln for ln in md.splitlines() if ln.startswith("| Redis memory per 10-byte file |")]
    row = [ln for ln in md.splitlines() if ln.startswith("| Redis memory per 10-byte file (")]
    return (line[0] if line else None), (row[0] if row else None), md


@pytest.mark.parametrize("case", ["fell", "why"])
def test_memory_row_is_never_met_for_a_fall(case):
    """A fall of used_memory (-19,113 B per file in the run of 2026-12-04) is no measurement:
    the row and the goal say "not measured", never a number or "met"."""
    data = memory_data([-19113.0]) if case == "fell" else \
        memory_data(not_measured="12 keys of earlier workloads expired")
    goal, row, md = memory_goal(data)
    assert goal and "not measured" in goal and "met" not in goal.replace("measured", ""), md
    assert row and "not measured" in row and "19,113" not in row, md
    if case == "why":
        assert "not measured: 12 keys of earlier workloads expired" in md


def test_memory_row_measured():
    goal, row, md = memory_goal(memory_data([380.0, 390.0, 385.0]))
    assert "385 B **missed**" in goal, md
    goal, _, md = memory_goal(memory_data([200.0]))
    assert "200 B **met**" in goal, md


@needs_root
def test_memory_is_not_measured_while_earlier_data_expires(tmp_path):
    """scale.MemoryPerFile against a real Redis: keys that expire while files are stored (the
    grace of earlier workloads' data ending) make the difference no measurement; without them
    the growth per stored key is measured."""
    import pressenv
    import scale
    env = pressenv.Env(base=str(tmp_path), prefix="pressfs-benchtest-")
    try:
        redis = env.start(pressenv.Redis(env))
        for i in range(20):  # little is freed: used_memory still grows, by less
            redis.cli("SET", f"old:{i}", "x" * 100, "PX", "1500")
        mem = scale.MemoryPerFile(redis, time.monotonic(), wait=0)
        assert mem.left == 20
        for i in range(100):
            redis.cli("SET", f"new:{i}", "y" * 1000)
        time.sleep(2.5)
        for _ in range(60):  # active expiry takes its time on a loaded machine
            if scale.expiry_state(redis)[0] == 0:
                break
            time.sleep(0.5)
        per, why = mem.result(100)
        assert per is None and "expired" in why, (per, why)

        mem = scale.MemoryPerFile(redis, time.monotonic(), wait=30)
        assert mem.left == 0
        for i in range(200):
            redis.cli("SET", f"more:{i}", "0123456789")
        per, why = mem.result(200)
        assert why is None and per > 10, (per, why)
    finally:
        env.close()
