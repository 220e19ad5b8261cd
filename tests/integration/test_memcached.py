# test_memcached.py - the cache class with a memcached pool (cache=memcached://...): page caches
# written on one node are served whole by the others, content lives in memcached and not in
# Redis, a file memcached lost part of is gone as a whole on every node, purges reach every node,
# and a pool that is down costs cache files only.

import errno
import hashlib
import os
import threading
import time

import pytest

from harness import oserror_errno, pattern_bytes, read_bytes, wait_for, write_bytes

CACHE = "wp-content/cache/supercache/example.org"
UP = "wp-content/uploads"
INVAL = 0.5


def pool_url(servers):
    return "cache=memcached://" + ",".join(m.address for m in servers)


@pytest.fixture
def cnodes(mount, memcached_pair):
    """Nodes A and B of one site sharing a pool of two memcached servers."""
    url = pool_url(memcached_pair)
    return mount("a", extra=[url]), mount("b", extra=[url])


def page(i, size=None):
    """A page cache file: a header naming it, then bytes of its own."""
    head = b"<!-- page %06d -->\n" % i
    return head + pattern_bytes("page-%d" % i, (size if size is not None else 300 + i * 7 % 9000))


def write_page_like_wp_super_cache(m, rel, data):
    """Temp file in the same directory, write, rename over the final name."""
    final = m / rel
    tmp = os.path.join(os.path.dirname(final), ".%d.tmp" % threading.get_ident())
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, final)


def whole_or_gone(path, want):
    """True: the whole content; None: ENOENT.  Anything else fails the caller's check."""
    try:
        got = read_bytes(path)
    except FileNotFoundError:
        return None
    if got == want:
        return True
    return "torn: %d bytes, want %d, head %r" % (len(got), len(want), got[:40])


def redis_chunk_bytes(redis):
    return sum(int(redis.command("STRLEN", k)) for k in redis.keys("pressfs:{default}:c:*"))


@pytest.mark.limit(300)
def test_page_cache_written_on_a_is_served_whole_on_b(cnodes, redis, memcached_pair):
    a, b = cnodes
    n = 2000
    pages = {}
    for i in range(n):
        rel = "%s/p%04d/index.html" % (CACHE, i)
        os.makedirs(os.path.dirname(a / rel), exist_ok=True)
        data = page(i)
        write_page_like_wp_super_cache(a, rel, data)
        pages[rel] = data
    # a few pages larger than memcached's 1 MiB item: chunked and parted
    for i, size in enumerate((1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 12345)):
        rel = "%s/big%d/index.html" % (CACHE, i)
        os.makedirs(os.path.dirname(a / rel), exist_ok=True)
        data = page(n + i, size)
        write_page_like_wp_super_cache(a, rel, data)
        pages[rel] = data
    bad = {}
    for rel, data in pages.items():
        r = whole_or_gone(b / rel, data)
        if r is not True:
            bad[rel] = r
    assert not bad, "%d of %d pages not whole on B, e.g. %s" % (len(bad), len(pages),
                                                               sorted(bad.items())[:3])
    listed = sorted(os.listdir(b / CACHE))
    assert len(listed) == n + 3, listed[:5]
    # the content is in memcached, not in Redis
    assert redis_chunk_bytes(redis) == 0
    items = sum(int(m.stats()["curr_items"]) for m in memcached_pair)
    assert items >= n + 3, items
    stored = sum(int(m.stats()["bytes"]) for m in memcached_pair)
    assert stored >= sum(len(d) for d in pages.values())


@pytest.mark.limit(240)
def test_flushing_one_server_makes_its_files_vanish_whole_on_every_node(mount, memcached_pair):
    """A page a peer cannot read whole is gone, whole, for every peer once that peer looks
    (README, "Consistency")."""
    url = pool_url(memcached_pair)
    w, b = mount("w", extra=[url]), mount("b", extra=[url])
    pages = {}
    for i in range(400):
        rel = "%s/f%03d.html" % (CACHE, i)
        os.makedirs(os.path.dirname(w / rel), exist_ok=True)
        size = 5000 + i * 31 if i % 50 else 2 * (1 << 20) + i     # some span chunks and parts
        pages[rel] = page(i, size)
        write_bytes(w / rel, pages[rel])
    w.stop()                  # the writer held what it wrote; A, a fresh peer, holds nothing
    a = mount("a", extra=[url])
    # B has read the first half: it holds those
    held = sorted(pages)[:200]
    for rel in held:
        assert whole_or_gone(b / rel, pages[rel]) is True, rel
    assert memcached_pair[0].command("flush_all").strip() == "OK"

    # what the flush took is gone when A looks, for every peer
    results = {rel: whole_or_gone(a / rel, data) for rel, data in pages.items()}
    odd = {r: v for r, v in results.items() if v not in (True, None)}
    assert not odd, "on a: %s" % sorted(odd.items())[:3]
    gone = {r for r, v in results.items() if v is None}
    kept = set(pages) - gone
    assert gone, "flushing one of two servers removed nothing"
    assert kept, "flushing one of two servers removed everything"
    # both peers agree, and listings follow
    want = sorted(os.path.basename(r) for r in kept)
    for m in (a, b):
        wait_for(lambda: sorted(os.listdir(m / CACHE)) == want, INVAL,
                 what="listing on %s without the evicted pages" % m.node)
    for rel, data in pages.items():
        assert whole_or_gone(b / rel, data) is (True if rel in kept else None), rel
    # what is kept is intact, read again after the purge
    for rel in kept:
        assert read_bytes(b / rel) == pages[rel]


