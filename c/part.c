/* part.c - the MIME part tree: constructors and copying setters.
 *
 * RFC 2045 §5.1 (Content-Type tokens), §6.1 (encodings); RFC 2046 §5.1.1
 * (boundaries); RFC 2183 (Content-Disposition); RFC 2392 (Content-ID).
 *
 * Every setter checks its input completely and copies it, so a bad value
 * is reported by the call that gives it and nothing can change under us.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "encode.h"
#include "po_private.h"

#define BOUNDARY_MAX 70 /* RFC 2046 §5.1.1 */

/* ---------------------------------------------------------------------
 * Small helpers */

void po__random(void *buf, size_t n)
{
	unsigned char *p = buf;

	while (n) {
		ssize_t got = getrandom(p, n, 0);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			/* Not reachable on Linux >= 3.17 after boot; fall back
			 * to something that still differs between calls. */
			for (; n; n--, p++)
				*p = (unsigned char)(rand() ^ (intptr_t)p);
			return;
		}
		p += got;
		n -= (size_t)got;
	}
}

/* Allegro's boundary: ten hyphens, an underscore, then 32 characters
 * picked by index 0-15 from "01234567890abcdef", so only 0-9 and a-e occur
 * (allegro-reference §3.4, quirk Q11, kept). */
void po__boundary_new(char out[44])
{
	static const char alphabet[] = "01234567890abcdef";
	unsigned char r[16];
	int i;

	po__random(r, sizeof r);
	memcpy(out, "----------_", 11);
	for (i = 0; i < 16; i++) {
		out[11 + 2 * i] = alphabet[r[i] >> 4];
		out[12 + 2 * i] = alphabet[r[i] & 15];
	}
	out[43] = '\0';
}

int po__pairs_add(po__pairs *l, const char *name, const char *value)
{
	char *n, *v;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;
		char **a = realloc(l->name, cap * sizeof *a);

		if (!a)
			return PO_ENOMEM;
		l->name = a;
		a = realloc(l->value, cap * sizeof *a);
		if (!a)
			return PO_ENOMEM;
		l->value = a;
		l->cap = cap;
	}
	n = strdup(name);
	v = strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		return PO_ENOMEM;
	}
	l->name[l->n] = n;
	l->value[l->n] = v;
	l->n++;
	return PO_OK;
}

void po__pairs_free(po__pairs *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->name[i]);
		free(l->value[i]);
	}
	free(l->name);
	free(l->value);
	memset(l, 0, sizeof *l);
}

const char *po__pairs_get(const po__pairs *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcasecmp(l->name[i], name) == 0)
			return l->value[i];
	return NULL;
}

/* RFC 2045 §5.1 token: printable ASCII except SP and tspecials. */
static int is_token(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c >= 0x7f || strchr("()<>@,;:\\\"/[]?=", c))
			return 0;
	}
	return 1;
}

/* A header value: valid UTF-8 without CR, LF or NUL. */
static int check_text(const char *s, const char *what)
{
	size_t n = strlen(s);

	if (strpbrk(s, "\r\n"))
		return po__fail(PO_EHEADER, "%s: line break not allowed", what);
	if (!po__utf8_valid(s, n))
		return po__fail(PO_EUTF8, "%s: not valid UTF-8", what);
	return PO_OK;
}

static int set_string(char **slot, const char *value)
{
	char *copy = NULL;

	if (value) {
		copy = strdup(value);
		if (!copy)
			return po__fail(PO_ENOMEM, NULL);
	}
	free(*slot);
	*slot = copy;
	return PO_OK;
}

int po__part_textual(const po_part *p)
{
	return strncasecmp(p->type, "text/", 5) == 0 ||
	       strcasecmp(p->type, "message/rfc822") == 0;
}

/* ---------------------------------------------------------------------
 * Constructors */

static po_part *part_new(enum po__source src, const char *type)
{
	po_part *p = calloc(1, sizeof *p);

	if (!p)
		return NULL;
	p->src = src;
	p->type = strdup(type);
	if (!p->type) {
		free(p);
		return NULL;
	}
	return p;
}

