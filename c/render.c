/* render.c - the wire form of a letter, pulled chunk by chunk.
 *
 * RFC 5322 §3.3 (Date), §3.6 (field order and presence), §3.6.4
 * (Message-ID); RFC 2045 §4 (MIME-Version), §6 (transfer encodings);
 * RFC 2046 §5.1.1 (multipart body syntax); RFC 5321 §4.5.2 (no dot-stuffing
 * here: libcurl does it on SMTP, the program transport needs none).
 *
 * po_reader_new does everything that can fail on the caller's input -
 * checking the letter, choosing encodings, building every header and
 * boundary line - and keeps the result as a list of items: runs of
 * header text held in one buffer, and body items whose octets are read
 * and encoded only when the transport pulls them.  So every input error
 * comes before the first byte, and memory use does not depend on the size
 * of file or reader parts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "encode.h"
#include "po_private.h"

#define CHUNK (54 * 1820) /* input bytes per read: whole base64 lines */
#define LINE_MAX_ 998     /* RFC 5321 §4.5.3.1.6 */

enum item_kind { IT_MEM, IT_BODY };
enum codec { C_CANON, C_BASE64, C_QP };

struct item {
	enum item_kind kind;
	size_t off, len;       /* IT_MEM: range in r->mem */
	const po_part *part;   /* IT_BODY: NULL for a raw letter */
	enum codec codec;
	int qp_text;
	int check_lines;       /* C_CANON from a reader: enforce 998 */
	const char *cte;       /* IT_BODY: the encoding's name, if not the
				  codec's or the part's (message/rfc822) */
	const char *type;      /* IT_BODY: the Content-Type to write instead
				  of the part's, or NULL */
};

struct po_reader {
	po__buf mem;
	size_t mark;           /* start of mem not yet in an item */
	struct item *items;
	size_t nitems, capitems;
	unsigned flags;
	int mime_version_given; /* a raw line "MIME-Version: 1.0" */

	size_t cur;            /* current item */
	size_t pos;            /* IT_MEM: bytes of it already copied */
	int status;            /* sticky error */

	/* the body item being read */
	int active, finished;
	int fd;
	const unsigned char *mp; /* memory source cursor */
	size_t mleft;
	po_read_fn fn;
	void *userdata;
	const char *what;      /* for error messages */
	union {
		po__b64 b64;
		po__qp qp;
		po__crlf crlf;
	} st;
	int check_lines;
	unsigned char *in;     /* CHUNK bytes */
	char *out;
	size_t outcap, outpos, outlen;
};

/* ---------------------------------------------------------------------
 * Building the item list */

static int add_item(po_reader *r, struct item it)
{
	if (r->nitems == r->capitems) {
		size_t cap = r->capitems ? r->capitems * 2 : 8;
		struct item *v = realloc(r->items, cap * sizeof *v);

		if (!v)
			return po__fail(PO_ENOMEM, NULL);
		r->items = v;
		r->capitems = cap;
	}
	r->items[r->nitems++] = it;
	return PO_OK;
}

/* Close the header text written since the last item into an IT_MEM item. */
static int flush_mem(po_reader *r)
{
	struct item it = {0};

	if (r->mem.len == r->mark)
		return PO_OK;
	it.kind = IT_MEM;
	it.off = r->mark;
	it.len = r->mem.len - r->mark;
	r->mark = r->mem.len;
	return add_item(r, it);
}

static int put(po_reader *r, const char *s)
{
	return po__buf_puts(&r->mem, s) ? po__fail(PO_ENOMEM, NULL) : PO_OK;
}

/* Two decimal digits. */
static char *put2(char *o, int v)
{
	o[0] = (char)('0' + v / 10 % 10);
	o[1] = (char)('0' + v % 10);
	return o + 2;
}

/* RFC 5322 §3.3 date-time in local time, with English names whatever the
 * locale.  Formatted by hand: snprintf cost more than the rest of the
 * header block together (bench/run.sh, callgrind). */
