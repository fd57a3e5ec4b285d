/* po_private.h - definitions shared by the library's files (not
 * installed). */
#ifndef PO_PRIVATE_H
#define PO_PRIVATE_H

#include <stddef.h>

#include "buf.h"
#include "postoffice.h"

/* Record a one-line explanation for po_last_error() and return status.
 * fmt may be NULL (the status's own text is used).  Never pass secrets. */
int po__fail(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
