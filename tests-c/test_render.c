/* test_render.c - the wire form: field order and presence, MIME
 * structure, encodings chosen, line endings, chunked pulling, readers,
 * and errors before the first byte. */
#include "check.h"

#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "codec.h"
#include "po_private.h"

/* Render the whole letter in chunks of `chunk` bytes. */
static char *render_chunked(po_letter *l, unsigned flags, size_t chunk,
			    size_t *len_out)
{
	po_reader *r = NULL;
	char *out = NULL;
	size_t len = 0, n;

	assert_po_ok(po_reader_new(l, flags, &r));
	for (;;) {
		out = realloc(out, len + chunk + 1);
		assert_non_null(out);
		assert_po_ok(po_reader_read(r, out + len, chunk, &n));
		if (n == 0)
			break;
		assert_true(n <= chunk);
		len += n;
	}
	out[len] = '\0';
	po_reader_free(r);
	if (len_out)
		*len_out = len;
	return out;
}

static char *render(po_letter *l, unsigned flags, size_t *len_out)
{
	return render_chunked(l, flags, 4096, len_out);
}

static po_letter *simple_letter(const char *body)
{
	po_letter *l = po_letter_new();

	assert_po_ok(po_letter_set_from(l, "Ann <ann@example.com>"));
	assert_po_ok(po_letter_add_to(l, "bob@example.com"));
	assert_po_ok(po_letter_set_body(
		l, po_part_new_text(body, PO_ZERO_TERMINATED, NULL)));
	return l;
}

/* Every line ends in CRLF; no bare CR or LF; no line over 998. */
static void assert_canonical(const char *s, size_t n)
{
	size_t i, col = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '\r') {
			assert_true(i + 1 < n && s[i + 1] == '\n');
			i++;
			col = 0;
			continue;
		}
		assert_true(s[i] != '\n');
		col++;
		assert_true(col <= 998);
	}
}

/* The header block (up to the first blank line). */
static char *headers_of(const char *msg)
{
	const char *end = strstr(msg, "\r\n\r\n");

	assert_non_null(end);
	return strndup(msg, (size_t)(end - msg) + 2);
}

static int matches(const char *s, const char *re)
{
	regex_t rx;
	int rc;

	assert_int_equal(regcomp(&rx, re, REG_EXTENDED | REG_NEWLINE), 0);
	rc = regexec(&rx, s, 0, NULL, 0);
	regfree(&rx);
	return rc == 0;
}

static void test_simple_letter(void **state)
{
	po_letter *l = simple_letter("Hello,\nworld.\n");
	char *msg, *h;
	size_t n;

	(void)state;
	assert_po_ok(po_letter_add_cc(l, "cc@example.com"));
	assert_po_ok(po_letter_add_bcc(l, "secret@example.com"));
	assert_po_ok(po_letter_set_subject(l, "Test"));
	assert_po_ok(po_letter_add_reply_to(l, "r@example.com"));
	assert_po_ok(po_letter_add_header_line(l, "X-Test: yes"));
	msg = render(l, 0, &n);
	assert_canonical(msg, n);
	h = headers_of(msg);
	/* Allegro's order, then Date and Message-ID, then the caller's */
	assert_true(matches(h, "^From: Ann <ann@example.com>\r\n"
			       "To: bob@example.com\r\n"
			       "Cc: cc@example.com\r\n"
			       "Subject: Test\r\n"
			       "Reply-To: r@example.com\r\n"
			       "Date: [A-Z][a-z]{2}, [0-9]{1,2} [A-Z][a-z]{2} "
			       "[0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} "
			       "[-+][0-9]{4}\r\n"
			       "Message-ID: <[0-9]{14}\\.[0-9a-f]{20}@"
			       "example\\.com>\r\n"
			       "X-Test: yes\r\n"
			       "MIME-Version: 1.0\r\n"
			       "Content-Type: text/plain;\r\n    charset=\"utf-8\"\r\n"
			       "Content-Transfer-Encoding: 7bit\r\n$"));
	assert_null(strstr(msg, "secret"));
	assert_null(strstr(msg, "Bcc"));
	/* the body, line endings made canonical, nothing added */
	assert_string_equal(strstr(msg, "\r\n\r\n") + 4,
			    "Hello,\r\nworld.\r\n");
	/* the Message-ID is kept for later renders */
	assert_non_null(po_letter_message_id(l));
	assert_non_null(strstr(msg, po_letter_message_id(l)));
	free(msg);
	msg = render(l, 0, NULL);
	assert_non_null(strstr(msg, po_letter_message_id(l)));
	free(msg);
	/* with PO_RENDER_BCC the Bcc header is there */
	msg = render(l, PO_RENDER_BCC, NULL);
	assert_non_null(strstr(msg, "\r\nBcc: secret@example.com\r\n"));
	free(msg);
	free(h);
	po_letter_free(l);
}

