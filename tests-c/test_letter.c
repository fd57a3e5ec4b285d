/* test_letter.c - addresses, letters and parts: construction, copying,
 * validation and the refusal of injection attempts. */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "address.h"

static void test_errors_table(void **state)
{
	(void)state;
	assert_string_equal(po_errname(PO_OK), "OK");
	assert_string_equal(po_errname(PO_ERECIPIENT), "ERECIPIENT");
	assert_string_equal(po_strerror(PO_ERECIPIENT), "recipient refused");
	assert_string_equal(po_errname(9999), "UNKNOWN");
	assert_string_equal(po_strerror(-1), "unknown error");
	/* every code below the count has a name of its own */
	for (int i = 0; i < PO__STATUS_COUNT; i++)
		assert_string_not_equal(po_errname(i), "UNKNOWN");
}

static void test_version(void **state)
{
	(void)state;
	assert_string_equal(po_version(), PO_VERSION);
	assert_int_equal(po_version_num(), PO_VERSION_NUM);
}

static void test_free_null(void **state)
{
	(void)state;
	po_letter_free(NULL);
	po_part_free(NULL);
	po_reader_free(NULL);
	po_smtp_free(NULL);
	po_program_free(NULL);
}

struct addr_case {
	const char *in;
	int status;
	const char *display;
	const char *spec;
};

/* po__addr_parse on case i, checking its status (the case printed when
 * it differs); on success *a holds the address.  Returns the status. */
static int parse_case(size_t i, const char *in, int status, po__addr *a)
{
	int rc = po__addr_parse(in, "test", a, NULL);

	if (rc != status)
		print_error("case %zu \"%s\": got %s (%s)\n", i, in,
			    po_errname(rc), po_last_error());
	assert_int_equal(rc, status);
	return rc;
}

