/* address.c - parse and check the addresses a caller gives: one parser
 * for the library, the CLI and the Lisp binding alike.
 *
 * RFC 5322 §3.2.2 (comments), §3.2.3 (atext), §3.2.4 (quoted strings),
 * §3.4 (mailbox, name-addr, address-list), §3.4.1 (addr-spec); RFC 5321
 * §4.1.2 (Mailbox, Local-part, Domain, address literals) and §4.5.3.1
 * (64/255/256-octet limits); RFC 6531 §3.3 (UTF-8 local parts); RFC 5890
 * (IDNA 2008 A-labels, through libidn2); Unicode TR #9 and TR #36 (bidi
 * controls and invisible characters: spoofing).
 *
 * A string is an address list: "a@x.com, Carol <c@x.com>".  Commas inside
 * quoted strings, comments and angle brackets do not split it.  Each
 * address is "local@domain", "<local@domain>", "Name <local@domain>",
 * "\"Quoted, Name\" <local@domain>" or "local@domain (Name)" (a comment
 * beside an addr-spec becomes its display name, as mail readers show
 * it).  The local part is a dot-atom or a quoted string.  A bare local
 * part ("root", as Allegro's documentation allows) is accepted only as
 * the whole string: inside a list every address needs a domain, so that
 * "Doe, Jane <j@x.com>" is refused instead of mailing a local user "Doe".
 *
 * The addr-spec is what reaches MAIL FROM and RCPT TO, so anything that
 * could end or extend an SMTP command (CR, LF, NUL, other control
 * characters, white space outside a quoted local part, '<', '>') is
 * refused here, before any byte is rendered or sent (design §4.6).  So
 * are characters that would reach a header or a log raw and change what
 * a reader sees: C1 controls, line and paragraph separators, bidi
 * controls, and in local parts and domains invisible characters too.
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
#define SHOWN 80       /* at most this much of an input in a message */

#define NOT_FOUND ((size_t)-1)

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

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
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

/* ---------------------------------------------------------------------
 * Unicode characters refused in addresses */

/* The code point of the UTF-8 sequence at s (valid, *len set). */
static unsigned long decode_one(const unsigned char *s, size_t *len)
{
	if (s[0] < 0x80) {
		*len = 1;
		return s[0];
	}
	if (s[0] < 0xe0) {
		*len = 2;
		return ((s[0] & 0x1ful) << 6) | (s[1] & 0x3f);
	}
	if (s[0] < 0xf0) {
		*len = 3;
		return ((s[0] & 0x0ful) << 12) | ((s[1] & 0x3ful) << 6) |
		       (s[2] & 0x3f);
	}
	*len = 4;
	return ((s[0] & 0x07ul) << 18) | ((s[1] & 0x3ful) << 12) |
	       ((s[2] & 0x3ful) << 6) | (s[3] & 0x3f);
}

/* What the code point c is, if it is refused everywhere in an address
 * (display names included: a mail reader shows them, a log prints them),
 * or NULL. */
static const char *refused_everywhere(unsigned long c)
{
	if (c == 0x85)
		return "next line (C1 control)";
	if (c >= 0x80 && c <= 0x9f)
		return "C1 control character";
	if (c == 0x2028)
		return "line separator";
	if (c == 0x2029)
		return "paragraph separator";
	/* embeddings, overrides and isolates reorder the text shown around
	 * them ("Trojan Source"): a name could pass for another address */
	if ((c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069))
		return "bidirectional control character";
	return NULL;
}

/* What c is, if it is refused in a local part or a domain (which reach
 * the envelope and the header raw), besides the above, or NULL: bidi
 * marks and invisible characters make two different addresses look the
 * same.  A display name may hold them (they are encoded there, and
 * right-to-left names use the marks). */
static const char *refused_in_address(unsigned long c)
{
	switch (c) {
	case 0x061c:
	case 0x200e:
	case 0x200f:
		return "bidirectional mark";
	case 0x00ad:
		return "soft hyphen";
	case 0x200b:
		return "zero width space";
	case 0x2060:
		return "word joiner";
	case 0xfeff:
		return "zero width no-break space (byte order mark)";
	default:
		return NULL;
	}
}

