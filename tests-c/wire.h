/* wire.h - small helpers of the reader, preview and browser tests: a
 * letter's wire form in memory, a file's contents. */
#ifndef PO_TESTS_WIRE_H
#define PO_TESTS_WIRE_H

#include <stddef.h>

#include "postoffice.h"

/* The letter rendered as it goes on the wire (po_reader_new, flags 0),
 * malloc'd; *len gets its length.  Fails the cmocka test on an error. */
char *tw_render(po_letter *letter, size_t *len);

/* The contents of the file at path, malloc'd and NUL-terminated (*len,
 * if not NULL, gets the length without the NUL), or NULL if it cannot
 * be read. */
char *tw_read_file(const char *path, size_t *len);

#endif
