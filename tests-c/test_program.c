/* test_program.c - the program transport: what the program receives,
 * how its failures are reported, and that the caller is left as it was
 * (no SIGPIPE, no zombie, no descriptor, its signal state untouched). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define DATE_LINE "Date: Mon, 1 Jan 2024 00:00:00 +0000"
#define MB (1024 * 1024)

static char dir[64];

/* ---------------------------------------------------------------------
 * Helpers */

static char *path_in_dir(const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

static int exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A letter with a sender, To, Cc and Bcc recipients and a fixed Date, so
 * that two renders of it are identical. */
static po_letter *letter_with(po_part *body)
{
	po_letter *l = po_letter_new();

	assert_non_null(l);
	assert_po_ok(po_letter_set_from(l, "Sender <sender@example.org>"));
	assert_po_ok(po_letter_add_to(l, "to@example.org"));
	assert_po_ok(po_letter_add_cc(l, "cc@example.org"));
	assert_po_ok(po_letter_add_bcc(l, "Hidden <bcc@example.org>"));
	assert_po_ok(po_letter_set_subject(l, "program transport"));
	assert_po_ok(po_letter_add_header_line(l, DATE_LINE));
	assert_po_ok(po_letter_set_body(l, body));
	return l;
}

static po_letter *text_letter(const char *text)
{
	po_part *p = po_part_new_text(text, strlen(text), NULL);

	assert_non_null(p);
	return letter_with(p);
}

/* A letter with an n-byte binary attachment held in memory. */
static po_letter *bytes_letter(size_t n)
{
	po_part *mp = po_part_new_multipart(NULL);
	po_part *text = po_part_new_text("see attached\n", 13, NULL);
	unsigned char *data = malloc(n);
	po_part *bin;
	size_t i;

	assert_non_null(data);
	for (i = 0; i < n; i++)
		data[i] = (unsigned char)(i * 7 + (i >> 9));
	bin = po_part_new_bytes(data, n);
	free(data);
	assert_non_null(mp);
	assert_non_null(text);
	assert_non_null(bin);
	assert_po_ok(po_part_add(mp, text));
	assert_po_ok(po_part_add(mp, bin));
	return letter_with(mp);
}

/* The letter as the program transport must deliver it. */
static char *render(po_letter *l, size_t *len_out)
{
	po_reader *r;
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	assert_po_ok(po_reader_new(l, PO_RENDER_BCC, &r));
	for (;;) {
		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 131072;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		assert_po_ok(po_reader_read(r, buf + len, cap - len, &n));
		if (n == 0)
			break;
		len += n;
	}
	po_reader_free(r);
	*len_out = len;
	return buf;
}

static char *slurp(const char *path, size_t *len_out)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len_out = (size_t)n;
	return buf;
}

/* Assert that the file at path holds exactly what l renders to. */
static void assert_file_is_letter(const char *path, po_letter *l)
{
	size_t want_len, got_len;
	char *want = render(l, &want_len);
	char *got = slurp(path, &got_len);

	assert_int_equal(got_len, want_len);
	assert_memory_equal(got, want, want_len);
	free(want);
	free(got);
}