static void test_address_forms(void **state)
{
	static const struct addr_case cases[] = {
		{"joe@example.com", PO_OK, NULL, "joe@example.com"},
		{"  joe@example.com\t", PO_OK, NULL, "joe@example.com"},
		{"<joe@example.com>", PO_OK, NULL, "joe@example.com"},
		{"Joe <joe@example.com>", PO_OK, "Joe", "joe@example.com"},
		{"J\xc3\xb6rg M\xc3\xbcller <joerg@example.com>", PO_OK,
		 "J\xc3\xb6rg M\xc3\xbcller", "joerg@example.com"},
		{"\"Doe, Jane\" <jane@example.com>", PO_OK, "Doe, Jane",
		 "jane@example.com"},
		{"\"A \\\"q\\\" \\\\ b\" <x@y.z>", PO_OK, "A \"q\" \\ b",
		 "x@y.z"},
		{"o'brien+tag@sub.example.org", PO_OK, NULL,
		 "o'brien+tag@sub.example.org"},
		{"a@localhost", PO_OK, NULL, "a@localhost"},
		{"a@[127.0.0.1]", PO_OK, NULL, "a@[127.0.0.1]"},
		{"a@[IPv6:::1]", PO_OK, NULL, "a@[IPv6:::1]"},
		{"a@b\xc3\xbc" "cher.example", PO_OK, NULL,
		 "a@xn--bcher-kva.example"},
		{"j\xc3\xb6rg@example.com", PO_OK, NULL,
		 "j\xc3\xb6rg@example.com"},
		/* a bare local part, as Allegro's doc allows: as given */
		{"joe", PO_OK, NULL, "joe"},
		{"  root ", PO_OK, NULL, "root"},
		{"<root>", PO_OK, NULL, "root"},
		{"Root <root>", PO_OK, "Root", "root"},
		{"first.last", PO_OK, NULL, "first.last"},
		{"\"john doe\"", PO_OK, NULL, "\"john doe\""},
		/* quoted local parts */
		{"\"john doe\"@example.com", PO_OK, NULL,
		 "\"john doe\"@example.com"},
		{"John <\"j, d\"@example.com>", PO_OK, "John",
		 "\"j, d\"@example.com"},
		{"\"a\\\"b\"@example.com", PO_OK, NULL,
		 "\"a\\\"b\"@example.com"},
		{"\"a\"b@example.com", PO_EADDRESS, NULL, NULL},
		{"\"a\tb\"@example.com", PO_EADDRESS, NULL, NULL},
		/* comments: beside an addr-spec they name it */
		{"a@example.com (Alice)", PO_OK, "Alice", "a@example.com"},
		{"(Alice) a@example.com", PO_OK, "Alice", "a@example.com"},
		{"a@example.com (Smith, A. \\(B\\))", PO_OK, "Smith, A. (B)",
		 "a@example.com"},
		{"Alice (work) <a@example.com>", PO_OK, "Alice (work)",
		 "a@example.com"},
		{"Alice <a@example.com> (work)", PO_OK, "Alice (work)",
		 "a@example.com"},
		{"\"Doe, Jane\" Smith <j@example.com>", PO_OK,
		 "Doe, Jane Smith", "j@example.com"},
		{"a@example.com (unclosed", PO_EADDRESS, NULL, NULL},
		{"a@example.com )", PO_EADDRESS, NULL, NULL},
		/* one address only here; lists are po__addr_list_parse's */
		{"a@example.com, b@example.com", PO_EADDRESS, NULL, NULL},
		{"Doe, Jane <j@example.com>", PO_EADDRESS, NULL, NULL},
		{"Jane Doe jane@example.com", PO_EADDRESS, NULL, NULL},
		{"undisclosed-recipients:;", PO_EADDRESS, NULL, NULL},
		{"team: a@example.com;", PO_EADDRESS, NULL, NULL},
		{"a@b@example.com", PO_EADDRESS, NULL, NULL},
		{"", PO_EADDRESS, NULL, NULL},
		{" , ", PO_EADDRESS, NULL, NULL},
		{"<>", PO_EADDRESS, NULL, NULL},
		{"ro ot", PO_EADDRESS, NULL, NULL},
		{"root\r\n", PO_EADDRESS, NULL, NULL},
		{"@example.com", PO_EADDRESS, NULL, NULL},
		{"joe@", PO_EADDRESS, NULL, NULL},
		{"jo e@example.com", PO_EADDRESS, NULL, NULL},
		{"joe@exa mple.com", PO_EADDRESS, NULL, NULL},
		{"joe@example.com>", PO_EADDRESS, NULL, NULL},
		{"<joe@example.com", PO_EADDRESS, NULL, NULL},
		{"Joe <joe@example.com> x", PO_EADDRESS, NULL, NULL},
		{"Joe <<joe@example.com>>", PO_EADDRESS, NULL, NULL},
		{"\"Joe <x@y.z>", PO_EADDRESS, NULL, NULL},
		{"joe@example.com\r\nRCPT TO:<evil@x>", PO_EADDRESS, NULL,
		 NULL},
		{"joe@example.com\nX", PO_EADDRESS, NULL, NULL},
		{"joe\r@example.com", PO_EADDRESS, NULL, NULL},
		{"joe@example.com\x7f", PO_EADDRESS, NULL, NULL},
		{"Jo\x01 <joe@example.com>", PO_EADDRESS, NULL, NULL},
		{".joe@example.com", PO_EADDRESS, NULL, NULL},
		{"jo..e@example.com", PO_EADDRESS, NULL, NULL},
		{"joe@example..com", PO_EADDRESS, NULL, NULL},
		{"joe@-example.com", PO_EADDRESS, NULL, NULL},
		{"joe@example.com.", PO_EADDRESS, NULL, NULL},
		{"joe@[300.1.1.1]", PO_EADDRESS, NULL, NULL},
		{"a\"b@example.com", PO_EADDRESS, NULL, NULL},
		{"a(b)@example.com", PO_EADDRESS, NULL, NULL},
		{"joe@exam_ple.com", PO_EADDRESS, NULL, NULL},
		{"\xff@example.com", PO_EUTF8, NULL, NULL},
		{"a@b\xc3", PO_EUTF8, NULL, NULL},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		po__addr a;
		int rc = parse_case(i, cases[i].in, cases[i].status, &a);

		if (rc != PO_OK) {
			assert_true(strlen(po_last_error()) > 0);
			continue;
		}
		if (cases[i].display)
			assert_string_equal(a.display, cases[i].display);
		else
			assert_null(a.display);
		assert_string_equal(a.spec, cases[i].spec);
		po__addr_clear(&a);
	}
}

