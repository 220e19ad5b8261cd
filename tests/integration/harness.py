# harness.py - what the integration tests drive: a throwaway redis-server on loopback, real
# `pressfs mount` daemons, the lower trees they overlay, and the cleanup that always runs.
#
# Everything started here is recorded in LIVE and stopped by pid; nothing is looked up by name.

import errno
import hashlib
import os
import random
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PRESSFS = os.environ.get("PRESSFS_BIN", os.path.join(ROOT, "obj", "pressfs"))
POLICY = os.path.join(ROOT, "policies", "wordpress.policy")
REDIS_SERVER = "/usr/bin/redis-server"
MEMCACHED = "/usr/bin/memcached"
FUSERMOUNT = "fusermount3"
WORDPRESS_SRC = "/usr/share/wordpress"

# Set PRESSFS_TEST_FOREGROUND=1 to run daemons with -f (handy while daemonizing is broken).
FOREGROUND = os.environ.get("PRESSFS_TEST_FOREGROUND") == "1"


class Live:
    """Everything this test process started, so that the watchdog and the finalizers can stop it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.mounts = []
        self.redis = []
        self.procs = []

    def add(self, kind, obj):
        with self.lock:
            getattr(self, kind).append(obj)

    def remove(self, kind, obj):
        with self.lock:
            lst = getattr(self, kind)
            if obj in lst:
                lst.remove(obj)

    def snapshot(self):
        with self.lock:
            return list(self.mounts), list(self.redis), list(self.procs)


LIVE = Live()


# --- small helpers ----------------------------------------------------------------------------

def free_port():
    """A free TCP port on 127.0.0.1 in an unusual range (not a well-known service port)."""
    for _ in range(200):
        port = random.randint(21000, 29999)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        return port
    raise RuntimeError("no free port in 21000-29999")


def wait_for(cond, timeout, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def _unescape_mountinfo(s):
    out, i = bytearray(), 0
    b = s.encode("utf-8", "surrogateescape")
    while i < len(b):
        if b[i:i + 1] == b"\\" and i + 3 < len(b) and b[i + 1:i + 4].isdigit():
            out.append(int(b[i + 1:i + 4], 8))
            i += 4
        else:
            out.append(b[i])
            i += 1
    return out.decode("utf-8", "surrogateescape")


def mounts_table():
    """[(mountpoint, fstype, source)] from /proc/self/mountinfo."""
    rows = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = left.split()
            rfields = right.split()
            rows.append((_unescape_mountinfo(fields[4]), rfields[0],
                         _unescape_mountinfo(rfields[1]) if len(rfields) > 1 else ""))
    return rows


def real_parent(path):
    """PATH with its parent resolved, the last name left alone: never stats PATH itself, which
    would hang on a mount whose daemon is stuck."""
    path = path.rstrip("/")
    return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))


def is_mounted(path):
    path = real_parent(path)
    return any(mp == path for mp, _, _ in mounts_table())


def fuse_mounts_under(base):
    base = os.path.realpath(base)
    return [mp for mp, fs, _ in mounts_table()
            if fs.startswith("fuse") and (mp == base or mp.startswith(base + "/"))]


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def daemon_pids(mountpoint):
    """pids of obj/pressfs processes whose command line names MOUNTPOINT."""
    want = os.path.realpath(PRESSFS)
    mp = os.fsencode(real_parent(mountpoint))
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            exe = os.readlink("/proc/%s/exe" % d)
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if exe.replace(" (deleted)", "") != want:
            continue
        if mp in argv or os.fsencode(mountpoint) in argv:
            pids.append(int(d))
    return pids


def kill_pid(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def reap(proc, timeout):
    """Wait for a Popen child; kill -9 it if it does not go."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def tail(path, n=60):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-n:])
    except OSError as e:
        return "(no log: %s)" % e


