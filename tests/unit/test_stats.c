/* test_stats.c - the counters' Prometheus page: histogram buckets are cumulative and inclusive
 * of their bound, +Inf equals _count, label values are escaped, refusals name their rule and
 * pattern, and a refusal table that fills up loses no count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "tap.h"

static const char *policy_text = "/wp-content/uploads/** shared\n"
				 "/wp-content/plugins/** deny\n";

/* The value of the sample line that starts with PREFIX (name and labels), or -1. */
static long long value_of(const char *page, const char *prefix)
{
	size_t n = strlen(prefix);

	for (const char *l = page; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, prefix, n) && l[n] == ' ')
			return atoll(l + n + 1);
	return -1;
}

/* Every sample line's name has its "# TYPE" line before it, and no family appears twice. */
static int families_in_order(const char *page)
{
	char typed[64][96];
	int ntyped = 0;

	for (const char *l = page; *l; l = strchr(l, '\n') + 1) {
		char name[96];

		if (!strncmp(l, "# TYPE ", 7)) {
			sscanf(l + 7, "%95s", typed[ntyped]);
			for (int i = 0; i < ntyped; i++)
				if (!strcmp(typed[i], typed[ntyped]))
					return 0;
			ntyped++;
			continue;
		}
		if (*l == '#')
			continue;
		sscanf(l, "%95[^{ ]", name);
		if (!ntyped || strncmp(name, typed[ntyped - 1], strlen(typed[ntyped - 1])))
			return 0;
	}
	return ntyped > 10;
}

int main(void)
{
	struct stats_health h = {.mounted = true, .store_up = false, .start_time = 1.5};
	struct policy_error perr;
	struct policy *p;
	char *page = NULL, prefix[256];
	size_t len = 0;
	FILE *f;

	ok(policy_parse("t.policy", policy_text, strlen(policy_text), &p, &perr) == 0,
	   "the policy parses");
	stats_op_end(OP_READ, stats_clock() - 3000000);	    /* 3 ms */
	stats_op_end(OP_READ, stats_clock() + 1000000000);  /* a clock that went back: 0 */
	stats_op_end(OP_READ, stats_clock() - 20000000000); /* 20 s: past every bound */
	stats_store_rtt(1000000);			    /* exactly 1 ms: in le="0.001" */
	stats_read(STAT_SHARED, 300000);
	stats_written(STAT_CACHE, 12);
	stats_refusal(POLICY_DENY, 2);
	stats_refusal(POLICY_DENY, 2);
	stats_refusal(POLICY_NONE, 0);
	for (unsigned i = 0; i < 200; i++)
		stats_refusal(POLICY_SHARED, 1000 + i);
	stats_event(EV_POOL_MISS);

	f = open_memstream(&page, &len);
	is_int(stats_prometheus(f, "s1", "p\"q\\r\n", p, &h), 0, "the page is written");
	fclose(f);

#define L "site=\"s1\",peer=\"p\\\"q\\\\r\\n\""
	is_int(value_of(page, "pressfs_fuse_request_duration_seconds_bucket{" L
			      ",op=\"read\",le=\"5e-05\"}"),
	       1, "0 s falls in the first bucket (the peer's quote, backslash, newline escaped)");
	is_int(value_of(page, "pressfs_fuse_request_duration_seconds_bucket{" L
			      ",op=\"read\",le=\"0.0025\"}"),
	       1, "buckets are cumulative: 3 ms is not yet in le=0.0025");
	is_int(value_of(page, "pressfs_fuse_request_duration_seconds_bucket{" L
			      ",op=\"read\",le=\"0.005\"}"),
	       2, "...and is in le=0.005");
	is_int(value_of(page, "pressfs_fuse_request_duration_seconds_bucket{" L
			      ",op=\"read\",le=\"10\"}"),
	       2, "20 s is in no bound");
	is_int(value_of(page, "pressfs_fuse_request_duration_seconds_bucket{" L
			      ",op=\"read\",le=\"+Inf\"}"),
	       3, "+Inf holds them all");
	is_int(value_of(page, "pressfs_fuse_request_duration_seconds_count{" L ",op=\"read\"}"), 3,
	       "_count agrees with +Inf");
	is_int(value_of(page, "pressfs_fuse_request_duration_seconds_count{" L ",op=\"write\"}"), 0,
	       "an op never seen is there, at 0");
	{
		const char *sum = "pressfs_fuse_request_duration_seconds_sum{" L ",op=\"read\"} ";
		const char *at = strstr(page, sum);
		double secs = at ? strtod(at + strlen(sum), NULL) : 0;

		ok(secs >= 20.003 && secs < 21, "_sum is in seconds (%f)", secs);
	}
	is_int(
	    value_of(page, "pressfs_store_round_trip_duration_seconds_bucket{" L ",le=\"0.0005\"}"),
	    0, "1 ms is past le=0.0005");
	is_int(
	    value_of(page, "pressfs_store_round_trip_duration_seconds_bucket{" L ",le=\"0.001\"}"),
	    1, "le is inclusive: 1 ms is in le=0.001");
	is_int(value_of(page, "pressfs_bytes_read_total{" L ",class=\"shared\"}"), 300000,
	       "bytes read, by class");
	is_int(value_of(page, "pressfs_bytes_written_total{" L ",class=\"cache\"}"), 12,
	       "bytes written, by class");
	is_int(value_of(page, "pressfs_refusals_total{" L
			      ",class=\"deny\",rule=\"2\",pattern=\"/wp-content/plugins/**\"}"),
	       2, "a refusal names its rule's line and pattern");
	is_int(value_of(page, "pressfs_refusals_total{" L ",class=\"none\",rule=\"none\"}"), 1,
	       "no rule matched: rule=\"none\"");
	{
		long long sum = 0, n = 0;

		for (unsigned i = 0; i < 200; i++) {
			long long v;

			snprintf(prefix, sizeof(prefix),
				 "pressfs_refusals_total{" L ",class=\"shared\",rule=\"%u\"}",
				 1000 + i);
			v = value_of(page, prefix);
			if (v >= 0)
				sum += v, n++;
		}
		sum +=
		    value_of(page, "pressfs_refusals_total{" L ",class=\"other\",rule=\"other\"}");
		is_int(sum, 200, "a full table loses no refusal: the rest count as other");
		ok(n > 100 && n < 200, "most rules keep their own line (%lld)", n);
	}
	is_int(value_of(page, "pressfs_pool_misses_total{" L "}"), 1, "pool misses");
	is_int(value_of(page, "pressfs_mounted{" L "}"), 1, "mounted");
	is_int(value_of(page, "pressfs_store_up{" L "}"), 0, "store down");
	ok(families_in_order(page), "every family has its TYPE first, and comes once");
	ok(page[len - 1] == '\n', "the page ends with a newline");

	free(page);

	page = NULL;
	f = open_memstream(&page, &len);
	stats_prometheus(f, "s1", "caf\xe9", p, &h);
	fclose(f);
	ok(strstr(page, "{site=\"s1\",peer=\"caf?\"}") != NULL,
	   "a peer name not UTF-8: '?' for its byte");
	free(page);
	page = NULL;
	f = open_memstream(&page, &len);
	stats_prometheus(f, "s1", "caf\xc3\xa9", p, &h);
	fclose(f);
	ok(strstr(page, "{site=\"s1\",peer=\"caf\xc3\xa9\"}") != NULL, "a UTF-8 one as it is");
	free(page);
	policy_free(p);
	return tap_done();
}
