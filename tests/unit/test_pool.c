/* test_pool.c - the cache class's content pool (fuse/pool.c) against a real, throwaway
 * memcached: urls, chunks split into parts, whole-or-nothing fetches, and a dead server. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libmemcached/memcached.h>

#include "pool.h"
#include "free_port.h"
#include "tap.h"

#define MiB (1024 * 1024)
#define PREFIX "pressfs:{unit}:"

static pid_t mc_pid;
static int mc_port;

static void mc_kill(void)
{
	if (mc_pid > 0) {
		kill(mc_pid, SIGKILL);
		waitpid(mc_pid, NULL, 0);
		mc_pid = 0;
	}
}

static int mc_start(void)
{
	char port[16];

	snprintf(port, sizeof port, "%d", mc_port);
	mc_pid = fork();
	if (mc_pid < 0)
		return -errno;
	if (mc_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execlp("memcached", "memcached", "-u", "root", "-l", "127.0.0.1", "-p", port, "-U",
		       "0", "-m", "64", "-I", "1m", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		memcached_st *m = memcached_create(NULL);
		memcached_return_t rc;

		memcached_server_add(m, "127.0.0.1", (in_port_t)mc_port);
		rc = memcached_set(m, "probe", 5, "x", 1, 0, 0);
		memcached_free(m);
		if (rc == MEMCACHED_SUCCESS)
			return 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

/* Raw access beside the pool, to play memcached's part: evict, forge. */
static memcached_st *raw(void)
{
	memcached_st *m = memcached_create(NULL);

	memcached_server_add(m, "127.0.0.1", (in_port_t)mc_port);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
	return m;
}

static void fill(char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (char)((i * 131 + seed * 7 + (i >> 9)) & 0xff);
}

static void test_urls(void)
{
	char why[200];
	struct pool *c;

	is_int(pool_parse_url("memcached://127.0.0.1:11211", why, sizeof why), 0, "one server");
	is_int(pool_parse_url("memcached://a:1,b.example:2,127.0.0.1:65535", why, sizeof why), 0,
	       "three servers");
	is_int(pool_parse_url("redis://127.0.0.1:6379", why, sizeof why), -EINVAL,
	       "another scheme: %s", why);
	is_int(pool_parse_url("memcached://127.0.0.1", why, sizeof why), -EINVAL,
	       "no port: %s", why);
	is_int(pool_parse_url("memcached://h:0", why, sizeof why), -EINVAL, "port 0: %s", why);
	is_int(pool_parse_url("memcached://h:70000", why, sizeof why), -EINVAL, "port too big");
	is_int(pool_parse_url("memcached://h:1,", why, sizeof why), -EINVAL,
	       "a trailing comma: %s", why);
	is_int(pool_parse_url("memcached://[::1]:11211", why, sizeof why), -EINVAL,
	       "IPv6 refused by name: %s", why);
	is_int(pool_parse_url(NULL, why, sizeof why), -EINVAL, "no url");
	is_int(pool_open("memcached://h", PREFIX, 100, &c), -EINVAL, "pool_open checks the url");
	ok(c == NULL, "and gives nothing back");
}

