/* stats.c - the daemon's request and event counters and latency histograms, the JSON the root's
 * status xattr answers with (read by `pressfs status`, admin/status.c), and the Prometheus text
 * page of `-o metrics=` (served by mount/metrics.c). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "stats.h"

static const char *const op_names[OP__COUNT] = {
    "lookup",	"forget",    "getattr", "setattr", "readlink", "mkdir",	     "unlink",
    "rmdir",	"symlink",   "rename",	"link",	   "open",     "read",	     "write",
    "flush",	"release",   "fsync",	"opendir", "readdir",  "releasedir", "statfs",
    "getxattr", "listxattr", "create",	"access",  "other",
};
static const char *const ev_names[EV__COUNT] = {
    "commits",
    "appends",
    "copy_ups",
    "store_errors",
    "invalidations_received",
    "kernel_invalidations",
    "outage_reads",
    "passthrough_opens",
    "pool_misses",
    "pool_evictions",
    "invalidations_published",
    "refused_entries",
    "trusted_opens",
    "resyncs",
};

/* The daemon's only counters; one process serves one mount. */
static _Atomic unsigned long long op_count[OP__COUNT];
static _Atomic unsigned long long ev_count[EV__COUNT];

void stats_count(enum stat_op op)
{
	atomic_fetch_add_explicit(&op_count[op], 1, memory_order_relaxed);
}

void stats_event(enum stat_event ev)
{
	atomic_fetch_add_explicit(&ev_count[ev], 1, memory_order_relaxed);
}

/* ---- latencies, bytes, refusals ---- */

/* Histogram bounds, in nanoseconds and as the le= label says them: from a request the kernel's
 * caches spared most of the work to one that waited for a Redis timeout. */
#define NBOUNDS 17
static const uint64_t bound_ns[NBOUNDS] = {
    50000,     100000,	   250000,     500000,	   1000000,	2500000,
    5000000,   10000000,   25000000,   50000000,   100000000,	250000000,
    500000000, 1000000000, 2500000000, 5000000000, 10000000000,
};
static const char *const bound_le[NBOUNDS] = {
    "5e-05", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
    "0.05",  "0.1",    "0.25",	  "0.5",    "1",     "2.5",    "5",	"10",
};

/* Observations per bucket (not cumulative: the page adds them up), the last one past every
 * bound; the count is their sum, so it always agrees with the +Inf bucket. */
struct hist {
	_Atomic uint64_t bucket[NBOUNDS + 1];
	_Atomic uint64_t sum_ns;
};

static struct hist op_hist[OP__COUNT];
static struct hist store_hist;
static _Atomic int64_t in_flight;
static _Atomic uint64_t bytes_read[STAT__CLASSES], bytes_written[STAT__CLASSES];

/* Refusals by (class, rule line): an open-addressed table filled by compare-and-swap.  A
 * policy has a few dozen rules; should more ever be refused, the rest count as one "other". */
#define NREFUSAL 128
static struct {
	_Atomic uint64_t key; /* (class << 32 | line) + 1; 0 while free */
	_Atomic uint64_t count;
} refusals[NREFUSAL];
static _Atomic uint64_t refusals_other;

static void observe(struct hist *h, uint64_t ns)
{
	size_t i = 0;

	while (i < NBOUNDS && ns > bound_ns[i])
		i++;
	atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
}

uint64_t stats_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t stats_op_begin(void)
{
	atomic_fetch_add_explicit(&in_flight, 1, memory_order_relaxed);
	return stats_clock();
}

void stats_op_end(enum stat_op op, uint64_t t0)
{
	uint64_t now = stats_clock();

	observe(&op_hist[op], now > t0 ? now - t0 : 0);
	atomic_fetch_sub_explicit(&in_flight, 1, memory_order_relaxed);
}

void stats_store_rtt(uint64_t ns)
{
	observe(&store_hist, ns);
}

void stats_read(enum stat_class cls, uint64_t n)
{
	atomic_fetch_add_explicit(&bytes_read[cls], n, memory_order_relaxed);
}

