/* buf.h - growable byte buffer used by the composer (internal).
 *
 * Every function returns 0 on success and -1 when memory runs out; on
 * failure the buffer keeps its previous contents.  The data is always
 * followed by a NUL byte that is not counted in len, so p can be used as a
 * C string when the content has no NUL of its own.
 */
#ifndef PO_BUF_H
#define PO_BUF_H

#include <stddef.h>

typedef struct po__buf {
	char *p;      /* NULL until the first append */
	size_t len;   /* bytes used, excluding the trailing NUL */
	size_t cap;   /* bytes allocated */
} po__buf;

#define PO__BUF_INIT {NULL, 0, 0}

void po__buf_free(po__buf *b);
/* Make room for at least n more bytes (plus the NUL). */
int po__buf_reserve(po__buf *b, size_t n);
int po__buf_append(po__buf *b, const void *data, size_t n);
int po__buf_puts(po__buf *b, const char *s);
int po__buf_putc(po__buf *b, char c);
/* printf-style append; the formatted text must be shorter than 4096 bytes. */
int po__buf_printf(po__buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Hand the storage to the caller (NUL-terminated, free() it); b is reset. */
char *po__buf_steal(po__buf *b);

#endif