static void test_content(struct pool *c)
{
	size_t size = 2 * MiB + 700 * 1024;	/* chunk 0 whole, chunk 1 a hole, chunk 2 two parts */
	char *want = malloc(size), *got = malloc(size);
	uint64_t chunks[3] = {1001, 0, 1003};
	struct store_attr a = {.size = size, .nchunks = 3, .chunks = chunks, .cls = 'c'};
	memcached_st *m = raw();
	char key[64], buf[100];

	fill(want, size, 1);
	memset(want + MiB, 0, MiB);
	is_int(pool_put(c, 1001, want, MiB), 0, "put a 1 MiB chunk (two parts)");
	is_int(pool_put(c, 1003, want + 2 * MiB, size - 2 * MiB), 0, "put the last chunk");
	memset(got, 'x', size);
	is_int(pool_fetch(c, &a, got), 0, "fetch the whole file");
	ok(memcmp(got, want, size) == 0, "byte-identical, the hole as zeros");
	is_int(pool_read_chunk(c, 1003, 10, 100, buf), 100, "read 100 bytes of a chunk");
	ok(memcmp(buf, want + 2 * MiB + 10, 100) == 0, "the right ones");
	is_int(pool_read_chunk(c, 1003, 700 * 1024 - 10, 100, buf), 100,
	       "a read past the stored end of a chunk");
	ok(memcmp(buf, want + size - 10, 10) == 0 && buf[10] == 0 && buf[99] == 0,
	   "its stored bytes, then zeros");

	/* a chunk stored shorter than its logical length reads as zeros past its data */
	is_int(pool_put(c, 1004, "short", 5), 0, "put a 5-byte chunk");
	chunks[2] = 1004;
	is_int(pool_fetch(c, &a, got), 0, "fetch with a short last chunk");
	ok(memcmp(got + 2 * MiB, "short", 5) == 0 && got[2 * MiB + 5] == 0 && got[size - 1] == 0,
	   "zero-filled past the stored length");
	chunks[2] = 1003;

	/* memcached drops the second part of chunk 0: the file is gone, not torn */
	snprintf(key, sizeof key, PREFIX "m:1001:1");
	is_int(memcached_delete(m, key, strlen(key), 0), MEMCACHED_SUCCESS, "evict one part");
	is_int(pool_fetch(c, &a, got), -ENOENT, "the fetch finds the file gone");
	is_int(pool_read_chunk(c, 1001, 0, 10, buf), -ENOENT, "and so does a chunk read");

	/* a part whose flags disagree with its length is not taken for whole */
	is_int(pool_put(c, 1001, want, MiB), 0, "put chunk 0 again");
	snprintf(key, sizeof key, PREFIX "m:1001:1");
	memcached_set(m, key, strlen(key), want, 100, 0, MiB);
	is_int(pool_fetch(c, &a, got), -ENOENT, "a part of the wrong length: gone");
	is_int(pool_put(c, 1001, want, MiB), 0, "put chunk 0 again");
	memcached_set(m, key, strlen(key), want + POOL_PART_SIZE, POOL_PART_SIZE, 0, MiB - 1);
	is_int(pool_fetch(c, &a, got), -ENOENT, "parts disagreeing on the chunk's length: gone");
	is_int(pool_put(c, 1001, want, MiB), 0, "put chunk 0 again");
	is_int(pool_fetch(c, &a, got), 0, "whole again");
	ok(memcmp(got, want, size) == 0, "byte-identical again");

	is_int(pool_put(c, 0, want, 10), -EINVAL, "chunk id 0 is a hole, never stored");
	is_int(pool_put(c, 5, want, MiB + 1), -EINVAL, "more than a chunk: -EINVAL");
	memcached_free(m);
	free(want);
	free(got);
}

static void test_dead_server(struct pool *c)
{
	uint64_t chunks[1] = {2001};
	struct store_attr a = {.size = 10, .nchunks = 1, .chunks = chunks, .cls = 'c'};
	char got[10];

	is_int(pool_put(c, 2001, "0123456789", 10), 0, "put before the outage");
	mc_kill();
	is_int(pool_put(c, 2002, "x", 1), -EIO, "put with the server down: -EIO");
	ok(strlen(pool_strerror(c)) > 0, "with a reason: %s", pool_strerror(c));
	is_int(pool_fetch(c, &a, got), -EIO, "fetch with the server down: -EIO, not -ENOENT");
	is_int(mc_start(), 0, "memcached back (empty) on the same port");
	sleep(2);	/* past the retry timeout of the failed server */
	is_int(pool_fetch(c, &a, got), -ENOENT, "the file it had is gone: -ENOENT");
	is_int(pool_put(c, 2001, "0123456789", 10), 0, "put works again");
	is_int(pool_fetch(c, &a, got), 0, "and fetch");
	ok(memcmp(got, "0123456789", 10) == 0, "whole");
}

int main(void)
{
	struct pool *c;

	test_urls();
	mc_port = free_port();
	if (mc_port < 0 || mc_start() < 0) {
		printf("Bail out! cannot start memcached\n");
		return 1;
	}
	atexit(mc_kill);
	is_int(pool_open("memcached://127.0.0.1:1,127.0.0.1:1", PREFIX, 100, &c), 0,
	       "pool_open connects to nothing yet");
	pool_close(c);
	{
		char url[64];

		snprintf(url, sizeof url, "memcached://127.0.0.1:%d", mc_port);
		is_int(pool_open(url, PREFIX, 100, &c), 0, "pool_open");
	}
	test_content(c);
	test_dead_server(c);
	pool_close(c);
	return tap_done();
}
