/* test_smtp.c - SMTP delivery against real servers on 127.0.0.1:
 * fixtures/smtpd.py (aiosmtpd) for the normal paths and
 * fixtures/faultd.py for scripted refusals.  Modes, TLS options, AUTH,
 * outcome details, sessions, stale connections, trace masking, VRFY. */
#include "check.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"

static char certs[256];

static char *cert(const char *name)
{
	static char buf[8][320];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof buf[i], "%s/%s", certs, name);
	return buf[i];
}

static void start(fixture *f, const char *script, const char *const *args)
{
	assert_int_equal(fixture_start(f, script, args), 0);
}

static po_smtp *smtp_to(const fixture *f)
{
	po_smtp *s = po_smtp_new();

	assert_non_null(s);
	assert_po_ok(po_smtp_set_server(s, "127.0.0.1", (unsigned)f->port));
	/* tests that stall want answers quickly */
	assert_po_ok(po_smtp_set_timeouts(s, 5000, 5000, 5000, 20000));
	return s;
}

/* A handle to the fixture as "localhost" (the certificates' name) in TLS
 * mode, verifying against the test CA. */
static po_smtp *tls_to(const fixture *f, int mode)
{
	po_smtp *s = smtp_to(f);

	assert_po_ok(po_smtp_set_server(s, "localhost", (unsigned)f->port));
	assert_po_ok(po_smtp_set_security(s, mode));
	assert_po_ok(po_smtp_set_tls_option(s, PO_TLSOPT_CA_FILE,
					    cert("ca.pem")));
	return s;
}

static po_letter *letter(const char *body)
{
	po_letter *l = po_letter_new();

	assert_po_ok(po_letter_set_from(l, "Sender <sender@example.com>"));
	assert_po_ok(po_letter_add_to(l, "to@example.com"));
	assert_po_ok(po_letter_set_subject(l, "test"));
	/* a fixed Date makes the rendering reproducible */
	assert_po_ok(po_letter_add_header_line(
		l, "Date: Sat, 28 Nov 2026 12:00:00 +0000"));
	assert_po_ok(po_letter_set_body(
		l, po_part_new_text(body, PO_ZERO_TERMINATED, NULL)));
	return l;
}

static char *render(po_letter *l, size_t *len)
{
	po_reader *r;
	char *out = NULL;
	size_t n = 0, got;

	assert_po_ok(po_reader_new(l, 0, &r));
	do {
		out = realloc(out, n + 65537);
		assert_po_ok(po_reader_read(r, out + n, 65536, &got));
		n += got;
	} while (got);
	out[n] = '\0';
	po_reader_free(r);
	*len = n;
	return out;
}

static char *json(fixture *f, int seq)
{
	char name[32];
	char *j;

	snprintf(name, sizeof name, "%04d.json", seq);
	j = fixture_read(f, name, NULL);
	assert_non_null(j);
	return j;
}

static int contains(const char *hay, const char *needle)
{
	return hay && strstr(hay, needle) != NULL;
}

/* ------------------------------------------------------------------ */

static void test_plain_send(void **state)
{
	fixture f;
	po_smtp *s;
	po_letter *l = letter("Hello\n.leading dot\n..two\nend");
	char *want, *got, *j;
	size_t nwant, ngot;

	(void)state;
	start(&f, "smtpd", NULL);
	assert_po_ok(po_letter_add_cc(l, "Cc Person <cc@example.com>"));
	assert_po_ok(po_letter_add_bcc(l, "bcc@example.com"));
	s = smtp_to(&f);
	assert_po_ok(po_smtp_send(s, l));
	assert_int_equal(po_smtp_reply_code(s), 250);
	assert_string_equal(po_smtp_enhanced_code(s), "2.0.0");
	assert_true(contains(po_smtp_reply(s), "250 2.0.0 OK: queued as"));
	assert_string_equal(po_smtp_command(s), ".");
	assert_string_equal(po_smtp_errmsg(s), "");
	assert_string_equal(po_smtp_message_id(s), po_letter_message_id(l));
	assert_int_equal(po_smtp_refused_count(s), 0);
	assert_int_equal(po_smtp_credentials_unused(s), 0);
	assert_int_equal(fixture_wait_messages(&f, 1, 5000), 1);

	j = json(&f, 1);
	assert_true(contains(j, "\"mail_from\": \"sender@example.com\""));
	assert_true(contains(j, "\"to@example.com\",\n  \"cc@example.com\",\n"
				"  \"bcc@example.com\""));
	/* EHLO is a FQDN or an address literal, never a bare name */
	assert_true(contains(j, "\"ehlo\": \"[") ||
		    contains(j, "\"ehlo\": \"") /* FQDN checked below */);
	{
		const char *e = strstr(j, "\"ehlo\": \"") + 9;
		size_t n = strcspn(e, "\"");

		assert_true(e[0] == '[' || memchr(e, '.', n));
	}
	free(j);

	/* the server got exactly the rendered letter (libcurl ends a letter
	 * that has no final newline with CRLF before the dot) */
	want = render(l, &nwant);
	got = fixture_read(&f, "0001.eml", &ngot);
	assert_int_equal(ngot, nwant + 2);
	assert_memory_equal(got, want, nwant);
	assert_memory_equal(got + nwant, "\r\n", 2);
	assert_false(contains(got, "bcc@example.com"));
	free(want);
	free(got);
	po_smtp_free(s);
	po_letter_free(l);
	fixture_stop(&f);
}

