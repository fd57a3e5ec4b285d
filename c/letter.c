/* letter.c - letters: envelope, header fields and body.
 *
 * RFC 5322 §3.6 (the fields), RFC 5321 §3.3 (envelope), design §4.6-4.8.
 * Everything is checked and copied by the setter that receives it, so a
 * complete letter is valid by construction; po_reader_new only has to
 * check that the pieces that must be there are there.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "address.h"
#include "encode.h"
#include "po_private.h"

po_letter *po_letter_new(void)
{
	return calloc(1, sizeof(po_letter));
}

static void addrs_free(po__addrs *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		po__addr_clear(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof *l);
}

void po_letter_free(po_letter *l)
{
	size_t i;

	if (!l)
		return;
	po__addr_clear(&l->from);
	addrs_free(&l->to);
	addrs_free(&l->cc);
	addrs_free(&l->bcc);
	addrs_free(&l->reply_to);
	free(l->subject);
	for (i = 0; i < l->nlines; i++)
		free(l->lines[i]);
	free(l->lines);
	po_part_free(l->body);
	free(l->raw);
	free(l->message_id);
	free(l);
}

static int add_address(po_letter *l, po__addrs *list, const char *text,
		       const char *what)
{
	po__addr *v;
	size_t n, i;
	int utf8 = 0, rc;

	if (!l)
		return po__fail(PO_EINVAL, "%s: no letter", what);
	rc = po__addr_list_parse(text, what, &v, &n, &utf8);
	if (rc)
		return rc;
	if (list->n + n > list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 4;
		po__addr *w;

		while (cap < list->n + n)
			cap *= 2;
		w = realloc(list->v, cap * sizeof *w);
		if (!w) {
			for (i = 0; i < n; i++)
				po__addr_clear(&v[i]);
			free(v);
			return po__fail(PO_ENOMEM, NULL);
		}
		list->v = w;
		list->cap = cap;
	}
	memcpy(list->v + list->n, v, n * sizeof *v);
	list->n += n;
	free(v);
	l->smtputf8 |= utf8;
	return PO_OK;
}

int po_letter_set_from(po_letter *l, const char *address)
{
	po__addr a;
	int utf8 = 0, rc;

	if (!l)
		return po__fail(PO_EINVAL, "From: no letter");
	rc = po__addr_parse(address, "From address", &a, &utf8);
	if (rc)
		return rc;
	po__addr_clear(&l->from);
	l->from = a;
	l->has_from = 1;
	l->null_sender = 0;
	l->smtputf8 |= utf8;
	return PO_OK;
}

int po_letter_set_null_sender(po_letter *l)
{
	char *empty;

	if (!l)
		return po__fail(PO_EINVAL, "null sender: no letter");
	empty = strdup("");
	if (!empty)
		return po__fail(PO_ENOMEM, NULL);
	po__addr_clear(&l->from);
	l->from.spec = empty;
	l->has_from = 1;
	l->null_sender = 1;
	return PO_OK;
}

static size_t remove_from(po__addrs *list, const char *address)
{
	size_t i, j = 0, n = list->n;

	for (i = 0; i < n; i++) {
		if (strcasecmp(list->v[i].spec, address) == 0) {
			po__addr_clear(&list->v[i]);
			continue;
		}
		list->v[j++] = list->v[i];
	}
	list->n = j;
	return n - j;
}

size_t po_letter_remove_recipient(po_letter *l, const char *address)
{
	if (!l || !address)
		return 0;
	return remove_from(&l->to, address) + remove_from(&l->cc, address) +
	       remove_from(&l->bcc, address);
}

int po_letter_add_to(po_letter *l, const char *address)
{
	return add_address(l, l ? &l->to : NULL, address, "To address");
}

int po_letter_add_cc(po_letter *l, const char *address)
{
	return add_address(l, l ? &l->cc : NULL, address, "Cc address");
}

int po_letter_add_bcc(po_letter *l, const char *address)
{
	return add_address(l, l ? &l->bcc : NULL, address, "Bcc address");
}

int po_letter_add_reply_to(po_letter *l, const char *address)
{
	return add_address(l, l ? &l->reply_to : NULL, address,
			   "Reply-To address");
}

int po_letter_set_subject(po_letter *l, const char *subject)
{
	char *copy = NULL;

	if (!l)
		return po__fail(PO_EINVAL, "Subject: no letter");
	if (subject) {
		if (strpbrk(subject, "\r\n"))
			return po__fail(PO_EHEADER,
					"Subject: line break not allowed");
		if (!po__utf8_valid(subject, strlen(subject)))
			return po__fail(PO_EUTF8, "Subject: not valid UTF-8");
		copy = strdup(subject);
		if (!copy)
			return po__fail(PO_ENOMEM, NULL);
	}
	free(l->subject);
	l->subject = copy;
	return PO_OK;
}

int po_letter_add_header_line(po_letter *l, const char *line)
{
	po__buf probe = PO__BUF_INIT;
	char *copy;
	int rc;

	if (!l || !line)
		return po__fail(PO_EINVAL, "header line: NULL argument");
	/* Render it once now, so a bad or unfoldable line is refused here
	 * and not at send time. */
	rc = po__hdr_raw(&probe, line, strlen(line));
	po__buf_free(&probe);
	if (rc)
		return rc;
	/* a Bcc field would show the blind copies to every recipient (and
	 * put no one in the envelope) */
	if (strncasecmp(line, "Bcc", 3) == 0 &&
	    (line[3] == ':' || line[3] == ' ' || line[3] == '\t'))
		return po__fail(PO_EHEADER,
				"header line \"%s\": a Bcc field would show "
				"the blind copies to every recipient; add them "
				"as Bcc recipients instead",
				line);
	if (l->nlines == l->caplines) {
		size_t cap = l->caplines ? l->caplines * 2 : 4;
		char **v = realloc(l->lines, cap * sizeof *v);

		if (!v)
			return po__fail(PO_ENOMEM, NULL);
		l->lines = v;
		l->caplines = cap;
	}
	copy = strdup(line);
	if (!copy)
		return po__fail(PO_ENOMEM, NULL);
	l->lines[l->nlines++] = copy;
	return PO_OK;
}

