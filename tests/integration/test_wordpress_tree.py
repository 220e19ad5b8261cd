# test_wordpress_tree.py - Debian's real WordPress as the lower tree: every file reads back
# exactly, code stays read-only, and the uploads directory WordPress makes on first upload works.

import errno
import os
import stat

import pytest

from harness import oserror_errno, read_bytes, sha256_file, write_bytes


def _walk(top):
    out = {}
    for dp, dns, fns in os.walk(top):
        for n in dns + fns:
            p = os.path.join(dp, n)
            st = os.lstat(p)
            rel = os.path.relpath(p, top)
            # read-only paths may show their write bits cleared; nothing else may differ
            mode = stat.S_IMODE(st.st_mode) & ~0o222
            if stat.S_ISREG(st.st_mode):
                out[rel] = ("f", st.st_size, mode, sha256_file(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("d", mode)
            else:
                out[rel] = ("other", os.readlink(p) if stat.S_ISLNK(st.st_mode) else "")
    return out


@pytest.mark.limit(180)
def test_every_wordpress_file_reads_back_exactly(mount, wordpress_lower):
    m = mount("a", lower_dir=wordpress_lower)
    want = _walk(wordpress_lower)
    got = _walk(m.mnt)
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    differ = sorted(k for k in set(want) & set(got) if want[k] != got[k])
    assert (missing, extra, differ[:10]) == ([], [], []), \
        "missing %s, extra %s, %d differ" % (missing[:10], extra[:10], len(differ))


def test_wordpress_code_is_read_only_and_uploads_is_made(mount, wordpress_lower):
    a = mount("a", lower_dir=wordpress_lower)
    b = mount("b", lower_dir=wordpress_lower)
    for rel in ("wp-content/plugins/akismet/akismet.php", "wp-includes/version.php",
                "wp-content/themes/twentytwentythree/style.css", "wp-config.php",
                "wp-admin/index.php", "index.php"):
        assert oserror_errno(open, a / rel, "r+b") == errno.EROFS, rel
    assert oserror_errno(open, a / "wp-content/plugins/hello.php", "wb") == errno.EROFS
    assert oserror_errno(os.mkdir, a / "wp-content/upgrade") == errno.EROFS
    # WordPress makes wp-content/uploads on the first upload (the Debian tree has none)
    assert not os.path.exists(a / "wp-content/uploads")
    os.makedirs(a / "wp-content/uploads/2024/05")
    write_bytes(a / "wp-content/uploads/2024/05/first.jpg", b"\xff\xd8 first upload")
    assert read_bytes(b / "wp-content/uploads/2024/05/first.jpg") == b"\xff\xd8 first upload"
    assert "uploads" in os.listdir(b / "wp-content")
