/* cli.c - postoffice: render or send a letter from the command line.
 *
 * Built on the public API only (postoffice.h).  The flags mirror Lisp's
 * send-letter arguments; see usage() or the manual in docs/.
 *
 * The body is streamed through the library (po_part_new_text_file,
 * po_part_new_text_reader), which checks it as UTF-8: it is never held
 * whole in memory.  Whatever a server or a program said is printed
 * through put_safe: no control character or escape sequence of theirs
 * reaches the terminal.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "postoffice.h"

#define PROG "postoffice"
#define STDIN_BODY_MAX (64L * 1024 * 1024) /* octets of a body on stdin */
#define PASSWORD_MAX 4096                  /* octets of a password file */
#define PREVIEW_STDIN_MAX ((size_t)256 << 20) /* a letter to preview */

static const char usage_text[] =
	"usage: " PROG " render [LETTER OPTIONS]\n"
	"       " PROG " send (--server HOST[:PORT] | --program CMD)"
	" [OPTIONS] [LETTER OPTIONS]\n"
	"       " PROG " preview FILE.eml|- [--out DIR] [--envelope FILE]"
	" [--open]\n"
	"       " PROG " --help | --version\n"
	"\n"
	"render writes the letter as it goes on the wire (CRLF line endings,\n"
	"not dot-stuffed) to standard output.  send delivers it and exits 0\n"
	"only when the server (or program) accepted it; it then prints the\n"
	"server's final reply.  On any error: one line on standard error,\n"
	"exit status 1 (2 for a usage error).\n"
	"\n"
	"Letter options:\n"
	"  --from ADDR          sender (\"a@b\", \"Name <a@b>\" or a local user\n"
	"                       \"root\"); required\n"
	"  --to ADDR            recipient, or a list \"a@b, Name <c@d>\"\n"
	"                       (repeatable)\n"
	"  --cc ADDR            copy recipient (repeatable)\n"
	"  --bcc ADDR           blind copy: envelope only (repeatable)\n"
	"  --subject TEXT       subject (UTF-8; encoded as needed)\n"
	"  --reply-to ADDR      Reply-To address (repeatable)\n"
	"  --header 'N: V'      extra header line (repeatable)\n"
	"  --attach PATH        attach a file (repeatable)\n"
	"  --body-file PATH     the body text (UTF-8), a regular file;\n"
	"                       default: standard input (at most 64 MiB)\n"
	"\n"
	"Send options:\n"
	"  --server HOST[:PORT] SMTP server; IPv6 as [::1]:2525; port 25 by\n"
	"                       default, 465 with --ssl\n"
	"  --program CMD        pipe the letter to CMD through /bin/sh -c\n"
	"                       (e.g. 'sendmail -t -i'); Bcc goes in a Bcc:\n"
	"                       header for it\n"
	"  --ssl                implicit TLS (SMTPS)\n"
	"  --starttls           require STARTTLS (fail if not offered)\n"
	"  --starttls=try       STARTTLS if offered, else plain text\n"
	"  --login USER         authenticate as USER; the password comes from\n"
	"                       --password-file or $POSTOFFICE_PASSWORD\n"
	"  --password-file FILE read the password from the first line of "
	"FILE\n"
	"  --auth MECHS         allowed AUTH mechanisms (e.g. PLAIN,LOGIN)\n"
	"  --cafile FILE        trust the CA certificates in FILE\n"
	"  --no-verify          do not verify the server certificate\n"
	"  --timeout SECONDS    connect and reply timeout (default 30/120);\n"
	"                       with --program, the program's whole run\n"
	"                       (default 600)\n"
	"  --partial            deliver to accepted recipients even if some\n"
	"                       are refused\n"
	"  --trace              print the SMTP dialogue on standard error\n"
	"                       (secrets masked)\n"
	"  --dsn-notify WHEN    delivery status notifications: never, or a\n"
	"                       list of success,failure,delay (RFC 3461)\n"
	"  --dsn-ret full|hdrs  what a failure report returns of the letter\n"
	"  --dsn-envid ID       an identifier the reports quote\n"
	"  --require-tls        REQUIRETLS (RFC 8689): verified TLS on every\n"
	"                       hop, or the letter comes back\n"
	"\n"
	"preview writes an HTML page of the letter in FILE.eml (- for\n"
	"standard input) and its parts into a new private directory under\n"
	"DIR (default $TMPDIR or /tmp), and prints the page's file name.\n"
	"The envelope is read from --envelope FILE, else from the\n"
	"FILE.envelope beside FILE.eml if there is one.  --open shows the\n"
	"page with $BROWSER or xdg-open.\n";

