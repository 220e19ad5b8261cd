/* stats.c - the daemon's request and event counters, and the JSON the root's status xattr
 * answers with (read by `pressfs status`, admin/status.c). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

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

static void json_str(char *buf, size_t size, size_t *len, const char *s)
{
	size_t n = *len;

	if (n < size)
		buf[n] = '"';
	n++;
	for (; *s; s++) {
		char esc[8];
		size_t k;

		if (*s == '"' || *s == '\\')
			k = snprintf(esc, sizeof(esc), "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			k = snprintf(esc, sizeof(esc), "\\u%04x", (unsigned char)*s);
		else
			k = snprintf(esc, sizeof(esc), "%c", *s);
		for (size_t i = 0; i < k; i++, n++)
			if (n < size)
				buf[n] = esc[i];
	}
	if (n < size)
		buf[n] = '"';
	*len = n + 1;
}

int stats_json(char *buf, size_t size, const char *site, const char *store_url, bool store_up,
	       const char *store_why)
{
	size_t len = 0;
	int k;

#define ADD(...)                                                                                   \
	do {                                                                                       \
		k = snprintf(len < size ? buf + len : NULL, len < size ? size - len : 0,           \
			     __VA_ARGS__);                                                         \
		len += k;                                                                          \
	} while (0)
	ADD("{\"site\": ");
	json_str(buf, size, &len, site);
	ADD(", \"store\": ");
	json_str(buf, size, &len, store_url);
	ADD(", \"store_state\": \"%s\", \"store_error\": ", store_up ? "up" : "down");
	json_str(buf, size, &len, store_why);
	ADD(", \"requests\": {");
	for (int i = 0; i < OP__COUNT; i++)
		ADD("%s\"%s\": %llu", i ? ", " : "", op_names[i],
		    (unsigned long long)atomic_load(&op_count[i]));
	ADD("}, \"events\": {");
	for (int i = 0; i < EV__COUNT; i++)
		ADD("%s\"%s\": %llu", i ? ", " : "", ev_names[i],
		    (unsigned long long)atomic_load(&ev_count[i]));
	ADD("}}\n");
#undef ADD
	if (len >= size)
		return -ERANGE;
	return (int)len;
}