/* Check the valid UTF-8 text s[0..n), a part of an address named where
 * ("local part", "domain", "display name"): strict for local parts and
 * domains. */
static int check_unicode(const char *s, size_t n, int strict,
			 const char *what, const char *where)
{
	size_t i = 0, len;

	while (i < n) {
		unsigned long c;
		const char *bad;

		if ((unsigned char)s[i] < 0x80) {
			i++;
			continue;
		}
		c = decode_one((const unsigned char *)s + i, &len);
		bad = refused_everywhere(c);
		if (!bad && strict)
			bad = refused_in_address(c);
		if (bad)
			return po__fail(PO_EADDRESS, "%s: %s (U+%04lX) in %s",
					what, bad, c, where);
		i += len;
	}
	return PO_OK;
}

/* ---------------------------------------------------------------------
 * Scanning: quoted strings, comments, angle brackets, domain literals */

/* The index after the quoted string that starts at s[i] == '"', or
 * NOT_FOUND if it does not end. */
static size_t skip_quoted(const char *s, size_t i, size_t n)
{
	for (i++; i < n; i++) {
		if (s[i] == '\\') {
			if (++i >= n)
				return NOT_FOUND;
		} else if (s[i] == '"') {
			return i + 1;
		}
	}
	return NOT_FOUND;
}

/* The index after the comment (nested ones included) that starts at
 * s[i] == '(', or NOT_FOUND. */
static size_t skip_comment(const char *s, size_t i, size_t n)
{
	int depth = 0;

	for (; i < n; i++) {
		if (s[i] == '\\') {
			if (++i >= n)
				return NOT_FOUND;
		} else if (s[i] == '(') {
			depth++;
		} else if (s[i] == ')' && --depth == 0) {
			return i + 1;
		}
	}
	return NOT_FOUND;
}

/* The index after the bracketed run that starts at s[i] (a '<' ... '>',
 * quoted strings inside skipped, or a '[' ... ']'), or NOT_FOUND. */
static size_t skip_bracket(const char *s, size_t i, size_t n)
{
	char close = s[i] == '<' ? '>' : ']';

	for (i++; i < n; i++) {
		if (s[i] == close)
			return i + 1;
		if (s[i] == '"' && close == '>') {
			i = skip_quoted(s, i, n);
			if (i == NOT_FOUND)
				return NOT_FOUND;
			i--;
		}
	}
	return NOT_FOUND;
}

/* The index after the syntactic unit at s[i]: a quoted string, a
 * comment, an angle-addr or a domain literal as a whole, else one
 * octet.  NOT_FOUND (and the failure recorded) if it does not end. */
static size_t skip_unit(const char *s, size_t i, size_t n, const char *what,
			const char *text)
{
	size_t end;
	const char *problem;

	switch (s[i]) {
	case '"':
		end = skip_quoted(s, i, n);
		problem = "unbalanced quotes";
		break;
	case '(':
		end = skip_comment(s, i, n);
		problem = "unbalanced parenthesis";
		break;
	case '<':
		end = skip_bracket(s, i, n);
		problem = "'<' without '>'";
		break;
	case '[':
		end = skip_bracket(s, i, n);
		problem = "'[' without ']'";
		break;
	default:
		return i + 1;
	}
	if (end == NOT_FOUND)
		po__fail(PO_EADDRESS, "%s \"%.*s\": %s", what, SHOWN, text,
			 problem);
	return end;
}

/* ---------------------------------------------------------------------
 * The addr-spec */

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
	if (s[0] == '"') {
		/* RFC 5321 §4.1.2 Quoted-string: qtextSMTP and quoted-pairs
		 * of printable ASCII; RFC 6531 adds UTF-8 */
		for (i = 1; i + 1 < n; i++) {
			unsigned char c = (unsigned char)s[i];

			if (c == '\\') {
				c = (unsigned char)s[++i];
				if (c < ' ' || c > '~')
					return po__fail(
						PO_EADDRESS,
						"%s: %s in quoted local part",
						what, describe(c));
			} else if ((c < ' ' || c == 0x7f) || c == '"') {
				return po__fail(PO_EADDRESS,
						"%s: %s in quoted local part",
						what, describe(c));
			}
		}
		return check_unicode(s, n, 1, what, "local part");
	}
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
	return check_unicode(s, n, 1, what, "local part");
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

