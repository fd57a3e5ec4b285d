/* transaction.c - the SMTP transaction, ours, over a session libcurl
 * opened (session.c): MAIL, RCPT, DATA, the body, RSET, QUIT, VRFY, and
 * the queue of letters behind po_smtp_send and po_pool.
 *
 * RFC 5321 (§3.3 mail transactions, §4.1.1 commands, §4.2 replies, §4.5.2
 * transparency), RFC 2920 (PIPELINING), RFC 1870 (SIZE), RFC 6152
 * (8BITMIME), RFC 6531 (SMTPUTF8), RFC 3461 (DSN), RFC 8689
 * (REQUIRETLS), RFC 3463 (enhanced status codes).
 *
 * One connection (po__conn) is a non-blocking state machine: fill() writes
 * what may be written next into the output buffer, flush() sends it,
 * drain() reads and parses replies and matches each to the oldest command
 * still waiting for one (the expectation queue), and run() drives these
 * around poll() with the reply, stall and total timeouts.  A driver with
 * several connections calls the same steps for each.
 *
 * With PIPELINING a letter's MAIL, every RCPT and DATA go in one flight,
 * and the next queued letter's envelope goes in the same flight as the
 * previous letter's end of data; without it, strictly one command at a
 * time.  The body comes from the renderer (po_reader_read), and put_body()
 * alone does the dot-stuffing and the final ".".
 *
 * Outcomes: a letter whose final dot went out with no reply is "outcome
 * unknown" and never retried.  Once a body has begun it is never ended by
 * a dot unless it is complete and meant to be delivered: an abort (a
 * render error, a timeout, a 354 that answered a refused envelope)
 * closes the connection without a word (session.c shuts the socket down
 * so libcurl cannot write QUIT into the body).  Letters whose commands
 * went out behind a failure were not delivered: they go back to the
 * queue (a fresh connection), never reported as sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "session.h"

#define BODY_CHUNK 65536  /* octets read from the renderer at a time */
#define BODY_WRITE 262144 /* octets of body a write, at most about */
#define IN_CHUNK 16384
#define LINE_CAP 65536 /* a reply line longer than this is a protocol error */

enum kind { K_MAIL, K_RCPT, K_DATA, K_EOD, K_RSET, K_QUIT, K_VRFY };

enum jstate { J_QUEUED, J_ENVELOPE, J_BODY, J_EOD, J_DONE };

/* One letter: queued, in flight, then done (a po_pool completion). */
struct po_result {
	po_letter *letter;
	void *tag;
	po_reader *reader;
	po__result res;
	enum jstate state;
	size_t nrcpt;
	size_t sent;      /* envelope commands written: MAIL, RCPTs, DATA */
	size_t pending;   /* of them, still without a reply */
	size_t accepted;  /* recipients accepted */
	int mail_ok;      /* MAIL accepted: a transaction is open */
	int failed;       /* a refusal decided the outcome */
	int go;           /* DATA got 354: never retried from here on */
	int retries;
	int seven;        /* nothing >= 0x80 may be sent */
	long long started;
	po_result *next;
};

struct expect {
	enum kind kind;
	po_result *job; /* NULL for RSET, QUIT, VRFY */
	size_t rcpt;
};

struct po__conn {
	const po__config *cfg;
	CURLM *multi; /* borrowed, or NULL: each set-up makes its own */
	po__sess ss;
	int dead;     /* close at the next step, no QUIT */

	po__buf out;  /* being sent; nothing is appended until it is */
	size_t off, again;
	po__buf in;   /* received, not yet parsed */
	po__buf rtext; /* the reply being assembled */
	int rcode;
	long long last_io, last_sent;

	struct expect *exp;
	size_t head, nexp, capexp;

	po_result *q_head, *q_tail; /* not begun */
	po_result *a_head, *a_tail; /* begun, not done (in order) */
	po_result *d_head, *d_tail; /* done */
	po_result *body;            /* the one whose body is being sent */
	unsigned char *raw;
	int bol;       /* the body so far ends a line (or is empty) */
	int rset;      /* RSET before the next MAIL */
	int quit;      /* QUIT sent: the next reply ends the connection */

	const char *vrfy; /* a VRFY to send */
	int vrfy_done;
	po__result *vrfy_res;
};

/* ---------------------------------------------------------------------
 * Lists */

