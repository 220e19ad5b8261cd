/* tar.c - writing and reading the pax archives of dump and load (see tar.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "admin/tar.h"

#define BLOCK 512

/* One extended-header record "LEN KEY=VALUE\n", LEN counting itself. */
static int record(char **buf, size_t *len, size_t *cap, const char *key, const char *val,
		  size_t vlen)
{
	size_t body = strlen(key) + 1 + vlen + 1 + 1, n = body, digits;
	char num[24];

	do { /* the length's own digits are part of the length */
		digits = (size_t)snprintf(num, sizeof(num), "%zu", n);
		n = body + digits;
	} while ((size_t)snprintf(num, sizeof(num), "%zu", n) != digits);
	if (*len + n > *cap) {
		size_t c = (*len + n) * 2 + 256;
		char *nb = realloc(*buf, c);

		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = c;
	}
	*len += (size_t)sprintf(*buf + *len, "%s %s=", num, key);
	memcpy(*buf + *len, val, vlen);
	*len += vlen;
	(*buf)[(*len)++] = '\n';
	return 0;
}

static int record_s(char **b, size_t *l, size_t *c, const char *key, const char *val)
{
	return record(b, l, c, key, val, strlen(val));
}

static void octal(char *field, size_t width, uint64_t v)
{
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "%0*" PRIo64, (int)width - 1, v);
	memcpy(field, tmp, width - 1); /* the values passed always fit their field */
	field[width - 1] = 0;
}

static int write_block(FILE *f, const void *b)
{
	return fwrite(b, BLOCK, 1, f) == 1 ? 0 : -EIO;
}

int tar_write_pad(FILE *f, uint64_t size)
{
	static const char zero[BLOCK];
	size_t pad = (size_t)((BLOCK - size % BLOCK) % BLOCK);

	return pad && fwrite(zero, pad, 1, f) != 1 ? -EIO : 0;
}

