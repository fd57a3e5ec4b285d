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
 *
 * Boundaries (RFC 2046 §5.1.1, §5.1.2): no line written inside a
 * multipart may start with "--" and the boundary of an enclosing one, or
 * the reader sees a part that was never built.  base64 lines never start
 * with "-"; quoted-printable ones never start with "--" inside a
 * multipart (encode.h); 7bit/8bit/binary content is searched for such
 * lines before it is used (po_reader_new) and again as it is sent.  A
 * generated boundary that some content holds is replaced and the build
 * starts over (RETRY); a fixed one makes the content go quoted-printable
 * where its encoding was not fixed, and the render fail where it was.
 *
 * File parts are opened once, when the reader is made, after checking
 * that each is still the regular file its part was made from; every pass
 * (the scan that chooses the encoding, the send, a rewind) reads that
 * descriptor with pread, and a file that grew, shrank or was written to
 * meanwhile fails the render (PO_ECHANGED).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "encode.h"
#include "po_private.h"

#define CHUNK (54 * 1820) /* input bytes per read: whole base64 lines */
#define LINE_MAX_ 998     /* RFC 5321 §4.5.3.1.6 */
#define DELIM_MAX 72      /* "--" and a boundary of at most 70 */
#define RETRY (-1)        /* a generated boundary was replaced: build again */
#define ATTEMPTS 8        /* builds before giving up on boundaries */

enum item_kind { IT_MEM, IT_BODY };
enum codec { C_CANON, C_BASE64, C_QP };

struct item {
	enum item_kind kind;
	size_t off, len;       /* IT_MEM: range in r->mem */
	const po_part *part;   /* IT_BODY: NULL for a raw letter */
	size_t file;           /* IT_BODY of a file part: index in r->files */
	enum codec codec;
	int qp_text;
	int qp_dashes;         /* C_QP inside a multipart: no line "--" */
	int check_lines;       /* C_CANON not known in advance: enforce 998
				  and no lone "." */
	int check_delims;      /* C_CANON inside a multipart: no line that
				  starts with an enclosing boundary */
	int check_octets;      /* C_CANON: 1 no NUL, 2 nor octets > 127 */
	int check_utf8;        /* the octets must be UTF-8 */
	const char *cte;       /* IT_BODY: the encoding's name, if not the
				  codec's or the part's (message/rfc822) */
	const char *type;      /* IT_BODY: the Content-Type to write instead
				  of the part's, or NULL */
};

/* A file part's descriptor, open for the life of the reader. */
struct rfile {
	const po_part *part;
	int fd;
	struct timespec mtime; /* when opened: writes move it */
};

/* Looks for lines that start with "--" and one of a set of boundaries,
 * in data given in pieces.  Only a line's first DELIM_MAX octets matter. */
struct delim {
	size_t col;            /* octets of the current line kept in line */
	int skip;              /* the current line cannot match */
	char line[DELIM_MAX];
};

struct po_reader {
	po__buf mem;
	size_t mark;           /* start of mem not yet in an item */
	struct item *items;
	size_t nitems, capitems;
	unsigned flags;
	int mime_version_given; /* a raw line "MIME-Version: 1.0" */
	po_letter *letter;     /* NULL for po_reader_new_part */
	const po_part *root;   /* the entity rendered, NULL for a raw letter */
	int streamed;          /* a reader part or raw reader: no rewind */

	struct rfile *files;   /* in the order the build meets them */
	size_t nfiles, capfiles;
	size_t nextfile;       /* the build's next file part */
	po_part *anc[PO_MAX_DEPTH]; /* the build's enclosing multiparts */
	size_t nanc;

	size_t cur;            /* current item */
	size_t pos;            /* IT_MEM: bytes of it already copied */
	int status;            /* sticky error */

