# test_export.py - export and dump while a peer writes, and dump -> load into another Redis.

import io
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

from conftest import POLICY, PRESSFS, pressfs, summary
from treegen import make_tree

# The writer rewrites files through a mount; every version says which it is, and its whole
# content follows from that, so a reader can tell a whole version from a mix or a torn one.
WRITER = r"""
import os, sys, time
top, nfiles = sys.argv[1], int(sys.argv[2])
def version(k, n):
    size = (n * 7919 + k * 104729) % (3 << 20)
    head = b"%08d:%08d:" % (k, n)
    unit = b"%08d-%08d;" % (k, n)
    return head + (unit * (size // len(unit) + 1))[:size]
n = 0
while True:
    k = n % nfiles
    with open(os.path.join(top, "f%03d" % k), "wb") as f:
        f.write(version(k, n))
    n += 1
    sys.stdout.write("%d\n" % n); sys.stdout.flush()
"""


def whole_version(name, data):
    """True when DATA is one whole version written by WRITER to file NAME."""
    k = int(name[1:])
    if data == b"":
        return False
    head, n = data[:18], int(data[9:17])
    size = (n * 7919 + k * 104729) % (3 << 20)
    unit = b"%08d-%08d;" % (k, n)
    return head == b"%08d:%08d:" % (k, n) and \
        data[18:] == (unit * (size // len(unit) + 1))[:size]


class Writer:
    """WRITER in a process of its own; .count is how many versions it has closed so far."""

    def __init__(self, m, procs, nfiles):
        top = os.path.join(m.mnt, "wp-content", "uploads", "w")
        os.makedirs(top)
        self.p = subprocess.Popen([sys.executable, "-c", WRITER, top, str(nfiles)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        procs(self.p)
        self.count = 0
        threading.Thread(target=self._follow, daemon=True).start()
        deadline = time.time() + 60
        while self.count < nfiles * 2:   # every file written once before the copies begin
            assert time.time() < deadline and self.p.poll() is None, self.p.stderr.read()
            time.sleep(0.05)

    def _follow(self):
        for line in self.p.stdout:
            self.count = int(line)


def test_export_and_dump_while_a_peer_writes(workdir, redis, mount, procs):
    nfiles = 12
    # Enough other files that each copy takes a while, so the writer closes versions during it.
    static = os.fsencode(os.path.join(workdir, "static"))
    make_tree(static, 4000, skipped=False)
    pressfs("import", static, "--store", redis.url, "--site", "ops", "--policy", POLICY,
            "--prefix", "/wp-content/uploads/static")
    m = mount(redis.url, "a")
    w = Writer(m, procs, nfiles)
    versions_seen = set()
    for round_ in range(3):
        before = w.count
        dest = os.path.join(workdir, "export-%d" % round_)
        r = pressfs("export", dest, "--store", redis.url, "--site", "ops")
        arc = os.path.join(workdir, "dump-%d.tar" % round_)
        pressfs("dump", arc, "--store", redis.url, "--site", "ops")
        after = w.count
        assert after > before, "the writer closed no version during the copies"
        assert summary(r.stdout)["failed"] == 0
        names = sorted(os.listdir(os.path.join(dest, "wp-content/uploads/w")))
        assert names == ["f%03d" % k for k in range(nfiles)]
        for n in names:
            with open(os.path.join(dest, "wp-content/uploads/w", n), "rb") as f:
                data = f.read()
            assert whole_version(n, data), (n, len(data), data[:20])
            versions_seen.add(data[:18])
        with tarfile.open(arc) as t:
            got = {os.path.basename(i.name): t.extractfile(i).read() for i in t.getmembers()
                   if i.isfile() and i.name.startswith("wp-content/uploads/w/")}
        assert sorted(got) == names
        for n, data in got.items():
            assert whole_version(n, data), (n, len(data), data[:20])
    # The copies saw more than the first version of the files: they ran during the writes.
    assert len(versions_seen) > nfiles


def tree_of(mnt):
    """Everything a reader of the mount sees below wp-content/uploads and at /.htaccess."""
    out = {}
    top = os.fsencode(mnt)
    for dirpath, dirnames, filenames in os.walk(top + b"/wp-content/uploads"):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                body = os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    body = f.read()
            else:
                body = None
            out[p[len(top):]] = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, body)
    with open(top + b"/.htaccess", "rb") as f:
        out[b"/.htaccess"] = f.read()
    return out


def test_dump_load_into_a_second_redis_is_byte_for_byte(workdir, redis_factory, mount):
    r1, r2 = redis_factory("r1"), redis_factory("r2")
    a = mount(r1.url, "a")
    up = os.path.join(a.mnt, "wp-content", "uploads")
    os.makedirs(os.path.join(up, "2024", "-05 m\u00e4rz"))
    odd = os.fsencode(os.path.join(up, "2024", "-05 m\u00e4rz")) + b"/line\nbreak \xff.jpg"
    with open(odd, "wb") as f:
        f.write(b"odd")
    with open(os.path.join(up, "2024", "big.bin"), "wb") as f:
        f.write(os.urandom((5 << 20) + 123))
    open(os.path.join(up, "2024", "empty"), "wb").close()
    os.chmod(os.path.join(up, "2024", "empty"), 0o600)
    os.symlink("big.bin", os.path.join(up, "2024", "latest"))
    os.utime(os.path.join(up, "2024", "big.bin"), ns=(1, 1_500_000_000_987_654_321))
    with open(os.path.join(a.mnt, ".htaccess"), "ab") as f:    # a copy-up
        f.write(b"# more\n")
    os.unlink(os.path.join(up, "2020", "01", "photo.jpg"))       # a whiteout
    with open(os.path.join(up, "2020", "01", "new.jpg"), "wb") as f:
        f.write(b"new")
    first = os.path.join(workdir, "a.tar")
    pressfs("dump", first, "--store", r1.url, "--site", "ops")

    r = pressfs("load", first, "--store", r2.url, "--site", "ops")
    assert summary(r.stdout)["loaded"] == 5, r.stdout
    second = os.path.join(workdir, "b.tar")
    pressfs("dump", second, "--store", r2.url, "--site", "ops")
    with open(first, "rb") as f1, open(second, "rb") as f2:
        assert f1.read() == f2.read(), "the second site's dump differs from the first's"

    b = mount(r2.url, "b")
    ta, tb = tree_of(a.mnt), tree_of(b.mnt)
    assert ta == tb
    assert b"/wp-content/uploads/2020/01/photo.jpg" not in tb     # the whiteout hides it
    assert b"/wp-content/uploads/2020/01/new.jpg" in tb

    # A second load into the now non-empty site is refused and changes nothing.
    r = pressfs("load", first, "--store", r2.url, "--site", "ops", check=False)
    assert r.returncode == 1 and b"not empty" in r.stderr
    pressfs("dump", second, "--force", "--store", r2.url, "--site", "ops")
    with open(first, "rb") as f1, open(second, "rb") as f2:
        assert f1.read() == f2.read()
    assert pressfs("load", first, "--force", "--store", r2.url, "--site", "ops").returncode == 0


def test_load_refuses_what_is_not_a_dump(workdir, redis):
    junk = os.path.join(workdir, "junk.tar")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        info = tarfile.TarInfo("wp-content/x")
        info.size = 1
        t.addfile(info, io.BytesIO(b"x"))
    with open(junk, "wb") as f:
        f.write(buf.getvalue())
    for data in (buf.getvalue(), buf.getvalue()[:700], b"not a tar at all" * 64):
        with open(junk, "wb") as f:
            f.write(data)
        r = pressfs("load", junk, "--store", redis.url, "--site", "ops", check=False)
        assert r.returncode == 1 and b"pressfs load: " in r.stderr, r.stderr
    # Nothing but the empty site itself (format, counter, root) was written.
    assert not [k for k in redis.keys() if b":c:" in k], redis.keys()


def test_dump_to_stdout_load_from_stdin_and_export_a_subtree(workdir, redis_factory, mount):
    r1, r2 = redis_factory("r1"), redis_factory("r2")
    a = mount(r1.url, "a")
    up = os.path.join(a.mnt, "wp-content", "uploads", "2025")
    os.makedirs(up)
    for i in range(20):
        with open(os.path.join(up, "p%02d.jpg" % i), "wb") as f:
            f.write(os.urandom(i * 5000))
    dump = subprocess.Popen([PRESSFS, "dump", "-", "--store", r1.url, "--site", "ops"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    load = subprocess.run([PRESSFS, "load", "-", "--store", r2.url, "--site", "ops"],
                          stdin=dump.stdout, capture_output=True, timeout=120)
    dump.stdout.close()
    assert dump.wait(timeout=60) == 0 and load.returncode == 0, (load.stdout, load.stderr)
    assert summary(load.stdout)["loaded"] == 20
    dest = os.path.join(workdir, "sub")
    r = pressfs("export", dest, "--store", r2.url, "--site", "ops", "--prefix",
                "/wp-content/uploads/2025")
    assert summary(r.stdout)["exported"] == 20
    for i in range(20):
        with open(os.path.join(up, "p%02d.jpg" % i), "rb") as f1, \
                open(os.path.join(dest, "p%02d.jpg" % i), "rb") as f2:
            assert f1.read() == f2.read()
    # export refuses a directory that holds anything, and writes nothing into it
    r = pressfs("export", dest, "--store", r2.url, "--site", "ops", check=False)
    assert r.returncode == 2 and b"not empty" in r.stderr
    assert len(os.listdir(dest)) == 20


def test_dump_load_keeps_links_special_files_inode_numbers_and_atimes(workdir, lower,
                                                                       redis_factory, mount):
    r1, r2 = redis_factory("r1"), redis_factory("r2")
    a = mount(r1.url, "a")
    up = os.path.join(a.mnt, "wp-content", "uploads", "2026")
    os.makedirs(os.path.join(up, "sub"))
    with open(os.path.join(up, "one.jpg"), "wb") as f:
        f.write(b"one inode, two names")
    os.link(os.path.join(up, "one.jpg"), os.path.join(up, "sub", "two.jpg"))
    os.mkfifo(os.path.join(up, "pipe"), 0o640)
    os.mknod(os.path.join(up, "null"), stat.S_IFCHR | 0o600, os.makedev(1, 3))
    os.mknod(os.path.join(up, "sock"), stat.S_IFSOCK | 0o660)
    os.utime(os.path.join(up, "one.jpg"), ns=(1_111_111_111_123_456_789, 1_222_222_222_000_000_001))
    os.utime(os.path.join(up, "sub"), ns=(1_333_333_333_000_000_007, 1_444_444_444_000_000_000))
    with open(os.path.join(a.mnt, ".htaccess"), "ab") as f:     # a copy-up keeps its st_ino
        f.write(b"# more\n")
    lower_ino = os.stat(os.path.join(lower, ".htaccess")).st_ino
    assert os.stat(os.path.join(a.mnt, ".htaccess")).st_ino == lower_ino
    # a lower directory renamed: its copy keeps the lower number where it goes
    os.rename(os.path.join(a.mnt, "wp-content", "uploads", "2020"),
              os.path.join(a.mnt, "wp-content", "uploads", "2019"))
    moved_ino = os.stat(os.path.join(lower, "wp-content", "uploads", "2020")).st_ino
    assert os.stat(os.path.join(a.mnt, "wp-content", "uploads", "2019")).st_ino == moved_ino

    # and is made opaque (as a rename over a whiteout would): load makes it aside, renames it in
    P = b"pressfs:{ops}:"
    uploads = int(r1.command("HGET", P + b"d:%d" % int(r1.command(
        "HGET", P + b"d:1", b"wp-content")[1:]), b"uploads")[1:])
    r1.command("HSET", P + b"i:%d" % int(r1.command("HGET", P + b"d:%d" % uploads,
                                                       b"2019")[1:]), "opaque", "1")
    first = os.path.join(workdir, "a.tar")
    dumped = summary(pressfs("dump", first, "--store", r1.url, "--site", "ops").stdout)
    with tarfile.open(first) as t:
        kinds = {i.name: i for i in t.getmembers()}
    moved = kinds["wp-content/uploads/2019"].pax_headers
    assert moved.get("PRESSFS.lino") == str(moved_ino) and moved.get("PRESSFS.opaque") == "1"
    assert kinds[".htaccess"].pax_headers.get("PRESSFS.lino") == str(lower_ino)
    assert "atime" in kinds["wp-content/uploads/2026/one.jpg"].pax_headers
    assert kinds["wp-content/uploads/2026/sub/two.jpg"].islnk()
    assert kinds["wp-content/uploads/2026/sub/two.jpg"].linkname == "wp-content/uploads/2026/one.jpg"
    assert kinds["wp-content/uploads/2026/pipe"].isfifo()
    assert kinds["wp-content/uploads/2026/null"].ischr()
    assert (kinds["wp-content/uploads/2026/null"].devmajor,
            kinds["wp-content/uploads/2026/null"].devminor) == (1, 3)
    r = pressfs("load", first, "--store", r2.url, "--site", "ops")
    counts = summary(r.stdout)
    assert kinds["wp-content/uploads/2026/sock"].pax_headers.get("PRESSFS.socket") == "1"
    assert "1 hard links, 3 special files" in r.stdout.decode(), r.stdout
    second = os.path.join(workdir, "b.tar")
    pressfs("dump", second, "--store", r2.url, "--site", "ops")
    with open(first, "rb") as f1, open(second, "rb") as f2:
        assert f1.read() == f2.read(), "the second site's dump differs from the first's"

    b = mount(r2.url, "b")
    bu = os.path.join(b.mnt, "wp-content", "uploads", "2026")
    one, two = os.stat(os.path.join(bu, "one.jpg")), os.stat(os.path.join(bu, "sub", "two.jpg"))
    assert one.st_ino == two.st_ino and one.st_nlink == two.st_nlink == 2
    assert (one.st_atime_ns, one.st_mtime_ns) == (1_111_111_111_123_456_789,
                                                  1_222_222_222_000_000_001)
    sub = os.stat(os.path.join(bu, "sub"))
    assert (sub.st_atime_ns, sub.st_mtime_ns) == (1_333_333_333_000_000_007,
                                                  1_444_444_444_000_000_000)
    pipe = os.lstat(os.path.join(bu, "pipe"))
    assert stat.S_ISFIFO(pipe.st_mode) and stat.S_IMODE(pipe.st_mode) == 0o640
    dev = os.lstat(os.path.join(bu, "null"))
    assert stat.S_ISCHR(dev.st_mode) and dev.st_rdev == os.makedev(1, 3)
    sock = os.lstat(os.path.join(bu, "sock"))
    assert stat.S_ISSOCK(sock.st_mode) and sock.st_mode == os.lstat(os.path.join(up, "sock")).st_mode
    assert os.stat(os.path.join(b.mnt, ".htaccess")).st_ino == lower_ino
    assert os.stat(os.path.join(b.mnt, "wp-content", "uploads", "2019")).st_ino == moved_ino
    assert sorted(os.listdir(os.path.join(b.mnt, "wp-content", "uploads", "2019"))) == \
        sorted(os.listdir(os.path.join(a.mnt, "wp-content", "uploads", "2019")))
    assert not os.path.exists(os.path.join(b.mnt, "wp-content", "uploads", "2020"))
    assert not [n for n in os.listdir(os.path.join(b.mnt, "wp-content", "uploads"))
                if n.startswith(".pressfs")]
    with open(os.path.join(bu, "sub", "two.jpg"), "rb") as f:
        assert f.read() == b"one inode, two names"
    # one inode: a write through one name shows through the other, on the loaded site
    with open(os.path.join(bu, "one.jpg"), "ab") as f:
        f.write(b"!")
    with open(os.path.join(bu, "sub", "two.jpg"), "rb") as f:
        assert f.read() == b"one inode, two names!"
    assert counts["loaded"] == dumped["dumped"], r.stdout


def test_export_makes_hard_links_and_special_files(workdir, redis, mount):
    m = mount(redis.url, "a")
    up = os.path.join(m.mnt, "wp-content", "uploads", "2026")
    os.makedirs(up)
    with open(os.path.join(up, "one.jpg"), "wb") as f:
        f.write(b"shared bytes")
    os.link(os.path.join(up, "one.jpg"), os.path.join(up, "two.jpg"))
    os.mkfifo(os.path.join(up, "pipe"), 0o640)
    os.mknod(os.path.join(up, "null"), stat.S_IFCHR | 0o600, os.makedev(1, 3))
    os.utime(os.path.join(up, "one.jpg"), ns=(1_111_111_111_123_456_789, 1_222_222_222_000_000_001))

    dest = os.path.join(workdir, "as-root")
    r = pressfs("export", dest, "--store", redis.url, "--site", "ops")
    counts = summary(r.stdout)
    assert counts["exported"] == 1 and counts["hard links"] == 1 and counts["failed"] == 0
    assert "special files:     2 made, 0 skipped" in r.stdout.decode(), r.stdout
    d = os.path.join(dest, "wp-content", "uploads", "2026")
    one, two = os.stat(os.path.join(d, "one.jpg")), os.stat(os.path.join(d, "two.jpg"))
    assert one.st_ino == two.st_ino and one.st_nlink == 2
    assert (one.st_atime_ns, one.st_mtime_ns) == (1_111_111_111_123_456_789,
                                                  1_222_222_222_000_000_001)
    pipe = os.lstat(os.path.join(d, "pipe"))
    assert stat.S_ISFIFO(pipe.st_mode) and stat.S_IMODE(pipe.st_mode) == 0o640
    dev = os.lstat(os.path.join(d, "null"))
    assert stat.S_ISCHR(dev.st_mode) and dev.st_rdev == os.makedev(1, 3)
    assert stat.S_IMODE(dev.st_mode) == 0o600

    # A user who may not make device nodes gets the rest, and the device listed as skipped.
    top = tempfile.mkdtemp(prefix="pressfs-ops-nobody-")   # the workdir is root's alone
    try:
        os.chmod(top, 0o755)
        dest = os.path.join(top, "as-nobody")
        os.makedirs(dest)
        os.chown(dest, 65534, 65534)
        r = subprocess.run([PRESSFS, "export", dest, "--store", redis.url, "--site", "ops"],
                           capture_output=True, timeout=120,
                           preexec_fn=lambda: (os.setgid(65534), os.setuid(65534)))
        out = r.stdout.decode()
        assert r.returncode == 0, (out, r.stderr)
        assert "special files:     1 made, 1 skipped" in out, out
        assert "  skipped /wp-content/uploads/2026/null (character device 1:3: mknod needs " \
            "root)" in out, out
        d = os.path.join(dest, "wp-content", "uploads", "2026")
        assert stat.S_ISFIFO(os.lstat(os.path.join(d, "pipe")).st_mode)
        assert not os.path.lexists(os.path.join(d, "null"))
        assert os.stat(os.path.join(d, "two.jpg")).st_nlink == 2
    finally:
        shutil.rmtree(top)