int po_letter_set_body(po_letter *l, po_part *body)
{
	if (!l || !body)
		return po__fail(PO_EINVAL, "body: NULL argument");
	if (body->parent)
		return po__fail(PO_EINVAL, "body: the part has a parent");
	if (body == l->body)
		return PO_OK;
	po_part_free(l->body);
	l->body = body;
	free(l->raw);
	l->raw = NULL;
	l->rawlen = 0;
	l->is_raw = 0;
	l->raw_fn = NULL;
	return PO_OK;
}

static void drop_body(po_letter *l)
{
	po_part_free(l->body);
	l->body = NULL;
	free(l->raw);
	l->raw = NULL;
	l->rawlen = 0;
	l->raw_fn = NULL;
	l->raw_userdata = NULL;
	l->raw_consumed = 0;
}

int po_letter_set_raw(po_letter *l, const void *data, size_t len)
{
	unsigned char *copy;

	if (!l || (!data && len))
		return po__fail(PO_EINVAL, "raw letter: NULL argument");
	if (len == PO_ZERO_TERMINATED)
		len = strlen(data);
	copy = malloc(len + 1);
	if (!copy)
		return po__fail(PO_ENOMEM, NULL);
	if (len)
		memcpy(copy, data, len);
	drop_body(l);
	l->raw = copy;
	l->rawlen = len;
	l->is_raw = 1;
	return PO_OK;
}

int po_letter_set_raw_reader(po_letter *l, po_read_fn fn, void *userdata)
{
	if (!l || !fn)
		return po__fail(PO_EINVAL, "raw letter: NULL argument");
	drop_body(l);
	l->raw_fn = fn;
	l->raw_userdata = userdata;
	l->is_raw = 1;
	return PO_OK;
}

const char *po_letter_message_id(const po_letter *l)
{
	return l && !l->is_raw ? l->message_id : NULL;
}

const char *po_letter_envelope_from(const po_letter *l)
{
	return l && l->has_from ? l->from.spec : NULL;
}

size_t po_letter_recipient_count(const po_letter *l)
{
	return l ? l->to.n + l->cc.n + l->bcc.n : 0;
}

const char *po__letter_rcpt(const po_letter *l, size_t i)
{
	if (i < l->to.n)
		return l->to.v[i].spec;
	i -= l->to.n;
	if (i < l->cc.n)
		return l->cc.v[i].spec;
	i -= l->cc.n;
	return i < l->bcc.n ? l->bcc.v[i].spec : NULL;
}

const char *po_letter_recipient(const po_letter *l, size_t i)
{
	return l ? po__letter_rcpt(l, i) : NULL;
}
