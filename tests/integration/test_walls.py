# test_walls.py - the overlay's walls against code planted at runtime (docs/SECURITY.md), each
# test playing the attacker: a file published at close where its directory was moved to (attack
# 1), entries written into Redis by something else than pressfs (attack 2), names the default
# policy must refuse (attack 3); through the mount, through PHP with pressfs.so, and over HTTP
# (Apache, AllowOverride All, mod_php serving the mount).

import errno
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

import harness
from harness import ROOT, oserror_errno, wait_for

sys.path.insert(0, os.path.join(ROOT, "tests", "env"))
import pressenv  # noqa: E402

PHP = "/usr/bin/php8.2"
EXT = os.path.join(ROOT, "obj", "ext", "modules", "pressfs.so")
MOD_PHP = "/usr/lib/apache2/modules/libphp8.2.so"
SHELL = b"<?php echo 'PWNED-' . (6 * 7);"

# The default policy grants code in w3tc-config/ to its top level only; the attack works from
# any directory that may hold PHP, so it is also tried where a site grants the whole tree.
GRANTED_TREE = "/wp-content/w3tc-config/**"


def granted_policy(workdir):
    p = os.path.join(workdir, "granted.policy")
    with open(harness.POLICY) as src:
        text = src.read()
    granted = re.sub(r"(?m)^(%s\s+)shared\b" % re.escape(GRANTED_TREE), r"\1shared+code", text)
    assert granted != text
    with open(p, "w") as f:
        f.write(granted)
    return p


def served(path):
    """What a reader of the mount finds at PATH: its bytes, or None (checked by listing too)."""
    d, name = os.path.split(path)
    try:
        listed = name in os.listdir(d)
    except FileNotFoundError:
        listed = False
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        data = None
    assert listed == (data is not None), "%s: listed %s but open says %r" % (path, listed, data)
    return data


def race_born(m, makedirs=True):
    """Attack 1 exactly as written, through the mount: the errno each step met (None: done)."""
    w3 = m / "wp-content/w3tc-config/d"
    os.makedirs(w3, exist_ok=True)
    if makedirs:
        os.makedirs(m / "wp-content/uploads/2024", exist_ok=True)
    steps = {}
    try:
        fd = os.open(os.path.join(w3, "s.php"), os.O_CREAT | os.O_WRONLY, 0o644)
    except OSError as e:
        return {"open": e.errno}
    steps["open"] = None
    steps["rename"] = oserror_errno(os.rename, w3, m / "wp-content/uploads/2024/d")
    os.write(fd, SHELL)
    steps["close"] = oserror_errno(os.close, fd)
    return steps


# --- attack 1: a file published at close where its directory went ----------------------------

def test_race_born_file_default_policy(mount):
    """Default policy: the .php cannot even be made below w3tc-config/d/, and nothing appears in
    uploads."""
    a = mount("a")
    steps = race_born(a)
    assert steps["open"] == errno.EROFS, steps
    assert served(a / "wp-content/uploads/2024/d/s.php") is None
    b = mount("b")
    assert served(b / "wp-content/uploads/2024/d/s.php") is None


def test_race_born_file_where_code_is_granted(mount, workdir):
    """Where the open is allowed, the directory rename sees the file still open in it and is
    refused; whatever happens, uploads never holds the shell, on this peer or another."""
    pol = granted_policy(workdir)
    a = mount("a", policy=pol)
    steps = race_born(a)
    assert steps["open"] is None
    assert (steps["rename"], steps["close"]) != (None, None), steps
    assert steps["rename"] == errno.EROFS, steps
    assert served(a / "wp-content/uploads/2024/d/s.php") is None
    b = mount("b", policy=pol)
    assert served(b / "wp-content/uploads/2024/d/s.php") is None
    # the file stayed where code is granted, and was published there
    assert served(b / "wp-content/w3tc-config/d/s.php") == SHELL


