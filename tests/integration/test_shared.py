# test_shared.py - the heart of pressfs: what one node writes in a shared area every node of the
# same store reads, byte for byte, as soon as the writer has closed it; sites stay apart.

import errno
import hashlib
import os
import threading

import pytest

from harness import (Redis, frame_complete, framed_version, oserror_errno, pattern_bytes,
                     read_bytes, sha256_file, wait_for, write_bytes)

UP = "wp-content/uploads"
# Invalidation of the other node's caches is promised within 50 ms; tests allow ten times that,
# which still tells pub/sub invalidation from a cache that merely expires after a second or more.
INVAL = 0.5


def test_upload_written_on_a_is_read_on_b(nodes):
    a, b = nodes
    os.makedirs(a / UP + "/2024/05")
    data = b"\x89PNG\r\n\x1a\n" + pattern_bytes("cat.png", 123457)
    write_bytes(a / UP + "/2024/05/cat.png", data)
    assert read_bytes(b / UP + "/2024/05/cat.png") == data
    assert os.stat(b / UP + "/2024/05/cat.png").st_size == len(data)
    assert os.path.isdir(b / UP + "/2024/05")


@pytest.mark.limit(240)
def test_50_mib_file_is_byte_identical_on_b(nodes):
    a, b = nodes
    data = os.urandom(50 << 20)
    want = hashlib.sha256(data).hexdigest()
    path = UP + "/backup-2024.zip"
    with open(a / path, "wb") as f:
        for off in range(0, len(data), 1 << 20):
            f.write(data[off:off + (1 << 20)])
    del data
    assert os.stat(b / path).st_size == 50 << 20
    assert sha256_file(b / path) == want
    assert sha256_file(a / path) == want


@pytest.mark.limit(180)
def test_1000_small_files_are_identical_on_b(nodes):
    a, b = nodes
    os.mkdir(a / UP + "/many")
    names = ["f%04d.txt" % i for i in range(1000)]

    def content(i):
        return ("small file %d\n" % i).encode() * (1 + i % 37)

    for i, n in enumerate(names):
        write_bytes(a / UP + "/many/" + n, content(i))
    assert sorted(os.listdir(b / UP + "/many")) == names
    bad = [n for i, n in enumerate(names) if read_bytes(b / UP + "/many/" + n) != content(i)]
    assert bad == [], "%d files differ on B, first %s" % (len(bad), bad[:5])


def test_rewrite_is_seen_by_b_after_close(nodes):
    """Close-to-open: B has read (and cached) the file; after A's close B's open sees A's bytes,
    whether the size changed or not."""
    a, b = nodes
    p = UP + "/elementor-post-12.css"
    write_bytes(a / p, b"body{color:#111111}\n")
    assert read_bytes(b / p) == b"body{color:#111111}\n"
    for new in (b"body{color:#222222}\n",              # same size
                b"body{color:#333333}\nh1{margin:0}\n",  # longer
                b"p{}\n"):                             # shorter
        write_bytes(a / p, new)
        assert read_bytes(b / p) == new


def _rewrite(path, data):
    """file_put_contents(): open with O_TRUNC, write in pieces, close."""
    with open(path, "wb") as f:
        for off in range(0, len(data), 65536):
            f.write(data[off:off + 65536])


@pytest.mark.limit(150)
def test_rewrite_in_place_is_never_partial_on_b(nodes):
    """Elementor's CSS, Autoptimize's bundles: rewritten in place while other nodes serve it."""
    a, b = nodes
    p = UP + "/elementor/css/post-12.css"
    os.makedirs(a / UP + "/elementor/css")
    _rewrite(a / p, framed_version(0))
    stop, problems, seen = threading.Event(), [], set()

    def reader():
        n = 0
        while not stop.is_set() and n < 5000:
            n += 1
            try:
                data = read_bytes(b / p)
            except OSError as e:
                problems.append(os.strerror(e.errno))
                continue
            if frame_complete(data):
                seen.add(data[:8])
            else:
                problems.append("%d bytes, head %r" % (len(data), data[:30]))

    t = threading.Thread(target=reader)
    t.start()
    try:
        for n in range(1, 41):
            _rewrite(a / p, framed_version(n))
    finally:
        stop.set()
        t.join(60)
    assert problems == [], "%d bad reads on B, first: %s" % (len(problems), problems[:5])
    assert len(seen) >= 2, "B only ever saw %s" % seen
    assert read_bytes(b / p) == framed_version(40)


