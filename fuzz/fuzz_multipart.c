/* fuzz_multipart.c - libFuzzer target for the multipart renderer (issue
 * 11 items 1, 2 and 13): the input builds a tree of parts - text, octets
 * and reader parts, nested multiparts - with boundaries the caller fixed
 * or left to the library, Content-Type and Content-Transfer-Encoding
 * headers of the caller's, and content that holds the enclosing
 * boundaries on lines of their own (the fuzzer could never guess a
 * random boundary, so the input says where to put one).  The render may
 * be refused; when it is not, the letter is read back with the tests'
 * own MIME parser (tests-c/codec.c), which fails on any line that starts
 * with a boundary and is not a delimiter, and must give exactly the tree
 * that was built: the same shape, and every leaf's content back, so no
 * part was forged and none was lost. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "postoffice.h"

#define MAX_LEAVES 8

/* The input, taken from the front. */
struct in {
	const uint8_t *p;
	size_t n;
};

static unsigned byte(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

/* Up to max octets of the input, their count first. */
static size_t slice(struct in *in, size_t max, const uint8_t **out)
{
	size_t k = byte(in) % (max + 1);

	if (k > in->n)
		k = in->n;
	*out = in->p;
	in->p += k;
	in->n -= k;
	return k;
}

/* What a leaf was made of, to compare with what is read back. */
struct leaf {
	unsigned char *content;
	size_t len;
	int reader;
	int text; /* made by po_part_new_text: canonical CRLF text */
	size_t pos, chunk; /* reader parts: where, and how much a call */
};

struct expect {
	int leaf;          /* index in leaves, or -1 for a multipart */
	size_t nchild;
	struct expect *child[MAX_LEAVES];
};

static struct leaf leaves[MAX_LEAVES];
static size_t nleaves;

static int read_leaf(void *ud, void *buf, size_t len, size_t *n_out)
{
	struct leaf *l = ud;
	size_t k = l->len - l->pos;

	if (k > l->chunk)
		k = l->chunk;
	if (k > len)
		k = len;
	memcpy(buf, l->content + l->pos, k);
	l->pos += k;
	*n_out = k;
	return 0;
}

static const char *const encodings[] = {
	NULL, "7bit", "8bit", "binary", "base64", "quoted-printable",
};

/* Content: octets of the input, with the boundaries given so far put on
 * lines of their own where the input asks (sometimes as a close
 * delimiter, sometimes followed by more on the line). */
static unsigned char *make_content(struct in *in, const char *const *bounds,
				   size_t nbounds, size_t *len_out)
{
	unsigned char *c = malloc(4096);
	size_t len = 0;
	unsigned pieces = byte(in) % 4 + 1;

	if (!c)
		abort();
	for (unsigned i = 0; i < pieces; i++) {
		const uint8_t *s;
		size_t k = slice(in, 200, &s);
		unsigned how = byte(in);

		memcpy(c + len, s, k);
		len += k;
		if (nbounds && how % 3 == 0) {
			const char *b = bounds[(how >> 2) % nbounds];
			const char *tail = how & 0x40 ? "--" : how & 0x80 ? "x"
									    : "";

			len += (size_t)snprintf((char *)c + len, 4096 - len,
						"\n--%s%s\n", b, tail);
		}
	}
	*len_out = len;
	return c;
}

static void add_leaf(struct in *in, po_part *parent, struct expect *e,
		     const char *const *bounds, size_t nbounds)
{
	struct leaf *l = &leaves[nleaves];
	unsigned kind = byte(in), enc = byte(in);
	po_part *p;

	l->content = make_content(in, bounds, nbounds, &l->len);
	l->reader = 0;
	l->text = kind % 4 < 2;
	switch (kind % 4) {
	case 0:
	case 1:
		p = po_part_new_text((const char *)l->content, l->len, NULL);
		break;
	case 2:
		p = po_part_new_bytes(l->content, l->len);
		break;
	default:
		l->reader = 1;
		l->pos = 0;
		l->chunk = byte(in) % 64 + 1;
		p = po_part_new_reader(read_leaf, l);
		if (p && kind & 4)
			po_part_set_type(p, "text/plain");
		break;
	}
	if (!p)
		abort();
	/* the encoding: the library's choice, set, or a header of the
	 * caller's (which is then applied or refused) */
	if (enc & 8)
		po_part_add_header(p, "Content-Transfer-Encoding",
				   encodings[enc % 6] ? encodings[enc % 6]
						      : "7bit");
	else
		po_part_set_encoding(p, encodings[enc % 6]);
	if (enc & 16)
		po_part_add_header(p, "Content-Type",
				   enc & 32 ? "text/html; charset=utf-8"
					    : "text/plain; format=flowed");
	if (enc & 64)
		po_part_add_header(p, "Content-Disposition",
				   "attachment; filename=\"a.bin\"");
	if (po_part_add(parent, p) != PO_OK) {
		po_part_free(p);
		free(l->content);
		return;
	}
	e->child[e->nchild] = calloc(1, sizeof *e);
	if (!e->child[e->nchild])
		abort();
	e->child[e->nchild]->leaf = (int)nleaves;
	e->nchild++;
	nleaves++;
}

/* A boundary from the input (fixed), or a Content-Type header naming
 * one, or the generated one. */
static void choose_boundary(struct in *in, po_part *mp)
{
	unsigned how = byte(in);
	const uint8_t *s;
	size_t k = slice(in, 72, &s);
	char b[80], v[128];

	memcpy(b, s, k);
	b[k] = '\0';
	if (how % 3 == 0)
		po_part_set_boundary(mp, b);
	else if (how % 3 == 1 && !strpbrk(b, "\"\\\r\n")) {
		snprintf(v, sizeof v, "multipart/mixed; boundary=\"%s\"", b);
		po_part_add_header(mp, "Content-Type", v);
	}
}

static void free_expect(struct expect *e)
{
	for (size_t i = 0; i < e->nchild; i++)
		free_expect(e->child[i]);
	free(e);
}

/* 7bit, 8bit, binary: every line end CRLF (a bare CR too). */
static size_t canonical(const unsigned char *in, size_t n, unsigned char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\r' || in[i] == '\n') {
			if (in[i] == '\r' && i + 1 < n && in[i + 1] == '\n')
				i++;
			out[o++] = '\r';
			out[o++] = '\n';
		} else {
			out[o++] = in[i];
		}
	}
	return o;
}

