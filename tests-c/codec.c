/* codec.c - the C tests' and the fuzz targets' own decoders and checkers
 * (see codec.h). */
#include "codec.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "header.h"

int tc_b64_value(char c)
{
	const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			"0123456789+/";
	const char *p = c ? strchr(a, c) : NULL;

	return p ? (int)(p - a) : -1;
}

int tc_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 3629, one code point at a time. */
int tc_utf8_valid(const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t i = 0;

	while (i < n) {
		uint32_t cp;
		size_t len;

		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			len = 2;
			cp = s[i] & 0x1f;
		} else if ((s[i] & 0xf0) == 0xe0) {
			len = 3;
			cp = s[i] & 0x0f;
		} else if ((s[i] & 0xf8) == 0xf0) {
			len = 4;
			cp = s[i] & 0x07;
		} else {
			return 0;
		}
		if (n - i < len)
			return 0;
		for (size_t j = 1; j < len; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

const char *tc_crlf_lines(const char *p, size_t n, size_t *longest)
{
	size_t col = 0, max = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r') {
			if (i + 1 == n || p[i + 1] != '\n')
				return "a CR without LF";
			i++;
			col = 0;
			continue;
		}
		if (p[i] == '\n')
			return "an LF without CR";
		if (++col > max)
			max = col;
	}
	if (longest)
		*longest = max;
	return NULL;
}

const char *tc_header_lines(const char *p, size_t n, int soft,
			    size_t *bad_line)
{
	size_t pos = 0, line = 0;
	const char *err = NULL;

	if (n < 2 || memcmp(p + n - 2, "\r\n", 2) != 0) {
		err = "the last line is not ended by CRLF";
		pos = n;
	}
	while (!err && pos < n) {
		const char *cr = memchr(p + pos, '\r', n - pos);
		size_t len, i;

		if (!cr || cr + 1 == p + n || cr[1] != '\n') {
			err = "a CR without LF";
			break;
		}
		len = (size_t)(cr - (p + pos));
		for (i = 0; i < len && (p[pos + i] == ' ' ||
					p[pos + i] == '\t'); i++)
			;
		if (memchr(p + pos, '\n', len))
			err = "an LF without CR";
		else if (len > PO__HDR_HARD)
			err = "a line over 998 characters";
		else if (soft && len > PO__HDR_SOFT)
			err = "a line over 78 characters";
		else if (line && p[pos] != ' ')
			err = "a continuation line not starting with SP";
		else if (i == len)
			err = "a line of white space only";
		else
			pos += len + 2, line++;
	}
	if (bad_line)
		*bad_line = line;
	return err;
}

char *tc_unfold(const char *p, size_t n, size_t *len)
{
	char *u = malloc(n + 1);
	size_t o = 0;

	if (!u)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n') {
			i++;
			continue;
		}
		u[o++] = p[i];
	}
	u[o] = '\0';
	*len = o;
	return u;
}

