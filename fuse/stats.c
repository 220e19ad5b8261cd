/* stats.c - the daemon's request and event counters, and the JSON the root's status xattr
 * answers with (read by `pressfs status`, admin/status.c). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	       const char *store_why)
{
	json_t *o = json_object(), *req = json_object(), *ev = json_object();
	size_t len = 0;

	if (o && req && ev) {
		json_object_set_new(o, "site", text(site));
		json_object_set_new(o, "store", text(store_url));
		json_object_set_new(o, "store_state", json_string(store_up ? "up" : "down"));
		json_object_set_new(o, "store_error", text(store_why));
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
