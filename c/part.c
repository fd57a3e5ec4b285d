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

/* Check that path names a readable regular file, by opening it. */
int po__file_check(const char *path)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;

		if (e == ENOENT || e == ENOTDIR)
			return po__fail(PO_ENOENT, "attachment %s: no such file",
					path);
		if (e == EISDIR)
			return po__fail(PO_EISDIR,
					"attachment %s: is a directory", path);
		return po__fail(PO_EACCES, "attachment %s: %s", path,
				strerror(e));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		int dir = S_ISDIR(st.st_mode);

		close(fd);
		if (dir)
			return po__fail(PO_EISDIR,
					"attachment %s: is a directory", path);
		return po__fail(PO_EACCES,
				"attachment %s: not a regular file", path);
	}
	close(fd);
	return PO_OK;
}

int po_part_new_file(const char *path, po_part **part_out)
{
	const char *base;
	po_part *p;
	int rc;

	if (!part_out)
		return po__fail(PO_EINVAL, "po_part_new_file: no output");
	*part_out = NULL;
	if (!path || !*path)
		return po__fail(PO_EINVAL, "attachment: empty file name");
	rc = po__file_check(path);
	if (rc)
		return rc;
	p = part_new(PO__SRC_FILE, po_mime_type_for_name(path));
	if (!p)
		return po__fail(PO_ENOMEM, NULL);
	p->path = strdup(path);
	if (!p->path) {
		po_part_free(p);
		return po__fail(PO_ENOMEM, NULL);
	}
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
	return p;
}

int po_part_add(po_part *parent, po_part *child)
{
	const po_part *a;

	if (!parent || !child)
		return po__fail(PO_EINVAL, "po_part_add: NULL part");
	if (parent->src != PO__SRC_MULTI)
		return po__fail(PO_EINVAL,
				"po_part_add: %s is not a multipart",
				parent->type);
	if (child->parent)
		return po__fail(PO_EINVAL,
				"po_part_add: the part already has a parent");
	for (a = parent; a; a = a->parent)
		if (a == child)
			return po__fail(PO_EINVAL,
					"po_part_add: a part cannot contain "
					"itself");
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

int po_part_set_boundary(po_part *p, const char *boundary)
{
	char fresh[44];
	size_t n, i;

	if (!p)
		return po__fail(PO_EINVAL, "boundary: no part");
	if (p->src != PO__SRC_MULTI)
		return po__fail(PO_EINVAL, "boundary: %s is not a multipart",
				p->type);
	if (!boundary) {
		po__boundary_new(fresh);
		return set_string(&p->boundary, fresh);
	}
	n = strlen(boundary);
	if (n == 0 || n > BOUNDARY_MAX || boundary[n - 1] == ' ')
		return po__fail(PO_EBOUNDARY,
				"boundary \"%.80s\": must be 1 to %d "
				"characters, not ending in a space",
				boundary, BOUNDARY_MAX);
	for (i = 0; i < n; i++)
		if (!boundary[i] || !is_bchar((unsigned char)boundary[i]))
			return po__fail(PO_EBOUNDARY,
					"boundary \"%.80s\": character not "
					"allowed by RFC 2046",
					boundary);
	return set_string(&p->boundary, boundary);
}

const char *po_part_boundary(const po_part *p)
{
	return p && p->src == PO__SRC_MULTI ? p->boundary : NULL;
}