static void assert_canonical(const char *s, size_t n)
{
	size_t i;

	assert_true(n >= 2);
	for (i = 0; i < n; i++) {
		if (s[i] == '\n')
			assert_true(i > 0 && s[i - 1] == '\r');
		if (s[i] == '\r')
			assert_true(i + 1 < n && s[i + 1] == '\n');
	}
	assert_memory_equal(s + n - 2, "\r\n", 2);
	/* no lone "." line, and no SMTP terminator */
	assert_false(n >= 3 && memcmp(s, ".\r\n", 3) == 0);
	for (i = 0; i + 5 <= n; i++)
		assert_false(memcmp(s + i, "\r\n.\r\n", 5) == 0);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Peak resident set size of this process, in KiB. */
static long vm_hwm_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	assert_non_null(f);
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static int sigpipe_pending(void)
{
	sigset_t s;

	assert_int_equal(sigpending(&s), 0);
	return sigismember(&s, SIGPIPE);
}

/* Every child of ours has been reaped. */
static void assert_no_children(void)
{
	int st;

	assert_int_equal(waitpid(-1, &st, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static po_program *shell(const char *fmt, const char *arg)
{
	char *cmd;
	po_program *pg;

	assert_true(asprintf(&cmd, fmt, arg) > 0);
	pg = po_program_new_shell(cmd);
	free(cmd);
	assert_non_null(pg);
	return pg;
}

/* ---------------------------------------------------------------------
 * What the program receives */

static void test_shell_form(void **state)
{
	char *out = path_in_dir("shell.eml");
	po_letter *l = text_letter("Hello,\n.\nthe line above is a dot.\n");
	po_program *pg = shell("cat > '%s'", out);
	size_t n;
	char *got;

	(void)state;
	assert_po_ok(po_program_send(pg, l));
	assert_int_equal(po_program_exit_status(pg), 0);
	assert_string_equal(po_program_errmsg(pg), "");
	assert_string_equal(po_program_stderr(pg, &n), "");
	assert_int_equal(n, 0);
	assert_file_is_letter(out, l);
	got = slurp(out, &n);
	assert_canonical(got, n);
	assert_non_null(strstr(got, "\r\nBcc: Hidden <bcc@example.org>\r\n"));
	assert_non_null(strstr(got, "\r\nTo: to@example.org\r\n"));
	assert_non_null(strstr(got, "\r\n=2E\r\n"));
	free(got);
	po_program_free(pg);
	po_letter_free(l);
	free(out);
}

static void test_argv_form(void **state)
{
	char *out = path_in_dir("argv.eml");
	const char *argv[] = {"sh", "-c", "cat > \"$1\"", "sh", out, NULL};
	po_letter *l = text_letter("argv form\n.\n");
	po_program *pg = po_program_new_argv(argv);
	size_t n;
	char *got;

	(void)state;
	assert_non_null(pg);
	assert_po_ok(po_program_send(pg, l));
	assert_int_equal(po_program_exit_status(pg), 0);
	assert_file_is_letter(out, l);
	got = slurp(out, &n);
	assert_canonical(got, n);
	assert_non_null(strstr(got, "\r\nBcc: "));
	free(got);
	po_program_free(pg);
	po_letter_free(l);
	free(out);
}

/* No shell: a metacharacter in an argument reaches the program as is. */
static void test_argv_no_shell(void **state)
{
	const char *argv[] = {"sh", "-c", "cat >/dev/null; printf '%s' \"$1\"",
			      "sh", "$HOME; echo `id` > x", NULL};
	po_letter *l = text_letter("x\n");
	po_program *pg = po_program_new_argv(argv);

	(void)state;
	assert_po_ok(po_program_send(pg, l));
	assert_string_equal(po_program_stdout(pg, NULL),
			    "$HOME; echo `id` > x");
	po_program_free(pg);
	po_letter_free(l);
}

static void test_stdout_captured(void **state)
{
	po_letter *l = bytes_letter(200 * 1024);
	const char *argv[] = {"cat", NULL};
	po_program *pg = po_program_new_argv(argv);
	size_t want_len, n;
	char *want;
	const char *got;

	(void)state;
	assert_po_ok(po_program_send(pg, l));
	want = render(l, &want_len);
	assert_true(want_len > 65536);
	got = po_program_stdout(pg, &n);
	assert_int_equal(n, 65536);
	assert_memory_equal(got, want, n);
	assert_int_equal(got[n], '\0');
	free(want);
	po_program_free(pg);
	po_letter_free(l);
}

/* A 20 MB file goes through in chunks: the copy is exact and the memory
 * the process ever used does not grow with it. */
static void test_big_file(void **state)
{
	char *src = path_in_dir("big.bin");
	char *out = path_in_dir("big.eml");
	po_program *pg = shell("cat > '%s'", out);
	po_part *mp = po_part_new_multipart(NULL);
	po_part *file, *text = po_part_new_text("20 MB\n", 6, NULL);
	unsigned char *buf = malloc(MB);
	unsigned int x = 12345;
	po_letter *l;
	po_reader *r;
	long before;
	size_t n, i, total = 0;
	FILE *f;

	(void)state;
	assert_non_null(buf);
	f = fopen(src, "wb");
	assert_non_null(f);
	for (int k = 0; k < 20; k++) {
		for (i = 0; i < MB; i++) {
			x = x * 1103515245u + 12345u;
			buf[i] = (unsigned char)(x >> 16);
		}
		assert_int_equal(fwrite(buf, 1, MB, f), MB);
	}
	assert_int_equal(fclose(f), 0);
	assert_po_ok(po_part_new_file(src, &file));
	assert_po_ok(po_part_add(mp, text));
	assert_po_ok(po_part_add(mp, file));
	l = letter_with(mp);

	before = vm_hwm_kib();
	assert_po_ok(po_program_send(pg, l));
	assert_true(vm_hwm_kib() - before < 8 * 1024);

	/* compare with a second render, a chunk at a time */
	f = fopen(out, "rb");
	assert_non_null(f);
	assert_po_ok(po_reader_new(l, PO_RENDER_BCC, &r));
	for (;;) {
		char *got = (char *)buf + MB / 2;

		assert_po_ok(po_reader_read(r, buf, MB / 2, &n));
		assert_int_equal(fread(got, 1, n, f), n);
		assert_memory_equal(got, buf, n);
		total += n;
		if (n == 0)
			break;
	}
	assert_int_equal(fgetc(f), EOF);
	assert_true(total > 27 * MB);
	fclose(f);
	po_reader_free(r);
	unlink(src);
	unlink(out);
	free(buf);
	po_program_free(pg);
	po_letter_free(l);
	free(src);
	free(out);
}

/* ---------------------------------------------------------------------
 * Failures of the program */

static void test_exit_status(void **state)
{
	const char *argv[] = {"sh", "-c",
			      "cat >/dev/null; echo 'queue full' >&2; "
			      "echo 'second line' >&2; exit 75",
			      NULL};
	po_program *pg = po_program_new_argv(argv);
	po_letter *l = text_letter("x\n");
	size_t n;

	(void)state;
	assert_int_equal(po_program_send(pg, l), PO_EPROGRAM);
	assert_int_equal(po_program_exit_status(pg), 75);
	assert_string_equal(po_program_stderr(pg, &n),
			    "queue full\nsecond line\n");
	assert_int_equal(n, 23);
	assert_string_equal(po_program_errmsg(pg),
			    "program sh exited with status 75: queue full");
	assert_string_equal(po_last_error(), po_program_errmsg(pg));

	/* the next run starts afresh */
	po_program_free(pg);
	pg = po_program_new_shell("cat >/dev/null; exit 1");
	assert_int_equal(po_program_send(pg, l), PO_EPROGRAM);
	assert_string_equal(po_program_errmsg(pg),
			    "program \"cat >/dev/null; exit 1\" exited with "
			    "status 1");
	assert_string_equal(po_program_stderr(pg, &n), "");
	po_program_free(pg);
	po_letter_free(l);
}

static void test_stderr_truncated(void **state)
{
	po_program *pg = po_program_new_shell(
		"cat >/dev/null; head -c 1048576 /dev/zero | tr '\\0' x >&2;"
		" exit 1");
	po_letter *l = text_letter("x\n");
	const char *err;
	size_t n, i;

	(void)state;
	assert_int_equal(po_program_send(pg, l), PO_EPROGRAM);
	assert_int_equal(po_program_exit_status(pg), 1);
	err = po_program_stderr(pg, &n);
	assert_int_equal(n, 65536);
	for (i = 0; i < n; i++)
		assert_int_equal(err[i], 'x');
	assert_int_equal(err[n], '\0');
	assert_true(strlen(po_program_errmsg(pg)) < 512);
	assert_null(strchr(po_program_errmsg(pg), '\n'));
	po_program_free(pg);
	po_letter_free(l);
}

/* A program that writes a lot before it reads its input does not
 * deadlock against us. */
static void test_output_before_reading(void **state)
{
	po_program *pg = po_program_new_shell(
		"head -c 1048576 /dev/zero | tr '\\0' e >&2;"
		"head -c 1048576 /dev/zero | tr '\\0' o; cat >/dev/null");
	po_letter *l = bytes_letter(2 * MB);
	size_t n;

	(void)state;
	po_program_set_timeout(pg, 20000);
	assert_po_ok(po_program_send(pg, l));
	po_program_stderr(pg, &n);
	assert_int_equal(n, 65536);
	po_program_stdout(pg, &n);
	assert_int_equal(n, 65536);
	po_program_free(pg);
	po_letter_free(l);
}

static void test_missing_program(void **state)
{
	const char *abs[] = {"/nonexistent/po-no-such-program", "-t", NULL};
	const char *rel[] = {"po-no-such-program", NULL};
	po_letter *l = text_letter("x\n");
	po_program *pg = po_program_new_argv(abs);

	(void)state;
	assert_int_equal(po_program_send(pg, l), PO_ENOPROGRAM);
	assert_int_equal(po_program_exit_status(pg), -1000);
	assert_string_equal(po_program_errmsg(pg),
			    "program /nonexistent/po-no-such-program could "
			    "not be run: No such file or directory");
	assert_string_equal(po_last_error(), po_program_errmsg(pg));
	po_program_free(pg);

	pg = po_program_new_argv(rel);
	assert_int_equal(po_program_send(pg, l), PO_ENOPROGRAM);
	assert_non_null(strstr(po_program_errmsg(pg), "po-no-such-program"));
	po_program_free(pg);

	/* through the shell: its status 127 (XCU 2.8.2) */
	pg = po_program_new_shell("po-no-such-program -t");
	assert_int_equal(po_program_send(pg, l), PO_ENOPROGRAM);
	assert_int_equal(po_program_exit_status(pg), 127);
	assert_non_null(strstr(po_program_errmsg(pg),
			       "\"po-no-such-program -t\" could not be run"));
	po_program_free(pg);
	po_letter_free(l);
	assert_no_children();
}

/* Messages stay one line of valid UTF-8 however long or odd the command
 * and what the program says. */
static void test_long_names(void **state)
{
	char cmd[256] = "#", want[256] = "program \"#";
	po_letter *l = text_letter("x\n");
	po_program *pg;
	int i;

	(void)state;
	for (i = 0; i < 40; i++)
		strcat(cmd, "\xc3\xa9"); /* U+00E9, two bytes */
	strcat(cmd, "\ncat >/dev/null; printf '\\n\\t\\001bad\\r' >&2; "
		    "exit 3");
	/* 60 bytes would end inside the 30th */
	for (i = 0; i < 29; i++)
		strcat(want, "\xc3\xa9");
	strcat(want, "...\" exited with status 3:   bad");
	pg = po_program_new_shell(cmd);
	assert_int_equal(po_program_send(pg, l), PO_EPROGRAM);
	assert_string_equal(po_program_errmsg(pg), want);
	po_program_free(pg);
	po_letter_free(l);
}

static void test_directory_program(void **state)
{
	const char *argv[] = {"/tmp", NULL};
	po_letter *l = text_letter("x\n");
	po_program *pg = po_program_new_argv(argv);

	(void)state;
	assert_int_equal(po_program_send(pg, l), PO_ENOPROGRAM);
	assert_string_equal(po_program_errmsg(pg), "program /tmp could not be "
						   "run: Permission denied");
	po_program_free(pg);
	po_letter_free(l);
}

static void test_killed_by_signal(void **state)
{
	po_program *pg = po_program_new_shell("cat >/dev/null; kill -USR1 $$");
	po_letter *l = text_letter("x\n");

	(void)state;
	assert_int_equal(po_program_send(pg, l), PO_EPROGRAM);
	assert_int_equal(po_program_exit_status(pg), -SIGUSR1);
	assert_non_null(strstr(po_program_errmsg(pg), "killed by signal 10"));
	po_program_free(pg);
	po_letter_free(l);
}

/* `true` reads nothing: its status 0 must not pass for a delivery, and
 * the SIGPIPE our write raises must not reach us. */
static void send_to_true(size_t size)
{
	const char *argv[] = {"true", NULL};
	po_program *pg = po_program_new_argv(argv);
	po_letter *l = size ? bytes_letter(size) : text_letter("x\n");

	assert_int_equal(po_program_send(pg, l), PO_EPROGRAM);
	assert_int_equal(po_program_exit_status(pg), 0);
	assert_string_equal(po_program_errmsg(pg),
			    "program true exited without reading the whole "
			    "letter");
	assert_false(sigpipe_pending());
	po_program_free(pg);
	po_letter_free(l);
}

static void test_true_big_letter(void **state)
{
	struct sigaction dfl = {0}, old;
	int i;

	(void)state;
	dfl.sa_handler = SIG_DFL;
	assert_int_equal(sigaction(SIGPIPE, &dfl, &old), 0);
	for (i = 0; i < 3; i++)
		send_to_true(5 * MB);
	assert_int_equal(sigaction(SIGPIPE, &old, NULL), 0);
}

static void test_true_small_letter(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 5; i++)
		send_to_true(0);
}

static void test_closes_stdin_early(void **state)
{
	po_program *pg = po_program_new_shell("exec 0<&-; sleep 0.2");
	po_letter *l = text_letter("x\n");

	(void)state;
	assert_int_equal(po_program_send(pg, l), PO_EPROGRAM);
	assert_non_null(strstr(po_program_errmsg(pg),
			       "without reading the whole letter"));
	po_program_free(pg);
	po_letter_free(l);
}

/* A SIGPIPE of the caller's, pending before the send, stays pending. */
static void test_sigpipe_already_pending(void **state)
{
	const char *argv[] = {"true", NULL};
	po_program *pg = po_program_new_argv(argv);
	po_letter *l = bytes_letter(2 * MB);
	sigset_t set, old;
	siginfo_t info;
	struct timespec zero = {0, 0};

	(void)state;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &set, &old), 0);
	assert_int_equal(pthread_kill(pthread_self(), SIGPIPE), 0);
	assert_true(sigpipe_pending());
	assert_int_equal(po_program_send(pg, l), PO_EPROGRAM);
	assert_true(sigpipe_pending());
	assert_int_equal(sigtimedwait(&set, &info, &zero), SIGPIPE);
	assert_false(sigpipe_pending());
	assert_int_equal(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
	po_program_free(pg);
	po_letter_free(l);
}

static void test_timeout(void **state)
{
	const char *argv[] = {"sleep", "30", NULL};
	po_program *pg = po_program_new_argv(argv);
	po_letter *l = text_letter("x\n");
	long long t0, dt;

	(void)state;
	assert_po_ok(po_program_set_timeout(pg, 300));
	t0 = now_ms();
	assert_int_equal(po_program_send(pg, l), PO_ETIMEOUT);
	dt = now_ms() - t0;
	assert_true(dt >= 300);
	assert_true(dt < 1500);
	assert_int_equal(po_program_exit_status(pg), -SIGKILL);
	assert_string_equal(po_program_errmsg(pg),
			    "program sleep timed out after 300 ms");
	assert_no_children();
	po_program_free(pg);
	po_letter_free(l);
}

/* A timeout kills with SIGKILL at once (a program that handles SIGTERM
 * could still act on what it read), and so are the programs its shell
 * started. */
static void test_timeout_sigkill(void **state)
{
	char *done = path_in_dir("late.done");
	po_program *pg = shell("trap '' TERM; sleep 30; touch '%s'", done);
	po_letter *l = text_letter("x\n");
	long long t0, dt;

	(void)state;
	po_program_set_timeout(pg, 300);
	t0 = now_ms();
	assert_int_equal(po_program_send(pg, l), PO_ETIMEOUT);
	dt = now_ms() - t0;
	assert_true(dt >= 300);
	assert_true(dt < 1000);
	assert_int_equal(po_program_exit_status(pg), -SIGKILL);
	assert_no_children();
	usleep(100 * 1000);
	assert_false(exists(done));
	po_program_free(pg);
	po_letter_free(l);
	free(done);
}

struct slow {
	int calls, ms;
};

static int slow_read(void *userdata, void *buf, size_t len, size_t *n_out)
{
	struct slow *s = userdata;

	if (++s->calls > 50) {
		*n_out = 0;
		return 0;
	}
	usleep((useconds_t)s->ms * 1000);
	memset(buf, 'x', len);
	*n_out = len;
	return 0;
}

/* A timeout that comes while the letter is being written: the program
 * is killed with its stdin open, so it never reads a clean end of the
 * half letter (a marker written after a clean end never appears). */
static void test_timeout_midway(void **state)
{
	char *out = path_in_dir("mid.eml"), *done = path_in_dir("mid.done");
	char *cmd;
	struct slow sl = {0, 40};
	po_part *mp = po_part_new_multipart(NULL);
	po_part *rd = po_part_new_reader(slow_read, &sl);
	po_program *pg;
	po_letter *l;

	(void)state;
	assert_true(asprintf(&cmd, "trap '' TERM; (cat > '%s' && touch '%s')",
			     out, done) > 0);
	pg = po_program_new_shell(cmd);
	free(cmd);
	assert_po_ok(po_part_add(mp, rd));
	l = letter_with(mp);
	po_program_set_timeout(pg, 300);
	assert_int_equal(po_program_send(pg, l), PO_ETIMEOUT);
	assert_true(sl.calls < 50);
	usleep(200 * 1000);
	assert_false(exists(done));
	assert_no_children();
	po_program_free(pg);
	po_letter_free(l);
	free(out);
	free(done);
}

struct killer {
	po_program *pg;
	int ms;
};

static void *kill_later(void *arg)
{
	struct killer *k = arg;

	usleep((useconds_t)k->ms * 1000);
	while (!po_program_kill(k->pg))
		usleep(1000);
	return NULL;
}

/* po_program_kill (from another thread here; from a signal handler in
 * the CLI): the group dies before it can see the end of its input. */
static void test_kill(void **state)
{
	char *done = path_in_dir("kill.done");
	struct slow sl = {0, 20};
	po_part *mp = po_part_new_multipart(NULL);
	po_part *rd = po_part_new_reader(slow_read, &sl);
	po_program *pg = shell("(cat > /dev/null && touch '%s'); :", done);
	struct killer k = {pg, 100};
	po_letter *l;
	pthread_t t;

	(void)state;
	assert_int_equal(po_program_kill(pg), 0);
	assert_int_equal(po_program_kill(NULL), 0);
	assert_po_ok(po_part_add(mp, rd));
	l = letter_with(mp);
	assert_int_equal(pthread_create(&t, NULL, kill_later, &k), 0);
	assert_int_equal(po_program_send(pg, l), PO_EPROGRAM);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(po_program_exit_status(pg), -SIGKILL);
	assert_true(sl.calls < 50);
	usleep(200 * 1000);
	assert_false(exists(done));
	/* nothing runs any more: no one to kill */
	assert_int_equal(po_program_kill(pg), 0);
	assert_no_children();
	po_program_free(pg);
	po_letter_free(l);
	free(done);
}

/* The program inherits no descriptor of ours but 0, 1 and 2, even one
 * that is not close-on-exec (a Lisp image's open file). */
static void test_no_inherited_fds(void **state)
{
	char *out = path_in_dir("fds.txt");
	po_program *pg = shell("cat > /dev/null; exec ls /proc/self/fd > '%s'",
			       out);
	po_letter *l = text_letter("fds\n");
	char *got;
	size_t n;
	int fd = open("/dev/null", O_WRONLY);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, 50), 50);
	close(fd);
	assert_po_ok(po_program_send(pg, l));
	close(50);
	got = slurp(out, &n);
	/* ls's own directory descriptor is 3 */
	assert_string_equal(got, "0\n1\n2\n3\n");
	free(got);
	po_program_free(pg);
	po_letter_free(l);
	free(out);
}

