# treegen.py - source trees for the import tests: names with every awkward byte a Linux name
# may hold, contents and attributes a test can check back exactly.

import os
import random

BASE_MTIME_NS = 1_600_000_000_123_456_789
MODES = (0o644, 0o600, 0o640, 0o755, 0o444)


def odd_name(i):
    """The i-th file name: spaces, UTF-8, newlines, leading dashes, 255 bytes, raw bytes."""
    kind = i % 9
    if kind == 0:
        return b"with space %d.jpg" % i
    if kind == 1:
        return ("caf\u00e9-\u00fcn\u00efc\u00f8d\u00e9-%d-\u65e5\u672c.png" % i).encode()
    if kind == 2:
        return b"line\nbreak-%d.txt" % i
    if kind == 3:
        return b"-rf-%d" % i
    if kind == 4:
        return b"--help=%d" % i
    if kind == 5:
        head = b"n%06d-" % i
        return head + b"x" * (255 - len(head) - 4) + b".bin"
    if kind == 6:
        return b"latin1-\xe9\xff-%d" % i      # not UTF-8: names are bytes
    if kind == 7:
        return b"tab\tquote'\"back\\slash-%d" % i
    return b"plain-%d.webp" % i


def dir_name(d):
    return [b"2024", "m\u00e4rz %d".encode() % d, b"-dash-%d" % d, b"\nnl-%d" % d][d % 4] + \
        (b"-%d" % d)


def content(i, size):
    return random.Random(i).randbytes(size)


def make_tree(top, nfiles, big=(), skipped=True):
    """Write NFILES files below TOP (bytes path) spread over nested odd directories; BIG lists
    sizes of extra large files.  Returns {relpath(bytes): (data, mode, mtime_ns)} of what the
    import must copy, and the list of relpaths the shipped policy refuses."""
    rng = random.Random(nfiles)
    want, refused = {}, []
    dirs = [b""]
    for d in range(40):
        parent = dirs[rng.randrange(len(dirs))] if d > 3 else b""
        dirs.append(parent + b"/" + dir_name(d))
    for d in dirs[1:]:
        os.makedirs(top + d, exist_ok=True)

    def put(rel, data, mode, mtime):
        with open(top + rel, "wb") as f:
            f.write(data)
        os.chmod(top + rel, mode)
        os.utime(top + rel, ns=(mtime, mtime))

    for i in range(nfiles):
        rel = dirs[i % len(dirs)] + b"/" + odd_name(i)
        size = rng.choice((0, 1, 17, 100, 511, 1000, 2048, 4000))
        data = content(i, size)
        mode = MODES[i % len(MODES)]
        mtime = BASE_MTIME_NS + i * 1_000_003
        put(rel, data, mode, mtime)
        want[rel] = (data, mode, mtime)
    for j, size in enumerate(big):
        rel = b"/big-%d.bin" % j
        data = content(10**6 + j, size)
        put(rel, data, 0o644, BASE_MTIME_NS - j)
        want[rel] = (data, 0o644, BASE_MTIME_NS - j)
    if skipped:
        for j in range(5):        # deny: code where uploads land
            rel = dirs[j + 1] + b"/shell-%d.php" % j
            put(rel, b"<?php echo 1;", 0o644, BASE_MTIME_NS)
            refused.append(rel)
        os.makedirs(top + b"/wpcf7_uploads", exist_ok=True)
        for j in range(3):        # local: a per-peer scratch, not the store's
            rel = b"/wpcf7_uploads/att-%d.pdf" % j
            put(rel, b"pdf", 0o644, BASE_MTIME_NS)
            refused.append(rel)
    return want, refused
