"""loopfs - ext4 file systems on loop devices for the bench: a fresh one per native-side
small-file cell (a sparse file, mkfs.ext4, a loop device, a mount; stop() unmounts, detaches and
deletes it), and the data disk in RAM that holds the lower tree and the ext4 columns' files.

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

    mkfs = MKFS

    def __init__(self, env, name, size_mib=1024):
        self.env = env
        self.name = name
        self.image = env.path(f"{name}.img")
        self.root = env.mkdir(f"{name}.mnt")
        self.size_mib = size_mib
        self.dev = None

    def make_image(self):
        with open(self.image, "wb") as f:
            f.truncate(self.size_mib << 20)

    def start(self):
        self.make_image()
        _run(self.mkfs + [self.image])
        self.dev = _run(["losetup", "--find", "--show", self.image]).strip()
        _run(["mount", "-t", "ext4", self.dev, self.root])
        os.chmod(self.root, 0o777)
        return self

    def stop(self):
        if mounts.is_mounted(self.root):
            r = subprocess.run(["umount", self.root], capture_output=True, timeout=120)
            if r.returncode != 0:
                subprocess.run(["umount", "-l", self.root], capture_output=True, timeout=60)
        # "IMAGE (deleted)" once a RamDisk has unlinked its file
        if self.dev and backing_files().get(self.dev, "").startswith(self.image):
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


class RamDisk(Ext4Image):
    """The data disk: an ext4 on a loop device whose file is in /dev/shm, all of it written
    before mkfs, and unlinked once attached (the memory goes with the loop device, whatever
    stops the run).  The lower tree and the ext4 columns' files live on it, so a cold read
    (drop_caches) or an fsync reaches a device of constant speed, not the virtual machine's
    disk, whose speed varied 400-2,000 MB/s between two reads of the same file."""

    # one inode per 8 KiB: the cold-start workload stores 100,000 files per ext4 column
    mkfs = MKFS + ["-i", "8192"]
    SHM = "/dev/shm"

    def __init__(self, env, name, size_mib):
        super().__init__(env, name, size_mib)
        self.image = os.path.join(self.SHM, f"{os.path.basename(env.dir)}-{name}.img")

    def make_image(self):
        fd = os.open(self.image, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            # every page written now, not only allocated, so that no measured write is the
            # first to touch a page of the disk: with posix_fallocate the first round's native
            # 512 MiB write ran at a quarter of the next ones (docs/PERFORMANCE.md has the runs)
            zeros = bytes(64 << 20)
            left = self.size_mib << 20
            while left:
                left -= os.write(fd, zeros[:min(left, len(zeros))])
        except OSError:
            os.close(fd)
            os.unlink(self.image)
            raise
        os.close(fd)

    def start(self):
        try:
            super().start()
        finally:
            if os.path.exists(self.image):
                os.unlink(self.image)
        return self


def ram_disk_mib(a, lower_mib):
    """How big the data disk must be for the workloads of A: the lower tree, the large file
    and one written copy, the static files, and the cold-start files of three ext4 columns."""
    mib = 512 + lower_mib
    if "bigfile" in a.only:
        mib += 2 * a.big_mib
    if "uploads" in a.only:
        mib += 64 * a.upload_64m_count + a.upload_1m_count
    if "static" in a.only:
        mib += 3 * a.static_files * 140 // 1024
    if "coldstart" in a.only:
        mib += 3 * a.cold_files * 5 // 1024  # a 4 KiB block, an inode and a name each
    return mib


def ram_available_mib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    return 0


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


class DiskNative(mounts.Native):
    """The native column on the data disk: a hard-linked copy of LOWER (which is on it too)."""

    def __init__(self, env, lower, disk, name=None):
        super().__init__(env, lower, name)
        self.root = os.path.join(disk.root, "native")


class ImageOverlay(mounts.KernelOverlay):
    """Kernel overlayfs whose upper and work dirs are on IMAGE (in its directory SUB)."""

    def __init__(self, env, lower, image, name=None, sub=""):
        super().__init__(env, lower, name, upper=os.path.join(image.root, sub, "upper"))
        self.work = os.path.join(image.root, sub, "work")


class ImageFuseOverlay(mounts.FuseOverlayfs):
    """fuse-overlayfs whose upper and work dirs are on IMAGE (in its directory SUB)."""

    def __init__(self, env, lower, image, name=None, sub=""):
        super().__init__(env, lower, name, upper=os.path.join(image.root, sub, "upper"))
        self.work = os.path.join(image.root, sub, "work")


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
