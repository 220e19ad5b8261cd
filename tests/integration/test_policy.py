# test_policy.py - the policy in force on a mount: code stays read-only (EROFS, lower tree
# untouched), a bad policy file stops the mount with file:line:column, `pressfs policy check`
# explains a decision, the local class stays on its node, and no spelling of a path gets around it.

import errno
import os
import re
import subprocess
import sys

import pytest

import harness
from harness import (is_mounted, oserror_errno, read_bytes, run_pressfs, tree_digest,
                     write_bytes)

UP = "wp-content/uploads"


def _write_attempts(m):
    """(description, callable) for writes into code; each must fail with EROFS."""
    p = m.path
    return [
        ("create in plugins", lambda: open(p("wp-content/plugins/foo/evil.php"), "wb")),
        ("rewrite a plugin file", lambda: open(p("wp-content/plugins/foo/foo.php"), "r+b")),
        ("truncate-open a plugin file", lambda: open(p("wp-content/plugins/foo/foo.php"), "wb")),
        ("append to a plugin file", lambda: open(p("wp-content/plugins/foo/readme.txt"), "ab")),
        ("mkdir in plugins", lambda: os.mkdir(p("wp-content/plugins/newplugin"))),
        ("unlink a plugin file", lambda: os.unlink(p("wp-content/plugins/foo/readme.txt"))),
        ("rmdir a plugin", lambda: os.rmdir(p("wp-content/plugins/foo"))),
        ("rename a plugin file", lambda: os.rename(p("wp-content/plugins/foo/foo.php"),
                                                   p("wp-content/plugins/foo/foo.bak"))),
        ("chmod a plugin file", lambda: os.chmod(p("wp-content/plugins/foo/foo.php"), 0o666)),
        ("utime a plugin file", lambda: os.utime(p("wp-content/plugins/foo/foo.php"), (1, 1))),
        ("truncate a plugin file", lambda: os.truncate(p("wp-content/plugins/foo/foo.php"), 0)),
        ("symlink in plugins", lambda: os.symlink("/etc/passwd", p("wp-content/plugins/x"))),
        ("rewrite wp-includes/version.php", lambda: open(p("wp-includes/version.php"), "r+b")),
        ("create in wp-includes", lambda: open(p("wp-includes/backdoor.php"), "wb")),
        ("mkdir in wp-includes", lambda: os.mkdir(p("wp-includes/new"))),
        ("unlink in wp-includes", lambda: os.unlink(p("wp-includes/functions.php"))),
        ("rewrite wp-config.php", lambda: open(p("wp-config.php"), "r+b")),
        ("create a drop-in", lambda: open(p("wp-content/object-cache.php"), "wb")),
        ("create .maintenance", lambda: open(p(".maintenance"), "wb")),
        ("create .user.ini", lambda: open(p(".user.ini"), "wb")),
        ("php into uploads", lambda: open(p(UP + "/shell.php"), "wb")),
        ("php into an uploads subdir", lambda: open(p(UP + "/2020/01/shell.php"), "wb")),
        ("rename an upload to .php", lambda: os.rename(p(UP + "/2020/01/notes.txt"),
                                                       p(UP + "/2020/01/notes.php"))),
        ("rename an upload into plugins", lambda: os.rename(p(UP + "/2020/01/notes.txt"),
                                                            p("wp-content/plugins/notes.txt"))),
        ("theme edit", lambda: open(p("wp-content/themes/t/functions.php"), "ab")),
    ]