	/* the body item being read */
	int active, finished;
	int fd;                /* a file part's (r->files owns it) */
	off_t foff;
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
	int check_lines, check_delims, check_octets, check_utf8;
	struct delim dm;
	const char *bounds[PO_MAX_DEPTH]; /* enclosing boundaries */
	size_t nbounds;
	po__utf8s u8;
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
 * Boundary delimiters in content (RFC 2046 §5.1.1) */

static void delim_init(struct delim *d)
{
	d->col = 0;
	d->skip = 0;
}

/* The 1-based index of the first of the nb boundaries b that the line
 * kept in d starts with ("--" and the boundary), or 0. */
static size_t delim_match(const struct delim *d, const char *const *b,
			  size_t nb)
{
	size_t i, k;

	if (d->col < 2 || d->line[0] != '-' || d->line[1] != '-')
		return 0;
	for (i = 0; i < nb; i++) {
		k = strlen(b[i]);
		if (d->col >= k + 2 && memcmp(d->line + 2, b[i], k) == 0)
			return i + 1;
	}
	return 0;
}

/* Feed n octets, in which a line ends at CR or at LF (so the input of the
 * canonicaliser and its output are judged alike).  Returns as
 * delim_match for the first line found, or 0. */
static size_t delim_feed(struct delim *d, const char *const *b, size_t nb,
			 const unsigned char *p, size_t n)
{
	const unsigned char *end = p + n;
	size_t hit;

	while (p < end) {
		unsigned char c;

		if (d->skip) {
			while (p < end && *p != '\r' && *p != '\n')
				p++;
			if (p == end)
				break;
		}
		c = *p++;
		if (c == '\r' || c == '\n') {
			if (!d->skip && (hit = delim_match(d, b, nb)) != 0)
				return hit;
			delim_init(d);
			continue;
		}
		if (d->col == 0 && c != '-') {
			d->skip = 1;
			continue;
		}
		d->line[d->col++] = (char)c;
		if (d->col == DELIM_MAX) {
			if ((hit = delim_match(d, b, nb)) != 0)
				return hit;
			d->skip = 1;
		}
	}
	return 0;
}

/* The end of the data: an unterminated last line counts too, as the
 * renderer follows every body with CRLF. */
static size_t delim_final(struct delim *d, const char *const *b, size_t nb)
{
	size_t hit = d->skip ? 0 : delim_match(d, b, nb);

	delim_init(d);
	return hit;
}

/* The boundaries of the multiparts enclosing the build's current part. */
static size_t build_bounds(const po_reader *r, const char **b)
{
	size_t i;

	for (i = 0; i < r->nanc; i++)
		b[i] = r->anc[i]->boundary;
	return r->nanc;
}

/* A fresh boundary for p, whose generated one some content holds: the
 * build starts over with it. */
static int replace_boundary(po_part *p)
{
	char fresh[44], *copy;

	po__boundary_new(fresh);
	copy = strdup(fresh);
	if (!copy)
		return po__fail(PO_ENOMEM, NULL);
	free(p->boundary);
	p->boundary = copy;
	return RETRY;
}

static const char *part_name(const po_part *p)
{
	return p->filename ? p->filename : p->path ? p->path : p->type;
}

/* Something of part p (where: "its content", "its header") has a line
 * that starts with "--" and the boundary of r->anc[hit - 1].  A generated
 * boundary is replaced (RETRY); otherwise PO_OK when the part can take
 * another encoding (reencode), else the failure. */
static int forged(po_reader *r, const po_part *p, size_t hit,
		  const char *where, int reencode)
{
	po_part *a = r->anc[hit - 1];

	if (a->boundary_generated)
		return replace_boundary(a);
	if (reencode)
		return PO_OK;
	return po__fail(PO_EBOUNDARY,
			"part %.80s: a line of %s starts with \"--%s\", the "
			"boundary of an enclosing multipart; the caller "
			"fixed that boundary and the part's transfer encoding, "
			"so nothing can keep it from being read as a new part",
			part_name(p), where, a->boundary);
}

/* ---------------------------------------------------------------------
 * Reading file parts */

static int changed(const po_part *p, const char *what)
{
	return po__fail(PO_ECHANGED, "attachment %s: %s", p->path, what);
}

/* The descriptor for file part p: opened at the build's first visit,
 * found again on later builds (they meet the files in the same order). */
static int file_for(po_reader *r, const po_part *p, size_t *index_out)
{
	struct rfile f;
	int rc;

	if (r->nextfile < r->nfiles && r->files[r->nextfile].part == p) {
		*index_out = r->nextfile++;
		return PO_OK;
	}
	if (r->nfiles == r->capfiles) {
		size_t cap = r->capfiles ? r->capfiles * 2 : 4;
		struct rfile *v = realloc(r->files, cap * sizeof *v);

		if (!v)
			return po__fail(PO_ENOMEM, NULL);
		r->files = v;
		r->capfiles = cap;
	}
	rc = po__file_open(p, &f.fd, &f.mtime);
	if (rc)
		return rc;
	f.part = p;
	(void)posix_fadvise(f.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	r->files[r->nfiles++] = f;
	r->nextfile = r->nfiles;
	*index_out = r->nfiles - 1;
	return PO_OK;
}

/* The next chunk (at most CHUNK octets) of the file f being read from
 * offset *off, into buf; *n == 0 at the end.  The file must end exactly
 * at the size it had, and not have been written to, since it was opened
 * (its link count may change: a rename over it is no change to it). */
static int file_chunk(const struct rfile *f, off_t *off, unsigned char *buf,
		      size_t *n)
{
	ssize_t got;
	size_t want;

	const po_part *p = f->part;
	off_t size = p->size;
	int fd = f->fd;

	*n = 0;
	if (*off >= size) {
		unsigned char c;
		struct stat st;

		do
			got = pread(fd, &c, 1, size);
		while (got < 0 && errno == EINTR);
		if (got > 0)
			return changed(p, "it grew while it was read");
		if (got < 0 || fstat(fd, &st) != 0)
			return po__fail(PO_EIO, "attachment %s: %s", p->path,
					strerror(errno));
		if (st.st_size != size ||
		    st.st_mtim.tv_sec != f->mtime.tv_sec ||
		    st.st_mtim.tv_nsec != f->mtime.tv_nsec)
			return changed(p, "it was written to while it was "
					  "read");
		return PO_OK;
	}
	want = (size_t)(size - *off) < CHUNK ? (size_t)(size - *off) : CHUNK;
	do
		got = pread(fd, buf, want, *off);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return po__fail(PO_EIO, "attachment %s: %s", p->path,
				strerror(errno));
	if (got == 0)
		return changed(p, "it shrank while it was read");
	*off += got;
	*n = (size_t)got;
	return PO_OK;
}

/* The buffers the body items and the scans use: CHUNK octets in, and
 * room for what any encoder makes of them. */
static int ensure_buffers(po_reader *r, size_t chunk)
{
	size_t need = po__qp_bound(chunk);

	if (po__b64_bound(chunk) > need)
		need = po__b64_bound(chunk);
	if (po__crlf_bound(chunk) > need)
		need = po__crlf_bound(chunk);
	if (need < PO__ENC_FINAL_MAX)
		need = PO__ENC_FINAL_MAX;
	if (chunk == CHUNK && !r->in) {
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
	return PO_OK;
}

/* ---------------------------------------------------------------------
 * Choosing a transfer encoding (design §4.9) */

/* What keeps octets scanned from going as 7bit (seven) or 8bit/binary
 * with only their line endings made canonical: a status and a reason,
 * or PO_OK. */
static int unfit(const po__scan *s, int seven, const char **why)
{
	if (s->nul) {
		*why = "a NUL octet";
		return PO_EBADOCTET;
	}
	if (seven && s->nonascii) {
		*why = "octets over 127";
		return PO_EBADOCTET;
	}
	if (s->bare_cr) {
		*why = "a CR not followed by LF";
		return PO_EBADOCTET;
	}
	if (s->maxline > LINE_MAX_) {
		*why = "a line over 998 octets";
		return PO_ELINE;
	}
	if (s->lone_dot) {
		*why = "a line that is a lone \".\"";
		return PO_ELINE;
	}
	return PO_OK;
}

/* What a look at a part's octets found. */
struct look {
	po__scan s;
	size_t hit;        /* a line starts with enclosing boundary hit - 1 */
	int utf8_bad;      /* not UTF-8 ... */
	size_t utf8_line;  /* ... on this line */
};

/* po__scan_bytes for a file, read from its descriptor: lines are
 * measured by the canonicaliser, which carries its state across chunks,
 * and a CR at the end of one chunk is judged by the first octet of the
 * next. */
static int look_file(po_reader *r, const po_part *p, const struct rfile *f,
		     const char *const *b, size_t nb, struct look *out)
{
	po__crlf st;
	struct delim d;
	po__utf8s u8;
	off_t off = 0;
	size_t n, i;
	int prev_cr = 0, rc;

	rc = ensure_buffers(r, CHUNK);
	if (rc)
		return rc;
	po__crlf_init(&st);
	delim_init(&d);
	po__utf8s_init(&u8);
	for (;;) {
		rc = file_chunk(f, &off, r->in, &n);
		if (rc)
			return rc;
		if (n == 0)
			break;
		for (i = 0; i < n; i++) {
			unsigned char c = r->in[i];

			if (prev_cr && c != '\n')
				out->s.bare_cr = 1;
			prev_cr = c == '\r';
			out->s.nul |= c == 0;
			out->s.nonascii |= c >= 0x80;
		}
		po__crlf_update(&st, r->in, n, r->out);
		if (nb && !out->hit)
			out->hit = delim_feed(&d, b, nb, r->in, n);
		if (p->check_utf8 && !out->utf8_bad &&
		    !po__utf8s_update(&u8, r->in, n)) {
			out->utf8_bad = 1;
			out->utf8_line = u8.line;
		}
	}
	po__crlf_final(&st, r->out);
	out->s.bare_cr |= prev_cr;
	out->s.maxline = st.maxline;
	out->s.lone_dot = st.lone_dot;
	if (nb && !out->hit)
		out->hit = delim_final(&d, b, nb);
	if (p->check_utf8 && !out->utf8_bad && !po__utf8s_final(&u8)) {
		out->utf8_bad = 1;
		out->utf8_line = u8.line;
	}
	return PO_OK;
}

/* Look at the octets of a part whose octets are at hand: in memory or in
 * a file (item's descriptor).  Lines that start with the enclosing
 * boundaries are looked for only when one can matter. */
static int look_at(po_reader *r, const po_part *p, const struct item *it,
		   struct look *out)
{
	const char *b[PO_MAX_DEPTH];
	size_t nb = build_bounds(r, b);
	struct delim d;

	memset(out, 0, sizeof *out);
	if (p->src == PO__SRC_FILE)
		return look_file(r, p, &r->files[it->file], b, nb, out);
	po__scan_bytes(p->data, p->len, &out->s);
	if (nb) {
		delim_init(&d);
		out->hit = delim_feed(&d, b, nb, p->data, p->len);
		if (!out->hit)
			out->hit = delim_final(&d, b, nb);
	}
	if (p->check_utf8) {
		size_t ok = po__utf8_valid_prefix((const char *)p->data,
						  p->len);

		if (ok < p->len) {
			out->utf8_bad = 1;
			out->utf8_line = 1;
			for (size_t i = 0; i < ok; i++)
				out->utf8_line += p->data[i] == '\n';
		}
	}
	return PO_OK;
}

static const char *enc_name(enum po__encoding enc)
{
	switch (enc) {
	case PO__ENC_7BIT:
		return "7bit";
	case PO__ENC_8BIT:
		return "8bit";
	case PO__ENC_BINARY:
		return "binary";
	case PO__ENC_BASE64:
		return "base64";
	case PO__ENC_QP:
		return "quoted-printable";
	default:
		return "the default";
	}
}

/* The caller's Content-Transfer-Encoding does not fit the content. */
static int refuse_fixed(const po_part *p, int status, const char *why)
{
	return po__fail(status,
			"part %.80s: its Content-Transfer-Encoding %s does not "
			"fit its content, which has %s",
			part_name(p), enc_name(p->encoding), why);
}

/* A 7bit/8bit/binary part goes as it is, with its line endings made
 * canonical; unless its octets were known in advance they are checked
 * again as they are sent: a file can change between two passes. */
static void canonical(const po_part *p, struct item *it, int seven)
{
	it->codec = C_CANON;
	it->check_lines = p->src != PO__SRC_TEXT && p->src != PO__SRC_BYTES;
	if (it->check_lines || p->encoding_fixed)
		it->check_octets = seven ? 2 : 1;
}

/* RFC 2046 §5.2.1: a message/rfc822 body may only be 7bit, 8bit or
 * binary, whatever encoding was asked for (Allegro's rules give every
 * file base64): a forwarded letter goes as it is when its lines allow,
 * else as an application/octet-stream attachment in base64, rather than
 * as a message no reader can open.  With a Content-Transfer-Encoding (or
 * a Content-Type) header of the caller's, nothing is changed: what does
 * not fit is refused. */
static int choose_rfc822(po_reader *r, po_part *p, struct item *it)
{
	enum po__encoding enc = p->encoding;
	int fixed = p->encoding_fixed, seven, bad, rc;
	const char *why = NULL;
	struct look lk;

	it->qp_text = 0;
	if (fixed && (enc == PO__ENC_BASE64 || enc == PO__ENC_QP))
		return po__fail(PO_EENCODING,
				"part %.80s: message/rfc822 can only go 7bit, "
				"8bit or binary (RFC 2046 §5.2.1), not %s",
				part_name(p), enc_name(enc));
	if (p->src == PO__SRC_READER) {
		/* not known before it is read: 8bit, lines checked */
		canonical(p, it, fixed && enc == PO__ENC_7BIT);
		if (!fixed)
			it->cte = "8bit";
		return PO_OK;
	}
	rc = look_at(r, p, it, &lk);
	if (rc)
		return rc;
	seven = fixed && enc == PO__ENC_7BIT;
	bad = unfit(&lk.s, seven, &why);
	if (fixed) {
		if (bad)
			return refuse_fixed(p, bad, why);
		if (lk.hit)
			return forged(r, p, lk.hit, "its content", 0);
		canonical(p, it, seven);
		return PO_OK;
	}
	if (!bad && lk.hit) {
		rc = forged(r, p, lk.hit, "its content", !p->type_given);
		if (rc)
			return rc;
		bad = PO_EBOUNDARY;
		why = "a line that starts with an enclosing boundary";
	}
	if (!bad) {
		canonical(p, it, !lk.s.nonascii);
		it->cte = lk.s.nonascii ? "8bit" : "7bit";
		return PO_OK;
	}
	if (p->type_given)
		return po__fail(bad,
				"part %.80s: message/rfc822 (its Content-Type "
				"header) can only go 7bit, 8bit or binary "
				"(RFC 2046 §5.2.1), and its content has %s",
				part_name(p), why);
	it->codec = C_BASE64;
	it->type = "application/octet-stream";
	return PO_OK;
}

static int choose_codec(po_reader *r, po_part *p, struct item *it)
{
	int textual = po__part_textual(p);
	enum po__encoding enc = p->encoding;
	int fixed = p->encoding_fixed, seven, bad, rc;
	const char *why = NULL;
	struct look lk;

	it->qp_text = textual;
	it->qp_dashes = r->nanc > 0;
	it->check_delims = r->nanc > 0;
	it->check_utf8 = p->check_utf8;
	it->check_lines = 0;
	it->check_octets = 0;
	if (p->type && strcasecmp(p->type, "message/rfc822") == 0)
		return choose_rfc822(r, p, it);
	if (p->src == PO__SRC_READER) {
		switch (enc) {
		case PO__ENC_BASE64:
			it->codec = C_BASE64;
			break;
		case PO__ENC_QP:
			it->codec = C_QP;
			break;
		case PO__ENC_DEFAULT:
			it->codec = textual ? C_QP : C_BASE64;
			break;
		default: /* 7bit, 8bit, binary: checked while it is read */
			canonical(p, it, enc == PO__ENC_7BIT);
			break;
		}
		return PO_OK;
	}
	/* base64 and quoted-printable fit anything: no need to look, but
	 * for text that must be UTF-8 */
	if (!p->check_utf8 &&
	    (enc == PO__ENC_BASE64 || enc == PO__ENC_QP ||
	     (enc == PO__ENC_DEFAULT && p->src != PO__SRC_TEXT &&
	      !p->text_like))) {
		it->codec = enc == PO__ENC_QP ? C_QP : C_BASE64;
		return PO_OK;
	}
	rc = look_at(r, p, it, &lk);
	if (rc)
		return rc;
	if (lk.utf8_bad)
		return po__fail(PO_EUTF8, "%s: not valid UTF-8 (line %zu)",
				part_name(p), lk.utf8_line);
	switch (enc) {
	case PO__ENC_BASE64:
		it->codec = C_BASE64;
		return PO_OK;
	case PO__ENC_QP:
		it->codec = C_QP;
		return PO_OK;
	case PO__ENC_DEFAULT: /* text */
		it->qp_text = 1;
		if (lk.s.nonascii) {
			it->codec = C_BASE64;
			return PO_OK;
		}
		bad = unfit(&lk.s, 1, &why);
		break;
	default: /* 7bit, 8bit, binary as asked, if the octets allow it */
		seven = enc == PO__ENC_7BIT;
		bad = unfit(&lk.s, seven, &why);
		if (fixed) {
			if (bad)
				return refuse_fixed(p, bad, why);
			if (lk.hit)
				return forged(r, p, lk.hit, "its content", 0);
			canonical(p, it, seven);
			return PO_OK;
		}
		break;
	}
	if (!bad && lk.hit) {
		/* a fixed boundary: quoted-printable writes no line "--" */
		rc = forged(r, p, lk.hit, "its content", 1);
		if (rc)
			return rc;
		bad = PO_EBOUNDARY;
	}
	if (bad)
		it->codec = C_QP;
	else
		canonical(p, it, enc != PO__ENC_8BIT && enc != PO__ENC_BINARY);
	return PO_OK;
}

static const char *codec_name(const po_part *p, const struct item *it);

/* PO_RENDER_7BIT, for a server without 8BITMIME (RFC 6152): no octet
 * >= 0x80 may leave.  An entity that goes as it is and is not known to be
 * 7bit (8bit, binary) goes quoted-printable instead, or, for
 * message/rfc822 (which RFC 2046 §5.2.1 allows only 7bit, 8bit or
 * binary), as a base64 application/octet-stream attachment.  One whose
 * encoding or type the caller fixed with a header cannot be changed: it
 * is refused (PO_E8BIT), before anything is sent. */
static int force_7bit(const po_part *p, struct item *it)
{
	int rfc822 = p->type && strcasecmp(p->type, "message/rfc822") == 0;

	if (it->codec != C_CANON || strcmp(codec_name(p, it), "7bit") == 0)
		return PO_OK;
	if (p->encoding_fixed || (rfc822 && p->type_given))
		return po__fail(PO_E8BIT,
				"part %.80s: its Content-Transfer-Encoding is "
				"%s, and the server does not offer 8BITMIME",
				part_name(p), codec_name(p, it));
	it->check_lines = it->check_octets = 0;
	it->cte = NULL;
	if (rfc822) {
		it->codec = C_BASE64;
		it->type = "application/octet-stream";
	} else {
		it->codec = C_QP;
		it->qp_text = po__part_textual(p);
	}
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

static int put_entity(po_reader *r, po_part *p, int toplevel);

static int put_content_fields(po_reader *r, po_part *p, struct item *body)
{
	po__param params[64], *pv = params;
	size_t np = 0, i, want;
	int rc;

	/* the encoding first: for message/rfc822 it can change the type */
	if (body) {
		rc = choose_codec(r, p, body);
		if (!rc && (r->flags & PO_RENDER_7BIT))
			rc = force_7bit(p, body);
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
	/* the part's own Content-* fields (written with its headers) stand
	 * in for ours: never two of one name */
#define OWN(name) (po__pairs_get(&p->headers, name) != NULL)
	if (p->id && !OWN("Content-ID") &&
	    po__buf_printf(&r->mem, "Content-ID: %s\r\n", p->id))
		return po__fail(PO_ENOMEM, NULL);
	if (p->description && !OWN("Content-Description")) {
		rc = po__hdr_unstructured(&r->mem, "Content-Description",
					  p->description,
					  strlen(p->description));
		if (rc)
			return rc;
	}
	if (p->disposition != PO_DISPOSITION_NONE &&
	    !OWN("Content-Disposition")) {
		po__param fn = {"filename", p->filename};

		rc = po__hdr_params(&r->mem, "Content-Disposition",
				    p->disposition == PO_DISPOSITION_INLINE
					    ? "inline"
					    : "attachment",
				    &fn, p->filename ? 1 : 0);
		if (rc)
			return rc;
	}
#undef OWN
	return put(r, "\r\n");
}

/* The header block of an entity inside a multipart, written since start,
 * must not forge a boundary either (a field name may start with "--"). */
static int check_header_text(po_reader *r, const po_part *p, size_t start)
{
	const char *b[PO_MAX_DEPTH];
	size_t nb = build_bounds(r, b), hit;
	struct delim d;

	if (!nb)
		return PO_OK;
	delim_init(&d);
	hit = delim_feed(&d, b, nb, (const unsigned char *)r->mem.p + start,
			 r->mem.len - start);
	if (!hit)
		hit = delim_final(&d, b, nb);
	return hit ? forged(r, p, hit, "its header", 0) : PO_OK;
}

static int put_entity(po_reader *r, po_part *p, int toplevel)
{
	struct item body = {0};
	size_t i, start = r->mem.len;
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
		if (p->src == PO__SRC_READER) {
			if (p->consumed)
				return po__fail(PO_ESTATE,
						"a reader part can be rendered "
						"only once");
			r->streamed = 1;
		}
		if (p->src == PO__SRC_FILE) {
			rc = file_for(r, p, &body.file);
			if (rc)
				return rc;
		}
		rc = put_content_fields(r, p, &body);
		if (!rc)
			rc = check_header_text(r, p, start);
		if (!rc)
			rc = flush_mem(r);
		if (rc)
			return rc;
		body.kind = IT_BODY;
		body.part = p;
		return add_item(r, body);
	}
	rc = put_content_fields(r, p, NULL);
	if (!rc)
		rc = check_header_text(r, p, start);
	if (rc)
		return rc;
	if (toplevel) {
		rc = put(r, "This is a multi-part message in MIME format.\r\n");
		if (rc)
			return rc;
	}
	/* po_part_add keeps trees within PO_MAX_DEPTH levels */
	if (r->nanc == PO_MAX_DEPTH)
		return po__fail(PO_EDEPTH, "MIME parts nested too deeply");
	r->anc[r->nanc++] = p;
	for (i = 0; i < p->nchild && !rc; i++) {
		if (po__buf_printf(&r->mem, "\r\n--%s\r\n", p->boundary))
			rc = po__fail(PO_ENOMEM, NULL);
		else
			rc = put_entity(r, p->child[i], 0);
	}
	r->nanc--;
	if (rc)
		return rc;
	if (po__buf_printf(&r->mem, "\r\n--%s--\r\n", p->boundary))
		return po__fail(PO_ENOMEM, NULL);
	return PO_OK;
}

/* No two multiparts of one letter may share a boundary, and none may
 * start with the boundary of a multipart enclosing it (RFC 2046 §5.1.2:
 * its delimiter lines would end the outer part).  A generated boundary
 * in the way is replaced (RETRY). */
static int check_boundaries(po_part *p, po_part **anc, size_t nanc,
			    po_part **seen, size_t *n, size_t cap)
{
	size_t i;

	if (p->src != PO__SRC_MULTI)
		return PO_OK;
	for (i = 0; i < *n; i++)
		if (strcmp(seen[i]->boundary, p->boundary) == 0) {
			if (p->boundary_generated)
				return replace_boundary(p);
			if (seen[i]->boundary_generated)
				return replace_boundary(seen[i]);
			return po__fail(PO_EBOUNDARY,
					"boundary \"%s\" used by two parts of "
					"one letter",
					p->boundary);
		}
	for (i = 0; i < nanc; i++) {
		const char *outer = anc[i]->boundary;

		if (strncmp(p->boundary, outer, strlen(outer)) != 0)
			continue;
		if (p->boundary_generated)
			return replace_boundary(p);
		if (anc[i]->boundary_generated)
			return replace_boundary(anc[i]);
		return po__fail(PO_EBOUNDARY,
				"boundary \"%s\" starts with \"%s\", the "
				"boundary of an enclosing multipart (RFC 2046 "
				"§5.1.2)",
				p->boundary, outer);
	}
	if (*n < cap)
		seen[(*n)++] = p;
	if (nanc == PO_MAX_DEPTH)
		return po__fail(PO_EDEPTH, "MIME parts nested too deeply");
	anc[nanc] = p;
	for (i = 0; i < p->nchild; i++) {
		int rc = check_boundaries(p->child[i], anc, nanc + 1, seen, n,
					  cap);

		if (rc)
			return rc;
	}
	return PO_OK;
}

static int check_tree(po_part *p)
{
	po_part *seen[256], *anc[PO_MAX_DEPTH];
	size_t n = 0;

	return check_boundaries(p, anc, 0, seen, &n,
				sizeof seen / sizeof seen[0]);
}

/* The multiparts of the tree: each may need a fresh boundary once. */
static size_t count_multiparts(const po_part *p)
{
	size_t n = 0, i;

	if (p->src != PO__SRC_MULTI)
		return 0;
	for (i = 0; i < p->nchild; i++)
		n += count_multiparts(p->child[i]);
	return n + 1;
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

/* Forget what a build wrote, to build again with a new boundary.  The
 * files stay open for it. */
static void reset_build(po_reader *r)
{
	r->mem.len = 0;
	if (r->mem.p)
		r->mem.p[0] = '\0';
	r->mark = 0;
	r->nitems = 0;
	r->nextfile = 0;
	r->nanc = 0;
	r->streamed = 0;
}

/* Build the reader's items for the letter l (NULL: the part root alone),
 * again as long as a generated boundary had to be replaced. */
static int build(po_reader *r, po_letter *l, po_part *root)
{
	size_t attempts = 2 * count_multiparts(root) + ATTEMPTS, i;
	int rc = PO_OK;

	r->root = root;
	for (i = 0; i < attempts; i++) {
		if (i)
			reset_build(r);
		rc = check_tree(root);
		if (!rc && l)
			rc = check_raw_lines(l, &r->mime_version_given);
		if (!rc && l)
			rc = put_letter_headers(r, l);
		if (!rc)
			rc = put_entity(r, root, 1);
		if (rc != RETRY)
			return rc;
	}
	return po__fail(PO_EBOUNDARY,
			"no boundary could be found that the letter's content "
			"does not hold");
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
	r->letter = l;
	if (l->is_raw) {
		struct item it = {0};

		it.kind = IT_BODY;
		it.codec = C_CANON;
		if (l->raw_fn) {
			l->raw_consumed = 1;
			r->streamed = 1;
		}
		return finish(r, add_item(r, it), out);
	}
	return finish(r, build(r, l, l->body), out);
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
	rc = reader_alloc(flags, &r);
	if (rc)
		return rc;
	return finish(r, build(r, NULL, p), out);
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

/* The boundaries enclosing the leaf p within the render. */
static size_t leaf_bounds(const po_reader *r, const po_part *p,
			  const char **b)
{
	const po_part *a;
	size_t n = 0;

	if (p == r->root)
		return 0;
	for (a = p->parent; a && n < PO_MAX_DEPTH; a = a->parent) {
		b[n++] = a->boundary;
		if (a == r->root)
			break;
	}
	return n;
}

static int body_open(po_reader *r, const struct item *it)
{
	const po_part *p = it->part;
	int rc;

	r->fn = NULL;
	r->mp = NULL;
	r->mleft = 0;
	r->fd = -1;
	if (p) {
		r->what = part_name(p);
		switch (p->src) {
		case PO__SRC_TEXT:
		case PO__SRC_BYTES:
			r->mp = p->data;
			r->mleft = p->len;
			break;
		case PO__SRC_FILE:
			r->fd = r->files[it->file].fd;
			r->foff = 0;
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
		r->fn = r->letter->raw_fn;
		r->userdata = r->letter->raw_userdata;
		if (!r->fn) {
			r->mp = r->letter->raw;
			r->mleft = r->letter->rawlen;
		}
	}
	{
		/* A memory source is encoded straight from memory (no input
		 * buffer) and needs an output buffer for what it holds, not
		 * for a whole CHUNK. */
		int mem = !r->fn && r->fd < 0;

		rc = ensure_buffers(r, mem && r->mleft < CHUNK ? r->mleft
							      : CHUNK);
		if (rc)
			return rc;
	}
	switch (it->codec) {
	case C_BASE64:
		po__b64_init(&r->st.b64);
		break;
	case C_QP:
		po__qp_init(&r->st.qp, it->qp_text);
		r->st.qp.dashes = it->qp_dashes;
		break;
	case C_CANON:
		po__crlf_init(&r->st.crlf);
		break;
	}
	r->check_lines = it->check_lines;
	r->check_octets = it->check_octets;
	r->check_utf8 = it->check_utf8;
	r->check_delims = 0;
	if (p && it->codec == C_CANON && it->check_delims) {
		r->nbounds = leaf_bounds(r, p, r->bounds);
		r->check_delims = r->nbounds > 0;
	}
	delim_init(&r->dm);
	po__utf8s_init(&r->u8);
	r->active = 1;
	r->finished = 0;
	return PO_OK;
}

static void body_close(po_reader *r)
{
	r->fd = -1; /* r->files owns it */
	r->active = 0;
	r->mp = NULL;
	r->mleft = 0;
	r->fn = NULL;
}

/* Pull the next chunk of the source: *p and *n describe it, *n == 0 at
 * the end. */
static int source_next(po_reader *r, const struct item *it,
		       const unsigned char **p, size_t *n)
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
		*p = r->in;
		return file_chunk(&r->files[it->file], &r->foff, r->in, n);
	}
	*p = r->mp;
	*n = r->mleft < CHUNK ? r->mleft : CHUNK;
	r->mp += *n;
	r->mleft -= *n;
	return PO_OK;
}

/* What is read as it is sent: UTF-8, octets the encoding allows, lines
 * that would forge a boundary.  Checked before the chunk goes out. */
static int check_input(po_reader *r, const unsigned char *p, size_t n)
{
	if (r->check_utf8 && !po__utf8s_update(&r->u8, p, n))
		return po__fail(PO_EUTF8, "%s: not valid UTF-8 (line %zu)",
				r->what, r->u8.line);
	if (r->check_octets && n && memchr(p, 0, n))
		return po__fail(PO_EBADOCTET,
				"%s: a NUL octet, not allowed by its transfer "
				"encoding",
				r->what);
	if (r->check_octets == 2 && !po__is_ascii((const char *)p, n))
		return po__fail(PO_EBADOCTET,
				"%s: an octet over 127, not allowed by 7bit",
				r->what);
	return PO_OK;
}

/* What a 7bit/8bit/binary chunk just canonicalised must not hold: a line
 * over 998 octets or a lone "." (which would end the letter for
 * `sendmail` without -i, design §4.9), or a line that would forge a
 * boundary.  Content not known in advance cannot be re-encoded once its
 * header went out: the render stops.  final: the data ended. */
static int check_output(po_reader *r, int final)
{
	size_t hit = 0;

	if (r->check_lines && r->st.crlf.maxline > LINE_MAX_)
		return po__fail(PO_ELINE,
				"%s: a line is longer than %d octets, too long "
				"for its transfer encoding",
				r->what, LINE_MAX_);
	if (r->check_lines && r->st.crlf.lone_dot)
		return po__fail(PO_ELINE,
				"%s: a line is a lone \".\", not allowed for "
				"its transfer encoding",
				r->what);
	if (!r->check_delims)
		return PO_OK;
	hit = delim_feed(&r->dm, r->bounds, r->nbounds,
			 (const unsigned char *)r->out, r->outlen);
	if (!hit && final)
		hit = delim_final(&r->dm, r->bounds, r->nbounds);
	if (hit)
		return po__fail(PO_EBOUNDARY,
				"%s: a line starts with \"--%s\", the boundary "
				"of an enclosing multipart: the render stops "
				"rather than let it be read as a new part",
				r->what, r->bounds[hit - 1]);
	return PO_OK;
}

/* Encode the next chunk of the current body into r->out. */
static int body_fill(po_reader *r, const struct item *it)
{
	const unsigned char *p = NULL;
	size_t n;
	int rc;

	rc = source_next(r, it, &p, &n);
	if (rc)
		return rc;
	r->outpos = 0;
	if (n == 0) {
		if (r->check_utf8 && !po__utf8s_final(&r->u8))
			return po__fail(PO_EUTF8,
					"%s: not valid UTF-8 (line %zu): the "
					"text ends inside a character",
					r->what, r->u8.line);
		switch (it->codec) {
		case C_BASE64:
			r->outlen = po__b64_final(&r->st.b64, r->out);
			break;
		case C_QP:
			r->outlen = po__qp_final(&r->st.qp, r->out);
			break;
		case C_CANON:
			r->outlen = po__crlf_final(&r->st.crlf, r->out);
			rc = check_output(r, 1);
			if (rc)
				return rc;
			break;
		}
		r->finished = 1;
		return PO_OK;
	}
	rc = check_input(r, p, n);
	if (rc)
		return rc;
	switch (it->codec) {
	case C_BASE64:
		r->outlen = po__b64_update(&r->st.b64, p, n, r->out);
		break;
	case C_QP:
		r->outlen = po__qp_update(&r->st.qp, p, n, r->out);
		break;
	case C_CANON:
		r->outlen = po__crlf_update(&r->st.crlf, p, n, r->out);
		rc = check_output(r, 0);
		if (rc)
			return rc;
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

int po_reader_rewind(po_reader *r)
{
	if (!r)
		return po__fail(PO_EINVAL, "po_reader_rewind: no reader");
	if (r->status)
		return po__fail(PO_ESTATE,
				"po_reader_rewind: the render failed");
	if (r->streamed)
		return po__fail(PO_ESTATE,
				"po_reader_rewind: the letter has streamed "
				"content (a reader part), which cannot be read "
				"twice");
	body_close(r);
	r->cur = 0;
	r->pos = 0;
	r->outpos = r->outlen = 0;
	r->finished = 0;
	return PO_OK;
}

void po_reader_free(po_reader *r)
{
	size_t i;

	if (!r)
		return;
	body_close(r);
	for (i = 0; i < r->nfiles; i++)
		close(r->files[i].fd);
	free(r->files);
	po__buf_free(&r->mem);
	free(r->items);
	free(r->in);
	free(r->out);
	free(r);
}

/* ---------------------------------------------------------------------
 * What the SMTP transaction needs to know before MAIL */

static int has_8bit(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] >= 0x80)
			return 1;
	return 0;
}

int po__reader_8bit(const po_reader *r)
{
	size_t i;

	if (has_8bit(r->mem.p, r->mem.len))
		return 1;
	for (i = 0; i < r->nitems; i++) {
		const struct item *it = &r->items[i];

		if (it->kind != IT_BODY || it->codec != C_CANON)
			continue;
		if (!it->part) /* a raw letter: its octets, or a reader's */
			return !r->letter || r->letter->raw_fn
				       ? 1
				       : has_8bit(r->letter->raw,
						  r->letter->rawlen);
		if (strcmp(codec_name(it->part, it), "7bit") != 0)
			return 1;
	}
	return 0;
}

int po__reader_size_bound(const po_reader *r, unsigned long long *out)
{
	unsigned long long total = 0, n;
	struct stat st;
	size_t i;

	for (i = 0; i < r->nitems; i++) {
		const struct item *it = &r->items[i];

		if (it->kind == IT_MEM) {
			total += it->len;
			continue;
		}
		if (!it->part) {
			if (!r->letter || r->letter->raw_fn)
				return 0;
			n = r->letter->rawlen;
		} else if (it->part->src == PO__SRC_FILE) {
			if (stat(it->part->path, &st) != 0)
				return 0;
			n = (unsigned long long)st.st_size;
		} else if (it->part->src == PO__SRC_READER) {
			return 0;
		} else {
			n = it->part->len;
		}
		if (it->codec == C_BASE64) /* at least 54 octets a line */
			total += (n + 53) / 54 * 78;
		else if (it->codec == C_QP) /* =XX, and a soft break a line */
			total += 3 * n + n / 8 + 8;
		else /* a LF may become CRLF, a last CRLF may be added */
			total += 2 * n + 2;
	}
	*out = total;
	return 1;
}