const char *tc_ew_decode(const char *w, size_t n, char *out, size_t *o)
{
	size_t start = *o, i;

	if (n > 75)
		return "an encoded word over 75 characters";
	if (n < 12 || (memcmp(w, "=?utf-8?q?", 10) != 0 &&
		       memcmp(w, "=?utf-8?b?", 10) != 0) ||
	    memcmp(w + n - 2, "?=", 2) != 0)
		return "an encoded word not =?utf-8?b|q?...?=";
	if (w[8] == 'b') {
		unsigned acc = 0, q = 0, pad = 0;

		if ((n - 12) % 4)
			return "a B encoded word of partial quanta";
		for (i = 10; i < n - 2; i++) {
			int v = w[i] == '=' ? 0 : tc_b64_value(w[i]);

			if (v < 0 || (w[i] != '=' && pad))
				return "a bad character in a B encoded word";
			pad += w[i] == '=';
			acc = acc << 6 | (unsigned)v;
			if (++q == 4) {
				if (pad > 2)
					return "bad padding in a B encoded word";
				out[(*o)++] = (char)(acc >> 16);
				if (pad < 2)
					out[(*o)++] = (char)(acc >> 8);
				if (pad < 1)
					out[(*o)++] = (char)acc;
				q = acc = 0;
			}
		}
	} else {
		for (i = 10; i < n - 2; i++) {
			char c = w[i];

			if (c == '_') {
				out[(*o)++] = ' ';
			} else if (c == '=') {
				int hi = i + 2 < n - 2 ? tc_hexval(w[i + 1])
						       : -1;
				int lo = hi >= 0 ? tc_hexval(w[i + 2]) : -1;

				if (lo < 0)
					return "a bad =XX in a Q encoded word";
				out[(*o)++] = (char)(hi << 4 | lo);
				i += 2;
			} else if ((c >= 'a' && c <= 'z') ||
				   (c >= 'A' && c <= 'Z') ||
				   (c >= '0' && c <= '9') || strchr("!*+-/", c)) {
				out[(*o)++] = c;
			} else {
				return "a character outside RFC 2047 §5(3) in "
				       "a Q encoded word";
			}
		}
	}
	if (*o == start)
		return "an empty encoded word";
	if (!tc_utf8_valid(out + start, *o - start))
		return "an encoded word that is not UTF-8 on its own";
	return NULL;
}

static int looks_ew(const char *w, size_t n)
{
	return n >= 12 && memcmp(w, "=?", 2) == 0 &&
	       memcmp(w + n - 2, "?=", 2) == 0;
}

char *tc_decode_text(const char *v, size_t n, size_t *len, const char **err)
{
	char *out = malloc(n + 1);
	size_t o = 0, i = 0, ws = 0, ws_len = 0;
	int prev_ew = 0;

	*err = NULL;
	if (!out) {
		*err = "out of memory";
		return NULL;
	}
	while (i < n) {
		size_t j = i;
		int is_ew;

		if (v[i] == ' ' || v[i] == '\t') {
			while (j < n && (v[j] == ' ' || v[j] == '\t'))
				j++;
			ws = i;
			ws_len = j - i;
			i = j;
			continue;
		}
		while (j < n && v[j] != ' ' && v[j] != '\t')
			j++;
		is_ew = looks_ew(v + i, j - i);
		if (ws_len && !(prev_ew && is_ew)) {
			memcpy(out + o, v + ws, ws_len);
			o += ws_len;
		}
		if (is_ew) {
			*err = tc_ew_decode(v + i, j - i, out, &o);
			if (*err) {
				free(out);
				return NULL;
			}
		} else {
			memcpy(out + o, v + i, j - i);
			o += j - i;
		}
		prev_ew = is_ew;
		ws_len = 0;
		i = j;
	}
	memcpy(out + o, v + ws, ws_len);
	o += ws_len;
	out[o] = '\0';
	*len = o;
	return out;
}

const char *tc_b64_decode(const char *p, size_t n, unsigned char *out,
			  size_t *len)
{
	size_t o = 0, q = 0;
	unsigned acc = 0, pad = 0;

	for (size_t i = 0; i < n; i++) {
		int v;

		if (p[i] == '\r' || p[i] == '\n')
			continue;
		if (p[i] == '=') {
			pad++;
			v = 0;
		} else {
			if (pad)
				return "base64 after padding";
			v = tc_b64_value(p[i]);
			if (v < 0)
				return "a character outside base64";
		}
		acc = acc << 6 | (unsigned)v;
		if (++q == 4) {
			unsigned char g[3] = {(unsigned char)(acc >> 16),
					      (unsigned char)(acc >> 8),
					      (unsigned char)acc};

			if (pad > 2)
				return "base64 with more than 2 pad characters";
			memcpy(out + o, g, 3 - pad);
			o += 3 - pad;
			q = 0;
			acc = 0;
		}
	}
	if (q)
		return "base64 of partial quanta";
	*len = o;
	return NULL;
}

