/* fuzz_encode.c - libFuzzer target for the body encoders and scanners
 * (c/encode.h).
 *
 * The first input octet picks the chunk sizes; the rest is the data.
 * Each encoder runs once in one piece and once in chunks; the outputs
 * must be equal, stay within the bounds, use CRLF line ends only, keep
 * their line limits and decode back to the data.  The scanners are
 * checked against simple reference implementations.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"

#define NELEM(a) (sizeof(a) / sizeof *(a))

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond))                                                \
			__builtin_trap();                                   \
	} while (0)

typedef enum { ENC_B64, ENC_QP_TEXT, ENC_QP_BIN, ENC_CRLF } enc_kind;

/* Encode in[0..n) in chunks of sizes drawn from seed (0: one piece). */
static char *encode(enc_kind k, const uint8_t *in, size_t n, unsigned seed,
		    size_t *len_out, po__crlf *crlf_out)
{
	size_t cap = 4 * n + 64, len = 0, pos = 0;
	char *out = malloc(cap);
	po__b64 b64;
	po__qp qp;
	po__crlf crlf;

	CHECK(out);
	po__b64_init(&b64);
	po__qp_init(&qp, k == ENC_QP_TEXT);
	po__crlf_init(&crlf);
	while (pos < n) {
		size_t c = n - pos, got = 0, bound = 0;

		if (seed) {
			seed = seed * 1103515245u + 12345u;
			c = 1 + (seed >> 16) % (seed & 1 ? 4 : 97);
			if (c > n - pos)
				c = n - pos;
		}
		switch (k) {
		case ENC_B64:
			bound = po__b64_bound(c);
			got = po__b64_update(&b64, in + pos, c, out + len);
			break;
		case ENC_QP_TEXT:
		case ENC_QP_BIN:
			bound = po__qp_bound(c);
			got = po__qp_update(&qp, in + pos, c, out + len);
			break;
		case ENC_CRLF:
			bound = po__crlf_bound(c);
			got = po__crlf_update(&crlf, in + pos, c, out + len);
			break;
		}
		CHECK(got <= bound && len + bound <= cap);
		len += got;
		pos += c;
	}
	switch (k) {
	case ENC_B64:
		len += po__b64_final(&b64, out + len);
		break;
	case ENC_QP_TEXT:
	case ENC_QP_BIN:
		len += po__qp_final(&qp, out + len);
		break;
	case ENC_CRLF:
		len += po__crlf_final(&crlf, out + len);
		break;
	}
	if (crlf_out)
		*crlf_out = crlf;
	*len_out = len;
	return out;
}

/* Only CRLF line ends; returns the longest line. */
static size_t check_crlf_lines(const char *p, size_t n)
{
	size_t col = 0, max = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r') {
			CHECK(i + 1 < n && p[i + 1] == '\n');
			i++;
			col = 0;
			continue;
		}
		CHECK(p[i] != '\n');
		if (++col > max)
			max = col;
	}
	return max;
}

static int b64_value(char c)
{
	const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			"0123456789+/";
	const char *p = c ? strchr(a, c) : NULL;

	return p ? (int)(p - a) : -1;
}

