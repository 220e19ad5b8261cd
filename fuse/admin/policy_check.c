/* policy_check.c - `pressfs policy check POLICY [PATH...]`: load a policy as the mount would,
 * and say which rule and class each path gets. */
#include <stdio.h>
#include <string.h>

#include "admin/admin.h"
#include "policy.h"

int policy_check_main(int argc, char **argv)
{
	struct policy_error err;
	struct policy *p;
	char msg[512];

	if (argc < 2) {
		fprintf(stderr, "usage: pressfs policy check POLICY [PATH...]\n");
		return 2;
	}
	if (policy_load(argv[1], &p, &err) < 0) {
		policy_error_format(&err, msg, sizeof(msg));
		fprintf(stderr, "%s\n", msg);
		return 1;
	}
	if (argc == 2)
		printf("%s: %zu rules, ok\n", argv[1], policy_rule_count(p));
	for (int i = 2; i < argc; i++) {
		const struct policy_rule *r = policy_match(p, argv[i], strlen(argv[i]));

		if (r && policy_class_writable(r->cls) &&
		    policy_judge_write(p, argv[i], strlen(argv[i]), NULL) < 0)
			printf("%s\trefused\tline %u: %s (a name PHP or the web server runs: the "
			       "rule does not grant +code)\n",
			       argv[i], r->line, r->pattern);
		else if (r)
			printf("%s\t%s%s\tline %u: %s\n", argv[i], policy_class_name(r->cls),
			       r->code ? "+code" : "", r->line, r->pattern);
		else
			printf("%s\t%s\tno rule (read-only)\n", argv[i],
			       policy_class_name(POLICY_NONE));
	}
	policy_free(p);
	return 0;
}
