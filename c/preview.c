/* preview.c - a letter as its reader will see it: a self-contained HTML
 * page written with the letter's parts into a fresh private directory.
 *
 * HTML Living Standard §4.8.5 (iframe srcdoc and sandbox), §13.1.2.3
 * (attribute values), §13.2.6.4 (the parser's handling of a second
 * <head> or DOCTYPE); CSP Level 3 (default-src, the inherited policy of
 * srcdoc documents); RFC 2392 (cid: URLs); RFC 2397 (data: URLs).
 *
 * Untrusted text (everything from the letter and the envelope) lands in
 * exactly three kinds of places, each with one escaping function:
 * element content and double-quoted attribute values (esc: & < > " '
 * escaped, controls replaced), and the srcdoc attribute, whose value is
 * a whole document: the letter's HTML, made valid UTF-8, behind our own
 * head (charset, CSP), then escaped as an attribute value like any
 * other.  URLs on the page are only ones we make: names of saved files
 * ("part-3.pdf") and data: URLs in base64.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "decode.h"
#include "encode.h"
#include "po_private.h"
#include "preview.h"

#define RAW_MAX (1024 * 1024) /* octets of raw source shown on the page */
#define DIR_PREFIX "postoffice-preview-"

/* Scripts off, remote loads off.  Styles inline only (letters are made
 * of inline styles); images, fonts and media from data: URLs only (the
 * letter's own inline images are turned into data: URLs).  The page has
 * the same policy; its srcdoc iframe inherits it too (CSP 3 §7.8), so
 * the letter is under both, and a policy the letter brings itself can
 * only add restrictions.  (A srcdoc iframe needs no frame-src.)  Meta
 * refresh, which no CSP directive covers, is refused by the sandbox
 * without allow-scripts. */
#define CSP_LETTER                                                          \
	"default-src 'none'; style-src 'unsafe-inline'; img-src data:; "    \
	"font-src data:; media-src data:; form-action 'none'; "             \
	"base-uri 'none'"
#define CSP_PAGE CSP_LETTER

struct po_preview {
	char *from;         /* or NULL */
	char **rcpt;
	size_t nrcpt, caprcpt;
	int has_envelope;
	char *dir;          /* parent of the fresh directories, or NULL */
	char *path;         /* the last index.html, or NULL */
};

static void clear_envelope(po_preview *pv);

/* ---------------------------------------------------------------------
 * Escaping */

/* Append s (n octets, made valid UTF-8) for element content or a
 * double-quoted attribute value.  C0 controls other than tab and line
 * breaks, and DEL, become U+FFFD (HTML does not allow them). */
int po__html_escape(po__buf *b, const char *s, size_t n)
{
	po__buf tmp = PO__BUF_INIT;
	size_t i, run = 0;
	const char *p;
	int r = -1;

	if (po__utf8_repair(&tmp, s, n, 0, NULL))
		goto out;
	p = tmp.p ? tmp.p : "";
	n = tmp.len;
	if (po__buf_reserve(b, n + n / 8))
		goto out;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		const char *rep;

		switch (c) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		case '\t':
		case '\n':
		case '\r':
			continue;
		default:
			if (c >= 0x20 && c != 0x7f)
				continue;
			rep = "\xef\xbf\xbd";
		}
		if (po__buf_append(b, p + run, i - run) || po__buf_puts(b, rep))
			goto out;
		run = i + 1;
	}
	r = po__buf_append(b, p + run, n - run);
out:
	po__buf_free(&tmp);
	return r;
}

static int esc(po__buf *b, const char *s)
{
	return po__html_escape(b, s, strlen(s));
}

/* A file name as shown: escaped, and with the characters that reorder
 * text (bidirectional overrides and isolates, which can make
 * "invoice\u202Efdp.exe" read "invoiceexe.pdf") written as visible
 * [U+202E] marks. */
static int esc_name(po__buf *b, const char *s)
{
	size_t i = 0, run = 0, n = strlen(s);

	while (i < n) {
		const unsigned char *u = (const unsigned char *)s + i;
		unsigned cp = 0;

		if (i + 2 < n && u[0] == 0xe2 && u[1] == 0x80 &&
		    ((u[2] >= 0x8e && u[2] <= 0x8f) ||
		     (u[2] >= 0xaa && u[2] <= 0xae)))
			cp = 0x2000 + (u[2] - 0x80);
		else if (i + 2 < n && u[0] == 0xe2 && u[1] == 0x81 &&
			 u[2] >= 0xa6 && u[2] <= 0xa9)
			cp = 0x2040 + (u[2] - 0x80);
		else if (i + 1 < n && u[0] == 0xd8 && u[1] == 0x9c)
			cp = 0x061c;
		if (!cp) {
			i++;
			continue;
		}
		if (po__html_escape(b, s + run, i - run) ||
		    po__buf_printf(b, "<span class=\"ctl\">[U+%04X]</span>",
				   cp))
			return -1;
		i += cp == 0x061c ? 2 : 3;
		run = i;
	}
	return po__html_escape(b, s + run, n - run);
}

/* ---------------------------------------------------------------------
 * The letter's leaves */

struct leaf {
	const po_entity *e;
	size_t index;     /* 1-based, among all leaves */
	char file[32];    /* saved as; "" when not saved */
	char label[64];   /* "part 3" */
};

struct letter {
	const po_entity *root;
	struct leaf *leaf;
	size_t nleaves, cap;
	const struct leaf *text, *html; /* shown in the tabs, or NULL */
	size_t unresolved;              /* cid: references not found */
	po__buf doc;                    /* the srcdoc document */
};

