"""One two-node WordPress (tests/compat/twonode.py) for the whole compat session, stopped and
unmounted whatever happens."""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "env"))
import pressenv  # noqa: E402
import twonode  # noqa: E402

FIXTURES = os.path.join(HERE, "fixtures")


@pytest.fixture(scope="session")
def cluster():
    if os.geteuid() != 0:
        pytest.skip("needs root (mounts, www-data workers)")
    env = pressenv.Env(prefix="pressfs-compat-")
    plugins = sorted(os.path.join(FIXTURES, d) for d in os.listdir(FIXTURES)
                     if os.path.isdir(os.path.join(FIXTURES, d)))
    c = twonode.Cluster(env, plugins=plugins, mode="enforce", nodes=2)
    try:
        c.start()
        yield c
    finally:
        c.stop()
        for n in c.nodes:
            assert not mounts_under(n.mount), "%s still mounted" % n.mount
        left = processes_naming(env.dir)
        assert not left, "still running after the cluster stopped: %s" % left


def processes_naming(text):
    """Processes whose command line names TEXT (the cluster's temp dir)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd:
            found.append((int(pid), cmd[:120]))
    return found


def mounts_under(path):
    with open("/proc/self/mounts") as f:
        return [l for l in f if " %s " % path in l]
