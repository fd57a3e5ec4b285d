/* header.c - RFC 5322 header fields: folding, RFC 2047 encoded words,
 * RFC 2231 parameters (see header.h).
 *
 * RFC 5322 §2.1.1 (line lengths), §2.2.3 (folding), §3.2.3 (atext),
 * §3.2.4 (quoted strings), §3.2.5 (phrases), §3.4 (address lists),
 * §3.6.8 (field names); RFC 2047 §2, §4, §5 (encoded words); RFC 2231
 * §3, §4, §7 (parameter continuations and charsets); RFC 2045 §5.1
 * (tokens).
 */
#include "header.h"

#include <stdint.h>
#include <string.h>

#include "encode.h"
#include "po_private.h"

#define EW_MAX 75      /* RFC 2047 §2: an encoded word's length */
#define EW_OVERHEAD 12 /* "=?utf-8?q?" and "?=" */
/* A blank run longer than this is not a folding point of an
 * unstructured value: a line after it would hold little else. */
#define SEP_MAX 38
/* Longest name written in error messages. */
#define NAME_SHOWN 76

/* ======================================================================
 * Character classes
 */

static int is_blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static int is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* RFC 5322 §3.2.3 atext. */
static int is_atext(unsigned char c)
{
	return is_alnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* RFC 2045 §5.1 token characters: no SPACE, CTLs or tspecials. */
static int is_token_char(unsigned char c)
{
	return c > ' ' && c < 127 && !strchr("()<>@,;:\\\"/[]?=", c);
}

/* RFC 2231 §7 attribute-char: a token character other than '*', '\''
 * and '%', which RFC 2231 gives a meaning. */
static int is_attr_char(unsigned char c)
{
	return is_token_char(c) && c != '*' && c != '\'' && c != '%';
}

/* RFC 2047 §5(3): the characters a "Q" word may carry as themselves in
 * a phrase.  We use this set everywhere, so one encoder serves all. */
static int q_safe(unsigned char c)
{
	return is_alnum(c) || c == '!' || c == '*' || c == '+' || c == '-' ||
	       c == '/';
}

static size_t q_cost(unsigned char c)
{
	return q_safe(c) || c == ' ' ? 1 : 3;
}

/* Length of the UTF-8 sequence that starts with c (input is valid). */
static size_t u8len(unsigned char c)
{
	return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

/* Text that must go in encoded words rather than as itself: non-ASCII,
 * controls other than HTAB (RFC 5322 §3.2.5 allows only VCHAR and WSP),
 * and "=?", which a reader would take for the start of an encoded word
 * (RFC 2047 §5). */
static int needs_ew(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];

		if (c >= 0x7f || (c < ' ' && c != '\t'))
			return 1;
		if (c == '=' && i + 1 < n && p[i + 1] == '?')
			return 1;
	}
	return 0;
}

static const char hex_upper[] = "0123456789ABCDEF";

int po__hdr_name_valid(const char *name, size_t n)
{
	/* RFC 5322 §3.6.8 ftext; at most 76 so that "Name: " plus one
	 * character fits in 78. */
	if (n < 1 || n > 76)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 33 || c > 126 || c == ':')
			return 0;
	}
	return 1;
}

/* ======================================================================
 * Validation, with the messages for po_last_error()
 */

/* The name, shortened and with anything unprintable replaced, for a
 * message about a field whose name may itself be bad. */
static const char *shown_name(char *tmp, const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < NAME_SHOWN; i++) {
		unsigned char c = (unsigned char)name[i];

		tmp[i] = c >= 32 && c < 127 ? (char)c : '?';
	}
	tmp[i] = '\0';
	return tmp;
}

static int check_name(const char *name, size_t n)
{
	char tmp[NAME_SHOWN + 1];

	if (po__hdr_name_valid(name, n))
		return PO_OK;
	return po__fail(PO_EHEADER,
			"header name \"%s\": 1 to 76 printable ASCII "
			"characters other than ':' are required",
			shown_name(tmp, name, n));
}

/* CR, LF and NUL would end the field early or truncate it: refusing
 * them is what stops header injection (design §4.6). */
