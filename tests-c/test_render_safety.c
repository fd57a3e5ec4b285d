/* test_render_safety.c - what the renderer must never do, whatever the
 * caller's content, headers and files (issue 11): forge a MIME part with
 * a boundary line, write two Content-* fields of one name, read a file
 * other than the one the part was made from, or nest parts without
 * bound.  Letters are read back with the tests' own MIME parser
 * (codec.c), which fails on any line that starts with a boundary and is
 * not a delimiter. */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "encode.h"

/* ---------------------------------------------------------------------
 * Helpers */

static char dir[64];

static char *path_in_dir(const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

static void write_file(const char *path, const void *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);
}

static po_letter *letter_with(po_part *body)
{
	po_letter *l = po_letter_new();

	assert_po_ok(po_letter_set_from(l, "a@example.com"));
	assert_po_ok(po_letter_add_to(l, "b@example.com"));
	assert_po_ok(po_letter_add_header_line(
		l, "Date: Mon, 1 Jan 2024 00:00:00 +0000"));
	assert_po_ok(po_letter_add_header_line(l, "Message-ID: <x@y>"));
	assert_po_ok(po_letter_set_body(l, body));
	return l;
}

/* Read the reader to its end; returns its status and the output. */
static int drain(po_reader *r, char **out, size_t *len)
{
	char *buf = NULL;
	size_t n, total = 0;
	int rc;

	for (;;) {
		buf = realloc(buf, total + 4096 + 1);
		assert_non_null(buf);
		rc = po_reader_read(r, buf + total, 4096, &n);
		if (rc || n == 0)
			break;
		total += n;
	}
	buf[total] = '\0';
	if (out)
		*out = buf;
	else
		free(buf);
	if (len)
		*len = total;
	return rc;
}

static char *render(po_letter *l, size_t *len)
{
	po_reader *r = NULL;
	char *out;

	assert_po_ok(po_reader_new(l, 0, &r));
	assert_po_ok(drain(r, &out, len));
	po_reader_free(r);
	return out;
}

/* Parse what l renders to, failing the test on a parse error. */
static tc_entity *parsed(po_letter *l, char **msg_out)
{
	size_t n;
	char *msg = render(l, &n);
	const char *err;
	tc_entity *e = tc_mime_parse(msg, n, &err);

	if (!e)
		print_error("parse: %s\n%s\n", err, msg);
	assert_non_null(e);
	if (msg_out)
		*msg_out = msg;
	else
		free(msg);
	return e;
}

static size_t count(const char *hay, const char *needle)
{
	size_t k = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		k++;
	return k;
}

static void assert_body(const tc_entity *e, const char *want)
{
	if (e->len != strlen(want) || memcmp(e->body, want, e->len) != 0)
		print_error("body: \"%.*s\"\nwant: \"%s\"\n", (int)e->len,
			    (const char *)e->body, want);
	assert_int_equal(e->len, strlen(want));
	assert_memory_equal(e->body, want, e->len);
}

static int count_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

/* Text that forges a part for the boundary b, as the issue's attacker
 * writes it into a comment field. */
static char *forging_text(const char *b)
{
	char *t;

	assert_true(asprintf(&t,
			     "My comment.\n"
			     "--%s\n"
			     "Content-Type: text/html\n"
			     "\n"
			     "<a href=\"https://evil.example/\">Pay here</a>\n"
			     "--%s--\n",
			     b, b) > 0);
	return t;
}

static po_part *attachment(void)
{
	po_part *p = po_part_new_bytes("\x01\x02\x03invoice", 10);

	assert_po_ok(po_part_set_type(p, "application/pdf"));
	assert_po_ok(po_part_set_disposition(p, PO_DISPOSITION_ATTACHMENT,
					     "invoice.pdf"));
	return p;
}

/* ---------------------------------------------------------------------
 * Item 1: forged parts */

/* The issue's reproduction with a boundary the caller fixed: the text
 * (7bit by default) goes quoted-printable instead, which writes no line
 * starting with "--" inside a multipart; the tree read back is the one
 * built. */
static void test_forged_fixed_boundary_reencoded(void **state)
{
	po_part *mp = po_part_new_multipart("mixed");
	char *text = forging_text("b1"), *msg;
	po_part *t = po_part_new_text(text, strlen(text), NULL);
	tc_entity *e;
	char want[512];

	(void)state;
	assert_po_ok(po_part_set_boundary(mp, "b1"));
	assert_po_ok(po_part_add(mp, t));
	assert_po_ok(po_part_add(mp, attachment()));
	po_letter *l = letter_with(mp);
	e = parsed(l, &msg);
	assert_int_equal(e->nchild, 2);
	assert_string_equal(e->child[0]->type, "text/plain");
	assert_string_equal(e->child[0]->cte, "quoted-printable");
	want[tc_text_canonical((const unsigned char *)text, strlen(text),
			       (unsigned char *)want)] = '\0';
	assert_body(e->child[0], want);
	assert_string_equal(e->child[1]->type, "application/pdf");
	assert_non_null(strstr(msg, "\r\n=2D-b1\r\n"));
	tc_entity_free(e);
	free(msg);
	free(text);
	po_letter_free(l);
}

