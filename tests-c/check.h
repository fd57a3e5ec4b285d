/* check.h - common includes for the cmocka tests. */
#ifndef PO_CHECK_H
#define PO_CHECK_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "postoffice.h"

/* assert that a status is PO_OK, printing po_last_error() when not */
#define assert_po_ok(expr)                                                  \
	do {                                                                \
		int po__st = (expr);                                        \
		if (po__st != PO_OK)                                        \
			print_error("%s -> %s: %s\n", #expr,                \
				    po_errname(po__st), po_last_error());   \
		assert_int_equal(po__st, PO_OK);                            \
	} while (0)

#endif
