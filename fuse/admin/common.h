/* common.h - what import, export, dump and load share: opening a site's store from the
 * command line, a progress bar, quoting odd names for the terminal, a content hash, and
 * reading one version of a file back from the store. */
#ifndef PRESSFS_ADMIN_COMMON_H
#define PRESSFS_ADMIN_COMMON_H

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "store/store.h"

/* --store URL --site NAME --timeout MS, as every command takes them. */
struct admin_target {
	const char *url;
	const char *site;
	unsigned timeout_ms;
};

/* Take --store, --site or --timeout (getopt's C, with ARG) into T; -1, said on stderr, for a
 * timeout that is no number of milliseconds. */
int admin_target_opt(struct admin_target *t, int c, const char *arg);

/* The command line every admin command has: --store, --site, --timeout and --help are taken
 * here; the command's own options (OPTS, getopt_long's table ending in a zero row, may be
 * NULL) go to ON_OPT with its CTX, which returns 0 or -1 after saying why; exactly NARGS
 * operands must follow (-1: any number).  Returns the index of the first operand, -1 after
 * printing USAGE or an error on stderr, or ADMIN_HELP after printing USAGE on stdout. */
#define ADMIN_HELP (-2)
struct admin_cmdline {
	const char *usage;
	const char
	    *shortopts; /* the command's short options besides "h" (getopt's letters), or NULL */
	const struct option *opts;
	int nargs;
	int (*on_opt)(void *ctx, int c, const char *arg);
	void *ctx;
};
int admin_parse(int argc, char **argv, const struct admin_cmdline *cl, struct admin_target *t);
/* For a command whose one option is --force: CTX is the bool it sets. */
extern const struct option admin_force_opts[];
int admin_set_flag(void *ctx, int c, const char *arg);

/* Open the site's store for a command named WHAT (used in messages, and in the peer id its
 * changes are announced with); prints the reason and returns -errno on failure. */
int admin_open(const struct admin_target *t, const char *what, struct store **out);

/* Set by SIGINT/SIGTERM once admin_catch_signals() ran: long loops stop at the next safe
 * point, a second signal kills the process as usual. */
extern volatile sig_atomic_t admin_interrupted;
void admin_catch_signals(void);

/* A progress display on stderr: a bar redrawn in place when stderr is a terminal, else one
 * line every few seconds.  The counters may be bumped from any thread. */
struct progress {
	const char *what;
	uint64_t total_files, total_bytes;
	atomic_uint_fast64_t files, bytes;
	double t0;
	bool tty;
	bool stop;
	bool running;
	pthread_t thread;
	pthread_mutex_t lock; /* guards stop, for the timed wait */
	pthread_cond_t cond;
};
void progress_start(struct progress *p, const char *what, uint64_t files, uint64_t bytes);
static inline void progress_add(struct progress *p, uint64_t files, uint64_t bytes)
{
	atomic_fetch_add(&p->files, files);
	atomic_fetch_add(&p->bytes, bytes);
}
/* Stop the display and leave one final line; returns the seconds since progress_start. */
double progress_stop(struct progress *p);

double admin_now(void);
/* "12.3 MiB" into BUF. */
const char *admin_bytes(char *buf, size_t size, uint64_t n);
/* NAME (any bytes) printed as a C string literal without the quotes: \n, \\, \xNN. */
void admin_quote(FILE *f, const char *s, size_t len);

/* A 64-bit content hash, 8 bytes a step (multiply and shift, FNV's constants), fed in pieces
 * of any size: it catches a wrong, short or shuffled byte, not an attacker. */
struct admin_hash {
	uint64_t h, len;
	unsigned char tail[8]; /* bytes of an unfinished word */
	unsigned ntail;
};
void admin_hash_init(struct admin_hash *x);
void admin_hash_add(struct admin_hash *x, const void *buf, size_t len);
uint64_t admin_hash_end(struct admin_hash *x);
/* The hash of one buffer. */
uint64_t admin_hash(const void *buf, size_t len);

/* Read the content of file version A (from one store_getattr) chunk by chunk into SINK,
 * holes and stored-short tails as zeros; BUF holds STORE_CHUNK_SIZE bytes.  Returns 0, what
 * SINK returned when not 0, or -EIO when a chunk is gone: the file was replaced meanwhile
 * and its old chunks outlived their grace; the caller reads the new version. */
typedef int (*admin_sink)(void *arg, const void *data, size_t len);
int admin_read_file(struct store *s, const struct store_attr *a, void *buf, admin_sink sink,
		    void *arg);

#endif
