# test_site_health.py - the must-use plugin in a real WordPress on a pressfs node: the Site
# Health screen in headless Chromium (logged in by cookie, screenshots kept) and the WP-CLI
# command, through a minimal WP_CLI stand-in because Debian 12 does not package WP-CLI.

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "compat"))
sys.path.insert(0, os.path.join(TOP, "tests", "env"))
import pressenv  # noqa: E402
import twonode  # noqa: E402

PLUGIN = os.path.join(TOP, "wordpress", "mu-plugins", "pressfs-health.php")
CHROMIUM = shutil.which("chromium")
OUTPUT = os.path.join(TOP, "obj", "test-output", "ops")


class CookieHandoff:
    """A loopback page that sets the WordPress session cookies and redirects to the site:
    cookies are per host, not per port, so Chromium arrives at WordPress logged in."""

    def __init__(self, cookies, target):
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(302)
                for k, v in outer.cookies.items():
                    self.send_header("Set-Cookie", "%s=%s; Path=/" % (k, v))
                self.send_header("Location", outer.target)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.cookies, self.target = cookies, target
        self.srv = http.server.HTTPServer((pressenv.LOOPBACK, 0), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = "http://%s:%d/" % (pressenv.LOOPBACK, self.srv.server_port)

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def chromium(env, url, *mode):
    profile = env.mkdir("chromium-%d" % len(os.listdir(env.dir)))
    r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                        "--no-first-run", "--user-data-dir=" + profile,
                        "--virtual-time-budget=20000", "--window-size=1280,2600"] +
                       list(mode) + [url], capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def site_health(env, handoff, name):
    """The Site Health screen after its scripts ran: {section: html} and a screenshot."""
    os.makedirs(OUTPUT, exist_ok=True)
    shot = os.path.join(OUTPUT, "site-health-%s.png" % name)
    chromium(env, handoff.url, "--screenshot=" + shot)
    assert os.path.getsize(shot) > 10000, "an empty screenshot"
    dom = chromium(env, handoff.url, "--dump-dom")
    with open(os.path.join(OUTPUT, "site-health-%s.html" % name), "w") as f:
        f.write(dom)
    marks = {s: dom.find('id="health-check-issues-%s"' % s)
             for s in ("critical", "recommended", "good")}
    assert all(v >= 0 for v in marks.values()), "not the Site Health screen:\n" + dom[:3000]
    order = sorted(marks.items(), key=lambda kv: kv[1]) + [("end", len(dom))]
    return {order[i][0]: dom[order[i][1]:order[i + 1][1]] for i in range(3)}


WP_CLI_SHIM = r"""<?php
namespace {
define('WP_CLI', true);
class WP_CLI {
    public static $commands = array();
    public static function add_command($name, $callable) { self::$commands[$name] = $callable; }
    public static function line($s = '') { echo $s, "\n"; }
    public static function success($s) { echo "Success: $s\n"; }
    public static function warning($s) { echo "Warning: $s\n"; }
    public static function error($s) { echo "Error: $s\n"; throw new RuntimeException($s); }
}
}
namespace WP_CLI\Utils {
function format_items($format, $items, $fields) {
    if ($format === 'json') { echo json_encode($items), "\n"; return; }
    foreach ($items as $i) echo implode("\t", array_map(function ($f) use ($i) { return $i[$f]; }, $fields)), "\n";
}
}
namespace {
$_SERVER['HTTP_HOST'] = '%(host)s';
$_SERVER['REQUEST_URI'] = '/';
require '%(root)s/wp-load.php';
$class = WP_CLI::$commands['pressfs'];
$cmd = new $class();
try { $cmd->%(method)s(array(), %(assoc)s); } catch (RuntimeException $e) { exit(1); }
}
"""


def wp_cli(env, node, method, assoc="array()"):
    script = env.path("wp-cli-%s.php" % method)
    with open(script, "w") as f:
        f.write(WP_CLI_SHIM % {"host": "%s:%d" % (pressenv.LOOPBACK, node.port),
                               "root": node.mount, "method": method, "assoc": assoc})
    os.chmod(script, 0o644)
    argv = ["runuser", "-u", pressenv.WWW_USER, "--", "php"]
    for k, v in node.ini().items():
        argv += ["-d", "%s=%s" % (k, v)]
    return subprocess.run(argv + [script], capture_output=True, text=True, timeout=120,
                          cwd=node.mount)


@pytest.mark.skipif(not CHROMIUM, reason="Debian's chromium is not installed (make deps)")
def test_site_health_and_wp_cli():
    env = pressenv.Env(prefix="pressfs-ops-wp-")  # in $TMPDIR: www-data must reach it
    try:
        image = env.path("wordpress")
        subprocess.run(["cp", "-rL", pressenv.WP_SOURCE, image], check=True)
        mu = os.path.join(image, "wp-content", "mu-plugins")
        os.makedirs(mu, exist_ok=True)
        shutil.copy(PLUGIN, mu)
        with open(os.path.join(mu, "pressfs-local.php"), "w") as f:
            f.write("<?php define( 'PRESSFS_BIN', %r );\n" % twonode.PRESSFS)
            # for the screenshot only: open the "Passed tests" list once the tests ran
            f.write("add_action( 'admin_footer', function () { echo '<script>setTimeout("
                    "function () { var b = document.querySelector(\".site-health-view-passed\");"
                    " if (b) b.click(); }, 4000);</script>'; } );\n")
        cluster = twonode.Cluster(env, wordpress=image, nodes=1)
        cluster.start()
        node = cluster.nodes[0]
        b = cluster.browser(node).login()
        handoff = CookieHandoff(b.cookies, node.url + "/wp-admin/site-health.php")
        try:
            s = site_health(env, handoff, "up")
            for label in ("pressfs: the PHP extension is on (enforce mode)",
                          "pressfs: the policy is loaded", "pressfs: the mount answers",
                          "pressfs: the store is reachable",
                          "pressfs: no writes refused in the last hour"):
                assert label in s["good"], (label, s)
            assert "pressfs" not in s["critical"]

            r = wp_cli(env, node, "status")
            assert r.returncode == 0 and "Success: pressfs is healthy" in r.stdout, r
            cluster.php(node, "@file_put_contents(ABSPATH . 'wp-content/plugins/pfs-x.php', 'x');")
            r = wp_cli(env, node, "refusals", "array('format' => 'json')")
            rows = json.loads(r.stdout.strip().splitlines()[-1])
            assert any(row["path"] == "/wp-content/plugins/pfs-x.php" and "deny" in row["rule"]
                       for row in rows), r.stdout

            env.stop(cluster.redis)
            s = site_health(env, handoff, "store-down")
            assert "pressfs: the store is not reachable" in s["critical"], s["critical"]
            assert "pressfs: the mount answers" in s["good"]
            assert "pressfs: writes were refused in the last hour" in s["recommended"]
            r = wp_cli(env, node, "status")
            assert r.returncode == 1 and "store" in r.stdout and "critical" in r.stdout, r
        finally:
            handoff.close()
    finally:
        env.close()