/* A generated boundary that the content holds (it was learnt from an
 * earlier render) is replaced; the text stays 7bit. */
static void test_forged_generated_boundary_replaced(void **state)
{
	po_part *mp = po_part_new_multipart("mixed");
	char old[128], *text, *msg;
	po_part *t;
	tc_entity *e;
	po_letter *l;

	(void)state;
	snprintf(old, sizeof old, "%s", po_part_boundary(mp));
	text = forging_text(old);
	t = po_part_new_text(text, strlen(text), NULL);
	assert_po_ok(po_part_add(mp, t));
	assert_po_ok(po_part_add(mp, attachment()));
	l = letter_with(mp);
	e = parsed(l, &msg);
	assert_int_equal(e->nchild, 2);
	assert_string_not_equal(po_part_boundary(mp), old);
	assert_string_equal(e->boundary, po_part_boundary(mp));
	assert_string_equal(e->child[0]->cte, "7bit");
	assert_int_equal(count(msg, old), 2); /* only in the text itself */
	tc_entity_free(e);
	free(msg);
	free(text);
	po_letter_free(l);
}

/* The caller fixed both the boundary and the encoding: nothing can
 * help, so the render is refused before the first byte. */
static void test_forged_fixed_boundary_and_cte_refused(void **state)
{
	po_part *mp = po_part_new_multipart("mixed");
	char *text = forging_text("b1");
	po_part *t = po_part_new_text(text, strlen(text), NULL);
	po_reader *r = NULL;
	po_letter *l;

	(void)state;
	assert_po_ok(po_part_set_boundary(mp, "b1"));
	assert_po_ok(po_part_add_header(t, "Content-Transfer-Encoding",
					"7bit"));
	assert_po_ok(po_part_add(mp, t));
	l = letter_with(mp);
	assert_int_equal(po_reader_new(l, 0, &r), PO_EBOUNDARY);
	assert_null(r);
	assert_non_null(strstr(po_last_error(), "--b1"));
	free(text);
	po_letter_free(l);
}

/* An enclosing boundary counts too, not only the parent's. */
static void test_forged_outer_boundary(void **state)
{
	po_part *outer = po_part_new_multipart("mixed");
	po_part *inner = po_part_new_multipart("alternative");
	po_part *t = po_part_new_text("a\n--outer--\nb\n", PO_ZERO_TERMINATED,
				      NULL);
	tc_entity *e;
	po_letter *l;

	(void)state;
	assert_po_ok(po_part_set_boundary(outer, "outer"));
	assert_po_ok(po_part_set_boundary(inner, "inner"));
	assert_po_ok(po_part_add(inner, t));
	assert_po_ok(po_part_add(outer, inner));
	assert_po_ok(po_part_add(outer, attachment()));
	l = letter_with(outer);
	e = parsed(l, NULL);
	assert_int_equal(e->nchild, 2);
	assert_int_equal(e->child[0]->nchild, 1);
	assert_string_equal(e->child[0]->child[0]->cte, "quoted-printable");
	assert_body(e->child[0]->child[0], "a\r\n--outer--\r\nb\r\n");
	tc_entity_free(e);
	po_letter_free(l);
}

/* RFC 2046 §5.1.2: no boundary may start with an enclosing one. */
static void test_nested_boundary_prefix(void **state)
{
	po_part *outer = po_part_new_multipart("mixed");
	po_part *inner = po_part_new_multipart("mixed");
	po_reader *r = NULL;
	po_letter *l;

	(void)state;
	assert_po_ok(po_part_set_boundary(outer, "b"));
	assert_po_ok(po_part_set_boundary(inner, "bc"));
	assert_po_ok(po_part_add(inner, po_part_new_text("x", 1, NULL)));
	assert_po_ok(po_part_add(outer, inner));
	l = letter_with(outer);
	assert_int_equal(po_reader_new(l, 0, &r), PO_EBOUNDARY);
	/* a generated inner one is replaced */
	assert_po_ok(po_part_set_generated_boundary(inner, "bc"));
	assert_po_ok(po_reader_new(l, 0, &r));
	assert_string_not_equal(po_part_boundary(inner), "bc");
	po_reader_free(r);
	po_letter_free(l);
}

/* A part header whose name starts with "--" and the boundary. */
static void test_forged_by_header_name(void **state)
{
	po_part *mp = po_part_new_multipart("mixed");
	po_part *t = po_part_new_text("x", 1, NULL);
	po_reader *r = NULL;
	po_letter *l;
	tc_entity *e;

	(void)state;
	assert_po_ok(po_part_set_boundary(mp, "b"));
	assert_po_ok(po_part_add_header(t, "--b", "x"));
	assert_po_ok(po_part_add(mp, t));
	l = letter_with(mp);
	assert_int_equal(po_reader_new(l, 0, &r), PO_EBOUNDARY);
	assert_po_ok(po_part_set_boundary(mp, NULL));
	e = parsed(l, NULL);
	assert_int_equal(e->nchild, 1);
	tc_entity_free(e);
	po_letter_free(l);
}

