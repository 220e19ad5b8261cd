"""loopfs - fresh ext4 file systems for the bench's native-side small-file cells: a sparse file,
mkfs.ext4, a loop device, a mount; stop() unmounts, detaches and deletes it.

ext4 avoids reusing inodes freed by a recent mass delete for a while, so files created minutes
after an `rm -rf` of thousands of others are created far slower (and at a rate that varies run to
run).  The pressfs column never sees that (its files live in Redis), so the columns that write to
ext4 (native, kernel overlayfs, fuse-overlayfs) get an image on which nothing was ever deleted."""

import os
import subprocess

import mounts

MKFS = ["mkfs.ext4", "-q", "-F", "-m", "0", "-E", "lazy_itable_init=0,lazy_journal_init=0"]
METHOD = ("a fresh ext4 image per column, round and class (a sparse file in the temp dir, "
          "`mkfs.ext4 -E lazy_itable_init=0,lazy_journal_init=0`, loop-mounted, removed after), "
          "so nothing was deleted on it before")


def _run(argv, timeout=120):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise mounts.MountFailed(f"`{' '.join(argv)}` exited {r.returncode}: "
                                 f"{(r.stderr or r.stdout).strip()[-300:]}")
    return r.stdout


def backing_files():
    """{loop device: backing file} of every attached loop device (from /sys, no tool needed)."""
    out = {}
    try:
        names = os.listdir("/sys/block")
    except OSError:
        return out
    for d in names:
        if not d.startswith("loop"):
            continue
        try:
            with open(f"/sys/block/{d}/loop/backing_file") as f:
                out[f"/dev/{d}"] = f.read().strip()
        except OSError:
            pass
    return out


class Ext4Image:
    """A new, empty ext4 mounted at .root (mode 0777), in ENV's temp dir."""

    def __init__(self, env, name, size_mib=1024):
        self.env = env
        self.name = name
        self.image = env.path(f"{name}.img")
        self.root = env.mkdir(f"{name}.mnt")
        self.size_mib = size_mib
        self.dev = None

    def start(self):
        with open(self.image, "wb") as f:
            f.truncate(self.size_mib << 20)
        _run(MKFS + [self.image])
        self.dev = _run(["losetup", "--find", "--show", self.image]).strip()
        _run(["mount", "-t", "ext4", self.dev, self.root])
        os.chmod(self.root, 0o777)
        return self

    def stop(self):
        if mounts.is_mounted(self.root):
            r = subprocess.run(["umount", self.root], capture_output=True, timeout=120)
            if r.returncode != 0:
                subprocess.run(["umount", "-l", self.root], capture_output=True, timeout=60)
        if self.dev and backing_files().get(self.dev) == self.image:
            subprocess.run(["losetup", "-d", self.dev], capture_output=True, timeout=60)
        self.dev = None
        for p in (self.image,):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
        try:
            os.rmdir(self.root)
        except OSError:
            pass

    def __repr__(self):
        return f"<ext4 image {self.image} on {self.dev}>"


class ImageNative(mounts.FsVariant):
    """The native column on a fresh image: its root is the image's mount (nothing of the lower
    tree: the small-file workloads only write and read their own files)."""

    kind = "native"

    def __init__(self, env, lower, image, name=None):
        super().__init__(env, lower, name)
        self.image = image
        self.root = image.root

    def start(self):
        self.mount_seconds = 0.0
        return self

    def stop(self):
        pass


class ImageOverlay(mounts.KernelOverlay):
    """Kernel overlayfs whose upper and work dirs are on IMAGE."""

    def __init__(self, env, lower, image, name=None):
        super().__init__(env, lower, name, upper=os.path.join(image.root, "upper"))
        self.work = os.path.join(image.root, "work")


class ImageFuseOverlay(mounts.FuseOverlayfs):
    """fuse-overlayfs whose upper and work dirs are on IMAGE."""

    def __init__(self, env, lower, image, name=None):
        super().__init__(env, lower, name, upper=os.path.join(image.root, "upper"))
        self.work = os.path.join(image.root, "work")


def fresh_column(env, kind, lower, name):
    """Start an image and a KIND file system (native, overlayfs, fuse-overlayfs) on it; both
    are stopped by env.close() if the caller does not stop them first.  Returns (fs, image)."""
    img = env.start(Ext4Image(env, name))
    if kind == "native":
        fs = ImageNative(env, lower, img, name)
    elif kind == "overlayfs":
        fs = ImageOverlay(env, lower, img, name)
    elif kind == "fuse-overlayfs":
        fs = ImageFuseOverlay(env, lower, img, name)
    else:
        raise ValueError(kind)
    env.start(fs)
    return fs, img
