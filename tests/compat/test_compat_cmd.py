"""`pressfs compat`, run as a user would, on plugins made for it: a logger writing into uploads
on every page view, a plugin rewriting PHP in its own folder, one whose settings page saves
into a folder no rule covers, and (separately) one whose admin page dies of a fatal error."""

import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
PRESSFS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "obj", "pressfs")


def compat(plugins):
    return subprocess.run([PRESSFS, "compat", "--wordpress", "/usr/share/wordpress",
                           "--plugins", os.path.join(HERE, plugins)],
                          capture_output=True, text=True, timeout=600)


def test_compat_reports_what_each_plugin_wrote_and_the_lines_to_add():
    r = compat("trial-plugins")
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
    r = compat("trial-fatal")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Fatal errors:" in r.stdout
    assert "pressfs-trial-fatal" in r.stdout.split("Fatal errors:", 1)[1]