static void test_supplied_date_and_id(void **state)
{
	po_letter *l = simple_letter("x");
	char *msg;

	(void)state;
	assert_po_ok(po_letter_add_header_line(
		l, "Date: Mon, 1 Jan 2024 00:00:00 +0000"));
	assert_po_ok(po_letter_add_header_line(l, "message-id: <my@id>"));
	msg = render(l, 0, NULL);
	assert_non_null(strstr(msg, "\r\nDate: Mon, 1 Jan 2024"));
	assert_null(strstr(strstr(msg, "Date: ") + 1, "Date: "));
	assert_null(strstr(msg, "Message-ID:"));
	assert_string_equal(po_letter_message_id(l), "<my@id>");
	/* a body without a final newline gets none added */
	assert_string_equal(strstr(msg, "\r\n\r\n") + 4, "x");
	free(msg);
	po_letter_free(l);
}

static void test_part_headers_beat_letter(void **state)
{
	po_letter *l = po_letter_new();
	po_part *p = po_part_new_text("b", 1, NULL);
	char *msg;

	(void)state;
	assert_po_ok(po_letter_set_from(l, "a@example.com"));
	assert_po_ok(po_letter_add_to(l, "b@example.com"));
	assert_po_ok(po_letter_set_subject(l, "keyword"));
	assert_po_ok(po_part_add_header(p, "Subject", "from the part"));
	assert_po_ok(po_part_add_header(p, "From", "Part <p@example.com>"));
	assert_po_ok(po_part_add_header(p, "Message-ID", "<part@id>"));
	assert_po_ok(po_letter_set_body(l, p));
	msg = render(l, 0, NULL);
	assert_null(strstr(msg, "keyword"));
	assert_null(strstr(msg, "From: a@example.com"));
	/* Allegro writes part headers after MIME-Version */
	assert_non_null(strstr(msg, "MIME-Version: 1.0\r\nSubject: from the "
				    "part\r\nFrom: Part <p@example.com>\r\n"));
	assert_string_equal(po_letter_message_id(l), "<part@id>");
	/* the envelope still comes from the letter */
	assert_string_equal(po_letter_envelope_from(l), "a@example.com");
	free(msg);
	po_letter_free(l);
}

/* The caller's raw lines replace the fields we would generate (one of
 * each, as RFC 5322 §3.6 allows), Bcc and the body's Content-* fields
 * are refused, and "MIME-Version: 1.0" stands for ours. */
static void test_raw_lines_replace_generated(void **state)
{
	po_letter *l = simple_letter("body");
	po_reader *r = NULL;
	char *msg, *h;

	(void)state;
	assert_po_ok(po_letter_set_subject(l, "keyword"));
	assert_po_ok(po_letter_add_reply_to(l, "r@example.com"));
	assert_po_ok(po_letter_add_header_line(l, "From: Other <o@example.com>"));
	assert_po_ok(po_letter_add_header_line(l, "subject: from the line"));
	assert_po_ok(po_letter_add_header_line(l, "To: undisclosed-recipients:;"));
	assert_po_ok(po_letter_add_header_line(l, "Reply-To: x@example.com"));
	assert_po_ok(po_letter_add_header_line(l, "MIME-Version: 1.0"));
	msg = render(l, 0, NULL);
	h = headers_of(msg);
	assert_true(matches(h, "^Date: .*\r\nMessage-ID: <.*>\r\n"
			       "From: Other <o@example.com>\r\n"
			       "subject: from the line\r\n"
			       "To: undisclosed-recipients:;\r\n"
			       "Reply-To: x@example.com\r\n"
			       "MIME-Version: 1.0\r\n"
			       "Content-Type: text/plain;\r\n    charset=\"utf-8\"\r\n"
			       "Content-Transfer-Encoding: 7bit\r\n$"));
	assert_null(strstr(msg, "keyword"));
	/* the envelope still comes from the letter */
	assert_string_equal(po_letter_envelope_from(l), "ann@example.com");
	free(h);
	free(msg);
	/* Bcc: refused at once */
	assert_int_equal(po_letter_add_header_line(l, "Bcc: s@example.com"),
			 PO_EHEADER);
	assert_non_null(strstr(po_last_error(), "blind copies"));
	assert_int_equal(po_letter_add_header_line(l, "bcc : s@example.com"),
			 PO_EHEADER);
	po_letter_free(l);

	/* the body's fields: refused when rendering, before any byte */
	{
		static const char *const lines[] = {
			"Content-Type: text/html", "content-transfer-encoding: base64",
			"Content-Disposition: attachment", "MIME-Version: 2.0"};

		for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
			l = simple_letter("body");
			assert_po_ok(po_letter_add_header_line(l, lines[i]));
			assert_int_equal(po_reader_new(l, 0, &r), PO_EHEADER);
			assert_null(r);
			po_letter_free(l);
		}
	}
}

