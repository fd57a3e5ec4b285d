/* test_fixture.c - smoke test of the fixture servers from C, driving them
 * with libcurl's SMTP client. */
#include "check.h"
#include "fixture.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char certs[256];

/* A message with a leading dot, a dot-only line and a bare LF, so the
 * .eml comparison also checks dot-unstuffing. */
static const char MESSAGE[] =
	"From: a@example.com\r\n"
	"To: b@example.com\r\n"
	"Subject: fixture smoke test\r\n"
	"\r\n"
	".leading dot\r\n"
	".\r\n"
	"bare\nLF\r\n"
	"end\r\n";

struct body {
	const char *data;
	size_t len, off;
};

static size_t read_body(char *buf, size_t size, size_t n, void *userp)
{
	struct body *b = userp;
	size_t left = b->len - b->off, want = size * n;
	if (want > left)
		want = left;
	memcpy(buf, b->data + b->off, want);
	b->off += want;
	return want;
}

static size_t discard(char *buf, size_t size, size_t n, void *userp)
{
	(void)buf;
	(void)userp;
	return size * n;
}

struct send_opts {
	const char *url;
	const char *user, *password;
	const char *cainfo;
	int use_ssl;
	const char *const *rcpts;
	long *response_code;
};

/* Send MESSAGE through libcurl, on a fresh handle closed afterwards (so
 * the server has seen QUIT by the time this returns). */
static CURLcode send_mail(const struct send_opts *o)
{
	static const char *const default_rcpts[] = { "b@example.com", NULL };
	const char *const *r = o->rcpts ? o->rcpts : default_rcpts;
	struct body b = { MESSAGE, sizeof MESSAGE - 1, 0 };
	struct curl_slist *rcpt = NULL;
	CURL *c = curl_easy_init();
	CURLcode rc;

	assert_non_null(c);
	for (; *r; r++)
		rcpt = curl_slist_append(rcpt, *r);
	curl_easy_setopt(c, CURLOPT_URL, o->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_SERVER_RESPONSE_TIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, "<a@example.com>");
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)-1);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_body);
	curl_easy_setopt(c, CURLOPT_READDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, discard);
	if (o->user) {
		curl_easy_setopt(c, CURLOPT_USERNAME, o->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, o->password);
		curl_easy_setopt(c, CURLOPT_LOGIN_OPTIONS, "AUTH=PLAIN");
	}
	if (o->cainfo)
		curl_easy_setopt(c, CURLOPT_CAINFO, o->cainfo);
	if (o->use_ssl)
		curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	rc = curl_easy_perform(c);
	if (o->response_code)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, o->response_code);
	curl_easy_cleanup(c);
	curl_slist_free_all(rcpt);
	return rc;
}

static void cert_path(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", certs, name);
}

static void check_message(fixture *f, const char *json_has[])
{
	size_t len = 0;
	char *eml, *json;

	assert_int_equal(fixture_wait_messages(f, 1, 5000), 1);
	eml = fixture_read(f, "0001.eml", &len);
	assert_non_null(eml);
	assert_int_equal(len, sizeof MESSAGE - 1);
	assert_memory_equal(eml, MESSAGE, len);
	free(eml);
	json = fixture_read(f, "0001.json", NULL);
	assert_non_null(json);
	for (int i = 0; json_has[i]; i++) {
		if (!strstr(json, json_has[i]))
			print_error("missing %s in:\n%s\n", json_has[i], json);
		assert_non_null(strstr(json, json_has[i]));
	}
	free(json);
}

static void test_smtpd_plain(void **state)
{
	fixture f;
	char url[128];
	const char *has[] = { "\"seq\": 1", "\"mail_from\": \"a@example.com\"",
			      "\"b@example.com\"", "\"tls\": false",
			      "\"ehlo\": \"client.example\"",
			      "\"auth_user\": null", NULL };
	(void)state;
	assert_int_equal(fixture_start(&f, "smtpd", NULL), 0);
	snprintf(url, sizeof url, "smtp://127.0.0.1:%d/client.example",
		 f.port);
	struct send_opts o = { .url = url };
	assert_int_equal(send_mail(&o), CURLE_OK);
	check_message(&f, has);
	fixture_stop(&f);
}

static void test_smtpd_starttls(void **state)
{
	fixture f;
	char url[128], cert[512], key[512], ca[512];
	const char *has[] = { "\"tls\": true", "\"tls_version\": \"TLSv1.3\"",
			      "\"ehlo\": \"client.example\"", NULL };
	(void)state;
	cert_path(cert, sizeof cert, "server.pem");
	cert_path(key, sizeof key, "server.key");
	cert_path(ca, sizeof ca, "ca.pem");
	const char *args[] = { "--tls", "starttls", "--cert", cert, "--key",
			       key, NULL };
	assert_int_equal(fixture_start(&f, "smtpd", args), 0);
	snprintf(url, sizeof url, "smtp://127.0.0.1:%d/client.example",
		 f.port);
	struct send_opts o = { .url = url, .cainfo = ca, .use_ssl = 1 };
	assert_int_equal(send_mail(&o), CURLE_OK);
	check_message(&f, has);
	fixture_stop(&f);
}

