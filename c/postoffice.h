/* postoffice.h - libpostoffice: compose e-mail and send it over SMTP(S)
 * through libcurl, or through a program such as `sendmail -t`.
 *
 * This is the library's only public header.  Sections, in order:
 * version, errors, parts (the MIME tree), letters, rendering, SMTP
 * delivery and sessions, the program transport, reading letters (a MIME
 * parser), previewing letters (an HTML page).
 *
 * Conventions (they hold for every function unless its block says
 * otherwise):
 *
 * - Handles are opaque.  A *_new function returns NULL only when memory
 *   runs out.  Every *_free function accepts NULL.
 * - Strings are UTF-8 and NUL-terminated.  Where a length is taken,
 *   PO_ZERO_TERMINATED means "use strlen".
 * - Setters *copy* their input; the caller keeps ownership of what it
 *   passed.  Returned strings are *borrowed*: they belong to the handle and
 *   stay valid until the next call on that handle (or its free).
 * - Functions that can fail return an int status: PO_OK (0) or a positive
 *   code from the table below.  After a failure, po_last_error() gives a
 *   one-line explanation for the calling thread.
 * - Nothing here writes to stdout or stderr, installs signal handlers, or
 *   exits.
 * - Threads: a handle is used by one thread at a time; different handles
 *   can be used from different threads at once.
 */
#ifndef POSTOFFICE_H
#define POSTOFFICE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && __GNUC__ >= 4
#define PO_EXTERN __attribute__((visibility("default")))
#else
#define PO_EXTERN
#endif

#define PO_ZERO_TERMINATED ((size_t)-1)

/* ======================================================================
 * Version
 */
/* The version is the one in the file VERSION at the top of the source
 * tree; the Makefile refuses to build until these three say the same. */
#define PO_VERSION_MAJOR 0
#define PO_VERSION_MINOR 1
#define PO_VERSION_PATCH 0
#define PO__STR(x) #x
#define PO__XSTR(x) PO__STR(x)
/* "MAJOR.MINOR.PATCH", e.g. "0.1.0" */
#define PO_VERSION                                                          \
	PO__XSTR(PO_VERSION_MAJOR) "." PO__XSTR(PO_VERSION_MINOR) "."       \
	    PO__XSTR(PO_VERSION_PATCH)
#define PO_VERSION_NUM                                                      \
	((PO_VERSION_MAJOR << 16) | (PO_VERSION_MINOR << 8) | PO_VERSION_PATCH)

/* po_version - the library's version string, e.g. "0.1.0".
 * Returns: a static string. */
PO_EXTERN const char *po_version(void);

/* po_version_num - the version as 0xMMmmpp (major, minor, patch), so a
 * binding can refuse a library older than it needs.
 * Returns: PO_VERSION_NUM of the library actually loaded. */
PO_EXTERN unsigned long po_version_num(void);

/* po_init - one-time global set-up (libcurl's curl_global_init).
 * Safe to call many times and from many threads; the SMTP functions call
 * it themselves.  Call it early if your program starts threads that use
 * libcurl on their own.
 * Returns: PO_OK, or PO_ETRANSPORT if libcurl could not initialise. */
PO_EXTERN int po_init(void);

/* ======================================================================
 * Errors
 *
 * The table is append-only: a code never changes meaning.  Bindings map
 * codes through po_errname(), so the table exists once.
 */
#define PO_ERROR_MAP(XX)                                                   \
	XX(OK, 0, "success")                                               \
	XX(ENOMEM, 1, "out of memory")                                     \
	XX(EINVAL, 2, "invalid argument")                                  \
	XX(EADDRESS, 3, "malformed e-mail address")                        \
	XX(EHEADER, 4, "malformed header")                                 \
	XX(ETOOLONG, 5, "header line too long")                            \
	XX(EUTF8, 6, "text is not valid UTF-8")                            \
	XX(EFILENAME, 7, "malformed file name")                            \
	XX(ECONTENTTYPE, 8, "malformed content type")                      \
	XX(EENCODING, 9, "unknown transfer encoding")                      \
	XX(EBOUNDARY, 10, "malformed MIME boundary")                       \
	XX(ENOENT, 11, "file not found")                                   \
	XX(EACCES, 12, "file not readable")                                \
	XX(EISDIR, 13, "file is a directory")                              \
	XX(EIO, 14, "read error")                                          \
	XX(EREADER, 15, "reader callback failed")                          \
	XX(ENOBODY, 16, "letter has no body")                              \
	XX(ENOSENDER, 17, "letter has no sender")                          \
	XX(ENORCPT, 18, "letter has no recipients")                        \
	XX(EBUSY, 19, "setting fixed for the life of the session")         \
	XX(ELINE, 20, "line too long for its transfer encoding")           \
	XX(EDNS, 21, "could not resolve host")                             \
	XX(ECONNECT, 22, "could not connect to server")                    \
	XX(ETLS, 23, "TLS handshake failed")                               \
	XX(ECERT, 24, "server certificate not trusted")                    \
	XX(ESTARTTLS, 25, "STARTTLS not available")                        \
	XX(EAUTH, 26, "authentication failed")                             \
	XX(EAUTHMECH, 27, "no usable authentication mechanism")            \
	XX(EGREETING, 28, "server refused the connection")                 \
	XX(EHELO, 29, "server refused EHLO/HELO")                          \
	XX(ESENDER, 30, "sender refused")                                  \
	XX(ERECIPIENT, 31, "recipient refused")                            \
	XX(EDATA, 32, "DATA command refused")                              \
	XX(EMESSAGE, 33, "message refused")                                \
	XX(ETIMEOUT, 34, "timed out")                                      \
	XX(ECONNLOST, 35, "connection lost")                               \
	XX(EPROTOCOL, 36, "unexpected server reply")                       \
	XX(ESMTPUTF8, 37, "server does not support SMTPUTF8")              \
	XX(ENOPROGRAM, 38, "program could not be run")                     \
	XX(EPROGRAM, 39, "program failed")                                 \
	XX(EABORTED, 40, "aborted by callback")                            \
	XX(ETRANSPORT, 41, "transport error")                              \
	XX(ESTATE, 42, "operation not valid in this state")                \
	XX(ECHANGED, 43, "file changed while the letter was made")         \
	XX(EDEPTH, 44, "MIME parts nested too deeply")                     \
	XX(EBADOCTET, 45, "content does not fit its transfer encoding")    \
	XX(EENVELOPE, 46, "header names a recipient not in the envelope")  \
	XX(ESIZE, 47, "letter larger than the server accepts")             \
	XX(E8BIT, 48, "server does not accept 8-bit data")                 \
	XX(EDSN, 49, "server does not support DSN")                        \
	XX(EREQUIRETLS, 50, "REQUIRETLS not possible")

enum po_status {
#define PO__ENUM(name, code, text) PO_##name = code,
	PO_ERROR_MAP(PO__ENUM)
#undef PO__ENUM
	PO__STATUS_COUNT
};

/* po_strerror - a short English description of a status ("recipient
 * refused").  Returns: a static string; "unknown error" for codes not in
 * the table. */
PO_EXTERN const char *po_strerror(int status);

/* po_errname - the status's name without the PO_ prefix ("ERECIPIENT").
 * Returns: a static string; "UNKNOWN" for codes not in the table. */
PO_EXTERN const char *po_errname(int status);

/* po_last_error - a one-line explanation of the last failure of a po_*
 * function in the calling thread, naming the offending input where there
 * is one ("To address \"a b@c\": space not allowed").  Secrets are never
 * included.
 * Returns: a thread-local string, valid until the thread's next failing
 * call; "" if nothing failed yet. */
PO_EXTERN const char *po_last_error(void);

/* ======================================================================
 * Parts: a MIME tree
 *
 * A part is a leaf (text, octets, a file, or a reader callback) or a
 * multipart with children.  A parent owns its children: po_part_free on
 * the root frees the tree; a letter owns its body part.
 *
 * Defaults follow Allegro's make-mime-part (design.md §4.9):
 * - text parts: Content-Type text/plain with the given charset; encoding
 *   7bit when the octets are ASCII with lines of at most 998 octets, no
 *   bare CR and no line that is a lone "."; quoted-printable when they are
 *   ASCII but break one of those rules; base64 when they are not ASCII.
 * - byte and file parts: application/octet-stream (file parts: the type
 *   guessed from the file name), base64.
 * - reader parts: application/octet-stream, base64; a reader part whose
 *   type is set to text/... (or message/rfc822) defaults to
 *   quoted-printable, which is safe for any content read later.
 * - multiparts: no transfer encoding; a random boundary of Allegro's shape
 *   ("----------_" and 32 characters from [0-9a-e]) drawn from the
 *   operating system's CSPRNG (getrandom) when the part is made.
 *
 * Boundaries are never forged (RFC 2046 §5.1): no line the renderer
 * writes inside a multipart starts with "--" and the boundary of an
 * enclosing multipart, and no boundary starts with an enclosing one.
 * Where some content would break that rule, a generated boundary (made
 * here or given with po_part_set_generated_boundary) is replaced by a
 * fresh one for that render; otherwise a 7bit/8bit/binary part whose
 * encoding is the library's choice or was set with po_part_set_encoding
 * goes quoted-printable instead (inside a multipart a quoted-printable
 * line never starts with "--": a leading "-" followed by another is
 * written "=2D"); when the caller fixed both the boundary and the
 * encoding (a Content-Transfer-Encoding header, see po_part_add_header)
 * the render fails with PO_EBOUNDARY.  7bit/8bit/binary content that is
 * not known in advance (reader parts) is checked while it is read, and
 * the render fails midway rather than write such a line.
 *
 * A tree is at most PO_MAX_DEPTH levels deep (the root is level 1):
 * po_part_add refuses to make a deeper one.
 */
