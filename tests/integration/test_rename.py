# test_rename.py - renames as caches, optimizers and purges use them: non-empty directories,
# temp file + rename, across directories, and rename over a file that readers never see half-made.

import errno
import os
import re
import threading

import pytest

import harness

from harness import (SYNTHETIC, frame_complete, framed_version, oserror_errno, read_bytes,
                     tree_digest, wait_for, write_bytes)

UP = "wp-content/uploads"
INVAL = 0.5


def _tree(m, rel):
    """{relative path: content or 'dir'} of a directory seen through a mount."""
    out = {}
    top = m / rel
    for dp, dns, fns in os.walk(top):
        for d in dns:
            out[os.path.relpath(os.path.join(dp, d), top)] = "dir"
        for f in fns:
            out[os.path.relpath(os.path.join(dp, f), top)] = read_bytes(os.path.join(dp, f))
    return out


def test_rename_non_empty_directory_is_seen_on_b(nodes):
    """WP Fastest Cache's purge: cache/all -> cache/tmpWpfc/N, then a new cache/all."""
    a, b = nodes
    base = UP + "/cache"
    os.makedirs(a / base + "/all/blog/page/2")
    files = {"index.html": b"<html>home</html>\n", "blog/index.html": b"<html>blog</html>\n",
             "blog/page/2/index.html": b"<html>page 2</html>\n"}
    for rel, data in files.items():
        write_bytes(a / base + "/all/" + rel, data)
    want = _tree(a, base + "/all")
    os.makedirs(a / base + "/tmpWpfc")
    os.rename(a / base + "/all", a / base + "/tmpWpfc/1")
    for m in (a, b):
        wait_for(lambda: not os.path.exists(m / base + "/all"), INVAL,
                 what="old name gone on " + m.node)
        assert _tree(m, base + "/tmpWpfc/1") == want
    # the purged directory is made again and new pages land in it
    os.makedirs(b / base + "/all")
    write_bytes(b / base + "/all/index.html", b"<html>fresh</html>\n")
    assert read_bytes(a / base + "/all/index.html") == b"<html>fresh</html>\n"
    assert _tree(a, base + "/tmpWpfc/1") == want
    # and the recursive delete that follows the purge
    for dp, dns, fns in os.walk(a / base + "/tmpWpfc", topdown=False):
        for f in fns:
            os.unlink(os.path.join(dp, f))
        for d in dns:
            os.rmdir(os.path.join(dp, d))
    os.rmdir(a / base + "/tmpWpfc")
    wait_for(lambda: not os.path.exists(b / base + "/tmpWpfc"), INVAL,
             what="B to see the recursive delete")


def test_rename_non_empty_lower_directory(nodes, lower):
    a, b = nodes
    before = tree_digest(lower)
    os.rename(a / UP + "/2020", a / UP + "/archive-2020")
    for m in (a, b):
        wait_for(lambda: not os.path.exists(m / UP + "/2020"), INVAL,
                 what="2020 gone on " + m.node)
        for rel, (data, _) in SYNTHETIC.items():
            if rel.startswith(UP + "/2020/"):
                moved = rel.replace(UP + "/2020/", UP + "/archive-2020/", 1)
                assert read_bytes(m / moved) == data, moved
        assert sorted(os.listdir(m / UP)) == ["archive-2020"]
    # the moved tree is writable where it is now, and the old name can be made again
    write_bytes(a / UP + "/archive-2020/01/added.txt", b"added\n")
    os.makedirs(b / UP + "/2020/01")
    assert os.listdir(a / UP + "/2020/01") == []
    assert tree_digest(lower) == before


def test_temp_file_then_rename(nodes):
    """WP Super Cache / WP Rocket: temp file in the same directory, fwrite, rename."""
    a, b = nodes
    d = UP + "/cache/supercache/example.org/about"
    os.makedirs(a / d)
    page = b"<html>" + b"about us " * 5000 + b"</html>\n"
    tmp = a / d + "/index.html.tmp-5f2a"
    write_bytes(tmp, page)
    os.rename(tmp, a / d + "/index.html")
    for m in (a, b):
        assert read_bytes(m / d + "/index.html") == page
        wait_for(lambda: os.listdir(m / d) == ["index.html"], INVAL,
                 what="only index.html listed on " + m.node)


def test_rename_across_directories(nodes):
    """W3TC cache/tmp -> config; optimizers' .tmp -> original; no EXDEV inside a writable area."""
    a, b = nodes
    os.makedirs(a / UP + "/tmp")
    os.makedirs(a / UP + "/2024/05")
    write_bytes(a / UP + "/tmp/x.jpg.tmp", b"optimized bytes\n")
    os.rename(a / UP + "/tmp/x.jpg.tmp", a / UP + "/2024/05/x.jpg")
    assert read_bytes(b / UP + "/2024/05/x.jpg") == b"optimized bytes\n"
    assert os.listdir(b / UP + "/tmp") == []
    # an optimizer replaces a lower original, keeping a backup copy
    orig = SYNTHETIC[UP + "/2020/01/photo.jpg"][0]
    os.rename(a / UP + "/2020/01/photo.jpg", a / UP + "/2020/01/photo.jpg.bak")
    write_bytes(a / UP + "/tmp/photo.jpg", b"smaller jpeg\n")
    os.rename(a / UP + "/tmp/photo.jpg", a / UP + "/2020/01/photo.jpg")
    for m in (a, b):
        assert read_bytes(m / UP + "/2020/01/photo.jpg") == b"smaller jpeg\n"
        assert read_bytes(m / UP + "/2020/01/photo.jpg.bak") == orig


