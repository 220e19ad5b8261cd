"""pressenv - throwaway real servers for pressfs tests and benchmarks: MariaDB, Redis, memcached,
php-fpm, nginx and Apache on 127.0.0.1 (unusual free ports, one temp dir), and a WordPress install.

Every server is started by this module as a child process, is stopped by its pid (never by name),
and is stopped again by `Env.close()` / the `with` block / atexit / SIGTERM, so a failing test or
an interrupted benchmark leaves nothing running.  Run it with Debian's /usr/bin/python3.

    with pressenv.Env() as env:                      # temp dir, cleaned up at the end
        db = env.start(pressenv.MariaDB(env))
        tree = pressenv.wordpress_tree(env.path("wp"))
        pressenv.write_wp_config(tree, db.wp_credentials("wp"))
        fpm = env.start(pressenv.PhpFpm(env, workers=4))
        web = env.start(pressenv.Nginx(env, [pressenv.Site(tree, fpm.address)]))
        pressenv.install_wordpress(tree, web.url(0))

Nothing here sends traffic outside 127.0.0.0/8: servers bind 127.0.0.1, and the wp-config.php
written below blocks WordPress's outgoing HTTP (WP_HTTP_BLOCK_EXTERNAL) and its cron spawner.
"""

import atexit
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

LOOPBACK = "127.0.0.1"
WWW_USER = "www-data"
WP_SOURCE = "/usr/share/wordpress"

# --- ports, processes and cleanup -------------------------------------------------------------

_given_ports = set()


def free_port(lo=21000, hi=48000):
    """An unused TCP port on 127.0.0.1 in an unusual range, never handed out twice per process."""
    for _ in range(500):
        port = random.randint(lo, hi)
        if port in _given_ports:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((LOOPBACK, port))
            except OSError:
                continue
        _given_ports.add(port)
        return port
    raise RuntimeError("no free port on 127.0.0.1")


def wait_port(port, timeout=20.0, proc=None, what="server"):
    """Wait until something accepts TCP connections on 127.0.0.1:PORT."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode} before listening")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{what} did not listen on {LOOPBACK}:{port} within {timeout:.0f}s")


def stop_pid(pid, sig=signal.SIGTERM, timeout=15.0, proc=None):
    """Stop one process by pid: SIG, wait up to TIMEOUT, then SIGKILL.  Returns when it is gone."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None:
            if proc.poll() is not None:
                return
        else:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    if proc is not None:
        proc.wait(5)


_live_envs = []
_handlers_installed = False


def _on_signal(signum, frame):
    # Turn SIGTERM/SIGHUP into an exception so that `finally` blocks and `with` exits run.
    raise KeyboardInterrupt(f"signal {signum}")


def _install_handlers():
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_close_all)
    for s in (signal.SIGTERM, signal.SIGHUP):
        try:
            signal.signal(s, _on_signal)
        except ValueError:  # not the main thread
            pass


def _close_all():
    for env in list(_live_envs):
        env.close()