static int collect(struct letter *l, const po_entity *e)
{
	size_t i, n = po_entity_part_count(e);

	if (n) {
		for (i = 0; i < n; i++)
			if (collect(l, po_entity_part(e, i)))
				return -1;
		return 0;
	}
	if (l->nleaves == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct leaf *v = realloc(l->leaf, cap * sizeof *v);

		if (!v)
			return -1;
		l->leaf = v;
		l->cap = cap;
	}
	memset(&l->leaf[l->nleaves], 0, sizeof l->leaf[0]);
	l->leaf[l->nleaves].e = e;
	l->leaf[l->nleaves].index = l->nleaves + 1;
	snprintf(l->leaf[l->nleaves].label, sizeof l->leaf[0].label,
		 "part %zu", l->nleaves + 1);
	l->nleaves++;
	return 0;
}

/* The extension a saved file keeps: from a short list of types a
 * browser shows without running anything (never html, svg, xml...),
 * taken from the file name, else from the content type; else "bin". */
static const char *safe_extension(const po_entity *e)
{
	static const char *const passive[] = {
		"txt", "csv", "pdf", "png", "jpg", "jpeg", "gif", "webp",
		"bmp", "ico", "zip", "gz", "tgz", "bz2", "xz", "7z", "tar",
		"doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods",
		"odp", "rtf", "ics", "vcf", "eml", "mp3", "mp4", "m4a",
		"wav", "ogg", "webm", "mov", "json", "bin", "dat"};
	static const struct {
		const char *type, *ext;
	} bytype[] = {{"text/plain", "txt"},	  {"text/csv", "csv"},
		      {"application/pdf", "pdf"}, {"image/png", "png"},
		      {"image/jpeg", "jpg"},	  {"image/gif", "gif"},
		      {"image/webp", "webp"},	  {"message/rfc822", "eml"},
		      {"application/zip", "zip"}, {"text/calendar", "ics"}};
	const char *name = po_entity_filename(e), *dot;
	size_t i;

	dot = name ? strrchr(name, '.') : NULL;
	if (dot && !strchr(dot, '/'))
		for (i = 0; i < sizeof passive / sizeof passive[0]; i++)
			if (strcasecmp(dot + 1, passive[i]) == 0)
				return passive[i];
	for (i = 0; i < sizeof bytype / sizeof bytype[0]; i++)
		if (strcmp(po_entity_type(e), bytype[i].type) == 0)
			return bytype[i].ext;
	return "bin";
}

/* Pick the text and HTML parts, and name the files of the others. */
static void arrange(struct letter *l)
{
	size_t i;

	for (i = 0; i < l->nleaves; i++) {
		struct leaf *f = &l->leaf[i];
		const char *type = po_entity_type(f->e);

		if (po_entity_is_attachment(f->e))
			continue;
		if (!l->text && strcmp(type, "text/plain") == 0)
			l->text = f;
		else if (!l->html && strcmp(type, "text/html") == 0)
			l->html = f;
	}
	for (i = 0; i < l->nleaves; i++) {
		struct leaf *f = &l->leaf[i];

		if (f == l->text || f == l->html)
			continue;
		snprintf(f->file, sizeof f->file, "part-%zu.%s", f->index,
			 safe_extension(f->e));
	}
}

/* ---------------------------------------------------------------------
 * cid: references (RFC 2392) become data: URLs (RFC 2397) */

/* The content type an inline image is shown with, or NULL when the part
 * is not an image. */
static const char *image_type(const po_entity *e)
{
	const char *t = po_entity_type(e), *name;
	size_t i;

	if (strcmp(t, "application/octet-stream") == 0 &&
	    (name = po_entity_filename(e)) != NULL)
		t = po_mime_type_for_name(name);
	if (strncmp(t, "image/", 6) != 0)
		return NULL;
	for (i = 0; t[i]; i++)
		if (!((t[i] >= 'a' && t[i] <= 'z') ||
		      (t[i] >= '0' && t[i] <= '9') || strchr("/.+-", t[i])))
			return NULL;
	return t;
}

static const struct leaf *find_cid(const struct letter *l, const char *cid)
{
	size_t i;

	for (i = 0; i < l->nleaves; i++) {
		const char *c = po_entity_content_id(l->leaf[i].e);

		if (c && strcmp(c, cid) == 0)
			return &l->leaf[i];
	}
	for (i = 0; i < l->nleaves; i++) {
		const char *c = po_entity_content_id(l->leaf[i].e);

		if (c && strcasecmp(c, cid) == 0)
			return &l->leaf[i];
	}
	return NULL;
}

static int append_data_url(po__buf *b, const char *type, const void *data,
			   size_t n)
{
	const unsigned char *p = data;

	if (po__buf_printf(b, "data:%s;base64,", type) ||
	    po__buf_reserve(b, (n + 2) / 3 * 4))
		return -1;
	/* the encoder writes 3 octets into 4 characters, no line breaks */
	while (n) {
		size_t k = n > 3 * 4096 ? 3 * 4096 : n;

		if (po__buf_reserve(b, (k + 2) / 3 * 4))
			return -1;
		b->len += po__b64_plain(p, k, b->p + b->len);
		b->p[b->len] = '\0';
		p += k;
		n -= k;
	}
	return 0;
}

static int url_char(char c)
{
	return !(c == '"' || c == '\'' || c == '<' || c == '>' || c == ')' ||
		 c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
		 c == '\0');
}

/* Append the HTML with each cid: URL of an inline image of the letter
 * replaced by a data: URL of it. */