@pytest.mark.limit(120)
def test_a_peer_serves_the_pages_it_holds_after_memcached_lost_them(cnodes, memcached_pair):
    a, b = cnodes
    rel = CACHE + "/held/index.html"
    os.makedirs(os.path.dirname(a / rel))
    data = page(7, 30000)
    write_bytes(a / rel, data)
    assert read_bytes(b / rel) == data
    for m in memcached_pair:
        assert m.command("flush_all").strip() == "OK"
    # B holds the whole version: stat, listing and open agree, and it is served whole
    assert os.path.exists(b / rel)
    assert "index.html" in os.listdir(os.path.dirname(b / rel))
    assert read_bytes(b / rel) == data


@pytest.mark.limit(120)
def test_an_unchanged_cache_page_opened_1000_times_costs_no_memcached_get(cnodes,
                                                                          memcached_pair):
    a, b = cnodes
    rel = CACHE + "/warm/index.html"
    os.makedirs(os.path.dirname(a / rel))
    data = page(9, 20000)
    write_bytes(a / rel, data)
    for m in (a, b):
        assert read_bytes(m / rel) == data

    def gets():
        return sum(int(m.stats()["cmd_get"]) for m in memcached_pair)

    before = gets()
    for _ in range(1000):
        for m in (a, b):
            os.stat(m / rel)
            assert read_bytes(m / rel) == data
    assert gets() == before, "opens of an unchanged cache page fetched it again"


@pytest.mark.limit(120)
def test_wp_fastest_cache_purge_by_rename_is_seen_by_b(cnodes):
    a, b = cnodes
    tree = {"index.html": page(1), "blog/index.html": page(2), "blog/page/2/index.html": page(3)}
    for rel, data in tree.items():
        os.makedirs(os.path.dirname(a / "wp-content/cache/all/" + rel), exist_ok=True)
        write_bytes(a / "wp-content/cache/all/" + rel, data)
    for rel, data in tree.items():
        assert read_bytes(b / "wp-content/cache/all/" + rel) == data
    os.makedirs(a / "wp-content/cache/tmpWpfc", exist_ok=True)
    os.rename(a / "wp-content/cache/all", a / "wp-content/cache/tmpWpfc/123")
    os.makedirs(a / "wp-content/cache/all")
    write_bytes(a / "wp-content/cache/all/index.html", page(4))

    def tree_of(m, top):
        out = {}
        for d, _, files in os.walk(m / top):
            for f in files:
                p = os.path.join(d, f)
                out[os.path.relpath(p, m / top)] = hashlib.sha256(read_bytes(p)).hexdigest()
        return out

    wait_for(lambda: tree_of(b, "wp-content/cache") == tree_of(a, "wp-content/cache"), INVAL,
             what="B's cache tree to match A's")
    assert read_bytes(b / "wp-content/cache/tmpWpfc/123/blog/page/2/index.html") == page(3)
    assert read_bytes(b / "wp-content/cache/all/index.html") == page(4)
    assert not os.path.exists(b / "wp-content/cache/all/blog")