static po_part *part_new_mem(enum po__source src, const char *type,
			     const void *data, size_t len)
{
	po_part *p;

	if (len == PO_ZERO_TERMINATED)
		len = data ? strlen(data) : 0;
	p = part_new(src, type);
	if (!p)
		return NULL;
	/* one extra byte so an empty part still has a non-NULL buffer */
	p->data = malloc(len + 1);
	if (!p->data) {
		po_part_free(p);
		return NULL;
	}
	if (len)
		memcpy(p->data, data, len);
	p->len = len;
	return p;
}

po_part *po_part_new_text(const char *text, size_t len, const char *charset)
{
	po_part *p = part_new_mem(PO__SRC_TEXT, "text/plain", text, len);

	/* canonical text: CRLF line ends, also when it goes as base64 */
	if (p && !po__charset_wide(charset) &&
	    po__text_canonical(&p->data, &p->len)) {
		po_part_free(p);
		return NULL;
	}
	if (p && po_part_set_charset(p, charset ? charset : "utf-8")) {
		po_part_free(p);
		return NULL;
	}
	return p;
}

po_part *po_part_new_bytes(const void *data, size_t len)
{
	return part_new_mem(PO__SRC_BYTES, "application/octet-stream", data,
			    len);
}

/* The error for a failed stat or open of path. */
static int file_error(const char *path, int e)
{
	if (e == ENOENT || e == ENOTDIR)
		return po__fail(PO_ENOENT, "attachment %s: no such file", path);
	if (e == EISDIR)
		return po__fail(PO_EISDIR, "attachment %s: is a directory",
				path);
	return po__fail(PO_EACCES, "attachment %s: %s", path, strerror(e));
}

/* Check that path names a readable regular file, and remember which:
 * stat first, so that nothing but a regular file is ever opened here
 * (opening a FIFO for reading can block, a device can act), then open it
 * without blocking to learn that it can be read, and take the identity
 * from that descriptor. */
static int file_identify(po_part *p, const char *path)
{
	struct stat st, fst;
	int fd;

	if (stat(path, &st) != 0)
		return file_error(path, errno);
	if (S_ISDIR(st.st_mode))
		return po__fail(PO_EISDIR, "attachment %s: is a directory",
				path);
	if (!S_ISREG(st.st_mode))
		return po__fail(PO_EACCES, "attachment %s: not a regular file",
				path);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return file_error(path, errno);
	if (fstat(fd, &fst) != 0 || !S_ISREG(fst.st_mode)) {
		close(fd);
		return po__fail(PO_EACCES, "attachment %s: not a regular file",
				path);
	}
	close(fd);
	p->dev = fst.st_dev;
	p->ino = fst.st_ino;
	p->size = fst.st_size;
	p->ctime = fst.st_ctim;
	return PO_OK;
}

