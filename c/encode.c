/* encode.c - body transfer encoders and byte scanners (see encode.h).
 *
 * RFC 2045 §6.7 (quoted-printable), §6.8 (base64); RFC 4648 §4 (base64
 * alphabet); RFC 3629 §4 (UTF-8 syntax); RFC 5321 §2.3.8 and §4.5.3.1.6
 * (CRLF, 998-octet lines).
 */
#include "encode.h"
#include "decode.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ======================================================================
 * base64
 */

/* RFC 4648 §4, table 1. */
static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The two output characters for every 12-bit value: a 3-byte group then
 * costs two table loads instead of four shifts and masks per character.
 * Built by the preprocessor so that it is constant data (no init race). */
#define B64_ROW(a)                                                          \
	a "A" a "B" a "C" a "D" a "E" a "F" a "G" a "H" a "I" a "J" a "K"   \
	a "L" a "M" a "N" a "O" a "P" a "Q" a "R" a "S" a "T" a "U" a "V"   \
	a "W" a "X" a "Y" a "Z" a "a" a "b" a "c" a "d" a "e" a "f" a "g"   \
	a "h" a "i" a "j" a "k" a "l" a "m" a "n" a "o" a "p" a "q" a "r"   \
	a "s" a "t" a "u" a "v" a "w" a "x" a "y" a "z" a "0" a "1" a "2"   \
	a "3" a "4" a "5" a "6" a "7" a "8" a "9" a "+" a "/"
static const char b64_pairs[4096 * 2 + 1] =
	B64_ROW("A") B64_ROW("B") B64_ROW("C") B64_ROW("D") B64_ROW("E")
	B64_ROW("F") B64_ROW("G") B64_ROW("H") B64_ROW("I") B64_ROW("J")
	B64_ROW("K") B64_ROW("L") B64_ROW("M") B64_ROW("N") B64_ROW("O")
	B64_ROW("P") B64_ROW("Q") B64_ROW("R") B64_ROW("S") B64_ROW("T")
	B64_ROW("U") B64_ROW("V") B64_ROW("W") B64_ROW("X") B64_ROW("Y")
	B64_ROW("Z") B64_ROW("a") B64_ROW("b") B64_ROW("c") B64_ROW("d")
	B64_ROW("e") B64_ROW("f") B64_ROW("g") B64_ROW("h") B64_ROW("i")
	B64_ROW("j") B64_ROW("k") B64_ROW("l") B64_ROW("m") B64_ROW("n")
	B64_ROW("o") B64_ROW("p") B64_ROW("q") B64_ROW("r") B64_ROW("s")
	B64_ROW("t") B64_ROW("u") B64_ROW("v") B64_ROW("w") B64_ROW("x")
	B64_ROW("y") B64_ROW("z") B64_ROW("0") B64_ROW("1") B64_ROW("2")
	B64_ROW("3") B64_ROW("4") B64_ROW("5") B64_ROW("6") B64_ROW("7")
	B64_ROW("8") B64_ROW("9") B64_ROW("+") B64_ROW("/");
#undef B64_ROW

/* Input octets per output line: 72 characters are 18 groups of 3. */
#define B64_LINE_IN (PO__B64_LINE / 4 * 3)

static inline char *b64_group(char *o, const unsigned char *p)
{
	uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];

	memcpy(o, b64_pairs + 2 * (v >> 12), 2);
	memcpy(o + 2, b64_pairs + 2 * (v & 0xfff), 2);
	return o + 4;
}

/* Two groups (6 octets, 8 characters) per step.  b64_group2_wide reads
 * 8 octets, two past the groups, because one unaligned 8-octet load
 * beats six single ones; the caller makes sure they exist. */
