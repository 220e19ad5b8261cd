# test_posix_conf.py - POSIX conformance of a shared area, in the manner of pjdfstest: each call
# with the errno it must give and the attributes it must leave, as root and as two other users
# (a forked child with setresuid/setresgid), plus what a second peer sees of it.

import errno
import os
import stat

import pytest

from harness import wait_for

UP = "wp-content/uploads"
LOCAL_DIR = UP + "/wpcf7_uploads"
INVAL = 0.5
U1, G1 = 65534, 65534  # nobody:nogroup
U2, G2 = 1001, 1001    # a second unprivileged user (need not exist in /etc/passwd)


def as_user(uid, gid, fn, *args):
    """Run fn(*args) in a child with uid:gid (groups dropped); returns 0 or the errno it raised,
    or what fn returned when it returned something other than None."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            try:
                out = fn(*args)
                msg = repr(0 if out is None else out)
            except OSError as e:
                msg = repr(e.errno)
            os.write(w, msg.encode())
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "child failed"
    return eval(data.decode())


def call(fn, *args):
    """fn(*args) as the caller: 0 (or its value) or the errno."""
    try:
        out = fn(*args)
        return 0 if out is None else out
    except OSError as e:
        return e.errno


def mode_of(p):
    return stat.S_IMODE(os.lstat(p).st_mode)


def write_at(p, data, off=0):
    fd = os.open(p, os.O_WRONLY)
    try:
        os.pwrite(fd, data, off)
    finally:
        os.close(fd)


def open_up(m):
    """The test's temp dirs are 0700: let other users through to the mount point."""
    d = os.path.dirname(m.mnt)
    while d not in ("/", "/tmp"):
        os.chmod(d, stat.S_IMODE(os.stat(d).st_mode) | 0o111)
        d = os.path.dirname(d)


@pytest.fixture
def peers(mount):
    """Two peers of one site, mounted as deployments do: allow_other (default_permissions is
    always on)."""
    a, b = mount("a", extra=["allow_other"]), mount("b", extra=["allow_other"])
    open_up(a)
    return a, b


@pytest.fixture
def area(peers):
    """A fresh directory in the shared area that every user may write in: (A, B, rel)."""
    a, b = peers
    rel = UP + "/posix"
    os.mkdir(a / rel)
    os.chmod(a / rel, 0o777)
    return a, b, rel


# --- setuid / setgid --------------------------------------------------------------------------
# pressfs's choice (README, "POSIX"): no file of a writable class keeps setuid or setgid.  The
# store cannot tell a bit pressfs wrote from one planted in Redis, and a dump or export would
# carry it to a file system where it means something; chmod takes the call and drops them, as
# POSIX allows ("additional implementation-defined restrictions").  So a write, a truncate or a
# chown has nothing left to clear, whoever makes it.

SETID_MODES = [0o4755, 0o2755, 0o6777, 0o6555, 0o4700, 0o2070]


@pytest.mark.parametrize("who", [(0, 0), (U1, G1), (U2, G2)])
def test_chmod_never_keeps_setid_on_a_file(area, who):
    a, b, rel = area
    p = a / rel + "/f"
    with open(p, "wb") as f:
        f.write(b"x" * 100)
    os.chown(p, *who)
    for m in SETID_MODES:
        assert as_user(*who, os.chmod, p, m) == 0
        assert mode_of(p) == m & 0o1777
        wait_for(lambda: mode_of(b / rel + "/f") == m & 0o1777, INVAL, what="B's mode")
    assert as_user(*who, os.chmod, p, 0o1755) == 0   # sticky is not a privilege: kept
    assert mode_of(p) == 0o1755
    other = (U2, G2) if who != (U2, G2) else (U1, G1)
    assert as_user(*other, os.chmod, p, 0o4777) == errno.EPERM
    assert mode_of(p) == 0o1755


def test_create_with_setid_mode_does_not_keep_it(area):
    a, b, rel = area
    for who in [(0, 0), (U1, G1)]:
        p = a / rel + "/new-%d" % who[0]

        def make():
            os.umask(0)
            fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o6777)
            st = os.fstat(fd)
            os.write(fd, b"x")
            os.close(fd)
            return stat.S_IMODE(st.st_mode)

        assert as_user(*who, make) == 0o777          # not even while it is open
        assert mode_of(p) == 0o777
        assert mode_of(b / rel + "/new-%d" % who[0]) == 0o777