struct list_case {
	const char *in;
	int status;
	size_t n;
	const char *spec[3];
	const char *display[3];
};

static void test_address_lists(void **state)
{
	static const struct list_case cases[] = {
		{"a@x.com, b@y.com", PO_OK, 2, {"a@x.com", "b@y.com"}, {0}},
		{"Carol <c@x.com>, d@x.com", PO_OK, 2, {"c@x.com", "d@x.com"},
		 {"Carol", NULL}},
		{"\"Doe, Jane\" <j@x.com>,k@x.com", PO_OK, 2,
		 {"j@x.com", "k@x.com"}, {"Doe, Jane", NULL}},
		{"a@x.com (Smith, A), b@y.com", PO_OK, 2,
		 {"a@x.com", "b@y.com"}, {"Smith, A", NULL}},
		{"<\"a,b\"@x.com>, c@x.com", PO_OK, 2,
		 {"\"a,b\"@x.com", "c@x.com"}, {0}},
		{"a@x.com,", PO_OK, 1, {"a@x.com"}, {0}},
		{"a@x.com, , b@y.com", PO_OK, 2, {"a@x.com", "b@y.com"}, {0}},
		{"a@[192.0.2.1], b@y.com", PO_OK, 2,
		 {"a@[192.0.2.1]", "b@y.com"}, {0}},
		{"root", PO_OK, 1, {"root"}, {0}},
		{"Root <root>", PO_OK, 1, {"root"}, {"Root"}},
		/* in a list every address needs a domain */
		{"Doe, Jane <j@x.com>", PO_EADDRESS, 0, {0}, {0}},
		{"root, bob@x.com", PO_EADDRESS, 0, {0}, {0}},
		{"bob@x.com, root", PO_EADDRESS, 0, {0}, {0}},
		{"a@x.com, b@y.com, Doe, J <j@x.com>", PO_EADDRESS, 0, {0},
		 {0}},
		{",", PO_EADDRESS, 0, {0}, {0}},
		{"a@x.com, b c@y.com", PO_EADDRESS, 0, {0}, {0}},
		{"a@x.com, \"b@y.com", PO_EADDRESS, 0, {0}, {0}},
	};
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		po__addr *v = (po__addr *)1;
		size_t n = 99;
		int rc = po__addr_list_parse(cases[i].in, "To address", &v,
					     &n, NULL);

		if (rc != cases[i].status)
			print_error("case %zu \"%s\": got %s (%s)\n", i,
				    cases[i].in, po_errname(rc),
				    po_last_error());
		assert_int_equal(rc, cases[i].status);
		if (rc != PO_OK) {
			assert_null(v);
			assert_int_equal(n, 0);
			continue;
		}
		assert_int_equal(n, cases[i].n);
		for (k = 0; k < n; k++) {
			assert_string_equal(v[k].spec, cases[i].spec[k]);
			if (cases[i].display[k])
				assert_string_equal(v[k].display,
						    cases[i].display[k]);
			else
				assert_null(v[k].display);
			po__addr_clear(&v[k]);
		}
		free(v);
	}
}

/* An unquoted comma in a display name is refused with a message that
 * says how to quote it, and adds no recipient. */