#define PO_MAX_DEPTH 100
typedef struct po_part po_part;

/* Read callback: copy up to len bytes into buf and store the count in
 * *n_out.  Return 0 on success (with *n_out == 0 meaning end of data) or
 * non-zero to fail the render or send, which then returns PO_EREADER.
 * It is called only from inside po_reader_read / po_*_send, in the calling
 * thread; it must return normally (no longjmp or non-local exit). */
typedef int (*po_read_fn)(void *userdata, void *buf, size_t len,
			  size_t *n_out);

/* po_part_new_text - a text/plain part holding a copy of len octets.
 * charset: the charset parameter ("utf-8", "iso-8859-1", ...); NULL means
 * "utf-8".  The caller encodes the text in that charset; it is kept in
 * canonical form (RFC 2045 §6.8, RFC 2046 §4.1.1): each LF not preceded
 * by CR becomes CRLF, so that the text is the same on the wire whatever
 * its transfer encoding, base64 included (a bare CR is kept; UTF-16 and
 * UTF-32 text is not touched).  For octets that must go byte for byte
 * (a .csv or .patch attachment) use po_part_new_bytes and set the type.
 * Returns: the part (free with po_part_free), NULL on OOM. */
PO_EXTERN po_part *po_part_new_text(const char *text, size_t len,
				    const char *charset);

/* po_part_new_bytes - an application/octet-stream part holding a copy of
 * len octets.  Returns: the part, NULL on OOM. */
PO_EXTERN po_part *po_part_new_bytes(const void *data, size_t len);

/* po_part_new_file - an attachment read from the file at path.
 * The file is checked now - it exists, is a regular file (symbolic links
 * are followed) and can be read - and its identity is remembered
 * (device, inode, size); no descriptor is kept.  Each render
 * (po_reader_new) opens it again, without blocking and close-on-exec,
 * and requires the same regular file of the same size, else PO_ECHANGED:
 * a FIFO, a device or another file put in its place is never read.  Every
 * pass of that render (choosing the encoding, sending, po_reader_rewind)
 * reads that one descriptor, which po_reader_free closes; a file that
 * grows or shrinks meanwhile fails the render with PO_ECHANGED, never
 * giving a different letter.  Type: guessed from the file name
 * (po_mime_type_for_name).  Disposition: attachment, with the base name of
 * path as the filename.  Encoding: base64.
 * Returns: PO_OK and the part in *part_out, or PO_ENOENT, PO_EACCES (also:
 * not a regular file), PO_EISDIR, PO_EINVAL (NULL or empty path),
 * PO_ENOMEM. */
PO_EXTERN int po_part_new_file(const char *path, po_part **part_out);

/* po_part_new_reader - a part whose octets come from fn(userdata, ...),
 * pulled chunk by chunk during the render.  The data can be read only
 * once, so a letter with a reader part can be rendered or sent once.
 * Returns: the part, NULL on OOM. */
PO_EXTERN po_part *po_part_new_reader(po_read_fn fn, void *userdata);

/* po_part_new_text_reader - a text/plain part whose octets come from
 * fn(userdata, ...) during the render, as for po_part_new_reader.
 * charset: as for po_part_new_text (NULL means "utf-8").  When the charset
 * is utf-8 the octets are checked as they are read (RFC 3629: no
 * overlong forms, surrogates or code points over U+10FFFF): a bad
 * sequence fails the render with PO_EUTF8, naming its line.  Encoding:
 * quoted-printable, safe for any text not known in advance.
 * Returns: the part, NULL on OOM, or if fn is NULL or charset is not an
 * RFC 2045 token. */
PO_EXTERN po_part *po_part_new_text_reader(po_read_fn fn, void *userdata,
					   const char *charset);

/* po_part_new_text_file - a text/plain body part (no disposition, no
 * filename) read from the file at path, checked now and read at render
 * time exactly as a po_part_new_file part is.  charset: as for
 * po_part_new_text (NULL means "utf-8").  Its encoding is chosen as for a
 * text part held in memory (7bit, quoted-printable or base64), from a
 * first pass over the file when the render starts; with charset utf-8
 * that pass also checks that the file is UTF-8, so PO_EUTF8 comes from
 * po_reader_new, before the first byte.
 * Returns: as po_part_new_file, and PO_ECONTENTTYPE for a charset that
 * is not a token. */
PO_EXTERN int po_part_new_text_file(const char *path, const char *charset,
				    po_part **part_out);

/* po_part_new_multipart - a multipart/<subtype> part with no children.
 * subtype: "mixed", "alternative", "related", ...; NULL means "mixed".
 * Returns: the part, NULL on OOM or if subtype is not an RFC 2045 token. */
PO_EXTERN po_part *po_part_new_multipart(const char *subtype);

/* po_part_add - append child to multipart parent.  Takes ownership of
 * child on success (child must not already have a parent).  Runs in time
 * bounded by PO_MAX_DEPTH, whatever the size of the trees.
 * Returns: PO_OK, PO_EINVAL (parent not multipart, child already owned,
 * child == parent or one of its ancestors), PO_EDEPTH (the tree would be
 * more than PO_MAX_DEPTH levels deep). */
PO_EXTERN int po_part_add(po_part *parent, po_part *child);

/* po_part_free - free part and all its children.  Must not be called on a
 * part that has a parent or belongs to a letter. */
PO_EXTERN void po_part_free(po_part *part);

/* po_part_set_type - set the content type, "type/subtype" (two RFC 2045
 * tokens, no parameters; case kept as given).  Changing a multipart's type
 * to a non-multipart one (or back) is PO_EINVAL.
 * Returns: PO_OK, PO_ECONTENTTYPE, PO_EINVAL, PO_ENOMEM. */
PO_EXTERN int po_part_set_type(po_part *part, const char *type);

/* po_part_set_charset - set (or, with NULL, remove) the charset parameter.
 * It is written first among the parameters, as Allegro does.
 * Returns: PO_OK, PO_ECONTENTTYPE (not a token), PO_ENOMEM. */
PO_EXTERN int po_part_set_charset(po_part *part, const char *charset);

/* po_part_add_param - append a Content-Type parameter (after charset and,
 * for multiparts, boundary).  Order is kept.  name: an RFC 2045 token
 * other than "charset" or "boundary"; value: UTF-8 without CR, LF, NUL.
 * Returns: PO_OK, PO_ECONTENTTYPE, PO_EHEADER, PO_EUTF8, PO_ENOMEM. */
PO_EXTERN int po_part_add_param(po_part *part, const char *name,
				const char *value);

/* po_part_set_encoding - the Content-Transfer-Encoding: "7bit", "8bit",
 * "binary", "base64" or "quoted-printable" (any case); NULL restores the
 * default.  For 7bit/8bit/binary the body is sent with canonical CRLF line
 * endings; if a text part held in memory cannot be sent that way (a line
 * over 998 octets, a bare CR, a lone "." line, or non-ASCII octets under
 * 7bit) quoted-printable is used instead.  Multiparts take no encoding.
 * A message/rfc822 part (a .eml file) takes none either: RFC 2046 §5.2.1
 * allows only 7bit, 8bit and binary there, so it goes as it is (7bit or
 * 8bit) when its lines allow, else as application/octet-stream in base64.
 * Returns: PO_OK, PO_EENCODING, PO_EINVAL (multipart), PO_ENOMEM. */
PO_EXTERN int po_part_set_encoding(po_part *part, const char *encoding);

/* Dispositions for po_part_set_disposition. */
#define PO_DISPOSITION_NONE 0
#define PO_DISPOSITION_INLINE 1
#define PO_DISPOSITION_ATTACHMENT 2

/* po_part_set_disposition - set the Content-Disposition (PO_DISPOSITION_*)
 * and its filename (UTF-8, without directory; NULL for none).  A
 * non-ASCII filename is written as RFC 2231 filename*= with an RFC 2047
 * filename= fallback.
 * Returns: PO_OK, PO_EINVAL (bad disposition), PO_EFILENAME (CR, LF, NUL,
 * '/' or empty), PO_EUTF8, PO_ENOMEM. */
PO_EXTERN int po_part_set_disposition(po_part *part, int disposition,
				      const char *filename);

/* po_part_set_id - set the Content-ID (NULL to remove).  Angle brackets
 * are added when missing: "x@y" is written "<x@y>".
 * Returns: PO_OK, PO_EHEADER (CR, LF, NUL, white space, or non-ASCII),
 * PO_ENOMEM. */
PO_EXTERN int po_part_set_id(po_part *part, const char *content_id);

/* po_part_set_description - set the Content-Description (unstructured
 * text, RFC 2047-encoded if not ASCII); NULL to remove.
 * Returns: PO_OK, PO_EHEADER, PO_EUTF8, PO_ENOMEM. */
PO_EXTERN int po_part_set_description(po_part *part, const char *text);

