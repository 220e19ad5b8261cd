/* redis_fixture.h - a throwaway redis-server for C unit tests: 127.0.0.1 on a free port, a
 * temporary directory, no persistence unless asked, always killed by pid at exit (normal exit,
 * a failed assertion, a signal or a crash) and its directory removed.
 *
 *   fx_start()          start it (again: the same port and directory, so a restart keeps the
 *                       address and loads dump.rdb if the test saved one)
 *   fx_stop(SIGKILL)    stop it with that signal and reap it
 *   fx_pause(true)      SIGSTOP it (a hung server: connections open, no answers); false: go on
 *   fx_cmd("SET %s x")  one command on a private connection; the caller frees the reply
 * Only for tests: it keeps its state in file-scope statics. */
#ifndef PRESSFS_REDIS_FIXTURE_H
#define PRESSFS_REDIS_FIXTURE_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "free_port.h"

static struct {
	pid_t pid;
	int port;
	char dir[64];
	char url[64];	       /* redis://127.0.0.1:PORT */
	char sock[96];	       /* DIR/redis.sock */
	char rdb[96], log[96]; /* removed with DIR at exit */
} fx;

/* Async-signal-safe: kill the server, remove its files. */
static void fx_cleanup(void)
{
	if (fx.pid > 0) {
		kill(fx.pid, SIGKILL);
		waitpid(fx.pid, NULL, 0);
		fx.pid = 0;
	}
	if (fx.dir[0]) {
		unlink(fx.rdb);
		unlink(fx.log);
		unlink(fx.sock);
		rmdir(fx.dir);
	}
}

static void fx_on_signal(int sig)
{
	fx_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* One command on a fresh connection (NULL when the server does not answer). */
__attribute__((format(printf, 1, 2), unused)) static redisReply *fx_cmd(const char *fmt, ...)
{
	struct timeval tv = {2, 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", fx.port, tv);
	redisReply *r = NULL;
	va_list ap;

	if (c && !c->err) {
		redisSetTimeout(c, tv);
		va_start(ap, fmt);
		r = redisvCommand(c, fmt, ap);
		va_end(ap);
	}
	if (c)
		redisFree(c);
	return r;
}

/* The integer answer of a command, or LLONG_MIN. */
__attribute__((format(printf, 1, 2), unused)) static long long fx_int(const char *fmt, ...)
{
	struct timeval tv = {2, 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", fx.port, tv);
	redisReply *r = NULL;
	long long v = -0x7fffffffffffffffLL - 1;
	va_list ap;

	if (c && !c->err) {
		redisSetTimeout(c, tv);
		va_start(ap, fmt);
		r = redisvCommand(c, fmt, ap);
		va_end(ap);
	}
	if (r && r->type == REDIS_REPLY_INTEGER)
		v = r->integer;
	if (r)
		freeReplyObject(r);
	if (c)
		redisFree(c);
	return v;
}

/* One command from an argument vector (binary-safe: empty or NUL-holding arguments). */
__attribute__((unused)) static int fx_argv(int argc, const char **argv, const size_t *lens)
{
	struct timeval tv = {2, 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", fx.port, tv);
	redisReply *r = NULL;
	int ok_ = 0;

	if (c && !c->err) {
		redisSetTimeout(c, tv);
		r = redisCommandArgv(c, argc, argv, lens);
	}
	ok_ = r && r->type != REDIS_REPLY_ERROR;
	if (r)
		freeReplyObject(r);
	if (c)
		redisFree(c);
	return ok_ ? 0 : -1;
}

static int fx_start(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV,
				   SIGBUS, SIGABRT, SIGFPE, SIGILL,  SIGPIPE};
	char port[16];
	pid_t pid;

	if (!fx.dir[0]) {
		snprintf(fx.dir, sizeof fx.dir, "/tmp/pressfs-redis-XXXXXX");
		if (!mkdtemp(fx.dir)) {
			fx.dir[0] = '\0';
			return -errno;
		}
		snprintf(fx.rdb, sizeof fx.rdb, "%s/dump.rdb", fx.dir);
		snprintf(fx.log, sizeof fx.log, "%s/redis.log", fx.dir);
		snprintf(fx.sock, sizeof fx.sock, "%s/redis.sock", fx.dir);
		atexit(fx_cleanup);
		for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
			signal(sigs[i], sigs[i] == SIGPIPE ? SIG_IGN : fx_on_signal);
		fx.port = free_port();
		if (fx.port < 0)
			return -EADDRNOTAVAIL;
		snprintf(fx.url, sizeof fx.url, "redis://127.0.0.1:%d", fx.port);
	}
	snprintf(port, sizeof port, "%d", fx.port);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		prctl(PR_SET_PDEATHSIG, SIGKILL); /* even if the test is SIGKILLed */
		dup2(null, 0);
		dup2(null, 1);
		execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
		       "--save", "", "--appendonly", "no", "--dir", fx.dir, "--daemonize", "no",
		       "--logfile", fx.log, "--unixsocket", fx.sock, "--unixsocketperm", "700",
		       (char *)NULL);
		_exit(127);
	}
	fx.pid = pid;
	for (int i = 0; i < 500; i++) { /* up to 5 s */
		redisReply *r = fx_cmd("PING");
		int up = r && r->type == REDIS_REPLY_STATUS;

		if (r)
			freeReplyObject(r);
		if (up)
			return 0;
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			fx.pid = 0;
			return -ECHILD;
		}
		usleep(10000);
	}
	return -ETIMEDOUT;
}

__attribute__((unused)) static void fx_stop(int sig)
{
	if (fx.pid > 0) {
		kill(fx.pid, sig);
		waitpid(fx.pid, NULL, 0);
		fx.pid = 0;
	}
}

__attribute__((unused)) static void fx_pause(int on)
{
	if (fx.pid > 0)
		kill(fx.pid, on ? SIGSTOP : SIGCONT);
}

#endif
