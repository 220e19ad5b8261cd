# test_admin.py - the admin commands outside the daemon: `pressfs compat` finds its script at
# run time, not at a build-tree path baked into the binary.

import os
import shutil
import subprocess

from harness import PRESSFS


def _run(args, env=None, binary=PRESSFS):
    e = dict(os.environ)
    e.pop("PRESSFS_DATADIR", None)
    e.update(env or {})
    return subprocess.run([binary] + args, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=30, env=e)


def _fake_datadir(top):
    d = os.path.join(top, "tests", "compat")
    os.makedirs(d)
    with open(os.path.join(d, "compat.py"), "w") as f:
        f.write("import sys\nprint('fake compat', sys.argv[1:])\n")
    return top


def test_compat_uses_pressfs_datadir(workdir):
    top = _fake_datadir(os.path.join(workdir, "share"))
    r = _run(["compat", "--wordpress", "/nowhere"], env={"PRESSFS_DATADIR": top})
    assert r.returncode == 0, r.stderr
    assert "fake compat ['--wordpress', '/nowhere']" in r.stdout


def test_compat_datadir_without_script_is_an_error(workdir):
    r = _run(["compat"], env={"PRESSFS_DATADIR": workdir})
    assert r.returncode == 2
    assert "PRESSFS_DATADIR" in r.stderr


def test_compat_found_beside_an_installed_binary(workdir):
    """bin/pressfs with share/pressfs beside it: no path of the build tree is used."""
    prefix = os.path.join(workdir, "prefix")
    os.makedirs(os.path.join(prefix, "bin"))
    shutil.copy(PRESSFS, os.path.join(prefix, "bin", "pressfs"))
    _fake_datadir(os.path.join(prefix, "share", "pressfs"))
    r = _run(["compat", "-x"], binary=os.path.join(prefix, "bin", "pressfs"))
    assert r.returncode == 0, r.stderr
    assert "fake compat ['-x']" in r.stdout
