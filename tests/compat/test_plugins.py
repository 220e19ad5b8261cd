"""Real plugins' habits on an image built the way the wordpress.org tarball is: no .htaccess
(WordPress must create it), a settings form that asks is_writable(WP_CONTENT_DIR) before it saves
its PHP config (WP Super Cache), is_writable() answers against a plain PHP over the mount, and a
delete on one node while the other lists and reads (issue 14, item 7).  A cluster of its own:
the session's image (Debian's package) ships a .htaccess."""

import json
import os
import shutil
import subprocess
import urllib.parse
import threading
import time

import pytest

import pressenv
import twonode
from test_site import make_image

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "fixtures", "pressfs-cache-config")


@pytest.fixture(scope="module")
def bare():
    if os.geteuid() != 0:
        pytest.skip("needs root (mounts, www-data workers)")
    env = pressenv.Env(prefix="pressfs-plugins-")
    c = twonode.Cluster(env, plugins=[FIXTURE], mode="enforce", nodes=2, drop=[".htaccess"])
    try:
        c.start()
        c.activate("pressfs-cache-config")
        yield c
    finally:
        c.stop()


def test_an_image_without_htaccess_gets_one_from_the_permalink_form_and_node2_serves_pretty_links(
        bare):
    n1, n2 = bare.nodes[:2]
    assert not os.path.lexists(os.path.join(bare.lower, ".htaccess"))
    b1 = bare.browser(n1).login()
    s, _, body = bare.set_permalinks(b1)
    assert s == 200
    # WordPress asked is_writable(ABSPATH . '.htaccess') / is_writable(ABSPATH) and wrote it
    assert b"You should update your" not in body, "WordPress could not write .htaccess"
    for node in (n1, n2):
        with open(os.path.join(node.mount, ".htaccess"), "rb") as f:
            text = f.read()
        assert b"# BEGIN WordPress" in text and b"RewriteRule . /index.php [L]" in text, text
    assert not os.path.lexists(os.path.join(bare.lower, ".htaccess")), "the image changed"
    s, _, body = bare.browser(n2).get("/hello-world/")
    assert s == 200 and b"Hello world" in body, s
    refused = [r for n in (n1, n2) for r in n.audit() if r["outcome"] != "allowed"
               and r["path"] == "/.htaccess"]
    assert not refused, refused


def test_a_settings_form_gated_on_is_writable_wp_content_saves_its_php_config_in_enforce_mode(
        bare):
    """WP Super Cache's "Cannot continue" check: is_writable(WP_CONTENT_DIR) before it writes
    wp-content/wp-cache-config.php, for which the policy has a rule."""
    n1, n2 = bare.nodes[:2]
    b1 = bare.browser(n1).login()
    fields = b1.form_fields("/wp-admin/options-general.php?page=pressfs-cache-config")
    fields["pressfs_cache_value"] = "saved-on-node1"
    s, _, body = b1.post("/wp-admin/options-general.php?page=pressfs-cache-config", fields)
    assert s == 200, (s, body[:300])
    assert b"Cannot continue" not in body, body[:2000]
    b2 = bare.browser(n2)
    s, _, body = b2.get("/?pressfs_fixture=pressfs-cache-config")
    r = json.loads(body)
    assert r["content_writable"] is True and r["root_writable"] is True, r
    assert r["value"] == "saved-on-node1", r
    rec = [x for x in n1.audit() if x["path"] == "/wp-content/wp-cache-config.php"]
    assert rec and all(x["outcome"] == "allowed" and x["class"] == "shared" for x in rec), rec
    assert rec[-1]["method"] == "POST" and "page=pressfs-cache-config" in rec[-1]["uri"], rec[-1]


# One path of every kind: a directory or file of each class, directories in which only some
# names may be created, a directory nothing below which can change, missing names.
AGREEMENT = [
    "", "wp-content", "wp-content/uploads", "wp-content/cache", "wp-content/plugins",
    "wp-content/plugins/pressfs-cache-config", "wp-content/themes", "wp-content/languages",
    "wp-content/mu-plugins", "wp-content/upgrade", "wp-includes", "wp-admin", "wp-admin/css",
    "wp-config.php", "index.php", "wp-content/index.php", "wp-includes/version.php",
    "wp-content/plugins/pressfs-cache-config/pressfs-cache-config.php",
    "wp-content/uploads/agree.txt", "wp-content/uploads/agree-dir",
    "wp-content/uploads/agree-dir/x.php", "wp-content/cache/agree.html",
    "wp-content/wp-cache-config.php", "wp-content/advanced-cache.php", "wp-content/debug.log",
    "wp-content/uploads/missing.jpg", "missing-dir", ".htaccess", "license.txt",
]