/* A ustar header block: NAME (cut to fit, the extended header has it whole). */
static int ustar(FILE *f, const char *name, size_t nlen, char type, uint32_t mode, uint32_t uid,
		 uint32_t gid, uint64_t size, int64_t mtime, const char *link, uint64_t rdev)
{
	unsigned char h[BLOCK] = {0};
	unsigned sum = 0;

	memcpy(h, name, nlen < 99 ? nlen : 99);
	octal((char *)h + 100, 8, mode & 07777);
	octal((char *)h + 108, 8, uid > 07777777 ? 0 : uid);
	octal((char *)h + 116, 8, gid > 07777777 ? 0 : gid);
	octal((char *)h + 124, 12, size > 077777777777ull ? 0 : size);
	octal((char *)h + 136, 12, mtime < 0 ? 0 : (uint64_t)mtime);
	h[156] = (unsigned char)type;
	if (link)
		memcpy(h + 157, link, strnlen(link, 99));
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	if (type == '3' || type == '4') { /* PRESSFS.rdev has it whole */
		octal((char *)h + 329, 8, major(rdev) > 07777777 ? 0 : major(rdev));
		octal((char *)h + 337, 8, minor(rdev) > 07777777 ? 0 : minor(rdev));
	}
	memset(h + 148, ' ', 8);
	for (int i = 0; i < BLOCK; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
	return write_block(f, h);
}

static int write_ext(FILE *f, char type, const char *recs, size_t len)
{
	int rc = ustar(f, "././@PaxHeader", 14, type, 0644, 0, 0, len, 0, NULL, 0);

	if (!rc && len && fwrite(recs, len, 1, f) != 1)
		rc = -EIO;
	return rc ? rc : tar_write_pad(f, len);
}

int tar_write_global(FILE *f, const char *site)
{
	char *b = NULL;
	size_t l = 0, c = 0;
	int rc = record_s(&b, &l, &c, "PRESSFS.format", TAR_FORMAT);

	if (!rc)
		rc = record_s(&b, &l, &c, "PRESSFS.site", site);
	if (!rc)
		rc = write_ext(f, 'g', b, l);
	free(b);
	return rc;
}

/* NS as pax writes a time, "SECONDS.NANOSECONDS" (seconds rounded down); returns SECONDS. */
static int64_t pax_time(char *num, size_t size, int64_t t)
{
	int64_t sec = t / 1000000000, ns = t % 1000000000;

	if (ns < 0) {
		sec--;
		ns += 1000000000;
	}
	snprintf(num, size, "%" PRId64 ".%09" PRId64, sec, ns);
	return sec;
}

int tar_write_header(FILE *f, const struct tar_meta *m)
{
	char *b = NULL, num[48];
	size_t l = 0, c = 0;
	int64_t sec = pax_time(num, sizeof(num), m->mtime_ns);
	int rc;

	rc = record(&b, &l, &c, "path", m->path, m->len);
	if (!rc)
		rc = record_s(&b, &l, &c, "mtime", num);
	pax_time(num, sizeof(num), m->atime_ns);
	if (!rc && m->has_atime)
		rc = record_s(&b, &l, &c, "atime", num);
	if (!rc && m->linkname)
		rc = record_s(&b, &l, &c, "linkpath", m->linkname);
	snprintf(num, sizeof(num), "%" PRIu64, m->size);
	if (!rc && m->size > 077777777777ull)
		rc = record_s(&b, &l, &c, "size", num);
	snprintf(num, sizeof(num), "%u", m->uid);
	if (!rc)
		rc = record_s(&b, &l, &c, "uid", num);
	snprintf(num, sizeof(num), "%u", m->gid);
	if (!rc)
		rc = record_s(&b, &l, &c, "gid", num);
	if (!rc && m->type != '5' && !m->whiteout)
		rc = record(&b, &l, &c, "PRESSFS.class", &m->cls, 1);
	if (!rc && m->opaque)
		rc = record_s(&b, &l, &c, "PRESSFS.opaque", "1");
	if (!rc && m->whiteout)
		rc = record_s(&b, &l, &c, "PRESSFS.whiteout", "1");
	if (!rc && m->socket)
		rc = record_s(&b, &l, &c, "PRESSFS.socket", "1");
	snprintf(num, sizeof(num), "%" PRIu64, m->rdev);
	if (!rc && (m->type == '3' || m->type == '4'))
		rc = record_s(&b, &l, &c, "PRESSFS.rdev", num);
	snprintf(num, sizeof(num), "%" PRIu64, m->lino);
	if (!rc && m->lino)
		rc = record_s(&b, &l, &c, "PRESSFS.lino", num);
	if (!rc)
		rc = write_ext(f, 'x', b, l);
	free(b);
	if (!rc)
		rc = ustar(f, m->path, m->len, m->type, m->mode, m->uid, m->gid, m->size, sec,
			   m->linkname, m->rdev);
	return rc;
}

int tar_write_end(FILE *f)
{
	static const char zero[2 * BLOCK];

	return fwrite(zero, sizeof(zero), 1, f) == 1 && fflush(f) == 0 ? 0 : -EIO;
}

void tar_meta_free(struct tar_meta *m)
{
	free(m->path);
	free(m->linkname);
	memset(m, 0, sizeof(*m));
}

static uint64_t from_octal(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n && p[i] >= '0' && p[i] <= '7'; i++)
		v = v * 8 + (p[i] - '0');
	return v;
}

static char *dup_bytes(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = 0;
	}
	return d;
}

static int64_t parse_mtime(const char *v, size_t n)
{
	char tmp[48], *dot;
	int64_t sec, ns = 0;

	snprintf(tmp, sizeof(tmp), "%.*s", (int)(n < 47 ? n : 47), v);
	sec = strtoll(tmp, &dot, 10);
	if (*dot == '.') {
		int digits = 0;

		for (char *p = dot + 1; *p >= '0' && *p <= '9' && digits < 9; p++, digits++)
			ns = ns * 10 + (*p - '0');
		for (; digits < 9; digits++)
			ns *= 10;
	}
	return sec * 1000000000 + ns;
}