static void format_date(char out[64], time_t now)
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed",
					"Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr",
					   "May", "Jun", "Jul", "Aug",
					   "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;
	long off;
	char *o = out;
	int y;

	localtime_r(&now, &tm);
	off = tm.tm_gmtoff / 60;
	memcpy(o, days[tm.tm_wday], 3);
	o += 3;
	*o++ = ',';
	*o++ = ' ';
	if (tm.tm_mday >= 10)
		*o++ = (char)('0' + tm.tm_mday / 10);
	*o++ = (char)('0' + tm.tm_mday % 10);
	*o++ = ' ';
	memcpy(o, months[tm.tm_mon], 3);
	o += 3;
	*o++ = ' ';
	y = tm.tm_year + 1900;
	o = put2(put2(o, y / 100), y % 100);
	*o++ = ' ';
	o = put2(o, tm.tm_hour);
	*o++ = ':';
	o = put2(o, tm.tm_min);
	*o++ = ':';
	o = put2(o, tm.tm_sec);
	*o++ = ' ';
	*o++ = off < 0 ? '-' : '+';
	o = put2(o, (int)(labs(off) / 60));
	o = put2(o, (int)(labs(off) % 60));
	*o = '\0';
}

/* "<YYYYMMDDhhmmss.random@domain>", the domain taken from the sender. */
static int make_message_id(po_letter *l)
{
	static const char hexd[] = "0123456789abcdef";
	unsigned char rnd[10];
	const char *domain = NULL;
	char *id, *o;
	struct tm tm;
	time_t now = time(NULL);
	size_t dn;
	int i, y;

	if (l->has_from) {
		domain = strrchr(l->from.spec, '@');
		if (domain && po__is_ascii(domain + 1, strlen(domain + 1)))
			domain++;
		else
			domain = NULL;
	}
	if (!domain)
		domain = "localhost";
	dn = strlen(domain);
	gmtime_r(&now, &tm);
	po__random(rnd, sizeof rnd);
	id = malloc(1 + 14 + 1 + 20 + 1 + dn + 2);
	if (!id)
		return po__fail(PO_ENOMEM, NULL);
	o = id;
	*o++ = '<';
	y = tm.tm_year + 1900;
	o = put2(put2(o, y / 100), y % 100);
	o = put2(o, tm.tm_mon + 1);
	o = put2(o, tm.tm_mday);
	o = put2(o, tm.tm_hour);
	o = put2(o, tm.tm_min);
	o = put2(o, tm.tm_sec);
	*o++ = '.';
	for (i = 0; i < 10; i++) {
		*o++ = hexd[rnd[i] >> 4];
		*o++ = hexd[rnd[i] & 15];
	}
	*o++ = '@';
	memcpy(o, domain, dn);
	o += dn;
	*o++ = '>';
	*o = '\0';
	free(l->message_id);
	l->message_id = id;
	return PO_OK;
}

static const char *raw_line_value(const po_letter *l, const char *name,
				  size_t *len)
{
	size_t i, name_len, value_len;
	const char *value;

	for (i = 0; i < l->nlines; i++) {
		if (po__hdr_split(l->lines[i], strlen(l->lines[i]), &name_len,
				  &value, &value_len))
			continue;
		if (name_len == strlen(name) &&
		    strncasecmp(l->lines[i], name, name_len) == 0) {
			*len = value_len;
			return value;
		}
	}
	return NULL;
}

/* The caller's raw header lines against a MIME body we build: a
 * MIME-Version line must say 1.0 (and then stands for ours); Content-*
 * fields belong to the body part, whose own would come after them and
 * contradict them (two Content-Type fields lose the attachments for a
 * reader that takes the first). */
static int check_raw_lines(const po_letter *l, int *mime_version_given)
{
	size_t i, name_len, value_len;
	const char *value;

	*mime_version_given = 0;
	for (i = 0; i < l->nlines; i++) {
		const char *line = l->lines[i];

		if (po__hdr_split(line, strlen(line), &name_len, &value,
				  &value_len))
			continue;
		if (name_len == 12 &&
		    strncasecmp(line, "MIME-Version", 12) == 0) {
			while (value_len && (value[value_len - 1] == ' ' ||
					     value[value_len - 1] == '\t'))
				value_len--;
			if (value_len != 3 || memcmp(value, "1.0", 3) != 0)
				return po__fail(PO_EHEADER,
						"header line \"%s\": MIME-Version "
						"can only be 1.0",
						line);
			*mime_version_given = 1;
		} else if (name_len > 8 &&
			   strncasecmp(line, "Content-", 8) == 0) {
			return po__fail(PO_EHEADER,
					"header line \"%.*s\": the body part "
					"has its own; give it to the part "
					"(content type, encoding, ...) instead",
					(int)name_len, line);
		}
	}
	return PO_OK;
}

