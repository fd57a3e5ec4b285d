/* test_txn.c - the SMTP transaction of transaction.c against
 * fixtures/faultd.py: round trips counted at the server (its
 * conn-K.turns files: one line per server turn), PIPELINING and lockstep,
 * RSET, 421, out-of-order and extra replies, aborted bodies, SIZE,
 * 8BITMIME, DSN, REQUIRETLS, the po_pool queue and its outcomes, the
 * server host checks of #7 item 5 and the enhanced codes of item 10. */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
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

static void start(fixture *f, const char *const *args)
{
	assert_int_equal(fixture_start(f, "faultd", args), 0);
}

static po_smtp *smtp_to(const fixture *f)
{
	po_smtp *s = po_smtp_new();

	assert_non_null(s);
	assert_po_ok(po_smtp_set_server(s, "127.0.0.1", (unsigned)f->port));
	assert_po_ok(po_smtp_set_timeouts(s, 5000, 3000, 3000, 20000));
	return s;
}

static po_letter *letter_to(const char *to, const char *body)
{
	po_letter *l = po_letter_new();

	assert_po_ok(po_letter_set_from(l, "sender@example.com"));
	if (to)
		assert_po_ok(po_letter_add_to(l, to));
	assert_po_ok(po_letter_set_subject(l, "txn"));
	assert_po_ok(po_letter_set_body(
		l, po_part_new_text(body, PO_ZERO_TERMINATED, NULL)));
	return l;
}

