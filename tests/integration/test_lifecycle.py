# test_lifecycle.py - `pressfs mount` and unmount as an operator scripts them: ready when the
# command returns, gone without a trace after fusermount3 -u, data still there on the next mount,
# and `pressfs status` counting what the kernel asked.

import os
import re
import subprocess

import pytest

import harness
from harness import is_mounted, read_bytes, run_pressfs, wait_for, write_bytes

UP = "wp-content/uploads"
OPS = ("lookup", "getattr", "open", "read", "write", "flush", "release", "readdir")


def test_mount_is_usable_when_the_command_returns(mount, lower):
    m = mount("a", start=False)
    assert not harness.FOREGROUND, "this test checks the daemonizing mode"
    os.makedirs(m.mnt)
    # pipes, as in `out=$(pressfs mount ...)`: the daemon must not keep them open
    harness.LIVE.add("mounts", m)
    try:
        r = subprocess.run(m.argv(), stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("pressfs mount did not return, or its daemon kept the caller's stdout/stderr "
                    "open (mounted: %s)" % is_mounted(m.mnt))
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    # no waiting: the very next call must see the merged tree
    assert sorted(os.listdir(m.mnt)) == sorted(os.listdir(lower))
    assert read_bytes(m / "index.php") == harness.SYNTHETIC["index.php"][0]
    m._collect_pids()
    assert m.pid, "no daemon process found for the mount"
    assert m.pid != os.getpid()


def test_unmount_leaves_no_process_and_no_stale_mount_point(mount):
    m = mount("a")
    pids = m.all_pids()
    assert pids, "no daemon process found for the mount"
    assert read_bytes(m / UP + "/2020/01/notes.txt")
    os.listdir(m / UP)
    r = m.unmount()
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    wait_for(lambda: not any(harness.pid_alive(p) for p in pids), 10,
             what="the daemon to exit after fusermount3 -u")
    assert not is_mounted(m.mnt)
    assert os.listdir(m.mnt) == [], "the bare mount point is not empty or not reachable"
    assert os.stat(m.mnt).st_dev != m.dev
    assert harness.daemon_pids(m.mnt) == []


@pytest.mark.parametrize("flag", ["-f", "-d"])
def test_foreground_mode_exits_cleanly_after_unmount(mount, procs, workdir, flag):
    m = mount("a", start=False)
    os.makedirs(m.mnt)
    argv = m.argv()
    argv.insert(2, flag)
    out = open(os.path.join(workdir, "foreground.out"), "w+b")
    p = procs(subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out))
    harness.LIVE.add("mounts", m)
    m.pids = [p.pid]
    wait_for(lambda: is_mounted(m.mnt) or p.poll() is not None, 20, what="the %s mount" % flag)
    out.seek(0)
    assert p.poll() is None, "pressfs mount %s exited: %s" % (flag, out.read().decode(errors="replace"))
    assert read_bytes(m / "index.php") == harness.SYNTHETIC["index.php"][0]
    r = m.unmount()
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert p.wait(timeout=10) == 0, "the daemon's exit status after fusermount3 -u"
    assert not is_mounted(m.mnt)
    out.close()


def test_data_survives_unmount_and_mount(mount):
    m = mount("a")
    write_bytes(m / UP + "/kept.txt", b"kept across mounts\n")
    os.unlink(m / UP + "/2020/01/photo.jpg")
    m.stop()
    m2 = mount("a")
    assert read_bytes(m2 / UP + "/kept.txt") == b"kept across mounts\n"
    assert not os.path.exists(m2 / UP + "/2020/01/photo.jpg")


@pytest.mark.parametrize("drop", ["lower", "policy"])
def test_mount_without_required_option_fails(redis, lower, workdir, policy, drop):
    mnt = os.path.join(workdir, "mnt")
    os.mkdir(mnt)
    opts = {"lower": lower, "policy": policy}
    del opts[drop]
    argv = [harness.PRESSFS, "mount", "-o", ",".join("%s=%s" % kv for kv in opts.items()),
            redis.url, mnt]
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        assert r.returncode != 0
        assert drop in r.stderr.decode(errors="replace")
        assert not is_mounted(mnt)
    finally:
        if is_mounted(mnt):
            subprocess.run([harness.FUSERMOUNT, "-uz", mnt], capture_output=True)
        for p in harness.daemon_pids(mnt):
            harness.kill_pid(p)


def _total(st):
    return sum(v for v in st["requests"].values() if isinstance(v, int))


def test_status_json_counters_increase(mount):
    m = mount("a")
    s1 = m.status_json()
    assert isinstance(s1.get("requests"), dict), s1
    missing = [op for op in OPS if not isinstance(s1["requests"].get(op), int)]
    assert missing == [], "status --json lacks counters %s: %s" % (missing, s1["requests"])
    assert any(k != "requests" and ("store" in k or "redis" in k) for k in s1), \
        "no store state in %s" % sorted(s1)
    for i in range(5):
        assert not os.path.exists(m / UP + "/never-seen-%d" % i)
    write_bytes(m / UP + "/counted.txt", b"c" * 5000)
    assert read_bytes(m / UP + "/counted.txt") == b"c" * 5000
    os.listdir(m / UP)
    s2 = m.status_json()
    assert s2["requests"]["lookup"] >= s1["requests"]["lookup"] + 5
    assert s2["requests"]["write"] > s1["requests"]["write"]
    assert _total(s2) > _total(s1)


def test_status_text_and_errors(mount, workdir):
    m = mount("a")
    r = run_pressfs("status", m.mnt)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    out = r.stdout.decode()
    for op in OPS:      # each counter with its value, e.g. "lookup  12" or "lookup: 12"
        assert re.search(r"^\s*%s\b\W*\d+\s*$" % op, out, re.M), "no count for %s in:\n%s" % (op, out)
    plain = os.path.join(workdir, "not-a-mount")
    os.mkdir(plain)
    r = run_pressfs("status", plain)
    assert r.returncode != 0
    assert r.stderr.strip(), "no reason given for a directory that is not a pressfs mount"