struct chunks {
	const char *const *v;
	size_t i;
};

static int chunks_read(void *ud, void *buf, size_t len, size_t *n_out)
{
	struct chunks *c = ud;
	const char *s = c->v[c->i];

	if (!s) {
		*n_out = 0;
		return 0;
	}
	assert_true(strlen(s) <= len);
	memcpy(buf, s, strlen(s));
	*n_out = strlen(s);
	c->i++;
	return 0;
}

/* Content read while sending is not known in advance: 7bit from a reader
 * is checked line by line as it goes (the line split between reads), and
 * the render fails rather than write a forged delimiter; quoted-printable
 * from a reader writes "=2D". */
static void test_forged_by_reader(void **state)
{
	static const char *const forge[] = {"ok\r\n-", "-b", "\r\nx\r\n",
					    NULL};
	static const char *const last[] = {"ok\n--b", NULL};
	const char *const *cases[] = {forge, last};
	struct chunks c;
	po_reader *r = NULL;

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		po_part *mp = po_part_new_multipart("mixed");
		po_part *rd;
		po_letter *l;

		c.v = cases[k];
		c.i = 0;
		rd = po_part_new_reader(chunks_read, &c);
		assert_po_ok(po_part_set_boundary(mp, "b"));
		assert_po_ok(po_part_set_type(rd, "text/plain"));
		assert_po_ok(po_part_set_encoding(rd, "7bit"));
		assert_po_ok(po_part_add(mp, rd));
		l = letter_with(mp);
		assert_po_ok(po_reader_new(l, 0, &r));
		assert_int_equal(drain(r, NULL, NULL), PO_EBOUNDARY);
		po_reader_free(r);
		po_letter_free(l);
	}
	{
		po_part *mp = po_part_new_multipart("mixed");
		po_part *rd;
		po_letter *l;
		tc_entity *e;
		char *msg;

		c.v = forge;
		c.i = 0;
		rd = po_part_new_text_reader(chunks_read, &c, NULL);
		assert_po_ok(po_part_set_boundary(mp, "b"));
		assert_po_ok(po_part_add(mp, rd));
		l = letter_with(mp);
		e = parsed(l, &msg);
		assert_int_equal(e->nchild, 1);
		assert_string_equal(e->child[0]->cte, "quoted-printable");
		assert_body(e->child[0], "ok\r\n--b\r\nx\r\n");
		assert_non_null(strstr(msg, "\r\n=2D-b\r\n"));
		tc_entity_free(e);
		free(msg);
		po_letter_free(l);
	}
}

/* A single part has no boundary to forge: its quoted-printable keeps a
 * leading "--" (a signature separator stays readable). */
static void test_qp_dashes_only_in_multipart(void **state)
{
	po_part *t = po_part_new_text("x\n-- \nsig\n", PO_ZERO_TERMINATED,
				      NULL);
	po_letter *l;
	char *msg;

	(void)state;
	assert_po_ok(po_part_set_encoding(t, "quoted-printable"));
	l = letter_with(t);
	msg = render(l, NULL);
	assert_non_null(strstr(msg, "\r\n\r\nx\r\n--=20\r\nsig\r\n"));
	free(msg);
	po_letter_free(l);
}

/* Boundaries come from the OS at each call, in Allegro's shape. */
static void test_boundary_new(void **state)
{
	char a[PO_BOUNDARY_SIZE], b[PO_BOUNDARY_SIZE], small[10];

	(void)state;
	assert_po_ok(po_boundary_new(a, sizeof a));
	assert_po_ok(po_boundary_new(b, sizeof b));
	assert_int_equal(strlen(a), PO_BOUNDARY_SIZE - 1);
	assert_memory_equal(a, "----------_", 11);
	assert_int_equal(strspn(a + 11, "0123456789abcde"), 32);
	assert_string_not_equal(a, b);
	assert_int_equal(po_boundary_new(small, sizeof small), PO_EINVAL);
	assert_int_equal(po_boundary_new(NULL, 100), PO_EINVAL);
}

/* Found by fuzz_multipart: a boundary holding "=?" was written as an
 * encoded word (boundary*=utf-8''..., boundary="=?utf-8?b?...?="), so no
 * reader got it back.  It is refused, as a boundary and in a caller's
 * Content-Type. */
static void test_boundary_encoded_word(void **state)
{
	po_part *mp = po_part_new_multipart(NULL);

	(void)state;
	assert_int_equal(po_part_set_boundary(mp, "W=?7?"), PO_EBOUNDARY);
	assert_int_equal(po_part_add_header(mp, "Content-Type",
					    "multipart/mixed; boundary=\"a=?b\""),
			 PO_EBOUNDARY);
	assert_po_ok(po_part_set_boundary(mp, "=_a?b=c"));
	po_part_free(mp);
}

