/* record.c - attributes writes to the plugin or theme on the PHP call stack, counts and refuses
 * them, and appends one JSON line per recorded write to pressfs.audit_log. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "php.h"
#include "SAPI.h"
#include "zend_smart_str.h"

#include "path.h"
#include "php_pressfs.h"
#include "record.h"

/* ---- who ---- */

/* clang-format off */
static const struct {
	const char *marker;
	size_t len;
	const char *kind;
} places[] = {
	{"/wp-content/plugins/", sizeof("/wp-content/plugins/") - 1, "plugin"},
	{"/wp-content/mu-plugins/", sizeof("/wp-content/mu-plugins/") - 1, "mu-plugin"},
	{"/wp-content/themes/", sizeof("/wp-content/themes/") - 1, "theme"},
};
/* clang-format on */

/* The slug FILE belongs to, when its path below the root starts with one of the places above:
 * by its place in the site, never by a substring ("uploads/wp-content/plugins/x/" is no plugin). */
static const char *slug_of(const char *file, size_t flen, char *slug, size_t size)
{
	char rel[MAXPATHLEN];
	long rlen = -1;

	if (PFS_G(root).len)
		rlen =
		    path_relative_to(PFS_G(root).s, PFS_G(root).len, file, flen, rel, sizeof(rel));
	if (rlen < 0 && PFS_G(root_real).len && PFS_G(root_real).s != PFS_G(root).s)
		rlen = path_relative_to(PFS_G(root_real).s, PFS_G(root_real).len, file, flen, rel,
					sizeof(rel));
	if (rlen < 0)
		return NULL;
	for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
		const char *s = rel + places[i].len, *e, *end = rel + rlen;
		size_t n;

		if ((size_t)rlen <= places[i].len ||
		    memcmp(rel, places[i].marker, places[i].len) != 0)
			continue;
		e = memchr(s, '/', (size_t)(end - s));
		if (!e) {
			/* a single-file plugin: hello.php is "hello" */
			e = end;
			if (e - s > 4 && memcmp(e - 4, ".php", 4) == 0)
				e -= 4;
		}
		n = (size_t)(e - s);
		if (n == 0)
			continue;
		if (n >= size)
			n = size - 1;
		memcpy(slug, s, n);
		slug[n] = '\0';
		return places[i].kind;
	}
	return NULL;
}

static void set_frame(struct pfs_culprit *c, const zend_string *file, uint32_t line)
{
	size_t n = ZSTR_LEN(file) < sizeof(c->file) - 1 ? ZSTR_LEN(file) : sizeof(c->file) - 1;

	memcpy(c->file, ZSTR_VAL(file), n);
	c->file[n] = '\0';
	c->line = line;
}

void pfs_culprit_find(struct pfs_culprit *c)
{
	zend_execute_data *ex;
	bool first = true;

	c->kind = "core";
	c->slug[0] = '\0';
	c->file[0] = '\0';
	c->line = 0;
	for (ex = EG(current_execute_data); ex; ex = ex->prev_execute_data) {
		const zend_string *file;
		const char *kind;
		uint32_t line;

		if (!ex->func || !ZEND_USER_CODE(ex->func->type))
			continue;
		file = ex->func->op_array.filename;
		line = ex->opline ? ex->opline->lineno : 0;
		if (first) {
			set_frame(c, file, line);
			first = false;
		}
		kind = slug_of(ZSTR_VAL(file), ZSTR_LEN(file), c->slug, sizeof(c->slug));
		if (kind) {
			c->kind = kind;
			set_frame(c, file, line);
			return;
		}
	}
}

/* The running internal function ("file_put_contents", "SplFileObject::__construct"), or
 * "include" when a script is being opened for compilation. */
static void op_name(char *buf, size_t size)
{
	zend_execute_data *ex = EG(current_execute_data);

	if (ex && ex->func && ex->func->type == ZEND_INTERNAL_FUNCTION &&
	    ex->func->common.function_name) {
		if (ex->func->common.scope)
			snprintf(buf, size, "%s::%s", ZSTR_VAL(ex->func->common.scope->name),
				 ZSTR_VAL(ex->func->common.function_name));
		else
			snprintf(buf, size, "%s", ZSTR_VAL(ex->func->common.function_name));
	} else if (ex && ex->func) {
		snprintf(buf, size, "include");
	} else {
		snprintf(buf, size, "open");
	}
}

/* ---- the audit line ---- */

struct pfs_event {
	const char *op;
	const char *abs;    /* the path as the script named it */
	const char *from;   /* rename's source */
	const char *target; /* where it went, when redirected */
	const char *judged; /* the relative path the policy judged */
	const char *pattern;
	const char *outcome;
	const char *error; /* for outcome "failed": the errno's name, NULL when unknown */
	enum policy_class cls;
	unsigned line;
	bool via_link;
	long long bytes;
	const struct pfs_culprit *c;
};

