#!/usr/bin/python3
# topology.py - upload rate and cross-peer visibility of one site on a single Redis and on a
# Redis Cluster (three primaries, a replica each), two peers mounting it; standalone (the servers
# and mounts are its own, on loopback, stopped by pid at the end), not part of bench.py.
#
#   tests/bench/topology.py [--files N] [--size BYTES] [--trials N]
#
# Rows: single and cluster with durability=0 (no WAIT: the same work on both), and the cluster
# with its default durability=1 (each change waits for a replica).

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
import test_cluster  # noqa: E402  (its Node and cluster set-up)

UP = "wp-content/uploads"


def upload(m, files, size):
    """Files per second and MB/s of FILES new files of SIZE bytes written one after the other."""
    data = pattern_bytes("up", size)
    t0 = time.monotonic()
    for i in range(files):
        with open(m / ("%s/up-%d.bin" % (UP, i)), "wb") as f:
            f.write(data)
    dt = time.monotonic() - t0
    return files / dt, files * size / dt / 1e6


def visibility(a, b, trials):
    """Milliseconds from A's close() of a rewrite to B reading it, B holding the old content;
    the median and the worst of TRIALS."""
    rel = UP + "/vis.txt"
    out = []
    for i in range(trials):
        old, new = b"old %d\n" % i, b"new %d, longer\n" % i
        with open(a / rel, "wb") as f:
            f.write(old)
        while read_bytes(b / rel) != old:
            time.sleep(0.001)
        with open(a / rel, "wb") as f:
            f.write(new)
        t0 = time.monotonic()
        while read_bytes(b / rel) != new:
            time.sleep(0.0005)
        out.append((time.monotonic() - t0) * 1000)
    return statistics.median(out), max(out)


def run(name, url, top, args, durability=0):
    lower = os.path.join(top, "lower-" + name)
    make_synthetic_lower(lower)
    extra = ["durability=%d" % durability]
    a = Mount(url, lower, os.path.join(top, name + "-a"), site="bench", node="a",
              extra=extra).start()
    b = Mount(url, lower, os.path.join(top, name + "-b"), site="bench", node="b",
              extra=extra).start()
    try:
        fps, mbs = upload(a, args.files, args.size)
        med, worst = visibility(a, b, args.trials)
    finally:
        b.stop()
        a.stop()
    print("%-8s %10.1f %8.1f %12.2f %10.2f" % (name, fps, mbs, med, worst), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--files", type=int, default=200)
    p.add_argument("--size", type=int, default=100000)
    p.add_argument("--trials", type=int, default=50)
    args = p.parse_args()
    started = []
    with tempfile.TemporaryDirectory(prefix="pressfs-topology-") as top:
        try:
            print("%-8s %10s %8s %12s %10s" % ("store", "files/s", "MB/s", "visible ms",
                                              "worst ms"))
            r = Redis(os.path.join(top, "single")).start()
            started.append(r)
            run("single", r.url, top, args)
            nodes = []
            for i in range(6):
                n = test_cluster.Node(os.path.join(top, "node%d" % i)).start()
                started.append(n)
                nodes.append(n)
            test_cluster.cli("--cluster", "create", *[n.addr() for n in nodes],
                             "--cluster-replicas", "1", "--cluster-yes")
            for n in nodes:
                harness.wait_for(lambda: test_cluster.state_ok(n), 60, what="cluster ok")
            run("cluster", test_cluster.url(nodes), top, args)
            # the cluster's default: every change waits for a replica
            for n in nodes:
                harness.wait_for(lambda: n.role() == "master" or b"master_link_status:up" in
                                 n.command("INFO", "replication"), 60, what="replicas")
            run("clust-d1", test_cluster.url(nodes), top, args, durability=1)
        finally:
            for s in reversed(started):
                s.stop()


if __name__ == "__main__":
    main()
