"""podenv - podman for pressfs's container tests and `make demo`: one private podman (runc, the
ulimits this machine allows, storage under /var/cache/pressfs so images outlive a clone), the
offline Debian 12 + Apache + PHP 8.2 base image cached by its inputs, and the pressfs image built
from the top-level Containerfile over it.

    pm = podenv.Podman()
    image = podenv.build_image(pm)         # localhost/pressfs:dev-*, seconds once the base is cached
    pm.run("--rm", image, "true")

Nothing in /etc changes: the settings are in a containers.conf named by CONTAINERS_CONF, and
every command gets --root/--runroot.  Containers use the host's network (no bridge, no iptables
rules to undo) and must bind 127.0.0.1 only."""

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
CACHE = os.environ.get("PRESSFS_IMAGE_CACHE", "/var/cache/pressfs")
BASE_RECIPE = os.path.join(HERE, "base", "Containerfile")
BASE_FILES = os.path.join(HERE, "base")
BASE_REPO = "localhost/pressfs-base"
BASE_TAG = BASE_REPO + ":bookworm"
# one tag per clone: two clones testing at once never run each other's binaries
IMAGE = "localhost/pressfs:dev-" + hashlib.sha256(TOP.encode()).hexdigest()[:12]
SUITE = "bookworm"
WP_SOURCE = "/usr/share/wordpress"

CONTAINERS_CONF = """\
# written by tests/containers/podenv.py: the settings podman needs on this machine
[containers]
# podman's default ulimits exceed the hard limits here, and setrlimit is not permitted
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "host"
[engine]
# crun refuses this machine's hybrid cgroups
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""


class Podman:
    """The podman command with this project's storage and settings."""

    def __init__(self, cache=CACHE):
        self.cache = cache
        self.root = os.path.join(cache, "podman", "root")
        self.runroot = os.path.join(cache, "podman", "run")
        self.tmpdir = os.path.join(cache, "podman", "tmp")
        for d in (self.root, self.runroot, self.tmpdir):
            os.makedirs(d, mode=0o700, exist_ok=True)
        self.conf = os.path.join(cache, "podman", "containers.conf")
        if not os.path.exists(self.conf) or open(self.conf).read() != CONTAINERS_CONF:
            with open(self.conf + ".new", "w") as f:
                f.write(CONTAINERS_CONF)
            os.replace(self.conf + ".new", self.conf)
        self.env = dict(os.environ, CONTAINERS_CONF=self.conf)

    def argv(self, *args):
        return ["podman", "--root", self.root, "--runroot", self.runroot,
                "--tmpdir", self.tmpdir, "--storage-driver", "overlay", *args]

    def __call__(self, *args, check=True, timeout=600, input=None, capture=True):
        """Run podman ARGS; returns its stdout (text).  Raises with podman's stderr on failure."""
        r = subprocess.run(self.argv(*args), env=self.env, text=True, input=input,
                           capture_output=capture, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError("podman %s failed (%d):\n%s%s" % (
                " ".join(args[:3]), r.returncode, r.stdout or "", (r.stderr or "")[-3000:]))
        return r.stdout if capture else ""

    def result(self, *args, timeout=600, input=None):
        """Run podman ARGS; returns the CompletedProcess, whatever its status."""
        return subprocess.run(self.argv(*args), env=self.env, text=True, input=input,
                              capture_output=True, timeout=timeout)

    def exists(self, what, name):
        return self.result(what, "exists", name).returncode == 0

    def inspect(self, name):
        return json.loads(self("inspect", name))[0]

    def rm(self, *names):
        """Remove containers by name, running or not, and their leftover mounts on the host."""
        for n in names:
            self.result("rm", "-f", "-t", "10", n, timeout=120)
        self.sweep_mounts()

    def sweep_mounts(self):
        """Unmount pressfs mounts a killed container left under this storage: a container killed
        with SIGKILL leaves the host's copy of its mount behind ("Transport endpoint is not
        connected").  Returns the paths it unmounted."""
        gone = []
        for mnt in stale_mounts(self.root):
            subprocess.run(["umount", "-l", mnt], capture_output=True)
            gone.append(mnt)
        return gone


def stale_mounts(under):
    """The FUSE mounts of pressfs on the host below UNDER (deepest first)."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fstype = right.split()[0] if right else ""
            mnt = left.split()[4].replace("\\040", " ")
            if fstype.startswith("fuse") and "pressfs" in (fstype + right) and \
                    (mnt + "/").startswith(under.rstrip("/") + "/"):
                out.append(mnt)
    return sorted(out, key=len, reverse=True)


# --- the base image: Debian 12 + Apache + PHP 8.2 (mod_php) + WordPress, made offline ----------

def apt_mirror():
    """The Debian mirror the system's apt sources name (deb822 or one-line format)."""
    for path in ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"]:
        try:
            text = open(path).read()
        except OSError:
            continue
        m = re.search(r"^URIs:\s*(\S+/debian)/?\s*$", text, re.M) or \
            re.search(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+/debian)/?\s+bookworm\b", text, re.M)
        if m:
            return m.group(1)
    return "http://deb.debian.org/debian"


def _wordpress_version():
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "wordpress"],
                       capture_output=True, text=True)
    return r.stdout.strip() or "none"


