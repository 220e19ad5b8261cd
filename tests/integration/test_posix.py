# test_posix.py - the ordinary file system calls WordPress, PHP and image tools make, on a writable
# area: symlinks, chmod/utime, statfs, odd names, flock, concurrent mkdir -p and O_APPEND.

import errno
import fcntl
import os
import stat
import subprocess
import sys
import threading

import pytest

from harness import oserror_errno, read_bytes, wait_for, write_bytes

UP = "wp-content/uploads"
INVAL = 0.5


def test_symlink_and_readlink(nodes):
    a, b = nodes
    os.symlink("2020/01/photo.jpg", a / UP + "/latest.jpg")
    for m in (a, b):
        wait_for(lambda: os.path.islink(m / UP + "/latest.jpg"), INVAL, what="symlink on " + m.node)
        assert os.readlink(m / UP + "/latest.jpg") == "2020/01/photo.jpg"
        assert read_bytes(m / UP + "/latest.jpg") == read_bytes(m / UP + "/2020/01/photo.jpg")
        assert stat.S_ISLNK(os.lstat(m / UP + "/latest.jpg").st_mode)
    assert oserror_errno(os.symlink, "x", a / UP + "/latest.jpg") == errno.EEXIST
    os.unlink(b / UP + "/latest.jpg")
    wait_for(lambda: not os.path.lexists(a / UP + "/latest.jpg"), INVAL, what="unlinked symlink")
    long_target = "d/" * 1000 + "f"
    os.symlink(long_target, a / UP + "/long-link")
    assert os.readlink(b / UP + "/long-link") == long_target


def test_chmod_and_utime(nodes):
    a, b = nodes
    p = UP + "/perm.txt"
    write_bytes(a / p, b"mode test\n")
    assert stat.S_IMODE(os.stat(a / p).st_mode) == 0o644     # umask 022 in the test process
    os.chmod(a / p, 0o600)
    assert stat.S_IMODE(os.stat(a / p).st_mode) == 0o600
    wait_for(lambda: stat.S_IMODE(os.stat(b / p).st_mode) == 0o600, INVAL, what="B's mode")
    mtime = 1700000000123456789
    os.utime(a / p, ns=(1600000000000000000, mtime))
    assert os.stat(a / p).st_mtime_ns == mtime
    wait_for(lambda: os.stat(b / p).st_mtime_ns == mtime, INVAL, what="B's mtime")
    os.utime(b / p)                                    # touch: now
    assert os.stat(b / p).st_mtime_ns > mtime
    os.makedirs(a / UP + "/2024/05")
    os.chmod(a / UP + "/2024/05", 0o755)
    assert stat.S_IMODE(os.stat(b / UP + "/2024/05").st_mode) == 0o755
    assert read_bytes(b / p) == b"mode test\n"


def test_truncate_and_fsync(nodes):
    a, b = nodes
    p = UP + "/t.bin"
    write_bytes(a / p, b"0123456789" * 1000)
    os.truncate(a / p, 25)
    assert read_bytes(b / p) == b"0123456789" * 2 + b"01234"
    with open(a / p, "r+b") as f:
        f.truncate(100000)                              # grows with zeros
        f.flush()
        os.fsync(f.fileno())
    data = read_bytes(b / p)
    assert len(data) == 100000 and data[25:] == b"\0" * (100000 - 25)
    with open(a / p, "r+b") as f:                       # write past the end leaves a hole
        f.seek(3 << 20)
        f.write(b"tail")
    data = read_bytes(b / p)
    assert len(data) == (3 << 20) + 4 and data[100000:3 << 20] == b"\0" * ((3 << 20) - 100000)


def test_statfs_is_sane(nodes):
    for m in nodes:
        for rel in ("", UP):
            s = os.statvfs(m / rel)
            assert s.f_bsize > 0 and s.f_frsize > 0
            assert s.f_blocks > 0
            assert 0 < s.f_bavail <= s.f_bfree <= s.f_blocks
            assert s.f_namemax == 255
            # what PHP's disk_free_space() computes before an unzip
            assert s.f_bavail * s.f_frsize > 1 << 20


NAMES = [
    b"with space.jpg",
    b"new\nline.txt",
    "ünïcødé 日本語 ✓.txt".encode(),
    b"\xff\xfe\x80 not utf-8",
    b"-leading-dash",
    b".hidden",
    b"tab\there",
    b"back\\slash",
    b"percent%20encoded",
    b"quote'\"",
    b"a" * 255,
    ("é" * 127).encode() + b"x",        # 255 bytes of UTF-8
]


