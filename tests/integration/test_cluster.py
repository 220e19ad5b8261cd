# test_cluster.py - a site on Redis Cluster (three primaries with a replica each, started here
# with cluster-enabled on loopback): two peers write and read each other's files, follow the
# site's slot when it is resharded under their reads and writes, and follow a primary's kill -9.

import errno
import json
import os
import signal
import subprocess
import threading
import time

import pytest

from harness import (AckedWriters, Redis, free_port, kill_pid, pattern_bytes, read_bytes,
                     read_retrying, run_pressfs, tail, wait_for)

UP = "wp-content/uploads"
SITE = "blog"
REDIS_CLI = "/usr/bin/redis-cli"


class Node(Redis):
    """A cluster-enabled redis-server; its bus port (cluster-port) is free too.  Its
    nodes.conf stays in its directory, so a restarted node rejoins as what it was told."""

    def __init__(self, workdir, maxmemory=None):
        super().__init__(workdir)
        self.bus = free_port()
        self.maxmemory = maxmemory

    def argv(self):
        a = super().argv() + ["--cluster-enabled", "yes", "--cluster-port", str(self.bus),
                              "--cluster-config-file", os.path.join(self.dir, "nodes.conf"),
                              "--cluster-node-timeout", "2000",
                              "--maxmemory-policy", "noeviction"]
        return a + (["--maxmemory", str(self.maxmemory)] if self.maxmemory else [])

    def addr(self):
        return "127.0.0.1:%d" % self.port

    def role(self):
        info = self.command("INFO", "replication").decode()
        return "master" if "role:master" in info else "slave"


def cli(*args, timeout=120):
    r = subprocess.run([REDIS_CLI] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout)
    assert r.returncode == 0, "redis-cli %s: %s%s" % (" ".join(map(str, args)),
                                                      r.stdout.decode(), r.stderr.decode())
    return r.stdout.decode()


def state_ok(n):
    try:
        return b"cluster_state:ok" in n.command("CLUSTER", "INFO")
    except (OSError, ConnectionError):
        return False


def start_cluster(workdir, started, maxmemory=None):
    """Six cluster nodes under WORKDIR, the first three primaries with a replica each, the
    cluster ok and every replica in sync: the six Nodes.  Each is appended to STARTED as it
    starts, for the caller to stop (tests/bench/topology.py uses it too)."""
    nodes = []
    for i in range(6):
        n = Node(os.path.join(workdir, "node%d" % i), maxmemory).start()
        started.append(n)
        nodes.append(n)
    cli("--cluster", "create", *[n.addr() for n in nodes], "--cluster-replicas", "1",
        "--cluster-yes")
    for n in nodes:
        wait_for(lambda: state_ok(n), 60, interval=0.1, what="cluster_state:ok")
    # every replica in sync before anything is killed
    for n in nodes:
        wait_for(lambda: n.role() == "master" or
                 b"master_link_status:up" in n.command("INFO", "replication"), 60,
                 interval=0.1, what="replicas in sync")
    return nodes


@pytest.fixture
def cluster(workdir):
    """start(maxmemory=None) -> [six Nodes], the first three primaries; stopped by pid
    after the test, whatever happened."""
    started = []

    def start(maxmemory=None):
        return start_cluster(workdir, started, maxmemory)

    yield start
    for n in reversed(started):
        n.stop()


def url(nodes):
    return "redis-cluster://" + ",".join(n.addr() for n in nodes[:3])


def site_slot(n):
    return n.command("CLUSTER", "KEYSLOT", "pressfs:{%s}:" % SITE)


def owner(nodes, slot):
    """The node serving SLOT, as the first node that answers sees it."""
    for n in nodes:
        if n.proc is None:
            continue
        try:
            for r in n.command("CLUSTER", "SLOTS"):
                if r[0] <= slot <= r[1]:
                    port = r[2][1]
                    return next((x for x in nodes if x.port == port), None)
        except (OSError, ConnectionError):
            continue
    return None


def _write(path, data, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path, "wb") as f:
                f.write(data)
            return
        except OSError as e:
            if e.errno != errno.EIO or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def check_invalidation(a, b, tag):
    """B holds a file, A rewrites it: B serves the new content within seconds (the
    invalidation reached it through the site's channel)."""
    rel = UP + "/inval-%s.txt" % tag
    _write(a / rel, b"first\n")
    assert read_retrying(b / rel) == b"first\n"
    _write(a / rel, b"second, longer\n")
    wait_for(lambda: read_bytes(b / rel) == b"second, longer\n", 15,
             what="a's rewrite of %s seen on b" % rel)