int po__file_open(const po_part *p, int *fd_out, struct timespec *mtime_out)
{
	struct stat st;
	int fd, fl;

	*fd_out = -1;
	/* O_NONBLOCK: should a FIFO be there now, open must not wait for a
	 * writer; the checks below refuse it.  Symbolic links are followed
	 * (the caller's own may point anywhere): what counts is that the
	 * object reached is the one the part was made from. */
	fd = open(p->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return file_error(p->path, errno);
	if (fstat(fd, &st) != 0) {
		int e = errno;

		close(fd);
		return po__fail(PO_EIO, "attachment %s: %s", p->path,
				strerror(e));
	}
	/* the inode number of a file removed can come back with a new one:
	 * its change time tells them apart (no caller can set it) */
	if (!S_ISREG(st.st_mode) || st.st_dev != p->dev ||
	    st.st_ino != p->ino || st.st_ctim.tv_sec != p->ctime.tv_sec ||
	    st.st_ctim.tv_nsec != p->ctime.tv_nsec) {
		close(fd);
		return po__fail(PO_ECHANGED,
				"attachment %s: %s since the part was made",
				p->path,
				!S_ISREG(st.st_mode)
					? "no longer a regular file"
				: st.st_dev != p->dev || st.st_ino != p->ino
					? "another file is in its place"
					: "it was changed");
	}
	if (st.st_size != p->size) {
		close(fd);
		return po__fail(PO_ECHANGED,
				"attachment %s: its size changed from %lld to "
				"%lld octets since the part was made",
				p->path, (long long)p->size,
				(long long)st.st_size);
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		int e = errno;

		close(fd);
		return po__fail(PO_EIO, "attachment %s: %s", p->path,
				strerror(e));
	}
	*fd_out = fd;
	*mtime_out = st.st_mtim;
	return PO_OK;
}

static int new_file(const char *path, const char *type, po_part **part_out)
{
	po_part *p;
	int rc;

	if (!part_out)
		return po__fail(PO_EINVAL, "po_part_new_file: no output");
	*part_out = NULL;
	if (!path || !*path)
		return po__fail(PO_EINVAL, "attachment: empty file name");
	p = part_new(PO__SRC_FILE, type ? type : po_mime_type_for_name(path));
	if (!p)
		return po__fail(PO_ENOMEM, NULL);
	rc = file_identify(p, path);
	if (rc) {
		po_part_free(p);
		return rc;
	}
	p->path = strdup(path);
	if (!p->path) {
		po_part_free(p);
		return po__fail(PO_ENOMEM, NULL);
	}
	*part_out = p;
	return PO_OK;
}

int po_part_new_file(const char *path, po_part **part_out)
{
	const char *base;
	po_part *p;
	int rc;

	rc = new_file(path, NULL, &p);
	if (rc)
		return rc;
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	/* a file name that is not UTF-8 can't be named in the header: the
	 * attachment goes without a filename rather than failing */
	if (*base && po__utf8_valid(base, strlen(base))) {
		rc = po_part_set_disposition(p, PO_DISPOSITION_ATTACHMENT,
					     base);
		if (rc) {
			po_part_free(p);
			return rc;
		}
	} else {
		p->disposition = PO_DISPOSITION_ATTACHMENT;
	}
	*part_out = p;
	return PO_OK;
}

static int is_utf8_charset(const char *charset)
{
	return strcasecmp(charset, "utf-8") == 0 ||
	       strcasecmp(charset, "utf8") == 0;
}

int po_part_new_text_file(const char *path, const char *charset,
			  po_part **part_out)
{
	po_part *p;
	int rc;

	if (!charset)
		charset = "utf-8";
	if (part_out)
		*part_out = NULL;
	if (!is_token(charset))
		return po__fail(PO_ECONTENTTYPE,
				"charset \"%.80s\": not a token", charset);
	rc = new_file(path, "text/plain", &p);
	if (rc)
		return rc;
	rc = po_part_set_charset(p, charset);
	if (rc) {
		po_part_free(p);
		return rc;
	}
	p->text_like = 1;
	p->check_utf8 = is_utf8_charset(charset);
	*part_out = p;
	return PO_OK;
}

po_part *po_part_new_reader(po_read_fn fn, void *userdata)
{
	po_part *p;

	if (!fn)
		return NULL;
	p = part_new(PO__SRC_READER, "application/octet-stream");
	if (p) {
		p->fn = fn;
		p->userdata = userdata;
	}
	return p;
}

po_part *po_part_new_text_reader(po_read_fn fn, void *userdata,
				 const char *charset)
{
	po_part *p;

	if (!charset)
		charset = "utf-8";
	if (!fn || !is_token(charset))
		return NULL;
	p = part_new(PO__SRC_READER, "text/plain");
	if (!p)
		return NULL;
	p->fn = fn;
	p->userdata = userdata;
	p->charset = strdup(charset);
	if (!p->charset) {
		po_part_free(p);
		return NULL;
	}
	p->text_like = 1;
	p->check_utf8 = is_utf8_charset(charset);
	return p;
}

po_part *po_part_new_multipart(const char *subtype)
{
	char type[128], boundary[44];
	po_part *p;

	if (!subtype)
		subtype = "mixed";
	if (!is_token(subtype) || strlen(subtype) > sizeof type - 11)
		return NULL;
	snprintf(type, sizeof type, "multipart/%s", subtype);
	p = part_new(PO__SRC_MULTI, type);
	if (!p)
		return NULL;
	po__boundary_new(boundary);
	p->boundary = strdup(boundary);
	if (!p->boundary) {
		po_part_free(p);
		return NULL;
	}
	p->boundary_generated = 1;
	return p;
}

unsigned po__part_level(const po_part *p)
{
	unsigned n = 0;

	for (; p; p = p->parent)
		n++;
	return n;
}

int po_part_add(po_part *parent, po_part *child)
{
	const po_part *a;
	po_part *p;
	unsigned level, h;

	if (!parent || !child)
		return po__fail(PO_EINVAL, "po_part_add: NULL part");
	if (parent->src != PO__SRC_MULTI)
		return po__fail(PO_EINVAL,
				"po_part_add: %s is not a multipart",
				parent->type);
	if (child->parent)
		return po__fail(PO_EINVAL,
				"po_part_add: the part already has a parent");
	/* At most PO_MAX_DEPTH steps: no tree is ever deeper, so building
	 * one is linear and nothing that walks it can exhaust the stack. */
	level = 0;
	for (a = parent; a; a = a->parent) {
		if (a == child)
			return po__fail(PO_EINVAL,
					"po_part_add: a part cannot contain "
					"itself");
		level++;
	}
	if (level + 1 + child->height > PO_MAX_DEPTH)
		return po__fail(PO_EDEPTH,
				"po_part_add: the parts would be nested %u "
				"levels deep, more than the %d allowed",
				level + 1 + child->height, PO_MAX_DEPTH);
	if (parent->nchild == parent->capchild) {
		size_t cap = parent->capchild ? parent->capchild * 2 : 4;
		po_part **v = realloc(parent->child, cap * sizeof *v);

		if (!v)
			return po__fail(PO_ENOMEM, NULL);
		parent->child = v;
		parent->capchild = cap;
	}
	parent->child[parent->nchild++] = child;
	child->parent = parent;
	h = child->height + 1;
	for (p = parent; p && p->height < h; p = p->parent, h++)
		p->height = h;
	return PO_OK;
}

void po_part_free(po_part *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nchild; i++)
		po_part_free(p->child[i]);
	free(p->child);
	free(p->type);
	free(p->charset);
	po__pairs_free(&p->params);
	free(p->filename);
	free(p->id);
	free(p->description);
	po__pairs_free(&p->headers);
	free(p->boundary);
	free(p->data);
	free(p->path);
	free(p);
}

