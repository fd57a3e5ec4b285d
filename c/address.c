/* address.c - parse and check the addresses a caller gives.
 *
 * RFC 5321 §4.1.2 (Mailbox, Local-part, Domain, address literals) and
 * §4.5.3.1 (64/255/256-octet limits); RFC 5322 §3.2.3 (atext), §3.4
 * (name-addr); RFC 6531 §3.3 (UTF-8 local parts); RFC 5890 (IDNA 2008
 * A-labels, through libidn2).
 *
 * Accepted forms: "local@domain", "<local@domain>", "Name <local@domain>"
 * and "\"Quoted, Name\" <local@domain>".  The addr-spec must be a bare
 * dot-atom local part and a domain: that is what reaches MAIL FROM and RCPT
 * TO, so anything that could end or extend an SMTP command (CR, LF, NUL,
 * other control characters, white space, '<', '>') is refused here,
 * before any byte is rendered or sent (design §4.6).
 */
#include <arpa/inet.h>
#include <idn2.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

#include "address.h"
#include "encode.h"

#define LOCAL_MAX 64   /* RFC 5321 §4.5.3.1.1 */
#define DOMAIN_MAX 255 /* RFC 5321 §4.5.3.1.2 */
#define LABEL_MAX 63   /* RFC 1035 §2.3.4 */
#define PATH_MAX_ 254  /* RFC 5321 §4.5.3.1.3, 256 minus the brackets */

/* RFC 5322 §3.2.3 atext, plus any octet of a UTF-8 sequence (RFC 6531
 * §3.3 extends atext with UTF8-non-ascii; validity is checked apart). */
static int is_atext(unsigned char c)
{
	if (c >= 0x80)
		return 1;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static int is_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-';
}

/* Name the first character that makes an address unacceptable, for the
 * error message. */
static const char *describe(unsigned char c)
{
	switch (c) {
	case '\r':
		return "carriage return";
	case '\n':
		return "line feed";
	case ' ':
	case '\t':
		return "white space";
	case '<':
	case '>':
		return "stray angle bracket";
	default:
		return c < 0x20 || c == 0x7f ? "control character"
					     : "character not allowed";
	}
}

static int check_local(const char *s, size_t n, const char *what)
{
	size_t i;

	if (n == 0)
		return po__fail(PO_EADDRESS, "%s: no local part before '@'",
				what);
	if (n > LOCAL_MAX)
		return po__fail(PO_EADDRESS,
				"%s: local part longer than %d octets", what,
				LOCAL_MAX);
	if (s[0] == '.' || s[n - 1] == '.')
		return po__fail(PO_EADDRESS,
				"%s: local part starts or ends with '.'",
				what);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (s[i + 1] == '.')
				return po__fail(PO_EADDRESS,
						"%s: '..' in local part", what);
			continue;
		}
		if (!is_atext(c))
			return po__fail(PO_EADDRESS, "%s: %s in local part",
					what, describe(c));
	}
	return PO_OK;
}

/* An address literal: "[192.0.2.1]" or "[IPv6:2001:db8::1]". */
static int check_literal(const char *s, size_t n, const char *what)
{
	char tmp[64];
	unsigned char addr[16];
	int ok;

	if (n < 3 || n - 2 >= sizeof tmp || s[n - 1] != ']')
		return po__fail(PO_EADDRESS, "%s: bad address literal", what);
	memcpy(tmp, s + 1, n - 2);
	tmp[n - 2] = '\0';
	if (strncasecmp(tmp, "IPv6:", 5) == 0)
		ok = inet_pton(AF_INET6, tmp + 5, addr) == 1;
	else
		ok = inet_pton(AF_INET, tmp, addr) == 1;
	if (!ok)
		return po__fail(PO_EADDRESS, "%s: bad address literal", what);
	return PO_OK;
}

