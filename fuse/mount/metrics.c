/* metrics.c - the mount's HTTP endpoint (`-o metrics=`): /metrics in the Prometheus text format
 * and /healthz for HAProxy and Kubernetes, from one thread polling non-blocking sockets (one
 * request and one response per connection, bounded in size and time), plus a prober thread
 * that asks Redis every so often so that /healthz answers at once. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mount/metrics.h"
#include "stats.h"

#define MAX_CLIENTS 32
#define REQ_MAX	    4096 /* the request line and headers; a probe sends under 200 bytes */
#define CLIENT_MS   5000 /* a connection's whole life: read the request, send the answer */

struct client {
	int fd;	      /* -1: free */
	uint64_t seq; /* order of acceptance: the oldest gives way first */
	uint64_t deadline_ms;
	size_t got;
	char req[REQ_MAX];
	char *out; /* the response, once the request is read */
	size_t outlen, sent;
};

struct metrics {
	struct pfs *fs;
	int lfd;
	int wake[2]; /* metrics_stop writes here to end the server's poll */
	pthread_t http, prober;
	bool http_running, prober_running;
	unsigned timeout_ms, interval_ms;
	double start_time;
	atomic_bool mounted;

	pthread_mutex_t lock; /* guards what follows, shared by the prober and the server */
	pthread_cond_t cond;  /* a probe finished, or stop was asked */
	bool stop;
	bool probed;	     /* the first probe has finished */
	uint64_t last_ok_ms; /* when Redis last answered the probe */
	char why[200];	     /* the last probe's error, "" after an answer */

	struct client clients[MAX_CLIENTS]; /* the server thread's alone, as are the two below */
	uint64_t accepted;
	uint64_t accept_again_ms; /* out of descriptors: leave the queue alone until then */
};

static uint64_t now_ms(void)
{
	return stats_clock() / 1000000u;
}

/* ---- the address ---- */

static bool loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;

	return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

int metrics_parse_addr(const char *spec, bool any, struct sockaddr_storage *ss, socklen_t *len,
		       char *why, size_t whylen)
{
	char host[64];
	const char *port, *end;
	bool bracket = spec[0] == '[';
	unsigned long p;
	char *stop;

	memset(ss, 0, sizeof(*ss));
	if (bracket) {
		end = strchr(spec, ']');
		port = end && end[1] == ':' ? end + 2 : NULL;
		spec++;
	} else {
		end = strrchr(spec, ':');
		port = end ? end + 1 : NULL;
	}
	if (!port || (size_t)(end - spec) >= sizeof(host)) {
		snprintf(why, whylen, "expected 127.0.0.1:PORT or [::1]:PORT");
		return -1;
	}
	memcpy(host, spec, (size_t)(end - spec));
	host[end - spec] = '\0';
	errno = 0;
	p = strtoul(port, &stop, 10);
	if (!*port || *stop || errno || p == 0 || p > 65535 || *port == '-' || *port == '+') {
		snprintf(why, whylen, "the port must be a number from 1 to 65535");
		return -1;
	}
	if (!bracket && inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		ss->ss_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)p);
		*len = sizeof(struct sockaddr_in);
	} else if (bracket &&
		   inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		ss->ss_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)p);
		*len = sizeof(struct sockaddr_in6);
	} else {
		snprintf(why, whylen,
			 "'%s' is not a numeric address (127.0.0.1, or [::1] for IPv6)", host);
		return -1;
	}
	if (!any && !loopback(ss)) {
		snprintf(why, whylen,
			 "%s is not a loopback address: the page has no authentication and must "
			 "not be reachable by visitors (add metrics_any to serve it there anyway)",
			 host);
		return -1;
	}
	return 0;
}

