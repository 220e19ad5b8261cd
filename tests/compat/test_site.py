"""A real WordPress on two pressfs nodes, driven through HTTP as a browser would: media uploads,
permalinks through .htaccess, refused writes, losing a node, and a fresh node joining.

Run: make compat-tests (root, Debian 12; `make all` first).  The tests share one cluster and run
in file order: the node-loss and fresh-node tests come last."""

import hashlib
import json
import os
import subprocess
import threading
import time
import urllib.parse

import pytest

import pressenv

UP = "wp-content/uploads"


def make_image(path, width, height, kind, seed):
    """A real JPEG or PNG drawn with PHP's GD (shapes and noise, so it compresses like a photo
    would, and WordPress makes every intermediate size)."""
    code = r"""
$w = %d; $h = %d; mt_srand(%d);
$im = imagecreatetruecolor($w, $h);
for ($i = 0; $i < 300; $i++) {
    $c = imagecolorallocate($im, mt_rand(0, 255), mt_rand(0, 255), mt_rand(0, 255));
    imagefilledellipse($im, mt_rand(0, $w), mt_rand(0, $h), mt_rand(10, $w / 3), mt_rand(10, $h / 3), $c);
}
for ($i = 0; $i < 20000; $i++) {
    imagesetpixel($im, mt_rand(0, $w - 1), mt_rand(0, $h - 1), mt_rand(0, 0xffffff));
}
%s
""" % (width, height, seed,
       "imagejpeg($im, '%s', 88);" % path if kind == "jpg" else "imagepng($im, '%s', 6);" % path)
    subprocess.run(["php", "-r", code], check=True, timeout=120)
    return path


def path_of(url):
    return urllib.parse.urlsplit(url).path


def whole_image(data, name):
    if name.endswith((".jpg", ".jpeg")):
        return data[:2] == b"\xff\xd8" and data.rstrip(b"\0")[-2:] == b"\xff\xd9"
    if name.endswith(".png"):
        return data[:8] == b"\x89PNG\r\n\x1a\n" and data[-12:-8] == b"\x00\x00\x00\x00" \
            and data[-8:-4] == b"IEND"
    return True


def urls_of(att):
    sizes = att.get("media_details", {}).get("sizes", {})
    return [att["source_url"]] + [s["source_url"] for s in sizes.values()]


@pytest.fixture(scope="module")
def images(cluster):
    d = cluster.env.mkdir("images")
    return {"jpg": make_image(os.path.join(d, "harbour.jpg"), 1600, 1200, "jpg", 1),
            "png": make_image(os.path.join(d, "diagram.png"), 1200, 900, "png", 2)}


def test_media_upload_on_node1_is_served_by_node2_byte_identical(cluster, images):
    n1, n2 = cluster.nodes[:2]
    b1 = cluster.browser(n1).login()
    anon2 = cluster.browser(n2)
    for kind, mime in (("jpg", "image/jpeg"), ("png", "image/png")):
        att = b1.upload(images[kind])
        assert att["mime_type"] == mime
        urls = urls_of(att)
        assert len(urls) >= 4, "WordPress made too few sizes: %s" % urls
        with open(images[kind], "rb") as f:
            original = f.read()
        for url in urls:
            status, headers, body = anon2.get(path_of(url))
            assert status == 200, (url, status)
            assert headers["Content-Type"] == mime, (url, headers["Content-Type"])
            s1, _, body1 = cluster.browser(n1).get(path_of(url))
            assert s1 == 200 and body == body1, url
            assert whole_image(body, url), url
        s, _, body = anon2.get(path_of(att["source_url"]))
        assert body == original, "the original is not the uploaded bytes"
    # the uploads live in the store, not in the image
    assert not any(f for _, _, f in os.walk(os.path.join(cluster.lower, UP)))