static int has_crlf_nul(const char *s, size_t n)
{
	return memchr(s, '\r', n) || memchr(s, '\n', n) ||
	       memchr(s, '\0', n);
}

static int check_text(const char *name, const char *what, const char *s,
		      size_t n)
{
	if (has_crlf_nul(s, n))
		return po__fail(PO_EHEADER, "%s header: CR, LF or NUL in %s",
				name, what);
	if (!po__utf8_valid(s, n))
		return po__fail(PO_EUTF8, "%s header: %s is not valid UTF-8",
				name, what);
	return PO_OK;
}

/* ======================================================================
 * The folding engine
 *
 * A field is written as pieces, each with the white space before it.
 * A line is folded (CRLF inserted) only before white space that starts
 * with SP, so unfolding gives the field back, and never before the first
 * piece: parsers keep a fold right after the colon as part of the value.
 */

struct fold {
	po__buf *b;
	size_t start;      /* b->len before the field, to roll back */
	const char *name;  /* for messages */
	size_t col;        /* characters on the current line */
	int has_piece;     /* a piece follows "Name:" */
};

static int fold_add(struct fold *f, const void *p, size_t n)
{
	if (po__buf_append(f->b, p, n))
		return PO_ENOMEM;
	f->col += n;
	return PO_OK;
}

static int fold_break(struct fold *f)
{
	/* already at the start of a line: a second CRLF would make an
	 * empty line, which ends the header block */
	if (f->col == 0)
		return PO_OK;
	if (po__buf_append(f->b, "\r\n", 2))
		return PO_ENOMEM;
	f->col = 0;
	return PO_OK;
}

static int fold_start(struct fold *f, po__buf *b, const char *name,
		      size_t namelen)
{
	f->b = b;
	f->start = b->len;
	f->name = name;
	f->col = 0;
	f->has_piece = 0;
	if (fold_add(f, name, namelen) || fold_add(f, ":", 1))
		return PO_ENOMEM;
	return PO_OK;
}

/* Append sep and text on the current line. */
static int fold_emit(struct fold *f, const char *sep, size_t seplen,
		     const void *text, size_t tlen)
{
	if (fold_add(f, sep, seplen) || fold_add(f, text, tlen))
		return PO_ENOMEM;
	f->has_piece = 1;
	/* RFC 5322 §2.1.1: 998 characters, CRLF excluded, MUST. */
	return f->col > PO__HDR_HARD ? PO_ETOOLONG : PO_OK;
}

static int foldable(const struct fold *f, const char *sep, size_t seplen)
{
	return f->has_piece && seplen && sep[0] == ' ';
}

/* Append a piece, on a new line if it does not fit on this one. */
static int fold_piece(struct fold *f, const char *sep, size_t seplen,
		      const void *text, size_t tlen)
{
	if (foldable(f, sep, seplen) &&
	    f->col + seplen + tlen > PO__HDR_SOFT && fold_break(f))
		return PO_ENOMEM;
	return fold_emit(f, sep, seplen, text, tlen);
}

/* End the field, or on failure take it back out of the buffer. */
static int fold_end(struct fold *f, int status)
{
	if (status == PO_OK && po__buf_append(f->b, "\r\n", 2))
		status = PO_ENOMEM;
	if (status == PO_OK)
		return PO_OK;
	if (f->b->p) {
		f->b->len = f->start;
		f->b->p[f->start] = '\0';
	}
	if (status == PO_ETOOLONG)
		return po__fail(status,
				"%s header: a word does not fit in a line "
				"of 998 characters (RFC 5322 2.1.1)",
				f->name);
	return po__fail(status, "%s header: out of memory", f->name);
}

/* ======================================================================
 * RFC 2047 encoded words
 */

/* "B" when it is shorter than "Q" for the whole text. */
static int ew_use_b(const unsigned char *t, size_t n)
{
	size_t q = 0;

	for (size_t i = 0; i < n; i++)
		q += q_cost(t[i]);
	return (n + 2) / 3 * 4 < q;
}

static size_t ew_char_cost(int b, const unsigned char *t, size_t len)
{
	size_t q = 0;

	if (b)
		return (len + 2) / 3 * 4;
	for (size_t i = 0; i < len; i++)
		q += q_cost(t[i]);
	return q;
}