@pytest.mark.parametrize("top", ["wp-content/cache/all", "wp-content/uploads/elementor/css"])
def test_a_tree_purged_by_rename_and_made_again_is_served_new_on_a_busy_b(cnodes, top):
    """WP Fastest Cache purges by moving cache/all away and writes the new pages into a cache/all
    made again.  B, reading all along (so its kernel holds the names below the old tree), must
    serve each new version as promptly as any other change, never the moved one."""
    a, b = cnodes
    rel = top + "/blog/index.html"
    os.makedirs(a / top + "/blog")
    os.makedirs(a / "wp-content/cache/tmpWpfc", exist_ok=True)
    os.makedirs(a / "wp-content/uploads/moved", exist_ok=True)
    away = "wp-content/cache/tmpWpfc" if "cache/" in top else "wp-content/uploads/moved"
    write_bytes(a / rel, page(0))
    for i in range(1, 21):
        stop = threading.Event()
        torn = []

        def busy():
            while not stop.is_set():
                try:
                    got = read_bytes(b / rel)
                except FileNotFoundError:
                    continue            # between the move and the new page
                k = int(got[10:16]) if got.startswith(b"<!-- page ") else -1
                if k < 0 or got != page(k):
                    torn.append(got[:40])

        reader = threading.Thread(target=busy)
        reader.start()
        try:
            time.sleep(0.05)
            os.rename(a / top, a / away + "/%d" % i)
            os.makedirs(a / top + "/blog")
            write_bytes(a / rel, page(i))
            wait_for(lambda: whole_or_gone(b / rel, page(i)) is True, INVAL,
                     what="B to serve round %d's page, not the purged one" % i)
        finally:
            stop.set()
            reader.join()
        assert torn == [], "B read something that is no whole page"
        assert read_bytes(b / away + "/%d/blog/index.html" % i) == page(i - 1)


@pytest.mark.limit(120)
def test_purges_on_a_are_never_served_from_b_kernel_cache(cnodes):
    a, b = cnodes
    rel = CACHE + "/post/index.html"
    os.makedirs(os.path.dirname(a / rel))
    write_bytes(a / rel, page(10))
    for _ in range(3):
        assert read_bytes(b / rel) == page(10)      # B's kernel keeps the pages
    time.sleep(1.2)                                 # ... once the version has settled
    assert read_bytes(b / rel) == page(10)
    write_page_like_wp_super_cache(a, rel, page(11))
    wait_for(lambda: read_bytes(b / rel) == page(11), INVAL, what="the rewritten page on B")
    os.unlink(a / rel)
    wait_for(lambda: not os.path.exists(b / rel), INVAL, what="the unlinked page gone on B")
    assert oserror_errno(read_bytes, b / rel) == errno.ENOENT
    # rmdir of a whole tree (rm -rf of the cache directory)
    for i in range(5):
        os.makedirs(a / CACHE + "/t/%d" % i)
        write_bytes(a / CACHE + "/t/%d/index.html" % i, page(20 + i))
        assert read_bytes(b / CACHE + "/t/%d/index.html" % i) == page(20 + i)
    for i in range(5):
        os.unlink(a / CACHE + "/t/%d/index.html" % i)
        os.rmdir(a / CACHE + "/t/%d" % i)
    os.rmdir(a / CACHE + "/t")
    wait_for(lambda: not os.path.exists(b / CACHE + "/t"), INVAL, what="the tree gone on B")


def _timed(fn, *args):
    """fn(*args) in a thread: (result or exception, finished?) after at most 20 s."""
    out = []
    t = threading.Thread(target=lambda: out.append(_call(fn, *args)), daemon=True)
    t.start()
    t.join(20)
    return (out[0] if out else None), bool(out)


def _call(fn, *args):
    try:
        return fn(*args)
    except OSError as e:
        return e


@pytest.mark.limit(180)
def test_memcached_down_costs_cache_files_only(mount, memcached_pair):
    url = pool_url(memcached_pair)
    a = mount("a", extra=[url])
    d = mount("d", extra=[url, "cache_fail=drop"])
    rel = CACHE + "/home/index.html"
    os.makedirs(os.path.dirname(a / rel))
    write_bytes(a / rel, page(1))
    write_bytes(a / UP + "/kept.jpg", b"jpeg" * 1000)
    for m in memcached_pair:
        m.stop()

    # lower and shared files work; nothing hangs
    r, done = _timed(read_bytes, a / "wp-includes/version.php")
    assert done and isinstance(r, bytes) and len(r) > 0, r
    r, done = _timed(write_bytes, a / UP + "/new.jpg", b"new" * 1000)
    assert done and not isinstance(r, Exception), r
    assert read_bytes(d / UP + "/new.jpg") == b"new" * 1000
    assert read_bytes(d / UP + "/kept.jpg") == b"jpeg" * 1000
    # a cache read misses: the file looks absent
    r, done = _timed(read_bytes, d / rel)
    assert done and isinstance(r, OSError) and r.errno == errno.ENOENT, r
    # a cache write fails with EIO (cache_fail=error, the default) ...
    r, done = _timed(write_bytes, a / CACHE + "/new.html", page(2))
    assert done and isinstance(r, OSError) and r.errno == errno.EIO, r
    # ... or is dropped (cache_fail=drop): it succeeds, and the file is not there to read
    r, done = _timed(write_bytes, d / CACHE + "/dropped.html", page(3))
    assert done and not isinstance(r, Exception), r
    r, done = _timed(read_bytes, a / CACHE + "/dropped.html")
    assert done and isinstance(r, OSError) and r.errno == errno.ENOENT, r

    # the pool back on the same ports: cache writes and reads work again, no remount
    for m in memcached_pair:
        m.start()
    # (a server that failed is skipped for a second before it is tried again)
    wait_for(lambda: _call(write_bytes, a / CACHE + "/again.html", page(5)) is None, 5,
             what="a cache write to work again")
    wait_for(lambda: _call(read_bytes, d / CACHE + "/again.html") == page(5), 5,
             what="the page written on A to be read on D")
    # a page written before the outage: the restarted pool is empty, so once D (which does not
    # hold it: A, its writer, does) can ask every server, the page is found gone, whole, and
    # leaves every node's listing, A's too
    wait_for(lambda: isinstance(_call(read_bytes, d / CACHE + "/home/index.html"),
                                FileNotFoundError) and
             "index.html" not in os.listdir(a / CACHE + "/home"), 5,
             what="the lost page gone on D and from A's listing")
    assert isinstance(_call(read_bytes, a / CACHE + "/home/index.html"), FileNotFoundError)


