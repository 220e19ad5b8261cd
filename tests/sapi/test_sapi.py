"""pressfs.so under the web SAPIs WordPress really runs on: php-fpm (behind nginx) and Apache's
mod_php (prefork, one process serving request after request).  The phpt suite covers the CLI.

Each SAPI serves the same small site: a plugin "foo" that tries to write PHP into its own folder
(denied: false, a warning naming pressfs, the rule and the plugin), writes an upload (redirected
to pressfs.mount), and a page that shows the extension's phpinfo() section, whose counters must
add up across requests and worker processes.  Real servers on 127.0.0.1, stopped by pid.

Run: make sapi-tests (root, Debian 12; the extension built by `make ext`)."""

import html
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "env"))
import pressenv  # noqa: E402

EXT = os.path.join(TOP, "obj", "ext", "modules", "pressfs.so")
POLICY = os.path.join(TOP, "policies", "wordpress.policy")
MOD_PHP = "/usr/lib/apache2/modules/libphp8.2.so"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (www-data workers)")

WRITE_CODE = r"""<?php
// A plugin writing PHP into its own folder, as a self-updating plugin would.
$ret = @file_put_contents(__DIR__ . '/x.php', '<?php echo 1;');
$err = error_get_last();
header('Content-Type: application/json');
echo json_encode(array(
	'ret'      => $ret,
	'error'    => $err ? $err['message'] : null,
	'exists'   => file_exists(__DIR__ . '/x.php'),
	'writable' => is_writable(__DIR__),
));
"""

UPLOAD = r"""<?php
// A plugin storing an upload, as wp_handle_upload() ends up doing.
$dir = dirname(__DIR__, 2) . '/uploads/2026/11';
$made = is_dir($dir) || mkdir($dir, 0755, true);
$ret = file_put_contents($dir . '/' . $_GET['name'], str_repeat('u', (int) $_GET['size']));
header('Content-Type: application/json');
echo json_encode(array(
	'made'    => $made,
	'ret'     => $ret,
	'size'    => filesize($dir . '/' . $_GET['name']),
	'listed'  => in_array($_GET['name'], scandir($dir), true),
	'globbed' => count(glob($dir . '/*.txt')),
));
"""

INFO = r"""<?php
phpinfo(INFO_MODULES);
"""


def make_site(env, name):
    """A WordPress-shaped root, its redirect target and its audit log, owned by www-data."""
    root = env.mkdir(name, "root")
    foo = os.path.join(root, "wp-content", "plugins", "foo")
    os.makedirs(foo)
    os.makedirs(os.path.join(root, "wp-content", "uploads"))
    with open(os.path.join(foo, "write-code.php"), "w") as f:
        f.write(WRITE_CODE)
    with open(os.path.join(foo, "upload.php"), "w") as f:
        f.write(UPLOAD)
    with open(os.path.join(root, "info.php"), "w") as f:
        f.write(INFO)
    mnt = env.mkdir(name, "mnt")
    os.makedirs(os.path.join(mnt, "wp-content", "uploads"))
    audit = env.path(name, "audit.log")
    open(audit, "w").close()
    # www-data owns the whole tree, as in a typical image: only the policy stops the write
    for top in (root, mnt, audit):
        subprocess.run(["chown", "-R", "www-data:www-data", top], check=True)
    return {"root": root, "mnt": mnt, "audit": audit, "foo": foo}


def ini_for(site):
    return {
        "extension": EXT,
        "pressfs.policy": POLICY,
        "pressfs.root": site["root"],
        "pressfs.mount": site["mnt"],
        "pressfs.mode": "enforce",
        "pressfs.audit_log": site["audit"],
        "display_errors": "0",
    }