struct list {
	const char **v;
	size_t n, cap;
};

struct opts {
	int send;
	const char *from, *subject, *body_file;
	struct list to, cc, bcc, reply_to, headers, attach;
	const char *server, *program, *login, *password_file, *cafile;
	const char *auth, *dsn_notify, *dsn_ret, *dsn_envid;
	int ssl, starttls, no_verify, trace, partial, require_tls;
	long timeout_s;
};

/* The length of the UTF-8 sequence at s (RFC 3629: no overlong forms,
 * surrogates or code points over U+10FFFF), its code point in *cp; 0 if
 * there is none. */
static size_t utf8_seq(const unsigned char *s, size_t n, unsigned long *cp)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	*cp = c & (0x7f >> len);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3f);
	}
	return len;
}

/* Code points a terminal may act on or that reorder what is shown: C1
 * controls (U+009B is CSI), bidirectional controls, line separators. */
static int unsafe_cp(unsigned long cp)
{
	return cp <= 0x9f || cp == 0x61c || cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

/* Write s[0..n), text that came from a server, a program or a user, so
 * that nothing in it drives the terminal: control characters (C0 but
 * TAB, DEL, C1), bidirectional controls and line separators are written
 * as \xHH or \u{HHHH}, and so are octets that are not UTF-8.  A line
 * break (LF or CRLF) is written as lf. */
static void put_safe(FILE *f, const char *text, size_t n, const char *lf)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0, len;
	unsigned long cp;

	while (i < n) {
		unsigned char c = s[i];

		if (c == '\r' && i + 1 < n && s[i + 1] == '\n')
			c = s[++i];
		if (c == '\n') {
			fputs(lf, f);
			i++;
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			fprintf(f, "\\x%02X", c);
			i++;
		} else if (c < 0x80) {
			fputc(c, f);
			i++;
		} else if ((len = utf8_seq(s + i, n - i, &cp)) == 0) {
			fprintf(f, "\\x%02X", c);
			i++;
		} else {
			if (unsafe_cp(cp))
				fprintf(f, "\\u{%04lX}", cp);
			else
				fwrite(s + i, 1, len, f);
			i += len;
		}
	}
}

static void put_safe_str(FILE *f, const char *s, const char *lf)
{
	put_safe(f, s, strlen(s), lf);
}

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* One line on stderr, made safe (it may quote a server or a program). */
static void die(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fputs(PROG ": ", stderr);
	put_safe_str(stderr, msg, " / ");
	fputc('\n', stderr);
	exit(1);
}

static void usage_error(const char *what, const char *arg)
{
	fprintf(stderr, PROG ": %s%s", what, arg ? ": " : "");
	if (arg)
		put_safe_str(stderr, arg, " / ");
	fprintf(stderr, "\nTry '" PROG " --help'.\n");
	exit(2);
}

/* A flag that takes one value: given twice is a usage error, not the
 * last one silently winning. */
static void once(const char **slot, const char *flag, const char *v)
{
	if (*slot)
		usage_error("given twice", flag);
	*slot = v;
}

