/* test_encode.c - base64, quoted-printable, the CRLF canonicaliser and the
 * byte scanners (c/encode.h).
 *
 * Every encoder is checked three ways: fixed vectors (RFC 4648 §10 for
 * base64), decoding its output back with the small decoders below, and
 * feeding the same input in random chunks (down to single octets) to see
 * that the output does not depend on the cut.
 */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>

#include "codec.h"
#include "encode.h"

#define NELEM(a) (sizeof(a) / sizeof *(a))

/* ---------------------------------------------------------------------
 * Helpers
 */

/* A deterministic generator, so that failures can be replayed. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

static void fill_random(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)rnd();
}

/* Text-like data: words, blanks at line ends, CR, LF, CRLF, lone dots,
 * "From " lines, '=' and high octets. */
static void fill_text(unsigned char *p, size_t n)
{
	static const char *const bits[] = {
		"word", " ", "  ", "\t", "\n", "\r\n", "\r", ".", "\n.\n",
		"From ", "From", "=", "=3D", "x", "\xc3\xa9", "\xff",
		" \n", "\t\r\n", ".\r\n", "F", "aaaaaaaaaaaaaaaaaaaaaaaa",
	};
	size_t i = 0;

	while (i < n) {
		const char *b = bits[rnd() % NELEM(bits)];
		size_t len = strlen(b);

		if (len > n - i)
			len = n - i;
		memcpy(p + i, b, len);
		i += len;
	}
}

/* Encode in[0..n) in chunks of the given size, 0 meaning "random from 1
 * to 300" (codec.h checks each update against its bound).  Returns a
 * malloc'd buffer; *out_len its length. */
static size_t next_chunk(void *ctx)
{
	size_t chunk = *(size_t *)ctx;

	return chunk ? chunk : 1 + rnd() % 300;
}

static char *encode(tc_enc k, const unsigned char *in, size_t n,
		    size_t chunk, size_t *out_len, po__crlf *crlf_out)
{
	const char *err;
	char *out = tc_encode(k, in, n, next_chunk, &chunk, out_len, crlf_out,
			      &err);

	if (!out)
		print_error("%s\n", err);
	assert_non_null(out);
	return out;
}

static char *encode_all(tc_enc k, const void *in, size_t n,
			size_t *out_len)
{
	return encode(k, in, n, n ? n : 1, out_len, NULL);
}

static void assert_encodes(tc_enc k, const char *in, const char *want)
{
	size_t len;
	char *out = encode_all(k, in, strlen(in), &len);

	if (len != strlen(want) || memcmp(out, want, len) != 0)
		print_error("input \"%s\"\n  got \"%.*s\"\n want \"%s\"\n", in,
			    (int)len, out, want);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(out, want, len);
	free(out);
}

/* Fails the test with the checker's message when it has one. */
static void assert_no_error(const char *err)
{
	if (err)
		print_error("%s\n", err);
	assert_null(err);
}

/* Every line ends with CRLF and holds no other CR or LF. */
static void assert_crlf_lines(const char *p, size_t n)
{
	assert_no_error(tc_crlf_lines(p, n, NULL));
}

/* Decode base64 with line breaks (codec.h); fails the test on anything
 * malformed.  Returns the decoded length. */
static size_t b64_decode(const char *p, size_t n, unsigned char *out)
{
	size_t len = 0;

	assert_no_error(tc_b64_decode(p, n, out, &len));
	return len;
}

/* Decode quoted-printable (codec.h), checking the encoder's promises on
 * the way (in binary mode: no hard line break).  Returns the decoded
 * length. */
static size_t qp_decode(const char *p, size_t n, int text,
			unsigned char *out)
{
	size_t len = 0;

	assert_no_error(tc_qp_decode(p, n, text, out, &len));
	return len;
}

/* ---------------------------------------------------------------------
 * base64
 */