static void push(po_result **head, po_result **tail, po_result *j)
{
	j->next = NULL;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

static void push_front(po_result **head, po_result **tail, po_result *j)
{
	j->next = *head;
	*head = j;
	if (!*tail)
		*tail = j;
}

static po_result *pop(po_result **head, po_result **tail)
{
	po_result *j = *head;

	if (j) {
		*head = j->next;
		if (!*head)
			*tail = NULL;
		j->next = NULL;
	}
	return j;
}

static void unlink_job(po_result **head, po_result **tail, po_result *j)
{
	po_result *p = NULL, *q;

	for (q = *head; q && q != j; q = q->next)
		p = q;
	if (!q)
		return;
	if (p)
		p->next = j->next;
	else
		*head = j->next;
	if (*tail == j)
		*tail = p;
	j->next = NULL;
}

/* ---------------------------------------------------------------------
 * Jobs */

static po_result *job_new(po_letter *l, void *tag)
{
	po_result *j = calloc(1, sizeof *j);

	if (!j)
		return NULL;
	j->letter = l;
	j->tag = tag;
	return j;
}

static void job_free(po_result *j)
{
	if (!j)
		return;
	po_reader_free(j->reader);
	po__result_clear(&j->res);
	free(j);
}

/* Render first: every input error comes before any connection. */
static int job_prepare(po_result *j)
{
	int rc = po_reader_new(j->letter, 0, &j->reader);

	if (rc) {
		free(j->res.errmsg);
		j->res.errmsg = strdup(po_last_error());
		j->res.status = rc;
		return rc;
	}
	j->nrcpt = po_letter_recipient_count(j->letter);
	if (po_letter_message_id(j->letter))
		j->res.message_id = strdup(po_letter_message_id(j->letter));
	return PO_OK;
}

static void job_done(po__conn *c, po_result *j)
{
	if (j->state != J_QUEUED)
		unlink_job(&c->a_head, &c->a_tail, j);
	else
		unlink_job(&c->q_head, &c->q_tail, j);
	if (c->body == j)
		c->body = NULL;
	j->state = J_DONE;
	po_reader_free(j->reader);
	j->reader = NULL;
	push(&c->d_head, &c->d_tail, j);
}

/* Back to the queue, as if never begun: onto the list h/t, or (h NULL)
 * the front of the queue. */
static void job_requeue(po__conn *c, po_result *j, po_result **h,
			po_result **t)
{
	char *mid = j->res.message_id;

	unlink_job(&c->a_head, &c->a_tail, j);
	if (c->body == j)
		c->body = NULL;
	j->res.message_id = NULL;
	po__result_clear(&j->res);
	j->res.message_id = mid;
	j->state = J_QUEUED;
	j->sent = j->pending = j->accepted = 0;
	j->mail_ok = j->failed = j->go = j->seven = 0;
	j->retries++;
	/* its reader was not read (the body had not begun): it serves
	 * again, as it is (a 7-bit rendering suits any server) */
	if (h)
		push(h, t, j);
	else
		push_front(&c->q_head, &c->q_tail, j);
}

/* Put the list h/t in front of the queue, in its order. */
static void splice_front(po__conn *c, po_result *h, po_result *t)
{
	if (!h)
		return;
	t->next = c->q_head;
	c->q_head = h;
	if (!c->q_tail)
		c->q_tail = t;
}

/* The command text an expectation stands for, for outcomes. */
static void command_text(const struct expect *e, const po__conn *c,
			 char *out, size_t n)
{
	switch (e->kind) {
	case K_MAIL:
		snprintf(out, n, "MAIL FROM:<%s>",
			 po_letter_envelope_from(e->job->letter));
		break;
	case K_RCPT:
		snprintf(out, n, "RCPT TO:<%s>",
			 po__letter_rcpt(e->job->letter, e->rcpt));
		break;
	case K_DATA:
		snprintf(out, n, "DATA");
		break;
	case K_EOD:
		snprintf(out, n, ".");
		break;
	case K_RSET:
		snprintf(out, n, "RSET");
		break;
	case K_QUIT:
		snprintf(out, n, "QUIT");
		break;
	case K_VRFY:
		snprintf(out, n, "VRFY %s", c->vrfy ? c->vrfy : "");
		break;
	}
}

/* The job's outcome: status, decided by this reply to this command. */
static void job_fail(po_result *j, int status, const char *command, int code,
		     const char *reply, const char *where, const char *detail)
{
	char enh[16] = "";

	if (code)
		po__enhanced_code(reply, code, enh);
	po__result_reply(&j->res, command, code, enh, reply);
	po__result_fail(&j->res, status, where, detail);
	j->failed = 1;
}

/* ---------------------------------------------------------------------
 * Output */

static void trace_cmd(po__conn *c, const char *line)
{
	po__trace(c->cfg, PO_TRACE_CLIENT, line, strlen(line));
}

static void trace_info(po__conn *c, const char *text)
{
	po__trace(c->cfg, PO_TRACE_INFO, text, strlen(text));
}

static int expect(po__conn *c, enum kind kind, po_result *j, size_t rcpt)
{
	if (c->head == c->nexp)
		c->head = c->nexp = 0;
	if (c->nexp == c->capexp) {
		size_t cap = c->capexp ? c->capexp * 2 : 16;
		struct expect *v = realloc(c->exp, cap * sizeof *v);

		if (!v)
			return po__fail(PO_ENOMEM, NULL);
		c->exp = v;
		c->capexp = cap;
	}
	c->exp[c->nexp++] = (struct expect){kind, j, rcpt};
	if (j)
		j->pending++;
	return PO_OK;
}

/* Append one command line (traced) and what answers it. */
static int put_cmd(po__conn *c, const char *line, enum kind kind,
		   po_result *j, size_t rcpt)
{
	trace_cmd(c, line);
	if (po__buf_puts(&c->out, line) || po__buf_puts(&c->out, "\r\n"))
		return po__fail(PO_ENOMEM, NULL);
	return expect(c, kind, j, rcpt);
}

/* RFC 3461 §4: xtext ('+', '=', and what is not printable ASCII as +XX) */
static int put_xtext(po__buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 33 || ch > 126 || ch == '+' || ch == '=') {
			if (po__buf_printf(b, "+%02X", ch))
				return -1;
		} else if (po__buf_putc(b, (char)ch)) {
			return -1;
		}
	}
	return 0;
}

static int dsn_asked(const po_letter *l)
{
	return l->dsn_notify || l->dsn_ret || l->dsn_envid[0];
}

static int put_mail(po__conn *c, po_result *j)
{
	const po_letter *l = j->letter;
	unsigned long long size;
	po__buf m = PO__BUF_INIT;
	int rc, bad;

	bad = po__buf_printf(&m, "MAIL FROM:<%s>", po_letter_envelope_from(l));
	if ((c->ss.caps & PO__CAP_SIZE) &&
	    po__reader_size_bound(j->reader, &size))
		bad |= po__buf_printf(&m, " SIZE=%llu", size);
	if ((c->ss.caps & PO__CAP_8BITMIME) && po__reader_8bit(j->reader))
		bad |= po__buf_puts(&m, " BODY=8BITMIME");
	if (l->smtputf8)
		bad |= po__buf_puts(&m, " SMTPUTF8");
	if (l->dsn_ret)
		bad |= po__buf_puts(&m, l->dsn_ret == PO_DSN_RET_FULL
						? " RET=FULL"
						: " RET=HDRS");
	if (l->dsn_envid[0])
		bad |= po__buf_puts(&m, " ENVID=") ||
		       put_xtext(&m, l->dsn_envid);
	if (c->cfg->require_tls)
		bad |= po__buf_puts(&m, " REQUIRETLS");
	rc = bad ? po__fail(PO_ENOMEM, NULL) : put_cmd(c, m.p, K_MAIL, j, 0);
	po__buf_free(&m);
	j->sent++;
	return rc;
}

