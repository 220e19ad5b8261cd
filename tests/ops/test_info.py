# test_info.py - `pressfs info` names the peers that have a site mounted, from the registry each
# mount keeps of itself (`P peers`): two mounts are listed with version and uptime, a clean
# unmount takes its record away, and a daemon killed with -9 is shown stale, seen ever longer ago.

import json
import time

from conftest import pressfs
import harness


def info(redis, *extra):
    return pressfs("info", "--store", redis.url, "--site", "ops", *extra, timeout=60)


def peers(redis):
    """{name: record} from `pressfs info --json`."""
    return {p["name"]: p for p in json.loads(info(redis, "--json").stdout)["peers"]}


def version():
    out = pressfs("--version").stdout.decode().split()
    assert out[0] == "pressfs" and len(out) == 2, out
    return out[1]


def test_two_mounts_are_listed_by_name_with_version_and_uptime(redis, mount):
    a = mount(redis.url, "alpha")
    b = mount(redis.url, "beta")
    got = harness.wait_for(lambda: (lambda p: p if {"alpha", "beta"} <= set(p) else None)(
        peers(redis)), 60, interval=0.2, what="both peers in the registry")
    assert set(got) == {"alpha", "beta"}, got
    for name, m in (("alpha", a), ("beta", b)):
        p = got[name]
        assert p["version"] == version(), p
        assert p["pid"] in m.all_pids(), (p, m.all_pids())
        assert not p["stale"] and not p["bad_record"], p
        assert 0 <= p["last_seen_s"] <= 30 and p["uptime_s"] >= 0, p
    # uptime counts from the mount's start: it grows while the peer lives
    first = got["alpha"]["uptime_s"]
    harness.wait_for(lambda: peers(redis)["alpha"]["uptime_s"] >= first + 2, 60, interval=0.5,
                     what="alpha's uptime to grow")
    out = info(redis).stdout.decode()
    assert "peers registered:  2\n" in out, out
    for name in ("alpha", "beta"):
        line = [l for l in out.splitlines() if l.startswith("  %s  " % name)]
        assert line and "version %s" % version() in line[0] and ", up " in line[0], out
        assert "last seen" in line[0] and "stale" not in line[0], out


def test_a_clean_unmount_removes_its_record(redis, mount):
    a = mount(redis.url, "alpha")
    mount(redis.url, "beta")
    harness.wait_for(lambda: {"alpha", "beta"} <= set(peers(redis)), 60, interval=0.2,
                     what="both peers in the registry")
    r = a.unmount()
    assert r.returncode == 0, r.stderr
    harness.wait_for(lambda: not a.all_pids(), 30, what="alpha's daemon to exit")
    got = peers(redis)
    assert set(got) == {"beta"}, got
    out = info(redis).stdout.decode()
    assert "  alpha  " not in out and "  beta  " in out, out


def test_a_killed_daemon_shows_stale_seen_ever_longer_ago(redis, mount):
    a = mount(redis.url, "alpha")
    mount(redis.url, "beta")
    harness.wait_for(lambda: {"alpha", "beta"} <= set(peers(redis)), 60, interval=0.2,
                     what="both peers in the registry")
    a.kill9()
    a.stop()  # the dead mount point goes; the record stays, nobody removes it
    bound = json.loads(info(redis, "--json").stdout)["stale_after_s"]
    got = harness.wait_for(lambda: (lambda p: p if p["alpha"]["stale"] else None)(peers(redis)),
                           bound + 60, interval=1, what="alpha to be stale")
    assert got["alpha"]["last_seen_s"] > bound, got
    assert not got["beta"]["stale"], got  # the live peer kept refreshing all along
    seen = got["alpha"]["last_seen_s"]
    time.sleep(2.5)
    later = peers(redis)
    assert later["alpha"]["stale"] and later["alpha"]["last_seen_s"] >= seen + 2, later
    out = info(redis).stdout.decode()
    line = [l for l in out.splitlines() if l.startswith("  alpha  ")]
    assert line and line[0].endswith(", stale"), out
    assert "peers registered:  2 (1 stale: not seen for over %d s)" % bound in out, out


