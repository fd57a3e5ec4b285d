/* parse.c - reading letters back: a lenient MIME parser (po_entity).
 *
 * RFC 5322 §2.2 (header fields, unfolding); RFC 2045 §5 (Content-Type),
 * §6 (Content-Transfer-Encoding); RFC 2046 §5.1 (multipart bodies,
 * delimiters, preamble and epilogue), §5.1.5 (digest); RFC 2047
 * (encoded words); RFC 2183 (Content-Disposition); RFC 2231 (parameter
 * continuations and charsets); RFC 2392 (Content-ID).
 *
 * Nothing in the input makes it fail: what is malformed is read as well
 * as it can be and noted among the entity's problems.  Every string it
 * keeps is valid UTF-8 without NUL.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "decode.h"
#include "po_private.h"

#define MAX_DEPTH 50       /* multiparts nested deeper are leaves */
#define MAX_SECTIONS 1000  /* RFC 2231 name*N sections kept per name */

struct field {
	char *name;
	char *raw;  /* unfolded, trimmed */
	char *text; /* RFC 2047-decoded */
};

struct po_entity {
	po_entity **part;
	size_t nparts, capparts;
	struct field *field;
	size_t nfields, capfields;
	char *type;          /* "text/plain" */
	po__pairs params;    /* decoded Content-Type parameters */
	char *disposition;   /* or NULL */
	po__pairs dparams;   /* decoded Content-Disposition parameters */
	const char *filename; /* into params or dparams, or NULL */
	char *cid;           /* or NULL */
	char *encoding;      /* "7bit" */
	const char *body;    /* into own (or the root's own), or NULL */
	size_t bodylen;
	char *own;           /* a decoded body, or NULL */
	char *input;         /* the root's copy of the input */
	char *text;          /* text leaves only */
	size_t textlen;
	char **problem;
	size_t nproblems, capproblems;
};

/* ---------------------------------------------------------------------
 * Small helpers */

static char *dup_n(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (!p)
		return NULL;
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static int is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The n octets at s without white space at both ends. */
static void trim(const char **s, size_t *n)
{
	while (*n && is_wsp((*s)[0])) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_wsp((*s)[*n - 1]))
		(*n)--;
}

/* Note a problem of e (printf-style).  The text is made valid UTF-8, as
 * it may quote the letter.  Returns 0, or -1 on OOM. */
static int problem(po_entity *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int problem(po_entity *e, const char *fmt, ...)
{
	char line[512];
	po__buf b = PO__BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (e->nproblems == e->capproblems) {
		size_t cap = e->capproblems ? e->capproblems * 2 : 4;
		char **v = realloc(e->problem, cap * sizeof *v);

		if (!v)
			return -1;
		e->problem = v;
		e->capproblems = cap;
	}
	if (po__utf8_repair(&b, line, strlen(line), 0, NULL)) {
		po__buf_free(&b);
		return -1;
	}
	e->problem[e->nproblems++] = po__buf_steal(&b);
	return 0;
}

/* A short printable rendering of a value from the letter for a problem
 * text: at most 40 octets, cut at a character boundary. */
static const char *quote_value(const char *s, char out[48])
{
	size_t n = strlen(s);

	if (n <= 40)
		return s;
	n = 40;
	while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	memcpy(out, s, n);
	memcpy(out + n, "...", 4);
	return out;
}

/* ---------------------------------------------------------------------
 * Header fields */

/* Where the header block of the entity in p[start, end) ends: *hend is
 * the end of its last line (line break included), *body where the body
 * starts.  No empty line: everything is header. */
static void header_end(const char *p, size_t start, size_t end,
		       size_t *hend, size_t *body)
{
	const char *crlf, *lf;

	if (start < end && p[start] == '\n') {
		*hend = start;
		*body = start + 1;
		return;
	}
	if (start + 1 < end && p[start] == '\r' && p[start + 1] == '\n') {
		*hend = start;
		*body = start + 2;
		return;
	}
	crlf = memmem(p + start, end - start, "\r\n\r\n", 4);
	lf = memmem(p + start, end - start, "\n\n", 2);
	if (crlf && (!lf || crlf < lf)) {
		*hend = (size_t)(crlf - p) + 2;
		*body = (size_t)(crlf - p) + 4;
	} else if (lf) {
		*hend = (size_t)(lf - p) + 1;
		*body = (size_t)(lf - p) + 2;
	} else {
		*hend = *body = end;
	}
}

/* 1 if s[0, n) is a field name: printable ASCII but ':' (RFC 5322
 * §3.6.8). */
static int field_name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 33 || (unsigned char)s[i] > 126 ||
		    s[i] == ':')
			return 0;
	return 1;
}