def sha256_file(path, bufsize=1 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(bufsize)
            if not b:
                return h.hexdigest()
            h.update(b)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def write_bytes(path, data, mode="wb"):
    with open(path, mode) as f:
        f.write(data)


def tree_digest(top):
    """Everything a write could change in a tree: names, types, modes, sizes, mtimes, content."""
    out = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, top)
            if stat.S_ISLNK(st.st_mode):
                what = "l:" + os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                what = "f:%d:%s" % (st.st_size, sha256_file(p))
            else:
                what = "d"
            out.append("%s %o %d %s" % (rel, st.st_mode, st.st_mtime_ns, what))
        st = os.lstat(dirpath)
        out.append("%s/ %o %d" % (os.path.relpath(dirpath, top), st.st_mode, st.st_mtime_ns))
    return hashlib.sha256("\n".join(out).encode("utf-8", "surrogateescape")).hexdigest()


def oserror_errno(fn, *args, **kw):
    """Run fn; return the errno of the OSError it raised, or None if it succeeded."""
    try:
        fn(*args, **kw)
    except OSError as e:
        return e.errno
    return None


def errname(e):
    return errno.errorcode.get(e, str(e)) if e is not None else "success"


# --- Redis ------------------------------------------------------------------------------------

class RespError(Exception):
    pass


def _resp_encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class _RespReader:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def _line(self):
        while b"\r\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise ConnectionError("redis closed the connection")
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            d = self.sock.recv(65536)
            if not d:
                raise ConnectionError("redis closed the connection")
            self.buf += d
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise RespError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RespError("bad reply %r" % line)