static int contains(const char *hay, const char *needle)
{
	return hay && strstr(hay, needle) != NULL;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	while (hay && (hay = strstr(hay, needle))) {
		n++;
		hay += strlen(needle);
	}
	return n;
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

/* The server turns of connection k (waits for it to end): the lines of
 * conn-K.turns, in *n. */
static char *turns(fixture *f, int k, int *n)
{
	char name[32], *t;

	free(fixture_transcript(f, k)); /* waits for "* end" */
	snprintf(name, sizeof name, "conn-%d.turns", k);
	t = fixture_read(f, name, NULL);
	assert_non_null(t);
	*n = count(t, "\n");
	return t;
}

/* Turns spent on letters: all but the greeting, the EHLO and the QUIT
 * (a plain connection without AUTH). */
static int letter_turns(fixture *f, int k)
{
	int n;
	char *t = turns(f, k, &n);

	assert_memory_equal(t, "220\n250\n", 8);
	assert_true(contains(t, "221\n"));
	assert_string_equal(t + strlen(t) - 4, "221\n");
	free(t);
	return n - 3;
}

/* ------------------------------------------------------------------
 * Round trips */

static void test_round_trips_reused_connection(void **state)
{
	const char *args[] = {"--pipelining", NULL};
	fixture f;
	po_smtp *s;
	int i, n = 10, rt;
	char *log;

	(void)state;
	start(&f, args);
	s = smtp_to(&f);
	for (i = 0; i < n; i++) {
		po_letter *l = letter_to("to@example.com", "reused");

		assert_po_ok(po_smtp_send(s, l));
		po_letter_free(l);
	}
	po_smtp_free(s);
	assert_int_equal(fixture_wait_messages(&f, n, 5000), n);
	/* MAIL+RCPT+DATA in one flight, the body and its dot in another:
	 * 2 a letter (a call that waits for its own reply cannot do
	 * better; goal <= 2.1) */
	rt = letter_turns(&f, 1);
	print_message("send-letter on a reused connection: %.2f round trips "
		      "a letter\n",
		      (double)rt / n);
	assert_true(rt <= 21 * n / 10);
	log = fixture_transcript(&f, 1);
	assert_false(contains(log, "* body before 354"));
	free(log);
	fixture_stop(&f);
}

static void test_round_trips_queued(void **state)
{
	const char *args[] = {"--pipelining", NULL};
	po_letter *l[20];
	fixture f;
	po_smtp *s;
	po_pool *p;
	po_result *r;
	int i, n = 20, rt, done = 0;

	(void)state;
	start(&f, args);
	s = smtp_to(&f);
	p = po_pool_new(s);
	assert_non_null(p);
	po_smtp_free(s); /* the pool has its own copy of the settings */
	for (i = 0; i < n; i++) {
		l[i] = letter_to("to@example.com", "queued");
		assert_po_ok(po_pool_submit(p, l[i], &l[i]));
	}
	assert_int_equal(po_pool_pending(p), (size_t)n);
	assert_po_ok(po_pool_run(p, 20000));
	assert_int_equal(po_pool_pending(p), 0);
	while ((r = po_pool_next(p))) {
		/* completions in order, each with its tag and letter */
		assert_ptr_equal(po_result_tag(r), &l[done]);
		assert_ptr_equal(po_result_letter(r), l[done]);
		assert_int_equal(po_result_status(r), PO_OK);
		assert_int_equal(po_result_reply_code(r), 250);
		assert_string_equal(po_result_enhanced_code(r), "2.0.0");
		assert_string_equal(po_result_command(r), ".");
		assert_string_equal(po_result_errmsg(r), "");
		assert_string_equal(po_result_message_id(r),
				    po_letter_message_id(l[done]));
		assert_int_equal(po_result_outcome_unknown(r), 0);
		po_result_free(r);
		done++;
	}
	assert_int_equal(done, n);
	po_pool_free(p);
	assert_int_equal(fixture_wait_messages(&f, n, 5000), n);
	/* each letter's envelope rides with the previous end of data: one
	 * round trip a letter, plus the first envelope (goal <= 1.3) */
	rt = letter_turns(&f, 1);
	print_message("queued letters (po_pool): %.2f round trips a letter\n",
		      (double)rt / n);
	assert_true(rt <= 13 * n / 10);
	assert_null(fixture_transcript_wait(&f, 2, 0));
	for (i = 0; i < n; i++)
		po_letter_free(l[i]);
	fixture_stop(&f);
}

static void test_round_trips_many_recipients(void **state)
{
	const char *args[] = {"--pipelining", NULL};
	fixture f;
	po_smtp *s;
	po_letter *l = letter_to(NULL, "fifty");
	char *j;
	int i, rt;

	(void)state;
	for (i = 0; i < 50; i++) {
		char a[64];

		snprintf(a, sizeof a, "r%d@example.com", i);
		assert_po_ok(po_letter_add_to(l, a));
	}
	start(&f, args);
	s = smtp_to(&f);
	assert_po_ok(po_smtp_send(s, l));
	po_smtp_free(s);
	assert_int_equal(fixture_wait_messages(&f, 1, 5000), 1);
	j = json(&f, 1);
	assert_true(contains(j, "r49@example.com"));
	free(j);
	rt = letter_turns(&f, 1);
	print_message("a letter to 50 recipients: %d round trips\n", rt);
	assert_true(rt <= 3);
	po_letter_free(l);
	fixture_stop(&f);
}

/* One connection per letter (keep-alive off, Allegro's model): with
 * PIPELINING the QUIT rides with the end of data, so connect to QUIT is
 * four server turns: greeting, EHLO, the envelope, the body's end and
 * QUIT together. */
static void test_round_trips_one_shot(void **state)
{
	const char *args[] = {"--pipelining", NULL};
	fixture f;
	po_smtp *s;
	po_letter *l = letter_to("to@example.com", "one shot");
	char *t, *log;
	int n, i;

	(void)state;
	start(&f, args);
	s = smtp_to(&f);
	assert_po_ok(po_smtp_set_keep_alive(s, 0));
	for (i = 0; i < 2; i++) {
		assert_po_ok(po_smtp_send(s, l));
		assert_int_equal(po_smtp_reply_code(s), 250);
		assert_int_equal(po_smtp_connection_reused(s), 0);
	}
	po_smtp_free(s);
	assert_int_equal(fixture_wait_messages(&f, 2, 5000), 2);
	for (i = 1; i <= 2; i++) {
		t = turns(&f, i, &n);
		assert_int_equal(n, 4);
		assert_string_equal(t + strlen(t) - 8, "250 221\n");
		free(t);
		log = fixture_transcript(&f, i);
		assert_true(contains(log, "C: QUIT"));
		assert_false(contains(log, "* body before 354"));
		free(log);
	}
	po_letter_free(l);
	fixture_stop(&f);
}

/* Without PIPELINING: strictly one command at a time, each answered
 * before the next (what Postfix calls improper pipelining never
 * happens), and the body only after 354. */
static void test_lockstep_without_pipelining(void **state)
{
	fixture f;
	po_smtp *s;
	po_pool *p;
	po_letter *l[3];
	po_result *r;
	char *t;
	int i, rt;

	(void)state;
	start(&f, NULL);
	s = smtp_to(&f);
	p = po_pool_new(s);
	for (i = 0; i < 3; i++) {
		l[i] = letter_to("to@example.com", "lockstep");
		assert_po_ok(po_letter_add_cc(l[i], "cc@example.com"));
		assert_po_ok(po_pool_submit(p, l[i], NULL));
	}
	assert_po_ok(po_pool_run(p, 20000));
	while ((r = po_pool_next(p))) {
		assert_int_equal(po_result_status(r), PO_OK);
		po_result_free(r);
	}
	assert_po_ok(po_smtp_send(s, l[0]));
	po_pool_free(p);
	po_smtp_free(s);
	assert_int_equal(fixture_wait_messages(&f, 4, 5000), 4);
	for (i = 1; i <= 2; i++) {
		t = fixture_transcript(&f, i);
		assert_false(contains(t, "* improper pipelining"));
		assert_false(contains(t, "* body before 354"));
		free(t);
	}
	/* MAIL, RCPT, RCPT, DATA, the end of data: 5 a letter */
	rt = letter_turns(&f, 1);
	assert_int_equal(rt, 15);
	for (i = 0; i < 3; i++)
		po_letter_free(l[i]);
	fixture_stop(&f);
}

/* ------------------------------------------------------------------
 * RSET, 421, aborted bodies */

static void test_rset_keeps_connection(void **state)
{
	const char *modes[][8] = {
		{"--at", "rcpt=bad@example.com", "--do", "reply", "--reply",
		 "550 5.1.1 No such user", NULL},
		{"--pipelining", "--at", "rcpt=bad@example.com", "--do",
		 "reply", "--reply", "550 5.1.1 No such user", NULL},
	};
	int m;

	(void)state;
	for (m = 0; m < 2; m++) {
		fixture f;
		po_smtp *s;
		po_letter *bad = letter_to("bad@example.com", "refused");
		po_letter *good = letter_to("to@example.com", "fine");
		char *t;

		start(&f, modes[m]);
		s = smtp_to(&f);
		assert_int_equal(po_smtp_send(s, bad), PO_ERECIPIENT);
		assert_int_equal(po_smtp_reply_code(s), 550);
		assert_string_equal(po_smtp_enhanced_code(s), "5.1.1");
		assert_po_ok(po_smtp_send(s, good));
		/* the same connection, an RSET before the next MAIL */
		assert_int_equal(po_smtp_connection_reused(s), 1);
		assert_po_ok(po_smtp_send(s, good));
		po_smtp_free(s);
		assert_int_equal(fixture_wait_messages(&f, 2, 5000), 2);
		t = fixture_transcript(&f, 1);
		assert_true(contains(t, "S: 550 5.1.1 No such user\n"));
		assert_int_equal(count(t, "C: RSET\n"), 1);
		/* after the refused letter, before the next one */
		assert_true(strstr(t, "C: RSET") > strstr(t, "S: 550"));
		assert_true(strstr(t, "C: RSET") <
			    strstr(strstr(t, "C: MAIL") + 1, "C: MAIL"));
		assert_false(contains(t, "improper pipelining"));
		free(t);
		assert_null(fixture_transcript_wait(&f, 2, 0));
		po_letter_free(bad);
		po_letter_free(good);
		fixture_stop(&f);
	}
}

static void test_421_mid_session_reconnects(void **state)
{
	const char *modes[][10] = {
		{"--at", "rcpt=second@example.com", "--do", "reply-close",
		 "--reply", "421 4.3.2 Shutting down", "--conn", "1", NULL},
		{"--pipelining", "--at", "rcpt=second@example.com", "--do",
		 "reply-close", "--reply", "421 4.3.2 Shutting down", "--conn",
		 "1", NULL},
	};
	int m;

	(void)state;
	for (m = 0; m < 2; m++) {
		fixture f;
		po_smtp *s;
		po_letter *a = letter_to("first@example.com", "one");
		po_letter *b = letter_to("second@example.com", "two");
		char *j;

		start(&f, modes[m]);
		s = smtp_to(&f);
		assert_po_ok(po_smtp_send(s, a));
		/* the server closes with 421 before the letter went out: sent
		 * once more on a new connection */
		assert_po_ok(po_smtp_send(s, b));
		assert_int_equal(po_smtp_connection_reused(s), 0);
		po_smtp_free(s);
		assert_int_equal(fixture_wait_messages(&f, 2, 5000), 2);
		j = json(&f, 2);
		assert_true(contains(j, "\"conn\": 2"));
		free(j);
		po_letter_free(a);
		po_letter_free(b);
		fixture_stop(&f);
	}
}

struct failing {
	size_t sent, after;
};

static int fail_mid_body(void *ud, void *buf, size_t len, size_t *n)
{
	struct failing *st = ud;

	if (st->sent >= st->after)
		return 1; /* as a file that changed under the renderer */
	*n = len > 1000 ? 1000 : len;
	memset(buf, 'r', *n);
	((char *)buf)[*n - 1] = '\n';
	st->sent += *n;
	return 0;
}

/* #7 item 3: a body aborted after it began never gets its final dot,
 * and nothing (no QUIT) is written after it: the server sees the
 * connection end in the middle of the body, and delivers nothing. */
static void test_aborted_body(void **state)
{
	const char *modes[][2] = {{NULL}, {"--pipelining", NULL}};
	int m;

	(void)state;
	for (m = 0; m < 2; m++) {
		struct failing st = {0, 200000};
		fixture f;
		po_smtp *s;
		po_letter *l = letter_to("to@example.com", "x");
		po_letter *ok = letter_to("to@example.com", "after");
		char *t, *tail;

		assert_po_ok(po_letter_set_body(
			l, po_part_new_reader(fail_mid_body, &st)));
		start(&f, modes[m]);
		s = smtp_to(&f);
		assert_int_equal(po_smtp_send(s, l), PO_EREADER);
		assert_int_equal(po_smtp_outcome_unknown(s), 0);
		assert_string_equal(po_smtp_command(s), "DATA");
		/* the handle goes on, on a new connection */
		assert_po_ok(po_smtp_send(s, ok));
		assert_int_equal(po_smtp_connection_reused(s), 0);
		po_smtp_free(s);
		assert_int_equal(fixture_wait_messages(&f, 1, 5000), 1);
		t = fixture_transcript(&f, 1);
		assert_true(contains(t, "S: 354"));
		tail = strstr(t, "* body ended without the final dot");
		assert_non_null(tail);
		assert_false(contains(tail, "QUIT"));
		assert_false(contains(t, "C: QUIT"));
		assert_false(contains(t, "C: ."));
		free(t);
		po_letter_free(l);
		po_letter_free(ok);
		fixture_stop(&f);
	}
}

/* ------------------------------------------------------------------
 * Replies that break the rules */

struct bad_reply {
	const char *name;
	const char *args[12];
	int code;
};

static void test_out_of_order_replies(void **state)
{
	static const struct bad_reply cases[] = {
		{"DATA answered 250",
		 {"--pipelining", "--at", "data", "--do", "reply", "--reply",
		  "250 2.0.0 Ok", NULL},
		 250},
		{"an extra reply in a pipelined flight",
		 {"--pipelining", "--at", "rcpt", "--do", "extra", "--reply",
		  "250 2.1.5 Extra", NULL},
		 250},
		{"an extra reply in lockstep",
		 {"--at", "mail", "--do", "extra", "--reply", "250 2.1.0 Extra",
		  NULL},
		 250},
		{"RCPT answered 354",
		 {"--pipelining", "--at", "rcpt", "--do", "reply", "--reply",
		  "354 Go ahead", NULL},
		 354},
		{"a reply in the middle of the body",
		 {"--at", "body", "--do", "reply", "--after-bytes", "100",
		  "--reply", "250 2.0.0 Early", NULL},
		 250},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		fixture f;
		po_smtp *s;
		po_letter *l = letter_to("to@example.com", "order");
		char *big = NULL;

		if (i == sizeof cases / sizeof cases[0] - 1) {
			/* a body long enough to be still going out */
			big = malloc(4u << 20);
			memset(big, 'x', 4u << 20);
			assert_po_ok(po_letter_set_body(
				l, po_part_new_bytes(big, 4u << 20)));
			free(big);
		}
		start(&f, cases[i].args);
		s = smtp_to(&f);
		if (po_smtp_send(s, l) != PO_EPROTOCOL)
			print_error("%s: %s\n", cases[i].name,
				    po_smtp_errmsg(s));
		assert_int_equal(po_smtp_send(s, l), PO_EPROTOCOL);
		assert_int_equal(po_smtp_reply_code(s), cases[i].code);
		assert_int_equal(po_smtp_outcome_unknown(s), 0);
		po_smtp_free(s);
		assert_int_equal(fixture_wait_messages(&f, 0, 300), 0);
		po_letter_free(l);
		fixture_stop(&f);
	}
}

/* #7 item 10: the enhanced code comes from the reply it belongs to. */
static void test_enhanced_code_per_reply(void **state)
{
	const char *args[] = {"--pipelining", "--at", "rcpt:1", "--do", "reply",
			      "--reply", "550 5.1.1 No such user", "--at",
			      "data", "--do", "reply", "--reply", "554",
			      NULL};
	fixture f;
	po_smtp *s;
	po_letter *l = letter_to("gone@example.com", "x");

	(void)state;
	assert_po_ok(po_letter_add_to(l, "here@example.com"));
	start(&f, args);
	s = smtp_to(&f);
	assert_po_ok(po_smtp_set_partial_delivery(s, 1));
	assert_int_equal(po_smtp_send(s, l), PO_EDATA);
	assert_int_equal(po_smtp_reply_code(s), 554);
	assert_string_equal(po_smtp_enhanced_code(s), "");
	assert_int_equal(po_smtp_refused_count(s), 1);
	assert_int_equal(po_smtp_refused_code(s, 0), 550);
	po_smtp_free(s);
	po_letter_free(l);
	fixture_stop(&f);
}

/* ------------------------------------------------------------------
 * The queue's outcomes */

/* The first letter's end of data goes unanswered (the server closes):
 * its outcome is unknown; the letters whose commands rode behind it were
 * not delivered and go again on a new connection, never "sent" on the
 * first. */
static void test_pool_outcomes_behind_unknown(void **state)
{
	const char *args[] = {"--pipelining", "--at", "eod", "--do", "close",
			      "--conn", "1", NULL};
	po_letter *l[3];
	fixture f;
	po_smtp *s;
	po_pool *p;
	po_result *r;
	int i = 0;
	char *j;

	(void)state;
	start(&f, args);
	s = smtp_to(&f);
	p = po_pool_new(s);
	po_smtp_free(s);
	for (i = 0; i < 3; i++) {
		l[i] = letter_to("to@example.com", "pool");
		assert_po_ok(po_pool_submit(p, l[i], l[i]));
	}
	assert_po_ok(po_pool_run(p, 20000));
	r = po_pool_next(p);
	assert_ptr_equal(po_result_tag(r), l[0]);
	assert_int_equal(po_result_status(r), PO_ECONNLOST);
	assert_int_equal(po_result_outcome_unknown(r), 1);
	assert_string_equal(po_result_command(r), ".");
	po_result_free(r);
	for (i = 1; i < 3; i++) {
		r = po_pool_next(p);
		assert_non_null(r);
		assert_ptr_equal(po_result_tag(r), l[i]);
		assert_int_equal(po_result_status(r), PO_OK);
		assert_int_equal(po_result_outcome_unknown(r), 0);
		po_result_free(r);
	}
	assert_null(po_pool_next(p));
	po_pool_free(p);
	assert_int_equal(fixture_wait_messages(&f, 2, 5000), 2);
	for (i = 1; i <= 2; i++) {
		j = json(&f, i);
		assert_true(contains(j, "\"conn\": 2"));
		free(j);
	}
	for (i = 0; i < 3; i++)
		po_letter_free(l[i]);
	fixture_stop(&f);
}

/* A refused letter in the middle of a queue: it alone fails, the others
 * go, all on one connection. */
static void test_pool_refusal_in_queue(void **state)
{
	const char *args[] = {"--pipelining", "--at", "rcpt=bad@example.com",
			      "--do", "reply", "--reply",
			      "550 5.1.1 No such user", NULL};
	const char *to[] = {"a@example.com", "bad@example.com",
			    "b@example.com", "c@example.com"};
	po_letter *l[4];
	fixture f;
	po_smtp *s;
	po_pool *p;
	po_result *r;
	int i;

	(void)state;
	start(&f, args);
	s = smtp_to(&f);
	p = po_pool_new(s);
	po_smtp_free(s);
	for (i = 0; i < 4; i++) {
		l[i] = letter_to(to[i], "queue");
		assert_po_ok(po_pool_submit(p, l[i], (void *)to[i]));
	}
	assert_po_ok(po_pool_run(p, 20000));
	for (i = 0; i < 4; i++) {
		r = po_pool_next(p);
		assert_non_null(r);
		assert_string_equal(po_result_tag(r), to[i]);
		if (i == 1) {
			assert_int_equal(po_result_status(r), PO_ERECIPIENT);
			assert_int_equal(po_result_reply_code(r), 550);
			assert_int_equal(po_result_refused_count(r), 1);
			assert_string_equal(po_result_refused_address(r, 0),
					    "bad@example.com");
			assert_int_equal(po_result_refused_code(r, 0), 550);
			assert_true(contains(po_result_refused_reply(r, 0),
					     "No such user"));
			assert_true(contains(po_result_errmsg(r),
					     "RCPT TO:<bad@example.com>"));
		} else {
			assert_int_equal(po_result_status(r), PO_OK);
		}
		po_result_free(r);
	}
	po_pool_free(p);
	assert_int_equal(fixture_wait_messages(&f, 3, 5000), 3);
	assert_null(fixture_transcript_wait(&f, 2, 0));
	for (i = 0; i < 4; i++)
		po_letter_free(l[i]);
	fixture_stop(&f);
}

static void test_pool_input_errors_at_submit(void **state)
{
	po_smtp *s = po_smtp_new();
	po_pool *p;
	po_letter *l = po_letter_new();

	(void)state;
	assert_null(po_pool_new(s)); /* no server */
	assert_po_ok(po_smtp_set_server(s, "127.0.0.1", 9));
	p = po_pool_new(s);
	assert_non_null(p);
	assert_int_equal(po_pool_submit(p, l, NULL), PO_ENOSENDER);
	assert_int_equal(po_pool_pending(p), 0);
	assert_po_ok(po_pool_run(p, 1000));
	assert_null(po_pool_next(p));
	po_pool_free(p);
	po_smtp_free(s);
	po_letter_free(l);
}

/* ------------------------------------------------------------------
 * SIZE, 8BITMIME, DSN, REQUIRETLS */

static void test_size(void **state)
{
	const char *args[] = {"--caps", "SIZE 5000,8BITMIME,PIPELINING", NULL};
	static char big[20000];
	fixture f;
	po_smtp *s;
	po_letter *small = letter_to("to@example.com", "small");
	po_letter *l = letter_to("to@example.com", "x");
	char *t, *j;

	(void)state;
	memset(big, 'b', sizeof big);
	assert_po_ok(po_letter_set_body(l, po_part_new_bytes(big, sizeof big)));
	start(&f, args);
	s = smtp_to(&f);
	assert_int_equal(po_smtp_send(s, l), PO_ESIZE);
	/* both numbers, and nothing uploaded */
	assert_true(contains(po_smtp_errmsg(s), "5000"));
	assert_true(contains(po_smtp_errmsg(s), "octets"));
	assert_po_ok(po_smtp_send(s, small));
	po_smtp_free(s);
	assert_int_equal(fixture_wait_messages(&f, 1, 5000), 1);
	j = json(&f, 1);
	assert_true(contains(j, "\"SIZE="));
	free(j);
	t = fixture_transcript(&f, 1);
	assert_int_equal(count(t, "C: MAIL"), 1);
	free(t);
	po_letter_free(l);
	po_letter_free(small);
	fixture_stop(&f);
}

static int has_8bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return 1;
	return 0;
}