static int put_rcpt(po__conn *c, po_result *j, size_t i)
{
	const po_letter *l = j->letter;
	const char *to = po__letter_rcpt(l, i);
	po__buf m = PO__BUF_INIT;
	int rc, bad;

	bad = po__buf_printf(&m, "RCPT TO:<%s>", to);
	if (l->dsn_notify) {
		static const char *const names[] = {"NEVER", "SUCCESS",
						    "FAILURE", "DELAY"};
		const char *sep = " NOTIFY=";

		for (int k = 0; k < 4; k++)
			if (l->dsn_notify & (1u << k)) {
				bad |= po__buf_printf(&m, "%s%s", sep,
						      names[k]);
				sep = ",";
			}
	}
	/* the original recipient, so a report names it (RFC 3461 §4.2) */
	if (dsn_asked(l) && po__is_ascii(to, strlen(to)))
		bad |= po__buf_puts(&m, " ORCPT=rfc822;") || put_xtext(&m, to);
	rc = bad ? po__fail(PO_ENOMEM, NULL) : put_cmd(c, m.p, K_RCPT, j, i);
	po__buf_free(&m);
	j->sent++;
	return rc;
}

static int put_data(po__conn *c, po_result *j)
{
	j->sent++;
	return put_cmd(c, "DATA", K_DATA, j, 0);
}

/* No CR, LF, NUL, '<' or '>' (RFC 5321 §4.1.2 paths), nor anything
 * that would make a command line too long. */
static int envelope_safe(const char *a)
{
	return a && strlen(a) < 512 && !strpbrk(a, "\r\n<>");
}

/* What refuses a letter before MAIL, on what the server offered. */
static int precheck(po__conn *c, po_result *j)
{
	const po__sess *ss = &c->ss;
	const po_letter *l = j->letter;
	unsigned long long size;
	po__result *r = &j->res;

	/* the envelope goes into commands as it is: nothing in it may end
	 * or add one (address.c refuses these already; this holds whatever
	 * forms it comes to accept) */
	if (!envelope_safe(po_letter_envelope_from(l)))
		return po__result_fail(r, PO_EADDRESS, NULL,
				       "the sender has a character that "
				       "cannot go in MAIL FROM");
	for (size_t i = 0; i < j->nrcpt; i++)
		if (!envelope_safe(po__letter_rcpt(l, i)))
			return po__result_fail(r, PO_EADDRESS, NULL,
					       "a recipient has a character "
					       "that cannot go in RCPT TO");
	/* refusals on what the EHLO reply offered name it (a 250) */
	po__result_reply(r, ss->ehlo_cmd, ss->ehlo_code, NULL, ss->ehlo_reply);
	if (l->smtputf8 && !(ss->caps & PO__CAP_SMTPUTF8))
		return po__result_fail(
			r, PO_ESMTPUTF8, NULL,
			"an address has a UTF-8 local part; nothing was sent");
	if (dsn_asked(l) && !(ss->caps & PO__CAP_DSN))
		return po__result_fail(
			r, PO_EDSN, NULL,
			"delivery status notifications were asked for; nothing "
			"was sent");
	if (c->cfg->require_tls) {
		if (!ss->tls || !c->cfg->verify)
			return po__result_fail(
				r, PO_EREQUIRETLS, NULL,
				!ss->tls ? "the connection is not encrypted"
					 : "the server certificate is not "
					   "verified");
		if (!(ss->caps & PO__CAP_REQUIRETLS))
			return po__result_fail(r, PO_EREQUIRETLS, NULL,
					       "the server does not offer it");
	}
	if ((ss->caps & PO__CAP_SIZE) && ss->size_max &&
	    po__reader_size_bound(j->reader, &size) && size > ss->size_max) {
		char d[160];

		snprintf(d, sizeof d,
			 "the letter is up to %llu octets, the server takes "
			 "at most %lu; nothing was sent",
			 size, ss->size_max);
		return po__result_fail(r, PO_ESIZE, NULL, d);
	}
	if (!(ss->caps & PO__CAP_8BITMIME) && po__reader_8bit(j->reader)) {
		/* re-encode (RFC 6152): nothing >= 0x80 may go */
		po_reader *seven = NULL;

		if (j->letter->is_raw) {
			if (!j->letter->raw_fn)
				return po__result_fail(
					r, PO_E8BIT, NULL,
					"the raw letter has octets >= 0x80 and "
					"the server does not offer 8BITMIME; "
					"nothing was sent");
		} else {
			int rc = po_reader_new(j->letter, PO_RENDER_7BIT,
					       &seven);

			if (rc)
				return po__result_fail(r, rc, NULL,
						       po_last_error());
			po_reader_free(j->reader);
			j->reader = seven;
		}
		j->seven = 1;
	}
	return PO_OK;
}

/* Begin the next queued letter: MAIL, and with PIPELINING every RCPT and
 * DATA too.  Letters refused before MAIL are done at once. */
static int begin(po__conn *c)
{
	int pipe = c->ss.caps & PO__CAP_PIPELINING, rc;
	po_result *j;

	while ((j = c->q_head)) {
		pop(&c->q_head, &c->q_tail);
		j->res.creds_unused = c->ss.creds_unused;
		if (precheck(c, j)) {
			j->state = J_QUEUED;
			job_done(c, j);
			continue;
		}
		j->state = J_ENVELOPE;
		j->started = po__now_ms(); /* its total timeout starts */
		j->res.reused = c->ss.letters > 0;
		j->res.creds_unused = c->ss.creds_unused;
		c->ss.letters++;
		push(&c->a_head, &c->a_tail, j);
		rc = put_mail(c, j);
		for (size_t i = 0; !rc && pipe && i < j->nrcpt; i++)
			rc = put_rcpt(c, j, i);
		if (!rc && pipe)
			rc = put_data(c, j);
		return rc;
	}
	return PO_OK;
}

/* Dot-stuff n octets onto out (RFC 5321 §4.5.2): a "." that starts a
 * line gets another.  The renderer ends every line in CRLF, so a line
 * starts after LF.  Returns -1 when seven and an octet >= 0x80 shows. */
static int stuff(po__conn *c, const unsigned char *in, size_t n, int seven)
{
	const unsigned char *p = in, *end = in + n, *nl;
	char *o;
	size_t len;

	if (seven)
		for (size_t i = 0; i < n; i++)
			if (in[i] >= 0x80)
				return -1;
	if (po__buf_reserve(&c->out, 2 * n + 8))
		return po__fail(PO_ENOMEM, NULL);
	o = c->out.p + c->out.len;
	while (p < end) {
		if (c->bol && *p == '.')
			*o++ = '.';
		nl = memchr(p, '\n', (size_t)(end - p));
		len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		memcpy(o, p, len);
		o += len;
		p += len;
		c->bol = nl != NULL;
	}
	c->out.len = (size_t)(o - c->out.p);
	c->out.p[c->out.len] = '\0';
	return PO_OK;
}

