# test_overlay.py - the overlay's own rules as a WordPress operator meets them: copy-up of lower
# files (.htaccess rewritten the way insert_with_markers does it), whiteouts, merged listings.

import errno
import fcntl
import os
import stat

from harness import HTACCESS, SYNTHETIC, oserror_errno, read_bytes, tree_digest, wait_for, write_bytes

UP = "wp-content/uploads"
INVAL = 0.5


def insert_with_markers(path, marker, lines):
    """WordPress's insert_with_markers(): fopen r+, flock LOCK_EX, read, fseek 0, fwrite,
    fflush, ftruncate(ftell), flock LOCK_UN, fclose."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        old = b""
        while True:
            chunk = os.read(fd, 8192)
            if not chunk:
                break
            old += chunk
        begin, end = b"# BEGIN " + marker, b"# END " + marker
        out, inside, done = [], False, False
        for line in old.split(b"\n"):
            if line.startswith(begin):
                inside = True
                out.append(begin)
                out += lines
                done = True
            elif line.startswith(end):
                inside = False
                out.append(end)
            elif not inside:
                out.append(line)
        if not done:
            out += [begin] + lines + [end]
        new = b"\n".join(out)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, new)
        os.ftruncate(fd, os.lseek(fd, 0, os.SEEK_CUR))
        fcntl.flock(fd, fcntl.LOCK_UN)
        return new
    finally:
        os.close(fd)


def test_htaccess_insert_with_markers_is_copied_up_and_shared(nodes, lower):
    a, b = nodes
    before = tree_digest(lower)
    assert os.access(a / ".htaccess", os.W_OK)
    os.utime(a / ".htaccess")          # insert_with_markers touch()es first
    short = [b"RewriteEngine On", b"RewriteRule . /index.php [L]"]
    want = insert_with_markers(a / ".htaccess", b"WordPress", short)
    assert len(want) < len(HTACCESS), "the test must shrink the file to need ftruncate"
    assert b"Header set X-Owner" in want
    assert read_bytes(a / ".htaccess") == want
    assert read_bytes(b / ".htaccess") == want
    assert os.stat(b / ".htaccess").st_size == len(want)
    # B edits it next (a second marker block grows the file); A sees B's result
    want2 = insert_with_markers(b / ".htaccess", b"W3TC Browser Cache",
                                [b"<IfModule mod_mime.c>", b"AddType text/css .css",
                                 b"</IfModule>"] * 20)
    assert len(want2) > len(want)
    assert read_bytes(a / ".htaccess") == want2
    assert tree_digest(lower) == before
    assert read_bytes(os.path.join(lower, ".htaccess")) == HTACCESS


def test_copy_up_keeps_content_and_mode(nodes, lower):
    a, b = nodes
    rel = UP + "/2020/01/notes.txt"
    data, mode = SYNTHETIC[rel]
    assert mode == 0o640
    with open(a / rel, "r+b") as f:     # overwrite the first bytes in place
        f.write(b"HEAD")
    want = b"HEAD" + data[4:]
    for m in (a, b):
        assert read_bytes(m / rel) == want
        st = os.stat(m / rel)
        assert stat.S_IMODE(st.st_mode) == 0o640
        assert st.st_size == len(data)
    assert read_bytes(os.path.join(lower, rel)) == data


def test_append_to_lower_file_copies_it_up(nodes, lower):
    a, b = nodes
    rel = UP + "/2020/02/doc.pdf"
    data = SYNTHETIC[rel][0]
    with open(a / rel, "ab") as f:
        f.write(b"%%EOF appended\n")
    assert read_bytes(b / rel) == data + b"%%EOF appended\n"
    assert read_bytes(os.path.join(lower, rel)) == data


def test_chmod_of_lower_file_in_writable_area(nodes, lower):
    a, b = nodes
    rel = UP + "/2020/01/photo.jpg"
    os.chmod(a / rel, 0o600)
    assert stat.S_IMODE(os.stat(a / rel).st_mode) == 0o600
    wait_for(lambda: stat.S_IMODE(os.stat(b / rel).st_mode) == 0o600, INVAL,
             what="B to see the new mode")
    assert read_bytes(b / rel) == SYNTHETIC[rel][0]
    assert stat.S_IMODE(os.stat(os.path.join(lower, rel)).st_mode) == 0o644


def test_whiteout_hides_lower_file_on_every_node(nodes, lower):
    a, b = nodes
    d = UP + "/2020/01"
    lower_names = sorted(os.listdir(os.path.join(lower, d)))
    os.unlink(a / d + "/photo.jpg")
    for m in (a, b):
        wait_for(lambda: not os.path.exists(m / d + "/photo.jpg"), INVAL,
                 what="photo.jpg to be gone on " + m.node)
        assert oserror_errno(open, m / d + "/photo.jpg", "rb") == errno.ENOENT
        assert sorted(os.listdir(m / d)) == [n for n in lower_names if n != "photo.jpg"]
    assert os.path.exists(os.path.join(lower, d, "photo.jpg"))
    # a new file of the same name replaces the whiteout; it is listed once
    write_bytes(b / d + "/photo.jpg", b"re-uploaded\n")
    for m in (a, b):
        wait_for(lambda: os.path.exists(m / d + "/photo.jpg"), INVAL, what="re-upload")
        assert read_bytes(m / d + "/photo.jpg") == b"re-uploaded\n"
        assert sorted(os.listdir(m / d)) == lower_names


def test_merged_listing_has_no_duplicates(nodes, lower):
    a, b = nodes
    d = UP + "/2020/01"
    lower_names = sorted(os.listdir(os.path.join(lower, d)))
    with open(a / d + "/notes.txt", "ab") as f:        # copy-up: same name in both layers
        f.write(b"more\n")
    write_bytes(a / d + "/new.jpg", b"new\n")          # upper only
    want = sorted(lower_names + ["new.jpg"])
    for m in (a, b):
        wait_for(lambda: sorted(os.listdir(m / d)) == want, INVAL,
                 what="merged listing on " + m.node)
        # readdir in small pieces too (getdents with a tiny buffer is what os.scandir avoids)
        names = [e.name for e in os.scandir(m / d)]
        assert sorted(names) == want and len(names) == len(set(names))
    top = sorted(os.listdir(a / UP))
    assert top == sorted(os.listdir(os.path.join(lower, UP)))


def test_rmdir_of_lower_directory_then_mkdir_is_empty(nodes, lower):
    """A directory removed and made again must not bring the old lower entries back."""
    a, b = nodes
    d = UP + "/2020/02"
    os.unlink(a / d + "/doc.pdf")
    assert oserror_errno(os.rmdir, a / d) == errno.ENOTEMPTY      # sub/ is still there
    os.unlink(a / d + "/sub/deep.txt")
    os.rmdir(a / d + "/sub")
    os.rmdir(a / d)
    for m in (a, b):
        wait_for(lambda: not os.path.exists(m / d), INVAL, what="rmdir seen on " + m.node)
        assert "02" not in os.listdir(m / UP + "/2020")
    os.mkdir(b / d)
    for m in (a, b):
        wait_for(lambda: os.path.isdir(m / d), INVAL, what="mkdir seen on " + m.node)
        assert os.listdir(m / d) == []
    assert os.path.exists(os.path.join(lower, d, "doc.pdf"))


def test_unlink_upper_file_and_rmdir_upper_dir(nodes):
    a, b = nodes
    os.makedirs(a / UP + "/tmp/x")
    write_bytes(a / UP + "/tmp/x/f", b"f")
    assert oserror_errno(os.rmdir, b / UP + "/tmp/x") == errno.ENOTEMPTY
    os.unlink(b / UP + "/tmp/x/f")
    os.rmdir(b / UP + "/tmp/x")
    os.rmdir(b / UP + "/tmp")
    wait_for(lambda: not os.path.exists(a / UP + "/tmp"), INVAL, what="A to see the rmdir")