static int resolve_cids(po__buf *b, struct letter *l, const char *html,
			size_t n)
{
	size_t i = 0, run = 0;
	po__buf cid = PO__BUF_INIT;
	int r = -1;

	while (i + 4 <= n) {
		const struct leaf *f;
		const char *type;
		size_t end, k;

		if (strncasecmp(html + i, "cid:", 4) != 0 ||
		    (i > 0 && !strchr("\"'=( \t\r\n", html[i - 1]))) {
			i++;
			continue;
		}
		for (end = i + 4; end < n && url_char(html[end]); end++)
			;
		cid.len = 0;
		for (k = i + 4; k < end; k++) {
			static const char hex[] = "0123456789abcdef";
			const char *h, *lo;

			if (html[k] == '%' && k + 2 < end &&
			    (h = strchr(hex, html[k + 1] | 0x20)) != NULL &&
			    html[k + 1] && html[k + 2] &&
			    (lo = strchr(hex, html[k + 2] | 0x20)) != NULL) {
				if (po__buf_putc(&cid, (char)((h - hex) * 16 +
							      (lo - hex))))
					goto out;
				k += 2;
			} else if (po__buf_putc(&cid, html[k])) {
				goto out;
			}
		}
		f = cid.len ? find_cid(l, cid.p) : NULL;
		type = f ? image_type(f->e) : NULL;
		if (!type) {
			l->unresolved++;
			i = end;
			continue;
		}
		{
			size_t len;
			const void *body = po_entity_body(f->e, &len);

			if (po__buf_append(b, html + run, i - run) ||
			    append_data_url(b, type, body, len))
				goto out;
		}
		i = run = end;
	}
	r = po__buf_append(b, html + run, n - run);
out:
	po__buf_free(&cid);
	return r;
}

/* ---------------------------------------------------------------------
 * The page */

static const char style[] =
	":root{color-scheme:light dark;--fg:#1d2430;--mute:#5b6575;"
	"--line:#d9dee7;--bg:#f4f6f9;--card:#fff;--accent:#2357c6;"
	"--warn:#fff4d6;--warnline:#e0b252}"
	"@media (prefers-color-scheme:dark){:root{--fg:#e6e9ef;"
	"--mute:#9aa3b2;--line:#343b48;--bg:#161a21;--card:#1f242d;"
	"--accent:#7aa2ff;--warn:#3a3220;--warnline:#8a6d2a}}"
	"*{box-sizing:border-box}"
	"body{margin:0;background:var(--bg);color:var(--fg);"
	"font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,"
	"'DejaVu Sans',sans-serif}"
	"main{max-width:960px;margin:0 auto;padding:16px}"
	".card{background:var(--card);border:1px solid var(--line);"
	"border-radius:10px;padding:14px 18px;margin:0 0 14px}"
	"h1{font-size:1.35em;margin:0 0 10px;overflow-wrap:anywhere}"
	"h1.none{color:var(--mute);font-style:italic}"
	"h2{font-size:1em;margin:0 0 8px}"
	"dl{display:grid;grid-template-columns:max-content 1fr;"
	"gap:3px 14px;margin:0}"
	"dt{color:var(--mute);font-weight:600}"
	"dd{margin:0;overflow-wrap:anywhere;min-width:0}"
	".envelope{font-size:.92em;margin-top:10px;padding-top:10px;"
	"border-top:1px dashed var(--line)}"
	".envelope h2{color:var(--mute);font-weight:600}"
	".bcc{font-weight:600}"
	".problems{background:var(--warn);border-color:var(--warnline)}"
	".problems ul{margin:0;padding-left:20px}"
	".tabs>input{position:absolute;opacity:0;pointer-events:none}"
	".tabs>label{display:inline-block;padding:7px 14px;margin:0 4px -1px 0;"
	"border:1px solid var(--line);border-radius:8px 8px 0 0;"
	"background:var(--bg);cursor:pointer;color:var(--mute)}"
	".tabs>input:checked+label{background:var(--card);color:var(--fg);"
	"border-bottom-color:var(--card);font-weight:600}"
	".tabs>input:focus-visible+label{outline:2px solid var(--accent)}"
	".panel{display:none;background:var(--card);"
	"border:1px solid var(--line);border-radius:0 10px 10px 10px;"
	"padding:12px;margin-bottom:14px}"
	"#tab-html:checked~#panel-html,#tab-text:checked~#panel-text,"
	"#tab-raw:checked~#panel-raw{display:block}"
	"iframe{display:block;width:100%;height:70vh;min-height:240px;"
	"border:1px solid var(--line);border-radius:6px;background:#fff;"
	"color-scheme:light}"
	"pre{margin:0;white-space:pre-wrap;overflow-wrap:anywhere;"
	"font:13px/1.5 ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,"
	"monospace}"
	".note{color:var(--mute);font-size:.9em;margin:8px 0 0}"
	"ul.parts{list-style:none;margin:0;padding:0}"
	"ul.parts li{display:flex;flex-wrap:wrap;gap:4px 12px;"
	"align-items:baseline;padding:6px 0;border-top:1px solid var(--line)}"
	"ul.parts li:first-child{border-top:0}"
	".name{font-weight:600;overflow-wrap:anywhere;min-width:0}"
	".meta{color:var(--mute);font-size:.9em}"
	".ctl{color:#c0392b;font-size:.85em}"
	"a{color:var(--accent)}"
	"footer{color:var(--mute);font-size:.85em;text-align:center;"
	"padding:4px 0 18px}"
	"@media (max-width:600px){main{padding:8px}"
	".card{padding:10px 12px}dl{grid-template-columns:1fr}"
	"dt{margin-top:4px}iframe{height:60vh}"
	".tabs>label{padding:6px 10px}}";

/* 1 if the header value names the address (case-insensitively, as a
 * whole address: "<a@b>", "a@b," ...). */
static int names_address(const char *header, const char *addr)
{
	size_t n = strlen(addr);
	const char *p = header;

	if (!header || n == 0)
		return 0;
	for (; *p; p++) {
		if (strncasecmp(p, addr, n) != 0)
			continue;
		if ((p == header || strchr("<, \t\"':;", p[-1])) &&
		    (!p[n] || strchr(">, \t\"';", p[n])))
			return 1;
	}
	return 0;
}