const char *tc_qp_decode(const char *p, size_t n, int text,
			 unsigned char *out, size_t *len)
{
	size_t o = 0, i = 0, longest;
	const char *err = tc_crlf_lines(p, n, &longest);

	if (err)
		return err;
	if (longest > PO__QP_LINE)
		return "a quoted-printable line over 76 characters";
	while (i < n) {
		const char *eol = memchr(p + i, '\r', n - i);
		size_t end = eol ? (size_t)(eol - p) : n;
		size_t ll = end - i;
		int soft = ll && p[end - 1] == '=';

		if (ll && p[i] == '.')
			return "a quoted-printable line starting with '.'";
		if (ll >= 5 && memcmp(p + i, "From ", 5) == 0)
			return "a quoted-printable line starting with From";
		if (ll && !soft && (p[end - 1] == ' ' || p[end - 1] == '\t'))
			return "white space before a line end";
		for (size_t j = i; j < end - (size_t)soft; j++) {
			unsigned char c = (unsigned char)p[j];

			if (c == '=') {
				int hi = j + 2 < end - (size_t)soft
						 ? tc_hexval(p[j + 1])
						 : -1;
				int lo = hi >= 0 ? tc_hexval(p[j + 2]) : -1;

				if (lo < 0)
					return "a bad =XX in quoted-printable";
				out[o++] = (unsigned char)(hi << 4 | lo);
				j += 2;
			} else if (c == ' ' || c == '\t' ||
				   (c >= 33 && c <= 126)) {
				out[o++] = c;
			} else {
				return "a raw octet outside quoted-printable's "
				       "literal set";
			}
		}
		if (!eol)
			break;
		if (!soft) {
			if (!text)
				return "a hard line break in binary "
				       "quoted-printable";
			out[o++] = '\r';
			out[o++] = '\n';
		}
		i = end + 2;
	}
	*len = o;
	return NULL;
}

size_t tc_text_canonical(const unsigned char *in, size_t n,
			 unsigned char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\n' || (in[i] == '\r' && i + 1 < n &&
				      in[i + 1] == '\n')) {
			i += in[i] == '\r';
			out[o++] = '\r';
			out[o++] = '\n';
		} else {
			out[o++] = in[i];
		}
	}
	return o;
}

