#!/usr/bin/python3
"""bench_import.py - how fast `pressfs import` copies small and large files into a throwaway
redis-server, next to a raw pipelined SET of the same bytes (for `make bench` to print).

    /usr/bin/python3 tests/ops/bench_import.py [--files 20000] [--big-mib 256] [--jobs 8]
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402


def raw_set_rate(port, mib):
    """MiB/s of redis-benchmark's pipelined SETs of 1 MiB values: the ceiling for large files."""
    r = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set", "-d", str(1 << 20),
                        "-P", "16", "-c", "1", "-n", str(mib), "--csv"],
                       capture_output=True, text=True, timeout=600, check=True)
    return float(r.stdout.strip().splitlines()[-1].split(",")[1].strip('"'))


def run_import(redis, src, site, jobs):
    r = subprocess.run([harness.PRESSFS, "import", src, "--store", redis.url, "--site", site,
                        "--policy", harness.POLICY, "--jobs", str(jobs), "--no-verify"],
                       capture_output=True, text=True, timeout=1800, check=True)
    m = re.search(r"imported:\s+(\d+) files, .* in ([\d.]+) s", r.stdout)
    return int(m.group(1)), float(m.group(2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--big-mib", type=int, default=256)
    ap.add_argument("--jobs", type=int, default=8)
    a = ap.parse_args()
    top = tempfile.mkdtemp(prefix="pressfs-bench-import-")
    redis = harness.Redis(os.path.join(top, "redis"))
    redis.start()
    try:
        small = os.path.join(top, "small")
        for i in range(a.files):
            d = os.path.join(small, "%03d" % (i % 100))
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "f%d.jpg" % i), "wb") as f:
                f.write(os.urandom(2048))
        n, secs = run_import(redis, small, "small", a.jobs)
        print("import, small files (2 KiB): %d files in %.2f s = %.0f files/s (goal 20000)"
              % (n, secs, n / secs))
        redis.command("FLUSHALL")
        raw = raw_set_rate(redis.port, a.big_mib)
        redis.command("FLUSHALL")
        print("raw: redis-benchmark SET of 1 MiB values, pipelined: %.0f MiB/s" % raw)
        for nbig in (1, 4):
            big = os.path.join(top, "big%d" % nbig)
            os.makedirs(big)
            for j in range(nbig):
                with open(os.path.join(big, "big%d.bin" % j), "wb") as f:
                    for _ in range(a.big_mib // nbig):
                        f.write(os.urandom(1 << 20))
            _, secs = run_import(redis, big, "big%d" % nbig, a.jobs)
            redis.command("FLUSHALL")
            rate = a.big_mib / secs
            print("import, %d file(s) of %d MiB: %.0f MiB/s = %.0f%% of raw (goal 80%%)"
                  % (nbig, a.big_mib // nbig, rate, 100 * rate / raw))
    finally:
        redis.stop()
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    main()
