"""deploy/kubernetes/wordpress.yaml under `podman kube play`: the Deployment's two replicas come
up with read-only roots, each mounts the overlay, and together they serve the site.

podman 4.3 runs Kubernetes YAML, with three differences this test bridges and nothing else
changes: it has no cluster network, so the pods use the host's (hostNetwork, no containerPorts
to publish, Apache on one 127.0.0.1 port shared with SO_REUSEPORT) and the ConfigMap points at
the test's servers; it takes
a Secret for environment variables from its own secret store as JSON; and it crashes on a
Secret volume in a Deployment, so that one volume becomes a hostPath directory holding the same
file."""

import base64
import json
import os

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
