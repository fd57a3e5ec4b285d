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
#include <strings.h>

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

static void check_page(const char *page, size_t n)
{
	static const char *const tags[] = {
		"!DOCTYPE", "html", "head", "meta", "title", "style", "body",
		"main", "header", "h1", "h2", "dl", "dt", "dd", "bdi",
		"section", "p", "ul", "li", "input", "label", "div", "iframe",
		"pre", "a", "span", "footer"};
	const char *p;
	int iframes = 0;

	CHECK(tc_utf8_valid(page, n));
	CHECK(strlen(page) == n);
	for (p = strchr(page, '<'); p; p = strchr(p + 1, '<')) {
		const char *name = p + 1;
		size_t k = 0, i;
		int known = 0;

		if (*name == '/')
			name++;
		while ((name[k] >= 'a' && name[k] <= 'z') ||
		       (name[k] >= 'A' && name[k] <= 'Z') ||
		       (name[k] >= '0' && name[k] <= '9') || name[k] == '!')
			k++;
		for (i = 0; i < sizeof tags / sizeof tags[0]; i++)
			if (strlen(tags[i]) == k &&
			    strncmp(tags[i], name, k) == 0)
				known = 1;
		CHECK(known);
		CHECK(strncasecmp(p, "<script", 7) != 0);
		if (strncmp(p, "<iframe", 7) == 0) {
			iframes++;
			CHECK(strncmp(p, "<iframe sandbox=\"\" ", 19) == 0);
		}
	}
	CHECK(iframes <= 1);
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
		check_page(page.p ? page.p : "", page.len);
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