/* The envelope form of the addr-spec s[0..n) in *spec_out (malloc'd;
 * IDN domains as A-labels when the local part is ASCII).  A bare local
 * part (no '@') is accepted, and *bare_out set, when bare_ok. */
static int parse_spec(const char *s, size_t n, const char *what, int bare_ok,
		      char **spec_out, int *smtputf8_out, int *bare_out)
{
	const char *at;
	char *domain = NULL, *spec = NULL;
	size_t nlocal, ndomain;
	int local_ascii, rc;

	*spec_out = NULL;
	*bare_out = 0;
	if (n > 0 && s[0] == '"') {
		size_t end = skip_quoted(s, 0, n);

		if (end == NOT_FOUND)
			return po__fail(PO_EADDRESS,
					"%s: unbalanced quotes in local part",
					what);
		if (end < n && s[end] != '@')
			return po__fail(PO_EADDRESS,
					"%s: %s after quoted local part", what,
					describe((unsigned char)s[end]));
		at = end < n ? s + end : NULL;
	} else {
		at = memchr(s, '@', n);
	}
	nlocal = at ? (size_t)(at - s) : n;
	rc = check_local(s, nlocal, what);
	if (rc)
		return rc;
	local_ascii = po__is_ascii(s, nlocal);
	if (!at) {
		if (!bare_ok)
			return po__fail(PO_EADDRESS,
					"%s: \"%.*s\" has no '@' and domain",
					what, SHOWN, s);
		spec = strndup(s, n);
		if (!spec)
			return po__fail(PO_ENOMEM, NULL);
		*bare_out = 1;
		goto done;
	}
	ndomain = n - nlocal - 1;
	if (memchr(at + 1, '@', ndomain))
		return po__fail(PO_EADDRESS, "%s: '@' in domain", what);
	if (!po__is_ascii(at + 1, ndomain)) {
		size_t i;

		for (i = 0; i < ndomain; i++)
			if ((unsigned char)at[1 + i] <= ' ' || at[1 + i] == '<' ||
			    at[1 + i] == '>' || at[1 + i] == 0x7f)
				return po__fail(PO_EADDRESS, "%s: %s in domain",
						what,
						describe((unsigned char)at[1 + i]));
		/* IDNA mapping would drop some of these silently */
		rc = check_unicode(at + 1, ndomain, 1, what, "domain");
		if (rc)
			return rc;
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
done:
	if (strlen(spec) > PATH_MAX_) {
		rc = po__fail(PO_EADDRESS, "%s: longer than %d octets", what,
			      PATH_MAX_);
		goto out;
	}
	if (smtputf8_out)
		*smtputf8_out |= !local_ascii;
	*spec_out = spec;
	spec = NULL;
	rc = PO_OK;
out:
	free(spec);
	free(domain);
	return rc;
}

/* ---------------------------------------------------------------------
 * Display names and comments */

/* Append the phrase s[0..n) to b as display text: quoted strings
 * unquoted and unescaped, comments (and bracketed runs) kept as
 * written, tabs made spaces, everything else as written.  The caller
 * has checked that every unit ends within s[0..n). */
static int put_phrase(po__buf *b, const char *s, size_t n)
{
	size_t i = 0, end;

	while (i < n) {
		int quoted = s[i] == '"';

		if (quoted)
			end = skip_quoted(s, i, n);
		else if (s[i] == '(')
			end = skip_comment(s, i, n);
		else if (s[i] == '[')
			end = skip_bracket(s, i, n);
		else
			end = i + 1;
		if (end == NOT_FOUND || end > n)
			end = n;
		if (quoted) {
			i++;
			end--;
		}
		for (; i < end; i++) {
			if (quoted && s[i] == '\\' && i + 1 < end)
				i++;
			if (po__buf_putc(b, s[i] == '\t' ? ' ' : s[i]))
				return po__fail(PO_ENOMEM, NULL);
		}
		if (quoted)
			i++;
	}
	return PO_OK;
}

/* Append the text of the comment s[0..n) ("(...)") to b, without its
 * outer parentheses and with quoted-pairs undone. */
static int put_comment_text(po__buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 1; i + 1 < n; i++) {
		if (s[i] == '\\')
			i++;
		if (po__buf_putc(b, s[i] == '\t' ? ' ' : s[i]))
			return po__fail(PO_ENOMEM, NULL);
	}
	return PO_OK;
}