static void test_address_list_messages(void **state)
{
	po_letter *l = po_letter_new();

	(void)state;
	assert_int_equal(po_letter_add_to(l, "Doe, Jane <j@x.com>"),
			 PO_EADDRESS);
	assert_non_null(strstr(po_last_error(), "\"Doe\" has no domain"));
	assert_non_null(strstr(po_last_error(),
			       "quote it: \"\\\"Doe, Jane\\\" <j@x.com>\""));
	assert_int_equal(po_letter_add_cc(l, "root, bob@x.com"), PO_EADDRESS);
	assert_non_null(strstr(po_last_error(), "\"root\" has no domain"));
	assert_int_equal(po_letter_recipient_count(l), 0);
	/* a list adds every address; To keeps them all */
	assert_po_ok(po_letter_add_to(l, "a@x.com, \"B, b\" <b@x.com>"));
	assert_po_ok(po_letter_add_bcc(l, "c@x.com (C), d@x.com"));
	assert_int_equal(po_letter_recipient_count(l), 4);
	assert_string_equal(po_letter_recipient(l, 1), "b@x.com");
	assert_string_equal(po_letter_recipient(l, 3), "d@x.com");
	/* From is one address */
	assert_int_equal(po_letter_set_from(l, "a@x.com, b@x.com"),
			 PO_EADDRESS);
	assert_non_null(strstr(po_last_error(), "one address only"));
	po_letter_free(l);
}

struct unicode_case {
	const char *in;
	int status;
};

/* C0/C1 controls, separators, bidi controls and invisible characters
 * (issue #7 item 12): one case per class and place. */
static void test_address_unicode(void **state)
{
	static const struct unicode_case cases[] = {
		/* C0 */
		{"jo\x01e@example.com", PO_EADDRESS},
		{"Jo\x1b[31m <joe@example.com>", PO_EADDRESS},
		/* C1, NEL */
		{"jo\xc2\x85" "e@example.com", PO_EADDRESS},
		{"Jo\xc2\x85 <joe@example.com>", PO_EADDRESS},
		{"jo\xc2\x9b" "e@example.com", PO_EADDRESS},
		/* line and paragraph separators */
		{"jo\xe2\x80\xa8" "e@example.com", PO_EADDRESS},
		{"Jo\xe2\x80\xa9 <joe@example.com>", PO_EADDRESS},
		/* bidi embeddings, overrides, isolates: everywhere */
		{"jo\xe2\x80\xae" "e@example.com", PO_EADDRESS},
		{"\xe2\x80\xae" "moc.knab <joe@example.com>", PO_EADDRESS},
		{"Jo\xe2\x80\xaa <joe@example.com>", PO_EADDRESS},
		{"jo\xe2\x81\xa6" "e@example.com", PO_EADDRESS},
		{"Jo\xe2\x81\xa9 <joe@example.com>", PO_EADDRESS},
		{"joe@exa\xe2\x80\xae" "mple.com", PO_EADDRESS},
		/* bidi marks: in addresses, not in names */
		{"jo\xe2\x80\x8e" "e@example.com", PO_EADDRESS},
		{"jo\xe2\x80\x8f" "e@example.com", PO_EADDRESS},
		{"jo\xd8\x9c" "e@example.com", PO_EADDRESS},
		{"\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d\xe2\x80\x8f "
		 "<joe@example.com>", PO_OK},
		/* invisible: soft hyphen, ZWSP, word joiner, BOM */
		{"ad\xc2\xadmin@example.com", PO_EADDRESS},
		{"admin@exa\xc2\xadmple.com", PO_EADDRESS},
		{"ad\xe2\x80\x8bmin@example.com", PO_EADDRESS},
		{"ad\xe2\x81\xa0min@example.com", PO_EADDRESS},
		{"\xef\xbb\xbf" "admin@example.com", PO_EADDRESS},
		{"\"ad\xef\xbb\xbfmin\"@example.com", PO_EADDRESS},
		{"Ad\xc2\xadmin <admin@example.com>", PO_OK},
		{"ad\xc2\xadmin", PO_EADDRESS},
		/* other non-ASCII is fine */
		{"j\xc3\xb6rg@b\xc3\xbc" "cher.example", PO_OK},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		po__addr a;
		int rc = parse_case(i, cases[i].in, cases[i].status, &a);

		if (rc == PO_OK)
			po__addr_clear(&a);
		else
			assert_non_null(strstr(po_last_error(), "test"));
	}
	/* the message names the character */
	assert_int_equal(po__addr_parse("jo\xe2\x80\xae" "e@example.com", "To",
					&(po__addr){0}, NULL),
			 PO_EADDRESS);
	assert_non_null(strstr(po_last_error(), "U+202E"));
	assert_non_null(strstr(po_last_error(), "local part"));
}

