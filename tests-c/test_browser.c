/* test_browser.c - the preview page in a real browser: letters rendered
 * by the library, their pages written by po_preview_write, then loaded in
 * headless Chromium (Debian's chromium, started by fixtures/browser.py
 * with a fresh profile, driven over the DevTools pipe, every request sent
 * through a recording proxy on 127.0.0.1).
 *
 * For every page: a screenshot that is a real picture (a PNG of the
 * window's size with many colours, none covering nearly all of it); the
 * DOM shows the subject and the attachments' names; the page does not
 * scroll sideways in a window 360 pixels wide; no request left the
 * browser.  For a hostile letter (a script that writes to its own
 * document, its parent and top, and fetches; event handlers; remote
 * images, stylesheets, @import, fonts, media, objects, frames; a
 * javascript: link and a form, both clicked; a meta refresh; a base
 * element): no marker set anywhere, the top title unchanged, the frame
 * still about:srcdoc, no request attempted (none in the DevTools log
 * but the ones the browser blocked itself, none at the proxy for the
 * letter's host).  A control page - the same page with the sandbox
 * opened and the CSP removed - shows that the test sees scripts and
 * requests when they do happen.
 *
 * Set PO_PREVIEW_SCREENSHOT=FILE to keep the screenshot of the realistic
 * letter (make docs/preview.png does). */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wire.h"

/* A 48x48 magenta square: found in the screenshot when the related
 * image is shown. */
static const unsigned char magenta_png[] = {
	0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00,
	0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x30, 0x00, 0x00,
	0x00, 0x30, 0x08, 0x02, 0x00, 0x00, 0x00, 0xd8, 0x60, 0x6e, 0xd0,
	0x00, 0x00, 0x00, 0x37, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0xed,
	0xce, 0x31, 0x09, 0x00, 0x00, 0x0c, 0x03, 0xb0, 0xfa, 0x37, 0xdd,
	0xb9, 0x28, 0x3b, 0x02, 0x11, 0x90, 0x34, 0x7d, 0x25, 0x42, 0x42,
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
	0x42, 0x42, 0x3b, 0x07, 0xb3, 0xf7, 0xef, 0x00, 0x92, 0x5d, 0x88,
	0x5a, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42,
	0x60, 0x82};

/* A 160x40 blue banner, the realistic letter's logo. */
static const unsigned char logo_png[] = {
	0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00,
	0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0xa0, 0x00, 0x00,
	0x00, 0x28, 0x08, 0x02, 0x00, 0x00, 0x00, 0xf6, 0x4e, 0x66, 0xcf,
	0x00, 0x00, 0x00, 0x59, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0xed,
	0xd1, 0x01, 0x0d, 0x00, 0x00, 0x08, 0xc3, 0xb0, 0x7b, 0x41, 0x14,
	0x8e, 0xd1, 0x85, 0x0e, 0x48, 0x93, 0x29, 0x58, 0x53, 0x3d, 0x7a,
	0x5c, 0x2c, 0x00, 0x2c, 0xc0, 0x02, 0x2c, 0xc0, 0x02, 0x2c, 0xc0,
	0x02, 0x0c, 0x58, 0x80, 0x05, 0x58, 0x80, 0x05, 0x58, 0x80, 0x05,
	0x18, 0xb0, 0x00, 0x0b, 0xb0, 0x00, 0x0b, 0xb0, 0x00, 0x0b, 0xb0,
	0x00, 0x03, 0x16, 0x60, 0x01, 0x16, 0x60, 0x01, 0x16, 0x60, 0x01,
	0x06, 0x2c, 0xc0, 0x02, 0x2c, 0xc0, 0x02, 0x2c, 0xc0, 0x02, 0x0c,
	0x58, 0x80, 0x75, 0xb3, 0x05, 0x32, 0x02, 0x41, 0xd2, 0x7a, 0x56,
	0xee, 0x73, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
	0x42, 0x60, 0x82};

/* The hostile HTML part: everything here must stay inert.  Its remote
 * URLs all name tracker.example. */
