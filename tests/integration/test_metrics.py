# test_metrics.py - a mount's `-o metrics=`: the Prometheus page parsed strictly (Debian's
# python3-prometheus-client) and checked against the format's rules, its counters moving with
# real I/O on two peers, /healthz following a real redis-server that is killed and restarted
# or stopped, the address kept off everything but loopback, and clients that are slow or send
# garbage unable to keep the endpoint from others.

import os
import re
import socket
import time
import urllib.error
import urllib.request

import pytest

import harness
from harness import pattern_bytes, read_bytes, wait_for, write_bytes

UP = "wp-content/uploads"
POLICY_TEXT = open(harness.POLICY).read().splitlines()


def get(port, path, timeout=10):
    """(status, headers, body text) of GET http://127.0.0.1:PORT/PATH."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def raw(port, data, timeout=10):
    """Send DATA on a fresh connection and return all the server sends until it closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                return out
            out += b
    finally:
        s.close()


def scrape(port):
    """{(name, frozenset(labels)): value} of /metrics, parsed by prometheus_client's parser."""
    from prometheus_client.parser import text_string_to_metric_families
    status, headers, text = get(port, "/metrics")
    assert status == 200, text
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in out, "sample %s given twice" % (key,)
            out[key] = s.value
    return out


def value(samples, name, **labels):
    """The sum of NAME's samples whose labels include LABELS."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def metrics_mount(mount, name="a", **kw):
    port = harness.free_port()
    kw.setdefault("extra", [])
    kw["extra"] = kw["extra"] + ["metrics=127.0.0.1:%d" % port]
    m = mount(name, **kw)
    m.metrics_port = port
    return m


def rule_line(pattern):
    """The line of the shipped policy whose rule is PATTERN."""
    for i, line in enumerate(POLICY_TEXT, 1):
        if line.split("#")[0].split() and line.split()[0] == pattern:
            return i
    raise AssertionError("no rule %s in the policy" % pattern)


# --- the format ----------------------------------------------------------------------------

def test_page_follows_the_exposition_format(mount):
    m = metrics_mount(mount, "we\"ird\\\\peer")
    os.listdir(m.mnt)
    status, _, text = get(m.metrics_port, "/metrics")
    assert status == 200 and text.endswith("\n")
    samples = scrape(m.metrics_port)

    # the labels every sample has, the peer's quote and backslash escaped and read back
    for (name, labels) in samples:
        assert name.startswith("pressfs_"), name
        assert dict(labels)["site"] == "default" and dict(labels)["peer"] == 'we"ird\\peer'
    assert '\\"' in text and "\\\\" in text

    # HELP then TYPE before each family's samples, each family once
    families, current = [], None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            current = line.split()[2]
            assert current not in families, "family %s twice" % current
            families.append(current)
        elif line.startswith("# TYPE "):
            assert line.split()[2] == current, line
            assert line.split()[3] in ("counter", "gauge", "histogram"), line
        else:
            name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
            assert name == current or name.startswith(current + "_"), (line, current)
            if name.endswith("_total"):
                assert current == name, line

    # histograms: cumulative buckets ending in +Inf, which equals _count
    hist = "pressfs_fuse_request_duration_seconds"
    ops = {dict(ls)["op"] for (n, ls) in samples if n == hist + "_count"}
    assert {"lookup", "getattr", "read", "write", "create", "open", "release"} <= ops
    for op in ops:
        buckets = sorted(((float(dict(ls)["le"]), v) for (n, ls), v in samples.items()
                          if n == hist + "_bucket" and dict(ls)["op"] == op))
        assert buckets[-1][0] == float("inf")
        assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), buckets
        assert buckets[-1][1] == value(samples, hist + "_count", op=op)
    assert value(samples, hist + "_count", op="readdir") >= 1, "the listing was not counted"
    assert value(samples, "pressfs_mounted") == 1 and value(samples, "pressfs_store_up") == 1


# --- counters move with I/O ----------------------------------------------------------------

def test_counters_move_with_io(mount):
    a = metrics_mount(mount, "a")
    b = metrics_mount(mount, "b")
    data = pattern_bytes("metrics", 300000)
    write_bytes(b / (UP + "/warm.txt"), b"x")        # b knows the directory: it will be told
    a0, b0 = scrape(a.metrics_port), scrape(b.metrics_port)

    write_bytes(a / (UP + "/m.bin"), data)
    assert read_bytes(b / (UP + "/m.bin")) == data   # from Redis: b never had it
    with pytest.raises(OSError):
        write_bytes(a / "wp-content/plugins/foo/planted.txt", b"no")
    with pytest.raises(OSError):
        write_bytes(a / "wp-admin/planted.txt", b"no")

    wait_for(lambda: value(scrape(b.metrics_port), "pressfs_invalidations_received_total") >
             value(b0, "pressfs_invalidations_received_total"), 10,
             what="b to be told of a's new file")
    a1, b1 = scrape(a.metrics_port), scrape(b.metrics_port)

    def grew(before, after, name, by=1, **labels):
        return value(after, name, **labels) - value(before, name, **labels) >= by

    assert grew(a0, a1, "pressfs_bytes_written_total", len(data), **{"class": "shared"})
    assert grew(b0, b1, "pressfs_bytes_read_total", len(data), **{"class": "shared"})
    assert value(b1, "pressfs_bytes_written_total", **{"class": "cache"}) == 0
    assert grew(a0, a1, "pressfs_fuse_request_duration_seconds_count", op="create")
    assert grew(a0, a1, "pressfs_fuse_request_duration_seconds_count", op="write")
    assert grew(b0, b1, "pressfs_fuse_request_duration_seconds_count", op="read")
    assert grew(a0, a1, "pressfs_store_round_trip_duration_seconds_count")
    assert grew(b0, b1, "pressfs_store_round_trip_duration_seconds_count")
    assert grew(a0, a1, "pressfs_commits_total")
    assert grew(a0, a1, "pressfs_invalidations_sent_total", to="peers")
    assert grew(b0, b1, "pressfs_invalidations_sent_total", to="kernel")

    line = rule_line("/wp-content/plugins/**")
    assert grew(a0, a1, "pressfs_refusals_total", **{
        "class": "deny", "rule": str(line), "pattern": "/wp-content/plugins/**"})
    assert grew(a0, a1, "pressfs_refusals_total", **{"class": "none", "rule": "none"})
    assert value(b1, "pressfs_refusals_total") == value(b0, "pressfs_refusals_total"), \
        "b counted a's refusals"


# --- health ------------------------------------------------------------------------------

def test_healthz_follows_a_killed_and_restarted_redis(mount, persistent_redis):
    m = metrics_mount(mount, "a", store=persistent_redis.url, timeout_ms=1000)
    write_bytes(m / (UP + "/known.txt"), b"known")
    os.stat(m / (UP + "/known.txt"))
    status, _, body = get(m.metrics_port, "/healthz")
    assert (status, body) == (200, "ok\n")

    persistent_redis.proc.kill()
    persistent_redis.proc.wait(timeout=10)
    wait_for(lambda: get(m.metrics_port, "/healthz")[0] == 503, 10, what="/healthz to say 503")
    status, _, body = get(m.metrics_port, "/healthz")
    assert status == 503 and len(body.splitlines()) == 1 and body.startswith("store: "), body
    samples = scrape(m.metrics_port)
    assert value(samples, "pressfs_store_up") == 0 and value(samples, "pressfs_mounted") == 1

    # what the node knows keeps being served, and the metrics say so
    time.sleep(1.5)                                  # past the kernel's entry timeout
    before = value(samples, "pressfs_outage_reads_total")
    os.stat(m / (UP + "/known.txt"))
    assert value(scrape(m.metrics_port), "pressfs_outage_reads_total") > before

    persistent_redis.start()                         # same port, same append-only file
    wait_for(lambda: get(m.metrics_port, "/healthz")[0] == 200, 20, what="/healthz back to 200")
    assert get(m.metrics_port, "/healthz")[2] == "ok\n"
    assert value(scrape(m.metrics_port), "pressfs_store_up") == 1


def test_healthz_answers_at_once_while_redis_hangs(mount, redis):
    # a long timeout: a /healthz that waited for Redis would take that long to answer
    m = metrics_mount(mount, "a", timeout_ms=8000)
    assert get(m.metrics_port, "/healthz")[0] == 200
    redis.pause()
    try:
        deadline = time.monotonic() + 30
        while True:
            status, _, body = get(m.metrics_port, "/healthz", timeout=4)
            if status == 503 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert status == 503 and "8000" in body, body
        assert scrape(m.metrics_port)                # the page too, while the probe waits
    finally:
        redis.resume()
    wait_for(lambda: get(m.metrics_port, "/healthz")[0] == 200, 30, what="/healthz back to 200")


# --- the address ---------------------------------------------------------------------------

@pytest.mark.parametrize("spec", ["0.0.0.0:%d", "[::]:%d", "192.0.2.1:%d", "localhost:%d",
                                  "127.0.0.1:0", "127.0.0.1:70000", "127.0.0.1", "[::1:%d"])
def test_a_bad_or_public_address_is_refused(mount, spec):
    if "%d" in spec:
        spec = spec % harness.free_port()
    m = mount("a", start=False, extra=["metrics=" + spec])
    with pytest.raises(harness.MountError) as e:
        m.start()
    assert "metrics=" + spec in str(e.value)
    if spec.startswith(("0.0.0.0", "[::]", "192.0.2.1")):
        assert "loopback" in str(e.value) and "metrics_any" in str(e.value)
    assert not harness.is_mounted(m.mnt)


def test_metrics_any_alone_is_refused(mount):
    m = mount("a", start=False, extra=["metrics_any"])
    with pytest.raises(harness.MountError) as e:
        m.start()
    assert "metrics_any needs metrics=" in str(e.value)
    assert not harness.is_mounted(m.mnt)


def test_help_says_why_only_loopback():
    r = harness.run_pressfs("mount", "--help")
    text = (r.stdout + r.stderr).decode()
    assert "metrics=HOST:PORT" in text and "metrics_any" in text
    assert "loopback" in text and "visitors" in text


def test_only_loopback_is_listened_on(mount):
    """A visitor on another address cannot connect: the socket is bound to 127.0.0.1 alone,
    never to a wildcard address."""
    m = metrics_mount(mount, "a")
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for row in f.read().splitlines()[1:]:
                local, state = row.split()[1], row.split()[3]
                if state == "0A" and int(local.split(":")[1], 16) == m.metrics_port:
                    listening.append(local.split(":")[0])
    assert listening == ["0100007F"], listening


def test_ipv6_loopback(mount):
    if not socket.has_ipv6 or not os.path.exists("/proc/net/tcp6"):
        pytest.skip("no IPv6 on this machine")
    port = harness.free_port()
    m = mount("a", extra=["metrics=[::1]:%d" % port])
    s = socket.create_connection(("::1", port), timeout=10)
    try:
        s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
        out = b""
        while (b := s.recv(4096)):
            out += b
    finally:
        s.close()
    assert out.startswith(b"HTTP/1.1 200 ") and out.endswith(b"\r\n\r\nok\n"), out
    assert harness.is_mounted(m.mnt)


def test_port_in_use_fails_the_mount(mount):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        m = mount("a", start=False, extra=["metrics=127.0.0.1:%d" % busy.getsockname()[1]])
        with pytest.raises(harness.MountError) as e:
            m.start()
        assert "in use" in str(e.value)
        assert not harness.is_mounted(m.mnt)
    finally:
        busy.close()


# --- clients -------------------------------------------------------------------------------

def test_requests_get_one_answer_each(mount):
    m = metrics_mount(mount, "a")
    p = m.metrics_port
    assert raw(p, b"GET /healthz HTTP/1.0\r\n\r\n").endswith(b"\r\n\r\nok\n")
    assert raw(p, b"GET /healthz?from=haproxy HTTP/1.1\r\nHost: x\r\n\r\n").startswith(
        b"HTTP/1.1 200 ")
    head = raw(p, b"HEAD /metrics HTTP/1.1\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and head.endswith(b"\r\n\r\n")
    assert int(re.search(rb"Content-Length: (\d+)", head).group(1)) > 1000
    assert raw(p, b"POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc").startswith(
        b"HTTP/1.1 405 ")
    assert raw(p, b"GET /wp-config.php HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 404 ")
    assert raw(p, os.urandom(300).replace(b"\n", b"") + b"\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw(p, b"GET /metrics\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw(p, b"GET /metrics HTTP/1.1\r\nX: \0\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw(p, b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 10000).startswith(b"HTTP/1.1 431 ")
    assert get(p, "/healthz")[0] == 200


def test_slow_and_idle_clients_do_not_block_others(mount):
    m = metrics_mount(mount, "a")
    p = m.metrics_port
    idle = []
    try:
        for i in range(40):                          # more than the server keeps at once
            s = socket.create_connection(("127.0.0.1", p), timeout=10)
            if i % 2:
                s.sendall(b"GET /metr")              # half a request line, then nothing
            idle.append(s)
        for _ in range(3):
            status, _, body = get(p, "/healthz", timeout=10)
            assert (status, body) == (200, "ok\n")
        assert scrape(p)
        # answered while the newest of them were still waiting: not by outlasting them
        idle[-1].setblocking(False)
        with pytest.raises(BlockingIOError):
            idle[-1].recv(1)
    finally:
        for s in idle:
            s.close()
    assert harness.is_mounted(m.mnt)


# --- the shipped HAProxy example ------------------------------------------------------------

HAPROXY_CFG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy",
                           "haproxy", "healthz.cfg")


def haproxy_states(sock_path):
    """{server name: status} of the wordpress backend, from HAProxy's admin socket."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sock_path)
    s.sendall(b"show stat\n")
    out = b""
    while (b := s.recv(65536)):
        out += b
    s.close()
    rows = out.decode().splitlines()
    head = rows[0].lstrip("# ").split(",")
    states = {}
    for row in rows[1:]:
        f = dict(zip(head, row.split(",")))
        if f.get("pxname") == "wordpress" and f.get("svname", "").startswith("peer-"):
            states[f["svname"]] = f["status"]
    return states