/* The null sender is asked for explicitly, never by an empty From. */
static void test_null_sender(void **state)
{
	po_letter *l = po_letter_new();
	po_reader *r = NULL;

	(void)state;
	assert_int_equal(po_letter_set_from(l, ""), PO_EADDRESS);
	assert_int_equal(po_letter_set_from(l, "<>"), PO_EADDRESS);
	assert_null(po_letter_envelope_from(l));
	assert_po_ok(po_letter_set_null_sender(l));
	assert_string_equal(po_letter_envelope_from(l), "");
	assert_po_ok(po_letter_add_to(l, "a@example.com"));
	assert_po_ok(po_letter_set_body(
		l, po_part_new_text("bounce", PO_ZERO_TERMINATED, NULL)));
	/* no From field: refused before anything is produced */
	assert_int_equal(po_reader_new(l, 0, &r), PO_ENOSENDER);
	assert_null(r);
	assert_non_null(strstr(po_last_error(), "From"));
	assert_po_ok(po_letter_add_header_line(
		l, "From: Mail Delivery System <postmaster@example.com>"));
	assert_po_ok(po_reader_new(l, 0, &r));
	po_reader_free(r);
	/* set_from replaces it, and the other way round */
	assert_po_ok(po_letter_set_from(l, "x@example.com"));
	assert_string_equal(po_letter_envelope_from(l), "x@example.com");
	assert_po_ok(po_letter_set_null_sender(l));
	assert_string_equal(po_letter_envelope_from(l), "");
	assert_int_equal(po_letter_set_null_sender(NULL), PO_EINVAL);
	po_letter_free(l);
}

static void test_remove_recipient(void **state)
{
	po_letter *l = po_letter_new();

	(void)state;
	assert_po_ok(po_letter_add_to(l, "A <a@x.com>, b@x.com"));
	assert_po_ok(po_letter_add_cc(l, "a@x.com"));
	assert_po_ok(po_letter_add_bcc(l, "c@x.com, A@X.COM"));
	assert_int_equal(po_letter_remove_recipient(l, "a@x.com"), 3);
	assert_int_equal(po_letter_recipient_count(l), 2);
	assert_string_equal(po_letter_recipient(l, 0), "b@x.com");
	assert_string_equal(po_letter_recipient(l, 1), "c@x.com");
	assert_int_equal(po_letter_remove_recipient(l, "zz@x.com"), 0);
	assert_int_equal(po_letter_remove_recipient(NULL, "a@x.com"), 0);
	assert_int_equal(po_letter_remove_recipient(l, NULL), 0);
	po_letter_free(l);
}

