# test_served.py - the files a web server serves itself (uploads, cached pages): a reader's
# close costs the daemon no FLUSH, the `.htaccess` Apache looks for in every directory of a
# path is kept absent by the kernel (no store command), and a name another peer makes there is
# seen within the bound all the same, also after a resync of the invalidation stream.

import os
import time

from harness import read_bytes, wait_for, write_bytes
from test_trust import commandstats, events, in_step, work_done

UP = "wp-content/uploads"
P = "pressfs:{default}:"
INVAL = 0.5  # as in test_shared.py: ten times the 50 ms promise, far below any kept lifetime


def requests(m):
    return m.status_json()["requests"]


def test_a_readers_close_sends_no_flush_and_a_writers_close_still_commits(nodes, redis):
    a, b = nodes
    p = UP + "/2026/12/read-only.jpg"
    os.makedirs(a / UP + "/2026/12")
    data = os.urandom(20000)
    write_bytes(a / p, data)
    in_step(b, redis)
    assert read_bytes(b / p) == data
    before = requests(b)
    for _ in range(200):
        with open(b / p, "rb") as f:
            assert f.read(16) == data[:16]
    after = requests(b)
    assert after["open"] - before["open"] >= 200
    assert after["flush"] == before["flush"], "a read-only close sent FLUSH"
    # A writer's close is still its commit: the other peer reads it once close returned.
    new = os.urandom(30000)
    before = requests(a)
    write_bytes(a / p, new)
    assert requests(a)["flush"] > before["flush"]
    assert read_bytes(b / p) == new


def _htaccess_walk(m, dirs):
    """What Apache with AllowOverride All does per request: look for `.htaccess` in every
    directory of the path."""
    for d in dirs:
        assert not os.path.exists(m / d + "/.htaccess")


def _walk_quiet(m, dirs, redis):
    before = commandstats(redis)
    _htaccess_walk(m, dirs)
    return work_done(before, commandstats(redis)) == {}


def _absent_quiet(m, paths, redis):
    before = commandstats(redis)
    for p in paths:
        assert not os.path.exists(m / p)
    return work_done(before, commandstats(redis)) == {}


def test_a_missing_htaccess_looked_up_1000_times_costs_no_store_command(nodes, redis):
    a, b = nodes
    dirs = [UP, UP + "/2026", UP + "/2026/12"]
    os.makedirs(a / dirs[-1], exist_ok=True)
    write_bytes(a / dirs[-1] + "/photo.jpg", b"jpeg")
    in_step(a, redis)
    in_step(b, redis)
    wait_for(lambda: _walk_quiet(a, dirs, redis), 30, what="A keeps the absences")
    # A resync (a keep-alive timed out on a loaded machine) rightly drops what was kept: a
    # window in which A resynced is measured again.
    for attempt in range(3):
        r0 = events(a)["resyncs"]
        before, lookups = commandstats(redis), requests(a)["lookup"]
        for _ in range(1000):
            _htaccess_walk(a, dirs)
        after = commandstats(redis)
        if events(a)["resyncs"] == r0:
            break
        wait_for(lambda: _walk_quiet(a, dirs, redis), 30, what="A keeps them again")
    assert work_done(before, after) == {}, "a kept absence asked the store"
    assert requests(a)["lookup"] - lookups < 10, "the kernel did not keep the absences"


def test_a_name_made_on_b_is_seen_on_a_after_a_kept_its_absence(nodes, redis):
    a, b = nodes
    d = UP + "/2026/11"
    os.makedirs(a / d)
    in_step(a, redis)
    in_step(b, redis)
    f = d + "/new.jpg"
    wait_for(lambda: _absent_quiet(a, [f], redis), 30, what="A keeps the absence")
    write_bytes(b / f, b"jpeg")
    wait_for(lambda: os.path.exists(a / f), INVAL, what="A to see the file B made")
    assert read_bytes(a / f) == b"jpeg"
    # ...and its removal on B the same way, and its making again
    os.unlink(b / f)
    wait_for(lambda: not os.path.exists(a / f), INVAL, what="A to see B's removal")
    assert not os.path.exists(a / f)
    write_bytes(b / f, b"jpeg 2")
    wait_for(lambda: os.path.exists(a / f), INVAL, what="A to see the file B made again")
    assert read_bytes(a / f) == b"jpeg 2"


