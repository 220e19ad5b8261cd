/* test_classes.c - unit tests for fuse/overlay/classes.c: every class x every operation x the
 * kinds of path the daemon judges (a file, a directory, a lower file needing copy-up, entries a
 * directory rename carries), with and without the pool and the local directory. */
#include <errno.h>
#include <stdlib.h>

#include "overlay/classes.h"
#include "tap.h"

static struct policy *P;

static const char RULES[] = "/d/**        deny\n"
			    "/s/**/*.php  deny\n"
			    "/s/**        shared\n"
			    "/c/**        cache\n"
			    "/l/**        local\n"
			    "/w3/**       shared\n"
			    "/k/**        shared+code\n";

/* One path per class; "/n/..." has no rule. */
static const char *const AREA[] = {"/s", "/c", "/l", "/d", "/n"};
enum { S, C, L, D, N, NAREAS };

#define OK(be, sc) {0, be, sc}
#define NO(e)	   {-(e), CLS_NOWHERE, 0}
struct want {
	int err;
	enum cls_backend backend;
	char store_cls; /* 0: not checked */
};

static const char *be_name(enum cls_backend b)
{
	static const char *const names[] = {"nowhere", "store", "pool", "local"};

	return b <= CLS_LOCAL ? names[b] : "?";
}

static void check(const struct cls_mount *m, enum cls_op op, const char *path,
		  const struct cls_facts *f, struct want w, const char *what)
{
	struct cls_verdict v;
	int err = classes_judge(P, m, op, path, strlen(path), f, &v);

	is_int(err, w.err, "%s %s %s (pool %d, local %d): errno", classes_op_name(op), path, what,
	       m->pool, m->local);
	is_int(v.err, err, "  ... the verdict says the same errno");
	if (w.err)
		return;
	is_str(be_name(v.backend), be_name(w.backend), "  ... backend");
	if (w.store_cls)
		is_int(v.store_cls, w.store_cls, "  ... content class '%c'", w.store_cls);
}

static const struct cls_mount FULL = {.pool = true, .local = true};
static const struct cls_mount BARE = {.pool = false, .local = false};

/* A new name (file, directory, symlink) in every area. */
static void test_new_names(void)
{
	static const struct {
		enum cls_op op;
		struct want w[NAREAS];
	} t[] = {
	    {CLS_CREATE,
	     {OK(CLS_STORE, 's'), OK(CLS_POOL, 'c'), OK(CLS_LOCAL, 0), NO(EROFS), NO(EROFS)}},
	    {CLS_MKDIR,
	     {OK(CLS_STORE, 's'), OK(CLS_STORE, 's'), OK(CLS_LOCAL, 0), NO(EROFS), NO(EROFS)}},
	    {CLS_SYMLINK,
	     {OK(CLS_STORE, 's'), OK(CLS_STORE, 's'), NO(EPERM), NO(EROFS), NO(EROFS)}},
	};
	char path[64];

	for (size_t i = 0; i < sizeof(t) / sizeof(*t); i++)
		for (int a = 0; a < NAREAS; a++) {
			snprintf(path, sizeof(path), "%s/x/new", AREA[a]);
			check(&FULL, t[i].op, path, NULL, t[i].w[a], "(a new name)");
		}
	/* The deny rule inside a shared area wins for what it matches. */
	check(&FULL, CLS_CREATE, "/s/x/shell.php", NULL, (struct want)NO(EROFS), "(denied name)");
	check(&FULL, CLS_MKDIR, "/s/x/dir.php", NULL, (struct want)NO(EROFS), "(denied name)");
}

/* A hard link: within the shared class only; from or to another class it is another file
 * system (EXDEV), into a read-only place EROFS, in memcached's class EPERM. */
