/* test_header.c - header fields: folding, RFC 2047 encoded words, address
 * lists, RFC 2231 parameters, raw lines, refusals (c/header.h).
 *
 * Fields are checked for their line structure, unfolded, and their
 * encoded words decoded (RFC 2047 §6, tests-c/codec.c) to compare with
 * the input.  test_python_oracle then hands a few thousand generated
 * fields to tests-c/header_oracle.py, which parses them with Python's
 * email package.
 */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codec.h"
#include "encode.h"
#include "header.h"
#include "po_private.h"

/* Debian's interpreter: the python3 on PATH may lack its packages. */
#define ORACLE "/usr/bin/python3 tests-c/header_oracle.py"
#define NELEM(a) (sizeof(a) / sizeof *(a))

/* ---------------------------------------------------------------------
 * Helpers
 */

static uint64_t rng_state = 0x2545f4914f6cdd1du;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

/* Fails the test with the checker's message when it has one. */
static void assert_no_error(const char *err)
{
	if (err)
		print_error("%s\n", err);
	assert_null(err);
}

/* The field's line structure (codec.h), at most 78 characters a line
 * when soft. */
static void assert_lines(const char *p, size_t n, int soft)
{
	size_t line;
	const char *err = tc_header_lines(p, n, soft, &line);

	if (err)
		print_error("line %zu: %s in\n%.*s\n", line, err, (int)n, p);
	assert_null(err);
}

/* RFC 5322 §2.2.3 unfolding (codec.h): a malloc'd NUL-terminated
 * string. */
static char *unfold(const char *p, size_t n, size_t *out_len)
{
	char *u = tc_unfold(p, n, out_len);

	assert_non_null(u);
	return u;
}

/* An unstructured value (unfolded) decoded per RFC 2047 §6.2 (codec.h),
 * its encoded words checked on the way.  Returns a malloc'd string. */
static char *decode_text(const char *v, size_t n, size_t *out_len)
{
	const char *err;
	char *d = tc_decode_text(v, n, out_len, &err);

	assert_no_error(err);
	return d;
}

/* Write an unstructured field, check its structure and encoded words,
 * and that it decodes back to the value. */
static void check_unstructured(const char *name, const char *value,
			       size_t n, int soft)
{
	po__buf b = PO__BUF_INIT;
	size_t ulen, dlen, namelen = strlen(name);
	char *u, *d;

	assert_po_ok(po__hdr_unstructured(&b, name, value, n));
	assert_lines(b.p, b.len, soft);
	assert_null(strstr(b.p, "?==?"));
	u = unfold(b.p, b.len, &ulen);
	assert_true(ulen > namelen && memcmp(u, name, namelen) == 0);
	assert_int_equal(u[namelen], ':');
	if (n == 0) {
		assert_int_equal(ulen, namelen + 1);
	} else {
		assert_int_equal(u[namelen + 1], ' ');
		d = decode_text(u + namelen + 2, ulen - namelen - 2, &dlen);
		if (dlen != n || memcmp(d, value, n) != 0)
			print_error("value: \"%.*s\"\nfield: %s\n", (int)n,
				    value, b.p);
		assert_int_equal(dlen, n);
		assert_memory_equal(d, value, n);
		free(d);
	}
	free(u);
	po__buf_free(&b);
}

/* ---------------------------------------------------------------------
 * Names and splitting
 */

static void test_name_valid(void **state)
{
	char name[80];

	(void)state;
	assert_true(po__hdr_name_valid("Subject", 7));
	assert_true(po__hdr_name_valid("X-!#$%&'*+-.^_`|~", 17));
	assert_false(po__hdr_name_valid("", 0));
	assert_false(po__hdr_name_valid("X:Y", 3));
	assert_false(po__hdr_name_valid("X Y", 3));
	assert_false(po__hdr_name_valid("X\tY", 3));
	assert_false(po__hdr_name_valid("X\x7f", 2));
	assert_false(po__hdr_name_valid("X\xc3\xa9", 3));
	assert_false(po__hdr_name_valid("X\0Y", 3));
	memset(name, 'X', sizeof name);
	assert_true(po__hdr_name_valid(name, 76));
	assert_false(po__hdr_name_valid(name, 77));
}

static void test_split(void **state)
{
	const char *v;
	size_t nl, vl;

	(void)state;
	assert_po_ok(po__hdr_split("Subject:  hi there", 18, &nl, &v, &vl));
	assert_int_equal(nl, 7);
	assert_int_equal(vl, 8);
	assert_memory_equal(v, "hi there", 8);
	assert_po_ok(po__hdr_split("X-A:\t", 5, &nl, &v, &vl));
	assert_int_equal(nl, 3);
	assert_int_equal(vl, 0);
	assert_po_ok(po__hdr_split("X:a:b", 5, &nl, &v, &vl));
	assert_int_equal(nl, 1);
	assert_int_equal(vl, 3);
	assert_int_equal(po__hdr_split("NoColon", 7, &nl, &v, &vl),
			 PO_EHEADER);
	assert_int_equal(po__hdr_split("Bad Name: x", 11, &nl, &v, &vl),
			 PO_EHEADER);
	assert_int_equal(po__hdr_split(": x", 3, &nl, &v, &vl), PO_EHEADER);
	/* The colon must be within the n bytes. */
	assert_int_equal(po__hdr_split("Subject: x", 7, &nl, &v, &vl),
			 PO_EHEADER);
}