/* po_part_add_header - append an extra header field to the part, written
 * before its Content-* fields (as Allegro's part headers are).  On the
 * letter's body part, From, To, Cc, Subject, Reply-To, Date and
 * Message-ID given here replace the letter's own (Allegro: part headers
 * beat keyword arguments).
 * A part never carries two Content-* fields of one name, and its own
 * beat the ones the library makes:
 * - Content-Type ("type/subtype; name=value; ..."; tokens or quoted
 *   strings, comments skipped) sets the part's type, charset and
 *   parameters, replacing what was set before (later setters change them
 *   again); on a multipart, a boundary it names is the boundary used
 *   (fixed, as with po_part_set_boundary).  A multipart type on a leaf,
 *   or the other way round, is PO_EINVAL; RFC 2231 parameters (name*=)
 *   are PO_ECONTENTTYPE: give them with po_part_add_param.
 * - Content-Transfer-Encoding (7bit, 8bit, binary, base64,
 *   quoted-printable) is the encoding applied, never replaced: content
 *   that does not fit it (7bit or 8bit with a NUL or a bare CR, 7bit with
 *   octets over 127: PO_EBADOCTET; a line over 998 octets or a lone "."
 *   line: PO_ELINE; a line that would forge a fixed boundary:
 *   PO_EBOUNDARY) fails the render.  On a multipart: PO_EINVAL.
 * - Other Content-* fields (Content-Disposition, Content-ID,
 *   Content-Description, ...) are written as given, in place of the
 *   library's own of that name.
 * A second Content-* field of one name is PO_EHEADER, and so is Bcc,
 * which would show the blind copies to every recipient.
 * Returns: PO_OK, PO_EHEADER (bad name; CR, LF or NUL; Bcc; a repeated
 * Content-* field), PO_EUTF8, PO_ECONTENTTYPE, PO_EENCODING, PO_EBOUNDARY,
 * PO_EINVAL, PO_ENOMEM. */
PO_EXTERN int po_part_add_header(po_part *part, const char *name,
				 const char *value);

/* po_part_set_boundary - set a multipart's boundary (1..70 RFC 2046
 * bchars, not ending in a space, without "=?", which would make the
 * parameter an encoded word); NULL generates a new random one.  A
 * boundary given here is fixed: it is never replaced, and content that
 * would forge it is re-encoded or refused (see the top of this section).
 * Returns: PO_OK, PO_EBOUNDARY, PO_EINVAL (not multipart), PO_ENOMEM. */
PO_EXTERN int po_part_set_boundary(po_part *part, const char *boundary);

/* po_part_set_generated_boundary - like po_part_set_boundary, for a
 * boundary the caller generated at random (po_boundary_new) and does not
 * depend on: it is used as given unless some content of the letter would
 * forge it, and then replaced by a fresh random one (po_part_boundary
 * then tells which).  A binding that makes its boundaries when its part
 * objects are made uses this.
 * Returns: as po_part_set_boundary. */
PO_EXTERN int po_part_set_generated_boundary(po_part *part,
					     const char *boundary);

/* Bytes po_boundary_new writes: 43 characters and a NUL. */
#define PO_BOUNDARY_SIZE 44

/* po_boundary_new - a fresh random boundary of Allegro's shape
 * ("----------_" and 32 characters from [0-9a-e]) into out, which holds
 * size >= PO_BOUNDARY_SIZE bytes.  The randomness comes from the
 * operating system (getrandom) at each call, never from a state that a
 * saved image could repeat.
 * Returns: PO_OK, PO_EINVAL (out NULL or size too small). */
PO_EXTERN int po_boundary_new(char *out, size_t size);

/* po_part_boundary - the multipart's boundary.
 * Returns: borrowed string, or NULL for a leaf part. */
PO_EXTERN const char *po_part_boundary(const po_part *part);

/* po_mime_type_for_name - the content type for a file name, looked up by
 * its extension (case-insensitive) in the built-in table: Allegro's
 * entries plus modern ones (csv, json, svg, docx, xlsx, webp, mp4, ...).
 * Returns: a static string; "application/octet-stream" when unknown. */
PO_EXTERN const char *po_mime_type_for_name(const char *filename);

/* ======================================================================
 * Letters: envelope + headers + body
 *
 * An address is "local@domain", "<local@domain>", "Name <local@domain>",
 * "\"Quoted, Name\" <local@domain>" or "local@domain (Name)" (a comment
 * beside the address becomes its display name).  The local part is a
 * dot-atom or a quoted string ("\"john doe\"@example.com").  The envelope
 * gets the addr-spec; the header keeps the display name (RFC 2047-encoded
 * when not ASCII).  A non-ASCII domain is converted to its A-label (IDNA
 * 2008, libidn2).
 *
 * A bare local part ("root", "postmaster"), as Allegro's documentation
 * allows, goes to the envelope and the header as it is: MAIL FROM:<root>;
 * no domain is invented (a local MTA such as Postfix qualifies it with
 * its own domain; a server that refuses it gives the usual refusal).
 *
 * Where a function takes recipients, the string is an RFC 5322 address
 * list: "a@x.com, Carol <c@x.com>" adds two; commas inside quoted
 * strings, comments and angle brackets do not split it.  In a list of
 * two or more every address needs a domain: a bare local part is
 * accepted only as the whole string, so "Doe, Jane <j@x.com>" (an
 * unquoted comma in a name) is PO_EADDRESS, with a message that says to
 * quote the name, never a local recipient "Doe".  Groups ("team: a@x;")
 * are refused.
 *
 * Refused with PO_EADDRESS (PO_EUTF8 for invalid UTF-8), before anything
 * is sent: a missing local part or domain, white space or a comment
 * inside the addr-spec, stray '<' '>' '(' ')' or quotes; C0 and C1
 * control characters (NEL U+0085 included), the line and paragraph
 * separators U+2028/U+2029 and the bidi embeddings, overrides and
 * isolates U+202A-202E, U+2066-2069 anywhere in an address, display
 * names included; and in local parts and domains also the bidi marks
 * U+200E, U+200F, U+061C and the invisible U+00AD (soft hyphen), U+200B,
 * U+2060 and U+FEFF, which would make two addresses look alike.  (A
 * display name is always RFC 2047-encoded when not ASCII, so the marks
 * that right-to-left names use stay allowed there.)
 */
typedef struct po_letter po_letter;

/* po_letter_new - an empty letter.  Returns: the letter, NULL on OOM. */
PO_EXTERN po_letter *po_letter_new(void);

/* po_letter_free - free the letter and its body part. */
PO_EXTERN void po_letter_free(po_letter *letter);

/* po_letter_set_from - the sender: From: header and envelope MAIL FROM.
 * One address (a list is PO_EADDRESS); a bare local part is allowed.
 * An empty string is PO_EADDRESS: the null reverse-path is asked for
 * with po_letter_set_null_sender, never by accident.
 * Returns: PO_OK, PO_EADDRESS, PO_EUTF8, PO_ENOMEM. */
PO_EXTERN int po_letter_set_from(po_letter *letter, const char *address);

/* po_letter_set_null_sender - the envelope sender is the null
 * reverse-path: MAIL FROM:<> (RFC 5321 §4.5.5: bounces, delivery
 * reports, relays forwarding a stored envelope).  Replaces a sender set
 * by po_letter_set_from (and po_letter_set_from replaces this).  Such a
 * letter has no From field of ours: one must come from a header line
 * ("From: postmaster@example.com", po_letter_add_header_line) or the
 * body part's headers, otherwise po_reader_new (and every send) fails
 * with PO_ENOSENDER; a raw letter carries its own.
 * po_letter_envelope_from then returns "".
 * Returns: PO_OK, PO_EINVAL, PO_ENOMEM. */
PO_EXTERN int po_letter_set_null_sender(po_letter *letter);

/* po_letter_add_to / _cc / _bcc - add the recipients of an address list
 * (see above: "a@x.com, Carol <c@x.com>" adds two).  To and Cc appear in
 * the header and the envelope; Bcc only in the envelope (and, for the
 * program transport, in a Bcc: header: design §4.11).  Duplicates are
 * kept, in order: to, cc, bcc.  On failure none of the list is added.
 * Returns: PO_OK, PO_EADDRESS, PO_EUTF8, PO_ENOMEM. */
PO_EXTERN int po_letter_add_to(po_letter *letter, const char *address);
PO_EXTERN int po_letter_add_cc(po_letter *letter, const char *address);
PO_EXTERN int po_letter_add_bcc(po_letter *letter, const char *address);

/* po_letter_set_subject - the Subject (UTF-8; RFC 2047-encoded as needed).
 * Returns: PO_OK, PO_EHEADER (CR, LF or NUL), PO_EUTF8, PO_ENOMEM. */
PO_EXTERN int po_letter_set_subject(po_letter *letter, const char *subject);

/* po_letter_add_reply_to - add the addresses of an address list to the
 * Reply-To header.
 * Returns: PO_OK, PO_EADDRESS, PO_EUTF8, PO_ENOMEM. */
PO_EXTERN int po_letter_add_reply_to(po_letter *letter, const char *address);