void tc_json_str(FILE *f, const char *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

char *tc_encode(tc_enc k, const unsigned char *in, size_t n,
		size_t (*next)(void *), void *ctx, size_t *len,
		po__crlf *crlf_out, const char **err)
{
	size_t cap = 4 * n + 64, o = 0, pos = 0;
	char *out = malloc(cap);
	po__b64 b64;
	po__qp qp;
	po__crlf crlf;

	*err = NULL;
	if (!out) {
		*err = "out of memory";
		return NULL;
	}
	po__b64_init(&b64);
	po__qp_init(&qp, k == TC_QP_TEXT);
	po__crlf_init(&crlf);
	while (pos < n) {
		size_t c = next(ctx), got = 0, bound = 0;

		if (c == 0 || c > n - pos)
			c = n - pos;
		switch (k) {
		case TC_B64:
			bound = po__b64_bound(c);
			break;
		case TC_QP_TEXT:
		case TC_QP_BIN:
			bound = po__qp_bound(c);
			break;
		case TC_CRLF:
			bound = po__crlf_bound(c);
			break;
		}
		if (o + bound > cap) {
			*err = "an encoder's bound over 4 octets an octet";
			free(out);
			return NULL;
		}
		switch (k) {
		case TC_B64:
			got = po__b64_update(&b64, in + pos, c, out + o);
			break;
		case TC_QP_TEXT:
		case TC_QP_BIN:
			got = po__qp_update(&qp, in + pos, c, out + o);
			break;
		case TC_CRLF:
			got = po__crlf_update(&crlf, in + pos, c, out + o);
			break;
		}
		if (got > bound) {
			*err = "an encoder wrote more than its bound";
			free(out);
			return NULL;
		}
		o += got;
		pos += c;
	}
	switch (k) {
	case TC_B64:
		o += po__b64_final(&b64, out + o);
		break;
	case TC_QP_TEXT:
	case TC_QP_BIN:
		o += po__qp_final(&qp, out + o);
		break;
	case TC_CRLF:
		o += po__crlf_final(&crlf, out + o);
		break;
	}
	if (crlf_out)
		*crlf_out = crlf;
	*len = o;
	return out;
}

const char *tc_page_safe(const char *page, size_t n)
{
	static const char *const tags[] = {
		"!DOCTYPE", "html", "head", "meta", "title", "style", "body",
		"main", "header", "h1", "h2", "dl", "dt", "dd", "bdi",
		"section", "p", "ul", "li", "input", "label", "div", "iframe",
		"pre", "a", "span", "footer"};
	const char *p;
	int iframes = 0;

	if (!tc_utf8_valid(page, n))
		return "the page is not UTF-8";
	if (strlen(page) != n)
		return "the page holds a NUL";
	for (p = strchr(page, '<'); p; p = strchr(p + 1, '<')) {
		const char *name = p + 1;
		size_t k = 0, i;
		int known = 0;

		if (*name == '/')
			name++;
		while ((name[k] >= 'a' && name[k] <= 'z') ||
		       (name[k] >= 'A' && name[k] <= 'Z') ||
		       (name[k] >= '0' && name[k] <= '9') || name[k] == '!')
			k++;
		for (i = 0; i < sizeof tags / sizeof tags[0]; i++)
			if (strlen(tags[i]) == k &&
			    strncmp(tags[i], name, k) == 0)
				known = 1;
		if (!known)
			return "a tag the page does not write";
		if (strncasecmp(p, "<script", 7) == 0)
			return "a script element";
		if (strncmp(p, "<iframe", 7) == 0) {
			if (strncmp(p, "<iframe sandbox=\"\" ", 19) != 0)
				return "an iframe not sandboxed";
			iframes++;
		}
	}
	return iframes > 1 ? "more than one iframe" : NULL;
}

/* ----------------------------------------------------------------------
 * MIME structure (RFC 2045 §5.1, RFC 2046 §5.1.1) */

void tc_entity_free(tc_entity *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->nchild; i++)
		tc_entity_free(e->child[i]);
	for (size_t i = 0; i < e->nfields; i++) {
		free(e->name[i]);
		free(e->value[i]);
	}
	free(e->name);
	free(e->value);
	free(e->child);
	free(e->body);
	free(e);
}

const char *tc_entity_field(const tc_entity *e, const char *name)
{
	for (size_t i = 0; i < e->nfields; i++)
		if (strcasecmp(e->name[i], name) == 0)
			return e->value[i];
	return NULL;
}

static void lower_copy(char *dst, size_t cap, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && i + 1 < cap; i++)
		dst[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
	dst[i] = '\0';
}

static const char *trim(const char *s, const char *e, const char **end)
{
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*end = e;
	return s;
}

/* Content-Type: the type and the boundary parameter. */
static void parse_ctype(tc_entity *e, const char *v)
{
	const char *end = v + strlen(v), *semi, *s, *t;

	semi = memchr(v, ';', (size_t)(end - v));
	s = trim(v, semi ? semi : end, &t);
	lower_copy(e->type, sizeof e->type, s, (size_t)(t - s));
	while (semi) {
		const char *p = semi + 1, *eq, *ve;
		int quoted = 0;

		/* the next ';' outside a quoted string */
		for (semi = NULL, s = p; s < end; s++) {
			if (*s == '\\' && quoted && s + 1 < end)
				s++;
			else if (*s == '"')
				quoted = !quoted;
			else if (*s == ';' && !quoted) {
				semi = s;
				break;
			}
		}
		ve = semi ? semi : end;
		eq = memchr(p, '=', (size_t)(ve - p));
		if (!eq)
			continue;
		s = trim(p, eq, &t);
		if ((size_t)(t - s) == 8 && strncasecmp(s, "boundary", 8) == 0) {
			const char *vs = trim(eq + 1, ve, &t);
			size_t k = 0;

			if (vs < t && *vs == '"') {
				for (vs++; vs < t && *vs != '"' &&
					   k + 1 < sizeof e->boundary;
				     vs++) {
					if (*vs == '\\' && vs + 1 < t)
						vs++;
					e->boundary[k++] = *vs;
				}
			} else {
				for (; vs < t && k + 1 < sizeof e->boundary;
				     vs++)
					e->boundary[k++] = *vs;
			}
			e->boundary[k] = '\0';
		}
	}
}