class Env:
    """A temp dir plus everything started in it; close() stops all of it, last started first.

    base: where the temp dir goes (default $TMPDIR); keep: leave the dir for inspection."""

    def __init__(self, base=None, prefix="pressenv-", keep=False):
        _install_handlers()
        self.dir = tempfile.mkdtemp(prefix=prefix, dir=base)
        os.chmod(self.dir, 0o755)  # www-data workers must reach docroots and sockets in here
        self.keep = keep
        self._stack = []  # objects with .stop(), in start order
        _live_envs.append(self)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def mkdir(self, *parts, mode=0o755):
        p = self.path(*parts)
        os.makedirs(p, exist_ok=True)
        os.chmod(p, mode)
        return p

    def start(self, thing):
        """Start THING (anything with start() and stop()) and stop it at close()."""
        self._stack.append(thing)
        thing.start()
        return thing

    def adopt(self, thing):
        """Stop THING (already started) at close()."""
        self._stack.append(thing)
        return thing

    def stop(self, thing):
        """Stop THING now instead of at close()."""
        if thing in self._stack:
            self._stack.remove(thing)
        thing.stop()

    def close(self):
        errors = []
        while self._stack:
            thing = self._stack.pop()
            try:
                thing.stop()
            except Exception as e:  # keep stopping the rest
                errors.append(f"{thing!r}: {e}")
        if self in _live_envs:
            _live_envs.remove(self)
        if not self.keep and os.path.isdir(self.dir):
            shutil.rmtree(self.dir, ignore_errors=True)
        for e in errors:
            print(f"pressenv: while stopping {e}", file=sys.stderr)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Server:
    """One child process, started with its own session and stopped by its pid."""

    name = "server"

    def __init__(self, env):
        self.env = env
        self.proc = None
        self.log = env.path(f"{self.name}-{id(self):x}.log")

    def argv(self):
        raise NotImplementedError

    def prepare(self):
        """Write config files, make dirs: runs before argv()."""

    def wait_ready(self):
        raise NotImplementedError

    def start(self):
        self.prepare()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         cwd=self.env.dir)
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise RuntimeError(f"{self.name} failed to start; log {self.log}:\n{self.log_tail()}")
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            stop_pid(self.proc.pid, proc=self.proc)
        self.proc = None

    def log_tail(self, n=30):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def __repr__(self):
        return f"<{self.name} pid={self.pid}>"


# --- the servers ------------------------------------------------------------------------------

class Redis(Server):
    """redis-server on 127.0.0.1:port, data in the temp dir, no persistence unless asked."""

    name = "redis"

    def __init__(self, env, port=None, persist=False, extra=()):
        super().__init__(env)
        self.port = port or free_port()
        self.dir = env.mkdir(f"redis-{self.port}")
        self.persist = persist
        self.extra = list(extra)

    @property
    def url(self):
        return f"redis://{LOOPBACK}:{self.port}"

    def argv(self):
        a = ["redis-server", "--port", str(self.port), "--bind", LOOPBACK, "--dir", self.dir,
             "--daemonize", "no", "--protected-mode", "yes", "--logfile", "",
             "--save", "", "--appendonly", "yes" if self.persist else "no"]
        return a + self.extra

    def wait_ready(self):
        wait_port(self.port, proc=self.proc, what="redis-server")
        self.cli("PING")

    def cli(self, *args, timeout=30):
        """Run redis-cli against this server; returns its stdout."""
        r = subprocess.run(["redis-cli", "-h", LOOPBACK, "-p", str(self.port), *args],
                           capture_output=True, text=True, timeout=timeout, check=True)
        return r.stdout


class Memcached(Server):
    """memcached on 127.0.0.1:port (TCP only)."""

    name = "memcached"

    def __init__(self, env, port=None, memory_mb=1024, item_max="4m"):
        super().__init__(env)
        self.port = port or free_port()
        self.memory_mb = memory_mb
        self.item_max = item_max

    @property
    def address(self):
        return f"{LOOPBACK}:{self.port}"

    def argv(self):
        return ["memcached", "-l", LOOPBACK, "-p", str(self.port), "-U", "0", "-u", "nobody",
                "-m", str(self.memory_mb), "-I", self.item_max]

    def wait_ready(self):
        wait_port(self.port, proc=self.proc, what="memcached")