/* With sendmail -t the header is the envelope: a custom To that names
 * someone else (the issue's reproduction: mallory would receive, bob
 * would not) is refused before the program runs; so is one that leaves
 * a recipient out.  Headers that agree with the envelope pass. */
static void test_header_is_envelope(void **state)
{
	static const struct {
		const char *line, *part_header;
		int status;
	} cases[] = {
		{"To: mallory@evil.example", NULL, PO_EENVELOPE},
		{"Cc: Mallory <mallory@evil.example>", NULL, PO_EENVELOPE},
		{"Resent-To: mallory@evil.example", NULL, PO_EENVELOPE},
		{"Resent-To: to@example.org", NULL, PO_EENVELOPE},
		{NULL, "mallory@evil.example", PO_EENVELOPE},
		{"To: \"Bob, B.\" <to@example.org> (comment)", NULL, PO_OK},
		{"To: list: to@example.org, cc@example.org;", NULL, PO_OK},
		{"To: undisclosed-recipients:;", NULL, PO_EENVELOPE},
		{"To: TO@EXAMPLE.ORG", NULL, PO_EENVELOPE},
		{"To: to@EXAMPLE.org", NULL, PO_OK},
		{"To: not an address", NULL, PO_EENVELOPE},
		{"Resent-To: to@example.org, cc@example.org, bcc@example.org",
		 NULL, PO_OK},
	};
	char *marker = path_in_dir("env.started");
	po_program *pg = shell("touch '%s'; cat >/dev/null", marker);

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		po_part *t = po_part_new_text("x\n", 2, NULL);
		po_letter *l;
		int rc;

		if (cases[i].part_header)
			assert_po_ok(po_part_add_header(t, "To",
							cases[i].part_header));
		l = letter_with(t);
		if (cases[i].line)
			assert_po_ok(po_letter_add_header_line(l,
							       cases[i].line));
		unlink(marker);
		rc = po_program_send(pg, l);
		if (rc != cases[i].status)
			print_error("case %zu: %s\n", i, po_program_errmsg(pg));
		assert_int_equal(rc, cases[i].status);
		assert_int_equal(exists(marker), rc == PO_OK);
		if (rc)
			assert_non_null(strstr(po_program_errmsg(pg),
					       "sendmail -t"));
		po_letter_free(l);
	}
	{
		/* bob only in Bcc, with the list's own To */
		po_letter *l = po_letter_new();

		assert_po_ok(po_letter_set_from(l, "a@example.org"));
		assert_po_ok(po_letter_add_bcc(l, "bob@example.org"));
		assert_po_ok(po_letter_add_header_line(
			l, "To: undisclosed-recipients:;"));
		assert_po_ok(po_letter_set_body(
			l, po_part_new_text("x", 1, NULL)));
		assert_po_ok(po_program_send(pg, l));
		po_letter_free(l);
	}
	po_program_free(pg);
	free(marker);
}