/* The Message-ID the caller supplied (part headers beat raw lines, as
 * part headers beat everything), else the one generated at the first
 * render, else a new one. */
static int settle_message_id(po_letter *l, int *generated)
{
	const char *v;
	size_t n;
	char *copy;

	v = l->body ? po__pairs_get(&l->body->headers, "Message-ID") : NULL;
	if (v)
		n = strlen(v);
	else
		v = raw_line_value(l, "Message-ID", &n);
	if (v) {
		while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--;
		copy = strndup(v, n);
		if (!copy)
			return po__fail(PO_ENOMEM, NULL);
		free(l->message_id);
		l->message_id = copy;
		*generated = 0;
		return PO_OK;
	}
	*generated = 1;
	if (l->message_id && l->message_id_generated)
		return PO_OK;
	l->message_id_generated = 1;
	return make_message_id(l);
}

static int is_address_field(const char *name)
{
	static const char *const names[] = {"From", "To", "Cc", "Bcc",
					    "Reply-To", "Sender"};
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcasecmp(name, names[i]) == 0)
			return 1;
	return 0;
}

/* A header field of a part, "Name: value": written as the caller gave it
 * when ASCII; when not, address fields are parsed and their display names
 * encoded, and other fields are encoded as unstructured text. */
static int put_part_header(po_reader *r, const char *name, const char *value)
{
	size_t nv = strlen(value);
	int rc;

	if (!po__is_ascii(value, nv) && is_address_field(name)) {
		po__addr *v = NULL;
		size_t n = 0;

		rc = po__addr_list_parse(value, "header address", &v, &n,
					 NULL);
		if (rc == PO_OK)
			rc = po__hdr_addresses(&r->mem, name, v, n);
		for (size_t i = 0; i < n; i++)
			po__addr_clear(&v[i]);
		free(v);
		if (rc != PO_EADDRESS && rc != PO_EUTF8)
			return rc;
	}
	if (!po__is_ascii(value, nv))
		return po__hdr_unstructured(&r->mem, name, value, nv);
	{
		char *line;

		if (asprintf(&line, "%s: %s", name, value) < 0)
			return po__fail(PO_ENOMEM, NULL);
		rc = po__hdr_raw(&r->mem, line, strlen(line));
		free(line);
	}
	return rc;
}

/* ---------------------------------------------------------------------
 * Choosing a transfer encoding (design §4.9) */

/* 1 if octets scanned can go as 7bit (seven) or 8bit/binary with only
 * their line endings made canonical. */
static int fits_canonical(const po__scan *s, int seven)
{
	return !s->nul && !s->bare_cr && !s->lone_dot &&
	       s->maxline <= LINE_MAX_ && !(seven && s->nonascii);
}

/* po__scan_bytes for a file, read in chunks: lines are measured by the
 * canonicaliser, which carries its state across chunks, and a CR at the
 * end of one chunk is judged by the first octet of the next. */
static int scan_file(const char *path, po__scan *out)
{
	unsigned char *buf;
	po__crlf st;
	char *sink;
	ssize_t got, i;
	int fd, prev_cr = 0, rc = PO_OK;

	memset(out, 0, sizeof *out);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return po__fail(PO_EIO, "attachment %s: %s", path,
				strerror(errno));
	buf = malloc(CHUNK);
	sink = malloc(po__crlf_bound(CHUNK));
	if (!buf || !sink) {
		rc = po__fail(PO_ENOMEM, NULL);
		goto out;
	}
	po__crlf_init(&st);
	while ((got = read(fd, buf, CHUNK)) != 0) {
		if (got < 0) {
			if (errno == EINTR)
				continue;
			rc = po__fail(PO_EIO, "attachment %s: %s", path,
				      strerror(errno));
			goto out;
		}
		for (i = 0; i < got; i++) {
			unsigned char c = buf[i];

			if (prev_cr && c != '\n')
				out->bare_cr = 1;
			prev_cr = c == '\r';
			out->nul |= c == 0;
			out->nonascii |= c >= 0x80;
		}
		po__crlf_update(&st, buf, (size_t)got, sink);
	}
	po__crlf_final(&st, sink);
	out->bare_cr |= prev_cr;
	out->maxline = st.maxline;
	out->lone_dot = st.lone_dot;
out:
	free(buf);
	free(sink);
	close(fd);
	return rc;
}

