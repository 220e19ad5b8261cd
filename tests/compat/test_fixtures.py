"""The plugin compatibility fixtures (tests/compat/fixtures/): small plugins that write files the
way named real plugins do (../shared/WRITE-PATTERNS.md), each checked for its "works means"
across both nodes, through HTTP.  The patterns core writes through its own screens (1 and 2:
media uploads and their sizes; 5: .htaccess) and the denied-writes plugin are in test_site.py."""

import hashlib
import html
import json
import os
import re
import threading
import time
import urllib.parse
import zipfile

import pytest

import twonode

UP = "wp-content/uploads"
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


@pytest.fixture(scope="module", autouse=True)
def active(cluster):
    for slug in sorted(os.listdir(FIXTURES)):
        cluster.activate(slug)


def call(cluster, node, slug, data=None, headers=None, **params):
    q = urllib.parse.urlencode(dict(params, pressfs_fixture=slug))
    b = cluster.browser(node)
    s, _, body = b.post("/?" + q, data, headers) if data is not None else b.get("/?" + q)
    assert s == 200, (slug, node.name, s, body[:600])
    return json.loads(body)


def read(node, rel):
    return read_root(node.mount, rel)


def read_root(root, rel):
    with open(os.path.join(root, rel), "rb") as f:
        return f.read()


def test_p3_month_directories_made_by_racing_requests_on_both_nodes(cluster):
    """wp_upload_dir('2031/MM') from 48 requests at once, half on each node.  Every request ends
    with the directory there and the next wp_upload_dir() has no error.  wp_mkdir_p() may still
    say no to a request that lost the race (file_exists(), then another request's mkdir, then
    its own mkdir gets EEXIST: WordPress does that on a local disk too); a no for any other
    reason, or from a request that looked after the directory was made, is pressfs's."""
    n1, n2 = cluster.nodes[:2]
    results, errors = [], []

    def worker(node, m):
        try:
            results.append(dict(call(cluster, node, "pressfs-month-dirs", ym="2031", m=m),
                                node=node.name, m=m))
        except Exception as e:      # noqa: BLE001 - reported below
            errors.append(repr(e))

    ts = [threading.Thread(target=worker, args=(n, "%02d" % (1 + i % 3)))
          for i in range(24) for n in (n1, n2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors, errors
    assert len(results) == 48
    assert all(r["is_dir"] and r["next_error"] is False for r in results), results
    for m in ("01", "02", "03"):
        mine = [r for r in results if r["m"] == m]
        # the directory was there once the first request that got a yes had it
        there = min((r for r in mine if r["ok"]), key=lambda r: r["done_at"])
        for r in mine:
            if r["ok"]:
                continue
            assert r["why"] == "mkdir(): File exists", r
            assert r["checked_at"] < there["done_at"], \
                "2031/%s was there on %s, and %s did not see it %.1f ms later: %s" % (
                    m, there["node"], r["node"], 1000 * (r["checked_at"] - there["done_at"]), r)
    for n in (n1, n2):
        assert sorted(os.listdir(os.path.join(n.mount, UP, "2031"))) == ["01", "02", "03"]


def test_p4_filesystem_method_probe_says_direct_and_leaves_nothing(cluster):
    """The temp-write-test-* probe core runs when FS_METHOD is not forced: 'direct' on both
    nodes (anything else makes WordPress ask for FTP credentials), and no probe file left in
    wp-content on either node, in the image or in a node's scratch."""
    n1, n2 = cluster.nodes[:2]
    for node in (n1, n2, n2, n1):
        r = call(cluster, node, "pressfs-direct-method")
        assert r == {"opened": True, "method": "direct", "left": []}, (node.name, r)
    for d in (os.path.join(n1.mount, "wp-content"), os.path.join(n2.mount, "wp-content"),
              os.path.join(cluster.lower, "wp-content"), n1.local, n2.local):
        left = [os.path.join(p, f) for p, _, fs in os.walk(d) for f in fs
                if f.startswith("temp-write-test-")]
        assert not left, left


def test_p6_page_cache_temp_and_rename_is_never_partial_on_the_other_node(cluster):
    n1, n2 = cluster.nodes[:2]
    seen, stop, errors = [], threading.Event(), []

    def reader():
        while not stop.is_set():
            try:
                page = call(cluster, n2, "pressfs-page-cache", step="read")["page"]
                seen.append(page)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))
                return

    t = threading.Thread(target=reader)
    t.start()
    try:
        for v in range(1, 16):
            r = call(cluster, n1, "pressfs-page-cache", step="write", v=v)
            assert r["renamed"] is True
    finally:
        stop.set()
        t.join(60)
    assert not errors, errors
    pages = [p for p in seen if p is not None]
    assert pages, "node 2 never saw the page"
    for p in pages:
        v = p.split(" ", 2)[1]
        assert p.startswith("<!-- %s start -->" % v) and p.endswith("<!-- %s end -->\n" % v), \
            "a partial page on node 2: %r ... %r" % (p[:30], p[-30:])
    last = call(cluster, n2, "pressfs-page-cache", step="read")["page"]
    assert last.startswith("<!-- v15 start -->")
    assert not [f for f in os.listdir(os.path.join(n2.mount, "wp-content/cache/supercache/"
                                                   "example.org/post")) if f != "index.html"]


