# test_race.py - node lifetime under a rename: a thread moves a directory back and forth while
# others open, create and stat files in it.  Handlers that keep a node's name or parent across
# a store call read freed memory when the rename frees them; `make asan-integration` runs this
# against a daemon built with ASan, where that read is a report and a dead mount.

import errno
import os
import threading
import time

from harness import read_bytes, write_bytes

UP = "wp-content/uploads"
RUN_S = 8
# What a name that moved under a caller may legitimately give (never EIO, never ENOTCONN).
MOVED = {errno.ENOENT, errno.ESTALE}


def test_rename_races_open_create_stat(mount):
    a = mount("a")
    top = a / UP + "/race"
    os.makedirs(top + "/d/sub")
    names = ["f%d.txt" % i for i in range(8)]
    for n in names:
        write_bytes(top + "/d/" + n, n.encode() * 100)
        write_bytes(top + "/d/sub/" + n, n.encode())
    stop = threading.Event()
    errors, made, renames = [], [], [0]

    def renamer():
        here, there = top + "/d", top + "/e"
        while not stop.is_set():
            try:
                os.rename(here, there)
                here, there = there, here
                renames[0] += 1
            except OSError as e:
                errors.append(("rename", e))
                return

    def worker(k):
        i = 0
        while not stop.is_set():
            i += 1
            for d in ("d", "e"):
                base = "%s/%s/" % (top, d)
                for op in ("open", "create", "stat", "sub"):
                    try:
                        if op == "open":
                            with open(base + names[i % len(names)], "rb") as f:
                                f.read()
                        elif op == "create":
                            name = "new-%d-%d-%s.txt" % (k, i, d)
                            with open(base + name, "wb") as f:
                                f.write(name.encode())
                            made.append(name)
                        elif op == "stat":
                            os.stat(base + names[(i + k) % len(names)])
                        else:
                            os.listdir(base + "sub")
                            os.stat(base + "sub/" + names[i % len(names)])
                    except OSError as e:
                        if e.errno not in MOVED:
                            errors.append((op, e))
                            return

    threads = [threading.Thread(target=renamer)] + [
        threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(RUN_S)
    stop.set()
    for t in threads:
        t.join(60)
    assert not [t for t in threads if t.is_alive()], "a thread is stuck"
    assert not errors, errors[:5]
    assert renames[0] > 10, "the renamer hardly ran (%d renames)" % renames[0]
    # The mount is alive and whole: the tree is under one of the names, with every file.
    final = top + ("/d" if os.path.isdir(top + "/d") else "/e")
    assert sorted(os.listdir(top)) == [os.path.basename(final)]
    for n in names:
        assert read_bytes(final + "/" + n) == n.encode() * 100
        assert read_bytes(final + "/sub/" + n) == n.encode()
    listed = set(os.listdir(final))
    for name in made:
        assert name in listed, name
        assert read_bytes(final + "/" + name) == name.encode()


def test_file_rename_races_open_write_stat(mount):
    """The same for the nodes of files: their names are freed by every rename, while an open
    asks the store about the name (close-to-open) and a close publishes under it."""
    a = mount("a")
    top = a / UP + "/race2"
    os.makedirs(top)
    write_bytes(top + "/x", b"x" * 5000)
    stop = threading.Event()
    errors, renames = [], [0]

    def renamer():
        here, there = top + "/x", top + "/y-a-longer-name-than-x"
        while not stop.is_set():
            try:
                os.rename(here, there)
                here, there = there, here
                renames[0] += 1
            except OSError as e:
                errors.append(("rename", e))
                return

    def worker(k):
        i = 0
        while not stop.is_set():
            i += 1
            for name in ("x", "y-a-longer-name-than-x"):
                p = top + "/" + name
                try:
                    if (i + k) % 3 == 0:
                        with open(p, "r+b") as f:
                            f.write(b"x")
                    elif (i + k) % 3 == 1:
                        with open(p, "rb") as f:
                            f.read()
                    else:
                        os.stat(p)
                except OSError as e:
                    if e.errno not in MOVED:
                        errors.append((name, e))
                        return

    threads = [threading.Thread(target=renamer)] + [
        threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(RUN_S)
    stop.set()
    for t in threads:
        t.join(60)
    assert not [t for t in threads if t.is_alive()], "a thread is stuck"
    assert not errors, errors[:5]
    assert renames[0] > 10, "the renamer hardly ran (%d renames)" % renames[0]
    left = os.listdir(top)
    assert len(left) == 1, left
    assert read_bytes(top + "/" + left[0]) == b"x" * 5000