/* po__scan_bytes for a part whose octets are at hand: a file or bytes. */
static int scan_part(const po_part *p, po__scan *s)
{
	if (p->src == PO__SRC_FILE)
		return scan_file(p->path, s);
	po__scan_bytes(p->data, p->len, s);
	return PO_OK;
}

/* RFC 2046 §5.2.1: a message/rfc822 body may only be 7bit, 8bit or
 * binary, whatever encoding was asked for (Allegro's rules give every
 * file base64): a forwarded letter goes as it is when its lines allow,
 * else as an application/octet-stream attachment in base64, rather than
 * as a message no reader can open. */
static int choose_rfc822(const po_part *p, struct item *it)
{
	po__scan s;
	int rc;

	it->qp_text = 0;
	if (p->src == PO__SRC_READER) {
		/* not known before it is read: 8bit, lines checked */
		it->codec = C_CANON;
		it->check_lines = 1;
		it->cte = "8bit";
		return PO_OK;
	}
	rc = scan_part(p, &s);
	if (rc)
		return rc;
	if (fits_canonical(&s, 0)) {
		it->codec = C_CANON;
		it->cte = s.nonascii ? "8bit" : "7bit";
	} else {
		it->codec = C_BASE64;
		it->type = "application/octet-stream";
	}
	return PO_OK;
}

static int choose_codec(const po_part *p, struct item *it)
{
	int textual = po__part_textual(p);
	enum po__encoding enc = p->encoding;
	po__scan s;
	int rc;

	it->qp_text = textual;
	it->check_lines = 0;
	if (p->type && strcasecmp(p->type, "message/rfc822") == 0)
		return choose_rfc822(p, it);
	switch (enc) {
	case PO__ENC_BASE64:
		it->codec = C_BASE64;
		return PO_OK;
	case PO__ENC_QP:
		it->codec = C_QP;
		return PO_OK;
	case PO__ENC_DEFAULT:
		if (p->src == PO__SRC_TEXT) {
			po__scan_bytes(p->data, p->len, &s);
			if (s.nonascii)
				it->codec = C_BASE64;
			else if (fits_canonical(&s, 1))
				it->codec = C_CANON;
			else
				it->codec = C_QP;
			it->qp_text = 1;
		} else if (p->src == PO__SRC_READER && textual) {
			it->codec = C_QP;
		} else {
			it->codec = C_BASE64;
		}
		return PO_OK;
	default: /* 7bit, 8bit, binary as asked, if the octets allow it */
		break;
	}
	if (p->src == PO__SRC_READER) {
		it->codec = C_CANON;
		it->check_lines = 1;
		return PO_OK;
	}
	rc = scan_part(p, &s);
	if (rc)
		return rc;
	it->codec = fits_canonical(&s, enc == PO__ENC_7BIT) ? C_CANON : C_QP;
	return PO_OK;
}

static const char *codec_name(const po_part *p, const struct item *it)
{
	if (it->cte)
		return it->cte;
	if (it->codec == C_BASE64)
		return "base64";
	if (it->codec == C_QP)
		return "quoted-printable";
	switch (p->encoding) {
	case PO__ENC_8BIT:
		return "8bit";
	case PO__ENC_BINARY:
		return "binary";
	default:
		return "7bit";
	}
}

/* ---------------------------------------------------------------------
 * Entities */

static int put_entity(po_reader *r, const po_part *p, int toplevel);

static int put_content_fields(po_reader *r, const po_part *p,
			      struct item *body)
{
	po__param params[64], *pv = params;
	size_t np = 0, i, want;
	int rc;

