"""podsite - WordPress on pressfs in real read-only containers, for `make demo` and
tests/containers: Redis (a password and a least-privilege ACL user for the site), memcached,
MariaDB and HAProxy on the host's 127.0.0.1, and per peer one container of the pressfs image
(the overlay mounted inside, Apache + mod_php with pressfs.so), on the host's network.

    env = pressenv.Env(); pm = podenv.Podman()
    s = podsite.Site(env, pm, podenv.build_image(pm), names=["pressfs-node1", "pressfs-node2"])
    s.start(); ...; s.stop()

Containers are removed by name and the servers stopped by pid at stop(), after a failure too."""

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "env"))
sys.path.insert(0, os.path.join(TOP, "tests", "compat"))
import pressenv  # noqa: E402
import twonode  # noqa: E402

DOCROOT = "/var/www/html"
LOWER = "/usr/src/wordpress"
SECRET = "/run/secrets/redis-password"

# The commands pressfs uses (docs/FORMAT.md, "Isolating sites with ACLs"), nothing more.
SITE_COMMANDS = ("-@all +ping +select +info +script|load +eval +evalsha +get +set +incr +incrby +exists "
                 "+del +getrange +strlen +append +persist +pexpire +pttl +hget +hset +hdel "
                 "+hgetall +hincrby +publish +subscribe")


def urllib_quote(s):
    """S as the entrypoint puts it into a URL (every byte but RFC 3986's unreserved escaped)."""
    return urllib.parse.quote(s, safe="-._~")


def acl_rules(site):
    return "on resetkeys ~pressfs:{%s}:* resetchannels &pressfs:{%s}:* %s" % (
        site, site, SITE_COMMANDS)