/* 7bit from a reader is held to 7bit as it is read, even when it is the
 * caller's po_part_set_encoding (not a header) that says so. */
static void test_reader_7bit_octets(void **state)
{
	static const char *const eight[] = {"ok\n", "caf\xc3\xa9\n", NULL};
	struct chunks c = {eight, 0};
	po_part *rd = po_part_new_reader(chunks_read, &c);
	po_reader *r = NULL;
	po_letter *l;

	(void)state;
	assert_po_ok(po_part_set_encoding(rd, "7bit"));
	l = letter_with(rd);
	assert_po_ok(po_reader_new(l, 0, &r));
	assert_int_equal(drain(r, NULL, NULL), PO_EBADOCTET);
	po_reader_free(r);
	po_letter_free(l);
}

/* ---------------------------------------------------------------------
 * Item 2: a part's own Content-* fields */

/* The issue's reproduction: a multipart whose headers carry its own
 * Content-Type.  One Content-Type, and the boundary it names is the one
 * used. */
static void test_own_content_type_multipart(void **state)
{
	po_part *mp = po_part_new_multipart("mixed");
	char *msg;
	tc_entity *e;
	po_letter *l;

	(void)state;
	assert_po_ok(po_part_add_header(mp, "Content-Type",
					"multipart/mixed; boundary=\"b1\""));
	assert_string_equal(po_part_boundary(mp), "b1");
	assert_po_ok(po_part_add(mp, po_part_new_text("one\n", 4, NULL)));
	assert_po_ok(po_part_add(mp, attachment()));
	l = letter_with(mp);
	e = parsed(l, &msg);
	assert_int_equal(count(msg, "Content-Type: multipart"), 1);
	assert_string_equal(e->boundary, "b1");
	assert_int_equal(e->nchild, 2);
	assert_body(e->child[0], "one\r\n");
	tc_entity_free(e);
	free(msg);
	po_letter_free(l);
}

static void test_own_content_type_leaf(void **state)
{
	po_part *t = po_part_new_text("<p>hi</p>\n", PO_ZERO_TERMINATED, NULL);
	char *msg;
	tc_entity *e;
	po_letter *l;

	(void)state;
	assert_po_ok(po_part_add_header(
		t, "Content-Type", "text/html (a comment); charset=utf-8; "
				   "format=\"flowed\""));
	l = letter_with(t);
	e = parsed(l, &msg);
	assert_int_equal(count(msg, "Content-Type:"), 1);
	assert_non_null(strstr(msg, "Content-Type: text/html;\r\n"
				    "    charset=\"utf-8\";\r\n"
				    "    format=\"flowed\"\r\n"));
	assert_string_equal(e->type, "text/html");
	tc_entity_free(e);
	free(msg);
	/* one of each only; a multipart type on a leaf; RFC 2231 */
	assert_int_equal(po_part_add_header(t, "content-type", "text/plain"),
			 PO_EHEADER);
	po_letter_free(l);
	t = po_part_new_text("x", 1, NULL);
	assert_int_equal(po_part_add_header(t, "Content-Type",
					    "multipart/mixed; boundary=x"),
			 PO_EINVAL);
	assert_int_equal(po_part_add_header(t, "Content-Type",
					    "text/plain; name*=utf-8''a"),
			 PO_ECONTENTTYPE);
	assert_int_equal(po_part_add_header(t, "Content-Type", "text"),
			 PO_ECONTENTTYPE);
	po_part_free(t);
}

/* The caller's Content-Transfer-Encoding is applied, once, or refused
 * when the content does not fit it. */