def base_key():
    """What the base image is made of: its recipe, the files it adds, the debootstrap
    parameters and the WordPress it carries.  A change to any of them makes a new base."""
    h = hashlib.sha256()
    for root, dirs, files in sorted(os.walk(BASE_FILES)):
        dirs.sort()
        for name in sorted(files):
            p = os.path.join(root, name)
            h.update(os.path.relpath(p, BASE_FILES).encode() + b"\0")
            with open(p, "rb") as f:
                h.update(f.read() + b"\0")
    h.update(("debootstrap --variant=minbase %s %s\0" % (SUITE, apt_mirror())).encode())
    h.update(("wordpress %s\0" % _wordpress_version()).encode())
    return h.hexdigest()[:16]


def _log(msg):
    print("podenv: " + msg, flush=True)


def build_base(pm, log=_log):
    """localhost/pressfs-base:bookworm, built once per set of inputs: debootstrap (minbase) from
    the system's mirror, `podman build --network=none` FROM scratch + ADD rootfs.tar, then Apache,
    mod_php and the libraries pressfs needs from Debian's archive, and Debian's WordPress copied
    to /usr/src/wordpress.  Returns the tag; a second call with the same inputs costs a lookup."""
    key = base_key()
    tag = "%s:bookworm-%s" % (BASE_REPO, key)
    stamp = os.path.join(pm.cache, "images", "base-%s.json" % key)
    if os.path.exists(stamp) and pm.exists("image", tag):
        pm("tag", tag, BASE_TAG)
        return BASE_TAG
    os.makedirs(os.path.dirname(stamp), exist_ok=True)
    # one build at a time (a demo and a test run may start together); the second finds it made
    with open(os.path.join(pm.cache, "images", ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (os.path.exists(stamp) and pm.exists("image", tag)):
            _build_base(pm, tag, stamp, log)
        pm("tag", tag, BASE_TAG)
    return BASE_TAG


def _build_base(pm, tag, stamp, log):
    images = os.path.dirname(stamp)
    for name in os.listdir(images):         # what an interrupted build left
        if name.startswith("base-") and os.path.isdir(os.path.join(images, name)):
            shutil.rmtree(os.path.join(images, name), ignore_errors=True)
    t0 = time.monotonic()
    work = tempfile.mkdtemp(prefix="base-", dir=images)
    try:
        root = os.path.join(work, "rootfs")
        mirror = apt_mirror()
        log("debootstrap --variant=minbase %s from %s (about a minute)" % (SUITE, mirror))
        r = subprocess.run(["debootstrap", "--variant=minbase", SUITE, root, mirror],
                           capture_output=True, text=True, timeout=1800)
        if r.returncode != 0:
            raise RuntimeError("debootstrap failed:\n" + r.stdout[-3000:] + r.stderr[-3000:])
        ctx = os.path.join(work, "ctx")
        os.makedirs(ctx)
        subprocess.run(["chroot", root, "apt-get", "clean"], check=True)
        with open(os.path.join(root, "etc/apt/sources.list"), "w") as f:
            sec = mirror[:-len("debian")] + "debian-security"
            f.write("deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n"
                    % (mirror, SUITE, mirror, SUITE, sec, SUITE))
        subprocess.run(["tar", "-C", root, "--numeric-owner", "-cf",
                        os.path.join(ctx, "rootfs.tar"), "."], check=True)
        shutil.rmtree(root)
        wp = os.path.join(work, "wordpress")
        subprocess.run(["cp", "-rL", WP_SOURCE, wp], check=True)
        if os.path.lexists(os.path.join(wp, "wp-config.php")):
            os.unlink(os.path.join(wp, "wp-config.php"))
        os.makedirs(os.path.join(wp, "wp-content", "uploads"), exist_ok=True)
        with tarfile.open(os.path.join(ctx, "wordpress.tar"), "w") as t:
            t.add(wp, arcname="wordpress")
        shutil.rmtree(wp)
        for name in os.listdir(BASE_FILES):
            shutil.copy(os.path.join(BASE_FILES, name), ctx)
        log("podman build %s (Apache, PHP 8.2 and libraries from Debian's archive)" % tag)
        # FROM scratch + ADD needs nothing from the network; the RUN steps reach Debian's archive
        pm("build", "--network=host", "--pull=never", "-f", os.path.join(ctx, "Containerfile"),
           "-t", tag, ctx, timeout=3600)
        # bases of older inputs are of no use any more
        for old in pm("images", "--format", "{{.Repository}}:{{.Tag}}", BASE_REPO).split():
            if old.startswith(BASE_REPO + ":bookworm-") and old != tag:
                pm.result("rmi", old)
        with open(stamp, "w") as f:
            json.dump({"tag": tag, "mirror": mirror, "seconds": round(time.monotonic() - t0)}, f)
        log("base image built in %.0f s" % (time.monotonic() - t0))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def build_image(pm, base=None, tag=IMAGE, log=_log):
    """The pressfs image from the top-level Containerfile over BASE (default: the local base),
    with obj/pressfs and obj/ext/modules/pressfs.so as its last layer.  Layers before that are
    podman's build cache, so a rebuild with new binaries takes seconds."""
    base = base or build_base(pm, log=log)
    for p in ("obj/pressfs", "obj/ext/modules/pressfs.so"):
        if not os.path.exists(os.path.join(TOP, p)):
            raise RuntimeError("%s is missing: run `make all`" % p)
    t0 = time.monotonic()
    with open(os.path.join(pm.cache, "images", ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        pm("build", "--network=none", "--pull=never", "--layers", "--build-arg", "BASE=" + base,
           "-f", os.path.join(TOP, "Containerfile"), "-t", tag, TOP, timeout=1800)
        _forget_gone_clones(pm, tag)
        # the images this tag replaced; the layers the next build reuses have children and stay
        pm.result("image", "prune", "-f")
    log("image %s built in %.1f s" % (tag, time.monotonic() - t0))
    return tag


def _forget_gone_clones(pm, tag):
    """Untag the images of clones that no longer exist (CI makes a fresh clone each run)."""
    path = os.path.join(pm.cache, "images", "clones.json")
    try:
        with open(path) as f:
            clones = json.load(f)
    except (OSError, ValueError):
        clones = {}
    clones[tag] = TOP
    for t, top in list(clones.items()):
        if not os.path.isdir(top):
            pm.result("rmi", t)
            del clones[t]
    with open(path + ".new", "w") as f:
        json.dump(clones, f, indent=1)
    os.replace(path + ".new", path)