static void test_links(void)
{
	static const struct want from_shared[NAREAS] = {OK(CLS_STORE, 's'), NO(EXDEV), NO(EXDEV),
							NO(EROFS), NO(EROFS)};
	struct cls_facts f = {.from = "/s/f", .fromlen = 4};
	char path[64];

	for (int a = 0; a < NAREAS; a++) {
		snprintf(path, sizeof(path), "%s/x/new", AREA[a]);
		check(&FULL, CLS_LINK, path, &f, from_shared[a], "(a link to a shared file)");
	}
	f = (struct cls_facts){.from = "/c/f", .fromlen = 4};
	check(&FULL, CLS_LINK, "/c/x/new", &f, (struct want)NO(EPERM), "(in the cache class)");
	check(&BARE, CLS_LINK, "/c/x/new", &f, (struct want)OK(CLS_STORE, 's'),
	      "(cache class without a pool: shared)");
	f = (struct cls_facts){.from = "/n/f", .fromlen = 4};
	check(&FULL, CLS_LINK, "/s/x/new", &f, (struct want)NO(EXDEV), "(from the read-only tree)");
	check(&FULL, CLS_LINK, "/s/x/new", NULL, (struct want)NO(EINVAL), "(no source)");
	f = (struct cls_facts){.from = "/l/f", .fromlen = 4, .in_local = true};
	check(&FULL, CLS_LINK, "/l/x/new", &f, (struct want)OK(CLS_LOCAL, 0),
	      "(within the local directory)");
	check(&FULL, CLS_LINK, "/s/x/new", &f, (struct want)NO(EXDEV), "(local to shared)");
}

/* Without cache= the cache class is stored as shared; without local= the local class takes
 * no write at all (it must never reach the shared store instead). */
static void test_bare_mount(void)
{
	struct cls_verdict v;

	check(&BARE, CLS_CREATE, "/c/f", NULL, (struct want)OK(CLS_STORE, 's'), "(no pool)");
	classes_judge(P, &BARE, CLS_CREATE, "/c/f", 4, NULL, &v);
	is_int(v.note, CLS_NOTE_POOL_AS_SHARED, "  ... noted as stored as shared");
	for (enum cls_op op = 0; op < CLS_OP_COUNT; op++) {
		struct cls_facts f = {.from = "/s/f", .fromlen = 4, .exists = true};

		if (op == CLS_LINK || op == CLS_COMMIT || op == CLS_RENAME_CARRIED)
			continue;
		check(&BARE, op, "/l/f", &f, (struct want)NO(EROFS),
		      "(no local directory)");
		classes_judge(P, &BARE, op, "/l/f", 4, &f, &v);
		is_int(v.note, CLS_NOTE_LOCAL_NO_DIR, "  ... noted as having no local directory");
	}
	check(&BARE, CLS_RENAME_FILE, "/c/f", &(struct cls_facts){.from = "/s/f", .fromlen = 4},
	      (struct want)OK(CLS_STORE, 0), "(shared to cache, no pool: both are the store)");
	check(&BARE, CLS_RENAME_CARRIED, "/c/a/f",
	      &(struct cls_facts){.from = "/s/a/f", .fromlen = 6}, (struct want)OK(CLS_STORE, 0),
	      "(carried shared to cache, no pool)");
}

/* Changing what exists: a file this node has, a lower file (copy-up), a directory; and what
 * the local directory holds. */
static void test_existing(void)
{
	static const enum cls_op ops[] = {CLS_COPY_UP, CLS_SETATTR, CLS_OPEN_WRITE};
	/* Not in the local directory: a lower file's upper copy lives in the store. */
	static const struct want lower[NAREAS] = {OK(CLS_STORE, 's'), OK(CLS_POOL, 'c'),
						  OK(CLS_STORE, 's'), NO(EROFS), NO(EROFS)};
	char path[64];

	for (size_t i = 0; i < sizeof(ops) / sizeof(*ops); i++)
		for (int a = 0; a < NAREAS; a++) {
			struct cls_facts in_local = {.in_local = true};

			snprintf(path, sizeof(path), "%s/lower.txt", AREA[a]);
			check(&FULL, ops[i], path, NULL, lower[a], "(a lower file)");
			snprintf(path, sizeof(path), "%s/dir", AREA[a]);
			check(&FULL, ops[i], path, NULL, lower[a], "(a directory)");
			if (a == L)
				check(&FULL, ops[i], path, &in_local, (struct want)OK(CLS_LOCAL, 0),
				      "(in the local directory)");
		}
	/* Copy-up as part of a directory rename: its class only, every entry was judged. */
	for (int a = 0; a < NAREAS; a++) {
		struct cls_facts carried = {.carried = true};

		snprintf(path, sizeof(path), "%s/moved/f", AREA[a]);
		check(&FULL, CLS_COPY_UP, path, &carried,
		      a == C ? (struct want)OK(CLS_POOL, 'c') : (struct want)OK(CLS_STORE, 's'),
		      "(carried by a rename)");
	}
}

