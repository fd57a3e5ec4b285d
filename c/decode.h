/* decode.h - decoders for reading letters back (internal): transfer
 * encodings, charsets, RFC 2047 encoded words.
 *
 * RFC 2045 §6.7 (quoted-printable), §6.8 (base64); RFC 2047 (encoded
 * words); RFC 2231 §4 (the language suffix of a charset); RFC 3629
 * (UTF-8).
 *
 * They are lenient: malformed input is never an error, it is decoded as
 * well as it can be and the damage is counted for the caller to report.
 * Every function appends to a po__buf and returns 0, or -1 when memory
 * runs out (the buffer may then hold part of the output).
 */
#ifndef PO_DECODE_H
#define PO_DECODE_H

#include <stddef.h>

#include "buf.h"

/* The length of the well-formed UTF-8 sequence (RFC 3629: no
 * overlongs, no surrogates, nothing above U+10FFFF) at p, of at most n
 * octets (n >= 1), or 0 if it is ill-formed; then *skip is the length
 * of its longest prefix that could have been valid (at least 1). */
size_t po__utf8_seq(const unsigned char *p, size_t n, size_t *skip);

/* Append the n octets as UTF-8: well-formed sequences as they are, each
 * ill-formed one (the longest prefix of a sequence that could still
 * have been valid, or a single octet) as U+FFFD.  With nul_ok == 0 a NUL
 * octet also becomes U+FFFD (for text that goes into C strings).
 * *bad (may be NULL) is increased by the number of replacements. */
int po__utf8_repair(po__buf *out, const void *s, size_t n, int nul_ok,
		    size_t *bad);

/* base64: characters outside the alphabet are skipped, decoding stops at
 * the first '='.  *bad is increased by the number of skipped characters
 * other than white space, and by one for a dangling final character. */
int po__b64_decode(po__buf *out, const void *s, size_t n, size_t *bad);

/* quoted-printable: =XX escapes (either case), soft line breaks, white
 * space at the end of a line removed (transport padding), hard line
 * breaks kept as they were (CRLF, or LF in a letter with LF line
 * endings); a '=' not followed by two hex digits is kept as it is. */
int po__qp_decode(po__buf *out, const void *s, size_t n);

/* The charset name for comparison: lower case, without surrounding
 * quotes and white space and without an RFC 2231 language suffix
 * ("UTF-8*en" -> "utf-8"), written into out (size outsize).  Returns 0,
 * or -1 if the name is empty, too long, or holds a character no charset
 * name has (then it is unknown). */
int po__charset_norm(const char *charset, size_t n, char *out,
		     size_t outsize);

/* 1 if text in this charset can be decoded: UTF-8 and US-ASCII (read as
 * UTF-8, since 8-bit octets labelled US-ASCII nearly always are), and
 * every charset iconv knows.  NULL means US-ASCII. */
int po__charset_known(const char *charset);

/* Append the n octets in charset as UTF-8 (NULL means US-ASCII).
 * Octets the charset cannot decode become U+FFFD and count in *bad.  An
 * unknown charset sets *unknown to 1 and the octets are read as UTF-8. */
int po__charset_decode(po__buf *out, const void *s, size_t n,
		       const char *charset, int nul_ok, int *unknown,
		       size_t *bad);

/* RFC 2047: append the header text s (n octets of UTF-8) with its
 * encoded words decoded.  White space between two adjacent encoded words
 * is dropped, and adjacent words in one charset are decoded together,
 * so a character split between two words comes out whole.  An encoded
 * word that is malformed or in an unknown charset is left as it is. */
int po__decode_words(po__buf *out, const char *s, size_t n);

#endif