class MariaDB(Server):
    """mariadbd with its own datadir (mariadb-install-db), socket in the temp dir, TCP on
    127.0.0.1:port.  root@localhost has no password over the socket."""

    name = "mariadb"

    def __init__(self, env, port=None, buffer_pool="256M"):
        super().__init__(env)
        self.port = port or free_port()
        self.datadir = env.mkdir(f"mariadb-{self.port}", "data")
        self.socket = env.path(f"mariadb-{self.port}", "mysqld.sock")
        self.buffer_pool = buffer_pool

    def prepare(self):
        r = subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={self.datadir}",
                            "--user=root", "--auth-root-authentication-method=socket",
                            "--skip-test-db"], capture_output=True, text=True, timeout=180)
        if r.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed:\n{r.stdout}\n{r.stderr}")

    def argv(self):
        return ["mariadbd", "--no-defaults", f"--datadir={self.datadir}", f"--socket={self.socket}",
                f"--port={self.port}", f"--bind-address={LOOPBACK}", "--user=root",
                f"--pid-file={self.datadir}/mariadbd.pid", "--skip-name-resolve",
                "--skip-log-bin", f"--innodb-buffer-pool-size={self.buffer_pool}",
                "--innodb-flush-log-at-trx-commit=2", "--max-connections=200"]

    def wait_ready(self):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("mariadbd exited")
            r = subprocess.run(["mariadb", "--no-defaults", "-S", self.socket, "-uroot",
                                "-e", "SELECT 1"], capture_output=True)
            if r.returncode == 0:
                os.chmod(os.path.dirname(self.socket), 0o755)
                return
            time.sleep(0.2)
        raise TimeoutError("mariadbd did not answer within 60s")

    def sql(self, statements, database=None, timeout=60):
        """Run SQL as root over the socket; returns tab-separated output."""
        argv = ["mariadb", "--no-defaults", "-S", self.socket, "-uroot", "-N", "-B"]
        if database:
            argv.append(database)
        r = subprocess.run(argv, input=statements, capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"SQL failed: {r.stderr.strip()}")
        return r.stdout

    def create_database(self, name, user=None, password=None):
        """A database and a user allowed everything in it, over the socket and over TCP."""
        user = user or name
        password = password or secrets.token_hex(12)
        self.sql(f"CREATE DATABASE IF NOT EXISTS `{name}`;\n"
                 f"CREATE USER IF NOT EXISTS '{user}'@'localhost' IDENTIFIED BY '{password}';\n"
                 f"CREATE USER IF NOT EXISTS '{user}'@'127.0.0.1' IDENTIFIED BY '{password}';\n"
                 f"GRANT ALL ON `{name}`.* TO '{user}'@'localhost';\n"
                 f"GRANT ALL ON `{name}`.* TO '{user}'@'127.0.0.1';\n")
        return password

    def wp_credentials(self, name, use_socket=True):
        """Make database NAME and return the dict write_wp_config() takes."""
        password = self.create_database(name)
        host = f"localhost:{self.socket}" if use_socket else f"{LOOPBACK}:{self.port}"
        return {"name": name, "user": name, "password": password, "host": host}


class PhpFpm(Server):
    """php-fpm8.2 master (root) with one static pool of WORKERS running as www-data on
    127.0.0.1:port.  opcache is on with validate_timestamps=0 unless `ini` says otherwise;
    `ini` entries are passed with -d, so system-level settings (extension=...) work too."""

    name = "php-fpm"
    BINARY = "php-fpm8.2"
    DEFAULT_INI = {
        "opcache.enable": "1",
        "opcache.validate_timestamps": "0",
        "opcache.memory_consumption": "192",
        "opcache.interned_strings_buffer": "16",
        "opcache.max_accelerated_files": "20000",
        "opcache.file_cache": "",
        "memory_limit": "256M",
    }

    def __init__(self, env, port=None, workers=4, ini=None, user=WWW_USER, env_vars=None):
        super().__init__(env)
        self.port = port or free_port()
        self.workers = workers
        self.ini = dict(self.DEFAULT_INI)
        self.ini.update(ini or {})
        self.user = user
        self.env_vars = env_vars or {}
        self.dir = env.mkdir(f"php-fpm-{self.port}")
        self.conf = os.path.join(self.dir, "php-fpm.conf")

    @property
    def address(self):
        return f"{LOOPBACK}:{self.port}"

    def prepare(self):
        error_log = os.path.join(self.dir, "php-errors.log")
        open(error_log, "a").close()
        shutil.chown(error_log, self.user, self.user)
        lines = ["[global]", f"pid = {self.dir}/php-fpm.pid", f"error_log = {self.dir}/fpm.log",
                 "daemonize = no", "", "[pool]", f"user = {self.user}", f"group = {self.user}",
                 f"listen = {self.address}", "listen.backlog = 511", "pm = static",
                 f"pm.max_children = {self.workers}", "pm.max_requests = 0",
                 "catch_workers_output = yes", "clear_env = yes",
                 f"php_admin_value[error_log] = {error_log}", "php_admin_flag[log_errors] = on"]
        for k, v in self.env_vars.items():
            lines.append(f"env[{k}] = {v}")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def argv(self):
        a = [self.BINARY, "-F", "-R", "-y", self.conf]
        for k, v in self.ini.items():
            a += ["-d", f"{k}={v}"]
        return a

    def wait_ready(self):
        wait_port(self.port, proc=self.proc, what="php-fpm")

    @property
    def error_log(self):
        return os.path.join(self.dir, "php-errors.log")


