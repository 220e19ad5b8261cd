# test_agree.py - what a peer judged a rename or a publish on still holds when the store does it,
# whatever another peer changed meanwhile (issue 12): no cycle cut off from the root, no code
# carried into uploads/ by a move judged before it was there.

import errno
import os
import threading

import pytest

from harness import oserror_errno, wait_for, write_bytes

UP = "wp-content/uploads"
CODE = "wp-content/w3tc-config"  # where the default policy lets W3TC write its .php settings

needs_faults = pytest.mark.skipif(os.environ.get("PRESSFS_FAULTS_BUILD") != "1",
                                  reason="needs a daemon built with fault points "
                                         "(make asan-integration)")


def _s(v):
    return v.decode() if isinstance(v, bytes) else v


def _store_dirs(redis):
    """(every live directory inode, those reachable from the root) of the one site in REDIS,
    read as docs/FORMAT.md describes it."""
    fmt = [_s(k) for k in redis.keys("pressfs:*:format")]
    assert len(fmt) == 1, fmt
    p = fmt[0][:-len("format")]
    live = set()
    for k in redis.keys(p + "i:*"):
        h = redis.command("HGETALL", _s(k))
        f = dict(zip(map(_s, h[0::2]), map(_s, h[1::2])))
        if f.get("type") == "d" and "unlinked" not in f:
            live.add(_s(k)[len(p) + 2:])
    seen, todo = set(), ["1"]
    while todo:
        ino = todo.pop()
        if ino in seen:
            continue
        seen.add(ino)
        h = redis.command("HGETALL", p + "d:" + ino)
        for name, v in zip(map(_s, h[0::2]), map(_s, h[1::2])):
            if name != "." and v.startswith("d"):
                todo.append(v[1:])
    return live, seen


def _assert_all_reachable(redis):
    live, reachable = _store_dirs(redis)
    lost = live - reachable
    assert not lost, "directories cut off from the root: %s" % sorted(lost)


