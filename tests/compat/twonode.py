"""twonode - a real WordPress on several pressfs nodes, on loopback, for the compatibility suite
and `make demo`.

One site: MariaDB, Redis (the store), two memcached servers (the cache class's pool), and a
read-only WordPress tree (the image: Debian's `wordpress` package copied to a plain tree, with
the plugins under test).  Each node is what one container would be: its own `pressfs mount` of
the store over that tree at its own mount point, php-fpm with pressfs.so in enforce (or report)
mode, and Apache (mod_rewrite, AllowOverride All, PHP through proxy_fcgi) serving the mount.
HAProxy in front balances the nodes with health checks.  Everything runs as children of this
process, is stopped by pid, and is unmounted with fusermount3, even after a failure.

    env = pressenv.Env()
    c = twonode.Cluster(env, plugins=[...], mode="enforce", nodes=2)
    c.start()
    b = c.browser(c.nodes[0]); b.login(); b.upload("cat.jpg")
    c.stop()
"""

import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "env"))
import mounts  # noqa: E402
import pressenv  # noqa: E402

PRESSFS = os.path.join(TOP, "obj", "pressfs")
EXT = os.path.join(TOP, "obj", "ext", "modules", "pressfs.so")
POLICY = os.path.join(TOP, "policies", "wordpress.policy")
HAPROXY = "/usr/sbin/haproxy"
SITE = "compat"


class HAProxy(pressenv.Server):
    """haproxy in front of the nodes: round robin, a node that fails its health check (an HTTP
    GET of /wp-login.php every 300 ms, out after 2 failures) gets no traffic."""

    name = "haproxy"

    def __init__(self, env, backends, port=None):
        super().__init__(env)
        self.port = port or pressenv.free_port()
        self.backends = list(backends)      # [(name, port)]
        self.dir = env.mkdir("haproxy-%d" % self.port)
        self.conf = os.path.join(self.dir, "haproxy.cfg")

    @property
    def url(self):
        return "http://%s:%d" % (pressenv.LOOPBACK, self.port)

    def prepare(self):
        lines = ["global", "  maxconn 512", "  pidfile %s/haproxy.pid" % self.dir,
                 "defaults", "  mode http", "  timeout connect 2s", "  timeout client 120s",
                 "  timeout server 120s", "  option redispatch", "  retries 2",
                 "frontend site", "  bind %s:%d" % (pressenv.LOOPBACK, self.port),
                 "  default_backend nodes",
                 "backend nodes", "  balance roundrobin",
                 "  option httpchk GET /wp-login.php",
                 "  http-check expect status 200"]
        for name, port in self.backends:
            lines.append("  server %s %s:%d check inter 300 fall 2 rise 2"
                         % (name, pressenv.LOOPBACK, port))
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def argv(self):
        return [HAPROXY, "-db", "-f", self.conf]

    def wait_ready(self):
        pressenv.wait_port(self.port, proc=self.proc, what="haproxy")


class NodeFpm(pressenv.PhpFpm):
    """php-fpm as a WordPress host runs it: the pool's error_log is a php_value, not a
    php_admin_value, so WP_DEBUG_LOG's ini_set('error_log', wp-content/debug.log) takes, as it
    does under Debian's default pool (which sets none)."""

    def prepare(self):
        super().prepare()
        with open(self.conf) as f:
            text = f.read()
        with open(self.conf, "w") as f:
            f.write(text.replace("php_admin_value[error_log]", "php_value[error_log]"))


