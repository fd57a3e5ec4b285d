/* fuzz_address.c - libFuzzer target for address parsing (address.c).
 * Whatever the input, every accepted address must have an envelope form
 * that cannot end or extend an SMTP command: no control character, no
 * white space or angle bracket outside a quoted local part, at most 254
 * octets; and it has a domain unless it is the only address of its
 * list. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"

static void check_spec(const char *s, int may_be_bare)
{
	int quoted = 0;

	if (!*s || strlen(s) > 254)
		abort();
	if (!may_be_bare && !strchr(s, '@'))
		abort();
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < ' ' || c == 0x7f)
			abort();
		if (c == '"')
			quoted = !quoted;
		else if (c == '\\' && quoted && s[1])
			s++;
		else if (!quoted && (c == ' ' || c == '<' || c == '>'))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	po__addr a, *v;
	size_t n, i;
	int utf8 = 0;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (po__addr_parse(text, "fuzz", &a, &utf8) == PO_OK) {
		check_spec(a.spec, 1);
		if (a.display && strpbrk(a.display, "\r\n"))
			abort();
		po__addr_clear(&a);
	}
	if (po__addr_list_parse(text, "fuzz", &v, &n, &utf8) == PO_OK) {
		if (n == 0)
			abort();
		for (i = 0; i < n; i++) {
			check_spec(v[i].spec, n == 1);
			if (v[i].display && strpbrk(v[i].display, "\r\n"))
				abort();
			po__addr_clear(&v[i]);
		}
		free(v);
	}
	free(text);
	return 0;
}
