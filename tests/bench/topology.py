"""topology - `make bench`'s topology workload: one site on a single Redis, behind Redis
Sentinel (a primary, a replica, three sentinels) and on a Redis Cluster (three primaries, a
replica each), mounted by two peers; the upload rate into it and how soon the other peer reads
a change, measured as the upload_1m and cross-node rows are (fsload.py's `upload` and
`crossnode`).  Each topology runs with its own default durability (docs/TOPOLOGY.md): the
single Redis without WAIT, Sentinel and Cluster waiting for one replica, as a user gets them.

The servers are the integration tests' set-up (start_topology, start_cluster), on loopback in
the bench's temp dir, stopped by pid when their topology is done, whatever happened.  Alone:
    make bench BENCH_ARGS='--only topology --columns pressfs'"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from harness import Redis  # noqa: E402
import mounts  # noqa: E402  (tests/env, on the path bench.py set)
import test_cluster  # noqa: E402  (start_cluster)
import test_sentinel  # noqa: E402  (start_topology)

# the order they run in; their rows and labels are in report.rows()
STORES = ("single", "sentinel", "cluster")


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


def measure(bench, name, top):
    """Rounds of uploads and cross-node visibility on topology NAME, in the pressfs column."""
    a = bench.args
    started, peers = [], []
    col = bench.tool_column()
    try:
        try:
            url = start_store(name, top, started)
            for node in ("a", "b"):
                peers.append(bench.env.start(mounts.Pressfs(
                    bench.env, bench.lower, a.pressfs, bench.policy, url, "bench",
                    name=f"pressfs-{name}-{node}", node=f"topo-{node}")))
        except Exception as e:
            why = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
            for row in ("topo_upload_", "topo_vis_"):
                bench.res.fail(row + name, f"set-up failed: {why}")
            return
        col.fs = peers[0]
        for r in range(a.rounds):
            d = f"{bench.UPLOADS}/topo-{name}-{r}"
            bench.cell(f"topo_upload_{name}", col, lambda: bench.fsload(
                col, ["upload", col.path(d + "/up"), 1, a.topo_files],
                a.xnode_timeout)["mb_s"])
            bench.cell(f"topo_vis_{name}", col, lambda: bench.fsload(
                col, ["crossnode", col.path(d + "/vis"), os.path.join(peers[1].root, d, "vis"),
                      a.topo_trials], a.xnode_timeout)["p50_ms"])
    finally:
        for p in reversed(peers):
            bench.env.stop(p)
        for s in reversed(started):
            s.stop()


def run(bench):
    top = bench.env.mkdir("topology")
    for name in STORES:
        measure(bench, name, top)
        bench.progress(f"topology: {name} done ({bench.elapsed():.0f}s)")
