/* session.c - the libcurl side of SMTP: settings, connection set-up,
 * raw I/O, outcomes.
 *
 * RFC 5321 (SMTP), RFC 3207 (STARTTLS), RFC 8314 (implicit TLS), RFC 4954
 * (AUTH), RFC 3463 (enhanced status codes), RFC 6531 (SMTPUTF8), RFC 5890
 * (IDNA).
 *
 * libcurl opens each connection with CURLOPT_CONNECT_ONLY on the
 * smtp(s):// URL: DNS, connect, proxies, TLS and its options, the
 * greeting, EHLO, STARTTLS (fail closed), the certificate check, the
 * second EHLO and SASL AUTH.  Then it hands the connection over, and
 * transaction.c speaks through curl_easy_send/curl_easy_recv (design
 * §4.16; the traps are in libcurl-notes.md §8):
 * - the set-up runs in a multi handle, so one thread can set up several
 *   connections at once; a connect-only handle stays in its multi for the
 *   connection's whole life (curl_multi_remove_handle closes it);
 * - MAXAGE_CONN is far above any session's life (libcurl never updates a
 *   connect-only connection's last use, and prunes by age);
 * - FRESH_CONNECT on every set-up: a connection is never shared;
 * - we watch the set-up from the debug callback: each command as it is
 *   sent (to mask secrets and know what a reply answers) and each reply
 *   line (the server's words, which libcurl's error buffer never holds,
 *   and the last EHLO's capabilities);
 * - STARTTLS is CURLUSESSL_ALL unless the caller opted into TRY; the
 *   mechanism list is always set, so GSSAPI is never picked unasked;
 * - the server, TLS settings and credentials are frozen once a handle
 *   has connected.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <idn2.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "encode.h"
#include "session.h"

#define DEFAULT_CONNECT_MS 30000L
#define DEFAULT_REPLY_MS 120000L
#define DEFAULT_STALL_MS 60000L
#define DEFAULT_TOTAL_MS 600000L
#define DEFAULT_CLOSE_MS 5000L
#define MAXAGE_S (100L * 24 * 3600) /* far above any session's life */

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

long long po__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------------
 * Settings */

/* Wipe a secret before freeing it. */
static void free_secret(char *p)
{
	if (p) {
		explicit_bzero(p, strlen(p));
		free(p);
	}
}

void po__config_init(po__config *c)
{
	memset(c, 0, sizeof *c);
	c->verify = 1;
	c->connect_ms = DEFAULT_CONNECT_MS;
	c->reply_ms = DEFAULT_REPLY_MS;
	c->stall_ms = DEFAULT_STALL_MS;
	c->total_ms = DEFAULT_TOTAL_MS;
	c->close_ms = DEFAULT_CLOSE_MS;
}

void po__config_free(po__config *c)
{
	int i;

	free(c->host);
	for (i = 0; i < PO__NTLSOPT; i++)
		free_secret(c->tlsopt[i]);
	free(c->user);
	free_secret(c->password);
	free_secret(c->bearer);
	free(c->mechs);
	free(c->ehlo);
	memset(c, 0, sizeof *c);
}

static int dup_slot(char **dst, const char *src)
{
	*dst = src ? strdup(src) : NULL;
	return src && !*dst ? -1 : 0;
}

int po__config_copy(po__config *dst, const po__config *src)
{
	int i, bad = 0;

	*dst = *src;
	bad |= dup_slot(&dst->host, src->host);
	for (i = 0; i < PO__NTLSOPT; i++)
		bad |= dup_slot(&dst->tlsopt[i], src->tlsopt[i]);
	bad |= dup_slot(&dst->user, src->user);
	bad |= dup_slot(&dst->password, src->password);
	bad |= dup_slot(&dst->bearer, src->bearer);
	bad |= dup_slot(&dst->mechs, src->mechs);
	bad |= dup_slot(&dst->ehlo, src->ehlo);
	if (bad) {
		po__config_free(dst);
		return -1;
	}
	return 0;
}

po_smtp *po_smtp_new(void)
{
	po_smtp *s;

	if (po_init())
		return NULL;
	s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	po__config_init(&s->cfg);
	return s;
}

void po_smtp_free(po_smtp *s)
{
	if (!s)
		return;
	po__conn_free(s->conn);
	po__result_clear(&s->res);
	po__config_free(&s->cfg);
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

/* A host name as it goes into the URL: LDH labels and dots (and '_',
 * which some internal names carry), nothing that a URL parser could read
 * as user information, a port, a path or a fragment. */
static int host_chars_ok(const char *h, size_t n)
{
	size_t i;

	if (n == 0 || n > 253)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)h[i]) && !strchr(".-_", h[i]))
			return 0;
	return 1;
}