static void push(struct list *l, const char *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = realloc(l->v, l->cap * sizeof *l->v);
		if (!l->v)
			die("out of memory");
	}
	l->v[l->n++] = s;
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const char *const with_arg[] = {
		"--from",   "--to",        "--cc",	      "--bcc",
		"--subject", "--reply-to", "--header",     "--attach",
		"--body-file", "--server", "--program",    "--login",
		"--password-file", "--cafile", "--timeout", "--auth",
		"--dsn-notify", "--dsn-ret", "--dsn-envid"};
	int i;

	if (argc < 2)
		usage_error("no command", NULL);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage_text, stdout);
		exit(0);
	}
	if (!strcmp(argv[1], "--version")) {
		printf(PROG " %s\n", po_version());
		exit(0);
	}
	if (!strcmp(argv[1], "send"))
		o->send = 1;
	else if (strcmp(argv[1], "render"))
		usage_error("unknown command", argv[1]);

	for (i = 2; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		size_t k;

		if (!strcmp(a, "--help")) {
			fputs(usage_text, stdout);
			exit(0);
		}
		for (k = 0; k < sizeof with_arg / sizeof with_arg[0]; k++)
			if (!strcmp(a, with_arg[k])) {
				if (i + 1 >= argc)
					usage_error("missing value for", a);
				v = argv[++i];
				break;
			}
		if (v) {
			if (!strcmp(a, "--from"))
				once(&o->from, a, v);
			else if (!strcmp(a, "--to"))
				push(&o->to, v);
			else if (!strcmp(a, "--cc"))
				push(&o->cc, v);
			else if (!strcmp(a, "--bcc"))
				push(&o->bcc, v);
			else if (!strcmp(a, "--subject"))
				once(&o->subject, a, v);
			else if (!strcmp(a, "--reply-to"))
				push(&o->reply_to, v);
			else if (!strcmp(a, "--header"))
				push(&o->headers, v);
			else if (!strcmp(a, "--attach"))
				push(&o->attach, v);
			else if (!strcmp(a, "--body-file"))
				once(&o->body_file, a, v);
			else if (!strcmp(a, "--server"))
				once(&o->server, a, v);
			else if (!strcmp(a, "--program"))
				once(&o->program, a, v);
			else if (!strcmp(a, "--login"))
				once(&o->login, a, v);
			else if (!strcmp(a, "--password-file"))
				once(&o->password_file, a, v);
			else if (!strcmp(a, "--cafile"))
				once(&o->cafile, a, v);
			else if (!strcmp(a, "--auth"))
				once(&o->auth, a, v);
			else if (!strcmp(a, "--dsn-notify"))
				once(&o->dsn_notify, a, v);
			else if (!strcmp(a, "--dsn-ret"))
				once(&o->dsn_ret, a, v);
			else if (!strcmp(a, "--dsn-envid"))
				once(&o->dsn_envid, a, v);
			else if (!strcmp(a, "--timeout")) {
				char *end;

				errno = 0;
				o->timeout_s = strtol(v, &end, 10);
				if (errno || *end || o->timeout_s <= 0 ||
				    o->timeout_s > 86400)
					usage_error("bad --timeout", v);
			}
			continue;
		}
		if (!strcmp(a, "--ssl"))
			o->ssl = 1;
		else if (!strcmp(a, "--starttls"))
			o->starttls = PO_TLS_STARTTLS;
		else if (!strcmp(a, "--starttls=try"))
			o->starttls = PO_TLS_STARTTLS_TRY;
		else if (!strcmp(a, "--no-verify"))
			o->no_verify = 1;
		else if (!strcmp(a, "--trace"))
			o->trace = 1;
		else if (!strcmp(a, "--partial"))
			o->partial = 1;
		else if (!strcmp(a, "--require-tls"))
			o->require_tls = 1;
		else if (!strncmp(a, "--password", 10))
			usage_error("no password flag: use --password-file "
				    "or $POSTOFFICE_PASSWORD",
				    NULL);
		else
			usage_error("unknown option", a);
	}
	if (!o->send && (o->server || o->program || o->ssl || o->starttls ||
			 o->login || o->cafile || o->no_verify || o->trace ||
			 o->timeout_s || o->password_file || o->partial ||
			 o->auth || o->dsn_notify || o->dsn_ret ||
			 o->dsn_envid || o->require_tls))
		usage_error("send options given to render", NULL);
	if (o->send && !o->server == !o->program)
		usage_error("send needs exactly one of --server and --program",
			    NULL);
	if (o->ssl && o->starttls)
		usage_error("--ssl and --starttls exclude each other", NULL);
	if (o->program && (o->ssl || o->starttls || o->login || o->cafile ||
			   o->no_verify || o->auth || o->partial ||
			   o->dsn_notify || o->dsn_ret || o->dsn_envid ||
			   o->require_tls))
		usage_error("SMTP options given with --program", NULL);
	if (o->password_file && !o->login)
		usage_error("--password-file without --login", NULL);
	if (o->dsn_ret && strcasecmp(o->dsn_ret, "full") &&
	    strcasecmp(o->dsn_ret, "hdrs"))
		usage_error("--dsn-ret is full or hdrs", o->dsn_ret);
}