PROBE = ("<?php foreach (array_slice($argv, 2) as $p) { $f = $argv[1] . '/' . $p;"
         " echo $p, ' ', is_writable($f) ? 'yes' : 'no', ' ',"
         " (new SplFileInfo($f))->isWritable() ? 'yes' : 'no', \"\\n\"; }")


def writable_answers(node, with_extension):
    script = node.cluster.env.path("probe-writable.php")
    with open(script, "w") as f:
        f.write(PROBE)
    os.chmod(script, 0o644)
    argv = ["runuser", "-u", pressenv.WWW_USER, "--", "php", "-n"]
    if with_extension:
        for k, v in node.ini().items():
            argv += ["-d", "%s=%s" % (k, v)]
    r = subprocess.run(argv + [script, node.mount] + AGREEMENT, capture_output=True, text=True,
                       timeout=120, check=True)
    return dict(l.split(" ", 1) for l in r.stdout.splitlines())


def test_is_writable_agrees_with_the_overlay_for_every_class(bare):
    n1 = bare.nodes[0]
    os.makedirs(os.path.join(n1.mount, "wp-content/uploads/agree-dir"), exist_ok=True)
    with open(os.path.join(n1.mount, "wp-content/uploads/agree.txt"), "w") as f:
        f.write("x")
    os.makedirs(os.path.join(n1.mount, "wp-content/cache"), exist_ok=True)
    with open(os.path.join(n1.mount, "wp-content/cache/agree.html"), "w") as f:
        f.write("x")
    for p in ("wp-content/uploads/agree-dir",
              "wp-content/uploads/agree.txt", "wp-content/cache/agree.html"):
        shutil.chown(os.path.join(n1.mount, p), pressenv.WWW_USER, pressenv.WWW_USER)
    ext = writable_answers(n1, True)
    plain = writable_answers(n1, False)
    assert set(ext) == set(AGREEMENT)
    differ = {p: (ext[p], plain[p]) for p in AGREEMENT if ext[p] != plain[p]}
    assert not differ, "extension vs overlay: %s" % differ
    # and the table says what it should, so that agreement is not two wrong answers
    assert ext[""] == "yes yes" and ext["wp-content"] == "yes yes", ext
    assert ext["wp-content/uploads/agree.txt"] == "yes yes", ext
    assert ext["wp-config.php"] == "no no" and ext["wp-content/plugins"] == "no no", ext
    assert ext["wp-includes"] == "no no" and ext["index.php"] == "no no", ext


