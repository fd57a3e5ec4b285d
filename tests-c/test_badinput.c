/* test_badinput.c - the bad input matrix: CR and LF in every field a
 * caller can set, malformed addresses, invalid UTF-8, bad attachments,
 * huge values and huge recipient lists.  Each is either a clear error from
 * the call that received it (so nothing is ever sent) or, where the input
 * is legal, a correct letter. */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"

static const char *const injections[] = {
	"a\r\nBcc: evil@example.com", "a\nRCPT TO:<evil@example.com>",
	"a\rb", "\r\n", "a\r\n.\r\nMAIL FROM:<x@y>",
};
#define NINJ (sizeof injections / sizeof injections[0])

/* Apply one setter with a hostile value; it must fail, leave po_last_error
 * set, and the letter must still render without the hostile text. */
typedef int (*setter)(po_letter *l, po_part *p, const char *v);

static int set_from(po_letter *l, po_part *p, const char *v)
{
	char a[128];

	(void)p;
	snprintf(a, sizeof a, "x%s@example.com", v);
	return po_letter_set_from(l, a);
}
static int set_from_name(po_letter *l, po_part *p, const char *v)
{
	char a[128];

	(void)p;
	snprintf(a, sizeof a, "Name%s <x@example.com>", v);
	return po_letter_set_from(l, a);
}
static int set_to(po_letter *l, po_part *p, const char *v)
{
	char a[128];

	(void)p;
	snprintf(a, sizeof a, "x@example.com%s", v);
	return po_letter_add_to(l, a);
}
static int set_cc(po_letter *l, po_part *p, const char *v)
{
	char a[128];

	(void)p;
	snprintf(a, sizeof a, "\"Q%s\" <x@example.com>", v);
	return po_letter_add_cc(l, a);
}
static int set_bcc(po_letter *l, po_part *p, const char *v)
{
	char a[128];

	(void)p;
	snprintf(a, sizeof a, "%s@example.com", v);
	return po_letter_add_bcc(l, a);
}
static int set_reply_to(po_letter *l, po_part *p, const char *v)
{
	char a[128];

	(void)p;
	snprintf(a, sizeof a, "x@exam%sple.com", v);
	return po_letter_add_reply_to(l, a);
}
static int set_subject(po_letter *l, po_part *p, const char *v)
{
	(void)p;
	return po_letter_set_subject(l, v);
}
static int set_header_value(po_letter *l, po_part *p, const char *v)
{
	char a[128];

	(void)p;
	snprintf(a, sizeof a, "X-Test: %s", v);
	return po_letter_add_header_line(l, a);
}
static int set_header_name(po_letter *l, po_part *p, const char *v)
{
	char a[128];

	(void)p;
	snprintf(a, sizeof a, "X%s: value", v);
	return po_letter_add_header_line(l, a);
}
static int set_part_header_name(po_letter *l, po_part *p, const char *v)
{
	(void)l;
	return po_part_add_header(p, v, "value");
}
static int set_part_header_value(po_letter *l, po_part *p, const char *v)
{
	(void)l;
	return po_part_add_header(p, "X-Part", v);
}
static int set_filename(po_letter *l, po_part *p, const char *v)
{
	(void)l;
	return po_part_set_disposition(p, PO_DISPOSITION_ATTACHMENT, v);
}
static int set_type(po_letter *l, po_part *p, const char *v)
{
	char a[128];

	(void)l;
	snprintf(a, sizeof a, "text/plain%s", v);
	return po_part_set_type(p, a);
}
static int set_charset(po_letter *l, po_part *p, const char *v)
{
	(void)l;
	return po_part_set_charset(p, v);
}
static int set_param(po_letter *l, po_part *p, const char *v)
{
	(void)l;
	return po_part_add_param(p, "format", v);
}
static int set_id(po_letter *l, po_part *p, const char *v)
{
	(void)l;
	return po_part_set_id(p, v);
}
static int set_description(po_letter *l, po_part *p, const char *v)
{
	(void)l;
	return po_part_set_description(p, v);
}
static int set_boundary(po_letter *l, po_part *p, const char *v)
{
	po_part *m = po_part_new_multipart(NULL);
	int rc;

	(void)l;
	(void)p;
	rc = po_part_set_boundary(m, v);
	po_part_free(m);
	return rc;
}