static int field_row(po__buf *b, const char *label, const char *value)
{
	if (!value)
		return 0;
	return po__buf_printf(b, "<dt>%s</dt><dd><bdi>", label) ||
	       esc(b, value) || po__buf_puts(b, "</bdi></dd>\n");
}

static int envelope(po__buf *b, const po_preview *pv, const po_entity *root)
{
	const char *to = po_entity_header(root, "To");
	const char *cc = po_entity_header(root, "Cc");
	size_t i, nbcc = 0;

	if (po__buf_puts(b, "<section class=\"envelope\" id=\"envelope\">"
			    "<h2>Envelope</h2>\n"))
		return -1;
	if (!pv->has_envelope)
		return po__buf_puts(b, "<p class=\"note\">Not known: only the "
				       "letter was given, not the envelope "
				       "it was sent with.</p></section>\n");
	if (po__buf_puts(b, "<dl>\n") ||
	    field_row(b, "MAIL FROM",
		      pv->from && *pv->from ? pv->from : "<>"))
		return -1;
	/* one row: a letter to many must not push the letter down */
	if (pv->nrcpt && po__buf_puts(b, "<dt>RCPT TO</dt><dd id=\"rcpt\">"))
		return -1;
	for (i = 0; i < pv->nrcpt; i++)
		if (po__buf_puts(b, i ? ", <bdi>" : "<bdi>") ||
		    esc(b, pv->rcpt[i]) || po__buf_puts(b, "</bdi>"))
			return -1;
	if (pv->nrcpt && po__buf_puts(b, "</dd>\n"))
		return -1;
	for (i = 0; i < pv->nrcpt; i++) {
		if (names_address(to, pv->rcpt[i]) ||
		    names_address(cc, pv->rcpt[i]))
			continue;
		if (po__buf_puts(b, nbcc ? ", <bdi>"
					 : "<dt class=\"bcc\">Bcc</dt>"
					   "<dd class=\"bcc\" id=\"bcc\"><bdi>") ||
		    esc(b, pv->rcpt[i]) || po__buf_puts(b, "</bdi>"))
			return -1;
		nbcc++;
	}
	if (nbcc && po__buf_puts(b, "</dd>\n"))
		return -1;
	return po__buf_puts(b, "</dl></section>\n");
}

/* "12.3 KB" */
static int size_text(po__buf *b, size_t n)
{
	if (n < 1024)
		return po__buf_printf(b, "%zu byte%s", n, n == 1 ? "" : "s");
	if (n < 1024 * 1024)
		return po__buf_printf(b, "%.1f KB", n / 1024.0);
	return po__buf_printf(b, "%.1f MB", n / (1024.0 * 1024.0));
}

static int problems(po__buf *b, const struct letter *l, size_t rawlen)
{
	size_t i, k, count = 0;

	for (i = 0; i < 2; i++) {
		/* pass 0 counts, pass 1 writes */
		const po_entity *stack[64];
		size_t depth = 0, idx[64];

		if (i == 1 && count == 0 && !l->unresolved &&
		    rawlen <= RAW_MAX && (l->text || l->html))
			return 0;
		if (i == 1 &&
		    po__buf_puts(b, "<section class=\"card problems\" "
				    "id=\"problems\"><h2>What could not be "
				    "shown as it should</h2><ul>\n"))
			return -1;
		/* walk the tree depth first without recursion */
		stack[0] = l->root;
		idx[0] = 0;
		depth = 1;
		while (depth) {
			const po_entity *e = stack[depth - 1];

			if (idx[depth - 1] == 0) {
				const char *where = "the letter";
				char label[64] = "";

				for (k = 0; k < l->nleaves; k++)
					if (l->leaf[k].e == e && e != l->root)
						snprintf(label, sizeof label,
							 "%s", l->leaf[k].label);
				if (*label)
					where = label;
				else if (e != l->root)
					where = po_entity_type(e);
				for (k = 0; k < po_entity_problem_count(e);
				     k++) {
					count++;
					if (i == 1 &&
					    (po__buf_puts(b, "<li>") ||
					     esc(b, where) ||
					     po__buf_puts(b, ": ") ||
					     esc(b, po_entity_problem(e, k)) ||
					     po__buf_puts(b, "</li>\n")))
						return -1;
				}
			}
			if (idx[depth - 1] < po_entity_part_count(e) &&
			    depth < 64) {
				stack[depth] =
					po_entity_part(e, idx[depth - 1]++);
				idx[depth] = 0;
				depth++;
			} else {
				depth--;
			}
		}
	}
	if (l->unresolved &&
	    po__buf_printf(b, "<li>the HTML part: %zu cid: reference%s "
			      "name%s no image of the letter (not shown)"
			      "</li>\n",
			   l->unresolved, l->unresolved == 1 ? "" : "s",
			   l->unresolved == 1 ? "s" : ""))
		return -1;
	if (!l->text && !l->html &&
	    po__buf_puts(b, "<li>the letter: it has no text or HTML part to "
			    "show (see the raw source and the parts)</li>\n"))
		return -1;
	if (rawlen > RAW_MAX &&
	    po__buf_printf(b, "<li>the raw source: only its first %d KB "
			      "are shown (the whole letter is in "
			      "<a href=\"letter.eml\">letter.eml</a>)</li>\n",
			   RAW_MAX / 1024))
		return -1;
	return po__buf_puts(b, "</ul></section>\n");
}