/* The program starts with an empty signal mask and default dispositions
 * whatever the caller blocks or ignores. */
static void test_child_signal_state(void **state)
{
	char *out = path_in_dir("sig.txt");
	/* the exec'd grep reads its own state: /proc/$$ would show the
	 * shell's, which dash changes while it waits for a child */
	po_program *pg = shell("cat >/dev/null; exec grep -E '^Sig(Blk|Ign)' "
			       "/proc/self/status > '%s'",
			       out);
	po_letter *l = text_letter("x\n");
	struct sigaction ign = {0}, old_pipe, old_hup;
	sigset_t set, old_mask;
	size_t n;
	char *got;

	(void)state;
	ign.sa_handler = SIG_IGN;
	assert_int_equal(sigaction(SIGPIPE, &ign, &old_pipe), 0);
	assert_int_equal(sigaction(SIGHUP, &ign, &old_hup), 0);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGCHLD);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &set, &old_mask), 0);

	assert_po_ok(po_program_send(pg, l));

	assert_int_equal(pthread_sigmask(SIG_SETMASK, &old_mask, &set), 0);
	assert_int_equal(sigismember(&set, SIGUSR1), 1);
	assert_int_equal(sigismember(&set, SIGPIPE), 0);
	assert_int_equal(sigaction(SIGPIPE, &old_pipe, &ign), 0);
	assert_true(ign.sa_handler == SIG_IGN);
	assert_int_equal(sigaction(SIGHUP, &old_hup, NULL), 0);
	got = slurp(out, &n);
	{
		unsigned long long blk, ign_bits;

		assert_int_equal(sscanf(got, "SigBlk:\t%llx\nSigIgn:\t%llx",
					&blk, &ign_bits),
				 2);
		assert_true(blk == 0);
		/* signals 32 and 33 are glibc's own (SIGCANCEL, SIGSETXID):
		 * sigaction refuses them, and glibc installs its handlers in
		 * the new program anyway; only an ignored disposition
		 * inherited from our own parent can show there */
		assert_true((ign_bits & ~(3ULL << 31)) == 0);
	}
	free(got);
	po_program_free(pg);
	po_letter_free(l);
	free(out);
}