void stats_written(enum stat_class cls, uint64_t n)
{
	atomic_fetch_add_explicit(&bytes_written[cls], n, memory_order_relaxed);
}

void stats_refusal(enum policy_class cls, unsigned rule_line)
{
	uint64_t key = ((uint64_t)cls << 32 | rule_line) + 1;
	size_t i = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 57) % NREFUSAL;

	for (size_t probe = 0; probe < NREFUSAL; probe++, i = (i + 1) % NREFUSAL) {
		uint64_t have = atomic_load_explicit(&refusals[i].key, memory_order_acquire);

		if (have == 0) {
			uint64_t expect = 0;

			if (!atomic_compare_exchange_strong(&refusals[i].key, &expect, key) &&
			    expect != key)
				continue; /* another key took the slot first */
			have = key;
		}
		if (have == key) {
			atomic_fetch_add_explicit(&refusals[i].count, 1, memory_order_relaxed);
			return;
		}
	}
	atomic_fetch_add_explicit(&refusals_other, 1, memory_order_relaxed);
}

/* S as a JSON string; a byte that is not UTF-8 (a store's error text may hold one) is '?'. */
static json_t *text(const char *s)
{
	json_t *v = json_string(s ? s : "");
	char *copy;

	if (v || !s || !(copy = strdup(s)))
		return v;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	v = json_string(copy);
	free(copy);
	return v;
}

int stats_json(char *buf, size_t size, const char *site, const char *store_url, bool store_up,
	       const char *store_why, bool passthrough)
{
	json_t *o = json_object(), *req = json_object(), *ev = json_object();
	size_t len = 0;

	if (o && req && ev) {
		json_object_set_new(o, "site", text(site));
		json_object_set_new(o, "store", text(store_url));
		json_object_set_new(o, "store_state", json_string(store_up ? "up" : "down"));
		json_object_set_new(o, "store_error", text(store_why));
		json_object_set_new(o, "passthrough", json_boolean(passthrough));
		for (int i = 0; i < OP__COUNT; i++)
			json_object_set_new(req, op_names[i],
					    json_integer((json_int_t)atomic_load(&op_count[i])));
		for (int i = 0; i < EV__COUNT; i++)
			json_object_set_new(ev, ev_names[i],
					    json_integer((json_int_t)atomic_load(&ev_count[i])));
		json_object_set(o, "requests", req);
		json_object_set(o, "events", ev);
		len = json_dumpb(o, buf, size, JSON_PRESERVE_ORDER);
	}
	json_decref(req);
	json_decref(ev);
	json_decref(o);
	if (!len || len + 2 > size)
		return len ? -ERANGE : -ENOMEM;
	buf[len++] = '\n';
	buf[len] = '\0';
	return (int)len;
}

/* ---- the Prometheus text page ---- */

/* Is S UTF-8 (lead bytes C2-F4, each followed by its continuation bytes)? */
static bool utf8_ok(const unsigned char *s)
{
	while (*s) {
		int more = *s < 0x80		      ? 0
			   : *s >= 0xc2 && *s <= 0xdf ? 1
			   : *s >= 0xe0 && *s <= 0xef ? 2
			   : *s >= 0xf0 && *s <= 0xf4 ? 3
						      : -1;

		if (more < 0)
			return false;
		for (s++; more > 0; more--, s++)
			if ((*s & 0xc0) != 0x80)
				return false;
	}
	return true;
}

/* V as a label value: backslash, double quote and newline escaped, as the format wants, and
 * each byte of a V that is not UTF-8 (label values must be) above 0x7f as '?'. */