static void test_remove(void)
{
	static const struct want w[NAREAS] = {OK(CLS_STORE, 0), OK(CLS_POOL, 0), NO(EROFS),
					      NO(EROFS), NO(EROFS)};
	char path[64];

	for (int a = 0; a < NAREAS; a++) {
		struct cls_facts lower = {.exists = true}, local = {.exists = true, .in_local = true};

		snprintf(path, sizeof(path), "%s/f", AREA[a]);
		check(&FULL, CLS_REMOVE, path, &lower, w[a], "(an upper or lower entry)");
		if (a == L)
			check(&FULL, CLS_REMOVE, path, &local, (struct want)OK(CLS_LOCAL, 0),
			      "(in the local directory)");
	}
	/* Before the caller knows whether anything is there, only writability is asked. */
	check(&FULL, CLS_REMOVE, "/l/f", NULL, (struct want)OK(CLS_LOCAL, 0), "(nothing known)");
}

/* Commit at close: judged again where the file is then, its content where the open sent it. */
static void test_commit(void)
{
	static const int refused[NAREAS] = {0, 0, 0, EROFS, EROFS};
	char path[64];

	for (int a = 0; a < NAREAS; a++) {
		struct cls_facts s = {.committed_cls = 's'}, c = {.committed_cls = 'c'};

		snprintf(path, sizeof(path), "%s/f", AREA[a]);
		check(&FULL, CLS_COMMIT, path, &s,
		      refused[a] ? (struct want)NO(refused[a]) : (struct want)OK(CLS_STORE, 's'),
		      "(shared)");
		check(&FULL, CLS_COMMIT, path, &c,
		      refused[a] ? (struct want)NO(refused[a]) : (struct want)OK(CLS_POOL, 'c'),
		      "(cache)");
	}
	check(&BARE, CLS_COMMIT, "/l/f", &(struct cls_facts){.committed_cls = 's'},
	      (struct want)NO(EROFS), "(moved to a local path, no local directory)");
}

/* The code-name wall, op by op: a name PHP or the web server runs or honours is refused in every
 * writable class unless its rule grants +code (k/); directories and removals are never asked. */
