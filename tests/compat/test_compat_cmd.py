"""`pressfs compat`, run as a user would, on plugins made for it: a logger writing into uploads
on every page view, a plugin rewriting PHP in its own folder, one whose settings page saves
into a folder no rule covers, and a selection of the suite's own fixtures (tests/compat/fixtures),
all in one run; then, separately, one whose admin page dies of a fatal error."""

import os
import re
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PRESSFS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "obj", "pressfs")


# Fixtures that write on activation or on their own settings page, which is what `pressfs
# compat` visits, and two that write only when a test asks them to.
FIXTURES = ["pressfs-config-edit", "pressfs-dropin-install", "pressfs-page-cache",
            "pressfs-zip-export"]


def compat(plugins):
    if os.geteuid() != 0:
        pytest.skip("needs root (mounts, www-data workers)")
    return subprocess.run([PRESSFS, "compat", "--wordpress", "/usr/share/wordpress",
                           "--plugins", plugins],
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def trial(tmp_path_factory):
    """One `pressfs compat` run on the trial plugins and a selection of the suite's fixtures
    (one folder of links to them, as a user's plugins folder would be)."""
    d = tmp_path_factory.mktemp("plugins")
    for name in os.listdir(os.path.join(HERE, "trial-plugins")):
        os.symlink(os.path.join(HERE, "trial-plugins", name), d / name)
    for name in FIXTURES:
        os.symlink(os.path.join(HERE, "fixtures", name), d / name)
    return compat(str(d))


def test_compat_reports_what_each_plugin_wrote_and_the_lines_to_add(trial):
    r = trial
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    # where each one wrote, with its class
    assert "shared   /wp-content/uploads/wc-logs/trial.log" in out, out
    assert "deny     /wp-content/plugins/pressfs-trial-selfupdate/generated.php" in out, out
    assert "none     /wp-content/pressfs-trial/settings.json" in out, out
    # what enforce mode would refuse, and the policy lines that would allow it
    refused = out.split("Refused writes", 1)[1]
    assert "pressfs-trial-selfupdate/generated.php" in refused
    assert "pressfs-trial-settings" in refused and "trial.log" not in refused
    lines = out.split("Policy lines", 1)[1]
    assert "/wp-content/pressfs-trial/settings.json      shared" in lines, lines
    assert "No plugin hit a fatal error." in out


def test_compat_exits_non_zero_when_a_plugin_fatals():
    r = compat(os.path.join(HERE, "trial-fatal"))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Fatal errors:" in r.stdout
    assert "pressfs-trial-fatal" in r.stdout.split("Fatal errors:", 1)[1]


def section(out, title):
    """The lines of OUT's section starting with TITLE, up to the next blank line."""
    return out.split(title, 1)[1].split("\n\n", 1)[0]


def test_compat_on_the_suites_fixtures_lists_their_writes_classes_and_refusals(trial):
    """Of the fixtures, the two that write on activation or on their settings page are the
    writers listed: WP Super Cache's wp-config.php edit (its temp files in the cache class,
    wp-config.php refused on each node's visit for file_put_contents, rename and copy) and
    Query Monitor's db.php symlink at activation (refused); the others wrote nothing."""
    r = trial
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    where = section(out, "Where each plugin wrote, and the class the policy gives it:")
    # core: the .htaccess of the pretty permalinks compat sets first
    assert "  core\n    shared   /.htaccess\n" in where, where
    writers = [w for w in re.findall(r"^  (\S+)$", where, re.M)
               if not w.startswith("plugin:pressfs-trial-") and w != "core"]
    assert writers == ["plugin:pressfs-config-edit", "plugin:pressfs-dropin-install"], where
    config = where.split("plugin:pressfs-config-edit\n", 1)[1].split("\n  plugin:", 1)[0]
    assert "    deny     /wp-config.php\n" in config, where
    temps = re.findall(r"^    cache    /wp-content/cache/wpsc\w{6}$", config, re.M)
    assert len(temps) >= 4, where          # two temp files on each node's visit
    dropin = where.split("plugin:pressfs-dropin-install\n", 1)[1].split("\n  plugin:", 1)[0]
    assert dropin.strip() == "deny     /wp-content/db.php", where
    table = section(out, "WRITER ")
    assert re.search(r"^plugin:pressfs-config-edit +\d+ +\d+ +6 ", table, re.M), table
    assert re.search(r"^plugin:pressfs-dropin-install +1 +1 +1 +0  symlink 1$", table, re.M), \
        table
    refused = section(out, "Refused writes")
    for who, path in (("config-edit", "/wp-config.php"), ("dropin-install", "/wp-content/db.php")):
        mine = refused.split("plugin:pressfs-%s\n" % who, 1)[1].split("\n  plugin:", 1)[0]
        assert re.findall(r"^    (\S+) +(\S+) ", mine, re.M) == [(path, "deny")], refused
    lines = out.split("Policy lines", 1)[1]
    for p in ("/wp-config.php", "/wp-content/db.php"):
        assert re.search(r"^%s .*PHP code: a writable copy would run" % re.escape(p), lines,
                         re.M), lines


# ---- as the operator will run it: enforce mode, their wp-config.php, forms submitted ----

OPERATOR_CONFIG = """<?php
define( 'DB_NAME', 'their_db' );
define( 'DB_USER', 'their_user' );
define( 'DB_PASSWORD', 'secret' );
define( 'DB_HOST', 'db.internal' );
define( 'PRESSFS_COMPAT_KEPT', 'yes' );
define( 'WP_REDIS_HOST', '127.0.0.1' );
$table_prefix = 'wp_';
if ( ! defined( 'ABSPATH' ) ) {
	define( 'ABSPATH', __DIR__ . '/' );
}
require_once ABSPATH . 'wp-settings.php';
"""


@pytest.fixture(scope="module")
def operator(tmp_path_factory):
    """`pressfs compat --report-mode --wp-config FILE` on a plugin that needs a drop-in and
    constants, one that writes nothing, and one whose settings form saves a PHP file."""
    d = tmp_path_factory.mktemp("operator")
    for name in os.listdir(os.path.join(HERE, "compat-plugins")):
        os.symlink(os.path.join(HERE, "compat-plugins", name), d / name)
    os.symlink(os.path.join(HERE, "fixtures", "pressfs-cache-config"), d / "pressfs-cache-config")
    cfg = d.parent / "operator-wp-config.php"
    cfg.write_text(OPERATOR_CONFIG)
    if os.geteuid() != 0:
        pytest.skip("needs root (mounts, www-data workers)")
    return subprocess.run([PRESSFS, "compat", "--wordpress", "/usr/share/wordpress",
                           "--plugins", str(d), "--wp-config", str(cfg), "--report-mode"],
                          capture_output=True, text=True, timeout=1200)


def plugin_report(out, slug, part="Each plugin, as the site will run it"):
    text = out.split(part, 1)[1]
    return text.split("\n  plugin:%s\n" % slug, 1)[1].split("\n\n", 1)[0]


def test_compat_names_the_dropin_and_the_constants_a_plugin_needs(operator):
    r = operator
    assert r.returncode == 0, r.stdout + r.stderr
    assert "enforce mode" in r.stdout.splitlines()[0], r.stdout[:300]
    mine = plugin_report(r.stdout, "pressfs-compat-dropin")
    assert ("needs from the image: drop-in /wp-content/advanced-cache.php "
            "(copy pressfs-compat-dropin/advanced-cache.php)") in mine, mine
    assert "needs from the image: constant WP_CACHE in wp-config.php (not set)" in mine, mine
    assert "needs from the image: constant PRESSFS_COMPAT_HOME in wp-config.php" in mine, mine
    # the refusal, its rule, and what the plugin itself said about it
    assert re.search(r"refused: /wp-content/advanced-cache\.php  deny  by line \d+ "
                     r"\(/wp-content/advanced-cache\.php deny\), copy", mine), mine
    assert "it showed: Page caching is off: could not install" in mine, mine
    assert "is_writable() said false: /wp-config.php" in mine, mine


def test_compat_lists_a_plugin_that_writes_nothing_with_the_pages_it_visited(operator):
    mine = plugin_report(operator.stdout, "pressfs-compat-quiet")
    assert "writes: none" in mine, mine
    assert "  GET /wp-admin/options-general.php?page=pressfs-compat-quiet" in mine, mine
    assert "  POST /wp-admin/options.php" in mine, mine       # its form, submitted unchanged
    assert "refused:" not in mine and "WARNING" not in mine, mine


def test_compat_shows_the_file_a_settings_form_wrote_and_warns_it_is_php(operator):
    mine = plugin_report(operator.stdout, "pressfs-cache-config")
    assert "  POST /wp-admin/options-general.php?page=pressfs-cache-config" in mine, mine
    assert re.search(r"^    writes: .*shared \d+", mine, re.M), mine
    assert "  shared  /wp-content/wp-cache-config.php" in mine, mine
    assert ("WARNING: it was allowed to write PHP code: /wp-content/wp-cache-config.php "
            "(shared)") in mine, mine
    assert "is_writable() said false" not in mine, mine      # wp-content is writable


def test_compat_report_mode_shows_what_differs_side_by_side(operator):
    out = operator.stdout
    diff = out.split("What differs in report mode (enforce | report):", 1)[1]
    mine = diff.split("\n  plugin:pressfs-compat-dropin", 1)[1].split("\n\n", 1)[0]
    # enforce mode's is_writable() says false for wp-config.php (the policy refuses it); in
    # report mode nothing is refused, so nothing is recorded and the need goes unseen
    assert re.search(r"^    is_writable\(\) said false: /wp-config\.php +\| *$", mine, re.M), mine
    assert "\n  plugin:pressfs-compat-quiet: the same" in diff, diff


def test_compat_keeps_the_operators_constants_and_forces_nothing():
    """The operator's wp-config.php as compat runs it: their database settings replaced by the
    test site's, every other constant kept, DISALLOW_FILE_MODS not added; valid PHP."""
    import twonode
    text = twonode.operator_wp_config(OPERATOR_CONFIG, {"name": "wp", "user": "u",
                                                        "password": "p", "host": "127.0.0.1"})
    assert "define( 'PRESSFS_COMPAT_KEPT', 'yes' );" in text
    assert "define( 'WP_REDIS_HOST', '127.0.0.1' );" in text
    assert "// (pressfs compat) define( 'DB_HOST', 'db.internal' );" in text
    assert "DISALLOW_FILE_MODS" not in text
    assert text.count("wp-settings.php';") == 2          # theirs commented out, ours last
    r = subprocess.run(["php", "-l"], input=text, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_compat_links_a_plugin_it_knows_to_its_section_of_plugins_md(tmp_path):
    import compat
    with open(os.path.join(os.path.dirname(os.path.dirname(HERE)), "docs", "PLUGINS.md")) as f:
        anchors = set(re.sub(r"[^a-z0-9 -]", "", l[3:].strip().lower()).replace(" ", "-")
                      for l in f if l.startswith("## "))
    for slug, anchor in compat.DOCS.items():
        assert anchor in anchors, (slug, anchor, anchors)
        lines = compat.summary(slug, str(tmp_path), [], compat.Visit(), [], "")
        assert "see docs/PLUGINS.md#%s" % anchor in lines, lines
    lines = compat.summary("pressfs-compat-quiet", str(tmp_path), [], compat.Visit(), [], "")
    assert not [l for l in lines if "PLUGINS.md" in l], lines