/* ---------------------------------------------------------------------
 * Setters */

int po_part_set_type(po_part *p, const char *type)
{
	const char *slash;
	char *major;
	int multi, ok;

	if (!p || !type)
		return po__fail(PO_EINVAL, "content type: none given");
	slash = strchr(type, '/');
	if (!slash)
		return po__fail(PO_ECONTENTTYPE,
				"content type \"%.80s\": no '/'", type);
	major = strndup(type, (size_t)(slash - type));
	if (!major)
		return po__fail(PO_ENOMEM, NULL);
	ok = is_token(major) && is_token(slash + 1);
	multi = strcasecmp(major, "multipart") == 0;
	free(major);
	if (!ok)
		return po__fail(PO_ECONTENTTYPE,
				"content type \"%.80s\": not type/subtype "
				"(parameters go in po_part_add_param)",
				type);
	if (multi != (p->src == PO__SRC_MULTI))
		return po__fail(PO_EINVAL,
				"content type \"%.80s\": a %s part can't "
				"take it",
				type, p->src == PO__SRC_MULTI ? "multipart"
							      : "leaf");
	return set_string(&p->type, type);
}

int po_part_set_charset(po_part *p, const char *charset)
{
	if (!p)
		return po__fail(PO_EINVAL, "charset: no part");
	if (charset && !is_token(charset))
		return po__fail(PO_ECONTENTTYPE,
				"charset \"%.80s\": not a token", charset);
	return set_string(&p->charset, charset);
}

