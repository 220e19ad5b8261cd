/* test_metrics_addr.c - the address of `-o metrics=`: numeric loopback addresses only, unless
 * metrics_any lets another through; ports from 1 to 65535; anything else refused with a reason. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "mount/metrics.h"
#include "tap.h"

static int parse(const char *spec, bool any, struct sockaddr_storage *ss, char *why, size_t n)
{
	socklen_t len;

	why[0] = '\0';
	return metrics_parse_addr(spec, any, ss, &len, why, n);
}

int main(void)
{
	static const char *const refused[] = {
	    "0.0.0.0:9100",
	    "[::]:9100",
	    "192.0.2.1:9100",
	    "10.1.2.3:9100",
	    "[::ffff:192.0.2.1]:9100",
	    "[2001:db8::1]:9100",
	};
	static const char *const bad[] = {
	    "127.0.0.1",     "127.0.0.1:",
	    "127.0.0.1:0",   "127.0.0.1:65536",
	    "127.0.0.1:-1",  "127.0.0.1:+80",
	    "127.0.0.1:80x", "localhost:80",
	    "[::1]",	     "[::1:9100",
	    "::1:9100",	     "[127.0.0.1]:9100",
	    ":9100",	     "",
	};
	struct sockaddr_storage ss;
	char why[256];

	ok(parse("127.0.0.1:9100", false, &ss, why, sizeof(why)) == 0 && ss.ss_family == AF_INET &&
	       ntohs(((struct sockaddr_in *)&ss)->sin_port) == 9100,
	   "127.0.0.1:9100");
	ok(parse("127.1.2.3:1", false, &ss, why, sizeof(why)) == 0, "all of 127/8 is loopback");
	ok(parse("[::1]:65535", false, &ss, why, sizeof(why)) == 0 && ss.ss_family == AF_INET6,
	   "[::1]:65535");
	ok(parse("[::ffff:127.0.0.1]:9100", false, &ss, why, sizeof(why)) == 0,
	   "IPv4 loopback mapped into IPv6");
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		ok(parse(refused[i], false, &ss, why, sizeof(why)) < 0 && strstr(why, "loopback") &&
		       strstr(why, "metrics_any"),
		   "%s refused, naming loopback and metrics_any", refused[i]);
		ok(parse(refused[i], true, &ss, why, sizeof(why)) == 0, "%s taken with metrics_any",
		   refused[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(parse(bad[i], true, &ss, why, sizeof(why)) < 0 && why[0],
		   "'%s' refused even with metrics_any (%s)", bad[i], why);
	return tap_done();
}
