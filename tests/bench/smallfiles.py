"""smallfiles - the bench's small-file workload (4 KiB creates and reads in the shared and cache
classes, rename over a page): each ext4 column on a fresh ext4 image per cell (loopfs), every
cell bounded in time, so a slow file system costs the run a known number of seconds."""

import loopfs

UPLOADS = "wp-content/uploads/pressfs-bench"  # bench.BENCH_UPLOADS: class shared
CACHE = "wp-content/cache/pressfs-bench"      # bench.BENCH_CACHE: class cache


def target(bench, c, what, r):
    """The file system one measurement runs on.  pressfs: its mount (its files live in Redis
    and memcached).  The columns that write to ext4: a new ext4 image and a new mount of that
    column's kind on it (loopfs.METHOD), so that none of them creates files where thousands
    were just deleted.  Returns (column, things to stop after)."""
    if c.name == "pressfs" or not bench.args.fresh_images:
        return c, []
    fs, img = loopfs.fresh_column(bench.env, c.name, bench.lower, f"{c.name}-{what}-{r}")
    tmp = type(c)(c.name, fs)
    bench.fsload(tmp, ["mkdir", tmp.path(UPLOADS), tmp.path(CACHE)], 60)
    return tmp, [fs, img]


def one(bench, c, what, r, fn):
    """Run FN(column) on target(); a failure to make the image marks the cell."""
    try:
        t, stop = target(bench, c, what, r)
    except Exception as e:  # no loop devices here (a container?): measure as before
        msg = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        bench.args.fresh_images = False
        bench.res.meta["small_method"] = None
        bench.res.note(f"fresh ext4 images failed ({msg}): the small files of every column "
                       "were measured on the temp dir's file system instead")
        t, stop = c, []
    try:
        fn(t)
    finally:
        for thing in stop:
            bench.env.stop(thing)


def bounded(bench, c, what, done, wanted):
    """Keep how many of WANTED operations C did when the time a cell may take stopped it."""
    if done < wanted:
        key = f"small_bounded:{c.name}:{what}"
        bench.res.data["extra"].setdefault(key, []).append(done)


def say_bounded(bench):
    """One note per column and operation that the time bound stopped: how many were done."""
    a = bench.args
    for key, done in sorted(bench.res.data["extra"].items()):
        if not key.startswith("small_bounded:"):
            continue
        _, col, what = key.split(":", 2)
        wanted = a.rename_ops if what == "renames" else a.small_files
        span = f"{min(done):,}" + (f"-{max(done):,}" if max(done) != min(done) else "")
        bench.res.note(f"small files: {col} did {span} of the {wanted:,} {what} in the "
                       f"{a.small_seconds:g} s a cell may take ({len(done)} of its cells); its "
                       "rate is over the ones it did")


def run(bench):
    a = bench.args
    if a.fresh_images:
        bench.res.meta["small_method"] = loopfs.METHOD
    bench.res.meta["small_seconds"] = a.small_seconds
    secs = str(a.small_seconds)
    for r in range(a.rounds):
        if not bench.another_round(r, a.rounds):
            break
        for c in bench.rotated(bench.fs_cols(), r):
            for cls, base in (("shared", UPLOADS), ("cache", CACHE)):
                def small(t, cls=cls, base=base):
                    d = t.path(f"{base}/small-{r}")
                    res = bench.cell(f"small_create_{cls}", c, lambda: bench.fsload(
                        t, ["small", d, a.small_files, 4096, secs], a.small_timeout),
                        pick=lambda v: v["create_per_s"])
                    if res:
                        bench.res.add(f"small_read_{cls}", c.name, res["read_per_s"])
                        bounded(bench, c, f"{cls} creates", res["files"], a.small_files)
                        if res["mismatches"]:
                            bench.res.note(f"{c.name}: {res['mismatches']} small files "
                                           "read back wrong")
                    if t is c:
                        bench.cell("_cleanup", c, lambda: bench.fsload(
                            c, ["rm", d], a.small_timeout))
                one(bench, c, f"small_create_{cls}", r, small)

            def renameover(t):
                d = t.path(f"{CACHE}/renameover")
                res = bench.cell("rename_over", c, lambda: bench.fsload(
                    t, ["renameover", d, a.rename_ops, 100, secs], a.small_timeout),
                    pick=lambda v: v["ops_per_s"])
                if res:
                    bounded(bench, c, "renames", res["ops"], a.rename_ops)
                if t is c:
                    bench.cell("_cleanup", c, lambda: bench.fsload(c, ["rm", d],
                                                                   a.small_timeout))
            one(bench, c, "renameover", r, renameover)
        bench.progress(f"small files: round {r + 1}/{a.rounds} done ({bench.elapsed():.0f}s)")
    say_bounded(bench)
