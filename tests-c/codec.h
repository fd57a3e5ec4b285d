/* codec.h - the C tests' and the fuzz targets' own decoders and checkers.
 *
 * Written from the RFCs and sharing no code with c/, so that a mistake in
 * the library is not mirrored in what checks it: base64 (RFC 4648),
 * quoted-printable (RFC 2045 §6.7), encoded words (RFC 2047), unfolding
 * (RFC 5322 §2.2.3), UTF-8 (RFC 3629).  Besides, the one driver that
 * feeds the library's streaming encoders in chunks.
 *
 * Nothing here asserts: a checker returns NULL when all is well and a
 * short static description of the first problem otherwise, so that the
 * cmocka tests can print it and fail, and the fuzz targets can trap.
 * Functions that allocate return NULL when out of memory, with the
 * description "out of memory".
 */
#ifndef PO_TESTS_CODEC_H
#define PO_TESTS_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "encode.h"

/* The value of a base64 digit, -1 for anything else ('=' included). */
int tc_b64_value(char c);

/* The value of an upper-case hex digit, -1 for anything else (RFC 2045
 * and 2047 allow only upper case in what we write). */
int tc_hexval(char c);

/* 1 when s[0..n) is well-formed UTF-8 (no overlongs, surrogates or code
 * points over U+10FFFF), else 0. */
int tc_utf8_valid(const void *s, size_t n);

/* Every line end of p[0..n) is CRLF, and there is no other CR or LF.
 * *longest (when not NULL) is set to the longest line's length. */
const char *tc_crlf_lines(const char *p, size_t n, size_t *longest);

/* A header field's line structure: CRLF line ends only, the last line
 * ended too; at most 998 characters a line (78 when soft); continuation
 * lines start with SP; no line is white space only.  *bad_line (when not
 * NULL) is set to the index of the offending line. */
const char *tc_header_lines(const char *p, size_t n, int soft,
			    size_t *bad_line);

/* RFC 5322 §2.2.3 unfolding: every CRLF dropped.  Returns a malloc'd
 * NUL-terminated string and its length in *len. */
char *tc_unfold(const char *p, size_t n, size_t *len);

/* Decodes the encoded word w[0..n) (utf-8, B or Q), appending the octets
 * to out at *o, and checks our own rules on the way: at most 75
 * characters, whole base64 quanta, Q text only from the RFC 2047 §5(3)
 * set, valid UTF-8 on its own. */
const char *tc_ew_decode(const char *w, size_t n, char *out, size_t *o);

/* RFC 2047 §6.2 decoding of an unfolded unstructured value: encoded words
 * decoded, white space between two of them dropped.  Returns a malloc'd
 * NUL-terminated string and its length in *len, or NULL with *err set. */
char *tc_decode_text(const char *v, size_t n, size_t *len, const char **err);

/* Decodes base64 (line breaks skipped) into out, which has room for
 * 3 * (n / 4) octets; *len is the decoded length. */
const char *tc_b64_decode(const char *p, size_t n, unsigned char *out,
			  size_t *len);

/* Decodes quoted-printable into out (room for n octets), a hard line
 * break becoming CRLF, and checks the encoder's promises: lines of at
 * most 76, CRLF only, no white space before a line end, upper-case hex,
 * no line starting with '.' or "From ", and no hard line break at all
 * unless text. */
const char *tc_qp_decode(const char *p, size_t n, int text,
			 unsigned char *out, size_t *len);

/* What text-mode encoding must give back: LF and CRLF as CRLF, a bare CR
 * as it is.  out has room for 2 * n octets.  Returns the length. */
size_t tc_text_canonical(const unsigned char *in, size_t n,
			 unsigned char *out);

/* A MIME entity as tc_mime_parse reads it. */
typedef struct tc_entity {
	char type[128];        /* "type/subtype" in lower case; text/plain
				  when there is no Content-Type */
	char boundary[128];    /* multiparts: the boundary parameter */
	char cte[64];          /* lower case; "7bit" when there is none */
	size_t nfields;        /* the header fields, unfolded, in order */
	char **name, **value;
	unsigned char *body;   /* leaves: the content, decoded */
	size_t len;
	struct tc_entity **child;
	size_t nchild;
} tc_entity;

/* Parses the MIME entity p[0..n) (a whole letter, or a part as
 * po_reader_new_part renders it) by RFC 2045 and 2046, and fails on what
 * would let two parsers disagree: a line ending other than CRLF, two
 * Content-* fields of one name, a multipart without a boundary or
 * without its close delimiter, a line in a multipart's body that starts
 * with "--" and its boundary but is not exactly a delimiter ("--b" or
 * "--b--", then white space only: a lax parser would see a part there),
 * 8-bit octets or NUL under 7bit, NUL under 8bit, a base64 or
 * quoted-printable body that does not decode.  Leaves' bodies are
 * decoded; a message/rfc822 part is a leaf.
 * Returns the tree (free with tc_entity_free), or NULL and *err. */
tc_entity *tc_mime_parse(const char *p, size_t n, const char **err);
void tc_entity_free(tc_entity *e);

/* The value of e's first header field named name (any case), or NULL. */
const char *tc_entity_field(const tc_entity *e, const char *name);

/* s[0..n) as a JSON string. */
void tc_json_str(FILE *f, const char *s, size_t n);

/* A preview page (c/preview.c) is safe by construction: valid UTF-8
 * without NUL; every '<' starts a tag the page writes itself (the
 * letter's text is always escaped); no script element; at most one
 * iframe, sandboxed with nothing allowed. */
const char *tc_page_safe(const char *page, size_t n);

/* The library's streaming encoders (c/encode.h), driven in chunks. */
typedef enum { TC_B64, TC_QP_TEXT, TC_QP_BIN, TC_CRLF } tc_enc;

/* Encodes in[0..n) with kind k, calling next(ctx) for the size of each
 * chunk (clipped to what is left), and checks that every update stays
 * within its bound.  Returns a malloc'd buffer and its length in *len,
 * the CRLF state in *crlf when not NULL; NULL with *err set on a
 * problem. */
char *tc_encode(tc_enc k, const unsigned char *in, size_t n,
		size_t (*next)(void *), void *ctx, size_t *len,
		po__crlf *crlf, const char **err);

#endif
