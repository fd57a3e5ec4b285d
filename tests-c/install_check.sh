#!/bin/sh
# install_check.sh - install into a temporary prefix, then use the
# installed copy as a user would, from another directory: a C program
# built with pkg-config, the CLI, and the Lisp system loaded by ASDF.
# Then check that uninstall removes exactly what install put there, and
# that a DESTDIR install lays out the same files.  Run from the checkout
# (by test_install); prints what it does, exits non-zero on failure.
set -eu
root=$(pwd)
tmp=$(mktemp -d /tmp/po-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"

echo "install: make install PREFIX=$prefix"
make -s install PREFIX="$prefix" >/dev/null
find "$prefix" \( -type f -o -type l \) | sed "s|$prefix/||" | sort \
	>"$tmp/installed"
for f in bin/postoffice include/postoffice.h lib/libpostoffice.so \
	lib/libpostoffice.so.0 lib/libpostoffice.a lib/pkgconfig/postoffice.pc \
	share/man/man1/postoffice.1 share/common-lisp/source/smtp/smtp.asd \
	share/common-lisp/source/smtp/VERSION \
	share/common-lisp/source/smtp/lisp/build.lisp \
	share/common-lisp/source/smtp/lisp/send.lisp share/doc/postoffice/LICENSE; do
	grep -qx "$f" "$tmp/installed" || { echo "missing: $f"; exit 1; }
done

mkdir "$tmp/elsewhere"
cd "$tmp/elsewhere"

echo "install: C through pkg-config"
cat >hello.c <<'C'
#include <postoffice.h>
#include <stdio.h>

int main(void)
{
	po_letter *l = po_letter_new();
	po_reader *r;
	char buf[4096];
	size_t n;

	po_letter_set_from(l, "a@example.com");
	po_letter_add_to(l, "b@example.com");
	po_letter_set_subject(l, "installed");
	po_letter_set_body(l, po_part_new_text("hi", 2, NULL));
	if (po_reader_new(l, 0, &r) != PO_OK)
		return 1;
	while (po_reader_read(r, buf, sizeof buf, &n) == PO_OK && n)
		fwrite(buf, 1, n, stdout);
	po_reader_free(r);
	po_letter_free(l);
	printf("\nversion %s\n", po_version());
	return 0;
}
C
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
libdir=$(pkg-config --variable=libdir postoffice)
# shellcheck disable=SC2046
cc -o hello hello.c $(pkg-config --cflags --libs postoffice) \
	-Wl,-rpath,"$libdir"
./hello >out.txt
grep -q "^Subject: installed" out.txt
grep -q "^version " out.txt
ldd ./hello | grep -q "$prefix/lib/libpostoffice.so.0"
echo "install: C static link"
# shellcheck disable=SC2046
cc -o hello-static hello.c $(pkg-config --cflags postoffice) \
	"$libdir/libpostoffice.a" $(pkg-config --libs libcurl libidn2)
./hello-static | grep -q "^Subject: installed"

echo "install: the CLI and its manual"
echo hi | "$prefix/bin/postoffice" render --from a@example.com \
	--to b@example.com | grep -q "^To: b@example.com"
man -l "$prefix/share/man/man1/postoffice.1" >/dev/null 2>&1 ||
	grep -q "^.TH POSTOFFICE" "$prefix/share/man/man1/postoffice.1"

echo "install: Lisp through ASDF's default search, from another directory"
cat >use.lisp <<'LISP'
(require :asdf)
(asdf:load-system "smtp")
(let ((part (net.post-office:make-mime-part :text "installed Lisp")))
  (net.post-office:mime-part-writer part :stream *standard-output*))
(terpri)
(with-open-file (maps "/proc/self/maps")
  (loop for line = (read-line maps nil)
        while line
        when (search "libpostoffice.so" line)
          do (format t "mapped: ~a~%" (subseq line (position #\/ line)))
             (return)))
LISP
unset LIBPOSTOFFICE
sbcl=$(command -v sbcl)
# ASDF's default registry covers $XDG_DATA_DIRS/common-lisp/source/;
# /usr/local/share is there by default, another prefix is added like this.
# No compiler, make or pkg-config on PATH: the installed copy needs none.
XDG_DATA_DIRS="$prefix/share:/usr/share" PATH=/nonexistent "$sbcl" \
	--noinform --non-interactive --no-userinit --load use.lisp \
	>lisp.out 2>&1 || {
	cat lisp.out
	exit 1
}
grep -q "^installed Lisp" lisp.out || { cat lisp.out; exit 1; }
grep -q "mapped: $prefix/share/common-lisp/source/smtp/build/libpostoffice.so.0\|mapped: $prefix/lib/libpostoffice.so" lisp.out ||
	{ cat lisp.out; exit 1; }

cd "$root"
echo "install: make uninstall removes exactly what was installed"
make -s uninstall PREFIX="$prefix" >/dev/null
left=$(find "$prefix" \( -type f -o -type l \) | wc -l)
[ "$left" -eq 0 ] || { find "$prefix" -type f -o -type l; exit 1; }

echo "install: DESTDIR staging"
make -s install DESTDIR="$tmp/stage" PREFIX=/usr/local >/dev/null
find "$tmp/stage/usr/local" \( -type f -o -type l \) |
	sed "s|$tmp/stage/usr/local/||" | sort >"$tmp/staged"
cmp "$tmp/installed" "$tmp/staged"
# the Lisp copy's link to the library stays inside the tree
[ -e "$tmp/stage/usr/local/share/common-lisp/source/smtp/build/libpostoffice.so.0" ]
make -s uninstall DESTDIR="$tmp/stage" PREFIX=/usr/local >/dev/null
left=$(find "$tmp/stage" \( -type f -o -type l \) | wc -l)
[ "$left" -eq 0 ]
echo "install: ok"
