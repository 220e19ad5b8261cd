"""`make demo-host` / `make demo-host-stop`: a real WordPress on two pressfs nodes behind
HAProxy, on loopback, left running for you to try (tests/compat/twonode.py builds it).

    /usr/bin/python3 tests/demo/demo.py start|stop

Its state (every pid, the mount points, the temp dir) is kept in $PRESSFS_DEMO_DIR (default
/tmp/pressfs-demo); `stop` ends it all by pid and unmounts, whatever state it is in."""

import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "compat"))
sys.path.insert(0, os.path.join(TOP, "tests", "env"))
import twonode  # noqa: E402
import demostate  # noqa: E402
import pressenv  # noqa: E402

STATE = os.environ.get("PRESSFS_DEMO_DIR", "/tmp/pressfs-demo")
STATE_FILE = os.path.join(STATE, "state.json")


def start():
    if demostate.running(STATE_FILE, stop, "make demo-host-stop"):
        return 0
    os.makedirs(STATE, exist_ok=True)
    env = pressenv.Env(base=STATE, prefix="site-", keep=True)
    c = twonode.Cluster(env, mode="enforce", nodes=2)
    demostate.say("starting MariaDB, Redis, 2 memcached, 2 pressfs nodes (Apache + php-fpm + pressfs.so), "
        "HAProxy, all on 127.0.0.1")
    try:
        c.start()
    except BaseException:
        env.close()
        raise
    pids = [c.db.pid, c.redis.pid, c.haproxy.pid] + [m.pid for m in c.memcached]
    nodes = []
    for n in c.nodes:
        pids += [n.apache.pid, n.fpm.pid] + n.fs.pids()
        nodes.append({"name": n.name, "url": n.url, "mount": n.mount, "log": n.fs.log,
                      "audit_log": n.audit_log, "web": [n.apache.pid, n.fpm.pid],
                      "daemon": n.fs.pids()})
    st = {"dir": env.dir, "pids": pids, "nodes": nodes, "url": c.url,
          "redis_port": c.redis.port, "admin": [c.admin_user, c.admin_password]}
    demostate.save(STATE_FILE, st, env)

    demostate.say("a write landing in Redis: an upload written on node1, read on node2")
    n1, n2 = c.nodes[:2]
    up = os.path.join(n1.mount, "wp-content/uploads/hello-from-node1.txt")
    with open(up, "w") as f:
        f.write("written on node1 at %s\n" % time.strftime("%H:%M:%S"))
    print("$ cat %s" % up.replace(n1.mount, n2.mount))
    with open(up.replace(n1.mount, n2.mount)) as f:
        print(f.read(), end="")
    print("$ redis-cli -p %d --scan --pattern 'pressfs:{compat}:*' | wc -l" % c.redis.port)
    print(len(c.redis.cli("--scan", "--pattern", "pressfs:{compat}:*").split()))

    print("""
The demo is running:
  the site (HAProxy)   %s
  node 1               %s   (its tree: %s)
  node 2               %s   (its tree: %s)
  admin login          %s/wp-login.php   user %s   password %s
  daemon logs          %s
  PHP audit logs       %s

Try:
  1. Log in on node 1 (%s/wp-admin/), upload an image under Media; open it on node 2:
     %s/wp-content/uploads/...
  2. Settings > Permalinks on node 1: choose "Post name" and save; WordPress writes .htaccess
     through pressfs, and node 2 serves %s/hello-world/ at once.
  3. Lose node 1: kill -9 %s (its pressfs daemon) and keep browsing %s: HAProxy
     sends everything to node 2, and every upload is still there.
Stop everything with: make demo-host-stop""" % (
        c.url, n1.url, n1.mount, n2.url, n2.mount, c.url, c.admin_user, c.admin_password,
        ", ".join(n["log"] for n in nodes), ", ".join(n["audit_log"] for n in nodes),
        n1.url, n2.url, n2.url, " ".join(map(str, nodes[0]["daemon"])), c.url))
    return 0


def stop():
    st = demostate.load(STATE_FILE)
    if not st:
        print("the demo is not running")
        return 0
    for n in st["nodes"]:               # the web servers first, then the mounts
        for p in n["web"]:
            pressenv.stop_pid(p, timeout=10)
    for n in st["nodes"]:
        if os.path.ismount(n["mount"]) or _mounted(n["mount"]):
            subprocess.run(["fusermount3", "-u", n["mount"]], capture_output=True)
            if _mounted(n["mount"]):
                subprocess.run(["fusermount3", "-uz", n["mount"]], capture_output=True)
    demostate.stop_pids(st["pids"])
    shutil.rmtree(STATE, ignore_errors=True)
    print("demo stopped; %s removed" % STATE)
    return 0


def _mounted(path):
    with open("/proc/self/mounts") as f:
        return any(l.split()[1] == path for l in f)


if __name__ == "__main__":
    demostate.main(start, stop, "it mounts, and runs PHP as www-data")
