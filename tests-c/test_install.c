/* test_install.c - `make install` into a temporary prefix works for C
 * (pkg-config, shared and static), the CLI and Lisp (ASDF finds the
 * system and the system finds the library), and `make uninstall` removes
 * exactly what was installed.  The work is in install_check.sh. */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>

static void test_install(void **state)
{
	FILE *p;
	char line[512];

	(void)state;
	p = popen("tests-c/install_check.sh 2>&1", "r");
	assert_non_null(p);
	while (fgets(line, sizeof line, p))
		print_message("%s", line);
	assert_int_equal(pclose(p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_install),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