static const char hostile_html[] =
	"<html><head>"
	"<meta http-equiv=\"refresh\" content=\"0;url=http://tracker.example/"
	"refresh\">"
	"<base href=\"http://tracker.example/base/\">"
	"<link rel=\"stylesheet\" href=\"http://tracker.example/remote.css\">"
	"<link rel=\"icon\" href=\"http://tracker.example/icon.png\">"
	"<link rel=\"prefetch\" href=\"http://tracker.example/prefetch\">"
	"<style>@import url(http://tracker.example/import.css);"
	"@font-face{font-family:x;src:url(http://tracker.example/font.woff)}"
	"body{background:url(http://tracker.example/bg.png);font-family:x}"
	"</style>"
	"<script>"
	"document.documentElement.setAttribute('data-pwned','script');"
	"try{parent.document.documentElement.setAttribute('data-pwned',"
	"'parent')}catch(e){}"
	"try{top.document.title='PWNED'}catch(e){}"
	"try{fetch('http://tracker.example/script-fetch')}catch(e){}"
	"new Image().src='http://tracker.example/script-img';"
	"</script></head>"
	"<body onload=\"document.documentElement.setAttribute('data-pwned',"
	"'onload')\">"
	"<h1>Hostile letter</h1>"
	"<img src=\"http://tracker.example/pixel.gif\" width=\"20\" "
	"height=\"20\" onerror=\"document.documentElement.setAttribute("
	"'data-pwned','onerror');fetch('http://tracker.example/onerror')\">"
	"<img src=\"//tracker.example/protocol-relative.png\">"
	"<img srcset=\"http://tracker.example/srcset.png 1x\">"
	"<svg onload=\"document.documentElement.setAttribute('data-pwned',"
	"'svg')\"><image href=\"http://tracker.example/svg.png\"/></svg>"
	"<p style=\"background-image:url(http://tracker.example/style.png)\">"
	"<a id=\"js\" href=\"javascript:document.documentElement.setAttribute("
	"'data-pwned','link');fetch('http://tracker.example/js-link')\">"
	"a javascript: link</a> "
	"<a href=\"http://tracker.example/pinged\" ping=\"http://tracker."
	"example/ping\">a link with a ping</a></p>"
	"<form action=\"http://tracker.example/form\" method=\"post\">"
	"<input name=\"q\" value=\"x\"><button type=\"submit\">Send</button>"
	"</form>"
	"<iframe src=\"http://tracker.example/frame\"></iframe>"
	"<iframe srcdoc=\"<script>parent.parent.document.title='PWNED';"
	"fetch('http://tracker.example/nested')</script>\"></iframe>"
	"<object data=\"http://tracker.example/object\"></object>"
	"<embed src=\"http://tracker.example/embed\">"
	"<video src=\"http://tracker.example/video.mp4\" poster=\"http://"
	"tracker.example/poster.png\" autoplay></video>"
	"<audio src=\"http://tracker.example/audio.mp3\" autoplay></audio>"
	"<input type=\"image\" src=\"http://tracker.example/input.png\">"
	"<table background=\"http://tracker.example/table.png\"><tr><td>t"
	"</td></tr></table>"
	"</body></html>";

/* ---------------------------------------------------------------------
 * Letters */

static po_part *html_part(const char *html)
{
	po_part *p = po_part_new_text(html, PO_ZERO_TERMINATED, NULL);

	assert_non_null(p);
	assert_po_ok(po_part_set_type(p, "text/html"));
	return p;
}

static po_part *bytes_part(const void *data, size_t n, const char *type,
			   const char *filename, const char *cid)
{
	po_part *p = po_part_new_bytes(data, n);

	assert_non_null(p);
	assert_po_ok(po_part_set_type(p, type));
	if (filename)
		assert_po_ok(po_part_set_disposition(
			p, PO_DISPOSITION_ATTACHMENT, filename));
	if (cid)
		assert_po_ok(po_part_set_id(p, cid));
	return p;
}

