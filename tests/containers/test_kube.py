"""deploy/kubernetes/wordpress.yaml under `podman kube play`: the Deployment's two replicas come
up with read-only roots, each mounts the overlay, and together they serve the site.

podman 4.3 runs Kubernetes YAML, with three differences this test bridges and nothing else
changes: it has no cluster network, so the pods use the host's (hostNetwork, no containerPorts
to publish, Apache on one 127.0.0.1 port shared with SO_REUSEPORT) and the ConfigMap points at
the test's servers; it takes
a Secret for environment variables from its own secret store as JSON; and it crashes on a
Secret volume in a Deployment, so that one volume becomes a hostPath directory holding the same
file.  The replicas share the host's loopback, so the mount's metrics= gets two free ports to
choose from (PRESSFS_METRICS), where each pod of a cluster has 127.0.0.1:9101 to itself.

podman turns the liveness probe into the container's healthcheck (`podman healthcheck run`
runs it, as the kubelet would) and ignores the readiness probe, so the test runs that one's
command in the container itself, as the kubelet does."""

import base64
import json
import os
import signal
import time

import pytest
import yaml

import podsite
import pressenv

MANIFEST = os.path.join(podsite.TOP, "deploy", "kubernetes", "wordpress.yaml")
NAME = "pressfs-wordpress"


def load():
    with open(MANIFEST) as f:
        return {d["kind"]: d for d in yaml.safe_load_all(f) if d}


def test_manifest_says_what_a_cluster_needs():
    docs = load()
    dep = docs["Deployment"]
    assert dep["spec"]["replicas"] == 2
    spec = dep["spec"]["template"]["spec"]
    c = spec["containers"][0]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["readinessProbe"] and c["livenessProbe"]
    empty = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
    writable = {m["mountPath"] for m in c["volumeMounts"] if m["name"] in empty}
    assert writable == {"/tmp", "/run"}, writable
    secret_vols = [v for v in spec["volumes"] if "secret" in v]
    assert secret_vols, "the Redis password is not mounted from a Secret"
    assert secret_vols[0]["secret"]["secretName"] == docs["Secret"]["metadata"]["name"]
    assert {"PRESSFS_STORE", "PRESSFS_POOL", "WORDPRESS_DB_HOST"} <= set(docs["ConfigMap"]["data"])
    assert "password" not in docs["ConfigMap"]["data"]["PRESSFS_STORE"].split("@")[0].lower()
    # ready: the mount's /healthz; alive: the mount answers, which does not need Redis
    assert c["readinessProbe"]["exec"]["command"] == ["pressfs-probe", "ready"]
    assert c["livenessProbe"]["exec"]["command"] == ["pressfs-probe", "live"]
    assert docs["ConfigMap"]["data"]["PRESSFS_METRICS"].startswith("127.0.0.1:")


