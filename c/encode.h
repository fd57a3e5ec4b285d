/* encode.h - body transfer encoders (internal).
 *
 * RFC 2045 §6.7 (quoted-printable), §6.8 (base64); RFC 5321 §2.3.8 and
 * §4.5.3.1.6 (CRLF line endings, 998-octet lines).
 *
 * All three encoders are streaming: feed any number of chunks with
 * *_update, then call *_final once.  The output for a chunk never depends
 * on how the input was cut into chunks.  The caller provides an output
 * buffer of at least *_bound(n) bytes for an update of n input bytes (the
 * bound covers what the state may still hold from earlier calls) and at
 * least PO__ENC_FINAL_MAX bytes for *_final.  Nothing allocates.
 *
 * Every line ending produced is CRLF; no encoder ever emits a bare CR or a
 * bare LF.
 */
#ifndef PO_ENCODE_H
#define PO_ENCODE_H

#include <stddef.h>

#define PO__ENC_FINAL_MAX 16

/* ---------------------------------------------------------------------
 * base64, RFC 2045 §6.8: standard alphabet, '=' padding, output lines of
 * exactly 72 characters (Allegro's width), every line - the last one
 * included - ended by CRLF.  Empty input produces no output at all.
 */
#define PO__B64_LINE 72

typedef struct po__b64 {
	unsigned char carry[2]; /* input bytes not yet encoded */
	unsigned ncarry;
	unsigned col;           /* characters on the current output line */
} po__b64;

void po__b64_init(po__b64 *st);
size_t po__b64_bound(size_t n);
size_t po__b64_update(po__b64 *st, const unsigned char *in, size_t n,
		      char *out);
size_t po__b64_final(po__b64 *st, char *out);

/* One-shot base64 without line breaks (for RFC 2047 encoded words).
 * out must hold 4 * ((n + 2) / 3) bytes; returns the length written (no
 * NUL is written). */
size_t po__b64_plain(const unsigned char *in, size_t n, char *out);

/* ---------------------------------------------------------------------
 * quoted-printable, RFC 2045 §6.7.
 *
 * - Octets 33..60 and 62..126 are literal; everything else is =XX with
 *   upper-case hex, except as below.
 * - SP and HTAB are literal unless they are the last octet before a line
 *   break or the end of the data: then =20 / =09 (never a tab as =20).
 * - Output lines are at most 76 characters, the soft line break "=" CRLF
 *   included (rule 5).  An =XX triple is never split by a soft break.
 *   Lines ended by a hard break carry at most 75 too (one octet of
 *   lookahead would be needed to use the 76th).
 * - Text mode (textmode != 0): CRLF, a bare LF, and a CR LF pair split
 *   across two updates are hard line breaks, written as CRLF; a bare CR
 *   (not followed by LF) is written =0D.
 *   Binary mode: CR is =0D and LF is =0A, so the octets survive exactly.
 * - Line-start safety, on every output line (hard or soft):
 *   a line that would consist of a single "." is written "=2E" (a lone dot
 *   ends the letter for `sendmail` without -i, design §4.9), and a line
 *   starting "From " is written "=46rom " (mbox readers).  More generally a
 *   "." that starts an output line is always written =2E, so no line of
 *   the output starts with a dot.  With dashes set (after init: the
 *   renderer sets it inside a multipart), a "-" that starts an output
 *   line and is followed by another "-" is written =2D, so no line starts
 *   with "--" and none can be taken for a boundary delimiter (RFC 2046
 *   §5.1.1).
 * - _final flushes held white space (as =20/=09) and never adds a line
 *   break of its own: data without a final newline ends without one.
 */
#define PO__QP_LINE 76

typedef struct po__qp {
	int textmode;
	unsigned col;          /* characters on the current output line */
	int pending_cr;        /* text mode: a CR waits for a possible LF */
	unsigned char held;    /* a SP/HT held back, or 0 */
	unsigned char line[5]; /* start of line held to detect "From " or
				  "--" */
	unsigned nline;
	int dashes;            /* escape a leading "--" (see above) */
} po__qp;