static po_letter *eight_bit_letter(void)
{
	static const char eml[] = "From: a@example.com\r\nSubject: fwd\r\n\r\n"
				  "Gr\xc3\xbc\xc3\x9f\x65 aus K\xc3\xb6ln\r\n";
	po_letter *l = letter_to("to@example.com", "see attached");
	po_part *m = po_part_new_multipart("mixed");
	po_part *t = po_part_new_text("Gr\xc3\xbc\xc3\x9f\x65\n",
				      PO_ZERO_TERMINATED, "utf-8");
	po_part *r = po_part_new_bytes(eml, sizeof eml - 1);
	po_part *b = po_part_new_bytes("caf\xc3\xa9\r\n", 7);

	assert_po_ok(po_part_set_encoding(t, "8bit"));
	assert_po_ok(po_part_set_type(r, "message/rfc822"));
	assert_po_ok(po_part_set_type(b, "text/plain"));
	assert_po_ok(po_part_set_encoding(b, "binary"));
	assert_po_ok(po_part_add(m, t));
	assert_po_ok(po_part_add(m, r));
	assert_po_ok(po_part_add(m, b));
	assert_po_ok(po_letter_set_body(l, m));
	return l;
}

static void test_8bitmime(void **state)
{
	const char *without[] = {"--pipelining", "--caps", "SIZE 100000", NULL};
	const char *with[] = {"--pipelining", NULL};
	fixture f;
	po_smtp *s;
	po_letter *l = eight_bit_letter();
	po_letter *raw = po_letter_new();
	char *eml, *j;
	size_t n;

	(void)state;
	/* offered: BODY=8BITMIME, the octets as they are */
	start(&f, with);
	s = smtp_to(&f);
	assert_po_ok(po_smtp_send(s, l));
	po_smtp_free(s);
	assert_int_equal(fixture_wait_messages(&f, 1, 5000), 1);
	j = json(&f, 1);
	assert_true(contains(j, "BODY=8BITMIME"));
	free(j);
	eml = fixture_read(&f, "0001.eml", &n);
	assert_true(has_8bit(eml, n));
	free(eml);
	fixture_stop(&f);

	/* not offered: re-encoded, nothing >= 0x80 reaches the server */
	start(&f, without);
	s = smtp_to(&f);
	assert_po_ok(po_smtp_send(s, l));
	assert_po_ok(po_letter_set_from(raw, "sender@example.com"));
	assert_po_ok(po_letter_add_to(raw, "to@example.com"));
	assert_po_ok(po_letter_set_raw(raw, "Subject: raw\r\n\r\nK\xc3\xb6ln\r\n",
				       PO_ZERO_TERMINATED));
	/* a raw letter cannot be re-encoded: refused before MAIL */
	assert_int_equal(po_smtp_send(s, raw), PO_E8BIT);
	assert_true(contains(po_smtp_errmsg(s), "8BITMIME"));
	po_smtp_free(s);
	assert_int_equal(fixture_wait_messages(&f, 1, 5000), 1);
	j = json(&f, 1);
	assert_false(contains(j, "BODY=8BITMIME"));
	free(j);
	eml = fixture_read(&f, "0001.eml", &n);
	assert_false(has_8bit(eml, n));
	assert_true(contains(eml, "application/octet-stream"));
	assert_true(contains(eml, "quoted-printable"));
	free(eml);
	eml = fixture_transcript(&f, 1);
	assert_int_equal(count(eml, "C: MAIL"), 1);
	free(eml);
	po_letter_free(raw);
	po_letter_free(l);
	fixture_stop(&f);
}