static int parts_list(po__buf *b, const struct letter *l)
{
	size_t i, n = 0;

	for (i = 0; i < l->nleaves; i++)
		if (l->leaf[i].file[0])
			n++;
	if (po__buf_printf(b, "<section class=\"card\" id=\"attachments\">"
			      "<h2>Attachments and other parts (%zu)</h2>\n",
			   n))
		return -1;
	if (n == 0)
		return po__buf_puts(b, "<p class=\"note\">None.</p>"
				       "</section>\n");
	if (po__buf_puts(b, "<ul class=\"parts\">\n"))
		return -1;
	for (i = 0; i < l->nleaves; i++) {
		const struct leaf *f = &l->leaf[i];
		const char *name = po_entity_filename(f->e);
		const char *disp = po_entity_disposition(f->e);
		const char *cid = po_entity_content_id(f->e);
		size_t len;

		if (!f->file[0])
			continue;
		po_entity_body(f->e, &len);
		if (po__buf_printf(b, "<li><a class=\"name\" href=\"%s\" "
				      "type=\"",
				   f->file) ||
		    esc(b, po_entity_type(f->e)) || po__buf_puts(b, "\">"))
			return -1;
		if (name) {
			if (po__buf_puts(b, "<bdi>") || esc_name(b, name) ||
			    po__buf_puts(b, "</bdi>"))
				return -1;
		} else if (po__buf_printf(b, "(no name: %s)", f->label)) {
			return -1;
		}
		if (po__buf_puts(b, "</a> <span class=\"meta\">") ||
		    esc(b, po_entity_type(f->e)) || po__buf_puts(b, " · ") ||
		    size_text(b, len) ||
		    (len >= 1024 && po__buf_printf(b, " (%zu bytes)", len)))
			return -1;
		if (disp && (po__buf_puts(b, " · ") || esc(b, disp)))
			return -1;
		if (cid && (po__buf_puts(b, " · cid:") || esc(b, cid)))
			return -1;
		if (po__buf_printf(b, " · saved as %s</span></li>\n", f->file))
			return -1;
	}
	return po__buf_puts(b, "</ul></section>\n");
}

/* The document of the srcdoc attribute: our head (charset, CSP, no
 * referrer) and the letter's HTML with its cid: images resolved. */
static int srcdoc(struct letter *l)
{
	size_t n;
	const char *html = po_entity_text(l->html->e, &n);

	return po__buf_puts(&l->doc,
			    "<!DOCTYPE html><html><head>"
			    "<meta charset=\"utf-8\">"
			    "<meta http-equiv=\"Content-Security-Policy\" "
			    "content=\"" CSP_LETTER "\">"
			    "<meta name=\"referrer\" content=\"no-referrer\">"
			    "</head>\n") ||
	       resolve_cids(&l->doc, l, html ? html : "", n);
}

static int tabs(po__buf *b, struct letter *l, const void *octets,
		size_t len)
{
	const char *first = l->html ? "html" : l->text ? "text" : "raw";
	size_t n;

	if (po__buf_puts(b, "<section class=\"tabs\" id=\"views\">\n"))
		return -1;
	if (l->html &&
	    po__buf_printf(b, "<input type=\"radio\" name=\"view\" "
			      "id=\"tab-html\"%s><label for=\"tab-html\">"
			      "HTML</label>\n",
			   strcmp(first, "html") ? "" : " checked"))
		return -1;
	if (l->text &&
	    po__buf_printf(b, "<input type=\"radio\" name=\"view\" "
			      "id=\"tab-text\"%s><label for=\"tab-text\">"
			      "Text</label>\n",
			   strcmp(first, "text") ? "" : " checked"))
		return -1;
	if (po__buf_printf(b, "<input type=\"radio\" name=\"view\" "
			      "id=\"tab-raw\"%s><label for=\"tab-raw\">"
			      "Raw source</label>\n",
			   strcmp(first, "raw") ? "" : " checked"))
		return -1;
	if (l->html) {
		if (po__buf_puts(b, "<div class=\"panel\" id=\"panel-html\">"
				    "<iframe sandbox=\"\" "
				    "referrerpolicy=\"no-referrer\" "
				    "title=\"The HTML part of the letter\" "
				    "srcdoc=\"") ||
		    po__html_escape(b, l->doc.p ? l->doc.p : "", l->doc.len) ||
		    po__buf_puts(b, "\"") ||
		    po__buf_puts(b, "></iframe><p class=\"note\">Shown "
				    "without scripts and without anything "
				    "from the network: remote images and "
				    "styles stay blank.</p></div>\n"))
			return -1;
	}
	if (l->text) {
		const char *text = po_entity_text(l->text->e, &n);

		if (po__buf_puts(b, "<div class=\"panel\" id=\"panel-text\">"
				    "<pre id=\"text\">") ||
		    po__html_escape(b, text ? text : "", n) ||
		    po__buf_puts(b, "</pre></div>\n"))
			return -1;
	}
	if (po__buf_puts(b, "<div class=\"panel\" id=\"panel-raw\">"
			    "<pre id=\"raw\">") ||
	    po__html_escape(b, octets, len > RAW_MAX ? RAW_MAX : len) ||
	    po__buf_printf(b, "</pre><p class=\"note\">%s"
			      "<a href=\"letter.eml\">letter.eml</a> "
			      "(%zu bytes).</p></div>\n",
			   len > RAW_MAX ? "Cut short here; the whole letter: "
					 : "The letter as a file: ",
			   len))
		return -1;
	return po__buf_puts(b, "</section>\n");
}