/* po_letter_add_header_line - append a raw header line "Name: value"
 * (no line ending).  Written after the generated fields, in order.  A
 * From, To, Cc, Subject, Reply-To, Date or Message-ID given here replaces
 * the generated one (the envelope stays as set), as do the body part's
 * own headers.  "MIME-Version: 1.0" stands for ours.  A Bcc line is
 * refused here (it would show the blind copies); with a MIME body, a
 * Content-* line or another MIME-Version is refused when the letter is
 * rendered (PO_EHEADER): those belong to the body part.
 * Returns: PO_OK, PO_EHEADER (no colon, bad name, CR, LF, NUL or another
 * control character but TAB, Bcc), PO_EUTF8, PO_ENOMEM. */
PO_EXTERN int po_letter_add_header_line(po_letter *letter, const char *line);

/* po_letter_set_body - the body as a MIME part tree; the letter takes
 * ownership of body (which must not have a parent) and frees any previous
 * body.  Headers are built: see po_reader_new.
 * Returns: PO_OK, PO_EINVAL. */
PO_EXTERN int po_letter_set_body(po_letter *letter, po_part *body);

/* po_letter_set_raw - the letter is pre-formatted: len octets (headers and
 * body) sent as they are, except that line endings are made CRLF.  No
 * header is built (this is what send-smtp uses).  The envelope still comes
 * from set_from/add_to/add_cc/add_bcc.  The letter keeps a copy.
 * Returns: PO_OK, PO_ENOMEM. */
PO_EXTERN int po_letter_set_raw(po_letter *letter, const void *data,
				size_t len);

/* po_letter_set_raw_reader - like po_letter_set_raw, but the octets are
 * pulled from fn(userdata, ...) while sending (once only).
 * Returns: PO_OK, PO_EINVAL (fn NULL), PO_ENOMEM. */
PO_EXTERN int po_letter_set_raw_reader(po_letter *letter, po_read_fn fn,
				       void *userdata);

/* po_letter_message_id - the letter's Message-ID ("<...>"): the one the
 * caller supplied in a header, else one generated at the letter's first
 * render and kept for later renders and sends (so a resend is
 * recognisable).  Returns: borrowed string, or NULL before the first
 * render of a letter with no Message-ID header (and for raw letters). */
PO_EXTERN const char *po_letter_message_id(const po_letter *letter);

/* po_letter_envelope_from - the envelope sender ("a@b", a bare local
 * part "root", or "" for the null sender).
 * Returns: borrowed string, or NULL if unset. */
PO_EXTERN const char *po_letter_envelope_from(const po_letter *letter);

/* po_letter_recipient_count / po_letter_recipient - the envelope
 * recipients in order (to, cc, bcc), as bare "a@b".
 * Returns: the count; the i-th recipient (borrowed), NULL if out of range. */
PO_EXTERN size_t po_letter_recipient_count(const po_letter *letter);
PO_EXTERN const char *po_letter_recipient(const po_letter *letter, size_t i);

/* po_letter_remove_recipient - remove every To, Cc and Bcc recipient
 * whose envelope address is address (ignoring ASCII case), from the
 * envelope and the To and Cc headers alike: to send a letter again
 * without the recipients a server refused (po_smtp_refused_address).
 * Returns: the number removed (0 for NULL arguments). */
PO_EXTERN size_t po_letter_remove_recipient(po_letter *letter,
					    const char *address);

/* Delivery status notifications (RFC 3461), asked of the server with the
 * letter: NOTIFY= on every RCPT (with ORCPT=rfc822;<address> for ASCII
 * addresses), RET= and ENVID= on MAIL.  A server that does not offer DSN
 * refuses the letter before MAIL with PO_EDSN (requested notifications
 * never vanish silently).  The program transport ignores them. */
#define PO_DSN_NOTIFY_NEVER 0x1
#define PO_DSN_NOTIFY_SUCCESS 0x2
#define PO_DSN_NOTIFY_FAILURE 0x4
#define PO_DSN_NOTIFY_DELAY 0x8
#define PO_DSN_RET_FULL 1 /* return the whole letter in a failure report */
#define PO_DSN_RET_HDRS 2 /* return its headers only */

/* po_letter_set_dsn_notify - when the recipients' servers report: NEVER
 * alone, or any of SUCCESS, FAILURE, DELAY; 0 clears (the server's
 * default, usually FAILURE and DELAY, without asking).
 * Returns: PO_OK, PO_EINVAL (NEVER with another, unknown bits). */
PO_EXTERN int po_letter_set_dsn_notify(po_letter *letter, unsigned notify);

/* po_letter_set_dsn_ret - PO_DSN_RET_FULL or _HDRS; 0 clears.
 * Returns: PO_OK, PO_EINVAL. */
PO_EXTERN int po_letter_set_dsn_ret(po_letter *letter, int ret);

/* po_letter_set_dsn_envid - an envelope identifier the reports quote
 * (1 to 100 printable ASCII characters, sent xtext-encoded); NULL clears.
 * Returns: PO_OK, PO_EINVAL. */
PO_EXTERN int po_letter_set_dsn_envid(po_letter *letter, const char *envid);

/* ======================================================================
 * Rendering: the wire form, pulled chunk by chunk
 *
 * The wire form of a letter with a body part is: From, To, Cc, Subject,
 * Reply-To, Date and Message-ID (the last two unless supplied), the raw
 * header lines, then MIME-Version: 1.0, the body part's own headers and
 * its Content-* fields, a blank line and the body.  Every line ends in
 * CRLF; no bare CR or LF is ever produced; nothing is dot-stuffed and no
 * terminating "." line is added.  Memory use does not depend on the size
 * of file or reader parts.
 */
typedef struct po_reader po_reader;

/* Flags for po_reader_new / po_reader_new_part. */
#define PO_RENDER_BCC 0x1 /* write a Bcc: header (program transport) */
#define PO_RENDER_LF 0x2  /* end lines with LF instead of CRLF (for Lisp
			     character streams; never for the wire) */
#define PO_RENDER_7BIT 0x4 /* no octet >= 0x80 in the output (a server
			      without 8BITMIME, RFC 6152): entities that
			      would go 8bit or binary go quoted-printable,
			      message/rfc822 ones as base64
			      application/octet-stream; headers and raw
			      letters are left as they are */

/* po_reader_new - start rendering letter.  Everything is validated here -
 * sender, recipients (at least one), headers, parts, boundaries, files
 * still the ones the parts were made from - so every input error is
 * reported before the first byte is produced.  The file parts are opened
 * here (one descriptor each, held until po_reader_free).  The letter must
 * stay alive, unchanged, until the reader is freed.
 * Returns: PO_OK and the reader in *reader_out, or PO_ENOSENDER,
 * PO_ENORCPT, PO_ENOBODY, PO_ETOOLONG, PO_ENOENT, PO_EACCES, PO_EISDIR,
 * PO_ECHANGED, PO_EBOUNDARY, PO_EBADOCTET, PO_ELINE, PO_EUTF8, PO_ESTATE
 * (a reader part already consumed), PO_ENOMEM, ... */
PO_EXTERN int po_reader_new(po_letter *letter, unsigned flags,
			    po_reader **reader_out);

/* po_reader_new_part - render one part as a top-level MIME entity
 * (MIME-Version, the part's headers, its body), as Allegro's
 * mime-part-writer does.  No sender or recipients are needed.
 * Returns: as po_reader_new. */
PO_EXTERN int po_reader_new_part(po_part *part, unsigned flags,
				 po_reader **reader_out);

/* po_reader_read - copy up to len bytes of the wire form into buf.
 * *n_out is the count; 0 means the end.  Errors while reading a file or
 * reader part (PO_EIO, PO_EREADER, PO_ECHANGED; for streamed content
 * PO_ELINE, PO_EBADOCTET, PO_EBOUNDARY, PO_EUTF8) end the render: the
 * output so far is incomplete and must not be delivered (the transports
 * abort: no final dot over SMTP, the program killed before its input
 * ends).
 * Returns: PO_OK or an error status. */
PO_EXTERN int po_reader_read(po_reader *reader, void *buf, size_t len,
			     size_t *n_out);

/* po_reader_rewind - start the render over: the next po_reader_read
 * returns the first byte again, and the same bytes follow (the same
 * Date, Message-ID and boundaries), file parts being read again from the
 * descriptors po_reader_new opened.  For two passes over one letter (a
 * signature, a size) without rendering it twice.
 * Returns: PO_OK; PO_ESTATE when the letter has a reader part or is a raw
 * reader letter (streamed octets cannot be read twice), or after the
 * render failed; PO_EINVAL (NULL). */
PO_EXTERN int po_reader_rewind(po_reader *reader);

/* po_reader_free - free the reader (closing the files it opened). */
PO_EXTERN void po_reader_free(po_reader *reader);