static void test_own_cte(void **state)
{
	static const struct {
		const char *content, *cte;
		int status;
	} cases[] = {
		{"plain\n", "7bit", PO_OK},
		{"caf\xc3\xa9\n", "7bit", PO_EBADOCTET},
		{"a\n.\nb\n", "7bit", PO_ELINE},
		{"a\0b", "8bit", PO_EBADOCTET},
		{"caf\xc3\xa9\n", "8bit", PO_OK},
		{"caf\xc3\xa9\n", "Quoted-Printable", PO_OK},
		{"x", "base64 (comment)", PO_OK},
	};
	char longline[1200];

	(void)state;
	memset(longline, 'a', sizeof longline - 1);
	longline[sizeof longline - 1] = '\0';
	for (size_t i = 0; i < sizeof cases / sizeof cases[0] + 1; i++) {
		const char *content = i < 7 ? cases[i].content : longline;
		const char *cte = i < 7 ? cases[i].cte : "7bit";
		int want = i < 7 ? cases[i].status : PO_ELINE;
		size_t len = i == 3 ? 3 : strlen(content);
		po_part *mp = po_part_new_multipart(NULL);
		po_part *t = po_part_new_text(content, len, NULL);
		po_reader *r = NULL;
		po_letter *l;

		assert_po_ok(po_part_add_header(t, "Content-Transfer-Encoding",
						cte));
		assert_po_ok(po_part_add(mp, t));
		l = letter_with(mp);
		assert_int_equal(po_reader_new(l, 0, &r), want);
		if (want == PO_OK) {
			char *msg;
			tc_entity *e = parsed(l, &msg);
			char w[64];

			assert_int_equal(count(msg, "Content-Transfer-Encoding"),
					 1);
			snprintf(w, sizeof w, "%s", cte);
			*strchrnul(w, ' ') = '\0';
			for (char *c = w; *c; c++)
				*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32
								   : *c);
			assert_string_equal(e->child[0]->cte, w);
			tc_entity_free(e);
			free(msg);
			po_reader_free(r);
		}
		po_letter_free(l);
	}
	{
		po_part *mp = po_part_new_multipart(NULL);
		po_part *t = po_part_new_text("x", 1, NULL);

		assert_int_equal(po_part_add_header(mp,
						    "Content-Transfer-Encoding",
						    "7bit"),
				 PO_EINVAL);
		assert_int_equal(po_part_add_header(t,
						    "Content-Transfer-Encoding",
						    "x-uuencode"),
				 PO_EENCODING);
		assert_po_ok(po_part_add_header(t, "Content-Transfer-Encoding",
						"base64"));
		assert_int_equal(po_part_add_header(t,
						    "Content-Transfer-Encoding",
						    "7bit"),
				 PO_EHEADER);
		po_part_free(t);
		po_part_free(mp);
	}
}

/* Other Content-* fields of the caller stand in for the library's, and
 * come once; Bcc is refused in part headers as in letter headers. */
static void test_own_other_content_fields(void **state)
{
	po_part *mp = po_part_new_multipart(NULL);
	po_part *a = attachment();
	char *msg;
	tc_entity *e;
	po_letter *l;

	(void)state;
	assert_po_ok(po_part_set_id(a, "<id1@x>"));
	assert_po_ok(po_part_set_description(a, "generated"));
	assert_po_ok(po_part_add_header(a, "Content-Disposition",
					"attachment; filename=\"mine.pdf\""));
	assert_po_ok(po_part_add_header(a, "Content-ID", "<id2@x>"));
	assert_po_ok(po_part_add_header(a, "Content-Description", "mine"));
	assert_int_equal(po_part_add_header(a, "CONTENT-ID", "<id3@x>"),
			 PO_EHEADER);
	assert_int_equal(po_part_add_header(a, "Bcc", "eve@example.com"),
			 PO_EHEADER);
	assert_int_equal(po_part_add_header(mp, "bcc", "eve@example.com"),
			 PO_EHEADER);
	assert_po_ok(po_part_add(mp, a));
	l = letter_with(mp);
	e = parsed(l, &msg);
	assert_int_equal(count(msg, "Content-Disposition"), 1);
	assert_int_equal(count(msg, "Content-ID"), 1);
	assert_int_equal(count(msg, "Content-Description"), 1);
	assert_string_equal(tc_entity_field(e->child[0], "Content-ID"),
			    "<id2@x>");
	assert_null(strstr(msg, "eve@"));
	tc_entity_free(e);
	free(msg);
	po_letter_free(l);
}

/* ---------------------------------------------------------------------
 * Item 3: the file read is the file the part was made from */

static po_letter *file_letter(const char *path, po_part **file_out)
{
	po_part *mp = po_part_new_multipart(NULL), *f = NULL;

	assert_po_ok(po_part_new_file(path, &f));
	assert_po_ok(po_part_add(mp, po_part_new_text("see\n", 4, NULL)));
	assert_po_ok(po_part_add(mp, f));
	if (file_out)
		*file_out = f;
	return letter_with(mp);
}

static void on_alarm(int sig)
{
	(void)sig;
	/* a render that blocks on a FIFO: the bug itself */
	_exit(99);
}

/* The issue's reproduction: between the check and the send the file is
 * swapped for a FIFO (which used to block the sender forever), for a
 * link to /dev/zero (which used to send without end), or for another
 * file.  Each is refused before the first byte, without blocking. */