static void test_encoding_choice(void **state)
{
	static const struct {
		const char *body;
		const char *cte;
	} cases[] = {
		{"plain ascii\n", "7bit"},
		{"caf\xc3\xa9\n", "base64"},
		{".\n", "quoted-printable"},
		{"a\n.\nb\n", "quoted-printable"},
		{"bare\rcr", "quoted-printable"},
		{"", "7bit"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		po_letter *l = simple_letter(cases[i].body);
		char *msg = render(l, 0, NULL), want[80];

		snprintf(want, sizeof want,
			 "\r\nContent-Transfer-Encoding: %s\r\n", cases[i].cte);
		if (!strstr(msg, want))
			print_error("case %zu: %s\n", i, msg);
		assert_non_null(strstr(msg, want));
		/* no rendered line is a lone dot (design §4.9) */
		assert_null(strstr(msg, "\r\n.\r\n"));
		free(msg);
		po_letter_free(l);
	}
}

/* The base64 body of the one-part letter msg, decoded into out (at most
 * cap octets); returns the length. */
static size_t b64_body(const char *msg, unsigned char *out, size_t cap)
{
	const char *body = strstr(msg, "\r\n\r\n");
	size_t n = 0;
	const char *err;

	assert_non_null(body);
	body += 4;
	err = tc_b64_decode(body, strlen(body), out, &n);
	if (err)
		print_error("base64: %s\n", err);
	assert_null(err);
	assert_true(n <= cap);
	return n;
}

/* RFC 2045 §6.8, RFC 2046 §4.1.1: text goes into base64 in canonical
 * form, CRLF line ends; octets (a .csv attachment) stay byte-exact. */
static void test_base64_text_canonical(void **state)
{
	static const char text[] = "Gr\xc3\xbc\xc3\x9f" "e\nzweite Zeile\r\n"
				   "bare\rcr\n";
	static const char canon[] = "Gr\xc3\xbc\xc3\x9f" "e\r\nzweite Zeile"
				    "\r\nbare\rcr\r\n";
	unsigned char got[256];
	po_letter *l;
	po_part *p;
	char *msg;
	size_t n;

	(void)state;
	/* text, base64 by default (not ASCII) or asked for */
	for (int asked = 0; asked < 2; asked++) {
		l = po_letter_new();
		assert_po_ok(po_letter_set_from(l, "a@example.com"));
		assert_po_ok(po_letter_add_to(l, "b@example.com"));
		p = po_part_new_text(text, PO_ZERO_TERMINATED, NULL);
		if (asked)
			assert_po_ok(po_part_set_encoding(p, "base64"));
		assert_po_ok(po_letter_set_body(l, p));
		msg = render(l, 0, NULL);
		assert_non_null(strstr(msg, "Content-Transfer-Encoding: base64"));
		n = b64_body(msg, got, sizeof got);
		assert_int_equal(n, strlen(canon));
		assert_memory_equal(got, canon, n);
		free(msg);
		po_letter_free(l);
	}
	/* octets typed as text: byte for byte */
	l = po_letter_new();
	assert_po_ok(po_letter_set_from(l, "a@example.com"));
	assert_po_ok(po_letter_add_to(l, "b@example.com"));
	p = po_part_new_bytes(text, strlen(text));
	assert_po_ok(po_part_set_type(p, "text/csv"));
	assert_po_ok(po_letter_set_body(l, p));
	msg = render(l, 0, NULL);
	n = b64_body(msg, got, sizeof got);
	assert_int_equal(n, strlen(text));
	assert_memory_equal(got, text, n);
	free(msg);
	po_letter_free(l);
	/* UTF-16 text has no LF octets to touch */
	p = po_part_new_text("\n\0a\0", 4, "UTF-16LE");
	assert_int_equal(p->len, 4);
	po_part_free(p);
}

static void test_long_line_goes_qp(void **state)
{
	char *body = malloc(2001), *msg;
	po_letter *l;
	size_t n;

	(void)state;
	memset(body, 'a', 2000);
	body[2000] = '\0';
	l = simple_letter(body);
	msg = render(l, 0, &n);
	assert_non_null(strstr(msg, "quoted-printable"));
	assert_canonical(msg, n);
	free(msg);
	po_letter_free(l);
	free(body);
}

static void test_explicit_7bit_falls_back(void **state)
{
	po_letter *l = simple_letter("caf\xc3\xa9 \n");
	po_part *p;
	char *msg;

	(void)state;
	p = po_part_new_text("caf\xc3\xa9\n", PO_ZERO_TERMINATED, NULL);
	assert_po_ok(po_part_set_encoding(p, "7bit"));
	assert_po_ok(po_letter_set_body(l, p));
	msg = render(l, 0, NULL);
	assert_non_null(strstr(msg, "quoted-printable"));
	assert_non_null(strstr(msg, "caf=C3=A9"));
	free(msg);

	p = po_part_new_text("caf\xc3\xa9\n", PO_ZERO_TERMINATED, NULL);
	assert_po_ok(po_part_set_encoding(p, "8bit"));
	assert_po_ok(po_letter_set_body(l, p));
	msg = render(l, 0, NULL);
	assert_non_null(strstr(msg, "Content-Transfer-Encoding: 8bit\r\n"));
	assert_non_null(strstr(msg, "caf\xc3\xa9\r\n"));
	free(msg);
	po_letter_free(l);
}

static void test_multipart_structure(void **state)
{
	po_letter *l = po_letter_new();
	po_part *mixed = po_part_new_multipart("mixed");
	po_part *alt = po_part_new_multipart("alternative");
	po_part *html = po_part_new_text("<p>hi</p>", PO_ZERO_TERMINATED,
					 NULL);
	po_part *bin = po_part_new_bytes("\x00\x01\x02\xff", 4);
	char *msg, want[200];
	const char *b1, *b2;

	(void)state;
	assert_po_ok(po_letter_set_from(l, "a@example.com"));
	assert_po_ok(po_letter_add_to(l, "b@example.com"));
	assert_po_ok(po_part_set_type(html, "text/html"));
	assert_po_ok(po_part_add(
		alt, po_part_new_text("hi", PO_ZERO_TERMINATED, NULL)));
	assert_po_ok(po_part_add(alt, html));
	assert_po_ok(po_part_add(mixed, alt));
	assert_po_ok(po_part_set_disposition(bin, PO_DISPOSITION_ATTACHMENT,
					     "data.bin"));
	assert_po_ok(po_part_add(mixed, bin));
	b1 = po_part_boundary(mixed);
	b2 = po_part_boundary(alt);
	assert_po_ok(po_letter_set_body(l, mixed));
	msg = render(l, 0, NULL);

	snprintf(want, sizeof want,
		 "Content-Type: multipart/mixed;\r\n    boundary=\"%s\"\r\n\r\n"
		 "This is a multi-part message in MIME format.\r\n"
		 "\r\n--%s\r\n"
		 "Content-Type: multipart/alternative;",
		 b1, b1);
	assert_non_null(strstr(msg, want));
	snprintf(want, sizeof want, "\r\n--%s\r\nContent-Type: text/plain",
		 b2);
	assert_non_null(strstr(msg, want));
	snprintf(want, sizeof want, "\r\n--%s--\r\n\r\n--%s\r\n", b2, b1);
	assert_non_null(strstr(msg, want));
	assert_non_null(strstr(msg, "Content-Type: application/octet-stream"
				    "\r\nContent-Transfer-Encoding: base64"
				    "\r\nContent-Disposition: attachment;"));
	assert_non_null(strstr(msg, "\r\n\r\nAAEC/w==\r\n"));
	snprintf(want, sizeof want, "\r\n--%s--\r\n", b1);
	assert_non_null(strstr(msg, want));
	/* the letter ends with the closing delimiter */
	assert_string_equal(msg + strlen(msg) - strlen(want), want);
	/* only the top-level multipart has the preamble */
	assert_null(strstr(strstr(msg, "This is a multi-part") + 1,
			   "This is a multi-part"));
	free(msg);
	po_letter_free(l);
}

static void test_duplicate_boundary(void **state)
{
	po_letter *l = simple_letter("x");
	po_part *a = po_part_new_multipart(NULL), *b = po_part_new_multipart(NULL);
	po_reader *r = NULL;

	(void)state;
	assert_po_ok(po_part_set_boundary(a, "same"));
	assert_po_ok(po_part_set_boundary(b, "same"));
	assert_po_ok(po_part_add(a, b));
	assert_po_ok(po_letter_set_body(l, a));
	assert_int_equal(po_reader_new(l, 0, &r), PO_EBOUNDARY);
	assert_null(r);
	po_letter_free(l);
}

static void test_missing_pieces(void **state)
{
	po_letter *l = po_letter_new();
	po_reader *r = NULL;

	(void)state;
	assert_int_equal(po_reader_new(l, 0, &r), PO_ENOSENDER);
	assert_po_ok(po_letter_set_from(l, "a@example.com"));
	assert_int_equal(po_reader_new(l, 0, &r), PO_ENORCPT);
	assert_po_ok(po_letter_add_bcc(l, "b@example.com"));
	assert_int_equal(po_reader_new(l, 0, &r), PO_ENOBODY);
	assert_null(r);
	po_letter_free(l);
}

static void test_file_removed_after_part_made(void **state)
{
	char path[] = "/tmp/po-test-XXXXXX";
	int fd = mkstemp(path);
	po_letter *l = simple_letter("x");
	po_part *m = po_part_new_multipart(NULL), *f;
	po_reader *r = NULL;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "abc", 3), 3);
	close(fd);
	assert_po_ok(po_part_new_file(path, &f));
	assert_po_ok(po_part_add(m, f));
	assert_po_ok(po_letter_set_body(l, m));
	unlink(path);
	/* the error comes before the first byte */
	assert_int_equal(po_reader_new(l, 0, &r), PO_ENOENT);
	assert_null(r);
	po_letter_free(l);
}