/* ======================================================================
 * SMTP delivery
 *
 * libcurl opens each connection (DNS, connect, proxies, TLS, STARTTLS,
 * EHLO, AUTH: CONNECT_ONLY); from MAIL on the transaction is the
 * library's own, using what the server's EHLO reply offers: PIPELINING
 * (MAIL, every RCPT and DATA in one flight: two round trips a letter;
 * without it one command at a time), SIZE (the letter's size on MAIL; a
 * letter over the server's limit is refused before MAIL, PO_ESIZE),
 * 8BITMIME (BODY=8BITMIME; without it 8-bit parts are re-encoded and
 * nothing above 127 is sent, a raw 8-bit letter is refused, PO_E8BIT),
 * SMTPUTF8, DSN (po_letter_set_dsn_*; PO_EDSN when not offered) and
 * REQUIRETLS (po_smtp_set_require_tls).
 *
 * A po_smtp handle holds a server, its TLS settings and credentials, and
 * at most one open connection.  Sending one letter: po_smtp_new, the
 * setters, po_smtp_send, po_smtp_free.  Sending many: call po_smtp_send
 * again; the connection is reused (a session).  The server, TLS settings
 * and credentials are fixed once the handle has connected: changing them
 * then returns PO_EBUSY (libcurl's reuse matching is unsafe across them).
 *
 * After po_smtp_send returns, the outcome accessors below describe it.
 * PO_OK means the server accepted the letter (a 2xx reply, read once the
 * final dot was sent); a failed QUIT afterwards does not change that.  Any
 * other status means it did not, except that po_smtp_outcome_unknown()
 * reports the one case where the final dot was sent and no reply came
 * back.  A letter aborted after its body began (a reader or file error,
 * a timeout, a reply in the middle of the body) never gets its final dot:
 * the connection is shut down under it, and it was not sent.  A refused
 * letter keeps the connection (RSET is sent before the next letter); a
 * timeout, a lost connection or a 421 closes it, and the next send opens
 * a new one.
 */
typedef struct po_smtp po_smtp;

/* Security modes for po_smtp_set_security. */
#define PO_TLS_NONE 0         /* plain SMTP (default) */
#define PO_TLS_IMPLICIT 1     /* TLS from the first byte (smtps, port 465) */
#define PO_TLS_STARTTLS 2     /* STARTTLS required: fail before any
				 credential or mail if not offered */