@pytest.mark.parametrize("how", ["write", "truncate", "ftruncate", "chown"])
@pytest.mark.parametrize("who", [(0, 0), (U1, G1), (U2, G2)])
def test_write_truncate_chown_leave_no_setid(area, how, who):
    a, b, rel = area
    p = a / rel + "/f"
    with open(p, "wb") as f:
        f.write(b"x" * 100)
    os.chmod(p, 0o6777)
    if how == "write":
        assert as_user(*who, write_at, p, b"y", 5) == 0
    elif how == "truncate":
        assert as_user(*who, os.truncate, p, 10) == 0
    elif how == "ftruncate":
        assert as_user(*who, lambda: os.ftruncate(os.open(p, os.O_WRONLY), 10)) == 0
    else:
        os.chown(p, *who)
    assert mode_of(p) == 0o0777
    wait_for(lambda: mode_of(b / rel + "/f") == 0o0777, INVAL, what="B's mode")


def test_directory_chmod_and_chown(area):
    a, b, rel = area
    p = a / rel + "/d"
    os.mkdir(p)
    os.chmod(p, 0o3755)                # setgid dropped as everywhere in the store; sticky kept
    assert mode_of(p) == 0o1755
    os.chown(p, U1, G1)
    assert (os.lstat(p).st_uid, os.lstat(p).st_gid) == (U1, G1)
    assert as_user(U2, G2, os.chown, p, U2, -1) == errno.EPERM
    assert as_user(U1, G1, os.chown, p, -1, G2) == errno.EPERM   # not a member of G2
    assert as_user(U1, G1, os.chmod, p, 0o700) == 0
    assert mode_of(b / rel + "/d") == 0o700


def test_planted_setid_in_the_store_is_not_served(area, redis):
    """The attacker writes a setuid mode straight into Redis: the mount serves it without."""
    a, b, rel = area
    p = a / rel + "/f"
    with open(p, "wb") as f:
        f.write(b"x")
    os.chmod(p, 0o755)
    ino = os.lstat(p).st_ino & ~(1 << 62)
    key = [k for k in redis.keys("pressfs:{default}:i:*") if k.endswith(b":%d" % ino)]
    assert key, "no inode key for %d" % ino
    redis.command("HSET", key[0], "mode", "106755")
    redis.command("HINCRBY", key[0], "ver", "1")
    assert mode_of(b / rel + "/f") == 0o755
    assert mode_of(p) == 0o755


def test_local_class_keeps_no_setid(mount, workdir):
    """A local-class file is a real file of the peer's directory, where the bits would count."""
    loc = os.path.join(workdir, "local-a")
    a = mount("a", local=loc, extra=["allow_other"])
    open_up(a)
    rel = LOCAL_DIR + "/x"
    os.makedirs(a / LOCAL_DIR, exist_ok=True)
    with open(a / rel, "wb") as f:
        f.write(b"#!/bin/sh\n")
    os.chmod(a / rel, 0o6755)
    assert mode_of(a / rel) == 0o755
    assert mode_of(os.path.join(loc, rel)) == 0o755
    os.chmod(a / LOCAL_DIR, 0o2777)    # a real directory: its setgid (inheritance) is kept
    assert mode_of(a / LOCAL_DIR) == 0o2777
    os.chmod(a / rel, 0o777)
    assert as_user(U1, G1, write_at, a / rel, b"y", 3) == 0
    assert mode_of(a / rel) == 0o777


# --- times --------------------------------------------------------------------------------------

def kinds(a, rel):
    """One of every kind the shared area holds, made on A: {kind: path}."""
    out = {}
    out["file"] = a / rel + "/k-file"
    with open(out["file"], "wb") as f:
        f.write(b"data")
    out["dir"] = a / rel + "/k-dir"
    os.mkdir(out["dir"])
    out["symlink"] = a / rel + "/k-link"
    os.symlink("k-file", out["symlink"])
    return out


def test_utimensat_keeps_atime_and_mtime(area):
    a, b, rel = area
    for kind, p in kinds(a, rel).items():
        q = b / rel + "/" + os.path.basename(p)
        for at, mt in [(1500000000123456789, 1600000000987654321),
                       (1700000000000000001, 1600000000000000002),    # atime after mtime
                       (0, 0)]:
            os.utime(p, ns=(at, mt), follow_symlinks=False)
            st = os.lstat(p)
            assert (st.st_atime_ns, st.st_mtime_ns) == (at, mt), kind
            wait_for(lambda: (os.lstat(q).st_atime_ns, os.lstat(q).st_mtime_ns) == (at, mt),
                     INVAL, what="B's times of the " + kind)
        # UTIME_OMIT for one, the other changed alone
        os.utime(p, ns=(1400000000000000000, 1450000000000000000), follow_symlinks=False)
        if kind != "symlink":
            os.utime(p, ns=(1410000000000000000, os.lstat(p).st_mtime_ns))
            assert os.lstat(p).st_atime_ns == 1410000000000000000
            assert os.lstat(p).st_mtime_ns == 1450000000000000000


