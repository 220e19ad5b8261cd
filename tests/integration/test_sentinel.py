# test_sentinel.py - a site behind Redis Sentinel: kill -9 of the primary in the middle of eight
# writers on two peers; after the fail-over every file whose close() returned 0 reads back whole
# and identical on both peers, none is partial, and both peers write again without a remount.

import errno
import os
import signal
import time

import pytest

import harness
from harness import AckedWriters, Redis, kill_pid, read_retrying, tail, wait_for

UP = "wp-content/uploads"
MASTER = "mymaster"
REDIS_SENTINEL = "/usr/bin/redis-sentinel"


class Server(Redis):
    """A data server: the replica of PRIMARY_PORT, or a primary when that is None; with a
    password, it also gives it to its primary (a primary may be turned replica)."""

    def __init__(self, workdir, primary_port, password=None):
        super().__init__(workdir, password=password)
        self.primary_port = primary_port

    def argv(self):
        a = super().argv()
        if self.primary_port is not None:
            a += ["--replicaof", "127.0.0.1", str(self.primary_port)]
        return a + (["--masterauth", self.password] if self.password else [])


class Sentinel(Redis):
    """A redis-sentinel on 127.0.0.1 watching MASTER; fail-over after ~1 s of silence."""

    def __init__(self, workdir, primary_port, password=None):
        super().__init__(workdir, password=password)
        self.conf = os.path.join(workdir, "sentinel.conf")
        with open(self.conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\ndaemonize no\n"
                    "sentinel monitor %s 127.0.0.1 %d 2\n"
                    "sentinel down-after-milliseconds %s 1000\n"
                    "sentinel failover-timeout %s 4000\n"
                    "sentinel parallel-syncs %s 2\n"
                    % (self.port, workdir, self.log, MASTER, primary_port, MASTER, MASTER,
                       MASTER))
            if password:   # the sentinels' own password, and the one they give the servers
                f.write("requirepass %s\nsentinel auth-pass %s %s\n"
                        % (password, MASTER, password))

    def argv(self):
        return [REDIS_SENTINEL, self.conf]

    def primary_port(self):
        r = self.command("SENTINEL", "get-master-addr-by-name", MASTER)
        return int(r[1]) if r else None


def start_topology(workdir, started, nreplicas, password=None):
    """A primary, NREPLICAS replicas in sync and three sentinels that know them all and each
    other, under WORKDIR: (primary, [replicas], [sentinels]).  Each is appended to STARTED as
    it starts, for the caller to stop (tests/bench/topology.py uses it too)."""
    if not os.path.exists(REDIS_SENTINEL):
        raise RuntimeError("%s is missing: run `make deps` (package redis-sentinel)"
                           % REDIS_SENTINEL)
    p = Server(os.path.join(workdir, "primary"), None, password).start()
    started.append(p)
    reps = []
    for i in range(nreplicas):
        r = Server(os.path.join(workdir, "replica%d" % i), p.port, password).start()
        started.append(r)
        reps.append(r)
    for r in reps:
        wait_for(lambda: b"master_link_status:up" in r.command("INFO", "replication"), 20,
                 what="replica in sync")
    sents = []
    for i in range(3):
        s = Sentinel(os.path.join(workdir, "sentinel%d" % i), p.port, password).start()
        started.append(s)
        sents.append(s)
    # every sentinel knows the replicas and the others before anything is killed
    for s in sents:
        wait_for(lambda: len(s.command("SENTINEL", "replicas", MASTER)) == nreplicas and
                 len(s.command("SENTINEL", "sentinels", MASTER)) == 2, 30,
                 what="sentinels to discover each other")
    return p, reps, sents


@pytest.fixture
def topology(workdir):
    """start(replicas) -> (primary, [replicas], [sentinels]); all stopped after the test."""
    started = []

    def start(nreplicas, password=None):
        return start_topology(workdir, started, nreplicas, password)

    yield start
    for r in reversed(started):
        r.stop()


