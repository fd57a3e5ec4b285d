/* po_private.h - definitions shared by the library's files (not
 * installed). */
#ifndef PO_PRIVATE_H
#define PO_PRIVATE_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"
#include "header.h"
#include "postoffice.h"

/* Record a one-line explanation for po_last_error() and return status.
 * fmt may be NULL (the status's own text is used).  Never pass secrets. */
int po__fail(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------------------
 * Parts */

enum po__source {
	PO__SRC_TEXT,   /* octets in memory, given as text (po_part_new_text) */
	PO__SRC_BYTES,  /* octets in memory (po_part_new_bytes) */
	PO__SRC_FILE,   /* a file read while rendering */
	PO__SRC_READER, /* a callback pulled while rendering */
	PO__SRC_MULTI   /* a multipart: children only */
};

/* Transfer encodings; PO__ENC_DEFAULT means "choose" (see render.c). */
enum po__encoding {
	PO__ENC_DEFAULT,
	PO__ENC_7BIT,
	PO__ENC_8BIT,
	PO__ENC_BINARY,
	PO__ENC_BASE64,
	PO__ENC_QP
};

/* A list of (name, value) string pairs, both owned. */
typedef struct po__pairs {
	char **name;
	char **value;
	size_t n, cap;
} po__pairs;

int po__pairs_add(po__pairs *l, const char *name, const char *value);
void po__pairs_free(po__pairs *l);
/* The value of the first pair whose name matches (case-insensitive), or
 * NULL. */
const char *po__pairs_get(const po__pairs *l, const char *name);

struct po_part {
	enum po__source src;
	po_part *parent;
	po_part **child;
	size_t nchild, capchild;

	char *type;        /* "text/plain" */
	char *charset;     /* or NULL */
	po__pairs params;  /* further Content-Type parameters */
	enum po__encoding encoding;
	int disposition;   /* PO_DISPOSITION_* */
	char *filename;    /* or NULL */
	char *id;          /* "<...>" or NULL */
	char *description; /* or NULL */
	po__pairs headers; /* extra header fields */
	char *boundary;    /* multiparts only */
	int boundary_generated; /* ours to replace if content would forge it */
	int encoding_fixed;     /* from a Content-Transfer-Encoding header:
				   applied or refused, never replaced */
	int type_given;         /* a Content-Type header was given */
	int text_like;          /* TEXT, or a text file/reader body: encoding
				   chosen as for text */
	int check_utf8;         /* octets must be UTF-8 (text file/reader) */
	unsigned height;        /* levels below this part (0 for a leaf) */

	unsigned char *data; /* TEXT, BYTES */
	size_t len;
	char *path;          /* FILE */
	dev_t dev;           /* FILE: identity when the part was made */
	ino_t ino;
	off_t size;
	struct timespec ctime; /* an inode number can be reused */
	po_read_fn fn;       /* READER */
	void *userdata;
	int consumed;        /* READER: already read once */
};

/* 1 if the content type is text/... or message/rfc822 (Allegro's textp),
 * which decides line-break handling in quoted-printable. */
int po__part_textual(const po_part *p);

/* Open the file of a FILE part for a render: without blocking, close-on-
 * exec, and only if it is still the regular file of the size the part was
 * made from (PO_ENOENT, PO_EACCES, PO_EISDIR, PO_ECHANGED).  The
 * descriptor is left blocking; *mtime_out gets its modification time. */
int po__file_open(const po_part *p, int *fd_out, struct timespec *mtime_out);

/* Generate a random boundary of Allegro's shape into out (44 bytes). */
void po__boundary_new(char out[44]);

/* The levels of the tree at and above p (1 for a root). */
unsigned po__part_level(const po_part *p);

/* ---------------------------------------------------------------------
 * Letters */

typedef struct po__addrs {
	po__addr *v;
	size_t n, cap;
} po__addrs;

struct po_letter {
	po__addr from;             /* spec "" for the null sender */
	int has_from;
	int null_sender;           /* MAIL FROM:<>, and no From of ours */
	po__addrs to, cc, bcc, reply_to;
	char *subject;             /* or NULL */
	char **lines;              /* raw header lines */
	size_t nlines, caplines;
	po_part *body;             /* or NULL */
	unsigned char *raw;        /* pre-formatted letter, or NULL */
	size_t rawlen;
	int is_raw;                /* set_raw or set_raw_reader was called */
	po_read_fn raw_fn;
	void *raw_userdata;
	int raw_consumed;
	int smtputf8;              /* some address has a UTF-8 local part */
	char *message_id;          /* supplied or generated, "<...>" */
	int message_id_generated;  /* message_id was made by us */
	/* DSN (RFC 3461), set by po_letter_set_dsn_* (dsn.c) */
	unsigned dsn_notify;       /* PO_DSN_NOTIFY_* bits, 0: not asked */
	int dsn_ret;               /* PO_DSN_RET_*, 0: not asked */
	char dsn_envid[101];       /* "" when not asked */
};

/* render.c, for the SMTP transaction: 1 if the rendered letter may hold
 * octets >= 0x80 (BODY=8BITMIME); and an upper bound of its rendered size
 * in *out (returns 1), or 0 when it cannot be known before it is read (a
 * reader part or a raw reader letter). */
int po__reader_8bit(const po_reader *r);
int po__reader_size_bound(const po_reader *r, unsigned long long *out);

/* The envelope recipients in order to, cc, bcc; i < count. */
const char *po__letter_rcpt(const po_letter *l, size_t i);

/* Fill n random bytes (getrandom, never blocking after boot). */
void po__random(void *buf, size_t n);

#endif
