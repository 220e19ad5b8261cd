"""mounts - the filesystems pressfs is compared with, behind one interface: a native directory,
kernel overlayfs, fuse-overlayfs and `pressfs mount`.  Each mounts a merged view of a read-only
lower tree at `.root`, records how long mounting took, and always unmounts (and stops its
daemon by pid) in stop().  Used by tests/bench and by tests that need real nodes."""

import json
import os
import signal
import subprocess
import time

import pressenv

FUSERMOUNT = "fusermount3"


def _unescape(s):
    out, i = bytearray(), 0
    b = s.encode("utf-8", "surrogateescape")
    while i < len(b):
        if b[i:i + 1] == b"\\" and b[i + 1:i + 4].isdigit():
            out.append(int(b[i + 1:i + 4], 8))
            i += 4
        else:
            out.append(b[i])
            i += 1
    return out.decode("utf-8", "surrogateescape")


def mount_entry(path):
    """(major:minor, fstype) of the mount at PATH, or None: read from /proc/self/mountinfo,
    which never touches the (possibly hung) filesystem itself."""
    path = os.path.realpath(path)
    found = None
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = left.split()
            if _unescape(fields[4]) == path:
                found = (fields[2], right.split()[0])  # the last one is the one on top
    return found


def is_mounted(path):
    return mount_entry(path) is not None


def fuse_abort(path):
    """Abort the FUSE connection of the mount at PATH: every call blocked in it fails with
    ENOTCONN at once.  The last resort against a hung daemon; True if it was done."""
    ent = mount_entry(path)
    if not ent or not ent[1].startswith("fuse"):
        return False
    minor = ent[0].split(":")[1]
    conns = "/sys/fs/fuse/connections"
    if not os.path.exists(os.path.join(conns, minor)):
        subprocess.run(["mount", "-t", "fusectl", "fusectl", conns], capture_output=True)
    try:
        with open(os.path.join(conns, minor, "abort"), "w") as f:
            f.write("1")
        return True
    except OSError:
        return False


def _wait(cond, timeout, interval=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(interval)
    return cond()


class MountFailed(RuntimeError):
    pass


class FsVariant:
    """A merged view of LOWER at self.root.  kind names it in tables."""

    kind = "?"
    is_fuse = False

    def __init__(self, env, lower, name=None):
        self.env = env
        self.lower = lower
        self.name = name or self.kind
        self.base = env.mkdir("fs-" + self.name)
        self.root = os.path.join(self.base, "mnt")
        self.mount_seconds = None
        self.log = os.path.join(self.base, "daemon.log")

    def start(self):
        raise NotImplementedError

    def stop(self):
        raise NotImplementedError

    def abort(self):
        """Free anything blocked on this filesystem (FUSE only)."""
        return False

    def log_tail(self, n=20):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def __repr__(self):
        return f"<{self.name} at {self.root}>"


class Native(FsVariant):
    """No overlay: a hard-linked copy of LOWER (same inodes, same page cache, new files land in
    the copy).  The baseline every ratio is taken against."""

    kind = "native"

    def start(self):
        t = time.monotonic()
        subprocess.run(["cp", "-al", self.lower, self.root], check=True)
        self.mount_seconds = time.monotonic() - t
        return self

    def stop(self):
        pass


class KernelOverlay(FsVariant):
    """Kernel overlayfs: lowerdir=LOWER, upper and work dirs in the temp dir."""

    kind = "overlayfs"

    def __init__(self, env, lower, name=None, upper=None):
        super().__init__(env, lower, name)
        self.upper = upper or os.path.join(self.base, "upper")
        self.work = os.path.join(self.base, "work")

    def start(self):
        for d in (self.upper, self.work, self.root):
            os.makedirs(d, exist_ok=True)
        opts = f"lowerdir={self.lower},upperdir={self.upper},workdir={self.work}"
        t = time.monotonic()
        r = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, self.root],
                           capture_output=True, text=True, timeout=60)
        self.mount_seconds = time.monotonic() - t
        if r.returncode != 0:
            raise MountFailed(f"mount -t overlay: {r.stderr.strip()}")
        return self

    def stop(self):
        if is_mounted(self.root):
            r = subprocess.run(["umount", self.root], capture_output=True, timeout=60)
            if r.returncode != 0:
                subprocess.run(["umount", "-l", self.root], capture_output=True, timeout=60)