static void test_ipv6_and_names(void **state)
{
	static const char *const args[] = {"--host", "::1", NULL};
	fixture f;
	po_smtp *s;
	po_letter *l = letter("v6");
	char host[16];

	(void)state;
	start(&f, "smtpd", args);
	/* with and without brackets */
	for (int i = 0; i < 2; i++) {
		snprintf(host, sizeof host, i ? "[::1]" : "::1");
		s = po_smtp_new();
		assert_po_ok(po_smtp_set_server(s, host, (unsigned)f.port));
		assert_po_ok(po_smtp_send(s, l));
		po_smtp_free(s);
	}
	assert_int_equal(fixture_wait_messages(&f, 2, 5000), 2);
	s = po_smtp_new();
	assert_int_equal(po_smtp_set_server(s, "::zz", 25), PO_EINVAL);
	assert_int_equal(po_smtp_set_server(s, "a b", 25), PO_EINVAL);
	assert_int_equal(po_smtp_set_server(s, "host\r\n", 25), PO_EINVAL);
	assert_int_equal(po_smtp_set_server(s, "a/b", 25), PO_EINVAL);
	assert_int_equal(po_smtp_set_server(s, "", 25), PO_EINVAL);
	assert_int_equal(po_smtp_set_server(s, "h", 70000), PO_EINVAL);
	/* an IDN host is converted with libidn2 */
	assert_po_ok(po_smtp_set_server(s, "b\xc3\xbc" "cher.invalid", 25));
	assert_int_equal(po_smtp_send(s, l), PO_EDNS);
	assert_true(contains(po_smtp_errmsg(s), "xn--bcher-kva.invalid"));
	po_smtp_free(s);
	po_letter_free(l);
	fixture_stop(&f);
}

static void test_connect_refused(void **state)
{
	fixture f;
	po_smtp *s;
	po_letter *l = letter("x");
	int port;

	(void)state;
	start(&f, "smtpd", NULL);
	port = f.port;
	fixture_stop(&f);
	s = po_smtp_new();
	assert_po_ok(po_smtp_set_server(s, "127.0.0.1", (unsigned)port));
	assert_int_equal(po_smtp_send(s, l), PO_ECONNECT);
	assert_int_equal(po_smtp_reply_code(s), 0);
	assert_true(contains(po_smtp_errmsg(s), "could not connect"));
	/* the settings are now fixed */
	assert_int_equal(po_smtp_set_server(s, "127.0.0.1", 25), PO_EBUSY);
	assert_int_equal(po_smtp_set_verify(s, 0), PO_EBUSY);
	assert_int_equal(po_smtp_set_auth(s, "u", "p"), PO_EBUSY);
	po_smtp_free(s);
	po_letter_free(l);
}

static void test_input_errors_before_connecting(void **state)
{
	fixture f;
	po_smtp *s;
	po_letter *l = po_letter_new();
	char *t;

	(void)state;
	start(&f, "faultd", NULL);
	s = smtp_to(&f);
	assert_po_ok(po_letter_set_from(l, "a@example.com"));
	assert_po_ok(po_letter_set_body(l, po_part_new_text("x", 1, NULL)));
	assert_int_equal(po_smtp_send(s, l), PO_ENORCPT);
	assert_true(contains(po_smtp_errmsg(s), "no recipients"));
	/* nothing reached the server */
	t = fixture_transcript_wait(&f, 1, 300);
	assert_null(t);
	po_smtp_free(s);
	po_letter_free(l);
	fixture_stop(&f);
}

static void test_starttls_required(void **state)
{
	const char *args[] = {"--tls", "starttls", "--cert", cert("server.pem"),
			      "--key", cert("server.key"), NULL};
	fixture f;
	po_smtp *s;
	po_letter *l = letter("over TLS");
	char *j;

	(void)state;
	start(&f, "smtpd", args);
	/* verified against the test CA */
	s = tls_to(&f, PO_TLS_STARTTLS);
	assert_po_ok(po_smtp_send(s, l));
	/* a call that fails at once leaves no outcome of the last one */
	assert_int_equal(po_smtp_send(s, NULL), PO_EINVAL);
	assert_int_equal(po_smtp_reply_code(s), 0);
	assert_true(contains(po_smtp_errmsg(s), "NULL letter"));
	po_smtp_free(s);
	assert_int_equal(fixture_wait_messages(&f, 1, 5000), 1);
	j = json(&f, 1);
	assert_true(contains(j, "\"tls\": true"));
	free(j);

	/* the system CAs don't know the test CA: certificate error, and the
	 * message says what to do */
	s = smtp_to(&f);
	assert_po_ok(po_smtp_set_server(s, "localhost", (unsigned)f.port));
	assert_po_ok(po_smtp_set_security(s, PO_TLS_STARTTLS));
	assert_int_equal(po_smtp_send(s, l), PO_ECERT);
	assert_true(contains(po_smtp_errmsg(s), "certificate"));
	po_smtp_free(s);

	/* verification off: accepted */
	s = smtp_to(&f);
	assert_po_ok(po_smtp_set_security(s, PO_TLS_STARTTLS));
	assert_po_ok(po_smtp_set_verify(s, 0));
	assert_po_ok(po_smtp_send(s, l));
	po_smtp_free(s);
	po_letter_free(l);
	fixture_stop(&f);
}

static void test_starttls_not_offered(void **state)
{
	const char *args[] = {"--user", "u", "--password", "p", NULL};
	fixture f;
	po_smtp *s;
	po_letter *l = letter("x");
	char *t;

	(void)state;
	start(&f, "faultd", args);
	s = smtp_to(&f);
	assert_po_ok(po_smtp_set_security(s, PO_TLS_STARTTLS));
	assert_po_ok(po_smtp_set_auth(s, "u", "p"));
	assert_int_equal(po_smtp_send(s, l), PO_ESTARTTLS);
	po_smtp_free(s);
	/* fails closed: no AUTH and no MAIL went out in clear text */
	t = fixture_transcript(&f, 1);
	assert_non_null(t);
	assert_false(contains(t, "C: AUTH"));
	assert_false(contains(t, "C: MAIL"));
	free(t);

	/* the explicit opt-in carries on in plain text */
	s = smtp_to(&f);
	assert_po_ok(po_smtp_set_security(s, PO_TLS_STARTTLS_TRY));
	assert_po_ok(po_smtp_send(s, l));
	po_smtp_free(s);
	po_letter_free(l);
	fixture_stop(&f);
}

