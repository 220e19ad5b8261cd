#!/usr/bin/python3
"""profile.py - why a page view costs what it costs on one filesystem: brings up the bench's
WordPress on one column, then for N warm views reports the daemon's requests by type, the
web server's and PHP's system calls (strace -c), the calls that reach the mount (by path), and
optionally a perf profile of the daemon.  The findings go to docs/PERFORMANCE.md.

    /usr/bin/python3 tests/bench/profile.py [--column pressfs+ext] [--page /] [--views 20]
                                            [--perf] [--keep]"""

import argparse
import collections
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402
import pressenv  # noqa: E402


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def views(url, n, cookie=None):
    for _ in range(n):
        status, _, _ = pressenv.http_get(url, timeout=60,
                                         headers={"Cookie": cookie} if cookie else None)
        if status != 200:
            raise RuntimeError(f"HTTP {status} for {url}")


def traced(pids, argv_extra, fn, out):
    argv = ["strace", "-f", "-qq", "-o", out] + argv_extra
    for p in pids:
        argv += ["-p", str(p)]
    st = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # attach
    try:
        fn()
    finally:
        time.sleep(0.3)
        st.send_signal(signal.SIGINT)
        st.wait(30)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--column", default="pressfs+ext", choices=bench.COLUMNS)
    p.add_argument("--page", default="/")
    p.add_argument("--views", type=int, default=20)
    p.add_argument("--perf", action="store_true", help="perf record the daemon too")
    p.add_argument("--keep", action="store_true")
    a = p.parse_args()
    args = bench.parse_args(["--only", "pages", "--columns", a.column] +
                            (["--keep"] if a.keep else []))
    b = bench.Bench(args)
    try:
        b.setup()
        c = b.cols.get(a.column)
        if c is None or c.dead or c.fpm is None:
            sys.exit(f"{a.column} did not come up: {b.res.data['notes']}")
        cookie = None
        if a.page.startswith("/wp-admin"):
            cookie = pressenv.wordpress_login(c.site.url, "admin", b.wp_password)
        url = c.site.url + a.page
        views(url, 20, cookie)  # warm: opcache, kernel caches
        print(f"== {a.column}, {a.views} warm views of {a.page}")

        if hasattr(c.fs, "request_counts"):
            c0 = c.fs.request_counts()
            c1 = c.fs.request_counts()
            views(url, a.views, cookie)
            c2 = c.fs.request_counts()
            per = {k: (c2.get(k, 0) - 2 * c1.get(k, 0) + c0.get(k, 0)) / a.views for k in c2}
            print("daemon requests per view:", {k: round(v, 2) for k, v in per.items() if v},
                  "total", round(sum(per.values()), 2))

        pids = children(c.fpm.pid) + children(b.nginx.pid)
        summary = b.env.path("strace-c.txt")
        traced(pids, ["-c", "-S", "calls"], lambda: views(url, a.views, cookie), summary)
        print(f"\nsystem calls of php-fpm and nginx workers, {a.views} views (strace -c):")
        with open(summary) as f:
            print("".join(f.readlines()[:22]))

        log = b.env.path("strace-paths.txt")
        traced(pids, ["-y", "-e", "trace=%file,%desc"], lambda: views(url, a.views, cookie),
               log)
        root = c.root
        by_call = collections.Counter()
        by_path = collections.Counter()
        with open(log, errors="replace") as f:
            for line in f:
                line = re.sub(r"AT_FDCWD<[^>]*>", "AT_FDCWD", line)  # the cwd is not the file
                line = re.sub(r"\) += .*", ")", line)  # nor is the result
                if root not in line:
                    continue
                m = re.match(r"\d+\s+(\w+)\(", line)
                call = m.group(1) if m else "?"
                pm = re.search(re.escape(root) + r"([^\"<>,)]*)", line)
                by_call[call] += 1
                by_path[(call, pm.group(1) if pm else "?")] += 1
        print("calls naming a path or descriptor on the mount, per view:")
        for call, n in by_call.most_common(15):
            print(f"  {call:12s} {n / a.views:7.1f}")
        print("most frequent (call, path) per view:")
        for (call, path), n in by_path.most_common(25):
            print(f"  {n / a.views:6.1f}  {call:10s} {path or '/'}")

        if a.perf and hasattr(c.fs, "pids") and c.fs.pids():
            data = b.env.path("perf.data")
            pr = subprocess.Popen(["perf", "record", "-q", "-g", "-o", data,
                                   "-p", str(c.fs.pids()[0])], stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            views(url, a.views, cookie)
            pr.send_signal(signal.SIGINT)
            pr.wait(30)
            r = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                                "--percent-limit", "2"], capture_output=True, text=True)
            print("\nperf report of the daemon:\n" + "\n".join(r.stdout.splitlines()[:60]))
    finally:
        b.close()


if __name__ == "__main__":
    main()
