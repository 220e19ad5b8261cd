/* test_cluster.c - Redis Cluster routing: key slots against the values a real cluster node
 * gives (CLUSTER KEYSLOT), MOVED/ASK parsing, and the CLUSTER SLOTS map from its wire form. */
#include <errno.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "store/cluster.h"
#include "tap.h"

static void test_slots(void)
{
	/* from CLUSTER KEYSLOT of redis-server 7.0 */
	static const struct {
		const char *key;
		unsigned slot;
	} v[] = {
	    {"foo", 12182},
	    {"bar", 5061},
	    {"hello", 866},
	    {"123456789", 12739},
	    {"{user1000}.following", 3443},
	    {"{user1000}.followers", 3443},
	    {"foo{}{bar}", 8363},    /* empty tag: the whole key */
	    {"foo{{bar}}zap", 4015}, /* the tag is "{bar" */
	    {"foo{bar}{zap}", 5061}, /* the first tag only */
	    {"pressfs:{blog}:i:1", 7653},
	    {"pressfs:{blog}:c:77", 7653}, /* today's chunk keys share the site's slot */
	    {"pressfs:{blog/77}:c", 921},  /* a cluster's chunk key has a slot of its own */
	    {"{", 4092},
	    {"}{", 12793},
	    {"a{b", 13340},
	    {"", 0},
	};

	is_int(cluster_crc16("123456789", 9), 0x31C3, "CRC16/XMODEM check value");
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		is_int(cluster_slot(v[i].key, strlen(v[i].key)), v[i].slot, "slot of \"%s\"",
		       v[i].key);
}

static void test_redirects(void)
{
	struct cluster_redirect d;
	const char *bad[] = {
	    "MOVED",
	    "MOVED 3999",
	    "MOVED 3999 127.0.0.1",
	    "MOVED 16384 127.0.0.1:7000",
	    "MOVED -1 127.0.0.1:7000",
	    "MOVED x 127.0.0.1:7000",
	    "MOVED 1 127.0.0.1:0",
	    "MOVED 1 127.0.0.1:65536",
	    "MOVED 1 127.0.0.1:70a",
	    "MOVED 1 a b:7000",
	    "ASK  1 127.0.0.1:7000",
	    "ERR unknown command",
	    "READONLY You can't write against a read only replica.",
	    "CLUSTERDOWN The cluster is down",
	};
	const char *m = "MOVED 3999 127.0.0.1:6381";

	is_int(cluster_parse_redirect(m, strlen(m), &d), 0, "MOVED parsed");
	ok(!d.ask && d.slot == 3999 && !strcmp(d.host, "127.0.0.1") && d.port == 6381,
	   "... slot %u at %s:%d, not ASK", d.slot, d.host, d.port);
	m = "ASK 0 10.0.0.2:7001";
	is_int(cluster_parse_redirect(m, strlen(m), &d), 0, "ASK parsed");
	ok(d.ask && d.slot == 0 && !strcmp(d.host, "10.0.0.2") && d.port == 7001,
	   "... slot %u at %s:%d, ASK", d.slot, d.host, d.port);
	m = "MOVED 16383 ::1:7002";
	is_int(cluster_parse_redirect(m, strlen(m), &d), 0, "MOVED to an IPv6 address");
	ok(!strcmp(d.host, "::1") && d.port == 7002 && d.slot == 16383, "... host %s port %d",
	   d.host, d.port);
	m = "MOVED 5 [fe80::1]:7003";
	is_int(cluster_parse_redirect(m, strlen(m), &d), 0, "MOVED to a bracketed IPv6 address");
	is_str(d.host, "fe80::1", "... brackets dropped");
	m = "MOVED 7 :7004";
	is_int(cluster_parse_redirect(m, strlen(m), &d), 0, "MOVED without a host");
	ok(d.host[0] == '\0' && d.port == 7004, "... host empty: the node that answered");
	m = "MOVED 3999 node-3.cache.internal:6379";
	is_int(cluster_parse_redirect(m, strlen(m), &d), 0, "MOVED to a host name");
	is_str(d.host, "node-3.cache.internal", "... its name kept");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		is_int(cluster_parse_redirect(bad[i], strlen(bad[i]), &d), -EINVAL,
		       "refused: \"%s\"", bad[i]);
}

/* The reply hiredis makes of WIRE, as from a server. */
static redisReply *parse_wire(const char *wire, size_t len)
{
	redisReader *rd = redisReaderCreate();
	void *r = NULL;

	redisReaderFeed(rd, wire, len);
	if (redisReaderGetReply(rd, &r) != REDIS_OK)
		r = NULL;
	redisReaderFree(rd);
	return r;
}

