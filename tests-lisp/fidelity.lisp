;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; fidelity.lisp - Allegro code as its authors wrote it (issue #8):
;;; bare local parts ("root"), the null sender, address lists in one
;;; string, and the characters refused in addresses (issue #7 item 12).
;;; Each test runs the forms as a user writes them, against the fixture
;;; server, and checks what arrived: the envelope the server saw, the
;;; header lines, and what Python's email package (policy.default) reads;
;;; the capture and the (:file ...) transport too.

(in-package :net.post-office.tests)

(def-suite :smtp.fidelity :in :smtp
  :description "Drop-in fidelity with Allegro CL's send-letter: bare
local parts, the null sender, address lists, refused characters.")

(in-suite :smtp.fidelity)

(defparameter *python-addresses*
  "import email, json, sys
from email import policy
with open(sys.argv[1], 'rb') as f:
    m = email.message_from_binary_file(f, policy=policy.default)
out = {'message': [type(d).__name__ for d in m.defects], 'headers': {}}
for k, v in m.items():
    h = out['headers'].setdefault(k, {'defects': [], 'addresses': []})
    h['defects'] += [type(d).__name__ for d in v.defects]
    for a in getattr(v, 'addresses', ()):
        h['addresses'].append([a.display_name, a.addr_spec])
print(json.dumps(out))
"
  "A Python program printing, as JSON, the defects Python's email package
finds in a message file (the message's and each header's) and the
addresses it reads from each address header.")

(defun python-addresses (file)
  "What Python reads from the address headers of the message FILE: an
alist with \"message\" (defect names) and \"headers\" (per header,
\"defects\" and \"addresses\" as (display-name addr-spec))."
  (parse-json (uiop:run-program (list *python* "-c" *python-addresses* file)
                                :output :string
                                :external-format :utf-8)))

(defun python-header (python name)
  "The entry of the header NAME in the result of PYTHON-ADDRESSES."
  (jget python "headers" name))

(defun trace-of (function)
  "The *SMTP-DEBUG* output while FUNCTION runs."
  (debug-output (funcall function)))

;;; ------------------------------------------------------------------
;;; Bare local parts: "root"

(test bare-local-parts
  "A bare local part works wherever one address goes (from, to, cc, bcc,
reply-to, send-smtp's envelope): MAIL FROM:<root> and RCPT TO:<...> as
given, no domain invented, the headers show it as written, and Python
reports exactly one InvalidHeaderDefect (no domain) for each such header
and nothing else."
  (with-smtpd (d)
    (let ((trace (trace-of
                  (lambda ()
                    (send-letter (server d) "root" "postmaster"
                                 (format nil "Disk full.~%")
                                 :subject "cron" :cc "webmaster"
                                 :bcc "backup" :reply-to "noreply")))))
      (is (contains trace "MAIL FROM:<root>") "~a" trace)
      (is (contains trace "RCPT TO:<postmaster>"))
      (is (contains trace "RCPT TO:<backup>")))
    (let* ((letter (the-letter d))
           (python (python-addresses (letter-file letter))))
      (is (string= "root" (json letter "mail_from")))
      (is (equal '("postmaster" "webmaster" "backup")
                 (json letter "rcpt_tos")))
      (is (string= "root" (header letter "From")))
      (is (string= "postmaster" (header letter "To")))
      (is (string= "webmaster" (header letter "Cc")))
      (is (string= "noreply" (header letter "Reply-To")))
      (is (null (header letter "Bcc")))
      (is (null (jget python "message")))
      (loop for (name local) in '(("From" "root") ("To" "postmaster")
                                  ("Cc" "webmaster") ("Reply-To" "noreply"))
            do (is (equal '("InvalidHeaderDefect")
                          (jget (python-header python name) "defects"))
                   "~a: ~s" name (python-header python name))
               (is (equal (list (list "" local))
                          (jget (python-header python name) "addresses"))))
      (loop for (name . entry) in (jget python "headers")
            unless (member name '("From" "To" "Cc" "Reply-To")
                           :test #'string=)
              do (is (null (jget entry "defects")) "~a: ~s" name entry))))
  ;; with a display name, and in send-smtp's envelope
  (with-smtpd (d)
    (send-letter (server d) "Cron Daemon <root>" '("admin" "Ops <ops>") "x")
    (send-smtp (server d) "root" "postmaster"
               (format nil "From: root~%Subject: raw~%~%x~%"))
    (destructuring-bind (one two) (letters d)
      (is (string= "root" (json one "mail_from")))
      (is (equal '("admin" "ops") (json one "rcpt_tos")))
      (is (string= "Cron Daemon <root>" (header one "From")))
      (is (string= "admin, Ops <ops>" (header one "To")))
      (is (string= "root" (json two "mail_from")))
      (is (equal '("postmaster") (json two "rcpt_tos")))))
  ;; captured, and through the file transport
  (with-captured-letters (box)
    (send-letter "smtp.example.com" "root" "postmaster" "x")
    (let ((letter (first (captured-letters box))))
      (is (string= "root" (captured-letter-from letter)))
      (is (equal '("postmaster") (captured-letter-recipients letter)))
      (is (string= "root" (captured-letter-header letter "From")))))
  (let ((dir (make-temp-dir "bare-file")))
    (send-letter (cons :file (native dir)) "root" "postmaster" "x")
    (let ((envelope (first (directory (merge-pathnames "*.envelope" dir)))))
      (is (string= (format nil "MAIL FROM:<root>~%RCPT TO:<postmaster>~%")
                   (read-file-string envelope))))))

(test bare-local-part-forms
  "A bare local part is the dot-atom or quoted-string local-part
syntax, with the injection rules of any address; NIL is no address."
  (with-captured-letters (box)
    (send-letter "smtp.example.com" "first.last" "\"john doe\"" "x")
    (let ((letter (first (captured-letters box))))
      (is (string= "first.last" (captured-letter-from letter)))
      (is (equal '("\"john doe\"") (captured-letter-recipients letter))))
    (dolist (bad (list "ro ot" ".root" "ro..ot" "root." "ro<ot" "ro>ot"
                       (format nil "root~c~cRCPT TO:<x>" #\Return
                               #\Newline)
                       "ro(ot" "\"unclosed"))
      (signals smtp-argument-error
        (send-letter "smtp.example.com" "root" bad "x"))
      (signals smtp-argument-error
        (send-letter "smtp.example.com" bad "root" "x")))
    (signals smtp-argument-error
      (send-letter "smtp.example.com" nil "root" "x"))
    (signals smtp-argument-error
      (send-letter "smtp.example.com" "root" '("a@example.net" nil) "x"))
    (is (= 1 (length (captured-letters box))))))

;;; ------------------------------------------------------------------
;;; Address lists in one string

(test address-lists
  "A string of several addresses is an RFC 5322 address list: every
address is a recipient, commas inside quoted names, comments and angle
brackets do not split, and the header keeps the list as written
\(re-encoded where needed); a list of strings may hold such strings."
  (with-smtpd (d)
    (send-letter (server d) *from* "a@example.net, b@example.net"
                 "one" :cc "Carol <c@example.net>, d@example.net")
    (send-letter (server d) *from*
                 '("\"Doe, Jane\" <j@example.net>, k@example.net"
                   "l@example.net")
                 "two" :bcc "x@example.net, y@example.net"
                 :reply-to "r@example.net, s@example.net")
    (send-letter (server d) *from*
                 "Jörg Müller <j@example.net>, k@example.net (Kay, K.)"
                 "three")
    (send-smtp (server d) *from* "a@example.net, b@example.net"
               (format nil "Subject: raw~%~%x~%"))
    (destructuring-bind (one two three four) (letters d)
      (is (equal '("a@example.net" "b@example.net" "c@example.net"
                   "d@example.net")
                 (json one "rcpt_tos")))
      (is (string= "a@example.net, b@example.net" (header one "To")))
      (is (string= "Carol <c@example.net>, d@example.net"
                   (header one "Cc")))
      (is (equal '("j@example.net" "k@example.net" "l@example.net"
                   "x@example.net" "y@example.net")
                 (json two "rcpt_tos")))
      (is (string= "\"Doe, Jane\" <j@example.net>, k@example.net, l@example.net"
                   (header two "To")))
      (is (string= "r@example.net, s@example.net" (header two "Reply-To")))
      (is (null (header two "Bcc")))
      (is (equal '("j@example.net" "k@example.net") (json three "rcpt_tos")))
      (let ((python (python-addresses (letter-file three))))
        (is (equal '(("Jörg Müller" "j@example.net")
                     ("Kay, K." "k@example.net"))
                   (jget (python-header python "To") "addresses")))
        (is (null (jget (python-header python "To") "defects"))))
      (let ((python (python-addresses (letter-file two))))
        (is (equal '(("Doe, Jane" "j@example.net") ("" "k@example.net")
                     ("" "l@example.net"))
                   (jget (python-header python "To") "addresses"))))
      (is (equal '("a@example.net" "b@example.net")
                 (json four "rcpt_tos")))))
  ;; captured, and through the file transport
  (with-captured-letters (box)
    (send-letter "smtp.example.com" *from* "a@example.net, B <b@example.net>"
                 "x" :cc '("c@example.net, d@example.net" "e@example.net"))
    (let ((letter (first (captured-letters box))))
      (is (equal '("a@example.net" "b@example.net" "c@example.net"
                   "d@example.net" "e@example.net")
                 (captured-letter-recipients letter)))
      (is (string= "a@example.net, B <b@example.net>"
                   (captured-letter-header letter "To")))
      (is (string= "c@example.net, d@example.net, e@example.net"
                   (captured-letter-header letter "Cc")))))
  (let ((dir (make-temp-dir "list-file")))
    (send-smtp (cons :file (native dir)) *from* "a@example.net, b@example.net"
               (format nil "Subject: x~%~%x~%"))
    (is (string= (format nil "MAIL FROM:<~a>~%RCPT TO:<a@example.net>~%~
RCPT TO:<b@example.net>~%" *from*)
                 (read-file-string
                  (first (directory (merge-pathnames "*.envelope" dir))))))))

(test address-list-unquoted-comma
  "\"Doe, Jane <j@x.com>\" is not a recipient \"Doe\" (which Postfix
would qualify and deliver locally): an argument error that says to
quote the name, before anything is sent.  A bare local part is accepted
only as the whole string."
  (with-smtpd (d)
    (let ((e (handler-case (send-letter (server d) *from*
                                        "Doe, Jane <j@example.net>" "x")
               (smtp-argument-error (e) e))))
      (is (typep e 'smtp-argument-error))
      (is (contains (princ-to-string e) "quote it"))
      (is (contains (princ-to-string e) "\"\\\"Doe, Jane\\\" <j@example.net>\"")
          "~a" e))
    (signals smtp-argument-error
      (send-letter (server d) *from* "root, admin@example.net" "x"))
    (signals smtp-argument-error
      (send-letter (server d) *from* "a@example.net" "x"
                   :cc "Doe, Jane <j@example.net>"))
    (signals smtp-argument-error
      (send-smtp (server d) *from* "Doe, Jane <j@example.net>" "x"))
    (signals smtp-argument-error
      (send-letter (server d) "a@example.net, b@example.net" *to* "x"))
    (is (null (letters d)))))

(test address-list-restart
  "CONTINUE-WITHOUT-REFUSED-RECIPIENTS drops a refused address out of
an address list string, from the envelope and the header."
  (with-smtpd (d "--refuse" "bad@example.net=550 5.1.1 No such user")
    (handler-bind ((smtp-recipient-error
                     #'continue-without-refused-recipients))
      (send-letter (server d) *from*
                   "ann@example.net, Bad <bad@example.net>, bob@example.net"
                   "x"))
    (let ((letter (the-letter d)))
      (is (equal '("ann@example.net" "bob@example.net")
                 (json letter "rcpt_tos")))
      (is (string= "ann@example.net, bob@example.net"
                   (header letter "To"))))))

;;; ------------------------------------------------------------------
;;; Characters refused in addresses (issue #7 item 12)

(defparameter *refused-characters*
  '((#x01 "C0 control") (#x1B "escape") (#x7F "delete")
    (#x85 "next line (C1)") (#x9B "C1 control")
    (#x2028 "line separator") (#x2029 "paragraph separator")
    (#x202A "LRE") (#x202B "RLE") (#x202C "PDF") (#x202D "LRO")
    (#x202E "RLO") (#x2066 "LRI") (#x2067 "RLI") (#x2068 "FSI")
    (#x2069 "PDI") (#x200E "LRM") (#x200F "RLM") (#x061C "ALM")
    (#xAD "soft hyphen") (#x200B "zero width space")
    (#x2060 "word joiner") (#xFEFF "BOM"))
  "Characters refused in a local part, with what they are.")

(defparameter *refused-in-names*
  '(#x01 #x1B #x7F #x85 #x9B #x2028 #x2029 #x202A #x202B #x202C #x202D
    #x202E #x2066 #x2067 #x2068 #x2069)
  "Those of them refused in display names too.")

(test refused-characters
  "Each class of control, separator, bidi and invisible character is
refused in the local part of every address argument, before anything
is sent; the controls, separators and bidi embeddings and overrides in
display names too, while a name may keep the marks that right-to-left
names use (they are encoded)."
  (with-captured-letters (box)
    (loop for (code what) in *refused-characters*
          for local = (format nil "ad~cmin" (code-char code))
          for address = (format nil "~a@example.net" local)
          do (flet ((refused (thunk where)
                      (let ((e (handler-case (progn (funcall thunk) nil)
                                 (smtp-argument-error (e) e))))
                        (is (typep e 'smtp-argument-error)
                            "~a (U+~4,'0x) accepted in ~a" what code where))))
               (refused (lambda ()
                          (send-letter "smtp.example.com" address *to* "x"))
                        "from")
               (refused (lambda ()
                          (send-letter "smtp.example.com" *from* address "x"))
                        "to")
               (refused (lambda ()
                          (send-letter "smtp.example.com" *from* *to* "x"
                                       :cc address :bcc address))
                        "cc")
               (refused (lambda ()
                          (send-letter "smtp.example.com" *from* *to* "x"
                                       :reply-to address))
                        "reply-to")
               (refused (lambda ()
                          (send-letter "smtp.example.com" *from* local "x"))
                        "a bare local part")
               (refused (lambda ()
                          (send-smtp "smtp.example.com" *from* address "x"))
                        "send-smtp")
               (when (member code *refused-in-names*)
                 (refused (lambda ()
                            (send-letter "smtp.example.com" *from*
                                         (format nil "Ad~cmin <a@example.net>"
                                                 (code-char code))
                                         "x"))
                          "a display name"))))
    (is (null (captured-letters box)))
    ;; marks in a right-to-left name are fine, encoded
    (send-letter "smtp.example.com" *from*
                 (format nil "שלום~c <a@example.net>" (code-char #x200F))
                 "x")
    (is (string= (format nil "שלום~c <a@example.net>" (code-char #x200F))
                 (captured-letter-header (first (captured-letters box))
                                         "To")))))

;;; ------------------------------------------------------------------
;;; The null sender

(test null-sender
  "SEND-SMTP and SEND-SMTP-AUTH with FROM \"\" or \"<>\" send MAIL
FROM:<>; SEND-LETTER with an empty FROM takes its From field from
:HEADERS (the envelope is <>), and without one is an argument error
that says so, before anything is sent."
  (with-smtpd (d)
    (let ((trace (trace-of
                  (lambda ()
                    (send-smtp (server d) "" "postmaster"
                               (format nil "From: MAILER-DAEMON@example.org~%~
Subject: Undelivered Mail~%~%It bounced.~%"))))))
      (is (contains trace "MAIL FROM:<>") "~a" trace))
    (handler-bind ((smtp-credentials-unused #'muffle-warning))
      (send-smtp-auth (server d) "<>" "postmaster" "user" "pw"
                      (format nil "From: a@example.org~%~%x~%")))
    (send-letter (server d) "" *to* (format nil "It bounced.~%")
                 :subject "Undelivered Mail"
                 :headers "From: Mail Delivery System <MAILER-DAEMON@example.org>")
    (let ((e (handler-case (send-letter (server d) "" *to* "x")
               (smtp-argument-error (e) e))))
      (is (typep e 'smtp-argument-error))
      (is (contains (princ-to-string e) ":HEADERS") "~a" e))
    (signals smtp-argument-error
      (send-letter (server d) "<>" *to* "x" :headers "X-Not-From: a@b.example"))
    ;; a MIME part message may carry the From field itself
    (send-letter (server d) "" *to*
                 (make-mime-part :text "part"
                                 :headers '(("From" . "bounces@example.org"))))
    (signals smtp-argument-error
      (send-letter (server d) "" *to* (make-mime-part :text "no from")))
    (destructuring-bind (one two three four) (letters d)
      (dolist (letter (list one two three four))
        (is (string= "" (json letter "mail_from"))))
      (is (string= "Mail Delivery System <MAILER-DAEMON@example.org>"
                   (header three "From")))
      (is (= 1 (length (headers three "From"))))
      (is (string= "bounces@example.org" (header four "From")))
      (let ((python (python-read (letter-file three))))
        (is (eql 0 (jget python "defects"))))))
  ;; captured and written to files alike
  (with-captured-letters (box)
    (send-smtp "smtp.example.com" "" "postmaster"
               (format nil "From: a@example.org~%~%x~%"))
    (is (string= "" (captured-letter-from (first (captured-letters box))))))
  (let ((dir (make-temp-dir "null-file")))
    (send-smtp (cons :file (native dir)) "<>" "postmaster"
               (format nil "From: a@example.org~%~%x~%"))
    (is (string= (format nil "MAIL FROM:<>~%RCPT TO:<postmaster>~%")
                 (read-file-string
                  (first (directory (merge-pathnames "*.envelope" dir))))))))

;;; ------------------------------------------------------------------
;;; Canonical base64 text

(defun wire-leaves (octets)
  "The leaf entities of the message OCTETS as (CONTENT-TYPE ENCODING
DECODED-OCTETS), in order."
  (mapcar (lambda (entity)
            (list (net.post-office::entity-content-type entity)
                  (net.post-office::entity-encoding entity)
                  (net.post-office::entity-body entity)))
          (net.post-office::entity-leaves
           (net.post-office::parse-entity octets))))

(defun crlf-text (string)
  "STRING with each newline made CRLF, as UTF-8 octets."
  (net.post-office::string-to-utf8
   (with-output-to-string (out)
     (loop for char across string
           do (when (char= char #\Newline)
                (write-char #\Return out))
              (write-char char out)))))

(defun lf-text (string)
  "STRING with each CRLF made a newline."
  (net.post-office::crlf-to-newline string))

(test canonical-base64-text
  "Text made from a string or a character stream goes into base64 in
canonical form, CRLF line ends (RFC 2045 §6.8, RFC 2046 §4.1.1); parts
made from files or octet vectors stay byte for byte.  The captured
letter's reader and Python give back the text that was given."
  (let* ((text (format nil "Grüße~%zweite Zeile~%"))
         (csv (ascii (format nil "a,b~%1,2~%")))
         (file (write-file (merge-pathnames "data.csv"
                                            (make-temp-dir "canonical"))
                           csv)))
    (with-smtpd (d)
      ;; a string (base64: not ASCII), with an octet and a file attachment
      (send-letter (server d) *from* *to* text
                   :attachments (list (make-mime-part
                                       :text csv :content-type "text/csv"
                                       :name "octets.csv" :attachmentp t)
                                      file))
      ;; a character stream forced to base64
      (with-input-from-string (in text)
        (send-letter (server d) *from* *to* in
                     :headers "Content-Transfer-Encoding: base64"))
      ;; a character stream part, and a string part asked for base64
      (with-input-from-string (in (format nil "stream~%lines~%"))
        (send-letter (server d) *from* *to*
                     (make-mime-part
                      :subparts
                      (list (make-mime-part :file in
                                            :content-type "text/plain"
                                            :attachmentp nil)
                            (make-mime-part :text (format nil "ascii~%")
                                            :encoding :base64)))))
      (destructuring-bind (one two three) (letters d)
        (destructuring-bind ((type1 enc1 body1) (type2 enc2 body2)
                             (type3 enc3 body3))
            (wire-leaves (read-file-octets (letter-file one)))
          (is (equal '("text/plain" "base64") (list type1 enc1)))
          (is (equalp (crlf-text text) body1))
          (is (equal '("text/csv" "base64") (list type2 enc2)))
          (is (equalp csv body2))
          (is (equal '("text/csv" "base64") (list type3 enc3)))
          (is (equalp csv body3)))
        (destructuring-bind ((type enc body))
            (wire-leaves (read-file-octets (letter-file two)))
          (is (equal '("text/plain" "base64") (list type enc)))
          (is (equalp (crlf-text text) body)))
        (destructuring-bind ((type1 enc1 body1) (type2 enc2 body2))
            (wire-leaves (read-file-octets (letter-file three)))
          (declare (ignore type1 type2))
          (is (string= "base64" enc2))
          (is (equalp (crlf-text (format nil "ascii~%")) body2))
          ;; a :file stream part is base64 by default (Allegro's rule)
          (is (string= "base64" enc1))
          (is (equalp (crlf-text (format nil "stream~%lines~%")) body1)))
        ;; Python reads the text back (with its CRLF line ends, as for
        ;; any text part) and the attachments byte for byte
        (let ((python (python-read (letter-file one))))
          (is (string= text (lf-text (jget python "parts" 0 "text"))))
          (is (string= (format nil "a,b~%1,2~%")
                       (jget python "parts" 1 "text")))
          (is (string= (format nil "a,b~%1,2~%")
                       (jget python "parts" 2 "text"))))
        (is (string= text (lf-text (jget (python-read (letter-file two))
                                         "parts" 0 "text"))))))
    ;; the captured letter gives back the text and the octets as given
    (with-captured-letters (box)
      (send-letter "smtp.example.com" *from* *to* text
                   :attachments (make-mime-part :text csv
                                                :content-type "text/csv"
                                                :name "octets.csv"
                                                :attachmentp t))
      (let ((letter (first (captured-letters box))))
        (is (string= text (captured-letter-text letter)))
        (is (equalp csv (third (first (captured-letter-attachments
                                       letter)))))))))

;;; ------------------------------------------------------------------
;;; REQUIRE

(defparameter *require-program*
  "(require :asdf)
(require :smtp)
(require :mime)
(format t \"~&RESULT ~s ~s ~s~%\"
        (and (find-package :net.post-office) t)
        (and (member \"MIME\" *modules* :test #'string=) t)
        (funcall (intern \"CAPTURED-LETTER-FROM\" :postoffice)
                 (first (funcall (intern \"CALL-WITH-CAPTURED-LETTERS\"
                                         :net.post-office)
                                 (lambda (box)
                                   (net.post-office:send-letter
                                    \"smtp.example.com\" \"root\"
                                    \"postmaster\" \"hi\")
                                   (funcall (intern \"CAPTURED-LETTERS\"
                                                    :postoffice)
                                            box))))))
(finish-output)
"
  "What a fresh Lisp runs: Allegro's (require :smtp) and (require :mime),
then a captured letter.")

(defun fresh-lisp-output (program)
  "The standard output of a fresh Lisp of the kind running the tests
that loads the file holding PROGRAM, with ASDF able to find this
checkout's smtp.asd (and the library of this run, through
$LIBPOSTOFFICE)."
  (let ((file (merge-pathnames "program.lisp" (make-temp-dir "fresh")))
        (registry (format nil "(:source-registry (:directory ~s) ~
:inherit-configuration)"
                          (native (asdf:system-source-directory "smtp")))))
    (write-file file program)
    (uiop:run-program
     (append (list "env" (format nil "CL_SOURCE_REGISTRY=~a" registry))
             #+sbcl (list "sbcl" "--noinform" "--non-interactive"
                          "--no-userinit" "--no-sysinit" "--load"
                          (native file))
             #+ecl (list "ecl" "--norc" "--load" (native file)
                         "--eval" "(ext:quit 0)")
             #-(or sbcl ecl) (error "no fresh Lisp for this implementation"))
     :output :string :error-output nil :ignore-error-status t
     :input nil)))

(test require-smtp
  "(require :smtp) and (require :mime) are no-ops once the system is
loaded (both are provided); in a fresh Lisp, (require :smtp) loads the
system through ASDF."
  (is (member "SMTP" *modules* :test #'string=))
  (is (member "MIME" *modules* :test #'string=))
  (let ((before (length *modules*)))
    (require :smtp)
    (require :mime)
    (is (= before (length *modules*))))
  (let ((output (fresh-lisp-output *require-program*)))
    (is (contains output "RESULT T T \"root\"") "~a" output)))

;;; ------------------------------------------------------------------
;;; The insecure restarts

(defun squash (string)
  "STRING with each run of white space (line breaks included) made one
space: a report as words, whatever its line filling."
  (format nil "~{~a~^ ~}"
          (remove "" (net.post-office::split-string
                      (substitute #\Space #\Newline string) #\Space)
                  :test #'string=)))

(defun restart-names (condition)
  "The names of the restarts active for CONDITION."
  (mapcar #'restart-name (compute-restarts condition)))

(test insecure-restarts
  ":starttls t against a server without STARTTLS, and an untrusted
certificate, still fail closed, and their reports name the restart and
the designator option; a user who invokes CONTINUE-WITHOUT-TLS or
CONTINUE-WITHOUT-VERIFICATION gets this one letter sent that way."
  ;; no STARTTLS offered
  (with-smtpd (d)
    (let ((e (handler-case (send-letter (server d :starttls t) *from* *to*
                                        "x")
               (smtp-tls-error (e) e))))
      (is (eq :estarttls (smtp-error-status e)))
      (is (contains (squash (princ-to-string e)) "CONTINUE-WITHOUT-TLS"))
      (is (contains (squash (princ-to-string e)) ":starttls :try") "~a" e))
    (is (null (letters d)))
    (let ((seen '()))
      (handler-bind ((smtp-tls-error
                       (lambda (e)
                         (push (restart-names e) seen)
                         (is (contains
                              (princ-to-string
                               (find-restart 'continue-without-tls e))
                              ":starttls :try"))
                         (continue-without-tls e))))
        (is (stringp (send-letter (server d :starttls t) *from* *to*
                                  "knowingly in clear"))))
      (is (= 1 (length seen)))
      (is (member 'continue-without-tls (first seen)))
      (is (not (member 'continue-without-verification (first seen)))))
    (is (eq :false (json (the-letter d) "tls")))
    ;; send-smtp too; and the next send is secure again
    (handler-bind ((smtp-tls-error #'continue-without-tls))
      (is (eq t (send-smtp (server d :starttls t) *from* *to*
                           (format nil "Subject: s~%~%x~%")))))
    (is (= 2 (length (letters d))))
    (signals smtp-tls-error
      (send-letter (server d :starttls t) *from* *to* "x")))
  ;; an untrusted certificate
  (with-smtpd (d "--tls" "starttls" "--cert" (cert "server.pem")
                 "--key" (cert "server.key"))
    (let ((e (handler-case (send-letter (server d :starttls t) *from* *to*
                                        "x")
               (smtp-tls-error (e) e))))
      (is (eq :ecert (smtp-error-status e)))
      (is (contains (squash (princ-to-string e))
                    "CONTINUE-WITHOUT-VERIFICATION"))
      (is (contains (squash (princ-to-string e)) ":verify nil")))
    (is (null (letters d)))
    (let ((seen '()))
      (handler-bind ((smtp-tls-error
                       (lambda (e)
                         (push (restart-names e) seen)
                         (continue-without-verification e))))
        (send-letter (server d :starttls t) *from* *to* "unverified"))
      (is (member 'continue-without-verification (first seen)))
      (is (not (member 'continue-without-tls (first seen)))))
    (is (eq :true (json (the-letter d) "tls")))
    ;; neither is offered on a connection, nor for a stream letter
    (signals smtp-tls-error
      (handler-bind ((smtp-tls-error
                       (lambda (e)
                         (is (not (find-restart
                                   'continue-without-verification e))))))
        (with-input-from-string (in "streamed")
          (send-letter (server d :starttls t) *from* *to* in))))
    (signals smtp-tls-error
      (handler-bind ((smtp-tls-error
                       (lambda (e)
                         (is (not (find-restart
                                   'continue-without-verification e))))))
        (with-smtp-connection (c (server d :starttls t))
          (send-letter c *from* *to* "x"))))
    (is (= 1 (length (letters d))))))

;;; ------------------------------------------------------------------
;;; MIME-PART-WRITER: Allegro's layout of parameters

(test mime-part-writer-parameters
  "MIME-PART-WRITER writes parameters as Allegro does: each on a line of
its own after four spaces, quoted, with '\"' and '\\' escaped.  (A
non-string value is quoted too, where Allegro writes it bare.)"
  (let ((part (make-mime-part :text "hi"
                              :parameters '(("format" . "flowed")
                                            ("q" . "a \"b\""))
                              :name "a b.txt" :attachmentp t)))
    (is (string= (format nil "MIME-Version: 1.0~%~
Content-Type: text/plain;~%    charset=\"utf-8\";~%    format=\"flowed\";~%    ~
q=\"a \\\"b\\\"\"~%~
Content-Transfer-Encoding: 7bit~%~
Content-Disposition: attachment;~%    filename=\"a b.txt\"~%~%hi")
                 (with-output-to-string (out)
                   (mime-part-writer part :stream out)))))
  (let* ((part (make-mime-part :subparts (list (make-mime-part :text "x"))))
         (text (with-output-to-string (out)
                 (mime-part-writer part :stream out))))
    (is (contains text (format nil "Content-Type: multipart/mixed;~%    ~
boundary=\"~a\"~%" (mime-part-boundary part)))))
  (is (contains (with-output-to-string (out)
                  (mime-part-writer (make-mime-part :text "x"
                                                    :parameters '(("n" . 3)))
                                    :stream out))
                (format nil ";~%    n=\"3\"~%"))))

;;; ------------------------------------------------------------------
;;; TEST-EMAIL-ADDRESS and untrusted addresses (issue #7 item 6)

(test test-email-address-untrusted
  "An address from a sign-up form cannot make TEST-EMAIL-ADDRESS connect
to a host and port it names: a port or a path makes it invalid (NIL, no
connection); an address literal or an IP address is refused unless
*TEST-EMAIL-ADDRESS-LITERALS* is true, and then only port 25 is tried."
  (with-faultd (f)
    (let ((port (fixture-port f)))
      (dolist (address (list (format nil "probe@127.0.0.1:~d" port)
                             (format nil "probe@localhost:~d" port)
                             (format nil "probe@[127.0.0.1]:~d" port)
                             "probe@localhost/x" "probe@127.0.0.1/25"
                             "a@b.example, c@d.example"
                             (format nil "a~c@b.example" (code-char #x202e))))
        (let ((trace (debug-output (is (null (test-email-address address))
                                       "~a" address))))
          (is (string= "" trace) "~a: ~a" address trace))))
    (is (zerop (connection-count f))))
  ;; literals and IP addresses: no connection without the opt-in ...
  (dolist (address '("probe@[127.0.0.1]" "probe@[IPv6:::1]"
                     "probe@127.0.0.1" "probe@127.1" "probe@2130706433"
                     "probe@0x7f.1" "probe@host.123"))
    (let ((trace (debug-output (is (null (test-email-address address))))))
      (is (string= "" trace) "~a: ~a" address trace)))
  ;; ... and with it, port 25 of that address
  (let ((*test-email-address-literals* t))
    (let ((trace (debug-output (test-email-address "probe@[127.0.0.1]"))))
      (is (contains trace "127.0.0.1") "~a" trace)
      (is (contains trace "25") "~a" trace))))
