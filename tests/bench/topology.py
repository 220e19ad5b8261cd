#!/usr/bin/python3
"""topology - `make bench`'s topology workload: one site on a single Redis, behind Redis
Sentinel (a primary, a replica, three sentinels) and on a Redis Cluster (three primaries, a
replica each), two peers mounting it: the rate of uploads into it and how soon the other peer
reads a change.  Each topology runs with its own default durability (docs/TOPOLOGY.md): the
single Redis without WAIT, Sentinel and Cluster waiting for one replica, as a user gets them.

The servers are started here (the integration tests' set-up, on loopback, in the bench's temp
dir) and stopped by pid when the topology is done, whatever happened.  Standalone:
    /usr/bin/python3 tests/bench/topology.py [--files N] [--trials N] [--rounds N]"""

import argparse
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import harness  # noqa: E402
from harness import Mount, Redis, make_synthetic_lower, pattern_bytes, read_bytes  # noqa: E402
import test_cluster  # noqa: E402  (start_cluster)
import test_sentinel  # noqa: E402  (start_topology)

UP = "wp-content/uploads"
SIZE = 100000  # bytes per upload: a web-sized image
SITE = "bench"
# the order they run in; their rows and labels are in report.rows()
STORES = ("single", "sentinel", "cluster")
ROWS = ("topo_upload_", "topo_vis_")  # + a store's name: files/s, ms


def start_store(name, top, started):
    """The store URL of topology NAME, its servers started under TOP (and added to STARTED)."""
    if name == "single":
        r = Redis(os.path.join(top, "single")).start()
        started.append(r)
        return r.url
    if name == "sentinel":
        _, _, sents = test_sentinel.start_topology(os.path.join(top, "sentinel"), started, 1)
        return test_sentinel.url(sents)
    return test_cluster.url(test_cluster.start_cluster(os.path.join(top, "cluster"), started))


def upload(m, tag, files):
    """Files per second of FILES new files of SIZE bytes written one after the other on M."""
    data = pattern_bytes("up", SIZE)
    os.makedirs(m / ("%s/%s" % (UP, tag)), exist_ok=True)
    t0 = time.monotonic()
    for i in range(files):
        with open(m / ("%s/%s/up-%d.bin" % (UP, tag, i)), "wb") as f:
            f.write(data)
    return files / (time.monotonic() - t0)


def visibility(a, b, tag, trials):
    """The median milliseconds from A's close() of a rewrite to B reading it (B holding the
    old content) over TRIALS; a change B has not read after 2 s stops the measurement."""
    rel = "%s/%s/vis.txt" % (UP, tag)
    out = []
    for i in range(trials):
        old, new = b"old %d\n" % i, b"new %d, longer\n" % i
        with open(a / rel, "wb") as f:
            f.write(old)
        deadline = time.monotonic() + 2
        while read_bytes(b / rel) != old:
            if time.monotonic() > deadline:
                raise RuntimeError("the other peer did not read a change within 2 s")
            time.sleep(0.001)
        with open(a / rel, "wb") as f:
            f.write(new)
        t0 = time.monotonic()
        while read_bytes(b / rel) != new:
            if time.monotonic() - t0 > 2:
                raise RuntimeError("the other peer did not read a change within 2 s")
            time.sleep(0.0005)
        out.append((time.monotonic() - t0) * 1000)
    return statistics.median(out)


def measure(name, top, rounds, files, trials, add, fail):
    """Start topology NAME, mount it twice, and ADD(row, value) each round's upload rate and
    visibility; FAIL(row, why) for what could not be measured.  Everything started is
    stopped before returning."""
    started, mounts = [], []
    try:
        try:
            url = start_store(name, top, started)
            lower = os.path.join(top, "lower-" + name)
            make_synthetic_lower(lower)
            for node in ("a", "b"):
                mounts.append(Mount(url, lower, os.path.join(top, "%s-%s" % (name, node)),
                                    site=SITE, node=node).start())
        except Exception as e:
            why = f"set-up failed: {str(e).strip().splitlines()[0][:160]}" if str(e) \
                else type(e).__name__
            for row in ROWS:
                fail(row + name, why)
            return
        a, b = mounts
        for r in range(rounds):
            for row, fn in (("topo_upload_", lambda: upload(a, "r%d" % r, files)),
                            ("topo_vis_", lambda: visibility(a, b, "r%d" % r, trials))):
                try:
                    add(row + name, fn())
                except Exception as e:
                    fail(row + name, str(e).strip().splitlines()[0][:200] if str(e)
                         else type(e).__name__)
    finally:
        for m in reversed(mounts):
            m.stop()
        for s in reversed(started):
            s.stop()


def run(bench):
    """The workload in bench.py: rows in the pressfs column."""
    a = bench.args
    harness.PRESSFS = a.pressfs  # the daemon the bench was given
    top = bench.env.mkdir("topology")
    col = bench.tool_column()
    for name in STORES:
        measure(name, top, a.rounds, a.topo_files, a.topo_trials,
                lambda row, v: bench.res.add(row, col.name, v),
                lambda row, why: bench.res.fail(row, col.name, why))
        bench.progress(f"topology: {name} done ({bench.elapsed():.0f}s)")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=200)
    p.add_argument("--trials", type=int, default=30)
    p.add_argument("--rounds", type=int, default=1)
    args = p.parse_args()
    res = {}
    with tempfile.TemporaryDirectory(prefix="pressfs-topology-") as top:
        for name in STORES:
            measure(name, top, args.rounds, args.files, args.trials,
                    lambda row, v: res.setdefault(row, []).append(v),
                    lambda row, why: res.setdefault(row, []).append(why))
    for key in sorted(res):
        print("%-22s %s" % (key, ", ".join("%.2f" % v if isinstance(v, float) else v
                                           for v in res[key])))


if __name__ == "__main__":
    main()