static void test_file_swapped(void **state)
{
	char *path = path_in_dir("swap.txt");
	char *other = path_in_dir("other.txt");
	po_reader *r = NULL;

	(void)state;
	signal(SIGALRM, on_alarm);
	for (int k = 0; k < 4; k++) {
		po_letter *l;

		write_file(path, "original\n", 9);
		l = file_letter(path, NULL);
		unlink(path);
		switch (k) {
		case 0:
			assert_int_equal(mkfifo(path, 0600), 0);
			break;
		case 1:
			assert_int_equal(symlink("/dev/zero", path), 0);
			break;
		case 2:
			write_file(other, "original\n", 9);
			assert_int_equal(rename(other, path), 0);
			break;
		case 3: /* removed */
			break;
		}
		alarm(5);
		if (k < 3) {
			assert_int_equal(po_reader_new(l, 0, &r), PO_ECHANGED);
			assert_null(r);
		} else {
			assert_int_equal(po_reader_new(l, 0, &r), PO_ENOENT);
		}
		alarm(0);
		po_letter_free(l);
		unlink(path);
	}
	/* swapped after the render started: the descriptor opened then is
	 * read, never the path again (this blocked forever on a FIFO) */
	{
		po_letter *l;
		tc_entity *e;
		char *msg;
		const char *err;
		size_t n;

		write_file(path, "original\n", 9);
		l = file_letter(path, NULL);
		assert_po_ok(po_reader_new(l, 0, &r));
		unlink(path);
		assert_int_equal(mkfifo(path, 0600), 0);
		alarm(5);
		assert_po_ok(drain(r, &msg, &n));
		alarm(0);
		e = tc_mime_parse(msg, n, &err);
		assert_non_null(e);
		assert_body(e->child[1], "original\n");
		tc_entity_free(e);
		free(msg);
		po_reader_free(r);
		po_letter_free(l);
		unlink(path);
	}
	/* a symbolic link of the caller's own is followed */
	write_file(other, "linked\n", 7);
	assert_int_equal(symlink(other, path), 0);
	{
		po_letter *l = file_letter(path, NULL);
		tc_entity *e = parsed(l, NULL);

		assert_body(e->child[1], "linked\n");
		tc_entity_free(e);
		po_letter_free(l);
	}
	unlink(path);
	unlink(other);
	free(path);
	free(other);
}

/* Every pass of a render reads the one descriptor opened when the render
 * started: a file renamed over the path afterwards is not read (the
 * 7bit file is looked at once to choose the encoding, then sent). */
static void test_file_read_from_one_descriptor(void **state)
{
	char *path = path_in_dir("one.txt"), *other = path_in_dir("new.txt");
	po_part *f;
	po_letter *l;
	po_reader *r = NULL;
	char *msg;
	const char *err;
	tc_entity *e;
	size_t n;

	(void)state;
	write_file(path, "first version\n", 14);
	l = file_letter(path, &f);
	assert_po_ok(po_part_set_encoding(f, "7bit"));
	assert_po_ok(po_reader_new(l, 0, &r));
	write_file(other, "second version, longer\n", 23);
	assert_int_equal(rename(other, path), 0);
	assert_po_ok(drain(r, &msg, &n));
	e = tc_mime_parse(msg, n, &err);
	assert_non_null(e);
	assert_string_equal(e->child[1]->cte, "7bit");
	assert_body(e->child[1], "first version\r\n");
	/* and a rewind reads it again from there */
	assert_po_ok(po_reader_rewind(r));
	{
		char *again;
		size_t m;

		assert_po_ok(drain(r, &again, &m));
		assert_int_equal(m, n);
		assert_memory_equal(again, msg, n);
		free(again);
	}
	tc_entity_free(e);
	free(msg);
	po_reader_free(r);
	po_letter_free(l);
	unlink(path);
	free(path);
	free(other);
}

/* A file that grows, shrinks or is written to while it is read fails the
 * render: never a letter other than the file that was checked. */
static void test_file_changed_while_read(void **state)
{
	char *path = path_in_dir("change.bin");
	static unsigned char data[3 << 20];
	char buf[4096];

	(void)state;
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)(i * 13);
	for (int k = 0; k < 3; k++) {
		po_reader *r = NULL;
		po_letter *l;
		size_t n;
		int fd;

		write_file(path, data, sizeof data);
		l = file_letter(path, NULL);
		assert_po_ok(po_reader_new(l, 0, &r));
		assert_po_ok(po_reader_read(r, buf, sizeof buf, &n));
		fd = open(path, O_WRONLY);
		assert_true(fd >= 0);
		if (k == 0)
			assert_int_equal(pwrite(fd, "more", 4, sizeof data), 4);
		else if (k == 1)
			assert_int_equal(ftruncate(fd, 1000), 0);
		else
			assert_int_equal(pwrite(fd, "same size", 9, 10), 9);
		close(fd);
		if (k == 2) {
			/* file times tick coarsely: make the write show */
			struct timespec t[2] = {{0, UTIME_OMIT},
						{12345, 0}};

			assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
		}
		assert_int_equal(drain(r, NULL, NULL), PO_ECHANGED);
		assert_non_null(strstr(po_last_error(), "change.bin"));
		/* the failure sticks */
		assert_int_equal(po_reader_read(r, buf, sizeof buf, &n),
				 PO_ECHANGED);
		assert_int_equal(po_reader_rewind(r), PO_ESTATE);
		po_reader_free(r);
		po_letter_free(l);
	}
	unlink(path);
	free(path);
}

/* Parts hold no descriptor: a batch of letters with file parts needs
 * none until each is rendered, and one per file part while it is. */
