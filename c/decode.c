/* decode.c - decoders for reading letters back: base64, quoted-printable,
 * charsets (iconv), RFC 2047 encoded words.  See decode.h.
 *
 * RFC 2045 §6.7, §6.8; RFC 2047 §2-§6; RFC 2231 §4; RFC 3629.
 */
#include "decode.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */
#define CHARSET_MAX 64

/* ---------------------------------------------------------------------
 * UTF-8 */

size_t po__utf8_seq(const unsigned char *p, size_t n, size_t *skip)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	*skip = 1;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	for (i = 1; i < len; i++) {
		if (i >= n || p[i] < lo || p[i] > hi) {
			*skip = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return len;
}

int po__utf8_repair(po__buf *out, const void *s, size_t n, int nul_ok,
		    size_t *bad)
{
	const unsigned char *p = s, *end = p + n, *run = p;

	if (po__buf_reserve(out, n))
		return -1;
	while (p < end) {
		size_t skip, len;

		if (*p >= 0x20 && *p < 0x80) {
			p++;
			continue;
		}
		if (*p == 0 && !nul_ok) {
			len = 0;
			skip = 1;
		} else {
			len = po__utf8_seq(p, (size_t)(end - p), &skip);
		}
		if (len) {
			p += len;
			continue;
		}
		if (po__buf_append(out, run, (size_t)(p - run)) ||
		    po__buf_append(out, REPLACEMENT, 3))
			return -1;
		if (bad)
			(*bad)++;
		p += skip;
		run = p;
	}
	return po__buf_append(out, run, (size_t)(p - run));
}

/* ---------------------------------------------------------------------
 * Transfer encodings */

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int po__b64_decode(po__buf *out, const void *s, size_t n, size_t *bad)
{
	const unsigned char *p = s;
	unsigned long bits = 0;
	unsigned count = 0;
	unsigned char o[3];
	size_t i;

	if (po__buf_reserve(out, n / 4 * 3 + 3))
		return -1;
	for (i = 0; i < n && p[i] != '='; i++) {
		int v = b64_value(p[i]);

		if (v < 0) {
			if (bad && !strchr(" \t\r\n", p[i]))
				(*bad)++;
			continue;
		}
		bits = (bits << 6) | (unsigned)v;
		if (++count == 4) {
			o[0] = (unsigned char)(bits >> 16);
			o[1] = (unsigned char)(bits >> 8);
			o[2] = (unsigned char)bits;
			if (po__buf_append(out, o, 3))
				return -1;
			count = 0;
			bits = 0;
		}
	}
	/* a final group of two or three characters */
	if (count == 2) {
		o[0] = (unsigned char)(bits >> 4);
		return po__buf_append(out, o, 1);
	}
	if (count == 3) {
		o[0] = (unsigned char)(bits >> 10);
		o[1] = (unsigned char)(bits >> 2);
		return po__buf_append(out, o, 2);
	}
	if (count == 1 && bad)
		(*bad)++;
	return 0;
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int po__qp_decode(po__buf *out, const void *s, size_t n)
{
	const unsigned char *p = s, *end = p + n;

	if (po__buf_reserve(out, n))
		return -1;
	while (p < end) {
		const unsigned char *lf = memchr(p, '\n', (size_t)(end - p));
		const unsigned char *stop = lf ? lf : end;
		int soft = 0, crlf = lf && lf > p && lf[-1] == '\r';

		/* the CR and the transport padding */
		while (stop > p &&
		       (stop[-1] == '\r' || stop[-1] == ' ' ||
			stop[-1] == '\t'))
			stop--;
		if (stop > p && stop[-1] == '=') {
			soft = 1;
			stop--;
		}
		while (p < stop) {
			int hi, lo;

			if (*p == '=' && stop - p >= 3 &&
			    (hi = hex_value(p[1])) >= 0 &&
			    (lo = hex_value(p[2])) >= 0) {
				if (po__buf_putc(out, (char)(hi * 16 + lo)))
					return -1;
				p += 3;
			} else {
				const unsigned char *q = p + 1;

				while (q < stop && *q != '=')
					q++;
				if (po__buf_append(out, p, (size_t)(q - p)))
					return -1;
				p = q;
			}
		}
		if (lf && !soft && po__buf_puts(out, crlf ? "\r\n" : "\n"))
			return -1;
		p = lf ? lf + 1 : end;
	}
	return 0;
}

/* ---------------------------------------------------------------------
 * Charsets */

int po__charset_norm(const char *charset, size_t n, char *out,
		     size_t outsize)
{
	const char *star = memchr(charset, '*', n);
	size_t i, k = 0;

	if (star)
		n = (size_t)(star - charset);
	while (n && strchr(" \t\"", charset[0])) {
		charset++;
		n--;
	}
	while (n && strchr(" \t\"", charset[n - 1]))
		n--;
	if (n == 0 || n >= outsize)
		return -1;
	for (i = 0; i < n; i++) {
		char c = charset[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		/* what charset names are made of (RFC 2978 mime-charset
		 * chars, without the ones iconv gives a meaning: '/') */
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      strchr("-_.:+()!#$%&'^`{}~", c)))
			return -1;
		out[k++] = c;
	}
	out[k] = '\0';
	return 0;
}

/* 1 if the normalised name is one we read as UTF-8. */
static int utf8_family(const char *name)
{
	static const char *const names[] = {
		"utf-8", "utf8", "us-ascii", "ascii", "ansi_x3.4-1968",
		"646", "us", "iso646-us", "csascii"};
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(name, names[i]) == 0)
			return 1;
	return 0;
}