/* A forwarded letter (.eml, message/rfc822) goes as it is, 7bit or 8bit
 * even when base64 was asked for (RFC 2046 §5.2.1 allows no other); one
 * whose lines do not allow that goes as application/octet-stream. */
static void test_message_rfc822(void **state)
{
#define C(s) s, sizeof s - 1
	static const struct {
		const char *content;
		size_t len;
		const char *type, *cte, *body;
	} cases[] = {
		{C("Subject: hi\n\nold letter\n"), "message/rfc822", "7bit",
		 "Subject: hi\r\n\r\nold letter\r\n"},
		{C("Subject: =?utf-8?q?x?=\n\nGr\xc3\xbc\xc3\x9f" "e\n"),
		 "message/rfc822", "8bit",
		 "Subject: =?utf-8?q?x?=\r\n\r\nGr\xc3\xbc\xc3\x9f" "e\r\n"},
		{C("Subject: nul\n\na\0b\n"), "application/octet-stream",
		 "base64", "U3ViamVjdDogbnVsCgphAGIK\r\n"},
	};
#undef C

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char path[] = "/tmp/po-test-XXXXXX.eml", want[128], *msg, *at;
		int fd = mkstemps(path, 4);
		po_letter *l = simple_letter("see the letter");
		po_part *m = po_part_new_multipart(NULL), *f;

		assert_true(fd >= 0);
		assert_int_equal(write(fd, cases[i].content, cases[i].len),
				 (ssize_t)cases[i].len);
		close(fd);
		assert_po_ok(po_part_new_file(path, &f));
		/* what Allegro's rules ask for every file */
		assert_po_ok(po_part_set_encoding(f, "base64"));
		assert_po_ok(po_part_add(m, po_part_new_text("see", 3, NULL)));
		assert_po_ok(po_part_add(m, f));
		assert_po_ok(po_letter_set_body(l, m));
		msg = render(l, 0, NULL);
		snprintf(want, sizeof want,
			 "Content-Type: %s\r\nContent-Transfer-Encoding: %s\r\n",
			 cases[i].type, cases[i].cte);
		at = strstr(msg, want);
		if (!at)
			print_error("case %zu:\n%s\n", i, msg);
		assert_non_null(at);
		at = strstr(at, "\r\n\r\n");
		assert_non_null(at);
		assert_memory_equal(at + 4, cases[i].body,
				    strlen(cases[i].body));
		free(msg);
		po_letter_free(l);
		unlink(path);
	}
}