static int add_field(tc_entity *e, const char *line, size_t n)
{
	const char *colon = memchr(line, ':', n), *v, *end = line + n;
	char **nn, **vv;

	if (!colon || colon == line)
		return -1;
	nn = realloc(e->name, (e->nfields + 1) * sizeof *nn);
	if (!nn)
		return -1;
	e->name = nn;
	vv = realloc(e->value, (e->nfields + 1) * sizeof *vv);
	if (!vv)
		return -1;
	e->value = vv;
	v = colon + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	e->name[e->nfields] = strndup(line, (size_t)(colon - line));
	e->value[e->nfields] = strndup(v, (size_t)(end - v));
	e->nfields++;
	return e->name[e->nfields - 1] && e->value[e->nfields - 1] ? 0 : -1;
}

/* Is the line l[0..n) (no CRLF) "--" boundary, then nothing or "--",
 * then white space only?  Returns 1 for a delimiter, 2 for the close
 * delimiter, 0 when it does not start with "--" boundary, -1 when it
 * starts with it but is neither. */
static int delimiter(const char *l, size_t n, const char *b)
{
	size_t k = strlen(b), i;
	int close = 0;

	if (n < k + 2 || l[0] != '-' || l[1] != '-' ||
	    memcmp(l + 2, b, k) != 0)
		return 0;
	i = k + 2;
	if (n - i >= 2 && l[i] == '-' && l[i + 1] == '-') {
		close = 1;
		i += 2;
	}
	for (; i < n; i++)
		if (l[i] != ' ' && l[i] != '\t')
			return -1;
	return close ? 2 : 1;
}

static tc_entity *parse_entity(const char *p, size_t n, int depth,
			       const char **err);

static int parse_multipart(tc_entity *e, const char *p, size_t n, int depth,
			   const char **err)
{
	size_t i = 0, start = 0;
	int open = 0, closed = 0;

	if (!e->boundary[0]) {
		*err = "a multipart without a boundary";
		return -1;
	}
	while (i < n) {
		const char *eol = memchr(p + i, '\r', n - i);
		size_t end = eol ? (size_t)(eol - p) : n;
		int d = delimiter(p + i, end - i, e->boundary);

		if (d < 0) {
			*err = "a line starts with the boundary but is not a "
			       "delimiter";
			return -1;
		}
		if (d > 0 && closed) {
			*err = "a delimiter after the close delimiter";
			return -1;
		}
		if (d > 0) {
			if (open) {
				/* the CRLF before the delimiter is its own */
				size_t stop = i >= start + 2 ? i - 2 : start;
				tc_entity **v;
				tc_entity *c;

				c = parse_entity(p + start, stop - start,
						 depth + 1, err);
				if (!c)
					return -1;
				v = realloc(e->child,
					    (e->nchild + 1) * sizeof *v);
				if (!v) {
					tc_entity_free(c);
					*err = "out of memory";
					return -1;
				}
				e->child = v;
				e->child[e->nchild++] = c;
			}
			open = d == 1;
			closed = d == 2;
			start = eol ? end + 2 : n;
		}
		i = eol ? end + 2 : n;
	}
	if (!closed) {
		*err = "a multipart without its close delimiter";
		return -1;
	}
	return 0;
}