static void test_starttls_refused(void **state)
{
	const char *args[] = {"--tls",   "starttls",  "--cert",  cert("server.pem"),
			      "--key",   cert("server.key"), "--at", "starttls",
			      "--do",    "reply", "--reply", "454 4.7.0 TLS not available",
			      NULL};
	fixture f;
	po_smtp *s;
	po_letter *l = letter("x");

	(void)state;
	start(&f, "faultd", args);
	s = smtp_to(&f);
	assert_po_ok(po_smtp_set_security(s, PO_TLS_STARTTLS));
	assert_po_ok(po_smtp_set_verify(s, 0));
	assert_int_equal(po_smtp_send(s, l), PO_ESTARTTLS);
	po_smtp_free(s);
	po_letter_free(l);
	fixture_stop(&f);
}

static void test_implicit_tls_auth(void **state)
{
	static const char *const mechs[] = {"PLAIN", "LOGIN", "CRAM-MD5",
					    NULL};
	const char *args[] = {"--tls",  "implicit", "--cert", cert("server.pem"),
			      "--key",  cert("server.key"), "--auth", "required",
			      "--user", "alice", "--password", "s3cret pass",
			      NULL};
	fixture f;
	po_letter *l = letter("authenticated");
	int i;

	(void)state;
	start(&f, "smtpd", args);
	for (i = 0; mechs[i]; i++) {
		po_smtp *s = tls_to(&f, PO_TLS_IMPLICIT);
		char *j;

		assert_po_ok(po_smtp_set_tls_option(s, PO_TLSOPT_MIN_VERSION,
						    "1.2"));
		assert_po_ok(po_smtp_set_auth(s, "alice", "s3cret pass"));
		assert_po_ok(po_smtp_set_auth_mechanisms(s, mechs[i]));
		assert_po_ok(po_smtp_send(s, l));
		assert_int_equal(fixture_wait_messages(&f, i + 1, 5000),
				 i + 1);
		j = json(&f, i + 1);
		assert_true(contains(j, "\"auth_user\": \"alice\""));
		assert_true(contains(j, mechs[i]));
		assert_true(contains(j, "\"tls\": true"));
		free(j);
		po_smtp_free(s);
	}

	/* a wrong password: the refusal with its details */
	{
		po_smtp *s = smtp_to(&f);

		assert_po_ok(po_smtp_set_security(s, PO_TLS_IMPLICIT));
		assert_po_ok(po_smtp_set_verify(s, 0));
		assert_po_ok(po_smtp_set_auth(s, "alice", "wrong"));
		assert_po_ok(po_smtp_set_auth_mechanisms(s, "PLAIN"));
		assert_int_equal(po_smtp_send(s, l), PO_EAUTH);
		assert_int_equal(po_smtp_reply_code(s), 535);
		assert_string_equal(po_smtp_enhanced_code(s), "5.7.8");
		assert_string_equal(po_smtp_command(s), "AUTH PLAIN <masked>");
		assert_false(contains(po_smtp_errmsg(s), "wrong"));
		po_smtp_free(s);
	}
	/* no credentials: MAIL is refused with 530 */
	{
		po_smtp *s = smtp_to(&f);

		assert_po_ok(po_smtp_set_security(s, PO_TLS_IMPLICIT));
		assert_po_ok(po_smtp_set_verify(s, 0));
		assert_int_equal(po_smtp_send(s, l), PO_ESENDER);
		assert_int_equal(po_smtp_reply_code(s), 530);
		po_smtp_free(s);
	}
	/* a mechanism the server does not offer */
	{
		po_smtp *s = smtp_to(&f);

		assert_po_ok(po_smtp_set_security(s, PO_TLS_IMPLICIT));
		assert_po_ok(po_smtp_set_verify(s, 0));
		assert_po_ok(po_smtp_set_auth(s, "alice", "s3cret pass"));
		assert_po_ok(po_smtp_set_auth_mechanisms(s, "NTLM"));
		assert_int_equal(po_smtp_send(s, l), PO_EAUTHMECH);
		po_smtp_free(s);
	}
	po_letter_free(l);
	fixture_stop(&f);
}

static void test_xoauth2(void **state)
{
	const char *args[] = {"--auth",  "required",   "--user", "bob@example.com",
			      "--token", "ya29.token", NULL};
	fixture f;
	po_smtp *s;
	po_letter *l = letter("oauth");
	char *j;

	(void)state;
	start(&f, "smtpd", args);
	s = smtp_to(&f);
	/* a user name with '@' must not make libcurl pick GSSAPI */
	assert_po_ok(po_smtp_set_bearer(s, "bob@example.com", "ya29.token"));
	assert_po_ok(po_smtp_send(s, l));
	po_smtp_free(s);
	assert_int_equal(fixture_wait_messages(&f, 1, 5000), 1);
	j = json(&f, 1);
	assert_true(contains(j, "XOAUTH2"));
	assert_true(contains(j, "\"auth_user\": \"bob@example.com\""));
	free(j);
	s = smtp_to(&f);
	assert_po_ok(po_smtp_set_bearer(s, "bob@example.com", "expired"));
	assert_int_equal(po_smtp_send(s, l), PO_EAUTH);
	po_smtp_free(s);
	po_letter_free(l);
	fixture_stop(&f);
}

