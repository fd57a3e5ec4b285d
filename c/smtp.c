/* smtp.c - delivery over SMTP(S) through libcurl, and sessions.
 *
 * RFC 5321 (SMTP: §4.1.1 commands, §4.2 replies, §4.5.3.2 timeouts),
 * RFC 3207 (STARTTLS), RFC 8314 (implicit TLS), RFC 4954 (AUTH), RFC 3463
 * (enhanced status codes), RFC 6531 (SMTPUTF8), RFC 5890 (IDNA).
 *
 * libcurl runs the dialogue; we watch it from two callbacks.  The debug
 * callback shows each command as it is sent (so we know which command a
 * reply answers, and can mask secrets), and the header callback gets
 * every reply line (so we have the server's words, which libcurl's error
 * buffer never holds, and can stop the transaction between the EHLO reply
 * and MAIL FROM).  The traps of libcurl 7.88 this file steers around are
 * in shared/docs/libcurl-notes.md §0:
 * - addresses are checked by address.c before they reach MAIL/RCPT;
 * - the body comes from the renderer, CRLF throughout, so libcurl's
 *   dot-stuffing (after CRLF only) is complete; INFILESIZE is never set,
 *   so its truncation bug cannot trigger;
 * - an empty recipient list never reaches libcurl (it would send HELP);
 * - STARTTLS is CURLUSESSL_ALL unless the caller opted into TRY;
 * - the mechanism list is always set, so GSSAPI is never picked unasked;
 * - one easy handle per po_smtp, whose server, TLS settings and
 *   credentials are frozen once it has connected (reuse matching in 7.88
 *   ignores some of them);
 * - SERVER_RESPONSE_TIMEOUT bounds every reply and the QUIT on cleanup.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <idn2.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "address.h"
#include "encode.h"
#include "po_private.h"

#define DEFAULT_CONNECT_MS 30000L
#define DEFAULT_REPLY_MS 120000L
#define DEFAULT_STALL_MS 60000L
#define DEFAULT_TOTAL_MS 600000L
#define DEFAULT_CLOSE_MS 5000L
#define REPLY_MAX 4096 /* keep at most this much of one reply's text */
#define NTLSOPT 11

/* What the most recent command was, so a reply can be understood. */
enum step {
	ST_CONNECT,  /* before the greeting */
	ST_GREETING, /* the greeting is being read */
	ST_EHLO,
	ST_HELO,
	ST_STARTTLS,
	ST_AUTH,
	ST_MAIL,
	ST_RCPT,
	ST_DATA,
	ST_BODY, /* the message is being sent */
	ST_EOD,  /* the final dot was sent; waiting for the reply */
	ST_QUIT,
	ST_VRFY,
	ST_OTHER
};

typedef struct refusal {
	char *address;
	int code;
	char *reply;
} refusal;

struct po_smtp {
	CURL *curl;
	int frozen; /* connected once: server, TLS, credentials fixed */

	/* settings */
	char *host;     /* for the URL: A-label, or [IPv6] */
	unsigned port;
	int security;
	int verify;
	char *tlsopt[NTLSOPT];
	char *user, *password, *bearer;
	char *mechs;    /* CURLOPT_LOGIN_OPTIONS, or NULL for the default */
	long connect_ms, reply_ms, stall_ms, total_ms, close_ms;
	char *ehlo;     /* NULL: computed at the first connection */
	int partial;
	int one_shot;   /* po_smtp_set_keep_alive(0) */
	po_trace_fn trace;
	void *trace_ud;

	/* the transaction in progress */
	po_reader *reader;
	int reader_status;
	size_t body_bytes;
	po_letter *letter;
	enum step step;
	char cmd[512];       /* the last command, masked */
	char rcpt[300];      /* the address of the last RCPT */
	po__buf line;        /* the reply being read, lines joined by \n */
	int line_code;
	int masking;         /* a 334 came: the next client line is secret */
	int tls_up;          /* STARTTLS done */
	int cap_auth, cap_starttls, cap_smtputf8, saw_ehlo;
	int abort_status;    /* why the header callback stopped libcurl */
	int performed;       /* libcurl ran: errors are about the dialogue */
	/* what the open connection's last EHLO said, for reused ones */
	int conn_known, conn_smtputf8, conn_creds_unused;
	int got_reply;       /* a complete reply to the last command came */
	int quitting;        /* QUIT was sent: replies no longer count */
	int accepted;        /* 250 to the final dot */
	char errbuf[CURL_ERROR_SIZE];

	/* the outcome */
	int code;
	char enhanced[16];
	char *reply;
	char *command;
	char *errmsg;
	char *message_id;
	refusal *refused;
	size_t nrefused, caprefused;
	int creds_unused, unknown, reused;
};

/* ---------------------------------------------------------------------
 * Global initialisation */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static CURLcode init_result;

static void init_curl(void)
{
	init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int po_init(void)
{
	pthread_once(&init_once, init_curl);
	if (init_result != CURLE_OK)
		return po__fail(PO_ETRANSPORT, "libcurl initialisation: %s",
				curl_easy_strerror(init_result));
	return PO_OK;
}

/* ---------------------------------------------------------------------
 * Handle and settings */

po_smtp *po_smtp_new(void)
{
	po_smtp *s;

	if (po_init())
		return NULL;
	s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->verify = 1;
	s->connect_ms = DEFAULT_CONNECT_MS;
	s->reply_ms = DEFAULT_REPLY_MS;
	s->stall_ms = DEFAULT_STALL_MS;
	s->total_ms = DEFAULT_TOTAL_MS;
	s->close_ms = DEFAULT_CLOSE_MS;
	return s;
}

static void drop_handle(po_smtp *s, long close_ms);

/* Wipe a secret before freeing it. */
static void free_secret(char *p)
{
	if (p) {
		explicit_bzero(p, strlen(p));
		free(p);
	}
}

static void clear_refused(po_smtp *s)
{
	size_t i;

	for (i = 0; i < s->nrefused; i++) {
		free(s->refused[i].address);
		free(s->refused[i].reply);
	}
	s->nrefused = 0;
}

static void clear_outcome(po_smtp *s)
{
	clear_refused(s);
	free(s->reply);
	free(s->command);
	free(s->errmsg);
	free(s->message_id);
	s->reply = s->command = s->errmsg = s->message_id = NULL;
	s->code = 0;
	s->enhanced[0] = '\0';
	s->creds_unused = s->unknown = s->reused = 0;
}

static long seconds(long ms)
{
	return ms < 0 ? 0 : (ms + 999) / 1000;
}

/* Close the connection: QUIT, waiting at most close_ms for its reply. */
static void close_curl(po_smtp *s, long close_ms)
{
	if (!s->curl)
		return;
	curl_easy_setopt(s->curl, CURLOPT_SERVER_RESPONSE_TIMEOUT,
			 seconds(close_ms) ? seconds(close_ms) : 1L);
	curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS,
			 close_ms > 0 ? close_ms : 1000L);
	/* libcurl 7.88 sends the QUIT of a cached connection through an
	 * internal "closure handle", which copies the timeouts of the last
	 * transfer *started* (curl_multi_add_handle), not the ones set now:
	 * without this, closing would wait the whole reply timeout (120 s by
	 * default) for a server that does not answer QUIT.  So start a
	 * transfer that fails at once on its URL, touching no connection,
	 * for libcurl to copy these. */
	curl_easy_setopt(s->curl, CURLOPT_VERBOSE, 0L);
	curl_easy_setopt(s->curl, CURLOPT_URL, "x-po-close://");
	(void)curl_easy_perform(s->curl);
	curl_easy_cleanup(s->curl);
	s->curl = NULL;
}

