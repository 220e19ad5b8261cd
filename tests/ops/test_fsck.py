# test_fsck.py - `pressfs fsck` finds each kind of damage planted in a real Redis, and
# --repair fixes what it can without touching the good files, while a node stays mounted.

import os

from conftest import POLICY, pressfs

P = b"pressfs:{ops}:"


def entry(redis, dir_ino, name):
    v = redis.command("HGET", P + b"d:%d" % dir_ino, name)
    assert v, (dir_ino, name)
    return int(v[1:])


def inode(redis, ino):
    h = redis.command("HGETALL", P + b"i:%d" % ino)
    return dict(zip(h[::2], h[1::2]))


def pttl(redis, key):
    return redis.command("PTTL", P + key)


def test_fsck_finds_each_kind_and_repairs_what_loses_nothing(workdir, redis, mount):
    m = mount(redis.url, "a")
    up = os.path.join(m.mnt, "wp-content", "uploads")
    good = {"good-%d.jpg" % i: os.urandom(1000 * i + 1) for i in range(4)}
    good["good-big.bin"] = os.urandom((2 << 20) + 5)
    for name, data in dict(good, **{"missing.bin": os.urandom((2 << 20) + 7),
                                    "long.txt": b"short"}).items():
        with open(os.path.join(up, name), "wb") as f:
            f.write(data)
    uploads = entry(redis, entry(redis, 1, b"wp-content"), b"uploads")
    good_chunks = [c for n in good for c in
                   inode(redis, entry(redis, uploads, n.encode()))[b"chunks"].split()]

    # The damage, one of each kind.
    redis.command("SET", P + b"c:900001", b"orphan")                       # orphan chunk
    redis.command("SET", P + b"c:900002", b"pending", "EX", "3600")        # interrupted write
    redis.command("HSET", P + b"i:900003", "type", "f", "mode", "100644", "uid", "0", "gid",
                  "0", "size", "0", "mtime", "1", "ctime", "1", "ver", "1", "cls", "s",
                  "chunks", "")                                            # orphan inode
    redis.command("HSET", P + b"d:%d" % uploads, b"ghost.jpg", b"f900004")  # dangling entry
    missing = entry(redis, uploads, b"missing.bin")
    lost = inode(redis, missing)[b"chunks"].split()[1]
    redis.command("DEL", P + b"c:" + lost)                                 # missing chunk
    longf = entry(redis, uploads, b"long.txt")
    first = inode(redis, longf)[b"chunks"]
    redis.command("SET", P + b"c:900005", b"tail")
    redis.command("HSET", P + b"i:%d" % longf, "chunks", first + b" 900005")  # wrong size
    redis.command("HSET", P + b"i:900006", "type", "f", "mode", "100644", "uid", "0", "gid",
                  "0", "size", "0", "mtime", "1", "ctime", "1", "ver", "1", "cls", "s",
                  "chunks", "")
    redis.command("HSET", P + b"d:%d" % uploads, b"evil.php", b"f900006")  # policy refuses
    redis.command("HSET", P + b"d:900007", ".", "")                        # orphan directory

    args = ["fsck", "--store", redis.url, "--site", "ops", "--policy", POLICY]
    r = pressfs(*args, check=False)
    out = r.stdout.decode()
    assert r.returncode == 1, out
    for line in ("orphan chunk      c:900001 belongs to no file",
                 "orphan inode      i:900003 has no directory entry",
                 "orphan directory  d:900007 has no inode",
                 "dangling entry    /wp-content/uploads/ghost.jpg names inode 900004",
                 "missing chunk     /wp-content/uploads/missing.bin chunk %s is gone" %
                 lost.decode(),
                 "wrong size        /wp-content/uploads/long.txt lists 1 chunks more",
                 "policy refuses    /wp-content/uploads/evil.php deny",
                 "pending chunks    1 chunks"):
        assert line in out, (line, out)
    assert "good-" not in out and "[repaired]" not in out
    assert pttl(redis, b"c:900001") == -1          # a plain check changes nothing

    r = pressfs(*args, "--repair", check=False)
    out = r.stdout.decode()
    assert r.returncode == 1, out                  # the lost chunk and evil.php remain
    assert 0 < pttl(redis, b"c:900001") <= 60000
    assert 0 < pttl(redis, b"i:900003") and inode(redis, 900003).get(b"unlinked")
    assert 0 < pttl(redis, b"d:900007")
    assert not redis.command("HEXISTS", P + b"d:%d" % uploads, b"ghost.jpg")
    assert inode(redis, longf)[b"chunks"] == first and 0 < pttl(redis, b"c:900005")
    assert 0 < pttl(redis, b"c:900002") <= 3600_000          # pending: left to its TTL
    assert redis.command("HEXISTS", P + b"d:%d" % uploads, b"evil.php")  # a file: kept
    for c in good_chunks:
        assert pttl(redis, b"c:" + c) == -1
    with open(os.path.join(up, "long.txt"), "rb") as f:
        assert f.read() == b"short"

    m.stop()
    b = mount(redis.url, "b")
    for name, data in good.items():
        with open(os.path.join(b.mnt, "wp-content", "uploads", name), "rb") as f:
            assert f.read() == data, name

    out = pressfs(*args, check=False).stdout.decode()
    assert "missing chunk" in out and "policy refuses" in out
    for kind in ("orphan chunk ", "orphan inode ", "dangling entry ", "wrong size ",
                 "orphan directory "):
        assert kind not in out, (kind, out)