struct trace_log {
	char buf[16384];
	size_t len;
};

static void trace_cb(void *ud, int dir, const char *line, size_t len)
{
	struct trace_log *t = ud;
	int n = snprintf(t->buf + t->len, sizeof t->buf - t->len, "%c: %.*s\n",
			 dir, (int)len, line);

	if (n > 0 && (size_t)n < sizeof t->buf - t->len)
		t->len += (size_t)n;
}

static void test_oauth_mechanisms_masked(void **state)
{
	static const char *const mechs[] = {"XOAUTH2", "OAUTHBEARER"};
	const char *args[] = {"--auth", "required", "--user", "bob@example.com",
			      "--token", "ya29.secret-token",
			      "--mechanisms", "PLAIN,XOAUTH2,OAUTHBEARER", NULL};
	/* the token, and base64 of XOAUTH2's initial response */
	static const char *const secrets[] = {
		"ya29.secret-token",
		"dXNlcj1ib2JAZXhhbXBsZS5jb20BYXV0aD1CZWFyZXIgeWEyOS5zZWNyZXQtdG9rZW4BAQ=="};
	fixture f;
	po_letter *l = letter("oauth");
	int m, k;

	(void)state;
	start(&f, "smtpd", args);
	for (m = 0; m < 2; m++) {
		for (k = 0; k < 2; k++) {
			struct trace_log t = {.len = 0};
			po_smtp *s = smtp_to(&f);

			assert_po_ok(po_smtp_set_trace(s, trace_cb, &t));
			assert_po_ok(po_smtp_set_bearer(
				s, "bob@example.com",
				k ? "ya29.secret-token" : "ya29.secret-tokeX"));
			assert_po_ok(po_smtp_set_auth_mechanisms(s, mechs[m]));
			assert_int_equal(po_smtp_send(s, l),
					 k ? PO_OK : PO_EAUTH);
			t.buf[t.len] = '\0';
			assert_true(contains(t.buf, "<masked>"));
			for (size_t i = 0; i < 2; i++)
				assert_false(contains(t.buf, secrets[i]));
			assert_false(contains(t.buf, "secret-toke"));
			assert_false(contains(po_smtp_errmsg(s), "secret"));
			po_smtp_free(s);
		}
	}
	assert_int_equal(fixture_wait_messages(&f, 2, 5000), 2);
	po_letter_free(l);
	fixture_stop(&f);
}

static void test_has_credentials(void **state)
{
	po_smtp *s = po_smtp_new();

	(void)state;
	assert_int_equal(po_smtp_has_credentials(s, NULL, NULL, NULL), 1);
	assert_int_equal(po_smtp_has_credentials(s, "u", "p", NULL), 0);
	assert_po_ok(po_smtp_set_auth(s, "u", "secret"));
	assert_int_equal(po_smtp_has_credentials(s, "u", "secret", NULL), 1);
	assert_int_equal(po_smtp_has_credentials(s, "u", "secreT", NULL), 0);
	assert_int_equal(po_smtp_has_credentials(s, "u", "secret2", NULL), 0);
	assert_int_equal(po_smtp_has_credentials(s, "v", "secret", NULL), 0);
	assert_int_equal(po_smtp_has_credentials(s, "u", NULL, NULL), 0);
	assert_int_equal(po_smtp_has_credentials(s, NULL, NULL, NULL), 0);
	assert_po_ok(po_smtp_set_auth(s, NULL, NULL));
	assert_po_ok(po_smtp_set_bearer(s, "u", "tok"));
	assert_int_equal(po_smtp_has_credentials(s, "u", NULL, "tok"), 1);
	assert_int_equal(po_smtp_has_credentials(s, "u", "tok", NULL), 0);
	assert_int_equal(po_smtp_has_credentials(NULL, NULL, NULL, NULL), 0);
	po_smtp_free(s);
}

static void test_credentials_unused(void **state)
{
	fixture f;
	po_smtp *s;
	po_letter *l = letter("x");

	(void)state;
	start(&f, "smtpd", NULL);
	s = smtp_to(&f);
	assert_po_ok(po_smtp_set_auth(s, "user", "pw"));
	assert_po_ok(po_smtp_send(s, l));
	assert_int_equal(po_smtp_credentials_unused(s), 1);
	/* a second letter on the same connection says so too */
	assert_po_ok(po_smtp_send(s, l));
	assert_int_equal(po_smtp_connection_reused(s), 1);
	assert_int_equal(po_smtp_credentials_unused(s), 1);
	po_smtp_free(s);
	po_letter_free(l);
	fixture_stop(&f);
}