static int decode_leaf(tc_entity *e, const char *p, size_t n,
		       const char **err)
{
	e->body = malloc(n + 4);
	if (!e->body) {
		*err = "out of memory";
		return -1;
	}
	if (strcmp(e->cte, "base64") == 0) {
		*err = tc_b64_decode(p, n, e->body, &e->len);
		return *err ? -1 : 0;
	}
	if (strcmp(e->cte, "quoted-printable") == 0) {
		int text = strncmp(e->type, "text/", 5) == 0 ||
			   strncmp(e->type, "message/", 8) == 0;

		*err = tc_qp_decode(p, n, text, e->body, &e->len);
		return *err ? -1 : 0;
	}
	if (strcmp(e->cte, "7bit") && strcmp(e->cte, "8bit") &&
	    strcmp(e->cte, "binary")) {
		*err = "an unknown Content-Transfer-Encoding";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (p[i] == 0 && strcmp(e->cte, "binary") != 0) {
			*err = "a NUL octet in a 7bit or 8bit body";
			return -1;
		}
		if ((unsigned char)p[i] >= 0x80 && strcmp(e->cte, "7bit") == 0) {
			*err = "an 8-bit octet in a 7bit body";
			return -1;
		}
	}
	memcpy(e->body, p, n);
	e->len = n;
	return 0;
}

static tc_entity *parse_entity(const char *p, size_t n, int depth,
			       const char **err)
{
	tc_entity *e = calloc(1, sizeof *e);
	size_t i = 0, body;
	const char *v;

	if (!e) {
		*err = "out of memory";
		return NULL;
	}
	if (depth > 1000) {
		*err = "parts nested too deeply";
		goto fail;
	}
	*err = tc_crlf_lines(p, n, NULL);
	if (*err)
		goto fail;
	/* header fields up to the first empty line */
	for (;;) {
		const char *eol = memchr(p + i, '\r', n - i);
		size_t end, fend;

		if (!eol) {
			*err = "no empty line after the header";
			goto fail;
		}
		end = (size_t)(eol - p);
		if (end == i) {
			body = end + 2;
			break;
		}
		if (p[i] == ' ' || p[i] == '\t') {
			*err = "a continuation line without a field";
			goto fail;
		}
		/* the field and its continuation lines */
		fend = end;
		while (fend + 2 < n && (p[fend + 2] == ' ' || p[fend + 2] == '\t')) {
			const char *next = memchr(p + fend + 2, '\r',
						  n - fend - 2);

			if (!next) {
				*err = "no empty line after the header";
				goto fail;
			}
			fend = (size_t)(next - p);
		}
		{
			size_t len;
			char *unf = tc_unfold(p + i, fend - i, &len);
			int rc = unf ? add_field(e, unf, len) : -1;

			free(unf);
			if (rc) {
				*err = "a header line without a colon";
				goto fail;
			}
		}
		i = fend + 2;
	}
	for (size_t a = 0; a < e->nfields; a++)
		for (size_t b = a + 1; b < e->nfields; b++)
			if (strncasecmp(e->name[a], "Content-", 8) == 0 &&
			    strcasecmp(e->name[a], e->name[b]) == 0) {
				*err = "two Content-* fields of one name";
				goto fail;
			}
	strcpy(e->type, "text/plain");
	strcpy(e->cte, "7bit");
	v = tc_entity_field(e, "Content-Type");
	if (v)
		parse_ctype(e, v);
	v = tc_entity_field(e, "Content-Transfer-Encoding");
	if (v) {
		const char *t, *s = trim(v, v + strlen(v), &t);

		lower_copy(e->cte, sizeof e->cte, s, (size_t)(t - s));
	}
	if (strncmp(e->type, "multipart/", 10) == 0) {
		if (parse_multipart(e, p + body, n - body, depth, err))
			goto fail;
	} else if (decode_leaf(e, p + body, n - body, err)) {
		goto fail;
	}
	return e;
fail:
	tc_entity_free(e);
	return NULL;
}

tc_entity *tc_mime_parse(const char *p, size_t n, const char **err)
{
	*err = NULL;
	return parse_entity(p, n, 0, err);
}