/* How many octets of t[0..n), in whole characters, fit in an encoded
 * word of at most limit characters. */
static size_t ew_fit(int b, const unsigned char *t, size_t n, size_t limit)
{
	size_t used = 0, cost = 0;

	if (limit <= EW_OVERHEAD)
		return 0;
	limit -= EW_OVERHEAD;
	if (b) {
		size_t max = limit / 4 * 3;

		while (used < n && used + u8len(t[used]) <= max)
			used += u8len(t[used]);
		return used;
	}
	while (used < n) {
		size_t len = u8len(t[used]);
		size_t c = ew_char_cost(0, t + used, len);

		if (cost + c > limit)
			break;
		cost += c;
		used += len;
	}
	return used;
}

/* Encode t[0..n) as one encoded word into w (EW_MAX + 1 bytes at least
 * when the caller sized n with ew_fit); returns its length. */
static size_t ew_word(int b, const unsigned char *t, size_t n, char *w)
{
	size_t o;

	memcpy(w, b ? "=?utf-8?b?" : "=?utf-8?q?", 10);
	o = 10;
	if (b) {
		o += po__b64_plain(t, n, w + o);
	} else {
		for (size_t i = 0; i < n; i++) {
			unsigned char c = t[i];

			if (q_safe(c)) {
				w[o++] = (char)c;
			} else if (c == ' ') {
				w[o++] = '_';
			} else {
				w[o++] = '=';
				w[o++] = hex_upper[c >> 4];
				w[o++] = hex_upper[c & 15];
			}
		}
	}
	w[o++] = '?';
	w[o++] = '=';
	return o;
}

/* Start of the last character of t[0..n), n > 0. */
static size_t last_char(const unsigned char *t, size_t n)
{
	size_t i = n - 1;

	while (i > 0 && (t[i] & 0xc0) == 0x80)
		i--;
	return i;
}

/* Write t[0..n) (valid UTF-8, n > 0) as encoded words.  The first word
 * follows sep (the field's own white space) and pre (glued to it, such
 * as 'filename="'); suf is glued after the last.  The words are
 * separated by generated spaces, where the line may fold, and each is
 * filled to what is left of its line.  White space of the text stays
 * inside the words: decoders drop the space between two of them.
 * phrase: text that fits in one word is not split to fill a line, as
 * some decoders (Python's) keep the space between encoded words of a
 * phrase, against RFC 2047 §6.2. */
static int put_ew_run(struct fold *f, const char *sep, size_t seplen,
		      const char *pre, size_t prelen,
		      const unsigned char *t, size_t n, const char *suf,
		      size_t suflen, int phrase)
{
	int b = ew_use_b(t, n);
	size_t pos = 0, lastc = last_char(t, n);
	char w[EW_MAX + 1];
	int st = PO_OK;

	if (phrase && !prelen && !suflen && ew_fit(b, t, n, EW_MAX) == n)
		return fold_piece(f, sep, seplen, w, ew_word(b, t, n, w));
	while (pos < n && st == PO_OK) {
		size_t cl = u8len(t[pos]);
		size_t need = EW_OVERHEAD + ew_char_cost(b, t + pos, cl) +
			      (pos == lastc ? suflen : 0);
		size_t lead = seplen + prelen, limit, k, len;
		int last;

		if (foldable(f, sep, seplen) &&
		    f->col + lead + need > PO__HDR_SOFT && fold_break(f))
			return PO_ENOMEM;
		limit = f->col + lead < PO__HDR_SOFT ?
				PO__HDR_SOFT - f->col - lead : 0;
		if (limit > EW_MAX)
			limit = EW_MAX;
		if (limit < need)
			limit = EW_MAX; /* too long for any line: 998 rules */
		k = 0;
		if (limit > suflen)
			k = ew_fit(b, t + pos, n - pos, limit - suflen);
		last = pos + k == n;
		if (!last) {
			/* Leave the last character for a word that has
			 * room for the suffix too. */
			k = ew_fit(b, t + pos, lastc - pos, limit);
			if (k == 0)
				k = cl;
			last = pos + k == n;
		}
		len = ew_word(b, t + pos, k, w);
		st = fold_emit(f, sep, seplen, pre, prelen);
		if (st == PO_OK)
			st = fold_emit(f, "", 0, w, len);
		if (st == PO_OK && last)
			st = fold_emit(f, "", 0, suf, suflen);
		pos += k;
		sep = " ";
		seplen = 1;
		pre = "";
		prelen = 0;
	}
	return st;
}

