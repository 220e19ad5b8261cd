"""Fixtures of the container tests: podman with the project's storage, and the pressfs image
(built over the cached base; the first run on a machine builds the base, a few minutes)."""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import podenv  # noqa: E402
import podsite  # noqa: E402
import pressenv  # noqa: E402

# Not the demo's names: the tests may run while `make demo` is up.
PREFIX = os.environ.get("PRESSFS_TEST_PREFIX", "pressfs-test-")


@pytest.fixture(scope="session")
def pm():
    if os.geteuid() != 0:
        pytest.fail("the container tests run as root (podman, /dev/fuse)")
    return podenv.Podman()


@pytest.fixture(scope="session")
def image(pm):
    return podenv.build_image(pm)


@pytest.fixture(scope="module")
def site(pm, image):
    env = pressenv.Env(prefix="pressfs-containers-")
    s = podsite.Site(env, pm, image, names=[PREFIX + "node1", PREFIX + "node2"], name="ctest")
    try:
        s.start()
        yield s
    finally:
        env.close()             # removes the containers (adopted), then stops the servers
        pm.rm(*s.names)
