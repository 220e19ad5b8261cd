# test_secrets.py - only pressfs reaches the store: the Redis password is nowhere another user
# of the machine, or of an allow_other mount, could read it, and the mount refuses options that
# would let it serve set-id programs or devices.  Each test reads what an attacker would read.

import os
import stat
import subprocess

import pytest

import harness
from harness import MountError, Redis, read_bytes, run_pressfs, write_bytes

UP = "wp-content/uploads"
PASSWORD = "s3cret-Redis-pw-5f1e"


@pytest.fixture
def password_redis(workdir):
    r = Redis(os.path.join(workdir, "redis-auth"), password=PASSWORD)
    r.start()
    yield r
    r.stop()


def _cmdlines(m):
    out = []
    for pid in m.all_pids():
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            out.append(f.read())
    assert out, "no daemon found for " + m.mnt
    return out


def _everything_readable(m):
    """What any local user can read of the mount: the daemons' argv, the log, `pressfs
    status` (text and JSON) and the root's status xattr."""
    seen = {"cmdline": b"\n".join(_cmdlines(m))}
    with open(m.log, "rb") as f:
        seen["log"] = f.read()
    for args in (["status", m.mnt], ["status", "--json", m.mnt]):
        r = run_pressfs(*args)
        assert r.returncode == 0, r.stderr
        seen[" ".join(args[:-1])] = r.stdout + r.stderr
    seen["xattr"] = os.getxattr(m.mnt, "user.pressfs.status")
    return seen


def _assert_no_password(seen):
    leaks = [where for where, text in seen.items() if PASSWORD.encode() in text]
    assert not leaks, "the Redis password can be read in: %s" % ", ".join(leaks)


def test_password_in_url_is_scrubbed(mount, password_redis):
    r = password_redis
    a = mount("a", store="redis://default:%s@127.0.0.1:%d" % (PASSWORD, r.port))
    write_bytes(a / UP + "/auth.txt", b"stored with AUTH\n")
    assert r.keys("*"), "nothing reached the store"
    seen = _everything_readable(a)
    _assert_no_password(seen)
    shown = "redis://default:***@127.0.0.1:%d" % r.port
    assert shown.encode() in seen["status --json"], seen["status --json"]
    with open(a.log, "rb") as f:
        assert b"the store URL carried a password" in f.read(), "no warning in the log"


def test_password_file(mount, password_redis, workdir):
    r = password_redis
    pw = os.path.join(workdir, "redis.pw")
    with open(pw, "w") as f:
        f.write(PASSWORD + "\n")
    os.chmod(pw, 0o600)
    a = mount("a", store="redis://127.0.0.1:%d" % r.port, extra=["password_file=" + pw])
    write_bytes(a / UP + "/pwfile.txt", b"x\n")
    assert read_bytes(a / UP + "/pwfile.txt") == b"x\n"
    assert r.keys("*")
    _assert_no_password(_everything_readable(a))
    if a.mount_result:
        assert b"readable by every user" not in a.mount_result.stderr


def test_password_file_readable_by_others_is_said(mount, password_redis, workdir):
    r = password_redis
    pw = os.path.join(workdir, "redis.pw")
    with open(pw, "w") as f:
        f.write(PASSWORD)
    os.chmod(pw, 0o644)
    a = mount("a", store="redis://127.0.0.1:%d" % r.port, extra=["password_file=" + pw])
    if a.mount_result:
        assert b"readable by every user" in a.mount_result.stderr, a.mount_result.stderr


def test_password_from_environment(mount, password_redis, monkeypatch):
    r = password_redis
    monkeypatch.setenv("PRESSFS_STORE_PASSWORD", PASSWORD)
    a = mount("a", store="redis://127.0.0.1:%d" % r.port)
    write_bytes(a / UP + "/env.txt", b"y\n")
    assert r.keys("*")
    _assert_no_password(_everything_readable(a))


def test_wrong_password_is_refused_without_echo(mount, password_redis, workdir):
    r = password_redis
    pw = os.path.join(workdir, "wrong.pw")
    with open(pw, "w") as f:
        f.write("not-" + PASSWORD)
    os.chmod(pw, 0o600)
    m = mount("a", store="redis://127.0.0.1:%d" % r.port, start=False,
              extra=["password_file=" + pw])
    with pytest.raises(MountError) as e:
        m.start()
    assert "not-" + PASSWORD not in str(e.value)


@pytest.mark.parametrize("opt", ["suid", "dev"])
def test_suid_and_dev_are_refused(mount, opt):
    m = mount("a", start=False, extra=[opt])
    with pytest.raises(MountError) as e:
        m.start()
    assert "-o %s is refused" % opt in str(e.value)
    assert not harness.is_mounted(m.mnt)


def test_mount_is_nosuid_nodev(mount):
    a = mount("a")
    flags = os.statvfs(a.mnt).f_flag
    assert flags & os.ST_NOSUID, "the mount honours set-id bits"
    assert flags & os.ST_NODEV, "the mount honours device nodes"
