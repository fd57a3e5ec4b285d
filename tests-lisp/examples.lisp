;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; examples.lisp - the files in examples/ run against the fixture
;;; servers, so that they never rot: each Lisp example is loaded (a
;;; warning fails the test) and its function called; the C examples are
;;; compiled against build/libpostoffice.a and run.

(in-package :net.post-office.tests)

(def-suite :smtp.examples :in :smtp
  :description "The Lisp and C examples in examples/.")

(in-suite :smtp.examples)

(defun example-file (name)
  "The pathname of the file NAME in the checkout's examples/."
  (asdf:system-relative-pathname "smtp" (concatenate 'string "examples/"
                                                     name)))

(defvar *loaded-examples* '()
  "The names of the Lisp examples loaded so far.")

(defun load-example (name)
  "Loads the Lisp example examples/NAME once, checking that it loads
without a warning.  The current FiveAM suite is kept."
  (unless (member name *loaded-examples* :test #'string=)
    (let ((warnings '()))
      (let ((it.bese.fiveam::*suite* it.bese.fiveam::*suite*))
        (handler-bind ((warning (lambda (warning)
                                  (push (princ-to-string warning) warnings)
                                  (muffle-warning warning))))
          (load (example-file name) :external-format :utf-8)))
      (is (null warnings) "loading ~a warned:~{~%~a~}" name warnings)
      (push name *loaded-examples*))))

(defun example-call (package name &rest arguments)
  "Calls the function NAME (a string) of the example package PACKAGE
with ARGUMENTS."
  (apply #'uiop:symbol-call package name arguments))

;;; ------------------------------------------------------------------
;;; Lisp examples

(test example-plain-letter
  "examples/plain-letter.lisp sends its letter, read back by Python."
  (load-example "plain-letter.lisp")
  (with-smtpd (d)
    (let ((*smtp-last-reply* nil))
      (is (stringp (example-call :smtp-example-plain "SEND-PLAIN-LETTER"
                                 (server d))))
      (is (contains *smtp-last-reply* "250")))
    (let* ((letter (the-letter d))
           (python (python-read (letter-file letter))))
      (is (equal '("ann@example.net" "bob@example.net" "carol@example.net")
                 (json letter "rcpt_tos")))
      (is (string= "joerg@example.com" (json letter "mail_from")))
      (is (string= "Meeting moved to Thursday ✓"
                   (jget python "headers" "Subject")))
      (is (contains (jget python "parts" 0 "text") "Thursday, 10:00.")))))

(test example-alternative
  "examples/alternative.lisp: text and HTML alternatives, and the
inline image the HTML refers to by Content-ID."
  (load-example "alternative.lisp")
  (with-smtpd (d)
    (is (stringp (example-call :smtp-example-alternative
                               "SEND-ALTERNATIVE-LETTER" (server d))))
    (let* ((letter (the-letter d))
           (python (python-read (letter-file letter))))
      (is (contains (header letter "Content-Type") "multipart/alternative"))
      (is (equal '("text/plain" "text/html" "image/png")
                 (mapcar (lambda (part) (jget part "type"))
                         (jget python "parts"))))
      (is (contains (letter-eml letter) "Content-ID: <logo@example.com>"))))
  (with-captured-letters (box)
    (example-call :smtp-example-alternative "SEND-ALTERNATIVE-LETTER"
                  "smtp.example.com")
    (let ((letter (first (captured-letters box))))
      (is (contains (captured-letter-text letter) "Spring is here."))
      (is (contains (captured-letter-html letter) "cid:logo@example.com"))
      (is (equalp (symbol-value (find-symbol "*LOGO*"
                                             :smtp-example-alternative))
                  (third (first (captured-letter-attachments letter))))))))

(test example-bulk
  "examples/bulk.lisp sends every letter over one connection and goes
on after a refused recipient."
  (load-example "bulk.lisp")
  (with-faultd (f "--at" "rcpt=bad@example.net" "--do" "reply"
                  "--reply" "550 5.1.1 No such user")
    (multiple-value-bind (sent refused)
        (example-call :smtp-example-bulk "SEND-NEWSLETTER" (server f)
                      '("a@example.net" "bad@example.net" "b@example.net"))
      (is (equal '("a@example.net" "b@example.net") (mapcar #'first sent)))
      (is (every #'stringp (mapcar #'second sent)))
      (is (equal '("bad@example.net") (mapcar #'first refused)))
      (is (contains (second (first refused)) "550")))
    (is (= 2 (length (letters f))))
    ;; one connection: after the refused letter an RSET, and the next
    ;; letter on the same connection
    (is (= 1 (connection-count f)))
    (is (contains (transcript f) "C: RSET"))))

(test example-program
  "examples/program.lisp pipes its letter to a program (Bcc in a Bcc:
header for it), and reports a failing program."
  (load-example "program.lisp")
  (let ((out (merge-pathnames "letter.eml" (make-temp-dir "example"))))
    (let ((message-id
            (example-call :smtp-example-program "SEND-THROUGH-PROGRAM"
                          (list :program "/bin/sh" "-c"
                                (format nil "cat > '~a'" (native out))))))
      (is (stringp message-id))
      (is (string= message-id (header (read-file-string out) "Message-ID"))))
    (let ((eml (read-file-string out)))
      (is (string= "Backup report" (header eml "Subject")))
      (is (string= "audit@example.net" (header eml "Bcc")))))
  (let* ((errors (make-string-output-stream))
         (result (let ((*error-output* errors))
                   (example-call :smtp-example-program "SEND-THROUGH-PROGRAM"
                                 (cons :program
                                       (concatenate
                                        'string "cat >/dev/null; "
                                        "echo no mail today >&2; exit 3"))))))
    (is (null result))
    (is (contains (get-output-stream-string errors) "no mail today"))))

(test example-restarts
  "examples/restarts.lisp falls back on the second server, drops the
refused recipient and delivers to the other."
  (load-example "restarts.lisp")
  (with-smtpd (d "--refuse" "nobody@example.net=550 5.1.1 No such user")
    (multiple-value-bind (message-id reply dropped)
        (example-call :smtp-example-restarts "SEND-ROBUSTLY"
                      "127.0.0.1:1" (server d)
                      '("ann@example.net" "nobody@example.net"))
      (is (stringp message-id))
      (is (contains reply "250"))
      (is (equal '("nobody@example.net") dropped)))
    (is (equal '("ann@example.net") (json (the-letter d) "rcpt_tos")))))

(test example-porting
  "examples/porting.lisp: Allegro-era code run unchanged - (require
:smtp), (use-package :net.post-office), mail from root through the
local MTA (the fixture server), an address list in one string, and the
\(multiple-value-bind (ok err) (ignore-errors ...)) idiom that sees
success as success and a failure as an error."
  (load-example "porting.lisp")
  (let ((host (find-symbol "*MAIL-HOST*" :smtp-example-porting)))
    (with-smtpd (d)
      (setf (symbol-value host) (server-string d))
      (is (eq t (example-call :smtp-example-porting "REPORT-PROBLEM"
                              "Disk full" "/var is full.")))
      (is (= 2 (example-call :smtp-example-porting "SEND-LETTERS"
                             "Backups" '("one" "two"))))
      (destructuring-bind (letter &rest more) (letters d)
        (is (= 2 (length more)))
        (is (string= "root" (json letter "mail_from")))
        (is (equal '("ops@example.com" "dev@example.com" "root")
                   (json letter "rcpt_tos")))
        (is (string= "root" (header letter "From")))
        (is (string= "ops@example.com, Dev Team <dev@example.com>"
                     (header letter "To")))
        (is (string= "root" (header letter "Cc")))
        (is (contains (body letter) "/var is full."))))
    ;; a failure: NIL, and the error printed
    (let* ((errors (make-string-output-stream))
           (result (let ((*error-output* errors))
                     (setf (symbol-value host) "127.0.0.1:1")
                     (example-call :smtp-example-porting "REPORT-PROBLEM"
                                   "Disk full" "again"))))
      (is (null result))
      (is (contains (get-output-stream-string errors)
                    "Could not mail the report")))))

(test example-test-suite
  "examples/test-suite.lisp: its FiveAM suite, run here, passes."
  (load-example "test-suite.lisp")
  (let ((results (let ((it.bese.fiveam::*test-dribble*
                         (make-broadcast-stream)))
                   (fiveam:run (find-symbol "WELCOME-MAIL"
                                            :smtp-example-test-suite)))))
    (is (< 10 (length results)))
    (is (every (lambda (result)
                 (typep result 'it.bese.fiveam::test-passed))
               results)
        "the example's suite failed:~{~%~a~}"
        (mapcar (lambda (result)
                  (ignore-errors (it.bese.fiveam::reason result)))
                (remove-if (lambda (result)
                             (typep result 'it.bese.fiveam::test-passed))
                           results)))))

;;; ------------------------------------------------------------------
;;; C examples

(defun compile-c-example (name)
  "Compiles examples/NAME.c against build/libpostoffice.a as the
comment in the file says, into a temporary directory.  Returns the
executable's name, or NIL (failing the test) if it could not be built."
  (let* ((root (native (asdf:system-relative-pathname "smtp" "")))
         (executable (native (merge-pathnames name
                                              (make-temp-dir "c-example"))))
         (log (concatenate 'string executable ".log")))
    ;; The exit status is not trusted (ECL can lose it); the file is
    ;; checked instead.
    (uiop:run-program
     (list "/bin/sh" "-c"
           (format nil "cd '~a' && ${CC:-cc} -std=c11 -Wall -Wextra -Werror ~
-Ic examples/~a.c build/libpostoffice.a $(pkg-config --libs libcurl ~
libidn2) -o '~a' >'~a' 2>&1" root name executable log))
     :ignore-error-status t)
    (cond ((probe-file executable) executable)
          (t (fail "examples/~a.c did not compile:~%~a" name
                   (ignore-errors (read-file-string log)))
             nil))))

(defun run-c-example (executable arguments &optional (input ""))
  "Runs EXECUTABLE with ARGUMENTS and the string INPUT on its standard
input.  Returns its standard output and standard error as strings."
  (let ((in (merge-pathnames "stdin.txt" (make-temp-dir "c-input"))))
    (write-file in input)
    (multiple-value-bind (output error-output)
        (uiop:run-program (cons executable arguments)
                          :input in :output :string :error-output :string
                          :external-format :utf-8 :ignore-error-status t)
      (values output error-output))))

(test example-hello-c
  "examples/hello.c compiles and prints a letter in its wire form: CRLF
lines, encoded headers, no Bcc, the text and the attachment."
  (let ((executable (compile-c-example "hello")))
    (when executable
      (let ((output (run-c-example executable '())))
        (is (contains output (format nil "To: Ann <ann@example.net>~c~c"
                                     #\Return #\Newline)))
        (is (contains output "From: =?utf-8?b?"))
        (is (contains output "Subject: Hello =?utf-8?"))
        (is (not (contains output "archive@")))
        (is (contains output "filename=\"data.bin\""))
        ;; Python reads the text back
        (let ((python (python-read (write-file
                                    (merge-pathnames "hello.eml"
                                                     (make-temp-dir "hello"))
                                    output))))
          (is (string= "Hello ✓" (jget python "headers" "Subject")))
          (is (contains (jget python "parts" 0 "text") "Grüße aus Köln."))
          (is (string= "data.bin" (jget python "parts" 1 "filename")))
          (is (= 4 (jget python "parts" 1 "size"))))))))

(test example-send-c
  "examples/send.c compiles and sends a letter to the fixture server;
on failure it explains on standard error."
  (let ((executable (compile-c-example "send")))
    (when executable
      (with-smtpd (d)
        (multiple-value-bind (output error-output)
            (run-c-example executable
                           ;; ASCII arguments: ECL passes them as Latin-1
                           (list (server-string d) "Me <me@example.com>"
                                 "you@example.net" "Greetings")
                           (format nil "Hello from C ✓~%"))
          (is (contains output "250") "no reply printed: ~a ~a" output
              error-output))
        (let ((letter (the-letter d)))
          (when letter
            (let ((python (python-read (letter-file letter))))
              (is (string= "me@example.com" (json letter "mail_from")))
              (is (equal '("you@example.net") (json letter "rcpt_tos")))
              (is (string= "Greetings" (jget python "headers" "Subject")))
              (is (contains (jget python "parts" 0 "text")
                            "Hello from C ✓"))))))
      (multiple-value-bind (output error-output)
          (run-c-example executable (list "127.0.0.1:1" "a@example.com"
                                          "b@example.net"))
        (is (string= "" output))
        (is (contains error-output "ECONNECT"))))))