/* ---------------------------------------------------------------------
 * Unstructured fields
 */

static void test_unstructured_ascii(void **state)
{
	static const char *const values[] = {
		"Hello world",
		"a  b   c",
		"tab\tinside and  more",
		"The quick brown fox jumps over the lazy dog, again and "
		"again and again, until the line is long enough to need "
		"folding more than once; then it goes on for a while.",
		"word",
	};
	po__buf b = PO__BUF_INIT;

	(void)state;
	assert_po_ok(po__hdr_unstructured(&b, "Subject", "Hello world", 11));
	assert_string_equal(b.p, "Subject: Hello world\r\n");
	b.len = 0;
	assert_po_ok(po__hdr_unstructured(&b, "Subject", "", 0));
	assert_string_equal(b.p, "Subject:\r\n");
	b.len = 0;
	assert_po_ok(po__hdr_unstructured(&b, "Subject", "a \tb", 4));
	assert_string_equal(b.p, "Subject: a \tb\r\n");
	po__buf_free(&b);
	for (size_t i = 0; i < NELEM(values); i++)
		check_unstructured("Subject", values[i], strlen(values[i]), 1);
}

static void test_unstructured_long_ascii_folds(void **state)
{
	char value[2000];
	po__buf b = PO__BUF_INIT;
	size_t ulen;
	char *u;

	(void)state;
	for (size_t i = 0; i < sizeof value - 1; i++)
		value[i] = i % 7 == 6 ? ' ' : (char)('a' + i % 26);
	value[sizeof value - 1] = '\0';
	assert_po_ok(po__hdr_unstructured(&b, "Subject", value,
					  strlen(value)));
	assert_lines(b.p, b.len, 1);
	/* Plain words are not encoded, and unfolding gives them back. */
	assert_null(strstr(b.p, "=?"));
	u = unfold(b.p, b.len, &ulen);
	assert_int_equal(ulen, 9 + strlen(value));
	assert_memory_equal(u, "Subject: ", 9);
	assert_memory_equal(u + 9, value, strlen(value));
	free(u);
	po__buf_free(&b);
}

static void test_unstructured_encoded(void **state)
{
	static const char *const values[] = {
		"Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln",
		"\xce\x9a\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xad\xcf\x81\xce"
		"\xb1 \xce\xba\xcf\x8c\xcf\x83\xce\xbc\xce\xb5",
		"\xe4\xb8\xad\xe6\x96\x87 "
		"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
		"emoji \xf0\x9f\x98\x80\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd end",
		"caf\xc3\xa9  \xc3\xa9t\xc3\xa9  two spaces",
		"  leading blanks",
		"trailing blanks  ",
		"   ",
		"\t",
		"looks =?utf-8?q?encoded?= but is not",
		"a=?b",
		"ctl \x01 and \x7f del",
		"a\t\xc3\xa9\tb",
		"\xc3\xa9 \xc3\xa9 \xc3\xa9 x \xc3\xa9",
		"x                                                   "
		"                            y",
		"superlongwordsuperlongwordsuperlongwordsuperlongwordsuper"
		"longwordsuperlongwordsuperlongword",
		"_=?\"\\()<>@,;:[]",
	};

	(void)state;
	for (size_t i = 0; i < NELEM(values); i++)
		check_unstructured("Subject", values[i], strlen(values[i]), 1);
	/* A long name leaves little room on the first line. */
	check_unstructured("X-A-Rather-Long-Header-Name-To-Leave-Little-Room",
			   values[3], strlen(values[3]), 1);
}

