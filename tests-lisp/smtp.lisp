;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; smtp.lisp - sending, end to end, against the fixture servers:
;;; every designator and argument form, Allegro's attachment rules, TLS,
;;; AUTH, every failure and its condition, *SMTP-DEBUG*, connections,
;;; threads, the program transport and TEST-EMAIL-ADDRESS.

(in-package :net.post-office.tests)

(def-suite :smtp.send :in :smtp
  :description "Sending letters through the fixture servers.")

(in-suite :smtp.send)

(defparameter *from* "sender@example.org"
  "The sender of the test letters.")

(defparameter *to* "rcpt@example.net"
  "The usual recipient of the test letters.")

;;; ------------------------------------------------------------------
;;; The basics

(test send-letter-basic
  "A string message: the letter, its envelope, the one value (the
Message-ID) and *SMTP-LAST-REPLY*."
  (with-smtpd (d)
    (destructuring-bind ((message-id &rest more) reply)
        (let ((*smtp-last-reply* :unset))
          (list (multiple-value-list
                 (send-letter (server d) *from* *to*
                              (format nil "Hello,~%world.")
                              :subject "Greetings"))
                *smtp-last-reply*))
      (is (null more))
      (is (stringp message-id))
      (let ((letter (the-letter d)))
        (is (string= *from* (json letter "mail_from")))
        (is (equal (list *to*) (json letter "rcpt_tos")))
        (is (string= *from* (header letter "From")))
        (is (string= *to* (header letter "To")))
        (is (string= "Greetings" (header letter "Subject")))
        (is (header letter "Date"))
        (is (string= message-id (header letter "Message-ID")))
        (is (string= "1.0" (header letter "MIME-Version")))
        (is (contains (header letter "Content-Type") "text/plain"))
        (is (contains (body letter) (format nil "Hello,~c~cworld."
                                            #\Return #\Newline)))
        (is (contains reply "250"))))))

(test server-designator-forms
  "Every designator form reaches the server; the caller's list is not
modified by a send (Allegro's REMF bug)."
  (with-smtpd (d)
    (let ((port (fixture-port d))
          (long (list "127.0.0.1" :port (fixture-port d) :starttls nil
                      :timeout 10)))
      (dolist (designator
               (list (format nil "127.0.0.1:~d" port)
                     (format nil "localhost:~d" port)
                     (cons "127.0.0.1" port)
                     (list 2130706433 :port port)
                     (list (coerce #(127 0 0 1) '(vector (unsigned-byte 8)))
                           :port port)
                     long))
        (is (stringp (send-letter designator *from* *to*
                               (format nil "via ~s" designator)))))
      (is (equal (list "127.0.0.1" :port port :starttls nil :timeout 10)
                 long))
      (is (= 6 (length (letters d)))))))

(test ipv6-designators
  "An IPv6 server, given as \"[::1]:port\", as (\"::1\" :port p) and as
16 octets."
  (with-smtpd (d :host "::1")
    (let ((port (fixture-port d)))
      (send-letter (format nil "[::1]:~d" port) *from* *to* "v6 a")
      (send-letter (list "::1" :port port) *from* *to* "v6 b")
      (send-letter (list (coerce #(0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1)
                                 '(vector (unsigned-byte 8)))
                         :port port)
                   *from* *to* "v6 c")
      (is (= 3 (length (letters d))))
      (is (contains (first (json (first (letters d)) "peer")) ":")))))

(test recipients
  "to as a string or a list, cc and bcc; Bcc is in the envelope only;
display names go to the header, bare addresses to the envelope."
  (with-smtpd (d)
    (send-letter (server d) "Sender Name <sender@example.org>"
                 (list "a@example.net" "Bé Person <b@example.net>")
                 "x" :cc "c@example.net" :bcc '("hidden@example.net")
                 :reply-to "reply@example.org")
    (let* ((letter (the-letter d))
           (python (python-read (letter-file letter))))
      (is (equal '("a@example.net" "b@example.net" "c@example.net"
                   "hidden@example.net")
                 (json letter "rcpt_tos")))
      (is (string= "sender@example.org" (json letter "mail_from")))
      (is (null (header letter "Bcc")))
      (is (not (contains (letter-eml letter) "hidden@")))
      (is (contains (header letter "Cc") "c@example.net"))
      (is (contains (header letter "Reply-To") "reply@example.org"))
      (is (string= "a@example.net, Bé Person <b@example.net>"
                   (jget python "headers" "To")))
      (is (string= "Sender Name <sender@example.org>"
                   (jget python "headers" "From"))))))

(test header-lines-replace-and-refuse
  "A :HEADERS line for a field the letter has replaces it (one of each
on the wire); Allegro's way of sending HTML, a Content-Type line with a
string message, makes the text part HTML, attachments or not; a Bcc
line and Content-* lines with a MIME part message are refused before
anything is sent; \"MIME-Version: 1.0\" is not doubled."
  (flet ((fields (letter name)
           (loop for (field . value) in (header-fields
                                          (map 'string #'code-char
                                               (captured-letter-octets
                                                letter)))
                 when (string-equal field name)
                   collect value)))
    (with-captured-letters (box)
      (send-letter "127.0.0.1:1" *from* *to* "<p>Hello</p>"
                   :subject "keyword"
                   :headers '("Subject: from the line"
                              "MIME-Version: 1.0"
                              "Content-Type: text/html; charset=utf-8"
                              "Content-Transfer-Encoding: quoted-printable"))
      (send-letter "127.0.0.1:1" *from* *to* "<p>Hi</p>"
                   :headers "Content-Type: text/html"
                   :attachments (make-mime-part :text "notes"
                                                :attachmentp t
                                                :name "notes.txt"))
      (destructuring-bind (html mixed) (captured-letters box)
        (is (equal '("from the line") (fields html "Subject")))
        (is (equal '("1.0") (fields html "MIME-Version")))
        (is (equal '("text/html;    charset=\"utf-8\"")
                   (fields html "Content-Type")))
        (is (equal '("quoted-printable")
                   (fields html "Content-Transfer-Encoding")))
        (is (= 1 (length (fields mixed "Content-Type"))))
        (is (contains (first (fields mixed "Content-Type"))
                      "multipart/mixed"))
        (is (contains (map 'string #'code-char (captured-letter-octets mixed))
                      (format nil "Content-Type: text/html;~c~c    ~
charset=\"utf-8\"~c~c" #\Return #\Newline #\Return #\Newline)))
        (is (equalp '(("notes.txt" "text/plain" #(110 111 116 101 115)))
                    (captured-letter-attachments mixed))))
      (signals smtp-argument-error
        (send-letter "127.0.0.1:1" *from* *to* "x"
                     :headers "Bcc: hidden@example.com"))
      (signals smtp-argument-error
        (send-letter "127.0.0.1:1" *from* *to* (make-mime-part :text "x")
                     :headers "Content-Type: text/html"))
      (signals smtp-argument-error
        (send-letter "127.0.0.1:1" *from* *to* "x"
                     :headers "MIME-Version: 2.0"))
      (is (= 2 (length (captured-letters box)))))))

(test headers-and-unicode
  "Raw header lines (string or list, trailing newline removed), a
non-ASCII subject encoded (read back by Python), part headers beating
keyword arguments."
  (with-smtpd (d)
    (send-letter (server d) *from* *to* "x"
                 :subject "Grüße 🎉"
                 :headers (format nil "X-Mailer: test~%"))
    (send-letter (server d) *from* *to* "x"
                 :headers (list "X-A: 1" "X-B: 2"))
    (send-letter (server d) *from* *to*
                 (make-mime-part :text "x"
                                 :headers '(("Subject" . "From the part")
                                            ("To" . "shown@example.net")))
                 :subject "From the keyword")
    (destructuring-bind (one two three) (letters d)
      (is (string= "Grüße 🎉"
                   (jget (python-read (letter-file one)) "headers"
                         "Subject")))
      (is (not (contains (header one "Subject") "ü")))
      (is (string= "test" (header one "X-Mailer")))
      (is (string= "1" (header two "X-A")))
      (is (string= "2" (header two "X-B")))
      (is (equal '("From the part") (headers three "Subject")))
      (is (equal '("shown@example.net") (headers three "To")))
      (is (equal (list *to*) (json three "rcpt_tos"))))))

(test message-kinds
  "A character stream is text; a binary stream an octet part; a part is
sent as it is.  Streams are read to the end and not closed."
  (with-smtpd (d)
    (with-input-from-string (in (format nil "streamed ünïcode~%text"))
      (send-letter (server d) *from* *to* in)
      (is (open-stream-p in))
      (is (null (read-char in nil))))
    (let ((binary (octet-stream #(0 1 2 255))))
      (unwind-protect
           (progn (send-letter (server d) *from* *to* binary)
                  (is (open-stream-p binary)))
        (close binary)))
    (send-letter (server d) *from* *to*
                 (make-mime-part :content-type "text/html"
                                 :text "<p>part</p>"))
    (destructuring-bind (text octets part) (letters d)
      (let ((read (python-read (letter-file text))))
        (is (string= (format nil "streamed ünïcode~%text")
                     (string-right-trim '(#\Newline)
                                        (jget read "parts" 0 "text"))))
        (is (string= "text/plain" (jget read "parts" 0 "type"))))
      (let ((read (python-read (letter-file octets))))
        (is (string= "application/octet-stream" (jget read "parts" 0 "type")))
        (is (equal (map 'string #'code-char #(0 1 2 255))
                   (jget read "parts" 0 "latin1"))))
      (is (contains (header part "Content-Type") "text/html")))))

(test attachments
  "Attachments of every kind: file names, pathnames, streams of both
kinds, parts; with a string message the body becomes multipart/mixed."
  (with-smtpd (d)
    (let* ((dir (make-temp-dir "attach"))
           (pdf (write-file (merge-pathnames "report.pdf" dir) "%PDF-1.4"))
           (txt (merge-pathnames "notes.txt" dir)))
      (write-file txt "some notes")
      (with-input-from-string (chars "character stream")
        (let ((binary (octet-stream #(1 2 3))))
          (unwind-protect
               (send-letter (server d) *from* *to* "the message"
                            :attachments (list pdf txt chars binary
                                               (make-mime-part
                                                :text "a part"
                                                :attachmentp t
                                                :name "part.txt")))
            (close binary))))
      (send-letter (server d) *from* *to* "one attachment" :attachments pdf)
      (destructuring-bind (many one) (letters d)
        (let ((parts (jget (python-read (letter-file many)) "parts")))
          (is (contains (header many "Content-Type") "multipart/mixed"))
          (is (equal '("text/plain" "application/pdf" "text/plain"
                       "application/octet-stream" "application/octet-stream"
                       "text/plain")
                     (mapcar (lambda (p) (jget p "type")) parts)))
          (is (string= "the message" (jget parts 0 "text")))
          (is (string= "report.pdf" (jget parts 1 "filename")))
          (is (string= "%PDF-1.4" (jget parts 1 "latin1")))
          (is (string= "notes.txt" (jget parts 2 "filename")))
          (is (string= "some notes" (jget parts 2 "text")))
          (is (string= "character stream" (jget parts 3 "latin1")))
          (is (= 3 (jget parts 4 "size")))
          (is (string= "part.txt" (jget parts 5 "filename"))))
        (is (= 2 (length (jget (python-read (letter-file one)) "parts"))))))))

(test smtputf8
  "A non-ASCII local part goes out with SMTPUTF8 to a server that offers
it; to one that does not, it is an SMTP-PERMANENT-ERROR with status
:ESMTPUTF8 before MAIL, naming EHLO, with a hint, and nothing is sent."
  (with-smtpd (d "--smtputf8")
    (is (stringp (send-letter (server d) "jörg@example.com" "zoë@example.com"
                           "hello" :subject "utf8")))
    (let ((letter (the-letter d)))
      (is (string= "jörg@example.com" (json letter "mail_from")))
      (is (equal '("zoë@example.com") (json letter "rcpt_tos")))))
  (with-smtpd (d)
    (let ((e (handler-case (send-letter (server d) "jörg@example.com" *to*
                                        "hello")
               (error (e) e))))
      (is (typep e 'smtp-permanent-error) "~s" e)
      (is (not (typep e 'smtp-transient-error)))
      (is (eq :esmtputf8 (smtp-error-status e)))
      (is (eql 0 (search "EHLO" (smtp-error-command e))) "command ~s"
          (smtp-error-command e))
      (is (contains (princ-to-string e) "SMTPUTF8")))
    (is (null (letters d)))))

(test dsn-and-requiretls-keys
  "The designator's :dsn-notify, :dsn-ret and :dsn-envid go on the wire
as RFC 3461 parameters (with a connection from WITH-SMTP-CONNECTION
too); a server without DSN refuses the letter before MAIL with an
SMTP-PERMANENT-ERROR of status :EDSN; :require-tls t on a plain
connection is refused with :EREQUIRETLS; bad values are argument
errors."
  (with-faultd (f "--caps" "DSN,8BITMIME,PIPELINING")
    (is (stringp (send-letter (server f :dsn-notify '(:failure :delay)
                                     :dsn-ret :hdrs :dsn-envid "lisp-1")
                           *from* *to* "dsn")))
    (with-smtp-connection (c (server f :dsn-notify :never))
      (is (stringp (send-letter c *from* *to* "never"))))
    (let ((letters (letters f)))
      (is (= 2 (length letters)))
      (is (subsetp '("RET=HDRS" "ENVID=lisp-1")
                   (json (first letters) "mail_options") :test #'string=))
      (is (subsetp (list "NOTIFY=FAILURE,DELAY"
                         (format nil "ORCPT=rfc822;~a" *to*))
                   (json (first letters) "rcpt_options") :test #'string=))
      (is (member "NOTIFY=NEVER" (json (second letters) "rcpt_options")
                  :test #'string=)))
    (let ((e (handler-case (send-letter (server f :require-tls t) *from*
                                        *to* "requiretls")
               (error (e) e))))
      (is (typep e 'smtp-permanent-error) "~s" e)
      (is (eq :erequiretls (smtp-error-status e)))))
  (with-faultd (f)
    (let ((e (handler-case (send-letter (server f :dsn-notify '(:success))
                                        *from* *to* "no dsn")
               (error (e) e))))
      (is (typep e 'smtp-permanent-error) "~s" e)
      (is (eq :edsn (smtp-error-status e)))
      (is (contains (princ-to-string e) "DSN")))
    (is (null (letters f)))
    (is (not (contains (transcript f) "C: MAIL"))))
  (dolist (bad '((:dsn-notify (:sometimes)) (:dsn-notify "failure")
                 (:dsn-ret :all) (:dsn-envid 7)))
    (signals smtp-argument-error
      (send-letter (list* "localhost" bad) *from* *to* "x"))))

(test server-host-check-bypass
  "#7 item 5: a fullwidth @ (U+FF20), which IDNA maps to \"@\", and an
IPv6 zone id holding \"]@host:port/\" are not ways to reach another host:
SMTP-ARGUMENT-ERROR, and the server named by the trick sees no
connection."
  (with-faultd (f)
    (let ((port (fixture-port f)))
      (signals smtp-argument-error
        (send-letter (format nil "mail.example.com~c127.0.0.1:~d"
                             (code-char #xff20) port)
                     *from* *to* "x"))
      (signals smtp-argument-error
        (send-letter (list (format nil "mail.example.com~c127.0.0.1"
                                   (code-char #xff20))
                           :port port)
                     *from* *to* "x"))
      (signals smtp-argument-error
        (send-letter (list (format nil "fe80::1%a]@127.0.0.1:~d/x" port)
                           :port 25)
                     *from* *to* "x")))
    (is (= 0 (connection-count f)))))

(test non-ascii-file-names
  "A file with a non-ASCII name is attached under that name (RFC 2231),
as Python reads it back."
  (with-smtpd (d)
    (let ((file (write-file (merge-pathnames "résumé über.txt"
                                             (make-temp-dir "utf8"))
                            "contents")))
      (send-letter (server d) *from* *to* "see attachment"
                   :attachments file)
      (let ((parts (jget (python-read (letter-file (the-letter d))) "parts")))
        (is (string= "résumé über.txt"
                     (jget parts 1 "filename")))
        (is (string= "contents" (jget parts 1 "text")))))))

(defun make-file-named-in-utf-8 (directory name contents)
  "Creates the file NAME (a string) in DIRECTORY (a native directory name
ending in /) with the ASCII string CONTENTS, through libc with the name
in UTF-8, as any other program names files; returns the full name."
  (let* ((full (concatenate 'string directory name))
         (fd (cffi:foreign-funcall "open" :string full
                                          :int (logior 1 64 512) ; WRONLY CREAT TRUNC
                                          :int #o644 :int)))
    (is (>= fd 0) "cannot create ~a" full)
    (cffi:with-foreign-string (text contents)
      (cffi:foreign-funcall "write" :int fd :pointer text
                                    :size (length contents) :long))
    (cffi:foreign-funcall "close" :int fd :int)
    full))

(test file-names-in-utf-8
  "A file another program named in UTF-8 is attached when given by its
name in real characters, on ECL too (whose file names are Latin-1)."
  (let* ((directory (native (make-temp-dir "named-in-utf8")))
         (file (make-file-named-in-utf-8 directory "Größe 東京.txt" "hello")))
    (with-captured-letters (box)
      (send-letter "127.0.0.1:1" *from* *to* "see attachment"
                   :attachments file)
      (is (equalp '(("Größe 東京.txt" "text/plain" #(104 101 108 108 111)))
                  (captured-letter-attachments
                   (first (captured-letters box))))))))

(test attachments-with-user-multipart
  "With a user multipart/mixed part the attachments follow its subparts;
the part is unchanged afterwards, after success and after a failed send.
A part that is not multipart/mixed refuses attachments."
  (with-smtpd (d "--refuse" "refused@example.net=550 5.1.1 no such user")
    (let* ((first-part (make-mime-part :text "first"))
           (subparts (list first-part))
           (part (make-mime-part :subparts subparts))
           (file (temp-file "extra.txt" "extra")))
      (send-letter (server d) *from* *to* part :attachments file)
      (is (eq subparts (mime-part-parts part)))
      (is (equal (list first-part) (mime-part-parts part)))
      (signals smtp-recipient-error
        (send-letter (server d) *from* "refused@example.net" part
                     :attachments file))
      (is (eq subparts (mime-part-parts part)))
      (let ((parts (jget (python-read (letter-file (the-letter d))) "parts")))
        (is (= 2 (length parts)))
        (is (string= "first" (jget parts 0 "text")))
        (is (string= "extra.txt" (jget parts 1 "filename"))))
      (signals smtp-argument-error
        (send-letter (server d) *from* *to*
                     (make-mime-part :content-type "multipart/alternative"
                                     :subparts (list (make-mime-part
                                                      :text "x")))
                     :attachments file)))))

(test one-return-value
  "Allegro's idiom (multiple-value-bind (ok err) (ignore-errors ...))
sees success as success: SEND-LETTER, SEND-SMTP and SEND-SMTP-AUTH
return exactly one value.  The final reply is in *SMTP-LAST-REPLY*, set
in the current binding by every send (NIL after a failure, for a
program), so a thread that binds it keeps its own."
  (with-smtpd (d)
    (let ((*smtp-last-reply* :unset))
      (multiple-value-bind (ok err)
          (ignore-errors (send-letter (server d) *from* *to* "idiom"))
        (is (stringp ok))
        (is (null err))
        (is (string= ok (header (first (letters d)) "Message-ID"))))
      (is (equal "250 2.0.0 OK: queued as 0001" *smtp-last-reply*))
      (multiple-value-bind (ok err)
          (ignore-errors
           (send-smtp (server d) *from* *to*
                      (format nil "Subject: no id~%~%x~%")))
        (is (eq t ok))
        (is (null err)))
      (is (equal "250 2.0.0 OK: queued as 0002" *smtp-last-reply*))
      (is (equal '("<kept@example.org>")
                 (multiple-value-list
                  (handler-bind ((smtp-credentials-unused #'muffle-warning))
                    (send-smtp-auth (server d) *from* *to* "user" "pw"
                                    (format nil "Subject: id~%Message-ID: ~
  <kept@example.org>~%~%x~%"))))))
      ;; a failure: the error as the second value, no reply kept
      (multiple-value-bind (ok err)
          (ignore-errors (send-letter "127.0.0.1:1" *from* *to* "x"))
        (is (null ok))
        (is (typep err 'smtp-connection-error)))
      (is (null *smtp-last-reply*))
      (send-letter (server d) *from* *to* "once more")
      (signals smtp-argument-error
        (send-letter (server d) *from* "bad address" "x"))
      (is (null *smtp-last-reply*))
      ;; a thread's own binding
      (send-letter (server d) *from* *to* "outer")
      (let ((outer *smtp-last-reply*)
            (inner nil))
        (join (spawn (lambda ()
                       (let ((*smtp-last-reply* nil))
                         (send-letter (server d) *from* *to* "inner")
                         (setf inner *smtp-last-reply*)))))
        (is (equal "250 2.0.0 OK: queued as 0005" outer))
        (is (equal "250 2.0.0 OK: queued as 0006" inner))
        (is (eq outer *smtp-last-reply*)))
      (send-letter (list :program "/bin/sh" "-c" "cat >/dev/null")
                   *from* *to* "program")
      (is (null *smtp-last-reply*)))))

;;; ------------------------------------------------------------------
;;; send-smtp

(test send-smtp-forms
  "SEND-SMTP sends the messages as they are: strings, character and
binary streams, NIL skipped, and the stream of
WITH-MIME-PART-CONSTRUCTED-STREAM."
  (with-smtpd (d)
    ;; closed here, not left to the garbage collector: a file descriptor
    ;; closed by a finalizer in the middle of a later test upsets that
    ;; test's descriptor count
    (let ((binary (octet-stream (ascii (format nil "~%binary")))))
      (unwind-protect
           (is (eq t (send-smtp (server d) *from*
                                (list *to* "two@example.net")
                                (format nil "Subject: raw~%From: ~a~%~%"
                                        *from*)
                                nil
                                (make-string-input-stream "line ü")
                                binary)))
        (close binary)))
    (let ((part (make-mime-part :text "via stream"
                                :headers '(("Subject" . "constructed")))))
      (with-mime-part-constructed-stream (s part)
        (send-smtp (server d) *from* *to* s)))
    (destructuring-bind (raw constructed) (letters d)
      (is (equal (list *to* "two@example.net") (json raw "rcpt_tos")))
      (is (string= "raw" (header raw "Subject")))
      (is (null (header raw "Message-ID")))
      (is (contains (body raw) (format nil "line ü~c~cbinary" #\Return
                                       #\Newline)))
      (is (string= "constructed" (header constructed "Subject")))
      (is (contains (body constructed) "via stream")))))

;;; ------------------------------------------------------------------
;;; Authentication

(test authentication
  "AUTH with LOGIN and PASSWORD (mechanisms chosen by the library or
named), a bad password, and XOAUTH2 with :OAUTH-TOKEN."
  (with-smtpd (d "--auth" "required" "--user" "joe" "--password" "s3cret"
                 "--token" "tok-123")
    (send-letter (server d) *from* *to* "x" :login "joe" :password "s3cret")
    (send-letter (server d :auth-mechanism :login) *from* *to* "x"
                 :login "joe" :password "s3cret")
    (send-smtp-auth (server d :auth-mechanism "CRAM-MD5") *from* *to*
                    "joe" "s3cret" (format nil "Subject: raw~%~%x"))
    (send-letter (server d :auth-mechanism :xoauth2 :oauth-token "tok-123")
                 *from* *to* "x" :login "joe")
    (let ((letters (letters d)))
      (is (equal '("joe" "joe" "joe" "joe")
                 (mapcar (lambda (l) (json l "auth_user")) letters)))
      (is (equal '("LOGIN" "CRAM-MD5" "XOAUTH2")
                 (mapcar (lambda (l) (json l "auth_mechanism"))
                         (rest letters)))))
    (let ((condition (handler-case
                         (send-letter (server d) *from* *to* "x"
                                      :login "joe" :password "wrong-pw")
                       (smtp-authentication-error (e) e))))
      (is (typep condition 'smtp-authentication-error))
      (is (not (contains (princ-to-string condition) "wrong-pw"))))
    (signals smtp-authentication-error
      (send-letter (server d :auth-mechanism :xoauth2 :oauth-token "bad")
                   *from* *to* "x" :login "joe"))
    (is (= 4 (length (letters d))))))

(test credentials-unused
  "Credentials with a server that offers no AUTH: the letter is sent and
an SMTP-CREDENTIALS-UNUSED warning signalled."
  (with-smtpd (d)
    (let ((warned nil))
      (handler-bind ((smtp-credentials-unused
                       (lambda (w)
                         (setf warned w)
                         (muffle-warning w))))
        (is (stringp (send-letter (server d) *from* *to* "x"
                               :login "joe" :password "pw"))))
      (is (typep warned 'smtp-warning))
      (is (not (contains (princ-to-string warned) "pw")))
      (is (= 1 (length (letters d)))))))

;;; ------------------------------------------------------------------
;;; TLS

(test tls-modes
  "STARTTLS and implicit TLS with the test CA; :starttls :try."
  (with-smtpd (d "--tls" "starttls" "--cert" (cert "server.pem")
                 "--key" (cert "server.key"))
    (send-letter (server d :starttls t :ca-file (cert "ca.pem")) *from* *to*
                 "over starttls")
    (send-letter (server d :starttls :try :ca-file (cert "ca.pem"))
                 *from* *to* "try")
    (is (equal '(:true :true)
               (mapcar (lambda (l) (json l "tls")) (letters d)))))
  (with-smtpd (d "--tls" "implicit" "--cert" (cert "server.pem")
                 "--key" (cert "server.key"))
    (send-letter (server d :ssl t :ca-file (pathname (cert "ca.pem"))
                           :method :tlsv1.2)
                 *from* *to* "over tls")
    (is (eq :true (json (the-letter d) "tls")))))

(test tls-verification
  "Certificates are verified by default: a self-signed one fails with an
SMTP-TLS-ERROR whose report suggests :verify nil and :ca-file; :verify
nil turns verification off."
  (with-smtpd (d "--tls" "implicit" "--cert" (cert "selfsigned.pem")
                 "--key" (cert "selfsigned.key"))
    (let ((condition (handler-case (send-letter (server d :ssl t) *from* *to*
                                                "x")
                       (smtp-tls-error (e) e))))
      (is (typep condition 'smtp-tls-error))
      (is (typep condition 'smtp-connection-error))
      (is (contains (princ-to-string condition) ":verify nil"))
      (is (contains (princ-to-string condition) ":ca-file")))
    (is (null (letters d)))
    (send-letter (server d :ssl t :verify nil) *from* *to* "unverified")
    (is (= 1 (length (letters d))))))

(test starttls-required
  ":starttls t against a server without STARTTLS fails before any mail
is sent (no silent downgrade); :starttls :try sends in plain text."
  (with-smtpd (d)
    (signals smtp-tls-error
      (send-letter (server d :starttls t) *from* *to* "x"))
    (is (null (letters d)))
    (send-letter (server d :starttls :try) *from* *to* "plain")
    (is (eq :false (json (the-letter d) "tls")))))

;; The TLS options of the designator reach libcurl.
(test tls-options
  "Allegro's TLS options: a client certificate with an encrypted key,
:server-name for a certificate issued for another name, a CRL, and
:method as a minimum version."
  (with-smtpd (d "--tls" "implicit" "--cert" (cert "server.pem")
                 "--key" (cert "server.key") "--require-client-cert"
                 "--ca" (cert "ca.pem"))
    (send-letter (server d :ssl t :ca-file (cert "ca.pem")
                           :certificate (cert "client.pem")
                           :key (cert "client-enc.key")
                           :certificate-password "secret")
                 *from* *to* "with a client certificate")
    (is (string= "test client" (json (the-letter d) "client_cert"))))
  (with-smtpd (d "--tls" "implicit" "--cert" (cert "wrongname.pem")
                 "--key" (cert "wrongname.key"))
    (signals smtp-tls-error
      (send-letter (server d :ssl t :ca-file (cert "ca.pem")) *from* *to*
                   "x"))
    (send-letter (server d :ssl t :ca-file (cert "ca.pem")
                           :server-name "wrong.example")
                 *from* *to* "by server name")
    (is (= 1 (length (letters d)))))
  (with-smtpd (d "--tls" "implicit" "--cert" (cert "revoked.pem")
                 "--key" (cert "revoked.key"))
    (send-letter (server d :ssl t :ca-file (cert "ca.pem")) *from* *to*
                 "no CRL given")
    (signals smtp-tls-error
      (send-letter (server d :ssl t :ca-file (cert "ca.pem")
                             :crl-file (cert "crl.pem") :crl-check t)
                   *from* *to* "x"))
    (is (= 1 (length (letters d)))))
  (with-smtpd (d "--tls" "starttls" "--cert" (cert "server.pem")
                 "--key" (cert "server.key") "--tls-max" "1.2")
    (send-letter (server d :starttls t :ca-file (cert "ca.pem")
                           :method :tlsv1)
                 *from* *to* "TLS 1.2 is at least 1.0")
    (is (string= "TLSv1.2" (json (the-letter d) "tls_version")))
    (signals smtp-tls-error
      (send-letter (server d :starttls t :ca-file (cert "ca.pem")
                             :method :tlsv1.3)
                   *from* *to* "x"))))

(test session-options
  ":ehlo-name is the EHLO argument; the error reports name the server."
  (with-smtpd (d "--refuse" "bad@example.net=550 no")
    (send-letter (server d :ehlo-name "client.example") *from* *to* "x")
    (is (string= "client.example" (json (the-letter d) "ehlo")))
    (let ((e (handler-case (send-letter (server d) *from* "bad@example.net"
                                        "x")
               (smtp-error (e) e))))
      (is (string= (server-string d) (smtp-error-server e)))
      (is (eq :erecipient (smtp-error-status e))))))

;;; ------------------------------------------------------------------
;;; Failures

(test refused-recipients
  "A 5xx refusal is an SMTP-PERMANENT-RECIPIENT-ERROR listing the refused
recipients; 4xx a transient one; nothing is delivered.  With
:partial-delivery t the others get the letter and a warning lists the
refused ones."
  (with-smtpd (d "--refuse" "bad@example.net=550 5.1.1 No such user"
                 "--refuse" "later@example.net=451 4.3.0 Try later")
    (let ((condition (handler-case
                         (send-letter (server d) *from*
                                      (list *to* "bad@example.net") "x")
                       (smtp-error (e) e))))
      (is (typep condition 'smtp-permanent-recipient-error))
      (is (typep condition 'smtp-permanent-error))
      (is (= 550 (smtp-error-code condition)))
      (is (string= "5.1.1" (smtp-error-enhanced-code condition)))
      (is (contains (smtp-error-reply condition) "No such user"))
      (is (contains (smtp-error-command condition) "bad@example.net"))
      (is (equal "bad@example.net"
                 (first (first (smtp-error-refused-recipients condition)))))
      (is (contains (princ-to-string condition) "No such user")))
    (let ((condition (handler-case
                         (send-letter (server d) *from* "later@example.net"
                                      "x")
                       (smtp-error (e) e))))
      (is (typep condition 'smtp-transient-recipient-error))
      (is (typep condition 'smtp-transient-error))
      (is (= 451 (smtp-error-code condition))))
    (is (null (letters d)))
    (let ((warning nil))
      (handler-bind ((smtp-recipients-refused
                       (lambda (w) (setf warning w) (muffle-warning w))))
        (send-letter (server d :partial-delivery t) *from*
                     (list *to* "bad@example.net") "partial"))
      (is (equal (list *to*) (json (the-letter d) "rcpt_tos")))
      (is (equal '("bad@example.net")
                 (mapcar #'first (smtp-error-refused-recipients warning)))))))

(test server-faults
  "Scripted faults: a refused greeting, a transient DATA refusal, a
refused message, a dropped connection after the message (outcome
unknown), a stalled server (timeout), nothing listening."
  (with-faultd (f "--at" "greeting" "--do" "reply" "--reply"
                  "554 5.3.2 go away")
    (let ((e (handler-case (send-letter (server f) *from* *to* "x")
               (smtp-error (e) e))))
      (is (typep e 'smtp-permanent-error))
      (is (= 554 (smtp-error-code e)))))
  (with-faultd (f "--at" "data" "--do" "reply" "--reply"
                  "451 4.3.0 local problem")
    (let ((e (handler-case (send-letter (server f) *from* *to* "x")
               (smtp-error (e) e))))
      (is (typep e 'smtp-transient-error))
      (is (not (typep e 'smtp-recipient-error)))
      (is (= 451 (smtp-error-code e)))
      (is (string= "DATA" (smtp-error-command e)))))
  (with-faultd (f "--at" "eod" "--do" "reply" "--reply"
                  "554 5.7.1 spam")
    (let ((e (handler-case (send-letter (server f) *from* *to* "x")
               (smtp-error (e) e))))
      (is (typep e 'smtp-permanent-error))
      (is (contains (smtp-error-reply e) "spam"))))
  (with-faultd (f "--at" "eod" "--do" "close")
    (let ((e (handler-case (send-letter (server f) *from* *to* "x")
               (smtp-error (e) e))))
      (is (typep e 'smtp-connection-error))
      (is (smtp-error-outcome-unknown e))))
  (with-faultd (f "--at" "mail" "--do" "stall")
    (let ((e (handler-case (send-letter (server f :timeout 1) *from* *to* "x")
               (smtp-error (e) e))))
      (is (typep e 'smtp-connection-error))
      (is (eq :etimeout (smtp-error-status e)))))
  (let ((port (with-faultd (f) (fixture-port f))))
    (signals smtp-connection-error
      (send-letter (format nil "127.0.0.1:~d" port) *from* *to* "x"))))

(test lisp-error-in-stream
  "A Lisp error inside a stream being sent is signalled again as itself
\(not wrapped), and the image keeps sending afterwards."
  (with-smtpd (d)
    (let ((condition (handler-case
                         (send-letter (server d) *from* *to*
                                      (make-instance 'failing-stream
                                                     :after 100000))
                       (error (e) e))))
      (is (typep condition 'test-stream-failure)))
    (signals test-stream-failure
      (send-smtp (server d) *from* *to* "Subject: x"
                 (make-instance 'failing-stream :after 10)))
    (signals test-stream-failure
      (send-letter (server d) *from* *to* "x"
                   :attachments (make-instance 'failing-stream :after 5)))
    (signals test-stream-failure
      (with-mime-part-constructed-stream
          (s (make-mime-part :file (make-instance 'failing-stream :after 5)))
        (send-smtp (server d) *from* *to* s)))
    (is (null (letters d)))
    (send-letter (server d) *from* *to* "still working")
    (is (= 1 (length (letters d))))))

(test input-failures
  "A file that disappears after MAKE-MIME-PART is an SMTP-FILE-ERROR at
send time, before any connection; a stream part declared 7bit with a
line too long for it is an SMTP-INPUT-ERROR."
  (with-faultd (f)
    (let* ((file (temp-file "vanishing.txt" "here now"))
           (part (make-mime-part :file file)))
      (delete-file file)
      (signals smtp-file-error
        (send-letter (server f) *from* *to* "x" :attachments part))
      (is (= 0 (connection-count f)))))
  (with-smtpd (d)
    (with-input-from-string (in (make-string 5000 :initial-element #\a))
      (let ((e (handler-case
                   (send-letter (server d) *from* *to*
                                (make-mime-part :file in
                                                :content-type "text/plain"
                                                :encoding "7bit"))
                 (smtp-error (e) e))))
        (is (typep e 'smtp-input-error))
        (is (eq :eline (smtp-error-status e)))))
    (is (null (letters d)))))

;;; ------------------------------------------------------------------
;;; *smtp-debug*

(test smtp-debug
  "*SMTP-DEBUG* prints the dialogue in Allegro's style; the password
and its base64 never appear."
  (with-smtpd (d "--auth" "optional" "--user" "joe" "--password"
                 "pa55word")
    (let ((output (debug-output
                    (send-letter (server d :auth-mechanism :plain) *from*
                                 *to* "x" :login "joe"
                                 :password "pa55word"))))
      (is (contains output (format nil "to smtp command: \"MAIL FROM:<~a>"
                                   *from*)))
      (is (contains output "to smtp command: \"RCPT TO:<"))
      (is (contains output (format nil "~%250")))
      (is (contains output (format nil "~%220")))
      (is (not (contains output "pa55word")))
      (is (not (contains output "cGE1NXdvcmQ")))       ; base64 of it
      (is (not (contains output "AGpvZQBwYTU1d29yZA"))) ; PLAIN blob
      (is (not (contains output "x-body-marker"))))
    (let ((*smtp-debug* nil))
      (is (string= "" (with-output-to-string (*standard-output*)
                        (send-letter (server d) *from* *to* "quiet")))))
    (let ((*smtp-debug* t))
      (is (contains (with-output-to-string (*standard-output*)
                      (send-letter (server d) *from* *to* "loud"))
                    "to smtp command:")))))

;;; ------------------------------------------------------------------
;;; Connections and threads

(test smtp-debug-failure
  "A *SMTP-DEBUG* stream that fails does not stop the letter: a warning
says so afterwards."
  (with-smtpd (d)
    (let ((closed (make-string-output-stream))
          (warned nil))
      (close closed)
      (handler-bind ((smtp-warning (lambda (w)
                                     (setf warned w)
                                     (muffle-warning w))))
        (let ((*smtp-debug* closed))
          (is (stringp (send-letter (server d) *from* *to* "x")))))
      (is (typep warned 'smtp-warning))
      (is (= 1 (length (letters d)))))))

(test with-smtp-connection
  "Several letters over one connection; the connection is closed when
the body is left, and cannot be used afterwards.  The server's final
reply to each letter, with its queue id, is in
SMTP-CONNECTION-LAST-REPLY and *SMTP-LAST-REPLY*."
  (with-smtpd (d)
    (let ((saved nil)
          (*smtp-last-reply* nil))
      (with-smtp-connection (c (server d))
        (setf saved c)
        (is (null (smtp-connection-last-reply c)))
        (dotimes (i 3)
          (send-letter c *from* *to* (format nil "letter ~d" i))
          (is (equal (format nil "250 2.0.0 OK: queued as ~4,'0d" (1+ i))
                     (smtp-connection-last-reply c)))
          (is (equal (smtp-connection-last-reply c) *smtp-last-reply*)))
        (is (eq t (send-smtp c *from* *to* (format nil "Subject: raw~%~%raw"))))
        (is (equal "250 2.0.0 OK: queued as 0004"
                   (smtp-connection-last-reply c))))
      (let ((peers (mapcar (lambda (l) (json l "peer")) (letters d))))
        (is (= 4 (length peers)))
        (is (= 1 (length (remove-duplicates peers :test #'equal)))))
      (signals smtp-argument-error
        (send-letter saved *from* *to* "closed")))
    (signals smtp-argument-error
      (with-smtp-connection (c '(:program . "cat"))
        c))))

(test connection-survives-errors
  "A refused recipient on a connection does not end it."
  (with-smtpd (d "--refuse" "bad@example.net=550 no")
    (with-smtp-connection (c (server d))
      (signals smtp-recipient-error
        (send-letter c *from* "bad@example.net" "x"))
      (send-letter c *from* *to* "after the error"))
    (is (= 1 (length (letters d))))))

(test threads
  "Several threads send at once, each with its own designator, and
through one shared connection."
  (with-smtpd (d)
    (let ((errors '())
          (lock (net.post-office::make-lock "test")))
      (flet ((worker (designator tag)
               (lambda ()
                 (handler-case
                     (dotimes (i 3)
                       (send-letter designator *from* *to*
                                    (format nil "~a ~d" tag i)))
                   (error (e)
                     (net.post-office::with-lock (lock)
                       (push e errors)))))))
        (mapc #'join
              (loop for i below 4
                    collect (spawn (worker (server d) i))))
        (with-smtp-connection (c (server d))
          (mapc #'join
                (loop for i below 3
                      collect (spawn (worker c (+ 10 i)))))))
      (is (null errors) "~{~a~^; ~}" errors)
      (is (= 21 (length (letters d)))))))

;;; ------------------------------------------------------------------
;;; The program transport

(test program-transport
  "(:program . \"shell command\") and (:program \"prog\" args...) get the
letter on standard input, with a Bcc: header."
  (let* ((dir (make-temp-dir "program"))
         (shell-out (native (merge-pathnames "shell.eml" dir)))
         (argv-out (native (merge-pathnames "argv.eml" dir))))
    (is (stringp (send-letter (cons :program (format nil "cat > '~a'"
                                                  shell-out))
                           *from* *to* "by shell" :bcc "hidden@example.net")))
    (send-letter (list :program "/bin/sh" "-c" "cat > \"$1\"" "sh" argv-out)
                 *from* *to* "by argv")
    (let ((shell (read-file-string shell-out))
          (argv (read-file-string argv-out)))
      (is (string= *to* (header shell "To")))
      (is (string= "hidden@example.net" (header shell "Bcc")))
      (is (contains (body shell) "by shell"))
      (is (contains (body argv) "by argv"))
      (is (null (header argv "Bcc"))))))

(test program-failures
  "A failing program signals SMTP-PROGRAM-ERROR with its exit status and
output; a missing one SMTP-PROGRAM-NOT-FOUND."
  (let ((e (handler-case
               (send-letter
                '(:program . "cat >/dev/null; echo oops >&2; exit 3")
                *from* *to* "x")
             (smtp-error (e) e))))
    (is (typep e 'smtp-program-error))
    (is (eql 3 (smtp-error-exit-status e)))
    (is (contains (smtp-error-stderr e) "oops"))
    (is (contains (princ-to-string e) "oops")))
  (let ((e (handler-case
               (send-letter '(:program "/no/such/program-here") *from* *to*
                            "x")
             (smtp-error (e) e))))
    (is (typep e 'smtp-program-not-found))))

;;; ------------------------------------------------------------------
;;; test-email-address

(test test-email-address
  "VRFY through TEST-EMAIL-ADDRESS (to *TEST-EMAIL-ADDRESS-SERVER*): 550
means NIL, other replies T, no server NIL; bad input per Allegro."
  (signals smtp-argument-error (test-email-address 42))
  (signals smtp-argument-error (test-email-address ""))
  (is (null (test-email-address "@example.org")))
  (is (null (test-email-address "user@")))
  (with-faultd (f "--vrfy" "nobody=550 5.1.1 unknown"
                  "--vrfy" "nobody@example.org=550 5.1.1 unknown"
                  "--vrfy" "half=550 5.1.1 unknown"
                  "--vrfy" "someone=252 2.1.5 cannot verify")
    (let ((*test-email-address-server* (server f)))
      (is (eq t (test-email-address "someone@example.org")))
      (is (eq t (test-email-address "other@example.org")))
      (is (eq t (test-email-address "half@example.org")))
      (is (null (test-email-address "nobody@example.org")))
      (is (eq t (test-email-address "root")))
      (let ((transcript (transcript f)))
        (is (contains transcript "VRFY half@example.org"))
        (is (contains transcript "VRFY root")))))
  (with-smtpd (d)
    (let ((*test-email-address-server* (server-string d)))
      (is (eq t (test-email-address "anyone@example.org")))))
  (let ((port (with-faultd (f) (fixture-port f))))
    (let ((*test-email-address-server* (list "127.0.0.1" :port port)))
      (is (null (test-email-address "x@example.org"))))))
