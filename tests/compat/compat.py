"""pressfs compat --wordpress DIR [--plugins DIR] [--policy FILE] [--wp-config FILE]
[--report-mode] [--keep]

What a site's plugins do on pressfs, found before adopting it, the way the site will run: the
same two-node WordPress the compatibility suite uses (tests/compat/twonode.py, everything on
loopback) is started with the user's WordPress tree and plugins, the extension in `enforce` mode,
the site's own wp-config.php constants kept (or those of --wp-config).  Pretty permalinks are
set; each plugin is activated, the front page, the dashboard and every admin page the plugin adds
are visited on both nodes, and each page's first settings form is submitted unchanged.  Then,
for every plugin: the pages visited, its writes by class, the writes refused (rule, and the
message the plugin showed), the is_writable() answers that were false, what it needs from the
image (drop-ins, constants, directories), a warning for each PHP file it was allowed to write,
and the section of docs/PLUGINS.md for a plugin pressfs knows.  --report-mode runs it a second
time in report mode and shows what differs side by side.  Exits 1 if a plugin hit a fatal error
(an HTTP 500 or a PHP fatal error naming it), 2 on bad arguments or a failed start."""

import argparse
import html
import html.parser
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import twonode  # noqa: E402
import pressenv  # noqa: E402

MENU_LINK = re.compile(rb'href=["\']((?:admin|options-general|tools|edit|themes|users|upload)'
                       rb'\.php\?page=[^"\'&#]+)')
NOTICE = re.compile(r'<div[^>]*class="[^"]*\b(?:notice|error|updated|update-nag)\b[^"]*"[^>]*>'
                    r'(.*?)</div>', re.S | re.I)
PHP_NAME = re.compile(r"\.(php\d?|phtml|phar|pht)$", re.I)
DROPINS = ("advanced-cache.php", "object-cache.php", "db.php", "db-error.php", "maintenance.php",
           "php-error.php", "fatal-error-handler.php", "sunrise.php")
# a string in the plugin's code that is a define() it writes into wp-config.php
DEFINE_STRING = re.compile(r"""["']\s*define\s*\(\s*\\?['"]([A-Z][A-Z0-9_]+)\\?['"]""")
DOCS = {"wp-super-cache": "wp-super-cache", "w3-total-cache": "w3-total-cache",
        "wp-rocket": "wp-rocket", "wp-fastest-cache": "wp-fastest-cache",
        "litespeed-cache": "litespeed-cache", "autoptimize": "autoptimize",
        "wordfence": "wordfence", "woocommerce": "woocommerce", "updraftplus": "updraftplus",
        "redis-cache": "redis-object-cache"}
# an include in wp-config.php of something but wp-settings.php (Debian's per-host files)
INCLUDE = re.compile(r"^[ \t]*(?:require|include)(?:_once)?\b[^;\n]*", re.M)
WRITTEN = ("allowed", "redirected")
REFUSED = ("denied", "reported")


def refused(r):
    """A write the policy refuses: denied (enforce), reported (report), or let through in report
    mode and failed in a class that takes no writes (the overlay refused it)."""
    return r.get("outcome") in REFUSED or (r.get("outcome") == "failed" and
                                           r.get("class") in ("deny", "none"))


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


class Forms(html.parser.HTMLParser):
    """The forms of a page as a browser would submit them unchanged: text, hidden and the
    checked boxes; each select's selected option; textareas; the first submit button."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self.cur = None
        self.select = None
        self.textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.cur = {"method": (a.get("method") or "get").lower(),
                        "action": a.get("action") or "", "fields": [], "submit": None}
            self.forms.append(self.cur)
            return
        if self.cur is None:
            return
        name = a.get("name")
        if tag == "input" and name:
            t = (a.get("type") or "text").lower()
            if t in ("checkbox", "radio"):
                if "checked" in a:
                    self.cur["fields"].append((name, a.get("value") or "on"))
            elif t in ("submit", "image"):
                if self.cur["submit"] is None:
                    self.cur["submit"] = (name, a.get("value") or "")
            elif t not in ("button", "reset", "file"):
                self.cur["fields"].append((name, a.get("value") or ""))
        elif tag == "select" and name:
            self.select = [name, None, None]     # name, selected, first
        elif tag == "option" and self.select is not None:
            v = a.get("value", "")
            if self.select[2] is None:
                self.select[2] = v
            if "selected" in a:
                self.select[1] = v
        elif tag == "textarea" and name:
            self.textarea = [name, ""]

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea[1] += data

    def handle_endtag(self, tag):
        if self.cur is None:
            return
        if tag == "select" and self.select is not None:
            v = self.select[1] if self.select[1] is not None else self.select[2]
            if v is not None:
                self.cur["fields"].append((self.select[0], v))
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            self.cur["fields"].append(tuple(self.textarea))
            self.textarea = None
        elif tag == "form":
            self.cur = None


def settings_form(body):
    """The page's main settings form: the first POST form carrying a nonce."""
    p = Forms()
    p.feed(body.decode("utf-8", "replace"))
    for f in p.forms:
        names = [n for n, _ in f["fields"]]
        if f["method"] == "post" and any(n == "_wpnonce" or n.endswith("nonce") for n in names):
            return f
    return None


