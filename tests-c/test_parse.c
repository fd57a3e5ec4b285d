/* test_parse.c - the MIME reader (po_entity_parse, po_decode_header):
 * letters written by an independent writer (Python's email package,
 * tests-c/reader_oracle.py) and by our own renderer read back exactly;
 * RFC 2047, RFC 2231 and multipart details; and input that is not as it
 * should be read as well as it can be, with the problem noted, never an
 * error. */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wire.h"

/* ---------------------------------------------------------------------
 * Helpers */

static po_entity *parse_s(const char *s)
{
	po_entity *e = NULL;

	assert_po_ok(po_entity_parse(s, strlen(s), &e));
	assert_non_null(e);
	return e;
}

/* 1 if some problem of e contains needle. */
static int has_problem(const po_entity *e, const char *needle)
{
	size_t i;

	for (i = 0; i < po_entity_problem_count(e); i++)
		if (strstr(po_entity_problem(e, i), needle))
			return 1;
	return 0;
}

static void print_problems(const po_entity *e)
{
	size_t i;

	for (i = 0; i < po_entity_problem_count(e); i++)
		print_error("problem: %s\n", po_entity_problem(e, i));
}

/* The leaves of e, depth first. */
static size_t leaves(const po_entity *e, const po_entity **out, size_t max,
		     size_t n)
{
	size_t i, k = po_entity_part_count(e);

	if (k == 0) {
		if (n < max)
			out[n] = e;
		return n + 1;
	}
	for (i = 0; i < k; i++)
		n = leaves(po_entity_part(e, i), out, max, n);
	return n;
}

/* "-" is NULL, "=" empty, else hex. */
static char *unhex(const char *h, size_t *len)
{
	size_t n = strlen(h), i;
	char *out;

	if (strcmp(h, "-") == 0)
		return NULL;
	out = malloc(n / 2 + 1);
	assert_non_null(out);
	if (strcmp(h, "=") == 0)
		n = 0;
	for (i = 0; i + 1 < n; i += 2) {
		unsigned v;

		assert_int_equal(sscanf(h + i, "%2x", &v), 1);
		out[i / 2] = (char)v;
	}
	out[n / 2] = '\0';
	if (len)
		*len = n / 2;
	return out;
}

/* Text with CRLF made LF, malloc'd. */
static char *lf_only(const char *s, size_t n, size_t *len)
{
	char *out = malloc(n + 1);
	size_t i, k = 0;

	assert_non_null(out);
	for (i = 0; i < n; i++)
		if (!(s[i] == '\r' && i + 1 < n && s[i + 1] == '\n'))
			out[k++] = s[i];
	out[k] = '\0';
	*len = k;
	return out;
}

static void assert_opt_str(const char *expected, const char *got,
			   const char *what)
{
	if (!expected && !got)
		return;
	if (!expected || !got || strcmp(expected, got) != 0) {
		print_error("%s: expected \"%s\", got \"%s\"\n", what,
			    expected ? expected : "(none)",
			    got ? got : "(none)");
		fail();
	}
}

/* ---------------------------------------------------------------------
 * Letters from an independent writer */