int po_part_add_param(po_part *p, const char *name, const char *value)
{
	int rc;

	if (!p || !name || !value)
		return po__fail(PO_EINVAL, "parameter: NULL argument");
	if (!is_token(name))
		return po__fail(PO_ECONTENTTYPE,
				"parameter name \"%.80s\": not a token", name);
	if (strcasecmp(name, "charset") == 0 ||
	    strcasecmp(name, "boundary") == 0)
		return po__fail(PO_ECONTENTTYPE,
				"parameter %s: use po_part_set_%s", name,
				strcasecmp(name, "charset") == 0 ? "charset"
								 : "boundary");
	rc = check_text(value, "parameter value");
	if (rc)
		return rc;
	if (po__pairs_add(&p->params, name, value))
		return po__fail(PO_ENOMEM, NULL);
	return PO_OK;
}

int po_part_set_encoding(po_part *p, const char *encoding)
{
	static const struct {
		const char *name;
		enum po__encoding enc;
	} names[] = {
		{"7bit", PO__ENC_7BIT},     {"8bit", PO__ENC_8BIT},
		{"binary", PO__ENC_BINARY}, {"base64", PO__ENC_BASE64},
		{"quoted-printable", PO__ENC_QP},
	};
	size_t i;

	if (!p)
		return po__fail(PO_EINVAL, "encoding: no part");
	if (!encoding) {
		p->encoding = PO__ENC_DEFAULT;
		p->encoding_fixed = 0;
		return PO_OK;
	}
	if (p->src == PO__SRC_MULTI)
		return po__fail(PO_EINVAL,
				"encoding %s: a multipart takes no transfer "
				"encoding",
				encoding);
	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcasecmp(encoding, names[i].name) == 0) {
			p->encoding = names[i].enc;
			p->encoding_fixed = 0;
			return PO_OK;
		}
	return po__fail(PO_EENCODING,
			"encoding \"%.40s\": not 7bit, 8bit, binary, base64 "
			"or quoted-printable",
			encoding);
}

int po_part_set_disposition(po_part *p, int disposition, const char *filename)
{
	int rc;

	if (!p)
		return po__fail(PO_EINVAL, "disposition: no part");
	if (disposition != PO_DISPOSITION_NONE &&
	    disposition != PO_DISPOSITION_INLINE &&
	    disposition != PO_DISPOSITION_ATTACHMENT)
		return po__fail(PO_EINVAL, "disposition %d: unknown",
				disposition);
	if (filename) {
		rc = check_text(filename, "filename");
		if (rc)
			return rc == PO_EHEADER
				       ? po__fail(PO_EFILENAME,
						  "filename: line break not "
						  "allowed")
				       : rc;
		if (!*filename)
			return po__fail(PO_EFILENAME, "filename: empty");
		if (strchr(filename, '/'))
			return po__fail(PO_EFILENAME,
					"filename \"%.80s\": contains '/'",
					filename);
		for (const char *s = filename; *s; s++)
			if ((unsigned char)*s < 0x20 || *s == 0x7f)
				return po__fail(PO_EFILENAME,
						"filename: control character "
						"not allowed");
	}
	rc = set_string(&p->filename, filename);
	if (rc)
		return rc;
	p->disposition = disposition;
	return PO_OK;
}

int po_part_set_id(po_part *p, const char *id)
{
	char *copy;
	size_t n;

	if (!p)
		return po__fail(PO_EINVAL, "Content-ID: no part");
	if (!id)
		return set_string(&p->id, NULL);
	n = strlen(id);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];

		if (c <= ' ' || c >= 0x7f)
			return po__fail(PO_EHEADER,
					"Content-ID \"%.80s\": white space, "
					"control or non-ASCII character",
					id);
	}
	if (n == 0 || (id[0] == '<') != (id[n - 1] == '>') ||
	    (id[0] == '<' && n < 3))
		return po__fail(PO_EHEADER, "Content-ID \"%.80s\": malformed",
				id);
	if (id[0] == '<')
		copy = strdup(id);
	else if (asprintf(&copy, "<%s>", id) < 0)
		copy = NULL;
	if (!copy)
		return po__fail(PO_ENOMEM, NULL);
	free(p->id);
	p->id = copy;
	return PO_OK;
}

int po_part_set_description(po_part *p, const char *text)
{
	int rc;

	if (!p)
		return po__fail(PO_EINVAL, "Content-Description: no part");
	if (text) {
		rc = check_text(text, "Content-Description");
		if (rc)
			return rc;
	}
	return set_string(&p->description, text);
}