static void test_encoded_word_choice(void **state)
{
	po__buf b = PO__BUF_INIT;

	(void)state;
	/* Mostly ASCII: Q is shorter. */
	assert_po_ok(po__hdr_unstructured(&b, "Subject",
					  "internationalis\xc3\xa9 word", 22));
	assert_string_equal(b.p, "Subject: =?utf-8?q?internationalis=C3=A9?= "
				 "word\r\n");
	b.len = 0;
	/* Two octets of three encoded: B is shorter. */
	assert_po_ok(po__hdr_unstructured(&b, "Subject", "caf\xc3\xa9", 5));
	assert_string_equal(b.p, "Subject: =?utf-8?b?Y2Fmw6k=?=\r\n");
	b.len = 0;
	/* CJK: B is shorter. */
	assert_po_ok(po__hdr_unstructured(&b, "Subject",
					  "\xe4\xb8\xad\xe6\x96\x87", 6));
	assert_string_equal(b.p, "Subject: =?utf-8?b?5Lit5paH?=\r\n");
	b.len = 0;
	/* White space between encoded pieces goes inside the word. */
	assert_po_ok(po__hdr_unstructured(&b, "Subject",
					  "\xc3\xa9" "abcdefghij klmnopqrst"
					  "\xc3\xa9", 25));
	assert_string_equal(b.p, "Subject: =?utf-8?q?=C3=A9abcdefghij_"
				 "klmnopqrst=C3=A9?=\r\n");
	b.len = 0;
	assert_po_ok(po__hdr_unstructured(&b, "Subject",
					  "\xc3\xa9 \xc3\xa9", 5));
	assert_string_equal(b.p, "Subject: =?utf-8?b?w6kgw6k=?=\r\n");
	b.len = 0;
	/* ... but not between an encoded word and a plain one. */
	assert_po_ok(po__hdr_unstructured(&b, "Subject", "\xc3\xa9 x", 4));
	assert_string_equal(b.p, "Subject: =?utf-8?b?w6k=?= x\r\n");
	po__buf_free(&b);
}

/* Runs of 2-, 3- and 4-octet characters after 0..12 ASCII octets, so
 * that the 75-character limit falls at every offset inside a character:
 * every word must still decode to valid UTF-8 on its own (tc_ew_decode
 * checks). */
static void test_encoded_word_boundaries(void **state)
{
	static const char *const chars[] = {
		"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
		"\xd0\x96\xe4\xb8\xad", "\xe4\xb8\xad\xf0\x9f\x91\x8d",
	};
	char value[600];

	(void)state;
	for (size_t c = 0; c < NELEM(chars); c++) {
		for (size_t pre = 0; pre <= 12; pre++) {
			size_t n = pre;

			memset(value, 'a', pre);
			while (n + strlen(chars[c]) < 500) {
				memcpy(value + n, chars[c], strlen(chars[c]));
				n += strlen(chars[c]);
			}
			value[n] = '\0';
			check_unstructured("Subject", value, n, 1);
			/* The same with spaces every few characters. */
			for (size_t i = 7; i < n; i += 9)
				if ((value[i] & 0xc0) != 0x80 &&
				    (unsigned char)value[i] < 0x80)
					value[i] = ' ';
			check_unstructured("Subject", value, n, 1);
		}
	}
}

static void test_unstructured_1mb(void **state)
{
	size_t n = 1 << 20, i = 0;
	char *v = malloc(n + 8);
	static const char *const bits[] = {
		"word ", "\xc3\xa9t\xc3\xa9 ", "\xe4\xb8\xad\xe6\x96\x87",
		" ", "\xf0\x9f\x98\x80", "x",
	};

	(void)state;
	assert_non_null(v);
	/* ASCII words: folded, never encoded. */
	for (i = 0; i < n; i++)
		v[i] = i % 8 == 7 ? ' ' : 'w';
	check_unstructured("Subject", v, n - 1, 1);
	/* One 1 MB word: encoded, in 75-character words. */
	memset(v, 'w', n);
	check_unstructured("Subject", v, n, 1);
	/* Mixed. */
	i = 0;
	while (i < n) {
		const char *b = bits[rnd() % NELEM(bits)];

		memcpy(v + i, b, strlen(b));
		i += strlen(b);
	}
	v[i - 1] = 'z';
	check_unstructured("Subject", v, i, 1);
	free(v);
}

/* ---------------------------------------------------------------------
 * Raw header lines
 */

static void test_raw(void **state)
{
	static const char *const long_line =
		"References: <1234567890.abcdef@example.com> "
		"<2234567890.abcdef@example.com> <3234567890.abcdef@example."
		"com> <4234567890.abcdef@example.com>   ";
	po__buf b = PO__BUF_INIT;
	size_t ulen;
	char *u;

	(void)state;
	assert_po_ok(po__hdr_raw(&b, "X-Foo: bar", 10));
	assert_string_equal(b.p, "X-Foo: bar\r\n");
	b.len = 0;
	assert_po_ok(po__hdr_raw(&b, "x-foo:bar  baz", 14));
	assert_string_equal(b.p, "x-foo: bar  baz\r\n");
	b.len = 0;
	assert_po_ok(po__hdr_raw(&b, "X-Empty:   ", 11));
	assert_string_equal(b.p, "X-Empty:\r\n");
	b.len = 0;
	/* ASCII is written as given, "=?" included. */
	assert_po_ok(po__hdr_raw(&b, "X-Enc: =?utf-8?q?a?=", 20));
	assert_string_equal(b.p, "X-Enc: =?utf-8?q?a?=\r\n");
	b.len = 0;
	/* Folded at its own white space, trailing blanks kept. */
	assert_po_ok(po__hdr_raw(&b, long_line, strlen(long_line)));
	assert_lines(b.p, b.len, 1);
	u = unfold(b.p, b.len, &ulen);
	assert_string_equal(u, long_line);
	free(u);
	b.len = 0;
	/* Non-ASCII is encoded like an unstructured value. */
	assert_po_ok(po__hdr_raw(&b, "X-Name: na\xc3\xafve", 14));
	assert_string_equal(b.p, "X-Name: =?utf-8?b?bmHDr3Zl?=\r\n");
	b.len = 0;
	/* a TAB is white space; other controls (ESC, DEL...) are refused */
	assert_po_ok(po__hdr_raw(&b, "X-Tab: a\tb", 10));
	assert_string_equal(b.p, "X-Tab: a\tb\r\n");
	b.len = 0;
	assert_int_equal(po__hdr_raw(&b, "X-Esc: \x1b[31m", 12), PO_EHEADER);
	assert_int_equal(po__hdr_raw(&b, "X-Del: a\x7f", 10), PO_EHEADER);
	assert_int_equal(po__hdr_raw(&b, "X-Bs: a\x08", 9), PO_EHEADER);
	assert_int_equal(b.len, 0);
	po__buf_free(&b);
}

