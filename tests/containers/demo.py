"""`make demo` / `make demo-stop`: WordPress on pressfs in two real read-only containers
(pressfs-node1, pressfs-node2) behind HAProxy, with Redis, memcached and MariaDB on the host's
127.0.0.1, left running for you to try (tests/containers/podsite.py builds it).

    /usr/bin/python3 tests/containers/demo.py start|stop

The first start builds the base image (a few minutes, cached in /var/cache/pressfs); later ones
take seconds.  State (pids, container names) is kept in $PRESSFS_DEMO_DIR (default
/tmp/pressfs-demo-containers); `stop` removes the containers, their mounts and the servers."""

import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "env"))
import podenv  # noqa: E402
import podsite as csite  # noqa: E402
import demostate  # noqa: E402
import pressenv  # noqa: E402

STATE = os.environ.get("PRESSFS_DEMO_DIR", "/tmp/pressfs-demo-containers")
STATE_FILE = os.path.join(STATE, "state.json")
NAMES = ["pressfs-node1", "pressfs-node2"]


def start():
    pm = podenv.Podman()
    if demostate.running(STATE_FILE, stop):
        return 0
    os.makedirs(STATE, exist_ok=True)
    demostate.say("the pressfs image (the first run builds the Debian 12 base: a few minutes)")
    image = podenv.build_image(pm)
    env = pressenv.Env(base=STATE, prefix="site-", keep=True)
    s = csite.Site(env, pm, image, names=NAMES, name="demo", mode="enforce")
    demostate.say("starting MariaDB, Redis (ACL user pressfs-demo), 2 memcached, HAProxy on 127.0.0.1 "
        "and two read-only containers: %s" % " ".join(NAMES))
    try:
        s.start()
    except BaseException:
        env.close()
        raise
    pids = [s.db.pid, s.redis.pid, s.haproxy.pid] + [m.pid for m in s.memcached]
    st = {"dir": env.dir, "pids": pids, "containers": NAMES, "url": s.url,
          "peers": [{"name": p.name, "url": p.url} for p in s.peers],
          "redis_port": s.redis.port, "admin": [s.admin_user, s.admin_password]}
    demostate.save(STATE_FILE, st, env)

    n1, n2 = s.peers
    demostate.say("a write landing in Redis: an upload written inside pressfs-node1, read inside "
        "pressfs-node2")
    n1.exec("sh", "-c", "date > %s/wp-content/uploads/hello-from-node1.txt" % csite.DOCROOT,
            check=True)
    print("$ podman exec pressfs-node2 cat %s/wp-content/uploads/hello-from-node1.txt"
          % csite.DOCROOT)
    print(n2.exec("cat", csite.DOCROOT + "/wp-content/uploads/hello-from-node1.txt",
                  check=True).stdout, end="")
    print("$ podman inspect -f '{{.HostConfig.ReadonlyRootfs}}' pressfs-node1")
    print(pm("inspect", "-f", "{{.HostConfig.ReadonlyRootfs}}", n1.name), end="")

    pod = os.path.join(STATE, "podman")
    with open(pod, "w") as f:           # podman with the demo's storage and settings
        f.write("#!/bin/sh\nCONTAINERS_CONF=%s exec %s \"$@\"\n"
                % (pm.conf, " ".join(pm.argv())))
    os.chmod(pod, 0o755)
    print("""
The demo is running:
  site: %s/
  node 1               %s/   (container pressfs-node1)
  node 2               %s/   (container pressfs-node2)
  admin login          %s/wp-login.php   user %s   password %s
  containers           %s ps     (podman with the demo's storage)

Try:
  1. Log in on node 1 (%s/wp-admin/), upload an image under Media; open it on node 2:
     %s/wp-content/uploads/...
  2. Settings > Permalinks on node 1: choose "Post name" and save; WordPress writes .htaccess
     through pressfs, and node 2 serves %s/hello-world/ at once.
  3. Lose node 1: %s kill -s KILL pressfs-node1
     and keep browsing %s/: HAProxy sends everything to node 2, and every upload is there.
Stop everything with: make demo-stop""" % (
        s.url, n1.url, n2.url, s.url, s.admin_user, s.admin_password, pod,
        n1.url, n2.url, n2.url, pod, s.url))
    return 0


def stop():
    pm = podenv.Podman()
    st = demostate.load(STATE_FILE)
    pm.rm(*st.get("containers", NAMES))         # the containers first: they use the servers
    demostate.stop_pids(st.get("pids", []))
    left = podenv.stale_mounts(pm.root)
    shutil.rmtree(STATE, ignore_errors=True)
    print("demo stopped; containers %s removed, %s removed%s" % (
        ", ".join(st.get("containers", NAMES)), STATE,
        "" if not left else "; still mounted: " + " ".join(left)))
    return 0 if not left else 1


if __name__ == "__main__":
    demostate.main(start, stop, "podman, FUSE")
