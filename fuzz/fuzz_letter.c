/* fuzz_letter.c - libFuzzer target for whole letters: the input is split
 * at NUL bytes into a sender, a recipient, a subject, a raw header line, a
 * filename and a body, which are set on a letter (setters may refuse them)
 * and rendered.  The wire form must use CRLF only, have no line over 998
 * octets and no line that is a lone dot. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "postoffice.h"

static const char *field(const char **p, const char *end)
{
	const char *s = *p;
	const char *nul = memchr(s, '\0', (size_t)(end - s));

	*p = nul ? nul + 1 : end;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *out = NULL;
	const char *p = copy, *end;
	const char *from, *to, *subject, *header, *fname, *body;
	po_letter *l = po_letter_new();
	po_part *m, *t, *b;
	po_reader *r;
	size_t n, total = 0, col = 0;
	char buf[4096];

	if (!copy || !l)
		goto out;
	memcpy(copy, data, size);
	copy[size] = '\0';
	end = copy + size;
	from = field(&p, end);
	to = field(&p, end);
	subject = field(&p, end);
	header = field(&p, end);
	fname = field(&p, end);
	body = p < end ? p : end;
	if (po_letter_set_from(l, *from ? from : "a@example.com"))
		po_letter_set_from(l, "a@example.com");
	if (po_letter_add_to(l, to))
		po_letter_add_to(l, "b@example.com");
	po_letter_set_subject(l, subject);
	po_letter_add_header_line(l, header);
	m = po_part_new_multipart(NULL);
	t = po_part_new_text(body, (size_t)(end - body), NULL);
	b = po_part_new_bytes(body, (size_t)(end - body));
	po_part_set_disposition(b, PO_DISPOSITION_ATTACHMENT, fname);
	po_part_add(m, t);
	po_part_add(m, b);
	po_letter_set_body(l, m);
	if (po_reader_new(l, PO_RENDER_BCC, &r) != PO_OK)
		goto out;
	while (po_reader_read(r, buf, sizeof buf, &n) == PO_OK && n) {
		out = realloc(out, total + n + 1);
		memcpy(out + total, buf, n);
		total += n;
	}
	po_reader_free(r);
	for (size_t i = 0; i < total; i++) {
		if (out[i] == '\r') {
			if (i + 1 >= total || out[i + 1] != '\n')
				abort();
			if (col == 1 && out[i - 1] == '.')
				abort();
			i++;
			col = 0;
			continue;
		}
		if (out[i] == '\n' || ++col > 998)
			abort();
	}
out:
	po_letter_free(l);
	free(out);
	free(copy);
	return 0;
}
