/* wire.c - see wire.h. */
#include "check.h"
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>

char *tw_render(po_letter *l, size_t *len)
{
	po_reader *r;
	char *buf = NULL;
	size_t cap = 0, got;

	*len = 0;
	assert_po_ok(po_reader_new(l, 0, &r));
	for (;;) {
		if (cap - *len < 65536) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		assert_po_ok(po_reader_read(r, buf + *len, cap - *len, &got));
		if (got == 0)
			break;
		*len += got;
	}
	po_reader_free(r);
	return buf;
}

char *tw_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0, got;

	if (!f)
		return NULL;
	do {
		if (cap - n < 65536) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}