static int page(po__buf *b, const po_preview *pv, struct letter *l,
		const void *octets, size_t len)
{
	static const char *const shown[] = {"From", "To", "Cc", "Bcc",
					    "Reply-To", "Date",
					    "Message-ID"};
	const char *subject = po_entity_header(l->root, "Subject");
	size_t i;

	/* first, as it counts the cid: references it cannot resolve */
	if (l->html && srcdoc(l))
		return -1;
	if (po__buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
			    "<meta charset=\"utf-8\">\n"
			    "<meta http-equiv=\"Content-Security-Policy\" "
			    "content=\"" CSP_PAGE "\">\n"
			    "<meta name=\"referrer\" content=\"no-referrer\">\n"
			    "<meta name=\"viewport\" content=\"width=device-"
			    "width, initial-scale=1\">\n<title>") ||
	    esc(b, subject && *subject ? subject : "(no subject)") ||
	    po__buf_puts(b, " – letter preview</title>\n<style>") ||
	    po__buf_puts(b, style) ||
	    po__buf_puts(b, "</style>\n</head><body><main>\n"
			    "<header class=\"card\" id=\"letter\">\n"))
		return -1;
	if (subject && *subject) {
		if (po__buf_puts(b, "<h1 id=\"subject\"><bdi>") ||
		    esc(b, subject) || po__buf_puts(b, "</bdi></h1>\n"))
			return -1;
	} else if (po__buf_puts(b, "<h1 id=\"subject\" class=\"none\">"
				   "(no subject)</h1>\n")) {
		return -1;
	}
	if (po__buf_puts(b, "<dl id=\"fields\">\n"))
		return -1;
	for (i = 0; i < sizeof shown / sizeof shown[0]; i++)
		if (field_row(b, shown[i], po_entity_header(l->root, shown[i])))
			return -1;
	if (po__buf_puts(b, "</dl>\n") || envelope(b, pv, l->root) ||
	    po__buf_puts(b, "</header>\n") || problems(b, l, len) ||
	    parts_list(b, l) || tabs(b, l, octets, len))
		return -1;
	return po__buf_printf(b, "<footer>Written by postoffice %s. This "
				 "page runs no scripts and loads nothing "
				 "from the network; the parts are saved "
				 "beside it.</footer>\n</main></body>"
				 "</html>\n",
			      po_version());
}

int po__preview_html(const po_preview *pv, const po_entity *root,
		     const void *octets, size_t len, po__buf *out,
		     struct po__preview_file **files, size_t *nfiles)
{
	struct letter l;
	size_t i, n = 0;
	int r = PO_ENOMEM;

	memset(&l, 0, sizeof l);
	l.root = root;
	*files = NULL;
	*nfiles = 0;
	if (collect(&l, root))
		goto out;
	arrange(&l);
	if (page(out, pv, &l, octets, len))
		goto out;
	*files = calloc(l.nleaves + 1, sizeof **files);
	if (!*files)
		goto out;
	for (i = 0; i < l.nleaves; i++) {
		if (!l.leaf[i].file[0])
			continue;
		memcpy((*files)[n].name, l.leaf[i].file,
		       sizeof (*files)[n].name);
		(*files)[n].data = po_entity_body(l.leaf[i].e,
						  &(*files)[n].len);
		n++;
	}
	*nfiles = n;
	r = PO_OK;
out:
	free(l.leaf);
	po__buf_free(&l.doc);
	return r;
}

/* ---------------------------------------------------------------------
 * Writing the files */

static int errno_status(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		return PO_ENOENT;
	case EACCES:
	case EPERM:
	case EROFS:
		return PO_EACCES;
	case ENOMEM:
		return PO_ENOMEM;
	default:
		return PO_EIO;
	}
}

/* Create name inside the directory dirfd (never following a link, never
 * replacing a file) and write n octets into it. */
static int write_new(int dirfd, const char *dir, const char *name,
		     const void *data, size_t n)
{
	const char *p = data;
	int fd, e;

	fd = openat(dirfd, name,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd < 0) {
		e = errno;
		return po__fail(errno_status(e), "preview: cannot create %s/%s: "
				"%s", dir, name, strerror(e));
	}
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			e = w < 0 ? errno : EIO;
			close(fd);
			return po__fail(errno_status(e), "preview: cannot write "
					"%s/%s: %s", dir, name, strerror(e));
		}
		p += w;
		n -= (size_t)w;
	}
	if (close(fd) < 0) {
		e = errno;
		return po__fail(errno_status(e), "preview: cannot write %s/%s: "
				"%s", dir, name, strerror(e));
	}
	return PO_OK;
}

static void remove_all(int dirfd, const char *dir,
		       const struct po__preview_file *files, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		unlinkat(dirfd, files[i].name, 0);
	unlinkat(dirfd, "letter.eml", 0);
	unlinkat(dirfd, "index.html", 0);
	rmdir(dir);
}

int po_preview_write(po_preview *pv, const void *octets, size_t len)
{
	po_entity *root = NULL;
	po__buf html = PO__BUF_INIT, dir = PO__BUF_INIT;
	struct po__preview_file *files = NULL;
	size_t nfiles = 0, i;
	const char *parent;
	int r, dirfd = -1, made = 0;
	char *path;

	if (!pv || (!octets && len))
		return po__fail(PO_EINVAL, "po_preview_write: NULL argument");
	if (!octets)
		octets = "";
	r = po_entity_parse(octets, len, &root);
	if (r)
		goto out;
	r = po__preview_html(pv, root, octets, len, &html, &files, &nfiles);
	if (r) {
		po__fail(r, NULL);
		goto out;
	}
	parent = pv->dir;
	if (!parent || !*parent)
		parent = getenv("TMPDIR");
	if (!parent || !*parent)
		parent = "/tmp";
	r = PO_ENOMEM;
	if (po__buf_puts(&dir, parent)) {
		po__fail(r, NULL);
		goto out;
	}
	while (dir.len > 1 && dir.p[dir.len - 1] == '/')
		dir.len--;
	if (po__buf_puts(&dir, "/" DIR_PREFIX "XXXXXX")) {
		po__fail(r, NULL);
		goto out;
	}
	if (!mkdtemp(dir.p)) {
		int e = errno;

		r = po__fail(errno_status(e), "preview: cannot make a "
			     "directory in %s: %s", parent, strerror(e));
		goto out;
	}
	made = 1;
	dirfd = open(dir.p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0) {
		int e = errno;

		r = po__fail(errno_status(e), "preview: cannot open %s: %s",
			     dir.p, strerror(e));
		goto out;
	}
	r = write_new(dirfd, dir.p, "letter.eml", octets, len);
	for (i = 0; r == PO_OK && i < nfiles; i++)
		r = write_new(dirfd, dir.p, files[i].name, files[i].data,
			      files[i].len);
	if (r == PO_OK)
		r = write_new(dirfd, dir.p, "index.html", html.p ? html.p : "",
			      html.len);
	if (r)
		goto out;
	if (po__buf_puts(&dir, "/index.html")) {
		r = po__fail(PO_ENOMEM, NULL);
		goto out;
	}
	path = po__buf_steal(&dir);
	if (!path) {
		r = po__fail(PO_ENOMEM, NULL);
		goto out;
	}
	free(pv->path);
	pv->path = path;
	made = 0;
out:
	if (made && dirfd >= 0)
		remove_all(dirfd, dir.p, files, nfiles);
	else if (made)
		rmdir(dir.p);
	if (dirfd >= 0)
		close(dirfd);
	free(files);
	po__buf_free(&html);
	po__buf_free(&dir);
	po_entity_free(root);
	return r;
}