@pytest.fixture(scope="module")
def kube(pm, image, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kube")
    env = pressenv.Env(prefix="pressfs-kube-")
    s = podsite.Site(env, pm, image, names=[], name="kube")
    port = pressenv.free_port()
    played = str(tmp / "wordpress.yaml")
    pods = ["%s-pod-%d" % (NAME, i) for i in range(2)]

    def down():
        pm.result("kube", "down", played, timeout=180)
        for p in pods:
            pm.result("pod", "rm", "-f", p, timeout=120)
        pm.result("secret", "rm", NAME)
        pm.sweep_mounts()
    try:
        s.start_backends()
        docs = load()
        secret = docs["Secret"]["stringData"]
        secret["redis-password"] = s.redis.password
        secret["db-password"] = s.db_creds["password"]
        cm = docs["ConfigMap"]["data"]
        url = "http://%s:%d" % (pressenv.LOOPBACK, port)
        site_env = s.container_env("%s:%d" % (pressenv.LOOPBACK, port))
        for k in list(cm):
            cm[k] = site_env.get(k, cm[k])
        cm["PRESSFS_LISTEN_BUCKETS_RATIO"] = "1"     # both replicas on the host's one port
        # one loopback for both replicas: each mount takes the first of these that is free
        cm["PRESSFS_METRICS"] = " ".join("%s:%d" % (pressenv.LOOPBACK, pressenv.free_port())
                                         for _ in pods)
        cm["WORDPRESS_HOME_FROM_REQUEST"] = "1"
        cm["WORDPRESS_CONFIG_EXTRA"] = site_env["WORDPRESS_CONFIG_EXTRA"]
        for k, v in s.salts.items():
            cm["WORDPRESS_" + k] = v
        spec = docs["Deployment"]["spec"]["template"]["spec"]
        spec["hostNetwork"] = True
        c = spec["containers"][0]
        c["image"] = image
        c.pop("ports")          # podman publishes containerPorts, which host networking refuses
        secdir = tmp / "secret"
        secdir.mkdir()
        (secdir / "redis-password").write_text(s.redis.password + "\n")
        os.chmod(secdir / "redis-password", 0o400)
        for v in spec["volumes"]:
            if "secret" in v:
                v.pop("secret")
                v["hostPath"] = {"path": str(secdir), "type": "Directory"}
        with open(played, "w") as f:
            yaml.safe_dump_all([docs["ConfigMap"], docs["Deployment"]], f)
        js = json.dumps({k: base64.b64encode(v.encode()).decode() for k, v in secret.items()})
        pm.result("secret", "rm", NAME)
        pm("secret", "create", NAME, "-", input=js)
        pm("kube", "play", played, timeout=300)
        peers = [podsite.Peer(s, p + "-wordpress", port=port) for p in pods]
        peers[0].wait_serving(path="/wp-includes/images/blank.gif")
        s.admin_password = s.install(peers[0], url)
        peers[0].wait_serving()
        yield s, peers, url
    finally:
        down()
        env.close()


def test_both_replicas_run_with_read_only_roots_and_the_overlay(kube):
    s, peers, url = kube
    for p in peers:
        info = s.pm.inspect(p.name)
        assert info["State"]["Running"] is True, p.name
        assert info["HostConfig"]["ReadonlyRootfs"] is True, p.name
        mounts = p.exec("cat", "/proc/self/mounts", check=True).stdout
        assert " %s fuse.pressfs " % podsite.DOCROOT in mounts, (p.name, mounts)
        r = p.exec("sh", "-c", "echo x > /usr/probe")
        assert r.returncode != 0 and "Read-only file system" in r.stderr, r.stderr


def test_the_replicas_serve_the_site_together(kube):
    s, peers, url = kube
    status, _, body = pressenv.http_get(url + "/", timeout=60)
    assert status == 200 and b"pressfs in containers" in body, status
    before = [p.logs().count("blank.gif") for p in peers]
    for _ in range(40):
        assert pressenv.http_get(url + "/wp-includes/images/blank.gif", timeout=60)[0] == 200
    served = [p.logs().count("blank.gif") - b for p, b in zip(peers, before)]
    assert sum(served) == 40 and all(served), served
    # one site: what one replica writes, the other reads
    r = peers[0].exec("sh", "-c", "echo from-pod-0 > %s/wp-content/uploads/kube.txt"
                      % podsite.DOCROOT)
    assert r.returncode == 0, r.stderr
    assert peers[1].exec("cat", podsite.DOCROOT + "/wp-content/uploads/kube.txt",
                         check=True).stdout == "from-pod-0\n"


# --- the probes -------------------------------------------------------------------------------

def probe(kind, peer):
    """Run the manifest's KIND probe in PEER the way the cluster does: liveness through
    podman's healthcheck (made from the manifest by `kube play`), readiness by running its
    exec command in the container, as the kubelet does.  Returns (passed, output)."""
    if kind == "liveness":
        r = peer.site.pm.result("healthcheck", "run", peer.name, timeout=120)
        return r.returncode == 0, r.stdout + r.stderr
    c = load()["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    r = peer.exec(*c["readinessProbe"]["exec"]["command"], timeout=60)
    return r.returncode == 0, r.stdout + r.stderr


def until(what, check, timeout=60):
    """Poll CHECK() until it returns a true value; fail saying WHAT and the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = check()
        if v[0]:
            return v
        if time.monotonic() > deadline:
            pytest.fail("%s: still %r after %ds" % (what, v, timeout))
        time.sleep(0.2)


def test_each_replica_has_its_own_health_endpoint_and_passes_both_probes(kube):
    s, peers, url = kube
    urls = [p.health_url for p in peers]
    assert len(set(urls)) == 2, urls
    for p, u in zip(peers, urls):
        assert p.health(u) == (200, "ok\n"), p.name
        assert probe("readiness", p) == (True, "ok\n"), p.name
        ok, out = probe("liveness", p)
        assert ok, (p.name, out)
    # the healthcheck podman made is the manifest's liveness probe, not something of its own
    hc = s.pm.inspect(peers[0].name)["Config"]["Healthcheck"]["Test"]
    assert "pressfs-probe" in hc and "live" in hc, hc


@pytest.mark.parametrize("how", ["stopped", "hung"])
def test_redis_down_makes_replicas_unready_but_not_dead(kube, how):
    """Redis gone (connections refused) or hung (SIGSTOP: connections taken, nothing answered,
    each request waits the mount's timeout=)."""
    s, peers, url = kube
    urls = [p.health_url for p in peers]
    if how == "stopped":
        s.redis.cli("SAVE")         # the site's tree, for the Redis that comes back
        s.redis.stop()
    else:
        os.kill(s.redis.pid, signal.SIGSTOP)
    try:
        for p, u in zip(peers, urls):
            # within the mount's timeout= (2 s) and the prober's period: the poll's bound is
            # only there so that a healthz that never flips fails the test
            status, body = until("%s /healthz with Redis stopped" % p.name,
                                 lambda: (p.health(u)[0] == 503, p.health(u)), timeout=60)[1]
            assert body.startswith("store: ") and body.count("\n") == 1, body
            ok, out = probe("readiness", p)
            assert not ok and out.startswith("store: "), out
            # the mount still answers: no restart for what a restart cannot fix
            ok, out = probe("liveness", p)
            assert ok, (p.name, out)
    finally:
        if how == "stopped":
            s.redis.start()
        else:
            os.kill(s.redis.pid, signal.SIGCONT)
    for p, u in zip(peers, urls):
        until("%s /healthz with Redis back" % p.name, lambda: (p.health(u)[0] == 200, None),
              timeout=60)
        assert probe("readiness", p) == (True, "ok\n"), p.name
    status, _, body = pressenv.http_get(url + "/", timeout=60)
    assert status == 200 and b"pressfs in containers" in body, status


def at_root(peer, *argv):
    """ARGV in PEER from /, not the image's working directory, the docroot: a hung mount would
    hang the exec itself."""
    return peer.site.pm.result("exec", "-w", "/", peer.name, *argv, timeout=60)


def daemon_pid(peer):
    out = at_root(peer, "sh", "-c", "for p in /proc/[0-9]*; do [ \"$(cat $p/comm 2>/dev/null)\" "
                    "!= pressfs ] || echo ${p#/proc/}; done").stdout.split()
    assert len(out) == 1, out
    return out[0]


def test_a_hung_mount_fails_the_liveness_probe(kube):
    """A daemon that no longer answers (stopped here with SIGSTOP: a deadlock looks the same
    from outside) leaves the mount in place and its process alive; only the probe sees it.  The
    probes run from / here: the kubelet's exec starts in the image's working directory, the
    docroot, where a hung mount hangs the exec itself (which fails the probe too, by its
    timeout, but would not show that the probe's own check sees it)."""
    s, peers, url = kube
    p = peers[1]
    pid = daemon_pid(p)
    assert at_root(p, "kill", "-STOP", pid).returncode == 0
    try:
        live = at_root(p, "pressfs-probe", "live")
        assert live.returncode == 1, (live.returncode, live.stdout, live.stderr)
        assert "did not answer a lookup" in live.stdout, live.stdout
        ready = at_root(p, "pressfs-probe", "ready")
        assert ready.returncode == 1 and "did not answer" in ready.stdout, ready.stdout
    finally:
        at_root(p, "kill", "-CONT", pid)
    until("liveness once the daemon runs again", lambda: probe("liveness", p), timeout=60)
    until("readiness once the daemon runs again", lambda: probe("readiness", p), timeout=60)
    assert peers[1].exec("cat", podsite.DOCROOT + "/wp-content/uploads/kube.txt",
                         check=True).stdout == "from-pod-0\n"