def test_writes_to_code_fail_with_erofs_and_lower_is_untouched(nodes, lower):
    a, b = nodes
    before = tree_digest(lower)
    plugin = read_bytes(a / "wp-content/plugins/foo/foo.php")
    wrong = []
    for what, fn in _write_attempts(a):
        e = None
        try:
            f = fn()
            if hasattr(f, "close"):
                try:
                    f.write(b"<?php system($_GET['c']);")
                finally:
                    f.close()
        except OSError as x:
            e = x.errno
        if e != errno.EROFS:
            wrong.append("%s: %s" % (what, harness.errname(e)))
    assert wrong == [], "expected EROFS:\n" + "\n".join(wrong)
    assert tree_digest(lower) == before, "the lower tree changed"
    for m in (a, b):
        assert read_bytes(m / "wp-content/plugins/foo/foo.php") == plugin
        assert not os.path.exists(m / "wp-content/plugins/foo/evil.php")
        assert not os.path.exists(m / UP + "/shell.php")
        assert os.path.exists(m / UP + "/2020/01/notes.txt")


def test_read_only_paths_show_no_write_bits(nodes):
    """The kernel answers access(W_OK) from the mode bits pressfs reports (default_permissions):
    paths the policy keeps read-only show none, writable ones keep theirs.  Root passes any
    mode-bit check, so for PHP run as root (WP-CLI, cron) is_writable() is the extension's to
    answer from the policy; a write still fails with EROFS here."""
    a, _ = nodes
    for rel in ("wp-content/plugins/foo/foo.php", "wp-content/plugins", "wp-includes/version.php",
                "wp-config.php", "wp-content/themes/t"):
        assert os.stat(a / rel).st_mode & 0o222 == 0, rel + " shows write bits"
    for rel in (".htaccess", UP, UP + "/2020/01/notes.txt", UP + "/2020"):
        assert os.stat(a / rel).st_mode & 0o200, rel + " lost its owner's write bit"


