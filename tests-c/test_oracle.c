/* test_oracle.c - render a spread of letters and have an independent
 * parser (Python's email package, policy.default) check them: no defects,
 * headers decode to the inputs, parts come back byte for byte.  See
 * tests-c/letter_oracle.py. */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"

static char dir[64];

/* ---- JSON ---- */

static void jstr(FILE *f, const char *s)
{
	tc_json_str(f, s, strlen(s));
}

static void jhex(FILE *f, const unsigned char *p, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
	fputc('"', f);
}

/* [["display" or null, "addr"], ...] from pairs {display, addr, ...}. */
static void jaddrs(FILE *f, const char *const *pairs, size_t n)
{
	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ", [" : "[", f);
		if (pairs[2 * i])
			jstr(f, pairs[2 * i]);
		else
			fputs("null", f);
		fputs(", ", f);
		jstr(f, pairs[2 * i + 1]);
		fputc(']', f);
	}
	fputc(']', f);
}

static void write_letter(const char *name, po_letter *l)
{
	char path[128], buf[65536];
	po_reader *r;
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "%s/%s.eml", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_po_ok(po_reader_new(l, 0, &r));
	do {
		assert_po_ok(po_reader_read(r, buf, sizeof buf, &n));
		assert_int_equal(fwrite(buf, 1, n, f), n);
	} while (n);
	po_reader_free(r);
	fclose(f);
}

static FILE *open_json(const char *name)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s.json", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	return f;
}

static void random_bytes(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (unsigned char)(seed >> 16);
	}
}

/* ---- the letters ---- */

static const char *const from_pair[] = {"J\xc3\xb6rg M\xc3\xbcller",
					"joerg@example.com"};

static po_letter *base(const char *from)
{
	po_letter *l = po_letter_new();

	assert_po_ok(po_letter_set_from(l, from));
	return l;
}