class Node:
    """One container's worth: a pressfs mount, php-fpm with the extension, Apache."""

    def __init__(self, cluster, name):
        self.cluster = cluster
        self.name = name
        env = cluster.env
        self.port = pressenv.free_port()
        self.local = env.mkdir(name + "-local")    # the node's scratch, the web user's own
        shutil.chown(self.local, pressenv.WWW_USER, pressenv.WWW_USER)
        self.audit_log = env.path(name + "-audit.log")
        open(self.audit_log, "a").close()
        shutil.chown(self.audit_log, pressenv.WWW_USER, pressenv.WWW_USER)
        pool = ",".join(m.address for m in cluster.memcached)
        extra = ["pool=memcached://" + pool]
        if cluster.owner != pressenv.WWW_USER:
            # an image owned by someone else: its writable directories show the web user
            extra.append("owner=" + pressenv.WWW_USER)
        self.fs = mounts.Pressfs(env, cluster.lower, PRESSFS, cluster.policy, cluster.redis.url,
                                 SITE, name=name, node=name, local=self.local, extra=extra)
        self.fpm = None
        self.apache = None

    @property
    def mount(self):
        return self.fs.root

    @property
    def url(self):
        return "http://%s:%d" % (pressenv.LOOPBACK, self.port)

    @property
    def php_error_log(self):
        return self.fpm.error_log if self.fpm else None

    def ini(self):
        return self.cluster.php_ini(self)

    def audit(self, since=0):
        """The extension's audit records on this node (JSON lines), after the first SINCE:
        `mark = len(node.audit())`, act, then `node.audit(mark)`."""
        with open(self.audit_log) as f:
            return [json.loads(l) for l in f.read().splitlines()[since:] if l]

    def start(self):
        env = self.cluster.env
        self.fs.start()
        self.fpm = NodeFpm(env, workers=4, ini=self.ini())
        self.fpm.start()
        self.apache = pressenv.Apache(env, [pressenv.Site(self.mount, self.fpm.address,
                                                          port=self.port)], threads=16)
        self.apache.start()
        return self

    def stop(self, kill=False):
        """Apache, php-fpm and the mount; kill=True is a node lost: SIGKILL to the daemon (and
        the others), the mount aborted, as when a container dies."""
        if kill:
            self.fs.abort()
        for s in (self.apache, self.fpm):
            if s is not None and s.proc is not None:
                if kill:
                    # the master and its workers: each server leads its own session
                    try:
                        os.killpg(s.proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    s.proc.wait(10)
                    s.proc = None
                else:
                    s.stop()
        self.apache = self.fpm = None
        self.fs.stop()

    def restart(self):
        self.stop()
        return self.start()

    def __repr__(self):
        return "<node %s %s on %s>" % (self.name, self.url, self.mount)


def multipart(fields, files):
    """A multipart/form-data body as a browser sends a form: FIELDS {name: value}, FILES
    {name: (filename, bytes, content type)}.  Returns (content type header, body)."""
    boundary = "----pressfs" + uuid.uuid4().hex
    out = []
    for k, v in fields.items():
        out.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                    % (boundary, k, v)).encode())
    for k, (filename, data, ctype) in files.items():
        out.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                    "Content-Type: %s\r\n\r\n" % (boundary, k, filename, ctype)).encode())
        out.append(data + b"\r\n")
    out.append(("--%s--\r\n" % boundary).encode())
    return "multipart/form-data; boundary=" + boundary, b"".join(out)


def mime_of(name):
    return {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png"}.get(
        name.rsplit(".", 1)[-1].lower(), "application/octet-stream")