static void check_oracle_letter(const char *base)
{
	char path[512], line[1 << 16];
	const po_entity *leaf[64];
	size_t len, nleaves, k = 0;
	char *raw;
	po_entity *root;
	FILE *f;

	snprintf(path, sizeof path, "%s.eml", base);
	raw = tw_read_file(path, &len);
	assert_non_null(raw);
	assert_po_ok(po_entity_parse(raw, len, &root));
	if (po_entity_problem_count(root)) {
		print_error("%s\n", base);
		print_problems(root);
	}
	assert_int_equal(po_entity_problem_count(root), 0);
	nleaves = leaves(root, leaf, 64, 0);
	snprintf(path, sizeof path, "%s.txt", base);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof line, f)) {
		char *field[8], *save = NULL, *tok;
		int n = 0;

		line[strcspn(line, "\n")] = '\0';
		for (tok = strtok_r(line, "\t", &save); tok && n < 8;
		     tok = strtok_r(NULL, "\t", &save))
			field[n++] = tok;
		if (field[0][0] == 'H') {
			char *name = unhex(field[1], NULL);
			char *value = unhex(field[2], NULL);

			assert_int_equal(n, 3);
			assert_opt_str(value, po_entity_header(root, name),
				       name);
			free(name);
			free(value);
		} else {
			const po_entity *e;
			char *type, *filename, *cid, *disp, *body, *text;
			size_t blen, tlen, glen, nlen;
			const char *got;
			char *norm;

			assert_int_equal(n, 8);
			assert_true(k < nleaves);
			e = leaf[k++];
			type = unhex(field[1], NULL);
			filename = unhex(field[2], NULL);
			cid = unhex(field[3], NULL);
			disp = unhex(field[4], NULL);
			body = unhex(field[6], &blen);
			text = unhex(field[7], &tlen);
			assert_opt_str(type, po_entity_type(e), "type");
			assert_opt_str(filename, po_entity_filename(e),
				       "filename");
			assert_opt_str(cid, po_entity_content_id(e), "cid");
			assert_opt_str(disp, po_entity_disposition(e),
				       "disposition");
			assert_int_equal(po_entity_is_attachment(e),
					 atoi(field[5]));
			got = po_entity_body(e, &glen);
			if (body) { /* Python gives none for a letter */
				assert_int_equal(glen, blen);
				assert_memory_equal(got, body, blen);
			}
			got = po_entity_text(e, &glen);
			if (text) {
				assert_non_null(got);
				norm = lf_only(got, glen, &nlen);
				assert_int_equal(nlen, tlen);
				assert_memory_equal(norm, text, tlen);
				free(norm);
			} else {
				assert_null(got);
			}
			assert_int_equal(po_entity_problem_count(e), 0);
			free(type);
			free(filename);
			free(cid);
			free(disp);
			free(body);
			free(text);
		}
	}
	if (k != nleaves)
		print_error("%s: %zu leaves, Python read %zu\n", base, nleaves,
			    k);
	assert_int_equal(k, nleaves);
	fclose(f);
	po_entity_free(root);
	free(raw);
}

static void test_python_letters(void **state)
{
	char dir[] = "/tmp/po-reader-XXXXXX", cmd[256], base[512];
	const char *names[] = {"01-plain",
			       "02-utf8-base64",
			       "03-utf8-quoted-printable",
			       "04-utf8-8bit",
			       "05-charset-iso-8859-1",
			       "06-charset-windows-1252",
			       "07-charset-koi8-r",
			       "08-charset-iso-2022-jp",
			       "09-charset-shift_jis",
			       "10-related",
			       "11-attachments",
			       "12-lf"};
	size_t i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests-c/reader_oracle.py %s",
		 dir);
	assert_int_equal(system(cmd), 0);
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(base, sizeof base, "%s/%s", dir, names[i]);
		check_oracle_letter(base);
	}
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* ---------------------------------------------------------------------
 * Letters from our own renderer */