class Site:
    """One nginx/Apache virtual server: DOCROOT served on PORT, PHP through FASTCGI (host:port)."""

    def __init__(self, docroot, fastcgi, port=None):
        self.docroot = docroot.rstrip("/") or "/"
        self.fastcgi = fastcgi
        self.port = port or free_port()

    @property
    def url(self):
        return f"http://{LOOPBACK}:{self.port}"


class Nginx(Server):
    """nginx (master as root, workers as www-data) serving one or more Sites, WordPress-style
    (try_files ... /index.php), access log off."""

    name = "nginx"

    def __init__(self, env, sites, workers=1):
        super().__init__(env)
        self.sites = list(sites)
        self.workers = workers
        self.dir = env.mkdir(f"nginx-{id(self):x}")
        self.conf = os.path.join(self.dir, "nginx.conf")

    def url(self, i=0):
        return self.sites[i].url

    def prepare(self):
        d = self.dir
        servers = []
        for s in self.sites:
            servers.append(f"""
    server {{
        listen {LOOPBACK}:{s.port};
        server_name _;
        root {s.docroot};
        index index.php index.html;
        location / {{ try_files $uri $uri/ /index.php?$args; }}
        location ~ \\.php$ {{
            try_files $uri =404;
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_pass {s.fastcgi};
        }}
    }}""")
        conf = f"""# written by pressenv
user {WWW_USER};
worker_processes {self.workers};
daemon off;
master_process on;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    keepalive_timeout 65;
    keepalive_requests 100000;
    client_max_body_size 256m;
    client_body_temp_path {d}/client_body;
    fastcgi_temp_path {d}/fastcgi;
    proxy_temp_path {d}/proxy;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
{''.join(servers)}
}}
"""
        with open(self.conf, "w") as f:
            f.write(conf)

    def argv(self):
        return ["nginx", "-c", self.conf, "-p", self.dir, "-e", f"{self.dir}/error.log"]

    def wait_ready(self):
        for s in self.sites:
            wait_port(s.port, proc=self.proc, what="nginx")