/* "never" or a comma-separated list of success, failure, delay. */
static unsigned dsn_notify(const char *v)
{
	unsigned bits = 0;

	if (!strcasecmp(v, "never"))
		return PO_DSN_NOTIFY_NEVER;
	while (*v) {
		size_t n = strcspn(v, ",");

		if (n == 7 && !strncasecmp(v, "success", 7))
			bits |= PO_DSN_NOTIFY_SUCCESS;
		else if (n == 7 && !strncasecmp(v, "failure", 7))
			bits |= PO_DSN_NOTIFY_FAILURE;
		else if (n == 5 && !strncasecmp(v, "delay", 5))
			bits |= PO_DSN_NOTIFY_DELAY;
		else
			usage_error("--dsn-notify is never, or a list of "
				    "success,failure,delay",
				    v);
		v += n;
		if (*v == ',')
			v++;
	}
	if (!bits)
		usage_error("--dsn-notify: empty", NULL);
	return bits;
}

/* The body read from standard input, as the library pulls it. */
struct stdin_body {
	long total;
	int too_big, error;
};

static struct stdin_body stdin_body;

static int read_stdin(void *userdata, void *buf, size_t len, size_t *n_out)
{
	struct stdin_body *b = userdata;
	ssize_t got;

	do
		got = read(0, buf, len);
	while (got < 0 && errno == EINTR);
	if (got < 0) {
		b->error = errno;
		return -1;
	}
	b->total += got;
	if (b->total > STDIN_BODY_MAX) {
		b->too_big = 1;
		return -1;
	}
	*n_out = (size_t)got;
	return 0;
}

/* A render failure: say it in the user's terms when it is the body's. */
static void die_render(const char *msg, int status, const struct opts *o)
{
	if (!o->body_file && stdin_body.too_big)
		die("standard input: the body is longer than %ld MiB, the "
		    "limit for a body read from standard input (use "
		    "--body-file)",
		    STDIN_BODY_MAX >> 20);
	if (!o->body_file && stdin_body.error)
		die("standard input: %s", strerror(stdin_body.error));
	if (status == PO_EUTF8 && strstr(msg, "(line "))
		die("%s: not UTF-8 text %s",
		    o->body_file ? o->body_file : "standard input",
		    strstr(msg, "(line "));
	die("%s", msg);
}

static void check(int status, const char *what)
{
	if (status != PO_OK)
		die("%s", *po_last_error() ? po_last_error() : what);
}

static po_letter *build(const struct opts *o)
{
	po_letter *l = po_letter_new();
	po_part *text, *body, **files;
	size_t i;

	if (!l)
		die("out of memory");
	if (!o->from)
		die("no sender: give --from");
	check(po_letter_set_from(l, o->from), "--from");
	for (i = 0; i < o->to.n; i++)
		check(po_letter_add_to(l, o->to.v[i]), "--to");
	for (i = 0; i < o->cc.n; i++)
		check(po_letter_add_cc(l, o->cc.v[i]), "--cc");
	for (i = 0; i < o->bcc.n; i++)
		check(po_letter_add_bcc(l, o->bcc.v[i]), "--bcc");
	if (!o->to.n && !o->cc.n && !o->bcc.n)
		die("no recipients: give --to, --cc or --bcc");
	if (o->subject)
		check(po_letter_set_subject(l, o->subject), "--subject");
	for (i = 0; i < o->reply_to.n; i++)
		check(po_letter_add_reply_to(l, o->reply_to.v[i]),
		      "--reply-to");
	for (i = 0; i < o->headers.n; i++)
		check(po_letter_add_header_line(l, o->headers.v[i]),
		      "--header");

	/* attachments are checked before standard input is read */
	files = calloc(o->attach.n + 1, sizeof *files);
	if (!files)
		die("out of memory");
	for (i = 0; i < o->attach.n; i++)
		check(po_part_new_file(o->attach.v[i], &files[i]), "--attach");
	/* the body: from a regular file, as --attach takes them, or streamed
	 * from standard input; checked as UTF-8 by the library either way */
	if (o->body_file) {
		int rc = po_part_new_text_file(o->body_file, "utf-8", &text);

		if (rc)
			die("--body-file %s", po_last_error());
	} else {
		text = po_part_new_text_reader(read_stdin, &stdin_body,
					       "utf-8");
		if (!text)
			die("out of memory");
	}
	if (o->attach.n) {
		body = po_part_new_multipart("mixed");
		if (!body)
			die("out of memory");
		check(po_part_add(body, text), "body");
		for (i = 0; i < o->attach.n; i++)
			check(po_part_add(body, files[i]), "--attach");
		text = body;
	}
	free(files);
	check(po_letter_set_body(l, text), "body");
	return l;
}

