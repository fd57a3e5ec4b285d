/* test_faults.c - the fault matrix: a scripted server (fixtures/faultd.py)
 * refuses (4xx, 5xx), closes the connection or stops answering at every
 * step of the dialogue.  For each case: the right status and reply code,
 * within the configured timeout, never reported as sent, "outcome
 * unknown" exactly when the whole message went out without a reply, and
 * the handle still usable afterwards.  Every case runs twice: in lockstep
 * (faultd's default) and with PIPELINING offered, where MAIL, the RCPTs
 * and DATA go in one flight and the fault hits that position of it. */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"

#define REPLY_MS 1000 /* the reply timeout in these tests */

static char certs[256];

struct fault {
	const char *name;
	const char *rules[16]; /* faultd arguments */
	int security;          /* PO_TLS_* */
	int auth;              /* log in as u/p */
	int status;            /* expected */
	int code;              /* expected reply code, 0 for none */
	int unknown;           /* expected po_smtp_outcome_unknown */
	int big;               /* a 4 MB letter, still being sent when the
				  server gives up */
	const char *command;   /* what po_smtp_command starts with */
};

#define R(...) {__VA_ARGS__, NULL}

/* big is left out (zero) where it does not matter */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct fault faults[] = {
	{"greeting 421", R("--at", "greeting", "--do", "reply-close", "--reply",
			   "421 4.3.2 Try later"),
	 0, 0, PO_EGREETING, 421, 0},
	{"greeting 554", R("--at", "greeting", "--do", "reply", "--reply",
			   "554 5.7.1 Go away"),
	 0, 0, PO_EGREETING, 554, 0},
	{"greeting close", R("--at", "greeting", "--do", "close"), 0, 0,
	 PO_ECONNLOST, 0, 0},
	{"greeting stall", R("--at", "greeting", "--do", "stall"), 0, 0,
	 PO_ETIMEOUT, 0, 0, 0, ""},
	{"ehlo+helo 421", R("--at", "ehlo", "--do", "reply", "--reply",
			    "421 4.7.0 Busy", "--at", "helo", "--do", "reply",
			    "--reply", "421 4.7.0 Busy"),
	 0, 0, PO_EHELO, 421, 0},
	{"ehlo+helo 550", R("--at", "ehlo", "--do", "reply", "--reply",
			    "550 5.7.1 No", "--at", "helo", "--do", "reply",
			    "--reply", "550 5.7.1 No"),
	 0, 0, PO_EHELO, 550, 0},
	{"ehlo 502, helo works", R("--at", "ehlo", "--do", "reply", "--reply",
				   "502 5.5.2 Not implemented"),
	 0, 0, PO_OK, 250, 0},
	{"ehlo 421 and close", R("--at", "ehlo", "--do", "reply-close",
				 "--reply", "421 4.3.2 Shutting down"),
	 0, 0, PO_EHELO, 421, 0, 0, "EHLO"},
	{"starttls handshake stall", R("--tls", "starttls", "--at",
				       "tlshandshake", "--do", "stall"),
	 PO_TLS_STARTTLS, 0, PO_ETIMEOUT, 0, 0, 0, "STARTTLS"},
	{"ehlo close", R("--at", "ehlo", "--do", "close"), 0, 0, PO_ECONNLOST,
	 0, 0},
	{"ehlo stall", R("--at", "ehlo", "--do", "stall"), 0, 0, PO_ETIMEOUT,
	 0, 0, 0, "EHLO"},
	{"starttls 454", R("--tls", "starttls", "--at", "starttls", "--do",
			   "reply", "--reply", "454 4.7.0 TLS not available"),
	 PO_TLS_STARTTLS, 0, PO_ESTARTTLS, 454, 0},
	{"starttls 554", R("--tls", "starttls", "--at", "starttls", "--do",
			   "reply", "--reply", "554 5.7.0 No"),
	 PO_TLS_STARTTLS, 0, PO_ESTARTTLS, 554, 0},
	{"starttls close", R("--tls", "starttls", "--at", "starttls", "--do",
			     "close"),
	 PO_TLS_STARTTLS, 0, PO_ECONNLOST, 0, 0},
	{"starttls stall", R("--tls", "starttls", "--at", "starttls", "--do",
			     "stall"),
	 PO_TLS_STARTTLS, 0, PO_ETIMEOUT, 0, 0, 0, "STARTTLS"},
	{"tls handshake garbage", R("--tls", "starttls", "--at",
				    "tlshandshake", "--do", "reply"),
	 PO_TLS_STARTTLS, 0, PO_ETLS, 0, 0},
	{"implicit tls garbage", R("--tls", "implicit", "--at",
				   "tlshandshake", "--do", "reply"),
	 PO_TLS_IMPLICIT, 0, PO_ETLS, 0, 0},
	{"auth 454", R("--user", "u", "--password", "p", "--at", "auth",
		       "--do", "reply", "--reply", "454 4.7.0 Temporary failure"),
	 0, 1, PO_EAUTH, 454, 0},
	{"auth 535", R("--user", "u", "--password", "other"), 0, 1, PO_EAUTH,
	 535, 0},
	{"auth close", R("--user", "u", "--password", "p", "--at", "auth",
			 "--do", "close"),
	 0, 1, PO_ECONNLOST, 0, 0},
	{"auth stall", R("--user", "u", "--password", "p", "--at",
			 "auth-result", "--do", "stall"),
	 0, 1, PO_ETIMEOUT, 0, 0, 0, "AUTH PLAIN <masked>"},
	{"mail 451", R("--at", "mail", "--do", "reply", "--reply",
		       "451 4.3.0 Try again"),
	 0, 0, PO_ESENDER, 451, 0, 0, "MAIL FROM:<sender@example.com>"},
	{"mail 553", R("--at", "mail", "--do", "reply", "--reply",
		       "553 5.1.8 Bad sender"),
	 0, 0, PO_ESENDER, 553, 0},
	{"mail close", R("--at", "mail", "--do", "close"), 0, 0, PO_ECONNLOST,
	 0, 0, 0, "MAIL FROM:"},
	{"mail stall", R("--at", "mail", "--do", "stall"), 0, 0, PO_ETIMEOUT,
	 0, 0, 0, "MAIL FROM:<sender@example.com>"},
	{"rcpt 2 of 3 450", R("--at", "rcpt:2", "--do", "reply", "--reply",
			      "450 4.2.1 Mailbox busy"),
	 0, 0, PO_ERECIPIENT, 450, 0},
	{"rcpt 2 of 3 550", R("--at", "rcpt:2", "--do", "reply", "--reply",
			      "550 5.1.1 No such user"),
	 0, 0, PO_ERECIPIENT, 550, 0, 0, "RCPT TO:<two@example.com>"},
	{"rcpt all 550", R("--at", "rcpt", "--do", "reply", "--reply",
			   "550 5.1.1 No such user"),
	 0, 0, PO_ERECIPIENT, 550, 0},
	{"rcpt close", R("--at", "rcpt:2", "--do", "close"), 0, 0,
	 PO_ECONNLOST, 0, 0},
	{"rcpt stall", R("--at", "rcpt:2", "--do", "stall"), 0, 0,
	 PO_ETIMEOUT, 0, 0, 0, "RCPT TO:<two@example.com>"},
	{"data 451", R("--at", "data", "--do", "reply", "--reply",
		       "451 4.3.0 Not now"),
	 0, 0, PO_EDATA, 451, 0},
	{"data 554", R("--at", "data", "--do", "reply", "--reply",
		       "554 5.5.1 No valid recipients"),
	 0, 0, PO_EDATA, 554, 0},
	{"data close", R("--at", "data", "--do", "close"), 0, 0, PO_ECONNLOST,
	 0, 0},
	{"data stall", R("--at", "data", "--do", "stall"), 0, 0, PO_ETIMEOUT,
	 0, 0, 0, "DATA"},
	{"mid-data close", R("--at", "body", "--do", "close", "--after-bytes",
			     "20000"),
	 0, 0, PO_ECONNLOST, 0, 0, 1, "DATA"},
	{"mid-data reset", R("--at", "body", "--do", "reset", "--after-bytes",
			     "20000"),
	 0, 0, PO_ECONNLOST, 0, 0, 1},
	{"mid-data stall", R("--at", "body", "--do", "stall", "--after-bytes",
			     "20000"),
	 0, 0, PO_ETIMEOUT, 0, 1, 0},
	{"eod 451", R("--at", "eod", "--do", "reply", "--reply",
		      "451 4.7.1 Greylisted"),
	 0, 0, PO_EMESSAGE, 451, 0},
	{"eod 554", R("--at", "eod", "--do", "reply", "--reply",
		      "554 5.7.1 Spam"),
	 0, 0, PO_EMESSAGE, 554, 0},
	/* RFC 5321: the first digit decides; libcurl alone wants 250 */
	{"eod 251", R("--at", "eod", "--do", "reply", "--reply",
		      "251 2.1.5 Queued elsewhere"),
	 0, 0, PO_OK, 251, 0},
	{"eod close", R("--at", "eod", "--do", "close"), 0, 0, PO_ECONNLOST,
	 0, 1},
	{"eod stall", R("--at", "eod", "--do", "stall"), 0, 0, PO_ETIMEOUT, 0,
	 1, 0, "."},
	{"quit close", R("--at", "quit", "--do", "close"), 0, 0, PO_OK, 250,
	 0},
	{"quit 500", R("--at", "quit", "--do", "reply", "--reply",
		       "500 5.5.1 What"),
	 0, 0, PO_OK, 250, 0},
};
#pragma GCC diagnostic pop

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static po_letter *letter(int big)
{
	static char body[60000];
	po_letter *l = po_letter_new();

	if (big) {
		size_t n = 4u << 20;
		char *data = malloc(n);

		memset(data, 'x', n);
		assert_po_ok(po_letter_set_from(l, "sender@example.com"));
		assert_po_ok(po_letter_add_to(l, "one@example.com"));
		assert_po_ok(po_letter_set_body(l, po_part_new_bytes(data, n)));
		free(data);
		return l;
	}

	memset(body, 'b', sizeof body - 1);
	for (size_t i = 70; i < sizeof body; i += 71)
		body[i] = '\n';
	assert_po_ok(po_letter_set_from(l, "sender@example.com"));
	assert_po_ok(po_letter_add_to(l, "one@example.com"));
	assert_po_ok(po_letter_add_to(l, "two@example.com"));
	assert_po_ok(po_letter_add_cc(l, "three@example.com"));
	assert_po_ok(po_letter_set_body(
		l, po_part_new_text(body, PO_ZERO_TERMINATED, NULL)));
	return l;
}