static void put_label(FILE *f, const char *v)
{
	bool utf8 = utf8_ok((const unsigned char *)v);

	for (; *v; v++) {
		if (!utf8 && (unsigned char)*v >= 0x80) {
			fputc('?', f);
		} else if (*v == '\\' || *v == '"') {
			fputc('\\', f);
			fputc(*v, f);
		} else if (*v == '\n') {
			fputs("\\n", f);
		} else {
			fputc(*v, f);
		}
	}
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample: NAME{LABELS[,EXTRA]} V.  LABELS are the page's own, escaped already; EXTRA is
 * ours (no escaping needed) or NULL. */
static void sample(FILE *f, const char *name, const char *labels, const char *extra, uint64_t v)
{
	fprintf(f, "%s{%s%s%s} %llu\n", name, labels, extra ? "," : "", extra ? extra : "",
		(unsigned long long)v);
}

static void histogram(FILE *f, const char *name, const char *labels, const char *extra,
		      struct hist *h)
{
	const char *sep = extra ? "," : "", *x = extra ? extra : "";
	uint64_t total = 0;

	for (size_t i = 0; i < NBOUNDS; i++) {
		total += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
		fprintf(f, "%s_bucket{%s%s%s,le=\"%s\"} %llu\n", name, labels, sep, x, bound_le[i],
			(unsigned long long)total);
	}
	total += atomic_load_explicit(&h->bucket[NBOUNDS], memory_order_relaxed);
	fprintf(f, "%s_bucket{%s%s%s,le=\"+Inf\"} %llu\n", name, labels, sep, x,
		(unsigned long long)total);
	fprintf(f, "%s_sum{%s%s%s} %.9f\n", name, labels, sep, x,
		(double)atomic_load_explicit(&h->sum_ns, memory_order_relaxed) / 1e9);
	fprintf(f, "%s_count{%s%s%s} %llu\n", name, labels, sep, x, (unsigned long long)total);
}

static const char *const class_label[STAT__CLASSES] = {"lower", "shared", "cache", "local"};

/* A plain counter of one event, as its own family. */
static void event_family(FILE *f, const char *labels, const char *name, enum stat_event ev,
			 const char *help)
{
	family(f, name, "counter", help);
	sample(f, name, labels, NULL, atomic_load_explicit(&ev_count[ev], memory_order_relaxed));
}

static const char *rule_pattern(const struct policy *p, unsigned line)
{
	size_t n = p ? policy_rule_count(p) : 0;

	for (size_t i = 0; i < n; i++)
		if (policy_rule_at(p, i)->line == line)
			return policy_rule_at(p, i)->pattern;
	return NULL;
}

static void refusal_family(FILE *f, const char *labels, const struct policy *p)
{
	const char *name = "pressfs_refusals_total";
	uint64_t other = atomic_load_explicit(&refusals_other, memory_order_relaxed);

	family(f, name, "counter",
	       "Writes refused by the policy, by the class and line of the rule that matched "
	       "(rule=\"none\": no rule makes the path writable)");
	for (size_t i = 0; i < NREFUSAL; i++) {
		uint64_t key = atomic_load_explicit(&refusals[i].key, memory_order_acquire);
		enum policy_class cls = (enum policy_class)((key - 1) >> 32);
		unsigned line = (unsigned)((key - 1) & 0xffffffffu);
		const char *pattern = key ? rule_pattern(p, line) : NULL;

		if (!key)
			continue;
		fprintf(f, "%s{%s,class=\"%s\",rule=\"", name, labels, policy_class_name(cls));
		if (line)
			fprintf(f, "%u\"", line);
		else
			fputs("none\"", f);
		if (pattern) {
			fputs(",pattern=\"", f);
			put_label(f, pattern);
			fputc('"', f);
		}
		fprintf(f, "} %llu\n",
			(unsigned long long)atomic_load_explicit(&refusals[i].count,
								 memory_order_relaxed));
	}
	if (other)
		sample(f, name, labels, "class=\"other\",rule=\"other\"", other);
}

/* The families in a fixed order; each one's HELP, TYPE and samples together, as the format
 * requires.  Long, but a flat list of what the page says reads best as one piece. */
int stats_prometheus(FILE *f, const char *site, const char *peer, const struct policy *policy,
		     const struct stats_health *h)
{
	char labels[512], extra[64];
	FILE *l = fmemopen(labels, sizeof(labels), "w");
	const char *name;

	if (!l)
		return -EIO;
	fputs("site=\"", l);
	put_label(l, site ? site : "");
	fputs("\",peer=\"", l);
	put_label(l, peer ? peer : "");
	fputc('"', l);
	if (fclose(l) != 0 || !memchr(labels, '\0', sizeof(labels)))
		return -ERANGE;

	name = "pressfs_fuse_request_duration_seconds";
	family(f, name, "histogram",
	       "Time from a FUSE request reaching the daemon to its reply, by operation "
	       "(_count: the requests)");
	for (int i = 0; i < OP__COUNT; i++) {
		snprintf(extra, sizeof(extra), "op=\"%s\"", op_names[i]);
		histogram(f, name, labels, extra, &op_hist[i]);
	}
	name = "pressfs_fuse_requests_in_flight";
	family(f, name, "gauge", "FUSE requests being handled now");
	fprintf(f, "%s{%s} %lld\n", name, labels,
		(long long)atomic_load_explicit(&in_flight, memory_order_relaxed));

	name = "pressfs_store_round_trip_duration_seconds";
	family(f, name, "histogram",
	       "Round trips to Redis (a command, a script or a pipelined batch) and their time");
	histogram(f, name, labels, NULL, &store_hist);
	event_family(f, labels, "pressfs_store_errors_total", EV_STORE_ERROR,
		     "Requests failed because Redis or memcached could not be reached");

	name = "pressfs_bytes_read_total";
	family(f, name, "counter", "File bytes returned to readers, by the class that held them");
	for (int i = 0; i < STAT__CLASSES; i++) {
		snprintf(extra, sizeof(extra), "class=\"%s\"", class_label[i]);
		sample(f, name, labels, extra, atomic_load(&bytes_read[i]));
	}
	name = "pressfs_bytes_written_total";
	family(f, name, "counter", "File bytes taken from writers, by the class of the file");
	for (int i = STAT_SHARED; i < STAT__CLASSES; i++) {
		snprintf(extra, sizeof(extra), "class=\"%s\"", class_label[i]);
		sample(f, name, labels, extra, atomic_load(&bytes_written[i]));
	}

	event_family(f, labels, "pressfs_invalidations_received_total", EV_INVAL_RECV,
		     "Changes announced by other peers");
	name = "pressfs_invalidations_sent_total";
	family(f, name, "counter",
	       "Invalidations sent: to=\"kernel\" entries and inodes the kernel was told to drop, "
	       "to=\"peers\" changes of this peer announced to the others");
	sample(f, name, labels, "to=\"kernel\"", atomic_load(&ev_count[EV_INVAL_SENT_KERNEL]));
	sample(f, name, labels, "to=\"peers\"", atomic_load(&ev_count[EV_INVAL_PUBLISHED]));

	refusal_family(f, labels, policy);
	event_family(f, labels, "pressfs_outage_reads_total", EV_OUTAGE_READ,
		     "Lookups, stats and opens answered from memory while Redis was unreachable");
	event_family(f, labels, "pressfs_pool_misses_total", EV_POOL_MISS,
		     "Chunks memcached did not have when asked");
	event_family(f, labels, "pressfs_pool_evictions_total", EV_POOL_EVICTION,
		     "Cache files removed because memcached had lost part of them");
	event_family(f, labels, "pressfs_commits_total", EV_COMMIT,
		     "Files published to the store at close or fsync");
	event_family(f, labels, "pressfs_appends_total", EV_APPEND,
		     "O_APPEND writes published as appends");
	event_family(f, labels, "pressfs_copy_ups_total", EV_COPY_UP,
		     "Lower files and directories copied up into the store");

	name = "pressfs_mounted";
	family(f, name, "gauge", "1 while the mount is serving requests");
	fprintf(f, "%s{%s} %d\n", name, labels, h && h->mounted);
	name = "pressfs_store_up";
	family(f, name, "gauge", "1 while Redis answers the health probe within the timeout");
	fprintf(f, "%s{%s} %d\n", name, labels, h && h->store_up);
	name = "pressfs_start_time_seconds";
	family(f, name, "gauge", "When the mount started, in seconds since the epoch");
	fprintf(f, "%s{%s} %.3f\n", name, labels, h ? h->start_time : 0.0);
	return ferror(f) ? -EIO : 0;
}