def url(sents):
    return "redis-sentinel://" + ",".join("127.0.0.1:%d" % s.port for s in sents) + "/" + MASTER


def _write_again(peers, tag):
    for m in peers:
        rel = "%s/again-%s-%s.txt" % (UP, tag, m.node)
        deadline = time.monotonic() + 30
        while True:
            try:
                with open(m / rel, "wb") as f:
                    f.write(b"after the fail-over\n")
                break
            except OSError as e:
                if e.errno != errno.EIO or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    for m in peers:
        for o in peers:
            assert read_retrying(m / ("%s/again-%s-%s.txt" % (UP, tag, o.node))) == \
                b"after the fail-over\n"


@pytest.mark.limit(240)
def test_kill9_primary_mid_write(mount, topology):
    primary, reps, sents = topology(2)
    a = mount("a", store=url(sents), timeout_ms=1000)
    b = mount("b", store=url(sents), timeout_ms=1000)
    with open(a / UP + "/before.txt", "wb") as f:
        f.write(b"before\n")
    with AckedWriters([a, b], UP) as w:
        w.wait_acked(40, 60)
        kill_pid(primary.proc.pid, signal.SIGKILL)
        primary.proc.wait(10)
        wait_for(lambda: all(s.primary_port() not in (None, primary.port) for s in sents), 60,
                 interval=0.2, what="the sentinels' fail-over")
        w.wait_acked(40, 90)
    assert set(w.errors) <= {errno.EIO}, "writes failed with %s" % set(w.errors)
    w.check([a, b], timeout=10)
    assert read_retrying(b / UP + "/before.txt") == b"before\n"
    _write_again([a, b], "1")
    assert "sentinel master %s: the primary is" % MASTER in open(a.log).read()


@pytest.mark.limit(300)
def test_old_primary_returns_as_replica(mount, topology):
    """One replica: after the fail-over nobody can acknowledge a write (durability 1), so
    writes fail with EIO and say why, until the old primary is back as the new one's replica."""
    primary, reps, sents = topology(1)
    a = mount("a", store=url(sents), timeout_ms=1000)
    b = mount("b", store=url(sents), timeout_ms=1000)
    with AckedWriters([a, b], UP) as w:
        w.wait_acked(40, 60)
        kill_pid(primary.proc.pid, signal.SIGKILL)
        primary.proc.wait(10)
        wait_for(lambda: all(s.primary_port() == reps[0].port for s in sents), 60,
                 interval=0.2, what="the sentinels' fail-over")
        with w.lock:
            failed_before = len(w.errors)
        wait_for(lambda: len(w.errors) > failed_before + 8, 60, interval=0.1,
                 what="writes refused for want of a replica")
        primary.start()        # empty: the sentinels make it the new primary's replica
        try:
            wait_for(lambda: b"master_link_status:up" in
                     primary.command("INFO", "replication"), 90, interval=0.2,
                     what="the old primary to come back as a replica")
        except TimeoutError:
            pytest.fail("the old primary is not a replica:\n%s\nsentinel log:\n%s\n"
                        "its log:\n%s" % (primary.command("INFO", "replication").decode(),
                                          tail(sents[0].log, 40), tail(primary.log, 40)))
        w.wait_acked(40, 90)
    assert set(w.errors) <= {errno.EIO}, "writes failed with %s" % set(w.errors)
    w.check([a, b], timeout=10)
    _write_again([a, b], "2")
    log = open(a.log).read() + open(b.log).read()
    assert "replicas durability= asks for acknowledged" in log, tail(a.log)


