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

#include "codec.h"
#include "encode.h"

#define NELEM(a) (sizeof(a) / sizeof *(a))

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond))                                                \
			__builtin_trap();                                   \
	} while (0)

/* Chunk sizes drawn from a seed (0: one piece). */
static size_t next_chunk(void *ctx)
{
	unsigned *seed = ctx;

	if (!*seed)
		return 0;
	*seed = *seed * 1103515245u + 12345u;
	return 1 + (*seed >> 16) % (*seed & 1 ? 4 : 97);
}

static char *encode(tc_enc k, const uint8_t *in, size_t n, unsigned seed,
		    size_t *len_out, po__crlf *crlf_out)
{
	const char *err;
	char *out = tc_encode(k, in, n, next_chunk, &seed, len_out, crlf_out,
			      &err);

	CHECK(out);
	return out;
}

/* Only CRLF line ends; returns the longest line. */
static size_t check_crlf_lines(const char *p, size_t n)
{
	size_t longest = 0;

	CHECK(!tc_crlf_lines(p, n, &longest));
	return longest;
}

static void check_b64(const uint8_t *in, size_t n, const char *p,
		      size_t len)
{
	uint8_t *back = malloc(n + 3);
	size_t o = 0;

	CHECK(back);
	CHECK(n > 0 || len == 0);
	CHECK(len == 0 || (len >= 2 && p[len - 2] == '\r'));
	CHECK(check_crlf_lines(p, len) <= PO__B64_LINE);
	/* Every line but the last is full. */
	for (size_t i = 0; i < len;) {
		const char *eol = memchr(p + i, '\r', len - i);
		size_t w = (size_t)(eol - (p + i));

		CHECK(w == PO__B64_LINE || eol == p + len - 2);
		i += w + 2;
	}
	CHECK(!tc_b64_decode(p, len, back, &o));
	CHECK(o == n && memcmp(back, in, n) == 0);
	free(back);
}

/* Decode QP, checking rule 3 (no blank before a line end), rule 5 (76),
 * the line-start rules and (binary) no hard line break on the way. */
static void check_qp(const uint8_t *in, size_t n, const char *p, size_t len,
		     int text)
{
	uint8_t *back = malloc(2 * n + 2), *want = malloc(2 * n + 2);
	size_t o = 0, w;

	CHECK(back && want);
	CHECK(!tc_qp_decode(p, len, text, back, &o));
	if (text) {
		w = tc_text_canonical(in, n, want);
	} else {
		memcpy(want, in, n);
		w = n;
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const tc_enc kinds[] = {TC_B64, TC_QP_TEXT, TC_QP_BIN,
				       TC_CRLF};
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
		case TC_B64:
			check_b64(data, size, one, len1);
			break;
		case TC_QP_TEXT:
		case TC_QP_BIN:
			check_qp(data, size, one, len1,
				 kinds[k] == TC_QP_TEXT);
			break;
		case TC_CRLF:
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
	      tc_utf8_valid(data, size));
	return 0;
}