/* ======================================================================
 * Unstructured fields
 */

/* The unit of text that starts at pos: words joined by blank runs that
 * are no folding point (a run starting with HTAB, since continuation
 * lines start with SP, or longer than sepmax).  It ends at *ue; the
 * blank run after it ends at *next. */
static void unit_next(const unsigned char *v, size_t n, size_t pos,
		      size_t sepmax, size_t *ue, size_t *next)
{
	size_t e = pos, nx;

	for (;;) {
		while (e < n && !is_blank(v[e]))
			e++;
		nx = e;
		while (nx < n && is_blank(v[nx]))
			nx++;
		if (nx == n || (v[e] == ' ' && nx - e <= sepmax))
			break;
		e = nx;
	}
	*ue = e;
	*next = nx;
}

/* A unit is written as itself when it can be: it needs no encoding
 * (needs_ew), it fits on its line, and no white space at either end of
 * the value hangs on it (parsers strip that, so it travels inside an
 * encoded word).  Runs of units that can't, with the white space between
 * them, become one sequence of encoded words. */
static int put_unstructured(struct fold *f, const unsigned char *v,
			    size_t n)
{
	const char *sep = " ", *run_sep = NULL;
	size_t seplen = 1, run_seplen = 0, run_start = 0, run_end = 0;
	size_t lead = 0, pos;
	int in_run = 0, st = PO_OK;

	if (n == 0)
		return PO_OK;
	while (lead < n && is_blank(v[lead]))
		lead++;
	if (lead == n)
		return put_ew_run(f, sep, seplen, "", 0, v, n, "", 0, 0);
	for (pos = lead; pos < n && st == PO_OK;) {
		size_t ue, next, room;
		int first = pos == lead, enc;

		unit_next(v, n, pos, SEP_MAX, &ue, &next);
		room = first ? PO__HDR_SOFT - f->col - seplen
			     : PO__HDR_SOFT - seplen;
		enc = needs_ew(v + pos, ue - pos) || ue - pos > room ||
		      (first && lead) || (next == n && next > ue);
		if (enc) {
			if (!in_run) {
				in_run = 1;
				run_start = first ? 0 : pos;
				run_sep = sep;
				run_seplen = seplen;
			}
			run_end = next == n ? n : ue;
		} else {
			if (in_run) {
				in_run = 0;
				st = put_ew_run(f, run_sep, run_seplen, "", 0,
						v + run_start,
						run_end - run_start, "", 0, 0);
			}
			if (st == PO_OK)
				st = fold_piece(f, sep, seplen, v + pos,
						ue - pos);
		}
		sep = (const char *)v + ue;
		seplen = next - ue;
		pos = next;
	}
	if (in_run && st == PO_OK)
		st = put_ew_run(f, run_sep, run_seplen, "", 0, v + run_start,
				run_end - run_start, "", 0, 0);
	return st;
}

int po__hdr_unstructured(po__buf *out, const char *name, const char *value,
			 size_t n)
{
	size_t namelen = strlen(name);
	struct fold f;
	int st;

	st = check_name(name, namelen);
	if (st == PO_OK)
		st = check_text(name, "the value", value, n);
	if (st != PO_OK)
		return st;
	st = fold_start(&f, out, name, namelen);
	if (st == PO_OK)
		st = put_unstructured(&f, (const unsigned char *)value, n);
	return fold_end(&f, st);
}

/* ======================================================================
 * Raw header lines
 */

