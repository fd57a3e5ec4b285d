/* test_cli.c - build/postoffice as a user runs it: render, send over SMTP
 * and to a program, and the error behaviour (one line on stderr, nothing
 * on stdout, a non-zero exit status). */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"

struct run {
	int status;     /* exit status, or -1 */
	char *out, *err;
	size_t nout, nerr;
};

static void slurp_fd(int fd, char **buf, size_t *n)
{
	size_t cap = 4096;
	ssize_t got;

	*buf = malloc(cap + 1);
	*n = 0;
	while ((got = read(fd, *buf + *n, cap - *n)) > 0) {
		*n += (size_t)got;
		if (*n == cap) {
			cap *= 2;
			*buf = realloc(*buf, cap + 1);
		}
	}
	(*buf)[*n] = '\0';
}

/* Run build/postoffice with argv (NULL-terminated, without argv[0]) and
 * input on standard input; env is "NAME=value" or NULL. */
static struct run run(const char *const *args, const char *input,
		      const char *env)
{
	int in[2], out[2], err[2], st;
	const char *argv[64];
	struct run r = {0};
	pid_t pid;
	size_t n = 0;

	argv[n++] = "build/postoffice";
	while (*args)
		argv[n++] = *args++;
	argv[n] = NULL;
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	assert_int_equal(pipe(err), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(in[1]);
		close(out[0]);
		close(err[0]);
		if (env)
			putenv((char *)env);
		else
			unsetenv("POSTOFFICE_PASSWORD");
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	if (input)
		assert_int_equal(write(in[1], input, strlen(input)),
				 (ssize_t)strlen(input));
	close(in[1]);
	/* the outputs are small: read stdout, then stderr */
	slurp_fd(out[0], &r.out, &r.nout);
	slurp_fd(err[0], &r.err, &r.nerr);
	close(out[0]);
	close(err[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return r;
}

static void done(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* Failure: a status, one line on stderr, nothing on stdout. */
static void assert_clean_failure(struct run *r, int status,
				 const char *needle)
{
	if (r->status != status || !strstr(r->err, needle))
		print_error("status %d, stderr: %s\n", r->status, r->err);
	assert_int_equal(r->status, status);
	assert_int_equal(r->nout, 0);
	assert_non_null(strstr(r->err, needle));
	if (status == 1)
		assert_ptr_equal(strchr(r->err, '\n'),
				 r->err + r->nerr - 1);
}

static void test_help_and_version(void **state)
{
	struct run r;

	(void)state;
	r = run((const char *[]){"--help", NULL}, NULL, NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "--server HOST[:PORT]"));
	assert_non_null(strstr(r.out, "--password-file"));
	done(&r);
	r = run((const char *[]){"send", "--help", NULL}, NULL, NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	r = run((const char *[]){"--version", NULL}, NULL, NULL);
	assert_string_equal(r.out, "postoffice " PO_VERSION "\n");
	done(&r);
}

static void test_render(void **state)
{
	struct run r;

	(void)state;
	r = run((const char *[]){"render", "--from", "J\xc3\xb6rg <j@example.com>",
				 "--to", "a@example.com", "--to",
				 "b@example.com", "--cc", "c@example.com",
				 "--bcc", "hidden@example.com", "--subject",
				 "Gr\xc3\xbc\xc3\x9f" "e", "--reply-to",
				 "r@example.com", "--header", "X-Test: 1",
				 "--attach", "tests-c/check.h", NULL},
		"Hello\n.\nworld\n", NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.nerr, 0);
	assert_non_null(strstr(r.out, "From: =?utf-8?"));
	assert_non_null(strstr(r.out, "To: a@example.com, b@example.com\r\n"));
	assert_non_null(strstr(r.out, "Cc: c@example.com\r\n"));
	assert_non_null(strstr(r.out, "X-Test: 1\r\n"));
	assert_non_null(strstr(r.out, "filename=\"check.h\""));
	assert_null(strstr(r.out, "hidden"));
	/* not dot-stuffed, and no lone dot */
	assert_null(strstr(r.out, "\r\n.\r\n"));
	assert_non_null(strstr(r.out, "=2E"));
	done(&r);
}

static void test_render_errors(void **state)
{
	struct run r;

	(void)state;
	r = run((const char *[]){"render", "--from", "bad address", "--to",
				 "a@example.com", NULL},
		"x", NULL);
	assert_clean_failure(&r, 1, "From address");
	done(&r);
	r = run((const char *[]){"render", "--from", "a@example.com", "--to",
				 "b@example.com", "--subject", "a\r\nBcc: x@y",
				 NULL},
		"x", NULL);
	assert_clean_failure(&r, 1, "Subject");
	done(&r);
	r = run((const char *[]){"render", "--from", "a@example.com", "--to",
				 "b@example.com", "--header", "NoColon", NULL},
		"x", NULL);
	assert_clean_failure(&r, 1, "header");
	done(&r);
	r = run((const char *[]){"render", "--from", "a@example.com", "--to",
				 "b@example.com", "--attach", "/no/such", NULL},
		"x", NULL);
	assert_clean_failure(&r, 1, "/no/such");
	done(&r);
	r = run((const char *[]){"render", "--from", "a@example.com", NULL},
		"x", NULL);
	assert_clean_failure(&r, 1, "no recipients");
	done(&r);
	r = run((const char *[]){"render", "--from", "a@example.com", "--to",
				 "b@example.com", NULL},
		"caf\xe9\n", NULL);
	assert_clean_failure(&r, 1, "not UTF-8");
	done(&r);
	r = run((const char *[]){"render", "--bogus", NULL}, "", NULL);
	assert_clean_failure(&r, 2, "unknown option");
	done(&r);
	r = run((const char *[]){"render", "--server", "x", NULL}, "", NULL);
	assert_clean_failure(&r, 2, "send options");
	done(&r);
	r = run((const char *[]){"send", "--server", "h", "--password", "p",
				 NULL},
		"", NULL);
	assert_clean_failure(&r, 2, "no password flag");
	done(&r);
	r = run((const char *[]){"send", "--from", "a@example.com", NULL}, "",
		NULL);
	assert_clean_failure(&r, 2, "--server");
	done(&r);
	/* a one-value flag given twice: no silent last-one-wins */
	r = run((const char *[]){"render", "--from", "a@example.com", "--to",
				 "b@example.com", "--subject", "one",
				 "--subject", "two", NULL},
		"x", NULL);
	assert_clean_failure(&r, 2, "given twice: --subject");
	done(&r);
}

static void test_send_smtp(void **state)
{
	char certs[256], ca[300], pem[300], key[300], port[16], server[40];
	char pwfile[] = "/tmp/po-pw-XXXXXX";
	const char *args[16];
	fixture f;
	struct run r;
	char *j;
	int fd;

	(void)state;
	assert_int_equal(fixture_certs(certs, sizeof certs), 0);
	snprintf(ca, sizeof ca, "%s/ca.pem", certs);
	snprintf(pem, sizeof pem, "%s/server.pem", certs);
	snprintf(key, sizeof key, "%s/server.key", certs);
	args[0] = "--tls";
	args[1] = "starttls";
	args[2] = "--cert";
	args[3] = pem;
	args[4] = "--key";
	args[5] = key;
	args[6] = "--auth";
	args[7] = "required";
	args[8] = "--user";
	args[9] = "ann";
	args[10] = "--password";
	args[11] = "pw from file";
	args[12] = NULL;
	assert_int_equal(fixture_start(&f, "smtpd", args), 0);
	snprintf(port, sizeof port, "%d", f.port);
	snprintf(server, sizeof server, "localhost:%d", f.port);
	fd = mkstemp(pwfile);
	assert_int_equal(write(fd, "pw from file\n", 13), 13);
	close(fd);

	r = run((const char *[]){"send", "--server", server, "--starttls",
				 "--cafile", ca, "--login", "ann",
				 "--password-file", pwfile, "--from",
				 "ann@example.com", "--to", "b@example.com",
				 "--bcc", "c@example.com", "--trace", NULL},
		"body\n", NULL);
	if (r.status != 0)
		print_error("%s\n", r.err);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "250 2.0.0 OK: queued as 0001"));
	assert_non_null(strstr(r.err, "C: STARTTLS"));
	assert_non_null(strstr(r.err, "<masked>"));
	assert_null(strstr(r.err, "pw from file"));
	done(&r);
	assert_int_equal(fixture_wait_messages(&f, 1, 5000), 1);
	j = fixture_read(&f, "0001.json", NULL);
	assert_non_null(strstr(j, "\"auth_user\": \"ann\""));
	assert_non_null(strstr(j, "c@example.com"));
	free(j);

	/* the password from the environment; a wrong one fails with the
	 * server's reply */
	r = run((const char *[]){"send", "--server", server, "--starttls",
				 "--cafile", ca, "--login", "ann", "--from",
				 "ann@example.com", "--to", "b@example.com",
				 NULL},
		"body\n", "POSTOFFICE_PASSWORD=wrong");
	assert_clean_failure(&r, 1, "535");
	assert_null(strstr(r.err, "wrong"));
	done(&r);
	/* no password at all */
	r = run((const char *[]){"send", "--server", server, "--starttls",
				 "--login", "ann", "--from", "a@example.com",
				 "--to", "b@example.com", NULL},
		"body\n", NULL);
	assert_clean_failure(&r, 1, "POSTOFFICE_PASSWORD");
	done(&r);
	/* the self-signed test CA is not trusted by default */
	r = run((const char *[]){"send", "--server", server, "--starttls",
				 "--from", "a@example.com", "--to",
				 "b@example.com", NULL},
		"body\n", NULL);
	assert_clean_failure(&r, 1, "certificate");
	assert_non_null(strstr(r.err, "--cafile FILE"));
	done(&r);
	unlink(pwfile);
	fixture_stop(&f);
	(void)port;
}

static void test_send_ipv6_and_refusal(void **state)
{
	const char *args[] = {"--host", "::1", "--refuse",
			      "bad@example.com=550 5.1.1 No such user",
			      "--refuse", "busy@example.com=450 4.2.1 Busy",
			      NULL};
	char server[40];
	fixture f;
	struct run r;

	(void)state;
	assert_int_equal(fixture_start(&f, "smtpd", args), 0);
	snprintf(server, sizeof server, "[::1]:%d", f.port);
	r = run((const char *[]){"send", "--server", server, "--from",
				 "a@example.com", "--to", "ok@example.com",
				 NULL},
		"x", NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	r = run((const char *[]){"send", "--server", server, "--from",
				 "a@example.com", "--to", "bad@example.com",
				 NULL},
		"x", NULL);
	assert_clean_failure(&r, 1,
			     "recipient refused: RCPT TO:<bad@example.com>: "
			     "550 5.1.1 No such user");
	done(&r);
	r = run((const char *[]){"send", "--server", server, "--partial",
				 "--from", "a@example.com", "--to",
				 "bad@example.com", "--to", "ok@example.com",
				 NULL},
		"x", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "refused bad@example.com"));
	done(&r);
	/* --partial and every recipient refused: each is named */
	r = run((const char *[]){"send", "--server", server, "--partial",
				 "--from", "a@example.com", "--to",
				 "bad@example.com", "--to", "busy@example.com",
				 NULL},
		"x", NULL);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "refused bad@example.com: 550 5.1.1"));
	assert_non_null(strstr(r.err, "refused busy@example.com: 450 4.2.1"));
	done(&r);
	/* no STARTTLS offered: refused, with what to try */
	r = run((const char *[]){"send", "--server", server, "--starttls",
				 "--from", "a@example.com", "--to",
				 "ok@example.com", NULL},
		"x", NULL);
	assert_clean_failure(&r, 1, "--starttls=try");
	done(&r);
	assert_int_equal(fixture_wait_messages(&f, 2, 5000), 2);
	fixture_stop(&f);
}