static void test_code_names(void)
{
	static const char *const code[] = {"a.PHP", "a.pHp", "a.phtml", "a.phar", "a.php5",
					   ".htaccess", ".user.ini", "a.php.jpg", "a.php."};
	static const enum cls_op makes[] = {CLS_CREATE, CLS_SYMLINK, CLS_OPEN_WRITE, CLS_COPY_UP,
					    CLS_SETATTR, CLS_COMMIT};
	struct cls_facts commit = {.committed_cls = 's'};
	struct cls_verdict v;
	char path[64], from[64];

	for (size_t i = 0; i < sizeof(makes) / sizeof(*makes); i++)
		for (size_t j = 0; j < sizeof(code) / sizeof(*code); j++) {
			const struct cls_facts *f = makes[i] == CLS_COMMIT ? &commit : NULL;

			for (int a = S; a <= L; a++) {
				snprintf(path, sizeof(path), "%s/x/%s", AREA[a], code[j]);
				check(&FULL, makes[i], path, f, (struct want)NO(EROFS), "(code)");
				classes_judge(P, &FULL, makes[i], path, strlen(path), f, &v);
				is_int(v.note, CLS_NOTE_CODE, "  ... noted as a code name");
			}
			snprintf(path, sizeof(path), "/k/x/%s", code[j]);
			check(&FULL, makes[i], path, f, (struct want)OK(CLS_STORE, 's'),
			      "(code granted)");
		}
	/* A hard link makes a name: a code name only where code is granted. */
	check(&FULL, CLS_LINK, "/s/x/a.php", &(struct cls_facts){.from = "/s/x/f", .fromlen = 6},
	      (struct want)NO(EROFS), "(a link named as code)");
	check(&FULL, CLS_LINK, "/k/x/a.php", &(struct cls_facts){.from = "/k/x/f", .fromlen = 6},
	      (struct want)OK(CLS_STORE, 's'), "(a link named as code, code granted)");
	/* Directories are not code: a page cache keeps the page of /x.php in x.php/. */
	check(&FULL, CLS_MKDIR, "/c/x/a.PHP", NULL, (struct want)OK(CLS_STORE, 's'), "(a dir)");
	check(&FULL, CLS_MKDIR, "/s/x/.htaccess", NULL, (struct want)OK(CLS_STORE, 's'), "(a dir)");
	check(&FULL, CLS_COPY_UP, "/s/x/a.PHP", &(struct cls_facts){.is_dir = true},
	      (struct want)OK(CLS_STORE, 's'), "(a dir)");
	check(&FULL, CLS_SETATTR, "/s/x/a.PHP", &(struct cls_facts){.is_dir = true},
	      (struct want)OK(CLS_STORE, 's'), "(a dir)");
	/* A planted code file may always be removed. */
	check(&FULL, CLS_REMOVE, "/s/x/a.PHP", NULL, (struct want)OK(CLS_STORE, 0), "(code)");
	/* Renames: the destination's name is judged, not the source's (a code name may leave). */
	strcpy(from, "/s/x/a.txt");
	check(&FULL, CLS_RENAME_FILE, "/s/x/a.PHP",
	      &(struct cls_facts){.from = from, .fromlen = strlen(from)}, (struct want)NO(EROFS),
	      "(a file renamed to a code name)");
	check(&FULL, CLS_RENAME_FILE, "/s/x/.htaccess",
	      &(struct cls_facts){.from = from, .fromlen = strlen(from)}, (struct want)NO(EROFS),
	      "(a file renamed to .htaccess)");
	check(&FULL, CLS_RENAME_DIR, "/s/x/a.PHP",
	      &(struct cls_facts){.from = from, .fromlen = strlen(from)},
	      (struct want)OK(CLS_STORE, 0), "(a directory renamed to a code name)");
	strcpy(from, "/s/x/a.PHP");
	check(&FULL, CLS_RENAME_FILE, "/s/x/a.txt",
	      &(struct cls_facts){.from = from, .fromlen = strlen(from)},
	      (struct want)OK(CLS_STORE, 0), "(a code name renamed away)");
	strcpy(from, "/k/x/a.txt");
	check(&FULL, CLS_RENAME_FILE, "/k/x/a.php",
	      &(struct cls_facts){.from = from, .fromlen = strlen(from)},
	      (struct want)OK(CLS_STORE, 0), "(code granted)");
	/* Carried by a directory rename: files by their name, directories not. */
	strcpy(from, "/k/d/x.phar");
	check(&FULL, CLS_RENAME_CARRIED, "/s/d/x.phar",
	      &(struct cls_facts){.from = from, .fromlen = strlen(from)}, (struct want)NO(EROFS),
	      "(a code file carried)");
	classes_judge(P, &FULL, CLS_RENAME_CARRIED, "/s/d/x.phar", 11,
		      &(struct cls_facts){.from = from, .fromlen = strlen(from)}, &v);
	is_int(v.note, CLS_NOTE_CODE, "  ... noted as a code name");
	check(&FULL, CLS_RENAME_CARRIED, "/s/d/x.phar",
	      &(struct cls_facts){.from = from, .fromlen = strlen(from), .is_dir = true},
	      (struct want)OK(CLS_STORE, 0), "(a code-named directory carried)");
	check(&FULL, CLS_RENAME_CARRIED, "/k/e/x.phar",
	      &(struct cls_facts){.from = from, .fromlen = strlen(from)},
	      (struct want)OK(CLS_STORE, 0), "(carried where code is granted)");
}

