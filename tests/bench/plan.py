"""plan - how long each `make bench` workload should take, and the progress line printed after
each one with an estimate of the time left.  The per-unit costs below were read off earlier runs
on the machine of docs/PERFORMANCE.md (2 shared CPUs); the estimate of what is left is scaled by
how the finished workloads compared with their own estimates, so a slower machine corrects it."""

import argparse
import os
import time


SETUP = 30    # seconds of set-up before the first workload (WordPress, mounts, the data disk)
RESERVE = 20  # seconds kept for the clean-up: no workload or round starts that would eat them


def estimate(name, a, ncols, nfs):
    """Seconds workload NAME should take with arguments A, NCOLS columns (NFS of them file
    systems, i.e. not pressfs+ext).  Where a file system's speed is not known in advance (the
    pressfs small-file cells, its cold-start files) the time bound that caps it is counted."""
    nfuse = min(nfs, 2)                    # fuse-overlayfs and pressfs: the slow ones
    next4 = max(nfs - nfuse, 0)            # native, overlayfs
    if name == "pages":
        return (a.page_rounds * ncols * 2 * (a.wrk_seconds + 0.3)
                + ncols * (a.warmup_views * 0.1 + 1) + 2 * 2 * 30 * 0.1)
    if name == "storm":
        return a.rounds * ncols * (a.storm_seconds + 0.5)
    if name == "ext":
        return 2 + a.rounds * 4 * 5 * ext_calls(a) * 7e-6
    if name == "static":
        return (nfs * (2 * a.static_files * 0.003 + 3) + nfs * 2 * (STATIC_WARM + 0.5)
                + a.rounds * 4 * nfs * (a.static_seconds + 0.15) + 5)
    if name == "small":
        return a.rounds * small_round(a, nfs)
    if name == "uploads":
        return a.rounds * (2 + nfs * (0.3 + (64 * a.upload_64m_count + a.upload_1m_count)
                                      / 400))
    if name == "bigfile":
        # the rounds and the warm-up (a round's size): 53 s for 4 rounds of 512 MiB on four
        # file systems, the run of 18:35 UTC on 2026-12-04
        return (a.rounds + 1) * nfs * (1 + a.big_mib / 1024 * 4)
    if name == "crossnode":
        return 5 + a.rounds * a.xnode_files * 0.005
    if name == "coldstart":
        # the ext4 columns' files and rounds, then pressfs's once what earlier workloads
        # removed from Redis has waited out its grace (from the workload's start), bounded
        ext4 = a.cold_files * (1 / 30000 + 1 / 21000) * next4 / 2
        fuse = min(a.cold_files / 6300, a.populate_seconds) if nfuse == 2 else 0
        first = ext4 + fuse + a.rounds * ((nfs - 2) * 4 + (nfs - 1) * 1.5)
        pressfs = (a.populate_seconds + 1 + a.rounds * (4 + 2 * 1.5)) if nfs else 0
        return max(first, GRACE_WAIT) + pressfs
    if name == "policy":
        # a linear compile: 0.04 s at 20,000 rules, 0.3 s at 100,000 (the run of 04:43 UTC);
        # a slower build is cut at policy_timeout, and its rounds stop after a 10 s one
        small = min(a.policy_rules[0] / 100000 * 0.5, a.policy_timeout)
        return 3 + a.rounds * (small + min(a.policy_rules[1] / 100000 * 0.5, a.policy_timeout))
    if name == "import":
        return 5 + a.rounds * (3 + a.import_small_files / 5000
                               + a.import_large_files * a.import_large_mib / 300)
    if name == "topology":
        # set-up: a Redis, Sentinel (its sentinels find each other), a cluster, two mounts
        # each; then per round and topology the 1 MiB uploads (as upload_1m, ~300 MB/s with
        # a WAIT) and the visibility files (as crossnode): 29 s in all at the default sizes
        # (21:32 UTC, 2026-12-04)
        return 26 + a.rounds * 3 * (a.topo_files / 300 + a.topo_trials * 0.003)
    return 30