static void run_fault(const struct fault *ft, int pipelining)
{
	const char *args[24];
	fixture f;
	po_smtp *s;
	po_letter *l = letter(ft->big);
	double t0, dt;
	int n = 0, rc, saved;

	for (int i = 0; ft->rules[i]; i++)
		args[n++] = ft->rules[i];
	if (pipelining)
		args[n++] = "--pipelining";
	if (ft->security) {
		static char pem[320], key[320];

		snprintf(pem, sizeof pem, "%s/server.pem", certs);
		snprintf(key, sizeof key, "%s/server.key", certs);
		args[n++] = "--cert";
		args[n++] = pem;
		args[n++] = "--key";
		args[n++] = key;
	}
	args[n] = NULL;
	assert_int_equal(fixture_start(&f, "faultd", args), 0);

	s = po_smtp_new();
	assert_po_ok(po_smtp_set_server(s, "127.0.0.1", (unsigned)f.port));
	assert_po_ok(po_smtp_set_timeouts(s, REPLY_MS, REPLY_MS, REPLY_MS,
					  10000));
	if (ft->security) {
		assert_po_ok(po_smtp_set_security(s, ft->security));
		assert_po_ok(po_smtp_set_verify(s, 0));
	}
	if (ft->auth) {
		assert_po_ok(po_smtp_set_auth(s, "u", "p"));
		assert_po_ok(po_smtp_set_auth_mechanisms(s, "PLAIN"));
	}
	t0 = now();
	rc = po_smtp_send(s, l);
	dt = now() - t0;
	if (rc != ft->status || po_smtp_reply_code(s) != ft->code ||
	    po_smtp_outcome_unknown(s) != ft->unknown)
		print_error("%s: got %s code %d unknown %d: %s\n", ft->name,
			    po_errname(rc), po_smtp_reply_code(s),
			    po_smtp_outcome_unknown(s), po_smtp_errmsg(s));
	assert_int_equal(rc, ft->status);
	assert_int_equal(po_smtp_reply_code(s), ft->code);
	assert_int_equal(po_smtp_outcome_unknown(s), ft->unknown);
	if (ft->command &&
	    strncmp(po_smtp_command(s), ft->command, strlen(ft->command)))
		print_error("%s: command \"%s\"\n", ft->name,
			    po_smtp_command(s));
	if (ft->command)
		assert_memory_equal(po_smtp_command(s), ft->command,
				    strlen(ft->command));
	if (rc != PO_OK) {
		/* a failure always explains itself */
		assert_true(strlen(po_smtp_errmsg(s)) > 10);
		if (ft->code)
			assert_non_null(strstr(po_smtp_errmsg(s), "00") ||
					strstr(po_smtp_reply(s), "4") ||
					strstr(po_smtp_reply(s), "5"));
	}
	/* a stall ends within the reply timeout plus libcurl's own
	 * granularity (it checks about once a second, and counts whole
	 * seconds), plus at most a second for the QUIT it sends afterwards
	 * (progress_cb); before, that QUIT waited a whole reply timeout */
	if (dt > REPLY_MS / 1000.0 + 2.2)
		print_error("%s: took %.1f s\n", ft->name, dt);
	assert_true(dt < REPLY_MS / 1000.0 + 2.2);
	/* never reported as sent when the server did not accept it */
	saved = fixture_wait_messages(&f, 0, 0);
	if (rc == PO_OK)
		assert_int_equal(fixture_wait_messages(&f, 1, 3000), 1);
	else if (!ft->unknown)
		assert_int_equal(saved, 0);
	po_smtp_free(s);
	po_letter_free(l);
	fixture_stop(&f);
}

static void test_fault(void **state)
{
	run_fault(*state, 0);
}

static void test_fault_pipelined(void **state)
{
	run_fault(*state, 1);
}

static int setup_certs(void **state)
{
	(void)state;
	return fixture_certs(certs, sizeof certs);
}

int main(void)
{
	enum { N = sizeof faults / sizeof faults[0] };
	struct CMUnitTest tests[2 * N];
	static char names[N][80];
	size_t i;

	for (i = 0; i < N; i++) {
		snprintf(names[i], sizeof names[i], "%s (pipelined)",
			 faults[i].name);
		tests[i] = (struct CMUnitTest){faults[i].name, test_fault,
					       NULL, NULL,
					       (void *)&faults[i]};
		tests[N + i] = (struct CMUnitTest){names[i],
						   test_fault_pipelined, NULL,
						   NULL, (void *)&faults[i]};
	}
	return _cmocka_run_group_tests("faults", tests, 2 * N, setup_certs,
				       NULL);
}