void po_smtp_free(po_smtp *s)
{
	int i;

	if (!s)
		return;
	drop_handle(s, s->close_ms);
	clear_outcome(s);
	free(s->refused);
	free(s->host);
	for (i = 0; i < NTLSOPT; i++)
		free_secret(s->tlsopt[i]);
	free(s->user);
	free_secret(s->password);
	free_secret(s->bearer);
	free(s->mechs);
	free(s->ehlo);
	po__buf_free(&s->line);
	free(s);
}

#define FROZEN(s, what)                                                     \
	do {                                                                \
		if (!(s))                                                   \
			return po__fail(PO_EINVAL, "%s: no handle", what);  \
		if ((s)->frozen)                                            \
			return po__fail(PO_EBUSY,                           \
					"%s: fixed once the session has "   \
					"connected",                        \
					what);                              \
	} while (0)

static int replace(char **slot, const char *value, int secret)
{
	char *copy = NULL;

	if (value) {
		copy = strdup(value);
		if (!copy)
			return po__fail(PO_ENOMEM, NULL);
	}
	if (secret)
		free_secret(*slot);
	else
		free(*slot);
	*slot = copy;
	return PO_OK;
}

static int has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return 1;
	return 0;
}

int po_smtp_set_server(po_smtp *s, const char *host, unsigned port)
{
	unsigned char addr[16];
	char tmp[INET6_ADDRSTRLEN + 64], *url = NULL;
	size_t n;
	int rc;

	FROZEN(s, "server");
	if (!host || !*host)
		return po__fail(PO_EINVAL, "server: no host name");
	if (has_ctl(host))
		return po__fail(PO_EINVAL,
				"server \"%.80s\": white space or control "
				"character",
				host);
	if (port > 65535)
		return po__fail(PO_EINVAL, "server: port %u out of range",
				port);
	n = strlen(host);
	if (host[0] == '[' && host[n - 1] == ']') {
		host++;
		n -= 2;
	}
	if (n < sizeof tmp && memchr(host, ':', n)) {
		/* An IPv6 literal, maybe with a zone ("fe80::1%eth0"). */
		char *zone;

		memcpy(tmp, host, n);
		tmp[n] = '\0';
		zone = strchr(tmp, '%');
		if (zone)
			*zone++ = '\0';
		if (inet_pton(AF_INET6, tmp, addr) != 1)
			return po__fail(PO_EINVAL,
					"server \"%.80s\": not an IPv6 "
					"address",
					host);
		rc = zone ? asprintf(&url, "[%s%%25%s]", tmp, zone)
			  : asprintf(&url, "[%s]", tmp);
		if (rc < 0)
			return po__fail(PO_ENOMEM, NULL);
	} else if (!po__is_ascii(host, n)) {
		char *in = strndup(host, n);

		if (!in)
			return po__fail(PO_ENOMEM, NULL);
		rc = idn2_to_ascii_8z(in, &url, IDN2_NONTRANSITIONAL);
		free(in);
		if (rc != IDN2_OK)
			return po__fail(PO_EINVAL,
					"server \"%.80s\": bad international "
					"name: %s",
					host, idn2_strerror(rc));
	} else {
		size_t i;

		for (i = 0; i < n; i++)
			if (!isalnum((unsigned char)host[i]) &&
			    !strchr(".-_", host[i]))
				return po__fail(PO_EINVAL,
						"server \"%.80s\": not a host "
						"name or address",
						host);
		url = strndup(host, n);
		if (!url)
			return po__fail(PO_ENOMEM, NULL);
	}
	free(s->host);
	s->host = url;
	s->port = port;
	return PO_OK;
}

int po_smtp_set_security(po_smtp *s, int mode)
{
	FROZEN(s, "security");
	if (mode < PO_TLS_NONE || mode > PO_TLS_STARTTLS_TRY)
		return po__fail(PO_EINVAL, "security mode %d: unknown", mode);
	s->security = mode;
	return PO_OK;
}

int po_smtp_set_verify(po_smtp *s, int verify)
{
	FROZEN(s, "verify");
	s->verify = verify != 0;
	return PO_OK;
}

int po_smtp_set_tls_option(po_smtp *s, int option, const char *value)
{
	FROZEN(s, "TLS option");
	if (option < PO_TLSOPT_CA_FILE || option > PO_TLSOPT_SERVER_NAME)
		return po__fail(PO_EINVAL, "TLS option %d: unknown", option);
	if (value && option == PO_TLSOPT_MIN_VERSION &&
	    strcmp(value, "1.0") && strcmp(value, "1.1") &&
	    strcmp(value, "1.2") && strcmp(value, "1.3"))
		return po__fail(PO_EINVAL,
				"TLS version \"%.20s\": not 1.0, 1.1, 1.2 or "
				"1.3",
				value);
	if (value && option == PO_TLSOPT_SERVER_NAME &&
	    po__domain_check(value, strlen(value), "TLS server name"))
		return PO_EINVAL;
	return replace(&s->tlsopt[option], value,
		       option == PO_TLSOPT_KEY_PASSWORD);
}

/* The user and one secret (slot: the password or the bearer token). */
static int set_credentials(po_smtp *s, const char *what, const char *user,
			   char **slot, const char *secret)
{
	int rc;

	FROZEN(s, what);
	if (!user != !secret)
		return po__fail(PO_EINVAL, "%s: give both the user and the "
					   "secret, or neither",
				what);
	rc = replace(&s->user, user, 0);
	if (!rc)
		rc = replace(slot, secret, 1);
	return rc;
}

int po_smtp_set_auth(po_smtp *s, const char *user, const char *password)
{
	return set_credentials(s, "credentials", user, s ? &s->password : NULL,
			       password);
}

int po_smtp_set_bearer(po_smtp *s, const char *user, const char *token)
{
	return set_credentials(s, "bearer token", user, s ? &s->bearer : NULL,
			       token);
}

/* Equal strings (NULL only equals NULL), in time that depends on the
 * lengths only, not on where they differ. */