def peers(mount, nodes, extra=()):
    return [mount(name, store=url(nodes), site=SITE, timeout_ms=1000, extra=list(extra))
            for name in ("a", "b")]


@pytest.mark.limit(180)
def test_two_peers_write_and_read(mount, cluster):
    nodes = cluster()
    a, b = peers(mount, nodes)
    big = pattern_bytes("big", 3 * 1048576 + 17)
    with open(a / UP + "/big.bin", "wb") as f:
        f.write(big)
    with open(b / UP + "/small.txt", "wb") as f:
        f.write(b"from b\n")
    assert read_retrying(b / UP + "/big.bin") == big
    # b's change reaches a through the invalidation channel (a held nothing of it)
    wait_for(lambda: os.path.exists(a / UP + "/small.txt"), 10, what="b's file seen on a")
    assert read_retrying(a / UP + "/small.txt") == b"from b\n"
    with open(a / UP + "/small.txt", "wb") as f:
        f.write(b"rewritten on a\n")
    wait_for(lambda: read_bytes(b / UP + "/small.txt") == b"rewritten on a\n", 10,
             what="a's rewrite seen on b")
    # the site's keys are on the node serving its slot, and on no other primary
    home = owner(nodes, site_slot(nodes[0]))
    assert home.keys("pressfs:{%s}:*" % SITE), "no site key on its slot's node"
    for n in nodes[:3]:
        if n is not home and n.role() == "master":
            assert not n.keys("pressfs:*"), "site keys on %s" % n.addr()


def test_bad_cluster_urls(mount, lower, workdir):
    import harness
    for bad, what in (("redis-cluster://", "expected redis-cluster://"),
                      ("redis-cluster://127.0.0.1:1/0", "no database"),
                      ("redis-cluster://u:p@127.0.0.1:1", "takes a user but no password"),
                      ("redis-cluster://u@127.0.0.1:1", "a Redis user was given without"),
                      ("redis-cluster://127.0.0.1:1,,127.0.0.1:2", "empty seed node"),
                      ("redis-cluster://127.0.0.1", "expected host:port")):
        m = harness.Mount(bad, lower, os.path.join(workdir, "mnt-bad"), site=SITE)
        with pytest.raises(harness.MountError) as e:
            m.start()
        assert what in str(e.value), (bad, str(e.value))


def migrate_slot(nodes, slot, src, dst):
    """Move SLOT from SRC to DST key by key, as redis-cli --cluster reshard does (SETSLOT
    IMPORTING/MIGRATING, MIGRATE in batches, SETSLOT NODE everywhere), slowly enough that
    the peers' commands meet the slot half moved.  Returns how many keys moved."""
    sid, did = src.command("CLUSTER", "MYID"), dst.command("CLUSTER", "MYID")
    dst.command("CLUSTER", "SETSLOT", slot, "IMPORTING", sid)
    src.command("CLUSTER", "SETSLOT", slot, "MIGRATING", did)
    moved = 0
    while True:
        keys = src.command("CLUSTER", "GETKEYSINSLOT", slot, 5)
        if not keys:
            break
        src.command("MIGRATE", "127.0.0.1", dst.port, "", 0, 10000, "KEYS", *keys)
        moved += len(keys)
        time.sleep(0.02)
    for n in nodes:
        if n.proc is not None and n.role() == "master":
            n.command("CLUSTER", "SETSLOT", slot, "NODE", did)
    return moved


class Readers:
    """Threads reading, on each of PEERS, the files the writers have acknowledged (most of
    them written by the other peer, so read from the store), until stopped."""

    def __init__(self, peers, writers):
        self.stop = threading.Event()
        self.reads, self.failures = 0, []
        self.w = writers
        self.threads = [threading.Thread(target=self._run, args=(m, i))
                        for i, m in enumerate(peers)]

    def _run(self, m, i):
        n = 0
        while not self.stop.is_set():
            with self.w.lock:
                items = list(self.w.acked.items())
            if not items:
                time.sleep(0.05)
                continue
            rel, data = items[(n * 7 + i) % len(items)]
            n += 1
            try:
                got = read_bytes(m / rel)
                if got != data:
                    self.failures.append("%s on %s: %d bytes differ" % (rel, m.node, len(got)))
            except OSError as e:
                self.failures.append("%s on %s: %s" % (rel, m.node, os.strerror(e.errno)))
            self.reads += 1

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(60)


