/* po_bench.c - the libpostoffice side of bench/run.sh, through the public
 * C API only (postoffice.h), so C-to-C ratios against curl_bench.c are
 * measured too.
 *
 *   po_bench [--ehlo NAME] session N PORT [BODYFILE]
 *       N letters over one po_smtp handle (one connection, reused)
 *   po_bench [--ehlo NAME] reconnect N PORT [BODYFILE]
 *       N letters, a new po_smtp handle (and connection) for each
 *   po_bench [--ehlo NAME] queue N PORT [BODYFILE]
 *       N letters submitted to a po_pool (one connection, PIPELINING:
 *       each letter's envelope rides with the previous end of data)
 *   po_bench [--ehlo NAME] rcpt50 PORT [BODYFILE]
 *       one letter to 50 recipients on a new connection
 *   po_bench [--ehlo NAME] upload FILE PORT
 *       one letter: a short text and FILE attached (multipart/mixed,
 *       base64), as `postoffice send --attach FILE` builds it
 *
 * Every letter is composed through the API each time (po_letter_new, the
 * setters, a text part), rendered and sent: what a program (or
 * send-letter) does per letter.  The text is BODYFILE's content or a
 * built-in paragraph giving a letter of about 1 KB, the same one
 * curl_bench sends pre-rendered.  The server is 127.0.0.1:PORT.  Without
 * --ehlo the library picks its default EHLO name, as the Lisp API does.
 *
 * Prints the elapsed wall-clock seconds and the CPU seconds (user +
 * system) spent meanwhile; upload also prints the process's peak RSS in
 * KiB (getrusage).  Exit status 1 on any failure.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "postoffice.h"
#define BENCH_PROG "po_bench"
#include "bench.h"

static const char builtin_body[] =
	"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do\n"
	"eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim\n"
	"ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut\n"
	"aliquip ex ea commodo consequat. Duis aute irure dolor in\n"
	"reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla\n"
	"pariatur. Excepteur sint occaecat cupidatat non proident, sunt in\n"
	"culpa qui officia deserunt mollit anim id est laborum.\n"
	"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do\n"
	"eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim\n"
	"ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut\n"
	"aliquip ex ea commodo consequat. Duis aute irure dolor in\n"
	"reprehenderit in voluptate velit esse cillum dolore eu fugiat.\n";

static const char *ehlo_name;

static void check(int status, const char *what)
{
	if (status != PO_OK)
		die(what, *po_last_error() ? po_last_error()
					   : po_strerror(status));
}

/* A letter as send-letter builds one: envelope, subject, a text body and,
 * with a file, a multipart/mixed of the text and the attachment. */
static po_letter *letter(const char *text, size_t len, const char *file)
{
	po_letter *l = po_letter_new();
	po_part *body, *att;

	if (!l)
		die("po_letter_new", "out of memory");
	check(po_letter_set_from(l, "a@example.com"), "from");
	check(po_letter_add_to(l, "b@example.com"), "to");
	check(po_letter_set_subject(l, "bench"), "subject");
	body = po_part_new_text(text, len, "utf-8");
	if (!body)
		die("po_part_new_text", "out of memory");
	if (file) {
		po_part *mixed = po_part_new_multipart("mixed");

		if (!mixed)
			die("po_part_new_multipart", "out of memory");
		check(po_part_add(mixed, body), "add text");
		check(po_part_new_file(file, &att), file);
		check(po_part_add(mixed, att), "add file");
		body = mixed;
	}
	check(po_letter_set_body(l, body), "body");
	return l;
}

static po_smtp *session(unsigned port)
{
	po_smtp *s = po_smtp_new();

	if (!s)
		die("po_smtp_new", "failed");
	check(po_smtp_set_server(s, "127.0.0.1", port), "server");
	if (ehlo_name)
		check(po_smtp_set_ehlo_name(s, ehlo_name), "EHLO name");
	return s;
}

static void send1(po_smtp *s, po_letter *l)
{
	if (po_smtp_send(s, l) != PO_OK)
		die("po_smtp_send", po_smtp_errmsg(s));
}

/* N letters; one handle for all (reuse) or one handle each. */
static double loop(long n, unsigned port, const char *bodyfile, int reuse)
{
	const char *text = builtin_body;
	size_t len = sizeof builtin_body - 1;
	char *owned = NULL;
	po_smtp *s = NULL;
	double t0, t1;
	long i;

	if (bodyfile) {
		owned = slurp(bodyfile, &len);
		text = owned;
	}
	t0 = now();
	if (reuse)
		s = session(port);
	for (i = 0; i < n; i++) {
		po_letter *l = letter(text, len, NULL);

		if (!reuse)
			s = session(port);
		send1(s, l);
		po_letter_free(l);
		if (!reuse)
			po_smtp_free(s); /* QUIT */
	}
	if (reuse)
		po_smtp_free(s);
	t1 = now();
	free(owned);
	return t1 - t0;
}