static inline char *b64_pairs4(char *o, uint64_t v)
{
	memcpy(o, b64_pairs + 2 * (v >> 36), 2);
	memcpy(o + 2, b64_pairs + 2 * (v >> 24 & 0xfff), 2);
	memcpy(o + 4, b64_pairs + 2 * (v >> 12 & 0xfff), 2);
	memcpy(o + 6, b64_pairs + 2 * (v & 0xfff), 2);
	return o + 8;
}

static inline char *b64_group2(char *o, const unsigned char *p)
{
	return b64_pairs4(o, (uint64_t)p[0] << 40 | (uint64_t)p[1] << 32 |
				     (uint64_t)p[2] << 24 |
				     (uint64_t)p[3] << 16 |
				     (uint64_t)p[4] << 8 | p[5]);
}

static inline char *b64_group2_wide(char *o, const unsigned char *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t v;

	memcpy(&v, p, 8);
	return b64_pairs4(o, __builtin_bswap64(v) >> 16);
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	uint64_t v;

	memcpy(&v, p, 8);
	return b64_pairs4(o, v >> 16);
#else
	return b64_group2(o, p);
#endif
}

/* The last 1 or 2 octets, '='-padded (RFC 4648 §4). */
static char *b64_tail(char *o, const unsigned char *p, size_t n)
{
	uint32_t v = (uint32_t)p[0] << 16 | (n > 1 ? (uint32_t)p[1] << 8 : 0);

	o[0] = b64_alphabet[v >> 18];
	o[1] = b64_alphabet[v >> 12 & 63];
	o[2] = n > 1 ? b64_alphabet[v >> 6 & 63] : '=';
	o[3] = '=';
	return o + 4;
}

void po__b64_init(po__b64 *st)
{
	st->ncarry = 0;
	st->col = 0;
}

size_t po__b64_bound(size_t n)
{
	/* The carry adds at most 2 octets, hence the + 2; every 72
	 * characters add a CRLF, and one more may close the line the state
	 * had already started. */
	size_t chars = (n + 2) / 3 * 4;

	return chars + 2 * (chars / PO__B64_LINE + 1);
}

/* Emit one group and end the line when it is full. */
static char *b64_put(po__b64 *st, char *o, const unsigned char *p)
{
	o = b64_group(o, p);
	st->col += 4;
	if (st->col == PO__B64_LINE) {
		*o++ = '\r';
		*o++ = '\n';
		st->col = 0;
	}
	return o;
}

size_t po__b64_update(po__b64 *st, const unsigned char *in, size_t n,
		      char *out)
{
	char *o = out;

	if (st->ncarry) {
		unsigned char g[3];
		size_t take = 3 - st->ncarry;

		if (n < take) {
			memcpy(st->carry + st->ncarry, in, n);
			st->ncarry += (unsigned)n;
			return 0;
		}
		memcpy(g, st->carry, st->ncarry);
		memcpy(g + st->ncarry, in, take);
		o = b64_put(st, o, g);
		in += take;
		n -= take;
		st->ncarry = 0;
	}
	while (st->col && n >= 3) {
		o = b64_put(st, o, in);
		in += 3;
		n -= 3;
	}
	/* Whole lines: 9 double groups, then CRLF.  The wide loads need 2
	 * octets beyond the line. */
	while (n >= B64_LINE_IN + 2) {
		for (int i = 0; i < B64_LINE_IN; i += 6)
			o = b64_group2_wide(o, in + i);
		*o++ = '\r';
		*o++ = '\n';
		in += B64_LINE_IN;
		n -= B64_LINE_IN;
	}
	if (n >= B64_LINE_IN) {
		for (int i = 0; i < B64_LINE_IN; i += 6)
			o = b64_group2(o, in + i);
		*o++ = '\r';
		*o++ = '\n';
		in += B64_LINE_IN;
		n -= B64_LINE_IN;
	}
	while (n >= 3) {
		o = b64_put(st, o, in);
		in += 3;
		n -= 3;
	}
	memcpy(st->carry, in, n);
	st->ncarry = (unsigned)n;
	return (size_t)(o - out);
}

