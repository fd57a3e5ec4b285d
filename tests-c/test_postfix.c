/* test_postfix.c - the SMTP transaction against a real Postfix smtpd
 * (fixtures/postfix.sh: Debian's postfix with a throwaway configuration,
 * run as root, relaying to an aiosmtpd fixture the test reads), with
 * smtpd_data_restrictions = reject_unauth_pipelining: pipelined sends
 * and queues where PIPELINING is offered, strict lockstep where it is
 * not (Postfix logs "improper command pipelining" otherwise), DSN
 * (Postfix's own delivery report comes back), SIZE and 8BITMIME.
 *
 * No Postfix, or one that does not start: the tests fail, loudly. */
#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fixture.h"

static struct {
	fixture sink;
	char dir[64];
	int port[3]; /* as configured, without PIPELINING, without 8BITMIME */
	int started;
} pf;

static int pf_setup(void **state)
{
	char cmd[400], line[200];
	FILE *p;
	int ok;

	(void)state;
	if (fixture_start(&pf.sink, "smtpd", NULL))
		return -1;
	snprintf(pf.dir, sizeof pf.dir, "/tmp/po-postfix.XXXXXX");
	if (!mkdtemp(pf.dir))
		return -1;
	snprintf(cmd, sizeof cmd, "fixtures/postfix.sh start %s %d", pf.dir,
		 pf.sink.port);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	ok = fgets(line, sizeof line, p) &&
	     sscanf(line, "READY %d %d %d", &pf.port[0], &pf.port[1],
		    &pf.port[2]) == 3;
	if (pclose(p) != 0 || !ok) {
		fprintf(stderr, "test_postfix: Postfix did not start (see "
				"above): these tests need it\n");
		return -1;
	}
	pf.started = 1;
	return 0;
}

static int pf_teardown(void **state)
{
	char cmd[300];

	(void)state;
	if (pf.started) {
		snprintf(cmd, sizeof cmd,
			 "fixtures/postfix.sh stop %s; rm -rf %s", pf.dir,
			 pf.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "test_postfix: stopping Postfix "
					"failed\n");
	}
	fixture_stop(&pf.sink);
	return 0;
}

static po_smtp *to_postfix(int which)
{
	po_smtp *s = po_smtp_new();

	assert_po_ok(po_smtp_set_server(s, "127.0.0.1",
					(unsigned)pf.port[which]));
	assert_po_ok(po_smtp_set_timeouts(s, 5000, 10000, 10000, 30000));
	return s;
}

static po_letter *letter(const char *subject, const char *body)
{
	po_letter *l = po_letter_new();

	assert_po_ok(po_letter_set_from(l, "sender@example.com"));
	assert_po_ok(po_letter_add_to(l, "one@example.com"));
	assert_po_ok(po_letter_add_to(l, "two@example.com"));
	assert_po_ok(po_letter_set_subject(l, subject));
	assert_po_ok(po_letter_set_body(
		l, po_part_new_text(body, PO_ZERO_TERMINATED, NULL)));
	return l;
}

static char *maillog(void)
{
	char path[128], *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof path, "%s/maillog", pf.dir);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int improper_pipelining(void)
{
	char *log = maillog();
	int bad = strstr(log, "improper command pipelining") != NULL;

	free(log);
	return bad;
}

/* Messages the sink has now (Postfix delivers them a moment later). */
static int sink_wait(int n)
{
	return fixture_wait_messages(&pf.sink, n, 30000);
}

static int has_8bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return 1;
	return 0;
}

/* The check that follows can fail: a client that pipelines without
 * PIPELINING is what Postfix logs (and refuses at DATA). */
static void test_postfix_detects_improper_pipelining(void **state)
{
	struct sockaddr_in a = {0};
	const char flight[] = "EHLO client.example\r\nMAIL FROM:<a@example.com>"
			      "\r\nQUIT\r\n";
	char buf[4096];
	int fd, i;

	(void)state;
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)pf.port[1]);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_true(read(fd, buf, sizeof buf) > 0);
	assert_int_equal(write(fd, flight, sizeof flight - 1),
			 (ssize_t)sizeof flight - 1);
	while (read(fd, buf, sizeof buf) > 0)
		;
	close(fd);
	for (i = 0; i < 50 && !improper_pipelining(); i++)
		usleep(100 * 1000);
	assert_true(improper_pipelining());
	/* the later tests look for new ones only: start a fresh log */
	{
		char path[128];

		snprintf(path, sizeof path, "%s/maillog", pf.dir);
		assert_int_equal(truncate(path, 0), 0);
	}
}