/* With SIGCHLD ignored the kernel reaps the program itself: its status
 * is unknown, and that is not taken for a success. */
static void test_sigchld_ignored(void **state)
{
	po_program *pg = po_program_new_shell("cat >/dev/null");
	po_letter *l = text_letter("x\n");
	struct sigaction ign = {0}, old;

	(void)state;
	ign.sa_handler = SIG_IGN;
	assert_int_equal(sigaction(SIGCHLD, &ign, &old), 0);
	assert_int_equal(po_program_send(pg, l), PO_EPROGRAM);
	assert_int_equal(sigaction(SIGCHLD, &old, NULL), 0);
	assert_int_equal(po_program_exit_status(pg), -1000);
	assert_non_null(strstr(po_program_errmsg(pg), "status was lost"));
	assert_no_children();
	po_program_free(pg);
	po_letter_free(l);
}

static void test_no_fd_leak(void **state)
{
	const char *cat[] = {"cat", NULL};
	const char *missing[] = {"po-no-such-program", NULL};
	const char *truth[] = {"true", NULL};
	const char *const *argvs[] = {cat, missing, truth};
	po_letter *l = text_letter("fd\n");
	int before, i;

	(void)state;
	before = count_fds();
	for (i = 0; i < 50; i++) {
		po_program *pg = po_program_new_argv(argvs[i % 3]);

		po_program_send(pg, l);
		po_program_free(pg);
	}
	assert_int_equal(count_fds(), before);
	assert_no_children();
	po_letter_free(l);
}

