/* hello.c - compose a letter with libpostoffice and print its wire form.
 *
 * A text part with a non-ASCII greeting and a small attachment made from
 * octets, in a multipart/mixed body; the letter is rendered exactly as it
 * would go over SMTP (CRLF line endings, no Bcc header) and written to
 * standard output.  Nothing is sent.
 *
 * Build and run from the checkout, after `make`:
 *
 *   cc -Ic examples/hello.c build/libpostoffice.a \
 *      $(pkg-config --libs libcurl libidn2) -o hello
 *   ./hello
 */
#include <stdio.h>
#include <string.h>

#include "postoffice.h"

/* Prints what failed and returns 1 when status is not PO_OK. */
static int failed(int status, const char *what)
{
	if (status == PO_OK)
		return 0;
	fprintf(stderr, "hello: %s: %s (%s)\n", what, po_strerror(status),
		po_last_error());
	return 1;
}

int main(void)
{
	static const char text[] = "Hello, world!\n\nGrüße aus Köln.\n";
	static const unsigned char data[] = {0x00, 0x01, 0x02, 0xff};
	po_letter *letter = NULL;
	po_part *body = NULL, *part = NULL;
	po_reader *reader = NULL;
	char buf[4096];
	size_t n;
	int result = 1;

	letter = po_letter_new();
	body = po_part_new_multipart("mixed");
	if (!letter || !body)
		goto out;
	if (failed(po_letter_set_from(letter, "Jörg <joerg@example.com>"),
		   "From") ||
	    failed(po_letter_add_to(letter, "Ann <ann@example.net>"), "To") ||
	    failed(po_letter_add_bcc(letter, "archive@example.net"), "Bcc") ||
	    failed(po_letter_set_subject(letter, "Hello ✓"), "Subject"))
		goto out;

	/* the text: UTF-8, so the library encodes it base64 */
	part = po_part_new_text(text, PO_ZERO_TERMINATED, "utf-8");
	if (!part || failed(po_part_add(body, part), "text part"))
		goto out;
	part = NULL; /* the body owns it now */
	/* an attachment from octets, with a file name */
	part = po_part_new_bytes(data, sizeof data);
	if (!part ||
	    failed(po_part_set_disposition(part, PO_DISPOSITION_ATTACHMENT,
					   "data.bin"),
		   "attachment") ||
	    failed(po_part_add(body, part), "attachment"))
		goto out;
	part = NULL;
	/* the letter owns the body from here on */
	if (failed(po_letter_set_body(letter, body), "body"))
		goto out;
	body = NULL;

	/* flags 0: the SMTP wire form */
	if (failed(po_reader_new(letter, 0, &reader), "render"))
		goto out;
	for (;;) {
		if (failed(po_reader_read(reader, buf, sizeof buf, &n), "read"))
			goto out;
		if (n == 0)
			break;
		if (fwrite(buf, 1, n, stdout) != n)
			goto out;
	}
	result = 0;
out:
	po_reader_free(reader);
	po_part_free(part);
	po_part_free(body);
	po_letter_free(letter);
	return result;
}