def test_item7_a_delete_on_node2_while_node1_lists_and_reads(bare):
    """Issue 14 item 7: node 1 listed and served a file ~0.3 s after node 2 unlinked it.  Node 1
    lists and reads a directory of shared files in a loop while node 2 deletes them one by one.
    Every read is whole (old bytes or ENOENT), a name once seen gone on node 1 (in its listing,
    an open, or an HTTP 404 from its Apache) never comes back, and each goes in the end.  The
    lags seen are printed (-s)."""
    n1, n2 = bare.nodes[:2]
    rel = "wp-content/uploads/item7"
    d2 = os.path.join(n2.mount, rel)
    os.makedirs(d2, exist_ok=True)
    names = ["f%03d.txt" % i for i in range(40)]
    body = {n: (n * 500).encode() for n in names}
    for n in names:
        with open(os.path.join(d2, n), "wb") as f:
            f.write(body[n])
    d1 = os.path.join(n1.mount, rel)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sorted(os.listdir(d1)) != names:
        time.sleep(0.05)
    assert sorted(os.listdir(d1)) == names
    unlinked = {}
    gone_at = {}
    bad = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            now = time.monotonic()
            listed = set(os.listdir(d1))
            for n in names:
                if n in gone_at and n in listed:
                    bad.append("%s listed again after it was gone" % n)
                if n not in listed and n not in gone_at:
                    gone_at[n] = now
                try:
                    with open(os.path.join(d1, n), "rb") as f:
                        data = f.read()
                except FileNotFoundError:
                    gone_at.setdefault(n, now)
                    continue
                if data != body[n]:
                    bad.append("%s read %d bytes, not its content" % (n, len(data)))
                if n in unlinked and n in gone_at:
                    bad.append("%s read on node 1 after node 1 had seen it gone" % n)

    served_gone, first_answer, stale_entry = {}, {}, []

    def get1(n):
        st, _, data = pressenv.http_get("%s/%s/%s" % (n1.url, rel, n), timeout=30)
        if st == 200 and data != body[n]:
            bad.append("%s served %d bytes, not its content" % (n, len(data)))
        elif st == 403:
            # Apache found the name (a stat the kernel answered from its entry cache) and then
            # could not open it (the daemon knows it is gone): a stale entry, not a stale file
            stale_entry.append(n)
        elif st not in (200, 404):
            bad.append("%s: HTTP %d" % (n, st))
        return st

    t = threading.Thread(target=watch)
    t.start()

    try:
        for n in names:
            os.unlink(os.path.join(d2, n))
            unlinked[n] = time.monotonic()
            # node 1's Apache, asked at once and then until it answers 404 (the issue's
            # observation was of a file served after its unlink)
            st = first_answer[n] = get1(n)
            while st in (200, 403) and time.monotonic() - unlinked[n] < 20:
                st = get1(n)
            if st == 404:
                served_gone[n] = time.monotonic()
        end = time.monotonic() + 20
        while time.monotonic() < end and (len(gone_at) < len(names) or
                                          len(served_gone) < len(names)):
            time.sleep(0.05)
    finally:
        stop.set()
        t.join(30)
    assert not bad, bad[:10]
    assert set(gone_at) == set(names), "still on node 1: %s" % sorted(set(names) - set(gone_at))
    assert set(served_gone) == set(names), \
        "still served by node 1: %s" % sorted(set(names) - set(served_gone))
    again = [n for n in names if get1(n) != 404]
    assert not again, "served again by node 1 after a 404: %s" % again
    lags = sorted(max(0.0, gone_at[n] - unlinked[n]) for n in names)
    http = sorted(max(0.0, served_gone[n] - unlinked[n]) for n in names)
    stale = sum(1 for n in names if first_answer[n] == 200)
    print("item 7: node 1 saw a name gone %.3f s (median) / %.3f s (max) after node 2's unlink;"
          " its Apache served %d of %d files once more right after the unlink, and answered"
          " 404 after %.3f s (median) / %.3f s (max)"
          % (lags[len(lags) // 2], lags[-1], stale, len(names), http[len(http) // 2], http[-1]))
    with open(os.path.join(n1.apache.dir, "error.log"), errors="replace") as f:
        why = [l.strip() for l in f if "/item7/" in l][:3]
    if stale_entry:
        # known, and the overlay's (fuse/, not the extension): the unlink's invalidation
        # reaches node 1's open before its kernel entry, so stat says yes and open says ENOENT
        pytest.xfail("item 7: node 1's Apache answered 403 for %d of %d files right after node "
                     "2's unlink (a stale kernel entry: stat found it, open failed): %s"
                     % (len(set(stale_entry)), len(names), why))


def test_an_image_owned_by_root_takes_its_first_upload():
    """Issue 14 item 6: code owned by root, wp-content/uploads missing from the image: the first
    media upload must work (WordPress makes uploads/YYYY/MM) on a mount with owner=www-data."""
    env = pressenv.Env(prefix="pressfs-rootimg-")
    c = twonode.Cluster(env, plugins=[], mode="enforce", nodes=2, owner="root",
                        drop=["wp-content/uploads"])
    try:
        c.start()
        n1, n2 = c.nodes[:2]
        assert os.stat(os.path.join(c.lower, "wp-content")).st_uid == 0
        img = make_image(env.path("first.jpg"), 64, 48, "jpg", 1)
        att = c.browser(n1).login().upload_form(img)
        s, _, data = c.browser(n2).get(urllib.parse.urlsplit(att["source_url"]).path)
        assert s == 200 and data[:2] == b"\xff\xd8", (s, att["source_url"])
    finally:
        c.stop()
