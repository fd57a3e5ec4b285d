/* address.h - parsing and checking caller-given addresses (internal). */
#ifndef PO_ADDRESS_H
#define PO_ADDRESS_H

#include <stddef.h>

#include "header.h"
#include "po_private.h"

/* Parse an address list ("a@b, Name <c@d>, \"Doe, Jane\" <j@e>") into
 * *v_out, an array of *n_out >= 1 mailboxes (malloc'd; clear each with
 * po__addr_clear, then free the array).  A bare local part ("root") is
 * accepted only when it is the whole list.  what names the field in
 * error messages ("To address").  *smtputf8_out (may be NULL) is set to
 * 1 when some local part is not ASCII (RFC 6531), else 0.
 * Returns: PO_OK, PO_EADDRESS, PO_EUTF8, PO_EINVAL (NULL), PO_ENOMEM. */
int po__addr_list_parse(const char *text, const char *what, po__addr **v_out,
			size_t *n_out, int *smtputf8_out);

/* Parse exactly one mailbox: "a@b", "<a@b>", "Name <a@b>", "\"Quoted\"
 * <a@b>", "a@b (Name)" or a bare local part "root" (strings malloc'd;
 * free with po__addr_clear).  A list of several is PO_EADDRESS.
 * Returns: as po__addr_list_parse. */
int po__addr_parse(const char *text, const char *what, po__addr *out,
		   int *smtputf8_out);

/* Check an ASCII domain or address literal (RFC 5321 §4.1.2). */
int po__domain_check(const char *s, size_t n, const char *what);

void po__addr_clear(po__addr *a);

#endif
