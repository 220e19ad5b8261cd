/* common.c - the pieces import, export, dump and load share: opening the store, signals, the
 * progress display, quoting names, the content hash and reading a file back from the store. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "admin/common.h"

static void admin_log(void *arg, int level, const char *msg)
{
	fprintf(stderr, "pressfs %s: %s%s\n", (const char *)arg,
		level <= LOG_ERR ? "store: " : "store note: ", msg);
}

int admin_target_opt(struct admin_target *t, int c, const char *arg)
{
	char *end;
	unsigned long ms;

	switch (c) {
	case 's':
		t->url = arg;
		return 0;
	case 'S':
		t->site = arg;
		return 0;
	default:
		errno = 0;
		ms = strtoul(arg, &end, 10);
		if (errno || end == arg || *end || !ms || ms > 600000) {
			fprintf(stderr, "pressfs: --timeout %s: expected milliseconds, 1-600000\n",
				arg);
			return -1;
		}
		t->timeout_ms = (unsigned)ms;
		return 0;
	}
}

/* The common options first, then the command's own; "h" and the command's SHORTOPTS are the
 * short ones (the other letters are internal codes, never given on the command line). */
enum { ADMIN_MAX_OPTS = 24 };

int admin_parse(int argc, char **argv, const struct admin_cmdline *cl, struct admin_target *t)
{
	static const struct option common[] = {{"store", 1, NULL, 's'},
					       {"site", 1, NULL, 'S'},
					       {"timeout", 1, NULL, 't'},
					       {"help", 0, NULL, 'h'}};
	struct option all[ADMIN_MAX_OPTS];
	char shorts[32] = "h";
	size_t n = 0;
	int c;

	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		all[n++] = common[i];
	for (const struct option *o = cl->opts; o && o->name; o++) {
		if (n + 1 >= ADMIN_MAX_OPTS)
			abort(); /* a command's table outgrew ADMIN_MAX_OPTS: a build defect */
		all[n++] = *o;
	}
	memset(&all[n], 0, sizeof(all[n]));
	if (cl->shortopts && strlen(cl->shortopts) < sizeof(shorts) - 1)
		strcat(shorts, cl->shortopts);
	while ((c = getopt_long(argc, argv, shorts, all, NULL)) != -1) {
		switch (c) {
		case 's':
		case 'S':
		case 't':
			if (admin_target_opt(t, c, optarg) < 0)
				return -1;
			break;
		case 'h':
			printf("%s", cl->usage);
			return ADMIN_HELP;
		case '?':
			fprintf(stderr, "%s", cl->usage);
			return -1;
		default:
			if (!cl->on_opt || cl->on_opt(cl->ctx, c, optarg) < 0)
				return -1;
		}
	}
	if ((cl->nargs >= 0 && argc - optind != cl->nargs) || !t->url) {
		fprintf(stderr, "%s", cl->usage);
		return -1;
	}
	return optind;
}

const struct option admin_force_opts[] = {{"force", 0, NULL, 'f'}, {NULL, 0, NULL, 0}};

int admin_set_flag(void *ctx, int c, const char *arg)
{
	(void)c;
	(void)arg;
	*(bool *)ctx = true;
	return 0;
}

int admin_open(const struct admin_target *t, const char *what, struct store **out)
{
	struct store_config cfg = {0};
	char peer[128], host[64] = "";
	int rc;

	if (!t->url) {
		fprintf(stderr, "pressfs %s: --store URL is required\n", what);
		return -EINVAL;
	}
	gethostname(host, sizeof(host) - 1);
	snprintf(peer, sizeof(peer), "%s:%s:%ld", what, host, (long)getpid());
	cfg.url = t->url;
	cfg.site = t->site ? t->site : "default";
	cfg.peer = peer;
	cfg.timeout_ms = t->timeout_ms ? t->timeout_ms : 5000;
	cfg.log = admin_log;
	cfg.log_arg = (void *)what;
	rc = store_open(&cfg, out);
	if (rc < 0)
		fprintf(stderr, "pressfs %s: cannot open site %s at %s: %s\n", what, cfg.site,
			t->url,
			rc == -EPROTO	? "the site holds another store format"
			: rc == -EINVAL ? "bad store URL or site name"
					: strerror(-rc));
	return rc;
}

volatile sig_atomic_t admin_interrupted;

static void on_signal(int sig)
{
	admin_interrupted = 1;
	signal(sig, SIG_DFL); /* a second one ends the process at once */
}

void admin_catch_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* the store's sockets: an error, not a death */
}

double admin_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *admin_bytes(char *buf, size_t size, uint64_t n)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%" PRIu64 " B", n);
	else
		snprintf(buf, size, "%.1f %s", v, unit[u]);
	return buf;
}

void admin_quote(FILE *f, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\\')
			fputs("\\\\", f);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f); /* UTF-8 passes as it is */
	}
}

static inline uint64_t mix(uint64_t h, uint64_t w)
{
	h ^= w;
	h *= 0x100000001b3ull;
	return h ^ (h >> 29);
}

void admin_hash_init(struct admin_hash *x)
{
	memset(x, 0, sizeof(*x));
	x->h = 0xcbf29ce484222325ull;
}