static void conn_abort(po__conn *c, po_result *j, int status,
		       const char *detail);
static void fail_all_refused(po_result *j);
static void settle(po__conn *c, po_result *j);

/* The next piece of the body; at its end the final "." (and, with
 * PIPELINING, the next letter's envelope in the same flight). */
static int put_body(po__conn *c)
{
	po_result *j = c->body;
	size_t n = 0;
	int rc;

	/* about BODY_WRITE octets a write; a short letter and its final dot
	 * (and the next envelope) go in one */
	for (;;) {
		rc = po_reader_read(j->reader, c->raw, BODY_CHUNK, &n);
		if (rc) {
			/* a render error after the body began (a file that
			 * changed, a reader callback that failed): never the
			 * final dot */
			conn_abort(c, j, rc, po_last_error());
			return PO_OK;
		}
		if (!n)
			break;
		if (stuff(c, c->raw, n, j->seven)) {
			conn_abort(c, j, PO_E8BIT,
				   "an octet >= 0x80 in a letter to a server "
				   "without 8BITMIME; nothing was delivered");
			return PO_OK;
		}
		if (c->out.len >= BODY_WRITE)
			return PO_OK;
	}
	/* RFC 5321 §4.1.1.4: the data ends with CRLF "." CRLF */
	if (po__buf_puts(&c->out, c->bol ? ".\r\n" : "\r\n.\r\n"))
		return po__fail(PO_ENOMEM, NULL);
	c->body = NULL;
	j->state = J_EOD;
	rc = expect(c, K_EOD, j, 0);
	if (!rc && (c->ss.caps & PO__CAP_PIPELINING)) {
		rc = begin(c);
		/* one connection per letter: its QUIT rides with the end of
		 * data (RFC 2920 §3.1 lets it), a round trip saved */
		if (!rc && c->cfg->one_shot && !c->q_head && !c->vrfy &&
		    c->a_tail == j) {
			rc = put_cmd(c, "QUIT", K_QUIT, NULL, 0);
			c->quit = 1;
		}
	}
	return rc;
}

/* Write what may be written now (the output buffer is empty). */
static int fill(po__conn *c)
{
	int pipe = c->ss.caps & PO__CAP_PIPELINING, waiting;
	po_result *j;

	if (c->dead || c->quit)
		return PO_OK;
	if (c->body)
		return put_body(c);
	waiting = c->head < c->nexp;
	/* the letter whose envelope is going out, if any */
	for (j = c->a_head; j && j->state != J_ENVELOPE; j = j->next)
		;
	if (j) {
		/* lockstep: the next command once the last was answered */
		if (pipe || waiting || j->failed)
			return PO_OK;
		if (j->sent <= j->nrcpt)
			return put_rcpt(c, j, j->sent - 1);
		if (j->sent == j->nrcpt + 1) {
			if (!j->accepted) {
				/* no recipient left: no DATA */
				fail_all_refused(j);
				settle(c, j);
				return PO_OK;
			}
			return put_data(c, j);
		}
		return PO_OK;
	}
	if (waiting && !pipe)
		return PO_OK;
	if (c->rset && c->q_head) {
		c->rset = 0;
		if (put_cmd(c, "RSET", K_RSET, NULL, 0))
			return PO_ENOMEM;
		if (!pipe)
			return PO_OK;
	}
	if (c->vrfy && !c->vrfy_done) {
		char line[600];

		if (waiting && !pipe)
			return PO_OK;
		snprintf(line, sizeof line, "VRFY %s", c->vrfy);
		c->vrfy_done = -1; /* sent */
		return put_cmd(c, line, K_VRFY, NULL, 0);
	}
	return begin(c);
}

/* Send what the buffer holds, as far as the socket takes it. */
static int flush(po__conn *c)
{
	while (c->off < c->out.len) {
		size_t len = c->again ? c->again : c->out.len - c->off, n;
		int rc;

		rc = po__sess_send(&c->ss, c->out.p + c->off, len, &n);
		if (rc)
			return rc;
		if (n == 0) {
			/* OpenSSL wants the same bytes and length again */
			c->again = len;
			return PO_OK;
		}
		c->again = 0;
		c->off += n;
		c->last_io = c->last_sent = po__now_ms();
	}
	c->out.len = c->off = 0;
	return PO_OK;
}

/* ---------------------------------------------------------------------
 * Failures of the connection */

/* Close now: no QUIT (the server may be in the middle of a body). */
static void conn_drop(po__conn *c)
{
	po__sess_close(&c->ss);
	c->dead = 0;
	c->quit = 0;
	c->rset = 0;
	c->out.len = c->off = c->again = 0;
	c->in.len = 0;
	c->rtext.len = 0;
	c->rcode = 0;
	c->head = c->nexp = 0;
	c->body = NULL;
}

/* The connection failed (status) while j (the oldest letter in flight,
 * or NULL) waited: j gets the failure; letters behind it were not
 * delivered and go back to the queue. */
static void conn_fail(po__conn *c, po_result *first, int status,
		      const char *detail)
{
	po_result *j, *next, *rq_head = NULL, *rq_tail = NULL;
	char cmd[600] = "";
	size_t k;

	for (j = c->a_head; j; j = next) {
		next = j->next;
		if (j == first || (!first && j == c->a_head)) {
			/* what it waited for: the first unanswered command */
			for (k = c->head; k < c->nexp; k++)
				if (c->exp[k].job == j)
					break;
			if (j->failed) {
				/* a refusal decided it already */
			} else if (j->state == J_EOD) {
				job_fail(j, status, ".", 0, NULL,
					 "waiting for the reply to the end of "
					 "the message",
					 detail);
				j->res.unknown = 1;
			} else if (j->state == J_BODY) {
				job_fail(j, status, "DATA", 0, NULL,
					 "sending the message", detail);
			} else {
				if (k < c->nexp)
					command_text(&c->exp[k], c, cmd,
						     sizeof cmd);
				/* a reused connection found stale before the
				 * message went out: once more, fresh */
				if (j->res.reused && !j->go &&
				    j->retries == 0 &&
				    (status == PO_ECONNLOST)) {
					trace_info(c, "stale connection, "
						      "retrying on a new one");
					job_requeue(c, j, &rq_head, &rq_tail);
					continue;
				}
				job_fail(j, status, cmd, 0, NULL, NULL,
					 detail);
			}
			job_done(c, j);
		} else if (j->state != J_DONE) {
			if (j->retries < 2 && !j->go) {
				job_requeue(c, j, &rq_head, &rq_tail);
			} else {
				job_fail(j, status, "", 0, NULL,
					 "a letter before it failed", detail);
				job_done(c, j);
			}
		}
	}
	if (c->vrfy && c->vrfy_done < 1 && c->vrfy_res) {
		po__result_reply(c->vrfy_res, "", 0, NULL, NULL);
		po__result_fail(c->vrfy_res, status, NULL, detail);
		c->vrfy_done = 2;
	}
	splice_front(c, rq_head, rq_tail);
	conn_drop(c);
}

