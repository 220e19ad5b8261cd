# conftest.py - fixtures for the operating tests: throwaway redis-servers, real mounts of
# obj/pressfs to read back what the admin commands wrote, all stopped and unmounted after
# each test (the integration suite's harness does the work).

import os
import re
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402

PRESSFS = harness.PRESSFS
POLICY = harness.POLICY
os.umask(0o022)


@pytest.fixture(scope="session")
def base_dir():
    d = tempfile.mkdtemp(prefix="pressfs-ops-")
    yield d
    harness.cleanup_everything(d)


@pytest.fixture
def workdir(base_dir, request):
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)[:60]
    return tempfile.mkdtemp(prefix=name + "-", dir=base_dir)


@pytest.fixture
def redis_factory(workdir):
    """redis_factory(name) -> a started redis-server of its own; all stopped after the test."""
    made = []

    def make(name="redis"):
        r = harness.Redis(os.path.join(workdir, name))
        r.start()
        made.append(r)
        return r

    yield make
    for r in made:
        r.stop()


@pytest.fixture
def redis(redis_factory):
    return redis_factory("redis")


@pytest.fixture
def lower(workdir):
    return harness.make_synthetic_lower(os.path.join(workdir, "lower"))


@pytest.fixture
def mount(request, workdir, lower):
    """mount(store_url, name, site=...) -> a started Mount of the shipped policy."""
    made = []

    def make(store_url, name="a", site="ops", lower_dir=None, **kw):
        m = harness.Mount(store_url, lower_dir or lower, os.path.join(workdir, "mnt-" + name),
                          policy=POLICY, site=site, node=name, **kw)
        made.append(m)
        m.start()
        return m

    yield make
    for m in reversed(made):
        m.stop()
    for m in made:
        assert not harness.is_mounted(m.mnt), "%s is still mounted after stop" % m.mnt


@pytest.fixture
def procs():
    """Helper processes a test starts: killed by pid after it, whatever happened."""
    started = []
    yield started.append
    for p in started:
        if p.poll() is None:
            p.kill()
        try:
            p.wait(timeout=10)
        except Exception:
            pass


def pressfs(*args, timeout=600, check=True):
    """Run obj/pressfs ARGS; returns the CompletedProcess (bytes out, text err)."""
    r = subprocess.run([PRESSFS] + [a if isinstance(a, bytes) else str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError("pressfs %s: exit %d\n%s\n%s" % (
            " ".join(map(str, args)), r.returncode, r.stdout.decode(errors="replace"),
            r.stderr.decode(errors="replace")))
    return r


def summary(out):
    """The counters of an import/export/dump/load summary: {"imported": 12, ...}."""
    if isinstance(out, bytes):
        out = out.decode(errors="replace")
    counts = {}
    for line in out.splitlines():
        m = re.match(r"^([a-z ]+):\s+(\d+)", line)
        if m:
            counts[m.group(1)] = int(m.group(2))
    return counts