def test_p7_tempnam_then_rename_into_config_is_atomic_and_included_everywhere(cluster):
    n1, n2 = cluster.nodes[:2]
    assert call(cluster, n1, "pressfs-config-tempnam", step="write", value=7) == \
        {"ok": True, "tmp_left": False}
    assert call(cluster, n2, "pressfs-config-tempnam", step="read") == {"value": 7}
    assert call(cluster, n2, "pressfs-config-tempnam", step="write", value=8)["ok"] is True
    assert call(cluster, n1, "pressfs-config-tempnam", step="read") == {"value": 8}
    assert os.listdir(os.path.join(n1.mount, "wp-content/cache/tmp")) == []


def test_p8_purge_by_directory_rename_then_recursive_delete_across_nodes(cluster):
    """WP Fastest Cache's purge: cache/all renamed to cache/tmpWpfc/N on node 2, pages cached
    again into the recreated cache/all on both nodes, tmpWpfc deleted file by file on node 1
    later: both nodes serve the new pages and neither has the purged tree."""
    n1, n2 = cluster.nodes[:2]
    assert call(cluster, n1, "pressfs-purge-rename", step="fill") == {"filled": 3}
    want = ["blog/index.html=<p>page 1</p>", "blog/page/2/index.html=<p>page 2</p>",
            "index.html=<p>page 0</p>"]
    assert call(cluster, n2, "pressfs-purge-rename", step="list") == {"all": want}
    r = call(cluster, n2, "pressfs-purge-rename", step="purge")
    assert r["renamed"] is True and r["fresh"] is True, r
    assert call(cluster, n1, "pressfs-purge-rename", step="list") == \
        {"all": ["index.html=<p>fresh</p>"]}
    purged = os.path.join("wp-content/cache/tmpWpfc", r["to"])
    assert read(n1, purged + "/blog/page/2/index.html") == b"<p>page 2</p>"
    assert call(cluster, n1, "pressfs-purge-rename", step="page", at="blog",
                body="new1")["ret"] == 11
    assert call(cluster, n2, "pressfs-purge-rename", step="page", at="blog/page/2",
                body="new2")["ret"] == 11
    assert call(cluster, n1, "pressfs-purge-rename", step="delete") == {"gone": True}
    for n in (n1, n2):
        assert not os.path.exists(os.path.join(n.mount, purged)), n.name
        assert not os.path.exists(os.path.join(n.mount, "wp-content/cache/tmpWpfc")), n.name
        for page, body in (("", b"<p>fresh</p>"), ("blog/", b"<p>new1</p>"),
                           ("blog/page/2/", b"<p>new2</p>")):
            s, _, got = cluster.browser(n).get("/wp-content/cache/all/%sindex.html" % page)
            assert (s, got) == (200, body), (n.name, page, s, got[:100])
    assert call(cluster, n2, "pressfs-purge-rename", step="list") == \
        {"all": ["blog/index.html=<p>new1</p>", "blog/page/2/index.html=<p>new2</p>",
                 "index.html=<p>fresh</p>"]}


