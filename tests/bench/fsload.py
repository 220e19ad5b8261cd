"""fsload - the file workloads of `make bench`, run as a child process per measurement so that a
hung filesystem can be aborted without taking the harness down.  Prints one JSON object.

    fsload.py mkdir DIR...
    fsload.py rm DIR...                         remove trees (not timed)
    fsload.py write FILE MIB [--fsync]          sequential write, 1 MiB blocks
    fsload.py read FILE [--drop-caches]         sequential read, 1 MiB blocks
    fsload.py small DIR COUNT SIZE [SECS]       create+write+close COUNT files (or as many as
                                                SECS allow), then read them back
    fsload.py renameover DIR COUNT TARGETS [SECS]  write a temp file, rename it over a target
    fsload.py upload DIR MIB COUNT              COUNT files of MIB each, open to close timed
    fsload.py crossnode ADIR BDIR COUNT         close() on A to new content readable on B
    fsload.py populate DIR COUNT THREADS SECS   many 10-byte files, as fast as THREADS can
    fsload.py files DIR KIND COUNT MIN MAX      static files for the web servers (KIND uploads
                                                or pages), MIN-MAX bytes; prints their paths
"""

import json
import os
import random
import shutil
import sys
import threading
import time

MIB = 1 << 20
BLOCK = os.urandom(MIB)


def out(**kw):
    print(json.dumps(kw))


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def cmd_mkdir(dirs):
    for d in dirs:
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o777)  # so php-fpm (www-data) may write there too
    out(ok=True)


def cmd_rm(dirs):
    t = time.perf_counter()
    for d in dirs:
        if os.path.isdir(d):
            shutil.rmtree(d)
        elif os.path.lexists(d):
            os.unlink(d)
    out(ok=True, seconds=time.perf_counter() - t)


def cmd_write(path, mib, fsync):
    t = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for _ in range(mib):
            view = memoryview(BLOCK)
            while view:
                n = os.write(fd, view)
                view = view[n:]
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    s = time.perf_counter() - t
    out(seconds=s, mb_s=mib * MIB / s / 1e6)


def cmd_read(path, drop):
    if drop:
        drop_caches()
    buf = bytearray(MIB)
    total = 0
    t = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            total += n
    s = time.perf_counter() - t
    out(seconds=s, bytes=total, mb_s=total / s / 1e6)


def cmd_small(d, count, size, seconds=None):
    """COUNT files, or as many as SECONDS allow (a slow file system must not stretch the run:
    the rate is then taken over the files it did create, and `files` says how many)."""
    os.makedirs(d, exist_ok=True)
    data = BLOCK[:size]
    names = []
    t = time.perf_counter()
    stop = t + seconds if seconds else None
    for i in range(count):
        p = os.path.join(d, f"f{i:05d}")
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, data)
        os.close(fd)
        names.append(p)
        if stop and time.perf_counter() > stop:
            break
    create_s = time.perf_counter() - t
    count = len(names)
    t = time.perf_counter()
    bad = 0
    for p in names:
        fd = os.open(p, os.O_RDONLY)
        got = os.read(fd, size + 1)
        os.close(fd)
        bad += got != data
    read_s = time.perf_counter() - t
    t = time.perf_counter()
    for p in names:
        os.unlink(p)
    unlink_s = time.perf_counter() - t
    out(create_per_s=count / create_s, read_per_s=count / read_s,
        unlink_per_s=count / unlink_s, mismatches=bad, files=count)