	/* the encoding first: for message/rfc822 it can change the type */
	if (body) {
		rc = choose_codec(p, body);
		if (rc)
			return rc;
	}
	want = p->params.n + 2;
	if (want > sizeof params / sizeof params[0]) {
		pv = malloc(want * sizeof *pv);
		if (!pv)
			return po__fail(PO_ENOMEM, NULL);
	}
	/* Allegro's order: boundary, charset, then the caller's. */
	if (p->src == PO__SRC_MULTI)
		pv[np++] = (po__param){"boundary", p->boundary};
	if (p->charset && !(body && body->type))
		pv[np++] = (po__param){"charset", p->charset};
	for (i = 0; i < p->params.n; i++)
		pv[np++] = (po__param){p->params.name[i], p->params.value[i]};
	rc = po__hdr_params(&r->mem, "Content-Type",
			    body && body->type ? body->type : p->type, pv, np);
	if (pv != params)
		free(pv);
	if (rc)
		return rc;
	if (body) {
		if (po__buf_printf(&r->mem, "Content-Transfer-Encoding: %s\r\n",
				   codec_name(p, body)))
			return po__fail(PO_ENOMEM, NULL);
	}
	if (p->id && po__buf_printf(&r->mem, "Content-ID: %s\r\n", p->id))
		return po__fail(PO_ENOMEM, NULL);
	if (p->description) {
		rc = po__hdr_unstructured(&r->mem, "Content-Description",
					  p->description,
					  strlen(p->description));
		if (rc)
			return rc;
	}
	if (p->disposition != PO_DISPOSITION_NONE) {
		po__param fn = {"filename", p->filename};

		rc = po__hdr_params(&r->mem, "Content-Disposition",
				    p->disposition == PO_DISPOSITION_INLINE
					    ? "inline"
					    : "attachment",
				    &fn, p->filename ? 1 : 0);
		if (rc)
			return rc;
	}
	return put(r, "\r\n");
}

static int put_entity(po_reader *r, const po_part *p, int toplevel)
{
	struct item body = {0};
	size_t i;
	int rc;

	if (toplevel && !r->mime_version_given &&
	    !po__pairs_get(&p->headers, "MIME-Version")) {
		rc = put(r, "MIME-Version: 1.0\r\n");
		if (rc)
			return rc;
	}
	for (i = 0; i < p->headers.n; i++) {
		rc = put_part_header(r, p->headers.name[i],
				     p->headers.value[i]);
		if (rc)
			return rc;
	}
	if (p->src != PO__SRC_MULTI) {
		if (p->src == PO__SRC_READER && p->consumed)
			return po__fail(PO_ESTATE,
					"a reader part can be rendered only "
					"once");
		if (p->src == PO__SRC_FILE) {
			rc = po__file_check(p->path);
			if (rc)
				return rc;
		}
		rc = put_content_fields(r, p, &body);
		if (rc)
			return rc;
		rc = flush_mem(r);
		if (rc)
			return rc;
		body.kind = IT_BODY;
		body.part = p;
		return add_item(r, body);
	}
	rc = put_content_fields(r, p, NULL);
	if (rc)
		return rc;
	if (toplevel) {
		rc = put(r, "This is a multi-part message in MIME format.\r\n");
		if (rc)
			return rc;
	}
	for (i = 0; i < p->nchild; i++) {
		if (po__buf_printf(&r->mem, "\r\n--%s\r\n", p->boundary))
			return po__fail(PO_ENOMEM, NULL);
		rc = put_entity(r, p->child[i], 0);
		if (rc)
			return rc;
	}
	if (po__buf_printf(&r->mem, "\r\n--%s--\r\n", p->boundary))
		return po__fail(PO_ENOMEM, NULL);
	return PO_OK;
}

/* No two multiparts of one letter may share a boundary (RFC 2046 §5.1.1:
 * a boundary must not occur inside the encapsulated parts). */
static int check_boundaries(const po_part *p, const char **seen, size_t *n,
			    size_t cap)
{
	size_t i;

	if (p->src != PO__SRC_MULTI)
		return PO_OK;
	for (i = 0; i < *n; i++)
		if (strcmp(seen[i], p->boundary) == 0)
			return po__fail(PO_EBOUNDARY,
					"boundary \"%s\" used by two parts of "
					"one letter",
					p->boundary);
	if (*n < cap)
		seen[(*n)++] = p->boundary;
	for (i = 0; i < p->nchild; i++) {
		int rc = check_boundaries(p->child[i], seen, n, cap);

		if (rc)
			return rc;
	}
	return PO_OK;
}

static int check_tree(const po_part *p)
{
	const char *seen[256];
	size_t n = 0;

	return check_boundaries(p, seen, &n, sizeof seen / sizeof seen[0]);
}