static void test_own_letters(void **state)
{
	static const unsigned char png[] = {137, 'P', 'N', 'G', 13, 10, 26,
					    10, 0, 0, 13, 10, 13, 255};
	const char *subject = "Grüße aus Köln: ein sehr langer Betreff, der "
			      "gefaltet werden muss, ganz sicher ✓ 🎉";
	const char *name = "Überweisung März 2024 – sehr langer Dateiname "
			   "für den Test, mit Komma; und Semikolon.bin";
	unsigned char bin[600];
	po_letter *l = po_letter_new();
	po_part *mixed, *alt, *rel, *p;
	const po_entity *leaf[16];
	po_entity *root;
	size_t len, n, i;
	char *wire;
	const void *body;

	(void)state;
	for (i = 0; i < sizeof bin; i++)
		bin[i] = (unsigned char)(i * 7);
	assert_po_ok(po_letter_set_from(l, "Jörg Müller <joerg@example.com>"));
	assert_po_ok(po_letter_add_to(l, "Zoë Ångström <zoe@example.net>"));
	assert_po_ok(po_letter_add_bcc(l, "hidden@example.net"));
	assert_po_ok(po_letter_set_subject(l, subject));
	mixed = po_part_new_multipart("mixed");
	alt = po_part_new_multipart("alternative");
	rel = po_part_new_multipart("related");
	assert_po_ok(po_part_add(alt, po_part_new_text("Plain ✓\n.\n",
						       PO_ZERO_TERMINATED,
						       NULL)));
	p = po_part_new_text("<p>Hi <img src=\"cid:logo@x\"></p>",
			     PO_ZERO_TERMINATED, NULL);
	assert_po_ok(po_part_set_type(p, "text/html"));
	assert_po_ok(po_part_add(rel, p));
	p = po_part_new_bytes(png, sizeof png);
	assert_po_ok(po_part_set_type(p, "image/png"));
	assert_po_ok(po_part_set_id(p, "logo@x"));
	assert_po_ok(po_part_add(rel, p));
	assert_po_ok(po_part_add(alt, rel));
	assert_po_ok(po_part_add(mixed, alt));
	p = po_part_new_bytes(bin, sizeof bin);
	assert_po_ok(po_part_set_disposition(p, PO_DISPOSITION_ATTACHMENT,
					     name));
	assert_po_ok(po_part_add(mixed, p));
	assert_po_ok(po_letter_set_body(l, mixed));
	wire = tw_render(l, &len);

	assert_po_ok(po_entity_parse(wire, len, &root));
	assert_int_equal(po_entity_problem_count(root), 0);
	assert_string_equal(po_entity_header(root, "subject"), subject);
	assert_string_equal(po_entity_header(root, "From"),
			    "Jörg Müller <joerg@example.com>");
	assert_string_equal(po_entity_header(root, "To"),
			    "Zoë Ångström <zoe@example.net>");
	assert_null(po_entity_header(root, "Bcc"));
	assert_string_equal(po_entity_header(root, "Message-ID"),
			    po_letter_message_id(l));
	assert_string_equal(po_entity_type(root), "multipart/mixed");
	assert_string_equal(po_entity_param(root, "boundary"),
			    po_part_boundary(mixed));
	n = leaves(root, leaf, 16, 0);
	assert_int_equal(n, 4);
	{
		const char *t = po_entity_text(leaf[0], &len);
		char *norm = lf_only(t, len, &len);

		assert_string_equal(norm, "Plain ✓\n.\n");
		free(norm);
	}
	assert_int_equal(po_entity_is_attachment(leaf[0]), 0);
	assert_string_equal(po_entity_type(leaf[1]), "text/html");
	assert_string_equal(po_entity_text(leaf[1], NULL),
			    "<p>Hi <img src=\"cid:logo@x\"></p>");
	assert_string_equal(po_entity_type(leaf[2]), "image/png");
	assert_string_equal(po_entity_content_id(leaf[2]), "logo@x");
	assert_int_equal(po_entity_is_attachment(leaf[2]), 1);
	body = po_entity_body(leaf[2], &len);
	assert_int_equal(len, sizeof png);
	assert_memory_equal(body, png, sizeof png);
	assert_string_equal(po_entity_filename(leaf[3]), name);
	assert_string_equal(po_entity_disposition(leaf[3]), "attachment");
	assert_string_equal(po_entity_encoding(leaf[3]), "base64");
	body = po_entity_body(leaf[3], &len);
	assert_int_equal(len, sizeof bin);
	assert_memory_equal(body, bin, sizeof bin);
	assert_null(po_entity_text(leaf[3], &len));
	assert_int_equal(len, 0);
	for (i = 0; i < n; i++)
		assert_int_equal(po_entity_problem_count(leaf[i]), 0);
	po_entity_free(root);
	free(wire);
	po_letter_free(l);
}

/* ---------------------------------------------------------------------
 * Header fields and RFC 2047 */

static void check_decode(const char *in, const char *expected)
{
	char *out = NULL;

	assert_po_ok(po_decode_header(in, PO_ZERO_TERMINATED, &out));
	if (strcmp(out, expected) != 0) {
		print_error("%s -> \"%s\", expected \"%s\"\n", in, out,
			    expected);
		fail();
	}
	po_free(out);
}