def test_utimensat_permissions(area):
    a, b, rel = area
    p = a / rel + "/f"
    with open(p, "wb") as f:
        f.write(b"x")
    os.chown(p, U1, G1)
    os.chmod(p, 0o644)
    # an explicit time: the owner or root only
    assert as_user(U1, G1, lambda: os.utime(p, ns=(1, 2))) == 0
    assert (os.stat(p).st_atime_ns, os.stat(p).st_mtime_ns) == (1, 2)
    assert as_user(U2, G2, lambda: os.utime(p, ns=(3, 4))) == errno.EPERM
    # "now": also whoever may write it
    assert as_user(U2, G2, os.utime, p) == errno.EACCES
    os.chmod(p, 0o666)
    assert as_user(U2, G2, os.utime, p) == 0
    st = os.stat(p)
    assert st.st_atime_ns > 2 and st.st_mtime_ns > 2


def test_reads_do_not_write_the_store(area, redis):
    a, b, rel = area
    p = a / rel + "/f"
    with open(p, "wb") as f:
        f.write(b"x" * 5000)
    os.utime(p, ns=(1500000000000000000, 1600000000000000000))
    ino = os.lstat(p).st_ino & ~(1 << 62)
    key = "pressfs:{default}:i:%d" % ino
    ver = redis.command("HGET", key, "ver")
    for m in (a, b):
        for _ in range(3):
            with open(m / rel + "/f", "rb") as f:
                assert f.read() == b"x" * 5000
    assert redis.command("HGET", key, "ver") == ver
    assert os.stat(p).st_atime_ns == 1500000000000000000


def test_old_inode_without_atime_reads_as_before(area, redis):
    a, b, rel = area
    p = a / rel + "/f"
    with open(p, "wb") as f:
        f.write(b"x")
    os.utime(p, ns=(1500000000000000000, 1600000000000000000))
    key = "pressfs:{default}:i:%d" % (os.lstat(p).st_ino & ~(1 << 62))
    assert redis.command("HGET", key, "atime") == b"1500000000000000000"
    redis.command("HDEL", key, "atime")                # as a site written before the field
    redis.command("HINCRBY", key, "ver", "1")
    st = os.stat(b / rel + "/f")
    assert st.st_atime_ns == st.st_mtime_ns == 1600000000000000000


# --- link counts ----------------------------------------------------------------------------

def nlink(p):
    return os.lstat(p).st_nlink


def test_directory_nlink_counts_subdirectories(area):
    a, b, rel = area
    d = a / rel + "/d"
    os.mkdir(d)
    assert nlink(d) == 2
    os.mkdir(d + "/s1")
    os.mkdir(d + "/s2")
    with open(d + "/file", "wb"):
        pass
    os.symlink("s1", d + "/link")
    assert nlink(d) == 4                       # files and symlinks do not count
    wait_for(lambda: nlink(b / rel + "/d") == 4, 2 * INVAL + 1.5, what="B's nlink")
    os.mkdir(a / rel + "/e")
    os.rename(d + "/s1", a / rel + "/e/s1")    # a directory moved out and in
    assert nlink(d) == 3
    assert nlink(a / rel + "/e") == 3
    os.rename(d + "/file", a / rel + "/e/file")
    assert (nlink(d), nlink(a / rel + "/e")) == (3, 3)
    os.mkdir(a / rel + "/e/victim")
    os.rename(d + "/s2", a / rel + "/e/victim")  # replaces an empty directory
    assert (nlink(d), nlink(a / rel + "/e")) == (2, 4)
    os.rmdir(a / rel + "/e/victim")
    assert nlink(a / rel + "/e") == 3
    wait_for(lambda: nlink(b / rel + "/e") == 3, 2 * INVAL + 1.5, what="B's nlink after rmdir")


def test_merged_directory_nlink(peers, lower):
    """A directory of the image with writable entries added: lower and upper counted once."""
    a, b = peers
    d = a / UP
    before = nlink(d)
    lower_subdirs = sum(1 for e in os.scandir(os.path.join(lower, UP)) if e.is_dir())
    assert before == 2 + lower_subdirs
    os.mkdir(d + "/new-subdir")
    assert nlink(d) == before + 1
    wait_for(lambda: nlink(b / UP) == before + 1, 2 * INVAL + 1.5, what="B's merged nlink")
    os.rmdir(d + "/new-subdir")
    assert nlink(d) == before


