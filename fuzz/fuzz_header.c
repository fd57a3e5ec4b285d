/* fuzz_header.c - libFuzzer target for the header field writers
 * (c/header.h).
 *
 * The first input octet picks the writer; the rest is its input (for
 * address lists and parameters, NUL-separated strings).  Checks: the
 * status agrees with the input (CR/LF/NUL -> PO_EHEADER, bad UTF-8 ->
 * PO_EUTF8), a failure leaves the buffer as it was, and a field has CRLF
 * line ends only, lines of at most 998, continuation lines starting with
 * SP, no line of white space only.  Unstructured fields must also keep
 * to 78 and decode (RFC 2047) back to the value; raw ASCII lines must
 * unfold back to themselves.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "encode.h"
#include "header.h"
#include "postoffice.h"

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond))                                                \
			__builtin_trap();                                   \
	} while (0)

#define PREFIX "Prior: field\r\n"

static void check_lines(const char *p, size_t n, int soft)
{
	CHECK(!tc_header_lines(p, n, soft, NULL));
}

/* Unfold (RFC 5322 §2.2.3) into a malloc'd buffer. */
static char *unfold(const char *p, size_t n, size_t *len_out)
{
	char *u = tc_unfold(p, n, len_out);

	CHECK(u);
	return u;
}

/* RFC 2047 §6.2 decoding of an unstructured value; the white space
 * between two encoded words is dropped.  Each encoded word must keep to
 * our rules (codec.h). */
static char *decode_text(const char *v, size_t n, size_t *len_out)
{
	const char *err;
	char *d = tc_decode_text(v, n, len_out, &err);

	CHECK(d && !err);
	return d;
}

static int bad_octets(const uint8_t *p, size_t n)
{
	return memchr(p, '\r', n) || memchr(p, '\n', n) || memchr(p, 0, n);
}

static void fuzz_unstructured(po__buf *b, const uint8_t *v, size_t n)
{
	int st = po__hdr_unstructured(b, "Subject", (const char *)v, n);
	size_t ulen, dlen;
	char *u, *d;

	if (bad_octets(v, n)) {
		CHECK(st == PO_EHEADER);
		return;
	}
	if (!po__utf8_valid((const char *)v, n)) {
		CHECK(st == PO_EUTF8);
		return;
	}
	CHECK(st == PO_OK);
	check_lines(b->p + strlen(PREFIX), b->len - strlen(PREFIX), 1);
	CHECK(!strstr(b->p, "?==?"));
	u = unfold(b->p + strlen(PREFIX), b->len - strlen(PREFIX), &ulen);
	CHECK(ulen >= 8 && memcmp(u, "Subject:", 8) == 0);
	if (n == 0) {
		CHECK(ulen == 8);
	} else {
		CHECK(ulen > 9 && u[8] == ' ');
		d = decode_text(u + 9, ulen - 9, &dlen);
		CHECK(dlen == n && memcmp(d, v, n) == 0);
		free(d);
	}
	free(u);
}

/* A control character other than TAB, CR, LF and NUL. */
static int has_control(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] < ' ' && s[i] != '\t') ||
		    s[i] == 0x7f)
			return 1;
	return 0;
}

static void fuzz_raw(po__buf *b, const uint8_t *v, size_t n)
{
	int st = po__hdr_raw(b, (const char *)v, n);
	const uint8_t *colon = memchr(v, ':', n);
	const char *value;
	size_t nl, vl, ulen;
	char *u;

	if (bad_octets(v, n)) {
		CHECK(st == PO_EHEADER);
		return;
	}
	if (po__hdr_split((const char *)v, n, &nl, &value, &vl) != PO_OK) {
		CHECK(st == PO_EHEADER);
		CHECK(!colon || !po__hdr_name_valid((const char *)v,
						    (size_t)(colon - v)));
		return;
	}
	if (has_control(value, vl)) {
		CHECK(st == PO_EHEADER);
		return;
	}
	if (!po__utf8_valid(value, vl)) {
		CHECK(st == PO_EUTF8);
		return;
	}
	/* Only an ASCII value is written as given, so only it can hold a
	 * word too long for a line. */
	CHECK(st == PO_OK || (st == PO_ETOOLONG && po__is_ascii(value, vl)));
	if (st != PO_OK)
		return;
	check_lines(b->p + strlen(PREFIX), b->len - strlen(PREFIX), 0);
	if (!po__is_ascii(value, vl))
		return;
	/* ASCII: written as given. */
	u = unfold(b->p + strlen(PREFIX), b->len - strlen(PREFIX), &ulen);
	CHECK(ulen == nl + 1 + (vl ? 1 + vl : 0));
	CHECK(memcmp(u, v, nl) == 0 && u[nl] == ':');
	CHECK(vl == 0 || memcmp(u + nl + 2, value, vl) == 0);
	free(u);
}