static void test_decode_header(void **state)
{
	char *out = NULL;

	(void)state;
	/* RFC 2047 §8 */
	check_decode("(=?ISO-8859-1?Q?a?=)", "(a)");
	check_decode("(=?ISO-8859-1?Q?a?= b)", "(a b)");
	check_decode("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)");
	check_decode("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)");
	check_decode("(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)");
	check_decode("(=?ISO-8859-1?Q?a_b?=)", "(a b)");
	check_decode("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)");
	check_decode("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>",
		     "Keld Jørn Simonsen <keld@dkuug.dk>");
	check_decode("=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n"
		     "    =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=",
		     "If you can read this you understand the example.");
	/* a character split between two words; language suffix; charsets
	 * iconv knows */
	check_decode("=?utf-8?q?Gr=C3=BC=C3?= =?utf-8?q?=9Fe?=", "Grüße");
	check_decode("=?utf-8?b?R3LDvMOfZSDinJM=?=", "Grüße ✓");
	check_decode("=?utf-8*de?q?Gr=C3=BC=C3=9Fe?=", "Grüße");
	check_decode("=?windows-1252?q?=80_caf=E9?=", "€ café");
	check_decode("=?koi8-r?b?8NLJ18XU?=", "Привет");
	/* left as they are */
	check_decode("=?x-unknown-charset?q?abc?= x",
		     "=?x-unknown-charset?q?abc?= x");
	check_decode("=?utf-8?x?abc?=", "=?utf-8?x?abc?=");
	check_decode("=?utf-8?q?a b?=", "=?utf-8?q?a b?=");
	check_decode("=?utf-8?q?=ZZ?=", "=?utf-8?q?=ZZ?=");
	check_decode("=?utf-8?b?a$b?=", "=?utf-8?b?a$b?=");
	check_decode("=?../../x?q?a?=", "=?../../x?q?a?=");
	check_decode("a =? b ?= c", "a =? b ?= c");
	check_decode("plain, ümlauts kept", "plain, ümlauts kept");
	check_decode("", "");
	/* ill-formed UTF-8 and NUL become U+FFFD, in words too */
	check_decode("a\xff b", "a\xef\xbf\xbd b");
	check_decode("=?utf-8?q?a=00b=FF?=", "a\xef\xbf\xbd"
					      "b\xef\xbf\xbd");
	assert_int_equal(po_decode_header(NULL, 1, &out), PO_EINVAL);
	assert_po_ok(po_decode_header(NULL, 0, &out));
	assert_string_equal(out, "");
	po_free(out);
	assert_int_equal(po_decode_header("x", 1, NULL), PO_EINVAL);
	assert_po_ok(po_decode_header("a=?utf-8?q?b?=c", 5, &out));
	assert_string_equal(out, "a=?ut");
	po_free(out);
	po_free(NULL);
}

static void test_header_fields(void **state)
{
	po_entity *e;

	(void)state;
	e = parse_s("From sender@example.org Mon Jan  1 10:00:00 2024\n"
		    "Subject: folded\n"
		    "\t and continued  \n"
		    "X-Empty:\n"
		    "Old-Style : value\n"
		    "no colon here\n"
		    ": no name\n"
		    "X-Nul: a\001b\n"
		    "X-Bad: caf\xe9\n"
		    "Subject: second\n"
		    "\n"
		    "body\n");
	assert_int_equal(po_entity_header_count(e), 6);
	assert_string_equal(po_entity_header_name(e, 0), "Subject");
	assert_string_equal(po_entity_header_raw(e, 0),
			    "folded\t and continued");
	assert_string_equal(po_entity_header(e, "SUBJECT"),
			    "folded\t and continued");
	assert_string_equal(po_entity_header(e, "x-empty"), "");
	assert_string_equal(po_entity_header(e, "Old-Style"), "value");
	assert_string_equal(po_entity_header(e, "X-Nul"), "a\001b");
	assert_string_equal(po_entity_header(e, "X-Bad"), "caf\xef\xbf\xbd");
	assert_string_equal(po_entity_header_name(e, 5), "Subject");
	assert_null(po_entity_header_name(e, 6));
	assert_null(po_entity_header_raw(e, 6));
	assert_null(po_entity_header_text(e, 6));
	assert_null(po_entity_header(e, "X-Absent"));
	assert_true(has_problem(e, "3 lines of the header are not header "
				   "fields"));
	assert_string_equal(po_entity_text(e, NULL), "body\n");
	assert_string_equal(po_entity_type(e), "text/plain");
	assert_string_equal(po_entity_encoding(e), "7bit");
	po_entity_free(e);

	/* a NUL in a header value */
	{
		static const char nul[] = "Subject: a\0b\r\n\r\nx";

		assert_po_ok(po_entity_parse(nul, sizeof nul - 1, &e));
		assert_string_equal(po_entity_header(e, "Subject"),
				    "a\xef\xbf\xbd"
				    "b");
		po_entity_free(e);
	}
}