/* DSN and REQUIRETLS flags; #7 item 5: a fullwidth '@' in --server is
 * not a way to reach another host. */
static void test_send_dsn_and_host_check(void **state)
{
	const char *dsn[] = {"--caps", "DSN,8BITMIME", NULL};
	char server[64], *j;
	fixture f, g;
	struct run r;

	(void)state;
	assert_int_equal(fixture_start(&f, "faultd", dsn), 0);
	snprintf(server, sizeof server, "127.0.0.1:%d", f.port);
	r = run((const char *[]){"send", "--server", server, "--from",
				 "a@example.com", "--to", "b@example.com",
				 "--dsn-notify", "success,failure",
				 "--dsn-ret", "hdrs", "--dsn-envid", "batch-7",
				 NULL},
		"x", NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	assert_int_equal(fixture_wait_messages(&f, 1, 5000), 1);
	j = fixture_read(&f, "0001.json", NULL);
	assert_non_null(strstr(j, "\"NOTIFY=SUCCESS,FAILURE\""));
	assert_non_null(strstr(j, "\"RET=HDRS\""));
	assert_non_null(strstr(j, "\"ENVID=batch-7\""));
	free(j);
	r = run((const char *[]){"send", "--server", server, "--from",
				 "a@example.com", "--to", "b@example.com",
				 "--dsn-notify", "sometimes", NULL},
		"x", NULL);
	assert_int_equal(r.status, 2);
	done(&r);
	/* REQUIRETLS on a plain connection: refused, nothing sent */
	r = run((const char *[]){"send", "--server", server, "--from",
				 "a@example.com", "--to", "b@example.com",
				 "--require-tls", NULL},
		"x", NULL);
	assert_clean_failure(&r, 1, "REQUIRETLS");
	done(&r);
	fixture_stop(&f);

	/* a server without DSN */
	assert_int_equal(fixture_start(&f, "faultd", NULL), 0);
	snprintf(server, sizeof server, "127.0.0.1:%d", f.port);
	r = run((const char *[]){"send", "--server", server, "--from",
				 "a@example.com", "--to", "b@example.com",
				 "--dsn-notify", "never", NULL},
		"x", NULL);
	assert_clean_failure(&r, 1, "does not support DSN");
	done(&r);
	assert_int_equal(fixture_wait_messages(&f, 0, 0), 0);

	/* --server $'mail.example.com\uff20127.0.0.1:PORT' */
	assert_int_equal(fixture_start(&g, "faultd", NULL), 0);
	snprintf(server, sizeof server,
		 "mail.example.com\xef\xbc\xa0" "127.0.0.1:%d", g.port);
	r = run((const char *[]){"send", "--server", server, "--from",
				 "a@example.com", "--to", "b@example.com",
				 NULL},
		"x", NULL);
	assert_clean_failure(&r, 1, "not a host name");
	done(&r);
	assert_null(fixture_transcript_wait(&g, 1, 300));
	fixture_stop(&g);
	fixture_stop(&f);
}

static void test_send_program(void **state)
{
	char dir[] = "/tmp/po-cli-XXXXXX", cmd[128], path[64];
	struct run r;
	FILE *f;
	char got[4096];
	size_t n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/out", dir);
	snprintf(cmd, sizeof cmd, "cat > %s", path);
	r = run((const char *[]){"send", "--program", cmd, "--from",
				 "a@example.com", "--to", "b@example.com",
				 "--bcc", "c@example.com", NULL},
		"hi\n", NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	f = fopen(path, "rb");
	n = fread(got, 1, sizeof got - 1, f);
	got[n] = '\0';
	fclose(f);
	assert_non_null(strstr(got, "\r\nBcc: c@example.com\r\n"));
	r = run((const char *[]){"send", "--program",
				 "echo queue full >&2; exit 75", "--from",
				 "a@example.com", "--to", "b@example.com",
				 NULL},
		"hi\n", NULL);
	assert_clean_failure(&r, 1, "status 75: queue full");
	done(&r);
	unlink(path);
	rmdir(dir);
}

/* The CLI takes addresses through the library's one parser: bare local
 * parts, address lists in one flag, the same refusals (issue #8). */
static void test_cli_addresses(void **state)
{
	const char *args[] = {NULL};
	char server[40];
	fixture f;
	struct run r;
	char *j;

	(void)state;
	r = run((const char *[]){"render", "--from", "root", "--to",
				 "postmaster", "--reply-to", "noreply", NULL},
		"x\n", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "From: root\r\n"));
	assert_non_null(strstr(r.out, "To: postmaster\r\n"));
	assert_non_null(strstr(r.out, "Reply-To: noreply\r\n"));
	done(&r);
	r = run((const char *[]){"render", "--from", "a@example.com", "--to",
				 "b@example.com, \"Doe, Jane\" <j@example.com>",
				 "--cc", "c@example.com", NULL},
		"x\n", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(
		r.out, "To: b@example.com, \"Doe, Jane\" <j@example.com>\r\n"));
	done(&r);
	r = run((const char *[]){"render", "--from", "a@example.com", "--to",
				 "Doe, Jane <j@example.com>", NULL},
		"x\n", NULL);
	assert_clean_failure(&r, 1, "quote it");
	done(&r);
	r = run((const char *[]){"render", "--from",
				 "ro\xe2\x80\xaeot@example.com", "--to",
				 "b@example.com", NULL},
		"x\n", NULL);
	assert_clean_failure(&r, 1, "U+202E");
	done(&r);

	assert_int_equal(fixture_start(&f, "smtpd", args), 0);
	snprintf(server, sizeof server, "127.0.0.1:%d", f.port);
	r = run((const char *[]){"send", "--server", server, "--from", "root",
				 "--to", "postmaster", "--to",
				 "a@example.com, admin@example.com", NULL},
		"x\n", NULL);
	if (r.status != 0)
		print_error("%s\n", r.err);
	assert_int_equal(r.status, 0);
	done(&r);
	assert_int_equal(fixture_wait_messages(&f, 1, 5000), 1);
	j = fixture_read(&f, "0001.json", NULL);
	assert_non_null(strstr(j, "\"mail_from\": \"root\""));
	assert_non_null(strstr(j, "\"postmaster\""));
	assert_non_null(strstr(j, "\"admin@example.com\""));
	free(j);
	fixture_stop(&f);
}

/* ---------------------------------------------------------------------
 * Issue 11: the body is streamed and checked by the library; what a
 * server or a program says is printed safely; a killed CLI takes its
 * program with it. */

static int exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static void make_file(const char *path, size_t size, char fill)
{
	FILE *f = fopen(path, "wb");
	char block[65536];

	assert_non_null(f);
	memset(block, fill, sizeof block);
	for (size_t i = 0; i < sizeof block; i += 60)
		block[i] = '\n';
	while (size) {
		size_t k = size < sizeof block ? size : sizeof block;

		assert_int_equal(fwrite(block, 1, k, f), k);
		size -= k;
	}
	fclose(f);
}

/* Run a shell command line; its stderr (and stdout when keep_out) go to
 * *err; the peak RSS of the whole run in KiB in *rss_kib. */
static int sh_run(const char *cmd, char **err, long *rss_kib)
{
	int p[2], st;
	pid_t pid;
	size_t n;
	struct rusage ru;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 2);
		close(p[0]);
		close(p[1]);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	slurp_fd(p[0], err, &n);
	close(p[0]);
	assert_int_equal(wait4(pid, &st, 0, &ru), pid);
	if (rss_kib)
		*rss_kib = ru.ru_maxrss;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_body_checks(void **state)
{
	char dir[] = "/tmp/po-cli-XXXXXX", fifo[64];
	struct run r;

	(void)state;
	assert_non_null(mkdtemp(dir));
	/* a code point over U+10FFFF, which glibc's mbrtowc let through */
	r = run((const char *[]){"render", "--from", "a@example.com", "--to",
				 "b@example.com", NULL},
		"fine\nnot \xf4\x90\x80\x80 fine\n", NULL);
	assert_clean_failure(&r, 1, "standard input: not UTF-8 text (line 2)");
	done(&r);
	/* --body-file takes regular files only, as --attach does: /dev/zero
	 * used to grow memory without end, a FIFO to block */
	r = run((const char *[]){"render", "--from", "a@example.com", "--to",
				 "b@example.com", "--body-file", "/dev/zero",
				 NULL},
		"", NULL);
	assert_clean_failure(&r, 1, "not a regular file");
	done(&r);
	snprintf(fifo, sizeof fifo, "%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	r = run((const char *[]){"render", "--from", "a@example.com", "--to",
				 "b@example.com", "--body-file", fifo, NULL},
		"", NULL);
	assert_clean_failure(&r, 1, "not a regular file");
	done(&r);
	unlink(fifo);
	rmdir(dir);
}

