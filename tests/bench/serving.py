"""serving - the bench's static-file rows (issue 13): uploads and cached pages served by the web
server itself, nginx (sendfile) and Apache (AllowOverride All, so a `.htaccess` lookup in every
directory of the path), requested at random by wrk, on every file-system column; for pressfs also
what one HTTP request costs it: daemon requests (`pressfs status`), Redis commands
(`INFO commandstats`) and memcached gets and sets (`stats`), as counted by those servers."""

import re
import socket
import subprocess
import time

import plan
import pressenv

UPLOADS = "wp-content/uploads/pressfs-bench/static"          # class shared
PAGES = "wp-content/cache/supercache/pressfs-bench"           # class cache (memcached)
ROWS = [("static_nginx_uploads", "nginx", "uploads"), ("static_nginx_pages", "nginx", "pages"),
        ("static_apache_uploads", "apache", "uploads"), ("static_apache_pages", "apache", "pages")]

WRK_LUA = """-- written by tests/bench/serving.py: GET one of these paths at random
local paths = {
%s
}
math.randomseed(%d)
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
"""


def redis_commands(redis):
    """{command: calls} from INFO commandstats, without INFO itself (our own asking)."""
    out = {}
    for m in re.finditer(r"^cmdstat_([^:]+):calls=(\d+)", redis.cli("INFO", "commandstats"),
                         re.M):
        if m.group(1) != "info":
            out[m.group(1)] = int(m.group(2))
    return out