GRACE_WAIT = 70  # s from the cold-start workload's start: grace (60 s) and a margin
STATIC_WARM = 1  # s of wrk per column and server before the static rows' first round


def small_round(a, nfs):
    """One round of the small-file workload: for each ext4 column three fresh images (about
    a second each, with the mount) and its files (reads and unlinks as long as the creates);
    pressfs at most small_seconds a cell, and as long again for the unlinks, since its rate
    is what is being measured."""
    ss = a.small_seconds
    per = {"native": 1 / 30000, "overlayfs": 1 / 21000, "fuse-overlayfs": 1 / 1800}
    cols = ["native", "overlayfs", "fuse-overlayfs"][:max(nfs - 1, 0)] + ["pressfs"] * (nfs > 0)
    t = 0.0
    for c in cols:
        if c == "pressfs":
            t += 2 * (2 * ss + 1) + (ss + 1)
            continue
        create = min(a.small_files * per[c], ss)   # the bound caps the creates
        t += 2 * (1 + 2 * create) + 1 + min(a.rename_ops * per[c] * 1.5, ss)
    return t


def total(a, ncols, nfs):
    """Seconds the whole run should take: set-up, every workload of A.only, the clean-up."""
    return SETUP + sum(estimate(w, a, ncols, nfs) for w in a.only) + RESERVE


def ext_calls(a):
    return 5000 if a.quick else 50000


class Progress:
    """The progress lines: which workload of how many, how long it took against its estimate,
    and about how long the rest should take (scaled by what the finished ones took)."""

    def __init__(self, plan, est, log):
        self.plan = list(plan)
        self.est = dict(est)
        self.log = log
        self.spent = 0.0
        self.expected = 0.0
        self.started = None
        self.took = 0.0

    def scale(self):
        if self.expected < 30:
            return 1.0
        return min(max(self.spent / self.expected, 0.5), 3.0)

    def left(self, after):
        rest = self.plan[self.plan.index(after) + 1:] if after in self.plan else self.plan
        return sum(self.est[w] for w in rest) * self.scale()

    def begin(self, name, elapsed):
        self.started = time.monotonic()
        i = self.plan.index(name) + 1
        self.log(f"== {name} ({i}/{len(self.plan)}): about {self.est[name] * self.scale():.0f}"
                 f" s, at {elapsed:.0f} s into the run")

    def end(self, name, elapsed):
        """Account for NAME's time; returns its progress line (printed by the caller once
        the results are written)."""
        took = self.took = time.monotonic() - self.started
        self.spent += took
        self.expected += self.est[name]
        i = self.plan.index(name) + 1
        left = self.left(name)
        eta = time.strftime("%H:%M", time.localtime(time.time() + left))
        return (f"== {name} done in {took:.0f} s (estimated {self.est[name]:.0f}); "
                f"{i}/{len(self.plan)} workloads, {elapsed:.0f} s so far, about "
                f"{left / 60:.1f} min left (done near {eta})")


# The default run (at most 15 minutes on the machine of docs/PERFORMANCE.md, whatever pressfs's
# speed: its slow cells are bounded in time), --full (the long sizes: about 30 minutes) and
# --quick (a minute or two: checks the harness, the numbers mean nothing).
DEFAULTS = dict(rounds=3, page_rounds=3, wrk_seconds=5, storm_seconds=2, small_files=5000,
                rename_ops=2000, small_seconds=3.0, big_mib=512, upload_64m_count=2,
                upload_1m_count=32, xnode_files=1000, cold_files=100000, populate_seconds=60.0,
                warmup_views=15, static_files=400, static_seconds=2,
                policy_rules="20000,100000", policy_timeout=20, import_small_files=10000,
                import_large_files=8, import_large_mib=32, topo_files=32, topo_trials=100,
                budget=900)
FULL = dict(page_rounds=5, wrk_seconds=8, storm_seconds=3, small_files=10000,
            small_seconds=30.0, big_mib=1024, populate_seconds=240.0, static_seconds=4,
            policy_timeout=180, import_large_files=16, budget=2400)