/* The body is streamed: a 64 MiB --body-file renders in a few MiB, and
 * standard input stops at the documented 64 MiB. */
static void test_body_streamed(void **state)
{
	char dir[] = "/tmp/po-cli-XXXXXX", path[64], cmd[512], *err;
	long rss;
	int st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/body.txt", dir);
	make_file(path, 64u << 20, 'a');
	snprintf(cmd, sizeof cmd,
		 "build/postoffice render --from a@example.com --to "
		 "b@example.com --body-file %s > /dev/null",
		 path);
	st = sh_run(cmd, &err, &rss);
	if (st)
		print_error("%s\n", err);
	assert_int_equal(st, 0);
	assert_true(rss < 24 * 1024);
	free(err);
	snprintf(cmd, sizeof cmd,
		 "head -c %ld /dev/zero | tr '\\0' b | build/postoffice render "
		 "--from a@example.com --to b@example.com > /dev/null",
		 (64L << 20) + 1);
	st = sh_run(cmd, &err, &rss);
	assert_int_equal(st, 1);
	assert_non_null(strstr(err, "longer than 64 MiB"));
	assert_true(rss < 24 * 1024);
	free(err);
	snprintf(cmd, sizeof cmd,
		 "head -c %ld /dev/zero | tr '\\0' b | build/postoffice render "
		 "--from a@example.com --to b@example.com > /dev/null",
		 64L << 20);
	st = sh_run(cmd, &err, NULL);
	assert_int_equal(st, 0);
	free(err);
	unlink(path);
	rmdir(dir);
}