static const struct {
	const char *name;
	setter fn;
} fields[] = {
	{"from", set_from},
	{"from display name", set_from_name},
	{"to", set_to},
	{"cc quoted name", set_cc},
	{"bcc", set_bcc},
	{"reply-to", set_reply_to},
	{"subject", set_subject},
	{"header value", set_header_value},
	{"header name", set_header_name},
	{"part header name", set_part_header_name},
	{"part header value", set_part_header_value},
	{"filename", set_filename},
	{"content type", set_type},
	{"charset", set_charset},
	{"parameter", set_param},
	{"content id", set_id},
	{"description", set_description},
	{"boundary", set_boundary},
};

static char *render(po_letter *l)
{
	po_reader *r;
	char *out = NULL;
	size_t n = 0, got;

	assert_po_ok(po_reader_new(l, PO_RENDER_BCC, &r));
	do {
		out = realloc(out, n + 65537);
		assert_po_ok(po_reader_read(r, out + n, 65536, &got));
		n += got;
	} while (got);
	out[n] = '\0';
	po_reader_free(r);
	return out;
}

static void test_injection_everywhere(void **state)
{
	size_t f, i;

	(void)state;
	for (f = 0; f < sizeof fields / sizeof fields[0]; f++) {
		for (i = 0; i < NINJ; i++) {
			po_letter *l = po_letter_new();
			po_part *p = po_part_new_text("body", 4, NULL);
			char *msg;
			int rc;

			assert_po_ok(po_letter_set_from(l, "a@example.com"));
			assert_po_ok(po_letter_add_to(l, "b@example.com"));
			rc = fields[f].fn(l, p, injections[i]);
			if (rc == PO_OK)
				print_error("%s accepted %s\n", fields[f].name,
					    injections[i]);
			assert_int_not_equal(rc, PO_OK);
			assert_true(strlen(po_last_error()) > 0);
			assert_po_ok(po_letter_set_body(l, p));
			msg = render(l);
			assert_null(strstr(msg, "evil"));
			assert_null(strstr(msg, "MAIL FROM"));
			free(msg);
			po_letter_free(l);
		}
	}
}

static void test_invalid_utf8(void **state)
{
	static const char *const bad[] = {"\xff", "\xc3(", "\xe2\x82",
					  "\xed\xa0\x80", "\xc0\xaf",
					  "\xf4\x90\x80\x80"};
	po_letter *l = po_letter_new();
	po_part *p = po_part_new_text("x", 1, NULL);
	char a[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(po_letter_set_subject(l, bad[i]), PO_EUTF8);
		snprintf(a, sizeof a, "N%s <a@example.com>", bad[i]);
		assert_int_equal(po_letter_add_to(l, a), PO_EUTF8);
		snprintf(a, sizeof a, "X-A: %s", bad[i]);
		assert_int_equal(po_letter_add_header_line(l, a), PO_EUTF8);
		assert_int_equal(po_part_set_disposition(
					 p, PO_DISPOSITION_ATTACHMENT, bad[i]),
				 PO_EUTF8);
		assert_int_equal(po_part_set_description(p, bad[i]), PO_EUTF8);
	}
	/* octets given as text in another charset are the caller's business:
	 * the text part takes them as they are, and base64 carries them */
	po_part_free(p);
	po_letter_free(l);
}