/* An IPv6 zone id: an interface name or number, nothing else (#7 item 5:
 * "fe80::1%a]@127.0.0.1" would have made "a]" the user part). */
static int zone_ok(const char *z)
{
	if (!*z)
		return 0;
	for (; *z; z++)
		if (!isalnum((unsigned char)*z) && !strchr("._-", *z))
			return 0;
	return 1;
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
	if (memchr(host, ':', n)) {
		/* An IPv6 literal, maybe with a zone ("fe80::1%eth0"). */
		char *zone;

		if (n >= sizeof tmp)
			return po__fail(PO_EINVAL,
					"server \"%.80s\": not an IPv6 "
					"address",
					host);
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
		if (zone && !zone_ok(zone))
			return po__fail(PO_EINVAL,
					"server \"%.80s\": an IPv6 zone is "
					"letters, digits, '.', '_' or '-'",
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
		/* UTS #46 maps fullwidth '@', '/', '#', ':' to ASCII: check
		 * what came out, as if it had been given (#7 item 5) */
		if (!host_chars_ok(url, strlen(url))) {
			free(url);
			return po__fail(PO_EINVAL,
					"server \"%.80s\": not a host name "
					"once converted to ASCII",
					host);
		}
	} else {
		if (!host_chars_ok(host, n))
			return po__fail(PO_EINVAL,
					"server \"%.80s\": not a host name "
					"or address",
					host);
		url = strndup(host, n);
		if (!url)
			return po__fail(PO_ENOMEM, NULL);
	}
	free(s->cfg.host);
	s->cfg.host = url;
	s->cfg.port = port;
	return PO_OK;
}

int po_smtp_set_security(po_smtp *s, int mode)
{
	FROZEN(s, "security");
	if (mode < PO_TLS_NONE || mode > PO_TLS_STARTTLS_TRY)
		return po__fail(PO_EINVAL, "security mode %d: unknown", mode);
	s->cfg.security = mode;
	return PO_OK;
}

int po_smtp_set_verify(po_smtp *s, int verify)
{
	FROZEN(s, "verify");
	s->cfg.verify = verify != 0;
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
	return replace(&s->cfg.tlsopt[option], value,
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
	rc = replace(&s->cfg.user, user, 0);
	if (!rc)
		rc = replace(slot, secret, 1);
	return rc;
}

int po_smtp_set_auth(po_smtp *s, const char *user, const char *password)
{
	return set_credentials(s, "credentials", user, s ? &s->cfg.password : NULL,
			       password);
}

int po_smtp_set_bearer(po_smtp *s, const char *user, const char *token)
{
	return set_credentials(s, "bearer token", user, s ? &s->cfg.bearer : NULL,
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
	same = same_secret(s->cfg.user, user);
	same &= same_secret(s->cfg.password, password);
	same &= same_secret(s->cfg.bearer, token);
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
		return replace(&s->cfg.mechs, NULL, 0);
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
	free(s->cfg.mechs);
	s->cfg.mechs = po__buf_steal(&opts);
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
		s->cfg.connect_ms = connect_ms;
	if (reply_ms)
		s->cfg.reply_ms = reply_ms;
	if (stall_ms)
		s->cfg.stall_ms = stall_ms;
	if (total_ms)
		s->cfg.total_ms = total_ms;
	/* the QUIT at close waits no longer than any other reply would */
	if (s->cfg.reply_ms > 0 && s->cfg.reply_ms < s->cfg.close_ms)
		s->cfg.close_ms = s->cfg.reply_ms;
	return PO_OK;
}

int po_smtp_set_ehlo_name(po_smtp *s, const char *name)
{
	FROZEN(s, "EHLO name");
	if (name && po__domain_check(name, strlen(name), "EHLO name"))
		return PO_EINVAL;
	return replace(&s->cfg.ehlo, name, 0);
}

int po_smtp_set_partial_delivery(po_smtp *s, int on)
{
	if (!s)
		return po__fail(PO_EINVAL, "partial delivery: no handle");
	s->cfg.partial = on != 0;
	return PO_OK;
}

int po_smtp_set_keep_alive(po_smtp *s, int on)
{
	if (!s)
		return po__fail(PO_EINVAL, "keep-alive: no handle");
	s->cfg.one_shot = !on;
	return PO_OK;
}

int po_smtp_set_trace(po_smtp *s, po_trace_fn fn, void *userdata)
{
	if (!s)
		return po__fail(PO_EINVAL, "trace: no handle");
	s->cfg.trace = fn;
	s->cfg.trace_ud = userdata;
	return PO_OK;
}

int po_smtp_set_require_tls(po_smtp *s, int on)
{
	if (!s)
		return po__fail(PO_EINVAL, "REQUIRETLS: no handle");
	s->cfg.require_tls = on != 0;
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
static void local_literal(const po__config *c, char *out, size_t n)
{
	struct addrinfo hints = {0}, *res = NULL;
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char host[INET6_ADDRSTRLEN + 2], addr[INET6_ADDRSTRLEN];
	int fd = -1;

	snprintf(out, n, "[127.0.0.1]");
	snprintf(host, sizeof host, "%s", c->host);
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

static void default_ehlo(const po__config *c, char *out, size_t n)
{
	pthread_once(&fqdn_once, fqdn_init);
	if (fqdn_ok) {
		snprintf(out, n, "%s", fqdn_name);
		return;
	}
	pthread_mutex_lock(&literal_lock);
	if (strcmp(literal_host, c->host) != 0) {
		local_literal(c, literal_name, sizeof literal_name);
		snprintf(literal_host, sizeof literal_host, "%s", c->host);
	}
	snprintf(out, n, "%s", literal_name);
	pthread_mutex_unlock(&literal_lock);
}

/* ---------------------------------------------------------------------
 * Outcomes */

void po__result_clear(po__result *r)
{
	size_t i;

	for (i = 0; i < r->nrefused; i++) {
		free(r->refused[i].address);
		free(r->refused[i].reply);
	}
	free(r->refused);
	free(r->reply);
	free(r->command);
	free(r->errmsg);
	free(r->message_id);
	memset(r, 0, sizeof *r);
}

int po__result_refuse(po__result *r, const char *address, int code,
		      const char *reply)
{
	po__refusal *v;

	if (r->nrefused == r->caprefused) {
		size_t cap = r->caprefused ? r->caprefused * 2 : 4;

		v = realloc(r->refused, cap * sizeof *v);
		if (!v)
			return -1;
		r->refused = v;
		r->caprefused = cap;
	}
	v = &r->refused[r->nrefused];
	v->address = strdup(address);
	v->reply = strdup(reply);
	v->code = code;
	if (!v->address || !v->reply) {
		free(v->address);
		free(v->reply);
		return -1;
	}
	r->nrefused++;
	return 0;
}

void po__result_reply(po__result *r, const char *command, int code,
		      const char *enhanced, const char *reply)
{
	free(r->command);
	r->command = strdup(command ? command : "");
	free(r->reply);
	r->reply = code ? strdup(reply ? reply : "") : NULL;
	r->code = code;
	snprintf(r->enhanced, sizeof r->enhanced, "%s",
		 code && enhanced ? enhanced : "");
}

int po__result_fail(po__result *r, int status, const char *where,
		    const char *detail)
{
	po__buf m = PO__BUF_INIT;
	int had_reply = r->code && r->reply && *r->reply;

	r->status = status;
	po__buf_puts(&m, po_strerror(status));
	if (!where && r->command && *r->command) {
		po__buf_puts(&m, ": ");
		po__buf_puts(&m, r->command);
	} else if (where && !had_reply) {
		po__buf_printf(&m, " (%s)", where);
	}
	if (had_reply) {
		po__buf_puts(&m, ": ");
		/* one line: the reply's lines joined with " / " */
		for (const char *p = r->reply; *p; p++)
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
	free(r->errmsg);
	r->errmsg = po__buf_steal(&m);
	return po__fail(status, "%s", r->errmsg ? r->errmsg : "");
}

/* "250 2.0.0 Ok" -> "2.0.0" (RFC 3463 §2: class.subject.detail, the class
 * matching the reply's first digit), read from the reply's first line
 * only; "" when it has none (#7 item 10: never from beyond the reply). */
void po__enhanced_code(const char *reply, int code, char out[16])
{
	const char *p;
	size_t len, n;

	out[0] = '\0';
	if (!reply)
		return;
	len = strcspn(reply, "\r\n");
	if (len < 4 + 5 || (reply[3] != ' ' && reply[3] != '-'))
		return;
	p = reply + 4;
	len -= 4;
	n = strspn(p, "0123456789.");
	if (n > len)
		n = len;
	if (n < 5 || n > 11 || p[0] - '0' != code / 100 || p[1] != '.')
		return;
	if (n < len && p[n] != ' ')
		return;
	if (p[n - 1] == '.' || !memchr(p + 2, '.', n - 2))
		return;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* ---------------------------------------------------------------------
 * Watching libcurl's set-up */

void po__trace(const po__config *c, int dir, const char *text, size_t n)
{
	while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		n--;
	if (c->trace)
		c->trace(c->trace_ud, dir, text, n);
}

static enum po__step classify(const char *cmd, size_t n)
{
	static const struct {
		const char *verb;
		enum po__step step;
	} verbs[] = {
		{"EHLO", PO__ST_EHLO},
		{"HELO", PO__ST_HELO},
		{"STARTTLS", PO__ST_STARTTLS},
		{"AUTH", PO__ST_AUTH},
	};
	size_t i, len;

	for (i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
		len = strlen(verbs[i].verb);
		if (n >= len && strncasecmp(cmd, verbs[i].verb, len) == 0 &&
		    (n == len || cmd[len] == ' ' || cmd[len] == '\r'))
			return verbs[i].step;
	}
	return PO__ST_OTHER;
}

/* A command libcurl sent, shown to us before its reply comes. */
static void on_command(po__sess *ss, const char *data, size_t n)
{
	char shown[sizeof ss->cmd];
	const char *traced = shown;
	enum po__step step;

	while (n && (data[n - 1] == '\n' || data[n - 1] == '\r'))
		n--;
	if (ss->masking) {
		/* an answer to a 334 challenge: credentials.  The trace shows
		 * only "<masked>"; the outcome names the exchange it belongs
		 * to ("AUTH CRAM-MD5 <masked>") from the AUTH command before,
		 * which ss->cmd still holds. */
		const char *sp = strchr(ss->cmd, ' ');
		int mech = sp ? (int)strcspn(sp + 1, " ") : 0;

		if (strncmp(ss->cmd, "AUTH ", 5) == 0 && mech > 0)
			snprintf(shown, sizeof shown, "AUTH %.*s <masked>",
				 mech, sp + 1);
		else
			snprintf(shown, sizeof shown, "<masked>");
		traced = "<masked>";
		step = PO__ST_AUTH;
	} else {
		step = classify(data, n);
		if (step == PO__ST_AUTH) {
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
	po__trace(ss->cfg, PO_TRACE_CLIENT, traced, strlen(traced));
	ss->activity++;
	ss->step = step;
	ss->got_reply = 0;
	memcpy(ss->cmd, shown, sizeof ss->cmd);
}

static int debug_cb(CURL *h, curl_infotype type, char *data, size_t n,
		    void *ud)
{
	po__sess *ss = ud;

	(void)h;
	if (type == CURLINFO_HEADER_OUT)
		on_command(ss, data, n);
	else if (type == CURLINFO_TEXT)
		po__trace(ss->cfg, PO_TRACE_INFO, data, n);
	return 0;
}

/* The capabilities in one EHLO reply line ("250-AUTH PLAIN LOGIN").
 * Keywords are case-insensitive (RFC 5321 §2.4). */
static void capability(po__sess *ss, const char *line, size_t n)
{
	static const struct {
		const char *kw;
		unsigned cap;
	} known[] = {
		{"PIPELINING", PO__CAP_PIPELINING},
		{"SIZE", PO__CAP_SIZE},
		{"8BITMIME", PO__CAP_8BITMIME},
		{"SMTPUTF8", PO__CAP_SMTPUTF8},
		{"DSN", PO__CAP_DSN},
		{"REQUIRETLS", PO__CAP_REQUIRETLS},
		{"CHUNKING", PO__CAP_CHUNKING},
		{"AUTH", PO__CAP_AUTH},
		{"STARTTLS", PO__CAP_STARTTLS},
		{"ENHANCEDSTATUSCODES", PO__CAP_ENHANCED},
	};
	const char *kw = line + 4;
	size_t kn = n > 4 ? n - 4 : 0, len = 0, i;

	while (len < kn && kw[len] != ' ' && kw[len] != '=')
		len++;
	for (i = 0; i < sizeof known / sizeof known[0]; i++) {
		if (strlen(known[i].kw) != len ||
		    strncasecmp(kw, known[i].kw, len) != 0)
			continue;
		/* "AUTH" alone offers no mechanism */
		if (known[i].cap == PO__CAP_AUTH && len == kn)
			return;
		ss->caps_seen |= known[i].cap;
		if (known[i].cap == PO__CAP_SIZE && len < kn) {
			char num[24];
			size_t m = kn - len - 1;

			if (m >= sizeof num)
				m = sizeof num - 1;
			memcpy(num, kw + len + 1, m);
			num[m] = '\0';
			ss->size_seen = strtoul(num, NULL, 10);
		}
		return;
	}
}

/* A complete reply arrived.  Returns 0 to stop libcurl. */
static int on_reply(po__sess *ss)
{
	int code = ss->line_code;

	ss->got_reply = 1;
	ss->activity++;
	if (ss->step == PO__ST_CONNECT)
		ss->step = PO__ST_GREETING;
	free(ss->reply);
	ss->reply = strdup(ss->line.p ? ss->line.p : "");
	ss->code = code;
	ss->masking = ss->step == PO__ST_AUTH && code == 334;
	/* a go-ahead is not an outcome: if nothing answers what follows, the
	 * failure is about that (a TLS handshake, an AUTH exchange) */
	if (ss->masking)
		ss->got_reply = 0;
	switch (ss->step) {
	case PO__ST_STARTTLS:
		if (code == 220) {
			ss->tls_up = 1;
			ss->got_reply = 0;
		}
		break;
	case PO__ST_EHLO:
	case PO__ST_HELO:
		/* RFC 5321 §3.8: 421 means the server is closing; libcurl would
		 * try HELO on the dead connection and report that instead */
		if (code == 421) {
			ss->abort_status = PO_EHELO;
			return 0;
		}
		if (code / 100 == 2) {
			ss->saw_ehlo = 1;
			snprintf(ss->ehlo_cmd, sizeof ss->ehlo_cmd, "%s",
				 ss->cmd);
			ss->ehlo_code = code;
			free(ss->ehlo_reply);
			ss->ehlo_reply = strdup(ss->reply ? ss->reply : "");
		}
		break;
	default:
		break;
	}
	return 1;
}

/* Every reply line of the set-up. */
static size_t header_cb(char *data, size_t size, size_t nitems, void *ud)
{
	po__sess *ss = ud;
	size_t n = size * nitems, len = n;
	int code, last;

	while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		len--;
	po__trace(ss->cfg, PO_TRACE_SERVER, data, len);
	if (len < 3 || !isdigit((unsigned char)data[0]) ||
	    !isdigit((unsigned char)data[1]) ||
	    !isdigit((unsigned char)data[2]))
		return n;
	code = (data[0] - '0') * 100 + (data[1] - '0') * 10 + (data[2] - '0');
	last = len == 3 || data[3] != '-';
	if (ss->line_code != code || ss->line.len == 0) {
		ss->line.len = 0;
		ss->line_code = code;
		if (ss->line.p)
			ss->line.p[0] = '\0';
		/* a new EHLO reply: what the last one said no longer holds */
		if (ss->step == PO__ST_EHLO || ss->step == PO__ST_HELO) {
			ss->caps_seen = 0;
			ss->size_seen = 0;
		}
	}
	if (ss->step == PO__ST_EHLO && code == 250)
		capability(ss, data, len);
	if (ss->line.len < PO__REPLY_MAX &&
	    ((ss->line.len && po__buf_putc(&ss->line, '\n')) ||
	     po__buf_append(&ss->line, data,
			    len < PO__REPLY_MAX ? len : PO__REPLY_MAX))) {
		ss->abort_status = PO_ENOMEM;
		return 0;
	}
	if (last) {
		int go = on_reply(ss);

		ss->line.len = 0;
		ss->line_code = 0;
		if (!go)
			return 0;
	}
	return n;
}

static size_t discard_cb(char *buf, size_t size, size_t nitems, void *ud)
{
	(void)buf;
	(void)ud;
	return size * nitems;
}

static long seconds(long ms)
{
	return ms < 0 ? 0 : (ms + 999) / 1000;
}

/* ---------------------------------------------------------------------
 * Configuring libcurl */

static int configure(po__sess *ss)
{
	static const CURLoption tls_opts[PO__NTLSOPT] = {
		[PO_TLSOPT_CA_FILE] = CURLOPT_CAINFO,
		[PO_TLSOPT_CA_PATH] = CURLOPT_CAPATH,
		[PO_TLSOPT_CERT] = CURLOPT_SSLCERT,
		[PO_TLSOPT_KEY] = CURLOPT_SSLKEY,
		[PO_TLSOPT_KEY_PASSWORD] = CURLOPT_KEYPASSWD,
		[PO_TLSOPT_CRL_FILE] = CURLOPT_CRLFILE,
		[PO_TLSOPT_CIPHERS] = CURLOPT_SSL_CIPHER_LIST,
		[PO_TLSOPT_TLS13_CIPHERS] = CURLOPT_TLS13_CIPHERS,
	};
	const po__config *c = ss->cfg;
	char ehlo[300], *esc = NULL, *url = NULL, connect_to[600];
	const char *host = c->host;
	const char *vs = c->tlsopt[PO_TLSOPT_MIN_VERSION];
	long version = CURL_SSLVERSION_TLSv1_2;
	unsigned port = c->port;
	CURL *h;
	int i, rc = PO_OK;

	if (!c->host)
		return po__fail(PO_EINVAL, "no server given");
	if (!port)
		port = c->security == PO_TLS_IMPLICIT ? 465 : 25;
	if (c->ehlo)
		snprintf(ehlo, sizeof ehlo, "%s", c->ehlo);
	else
		default_ehlo(c, ehlo, sizeof ehlo);

	h = curl_easy_init();
	if (!h)
		return po__fail(PO_ENOMEM, NULL);
	/* The URL path is the EHLO argument (libcurl-notes §1). */
	esc = curl_easy_escape(h, ehlo, 0);
	if (c->tlsopt[PO_TLSOPT_SERVER_NAME]) {
		/* verify and send SNI for server_name, connect to host */
		snprintf(connect_to, sizeof connect_to, "%s:%u:%s:%u",
			 c->tlsopt[PO_TLSOPT_SERVER_NAME], port, host, port);
		host = c->tlsopt[PO_TLSOPT_SERVER_NAME];
	}
	/* host is a checked name or address literal (po_smtp_set_server) */
	if (!esc || asprintf(&url, "%s://%s:%u/%s",
			     c->security == PO_TLS_IMPLICIT ? "smtps" : "smtp",
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
	SET(CURLOPT_CONNECT_ONLY, 1L);
	SET(CURLOPT_FRESH_CONNECT, 1L);
	SET(CURLOPT_MAXAGE_CONN, MAXAGE_S);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_ERRORBUFFER, ss->errbuf);
	SET(CURLOPT_VERBOSE, 1L);
	SET(CURLOPT_DEBUGFUNCTION, debug_cb);
	SET(CURLOPT_DEBUGDATA, ss);
	SET(CURLOPT_HEADERFUNCTION, header_cb);
	SET(CURLOPT_HEADERDATA, ss);
	SET(CURLOPT_WRITEFUNCTION, discard_cb);
	if (c->connect_ms > 0)
		SET(CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
	SET(CURLOPT_SERVER_RESPONSE_TIMEOUT, seconds(c->reply_ms));
	if (c->total_ms > 0)
		SET(CURLOPT_TIMEOUT_MS, c->total_ms);
	if (c->security == PO_TLS_STARTTLS)
		SET(CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	else if (c->security == PO_TLS_STARTTLS_TRY)
		SET(CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
	SET(CURLOPT_SSL_VERIFYPEER, c->verify ? 1L : 0L);
	SET(CURLOPT_SSL_VERIFYHOST, c->verify ? 2L : 0L);
	SET(CURLOPT_SSLVERSION, version);
	for (i = 0; i < PO__NTLSOPT; i++)
		if (c->tlsopt[i] && tls_opts[i])
			SET(tls_opts[i], c->tlsopt[i]);
	if (c->tlsopt[PO_TLSOPT_SERVER_NAME]) {
		/* libcurl keeps the list: it lives as long as the handle */
		ss->connect_to = curl_slist_append(NULL, connect_to);
		if (!ss->connect_to) {
			rc = po__fail(PO_ENOMEM, NULL);
			goto out;
		}
		SET(CURLOPT_CONNECT_TO, ss->connect_to);
	}
	if (c->user) {
		SET(CURLOPT_USERNAME, c->user);
		if (c->password)
			SET(CURLOPT_PASSWORD, c->password);
		if (c->bearer)
			SET(CURLOPT_XOAUTH2_BEARER, c->bearer);
		/* Never the automatic choice: it picks GSSAPI for names with
		 * '@' (libcurl-notes §4).  PLAIN goes with an initial response
		 * (RFC 4954 §4), saving a round trip and avoiding servers that
		 * refuse an empty AUTH PLAIN (KNOWN_BUGS 3.4). */
		SET(CURLOPT_LOGIN_OPTIONS,
		    c->mechs    ? c->mechs
		    : c->bearer ? "AUTH=OAUTHBEARER;AUTH=XOAUTH2"
				: "AUTH=CRAM-MD5;AUTH=PLAIN;AUTH=LOGIN");
		SET(CURLOPT_SASL_IR, 1L);
	}
#undef SET
	ss->curl = h;
	h = NULL;
out:
	if (h)
		curl_easy_cleanup(h);
	curl_free(esc);
	free(url);
	return rc;
}

/* Map libcurl's result to our status, using what we saw on the wire. */
static int classify_failure(po__sess *ss, CURLcode cc)
{
	int code = ss->got_reply ? ss->code : 0;

	if (ss->abort_status)
		return ss->abort_status;
	switch (cc) {
	case CURLE_OUT_OF_MEMORY:
		return PO_ENOMEM;
	case CURLE_URL_MALFORMAT:
		return PO_EINVAL;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
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
		if (strstr(ss->errbuf, "certificate verify failed") ||
		    strstr(ss->errbuf, "certificate has expired"))
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
		return ss->step == PO__ST_AUTH ? PO_EAUTH : PO_EAUTHMECH;
	case CURLE_REMOTE_ACCESS_DENIED:
		return PO_EHELO;
	default:
		break;
	}
	/* What is left is about a command and its reply (or its absence). */
	if (!code)
		return cc == CURLE_WEIRD_SERVER_REPLY && ss->got_reply
			       ? PO_EPROTOCOL
			       : PO_ECONNLOST;
	switch (ss->step) {
	case PO__ST_GREETING:
		return PO_EGREETING;
	case PO__ST_EHLO:
	case PO__ST_HELO:
		return PO_EHELO;
	case PO__ST_STARTTLS:
		return PO_ESTARTTLS;
	case PO__ST_AUTH:
		return PO_EAUTH;
	default:
		return PO_EPROTOCOL;
	}
}

/* The outcome of a failed set-up. */
static int setup_failed(po__sess *ss, CURLcode cc, po__result *res)
{
	int status = classify_failure(ss, cc);
	const char *where = NULL;

	/* a failed handshake is not the server's reply to anything (the 220
	 * to STARTTLS was a go-ahead) */
	if (status == PO_ETLS || status == PO_ECERT)
		ss->got_reply = 0;
	if (ss->step == PO__ST_CONNECT)
		where = "connecting";
	else if (ss->step == PO__ST_GREETING)
		where = "waiting for the greeting";
	po__result_reply(res,
			 ss->step == PO__ST_CONNECT ||
					 ss->step == PO__ST_GREETING
				 ? ""
				 : ss->cmd,
			 ss->got_reply ? ss->code : 0, NULL, ss->reply);
	if (res->code)
		po__enhanced_code(res->reply, res->code, res->enhanced);
	return po__result_fail(res, status, where, ss->errbuf);
}

/* ---------------------------------------------------------------------
 * A connection */

static void sess_reset(po__sess *ss, const po__config *cfg)
{
	po__buf_free(&ss->line);
	free(ss->reply);
	free(ss->ehlo_reply);
	memset(ss, 0, sizeof *ss);
	ss->cfg = cfg;
	ss->sock = CURL_SOCKET_BAD;
}

int po__sess_connect(po__sess *ss, const po__config *cfg, CURLM *multi,
		     po__result *res)
{
	long long start = po__now_ms(), now, last = start;
	CURLcode cc = CURLE_OK;
	curl_socket_t sock = CURL_SOCKET_BAD;
	unsigned seen = 0;
	int status, done = 0;

	sess_reset(ss, cfg);
	status = configure(ss);
	if (status) {
		po__result_reply(res, "", 0, NULL, NULL);
		return po__result_fail(res, status, NULL, po_last_error());
	}
	if (!multi) {
		multi = curl_multi_init();
		if (!multi) {
			curl_easy_cleanup(ss->curl);
			ss->curl = NULL;
			return po__result_fail(res, PO_ENOMEM, NULL, NULL);
		}
		ss->own_multi = 1;
	}
	ss->multi = multi;
	if (curl_multi_add_handle(multi, ss->curl) != CURLM_OK) {
		po__sess_close(ss);
		return po__result_fail(res, PO_ETRANSPORT, NULL,
				       "curl_multi_add_handle");
	}
	while (!done) {
		int running, left;
		CURLMsg *msg;
		long wait = 100;

		if (curl_multi_perform(multi, &running) != CURLM_OK) {
			cc = CURLE_OUT_OF_MEMORY;
			break;
		}
		while ((msg = curl_multi_info_read(multi, &left)))
			if (msg->msg == CURLMSG_DONE &&
			    msg->easy_handle == ss->curl) {
				cc = msg->data.result;
				done = 1;
			}
		if (done)
			break;
		if (ss->abort_status) {
			cc = CURLE_WRITE_ERROR;
			break;
		}
		/* each reply within the reply timeout, to the millisecond
		 * (libcurl counts whole seconds) */
		now = po__now_ms();
		if (ss->activity != seen) {
			seen = ss->activity;
			last = now;
		}
		if (ss->step != PO__ST_CONNECT && cfg->reply_ms > 0 &&
		    now - last > cfg->reply_ms) {
			cc = CURLE_OPERATION_TIMEDOUT;
			break;
		}
		if (cfg->total_ms > 0 && now - start > cfg->total_ms) {
			cc = CURLE_OPERATION_TIMEDOUT;
			break;
		}
		curl_multi_timeout(multi, &wait);
		if (wait < 0 || wait > 100)
			wait = 100;
		curl_multi_poll(multi, NULL, 0, (int)wait, NULL);
	}
	if (cc == CURLE_OK &&
	    curl_easy_getinfo(ss->curl, CURLINFO_ACTIVESOCKET, &sock) !=
		    CURLE_OK)
		sock = CURL_SOCKET_BAD;
	if (cc != CURLE_OK || sock == CURL_SOCKET_BAD) {
		if (cc == CURLE_OK)
			cc = CURLE_RECV_ERROR;
		status = setup_failed(ss, cc, res);
		po__sess_close(ss);
		return status;
	}
	ss->sock = sock;
	ss->open = 1;
	ss->caps = ss->caps_seen;
	ss->size_max = ss->size_seen;
	ss->tls = cfg->security == PO_TLS_IMPLICIT || ss->tls_up;
	ss->creds_unused =
		(cfg->user || cfg->bearer) && !(ss->caps & PO__CAP_AUTH);
	return PO_OK;
}

void po__sess_close(po__sess *ss)
{
	if (ss->sock != CURL_SOCKET_BAD)
		shutdown(ss->sock, SHUT_RDWR);
	if (ss->curl) {
		/* removing a connect-only handle closes its connection as
		 * dead: no QUIT (libcurl-notes §8) */
		if (ss->multi)
			curl_multi_remove_handle(ss->multi, ss->curl);
		curl_easy_cleanup(ss->curl);
	}
	if (ss->own_multi && ss->multi)
		curl_multi_cleanup(ss->multi);
	curl_slist_free_all(ss->connect_to);
	ss->connect_to = NULL;
	ss->curl = NULL;
	ss->multi = NULL;
	ss->own_multi = 0;
	ss->sock = CURL_SOCKET_BAD;
	ss->open = 0;
	po__buf_free(&ss->line);
	free(ss->reply);
	ss->reply = NULL;
	free(ss->ehlo_reply);
	ss->ehlo_reply = NULL;
}

int po__sess_send(po__sess *ss, const void *buf, size_t len, size_t *n)
{
	CURLcode cc;

	*n = 0;
	if (!ss->curl)
		return PO_ECONNLOST;
	cc = curl_easy_send(ss->curl, buf, len, n);
	if (cc == CURLE_AGAIN) {
		*n = 0;
		return PO_OK;
	}
	return cc == CURLE_OK ? PO_OK : PO_ECONNLOST;
}

int po__sess_recv(po__sess *ss, void *buf, size_t len, size_t *n, int *eof)
{
	CURLcode cc;

	*n = 0;
	*eof = 0;
	if (!ss->curl)
		return PO_ECONNLOST;
	cc = curl_easy_recv(ss->curl, buf, len, n);
	if (cc == CURLE_AGAIN) {
		*n = 0;
		return PO_OK;
	}
	if (cc == CURLE_OK && *n == 0)
		*eof = 1;
	return cc == CURLE_OK ? PO_OK : PO_ECONNLOST;
}

int po__sess_wait(po__sess *ss, int want_write, long ms)
{
	struct pollfd p;
	int rc;

	if (ss->sock == CURL_SOCKET_BAD)
		return 1;
	p.fd = ss->sock;
	p.events = POLLIN | (want_write ? POLLOUT : 0);
	p.revents = 0;
	do
		rc = poll(&p, 1, ms < 0 ? -1 : ms > 1000000 ? 1000000 : (int)ms);
	while (rc < 0 && errno == EINTR);
	return rc > 0;
}

/* ---------------------------------------------------------------------
 * Outcome accessors */

int po_smtp_reply_code(const po_smtp *s)
{
	return s ? s->res.code : 0;
}

const char *po_smtp_enhanced_code(const po_smtp *s)
{
	return s ? s->res.enhanced : "";
}

const char *po_smtp_reply(const po_smtp *s)
{
	return s && s->res.reply ? s->res.reply : "";
}

const char *po_smtp_command(const po_smtp *s)
{
	return s && s->res.command ? s->res.command : "";
}

const char *po_smtp_errmsg(const po_smtp *s)
{
	return s && s->res.errmsg ? s->res.errmsg : "";
}

size_t po_smtp_refused_count(const po_smtp *s)
{
	return s ? s->res.nrefused : 0;
}

const char *po_smtp_refused_address(const po_smtp *s, size_t i)
{
	return s && i < s->res.nrefused ? s->res.refused[i].address : NULL;
}

int po_smtp_refused_code(const po_smtp *s, size_t i)
{
	return s && i < s->res.nrefused ? s->res.refused[i].code : 0;
}

const char *po_smtp_refused_reply(const po_smtp *s, size_t i)
{
	return s && i < s->res.nrefused ? s->res.refused[i].reply : NULL;
}

const char *po_smtp_message_id(const po_smtp *s)
{
	return s && s->res.message_id ? s->res.message_id : "";
}

int po_smtp_credentials_unused(const po_smtp *s)
{
	return s ? s->res.creds_unused : 0;
}

int po_smtp_outcome_unknown(const po_smtp *s)
{
	return s ? s->res.unknown : 0;
}

int po_smtp_connection_reused(const po_smtp *s)
{
	return s ? s->res.reused : 0;
}