static void test_lf_mode(void **state)
{
	po_letter *l = simple_letter("a\nb\n");
	char *crlf, *lf;
	size_t ncrlf, nlf, i, j = 0;

	(void)state;
	crlf = render(l, 0, &ncrlf);
	lf = render_chunked(l, PO_RENDER_LF, 1, &nlf);
	assert_null(strchr(lf, '\r'));
	/* the same text with CR removed (Date may differ: compare bodies) */
	assert_string_equal(strstr(lf, "\n\n") + 2, "a\nb\n");
	for (i = 0; i < ncrlf; i++)
		if (crlf[i] != '\r')
			j++;
	assert_int_equal(j, nlf);
	free(crlf);
	free(lf);
	po_letter_free(l);
}

static void test_raw_letter(void **state)
{
	po_letter *l = po_letter_new();
	char *msg;

	(void)state;
	assert_po_ok(po_letter_set_from(l, "a@example.com"));
	assert_po_ok(po_letter_add_to(l, "b@example.com"));
	assert_po_ok(po_letter_set_raw(l, "Subject: x\n\nline\rcr\r\n.\nend",
				       PO_ZERO_TERMINATED));
	msg = render_chunked(l, 0, 3, NULL);
	/* no header is built: only the line endings change */
	assert_string_equal(msg,
			    "Subject: x\r\n\r\nline\r\ncr\r\n.\r\nend");
	assert_null(po_letter_message_id(l));
	free(msg);
	po_letter_free(l);
}