static int same_secret(const char *a, const char *b)
{
	size_t na, nb, i;
	unsigned char diff = 0;

	if (!a || !b)
		return a == b;
	na = strlen(a);
	nb = strlen(b);
	for (i = 0; i < na && i < nb; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0 && na == nb;
}

int po_smtp_has_credentials(const po_smtp *s, const char *user,
			    const char *password, const char *token)
{
	int same;

	if (!s)
		return 0;
	same = same_secret(s->user, user);
	same &= same_secret(s->password, password);
	same &= same_secret(s->bearer, token);
	return same;
}

int po_smtp_set_auth_mechanisms(po_smtp *s, const char *mechs)
{
	static const char *const known[] = {
		"PLAIN",   "LOGIN",       "CRAM-MD5", "DIGEST-MD5", "NTLM",
		"XOAUTH2", "OAUTHBEARER", "GSSAPI",   "EXTERNAL"};
	po__buf opts = PO__BUF_INIT;
	const char *p;
	int rc = PO_OK;

	FROZEN(s, "AUTH mechanisms");
	if (!mechs)
		return replace(&s->mechs, NULL, 0);
	for (p = mechs; *p;) {
		size_t n = strcspn(p, " ,"), i;

		if (n == 0) {
			p++;
			continue;
		}
		for (i = 0; i < sizeof known / sizeof known[0]; i++)
			if (strlen(known[i]) == n &&
			    strncasecmp(p, known[i], n) == 0)
				break;
		if (i == sizeof known / sizeof known[0]) {
			rc = po__fail(PO_EINVAL,
				      "AUTH mechanism \"%.*s\": unknown",
				      (int)(n > 40 ? 40 : n), p);
			goto out;
		}
		if (po__buf_printf(&opts, "%sAUTH=%s", opts.len ? ";" : "",
				   known[i])) {
			rc = po__fail(PO_ENOMEM, NULL);
			goto out;
		}
		p += n;
	}
	if (!opts.len) {
		rc = po__fail(PO_EINVAL, "AUTH mechanisms: empty list");
		goto out;
	}
	free(s->mechs);
	s->mechs = po__buf_steal(&opts);
out:
	po__buf_free(&opts);
	return rc;
}

int po_smtp_set_timeouts(po_smtp *s, long connect_ms, long reply_ms,
			 long stall_ms, long total_ms)
{
	if (!s)
		return po__fail(PO_EINVAL, "timeouts: no handle");
	if (connect_ms)
		s->connect_ms = connect_ms;
	if (reply_ms)
		s->reply_ms = reply_ms;
	if (stall_ms)
		s->stall_ms = stall_ms;
	if (total_ms)
		s->total_ms = total_ms;
	/* the QUIT at close waits no longer than any other reply would */
	if (s->reply_ms > 0 && s->reply_ms < s->close_ms)
		s->close_ms = s->reply_ms;
	return PO_OK;
}

int po_smtp_set_ehlo_name(po_smtp *s, const char *name)
{
	FROZEN(s, "EHLO name");
	if (name && po__domain_check(name, strlen(name), "EHLO name"))
		return PO_EINVAL;
	return replace(&s->ehlo, name, 0);
}

int po_smtp_set_partial_delivery(po_smtp *s, int on)
{
	if (!s)
		return po__fail(PO_EINVAL, "partial delivery: no handle");
	s->partial = on != 0;
	return PO_OK;
}

int po_smtp_set_keep_alive(po_smtp *s, int on)
{
	if (!s)
		return po__fail(PO_EINVAL, "keep-alive: no handle");
	s->one_shot = !on;
	return PO_OK;
}

int po_smtp_set_trace(po_smtp *s, po_trace_fn fn, void *userdata)
{
	if (!s)
		return po__fail(PO_EINVAL, "trace: no handle");
	s->trace = fn;
	s->trace_ud = userdata;
	return PO_OK;
}

/* ---------------------------------------------------------------------
 * The EHLO name (RFC 5321 §4.1.1.1: a FQDN, or an address literal) */

static int fqdn(char *out, size_t n)
{
	struct addrinfo hints = {0}, *res = NULL;
	char name[256];
	int ok = 0;

	if (gethostname(name, sizeof name) != 0)
		return 0;
	name[sizeof name - 1] = '\0';
	if (strchr(name, '.') &&
	    po__domain_check(name, strlen(name), "host name") == PO_OK) {
		snprintf(out, n, "%s", name);
		return 1;
	}
	hints.ai_flags = AI_CANONNAME;
	hints.ai_family = AF_UNSPEC;
	if (getaddrinfo(name, NULL, &hints, &res) == 0 && res &&
	    res->ai_canonname && strchr(res->ai_canonname, '.') &&
	    strncmp(res->ai_canonname, "localhost", 9) != 0 &&
	    po__domain_check(res->ai_canonname, strlen(res->ai_canonname),
			     "host name") == PO_OK) {
		snprintf(out, n, "%s", res->ai_canonname);
		ok = 1;
	}
	if (res)
		freeaddrinfo(res);
	return ok;
}

/* The local address used to reach the server, as an address literal.
 * Connecting a UDP socket sends nothing; it only picks the route. */
static void local_literal(const po_smtp *s, char *out, size_t n)
{
	struct addrinfo hints = {0}, *res = NULL;
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char host[INET6_ADDRSTRLEN + 2], addr[INET6_ADDRSTRLEN];
	int fd = -1;

	snprintf(out, n, "[127.0.0.1]");
	snprintf(host, sizeof host, "%s", s->host);
	if (host[0] == '[') {
		char *end = strchr(host, ']'), *zone = strstr(host, "%25");

		if (end)
			*end = '\0';
		if (zone)
			*zone = '\0';
		memmove(host, host + 1, strlen(host));
	}
	hints.ai_socktype = SOCK_DGRAM;
	if (getaddrinfo(host, "25", &hints, &res) != 0 || !res)
		return;
	fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0 &&
	    getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET &&
		    inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
			      addr, sizeof addr))
			snprintf(out, n, "[%s]", addr);
		else if (ss.ss_family == AF_INET6 &&
			 inet_ntop(AF_INET6,
				   &((struct sockaddr_in6 *)&ss)->sin6_addr,
				   addr, sizeof addr))
			snprintf(out, n, "[IPv6:%s]", addr);
	}
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
}

/* The default EHLO name, looked up once per process (the host name) or
 * once per server (the local address used to reach it), not once per
 * connection: the lookups cost more than the rest of a connection's
 * set-up (bench/run.sh, strace -c). */
static pthread_once_t fqdn_once = PTHREAD_ONCE_INIT;
static char fqdn_name[256];
static int fqdn_ok;
static pthread_mutex_t literal_lock = PTHREAD_MUTEX_INITIALIZER;
static char literal_host[256], literal_name[INET6_ADDRSTRLEN + 8];

static void fqdn_init(void)
{
	fqdn_ok = fqdn(fqdn_name, sizeof fqdn_name);
}