/* N letters through a po_pool, all submitted first. */
static double queue(long n, unsigned port, const char *bodyfile)
{
	const char *text = builtin_body;
	size_t len = sizeof builtin_body - 1;
	char *owned = NULL;
	po_letter **l;
	po_smtp *s;
	po_pool *p;
	po_result *r;
	double t0, t1;
	long i, done = 0;

	if (bodyfile) {
		owned = slurp(bodyfile, &len);
		text = owned;
	}
	l = calloc((size_t)n, sizeof *l);
	if (!l)
		die("calloc", "out of memory");
	t0 = now();
	s = session(port);
	p = po_pool_new(s);
	if (!p)
		die("po_pool_new", po_last_error());
	for (i = 0; i < n; i++) {
		l[i] = letter(text, len, NULL);
		check(po_pool_submit(p, l[i], NULL), "po_pool_submit");
	}
	check(po_pool_run(p, 0), "po_pool_run");
	while ((r = po_pool_next(p))) {
		if (po_result_status(r) != PO_OK)
			die("po_pool", po_result_errmsg(r));
		po_result_free(r);
		done++;
	}
	po_pool_free(p); /* QUIT */
	po_smtp_free(s);
	t1 = now();
	if (done != n)
		die("po_pool", "letters missing");
	for (i = 0; i < n; i++)
		po_letter_free(l[i]);
	free(l);
	free(owned);
	return t1 - t0;
}

/* One letter to 50 recipients. */
static double rcpt50(unsigned port, const char *bodyfile)
{
	const char *text = builtin_body;
	size_t len = sizeof builtin_body - 1;
	char *owned = NULL, a[64];
	double t0, t1;
	po_smtp *s;
	po_letter *l;
	int i;

	if (bodyfile) {
		owned = slurp(bodyfile, &len);
		text = owned;
	}
	t0 = now();
	l = letter(text, len, NULL);
	for (i = 1; i < 50; i++) {
		snprintf(a, sizeof a, "r%d@example.com", i);
		check(po_letter_add_to(l, a), "to");
	}
	s = session(port);
	send1(s, l);
	po_smtp_free(s);
	po_letter_free(l);
	t1 = now();
	free(owned);
	return t1 - t0;
}

static double upload(const char *file, unsigned port)
{
	static const char text[] = "The file is attached.\n";
	double t0, t1;
	po_smtp *s;
	po_letter *l;

	t0 = now();
	l = letter(text, sizeof text - 1, file);
	s = session(port);
	send1(s, l);
	po_smtp_free(s);
	po_letter_free(l);
	t1 = now();
	return t1 - t0;
}

_Noreturn static void usage(void)
{
	fprintf(stderr,
		"usage: po_bench [--ehlo NAME] session N PORT [BODYFILE]\n"
		"       po_bench [--ehlo NAME] reconnect N PORT [BODYFILE]\n"
		"       po_bench [--ehlo NAME] queue N PORT [BODYFILE]\n"
		"       po_bench [--ehlo NAME] rcpt50 PORT [BODYFILE]\n"
		"       po_bench [--ehlo NAME] upload FILE PORT\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct rusage ru;
	double c0;

	if (argc > 2 && !strcmp(argv[1], "--ehlo")) {
		ehlo_name = argv[2];
		argc -= 2;
		argv += 2;
	}
	if (argc < 3 || argc > 5)
		usage();
	check(po_init(), "po_init");
	c0 = cpu();
	if (!strcmp(argv[1], "session") || !strcmp(argv[1], "reconnect")) {
		double secs = loop(count_arg(argv[2]), port_arg(argv[3]),
				   argc == 5 ? argv[4] : NULL,
				   !strcmp(argv[1], "session"));

		printf("%.6f %.3f\n", secs, cpu() - c0);
	} else if (!strcmp(argv[1], "queue") && argc >= 4) {
		double secs = queue(count_arg(argv[2]), port_arg(argv[3]),
				    argc == 5 ? argv[4] : NULL);

		printf("%.6f %.3f\n", secs, cpu() - c0);
	} else if (!strcmp(argv[1], "rcpt50") && argc <= 4) {
		double secs = rcpt50(port_arg(argv[2]),
				     argc == 4 ? argv[3] : NULL);

		printf("%.6f %.3f\n", secs, cpu() - c0);
	} else if (!strcmp(argv[1], "upload") && argc == 4) {
		double secs = upload(argv[2], port_arg(argv[3]));

		getrusage(RUSAGE_SELF, &ru);
		printf("%.6f %.3f %ld\n", secs, cpu() - c0, ru.ru_maxrss);
	} else {
		usage();
	}
	return 0;
}