def test_info_counts_the_site_and_its_peers(workdir, redis, mount):
    m = mount(redis.url, "a")
    up = os.path.join(m.mnt, "wp-content", "uploads")
    for i in range(3):
        with open(os.path.join(up, "i%d.jpg" % i), "wb") as f:
            f.write(b"x" * 1000)
    os.symlink("i0.jpg", os.path.join(up, "latest"))
    out = pressfs("info", "--store", redis.url, "--site", "ops").stdout.decode()
    assert "files:             3 shared (2.9 KiB)" in out, out
    assert "symlinks:          1" in out and "policy noeviction" in out, out
    assert "peers mounted:     1" in out, out
    mount(redis.url, "b")
    out = pressfs("info", "--store", redis.url, "--site", "ops").stdout.decode()
    assert "peers mounted:     2" in out, out


def test_fsck_finds_a_wrong_link_count_and_repairs_it(workdir, redis, mount):
    m = mount(redis.url, "a")
    up = os.path.join(m.mnt, "wp-content", "uploads")
    with open(os.path.join(up, "pair.jpg"), "wb") as f:
        f.write(b"two names")
    os.link(os.path.join(up, "pair.jpg"), os.path.join(up, "pair-2.jpg"))
    with open(os.path.join(up, "single.jpg"), "wb") as f:
        f.write(b"one name")
    with open(os.path.join(up, "fine.jpg"), "wb") as f:
        f.write(b"fine")
    os.link(os.path.join(up, "fine.jpg"), os.path.join(up, "fine-2.jpg"))
    uploads = entry(redis, entry(redis, 1, b"wp-content"), b"uploads")
    pair, single = entry(redis, uploads, b"pair.jpg"), entry(redis, uploads, b"single.jpg")
    assert inode(redis, pair)[b"nlink"] == b"2"
    redis.command("HDEL", P + b"i:%d" % pair, "nlink")           # too low: 1 for two names
    redis.command("HSET", P + b"i:%d" % single, "nlink", "3")    # too high: 3 for one name

    args = ["fsck", "--store", redis.url, "--site", "ops"]
    r = pressfs(*args, check=False)
    out = r.stdout.decode()
    assert r.returncode == 1, out
    assert ("wrong link count  /wp-content/uploads/pair-2.jpg nlink 1, but 2 entries name "
            "inode %d" % pair) in out, out
    assert ("wrong link count  /wp-content/uploads/single.jpg nlink 3, but 1 entries name "
            "inode %d" % single) in out, out
    assert "fine" not in out and "[repaired]" not in out, out
    assert b"nlink" not in inode(redis, pair)                     # a check changes nothing

    r = pressfs(*args, "--repair", check=False)
    out = r.stdout.decode()
    assert r.returncode == 0, out
    assert out.count("[repaired]") == 2, out
    assert inode(redis, pair)[b"nlink"] == b"2"
    assert b"nlink" not in inode(redis, single)
    assert inode(redis, entry(redis, uploads, b"fine.jpg"))[b"nlink"] == b"2"

    # The repaired pair behaves as one: removing one name keeps the other (and its data).
    m.stop()
    b = mount(redis.url, "b")
    bu = os.path.join(b.mnt, "wp-content", "uploads")
    assert os.stat(os.path.join(bu, "pair.jpg")).st_nlink == 2
    os.unlink(os.path.join(bu, "pair.jpg"))
    with open(os.path.join(bu, "pair-2.jpg"), "rb") as f:
        assert f.read() == b"two names"
    assert os.stat(os.path.join(bu, "pair-2.jpg")).st_nlink == 1
    out = pressfs(*args).stdout.decode()
    assert "wrong link count" not in out and "damage:            0 found" in out, out
