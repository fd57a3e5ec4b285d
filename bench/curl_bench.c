/* curl_bench.c - the bare libcurl peers of bench/run.sh.
 *
 * What a careful C programmer writes with libcurl alone and no MIME
 * library: the letter is already rendered (bytes with CRLF line endings),
 * libcurl only carries it.  The options are the ones libcurl-notes §0
 * makes mandatory for SMTP (NOSIGNAL, an EHLO name in the URL path, never
 * INFILESIZE, CRLF off) and nothing else: no VERBOSE, no debug or header
 * callback, libcurl's default upload buffer (64 KiB).
 *
 *   curl_bench loop-reuse N PORT [FILE]      N letters, one connection
 *   curl_bench loop-reconnect N PORT [FILE]  N letters, a connection each
 *                                            (one handle, FORBID_REUSE)
 *   curl_bench loop-newhandle N PORT [FILE]  N letters, a new easy handle
 *                                            (and connection) each
 *   curl_bench upload FILE PORT              one letter read from FILE
 *
 * The loops send FILE (read into memory once) or, without it, a built-in
 * letter of about 1 KB.  The server is 127.0.0.1:PORT.  Prints the
 * elapsed wall-clock seconds (connection set-up and the final QUIT
 * included) on standard output; exit status 1 on any failure.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_PROG "curl_bench"
#include "bench.h"

#define FROM "<a@example.com>"
#define TO "<b@example.com>"
#define EHLO "bench.example"

static const char builtin_letter[] =
	"From: a@example.com\r\n"
	"To: b@example.com\r\n"
	"Subject: bench\r\n"
	"Date: Fri, 28 Nov 2026 12:00:00 +0000\r\n"
	"Message-ID: <20261128120000.0123456789abcdef0123@example.com>\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: 7bit\r\n"
	"\r\n"
	"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do\r\n"
	"eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim\r\n"
	"ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut\r\n"
	"aliquip ex ea commodo consequat. Duis aute irure dolor in\r\n"
	"reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla\r\n"
	"pariatur. Excepteur sint occaecat cupidatat non proident, sunt in\r\n"
	"culpa qui officia deserunt mollit anim id est laborum.\r\n"
	"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do\r\n"
	"eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim\r\n"
	"ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut\r\n"
	"aliquip ex ea commodo consequat. Duis aute irure dolor in\r\n"
	"reprehenderit in voluptate velit esse cillum dolore eu fugiat.\r\n";

struct membody {
	const char *p;
	size_t len, pos;
};

static size_t read_mem(char *buf, size_t size, size_t nitems, void *ud)
{
	struct membody *m = ud;
	size_t n = size * nitems;

	if (n > m->len - m->pos)
		n = m->len - m->pos;
	memcpy(buf, m->p + m->pos, n);
	m->pos += n;
	return n;
}

static size_t read_file(char *buf, size_t size, size_t nitems, void *ud)
{
	FILE *f = ud;
	size_t n = fread(buf, 1, size * nitems, f);

	if (n == 0 && ferror(f))
		return CURL_READFUNC_ABORT;
	return n;
}

static CURL *new_handle(unsigned port, struct curl_slist *rcpt, char *errbuf)
{
	char url[128];
	CURL *h = curl_easy_init();

	if (!h)
		die("curl_easy_init", "failed");
	snprintf(url, sizeof url, "smtp://127.0.0.1:%u/" EHLO, port);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, FROM);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_CRLF, 0L);
	return h;
}

static void perform(CURL *h, const char *errbuf)
{
	CURLcode cc = curl_easy_perform(h);

	if (cc != CURLE_OK)
		die(curl_easy_strerror(cc), errbuf[0] ? errbuf : "-");
}

enum loop_kind { REUSE, RECONNECT, NEWHANDLE };

/* N letters from memory.  REUSE: one handle and one connection for all
 * of them; RECONNECT: one handle with FORBID_REUSE (QUIT and close after
 * each letter); NEWHANDLE: a new easy handle per letter, cleaned up after
 * it (what a library creating a handle per send pays). */
static double loop(long n, unsigned port, const char *file,
		   enum loop_kind kind)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *rcpt = curl_slist_append(NULL, TO);
	struct membody m = {builtin_letter, sizeof builtin_letter - 1, 0};
	char *owned = NULL;
	double t0, t1;
	CURL *h;
	long i;

	if (file) {
		owned = slurp(file, &m.len);
		m.p = owned;
	}
	if (!rcpt)
		die("curl_slist_append", "failed");
	t0 = now();
	h = NULL;
	for (i = 0; i < n; i++) {
		if (!h) {
			h = new_handle(port, rcpt, errbuf);
			curl_easy_setopt(h, CURLOPT_READFUNCTION, read_mem);
			curl_easy_setopt(h, CURLOPT_READDATA, &m);
			if (kind == RECONNECT)
				curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
		}
		m.pos = 0;
		perform(h, errbuf);
		if (kind == NEWHANDLE) {
			curl_easy_cleanup(h); /* QUIT */
			h = NULL;
		}
	}
	if (h)
		curl_easy_cleanup(h); /* QUIT of the reused connection */
	t1 = now();
	curl_slist_free_all(rcpt);
	free(owned);
	return t1 - t0;
}

/* One letter streamed from FILE in the chunks libcurl asks for. */
static double upload(const char *file, unsigned port)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *rcpt = curl_slist_append(NULL, TO);
	double t0, t1;
	FILE *f;
	CURL *h;

	if (!rcpt)
		die("curl_slist_append", "failed");
	t0 = now();
	f = fopen(file, "rb");
	if (!f)
		die(file, strerror(errno));
	h = new_handle(port, rcpt, errbuf);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, read_file);
	curl_easy_setopt(h, CURLOPT_READDATA, f);
	perform(h, errbuf);
	curl_easy_cleanup(h);
	fclose(f);
	t1 = now();
	curl_slist_free_all(rcpt);
	return t1 - t0;
}

_Noreturn static void usage(void)
{
	fprintf(stderr,
		"usage: curl_bench loop-reuse N PORT [FILE]\n"
		"       curl_bench loop-reconnect N PORT [FILE]\n"
		"       curl_bench loop-newhandle N PORT [FILE]\n"
		"       curl_bench upload FILE PORT\n");
	exit(2);
}

int main(int argc, char **argv)
{
	double secs, c0;

	if (argc < 4 || argc > 5)
		usage();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		die("curl_global_init", "failed");
	c0 = cpu();
	if (!strcmp(argv[1], "loop-reuse"))
		secs = loop(count_arg(argv[2]), port_arg(argv[3]),
			    argc == 5 ? argv[4] : NULL, REUSE);
	else if (!strcmp(argv[1], "loop-reconnect"))
		secs = loop(count_arg(argv[2]), port_arg(argv[3]),
			    argc == 5 ? argv[4] : NULL, RECONNECT);
	else if (!strcmp(argv[1], "loop-newhandle"))
		secs = loop(count_arg(argv[2]), port_arg(argv[3]),
			    argc == 5 ? argv[4] : NULL, NEWHANDLE);
	else if (!strcmp(argv[1], "upload") && argc == 4)
		secs = upload(argv[2], port_arg(argv[3]));
	else
		usage();
	printf("%.6f %.3f\n", secs, cpu() - c0);
	curl_global_cleanup();
	return 0;
}