/* Descriptors 0-2 closed in the caller: the pipes land on them, and the
 * program must still get the right ones. */
static void test_caller_stdio_closed(void **state)
{
	char *out = path_in_dir("stdio.eml");
	po_program *pg = shell("cat > '%s'; echo err >&2", out);
	po_letter *l = text_letter("stdio closed\n");
	int saved[3], i;

	(void)state;
	for (i = 0; i < 3; i++) {
		saved[i] = fcntl(i, F_DUPFD_CLOEXEC, 10);
		assert_true(saved[i] >= 0);
		close(i);
	}
	i = po_program_send(pg, l);
	for (int k = 0; k < 3; k++) {
		assert_int_equal(dup2(saved[k], k), k);
		close(saved[k]);
	}
	assert_int_equal(i, PO_OK);
	assert_string_equal(po_program_stderr(pg, NULL), "err\n");
	assert_file_is_letter(out, l);
	po_program_free(pg);
	po_letter_free(l);
	free(out);
}

/* ---------------------------------------------------------------------
 * Render errors */

struct failing {
	int calls, fail_at;
};

static int failing_read(void *userdata, void *buf, size_t len,
			size_t *n_out)
{
	struct failing *f = userdata;

	if (++f->calls >= f->fail_at)
		return -1;
	memset(buf, 'a' + f->calls % 26, len);
	*n_out = len;
	return 0;
}

