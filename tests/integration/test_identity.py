# test_identity.py - what a file is to the tools that look at it: a file this peer created is
# listed before its first close, one file keeps one st_ino from stat, readdir, `ls -i` and PHP
# alike for its whole life, and local-class directories belong to whom the tree's do.

import json
import os
import subprocess
import sys

import harness
from harness import read_bytes, write_bytes

UP = "wp-content/uploads"
PHP = "/usr/bin/php8.2"


def _php(code, *args):
    r = subprocess.run([PHP, "-n", "-r", code] + list(args), capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r.stdout.decode()


def _ls_inodes(d):
    """{name: inode} as `ls -i` prints them."""
    r = subprocess.run(["ls", "-1ai", d], capture_output=True, timeout=30, check=True)
    out = {}
    for line in r.stdout.decode().splitlines():
        ino, _, name = line.strip().partition(" ")
        out[name] = int(ino)
    return out


def _numbers(m, rel):
    """Every number the file REL is known by on mount M: stat, readdir's d_ino, `ls -i`, PHP."""
    p = m / rel
    d, name = os.path.split(p)
    dino = [e.inode() for e in os.scandir(d) if e.name == name]
    return {
        "stat": os.stat(p).st_ino,
        "lstat": os.lstat(p).st_ino,
        "d_ino": dino[0] if len(dino) == 1 else ("listed %d times" % len(dino)),
        "ls -i": _ls_inodes(d).get(name),
        "php fileinode": int(_php("clearstatcache(); echo fileinode($argv[1]);", p)),
    }


def _one(numbers, what):
    assert len(set(numbers.values())) == 1, "%s: one file, several numbers: %s" % (what, numbers)
    return next(iter(numbers.values()))


def test_new_file_is_listed_before_its_first_close(nodes):
    """WordPress's wp_unique_filename() lists the directory (scandir) while another request
    still holds the upload it just opened; ls and glob() right after open(O_CREAT) too."""
    a, b = nodes
    d = UP + "/2024/05"
    os.makedirs(a / d)
    write_bytes(a / d + "/old.jpg", b"committed\n")
    fd = os.open(a / d + "/new.jpg", os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644)
    try:
        os.write(fd, b"half an upload")
        # (no subprocess until it is renamed: a fork's close of the descriptor commits it)
        assert sorted(os.listdir(a / d)) == ["new.jpg", "old.jpg"]
        ents = {e.name: e for e in os.scandir(a / d)}
        assert ents["new.jpg"].is_file(follow_symlinks=False)
        assert ents["new.jpg"].inode() == os.fstat(fd).st_ino == os.stat(a / d + "/new.jpg").st_ino
        assert "new.jpg" not in os.listdir(b / d), "B lists a file A has not closed"
        # renamed while open: listed under its new name only; removed: not listed at all
        os.rename(a / d + "/new.jpg", a / d + "/new-1.jpg")
        assert sorted(os.listdir(a / d)) == ["new-1.jpg", "old.jpg"]
        fd3 = os.open(a / d + "/gone.jpg", os.O_CREAT | os.O_WRONLY, 0o644)
        os.unlink(a / d + "/gone.jpg")
        assert sorted(os.listdir(a / d)) == ["new-1.jpg", "old.jpg"]
        os.close(fd3)
        # a file made again where a lower one was removed: listed once, while it is open
        low = UP + "/2020/01"
        os.unlink(a / low + "/photo.jpg")
        fd2 = os.open(a / low + "/photo.jpg", os.O_CREAT | os.O_WRONLY, 0o644)
        try:
            assert sorted(os.listdir(a / low)).count("photo.jpg") == 1
        finally:
            os.close(fd2)
        assert sorted(os.listdir(a / low)).count("photo.jpg") == 1
    finally:
        os.close(fd)
    # ls, and PHP itself, right after the create, as wp_unique_filename() runs while a
    # request holds its upload open
    sh = subprocess.run(["sh", "-c", ': > "$1"/held.txt && exec 3<"$1"/held.txt && ls "$1"',
                         "sh", a / d], capture_output=True, timeout=30, check=True)
    assert sh.stdout.decode().split() == ["held.txt", "new-1.jpg", "old.jpg"]
    php = ("$f = fopen($argv[1] . '/held.png', 'x'); fwrite($f, 'png');"
           "echo json_encode([scandir($argv[1]), glob($argv[1] . '/held*'),"
           " fileinode($argv[1] . '/held.png'), fstat($f)['ino']]);")
    got = json.loads(_php(php, a / d))
    assert got[0] == [".", "..", "held.png", "held.txt", "new-1.jpg", "old.jpg"], got
    assert got[1] == [a / d + "/held.png", a / d + "/held.txt"], got
    assert got[2] == got[3] == os.stat(a / d + "/held.png").st_ino, got
    assert sorted(os.listdir(a / d)) == ["held.png", "held.txt", "new-1.jpg", "old.jpg"]
    harness.wait_for(lambda: sorted(os.listdir(b / d)) == ["held.png", "held.txt", "new-1.jpg",
                                                           "old.jpg"], 10,
                     what="the closed files listed on B")
    assert read_bytes(b / d + "/new-1.jpg") == b"half an upload"


def test_new_file_keeps_its_number_from_create_to_remount(nodes):
    a, b = nodes
    d = UP + "/2024/06"
    os.makedirs(a / d)
    fd = os.open(a / d + "/report.pdf", os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        os.write(fd, b"%PDF draft")
        ino = _one(dict(_numbers(a, d + "/report.pdf"), fstat=os.fstat(fd).st_ino),
                   "created, not yet closed")
    finally:
        os.close(fd)
    assert _one(_numbers(a, d + "/report.pdf"), "committed") == ino
    harness.wait_for(lambda: os.path.exists(b / d + "/report.pdf"), 10, what="the file on B")
    assert _one(_numbers(b, d + "/report.pdf"), "committed, seen on B") == ino
    with open(a / d + "/report.pdf", "ab") as f:
        f.write(b" and more")
    assert _one(_numbers(a, d + "/report.pdf"), "rewritten") == ino
    os.rename(a / d + "/report.pdf", a / UP + "/report-final.pdf")
    assert _one(_numbers(a, UP + "/report-final.pdf"), "renamed") == ino
    a.stop()
    a.start()
    assert _one(_numbers(a, UP + "/report-final.pdf"), "after a remount") == ino


def test_lower_file_keeps_the_lower_number_through_copy_up(nodes, lower):
    """A lower file shows the lower tree's number; its copy-up keeps it (as overlayfs's xino
    does), through a rename and a remount, and on the other peer of the same image."""
    a, b = nodes
    rel = UP + "/2020/01/notes.txt"
    lino = os.stat(os.path.join(lower, rel)).st_ino
    assert _one(_numbers(a, rel), "a lower file") == lino
    with open(a / rel, "ab") as f:  # the first write copies it up
        f.write(b"appended\n")
    assert _one(_numbers(a, rel), "copied up") == lino
    harness.wait_for(lambda: read_bytes(b / rel).endswith(b"appended\n"), 10, what="B")
    assert _one(_numbers(b, rel), "copied up, seen on B") == lino
    os.rename(a / rel, a / UP + "/2020/notes-moved.txt")
    assert _one(_numbers(a, UP + "/2020/notes-moved.txt"), "renamed") == lino
    a.stop()
    a.start()
    assert _one(_numbers(a, UP + "/2020/notes-moved.txt"), "after a remount") == lino
    # a new file where a lower one was is another file: not the lower number
    write_bytes(a / rel, b"a new file of the old name\n")
    assert _one(_numbers(a, rel), "a new file over the whiteout") != lino


def test_merged_directory_keeps_the_lower_number(nodes, lower):
    """uploads/2020 comes from the image; writing in it gives it an upper copy, which stat and
    the listing of its parent must both still call by the lower number."""
    a, b = nodes
    rel = UP + "/2020/02"
    lino = os.stat(os.path.join(lower, rel)).st_ino
    assert _one(_numbers(a, rel), "a lower directory") == lino
    write_bytes(a / rel + "/new.txt", b"new\n")  # the directory is copied up
    assert _one(_numbers(a, rel), "a merged directory") == lino
    harness.wait_for(lambda: os.path.exists(b / rel + "/new.txt"), 10, what="B")
    assert _one(_numbers(b, rel), "a merged directory, seen on B") == lino
    # moved (the image's part of it is copied up with it): still the same directory
    sub = os.stat(os.path.join(lower, rel, "sub")).st_ino
    deep = os.stat(os.path.join(lower, rel, "sub/deep.txt")).st_ino
    os.rename(a / rel, a / UP + "/2020-02")
    assert _one(_numbers(a, UP + "/2020-02"), "a merged directory, renamed") == lino
    assert _one(_numbers(a, UP + "/2020-02/sub"), "a lower directory copied up") == sub
    a.stop()
    a.start()
    assert _one(_numbers(a, UP + "/2020-02"), "renamed, after a remount") == lino
    assert _one(_numbers(a, UP + "/2020-02/sub"), "copied up, after a remount") == sub
    assert _one(_numbers(a, UP + "/2020-02/sub/deep.txt"), "a file copied up with it") == deep


LOCAL_POLICY = """\
/wp-content/uploads/**/*.php   deny
/wp-content/uploads/wpcf7_uploads/**   local
/wp-content/uploads/**         shared
/wp-content/plugins/**         deny
"""


def test_local_parent_directories_keep_the_trees_owner(mount, workdir, base_dir):
    """Contact Form 7's folder ships in the image, owned by www-data.  A file www-data creates
    in it makes the folder's local copy, which must be www-data's with the image's mode, or
    default_permissions refuses www-data's next file there."""
    lower = harness.make_synthetic_lower(os.path.join(workdir, "lower-www"))
    cf7 = os.path.join(lower, UP, "wpcf7_uploads")
    os.makedirs(cf7)
    os.chmod(cf7, 0o750)
    for dp, dns, fns in os.walk(os.path.join(lower, "wp-content")):
        for n in dns + fns + [""]:
            os.lchown(os.path.join(dp, n), 33, 33)
    for d in (base_dir, workdir):
        os.chmod(d, 0o755)
    pol = os.path.join(workdir, "local.policy")
    write_bytes(pol, LOCAL_POLICY.encode())
    local = os.path.join(workdir, "local-www")
    os.makedirs(local)
    a = mount("a", lower_dir=lower, policy=pol, local=local, extra=["allow_other"])
    d = a / UP + "/wpcf7_uploads"
    script = ("import sys\n"
              "open(sys.argv[1] + '/' + sys.argv[2], 'w').write(sys.argv[2])\n"
              "print(open(sys.argv[1] + '/' + sys.argv[2]).read())\n")
    for name in ("one.txt", "two.txt"):
        r = subprocess.run([sys.executable, "-c", script, d, name], user="www-data",
                           group="www-data", capture_output=True, timeout=30)
        assert r.returncode == 0, (name, r.stderr.decode(errors="replace"))
        assert r.stdout == name.encode() + b"\n"
        # from now on the kernel asks for the folder afresh and gets its local copy's owner
        a.stop()
        a.start()
    for p in (d, os.path.join(local, UP, "wpcf7_uploads")):
        st = os.stat(p)
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (33, 33, 0o750), \
            (p, st.st_uid, st.st_gid, oct(st.st_mode))
    # the directories above it mirror theirs too
    st = os.stat(os.path.join(local, UP))
    assert (st.st_uid, st.st_gid) == (33, 33)