def memcached_stats(address):
    """{cmd_get, cmd_set, get_hits, get_misses} of the memcached at host:port."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"stats\r\n")
        buf = b""
        while not buf.endswith(b"END\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    out = {}
    for line in buf.decode().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "STAT" and parts[1] in (
                "cmd_get", "cmd_set", "get_hits", "get_misses"):
            out[parts[1]] = int(parts[2])
    return out


def delta(after, before):
    return {k: after.get(k, 0) - before.get(k, 0) for k in after
            if after.get(k, 0) != before.get(k, 0)}


class Static:
    """Creates the two file sets on each column, starts one nginx and one Apache with a static
    site per column, and measures each row (bench.py's Bench does the bookkeeping)."""

    def __init__(self, bench):
        self.b = bench
        self.a = bench.args
        self.sites = {}     # column name -> (nginx Site, apache Site)
        self.paths = {}     # "uploads"/"pages" -> [URL paths]
        self.lua = {}

    def make_files(self, c):
        a = self.a
        for kind, rel, lo, hi in (("uploads", UPLOADS, 20, 200), ("pages", PAGES, 8, 40)):
            d = self.b.fsload(c, ["files", c.path(rel), kind, a.static_files, lo * 1024,
                                  hi * 1024], a.small_timeout)
            self.paths[kind] = ["/" + rel + "/" + p for p in d["paths"]]

    def start_servers(self, cols):
        env = self.b.env
        ngx, apa = [], []
        for c in cols:
            # no PHP here: the FastCGI address is never used (static files only)
            n = pressenv.Site(c.root, "127.0.0.1:9")
            p = pressenv.Site(c.root, "127.0.0.1:9")
            self.sites[c.name] = (n, p)
            ngx.append(n)
            apa.append(p)
        self.nginx = env.start(pressenv.Nginx(env, ngx, workers=1))
        self.apache = env.start(pressenv.Apache(env, apa, threads=8))
        for kind, paths in self.paths.items():
            p = env.path(f"wrk-{kind}.lua")
            body = ",\n".join('  "%s"' % x for x in paths)
            with open(p, "w") as f:
                f.write(WRK_LUA % (body, 20261204))
            self.lua[kind] = p

    def warm(self, c):
        """GET every file once through both servers (pages into the kernel's cache, the cache
        class's content fetched), checking the sizes."""
        for i, server in enumerate(("nginx", "apache")):
            base = self.sites[c.name][i].url
            for kind, paths in self.paths.items():
                for p in paths:
                    status, _, body = pressenv.http_get(base + p, timeout=60)
                    if status != 200 or not body:
                        raise RuntimeError(f"{server} GET {p} on {c.name}: HTTP {status}, "
                                           f"{len(body)} bytes")

    def warm_wrk(self, c):
        """wrk for plan.STATIC_WARM s on each server of C, not counted: the servers' workers,
        their open-file caches and the kernel's pages of every file in their steady state
        before the first round (one GET per file leaves the first round slower)."""
        for i in (0, 1):
            self.wrk(self.sites[c.name][i].url, self.lua["uploads"], plan.STATIC_WARM)

    def wrk(self, url, lua, seconds):
        argv = ["wrk", "-t1", f"-c{self.a.wrk_connections}", f"-d{seconds}s", "--timeout",
                "10s", "-s", lua, url]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
        if r.returncode != 0:
            raise RuntimeError(f"wrk failed: {r.stderr.strip()[-200:]}")
        m = re.search(r"(\d+) requests in", r.stdout)
        rps = re.search(r"Requests/sec:\s*([0-9.]+)", r.stdout)
        bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", r.stdout)
        if not m or not rps:
            raise RuntimeError(f"wrk: no result in {r.stdout[-200:]!r}")
        if bad:
            raise RuntimeError(f"wrk: {bad.group(1)} non-2xx responses")
        return int(m.group(1)), float(rps.group(1))

    def measure(self, c, row, server, kind):
        """req/s of one row on C; for pressfs also its per-request costs (extra)."""
        b = self.b
        i = 0 if server == "nginx" else 1
        url = self.sites[c.name][i].url
        counting = c.name == "pressfs"
        if counting:
            d0, r0 = c.fs.request_counts(), redis_commands(b.redis)
            m0 = memcached_stats(b.memcached.address)
        n, rps = self.wrk(url, self.lua[kind], self.a.static_seconds)
        if counting:
            d1 = c.fs.request_counts()
            r1 = redis_commands(b.redis)
            m1 = memcached_stats(b.memcached.address)
            dd, rd, md = delta(d1, d0), delta(r1, r0), delta(m1, m0)
            per = {"daemon": sum(dd.values()) / n, "redis": sum(rd.values()) / n,
                   "memcached": (md.get("cmd_get", 0) + md.get("cmd_set", 0)) / n,
                   "ops": {k: v / n for k, v in dd.items()},
                   "redis_cmds": {k: v / n for k, v in rd.items()}, "requests": n}
            b.res.data["extra"].setdefault(f"static_cost:{row}", []).append(per)
        return rps


def run(bench):
    """The workload: files, servers, warm-up, then rounds of every row on every column."""
    a = bench.args
    st = Static(bench)
    cols = bench.fs_cols()
    for c in cols:
        bench.cell("_static_files", c, lambda: st.make_files(c))
    cols = [c for c in cols if c.name not in bench.res.data["failed"].get("_static_files", {})]
    if not cols or not st.paths:
        raise RuntimeError("no column could hold the static files")
    st.start_servers(cols)
    time.sleep(1.5)  # pressfs keeps a shared file's pages once its version is a second old
    for c in cols:
        bench.cell("_static_warm", c, lambda: st.warm(c))
        bench.cell("_static_warm", c, lambda: st.warm_wrk(c))
    ok = [c for c in cols if c.name not in bench.res.data["failed"].get("_static_warm", {})]
    if not ok:
        raise RuntimeError("no column served the static files")
    bench.res.meta["static"] = (f"{a.static_files} uploads of 20-200 KB in /{UPLOADS}/ (shared) "
                                f"and {a.static_files} pages of 8-40 KB in /{PAGES}/ (cache), "
                                f"GET at random by wrk (1 thread, {a.wrk_connections} "
                                f"connections, {a.static_seconds} s), after {plan.STATIC_WARM} "
                                "s of wrk per column and server not counted, every round "
                                "after the files' writeback was done; nginx with sendfile, "
                                "Apache event MPM with AllowOverride All")
    for r in range(a.rounds):
        if not bench.another_round(r, a.rounds):
            break
        # the files just written (and the last round's logs) are written back now, not in
        # the middle of a row 30 s later (dirty_expire_centisecs) on a shared CPU
        bench.settle()
        for row, server, kind in ROWS:
            for c in ok[r % len(ok):] + ok[:r % len(ok)]:
                bench.cell(row, c, lambda: st.measure(c, row, server, kind))
        bench.progress(f"static: round {r + 1}/{a.rounds} done ({bench.elapsed():.0f}s)")
    for c in cols:  # keep the later workloads' directories small
        bench.cell("_cleanup", c, lambda: bench.fsload(
            c, ["rm", c.path(UPLOADS), c.path(PAGES)], a.small_timeout))
    bench.env.stop(st.apache)
    bench.env.stop(st.nginx)


def rules():
    """Policy lines that give the bench's static directories their class."""
    return f"/{UPLOADS}/** shared\n/{PAGES}/** cache\n"