def test_access_w_ok_for_www_data(mount, workdir, base_dir):
    """php-fpm's workers: www-data owns wp-content in the image, yet code is not writable."""
    lower = harness.make_synthetic_lower(os.path.join(workdir, "lower-www"))
    for dp, dns, fns in os.walk(os.path.join(lower, "wp-content")):
        for n in dns + fns + [""]:
            os.lchown(os.path.join(dp, n), 33, 33)
    for d in (base_dir, workdir):
        os.chmod(d, 0o755)
    a = mount("a", lower_dir=lower, extra=["allow_other"])
    probe = ("import os, sys\n"
             "for p in sys.argv[1:]: print(int(os.access(p, os.W_OK)))\n")
    rels = ["wp-content/plugins/foo/foo.php", "wp-content/plugins", "wp-content/themes/t",
            UP + "/2020/01/notes.txt", UP + "/2020"]
    r = subprocess.run([sys.executable, "-c", probe] + [a / rel for rel in rels],
                       user="www-data", group="www-data", capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    got = dict(zip(rels, r.stdout.decode().split()))
    assert got == {rels[0]: "0", rels[1]: "0", rels[2]: "0", rels[3]: "1", rels[4]: "1"}, got


def test_read_only_lower_reads_are_exact(nodes, lower):
    a, b = nodes
    for rel, (data, mode) in harness.SYNTHETIC.items():
        for m in (a, b):
            assert read_bytes(m / rel) == data, rel
            # read-only paths may show their write bits cleared; nothing else changes
            assert os.stat(m / rel).st_mode & 0o7777 in (mode, mode & ~0o222), rel


def test_dotdot_cannot_escape_the_policy(mount, workdir, policy):
    # a lower tree deeper than the mount point, with a file beside it that must stay unreachable
    lower = harness.make_synthetic_lower(os.path.join(workdir, "images", "v1", "lower"))
    write_bytes(os.path.join(workdir, "images", "v1", "secret.txt"), b"beside the lower tree\n")
    a = mount("a", lower_dir=lower)
    # ".." is resolved before the policy is asked: a detour through uploads lands in code
    assert oserror_errno(open, a / UP + "/../plugins/foo/x.php", "wb") == errno.EROFS
    assert oserror_errno(open, a / UP + "/2020/../../../wp-config.php", "r+b") == errno.EROFS
    assert oserror_errno(os.mkdir, a / UP + "/2020/01/../../../plugins/p") == errno.EROFS
    # ".." at the top of the mount is the mount's parent, never the lower tree's
    assert "secret.txt" not in os.listdir(a / "wp-content/../..")
    assert not os.path.exists(a / "../secret.txt")
    # a symlink made through the mount is resolved against the mount, not the lower tree
    os.symlink("../../../secret.txt", a / UP + "/escape")
    assert os.readlink(a / UP + "/escape") == "../../../secret.txt"
    assert oserror_errno(open, a / UP + "/escape", "rb") == errno.ENOENT
    # names made of dots are ordinary names; "." and ".." cannot be made
    for n in ("...", "..x", "x.."):
        write_bytes(a / UP + "/" + n, n.encode())
        assert read_bytes(a / UP + "/" + n) == n.encode()
    assert oserror_errno(os.mkdir, a / UP + "/..") == errno.EEXIST
    assert sorted(n for n in os.listdir(a / UP) if n.startswith(".")) == ["...", "..x"]


LOCAL_POLICY = """\
# test policy: one local area besides the shared ones
/wp-content/uploads/**/*.php   deny
/wp-content/uploads/wpcf7_uploads/**   local
/wp-content/uploads/**         shared
/.htaccess                     shared+code
/wp-content/plugins/**         deny
"""


def _store_holds(redis, needle):
    """Does any key of the store, or any value in it, contain NEEDLE?"""
    for k in redis.keys("pressfs:*"):
        kind = redis.command("TYPE", k)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        vals = {"hash": lambda: redis.command("HGETALL", k),
                "string": lambda: [redis.command("GET", k)],
                "list": lambda: redis.command("LRANGE", k, 0, -1),
                "set": lambda: redis.command("SMEMBERS", k)}.get(kind, lambda: [])()
        if needle in k or any(isinstance(v, bytes) and needle in v for v in vals):
            return True
    return False


def test_local_class_stays_on_its_node(mount, workdir, redis):
    pol = os.path.join(workdir, "local.policy")
    write_bytes(pol, LOCAL_POLICY.encode())
    a = mount("a", policy=pol, local=os.path.join(workdir, "local-a"))
    b = mount("b", policy=pol, local=os.path.join(workdir, "local-b"))
    d = UP + "/wpcf7_uploads/scratch-q7x"
    os.makedirs(a / d)
    write_bytes(a / d + "/cv.pdf", b"%PDF A's scratch\n")
    assert read_bytes(a / d + "/cv.pdf") == b"%PDF A's scratch\n"
    assert not os.path.exists(b / d), "A's local directory is seen on B"
    for needle in (b"scratch-q7x", b"cv.pdf", b"A's scratch"):
        assert not _store_holds(redis, needle), "%r reached the store" % needle
    os.makedirs(b / d)
    write_bytes(b / d + "/cv.pdf", b"%PDF B's scratch\n")
    assert read_bytes(a / d + "/cv.pdf") == b"%PDF A's scratch\n"
    assert read_bytes(b / d + "/cv.pdf") == b"%PDF B's scratch\n"
    found = [os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(workdir, "local-a"))
             for f in fs if read_bytes(os.path.join(dp, f)) == b"%PDF A's scratch\n"]
    assert found, "A's local file is not in A's local= directory"
    os.unlink(a / d + "/cv.pdf")
    assert not os.path.exists(a / d + "/cv.pdf")
    assert read_bytes(b / d + "/cv.pdf") == b"%PDF B's scratch\n"