static int render(const struct opts *o, po_letter *l)
{
	static char buf[256 * 1024];
	po_reader *r;
	size_t n;
	int rc;

	rc = po_reader_new(l, 0, &r);
	if (rc)
		die_render(po_last_error(), rc, o);
	for (;;) {
		rc = po_reader_read(r, buf, sizeof buf, &n);
		if (rc)
			die_render(po_last_error(), rc, o);
		if (n == 0)
			break;
		if (fwrite(buf, 1, n, stdout) != n)
			die("standard output: %s", strerror(errno));
	}
	po_reader_free(r);
	if (fflush(stdout) != 0)
		die("standard output: %s", strerror(errno));
	return 0;
}

static void trace_cb(void *ud, int dir, const char *line, size_t len)
{
	(void)ud;
	fprintf(stderr, "%c: ", dir == PO_TRACE_CLIENT   ? 'C'
				: dir == PO_TRACE_SERVER ? 'S'
							 : '*');
	put_safe(stderr, line, len, " / ");
	fputc('\n', stderr);
}

static char *read_password(const char *file)
{
	const char *env = getenv("POSTOFFICE_PASSWORD");
	char *pw;
	size_t len;

	if (!file) {
		if (!env)
			die("--login needs a password: --password-file FILE "
			    "or $POSTOFFICE_PASSWORD");
		pw = strdup(env);
		if (!pw)
			die("out of memory");
		return pw;
	}
	{
		FILE *f = fopen(file, "rb");

		if (!f)
			die("%s: %s", file, strerror(errno));
		pw = malloc(PASSWORD_MAX + 1);
		if (!pw)
			die("out of memory");
		len = fread(pw, 1, PASSWORD_MAX, f);
		if (ferror(f))
			die("%s: read error", file);
		fclose(f);
		pw[len] = '\0';
	}
	pw[strcspn(pw, "\r\n")] = '\0';
	return pw;
}

/* "host", "host:port", "[v6]", "[v6]:port", or a bare IPv6 address. */
static void split_server(const char *spec, char **host, unsigned *port)
{
	const char *colon;
	char *end;
	long p = 0;

	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');

		if (!close)
			usage_error("bad --server", spec);
		*host = strndup(spec + 1, (size_t)(close - spec - 1));
		colon = close[1] == ':' ? close + 1 : NULL;
		if (close[1] && !colon)
			usage_error("bad --server", spec);
	} else {
		colon = strchr(spec, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL; /* a bare IPv6 address */
		*host = colon ? strndup(spec, (size_t)(colon - spec))
			      : strdup(spec);
	}
	if (!*host)
		die("out of memory");
	if (colon) {
		errno = 0;
		p = strtol(colon + 1, &end, 10);
		if (errno || *end || p <= 0 || p > 65535)
			usage_error("bad port in --server", spec);
	}
	*port = (unsigned)p;
}

/* The refused recipients, one line each (the lines of a multi-line
 * reply joined with " / ", as in po_smtp_errmsg). */