/* Read the whole file at path into *out.  Missing files and the like are
 * reported with po__fail. */
static int read_file(const char *path, po__buf *out)
{
	struct stat st;
	int fd, e;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		return po__fail(errno_status(e), "preview: cannot open %s: %s",
				path, strerror(e));
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return po__fail(PO_EISDIR, "preview: %s is a directory", path);
	}
	for (;;) {
		ssize_t got;

		if (po__buf_reserve(out, 65536)) {
			close(fd);
			return po__fail(PO_ENOMEM, NULL);
		}
		got = read(fd, out->p + out->len, out->cap - out->len - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			e = errno;
			close(fd);
			return po__fail(PO_EIO, "preview: cannot read %s: %s",
					path, strerror(e));
		}
		if (got == 0)
			break;
		out->len += (size_t)got;
		out->p[out->len] = '\0';
	}
	close(fd);
	return PO_OK;
}

int po_preview_write_file(po_preview *pv, const char *path)
{
	po__buf letter = PO__BUF_INIT;
	size_t n;
	int r;

	if (!pv || !path || !*path)
		return po__fail(PO_EINVAL, "po_preview_write_file: no file");
	r = read_file(path, &letter);
	if (r)
		goto out;
	n = strlen(path);
	if (!pv->has_envelope && n > 4 && strcmp(path + n - 4, ".eml") == 0) {
		po__buf name = PO__BUF_INIT, env = PO__BUF_INIT;
		struct stat st;

		if (po__buf_append(&name, path, n - 4) ||
		    po__buf_puts(&name, ".envelope")) {
			po__buf_free(&name);
			r = po__fail(PO_ENOMEM, NULL);
			goto out;
		}
		/* an envelope file that cannot be read is left out */
		if (stat(name.p, &st) == 0 && S_ISREG(st.st_mode) &&
		    read_file(name.p, &env) == PO_OK)
			r = po_preview_read_envelope(pv, env.p ? env.p : "",
						     env.len);
		po__buf_free(&name);
		po__buf_free(&env);
		if (r)
			goto out;
		r = po_preview_write(pv, letter.p ? letter.p : "",
				     letter.len);
		/* the envelope was the file's, not the handle's */
		clear_envelope(pv);
		goto out;
	}
	r = po_preview_write(pv, letter.p ? letter.p : "", letter.len);
out:
	po__buf_free(&letter);
	return r;
}

/* ---------------------------------------------------------------------
 * The handle */

po_preview *po_preview_new(void)
{
	return calloc(1, sizeof(po_preview));
}

static void clear_envelope(po_preview *pv)
{
	size_t i;

	free(pv->from);
	pv->from = NULL;
	for (i = 0; i < pv->nrcpt; i++)
		free(pv->rcpt[i]);
	pv->nrcpt = 0;
	pv->has_envelope = 0;
}

void po_preview_free(po_preview *pv)
{
	if (!pv)
		return;
	clear_envelope(pv);
	free(pv->rcpt);
	free(pv->dir);
	free(pv->path);
	free(pv);
}

int po_preview_set_envelope_from(po_preview *pv, const char *address)
{
	char *copy = NULL;

	if (!pv)
		return po__fail(PO_EINVAL, NULL);
	if (address && !(copy = strdup(address)))
		return po__fail(PO_ENOMEM, NULL);
	free(pv->from);
	pv->from = copy;
	pv->has_envelope = copy || pv->nrcpt;
	return PO_OK;
}

int po_preview_add_recipient(po_preview *pv, const char *address)
{
	char *copy;

	if (!pv || !address)
		return po__fail(PO_EINVAL, "po_preview_add_recipient: NULL");
	if (pv->nrcpt == pv->caprcpt) {
		size_t cap = pv->caprcpt ? pv->caprcpt * 2 : 8;
		char **v = realloc(pv->rcpt, cap * sizeof *v);

		if (!v)
			return po__fail(PO_ENOMEM, NULL);
		pv->rcpt = v;
		pv->caprcpt = cap;
	}
	copy = strdup(address);
	if (!copy)
		return po__fail(PO_ENOMEM, NULL);
	pv->rcpt[pv->nrcpt++] = copy;
	pv->has_envelope = 1;
	return PO_OK;
}

/* The address in "<...>" after prefix at the start of line (any case),
 * or NULL. */
