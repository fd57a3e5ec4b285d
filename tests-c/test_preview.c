/* test_preview.c - the preview page (po_preview_*) as files on disk: what
 * the page shows and how every piece of untrusted text is escaped, the
 * saved parts (names the page makes up, exact octets, modes), the
 * envelope and Bcc, bad input, the directory and file errors,
 * po_preview_open, and `postoffice preview`.  What the page does in a
 * browser is test_browser.c's. */
#include "check.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "codec.h"
#include "preview.h"
#include "wire.h"

static const unsigned char png[] = {137, 'P', 'N', 'G', 13, 10, 26, 10,
				    0,	 0,   0,   13,	'I', 'H', 'D', 'R'};

/* ---------------------------------------------------------------------
 * Helpers */

static void write_all(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static void temp_dir(char *out, size_t n)
{
	snprintf(out, n, "/tmp/po-preview-test-XXXXXX");
	assert_non_null(mkdtemp(out));
}

static void remove_tree(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* The number of entries in dir (without . and ..). */
static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *ent;
	int n = 0;

	assert_non_null(d);
	while ((ent = readdir(d)) != NULL)
		if (strcmp(ent->d_name, ".") && strcmp(ent->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* The page written by pv: index.html's text, malloc'd; *dir_out (of
 * size 512) gets its directory. */
static char *page_of(po_preview *pv, char *dir_out)
{
	const char *path = po_preview_path(pv);
	size_t n;

	assert_non_null(path);
	n = strlen(path);
	assert_true(n > 11);
	assert_string_equal(path + n - 11, "/index.html");
	snprintf(dir_out, 512, "%.*s", (int)(n - 11), path);
	return tw_read_file(path, NULL);
}

static void assert_contains(const char *page, const char *needle)
{
	if (!strstr(page, needle)) {
		print_error("the page lacks: %s\n", needle);
		fail();
	}
}

static void assert_lacks(const char *page, const char *needle)
{
	if (strstr(page, needle)) {
		print_error("the page has: %s\n", needle);
		fail();
	}
}

/* The page is safe by construction (codec.c: only our own tags, one
 * sandboxed iframe, no script). */
static void assert_page_safe(const char *page)
{
	const char *problem = tc_page_safe(page, strlen(page));

	if (problem) {
		print_error("%s\n", problem);
		fail();
	}
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode;
}

/* A letter with everything: envelope (Bcc included), non-ASCII and
 * hostile header text, alternative text and HTML with a related image,
 * attachments with hostile names. */
static po_letter *rich_letter(void)
{
	po_letter *l = po_letter_new();
	po_part *mixed = po_part_new_multipart("mixed");
	po_part *alt = po_part_new_multipart("alternative");
	po_part *rel = po_part_new_multipart("related");
	po_part *p;

	assert_po_ok(po_letter_set_from(l, "Jörg Müller <joerg@example.com>"));
	assert_po_ok(po_letter_add_to(l, "Zoë <zoe@example.net>"));
	assert_po_ok(po_letter_add_cc(l, "cc@example.net"));
	assert_po_ok(po_letter_add_bcc(l, "hidden@example.net"));
	assert_po_ok(po_letter_set_subject(
		l, "Grüße ✓ <script>alert(1)</script> & \"quotes\""));
	assert_po_ok(po_letter_add_reply_to(l, "Ré <re@example.org>"));
	assert_po_ok(po_part_add(alt, po_part_new_text("Plain ✓ <b>not bold"
						       "</b>\n",
						       PO_ZERO_TERMINATED,
						       NULL)));
	p = po_part_new_text("<p title=\"x\">Hi &amp; <img src=\"cid:logo@x\">"
			     " <img src=cid:missing@x></p>",
			     PO_ZERO_TERMINATED, NULL);
	assert_po_ok(po_part_set_type(p, "text/html"));
	assert_po_ok(po_part_add(rel, p));
	p = po_part_new_bytes(png, sizeof png);
	assert_po_ok(po_part_set_type(p, "image/png"));
	assert_po_ok(po_part_set_id(p, "logo@x"));
	assert_po_ok(po_part_add(rel, p));
	assert_po_ok(po_part_add(alt, rel));
	assert_po_ok(po_part_add(mixed, alt));
	p = po_part_new_bytes("%PDF-1.4\r\n\x00\xff", 12);
	assert_po_ok(po_part_set_type(p, "application/pdf"));
	assert_po_ok(po_part_set_disposition(p, PO_DISPOSITION_ATTACHMENT,
					     "Überweisung März.pdf"));
	assert_po_ok(po_part_add(mixed, p));
	p = po_part_new_bytes("#!/bin/sh\n", 10);
	assert_po_ok(po_part_add_param(p, "name", "../../evil.sh"));
	assert_po_ok(po_part_add(mixed, p));
	p = po_part_new_bytes("<html><script>x()</script>", 26);
	assert_po_ok(po_part_set_type(p, "text/html"));
	assert_po_ok(po_part_set_disposition(
		p, PO_DISPOSITION_ATTACHMENT,
		"\"><img src=x onerror=alert(1)>.html"));
	assert_po_ok(po_part_add(mixed, p));
	p = po_part_new_bytes("MZ", 2);
	assert_po_ok(po_part_set_disposition(p, PO_DISPOSITION_ATTACHMENT,
					     "invoice\xe2\x80\xae"
					     "fdp.exe"));
	assert_po_ok(po_part_add(mixed, p));
	assert_po_ok(po_letter_set_body(l, mixed));
	return l;
}

/* ---------------------------------------------------------------------
 * The page */

static void test_page(void **state)
{
	char parent[256], dir[512], path[600];
	po_letter *l = rich_letter();
	po_preview *pv = po_preview_new();
	size_t len, n, i;
	char *wire = tw_render(l, &len), *page, *file;

	(void)state;
	temp_dir(parent, sizeof parent);
	assert_po_ok(po_preview_set_directory(pv, parent));
	assert_po_ok(po_preview_set_envelope_from(
		pv, po_letter_envelope_from(l)));
	for (i = 0; i < po_letter_recipient_count(l); i++)
		assert_po_ok(po_preview_add_recipient(
			pv, po_letter_recipient(l, i)));
	assert_null(po_preview_path(pv));
	assert_po_ok(po_preview_write(pv, wire, len));
	page = page_of(pv, dir);
	assert_page_safe(page);

	/* a fresh private directory with only our files in it */
	assert_int_equal(strncmp(dir, parent, strlen(parent)), 0);
	assert_int_equal(strncmp(dir + strlen(parent), "/postoffice-preview-",
				 20),
			 0);
	assert_int_equal(mode_of(dir) & 07777, 0700);
	assert_true(S_ISDIR(mode_of(dir)));
	assert_int_equal(entries(parent), 1);
	assert_int_equal(entries(dir), 7); /* index, letter.eml, 5 parts */
	snprintf(path, sizeof path, "%s/index.html", dir);
	assert_int_equal(mode_of(path) & 07777, 0600);

	/* the header fields, decoded and escaped */
	assert_contains(page, "<title>Grüße ✓ &lt;script&gt;alert(1)&lt;/"
			      "script&gt; &amp; &quot;quotes&quot; – letter "
			      "preview</title>");
	assert_contains(page, "<h1 id=\"subject\"><bdi>Grüße ✓ &lt;script&gt;"
			      "alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;"
			      "</bdi></h1>");
	assert_contains(page, "<dt>From</dt><dd><bdi>Jörg Müller &lt;"
			      "joerg@example.com&gt;</bdi></dd>");
	assert_contains(page, "<dt>To</dt><dd><bdi>Zoë &lt;zoe@example.net"
			      "&gt;</bdi></dd>");
	assert_contains(page, "<dt>Cc</dt><dd><bdi>cc@example.net</bdi></dd>");
	assert_contains(page, "<dt>Reply-To</dt><dd><bdi>Ré &lt;"
			      "re@example.org&gt;</bdi></dd>");
	assert_contains(page, "<dt>Message-ID</dt><dd><bdi>&lt;");
	assert_contains(page, "<dt>Date</dt>");

	/* the envelope, and Bcc: the recipient no header names */
	assert_contains(page, "<dt>MAIL FROM</dt><dd><bdi>joerg@example.com"
			      "</bdi></dd>");
	assert_contains(page, "<dt>RCPT TO</dt><dd id=\"rcpt\"><bdi>"
			      "zoe@example.net</bdi>, <bdi>cc@example.net</bdi>"
			      ", <bdi>hidden@example.net</bdi></dd>");
	assert_contains(page, "<dd class=\"bcc\" id=\"bcc\"><bdi>"
			      "hidden@example.net</bdi></dd>");

	/* the text part, escaped */
	assert_contains(page, "<pre id=\"text\">Plain ✓ &lt;b&gt;not bold&lt;"
			      "/b&gt;");
	/* the HTML part in the sandbox: escaped once for the attribute,
	 * our CSP first, the inline image as a data: URL */
	assert_contains(page, "<iframe sandbox=\"\" referrerpolicy=\""
			      "no-referrer\"");
	assert_contains(page, " srcdoc=\"&lt;!DOCTYPE html&gt;&lt;html&gt;"
			      "&lt;head&gt;&lt;meta charset=&quot;utf-8&quot;"
			      "&gt;&lt;meta http-equiv=&quot;Content-Security-"
			      "Policy&quot; content=&quot;default-src &#39;"
			      "none&#39;; style-src &#39;unsafe-inline&#39;; "
			      "img-src data:;");
	assert_contains(page, "&lt;p title=&quot;x&quot;&gt;Hi &amp;amp; "
			      "&lt;img src=&quot;data:image/png;base64,"
			      "iVBORw0KGgoAAAANSUhEUg==&quot;&gt;");
	assert_lacks(page, "cid:logo@x\"");
	assert_contains(page, "&lt;img src=cid:missing@x&gt;");
	assert_contains(page, "<li>the HTML part: 1 cid: reference names no "
			      "image of the letter (not shown)</li>");
	assert_contains(page, "<meta http-equiv=\"Content-Security-Policy\" "
			      "content=\"default-src 'none'; style-src "
			      "'unsafe-inline'; img-src data:;");

	/* the parts: names made up, original names shown escaped, octets
	 * exact, passive extensions only */
	assert_contains(page, "<a class=\"name\" href=\"part-3.png\" type=\""
			      "image/png\">(no name: part 3)</a>");
	assert_contains(page, "cid:logo@x · saved as part-3.png");
	assert_contains(page, "<a class=\"name\" href=\"part-4.pdf\" type=\""
			      "application/pdf\"><bdi>Überweisung März.pdf"
			      "</bdi></a>");
	assert_contains(page, "href=\"part-5.bin\" type=\"application/"
			      "octet-stream\"><bdi>../../evil.sh</bdi></a>");
	assert_contains(page, "href=\"part-6.bin\" type=\"text/html\"><bdi>"
			      "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;."
			      "html</bdi></a>");
	assert_contains(page, "<bdi>invoice<span class=\"ctl\">[U+202E]"
			      "</span>fdp.exe</bdi>");
	snprintf(path, sizeof path, "%s/part-4.pdf", dir);
	file = tw_read_file(path, &n);
	assert_int_equal(n, 12);
	assert_memory_equal(file, "%PDF-1.4\r\n\x00\xff", 12);
	assert_int_equal(mode_of(path) & 07777, 0600);
	free(file);
	snprintf(path, sizeof path, "%s/part-3.png", dir);
	file = tw_read_file(path, &n);
	assert_int_equal(n, sizeof png);
	assert_memory_equal(file, png, sizeof png);
	free(file);
	snprintf(path, sizeof path, "%s/letter.eml", dir);
	file = tw_read_file(path, &n);
	assert_int_equal(n, len);
	assert_memory_equal(file, wire, len);
	free(file);

	/* the raw source, escaped */
	assert_contains(page, "<pre id=\"raw\">From: =?utf-8?");
	assert_contains(page, "Content-Type: multipart/mixed;");
	free(page);

	/* each page gets a directory of its own */
	assert_po_ok(po_preview_write(pv, wire, len));
	assert_int_equal(entries(parent), 2);

	po_preview_free(pv);
	po_preview_free(NULL);
	po_letter_free(l);
	free(wire);
	remove_tree(parent);
}

static void test_escape(void **state)
{
	po__buf b = PO__BUF_INIT;
	static const char in[] = "<a href=\"x\">'&'</a>\t\r\n\x01\x7f\0\xff"
				 "é";

	(void)state;
	assert_int_equal(po__html_escape(&b, in, sizeof in - 1), 0);
	assert_string_equal(b.p, "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;"
				 "&lt;/a&gt;\t\r\n\xef\xbf\xbd\xef\xbf\xbd"
				 "\xef\xbf\xbd\xef\xbf\xbd"
				 "é");
	po__buf_free(&b);
}

/* Input that is not as it should be still gets a page that says what
 * could not be shown. */
static void test_bad_input(void **state)
{
	static const struct {
		const char *letter, *problem;
	} cases[] = {
		{"\x89PNG\r\n\x1a\n\x00\x00garbage",
		 "the letter: no header fields: this does not look like a "
		 "letter"},
		{"Subject: cut\r\nContent-Type: multipart/mixed; boundary=b\r\n"
		 "\r\n--b\r\nContent-Type: text/plain\r\n\r\nthe text is th",
		 "the letter: multipart/mixed: the closing boundary is "
		 "missing: the letter may be truncated"},
		{"Subject: x\r\nContent-Type: text/plain; charset=x-martian"
		 "\r\n\r\ncaf\xc3\xa9 <b>",
		 "the letter: unknown charset &quot;x-martian&quot;: the text "
		 "is shown as UTF-8"},
		{"", "the letter: the letter is empty"},
		{"Subject: only a header",
		 "the letter: the header does not end with an empty line"},
		{"Content-Type: application/pdf\r\n\r\n%PDF",
		 "the letter: it has no text or HTML part"},
	};
	char parent[256], dir[512];
	size_t i;

	(void)state;
	temp_dir(parent, sizeof parent);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		po_preview *pv = po_preview_new();
		char *page;

		assert_po_ok(po_preview_set_directory(pv, parent));
		assert_po_ok(po_preview_write(pv, cases[i].letter,
					      i == 0 ? 18
						     : strlen(cases[i].letter)));
		page = page_of(pv, dir);
		assert_page_safe(page);
		assert_contains(page, "<section class=\"card problems\" "
				      "id=\"problems\">");
		assert_contains(page, cases[i].problem);
		assert_contains(page, "<pre id=\"raw\">");
		free(page);
		po_preview_free(pv);
	}
	/* what can be shown is: the cut-short text, the decoded text */
	{
		po_preview *pv = po_preview_new();
		char *page;

		assert_po_ok(po_preview_set_directory(pv, parent));
		assert_po_ok(po_preview_write(pv, cases[1].letter,
					      strlen(cases[1].letter)));
		page = page_of(pv, dir);
		assert_contains(page, "<pre id=\"text\">the text is th</pre>");
		assert_contains(page, "<h1 id=\"subject\"><bdi>cut</bdi></h1>");
		free(page);
		assert_po_ok(po_preview_write(pv, cases[2].letter,
					      strlen(cases[2].letter)));
		page = page_of(pv, dir);
		assert_contains(page, "<pre id=\"text\">café &lt;b&gt;</pre>");
		free(page);
		po_preview_free(pv);
	}
	remove_tree(parent);
}

static void test_big_letter(void **state)
{
	char parent[256], dir[512];
	size_t n = 3 * 1024 * 1024, len;
	char *letter = malloc(n), *page;
	po_preview *pv = po_preview_new();
	const char *raw;

	(void)state;
	assert_non_null(letter);
	memset(letter, 'x', n);
	memcpy(letter, "Subject: big\r\n\r\n", 16);
	temp_dir(parent, sizeof parent);
	assert_po_ok(po_preview_set_directory(pv, parent));
	assert_po_ok(po_preview_write(pv, letter, n));
	page = page_of(pv, dir);
	assert_contains(page, "the raw source: only its first 1024 KB are "
			      "shown");
	raw = strstr(page, "<pre id=\"raw\">");
	assert_non_null(raw);
	len = (size_t)(strstr(raw, "</pre>") - raw) - 14;
	assert_int_equal(len, 1024 * 1024);
	free(page);
	free(letter);
	po_preview_free(pv);
	remove_tree(parent);
}

/* ---------------------------------------------------------------------
 * Files: an .eml and its envelope; errors */

static void test_write_file(void **state)
{
	char parent[256], dir[512], eml[300], env[300];
	static const char letter[] = "From: a@example.org\r\nTo: b@example.net"
				     "\r\nSubject: from a file\r\n\r\nbody\r\n";
	po_preview *pv = po_preview_new();
	char *page;

	(void)state;
	temp_dir(parent, sizeof parent);
	assert_po_ok(po_preview_set_directory(pv, parent));
	snprintf(eml, sizeof eml, "%s/x.eml", parent);
	snprintf(env, sizeof env, "%s/x.envelope", parent);
	write_all(eml, letter, sizeof letter - 1);

	/* no envelope file: none shown */
	assert_po_ok(po_preview_write_file(pv, eml));
	page = page_of(pv, dir);
	assert_contains(page, "<h1 id=\"subject\"><bdi>from a file</bdi></h1>");
	assert_contains(page, "Not known: only the letter was given");
	free(page);

	/* the (:file ...) transport's envelope file beside it */
	write_all(env, "MAIL FROM:<a@example.org>\nRCPT TO:<b@example.net>\n"
		       "RCPT TO:<secret@example.net>\r\nnoise\n",
		  85);
	assert_po_ok(po_preview_write_file(pv, eml));
	page = page_of(pv, dir);
	assert_contains(page, "<dt>MAIL FROM</dt><dd><bdi>a@example.org</bdi>");
	assert_contains(page, "<dt>RCPT TO</dt><dd id=\"rcpt\"><bdi>"
			      "b@example.net</bdi>, <bdi>secret@example.net"
			      "</bdi></dd>");
	assert_contains(page, "id=\"bcc\"><bdi>secret@example.net</bdi></dd>");
	free(page);

	/* an envelope set on the handle wins, and stays */
	assert_po_ok(po_preview_set_envelope_from(pv, "given@example.org"));
	assert_po_ok(po_preview_write_file(pv, eml));
	page = page_of(pv, dir);
	assert_contains(page, "<dt>MAIL FROM</dt><dd><bdi>given@example.org");
	assert_lacks(page, "secret@example.net");
	free(page);
	assert_po_ok(po_preview_write_file(pv, eml));
	page = page_of(pv, dir);
	assert_contains(page, "given@example.org");
	free(page);

	/* an envelope read from text replaces the one before */
	assert_po_ok(po_preview_read_envelope(
		pv, "mail from: <x@example.org>\nRCPT TO: <y@example.net>\n",
		PO_ZERO_TERMINATED));
	assert_po_ok(po_preview_write(pv, letter, sizeof letter - 1));
	page = page_of(pv, dir);
	assert_contains(page, "<dt>MAIL FROM</dt><dd><bdi>x@example.org");
	assert_contains(page, "<dt>RCPT TO</dt><dd id=\"rcpt\"><bdi>"
			      "y@example.net");
	assert_lacks(page, "given@example.org");
	free(page);

	/* the null sender */
	assert_po_ok(po_preview_set_envelope_from(pv, ""));
	assert_po_ok(po_preview_write(pv, letter, sizeof letter - 1));
	page = page_of(pv, dir);
	assert_contains(page, "<dt>MAIL FROM</dt><dd><bdi>&lt;&gt;</bdi>");
	free(page);

	/* errors */
	snprintf(eml, sizeof eml, "%s/missing.eml", parent);
	assert_int_equal(po_preview_write_file(pv, eml), PO_ENOENT);
	assert_non_null(strstr(po_last_error(), "missing.eml"));
	assert_int_equal(po_preview_write_file(pv, parent), PO_EISDIR);
	assert_int_equal(po_preview_write_file(pv, NULL), PO_EINVAL);
	assert_int_equal(po_preview_write(pv, NULL, 1), PO_EINVAL);
	assert_int_equal(po_preview_write(NULL, "x", 1), PO_EINVAL);
	assert_int_equal(po_preview_add_recipient(pv, NULL), PO_EINVAL);
	assert_int_equal(po_preview_read_envelope(pv, NULL, 1), PO_EINVAL);
	po_preview_free(pv);
	remove_tree(parent);
}

static void test_directory_errors(void **state)
{
	char parent[256], where[300];
	po_preview *pv = po_preview_new();
	const char *old = getenv("TMPDIR");
	char *saved = old ? strdup(old) : NULL;

	(void)state;
	temp_dir(parent, sizeof parent);
	snprintf(where, sizeof where, "%s/missing", parent);
	assert_po_ok(po_preview_set_directory(pv, where));
	assert_int_equal(po_preview_write(pv, "Subject: x\r\n\r\n", 15),
			 PO_ENOENT);
	assert_non_null(strstr(po_last_error(), "missing"));
	assert_null(po_preview_path(pv));
	snprintf(where, sizeof where, "%s/file", parent);
	write_all(where, "x", 1);
	assert_po_ok(po_preview_set_directory(pv, where));
	assert_int_equal(po_preview_write(pv, "Subject: x\r\n\r\n", 15),
			 PO_ENOENT);
	assert_int_equal(entries(parent), 1);

	/* the default: $TMPDIR (a trailing slash is fine) */
	snprintf(where, sizeof where, "%s/", parent);
	setenv("TMPDIR", where, 1);
	assert_po_ok(po_preview_set_directory(pv, NULL));
	assert_po_ok(po_preview_write(pv, "Subject: x\r\n\r\n", 15));
	assert_int_equal(strncmp(po_preview_path(pv), parent, strlen(parent)),
			 0);
	assert_int_equal(po_preview_path(pv)[strlen(parent) + 1], 'p');
	assert_int_equal(entries(parent), 2);
	if (saved)
		setenv("TMPDIR", saved, 1);
	else
		unsetenv("TMPDIR");
	free(saved);
	po_preview_free(pv);
	remove_tree(parent);
}

/* ---------------------------------------------------------------------
 * po_preview_open */

/* A browser that writes its arguments, each followed by '|', and a
 * newline into the file $OUT (complete when it appears). */
static void write_browser(const char *path)
{
	static const char script[] =
		"#!/bin/sh\nprintf '%s|' \"$@\" > \"$OUT.tmp\"\n"
		"echo >> \"$OUT.tmp\"; /bin/mv \"$OUT.tmp\" \"$OUT\"\n";

	write_all(path, script, sizeof script - 1);
	assert_int_equal(chmod(path, 0755), 0);
}

/* Wait (at most 10 s) for the file to appear and return its text. */
static char *wait_for(const char *path)
{
	int i;

	for (i = 0; i < 1000; i++) {
		char *text = tw_read_file(path, NULL);

		if (text && strchr(text, '\n'))
			return text;
		free(text);
		usleep(10000);
	}
	return NULL;
}

static void test_open(void **state)
{
	char dir[256], script[300], out[300], browser[700];
	const char *old = getenv("BROWSER"), *old_path = getenv("PATH");
	char *saved = old ? strdup(old) : NULL;
	char *saved_path = strdup(old_path ? old_path : "/usr/bin:/bin");
	char *text;
	struct timespec t0, t1;

	(void)state;
	temp_dir(dir, sizeof dir);
	snprintf(script, sizeof script, "%s/browser.sh", dir);
	snprintf(out, sizeof out, "%s/opened", dir);
	write_browser(script);
	assert_int_equal(chmod(script, 0755), 0);
	setenv("OUT", out, 1);

	/* $BROWSER: the page added as the last argument */
	setenv("BROWSER", script, 1);
	assert_po_ok(po_preview_open("/tmp/a page/index.html"));
	text = wait_for(out);
	assert_non_null(text);
	assert_string_equal(text, "/tmp/a page/index.html|\n");
	free(text);
	unlink(out);

	/* %s stands for the page; only the first of a list is run */
	snprintf(browser, sizeof browser, "%s --new %%s --x:/bin/false",
		 script);
	setenv("BROWSER", browser, 1);
	assert_po_ok(po_preview_open("/tmp/p'q\"$(x).html"));
	text = wait_for(out);
	assert_non_null(text);
	assert_string_equal(text, "--new|/tmp/p'q\"$(x).html|--x|\n");
	free(text);
	unlink(out);

	/* it never waits for the browser */
	setenv("BROWSER", "sleep 3; true", 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_po_ok(po_preview_open("/tmp/x.html"));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 2);

	/* no browser at all */
	unsetenv("BROWSER");
	setenv("PATH", dir, 1);
	assert_int_equal(po_preview_open("/tmp/x.html"), PO_ENOPROGRAM);
	assert_non_null(strstr(po_last_error(), "xdg-open"));
	setenv("BROWSER", "", 1);
	assert_int_equal(po_preview_open("/tmp/x.html"), PO_ENOPROGRAM);

	/* xdg-open from PATH */
	snprintf(browser, sizeof browser, "%s/xdg-open", dir);
	assert_int_equal(rename(script, browser), 0);
	assert_po_ok(po_preview_open("/tmp/y.html"));
	text = wait_for(out);
	assert_non_null(text);
	assert_string_equal(text, "/tmp/y.html|\n");
	free(text);
	assert_int_equal(po_preview_open(NULL), PO_EINVAL);

	setenv("PATH", saved_path, 1);
	if (saved)
		setenv("BROWSER", saved, 1);
	else
		unsetenv("BROWSER");
	unsetenv("OUT");
	free(saved);
	free(saved_path);
	remove_tree(dir);
}

/* ---------------------------------------------------------------------
 * postoffice preview */

struct run {
	int status;
	char out[4096], err[4096];
};

/* Run build/postoffice with the shell command's arguments (args is
 * pasted into "build/postoffice preview ARGS"), input on stdin. */
static void run_cli(struct run *r, const char *args, const char *input)
{
	char cmd[2048], outf[] = "/tmp/po-cli-out-XXXXXX",
			errf[] = "/tmp/po-cli-err-XXXXXX";
	int fo = mkstemp(outf), fe = mkstemp(errf), st;
	FILE *p;
	char *text;

	assert_true(fo >= 0 && fe >= 0);
	close(fo);
	close(fe);
	snprintf(cmd, sizeof cmd, "build/postoffice preview %s >%s 2>%s", args,
		 outf, errf);
	p = popen(cmd, "w");
	assert_non_null(p);
	if (input)
		fputs(input, p);
	st = pclose(p);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	text = tw_read_file(outf, NULL);
	snprintf(r->out, sizeof r->out, "%s", text ? text : "");
	free(text);
	text = tw_read_file(errf, NULL);
	snprintf(r->err, sizeof r->err, "%s", text ? text : "");
	free(text);
	unlink(outf);
	unlink(errf);
}

static void test_cli(void **state)
{
	char parent[256], args[1024], eml[300], *page;
	static const char letter[] = "From: a@example.org\r\nSubject: Über "
				     "the CLI\r\n\r\nbody ✓\r\n";
	struct run r;

	(void)state;
	temp_dir(parent, sizeof parent);
	snprintf(eml, sizeof eml, "%s/l.eml", parent);
	write_all(eml, letter, sizeof letter - 1);

	snprintf(args, sizeof args, "'%s' --out '%s'", eml, parent);
	run_cli(&r, args, NULL);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.err, "");
	assert_int_equal(strncmp(r.out, parent, strlen(parent)), 0);
	r.out[strcspn(r.out, "\n")] = '\0';
	page = tw_read_file(r.out, NULL);
	assert_non_null(page);
	assert_contains(page, "<bdi>Über the CLI</bdi>");
	assert_contains(page, "<pre id=\"text\">body ✓");
	free(page);

	/* standard input, and an envelope file */
	snprintf(eml, sizeof eml, "%s/env", parent);
	write_all(eml, "MAIL FROM:<a@example.org>\nRCPT TO:<z@example.net>\n",
		  51);
	snprintf(args, sizeof args, "--out '%s' - --envelope '%s'", parent, eml);
	run_cli(&r, args, letter);
	assert_int_equal(r.status, 0);
	r.out[strcspn(r.out, "\n")] = '\0';
	page = tw_read_file(r.out, NULL);
	assert_non_null(page);
	assert_contains(page, "<bdi>Über the CLI</bdi>");
	assert_contains(page, "id=\"bcc\"><bdi>z@example.net</bdi>");
	free(page);

	/* --open with a browser that records what it was given */
	snprintf(args, sizeof args, "--out '%s' - --open", parent);
	snprintf(eml, sizeof eml, "%s/browser.sh", parent);
	write_browser(eml);
	setenv("BROWSER", eml, 1);
	snprintf(eml, sizeof eml, "%s/opened", parent);
	setenv("OUT", eml, 1);
	run_cli(&r, args, letter);
	assert_int_equal(r.status, 0);
	page = wait_for(eml);
	assert_non_null(page);
	r.out[strcspn(r.out, "\n")] = '\0';
	strcat(r.out, "|\n");
	assert_string_equal(page, r.out);
	free(page);
	unsetenv("BROWSER");
	unsetenv("OUT");

	/* errors: a missing file (1), usage (2) */
	snprintf(args, sizeof args, "'%s/none.eml' --out '%s'", parent, parent);
	run_cli(&r, args, NULL);
	assert_int_equal(r.status, 1);
	assert_string_equal(r.out, "");
	assert_non_null(strstr(r.err, "none.eml"));
	run_cli(&r, "", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "preview needs a letter"));
	run_cli(&r, "a.eml b.eml", NULL);
	assert_int_equal(r.status, 2);
	run_cli(&r, "a.eml --bogus", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--bogus"));
	run_cli(&r, "a.eml --out", NULL);
	assert_int_equal(r.status, 2);
	snprintf(args, sizeof args, "- --out '%s/missing'", parent);
	run_cli(&r, args, letter);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "missing"));
	remove_tree(parent);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_big_letter),
		cmocka_unit_test(test_write_file),
		cmocka_unit_test(test_directory_errors),
		cmocka_unit_test(test_open),
		cmocka_unit_test(test_cli),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