static int put_letter_headers(po_reader *r, po_letter *l)
{
	const po__pairs *ph = &l->body->headers;
	char date[64];
	size_t n;
	int generated, rc = PO_OK;

/* part headers and then the caller's raw lines beat the arguments */
#define SUPPLIED(name)                                                      \
	(po__pairs_get(ph, name) != NULL || raw_line_value(l, name, &n))
	if (!SUPPLIED("From"))
		rc = l->null_sender
			     ? po__fail(PO_ENOSENDER,
					"the sender is the null reverse-path "
					"<> and the letter has no From "
					"field: give one as a header line "
					"(\"From: postmaster@example.com\")")
			     : po__hdr_addresses(&r->mem, "From", &l->from, 1);
	if (!rc && l->to.n && !SUPPLIED("To"))
		rc = po__hdr_addresses(&r->mem, "To", l->to.v, l->to.n);
	if (!rc && l->cc.n && !SUPPLIED("Cc"))
		rc = po__hdr_addresses(&r->mem, "Cc", l->cc.v, l->cc.n);
	if (!rc && l->subject && !SUPPLIED("Subject"))
		rc = po__hdr_unstructured(&r->mem, "Subject", l->subject,
					  strlen(l->subject));
	if (!rc && l->reply_to.n && !SUPPLIED("Reply-To"))
		rc = po__hdr_addresses(&r->mem, "Reply-To", l->reply_to.v,
				       l->reply_to.n);
	if (!rc && !SUPPLIED("Date")) {
		format_date(date, time(NULL));
		if (po__buf_puts(&r->mem, "Date: ") ||
		    po__buf_puts(&r->mem, date) ||
		    po__buf_puts(&r->mem, "\r\n"))
			rc = po__fail(PO_ENOMEM, NULL);
	}
	if (!rc)
		rc = settle_message_id(l, &generated);
	if (!rc && generated &&
	    (po__buf_puts(&r->mem, "Message-ID: ") ||
	     po__buf_puts(&r->mem, l->message_id) ||
	     po__buf_puts(&r->mem, "\r\n")))
		rc = po__fail(PO_ENOMEM, NULL);
	if (!rc && (r->flags & PO_RENDER_BCC) && l->bcc.n)
		rc = po__hdr_addresses(&r->mem, "Bcc", l->bcc.v, l->bcc.n);
#undef SUPPLIED
	for (size_t i = 0; !rc && i < l->nlines; i++)
		rc = po__hdr_raw(&r->mem, l->lines[i], strlen(l->lines[i]));
	return rc;
}

static int reader_alloc(unsigned flags, po_reader **out)
{
	po_reader *r = calloc(1, sizeof *r);

	*out = NULL;
	if (!r)
		return po__fail(PO_ENOMEM, NULL);
	r->flags = flags;
	r->fd = -1;
	*out = r;
	return PO_OK;
}

static int finish(po_reader *r, int rc, po_reader **out)
{
	if (rc == PO_OK)
		rc = flush_mem(r);
	if (rc) {
		po_reader_free(r);
		return rc;
	}
	*out = r;
	return PO_OK;
}

int po_reader_new(po_letter *l, unsigned flags, po_reader **out)
{
	po_reader *r;
	int rc;

	if (!out)
		return po__fail(PO_EINVAL, "po_reader_new: no output");
	*out = NULL;
	if (!l)
		return po__fail(PO_EINVAL, "po_reader_new: no letter");
	if (!l->has_from)
		return po__fail(PO_ENOSENDER, "the letter has no sender");
	if (po_letter_recipient_count(l) == 0)
		return po__fail(PO_ENORCPT, "the letter has no recipients");
	if (!l->is_raw && !l->body)
		return po__fail(PO_ENOBODY, "the letter has no body");
	if (l->is_raw && l->raw_fn && l->raw_consumed)
		return po__fail(PO_ESTATE,
				"a raw reader letter can be sent only once");
	rc = reader_alloc(flags, &r);
	if (rc)
		return rc;
	if (l->is_raw) {
		struct item it = {0};

		it.kind = IT_BODY;
		it.codec = C_CANON;
		r->fn = l->raw_fn;
		r->userdata = l->raw_userdata;
		if (l->raw_fn)
			l->raw_consumed = 1;
		r->mp = l->raw;
		r->mleft = l->rawlen;
		return finish(r, add_item(r, it), out);
	}
	rc = check_tree(l->body);
	if (!rc)
		rc = check_raw_lines(l, &r->mime_version_given);
	if (!rc)
		rc = put_letter_headers(r, l);
	if (!rc)
		rc = put_entity(r, l->body, 1);
	return finish(r, rc, out);
}