static void test_dsn(void **state)
{
	const char *with[] = {"--pipelining", "--caps",
			      "PIPELINING,DSN,8BITMIME", NULL};
	fixture f;
	po_smtp *s;
	po_letter *l = letter_to("to@example.com", "dsn");
	char *j, *t;

	(void)state;
	assert_int_equal(po_letter_set_dsn_notify(
				 l, PO_DSN_NOTIFY_NEVER | PO_DSN_NOTIFY_DELAY),
			 PO_EINVAL);
	assert_int_equal(po_letter_set_dsn_envid(l, "a b"), PO_EINVAL);
	assert_po_ok(po_letter_set_dsn_notify(l, PO_DSN_NOTIFY_SUCCESS |
						      PO_DSN_NOTIFY_FAILURE));
	assert_po_ok(po_letter_set_dsn_ret(l, PO_DSN_RET_HDRS));
	assert_po_ok(po_letter_set_dsn_envid(l, "id+1=x"));
	start(&f, with);
	s = smtp_to(&f);
	assert_po_ok(po_smtp_send(s, l));
	po_smtp_free(s);
	assert_int_equal(fixture_wait_messages(&f, 1, 5000), 1);
	j = json(&f, 1);
	assert_true(contains(j, "\"RET=HDRS\""));
	assert_true(contains(j, "\"ENVID=id+2B1+3Dx\""));
	assert_true(contains(j, "\"NOTIFY=SUCCESS,FAILURE\""));
	assert_true(contains(j, "\"ORCPT=rfc822;to@example.com\""));
	free(j);
	fixture_stop(&f);

	/* a server without DSN: refused before MAIL */
	start(&f, NULL);
	s = smtp_to(&f);
	assert_int_equal(po_smtp_send(s, l), PO_EDSN);
	assert_true(contains(po_smtp_command(s), "EHLO"));
	po_smtp_free(s);
	t = fixture_transcript(&f, 1);
	assert_false(contains(t, "C: MAIL"));
	free(t);
	po_letter_free(l);
	fixture_stop(&f);
}

