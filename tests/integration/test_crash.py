# test_crash.py - kill -9 of a daemon in the middle of concurrent rewrites: every file keeps its old
# or its new content, never a mix, as seen by the surviving node and after a remount.

import hashlib
import os
import random
import select
import subprocess
import sys
import time

import pytest

from harness import read_bytes, versioned_content, write_bytes

UP = "wp-content/uploads"
HERE = os.path.dirname(os.path.abspath(__file__))
METHODS = ["trunc", "trunc", "rdwr", "rename"]
PER_WRITER = 2


def _digests(i):
    return {hashlib.sha256(versioned_content(i, t)).hexdigest(): t for t in ("old", "new")}


def _check(m, files):
    """Return [(path, problem)] for files whose content is neither version."""
    bad = []
    for i, rel in files:
        try:
            data = read_bytes(m / rel)
        except OSError as e:
            bad.append((rel, os.strerror(e.errno)))
            continue
        if hashlib.sha256(data).hexdigest() not in _digests(i):
            bad.append((rel, "%d bytes, head %r: neither old nor new" % (len(data), data[:12])))
    # the rename writers' temp files: absent, empty (just created) or complete
    d = m / UP + "/crash"
    for n in os.listdir(d):
        if ".tmp." in n:
            i = int(n.split("-")[1].split(".")[0])
            data = read_bytes(os.path.join(d, n))
            if data and hashlib.sha256(data).hexdigest() not in _digests(i):
                bad.append((n, "temp file of %d bytes is partial" % len(data)))
    return bad


def _start_writers(m, files, procs):
    ws = []
    for w, method in enumerate(METHODS):
        mine = files[w * PER_WRITER:(w + 1) * PER_WRITER]
        args = ["%d:%s" % (i, m / rel) for i, rel in mine]
        ws.append(procs(subprocess.Popen([sys.executable, os.path.join(HERE, "writer.py"), method]
                                         + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         stdin=subprocess.DEVNULL)))
    return ws


def _wait_ready(ws, timeout):
    deadline = time.monotonic() + timeout
    for p in ws:
        r, _, _ = select.select([p.stdout], [], [], max(0.0, deadline - time.monotonic()))
        assert r, "a writer did not finish a first pass within %ss" % timeout
        line = p.stdout.readline().decode().strip()
        assert line == "ready", "writer said %r, stderr: %s" % (
            line, p.stderr.read().decode(errors="replace") if p.poll() is not None else "")


@pytest.mark.limit(300)
def test_kill9_during_concurrent_writes_leaves_whole_files(mount, procs):
    a = mount("a")
    b = mount("b")
    os.makedirs(a / UP + "/crash")
    n = len(METHODS) * PER_WRITER
    files = [(i, UP + "/crash/file-%d.bin" % i) for i in range(n)]
    for i, rel in files:
        write_bytes(a / rel, versioned_content(i, "old"))
    rng = random.Random(1234)
    for round_ in range(2):
        ws = _start_writers(a, files, procs)
        _wait_ready(ws, 120)
        time.sleep(rng.uniform(0.05, 0.4))      # somewhere in the middle of the next pass
        a.kill9()
        for p in ws:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                pytest.fail("a writer hung after its daemon died (it should get ENOTCONN)")
        bad = _check(b, files)
        assert bad == [], "round %d, surviving node B: %s" % (round_, bad)
        a.stop()
        a = mount("a")                         # the same node comes back
        bad = _check(a, files)
        assert bad == [], "round %d, after remount: %s" % (round_, bad)
    # the remounted node writes normally, and B sees it
    write_bytes(a / UP + "/crash/after.txt", b"after the crashes\n")
    assert read_bytes(b / UP + "/crash/after.txt") == b"after the crashes\n"