int po__hdr_split(const char *line, size_t n, size_t *name_len,
		  const char **value, size_t *value_len)
{
	const char *colon = memchr(line, ':', n);
	const char *v, *end = line + n;
	char tmp[NAME_SHOWN + 1];

	if (!colon)
		return po__fail(PO_EHEADER,
				"header line \"%s\": no colon after the name",
				shown_name(tmp, line, n));
	if (!po__hdr_name_valid(line, (size_t)(colon - line)))
		return check_name(line, (size_t)(colon - line));
	v = colon + 1;
	while (v < end && is_blank((unsigned char)*v))
		v++;
	*name_len = (size_t)(colon - line);
	*value = v;
	*value_len = (size_t)(end - v);
	return PO_OK;
}

/* An ASCII value as given, folded before its own blank runs that start
 * with SP when the line is too long; trailing white space stays on the
 * last piece, so no line is white space only. */
static int put_raw_ascii(struct fold *f, const unsigned char *v, size_t n)
{
	const char *sep = " ";
	size_t seplen = 1, pos = 0;
	int st = PO_OK;

	if (n == 0)
		return PO_OK;
	if (f->col + 1 + n <= PO__HDR_SOFT)
		return fold_emit(f, sep, seplen, v, n);
	while (pos < n && st == PO_OK) {
		size_t ue, next;

		unit_next(v, n, pos, SIZE_MAX, &ue, &next);
		if (next == n)
			ue = n;
		st = fold_piece(f, sep, seplen, v + pos, ue - pos);
		sep = (const char *)v + ue;
		seplen = next - ue;
		pos = next;
	}
	return st;
}

int po__hdr_raw(po__buf *out, const char *line, size_t n)
{
	char name[NAME_SHOWN + 1];
	const char *value;
	size_t namelen, vlen;
	struct fold f;
	int st;

	if (has_crlf_nul(line, n)) {
		const char *colon = memchr(line, ':', n);

		namelen = colon ? (size_t)(colon - line) : n;
		return po__fail(PO_EHEADER,
				"header line \"%s\": CR, LF or NUL",
				shown_name(name, line, namelen));
	}
	st = po__hdr_split(line, n, &namelen, &value, &vlen);
	if (st != PO_OK)
		return st;
	/* The name is valid, so at most 76 characters. */
	memcpy(name, line, namelen);
	name[namelen] = '\0';
	/* written as given, so no other control character either (RFC 5322
	 * field bodies: printable characters and white space; ESC would
	 * reach a reader's terminal) */
	for (size_t i = 0; i < vlen; i++) {
		unsigned char c = (unsigned char)value[i];

		if ((c < ' ' && c != '\t') || c == 0x7f)
			return po__fail(PO_EHEADER,
					"%s header: control character 0x%02x "
					"in the value",
					name, c);
	}
	if (!po__utf8_valid(value, vlen))
		return po__fail(PO_EUTF8, "%s header: the value is not valid "
				"UTF-8", name);
	st = fold_start(&f, out, name, namelen);
	if (st == PO_OK && po__is_ascii(value, vlen))
		st = put_raw_ascii(&f, (const unsigned char *)value, vlen);
	else if (st == PO_OK)
		st = put_unstructured(&f, (const unsigned char *)value, vlen);
	return fold_end(&f, st);
}

/* ======================================================================
 * Address lists
 */

enum { DN_ATOMS, DN_QUOTED, DN_EW };

/* Length of the quoted-string piece for d[0..n): '"' and '\\' take a
 * backslash (RFC 5322 §3.2.4). */
static size_t quoted_len(const unsigned char *d, size_t n)
{
	size_t len = n;

	for (size_t i = 0; i < n; i++)
		len += d[i] == '"' || d[i] == '\\';
	return len;
}

/* The piece of a quoted display name that starts at pos: up to the end
 * of the next word, or of the name after the last word, so that the
 * blank runs at both ends stay inside the quotes.  The run before the
 * next piece ends at *next. */
static void quoted_piece(const unsigned char *d, size_t n, size_t pos,
			 size_t *end, size_t *next)
{
	size_t e = pos, nx;

	while (e < n && d[e] == ' ')
		e++;
	while (e < n && d[e] != ' ')
		e++;
	nx = e;
	while (nx < n && d[nx] == ' ')
		nx++;
	*end = nx == n ? n : e;
	*next = nx;
}