def test_names_any_bytes_up_to_255(nodes):
    a, b = nodes
    d = os.fsencode(UP) + b"/names"
    os.mkdir(a / d)
    for n in NAMES:
        write_bytes(a / d + b"/" + n, b"name:" + n)
    os.mkdir(a / d + b"/" + b"d" * 255)
    want = sorted(NAMES + [b"d" * 255])
    for m in (a, b):
        assert sorted(os.listdir(m / d)) == want
        for n in NAMES:
            assert read_bytes(m / d + b"/" + n) == b"name:" + n, n
    too_long = b"a" * 256
    assert oserror_errno(open, a / d + b"/" + too_long, "wb") == errno.ENAMETOOLONG
    assert oserror_errno(os.mkdir, a / d + b"/" + too_long) == errno.ENAMETOOLONG
    assert oserror_errno(os.symlink, b"x", a / d + b"/" + too_long) == errno.ENAMETOOLONG
    assert oserror_errno(os.rename, a / d + b"/" + NAMES[0],
                         a / d + b"/" + too_long) == errno.ENAMETOOLONG
    assert oserror_errno(open, a / d + b"/" + ("é" * 128).encode(), "wb") == errno.ENAMETOOLONG
    assert sorted(os.listdir(b / d)) == want
    # renames between odd names work too
    os.rename(a / d + b"/" + NAMES[1], a / d + b"/" + NAMES[2] + b".moved")
    assert read_bytes(b / d + b"/" + NAMES[2] + b".moved") == b"name:" + NAMES[1]