/* The server closes (421): every letter still in flight was not
 * delivered, and goes back to the queue. */
static void conn_closing(po__conn *c)
{
	po_result *j, *next, *h = NULL, *t = NULL;

	for (j = c->a_head; j; j = next) {
		next = j->next;
		if (j->go) {
			/* its body began: never sent twice */
			if (j->state == J_EOD) {
				job_fail(j, PO_ECONNLOST, ".", 0, NULL,
					 "waiting for the reply to the end "
					 "of the message",
					 "the server closed");
				j->res.unknown = 1;
			} else {
				job_fail(j, PO_ECONNLOST, "DATA", 0, NULL,
					 "sending the message",
					 "the server closed");
			}
			job_done(c, j);
			continue;
		}
		job_requeue(c, j, &h, &t);
	}
	splice_front(c, h, t);
	conn_drop(c);
}

/* Abort j's body: no final dot, the connection closed under it. */
static void conn_abort(po__conn *c, po_result *j, int status,
		       const char *detail)
{
	if (!j->failed)
		job_fail(j, status, "DATA", 0, NULL, "sending the message",
			 detail);
	trace_info(c, "message aborted: closing the connection without the "
		      "final dot");
	j->state = J_BODY;
	conn_fail(c, j, status, detail);
}

/* ---------------------------------------------------------------------
 * Replies */

/* A protocol error: j (the letter the reply was matched to, or the
 * oldest in flight) gets it, with the reply that broke the rules. */
static void protocol_error(po__conn *c, po_result *j, const char *command,
			   int code, const char *text, const char *why)
{
	if (!j)
		j = c->body ? c->body : c->a_head;
	if (j && !j->failed) {
		job_fail(j, PO_EPROTOCOL, command, code, text, NULL, why);
		j->res.unknown = j->state == J_EOD;
	}
	conn_fail(c, j, PO_EPROTOCOL, why);
}

/* Every recipient refused (partial delivery): the outcome is the first
 * refusal. */
static void fail_all_refused(po_result *j)
{
	const po__refusal *f = &j->res.refused[0];
	char cmd[320];
	char *reply = strdup(f->reply);

	snprintf(cmd, sizeof cmd, "RCPT TO:<%s>", f->address);
	job_fail(j, PO_ERECIPIENT, cmd, f->code, reply ? reply : "", NULL,
		 NULL);
	free(reply);
}

/* After j's last reply: done, or on to its body. */
static void settle(po__conn *c, po_result *j)
{
	if (j->pending || j->state == J_DONE)
		return;
	if (j->failed) {
		/* the server keeps an open transaction: RSET before the
		 * next letter */
		if (j->mail_ok && !j->go)
			c->rset = 1;
		job_done(c, j);
	}
}

static void on_reply(po__conn *c, int code, const char *text)
{
	char cmd[600];
	struct expect e;
	po_result *j;
	int pos = code / 100 == 2;

	c->last_io = po__now_ms();
	if (c->head == c->nexp) {
		/* nothing was waiting for it */
		if (!c->a_head && !c->body) {
			/* an idle connection the server is closing (421 after
			 * an idle timeout): drop it quietly */
			c->dead = 1;
			return;
		}
		if (c->body && code >= 400 && code <= 599) {
			/* a server giving up in the middle of the body */
			job_fail(c->body, PO_EMESSAGE, "DATA", code, text, NULL,
				 "in the middle of the message");
			conn_abort(c, c->body, PO_EMESSAGE, NULL);
			return;
		}
		protocol_error(c, NULL, c->body ? "DATA" : "", code, text,
			       c->body ? "a reply in the middle of the message"
				       : "more replies than commands");
		return;
	}
	e = c->exp[c->head++];
	j = e.job;
	if (j)
		j->pending--;
	command_text(&e, c, cmd, sizeof cmd);
	/* a reply that cannot answer its command: out of order */
	if (code < 200 || code > 599 ||
	    (code / 100 == 3 && !(e.kind == K_DATA && code == 354)) ||
	    (e.kind == K_DATA && pos)) {
		protocol_error(c, j, cmd, code, text,
			       "a reply that does not fit its command (out of "
			       "order?)");
		return;
	}
	switch (e.kind) {
	case K_MAIL:
		if (pos)
			j->mail_ok = 1;
		else if (!j->failed)
			job_fail(j, PO_ESENDER, cmd, code, text, NULL, NULL);
		break;
	case K_RCPT:
		if (pos) {
			j->accepted++;
			break;
		}
		if (po__result_refuse(&j->res, po__letter_rcpt(j->letter,
								e.rcpt),
				      code, text)) {
			conn_fail(c, j, PO_ENOMEM, NULL);
			return;
		}
		if (!c->cfg->partial && !j->failed)
			job_fail(j, PO_ERECIPIENT, cmd, code, text, NULL, NULL);
		break;
	case K_DATA:
		if (code == 354) {
			j->go = 1;
			if (j->failed || !j->accepted) {
				/* the trap of a pipelined DATA: the server
				 * takes the message for the recipients it
				 * accepted; end it without the dot */
				if (!j->failed && !j->res.nrefused) {
					protocol_error(c, j, cmd, code, text,
						       "354 with no recipient");
					return;
				}
				if (!j->failed)
					fail_all_refused(j);
				conn_abort(c, j, j->res.status,
					   "354 after a refused envelope");
				return;
			}
			j->state = J_BODY;
			c->body = j;
			c->bol = 1;
			break;
		}
		if (!j->failed) {
			if (!j->accepted && j->res.nrefused) {
				/* every recipient refused: DATA's 503/554 is
				 * expected */
				fail_all_refused(j);
			} else {
				job_fail(j, PO_EDATA, cmd, code, text, NULL,
					 NULL);
			}
		}
		break;
	case K_EOD:
		if (pos) {
			char enh[16];

			po__enhanced_code(text, code, enh);
			po__result_reply(&j->res, ".", code, enh, text);
			free(j->res.errmsg);
			j->res.errmsg = strdup("");
			j->res.status = PO_OK;
			if (j->res.nrefused && !c->cfg->partial)
				job_fail(j, PO_ERECIPIENT, ".", code, text,
					 NULL, NULL);
		} else {
			job_fail(j, PO_EMESSAGE, cmd, code, text, NULL, NULL);
		}
		j->mail_ok = 0;
		job_done(c, j);
		break;
	case K_RSET:
		if (!pos) {
			/* a server that cannot reset: start afresh */
			conn_closing(c);
			return;
		}
		break;
	case K_QUIT:
		c->dead = 1;
		return;
	case K_VRFY:
		if (c->vrfy_res) {
			char enh[16];

			po__enhanced_code(text, code, enh);
			po__result_reply(c->vrfy_res, cmd, code, enh, text);
		}
		c->vrfy_done = 1;
		break;
	}
	if (code == 421) {
		/* RFC 5321 §3.8: the server is closing the connection */
		if (j && j->state != J_DONE) {
			j->pending = 0;
			j->mail_ok = 0;
			/* a reused connection found closing before the letter
			 * went out: once more, on a fresh one (conn_closing
			 * requeues it with the others, in order) */
			if (j->res.reused && !j->go && j->retries == 0 &&
			    j->state == J_ENVELOPE)
				trace_info(c, "stale connection, retrying on a "
					      "new one");
			else
				job_done(c, j);
		}
		conn_closing(c);
		return;
	}
	if (j)
		settle(c, j);
}