class Browser:
    """A logged-out HTTP client with a cookie jar (cookies are per site, not per node)."""

    def __init__(self, cluster, base):
        self.cluster = cluster
        self.base = base.rstrip("/")
        self.cookies = {}

    def _headers(self, extra=None):
        h = dict(extra or {})
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        return h

    def _keep(self, headers):
        for v in headers.get_all("Set-Cookie") or []:
            kv = v.split(";", 1)[0]
            if "=" in kv:
                k, val = kv.split("=", 1)
                if val in ("deleted", "+", " "):
                    self.cookies.pop(k, None)
                else:
                    self.cookies[k] = val

    def get(self, path, headers=None):
        status, h, body = pressenv.http_get(self.base + path, headers=self._headers(headers),
                                            timeout=120)
        self._keep(h)
        return status, h, body

    def post(self, path, data, headers=None):
        if isinstance(data, dict):
            data = urllib.parse.urlencode(data).encode()
            headers = dict(headers or {})
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        status, h, body = pressenv.http_get(self.base + path, data=data,
                                            headers=self._headers(headers), timeout=300)
        self._keep(h)
        return status, h, body

    def login(self):
        """The real login form, with WordPress's test cookie."""
        self.cookies["wordpress_test_cookie"] = "WP%20Cookie%20check"
        status, _, body = self.post("/wp-login.php", {
            "log": self.cluster.admin_user, "pwd": self.cluster.admin_password,
            "wp-submit": "Log In", "redirect_to": self.base + "/wp-admin/", "testcookie": "1"})
        if status != 302 or not any(k.startswith("wordpress_logged_in_") for k in self.cookies):
            raise RuntimeError("login failed: HTTP %d %r" % (status, body[:300]))
        return self

    def rest_nonce(self):
        status, _, body = self.get("/wp-admin/admin-ajax.php?action=rest-nonce")
        if status != 200 or not re.fullmatch(rb"[0-9a-f]{10}", body.strip()):
            raise RuntimeError("no REST nonce: HTTP %d %r" % (status, body[:200]))
        return body.strip().decode()

    def upload(self, path, name=None, mime=None):
        """A media upload through the REST API (what the block editor does).  Returns the new
        attachment as WordPress describes it (id, source_url, media_details.sizes, ...)."""
        name = name or os.path.basename(path)
        mime = mime or mime_of(name)
        with open(path, "rb") as f:
            data = f.read()
        status, _, body = self.post("/?rest_route=/wp/v2/media", data, headers={
            "X-WP-Nonce": self.rest_nonce(), "Content-Type": mime,
            "Content-Disposition": 'attachment; filename="%s"' % name})
        if status != 201:
            raise RuntimeError("upload of %s failed: HTTP %d %r" % (name, status, body[:500]))
        return json.loads(body)

    def upload_form(self, path, name=None):
        """A media upload as Media > Add New (wp-admin/media-new.php) sends it: its Plupload
        settings' fields and nonce, the file as a multipart `async-upload` part, POSTed to
        wp-admin/async-upload.php, where media_handle_upload() moves it with
        move_uploaded_file().  Returns the new attachment as the REST API describes it."""
        name = name or os.path.basename(path)
        status, _, body = self.get("/wp-admin/media-new.php")
        m = re.search(rb"wpUploaderInit = (\{.*?\});", body)
        if status != 200 or not m:
            raise RuntimeError("media-new.php: HTTP %d, no uploader settings" % status)
        init = json.loads(m.group(1))
        fields = dict(init["multipart_params"], name=name)
        with open(path, "rb") as f:
            data = f.read()
        ctype, form = multipart(fields, {init["file_data_name"]: (name, data, mime_of(name))})
        status, _, body = self.post("/wp-admin/async-upload.php", form,
                                    headers={"Content-Type": ctype})
        att_id = body.strip().decode("ascii", "replace")
        if status != 200 or not att_id.isdigit():
            raise RuntimeError("upload of %s failed: HTTP %d %r" % (name, status, body[:500]))
        status, _, att = self.get("/?rest_route=/wp/v2/media/%s&context=edit" % att_id,
                                  headers={"X-WP-Nonce": self.rest_nonce()})
        if status != 200:
            raise RuntimeError("attachment %s: HTTP %d %r" % (att_id, status, att[:300]))
        return json.loads(att)

    def form_fields(self, page, form_action=None):
        """The hidden and text fields of the first form on an admin PAGE (nonce included)."""
        status, _, body = self.get(page)
        if status != 200:
            raise RuntimeError("%s: HTTP %d" % (page, status))
        text = body.decode("utf-8", "replace")
        fields = {}
        for m in re.finditer(r'<input[^>]*>', text):
            tag = m.group(0)
            n = re.search(r'name="([^"]+)"', tag)
            v = re.search(r'value="([^"]*)"', tag)
            t = re.search(r'type="([^"]+)"', tag)
            if not n or (t and t.group(1) in ("radio", "checkbox", "submit")):
                continue
            fields.setdefault(html.unescape(n.group(1)), html.unescape(v.group(1)) if v else "")
        return fields