def test_local_directories_belong_to_whoever_made_them(mount, workdir, base_dir):
    """Contact Form 7 under php-fpm: www-data makes wpcf7_uploads/N in the local class, then
    writes a file inside it.  The directory must be www-data's, as it would be on a disk."""
    lower = harness.make_synthetic_lower(os.path.join(workdir, "lower-www"))
    for dp, dns, fns in os.walk(os.path.join(lower, "wp-content")):
        for n in dns + fns + [""]:
            os.lchown(os.path.join(dp, n), 33, 33)
    for d in (base_dir, workdir):
        os.chmod(d, 0o755)
    pol = os.path.join(workdir, "local.policy")
    write_bytes(pol, LOCAL_POLICY.encode())
    local = os.path.join(workdir, "local-www")
    os.makedirs(local)
    os.chown(local, 33, 33)
    a = mount("a", lower_dir=lower, policy=pol, local=local, extra=["allow_other"])
    d = a / UP + "/wpcf7_uploads/8752"
    script = ("import os, sys\n"
              "os.makedirs(sys.argv[1])\n"
              "open(sys.argv[1] + '/attachment.txt', 'w').write('cf7')\n"
              "os.chmod(sys.argv[1] + '/attachment.txt', 0o400)\n"
              "print(open(sys.argv[1] + '/attachment.txt').read())\n")
    r = subprocess.run([sys.executable, "-c", script, d], user="www-data", group="www-data",
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert r.stdout == b"cf7\n"
    for p in (d, os.path.dirname(d)):
        st = os.stat(p)
        assert (st.st_uid, st.st_gid) == (33, 33), (p, st.st_uid, st.st_gid)


# --- malformed policies -------------------------------------------------------------------------

BAD_POLICIES = [
    # (text, line, column of the error)
    ("/wp-content/uploads/** shared\n/.htaccess sharde\n", 2, 12),
    ("# comment\n\n/wp-content/uploads/**\n", 3, None),
    ("/ok/** shared\nwp-content/uploads/** shared\n", 2, 1),
]


@pytest.mark.parametrize("text,line,column", BAD_POLICIES)
def test_malformed_policy_stops_mount(redis, lower, workdir, text, line, column):
    pol = os.path.join(workdir, "bad.policy")
    write_bytes(pol, text.encode())
    mnt = os.path.join(workdir, "mnt")
    os.mkdir(mnt)
    m = harness.Mount(redis.url, lower, mnt, policy=pol)
    try:
        r = subprocess_run_mount(m)
        assert r.returncode != 0, "pressfs mount accepted a malformed policy"
        err = r.stderr.decode(errors="replace")
        pat = re.escape(pol) + r":%d:(\d+): \S" % line
        found = re.search(pat, err)
        assert found, "no %s:%d:COLUMN: reason on stderr, got:\n%s" % (pol, line, err)
        if column is not None:
            assert int(found.group(1)) == column, err
        assert not is_mounted(mnt), "mounted despite the bad policy"
        assert harness.daemon_pids(mnt) == [], "a daemon was left running"
        assert redis.keys("*") == [], "the store was touched"
    finally:
        m.stop()


def subprocess_run_mount(m):
    return subprocess.run(m.argv(), stdin=subprocess.DEVNULL, capture_output=True, timeout=30)


@pytest.mark.parametrize("text,line,column", BAD_POLICIES)
def test_policy_check_reports_malformed_policy(workdir, text, line, column):
    pol = os.path.join(workdir, "bad.policy")
    write_bytes(pol, text.encode())
    r = run_pressfs("policy", "check", pol, "/wp-content/uploads/x.jpg")
    assert r.returncode == 1
    err = (r.stderr + r.stdout).decode(errors="replace")
    found = re.search(re.escape(pol) + r":%d:(\d+): \S" % line, err)
    assert found, err
    if column is not None:
        assert int(found.group(1)) == column, err


# --- pressfs policy check --------------------------------------------------------------------

CHECK_POLICY = """\
# a policy whose answers the test knows
/wp-content/uploads/**/*.php   deny
/wp-content/uploads/**         shared
/.htaccess                     shared+code
/wp-content/cache/**           cache
/wp-content/uploads-tmp/**     local
/wp-content/plugins/**         deny
"""


def _check_lines(out, paths):
    """The output line that names each path (the path standing alone, not inside another)."""
    lines = [l for l in out.splitlines() if l.strip()]
    by_path = {}
    for p in paths:
        alone = re.compile(r"(?<![\w/.-])" + re.escape(p) + r"(?![\w/.-])")
        hits = [l for l in lines if alone.search(l)]
        assert len(hits) == 1, "want one line for %s in:\n%s" % (p, out)
        by_path[p] = hits[0]
    return by_path


def test_policy_check_names_class_and_rule_line(workdir):
    pol = os.path.join(workdir, "check.policy")
    write_bytes(pol, CHECK_POLICY.encode())
    want = {
        "/wp-content/uploads/2024/05/photo.jpg": ("shared", 3),
        "/wp-content/uploads/2024/05/shell.php": ("deny", 2),
        "/.htaccess": ("shared", 4),
        "/wp-content/cache/supercache/x/index.html": ("cache", 5),
        "/wp-content/uploads-tmp/a": ("local", 6),
        "/wp-content/plugins/foo/foo.php": ("deny", 7),
    }
    r = run_pressfs("policy", "check", pol, *want)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    out = r.stdout.decode()
    lines = _check_lines(out, list(want))
    for p, (cls, line) in want.items():
        rest = lines[p].replace(p, " ")
        assert re.search(r"\b%s\b" % cls, rest), "%s: class %s not in %r" % (p, cls, lines[p])
        assert re.search(r"\b%d\b" % line, rest), "%s: rule line %d not in %r" % (p, line,
                                                                                   lines[p])
    # a path no rule matches is read-only: neither shared, cache nor local
    r = run_pressfs("policy", "check", pol, "/wp-includes/version.php")
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    o = r.stdout.decode().replace("/wp-includes/version.php", " ")
    assert not re.search(r"\b(shared|cache|local)\b", o), o


def test_policy_check_shows_code_grants_and_refused_code_names(workdir):
    pol = os.path.join(workdir, "code.policy")
    write_bytes(pol, b"/wp-content/w3tc-config/** shared+code\n/wp-content/uploads/** shared\n")
    paths = ["/wp-content/w3tc-config/master.php", "/wp-content/uploads/x.PHP",
             "/wp-content/uploads/x.jpg"]
    r = run_pressfs("policy", "check", pol, *paths)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    lines = _check_lines(r.stdout.decode(), paths)
    assert "shared+code" in lines[paths[0]], lines[paths[0]]
    assert "refused" in lines[paths[1]] and "+code" in lines[paths[1]], lines[paths[1]]
    verdict = lines[paths[1]].replace(paths[1], " ").split("(")[0]
    assert not re.search(r"\b(shared|cache|local)\b", verdict), lines[paths[1]]
    assert "\tshared\t" in lines[paths[2]], lines[paths[2]]


def test_shipped_policy_matches_where_writes_belong(policy):
    """WRITE-PATTERNS.md: uploads, .htaccess shared; code, drop-ins, php in uploads denied or
    read-only."""
    writable = {
        "/wp-content/uploads/2024/05/photo.jpg": "shared",
        "/wp-content/uploads/2024/05/photo-150x150.jpg": "shared",
        "/wp-content/uploads/wc-logs/fatal-errors-2024-05-01.log": "shared",
        "/wp-content/uploads/elementor/css/post-12.css": "shared",
        "/.htaccess": "shared",
    }
    readonly = ["/wp-content/plugins/akismet/akismet.php", "/wp-content/themes/t/style.css",
                "/wp-includes/version.php", "/wp-admin/index.php", "/wp-config.php",
                "/index.php", "/wp-content/uploads/2024/05/shell.php",
                "/wp-content/object-cache.php", "/wp-content/advanced-cache.php",
                "/wp-content/db.php", "/.user.ini", "/.maintenance", "/wp-content/mu-plugins/x.php"]
    r = run_pressfs("policy", "check", policy, *(list(writable) + readonly))
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    lines = _check_lines(r.stdout.decode(), list(writable) + readonly)
    for p, cls in writable.items():
        assert re.search(r"\b%s\b" % cls, lines[p].replace(p, " ")), lines[p]
    for p in readonly:
        assert not re.search(r"\b(shared|cache|local)\b", lines[p].replace(p, " ")), lines[p]