static int has_raw_control(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == 0x1b || s[i] == 0x07 || s[i] == '\r' ||
		    ((unsigned char)s[i] == 0xc2 &&
		     (unsigned char)s[i + 1] == 0x9b))
			return 1;
	return 0;
}

/* Terminal escapes from the server reach neither the trace, nor the
 * error line, nor the success line: they are shown as \xHH. */
static void test_server_text_sanitised(void **state)
{
	const char *refuse[] = {"--at", "rcpt", "--do", "reply", "--reply",
				"550 5.1.1 \x1b]0;pwned\x07 \x1b[2J"
				"\xc2\x9b" "31m bye",
				NULL};
	const char *accept[] = {"--at", "eod", "--do", "reply", "--reply",
				"250 queued \x1b[31mred\r" "X", NULL};
	char server[40];
	fixture f;
	struct run r;

	(void)state;
	assert_int_equal(fixture_start(&f, "faultd", refuse), 0);
	snprintf(server, sizeof server, "127.0.0.1:%d", f.port);
	r = run((const char *[]){"send", "--server", server, "--trace",
				 "--from", "a@example.com", "--to",
				 "b@example.com", NULL},
		"x\n", NULL);
	assert_int_equal(r.status, 1);
	assert_false(has_raw_control(r.err, r.nerr));
	assert_non_null(strstr(r.err, "550 5.1.1 \\x1B]0;pwned\\x07 "
				      "\\x1B[2J\\u{009B}31m bye"));
	assert_non_null(strstr(r.err, "S: 550 5.1.1 \\x1B]0;pwned"));
	done(&r);
	fixture_stop(&f);
	assert_int_equal(fixture_start(&f, "faultd", accept), 0);
	snprintf(server, sizeof server, "127.0.0.1:%d", f.port);
	r = run((const char *[]){"send", "--server", server, "--from",
				 "a@example.com", "--to", "b@example.com",
				 NULL},
		"x\n", NULL);
	assert_int_equal(r.status, 0);
	assert_false(has_raw_control(r.out, r.nout));
	assert_non_null(strstr(r.out, "250 queued \\x1B[31mred\\x0DX\n"));
	done(&r);
	fixture_stop(&f);
	/* and what a program writes to its stderr */
	r = run((const char *[]){"send", "--program",
				 "printf 'no\\033[2Jway\\302\\233' >&2; exit 1",
				 "--from", "a@example.com", "--to",
				 "b@example.com", NULL},
		"x\n", NULL);
	assert_int_equal(r.status, 1);
	assert_false(has_raw_control(r.err, r.nerr));
	assert_non_null(strstr(r.err, "\\u{009B}"));
	done(&r);
}

