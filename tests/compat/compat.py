"""pressfs compat --wordpress DIR [--plugins DIR] [--policy FILE] [--keep]

What a site's plugins write, found before adopting pressfs: the same two-node WordPress the
compatibility suite uses (tests/compat/twonode.py, everything on loopback) is started with the
user's WordPress tree and plugins, the extension in `report` mode (nothing is refused; every
write is recorded with the plugin that made it).  Each plugin is activated, the front page, the
dashboard and the plugin's own admin pages are visited on both nodes, and the audit logs become
a per-plugin table (`pressfs audit`): what it wrote, where, the class the policy gives it, what
enforce mode would refuse, and the policy lines that would allow it.  Exits 1 if a plugin hit a
fatal error (an HTTP 500 or a PHP fatal error naming it), 2 on bad arguments or a failed
start."""

import argparse
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import twonode  # noqa: E402
import pressenv  # noqa: E402

MENU_LINK = re.compile(rb'href=["\']((?:admin|options-general|tools|edit|themes|users|upload)'
                       rb'\.php\?page=[^"\'&#]+)')


def plugin_file(folder):
    """FOLDER/x.php whose header names the plugin (as WordPress finds it)."""
    for name in sorted(os.listdir(folder)):
        p = os.path.join(folder, name)
        if name.endswith(".php") and os.path.isfile(p):
            with open(p, "rb") as f:
                if re.search(rb"^[ \t/*#@]*Plugin Name:", f.read(8192), re.M):
                    return name
    return None


def menu_pages(browser):
    s, _, body = browser.get("/wp-admin/")
    return set(m.decode() for m in MENU_LINK.findall(body)) if s == 200 else set()


def fatal_lines(node):
    try:
        with open(node.php_error_log, errors="replace") as f:
            return [l.strip() for l in f if "PHP Fatal error" in l]
    except (OSError, TypeError):
        return []


def main(argv):
    ap = argparse.ArgumentParser(prog="pressfs compat", description=__doc__.split("\n\n")[1])
    ap.add_argument("--wordpress", required=True, help="a WordPress tree (the image)")
    ap.add_argument("--plugins", help="a directory of plugin folders to try")
    ap.add_argument("--policy", default=twonode.POLICY, help="the policy to judge against")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir for inspection")
    a = ap.parse_args(argv)
    if not os.path.isfile(os.path.join(a.wordpress, "wp-load.php")):
        print("pressfs compat: %s is not a WordPress tree (no wp-load.php)" % a.wordpress,
              file=sys.stderr)
        return 2
    plugins = []
    if a.plugins:
        for d in sorted(os.listdir(a.plugins)):
            folder = os.path.join(a.plugins, d)
            if os.path.isdir(folder) and plugin_file(folder):
                plugins.append(folder)
        if not plugins:
            print("pressfs compat: no plugin folders in %s" % a.plugins, file=sys.stderr)
            return 2
    if os.geteuid() != 0:
        print("pressfs compat: run as root (it mounts, and runs PHP as www-data)",
              file=sys.stderr)
        return 2

    env = pressenv.Env(prefix="pressfs-compat-", keep=a.keep)
    c = twonode.Cluster(env, wordpress=a.wordpress, plugins=plugins, mode="report", nodes=2,
                        policy=os.path.abspath(a.policy))
    fatal = {}
    try:
        print("starting WordPress on two pressfs nodes (report mode) in %s ..." % env.dir,
              file=sys.stderr)
        c.start()
        n1, n2 = c.nodes[:2]
        b1 = c.browser(n1).login()
        b2 = c.browser(n2).login()
        known = menu_pages(b1)
        for folder in plugins:
            slug = os.path.basename(folder.rstrip("/"))
            main_file = plugin_file(folder)
            print("  %s: activating" % slug, file=sys.stderr)
            try:
                out = c.php(n1, "require_once ABSPATH . 'wp-admin/includes/plugin.php';\n"
                            "$r = activate_plugin('%s/%s');\n"
                            "echo is_wp_error($r) ? 'error: ' . $r->get_error_message() : 'ok';"
                            % (slug, main_file))
            except RuntimeError as e:   # PHP itself died: a fatal error on activation
                out = str(e)
            if out.strip() != "ok":
                fatal.setdefault(slug, []).append("activation: " + out.strip()[:300])
            pages = ["/", "/wp-admin/"]
            now = menu_pages(b1)
            pages += ["/wp-admin/" + p for p in sorted(now - known)]
            known |= now
            for browser, node in ((b1, n1), (b2, n2)):
                for p in pages:
                    s, _, _ = browser.get(p)
                    if s >= 500:
                        fatal.setdefault(slug, []).append("HTTP %d on %s %s" % (s, node.name, p))
        for node in (n1, n2):
            for line in fatal_lines(node):
                m = re.search(r"/wp-content/plugins/([^/]+)/", line)
                fatal.setdefault(m.group(1) if m else "(unknown)", []).append(line[:300])
        logs = [n.audit_log for n in (n1, n2)]
        merged = env.path("audit-all.log")
        with open(merged, "wb") as out:
            for log in logs:
                with open(log, "rb") as f:
                    out.write(f.read())
        print("\nWhere each plugin wrote, and the class the policy gives it:")
        where = {}
        with open(merged, errors="replace") as f:
            for line in f:
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                where.setdefault(r.get("culprit") or "?", {})[r.get("path")] = r.get("class")
        for who in sorted(where):
            print("  %s" % who)
            for path, cls in sorted(where[who].items()):
                print("    %-8s %s" % (cls, path))
        print("\nWhat the plugins wrote (both nodes), judged against %s:\n" % a.policy)
        sys.stdout.flush()
        r = subprocess.run([twonode.PRESSFS, "audit", merged, "--policy", a.policy])
        if r.returncode not in (0, 1):
            print("pressfs compat: pressfs audit exited %d" % r.returncode, file=sys.stderr)
    except Exception as e:          # noqa: BLE001 - reported, and everything is stopped
        print("pressfs compat: %s" % e, file=sys.stderr)
        return 2
    finally:
        c.stop()
    if fatal:
        print("\nFatal errors:")
        for slug, what in sorted(fatal.items()):
            for w in what:
                print("  %s: %s" % (slug, w))
        return 1
    print("\nNo plugin hit a fatal error.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