def test_a_name_made_in_a_directory_b_first_copies_up_is_seen_on_a(nodes, redis):
    # wp-content/uploads exists in the lower tree: its first upper entry is made by B's
    # create, and A, which kept the absence below the lower directory, must still see it.
    a, b = nodes
    d = UP + "/2020/01"
    assert os.path.isdir(a / d)
    in_step(a, redis)
    in_step(b, redis)
    f = d + "/new.jpg"
    wait_for(lambda: _absent_quiet(a, [f], redis), 30, what="A keeps the absence")
    write_bytes(b / f, b"jpeg")
    wait_for(lambda: os.path.exists(a / f), INVAL,
             what="A to see the file B made below a lower directory")


def test_a_name_made_while_a_missed_its_message_is_seen_after_the_resync(mount, redis, policy,
                                                                       workdir):
    # A rule of the root's own, so that a kept absence sits right below the root, whose
    # entry no message can drop (the resync must drop each such absence itself).
    mine = os.path.join(workdir, "root-rule.policy")
    with open(policy) as src, open(mine, "w") as dst:
        dst.write("/robots.txt shared\n" + src.read())
    a, b = mount("a", policy=mine), mount("b", policy=mine)
    d = UP + "/2026/10"
    os.makedirs(a / d)
    in_step(a, redis)
    in_step(b, redis)
    paths = ["robots.txt", d + "/new.jpg"]
    wait_for(lambda: _absent_quiet(a, paths, redis), 30, what="A keeps the absences")
    resyncs = events(a)["resyncs"]
    # The name is made behind every peer's back and its message is lost: only the gap in the
    # sequence (noticed by A's periodic check, README "Consistency") tells A something
    # happened, and the resync must drop the absence A's kernel kept.
    dino = "1"
    for part in d.split("/"):
        dino = _entry_ino(redis, dino, part)
    for parent, name in (("1", "robots.txt"), (dino, "new.jpg")):
        fino = str(redis.command("INCR", P + "next"))
        redis.command("HSET", P + "i:" + fino, "type", "f", "mode", "100644", "uid", "0",
                      "gid", "0", "size", "0", "mtime", "0", "ctime", "0", "ver", "1",
                      "cls", "s", "chunks", "")
        redis.command("HSET", P + "d:" + parent, name, "f" + fino)
    redis.command("INCR", P + "seq")
    wait_for(lambda: events(a)["resyncs"] > resyncs, 10, what="A noticed the lost message")
    for p in paths:
        wait_for(lambda: os.path.exists(a / p), 5,
                 what="A to drop the absence of %s it kept, at the resync" % p)


def _entry_ino(redis, dino, name):
    v = redis.command("HGET", P + "d:" + dino, name)
    assert v is not None, "no entry %s in directory %s" % (name, dino)
    v = v.decode()
    assert v[0] == "d", v
    return v[1:]


def _lower_quiet(m, p, redis, want):
    before = commandstats(redis)
    os.stat(m / p)
    assert read_bytes(m / p) == want
    return work_done(before, commandstats(redis)) == {}


def test_a_lower_file_of_a_writable_area_is_kept_until_another_peer_changes_it(nodes, redis):
    # The image's /.htaccess (shared) and an upload the image ships: Apache stats and opens
    # them on every request.  Their "no upper entry" is kept like any answer...
    a, b = nodes
    in_step(a, redis)
    in_step(b, redis)
    for p in (".htaccess", UP + "/2020/01/photo-150x150.jpg"):
        want = read_bytes(a / p)
        wait_for(lambda: _lower_quiet(a, p, redis, want), 30, what="A keeps %s" % p)
        for attempt in range(3):
            r0 = events(a)["resyncs"]
            before = commandstats(redis)
            for _ in range(500):
                os.stat(a / p)
                with open(a / p, "rb") as f:
                    assert f.read(64) == want[:64]
            after = commandstats(redis)
            if events(a)["resyncs"] == r0:
                break
            wait_for(lambda: _lower_quiet(a, p, redis, want), 30, what="A keeps it again")
        assert work_done(before, after) == {}, "opens of an unchanged lower file asked the store"
    # ...until B writes it (its copy-up) or removes it: A reads the change within the bound.
    p = UP + "/2020/01/photo-150x150.jpg"
    write_bytes(b / p, b"new thumb")
    wait_for(lambda: read_bytes(a / p) == b"new thumb", INVAL, what="A reads B's copy-up")
    assert os.stat(a / p).st_size == len(b"new thumb")
    os.unlink(b / ".htaccess")
    wait_for(lambda: not os.path.exists(a / ".htaccess"), INVAL, what="A sees B's removal")