def test_cross_moves_never_cut_a_cycle_off(nodes, redis):
    """A: mv x y/x while B: mv y x/y, at once, many times: at most one of them moves, and every
    directory stays reachable from the root."""
    a, b = nodes
    both = 0
    for i in range(25):
        base = "%s/cross/%d" % (UP, i)
        os.makedirs(a / base + "/x")
        os.makedirs(a / base + "/y")
        wait_for(lambda: os.path.isdir(b / base + "/x") and os.path.isdir(b / base + "/y"), 10,
                 what="B sees x and y")
        go = threading.Barrier(2, timeout=30)
        res = {}

        def move(name, m, src, dst):
            go.wait()
            try:
                os.rename(m / src, m / dst)
                res[name] = 0
            except OSError as e:
                res[name] = e.errno

        ts = [threading.Thread(target=move, args=("a", a, base + "/x", base + "/y/x")),
              threading.Thread(target=move, args=("b", b, base + "/y", base + "/x/y"))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
            assert not t.is_alive(), "a rename hung"
        for who, err in res.items():
            assert err in (0, errno.ENOENT, errno.EINVAL, errno.ESTALE, errno.EXDEV), \
                "%s: %s" % (who, os.strerror(err))
        both += res["a"] == 0 and res["b"] == 0
        _assert_all_reachable(redis)
    assert both == 0, "both moves of one pair succeeded %d times" % both


def _paused(mount, monkeypatch, workdir, name, point):
    """A mount whose daemon stops at fault point POINT until the test lets it go."""
    fdir = os.path.join(workdir, "faults-" + name)
    os.makedirs(fdir, exist_ok=True)
    monkeypatch.setenv("PRESSFS_FAULT", point)
    monkeypatch.setenv("PRESSFS_FAULT_DIR", fdir)
    m = mount(name)
    monkeypatch.delenv("PRESSFS_FAULT")
    monkeypatch.delenv("PRESSFS_FAULT_DIR")
    return m, os.path.join(fdir, point)


def _in_thread(fn):
    out = {}

    def run():
        try:
            out["ret"] = fn()
        except OSError as e:
            out["err"] = e.errno

    t = threading.Thread(target=run)
    t.start()
    return t, out


@needs_faults
def test_cross_move_judged_before_the_other_is_refused(mount, monkeypatch, workdir, redis):
    """A judges mv x y/x; B moves y into x before A's store call: A's move is refused."""
    a, point = _paused(mount, monkeypatch, workdir, "a", "rename_judged")
    b = mount("b")
    base = UP + "/judged"
    os.makedirs(b / base + "/x")
    os.makedirs(b / base + "/y")
    wait_for(lambda: os.path.isdir(a / base + "/y"), 10, what="A sees y")
    t, out = _in_thread(lambda: os.rename(a / base + "/x", a / base + "/y/x"))
    wait_for(lambda: os.path.exists(point + ".hit"), 30, what="A's rename judged")
    os.rename(b / base + "/y", b / base + "/x/y")
    open(point + ".go", "w").close()
    t.join(60)
    assert not t.is_alive()
    assert out.get("err") in (errno.ENOENT, errno.EINVAL, errno.ESTALE), out
    _assert_all_reachable(redis)
    assert os.path.isdir(b / base + "/x/y")


@needs_faults
def test_code_made_in_a_directory_after_its_move_was_judged_is_not_carried(
        mount, monkeypatch, workdir, redis):
    """A judges mv w3tc-config uploads/w3 (nothing in it yet); B writes w3tc-config/master.php
    before A's store call: the store refuses the move, A judges again and refuses it."""
    a, point = _paused(mount, monkeypatch, workdir, "a", "rename_judged")
    b = mount("b")
    os.makedirs(a / CODE, exist_ok=True)
    wait_for(lambda: os.path.isdir(b / CODE), 10, what="B sees " + CODE)
    t, out = _in_thread(lambda: os.rename(a / CODE, a / UP + "/w3"))
    wait_for(lambda: os.path.exists(point + ".hit"), 30, what="A's rename judged")
    write_bytes(b / CODE + "/master.php", b"<?php echo 'pwned';\n")
    open(point + ".go", "w").close()
    t.join(60)
    assert not t.is_alive()
    assert "err" in out, "the move carried master.php into uploads/"
    for m in (a, b):
        assert not os.path.exists(m / UP + "/w3/master.php"), m.node
    wait_for(lambda: os.path.exists(a / CODE + "/master.php"), 10, what="A sees master.php")
    _assert_all_reachable(redis)


@needs_faults
def test_publish_into_a_directory_moved_after_its_judgement_is_refused(
        mount, monkeypatch, workdir, redis):
    """B judges the close of w3tc-config/master.php; A moves w3tc-config to uploads/w3 before
    B's store call: the store refuses the publish where the directory no longer is, B judges
    again at uploads/w3/master.php and refuses it."""
    b, point = _paused(mount, monkeypatch, workdir, "b", "publish_judged")
    a = mount("a")
    os.makedirs(a / CODE, exist_ok=True)
    wait_for(lambda: os.path.isdir(b / CODE), 10, what="B sees " + CODE)
    f = open(b / CODE + "/master.php", "wb")
    f.write(b"<?php echo 'pwned';\n")
    t, out = _in_thread(f.close)
    wait_for(lambda: os.path.exists(point + ".hit"), 30, what="B's publish judged")
    os.rename(a / CODE, a / UP + "/w3")
    open(point + ".go", "w").close()
    t.join(60)
    assert not t.is_alive()
    assert "err" in out, "the close published master.php into uploads/"
    for m in (a, b):
        assert oserror_errno(os.stat, m / UP + "/w3/master.php") == errno.ENOENT, m.node
    _assert_all_reachable(redis)

    def pending():
        return [k for k in redis.keys("pressfs:*:c:*") if redis.command("PTTL", _s(k)) != -1]

    # (the kernel's release, after close returned, tries the commit once more)
    wait_for(lambda: not pending(), 20,
             what="the refused close's chunks released, not left for pending_ttl")


def test_file_written_in_a_directory_another_peer_moves_lands_where_it_went(nodes):
    """B writes uploads/d1/a.txt; A moves d1 to d2 before B closes: the close still publishes,
    under the directory's new path (the store's check re-judges, it does not lose data)."""
    a, b = nodes
    os.makedirs(a / UP + "/d1")
    wait_for(lambda: os.path.isdir(b / UP + "/d1"), 10, what="B sees d1")
    f = open(b / UP + "/d1/a.txt", "wb")
    f.write(b"kept\n")
    f.flush()
    os.rename(a / UP + "/d1", a / UP + "/d2")
    f.close()
    for m in (a, b):
        wait_for(lambda: os.path.exists(m / UP + "/d2/a.txt"), 10, what="d2/a.txt on " + m.node)
        with open(m / UP + "/d2/a.txt", "rb") as g:
            assert g.read() == b"kept\n"


def test_rename_inside_a_directory_another_peer_moved(nodes):
    """A knows uploads/m1 (and a file in it); B moves m1 to m2; A's renames inside m2 and of
    m2 itself still work: the checks refuse only what no longer holds, and A judges again."""
    a, b = nodes
    os.makedirs(a / UP + "/m1/sub")
    write_bytes(a / UP + "/m1/f.txt", b"f\n")
    os.stat(a / UP + "/m1/sub")
    wait_for(lambda: os.path.exists(b / UP + "/m1/f.txt"), 10, what="B sees m1/f.txt")
    os.rename(b / UP + "/m1", b / UP + "/m2")
    wait_for(lambda: os.path.exists(a / UP + "/m2/f.txt"), 10, what="A sees m2/f.txt")
    os.rename(a / UP + "/m2/f.txt", a / UP + "/m2/sub/g.txt")
    os.rename(a / UP + "/m2", a / UP + "/m3")
    for m in (a, b):
        wait_for(lambda: os.path.exists(m / UP + "/m3/sub/g.txt"), 10,
                 what="m3/sub/g.txt on " + m.node)