/* ---------------------------------------------------------------------
 * Structured fields: parameters, RFC 2231 */

static void test_parameters(void **state)
{
	po_entity *e;

	(void)state;
	e = parse_s("Content-Type: Application/Octet-Stream; name=\"a\\\"b;c\"; "
		    "x=1\r\n"
		    "Content-Disposition: Attachment; filename*0*=utf-8''"
		    "%C3%9Cber; filename*1*=%20M%C3%A4rz;\r\n"
		    " filename*2=\" plain.txt\"; filename=\"fallback.txt\"; "
		    "size=3\r\n"
		    "Content-ID:  <part.1@example>  \r\n"
		    "Content-Transfer-Encoding: BASE64\r\n"
		    "\r\n"
		    "AP9\r\n4\r\n");
	assert_string_equal(po_entity_type(e), "application/octet-stream");
	assert_string_equal(po_entity_param(e, "NAME"), "a\"b;c");
	assert_string_equal(po_entity_param(e, "x"), "1");
	assert_string_equal(po_entity_disposition(e), "attachment");
	assert_string_equal(po_entity_disposition_param(e, "filename"),
			    "Über März plain.txt");
	assert_string_equal(po_entity_disposition_param(e, "size"), "3");
	assert_string_equal(po_entity_filename(e), "Über März plain.txt");
	assert_string_equal(po_entity_content_id(e), "part.1@example");
	assert_string_equal(po_entity_encoding(e), "base64");
	{
		size_t len;
		const unsigned char *b = po_entity_body(e, &len);

		assert_int_equal(len, 3);
		assert_int_equal(b[0], 0);
		assert_int_equal(b[1], 255);
		assert_int_equal(b[2], 'x');
	}
	assert_null(po_entity_param(e, "absent"));
	assert_null(po_entity_param(e, NULL));
	po_entity_free(e);

	/* the charset of an RFC 2231 value, a language, the name from
	 * Content-Type; text converted to UTF-8 */
	e = parse_s("Content-Type: text/plain; charset=\"ISO-8859-1\"; "
		    "name*=iso-8859-1'de'%E4.txt\r\n\r\nGr\xfc\xdf"
		    "e\r\n");
	assert_string_equal(po_entity_filename(e), "ä.txt");
	assert_string_equal(po_entity_param(e, "charset"), "ISO-8859-1");
	assert_string_equal(po_entity_text(e, NULL), "Grüße\r\n");
	assert_int_equal(po_entity_is_attachment(e), 1);
	po_entity_free(e);

	/* RFC 2047 words in a plain file name (a common fallback) */
	e = parse_s("Content-Type: image/png\r\nContent-Disposition: inline; "
		    "filename=\"=?utf-8?q?=C3=BC.png?=\"\r\n\r\nx");
	assert_string_equal(po_entity_filename(e), "ü.png");
	assert_string_equal(po_entity_disposition(e), "inline");
	po_entity_free(e);

	/* malformed: the default type, noted */
	e = parse_s("Content-Type: text\r\n\r\nx");
	assert_string_equal(po_entity_type(e), "text/plain");
	assert_true(has_problem(e, "malformed Content-Type"));
	po_entity_free(e);
}

/* ---------------------------------------------------------------------
 * Multiparts */