/* Cut the input at NULs into at most max strings (the last may stay
 * unterminated: it is copied). */
static size_t split(const uint8_t *p, size_t n, char **out, size_t max)
{
	size_t k = 0, pos = 0;

	while (k < max && pos <= n) {
		const uint8_t *z = memchr(p + pos, 0, n - pos);
		size_t len = z ? (size_t)(z - (p + pos)) : n - pos;

		out[k] = malloc(len + 1);
		CHECK(out[k]);
		memcpy(out[k], p + pos, len);
		out[k][len] = '\0';
		k++;
		pos += len + 1;
	}
	return k;
}

static int bad_string(const char *s, int *utf8)
{
	size_t n = strlen(s);

	if (!po__utf8_valid(s, n))
		*utf8 = 1;
	return memchr(s, '\r', n) || memchr(s, '\n', n);
}

/* A spec may be refused for white space or controls (or being empty). */
static int odd_spec(const char *s)
{
	if (!*s)
		return 1;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return 1;
	return 0;
}

static void fuzz_addresses(po__buf *b, const uint8_t *v, size_t n)
{
	char *s[32];
	po__addr list[16];
	size_t k = split(v, n, s, 32), na = k / 2;
	int bad = 0, utf8 = 0, odd = 0, st;

	for (size_t i = 0; i < na; i++) {
		list[i].display = s[2 * i][0] ? s[2 * i] : NULL;
		list[i].spec = s[2 * i + 1];
		bad |= bad_string(s[2 * i], &utf8) ||
		       bad_string(s[2 * i + 1], &utf8);
		odd |= odd_spec(s[2 * i + 1]);
	}
	st = po__hdr_addresses(b, "To", list, na);
	if (na == 0)
		CHECK(st == PO_EINVAL);
	else if (bad || utf8)
		CHECK(st == PO_EHEADER || st == PO_EUTF8 || st == PO_EADDRESS);
	else if (st == PO_EADDRESS)
		CHECK(odd);
	else if (st != PO_ETOOLONG)
		CHECK(st == PO_OK);
	if (st == PO_OK)
		check_lines(b->p + strlen(PREFIX), b->len - strlen(PREFIX), 0);
	for (size_t i = 0; i < k; i++)
		free(s[i]);
}

static void fuzz_params(po__buf *b, const uint8_t *v, size_t n)
{
	char *s[17];
	po__param p[8];
	size_t k = split(v, n, s, 17), np = k ? (k - 1) / 2 : 0;
	int st;

	if (k == 0)
		return;
	for (size_t i = 0; i < np; i++) {
		p[i].name = s[1 + 2 * i];
		p[i].value = s[2 + 2 * i];
	}
	st = po__hdr_params(b, "Content-Type", s[0], p, np);
	CHECK(st == PO_OK || st == PO_EHEADER || st == PO_EUTF8 ||
	      st == PO_ETOOLONG);
	if (st == PO_OK)
		check_lines(b->p + strlen(PREFIX), b->len - strlen(PREFIX), 0);
	for (size_t i = 0; i < k; i++)
		free(s[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	po__buf b = PO__BUF_INIT;
	size_t before;

	if (size < 1)
		return 0;
	CHECK(po__buf_puts(&b, PREFIX) == 0);
	before = b.len;
	switch (data[0] % 4) {
	case 0:
		fuzz_unstructured(&b, data + 1, size - 1);
		break;
	case 1:
		fuzz_raw(&b, data + 1, size - 1);
		break;
	case 2:
		fuzz_addresses(&b, data + 1, size - 1);
		break;
	default:
		fuzz_params(&b, data + 1, size - 1);
		break;
	}
	/* Failure or success, what was there stays. */
	CHECK(b.len >= before && memcmp(b.p, PREFIX, before) == 0);
	if (b.len == before)
		CHECK(b.p[before] == '\0');
	po__buf_free(&b);
	return 0;
}