int metrics_open(struct pfs *fs, struct metrics **out)
{
	const struct settings *s = fs->set;
	struct sockaddr_storage ss;
	struct metrics *m;
	socklen_t len;
	char why[256];
	int one = 1;

	*out = NULL;
	if (metrics_parse_addr(s->metrics, s->metrics_any, &ss, &len, why, sizeof(why)) < 0) {
		fprintf(stderr, "pressfs mount: metrics=%s: %s\n", s->metrics, why);
		return -1;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		goto fail;
	m->fs = fs;
	m->lfd = m->wake[0] = m->wake[1] = -1;
	m->timeout_ms = s->timeout_ms;
	/* a few probes per timeout, so that a Redis that stops answering is noticed within it */
	m->interval_ms = s->timeout_ms / 4 < 20	    ? 20
			 : s->timeout_ms / 4 > 1000 ? 1000
						    : s->timeout_ms / 4;
	for (int i = 0; i < MAX_CLIENTS; i++)
		m->clients[i].fd = -1;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	m->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->lfd < 0)
		goto fail;
	setsockopt(m->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(m->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(m->lfd, (struct sockaddr *)&ss, len) < 0 || listen(m->lfd, 64) < 0 ||
	    pipe2(m->wake, O_CLOEXEC | O_NONBLOCK) < 0)
		goto fail;
	*out = m;
	return 0;
fail:
	fprintf(stderr, "pressfs mount: metrics=%s: %s\n", s->metrics, strerror(errno));
	metrics_close(m);
	return -1;
}

/* ---- health ---- */

/* Ask Redis the cheapest thing the store has (the root's attributes), every interval_ms. */
static void *probe_main(void *arg)
{
	struct metrics *m = arg;
	struct store *store = m->fs->store;

	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		struct store_attr a = {0};
		struct timespec until;
		int err;

		pthread_mutex_unlock(&m->lock);
		err = store_getattr(store, STORE_ROOT_INO, &a);
		store_attr_release(&a);
		pthread_mutex_lock(&m->lock);
		m->probed = true;
		if (!err) {
			m->last_ok_ms = now_ms();
			m->why[0] = '\0';
		} else if (err == -ENOENT) {
			snprintf(m->why, sizeof(m->why),
				 "store: the site has no root directory (an emptied Redis?)");
		} else {
			snprintf(m->why, sizeof(m->why), "store: %s",
				 err == -EIO ? store_strerror(store) : strerror(-err));
		}
		pthread_cond_broadcast(&m->cond);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)(m->interval_ms % 1000) * 1000000L;
		until.tv_sec += m->interval_ms / 1000 + until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		while (!m->stop && pthread_cond_timedwait(&m->cond, &m->lock, &until) == 0)
			;
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/* Healthy?  Else WHY says why, in one line.  Caller holds m->lock. */
static bool healthy(struct metrics *m, char *why, size_t size)
{
	uint64_t age = now_ms() - m->last_ok_ms;

	if (!atomic_load(&m->mounted) || fuse_session_exited(m->fs->se))
		snprintf(why, size, "not mounted");
	else if (!m->probed)
		snprintf(why, size, "starting: the store has not been asked yet");
	else if (m->why[0])
		snprintf(why, size, "%s", m->why);
	else if (age > m->timeout_ms)
		snprintf(why, size, "store: no answer for %llu ms (timeout=%u)",
			 (unsigned long long)age, m->timeout_ms);
	else
		return true;
	for (char *p = why; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' '; /* one line, whatever Redis said */
	return false;
}

/* ---- HTTP ---- */

static const char *reason_phrase(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 431:
		return "Request Header Fields Too Large";
	case 503:
		return "Service Unavailable";
	default:
		return "Internal Server Error";
	}
}

/* The whole response into c->out: status line, headers, and BODY unless HEAD. */
static void respond(struct client *c, int code, const char *ctype, const char *body, size_t len,
		    bool head)
{
	char hdr[384];
	int hl = snprintf(hdr, sizeof(hdr),
			  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			  "Cache-Control: no-store\r\n%sConnection: close\r\n\r\n",
			  code, reason_phrase(code), ctype, len,
			  code == 405 ? "Allow: GET, HEAD\r\n" : "");

	free(c->out);
	c->outlen = (size_t)hl + (head ? 0 : len);
	c->out = malloc(c->outlen);
	c->sent = 0;
	if (!c->out) {
		c->outlen = 0;
		return;
	}
	memcpy(c->out, hdr, (size_t)hl);
	if (!head)
		memcpy(c->out + hl, body, len);
}

static void respond_text(struct client *c, int code, const char *text, bool head)
{
	respond(c, code, "text/plain; charset=utf-8", text, strlen(text), head);
}

static void page_metrics(struct metrics *m, struct client *c, bool head)
{
	struct stats_health h = {.start_time = m->start_time};
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	pthread_mutex_lock(&m->lock);
	h.store_up = m->probed && !m->why[0] && now_ms() - m->last_ok_ms <= m->timeout_ms;
	pthread_mutex_unlock(&m->lock);
	h.mounted = atomic_load(&m->mounted) && !fuse_session_exited(m->fs->se);
	f = open_memstream(&buf, &len);
	if (!f ||
	    stats_prometheus(f, m->fs->set->site, m->fs->set->node_id, m->fs->policy, &h) < 0) {
		if (f)
			fclose(f);
		free(buf);
		respond_text(c, 500, "the page could not be made\n", head);
		return;
	}
	fclose(f);
	respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", buf, len, head);
	free(buf);
}

static void page_health(struct metrics *m, struct client *c, bool head)
{
	char why[256];
	bool ok;

	pthread_mutex_lock(&m->lock);
	ok = healthy(m, why, sizeof(why) - 1);
	pthread_mutex_unlock(&m->lock);
	if (ok)
		respond_text(c, 200, "ok\n", head);
	else {
		strcat(why, "\n");
		respond_text(c, 503, why, head);
	}
}

/* C has a whole request head: answer it.  Only the request line matters; headers are read
 * past (a body, which GET and HEAD do not have, is never waited for). */
static void handle(struct metrics *m, struct client *c)
{
	char *line = c->req, *eol = strpbrk(line, "\r\n"), *sp1, *sp2, *q;
	bool head;

	*eol = '\0';
	sp1 = strchr(line, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || strncmp(sp2 + 1, "HTTP/1.", 7) || !sp2[8] || sp2[9] || sp1[1] != '/') {
		respond_text(c, 400, "bad request\n", false);
		return;
	}
	*sp1 = *sp2 = '\0';
	head = !strcmp(line, "HEAD");
	if (!head && strcmp(line, "GET")) {
		respond_text(c, 405, "only GET and HEAD\n", false);
		return;
	}
	if ((q = strchr(sp1 + 1, '?')))
		*q = '\0';
	if (!strcmp(sp1 + 1, "/metrics"))
		page_metrics(m, c, head);
	else if (!strcmp(sp1 + 1, "/healthz"))
		page_health(m, c, head);
	else
		respond_text(c, 404, "not found: try /metrics or /healthz\n", head);
}

static void client_close(struct client *c)
{
	char junk[512];

	if (c->fd < 0)
		return;
	/* what the client sent past its request, read first: closing on unread bytes would reset
	 * the connection, and the client could lose the response */
	while (recv(c->fd, junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
	shutdown(c->fd, SHUT_WR);
	close(c->fd);
	free(c->out);
	c->out = NULL;
	c->fd = -1;
}

/* Send what the socket takes now; closes C when all is sent or the peer is gone. */
static void client_send(struct client *c)
{
	while (c->sent < c->outlen) {
		ssize_t w =
		    send(c->fd, c->out + c->sent, c->outlen - c->sent, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				client_close(c);
			return;
		}
		c->sent += (size_t)w;
	}
	client_close(c);
}

/* Read what has come; once the head is complete (or too long), the response is made. */
static void client_recv(struct metrics *m, struct client *c)
{
	for (;;) {
		ssize_t r = recv(c->fd, c->req + c->got, REQ_MAX - 1 - c->got, MSG_DONTWAIT);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) {
			client_close(c);
			return;
		}
		c->got += (size_t)r;
		c->req[c->got] = '\0';
		if (memchr(c->req, '\0', c->got)) {
			respond_text(c, 400, "bad request\n", false);
			break;
		}
		if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n")) {
			handle(m, c);
			break;
		}
		if (c->got == REQ_MAX - 1) {
			respond_text(c, 431, "request too long\n", false);
			break;
		}
	}
	if (!c->out)
		client_close(c); /* no memory for the answer */
	else
		client_send(c);
}

/* Take every pending connection.  With all slots in use the oldest gives way: a client that
 * holds connections open cannot lock the probes out. */
static void accept_all(struct metrics *m)
{
	for (;;) {
		int fd = accept4(m->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct client *slot = NULL;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				m->accept_again_ms =
				    now_ms() + 100; /* else poll says "ready" at once */
			return;
		}
		for (int i = 0; i < MAX_CLIENTS; i++) {
			struct client *c = &m->clients[i];

			if (c->fd < 0) {
				slot = c;
				break;
			}
			if (!slot || c->seq < slot->seq)
				slot = c;
		}
		client_close(slot);
		slot->fd = fd;
		slot->seq = ++m->accepted;
		slot->got = 0;
		slot->deadline_ms = now_ms() + CLIENT_MS;
	}
}

static void *http_main(void *arg)
{
	struct metrics *m = arg;
	struct pollfd p[MAX_CLIENTS + 2];
	struct client *who[MAX_CLIENTS + 2];

	/* the first answer of /healthz is the first probe's, not a guess */
	pthread_mutex_lock(&m->lock);
	while (!m->probed && !m->stop)
		pthread_cond_wait(&m->cond, &m->lock);
	pthread_mutex_unlock(&m->lock);

	for (;;) {
		uint64_t now = now_ms(), next = now + 60000;
		int n = 2, ready;

		p[0] = (struct pollfd){.fd = m->wake[0], .events = POLLIN};
		p[1] =
		    (struct pollfd){.fd = m->lfd, .events = now < m->accept_again_ms ? 0 : POLLIN};
		if (now < m->accept_again_ms && m->accept_again_ms < next)
			next = m->accept_again_ms;
		for (int i = 0; i < MAX_CLIENTS; i++) {
			struct client *c = &m->clients[i];

			if (c->fd < 0)
				continue;
			if (c->deadline_ms <= now) {
				client_close(c);
				continue;
			}
			if (c->deadline_ms < next)
				next = c->deadline_ms;
			who[n] = c;
			p[n++] = (struct pollfd){.fd = c->fd, .events = c->out ? POLLOUT : POLLIN};
		}
		ready = poll(p, (nfds_t)n, (int)(next - now));
		if (ready < 0 && errno != EINTR)
			break;
		if (ready <= 0)
			continue;
		if (p[0].revents)
			break;
		for (int i = 2; i < n; i++) {
			if (!p[i].revents || who[i]->fd != p[i].fd)
				continue;
			if (who[i]->out)
				client_send(who[i]);
			else
				client_recv(m, who[i]);
		}
		if (p[1].revents)
			accept_all(m);
	}
	for (int i = 0; i < MAX_CLIENTS; i++)
		client_close(&m->clients[i]);
	return NULL;
}

int metrics_start(struct metrics *m)
{
	int err;

	m->start_time = (double)time(NULL);
	atomic_store(&m->mounted, true);
	err = pthread_create(&m->prober, NULL, probe_main, m);
	if (err)
		return -err;
	m->prober_running = true;
	err = pthread_create(&m->http, NULL, http_main, m);
	if (err)
		return -err;
	m->http_running = true;
	log_msg(LOG_LVL_INFO, "metrics and health check on http://%s/ (/metrics, /healthz)",
		m->fs->set->metrics);
	return 0;
}

void metrics_stop(struct metrics *m)
{
	if (!m)
		return;
	atomic_store(&m->mounted, false);
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	if (m->wake[1] >= 0 && write(m->wake[1], "", 1) < 0)
		log_msg(LOG_LVL_WARN, "metrics: cannot wake the server thread");
	if (m->http_running)
		pthread_join(m->http, NULL);
	if (m->prober_running)
		pthread_join(m->prober, NULL); /* at most one probe: the store's timeout */
	m->http_running = m->prober_running = false;
}

void metrics_close(struct metrics *m)
{
	if (!m)
		return;
	metrics_stop(m);
	if (m->lfd >= 0)
		close(m->lfd);
	for (int i = 0; i < 2; i++)
		if (m->wake[i] >= 0)
			close(m->wake[i]);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