static void case_non_ascii_everything(void)
{
	static const char *const to[] = {
		"Zo\xc3\xab", "zoe@example.com", "Doe, Jane",
		"jane@example.com", NULL, "plain@example.com",
		"\xe5\xb1\xb1\xe7\x94\xb0 \xe5\xa4\xaa\xe9\x83\x8e",
		"taro@example.jp"};
	static const char *const cc[] = {
		"\xce\x93\xce\xb9\xce\xac\xce\xbd\xce\xbd\xce\xb7\xcf\x82 "
		"\xce\xa0\xce\xb1\xcf\x80\xce\xb1\xce\xb4\xcf\x8c\xcf\x80"
		"\xce\xbf\xcf\x85\xce\xbb\xce\xbf\xcf\x82",
		"giannis@example.gr"};
	static const char *const rt[] = {"R\xc3\xa9ponse", "reply@example.com"};
	const char *subject =
		"\xe4\xbc\x9a\xe8\xad\xb0\xe3\x81\xae\xe3\x81\x8a\xe7\x9f\xa5"
		"\xe3\x82\x89\xe3\x81\x9b: Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln "
		"\xf0\x9f\x8e\x89 and some plain words to make it long enough "
		"to fold \xe2\x80\x94 \xc3\xa7" "a va? =?not?= an encoded word";
	const char *text = "Gr\xc3\xbc\xc3\x9f" "e!\nZweite Zeile mit "
			   "\xc3\xbcml\xc3\xa4uten.\n.\nFrom here\n";
	static unsigned char pdf[3000];
	po_letter *l = base("J\xc3\xb6rg M\xc3\xbcller <joerg@example.com>");
	po_part *m = po_part_new_multipart("mixed"), *a, *b;
	FILE *f;

	random_bytes(pdf, sizeof pdf, 1);
	assert_po_ok(po_letter_add_to(l, "Zo\xc3\xab <zoe@example.com>"));
	assert_po_ok(po_letter_add_to(l, "\"Doe, Jane\" <jane@example.com>"));
	assert_po_ok(po_letter_add_to(l, "plain@example.com"));
	assert_po_ok(po_letter_add_to(
		l, "\xe5\xb1\xb1\xe7\x94\xb0 \xe5\xa4\xaa\xe9\x83\x8e "
		   "<taro@example.jp>"));
	assert_po_ok(po_letter_add_cc(
		l, "\xce\x93\xce\xb9\xce\xac\xce\xbd\xce\xbd\xce\xb7\xcf\x82 "
		   "\xce\xa0\xce\xb1\xcf\x80\xce\xb1\xce\xb4\xcf\x8c\xcf\x80"
		   "\xce\xbf\xcf\x85\xce\xbb\xce\xbf\xcf\x82 "
		   "<giannis@example.gr>"));
	assert_po_ok(po_letter_add_bcc(l, "hidden@example.com"));
	assert_po_ok(po_letter_add_reply_to(l, "R\xc3\xa9ponse "
					       "<reply@example.com>"));
	assert_po_ok(po_letter_set_subject(l, subject));
	assert_po_ok(po_letter_add_header_line(
		l, "X-Note: \xc3\xbcn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9 value"));
	assert_po_ok(po_part_add(m, po_part_new_text(text, PO_ZERO_TERMINATED,
						     NULL)));
	a = po_part_new_bytes(pdf, sizeof pdf);
	assert_po_ok(po_part_set_type(a, "application/pdf"));
	assert_po_ok(po_part_set_disposition(
		a, PO_DISPOSITION_ATTACHMENT,
		"Pr\xc3\xbc" "fbericht (final) \xe2\x80\x93 \xc2\xbd.pdf"));
	assert_po_ok(po_part_add(m, a));
	b = po_part_new_bytes("q\\", 2);
	assert_po_ok(po_part_set_disposition(b, PO_DISPOSITION_ATTACHMENT,
					     "a\"b\\c.txt"));
	assert_po_ok(po_part_add(m, b));
	assert_po_ok(po_letter_set_body(l, m));
	write_letter("non-ascii", l);

	f = open_json("non-ascii");
	fputs("{\"from\": ", f);
	jaddrs(f, from_pair, 1);
	fputs(", \"to\": ", f);
	jaddrs(f, to, 4);
	fputs(", \"cc\": ", f);
	jaddrs(f, cc, 1);
	fputs(", \"reply_to\": ", f);
	jaddrs(f, rt, 1);
	fputs(", \"subject\": ", f);
	jstr(f, subject);
	fputs(", \"headers\": {\"X-Note\": ", f);
	jstr(f, "\xc3\xbcn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9 value");
	fputs("}, \"parts\": [{\"type\": \"text/plain\", \"text\": ", f);
	jstr(f, text);
	fputs("}, {\"type\": \"application/pdf\", \"filename\": ", f);
	jstr(f, "Pr\xc3\xbc" "fbericht (final) \xe2\x80\x93 \xc2\xbd.pdf");
	fputs(", \"hex\": ", f);
	jhex(f, pdf, sizeof pdf);
	fputs("}, {\"type\": \"application/octet-stream\", \"filename\": ",
	      f);
	jstr(f, "a\"b\\c.txt");
	fputs(", \"hex\": \"715c\"}]}\n", f);
	fclose(f);
	po_letter_free(l);
}

static void case_many_recipients(void)
{
	const char *pairs[120];
	char names[60][40], addrs[60][40], one[100];
	po_letter *l = base("sender@example.com");
	FILE *f;
	int i;

	for (i = 0; i < 60; i++) {
		snprintf(names[i], sizeof names[i], "Recipient Number %d", i);
		snprintf(addrs[i], sizeof addrs[i], "user%02d@example.org", i);
		snprintf(one, sizeof one, "%.40s <%.40s>", names[i], addrs[i]);
		assert_po_ok(po_letter_add_to(l, one));
		pairs[2 * i] = names[i];
		pairs[2 * i + 1] = addrs[i];
	}
	assert_po_ok(po_letter_set_body(l, po_part_new_text("hi", 2, NULL)));
	write_letter("many-recipients", l);
	f = open_json("many-recipients");
	fputs("{\"to\": ", f);
	jaddrs(f, pairs, 60);
	fputs(", \"parts\": [{\"type\": \"text/plain\", \"text\": \"hi\"}]}\n",
	      f);
	fclose(f);
	po_letter_free(l);
}