static void test_bad_attachments(void **state)
{
	char dir[] = "/tmp/po-bad-XXXXXX", path[64];
	po_part *p = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(po_part_new_file("/no/such/file", &p), PO_ENOENT);
	assert_int_equal(po_part_new_file(dir, &p), PO_EISDIR);
	snprintf(path, sizeof path, "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(po_part_new_file(path, &p), PO_EACCES);
	unlink(path);
	if (geteuid() != 0) {
		FILE *f;

		snprintf(path, sizeof path, "%s/secret", dir);
		f = fopen(path, "w");
		fclose(f);
		chmod(path, 0);
		assert_int_equal(po_part_new_file(path, &p), PO_EACCES);
		unlink(path);
	}
	assert_null(p);
	assert_true(strstr(po_last_error(), dir) != NULL ||
		    strstr(po_last_error(), "fifo") != NULL);
	rmdir(dir);
}

static void test_huge_values(void **state)
{
	size_t n = 1u << 20;
	char *v = malloc(n + 16), *msg;
	po_letter *l = po_letter_new();
	const char *p, *line;

	(void)state;
	assert_po_ok(po_letter_set_from(l, "a@example.com"));
	assert_po_ok(po_letter_add_to(l, "b@example.com"));
	assert_po_ok(po_letter_set_body(l, po_part_new_text("x", 1, NULL)));
	/* a 1 MB subject without a space is legal: encoded words fold it */
	memset(v, 's', n);
	v[n] = '\0';
	assert_po_ok(po_letter_set_subject(l, v));
	/* a 1 MB raw header line that can't be folded is refused */
	memcpy(v, "X-Big: ", 7);
	assert_int_equal(po_letter_add_header_line(l, v), PO_ETOOLONG);
	/* with spaces it folds */
	for (size_t i = 100; i < n; i += 100)
		v[i] = ' ';
	assert_po_ok(po_letter_add_header_line(l, v));
	msg = render(l);
	for (line = msg; (p = strstr(line, "\r\n")); line = p + 2)
		assert_true(p - line <= 998);
	free(msg);
	free(v);
	po_letter_free(l);
}

static void test_ten_thousand_recipients(void **state)
{
	fixture f;
	po_smtp *s;
	po_letter *l = po_letter_new();
	char a[64], *j;
	int i;

	(void)state;
	assert_po_ok(po_letter_set_from(l, "a@example.com"));
	for (i = 0; i < 10000; i++) {
		snprintf(a, sizeof a, "Person %d <user%d@example.com>", i, i);
		assert_po_ok(i % 3 ? po_letter_add_to(l, a)
				   : po_letter_add_bcc(l, a));
	}
	assert_int_equal(po_letter_recipient_count(l), 10000);
	assert_po_ok(po_letter_set_body(l, po_part_new_text("x", 1, NULL)));
	assert_int_equal(fixture_start(&f, "faultd", NULL), 0);
	s = po_smtp_new();
	assert_po_ok(po_smtp_set_server(s, "127.0.0.1", (unsigned)f.port));
	assert_po_ok(po_smtp_send(s, l));
	assert_int_equal(fixture_wait_messages(&f, 1, 5000), 1);
	j = fixture_read(&f, "0001.json", NULL);
	assert_non_null(strstr(j, "user9999@example.com"));
	assert_non_null(strstr(j, "user0@example.com"));
	free(j);
	j = fixture_read(&f, "0001.eml", NULL);
	/* Bcc recipients are not in the header */
	assert_null(strstr(j, "user0@example.com"));
	assert_non_null(strstr(j, "user9998@example.com"));
	free(j);
	po_smtp_free(s);
	po_letter_free(l);
	fixture_stop(&f);
}

static void test_empty_message(void **state)
{
	po_letter *l = po_letter_new();
	char *msg;

	(void)state;
	assert_po_ok(po_letter_set_from(l, "a@example.com"));
	assert_po_ok(po_letter_add_to(l, "b@example.com"));
	assert_po_ok(po_letter_set_body(l, po_part_new_text("", 0, NULL)));
	msg = render(l);
	assert_non_null(strstr(msg, "Content-Transfer-Encoding: 7bit\r\n\r\n"));
	assert_string_equal(strstr(msg, "\r\n\r\n"), "\r\n\r\n");
	free(msg);
	assert_po_ok(po_letter_set_raw(l, "", 0));
	msg = render(l);
	assert_string_equal(msg, "");
	free(msg);
	po_letter_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_injection_everywhere),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_bad_attachments),
		cmocka_unit_test(test_huge_values),
		cmocka_unit_test(test_ten_thousand_recipients),
		cmocka_unit_test(test_empty_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