static void test_file_parts_hold_no_descriptor(void **state)
{
	char *path = path_in_dir("batch.txt");
	po_letter *letters[2000];
	struct rlimit old, low;
	int before;

	(void)state;
	write_file(path, "x\n", 2);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = 64;
	before = count_fds();
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	for (size_t i = 0; i < 2000; i++)
		letters[i] = file_letter(path, NULL);
	assert_int_equal(count_fds(), before);
	for (size_t i = 0; i < 2000; i++) {
		po_reader *r = NULL;

		assert_po_ok(po_reader_new(letters[i], 0, &r));
		assert_int_equal(count_fds(), before + 1);
		assert_po_ok(drain(r, NULL, NULL));
		po_reader_free(r);
		po_letter_free(letters[i]);
	}
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(count_fds(), before);
	unlink(path);
	free(path);
}

static void test_rewind(void **state)
{
	struct chunks c = {(const char *const[]){"x", NULL}, 0};
	po_part *mp = po_part_new_multipart(NULL);
	po_reader *r = NULL;
	po_letter *l;
	char *a, *b;
	size_t na, nb;

	(void)state;
	assert_po_ok(po_part_add(mp, po_part_new_text("t\n", 2, NULL)));
	l = letter_with(mp);
	assert_po_ok(po_reader_new(l, 0, &r));
	assert_po_ok(drain(r, &a, &na));
	assert_po_ok(po_reader_rewind(r));
	assert_po_ok(drain(r, &b, &nb));
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na);
	free(a);
	free(b);
	po_reader_free(r);
	assert_po_ok(po_part_add(mp, po_part_new_reader(chunks_read, &c)));
	assert_po_ok(po_reader_new(l, 0, &r));
	assert_int_equal(po_reader_rewind(r), PO_ESTATE);
	po_reader_free(r);
	assert_int_equal(po_reader_rewind(NULL), PO_EINVAL);
	po_letter_free(l);
}

/* ---------------------------------------------------------------------
 * Item 13: depth */

static void test_depth_limit(void **state)
{
	po_part *top = po_part_new_multipart(NULL), *p = top, *m;

	assert_int_equal(PO_MAX_DEPTH, 100);
	po_reader *r = NULL;
	po_letter *l;
	tc_entity *e;

	(void)state;
	/* levels 1..PO_MAX_DEPTH: the last one a leaf */
	for (int level = 2; level < PO_MAX_DEPTH; level++) {
		m = po_part_new_multipart(NULL);
		assert_po_ok(po_part_add(p, m));
		p = m;
	}
	/* a leaf at level PO_MAX_DEPTH is fine; a multipart there, with a
	 * child one level further down, is not */
	assert_po_ok(po_part_add(p, po_part_new_text("deep", 4, NULL)));
	{
		po_part *extra = po_part_new_multipart(NULL);

		assert_po_ok(po_part_add(extra, po_part_new_text("x", 1, NULL)));
		assert_int_equal(po_part_add(p, extra), PO_EDEPTH);
		assert_non_null(strstr(po_last_error(), "100"));
		po_part_free(extra);
	}
	l = letter_with(top);
	e = parsed(l, NULL);
	tc_entity_free(e);
	assert_po_ok(po_reader_new(l, 0, &r));
	po_reader_free(r);
	po_letter_free(l);
}

/* The issue's reproduction: a 40,000-deep chain, built from the leaf up,
 * crashed the renderer; building 200,000 levels was quadratic.  Now the
 * chain stops at the limit, at once. */
static void test_deep_chain_refused(void **state)
{
	po_part *chain = po_part_new_text("leaf", 4, NULL);
	clock_t t0 = clock();
	int refused = 0;

	(void)state;
	for (int i = 0; i < 40000; i++) {
		po_part *m = po_part_new_multipart(NULL);
		int rc = po_part_add(m, chain);

		if (rc == PO_EDEPTH) {
			refused++;
			po_part_free(m);
			continue;
		}
		assert_po_ok(rc);
		chain = m;
	}
	assert_int_equal(refused, 40000 - (PO_MAX_DEPTH - 1));
	/* a wide tree is no problem: 100,000 children */
	for (int i = 0; i < 100000; i++)
		assert_po_ok(po_part_add(chain, po_part_new_text("w", 1, NULL)));
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 10);
	po_part_free(chain);
}

/* ---------------------------------------------------------------------
 * Item 14: text bodies read from files and readers, checked as UTF-8 */

static void test_text_file(void **state)
{
	char *path = path_in_dir("body.txt");
	po_part *t = NULL;
	po_reader *r = NULL;
	po_letter *l;
	tc_entity *e;

	(void)state;
	write_file(path, "plain body\n", 11);
	assert_po_ok(po_part_new_text_file(path, NULL, &t));
	l = letter_with(t);
	e = parsed(l, NULL);
	assert_string_equal(e->cte, "7bit");
	assert_null(tc_entity_field(e, "Content-Disposition"));
	assert_body(e, "plain body\r\n");
	tc_entity_free(e);
	po_letter_free(l);
	/* a code point over U+10FFFF, which glibc's mbrtowc took */
	write_file(path, "ok\nbad \xf4\x90\x80\x80\n", 12);
	assert_po_ok(po_part_new_text_file(path, "UTF-8", &t));
	l = letter_with(t);
	assert_int_equal(po_reader_new(l, 0, &r), PO_EUTF8);
	assert_non_null(strstr(po_last_error(), "line 2"));
	po_letter_free(l);
	/* a FIFO is refused as for attachments */
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(po_part_new_text_file(path, NULL, &t), PO_EACCES);
	assert_int_equal(po_part_new_text_file("/dev/zero", NULL, &t),
			 PO_EACCES);
	unlink(path);
	free(path);
}