/* A CLI killed while it feeds its program takes the program with it:
 * the program never reads a clean end of the half letter (sendmail -t
 * would queue it).  By a signal it can catch, the CLI kills the group
 * first; by SIGKILL, the kernel does (PR_SET_PDEATHSIG, for the program
 * it started itself). */
static void test_killed_cli_kills_program(void **state)
{
	char dir[] = "/tmp/po-cli-XXXXXX", big[64], out[64], mark[64];
	char cmd[256];
	const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGKILL};

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(big, sizeof big, "%s/big.bin", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	snprintf(mark, sizeof mark, "%s/done", dir);
	make_file(big, 4u << 20, 'z');
	/* reads slowly: the CLI blocks on the full pipe */
	snprintf(cmd, sizeof cmd,
		 "sleep 0.5; cat > %s && touch %s", out, mark);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		pid_t pid = fork();
		int st;

		assert_true(pid >= 0);
		if (pid == 0) {
			int null = open("/dev/null", O_RDWR);

			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
			execl("build/postoffice", "build/postoffice", "send",
			      "--program", cmd, "--from", "a@example.com",
			      "--to", "b@example.com", "--attach", big,
			      (char *)NULL);
			_exit(127);
		}
		usleep(200 * 1000);
		assert_int_equal(kill(pid, sigs[i]), 0);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFSIGNALED(st));
		assert_int_equal(WTERMSIG(st), sigs[i]);
		usleep(1500 * 1000);
		assert_false(exists(mark));
		unlink(out);
	}
	unlink(big);
	rmdir(dir);
}

/* The program's run is bounded by default; --timeout sets the bound. */
static void test_program_timeout(void **state)
{
	struct run r;
	time_t t0 = time(NULL);

	(void)state;
	r = run((const char *[]){"send", "--program", "sleep 30", "--timeout",
				 "1", "--from", "a@example.com", "--to",
				 "b@example.com", NULL},
		"x\n", NULL);
	assert_clean_failure(&r, 1, "timed out after 1000 ms");
	assert_true(time(NULL) - t0 < 5);
	done(&r);
	r = run((const char *[]){"--help", NULL}, NULL, NULL);
	assert_non_null(strstr(r.out, "(default 600)"));
	done(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_and_version),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_render_errors),
		cmocka_unit_test(test_send_smtp),
		cmocka_unit_test(test_send_ipv6_and_refusal),
		cmocka_unit_test(test_send_program),
		cmocka_unit_test(test_cli_addresses),
		cmocka_unit_test(test_body_checks),
		cmocka_unit_test(test_body_streamed),
		cmocka_unit_test(test_server_text_sanitised),
		cmocka_unit_test(test_killed_cli_kills_program),
		cmocka_unit_test(test_program_timeout),
		cmocka_unit_test(test_send_dsn_and_host_check),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