class FuseDaemon(FsVariant):
    """A FUSE daemon that daemonizes once the mount is ready (the contract of both
    fuse-overlayfs and `pressfs mount`): mount time is the time the command takes.  The daemon's
    pid is found afterwards from /proc (its command line names our unique mount point)."""

    is_fuse = True
    binary = None

    def argv(self):
        raise NotImplementedError

    def start(self):
        os.makedirs(self.root, exist_ok=True)
        argv = self.argv()
        t = time.monotonic()
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=60)
        except subprocess.TimeoutExpired:
            self.stop()
            raise MountFailed(f"{argv[0]} did not return within 60 s\n{self.log_tail()}")
        self.mount_seconds = time.monotonic() - t
        if r.returncode != 0 or not is_mounted(self.root):
            self.stop()
            raise MountFailed(f"`{' '.join(argv)}` exited {r.returncode}: "
                              f"{(r.stderr or r.stdout).strip()[-800:]}\n{self.log_tail()}")
        return self

    def pids(self):
        want = os.path.realpath(self.binary)
        mp = os.fsencode(self.root)
        found = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                exe = os.readlink(f"/proc/{d}/exe").replace(" (deleted)", "")
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if exe == want and mp in argv:
                found.append(int(d))
        return found

    def abort(self):
        killed = False
        for p in self.pids():
            try:
                os.kill(p, signal.SIGKILL)
                killed = True
            except ProcessLookupError:
                pass
        return fuse_abort(self.root) or killed

    def stop(self):
        pids = self.pids()
        if is_mounted(self.root):
            r = subprocess.run([FUSERMOUNT, "-u", self.root], capture_output=True, timeout=30)
            if r.returncode != 0 and is_mounted(self.root):
                fuse_abort(self.root)
                subprocess.run([FUSERMOUNT, "-uz", self.root], capture_output=True, timeout=30)
        for p in pids:
            if not _wait(lambda: not os.path.exists(f"/proc/{p}"), 10):
                pressenv.stop_pid(p, timeout=5)


class FuseOverlayfs(FuseDaemon):
    """Debian's fuse-overlayfs (the FUSE peer), allow_other so www-data may read it."""

    kind = "fuse-overlayfs"
    binary = "/usr/bin/fuse-overlayfs"

    def __init__(self, env, lower, name=None, upper=None):
        super().__init__(env, lower, name)
        self.upper = upper or os.path.join(self.base, "upper")
        self.work = os.path.join(self.base, "work")

    def argv(self):
        for d in (self.upper, self.work):
            os.makedirs(d, exist_ok=True)
        return [self.binary, "-o", f"lowerdir={self.lower},upperdir={self.upper},"
                f"workdir={self.work},allow_other", self.root]


class Pressfs(FuseDaemon):
    """`pressfs mount -o lower=,policy=,site=,node=,log=,allow_other STORE MOUNTPOINT`."""

    kind = "pressfs"

    def __init__(self, env, lower, binary, policy, store_url, site, name=None, node=None,
                 local=None, extra=()):
        super().__init__(env, lower, name)
        self.binary = os.path.abspath(binary)
        self.policy = policy
        self.store_url = store_url
        self.site = site
        self.node = node
        self.local = local
        self.extra = list(extra)

    def argv(self):
        if not os.access(self.binary, os.X_OK):
            raise MountFailed(f"{self.binary} is not built (make pressfs)")
        o = [f"lower={self.lower}", f"policy={self.policy}", f"site={self.site}",
             f"log={self.log}", "allow_other"]
        if self.node:
            o.append(f"node={self.node}")
        if self.local:
            os.makedirs(self.local, exist_ok=True)
            o.append(f"local={self.local}")
        o += self.extra
        return [self.binary, "mount", "-o", ",".join(o), self.store_url, self.root]

    def status(self, timeout=20):
        """`pressfs status --json`, parsed."""
        r = subprocess.run([self.binary, "status", "--json", self.root], capture_output=True,
                           text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"pressfs status exited {r.returncode}: {r.stderr.strip()}")
        return json.loads(r.stdout)

    def request_counts(self):
        """{op: count} of the daemon's requests so far."""
        return dict(self.status().get("requests", {}))