def test_rename_noreplace_and_errors(nodes):
    a, _ = nodes
    os.makedirs(a / UP + "/d1/sub")
    write_bytes(a / UP + "/f", b"f")
    assert oserror_errno(os.rename, a / UP + "/d1", a / UP + "/d1/sub/x") == errno.EINVAL
    assert oserror_errno(os.rename, a / UP + "/f", a / UP + "/d1") == errno.EISDIR
    assert oserror_errno(os.rename, a / UP + "/d1", a / UP + "/f") == errno.ENOTDIR
    os.makedirs(a / UP + "/d2")
    write_bytes(a / UP + "/d2/x", b"x")
    assert oserror_errno(os.rename, a / UP + "/d1", a / UP + "/d2") in (errno.ENOTEMPTY,
                                                                          errno.EEXIST)
    assert oserror_errno(os.rename, a / UP + "/missing", a / UP + "/g") == errno.ENOENT


_version = framed_version
_complete = frame_complete


@pytest.mark.limit(150)
def test_rename_over_file_is_atomic_for_readers(nodes):
    a, b = nodes
    d = UP + "/cache/page"
    os.makedirs(a / d)
    target = d + "/index.html"
    write_bytes(a / target, _version(0))
    stop = threading.Event()
    problems, seen = [], {"a": set(), "b": set()}

    def reader(m):
        n = 0
        while not stop.is_set() and n < 5000:
            n += 1
            try:
                data = read_bytes(m / target)
            except OSError as e:
                problems.append("%s: %s" % (m.node, os.strerror(e.errno)))
                continue
            if not _complete(data):
                problems.append("%s: partial or mixed content, %d bytes, head %r"
                                % (m.node, len(data), data[:40]))
            else:
                seen[m.node].add(data[:8])

    threads = [threading.Thread(target=reader, args=(m,)) for m in (a, b)]
    for t in threads:
        t.start()
    try:
        for n in range(1, 61):
            tmp = a / d + "/.index.html.%d.tmp" % n
            write_bytes(tmp, _version(n))
            os.rename(tmp, a / target)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert problems == [], "%d bad reads, first: %s" % (len(problems), problems[:5])
    assert len(seen["b"]) >= 2, "B only ever saw %s" % seen["b"]
    wait_for(lambda: read_bytes(b / target) == _version(60), INVAL,
             what="B to read the last version")
    wait_for(lambda: os.listdir(b / d) == ["index.html"], INVAL, what="temp names gone on B")


@pytest.mark.parametrize("source", ["wp-content/w3tc-config/pkg", "wp-content/cache/tmp/pkg"])
def test_a_moved_directory_cannot_carry_code_where_no_write_could_put_it(mount, workdir, source):
    """Where a site grants code (+code) PHP may be written, never under uploads/: moving a
    directory that holds a .php file into uploads/ is refused whole, and nothing moves.  (The
    default policy grants no code in these trees: the grant is the site's own here.)"""
    pol = os.path.join(workdir, "granted.policy")
    tree = "/%s/**" % source.rsplit("/", 1)[0]
    with open(harness.POLICY) as src:
        text = src.read()
    assert text.count("\n%s " % tree) == 1
    with open(pol, "w") as f:
        f.write(re.sub(r"(?m)^(%s\s+)shared\b" % re.escape(tree), r"\1shared+code", text))
    a, b = mount("a", policy=pol), mount("b", policy=pol)
    os.makedirs(a / source + "/deep")
    write_bytes(a / source + "/style.css", b"body{}\n")
    write_bytes(a / source + "/deep/shell.php", b"<?php system($_GET['c']);\n")
    before = _tree(a, source)
    dest = UP + "/2020/pkg"
    assert oserror_errno(os.rename, a / source, a / dest) == errno.EROFS
    for m in (a, b):
        assert not os.path.exists(m / dest), "the directory moved on " + m.node
        assert _tree(m, source) == before
    # Without the code it may move, and the other node sees it there.
    os.unlink(a / source + "/deep/shell.php")
    os.rename(a / source, a / dest)
    wait_for(lambda: os.path.exists(b / dest + "/style.css"), INVAL, what="the move on B")
    assert _tree(b, dest) == {"style.css": b"body{}\n", "deep": "dir"}


def test_a_moved_lower_directory_is_judged_with_what_the_image_ships(mount, lower):
    """The image's part of a directory moves too (it is copied up first), so it is judged too:
    a .php the image ships under cache/tmp/ cannot be carried into uploads/ by a rename."""
    src = "wp-content/cache/tmp/shipped"
    os.makedirs(os.path.join(lower, src))
    for name, data in (("ok.txt", b"ok\n"), ("loader.php", b"<?php // shipped\n")):
        with open(os.path.join(lower, src, name), "wb") as f:
            f.write(data)
    a, b = mount("a"), mount("b")
    dest = UP + "/2020/shipped"
    assert oserror_errno(os.rename, a / src, a / dest) == errno.EROFS
    for m in (a, b):
        assert not os.path.exists(m / dest)
        assert sorted(os.listdir(m / src)) == ["loader.php", "ok.txt"]
    os.unlink(a / src + "/loader.php")        # a whiteout hides it: now the move is legal
    os.rename(a / src, a / dest)
    wait_for(lambda: os.path.exists(b / dest), INVAL, what="the move on B")
    assert sorted(os.listdir(b / dest)) == ["ok.txt"]
    assert read_bytes(b / dest + "/ok.txt") == b"ok\n"