static void put_refused(po_smtp *s)
{
	for (size_t i = 0; i < po_smtp_refused_count(s); i++) {
		fputs(PROG ": refused ", stderr);
		put_safe_str(stderr, po_smtp_refused_address(s, i), " / ");
		fputs(": ", stderr);
		put_safe_str(stderr, po_smtp_refused_reply(s, i), " / ");
		fputc('\n', stderr);
	}
}

static int send_smtp(const struct opts *o, po_letter *l)
{
	po_smtp *s = po_smtp_new();
	char *host, *password = NULL;
	unsigned port;
	int rc;

	if (!s)
		die("out of memory");
	split_server(o->server, &host, &port);
	check(po_smtp_set_server(s, host, port), "--server");
	free(host);
	if (o->ssl)
		check(po_smtp_set_security(s, PO_TLS_IMPLICIT), "--ssl");
	if (o->starttls)
		check(po_smtp_set_security(s, o->starttls), "--starttls");
	if (o->no_verify)
		check(po_smtp_set_verify(s, 0), "--no-verify");
	if (o->cafile)
		check(po_smtp_set_tls_option(s, PO_TLSOPT_CA_FILE, o->cafile),
		      "--cafile");
	if (o->login) {
		password = read_password(o->password_file);
		check(po_smtp_set_auth(s, o->login, password), "--login");
		memset(password, 0, strlen(password));
		free(password);
	}
	if (o->auth)
		check(po_smtp_set_auth_mechanisms(s, o->auth), "--auth");
	if (o->timeout_s)
		po_smtp_set_timeouts(s, o->timeout_s * 1000,
				     o->timeout_s * 1000,
				     o->timeout_s * 1000, 0);
	if (o->partial)
		po_smtp_set_partial_delivery(s, 1);
	if (o->require_tls)
		po_smtp_set_require_tls(s, 1);
	/* one letter: with PIPELINING its QUIT rides with the end of data */
	po_smtp_set_keep_alive(s, 0);
	if (o->dsn_notify)
		check(po_letter_set_dsn_notify(l, dsn_notify(o->dsn_notify)),
		      "--dsn-notify");
	if (o->dsn_ret)
		check(po_letter_set_dsn_ret(l, strcasecmp(o->dsn_ret, "full")
						       ? PO_DSN_RET_HDRS
						       : PO_DSN_RET_FULL),
		      "--dsn-ret");
	if (o->dsn_envid)
		check(po_letter_set_dsn_envid(l, o->dsn_envid), "--dsn-envid");
	if (o->trace)
		po_smtp_set_trace(s, trace_cb, NULL);

	rc = po_smtp_send(s, l);
	if (rc != PO_OK && ((!o->body_file &&
			     (stdin_body.too_big || stdin_body.error)) ||
			    rc == PO_EUTF8))
		die_render(po_smtp_errmsg(s), rc, o);
	if (rc != PO_OK) {
		/* one line: the failure, and what to try where it is
		 * something the caller can change */
		fputs(PROG ": ", stderr);
		put_safe_str(stderr, po_smtp_errmsg(s), " / ");
		fprintf(stderr, "%s\n",
			rc == PO_ECERT && !o->cafile
				? " (a private CA? name it with --cafile "
				  "FILE, or turn checks off with --no-verify)"
			: rc == PO_ESTARTTLS
				? " (--ssl if it speaks TLS from the start; "
				  "--starttls=try sends in plain text)"
				: "");
		if (po_smtp_outcome_unknown(s))
			fprintf(stderr,
				PROG ": the server may have accepted the "
				"letter: check before sending it again\n");
		/* with --partial every recipient was refused: say which */
		if (o->partial && po_smtp_refused_count(s) > 1)
			put_refused(s);
		po_smtp_free(s);
		return 1;
	}
	put_refused(s);
	if (po_smtp_credentials_unused(s))
		fprintf(stderr,
			PROG ": warning: the server offered no AUTH; the "
			"letter was sent without logging in\n");
	put_safe_str(stdout, po_smtp_reply(s), "\n");
	putchar('\n');
	po_smtp_free(s);
	return 0;
}

/* The program of a send: a signal that ends us first kills it, while its
 * stdin is still open, so that it never takes the half letter it has for
 * a whole one (sendmail -t would queue it). */
static po_program *running_program;

