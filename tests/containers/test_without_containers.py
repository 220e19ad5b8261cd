"""Without containers: deploy/mount.pressfs (what `mount -t fuse.pressfs` and fstab lines run)
and deploy/systemd/pressfs@.service, each run for real against a Redis on 127.0.0.1 with the
site's least-privilege ACL user; the mount helper also as installed in the image."""

import os
import re
import shutil
import subprocess
import urllib.parse

import pytest

import podsite
import pressenv

HELPER = os.path.join(podsite.TOP, "deploy", "mount.pressfs")
UNIT = os.path.join(podsite.TOP, "deploy", "systemd", "pressfs@.service")
MOUNT_UNIT = os.path.join(podsite.TOP, "deploy", "systemd", "var-www-html.mount")
PRESSFS = os.path.join(podsite.TOP, "obj", "pressfs")
POLICY = os.path.join(podsite.TOP, "policies", "wordpress.policy")


def mounted(path):
    with open("/proc/self/mounts") as f:
        return any(l.split()[1] == path and l.split()[2] == "fuse.pressfs" for l in f)


@pytest.fixture(scope="module")
def redis():
    env = pressenv.Env(prefix="pressfs-helper-")
    try:
        r = env.start(podsite.Redis(env, "helper"))
        lower = env.mkdir("lower")
        os.makedirs(os.path.join(lower, "wp-content", "uploads"))
        with open(os.path.join(lower, "index.php"), "w") as f:
            f.write("<?php // the image's\n")
        r.lower = lower
        r.url_with_password = "redis://%s:%s@%s:%d" % (
            r.user, urllib.parse.quote(r.password, safe=""), pressenv.LOOPBACK, r.port)
        yield r
    finally:
        env.close()


@pytest.fixture
def mnt(tmp_path):
    d = str(tmp_path / "mnt")
    os.mkdir(d)
    yield d
    if mounted(d):
        subprocess.run(["fusermount3", "-uz", d], capture_output=True)


def test_the_helper_mounts_as_mount_8_calls_it_and_umount_unmounts(redis, mnt):
    # mount(8) calls /sbin/mount.fuse.pressfs SOURCE DIR -o OPTIONS with its own options in
    # the list (rw, _netdev, ...): those must not reach pressfs, the rest must.
    opts = "rw,lower=%s,policy=%s,site=helper,_netdev,noauto,x-systemd.automount" % (
        redis.lower, POLICY)
    r = subprocess.run(["sh", HELPER, redis.url_with_password, mnt, "-n", "-o", opts],
                       env=dict(os.environ, PRESSFS=PRESSFS), capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert mounted(mnt)
    with open(os.path.join(mnt, "wp-content/uploads/helper.txt"), "w") as f:
        f.write("through mount.pressfs\n")
    keys = redis.cli("--scan", "--pattern", "pressfs:{helper}:*").split()
    assert keys, "nothing reached Redis"
    with pytest.raises(OSError):
        open(os.path.join(mnt, "index.php"), "w")
    r = subprocess.run(["umount", mnt], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert not mounted(mnt)


def test_the_helper_refuses_a_mount_without_options(redis, mnt):
    r = subprocess.run(["sh", HELPER, redis.url_with_password, mnt, "-o", "rw,_netdev"],
                       env=dict(os.environ, PRESSFS=PRESSFS), capture_output=True, text=True)
    assert r.returncode == 2 and "lower= and policy= are required" in r.stderr
    assert not mounted(mnt)


def test_mount_t_fuse_pressfs_and_an_fstab_line_in_the_image(redis, pm, image):
    """The helper as the image installs it, run by util-linux's mount(8)."""
    opts = "lower=/usr/src/wordpress,policy=/etc/pressfs/wordpress.policy,site=helper,allow_other"
    script = """set -e
mount -t fuse.pressfs '{url}' /var/www/html -o '{opts},_netdev'
grep ' /var/www/html fuse.pressfs ' /proc/self/mounts
cat /var/www/html/wp-content/uploads/helper.txt
umount /var/www/html
! grep ' /var/www/html fuse' /proc/self/mounts
echo '{url} /var/www/html fuse.pressfs {opts},_netdev 0 0' > /tmp/fstab
mount -T /tmp/fstab /var/www/html
test -e /var/www/html/wp-includes/version.php
umount /var/www/html
echo all-unmounted
""".format(url=redis.url_with_password, opts=opts)
    name = "pressfs-test-helper"
    try:
        r = pm.result("run", "--rm", "--name", name, "--read-only", "--device", "/dev/fuse",
                      "--cap-add", "SYS_ADMIN", "--network", "host", "--entrypoint", "sh",
                      image, "-c", script, timeout=180)
    finally:
        pm.rm(name)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "through mount.pressfs" in r.stdout and r.stdout.endswith("all-unmounted\n"), r.stdout


def unit_for_test(tmp_path, unit):
    """The shipped unit with its pressfs pointed at the built one (systemd-analyze checks that
    the programs it names exist)."""
    d = tmp_path / "units"
    d.mkdir(exist_ok=True)
    with open(unit) as f:
        text = f.read().replace("/usr/local/bin/pressfs", PRESSFS)
    (d / os.path.basename(unit)).write_text(text)
    return d


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze")
@pytest.mark.parametrize("unit,instance", [(UNIT, "pressfs@demo.service"),
                                           (MOUNT_UNIT, "var-www-html.mount")])
def test_systemd_analyze_verifies_the_units(tmp_path, unit, instance):
    d = unit_for_test(tmp_path, unit)
    r = subprocess.run(["systemd-analyze", "verify", str(d / instance)], capture_output=True,
                       text=True, timeout=60)
    # a warning ("Failed to parse ..., ignoring") exits 0: any output is a failure
    assert r.returncode == 0 and not (r.stdout + r.stderr).strip(), r.stdout + r.stderr


def test_the_units_commands_mount_and_unmount_the_site(redis, mnt, tmp_path):
    """ExecStart and ExecStop as systemd runs them for pressfs@helper: %i and the variables of
    /etc/pressfs/helper.env expanded, the runtime directory made."""
    with open(UNIT) as f:
        text = f.read()
    env = {"PRESSFS_STORE": redis.url_with_password, "PRESSFS_MOUNTPOINT": mnt,
           "PRESSFS_OPTIONS": "lower=%s,policy=%s" % (redis.lower, POLICY)}
    run = str(tmp_path / "run")
    for d in re.search(r"^RuntimeDirectory=(.*)$", text, re.M).group(1).split():
        os.makedirs(os.path.join(run, d.replace("pressfs/", "").replace("%i", "helper")),
                    mode=0o700)

    def expand(line):
        line = line.replace("%i", "helper").replace("/run/pressfs/", run + "/")
        line = line.replace("/usr/local/bin/pressfs", PRESSFS)
        return re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], line).split()
    start = expand(re.search(r"^ExecStart=(.*)$", text, re.M).group(1))
    stop = expand(re.search(r"^ExecStop=(.*)$", text, re.M).group(1))
    assert "-f" not in start, "Type=forking needs the daemon to detach once mounted"
    r = subprocess.run(start, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert mounted(mnt)         # the command returned with the site mounted: Type=forking
    with open(os.path.join(mnt, "wp-content/uploads/helper.txt")) as f:
        assert f.read() == "through mount.pressfs\n"
    r = subprocess.run(stop, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert not mounted(mnt)