@pytest.mark.limit(120)
def test_concurrent_writers_last_one_wins_whole(nodes):
    """Two nodes regenerate the same asset at once: the result is one complete version, the
    same on both nodes."""
    a, b = nodes
    p = UP + "/cache-asset.css"
    barrier = threading.Barrier(2)
    errors = []

    def writer(m, base):
        try:
            barrier.wait(30)
            for n in range(base, base + 15):
                _rewrite(m / p, framed_version(n))
        except Exception as e:       # noqa: BLE001 - reported below
            errors.append("%s: %r" % (m.node, e))

    ts = [threading.Thread(target=writer, args=(m, base)) for m, base in ((a, 100), (b, 200))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(90)
    assert errors == []
    final = wait_for(lambda: (lambda x, y: x if x == y else None)(read_bytes(a / p),
                                                                  read_bytes(b / p)),
                     INVAL, what="both nodes to agree")
    assert frame_complete(final)
    assert final[:8] in (b"v=000114", b"v=000214"), "the last version of neither writer"


def test_new_file_opens_on_b_right_after_close_on_a(nodes):
    """The everyday case: an upload lands on A, the next request for it hits B."""
    a, b = nodes
    for i in range(20):
        data = pattern_bytes("upload-%d" % i, 1000 + 997 * i)
        write_bytes(a / UP + "/up-%d.jpg" % i, data)
        assert read_bytes(b / UP + "/up-%d.jpg" % i) == data


def test_negative_lookup_on_b_is_invalidated(nodes):
    a, b = nodes
    p = UP + "/later.txt"
    assert not os.path.exists(b / p)          # B now may cache "no such file"
    write_bytes(a / p, b"made on A\n")
    wait_for(lambda: os.path.exists(b / p), INVAL, what="B to see the new file")
    assert read_bytes(b / p) == b"made on A\n"


def test_listing_on_b_follows_a(nodes):
    a, b = nodes
    d = UP + "/2020/01"
    before = sorted(os.listdir(b / d))
    write_bytes(a / d + "/new-upload.jpg", b"jpeg")
    wait_for(lambda: "new-upload.jpg" in os.listdir(b / d), INVAL,
             what="B's listing to show A's new file")
    assert sorted(os.listdir(b / d)) == sorted(before + ["new-upload.jpg"])
    os.unlink(a / d + "/new-upload.jpg")
    wait_for(lambda: "new-upload.jpg" not in os.listdir(b / d), INVAL,
             what="B's listing to drop A's deleted file")
    assert sorted(os.listdir(b / d)) == before


def test_stat_on_b_follows_size_and_unlink(nodes):
    a, b = nodes
    p = UP + "/wc-logs/fatal-errors.log"
    os.makedirs(a / UP + "/wc-logs")
    write_bytes(a / p, b"line 1\n")
    assert os.stat(b / p).st_size == 7
    write_bytes(a / p, b"line 2\n", mode="ab")
    wait_for(lambda: os.stat(b / p).st_size == 14, INVAL, what="B's stat to show the new size")
    os.unlink(a / p)
    wait_for(lambda: not os.path.exists(b / p), INVAL, what="B to see the unlink")
    assert oserror_errno(open, b / p, "rb") == errno.ENOENT


def _prefixes(site):
    return (("pressfs:{%s}:" % site).encode(), ("pressfs:%s:" % site).encode())


def test_keys_live_under_the_site_prefix(mount, redis):
    a = mount("a")                              # site defaults to "default"
    write_bytes(a / UP + "/k.txt", b"key check\n")
    keys = redis.keys("*")
    assert keys, "nothing was written to Redis"
    stray = [k for k in keys if not k.startswith(_prefixes("default"))]
    assert stray == [], "keys outside pressfs:{default}: %r" % stray[:10]


def test_sites_sharing_one_redis_are_isolated(mount, redis):
    a = mount("a", site="alpha")
    b = mount("b", site="beta")
    write_bytes(a / UP + "/same-name.txt", b"alpha's\n")
    assert not os.path.exists(b / UP + "/same-name.txt")
    write_bytes(b / UP + "/same-name.txt", b"beta's\n")
    assert read_bytes(a / UP + "/same-name.txt") == b"alpha's\n"
    assert read_bytes(b / UP + "/same-name.txt") == b"beta's\n"
    keys = redis.keys("*")
    alpha = [k for k in keys if k.startswith(_prefixes("alpha"))]
    beta = [k for k in keys if k.startswith(_prefixes("beta"))]
    assert alpha and beta
    assert len(alpha) + len(beta) == len(keys), "keys outside both prefixes"


@pytest.fixture
def unix_redis(workdir):
    r = Redis(os.path.join(workdir, "redis-unix"), unixsocket=True)
    r.start()
    yield r
    r.stop()


def test_unix_socket_and_tcp_urls_reach_one_store(mount, unix_redis):
    a = mount("a", store=unix_redis.unix_url)
    b = mount("b", store=unix_redis.url)
    write_bytes(a / UP + "/via-unix.txt", b"over the unix socket\n")
    assert read_bytes(b / UP + "/via-unix.txt") == b"over the unix socket\n"


@pytest.fixture
def password_redis(workdir):
    r = Redis(os.path.join(workdir, "redis-auth"), password="pressfs-test-pw")
    r.start()
    yield r
    r.stop()


def test_url_with_password_and_db(mount, password_redis):
    r = password_redis
    a = mount("a", store="redis://default:pressfs-test-pw@127.0.0.1:%d/3" % r.port)
    write_bytes(a / UP + "/db3.txt", b"in db 3\n")
    assert r.keys("*", db=3), "nothing landed in db 3"
    assert r.keys("*", db=0) == [], "keys landed in db 0 although the url says /3"


def _whole_or_gone(path, want):
    try:
        return read_bytes(path) == want
    except FileNotFoundError:
        return None


@pytest.mark.limit(120)
def test_cache_class_pages_and_purge_rename(nodes):
    """The shipped policy's cache class (page caches): every node sees a page whole or not at
    all, and WP Fastest Cache's purge (cache/all -> cache/tmpWpfc/N) works."""
    a, b = nodes
    pages = {"wp-content/cache/all/index.html": framed_version(1),
             "wp-content/cache/all/blog/index.html": framed_version(2),
             "wp-content/cache/supercache/example.org/index.html": framed_version(3)}
    for rel, data in pages.items():
        os.makedirs(os.path.dirname(a / rel), exist_ok=True)
        write_bytes(a / rel, data)
    seen = {rel: _whole_or_gone(b / rel, data) for rel, data in pages.items()}
    assert False not in seen.values(), "a cached page is torn on B: %s" % seen
    assert any(seen.values()), "B saw none of the cached pages"
    os.makedirs(a / "wp-content/cache/tmpWpfc")
    os.rename(a / "wp-content/cache/all", a / "wp-content/cache/tmpWpfc/1")
    wait_for(lambda: not os.path.exists(b / "wp-content/cache/all"), INVAL,
             what="the purged directory gone on B")
    moved = _whole_or_gone(b / "wp-content/cache/tmpWpfc/1/blog/index.html", framed_version(2))
    assert moved is not False, "a moved cached page is torn"
    os.makedirs(b / "wp-content/cache/all")
    write_bytes(b / "wp-content/cache/all/index.html", framed_version(4))
    assert _whole_or_gone(a / "wp-content/cache/all/index.html", framed_version(4)) is not False
    for m in (a, b):                   # without cache=, said once in each node's log
        with open(m.log, errors="replace") as f:
            said = f.read().count("cache-class paths are stored as shared")
        assert said == 1, "%s's log says it %d times" % (m.node, said)