size_t po__b64_final(po__b64 *st, char *out)
{
	char *o = out;

	if (st->ncarry) {
		o = b64_tail(o, st->carry, st->ncarry);
		st->col += 4;
		st->ncarry = 0;
	}
	if (st->col) {
		*o++ = '\r';
		*o++ = '\n';
		st->col = 0;
	}
	return (size_t)(o - out);
}

size_t po__b64_plain(const unsigned char *in, size_t n, char *out)
{
	char *o = out;

	for (; n >= 8; in += 6, n -= 6)
		o = b64_group2_wide(o, in);
	for (; n >= 6; in += 6, n -= 6)
		o = b64_group2(o, in);
	if (n >= 3) {
		o = b64_group(o, in);
		in += 3;
		n -= 3;
	}
	if (n)
		o = b64_tail(o, in, n);
	return (size_t)(o - out);
}

/* ======================================================================
 * quoted-printable
 */

static const char hex_upper[] = "0123456789ABCDEF";

/* Octet classes, for octets that are not part of a hard line break. */
enum {
	QP_LIT, /* written as itself: RFC 2045 §6.7 rule 2 */
	QP_HEX, /* written =XX: rule 1 */
	QP_WSP  /* SP, HTAB: literal unless last on a line (rule 3) */
};

/* Literal: 33..60 and 62..126 (rule 2); '=' (61) is always =3D. */
#define QP_IS_LIT(c) ((c) >= 33 && (c) <= 126 && (c) != '=')

static unsigned char qp_class(unsigned char c)
{
	if (QP_IS_LIT(c))
		return QP_LIT;
	return c == ' ' || c == '\t' ? QP_WSP : QP_HEX;
}

/* Every octet's encoding in the middle of a line, where a blank is
 * followed by more text: its characters, and their count in the fourth
 * byte (0 for CR and LF, which depend on the mode).  Constant data, so
 * the fast path needs no branch per class. */
#define QP_HEXD(d) ((d) < 10 ? '0' + (d) : 'A' + (d) - 10)
#define QP_KEEP(c) (QP_IS_LIT(c) || (c) == ' ' || (c) == '\t')
#define QP_E(c)                                                             \
	{QP_KEEP(c) ? (c) : '=',                                            \
	 QP_KEEP(c) ? 0 : QP_HEXD((c) >> 4),                                \
	 QP_KEEP(c) ? 0 : QP_HEXD((c) & 15),                                \
	 (c) == '\r' || (c) == '\n' ? 0 : QP_KEEP(c) ? 1 : 3},
#define QP_E4(c) QP_E(c) QP_E((c) + 1) QP_E((c) + 2) QP_E((c) + 3)
#define QP_E16(c) QP_E4(c) QP_E4((c) + 4) QP_E4((c) + 8) QP_E4((c) + 12)
#define QP_E64(c) QP_E16(c) QP_E16((c) + 16) QP_E16((c) + 32) QP_E16((c) + 48)
static const unsigned char qp_tab[256][4] = {
	QP_E64(0) QP_E64(64) QP_E64(128) QP_E64(192)
};
#undef QP_E64
#undef QP_E16
#undef QP_E4
#undef QP_E
#undef QP_KEEP
#undef QP_HEXD

/* Content of a soft-broken line: 75 characters, as the "=" makes 76
 * (rule 5).  Hard-broken lines keep the same limit: knowing whether a
 * line break follows would take one more octet of lookahead. */
#define QP_TEXT_MAX (PO__QP_LINE - 1)

static const char qp_from[] = "From ";

void po__qp_init(po__qp *st, int textmode)
{
	st->textmode = textmode != 0;
	st->col = 0;
	st->pending_cr = 0;
	st->held = 0;
	st->nline = 0;
	st->dashes = 0;
}