def cmd_renameover(d, count, targets, seconds=None):
    os.makedirs(d, exist_ok=True)
    data = BLOCK[:4096]
    t = time.perf_counter()
    stop = t + seconds if seconds else None
    done = 0
    for i in range(count):
        tmp = os.path.join(d, f".tmp-{i}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, data)
        os.close(fd)
        os.rename(tmp, os.path.join(d, f"page-{i % targets:03d}.html"))
        done += 1
        if stop and time.perf_counter() > stop:
            break
    s = time.perf_counter() - t
    out(ops_per_s=done / s, ops=done)


def cmd_upload(d, mib, count):
    os.makedirs(d, exist_ok=True)
    t = time.perf_counter()
    for i in range(count):
        fd = os.open(os.path.join(d, f"upload-{i}.bin"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                     0o644)
        for _ in range(mib):
            view = memoryview(BLOCK)
            while view:
                n = os.write(fd, view)
                view = view[n:]
        os.close(fd)
    s = time.perf_counter() - t
    out(seconds=s, mb_s=mib * MIB * count / s / 1e6)


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def cmd_crossnode(adir, bdir, count, timeout=2.0):
    os.makedirs(adir, exist_ok=True)
    names = [f"x{i:04d}" for i in range(count)]
    # every file exists and has been read on B once: B has it cached, the hard case
    for n in names:
        with open(os.path.join(adir, n), "wb") as f:
            f.write(b"v0 " + n.encode() + b"\n")
    deadline = time.monotonic() + 60
    for n in names:
        while _read(os.path.join(bdir, n)) != b"v0 " + n.encode() + b"\n":
            if time.monotonic() > deadline:
                out(error=f"B never saw the first version of {n}")
                return
            time.sleep(0.001)
    lat, timeouts = [], 0
    for n in names:
        content = b"v1 %s %d\n" % (n.encode(), time.time_ns())
        with open(os.path.join(adir, n), "wb") as f:
            f.write(content)
        t0 = time.perf_counter()  # close() has returned
        while True:
            if _read(os.path.join(bdir, n)) == content:
                break
            if time.perf_counter() - t0 > timeout:
                timeouts += 1
                break
            time.sleep(0.0002)
        lat.append((time.perf_counter() - t0) * 1000)
    lat.sort()
    out(p50_ms=lat[len(lat) // 2], p99_ms=lat[min(len(lat) - 1, int(len(lat) * 0.99))],
        max_ms=lat[-1], timeouts=timeouts, samples=len(lat))


def cmd_populate(d, count, threads, seconds):
    per_dir = 1000
    ndirs = (count + per_dir - 1) // per_dir
    deadline = time.monotonic() + seconds
    done = [0] * threads
    errors = []

    def work(k):
        try:
            for di in range(k, ndirs, threads):
                sub = os.path.join(d, f"d{di:04d}")
                os.makedirs(sub, exist_ok=True)
                for fi in range(min(per_dir, count - di * per_dir)):
                    if time.monotonic() > deadline:
                        return
                    with open(os.path.join(sub, f"f{fi:04d}.txt"), "wb") as f:
                        f.write(b"c%04d%05d" % (di % 10000, fi))  # 10 bytes: the memory row
                    done[k] += 1
        except OSError as e:
            errors.append(str(e))

    os.makedirs(d, exist_ok=True)
    t = time.perf_counter()
    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    s = time.perf_counter() - t
    out(files=sum(done), seconds=s, per_s=sum(done) / s, errors=errors[:3])


def cmd_files(d, kind, count, lo, hi):
    """COUNT files of LO-HI bytes, the same sizes on every column, laid out as WordPress lays
    them out: uploads/YYYY/MM/name.jpg, or a page cache's host/post/index-https.html."""
    rnd = random.Random(count * 7919 + lo)
    paths = []
    for i in range(count):
        if kind == "uploads":
            p = f"2024/{i % 12 + 1:02d}/image-{i:04d}.jpg"
        else:
            p = f"127.0.0.1/post-{i:04d}/index-https.html"
        full = os.path.join(d, p)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(BLOCK[:rnd.randint(lo, hi)])
        paths.append(p)
    out(paths=paths)


def main(argv):
    cmd, a = argv[1], argv[2:]
    if cmd == "mkdir":
        cmd_mkdir(a)
    elif cmd == "rm":
        cmd_rm(a)
    elif cmd == "write":
        cmd_write(a[0], int(a[1]), "--fsync" in a)
    elif cmd == "read":
        cmd_read(a[0], "--drop-caches" in a)
    elif cmd == "small":
        cmd_small(a[0], int(a[1]), int(a[2]), float(a[3]) if len(a) > 3 else None)
    elif cmd == "renameover":
        cmd_renameover(a[0], int(a[1]), int(a[2]), float(a[3]) if len(a) > 3 else None)
    elif cmd == "upload":
        cmd_upload(a[0], int(a[1]), int(a[2]))
    elif cmd == "crossnode":
        cmd_crossnode(a[0], a[1], int(a[2]))
    elif cmd == "populate":
        cmd_populate(a[0], int(a[1]), int(a[2]), float(a[3]))
    elif cmd == "files":
        cmd_files(a[0], a[1], int(a[2]), int(a[3]), int(a[4]))
    else:
        sys.exit(f"fsload: unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