def test_a_mount_forgets_records_dead_for_a_day(redis, mount):
    now = int(time.time() * 1000)
    day = 24 * 3600 * 1000
    old = "start=%d seen=%d pid=1 host=gone version=0" % (now - 3 * day, now - day - 60000)
    recent = "start=%d seen=%d pid=2 host=gone version=0" % (now - day, now - 3600000)
    redis.command("HSET", "pressfs:{ops}:peers", "dead-long-ago", old, "dead-an-hour-ago", recent,
                  "bad\x1b[31m", "not a record")
    mount(redis.url, "alpha")
    got = harness.wait_for(lambda: (lambda p: p if "alpha" in p else None)(peers(redis)), 60,
                           interval=0.2, what="alpha in the registry")
    harness.wait_for(lambda: "dead-long-ago" not in peers(redis), 30, interval=0.2,
                     what="the day-old record to be forgotten")
    got = peers(redis)
    assert got["dead-an-hour-ago"]["stale"] and got["dead-an-hour-ago"]["last_seen_s"] >= 3600, got
    # a record pressfs did not write is shown, stale, its name made printable, never removed
    assert got["bad\\x1b[31m"]["bad_record"] and got["bad\\x1b[31m"]["stale"], got
    out = info(redis).stdout.decode()
    assert "\x1b" not in out and "  bad\\x1b[31m  (a record pressfs did not write), stale" in out, out


def test_the_site_acl_user_sees_the_registry(redis, mount):
    """The per-site ACL of docs/FORMAT.md grants no PUBSUB, so the listener count is unknown to
    it; the registry needs only HSET, HDEL and HGETALL, which it grants."""
    rule = ("on >pw resetkeys ~pressfs:{ops}:* resetchannels &pressfs:{ops}:* -@all +ping "
            "+select +info +script|load +eval +evalsha +get +set +incr +incrby +exists +del "
            "+getrange +strlen +append +persist +pexpire +pttl +hget +hset +hdel +hgetall "
            "+hincrby +publish +subscribe").split()
    assert redis.command("ACL", "SETUSER", "site-ops", *rule) in (b"OK", "OK")
    url = "redis://site-ops:pw@127.0.0.1:%d" % redis.port
    mount(url, "alpha")
    got = harness.wait_for(
        lambda: (lambda d: d if [p["name"] for p in d["peers"]] == ["alpha"] else None)(
            json.loads(pressfs("info", "--store", url, "--site", "ops", "--json").stdout)),
        60, interval=0.2, what="alpha in the registry")
    assert got["listeners"] is None and not got["peers"][0]["stale"], got


def test_every_command_refuses_a_bad_timeout_or_option_and_changes_nothing(redis, workdir):
    """The admin commands share one command line: a --timeout that is no number of
    milliseconds, an unknown option or a missing operand is a usage error (exit 2) before any
    store is touched; `info` once took `--timeout abc` as 0 and went on."""
    before = redis.command("DBSIZE")
    for argv in (("info", "--store", redis.url, "--timeout", "abc"),
                 ("info", "--store", redis.url, "extra-operand"),
                 ("dump", "--store", redis.url, "--timeout", "0", workdir + "/d.tar"),
                 ("export", "--store", redis.url, "--force", workdir + "/out"),
                 ("load", "--store", redis.url),
                 ("fsck", "--store", redis.url, "--bogus"),
                 ("import", workdir, "--store", redis.url, "--jobs", "0",
                  "--policy", harness.POLICY),
                 ("import", workdir, "--store", redis.url)):
        r = pressfs(*argv, timeout=60, check=False)
        assert r.returncode == 2, (argv, r.returncode, r.stderr)
        assert r.stderr.strip(), (argv, "no reason given")
    assert redis.command("DBSIZE") == before
    for cmd in ("info", "dump", "export", "load", "fsck", "import"):
        r = pressfs(cmd, "--help", timeout=60)
        assert r.returncode == 0 and b"usage: pressfs " + cmd.encode() in r.stdout, (cmd, r)
