/* cli.c - postoffice: render or send a letter from the command line.
 *
 * Built on the public API only (postoffice.h).  The flags mirror Lisp's
 * send-letter arguments; see usage() or the manual in docs/.
 */
#include <errno.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <wchar.h>

#include "postoffice.h"

#define PROG "postoffice"

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
	"  --body-file PATH     the body text (UTF-8); default: standard "
	"input\n"
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
	"  --timeout SECONDS    connect and reply timeout (default 30/120)\n"
	"  --partial            deliver to accepted recipients even if some\n"
	"                       are refused\n"
	"  --trace              print the SMTP dialogue on standard error\n"
	"                       (secrets masked)\n"
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
	const char *auth;
	int ssl, starttls, no_verify, trace, partial;
	long timeout_s;
};

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void usage_error(const char *what, const char *arg)
{
	fprintf(stderr, PROG ": %s%s%s\n", what, arg ? ": " : "",
		arg ? arg : "");
	fprintf(stderr, "Try '" PROG " --help'.\n");
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
		"--password-file", "--cafile", "--timeout", "--auth"};
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
			 o->auth))
		usage_error("send options given to render", NULL);
	if (o->send && !o->server == !o->program)
		usage_error("send needs exactly one of --server and --program",
			    NULL);
	if (o->ssl && o->starttls)
		usage_error("--ssl and --starttls exclude each other", NULL);
	if (o->program && (o->ssl || o->starttls || o->login || o->cafile ||
			   o->no_verify || o->auth || o->partial))
		usage_error("SMTP options given with --program", NULL);
	if (o->password_file && !o->login)
		usage_error("--password-file without --login", NULL);
}

/* Read a whole file (or standard input) into memory. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = path ? fopen(path, "rb") : stdin;
	char *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (!f)
		die("%s: %s", path, strerror(errno));
	for (;;) {
		if (n == cap) {
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
		die("%s: read error", path ? path : "standard input");
	if (path)
		fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* The body must be UTF-8: it is sent as charset utf-8.  Returns the
 * 1-based line of the first bad sequence, or 0. */
static size_t bad_utf8_line(const char *s, size_t n)
{
	mbstate_t st;
	size_t i = 0, line = 1;

	memset(&st, 0, sizeof st);
	while (i < n) {
		size_t k = mbrtowc(NULL, s + i, n - i, &st);

		if (k == (size_t)-1 || k == (size_t)-2)
			return line;
		if (k == 0)
			k = 1; /* a NUL octet */
		if (s[i] == '\n')
			line++;
		i += k;
	}
	return 0;
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
	char *data;
	size_t i, len;

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
	data = slurp(o->body_file, &len);
	if ((i = bad_utf8_line(data, len)) != 0)
		die("%s: not UTF-8 text (line %zu)",
		    o->body_file ? o->body_file : "standard input", i);
	text = po_part_new_text(data, len, "utf-8");
	free(data);
	if (!text)
		die("out of memory");
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

static int render(po_letter *l)
{
	static char buf[256 * 1024];
	po_reader *r;
	size_t n;
	int rc;

	check(po_reader_new(l, 0, &r), "render");
	for (;;) {
		rc = po_reader_read(r, buf, sizeof buf, &n);
		if (rc)
			die("%s", po_last_error());
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
	fprintf(stderr, "%c: %.*s\n", dir == PO_TRACE_CLIENT   ? 'C'
				      : dir == PO_TRACE_SERVER ? 'S'
							       : '*',
		(int)len, line);
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
	pw = slurp(file, &len);
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

/* A server reply on one line: the lines of a multi-line reply joined
 * with " / ", as in po_smtp_errmsg. */
static void put_reply(const char *reply)
{
	for (; *reply; reply++) {
		if (*reply == '\r')
			continue;
		if (*reply == '\n')
			fputs(" / ", stderr);
		else
			fputc(*reply, stderr);
	}
}

/* The refused recipients, one line each. */
static void put_refused(po_smtp *s)
{
	for (size_t i = 0; i < po_smtp_refused_count(s); i++) {
		fprintf(stderr, PROG ": refused %s: ",
			po_smtp_refused_address(s, i));
		put_reply(po_smtp_refused_reply(s, i));
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
	if (o->trace)
		po_smtp_set_trace(s, trace_cb, NULL);

	rc = po_smtp_send(s, l);
	if (rc != PO_OK) {
		/* one line: the failure, and what to try where it is
		 * something the caller can change */
		fprintf(stderr, PROG ": %s%s\n", po_smtp_errmsg(s),
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
	printf("%s\n", po_smtp_reply(s));
	po_smtp_free(s);
	return 0;
}

static int send_program(const struct opts *o, po_letter *l)
{
	po_program *p = po_program_new_shell(o->program);
	int rc;

	if (!p)
		die("out of memory");
	if (o->timeout_s)
		po_program_set_timeout(p, o->timeout_s * 1000);
	rc = po_program_send(p, l);
	if (rc != PO_OK) {
		fprintf(stderr, PROG ": %s\n", po_program_errmsg(p));
		po_program_free(p);
		return 1;
	}
	po_program_free(p);
	return 0;
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
		char *text = slurp(envelope, &len);

		check(po_preview_read_envelope(pv, text, len), "--envelope");
		free(text);
	}
	if (!strcmp(file, "-")) {
		size_t len;
		char *letter = slurp(NULL, &len);

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
	/* only to read the body as UTF-8, whatever the user's locale */
	if (!setlocale(LC_CTYPE, "C.UTF-8"))
		die("the C.UTF-8 locale is missing");
	parse(argc, argv, &o);
	l = build(&o);
	if (!o.send)
		rc = render(l);
	else if (o.server)
		rc = send_smtp(&o, l);
	else
		rc = send_program(&o, l);
	po_letter_free(l);
	return rc;
}
