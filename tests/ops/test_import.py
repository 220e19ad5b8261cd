# test_import.py - `pressfs import` against a real redis-server, read back through a real mount.

import os
import re
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


def script_calls(redis):
    """EVAL and EVALSHA calls Redis has run since its statistics were last reset."""
    info = redis.command("INFO", "commandstats")
    info = info.decode() if isinstance(info, bytes) else info
    return sum(int(m) for m in re.findall(r"^cmdstat_eval(?:sha)?:calls=(\d+)", info, re.M))


def test_import_batches_script_calls(workdir, redis):
    """Files of one directory are published many at a time: Redis runs far fewer script calls
    than there are files (one publish and one setattr each would be two per file)."""
    src = os.fsencode(os.path.join(workdir, "uploads"))
    want, _ = make_tree(src, 2000, skipped=False)
    redis.command("CONFIG", "RESETSTAT")
    r = pressfs("import", src, "--store", redis.url, "--site", "ops", "--policy", POLICY,
                "--no-verify")
    assert summary(r.stdout)["imported"] == len(want), r.stdout
    calls = script_calls(redis)
    # the directories (copy-up and mtime: a few per directory) and one call per batch
    assert calls < len(want) / 10, (calls, len(want))


def test_import_refuses_code_names_where_no_rule_grants_code(workdir, redis, mount):
    """Wall 1, as on a mount: a name PHP or the web server would run or honour is not
    imported under a rule that grants no code, whatever the rule's class; the summary
    names the rule.  The one .htaccess in uploads a rule grants is imported."""
    src = os.path.join(workdir, "uploads")
    planted = ["2024/shell.php.jpg", "2024/.htaccess", "2024/x.PHTML.", "a/.user.ini",
               "b/y.phar"]
    fine = ["2024/photo.jpg", "woocommerce_uploads/.htaccess", "a/php.png"]
    for rel in planted + fine:
        os.makedirs(os.path.dirname(os.path.join(src, rel)), exist_ok=True)
        with open(os.path.join(src, rel), "wb") as f:
            f.write(b"<?php system($_GET['c']); ?>")
    r = pressfs("import", src, "--store", redis.url, "--site", "ops", "--policy", POLICY)
    s = summary(r.stdout)
    assert s["imported"] == len(fine) and s["failed"] == 0, r.stdout
    assert s["skipped by policy"] == len(planted), r.stdout
    assert b"code names: the rule grants no code" in r.stdout, r.stdout
    m = mount(redis.url, "a")
    top = os.path.join(m.mnt, "wp-content/uploads")
    for rel in fine:
        assert os.path.exists(os.path.join(top, rel)), rel
    for rel in planted:
        assert not os.path.lexists(os.path.join(top, rel)), rel
    # nor in the store, where a mount that did not judge it would find it
    for rel in planted:
        d, name = os.path.split("/wp-content/uploads/" + rel)
        assert name.encode() not in store_names(redis, d), rel


def store_names(redis, path, site="ops"):
    """The names the store holds in directory PATH of SITE (following d: entries from 1)."""
    ino = b"1"
    for part in path.strip("/").split("/"):
        v = redis.command("HGET", "pressfs:{%s}:d:%s" % (site, ino.decode()), part)
        assert v and v[:1] == b"d", (path, part, v)
        ino = v[1:]
    return set(redis.command("HKEYS", "pressfs:{%s}:d:%s" % (site, ino.decode())))


def test_import_seen_by_a_peer_mounted_meanwhile(workdir, redis, mount):
    """A mount that is up during an import sees what it publishes at once, though it holds
    the files it read before as answers it trusts until told otherwise: each file the import
    replaces or adds is announced on the site's channel, numbered in sequence."""
    src = os.fsencode(os.path.join(workdir, "uploads"))
    want, _ = make_tree(src, 600, skipped=False)
    pressfs("import", src, "--store", redis.url, "--site", "ops", "--policy", POLICY)
    m = mount(redis.url, "a")
    top = os.fsencode(m.mnt) + PREFIX
    sample = list(want)[::37]
    for rel in sample:                   # the peer now holds these names and attributes
        with open(top + rel, "rb") as f:
            assert f.read() == want[rel][0], rel
    for i, rel in enumerate(sample):     # rewritten at the source, and one new file each
        data = b"second version %d " % i * (i + 1)
        with open(src + rel, "wb") as f:
            f.write(data)
        want[rel] = (data, want[rel][1], want[rel][2] + 1)
        os.chmod(src + rel, want[rel][1])
        os.utime(src + rel, ns=(want[rel][2], want[rel][2]))
        new = os.path.dirname(rel) + b"/new-%d.jpg" % i
        with open(src + new, "wb") as f:
            f.write(data)
        want[new] = (data, 0o644, os.stat(src + new).st_mtime_ns)
    os.listdir(top + os.path.dirname(sample[0]))
    r = pressfs("import", src, "--store", redis.url, "--site", "ops", "--policy", POLICY)
    assert summary(r.stdout)["imported"] == 2 * len(sample), r.stdout
    changed = [rel for rel in want if rel in sample or b"/new-" in rel]

    def stale():
        bad = []
        for rel in changed:
            try:
                with open(top + rel, "rb") as f:
                    if f.read() != want[rel][0]:
                        bad.append(rel)
            except FileNotFoundError:
                bad.append(rel)
        return bad

    deadline = time.time() + 10
    while stale() and time.time() < deadline:
        time.sleep(0.1)
    bad = stale()
    assert not bad, "the peer still shows %d files as they were, e.g. %r" % (len(bad), bad[:3])
    listed = set(os.listdir(top + os.path.dirname(sample[0])))
    assert b"new-0.jpg" in listed
    log = open(m.log, errors="replace").read()
    assert "messages were missed" not in log, log[-2000:]


def documented_acl(user, site, password):
    """The ACL rule docs/FORMAT.md gives a site's user, for USER of SITE."""
    doc = open(os.path.join(harness.ROOT, "docs", "FORMAT.md")).read()
    m = re.search(r"^ +(ACL SETUSER site-a .*?[^\\])$", doc, re.M | re.S)
    words = m.group(1).replace("\\\n", " ").split()
    return [w.replace("site-a", user).replace("{a}", "{%s}" % site).replace("PASSWORD", password)
            for w in words]


def test_import_as_the_documented_acl_user(workdir, redis):
    """The import's scripts use only the commands a site's ACL user is granted."""
    acl = documented_acl("site-ops", "ops", "pw0")
    assert redis.command(*acl[:]) in (b"OK", "OK")
    src = os.fsencode(os.path.join(workdir, "uploads"))
    want, _ = make_tree(src, 300, big=((1 << 20) * 9 + 5,), skipped=False)
    url = "redis://site-ops:pw0@127.0.0.1:%d" % redis.port
    r = pressfs("import", src, "--store", url, "--site", "ops", "--policy", POLICY)
    s = summary(r.stdout)
    assert s["imported"] == len(want) and s["verified"] == len(want), (r.stdout, r.stderr)
    assert s["failed"] == 0