/* RFC 5322 §3.2.5: an atom phrase when it is atext words separated by
 * single spaces; a quoted-string when it is other printable ASCII; else
 * (non-ASCII, controls, HTAB, "=?") encoded words.  Also encoded words
 * when some piece could not fit on a line of its own. */
static int display_kind(const unsigned char *d, size_t n)
{
	int atoms = d[0] != ' ' && d[n - 1] != ' ';
	size_t pos = 0, seplen = 1;

	if (needs_ew(d, n) || memchr(d, '\t', n))
		return DN_EW;
	for (size_t i = 0; i < n && atoms; i++)
		if (d[i] == ' ' ? d[i + 1] == ' ' : !is_atext(d[i]))
			atoms = 0;
	while (pos < n) {
		size_t end, next;

		quoted_piece(d, n, pos, &end, &next);
		if (seplen + quoted_len(d + pos, end - pos) + (pos == 0) +
			    (end == n) > PO__HDR_SOFT)
			return DN_EW;
		seplen = next - end;
		pos = next;
	}
	return atoms ? DN_ATOMS : DN_QUOTED;
}

static int put_quoted(struct fold *f, po__buf *tmp, const unsigned char *d,
		      size_t n)
{
	const char *sep = " ";
	size_t seplen = 1, pos = 0;
	int st = PO_OK;

	while (pos < n && st == PO_OK) {
		size_t end, next;

		quoted_piece(d, n, pos, &end, &next);
		tmp->len = 0;
		if (pos == 0 && po__buf_putc(tmp, '"'))
			return PO_ENOMEM;
		for (size_t i = pos; i < end; i++)
			if (((d[i] == '"' || d[i] == '\\') &&
			     po__buf_putc(tmp, '\\')) ||
			    po__buf_putc(tmp, (char)d[i]))
				return PO_ENOMEM;
		if (end == n && po__buf_putc(tmp, '"'))
			return PO_ENOMEM;
		st = fold_piece(f, sep, seplen, tmp->p, tmp->len);
		sep = (const char *)d + end;
		seplen = next - end;
		pos = next;
	}
	return st;
}

static int put_mailbox(struct fold *f, po__buf *tmp, const po__addr *a,
		       int more)
{
	const unsigned char *d = (const unsigned char *)a->display;
	size_t n = d ? strlen(a->display) : 0;
	int st = PO_OK;

	tmp->len = 0;
	if (n == 0) {
		if (po__buf_puts(tmp, a->spec) ||
		    (more && po__buf_putc(tmp, ',')))
			return PO_ENOMEM;
		return fold_piece(f, " ", 1, tmp->p, tmp->len);
	}
	switch (display_kind(d, n)) {
	case DN_ATOMS: {
		size_t pos = 0;

		while (pos < n && st == PO_OK) {
			const unsigned char *sp;
			size_t end = n;

			sp = memchr(d + pos, ' ', n - pos);
			if (sp)
				end = (size_t)(sp - d);

			st = fold_piece(f, " ", 1, d + pos, end - pos);
			pos = end + 1;
		}
		break;
	}
	case DN_QUOTED:
		st = put_quoted(f, tmp, d, n);
		break;
	default:
		st = put_ew_run(f, " ", 1, "", 0, d, n, "", 0, 1);
		break;
	}
	if (st != PO_OK)
		return st;
	tmp->len = 0;
	if (po__buf_putc(tmp, '<') || po__buf_puts(tmp, a->spec) ||
	    po__buf_putc(tmp, '>') || (more && po__buf_putc(tmp, ',')))
		return PO_ENOMEM;
	return fold_piece(f, " ", 1, tmp->p, tmp->len);
}

/* The spec is written as one piece, so it must not bring white space
 * or controls of its own, except inside a quoted local part (RFC 5322
 * §3.4.1). */
static int check_spec(const char *name, const char *spec)
{
	int quoted = 0;

	if (!*spec)
		return po__fail(PO_EADDRESS, "%s header: empty address", name);
	for (const char *p = spec; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '"')
			quoted = !quoted;
		else if (c == '\\' && quoted && p[1])
			p++;
		else if (c == 0x7f || c < ' ' || (!quoted && c == ' '))
			return po__fail(PO_EADDRESS,
					"%s header: address \"%.60s\": white "
					"space or control character", name,
					spec);
	}
	return PO_OK;
}