def operator_wp_config(text, db):
    """The operator's wp-config.php TEXT made to run on the test site: their database and home
    settings (and the final require of wp-settings.php) are put out of action and ours put
    first; every other constant they define (WP_CACHE, WPCACHEHOME, Redis hosts, ...) is kept as
    written; no traffic off the machine and no cron from page views, unless they said."""
    ours = ("DB_NAME", "DB_USER", "DB_PASSWORD", "DB_HOST", "WP_HOME", "WP_SITEURL",
            "COOKIEHASH", "ABSPATH")
    define = re.compile(r"^\s*define\s*\(\s*['\"](%s)['\"]" % "|".join(ours))
    kept = []
    for line in text.splitlines():
        if define.match(line) or re.match(r"^\s*(require|include)(_once)?\b.*wp-settings\.php",
                                          line):
            line = "// (pressfs compat) " + line
        kept.append(line)
    body = "\n".join(kept)
    body = re.sub(r"\A\s*<\?php", "", body)
    body = re.sub(r"\?>\s*\Z", "", body)
    salts_missing = "AUTH_KEY" not in body
    head = ["<?php", "/* pressfs compat: the test site's database, then the operator's settings */",
            "define('DB_NAME', '%s');" % db["name"], "define('DB_USER', '%s');" % db["user"],
            "define('DB_PASSWORD', '%s');" % db["password"],
            "define('DB_HOST', '%s');" % db["host"],
            "if (!empty($_SERVER['HTTP_HOST'])) {",
            "    define('WP_HOME', 'http://' . $_SERVER['HTTP_HOST']);",
            "    define('WP_SITEURL', 'http://' . $_SERVER['HTTP_HOST']);",
            "    define('COOKIEHASH', md5('pressenv'));", "}"]
    if salts_missing:
        head += ["define('%s', '%s');" % (k, uuid.uuid4().hex * 2)
                 for k in ("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY",
                           "AUTH_SALT", "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT")]
    if "$table_prefix" not in body:
        head.append("$table_prefix = 'wp_';")
    tail = ["", "/* pressfs compat: loopback only */"]
    for k, v in (("WP_HTTP_BLOCK_EXTERNAL", "true"), ("DISABLE_WP_CRON", "true"),
                 ("FS_METHOD", "'direct'")):
        tail.append("if (!defined('%s')) { define('%s', %s); }" % (k, k, v))
    tail += ["if (!defined('ABSPATH')) { define('ABSPATH', __DIR__ . '/'); }",
             "require_once ABSPATH . 'wp-settings.php';", ""]
    return "\n".join(head) + "\n" + body + "\n" + "\n".join(tail)