/* b's text without white space at its ends, as a malloc'd string in
 * *out, or NULL when nothing is left. */
static int take_trimmed(po__buf *b, char **out)
{
	size_t start = 0, end = b->len;

	*out = NULL;
	while (start < end && is_wsp(b->p[start]))
		start++;
	while (end > start && is_wsp(b->p[end - 1]))
		end--;
	if (end == start)
		return PO_OK;
	*out = strndup(b->p + start, end - start);
	return *out ? PO_OK : po__fail(PO_ENOMEM, NULL);
}

/* ---------------------------------------------------------------------
 * One mailbox */

/* Parse the mailbox s[0..n) (white space around it allowed) into out.
 * text is the whole string, for messages. */
static int parse_mailbox(const char *s, size_t n, const char *what,
			 const char *text, int bare_ok, po__addr *out,
			 int *smtputf8_out, int *bare_out)
{
	po__buf name = PO__BUF_INIT;
	size_t i, lt = NOT_FOUND, gt = 0, spec_start = NOT_FOUND, spec_end = 0;
	int rc, comments = 0;

	out->display = out->spec = NULL;
	*bare_out = 0;
	/* find the angle-addr, if any, at the top level */
	for (i = 0; i < n;) {
		size_t next = skip_unit(s, i, n, what, text);

		if (next == NOT_FOUND)
			return PO_EADDRESS;
		if (s[i] == '<') {
			if (lt != NOT_FOUND)
				return po__fail(PO_EADDRESS,
						"%s \"%.*s\": stray angle "
						"bracket",
						what, SHOWN, text);
			lt = i;
			gt = next - 1;
		} else if (s[i] == '>' || s[i] == ')') {
			return po__fail(PO_EADDRESS,
					"%s \"%.*s\": stray %s", what, SHOWN,
					text,
					s[i] == '>' ? "angle bracket"
						    : "parenthesis");
		}
		i = next;
	}
	if (lt != NOT_FOUND) {
		/* name-addr: [display-name] "<" addr-spec ">" [CFWS] */
		const char *a = s + lt + 1;
		size_t na = gt - lt - 1;

		if (memchr(a, '<', na))
			return po__fail(PO_EADDRESS,
					"%s \"%.*s\": stray angle bracket",
					what, SHOWN, text);
		while (na && is_wsp(*a)) {
			a++;
			na--;
		}
		while (na && is_wsp(a[na - 1]))
			na--;
		if (na == 0)
			return po__fail(PO_EADDRESS, "%s: empty address", what);
		rc = put_phrase(&name, s, lt);
		for (i = gt + 1; rc == PO_OK && i < n;) {
			if (is_wsp(s[i])) {
				i++;
				continue;
			}
			if (s[i] != '(') {
				rc = po__fail(PO_EADDRESS,
					      "%s \"%.*s\": text after the "
					      "address in angle brackets",
					      what, SHOWN, text);
				break;
			}
			/* a comment after it joins the name */
			{
				size_t end = skip_comment(s, i, n);

				while (name.len && is_wsp(name.p[name.len - 1]))
					name.len--;
				if ((name.len && po__buf_putc(&name, ' ')) ||
				    po__buf_append(&name, s + i, end - i))
					rc = po__fail(PO_ENOMEM, NULL);
				i = end;
			}
		}
		if (rc == PO_OK)
			rc = parse_spec(a, na, what, bare_ok, &out->spec,
					smtputf8_out, bare_out);
		goto display;
	}

	/* addr-spec, with comments and white space around it only */
	for (i = 0; i < n;) {
		size_t next = skip_unit(s, i, n, what, text);

		if (is_wsp(s[i])) {
			i = next;
			continue;
		}
		if (s[i] == '(') {
			if (comments++ && po__buf_putc(&name, ' ')) {
				rc = po__fail(PO_ENOMEM, NULL);
				goto fail;
			}
			rc = put_comment_text(&name, s + i, next - i);
			if (rc)
				goto fail;
			i = next;
			continue;
		}
		if (spec_start != NOT_FOUND && spec_end != i) {
			rc = po__fail(PO_EADDRESS,
				      "%s \"%.*s\": white space or a comment "
				      "inside the address (a name goes before "
				      "the address in angle brackets: "
				      "\"Name <a@b.example>\")",
				      what, SHOWN, text);
			goto fail;
		}
		if (spec_start == NOT_FOUND)
			spec_start = i;
		if (s[i] == ':' || s[i] == ';') {
			rc = po__fail(PO_EADDRESS,
				      "%s \"%.*s\": a group (\"name: a@b, "
				      "c@d;\") is not an address; give the "
				      "addresses, or write the group as a "
				      "header line",
				      what, SHOWN, text);
			goto fail;
		}
		spec_end = next;
		i = next;
	}
	if (spec_start == NOT_FOUND) {
		rc = po__fail(PO_EADDRESS, "%s: empty address", what);
		goto fail;
	}
	rc = parse_spec(s + spec_start, spec_end - spec_start, what, bare_ok,
			&out->spec, smtputf8_out, bare_out);
display:
	if (rc == PO_OK)
		rc = take_trimmed(&name, &out->display);
	if (rc == PO_OK && out->display)
		rc = check_unicode(out->display, strlen(out->display), 0, what,
				   "display name");
	if (rc == PO_OK) {
		po__buf_free(&name);
		return PO_OK;
	}
fail:
	po__buf_free(&name);
	po__addr_clear(out);
	return rc;
}

