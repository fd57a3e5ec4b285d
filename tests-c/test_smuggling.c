/* test_smuggling.c - SMTP smuggling: bodies holding the end-of-data
 * look-alikes that servers disagree on (\n.\n, \r.\r, \r\n.\n, \n.\r\n,
 * \r\n.\r, a lone "." line, NULs around dots), followed by a second,
 * smuggled transaction.  Sent raw (send-smtp's path) and as a text part,
 * from memory and from a reader that splits the sequence at every
 * possible chunk boundary, through libcurl to two servers (aiosmtpd and
 * our own lenient faultd) and through the program transport: each must
 * arrive as exactly one message, with the content intact up to line-ending
 * canonicalisation, and the smuggled transaction must never run. */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fixture.h"

static const char *const sequences[] = {
	"\n.\n",   "\r.\r",	  "\r\n.\n",	"\n.\r\n", "\r\n.\r",
	"\r\n.\r\n", "\n.\0\n", "\r\n\0.\r\n", "\r\n.\0\r\n", ".\r\n",
};
static const size_t seqlen[] = {3, 3, 4, 4, 4, 5, 4, 6, 6, 3};
#define NSEQ (sizeof sequences / sizeof sequences[0])

static const char smuggled[] = "MAIL FROM:<evil@attacker.example>\r\n"
			       "RCPT TO:<victim@example.com>\r\n"
			       "DATA\r\n"
			       "Subject: smuggled\r\n\r\nsmuggled\r\n.\r\n";

/* The letter body: "before", the sequence, the smuggled commands,
 * "after". */
static size_t body_for(size_t k, char *out)
{
	size_t n = 0;

	n += (size_t)sprintf(out + n, "Subject: test %zu\r\n\r\nbefore", k);
	memcpy(out + n, sequences[k], seqlen[k]);
	n += seqlen[k];
	memcpy(out + n, smuggled, sizeof smuggled - 1);
	n += sizeof smuggled - 1;
	memcpy(out + n, "after\r\n", 7);
	return n + 7;
}

/* The one CRLF policy, done the slow obvious way: CRLF stays, a bare CR
 * or a bare LF becomes CRLF. */
static size_t canonical(const char *in, size_t n, char *out)
{
	size_t i, w = 0;

	for (i = 0; i < n; i++) {
		if (in[i] == '\r') {
			out[w++] = '\r';
			out[w++] = '\n';
			if (i + 1 < n && in[i + 1] == '\n')
				i++;
		} else if (in[i] == '\n') {
			out[w++] = '\r';
			out[w++] = '\n';
		} else {
			out[w++] = in[i];
		}
	}
	return w;
}

struct chunks {
	const char *data;
	size_t len, pos, first; /* the first chunk is `first` bytes long */
};

static int chunked(void *ud, void *buf, size_t len, size_t *n)
{
	struct chunks *c = ud;
	size_t k = c->len - c->pos;

	if (c->pos == 0 && c->first && k > c->first)
		k = c->first;
	if (k > len)
		k = len;
	memcpy(buf, c->data + c->pos, k);
	c->pos += k;
	*n = k;
	return 0;
}

static po_letter *raw_letter(const char *data, size_t n, struct chunks *c)
{
	po_letter *l = po_letter_new();

	assert_po_ok(po_letter_set_from(l, "sender@example.com"));
	assert_po_ok(po_letter_add_to(l, "rcpt@example.com"));
	if (c) {
		c->data = data;
		c->len = n;
		c->pos = 0;
		assert_po_ok(po_letter_set_raw_reader(l, chunked, c));
	} else {
		assert_po_ok(po_letter_set_raw(l, data, n));
	}
	return l;
}

static void expect_one(fixture *f, int count_before, const char *want,
		       size_t nwant)
{
	char name[32], *got;
	size_t ngot;

	assert_int_equal(fixture_wait_messages(f, count_before + 1, 5000),
			 count_before + 1);
	/* nothing more arrives: the smuggled transaction never ran */
	usleep(20 * 1000);
	assert_int_equal(fixture_wait_messages(f, 0, 0), count_before + 1);
	snprintf(name, sizeof name, "%04d.eml", count_before + 1);
	got = fixture_read(f, name, &ngot);
	assert_non_null(got);
	if (ngot != nwant || memcmp(got, want, nwant) != 0)
		print_error("message %d differs (%zu vs %zu octets)\n",
			    count_before + 1, ngot, nwant);
	assert_int_equal(ngot, nwant);
	assert_memory_equal(got, want, nwant);
	free(got);
}

/* Raw letters through libcurl, from memory and through a reader split at
 * every offset inside the sequence. */