void po__qp_init(po__qp *st, int textmode);
size_t po__qp_bound(size_t n);
size_t po__qp_update(po__qp *st, const unsigned char *in, size_t n,
		     char *out);
size_t po__qp_final(po__qp *st, char *out);

/* ---------------------------------------------------------------------
 * Line-ending canonicaliser: the one CRLF policy (design §2) for bodies
 * sent as 7bit/8bit/binary and for pre-formatted (raw) letters.
 * CRLF stays CRLF, a bare LF becomes CRLF, a bare CR becomes CRLF (a CR
 * at the end of one chunk waits for the next).  Nothing else changes: no
 * dot-stuffing (libcurl does it on SMTP), no final newline added.
 * It also measures lines: maxline is the longest line seen, in octets,
 * line ending excluded; lone_dot is set when some line is exactly ".".
 * After _final both count an unterminated last line too: whatever
 * follows the body on the wire starts with CRLF, which completes it.
 */
typedef struct po__crlf {
	int pending_cr;
	size_t col;         /* octets on the current line */
	size_t maxline;     /* longest line so far */
	int lone_dot;       /* some complete line was exactly "." */
	int line_is_dot;    /* the current line so far is "." */
} po__crlf;

void po__crlf_init(po__crlf *st);
size_t po__crlf_bound(size_t n);
size_t po__crlf_update(po__crlf *st, const unsigned char *in, size_t n,
		       char *out);
size_t po__crlf_final(po__crlf *st, char *out);

/* ---------------------------------------------------------------------
 * Scanning helpers used to choose an encoding (design §4.9).
 */
/* Lines end at CRLF, LF or a bare CR, as the canonicaliser ends them;
 * the unterminated last line counts for maxline and lone_dot. */
typedef struct po__scan {
	size_t maxline;    /* longest line in octets, CR/LF excluded */
	int nonascii;      /* some octet >= 0x80 */
	int nul;           /* some NUL octet */
	int bare_cr;       /* some CR not followed by LF */
	int lone_dot;      /* some line is exactly "." */
	int ends_newline;  /* the data ends with LF (or is empty) */
} po__scan;

void po__scan_bytes(const unsigned char *p, size_t n, po__scan *out);

/* Make the text in *data (*len octets, in a malloc'd buffer with room
 * for one more) canonical for a transfer encoding that keeps octets as
 * they are (RFC 2045 §6.8, RFC 2046 §4.1.1: text line breaks are CRLF
 * before base64): each LF not preceded by CR becomes CRLF.  A bare CR is
 * left alone (quoted-printable keeps it too, as =0D).  *data is replaced
 * by a new buffer when something changes.  Returns 0, or -1 when memory
 * runs out (the text is then unchanged). */
int po__text_canonical(unsigned char **data, size_t *len);

/* 1 if the charset name is one whose text is not ASCII-compatible
 * (UTF-16, UTF-32, UCS-2/4): line ends there are not LF octets. */
int po__charset_wide(const char *charset);

/* 1 if the n bytes are well-formed UTF-8 (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), else 0. */
int po__utf8_valid(const char *s, size_t n);

/* The length of the longest prefix of s[0..n) that is well-formed UTF-8
 * and ends at a character boundary (n when all of it is). */
size_t po__utf8_valid_prefix(const char *s, size_t n);

/* The same check over data that comes in chunks: a sequence may be split
 * between two.  line counts LF octets, so that an error can name the line
 * (1-based) of the bad sequence. */
typedef struct po__utf8s {
	unsigned char pend[4]; /* the start of a sequence cut by a chunk end */
	unsigned npend;
	size_t line;
} po__utf8s;

void po__utf8s_init(po__utf8s *st);
/* Returns 1 while all is well, 0 at the first bad sequence (st->line is
 * then its line). */
int po__utf8s_update(po__utf8s *st, const unsigned char *p, size_t n);
/* Returns 0 if the data ended inside a sequence. */
int po__utf8s_final(po__utf8s *st);
/* 1 if every byte is < 0x80, else 0. */
int po__is_ascii(const char *s, size_t n);

#endif