class ApacheModPhp(pressenv.Server):
    """apache2 with mpm_prefork and mod_php (libapache2-mod-php8.2), its php.ini in its own
    PHPIniDir: one process, so every request after the first reuses a warm PHP."""

    name = "apache-mod-php"

    def __init__(self, env, docroot, ini, processes=1, override=False):
        super().__init__(env)
        self.override = override
        self.docroot = docroot
        self.ini = ini
        self.processes = processes
        self.port = pressenv.free_port()
        self.dir = env.mkdir("apache-mod-php-%d" % self.port)
        self.conf = os.path.join(self.dir, "apache2.conf")

    @property
    def url(self):
        return "http://%s:%d" % (pressenv.LOOPBACK, self.port)

    def prepare(self):
        d = self.dir
        with open(os.path.join(d, "php.ini"), "w") as f:
            for k, v in self.ini.items():
                f.write('%s = "%s"\n' % (k, v))
        mods = ["mpm_prefork", "authz_core", "dir", "mime"]
        lines = ["ServerRoot " + d, "PidFile %s/apache2.pid" % d, "ErrorLog %s/error.log" % d,
                 "LogLevel warn", "User www-data", "Group www-data", "DefaultRuntimeDir " + d,
                 "ServerName 127.0.0.1", "StartServers %d" % self.processes,
                 "MinSpareServers 1", "MaxSpareServers %d" % self.processes,
                 "MaxRequestWorkers %d" % self.processes, "MaxConnectionsPerChild 0",
                 "KeepAlive Off"]
        lines += ["LoadModule %s_module /usr/lib/apache2/modules/mod_%s.so" % (m, m) for m in mods]
        lines += ["LoadModule php_module " + MOD_PHP, "PHPIniDir " + d,
                  "TypesConfig /etc/mime.types", "DirectoryIndex index.php",
                  "Listen %s:%d" % (pressenv.LOOPBACK, self.port),
                  "DocumentRoot " + self.docroot,
                  "<Directory />", "  Require all denied", "</Directory>",
                  "<Directory %s>" % self.docroot, "  Require all granted",
                  "  AllowOverride %s" % ("All" if self.override else "None"), "</Directory>",
                  "AccessFileName .htaccess",
                  "<FilesMatch \\.php$>", "  SetHandler application/x-httpd-php", "</FilesMatch>"]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def argv(self):
        return ["apache2", "-f", self.conf, "-DFOREGROUND"]

    def wait_ready(self):
        pressenv.wait_port(self.port, proc=self.proc, what="apache2 (mod_php)")

    def start(self):
        # Only this server's own php.ini: Debian's apache2/conf.d is not scanned.
        saved = os.environ.get("PHP_INI_SCAN_DIR")
        os.environ["PHP_INI_SCAN_DIR"] = ""
        try:
            return super().start()
        finally:
            if saved is None:
                del os.environ["PHP_INI_SCAN_DIR"]
            else:
                os.environ["PHP_INI_SCAN_DIR"] = saved


@pytest.fixture(scope="module")
def env():
    e = pressenv.Env(prefix="pressfs-sapi-")
    yield e
    e.close()


def _fpm(env):
    site = make_site(env, "fpm")
    fpm = env.start(pressenv.PhpFpm(env, workers=2, ini=ini_for(site)))
    web = env.start(pressenv.Nginx(env, [pressenv.Site(site["root"], fpm.address)]))
    return site, web.url(0)


def _mod_php(env, name="modphp", override=False):
    site = make_site(env, name)
    ini = ini_for(site)
    ini["error_log"] = env.path("modphp", "php-errors.log")
    open(ini["error_log"], "w").close()
    shutil.chown(ini["error_log"], "www-data", "www-data")
    ini["log_errors"] = "1"
    web = env.start(ApacheModPhp(env, site["root"], ini, override=override))
    return site, web.url


SAPIS = {"php-fpm": _fpm, "mod_php": _mod_php}


