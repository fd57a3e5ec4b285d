/* preview.h - the preview page's pieces, for the tests and the fuzzer
 * (internal). */
#ifndef PO_PREVIEW_H
#define PO_PREVIEW_H

#include <stddef.h>

#include "buf.h"
#include "postoffice.h"

/* A file the page links to: its name in the page's directory and its
 * octets (borrowed from the parsed letter). */
struct po__preview_file {
	char name[32];
	const void *data;
	size_t len;
};

/* Append s (n octets, made valid UTF-8) escaped for HTML element
 * content or a double-quoted attribute value: & < > " ' as references,
 * C0 controls (but tab, CR, LF) and DEL as U+FFFD.  0, or -1 on OOM. */
int po__html_escape(po__buf *b, const char *s, size_t n);

/* Build the page of the letter (octets, len; parsed into root) into
 * out, and the list of files it links to besides letter.eml (*files,
 * free() it; *nfiles).  Returns PO_OK or PO_ENOMEM. */
int po__preview_html(const po_preview *pv, const po_entity *root,
		     const void *octets, size_t len, po__buf *out,
		     struct po__preview_file **files, size_t *nfiles);

#endif