void admin_hash_add(struct admin_hash *x, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t w;

	x->len += len;
	while (x->ntail && len) { /* finish the word a previous piece began */
		x->tail[x->ntail++] = *p++;
		len--;
		if (x->ntail == 8) {
			memcpy(&w, x->tail, 8);
			x->h = mix(x->h, w);
			x->ntail = 0;
		}
	}
	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		x->h = mix(x->h, w);
	}
	memcpy(x->tail + x->ntail, p, len);
	x->ntail += (unsigned)len;
}

uint64_t admin_hash_end(struct admin_hash *x)
{
	uint64_t w = 0;

	memcpy(&w, x->tail, x->ntail);
	return mix(mix(x->h, w), x->len);
}

uint64_t admin_hash(const void *buf, size_t len)
{
	struct admin_hash x;

	admin_hash_init(&x);
	admin_hash_add(&x, buf, len);
	return admin_hash_end(&x);
}

/* One line of progress: "what  [####....]  files/total  bytes/total  rate  ETA". */
static void progress_draw(struct progress *p, bool final)
{
	uint64_t files = atomic_load(&p->files), bytes = atomic_load(&p->bytes);
	double el = admin_now() - p->t0, frac = 0, eta = -1;
	char b1[32], b2[32], b3[32], bar[31];
	int width = 30, fill;

	if (p->total_bytes + p->total_files)
		frac = ((double)files / (double)(p->total_files ? p->total_files : 1) +
			(double)bytes / (double)(p->total_bytes ? p->total_bytes : 1)) /
		       ((p->total_files ? 1 : 0) + (p->total_bytes ? 1 : 0));
	if (frac > 1)
		frac = 1;
	if (frac > 0 && el > 0)
		eta = el / frac - el;
	if (!p->total_files && !p->total_bytes) { /* nothing known ahead: counts only */
		fprintf(stderr, "%s%-7s %" PRIu64 " files  %s  %.0f files/s%s", p->tty ? "\r" : "",
			p->what, files, admin_bytes(b1, sizeof(b1), bytes),
			el > 0 ? (double)files / el : 0.0,
			final ? (p->tty ? "\033[K\n" : "\n") : (p->tty ? "\033[K" : "\n"));
		fflush(stderr);
		return;
	}
	fill = (int)(frac * width);
	for (int i = 0; i < width; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[width] = 0;
	fprintf(stderr, "%s%-7s [%s] %" PRIu64 "/%" PRIu64 " files  %s/%s  %.0f files/s  %s/s",
		p->tty ? "\r" : "", p->what, bar, files, p->total_files,
		admin_bytes(b1, sizeof(b1), bytes), admin_bytes(b2, sizeof(b2), p->total_bytes),
		el > 0 ? (double)files / el : 0.0,
		admin_bytes(b3, sizeof(b3), el > 0 ? (uint64_t)((double)bytes / el) : 0));
	if (final)
		fprintf(stderr, "  %.1fs%s\n", el, p->tty ? "\033[K" : "");
	else if (eta >= 0)
		fprintf(stderr, "  ETA %d:%02d%s", (int)eta / 60, (int)eta % 60,
			p->tty ? "\033[K" : "\n");
	else
		fputs(p->tty ? "\033[K" : "\n", stderr);
	fflush(stderr);
}

static void *progress_thread(void *arg)
{
	struct progress *p = arg;
	struct timespec ts;
	long step_ms = p->tty ? 200 : 5000;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (step_ms % 1000) * 1000000;
		ts.tv_sec += step_ms / 1000 + ts.tv_nsec / 1000000000;
		ts.tv_nsec %= 1000000000;
		if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) == ETIMEDOUT && !p->stop)
			progress_draw(p, false);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

void progress_start(struct progress *p, const char *what, uint64_t files, uint64_t bytes)
{
	p->what = what;
	p->total_files = files;
	p->total_bytes = bytes;
	atomic_init(&p->files, 0);
	atomic_init(&p->bytes, 0);
	p->t0 = admin_now();
	p->tty = isatty(STDERR_FILENO);
	p->stop = false;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->running = pthread_create(&p->thread, NULL, progress_thread, p) == 0;
}

double progress_stop(struct progress *p)
{
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	if (p->running)
		pthread_join(p->thread, NULL);
	progress_draw(p, true);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	return admin_now() - p->t0;
}

int admin_read_file(struct store *s, const struct store_attr *a, void *buf, admin_sink sink,
		    void *arg)
{
	uint64_t n = (a->size + STORE_CHUNK_SIZE - 1) / STORE_CHUNK_SIZE;

	for (uint64_t i = 0; i < n; i++) {
		size_t want = a->size - i * STORE_CHUNK_SIZE, got = 0;
		int rc;

		if (want > STORE_CHUNK_SIZE)
			want = STORE_CHUNK_SIZE;
		if (i < a->nchunks && a->chunks[i]) {
			ssize_t r = store_read_chunk(s, a->chunks[i], 0, want, buf);

			if (r < 0)
				return (int)r;
			got = (size_t)r;
		}
		memset((char *)buf + got, 0, want - got);
		rc = sink(arg, buf, want);
		if (rc)
			return rc;
	}
	return 0;
}