QUICK = dict(rounds=1, page_rounds=1, wrk_seconds=2, storm_seconds=1, small_files=500,
             rename_ops=200, small_seconds=5.0, big_mib=64, upload_64m_count=1,
             upload_1m_count=4, xnode_files=50, cold_files=2000, populate_seconds=30.0,
             warmup_views=3, static_files=40, static_seconds=1, policy_rules="2000,5000",
             policy_timeout=30, import_small_files=500, import_large_files=2,
             import_large_mib=8, topo_files=4, topo_trials=10, budget=900)
# `pressfs import` as the operations work (issue 16) defines it: SRC is an uploads directory.
IMPORT_CMD = "{pressfs} import {src} --store {store} --site {site} --policy {policy} --no-verify"


def parse_args(argv, doc, workloads, columns, root, results):
    """The bench's options; the sizes come from DEFAULTS, FULL or QUICK unless given."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    size = p.add_argument_group("sizes (defaults: the ~15 minute run; --full and --quick "
                                "change them, an explicit option wins)")
    size.add_argument("--full", action="store_true",
                      help="the long sizes: 5 rounds of 8 s page views, 10,000 small files, "
                      "a 1 GiB file, 4 s per static row, 180 s for a policy compile")
    size.add_argument("--quick", action="store_true",
                      help="tiny sizes, one round: checks the harness only")
    for k, v in DEFAULTS.items():
        size.add_argument("--" + k.replace("_", "-"), type=type(v), default=None,
                          help=f"default {v}" + (f", --full {FULL[k]}" if k in FULL else ""))
    p.add_argument("--wrk-connections", type=int, default=4)
    p.add_argument("--fpm-workers", type=int, default=4)
    p.add_argument("--small-timeout", type=int, default=600)
    p.add_argument("--big-timeout", type=int, default=300)
    p.add_argument("--xnode-timeout", type=int, default=600)
    p.add_argument("--disk", choices=("ram", "tmp"), default="ram",
                   help="where the lower tree and the ext4 columns' files live: an ext4 on a "
                   "RAM-backed loop device (default: the virtual disk's speed does not vary "
                   "the native cells), or the temp dir's file system")
    p.add_argument("--no-fresh-images", dest="fresh_images", action="store_false",
                   help="small files of native/overlayfs/fuse-overlayfs on the temp dir's file "
                   "system (as before), not on a fresh ext4 image each")
    p.add_argument("--import-cmd", default=IMPORT_CMD,
                   help="how `pressfs import` is called; {pressfs} {store} {site} {policy} "
                   "{src} {lower} are filled in (default: %(default)s)")
    p.add_argument("--only", default=",".join(workloads),
                   help="comma-separated subset of " + ",".join(workloads) + ", run in the "
                   "order given")
    p.add_argument("--columns", default=",".join(columns),
                   help="comma-separated subset of " + ",".join(columns))
    p.add_argument("--pressfs", default=os.path.join(root, "obj", "pressfs"))
    p.add_argument("--ext", default=os.path.join(root, "obj", "ext", "modules", "pressfs.so"))
    p.add_argument("--tmp", default=None, help="where the temp dir goes (default $TMPDIR)")
    p.add_argument("--out", default=results)
    p.add_argument("--keep", action="store_true", help="keep the temp dir")
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args(argv)
    if a.full and a.quick:
        p.error("--full and --quick exclude each other")
    for k, v in DEFAULTS.items():
        if getattr(a, k) is None:
            v = QUICK.get(k, v) if a.quick else FULL.get(k, v) if a.full else v
            setattr(a, k, v)
    a.mode = "quick" if a.quick else "full" if a.full else "default"
    try:
        a.policy_rules = [int(x) for x in str(a.policy_rules).split(",")][:2]
        if len(a.policy_rules) != 2:
            raise ValueError
    except ValueError:
        p.error("--policy-rules takes two counts, e.g. 20000,100000")
    a.only = [w.strip() for w in a.only.split(",") if w.strip()]
    for w in a.only:
        if w not in workloads:
            p.error(f"unknown workload {w}")
    a.columns = [c.strip() for c in a.columns.split(",") if c.strip()]
    for c in a.columns:
        if c not in columns:
            p.error(f"unknown column {c}")
    return a