static void smuggle_raw(const char *server, const char *const *args)
{
	fixture f;
	po_smtp *s;
	char body[512], want[1024];
	size_t k, n, nwant, cut;
	int count = 0;

	assert_int_equal(fixture_start(&f, server, args), 0);
	s = po_smtp_new();
	assert_po_ok(po_smtp_set_server(s, "127.0.0.1", (unsigned)f.port));
	for (k = 0; k < NSEQ; k++) {
		size_t at;

		n = body_for(k, body);
		nwant = canonical(body, n, want);
		/* the NUL variants are not line-ending changes: canonical()
		 * leaves the NUL in place, and so must the library */
		at = (size_t)(strstr(body, "before") - body) + 6;
		for (cut = 0; cut <= seqlen[k] + 1; cut++) {
			struct chunks c = {0};
			po_letter *l;

			c.first = cut ? at + cut : 0;
			l = raw_letter(body, n, cut ? &c : NULL);
			assert_po_ok(po_smtp_send(s, l));
			/* libcurl ends a letter without a final CRLF with one;
			 * these all end in CRLF */
			expect_one(&f, count++, want, nwant);
			po_letter_free(l);
		}
	}
	po_smtp_free(s);
	fixture_stop(&f);
}

static void test_smuggling_raw_aiosmtpd(void **state)
{
	(void)state;
	smuggle_raw("smtpd", NULL);
}

static void test_smuggling_raw_faultd(void **state)
{
	(void)state;
	smuggle_raw("faultd", NULL);
}

/* The same bytes inside a text part: the renderer picks an encoding that
 * keeps every line safe, and the decoded text is intact. */
static void test_smuggling_text_part(void **state)
{
	fixture f;
	po_smtp *s;
	char body[512];
	size_t k, n;

	(void)state;
	assert_int_equal(fixture_start(&f, "faultd", NULL), 0);
	s = po_smtp_new();
	assert_po_ok(po_smtp_set_server(s, "127.0.0.1", (unsigned)f.port));
	for (k = 0; k < NSEQ; k++) {
		po_letter *l = po_letter_new();
		char name[32], *got;
		size_t ngot;

		n = body_for(k, body);
		assert_po_ok(po_letter_set_from(l, "sender@example.com"));
		assert_po_ok(po_letter_add_to(l, "rcpt@example.com"));
		assert_po_ok(po_letter_set_body(l, po_part_new_text(body, n,
								    NULL)));
		assert_po_ok(po_smtp_send(s, l));
		assert_int_equal(fixture_wait_messages(&f, (int)k + 1, 5000),
				 (int)k + 1);
		snprintf(name, sizeof name, "%04zu.eml", k + 1);
		got = fixture_read(&f, name, &ngot);
		/* no line of the message is a lone dot or has a bare CR/LF
		 * (so the commands after it stay inside the message) */
		assert_null(strstr(got, "\r\n.\r\n"));
		for (size_t i = 0; i < ngot; i++)
			assert_true((got[i] != '\r' || got[i + 1] == '\n') &&
				    (got[i] != '\n' || (i && got[i - 1] == '\r')));
		free(got);
		po_letter_free(l);
	}
	usleep(20 * 1000);
	assert_int_equal(fixture_wait_messages(&f, 0, 0), (int)NSEQ);
	po_smtp_free(s);
	fixture_stop(&f);
}

/* The program transport gets the canonical text, no stuffing. */
static void test_smuggling_program(void **state)
{
	char dir[] = "/tmp/po-smuggle-XXXXXX", path[64], cmd[128];
	char body[512], want[1024];
	size_t k, n, nwant;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/out", dir);
	snprintf(cmd, sizeof cmd, "cat > '%s'", path);
	for (k = 0; k < NSEQ; k++) {
		po_program *p = po_program_new_shell(cmd);
		struct chunks c = {0};
		po_letter *l;
		FILE *f;
		char got[1024];
		size_t ngot;

		n = body_for(k, body);
		nwant = canonical(body, n, want);
		c.first = 7;
		l = raw_letter(body, n, &c);
		assert_po_ok(po_program_send(p, l));
		f = fopen(path, "rb");
		ngot = fread(got, 1, sizeof got, f);
		fclose(f);
		assert_int_equal(ngot, nwant);
		assert_memory_equal(got, want, nwant);
		po_letter_free(l);
		po_program_free(p);
	}
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smuggling_raw_aiosmtpd),
		cmocka_unit_test(test_smuggling_raw_faultd),
		cmocka_unit_test(test_smuggling_text_part),
		cmocka_unit_test(test_smuggling_program),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
