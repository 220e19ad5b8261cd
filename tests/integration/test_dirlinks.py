# test_dirlinks.py - a directory's link count is kept in its inode (docs/FORMAT.md, "Directory
# link counts"): creating a file costs the same however full its directory is, the count stays
# right across mkdir, rmdir and rename on two peers, and fsck finds and repairs a wrong one.

import os
import shutil

from harness import run_pressfs, wait_for

UP = "wp-content/uploads"
P = b"pressfs:{default}:"
INVAL = 0.5


def sino(path):
    """The store's inode number of a directory made in the store (attr_ino: bit 62)."""
    ino = os.lstat(path).st_ino
    assert ino & (1 << 62), "not a store number: %#x" % ino
    return ino & ~(1 << 62)


def kept(redis, path):
    v = redis.command("HGET", P + b"i:%d" % sino(path), "nlink")
    return int(v) if v is not None else None


def nlink(path):
    return os.lstat(path).st_nlink


def server_stats(redis):
    """(commands run, bytes sent to clients) so far, from INFO."""
    calls = 0
    info = redis.command("INFO", "commandstats").decode()
    for line in info.splitlines():
        if line.startswith("cmdstat_"):
            calls += int(line.split("calls=", 1)[1].split(",", 1)[0])
    stats = redis.command("INFO", "stats").decode()
    out = int(stats.split("total_net_output_bytes:", 1)[1].split()[0])
    return calls, out


def make_files(d, start, n):
    for i in range(start, start + n):
        with open(os.path.join(d, "f%05d" % i), "wb") as f:
            f.write(b"x" * 4096)


def per_create(redis, d, start, n):
    c0, o0 = server_stats(redis)
    make_files(d, start, n)
    c1, o1 = server_stats(redis)
    return (c1 - c0 - 2) / n, (o1 - o0) / n  # (the two INFO calls counted)


def test_create_costs_the_same_in_a_full_directory(redis, mount):
    """What the store does for one create (commands, and bytes it answers with) does not grow
    with the directory: the directory's link count the kernel asks after every create is one
    field of its inode, not a listing of its entries."""
    m = mount("a")
    d = os.path.join(m.mnt, UP, "many")
    os.mkdir(d)
    make_files(d, 0, 100)
    small = per_create(redis, d, 100, 50)
    make_files(d, 150, 2850)
    assert len(os.listdir(d)) == 3000
    big = per_create(redis, d, 3000, 50)
    assert big[0] <= small[0] + 0.5, (small, big)
    # A listing of 3,000 entries is tens of kilobytes; one create's answers are a few hundred
    # bytes (messages and the new inode), whatever the directory holds.
    assert big[1] <= 2 * small[1] + 256, (small, big)
    assert nlink(d) == 2


def test_create_costs_the_same_in_a_full_merged_directory(redis, mount, lower):
    """The same in a directory of the image (merged with the lower tree): its link count is the
    store's count plus the lower subdirectories the store does not hide, not a merged listing."""
    m = mount("a")
    d = os.path.join(m.mnt, UP)
    lower_subdirs = sum(1 for e in os.scandir(os.path.join(lower, UP)) if e.is_dir())
    assert lower_subdirs >= 1
    make_files(d, 0, 100)
    small = per_create(redis, d, 100, 50)
    make_files(d, 150, 2850)
    big = per_create(redis, d, 3000, 50)
    assert big[0] <= small[0] + 0.5, (small, big)
    assert big[1] <= 2 * small[1] + 256, (small, big)
    assert nlink(d) == 2 + lower_subdirs
    os.mkdir(d + "/new")
    assert nlink(d) == 3 + lower_subdirs
    gone = sorted(e.name for e in os.scandir(os.path.join(lower, UP)) if e.is_dir())[0]
    shutil.rmtree(os.path.join(d, gone))               # a lower directory whited out
    assert not os.path.exists(os.path.join(d, gone))
    assert nlink(d) == 2 + lower_subdirs
    os.mkdir(os.path.join(d, gone))                    # made again over its whiteout
    assert nlink(d) == 3 + lower_subdirs
    os.rmdir(d + "/new")
    assert nlink(d) == 2 + lower_subdirs