struct src {
	const char *data;
	size_t len, pos, step;
	int fail_at; /* fail when pos reaches this, -1 never */
	int calls;
};

static int src_read(void *ud, void *buf, size_t len, size_t *n)
{
	struct src *s = ud;
	size_t k = s->len - s->pos;

	s->calls++;
	if (s->fail_at >= 0 && s->pos >= (size_t)s->fail_at)
		return -1;
	if (k > s->step)
		k = s->step;
	if (k > len)
		k = len;
	memcpy(buf, s->data + s->pos, k);
	s->pos += k;
	*n = k;
	return 0;
}

static void test_reader_parts(void **state)
{
	struct src s = {"line one\nline two\n", 18, 0, 5, -1, 0};
	po_letter *l = simple_letter("x");
	po_part *p = po_part_new_reader(src_read, &s);
	po_reader *r = NULL;
	char *msg;

	(void)state;
	assert_po_ok(po_part_set_type(p, "text/plain"));
	assert_po_ok(po_letter_set_body(l, p));
	msg = render(l, 0, NULL);
	/* a text reader defaults to quoted-printable */
	assert_non_null(strstr(msg, "quoted-printable\r\n\r\nline one\r\n"
				    "line two\r\n"));
	assert_true(s.calls >= 4);
	free(msg);
	/* a reader can be read once */
	assert_int_equal(po_reader_new(l, 0, &r), PO_ESTATE);
	po_letter_free(l);
}

static void test_reader_failure(void **state)
{
	static char big[300000];
	struct src s = {big, sizeof big, 0, 4096, 200000, 0};
	po_letter *l = simple_letter("x");
	po_reader *r = NULL;
	char buf[8192];
	size_t n;
	int rc;

	(void)state;
	memset(big, 'z', sizeof big);
	assert_po_ok(po_letter_set_body(l, po_part_new_reader(src_read, &s)));
	assert_po_ok(po_reader_new(l, 0, &r));
	do
		rc = po_reader_read(r, buf, sizeof buf, &n);
	while (rc == PO_OK && n);
	assert_int_equal(rc, PO_EREADER);
	/* the failure sticks */
	assert_int_equal(po_reader_read(r, buf, sizeof buf, &n), PO_EREADER);
	po_reader_free(r);
	po_letter_free(l);
}