def test_flock_conflicts_on_one_node_and_never_hangs(nodes):
    a, _ = nodes
    p = "wp-content/wflogs/config.php"          # Wordfence: r+ and flock on every request
    os.mkdir(a / "wp-content/wflogs")
    write_bytes(a / p, b"<?php exit('Access denied'); __halt_compiler(); ?>")
    f1 = os.open(a / p, os.O_RDWR)
    f2 = os.open(a / p, os.O_RDWR)
    try:
        fcntl.flock(f1, fcntl.LOCK_EX)
        with pytest.raises(BlockingIOError):
            fcntl.flock(f2, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(BlockingIOError):
            fcntl.flock(f2, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(f1, fcntl.LOCK_UN)
        fcntl.flock(f2, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(f2, fcntl.LOCK_UN)
        fcntl.flock(f1, fcntl.LOCK_SH)
        fcntl.flock(f2, fcntl.LOCK_SH | fcntl.LOCK_NB)      # shared locks coexist
        fcntl.flock(f1, fcntl.LOCK_UN)
        fcntl.flock(f2, fcntl.LOCK_UN)
    finally:
        os.close(f1)
        os.close(f2)
    # a waiting LOCK_EX is granted when the holder closes its file
    f1 = os.open(a / p, os.O_RDWR)
    fcntl.flock(f1, fcntl.LOCK_EX)
    got = threading.Event()

    def waiter():
        fd = os.open(a / p, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            got.set()
        finally:
            os.close(fd)

    t = threading.Thread(target=waiter, daemon=True)
    t.start()
    assert not got.wait(0.3)
    os.close(f1)
    assert got.wait(10), "LOCK_EX was not granted after the holder closed"
    t.join(10)
    # read-only code may be locked too (plugins flock files they only read)
    with open(a / "wp-includes/version.php", "rb") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)


HOLD_LOCK = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX, 10, 0)
print("locked", flush=True)
sys.stdin.readline()
"""


def test_fcntl_record_locks_conflict_between_processes_and_never_hang(nodes, procs):
    """PHP's flock() is flock(2), but SQLite-backed plugins and image tools take fcntl record
    locks: byte ranges, per process, on the node."""
    a, _ = nodes
    p = a / UP + "/locks.db"
    write_bytes(p, b"\0" * 100)
    holder = procs(subprocess.Popen([sys.executable, "-c", HOLD_LOCK, p], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True))
    assert holder.stdout.readline().strip() == "locked"
    fd = os.open(p, os.O_RDWR)
    try:
        with pytest.raises(OSError) as e:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)
        assert e.value.errno in (errno.EAGAIN, errno.EACCES)
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 10)   # the next range is free
        fcntl.lockf(fd, fcntl.LOCK_UN, 10, 10)
        holder.stdin.write("done\n")
        holder.stdin.flush()
        assert holder.wait(10) == 0
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)    # released with its process
        fcntl.lockf(fd, fcntl.LOCK_UN, 10, 0)
    finally:
        os.close(fd)


def test_chown_of_an_upload_and_of_a_lower_file(nodes, lower):
    """Plugins and deploy scripts hand uploads to the web server's user."""
    a, b = nodes
    p = UP + "/owned.txt"
    write_bytes(a / p, b"owned\n")
    os.chown(a / p, 33, 33)
    wait_for(lambda: (os.stat(b / p).st_uid, os.stat(b / p).st_gid) == (33, 33), INVAL,
             what="B to see the new owner")
    shipped = UP + "/2020/01/photo.jpg"             # the image's file: copied up, then changed
    before = os.stat(os.path.join(lower, shipped))
    os.chown(a / shipped, 33, -1)
    wait_for(lambda: os.stat(b / shipped).st_uid == 33, INVAL, what="B to see the copied-up owner")
    assert os.stat(b / shipped).st_gid == before.st_gid
    assert read_bytes(b / shipped) == read_bytes(os.path.join(lower, shipped))
    assert os.stat(os.path.join(lower, shipped)).st_uid == before.st_uid   # the image untouched
    assert oserror_errno(os.chown, a / "wp-includes/version.php", 33, 33) == errno.EROFS


def _run_both(fn, a, b, per_node=2):
    """Run fn(mount, worker) on both nodes at once; return the exceptions raised."""
    errors = []
    barrier = threading.Barrier(2 * per_node)

    def run(m, w):
        try:
            barrier.wait(30)
            fn(m, w)
        except Exception as e:           # noqa: BLE001 - reported by the caller
            errors.append("%s/%d: %r" % (m.node, w, e))

    ts = [threading.Thread(target=run, args=(m, w)) for m in (a, b) for w in range(per_node)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    return errors


@pytest.mark.limit(120)
def test_mkdir_p_races_from_both_nodes(nodes):
    """wp_mkdir_p on every request that uploads: the same uploads/YYYY/MM from every node."""
    a, b = nodes
    months = ["%d/%02d" % (y, mo) for y in (2023, 2024) for mo in range(1, 13)]

    def work(m, w):
        for ym in months:
            os.makedirs(m / UP + "/" + ym, exist_ok=True)
            write_bytes(m / UP + "/%s/%s-%d.jpg" % (ym, m.node, w), b"%s %d" % (m.node.encode(), w))

    errors = _run_both(work, a, b)
    assert errors == [], errors[:5]
    want = sorted("%s-%d.jpg" % (n, w) for n in ("a", "b") for w in range(2))
    for m in (a, b):
        assert sorted(os.listdir(m / UP)) == ["2020", "2023", "2024"]
        assert sorted(os.listdir(m / UP + "/2024")) == ["%02d" % mo for mo in range(1, 13)]
        for ym in months:
            assert sorted(os.listdir(m / UP + "/" + ym)) == want, (m.node, ym)


@pytest.mark.limit(150)
def test_o_append_from_two_nodes_loses_and_mixes_nothing(nodes):
    """PHP's error_log and WooCommerce's logger: one write() per line with O_APPEND."""
    a, b = nodes
    p = UP + "/wc-logs/debug.log"
    os.makedirs(a / UP + "/wc-logs")
    lines_per_worker = 150

    def line(m, w, i):
        return b"[%s-%d] line %05d %s\n" % (m.node.encode(), w, i, b"x" * (20 + (i * 37) % 180))

    def work(m, w):
        if w == 0:       # open, write, close per line (error_log)
            for i in range(lines_per_worker):
                fd = os.open(m / p, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, line(m, w, i))
                finally:
                    os.close(fd)
        else:            # one handle kept open (fopen 'a')
            fd = os.open(m / p, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                for i in range(lines_per_worker):
                    os.write(fd, line(m, w, i))
            finally:
                os.close(fd)

    errors = _run_both(work, a, b)
    assert errors == [], errors[:5]
    want = sorted(line(m, w, i) for m in (a, b) for w in range(2) for i in range(lines_per_worker))
    total = sum(map(len, want))
    for m in (a, b):
        try:
            wait_for(lambda: os.stat(m / p).st_size == total, INVAL,
                     what="the whole log's size on " + m.node)
        except TimeoutError:
            pass
        got = sorted(read_bytes(m / p).splitlines(keepends=True))
        missing = sorted(set(want) - set(got))
        odd = [l for l in got if l not in set(want)]
        assert got == want, ("on %s: %d bytes (want %d), %d lines (want %d), %d missing (first "
                             "%r), %d not written by anyone (first %r)"
                             % (m.node, sum(map(len, got)), total, len(got), len(want),
                                len(missing), [l[:17] for l in missing[:3]], len(odd), odd[:2]))
    # each worker's lines are in its own order
    data = read_bytes(a / p).splitlines()
    for m in (a, b):
        for w in range(2):
            tag = b"[%s-%d]" % (m.node.encode(), w)
            mine = [l for l in data if l.startswith(tag)]
            assert mine == sorted(mine), "lines of %s out of order" % tag