static void on_fatal_signal(int sig)
{
	po_program_kill(running_program);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void kill_program_on_signals(po_program *p)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
	struct sigaction sa;

	running_program = p;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fatal_signal;
	sigfillset(&sa.sa_mask);
	sa.sa_flags = SA_RESETHAND;
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &sa, NULL);
}

static int send_program(const struct opts *o, po_letter *l)
{
	po_program *p = po_program_new_shell(o->program);
	int rc;

	if (!p)
		die("out of memory");
	if (o->timeout_s)
		po_program_set_timeout(p, o->timeout_s * 1000);
	kill_program_on_signals(p);
	rc = po_program_send(p, l);
	if (rc != PO_OK && ((!o->body_file &&
			     (stdin_body.too_big || stdin_body.error)) ||
			    rc == PO_EUTF8))
		die_render(po_program_errmsg(p), rc, o);
	if (rc != PO_OK) {
		fputs(PROG ": ", stderr);
		put_safe_str(stderr, po_program_errmsg(p), " / ");
		fputc('\n', stderr);
		po_program_free(p);
		return 1;
	}
	po_program_free(p);
	return 0;
}

/* The whole of path (or standard input when path is NULL), at most max
 * octets: the preview reads a letter and its envelope this way. */
static char *slurp(const char *path, size_t *len, size_t max)
{
	FILE *f = path ? fopen(path, "rb") : stdin;
	const char *name = path ? path : "standard input";
	char *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (!f)
		die("%s: %s", path, strerror(errno));
	for (;;) {
		if (n == cap) {
			if (cap > max)
				die("%s: longer than %zu MiB", name, max >> 20);
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap + 1);
			if (!buf)
				die("out of memory");
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f))
		die("%s: read error", name);
	if (n > max)
		die("%s: longer than %zu MiB", name, max >> 20);
	if (path)
		fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* postoffice preview FILE.eml|- [--out DIR] [--envelope FILE] [--open] */
static int preview(int argc, char **argv)
{
	const char *file = NULL, *out = NULL, *envelope = NULL;
	po_preview *pv;
	int i, open = 0, rc;

	for (i = 2; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help")) {
			fputs(usage_text, stdout);
			exit(0);
		}
		if (!strcmp(a, "--out") || !strcmp(a, "--envelope")) {
			if (i + 1 >= argc)
				usage_error("missing value for", a);
			once(!strcmp(a, "--out") ? &out : &envelope, a,
			     argv[++i]);
		} else if (!strcmp(a, "--open")) {
			open = 1;
		} else if (a[0] == '-' && a[1]) {
			usage_error("unknown option", a);
		} else {
			once(&file, "FILE", a);
		}
	}
	if (!file)
		usage_error("preview needs a letter: FILE.eml, or - for "
			    "standard input", NULL);
	pv = po_preview_new();
	if (!pv)
		die("out of memory");
	if (out)
		check(po_preview_set_directory(pv, out), "--out");
	if (envelope) {
		size_t len;
		char *text = slurp(envelope, &len, 1 << 20);

		check(po_preview_read_envelope(pv, text, len), "--envelope");
		free(text);
	}
	if (!strcmp(file, "-")) {
		size_t len;
		char *letter = slurp(NULL, &len, PREVIEW_STDIN_MAX);

		rc = po_preview_write(pv, letter, len);
		free(letter);
	} else {
		rc = po_preview_write_file(pv, file);
	}
	check(rc, "preview");
	printf("%s\n", po_preview_path(pv));
	if (fflush(stdout) != 0)
		die("standard output: %s", strerror(errno));
	if (open && po_preview_open(po_preview_path(pv)) != PO_OK)
		fprintf(stderr, PROG ": the page is written, but %s\n",
			po_last_error());
	po_preview_free(pv);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	po_letter *l;
	int rc;

	if (argc >= 2 && !strcmp(argv[1], "preview"))
		return preview(argc, argv);
	parse(argc, argv, &o);
	l = build(&o);
	if (!o.send)
		rc = render(&o, l);
	else if (o.server)
		rc = send_smtp(&o, l);
	else
		rc = send_program(&o, l);
	po_letter_free(l);
	return rc;
}
