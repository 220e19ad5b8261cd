"""What both demos (`make demo`, in containers, and `make demo-host`, processes on the host)
share: their state file of pids, the check that one is already running, and the command line
`demo.py start|stop`."""

import json
import os
import signal
import sys

import pressenv


def say(msg):
    print("\n\033[1m== %s\033[0m" % msg, flush=True)


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except (ProcessLookupError, TypeError):
        return False


def load(state_file):
    """The state a start saved, or {} when there is none."""
    if not os.path.exists(state_file):
        return {}
    with open(state_file) as f:
        return json.load(f)


def save(state_file, st, env):
    """Keep ST; from here on the servers of ENV outlive the script (`stop` ends them)."""
    with open(state_file, "w") as f:
        json.dump(st, f, indent=1)
    pressenv._live_envs.remove(env)


def running(state_file, stop, stop_cmd="make demo-stop"):
    """True (said) when a demo of this kind is running; a dead one's leftovers are stopped."""
    st = load(state_file)
    if not st:
        return False
    if any(alive(p) for p in st["pids"]):
        print("the demo is already running (%s); `%s` ends it" % (state_file, stop_cmd))
        return True
    stop()
    return False


def stop_pids(pids):
    for p in pids:
        if alive(p):
            pressenv.stop_pid(p, sig=signal.SIGTERM, timeout=10)


def main(start, stop, why_root):
    if len(sys.argv) != 2 or sys.argv[1] not in ("start", "stop"):
        print("usage: demo.py start|stop", file=sys.stderr)
        sys.exit(2)
    if os.geteuid() != 0:
        print("demo: run as root (%s)" % why_root, file=sys.stderr)
        sys.exit(2)
    sys.exit(start() if sys.argv[1] == "start" else stop())