static void test_reader_7bit_line_limit(void **state)
{
	static char big[5000];
	struct src s = {big, sizeof big, 0, 100, -1, 0};
	po_letter *l = simple_letter("x");
	po_part *p = po_part_new_reader(src_read, &s);
	po_reader *r = NULL;
	char buf[8192];
	size_t n;
	int rc;

	(void)state;
	memset(big, 'a', sizeof big);
	assert_po_ok(po_part_set_encoding(p, "7bit"));
	assert_po_ok(po_letter_set_body(l, p));
	assert_po_ok(po_reader_new(l, 0, &r));
	do
		rc = po_reader_read(r, buf, sizeof buf, &n);
	while (rc == PO_OK && n);
	assert_int_equal(rc, PO_ELINE);
	po_reader_free(r);
	po_letter_free(l);
}

/* A big file renders in constant memory, in any chunk size. */
static void test_big_file_constant_memory(void **state)
{
	char path[] = "/tmp/po-big-XXXXXX";
	int fd = mkstemp(path);
	static char block[1 << 20];
	po_letter *l = simple_letter("see attachment");
	po_part *m = po_part_new_multipart(NULL), *f;
	po_reader *r;
	struct rusage ru0, ru1;
	char *buf = malloc(65536);
	size_t n, total = 0;
	int i;

	(void)state;
	for (i = 0; i < (int)sizeof block; i++)
		block[i] = (char)(i * 7 + (i >> 9));
	for (i = 0; i < 64; i++)
		assert_int_equal(write(fd, block, sizeof block),
				 (ssize_t)sizeof block);
	close(fd);
	assert_po_ok(po_part_new_file(path, &f));
	assert_po_ok(po_part_add(m, po_part_new_text("t", 1, NULL)));
	assert_po_ok(po_part_add(m, f));
	assert_po_ok(po_letter_set_body(l, m));
	getrusage(RUSAGE_SELF, &ru0);
	assert_po_ok(po_reader_new(l, 0, &r));
	do {
		assert_po_ok(po_reader_read(r, buf, 65536, &n));
		total += n;
	} while (n);
	po_reader_free(r);
	getrusage(RUSAGE_SELF, &ru1);
	/* 64 MiB in base64 with CRLF: 4/3 and 74/72 */
	assert_true(total > (64u << 20) * 4 / 3);
	/* the peak did not grow by anything like the file's size */
	assert_true(ru1.ru_maxrss - ru0.ru_maxrss < 8 * 1024);
	unlink(path);
	free(buf);
	po_letter_free(l);
}

static void test_render_part_alone(void **state)
{
	po_part *p = po_part_new_text("hi\n", PO_ZERO_TERMINATED, "us-ascii");
	po_reader *r = NULL;
	char buf[1024];
	size_t n;

	(void)state;
	assert_po_ok(po_reader_new_part(p, PO_RENDER_LF, &r));
	assert_po_ok(po_reader_read(r, buf, sizeof buf - 1, &n));
	buf[n] = '\0';
	assert_string_equal(buf, "MIME-Version: 1.0\n"
				 "Content-Type: text/plain;\n"
				 "    charset=\"us-ascii\"\n"
				 "Content-Transfer-Encoding: 7bit\n\nhi\n");
	po_reader_free(r);
	po_part_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_letter),
		cmocka_unit_test(test_supplied_date_and_id),
		cmocka_unit_test(test_raw_lines_replace_generated),
		cmocka_unit_test(test_message_rfc822),
		cmocka_unit_test(test_part_headers_beat_letter),
		cmocka_unit_test(test_encoding_choice),
		cmocka_unit_test(test_base64_text_canonical),
		cmocka_unit_test(test_long_line_goes_qp),
		cmocka_unit_test(test_explicit_7bit_falls_back),
		cmocka_unit_test(test_multipart_structure),
		cmocka_unit_test(test_duplicate_boundary),
		cmocka_unit_test(test_missing_pieces),
		cmocka_unit_test(test_file_removed_after_part_made),
		cmocka_unit_test(test_lf_mode),
		cmocka_unit_test(test_raw_letter),
		cmocka_unit_test(test_reader_parts),
		cmocka_unit_test(test_reader_failure),
		cmocka_unit_test(test_reader_7bit_line_limit),
		cmocka_unit_test(test_big_file_constant_memory),
		cmocka_unit_test(test_render_part_alone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