/* ---------------------------------------------------------------------
 * Address lists */

struct span {
	size_t start, len;
};

static int trimmed_empty(const char *s, size_t n)
{
	while (n && is_wsp(s[n - 1]))
		n--;
	return n == 0;
}

/* Check the whole string: valid UTF-8, no C0 control but TAB. */
static int check_text(const char *text, size_t n, const char *what)
{
	size_t i;

	if (!po__utf8_valid(text, n))
		return po__fail(PO_EUTF8, "%s: not valid UTF-8", what);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return po__fail(PO_EADDRESS, "%s: %s in address", what,
					describe(c));
	}
	return PO_OK;
}

/* Split text[0..n) at the commas of the top level into *spans_out
 * (malloc'd), skipping empty elements. */
static int split_list(const char *text, size_t n, const char *what,
		      struct span **spans_out, size_t *count_out)
{
	struct span *v = NULL;
	size_t i, start = 0, count = 0, cap = 0;

	*spans_out = NULL;
	*count_out = 0;
	for (i = 0; i <= n;) {
		if (i == n || text[i] == ',') {
			if (!trimmed_empty(text + start, i - start)) {
				if (count == cap) {
					struct span *w;

					cap = cap ? cap * 2 : 4;
					w = realloc(v, cap * sizeof *w);
					if (!w) {
						free(v);
						return po__fail(PO_ENOMEM,
								NULL);
					}
					v = w;
				}
				v[count].start = start;
				v[count].len = i - start;
				count++;
			}
			start = ++i;
			continue;
		}
		i = skip_unit(text, i, n, what, text);
		if (i == NOT_FOUND) {
			free(v);
			return PO_EADDRESS;
		}
	}
	if (count == 0) {
		free(v);
		return po__fail(PO_EADDRESS, "%s: empty address", what);
	}
	*spans_out = v;
	*count_out = count;
	return PO_OK;
}

