/* session.h - what session.c (libcurl's side: settings, connection
 * set-up, raw I/O) and transaction.c (ours: MAIL, RCPT, DATA, RSET, QUIT,
 * VRFY, pipelining, the queue) share.  Not installed.
 *
 * A po__config is a server's settings (po_smtp's setters fill one; a
 * po_pool copies one).  A po__sess is one connection: libcurl runs the
 * set-up with CONNECT_ONLY (greeting, EHLO, STARTTLS, TLS, EHLO, AUTH)
 * through a multi handle and hands it over; from then on we speak through
 * curl_easy_send/curl_easy_recv.  A po__result is the outcome of one
 * letter (or VRFY), as the po_smtp_* and po_result_* accessors show it.
 */
#ifndef PO_SESSION_H
#define PO_SESSION_H

#include <curl/curl.h>

#include "po_private.h"

#define PO__NTLSOPT 11
#define PO__REPLY_MAX 4096 /* keep at most this much of one reply's text */

typedef struct po__config {
	char *host; /* for the URL: A-label, or [IPv6] */
	unsigned port;
	int security;
	int verify;
	char *tlsopt[PO__NTLSOPT];
	char *user, *password, *bearer;
	char *mechs; /* CURLOPT_LOGIN_OPTIONS, or NULL for the default */
	long connect_ms, reply_ms, stall_ms, total_ms, close_ms;
	char *ehlo; /* NULL: computed at the first connection */
	int partial;
	int one_shot;    /* keep-alive off */
	int require_tls; /* REQUIRETLS (RFC 8689) on every letter */
	po_trace_fn trace;
	void *trace_ud;
} po__config;

void po__config_init(po__config *c);
/* A deep copy (secrets included); 0 or -1 on OOM (dst then empty). */
int po__config_copy(po__config *dst, const po__config *src);
void po__config_free(po__config *c);

/* What the last EHLO offered. */
#define PO__CAP_PIPELINING 0x001
#define PO__CAP_SIZE 0x002
#define PO__CAP_8BITMIME 0x004
#define PO__CAP_SMTPUTF8 0x008
#define PO__CAP_DSN 0x010
#define PO__CAP_REQUIRETLS 0x020
#define PO__CAP_CHUNKING 0x040
#define PO__CAP_AUTH 0x080
#define PO__CAP_STARTTLS 0x100
#define PO__CAP_ENHANCED 0x200

/* Where a dialogue is: the command a reply answers. */
enum po__step {
	PO__ST_CONNECT, /* before the greeting */
	PO__ST_GREETING,
	PO__ST_EHLO,
	PO__ST_HELO,
	PO__ST_STARTTLS,
	PO__ST_AUTH,
	PO__ST_OTHER
};

typedef struct po__refusal {
	char *address;
	int code;
	char *reply;
} po__refusal;

typedef struct po__result {
	int status;
	int code;          /* the reply that decided it, 0 for none */
	char enhanced[16]; /* its RFC 3463 code, "" for none */
	char *reply;       /* its text, lines joined with \n */
	char *command;     /* the command it answered */
	char *errmsg;
	char *message_id;
	po__refusal *refused;
	size_t nrefused, caprefused;
	int creds_unused, unknown, reused;
} po__result;

void po__result_clear(po__result *r); /* frees the contents, zeroes */
int po__result_refuse(po__result *r, const char *address, int code,
		      const char *reply);
/* Record the deciding reply (code 0: none) and the command. */
void po__result_reply(po__result *r, const char *command, int code,
		      const char *enhanced, const char *reply);
/* Set the outcome to status with its one-line message: "what: command:
 * reply (detail)".  where names a phase for failures without a command.
 * Returns status (po_last_error() gets the message too). */
int po__result_fail(po__result *r, int status, const char *where,
		    const char *detail);

/* The RFC 3463 code of a reply ("5.1.1"), read from its first line
 * only; "" when it has none. */
void po__enhanced_code(const char *reply, int code, char out[16]);

/* One connection. */
typedef struct po__sess {
	const po__config *cfg;
	CURLM *multi; /* the multi handle the set-up ran in */
	int own_multi;
	CURL *curl;
	curl_socket_t sock;
	int open;        /* set up, usable for a transaction */
	unsigned caps;   /* PO__CAP_* of the last EHLO */
	unsigned long size_max; /* SIZE n, 0 for none or unlimited */
	int tls;         /* encrypted (implicit TLS or STARTTLS done) */
	int creds_unused;
	long letters;    /* letters begun on this connection */

	/* watching libcurl's set-up */
	enum po__step step;
	char cmd[512];  /* the last command, masked */
	po__buf line;   /* the reply being read, lines joined by \n */
	int line_code;
	int masking;    /* a 334 came: the next client line is secret */
	int tls_up;     /* STARTTLS accepted */
	int saw_ehlo;   /* the final EHLO's reply came */
	int got_reply;  /* a complete reply to the last command came */
	int abort_status;
	unsigned activity; /* commands sent + replies read */
	unsigned caps_seen;
	unsigned long size_seen;
	int code;       /* the last complete reply */
	char *reply;
	char ehlo_cmd[512]; /* the last EHLO (or HELO) and its reply: what */
	int ehlo_code;      /* a refusal on capabilities names */
	char *ehlo_reply;
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *connect_to;
} po__sess;

/* Trace one line (trailing CR/LF dropped) to the configured callback. */
void po__trace(const po__config *c, int dir, const char *text, size_t n);

/* Open a connection with libcurl (set-up up to and including AUTH) within
 * the connect and total timeouts, in multi (NULL: one of its own).  On
 * failure the session is closed and res holds the status, reply and
 * message.  Returns PO_OK or the status. */
int po__sess_connect(po__sess *ss, const po__config *cfg, CURLM *multi,
		     po__result *res);

/* Close without a word: shut the socket down first, so that libcurl's
 * cleanup can neither write a QUIT (into a half-sent body) nor wait for
 * a reply.  QUIT, when wanted, is the transaction's to send before. */
void po__sess_close(po__sess *ss);

/* Non-blocking I/O through libcurl (and its TLS).  send: *n is what went
 * out, 0 when the socket is full (a retry must pass the same bytes and
 * length: OpenSSL wants it so).  recv: *n read, *eof set when the server
 * closed.  Both return PO_OK or PO_ECONNLOST. */
int po__sess_send(po__sess *ss, const void *buf, size_t len, size_t *n);
int po__sess_recv(po__sess *ss, void *buf, size_t len, size_t *n, int *eof);

/* Wait at most ms (negative: no limit) for the socket to become readable
 * (or writable, with want_write).  Returns 1 when ready, 0 on timeout. */
int po__sess_wait(po__sess *ss, int want_write, long ms);

/* Milliseconds on a monotonic clock. */
long long po__now_ms(void);

/* transaction.c's per-connection state (a session and its queue). */
typedef struct po__conn po__conn;

/* Send QUIT (bounded by the close timeout), close and free. */
void po__conn_free(po__conn *c);

struct po_smtp {
	po__config cfg;
	int frozen;   /* connected once: server, TLS, credentials fixed */
	po__conn *conn; /* NULL until the first send */
	po__result res; /* the outcome of the last send or VRFY */
};

#endif