static void test_b64_rfc4648_vectors(void **state)
{
	/* RFC 4648 §10. */
	static const char *const v[][2] = {
		{"", ""},	  {"f", "Zg=="},	{"fo", "Zm8="},
		{"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
		{"foobar", "Zm9vYmFy"},
	};
	(void)state;
	for (size_t i = 0; i < NELEM(v); i++) {
		char plain[16], want[16];
		size_t n = strlen(v[i][0]);

		assert_int_equal(po__b64_plain((const unsigned char *)v[i][0],
					       n, plain),
				 strlen(v[i][1]));
		assert_memory_equal(plain, v[i][1], strlen(v[i][1]));
		/* Streaming: the same with a final CRLF; nothing at all
		 * for empty input. */
		snprintf(want, sizeof want, "%s%s", v[i][1], n ? "\r\n" : "");
		assert_encodes(TC_B64, v[i][0], want);
	}
}

static void test_b64_line_width(void **state)
{
	static const size_t lens[] = {1, 53, 54, 55, 56, 107, 108, 109,
				      110, 161, 162, 1000, 4096};
	unsigned char in[4096], back[4096];

	(void)state;
	fill_random(in, sizeof in);
	for (size_t t = 0; t < NELEM(lens); t++) {
		size_t n = lens[t], len, pos = 0, chars = (n + 2) / 3 * 4;
		size_t lines = (chars + PO__B64_LINE - 1) / PO__B64_LINE;
		char *out = encode_all(TC_B64, in, n, &len);

		assert_int_equal(len, chars + 2 * lines);
		assert_crlf_lines(out, len);
		for (size_t l = 0; l < lines; l++) {
			const char *eol = memchr(out + pos, '\r', len - pos);
			size_t w = (size_t)(eol - (out + pos));

			if (l + 1 < lines)
				assert_int_equal(w, PO__B64_LINE);
			else
				assert_true(w > 0 && w <= PO__B64_LINE);
			pos += w + 2;
		}
		assert_int_equal(pos, len);
		assert_int_equal(b64_decode(out, len, back), n);
		assert_memory_equal(back, in, n);
		free(out);
	}
}

static void test_b64_chunking(void **state)
{
	size_t n = 20000, len1, len2;
	unsigned char *in = malloc(n), *back = malloc(n);
	char *one, *many;

	(void)state;
	assert_non_null(in);
	assert_non_null(back);
	fill_random(in, n);
	one = encode_all(TC_B64, in, n, &len1);
	for (size_t chunk = 0; chunk <= 5; chunk++) {
		for (int rep = 0; rep < (chunk ? 1 : 20); rep++) {
			many = encode(TC_B64, in, n, chunk, &len2, NULL);
			assert_int_equal(len1, len2);
			assert_memory_equal(one, many, len1);
			free(many);
		}
	}
	assert_int_equal(b64_decode(one, len1, back), n);
	assert_memory_equal(back, in, n);
	free(one);
	free(in);
	free(back);
}

static void test_b64_bounds(void **state)
{
	(void)state;
	/* The final flush fits in PO__ENC_FINAL_MAX whatever the state. */
	for (size_t carry = 0; carry < 3; carry++) {
		for (size_t groups = 0; groups < 18; groups++) {
			unsigned char in[64] = {0};
			char out[256], fin[PO__ENC_FINAL_MAX];
			po__b64 st;

			po__b64_init(&st);
			po__b64_update(&st, in, groups * 3 + carry, out);
			assert_true(po__b64_final(&st, fin) <=
				    PO__ENC_FINAL_MAX);
		}
	}
	assert_true(po__b64_bound(1) >= 6);
	assert_true(po__b64_bound(54) >= 74);
}

/* ---------------------------------------------------------------------
 * quoted-printable
 */

static void test_qp_vectors(void **state)
{
	(void)state;
	assert_encodes(TC_QP_TEXT, "", "");
	assert_encodes(TC_QP_TEXT, "hello world", "hello world");
	assert_encodes(TC_QP_TEXT, "a=b", "a=3Db");
	assert_encodes(TC_QP_TEXT, "caf\xc3\xa9", "caf=C3=A9");
	assert_encodes(TC_QP_TEXT, "a\x7f\x01", "a=7F=01");
	/* Rule 3: blanks before a line break or the end. */
	assert_encodes(TC_QP_TEXT, "a \r\nb", "a=20\r\nb");
	assert_encodes(TC_QP_TEXT, "a\t\r\nb", "a=09\r\nb");
	assert_encodes(TC_QP_TEXT, "a \nb", "a=20\r\nb");
	assert_encodes(TC_QP_TEXT, "a  \t\n", "a  =09\r\n");
	assert_encodes(TC_QP_TEXT, "a ", "a=20");
	assert_encodes(TC_QP_TEXT, "a\t", "a=09");
	assert_encodes(TC_QP_TEXT, " ", "=20");
	assert_encodes(TC_QP_TEXT, "a b\tc", "a b\tc");
	/* Line ends: CRLF and LF are hard breaks, a bare CR is data. */
	assert_encodes(TC_QP_TEXT, "a\r\nb\nc", "a\r\nb\r\nc");
	assert_encodes(TC_QP_TEXT, "a\rb", "a=0Db");
	assert_encodes(TC_QP_TEXT, "a\r", "a=0D");
	assert_encodes(TC_QP_TEXT, "a\r\r\n", "a=0D\r\n");
	assert_encodes(TC_QP_TEXT, "\n\n", "\r\n\r\n");
	assert_encodes(TC_QP_TEXT, "a \r", "a =0D");
	/* A lone dot, and any dot starting a line. */
	assert_encodes(TC_QP_TEXT, ".", "=2E");
	assert_encodes(TC_QP_TEXT, "a\n.\nb", "a\r\n=2E\r\nb");
	assert_encodes(TC_QP_TEXT, ".\r\n", "=2E\r\n");
	assert_encodes(TC_QP_TEXT, "..x", "=2E.x");
	assert_encodes(TC_QP_TEXT, "a.b", "a.b");
	/* "From " starting a line. */
	assert_encodes(TC_QP_TEXT, "From me", "=46rom me");
	assert_encodes(TC_QP_TEXT, "x\nFrom me\n", "x\r\n=46rom me\r\n");
	assert_encodes(TC_QP_TEXT, "From ", "=46rom=20");
	assert_encodes(TC_QP_TEXT, "From \n", "=46rom=20\r\n");
	assert_encodes(TC_QP_TEXT, "From", "From");
	assert_encodes(TC_QP_TEXT, "From\n", "From\r\n");
	assert_encodes(TC_QP_TEXT, "Frog", "Frog");
	assert_encodes(TC_QP_TEXT, "FFrom ", "FFrom=20");
	assert_encodes(TC_QP_TEXT, "Fro\r", "Fro=0D");
	assert_encodes(TC_QP_TEXT, "from x", "from x");
	assert_encodes(TC_QP_TEXT, "a From x", "a From x");
	/* Binary mode keeps CR and LF as data. */
	assert_encodes(TC_QP_BIN, "a\r\nb\n", "a=0D=0Ab=0A");
	assert_encodes(TC_QP_BIN, "a \r\n", "a =0D=0A");
	assert_encodes(TC_QP_BIN, "x ", "x=20");
	assert_encodes(TC_QP_BIN, ".", "=2E");
}

static void test_qp_soft_breaks(void **state)
{
	char in[400], want[600];
	size_t len;
	char *out;

	(void)state;
	/* 75 characters fit; the 76th goes after a soft break. */
	memset(in, 'a', 76);
	in[76] = '\0';
	snprintf(want, sizeof want, "%.75s=\r\na", in);
	assert_encodes(TC_QP_TEXT, in, want);
	in[75] = '\0';
	assert_encodes(TC_QP_TEXT, in, in);
	/* An =XX triple is never split. */
	memset(in, 'a', 74);
	strcpy(in + 74, "=");
	snprintf(want, sizeof want, "%.74s=\r\n=3D", in);
	assert_encodes(TC_QP_TEXT, in, want);
	memset(in, '=', 100);
	in[100] = '\0';
	out = encode_all(TC_QP_TEXT, in, 100, &len);
	/* 25 triples per line, 4 lines. */
	assert_int_equal(len, 300 + 3 * 3);
	assert_memory_equal(out + 75, "=\r\n=3D", 6);
	free(out);
	/* A dot or "From " that a soft break brings to a line start. */
	memset(in, 'a', 75);
	strcpy(in + 75, ".b");
	snprintf(want, sizeof want, "%.75s=\r\n=2Eb", in);
	assert_encodes(TC_QP_TEXT, in, want);
	strcpy(in + 75, "From x");
	snprintf(want, sizeof want, "%.75s=\r\n=46rom x", in);
	assert_encodes(TC_QP_TEXT, in, want);
	/* A blank held at the end of a full line. */
	memset(in, 'a', 75);
	strcpy(in + 75, " \n");
	snprintf(want, sizeof want, "%.75s=\r\n=20\r\n", in);
	assert_encodes(TC_QP_TEXT, in, want);
	memset(in, 'a', 74);
	strcpy(in + 74, " b");
	snprintf(want, sizeof want, "%.74s =\r\nb", in);
	assert_encodes(TC_QP_TEXT, in, want);
}

static void check_qp_roundtrip(tc_enc k, const unsigned char *in,
			       size_t n)
{
	size_t len1, len2, blen;
	unsigned char *back = malloc(3 * n + 16), *canon = malloc(2 * n + 16);
	char *one = encode_all(k, in, n, &len1), *many;

	assert_non_null(back);
	assert_non_null(canon);
	blen = qp_decode(one, len1, k == TC_QP_TEXT, back);
	if (k == TC_QP_TEXT) {
		size_t clen = tc_text_canonical(in, n, canon);

		assert_int_equal(blen, clen);
		assert_memory_equal(back, canon, clen);
	} else {
		assert_int_equal(blen, n);
		assert_memory_equal(back, in, n);
	}
	for (size_t chunk = 0; chunk <= 3; chunk++) {
		for (int rep = 0; rep < (chunk ? 1 : 10); rep++) {
			many = encode(k, in, n, chunk, &len2, NULL);
			assert_int_equal(len1, len2);
			assert_memory_equal(one, many, len1);
			free(many);
		}
	}
	free(one);
	free(back);
	free(canon);
}

static void test_qp_roundtrip_and_chunking(void **state)
{
	size_t n = 30000;
	unsigned char *in = malloc(n);
	unsigned char all[256];

	(void)state;
	assert_non_null(in);
	for (int rep = 0; rep < 4; rep++) {
		fill_text(in, n);
		check_qp_roundtrip(TC_QP_TEXT, in, n);
		check_qp_roundtrip(TC_QP_BIN, in, n);
		fill_random(in, n);
		check_qp_roundtrip(TC_QP_TEXT, in, n);
		check_qp_roundtrip(TC_QP_BIN, in, n);
	}
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	check_qp_roundtrip(TC_QP_BIN, all, sizeof all);
	check_qp_roundtrip(TC_QP_TEXT, all, sizeof all);
	free(in);
}

static void test_qp_crlf_split_across_updates(void **state)
{
	char out[64];
	size_t len = 0;
	po__qp st;

	(void)state;
	po__qp_init(&st, 1);
	len += po__qp_update(&st, (const unsigned char *)"a \r", 3, out);
	len += po__qp_update(&st, (const unsigned char *)"\nb", 2,
			     out + len);
	len += po__qp_final(&st, out + len);
	assert_int_equal(len, 7);
	assert_memory_equal(out, "a=20\r\nb", 7);
}

/* ---------------------------------------------------------------------
 * CRLF canonicaliser
 */

static void check_crlf(const char *in, const char *want, size_t maxline,
		       int lone_dot)
{
	/* One shot, single octets, pairs, random cuts. */
	size_t n = strlen(in), chunks[] = {n ? n : 1, 1, 2, 0}, len;
	po__crlf st;

	for (size_t i = 0; i < NELEM(chunks); i++) {
		char *out = encode(TC_CRLF, (const unsigned char *)in, n,
				   chunks[i], &len, &st);

		assert_int_equal(len, strlen(want));
		assert_memory_equal(out, want, len);
		assert_int_equal(st.maxline, maxline);
		assert_int_equal(st.lone_dot, lone_dot);
		free(out);
	}
}

static void test_crlf(void **state)
{
	(void)state;
	check_crlf("", "", 0, 0);
	check_crlf("abc", "abc", 3, 0);
	check_crlf("a\nb", "a\r\nb", 1, 0);
	check_crlf("a\rb", "a\r\nb", 1, 0);
	check_crlf("a\r\nb", "a\r\nb", 1, 0);
	check_crlf("a\r\r\nb\n\r", "a\r\n\r\nb\r\n\r\n", 1, 0);
	check_crlf("abcd\n\nxy\r\n", "abcd\r\n\r\nxy\r\n", 4, 0);
	check_crlf("a\n.\nb", "a\r\n.\r\nb", 1, 1);
	check_crlf(".\r\n", ".\r\n", 1, 1);
	check_crlf("..\n.x\nx.\n", "..\r\n.x\r\nx.\r\n", 2, 0);
	/* An unterminated last line still counts: a CRLF follows it on
	 * the wire. */
	check_crlf("a\n.", "a\r\n.", 1, 1);
	check_crlf("a\r.\r", "a\r\n.\r\n", 1, 1);
	/* No dot-stuffing: that is libcurl's job. */
	check_crlf("..\n", "..\r\n", 2, 0);
}

static void test_crlf_chunk_edges(void **state)
{
	char out[64];
	size_t len = 0;
	po__crlf st;

	(void)state;
	/* CR at the end of a chunk, LF at the start of the next. */
	po__crlf_init(&st);
	len += po__crlf_update(&st, (const unsigned char *)"a\r", 2, out);
	assert_int_equal(len, 1);
	len += po__crlf_update(&st, (const unsigned char *)"\nb", 2,
			       out + len);
	len += po__crlf_final(&st, out + len);
	assert_int_equal(len, 4);
	assert_memory_equal(out, "a\r\nb", 4);
	/* CR at the end of a chunk, something else next. */
	po__crlf_init(&st);
	len = po__crlf_update(&st, (const unsigned char *)"a\r", 2, out);
	len += po__crlf_update(&st, (const unsigned char *)"", 0, out + len);
	len += po__crlf_update(&st, (const unsigned char *)"b", 1, out + len);
	assert_int_equal(len, 4);
	assert_memory_equal(out, "a\r\nb", 4);
	/* CR at the very end. */
	po__crlf_init(&st);
	len = po__crlf_update(&st, (const unsigned char *)"a\r", 2, out);
	len += po__crlf_final(&st, out + len);
	assert_int_equal(len, 3);
	assert_memory_equal(out, "a\r\n", 3);
	/* A lone dot split over chunks. */
	po__crlf_init(&st);
	len = po__crlf_update(&st, (const unsigned char *)"x\n", 2, out);
	len += po__crlf_update(&st, (const unsigned char *)".", 1, out + len);
	len += po__crlf_update(&st, (const unsigned char *)"\r", 1, out + len);
	len += po__crlf_update(&st, (const unsigned char *)"\ny", 2,
			       out + len);
	assert_true(st.lone_dot);
	/* A dot then more text in the next chunk is not lone. */
	po__crlf_init(&st);
	len = po__crlf_update(&st, (const unsigned char *)".", 1, out);
	len += po__crlf_update(&st, (const unsigned char *)".\n", 2,
			       out + len);
	len += po__crlf_final(&st, out + len);
	assert_false(st.lone_dot);
	assert_int_equal(st.maxline, 2);
}

static void test_crlf_random(void **state)
{
	size_t n = 50000, len1, len2;
	unsigned char *in = malloc(n);
	po__crlf st1, st2;
	char *one, *many;

	(void)state;
	assert_non_null(in);
	fill_text(in, n);
	one = encode(TC_CRLF, in, n, n, &len1, &st1);
	assert_crlf_lines(one, len1);
	for (int rep = 0; rep < 10; rep++) {
		many = encode(TC_CRLF, in, n, rep < 2 ? 1 + (size_t)rep : 0,
			      &len2, &st2);
		assert_int_equal(len1, len2);
		assert_memory_equal(one, many, len1);
		assert_int_equal(st1.maxline, st2.maxline);
		assert_int_equal(st1.lone_dot, st2.lone_dot);
		free(many);
	}
	free(one);
	free(in);
}

/* ---------------------------------------------------------------------
 * Scanners
 */

static po__scan scan(const char *s, size_t n)
{
	po__scan sc;

	po__scan_bytes((const unsigned char *)s, n, &sc);
	return sc;
}

static void test_scan(void **state)
{
	po__scan sc;

	(void)state;
	sc = scan("", 0);
	assert_int_equal(sc.maxline, 0);
	assert_true(sc.ends_newline);
	assert_false(sc.nonascii || sc.nul || sc.bare_cr || sc.lone_dot);
	sc = scan("abc\r\nde\n", 8);
	assert_int_equal(sc.maxline, 3);
	assert_true(sc.ends_newline);
	assert_false(sc.nonascii || sc.nul || sc.bare_cr || sc.lone_dot);
	sc = scan("abc\rdefgh", 9);
	assert_int_equal(sc.maxline, 5);
	assert_true(sc.bare_cr);
	assert_false(sc.ends_newline);
	sc = scan("x\r", 2);
	assert_true(sc.bare_cr);
	sc = scan("a\0b", 3);
	assert_true(sc.nul);
	sc = scan("caf\xc3\xa9", 5);
	assert_true(sc.nonascii);
	sc = scan("a\n.\nb", 5);
	assert_true(sc.lone_dot);
	sc = scan("a\n.", 3);
	assert_true(sc.lone_dot);
	sc = scan(".a\n..\n", 6);
	assert_false(sc.lone_dot);
	sc = scan(".\r\n", 3);
	assert_true(sc.lone_dot);
	assert_false(sc.bare_cr);
	{
		char big[3000];

		memset(big, 'x', sizeof big);
		big[1000] = '\n';
		sc = scan(big, sizeof big);
		assert_int_equal(sc.maxline, 1999);
	}
}

static void test_is_ascii(void **state)
{
	char buf[40];

	(void)state;
	memset(buf, 'a', sizeof buf);
	assert_true(po__is_ascii(buf, 0));
	assert_true(po__is_ascii(buf, sizeof buf));
	for (size_t i = 0; i < sizeof buf; i++) {
		buf[i] = (char)0x80;
		assert_false(po__is_ascii(buf, sizeof buf));
		assert_true(po__is_ascii(buf, i));
		buf[i] = 0x7f;
	}
}

static void test_utf8_valid(void **state)
{
	static const char *const good[] = {
		"", "ascii", "caf\xc3\xa9", "\xc2\x80", "\xdf\xbf",
		"\xe0\xa0\x80", "\xe2\x82\xac",
		"\xed\x9f\xbf",     /* U+D7FF, below the surrogates */
		"\xee\x80\x80",     /* U+E000, above them */
		"\xef\xbf\xbf", "\xf0\x90\x80\x80",
		"\xf0\x9f\x98\x80", /* emoji */
		"\xf4\x8f\xbf\xbf", /* U+10FFFF */
		"long ascii prefix to pass the word loop \xe4\xb8\xad",
	};
	static const char *const bad[] = {
		"\x80", "\xbf", "a\x80" "b",
		"\xc0\x80", "\xc1\xbf",		/* overlong 2 */
		"\xe0\x80\x80", "\xe0\x9f\xbf", /* overlong 3 */
		"\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf", /* overlong 4 */
		"\xed\xa0\x80", "\xed\xbf\xbf",	/* surrogates */
		"\xf4\x90\x80\x80", "\xf5\x80\x80\x80", /* > U+10FFFF */
		"\xf8\x88\x80\x80\x80", "\xfe", "\xff",
		"\xc3", "\xe2\x82", "\xf0\x9f\x98", /* truncated */
		"\xc3\x28", "\xe2\x28\xa1", "\xe2\x82\x28",
		"\xf0\x9f\x28\x80", "\xf0\x9f\x98\x28",
		"long ascii prefix to pass the word loop \xe4\xb8",
	};

	(void)state;
	for (size_t i = 0; i < NELEM(good); i++)
		assert_true(po__utf8_valid(good[i], strlen(good[i])));
	for (size_t i = 0; i < NELEM(bad); i++) {
		if (po__utf8_valid(bad[i], strlen(bad[i])))
			print_error("accepted bad[%zu]\n", i);
		assert_false(po__utf8_valid(bad[i], strlen(bad[i])));
	}
	/* NUL is a valid character; length is what counts. */
	assert_true(po__utf8_valid("a\0b", 3));
	assert_false(po__utf8_valid("\xe2\x82\xac", 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_rfc4648_vectors),
		cmocka_unit_test(test_b64_line_width),
		cmocka_unit_test(test_b64_chunking),
		cmocka_unit_test(test_b64_bounds),
		cmocka_unit_test(test_qp_vectors),
		cmocka_unit_test(test_qp_soft_breaks),
		cmocka_unit_test(test_qp_roundtrip_and_chunking),
		cmocka_unit_test(test_qp_crlf_split_across_updates),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_crlf_chunk_edges),
		cmocka_unit_test(test_crlf_random),
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_is_ascii),
		cmocka_unit_test(test_utf8_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