static void test_requiretls(void **state)
{
	const char *tls[] = {"--tls", "starttls", "--cert", cert("server.pem"),
			     "--key", cert("server.key"), "--caps",
			     "STARTTLS,PIPELINING,8BITMIME", "--tls-caps",
			     "PIPELINING,8BITMIME,REQUIRETLS", NULL};
	const char *plain[] = {"--caps", "PIPELINING,REQUIRETLS", NULL};
	const char *nocap[] = {"--tls", "starttls", "--cert",
			       cert("server.pem"), "--key", cert("server.key"),
			       NULL};
	fixture f;
	po_smtp *s;
	po_letter *l = letter_to("to@example.com", "requiretls");
	char *j;

	(void)state;
	/* verified TLS and offered: the parameter on the wire */
	start(&f, tls);
	s = smtp_to(&f);
	assert_po_ok(po_smtp_set_server(s, "localhost", (unsigned)f.port));
	assert_po_ok(po_smtp_set_security(s, PO_TLS_STARTTLS));
	assert_po_ok(po_smtp_set_tls_option(s, PO_TLSOPT_CA_FILE,
					    cert("ca.pem")));
	assert_po_ok(po_smtp_set_require_tls(s, 1));
	assert_po_ok(po_smtp_send(s, l));
	po_smtp_free(s);
	assert_int_equal(fixture_wait_messages(&f, 1, 5000), 1);
	j = json(&f, 1);
	assert_true(contains(j, "\"REQUIRETLS\""));
	free(j);
	/* with verification off: refused (RFC 8689 wants it verified) */
	s = smtp_to(&f);
	assert_po_ok(po_smtp_set_security(s, PO_TLS_STARTTLS));
	assert_po_ok(po_smtp_set_verify(s, 0));
	assert_po_ok(po_smtp_set_require_tls(s, 1));
	assert_int_equal(po_smtp_send(s, l), PO_EREQUIRETLS);
	assert_true(contains(po_smtp_errmsg(s), "verified"));
	po_smtp_free(s);
	assert_int_equal(fixture_wait_messages(&f, 0, 0), 1);
	fixture_stop(&f);

	/* offered on a plain connection: refused */
	start(&f, plain);
	s = smtp_to(&f);
	assert_po_ok(po_smtp_set_require_tls(s, 1));
	assert_int_equal(po_smtp_send(s, l), PO_EREQUIRETLS);
	po_smtp_free(s);
	fixture_stop(&f);

	/* verified TLS, not offered: refused */
	start(&f, nocap);
	s = smtp_to(&f);
	assert_po_ok(po_smtp_set_server(s, "localhost", (unsigned)f.port));
	assert_po_ok(po_smtp_set_security(s, PO_TLS_STARTTLS));
	assert_po_ok(po_smtp_set_tls_option(s, PO_TLSOPT_CA_FILE,
					    cert("ca.pem")));
	assert_po_ok(po_smtp_set_require_tls(s, 1));
	assert_int_equal(po_smtp_send(s, l), PO_EREQUIRETLS);
	assert_true(contains(po_smtp_errmsg(s), "offer"));
	po_smtp_free(s);
	assert_int_equal(fixture_wait_messages(&f, 0, 0), 0);
	po_letter_free(l);
	fixture_stop(&f);
}