static void test_address_limits(void **state)
{
	char local[70], buf[400];
	po__addr a;

	(void)state;
	memset(local, 'a', 64);
	local[64] = '\0';
	snprintf(buf, sizeof buf, "%s@example.com", local);
	assert_int_equal(po__addr_parse(buf, "t", &a, NULL), PO_OK);
	po__addr_clear(&a);
	snprintf(buf, sizeof buf, "a%s@example.com", local);
	assert_int_equal(po__addr_parse(buf, "t", &a, NULL), PO_EADDRESS);
	/* a 64-octet label is too long */
	snprintf(buf, sizeof buf, "a@%s.com", local);
	assert_int_equal(po__addr_parse(buf, "t", &a, NULL), PO_EADDRESS);
}

static void test_smtputf8_flag(void **state)
{
	po__addr a;
	int utf8 = -1;

	(void)state;
	assert_po_ok(po__addr_parse("x@b\xc3\xbc" "cher.de", "t", &a, &utf8));
	assert_int_equal(utf8, 0);
	po__addr_clear(&a);
	assert_po_ok(po__addr_parse("\xc3\xbc@example.com", "t", &a, &utf8));
	assert_int_equal(utf8, 1);
	po__addr_clear(&a);
}

static void test_letter_setters(void **state)
{
	po_letter *l = po_letter_new();
	char from[] = "Ann <ann@example.com>";

	(void)state;
	assert_non_null(l);
	assert_po_ok(po_letter_set_from(l, from));
	/* the letter keeps a copy */
	memset(from, 'x', sizeof from - 1);
	assert_string_equal(po_letter_envelope_from(l), "ann@example.com");
	assert_po_ok(po_letter_add_to(l, "b@example.com"));
	assert_po_ok(po_letter_add_cc(l, "\"Doe, C\" <c@example.com>"));
	assert_po_ok(po_letter_add_bcc(l, "d@example.com"));
	assert_po_ok(po_letter_add_to(l, "b@example.com"));
	assert_int_equal(po_letter_recipient_count(l), 4);
	/* order: to, cc, bcc; duplicates kept */
	assert_string_equal(po_letter_recipient(l, 0), "b@example.com");
	assert_string_equal(po_letter_recipient(l, 1), "b@example.com");
	assert_string_equal(po_letter_recipient(l, 2), "c@example.com");
	assert_string_equal(po_letter_recipient(l, 3), "d@example.com");
	assert_null(po_letter_recipient(l, 4));
	assert_null(po_letter_message_id(l));

	assert_int_equal(po_letter_set_subject(l, "a\r\nBcc: x@y"),
			 PO_EHEADER);
	assert_int_equal(po_letter_set_subject(l, "a\nb"), PO_EHEADER);
	assert_int_equal(po_letter_set_subject(l, "a\rb"), PO_EHEADER);
	assert_int_equal(po_letter_set_subject(l, "\xc3("), PO_EUTF8);
	assert_po_ok(po_letter_set_subject(l, "Gr\xc3\xbc\xc3\x9f" "e"));
	assert_int_equal(po_letter_add_reply_to(l, "x\r\n@y"), PO_EADDRESS);
	assert_int_equal(po_letter_add_header_line(l, "NoColon"),
			 PO_EHEADER);
	assert_int_equal(po_letter_add_header_line(l, "X-A: b\r\nBcc: c"),
			 PO_EHEADER);
	assert_int_equal(po_letter_add_header_line(l, "X A: b"), PO_EHEADER);
	assert_int_equal(po_letter_add_header_line(l, ": b"), PO_EHEADER);
	assert_po_ok(po_letter_add_header_line(l, "X-Mailer: test"));
	assert_int_equal(po_letter_add_to(l, NULL), PO_EINVAL);
	assert_int_equal(po_letter_add_to(NULL, "a@b.c"), PO_EINVAL);
	po_letter_free(l);
}