#define PO_TLS_STARTTLS_TRY 3 /* STARTTLS if offered, else plain text
				 (Allegro's old behaviour; opt-in only) */

/* TLS options for po_smtp_set_tls_option. */
#define PO_TLSOPT_CA_FILE 1      /* CA bundle (PEM) */
#define PO_TLSOPT_CA_PATH 2      /* directory of hashed CA certificates */
#define PO_TLSOPT_CERT 3         /* client certificate (PEM) */
#define PO_TLSOPT_KEY 4          /* client private key (PEM) */
#define PO_TLSOPT_KEY_PASSWORD 5 /* password of the key */
#define PO_TLSOPT_CRL_FILE 6     /* certificate revocation list (PEM) */
#define PO_TLSOPT_CIPHERS 7      /* TLS 1.2 cipher list (OpenSSL syntax) */
#define PO_TLSOPT_TLS13_CIPHERS 8 /* TLS 1.3 cipher suites */
#define PO_TLSOPT_MIN_VERSION 9  /* "1.0", "1.1", "1.2" (default) or "1.3" */
#define PO_TLSOPT_SERVER_NAME 10 /* name to verify and send as SNI when it
				    differs from the host connected to */

/* Trace directions. */
#define PO_TRACE_CLIENT 'C' /* a command we sent */
#define PO_TRACE_SERVER 'S' /* a reply line we received */
#define PO_TRACE_INFO 'I'   /* a remark: connecting, TLS established... */

/* Trace callback: one line, without its line ending.  AUTH payloads and
 * every client line after a 334 challenge are replaced by "<masked>";
 * body bytes are never traced.  Every command is shown, the closing QUIT
 * included.
 * Must return normally. */
typedef void (*po_trace_fn)(void *userdata, int direction,
			    const char *line, size_t len);

/* po_smtp_new - a handle with default settings: no server, plain SMTP,
 * certificate verification on, connect timeout 30 s, reply timeout 120 s,
 * stall (no progress while sending) 60 s, whole transaction 600 s.
 * Returns: the handle, NULL on OOM. */
PO_EXTERN po_smtp *po_smtp_new(void);

/* po_smtp_free - close the connection (QUIT, waiting at most the close
 * timeout, 5 s by default) and free the handle. */
PO_EXTERN void po_smtp_free(po_smtp *smtp);

/* po_smtp_set_server - the server: a host name (UTF-8; IDN converted with
 * libidn2), an IPv4 address, or an IPv6 address with or without brackets;
 * port 0 means 25 (465 with PO_TLS_IMPLICIT).
 * Returns: PO_OK, PO_EINVAL (empty, control characters, bad IDN),
 * PO_EBUSY, PO_ENOMEM. */
PO_EXTERN int po_smtp_set_server(po_smtp *smtp, const char *host,
				 unsigned port);

/* po_smtp_set_security - PO_TLS_NONE, _IMPLICIT, _STARTTLS, _STARTTLS_TRY.
 * Returns: PO_OK, PO_EINVAL, PO_EBUSY. */
PO_EXTERN int po_smtp_set_security(po_smtp *smtp, int mode);

/* po_smtp_set_verify - verify the server certificate and host name (1,
 * the default) or not (0).  Applies to implicit TLS and STARTTLS alike.
 * Returns: PO_OK, PO_EBUSY. */
PO_EXTERN int po_smtp_set_verify(po_smtp *smtp, int verify);

/* po_smtp_set_tls_option - one of PO_TLSOPT_*; value copied; NULL resets
 * to the default.
 * Returns: PO_OK, PO_EINVAL (unknown option, bad version), PO_EBUSY,
 * PO_ENOMEM. */
PO_EXTERN int po_smtp_set_tls_option(po_smtp *smtp, int option,
				     const char *value);

/* po_smtp_set_auth - user name and password, used whenever the server
 * offers AUTH.  Default mechanisms: CRAM-MD5, PLAIN, LOGIN (libcurl
 * picks the strongest the server offers); never GSSAPI unless asked.
 * Both NULL clears.  If the server offers no AUTH the letter is still
 * sent and po_smtp_credentials_unused() returns 1.
 * Returns: PO_OK, PO_EINVAL (one NULL), PO_EBUSY, PO_ENOMEM. */
PO_EXTERN int po_smtp_set_auth(po_smtp *smtp, const char *user,
			       const char *password);

/* po_smtp_set_bearer - an OAuth 2.0 bearer token for XOAUTH2 or
 * OAUTHBEARER (with the user name it was issued for).
 * Returns: PO_OK, PO_EINVAL, PO_EBUSY, PO_ENOMEM. */
PO_EXTERN int po_smtp_set_bearer(po_smtp *smtp, const char *user,
				 const char *token);

/* po_smtp_has_credentials - whether the handle was given exactly these
 * credentials: user and password (po_smtp_set_auth), or user and token
 * (po_smtp_set_bearer); all NULL means none.  Compared in constant
 * time, so a binding can check credentials given again without keeping
 * its own copy of the secret.
 * Returns: 1 if they are the same, 0 if not. */
PO_EXTERN int po_smtp_has_credentials(const po_smtp *smtp, const char *user,
				      const char *password,
				      const char *token);

/* po_smtp_set_auth_mechanisms - restrict AUTH to these mechanisms, a list
 * separated by spaces or commas: PLAIN, LOGIN, CRAM-MD5, DIGEST-MD5, NTLM,
 * XOAUTH2, OAUTHBEARER, GSSAPI, EXTERNAL.  NULL restores the default.
 * If none of them is offered the send fails with PO_EAUTHMECH.
 * Returns: PO_OK, PO_EINVAL (unknown name), PO_EBUSY, PO_ENOMEM. */
PO_EXTERN int po_smtp_set_auth_mechanisms(po_smtp *smtp, const char *mechs);

/* po_smtp_set_timeouts - in milliseconds; 0 keeps the current value, a
 * negative value means no limit.  connect: TCP + TLS handshake; reply:
 * each server reply (and QUIT on close); stall: sending makes no
 * progress; total: one whole send.  While a connection is set up (up to
 * AUTH) libcurl counts the reply timeout in whole seconds; from MAIL on
 * every timeout is kept to the millisecond, and a timeout closes the
 * connection without waiting for anything more.
 * Returns: PO_OK. */
PO_EXTERN int po_smtp_set_timeouts(po_smtp *smtp, long connect_ms,
				   long reply_ms, long stall_ms,
				   long total_ms);

/* po_smtp_set_ehlo_name - the EHLO argument.  Default: this host's fully
 * qualified name if it has one, otherwise the local address as an address
 * literal ("[192.0.2.1]", "[IPv6:2001:db8::1]"); never a bare short name.
 * Returns: PO_OK, PO_EINVAL (not a domain or address literal), PO_EBUSY,
 * PO_ENOMEM. */
PO_EXTERN int po_smtp_set_ehlo_name(po_smtp *smtp, const char *name);

/* po_smtp_set_partial_delivery - 0 (default): all or nothing, a refused
 * recipient aborts the letter (without PIPELINING before the next RCPT;
 * with it, once the flight is answered: if DATA was already accepted
 * for the other recipients the body is ended without its final dot and
 * the connection closed, so that they get nothing, never an empty
 * letter).  1: deliver to the
 * accepted recipients, and report the refused ones (po_smtp_refused_*);
 * po_smtp_send still returns PO_OK when at least one was accepted and
 * PO_ERECIPIENT when none was.  Returns: PO_OK. */
PO_EXTERN int po_smtp_set_partial_delivery(po_smtp *smtp, int on);

/* po_smtp_set_require_tls - 1: every letter carries REQUIRETLS (RFC
 * 8689): the servers that relay it must use verified TLS all the way, or
 * return it.  Refused before MAIL with PO_EREQUIRETLS unless the
 * connection is TLS with a verified certificate (not with
 * po_smtp_set_verify(s, 0)) and the server offers REQUIRETLS.  Default
 * 0.  Returns: PO_OK. */
PO_EXTERN int po_smtp_set_require_tls(po_smtp *smtp, int on);

/* po_smtp_set_keep_alive - 1 (default): after a letter the connection
 * stays open for the next po_smtp_send (a session).  0: each letter gets
 * a connection of its own, closed with QUIT before po_smtp_send returns
 * (Allegro's model); the handle itself can still send any number of
 * letters, so a caller can keep one per server instead of making a new
 * one per letter.  May be changed between sends.  Returns: PO_OK. */
PO_EXTERN int po_smtp_set_keep_alive(po_smtp *smtp, int on);

/* po_smtp_set_trace - receive the SMTP dialogue (see po_trace_fn); NULL
 * turns it off.  Returns: PO_OK. */
PO_EXTERN int po_smtp_set_trace(po_smtp *smtp, po_trace_fn fn,
				void *userdata);

/* po_smtp_send - deliver letter.  Renders it (po_reader_new's checks come
 * first, before connecting), opens or reuses the connection, checks what
 * the server offers (SMTPUTF8, SIZE, 8BITMIME, DSN, REQUIRETLS: a refusal
 * there sends nothing and keeps the connection), and runs MAIL, RCPT
 * (each recipient), DATA and the message, pipelined when the server
 * offers PIPELINING.  A reused connection found stale before the message
 * went out (closed, or a 421) is retried once on a fresh one; never after
 * DATA's 354.
 * Returns: PO_OK when the server accepted the letter; otherwise the
 * failure (PO_EDNS, PO_ECONNECT, PO_ETLS, PO_ECERT, PO_ESTARTTLS,
 * PO_EAUTH, PO_EAUTHMECH, PO_EGREETING, PO_EHELO, PO_ESENDER,
 * PO_ERECIPIENT, PO_EDATA, PO_EMESSAGE, PO_ETIMEOUT, PO_ECONNLOST,
 * PO_EPROTOCOL (a reply that does not fit its command, more replies than
 * commands, a reply in the middle of the message), PO_ESMTPUTF8,
 * PO_ESIZE, PO_E8BIT, PO_EDSN, PO_EREQUIRETLS, PO_EREADER, PO_EIO, an
 * input error, ...). */
PO_EXTERN int po_smtp_send(po_smtp *smtp, po_letter *letter);

/* Results of po_smtp_vrfy. */
#define PO_VRFY_OK 1       /* 250 or 251: the address is valid */
#define PO_VRFY_CANNOT 2   /* 252: cannot verify, but will try */
#define PO_VRFY_UNKNOWN 3  /* 550: no such mailbox */
#define PO_VRFY_OTHER 4    /* any other reply (502 not implemented, ...) */

/* po_smtp_vrfy - send VRFY what (a local part or an address) and classify
 * the reply into *result_out (PO_VRFY_*); the reply code is in
 * po_smtp_reply_code().  The connection stays open for the next VRFY or
 * letter (unless keep-alive is off).
 * Returns: PO_OK when a reply was read, or a connection error. */
PO_EXTERN int po_smtp_vrfy(po_smtp *smtp, const char *what, int *result_out);

/* po_smtp_close - close the connection now (QUIT, bounded by the close
 * timeout).  The handle keeps its settings but can no longer change them
 * and can send again on a new connection.  Returns: PO_OK. */
PO_EXTERN int po_smtp_close(po_smtp *smtp);

/* Outcome of the last po_smtp_send / po_smtp_vrfy on this handle. */

/* po_smtp_reply_code - the reply code that decided the outcome (250 on
 * success, the refusing code on failure), 0 if there was none. */
PO_EXTERN int po_smtp_reply_code(const po_smtp *smtp);

/* po_smtp_enhanced_code - the RFC 3463 enhanced status code of that
 * reply ("5.1.1"), "" if it had none.  Borrowed. */
PO_EXTERN const char *po_smtp_enhanced_code(const po_smtp *smtp);

/* po_smtp_reply - the full text of that reply, lines joined with "\n"
 * ("550 5.1.1 <x@y>: Recipient address rejected"), "" if none.  On
 * success, the reply to the final dot ("250 2.0.0 Ok: queued as 4BXF").
 * Borrowed. */
PO_EXTERN const char *po_smtp_reply(const po_smtp *smtp);

/* po_smtp_command - the command the reply answered ("RCPT TO:<x@y>",
 * "DATA", "." for the end of the message, "CONNECT", "EHLO ...",
 * "STARTTLS", "AUTH PLAIN <masked>"), "" if none.  Borrowed. */
PO_EXTERN const char *po_smtp_command(const po_smtp *smtp);

/* po_smtp_errmsg - one line describing the failure, with the command and
 * the server's reply ("recipient refused: RCPT TO:<x@y>: 550 5.1.1 ..."),
 * "" after success.  Never contains a secret.  Borrowed. */
PO_EXTERN const char *po_smtp_errmsg(const po_smtp *smtp);

/* po_smtp_refused_count / _address / _code / _reply - every recipient the
 * server refused during the last send, with its reply.  Borrowed; NULL
 * (or 0) when i is out of range. */
PO_EXTERN size_t po_smtp_refused_count(const po_smtp *smtp);
PO_EXTERN const char *po_smtp_refused_address(const po_smtp *smtp,
					      size_t i);
PO_EXTERN int po_smtp_refused_code(const po_smtp *smtp, size_t i);
PO_EXTERN const char *po_smtp_refused_reply(const po_smtp *smtp, size_t i);

/* po_smtp_message_id - the Message-ID of the last letter sent. Borrowed;
 * "" for raw letters. */
PO_EXTERN const char *po_smtp_message_id(const po_smtp *smtp);

/* po_smtp_credentials_unused - 1 if credentials were set but the server
 * offered no AUTH, so the last letter went unauthenticated. */
PO_EXTERN int po_smtp_credentials_unused(const po_smtp *smtp);

/* po_smtp_outcome_unknown - 1 if the last send failed after the whole
 * message and its final dot were sent, with no reply (timeout or lost
 * connection): the server may have accepted it.  Do not resend blindly. */
PO_EXTERN int po_smtp_outcome_unknown(const po_smtp *smtp);

/* po_smtp_connection_reused - 1 if the last send ran on a connection kept
 * from an earlier one. */
PO_EXTERN int po_smtp_connection_reused(const po_smtp *smtp);

/* ======================================================================
 * Queued letters: po_pool
 *
 * A pool sends the letters submitted to it over its own connection(s) to
 * one server, driven by po_pool_run from the calling thread.  With
 * PIPELINING each letter costs one round trip: its MAIL, RCPT and DATA
 * go in the same flight as the previous letter's end of data.  Today a
 * pool has one connection.
 *
 * Outcomes are exact.  A letter completes once: sent (PO_OK), refused
 * (the refusal's status and reply), or failed.  po_result_outcome_unknown
 * is 1 only for a letter whose end of data went out with no reply (the
 * server may have it: never resend blindly).  A letter whose commands
 * went out behind a failure on the connection was not delivered: it is
 * queued again, on a fresh connection (at most twice), never reported as
 * sent.  A letter refused by the server leaves the connection open (RSET
 * rides with the next letter's MAIL); a 421 or a lost connection opens a
 * new one for the letters still queued.
 *
 * Not thread-safe: one pool is used by one thread at a time.
 */
typedef struct po_pool po_pool;
typedef struct po_result po_result;

/* po_pool_new - a pool with the settings of config (server, TLS,
 * credentials, timeouts, trace, partial delivery, REQUIRETLS: copied;
 * config can be freed or reused at once).  Keep-alive is always on.
 * Returns: the pool, NULL on OOM or when config has no server
 * (po_last_error says why). */
PO_EXTERN po_pool *po_pool_new(const po_smtp *config);

/* po_pool_free - close the connection (QUIT, bounded by the close
 * timeout) and free the pool with every letter not yet taken from
 * po_pool_next (the letters themselves stay the caller's). */
PO_EXTERN void po_pool_free(po_pool *pool);

/* po_pool_submit - queue letter.  It is rendered and checked now (every
 * input error is returned here, before anything is sent) and borrowed:
 * it must stay alive and unchanged until its result has come out of
 * po_pool_next.  tag is the caller's, returned with the result.
 * Returns: PO_OK, an input error (as po_reader_new), PO_ENOMEM. */
PO_EXTERN int po_pool_submit(po_pool *pool, po_letter *letter, void *tag);

/* po_pool_run - send: run the connection until every submitted letter
 * has completed, or timeout_ms (<= 0: no limit) has passed; each
 * letter's own timeouts (the handle's reply, stall and total timeouts)
 * apply in any case.  Completed letters wait in po_pool_next.
 * Returns: PO_OK when nothing is left to send, PO_ETIMEOUT when
 * timeout_ms ran out first (call again to go on). */
PO_EXTERN int po_pool_run(po_pool *pool, long timeout_ms);

/* po_pool_pending - letters submitted and not yet completed. */
PO_EXTERN size_t po_pool_pending(const po_pool *pool);

/* po_pool_next - the next completed letter, in completion order, or NULL.
 * The caller owns it: po_result_free. */
PO_EXTERN po_result *po_pool_next(po_pool *pool);

/* po_result_free - free a result (not its letter). */
PO_EXTERN void po_result_free(po_result *result);

/* A result's accessors: the tag and letter given to po_pool_submit; the
 * status (PO_OK when the server accepted the letter) and the outcome's
 * details, as the po_smtp_* accessors of the same names describe them.
 * Strings are borrowed from the result ("" when absent). */
PO_EXTERN void *po_result_tag(const po_result *result);
PO_EXTERN po_letter *po_result_letter(const po_result *result);
PO_EXTERN int po_result_status(const po_result *result);
PO_EXTERN int po_result_reply_code(const po_result *result);
PO_EXTERN const char *po_result_enhanced_code(const po_result *result);
PO_EXTERN const char *po_result_reply(const po_result *result);
PO_EXTERN const char *po_result_command(const po_result *result);
PO_EXTERN const char *po_result_errmsg(const po_result *result);
PO_EXTERN const char *po_result_message_id(const po_result *result);
PO_EXTERN size_t po_result_refused_count(const po_result *result);
PO_EXTERN const char *po_result_refused_address(const po_result *result,
						size_t i);
PO_EXTERN int po_result_refused_code(const po_result *result, size_t i);
PO_EXTERN const char *po_result_refused_reply(const po_result *result,
					      size_t i);
PO_EXTERN int po_result_outcome_unknown(const po_result *result);

/* ======================================================================
 * The program transport: pipe the letter to a program (sendmail -t)
 *
 * The program gets the rendered letter on its standard input: CRLF line
 * endings, no dot-stuffing, no terminating "." line, and a Bcc: header
 * when the letter has Bcc recipients (sendmail -t reads and removes it).
 * It runs without a shell (argv form) or through /bin/sh -c (shell form),
 * in a process group of its own, with SIGPIPE and the signal mask reset
 * to defaults and no descriptor of the caller's but its stdin, stdout and
 * stderr (all others are closed before exec).  SIGPIPE never reaches the
 * calling process.  Its standard output and standard error are collected
 * (the first 64 KiB of each).
 *
 * A program must never read a clean end of a letter that was not sent
 * whole (sendmail would queue the truncated letter).  On every failure
 * after it started - a render error, a timeout, po_program_kill - its
 * process group is killed with SIGKILL before its stdin is closed.  If
 * the calling process is itself killed by SIGKILL, the program gets
 * SIGKILL from the kernel too (Linux PR_SET_PDEATHSIG) as a best effort:
 * not for set-user-ID or set-group-ID programs, which clear it.
 *
 * With sendmail -t the header is the envelope: its To, Cc and Bcc fields
 * (Resent-To, -Cc, -Bcc when any is present) say who receives the
 * letter.  So header lines of the caller's that replace the generated
 * ones (po_letter_add_header_line, the body part's headers) must name
 * exactly the letter's recipients: an address that is not one of them,
 * or a recipient that no field names any more, is PO_EENVELOPE, before
 * the program runs.  (Raw letters, po_letter_set_raw, go as given.)
 */
typedef struct po_program po_program;

/* po_program_new_argv - run argv[0] (searched in PATH) with arguments
 * argv[1..], argv NULL-terminated; the vector is copied.
 * Returns: the handle, NULL on OOM or if argv or argv[0] is NULL/empty. */
PO_EXTERN po_program *po_program_new_argv(const char *const *argv);

/* po_program_new_shell - run command through /bin/sh -c.
 * Returns: the handle, NULL on OOM or if command is NULL. */
PO_EXTERN po_program *po_program_new_shell(const char *command);

/* po_program_free - free the handle.  A program still registered as
 * running (its po_program_send left by a non-local exit, which bindings
 * must not do, but an interrupt may) is killed and reaped first. */
PO_EXTERN void po_program_free(po_program *program);

/* po_program_set_timeout - bound the program's whole run: if it has not
 * exited ms milliseconds after it started, its process group is killed
 * with SIGKILL (stdin still open) and reaped, and po_program_send returns
 * PO_ETIMEOUT.  The default is 600000 (10 minutes, the bound of a whole
 * SMTP send); 0 or less waits forever.
 * Returns: PO_OK, PO_EINVAL (NULL). */
PO_EXTERN int po_program_set_timeout(po_program *program, long ms);

/* po_program_kill - kill the program po_program_send is running for this
 * handle, if any (SIGKILL to its process group, its stdin still open);
 * po_program_send then returns PO_EPROGRAM.  Async-signal-safe and
 * callable from any thread: for a signal handler that must not leave a
 * program to act on half a letter (the postoffice CLI's), or a binding's
 * clean-up when a send is abandoned.  The handle stays usable.
 * Returns: 1 if a program was signalled, 0 if none was running. */
PO_EXTERN int po_program_kill(po_program *program);

/* po_program_send - render letter and pipe it to a new run of the program,
 * then wait for it (no zombie is left behind).
 * Returns: PO_OK if it read the whole letter and exited with status 0;
 * PO_ENOPROGRAM if it could not be executed; PO_EPROGRAM if it exited
 * non-zero, was killed by a signal, or exited without reading all of its
 * input; PO_ETIMEOUT; PO_EENVELOPE (see above); or a render error
 * (reported before the program is started when it is an input error). */
PO_EXTERN int po_program_send(po_program *program, po_letter *letter);

/* po_program_exit_status - the exit status of the last run (0..255), or
 * -N if it was killed by signal N, or -1000 if it did not run. */
PO_EXTERN int po_program_exit_status(const po_program *program);

/* po_program_stderr / po_program_stdout - what the last run wrote (at
 * most 64 KiB each), NUL-terminated; *len_out (may be NULL) gets the
 * length.  Borrowed. */
PO_EXTERN const char *po_program_stderr(const po_program *program,
					size_t *len_out);
PO_EXTERN const char *po_program_stdout(const po_program *program,
					size_t *len_out);

/* po_program_errmsg - one line describing the last failure, "" after
 * success.  Borrowed. */
PO_EXTERN const char *po_program_errmsg(const po_program *program);

/* ======================================================================
 * Reading letters: a MIME parser
 *
 * po_entity_parse reads a letter (or any MIME entity) back into a tree
 * of entities: the header fields (unfolded, and RFC 2047-decoded), the
 * content type and its parameters (RFC 2231 continuations and charsets
 * decoded), the disposition, file name and Content-ID, and the body
 * (base64 and quoted-printable decoded; text parts also converted from
 * their charset to UTF-8 with iconv).  It is the reader behind Lisp's
 * captured letters and behind the preview page.
 *
 * It is lenient: nothing in the octets makes it fail.  Whatever cannot
 * be read as it should (a line of the header that is not a field, a
 * multipart whose closing boundary is missing, an unknown charset or
 * transfer encoding, bad base64, multiparts nested deeper than 50) is
 * read as well as it can be and described by the entity's problems
 * (po_entity_problem).  A multipart's children are its body parts,
 * without preamble and epilogue; a message/rfc822 part is a leaf (its
 * body is the attached letter, to parse again if wanted).
 *
 * Every string returned is UTF-8 (ill-formed octets read as U+FFFD),
 * NUL-terminated and borrowed from the tree: it stays valid until
 * po_entity_free on the root.  Children are borrowed too.  The tree is
 * read-only, so several threads may read one tree at once.
 */
typedef struct po_entity po_entity;

/* po_entity_parse - read len octets (a letter as it went on the wire, or
 * any MIME entity: a header, an empty line, a body) into a tree.  The
 * octets are copied where needed; the caller keeps them.  Line endings
 * may be CRLF or LF.
 * Returns: PO_OK and the root in *entity_out (free with po_entity_free),
 * or PO_EINVAL (octets NULL with len > 0, entity_out NULL), PO_ENOMEM. */
PO_EXTERN int po_entity_parse(const void *octets, size_t len,
			      po_entity **entity_out);

/* po_entity_free - free a tree returned by po_entity_parse (the root
 * only: never a child). */
PO_EXTERN void po_entity_free(po_entity *root);

/* po_entity_part_count / po_entity_part - the children of a multipart,
 * in order (0 for a leaf).  Returns: the i-th child (borrowed), NULL if
 * i is out of range. */
PO_EXTERN size_t po_entity_part_count(const po_entity *entity);
PO_EXTERN const po_entity *po_entity_part(const po_entity *entity,
					  size_t i);

/* po_entity_header_count / _header_name / _header_raw / _header_text -
 * the header fields in order.  name: as written ("Subject").  raw: the
 * value unfolded (each line break before white space removed) and
 * without surrounding white space, encoded words left as they are.
 * text: the same with its RFC 2047 encoded words decoded (a malformed
 * one, or one in an unknown charset, is left as it is).  Borrowed; NULL
 * if i is out of range. */
PO_EXTERN size_t po_entity_header_count(const po_entity *entity);
PO_EXTERN const char *po_entity_header_name(const po_entity *entity,
					    size_t i);
PO_EXTERN const char *po_entity_header_raw(const po_entity *entity,
					   size_t i);
PO_EXTERN const char *po_entity_header_text(const po_entity *entity,
					    size_t i);

/* po_entity_header - the decoded value (as po_entity_header_text) of the
 * first field named name (any case).  Returns: borrowed, or NULL if
 * there is none. */
PO_EXTERN const char *po_entity_header(const po_entity *entity,
				       const char *name);

/* po_entity_type - the content type, "type/subtype" in lower case,
 * without parameters.  The default when there is no (valid) Content-Type
 * is "text/plain" ("message/rfc822" inside a multipart/digest).
 * Returns: borrowed, never NULL. */
PO_EXTERN const char *po_entity_type(const po_entity *entity);

/* po_entity_param - the Content-Type parameter name (any case), its
 * value unquoted and decoded (RFC 2231 name*= and name*0*= sections
 * joined and converted from their charset; RFC 2047 words in a plain
 * file name decoded).  An RFC 2231 value beats a plain one of the same
 * name.  Returns: borrowed, or NULL if there is none. */
PO_EXTERN const char *po_entity_param(const po_entity *entity,
				      const char *name);

/* po_entity_disposition - the Content-Disposition value in lower case
 * ("inline", "attachment"), or NULL if there is none.
 * po_entity_disposition_param - one of its parameters, decoded as by
 * po_entity_param.  Borrowed. */
PO_EXTERN const char *po_entity_disposition(const po_entity *entity);
PO_EXTERN const char *po_entity_disposition_param(const po_entity *entity,
						  const char *name);

/* po_entity_filename - the file name: the Content-Disposition filename,
 * else the Content-Type name, else NULL.  As the letter gave it: it may
 * hold '/' or "..", so never use it as a path.  Borrowed. */
PO_EXTERN const char *po_entity_filename(const po_entity *entity);

/* po_entity_content_id - the Content-ID without its angle brackets
 * ("logo@x"), or NULL.  Borrowed. */
PO_EXTERN const char *po_entity_content_id(const po_entity *entity);

/* po_entity_encoding - the Content-Transfer-Encoding in lower case
 * ("7bit" when there is none).  Borrowed, never NULL. */
PO_EXTERN const char *po_entity_encoding(const po_entity *entity);

/* po_entity_body - the body: for a leaf, its octets transfer-decoded
 * (base64, quoted-printable; other encodings as they are, with the line
 * endings they had); for a multipart, its body undecoded, preamble and
 * epilogue included.  *len_out gets the length (the octets may hold
 * NULs).  Returns: borrowed, never NULL (an empty body is ""). */
PO_EXTERN const void *po_entity_body(const po_entity *entity,
				     size_t *len_out);

/* po_entity_text - for a text/... leaf, its body converted from its
 * charset (US-ASCII when none is given) to UTF-8, line endings as they
 * were; *len_out gets the length.  US-ASCII text with 8-bit octets is
 * read as UTF-8; a charset iconv does not know is read as UTF-8 too, and
 * noted among the problems.  Returns: borrowed; NULL (and *len_out 0)
 * for an entity that is not a text leaf. */
PO_EXTERN const char *po_entity_text(const po_entity *entity,
				     size_t *len_out);

/* po_entity_is_attachment - 0 if the leaf is part of the letter's text
 * (text/..., not Content-Disposition attachment, no file name), 1 for
 * any other leaf (attachments, inline images), 0 for a multipart with
 * parts.  (A multipart whose parts cannot be found - no boundary
 * parameter, or a boundary that never occurs - is a leaf: 1.) */
PO_EXTERN int po_entity_is_attachment(const po_entity *entity);

/* po_entity_problem_count / po_entity_problem - what could not be read
 * as it should in this entity (not its children), one English sentence
 * each (unknown charset "x-foo": the text is shown as UTF-8).
 * Returns: borrowed; NULL if i is out of range. */
PO_EXTERN size_t po_entity_problem_count(const po_entity *entity);
PO_EXTERN const char *po_entity_problem(const po_entity *entity, size_t i);

/* po_decode_header - text (len octets, PO_ZERO_TERMINATED for strlen),
 * a header field value, with its RFC 2047 encoded words decoded into
 * UTF-8: white space between adjacent encoded words dropped, adjacent
 * words in one charset decoded together, malformed words and words in
 * unknown charsets left as they are; ill-formed UTF-8 outside the words
 * read as U+FFFD.
 * Returns: PO_OK and a new string in *text_out (free with po_free), or
 * PO_EINVAL (text NULL with len > 0, text_out NULL), PO_ENOMEM. */
PO_EXTERN int po_decode_header(const char *text, size_t len,
			       char **text_out);

/* po_free - free memory the library allocated for the caller (the
 * strings of po_decode_header).  Accepts NULL. */
PO_EXTERN void po_free(void *p);

/* ======================================================================
 * Previewing letters: an HTML page of a letter as its reader will see it
 *
 * po_preview_write parses a letter's octets with po_entity_parse and
 * writes, into a fresh private directory (mode 0700, made like mkdtemp),
 * a self-contained page index.html and the letter's parts as files:
 * - the envelope (MAIL FROM, RCPT TO, and as Bcc the recipients no To or
 *   Cc header names) when one was given, and the decoded From, To, Cc,
 *   Reply-To, Subject, Date and Message-ID;
 * - the HTML part in a sandboxed iframe (srcdoc; no scripts, no same
 *   origin, no forms, no popups) under a Content-Security-Policy that
 *   blocks scripts and every remote load (images only from data: URLs;
 *   cid: references to inline images of the letter become data: URLs);
 * - the text part, and the raw source, each in a tab;
 * - every other part (attachments, inline images, further text parts)
 *   with its type, its size and a link to its saved file;
 * - what could not be read (the entities' problems), in a box at the top.
 * The page has no scripts and loads nothing from outside its directory.
 * Saved files get names the page makes up ("part-3.pdf": the extension
 * is kept only from a short list of passive types, else ".bin"), created
 * with O_EXCL | O_NOFOLLOW inside the fresh directory, so no name from
 * the letter can reach another place; the page shows the original names.
 * Also saved: letter.eml (the octets as given).
 *
 * Bad input is not an error: a file that is not a letter, a truncated
 * one or one in an unknown charset still gets a page that shows what can
 * be shown and says what could not.  The errors are those of writing.
 */
typedef struct po_preview po_preview;

/* po_preview_new - a preview writer: no envelope, pages under $TMPDIR
 * (or /tmp).  Returns: the handle, NULL on OOM. */
PO_EXTERN po_preview *po_preview_new(void);

/* po_preview_free - free the handle (the files it wrote stay). */
PO_EXTERN void po_preview_free(po_preview *preview);

/* po_preview_set_envelope_from / po_preview_add_recipient - the envelope
 * the letter was (or would have been) sent with, as shown on the page:
 * MAIL FROM (NULL: none) and each RCPT TO, in order.  Copied.  Any text
 * is accepted (it is only shown).
 * Returns: PO_OK, PO_EINVAL (recipient NULL), PO_ENOMEM. */
PO_EXTERN int po_preview_set_envelope_from(po_preview *preview,
					   const char *address);
PO_EXTERN int po_preview_add_recipient(po_preview *preview,
				       const char *address);

/* po_preview_read_envelope - set the envelope from len octets in the
 * form of the .envelope files Lisp's (:file ...) transport writes: a
 * "MAIL FROM:<a@b>" line and "RCPT TO:<c@d>" lines (CRLF or LF); other
 * lines are ignored.  Replaces the envelope set before.
 * Returns: PO_OK, PO_EINVAL (text NULL with len > 0), PO_ENOMEM. */
PO_EXTERN int po_preview_read_envelope(po_preview *preview, const char *text,
				       size_t len);

/* po_preview_set_directory - where the fresh directory of each page is
 * made (it must exist); NULL restores the default ($TMPDIR, else /tmp).
 * Copied.  Returns: PO_OK, PO_ENOMEM. */
PO_EXTERN int po_preview_set_directory(po_preview *preview,
				       const char *directory);

/* po_preview_write - write the page of the letter in len octets (see
 * above) into a new directory "postoffice-preview-XXXXXX" under the
 * directory set.  po_preview_path() then names its index.html.
 * Returns: PO_OK; PO_EINVAL (octets NULL with len > 0); PO_ENOENT,
 * PO_EACCES or PO_EIO (the directory could not be made or a file not
 * written: po_last_error() says which and why); PO_ENOMEM.  On failure
 * the directory is removed again. */
PO_EXTERN int po_preview_write(po_preview *preview, const void *octets,
			       size_t len);

/* po_preview_write_file - po_preview_write of the letter in the file at
 * path.  When no envelope was set and path ends in ".eml", the envelope
 * is read from the file beside it with ".envelope" instead (as the
 * (:file ...) transport writes them), if there is one.
 * Returns: as po_preview_write, and PO_ENOENT, PO_EACCES, PO_EISDIR or
 * PO_EIO for the letter's file. */
PO_EXTERN int po_preview_write_file(po_preview *preview, const char *path);

/* po_preview_path - the index.html written by the last successful
 * po_preview_write(_file).  Returns: borrowed, or NULL before one. */
PO_EXTERN const char *po_preview_path(const po_preview *preview);

/* po_preview_open - open the page at path in the user's browser, in the
 * background: the first command of $BROWSER (a list separated by ':',
 * each run through /bin/sh -c, with "%s" replaced by the path or the
 * path added as its last argument), else xdg-open from PATH.  Never
 * waits for the browser; leaves no zombie; its output goes to
 * /dev/null.
 * Returns: PO_OK when a browser was started, PO_ENOPROGRAM when there is
 * none ($BROWSER unset or empty and no xdg-open), PO_EINVAL (path NULL),
 * PO_ENOMEM. */
PO_EXTERN int po_preview_open(const char *path);

#ifdef __cplusplus
}
#endif

#endif /* POSTOFFICE_H */