/* A render that fails halfway: the program is killed before it can see
 * the end of its input, so it never acts on a truncated letter. */
static void test_reader_fails(void **state)
{
	char *out = path_in_dir("cut.eml");
	char *done = path_in_dir("cut.eml.done");
	struct failing f = {0, 6};
	po_part *mp = po_part_new_multipart(NULL);
	po_part *text = po_part_new_text("a reader\n", 9, NULL);
	po_part *rd = po_part_new_reader(failing_read, &f);
	po_program *pg;
	po_letter *l;
	char *cmd;

	(void)state;
	/* The marker is written only after a clean end of input, by a
	 * subshell that outlives the shell if only the shell is killed. */
	assert_true(asprintf(&cmd, "(cat > '%s' && touch '%s'); :", out,
			     done) > 0);
	pg = po_program_new_shell(cmd);
	free(cmd);
	assert_po_ok(po_part_add(mp, text));
	assert_po_ok(po_part_add(mp, rd));
	l = letter_with(mp);
	assert_int_equal(po_program_send(pg, l), PO_EREADER);
	assert_int_equal(f.calls, 6);
	assert_int_equal(po_program_exit_status(pg), -SIGKILL);
	assert_string_equal(po_program_errmsg(pg), po_last_error());
	assert_non_null(strstr(po_program_errmsg(pg), "reader failed"));
	usleep(200 * 1000);
	assert_true(exists(out));
	assert_false(exists(done));
	assert_no_children();
	po_program_free(pg);
	po_letter_free(l);
	free(out);
	free(done);
}

/* An input error is reported before any program is started. */
static void test_input_error(void **state)
{
	char *marker = path_in_dir("started");
	po_program *pg = shell("touch '%s'; cat >/dev/null", marker);
	po_part *body = po_part_new_text("x\n", 2, NULL);
	po_letter *l = po_letter_new();

	(void)state;
	assert_po_ok(po_letter_set_from(l, "a@example.org"));
	assert_po_ok(po_letter_set_body(l, body));
	assert_int_equal(po_program_send(pg, l), PO_ENORCPT);
	assert_int_equal(po_program_exit_status(pg), -1000);
	assert_string_equal(po_program_errmsg(pg), po_last_error());
	assert_string_not_equal(po_program_errmsg(pg), "");
	assert_false(exists(marker));

	assert_int_equal(po_program_send(pg, NULL), PO_EINVAL);
	assert_false(exists(marker));
	po_program_free(pg);
	po_letter_free(l);
	free(marker);
}

/* ---------------------------------------------------------------------
 * Handles */