/* One reply line (without its line ending). */
static int on_line(po__conn *c, const char *line, size_t len)
{
	int code, last;

	po__trace(c->cfg, PO_TRACE_SERVER, line, len);
	if (len < 3 || line[0] < '0' || line[0] > '9' || line[1] < '0' ||
	    line[1] > '9' || line[2] < '0' || line[2] > '9' ||
	    (len > 3 && line[3] != ' ' && line[3] != '-')) {
		protocol_error(c, NULL, "", 0, NULL,
			       "a reply line that is not one");
		return -1;
	}
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	last = len == 3 || line[3] == ' ';
	if (c->rcode && c->rcode != code) {
		protocol_error(c, NULL, "", code, line,
			       "a multi-line reply whose codes differ");
		return -1;
	}
	c->rcode = code;
	if (c->rtext.len < PO__REPLY_MAX &&
	    ((c->rtext.len && po__buf_putc(&c->rtext, '\n')) ||
	     po__buf_append(&c->rtext, line,
			    len < PO__REPLY_MAX ? len : PO__REPLY_MAX))) {
		conn_fail(c, NULL, PO_ENOMEM, NULL);
		return -1;
	}
	if (last) {
		c->rcode = 0;
		on_reply(c, code, c->rtext.p);
		c->rtext.len = 0;
		if (c->rtext.p)
			c->rtext.p[0] = '\0';
	}
	return 0;
}

/* Read everything there is (libcurl's TLS may hold decrypted bytes that
 * do not wake poll) and act on each complete reply. */
static void drain(po__conn *c)
{
	char buf[IN_CHUNK];

	while (c->ss.open && !c->dead) {
		size_t n, start = 0, i;
		int eof, rc;

		rc = po__sess_recv(&c->ss, buf, sizeof buf, &n, &eof);
		if (rc || eof) {
			if (!c->a_head && !c->body && c->head == c->nexp) {
				c->dead = 1; /* an idle connection closed */
				return;
			}
			if (c->head < c->nexp &&
			    c->exp[c->head].kind == K_QUIT) {
				c->dead = 1;
				return;
			}
			conn_fail(c, NULL, PO_ECONNLOST, NULL);
			return;
		}
		if (n == 0)
			return;
		if (po__buf_append(&c->in, buf, n)) {
			conn_fail(c, NULL, PO_ENOMEM, NULL);
			return;
		}
		for (i = 0; i < c->in.len && c->ss.open && !c->dead; i++) {
			size_t len;

			if (c->in.p[i] != '\n')
				continue;
			len = i - start;
			if (len && c->in.p[start + len - 1] == '\r')
				len--;
			if (on_line(c, c->in.p + start, len))
				return;
			start = i + 1;
		}
		if (!c->ss.open)
			return;
		memmove(c->in.p, c->in.p + start, c->in.len - start);
		c->in.len -= start;
		if (c->in.len > LINE_CAP) {
			protocol_error(c, NULL, "", 0, NULL,
				       "a reply line too long");
			return;
		}
	}
}

/* ---------------------------------------------------------------------
 * Driving one connection */

static po__conn *conn_new(const po__config *cfg, CURLM *multi)
{
	po__conn *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	c->cfg = cfg;
	c->multi = multi;
	c->ss.sock = CURL_SOCKET_BAD;
	c->raw = malloc(BODY_CHUNK);
	if (!c->raw) {
		free(c);
		return NULL;
	}
	return c;
}

/* QUIT (traced), its reply awaited at most the close timeout, then
 * close.  Only between letters: never inside a body. */
static void conn_quit(po__conn *c)
{
	long long end = po__now_ms() + (c->cfg->close_ms > 0
						? c->cfg->close_ms
						: 1000);

	if (c->ss.open && !c->dead && !c->body &&
	    (c->quit || c->off == c->out.len)) {
		if (!c->quit) {
			c->out.len = c->off = 0;
			c->quit = put_cmd(c, "QUIT", K_QUIT, NULL, 0) == PO_OK;
		}
		if (c->quit) {
			/* the QUIT (sent, or pipelined behind the end of
			 * data) and its reply, within the close timeout */
			while (c->ss.open && !c->dead) {
				long long now = po__now_ms();

				if (flush(c) || now >= end)
					break;
				drain(c);
				if (!c->ss.open || c->dead)
					break;
				po__sess_wait(&c->ss, c->off < c->out.len,
					      (long)(end - now));
			}
		}
	}
	conn_drop(c);
}