def test_p9_generated_css_is_complete_and_served_by_the_other_node(cluster):
    n1, n2 = cluster.nodes[:2]
    r = call(cluster, n1, "pressfs-plain-put", value=3)
    assert r["ret"] == r["len"]
    s, h, body = cluster.browser(n2).get(urllib.parse.urlsplit(r["url"]).path)
    assert s == 200 and len(body) == r["len"] and body.startswith(b".post-3{"), (s, len(body))
    r = call(cluster, n2, "pressfs-plain-put", value=4)        # last writer wins
    assert read(n1, UP + "/elementor/css/post-42.css").startswith(b".post-4{")


def test_p10_lock_ex_writes_are_complete_on_every_node(cluster):
    n1, n2 = cluster.nodes[:2]
    assert call(cluster, n1, "pressfs-lock-ex", value=1)["back"] is True
    assert call(cluster, n2, "pressfs-lock-ex", value=2)["back"] is True
    assert read(n1, "wp-content/litespeed/config.ini") == b"rev 2 " + b"x" * 5000


def test_p11_r_plus_flock_rewrite_on_every_request_is_seen_everywhere(cluster):
    n1, n2 = cluster.nodes[:2]
    for i in range(8):
        r = call(cluster, (n1, n2)[i % 2], "pressfs-rplus-flock", who="n%d" % (i % 2 + 1))
        assert r["lines"] == i + 2, r          # the header line, then one per request
    for n in (n1, n2):
        lines = read(n, "wp-content/wflogs/ips.php").decode().splitlines()
        assert lines[1:] == ["hit n%d" % (i % 2 + 1) for i in range(8)], lines