static void case_lines(void)
{
	static char text[12000];
	po_letter *l = base("a@example.com");
	char *p = text;
	FILE *f;
	int i;

	p += sprintf(p, ".leading dot\n.\n..\nFrom the start\n"
			"trailing space \ntrailing tab\t\n"
			"bare\rcarriage\n");
	for (i = 0; i < 2500; i++)
		*p++ = (char)('a' + i % 26);
	p += sprintf(p, "\n=3D not an escape\nend");
	assert_po_ok(po_letter_add_to(l, "b@example.com"));
	assert_po_ok(po_letter_set_subject(l, "Lines"));
	assert_po_ok(po_letter_set_body(
		l, po_part_new_text(text, PO_ZERO_TERMINATED, NULL)));
	write_letter("lines", l);
	f = open_json("lines");
	fputs("{\"subject\": \"Lines\", \"parts\": [{\"type\": \"text/plain\", "
	      "\"text\": ",
	      f);
	jstr(f, text);
	fputs("}]}\n", f);
	fclose(f);
	po_letter_free(l);
}

static void case_binary_and_files(void)
{
	static unsigned char all[256 * 4], rnd[100000];
	char path[128], fpath[128];
	po_letter *l = base("a@example.com");
	po_part *m = po_part_new_multipart(NULL), *p;
	FILE *f;
	int i;

	for (i = 0; i < (int)sizeof all; i++)
		all[i] = (unsigned char)i;
	random_bytes(rnd, sizeof rnd, 7);
	snprintf(fpath, sizeof fpath, "%s/crlf-and-cr.txt", dir);
	f = fopen(fpath, "wb");
	fputs("windows\r\nunix\nmac\rmixed\r\n\x00nul\r\n", f);
	fclose(f);
	assert_po_ok(po_letter_add_to(l, "b@example.com"));
	assert_po_ok(po_part_add(m, po_part_new_text("see", 3, NULL)));
	p = po_part_new_bytes(all, sizeof all);
	assert_po_ok(po_part_set_disposition(p, PO_DISPOSITION_ATTACHMENT,
					     "all.bin"));
	assert_po_ok(po_part_add(m, p));
	p = po_part_new_bytes(rnd, sizeof rnd);
	assert_po_ok(po_part_set_type(p, "image/png"));
	assert_po_ok(po_part_set_encoding(p, "quoted-printable"));
	assert_po_ok(po_part_set_disposition(p, PO_DISPOSITION_INLINE,
					     "random.png"));
	assert_po_ok(po_part_add(m, p));
	assert_po_ok(po_part_new_file(fpath, &p));
	assert_po_ok(po_part_add(m, p));
	assert_po_ok(po_letter_set_body(l, m));
	write_letter("binary", l);

	f = open_json("binary");
	fputs("{\"parts\": [{\"type\": \"text/plain\", \"text\": \"see\"}, "
	      "{\"type\": \"application/octet-stream\", \"filename\": "
	      "\"all.bin\", \"hex\": ",
	      f);
	jhex(f, all, sizeof all);
	fputs("}, {\"type\": \"image/png\", \"filename\": \"random.png\", "
	      "\"hex\": ",
	      f);
	jhex(f, rnd, sizeof rnd);
	fputs("}, {\"type\": \"text/plain\", \"filename\": "
	      "\"crlf-and-cr.txt\", \"file\": ",
	      f);
	jstr(f, fpath);
	fputs("}]}\n", f);
	fclose(f);
	(void)path;
	po_letter_free(l);
}