static void test_multipart(void **state)
{
	po_entity *e;
	const po_entity *p;

	(void)state;
	/* preamble, transport padding, epilogue; a boundary that is a
	 * prefix of a nested one */
	e = parse_s("Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
		    "preamble --b not a delimiter\r\n"
		    "--b\r\n"
		    "Content-Type: text/plain\r\n\r\n"
		    "one\r\n\r\n"
		    "--b   \r\n"
		    "Content-Type: multipart/alternative; boundary=b2\r\n\r\n"
		    "--b2\r\n\r\ninner\r\n"
		    "--b2--\r\n"
		    "\r\n"
		    "--b--\r\n"
		    "epilogue\r\n--b\r\nnot a part\r\n");
	assert_int_equal(po_entity_problem_count(e), 0);
	assert_int_equal(po_entity_part_count(e), 2);
	assert_string_equal(po_entity_text(po_entity_part(e, 0), NULL),
			    "one\r\n");
	p = po_entity_part(e, 1);
	assert_string_equal(po_entity_type(p), "multipart/alternative");
	assert_int_equal(po_entity_part_count(p), 1);
	assert_string_equal(po_entity_text(po_entity_part(p, 0), NULL),
			    "inner");
	assert_int_equal(po_entity_is_attachment(p), 0);
	assert_null(po_entity_part(e, 2));
	assert_null(po_entity_part(po_entity_part(e, 0), 0));
	po_entity_free(e);

	/* digest: the parts are letters */
	e = parse_s("Content-Type: multipart/digest; boundary=d\n\n--d\n\n"
		    "Subject: one\n\nx\n--d--\n");
	assert_string_equal(po_entity_type(po_entity_part(e, 0)),
			    "message/rfc822");
	po_entity_free(e);

	/* truncated: the closing boundary is missing */
	e = parse_s("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
		    "Content-Type: text/plain\r\n\r\ncut sh");
	assert_int_equal(po_entity_part_count(e), 1);
	assert_string_equal(po_entity_text(po_entity_part(e, 0), NULL),
			    "cut sh");
	assert_true(has_problem(e, "closing boundary is missing"));
	po_entity_free(e);

	/* the boundary never occurs */
	e = parse_s("Content-Type: multipart/mixed; boundary=b\r\n\r\nbody\r\n");
	assert_int_equal(po_entity_part_count(e), 0);
	assert_true(has_problem(e, "boundary never occurs"));
	assert_int_equal(po_entity_is_attachment(e), 1);
	po_entity_free(e);

	/* no boundary parameter */
	e = parse_s("Content-Type: multipart/mixed\r\n\r\nbody\r\n");
	assert_true(has_problem(e, "without a boundary"));
	{
		size_t len;

		assert_memory_equal(po_entity_body(e, &len), "body\r\n", 6);
		assert_int_equal(len, 6);
	}
	po_entity_free(e);
}

static void test_deep_nesting(void **state)
{
	char *s = malloc(200 * 80), *p = s;
	po_entity *e;
	const po_entity *q;
	int i, depth = 0;

	(void)state;
	assert_non_null(s);
	for (i = 0; i < 120; i++)
		p += sprintf(p, "Content-Type: multipart/mixed; boundary=b%d"
				"\r\n\r\n--b%d\r\n",
			     i, i);
	p += sprintf(p, "\r\ndeep\r\n");
	*p = '\0';
	e = parse_s(s);
	for (q = e; po_entity_part_count(q); q = po_entity_part(q, 0))
		depth++;
	assert_int_equal(depth, 50);
	assert_true(has_problem(q, "nested deeper than 50"));
	po_entity_free(e);
	free(s);
}

/* ---------------------------------------------------------------------
 * Bodies: transfer encodings and charsets */

