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
    writers = [w for w in re.findall(r"^  (\S+)$", where, re.M)
               if not w.startswith("plugin:pressfs-trial-")]
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