size_t po__qp_bound(size_t n)
{
	/* At most 3 characters per octet plus what the state holds (a
	 * "From" prefix, a held blank, a pending CR); a soft break (3
	 * characters) follows at least 73 characters of text. */
	size_t t = 3 * n + 10;

	/* + 3: the fast path stores 4 bytes for a 1- or 3-byte token. */
	return t + 3 * (t / (QP_TEXT_MAX - 2) + 1) + 3;
}

static char *qp_soft_break(po__qp *st, char *o)
{
	*o++ = '=';
	*o++ = '\r';
	*o++ = '\n';
	st->col = 0;
	return o;
}

static char *qp_hex(char *o, unsigned char c)
{
	*o++ = '=';
	*o++ = hex_upper[c >> 4];
	*o++ = hex_upper[c & 15];
	return o;
}

/* Write one token: the literal octet c (len 1) or its =XX form (len 3),
 * breaking the line first when it would not fit.  At the start of an
 * output line a '.' becomes =2E and an 'F' is held back to see whether
 * "From " follows. */
static char *qp_token(po__qp *st, char *o, unsigned char c, unsigned len)
{
	if (st->col + len > QP_TEXT_MAX)
		o = qp_soft_break(st, o);
	if (len == 1 && st->col == 0) {
		if (c == '.') {
			st->col = 3;
			return qp_hex(o, c);
		}
		if (c == 'F' || (c == '-' && st->dashes)) {
			st->line[0] = c;
			st->nline = 1;
			return o;
		}
	}
	st->col += len;
	if (len == 1) {
		*o++ = (char)c;
		return o;
	}
	return qp_hex(o, c);
}

/* The held "From" prefix turned out not to be "From ": write it as is.
 * It started the line, so it fits. */
static char *qp_flush_line(po__qp *st, char *o)
{
	memcpy(o, st->line, st->nline);
	o += st->nline;
	st->col += st->nline;
	st->nline = 0;
	return o;
}

/* A held blank at the end of a line or of the data: =20 or =09. */
static char *qp_flush_held_end(po__qp *st, char *o)
{
	unsigned char c = st->held;

	st->held = 0;
	return qp_token(st, o, c, 3);
}

static char *qp_hard_break(po__qp *st, char *o)
{
	if (st->nline)
		o = qp_flush_line(st, o);
	if (st->held)
		o = qp_flush_held_end(st, o);
	*o++ = '\r';
	*o++ = '\n';
	st->col = 0;
	return o;
}

/* One data octet that is not part of a hard line break. */
static char *qp_octet(po__qp *st, char *o, unsigned char c)
{
	unsigned char cls = qp_class(c);

	if (st->nline && st->line[0] == '-') {
		/* a held leading '-': a second one makes "--", which could
		 * start a boundary delimiter */
		st->nline = 0;
		if (c == '-') {
			o = qp_hex(o, '-');
			st->col = 3;
		} else {
			*o++ = '-';
			st->col = 1;
		}
	}
	if (st->nline) {
		if (c == (unsigned char)qp_from[st->nline]) {
			st->line[st->nline++] = c;
			if (st->nline < sizeof qp_from - 1)
				return o;
			/* mbox readers take a line starting "From " for
			 * the start of a new message. */
			memcpy(o, "=46rom", 6);
			o += 6;
			st->col = 6;
			st->nline = 0;
			st->held = c;
			return o;
		}
		o = qp_flush_line(st, o);
	}
	if (st->held) {
		/* Followed by an octet on the same line: literal. */
		o = qp_token(st, o, st->held, 1);
		st->held = 0;
	}
	if (cls == QP_WSP) {
		st->held = c;
		return o;
	}
	return qp_token(st, o, c, cls == QP_LIT ? 1 : 3);
}

/* The common cases, while nothing is held: literal octets, =XX octets,
 * a blank followed by more text on the same line, a text-mode LF.
 * Returns at the first octet that needs the careful path: the last
 * octet of the chunk, one at a line start or at the line's end, a CR, a
 * blank before a line break.  The tests are arranged so that the
 * branches are rarely taken whatever the data. */
