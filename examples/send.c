/* send.c - send one letter to an SMTP server with libpostoffice.
 *
 *   send HOST[:PORT] FROM TO [SUBJECT]
 *
 * The body is read from standard input (UTF-8).  On success the server's
 * final reply is printed and the exit status is 0; on failure the
 * library's one-line explanation (command and server reply included, never
 * a secret) goes to standard error and the exit status is 1.
 *
 * Build and try it against the test server, from the checkout:
 *
 *   make
 *   cc -Ic examples/send.c build/libpostoffice.a \
 *      $(pkg-config --libs libcurl libidn2) -o send
 *   mkdir -p /tmp/mail
 *   /usr/bin/python3 fixtures/smtpd.py --dir /tmp/mail --port 2525 &
 *   echo 'Hello!' | ./send 127.0.0.1:2525 me@example.com you@example.net Hi
 *
 * For a real server add TLS and credentials: po_smtp_set_security (e.g.
 * PO_TLS_STARTTLS on port 587) and po_smtp_set_auth.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postoffice.h"

/* Reads all of standard input into a new buffer; its length in *len_out. */
static char *read_stdin(size_t *len_out)
{
	size_t cap = 4096, len = 0, n;
	char *buf = malloc(cap), *bigger;

	while (buf && (n = fread(buf + len, 1, cap - len, stdin)) > 0) {
		len += n;
		if (len == cap) {
			bigger = realloc(buf, cap * 2);
			if (!bigger) {
				free(buf);
				return NULL;
			}
			buf = bigger;
			cap *= 2;
		}
	}
	*len_out = len;
	return buf;
}

int main(int argc, char **argv)
{
	po_letter *letter = NULL;
	po_part *text = NULL;
	po_smtp *smtp = NULL;
	char host[256], *colon, *close, *body = NULL;
	unsigned port = 25;
	size_t len = 0;
	int status, result = 1;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: send HOST[:PORT] FROM TO [SUBJECT]\n");
		return 2;
	}
	/* "host", "host:port", "[v6-address]" or "[v6-address]:port" */
	snprintf(host, sizeof host, "%s", argv[1]);
	if (host[0] == '[' && (close = strchr(host, ']'))) {
		if (close[1] == ':')
			port = (unsigned)strtoul(close + 2, NULL, 10);
		*close = '\0';
		memmove(host, host + 1, strlen(host));
	} else if ((colon = strchr(host, ':')) && colon == strrchr(host, ':')) {
		*colon = '\0';
		port = (unsigned)strtoul(colon + 1, NULL, 10);
	}

	body = read_stdin(&len);
	letter = po_letter_new();
	smtp = po_smtp_new();
	if (!body || !letter || !smtp)
		goto out;
	text = po_part_new_text(body, len, "utf-8");
	if (!text)
		goto out;
	if ((status = po_letter_set_from(letter, argv[2])) ||
	    (status = po_letter_add_to(letter, argv[3])) ||
	    (argc == 5 && (status = po_letter_set_subject(letter, argv[4]))) ||
	    (status = po_letter_set_body(letter, text))) {
		fprintf(stderr, "send: %s\n", po_last_error());
		goto out;
	}
	text = NULL; /* the letter owns it now */

	if ((status = po_smtp_set_server(smtp, host, port))) {
		fprintf(stderr, "send: %s\n", po_last_error());
		goto out;
	}
	status = po_smtp_send(smtp, letter);
	if (status != PO_OK) {
		fprintf(stderr, "send: %s: %s\n", po_errname(status),
			po_smtp_errmsg(smtp));
		goto out;
	}
	printf("%s\n", po_smtp_reply(smtp));
	result = 0;
out:
	po_smtp_free(smtp);
	po_part_free(text);
	po_letter_free(letter);
	free(body);
	return result;
}