@pytest.mark.parametrize("committed", [True, False])
def test_open_file_after_unlink_has_nlink_0(area, committed):
    a, b, rel = area
    p = a / rel + "/f"
    if committed:
        with open(p, "wb") as f:
            f.write(b"x" * 10)
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"abc")
        assert os.fstat(fd).st_nlink == 1
        os.unlink(p)
        assert os.fstat(fd).st_nlink == 0
        os.write(fd, b"more")
        assert os.fstat(fd).st_nlink == 0
        assert os.pread(fd, 3, 0) == b"abc"
    finally:
        os.close(fd)
    assert call(os.lstat, p) == errno.ENOENT
    assert call(os.lstat, b / rel + "/f") == errno.ENOENT


# --- fallocate --------------------------------------------------------------------------------

FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE = 1, 2, 0x10


def fallocate(fd, mode, off, length):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    if libc.fallocate(fd, mode, off, length) < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def test_fallocate_modes(area):
    a, b, rel = area
    p = a / rel + "/f"
    with open(p, "wb") as f:
        f.write(b"A" * 3000)
    fd = os.open(p, os.O_RDWR)
    try:
        fallocate(fd, 0, 1000, 1000)                       # inside: nothing changes
        assert os.fstat(fd).st_size == 3000
        fallocate(fd, 0, 2000, (1 << 20) + 5000)          # past the end: the size grows
        assert os.fstat(fd).st_size == 2000 + (1 << 20) + 5000
        fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 4 << 20)      # reserve only
        assert os.fstat(fd).st_size == 2000 + (1 << 20) + 5000
        fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 200)
        assert call(fallocate, fd, FALLOC_FL_PUNCH_HOLE, 0, 10) == errno.EOPNOTSUPP
        assert call(fallocate, fd, FALLOC_FL_ZERO_RANGE, 0, 10) == errno.EOPNOTSUPP
        assert call(fallocate, fd, 0, -1, 10) == errno.EINVAL
        assert call(fallocate, fd, 0, 0, 0) == errno.EINVAL
    finally:
        os.close(fd)
    want = b"A" * 100 + b"\0" * 200 + b"A" * 2700 + b"\0" * ((1 << 20) + 4000)
    for m in (a, b):
        with open(m / rel + "/f", "rb") as f:
            assert f.read() == want
    ro = os.open(p, os.O_RDONLY)
    try:
        assert call(fallocate, ro, 0, 0, 10) == errno.EBADF
    finally:
        os.close(ro)


def test_posix_fallocate_on_new_file_as_users(area):
    a, b, rel = area
    for who in [(0, 0), (U1, G1), (U2, G2)]:
        p = a / rel + "/pf-%d" % who[0]

        def work():
            fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o644)
            os.posix_fallocate(fd, 0, 12345)
            os.pwrite(fd, b"end", 12345)
            st = os.fstat(fd)
            os.close(fd)
            return st.st_size

        assert as_user(*who, work) == 12348
        st = os.stat(b / rel + "/pf-%d" % who[0])
        assert (st.st_size, st.st_uid) == (12348, who[0])
        with open(b / rel + "/pf-%d" % who[0], "rb") as f:
            assert f.read() == b"\0" * 12345 + b"end"


# --- special files --------------------------------------------------------------------------

import socket  # noqa: E402


def make_special(p, kind):
    if kind == "fifo":
        os.mkfifo(p, 0o644)
    elif kind == "socket":
        s = socket.socket(socket.AF_UNIX)
        cwd = os.getcwd()
        try:
            os.chdir(os.path.dirname(p))         # sun_path is 108 bytes: bind a relative name
            s.bind(os.path.basename(p))
        finally:
            os.chdir(cwd)
            s.close()
    elif kind == "chr":
        os.mknod(p, stat.S_IFCHR | 0o644, os.makedev(1, 3))
    elif kind == "blk":
        os.mknod(p, stat.S_IFBLK | 0o644, os.makedev(7, 0))
    elif kind == "reg":
        os.mknod(p, stat.S_IFREG | 0o644)


SPECIAL = {"fifo": stat.S_ISFIFO, "socket": stat.S_ISSOCK, "chr": stat.S_ISCHR,
           "blk": stat.S_ISBLK, "reg": stat.S_ISREG}


