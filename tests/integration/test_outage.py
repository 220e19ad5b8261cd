# test_outage.py - Redis goes away: the site keeps serving its code, a shared write fails with EIO
# in bounded time instead of hanging, and once Redis is back writes work without a remount.

import errno
import os
import time

import pytest

from harness import SYNTHETIC, read_bytes, run_pressfs, wait_for, write_bytes

UP = "wp-content/uploads"
BOUND = 10.0   # seconds a failing write may take with timeout=1000 (behaviour bound, generous)


def _timed_write(m, rel, data):
    """(errno or None, seconds) of open+write+close of REL on M."""
    t0 = time.monotonic()
    try:
        with open(m / rel, "wb") as f:
            f.write(data)
    except OSError as e:
        return e.errno, time.monotonic() - t0
    return None, time.monotonic() - t0


def _store_state(m):
    """What `pressfs status --json` says besides its counters: the store's state."""
    return {k: v for k, v in m.status_json().items() if k not in ("requests", "events")}


def _lower_reads(m):
    for rel in ("index.php", "wp-includes/version.php", "wp-includes/functions.php",
                "wp-content/plugins/foo/foo.php", "wp-content/themes/t/style.css",
                "wp-admin/index.php"):
        assert read_bytes(m / rel) == SYNTHETIC[rel][0], rel
    assert "version.php" in os.listdir(m / "wp-includes")


def _write_until_ok(m, rel, data, timeout):
    """After an outage: retry until a write succeeds; every try must itself be bounded."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        e, took = _timed_write(m, rel, data)
        assert took < BOUND, "a write took %.1fs while Redis was coming back" % took
        if e is None:
            return
        last = e
        time.sleep(0.2)
    pytest.fail("writes still fail %ss after Redis came back: %s" % (timeout, os.strerror(last)))


def _read_when_back(m, rel, timeout=5):
    """Reads recover too once Redis is back; each of the daemon's threads may take a moment
    (it fails fast for a short while after its own last failure)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return read_bytes(m / rel)
        except OSError as e:
            if e.errno != errno.EIO or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.limit(150)
def test_redis_stopped_then_back_on_same_port(mount, persistent_redis):
    r = persistent_redis
    a = mount("a", store=r.url, timeout_ms=1000)
    b = mount("b", store=r.url, timeout_ms=1000)
    write_bytes(a / UP + "/before.txt", b"written before the outage\n")
    assert read_bytes(b / UP + "/before.txt") == b"written before the outage\n"

    r.stop()
    _lower_reads(a)
    _lower_reads(b)
    for i in range(2):          # the first failure and the ones after it are bounded
        e, took = _timed_write(a, UP + "/during-%d.txt" % i, b"x" * 10000)
        assert e == errno.EIO, "write during the outage: %s" % (os.strerror(e) if e else "ok")
        assert took < BOUND, "the failing write took %.1fs" % took
    st = run_pressfs("status", a.mnt, timeout=BOUND)
    assert st.returncode == 0, "pressfs status failed while Redis is down"

    r.start()                   # same port, same dir: the append-only file brings data back
    _write_until_ok(a, UP + "/after.txt", b"written after the outage\n", 15)
    wait_for(lambda: os.path.exists(b / UP + "/after.txt"), 15, interval=0.2,
             what="B to reconnect and see the new file")
    assert _read_when_back(b, UP + "/after.txt") == b"written after the outage\n"
    assert _read_when_back(b, UP + "/before.txt") == b"written before the outage\n"
    _write_until_ok(b, UP + "/from-b.txt", b"B writes too\n", 15)
    assert _read_when_back(a, UP + "/from-b.txt") == b"B writes too\n"


@pytest.mark.limit(150)
def test_redis_frozen_write_fails_in_bounded_time(mount, redis):
    """A Redis that accepts connections but never answers (SIGSTOP) must not hang the site."""
    a = mount("a", timeout_ms=1000)
    write_bytes(a / UP + "/before.txt", b"before\n")
    redis.pause()
    try:
        _lower_reads(a)
        e, took = _timed_write(a, UP + "/frozen.txt", b"y" * 10000)
        assert e == errno.EIO, "write to a frozen Redis: %s" % (os.strerror(e) if e else "ok")
        assert took < BOUND, "the failing write took %.1fs" % took
    finally:
        redis.resume()
    _write_until_ok(a, UP + "/thawed.txt", b"after SIGCONT\n", 15)
    assert _read_when_back(a, UP + "/thawed.txt") == b"after SIGCONT\n"
    assert _read_when_back(a, UP + "/before.txt") == b"before\n"


def test_status_shows_the_store_state(mount, redis):
    """An operator's first question in an outage: is the store up?"""
    a = mount("a", timeout_ms=1000)
    write_bytes(a / UP + "/x.txt", b"x\n")
    up = _store_state(a)
    redis.stop()
    e, _ = _timed_write(a, UP + "/y.txt", b"y\n")
    assert e == errno.EIO
    down = _store_state(a)
    assert down != up, "pressfs status --json shows the same store state with Redis up (%s) " \
        "and down (%s)" % (up, down)
    with open(a.log, errors="replace") as f:
        log = f.read()
    assert "redis" in log.lower() and "refused" in log.lower(), \
        "the daemon's log does not say why the write failed:\n" + log[-2000:]


@pytest.mark.limit(150)
def test_what_a_node_knows_keeps_serving_while_redis_is_down(mount, redis):
    """Apache reads .htaccess on every request and the pages link uploads: with Redis down, a
    node goes on serving the image's files in writable places (the root's .htaccess, uploads the
    image ships) and the uploads its kernel holds, as they were when it last saw them.  What it
    never saw fails with EIO rather than being called absent, and writes still fail."""
    a = mount("a", timeout_ms=1000)
    b = mount("b", timeout_ms=1000)
    write_bytes(a / UP + "/seen.txt", b"read on B before the outage\n")
    write_bytes(a / UP + "/unseen.txt", b"never read on B\n")
    time.sleep(1.2)             # settled: B's kernel may keep its pages once it reads it
    for _ in range(2):
        assert read_bytes(b / UP + "/seen.txt") == b"read on B before the outage\n"
    listed = sorted(os.listdir(b / UP))
    photo = UP + "/2020/01/photo.jpg"

    redis.stop()
    assert read_bytes(b / ".htaccess") == SYNTHETIC[".htaccess"][0]
    assert read_bytes(b / photo) == SYNTHETIC[photo][0]
    assert os.stat(b / photo).st_size == len(SYNTHETIC[photo][0])
    for _ in range(3):
        assert read_bytes(b / UP + "/seen.txt") == b"read on B before the outage\n"
        assert os.stat(b / UP + "/seen.txt").st_size == 28
    assert sorted(os.listdir(b / UP)) == listed
    e, took = _timed_write(b, UP + "/during.txt", b"z")
    assert e == errno.EIO and took < BOUND
    try:
        read_bytes(b / UP + "/unseen.txt")
        pytest.fail("B read a file it never saw while Redis is down")
    except OSError as err:
        assert err.errno == errno.EIO, "unseen file during the outage: %s" % err
    assert b.status_json()["events"]["outage_reads"] > 0