int po__hdr_addresses(po__buf *out, const char *name, const po__addr *list,
		      size_t n)
{
	size_t namelen = strlen(name);
	po__buf tmp = PO__BUF_INIT;
	struct fold f;
	int st;

	st = check_name(name, namelen);
	if (st != PO_OK)
		return st;
	if (!list || n == 0)
		return po__fail(PO_EINVAL, "%s header: no address", name);
	for (size_t i = 0; i < n; i++) {
		const char *d = list[i].display, *spec = list[i].spec;

		if (!spec)
			return po__fail(PO_EINVAL, "%s header: no address",
					name);
		st = check_text(name, "an address", spec, strlen(spec));
		if (st == PO_OK)
			st = check_spec(name, spec);
		if (st == PO_OK && d)
			st = check_text(name, "a display name", d, strlen(d));
		if (st != PO_OK)
			return st;
	}
	st = fold_start(&f, out, name, namelen);
	for (size_t i = 0; i < n && st == PO_OK; i++)
		st = put_mailbox(&f, &tmp, &list[i], i + 1 < n);
	po__buf_free(&tmp);
	return fold_end(&f, st);
}

/* ======================================================================
 * Parameterised fields
 */

static size_t pct_cost(unsigned char c)
{
	return is_attr_char(c) ? 1 : 3;
}

/* RFC 2231 §7 extended value: attribute-chars as themselves, every other
 * octet as %XX. */
static int put_pct(po__buf *b, const unsigned char *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char x[3] = {'%', hex_upper[t[i] >> 4], hex_upper[t[i] & 15]};
		int rc = is_attr_char(t[i]) ? po__buf_putc(b, (char)t[i])
					    : po__buf_append(b, x, 3);

		if (rc)
			return PO_ENOMEM;
	}
	return PO_OK;
}

/* Allegro's layout for parameters (its mime-part-writer, and so every
 * letter it sends): each on a line of its own, after CRLF and four
 * spaces.  Valid folding white space; unfolded, the field is the same. */
#define PARAM_SEP "    "
#define PARAM_SEPLEN 4

static int param_line(struct fold *f)
{
	return fold_break(f);
}

/* RFC 2231 §4: name*=utf-8''%XX..., or when that does not fit on a line,
 * §3 sections name*0*=utf-8''..., name*1*=..., each filled to its line
 * and cut between characters (decoders such as Python's decode each
 * section on its own).  A ';' always follows: the RFC 2047 form does. */
static int put_rfc2231(struct fold *f, po__buf *tmp, const char *name,
		       const unsigned char *v, size_t n)
{
	size_t namelen = strlen(name), total = 0, pos = 0;
	int st = PO_OK;

	for (size_t i = 0; i < n; i++)
		total += pct_cost(v[i]);
	tmp->len = 0;
	if (PARAM_SEPLEN + namelen + 9 + total + 1 <= PO__HDR_SOFT) {
		if (po__buf_puts(tmp, name) ||
		    po__buf_puts(tmp, "*=utf-8''") || put_pct(tmp, v, n) ||
		    po__buf_putc(tmp, ';') || param_line(f))
			return PO_ENOMEM;
		return fold_emit(f, PARAM_SEP, PARAM_SEPLEN, tmp->p, tmp->len);
	}
	for (unsigned long sec = 0; pos < n && st == PO_OK; sec++) {
		size_t k = 0, cost = 0, room;

		tmp->len = 0;
		if (po__buf_printf(tmp, "%s*%lu*=%s", name, sec,
				   sec ? "" : "utf-8''") ||
		    param_line(f))
			return PO_ENOMEM;
		room = PARAM_SEPLEN + tmp->len + 1 < PO__HDR_SOFT
			       ? PO__HDR_SOFT - PARAM_SEPLEN - tmp->len - 1
			       : 0;
		while (pos + k < n) {
			size_t len = u8len(v[pos + k]), c = 0;

			for (size_t i = 0; i < len; i++)
				c += pct_cost(v[pos + k + i]);
			if (k && cost + c > room)
				break;
			cost += c;
			k += len;
		}
		if (put_pct(tmp, v + pos, k) || po__buf_putc(tmp, ';'))
			return PO_ENOMEM;
		st = fold_emit(f, PARAM_SEP, PARAM_SEPLEN, tmp->p, tmp->len);
		pos += k;
	}
	return st;
}