@pytest.mark.limit(300)
def test_reshard_site_slot_during_writes(mount, cluster):
    """The site's slot (its metadata and, until chunks spread, its chunks) migrates key by
    key to another primary and back while two peers write and read: no read or write fails
    (a command meeting the half-moved slot follows the ASK, a script waits for the MOVED),
    nothing acknowledged is lost, and both peers follow without a remount."""
    nodes = cluster()
    a, b = peers(mount, nodes, extra=["durability=0"])
    slot = site_slot(nodes[0])
    old = owner(nodes, slot)
    new = next(n for n in nodes[:3] if n is not old and n.role() == "master")
    with AckedWriters([a, b], UP, per_peer=2, max_size=2500000) as w, Readers([a, b], w) as r:
        w.wait_acked(20, 90)
        assert migrate_slot(nodes, slot, old, new) > 0
        wait_for(lambda: owner(nodes, slot) is new, 30, what="the slot to move")
        w.wait_acked(20, 90)
        migrate_slot(nodes, slot, new, old)
        wait_for(lambda: owner(nodes, slot) is old, 30, what="the slot to move back")
        w.wait_acked(20, 90)
    assert not w.errors, "writes failed with %s" % set(map(errno.errorcode.get, w.errors))
    assert r.reads > 0 and not r.failures, "%d reads, failed: %s" % (r.reads, r.failures[:5])
    w.check([a, b])
    check_invalidation(a, b, "reshard")
    check_invalidation(b, a, "reshard")
    for m in (a, b):
        _write(m / UP + ("/after-%s.txt" % m.node), b"after the reshard\n")
    for m in (a, b):
        for o in (a, b):
            assert read_retrying(m / UP + ("/after-%s.txt" % o.node)) == b"after the reshard\n"
    log = open(a.log).read() + open(b.log).read()
    assert "is served by %s (MOVED)" % new.addr() in log, tail(a.log)


@pytest.mark.limit(300)
def test_kill9_primary_of_the_site(mount, cluster):
    """kill -9 of the primary serving the site's slot: its replica takes over, the peers
    find it (CLUSTER SLOTS after the connection error) and write again without a remount;
    every acknowledged file reads back on both.  durability=1 (the default): writes wait for
    a replica, so they fail until the killed node is back as the new primary's replica."""
    nodes = cluster()
    a, b = peers(mount, nodes)
    slot = site_slot(nodes[0])
    home = owner(nodes, slot)
    _write(a / UP + "/before.txt", b"before\n")
    with AckedWriters([a, b], UP, per_peer=2, max_size=2500000) as w:
        w.wait_acked(20, 90)
        kill_pid(home.proc.pid, signal.SIGKILL)
        home.proc.wait(10)
        home.proc = None
        rest = [n for n in nodes if n is not home]
        wait_for(lambda: owner(nodes, slot) not in (None, home) and
                 all(state_ok(n) for n in rest), 60, interval=0.2,
                 what="the replica's fail-over")
        home.start()     # its nodes.conf makes it the new primary's replica
        wait_for(lambda: home.role() == "slave" and b"master_link_status:up" in
                 home.command("INFO", "replication"), 60, interval=0.2,
                 what="the old primary back as a replica")
        w.wait_acked(20, 120)
    assert set(w.errors) <= {errno.EIO}, "writes failed with %s" % set(w.errors)
    w.check([a, b])
    assert read_retrying(b / UP + "/before.txt") == b"before\n"
    check_invalidation(a, b, "failover")
    check_invalidation(b, a, "failover")
    new = owner(nodes, slot)
    log = open(a.log).read()
    assert "is served by %s" % new.addr() in log, tail(a.log)


@pytest.mark.limit(300)
def test_planned_failover(mount, cluster):
    """CLUSTER FAILOVER on the replica of the site's primary: the old primary stays up and
    answers MOVED; the writing peers, and a peer that was idle throughout, follow it."""
    nodes = cluster()
    a, b = peers(mount, nodes)
    idle = mount("idle", store=url(nodes), site=SITE, timeout_ms=1000)
    slot = site_slot(nodes[0])
    home = owner(nodes, slot)
    myid = home.command("CLUSTER", "MYID")
    line = home.command("CLUSTER", "REPLICAS", myid)[0].decode()   # "id host:port@bus ..."
    rep = next(n for n in nodes if " %s@" % n.addr() in line)
    with AckedWriters([a, b], UP, per_peer=2, max_size=2500000) as w:
        w.wait_acked(20, 90)
        assert rep.command("CLUSTER", "FAILOVER") in ("OK", b"OK")
        wait_for(lambda: owner(nodes, slot) is rep and home.role() == "slave", 60,
                 interval=0.2, what="the planned fail-over")
        w.wait_acked(20, 90)
    assert set(w.errors) <= {errno.EIO}, "writes failed with %s" % set(w.errors)
    w.check([a, b, idle])
    check_invalidation(idle, a, "planned")
    check_invalidation(b, idle, "planned")
    for m in (a, b, idle):
        _write(m / UP + ("/after-%s.txt" % m.node), b"after the planned fail-over\n")
    log = open(idle.log).read()
    assert "is served by %s (MOVED)" % rep.addr() in log, tail(idle.log)