/* Take the records of an extended header into M (or FORMAT for a global one). */
static int parse_ext(const char *b, size_t len, struct tar_meta *m, bool global, char *format,
		     size_t fsize)
{
	for (size_t off = 0; off < len;) {
		char *sp, *eq;
		size_t rl = strtoul(b + off, &sp, 10), kl, vl;
		const char *k, *v;

		if (!rl || off + rl > len || *sp != ' ' || b[off + rl - 1] != '\n')
			return -EINVAL;
		k = sp + 1;
		eq = memchr(k, '=', (size_t)(b + off + rl - k));
		if (!eq)
			return -EINVAL;
		kl = (size_t)(eq - k);
		v = eq + 1;
		vl = (size_t)(b + off + rl - 1 - v);
		off += rl;
#define KEY(s) (kl == strlen(s) && !memcmp(k, s, kl))
		if (global) {
			if (KEY("PRESSFS.format"))
				snprintf(format, fsize, "%.*s", (int)vl, v);
			continue;
		}
		if (KEY("path")) {
			free(m->path);
			m->path = dup_bytes(v, vl);
			m->len = vl;
		} else if (KEY("linkpath")) {
			free(m->linkname);
			m->linkname = dup_bytes(v, vl);
		} else if (KEY("mtime")) {
			m->mtime_ns = parse_mtime(v, vl);
		} else if (KEY("atime")) {
			m->atime_ns = parse_mtime(v, vl);
			m->has_atime = true;
		} else if (KEY("size")) {
			m->size = strtoull(v, NULL, 10);
		} else if (KEY("uid")) {
			m->uid = (uint32_t)strtoul(v, NULL, 10);
		} else if (KEY("gid")) {
			m->gid = (uint32_t)strtoul(v, NULL, 10);
		} else if (KEY("PRESSFS.class") && vl == 1) {
			m->cls = v[0];
		} else if (KEY("PRESSFS.opaque")) {
			m->opaque = vl == 1 && v[0] == '1';
		} else if (KEY("PRESSFS.whiteout")) {
			m->whiteout = vl == 1 && v[0] == '1';
		} else if (KEY("PRESSFS.socket")) {
			m->socket = vl == 1 && v[0] == '1';
		} else if (KEY("PRESSFS.rdev") || KEY("PRESSFS.lino")) {
			char tmp[24], *end;
			uint64_t n;

			snprintf(tmp, sizeof(tmp), "%.*s", (int)(vl < 23 ? vl : 23), v);
			n = strtoull(tmp, &end, 10);
			if (!vl || vl > 20 || *end)
				return -EINVAL;
			*(k[8] == 'r' ? &m->rdev : &m->lino) = n;
		}
#undef KEY
	}
	return 0;
}

int tar_read_header(FILE *f, struct tar_meta *m, char *format, size_t fsize, const char **why)
{
	struct tar_meta ext = {0};
	bool have_ext = false;

	tar_meta_free(m);
	for (;;) {
		unsigned char h[BLOCK];
		unsigned sum = 0, want;
		uint64_t size;
		bool zero = true;

		if (fread(h, BLOCK, 1, f) != 1) {
			*why = "the archive ends in the middle";
			goto bad;
		}
		for (int i = 0; i < BLOCK; i++)
			zero &= h[i] == 0;
		if (zero) {
			tar_meta_free(&ext);
			return 0;
		}
		want = (unsigned)from_octal(h + 148, 8);
		memset(h + 148, ' ', 8);
		for (int i = 0; i < BLOCK; i++)
			sum += h[i];
		if (sum != want || memcmp(h + 257, "ustar", 5)) {
			*why = "a header's checksum is wrong (not a pressfs dump, or damaged)";
			goto bad;
		}
		size = from_octal(h + 124, 12);
		if (h[156] == 'x' || h[156] == 'g') {
			char *b = size < (64u << 20) ? malloc(size + 1) : NULL;
			int rc;

			if (!b || (size && fread(b, size, 1, f) != 1) || tar_read_pad(f, size)) {
				free(b);
				*why = "an extended header is cut short";
				goto bad;
			}
			rc = parse_ext(b, size, &ext, h[156] == 'g', format, fsize);
			free(b);
			if (rc < 0) {
				*why = "an extended header is malformed";
				goto bad;
			}
			have_ext |= h[156] == 'x';
			continue;
		}
		*m = ext;
		if (!have_ext || !m->path) {
			*why = "an entry has no extended header (not a pressfs dump)";
			goto bad;
		}
		m->type = (char)h[156];
		m->mode = (uint32_t)from_octal(h + 100, 8);
		if ((m->type == '3' || m->type == '4') && !m->rdev)
			m->rdev = makedev(from_octal(h + 329, 8), from_octal(h + 337, 8));
		if (!m->size)
			m->size = size;
		if (!m->cls)
			m->cls = 's';
		return 1;
	}
bad:
	tar_meta_free(&ext);
	return -EINVAL;
}

int tar_read_pad(FILE *f, uint64_t size)
{
	char pad[BLOCK];
	size_t n = (size_t)((BLOCK - size % BLOCK) % BLOCK);

	return n && fread(pad, n, 1, f) != 1 ? -EIO : 0;
}