/* Dot-stuffing across the renderer's chunks: a raw letter of lines that
 * start with dots, long enough to span many reads and writes, arrives
 * as it was (the server unstuffs), and no line of it ended the letter
 * early. */
static void test_dot_stuffing_across_chunks(void **state)
{
	fixture f;
	po_smtp *s;
	po_letter *l = po_letter_new();
	size_t n = 0, cap = 400000, got;
	char *raw = malloc(cap), *eml;
	int i;

	(void)state;
	n += (size_t)snprintf(raw, cap, "Subject: dots\r\n\r\n");
	/* lines of 1 to 97 octets, most starting with one or two dots */
	for (i = 0; n < cap - 200; i++) {
		int len = 1 + i % 97;

		for (int k = 0; k < len; k++)
			raw[n++] = k < 1 + i % 3 && i % 5 ? '.' : 'a' + i % 26;
		raw[n++] = '\r';
		raw[n++] = '\n';
	}
	assert_po_ok(po_letter_set_from(l, "sender@example.com"));
	assert_po_ok(po_letter_add_to(l, "to@example.com"));
	assert_po_ok(po_letter_set_raw(l, raw, n));
	start(&f, NULL);
	s = smtp_to(&f);
	assert_po_ok(po_smtp_send(s, l));
	po_smtp_free(s);
	assert_int_equal(fixture_wait_messages(&f, 1, 5000), 1);
	eml = fixture_read(&f, "0001.eml", &got);
	assert_int_equal(got, n);
	assert_memory_equal(eml, raw, n);
	free(eml);
	free(raw);
	po_letter_free(l);
	fixture_stop(&f);
}

