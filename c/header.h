/* header.h - RFC 5322 header fields: folding, RFC 2047 encoded words,
 * RFC 2231 parameters (internal).
 *
 * RFC 5322 §2.1.1 (78/998), §2.2.3 (folding), §3.2.5 (phrases), §3.4
 * (address lists); RFC 2047 (encoded words); RFC 2231 (parameter value
 * continuations and charset); RFC 2045 §5.1 (Content-Type syntax);
 * RFC 2183 (Content-Disposition).
 *
 * Each po__hdr_* function appends one complete header field, "Name: value"
 * followed by CRLF, to a po__buf.  All of them share one folding engine:
 *
 * - A line (field name and colon included, CRLF excluded) is at most 78
 *   characters wherever white space allows, and never more than 998.
 * - Folding only ever inserts CRLF before an existing or generated white
 *   space character, so unfolding (RFC 5322 §2.2.3: remove each CRLF that
 *   is followed by WSP) gives back exactly the unfolded field.
 * - A continuation line starts with one space (SP), never a tab; when
 *   the fold is before a run of white space of the value, the rest of the
 *   run follows it (trailing white space is easily lost in transit).
 * - No line consists of white space only.
 * - If some indivisible piece can't fit in 998 characters the function
 *   fails with PO_ETOOLONG and leaves the buffer as it was.
 *
 * Encoded words (RFC 2047) are produced as "=?utf-8?q?...?=" or
 * "=?utf-8?b?...?=", whichever is shorter for the text at hand:
 * - each encoded word is at most 75 characters;
 * - it is split only at UTF-8 character boundaries (never inside a
 *   multi-byte sequence), so each word decodes to valid UTF-8 on its own;
 * - consecutive encoded words are always separated by folding white space
 *   (a space or CRLF SP), never adjacent ("?==?");
 * - white space that belongs to the text and sits between two encoded
 *   pieces is carried *inside* an encoded word, because decoders drop the
 *   white space between adjacent encoded words;
 * - the Q form uses only the RFC 2047 §5(3) phrase-safe set literally
 *   (ALPHA DIGIT ! * + - / and "_" for SP); everything else is =XX.
 *
 * Decoding any field produced here with Python's email package
 * (policy.default) must give back exactly the UTF-8 text that was given,
 * with two exceptions that are Python 3.11's own (RFC 2047 §6.2): in a
 * display name, Python keeps the space between two encoded words and
 * turns each run of white space inside an encoded word into one space.
 * Such display names decode exactly with an RFC-conforming decoder
 * (email.header.decode_header).  Encoded words otherwise fill what is
 * left of the current line (split between characters); a display name
 * that fits in one encoded word is kept in one.
 *
 * Return values: PO_OK (0), PO_ENOMEM, PO_ETOOLONG, PO_EUTF8 (value not
 * valid UTF-8), PO_EHEADER (CR, LF or NUL in a value or name; a bad name),
 * and for address lists PO_EADDRESS and PO_EINVAL (see there).
 * Validation happens before anything is appended.
 */
#ifndef PO_HEADER_H
#define PO_HEADER_H

#include <stddef.h>

#include "buf.h"

#define PO__HDR_SOFT 78  /* RFC 5322 §2.1.1 SHOULD */
#define PO__HDR_HARD 998 /* RFC 5322 §2.1.1 MUST */

/* A parsed mailbox (see address.c).  All strings are UTF-8, NUL-terminated.
 * display: the display name, unquoted and unescaped, or NULL.
 * spec:    the addr-spec "local@domain" as it goes in the header and in
 *          the envelope (the domain already in A-label form when the local
 *          part is ASCII). */
typedef struct po__addr {
	char *display;
	char *spec;
} po__addr;

/* A field name: 1..76 printable ASCII characters (33..126) except ':'
 * (RFC 5322 §3.6.8).  Returns 1 if valid. */
int po__hdr_name_valid(const char *name, size_t n);