static void test_raw_too_long(void **state)
{
	size_t n = 1 << 20;
	char *line = malloc(n);
	po__buf b = PO__BUF_INIT;

	(void)state;
	assert_non_null(line);
	assert_int_equal(po__buf_puts(&b, "Kept: yes\r\n"), 0);
	memcpy(line, "X-Big: ", 7);
	memset(line + 7, 'x', n - 7);
	assert_int_equal(po__hdr_raw(&b, line, n), PO_ETOOLONG);
	assert_string_equal(b.p, "Kept: yes\r\n");
	assert_non_null(strstr(po_last_error(), "X-Big"));
	/* 990 characters still fit on one line of 998. */
	assert_po_ok(po__hdr_raw(&b, line, 7 + 990));
	assert_lines(b.p + 11, b.len - 11, 0);
	b.len = 11;
	assert_int_equal(po__hdr_raw(&b, line, 7 + 992), PO_ETOOLONG);
	assert_int_equal(b.len, 11);
	/* Long, but with spaces: folded. */
	for (size_t i = 50; i < n; i += 50)
		line[i] = ' ';
	assert_po_ok(po__hdr_raw(&b, line, n));
	assert_lines(b.p + 11, b.len - 11, 1);
	po__buf_free(&b);
	free(line);
}

/* ---------------------------------------------------------------------
 * Address lists
 */

static char *addresses(const po__addr *list, size_t n)
{
	po__buf b = PO__BUF_INIT;

	assert_po_ok(po__hdr_addresses(&b, "To", list, n));
	assert_lines(b.p, b.len, 1);
	return po__buf_steal(&b);
}

static void test_addresses_simple(void **state)
{
	po__addr l[] = {
		{NULL, "a@example.com"},
		{"Jane Doe", "jane@example.com"},
		{"Doe, Jane", "jd@example.com"},
		{"a \"quoted\" \\ name", "q@example.com"},
		{"John Q. Public", "jqp@example.com"},
		{"", "empty@example.com"},
	};
	char *f;

	(void)state;
	f = addresses(l, 1);
	assert_string_equal(f, "To: a@example.com\r\n");
	free(f);
	f = addresses(l + 1, 1);
	assert_string_equal(f, "To: Jane Doe <jane@example.com>\r\n");
	free(f);
	f = addresses(l + 2, 1);
	assert_string_equal(f, "To: \"Doe, Jane\" <jd@example.com>\r\n");
	free(f);
	f = addresses(l + 3, 1);
	assert_string_equal(f, "To: \"a \\\"quoted\\\" \\\\ name\" "
			       "<q@example.com>\r\n");
	free(f);
	f = addresses(l + 4, 1);
	assert_string_equal(f, "To: \"John Q. Public\" <jqp@example.com>\r\n");
	free(f);
	f = addresses(l + 5, 1);
	assert_string_equal(f, "To: empty@example.com\r\n");
	free(f);
	f = addresses(l, 3);
	assert_string_equal(f, "To: a@example.com, Jane Doe "
			       "<jane@example.com>, \"Doe, Jane\" "
			       "<jd@example.com>\r\n");
	free(f);
}

static void test_addresses_non_ascii(void **state)
{
	po__addr l[] = {
		{"J\xc3\xb6rg M\xc3\xbcller", "j@example.de"},
		{"\xe5\xb1\xb1\xe7\x94\xb0 \xe5\xa4\xaa\xe9\x83\x8e",
		 "yamada@example.jp"},
		{"=?utf-8?q?looks_encoded?=", "e@example.com"},
	};
	char *f;

	(void)state;
	f = addresses(l, 1);
	assert_string_equal(f, "To: =?utf-8?b?SsO2cmcgTcO8bGxlcg==?= "
			       "<j@example.de>\r\n");
	free(f);
	f = addresses(l + 1, 1);
	assert_string_equal(f, "To: =?utf-8?b?5bGx55SwIOWkqumDjg==?= "
			       "<yamada@example.jp>\r\n");
	free(f);
	/* A name that looks like an encoded word is encoded itself. */
	f = addresses(l + 2, 1);
	assert_null(strstr(f, "looks_encoded"));
	assert_non_null(strstr(f, "=?utf-8?"));
	free(f);
}