int po_reader_new_part(po_part *p, unsigned flags, po_reader **out)
{
	po_reader *r;
	int rc;

	if (!out)
		return po__fail(PO_EINVAL, "po_reader_new_part: no output");
	*out = NULL;
	if (!p)
		return po__fail(PO_EINVAL, "po_reader_new_part: no part");
	rc = check_tree(p);
	if (rc)
		return rc;
	rc = reader_alloc(flags, &r);
	if (rc)
		return rc;
	return finish(r, put_entity(r, p, 1), out);
}

/* ---------------------------------------------------------------------
 * Reading */

/* Copy up to room bytes of src into dst; in LF mode drop every CR (the
 * renderer never produces a CR that is not followed by LF).  *used gets
 * the bytes of src consumed; returns the bytes written. */
static size_t copy_out(const po_reader *r, char *dst, size_t room,
		       const char *src, size_t n, size_t *used)
{
	size_t i, w = 0;

	if (!(r->flags & PO_RENDER_LF)) {
		w = n < room ? n : room;
		memcpy(dst, src, w);
		*used = w;
		return w;
	}
	for (i = 0; i < n && w < room; i++)
		if (src[i] != '\r')
			dst[w++] = src[i];
	*used = i;
	return w;
}

static int body_open(po_reader *r, const struct item *it)
{
	const po_part *p = it->part;

	if (p) {
		r->what = p->filename ? p->filename : p->type;
		r->fn = NULL;
		r->mp = NULL;
		r->mleft = 0;
		switch (p->src) {
		case PO__SRC_TEXT:
		case PO__SRC_BYTES:
			r->mp = p->data;
			r->mleft = p->len;
			break;
		case PO__SRC_FILE:
			r->fd = open(p->path, O_RDONLY | O_CLOEXEC);
			if (r->fd < 0)
				return po__fail(PO_EIO, "attachment %s: %s",
						p->path, strerror(errno));
			(void)posix_fadvise(r->fd, 0, 0,
					    POSIX_FADV_SEQUENTIAL);
			break;
		case PO__SRC_READER:
			((po_part *)p)->consumed = 1;
			r->fn = p->fn;
			r->userdata = p->userdata;
			break;
		case PO__SRC_MULTI:
			break;
		}
	} else {
		r->what = "raw letter";
	}
	{
		/* A memory source is encoded straight from memory (no input
		 * buffer) and needs an output buffer for what it holds, not
		 * for a whole CHUNK. */
		int mem = !r->fn && r->fd < 0;
		size_t chunk = mem && r->mleft < CHUNK ? r->mleft : CHUNK;
		size_t need = po__qp_bound(chunk);

		if (po__b64_bound(chunk) > need)
			need = po__b64_bound(chunk);
		if (po__crlf_bound(chunk) > need)
			need = po__crlf_bound(chunk);
		if (need < PO__ENC_FINAL_MAX)
			need = PO__ENC_FINAL_MAX;
		if (!mem && !r->in) {
			r->in = malloc(CHUNK);
			if (!r->in)
				return po__fail(PO_ENOMEM, NULL);
		}
		if (r->outcap < need) {
			free(r->out);
			r->out = malloc(need);
			r->outcap = r->out ? need : 0;
			if (!r->out)
				return po__fail(PO_ENOMEM, NULL);
		}
	}
	switch (it->codec) {
	case C_BASE64:
		po__b64_init(&r->st.b64);
		break;
	case C_QP:
		po__qp_init(&r->st.qp, it->qp_text);
		break;
	case C_CANON:
		po__crlf_init(&r->st.crlf);
		break;
	}
	r->check_lines = it->check_lines;
	r->active = 1;
	r->finished = 0;
	return PO_OK;
}

static void body_close(po_reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	r->active = 0;
	r->mp = NULL;
	r->mleft = 0;
	r->fn = NULL;
}

/* Pull the next chunk of the source: *p and *n describe it, *n == 0 at
 * the end. */
