/* test_cli.c - build/postoffice as a user runs it: render, send over SMTP
 * and to a program, and the error behaviour (one line on stderr, nothing
 * on stdout, a non-zero exit status). */
#include "check.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
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
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