static po_letter *letter(const char *subject)
{
	po_letter *l = po_letter_new();

	assert_po_ok(po_letter_set_from(l, "Jörg Müller <joerg@example.com>"));
	assert_po_ok(po_letter_add_to(l, "Zoë Ångström <zoe@example.net>"));
	assert_po_ok(po_letter_add_bcc(l, "audit@example.org"));
	assert_po_ok(po_letter_set_subject(l, subject));
	return l;
}

/* Render l and write its page under parent; return the page's path
 * (malloc'd). */
static char *page_for(po_letter *l, const char *parent)
{
	po_preview *pv = po_preview_new();
	size_t len, i;
	char *wire = tw_render(l, &len), *path;

	assert_po_ok(po_preview_set_directory(pv, parent));
	assert_po_ok(po_preview_set_envelope_from(pv,
						  po_letter_envelope_from(l)));
	for (i = 0; i < po_letter_recipient_count(l); i++)
		assert_po_ok(po_preview_add_recipient(
			pv, po_letter_recipient(l, i)));
	assert_po_ok(po_preview_write(pv, wire, len));
	path = strdup(po_preview_path(pv));
	assert_non_null(path);
	po_preview_free(pv);
	po_letter_free(l);
	free(wire);
	return path;
}

/* ---------------------------------------------------------------------
 * The browser's report (one JSON object a line, from browser.py) */

/* The text after "key": in line, searching from from, or NULL. */
static const char *field(const char *from, const char *key)
{
	char pattern[128];
	const char *p;

	snprintf(pattern, sizeof pattern, "\"%s\": ", key);
	p = strstr(from, pattern);
	return p ? p + strlen(pattern) : NULL;
}

static void expect_json(const char *line, const char *key,
			 const char *value)
{
	const char *p = field(line, key);

	if (!p || strncmp(p, value, strlen(value)) != 0) {
		print_error("%s: expected %s, got %.200s\n", key, value,
			    p ? p : "(missing)");
		fail();
	}
}

static long number(const char *line, const char *key)
{
	const char *p = field(line, key);

	assert_non_null(p);
	return strtol(p, NULL, 10);
}

static double real(const char *line, const char *key)
{
	const char *p = field(line, key);

	assert_non_null(p);
	return strtod(p, NULL);
}

/* 1 if needle occurs in line between the keys from and to. */
static int in_span(const char *line, const char *from, const char *to,
		   const char *needle)
{
	const char *a = field(line, from), *b;
	char *span;
	int found;

	assert_non_null(a);
	b = to ? field(a, to) : NULL;
	span = strndup(a, b ? (size_t)(b - a) : strlen(a));
	assert_non_null(span);
	found = strstr(span, needle) != NULL;
	free(span);
	return found;
}

/* Every request the proxy received went to one of Chromium's own
 * service hosts (it phones home at start-up, whatever the flags), none
 * came from the page: returns the first other URL, or NULL. */
static char *foreign_request(const char *line)
{
	static const char *const own[] = {".google.com", ".googleapis.com",
					  ".gstatic.com"};
	const char *p = field(line, "proxy"), *end = field(line, "console");

	assert_non_null(p);
	assert_non_null(end);
	while ((p = strstr(p, "\"url\": \"")) != NULL && p < end) {
		const char *url = p + 8, *host = url, *stop;
		size_t n, i, k;
		int ok = 0;

		if (strncmp(host, "http://", 7) == 0)
			host += 7;
		stop = host + strcspn(host, ":/\"");
		n = (size_t)(stop - host);
		for (i = 0; i < sizeof own / sizeof own[0]; i++) {
			k = strlen(own[i]);
			if (n > k && strncmp(stop - k, own[i], k) == 0)
				ok = 1;
		}
		if (!ok)
			return strndup(url, strcspn(url, "\""));
		p = stop;
	}
	return NULL;
}

/* What every page must show: a real screenshot, no sideways scrolling
 * at 360 pixels, nothing sent anywhere. */