def test_race_born_file_moved_by_another_peer(mount, workdir):
    """Peer B moves the directory while A has the file open: A's close publishes it into the
    moved directory, in uploads, and no peer serves it there."""
    pol = granted_policy(workdir)
    a, b = mount("a", policy=pol), mount("b", policy=pol)
    w3 = a / "wp-content/w3tc-config/d"
    os.makedirs(w3)
    os.makedirs(a / "wp-content/uploads/2024")
    fd = os.open(os.path.join(w3, "s.php"), os.O_CREAT | os.O_WRONLY, 0o644)
    wait_for(lambda: os.path.isdir(b / "wp-content/w3tc-config/d"), 10, what="d on B")
    os.rename(b / "wp-content/w3tc-config/d", b / "wp-content/uploads/2024/d")
    os.write(fd, SHELL)
    oserror_errno(os.close, fd)  # published or refused by the store: either way not served
    time.sleep(0.5)  # let the invalidations arrive
    for m in (a, b, mount("c", policy=pol)):
        assert served(m / "wp-content/uploads/2024/d/s.php") is None, m.node


PHP_RACE = r"""<?php
$root = $argv[1];
@mkdir("$root/wp-content/w3tc-config/d", 0755, true);
@mkdir("$root/wp-content/uploads/2024", 0755, true);
$f = @fopen("$root/wp-content/w3tc-config/d/s.php", 'w');
$renamed = $f ? @rename("$root/wp-content/w3tc-config/d", "$root/wp-content/uploads/2024/d")
              : null;
$wrote = $f ? @fwrite($f, "<?php echo 'PWNED-' . (6 * 7);") : null;
$closed = $f ? @fclose($f) : null;
echo json_encode(array('open' => (bool)$f, 'renamed' => $renamed, 'wrote' => $wrote,
                       'closed' => $closed)), "\n";
"""