static void test_addresses_60(void **state)
{
	po__addr l[60];
	char names[60][40], specs[60][40];
	size_t ulen;
	char *f, *u;

	(void)state;
	for (int i = 0; i < 60; i++) {
		snprintf(specs[i], sizeof specs[i], "user%d@example%d.com", i,
			 i % 7);
		snprintf(names[i], sizeof names[i], i % 3 == 0 ? "User %d"
				   : i % 3 == 1 ? "Doe, User %d"
						: "Us\xc3\xa9r %d",
			 i);
		l[i].display = i % 4 == 3 ? NULL : names[i];
		l[i].spec = specs[i];
	}
	f = addresses(l, 60);
	u = unfold(f, strlen(f), &ulen);
	for (int i = 0; i < 60; i++) {
		char want[64];

		snprintf(want, sizeof want,
			 l[i].display ? "<%.39s>%s" : " %.39s%s", specs[i],
			 i < 59 ? "," : "");
		assert_non_null(strstr(u, want));
	}
	free(u);
	free(f);
}

static void test_addresses_long_display(void **state)
{
	char name[400];
	po__addr l[1] = {{name, "x@example.com"}};
	char *f;

	(void)state;
	/* An ASCII name folds between its words, inside the quotes. */
	strcpy(name, "A Rather, Long Display Name That Needs Quotes "
		     "Because Of The Comma And Does Not Fit On One Line");
	f = addresses(l, 1);
	assert_non_null(strstr(f, "\r\n"));
	free(f);
	/* Non-ASCII: several encoded words. */
	name[0] = '\0';
	for (int i = 0; i < 20; i++)
		strcat(name, "\xc3\x89l\xc3\xa9onore ");
	f = addresses(l, 1);
	assert_null(strstr(f, "?==?"));
	free(f);
}

/* ---------------------------------------------------------------------
 * Parameters
 */

static char *params(const char *name, const char *value,
		    const po__param *p, size_t n)
{
	po__buf b = PO__BUF_INIT;

	assert_po_ok(po__hdr_params(&b, name, value, p, n));
	assert_lines(b.p, b.len, 1);
	return po__buf_steal(&b);
}

static void test_params_ascii(void **state)
{
	po__param p[] = {
		{"charset", "utf-8"},
		{"name", "a \"b\" \\c.txt"},
	};
	char *f;

	(void)state;
	f = params("Content-Type", "text/plain", NULL, 0);
	assert_string_equal(f, "Content-Type: text/plain\r\n");
	free(f);
	/* Allegro's layout: each parameter on a line of its own, after
	 * four spaces */
	f = params("Content-Type", "text/plain", p, 2);
	assert_string_equal(f, "Content-Type: text/plain;\r\n"
			       "    charset=\"utf-8\";\r\n"
			       "    name=\"a \\\"b\\\" \\\\c.txt\"\r\n");
	free(f);
}

static void test_params_rfc2231(void **state)
{
	po__param p[] = {{"filename", "r\xc3\xa9sum\xc3\xa9.pdf"}};
	po__param q[] = {{"filename", NULL}, {"size", "12"}};
	char longname[600];
	char *f, *u;
	size_t ulen;

	(void)state;
	f = params("Content-Disposition", "attachment", p, 1);
	assert_string_equal(f, "Content-Disposition: attachment;\r\n"
			       "    filename*=utf-8''r%C3%A9sum%C3%A9.pdf;\r\n"
			       "    filename=\"=?utf-8?b?csOpc3Vtw6kucGRm?=\""
			       "\r\n");
	free(f);
	/* Long: continuations, each on its own line. */
	longname[0] = '\0';
	for (int i = 0; i < 30; i++)
		strcat(longname, "\xe4\xb8\xad\xe6\x96\x87 ");
	strcat(longname, ".txt");
	q[0].value = longname;
	f = params("Content-Disposition", "attachment", q, 2);
	assert_non_null(strstr(f, "filename*0*=utf-8''%E4%B8%AD"));
	assert_non_null(strstr(f, "filename*1*="));
	assert_null(strstr(f, "?==?"));
	u = unfold(f, strlen(f), &ulen);
	assert_non_null(strstr(u, "\";    size=\"12\""));
	free(u);
	free(f);
}

/* ---------------------------------------------------------------------
 * Refusals: nothing appended, a message naming the field
 */