static const unsigned char *qp_fast(po__qp *st, const unsigned char *in,
				    const unsigned char *end, char **op)
{
	char *o = *op;
	unsigned col = st->col;
	int text = st->textmode;

	while (end - in > 1) {
		unsigned char c = in[0];
		unsigned len = qp_tab[c][3];

		if (len == 0) {
			if (!text) {
				len = 3;
			} else if (c == '\n') {
				*o++ = '\r';
				*o++ = '\n';
				col = 0;
				in++;
				continue;
			} else {
				break;
			}
		}
		if (col + len > QP_TEXT_MAX)
			break;
		if (col == 0 && (c == '.' || c == 'F' || c == '-'))
			break;
		/* Tested in this order, the branches are almost never
		 * taken on text. */
		if ((in[1] == '\n' || in[1] == '\r') && text &&
		    (c == ' ' || c == '\t'))
			break;
		memcpy(o, qp_tab[c], 4);
		o += len;
		col += len;
		in++;
	}
	st->col = col;
	*op = o;
	return in;
}

size_t po__qp_update(po__qp *st, const unsigned char *in, size_t n,
		     char *out)
{
	char *o = out;
	const unsigned char *end = in + n;

	while (in < end) {
		unsigned char c;

		if (!st->nline && !st->held && !st->pending_cr) {
			in = qp_fast(st, in, end, &o);
			if (in == end)
				break;
		}
		c = *in++;
		if (st->textmode) {
			if (st->pending_cr) {
				st->pending_cr = 0;
				if (c == '\n') {
					o = qp_hard_break(st, o);
					continue;
				}
				o = qp_octet(st, o, '\r');
			}
			if (c == '\r') {
				st->pending_cr = 1;
				continue;
			}
			if (c == '\n') {
				o = qp_hard_break(st, o);
				continue;
			}
		}
		o = qp_octet(st, o, c);
	}
	return (size_t)(o - out);
}

size_t po__qp_final(po__qp *st, char *out)
{
	char *o = out;

	if (st->pending_cr) {
		st->pending_cr = 0;
		o = qp_octet(st, o, '\r');
	}
	if (st->nline)
		o = qp_flush_line(st, o);
	if (st->held)
		o = qp_flush_held_end(st, o);
	return (size_t)(o - out);
}

/* ======================================================================
 * CRLF canonicaliser
 */

void po__crlf_init(po__crlf *st)
{
	memset(st, 0, sizeof *st);
}

size_t po__crlf_bound(size_t n)
{
	/* Each octet may become CRLF; a CR held from the previous update
	 * adds one more CRLF. */
	return 2 * n + 2;
}

/* Line ends are found with memchr, which the C library vectorises.  The
 * next CR and the next LF are remembered, so that text without CRs costs
 * one search for them in all. */
typedef struct eol_finder {
	const unsigned char *end;
	const unsigned char *cr; /* next CR at or after the last search */
	const unsigned char *lf; /* next LF, likewise; end if none */
} eol_finder;

static const unsigned char *find_byte(const unsigned char *p,
				      const unsigned char *end, int c)
{
	const unsigned char *q = memchr(p, c, (size_t)(end - p));

	return q ? q : end;
}

static void eol_init(eol_finder *f, const unsigned char *p,
		     const unsigned char *end)
{
	f->end = end;
	f->cr = find_byte(p, end, '\r');
	f->lf = find_byte(p, end, '\n');
}

/* The first CR or LF at or after p, or end. */
static const unsigned char *eol_next(eol_finder *f, const unsigned char *p)
{
	if (f->cr < p)
		f->cr = find_byte(p, f->end, '\r');
	if (f->lf < p)
		f->lf = find_byte(p, f->end, '\n');
	return f->cr < f->lf ? f->cr : f->lf;
}