static void test_smtpd_implicit_auth(void **state)
{
	fixture f;
	char url[128], cert[512], key[512], ca[512];
	const char *has[] = { "\"tls\": true", "\"auth_mechanism\": \"PLAIN\"",
			      "\"auth_user\": \"alice\"", NULL };
	long code = 0;
	(void)state;
	cert_path(cert, sizeof cert, "server.pem");
	cert_path(key, sizeof key, "server.key");
	cert_path(ca, sizeof ca, "ca.pem");
	const char *args[] = { "--tls", "implicit", "--cert", cert, "--key",
			       key, "--auth", "required", "--user", "alice",
			       "--password", "s3cret", NULL };
	assert_int_equal(fixture_start(&f, "smtpd", args), 0);
	/* localhost: checks the DNS name in the certificate. */
	snprintf(url, sizeof url, "smtps://localhost:%d/client.example",
		 f.port);
	struct send_opts bad = { .url = url, .cainfo = ca, .user = "alice",
				 .password = "wrong", .response_code = &code };
	assert_int_equal(send_mail(&bad), CURLE_LOGIN_DENIED);
	assert_int_equal(code, 535);
	struct send_opts o = { .url = url, .cainfo = ca, .user = "alice",
			       .password = "s3cret" };
	assert_int_equal(send_mail(&o), CURLE_OK);
	check_message(&f, has);
	assert_int_equal(fixture_wait_messages(&f, 0, 0), 1);
	fixture_stop(&f);
}

/* Certificates that must fail verification, one server each. */
static void test_bad_certificates(void **state)
{
	static const char *const names[] = { "wrongname", "expired",
					     "selfsigned" };
	char ca[512];
	(void)state;
	cert_path(ca, sizeof ca, "ca.pem");
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		fixture f;
		char url[128], cert[512], key[512], file[64];
		snprintf(file, sizeof file, "%s.pem", names[i]);
		cert_path(cert, sizeof cert, file);
		snprintf(file, sizeof file, "%s.key", names[i]);
		cert_path(key, sizeof key, file);
		const char *args[] = { "--tls", "implicit", "--cert", cert,
				       "--key", key, NULL };
		assert_int_equal(fixture_start(&f, "smtpd", args), 0);
		snprintf(url, sizeof url, "smtps://localhost:%d/client.example",
			 f.port);
		struct send_opts o = { .url = url, .cainfo = ca };
		assert_int_equal(send_mail(&o), CURLE_PEER_FAILED_VERIFICATION);
		assert_int_equal(fixture_wait_messages(&f, 0, 0), 0);
		fixture_stop(&f);
	}
}

static void test_faultd_rcpt2(void **state)
{
	fixture f;
	char url[128], *t;
	static const char *const rcpts[] = { "b@example.com", "c@example.com",
					     NULL };
	const char *args[] = { "--at", "rcpt:2", "--do", "reply", "--reply",
			       "550 5.1.1 No such user", NULL };
	long code = 0;
	(void)state;
	assert_int_equal(fixture_start(&f, "faultd", args), 0);
	snprintf(url, sizeof url, "smtp://127.0.0.1:%d/client.example",
		 f.port);
	struct send_opts o = { .url = url, .rcpts = rcpts,
			       .response_code = &code };
	assert_int_equal(send_mail(&o), CURLE_SEND_ERROR);
	assert_int_equal(code, 550);
	t = fixture_transcript(&f, 1);
	assert_non_null(t);
	assert_non_null(strstr(t, "C: EHLO client.example\n"));
	assert_non_null(strstr(t, "C: RCPT TO:<b@example.com>\n"
				  "S: 250 2.1.5 Ok\n"
				  "C: RCPT TO:<c@example.com>\n"
				  "S: 550 5.1.1 No such user\n"));
	assert_null(strstr(t, "C: DATA"));
	assert_non_null(strstr(t, "C: QUIT\nS: 221 2.0.0 Bye\n"));
	assert_non_null(strstr(t, "* end\n"));
	free(t);
	assert_int_equal(fixture_wait_messages(&f, 0, 0), 0);
	fixture_stop(&f);
}

/* A server whose stdin reaches EOF must exit by itself, promptly. */
static void test_stdin_eof(void **state)
{
	(void)state;
	for (int i = 0; i < 2; i++) {
		fixture f;
		int status = -1;
		pid_t r = 0;
		assert_int_equal(fixture_start(&f, i ? "smtpd" : "faultd", NULL),
				 0);
		close(f.stdin_fd);
		f.stdin_fd = -1;
		for (int ms = 0; ms < 3000; ms += 10) {
			r = waitpid(f.pid, &status, WNOHANG);
			if (r == f.pid)
				break;
			usleep(10000);
		}
		assert_int_equal(r, f.pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		f.pid = 0;
		fixture_stop(&f);
	}
}

static int setup(void **state)
{
	(void)state;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	return fixture_certs(certs, sizeof certs);
}

static int teardown(void **state)
{
	(void)state;
	curl_global_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smtpd_plain),
		cmocka_unit_test(test_smtpd_starttls),
		cmocka_unit_test(test_smtpd_implicit_auth),
		cmocka_unit_test(test_bad_certificates),
		cmocka_unit_test(test_faultd_rcpt2),
		cmocka_unit_test(test_stdin_eof),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