int po__domain_check(const char *s, size_t n, const char *what)
{
	size_t i, label = 0;

	if (n == 0)
		return po__fail(PO_EADDRESS, "%s: no domain after '@'", what);
	if (s[0] == '[')
		return check_literal(s, n, what);
	if (n > DOMAIN_MAX)
		return po__fail(PO_EADDRESS,
				"%s: domain longer than %d octets", what,
				DOMAIN_MAX);
	for (i = 0; i <= n; i++) {
		unsigned char c = i < n ? (unsigned char)s[i] : '.';

		if (c == '.') {
			if (label == 0)
				return po__fail(PO_EADDRESS,
						"%s: empty label in domain",
						what);
			if (s[i - 1] == '-' || s[i - label] == '-')
				return po__fail(PO_EADDRESS,
						"%s: domain label starts or "
						"ends with '-'",
						what);
			label = 0;
			continue;
		}
		if (!is_ldh(c))
			return po__fail(PO_EADDRESS, "%s: %s in domain", what,
					describe(c));
		if (++label > LABEL_MAX)
			return po__fail(PO_EADDRESS,
					"%s: domain label longer than %d",
					what, LABEL_MAX);
	}
	return PO_OK;
}

/* Convert a UTF-8 domain to its A-label form; *out is malloc'd. */
static int to_alabel(const char *s, size_t n, char **out, const char *what)
{
	char *in, *ascii = NULL;
	int rc;

	in = strndup(s, n);
	if (!in)
		return po__fail(PO_ENOMEM, NULL);
	/* IDNA 2008 with UTS #46 mapping (lower-casing etc.), as browsers
	 * and libcurl do; UTF-8 input, so the C locale does not matter. */
	rc = idn2_to_ascii_8z(in, &ascii, IDN2_NONTRANSITIONAL);
	free(in);
	if (rc != IDN2_OK)
		return po__fail(PO_EADDRESS, "%s: bad international domain: %s",
				what, idn2_strerror(rc));
	*out = ascii;
	return PO_OK;
}

int po__spec_parse(const char *s, size_t n, const char *what, char **spec_out,
		   int *smtputf8_out)
{
	const char *at;
	char *domain = NULL, *spec = NULL;
	size_t nlocal, ndomain;
	int local_ascii, rc;

	*spec_out = NULL;
	if (!po__utf8_valid(s, n))
		return po__fail(PO_EUTF8, "%s: not valid UTF-8", what);
	at = memrchr(s, '@', n);
	if (!at)
		return po__fail(PO_EADDRESS,
				"%s: \"%.*s\" has no '@' and domain", what,
				(int)(n > 80 ? 80 : n), s);
	nlocal = (size_t)(at - s);
	ndomain = n - nlocal - 1;
	rc = check_local(s, nlocal, what);
	if (rc)
		return rc;
	local_ascii = po__is_ascii(s, nlocal);
	if (!po__is_ascii(at + 1, ndomain)) {
		size_t i;

		for (i = 0; i < ndomain; i++)
			if ((unsigned char)at[1 + i] <= ' ' || at[1 + i] == '<' ||
			    at[1 + i] == '>' || at[1 + i] == 0x7f)
				return po__fail(PO_EADDRESS, "%s: %s in domain",
						what,
						describe((unsigned char)at[1 + i]));
		rc = to_alabel(at + 1, ndomain, &domain, what);
		if (rc)
			return rc;
	} else {
		domain = strndup(at + 1, ndomain);
		if (!domain)
			return po__fail(PO_ENOMEM, NULL);
	}
	rc = po__domain_check(domain, strlen(domain), what);
	if (rc)
		goto out;
	/* An ASCII local part gets the A-label domain, valid everywhere.  A
	 * UTF-8 local part needs SMTPUTF8 anyway (RFC 6531), so the domain
	 * stays as given there, as users wrote it. */
	if (local_ascii)
		rc = asprintf(&spec, "%.*s@%s", (int)nlocal, s, domain) < 0;
	else
		rc = asprintf(&spec, "%.*s", (int)n, s) < 0;
	if (rc) {
		spec = NULL;
		rc = po__fail(PO_ENOMEM, NULL);
		goto out;
	}
	if (strlen(spec) > PATH_MAX_) {
		rc = po__fail(PO_EADDRESS, "%s: longer than %d octets", what,
			      PATH_MAX_);
		goto out;
	}
	if (smtputf8_out)
		*smtputf8_out = !local_ascii;
	*spec_out = spec;
	spec = NULL;
	rc = PO_OK;
out:
	free(spec);
	free(domain);
	return rc;
}