def test_media_new_uploads_of_one_name_get_unique_names_and_mode_0644_on_both_nodes(cluster,
                                                                                    images):
    """Media > Add New's form (async-upload.php: move_uploaded_file, wp_unique_filename's
    file_exists + scandir loop, chmod from stat of the month folder), three times with one
    name, on node 1, node 1, node 2: three files, node 2's upload sees node 1's names, every
    copy 0644 and served by both nodes at once."""
    n1, n2 = cluster.nodes[:2]
    img = make_image(os.path.join(os.path.dirname(images["jpg"]), "quay.jpg"), 800, 600, "jpg", 4)
    with open(img, "rb") as f:
        original = f.read()
    before = {n: len(n.audit()) for n in (n1, n2)}
    atts = [cluster.browser(n).login().upload_form(img) for n in (n1, n1, n2)]
    urls = [a["source_url"] for a in atts]
    names = [os.path.basename(u) for u in urls]
    assert names == ["quay.jpg", "quay-1.jpg", "quay-2.jpg"], urls
    for url in urls:
        for node in (n2, n1):
            s, h, body = cluster.browser(node).get(path_of(url))
            assert s == 200 and h["Content-Type"] == "image/jpeg", (node.name, url, s)
            assert body == original, (node.name, url)
        for node in (n1, n2):
            st = os.stat(os.path.join(node.mount, path_of(url).lstrip("/")))
            assert oct(st.st_mode & 0o7777) == "0o644", (node.name, url, oct(st.st_mode))
    # they were moved into place by move_uploaded_file(), as a browser's upload is
    moved = [os.path.basename(r["path"]) for n in (n1, n2) for r in n.audit(before[n])
             if r["op"] == "move_uploaded_file" and r["outcome"] == "allowed"]
    assert sorted(moved) == sorted(names), moved


def test_permalinks_write_htaccess_that_node2_serves_and_restarts_keep(cluster):
    n1, n2 = cluster.nodes[:2]
    with open(os.path.join(cluster.lower, ".htaccess"), "rb") as f:
        image_htaccess = f.read()
    b1 = cluster.browser(n1).login()
    fields = b1.form_fields("/wp-admin/options-permalink.php")
    assert "_wpnonce" in fields, sorted(fields)
    status, headers, body = b1.post("/wp-admin/options-permalink.php", {
        "_wpnonce": fields["_wpnonce"],
        "_wp_http_referer": fields.get("_wp_http_referer", "/wp-admin/options-permalink.php"),
        "selection": "/%postname%/", "permalink_structure": "/%postname%/",
        "category_base": "", "tag_base": "", "submit": "Save Changes"})
    assert status == 302, (status, body[:300])
    # as a browser does: follow the redirect to the settings screen, which flushes the rules
    location = urllib.parse.urlsplit(headers["Location"])
    s, _, _ = b1.get(location.path + "?" + location.query)
    assert s == 200

    def htaccess(node):
        with open(os.path.join(node.mount, ".htaccess"), "rb") as f:
            return f.read()

    for node in (n1, n2):
        text = htaccess(node)
        assert b"# BEGIN WordPress" in text and b"RewriteRule . /index.php [L]" in text, text
    with open(os.path.join(cluster.lower, ".htaccess"), "rb") as f:
        assert f.read() == image_htaccess, "the image's .htaccess changed"
    s, _, body = cluster.browser(n2).get("/hello-world/")
    assert s == 200 and b"Hello world" in body, s

    for node in (n1, n2):
        node.restart()
    cluster.wait_healthy(2)
    for node in (n1, n2):
        assert b"# BEGIN WordPress" in htaccess(node)
        s, _, body = cluster.browser(node).get("/hello-world/")
        assert s == 200 and b"Hello world" in body, (node, s)
    s, _, _ = cluster.browser().get("/hello-world/")
    assert s == 200, "through HAProxy"


def test_denied_writes_fail_cleanly_and_name_the_plugin(cluster):
    n1, n2 = cluster.nodes[:2]
    cluster.activate("pressfs-selfwrite")
    with open(os.path.join(cluster.lower, "wp-config.php"), "rb") as f:
        config = f.read()
    before = open(n1.audit_log).read().count("\n")
    s, _, body = cluster.browser(n1).get("/?pressfs_fixture=selfwrite")
    assert s == 200, body[:500]
    results = json.loads(body)
    assert [r["what"] for r in results] == ["own code", "wp-config.php", "drop-in",
                                            "php upload"]
    for r in results:
        assert r["ret"] is False, r
        # the fixture asks is_writable() of the file, or of its directory when it is missing:
        # wp-content and uploads take some names (wp-cache-config.php, media), so they are
        # writable, as on the overlay; the drop-in and the .php upload themselves are refused
        if r["what"] in ("own code", "wp-config.php"):
            assert r["writable"] is False, r
        else:
            assert r["writable"] is True, r
        assert "pressfs" in (r["error"] or "") and "plugin pressfs-selfwrite" in r["error"], r
    s, _, body = cluster.browser(n1).get("/")
    assert s == 200 and b"pressfs compat site" in body, "WordPress stopped serving"
    lines = [json.loads(l) for l in open(n1.audit_log).read().splitlines()[before:] if l]
    denied = [l for l in lines if l["outcome"] == "denied"]
    assert {os.path.basename(l["path"]) for l in denied} >= {"wp-config.php",
                                                             "advanced-cache.php", "shell.php"}
    assert all(l["culprit"] == "plugin:pressfs-selfwrite" for l in denied), denied
    # nothing landed: not in the image, not in the store (seen through the other node)
    with open(os.path.join(cluster.lower, "wp-config.php"), "rb") as f:
        assert f.read() == config
    for node_root in (cluster.lower, n2.mount):
        assert not os.path.exists(os.path.join(node_root, "wp-content/advanced-cache.php"))
        assert not os.path.exists(os.path.join(node_root, UP, "shell.php"))
        own = os.listdir(os.path.join(node_root, "wp-content/plugins/pressfs-selfwrite"))
        assert own == ["pressfs-selfwrite.php"], own