/* ---------------------------------------------------------------------
 * A part's own Content-* header fields (RFC 2045 §5.1, §6.1) */

/* RFC 822 comments and white space (CFWS), nested comments and quoted
 * pairs included.  Returns the first octet after them, or NULL for an
 * unterminated comment. */
static const char *skip_cfws(const char *s)
{
	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s != '(')
			return s;
		{
			int depth = 0;

			do {
				if (*s == '\\' && s[1])
					s++;
				else if (*s == '(')
					depth++;
				else if (*s == ')')
					depth--;
				else if (!*s)
					return NULL;
				s++;
			} while (depth > 0);
		}
	}
}

static int is_token_char(unsigned char c)
{
	return c > ' ' && c < 0x7f && !strchr("()<>@,;:\\\"/[]?=", c);
}

/* A token at *s, copied; *s moves past it.  NULL (and *s unchanged) if
 * there is none; *oom set when memory ran out. */
static char *take_token(const char **s, int *oom)
{
	const char *p = *s;
	char *t;

	while (is_token_char((unsigned char)*p))
		p++;
	if (p == *s)
		return NULL;
	t = strndup(*s, (size_t)(p - *s));
	if (!t)
		*oom = 1;
	*s = p;
	return t;
}

/* A quoted-string at *s (which starts with '"'), unquoted. */
static char *take_quoted(const char **s, int *oom)
{
	po__buf b = PO__BUF_INIT;
	const char *p = *s + 1;

	for (; *p && *p != '"'; p++) {
		if (*p == '\\' && p[1])
			p++;
		if (po__buf_putc(&b, *p)) {
			*oom = 1;
			po__buf_free(&b);
			return NULL;
		}
	}
	if (*p != '"') {
		po__buf_free(&b);
		return NULL;
	}
	*s = p + 1;
	if (!b.p && po__buf_puts(&b, "")) {
		*oom = 1;
		return NULL;
	}
	return po__buf_steal(&b);
}

/* Parse a Content-Type value: "type/subtype" then "; name=value" pairs
 * (token or quoted-string values).  *type_out is malloc'd; the pairs go
 * into params. */
static int parse_content_type(const char *value, char **type_out,
			      po__pairs *params)
{
	const char *s = value;
	char *major = NULL, *minor = NULL, *name = NULL, *v = NULL;
	int oom = 0, rc = PO_OK;

	*type_out = NULL;
#define BAD(what)                                                           \
	do {                                                                \
		rc = po__fail(PO_ECONTENTTYPE,                              \
			      "Content-Type header \"%.80s\": %s", value,   \
			      what);                                        \
		goto out;                                                   \
	} while (0)
	if (!(s = skip_cfws(s)))
		BAD("unterminated comment");
	major = take_token(&s, &oom);
	if (!major || !(s = skip_cfws(s)) || *s != '/')
		BAD(oom ? "out of memory" : "not type/subtype");
	s = skip_cfws(s + 1);
	minor = s ? take_token(&s, &oom) : NULL;
	if (!minor)
		BAD(oom ? "out of memory" : "not type/subtype");
	if (asprintf(type_out, "%s/%s", major, minor) < 0) {
		*type_out = NULL;
		oom = 1;
		BAD("out of memory");
	}
	for (;;) {
		if (!(s = skip_cfws(s)))
			BAD("unterminated comment");
		if (!*s)
			break;
		if (*s != ';')
			BAD("junk after the type or a parameter");
		if (!(s = skip_cfws(s + 1)))
			BAD("unterminated comment");
		if (!*s)
			break; /* a trailing ';' */
		name = take_token(&s, &oom);
		if (!name)
			BAD(oom ? "out of memory" : "a parameter has no name");
		if (strpbrk(name, "*'%"))
			BAD("RFC 2231 parameters (name*=) are not taken here; "
			    "give the plain value with po_part_add_param");
		if (!(s = skip_cfws(s)) || *s != '=')
			BAD("a parameter has no '=' and value");
		if (!(s = skip_cfws(s + 1)))
			BAD("unterminated comment");
		v = *s == '"' ? take_quoted(&s, &oom) : take_token(&s, &oom);
		if (!v)
			BAD(oom ? "out of memory" : "a parameter has no value");
		if (po__pairs_get(params, name))
			BAD("a parameter is given twice");
		if (po__pairs_add(params, name, v)) {
			oom = 1;
			BAD("out of memory");
		}
		free(name);
		free(v);
		name = v = NULL;
	}
#undef BAD
out:
	if (oom && rc)
		rc = po__fail(PO_ENOMEM, NULL);
	if (rc) {
		free(*type_out);
		*type_out = NULL;
	}
	free(major);
	free(minor);
	free(name);
	free(v);
	return rc;
}