static void default_ehlo(const po_smtp *s, char *out, size_t n)
{
	pthread_once(&fqdn_once, fqdn_init);
	if (fqdn_ok) {
		snprintf(out, n, "%s", fqdn_name);
		return;
	}
	pthread_mutex_lock(&literal_lock);
	if (strcmp(literal_host, s->host) != 0) {
		local_literal(s, literal_name, sizeof literal_name);
		snprintf(literal_host, sizeof literal_host, "%s", s->host);
	}
	snprintf(out, n, "%s", literal_name);
	pthread_mutex_unlock(&literal_lock);
}

/* ---------------------------------------------------------------------
 * Watching the dialogue */

static void trace(po_smtp *s, int dir, const char *text, size_t n)
{
	while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		n--;
	if (s->trace)
		s->trace(s->trace_ud, dir, text, n);
}

static enum step classify(const char *cmd, size_t n)
{
	static const struct {
		const char *verb;
		enum step step;
	} verbs[] = {
		{"EHLO", ST_EHLO}, {"HELO", ST_HELO}, {"STARTTLS", ST_STARTTLS},
		{"AUTH", ST_AUTH}, {"MAIL", ST_MAIL}, {"RCPT", ST_RCPT},
		{"DATA", ST_DATA}, {"QUIT", ST_QUIT}, {"VRFY", ST_VRFY},
	};
	size_t i, len;

	for (i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
		len = strlen(verbs[i].verb);
		if (n >= len && strncasecmp(cmd, verbs[i].verb, len) == 0 &&
		    (n == len || cmd[len] == ' ' || cmd[len] == '\r'))
			return verbs[i].step;
	}
	return ST_OTHER;
}

/* A command libcurl sent, shown to us before its reply comes. */
static void on_command(po_smtp *s, const char *data, size_t n)
{
	char shown[sizeof s->cmd];
	const char *traced = shown;
	enum step step;

	while (n && (data[n - 1] == '\n' || data[n - 1] == '\r'))
		n--;
	if (s->masking) {
		/* an answer to a 334 challenge: credentials.  The trace shows
		 * only "<masked>"; the outcome names the exchange it belongs
		 * to ("AUTH CRAM-MD5 <masked>") from the AUTH command before,
		 * which s->cmd still holds. */
		const char *sp = strchr(s->cmd, ' ');
		int mech = sp ? (int)strcspn(sp + 1, " ") : 0;

		if (strncmp(s->cmd, "AUTH ", 5) == 0 && mech > 0)
			snprintf(shown, sizeof shown, "AUTH %.*s <masked>",
				 mech, sp + 1);
		else
			snprintf(shown, sizeof shown, "<masked>");
		traced = "<masked>";
		step = ST_AUTH;
	} else {
		step = classify(data, n);
		if (step == ST_AUTH) {
			/* "AUTH MECH initial-response": keep the mechanism */
			const char *sp = memchr(data, ' ', n);
			const char *sp2 =
				sp ? memchr(sp + 1, ' ', n - (size_t)(sp + 1 -
								      data))
				   : NULL;

			if (sp2)
				snprintf(shown, sizeof shown, "%.*s <masked>",
					 (int)(sp2 - data), data);
			else
				snprintf(shown, sizeof shown, "%.*s", (int)n,
					 data);
		} else {
			snprintf(shown, sizeof shown, "%.*s",
				 (int)(n < sizeof shown - 1 ? n
							    : sizeof shown - 1),
				 data);
		}
	}
	trace(s, PO_TRACE_CLIENT, traced, strlen(traced));
	/* libcurl sends QUIT right after a failure: the outcome stays the
	 * failure's, and the QUIT's reply is only traced */
	if (step == ST_QUIT) {
		s->quitting = 1;
		return;
	}
	s->step = step;
	s->got_reply = 0;
	memcpy(s->cmd, shown, sizeof s->cmd);
	if (step == ST_RCPT) {
		const char *lt = memchr(data, '<', n);
		const char *gt = lt ? memchr(lt, '>', n - (size_t)(lt - data))
				    : NULL;

		if (lt && gt)
			snprintf(s->rcpt, sizeof s->rcpt, "%.*s",
				 (int)(gt - lt - 1), lt + 1);
		else
			s->rcpt[0] = '\0';
	}
}

static int debug_cb(CURL *h, curl_infotype type, char *data, size_t n,
		    void *ud)
{
	po_smtp *s = ud;

	(void)h;
	if (type == CURLINFO_HEADER_OUT)
		on_command(s, data, n);
	else if (type == CURLINFO_TEXT)
		trace(s, PO_TRACE_INFO, data, n);
	return 0;
}

/* "250 2.0.0 Ok" -> "2.0.0" (RFC 3463 §2: class.subject.detail, the class
 * matching the reply's first digit). */
static void enhanced_code(const char *line, int code, char out[16])
{
	const char *p = line + 4;
	size_t n = strspn(p, "0123456789.");

	out[0] = '\0';
	if (n < 5 || n > 11 || p[0] - '0' != code / 100 || p[1] != '.')
		return;
	if (p[n] != ' ' && p[n] != '\0' && p[n] != '\r' && p[n] != '\n')
		return;
	if (p[n - 1] == '.' || !memchr(p + 2, '.', n - 2))
		return;
	memcpy(out, p, n);
	out[n] = '\0';
}

static int add_refusal(po_smtp *s, const char *address, int code,
		       const char *reply)
{
	refusal *r;

	if (s->nrefused == s->caprefused) {
		size_t cap = s->caprefused ? s->caprefused * 2 : 4;

		r = realloc(s->refused, cap * sizeof *r);
		if (!r)
			return -1;
		s->refused = r;
		s->caprefused = cap;
	}
	r = &s->refused[s->nrefused];
	r->address = strdup(address);
	r->reply = strdup(reply);
	r->code = code;
	if (!r->address || !r->reply) {
		free(r->address);
		free(r->reply);
		return -1;
	}
	s->nrefused++;
	return 0;
}

/* The capabilities in one EHLO reply line ("250-AUTH PLAIN LOGIN").
 * Keywords are case-insensitive (RFC 5321 §2.4). */
static void capability(po_smtp *s, const char *line, size_t n)
{
	const char *kw = line + 4;
	size_t kn = n > 4 ? n - 4 : 0;

	if (kn >= 8 && strncasecmp(kw, "STARTTLS", 8) == 0)
		s->cap_starttls = 1;
	else if (kn >= 5 && (strncasecmp(kw, "AUTH ", 5) == 0 ||
			     strncasecmp(kw, "AUTH=", 5) == 0))
		s->cap_auth = 1;
	else if (kn >= 8 && strncasecmp(kw, "SMTPUTF8", 8) == 0)
		s->cap_smtputf8 = 1;
}