static void test_refused_recipients(void **state)
{
	const char *args[] = {"--refuse", "bad@example.com=550 5.1.1 No such user",
			      "--refuse", "full@example.com=452 4.2.2 Mailbox full",
			      NULL};
	fixture f;
	po_smtp *s;
	po_letter *l = letter("x");
	char *j;

	(void)state;
	start(&f, "smtpd", args);
	assert_po_ok(po_letter_add_to(l, "bad@example.com"));
	assert_po_ok(po_letter_add_cc(l, "ok@example.com"));
	assert_po_ok(po_letter_add_bcc(l, "full@example.com"));

	/* all or nothing: the first refusal aborts before DATA */
	s = smtp_to(&f);
	assert_int_equal(po_smtp_send(s, l), PO_ERECIPIENT);
	assert_int_equal(po_smtp_reply_code(s), 550);
	assert_string_equal(po_smtp_enhanced_code(s), "5.1.1");
	assert_string_equal(po_smtp_command(s), "RCPT TO:<bad@example.com>");
	assert_true(contains(po_smtp_reply(s), "No such user"));
	assert_true(contains(po_smtp_errmsg(s),
			     "recipient refused: RCPT TO:<bad@example.com>: "
			     "550 5.1.1 No such user"));
	assert_int_equal(po_smtp_refused_count(s), 1);
	assert_string_equal(po_smtp_refused_address(s, 0), "bad@example.com");
	assert_int_equal(po_smtp_refused_code(s, 0), 550);
	assert_null(po_smtp_refused_address(s, 1));
	po_smtp_free(s);
	assert_int_equal(fixture_wait_messages(&f, 0, 0), 0);

	/* partial delivery: the others get it, every refusal is reported */
	s = smtp_to(&f);
	assert_po_ok(po_smtp_set_partial_delivery(s, 1));
	assert_po_ok(po_smtp_send(s, l));
	assert_int_equal(po_smtp_refused_count(s), 2);
	assert_string_equal(po_smtp_refused_address(s, 0), "bad@example.com");
	assert_int_equal(po_smtp_refused_code(s, 0), 550);
	assert_string_equal(po_smtp_refused_address(s, 1), "full@example.com");
	assert_int_equal(po_smtp_refused_code(s, 1), 452);
	assert_true(contains(po_smtp_refused_reply(s, 1), "Mailbox full"));
	assert_int_equal(fixture_wait_messages(&f, 1, 5000), 1);
	j = json(&f, 1);
	assert_true(contains(j, "\"rcpt_tos\": [\n  \"to@example.com\",\n"
				"  \"ok@example.com\"\n ]"));
	free(j);
	po_smtp_free(s);
	po_letter_free(l);

	/* partial delivery with everyone refused is a failure */
	l = po_letter_new();
	assert_po_ok(po_letter_set_from(l, "a@example.com"));
	assert_po_ok(po_letter_add_to(l, "bad@example.com"));
	assert_po_ok(po_letter_add_to(l, "full@example.com"));
	assert_po_ok(po_letter_set_body(l, po_part_new_text("x", 1, NULL)));
	s = smtp_to(&f);
	assert_po_ok(po_smtp_set_partial_delivery(s, 1));
	assert_int_equal(po_smtp_send(s, l), PO_ERECIPIENT);
	assert_int_equal(po_smtp_refused_count(s), 2);
	po_smtp_free(s);
	po_letter_free(l);
	fixture_stop(&f);
}

static void test_session_many_letters(void **state)
{
	fixture f;
	po_smtp *s;
	int i, n = 40;
	char *first, *j, peer[64];

	(void)state;
	start(&f, "smtpd", NULL);
	s = smtp_to(&f);
	for (i = 0; i < n; i++) {
		char body[32];
		po_letter *l;

		snprintf(body, sizeof body, "letter %d", i);
		l = letter(body);
		assert_po_ok(po_smtp_send(s, l));
		assert_int_equal(po_smtp_connection_reused(s), i > 0);
		po_letter_free(l);
	}
	assert_int_equal(fixture_wait_messages(&f, n, 10000), n);
	/* one connection: the same client port for every letter */
	first = json(&f, 1);
	snprintf(peer, sizeof peer, "%.*s",
		 (int)strcspn(strstr(first, "\"peer\""), "]"),
		 strstr(first, "\"peer\""));
	for (i = 2; i <= n; i++) {
		j = json(&f, i);
		assert_true(contains(j, peer));
		free(j);
	}
	free(first);
	assert_po_ok(po_smtp_close(s));
	/* after close the handle sends again, on a new connection */
	{
		po_letter *l = letter("after close");

		assert_po_ok(po_smtp_send(s, l));
		assert_int_equal(po_smtp_connection_reused(s), 0);
		po_letter_free(l);
	}
	po_smtp_free(s);
	fixture_stop(&f);
}

static void test_one_connection_per_letter(void **state)
{
	const char *args[] = {"--at", "quit", "--do", "close", "--conn", "2",
			      NULL};
	fixture f;
	po_smtp *s;
	po_letter *l = letter("x");
	char *t;
	int i;

	(void)state;
	start(&f, "faultd", args);
	s = smtp_to(&f);
	assert_po_ok(po_smtp_set_keep_alive(s, 0));
	for (i = 0; i < 3; i++) {
		/* the second server closes instead of answering QUIT: the
		 * letter was accepted all the same */
		assert_po_ok(po_smtp_send(s, l));
		assert_int_equal(po_smtp_connection_reused(s), 0);
	}
	assert_int_equal(fixture_wait_messages(&f, 3, 5000), 3);
	/* each letter had its own connection, ended by QUIT */
	for (i = 1; i <= 3; i++) {
		t = fixture_transcript(&f, i);
		assert_non_null(t);
		assert_non_null(strstr(t, "C: QUIT"));
		free(t);
	}
	/* back to a session */
	assert_po_ok(po_smtp_set_keep_alive(s, 1));
	assert_po_ok(po_smtp_send(s, l));
	assert_po_ok(po_smtp_send(s, l));
	assert_int_equal(po_smtp_connection_reused(s), 1);
	po_smtp_free(s);
	po_letter_free(l);
	fixture_stop(&f);
}

static void test_stale_connection_retry(void **state)
{
	static const char *const modes[][3] = {
		{"--idle-421", "1", NULL},
		{"--idle-close", "1", NULL},
	};
	int m;

	(void)state;
	for (m = 0; m < 2; m++) {
		fixture f;
		po_smtp *s;
		po_letter *l = letter("x");
		char *t;

		start(&f, "faultd", modes[m]);
		s = smtp_to(&f);
		assert_po_ok(po_smtp_send(s, l));
		usleep(1600 * 1000);
		/* the server dropped the idle connection: retried once on a
		 * fresh one, and delivered */
		assert_po_ok(po_smtp_send(s, l));
		assert_int_equal(fixture_wait_messages(&f, 2, 5000), 2);
		po_smtp_free(s);
		t = fixture_transcript(&f, 2);
		assert_non_null(t);
		assert_true(contains(t, "C: MAIL FROM:<sender@example.com>"));
		free(t);
		po_letter_free(l);
		fixture_stop(&f);
	}
}