static int add_field(po_entity *e, const char *name, size_t nn,
		     const char *value, size_t vn)
{
	struct field f = {0};
	po__buf raw = PO__BUF_INIT, text = PO__BUF_INIT;

	if (e->nfields == e->capfields) {
		size_t cap = e->capfields ? e->capfields * 2 : 16;
		struct field *v = realloc(e->field, cap * sizeof *v);

		if (!v)
			return -1;
		e->field = v;
		e->capfields = cap;
	}
	trim(&value, &vn);
	f.name = dup_n(name, nn);
	if (!f.name || po__utf8_repair(&raw, value, vn, 0, NULL) ||
	    po__buf_putc(&raw, '\0') ||
	    po__decode_words(&text, raw.p, raw.len - 1) ||
	    po__buf_putc(&text, '\0'))
		goto fail;
	raw.len--;
	text.len--;
	f.raw = po__buf_steal(&raw);
	f.text = po__buf_steal(&text);
	e->field[e->nfields++] = f;
	return 0;
fail:
	free(f.name);
	po__buf_free(&raw);
	po__buf_free(&text);
	return -1;
}

/* Read the header block p[start, end) into e's fields: lines split at
 * LF (a CR before it dropped), continuation lines (starting with white
 * space) appended to the field before them. */
static int parse_fields(po_entity *e, const char *p, size_t start,
			size_t end)
{
	po__buf value = PO__BUF_INIT;
	const char *name = NULL;
	size_t nn = 0, bad = 0, i = start;
	int result = -1;

	while (i < end) {
		const char *lf = memchr(p + i, '\n', end - i);
		size_t stop = lf ? (size_t)(lf - p) : end, next = stop + 1;
		const char *line = p + i, *colon;
		size_t n;

		if (stop > i && p[stop - 1] == '\r')
			stop--;
		n = stop - i;
		i = lf ? next : end;
		if (n == 0)
			continue;
		if (line[0] == ' ' || line[0] == '\t') {
			if (!name) {
				bad++;
				continue;
			}
			if (po__buf_append(&value, line, n))
				goto out;
			continue;
		}
		if (name && add_field(e, name, nn, value.p ? value.p : "",
				      value.len))
			goto out;
		name = NULL;
		value.len = 0;
		colon = memchr(line, ':', n);
		if (!colon) {
			bad++;
			continue;
		}
		nn = (size_t)(colon - line);
		while (nn && (line[nn - 1] == ' ' || line[nn - 1] == '\t'))
			nn--; /* "Subject : x", the obsolete syntax */
		if (!field_name_ok(line, nn)) {
			bad++;
			continue;
		}
		name = line;
		if (po__buf_append(&value, colon + 1,
				   n - (size_t)(colon + 1 - line)))
			goto out;
	}
	if (name && add_field(e, name, nn, value.p ? value.p : "", value.len))
		goto out;
	if (bad && problem(e, "%zu line%s of the header %s: skipped", bad,
			   bad == 1 ? "" : "s",
			   bad == 1 ? "is not a header field"
				    : "are not header fields"))
		goto out;
	result = 0;
out:
	po__buf_free(&value);
	return result;
}

static const char *field(const po_entity *e, const char *name, int raw)
{
	size_t i;

	for (i = 0; i < e->nfields; i++)
		if (strcasecmp(e->field[i].name, name) == 0)
			return raw ? e->field[i].raw : e->field[i].text;
	return NULL;
}

/* ---------------------------------------------------------------------
 * Structured fields: value; name=value; ... (RFC 2045 §5.1, RFC 2231) */

struct rawparam {
	char *name;  /* lower case, with its RFC 2231 '*' parts */
	char *value; /* unquoted */
};

struct section {
	unsigned index;
	int encoded;
	const char *value;
};