/* A complete reply arrived.  Returns 0 to stop libcurl. */
static int on_reply(po_smtp *s)
{
	const char *text = s->line.p;
	int code = s->line_code;

	s->got_reply = 1;
	if (s->step == ST_CONNECT)
		s->step = ST_GREETING;
	/* keep the reply as the candidate outcome */
	free(s->reply);
	s->reply = strdup(text);
	s->code = code;
	enhanced_code(text, code, s->enhanced);
	free(s->command);
	s->command = strdup(s->step == ST_GREETING ? ""
			    : s->step == ST_EOD	    ? "."
						    : s->cmd);

	s->masking = s->step == ST_AUTH && code == 334;
	/* a go-ahead is not an outcome: if nothing answers what follows, the
	 * failure is about that (a TLS handshake, an AUTH exchange) */
	if (s->masking)
		s->got_reply = 0;
	switch (s->step) {
	case ST_STARTTLS:
		if (code == 220) {
			s->tls_up = 1;
			s->saw_ehlo = 0;
			s->got_reply = 0;
		}
		break;
	case ST_EHLO:
	case ST_HELO: {
		/* the last EHLO before MAIL: after TLS if TLS is coming */
		int final = s->security == PO_TLS_NONE ||
			    s->security == PO_TLS_IMPLICIT || s->tls_up ||
			    (s->security == PO_TLS_STARTTLS_TRY &&
			     !s->cap_starttls);

		/* RFC 5321 §3.8: 421 means the server is closing; libcurl would
		 * try HELO on the dead connection and report that instead */
		if (code == 421) {
			s->abort_status = PO_EHELO;
			return 0;
		}
		if (code / 100 != 2 || !final)
			break;
		s->saw_ehlo = 1;
		s->creds_unused = (s->user || s->bearer) && !s->cap_auth;
		s->conn_known = 1;
		s->conn_smtputf8 = s->cap_smtputf8;
		s->conn_creds_unused = s->creds_unused;
		if (s->letter && s->letter->smtputf8 && !s->cap_smtputf8) {
			s->abort_status = PO_ESMTPUTF8;
			return 0;
		}
		break;
	}
	case ST_RCPT:
		if (code >= 400 && add_refusal(s, s->rcpt, code, text)) {
			s->abort_status = PO_ENOMEM;
			return 0;
		}
		break;
	case ST_EOD:
		/* RFC 5321 §4.2.1: the first digit decides; libcurl wants 250
		 * exactly and fails a 251, but the server has the letter */
		s->accepted = code / 100 == 2;
		break;
	case ST_DATA:
		/* the 354 is a go-ahead, not an outcome: what counts next is
		 * the reply to the final dot */
		if (code == 354) {
			s->step = ST_BODY;
			s->got_reply = 0;
		}
		break;
	default:
		break;
	}
	return 1;
}

/* Every reply line the server sends. */
static size_t header_cb(char *data, size_t size, size_t nitems, void *ud)
{
	po_smtp *s = ud;
	size_t n = size * nitems, len = n;
	int code, last;

	while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		len--;
	trace(s, PO_TRACE_SERVER, data, len);
	if (len < 3 || !isdigit((unsigned char)data[0]) ||
	    !isdigit((unsigned char)data[1]) ||
	    !isdigit((unsigned char)data[2]))
		return n;
	code = (data[0] - '0') * 100 + (data[1] - '0') * 10 + (data[2] - '0');
	last = len == 3 || data[3] != '-';
	if (s->line_code != code || s->line.len == 0) {
		s->line.len = 0;
		s->line_code = code;
		if (s->line.p)
			s->line.p[0] = '\0';
		/* a new reply resets what an EHLO reply tells */
		if (s->step == ST_EHLO || s->step == ST_HELO)
			s->cap_auth = s->cap_starttls = s->cap_smtputf8 = 0;
	}
	if (s->step == ST_EHLO)
		capability(s, data, len);
	if (s->line.len < REPLY_MAX &&
	    ((s->line.len && po__buf_putc(&s->line, '\n')) ||
	     po__buf_append(&s->line, data,
			    len < REPLY_MAX ? len : REPLY_MAX))) {
		s->abort_status = PO_ENOMEM;
		return 0;
	}
	if (last) {
		int go = s->quitting ? 1 : on_reply(s);

		s->line.len = 0;
		s->line_code = 0;
		if (!go)
			return 0;
	}
	return n;
}

/* libcurl sends QUIT after a failure and waits for its reply as long as
 * for any reply (the whole reply timeout again after a timeout, inside
 * curl_easy_perform).  Nothing depends on that reply, so the progress
 * callback, which libcurl calls at least once a second while it waits,
 * ends the wait. */
static int progress_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	po_smtp *s = ud;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return s->quitting && !s->accepted;
}

/* libcurl hands VRFY replies to the write callback too; we have them from
 * the header callback, and must never print them (its default is
 * fwrite to stdout). */
static size_t discard_cb(char *buf, size_t size, size_t nitems, void *ud)
{
	(void)buf;
	(void)ud;
	return size * nitems;
}

static size_t read_cb(char *buf, size_t size, size_t nitems, void *ud)
{
	po_smtp *s = ud;
	size_t n = 0;
	int rc;

	rc = po_reader_read(s->reader, buf, size * nitems, &n);
	if (rc) {
		s->reader_status = rc;
		return CURL_READFUNC_ABORT;
	}
	if (n == 0) {
		s->step = ST_EOD;
		s->got_reply = 0;
	}
	s->body_bytes += n;
	return n;
}

/* ---------------------------------------------------------------------
 * Configuring libcurl */