/* Unquote a quoted-string display name in place: drop the quotes and
 * undo backslash escapes. */
static int unquote(char *s, size_t *n)
{
	size_t i, j = 0;

	if (*n < 2 || s[*n - 1] != '"')
		return -1;
	for (i = 1; i < *n - 1; i++) {
		if (s[i] == '\\') {
			if (++i >= *n - 1)
				return -1;
		} else if (s[i] == '"') {
			return -1;
		}
		s[j++] = s[i];
	}
	s[j] = '\0';
	*n = j;
	return 0;
}

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

int po__addr_parse(const char *text, const char *what, po__addr *out,
		   int *smtputf8_out)
{
	const char *lt, *gt, *p;
	size_t n, i, nname;
	char *name = NULL;
	int rc;

	out->display = out->spec = NULL;
	if (!text)
		return po__fail(PO_EINVAL, "%s: no address given", what);
	n = strlen(text);
	if (!po__utf8_valid(text, n))
		return po__fail(PO_EUTF8, "%s: not valid UTF-8", what);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return po__fail(PO_EADDRESS, "%s: %s in address", what,
					describe(c));
	}
	while (n && is_wsp(text[n - 1]))
		n--;
	while (n && is_wsp(*text)) {
		text++;
		n--;
	}
	if (n == 0)
		return po__fail(PO_EADDRESS, "%s: empty address", what);
	lt = memchr(text, '<', n);
	if (!lt)
		return po__spec_parse(text, n, what, &out->spec,
				      smtputf8_out);

	/* name-addr: [display-name] "<" addr-spec ">" */
	gt = memchr(lt, '>', n - (size_t)(lt - text));
	if (!gt || gt != text + n - 1)
		return po__fail(PO_EADDRESS,
				"%s: stray angle bracket in address", what);
	if (memchr(lt + 1, '<', (size_t)(gt - lt - 1)))
		return po__fail(PO_EADDRESS,
				"%s: stray angle bracket in address", what);
	rc = po__spec_parse(lt + 1, (size_t)(gt - lt - 1), what, &out->spec,
			    smtputf8_out);
	if (rc)
		return rc;

	p = lt;
	while (p > text && is_wsp(p[-1]))
		p--;
	nname = (size_t)(p - text);
	if (nname == 0)
		return PO_OK;
	name = strndup(text, nname);
	if (!name) {
		rc = po__fail(PO_ENOMEM, NULL);
		goto fail;
	}
	if (name[0] == '"') {
		if (unquote(name, &nname)) {
			rc = po__fail(PO_EADDRESS,
				      "%s: unbalanced quotes in display name",
				      what);
			goto fail;
		}
	} else if (memchr(name, '"', nname) || memchr(name, '>', nname)) {
		rc = po__fail(PO_EADDRESS,
			      "%s: stray quote or angle bracket in display "
			      "name",
			      what);
		goto fail;
	}
	for (i = 0; i < nname; i++)
		if (name[i] == '\t')
			name[i] = ' ';
	if (nname == 0) {
		free(name);
		name = NULL;
	}
	out->display = name;
	return PO_OK;
fail:
	free(name);
	free(out->spec);
	out->spec = NULL;
	return rc;
}

void po__addr_clear(po__addr *a)
{
	if (!a)
		return;
	free(a->display);
	free(a->spec);
	a->display = a->spec = NULL;
}
