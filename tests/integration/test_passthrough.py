# test_passthrough.py - FUSE passthrough: where the kernel has it (Linux >= 6.9), the image's
# files are read by the kernel from the lower file itself, with no READ reaching the daemon; where
# it does not, or where the kernel refuses a backing file, they are served as before.

import mmap
import os
import platform
import subprocess

import pytest

from harness import read_bytes

BIG = "wp-includes/js/big.js"  # no rule can make it writable: a static file
SIZE = 8 << 20


def kernel_version():
    return tuple(int(x) for x in platform.release().split("-")[0].split(".")[:2])


needs_passthrough = pytest.mark.skipif(
    kernel_version() < (6, 9), reason="FUSE passthrough needs Linux >= 6.9 (this is %s)"
    % platform.release())


def put_big(lower_dir):
    data = os.urandom(SIZE)
    p = os.path.join(lower_dir, BIG)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)
    return data


def reads(m):
    return m.status_json()["requests"]["read"]


def read_every_way(path):
    """The file's bytes through read(2), twice at once (one backing file for both), and mmap."""
    with open(path, "rb") as f1, open(path, "rb") as f2:
        a, b = f1.read(), f2.read()
        with mmap.mmap(f1.fileno(), 0, prot=mmap.PROT_READ) as mm:
            c = mm[:]
    assert a == b == c
    return a


@needs_passthrough
def test_a_static_lower_file_is_read_by_the_kernel_with_no_daemon_read(mount, lower):
    data = put_big(lower)
    m = mount("a")
    st = m.status_json()
    assert st["passthrough"] is True, "the kernel offers passthrough but the mount did not take it"
    before = reads(m)
    assert read_every_way(m / BIG) == data
    assert reads(m) == before, "READ requests reached the daemon for a passthrough file"
    assert m.status_json()["events"]["passthrough_opens"] >= 2


def test_passthrough_off_serves_reads_through_the_daemon(mount, lower):
    data = put_big(lower)
    m = mount("a", extra=["passthrough=off"])
    assert m.status_json()["passthrough"] is False
    before = reads(m)
    assert read_every_way(m / BIG) == data
    assert reads(m) > before
    assert m.status_json()["events"]["passthrough_opens"] == 0


def test_a_bad_passthrough_value_is_refused(mount):
    m = mount("a", start=False, extra=["passthrough=maybe"])
    with pytest.raises(Exception) as e:
        m.start()
    assert "passthrough=maybe" in str(e.value)


class Overlay:
    """A kernel overlayfs mount (stacked one deeper than the file system under it)."""

    def __init__(self, top, lower_dir):
        self.mnt = os.path.join(top, "merged")
        for d in ("upper", "work", "merged"):
            os.makedirs(os.path.join(top, d), exist_ok=True)
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        "lowerdir=%s,upperdir=%s,workdir=%s" % (
                            lower_dir, os.path.join(top, "upper"), os.path.join(top, "work")),
                        self.mnt], check=True, capture_output=True)

    def umount(self):
        subprocess.run(["umount", self.mnt], capture_output=True)


@needs_passthrough
def test_an_image_on_overlayfs_is_passed_through_and_one_stacked_deeper_falls_back(
        mount, lower, workdir):
    """A container's image is on overlayfs (depth 1): passthrough works.  One stacked twice
    (depth 2, the kernel's limit) cannot back a FUSE file: the kernel refuses the backing file
    (ELOOP) and the mount serves the file itself, the same bytes."""
    data = put_big(lower)
    once = Overlay(os.path.join(workdir, "ovl1"), lower)
    twice = None
    try:
        twice = Overlay(os.path.join(workdir, "ovl2"), once.mnt)
        m1 = mount("a", lower_dir=once.mnt)
        before = reads(m1)
        assert read_every_way(m1 / BIG) == data
        assert reads(m1) == before
        m2 = mount("b", lower_dir=twice.mnt)
        assert m2.status_json()["passthrough"] is True
        before = reads(m2)
        assert read_every_way(m2 / BIG) == data
        assert reads(m2) > before, "a file the kernel refused to pass through was not served"
        assert m2.status_json()["events"]["passthrough_opens"] == 0
        with open(m2.log, "rb") as f:
            assert b"passthrough: the kernel refused a backing file" in f.read()
        m1.stop()
        m2.stop()
    finally:
        if twice:
            twice.umount()
        once.umount()