class Redis(pressenv.Redis):
    """redis-server whose default user has a password (the operator's) and one user per site
    that reaches only its own keys and channel with the commands pressfs uses."""

    def __init__(self, env, site, port=None):
        super().__init__(env, port=port)
        self.site = site
        self.user = "pressfs-" + site
        self.admin_password = secrets.token_urlsafe(18)
        self.password = secrets.token_urlsafe(18) + ":@/%"   # characters a URL must escape
        self.password_file = env.path("redis-%s.password" % site)
        self.admin_password_file = env.path("redis-admin.password")
        for path, pw in ((self.password_file, self.password),
                         (self.admin_password_file, self.admin_password)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(pw + "\n")

    def wait_ready(self):
        pressenv.wait_port(self.port, proc=self.proc, what="redis-server")
        self._cli(None, "ACL", "SETUSER", self.user, *acl_rules(self.site).split(),
                  ">" + self.password)
        self._cli(None, "ACL", "SETUSER", "default", ">" + self.admin_password)

    def _cli(self, password, *args, timeout=30, errors=True):
        env = dict(os.environ)
        if password:
            env["REDISCLI_AUTH"] = password
        r = subprocess.run(["redis-cli", "-h", pressenv.LOOPBACK, "-p", str(self.port), *args],
                           capture_output=True, text=True, timeout=timeout, check=True, env=env)
        if errors and r.stdout.startswith(("ERR", "NOPERM", "WRONGPASS")):
            raise RuntimeError("redis-cli %s: %s" % (args[0], r.stdout.strip()))
        return r.stdout

    def cli(self, *args, timeout=30):
        """redis-cli as the operator (the default user)."""
        return self._cli(self.admin_password, *args, timeout=timeout)

    def site_cli(self, *args, timeout=30, errors=True):
        """redis-cli as the site's user (what a pressfs peer may do); errors=False returns an
        error reply instead of raising."""
        return self._cli(self.password, "--user", self.user, *args, timeout=timeout,
                         errors=errors)

    @property
    def store(self):
        """The store URL a peer gets: the user, without the password (that is a file)."""
        return "redis://%s@%s:%d" % (self.user, pressenv.LOOPBACK, self.port)


class HAProxy(twonode.HAProxy):
    """The compat suite's HAProxy, with a health check that may take its time: a cold or busy
    peer answering /wp-login.php in more than the 300 ms between checks is slow, not down."""

    def prepare(self):
        super().prepare()
        with open(self.conf) as f:
            text = f.read()
        with open(self.conf, "w") as f:
            f.write(text.replace("  timeout server 120s\n",
                                 "  timeout server 120s\n  timeout check 10s\n"))

    def wait_ready(self):
        super().wait_ready()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if pressenv.http_get(self.url + "/wp-login.php", timeout=10)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError("HAProxy has no peer up")


class Peer:
    """One container of the pressfs image: NAME, its Apache on 127.0.0.1:PORT."""

    def __init__(self, site, name, port=None, env=None):
        self.site = site
        self.name = name
        self.port = port or pressenv.free_port()
        self.extra_env = dict(env or {})    # over the site's, for this container
        # the mount's metrics= port: containers on the host's network need one each
        self.metrics_port = pressenv.free_port()

    @property
    def url(self):
        return "http://%s:%d" % (pressenv.LOOPBACK, self.port)

    @property
    def health_url(self):
        """The mount's /healthz, at the address the entrypoint gave metrics= (the file it
        writes), so it is right for a container told several addresses too."""
        addr = self.exec("sh", "-c", 'cat "/run/pressfs/metrics/$PRESSFS_PEER"',
                         check=True).stdout.strip()
        return "http://%s/healthz" % addr

    def health(self, url=None):
        """(status, body) of the mount's /healthz."""
        status, _, body = pressenv.http_get(url or self.health_url, timeout=30)
        return status, body.decode(errors="replace")

    def run_argv(self):
        s = self.site
        env = s.container_env("%s:%d" % (pressenv.LOOPBACK, self.port))
        env["PRESSFS_PEER"] = self.name
        env["PRESSFS_METRICS"] = "%s:%d" % (pressenv.LOOPBACK, self.metrics_port)
        env.update(self.extra_env)
        argv = ["run", "-d", "--name", self.name, "--hostname", self.name,
                "--read-only", "--device", "/dev/fuse", "--cap-add", "SYS_ADMIN",
                "--network", "host", "--security-opt", "label=disable",
                "-v", "%s:%s:ro" % (s.redis.password_file, SECRET),
                "--stop-timeout", "20"]
        for k, v in sorted(env.items()):
            argv += ["-e", "%s=%s" % (k, v)]
        return argv + [s.image]

    def start(self, wait=True):
        self.site.pm.rm(self.name)
        self.site.pm(*self.run_argv())
        if wait:
            self.wait_serving()
        return self

    def wait_serving(self, path="/wp-login.php", timeout=90):
        """Until the peer answers PATH with 200 (after its mount and Apache are up)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                status, _, _ = pressenv.http_get(self.url + path, timeout=10)
                if status == 200:
                    return
                last = "HTTP %d" % status
            except OSError as e:
                last = str(e)
            if not self.running():
                break
            time.sleep(0.3)
        r = self.site.pm.result("inspect", "-f", "{{json .State}}", self.name)
        raise RuntimeError("%s does not serve %s (%s); its state: %s; its log:\n%s"
                           % (self.name, path, last, r.stdout.strip() or r.stderr.strip(),
                              self.logs()[-4000:]))

    def running(self):
        r = self.site.pm.result("inspect", "-f", "{{.State.Running}}", self.name)
        return r.returncode == 0 and r.stdout.strip() == "true"

    def logs(self):
        r = self.site.pm.result("logs", self.name)
        return r.stdout + r.stderr

    def exec(self, *argv, user=None, input=None, check=False, timeout=120):
        """Run ARGV inside the container; returns the CompletedProcess."""
        a = ["exec", "-i"] if input is not None else ["exec"]
        if user:
            a += ["-u", user]
        r = self.site.pm.result(*a, self.name, *argv, input=input, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError("%s: %s exited %d:\n%s%s" % (self.name, argv, r.returncode,
                                                            r.stdout, r.stderr))
        return r

    def php(self, code, check=True):
        """PHP (without <?php) as www-data inside the container, WordPress loaded."""
        script = ("<?php\n$_SERVER['HTTP_HOST'] = '%s:%d';\n$_SERVER['REQUEST_URI'] = '/';\n"
                  "require '%s/wp-load.php';\n%s\n" % (pressenv.LOOPBACK, self.port, DOCROOT,
                                                       code))
        return self.exec("php", "-d", "display_errors=stderr", user="www-data", input=script,
                         check=check)

    def stop(self):
        self.site.pm.rm(self.name)

    def __repr__(self):
        return "<peer %s %s>" % (self.name, self.url)


class Site:
    def __init__(self, env, pm, image, names=("pressfs-node1", "pressfs-node2"), name="demo",
                 mode="enforce"):
        self.env = env
        self.pm = pm
        self.image = image
        self.name = name
        self.mode = mode
        self.names = list(names)
        self.peers = []
        self.admin_user = "admin"
        self.admin_password = None
        self.haproxy = None
        self.salts = {k: secrets.token_hex(32) for k in (
            "AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT",
            "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT")}

    @property
    def url(self):
        return self.haproxy.url

    def start(self):
        self.start_backends()
        self.peers = [Peer(self, n) for n in self.names]
        for p in self.peers:
            p.start(wait=False)
        for p in self.peers:
            p.wait_serving(path="/wp-includes/images/blank.gif")
        self.haproxy_port = pressenv.free_port()
        self.admin_password = self.install(self.peers[0], self.haproxy_url)
        self.haproxy = self.env.start(HAProxy(self.env, [(p.name, p.port) for p in self.peers],
                                              port=self.haproxy_port))
        for p in self.peers:
            p.wait_serving()
        return self

    @property
    def haproxy_url(self):
        return "http://%s:%d" % (pressenv.LOOPBACK, self.haproxy_port)

    def start_backends(self):
        """MariaDB (the site's database), Redis, two memcached: what the peers need."""
        env = self.env
        env.adopt(self)                 # containers removed at env.close(), even half started
        self.db = env.start(pressenv.MariaDB(env))
        self.db_creds = self.db.wp_credentials("wordpress", use_socket=False)
        self.redis = env.start(Redis(env, self.name))
        self.memcached = [env.start(pressenv.Memcached(env, memory_mb=64, item_max="1m"))
                          for _ in range(2)]
        self.pool = ",".join(m.address for m in self.memcached)

    def install(self, peer, url):
        """WordPress's own wp_install() for the site at URL, run with PHP inside PEER (any
        container of the image).  Returns the admin password."""
        password = secrets.token_urlsafe(12)
        args = json.dumps({"tree": DOCROOT, "url": url, "title": "pressfs in containers",
                           "user": self.admin_user, "password": password,
                           "email": "admin@example.invalid", "posts": 3, "theme": None})
        r = peer.exec("php", "-d", "display_errors=stderr", "--", args,
                               user="www-data", input=pressenv._INSTALL_PHP)
        if r.returncode != 0 or '"installed"' not in r.stdout:
            raise RuntimeError("wp_install failed (%d):\n%s\n%s" % (r.returncode, r.stdout,
                                                                   r.stderr))
        return password

    def browser(self, peer=None):
        return twonode.Browser(self, peer.url if peer is not None else self.url)

    def peer(self, name):
        return next(p for p in self.peers if p.name == name)

    def container_env(self, listen):
        """The environment a container of this site gets (PRESSFS_*, WORDPRESS_*)."""
        env = {"PRESSFS_STORE": self.redis.store, "PRESSFS_PASSWORD_FILE": SECRET,
               "PRESSFS_SITE": self.name, "PRESSFS_POOL": "memcached://" + self.pool,
               "PRESSFS_MODE": self.mode, "PRESSFS_LISTEN": listen,
               "WORDPRESS_DB_HOST": "%s:%d" % (pressenv.LOOPBACK, self.db.port),
               "WORDPRESS_DB_NAME": self.db_creds["name"],
               "WORDPRESS_DB_USER": self.db_creds["user"],
               "WORDPRESS_DB_PASSWORD": self.db_creds["password"],
               "WORDPRESS_HOME_FROM_REQUEST": "1",
               # never any traffic off this machine; no cron spawned from page views
               "WORDPRESS_CONFIG_EXTRA": "define('WP_HTTP_BLOCK_EXTERNAL', true); "
                                         "define('DISABLE_WP_CRON', true);"}
        for k, v in self.salts.items():
            env["WORDPRESS_" + k] = v
        return env

    def stop(self):
        """The containers (and any mount a killed one left on the host); the servers are the
        env's and stop with it."""
        if self.names:
            self.pm.rm(*self.names)