static void test_part_setters(void **state)
{
	po_part *p = po_part_new_text("hi", PO_ZERO_TERMINATED, NULL);
	po_part *m = po_part_new_multipart(NULL), *m2, *f = NULL;
	const char *b;

	(void)state;
	assert_non_null(p);
	assert_non_null(m);
	assert_int_equal(po_part_set_type(p, "text/html"), PO_OK);
	assert_int_equal(po_part_set_type(p, "texthtml"), PO_ECONTENTTYPE);
	assert_int_equal(po_part_set_type(p, "text/plain; charset=x"),
			 PO_ECONTENTTYPE);
	assert_int_equal(po_part_set_type(p, "multipart/mixed"), PO_EINVAL);
	assert_int_equal(po_part_set_type(m, "text/plain"), PO_EINVAL);
	assert_po_ok(po_part_set_type(m, "multipart/alternative"));
	assert_int_equal(po_part_set_charset(p, "utf 8"), PO_ECONTENTTYPE);
	assert_int_equal(po_part_add_param(p, "format", "flowed\r\n"),
			 PO_EHEADER);
	assert_int_equal(po_part_add_param(p, "charset", "x"),
			 PO_ECONTENTTYPE);
	assert_int_equal(po_part_add_param(p, "a b", "x"), PO_ECONTENTTYPE);
	assert_po_ok(po_part_add_param(p, "format", "flowed"));
	assert_int_equal(po_part_set_encoding(p, "uuencode"), PO_EENCODING);
	assert_po_ok(po_part_set_encoding(p, "Quoted-Printable"));
	assert_int_equal(po_part_set_encoding(m, "base64"), PO_EINVAL);
	assert_int_equal(po_part_set_disposition(p, 7, NULL), PO_EINVAL);
	assert_int_equal(po_part_set_disposition(
				 p, PO_DISPOSITION_ATTACHMENT, "a\r\nb"),
			 PO_EFILENAME);
	assert_int_equal(po_part_set_disposition(
				 p, PO_DISPOSITION_ATTACHMENT, "a\nb"),
			 PO_EFILENAME);
	assert_int_equal(po_part_set_disposition(
				 p, PO_DISPOSITION_ATTACHMENT, "../etc/x"),
			 PO_EFILENAME);
	assert_int_equal(po_part_set_disposition(
				 p, PO_DISPOSITION_ATTACHMENT, "\xc3"),
			 PO_EUTF8);
	assert_int_equal(po_part_set_disposition(
				 p, PO_DISPOSITION_ATTACHMENT, "a\tb"),
			 PO_EFILENAME);
	assert_po_ok(po_part_set_disposition(p, PO_DISPOSITION_INLINE,
					     "r\xc3\xa9sum\xc3\xa9.txt"));
	assert_int_equal(po_part_set_id(p, "a b@c"), PO_EHEADER);
	assert_int_equal(po_part_set_id(p, "<ab@c"), PO_EHEADER);
	assert_po_ok(po_part_set_id(p, "ab@c"));
	assert_int_equal(po_part_set_description(p, "x\ny"), PO_EHEADER);
	assert_int_equal(po_part_add_header(p, "X:Y", "v"), PO_EHEADER);
	assert_int_equal(po_part_add_header(p, "X-Y", "v\r"), PO_EHEADER);
	assert_po_ok(po_part_add_header(p, "X-Y", "v"));
	assert_int_equal(po_part_set_boundary(p, "abc"), PO_EINVAL);
	assert_int_equal(po_part_set_boundary(m, "a\r\nb"), PO_EBOUNDARY);
	assert_int_equal(po_part_set_boundary(m, "ends "), PO_EBOUNDARY);
	assert_int_equal(po_part_set_boundary(m, ""), PO_EBOUNDARY);
	assert_null(po_part_boundary(p));

	/* Allegro's shape: ----------_ then 32 of [0-9a-e] */
	b = po_part_boundary(m);
	assert_int_equal(strlen(b), 43);
	assert_memory_equal(b, "----------_", 11);
	for (int i = 11; i < 43; i++)
		assert_non_null(strchr("0123456789abcde", b[i]));
	m2 = po_part_new_multipart("related");
	assert_string_not_equal(po_part_boundary(m2), b);

	/* tree ownership */
	assert_po_ok(po_part_add(m, p));
	assert_int_equal(po_part_add(m2, p), PO_EINVAL); /* has a parent */
	assert_int_equal(po_part_add(p, m2), PO_EINVAL); /* not multipart */
	assert_po_ok(po_part_add(m2, m));
	assert_int_equal(po_part_add(m, m2), PO_EINVAL); /* a cycle */
	assert_int_equal(po_part_add(m, m), PO_EINVAL);

	/* file parts are checked when made */
	assert_int_equal(po_part_new_file("/nonexistent/x", &f), PO_ENOENT);
	assert_null(f);
	assert_int_equal(po_part_new_file("/tmp", &f), PO_EISDIR);
	assert_int_equal(po_part_new_file("", &f), PO_EINVAL);
	if (getuid() != 0) {
		assert_int_equal(po_part_new_file("/etc/shadow", &f),
				 PO_EACCES);
	}
	assert_po_ok(po_part_new_file("tests-c/check.h", &f));
	assert_po_ok(po_part_add(m, f));
	po_part_free(m2);
}

