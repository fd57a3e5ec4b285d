/* fuzz_preview.c - libFuzzer target for the MIME reader (c/parse.c,
 * c/decode.c) and the preview page (c/preview.c), on any octets.
 *
 * Checks: parsing never fails but for memory; every string the tree
 * gives is valid UTF-8 without NUL, every text is valid UTF-8; bodies
 * and texts have the lengths they say.  The page is valid UTF-8; every
 * '<' on it starts a tag the page writes itself (all letter text is
 * escaped); there is at most one iframe, sandboxed with nothing
 * allowed; no script element; every saved file's name is one the page
 * made up ("part-N.ext").
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "codec.h"
#include "postoffice.h"
#include "preview.h"

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond))                                                \
			__builtin_trap();                                   \
	} while (0)

static void check_string(const char *s)
{
	if (s)
		CHECK(tc_utf8_valid(s, strlen(s)));
}

static void check_entity(const po_entity *e, int depth)
{
	size_t i, n;
	const char *t;

	CHECK(depth <= 51);
	for (i = 0; i < po_entity_header_count(e); i++) {
		check_string(po_entity_header_name(e, i));
		check_string(po_entity_header_raw(e, i));
		check_string(po_entity_header_text(e, i));
	}
	CHECK(po_entity_type(e) && strchr(po_entity_type(e), '/'));
	check_string(po_entity_type(e));
	check_string(po_entity_filename(e));
	check_string(po_entity_content_id(e));
	check_string(po_entity_disposition(e));
	check_string(po_entity_encoding(e));
	check_string(po_entity_param(e, "charset"));
	for (i = 0; i < po_entity_problem_count(e); i++)
		check_string(po_entity_problem(e, i));
	CHECK(po_entity_body(e, &n) != NULL);
	t = po_entity_text(e, &n);
	if (t)
		CHECK(tc_utf8_valid(t, n) && t[n] == '\0');
	else
		CHECK(n == 0);
	for (i = 0; i < po_entity_part_count(e); i++)
		check_entity(po_entity_part(e, i), depth + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	po_entity *root;
	po_preview *pv;
	po__buf page = PO__BUF_INIT;
	struct po__preview_file *files;
	size_t nfiles, i;

	if (po_entity_parse(data, size, &root) != PO_OK)
		return 0;
	check_entity(root, 0);
	pv = po_preview_new();
	CHECK(pv);
	CHECK(po_preview_add_recipient(pv, "a@example.org") == PO_OK);
	if (po__preview_html(pv, root, data, size, &page, &files, &nfiles) ==
	    PO_OK) {
		CHECK(!tc_page_safe(page.p ? page.p : "", page.len));
		for (i = 0; i < nfiles; i++) {
			CHECK(strncmp(files[i].name, "part-", 5) == 0);
			CHECK(!strchr(files[i].name, '/'));
			CHECK(strcmp(files[i].name + strlen(files[i].name) - 5,
				     ".html") != 0);
		}
		free(files);
	}
	po__buf_free(&page);
	po_preview_free(pv);
	po_entity_free(root);
	return 0;
}