static void assert_refused(int st, int want, po__buf *b, const char *what)
{
	assert_int_equal(st, want);
	assert_int_equal(b->len, 4);
	assert_string_equal(b->p, "X\r\n\r");
	if (what)
		assert_non_null(strstr(po_last_error(), what));
}

static void test_refusals(void **state)
{
	static const char *const bad[] = {"a\rb", "a\nb", "a\r\nb"};
	po__buf b = PO__BUF_INIT;
	po__addr a = {NULL, "x@y"};
	po__param p = {"filename", "x"};

	(void)state;
	po__buf_puts(&b, "X\r\n\r");
	for (size_t i = 0; i < NELEM(bad); i++) {
		char line[32], v[8];

		assert_refused(po__hdr_unstructured(&b, "Subject", bad[i],
						    strlen(bad[i])),
			       PO_EHEADER, &b, "Subject");
		snprintf(v, sizeof v, "%s", bad[i]);
		a.display = v;
		assert_refused(po__hdr_addresses(&b, "Cc", &a, 1), PO_EHEADER,
			       &b, "Cc");
		a.display = NULL;
		a.spec = v;
		assert_refused(po__hdr_addresses(&b, "Cc", &a, 1), PO_EHEADER,
			       &b, "Cc");
		a.spec = "x@y";
		p.value = bad[i];
		assert_refused(po__hdr_params(&b, "Content-Type",
					      "text/plain", &p, 1),
			       PO_EHEADER, &b, "Content-Type");
		p.value = "x";
		snprintf(line, sizeof line, "X-Raw: %s", bad[i]);
		assert_refused(po__hdr_raw(&b, line, strlen(line)),
			       PO_EHEADER, &b, "X-Raw");
		snprintf(line, sizeof line, "X-%s: x", bad[i]);
		assert_refused(po__hdr_raw(&b, line, strlen(line)),
			       PO_EHEADER, &b, NULL);
	}
	/* NUL inside the given length. */
	assert_refused(po__hdr_unstructured(&b, "Subject", "a\0b", 3),
		       PO_EHEADER, &b, "Subject");
	assert_refused(po__hdr_raw(&b, "X-A: a\0b", 8), PO_EHEADER, &b, NULL);
	/* Bad names. */
	assert_refused(po__hdr_unstructured(&b, "Sub ject", "x", 1),
		       PO_EHEADER, &b, NULL);
	assert_refused(po__hdr_raw(&b, "No colon here", 13), PO_EHEADER, &b,
		       NULL);
	assert_refused(po__hdr_addresses(&b, "", &a, 1), PO_EHEADER, &b,
		       NULL);
	p.name = "file name";
	assert_refused(po__hdr_params(&b, "Content-Type", "text/plain", &p,
				      1),
		       PO_EHEADER, &b, "Content-Type");
	p.name = "name*";
	assert_refused(po__hdr_params(&b, "Content-Type", "text/plain", &p,
				      1),
		       PO_EHEADER, &b, "Content-Type");
	p.name = "filename";
	assert_refused(po__hdr_params(&b, "Content-Type", "text plain", &p,
				      1),
		       PO_EHEADER, &b, "Content-Type");
	/* Invalid UTF-8. */
	assert_refused(po__hdr_unstructured(&b, "Subject", "\xc3(", 2),
		       PO_EUTF8, &b, "Subject");
	assert_refused(po__hdr_raw(&b, "X-A: \xed\xa0\x80", 8), PO_EUTF8, &b,
		       "X-A");
	a.display = "\xff";
	assert_refused(po__hdr_addresses(&b, "To", &a, 1), PO_EUTF8, &b,
		       "To");
	a.display = NULL;
	p.value = "\xc0\x80";
	assert_refused(po__hdr_params(&b, "Content-Type", "text/plain", &p,
				      1),
		       PO_EUTF8, &b, "Content-Type");
	/* No address at all; white space or controls in one. */
	assert_refused(po__hdr_addresses(&b, "To", &a, 0), PO_EINVAL, &b,
		       "To");
	a.spec = "";
	assert_refused(po__hdr_addresses(&b, "To", &a, 1), PO_EADDRESS, &b,
		       "To");
	a.spec = " ";
	assert_refused(po__hdr_addresses(&b, "To", &a, 1), PO_EADDRESS, &b,
		       "To");
	a.spec = "a b@c";
	assert_refused(po__hdr_addresses(&b, "To", &a, 1), PO_EADDRESS, &b,
		       "a b@c");
	a.spec = "a\tb@c";
	assert_refused(po__hdr_addresses(&b, "To", &a, 1), PO_EADDRESS, &b,
		       "To");
	a.spec = "\"a b\"@c";
	assert_po_ok(po__hdr_addresses(&b, "To", &a, 1));
	assert_string_equal(b.p + 4, "To: \"a b\"@c\r\n");
	po__buf_free(&b);
}

/* ---------------------------------------------------------------------
 * The Python oracle
 */