/* ------------------------------------------------------------------
 * #7 item 5: the server host check */

static void test_server_host_bypass(void **state)
{
	fixture f;
	po_smtp *s = po_smtp_new();
	char host[128];

	(void)state;
	start(&f, NULL);
	/* fullwidth @ (U+FF20), / (U+FF0F), # (U+FF03): UTS #46 maps them
	 * to ASCII; the A-label that comes out is checked like ASCII */
	snprintf(host, sizeof host,
		 "mail.example.com\xef\xbc\xa0" "127.0.0.1:%d", f.port);
	assert_int_equal(po_smtp_set_server(s, host, 0), PO_EINVAL);
	assert_int_equal(po_smtp_set_server(s, "a.example\xef\xbc\x8fx", 25),
			 PO_EINVAL);
	assert_int_equal(po_smtp_set_server(s, "a.example\xef\xbc\x83x", 25),
			 PO_EINVAL);
	/* an IPv6 zone id is letters, digits, '.', '_', '-' */
	snprintf(host, sizeof host, "fe80::1%%a]@127.0.0.1:%d/x", f.port);
	assert_int_equal(po_smtp_set_server(s, host, 25), PO_EINVAL);
	assert_int_equal(po_smtp_set_server(s, "fe80::1%eth0", 25), PO_OK);
	assert_int_equal(po_smtp_set_server(s, "[fe80::1%lo]", 25), PO_OK);
	assert_int_equal(po_smtp_set_server(s, "b\xc3\xbc" "cher.example", 25),
			 PO_OK);
	po_smtp_free(s);
	assert_null(fixture_transcript_wait(&f, 1, 300));
	fixture_stop(&f);
}

static int setup_certs(void **state)
{
	(void)state;
	return fixture_certs(certs, sizeof certs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trips_reused_connection),
		cmocka_unit_test(test_round_trips_queued),
		cmocka_unit_test(test_round_trips_many_recipients),
		cmocka_unit_test(test_round_trips_one_shot),
		cmocka_unit_test(test_lockstep_without_pipelining),
		cmocka_unit_test(test_rset_keeps_connection),
		cmocka_unit_test(test_421_mid_session_reconnects),
		cmocka_unit_test(test_aborted_body),
		cmocka_unit_test(test_out_of_order_replies),
		cmocka_unit_test(test_enhanced_code_per_reply),
		cmocka_unit_test(test_pool_outcomes_behind_unknown),
		cmocka_unit_test(test_pool_refusal_in_queue),
		cmocka_unit_test(test_pool_input_errors_at_submit),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_8bitmime),
		cmocka_unit_test(test_dsn),
		cmocka_unit_test(test_requiretls),
		cmocka_unit_test(test_dot_stuffing_across_chunks),
		cmocka_unit_test(test_server_host_bypass),
	};

	return cmocka_run_group_tests(tests, setup_certs, NULL);
}
