"""test_bench - `make bench` keeps what it measured: a --quick run interrupted (SIGTERM, SIGINT)
once its first workload has finished leaves that workload's rows in latest.json and latest.md,
marked partial with the workloads it did not reach, and leaves nothing mounted, attached or
running.  Run by `make bench-tests` (part of `make test`); needs root, like the bench."""

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

BENCH = os.path.join(HERE, "bench.py")
# small first (the fresh ext4 images: loop devices to clean up), then two that it never finishes
ONLY = "small,uploads,bigfile"
COLUMNS = "native,overlayfs,fuse-overlayfs,pressfs"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the bench mounts: needs root")


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


def leftovers(base, pids):
    """What the bench left behind below BASE: mounts, loop devices, processes."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4]
            if mp.startswith(base):
                found.append(f"mounted: {mp}")
    for dev, backing in loopfs.backing_files().items():
        if backing.startswith(base):
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
    assert re.search(r"^\| 500 × 4 KiB create\+write\+close, uploads/ \(shared\) \|", md, re.M)

    left = leftovers(base, m.get("pids", {}))
    assert not left, left
    assert os.listdir(base) == [], "the bench's temp dir was not removed"