def test_renames_between_cache_and_shared_are_cross_device(cnodes):
    a, _ = cnodes
    os.makedirs(a / CACHE)
    write_bytes(a / CACHE + "/x.html", page(1))
    write_bytes(a / UP + "/y.jpg", b"y" * 100)
    assert oserror_errno(os.rename, a / CACHE + "/x.html", a / UP + "/x.html") == errno.EXDEV
    assert oserror_errno(os.rename, a / UP + "/y.jpg", a / CACHE + "/y.jpg") == errno.EXDEV
    os.rename(a / CACHE + "/x.html", a / CACHE + "/z.html")      # within the class: fine
    assert read_bytes(a / CACHE + "/z.html") == page(1)

# WP Super Cache's simple mode (wp-cache-phase1.php): file_exists(), then file_get_contents().
SUPERCACHE_LOOP = r"""<?php
$root = $argv[1]; $n = (int)$argv[2]; $rounds = (int)$argv[3];
$bad = 0; $served = 0;
for ($r = 0; $r < $rounds; $r++) {
    for ($i = 0; $i < $n; $i++) {
        $f = sprintf("%s/p%03d/index.html", $root, $i);
        if (!file_exists($f))
            continue;
        $c = @file_get_contents($f);
        if ($c === false || $c === '' || strncmp($c, '<!-- page ', 10) != 0) {
            $bad++;
            fwrite(STDERR, "round $r: $f exists but read " . var_export($c === false ? false : strlen($c), true) . "\n");
        } else {
            $served++;
        }
    }
}
echo "served $served bad $bad\n";
exit($bad ? 1 : 0);
"""


@pytest.mark.limit(240)
def test_wp_super_cache_never_serves_an_empty_page_while_memcached_is_flushed(
        mount, memcached_pair, workdir, procs):
    import subprocess
    url = pool_url(memcached_pair)
    w = mount("w", extra=[url])
    n = 60
    for i in range(n):
        rel = "%s/p%03d/index.html" % (CACHE, i)
        os.makedirs(os.path.dirname(w / rel), exist_ok=True)
        write_bytes(w / rel, page(i, 8000 + 97 * i))
    w.stop()                  # the writer holds what it wrote: serve from peers that do not
    a, b = mount("a", extra=[url]), mount("b", extra=[url])
    for i in range(0, n, 2):                     # B serves half of them before the flush
        assert read_bytes(b / ("%s/p%03d/index.html" % (CACHE, i))).startswith(b"<!-- page ")
    script = os.path.join(workdir, "supercache.php")
    with open(script, "w") as f:
        f.write(SUPERCACHE_LOOP)
    runs = [procs(subprocess.Popen(["/usr/bin/php8.2", "-n", script, m / CACHE, str(n), "40"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE))
            for m in (a, b)]
    for m in memcached_pair:                     # while both peers serve
        time.sleep(0.2)
        assert m.command("flush_all").strip() == "OK"
    for p in runs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, "%s%s" % (out.decode(), err.decode()[:2000])
    # and what is gone is gone from stat() and the listings of both peers
    for m in (a, b):
        for i in range(n):
            d = m / ("%s/p%03d" % (CACHE, i))
            if os.path.exists(d + "/index.html"):
                assert read_bytes(d + "/index.html").startswith(b"<!-- page ")