static void test_text_reader_utf8(void **state)
{
	/* a 4-octet sequence split over three reads, then a bad one */
	static const char *const good[] = {"caf\xc3", "\xa9 \xf0\x9f",
					   "\x98\x80\n", NULL};
	static const char *const bad[] = {"line 1\nline 2 \xf4\x90",
					  "\x80\x80\n", NULL};
	static const char *const cut[] = {"end \xe2\x82", NULL};
	const char *const *cases[] = {good, bad, cut};
	const int want[] = {PO_OK, PO_EUTF8, PO_EUTF8};

	(void)state;
	for (int k = 0; k < 3; k++) {
		struct chunks c = {cases[k], 0};
		po_part *t = po_part_new_text_reader(chunks_read, &c, NULL);
		po_reader *r = NULL;
		po_letter *l = letter_with(t);

		assert_po_ok(po_reader_new(l, 0, &r));
		assert_int_equal(drain(r, NULL, NULL), want[k]);
		if (k == 1)
			assert_non_null(strstr(po_last_error(), "line 2"));
		po_reader_free(r);
		po_letter_free(l);
	}
	/* another charset is not checked */
	{
		struct chunks c = {bad, 0};
		po_part *t = po_part_new_text_reader(chunks_read, &c,
						     "iso-8859-1");
		po_reader *r = NULL;
		po_letter *l = letter_with(t);

		assert_po_ok(po_reader_new(l, 0, &r));
		assert_po_ok(drain(r, NULL, NULL));
		po_reader_free(r);
		po_letter_free(l);
	}
	assert_null(po_part_new_text_reader(NULL, NULL, NULL));
	assert_null(po_part_new_text_reader(chunks_read, NULL, "a b"));
}

/* ---------------------------------------------------------------------
 * The encoder's side of item 1 */

static void test_qp_leading_dashes(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"--b\n", "=2D-b\r\n"},
		{"-b\n--\n-\n", "-b\r\n=2D-\r\n-\r\n"},
		{"a\n---x", "a\r\n=2D--x"},
		{"--", "=2D-"},
	};
	char out[256];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		po__qp st;
		size_t n;

		po__qp_init(&st, 1);
		st.dashes = 1;
		n = po__qp_update(&st, (const unsigned char *)cases[i].in,
				  strlen(cases[i].in), out);
		n += po__qp_final(&st, out + n);
		out[n] = '\0';
		assert_string_equal(out, cases[i].out);
	}
	/* a soft-broken line that would start with "--" */
	{
		char in[200];
		po__qp st;
		size_t n;

		memset(in, 'a', 75);
		memcpy(in + 75, "--x", 4);
		po__qp_init(&st, 1);
		st.dashes = 1;
		n = po__qp_update(&st, (const unsigned char *)in, strlen(in),
				  out);
		n += po__qp_final(&st, out + n);
		out[n] = '\0';
		assert_non_null(strstr(out, "=\r\n=2D-x"));
	}
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/po-safety-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forged_fixed_boundary_reencoded),
		cmocka_unit_test(test_forged_generated_boundary_replaced),
		cmocka_unit_test(test_forged_fixed_boundary_and_cte_refused),
		cmocka_unit_test(test_forged_outer_boundary),
		cmocka_unit_test(test_nested_boundary_prefix),
		cmocka_unit_test(test_forged_by_header_name),
		cmocka_unit_test(test_forged_by_reader),
		cmocka_unit_test(test_qp_dashes_only_in_multipart),
		cmocka_unit_test(test_boundary_new),
		cmocka_unit_test(test_boundary_encoded_word),
		cmocka_unit_test(test_reader_7bit_octets),
		cmocka_unit_test(test_qp_leading_dashes),
		cmocka_unit_test(test_own_content_type_multipart),
		cmocka_unit_test(test_own_content_type_leaf),
		cmocka_unit_test(test_own_cte),
		cmocka_unit_test(test_own_other_content_fields),
		cmocka_unit_test(test_file_swapped),
		cmocka_unit_test(test_file_read_from_one_descriptor),
		cmocka_unit_test(test_file_changed_while_read),
		cmocka_unit_test(test_file_parts_hold_no_descriptor),
		cmocka_unit_test(test_rewind),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_deep_chain_refused),
		cmocka_unit_test(test_text_file),
		cmocka_unit_test(test_text_reader_utf8),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