static void test_no_retry_after_data(void **state)
{
	const char *args[] = {"--at", "eod", "--do", "close", "--conn", "1",
			      NULL};
	fixture f;
	po_smtp *s;
	po_letter *l = letter("x");

	(void)state;
	start(&f, "faultd", args);
	s = smtp_to(&f);
	assert_int_equal(po_smtp_send(s, l), PO_ECONNLOST);
	/* the whole message went out: the outcome is unknown, and it was not
	 * sent a second time */
	assert_int_equal(po_smtp_outcome_unknown(s), 1);
	assert_string_equal(po_smtp_command(s), ".");
	assert_null(fixture_transcript_wait(&f, 2, 500));
	po_smtp_free(s);
	po_letter_free(l);
	fixture_stop(&f);
}

static void test_trace_masks_secrets(void **state)
{
	/* base64 of the password, of "alice", and of PLAIN's
	 * "\0alice\0Pa55-w0rd!" */
	static const char *const secrets[] = {
		"Pa55-w0rd!", "UGE1NS13MHJkIQ==", "AGFsaWNlAFBhNTUtdzByZCE=",
		"YWxpY2UAUGE1NS13MHJkIQ=="};
	static const char *const mechs[] = {"PLAIN", "LOGIN", "CRAM-MD5"};
	const char *args[] = {"--auth", "required", "--user", "alice",
			      "--password", "Pa55-w0rd!", NULL};
	fixture f;
	po_letter *l = letter("secret body line");
	int m, k;

	(void)state;
	start(&f, "smtpd", args);
	for (m = 0; m < 3; m++) {
		for (k = 0; k < 2; k++) { /* good and bad password */
			struct trace_log t = {.len = 0};
			po_smtp *s = smtp_to(&f);

			assert_po_ok(po_smtp_set_trace(s, trace_cb, &t));
			assert_po_ok(po_smtp_set_auth(
				s, "alice", k ? "Pa55-w0rd!" : "Pa55-w0rd?"));
			assert_po_ok(po_smtp_set_auth_mechanisms(s, mechs[m]));
			assert_int_equal(po_smtp_send(s, l),
					 k ? PO_OK : PO_EAUTH);
			t.buf[t.len] = '\0';
			assert_true(contains(t.buf, "C: AUTH"));
			assert_true(contains(t.buf, "<masked>"));
			assert_true(contains(t.buf, "C: EHLO"));
			assert_true(contains(t.buf, "S: 220"));
			for (size_t i = 0; i < 4; i++) {
				if (contains(t.buf, secrets[i]))
					print_error("%s leaks %s:\n%s\n",
						    mechs[m], secrets[i],
						    t.buf);
				assert_false(contains(t.buf, secrets[i]));
			}
			assert_false(contains(po_smtp_errmsg(s), "Pa55"));
			if (!k) {
				/* the failed command names the exchange,
				 * also when the secret answered a challenge
				 * (LOGIN, CRAM-MD5) */
				char want[32];

				snprintf(want, sizeof want, "AUTH %s <masked>",
					 mechs[m]);
				assert_string_equal(po_smtp_command(s), want);
			}
			/* body bytes are not traced */
			assert_false(contains(t.buf, "secret body line"));
			po_smtp_free(s);
		}
	}
	po_letter_free(l);
	fixture_stop(&f);
}

static void test_vrfy(void **state)
{
	const char *args[] = {"--vrfy", "nobody=550 5.1.1 No such user",
			      "--vrfy", "maybe=252 2.5.2 Cannot VRFY",
			      "--vrfy", "off=502 5.5.1 VRFY disabled", NULL};
	fixture f;
	po_smtp *s;
	int r;

	(void)state;
	start(&f, "faultd", args);
	s = smtp_to(&f);
	assert_po_ok(po_smtp_vrfy(s, "someone", &r));
	assert_int_equal(r, PO_VRFY_OK);
	assert_int_equal(po_smtp_reply_code(s), 250);
	assert_po_ok(po_smtp_vrfy(s, "nobody", &r));
	assert_int_equal(r, PO_VRFY_UNKNOWN);
	assert_po_ok(po_smtp_vrfy(s, "maybe", &r));
	assert_int_equal(r, PO_VRFY_CANNOT);
	assert_po_ok(po_smtp_vrfy(s, "off", &r));
	assert_int_equal(r, PO_VRFY_OTHER);
	assert_int_equal(po_smtp_reply_code(s), 502);
	assert_int_equal(po_smtp_vrfy(s, "a\r\nQUIT", &r), PO_EADDRESS);
	po_smtp_free(s);
	fixture_stop(&f);
}

static void test_smtputf8(void **state)
{
	const char *with[] = {"--smtputf8", NULL};
	fixture f;
	po_smtp *s;
	po_letter *l = letter("utf8");
	char *j, *t;

	(void)state;
	assert_po_ok(po_letter_add_to(l, "j\xc3\xb6rg@example.com"));
	start(&f, "smtpd", with);
	s = smtp_to(&f);
	assert_po_ok(po_smtp_send(s, l));
	po_smtp_free(s);
	assert_int_equal(fixture_wait_messages(&f, 1, 5000), 1);
	j = json(&f, 1);
	assert_true(contains(j, "SMTPUTF8"));
	assert_true(contains(j, "j\xc3\xb6rg@example.com"));
	free(j);
	fixture_stop(&f);

	/* a server without SMTPUTF8: a clear error before MAIL */
	start(&f, "faultd", NULL);
	s = smtp_to(&f);
	assert_int_equal(po_smtp_send(s, l), PO_ESMTPUTF8);
	po_smtp_free(s);
	t = fixture_transcript(&f, 1);
	assert_non_null(t);
	assert_false(contains(t, "C: MAIL"));
	free(t);
	po_letter_free(l);
	fixture_stop(&f);
}

