# test_warm.py - the warm path: what the kernel may keep, it keeps, so repeated reads of code and
# repeated listings cost the daemon no request; and what it keeps is dropped when it changes.

import os
import threading

from harness import read_bytes, wait_for, write_bytes

UP = "wp-content/uploads"
INVAL = 0.5  # as in test_shared.py: ten times the 50 ms promise, far below any cache timeout
LISTING_OPS = ("opendir", "readdir", "releasedir")


def requests(m):
    return m.status_json()["requests"]


def grown(before, after, ops):
    return {op: after[op] - before[op] for op in ops if after[op] != before[op]}


def test_repeated_reads_of_code_cost_no_lookup_read_or_listing(nodes):
    a, _ = nodes
    code = ["wp-includes/version.php", "wp-includes/functions.php", "wp-settings.php"]
    missing = ["wp-includes/class-not-there.php", "wp-content/themes/t/patterns/none.php"]
    first = [read_bytes(a / p) for p in code]
    for p in missing:
        assert not os.path.exists(a / p)
    sorted(os.listdir(a / "wp-includes"))
    before = requests(a)
    for _ in range(20):
        assert [read_bytes(a / p) for p in code] == first
        for p in code:
            os.stat(a / p)
        for p in missing:
            assert not os.path.exists(a / p)     # negative entries are kept too
        os.listdir(a / "wp-includes")
    after = requests(a)
    # Not getattr: the permission checks of a path walk re-ask the root's attributes once its
    # one-second lifetime is over (the root's listing may change: .htaccess is shared).
    assert grown(before, after, ("lookup", "read") + LISTING_OPS) == {}, \
        "warm reads of code went to the daemon"


def test_repeated_listings_of_a_writable_directory_cost_no_request(nodes):
    a, b = nodes
    d = UP + "/2020/01"
    want = sorted(os.listdir(a / d))
    before = requests(a)
    for _ in range(20):
        assert sorted(os.listdir(a / d)) == want
    assert grown(before, requests(a), LISTING_OPS) == {}, "a warm listing went to the daemon"

    # ...and the kept listing follows changes made here and on the other node.
    write_bytes(a / d + "/made-on-a.jpg", b"a")
    assert sorted(os.listdir(a / d)) == sorted(want + ["made-on-a.jpg"])
    write_bytes(b / d + "/made-on-b.jpg", b"b")
    wait_for(lambda: "made-on-b.jpg" in os.listdir(a / d), INVAL,
             what="A's kept listing to show B's new file")
    os.unlink(b / d + "/made-on-a.jpg")
    wait_for(lambda: "made-on-a.jpg" not in os.listdir(a / d), INVAL,
             what="A's kept listing to drop the file B deleted")
    assert sorted(os.listdir(a / d)) == sorted(want + ["made-on-b.jpg"])


def test_a_listing_read_while_the_directory_changes_sees_every_lasting_entry_once(
        mount, lower):
    """Long names, so a listing takes many READDIR requests; while nodes A and B list it again
    and again, B and A keep creating and removing other names in it.  Each pass must show every
    name that stayed throughout exactly once."""
    d = UP + "/2021/many"
    os.makedirs(os.path.join(lower, d))
    lasting = set()
    for i in range(400):                       # half in the image...
        name = "lower-%04d-" % i + "x" * 180
        open(os.path.join(lower, d, name), "wb").close()
        lasting.add(name)
    a, b = mount("a"), mount("b")
    for i in range(400):                       # ...half in the store
        name = "upper-%04d-" % i + "y" * 180
        write_bytes(a / d + "/" + name, b"")
        lasting.add(name)
    for m in (a, b):
        wait_for(lambda: set(os.listdir(m / d)) == lasting, INVAL, what="the full listing")

    stop = threading.Event()
    errors = []

    def churn(m, tag):
        i = 0
        try:
            while not stop.is_set():
                p = m / d + "/churn-%s-%d" % (tag, i)
                write_bytes(p, b"c")
                if i >= 3:
                    os.unlink(m / d + "/churn-%s-%d" % (tag, i - 3))
                i += 1
        except OSError as e:
            errors.append(e)

    workers = [threading.Thread(target=churn, args=(m, m.node)) for m in (a, b)]
    for t in workers:
        t.start()
    try:
        for _ in range(15):
            for m in (a, b):
                names = [e.name for e in os.scandir(m / d)]
                seen = [n for n in names if n in lasting]
                assert len(seen) == len(set(seen)), "a lasting name listed twice on " + m.node
                assert set(seen) == lasting, "%d lasting names missing on %s" % (
                    len(lasting - set(seen)), m.node)
    finally:
        stop.set()
        for t in workers:
            t.join()
    assert errors == []
