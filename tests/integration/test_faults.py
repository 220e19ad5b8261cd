# test_faults.py - error paths reached by fault injection: the daemon built with -DPRESSFS_FAULTS
# (obj/asan/pressfs, `make asan-integration`) fails an allocation at the point PRESSFS_FAULT
# names.  Other builds have no fault points: these tests are skipped there.

import errno
import os

import pytest

from harness import oserror_errno

UP = "wp-content/uploads"

needs_faults = pytest.mark.skipif(os.environ.get("PRESSFS_FAULTS_BUILD") != "1",
                                  reason="needs a daemon built with fault points "
                                         "(make asan-integration)")


@needs_faults
@pytest.mark.parametrize("point", ["create_of", "create_fh"])
def test_enomem_in_create_leaves_nothing(mount, monkeypatch, point):
    """An allocation failure in create fails the create, and no file appears anywhere."""
    b = mount("b")
    monkeypatch.setenv("PRESSFS_FAULT", point)
    a = mount("a")
    monkeypatch.delenv("PRESSFS_FAULT")
    path = UP + "/enomem.txt"
    assert oserror_errno(lambda: open(a / path, "wb")) == errno.ENOMEM
    for m in (a, b):
        assert not os.path.exists(m / path), "%s sees a file after a failed create" % m.node
        assert "enomem.txt" not in os.listdir(m / UP)
    # b can make it: the name was not taken by anything half-made
    with open(b / path, "wb") as f:
        f.write(b"made on b\n")
    with open(a / path, "rb") as f:
        assert f.read() == b"made on b\n"