@pytest.mark.parametrize("grant", [False, True], ids=["default-policy", "granted"])
def test_race_born_file_through_php(mount, workdir, grant):
    """The same attack from PHP with pressfs.so in enforce mode on the mount (fopen, rename,
    fwrite, fclose): the shell is never in uploads."""
    if not os.path.exists(EXT):
        pytest.fail("%s is missing: run `make ext`" % EXT)
    pol = granted_policy(workdir) if grant else harness.POLICY
    a = mount("a", policy=pol)
    script = os.path.join(workdir, "race.php")
    with open(script, "w") as f:
        f.write(PHP_RACE)
    r = subprocess.run([PHP, "-n", "-d", "extension=" + EXT, "-d", "pressfs.policy=" + pol,
                        "-d", "pressfs.root=" + a.mnt, "-d", "pressfs.mode=enforce",
                        script, a.mnt], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert served(a / "wp-content/uploads/2024/d/s.php") is None, r.stdout
    assert served(mount("b", policy=pol) / "wp-content/uploads/2024/d/s.php") is None


# --- attack 2: entries written into Redis by someone who reached it -------------------------

def prefix(site="default"):
    return "pressfs:{%s}:" % site


def dir_ino(redis, path):
    ino = 1
    for name in path.strip("/").split("/"):
        v = redis.command("HGET", prefix() + "d:%d" % ino, name)
        assert v and v.startswith(b"d"), "%s: no directory %s in the store" % (path, name)
        ino = int(v[1:])
    return ino


def plant(redis, dino, name, data):
    """What a process holding the Redis password can do: an inode, a chunk and a directory
    entry, announced as pressfs announces its own (docs/FORMAT.md)."""
    p = prefix()
    ino = redis.command("INCR", p + "next")
    cid = redis.command("INCR", p + "next")
    now = str(time.time_ns())
    redis.command("SET", p + "c:%d" % cid, data)
    redis.command("HSET", p + "i:%d" % ino, "type", "f", "mode", "100644", "uid", "33",
                  "gid", "33", "size", str(len(data)), "mtime", now, "ctime", now, "ver", "1",
                  "cls", "s", "chunks", str(cid))
    redis.command("HSET", p + "d:%d" % dino, name, "f%d" % ino)
    redis.command("PUBLISH", p + "inval", b"E %d attacker\0%s" % (dino, name.encode()))
    return ino


def test_entries_planted_in_redis_are_not_served(mount, redis):
    a = mount("a")
    os.makedirs(a / "wp-content/uploads/2024")  # the site's uploads exist in the store
    assert served(a / "wp-content/uploads/pwn.php") is None
    assert served(a / "wp-content/uploads/2024/.htaccess") is None
    up = dir_ino(redis, "/wp-content/uploads")
    plant(redis, up, "pwn.php", SHELL)
    plant(redis, up, "ok.jpg", b"\xff\xd8\xff\xe0 harmless")
    plant(redis, dir_ino(redis, "/wp-content/uploads/2024"), ".htaccess",
          b"SetHandler application/x-httpd-php\n")
    plant(redis, up, "nl.php.\n[forged] line", SHELL)  # a code name: php is one extension
    # the planting was right: the harmless entry is served, on the peer that was told and on
    # one that mounts afterwards
    wait_for(lambda: served(a / "wp-content/uploads/ok.jpg") is not None, 10, what="ok.jpg")
    b = mount("b")
    for m in (a, b):
        assert served(m / "wp-content/uploads/ok.jpg") == b"\xff\xd8\xff\xe0 harmless"
        assert served(m / "wp-content/uploads/pwn.php") is None, m.node
        assert served(m / "wp-content/uploads/2024/.htaccess") is None, m.node
        assert m.status_json()["events"]["refused_entries"] >= 1
    with open(a.log, errors="replace") as f:
        log = f.read()
    assert "/wp-content/uploads/pwn.php" in log and "not served" in log
    # the names it logs were chosen by the attacker: they cannot forge a line
    assert not any(line.startswith("[forged]") for line in log.splitlines())
    assert "/wp-content/uploads/nl.php.\\x0a[forged] line" in log


# --- attack 3: names the default policy lets no write make -----------------------------------

REFUSED = [
    "wp-content/uploads/2024/.htaccess", "wp-content/uploads/.htaccess",
    "wp-content/uploads/x.PHP", "wp-content/uploads/x.pHp", "wp-content/uploads/x.phtml",
    "wp-content/uploads/x.phar", "wp-content/uploads/2024/x.php.jpg",
    "wp-content/uploads/2024/.user.ini", "wp-content/cache/c.php",
    "wp-content/cache/supercache/host/c.php", "wp-content/updraft/u.php",
    "wp-content/litespeed/l.php", "wp-content/wflogs/w.php", "wp-content/et-cache/e.php",
    "wp-content/temp-write-test-1.php", "wp-content/x.php.tmp",
    "wp-content/w3tc-config/d/s.php", "wp-content/languages/loco/x.l10n.php",
]


@pytest.mark.parametrize("rel", REFUSED)
def test_default_policy_refuses_code_names(mount, workdir, rel):
    local = os.path.join(workdir, "local")
    os.makedirs(local)
    a = mount("a", local=local)
    os.makedirs(os.path.dirname(a / rel), exist_ok=True)
    p = a / rel
    assert oserror_errno(harness.write_bytes, p, SHELL) == errno.EROFS
    assert oserror_errno(os.symlink, "pic.jpg", p) == errno.EROFS
    plain = os.path.join(os.path.dirname(p), "plain-%d.txt" % os.getpid())
    if oserror_errno(harness.write_bytes, plain, b"text") is None:
        # (the local-class names take no other file beside them)
        assert oserror_errno(os.rename, plain, p) == errno.EROFS
        assert served(plain) == b"text"
    assert served(p) is None


def test_directories_with_code_names_and_removal_stay_possible(mount):
    """A page cache keeps the page of /x.php in a directory of that name; granted code works."""
    a = mount("a")
    page = a / "wp-content/cache/supercache/host/x.php"
    os.makedirs(page)
    harness.write_bytes(os.path.join(page, "index.html"), b"<html>cached</html>")
    assert served(os.path.join(page, "index.html")) == b"<html>cached</html>"
    os.makedirs(a / "wp-content/w3tc-config")
    harness.write_bytes(a / "wp-content/w3tc-config/master.php", b"<?php return array();")
    harness.write_bytes(a / ".htaccess", b"# BEGIN WordPress\n")
    assert served(a / "wp-content/w3tc-config/master.php") == b"<?php return array();"


# --- over HTTP: Apache, AllowOverride All, mod_php serving the mount ---------------------------

ATTACK_PAGE = r"""<?php
// A plugin's PHP run by a visitor: tries to leave code behind in the places writes land.
$wc = dirname(__DIR__, 2);
@mkdir("$wc/uploads/2024", 0755, true);
$r = array();
$r['jpg'] = @file_put_contents("$wc/uploads/2024/pic.jpg", "<?php echo 'PWNED-' . (6 * 7);");
$r['htaccess'] = @file_put_contents("$wc/uploads/2024/.htaccess",
    "<Files pic.jpg>\nSetHandler application/x-httpd-php\n</Files>\n");
@mkdir("$wc/cache", 0755, true);
$r['cache'] = @file_put_contents("$wc/cache/c.php", "<?php echo 'PWNED-' . (6 * 7);");
@mkdir("$wc/w3tc-config/d", 0755, true);
$f = @fopen("$wc/w3tc-config/d/s.php", 'w');
$r['race_open'] = (bool)$f;
$r['race_rename'] = $f ? @rename("$wc/w3tc-config/d", "$wc/uploads/2024/d") : null;
if ($f) {
	@fwrite($f, "<?php echo 'PWNED-' . (6 * 7);");
	$r['race_close'] = @fclose($f);
}
header('Content-Type: application/json');
echo json_encode($r);
"""


class Apache(pressenv.Server):
    """apache2, mpm_prefork, mod_php, AllowOverride All over DOCROOT."""

    name = "apache-walls"

    def __init__(self, env, docroot):
        super().__init__(env)
        self.docroot = docroot
        self.port = pressenv.free_port()
        self.dir = env.mkdir("apache-%d" % self.port)

    def prepare(self):
        d = self.dir
        open(os.path.join(d, "php.ini"), "w").close()
        # what a WordPress .htaccess asks for (the site's root has one)
        mods = ["mpm_prefork", "authz_core", "dir", "mime", "rewrite", "headers", "expires"]
        lines = ["ServerRoot " + d, "PidFile %s/apache2.pid" % d, "ErrorLog %s/error.log" % d,
                 "LogLevel warn", "User www-data", "Group www-data", "DefaultRuntimeDir " + d,
                 "ServerName 127.0.0.1", "StartServers 1", "MinSpareServers 1",
                 "MaxSpareServers 1", "MaxRequestWorkers 1", "KeepAlive Off"]
        lines += ["LoadModule %s_module /usr/lib/apache2/modules/mod_%s.so" % (m, m) for m in mods]
        lines += ["LoadModule php_module " + MOD_PHP, "PHPIniDir " + d,
                  "TypesConfig /etc/mime.types", "Listen %s:%d" % (pressenv.LOOPBACK, self.port),
                  "DocumentRoot " + self.docroot, "<Directory />", "  Require all denied",
                  "</Directory>", "<Directory %s>" % self.docroot, "  Require all granted",
                  "  AllowOverride All", "</Directory>", "AccessFileName .htaccess",
                  "<FilesMatch \\.php$>", "  SetHandler application/x-httpd-php", "</FilesMatch>"]
        with open(os.path.join(d, "apache2.conf"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def argv(self):
        return ["apache2", "-f", os.path.join(self.dir, "apache2.conf"), "-DFOREGROUND"]

    def wait_ready(self):
        pressenv.wait_port(self.port, proc=self.proc, what="apache2 (mod_php)")

    def errors(self):
        try:
            with open(os.path.join(self.dir, "error.log"), errors="replace") as f:
                return f.read()[-3000:]
        except OSError as e:
            return str(e)

    def get(self, rel):
        url = "http://%s:%d/%s" % (pressenv.LOOPBACK, self.port, rel)
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()


@pytest.fixture
def apache_env(workdir):
    if os.geteuid() != 0:
        pytest.skip("needs root (Apache's www-data worker)")
    if not os.path.exists(MOD_PHP):
        pytest.fail("%s is missing: install libapache2-mod-php8.2 (make deps)" % MOD_PHP)
    # www-data must reach the mount point and the server's files: open the way there
    for d in (os.path.dirname(workdir), workdir):
        os.chmod(d, 0o755)
    e = pressenv.Env(base=workdir)
    yield e
    e.close()


@pytest.mark.limit(150)
def test_over_http_no_code_is_left_behind(mount, lower, apache_env):
    foo = os.path.join(lower, "wp-content/plugins/foo")
    harness.write_bytes(os.path.join(foo, "attack.php"), ATTACK_PAGE.encode())
    a = mount("a", extra=["allow_other", "owner=www-data"])
    web = apache_env.start(Apache(apache_env, a.mnt))
    status, body = web.get("wp-content/plugins/foo/attack.php")
    assert status == 200, (body, web.errors())
    import json
    r = json.loads(body)
    assert r["jpg"], r  # an upload is fine: what matters is that nothing runs it
    assert r["htaccess"] is False and r["cache"] is False, r
    for rel in ("wp-content/uploads/2024/pic.jpg", "wp-content/cache/c.php",
                "wp-content/uploads/2024/d/s.php"):
        status, body = web.get(rel)
        assert b"PWNED-42" not in body, (rel, status, body)
    # (a missing file is answered by the site's front page, through its .htaccess)
    assert served(a / "wp-content/cache/c.php") is None
    assert served(a / "wp-content/uploads/2024/d/s.php") is None
    assert served(a / "wp-content/uploads/2024/.htaccess") is None
    assert web.get("wp-content/uploads/2024/pic.jpg")[1] == SHELL  # bytes, not run
    # the control: the server runs PHP from the mount where it should
    assert web.get("wp-content/plugins/foo/foo.php")[0] == 200


# --- setuid and setgid: never kept on a file where writes land --------------------------------

def test_setuid_and_setgid_are_never_kept(mount, workdir):
    local = os.path.join(workdir, "local")
    os.makedirs(local)
    a = mount("a", local=local)
    for rel in ("wp-content/uploads/2024/prog", "wp-content/temp-write-test-prog"):
        p = a / rel
        os.makedirs(os.path.dirname(p), exist_ok=True)
        fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o6755)
        os.write(fd, b"\x7fELF")
        os.close(fd)
        assert os.stat(p).st_mode & 0o6000 == 0, rel
        os.chmod(p, 0o6755)
        assert os.stat(p).st_mode & 0o7777 == 0o755, rel
    b = mount("b")
    assert os.stat(b / "wp-content/uploads/2024/prog").st_mode & 0o7777 == 0o755


def test_a_local_directory_rename_is_judged_entry_by_entry(mount, workdir):
    """Within the local directory too, a directory carries its entries only where each may
    stand: out of uploads/wpcf7_uploads/ into wp-content/temp-write-test-*, where no file may."""
    local = os.path.join(workdir, "local")
    os.makedirs(local)
    a = mount("a", local=local)
    src = a / "wp-content/uploads/wpcf7_uploads/a"
    os.makedirs(src)
    harness.write_bytes(os.path.join(src, "x.txt"), b"attachment")
    assert oserror_errno(os.rename, src, a / "wp-content/temp-write-test-a") == errno.EROFS
    assert served(a / "wp-content/temp-write-test-a/x.txt") is None
    assert served(os.path.join(src, "x.txt")) == b"attachment"
    os.makedirs(a / "wp-content/uploads/elementor/tmp")
    os.rename(src, a / "wp-content/uploads/elementor/tmp/a")
    assert served(a / "wp-content/uploads/elementor/tmp/a/x.txt") == b"attachment"