static void test_bodies(void **state)
{
	po_entity *e;
	size_t len;
	const char *t;

	(void)state;
	/* quoted-printable: soft breaks, padding, =XX of either case, a
	 * stray "=" kept */
	e = parse_s("Content-Transfer-Encoding: quoted-printable\r\n\r\n"
		    "a=3Db=3d  \r\nsoft =\r\nline\r\ntab=09end = x =Z");
	t = po_entity_body(e, &len);
	assert_int_equal(len, strlen("a=b=\r\nsoft line\r\ntab\tend = x =Z"));
	assert_memory_equal(t, "a=b=\r\nsoft line\r\ntab\tend = x =Z", len);
	po_entity_free(e);

	/* bad base64: counted, the rest decoded */
	e = parse_s("Content-Type: text/plain\r\n"
		    "Content-Transfer-Encoding: base64\r\n\r\n"
		    "aGVs*bG8=\r\nignored after the pad");
	assert_string_equal(po_entity_text(e, NULL), "hello");
	assert_true(has_problem(e, "bad base64: 1 character"));
	po_entity_free(e);

	/* an unknown transfer encoding: shown undecoded */
	e = parse_s("Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644");
	assert_string_equal(po_entity_text(e, NULL), "begin 644");
	assert_true(has_problem(e, "unknown transfer encoding \"x-uuencode\""));
	po_entity_free(e);

	/* an unknown charset: read as UTF-8, noted */
	e = parse_s("Content-Type: text/plain; charset=x-martian\r\n\r\n"
		    "caf\xc3\xa9");
	assert_string_equal(po_entity_text(e, NULL), "café");
	assert_true(has_problem(e, "unknown charset \"x-martian\""));
	po_entity_free(e);

	/* a charset name that is not a name */
	e = parse_s("Content-Type: text/plain; charset=\"../x\"\r\n\r\nabc");
	assert_string_equal(po_entity_text(e, NULL), "abc");
	assert_true(has_problem(e, "unknown charset"));
	po_entity_free(e);

	/* us-ascii (and no charset) with 8-bit octets: UTF-8 */
	e = parse_s("Content-Type: text/plain; charset=us-ascii\r\n\r\n"
		    "caf\xc3\xa9");
	assert_string_equal(po_entity_text(e, NULL), "café");
	assert_int_equal(po_entity_problem_count(e), 0);
	po_entity_free(e);

	/* ill-formed UTF-8: U+FFFD, counted; NUL kept in text */
	{
		static const char s[] = "Content-Type: text/plain; "
					"charset=utf-8\r\n\r\na\xff"
					"b\0c\xe2\x82";

		assert_po_ok(po_entity_parse(s, sizeof s - 1, &e));
		t = po_entity_text(e, &len);
		assert_int_equal(len, 10);
		assert_memory_equal(t, "a\xef\xbf\xbd"
				       "b\0c\xef\xbf\xbd",
				    10);
		assert_true(has_problem(e, "2 octet sequences are not "
					   "valid in charset utf-8"));
		po_entity_free(e);
	}

	/* an invalid octet in a multi-octet charset */
	e = parse_s("Content-Type: text/plain; charset=shift_jis\r\n\r\n"
		    "\x93\xfa\xff\x96{");
	assert_string_equal(po_entity_text(e, NULL), "日\xef\xbf\xbd本");
	assert_true(has_problem(e, "not valid in charset shift_jis"));
	po_entity_free(e);

	/* a stateful charset: the shift sequence is honoured */
	e = parse_s("Content-Type: text/plain; charset=iso-2022-jp\r\n\r\n"
		    "\x1b$BF|K\\\x1b(B!");
	assert_string_equal(po_entity_text(e, NULL), "日本!");
	po_entity_free(e);
}

/* ---------------------------------------------------------------------
 * Input that is not a letter */

static void test_not_a_letter(void **state)
{
	static const unsigned char png[] = {137, 'P', 'N', 'G', 13, 10, 26,
					    10, 0, 0, 0, 13, 'I', 'H', 'D',
					    'R', 0xff, 0xfe};
	po_entity *e;
	size_t len;

	(void)state;
	assert_po_ok(po_entity_parse(png, sizeof png, &e));
	assert_true(has_problem(e, "does not look like a letter"));
	assert_int_equal(po_entity_header_count(e), 0);
	po_entity_free(e);

	assert_po_ok(po_entity_parse(NULL, 0, &e));
	assert_true(has_problem(e, "empty"));
	assert_string_equal(po_entity_type(e), "text/plain");
	assert_string_equal(po_entity_text(e, &len), "");
	po_entity_free(e);

	e = parse_s("Subject: cut short\r\nFrom: a@b");
	assert_string_equal(po_entity_header(e, "From"), "a@b");
	assert_true(has_problem(e, "does not end with an empty line"));
	po_entity_free(e);

	assert_int_equal(po_entity_parse(NULL, 3, &e), PO_EINVAL);
	assert_int_equal(po_entity_parse("x", 1, NULL), PO_EINVAL);
	po_entity_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_python_letters),
		cmocka_unit_test(test_own_letters),
		cmocka_unit_test(test_decode_header),
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_parameters),
		cmocka_unit_test(test_multipart),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_not_a_letter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