@pytest.mark.parametrize("kind", sorted(SPECIAL))
def test_special_files_live_like_files(area, kind):
    a, b, rel = area
    p = a / rel + "/sp"
    make_special(p, kind)
    isx = SPECIAL[kind]
    for m in (a, b):
        st = os.lstat(m / rel + "/sp")
        assert isx(st.st_mode), (m.node, oct(st.st_mode))
        assert st.st_size == 0 and st.st_nlink == 1 and st.st_uid == 0
        if kind == "chr":
            assert st.st_rdev == os.makedev(1, 3)
        if kind == "blk":
            assert st.st_rdev == os.makedev(7, 0)
        assert "sp" in os.listdir(m / rel)
    assert call(make_special, p, kind) == (errno.EADDRINUSE if kind == "socket" else errno.EEXIST)
    os.chmod(p, 0o600)
    assert mode_of(p) == 0o600
    wait_for(lambda: mode_of(b / rel + "/sp") == 0o600, 2 * INVAL + 1.5, what="B's mode")
    os.chown(p, U1, G1)
    wait_for(lambda: os.lstat(b / rel + "/sp").st_uid == U1, 2 * INVAL + 1.5, what="B's uid")
    os.utime(p, ns=(1000, 2000))
    assert (os.lstat(p).st_atime_ns, os.lstat(p).st_mtime_ns) == (1000, 2000)
    os.rename(p, a / rel + "/sp2")
    wait_for(lambda: call(os.lstat, b / rel + "/sp2") != errno.ENOENT, 2 * INVAL + 1.5,
             what="B sees the new name")
    assert isx(os.lstat(b / rel + "/sp2").st_mode)
    wait_for(lambda: call(os.lstat, b / rel + "/sp") == errno.ENOENT, 2 * INVAL + 1.5,
             what="B loses the old name")
    assert call(os.rmdir, p + "2") == errno.ENOTDIR
    os.unlink(b / rel + "/sp2")
    wait_for(lambda: call(os.lstat, a / rel + "/sp2") == errno.ENOENT, INVAL, what="unlinked")


def test_special_files_as_users(area):
    a, b, rel = area
    for who in [(U1, G1), (U2, G2)]:
        p = a / rel + "/fifo-%d" % who[0]
        assert as_user(*who, os.mkfifo, p, 0o640) == 0
        st = os.lstat(p)
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (who[0], who[1], 0o640)
        # device nodes need CAP_MKNOD
        assert as_user(*who, os.mknod, p + "-dev", stat.S_IFCHR | 0o600,
                       os.makedev(1, 3)) == errno.EPERM
        assert as_user(*who, os.mkfifo, a / UP + "/no-perm-fifo", 0o600) == errno.EACCES
    assert as_user(U2, G2, os.unlink, a / rel + "/fifo-%d" % U1) == 0   # 0777 dir, no sticky


def test_fifo_carries_data_on_one_peer(area):
    a, b, rel = area
    p = a / rel + "/pipe"
    os.mkfifo(p)
    pid = os.fork()
    if pid == 0:
        try:
            with open(p, "wb") as f:
                f.write(b"through the pipe")
        finally:
            os._exit(0)
    with open(p, "rb") as f:
        assert f.read() == b"through the pipe"
    os.waitpid(pid, 0)


