;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; specials.lisp - the special variables users may bind, and internal
;;; constants.

(in-package :net.post-office)

(defvar *smtp-debug* nil
  "When non-NIL, the SMTP dialogue is printed as it happens: T means
*STANDARD-OUTPUT*, a stream means that stream.  As in Allegro CL, each
command we send is printed as

  to smtp command: \"MAIL FROM:<a@b.example>\"

and each line the server sends is printed as received; remarks from the
library (connecting, TLS established...) are printed after \"; \".
AUTH payloads and the client's answers to AUTH challenges arrive
already masked, so passwords and tokens never appear.  The message
body is never printed.  The value is consulted when a letter is sent,
in the thread that sends it.  Not exported, as in Allegro: write
NET.POST-OFFICE::*SMTP-DEBUG*.")

(defvar *smtp-last-reply* nil
  "The outcome of the last send of SEND-LETTER, SEND-SMTP or
SEND-SMTP-AUTH: for SMTP, the server's final reply to the letter as a
string (\"250 2.0.0 Ok: queued as 4BXF1\", lines joined by newlines),
which usually names the server's queue id; for the (:FILE ...)
transport, the native name of the .eml file written; NIL for a program,
a captured letter, and after a send that failed.  Every send sets it
\(SETF) in its current dynamic binding: bind it around sends in a
thread to keep that thread's value private, e.g. (let
\((*smtp-last-reply* nil)) (send-letter ...) *smtp-last-reply*).  The
functions return one value (the Message-ID, or T), as Allegro's code
expects; this is where the rest of the outcome is.  See also
SMTP-CONNECTION-LAST-REPLY.")

(defvar *test-email-address-server* nil
  "NIL (the default), or a mail server designator (\"host\", \"host:port\",
\(\"host\" :port 2525 ...)) to which TEST-EMAIL-ADDRESS sends every VRFY
instead of the mail server of the address's domain: your own MTA, which
knows its users, or a test server.  The address's domain is then never
connected to.")

(defvar *test-email-address-literals* nil
  "When true, TEST-EMAIL-ADDRESS connects to an address whose domain is
an address literal (\"user@[192.0.2.1]\") or an IP address
\(\"user@192.0.2.1\"); when NIL, the default, such an address gives NIL
without any connection: an untrusted address must not pick the host
that is connected to.  A port or a path in an address is never
accepted.")

(defvar *smtp-timeout* nil
  "The default timeout in seconds (a positive real) for connecting to
an SMTP server and for each of its replies, used when the server
designator gives no :TIMEOUT, :CONNECT-TIMEOUT or :REPLY-TIMEOUT, and
for the whole run of a (:PROGRAM ...) mail server without a :TIMEOUT of
its own.  NIL, the default, means the library's own defaults: 30
seconds to connect \(TCP and TLS handshake), 120 seconds for each
reply, 600 seconds for a whole letter or a program's run.  The
designator's :TOTAL-TIMEOUT bounds a whole letter.")

(defvar *libpostoffice-path*
  (let ((env (uiop:getenv "LIBPOSTOFFICE")))
    (and env (plusp (length env)) env))
  "NIL, or the file name (a string or pathname) of the libpostoffice
shared library to load instead of the one the smtp system builds or
finds.  Its initial value comes from the environment variable
LIBPOSTOFFICE, so it can be set before the system is loaded (then
loading builds nothing); after changing it, call RELOAD.  When NIL, the
library is the checkout's build/libpostoffice.so (built by ASDF if need
be, or its copy in the ASDF output cache for a read-only checkout), the
installed one for a copy installed by `make install`, else
\"libpostoffice.so.0\" or \"libpostoffice.so\" where the dynamic
linker looks.")

(defconstant +chunk-size+ 65536
  "The size in octets of the buffers used to move data between Lisp
streams and the C library.")

(defvar *handle-pool* '()
  "Idle C SMTP handles kept for one-shot sends (SEND-LETTER with a server
designator), as (KEY . HANDLE) conses: making a libcurl handle costs
more than the rest of a letter.  Each handle sends every letter on a
connection of its own (keep-alive off), so keeping it idle holds no
connection and no file descriptor.  At most
+HANDLE-POOL-SIZE+, the most recently used first.  FREE-IDLE-HANDLES
frees them; RELOAD forgets them.")
