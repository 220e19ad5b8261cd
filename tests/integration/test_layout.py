# test_layout.py - the overlay's source layout keeps the shape fuse/overlay/ was cut to: no two
# files call each other in a circle, and no file grows past ~800 lines.

import collections
import os
import re

from harness import ROOT

ROOMS = [os.path.join(ROOT, "fuse", "overlay"), os.path.join(ROOT, "fuse", "local.c")]


def _sources():
    out = []
    for r in ROOMS:
        if os.path.isfile(r):
            out.append(r)
        else:
            out += [os.path.join(r, f) for f in sorted(os.listdir(r)) if f.endswith(".c")]
    return out


def _text(path):
    with open(path) as f:
        return re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)


def test_no_call_cycle_between_overlay_files():
    files = _sources()
    defined = {}
    for f in files:
        for m in re.finditer(r"^(?!static)[a-z][\w \*]*?\b(\w+)\(", _text(f), re.M):
            defined.setdefault(m.group(1), f)
    deps = collections.defaultdict(set)
    for f in files:
        s = _text(f)
        for name, where in defined.items():
            if where != f and re.search(r"\b%s\s*\(" % name, s):
                deps[f].add(where)
    state, path, cycles = {}, [], []

    def visit(u):
        state[u] = 1
        path.append(u)
        for v in sorted(deps[u]):
            if state.get(v) == 1:
                cycles.append([os.path.basename(x) for x in path[path.index(v):] + [v]])
            elif not state.get(v):
                visit(v)
        path.pop()
        state[u] = 2

    for f in files:
        if not state.get(f):
            visit(f)
    assert not cycles, cycles


def test_no_overlay_file_over_800_lines():
    long = []
    for f in _sources():
        for p in (f, f[:-2] + ".h"):
            if os.path.exists(p):
                with open(p) as fh:
                    n = sum(1 for _ in fh)
                if n > 800:
                    long.append((os.path.relpath(p, ROOT), n))
    assert not long, long
