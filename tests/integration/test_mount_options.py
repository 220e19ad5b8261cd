# test_mount_options.py - `pressfs mount`'s options as a user gives them: the words of the
# options table (peer=, pool=, pool_fail=) and their older spellings, the help generated from
# the table, and libfuse's own messages reaching the mount's log.

import os

import pytest

from harness import MountError, read_bytes, run_pressfs, write_bytes

UP = "wp-content/uploads"
PAGE = "wp-content/cache/all/index.html"


def test_help_lists_the_options_table():
    r = run_pressfs("mount", "--help")
    assert r.returncode == 0
    for key in ("lower=DIR", "policy=FILE", "peer=ID", "pool=URL", "pool_fail=HOW",
                "password_file=FILE", "timeout=MS", "PRESSFS_STORE_PASSWORD"):
        assert key in r.stdout.decode(), "--help does not show " + key


@pytest.mark.parametrize("words", [("peer", "pool", "pool_fail"), ("node", "cache", "cache_fail")])
def test_peer_and_pool_options_and_their_old_names(mount, memcached_pair, redis, words):
    peer, pool, fail = words
    url = "memcached://" + ",".join(m.address for m in memcached_pair)
    a = mount("a", node=None, extra=["%s=peer-a" % peer, "%s=%s" % (pool, url), fail + "=drop"])
    b = mount("b", node=None, extra=["%s=peer-b" % peer, "%s=%s" % (pool, url)])
    os.makedirs(os.path.dirname(a / PAGE), exist_ok=True)
    write_bytes(a / PAGE, b"<html>cached</html>\n")
    assert read_bytes(b / PAGE) == b"<html>cached</html>\n"
    items = sum(int(m.stats()["curr_items"]) for m in memcached_pair)
    assert items > 0, "the page is not in the pool"
    with open(a.log) as f:
        log = f.read()
    assert "peer peer-a" in log, "the peer's name is not the one given"


def test_libfuse_messages_reach_the_log(mount):
    m = mount("a", start=False, extra=["no_such_fuse_option"])
    with pytest.raises(MountError):
        m.start()
    with open(m.log) as f:
        log = f.read()
    assert "fuse: " in log and "no_such_fuse_option" in log, log
