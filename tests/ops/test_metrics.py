# test_metrics.py - each mount's health check and Prometheus endpoint (`-o metrics=HOST:PORT`),
# as HAProxy and Kubernetes probe them and as Prometheus scrapes them.  The endpoint lives in
# the mount daemon; until its `metrics=` option exists these tests are skipped, naming it.

import os
import subprocess
import time
import urllib.error
import urllib.request

import harness
import pytest
from conftest import PRESSFS

HELP = subprocess.run([PRESSFS, "mount", "--help"], capture_output=True, text=True).stdout + \
    subprocess.run([PRESSFS, "mount", "--help"], capture_output=True, text=True).stderr
pytestmark = pytest.mark.skipif("metrics=" not in HELP,
                                reason="pressfs mount has no -o metrics=HOST:PORT option yet")


def get(port, path, timeout=10):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                    timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def scrape(port):
    from prometheus_client.parser import text_string_to_metric_families
    status, text = get(port, "/metrics")
    assert status == 200
    samples = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def total(samples, name, **labels):
    return sum(v for (n, ls), v in samples.items()
               if n == name and all(dict(ls).get(k) == w for k, w in labels.items()))


def test_healthz_follows_the_store(workdir, redis, mount):
    port = harness.free_port()
    m = mount(redis.url, "a", timeout_ms=500, extra=["metrics=127.0.0.1:%d" % port])
    status, body = get(port, "/healthz")
    assert status == 200, body
    assert len(body.strip().splitlines()) == 1
    redis.pause()          # SIGSTOP: Redis stops answering, as a hung primary does
    try:
        deadline = time.time() + 10     # the mount's timeout is 0.5 s: well within this
        while time.time() < deadline and get(port, "/healthz")[0] != 503:
            time.sleep(0.1)
        status, body = get(port, "/healthz")
        assert status == 503 and body.strip(), body
    finally:
        redis.resume()
    deadline = time.time() + 10
    while time.time() < deadline and get(port, "/healthz")[0] != 200:
        time.sleep(0.1)
    assert get(port, "/healthz")[0] == 200
    assert os.path.isdir(m.mnt)


def test_metrics_parse_and_move_with_io(workdir, redis, mount):
    port = harness.free_port()
    m = mount(redis.url, "a", extra=["metrics=127.0.0.1:%d" % port])
    before = scrape(port)
    p = os.path.join(m.mnt, "wp-content", "uploads", "m.bin")
    with open(p, "wb") as f:
        f.write(b"x" * 300000)
    with open(p, "rb") as f:
        assert len(f.read()) == 300000
    after = scrape(port)
    grew = [k for k in after if after[k] > before.get(k, 0)]
    assert grew, "no counter moved after a write and a read"
    names = {n for n, _ in after}
    assert any(n.endswith("_bucket") for n in names), "no latency histogram"
    assert total(after, "pressfs_bytes_written_total", **{"class": "shared"}) >= \
        total(before, "pressfs_bytes_written_total", **{"class": "shared"}) + 300000