class Cluster:
    """DROP: paths (relative to the tree) removed from the image, as a tree that never had them
    (the wordpress.org tarball has no .htaccess).  OWNER: who owns the image (the web user, as
    most images ship; "root" for code the web user cannot change).  WP_CONFIG: the operator's
    wp-config.php text, kept (operator_wp_config()) instead of the suite's own."""

    def __init__(self, env, wordpress=pressenv.WP_SOURCE, plugins=(), mode="enforce", nodes=2,
                 policy=POLICY, drop=(), owner=pressenv.WWW_USER, wp_config=None):
        self.drop = list(drop)
        self.owner = owner
        self.wp_config = wp_config
        self.env = env
        self.wordpress = wordpress
        self.plugins = list(plugins)
        self.mode = mode
        self.want_nodes = nodes
        self.policy = policy
        self.nodes = []
        self.admin_user = "admin"
        self.admin_password = None
        self.haproxy = None
        self.lower = None

    # -- set-up --------------------------------------------------------------------------------

    def php_ini(self, node):
        return {"extension": EXT, "pressfs.policy": self.policy, "pressfs.root": node.mount,
                "pressfs.lower": self.lower, "pressfs.mode": self.mode,
                "pressfs.audit_log": node.audit_log, "upload_max_filesize": "64M",
                "post_max_size": "64M", "memory_limit": "256M", "max_execution_time": "120"}

    def start(self):
        for p in (PRESSFS, EXT):
            if not os.path.exists(p):
                raise RuntimeError("%s is missing: run `make all`" % p)
        env = self.env
        self.lower = env.path("image")
        subprocess.run(["cp", "-rL", self.wordpress, self.lower], check=True)
        if os.path.lexists(os.path.join(self.lower, "wp-config.php")):
            os.unlink(os.path.join(self.lower, "wp-config.php"))
        os.makedirs(os.path.join(self.lower, "wp-content", "uploads"), exist_ok=True)
        for p in self.plugins:
            shutil.copytree(p, os.path.join(self.lower, "wp-content", "plugins",
                                            os.path.basename(p.rstrip("/"))))
        for rel in self.drop:
            p = os.path.join(self.lower, rel)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p)
            elif os.path.lexists(p):
                os.unlink(p)
        self.db = env.start(pressenv.MariaDB(env))
        if self.wp_config is not None:
            with open(os.path.join(self.lower, "wp-config.php"), "w") as f:
                f.write(operator_wp_config(self.wp_config, self.db.wp_credentials("wordpress")))
        else:
            pressenv.write_wp_config(self.lower, self.db.wp_credentials("wordpress"))
        # the image as web images ship it: www-data owns the tree; only the policy says no
        subprocess.run(["chown", "-R", "%s:%s" % (self.owner, self.owner), self.lower],
                       check=True)
        self.redis = env.start(pressenv.Redis(env))
        self.memcached = [env.start(pressenv.Memcached(env, memory_mb=64, item_max="1m"))
                          for _ in range(2)]
        for _ in range(self.want_nodes):
            n = self._new_node()
            env.adopt(n)        # stopped at close, even if its start fails half way
            n.start()
        self.haproxy_port = pressenv.free_port()
        self.admin_password = pressenv.install_wordpress(
            self.nodes[0].mount, self.url, title="pressfs compat site",
            user=self.admin_user, posts=3, run_as=pressenv.WWW_USER)
        self._start_haproxy()
        return self

    def _new_node(self):
        n = Node(self, "node%d" % (len(self.nodes) + 1))
        self.nodes.append(n)
        return n

    def _start_haproxy(self):
        if self.haproxy is not None:
            self.env.stop(self.haproxy)
        self.haproxy = self.env.start(HAProxy(self.env, [(n.name, n.port) for n in self.nodes],
                                              port=self.haproxy_port))

    def add_node(self):
        """One more node over the same store (not behind HAProxy until restart_haproxy)."""
        n = self._new_node()
        self.env.adopt(n)
        n.start()
        return n

    @property
    def url(self):
        return "http://%s:%d" % (pressenv.LOOPBACK, self.haproxy_port)

    def stop(self):
        self.env.close()

    # -- helpers -------------------------------------------------------------------------------

    def browser(self, node=None):
        return Browser(self, node.url if node is not None else self.url)

    def php(self, node, code, timeout=300, as_user=pressenv.WWW_USER):
        """Run CODE (PHP, without <?php) with WordPress loaded, in NODE's mount, with its
        php.ini settings (the extension, the policy); returns stdout."""
        script = self.env.path("cli-%s.php" % uuid.uuid4().hex)
        host = "%s:%d" % (pressenv.LOOPBACK, node.port)
        with open(script, "w") as f:
            f.write("<?php\n$_SERVER['HTTP_HOST'] = '%s';\n$_SERVER['REQUEST_URI'] = '/';\n"
                    "require '%s/wp-load.php';\n%s\n" % (host, node.mount, code))
        os.chmod(script, 0o644)
        argv = ["runuser", "-u", as_user, "--", "php"]
        for k, v in node.ini().items():
            argv += ["-d", "%s=%s" % (k, v)]
        argv.append(script)
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                               cwd=node.mount)
        finally:
            os.unlink(script)
        if r.returncode != 0:
            raise RuntimeError("php on %s exited %d:\n%s\n%s" % (node.name, r.returncode,
                                                                 r.stdout[-2000:],
                                                                 r.stderr[-2000:]))
        return r.stdout

    def activate(self, slug, node=None):
        node = node or self.nodes[0]
        out = self.php(node, "require_once ABSPATH . 'wp-admin/includes/plugin.php';\n"
                       "$r = activate_plugin('%s/%s.php');\n"
                       "echo is_wp_error($r) ? $r->get_error_message() : 'ok';" % (slug, slug))
        if out.strip() != "ok":
            raise RuntimeError("activating %s: %s" % (slug, out))

    def set_permalinks(self, browser, structure="/%postname%/"):
        """Settings > Permalinks submitted as a browser does (the redirect followed, which is
        where WordPress writes .htaccess)."""
        fields = browser.form_fields("/wp-admin/options-permalink.php")
        status, headers, body = browser.post("/wp-admin/options-permalink.php", {
            "_wpnonce": fields["_wpnonce"],
            "_wp_http_referer": fields.get("_wp_http_referer", "/wp-admin/options-permalink.php"),
            "selection": structure, "permalink_structure": structure,
            "category_base": "", "tag_base": "", "submit": "Save Changes"})
        if status != 302:
            raise RuntimeError("permalink form: HTTP %d %r" % (status, body[:300]))
        location = urllib.parse.urlsplit(headers["Location"])
        return browser.get(location.path + "?" + location.query)

    def wait_healthy(self, n, timeout=20):
        """Until HAProxy has N backends up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            up = 0
            for node in self.nodes:
                try:
                    s, _, _ = pressenv.http_get(node.url + "/wp-login.php", timeout=5)
                    up += s == 200
                except OSError:
                    pass
            if up >= n:
                return
            time.sleep(0.2)
        raise TimeoutError("fewer than %d nodes healthy" % n)