static int check_boundary(const char *boundary);

/* Content-Type given as a header: the part's type, charset, parameters
 * and (multiparts) boundary become what it says, all or nothing. */
static int apply_content_type(po_part *p, const char *value)
{
	po__pairs params = {0}, rest = {0};
	const char *charset = NULL, *boundary = NULL;
	char *type = NULL, *cs = NULL, *bd = NULL;
	int multi, rc;
	size_t i;

	if (p->type_given)
		return po__fail(PO_EHEADER,
				"Content-Type header: the part has one "
				"already");
	rc = parse_content_type(value, &type, &params);
	if (rc)
		return rc;
	multi = strncasecmp(type, "multipart/", 10) == 0;
	if (multi != (p->src == PO__SRC_MULTI)) {
		rc = po__fail(PO_EINVAL,
			      "Content-Type header \"%.80s\": a %s part "
			      "can't take it",
			      value, p->src == PO__SRC_MULTI ? "multipart"
							     : "leaf");
		goto out;
	}
	for (i = 0; i < params.n && !rc; i++) {
		if (strcasecmp(params.name[i], "charset") == 0)
			charset = params.value[i];
		else if (strcasecmp(params.name[i], "boundary") == 0)
			boundary = params.value[i];
		else if (po__pairs_add(&rest, params.name[i],
				       params.value[i]))
			rc = po__fail(PO_ENOMEM, NULL);
		else
			rc = check_text(params.value[i], "parameter value");
	}
	if (rc)
		goto out;
	if (charset && !is_token(charset)) {
		rc = po__fail(PO_ECONTENTTYPE,
			      "Content-Type header: charset \"%.80s\": not a "
			      "token",
			      charset);
		goto out;
	}
	if (boundary && !multi) {
		rc = po__fail(PO_ECONTENTTYPE,
			      "Content-Type header \"%.80s\": a boundary on "
			      "a part that is not a multipart",
			      value);
		goto out;
	}
	if (boundary && (rc = check_boundary(boundary)) != PO_OK)
		goto out;
	if ((charset && !(cs = strdup(charset))) ||
	    (boundary && !(bd = strdup(boundary)))) {
		rc = po__fail(PO_ENOMEM, NULL);
		goto out;
	}
	free(p->type);
	p->type = type;
	type = NULL;
	free(p->charset);
	p->charset = cs;
	cs = NULL;
	po__pairs_free(&p->params);
	p->params = rest;
	memset(&rest, 0, sizeof rest);
	if (bd) {
		free(p->boundary);
		p->boundary = bd;
		p->boundary_generated = 0;
		bd = NULL;
	}
	p->type_given = 1;
out:
	free(type);
	free(cs);
	free(bd);
	po__pairs_free(&params);
	po__pairs_free(&rest);
	return rc;
}

/* Content-Transfer-Encoding given as a header: the encoding applied. */
static int apply_cte(po_part *p, const char *value)
{
	const char *s = skip_cfws(value);
	char *token = NULL;
	int oom = 0, rc;

	if (p->encoding_fixed)
		return po__fail(PO_EHEADER,
				"Content-Transfer-Encoding header: the part "
				"has one already");
	if (p->src == PO__SRC_MULTI)
		return po__fail(PO_EINVAL,
				"Content-Transfer-Encoding header: a multipart "
				"takes no transfer encoding");
	if (s)
		token = take_token(&s, &oom);
	if (!token || !(s = skip_cfws(s)) || *s) {
		free(token);
		return oom ? po__fail(PO_ENOMEM, NULL)
			   : po__fail(PO_EENCODING,
				      "Content-Transfer-Encoding header "
				      "\"%.80s\": not one encoding name",
				      value);
	}
	rc = po_part_set_encoding(p, token);
	free(token);
	if (rc)
		return rc;
	p->encoding_fixed = 1;
	return PO_OK;
}