static void test_handles(void **state)
{
	const char *empty[] = {"", NULL};
	const char *none[] = {NULL};
	po_program *pg = po_program_new_shell("cat >/dev/null");
	size_t n = 99;

	(void)state;
	assert_null(po_program_new_argv(NULL));
	assert_null(po_program_new_argv(none));
	assert_null(po_program_new_argv(empty));
	assert_null(po_program_new_shell(NULL));
	po_program_free(NULL);
	assert_int_equal(po_program_exit_status(pg), -1000);
	assert_string_equal(po_program_stderr(pg, &n), "");
	assert_int_equal(n, 0);
	assert_string_equal(po_program_stdout(pg, NULL), "");
	assert_string_equal(po_program_errmsg(pg), "");
	assert_int_equal(po_program_set_timeout(pg, 1000), PO_OK);
	assert_int_equal(po_program_set_timeout(pg, 0), PO_OK);
	assert_int_equal(po_program_send(NULL, NULL), PO_EINVAL);
	po_program_free(pg);
}

/* ---------------------------------------------------------------------
 * Threads */

#define SENDS 8

struct job {
	int id, failures;
	po_letter *letters[SENDS];
};

/* No cmocka assertion here: they must run in the main thread. */
static int same_as_render(po_letter *l, const char *path)
{
	char want[65536], got[65536];
	po_reader *r;
	size_t n;
	int same = 0;
	FILE *f = fopen(path, "rb");

	if (!f)
		return 0;
	if (po_reader_new(l, PO_RENDER_BCC, &r) != PO_OK) {
		fclose(f);
		return 0;
	}
	for (;;) {
		if (po_reader_read(r, want, sizeof want, &n) != PO_OK)
			break;
		if (fread(got, 1, n, f) != n || memcmp(got, want, n) != 0)
			break;
		if (n == 0) {
			same = fgetc(f) == EOF;
			break;
		}
	}
	po_reader_free(r);
	fclose(f);
	return same;
}

static void *sender(void *arg)
{
	struct job *job = arg;
	char out[128], cmd[160];
	po_program *pg;
	po_letter *l;
	int i;

	snprintf(out, sizeof out, "%s/thread%d.eml", dir, job->id);
	snprintf(cmd, sizeof cmd, "cat > '%s'", out);
	pg = po_program_new_shell(cmd);
	for (i = 0; i < SENDS; i++) {
		l = job->letters[i];
		if (po_program_send(pg, l) != PO_OK || !same_as_render(l, out))
			job->failures++;
	}
	po_program_free(pg);
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t t[6];
	struct job jobs[6];
	int i, k;

	(void)state;
	for (i = 0; i < 6; i++) {
		jobs[i].id = i;
		jobs[i].failures = 0;
		/* made here: cmocka's assertions belong to the main thread */
		for (k = 0; k < SENDS; k++)
			jobs[i].letters[k] =
				k % 2 ? bytes_letter(300 * 1024 + (size_t)i)
				      : text_letter("from a thread\n");
	}
	for (i = 0; i < 6; i++)
		assert_int_equal(pthread_create(&t[i], NULL, sender, &jobs[i]),
				 0);
	for (i = 0; i < 6; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	for (i = 0; i < 6; i++) {
		assert_int_equal(jobs[i].failures, 0);
		for (k = 0; k < SENDS; k++)
			po_letter_free(jobs[i].letters[k]);
	}
	assert_no_children();
}

/* ---------------------------------------------------------------------
 * Fixture */

static int make_dir(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/po-test-program.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	(void)state;
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			unlink(path);
		}
	closedir(d);
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shell_form),
		cmocka_unit_test(test_argv_form),
		cmocka_unit_test(test_argv_no_shell),
		cmocka_unit_test(test_stdout_captured),
		cmocka_unit_test(test_big_file),
		cmocka_unit_test(test_exit_status),
		cmocka_unit_test(test_stderr_truncated),
		cmocka_unit_test(test_output_before_reading),
		cmocka_unit_test(test_missing_program),
		cmocka_unit_test(test_long_names),
		cmocka_unit_test(test_directory_program),
		cmocka_unit_test(test_killed_by_signal),
		cmocka_unit_test(test_true_big_letter),
		cmocka_unit_test(test_true_small_letter),
		cmocka_unit_test(test_closes_stdin_early),
		cmocka_unit_test(test_sigpipe_already_pending),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_timeout_sigkill),
		cmocka_unit_test(test_timeout_midway),
		cmocka_unit_test(test_kill),
		cmocka_unit_test(test_no_inherited_fds),
		cmocka_unit_test(test_header_is_envelope),
		cmocka_unit_test(test_child_signal_state),
		cmocka_unit_test(test_sigchld_ignored),
		cmocka_unit_test(test_no_fd_leak),
		cmocka_unit_test(test_caller_stdio_closed),
		cmocka_unit_test(test_reader_fails),
		cmocka_unit_test(test_input_error),
		cmocka_unit_test(test_handles),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