/* The error for the bare local part of span k in a list of several:
 * when the next address has angle brackets, the comma was most likely
 * part of an unquoted display name, and the message says how to quote
 * it. */
static int bare_in_list(const char *text, const struct span *v, size_t n,
			size_t k, const char *what)
{
	const char *lt = NULL, *s = text + v[k].start;
	size_t len = v[k].len;

	while (len && is_wsp(*s)) {
		s++;
		len--;
	}
	while (len && is_wsp(s[len - 1]))
		len--;
	if (k + 1 < n)
		lt = memchr(text + v[k + 1].start, '<', v[k + 1].len);
	if (lt && !memchr(text + v[k + 1].start, '"', v[k + 1].len)) {
		const char *name_end = lt, *end = text + v[k + 1].start +
						     v[k + 1].len;

		while (name_end > s && is_wsp(name_end[-1]))
			name_end--;
		while (end > lt && is_wsp(end[-1]))
			end--;
		return po__fail(PO_EADDRESS,
				"%s \"%.*s\": \"%.*s\" has no domain, and in "
				"a list of addresses every address needs one. "
				"If \"%.*s\" is a name, quote it: "
				"\"\\\"%.*s\\\" %.*s\"",
				what, SHOWN, text, (int)len, s,
				(int)(name_end - s), s, (int)(name_end - s), s,
				(int)(end - lt), lt);
	}
	return po__fail(PO_EADDRESS,
			"%s \"%.*s\": \"%.*s\" has no domain, and in a list of "
			"addresses every address needs one (a bare local part "
			"such as \"root\" is accepted only as the whole "
			"address)",
			what, SHOWN, text, (int)len, s);
}

int po__addr_list_parse(const char *text, const char *what, po__addr **v_out,
			size_t *n_out, int *smtputf8_out)
{
	struct span *spans = NULL;
	po__addr *v = NULL;
	size_t n, count = 0, i;
	int rc, utf8 = 0;

	*v_out = NULL;
	*n_out = 0;
	if (!text)
		return po__fail(PO_EINVAL, "%s: no address given", what);
	n = strlen(text);
	rc = check_text(text, n, what);
	if (rc)
		return rc;
	rc = split_list(text, n, what, &spans, &count);
	if (rc)
		return rc;
	v = calloc(count, sizeof *v);
	if (!v) {
		rc = po__fail(PO_ENOMEM, NULL);
		goto out;
	}
	for (i = 0; i < count; i++) {
		int bare = 0;

		rc = parse_mailbox(text + spans[i].start, spans[i].len, what,
				   text, 1, &v[i], &utf8, &bare);
		if (rc == PO_OK && bare && count > 1) {
			po__addr_clear(&v[i]);
			rc = bare_in_list(text, spans, count, i, what);
		}
		if (rc)
			break;
	}
	if (rc) {
		while (i > 0)
			po__addr_clear(&v[--i]);
		free(v);
		goto out;
	}
	if (smtputf8_out)
		*smtputf8_out = utf8;
	*v_out = v;
	*n_out = count;
out:
	free(spans);
	return rc;
}

int po__addr_parse(const char *text, const char *what, po__addr *out,
		   int *smtputf8_out)
{
	po__addr *v;
	size_t n;
	int rc;

	out->display = out->spec = NULL;
	rc = po__addr_list_parse(text, what, &v, &n, smtputf8_out);
	if (rc)
		return rc;
	if (n != 1) {
		while (n > 0)
			po__addr_clear(&v[--n]);
		free(v);
		return po__fail(PO_EADDRESS,
				"%s \"%.*s\": one address only, not a list "
				"(a display name with a comma must be quoted: "
				"\"\\\"Doe, Jane\\\" <j@example.com>\")",
				what, SHOWN, text);
	}
	*out = v[0];
	free(v);
	return PO_OK;
}

void po__addr_clear(po__addr *a)
{
	if (!a)
		return;
	free(a->display);
	free(a->spec);
	a->display = a->spec = NULL;
}