int po__charset_known(const char *charset)
{
	char name[CHARSET_MAX];
	iconv_t cd;

	if (!charset)
		return 1;
	if (po__charset_norm(charset, strlen(charset), name, sizeof name))
		return 0;
	if (utf8_family(name))
		return 1;
	cd = iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1)
		return 0;
	iconv_close(cd);
	return 1;
}

/* Convert with iconv; invalid input octets become U+FFFD. */
static int iconv_decode(po__buf *out, iconv_t cd, const char *s, size_t n,
			int nul_ok, size_t *bad)
{
	char *in = (char *)s, *o;
	size_t inleft = n, outleft;
	po__buf tmp = PO__BUF_INIT;
	int result = -1;

	while (inleft) {
		if (po__buf_reserve(&tmp, inleft * 4 + 64))
			goto out;
		o = tmp.p + tmp.len;
		outleft = tmp.cap - tmp.len - 1;
		if (iconv(cd, &in, &inleft, &o, &outleft) != (size_t)-1) {
			tmp.len = (size_t)(o - tmp.p);
			break;
		}
		tmp.len = (size_t)(o - tmp.p);
		if (errno == E2BIG)
			continue;
		/* EILSEQ (an invalid octet) or EINVAL (a sequence cut off
		 * at the end): one replacement character, skip one octet */
		if (po__buf_append(&tmp, REPLACEMENT, 3))
			goto out;
		if (bad)
			(*bad)++;
		if (errno == EINVAL) {
			inleft = 0;
		} else {
			in++;
			inleft--;
		}
	}
	/* the end of a stateful encoding's shift sequence */
	for (;;) {
		if (po__buf_reserve(&tmp, 64))
			goto out;
		o = tmp.p + tmp.len;
		outleft = tmp.cap - tmp.len - 1;
		if (iconv(cd, NULL, NULL, &o, &outleft) == (size_t)-1 &&
		    errno == E2BIG) {
			tmp.len = (size_t)(o - tmp.p);
			continue;
		}
		tmp.len = (size_t)(o - tmp.p);
		break;
	}
	/* iconv's output is UTF-8; NULs are still to be handled */
	result = po__utf8_repair(out, tmp.p ? tmp.p : "", tmp.len, nul_ok,
				 bad);
out:
	po__buf_free(&tmp);
	return result;
}

int po__charset_decode(po__buf *out, const void *s, size_t n,
		       const char *charset, int nul_ok, int *unknown,
		       size_t *bad)
{
	char name[CHARSET_MAX];
	iconv_t cd;
	int r;

	if (!charset)
		return po__utf8_repair(out, s, n, nul_ok, bad);
	if (po__charset_norm(charset, strlen(charset), name, sizeof name)) {
		if (unknown)
			*unknown = 1;
		return po__utf8_repair(out, s, n, nul_ok, bad);
	}
	if (utf8_family(name))
		return po__utf8_repair(out, s, n, nul_ok, bad);
	cd = iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1) {
		if (unknown)
			*unknown = 1;
		return po__utf8_repair(out, s, n, nul_ok, bad);
	}
	r = iconv_decode(out, cd, s, n, nul_ok, bad);
	iconv_close(cd);
	return r;
}

/* ---------------------------------------------------------------------
 * RFC 2047 encoded words */

/* A piece of a header value: plain text, or the octets of an encoded
 * word and its charset. */
struct piece {
	int word;
	const char *text;   /* plain: into the value */
	size_t len;
	char charset[CHARSET_MAX]; /* word: normalised */
	size_t off, n;      /* word: its octets in the octet buffer */
};

static int is_lwsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* If an encoded word "=?charset?B|Q?text?=" in a known charset starts at
 * s[i], append its octets to octets, fill *pc and return the index after
 * it; otherwise return 0 (octets unchanged). */