static void check(const struct expect *e, const tc_entity *t)
{
	if (e->leaf < 0) {
		if (strncmp(t->type, "multipart/", 10) != 0 ||
		    t->nchild != e->nchild)
			__builtin_trap();
		for (size_t i = 0; i < e->nchild; i++)
			check(e->child[i], t->child[i]);
		return;
	}
	{
		const struct leaf *l = &leaves[e->leaf];
		unsigned char *want = malloc(2 * l->len + 1);
		size_t n;

		if (!want)
			abort();
		if (strcmp(t->cte, "base64") == 0)
			/* a text part is canonical text: its bare LFs went
			 * in as CRLF (RFC 2045 §6.8) */
			n = l->text ? tc_text_canonical(l->content, l->len,
							want)
				    : (memcpy(want, l->content, l->len),
				       l->len);
		else if (strcmp(t->cte, "quoted-printable") == 0)
			n = strncmp(t->type, "text/", 5) == 0
				    ? tc_text_canonical(l->content, l->len,
							want)
				    : (memcpy(want, l->content, l->len),
				       l->len);
		else
			n = canonical(l->content, l->len, want);
		if (t->nchild || n != t->len || memcmp(want, t->body, n) != 0)
			__builtin_trap();
		free(want);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = {data, size};
	po_letter *l = po_letter_new();
	po_part *root = po_part_new_multipart(NULL);
	struct expect *top = calloc(1, sizeof *top);
	const char *bounds[4];
	size_t nbounds = 0, total = 0;
	unsigned count;
	po_reader *r = NULL;
	char *out = NULL;
	int rc = PO_OK;

	if (!l || !root || !top)
		abort();
	nleaves = 0;
	top->leaf = -1;
	po_letter_set_from(l, "a@example.com");
	po_letter_add_to(l, "b@example.com");
	choose_boundary(&in, root);
	bounds[nbounds++] = po_part_boundary(root);
	count = byte(&in) % 6 + 1;
	for (unsigned i = 0; i < count && nleaves < MAX_LEAVES; i++) {
		if (byte(&in) % 4 == 0 && top->nchild < MAX_LEAVES) {
			/* a nested multipart with a leaf or two */
			po_part *mp = po_part_new_multipart("alternative");
			struct expect *e = calloc(1, sizeof *e);
			unsigned k = byte(&in) % 2 + 1;

			if (!mp || !e)
				abort();
			e->leaf = -1;
			choose_boundary(&in, mp);
			bounds[nbounds] = po_part_boundary(mp);
			for (unsigned j = 0; j < k && nleaves < MAX_LEAVES; j++)
				add_leaf(&in, mp, e, bounds, nbounds + 1);
			if (po_part_add(root, mp) != PO_OK) {
				po_part_free(mp);
				free_expect(e);
				continue;
			}
			top->child[top->nchild++] = e;
		} else {
			add_leaf(&in, root, top, bounds, nbounds);
		}
	}
	po_letter_set_body(l, root);
	/* the boundaries written into the content were the ones set then;
	 * the render may replace generated ones, or refuse */
	rc = po_reader_new(l, 0, &r);
	if (rc != PO_OK) {
		if (rc != PO_EBOUNDARY && rc != PO_ELINE && rc != PO_EBADOCTET &&
		    rc != PO_ETOOLONG && rc != PO_EHEADER)
			__builtin_trap();
		goto out;
	}
	for (;;) {
		size_t n, want = byte(&in) % 200 + 1;

		out = realloc(out, total + want + 1);
		if (!out)
			abort();
		rc = po_reader_read(r, out + total, want, &n);
		if (rc || n == 0)
			break;
		total += n;
	}
	po_reader_free(r);
	if (rc == PO_OK) {
		const char *err;
		tc_entity *t = tc_mime_parse(out, total, &err);

		if (!t) {
			fprintf(stderr, "parse: %s\n%.*s\n", err, (int)total,
				out);
			__builtin_trap();
		}
		check(top, t);
		tc_entity_free(t);
	} else if (rc != PO_EBOUNDARY && rc != PO_ELINE &&
		   rc != PO_EBADOCTET) {
		/* a render that starts fails only on streamed content */
		__builtin_trap();
	}
out:
	po_letter_free(l);
	free_expect(top);
	for (size_t i = 0; i < nleaves; i++)
		free(leaves[i].content);
	free(out);
	return 0;
}