static void check_common(const char *line)
{
	expect_json(line, "png", "true");
	assert_int_equal(number(line, "width"), 1000);
	assert_int_equal(number(line, "height"), 800);
	assert_true(number(line, "colours") >= 16);
	assert_true(real(line, "dominant") < 0.97);
	assert_true(number(line, "bytes") > 5000);
	assert_true(number(field(line, "narrow"), "scroll_width") <=
		    number(field(line, "narrow"), "inner_width"));
	expect_json(line, "requests", "[]");
	{
		char *url = foreign_request(line);

		if (url) {
			print_error("a request reached the proxy: %s\n", url);
			free(url);
			fail();
		}
	}
	expect_json(line, "marker", "false");
}

/* A page with an HTML part: it is in the one iframe, sandboxed with
 * nothing allowed. */
static void check_frame(const char *line)
{
	expect_json(line, "iframes", "[{\"sandbox\": \"\", \"has_srcdoc\": "
				     "true}]");
	expect_json(line, "frame_urls", "[\"about:srcdoc\"]");
}

static void check_hostile(const char *line)
{
	const char *after = field(line, "after_click");

	expect_json(line, "title", "\"Hostile ✓ <b>bold?</b> – letter "
				    "preview\"");
	expect_json(line, "subject", "\"Hostile ✓ <b>bold?</b>\"");
	expect_json(line, "frame_urls", "[\"about:srcdoc\"]");
	/* the letter's own document: its script and handlers set no
	 * attribute (its source names one, as text, in the script) */
	assert_true(in_span(line, "frame_html", "screenshot",
			    "<h1>Hostile letter</h1>"));
	assert_false(in_span(line, "frame_html", "screenshot",
			     "data-pwned=\\\""));
	/* the browser refused the letter's loads and its form before
	 * sending anything, and said so */
	assert_true(in_span(line, "console", NULL,
			    "http://tracker.example/remote.css"));
	assert_true(in_span(line, "console", NULL,
			    "http://tracker.example/pixel.gif"));
	/* the javascript: link and the submit button were clicked, to no
	 * effect */
	assert_int_equal(number(line, "clicked"), 2);
	assert_non_null(after);
	expect_json(after, "frame_urls", "[\"about:srcdoc\"]");
	expect_json(after, "marker", "false");
	expect_json(after, "title", "\"Hostile ✓ <b>bold?</b> – letter "
				     "preview\"");
	assert_false(in_span(after, "frame_html", "title",
			     "data-pwned=\\\""));
	assert_true(in_span(line, "console", NULL,
			    "http://tracker.example/form"));
}

/* The control: the same page with the sandbox opened and no CSP.  The
 * script runs and the requests reach the proxy, so the checks above
 * would see them. */
static void check_control(const char *line)
{
	assert_true(strstr(line, "\"marker\": true") ||
		    strstr(line, "\"title\": \"PWNED\""));
	assert_true(in_span(line, "proxy", "console",
			    "http://tracker.example/script-fetch"));
	{
		char *url = foreign_request(line);

		assert_non_null(url);
		assert_int_equal(strncmp(url, "http://tracker.example/", 23), 0);
		free(url);
	}
	assert_true(in_span(line, "proxy", "console",
			    "http://tracker.example/remote.css"));
}

/* The page with the sandbox opened and the CSP (in the page and in the
 * srcdoc) taken out, written as control.html beside it. */
static char *control_page(const char *page)
{
	char *text = tw_read_file(page, NULL), *p, *out;
	FILE *f;

	assert_non_null(text);
	while ((p = strstr(text, "Content-Security-Policy")) != NULL)
		memcpy(p, "X-Content-Sec-Disabled!", 23);
	p = strstr(text, "<iframe sandbox=\"\"");
	assert_non_null(p);
	out = malloc(strlen(page) + 16);
	assert_non_null(out);
	strcpy(out, page);
	strcpy(strrchr(out, '/') + 1, "control.html");
	f = fopen(out, "wb");
	assert_non_null(f);
	fwrite(text, 1, (size_t)(p - text), f);
	fputs("<iframe sandbox=\"allow-scripts allow-same-origin allow-forms\"",
	      f);
	fputs(p + 18, f);
	fclose(f);
	free(text);
	return out;
}