@pytest.fixture(scope="module", params=sorted(SAPIS))
def served(request, env):
    if not os.path.exists(EXT):
        pytest.fail("%s is missing: run `make ext`" % EXT)
    if request.param == "mod_php" and not os.path.exists(MOD_PHP):
        pytest.fail("%s is missing: install libapache2-mod-php8.2 (make deps)" % MOD_PHP)
    site, url = SAPIS[request.param](env)
    return request.param, site, url


def get_json(url):
    status, _, body = pressenv.http_get(url)
    assert status == 200, (url, status, body[:400])
    return json.loads(body)


def info_rows(url):
    status, _, body = pressenv.http_get(url + "/info.php")
    assert status == 200, body[:400]
    text = body.decode("utf-8", "replace")
    rows = {}
    for k, v in re.findall(r'<tr><td class="e">\s*(.*?)\s*</td><td class="v">\s*(.*?)\s*</td></tr>',
                           text):
        rows[html.unescape(k)] = html.unescape(v)
    assert "pressfs support" in rows, "no pressfs section in phpinfo():\n" + text[:2000]
    return rows


def test_a_denied_write_is_refused_naming_the_plugin_and_rule(served):
    sapi, site, url = served
    for _ in range(4):      # several requests, so a reused worker is judged again
        r = get_json(url + "/wp-content/plugins/foo/write-code.php")
        assert r["ret"] is False, r
        assert r["exists"] is False and r["writable"] is False, r
        msg = r["error"] or ""
        assert "pressfs" in msg and "plugin foo" in msg, msg
        assert re.search(r"wordpress\.policy line \d+", msg), msg
    assert not os.path.exists(os.path.join(site["foo"], "x.php"))
    assert not os.path.exists(os.path.join(site["mnt"], "wp-content", "plugins", "foo", "x.php"))
    lines = [json.loads(l) for l in open(site["audit"]) if l.strip()]
    denied = [l for l in lines if l.get("outcome") == "denied"]
    assert len(denied) >= 4, lines
    assert all(l["culprit"] == "plugin:foo" for l in denied), denied
    assert all(l["path"].endswith("/wp-content/plugins/foo/x.php") for l in denied), denied


def test_an_upload_is_redirected_to_the_mount(served):
    sapi, site, url = served
    for i in range(3):
        r = get_json(url + "/wp-content/plugins/foo/upload.php?name=a%d.txt&size=%d" % (i, 1000 + i))
        assert r["made"] is True and r["ret"] == 1000 + i and r["size"] == 1000 + i, r
        assert r["listed"] is True and r["globbed"] == i + 1, r
    for i in range(3):
        landed = os.path.join(site["mnt"], "wp-content", "uploads", "2026", "11", "a%d.txt" % i)
        assert os.path.getsize(landed) == 1000 + i
        assert not os.path.exists(os.path.join(site["root"], "wp-content", "uploads", "2026"))


def test_phpinfo_shows_mode_policy_target_and_counters_across_requests(served):
    sapi, site, url = served
    before = info_rows(url)
    assert before["pressfs support"] == "enabled", before
    assert before["Mode"] == "enforce"
    assert before["Policy file"] == POLICY
    assert int(before["Policy rules"]) > 10
    assert before["Redirect target"] == site["mnt"]
    for _ in range(5):
        get_json(url + "/wp-content/plugins/foo/write-code.php")
    after = info_rows(url)
    # the counters are shared by every worker process of the server, and count every request
    assert int(after["Writes denied"]) == int(before["Writes denied"]) + 5, (before, after)
    assert int(after["Writes redirected"]) >= 3, after


# --- the compile wall: PHP that lies where writes land does not run unless its rule grants code

SHELL = b"<?php echo 'SHELL' . 'RAN';"  # its output is not its source


