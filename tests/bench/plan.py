"""plan - how long each `make bench` workload should take, and the progress line printed after
each one with an estimate of the time left.  The per-unit costs below were read off earlier runs
on the machine of docs/PERFORMANCE.md (2 shared CPUs); the estimate of what is left is scaled by
how the finished workloads compared with their own estimates, so a slower machine corrects it."""

import time


def estimate(name, a, ncols, nfs):
    """Seconds workload NAME should take with arguments A, NCOLS columns (NFS of them file
    systems, i.e. not pressfs+ext)."""
    nfuse = min(nfs, 2)                    # fuse-overlayfs and pressfs: the slow ones
    next4 = max(nfs - nfuse, 0)            # native, overlayfs
    if name == "pages":
        return (a.page_rounds * ncols * 2 * (a.wrk_seconds + 1)
                + ncols * (a.warmup_views * 2 * 0.1 + 6) + 10)
    if name == "storm":
        return a.rounds * ncols * (a.storm_seconds + 2.5)
    if name == "ext":
        return 10 + a.rounds * 4 * 5 * ext_calls(a) * 6e-6
    if name == "static":
        return (nfs * (2 * a.static_files * 0.005 + 5)
                + a.rounds * 4 * nfs * (a.static_seconds + 0.7) + 5)
    if name == "small":
        return a.rounds * (nfuse * (a.small_files * 2 * 1.8e-3 + a.rename_ops * 1.6e-3 + 3)
                           + next4 * (a.small_files * 2 * 2e-4 + 5))
    if name == "uploads":
        return a.rounds * (3 + nfs * (0.5 + (64 * a.upload_64m_count + a.upload_1m_count)
                                      / 150))
    if name == "bigfile":
        return a.rounds * nfs * (1 + a.big_mib / 1024 * 4)
    if name == "crossnode":
        return 5 + a.rounds * a.xnode_files * 0.004
    if name == "coldstart":
        return (a.cold_files * (1 / 38000 + 1 / 30000 + 1 / 8600 + 1 / 3600) + 4 * 3
                + a.rounds * (3 * 5 + ncols * 3))
    if name == "policy":
        small = a.policy_rules[0] / 20000 * 3  # today's quadratic compile: 3 s at 20k rules
        return 3 + a.rounds * min(small, a.policy_timeout) + min(small * 25, a.policy_timeout)
    if name == "import":
        return 5 + a.rounds * (3 + a.import_small_files / 5000
                               + a.import_large_files * a.import_large_mib / 300)
    return 30


def ext_calls(a):
    return 5000 if a.quick else 100000


SETUP_SECONDS = 45  # MariaDB, the WordPress tree and install, the mounts, php-fpm pools


class Progress:
    """The progress lines: which workload of how many, how long it took against its estimate,
    and about how long the rest should take (scaled by what the finished ones took)."""

    def __init__(self, plan, est, log):
        self.plan = list(plan)
        self.est = dict(est)
        self.log = log
        self.spent = 0.0
        self.expected = 0.0
        self.started = None

    def scale(self):
        if self.expected < 30:
            return 1.0
        return min(max(self.spent / self.expected, 0.5), 3.0)

    def left(self, after):
        rest = self.plan[self.plan.index(after) + 1:] if after in self.plan else self.plan
        return sum(self.est[w] for w in rest) * self.scale()

    def begin(self, name, elapsed):
        self.started = time.monotonic()
        i = self.plan.index(name) + 1
        self.log(f"== {name} ({i}/{len(self.plan)}): about {self.est[name] * self.scale():.0f}"
                 f" s, at {elapsed:.0f} s into the run")

    def end(self, name, elapsed):
        took = time.monotonic() - self.started
        self.spent += took
        self.expected += self.est[name]
        i = self.plan.index(name) + 1
        left = self.left(name)
        eta = time.strftime("%H:%M", time.localtime(time.time() + left))
        self.log(f"== {name} done in {took:.0f} s (estimated {self.est[name]:.0f}); "
                 f"{i}/{len(self.plan)} workloads, {elapsed:.0f} s so far, about "
                 f"{left / 60:.1f} min left (done near {eta})")
        return took
