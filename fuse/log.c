/* log.c - the daemon's log, libfuse's messages included: a file, stderr in the foreground, or
 * syslog once daemonized. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "pressfs.h"

/* One log per process: set once in log_open before any thread starts. */
static FILE *log_fp;
static int log_syslog;
static int log_max = LOG_LVL_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

/* libfuse's own messages (a session it cannot start, a bad reply, a lost device), which go
 * to its stderr by default and so nowhere once the daemon has detached.  libfuse may build one
 * line from several calls: the pieces are kept per thread until the newline. */
static void log_fuse(enum fuse_log_level level, const char *fmt, va_list ap)
{
	static __thread char line[1024];
	static __thread size_t len;
	int lvl = level <= FUSE_LOG_ERR	      ? LOG_LVL_ERR
		  : level <= FUSE_LOG_WARNING ? LOG_LVL_WARN
		  : level <= FUSE_LOG_INFO    ? LOG_LVL_INFO
					      : LOG_LVL_DEBUG;
	char *nl;

	vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	len = strlen(line);
	while ((nl = strchr(line, '\n')) || len == sizeof(line) - 1) {
		size_t n = nl ? (size_t)(nl - line) : len;
		const char *tag = strncmp(line, "fuse: ", 6) ? "fuse: " : "";

		log_msg(lvl, "%s%.*s", tag, (int)n, line);
		/* Before the daemon detaches, whoever ran `pressfs mount` sees its errors too
		 * (after that, stderr is /dev/null). */
		if (lvl <= LOG_LVL_WARN && log_fp && log_fp != stderr)
			fprintf(stderr, "pressfs mount: %s%.*s\n", tag, (int)n, line);
		n += nl != NULL;
		memmove(line, line + n, len - n + 1);
		len -= n;
	}
}

int log_open(const char *file, int foreground, int debug)
{
	log_max = debug ? LOG_LVL_DEBUG : LOG_LVL_INFO;
	if (file) {
		log_fp = fopen(file, "ae");
		if (!log_fp)
			return -errno;
		setvbuf(log_fp, NULL, _IOLBF, 0);
	} else if (foreground) {
		log_fp = stderr;
	} else {
		openlog("pressfs", LOG_PID, LOG_DAEMON);
		log_syslog = 1;
	}
	fuse_set_log_func(log_fuse);
	return 0;
}

static void log_v(int level, const char *fmt, va_list ap)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
	char when[32];
	struct timespec ts;
	struct tm tm;

	if (level > log_max)
		return;
	if (log_syslog) {
		vsyslog(prio[level], fmt, ap);
		return;
	}
	if (!log_fp)
		log_fp = stderr;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	pthread_mutex_lock(&log_lock);
	fprintf(log_fp, "%s.%03ldZ pressfs %s: ", when, ts.tv_nsec / 1000000, names[level]);
	vfprintf(log_fp, fmt, ap);
	fputc('\n', log_fp);
	pthread_mutex_unlock(&log_lock);
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(level, fmt, ap);
	va_end(ap);
}

/* The store's logging hook: LEVEL is a syslog priority, MSG one line. */
void log_store(void *arg, int level, const char *msg)
{
	(void)arg;
	log_msg(level <= LOG_ERR       ? LOG_LVL_ERR
		: level <= LOG_WARNING ? LOG_LVL_WARN
		: level <= LOG_INFO    ? LOG_LVL_INFO
				       : LOG_LVL_DEBUG,
		"%s", msg);
}