/* What the store holds is served only where the policy would have let it be made. */
static void test_servable(void)
{
	static const struct {
		const char *path;
		enum cls_entry e;
		bool ok;
	} t[] = {
	    {"/s/pwn.PHP", CLS_ENTRY_FILE, false},   {"/s/x/.htaccess", CLS_ENTRY_FILE, false},
	    {"/s/x/a.php", CLS_ENTRY_FILE, false},   {"/s/ok.jpg", CLS_ENTRY_FILE, true},
	    {"/k/a.php", CLS_ENTRY_FILE, true},	     {"/c/a.phtml", CLS_ENTRY_FILE, false},
	    {"/c/a.html", CLS_ENTRY_FILE, true},     {"/d/x", CLS_ENTRY_FILE, false},
	    {"/n/x", CLS_ENTRY_FILE, false},	     {"/s/x.php", CLS_ENTRY_DIR, true},
	    {"/", CLS_ENTRY_DIR, true},		     {"/n", CLS_ENTRY_DIR, false},
	    {"/d/x", CLS_ENTRY_DIR, false},	     {"/s/x", CLS_ENTRY_WHITEOUT, true},
	    {"/s/x.php", CLS_ENTRY_WHITEOUT, false}, {"/n/x", CLS_ENTRY_WHITEOUT, false},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(*t); i++)
		ok(classes_servable(P, t[i].path, strlen(t[i].path), t[i].e) == t[i].ok,
		   "servable: %s (kind %d) %s", t[i].path, t[i].e, t[i].ok ? "served" : "refused");
}

/* Renames of a file and of a directory from every area to every area. */
static void test_rename(void)
{
	/* [from][to] */
	static const int w[NAREAS][NAREAS] = {
	    /*            s      c       l       d       n */
	    /* s */ {0, EXDEV, EXDEV, EROFS, EROFS},
	    /* c */ {EXDEV, 0, EXDEV, EROFS, EROFS},
	    /* l */ {EXDEV, EXDEV, 0, EROFS, EROFS},
	    /* d */ {EROFS, EROFS, EROFS, EROFS, EROFS},
	    /* n */ {EROFS, EROFS, EROFS, EROFS, EROFS},
	};
	char from[64], to[64];

	for (int op = CLS_RENAME_FILE; op <= CLS_RENAME_DIR; op++)
		for (int a = 0; a < NAREAS; a++)
			for (int b = 0; b < NAREAS; b++) {
				struct cls_facts f = {.from = from};
				struct cls_verdict v;

				snprintf(from, sizeof(from), "%s/a", AREA[a]);
				snprintf(to, sizeof(to), "%s/b", AREA[b]);
				f.fromlen = strlen(from);
				check(&FULL, op, to, &f,
				      w[a][b] ? (struct want)NO(w[a][b])
					      : (struct want)OK(CLS_STORE, 0),
				      from);
				classes_judge(P, &FULL, op, to, strlen(to), &f, &v);
				if (w[a][b] == EROFS)
					ok(v.at_from == (a == D || a == N),
					   "  ... the refused path is the %s",
					   a == D || a == N ? "source" : "destination");
			}
	/* The local directory's own entries: moved by its file system, or not across. */
	{
		struct cls_facts f = {.from = "/l/a", .fromlen = 4, .in_local = true};

		check(&FULL, CLS_RENAME_FILE, "/l/b", &f, (struct want)OK(CLS_LOCAL, 0),
		      "(within the local directory)");
		f.dst_exists = true;
		check(&FULL, CLS_RENAME_FILE, "/l/b", &f, (struct want)NO(EXDEV),
		      "(onto a lower entry of a local area)");
		f.dst_in_local = true;
		check(&FULL, CLS_RENAME_DIR, "/l/b", &f, (struct want)OK(CLS_LOCAL, 0),
		      "(onto another local entry)");
		f = (struct cls_facts){.from = "/s/a", .fromlen = 4, .dst_exists = true,
				       .dst_in_local = true};
		check(&FULL, CLS_RENAME_FILE, "/s/b", &f, (struct want)NO(EXDEV),
		      "(onto what the local directory holds)");
	}
	check(&FULL, CLS_RENAME_FILE, "/s/b", NULL, (struct want)NO(EINVAL), "(no source)");
}

