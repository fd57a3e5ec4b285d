/* fuzz_address.c - libFuzzer target for address parsing (address.c).
 * Whatever the input, an accepted address must have an envelope form that
 * is a bare local@domain: nothing that could end or extend an SMTP
 * command. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	po__addr a;
	int utf8 = 0;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (po__addr_parse(text, "fuzz", &a, &utf8) == PO_OK) {
		const char *s = a.spec;

		if (!strchr(s, '@') || strlen(s) > 254)
			abort();
		for (; *s; s++)
			if ((unsigned char)*s <= ' ' || *s == '<' ||
			    *s == '>' || *s == 0x7f)
				abort();
		if (a.display && strpbrk(a.display, "\r\n"))
			abort();
		po__addr_clear(&a);
	}
	free(text);
	return 0;
}