static int put_param(struct fold *f, po__buf *tmp, const po__param *p,
		     int more)
{
	const unsigned char *v = (const unsigned char *)p->value;
	size_t n = strlen(p->value);
	int plain = !needs_ew(v, n) && !memchr(v, '\t', n);
	int st;

	if (plain) {
		tmp->len = 0;
		if (po__buf_puts(tmp, p->name) || po__buf_puts(tmp, "=\"") ||
		    po__buf_reserve(tmp, 2 * n + 2))
			return PO_ENOMEM;
		for (size_t i = 0; i < n; i++) {
			if (v[i] == '"' || v[i] == '\\')
				tmp->p[tmp->len++] = '\\';
			tmp->p[tmp->len++] = (char)v[i];
		}
		tmp->p[tmp->len++] = '"';
		if (more)
			tmp->p[tmp->len++] = ';';
		tmp->p[tmp->len] = '\0';
		if (param_line(f))
			return PO_ENOMEM;
		return fold_emit(f, PARAM_SEP, PARAM_SEPLEN, tmp->p, tmp->len);
	}
	st = put_rfc2231(f, tmp, p->name, v, n);
	if (st != PO_OK)
		return st;
	/* The RFC 2047 fallback, for readers without RFC 2231 (design
	 * §4.9): encoded words inside the quoted string. */
	tmp->len = 0;
	if (po__buf_puts(tmp, p->name) || po__buf_puts(tmp, "=\""))
		return PO_ENOMEM;
	if (param_line(f))
		return PO_ENOMEM;
	return put_ew_run(f, PARAM_SEP, PARAM_SEPLEN, tmp->p, tmp->len, v, n,
			  more ? "\";" : "\"", more ? 2 : 1, 0);
}

int po__hdr_params(po__buf *out, const char *name, const char *value,
		   const po__param *params, size_t nparams)
{
	size_t namelen = strlen(name), vlen = strlen(value);
	po__buf tmp = PO__BUF_INIT;
	struct fold f;
	int st;

	st = check_name(name, namelen);
	if (st != PO_OK)
		return st;
	for (size_t i = 0; i < vlen; i++)
		if ((unsigned char)value[i] <= ' ' ||
		    (unsigned char)value[i] >= 127 || value[i] == ';')
			return po__fail(PO_EHEADER,
					"%s header: the value must be ASCII "
					"without white space, controls or ';'",
					name);
	if (vlen == 0)
		return po__fail(PO_EHEADER, "%s header: empty value", name);
	for (size_t i = 0; i < nparams; i++) {
		const char *pn = params[i].name;
		size_t pl = strlen(pn);

		for (size_t j = 0; j < pl; j++)
			if (!is_attr_char((unsigned char)pn[j]))
				pl = 0;
		/* As long as a field name, at most: it has to fit on a
		 * line with a section of its value. */
		if (pl == 0 || pl > 76)
			return po__fail(PO_EHEADER,
					"%s header: parameter name \"%.40s\": "
					"1 to 76 RFC 2231 attribute "
					"characters are required",
					name, pn);
		st = check_text(name, "a parameter value", params[i].value,
				strlen(params[i].value));
		if (st != PO_OK)
			return st;
	}
	st = fold_start(&f, out, name, namelen);
	if (st == PO_OK)
		st = fold_emit(&f, " ", 1, value, vlen);
	if (st == PO_OK && nparams)
		st = fold_emit(&f, "", 0, ";", 1);
	for (size_t i = 0; i < nparams && st == PO_OK; i++)
		st = put_param(&f, &tmp, &params[i], i + 1 < nparams);
	po__buf_free(&tmp);
	return fold_end(&f, st);
}