static const char *const pieces[] = {
	"hello", "world", "Re:", "x", "a.b", "(c)", "[tag]", "100%", "a_b",
	"?", "=", "=?", "?=", "=?utf-8?q?x?=", "\"quoted\"", "back\\slash",
	"it's", "<>", ",", ";", "@", "_", "-", "Zo\xc3\xab",
	"caf\xc3\xa9", "na\xc3\xafve", "Gr\xc3\xbc\xc3\x9f" "e",
	"\xc3\x86r\xc3\xb8sk\xc3\xb8" "bing", "\xc3\x91" "and\xc3\xba",
	"\xce\xb1\xce\xb2\xce\xb3",
	"\xce\x9a\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xad\xcf\x81\xce\xb1",
	"\xe4\xb8\xad\xe6\x96\x87", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
	"\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4",
	"\xe6\xbc\xa2\xe5\xad\x97\xe3\x81\x8b\xe3\x81\xaa",
	"\xf0\x9f\x98\x80", "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd",
	"\xf0\x9f\x87\xa9\xf0\x9f\x87\xaa",
	"\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f"
	"\x91\xa7",
	"supercalifragilisticexpialidocious",
	"averyveryveryveryveryveryveryveryveryveryveryveryveryverylongword"
	"thatcannotfit",
};

static const char *const seps[] = {" ", " ", " ", " ", "  ", "   ", "\t",
				   "", ""};

/* A random text of up to maxp pieces; blanks at the ends sometimes. */
static size_t random_text(char *out, size_t cap, size_t maxp, int blanks)
{
	size_t n = 0, np = 1 + rnd() % maxp;

	out[0] = '\0';
	if (blanks && rnd() % 8 == 0)
		strcat(out, rnd() % 2 ? " " : "  ");
	for (size_t i = 0; i < np; i++) {
		const char *p = pieces[rnd() % NELEM(pieces)];
		const char *s = seps[rnd() % NELEM(seps)];

		n = strlen(out);
		if (n + strlen(p) + strlen(s) + 4 >= cap)
			break;
		if (i)
			strcat(out, s);
		strcat(out, p);
	}
	if (blanks && rnd() % 8 == 0)
		strcat(out, rnd() % 2 ? " " : "\t");
	return strlen(out);
}

static void oracle_unstructured(FILE *f, const char *name, const char *v,
				size_t n)
{
	po__buf b = PO__BUF_INIT;

	assert_po_ok(po__hdr_unstructured(&b, name, v, n));
	fputs("{\"kind\": \"unstructured\", \"soft\": true, \"name\": ", f);
	tc_json_str(f, name, strlen(name));
	fputs(", \"field\": ", f);
	tc_json_str(f, b.p, b.len);
	fputs(", \"value\": ", f);
	tc_json_str(f, v, n);
	fputs("}\n", f);
	po__buf_free(&b);
}

static void oracle_addresses(FILE *f, const po__addr *l, size_t n)
{
	po__buf b = PO__BUF_INIT;

	assert_po_ok(po__hdr_addresses(&b, "To", l, n));
	fputs("{\"kind\": \"addresses\", \"soft\": true, \"name\": \"To\", "
	      "\"field\": ",
	      f);
	tc_json_str(f, b.p, b.len);
	fputs(", \"addrs\": [", f);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ", [" : "[", f);
		if (l[i].display)
			tc_json_str(f, l[i].display, strlen(l[i].display));
		else
			fputs("null", f);
		fputs(", ", f);
		tc_json_str(f, l[i].spec, strlen(l[i].spec));
		fputs("]", f);
	}
	fputs("]}\n", f);
	po__buf_free(&b);
}

/* An ASCII parameter value stays one quoted-string, however long: then
 * its line may exceed 78. */
static int params_soft(const po__param *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *v = p[i].value;
		size_t len = strlen(p[i].name) + 5;
		int plain = !strstr(v, "=?");

		for (; *v; v++) {
			plain &= *v >= ' ' && *v < 127;
			len += 1 + (*v == '"' || *v == '\\');
		}
		if (plain && len > PO__HDR_SOFT)
			return 0;
	}
	return 1;
}

static void oracle_params(FILE *f, const char *name, const char *value,
			  const po__param *p, size_t n)
{
	po__buf b = PO__BUF_INIT;

	assert_po_ok(po__hdr_params(&b, name, value, p, n));
	fprintf(f, "{\"kind\": \"params\", \"soft\": %s, \"name\": ",
		params_soft(p, n) ? "true" : "false");
	tc_json_str(f, name, strlen(name));
	fputs(", \"field\": ", f);
	tc_json_str(f, b.p, b.len);
	fputs(", \"value\": ", f);
	tc_json_str(f, value, strlen(value));
	fputs(", \"params\": [", f);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ", [" : "[", f);
		tc_json_str(f, p[i].name, strlen(p[i].name));
		fputs(", ", f);
		tc_json_str(f, p[i].value, strlen(p[i].value));
		fputs("]", f);
	}
	fputs("]}\n", f);
	po__buf_free(&b);
}