void po__conn_free(po__conn *c)
{
	po_result *j;

	if (!c)
		return;
	conn_quit(c);
	while ((j = pop(&c->q_head, &c->q_tail)))
		job_free(j);
	while ((j = pop(&c->a_head, &c->a_tail)))
		job_free(j);
	while ((j = pop(&c->d_head, &c->d_tail)))
		job_free(j);
	po__buf_free(&c->out);
	po__buf_free(&c->in);
	po__buf_free(&c->rtext);
	free(c->exp);
	free(c->raw);
	free(c);
}

/* Connect, and on failure give the queued letters the outcome. */
static int conn_open(po__conn *c)
{
	po__result r = {0};
	po_result *j;
	int rc;

	rc = po__sess_connect(&c->ss, c->cfg, c->multi, &r);
	c->last_io = c->last_sent = po__now_ms();
	if (rc == PO_OK)
		return PO_OK;
	while ((j = c->q_head)) {
		char *mid = j->res.message_id;

		j->res.message_id = NULL;
		po__result_clear(&j->res);
		j->res.message_id = mid;
		j->res.status = r.status;
		j->res.code = r.code;
		memcpy(j->res.enhanced, r.enhanced, sizeof r.enhanced);
		j->res.reply = r.reply ? strdup(r.reply) : NULL;
		j->res.command = strdup(r.command ? r.command : "");
		j->res.errmsg = strdup(r.errmsg ? r.errmsg : "");
		j->failed = 1;
		job_done(c, j);
	}
	if (c->vrfy_res) {
		po__result_clear(c->vrfy_res);
		*c->vrfy_res = r;
		c->vrfy_done = 2;
		return rc;
	}
	po__result_clear(&r);
	return rc;
}

/* Drive the connection until until is done (or, with until NULL, until
 * nothing is queued or in flight), or deadline (ms, 0: none) passes.
 * Returns PO_OK, or PO_ETIMEOUT when the deadline came first. */
static int run(po__conn *c, po_result *until, long long deadline)
{
	for (;;) {
		long long now, due = 0;
		long wait;
		int idle;

		if (c->dead)
			conn_drop(c);
		if (until ? until->state == J_DONE
			  : !c->q_head && !c->a_head)
			if (!c->vrfy || c->vrfy_done > 0)
				return PO_OK;
		if (!c->ss.open) {
			if (!c->q_head && !c->vrfy)
				return PO_OK;
			conn_open(c);
			continue;
		}
		drain(c);
		if (!c->ss.open || c->dead)
			continue;
		if (c->off == c->out.len) {
			c->out.len = c->off = 0;
			if (fill(c)) {
				conn_fail(c, NULL, PO_ENOMEM, NULL);
				continue;
			}
		}
		if (!c->ss.open || c->dead)
			continue;
		if (flush(c)) {
			drain(c); /* the server's last words, if any */
			if (c->ss.open && !c->dead)
				conn_fail(c, NULL, PO_ECONNLOST, NULL);
			continue;
		}
		idle = c->off == c->out.len && c->head == c->nexp;
		if (idle && c->body)
			continue; /* more body to send */
		if (idle && (c->q_head || (c->vrfy && !c->vrfy_done)))
			continue; /* more to begin */
		if (idle && c->a_head && (!until || until->state != J_DONE)) {
			/* nothing to send, nothing awaited, a letter not done:
			 * a bug; never a hang */
			conn_fail(c, NULL, PO_EPROTOCOL,
				  "internal: the transaction stalled");
			continue;
		}
		if (idle)
			continue; /* done: the test at the top returns */
		/* wait: for the socket, within the timeouts */
		now = po__now_ms();
		if (c->off < c->out.len) {
			if (c->cfg->stall_ms > 0)
				due = c->last_sent + c->cfg->stall_ms;
		} else if (c->cfg->reply_ms > 0) {
			due = c->last_io + c->cfg->reply_ms;
		}
		if (c->a_head && c->cfg->total_ms > 0 &&
		    (!due || c->a_head->started + c->cfg->total_ms < due))
			due = c->a_head->started + c->cfg->total_ms;
		if (due && now >= due) {
			conn_fail(c, c->body, PO_ETIMEOUT, NULL);
			continue;
		}
		if (deadline && now >= deadline)
			return PO_ETIMEOUT;
		wait = due ? (long)(due - now) : -1;
		if (deadline && (wait < 0 || deadline - now < wait))
			wait = (long)(deadline - now);
		po__sess_wait(&c->ss, c->off < c->out.len, wait);
	}
}

/* ---------------------------------------------------------------------
 * po_smtp: one letter at a time */

static po__conn *smtp_conn(po_smtp *s)
{
	if (!s->conn)
		s->conn = conn_new(&s->cfg, NULL);
	return s->conn;
}

int po_smtp_send(po_smtp *s, po_letter *l)
{
	po_result *j;
	po__conn *c;
	int status;

	if (!s)
		return po__fail(PO_EINVAL, "po_smtp_send: NULL argument");
	po__result_clear(&s->res);
	if (!l) {
		status = po__fail(PO_EINVAL, "po_smtp_send: NULL letter");
		s->res.errmsg = strdup(po_last_error());
		return status;
	}
	status = po_init();
	if (status)
		return status;
	j = job_new(l, NULL);
	if (!j)
		return po__fail(PO_ENOMEM, NULL);
	status = job_prepare(j);
	if (status) {
		s->res = j->res;
		memset(&j->res, 0, sizeof j->res);
		job_free(j);
		return status;
	}
	c = smtp_conn(s);
	if (!c) {
		job_free(j);
		return po__fail(PO_ENOMEM, NULL);
	}
	s->frozen = 1;
	push(&c->q_head, &c->q_tail, j);
	run(c, j, 0);
	unlink_job(&c->d_head, &c->d_tail, j);
	if (c->cfg->one_shot)
		conn_quit(c);
	s->res = j->res;
	memset(&j->res, 0, sizeof j->res);
	job_free(j);
	status = s->res.status;
	if (status)
		po__fail(status, "%s", s->res.errmsg ? s->res.errmsg : "");
	else if (!s->res.errmsg)
		s->res.errmsg = strdup("");
	return status;
}