class Apache(Server):
    """apache2 (event MPM, workers as www-data) serving Sites, PHP through mod_proxy_fcgi,
    .htaccess honoured (AllowOverride All) as WordPress expects."""

    name = "apache"
    MODULES = ["mpm_event", "authz_core", "authz_host", "dir", "mime", "rewrite", "proxy",
               "proxy_fcgi", "setenvif", "alias", "env", "headers"]

    def __init__(self, env, sites, threads=25):
        super().__init__(env)
        self.sites = list(sites)
        self.threads = threads
        self.dir = env.mkdir(f"apache-{id(self):x}")
        self.conf = os.path.join(self.dir, "apache2.conf")

    def url(self, i=0):
        return self.sites[i].url

    def prepare(self):
        d = self.dir
        lines = [f"ServerRoot {d}", f"PidFile {d}/apache2.pid", f"ErrorLog {d}/error.log",
                 "LogLevel warn", f"User {WWW_USER}", f"Group {WWW_USER}",
                 f"DefaultRuntimeDir {d}", "ServerName 127.0.0.1", "Timeout 60",
                 "KeepAlive On", "MaxKeepAliveRequests 0",
                 "StartServers 2", f"ThreadsPerChild {self.threads}",
                 f"MaxRequestWorkers {2 * self.threads}"]
        for m in self.MODULES:
            lines.append(f"LoadModule {m}_module /usr/lib/apache2/modules/mod_{m}.so")
        lines += ["TypesConfig /etc/mime.types", "DirectoryIndex index.php index.html",
                  "<Directory />", "  AllowOverride None", "  Require all denied", "</Directory>"]
        for s in self.sites:
            lines.append(f"Listen {LOOPBACK}:{s.port}")
        for s in self.sites:
            lines += [f"<VirtualHost {LOOPBACK}:{s.port}>",
                      f"  DocumentRoot {s.docroot}",
                      f"  <Directory {s.docroot}>",
                      "    Options FollowSymLinks", "    AllowOverride All",
                      "    Require all granted", "  </Directory>",
                      "  <FilesMatch \\.php$>",
                      f"    SetHandler \"proxy:fcgi://{s.fastcgi}\"",
                      "  </FilesMatch>", "</VirtualHost>"]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def argv(self):
        return ["apache2", "-f", self.conf, "-DFOREGROUND"]

    def wait_ready(self):
        for s in self.sites:
            wait_port(s.port, proc=self.proc, what="apache2")


# --- WordPress --------------------------------------------------------------------------------

def wordpress_tree(dest, source=WP_SOURCE):
    """A plain WordPress tree at DEST: Debian's package copied with its symlinks resolved, and
    its Debian-specific wp-config.php removed (write_wp_config writes an ordinary one)."""
    if os.path.exists(dest):
        raise FileExistsError(dest)
    subprocess.run(["cp", "-rL", source, dest], check=True)
    for f in ("wp-config.php",):
        p = os.path.join(dest, f)
        if os.path.lexists(p):
            os.unlink(p)
    os.makedirs(os.path.join(dest, "wp-content", "uploads"), exist_ok=True)
    return dest


def write_wp_config(tree, db, extra="", dynamic_home=True, debug=False):
    """An ordinary wp-config.php for DB (from MariaDB.wp_credentials).  dynamic_home makes
    WP_HOME/WP_SITEURL follow the request's Host, so one tree serves several ports or nodes."""
    salts = "\n".join(
        f"define('{k}', '{secrets.token_hex(32)}');"
        for k in ("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT",
                  "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT"))
    home = ""
    if dynamic_home:
        home = ("if (!empty($_SERVER['HTTP_HOST'])) {\n"
                "    define('WP_HOME', 'http://' . $_SERVER['HTTP_HOST']);\n"
                "    define('WP_SITEURL', 'http://' . $_SERVER['HTTP_HOST']);\n"
                "    define('COOKIEHASH', md5('pressenv'));\n"
                "}\n")
    text = f"""<?php
/* wp-config.php written by tests/env/pressenv.py for a throwaway test/benchmark site. */
define('DB_NAME', '{db["name"]}');
define('DB_USER', '{db["user"]}');
define('DB_PASSWORD', '{db["password"]}');
define('DB_HOST', '{db["host"]}');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
{salts}
$table_prefix = 'wp_';
{home}
/* an immutable code tree: no installs, no editors, direct file access for what remains */
define('FS_METHOD', 'direct');
define('DISALLOW_FILE_MODS', true);
define('DISALLOW_FILE_EDIT', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_AUTO_UPDATE_CORE', false);
/* never any traffic off this machine; no cron spawned from page views */
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('DISABLE_WP_CRON', true);
define('WP_DEBUG', {'true' if debug else 'false'});
{extra}
if (!defined('ABSPATH')) {{
    define('ABSPATH', __DIR__ . '/');
}}
require_once ABSPATH . 'wp-settings.php';
"""
    with open(os.path.join(tree, "wp-config.php"), "w") as f:
        f.write(text)