/* Length of the valid UTF-8 sequence at P (NUL-terminated), 0 when it is not one. */
static size_t utf8_len(const unsigned char *p)
{
	size_t n, i;

	if (p[0] < 0xc2 || p[0] > 0xf4)
		return 0;
	n = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
	for (i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* A JSON string; bytes that are not UTF-8 come out as \u00XX, so the line stays valid JSON. */
static void json_str(smart_str *s, const char *v)
{
	const unsigned char *p;

	if (!v) {
		smart_str_appends(s, "null");
		return;
	}
	smart_str_appendc(s, '"');
	for (p = (const unsigned char *)v; *p; p++) {
		size_t n;

		switch (*p) {
		case '"':
			smart_str_appends(s, "\\\"");
			continue;
		case '\\':
			smart_str_appends(s, "\\\\");
			continue;
		case '\n':
			smart_str_appends(s, "\\n");
			continue;
		case '\t':
			smart_str_appends(s, "\\t");
			continue;
		default:
			break;
		}
		if (*p < 0x20 || *p == 0x7f) {
			smart_str_append_printf(s, "\\u%04x", *p);
		} else if (*p < 0x80) {
			smart_str_appendc(s, (char)*p);
		} else if ((n = utf8_len(p)) != 0) {
			smart_str_appendl(s, (const char *)p, n);
			p += n - 1;
		} else {
			smart_str_append_printf(s, "\\u%04x", *p);
		}
	}
	smart_str_appendc(s, '"');
}

static void json_key(smart_str *s, const char *key)
{
	smart_str_appends(s, s->s && ZSTR_LEN(s->s) > 1 ? ",\"" : "\"");
	smart_str_appends(s, key);
	smart_str_appends(s, "\":");
}

static void format_event(smart_str *s, const struct pfs_event *e)
{
	struct timespec ts;
	struct tm tm;
	char when[64], who[200], *uri;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%03ldZ", ts.tv_nsec / 1000000);
	if (e->c->slug[0])
		snprintf(who, sizeof(who), "%s:%s", e->c->kind, e->c->slug);
	else
		snprintf(who, sizeof(who), "%s", e->c->kind);

	smart_str_appendc(s, '{');
	json_key(s, "time");
	json_str(s, when);
	json_key(s, "pid");
	smart_str_append_long(s, (zend_long)getpid());
	json_key(s, "mode");
	json_str(s, PFS_G(mode) == PFS_MODE_REPORT ? "report" : "enforce");
	json_key(s, "op");
	json_str(s, e->op);
	json_key(s, "path");
	json_str(s, e->judged);
	json_key(s, "file");
	json_str(s, e->abs);
	if (e->from) {
		json_key(s, "from");
		json_str(s, e->from);
	}
	if (e->target) {
		json_key(s, "target");
		json_str(s, e->target);
	}
	if (e->via_link) {
		json_key(s, "via_symlink");
		smart_str_appends(s, "true");
	}
	json_key(s, "class");
	json_str(s, policy_class_name(e->cls));
	json_key(s, "rule");
	if (e->line)
		smart_str_append_long(s, (zend_long)e->line);
	else
		smart_str_appends(s, "null");
	json_key(s, "pattern");
	json_str(s, e->pattern);
	json_key(s, "bytes");
	if (e->bytes >= 0)
		smart_str_append_long(s, (zend_long)e->bytes);
	else
		smart_str_appends(s, "null");
	json_key(s, "outcome");
	json_str(s, e->outcome);
	if (strcmp(e->outcome, "failed") == 0) {
		json_key(s, "errno");
		json_str(s, e->error);
	}
	json_key(s, "culprit");
	json_str(s, who);
	json_key(s, "culprit_file");
	json_str(s, e->c->file[0] ? e->c->file : NULL);
	json_key(s, "culprit_line");
	smart_str_append_long(s, (zend_long)e->c->line);
	/* the request that made it, so that a write is tied to the page or form behind it: the
	 * URI as the client sent it (REQUEST_URI), else the script and its query string */
	json_key(s, "method");
	json_str(s, SG(request_info).request_method);
	json_key(s, "uri");
	if ((uri = sapi_getenv("REQUEST_URI", sizeof("REQUEST_URI") - 1))) {
		json_str(s, uri);
		efree(uri);
	} else if (SG(request_info).request_uri && SG(request_info).query_string &&
		   SG(request_info).query_string[0]) {
		spprintf(&uri, 0, "%s?%s", SG(request_info).request_uri,
			 SG(request_info).query_string);
		json_str(s, uri);
		efree(uri);
	} else {
		json_str(s, SG(request_info).request_uri);
	}
	smart_str_appends(s, "}\n");
	smart_str_0(s);
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

bool pfs_recording(void)
{
	return PFS_G(sink) != PFS_SINK_NONE;
}

void pfs_sink_close(void)
{
	if (PFS_G(audit_fd) >= 0)
		close(PFS_G(audit_fd));
	PFS_G(audit_fd) = -1;
	PFS_G(audit_failed) = false;
}

static void emit(const struct pfs_event *e)
{
	smart_str s = {0};
	int saved = errno;

	format_event(&s, e);
	switch (PFS_G(sink)) {
	case PFS_SINK_STDERR:
		write_all(STDERR_FILENO, ZSTR_VAL(s.s), ZSTR_LEN(s.s));
		break;
	case PFS_SINK_SYSLOG:
		syslog(LOG_NOTICE, "pressfs audit: %.*s", (int)ZSTR_LEN(s.s) - 1, ZSTR_VAL(s.s));
		break;
	case PFS_SINK_FILE:
		if (PFS_G(audit_fd) < 0 && !PFS_G(audit_failed)) {
			PFS_G(audit_fd) = open(PFS_G(audit_path),
					       O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
			if (PFS_G(audit_fd) < 0) {
				/* once per configuration, not once per write */
				PFS_G(audit_failed) = true;
				php_error_docref(NULL, E_WARNING,
						 "pressfs: cannot open the audit log %s: %s",
						 PFS_G(audit_path), strerror(errno));
			}
		}
		if (PFS_G(audit_fd) < 0)
			break;
		/* one write() per line: O_APPEND keeps concurrent workers' lines whole */
		write_all(PFS_G(audit_fd), ZSTR_VAL(s.s), ZSTR_LEN(s.s));
		break;
	default:
		/* report mode without an audit log: what would be refused still goes somewhere */
		if (strcmp(e->outcome, "reported") == 0) {
			char *line;

			spprintf(&line, 0, "pressfs audit: %.*s", (int)ZSTR_LEN(s.s) - 1,
				 ZSTR_VAL(s.s));
			php_log_err_with_severity(line, LOG_NOTICE);
			efree(line);
		}
		break;
	}
	smart_str_free(&s);
	errno = saved;
}

static const char *outcome_of(bool allowed, bool redirected)
{
	if (!allowed)
		return PFS_G(mode) == PFS_MODE_REPORT ? "reported" : "denied";
	return redirected ? "redirected" : "allowed";
}

static void event_of(struct pfs_event *e, const struct pfs_verdict *v, const char *op,
		     const struct pfs_culprit *c)
{
	e->op = op;
	e->abs = v->p.abs;
	e->from = NULL;
	e->target = v->redirected ? v->target : NULL;
	e->judged = v->judged;
	e->pattern = v->rule ? v->rule->pattern : NULL;
	e->outcome = outcome_of(v->allowed, v->redirected);
	e->error = NULL;
	e->cls = v->cls;
	e->line = v->rule ? v->rule->line : 0;
	e->via_link = v->via_link;
	e->bytes = -1;
	e->c = c;
}

/* ---- deciding ---- */

static void refusal(const struct pfs_verdict *v, const struct pfs_culprit *c, char *msg,
		    size_t size)
{
	char who[200], named[MAXPATHLEN + 64];

	if (c->slug[0])
		snprintf(who, sizeof(who), "%s %s", c->kind, c->slug);
	else
		snprintf(who, sizeof(who), "WordPress core (%s:%u)", c->file[0] ? c->file : "-",
			 c->line);
	if (v->unknown) {
		snprintf(msg, size,
			 "pressfs: write to %.200s refused: where it lands cannot be told (a name "
			 "or a chain of symlinks too long to follow), attempted by %s",
			 v->judged, who);
		return;
	}
	if (v->via_link)
		snprintf(named, sizeof(named), "%s (through a symlink, it lands in %s)",
			 v->p.rel_len ? v->p.rel : v->p.abs, v->judged);
	else
		snprintf(named, sizeof(named), "%s", v->judged);
	if (v->rule)
		snprintf(msg, size,
			 "pressfs: write to %s refused by %s line %u (%s %s%s), attempted by %s",
			 named, PFS_G(policy_path), v->rule->line, v->rule->pattern,
			 policy_class_name(v->rule->cls),
			 policy_class_writable(v->rule->cls)
			     ? ": a name PHP or the web server runs needs +code"
			     : "",
			 who);
	else
		snprintf(msg, size,
			 "pressfs: write to %s refused: no rule in %s makes it writable, "
			 "attempted by %s",
			 named, PFS_G(policy_path), who);
}

enum pfs_go pfs_write_begin(const struct pfs_verdict *v, const char *op, char *msg, size_t msg_size)
{
	struct pfs_culprit c;
	struct pfs_event e;
	char name[128];

	if (!v->governed)
		return PFS_GO_AS_IS;
	/* a write that goes ahead is counted once it is known to have happened */
	if (v->allowed || PFS_G(mode) == PFS_MODE_REPORT)
		return PFS_GO_TARGET;
	PFS_COUNT(denied);
	pfs_culprit_find(&c);
	refusal(v, &c, msg, msg_size);
	if (!op) {
		op_name(name, sizeof(name));
		op = name;
	}
	event_of(&e, v, op, &c);
	e.bytes = 0;
	if (pfs_recording())
		emit(&e);
	errno = EROFS;
	return PFS_GO_REFUSE;
}

void pfs_record_answer(const struct pfs_verdict *v, const char *op)
{
	struct pfs_culprit c;
	struct pfs_event e;

	if (!v->governed || !pfs_recording())
		return;
	pfs_culprit_find(&c);
	event_of(&e, v, op, &c);
	e.outcome = "answered-false";
	emit(&e);
}

/* Count a write that went ahead (ERR 0) or failed. */
static void count(const struct pfs_verdict *v, int err)
{
	if (err)
		PFS_COUNT(failed);
	else if (!v->allowed)
		PFS_COUNT(reported);
	else if (v->redirected)
		PFS_COUNT(redirected);
	else
		PFS_COUNT(allowed);
}

void pfs_write_done(const struct pfs_verdict *v, const char *op, const char *from, long long bytes,
		    int err)
{
	struct pfs_culprit c;
	struct pfs_event e;
	char name[128], num[32];

	if (!v->governed)
		return;
	count(v, err);
	/* a reported write is recorded even without an audit log (emit()), a failed one is not */
	if (!pfs_recording() && (v->allowed || err))
		return;
	pfs_culprit_find(&c);
	if (!op) {
		op_name(name, sizeof(name));
		op = name;
	}
	event_of(&e, v, op, &c);
	e.from = from;
	e.bytes = bytes;
	if (err) {
		e.outcome = "failed";
		e.error = err > 0 ? strerrorname_np(err) : NULL;
		if (err > 0 && !e.error) {
			snprintf(num, sizeof(num), "%d", err);
			e.error = num;
		}
	}
	emit(&e);
}

/* ---- write streams ---- */

struct pfs_stream_record {
	char *op, *abs, *target, *judged, *pattern;
	const char *outcome;
	enum policy_class cls;
	unsigned line;
	bool via_link;
	zend_off_t initial;
	struct pfs_culprit c;
};

struct pfs_stream_record *pfs_stream_record_new(const struct pfs_verdict *v, const char *mode)
{
	struct pfs_stream_record *r;
	char name[128];
	struct stat st;

	if (!v->governed)
		return NULL;
	count(v, 0);
	if (v->allowed && !pfs_recording())
		return NULL;
	r = emalloc(sizeof(*r));
	op_name(name, sizeof(name));
	r->op = estrdup(name);
	r->abs = estrdup(v->p.abs);
	/* an absolute name to stat at close: the script's may be relative to a cwd that has
	 * changed by then (and under ZTS is not the process's) */
	r->target = estrdup(v->redirected ? v->target : v->p.abs);
	r->judged = estrdup(v->judged);
	r->pattern = v->rule ? estrdup(v->rule->pattern) : NULL;
	r->outcome = outcome_of(v->allowed, v->redirected);
	r->cls = v->cls;
	r->line = v->rule ? v->rule->line : 0;
	r->via_link = v->via_link;
	/* the stack now, not at fclose(), says who opened it */
	pfs_culprit_find(&r->c);
	/* "w", "x" and "c" (file_put_contents' LOCK_EX truncates after locking) write the whole
	 * file; "a" and "r+" add to what is there */
	r->initial = 0;
	if ((strchr(mode, 'a') || mode[0] == 'r') && stat(r->target, &st) == 0)
		r->initial = st.st_size;
	return r;
}

void pfs_stream_record_close(struct pfs_stream_record *r)
{
	struct pfs_event e;
	struct stat st;

	e.op = r->op;
	e.abs = r->abs;
	e.from = NULL;
	e.target = strcmp(r->outcome, "redirected") == 0 ? r->target : NULL;
	e.judged = r->judged;
	e.pattern = r->pattern;
	e.outcome = r->outcome;
	e.error = NULL;
	e.cls = r->cls;
	e.line = r->line;
	e.via_link = r->via_link;
	/* what the file grew by, measured now that it is closed */
	e.bytes = 0;
	if (stat(r->target, &st) == 0 && st.st_size > r->initial)
		e.bytes = st.st_size - r->initial;
	e.c = &r->c;
	emit(&e);

	efree(r->op);
	efree(r->abs);
	efree(r->target);
	efree(r->judged);
	if (r->pattern)
		efree(r->pattern);
	efree(r);
}