def test_nlink_kept_across_peers(redis, nodes):
    """mkdir, rmdir and rename on either peer keep the stored count and what both peers show."""
    a, b = nodes
    top_a, top_b = os.path.join(a.mnt, UP, "t"), os.path.join(b.mnt, UP, "t")
    os.mkdir(top_a)
    assert kept(redis, top_a) == 2

    def both(rel, want):
        pa, pb = os.path.join(top_a, rel), os.path.join(top_b, rel)
        assert kept(redis, pa) == want, (rel, kept(redis, pa), want)
        wait_for(lambda: nlink(pa) == want, 2 * INVAL + 2, what="A's nlink of " + rel)
        wait_for(lambda: nlink(pb) == want, 2 * INVAL + 2, what="B's nlink of " + rel)

    os.mkdir(top_a + "/x")
    wait_for(lambda: os.path.isdir(top_b + "/x"), 2 * INVAL + 2, what="x on B")
    os.mkdir(top_b + "/y")
    os.mkdir(top_b + "/y/deep")
    with open(top_a + "/file", "wb") as f:
        f.write(b"not a directory")
    both("", 4)
    both("y", 3)
    wait_for(lambda: os.path.isdir(top_a + "/y/deep"), 2 * INVAL + 2, what="y/deep on A")
    os.rename(top_a + "/y/deep", top_a + "/x/deep")     # across directories, on A
    both("y", 2)
    both("x", 3)
    wait_for(lambda: os.path.isdir(top_b + "/x/deep"), 2 * INVAL + 2, what="the move on B")
    os.rename(top_b + "/y", top_b + "/z")               # within one directory, on B
    both("", 4)
    os.rename(top_b + "/z", top_b + "/x/deep")          # over an empty directory
    both("", 3)
    both("x", 3)
    wait_for(lambda: not os.path.exists(top_a + "/z"), 2 * INVAL + 2, what="z gone on A")
    os.rmdir(top_a + "/x/deep")
    both("x", 2)
    os.rename(top_a + "/file", top_a + "/x/file")       # a file moves: no count changes
    both("", 3)
    both("x", 2)
    wait_for(lambda: os.path.exists(top_b + "/x/file"), 2 * INVAL + 2, what="file on B")
    os.rename(top_b + "/x", os.path.join(b.mnt, UP, "x-moved"))  # out of t
    both("", 2)


def test_directory_without_a_count_gets_one(redis, mount):
    """A directory made before counts were kept shows its subdirectories counted, and the next
    change in it writes its count."""
    m = mount("a")
    d = os.path.join(m.mnt, UP, "old")
    os.mkdir(d)
    os.mkdir(d + "/s1")
    os.mkdir(d + "/s2")
    key = P + b"i:%d" % sino(d)
    redis.command("HDEL", key, "nlink")                 # as a site written before the field
    redis.command("HINCRBY", key, "ver", "1")
    wait_for(lambda: nlink(d) == 4, 5, what="the counted link count")
    assert kept(redis, d) is None
    with open(d + "/f", "wb") as f:
        f.write(b"a file")
    assert kept(redis, d) == 4
    os.rmdir(d + "/s1")
    assert kept(redis, d) == 3 and nlink(d) == 3


def test_fsck_finds_and_repairs_a_wrong_count(redis, mount):
    m = mount("a")
    d = os.path.join(m.mnt, UP, "damaged")
    os.mkdir(d)
    os.mkdir(d + "/s1")
    ok = os.path.join(m.mnt, UP, "fine")
    os.mkdir(ok)
    key = P + b"i:%d" % sino(d)
    redis.command("HSET", key, "nlink", "9")
    redis.command("HINCRBY", key, "ver", "1")
    wait_for(lambda: nlink(d) == 9, 5, what="the mount showing the stored count")

    args = ["fsck", "--store", redis.url]
    r = run_pressfs(*args)
    out = r.stdout.decode()
    assert r.returncode == 1, out
    assert "wrong link count  /%s/damaged nlink 9, but directory %d has 1 subdirectories" % (
        UP, sino(d)) in out, out
    assert "/fine" not in out and "[repaired]" not in out
    assert redis.command("HGET", key, "nlink") == b"9"  # a plain check changes nothing

    r = run_pressfs(*args, "--repair")
    out = r.stdout.decode()
    assert r.returncode == 0, out
    assert "[repaired]" in out and "wrong link count   1 found, 1 repaired" in out, out
    assert redis.command("HGET", key, "nlink") == b"3"
    wait_for(lambda: nlink(d) == 3, 2 * INVAL + 2, what="the repaired count on the mount")
    r = run_pressfs(*args)
    assert r.returncode == 0, r.stdout.decode()