@pytest.mark.limit(150)
def test_haproxy_example_takes_an_unhealthy_peer_out(workdir, mount, redis, procs):
    import subprocess
    import sys
    redis_b = harness.Redis(os.path.join(workdir, "redis-b"), persistent=True)
    redis_b.start()
    try:
        a = metrics_mount(mount, "a", timeout_ms=1000)
        b = metrics_mount(mount, "b", store=redis_b.url, timeout_ms=1000)
        env = dict(os.environ, PRESSFS_WWW="127.0.0.1:%d" % harness.free_port(),
                   PRESSFS_STATS_SOCKET=os.path.join(workdir, "haproxy.sock"))
        for name, m in (("A", a), ("B", b)):
            write_bytes(m / (UP + "/who.txt"), name.encode())
            port = harness.free_port()
            procs(subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                                    str(port), "--directory", m.mnt],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            env["PRESSFS_PEER_" + name] = "127.0.0.1:%d" % port
            env["PRESSFS_PEER_%s_HEALTH" % name] = str(m.metrics_port)
        procs(subprocess.Popen(["haproxy", "-db", "-f", HAPROXY_CFG], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        sock = env["PRESSFS_STATS_SOCKET"]
        both_up = {"peer-a": "UP", "peer-b": "UP"}
        wait_for(lambda: os.path.exists(sock) and haproxy_states(sock) == both_up, 30,
                 interval=0.2, what="both peers UP in HAProxy")

        def served():
            with urllib.request.urlopen("http://%s/%s/who.txt" % (env["PRESSFS_WWW"], UP),
                                        timeout=10) as r:
                return r.read().decode()
        assert {served() for _ in range(6)} == {"A", "B"}

        redis_b.stop()                  # peer b's store goes away: its /healthz says 503
        wait_for(lambda: haproxy_states(sock).get("peer-b") == "DOWN", 30, interval=0.2,
                 what="HAProxy to take peer b out")
        assert haproxy_states(sock)["peer-a"] == "UP"
        assert {served() for _ in range(6)} == {"A"}

        redis_b.start()                 # back, with its data: b returns to the balancer
        wait_for(lambda: haproxy_states(sock) == both_up, 30, interval=0.2,
                 what="HAProxy to put peer b back")
    finally:
        redis_b.stop()


def test_pool_misses_and_evictions(mount, memcached_pair):
    url = "pool=memcached://" + ",".join(s.address for s in memcached_pair)
    a = metrics_mount(mount, "a", extra=[url])
    b = metrics_mount(mount, "b", extra=[url])
    rel = "wp-content/cache/supercache/example.org/index.html"
    os.makedirs(os.path.dirname(a / rel), exist_ok=True)
    page = pattern_bytes("page", 50000)
    before = scrape(a.metrics_port)
    write_bytes(a / rel, page)
    after = scrape(a.metrics_port)
    assert value(after, "pressfs_bytes_written_total", **{"class": "cache"}) - \
        value(before, "pressfs_bytes_written_total", **{"class": "cache"}) >= len(page)
    assert read_bytes(b / rel) == page               # fetched from memcached, whole
    assert value(scrape(b.metrics_port), "pressfs_bytes_read_total", **{"class": "cache"}) >= \
        len(page)

    for s in memcached_pair:                         # memcached loses everything
        s.command("flush_all")
    # a and b hold the page whole and keep serving it (the warm path); a peer that does not
    # hold it is the one that finds it gone, counts the miss and the eviction, and removes
    # the name for every peer
    c = metrics_mount(mount, "c", extra=[url])
    c0 = scrape(c.metrics_port)
    wait_for(lambda: not os.path.exists(c / rel) or _open_fails(c / rel), 10,
             what="the evicted page to be gone on c")
    c1 = scrape(c.metrics_port)
    assert value(c1, "pressfs_pool_misses_total") > value(c0, "pressfs_pool_misses_total")
    assert value(c1, "pressfs_pool_evictions_total") == \
        value(c0, "pressfs_pool_evictions_total") + 1
    wait_for(lambda: not os.path.exists(b / rel), 10, what="the removed page to leave b")


def _open_fails(path):
    try:
        read_bytes(path)
        return False
    except FileNotFoundError:
        return True
