"""coldstart - the bench's cold-start workload (a mixin of bench.Bench): many small files
stored on each column, then mount times with and without them and the first page view after a
mount with the page cache dropped; on pressfs also Redis memory per stored file (issue 17).
And machine(): what the run ran on, for the report's heading."""

import os
import platform
import re
import subprocess
import time

import mounts
import scale

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class ColdStart:
    UPLOADS = None  # set by bench.Bench: the shared class's bench directory
    def first_view(self, c):
        """Drop caches, start a fresh php-fpm (empty opcache), time the first front page."""
        port = c.fpm.port
        self.env.stop(c.fpm)
        c.fpm = None
        subprocess.run(["sh", "-c", "sync; echo 3 > /proc/sys/vm/drop_caches"], check=True)
        c.fpm = self.env.start(self.new_fpm(c, port=port))
        t = time.perf_counter()
        self.check_page(c, "/", None, b"Benchmark post 10")
        return (time.perf_counter() - t) * 1000

    def remount(self, c):
        """Unmount and mount C's filesystem again (stopping the php-fpm pools that serve it);
        returns the mount time in ms."""
        users = [u for u in self.cols.values() if u.fs is c.fs and u.fpm is not None]
        for u in users:
            self.env.stop(u.fpm)
        self.env.stop(c.fs)
        subprocess.run(["sh", "-c", "sync; echo 3 > /proc/sys/vm/drop_caches"], check=True)
        self.env.start(c.fs)
        for u in users:
            u.fpm = self.env.start(self.new_fpm(u, port=u.fpm.port))
        return c.fs.mount_seconds * 1000

    def empty_mount_ms(self, c, r):
        """Mount time with nothing stored, under the same conditions as remount(): caches
        dropped first, so the two differ by what is stored and nothing else."""
        env = self.env
        if c.name == "pressfs":
            fs = self.pressfs_fs(f"e{r}", f"empty{r}")
        elif c.name == "overlayfs":
            fs = mounts.KernelOverlay(env, self.lower, name=f"overlayfs-empty{r}")
        else:
            fs = mounts.FuseOverlayfs(env, self.lower, name=f"fuse-overlayfs-empty{r}")
        subprocess.run(["sh", "-c", "sync; echo 3 > /proc/sys/vm/drop_caches"], check=True)
        env.start(fs)
        ms = fs.mount_seconds * 1000
        env.stop(fs)
        return ms

    def run_coldstart(self):
        """The ext4 columns first (their files, then their mount and first-view rounds), then
        pressfs: by then the data earlier workloads removed from Redis has mostly waited out
        its grace (60 s), and the memory row waits for the rest (scale.MemoryPerFile)."""
        started = time.monotonic()
        ext4 = self.live(["native", "overlayfs", "fuse-overlayfs"])
        self.populate(ext4, None)
        self.cold_rounds(ext4, [])
        press = self.live(["pressfs"])
        if press:
            self.populate(press, started)
            self.cold_rounds(press, self.live(["pressfs+ext"], php=True))

    def populate(self, cols, started):
        """Store the cold-start files on COLS; on pressfs (STARTED given) with the memory row."""
        a = self.args
        d = f"{self.UPLOADS}/cold"
        for c in cols:
            mem = scale.MemoryPerFile(self.redis, started, scale.GRACE + 10) \
                if c.name == "pressfs" else None
            res = self.cell("populate", c, lambda: self.fsload(
                c, ["populate", c.path(d), a.cold_files, 4, a.populate_seconds],
                a.populate_seconds + 300), pick=lambda r: r["per_s"])
            if res and mem is not None and res["files"]:
                self.memory_row(mem, res["files"])
            if res:
                self.res.extra(f"cold_files:{c.name}", res["files"])
                if res["files"] < a.cold_files:
                    self.res.note(f"cold start: {c.name} stored only {res['files']:,} of "
                                  f"{a.cold_files:,} files in the {a.populate_seconds:.0f} s "
                                  f"allowed ({res['per_s']:.0f} files/s); its mount time "
                                  "with files stored is with those")
                log(f"cold start: {c.name} holds {res['files']} files "
                    f"({res['per_s']:.0f}/s, {self.elapsed():.0f}s)")

    def cold_rounds(self, cols, ext_cols):
        """Mount times (empty, with the files) and the first page view of COLS, and the first
        view of EXT_COLS (pressfs+ext, which shares the pressfs mount), round by round."""
        a = self.args
        for r in range(a.rounds):
            if not self.another_round(r, a.rounds):
                break
            for c in [x for x in cols if not x.dead]:
                if c.name != "native":
                    self.cell("mount_empty", c, lambda: self.empty_mount_ms(c, r))
                    if self.cell("mount_100k", c, lambda: self.remount(c)) is None:
                        self.kill_column(c, "remount failed")
                        continue
                if c.fpm is not None:
                    self.cell("first_view", c, lambda: self.first_view(c))
            for c in [x for x in ext_cols if not x.dead and x.fpm is not None]:
                self.cell("first_view", c, lambda: self.first_view(c))
            names = ", ".join(c.name for c in cols + ext_cols)
            log(f"cold start ({names}): round {r + 1}/{a.rounds} done ({self.elapsed():.0f}s)")

    def memory_row(self, mem, files):
        """Redis memory per stored file, or the reason it was not measured (never a number
        that is not the files' own: a fall of used_memory is no measurement)."""
        per, why = mem.result(files)
        if mem.left:
            self.res.note(f"cold start: {mem.left:,} keys of earlier workloads were still "
                          "waiting out their grace when the files began")
        if per is None:
            self.res.not_measured("redis_bytes_per_file", "pressfs", why)
            log(f"cold start: Redis memory per file not measured: {why}")
            return
        self.res.add("redis_bytes_per_file", "pressfs", per)
        self.res.extra("redis_bytes_files", files)
        log(f"cold start: Redis used_memory grew {per:.0f} bytes per 10-byte file")

    def machine(self):
        m = self.res.meta
        m["kernel"] = platform.release()
        m["cpus"] = os.cpu_count()
        try:
            with open("/proc/cpuinfo") as f:
                m["cpu"] = re.search(r"model name\s*:\s*(.*)", f.read()).group(1)
        except (OSError, AttributeError):
            m["cpu"] = "?"
        with open("/proc/meminfo") as f:
            m["mem_gib"] = round(int(f.readline().split()[1]) / 1048576, 1)
        with open("/etc/debian_version") as f:
            m["debian"] = f.read().strip()
        m["git"] = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                  capture_output=True, text=True).stdout.strip()
        m["load_start"] = os.getloadavg()
        for tool, argv in (("nginx", ["nginx", "-v"]), ("php", ["php", "-v"]),
                           ("mariadb", ["mariadbd", "--version"]),
                           ("redis", ["redis-server", "--version"]),
                           ("fuse-overlayfs", ["fuse-overlayfs", "--version"]),
                           ("wrk", ["wrk", "-v"])):
            try:
                r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
                m.setdefault("versions", {})[tool] = \
                    (r.stdout + r.stderr).strip().splitlines()[0][:100]
            except (OSError, IndexError, subprocess.TimeoutExpired):
                pass