def notices(body):
    out = []
    for m in NOTICE.finditer(body.decode("utf-8", "replace")):
        text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", m.group(1))).split())
        if text and text not in out:
            out.append(text[:300])
    return out


class Visit:
    """What the run saw: pages visited per plugin, and the notices shown on each URI."""

    def __init__(self, roots=()):
        self.pages = {}          # slug -> ["GET /wp-admin/...", "POST ..."]
        self.shown = {}          # uri -> [notice text]
        self.roots = sorted(roots, key=len, reverse=True)   # each node's mount: shown as ROOT

    def saw(self, slug, method, uri, body):
        line = "%s %s" % (method, uri)
        if line not in self.pages.setdefault(slug, []):
            self.pages[slug].append(line)
        for n in notices(body):
            for root in self.roots:
                n = n.replace(root.rstrip("/") + "/", "ROOT/")
            if n not in self.shown.setdefault(uri, []):
                self.shown[uri].append(n)


def submit(browser, page, form, visit, slug):
    action = urllib.parse.urljoin(page, html.unescape(form["action"])) if form["action"] else page
    parts = urllib.parse.urlsplit(action)
    action = parts.path + ("?" + parts.query if parts.query else "")
    fields = list(form["fields"])
    if form["submit"] is not None:
        fields.append(form["submit"])
    s, h, body = browser.post(action, urllib.parse.urlencode(fields).encode(),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    visit.saw(slug, "POST", action, body)
    if s in (301, 302, 303) and h.get("Location"):
        loc = urllib.parse.urlsplit(h["Location"])
        target = loc.path + ("?" + loc.query if loc.query else "")
        s, _, body = browser.get(target)
        visit.saw(slug, "GET", target, body)
    return s


def writable_rules(policy):
    """The patterns of the policy's writable rules (for: which refused directory has rules
    below it)."""
    out = []
    with open(policy) as f:
        for line in f:
            w = line.split("#", 1)[0].split()
            if len(w) == 2 and w[1] in ("shared", "cache", "local"):
                out.append(w[0])
    return out


def run(a, plugins, wp_config, mode):
    """One start of the two nodes in MODE; returns (records, visit, fatal)."""
    env = pressenv.Env(prefix="pressfs-compat-", keep=a.keep)
    c = twonode.Cluster(env, wordpress=a.wordpress, plugins=plugins, mode=mode, nodes=2,
                        policy=os.path.abspath(a.policy), wp_config=wp_config)
    fatal, visit = {}, Visit()
    try:
        print("starting WordPress on two pressfs nodes (%s mode) in %s ..." % (mode, env.dir),
              file=sys.stderr)
        c.start()
        n1, n2 = c.nodes[:2]
        visit.roots = [n.mount for n in c.nodes]
        b1 = c.browser(n1).login()
        b2 = c.browser(n2).login()
        c.set_permalinks(b1)
        known = menu_pages(b1)
        for folder in plugins:
            slug = os.path.basename(folder.rstrip("/"))
            print("  %s: activating" % slug, file=sys.stderr)
            try:
                out = c.php(n1, "require_once ABSPATH . 'wp-admin/includes/plugin.php';\n"
                            "$r = activate_plugin('%s/%s');\n"
                            "echo is_wp_error($r) ? 'error: ' . $r->get_error_message() : 'ok';"
                            % (slug, plugin_file(folder)))
            except RuntimeError as e:   # PHP itself died: a fatal error on activation
                out = str(e)
            if out.strip() != "ok":
                fatal.setdefault(slug, []).append("activation: " + out.strip()[:300])
            now = menu_pages(b1)
            mine = ["/wp-admin/" + p for p in sorted(now - known)]
            known |= now
            for browser, node in ((b1, n1), (b2, n2)):
                for p in ["/", "/wp-admin/"] + mine:
                    s, _, body = browser.get(p)
                    visit.saw(slug, "GET", p, body)
                    if s >= 500:
                        fatal.setdefault(slug, []).append("HTTP %d on %s %s" % (s, node.name, p))
                    form = settings_form(body) if s == 200 and p in mine else None
                    if form is not None and browser is b1:
                        s = submit(browser, p, form, visit, slug)
                        if s >= 500:
                            fatal.setdefault(slug, []).append(
                                "HTTP %d on %s POST %s" % (s, node.name, p))
        for node in (n1, n2):
            for line in fatal_lines(node):
                m = re.search(r"/wp-content/plugins/([^/]+)/", line)
                fatal.setdefault(m.group(1) if m else "(unknown)", []).append(line[:300])
        records = []
        for node in (n1, n2):
            for r in node.audit():
                r["node"] = node.name
                records.append(r)
        return records, visit, fatal
    finally:
        c.stop()


def summary(slug, folder, records, visit, rules, config_text):
    """The lines of one plugin's report (for one mode)."""
    who = "plugin:" + slug
    mine = [r for r in records if r.get("culprit") == who]
    lines = []
    pages = visit.pages.get(slug, [])
    lines.append("pages visited: %d" % len(pages))
    lines += ["  " + p for p in pages]
    by_class = {}
    for r in mine:
        if r.get("outcome") in WRITTEN:
            by_class[r.get("class")] = by_class.get(r.get("class"), 0) + 1
    if by_class:
        lines.append("writes: " + ", ".join("%s %d" % kv for kv in sorted(by_class.items())))
        paths = sorted(set((r["class"], r["path"]) for r in mine if r.get("outcome") in WRITTEN))
        lines += ["  %-7s %s" % cp for cp in paths]
    else:
        lines.append("writes: none")
    no = {}
    for r in mine:
        if refused(r):
            no.setdefault(r["path"], []).append(r)
    for path, rs in sorted(no.items()):
        r = rs[0]
        rule = ("line %s (%s %s)" % (r["rule"], r["pattern"], r["class"]) if r.get("rule")
                else "no rule matches")
        ops = sorted(set(x["op"] for x in rs))
        lines.append("refused: %s  %s  by %s, %s" % (path, r["class"], rule, " ".join(ops)))
        seen = []
        for x in rs:
            for n in visit.shown.get(x.get("uri") or "", []):
                if n not in seen:
                    seen.append(n)
        for n in seen:
            lines.append("  it showed: %s" % n)
    false = sorted(set(r["path"] for r in mine if r.get("outcome") == "answered-false"))
    for p in false:
        lines.append("is_writable() said false: %s" % p)
    lines += needs(slug, folder, mine, rules, config_text)
    for cls, path in sorted(set((r["class"], r["path"]) for r in mine
                                if r.get("outcome") in WRITTEN and PHP_NAME.search(r["path"])
                                and r.get("op") not in ("unlink", "rmdir"))):
        lines.append("WARNING: it was allowed to write PHP code: %s (%s); that file runs on "
                     "every node and is not the image's" % (path, cls))
    if slug in DOCS:
        lines.append("see docs/PLUGINS.md#%s" % DOCS[slug])
    return lines


def needs(slug, folder, mine, rules, config_text):
    """What the plugin needs from the image, from what it was refused (or told unwritable)."""
    out = []
    asked = [r for r in mine if refused(r) or r.get("outcome") == "answered-false"]
    paths = set(r["path"] for r in asked)
    for d in DROPINS:
        if "/wp-content/" + d in paths:
            src = None
            for base, _, files in os.walk(folder):
                if d in files:
                    src = os.path.relpath(os.path.join(base, d), os.path.dirname(folder))
                    break
            out.append("needs from the image: drop-in /wp-content/%s%s" % (
                d, " (copy %s)" % src if src else ""))
    if "/wp-config.php" in paths:
        names = []
        for base, _, files in os.walk(folder):
            for f in files:
                if f.endswith(".php"):
                    with open(os.path.join(base, f), errors="replace") as fh:
                        for m in DEFINE_STRING.finditer(fh.read()):
                            if m.group(1) not in names:
                                names.append(m.group(1))
        for n in names:
            have = re.search(r"define\s*\(\s*['\"]%s['\"]" % n, config_text or "")
            out.append("needs from the image: constant %s in wp-config.php%s" % (
                n, " (set)" if have else " (not set)"))
        if not names:
            out.append("needs from the image: its edits to wp-config.php (it tried to change "
                       "it; see what it writes there and ship that)")
    for r in asked:
        if r.get("op") == "mkdir" and any(p.startswith(r["path"] + "/") for p in rules):
            line = "needs from the image: an empty directory %s" % r["path"]
            if line not in out:
                out.append(line)
    return out


def side_by_side(left, right, width=60):
    """Rows of LEFT (enforce) and RIGHT (report) lines that differ, side by side, each line
    wrapped in its column."""
    rows = []
    only_l = [l for l in left if l not in right]
    only_r = [l for l in right if l not in left]
    for i in range(max(len(only_l), len(only_r))):
        a = textwrap.wrap(only_l[i], width, subsequent_indent="    ") if i < len(only_l) else []
        b = textwrap.wrap(only_r[i], width, subsequent_indent="    ") if i < len(only_r) else []
        for x, y in itertools.zip_longest(a, b, fillvalue=""):
            rows.append(("  %-*s | %s" % (width, x, y)).rstrip())
    return rows


def legacy_sections(records, policy):
    """Where each plugin wrote, and `pressfs audit`'s table of the same records."""
    print("\nWhere each plugin wrote, and the class the policy gives it:")
    where = {}
    for r in records:
        where.setdefault(r.get("culprit") or "?", {})[r.get("path")] = r.get("class")
    for who in sorted(where):
        print("  %s" % who)
        for path, cls in sorted(where[who].items()):
            print("    %-8s %s" % (cls, path))
    with tempfile.NamedTemporaryFile("w", prefix="pressfs-compat-audit-", suffix=".log") as out:
        for r in records:
            out.write(json.dumps({k: v for k, v in r.items() if k != "node"}) + "\n")
        out.flush()
        print("\nWhat the plugins wrote (both nodes), judged against %s:\n" % policy)
        sys.stdout.flush()
        r = subprocess.run([twonode.PRESSFS, "audit", out.name, "--policy", policy])
    if r.returncode not in (0, 1):
        print("pressfs compat: pressfs audit exited %d" % r.returncode, file=sys.stderr)


def operator_config(a):
    """The wp-config.php to run with, and where it came from."""
    if a.wp_config:
        with open(a.wp_config, errors="replace") as f:
            return f.read(), a.wp_config
    p = os.path.join(a.wordpress, "wp-config.php")
    if os.path.isfile(p):
        with open(p, errors="replace") as f:
            text = f.read()
        outside = [m.group(0).strip() for m in INCLUDE.finditer(text)
                   if "wp-settings.php" not in m.group(0)]
        if re.search(r"define\s*\(\s*['\"]DB_NAME", text) and not outside:
            return text, p
        if outside:
            print("pressfs compat: %s includes files of its own (%s): running with a fresh "
                  "wp-config.php; pass --wp-config FILE to keep your constants"
                  % (p, outside[0][:80]), file=sys.stderr)
    return "<?php\n", None


def main(argv):
    ap = argparse.ArgumentParser(prog="pressfs compat", description=__doc__.split("\n\n")[1])
    ap.add_argument("--wordpress", required=True, help="a WordPress tree (the image)")
    ap.add_argument("--plugins", help="a directory of plugin folders to try")
    ap.add_argument("--policy", default=twonode.POLICY, help="the policy to judge against")
    ap.add_argument("--wp-config", help="the wp-config.php to run with (default: the tree's "
                    "own; its database settings are replaced, every other constant kept)")
    ap.add_argument("--report-mode", action="store_true",
                    help="also run in report mode and show what differs, side by side")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir for inspection")
    a = ap.parse_args(argv)
    if not os.path.isfile(os.path.join(a.wordpress, "wp-load.php")):
        print("pressfs compat: %s is not a WordPress tree (no wp-load.php)" % a.wordpress,
              file=sys.stderr)
        return 2
    if a.wp_config and not os.path.isfile(a.wp_config):
        print("pressfs compat: --wp-config %s: no such file" % a.wp_config, file=sys.stderr)
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
    config_text, config_from = operator_config(a)
    rules = writable_rules(a.policy)
    modes = ["enforce"] + (["report"] if a.report_mode else [])
    results = {}
    try:
        for mode in modes:
            results[mode] = run(a, plugins, config_text, mode)
    except Exception as e:          # noqa: BLE001 - reported; run() stopped everything
        print("pressfs compat: %s" % e, file=sys.stderr)
        return 2
    records, visit, fatal = results["enforce"]
    print("pressfs compat: enforce mode, policy %s, wp-config.php %s" % (
        a.policy, "from " + config_from if config_from else "a fresh one (none given)"))
    print("\nEach plugin, as the site will run it (enforce mode):")
    report = {}
    for folder in plugins:
        slug = os.path.basename(folder.rstrip("/"))
        report[slug] = summary(slug, folder, records, visit, rules, config_text)
        print("\n  plugin:%s" % slug)
        for l in report[slug]:
            print("    " + l)
    if "report" in results:
        r_records, r_visit, r_fatal = results["report"]
        print("\nWhat differs in report mode (enforce | report):")
        for folder in plugins:
            slug = os.path.basename(folder.rstrip("/"))
            other = summary(slug, folder, r_records, r_visit, rules, config_text)
            rows = side_by_side(report[slug], other)
            print("\n  plugin:%s%s" % (slug, "" if rows else ": the same"))
            for row in rows:
                print("  " + row)
        for slug, what in r_fatal.items():
            fatal.setdefault(slug, []).extend("(report mode) " + w for w in what)
    legacy_sections([r for r in records if r.get("outcome") != "answered-false"], a.policy)
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