def test_device_nodes_do_not_open(area):
    a, b, rel = area
    p = a / rel + "/null"
    os.mknod(p, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    assert call(os.open, p, os.O_RDONLY) == errno.EACCES    # the mount is nodev


def test_special_files_in_the_local_class(mount, workdir):
    loc = os.path.join(workdir, "local-a")
    a = mount("a", local=loc, extra=["allow_other"])
    os.makedirs(a / LOCAL_DIR, exist_ok=True)
    p = a / LOCAL_DIR + "/fifo"
    os.mkfifo(p, 0o6644)
    assert stat.S_ISFIFO(os.lstat(os.path.join(loc, LOCAL_DIR, "fifo")).st_mode)
    assert stat.S_ISFIFO(os.lstat(p).st_mode) and mode_of(p) == 0o644
    os.mknod(p + "-dev", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    assert os.lstat(os.path.join(loc, LOCAL_DIR, "fifo-dev")).st_rdev == os.makedev(1, 3)
    assert "fifo" in os.listdir(a / LOCAL_DIR)
    os.rename(p, p + "2")
    os.unlink(p + "2")
    os.unlink(p + "-dev")
    assert os.listdir(os.path.join(loc, LOCAL_DIR)) == []


# --- fsx: random operations against a model ---------------------------------------------------

FSX_SEEDS = [int(x) for x in os.environ.get("FSX_SEEDS", "18,1818").split(",")]


@pytest.mark.parametrize("seed", FSX_SEEDS)
def test_fsx_random_ops_on_two_peers(area, workdir, seed):
    """fsx-style: 5,000 seeded random writes, truncates, fallocates and reads of one file
    with two names (a hard link), through either peer and either name in turn
    (close-to-open), each checked against the same calls on a native file.  FSX_OPS=letters
    narrows the mix when a failure is chased (w write, r read, t truncate, f/k/p fallocate
    0/KEEP_SIZE/PUNCH_HOLE, c close and reopen); FSX_SEEDS=1,2,3 runs other seeds."""
    import random
    a, b, rel = area
    rnd = random.Random(seed)
    model_path = os.path.join(workdir, "fsx-model")
    name = rel + "/fsx"
    maxlen = 3 * (1 << 20) + 777            # spans chunks of the store
    mfd = os.open(model_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    peer = a
    fd = os.open(peer / name, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    os.link(peer / name, peer / name + "-link")  # the file has two names: reopen by either
    log = []
    try:
        for i in range(5000):
            op = rnd.choice(os.environ.get("FSX_OPS", "wwwwrrtfkpc"))
            size = os.fstat(mfd).st_size
            off = rnd.randrange(maxlen)
            n = rnd.randrange(1, 70000)
            if off + n > maxlen:
                n = maxlen - off
            if op == "w":
                data = rnd.randbytes(n)
                assert os.pwrite(fd, data, off) == n
                os.pwrite(mfd, data, off)
            elif op == "t":
                os.ftruncate(fd, off)
                os.ftruncate(mfd, off)
            elif op == "f":
                fallocate(fd, 0, off, n)
                fallocate(mfd, 0, off, n)
            elif op == "k":
                fallocate(fd, FALLOC_FL_KEEP_SIZE, off, n)
                fallocate(mfd, FALLOC_FL_KEEP_SIZE, off, n)
            elif op == "p":
                fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, n)
                fallocate(mfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, n)
            elif op == "c":                      # close, and go on from the other peer
                os.close(fd)
                peer = b if peer is a else a
                fd = os.open(peer / name + rnd.choice(["", "-link"]), os.O_RDWR)
            else:
                roff = rnd.randrange(size + 1)
                got, want = os.pread(fd, n, roff), os.pread(mfd, n, roff)
                assert got == want, "op %d: read %d@%d differs (%s)" % (i, n, roff, log[-5:])
            log.append("%s %d %d %s" % (op, off, n, peer.node))
            assert os.fstat(fd).st_size == os.fstat(mfd).st_size, "op %d: size (%s)" % (
                i, log[-5:])
    finally:
        os.close(fd)
    want = os.pread(mfd, maxlen + 1, 0)
    os.close(mfd)
    for m in (a, b):
        for n in (name, name + "-link"):
            wait_for(lambda: os.stat(m / n).st_size == len(want), 2 * INVAL + 1.5,
                     what="final size on " + m.node)
            with open(m / n, "rb") as f:
                assert f.read() == want, "final content of %s on %s" % (n, m.node)
        assert os.stat(m / name).st_nlink == 2


# --- path lengths -------------------------------------------------------------------------------

def test_names_up_to_name_max_and_no_further(area):
    a, b, rel = area
    ok = a / rel + "/" + "n" * 255
    with open(ok, "wb") as f:
        f.write(b"x")
    assert os.path.basename(ok) in os.listdir(b / rel)
    for fn in (lambda p: open(p, "wb"), os.mkdir, os.mkfifo, lambda p: os.symlink("x", p)):
        assert call(fn, a / rel + "/" + "n" * 256) == errno.ENAMETOOLONG
    assert call(os.rename, ok, a / rel + "/" + "m" * 256) == errno.ENAMETOOLONG


def test_tree_deeper_than_path_max_from_the_root(area):
    """The kernel limits what a caller passes, not the depth below the mount's root."""
    a, b, rel = area
    name = "d" * 250
    depth = 20                                   # 20 * 251 bytes: past PATH_MAX (4096)
    fds = [os.open(a / rel, os.O_RDONLY | os.O_DIRECTORY)]
    try:
        for _ in range(depth):
            os.mkdir(name, dir_fd=fds[-1])
            fds.append(os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fds[-1]))
        leaf = fds[-1]
        fd = os.open("file", os.O_CREAT | os.O_RDWR, 0o644, dir_fd=leaf)
        os.write(fd, b"deep data")
        os.close(fd)
        st = os.stat("file", dir_fd=leaf)
        assert st.st_size == 9 and stat.S_IMODE(st.st_mode) == 0o644
        os.chmod("file", 0o600, dir_fd=leaf)
        os.rename("file", "file2", src_dir_fd=leaf, dst_dir_fd=leaf)
        os.symlink("file2", "link", dir_fd=leaf)
        assert os.readlink("link", dir_fd=leaf) == "file2"
        assert sorted(os.listdir(leaf)) == ["file2", "link"]
        assert os.stat(fds[-2]).st_nlink == 3
    finally:
        for fd in fds:
            os.close(fd)
    # B walks down the same way and reads it
    fd = os.open(b / rel, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(depth):
        nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    try:
        f = os.open("file2", os.O_RDONLY, dir_fd=fd)
        assert os.read(f, 100) == b"deep data"
        os.close(f)
        assert stat.S_IMODE(os.stat("file2", dir_fd=fd).st_mode) == 0o600
        os.unlink("link", dir_fd=fd)
        os.unlink("file2", dir_fd=fd)
    finally:
        os.close(fd)
    # a path passed whole is the caller's: the kernel refuses it past PATH_MAX, as anywhere
    assert call(os.stat, a / rel + ("/" + name) * depth) == errno.ENAMETOOLONG


# --- hard links ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["reg", "fifo", "socket", "chr", "symlink"])
def test_hard_link_is_one_inode_on_both_peers(area, kind):
    a, b, rel = area
    p, q = a / rel + "/one", a / rel + "/two"
    if kind == "symlink":
        os.symlink("target", p)
    else:
        make_special(p, kind)
    os.link(p, q, follow_symlinks=False)
    for m in (a, b):
        s1, s2 = os.lstat(m / rel + "/one"), os.lstat(m / rel + "/two")
        assert s1.st_ino == s2.st_ino and s1.st_nlink == s2.st_nlink == 2, m.node
    assert call(os.link, p, q) == errno.EEXIST
    os.chmod(q, 0o640) if kind != "symlink" else None
    if kind != "symlink":
        wait_for(lambda: mode_of(b / rel + "/one") == 0o640, 2 * INVAL + 1.5, what="shared mode")
    os.unlink(b / rel + "/one")
    wait_for(lambda: call(os.lstat, a / rel + "/one") == errno.ENOENT, 2 * INVAL + 1.5,
             what="A loses the name")
    wait_for(lambda: nlink(a / rel + "/two") == 1, 2 * INVAL + 1.5, what="nlink back to 1")
    os.unlink(q)
    assert call(os.lstat, b / rel + "/two") in (errno.ENOENT, 0)
    wait_for(lambda: call(os.lstat, b / rel + "/two") == errno.ENOENT, 2 * INVAL + 1.5,
             what="B loses the last name")


def test_hard_link_shares_data_across_peers(area):
    a, b, rel = area
    p = a / rel + "/f"
    with open(p, "wb") as f:
        f.write(b"first")
    os.link(p, a / rel + "/g")
    os.mkdir(a / rel + "/sub")
    os.link(b / rel + "/f", b / rel + "/sub/h")       # made on B
    assert nlink(p) == 3
    with open(b / rel + "/g", "r+b") as f:            # written through another name, on B
        f.write(b"FIRST and more")
    for m in (a, b):
        for name in ("f", "g", "sub/h"):
            with open(m / rel + "/" + name, "rb") as f:
                assert f.read() == b"FIRST and more", (m.node, name)
    os.rename(a / rel + "/g", a / rel + "/sub/h")     # both names of one inode: nothing
    assert nlink(p) == 3 and os.path.exists(a / rel + "/g")
    with open(a / rel + "/new", "wb") as f:
        f.write(b"other")
    os.rename(a / rel + "/new", a / rel + "/g")       # replacing a name takes one link
    assert nlink(p) == 2
    fd = os.open(p, os.O_RDWR)
    try:
        os.unlink(p)                                   # open, and one name left
        os.write(fd, b"x")
        assert os.fstat(fd).st_nlink == 1
    finally:
        os.close(fd)
    with open(b / rel + "/sub/h", "rb") as f:
        assert f.read() == b"xIRST and more"


def test_hard_link_errors_and_users(area, peers):
    a, b, rel = area
    p = a / rel + "/f"
    with open(p, "wb") as f:
        f.write(b"x")
    os.chown(p, U1, G1)
    os.chmod(p, 0o644)
    with open("/proc/sys/fs/protected_hardlinks") as f:
        protected = f.read().strip() == "1"
    # someone else's file they may not write: the kernel's protected_hardlinks says no
    assert as_user(U2, G2, os.link, p, a / rel + "/by-u2") == (errno.EPERM if protected else 0)
    assert as_user(U1, G1, os.link, p, a / rel + "/by-u1") == 0
    st = os.lstat(b / rel + "/by-u1")
    assert (st.st_uid, st.st_nlink) == (U1, 3 if not protected else 2)
    os.mkdir(a / rel + "/d")
    assert call(os.link, a / rel + "/d", a / rel + "/d2") == errno.EPERM
    assert call(os.link, p, a / UP + "/x.php") == errno.EROFS        # a deny rule
    assert call(os.link, p, a / "wp-content/plugins/x") in (errno.EROFS, errno.EXDEV)
    assert call(os.link, a / "index.php", a / rel + "/index.php") == errno.EXDEV  # read-only tree
    assert call(os.link, p, a / rel + "/" + "n" * 256) == errno.ENAMETOOLONG
    assert call(os.link, a / rel + "/missing", a / rel + "/m2") == errno.ENOENT


# --- every call on every type, as every user --------------------------------------------------

TYPES = ["reg", "dir", "fifo", "socket", "chr", "symlink"]


def make_type(p, kind):
    if kind == "dir":
        os.mkdir(p, 0o755)
    elif kind == "symlink":
        os.symlink("nowhere", p)
    else:
        make_special(p, kind)
        if kind == "reg":
            os.chmod(p, 0o644)


@pytest.mark.parametrize("kind", TYPES)
def test_calls_on_every_type_as_every_user(area, kind):
    """pjdfstest's loop: for each type, each call as the owner, another user and root, with the
    errno it must give and the attributes it must leave; and what the other peer then sees."""
    a, b, rel = area
    p = a / rel + "/obj"
    make_type(p, kind)
    os.lchown(p, U1, G1)
    lst = os.lstat(p)
    assert (lst.st_uid, lst.st_gid) == (U1, G1)
    link = kind == "symlink"
    if not link:
        # chmod: owner yes, other no, root yes
        assert as_user(U1, G1, os.chmod, p, 0o700) == 0
        assert mode_of(p) == 0o700
        assert as_user(U2, G2, os.chmod, p, 0o777) == errno.EPERM
        assert mode_of(p) == 0o700
        os.chmod(p, 0o755)
        wait_for(lambda: mode_of(b / rel + "/obj") == 0o755, 2 * INVAL + 1.5, what="B's mode")
    # chown: never by a user to another user; to its own group by the owner if a member
    assert as_user(U1, G1, os.lchown, p, U2, -1) == errno.EPERM
    assert as_user(U2, G2, os.lchown, p, -1, G2) == errno.EPERM
    assert as_user(U1, G1, os.lchown, p, -1, G1) == 0
    ctime = os.lstat(p).st_ctime_ns
    os.lchown(p, U2, G2)
    st = os.lstat(p)
    assert (st.st_uid, st.st_gid) == (U2, G2) and st.st_ctime_ns >= ctime
    wait_for(lambda: os.lstat(b / rel + "/obj").st_uid == U2, 2 * INVAL + 1.5, what="B's uid")
    # utimensat: explicit times by the owner and root only
    assert as_user(U1, G1, lambda: os.utime(p, ns=(5, 6), follow_symlinks=False)) == \
        errno.EPERM
    assert as_user(U2, G2, lambda: os.utime(p, ns=(5, 6), follow_symlinks=False)) == 0
    st = os.lstat(p)
    assert (st.st_atime_ns, st.st_mtime_ns) == (5, 6)
    # rename and remove in a sticky directory: the owner of the entry or of the directory
    sticky = a / rel + "/sticky"
    os.mkdir(sticky)
    os.chmod(sticky, 0o1777)
    os.rename(p, sticky + "/obj")
    assert as_user(U1, G1, os.rename, sticky + "/obj", sticky + "/moved") == errno.EPERM
    rm = os.rmdir if kind == "dir" else os.unlink
    assert as_user(U1, G1, rm, sticky + "/obj") == errno.EPERM
    assert as_user(U2, G2, os.rename, sticky + "/obj", sticky + "/moved") == 0
    assert "moved" in os.listdir(b / rel + "/sticky")
    wrong = os.unlink if kind == "dir" else os.rmdir
    assert call(wrong, sticky + "/moved") == (errno.EISDIR if kind == "dir" else errno.ENOTDIR)
    assert as_user(U2, G2, rm, sticky + "/moved") == 0
    assert call(os.lstat, sticky + "/moved") == errno.ENOENT
    wait_for(lambda: os.listdir(b / rel + "/sticky") == [], 2 * INVAL + 1.5, what="B's listing")


def test_hard_links_in_the_local_class_and_across(mount, workdir):
    loc = os.path.join(workdir, "local-a")
    a = mount("a", local=loc)
    os.makedirs(a / LOCAL_DIR, exist_ok=True)
    p = a / LOCAL_DIR + "/f"
    with open(p, "wb") as f:
        f.write(b"local")
    os.link(p, p + "2")
    assert os.lstat(p).st_ino == os.lstat(p + "2").st_ino
    assert os.lstat(p + "2").st_nlink == 2
    assert os.lstat(os.path.join(loc, LOCAL_DIR, "f2")).st_nlink == 2
    shared = a / UP + "/s.txt"
    with open(shared, "wb") as f:
        f.write(b"shared")
    assert call(os.link, p, a / UP + "/from-local") == errno.EXDEV
    assert call(os.link, shared, a / LOCAL_DIR + "/from-shared") == errno.EXDEV
    os.unlink(p)
    assert os.lstat(p + "2").st_nlink == 1
    with open(p + "2", "rb") as f:
        assert f.read() == b"local"