static void case_nested(void)
{
	static unsigned char png[500];
	po_letter *l = base("a@example.com");
	po_part *mixed = po_part_new_multipart("mixed");
	po_part *alt = po_part_new_multipart("alternative");
	po_part *rel = po_part_new_multipart("related");
	po_part *html = po_part_new_text("<p>hi <img src=\"cid:img1@x\"></p>",
					 PO_ZERO_TERMINATED, NULL);
	po_part *img, *att = po_part_new_bytes("att", 3);
	FILE *f;

	random_bytes(png, sizeof png, 3);
	img = po_part_new_bytes(png, sizeof png);
	assert_po_ok(po_letter_add_to(l, "b@example.com"));
	assert_po_ok(po_part_set_type(html, "text/html"));
	assert_po_ok(po_part_set_type(img, "image/png"));
	assert_po_ok(po_part_set_id(img, "img1@x"));
	assert_po_ok(po_part_set_description(img, "A picture \xe2\x80\x94 "
						  "described"));
	assert_po_ok(po_part_set_disposition(img, PO_DISPOSITION_INLINE, NULL));
	assert_po_ok(po_part_add(rel, html));
	assert_po_ok(po_part_add(rel, img));
	assert_po_ok(po_part_add(
		alt, po_part_new_text("hi", PO_ZERO_TERMINATED, NULL)));
	assert_po_ok(po_part_add(alt, rel));
	assert_po_ok(po_part_add(mixed, alt));
	assert_po_ok(po_part_set_disposition(att, PO_DISPOSITION_ATTACHMENT,
					     "x.dat"));
	assert_po_ok(po_part_add(mixed, att));
	assert_po_ok(po_letter_set_body(l, mixed));
	write_letter("nested", l);
	f = open_json("nested");
	fputs("{\"parts\": [{\"type\": \"text/plain\", \"text\": \"hi\"}, "
	      "{\"type\": \"text/html\", \"text\": ",
	      f);
	jstr(f, "<p>hi <img src=\"cid:img1@x\"></p>");
	fputs("}, {\"type\": \"image/png\", \"cid\": \"<img1@x>\", \"hex\": ",
	      f);
	jhex(f, png, sizeof png);
	fputs("}, {\"type\": \"application/octet-stream\", \"filename\": "
	      "\"x.dat\", \"hex\": \"617474\"}]}\n",
	      f);
	fclose(f);
	po_letter_free(l);
}

static void case_long_values(void)
{
	static char subject[100001], fname[601];
	po_letter *l = base("a@example.com");
	po_part *m = po_part_new_multipart(NULL), *p;
	char *s = subject, *fn = fname;
	FILE *f;
	int i;

	/* 100 KB of mixed-script words */
	while (s < subject + sizeof subject - 20) {
		const char *w = (s - subject) % 3 ? "\xc3\xa9t\xc3\xa9 "
						  : "plain ";
		s += sprintf(s, "%s", w);
	}
	s[-1] = '\0';
	for (i = 0; i < 100; i++)
		fn += sprintf(fn, "\xc3\xbc");
	sprintf(fn, " long name.txt");
	assert_po_ok(po_letter_add_to(l, "b@example.com"));
	assert_po_ok(po_letter_set_subject(l, subject));
	p = po_part_new_bytes("x", 1);
	assert_po_ok(po_part_set_disposition(p, PO_DISPOSITION_ATTACHMENT,
					     fname));
	assert_po_ok(po_part_add(m, po_part_new_text("", 0, NULL)));
	assert_po_ok(po_part_add(m, p));
	assert_po_ok(po_letter_set_body(l, m));
	write_letter("long-values", l);
	f = open_json("long-values");
	fputs("{\"subject\": ", f);
	jstr(f, subject);
	fputs(", \"parts\": [{\"type\": \"text/plain\", \"text\": \"\"}, "
	      "{\"type\": \"application/octet-stream\", \"filename\": ",
	      f);
	jstr(f, fname);
	fputs(", \"hex\": \"78\"}]}\n", f);
	fclose(f);
	po_letter_free(l);
}

static void test_oracle(void **state)
{
	char cmd[256], line[512];
	FILE *p;
	int status;

	(void)state;
	snprintf(dir, sizeof dir, "/tmp/po-oracle-XXXXXX");
	assert_non_null(mkdtemp(dir));
	case_non_ascii_everything();
	case_many_recipients();
	case_lines();
	case_binary_and_files();
	case_nested();
	case_long_values();

	snprintf(cmd, sizeof cmd,
		 "/usr/bin/python3 tests-c/letter_oracle.py %s 2>&1", dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof line, p))
		print_message("%s", line);
	status = pclose(p);
	assert_int_equal(status, 0);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oracle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