static size_t encoded_word(const char *s, size_t n, size_t i,
			   po__buf *octets, struct piece *pc, int *oom)
{
	size_t q1, q2, end, k, start = octets->len;
	char enc;

	if (i + 1 >= n || s[i] != '=' || s[i + 1] != '?')
		return 0;
	for (q1 = i + 2; q1 < n && s[q1] != '?'; q1++)
		if (is_lwsp(s[q1]))
			return 0;
	if (q1 >= n || q1 == i + 2 || q1 + 2 >= n || s[q1 + 2] != '?')
		return 0;
	enc = s[q1 + 1];
	if (enc != 'B' && enc != 'b' && enc != 'Q' && enc != 'q')
		return 0;
	q2 = q1 + 2;
	for (end = q2 + 1; end + 1 < n; end++) {
		if (s[end] == '?' && s[end + 1] == '=')
			break;
		if (is_lwsp(s[end]))
			return 0;
	}
	if (end + 1 >= n)
		return 0;
	if (po__charset_norm(s + i + 2, q1 - i - 2, pc->charset,
			     sizeof pc->charset) ||
	    !po__charset_known(pc->charset))
		return 0;
	if (enc == 'B' || enc == 'b') {
		for (k = q2 + 1; k < end; k++)
			if (s[k] != '=' && b64_value((unsigned char)s[k]) < 0)
				return 0;
		if (po__b64_decode(octets, s + q2 + 1, end - q2 - 1, NULL)) {
			*oom = 1;
			return 0;
		}
	} else {
		for (k = q2 + 1; k < end; k++) {
			unsigned char c = (unsigned char)s[k];
			int hi, lo;

			if (c == '_') {
				c = ' ';
			} else if (c == '=') {
				if (k + 2 >= end ||
				    (hi = hex_value((unsigned char)s[k + 1])) <
					    0 ||
				    (lo = hex_value((unsigned char)s[k + 2])) <
					    0)
					goto bad;
				c = (unsigned char)(hi * 16 + lo);
				k += 2;
			} else if (c >= 0x80) {
				goto bad;
			}
			if (po__buf_putc(octets, (char)c)) {
				*oom = 1;
				return 0;
			}
		}
	}
	pc->word = 1;
	pc->off = start;
	pc->n = octets->len - start;
	return end + 2;
bad:
	octets->len = start;
	return 0;
}

static int push_piece(struct piece **v, size_t *n, size_t *cap,
		      const struct piece *pc)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 8;
		struct piece *nv = realloc(*v, c * sizeof *nv);

		if (!nv)
			return -1;
		*v = nv;
		*cap = c;
	}
	(*v)[(*n)++] = *pc;
	return 0;
}

/* 1 if the n octets are all linear white space. */
static int all_lwsp(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!is_lwsp(s[i]))
			return 0;
	return 1;
}

int po__decode_words(po__buf *out, const char *s, size_t n)
{
	struct piece *v = NULL, pc;
	size_t nv = 0, cap = 0, i = 0, plain = 0, k;
	po__buf octets = PO__BUF_INIT, pending = PO__BUF_INIT;
	const char *pending_charset = NULL;
	int oom = 0, result = -1;

	if (!memmem(s, n, "=?", 2))
		return po__buf_append(out, s, n);
	/* split into plain text and encoded words */
	while (i < n) {
		size_t next;

		memset(&pc, 0, sizeof pc);
		next = s[i] == '=' ? encoded_word(s, n, i, &octets, &pc, &oom)
				   : 0;
		if (oom)
			goto out;
		if (!next) {
			i++;
			continue;
		}
		if (i > plain) {
			struct piece t = {0};

			t.text = s + plain;
			t.len = i - plain;
			if (push_piece(&v, &nv, &cap, &t))
				goto out;
		}
		if (push_piece(&v, &nv, &cap, &pc))
			goto out;
		i = plain = next;
	}
	if (plain < n) {
		memset(&pc, 0, sizeof pc);
		pc.text = s + plain;
		pc.len = n - plain;
		if (push_piece(&v, &nv, &cap, &pc))
			goto out;
	}
	/* White space between two words goes; adjacent words of one
	 * charset are decoded together (pending holds their octets). */
	for (k = 0; k <= nv; k++) {
		struct piece *p = k < nv ? &v[k] : NULL;

		if (p && !p->word && k > 0 && v[k - 1].word && k + 1 < nv &&
		    v[k + 1].word && all_lwsp(p->text, p->len))
			continue;
		if (p && p->word && pending_charset &&
		    strcmp(pending_charset, p->charset) == 0) {
			if (p->n &&
			    po__buf_append(&pending, octets.p + p->off, p->n))
				goto out;
			continue;
		}
		if (pending_charset) {
			if (po__charset_decode(out, pending.p ? pending.p : "",
					       pending.len, pending_charset,
					       0, NULL, NULL))
				goto out;
			pending_charset = NULL;
			pending.len = 0;
		}
		if (!p)
			break;
		if (p->word) {
			pending_charset = p->charset;
			if (p->n &&
			    po__buf_append(&pending, octets.p + p->off, p->n))
				goto out;
		} else if (po__buf_append(out, p->text, p->len)) {
			goto out;
		}
	}
	result = 0;
out:
	free(v);
	po__buf_free(&octets);
	po__buf_free(&pending);
	return result;
}