static void test_client_certificate(void **state)
{
	const char *args[] = {"--tls", "implicit", "--cert", cert("server.pem"),
			      "--key", cert("server.key"), "--require-client-cert",
			      "--ca", cert("ca.pem"), NULL};
	fixture f;
	po_smtp *s;
	po_letter *l = letter("mtls");
	char *j;

	(void)state;
	start(&f, "smtpd", args);
	s = tls_to(&f, PO_TLS_IMPLICIT);
	assert_po_ok(po_smtp_set_tls_option(s, PO_TLSOPT_CERT,
					    cert("client.pem")));
	assert_po_ok(po_smtp_set_tls_option(s, PO_TLSOPT_KEY,
					    cert("client-enc.key")));
	assert_po_ok(po_smtp_set_tls_option(s, PO_TLSOPT_KEY_PASSWORD,
					    "secret"));
	assert_po_ok(po_smtp_send(s, l));
	po_smtp_free(s);
	assert_int_equal(fixture_wait_messages(&f, 1, 5000), 1);
	j = json(&f, 1);
	assert_true(contains(j, "\"client_cert\": \"test client\""));
	free(j);
	/* without it the handshake fails */
	s = tls_to(&f, PO_TLS_IMPLICIT);
	assert_true(po_smtp_send(s, l) != PO_OK);
	po_smtp_free(s);
	po_letter_free(l);
	fixture_stop(&f);
}

static void test_bad_certificates(void **state)
{
	static const char *const bad[] = {"wrongname", "expired", "selfsigned",
					  "revoked"};
	po_letter *l = letter("x");
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		char pem[64], key[64];
		const char *args[] = {"--tls", "starttls", "--cert", NULL,
				      "--key", NULL, NULL};
		fixture f;
		po_smtp *s;

		snprintf(pem, sizeof pem, "%s.pem", bad[i]);
		snprintf(key, sizeof key, "%s.key", bad[i]);
		args[3] = cert(pem);
		args[5] = cert(key);
		start(&f, "smtpd", args);
		s = tls_to(&f, PO_TLS_STARTTLS);
		if (i == 3)
			assert_po_ok(po_smtp_set_tls_option(
				s, PO_TLSOPT_CRL_FILE, cert("crl.pem")));
		if (po_smtp_send(s, l) != PO_ECERT)
			print_error("%s: %s\n", bad[i], po_smtp_errmsg(s));
		assert_int_equal(po_smtp_send(s, l), PO_ECERT);
		assert_int_equal(fixture_wait_messages(&f, 0, 0), 0);
		po_smtp_free(s);
		fixture_stop(&f);
	}
	po_letter_free(l);
}

static void test_server_name_option(void **state)
{
	const char *args[] = {"--tls", "implicit", "--cert", cert("server.pem"),
			      "--key", cert("server.key"), NULL};
	fixture f;
	po_smtp *s;
	po_letter *l = letter("sni");

	(void)state;
	start(&f, "smtpd", args);
	/* connect to the address, verify the certificate as localhost */
	s = smtp_to(&f);
	assert_po_ok(po_smtp_set_security(s, PO_TLS_IMPLICIT));
	assert_po_ok(po_smtp_set_tls_option(s, PO_TLSOPT_CA_FILE,
					    cert("ca.pem")));
	assert_po_ok(po_smtp_set_tls_option(s, PO_TLSOPT_SERVER_NAME,
					    "localhost"));
	assert_po_ok(po_smtp_send(s, l));
	po_smtp_free(s);
	po_letter_free(l);
	fixture_stop(&f);
}

struct slow {
	size_t sent;
	int fail;
};

static int failing_reader(void *ud, void *buf, size_t len, size_t *n)
{
	struct slow *s = ud;

	if (s->sent > 100000 && s->fail)
		return 1;
	memset(buf, 'r', len > 4096 ? 4096 : len);
	*n = len > 4096 ? 4096 : len;
	s->sent += *n;
	return 0;
}

static void test_reader_failure_aborts(void **state)
{
	fixture f;
	po_smtp *s;
	po_letter *l = letter("x");
	struct slow sl = {0, 1};

	(void)state;
	start(&f, "smtpd", NULL);
	assert_po_ok(po_letter_set_body(
		l, po_part_new_reader(failing_reader, &sl)));
	s = smtp_to(&f);
	assert_int_equal(po_smtp_send(s, l), PO_EREADER);
	assert_int_equal(po_smtp_outcome_unknown(s), 0);
	po_smtp_free(s);
	/* the server never got a final dot */
	usleep(200 * 1000);
	assert_int_equal(fixture_wait_messages(&f, 0, 0), 0);
	po_letter_free(l);
	fixture_stop(&f);
}

static void test_quit_failure_is_not_an_error(void **state)
{
	const char *args[] = {"--at", "quit", "--do", "close", NULL};
	fixture f;
	po_smtp *s;
	po_letter *l = letter("x");

	(void)state;
	start(&f, "faultd", args);
	s = smtp_to(&f);
	assert_po_ok(po_smtp_send(s, l));
	assert_po_ok(po_smtp_close(s));
	po_smtp_free(s);
	assert_int_equal(fixture_wait_messages(&f, 1, 5000), 1);
	po_letter_free(l);
	fixture_stop(&f);
}

