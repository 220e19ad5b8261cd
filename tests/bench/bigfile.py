"""bigfile - the bench's large-file workload: a sequential write + fsync into uploads/ and its
read back (warm, then cold), and the large file of the lower tree read warm and cold; for pressfs
also whether the warm lower read used FUSE passthrough.  On the data disk (loopfs.RamDisk) a cold
read reaches a device of constant speed; every write starts once earlier writeback is done."""

import time

UPLOADS = "wp-content/uploads/pressfs-bench"          # bench.BENCH_UPLOADS: class shared
LOWER_BIG = "wp-content/pressfs-bench-lower.bin"      # bench.LOWER_BIG


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def warm_up(bench):
    """One pass of the full size on every column, not counted: the first large write on a
    file system (the allocator reading its bitmaps, the data disk's first use) ran at a third
    of the rate of the next ones, in the first round; a warm-up of a quarter of the size still
    left the first round at a quarter of the rate of the others."""
    a = bench.args
    mib = a.big_mib
    for c in bench.fs_cols():
        f = c.path(f"{UPLOADS}/big-warm.bin")
        for argv in (["write", f, mib, "--fsync"], ["read", f, "--drop-caches"], ["rm", f]):
            bench.cell("_warm", c, lambda: bench.fsload(c, argv, a.big_timeout))


def run(bench):
    a = bench.args
    t = a.big_timeout
    warm_up(bench)
    for r in range(a.rounds):
        if not bench.another_round(r, a.rounds):
            break
        for c in bench.rotated(bench.fs_cols(), r):
            f = c.path(f"{UPLOADS}/big-{r}.bin")
            bench.settle()  # the last column's 512 MiB and its unlink written back first
            ok = bench.cell("big_write", c, lambda: bench.fsload(
                c, ["write", f, a.big_mib, "--fsync"], t)["mb_s"])
            if ok:
                bench.cell("_prime", c, lambda: bench.fsload(c, ["read", f], t) and None)
                bench.cell("big_read_warm", c,
                           lambda: bench.fsload(c, ["read", f], t)["mb_s"])
                bench.cell("big_read_cold", c,
                           lambda: bench.fsload(c, ["read", f, "--drop-caches"], t)["mb_s"])
            bench.cell("_cleanup", c, lambda: bench.fsload(c, ["rm", f], t))
            low = c.path(LOWER_BIG)
            bench.cell("_prime", c, lambda: bench.fsload(c, ["read", low], t) and None)
            before = reads(c)
            bench.cell("lower_read_warm", c,
                       lambda: bench.fsload(c, ["read", low], t)["mb_s"])
            if c.name == "pressfs":
                passthrough(bench, c, before)
            bench.settle()
            bench.cell("lower_read_cold", c,
                       lambda: bench.fsload(c, ["read", low, "--drop-caches"], t)["mb_s"])
        log(f"large file: round {r + 1}/{a.rounds} done ({bench.elapsed():.0f}s)")


def reads(c):
    if c.name != "pressfs" or c.dead:
        return None
    try:
        return c.fs.request_counts().get("read", 0)
    except Exception:
        return None


def passthrough(bench, c, reads_before):
    """Whether the warm lower read used FUSE passthrough: the daemon's status says so in a
    `passthrough` field where it has one; the READs it answered are counted either way."""
    try:
        st = c.fs.status()
    except Exception as e:
        log(f"pressfs status failed: {e}")
        return
    pt = st.get("passthrough")
    if pt is None:
        pt = {k: v for k, v in st.get("events", {}).items() if "passthrough" in k} or None
    if pt is None:
        text, why = "not available", "the daemon's status has no passthrough field"
    elif isinstance(pt, dict):
        text = "yes" if any(pt.values()) else "no"
        why = ", ".join(f"{k} {v}" for k, v in sorted(pt.items()))
    else:
        text = "yes" if pt and pt not in ("no", "off", "0") else "no"
        why = f"status says passthrough: {pt}"
    reads_now = st.get("requests", {}).get("read")
    if reads_now is not None and reads_before is not None:
        why += f"; the daemon answered {reads_now - reads_before} READs during the warm read"
    bench.res.extra("passthrough", text)
    bench.res.extra("passthrough_detail", why)  # the last round's, in the report's notes
