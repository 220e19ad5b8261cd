# writer.py - a helper process for test_crash: rewrites its files old <-> new, forever, in one of
# the ways PHP code rewrites files, until the mount under it dies or it is killed.
#   writer.py METHOD INDEX:PATH...   METHOD is trunc (fopen w), rdwr (r+ + ftruncate) or rename

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import versioned_content  # noqa: E402


def rewrite(method, path, data):
    if method == "trunc":
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
        try:
            for off in range(0, len(data), 65536):
                os.write(fd, data[off:off + 65536])
        finally:
            os.close(fd)
    elif method == "rdwr":
        fd = os.open(path, os.O_RDWR)
        try:
            for off in range(0, len(data), 65536):
                os.write(fd, data[off:off + 65536])
            os.ftruncate(fd, len(data))
        finally:
            os.close(fd)
    elif method == "rename":
        tmp = "%s.tmp.%d" % (path, os.getpid())
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            for off in range(0, len(data), 65536):
                os.write(fd, data[off:off + 65536])
        finally:
            os.close(fd)
        os.rename(tmp, path)
    else:
        raise SystemExit("unknown method " + method)


def main():
    method = sys.argv[1]
    files = [(int(a.split(":", 1)[0]), a.split(":", 1)[1]) for a in sys.argv[2:]]
    passes, where = 0, ""
    try:
        while passes < 100000:
            for tag in ("new", "old"):
                for i, path in files:
                    where = "pass %d, %s %s -> %s" % (passes, method, os.path.basename(path), tag)
                    rewrite(method, path, versioned_content(i, tag))
            passes += 1
            if passes == 1:
                print("ready", flush=True)
    except OSError as e:
        print("stopped %s (%s)" % (os.strerror(e.errno), where), flush=True)


if __name__ == "__main__":
    main()