static void write_oracle_records(FILE *f)
{
	static const char *const names[] = {
		"Subject", "Comments", "Content-Description",
		"X-A-Long-Header-Name-For-Testing-The-First-Line",
	};
	static const char *const fixed_names[] = {
		"Doe, Jane", "O'Brien, Miles", "\"Quoted\" Name",
		"Back\\slash", "John Q. Public", "a  b", " lead", "trail ",
		"=?utf-8?q?x?=", "J\xc3\xb6rg M\xc3\xbcller", "(comment)",
		"<angle>", "a@b", "x;y", "\xc3\x89l\xc3\xa9onore Dupont-"
		"Lefran\xc3\xa7ois de la Tour d'Auvergne et de Saint-"
		"\xc3\x89milion",
	};
	static const char *const files[] = {
		"report.pdf", "my file.txt", "quote\"s.txt", "back\\slash.txt",
		"r\xc3\xa9sum\xc3\xa9.pdf", "=?weird?=.txt", "  spaced  .txt",
		"\xe4\xb8\xad\xe6\x96\x87\xe6\x96\x87\xe4\xbb\xb6.docx",
		"semi;colon,comma.txt", "100%.txt", "it's.txt", "tab\tname",
	};
	char text[700], dn[60][200], sp[60][40], fname[900];
	po__addr l[60];

	for (int i = 0; i < 1500; i++) {
		size_t n = random_text(text, sizeof text, i % 10 ? 12 : 60, 1);

		oracle_unstructured(f, names[i % 4], text, n);
	}
	for (int i = 0; i < 400; i++) {
		size_t n = 1 + rnd() % (i % 20 ? 4 : 60);

		for (size_t j = 0; j < n; j++) {
			snprintf(sp[j], sizeof sp[j], "u%u.%zu@ex-%u.example",
				 rnd() % 1000, j, rnd() % 10);
			if (rnd() % 5 == 0) {
				snprintf(dn[j], sizeof dn[j], "%s",
					 fixed_names[rnd() %
						     NELEM(fixed_names)]);
			} else {
				random_text(dn[j], sizeof dn[j],
					    i % 10 ? 4 : 12, 1);
			}
			l[j].display = rnd() % 6 == 0 ? NULL : dn[j];
			l[j].spec = sp[j];
		}
		oracle_addresses(f, l, n);
	}
	for (int i = 0; i < 400; i++) {
		po__param p[3] = {{"filename", fname}, {"size", "1234"},
				  {"name", "x"}};

		if (i % 2) {
			snprintf(fname, sizeof fname, "%s",
				 files[rnd() % NELEM(files)]);
		} else {
			random_text(fname, i % 8 ? 100 : sizeof fname,
				    i % 8 ? 6 : 60, 1);
		}
		oracle_params(f, "Content-Disposition",
			      i % 3 ? "attachment" : "inline", p,
			      1 + (size_t)(i % 3));
		p[0].name = "name";
		p[2].name = "charset";
		p[2].value = "utf-8";
		oracle_params(f, "Content-Type", "application/pdf",
			      p + (i % 2), 2);
	}
}

static void test_python_oracle(void **state)
{
	char path[] = "/tmp/po-header-oracle-XXXXXX", cmd[256], out[4096];
	int fd, status;
	FILE *f, *p;
	size_t got;

	(void)state;
	if (access("/usr/bin/python3", X_OK) != 0)
		skip();
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	write_oracle_records(f);
	assert_int_equal(fclose(f), 0);
	snprintf(cmd, sizeof cmd, ORACLE " %s 2>&1", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	got = fread(out, 1, sizeof out - 1, p);
	out[got] = '\0';
	/* Drain the rest so that the oracle is not killed by SIGPIPE. */
	while (fgetc(p) != EOF)
		;
	status = pclose(p);
	unlink(path);
	if (status != 0 || strncmp(out, "ok ", 3) != 0)
		print_error("%s\n", out);
	else
		print_message("oracle: %s", out);
	assert_int_equal(status, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_unstructured_ascii),
		cmocka_unit_test(test_unstructured_long_ascii_folds),
		cmocka_unit_test(test_unstructured_encoded),
		cmocka_unit_test(test_encoded_word_choice),
		cmocka_unit_test(test_encoded_word_boundaries),
		cmocka_unit_test(test_unstructured_1mb),
		cmocka_unit_test(test_raw),
		cmocka_unit_test(test_raw_too_long),
		cmocka_unit_test(test_addresses_simple),
		cmocka_unit_test(test_addresses_non_ascii),
		cmocka_unit_test(test_addresses_60),
		cmocka_unit_test(test_addresses_long_display),
		cmocka_unit_test(test_params_ascii),
		cmocka_unit_test(test_params_rfc2231),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_python_oracle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