static int configure(po_smtp *s)
{
	static const CURLoption tls_opts[NTLSOPT] = {
		[PO_TLSOPT_CA_FILE] = CURLOPT_CAINFO,
		[PO_TLSOPT_CA_PATH] = CURLOPT_CAPATH,
		[PO_TLSOPT_CERT] = CURLOPT_SSLCERT,
		[PO_TLSOPT_KEY] = CURLOPT_SSLKEY,
		[PO_TLSOPT_KEY_PASSWORD] = CURLOPT_KEYPASSWD,
		[PO_TLSOPT_CRL_FILE] = CURLOPT_CRLFILE,
		[PO_TLSOPT_CIPHERS] = CURLOPT_SSL_CIPHER_LIST,
		[PO_TLSOPT_TLS13_CIPHERS] = CURLOPT_TLS13_CIPHERS,
	};
	char ehlo[300], *esc = NULL, *url = NULL, connect_to[600];
	const char *host = s->host;
	const char *vs = s->tlsopt[PO_TLSOPT_MIN_VERSION];
	long version = CURL_SSLVERSION_TLSv1_2;
	unsigned port = s->port;
	CURL *h;
	int i, rc = PO_OK;

	if (!s->host)
		return po__fail(PO_EINVAL, "no server given");
	if (!port)
		port = s->security == PO_TLS_IMPLICIT ? 465 : 25;
	if (s->ehlo)
		snprintf(ehlo, sizeof ehlo, "%s", s->ehlo);
	else
		default_ehlo(s, ehlo, sizeof ehlo);

	h = curl_easy_init();
	if (!h)
		return po__fail(PO_ENOMEM, NULL);
	/* The URL path is the EHLO argument (libcurl-notes §1). */
	esc = curl_easy_escape(h, ehlo, 0);
	if (s->tlsopt[PO_TLSOPT_SERVER_NAME]) {
		/* verify and send SNI for server_name, connect to host */
		snprintf(connect_to, sizeof connect_to, "%s:%u:%s:%u",
			 s->tlsopt[PO_TLSOPT_SERVER_NAME], port, host, port);
		host = s->tlsopt[PO_TLSOPT_SERVER_NAME];
	}
	if (!esc || asprintf(&url, "%s://%s:%u/%s",
			     s->security == PO_TLS_IMPLICIT ? "smtps" : "smtp",
			     host, port, esc) < 0) {
		url = NULL;
		rc = po__fail(PO_ENOMEM, NULL);
		goto out;
	}
	if (vs)
		version = !strcmp(vs, "1.0")   ? CURL_SSLVERSION_TLSv1_0
			  : !strcmp(vs, "1.1") ? CURL_SSLVERSION_TLSv1_1
			  : !strcmp(vs, "1.3") ? CURL_SSLVERSION_TLSv1_3
					       : CURL_SSLVERSION_TLSv1_2;

#define SET(opt, val)                                                       \
	do {                                                                \
		if (curl_easy_setopt(h, opt, val) != CURLE_OK) {            \
			rc = po__fail(PO_ETRANSPORT, "libcurl refused %s",  \
				      #opt);                                \
			goto out;                                           \
		}                                                           \
	} while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_ERRORBUFFER, s->errbuf);
	SET(CURLOPT_VERBOSE, 1L);
	SET(CURLOPT_DEBUGFUNCTION, debug_cb);
	SET(CURLOPT_DEBUGDATA, s);
	SET(CURLOPT_HEADERFUNCTION, header_cb);
	SET(CURLOPT_HEADERDATA, s);
	SET(CURLOPT_WRITEFUNCTION, discard_cb);
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, progress_cb);
	SET(CURLOPT_XFERINFODATA, s);
	SET(CURLOPT_READFUNCTION, read_cb);
	SET(CURLOPT_READDATA, s);
	SET(CURLOPT_CRLF, 0L);
	if (s->connect_ms > 0)
		SET(CURLOPT_CONNECTTIMEOUT_MS, s->connect_ms);
	SET(CURLOPT_SERVER_RESPONSE_TIMEOUT, seconds(s->reply_ms));
	if (s->stall_ms > 0) {
		SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
		SET(CURLOPT_LOW_SPEED_TIME, seconds(s->stall_ms));
	}
	if (s->total_ms > 0)
		SET(CURLOPT_TIMEOUT_MS, s->total_ms);
	if (s->security == PO_TLS_STARTTLS)
		SET(CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	else if (s->security == PO_TLS_STARTTLS_TRY)
		SET(CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
	SET(CURLOPT_SSL_VERIFYPEER, s->verify ? 1L : 0L);
	SET(CURLOPT_SSL_VERIFYHOST, s->verify ? 2L : 0L);
	SET(CURLOPT_SSLVERSION, version);
	for (i = 0; i < NTLSOPT; i++)
		if (s->tlsopt[i] && tls_opts[i])
			SET(tls_opts[i], s->tlsopt[i]);
	if (s->tlsopt[PO_TLSOPT_SERVER_NAME]) {
		struct curl_slist *ct = curl_slist_append(NULL, connect_to);

		/* libcurl keeps the list: it lives as long as the handle,
		 * freed in po_smtp_free through the private pointer. */
		if (!ct) {
			rc = po__fail(PO_ENOMEM, NULL);
			goto out;
		}
		SET(CURLOPT_PRIVATE, ct);
		SET(CURLOPT_CONNECT_TO, ct);
	}
	if (s->user) {
		SET(CURLOPT_USERNAME, s->user);
		if (s->password)
			SET(CURLOPT_PASSWORD, s->password);
		if (s->bearer)
			SET(CURLOPT_XOAUTH2_BEARER, s->bearer);
		/* Never the automatic choice: it picks GSSAPI for names with
		 * '@' (libcurl-notes §4).  PLAIN goes with an initial response
		 * (RFC 4954 §4), saving a round trip and avoiding servers that
		 * refuse an empty AUTH PLAIN (KNOWN_BUGS 3.4). */
		SET(CURLOPT_LOGIN_OPTIONS,
		    s->mechs    ? s->mechs
		    : s->bearer ? "AUTH=OAUTHBEARER;AUTH=XOAUTH2"
				: "AUTH=CRAM-MD5;AUTH=PLAIN;AUTH=LOGIN");
		SET(CURLOPT_SASL_IR, 1L);
	}
#undef SET
	s->curl = h;
	h = NULL;
out:
	if (h)
		curl_easy_cleanup(h);
	curl_free(esc);
	free(url);
	return rc;
}

static void drop_handle(po_smtp *s, long close_ms)
{
	struct curl_slist *ct = NULL;

	s->conn_known = 0;
	if (!s->curl)
		return;
	curl_easy_getinfo(s->curl, CURLINFO_PRIVATE, (char **)&ct);
	close_curl(s, close_ms);
	curl_slist_free_all(ct);
}

/* ---------------------------------------------------------------------
 * Running a transaction */

static void reset_transaction(po_smtp *s)
{
	s->reader_status = PO_OK;
	s->body_bytes = 0;
	s->step = ST_CONNECT;
	s->cmd[0] = '\0';
	s->rcpt[0] = '\0';
	s->line.len = 0;
	s->line_code = 0;
	s->masking = 0;
	s->tls_up = 0;
	s->saw_ehlo = 0;
	s->abort_status = PO_OK;
	s->performed = 0;
	s->got_reply = 0;
	s->quitting = 0;
	s->accepted = 0;
	s->errbuf[0] = '\0';
}

static const char *step_name(enum step st)
{
	switch (st) {
	case ST_CONNECT:
		return "connecting";
	case ST_GREETING:
		return "waiting for the greeting";
	case ST_BODY:
		return "sending the message";
	case ST_EOD:
		return "waiting for the reply to the end of the message";
	default:
		return NULL;
	}
}

/* Set the outcome's message: "what: command: reply" or "what: detail". */
static int outcome(po_smtp *s, int status, const char *detail)
{
	po__buf m = PO__BUF_INIT;
	const char *where = step_name(s->step);
	int had_reply;

	/* a failed handshake is not the server's reply to anything (the 220
	 * to STARTTLS was a go-ahead) */
	if (status == PO_ETLS || status == PO_ECERT)
		s->got_reply = 0;
	had_reply = s->got_reply && s->reply && *s->reply;

	po__buf_puts(&m, po_strerror(status));
	if (s->step != ST_CONNECT && s->step != ST_GREETING &&
	    s->step != ST_BODY && s->step != ST_EOD && s->cmd[0]) {
		po__buf_puts(&m, ": ");
		po__buf_puts(&m, s->cmd);
	} else if (where && !had_reply) {
		po__buf_printf(&m, " (%s)", where);
	}
	if (had_reply) {
		po__buf_puts(&m, ": ");
		/* one line: the reply's lines joined with " / " */
		for (const char *p = s->reply; *p; p++)
			if (*p == '\n')
				po__buf_puts(&m, " / ");
			else
				po__buf_putc(&m, *p);
	}
	if (detail && *detail) {
		po__buf_puts(&m, had_reply ? " (" : ": ");
		po__buf_puts(&m, detail);
		if (had_reply)
			po__buf_putc(&m, ')');
	}
	free(s->errmsg);
	s->errmsg = po__buf_steal(&m);
	if (!s->got_reply) {
		/* the outcome is about a command with no reply */
		free(s->reply);
		s->reply = NULL;
		s->code = 0;
		s->enhanced[0] = '\0';
	}
	if (!s->got_reply || s->step == ST_BODY || s->step == ST_EOD) {
		/* the command that went unanswered (none before the
		 * greeting) */
		free(s->command);
		s->command = strdup(s->step == ST_EOD	? "."
				    : s->step == ST_BODY ? "DATA"
				    : s->step == ST_CONNECT ||
						    s->step == ST_GREETING
					    ? ""
					    : s->cmd);
	}
	return po__fail(status, "%s", s->errmsg ? s->errmsg : "");
}

/* Map libcurl's result to our status, using what we saw on the wire. */
static int classify_failure(po_smtp *s, CURLcode cc)
{
	int code = s->got_reply ? s->code : 0;

	if (s->abort_status)
		return s->abort_status;
	if (s->reader_status)
		return s->reader_status;
	switch (cc) {
	case CURLE_OUT_OF_MEMORY:
		return PO_ENOMEM;
	case CURLE_URL_MALFORMAT:
		return PO_EINVAL;
	case CURLE_COULDNT_RESOLVE_HOST:
		return PO_EDNS;
	case CURLE_COULDNT_CONNECT:
		return PO_ECONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return PO_ETIMEOUT;
	case CURLE_PEER_FAILED_VERIFICATION:
		return PO_ECERT;
	case CURLE_SSL_CONNECT_ERROR:
		/* OpenSSL reports some verification failures during the
		 * handshake as a connect error */
		if (strstr(s->errbuf, "certificate verify failed") ||
		    strstr(s->errbuf, "certificate has expired"))
			return PO_ECERT;
		return PO_ETLS;
	case CURLE_SSL_CERTPROBLEM: /* our client certificate or key */
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_SHUTDOWN_FAILED:
		return PO_ETLS;
	case CURLE_USE_SSL_FAILED:
		return PO_ESTARTTLS;
	case CURLE_LOGIN_DENIED:
	case CURLE_AUTH_ERROR:
		return s->step == ST_AUTH ? PO_EAUTH : PO_EAUTHMECH;
	case CURLE_REMOTE_ACCESS_DENIED:
		return PO_EHELO;
	default:
		break;
	}
	/* What is left is about a command and its reply (or its absence). */
	if (!code) {
		if (s->step == ST_CONNECT && cc == CURLE_RECV_ERROR)
			return PO_ECONNLOST;
		return cc == CURLE_WEIRD_SERVER_REPLY && s->got_reply
			       ? PO_EPROTOCOL
			       : PO_ECONNLOST;
	}
	switch (s->step) {
	case ST_GREETING:
		return PO_EGREETING;
	case ST_EHLO:
	case ST_HELO:
		return PO_EHELO;
	case ST_STARTTLS:
		return PO_ESTARTTLS;
	case ST_AUTH:
		return PO_EAUTH;
	case ST_MAIL:
		return PO_ESENDER;
	case ST_RCPT:
		return PO_ERECIPIENT;
	case ST_DATA:
		return PO_EDATA;
	case ST_EOD:
		return PO_EMESSAGE;
	default:
		return PO_EPROTOCOL;
	}
}

/* One attempt at the transaction on the current or a fresh connection. */
static int attempt(po_smtp *s, struct curl_slist *rcpts, const char *from,
		   int fresh)
{
	CURLcode cc;
	long connects = 0;
	int status;

	reset_transaction(s);
	if (!s->curl) {
		status = configure(s);
		if (status)
			return status;
	}
	s->frozen = 1;
	if (s->letter->smtputf8 && s->conn_known && !s->conn_smtputf8 &&
	    !fresh) {
		/* the open connection's server said no SMTPUTF8 already */
		s->performed = 1;
		s->step = ST_MAIL;
		return PO_ESMTPUTF8;
	}
	curl_easy_setopt(s->curl, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(s->curl, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(s->curl, CURLOPT_MAIL_RCPT, rcpts);
	curl_easy_setopt(s->curl, CURLOPT_MAIL_RCPT_ALLLOWFAILS,
			 s->partial ? 1L : 0L);
	curl_easy_setopt(s->curl, CURLOPT_CUSTOMREQUEST, NULL);
	curl_easy_setopt(s->curl, CURLOPT_FRESH_CONNECT, fresh ? 1L : 0L);
	/* one connection per letter: libcurl sends QUIT when it is done */
	curl_easy_setopt(s->curl, CURLOPT_FORBID_REUSE, s->one_shot ? 1L : 0L);

	s->performed = 1;
	cc = curl_easy_perform(s->curl);
	curl_easy_getinfo(s->curl, CURLINFO_NUM_CONNECTS, &connects);
	s->reused = connects == 0;
	if (s->reused && !s->saw_ehlo && s->conn_known)
		s->creds_unused = s->conn_creds_unused;
	if (cc == CURLE_OK && !s->abort_status && !s->reader_status)
		return PO_OK;
	if (cc == CURLE_WEIRD_SERVER_REPLY && s->accepted &&
	    s->step == ST_EOD && !s->abort_status && !s->reader_status) {
		/* a 2xx other than 250 to the final dot: accepted all the same,
		 * and a failure here would invite a duplicate; libcurl has
		 * closed the connection */
		s->conn_known = 0;
		return PO_OK;
	}
	/* libcurl closes the connection after any failure */
	s->conn_known = 0;
	status = classify_failure(s, cc);
	s->unknown = s->step == ST_EOD && !s->got_reply &&
		     (status == PO_ETIMEOUT || status == PO_ECONNLOST);
	return status;
}

/* A reused connection that failed before the message went out is worth
 * one more try on a fresh connection: the server may have closed it while
 * idle (a FIN or a 421 waiting unread: libcurl-notes §3). */
static int stale(const po_smtp *s, int status)
{
	if (!s->reused || s->body_bytes || s->step == ST_BODY ||
	    s->step == ST_EOD)
		return 0;
	return status == PO_ECONNLOST ||
	       (s->got_reply && s->code == 421);
}

int po_smtp_send(po_smtp *s, po_letter *l)
{
	struct curl_slist *rcpts = NULL, *tmp;
	char *from = NULL;
	size_t i, n;
	int status;

	if (!s)
		return po__fail(PO_EINVAL, "po_smtp_send: NULL argument");
	clear_outcome(s);
	if (!l) {
		status = po__fail(PO_EINVAL, "po_smtp_send: NULL letter");
		s->errmsg = strdup(po_last_error());
		return status;
	}
	status = po_init();
	if (status)
		return status;
	/* Render first: every input error comes before connecting. */
	status = po_reader_new(l, 0, &s->reader);
	if (status) {
		free(s->errmsg);
		s->errmsg = strdup(po_last_error());
		return status;
	}
	if (asprintf(&from, "<%s>", po_letter_envelope_from(l)) < 0) {
		from = NULL;
		status = po__fail(PO_ENOMEM, NULL);
		goto out;
	}
	n = po_letter_recipient_count(l);
	for (i = 0; i < n; i++) {
		char one[300];

		snprintf(one, sizeof one, "<%s>", po__letter_rcpt(l, i));
		tmp = curl_slist_append(rcpts, one);
		if (!tmp) {
			status = po__fail(PO_ENOMEM, NULL);
			goto out;
		}
		rcpts = tmp;
	}
	if (po_letter_message_id(l))
		s->message_id = strdup(po_letter_message_id(l));
	s->letter = l;
	status = attempt(s, rcpts, from, 0);
	if (status && stale(s, status)) {
		clear_refused(s);
		if (s->trace)
			trace(s, PO_TRACE_INFO,
			      "stale connection, retrying on a new one", 39);
		status = attempt(s, rcpts, from, 1);
	}
	if (status == PO_OK) {
		if (s->nrefused && !s->partial)
			status = PO_ERECIPIENT;
		else {
			free(s->errmsg);
			s->errmsg = strdup("");
		}
	}
	if (status && !s->performed) {
		/* refused before any dialogue: po_last_error() says why */
		free(s->errmsg);
		s->errmsg = strdup(po_last_error());
	} else if (status) {
		status = outcome(s, status,
				 status == PO_EREADER || status == PO_EIO ||
						 status == PO_ELINE
					 ? po_last_error()
					 : s->errbuf);
	}
	if (status && s->performed) {
		/* Never reuse a connection a transaction failed on: libcurl keeps
		 * some (a timeout waiting for the reply to the final dot leaves
		 * it "intact"), and a late reply would answer the next
		 * command.  The server failed us: QUIT gets a second at most. */
		drop_handle(s, 1000);
	}
out:
	s->letter = NULL;
	po_reader_free(s->reader);
	s->reader = NULL;
	curl_slist_free_all(rcpts);
	free(from);
	return status;
}

int po_smtp_vrfy(po_smtp *s, const char *what, int *result_out)
{
	struct curl_slist *rcpt = NULL;
	CURLcode cc;
	int status;

	if (!s || !what || !result_out)
		return po__fail(PO_EINVAL, "po_smtp_vrfy: NULL argument");
	*result_out = PO_VRFY_OTHER;
	clear_outcome(s);
	if (!*what || has_ctl(what) || strpbrk(what, "<>"))
		return po__fail(PO_EADDRESS,
				"VRFY \"%.80s\": empty, white space, control "
				"character or angle bracket",
				what);
	status = po_init();
	if (status)
		return status;
	rcpt = curl_slist_append(NULL, what);
	if (!rcpt)
		return po__fail(PO_ENOMEM, NULL);
	reset_transaction(s);
	if (!s->curl) {
		status = configure(s);
		if (status)
			goto out;
	}
	s->frozen = 1;
	curl_easy_setopt(s->curl, CURLOPT_UPLOAD, 0L);
	curl_easy_setopt(s->curl, CURLOPT_MAIL_FROM, NULL);
	curl_easy_setopt(s->curl, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(s->curl, CURLOPT_CUSTOMREQUEST, NULL);
	curl_easy_setopt(s->curl, CURLOPT_FRESH_CONNECT, 0L);
	cc = curl_easy_perform(s->curl);
	if (s->step == ST_VRFY && s->got_reply) {
		/* any reply is an answer; libcurl fails non-2xx ones */
		*result_out = s->code == 250 || s->code == 251 ? PO_VRFY_OK
			      : s->code == 252		     ? PO_VRFY_CANNOT
			      : s->code == 550		     ? PO_VRFY_UNKNOWN
							     : PO_VRFY_OTHER;
		free(s->errmsg);
		s->errmsg = strdup("");
		status = PO_OK;
	} else {
		status = outcome(s, classify_failure(s, cc), s->errbuf);
		/* as after a failed send: never reuse that connection */
		drop_handle(s, 1000);
	}
out:
	curl_slist_free_all(rcpt);
	return status;
}

int po_smtp_close(po_smtp *s)
{
	if (!s)
		return po__fail(PO_EINVAL, "po_smtp_close: no handle");
	drop_handle(s, s->close_ms);
	return PO_OK;
}

/* ---------------------------------------------------------------------
 * Outcome accessors */

int po_smtp_reply_code(const po_smtp *s)
{
	return s ? s->code : 0;
}

const char *po_smtp_enhanced_code(const po_smtp *s)
{
	return s ? s->enhanced : "";
}

const char *po_smtp_reply(const po_smtp *s)
{
	return s && s->reply ? s->reply : "";
}

const char *po_smtp_command(const po_smtp *s)
{
	return s && s->command ? s->command : "";
}

const char *po_smtp_errmsg(const po_smtp *s)
{
	return s && s->errmsg ? s->errmsg : "";
}

size_t po_smtp_refused_count(const po_smtp *s)
{
	return s ? s->nrefused : 0;
}

const char *po_smtp_refused_address(const po_smtp *s, size_t i)
{
	return s && i < s->nrefused ? s->refused[i].address : NULL;
}

int po_smtp_refused_code(const po_smtp *s, size_t i)
{
	return s && i < s->nrefused ? s->refused[i].code : 0;
}

const char *po_smtp_refused_reply(const po_smtp *s, size_t i)
{
	return s && i < s->nrefused ? s->refused[i].reply : NULL;
}

const char *po_smtp_message_id(const po_smtp *s)
{
	return s && s->message_id ? s->message_id : "";
}

int po_smtp_credentials_unused(const po_smtp *s)
{
	return s ? s->creds_unused : 0;
}

int po_smtp_outcome_unknown(const po_smtp *s)
{
	return s ? s->unknown : 0;
}

int po_smtp_connection_reused(const po_smtp *s)
{
	return s ? s->reused : 0;
}