static char *envelope_address(const char *line, size_t n, const char *prefix)
{
	size_t k = strlen(prefix), i;
	const char *lt, *gt;
	po__buf b = PO__BUF_INIT;

	if (n < k || strncasecmp(line, prefix, k) != 0)
		return NULL;
	for (i = k; i < n && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	lt = memchr(line + i, '<', n - i);
	gt = lt ? memchr(lt, '>', n - (size_t)(lt - line)) : NULL;
	if (!lt || !gt)
		return NULL;
	if (po__utf8_repair(&b, lt + 1, (size_t)(gt - lt - 1), 0, NULL) ||
	    po__buf_putc(&b, '\0')) {
		po__buf_free(&b);
		return NULL;
	}
	return po__buf_steal(&b);
}

int po_preview_read_envelope(po_preview *pv, const char *text, size_t len)
{
	size_t i = 0;

	if (!pv || (!text && len))
		return po__fail(PO_EINVAL, "po_preview_read_envelope: NULL");
	if (!text)
		text = "";
	if (len == PO_ZERO_TERMINATED)
		len = strlen(text);
	clear_envelope(pv);
	pv->has_envelope = 1;
	while (i < len) {
		const char *lf = memchr(text + i, '\n', len - i);
		size_t n = (lf ? (size_t)(lf - text) : len) - i;
		char *a;

		if ((a = envelope_address(text + i, n, "MAIL FROM:")) != NULL) {
			free(pv->from);
			pv->from = a;
		} else if ((a = envelope_address(text + i, n, "RCPT TO:")) !=
			   NULL) {
			int r = po_preview_add_recipient(pv, a);

			free(a);
			if (r)
				return r;
		}
		i += n + 1;
	}
	return PO_OK;
}

int po_preview_set_directory(po_preview *pv, const char *directory)
{
	char *copy = NULL;

	if (!pv)
		return po__fail(PO_EINVAL, NULL);
	if (directory && !(copy = strdup(directory)))
		return po__fail(PO_ENOMEM, NULL);
	free(pv->dir);
	pv->dir = copy;
	return PO_OK;
}

const char *po_preview_path(const po_preview *pv)
{
	return pv ? pv->path : NULL;
}

/* ---------------------------------------------------------------------
 * Opening the page */

/* The full name of xdg-open in PATH, or NULL. */
static char *find_in_path(const char *program)
{
	const char *path = getenv("PATH"), *p;

	if (!path || !*path)
		path = "/usr/bin:/bin";
	for (p = path; *p;) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		po__buf b = PO__BUF_INIT;

		if (n && po__buf_append(&b, p, n) == 0 &&
		    po__buf_putc(&b, '/') == 0 &&
		    po__buf_puts(&b, program) == 0 && access(b.p, X_OK) == 0)
			return po__buf_steal(&b);
		po__buf_free(&b);
		p += n + (colon ? 1 : 0);
	}
	return NULL;
}

int po_preview_open(const char *path)
{
	const char *browser = getenv("BROWSER");
	char *argv[6] = {0}, *owned[2] = {0};
	po__buf cmd = PO__BUF_INIT;
	int status, r = PO_ENOMEM, fds[2] = {-1, -1}, err = 0;
	pid_t pid;

	if (!path)
		return po__fail(PO_EINVAL, "po_preview_open: no path");
	if (browser && *browser) {
		/* the first command of the list; "%s" is the page */
		size_t n = strcspn(browser, ":"), i;

		for (i = 0; i < n; i++) {
			if (browser[i] == '%' && browser[i + 1] == 's' &&
			    i + 1 < n) {
				if (po__buf_puts(&cmd, "\"$1\""))
					goto out;
				i++;
			} else if (po__buf_putc(&cmd, browser[i])) {
				goto out;
			}
		}
		if (!strstr(cmd.p ? cmd.p : "", "\"$1\"") &&
		    po__buf_puts(&cmd, " \"$1\""))
			goto out;
		argv[0] = "/bin/sh";
		argv[1] = "-c";
		argv[2] = cmd.p;
		argv[3] = "sh";
		argv[4] = (char *)path;
	} else {
		owned[0] = find_in_path("xdg-open");
		if (!owned[0]) {
			r = po__fail(PO_ENOPROGRAM, "no browser: $BROWSER is "
				     "not set and xdg-open is not in PATH");
			goto out;
		}
		argv[0] = owned[0];
		argv[1] = (char *)path;
	}
	if (pipe2(fds, O_CLOEXEC) < 0) {
		r = po__fail(PO_ENOPROGRAM, "cannot start a browser: %s",
			     strerror(errno));
		goto out;
	}
	/* Two forks: the browser is the grandchild, adopted by init, so
	 * nobody has to wait for it.  Between fork and exec only
	 * async-signal-safe calls. */
	pid = fork();
	if (pid < 0) {
		r = po__fail(PO_ENOPROGRAM, "cannot start a browser: %s",
			     strerror(errno));
		goto out;
	}
	if (pid == 0) {
		pid_t g;

		setsid();
		g = fork();
		if (g == 0) {
			sigset_t none;
			int null = open("/dev/null", O_RDWR);
			int e;

			sigemptyset(&none);
			sigprocmask(SIG_SETMASK, &none, NULL);
			signal(SIGPIPE, SIG_DFL);
			if (null >= 0) {
				dup2(null, 0);
				dup2(null, 1);
				dup2(null, 2);
			}
			execv(argv[0], argv);
			e = errno;
			if (write(fds[1], &e, sizeof e) < 0)
				_exit(127);
			_exit(127);
		}
		_exit(g < 0 ? 1 : 0);
	}
	close(fds[1]);
	fds[1] = -1;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	/* the pipe closes at the exec, or carries its errno */
	while (read(fds[0], &err, sizeof err) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || err) {
		r = po__fail(PO_ENOPROGRAM, "cannot start %s: %s", argv[0],
			     strerror(err ? err : ECHILD));
		goto out;
	}
	r = PO_OK;
out:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	free(owned[0]);
	po__buf_free(&cmd);
	return r;
}