_INSTALL_PHP = r"""<?php
/* run by pressenv.install_wordpress: WordPress's own wp_install() from the CLI */
$a = json_decode($argv[1], true);
$u = parse_url($a['url']);
$_SERVER['HTTP_HOST'] = $u['host'] . (isset($u['port']) ? ':' . $u['port'] : '');
$_SERVER['SERVER_NAME'] = $u['host'];
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';
$_SERVER['REQUEST_METHOD'] = 'GET';
define('WP_INSTALLING', true);
/* pluggable: no mail from a throwaway install */
function wp_new_blog_notification($blog_title, $blog_url, $user_id, $password) {}
require $a['tree'] . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
if (is_blog_installed()) { echo json_encode(['installed' => 'already']); exit(0); }
$r = wp_install($a['title'], $a['user'], $a['email'], true, '', wp_slash($a['password']));
update_option('siteurl', $a['url']);
update_option('home', $a['url']);
if (!empty($a['theme'])) { switch_theme($a['theme']); }
for ($i = 1; $i <= $a['posts']; $i++) {
    $body = str_repeat("<!-- wp:paragraph -->\n<p>Paragraph $i of a benchmark post: "
        . "WordPress on an immutable tree, with its writes kept elsewhere.</p>\n"
        . "<!-- /wp:paragraph -->\n", 6);
    wp_insert_post(['post_title' => "Benchmark post $i", 'post_content' => $body,
                    'post_status' => 'publish', 'post_author' => $r['user_id']]);
}
echo json_encode(['installed' => 'now', 'user_id' => $r['user_id']]);
"""


def install_wordpress(tree, url, title="pressfs test site", user="admin", password=None,
                      email="admin@example.invalid", posts=0, theme=None, php="php",
                      run_as=None, timeout=300):
    """Install WordPress into the database named in TREE's wp-config.php with wp_install(),
    from a PHP CLI script.  Returns the admin password.  URL is the site's address
    (http://127.0.0.1:PORT).  POSTS adds that many published posts.  run_as: user to run
    PHP as (so files it may create belong to the web server)."""
    password = password or secrets.token_urlsafe(12)
    fd, script = tempfile.mkstemp(suffix=".php", prefix="wp-install-")
    with os.fdopen(fd, "w") as f:
        f.write(_INSTALL_PHP)
    os.chmod(script, 0o644)
    args = json.dumps({"tree": os.path.abspath(tree), "url": url, "title": title, "user": user,
                       "password": password, "email": email, "posts": posts, "theme": theme})
    argv = [php, "-d", "display_errors=stderr", script, args]
    if run_as:
        argv = ["runuser", "-u", run_as, "--"] + argv
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    finally:
        os.unlink(script)
    if r.returncode != 0 or '"installed"' not in r.stdout:
        raise RuntimeError(f"wp_install failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return password


def http_get(url, headers=None, timeout=30, data=None):
    """One HTTP request (to 127.0.0.1 only); returns (status, headers, body bytes).
    Redirects are not followed."""
    host = urllib.parse.urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost") and not host.startswith("127."):
        raise ValueError(f"refusing to send traffic off the loopback: {url}")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(url, headers=headers or {}, data=data)
    try:
        with opener.open(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def wordpress_login(base_url, user, password):
    """Log in through wp-login.php; returns a Cookie header value for admin pages."""
    body = urllib.parse.urlencode({"log": user, "pwd": password, "wp-submit": "Log In",
                                   "redirect_to": base_url + "/wp-admin/",
                                   "testcookie": "1"}).encode()
    status, headers, _ = http_get(base_url + "/wp-login.php", data=body,
                                  headers={"Cookie": "wordpress_test_cookie=WP%20Cookie%20check",
                                           "Content-Type": "application/x-www-form-urlencoded"})
    cookies = []
    for v in headers.get_all("Set-Cookie") or []:
        kv = v.split(";", 1)[0]
        if kv.startswith("wordpress_") and not kv.startswith("wordpress_test_cookie"):
            cookies.append(kv)
    if status != 302 or not any(c.startswith("wordpress_logged_in_") for c in cookies):
        raise RuntimeError(f"WordPress login failed: HTTP {status}")
    return "; ".join(cookies)