static void test_postfix_pipelined(void **state)
{
	po_letter *l[5];
	po_smtp *s = to_postfix(0);
	po_pool *p;
	po_result *r;
	int i, n = 0;

	(void)state;
	/* a session: several letters on one connection */
	for (i = 0; i < 3; i++) {
		po_letter *one = letter("session", "pipelined session");

		assert_po_ok(po_smtp_send(s, one));
		assert_int_equal(po_smtp_connection_reused(s), i > 0);
		assert_true(strstr(po_smtp_reply(s), "250 2.0.0 Ok") != NULL);
		po_letter_free(one);
	}
	/* a queue */
	p = po_pool_new(s);
	for (i = 0; i < 5; i++) {
		l[i] = letter("queued", "queued behind the last end of data");
		assert_po_ok(po_pool_submit(p, l[i], NULL));
	}
	assert_po_ok(po_pool_run(p, 30000));
	while ((r = po_pool_next(p))) {
		if (po_result_status(r) != PO_OK)
			print_error("%s\n", po_result_errmsg(r));
		assert_int_equal(po_result_status(r), PO_OK);
		po_result_free(r);
		n++;
	}
	assert_int_equal(n, 5);
	po_pool_free(p);
	po_smtp_free(s);
	assert_int_equal(sink_wait(8), 8);
	assert_false(improper_pipelining());
	for (i = 0; i < 5; i++)
		po_letter_free(l[i]);
}

static void test_postfix_lockstep(void **state)
{
	po_letter *l[3];
	po_smtp *s = to_postfix(1);
	po_pool *p = po_pool_new(s);
	po_result *r;
	int i, before = fixture_wait_messages(&pf.sink, 0, 0);

	(void)state;
	for (i = 0; i < 3; i++) {
		l[i] = letter("lockstep", "no PIPELINING offered");
		assert_po_ok(po_pool_submit(p, l[i], NULL));
	}
	assert_po_ok(po_pool_run(p, 30000));
	while ((r = po_pool_next(p))) {
		assert_int_equal(po_result_status(r), PO_OK);
		po_result_free(r);
	}
	assert_po_ok(po_smtp_send(s, l[0]));
	po_pool_free(p);
	po_smtp_free(s);
	assert_int_equal(sink_wait(before + 4), before + 4);
	/* never a command before the previous reply */
	assert_false(improper_pipelining());
	for (i = 0; i < 3; i++)
		po_letter_free(l[i]);
}

static po_letter *refused_letter(int also_good)
{
	po_letter *l = po_letter_new();

	assert_po_ok(po_letter_set_from(l, "sender@example.com"));
	if (also_good)
		assert_po_ok(po_letter_add_to(l, "one@example.com"));
	assert_po_ok(po_letter_add_to(l, "refused@example.com"));
	assert_po_ok(po_letter_set_subject(l, "must not arrive"));
	assert_po_ok(po_letter_set_body(
		l, po_part_new_text("x", PO_ZERO_TERMINATED, NULL)));
	return l;
}

/* Every recipient refused: DATA's 554 is expected, RSET, and the
 * connection goes on.  Some refused (all or nothing): the pipelined
 * DATA got 354, so the letter is ended without its dot (the accepted
 * recipient gets nothing, not an empty letter) and the next one goes on
 * a new connection. */
static void test_postfix_refused_recipients(void **state)
{
	po_smtp *s = to_postfix(0);
	po_letter *bad = refused_letter(0), *half = refused_letter(1);
	po_letter *good = letter("after rset", "after a refused letter");
	int before = fixture_wait_messages(&pf.sink, 0, 0), i;

	(void)state;
	assert_int_equal(po_smtp_send(s, bad), PO_ERECIPIENT);
	assert_int_equal(po_smtp_reply_code(s), 550);
	assert_string_equal(po_smtp_enhanced_code(s), "5.1.1");
	assert_po_ok(po_smtp_send(s, good));
	assert_int_equal(po_smtp_connection_reused(s), 1);
	assert_int_equal(po_smtp_send(s, half), PO_ERECIPIENT);
	assert_int_equal(po_smtp_refused_count(s), 1);
	assert_po_ok(po_smtp_send(s, good));
	assert_int_equal(po_smtp_connection_reused(s), 0);
	po_smtp_free(s);
	assert_int_equal(sink_wait(before + 2), before + 2);
	usleep(1500 * 1000); /* a third would have come by now */
	assert_int_equal(fixture_wait_messages(&pf.sink, 0, 0), before + 2);
	for (i = before + 1; i <= before + 2; i++) {
		char name[32], *eml;

		snprintf(name, sizeof name, "%04d.eml", i);
		eml = fixture_read(&pf.sink, name, NULL);
		assert_null(strstr(eml, "must not arrive"));
		free(eml);
	}
	assert_false(improper_pipelining());
	po_letter_free(bad);
	po_letter_free(half);
	po_letter_free(good);
}