static void check_b64(const uint8_t *in, size_t n, const char *p,
		      size_t len)
{
	size_t o = 0, q = 0, col = 0;
	unsigned acc = 0, pad = 0;
	uint8_t *back = malloc(n + 3);

	CHECK(back);
	CHECK(n > 0 || len == 0);
	CHECK(len == 0 || (len >= 2 && p[len - 2] == '\r'));
	CHECK(check_crlf_lines(p, len) <= PO__B64_LINE);
	for (size_t i = 0; i < len; i++) {
		int v;

		if (p[i] == '\r') {
			/* Every line but the last is full. */
			CHECK(col == PO__B64_LINE || i == len - 2);
			col = 0;
			i++;
			continue;
		}
		col++;
		v = p[i] == '=' ? 0 : b64_value(p[i]);
		CHECK(v >= 0 && (p[i] == '=' || pad == 0));
		pad += p[i] == '=';
		acc = acc << 6 | (unsigned)v;
		if (++q == 4) {
			uint8_t g[3] = {(uint8_t)(acc >> 16),
					(uint8_t)(acc >> 8), (uint8_t)acc};

			CHECK(pad <= 2 && o + 3 - pad <= n);
			memcpy(back + o, g, 3 - pad);
			o += 3 - pad;
			q = acc = 0;
		}
	}
	CHECK(q == 0 && o == n && memcmp(back, in, n) == 0);
	free(back);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode QP, checking rule 3 (no blank before a line end), rule 5 (76)
 * and the line-start rules on the way. */
static void check_qp(const uint8_t *in, size_t n, const char *p, size_t len,
		     int text)
{
	uint8_t *back = malloc(2 * n + 2), *want = malloc(2 * n + 2);
	size_t o = 0, w = 0, i = 0;

	CHECK(back && want);
	CHECK(check_crlf_lines(p, len) <= PO__QP_LINE);
	while (i < len) {
		const char *eol = memchr(p + i, '\r', len - i);
		size_t end = eol ? (size_t)(eol - p) : len;
		int soft = end > i && p[end - 1] == '=';

		CHECK(end == i || p[i] != '.');
		CHECK(end - i < 5 || memcmp(p + i, "From ", 5) != 0);
		CHECK(soft || end == i ||
		      (p[end - 1] != ' ' && p[end - 1] != '\t'));
		for (size_t j = i; j < end - (size_t)soft; j++) {
			if (p[j] == '=') {
				CHECK(j + 2 < end - (size_t)soft);
				CHECK(hexval(p[j + 1]) >= 0 &&
				      hexval(p[j + 2]) >= 0);
				back[o++] = (uint8_t)(hexval(p[j + 1]) << 4 |
						      hexval(p[j + 2]));
				j += 2;
			} else {
				CHECK(p[j] == ' ' || p[j] == '\t' ||
				      (p[j] >= 33 && p[j] <= 126));
				back[o++] = (uint8_t)p[j];
			}
		}
		if (!eol)
			break;
		if (!soft) {
			CHECK(text);
			back[o++] = '\r';
			back[o++] = '\n';
		}
		i = end + 2;
	}
	for (size_t j = 0; j < n; j++) {
		int crlf = in[j] == '\r' && j + 1 < n && in[j + 1] == '\n';

		if (text && (in[j] == '\n' || crlf)) {
			j += (size_t)crlf;
			want[w++] = '\r';
			want[w++] = '\n';
		} else {
			want[w++] = in[j];
		}
	}
	CHECK(o == w && memcmp(back, want, w) == 0);
	free(back);
	free(want);
}

static void check_crlf(const uint8_t *in, size_t n, const char *p,
		       size_t len, const po__crlf *st)
{
	po__scan sc;
	size_t o = 0;

	check_crlf_lines(p, len);
	/* The canonical form, built the simple way. */
	for (size_t j = 0; j < n; j++) {
		if (in[j] == '\r' || in[j] == '\n') {
			CHECK(o + 2 <= len && memcmp(p + o, "\r\n", 2) == 0);
			o += 2;
			j += in[j] == '\r' && j + 1 < n && in[j + 1] == '\n';
		} else {
			CHECK(o < len && (uint8_t)p[o] == in[j]);
			o++;
		}
	}
	CHECK(o == len);
	/* The scanner counts lines the same way. */
	po__scan_bytes(in, n, &sc);
	CHECK(sc.maxline == st->maxline);
	CHECK(sc.lone_dot == st->lone_dot);
}

/* RFC 3629, one code point at a time. */
static int utf8_reference(const uint8_t *s, size_t n)
{
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enc_kind kinds[] = {ENC_B64, ENC_QP_TEXT, ENC_QP_BIN,
					 ENC_CRLF};
	unsigned seed;
	int ascii = 1;

	if (size < 1)
		return 0;
	seed = data[0] | 1u;
	data++;
	size--;
	for (size_t k = 0; k < NELEM(kinds); k++) {
		size_t len1, len2;
		po__crlf st1, st2;
		char *one = encode(kinds[k], data, size, 0, &len1, &st1);
		char *many = encode(kinds[k], data, size, seed, &len2, &st2);

		CHECK(len1 == len2 && memcmp(one, many, len1) == 0);
		switch (kinds[k]) {
		case ENC_B64:
			check_b64(data, size, one, len1);
			break;
		case ENC_QP_TEXT:
		case ENC_QP_BIN:
			check_qp(data, size, one, len1,
				 kinds[k] == ENC_QP_TEXT);
			break;
		case ENC_CRLF:
			CHECK(st1.maxline == st2.maxline &&
			      st1.lone_dot == st2.lone_dot);
			check_crlf(data, size, one, len1, &st1);
			break;
		}
		free(one);
		free(many);
	}
	{
		char *plain = malloc(4 * (size / 3 + 1));
		size_t len = po__b64_plain(data, size, plain);

		CHECK(plain && len == (size + 2) / 3 * 4);
		free(plain);
	}
	for (size_t i = 0; i < size; i++)
		ascii &= data[i] < 0x80;
	CHECK(po__is_ascii((const char *)data, size) == ascii);
	CHECK(po__utf8_valid((const char *)data, size) ==
	      utf8_reference(data, size));
	return 0;
}
