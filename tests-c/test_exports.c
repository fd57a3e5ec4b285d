/* test_exports.c - the shared library exports exactly the functions the
 * public header declares, all po_-prefixed, and nothing else. */
#include "check.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_NAMES 512

struct names {
	char *v[MAX_NAMES];
	size_t n;
};

static void add(struct names *s, const char *name, size_t len)
{
	assert_true(s->n < MAX_NAMES);
	s->v[s->n] = strndup(name, len);
	assert_non_null(s->v[s->n]);
	s->n++;
}

static int has(const struct names *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], name) == 0)
			return 1;
	return 0;
}

static void clear(struct names *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	s->n = 0;
}

/* Names of the functions declared PO_EXTERN in the header: the
 * identifier right before the first '(' of the declaration. */
static void declared(struct names *out)
{
	FILE *f = fopen("c/postoffice.h", "r");
	char line[512], decl[2048] = "";
	int in = 0;

	assert_non_null(f);
	while (fgets(line, sizeof line, f)) {
		if (!in && strncmp(line, "PO_EXTERN ", 10) == 0) {
			in = 1;
			decl[0] = '\0';
		}
		if (!in)
			continue;
		strncat(decl, line, sizeof decl - strlen(decl) - 1);
		if (strchr(line, ';')) {
			char *paren = strchr(decl, '('), *end = paren;

			assert_non_null(paren);
			while (end > decl && (isalnum((unsigned char)end[-1]) ||
					      end[-1] == '_'))
				end--;
			add(out, end, (size_t)(paren - end));
			in = 0;
		}
	}
	fclose(f);
}

static void exported(struct names *out)
{
	FILE *p = popen("nm -D --defined-only build/libpostoffice.so", "r");
	char line[512];

	assert_non_null(p);
	while (fgets(line, sizeof line, p)) {
		char addr[64], type[8], name[256];

		if (sscanf(line, "%63s %7s %255s", addr, type, name) != 3)
			continue;
		if (strchr("TtDdBbRrVvWw", type[0]) && type[0] != 't')
			add(out, name, strlen(name));
	}
	assert_int_equal(pclose(p), 0);
}

static void test_exports_match_header(void **state)
{
	struct names decl = {0}, exp = {0};
	size_t i;

	(void)state;
	declared(&decl);
	exported(&exp);
	assert_true(decl.n > 50);
	for (i = 0; i < exp.n; i++) {
		if (!has(&decl, exp.v[i]))
			print_error("exported but not declared: %s\n",
				    exp.v[i]);
		assert_true(has(&decl, exp.v[i]));
		assert_memory_equal(exp.v[i], "po_", 3);
	}
	for (i = 0; i < decl.n; i++) {
		if (!has(&exp, decl.v[i]))
			print_error("declared but not exported: %s\n",
				    decl.v[i]);
		assert_true(has(&exp, decl.v[i]));
	}
	clear(&decl);
	clear(&exp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exports_match_header),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
