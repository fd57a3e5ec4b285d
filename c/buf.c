/* buf.c - growable byte buffer (see buf.h). */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void po__buf_free(po__buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

int po__buf_reserve(po__buf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (n > (size_t)-1 - b->len - 1)
		return -1;
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > (size_t)-1 / 2 ? need : cap * 2;
	p = realloc(b->p, cap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

int po__buf_append(po__buf *b, const void *data, size_t n)
{
	if (po__buf_reserve(b, n))
		return -1;
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int po__buf_puts(po__buf *b, const char *s)
{
	return po__buf_append(b, s, strlen(s));
}

int po__buf_putc(po__buf *b, char c)
{
	return po__buf_append(b, &c, 1);
}

int po__buf_printf(po__buf *b, const char *fmt, ...)
{
	char tmp[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof tmp)
		return -1;
	return po__buf_append(b, tmp, (size_t)n);
}

char *po__buf_steal(po__buf *b)
{
	char *p = b->p;

	if (!p) {
		p = malloc(1);
		if (p)
			*p = '\0';
	}
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}