static int section_cmp(const void *a, const void *b)
{
	const struct section *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

/* The quoted-string s[0, n) without its quotes and escapes, or the
 * token as it is. */
static char *unquote(const char *s, size_t n)
{
	char *out, *o;
	size_t i;

	if (n < 2 || s[0] != '"' || s[n - 1] != '"')
		return dup_n(s, n);
	out = o = malloc(n);
	if (!out)
		return NULL;
	for (i = 1; i + 1 < n; i++) {
		if (s[i] == '\\' && i + 2 < n)
			i++;
		*o++ = s[i];
	}
	*o = '\0';
	return out;
}

/* Split value at the semicolons outside quoted strings: the first piece
 * into *main (lower case), the others as name=value into *raw. */
static int split_params(const char *v, char **main, struct rawparam **raw,
			size_t *nraw)
{
	size_t n = strlen(v), i, start = 0, cap = 0;
	int quoted = 0, first = 1;

	*main = NULL;
	*raw = NULL;
	*nraw = 0;
	for (i = 0; i <= n; i++) {
		const char *piece, *eq;
		size_t len, nlen, vlen;
		struct rawparam rp;

		if (i < n) {
			if (quoted && v[i] == '\\' && i + 1 < n) {
				i++;
				continue;
			}
			if (v[i] == '"')
				quoted = !quoted;
			if (quoted || v[i] != ';')
				continue;
		}
		piece = v + start;
		len = i - start;
		start = i + 1;
		if (first) {
			first = 0;
			trim(&piece, &len);
			*main = dup_n(piece, len);
			if (!*main)
				return -1;
			lower(*main);
			continue;
		}
		eq = memchr(piece, '=', len);
		if (!eq)
			continue;
		nlen = (size_t)(eq - piece);
		vlen = len - nlen - 1;
		trim(&piece, &nlen);
		eq++;
		trim(&eq, &vlen);
		if (nlen == 0)
			continue;
		if (*nraw == cap) {
			struct rawparam *nv;

			cap = cap ? cap * 2 : 8;
			nv = realloc(*raw, cap * sizeof *nv);
			if (!nv)
				return -1;
			*raw = nv;
		}
		rp.name = dup_n(piece, nlen);
		rp.value = unquote(eq, vlen);
		if (!rp.name || !rp.value) {
			free(rp.name);
			free(rp.value);
			return -1;
		}
		lower(rp.name);
		(*raw)[(*nraw)++] = rp;
	}
	return 0;
}

/* Append the octets of the RFC 2231 extended value s (%XX escapes). */
static int percent_decode(po__buf *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	for (; *s; s++) {
		const char *h, *l;

		if (s[0] == '%' && s[1] && s[2] &&
		    (h = strchr(hex, s[1] | 0x20)) != NULL &&
		    (l = strchr(hex, s[2] | 0x20)) != NULL) {
			if (po__buf_putc(out, (char)((h - hex) * 16 +
						     (l - hex))))
				return -1;
			s += 2;
		} else if (po__buf_putc(out, *s)) {
			return -1;
		}
	}
	return 0;
}

/* Join the RFC 2231 sections of the parameter base (name*, name*0*,
 * name*1, ...) among raw into one UTF-8 value, appended to out. */
static int join_sections(po__buf *out, const char *base,
			 const struct rawparam *raw, size_t nraw)
{
	struct section *sec = NULL;
	size_t nsec = 0, i, blen = strlen(base);
	po__buf octets = PO__BUF_INIT;
	char *charset = NULL;
	int result = -1;

	sec = calloc(nraw, sizeof *sec);
	if (!sec)
		return -1;
	for (i = 0; i < nraw && nsec < MAX_SECTIONS; i++) {
		const char *rest, *name = raw[i].name;
		size_t rlen, k;
		unsigned long index = 0;

		if (strncmp(name, base, blen) || name[blen] != '*')
			continue;
		rest = name + blen + 1;
		rlen = strlen(rest);
		sec[nsec].encoded = rlen == 0 || rest[rlen - 1] == '*';
		if (rlen && rest[rlen - 1] == '*')
			rlen--;
		for (k = 0; k < rlen; k++) {
			if (rest[k] < '0' || rest[k] > '9' || k > 5)
				break;
			index = index * 10 + (unsigned long)(rest[k] - '0');
		}
		if (k != rlen)
			continue;
		sec[nsec].index = (unsigned)index;
		sec[nsec].value = raw[i].value;
		nsec++;
	}
	qsort(sec, nsec, sizeof *sec, section_cmp);
	for (i = 0; i < nsec; i++) {
		const char *v = sec[i].value;

		if (sec[i].encoded && i == 0 && sec[i].index == 0) {
			const char *q1 = strchr(v, '\''), *q2;

			q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
			if (q2) {
				charset = dup_n(v, (size_t)(q1 - v));
				if (!charset)
					goto out;
				v = q2 + 1;
			}
		}
		if (sec[i].encoded ? percent_decode(&octets, v)
				   : po__buf_puts(&octets, v))
			goto out;
	}
	result = po__charset_decode(out, octets.p ? octets.p : "", octets.len,
				    charset && *charset ? charset : "utf-8",
				    0, NULL, NULL);
out:
	free(sec);
	free(charset);
	po__buf_free(&octets);
	return result;
}

/* Parse a structured field value into its lower-case first part and its
 * decoded parameters. */
static int parse_structured(const char *v, char **main, po__pairs *params)
{
	struct rawparam *raw = NULL;
	size_t nraw = 0, i;
	po__buf b = PO__BUF_INIT;
	int result = -1;

	if (split_params(v, main, &raw, &nraw))
		goto out;
	/* plain parameters, in order; RFC 2047 words decoded (a common
	 * fallback for file names), except in a boundary */
	for (i = 0; i < nraw; i++) {
		const char *value = raw[i].value;

		if (strchr(raw[i].name, '*'))
			continue;
		b.len = 0;
		if (strcmp(raw[i].name, "boundary") != 0) {
			if (po__decode_words(&b, value, strlen(value)) ||
			    po__buf_putc(&b, '\0'))
				goto out;
			value = b.p;
		}
		if (po__pairs_add(params, raw[i].name, value))
			goto out;
	}
	/* RFC 2231 parameters, each replacing a plain one of its name */
	for (i = 0; i < nraw; i++) {
		char *star = strchr(raw[i].name, '*'), *base;
		size_t k, j;
		int seen = 0;

		if (!star)
			continue;
		base = dup_n(raw[i].name, (size_t)(star - raw[i].name));
		if (!base)
			goto out;
		for (j = 0; j < i; j++)
			if (strncmp(raw[j].name, base, strlen(base)) == 0 &&
			    raw[j].name[strlen(base)] == '*')
				seen = 1;
		b.len = 0;
		if (seen || !*base) {
			free(base);
			continue;
		}
		if (join_sections(&b, base, raw, nraw) ||
		    po__buf_putc(&b, '\0')) {
			free(base);
			goto out;
		}
		for (k = 0; k < params->n; k++)
			if (strcmp(params->name[k], base) == 0)
				break;
		if (k < params->n) {
			char *nv = strdup(b.p);

			if (!nv) {
				free(base);
				goto out;
			}
			free(params->value[k]);
			params->value[k] = nv;
		} else if (po__pairs_add(params, base, b.p)) {
			free(base);
			goto out;
		}
		free(base);
	}
	result = 0;
out:
	for (i = 0; i < nraw; i++) {
		free(raw[i].name);
		free(raw[i].value);
	}
	free(raw);
	po__buf_free(&b);
	return result;
}

static const char *pair(const po__pairs *l, const char *name)
{
	return po__pairs_get(l, name);
}

/* ---------------------------------------------------------------------
 * Entities */

static void entity_free(po_entity *e)
{
	size_t i;

	if (!e)
		return;
	for (i = 0; i < e->nparts; i++)
		entity_free(e->part[i]);
	free(e->part);
	for (i = 0; i < e->nfields; i++) {
		free(e->field[i].name);
		free(e->field[i].raw);
		free(e->field[i].text);
	}
	free(e->field);
	free(e->type);
	po__pairs_free(&e->params);
	free(e->disposition);
	po__pairs_free(&e->dparams);
	free(e->cid);
	free(e->encoding);
	free(e->own);
	free(e->input);
	free(e->text);
	for (i = 0; i < e->nproblems; i++)
		free(e->problem[i]);
	free(e->problem);
	free(e);
}

/* 1 if s is "type/subtype" made of RFC 2045 token characters. */
static int type_ok(const char *s)
{
	const char *slash = strchr(s, '/');
	size_t i;

	if (!slash || slash == s || !slash[1] || strchr(slash + 1, '/'))
		return 0;
	for (i = 0; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (s + i == slash)
			continue;
		if (c <= 32 || c >= 127 || strchr("()<>@,;:\\\"/[]?=", c))
			return 0;
	}
	return 1;
}

static int add_part(po_entity *e, po_entity *child)
{
	if (e->nparts == e->capparts) {
		size_t cap = e->capparts ? e->capparts * 2 : 4;
		po_entity **v = realloc(e->part, cap * sizeof *v);

		if (!v)
			return -1;
		e->part = v;
		e->capparts = cap;
	}
	e->part[e->nparts++] = child;
	return 0;
}

/* Where the line break that ends just before index begins (CRLF or LF),
 * not before start. */
static size_t break_before(const char *p, size_t index, size_t start)
{
	if (index >= start + 2 && p[index - 1] == '\n' && p[index - 2] == '\r')
		return index - 2;
	if (index >= start + 1 && p[index - 1] == '\n')
		return index - 1;
	return index;
}

static po_entity *parse_entity(const char *p, size_t start, size_t end,
			       int depth, const char *default_type);

/* Split the multipart body p[start, end) at the delimiters of boundary
 * (RFC 2046 §5.1.1: a delimiter starts a line, the line break before it
 * belongs to it, only white space may follow it on its line; the close
 * delimiter ends with "--") and parse each body part as a child. */
static int split_multipart(po_entity *e, const char *p, size_t start,
			   size_t end, int depth)
{
	const char *boundary = pair(&e->params, "boundary");
	const char *child_type = strcmp(e->type, "multipart/digest") == 0
					 ? "message/rfc822"
					 : "text/plain";
	size_t blen = strlen(boundary), pos = start, open = 0;
	int is_open = 0, closed = 0, any = 0;
	char *dash = malloc(blen + 3);

	if (!dash)
		return -1;
	dash[0] = dash[1] = '-';
	memcpy(dash + 2, boundary, blen + 1);
	while (pos < end) {
		const char *hit = memmem(p + pos, end - pos, dash, blen + 2);
		size_t found, after, k;
		int close;

		if (!hit)
			break;
		found = (size_t)(hit - p);
		after = found + blen + 2;
		if (found != start && p[found - 1] != '\n') {
			pos = after;
			continue;
		}
		close = after + 2 <= end && p[after] == '-' &&
			p[after + 1] == '-';
		if (!close) {
			for (k = after; k < end && (p[k] == ' ' || p[k] == '\t');
			     k++)
				;
			if (k < end && p[k] != '\n' &&
			    !(p[k] == '\r' && (k + 1 == end || p[k + 1] == '\n'))) {
				pos = after; /* a longer boundary */
				continue;
			}
		}
		any = 1;
		if (is_open) {
			po_entity *child = parse_entity(
				p, open, break_before(p, found, open),
				depth + 1, child_type);

			if (!child || add_part(e, child)) {
				entity_free(child);
				free(dash);
				return -1;
			}
		}
		if (close) {
			is_open = 0;
			closed = 1;
			break;
		}
		{
			const char *lf = memchr(p + after, '\n', end - after);

			pos = lf ? (size_t)(lf - p) + 1 : end;
		}
		open = pos;
		is_open = 1;
	}
	free(dash);
	if (is_open) {
		po_entity *child = parse_entity(p, open, end, depth + 1,
						child_type);

		if (!child || add_part(e, child)) {
			entity_free(child);
			return -1;
		}
	}
	if (!any)
		return problem(e, "%s: the boundary never occurs, so no part "
			       "can be found (shown as one part)", e->type);
	if (!closed)
		return problem(e, "%s: the closing boundary is missing: the "
			       "letter may be truncated", e->type);
	return 0;
}

/* Transfer-decode the body of the leaf e, p[start, end); convert a text
 * leaf to UTF-8. */
static int decode_leaf(po_entity *e, const char *p, size_t start,
		       size_t end)
{
	po__buf b = PO__BUF_INIT;
	size_t bad = 0;
	int unknown = 0;

	if (strcmp(e->encoding, "base64") == 0) {
		if (po__b64_decode(&b, p + start, end - start, &bad))
			goto oom;
		if (bad && problem(e, "bad base64: %zu character%s outside "
				   "the alphabet skipped", bad,
				   bad == 1 ? "" : "s"))
			goto oom;
	} else if (strcmp(e->encoding, "quoted-printable") == 0) {
		if (po__qp_decode(&b, p + start, end - start))
			goto oom;
	} else {
		if (strcmp(e->encoding, "7bit") && strcmp(e->encoding, "8bit") &&
		    strcmp(e->encoding, "binary")) {
			char q[48];

			if (problem(e, "unknown transfer encoding \"%s\": the "
				    "body is shown undecoded",
				    quote_value(e->encoding, q)))
				goto oom;
		}
		/* as it is: borrowed from the root's copy */
		e->body = p + start;
		e->bodylen = end - start;
	}
	if (!e->body) {
		e->bodylen = b.len;
		e->own = po__buf_steal(&b);
		e->body = e->own ? e->own : "";
	}
	if (strncmp(e->type, "text/", 5) == 0) {
		const char *charset = pair(&e->params, "charset");

		bad = 0;
		if (po__charset_decode(&b, e->body, e->bodylen, charset, 1,
				       &unknown, &bad) ||
		    po__buf_putc(&b, '\0'))
			goto oom;
		e->textlen = b.len - 1;
		e->text = po__buf_steal(&b);
		if (unknown) {
			char q[48];

			if (problem(e, "unknown charset \"%s\": the text is "
				    "shown as UTF-8",
				    quote_value(charset, q)))
				return -1;
		} else if (bad &&
			   problem(e, "%zu octet sequence%s not valid in "
				   "charset %s: shown as U+FFFD", bad,
				   bad == 1 ? " is" : "s are",
				   charset ? charset : "us-ascii")) {
			return -1;
		}
	}
	return 0;
oom:
	po__buf_free(&b);
	return -1;
}

static po_entity *parse_entity(const char *p, size_t start, size_t end,
			       int depth, const char *default_type)
{
	po_entity *e = calloc(1, sizeof *e);
	size_t hend, body;
	const char *v;
	char *main = NULL;

	if (!e)
		return NULL;
	header_end(p, start, end, &hend, &body);
	if (parse_fields(e, p, start, hend))
		goto fail;
	if (depth == 0 && e->nfields == 0 && end > start &&
	    problem(e, "no header fields: this does not look like a letter"))
		goto fail;
	if (depth == 0 && hend == end && body == end && end > start &&
	    e->nfields &&
	    problem(e, "the header does not end with an empty line: the "
		    "letter may be truncated (no body)"))
		goto fail;

	v = field(e, "Content-Type", 1);
	if (v) {
		if (parse_structured(v, &main, &e->params))
			goto fail;
		if (type_ok(main)) {
			e->type = main;
			main = NULL;
		} else {
			char q[48];

			if (problem(e, "malformed Content-Type \"%s\": read as "
				    "%s", quote_value(v, q), default_type))
				goto fail;
		}
		free(main);
		main = NULL;
	}
	if (!e->type && !(e->type = strdup(default_type)))
		goto fail;
	v = field(e, "Content-Disposition", 1);
	if (v) {
		if (parse_structured(v, &e->disposition, &e->dparams))
			goto fail;
		if (!*e->disposition) {
			free(e->disposition);
			e->disposition = NULL;
		}
	}
	e->filename = pair(&e->dparams, "filename");
	if (!e->filename || !*e->filename)
		e->filename = pair(&e->params, "name");
	if (e->filename && !*e->filename)
		e->filename = NULL;
	v = field(e, "Content-ID", 1);
	if (v) {
		size_t n = strlen(v);

		trim(&v, &n);
		if (n && v[0] == '<') {
			v++;
			n--;
		}
		if (n && v[n - 1] == '>')
			n--;
		trim(&v, &n);
		if (n && !(e->cid = dup_n(v, n)))
			goto fail;
	}
	v = field(e, "Content-Transfer-Encoding", 1);
	if (!(e->encoding = strdup(v && *v ? v : "7bit")))
		goto fail;
	lower(e->encoding);

	if (strncmp(e->type, "multipart/", 10) == 0) {
		const char *boundary = pair(&e->params, "boundary");

		e->body = p + body;
		e->bodylen = end - body;
		if (!boundary || !*boundary) {
			if (problem(e, "%s without a boundary parameter: its "
				    "parts cannot be found", e->type))
				goto fail;
		} else if (depth >= MAX_DEPTH) {
			if (problem(e, "multiparts nested deeper than %d: the "
				    "rest is shown as one part", MAX_DEPTH))
				goto fail;
		} else if (split_multipart(e, p, body, end, depth)) {
			goto fail;
		}
		return e;
	}
	if (decode_leaf(e, p, body, end))
		goto fail;
	return e;
fail:
	free(main);
	entity_free(e);
	return NULL;
}

/* ---------------------------------------------------------------------
 * The public functions */

int po_entity_parse(const void *octets, size_t len, po_entity **entity_out)
{
	po_entity *e;
	char *copy;

	if (!entity_out || (!octets && len))
		return po__fail(PO_EINVAL, "po_entity_parse: NULL argument");
	*entity_out = NULL;
	/* one copy of the input, which the entities' bodies point into
	 * where they need no decoding */
	copy = malloc(len + 1);
	if (!copy)
		return po__fail(PO_ENOMEM, NULL);
	if (len)
		memcpy(copy, octets, len);
	copy[len] = '\0';
	e = parse_entity(copy, 0, len, 0, "text/plain");
	if (!e) {
		free(copy);
		return po__fail(PO_ENOMEM, NULL);
	}
	if (len == 0 && problem(e, "the letter is empty")) {
		entity_free(e);
		free(copy);
		return po__fail(PO_ENOMEM, NULL);
	}
	e->input = copy;
	*entity_out = e;
	return PO_OK;
}

void po_entity_free(po_entity *root)
{
	entity_free(root);
}

size_t po_entity_part_count(const po_entity *e)
{
	return e->nparts;
}

const po_entity *po_entity_part(const po_entity *e, size_t i)
{
	return i < e->nparts ? e->part[i] : NULL;
}

size_t po_entity_header_count(const po_entity *e)
{
	return e->nfields;
}

const char *po_entity_header_name(const po_entity *e, size_t i)
{
	return i < e->nfields ? e->field[i].name : NULL;
}

const char *po_entity_header_raw(const po_entity *e, size_t i)
{
	return i < e->nfields ? e->field[i].raw : NULL;
}

const char *po_entity_header_text(const po_entity *e, size_t i)
{
	return i < e->nfields ? e->field[i].text : NULL;
}

const char *po_entity_header(const po_entity *e, const char *name)
{
	return name ? field(e, name, 0) : NULL;
}

const char *po_entity_type(const po_entity *e)
{
	return e->type;
}

const char *po_entity_param(const po_entity *e, const char *name)
{
	return name ? pair(&e->params, name) : NULL;
}

const char *po_entity_disposition(const po_entity *e)
{
	return e->disposition;
}

const char *po_entity_disposition_param(const po_entity *e, const char *name)
{
	return name ? pair(&e->dparams, name) : NULL;
}

const char *po_entity_filename(const po_entity *e)
{
	return e->filename;
}

const char *po_entity_content_id(const po_entity *e)
{
	return e->cid;
}

const char *po_entity_encoding(const po_entity *e)
{
	return e->encoding;
}

const void *po_entity_body(const po_entity *e, size_t *len_out)
{
	if (len_out)
		*len_out = e->body ? e->bodylen : 0;
	return e->body ? e->body : "";
}

const char *po_entity_text(const po_entity *e, size_t *len_out)
{
	if (len_out)
		*len_out = e->text ? e->textlen : 0;
	return e->text;
}

int po_entity_is_attachment(const po_entity *e)
{
	if (strncmp(e->type, "multipart/", 10) == 0 && e->nparts)
		return 0;
	return !(strncmp(e->type, "text/", 5) == 0 &&
		 !(e->disposition && strcmp(e->disposition, "attachment") == 0) &&
		 !e->filename);
}

size_t po_entity_problem_count(const po_entity *e)
{
	return e->nproblems;
}

const char *po_entity_problem(const po_entity *e, size_t i)
{
	return i < e->nproblems ? e->problem[i] : NULL;
}

int po_decode_header(const char *text, size_t len, char **text_out)
{
	po__buf raw = PO__BUF_INIT, out = PO__BUF_INIT;

	if ((!text && len) || !text_out)
		return po__fail(PO_EINVAL, "po_decode_header: NULL argument");
	*text_out = NULL;
	if (!text)
		text = "";
	if (len == PO_ZERO_TERMINATED)
		len = strlen(text);
	if (po__utf8_repair(&raw, text, len, 0, NULL) ||
	    po__decode_words(&out, raw.p ? raw.p : "", raw.len) ||
	    po__buf_putc(&out, '\0')) {
		po__buf_free(&raw);
		po__buf_free(&out);
		return po__fail(PO_ENOMEM, NULL);
	}
	po__buf_free(&raw);
	*text_out = po__buf_steal(&out);
	return PO_OK;
}

void po_free(void *p)
{
	free(p);
}