static void test_map(void)
{
	/* a single node's answer, as redis-server 7.0 sends it: no endpoint (""), a fourth
	 * element of network metadata */
	static const char one[] = "*1\r\n*3\r\n:0\r\n:8191\r\n*4\r\n$0\r\n\r\n:27391\r\n$40\r\n"
				  "65c1dc51e84ff7f22af2986f6136ecd446010b85\r\n*0\r\n";
	/* three primaries, one with a replica, one owning two ranges */
	static const char three[] =
	    "*4\r\n"
	    "*4\r\n:0\r\n:5460\r\n*2\r\n$9\r\n127.0.0.1\r\n:7000\r\n*2\r\n$9\r\n127.0.0.1\r\n:7003\r\n"
	    "*3\r\n:5461\r\n:10922\r\n*2\r\n$9\r\n127.0.0.1\r\n:7001\r\n"
	    "*3\r\n:10923\r\n:16000\r\n*2\r\n$9\r\n127.0.0.1\r\n:7002\r\n"
	    "*3\r\n:16001\r\n:16383\r\n*2\r\n$9\r\n127.0.0.1\r\n:7000\r\n";
	static const char bad_range[] = "*1\r\n*3\r\n:10\r\n:5\r\n*2\r\n$1\r\nh\r\n:7000\r\n";
	static const char bad_slot[] = "*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\nh\r\n:7000\r\n";
	static const char bad_port[] = "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\nh\r\n:0\r\n";
	static const char no_node[] = "*1\r\n*2\r\n:0\r\n:1\r\n";
	struct cluster_node asked = {"10.1.2.3", 27391};
	struct cluster_map m;
	struct cluster_redirect d;
	const struct cluster_node *n;
	redisReply *r;
	const char *mv;

	r = parse_wire(one, sizeof one - 1);
	ok(r != NULL, "wire form of a real CLUSTER SLOTS read");
	is_int(cluster_map_parse(r, &asked, &m), 0, "one node's map parsed");
	n = cluster_map_node(&m, 8191);
	ok(n && !strcmp(n->host, "10.1.2.3") && n->port == 27391,
	   "an empty host is the node asked (%s:%d)", n ? n->host : "-", n ? n->port : 0);
	ok(cluster_map_node(&m, 8192) == NULL, "a slot nobody serves has no node");
	is_int(cluster_map_holes(&m), 8192, "8192 slots unserved");
	cluster_map_free(&m);
	freeReplyObject(r);

	r = parse_wire(three, sizeof three - 1);
	is_int(cluster_map_parse(r, &asked, &m), 0, "three primaries' map parsed");
	is_int((int)m.nnodes, 3, "three nodes, replicas left out");
	is_int(cluster_map_holes(&m), 0, "every slot served");
	is_int(cluster_map_node(&m, 0)->port, 7000, "slot 0 on 7000");
	is_int(cluster_map_node(&m, 5461)->port, 7001, "slot 5461 on 7001");
	is_int(cluster_map_node(&m, 16000)->port, 7002, "slot 16000 on 7002");
	is_int(cluster_map_node(&m, 16383)->port, 7000, "slot 16383 back on 7000");
	is_int(cluster_map_node(&m, cluster_slot("pressfs:{blog}:i:1", 18))->port, 7001,
	       "the site's metadata slot 7653 on 7001");
	mv = "MOVED 7653 127.0.0.1:7002";
	is_int(cluster_parse_redirect(mv, strlen(mv), &d), 0, "a MOVED for the site's slot");
	is_int(cluster_map_moved(&m, &d, &asked), 0, "... applied to the map");
	is_int(cluster_map_node(&m, 7653)->port, 7002, "... slot 7653 now on 7002");
	is_int(cluster_map_node(&m, 7652)->port, 7001, "... its neighbour untouched");
	is_int((int)m.nnodes, 3, "... no new node for a known one");
	mv = "MOVED 1 :7009";
	cluster_parse_redirect(mv, strlen(mv), &d);
	is_int(cluster_map_moved(&m, &d, &asked), 0, "a MOVED without a host");
	n = cluster_map_node(&m, 1);
	ok(n && !strcmp(n->host, "10.1.2.3") && n->port == 7009, "... to the asked node's host");
	mv = "ASK 2 127.0.0.1:7001";
	cluster_parse_redirect(mv, strlen(mv), &d);
	is_int(cluster_map_moved(&m, &d, &asked), -EINVAL, "an ASK never changes the map");
	is_int(cluster_map_node(&m, 2)->port, 7000, "... slot 2 still on 7000");
	cluster_map_free(&m);
	freeReplyObject(r);

	r = parse_wire(bad_range, sizeof bad_range - 1);
	is_int(cluster_map_parse(r, &asked, &m), -EBADMSG, "a range ending before it starts");
	freeReplyObject(r);
	r = parse_wire(bad_slot, sizeof bad_slot - 1);
	is_int(cluster_map_parse(r, &asked, &m), -EBADMSG, "slot 16384 refused");
	freeReplyObject(r);
	r = parse_wire(bad_port, sizeof bad_port - 1);
	is_int(cluster_map_parse(r, &asked, &m), -EBADMSG, "port 0 refused");
	freeReplyObject(r);
	r = parse_wire(no_node, sizeof no_node - 1);
	is_int(cluster_map_parse(r, &asked, &m), -EBADMSG, "a range without a node refused");
	freeReplyObject(r);
	r = parse_wire("-ERR This instance has cluster support disabled\r\n", 49);
	is_int(cluster_map_parse(r, &asked, &m), -EBADMSG, "an error reply refused");
	freeReplyObject(r);
}

int main(void)
{
	test_slots();
	test_redirects();
	test_map();
	return tap_done();
}