int po_part_add_header(po_part *p, const char *name, const char *value)
{
	int rc;

	if (!p || !name || !value)
		return po__fail(PO_EINVAL, "header: NULL argument");
	if (!po__hdr_name_valid(name, strlen(name)))
		return po__fail(PO_EHEADER, "header name \"%.80s\": not valid",
				name);
	rc = check_text(value, name);
	if (rc)
		return rc;
	/* as for the letter's own lines: a Bcc field would show the blind
	 * copies to every recipient */
	if (strcasecmp(name, "Bcc") == 0)
		return po__fail(PO_EHEADER,
				"part header Bcc: a Bcc field would show the "
				"blind copies to every recipient; add them as "
				"Bcc recipients of the letter instead");
	if (strcasecmp(name, "Content-Type") == 0)
		return apply_content_type(p, value);
	if (strcasecmp(name, "Content-Transfer-Encoding") == 0)
		return apply_cte(p, value);
	if (strncasecmp(name, "Content-", 8) == 0 &&
	    po__pairs_get(&p->headers, name))
		return po__fail(PO_EHEADER,
				"part header %s: the part has one already",
				name);
	if (po__pairs_add(&p->headers, name, value))
		return po__fail(PO_ENOMEM, NULL);
	return PO_OK;
}

/* RFC 2046 §5.1.1 bchars. */
static int is_bchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("'()+_,-./:=? ", c);
}

static int check_boundary(const char *boundary)
{
	size_t n = strlen(boundary), i;

	if (n == 0 || n > BOUNDARY_MAX || boundary[n - 1] == ' ')
		return po__fail(PO_EBOUNDARY,
				"boundary \"%.80s\": must be 1 to %d "
				"characters, not ending in a space",
				boundary, BOUNDARY_MAX);
	for (i = 0; i < n; i++)
		if (!is_bchar((unsigned char)boundary[i]))
			return po__fail(PO_EBOUNDARY,
					"boundary \"%.80s\": character not "
					"allowed by RFC 2046",
					boundary);
	/* a parameter value with "=?" is written as encoded words (it could
	 * be taken for one), and a reader would not get the boundary back */
	if (strstr(boundary, "=?"))
		return po__fail(PO_EBOUNDARY,
				"boundary \"%.80s\": \"=?\" would be read as "
				"the start of an encoded word",
				boundary);
	return PO_OK;
}

static int set_boundary(po_part *p, const char *boundary, int generated)
{
	char fresh[44];
	int rc;

	if (!p)
		return po__fail(PO_EINVAL, "boundary: no part");
	if (p->src != PO__SRC_MULTI)
		return po__fail(PO_EINVAL, "boundary: %s is not a multipart",
				p->type);
	if (!boundary) {
		po__boundary_new(fresh);
		boundary = fresh;
		generated = 1;
	}
	rc = check_boundary(boundary);
	if (!rc)
		rc = set_string(&p->boundary, boundary);
	if (!rc)
		p->boundary_generated = generated;
	return rc;
}

int po_part_set_boundary(po_part *p, const char *boundary)
{
	return set_boundary(p, boundary, 0);
}

int po_part_set_generated_boundary(po_part *p, const char *boundary)
{
	return set_boundary(p, boundary, 1);
}

int po_boundary_new(char *out, size_t size)
{
	if (!out || size < PO_BOUNDARY_SIZE)
		return po__fail(PO_EINVAL,
				"po_boundary_new: room for %d bytes needed",
				PO_BOUNDARY_SIZE);
	po__boundary_new(out);
	return PO_OK;
}

const char *po_part_boundary(const po_part *p)
{
	return p && p->src == PO__SRC_MULTI ? p->boundary : NULL;
}