/* What a directory rename carries, entry by entry: a .php made where PHP may write (w3/) must
 * not be carried into uploads-like s/, where no write could put it; nothing changes backend. */
static void test_carried(void)
{
	static const struct {
		const char *from, *to;
		int err;
	} t[] = {
	    {"/w3/cfg/x.php", "/s/cfg/x.php", EROFS}, {"/w3/cfg/x.css", "/s/cfg/x.css", 0},
	    {"/s/a/f", "/s/b/f", 0},		      {"/s/a/f", "/c/a/f", EXDEV},
	    {"/c/a/f", "/s/a/f", EXDEV},	      {"/s/a/f", "/l/a/f", EXDEV},
	    {"/l/a/f", "/s/a/f", EXDEV},	      {"/s/a/f", "/d/a/f", EROFS},
	    {"/s/a/f", "/n/a/f", EROFS},	      {"/c/a/f", "/c/b/f", 0},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(*t); i++) {
		struct cls_facts f = {.from = t[i].from, .fromlen = strlen(t[i].from)};
		struct cls_verdict v;

		check(&FULL, CLS_RENAME_CARRIED, t[i].to, &f,
		      t[i].err ? (struct want)NO(t[i].err) : (struct want)OK(CLS_STORE, 0), t[i].from);
		classes_judge(P, &FULL, CLS_RENAME_CARRIED, t[i].to, strlen(t[i].to), &f, &v);
		if (t[i].err == EROFS)
			is_int(v.note, CLS_NOTE_CARRIED_REFUSED, "  ... noted as a carried refusal");
	}
}

static void test_view(void)
{
	enum policy_class c;
	unsigned v = classes_view(P, &FULL, "/l/x", 4, &c);

	is_int(c, POLICY_LOCAL, "view: class of /l/x");
	ok((v & CLS_VIEW_WRITABLE) && (v & CLS_VIEW_LOCAL), "view: /l/x writable and local");
	v = classes_view(P, &BARE, "/l/x", 4, NULL);
	ok(!(v & CLS_VIEW_LOCAL), "view: no local directory, not local");
	v = classes_view(P, &FULL, "/n/x", 4, &c);
	ok(c == POLICY_NONE && !(v & CLS_VIEW_WRITABLE) && (v & CLS_VIEW_STATIC),
	   "view: /n/x read-only and static");
	v = classes_view(P, &FULL, "/", 1, NULL);
	ok(!(v & CLS_VIEW_STATIC_BELOW), "view: below the root may change (rules below it)");
	v = classes_view(P, &FULL, "/n", 2, NULL);
	ok((v & CLS_VIEW_STATIC_BELOW), "view: nothing below /n may change");
	is_str(classes_op_name(CLS_OP_COUNT), "?", "op name of nothing");
}

int main(void)
{
	struct policy_error perr;

	if (policy_parse("t.policy", RULES, strlen(RULES), &P, &perr)) {
		printf("Bail out! policy: %s\n", perr.reason);
		return 1;
	}
	test_new_names();
	test_links();
	test_bare_mount();
	test_existing();
	test_remove();
	test_commit();
	test_code_names();
	test_servable();
	test_rename();
	test_carried();
	test_view();
	policy_free(P);
	return tap_done();
}