class Redis:
    """A redis-server of our own on 127.0.0.1:PORT (and optionally a unix socket) in DIR."""

    def __init__(self, workdir, persistent=False, password=None, unixsocket=False):
        self.dir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.port = free_port()
        self.persistent = persistent
        self.password = password
        self.sock_path = os.path.join(workdir, "redis.sock") if unixsocket else None
        self.log = os.path.join(workdir, "redis.log")
        self.proc = None

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    @property
    def unix_url(self):
        return "unix://" + self.sock_path

    def argv(self):
        a = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", self.dir, "--logfile", self.log, "--daemonize", "no",
             "--save", "", "--protected-mode", "yes"]
        if self.persistent:
            a += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            a += ["--appendonly", "no"]
        if self.password:
            a += ["--requirepass", self.password]
        if self.sock_path:
            a += ["--unixsocket", self.sock_path, "--unixsocketperm", "700"]
        return a

    def start(self):
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        LIVE.add("redis", self)
        deadline = time.monotonic() + 15
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited (%s):\n%s" % (self.proc.returncode,
                                                                       tail(self.log)))
            try:
                if self.command("PING") == "PONG":
                    return self
            except (OSError, ConnectionError, RespError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not answer PING:\n" + tail(self.log))
            time.sleep(0.05)

    def stop(self):
        """SIGTERM (Redis writes its AOF and exits), SIGKILL if it lingers.  By pid only."""
        if self.proc is None:
            return
        self.resume()
        if self.proc.poll() is None:
            self.proc.terminate()
        reap(self.proc, 15)
        self.proc = None
        LIVE.remove("redis", self)

    def pause(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)

    def command(self, *args, db=None, timeout=5):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            r = _RespReader(s)
            pre = []
            if self.password:
                pre.append(("AUTH", self.password))
            if db is not None:
                pre.append(("SELECT", db))
            for p in pre:
                s.sendall(_resp_encode(p))
                r.read()
            s.sendall(_resp_encode(args))
            return r.read()
        finally:
            s.close()

    def keys(self, pattern="*", db=None):
        out, cursor = [], b"0"
        while True:
            cursor, batch = self.command("SCAN", cursor, "MATCH", pattern, "COUNT", 1000, db=db)
            out.extend(batch)
            if cursor in (b"0", 0, "0"):
                return sorted(out)


class Memcached:
    """A memcached of our own on 127.0.0.1:PORT (1 MiB items, no UDP); restartable on the same
    port.  Registered with the servers the session's finalizer stops."""

    def __init__(self, workdir, memory_mb=64):
        self.dir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.port = free_port()
        self.memory_mb = memory_mb
        self.log = os.path.join(workdir, "memcached-%d.log" % self.port)
        self.proc = None

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [MEMCACHED, "-u", "root", "-l", "127.0.0.1", "-p", str(self.port), "-U", "0",
                 "-m", str(self.memory_mb), "-I", "1m", "-t", "2"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        LIVE.add("redis", self)
        wait_for(lambda: self._answers() or self.proc.poll() is not None, 15,
                 what="memcached on port %d" % self.port)
        if self.proc.poll() is not None:
            raise RuntimeError("memcached exited:\n" + tail(self.log))
        return self

    def _answers(self):
        try:
            return self.command("version").startswith("VERSION")
        except OSError:
            return False

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
        reap(self.proc, 15)
        self.proc = None
        LIVE.remove("redis", self)

    def command(self, line, timeout=5):
        """One text-protocol command; returns the reply up to its terminating line."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(line.encode() + b"\r\n")
            end = b"END\r\n" if line.startswith("stats") else b"\r\n"
            buf = b""
            while not buf.endswith(end):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
            return buf.decode("latin-1")

    def stats(self):
        out = {}
        for l in self.command("stats").splitlines():
            parts = l.split()
            if len(parts) == 3 and parts[0] == "STAT":
                out[parts[1]] = parts[2]
        return out


# --- lower trees ------------------------------------------------------------------------------

HTACCESS = (b"# BEGIN WordPress\n"
            b"# The directives (lines) between \"BEGIN WordPress\" and \"END WordPress\" are\n"
            b"# dynamically generated, and should only be modified via WordPress filters.\n"
            b"<IfModule mod_rewrite.c>\n"
            b"RewriteEngine On\n"
            b"RewriteRule .* - [E=HTTP_AUTHORIZATION:%{HTTP:Authorization}]\n"
            b"RewriteBase /\n"
            b"RewriteRule ^index\\.php$ - [L]\n"
            b"RewriteCond %{REQUEST_FILENAME} !-f\n"
            b"RewriteCond %{REQUEST_FILENAME} !-d\n"
            b"RewriteRule . /index.php [L]\n"
            b"</IfModule>\n"
            b"# END WordPress\n"
            b"\n"
            b"# a site owner's own rule below the block\n"
            b"Header set X-Owner \"kept\"\n")


def pattern_bytes(seed, size):
    """Deterministic, incompressible-looking bytes: SIZE of them for SEED."""
    out = bytearray()
    counter = 0
    seed = seed.encode() if isinstance(seed, str) else seed
    while len(out) < size:
        out += hashlib.sha256(seed + b":" + str(counter).encode()).digest() * 64
        counter += 1
    return bytes(out[:size])


# relative path -> (content, mode); directories are implied
SYNTHETIC = {
    "index.php": (b"<?php\n/** Front to the WordPress application. */\n"
                  b"define( 'WP_USE_THEMES', true );\nrequire __DIR__ . '/wp-blog-header.php';\n",
                  0o644),
    "wp-blog-header.php": (b"<?php\nrequire_once __DIR__ . '/wp-load.php';\nwp();\n", 0o644),
    "wp-load.php": (b"<?php\ndefine( 'ABSPATH', __DIR__ . '/' );\n"
                    b"require_once ABSPATH . 'wp-config.php';\n", 0o644),
    "wp-config.php": (b"<?php\ndefine( 'DB_NAME', 'wordpress' );\ndefine( 'DB_USER', 'wp' );\n"
                      b"define( 'DB_PASSWORD', 'secret' );\ndefine( 'DB_HOST', '127.0.0.1' );\n"
                      b"$table_prefix = 'wp_';\ndefine( 'FS_METHOD', 'direct' );\n"
                      b"require_once ABSPATH . 'wp-settings.php';\n", 0o640),
    "wp-settings.php": (b"<?php\n// loads the rest of WordPress\n" + b"// ...\n" * 200, 0o644),
    ".htaccess": (HTACCESS, 0o644),
    "wp-includes/version.php": (b"<?php\n$wp_version = '6.1.9';\n$wp_db_version = 53496;\n", 0o644),
    "wp-includes/functions.php": (b"<?php\n" + b"function wp_noop() {}\n" * 3000, 0o644),
    "wp-includes/js/jquery/jquery.min.js": (pattern_bytes("jquery", 90 * 1024), 0o644),
    "wp-includes/css/dashicons.min.css": (b".dashicons{}\n" * 4000, 0o644),
    "wp-admin/index.php": (b"<?php\nrequire_once __DIR__ . '/admin.php';\n", 0o644),
    "wp-admin/admin.php": (b"<?php\n// admin bootstrap\n", 0o644),
    "wp-admin/includes/file.php": (b"<?php\nfunction get_filesystem_method() {}\n", 0o644),
    "wp-content/index.php": (b"<?php\n// Silence is golden.\n", 0o644),
    "wp-content/plugins/index.php": (b"<?php\n// Silence is golden.\n", 0o644),
    "wp-content/plugins/foo/foo.php": (b"<?php\n/*\nPlugin Name: Foo\n*/\n", 0o644),
    "wp-content/plugins/foo/readme.txt": (b"=== Foo ===\nStable tag: 1.0\n", 0o644),
    "wp-content/themes/index.php": (b"<?php\n// Silence is golden.\n", 0o644),
    "wp-content/themes/t/style.css": (b"/*\nTheme Name: T\n*/\nbody{color:#111}\n", 0o644),
    "wp-content/themes/t/functions.php": (b"<?php\n// theme functions\n", 0o644),
    "wp-content/themes/t/index.php": (b"<?php get_header(); ?>\n", 0o644),
    "wp-content/languages/de_DE.mo": (pattern_bytes("de_DE.mo", 40 * 1024), 0o644),
    "wp-content/uploads/2020/01/photo.jpg": (b"\xff\xd8\xff\xe0" + pattern_bytes("photo", 300 * 1024),
                                             0o644),
    "wp-content/uploads/2020/01/photo-150x150.jpg": (b"\xff\xd8\xff\xe0" + pattern_bytes("thumb", 9000),
                                                     0o644),
    "wp-content/uploads/2020/01/notes.txt": (b"0123456789 lower notes, kept private\n" * 100, 0o640),
    "wp-content/uploads/2020/02/doc.pdf": (b"%PDF-1.4\n" + pattern_bytes("pdf", 70000), 0o644),
    "wp-content/uploads/2020/02/sub/deep.txt": (b"deep lower file\n", 0o644),
}
SYNTHETIC_MTIME = 1577880000  # 2020-01-01T12:00:00Z: lower files are old


def make_synthetic_lower(top):
    """A small WordPress-like tree with the parts the policy treats differently."""
    for rel, (data, mode) in SYNTHETIC.items():
        p = os.path.join(top, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
        os.chmod(p, mode)
    for dirpath, dirnames, filenames in os.walk(top, topdown=False):
        for n in filenames + dirnames:
            os.utime(os.path.join(dirpath, n), (SYNTHETIC_MTIME, SYNTHETIC_MTIME))
    os.utime(top, (SYNTHETIC_MTIME, SYNTHETIC_MTIME))
    return top


WP_CONFIG = b"""<?php
/* wp-config.php for a pressfs lower tree: an ordinary configuration, no Debian indirection. */
define( 'DB_NAME', 'wordpress' );
define( 'DB_USER', 'wordpress' );
define( 'DB_PASSWORD', 'wordpress' );
define( 'DB_HOST', '127.0.0.1' );
define( 'DB_CHARSET', 'utf8mb4' );
define( 'DB_COLLATE', '' );
$table_prefix = 'wp_';
define( 'FS_METHOD', 'direct' );
define( 'DISALLOW_FILE_MODS', true );
define( 'DISALLOW_FILE_EDIT', true );
define( 'WP_DEBUG', false );
if ( ! defined( 'ABSPATH' ) ) {
	define( 'ABSPATH', __DIR__ . '/' );
}
require_once ABSPATH . 'wp-settings.php';
"""


def make_wordpress_lower(top):
    """A plain copy of Debian's WordPress (symlinks resolved) with an ordinary wp-config.php."""
    if not os.path.isdir(WORDPRESS_SRC):
        raise RuntimeError("%s is missing: `make deps` installs Debian's wordpress" % WORDPRESS_SRC)
    subprocess.run(["cp", "-rL", WORDPRESS_SRC, top], check=True)
    with open(os.path.join(top, "wp-config.php"), "wb") as f:
        f.write(WP_CONFIG)
    return top


# --- pressfs ----------------------------------------------------------------------------------

def run_pressfs(*args, timeout=30, check=False):
    return subprocess.run([PRESSFS] + list(args), stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=timeout, check=check)


class MountError(Exception):
    pass


class Mount:
    """One node: `pressfs mount STORE MOUNTPOINT` with its options, its log and its pid."""

    def __init__(self, store_url, lower, mountpoint, policy=POLICY, site=None, node=None,
                 local=None, timeout_ms=None, log=None, extra=()):
        self.store_url = store_url
        self.lower = lower
        self.mnt = real_parent(mountpoint)
        self.policy = policy
        self.site = site
        self.node = node
        self.local = local
        self.timeout_ms = timeout_ms
        self.log = log or (mountpoint.rstrip("/") + ".log")
        self.extra = list(extra)
        self.pid = None
        self.pids = []
        self.dev = None
        self.fg_proc = None
        self.mount_result = None

    def options(self):
        o = ["lower=" + self.lower, "policy=" + self.policy, "log=" + self.log]
        if self.site:
            o.append("site=" + self.site)
        if self.node:
            o.append("node=" + self.node)
        if self.local:
            o.append("local=" + self.local)
        if self.timeout_ms is not None:
            o.append("timeout=%d" % self.timeout_ms)
        return o + self.extra

    def argv(self):
        a = [PRESSFS, "mount"]
        if FOREGROUND:
            a.append("-f")
        return a + ["-o", ",".join(self.options()), self.store_url, self.mnt]

    def start(self):
        if not os.path.exists(PRESSFS):
            raise MountError("%s does not exist: run `make pressfs`" % PRESSFS)
        os.makedirs(self.mnt, exist_ok=True)
        if self.local:
            os.makedirs(self.local, exist_ok=True)
        LIVE.add("mounts", self)
        if FOREGROUND:
            self.fg_proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                            start_new_session=True)
            self.pid = self.fg_proc.pid
            try:
                wait_for(lambda: is_mounted(self.mnt) or self.fg_proc.poll() is not None, 20,
                         what="mount of " + self.mnt)
            except TimeoutError:
                pass
            if not is_mounted(self.mnt):
                self.stop()
                raise MountError("pressfs mount -f did not mount %s\nlog:\n%s"
                                 % (self.mnt, tail(self.log)))
        else:
            # output to a file, not a pipe: a daemon that kept the caller's stdout open would
            # block a pipe reader (test_lifecycle checks that separately)
            out = self.mnt.rstrip("/") + ".mount-output"
            try:
                with open(out, "w+b") as f:
                    r = subprocess.run(self.argv(), stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                                       timeout=30)
                    f.seek(0)
                    r.stderr = f.read()
            except subprocess.TimeoutExpired:
                self._collect_pids()
                self.stop()
                raise MountError("`pressfs mount` did not return within 30 s (it should "
                                 "daemonize once the mount is ready)\nlog:\n" + tail(self.log))
            self.mount_result = r
            if r.returncode != 0:
                self._collect_pids()
                self.stop()
                raise MountError("`%s` exited %d\nstderr: %s\nlog:\n%s" % (
                    " ".join(self.argv()), r.returncode, r.stderr.decode(errors="replace"),
                    tail(self.log)))
            # The contract: the mount is usable when the command returns.
            if not is_mounted(self.mnt):
                self._collect_pids()
                self.stop()
                raise MountError("`pressfs mount` returned 0 but %s is not a mount point"
                                 % self.mnt)
            self._collect_pids()
        self.dev = os.stat(self.mnt).st_dev
        return self

    def _collect_pids(self):
        if self.fg_proc is not None:
            self.pids = [self.fg_proc.pid]
        else:
            self.pids = daemon_pids(self.mnt)
        self.pid = self.pids[0] if self.pids else None

    def all_pids(self):
        pids = set(self.pids)
        pids.update(daemon_pids(self.mnt))
        return sorted(p for p in pids if pid_alive(p))

    def path(self, rel=""):
        if isinstance(rel, bytes):
            return os.path.join(os.fsencode(self.mnt), rel.lstrip(b"/"))
        return os.path.join(self.mnt, rel.lstrip("/"))

    def __truediv__(self, rel):
        return self.path(rel)

    def kill9(self):
        for p in self.all_pids():
            kill_pid(p, signal.SIGKILL)
        wait_for(lambda: not self.all_pids(), 10, what="daemon to die")
        if self.fg_proc is not None:
            reap(self.fg_proc, 5)

    def unmount(self, timeout=20):
        """fusermount3 -u; the daemon must then exit by itself.  Returns the fusermount result."""
        return subprocess.run([FUSERMOUNT, "-u", self.mnt], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=timeout)

    def stop(self):
        """Always leaves no mount and no daemon: -u, then lazy -uz, then kill -9 by pid."""
        try:
            if is_mounted(self.mnt):
                r = subprocess.run([FUSERMOUNT, "-u", self.mnt], capture_output=True, timeout=20)
                if r.returncode != 0 and is_mounted(self.mnt):
                    subprocess.run([FUSERMOUNT, "-uz", self.mnt], capture_output=True,
                                   timeout=20)
            pids = self.all_pids()
            if pids:
                try:
                    wait_for(lambda: not self.all_pids(), 5, what="daemon exit")
                except TimeoutError:
                    for p in self.all_pids():
                        kill_pid(p, signal.SIGKILL)
            if self.fg_proc is not None:
                reap(self.fg_proc, 5)
            if is_mounted(self.mnt):
                subprocess.run([FUSERMOUNT, "-uz", self.mnt], capture_output=True, timeout=20)
        finally:
            LIVE.remove("mounts", self)

    def status_json(self):
        import json
        r = run_pressfs("status", "--json", self.mnt, timeout=15)
        if r.returncode != 0:
            raise AssertionError("pressfs status --json exited %d: %s"
                                 % (r.returncode, r.stderr.decode(errors="replace")))
        return json.loads(r.stdout)


def emergency_stop(reason):
    """The watchdog's hammer: kill every daemon (blocked file calls then fail with ENOTCONN),
    wake paused Redis servers and kill helper processes.  Unmounting is left to finalizers."""
    mounts, redis, procs = LIVE.snapshot()
    for r in redis:
        try:
            r.resume()
        except OSError:
            pass
    for m in mounts:
        for p in m.all_pids():
            kill_pid(p, signal.SIGKILL)
    for p in procs:
        try:
            p.kill()
        except OSError:
            pass
    return reason


def cleanup_everything(base):
    """Session end: whatever a test leaked is unmounted and stopped."""
    mounts, redis, procs = LIVE.snapshot()
    for p in procs:
        try:
            p.kill()
            p.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
    for m in mounts:
        m.stop()
    for r in redis:
        r.stop()
    for mp in fuse_mounts_under(base):
        subprocess.run([FUSERMOUNT, "-uz", mp], capture_output=True, timeout=20)
    if os.path.isdir(base) and not fuse_mounts_under(base):
        shutil.rmtree(base, ignore_errors=True)


# --- content for crash tests ------------------------------------------------------------------

def versioned_content(i, tag):
    """File I's content in version TAG ("old" or "new"): sizes differ between versions and span
    several 1 MiB store chunks, so a torn write shows as a wrong length or a wrong hash."""
    size = 30 * 1024 + i * 400 * 1024 + (7919 if tag == "new" else 0)
    return (b"%s %d\n" % (tag.encode(), i)) + pattern_bytes("%s-%d" % (tag, i), size)


def framed_version(n, scale=1):
    """Content n: a header naming its length and hash, then a body; sizes differ by version.
    A reader can tell a complete copy from a torn or mixed one without knowing n."""
    body = (b"%06d " % n) * ((20000 + 37000 * (n % 5)) * scale)
    return (b"v=%06d len=%d sha=%s\n" % (n, len(body), hashlib.sha256(body).hexdigest().encode())
            + body)


def frame_complete(data):
    head, _, body = data.partition(b"\n")
    try:
        fields = dict(f.split(b"=", 1) for f in head.split(b" "))
        return (int(fields[b"len"]) == len(body)
                and fields[b"sha"] == hashlib.sha256(body).hexdigest().encode())
    except (ValueError, KeyError):
        return False


# --- writers that remember what was acknowledged (fail-over tests) --------------------------

def read_retrying(path, timeout=20):
    """Read PATH whole; an EIO is retried for TIMEOUT seconds: right after a fail-over a daemon
    thread whose own last call failed fails at once for retry_ms before it tries again, while
    a chunk really lost stays EIO and fails the read."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return read_bytes(path)
        except OSError as e:
            if e.errno != errno.EIO or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class AckedWriters:
    """PER_PEER threads per mount of PEERS writing files of their own below UP (up to MAX_SIZE
    bytes each) until stopped; remembers what each close() that returned 0 wrote (acked) and
    each attempt that failed (tried), so that a test can say nothing acknowledged was lost."""

    def __init__(self, peers, up, per_peer=4, max_size=300000):
        self.up, self.max_size = up, max_size
        self.stop = threading.Event()
        self.acked, self.tried, self.errors = {}, {}, []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(peers[i % len(peers)], i))
                        for i in range(per_peer * len(peers))]

    def _run(self, m, w):
        n = 0
        while not self.stop.is_set():
            rel = "%s/w%d-%d.bin" % (self.up, w, n)
            data = pattern_bytes("%d-%d" % (w, n), 1000 + (n * 7919 + w * 104729) % self.max_size)
            try:
                with open(m / rel, "wb") as f:
                    f.write(data)
                with self.lock:
                    self.acked[rel] = data
            except OSError as e:
                with self.lock:
                    self.tried[rel] = data
                    self.errors.append(e.errno)
                time.sleep(0.05)
            n += 1

    def wait_acked(self, more, timeout):
        """Wait until MORE further files were acknowledged (writes work again)."""
        with self.lock:
            target = len(self.acked) + more
        wait_for(lambda: len(self.acked) >= target, timeout, interval=0.1,
                 what="%d more acknowledged writes" % more)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def check(self, peers, timeout=20):
        """Every acknowledged file whole on every peer; a failed one absent or whole."""
        for m in peers:
            for rel, data in self.acked.items():
                got = read_retrying(m / rel, timeout)
                assert got == data, "%s on %s: %d bytes, not the %d acknowledged" % (
                    rel, m.mnt, len(got), len(data))
            for rel, data in self.tried.items():
                if rel in self.acked:
                    continue
                try:
                    got = read_retrying(m / rel, timeout)
                except OSError as e:
                    assert e.errno == errno.ENOENT, (rel, os.strerror(e.errno))
                    continue
                assert got == data, "%s on %s: partial (%d of %d bytes)" % (
                    rel, m.mnt, len(got), len(data))
