#!/usr/bin/python3
"""bench.py - `make bench`: WordPress and file workloads on the native filesystem, kernel
overlayfs, fuse-overlayfs, pressfs and pressfs with its PHP extension, in one run on one machine;
writes tests/bench/results/latest.{json,md,png} and prints the table (report.py).

Run as root with Debian's /usr/bin/python3: `make bench`, or directly
    /usr/bin/python3 tests/bench/bench.py [--full | --quick] [--rounds N] [--only W,...]
Everything it starts (servers, mounts, loop devices, daemons) runs on 127.0.0.1 in one temp dir
and is stopped and unmounted at the end, also on failure, Ctrl-C or SIGTERM.  The results are
written after every workload, so an interrupted run keeps what it measured (marked partial)."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "env"))
import pressenv  # noqa: E402
import mounts  # noqa: E402
import report  # noqa: E402
import plan  # noqa: E402
import loopfs  # noqa: E402
import scale  # noqa: E402
import serving  # noqa: E402
import bigfile  # noqa: E402
import smallfiles  # noqa: E402
from coldstart import ColdStart  # noqa: E402

PY = "/usr/bin/python3"
FSLOAD = os.path.join(HERE, "fsload.py")
STORM = os.path.join(HERE, "storm.php")
EXT_BENCH = os.path.join(HERE, "ext_bench.php")
RESULTS = os.path.join(HERE, "results")

COLUMNS = ["native", "overlayfs", "fuse-overlayfs", "pressfs", "pressfs+ext"]
# In the order they run: the cheap tool rows (policy, import) early, so that a run short of time
# never loses them; cold start late, as its 100,000 files would weigh on every later workload
# but the topologies', which run on servers of their own.  A new workload is a module with
# run(bench), a name here and in Bench.run()'s steps, an estimate in plan.estimate() and its
# rows in report.rows().
WORKLOADS = ["pages", "storm", "ext", "policy", "import", "static", "bigfile", "uploads",
             "crossnode", "small", "coldstart", "topology"]
FRONT, ADMIN = "/", "/wp-admin/edit.php"
BENCH_UPLOADS = "wp-content/uploads/pressfs-bench"  # policy class shared
BENCH_CACHE = "wp-content/cache/pressfs-bench"      # policy class cache
LOWER_BIG = "wp-content/pressfs-bench-lower.bin"    # in no writable class: cacheable forever

# Written in front of the default policy, so the bench's directories have a known class.
BENCH_RULES = f"""# pressfs bench: its own directories first, then the default policy
/{BENCH_UPLOADS}/** shared
/{BENCH_CACHE}/** cache
""" + serving.rules()
# Used when policies/wordpress.policy does not exist yet: the example of docs/DESIGN.md.
FALLBACK_POLICY = """/wp-content/uploads/**/*.php deny
/wp-content/uploads/** shared
/.htaccess shared
/wp-content/cache/** cache
/wp-content/plugins/** deny
"""


class BenchError(RuntimeError):
    pass


def rotated(cols, r):
    """COLS starting at a different column each round R: all the columns share the machine, the
    database and nginx, so whichever runs first in a round would otherwise always run on the
    same footing (the first round after set-up, a cooler CPU)."""
    k = r % len(cols) if cols else 0
    return cols[k:] + cols[:k]


def dirty_kib():
    """Dirty + Writeback of /proc/meminfo: what the kernel still has to write back."""
    n = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(("Dirty:", "Writeback:")):
                n += int(line.split()[1])
    return n


def settle(limit_kib=16384, wait=5.0):
    """Write back what earlier cells (and workloads) left dirty and wait, up to WAIT seconds,
    until less than LIMIT_KIB is still dirty or under writeback, so that no cell (native's
    least of all, whose writes only reach the page cache) pays for another's writeback.
    Returns the KiB still dirty (other processes on the machine may keep writing)."""
    os.sync()
    deadline = time.monotonic() + wait
    left = dirty_kib()
    while left > limit_kib and time.monotonic() < deadline:
        time.sleep(0.1)
        os.sync()
        left = dirty_kib()
    return left


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- results ----------------------------------------------------------------------------------

class Results:
    """Samples per (row, column), failures per cell, notes; saved as JSON for report.py."""

    def __init__(self, args):
        self.data = {"samples": {}, "failed": {}, "notes": [], "meta": {}, "extra": {},
                     "unavailable": {}, "not_measured": {}}
        self.meta = self.data["meta"]
        self.meta["started"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        self.meta["args"] = vars(args)
        self.outdir = args.out

    def add(self, row, col, value):
        self.data["samples"].setdefault(row, {}).setdefault(col, []).append(value)
        self.data["failed"].get(row, {}).pop(col, None)

    def fail(self, row, col, reason):
        if col not in self.data["samples"].get(row, {}):
            self.data["failed"].setdefault(row, {})[col] = reason

    def note(self, text):
        if text not in self.data["notes"]:
            self.data["notes"].append(text)
            log("note: " + text)

    def extra(self, key, value):
        self.data["extra"][key] = value

    def not_measured(self, row, col, reason):
        """ROW could not be measured for COL in this run, for REASON (shown in the table)."""
        self.data["not_measured"].setdefault(row, {})[col] = reason

    def unavailable(self, row, reason):
        """ROW cannot be measured in this build (the feature does not exist yet)."""
        self.data["unavailable"][row] = reason

    def save(self, path):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=1, sort_keys=True)
        os.replace(tmp, path)

    def checkpoint(self):
        """latest.json and latest.md as they stand: called after every workload, so an
        interrupted run leaves what it measured.  A failing report never stops the run."""
        m = self.meta
        if "planned" in m:
            m["not_reached"] = [w for w in m["planned"] if w not in m["done"]
                                and w not in m["skipped"] and w != m.get("current")]
        self.save(os.path.join(self.outdir, "latest.json"))
        try:
            return report.write_all(self.data, self.outdir)
        except Exception as e:
            log(f"report failed: {e}")
            traceback.print_exc()
            return ""


# --- the columns ------------------------------------------------------------------------------

class Column:
    """One filesystem (plus, for PHP, its php-fpm pool and nginx site)."""

    def __init__(self, name, fs=None, ext_ini=None):
        self.name = name
        self.fs = fs
        self.ext_ini = ext_ini  # php ini for the extension (pressfs+ext)
        self.fpm = None
        self.site = None
        self.dead = None        # why this column stopped being measured

    @property
    def root(self):
        return self.fs.root

    def path(self, rel):
        return os.path.join(self.fs.root, rel)


class Bench(ColdStart):
    """The run: set-up, the workloads (cold start and machine() in coldstart.py, static
    serving in serving.py, policy and import in scale.py), the bookkeeping."""

    UPLOADS = BENCH_UPLOADS
    rotated = staticmethod(rotated)
    settle = staticmethod(settle)

    def __init__(self, args):
        self.args = args
        self.res = Results(args)
        self.env = None
        self.cols = {}
        self.t0 = time.monotonic()

    # -- helpers -------------------------------------------------------------------------------

    def elapsed(self):
        return time.monotonic() - self.t0

    def progress(self, msg):
        log(msg)

    def another_round(self, r, rounds):
        """Whether round R (from 0) of the current workload may start: the first always, a
        later one if a round as long as the ones so far still ends inside the budget (less
        the clean-up's reserve).  A workload cut short says so in the notes."""
        if r == 0:
            self.round_t0 = time.monotonic()
            return True
        per = (time.monotonic() - self.round_t0) / r
        if self.elapsed() + per <= self.args.budget - plan.RESERVE:
            return True
        name = self.res.meta.get("current")
        self.res.note(f"{name}: {r} of {rounds} rounds, the next would have ended past the "
                      f"{self.args.budget} s budget")
        self.res.meta.setdefault("cut_short", {})[name] = r
        return False

    def tool_column(self):
        """Where rows measured with pressfs's own tools (no mount) are shown."""
        return Column("pressfs")

    def live(self, names, php=False):
        """Columns in NAMES that exist and still work."""
        out = []
        for n in names:
            c = self.cols.get(n)
            if c is None or c.dead:
                continue
            if php and c.fpm is None:
                continue
            out.append(c)
        return out

    def fs_cols(self):
        return self.live(["native", "overlayfs", "fuse-overlayfs", "pressfs"])

    def kill_column(self, col, reason):
        if col.dead:
            return
        col.dead = reason
        self.res.data.setdefault("dead", {})[col.name] = reason
        self.res.note(f"{col.name}: stopped measuring: {reason}")
        for other in self.cols.values():  # pressfs+ext shares the pressfs mount
            if other is not col and other.fs is col.fs and not other.dead:
                other.dead = f"{col.name} failed: {reason}"
                self.res.data["dead"][other.name] = other.dead

    def guarded(self, col, argv, timeout, what):
        """Run ARGV, which works on COL's filesystem.  If it outlives TIMEOUT the filesystem is
        aborted first (a process blocked in a FUSE flush or release cannot even be killed
        until then), then the process is killed, and the column is measured no more."""
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            col.fs.abort()
            proc.kill()
            try:
                proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                pass
            self.kill_column(col, f"{what} hung for {timeout}s; its filesystem was aborted")
            raise BenchError(f"{what} timed out")
        except BaseException:  # interrupted: the child must not keep the mount busy
            proc.kill()
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                col.fs.abort()
            raise
        return subprocess.CompletedProcess(argv, proc.returncode, out, err)

    def fsload(self, col, args, timeout):
        """Run one fsload.py command against COL; a hang aborts the column's filesystem."""
        argv = [PY, FSLOAD] + [str(a) for a in args]
        r = self.guarded(col, argv, timeout, f"`fsload {args[0]}`")
        if r.returncode != 0:
            last = (r.stderr.strip().splitlines() or ["?"])[-1]
            raise BenchError(f"fsload {args[0]} failed: {last}")
        d = json.loads(r.stdout.strip().splitlines()[-1])
        if "error" in d:
            raise BenchError(d["error"])
        return d

    def cell(self, row, col, fn, pick=None):
        """Measure one value of ROW for COL with FN() (PICK takes the number out of what FN
        returns); a failure marks that cell only.  Returns what FN returned, or None."""
        if col.dead:
            if not row.startswith("_"):
                self.res.fail(row, col.name, col.dead)
            return None
        try:
            v = fn()
            if v is not None and not row.startswith("_"):
                self.res.add(row, col.name, pick(v) if pick else v)
            return v
        except Exception as e:
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            self.res.fail(row, col.name, msg[:200])
            log(f"{row} on {col.name} failed: {msg}")
            if self.args.verbose:
                traceback.print_exc()
            return None

    # -- set-up --------------------------------------------------------------------------------

    def setup(self):
        a = self.args
        env = self.env = pressenv.Env(base=a.tmp, prefix="pressfs-bench-", keep=a.keep)
        log(f"temp dir {env.dir}")
        self.disk = self.data_disk()
        lower = os.path.join(self.disk.root, "lower") if self.disk else env.path("lower")
        pressenv.wordpress_tree(lower)
        for d in ("wp-content/uploads", "wp-content/cache"):
            os.makedirs(os.path.join(lower, d), exist_ok=True)
        if "bigfile" in a.only:
            with open(os.path.join(lower, LOWER_BIG), "wb") as f:
                block = os.urandom(1 << 20)
                for _ in range(a.big_mib):
                    f.write(block)
        self.lower = lower
        subprocess.run(["chown", "-R", "root:root", lower], check=True)

        if {"pages", "coldstart"} & set(a.only):  # the workloads that run WordPress
            db = self.db = env.start(pressenv.MariaDB(env))
            pressenv.write_wp_config(lower, db.wp_credentials("wordpress"))
        self.redis = env.start(pressenv.Redis(env))
        # the cache class's pool: pressfs keeps cache/ content in memcached, as deployed
        self.memcached = env.start(pressenv.Memcached(env, memory_mb=512, item_max="1m"))
        self.policy = self.write_policy()

        # the filesystems
        want = set(a.columns)
        if "pressfs+ext" in want:
            want.add("pressfs")
        disk = self.disk
        for name in ("native", "overlayfs", "fuse-overlayfs"):
            if name not in want:
                continue
            if disk is None:
                fs = {"native": mounts.Native, "overlayfs": mounts.KernelOverlay,
                      "fuse-overlayfs": mounts.FuseOverlayfs}[name](env, lower)
            elif name == "native":
                fs = loopfs.DiskNative(env, lower, disk)
            elif name == "overlayfs":
                fs = loopfs.ImageOverlay(env, lower, disk, sub="overlayfs")
            else:
                fs = loopfs.ImageFuseOverlay(env, lower, disk, sub="fuse-overlayfs")
            self.cols[name] = Column(name, fs)
        if "pressfs" in want:
            self.cols["pressfs"] = Column("pressfs", self.pressfs_fs("a", "bench"))
            self.res.note("pressfs: uploads/ (shared) in Redis, cache/ (cache) in a memcached "
                          "on loopback (-o cache=memcached://...), both on this machine")
        for c in list(self.cols.values()):
            try:
                env.start(c.fs)
                log(f"{c.name}: mounted at {c.root} in {c.fs.mount_seconds * 1000:.1f} ms")
            except Exception as e:
                del self.cols[c.name]
                self.res.data["failed"].setdefault("*", {})[c.name] = f"mount failed: {e}"
                self.res.note(f"{c.name}: mount failed, column skipped: "
                              f"{str(e).strip().splitlines()[0][:300]}")
        so = os.path.abspath(a.ext)
        if "pressfs+ext" not in a.columns:
            pass
        elif "pressfs" not in self.cols:
            self.res.data["failed"].setdefault("*", {})["pressfs+ext"] = "skipped: no pressfs"
        else:
            if os.path.exists(so):
                ini = {"extension": so, "pressfs.policy": self.policy,
                       "pressfs.root": self.cols["pressfs"].root, "pressfs.lower": lower,
                       "pressfs.mode": "enforce"}
                self.cols["pressfs+ext"] = Column("pressfs+ext", self.cols["pressfs"].fs, ini)
            else:
                self.res.data["failed"].setdefault("*", {})["pressfs+ext"] = "not built"
                self.res.note(f"pressfs+ext skipped: {os.path.relpath(so, ROOT)} is not built "
                              "(make ext)")
        pids = self.res.meta.setdefault("pids", {})  # for tests/bench/test_bench.py
        for srv in (self.redis, self.memcached, getattr(self, "db", None)):
            if srv is not None and srv.pid:
                pids[srv.name] = srv.pid
        for c in self.cols.values():
            if hasattr(c.fs, "pids"):
                for p in c.fs.pids():
                    pids[f"{c.fs.name} daemon"] = p
        for c in self.fs_cols():
            try:
                self.fsload(c, ["mkdir", c.path(BENCH_UPLOADS), c.path(BENCH_CACHE)], 60)
            except Exception as e:
                self.kill_column(c, f"cannot make the bench directories: {e}")

        if {"pages", "coldstart"} & set(a.only):
            self.setup_wordpress()

    def data_disk(self):
        """The RAM data disk (loopfs.RamDisk) for the lower tree and the ext4 columns' files,
        or None (--disk tmp, too little memory, no loop devices): then the temp dir's."""
        a = self.args
        if a.disk != "ram":
            return None
        r = subprocess.run(["du", "-sLm", pressenv.WP_SOURCE], capture_output=True, text=True)
        wp = int(r.stdout.split()[0]) if r.returncode == 0 and r.stdout else 200
        mib = loopfs.ram_disk_mib(a, wp + 20)
        free = loopfs.ram_available_mib()
        why = None
        if free < mib + 4096:
            why = f"{free} MiB of memory available, {mib} MiB + 4 GiB needed"
        else:
            try:
                disk = self.env.start(loopfs.RamDisk(self.env, "disk", mib))
                self.res.meta["disk"] = (f"an ext4 of {mib} MiB on a loop device over a file "
                                         "in /dev/shm (RAM, written before mkfs)")
                self.res.meta["disk_image"] = disk.image  # for test_bench.py
                log(f"data disk: {mib} MiB in RAM at {disk.root}")
                return disk
            except Exception as e:
                why = str(e).strip().splitlines()[0][:300] if str(e).strip() else repr(e)
        self.res.note(f"no data disk in RAM ({why}): the lower tree and the ext4 columns' "
                      "files are on the temp dir's file system")
        return None

    def setup_wordpress(self):
        """One php-fpm pool per column, one nginx with a site per column, WordPress installed."""
        env = self.env
        for c in self.live(COLUMNS):
            try:
                c.fpm = env.start(self.new_fpm(c))
            except Exception as e:
                c.fpm = None
                self.kill_column(c, f"php-fpm did not start: {str(e)[:300]}")
                continue
            c.site = pressenv.Site(c.root, c.fpm.address)
        sites = [c.site for c in self.live(COLUMNS, php=True)]
        self.nginx = env.start(pressenv.Nginx(env, sites, workers=1))
        self.wp_password = pressenv.install_wordpress(self.lower, sites[0].url, posts=10,
                                                      title="pressfs bench")
        log("WordPress installed")

    def pressfs_fs(self, node, site):
        return mounts.Pressfs(self.env, self.lower, self.args.pressfs, self.policy,
                              self.redis.url, site, name=f"pressfs-{node}-{site}",
                              node=f"bench-{node}",
                              extra=[f"cache=memcached://{self.memcached.address}"])

    def write_policy(self):
        default = os.path.join(ROOT, "policies", "wordpress.policy")
        if os.path.exists(default):
            with open(default) as f:
                body = f.read()
            self.res.meta["policy"] = "policies/wordpress.policy, after the bench's two rules"
        else:
            body = FALLBACK_POLICY
            self.res.meta["policy"] = "DESIGN.md's example (policies/wordpress.policy missing)"
        p = self.env.path("bench.policy")
        with open(p, "w") as f:
            f.write(BENCH_RULES + body)
        return p

    def new_fpm(self, c, port=None):
        ini = dict(c.ext_ini or {})
        return pressenv.PhpFpm(self.env, port=port, workers=self.args.fpm_workers, ini=ini)

    # -- 1. WordPress page views ---------------------------------------------------------------

    def wrk(self, url, cookie, seconds):
        argv = ["wrk", "-t1", f"-c{self.args.wrk_connections}", f"-d{seconds}s", "--timeout",
                "10s", "--latency"]
        if cookie:
            argv += ["-H", f"Cookie: {cookie}"]
        r = subprocess.run(argv + [url], capture_output=True, text=True, timeout=seconds + 60)
        if r.returncode != 0:
            raise BenchError(f"wrk failed: {r.stderr.strip()}")
        return parse_wrk(r.stdout)

    def check_page(self, c, path, cookie, marker):
        status, _, body = pressenv.http_get(c.site.url + path, timeout=60,
                                            headers={"Cookie": cookie} if cookie else None)
        if status != 200 or marker not in body:
            raise BenchError(f"GET {path} gave HTTP {status}: "
                             f"{body[:200].decode(errors='replace')!r}")

    def run_pages(self):
        a = self.args
        cols = self.live(COLUMNS, php=True)
        cookies = {}
        for c in cols:
            try:
                cookies[c.name] = pressenv.wordpress_login(c.site.url, "admin", self.wp_password)
                for _ in range(a.warmup_views):
                    self.check_page(c, FRONT, None, b"Benchmark post 10")
                    self.check_page(c, ADMIN, cookies[c.name], b"Benchmark post 10")
            except Exception as e:
                self.kill_column(c, f"WordPress does not work: {e}")
        for c in self.live(["pressfs", "pressfs+ext"], php=True):
            for row, path in (("front_daemon_reqs", FRONT), ("admin_daemon_reqs", ADMIN)):
                self.cell(row, c, lambda: self.daemon_requests(c, path, cookies[c.name], row))
        for r in range(a.page_rounds):
            if not self.another_round(r, a.page_rounds):
                break
            for c in rotated(self.live(COLUMNS, php=True), r):
                for page, path, cookie in (("front", FRONT, None),
                                           ("admin", ADMIN, cookies.get(c.name))):
                    w = self.cell(f"{page}_rps", c,
                                  lambda: self.wrk(c.site.url + path, cookie, a.wrk_seconds),
                                  pick=lambda w: w["rps"])
                    if w is None:
                        continue
                    self.res.add(f"{page}_p99", c.name, w["p99_ms"])
                    if w["errors"]:
                        self.res.note(f"{c.name} {page}: wrk saw {w['errors']} errors or "
                                      "non-2xx responses in a round")
            log(f"pages: round {r + 1}/{a.page_rounds} done ({self.elapsed():.0f}s)")

    def daemon_requests(self, c, path, cookie, row, views=30):
        """Daemon requests per page view, from its counters, less what asking for them costs
        (`pressfs status` reads an xattr of the mount)."""
        c0 = c.fs.request_counts()
        before = c.fs.request_counts()
        cost = {k: before.get(k, 0) - c0.get(k, 0) for k in before}
        for _ in range(views):
            status, _, _ = pressenv.http_get(c.site.url + path, timeout=60,
                                             headers={"Cookie": cookie} if path == ADMIN else None)
            if status != 200:
                raise BenchError(f"HTTP {status}")
        after = c.fs.request_counts()
        per = {k: (after.get(k, 0) - before.get(k, 0) - cost.get(k, 0)) / views for k in after}
        per = {k: v for k, v in per.items() if v}
        self.res.extra(f"{row}:{c.name}", per)
        return sum(per.values())

    # -- 2. include/stat storm -----------------------------------------------------------------

    def storm(self, c):
        argv = ["php", "-d", "opcache.enable_cli=1", "-d", "opcache.validate_timestamps=0",
                "-d", "memory_limit=512M"]
        for k, v in (c.ext_ini or {}).items():
            argv += ["-d", f"{k}={v}"]
        argv += [STORM, c.root, str(self.args.storm_seconds)]
        r = self.guarded(c, argv, self.args.storm_seconds + 120, "storm.php")
        if r.returncode != 0:
            raise BenchError(f"storm.php: {(r.stderr or r.stdout).strip()[-300:]}")
        d = json.loads(r.stdout.strip().splitlines()[-1])
        if c.ext_ini and not d.get("pressfs_ext"):
            raise BenchError("the pressfs extension did not load in PHP CLI")
        self.res.extra("storm_files_per_pass", d["files_per_pass"])
        return d["files_per_s"]

    def run_storm(self):
        for r in range(self.args.rounds):
            if not self.another_round(r, self.args.rounds):
                break
            for c in rotated(self.live(COLUMNS), r):
                self.cell("storm", c, lambda: self.storm(c))
            log(f"storm: round {r + 1}/{self.args.rounds} done ({self.elapsed():.0f}s)")

    # -- 2b. what the extension costs each PHP call ----------------------------------------------

    def run_ext(self):
        """ext_bench.php: include, stat, fopen-read, file_exists and file_put_contents into an
        allowed path, 100,000 calls each, without pressfs.so and with it (no FUSE involved:
        the price of the hooks themselves)."""
        a = self.args
        if not os.path.isfile(a.ext):
            raise BenchError(f"{a.ext} is missing: make ext")
        n = plan.ext_calls(a)
        r = subprocess.run(["php", "-n", EXT_BENCH, "--php=" + shutil.which("php"),
                            "--ext=" + a.ext, f"--n={n}", f"--rounds={a.rounds}", "--json"],
                           capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            raise BenchError(f"ext_bench.php: {(r.stderr or r.stdout).strip()[-300:]}")
        self.res.extra("ext_cost", json.loads(r.stdout))

    # -- 5. uploads against the raw Redis rate ---------------------------------------------------

    def redis_raw(self, redis=None):
        """MB/s of redis-benchmark's pipelined 1 MiB SETs into REDIS (the store's by default)."""
        redis = redis or self.redis
        n = 256 if not self.args.quick else 32
        r = subprocess.run(["redis-benchmark", "-h", pressenv.LOOPBACK,
                            "-p", str(redis.port), "-t", "set", "-d", "1048576",
                            "-P", "8", "-n", str(n), "--csv"],
                           capture_output=True, text=True, timeout=300)
        m = re.search(r'"SET","([0-9.]+)"', r.stdout)
        if not m:
            raise BenchError(f"redis-benchmark: {r.stdout[-200:]} {r.stderr[-200:]}")
        redis.cli("DEL", "key:__rand_int__")
        return float(m.group(1)) * 1048576 / 1e6

    def run_uploads(self):
        a = self.args
        self.res.meta["redis_benchmark"] = ("redis-benchmark -t set -d 1048576 -P 8 -n 256 "
                                            "(50 clients) over TCP 127.0.0.1")
        for r in range(a.rounds):
            if not self.another_round(r, a.rounds):
                break
            if "pressfs" in self.cols:  # shown in the pressfs column, measured regardless
                self.cell("redis_set_raw", Column("pressfs"), self.redis_raw)
            for c in rotated(self.fs_cols(), r):
                for row, mib, count in (("upload_64m", 64, a.upload_64m_count),
                                        ("upload_1m", 1, a.upload_1m_count)):
                    d = c.path(f"{BENCH_UPLOADS}/{row}-{r}")
                    settle()
                    self.cell(row, c, lambda: self.fsload(
                        c, ["upload", d, mib, count], a.big_timeout)["mb_s"])
                    self.cell("_cleanup", c, lambda: self.fsload(c, ["rm", d], a.big_timeout))
            log(f"uploads: round {r + 1}/{a.rounds} done ({self.elapsed():.0f}s)")

    # -- 6. cross-node visibility --------------------------------------------------------------

    def run_crossnode(self):
        a = self.args
        if "pressfs" not in self.cols or self.cols["pressfs"].dead:
            return
        c = self.cols["pressfs"]
        try:
            b = self.env.start(self.pressfs_fs("b", "bench"))
        except Exception as e:
            self.res.fail("xnode_p99", "pressfs", f"second mount failed: {e}")
            self.res.note(f"cross-node: the second pressfs mount failed: {str(e)[:300]}")
            return
        for r in range(a.rounds):
            d = f"{BENCH_UPLOADS}/xnode-{r}"
            res = self.cell("xnode_p50", c, lambda: self.fsload(
                c, ["crossnode", c.path(d), os.path.join(b.root, d), a.xnode_files],
                a.xnode_timeout), pick=lambda r: r["p50_ms"])
            if res:
                self.res.add("xnode_p99", "pressfs", res["p99_ms"])
                if res["timeouts"]:
                    self.res.note(f"cross-node: {res['timeouts']} of {res['samples']} files "
                                  "were not visible on B within 2 s")
            self.cell("_cleanup", c, lambda: self.fsload(c, ["rm", c.path(d)], 120))
        log(f"cross-node: done ({self.elapsed():.0f}s)")
        self.env.stop(b)

    # -- 7. the store's topologies ---------------------------------------------------------------

    def run_topology(self):
        """topology.py: uploads and visibility on a single Redis, Sentinel and a Redis
        Cluster.  Imported here, as it brings the integration tests' set-up (and pytest)."""
        import topology
        topology.run(self)

    # -- the run -------------------------------------------------------------------------------

    def run(self):
        """Set up, then each workload of --only in order; the results are written after each
        one (meta: partial, done, current), so whatever stops the run keeps what it measured."""
        a = self.args
        m = self.res.meta
        todo = list(dict.fromkeys(a.only))  # in the order given (by default WORKLOADS')
        m.update(partial=True, planned=todo, done=[], skipped=[], current="set-up",
                 workload_seconds={})
        self.machine()
        self.res.checkpoint()
        log(f"{len(todo)} workloads: {', '.join(todo)}")
        self.setup()
        m["columns"] = [n for n in COLUMNS if n in self.cols]
        m["setup_seconds"] = round(self.elapsed())
        steps = {"pages": self.run_pages, "storm": self.run_storm, "ext": self.run_ext,
                 "static": lambda: serving.run(self), "small": lambda: smallfiles.run(self),
                 "uploads": self.run_uploads, "bigfile": lambda: bigfile.run(self),
                 "crossnode": self.run_crossnode, "coldstart": self.run_coldstart,
                 "policy": lambda: scale.run_policy(self),
                 "import": lambda: scale.run_import(self),
                 "topology": self.run_topology}
        ncols, nfs = len(self.live(COLUMNS)), len(self.fs_cols())
        est = {w: plan.estimate(w, a, ncols, nfs) for w in todo}
        m["estimated_seconds"] = {w: round(v) for w, v in est.items()}
        prog = plan.Progress(todo, est, log)
        log(f"set-up took {self.elapsed():.0f} s; the workloads should take about "
            f"{sum(est.values()) / 60:.1f} min")
        for name in todo:
            need = est[name] * prog.scale()
            if self.elapsed() + need > a.budget - plan.RESERVE:
                self.res.note(f"{name}: skipped: at {self.elapsed():.0f} s it would have "
                              f"ended past the run's {a.budget} s budget (about {need:.0f} s)")
                m["skipped"].append(name)
                continue
            m["current"] = name
            prog.begin(name, self.elapsed())
            try:
                steps[name]()
            except Exception as e:
                self.res.note(f"{name}: stopped early: {e}")
                traceback.print_exc()
            line = prog.end(name, self.elapsed())
            m["workload_seconds"][name] = round(prog.took)
            m["done"].append(name)
            m["current"] = None
            m["seconds"] = round(self.elapsed())
            self.res.checkpoint()
            log(line)  # after the checkpoint: whoever reads it may count on the rows
        m["partial"] = False

    def close(self):
        if self.env is not None:
            self.env.close()


def parse_wrk(text):
    def ms(v, unit):
        return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]
    rps = float(re.search(r"Requests/sec:\s*([0-9.]+)", text).group(1))
    m = re.search(r"99%\s+([0-9.]+)(us|ms|s|m)\b", text)
    errors = 0
    m2 = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    if m2:
        errors += int(m2.group(1))
    m3 = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m3:
        errors += sum(int(x) for x in m3.groups())
    return {"rps": rps, "p99_ms": ms(*m.groups()), "errors": errors}


def parse_args(argv):
    """The options (plan.py): also used by profile.py."""
    return plan.parse_args(argv, __doc__, WORKLOADS, COLUMNS, ROOT, RESULTS)


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv):
    if os.geteuid() != 0:
        sys.exit("bench: run as root (mounts, loop devices, drop_caches, php-fpm as www-data)")
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    for sig in (signal.SIGTERM, signal.SIGHUP):  # as Ctrl-C: stop measuring, clean up, save
        signal.signal(sig, _interrupt)
    bench = Bench(args)
    m = bench.res.meta
    try:
        bench.run()
    except KeyboardInterrupt as e:
        why = str(e) or f"signal {int(signal.SIGINT)}"
        num = int(why.split()[-1]) if why.split()[-1].isdigit() else 0
        m["interrupted"] = signal.Signals(num).name if num else why
        bench.res.note(f"interrupted by {m['interrupted']} during {m.get('current') or '?'}")
    except Exception as e:
        bench.res.note(f"the harness failed: {e}")
        traceback.print_exc()
    finally:
        # nothing may stop the clean-up half-way: a second Ctrl-C or SIGTERM is ignored
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        m["load_end"] = os.getloadavg()
        m["seconds"] = round(bench.elapsed())
        bench.res.checkpoint()  # first, in case the clean-up hangs
        log("stopping servers and unmounting")
        bench.close()
        m["cleaned_up"] = True
        md = bench.res.checkpoint()
    print()
    print(md)
    if m.get("partial"):
        log(f"partial run: results in {os.path.relpath(args.out)}/latest.{{json,md}}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
