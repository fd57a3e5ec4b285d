/* address.h - parsing and checking caller-given addresses (internal). */
#ifndef PO_ADDRESS_H
#define PO_ADDRESS_H

#include <stddef.h>

#include "header.h"
#include "po_private.h"

/* Parse "a@b", "<a@b>", "Name <a@b>" or "\"Quoted\" <a@b>" into out
 * (strings malloc'd; free with po__addr_clear).  what names the field in
 * error messages ("To address").  *smtputf8_out (may be NULL) is set to 1
 * when the local part is not ASCII (RFC 6531).
 * Returns: PO_OK, PO_EADDRESS, PO_EUTF8, PO_EINVAL, PO_ENOMEM. */
int po__addr_parse(const char *text, const char *what, po__addr *out,
		   int *smtputf8_out);

/* Check a bare addr-spec of n bytes and return the envelope form in
 * *spec_out (malloc'd; IDN domains as A-labels when the local part is
 * ASCII). */
int po__spec_parse(const char *s, size_t n, const char *what, char **spec_out,
		   int *smtputf8_out);

/* Check an ASCII domain or address literal (RFC 5321 §4.1.2). */
int po__domain_check(const char *s, size_t n, const char *what);

void po__addr_clear(po__addr *a);

#endif