int po_smtp_vrfy(po_smtp *s, const char *what, int *result_out)
{
	po__conn *c;
	int status;

	if (!s || !what || !result_out)
		return po__fail(PO_EINVAL, "po_smtp_vrfy: NULL argument");
	*result_out = PO_VRFY_OTHER;
	po__result_clear(&s->res);
	for (const char *p = what; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '<' ||
		    *p == '>')
			return po__fail(PO_EADDRESS,
					"VRFY \"%.80s\": white space, control "
					"character or angle bracket",
					what);
	if (!*what || strlen(what) > 500)
		return po__fail(PO_EADDRESS, "VRFY: empty or too long");
	status = po_init();
	if (status)
		return status;
	c = smtp_conn(s);
	if (!c)
		return po__fail(PO_ENOMEM, NULL);
	s->frozen = 1;
	c->vrfy = what;
	c->vrfy_done = 0;
	c->vrfy_res = &s->res;
	run(c, NULL, 0);
	if (c->vrfy_done == 1) {
		int code = s->res.code;

		*result_out = code == 250 || code == 251 ? PO_VRFY_OK
			      : code == 252		 ? PO_VRFY_CANNOT
			      : code == 550		 ? PO_VRFY_UNKNOWN
							 : PO_VRFY_OTHER;
		free(s->res.errmsg);
		s->res.errmsg = strdup("");
		status = PO_OK;
	} else {
		status = s->res.status ? s->res.status : PO_ECONNLOST;
		if (!s->res.errmsg) {
			po__result_fail(&s->res, status, NULL, NULL);
		}
		po__fail(status, "%s", s->res.errmsg);
	}
	c->vrfy = NULL;
	c->vrfy_res = NULL;
	c->vrfy_done = 0;
	if (c->cfg->one_shot)
		conn_quit(c);
	return status;
}

int po_smtp_close(po_smtp *s)
{
	if (!s)
		return po__fail(PO_EINVAL, "po_smtp_close: no handle");
	if (s->conn)
		conn_quit(s->conn);
	return PO_OK;
}

/* ---------------------------------------------------------------------
 * po_pool: a queue of letters (one connection for now) */

struct po_pool {
	po__config cfg;
	po__conn *conn;
	size_t submitted; /* not yet taken by po_pool_next */
};

po_pool *po_pool_new(const po_smtp *config)
{
	po_pool *p;

	if (!config) {
		po__fail(PO_EINVAL, "po_pool_new: no handle");
		return NULL;
	}
	if (po_init())
		return NULL;
	p = calloc(1, sizeof *p);
	if (!p || po__config_copy(&p->cfg, &config->cfg)) {
		free(p);
		po__fail(PO_ENOMEM, NULL);
		return NULL;
	}
	if (!p->cfg.host) {
		po__config_free(&p->cfg);
		free(p);
		po__fail(PO_EINVAL, "po_pool_new: no server given");
		return NULL;
	}
	/* a queue keeps its connection between letters */
	p->cfg.one_shot = 0;
	p->conn = conn_new(&p->cfg, NULL);
	if (!p->conn) {
		po__config_free(&p->cfg);
		free(p);
		po__fail(PO_ENOMEM, NULL);
		return NULL;
	}
	return p;
}

void po_pool_free(po_pool *p)
{
	if (!p)
		return;
	po__conn_free(p->conn);
	po__config_free(&p->cfg);
	free(p);
}

int po_pool_submit(po_pool *p, po_letter *l, void *tag)
{
	po_result *j;
	int rc;

	if (!p || !l)
		return po__fail(PO_EINVAL, "po_pool_submit: NULL argument");
	j = job_new(l, tag);
	if (!j)
		return po__fail(PO_ENOMEM, NULL);
	rc = job_prepare(j);
	if (rc) {
		job_free(j);
		return po__fail(rc, "%s", po_last_error());
	}
	push(&p->conn->q_head, &p->conn->q_tail, j);
	p->submitted++;
	return PO_OK;
}

int po_pool_run(po_pool *p, long timeout_ms)
{
	if (!p)
		return po__fail(PO_EINVAL, "po_pool_run: no pool");
	return run(p->conn, NULL,
		   timeout_ms > 0 ? po__now_ms() + timeout_ms : 0);
}

size_t po_pool_pending(const po_pool *p)
{
	size_t n = 0;

	if (!p)
		return 0;
	for (po_result *j = p->conn->q_head; j; j = j->next)
		n++;
	for (po_result *j = p->conn->a_head; j; j = j->next)
		n++;
	return n;
}

po_result *po_pool_next(po_pool *p)
{
	po_result *j;

	if (!p)
		return NULL;
	j = pop(&p->conn->d_head, &p->conn->d_tail);
	if (j) {
		p->submitted--;
		if (!j->res.errmsg)
			j->res.errmsg = strdup("");
	}
	return j;
}

void po_result_free(po_result *r)
{
	job_free(r);
}

void *po_result_tag(const po_result *r)
{
	return r ? r->tag : NULL;
}

po_letter *po_result_letter(const po_result *r)
{
	return r ? r->letter : NULL;
}

int po_result_status(const po_result *r)
{
	return r ? r->res.status : PO_EINVAL;
}

int po_result_reply_code(const po_result *r)
{
	return r ? r->res.code : 0;
}

const char *po_result_enhanced_code(const po_result *r)
{
	return r ? r->res.enhanced : "";
}

const char *po_result_reply(const po_result *r)
{
	return r && r->res.reply ? r->res.reply : "";
}

const char *po_result_command(const po_result *r)
{
	return r && r->res.command ? r->res.command : "";
}

const char *po_result_errmsg(const po_result *r)
{
	return r && r->res.errmsg ? r->res.errmsg : "";
}

const char *po_result_message_id(const po_result *r)
{
	return r && r->res.message_id ? r->res.message_id : "";
}

size_t po_result_refused_count(const po_result *r)
{
	return r ? r->res.nrefused : 0;
}

const char *po_result_refused_address(const po_result *r, size_t i)
{
	return r && i < r->res.nrefused ? r->res.refused[i].address : NULL;
}

int po_result_refused_code(const po_result *r, size_t i)
{
	return r && i < r->res.nrefused ? r->res.refused[i].code : 0;
}

const char *po_result_refused_reply(const po_result *r, size_t i)
{
	return r && i < r->res.nrefused ? r->res.refused[i].reply : NULL;
}

int po_result_outcome_unknown(const po_result *r)
{
	return r ? r->res.unknown : 0;
}