def test_durability_option(mount, redis, lower, workdir):
    """durability= on a plain Redis: N replicas that are not there fail the write with EIO
    and say why; a malformed value is refused before anything is mounted."""
    a = mount("a", timeout_ms=1000, extra=["durability=1:200"])
    with pytest.raises(OSError) as e:
        with open(a / UP + "/unreplicated.txt", "wb") as f:
            f.write(b"no replica to acknowledge this\n")
    assert e.value.errno == errno.EIO
    wait_for(lambda: "only 0 of the 1 replicas" in open(a.log).read(), 10,
             what="the durability failure in the log")
    b = mount("b", timeout_ms=1000, extra=["durability=0"])
    with open(b / UP + "/plain.txt", "wb") as f:
        f.write(b"no WAIT asked\n")
    for bad in ("x", "1:", "1:0", "-1", "65", "1:abc", "1:600001"):
        m = harness.Mount(redis.url, lower, os.path.join(workdir, "mnt-bad"),
                          extra=["durability=" + bad])
        with pytest.raises(harness.MountError) as e:
            m.start()
        assert "durability=" + bad in str(e.value), str(e.value)


@pytest.mark.limit(240)
def test_planned_failover_old_primary_stays_up(mount, topology):
    """SENTINEL FAILOVER: the old primary stays up and turns replica (READONLY to writes),
    so only +switch-master and READONLY, not a connection error, move the peers."""
    primary, reps, sents = topology(1)
    a = mount("a", store=url(sents), timeout_ms=1000)
    b = mount("b", store=url(sents), timeout_ms=1000)
    idle = mount("idle", store=url(sents), timeout_ms=1000)  # no error will tell it
    with AckedWriters([a, b], UP) as w:
        w.wait_acked(40, 60)
        assert sents[0].command("SENTINEL", "FAILOVER", MASTER) == "OK"
        wait_for(lambda: all(s.primary_port() == reps[0].port for s in sents), 60,
                 interval=0.2, what="the sentinels' fail-over")
        wait_for(lambda: b"role:slave" in primary.command("INFO", "replication"), 60,
                 interval=0.2, what="the old primary to turn replica")
        w.wait_acked(40, 90)
    assert set(w.errors) <= {errno.EIO}, "writes failed with %s" % set(w.errors)
    # the sentinels' announcement reached the daemons (their watcher runs after the fork);
    # a peer may have learnt it from a READONLY reply first, so any of the three will do
    wait_for(lambda: any("127.0.0.1:%d (+switch-master)" % reps[0].port in open(m.log).read()
                         for m in (a, b, idle)),
             30, what="+switch-master in a peer's log")
    w.check([a, b, idle], timeout=10)
    _write_again([a, b, idle], "3")
    for m in (a, b):
        assert "the primary is 127.0.0.1:%d" % reps[0].port in open(m.log).read(), tail(m.log)


@pytest.mark.limit(240)
def test_passwords_on_servers_and_sentinels(mount, topology, workdir):
    """requirepass on every server and sentinel: the password from password_file= is given
    to the servers and, when they ask (NOAUTH), to the sentinels; a fail-over is followed."""
    pw = "s3cret-sentinel-pw"
    primary, reps, sents = topology(2, password=pw)
    pwfile = os.path.join(workdir, "pw")
    with open(pwfile, "w") as f:
        f.write(pw + "\n")
    os.chmod(pwfile, 0o600)
    a = mount("a", store=url(sents), timeout_ms=1000, extra=["password_file=" + pwfile])
    b = mount("b", store=url(sents), timeout_ms=1000, extra=["password_file=" + pwfile])
    with AckedWriters([a, b], UP, per_peer=2) as w:
        w.wait_acked(20, 60)
        kill_pid(primary.proc.pid, signal.SIGKILL)
        primary.proc.wait(10)
        wait_for(lambda: all(s.primary_port() not in (None, primary.port) for s in sents), 60,
                 interval=0.2, what="the sentinels' fail-over")
        w.wait_acked(20, 90)
    w.check([a, b], timeout=10)
    _write_again([a, b], "4")
    for m in (a, b):
        assert pw not in open(m.log).read(), "the password is in the log"
