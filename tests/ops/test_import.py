# test_import.py - `pressfs import` against a real redis-server, read back through a real mount.

import os
import signal
import stat
import subprocess
import time

import harness
from conftest import POLICY, PRESSFS, pressfs, summary
from treegen import make_tree

PREFIX = b"/wp-content/uploads"


def read_back(mnt, want, src):
    """Every file of WANT reads back identical through the mount, with its mode and mtime;
    directories keep their mtimes; nothing else of SRC's is there."""
    top = os.fsencode(mnt) + PREFIX
    bad = []
    for rel, (data, mode, mtime) in want.items():
        p = top + rel
        st = os.lstat(p)
        with open(p, "rb") as f:
            got = f.read()
        if got != data or stat.S_IMODE(st.st_mode) != mode or st.st_mtime_ns != mtime:
            bad.append((rel, len(got), len(data), oct(st.st_mode), oct(mode),
                        st.st_mtime_ns, mtime))
    assert not bad, "%d files differ, e.g. %r" % (len(bad), bad[:3])
    for dirpath, dirnames, filenames in os.walk(src):
        rel = dirpath[len(src):]
        if rel.startswith(b"/wpcf7_uploads"):   # a local path: not in the store at all
            assert not os.path.lexists(top + rel)
            continue
        assert os.stat(top + rel).st_mtime_ns == os.stat(dirpath).st_mtime_ns, rel


def test_import_odd_names_interrupted_and_resumed(workdir, redis, mount, procs):
    src = os.fsencode(os.path.join(workdir, "uploads"))
    want, refused = make_tree(src, 10_000, big=(9 << 20, (1 << 20) + 1))
    argv = [PRESSFS, "import", src, "--store", redis.url, "--site", "ops", "--policy", POLICY,
            "--prefix", PREFIX, "--jobs", "2"]

    # First run, stopped with SIGINT once a good part of the files is in Redis.
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    procs(p)
    deadline = time.time() + 120
    while p.poll() is None and redis.command("DBSIZE") < 6000 and time.time() < deadline:
        time.sleep(0.005)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    first = summary(out)
    assert p.returncode == 130, (out, err)
    assert b"interrupted:" in out
    assert 0 < first["imported"] < len(want), out
    assert first["failed"] == 0, (out, err)

    # Resumed: what the first run finished is kept, the rest is imported, all is verified.
    r = pressfs(*argv[1:])
    second = summary(r.stdout)
    assert second["already there"] == first["imported"], r.stdout
    assert second["imported"] + second["already there"] == len(want), r.stdout
    assert second["failed"] == 0 and second["verified"] == len(want), r.stdout
    assert second["skipped by policy"] == len(refused), r.stdout
    text = r.stdout.decode()
    assert "deny   line" in text and "/wp-content/uploads/**/*.php" in text, text
    assert "local  line" in text and "wpcf7_uploads" in text, text

    # A third run finds everything there and changes nothing.
    third = summary(pressfs(*argv[1:]).stdout)
    assert third["imported"] == 0 and third["already there"] == len(want)

    m = mount(redis.url, "a")
    read_back(m.mnt, want, src)
    top = os.fsencode(m.mnt) + PREFIX
    for rel in refused:
        assert not os.path.lexists(top + rel), rel


def test_import_verify_catches_a_changed_file_resume_trusts(workdir, redis):
    """Resuming trusts size, mode, owner and mtime; the hash check at the end does not: a
    file rewritten with the same size and mtime after its import is reported, not hidden."""
    src = os.fsencode(os.path.join(workdir, "uploads"))
    want, _ = make_tree(src, 50, skipped=False)
    args = ["import", src, "--store", redis.url, "--site", "ops", "--policy", POLICY]
    assert summary(pressfs(*args).stdout)["imported"] == 50
    rel = next(r for r, (d, _, _) in want.items() if len(d) > 10)
    data, mode, mtime = want[rel]
    with open(src + rel, "r+b") as f:
        f.write(bytes([data[0] ^ 0xFF]))
    os.utime(src + rel, ns=(mtime, mtime))
    r = pressfs(*args, check=False)
    assert r.returncode == 1, r.stdout
    s = summary(r.stdout)
    assert s["failed"] == 1 and s["verified"] == 49, r.stdout
    assert b"differs from the source" in r.stderr


def test_import_symlinks_and_cache_paths(workdir, redis, mount):
    """Symlinks keep their targets; a path the policy gives the cache class is skipped with
    its rule unless --cache=shared; bad arguments are refused before anything is written."""
    src = os.path.join(workdir, "wp-content")
    os.makedirs(os.path.join(src, "uploads", "2024"))
    os.makedirs(os.path.join(src, "cache", "supercache"))
    with open(os.path.join(src, "uploads", "2024", "a.jpg"), "wb") as f:
        f.write(b"jpeg")
    os.symlink("a.jpg", os.path.join(src, "uploads", "2024", "latest"))
    with open(os.path.join(src, "cache", "supercache", "index.html"), "wb") as f:
        f.write(b"<html>")
    base = ["import", src, "--store", redis.url, "--site", "ops", "--policy", POLICY,
            "--prefix", "/wp-content"]
    bad = pressfs("import", src, "--store", redis.url, check=False)
    assert bad.returncode == 2 and redis.command("DBSIZE") == 0
    r = pressfs(*base)
    s = summary(r.stdout)
    assert s["imported"] == 2 and s["skipped by policy"] == 1, r.stdout
    assert b"cache  line" in r.stdout and b"--cache=shared imports it" in r.stdout
    s = summary(pressfs(*base, "--cache=shared").stdout)
    assert s["imported"] == 1 and s["already there"] == 2, s
    m = mount(redis.url, "a")
    with open(os.path.join(m.mnt, "wp-content/cache/supercache/index.html"), "rb") as f:
        assert f.read() == b"<html>"
    assert os.readlink(os.path.join(m.mnt, "wp-content/uploads/2024/latest")) == "a.jpg"
    with open(os.path.join(m.mnt, "wp-content/uploads/2024/latest"), "rb") as f:
        assert f.read() == b"jpeg"