def two_writers_per_node(n1, n2, worker):
    """worker(node, who) twice on each node at once, who naming the writer ("node011"...);
    returns what the workers raised."""
    errors = []

    def run(node, who):
        try:
            worker(node, who)
        except Exception as e:      # noqa: BLE001 - reported by the caller
            errors.append(repr(e))

    ts = [threading.Thread(target=run, args=(n, "%s%d" % (n.name, w)))
          for n in (n1, n2) for w in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    return errors


def test_p12_appends_from_both_nodes_lose_and_mix_nothing(cluster):
    n1, n2 = cluster.nodes[:2]
    per = 40

    def worker(node, who):
        assert call(cluster, node, "pressfs-append-log", who=who, n=per) == {"written": per}

    errors = two_writers_per_node(n1, n2, worker)
    assert not errors, errors
    want = sorted(("%s%d line %04d %s\n" % (n.name, w, i, "z" * (10 + (i * 17) % 90))).encode()
                  for n in (n1, n2) for w in range(2) for i in range(per))
    for n in (n1, n2):
        got = sorted(read(n, UP + "/wc-logs/fixture.log").splitlines(keepends=True))
        assert got == want, "on %s: %d lines, want %d" % (n.name, len(got), len(want))


def test_p12_debug_log_lines_php_appends_from_both_nodes_lose_and_mix_nothing(cluster):
    """WP_DEBUG_LOG: PHP itself appends error_log() lines and warnings to wp-content/debug.log
    (open O_APPEND, one write a line, never through the extension), two requests on each node
    at once: every line there once and whole, on both nodes."""
    n1, n2 = cluster.nodes[:2]
    per = 40

    def worker(node, who):
        r = call(cluster, node, "pressfs-debug-log", who=who, n=per)
        assert r == {"set": True, "logging": True, "written": per}, r

    errors = two_writers_per_node(n1, n2, worker)
    assert not errors, errors
    want = sorted("%s%d line %04d %s" % (n.name, w, i, "z" * (10 + (i * 17) % 90))
                  for n in (n1, n2) for w in range(2) for i in range(per))
    line = re.compile(r"\[\d\d-\w{3}-\d{4} \d\d:\d\d:\d\d UTC\] (?:PHP Warning:  )?"
                      r"(node\d\d line \d{4} z+)(?: in /\S+/pressfs-debug-log\.php on line \d+)?\n")
    for n in (n1, n2):
        text = read(n, "wp-content/debug.log").decode()
        got = []
        for l in text.splitlines(keepends=True):
            m = line.fullmatch(l)
            assert m, "a broken line in debug.log on %s: %r" % (n.name, l)
            got.append(m.group(1))
        assert sorted(got) == want, "on %s: %d lines, want %d" % (n.name, len(got), len(want))
    assert not os.path.exists(os.path.join(cluster.lower, "wp-content/debug.log"))


def test_p13_write_probes_agree_with_is_writable_and_leave_nothing(cluster):
    n1, n2 = cluster.nodes[:2]
    r = call(cluster, n1, "pressfs-write-probe")
    assert r["uploads"] == {"is_writable": True, "made": True, "left": False}, r
    assert r["own"] == {"is_writable": False, "made": False, "left": False}, r
    for root in (n2.mount, cluster.lower):
        assert not [f for f in os.listdir(os.path.join(root, UP)) if f.startswith("probe-")]


def test_p14_is_writable_gates_say_no_cleanly(cluster):
    n1 = cluster.nodes[0]
    r = call(cluster, n1, "pressfs-writable-gate")
    assert [x["is_writable"] for x in r] == [False, False], r
    s, _, _ = cluster.browser(n1).get("/")
    assert s == 200


def test_p15_create_if_missing_is_idempotent_across_nodes(cluster):
    n1, n2 = cluster.nodes[:2]
    r = call(cluster, n1, "pressfs-silence-files")
    assert r["made"] == {"index.html": True, ".htaccess": True}, r
    r = call(cluster, n2, "pressfs-silence-files")
    assert r["made"] == [] or r["made"] == {}, r
    assert r["htaccess"] == "deny from all\n"


def test_p16_drop_in_installs_by_fopen_copy_and_symlink_are_refused_cleanly(cluster):
    """object-cache.php and db.php installed the three ways plugins do, on both nodes: each
    gets false with pressfs's reason naming the plugin, and no drop-in, empty or otherwise, is
    anywhere; Query Monitor's symlink at activation was refused and recorded too."""
    n1, n2 = cluster.nodes[:2]
    for node in (n1, n2):
        r = call(cluster, node, "pressfs-dropin-install")
        assert [(x["file"], x["how"]) for x in r] == [
            (f, how) for f in ("object-cache.php", "db.php")
            for how in ("fopen", "copy", "symlink")], r
        for x in r:
            assert x["ret"] is False and x["there"] is False, (node.name, x)
            assert "pressfs" in x["error"] and "plugin pressfs-dropin-install" in x["error"], x
    for root in (cluster.lower, n1.mount, n2.mount):
        for f in ("object-cache.php", "db.php"):
            assert not os.path.lexists(os.path.join(root, "wp-content", f)), (root, f)
    denied = {(r["op"], os.path.basename(r["path"])) for r in n1.audit()
              if r["outcome"] == "denied" and r["culprit"] == "plugin:pressfs-dropin-install"}
    assert ("symlink", "db.php") in denied, denied


def test_p17_wp_config_edits_are_refused_and_the_plugin_shows_its_notice(cluster):
    """WP Super Cache's settings page on each node tries to add WP_CACHE to wp-config.php by
    file_put_contents, temp file + rename and copy: all three get false, the page shows the
    plugin's "couldn't modify it" notice, wp-config.php is untouched everywhere and no temp
    file is left."""
    n1, n2 = cluster.nodes[:2]
    with open(os.path.join(cluster.lower, "wp-config.php"), "rb") as f:
        config = f.read()
    for node in (n1, n2):
        before = len(node.audit())
        s, _, body = cluster.browser(node).login().get(
            "/wp-admin/options-general.php?page=pressfs-config-edit")
        assert s == 200, (node.name, s)
        page = body.decode()
        m = re.search(r'<pre id="pressfs-config-edit-tried">(.*?)</pre>', page, re.S)
        tried = json.loads(html.unescape(m.group(1)))
        assert [t["how"] for t in tried] == ["file_put_contents", "rename", "copy"], tried
        for t in tried:
            assert t["ret"] is False and not t.get("tmp_left"), (node.name, t)
            assert "pressfs" in t["error"] and "plugin pressfs-config-edit" in t["error"], t
        assert 'id="pressfs-config-edit-notice"' in page and \
            "wp-config.php</code> file and I couldn&#8217;t modify it" in page, node.name
        denied = {r["op"] for r in node.audit(before) if r["outcome"] == "denied"
                  and r["path"] == "/wp-config.php"
                  and r["culprit"] == "plugin:pressfs-config-edit"}
        assert denied == {"file_put_contents", "rename", "copy"}, (node.name, denied)
    for root in (cluster.lower, n1.mount, n2.mount):
        assert read_root(root, "wp-config.php") == config, root
    for n in (n1, n2):
        assert not [f for f in os.listdir(os.path.join(n.mount, "wp-content/cache"))
                    if f.startswith("wpsc")], n.name
    s, _, _ = cluster.browser(n2).get("/")
    assert s == 200


def _generated_config_reads(cluster, node, rounds=3, parallel=6):
    """Reads of pressfs-generated-config on NODE, PARALLEL at a time so that several php-fpm
    workers answer."""
    out, errors = [], []

    def one():
        try:
            out.append(call(cluster, node, "pressfs-generated-config", step="read"))
        except Exception as e:      # noqa: BLE001 - reported below
            errors.append(repr(e))

    for _ in range(rounds):
        ts = [threading.Thread(target=one) for _ in range(parallel)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
    assert not errors, errors
    return out


def test_p18_generated_php_config_changed_on_one_node_is_included_new_everywhere(cluster):
    """WP Super Cache's settings save: wp-cache-config.php rewritten on one node (a temp file in
    wp-content/cache renamed over it) and opcache_invalidate() there only, while every php-fpm
    worker of both nodes holds the old version in opcache (validate_timestamps=0, as production
    runs it).  The next include on either node, whichever worker answers, include_once or
    include, gives the new value, and each node invalidated it once, not once per worker."""
    n1, n2 = cluster.nodes[:2]
    assert call(cluster, n1, "pressfs-generated-config", step="write", value=1) == {"ok": True}
    # older than opcache.file_update_protection (2 s), so that opcache keeps what it compiles
    time.sleep(3)
    for n in (n1, n2):
        reads = _generated_config_reads(cluster, n)
        assert {(r["once"], r["include"], r["bytes"]) for r in reads} == {(1, 1, 1)}, reads
        assert all(r["opcache"] for r in reads), reads
        assert len({r["pid"] for r in reads}) > 1, (n.name, "one worker answered everything")
    for value, writer in ((2, n1), (3, n2)):
        counts = {n.name: call(cluster, n, "pressfs-generated-config", step="read")["invalidated"]
                  for n in (n1, n2)}
        assert call(cluster, writer, "pressfs-generated-config", step="write",
                    value=value) == {"ok": True}
        for n in (n2, n1) if writer is n1 else (n1, n2):
            first = call(cluster, n, "pressfs-generated-config", step="read")
            reads = [first] + _generated_config_reads(cluster, n)
            assert {(r["once"], r["include"], r["bytes"]) for r in reads} == \
                {(value, value, value)}, (n.name, value, reads)
            # the first include on the node told opcache; the other workers found it done
            assert max(r["invalidated"] for r in reads) == counts[n.name] + 1, \
                (n.name, value, counts, reads)
    for n in (n1, n2):
        assert not [f for f in os.listdir(os.path.join(n.mount, "wp-content/cache"))
                    if f.endswith(".php")], n.name


def test_p19_auto_prepend_files_are_refused(cluster):
    n1, n2 = cluster.nodes[:2]
    r = call(cluster, n1, "pressfs-user-ini")
    assert r == {"user_ini": False, "waf": False}, r
    for root in (cluster.lower, n2.mount):
        assert not os.path.exists(os.path.join(root, ".user.ini"))
        assert not os.path.exists(os.path.join(root, "wordfence-waf.php"))


def test_p20_chunks_sent_to_alternating_nodes_join_in_order(cluster):
    n1, n2 = cluster.nodes[:2]
    chunks = [bytes([65 + i]) * (300000 + i * 1000) for i in range(5)]
    for i, c in enumerate(chunks):
        last = i == len(chunks) - 1
        params = {"id": "form7file", "last": 1} if last else {"id": "form7file"}
        r = call(cluster, (n1, n2)[i % 2], "pressfs-chunked-upload", data=c, **params)
        assert r["size"] == sum(len(x) for x in chunks[:i + 1]), (i, r)
        if last:
            assert r["renamed"] is True
    for n in (n1, n2):
        assert read(n, UP + "/gravity_forms/tmp/form7file.bin") == b"".join(chunks)


def test_p21_form_upload_moved_into_a_local_folder_works_for_one_request(cluster):
    """A multipart form upload on each node, moved by move_uploaded_file() into Contact Form
    7's wpcf7_uploads/<random>/ and Elementor's elementor/tmp/<id>/, chmod 0400, read back and
    removed in the same request: every step works, the bytes read back are the uploaded ones,
    and nothing is left on either node (the local class keeps it off the store)."""
    n1, n2 = cluster.nodes[:2]
    data = os.urandom(40000)
    want = {"made": True, "moved": True, "chmod": True, "perms": "400",
            "sha1": hashlib.sha1(data).hexdigest(), "gone": True}
    for node in (n1, n2):
        before = len(node.audit())
        for to in ("wpcf7", "elementor"):
            ctype, body = twonode.multipart({"your-name": "pressfs"},
                                            {"file": ("cv.pdf", data, "application/pdf")})
            r = call(cluster, node, "pressfs-local-upload", data=body,
                     headers={"Content-Type": ctype}, to=to)
            assert r == want, (node.name, to, r)
        moved = [(r["path"].split("/")[3], r["class"]) for r in node.audit(before)
                 if r["op"] == "move_uploaded_file" and r["outcome"] == "allowed"]
        assert sorted(moved) == [("elementor", "local"), ("wpcf7_uploads", "local")], moved
    for n in (n1, n2):
        for d in ("wpcf7_uploads", "elementor/tmp"):
            p = os.path.join(n.mount, UP, d)
            assert not os.path.exists(p) or os.listdir(p) == [], (n.name, d, os.listdir(p))
        assert not [f for _, _, fs in os.walk(n.local) for f in fs if f.startswith("cv")]


def test_p22_optimizer_replaces_the_original_atomically_and_keeps_a_backup(cluster):
    n1, n2 = cluster.nodes[:2]
    assert call(cluster, n1, "pressfs-optimizer", step="write") == {"ok": True}
    r = call(cluster, n2, "pressfs-optimizer", step="read")
    assert r == {"size": 24000, "bak": 45000, "tmp": False}, r


def test_p25_ziparchive_export_is_a_complete_zip_on_the_other_node(cluster):
    n1, n2 = cluster.nodes[:2]
    r = call(cluster, n1, "pressfs-zip-export", id="req1")
    assert r["open"] is True and r["closed"] is True and r["size"] > 0, r
    path = os.path.join(n2.mount, UP, "wp-personal-data-exports", "export-req1.zip")
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        assert len(z.namelist()) == 20
    assert os.path.getsize(path) == r["size"]