static void test_mime_types(void **state)
{
	static const char *const cases[][2] = {
		{"a.txt", "text/plain"},
		{"A.TXT", "text/plain"},
		{"dir/x.html", "text/html"},
		{"x.tar.gz", "application/x-gzip"},
		{"x.rtf", "text/rtf"},
		{"x.js", "application/x-javascript"},
		{"x.pdf", "application/pdf"},
		{"x.jpeg", "image/jpeg"},
		{"x.csv", "text/csv"},
		{"x.json", "application/json"},
		{"x.svg", "image/svg+xml"},
		{"x.docx", "application/vnd.openxmlformats-officedocument."
			   "wordprocessingml.document"},
		{"x.xlsx", "application/vnd.openxmlformats-officedocument."
			   "spreadsheetml.sheet"},
		{"x.webp", "image/webp"},
		{"x.mp4", "video/mp4"},
		{"x.ics", "text/calendar"},
		{".bashrc", "application/octet-stream"},
		{"x.", "application/octet-stream"},
		{"noext", "application/octet-stream"},
		{"dir.d/", "application/octet-stream"},
		{"x.unknownext", "application/octet-stream"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		assert_string_equal(po_mime_type_for_name(cases[i][0]),
				    cases[i][1]);
	assert_string_equal(po_mime_type_for_name(NULL),
			    "application/octet-stream");
}

static void test_file_part_defaults(void **state)
{
	char path[] = "/tmp/po-\xff-XXXXXX";
	po_part *f = NULL;
	int fd;

	(void)state;
	assert_po_ok(po_part_new_file("tests-c/check.h", &f));
	assert_string_equal(f->type, "text/plain"); /* .h */
	assert_int_equal(f->disposition, PO_DISPOSITION_ATTACHMENT);
	assert_string_equal(f->filename, "check.h");
	po_part_free(f);
	/* a name that is not UTF-8 can't go in a header: no filename */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_po_ok(po_part_new_file(path, &f));
	assert_null(f->filename);
	assert_int_equal(f->disposition, PO_DISPOSITION_ATTACHMENT);
	po_part_free(f);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors_table),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_free_null),
		cmocka_unit_test(test_address_forms),
		cmocka_unit_test(test_address_lists),
		cmocka_unit_test(test_address_list_messages),
		cmocka_unit_test(test_address_unicode),
		cmocka_unit_test(test_null_sender),
		cmocka_unit_test(test_remove_recipient),
		cmocka_unit_test(test_address_limits),
		cmocka_unit_test(test_smtputf8_flag),
		cmocka_unit_test(test_letter_setters),
		cmocka_unit_test(test_part_setters),
		cmocka_unit_test(test_mime_types),
		cmocka_unit_test(test_file_part_defaults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