static void test_postfix_dsn(void **state)
{
	po_smtp *s = to_postfix(0);
	po_letter *l = letter("dsn", "tell me when it is relayed");
	int before = fixture_wait_messages(&pf.sink, 0, 0), i, found = 0;

	(void)state;
	assert_po_ok(po_letter_set_dsn_notify(l, PO_DSN_NOTIFY_SUCCESS |
						      PO_DSN_NOTIFY_FAILURE));
	assert_po_ok(po_letter_set_dsn_ret(l, PO_DSN_RET_HDRS));
	assert_po_ok(po_letter_set_dsn_envid(l, "postfix-dsn-1"));
	assert_po_ok(po_smtp_send(s, l));
	po_smtp_free(s);
	/* the letter, and Postfix's report that it was relayed (the next hop
	 * offers no DSN), sent back to the sender through the same relay */
	for (int t = 0; t < 300 && !found; t++) {
		int now = fixture_wait_messages(&pf.sink, 0, 0);

		for (i = before + 1; i <= now && !found; i++) {
			char name[32], *eml;

			snprintf(name, sizeof name, "%04d.eml", i);
			eml = fixture_read(&pf.sink, name, NULL);
			found = eml &&
				strstr(eml, "Original-Envelope-Id: "
					    "postfix-dsn-1") &&
				strstr(eml, "Original-Recipient: "
					    "rfc822;one@example.com");
			free(eml);
		}
		if (!found)
			usleep(100 * 1000);
	}
	assert_true(found);
	po_letter_free(l);
}

static void test_postfix_size(void **state)
{
	static char big[300000];
	po_smtp *s = to_postfix(0);
	po_letter *l = letter("big", "x");

	(void)state;
	memset(big, 'b', sizeof big);
	assert_po_ok(po_letter_set_body(l, po_part_new_bytes(big, sizeof big)));
	assert_int_equal(po_smtp_send(s, l), PO_ESIZE);
	assert_true(strstr(po_smtp_errmsg(s), "200000") != NULL);
	po_smtp_free(s);
	po_letter_free(l);
}

static void test_postfix_no_8bitmime(void **state)
{
	po_smtp *s = to_postfix(2);
	po_letter *l = letter("8bit", "x");
	po_part *t = po_part_new_text("Gr\xc3\xbc\xc3\x9f\x65 aus K\xc3\xb6ln\n",
				      PO_ZERO_TERMINATED, "utf-8");
	int before = fixture_wait_messages(&pf.sink, 0, 0);
	char name[32], *eml;
	size_t n;

	(void)state;
	assert_po_ok(po_part_set_encoding(t, "8bit"));
	assert_po_ok(po_letter_set_body(l, t));
	assert_po_ok(po_smtp_send(s, l));
	po_smtp_free(s);
	assert_int_equal(sink_wait(before + 1), before + 1);
	snprintf(name, sizeof name, "%04d.eml", before + 1);
	eml = fixture_read(&pf.sink, name, &n);
	assert_non_null(eml);
	assert_false(has_8bit(eml, n));
	assert_true(strstr(eml, "quoted-printable") != NULL);
	free(eml);
	po_letter_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_postfix_detects_improper_pipelining),
		cmocka_unit_test(test_postfix_pipelined),
		cmocka_unit_test(test_postfix_lockstep),
		cmocka_unit_test(test_postfix_refused_recipients),
		cmocka_unit_test(test_postfix_dsn),
		cmocka_unit_test(test_postfix_size),
		cmocka_unit_test(test_postfix_no_8bitmime),
	};

	return cmocka_run_group_tests(tests, pf_setup, pf_teardown);
}