static void test_browser(void **state)
{
	char parent[] = "/tmp/po-browser-XXXXXX", shots[300], cmd[8192];
	char *pages[8], *line = NULL;
	const char *keep = getenv("PO_PREVIEW_SCREENSHOT");
	size_t cap = 0, i, n = 0;
	po_letter *l;
	po_part *alt, *rel, *mixed;
	FILE *p;
	int status;

	(void)state;
	assert_non_null(mkdtemp(parent));
	snprintf(shots, sizeof shots, "%s/shots", parent);
	assert_int_equal(mkdir(shots, 0700), 0);

	/* 0: plain text */
	l = letter("Grüße aus Köln ✓");
	assert_po_ok(po_letter_set_body(
		l, po_part_new_text("Hallo Zoë,\n\nbis morgen!\n",
				    PO_ZERO_TERMINATED, NULL)));
	pages[n++] = page_for(l, parent);

	/* 1: HTML with a text alternative */
	l = letter("Ελληνικά και русский");
	alt = po_part_new_multipart("alternative");
	assert_po_ok(po_part_add(alt, po_part_new_text("plain version\n",
						       PO_ZERO_TERMINATED,
						       NULL)));
	assert_po_ok(po_part_add(alt, html_part("<h1>Καλημέρα</h1><p>Привет, "
						"<b>мир</b>!</p>")));
	assert_po_ok(po_letter_set_body(l, alt));
	pages[n++] = page_for(l, parent);

	/* 2: related, with an inline image */
	l = letter("Inline image");
	rel = po_part_new_multipart("related");
	assert_po_ok(po_part_add(rel, html_part("<p>The square:</p><img src="
						"\"cid:square@example\" "
						"width=\"48\" height=\"48\">")));
	assert_po_ok(po_part_add(rel, bytes_part(magenta_png,
						 sizeof magenta_png,
						 "image/png", NULL,
						 "square@example")));
	assert_po_ok(po_letter_set_body(l, rel));
	pages[n++] = page_for(l, parent);

	/* 3: attachments with non-ASCII names */
	l = letter("Anhänge");
	mixed = po_part_new_multipart("mixed");
	assert_po_ok(po_part_add(mixed, po_part_new_text("See attached.\n",
							 PO_ZERO_TERMINATED,
							 NULL)));
	assert_po_ok(po_part_add(mixed, bytes_part("%PDF-1.4\n", 9,
						   "application/pdf",
						   "Überweisung März.pdf",
						   NULL)));
	assert_po_ok(po_part_add(mixed, bytes_part("a,b\n1,2\n", 8, "text/csv",
						   "日本語のデータ.csv", NULL)));
	assert_po_ok(po_letter_set_body(l, mixed));
	pages[n++] = page_for(l, parent);

	/* 4: hostile */
	l = letter("Hostile ✓ <b>bold?</b>");
	alt = po_part_new_multipart("alternative");
	assert_po_ok(po_part_add(alt, po_part_new_text("plain\n",
						       PO_ZERO_TERMINATED,
						       NULL)));
	assert_po_ok(po_part_add(alt, html_part(hostile_html)));
	assert_po_ok(po_letter_set_body(l, alt));
	pages[n++] = page_for(l, parent);

	/* 5: a realistic letter (the README's screenshot) */
	l = letter("Your order #4711 has shipped ✓");
	assert_po_ok(po_letter_add_cc(l, "Łukasz <lukasz@example.pl>"));
	mixed = po_part_new_multipart("mixed");
	alt = po_part_new_multipart("alternative");
	rel = po_part_new_multipart("related");
	assert_po_ok(po_part_add(alt, po_part_new_text(
		"Hello Zoë,\n\ngood news: your order #4711 is on its way.\n",
		PO_ZERO_TERMINATED, NULL)));
	assert_po_ok(po_part_add(rel, html_part(
		"<div style=\"font-family:Georgia,serif;max-width:560px\">"
		"<img src=\"cid:logo@shop\" alt=\"Shop\" width=\"160\" "
		"height=\"40\"><h2 style=\"color:#234\">Good news, Zoë!</h2>"
		"<p>Your order <b>#4711</b> is on its way: 2 × Kaffeebohnen "
		"„Äthiopien“, 1 × Crème brûlée set.</p>"
		"<p style=\"background:#eef3fb;padding:10px;border-radius:6px\">"
		"Expected delivery: <b>Thursday</b></p>"
		"<img src=\"https://tracker.example/open.gif\" width=\"1\" "
		"height=\"1\"><p>— The shop team</p></div>")));
	assert_po_ok(po_part_add(rel, bytes_part(logo_png, sizeof logo_png,
						 "image/png", NULL,
						 "logo@shop")));
	assert_po_ok(po_part_add(alt, rel));
	assert_po_ok(po_part_add(mixed, alt));
	assert_po_ok(po_part_add(mixed, bytes_part("%PDF-1.4\n", 9,
						   "application/pdf",
						   "Rechnung März 2025.pdf",
						   NULL)));
	assert_po_ok(po_letter_set_body(l, mixed));
	pages[n++] = page_for(l, parent);

	/* 6: the control */
	pages[n] = control_page(pages[4]);
	n++;

	snprintf(cmd, sizeof cmd,
		 "/usr/bin/python3 fixtures/browser.py --click --narrow 360 "
		 "--find-colour ff00ff --screenshot %s",
		 shots);
	for (i = 0; i < n; i++) {
		strcat(cmd, " ");
		strcat(cmd, pages[i]);
	}
	p = popen(cmd, "r");
	assert_non_null(p);
	for (i = 0; i < n; i++) {
		if (getline(&line, &cap, p) <= 0) {
			print_error("browser.py gave %zu reports of %zu\n", i,
				    n);
			fail();
		}
		switch (i) {
		case 0:
			check_common(line);
			expect_json(line, "subject", "\"Grüße aus Köln ✓\"");
			expect_json(line, "text", "\"Hallo Zoë,\\n\\nbis "
						   "morgen!\\n\"");
			expect_json(line, "iframes", "[]");
			assert_true(in_span(line, "envelope", "problems",
					    "audit@example.org"));
			assert_true(in_span(line, "fields", "envelope",
					    "Zoë Ångström <zoe@example.net>"));
			break;
		case 1:
			check_common(line);
			check_frame(line);
			expect_json(line, "subject",
				     "\"Ελληνικά και русский\"");
			assert_true(in_span(line, "frame_html", "screenshot",
					    "<h1>Καλημέρα</h1><p>Привет, "
					    "<b>мир</b>!</p>"));
			break;
		case 2:
			check_common(line);
			check_frame(line);
			assert_true(in_span(line, "frame_html", "screenshot",
					    "src=\\\"data:image/png;base64,"));
			/* the 48x48 square shown: 24x48 pixels sampled */
			assert_true(number(line, "ff00ff") >= 48 * 24);
			break;
		case 3:
			check_common(line);
			expect_json(line, "attachments",
				     "[{\"name\": \"Überweisung März.pdf\", "
				     "\"href\": \"part-2.pdf\"}, {\"name\": "
				     "\"日本語のデータ.csv\", \"href\": "
				     "\"part-3.csv\"}]");
			break;
		case 4:
			check_common(line);
			check_frame(line);
			check_hostile(line);
			break;
		case 5:
			check_common(line);
			check_frame(line);
			expect_json(line, "subject",
				     "\"Your order #4711 has shipped ✓\"");
			assert_true(in_span(line, "console", NULL,
					    "https://tracker.example/open.gif"));
			break;
		case 6:
			check_control(line);
			break;
		}
	}
	status = pclose(p);
	assert_int_equal(status, 0);
	if (keep) {
		snprintf(cmd, sizeof cmd, "cp %s/6.png '%s'", shots, keep);
		assert_int_equal(system(cmd), 0);
	}
	free(line);
	for (i = 0; i < n; i++)
		free(pages[i]);
	snprintf(cmd, sizeof cmd, "rm -rf %s", parent);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_browser),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