/* Unstructured field (Subject, Content-Description, X-... values):
 * - ASCII text whose white-space separated words all fit is written as is,
 *   folded at its own white space;
 * - otherwise (non-ASCII text, a word too long to fit in 78, or text that
 *   contains "=?" and would be mistaken for an encoded word) the words
 *   that need it are RFC 2047 encoded; runs of such words, with the white
 *   space between them, become a sequence of encoded words.
 * - Also encoded: words with control characters other than HTAB (RFC 5322
 *   allows only VCHAR and WSP), and the first or last word when white
 *   space precedes or follows it at the ends of the value (parsers strip
 *   that white space; inside the encoded word it survives).  A run of
 *   white space that starts with HTAB or is longer than 38 characters is
 *   not a folding point: the words around it count as one.
 * An empty value gives "Name:" CRLF (no trailing white space).
 * The value is given as n bytes (may contain no NUL, CR or LF). */
int po__hdr_unstructured(po__buf *out, const char *name, const char *value,
			 size_t n);

/* Address list field (From, To, Cc, Reply-To, Bcc): the mailboxes joined
 * with ", ".  A display name is written as an atom phrase when it consists
 * of atext words separated by single spaces, as a quoted-string (with '"'
 * and '\\' escaped) when it is ASCII but needs quoting, and as encoded
 * words when it is not ASCII (or holds a control character, HTAB or "=?",
 * or a word too long for a line).  An empty display name counts as none.
 * A spec that is empty or holds white space or a control character
 * outside a quoted local part is PO_EADDRESS; a NULL spec or n == 0 is
 * PO_EINVAL.  The spec follows in angle brackets
 * ("Name <a@b>"); without a display name the bare spec is written
 * ("a@b").  Folding happens between mailboxes and, when a single mailbox
 * does not fit on a line, between the words of its display name.
 * n >= 1. */
int po__hdr_addresses(po__buf *out, const char *name, const po__addr *list,
		      size_t n);

/* A parameter of a Content-Type or Content-Disposition field. */
typedef struct po__param {
	const char *name;  /* RFC 2045 token */
	const char *value; /* UTF-8 */
} po__param;

/* Parameterised field: "Name: value;" CRLF "    p1=v1;" CRLF "    p2=v2"
 * (Content-Type with value "type/subtype", Content-Disposition with
 * "attachment"): each parameter on a line of its own after four spaces,
 * as Allegro's mime-part-writer writes them (valid folding white space).
 * - An ASCII parameter value is written as a quoted-string
 *   (name="value", '"' and '\\' escaped), as Allegro does, on one line
 *   however long (PO_ETOOLONG past 998).  One with a control character,
 *   HTAB or "=?" is written like a non-ASCII one.
 * - A non-ASCII value (a file name) is written twice (design §4.9):
 *   first as an RFC 2231 extended parameter, name*=utf-8''%XX... (split
 *   into name*0*=, name*1*=, ... sections when it does not fit on one
 *   line), then as a fallback name="=?utf-8?b?...?=" (RFC 2047 words inside
 *   the quoted string, separated by spaces) for clients that ignore RFC
 *   2231.  Python returns the RFC 2231 form from get_filename() (and notes
 *   the fallback as a duplicate parameter, a defect we accept).
 * - Each parameter (each RFC 2231 section, the RFC 2047 fallback) starts
 *   a continuation line of its own.
 * value itself must be ASCII without white space, controls or ';', and
 * not empty; parameter names 1..76 RFC 2231 attribute-chars (a token
 * without '*', '\'' or '%'); otherwise PO_EHEADER. */
int po__hdr_params(po__buf *out, const char *name, const char *value,
		   const po__param *params, size_t nparams);

/* A raw header line given by the caller, "Name: value" without CRLF:
 * - the name is validated (po__hdr_name_valid) and a colon is required;
 * - CR, LF or NUL anywhere is PO_EHEADER;
 * - an ASCII value is written as given (no encoding), folded at its own
 *   white space if the line is longer than 78, PO_ETOOLONG if some piece
 *   can't fit in 998;
 * - a non-ASCII value is encoded as an unstructured field would be.
 * The name keeps the caller's spelling. */
int po__hdr_raw(po__buf *out, const char *line, size_t n);

/* Split "Name: value" (n bytes) at the first colon: *name_len is the
 * length of the name, *value is the value with leading white space
 * skipped.  Returns PO_EHEADER if there is no colon or the name is not
 * valid. */
int po__hdr_split(const char *line, size_t n, size_t *name_len,
		  const char **value, size_t *value_len);

#endif