static void test_slow_reading_server(void **state)
{
	const char *args[] = {"--slow-read", "400000", NULL};
	static char big[600000];
	fixture f;
	po_smtp *s;
	po_letter *l = po_letter_new();

	(void)state;
	memset(big, 'x', sizeof big);
	start(&f, "faultd", args);
	assert_po_ok(po_letter_set_from(l, "a@example.com"));
	assert_po_ok(po_letter_add_to(l, "b@example.com"));
	assert_po_ok(po_letter_set_body(l, po_part_new_bytes(big, sizeof big)));
	s = smtp_to(&f);
	assert_po_ok(po_smtp_send(s, l));
	po_smtp_free(s);
	po_letter_free(l);
	fixture_stop(&f);
}

static void test_close_is_bounded(void **state)
{
	const char *args[] = {"--at", "quit", "--do", "stall", NULL};
	struct timespec t0, t1;
	fixture f;
	po_smtp *s;
	po_letter *l = letter("x");

	(void)state;
	start(&f, "faultd", args);
	/* the close timeout (5 s), not the long reply timeout, bounds the
	 * wait for the reply to QUIT */
	s = smtp_to(&f);
	assert_po_ok(po_smtp_set_timeouts(s, 0, 30000, 0, 0));
	assert_po_ok(po_smtp_send(s, l));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	po_smtp_free(s); /* QUIT is never answered */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 7);
	/* and a short reply timeout shortens it */
	s = smtp_to(&f);
	assert_po_ok(po_smtp_set_timeouts(s, 0, 1000, 0, 0));
	assert_po_ok(po_smtp_send(s, l));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	po_smtp_free(s);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 3);
	po_letter_free(l);
	fixture_stop(&f);
}

struct worker {
	int port, letters, session, failures;
};

static void *send_many(void *arg)
{
	struct worker *w = arg;
	po_smtp *s = NULL;
	int i;

	for (i = 0; i < w->letters; i++) {
		char body[64];
		po_letter *l = po_letter_new();

		snprintf(body, sizeof body, "thread letter %d", i);
		po_letter_set_from(l, "a@example.com");
		po_letter_add_to(l, "b@example.com");
		po_letter_set_body(l, po_part_new_text(body, PO_ZERO_TERMINATED,
						       NULL));
		if (!s) {
			s = po_smtp_new();
			po_smtp_set_server(s, "127.0.0.1", (unsigned)w->port);
		}
		if (po_smtp_send(s, l) != PO_OK)
			w->failures++;
		if (!w->session) {
			po_smtp_free(s);
			s = NULL;
		}
		po_letter_free(l);
	}
	po_smtp_free(s);
	return NULL;
}

/* Sessions and one-shot sends run at once from several threads. */
static void test_threads(void **state)
{
	struct worker w[4];
	pthread_t th[4];
	fixture f;
	int i;

	(void)state;
	start(&f, "smtpd", NULL);
	for (i = 0; i < 4; i++) {
		w[i] = (struct worker){f.port, 25, i % 2, 0};
		assert_int_equal(pthread_create(&th[i], NULL, send_many, &w[i]),
				 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	assert_int_equal(fixture_wait_messages(&f, 100, 10000), 100);
	fixture_stop(&f);
}

/* A CA directory (hashed names, as OpenSSL wants): the test CA is in no
 * system file, so the send works only if the directory is used. */
static void test_ca_directory(void **state)
{
	const char *args[] = {"--tls", "implicit", "--cert", cert("server.pem"),
			      "--key", cert("server.key"), NULL};
	char dir[] = "/tmp/po-cadir-XXXXXX", cmd[512];
	fixture f;
	po_smtp *s;
	po_letter *l = letter("cadir");

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof cmd,
		 "cp %s %s/ && openssl rehash %s >/dev/null 2>&1",
		 cert("ca.pem"), dir, dir);
	assert_int_equal(system(cmd), 0);
	start(&f, "smtpd", args);
	s = smtp_to(&f);
	assert_po_ok(po_smtp_set_server(s, "localhost", (unsigned)f.port));
	assert_po_ok(po_smtp_set_security(s, PO_TLS_IMPLICIT));
	assert_po_ok(po_smtp_set_tls_option(s, PO_TLSOPT_CA_PATH, dir));
	assert_po_ok(po_smtp_send(s, l));
	po_smtp_free(s);
	po_letter_free(l);
	fixture_stop(&f);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
	(void)state;
	return fixture_certs(certs, sizeof certs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_send),
		cmocka_unit_test(test_ipv6_and_names),
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_input_errors_before_connecting),
		cmocka_unit_test(test_starttls_required),
		cmocka_unit_test(test_starttls_not_offered),
		cmocka_unit_test(test_starttls_refused),
		cmocka_unit_test(test_implicit_tls_auth),
		cmocka_unit_test(test_xoauth2),
		cmocka_unit_test(test_oauth_mechanisms_masked),
		cmocka_unit_test(test_has_credentials),
		cmocka_unit_test(test_credentials_unused),
		cmocka_unit_test(test_refused_recipients),
		cmocka_unit_test(test_session_many_letters),
		cmocka_unit_test(test_one_connection_per_letter),
		cmocka_unit_test(test_stale_connection_retry),
		cmocka_unit_test(test_no_retry_after_data),
		cmocka_unit_test(test_trace_masks_secrets),
		cmocka_unit_test(test_vrfy),
		cmocka_unit_test(test_smtputf8),
		cmocka_unit_test(test_client_certificate),
		cmocka_unit_test(test_bad_certificates),
		cmocka_unit_test(test_server_name_option),
		cmocka_unit_test(test_reader_failure_aborts),
		cmocka_unit_test(test_quit_failure_is_not_an_error),
		cmocka_unit_test(test_slow_reading_server),
		cmocka_unit_test(test_close_is_bounded),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_ca_directory),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