static char *crlf_line_end(po__crlf *st, char *o)
{
	*o++ = '\r';
	*o++ = '\n';
	if (st->col > st->maxline)
		st->maxline = st->col;
	if (st->line_is_dot)
		st->lone_dot = 1;
	st->col = 0;
	st->line_is_dot = 0;
	return o;
}

size_t po__crlf_update(po__crlf *st, const unsigned char *in, size_t n,
		       char *out)
{
	char *o = out;
	const unsigned char *end = in + n;
	eol_finder f;

	if (st->pending_cr && in < end) {
		st->pending_cr = 0;
		o = crlf_line_end(st, o);
		if (*in == '\n')
			in++;
	}
	eol_init(&f, in, end);
	while (in < end) {
		const unsigned char *p = eol_next(&f, in);
		size_t len = (size_t)(p - in);

		if (len) {
			memcpy(o, in, len);
			o += len;
			st->line_is_dot = st->col == 0 && len == 1 &&
					  *in == '.';
			st->col += len;
		}
		if (p == end)
			break;
		if (*p == '\r') {
			if (p + 1 == end) {
				/* Is it CRLF?  The next chunk tells. */
				st->pending_cr = 1;
				break;
			}
			if (p[1] == '\n')
				p++;
		}
		o = crlf_line_end(st, o);
		in = p + 1;
	}
	if (st->col > st->maxline)
		st->maxline = st->col;
	return (size_t)(o - out);
}

size_t po__crlf_final(po__crlf *st, char *out)
{
	char *o = out;

	if (st->pending_cr) {
		st->pending_cr = 0;
		o = crlf_line_end(st, o);
	}
	/* The renderer follows the body with CRLF, which completes an
	 * unterminated last line. */
	if (st->line_is_dot)
		st->lone_dot = 1;
	if (st->col > st->maxline)
		st->maxline = st->col;
	return (size_t)(o - out);
}

/* ======================================================================
 * Scanning
 */

void po__scan_bytes(const unsigned char *p, size_t n, po__scan *out)
{
	const unsigned char *end = p + n;
	eol_finder f;

	memset(out, 0, sizeof *out);
	out->ends_newline = n == 0 || p[n - 1] == '\n';
	out->nonascii = !po__is_ascii((const char *)p, n);
	out->nul = n && memchr(p, 0, n) != NULL;
	eol_init(&f, p, end);
	/* Lines end at CRLF, LF or a bare CR (which canonicalisation turns
	 * into CRLF); an unterminated last line still becomes a line on the
	 * wire. */
	while (p < end) {
		const unsigned char *q = eol_next(&f, p);
		size_t len = (size_t)(q - p);

		if (len > out->maxline)
			out->maxline = len;
		if (len == 1 && *p == '.')
			out->lone_dot = 1;
		if (q == end)
			break;
		if (*q == '\r') {
			if (q + 1 < end && q[1] == '\n')
				q++;
			else
				out->bare_cr = 1;
		}
		p = q + 1;
	}
}

int po__text_canonical(unsigned char **data, size_t *len)
{
	const unsigned char *in = *data;
	unsigned char *out, *o;
	size_t i, n = *len, bare = 0;

	for (i = 0; i < n; i++)
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			bare++;
	if (bare == 0)
		return 0;
	out = malloc(n + bare + 1);
	if (!out)
		return -1;
	for (i = 0, o = out; i < n; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			*o++ = '\r';
		*o++ = in[i];
	}
	free(*data);
	*data = out;
	*len = n + bare;
	return 0;
}

int po__charset_wide(const char *charset)
{
	static const char *const wide[] = {"utf-16", "utf16", "utf-32",
					   "utf32", "ucs-2", "ucs2", "ucs-4",
					   "ucs4", "iso-10646-ucs"};
	size_t i;

	if (!charset)
		return 0;
	for (i = 0; i < sizeof wide / sizeof wide[0]; i++)
		if (strncasecmp(charset, wide[i], strlen(wide[i])) == 0)
			return 1;
	return 0;
}

