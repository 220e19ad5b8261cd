/* fuzz_policy.c - libFuzzer target for the policy parser, matcher and path normalisation
 * (`make fuzz`).  Input: policy text, optionally followed by 0xFF and a path to look up. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"
#include "policy.h"

static const char *const paths[] = {
    "/", "/wp-content", "/wp-content/uploads/2026/11/a.php", "/a/b/c/d/e/f/g", "/x", "/a",
};

static void query(const struct policy *p, const char *path, size_t len)
{
	const struct policy_rule *r = policy_match(p, path, len);
	enum policy_class c = policy_class_of(p, path, len);
	bool mc = policy_may_change(p, path, len), below = policy_may_change_below(p, path, len);

	/* invariants that hold for every policy and path */
	if ((r ? r->cls : POLICY_NONE) != c)
		abort();
	if (policy_class_writable(c) && !mc)
		abort(); /* a writable path may change */
	if (mc && !below)
		abort(); /* may_change implies may_change_below */
	/* a write is allowed only in a writable class, and a code name only with +code */
	{
		const struct policy_rule *jr;
		const char *base = memrchr(path, '/', len);
		size_t blen = base ? len - (size_t)(base - path) - 1 : len;
		int j = policy_judge_write(p, path, len, &jr);

		if (jr != r || (j == 0 && !policy_class_writable(c)))
			abort();
		if (j == 0 && r && !r->code && blen && policy_code_name(base + 1, blen))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	const char *sep = memchr(buf, 0xff, size);
	size_t plen = sep ? (size_t)(sep - buf) : size;
	struct policy *p = NULL;
	struct policy_error err;
	char msg[512];

	if (policy_parse("fuzz", buf, plen, &p, &err) != 0) {
		if (p || err.reason[0] == '\0')
			abort(); /* a rejection always says why and returns no policy */
		policy_error_format(&err, msg, sizeof(msg));
		return 0;
	}
	for (size_t i = 0; i < policy_rule_count(p); i++) {
		const struct policy_rule *r = policy_rule_at(p, i);

		/* a rule matches its own pattern when it has no wildcard or escape */
		if (!strpbrk(r->pattern, "*?\\") &&
		    policy_match(p, r->pattern, strlen(r->pattern)) == NULL)
			abort();
	}
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		query(p, paths[i], strlen(paths[i]));
	if (sep) {
		long n = path_normalize(sep + 1, size - plen - 1, msg, sizeof(msg));

		if (n > 0)
			query(p, msg, (size_t)n);
	}
	policy_free(p);
	return 0;
}