static int source_next(po_reader *r, const unsigned char **p, size_t *n)
{
	*n = 0;
	if (r->fn) {
		size_t got = 0;

		if (r->fn(r->userdata, r->in, CHUNK, &got) != 0)
			return po__fail(PO_EREADER, "%s: the reader failed",
					r->what);
		if (got > CHUNK)
			return po__fail(PO_EREADER,
					"%s: the reader returned more than "
					"it was asked for",
					r->what);
		*p = r->in;
		*n = got;
		return PO_OK;
	}
	if (r->fd >= 0) {
		ssize_t got;

		do
			got = read(r->fd, r->in, CHUNK);
		while (got < 0 && errno == EINTR);
		if (got < 0)
			return po__fail(PO_EIO, "attachment %s: %s", r->what,
					strerror(errno));
		*p = r->in;
		*n = (size_t)got;
		return PO_OK;
	}
	*p = r->mp;
	*n = r->mleft < CHUNK ? r->mleft : CHUNK;
	r->mp += *n;
	r->mleft -= *n;
	return PO_OK;
}

/* Encode the next chunk of the current body into r->out. */
static int body_fill(po_reader *r, const struct item *it)
{
	const unsigned char *p;
	size_t n;
	int rc;

	rc = source_next(r, &p, &n);
	if (rc)
		return rc;
	r->outpos = 0;
	if (n == 0) {
		switch (it->codec) {
		case C_BASE64:
			r->outlen = po__b64_final(&r->st.b64, r->out);
			break;
		case C_QP:
			r->outlen = po__qp_final(&r->st.qp, r->out);
			break;
		case C_CANON:
			r->outlen = po__crlf_final(&r->st.crlf, r->out);
			break;
		}
		r->finished = 1;
		return PO_OK;
	}
	switch (it->codec) {
	case C_BASE64:
		r->outlen = po__b64_update(&r->st.b64, p, n, r->out);
		break;
	case C_QP:
		r->outlen = po__qp_update(&r->st.qp, p, n, r->out);
		break;
	case C_CANON:
		r->outlen = po__crlf_update(&r->st.crlf, p, n, r->out);
		/* a lone "." would end the letter for `sendmail` without -i
		 * (design §4.9), and a 7bit/8bit stream can't be re-encoded
		 * after its header went out */
		if (r->check_lines && r->st.crlf.maxline > LINE_MAX_)
			return po__fail(PO_ELINE,
					"%s: a line is longer than %d octets, "
					"too long for its transfer encoding",
					r->what, LINE_MAX_);
		if (r->check_lines && r->st.crlf.lone_dot)
			return po__fail(PO_ELINE,
					"%s: a line is a lone \".\", not "
					"allowed for its transfer encoding",
					r->what);
		break;
	}
	return PO_OK;
}

int po_reader_read(po_reader *r, void *buf, size_t len, size_t *n_out)
{
	char *dst = buf;
	size_t n = 0;
	int rc = PO_OK;

	if (n_out)
		*n_out = 0;
	if (!r || !n_out || (!buf && len))
		return po__fail(PO_EINVAL, "po_reader_read: NULL argument");
	if (r->status)
		return po__fail(r->status, "the render already failed");
	while (n < len) {
		struct item *it;
		size_t used;

		if (r->outpos < r->outlen) {
			n += copy_out(r, dst + n, len - n, r->out + r->outpos,
				      r->outlen - r->outpos, &used);
			r->outpos += used;
			continue;
		}
		if (r->cur >= r->nitems)
			break;
		it = &r->items[r->cur];
		if (it->kind == IT_MEM) {
			n += copy_out(r, dst + n, len - n,
				      r->mem.p + it->off + r->pos,
				      it->len - r->pos, &used);
			r->pos += used;
			if (r->pos == it->len) {
				r->cur++;
				r->pos = 0;
			}
			continue;
		}
		if (!r->active) {
			rc = body_open(r, it);
			if (rc)
				break;
		} else if (r->finished) {
			body_close(r);
			r->cur++;
			continue;
		}
		rc = body_fill(r, it);
		if (rc)
			break;
	}
	if (rc) {
		body_close(r);
		r->status = rc;
		return rc;
	}
	*n_out = n;
	return PO_OK;
}

void po_reader_free(po_reader *r)
{
	if (!r)
		return;
	body_close(r);
	po__buf_free(&r->mem);
	free(r->items);
	free(r->in);
	free(r->out);
	free(r);
}