int po__is_ascii(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	uint64_t acc = 0;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		acc |= w;
	}
	for (; i < n; i++)
		acc |= p[i];
	return (acc & UINT64_C(0x8080808080808080)) == 0;
}

/* RFC 3629 §4:
 *   UTF8-2 = %xC2-DF UTF8-tail
 *   UTF8-3 = %xE0 %xA0-BF UTF8-tail / %xE1-EC 2( UTF8-tail ) /
 *            %xED %x80-9F UTF8-tail / %xEE-EF 2( UTF8-tail )
 *   UTF8-4 = %xF0 %x90-BF 2( UTF8-tail ) / %xF1-F3 3( UTF8-tail ) /
 *            %xF4 %x80-8F 2( UTF8-tail )
 * The second octet's range is what excludes overlongs (C0, C1, E0 80-9F,
 * F0 80-8F), surrogates (ED A0-BF) and code points above U+10FFFF (F4
 * 90-BF, F5-FF). */
int po__utf8_valid(const char *s, size_t n)
{
	return po__utf8_valid_prefix(s, n) == n;
}

size_t po__utf8_valid_prefix(const char *s, size_t n)
{
	const unsigned char *start = (const unsigned char *)s;
	const unsigned char *p = start;
	const unsigned char *end = p + n;

	while (p < end) {
		size_t len, skip;

		if (*p < 0x80) {
			/* Skip ASCII eight octets at a time. */
			while (end - p >= 8) {
				uint64_t w;

				memcpy(&w, p, 8);
				if (w & UINT64_C(0x8080808080808080))
					break;
				p += 8;
			}
			while (p < end && *p < 0x80)
				p++;
			continue;
		}
		len = po__utf8_seq(p, (size_t)(end - p), &skip);
		if (!len)
			return (size_t)(p - start);
		p += len;
	}
	return n;
}

/* The length of the sequence a lead octet starts (1 for one that is not
 * a lead octet: the check finds it bad). */
static unsigned utf8_seq_len(unsigned char c)
{
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 1;
}

static size_t count_lf(const unsigned char *p, size_t n)
{
	const unsigned char *end = p + n, *q;
	size_t k = 0;

	while ((q = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		k++;
		p = q + 1;
	}
	return k;
}

void po__utf8s_init(po__utf8s *st)
{
	st->npend = 0;
	st->line = 1;
}

int po__utf8s_update(po__utf8s *st, const unsigned char *p, size_t n)
{
	size_t tail = 0, ok, i;

	if (st->npend) {
		unsigned need = utf8_seq_len(st->pend[0]) - st->npend;
		size_t take = need < n ? need : n;

		memcpy(st->pend + st->npend, p, take);
		st->npend += (unsigned)take;
		p += take;
		n -= take;
		if (st->npend < utf8_seq_len(st->pend[0]))
			return 1;
		if (!po__utf8_valid((const char *)st->pend, st->npend))
			return 0;
		st->npend = 0;
	}
	/* A sequence that the chunk's end cuts short waits for the next. */
	for (i = 1; i <= 3 && i <= n; i++) {
		unsigned char c = p[n - i];

		if (c >= 0xc0) {
			if (utf8_seq_len(c) > i)
				tail = i;
			break;
		}
		if (c < 0x80)
			break;
	}
	ok = po__utf8_valid_prefix((const char *)p, n - tail);
	if (ok < n - tail) {
		st->line += count_lf(p, ok);
		return 0;
	}
	st->line += count_lf(p, n - tail);
	memcpy(st->pend, p + n - tail, tail);
	st->npend = (unsigned)tail;
	return 1;
}

int po__utf8s_final(po__utf8s *st)
{
	return st->npend == 0;
}