def test_losing_node1_mid_upload_leaves_node2_serving_every_whole_upload(cluster, images):
    n1, n2 = cluster.nodes[:2]
    b1 = cluster.browser(n1).login()
    done = {}
    for i in range(3):
        att = b1.upload(images["jpg"], name="before-%d.jpg" % i)
        for url in urls_of(att):
            done[path_of(url)] = cluster.browser(n1).get(path_of(url))[2]
    big = make_image(cluster.env.path("images", "panorama.jpg"), 2500, 1900, "jpg", 3)
    failed = []

    def upload_big():
        try:
            b1.upload(big)
        except Exception as e:       # noqa: BLE001 - the node dies under it: expected
            failed.append(e)

    t = threading.Thread(target=upload_big)
    t.start()
    time.sleep(0.4)
    n1.stop(kill=True)
    try:
        t.join(120)
        assert not t.is_alive()
        _check_node2_after_loss(cluster, n2, done)
    finally:
        n1.start()          # the tests after this one want two nodes again
        cluster.wait_healthy(2)


def _check_node2_after_loss(cluster, n2, done):

    anon2 = cluster.browser(n2)
    for p, body in done.items():
        s, _, got = anon2.get(p)
        assert s == 200 and got == body, p
    # nothing half-written: every image of these uploads the store holds is whole
    checked = 0
    for d, _, files in os.walk(os.path.join(n2.mount, UP)):
        for f in files:
            if not f.startswith(("before-", "panorama")):
                continue
            with open(os.path.join(d, f), "rb") as fh:
                data = fh.read()
            assert whole_image(data, f), os.path.join(d, f)
            checked += 1
    assert checked >= len(done)
    # the site keeps serving through HAProxy
    deadline = time.monotonic() + 10
    while True:
        s, _, _ = cluster.browser().get("/")
        if s == 200:
            break
        assert time.monotonic() < deadline, "HAProxy did not route around the lost node"
        time.sleep(0.2)


def commands_processed(redis):
    for line in redis.cli("INFO", "stats").splitlines():
        if line.startswith("total_commands_processed:"):
            return int(line.split(":")[1])
    raise AssertionError("no total_commands_processed in INFO")


def test_a_fresh_node_after_1000_uploads_serves_them_all_at_once(cluster):
    n1 = cluster.nodes[0]
    bulk = os.path.join(n1.mount, UP, "2026", "01")
    os.makedirs(bulk, exist_ok=True)
    want = {}
    for i in range(1000):
        data = b"\xff\xd8" + hashlib.sha256(b"%d" % i).digest() * (10 + i % 40) + b"\xff\xd9"
        name = "photo-%04d.jpg" % i
        with open(os.path.join(bulk, name), "wb") as f:
            f.write(data)
        want["/%s/2026/01/%s" % (UP, name)] = data
    before = commands_processed(cluster.redis)
    n3 = cluster.add_node()
    spent = commands_processed(cluster.redis) - before
    # mounting reads no per-file state: a handful of commands, not one per stored file
    assert spent < 100, "mounting a node cost %d Redis commands" % spent
    anon3 = cluster.browser(n3)
    for p, data in want.items():
        s, h, body = anon3.get(p)
        assert s == 200 and body == data, p
    assert len(os.listdir(os.path.join(n3.mount, UP, "2026", "01"))) == 1000