def plant(site, rel, data):
    """Put a file behind pressfs' back (a race, a write outside PHP), in the root the web server
    serves and in the redirect target the extension reads writable paths from."""
    for top in (site["root"], site["mnt"]):
        path = os.path.join(top, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        shutil.chown(path, "www-data", "www-data")


def _walled_fpm(env):
    site = make_site(env, "wall-fpm")
    fpm = env.start(pressenv.PhpFpm(env, workers=2, ini=ini_for(site)))
    web = env.start(pressenv.Nginx(env, [pressenv.Site(site["root"], fpm.address)]))
    return site, web.url(0)


WALLED = {"php-fpm": _walled_fpm,
          "mod_php": lambda env: _mod_php(env, "wall-modphp", override=True)}


@pytest.fixture(scope="module", params=sorted(WALLED))
def walled(request, env):
    if not os.path.exists(EXT):
        pytest.fail("%s is missing: run `make ext`" % EXT)
    if request.param == "mod_php" and not os.path.exists(MOD_PHP):
        pytest.fail("%s is missing: install libapache2-mod-php8.2 (make deps)" % MOD_PHP)
    site, url = WALLED[request.param](env)
    plant(site, "wp-content/uploads/2024/05/shell.php", SHELL)
    plant(site, "wp-content/uploads/2024/05/Shell.PHP", SHELL)
    plant(site, "wp-content/cache/c.php", SHELL)
    plant(site, "wp-content/cache/supercache/example.org/index.php", SHELL)
    plant(site, "wp-content/wp-cache-config.php", b"<?php echo 'CONFIG RAN';")
    # a picture that Apache is told to run as PHP by an .htaccess next to it
    plant(site, "wp-content/uploads/2024/06/pic.jpg", b"\xff\xd8" + SHELL)
    plant(site, "wp-content/uploads/2024/06/.htaccess",
          b"<Files pic.jpg>\n  SetHandler application/x-httpd-php\n</Files>\n")
    return request.param, site, url


@pytest.mark.parametrize("rel", ["wp-content/uploads/2024/05/shell.php",
                                 "wp-content/uploads/2024/05/Shell.PHP",
                                 "wp-content/cache/c.php",
                                 "wp-content/cache/supercache/example.org/index.php"])
def test_a_planted_php_file_where_writes_land_does_not_run(walled, rel):
    sapi, site, url = walled
    before = int(info_rows(url)["PHP files not compiled (writable, no +code)"])
    status, _, body = pressenv.http_get(url + "/" + rel)
    assert b"SHELLRAN" not in body, (sapi, rel, status, body[:300])
    if rel.endswith("Shell.PHP"):
        return  # both servers hand only *.php to PHP: served as a file, never run
    assert status == 500, (sapi, rel, status, body[:300])
    after = int(info_rows(url)["PHP files not compiled (writable, no +code)"])
    assert after == before + 1, (sapi, rel, before, after)


def test_a_picture_an_htaccess_hands_to_php_does_not_run(walled):
    sapi, site, url = walled
    status, _, body = pressenv.http_get(url + "/wp-content/uploads/2024/06/pic.jpg")
    assert b"SHELLRAN" not in body, (sapi, status, body[:300])
    if sapi == "mod_php":
        # the .htaccess was honoured (AllowOverride All): mod_php was asked, and refused
        assert status == 500, (status, body[:300])


def test_the_granted_wp_cache_config_runs(walled):
    sapi, site, url = walled
    status, _, body = pressenv.http_get(url + "/wp-content/wp-cache-config.php")
    assert status == 200 and body == b"CONFIG RAN", (sapi, status, body[:300])


def test_a_writable_root_that_is_no_pressfs_mount_is_said_in_the_log(served):
    sapi, site, url = served
    rows = info_rows(url)
    assert rows["Root file system"].startswith("writable"), rows
    if sapi != "mod_php":
        return  # php-fpm's workers log to the pool's stderr; mod_php's to its error_log
    log = os.path.join(os.path.dirname(site["root"]), "php-errors.log")
    with open(log) as f:
        text = f.read()
    assert "pressfs: warning: pressfs.root is on a writable file system" in text, text[-2000:]