def _admin(*args):
    r = run_pressfs(*args, timeout=120)
    assert r.returncode == 0, "pressfs %s: exit %d\n%s%s" % (
        " ".join(args), r.returncode, r.stdout.decode(errors="replace"),
        r.stderr.decode(errors="replace"))
    return r.stdout.decode(errors="replace")


@pytest.mark.limit(240)
def test_admin_commands(mount, cluster, workdir):
    """dump, load, info and fsck take the redis-cluster:// URL (each site on its slot's node:
    the copy lands on another site, in another slot)."""
    nodes = cluster()
    a = mount("a", store=url(nodes), site=SITE, timeout_ms=1000)
    big = pattern_bytes("admin", 2 * 1048576 + 5)
    _write(a / UP + "/one.bin", big)
    _write(a / UP + "/two.txt", b"two\n")
    a.stop()
    arch = os.path.join(workdir, "site.tar")
    _admin("dump", arch, "--store", url(nodes), "--site", SITE)
    _admin("load", arch, "--store", url(nodes), "--site", "copy")
    info = _admin("info", "--store", url(nodes), "--site", "copy", "--json")
    assert json.loads(info)["files"] == 2, info
    _admin("fsck", "--store", url(nodes), "--site", SITE)
    c = mount("c", store=url(nodes), site="copy", timeout_ms=1000)
    assert read_retrying(c / UP + "/one.bin") == big
    assert read_retrying(c / UP + "/two.txt") == b"two\n"


# docs/FORMAT.md's rule for a site's user, and what a cluster adds (docs/TOPOLOGY.md)
ACL_RULE = ("on >{pw} resetkeys ~pressfs:{{{site}}}:* resetchannels &pressfs:{{{site}}}:* "
            "-@all +ping +select +info +script|load +eval +evalsha +get +set +incr +incrby "
            "+exists +del +getrange +strlen +append +persist +pexpire +pttl +hget +hset +hdel "
            "+hgetall +hincrby +publish +subscribe +cluster|slots +asking +wait")


@pytest.mark.limit(300)
def test_acl_user_and_password(mount, cluster, workdir):
    """A site's ACL user on every node, named in the URL, its password from password_file=:
    the peers write and read, follow a migration of the site's slot (ASKING on connections of
    their own, authenticated too), and never log the password."""
    pw = "s3cret-cluster-pw"
    nodes = cluster()
    for n in nodes:
        assert n.command("ACL", "SETUSER", "site-blog",
                         *ACL_RULE.format(pw=pw, site=SITE).split()) in ("OK", b"OK")
    pwfile = os.path.join(workdir, "pw")
    with open(pwfile, "w") as f:
        f.write(pw + "\n")
    os.chmod(pwfile, 0o600)
    store = "redis-cluster://site-blog@" + ",".join(n.addr() for n in nodes[:3])
    a, b = [mount(name, store=store, site=SITE, timeout_ms=1000,
                  extra=["password_file=" + pwfile, "durability=0"]) for name in ("a", "b")]
    slot = site_slot(nodes[0])
    old = owner(nodes, slot)
    new = next(n for n in nodes[:3] if n is not old and n.role() == "master")
    with AckedWriters([a, b], UP, per_peer=1, max_size=2500000) as w, Readers([a, b], w) as r:
        w.wait_acked(10, 90)
        migrate_slot(nodes, slot, old, new)
        wait_for(lambda: owner(nodes, slot) is new, 30, what="the slot to move")
        w.wait_acked(10, 90)
    assert not w.errors, "writes failed with %s" % set(map(errno.errorcode.get, w.errors))
    assert r.reads > 0 and not r.failures, "%d reads, failed: %s" % (r.reads, r.failures[:5])
    w.check([a, b])
    os.makedirs(a / UP + "/acl-dir/sub")
    assert os.stat(b / UP + "/acl-dir").st_nlink == 3   # a store-only directory's count
    check_invalidation(a, b, "acl")
    for m in (a, b):
        assert pw not in open(m.log).read(), "the password is in the log"
    # another site's keys are out of the user's reach on a cluster too
    other = "redis-cluster://site-blog@" + nodes[0].addr()
    with pytest.raises(Exception) as e:
        mount("c", store=other, site="other", timeout_ms=1000,
              extra=["password_file=" + pwfile])
    assert "NOPERM" in str(e.value) or "no permissions" in str(e.value), str(e.value)
