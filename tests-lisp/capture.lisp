;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; capture.lisp - what issue #5 added for users: WITH-CAPTURED-LETTERS
;;; and its readers (from this thread, other threads, nested and
;;; parallel captures), the MIME reader behind them and
;;; DECODE-HEADER-TEXT, the (:file . "dir/") transport, the restarts
;;; RETRY-SEND, CONTINUE-WITHOUT-REFUSED-RECIPIENTS and USE-MAIL-SERVER,
;;; the hints in condition reports, and the docstrings of the exports.

(in-package :net.post-office.tests)

(def-suite :smtp.capture :in :smtp
  :description "Captured letters, the file transport, restarts and
condition reports.")

(in-suite :smtp.capture)

(defparameter *cap-from* "sender@example.org"
  "The sender of the letters of this file.")

(defparameter *cap-nowhere* "127.0.0.1:1"
  "A mail server nothing listens on: a letter that reaches it fails.")

(defun cap-octets (&rest items)
  "An octet vector of ITEMS: strings (UTF-8), octet vectors, integers."
  (apply #'concatenate '(vector (unsigned-byte 8))
         (mapcar (lambda (item)
                   (etypecase item
                     (string (net.post-office::string-to-utf8 item))
                     (integer (vector item))
                     (vector item)))
                 items)))

(defun cap-search (needle octets)
  "True if the string NEEDLE (UTF-8) occurs in the OCTETS."
  (search (net.post-office::string-to-utf8 needle) octets))

(defun cap-all-octets ()
  "The 256 octet values, then the same again reversed, and CR, LF and a
lone CR (to catch any line-ending damage)."
  (cap-octets (coerce (loop for i below 256 collect i)
                     '(vector (unsigned-byte 8)))
             (coerce (loop for i from 255 downto 0 collect i)
                     '(vector (unsigned-byte 8)))
             13 10 13 65 10 10))

(defun cap-only (mailbox)
  "The only letter MAILBOX captured; fails the test unless there is
exactly one."
  (let ((letters (captured-letters mailbox)))
    (is (= 1 (length letters)) "expected one captured letter, got ~d"
        (length letters))
    (first letters)))

(defun cap-write-eml (octets)
  "Writes OCTETS to a fresh temporary file and returns its name."
  (write-file (merge-pathnames "letter.eml" (make-temp-dir "captured"))
              octets))

;;; ------------------------------------------------------------------
;;; WITH-CAPTURED-LETTERS: the basics

(test capture-basic
  "A captured letter goes nowhere (the server designator points at a
closed port); SEND-LETTER returns exactly one value, the Message-ID,
and sets *SMTP-LAST-REPLY* to NIL; the envelope has every recipient,
Bcc included; the octets have no Bcc."
  (with-captured-letters (box)
    (is (typep box 'capture-mailbox))
    (is (null (captured-letters box)))
    (destructuring-bind (message-id &rest more)
        (let ((*smtp-last-reply* :unset))
          (prog1 (multiple-value-list
                  (send-letter *cap-nowhere* "Sender <sender@example.org>"
                               '("a@example.net" "Bé <b@example.net>")
                               "Hello" :cc "c@example.net"
                               :bcc '("hidden@example.net"
                                      "Also Hidden <hidden2@example.net>")))
            (is (null *smtp-last-reply*))))
      (is (null more))
      (is (stringp message-id))
      (let ((letter (cap-only box)))
        (is (typep letter 'captured-letter))
        (is (string= "sender@example.org" (captured-letter-from letter)))
        (is (equal '("a@example.net" "b@example.net" "c@example.net"
                     "hidden@example.net" "hidden2@example.net")
                   (captured-letter-recipients letter)))
        (is (string= message-id (captured-letter-message-id letter)))
        (is (string= message-id (captured-letter-header letter
                                                        "Message-ID")))
        (let ((octets (captured-letter-octets letter)))
          (is (typep octets '(vector (unsigned-byte 8))))
          (is (not (cap-search "hidden" octets)))
          (is (not (cap-search "Bcc" octets)))
          ;; CRLF only, no bare LF
          (is (loop for i from 0 below (length octets)
                    always (or (/= 10 (aref octets i))
                               (and (plusp i)
                                    (= 13 (aref octets (1- i))))))))
        (is (null (captured-letter-header letter "Bcc")))
        (is (string= "Hello" (captured-letter-text letter)))
        (is (null (captured-letter-attachments letter)))
        (is (search "captured-letter" (princ-to-string letter)
                    :test #'char-equal))))))

(test capture-octets-are-the-wire-form
  "The captured octets are exactly what an SMTP server receives (same
Date and Message-ID given, a single part so no random boundary)."
  (let ((arguments (list *cap-from* '("rcpt@example.net")
                         (format nil "Line one~%.~%Ünïcödé line~%")
                         :subject (concatenate
                                   'string "Grüße, a subject long enough to "
                                   "be folded by the library at least once "
                                   "or twice ✓")
                         :cc "Çé <cc@example.net>"
                         :bcc "secret@example.net"
                         :headers '("Date: Mon, 1 Jan 2024 10:00:00 +0000"
                                    "Message-ID: <fixed@example.org>"
                                    "X-Test: yes"))))
    (with-smtpd (d)
      (apply #'send-letter (server d) arguments)
      (let ((wire (read-file-octets (letter-file (the-letter d)))))
        (with-captured-letters (box)
          (apply #'send-letter (server d) arguments)
          (let ((letter (cap-only box)))
            (is (equalp wire (captured-letter-octets letter)))
            (is (string= "<fixed@example.org>"
                         (captured-letter-message-id letter)))))
        ;; nothing more reached the server
        (is (= 1 (length (letters d))))))))

(test capture-decoded-headers
  "Header values come back unfolded and RFC 2047-decoded; names are
case-insensitive; absent ones are NIL."
  (let ((subject (concatenate 'string "Grüße aus Köln: ein sehr langer "
                              "Betreff, der gefaltet werden muss, ganz "
                              "sicher ✓ 🎉 — and some ASCII words after it")))
    (with-captured-letters (box)
      (send-letter *cap-nowhere* "Jörg Müller <joerg@example.com>"
                   '("Zoë Ångström <zoe@example.net>" "plain@example.net")
                   "x" :subject subject :reply-to "Ré <re@example.org>"
                   :headers "X-Note: café au lait")
      (let ((letter (cap-only box)))
        (is (string= subject (captured-letter-header letter "Subject")))
        (is (string= subject (captured-letter-header letter "SUBJECT")))
        (is (string= "Jörg Müller <joerg@example.com>"
                     (captured-letter-header letter "from")))
        (is (string= "Zoë Ångström <zoe@example.net>, plain@example.net"
                     (captured-letter-header letter "To")))
        (is (string= "Ré <re@example.org>"
                     (captured-letter-header letter "Reply-To")))
        (is (string= "café au lait" (captured-letter-header letter
                                                             "X-Note")))
        (is (null (captured-letter-header letter "X-Absent")))
        (is (string= "1.0" (captured-letter-header letter "MIME-Version")))
        ;; the raw octets have no 8-bit header text and no long line
        (let ((octets (captured-letter-octets letter)))
          (is (not (cap-search "ö" octets)))
          (is (not (cap-search "Ångström" octets))))
        (let ((headers (captured-letter-headers letter)))
          (is (equal '("From" "To" "Subject" "Reply-To")
                     (mapcar #'car (subseq headers 0 4))))
          (is (string= subject (cdr (assoc "Subject" headers
                                           :test #'string=)))))))))

(test capture-text-encodings
  "CAPTURED-LETTER-TEXT undoes every transfer encoding and charset the
library chooses: 7bit, base64 (non-ASCII), quoted-printable (a lone dot,
a long line), ISO-8859-1; CRLF comes back as #\\Newline."
  (let* ((long (make-string 1500 :initial-element #\a))
         (texts (list (format nil "plain ASCII~%two lines")
                      (format nil "Ünïcödé ✓~%🎉 line two~%")
                      (format nil "a~%.~%lone dot above~%")
                      (format nil "~a~%short" long)
                      (format nil "trailing tab	~%and space ~%"))))
    (with-captured-letters (box)
      (dolist (text texts)
        (send-letter *cap-nowhere* *cap-from* "r@example.net" text))
      (send-letter *cap-nowhere* *cap-from* "r@example.net"
                   (make-mime-part :text "Grüße Ä" :external-format :latin1))
      (let ((letters (captured-letters box)))
        (is (= 6 (length letters)))
        (loop for text in texts
              for letter in letters
              do (is (string= text (captured-letter-text letter))))
        (let ((latin (sixth letters)))
          (is (search "iso-8859-1" (captured-letter-header latin
                                                           "Content-Type")))
          (is (string= "Grüße Ä" (captured-letter-text latin))))
        ;; the encodings really differ
        (flet ((encoding (letter)
                 (captured-letter-header letter
                                         "Content-Transfer-Encoding")))
          (is (string= "7bit" (encoding (first letters))))
          (is (string= "base64" (encoding (second letters))))
          (is (string= "quoted-printable" (encoding (third letters))))
          (is (string= "quoted-printable" (encoding (fourth letters)))))))))

(test capture-attachments
  "Attachments come back byte for byte with their names (non-ASCII and
long: RFC 2231 continuations) and types: octets, a file, a text file,
and a CRLF-sensitive binary."
  (let* ((dir (make-temp-dir "attach"))
         (binary (cap-all-octets))
         (long-name (concatenate 'string "Überweisung März 2024 – sehr "
                                 "langer Dateiname für den Test, mit "
                                 "Komma; und Semikolon.bin"))
         (text-file (write-file (merge-pathnames "notes.txt" dir)
                                (format nil "line 1~%line 2 ✓~%")))
         (pdf-file (write-file (merge-pathnames "report.pdf" dir)
                               (cap-octets "%PDF-1.4" 13 10 0 255))))
    (with-captured-letters (box)
      (send-letter *cap-nowhere* *cap-from* "r@example.net"
                   (format nil "See the attachments.~%")
                   :attachments
                   (list (make-mime-part :text binary :name long-name
                                         :attachmentp t)
                         text-file
                         (pathname pdf-file)
                         (make-mime-part :text binary :name "日本語.dat"
                                         :content-type "image/png"
                                         :attachmentp t)))
      (let* ((letter (cap-only box))
             (attachments (captured-letter-attachments letter)))
        (is (string= (format nil "See the attachments.~%")
                     (captured-letter-text letter)))
        (is (= 4 (length attachments)))
        (destructuring-bind (one two three four) attachments
          (is (string= long-name (first one)))
          (is (string= "application/octet-stream" (second one)))
          (is (equalp binary (third one)))
          (is (string= "notes.txt" (first two)))
          (is (string= "text/plain" (second two)))
          (is (equalp (read-file-octets text-file) (third two)))
          (is (string= "report.pdf" (first three)))
          (is (string= "application/pdf" (second three)))
          (is (equalp (read-file-octets pdf-file) (third three)))
          (is (string= "日本語.dat" (first four)))
          (is (string= "image/png" (second four)))
          (is (equalp binary (third four))))
        ;; Python's email package reads the same
        (let ((python (python-read (cap-write-eml
                                    (captured-letter-octets letter)))))
          (is (string= long-name (jget python "parts" 1 "filename")))
          (is (string= "日本語.dat" (jget python "parts" 4 "filename")))
          (is (= (length binary) (jget python "parts" 1 "size"))))))))

(test capture-alternative-and-inline-image
  "A multipart/alternative letter with a related inline image: the text
and the HTML parts, and the image (made from octets, with a Content-ID
and no name) among the attachments."
  (let ((png (cap-octets 137 "PNG" 13 10 26 10 0 0 0 13 "IHDR" 255 0)))
    (with-captured-letters (box)
      (send-letter
       *cap-nowhere* *cap-from* "r@example.net"
       (make-mime-part
        :content-type "multipart/alternative"
        :subparts
        (list (make-mime-part :text (format nil "Plain ✓~%"))
              (make-mime-part
               :content-type "multipart/related"
               :subparts
               (list (make-mime-part
                      :content-type "text/html"
                      :text "<p>Hi <img src=\"cid:logo@x\"></p>")
                     (make-mime-part :content-type "image/png" :text png
                                     :id "logo@x")))))
       :subject "Alternative")
      (let ((letter (cap-only box)))
        (is (search "multipart/alternative"
                    (captured-letter-header letter "Content-Type")))
        (is (string= (format nil "Plain ✓~%") (captured-letter-text letter)))
        (is (string= "<p>Hi <img src=\"cid:logo@x\"></p>"
                     (captured-letter-html letter)))
        (is (= 1 (length (captured-letter-attachments letter))))
        (is (equal '(nil "image/png")
                   (subseq (first (captured-letter-attachments letter))
                           0 2)))
        (is (equalp png (third (first (captured-letter-attachments
                                       letter)))))))))

(test capture-send-smtp
  "SEND-SMTP and SEND-SMTP-AUTH letters are captured as they are (line
endings made CRLF), from strings, octets and streams."
  (with-captured-letters (box)
    ;; one value: T when the letter has no Message-ID
    (is (equal '(t)
               (multiple-value-list
                (send-smtp *cap-nowhere* *cap-from*
                           '("a@example.net" "b@example.net")
                           (format nil "Subject: raw one~%X-Id: 1~%~%")
                           (ascii (format nil "body~%"))))))
    ;; its Message-ID when it has one, from a stream too
    (with-input-from-string (in (format nil "Subject: =?utf-8?q?r=C3=A4w?=~%~
Message-ID: <raw@example.org>~%~%two~%"))
      (is (equal '("<raw@example.org>")
                 (multiple-value-list
                  (send-smtp-auth *cap-nowhere* *cap-from* "c@example.net"
                                  "user" "pw" in)))))
    (destructuring-bind (one two) (captured-letters box)
      (is (equal '("a@example.net" "b@example.net")
                 (captured-letter-recipients one)))
      (is (equalp (cap-octets "Subject: raw one" 13 10 "X-Id: 1" 13 10 13 10
                              "body" 13 10)
                  (captured-letter-octets one)))
      (is (string= "raw one" (captured-letter-header one "subject")))
      (is (null (captured-letter-message-id one)))
      (is (string= (format nil "body~%") (captured-letter-text one)))
      (is (string= "räw" (captured-letter-header two "Subject")))
      (is (string= "<raw@example.org>" (captured-letter-message-id two)))
      (is (equal '("c@example.net") (captured-letter-recipients two))))))

(test capture-transports-untouched
  "Inside a capture nothing is delivered: not through a connection of
WITH-SMTP-CONNECTION (none is even opened), not to a program (it does
not run), not into a (:file ...) directory."
  (let* ((dir (make-temp-dir "untouched"))
         (marker (merge-pathnames "ran" dir))
         (files (merge-pathnames "files/" dir)))
    (with-captured-letters (box)
      (with-smtp-connection (connection *cap-nowhere*)
        (send-letter connection *cap-from* "a@example.net" "one")
        (send-smtp connection *cap-from* "a@example.net"
                   (format nil "Subject: two~%~%two~%")))
      (send-letter (list :program "touch" (native marker))
                   *cap-from* "a@example.net" "three" :bcc "b@example.net")
      (send-letter (cons :file (native files)) *cap-from* "a@example.net"
                   "four")
      (is (= 4 (length (captured-letters box))))
      ;; the program transport would have added a Bcc header: not here
      (let ((three (third (captured-letters box))))
        (is (equal '("a@example.net" "b@example.net")
                   (captured-letter-recipients three)))
        (is (not (cap-search "Bcc" (captured-letter-octets three))))))
    (is (null (probe-file marker)))
    (is (null (probe-file files)))))

(test capture-argument-errors
  "Inside a capture, bad arguments signal the errors a real send
signals, and nothing is captured."
  (with-captured-letters (box)
    (signals smtp-argument-error
      (send-letter *cap-nowhere* *cap-from* "not an address" "x"))
    (signals smtp-argument-error
      (send-letter *cap-nowhere* *cap-from* "a@example.net" "x"
                   :subject (format nil "two~%lines")))
    (signals smtp-argument-error
      (send-letter '("h" :bogus 1) *cap-from* "a@example.net" "x"))
    (signals smtp-file-error
      (send-letter *cap-nowhere* *cap-from* "a@example.net" "x"
                   :attachments "/nonexistent/file.txt"))
    (signals smtp-argument-error
      (send-smtp '(:program "cat") *cap-from* "a@example.net" "x"))
    (signals smtp-argument-error
      (send-letter '(:file) *cap-from* "a@example.net" "x"))
    (is (null (captured-letters box)))))

;;; ------------------------------------------------------------------
;;; Threads and nesting

(test capture-other-threads
  "Letters sent from other threads are captured; CAPTURED-LETTERS works
inside the body; the letters are in the order their sends finished."
  (with-captured-letters (box)
    (let ((threads (loop for i from 1 to 6
                         collect (let ((i i))
                                   (spawn (lambda ()
                                            (send-letter
                                             *cap-nowhere* *cap-from*
                                             "a@example.net"
                                             (format nil "from thread ~d" i)
                                             :subject (format nil "T~d"
                                                              i))))))))
      (mapc #'join threads)
      (send-letter *cap-nowhere* *cap-from* "a@example.net" "from main"
                   :subject "main")
      (let ((letters (captured-letters box)))
        (is (= 7 (length letters)))
        (is (equal '("T1" "T2" "T3" "T4" "T5" "T6")
                   (sort (mapcar (lambda (letter)
                                   (captured-letter-header letter "Subject"))
                                 (butlast letters))
                         #'string<)))
        (is (string= "main" (captured-letter-header (seventh letters)
                                                    "Subject")))))))

(test capture-nested
  "Nested captures: the innermost gets the letters sent while it is
active, the outer one the others.  After the extent, the mailbox is
still readable and letters go to the server again."
  (with-smtpd (d)
    (let (outer-box inner-box)
      (with-captured-letters (outer)
        (setf outer-box outer)
        (send-letter (server d) *cap-from* "a@example.net" "1"
                     :subject "outer 1")
        (with-captured-letters (inner)
          (setf inner-box inner)
          (send-letter (server d) *cap-from* "a@example.net" "2"
                       :subject "inner")
          ;; a worker thread of the inner capture's thread
          (join (spawn (lambda ()
                         (send-letter (server d) *cap-from*
                                      "a@example.net" "3"
                                      :subject "inner thread")))))
        (send-letter (server d) *cap-from* "a@example.net" "4"
                     :subject "outer 2"))
      (flet ((subjects (box)
               (mapcar (lambda (letter)
                         (captured-letter-header letter "Subject"))
                       (captured-letters box))))
        (is (equal '("outer 1" "outer 2") (subjects outer-box)))
        (is (equal '("inner" "inner thread") (subjects inner-box))))
      (is (null (letters d)))
      (send-letter (server d) *cap-from* "a@example.net" "5")
      (is (= 1 (length (letters d))))
      (is (= 2 (length (captured-letters outer-box)))))))

(test capture-parallel-threads
  "Captures running at once in two threads each see their own letters."
  (let ((results (make-array 2 :initial-element nil)))
    (flet ((worker (index)
             (lambda ()
               (with-captured-letters (box)
                 (dotimes (i 5)
                   (send-letter *cap-nowhere* *cap-from* "a@example.net"
                                "x" :subject (format nil "~d-~d" index i))
                   (sleep 0.01))
                 (setf (aref results index)
                       (mapcar (lambda (letter)
                                 (captured-letter-header letter "Subject"))
                               (captured-letters box)))))))
      (mapc #'join (list (spawn (worker 0)) (spawn (worker 1)))))
    (is (equal '("0-0" "0-1" "0-2" "0-3" "0-4") (aref results 0)))
    (is (equal '("1-0" "1-1" "1-2" "1-3" "1-4") (aref results 1)))))

;;; ------------------------------------------------------------------
;;; The MIME reader and DECODE-HEADER-TEXT

(test decode-header-text-rfc2047
  "DECODE-HEADER-TEXT: RFC 2047's own examples, Q and B, several
charsets, words split inside a character, unknown charsets and
malformed words left alone, plain text unchanged."
  (flet ((check (expected text)
           (is (string= expected (decode-header-text text))
               "~s decoded to ~s, not ~s" text (decode-header-text text)
               expected)))
    ;; RFC 2047 section 8
    (check "(a)" "(=?ISO-8859-1?Q?a?=)")
    (check "(a b)" "(=?ISO-8859-1?Q?a?= b)")
    (check "(ab)" "(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)")
    (check "(ab)" "(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)")
    (check "(ab)" (format nil "(=?ISO-8859-1?Q?a?=~c~c    =?ISO-8859-1?Q?b?=)"
                          #\Return #\Newline))
    (check "(a b)" "(=?ISO-8859-1?Q?a_b?=)")
    (check "(a b)" "(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)")
    (check "Keith Moore <moore@cs.utk.edu>"
           "=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>")
    (check "Keld Jørn Simonsen <keld@dkuug.dk>"
           "=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>")
    (check "André Pirard <PIRARD@vm1.ulg.ac.be>"
           "=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>")
    (check "If you can read this you understand the example."
           "=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=
    =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=")
    ;; UTF-8, lower case, B and Q, a character split between two words
    (check "Grüße ✓" "=?utf-8?b?R3LDvMOfZSDinJM=?=")
    (check "Grüße" "=?utf-8?q?Gr=C3=BC=C3?= =?utf-8?q?=9Fe?=")
    (check "€ café" "=?windows-1252?q?=80_caf=E9?=")
    (check "Grüße" "=?utf-8*de?q?Gr=C3=BC=C3=9Fe?=")
    ;; left alone
    (check "=?x-unknown-charset?q?abc?= x" "=?x-unknown-charset?q?abc?= x")
    (check "=?utf-8?x?abc?=" "=?utf-8?x?abc?=")
    (check "=?utf-8?q?a b?=" "=?utf-8?q?a b?=")
    (check "plain text, ümlauts kept" "plain text, ümlauts kept")
    (check "a =? b ?= c" "a =? b ?= c")
    (check "" "")
    ;; a NUL cannot reach a header: U+FFFD, never an error
    (check (format nil "a ~c" (code-char #xFFFD))
           (format nil "=?utf-8?q?a?= ~c" (code-char 0))))
  (signals type-error (decode-header-text nil)))

(test capture-mime-reader
  "The MIME reader behind the captured letters (the C library's):
quoted-printable and base64 bodies, RFC 2231 parameters with
continuations and charsets, multipart bodies with a preamble and an
epilogue, and the problems it notes in input it cannot read as it
should (never an error)."
  (flet ((parse (&rest items)
           (net.post-office::parse-entity (apply #'cap-octets items))))
    (let ((entity (parse "Content-Transfer-Encoding: Quoted-Printable"
                         13 10 13 10
                         "a=3Db  " 13 10 "soft =" 13 10 "line" 13 10
                         "tab=09end")))
      (is (equalp (cap-octets "a=b" 13 10 "soft line" 13 10 "tab" 9 "end")
                  (net.post-office::entity-body entity)))
      (is (string= "quoted-printable"
                   (net.post-office::entity-encoding entity))))
    (let ((entity (parse "Content-Type: application/octet-stream" 13 10
                         "Content-Transfer-Encoding: base64" 13 10 13 10
                         "AP9" 13 10 "4")))
      (is (equalp (cap-octets 0 255 "x")
                  (net.post-office::entity-body entity)))
      (is (null (net.post-office::entity-text entity)))
      (is (net.post-office::entity-attachment entity)))
    (let ((entity (parse "Content-Type: application/octet-stream" 13 10
                         "Content-Disposition: Attachment; "
                         "filename*0*=utf-8''%C3%9Cber; "
                         "filename*1*=%20M%C3%A4rz;" 13 10
                         " filename*2=\" plain.txt\"; "
                         "filename=\"fallback.txt\"; size=3" 13 10 13 10
                         "x")))
      (is (string= "attachment" (net.post-office::entity-disposition
                                 entity)))
      (is (string= "Über März plain.txt"
                   (net.post-office::entity-filename entity))))
    (let ((entity (parse "Content-Type: text/plain; charset=\"iso-8859-1\"; "
                         "name*=iso-8859-1'de'%E4.txt" 13 10 13 10
                         "Gr" #xfc #xdf "e")))
      (is (string= "iso-8859-1" (net.post-office::entity-charset entity)))
      (is (string= "ä.txt" (net.post-office::entity-filename entity)))
      (is (string= "Grüße" (net.post-office::entity-string entity))))
    (let* ((entity (parse "Content-Type: multipart/mixed; boundary=\"b\""
                          13 10 13 10
                          "preamble --b not a delimiter" 13 10
                          "--b" 13 10
                          "Content-Type: text/plain" 13 10 13 10
                          "one" 13 10 13 10
                          "--b   " 13 10
                          13 10 "two" 13 10
                          "--b--" 13 10
                          "epilogue" 13 10))
           (parts (net.post-office::entity-parts entity)))
      (is (= 2 (length parts)))
      (is (equal (format nil "one~%")
                 (net.post-office::entity-string (first parts))))
      (is (equal "two" (net.post-office::entity-string (second parts))))
      (is (null (net.post-office::entity-problems entity))))
    ;; what cannot be read as it should is noted, and read all the same
    (let ((entity (parse "Content-Type: text/plain; charset=x-unknown" 13 10
                         13 10 "caf" #xc3 #xa9)))
      (is (string= "café" (net.post-office::entity-string entity)))
      (is (search "unknown charset \"x-unknown\""
                  (first (net.post-office::entity-problems entity)))))
    (let* ((entity (parse "Content-Type: multipart/mixed; boundary=b" 13 10
                          13 10 "--b" 13 10 13 10 "cut short")))
      (is (equal "cut short" (net.post-office::entity-string
                              (first (net.post-office::entity-parts
                                      entity)))))
      (is (search "closing boundary is missing"
                  (first (net.post-office::entity-problems entity)))))))

;;; ------------------------------------------------------------------
;;; The file transport

(defun cap-letter-files (dir type)
  "The files of type TYPE in DIR, sorted by name."
  (sort (mapcar #'native (directory (merge-pathnames
                                     (make-pathname :name :wild :type type)
                                     dir)))
        #'string<))

(test file-transport
  "(:file . \"dir/\") writes NAME.eml (the wire octets) and
NAME.envelope, creating the directory; names are unique and sort in
send order; SEND-LETTER returns the Message-ID and sets
*SMTP-LAST-REPLY* to the .eml file's name; no temporary file stays."
  (let* ((root (make-temp-dir "file-transport"))
         (dir (merge-pathnames "new/sub/" root))
         (designator (cons :file (native dir))))
    (is (null (probe-file dir)))
    (multiple-value-bind (message-id eml)
        (let ((*smtp-last-reply* nil))
          (values (send-letter designator *cap-from* '("a@example.net")
                               (format nil "One ✓~%") :subject "one"
                               :bcc "hidden@example.net"
                               :headers
                               '("Date: Mon, 1 Jan 2024 10:00:00 +0000"))
                  *smtp-last-reply*))
      (is (stringp message-id))
      (is (probe-file eml))
      (let ((octets (read-file-octets eml)))
        (is (not (cap-search "hidden" octets)))
        ;; the same octets as a capture of the same letter
        (with-captured-letters (box)
          (send-letter *cap-nowhere* *cap-from* '("a@example.net")
                       (format nil "One ✓~%") :subject "one"
                       :bcc "hidden@example.net"
                       :headers (list (format nil "Message-ID: ~a"
                                              message-id)
                                      "Date: Mon, 1 Jan 2024 10:00:00 +0000"))
          (is (equalp octets (captured-letter-octets
                              (cap-only box))))))
      (is (string= (format nil "MAIL FROM:<sender@example.org>~%~
RCPT TO:<a@example.net>~%RCPT TO:<hidden@example.net>~%")
                   (read-file-string (make-pathname :type "envelope"
                                                    :defaults eml)))))
    (send-smtp designator *cap-from* "b@example.net"
               (format nil "Subject: two~%~%two~%"))
    (with-smtp-connection (connection (list :file (native dir)))
      (send-letter connection *cap-from* "c@example.net" "three"
                   :subject "three"))
    (let ((emls (cap-letter-files dir "eml"))
          (envelopes (cap-letter-files dir "envelope")))
      (is (= 3 (length emls)))
      (is (= 3 (length (remove-duplicates emls :test #'string=))))
      (is (equal (mapcar (lambda (name)
                           (subseq name 0 (- (length name) 4)))
                         emls)
                 (mapcar (lambda (name)
                           (subseq name 0 (- (length name) 9)))
                         envelopes)))
      (is (equal '("one" "two" "three")
                 (mapcar (lambda (file)
                           (header (read-file-string file) "Subject"))
                         emls)))
      (is (string= (format nil "MAIL FROM:<sender@example.org>~%~
RCPT TO:<b@example.net>~%")
                   (read-file-string (second envelopes)))))
    ;; no temporary files left
    (is (= 6 (length (directory (merge-pathnames
                                 (make-pathname :name :wild :type :wild)
                                 dir)))))
    (is (null (remove-if-not (lambda (file)
                               (let ((name (file-namestring file)))
                                 (and (plusp (length name))
                                      (char= #\. (char name 0)))))
                             (directory (merge-pathnames "*.*" dir)))))))

(test file-transport-errors
  "A directory that cannot be made signals an SMTP-ERROR naming it,
with RETRY-SEND offered; bad designators are argument errors."
  (let* ((root (make-temp-dir "file-errors"))
         (blocker (write-file (merge-pathnames "blocker" root) "x")))
    (let ((condition (handler-case
                         (send-letter (cons :file (format nil "~a/sub/"
                                                          blocker))
                                      *cap-from* "a@example.net" "x")
                       (smtp-error (e) e))))
      (is (typep condition 'smtp-error))
      (is (not (typep condition 'smtp-argument-error)))
      (is (contains (princ-to-string condition) "blocker")))
    (let ((restarts nil))
      (handler-case
          (handler-bind ((smtp-error
                           (lambda (e)
                             (setf restarts
                                   (mapcar #'restart-name
                                           (compute-restarts e))))))
            (send-letter (cons :file (format nil "~a/sub/" blocker))
                         *cap-from* "a@example.net" "x"))
        (smtp-error () nil))
      (is (member 'retry-send restarts))
      (is (member 'use-mail-server restarts)))
    (dolist (designator (list '(:file) '(:file . "") '(:file 1)
                              '(:file "a" "b")))
      (signals smtp-argument-error
        (send-letter designator *cap-from* "a@example.net" "x")))))

;;; ------------------------------------------------------------------
;;; Restarts

(defun cap-restart-names (condition)
  "The names of the restarts active for CONDITION."
  (mapcar #'restart-name (compute-restarts condition)))

(test restart-retry-send
  "RETRY-SEND, invoked from HANDLER-BIND, sends the letter again on a
fresh connection after a temporary refusal."
  (with-faultd (f "--at" "mail" "--do" "reply" "--reply" "451 4.3.0 Later"
                  "--conn" "1")
    (let ((seen '())
          (*smtp-last-reply* nil))
      (let ((message-id
              (handler-bind ((smtp-transient-error
                               (lambda (e)
                                 (push (cap-restart-names e) seen)
                                 (invoke-restart 'retry-send))))
                (send-letter (server f) *cap-from* "a@example.net" "x"))))
        (is (stringp message-id))
        (is (contains *smtp-last-reply* "250")))
      (is (= 1 (length seen)))
      (is (member 'retry-send (first seen)))
      (is (member 'use-mail-server (first seen)))
      (is (not (member 'continue-without-refused-recipients (first seen))))
      (is (= 2 (connection-count f))))))

(test restart-retry-send-function
  "The function RETRY-SEND works as a handler, and returns NIL where the
restart is not offered (a 5yz refusal: it would only come again)."
  (with-faultd (f "--at" "mail" "--do" "reply" "--reply" "421 4.3.2 Busy"
                  "--conn" "1" "--at" "mail" "--do" "reply" "--reply"
                  "452 4.3.1 Full" "--conn" "2")
    (is (eq t (handler-bind ((smtp-transient-error #'retry-send))
                (send-smtp (server f) *cap-from* "a@example.net"
                           (format nil "Subject: s~%~%x~%")))))
    (is (= 3 (connection-count f))))
  (with-faultd (f "--at" "mail" "--do" "reply" "--reply" "550 5.7.1 No")
    (let ((returned :unset))
      (signals smtp-permanent-error
        (handler-bind ((smtp-permanent-error
                         (lambda (e)
                           (setf returned (retry-send e)))))
          (send-letter (server f) *cap-from* "a@example.net" "x")))
      (is (null returned)))))

(test restart-continue-without-refused-recipients
  "CONTINUE-WITHOUT-REFUSED-RECIPIENTS sends to the others, refusal
after refusal; the refused ones leave the envelope and the headers.  It
is not offered when no recipient would remain."
  (with-smtpd (d "--refuse" "bad1@example.net=550 5.1.1 No such user"
                 "--refuse" "bad2@example.net=550 5.1.1 Nobody")
    (let ((refusals '()))
      (handler-bind ((smtp-recipient-error
                       (lambda (e)
                         (push (mapcar #'first
                                       (smtp-error-refused-recipients e))
                               refusals)
                         (is (member 'continue-without-refused-recipients
                                     (cap-restart-names e)))
                         (is (not (member 'retry-send (cap-restart-names e))))
                         (invoke-restart
                          'continue-without-refused-recipients))))
        (is (stringp (send-letter (server d) *cap-from*
                               '("Bad One <bad1@example.net>"
                                 "good@example.net")
                               "x" :cc "bad2@example.net"
                               :bcc "good2@example.net"))))
      (is (equal '(("bad1@example.net") ("bad2@example.net"))
                 (reverse refusals)))
      (let ((letter (the-letter d)))
        (is (equal '("good@example.net" "good2@example.net")
                   (json letter "rcpt_tos")))
        (is (string= "good@example.net" (header letter "To")))
        (is (null (header letter "Cc")))))
    ;; send-smtp too
    (is (eq t (handler-bind ((smtp-recipient-error
                               #'continue-without-refused-recipients))
                (send-smtp (server d) *cap-from*
                           '("bad1@example.net" "ok@example.net")
                           (format nil "Subject: raw~%~%x~%")))))
    (is (equal '("ok@example.net")
               (json (second (letters d)) "rcpt_tos")))
    ;; only refused recipients: not offered
    (let ((offered :unset))
      (signals smtp-recipient-error
        (handler-bind ((smtp-recipient-error
                         (lambda (e)
                           (setf offered
                                 (find-restart
                                  'continue-without-refused-recipients e)))))
          (send-letter (server d) *cap-from* "bad1@example.net" "x")))
      (is (null offered)))))

(test restart-use-mail-server
  "USE-MAIL-SERVER sends through another server: after a connection
failure, after a malformed designator, and interactively (the
designator is read and evaluated from *QUERY-IO*)."
  (with-smtpd (d)
    (handler-bind ((smtp-connection-error
                     (lambda (e)
                       (declare (ignore e))
                       (use-mail-server (server d)))))
      (is (stringp (send-letter *cap-nowhere* *cap-from* "a@example.net"
                                "one"))))
    (handler-bind ((smtp-argument-error
                     (lambda (e)
                       (is (member 'use-mail-server (cap-restart-names e)))
                       (is (not (member 'retry-send (cap-restart-names e))))
                       (invoke-restart 'use-mail-server (server d)))))
      (is (eq t (send-smtp '("127.0.0.1" :prot 25) *cap-from*
                           "a@example.net"
                           (format nil "Subject: two~%~%x~%")))))
    (let ((*query-io* (make-two-way-stream
                       (make-string-input-stream
                        (format nil "(list \"127.0.0.1\" :port ~d)~%"
                                (fixture-port d)))
                       (make-broadcast-stream))))
      (handler-bind ((smtp-connection-error
                       (lambda (e)
                         (invoke-restart-interactively
                          (find-restart 'use-mail-server e)))))
        (is (stringp (send-letter *cap-nowhere* *cap-from* "a@example.net"
                                  "three")))))
    (is (= 3 (length (letters d))))
    ;; argument errors about the letter itself: no restart
    (let ((names :unset))
      (signals smtp-argument-error
        (handler-bind ((smtp-argument-error
                         (lambda (e) (setf names (cap-restart-names e)))))
          (send-letter (server d) *cap-from* "bad address" "x")))
      (is (not (intersection names '(retry-send use-mail-server
                                     continue-without-refused-recipients)))))))

(test restart-unused-changes-nothing
  "Unused, the restarts change nothing: HANDLER-CASE sees the same
condition classes; a letter that reads a stream gets no restart (it
cannot be read twice); the restarts are gone after the send; the
functions return NIL outside a send; none is offered while C runs."
  (is (typep (handler-case (send-letter *cap-nowhere* *cap-from*
                                        "a@example.net" "x")
               (error (e) e))
             'smtp-connection-error))
  (is (typep (handler-case (send-letter *cap-nowhere* *cap-from*
                                        "a@example.net" "x")
               (simple-error (e) e))
             'smtp-connection-error))
  (with-input-from-string (in "streamed")
    (let ((names :unset))
      (signals smtp-connection-error
        (handler-bind ((smtp-error (lambda (e)
                                     (setf names (cap-restart-names e)))))
          (send-letter *cap-nowhere* *cap-from* "a@example.net" in)))
      (is (not (intersection names '(retry-send use-mail-server
                                     continue-without-refused-recipients))))))
  (is (null (find-restart 'retry-send)))
  (is (null (retry-send)))
  (is (null (continue-without-refused-recipients)))
  (is (null (use-mail-server "localhost")))
  (let ((hidden :unset))
    (signals smtp-connection-error
      (handler-bind ((smtp-error
                       (lambda (e)
                         (let ((net.post-office::*inside-foreign-call* t))
                           (setf hidden (find-restart 'retry-send e))))))
        (send-letter *cap-nowhere* *cap-from* "a@example.net" "x")))
    (is (null hidden))))

;;; ------------------------------------------------------------------
;;; Condition reports

(defun cap-report (function)
  "The report of the SMTP-ERROR FUNCTION signals, or NIL."
  (handler-case (progn (funcall function) nil)
    (smtp-error (e) (princ-to-string e))))

(defun cap-contains-all (report &rest parts)
  "Checks that REPORT contains each of PARTS."
  (is (stringp report))
  (dolist (part parts)
    (is (contains report part) "~s is not in the report:~%~a" part report)))

(test capture-report-hints
  "Reports say what happened, what the server said and what to try:
TLS mix-ups, certificates, STARTTLS, 530, timeouts, connection refused
on port 25, refused recipients."
  ;; :ssl against a plain server: WRONG_VERSION_NUMBER
  (with-smtpd (d)
    (cap-contains-all (cap-report (lambda ()
                               (send-letter (server d :ssl t) *cap-from*
                                            "a@example.net" "x")))
                  "wrong version number" ":ssl" ":starttls" "465" "587"))
  ;; a self-signed certificate
  (with-smtpd (d "--tls" "implicit" "--cert" (cert "selfsigned.pem")
                 "--key" (cert "selfsigned.key"))
    (cap-contains-all (cap-report (lambda ()
                               (send-letter (server d :ssl t) *cap-from*
                                            "a@example.net" "x")))
                  ":verify nil" ":ca-file"))
  ;; STARTTLS not offered
  (with-smtpd (d)
    (cap-contains-all (cap-report (lambda ()
                               (send-letter (server d :starttls t)
                                            *cap-from* "a@example.net"
                                            "x")))
                  "STARTTLS" ":starttls :try" "insecure"))
  ;; 530: authentication required; 530: STARTTLS first
  (with-smtpd (d "--auth" "required" "--user" "u" "--password" "p")
    (cap-contains-all (cap-report (lambda ()
                               (send-letter (server d) *cap-from*
                                            "a@example.net" "x")))
                  "530" "Authentication required" "LOGIN and PASSWORD"))
  (with-smtpd (d "--tls" "starttls" "--require-starttls"
                 "--cert" (cert "server.pem") "--key" (cert "server.key"))
    (cap-contains-all (cap-report (lambda ()
                               (send-letter (server d) *cap-from*
                                            "a@example.net" "x")))
                  "530" ":starttls t"))
  ;; a timeout
  (with-faultd (f "--at" "mail" "--do" "stall")
    (cap-contains-all (cap-report (lambda ()
                               (send-letter (server f :timeout 1)
                                            *cap-from* "a@example.net"
                                            "x")))
                  "timed out" ":timeout"))
  ;; a refused recipient
  (with-smtpd (d "--refuse" "bad@example.net=550 5.1.1 No such user")
    (cap-contains-all (cap-report (lambda ()
                               (send-letter (server d) *cap-from*
                                            "bad@example.net" "x")))
                  "550 5.1.1 No such user" "RCPT TO:<bad@example.net>"
                  "CONTINUE-WITHOUT-REFUSED-RECIPIENTS" ":partial-delivery"))
  ;; connection refused: on port 25 the hint names 587 and 465
  (cap-contains-all (cap-report (lambda ()
                             (send-letter *cap-nowhere* *cap-from*
                                          "a@example.net" "x")))
                "127.0.0.1:1" "port")
  (let ((condition (make-condition 'smtp-connection-error
                                   :status :econnect
                                   :server "mail.example.com:25"
                                   :format-control "could not connect"
                                   :format-arguments '())))
    (cap-contains-all (princ-to-string condition) "port 25" "587" ":starttls t"
                  "465" ":ssl t"))
  (let ((condition (make-condition 'smtp-connection-error
                                   :status :etimeout
                                   :server "mail.example.com:465"
                                   :format-control "timed out"
                                   :format-arguments '())))
    (cap-contains-all (princ-to-string condition) ":timeout" ":ssl t"))
  ;; errors made in Lisp without a status: the report is exactly theirs
  (is (string= "just this"
               (princ-to-string (make-condition 'smtp-transient-error
                                                :code 451
                                                :format-control "just this"
                                                :format-arguments '())))))

(test capture-report-no-secrets
  "No report, hint or restart report shows a password or a token, nor
their cap-base64."
  (let ((password "Sup3r-Secret-Pa55")
        (token "ya29.secret-token-value"))
    (with-smtpd (d "--auth" "required" "--user" "u" "--password" "other")
      (let ((reports
              (list (cap-report (lambda ()
                                 (send-letter (server d) *cap-from*
                                              "a@example.net" "x"
                                              :login "u"
                                              :password password)))
                    (cap-report (lambda ()
                                 (send-smtp-auth (server d) *cap-from*
                                                 "a@example.net" "u"
                                                 password "x")))
                    (cap-report (lambda ()
                                 (send-letter (server d :oauth-token token
                                                        :auth-mechanism
                                                        "XOAUTH2")
                                              *cap-from* "a@example.net"
                                              "x" :login "u")))
                    (cap-report (lambda ()
                                 (send-letter (list "h" :oauth-token token
                                                    :bogus 1)
                                              *cap-from* "a@example.net"
                                              "x" :password password))))))
        (dolist (report reports)
          (is (stringp report))
          (dolist (secret (list password token
                                (subseq (cap-base64 password) 0 12)
                                (subseq (cap-base64 (format nil "~cu~c~a"
                                                        (code-char 0)
                                                        (code-char 0)
                                                        password))
                                        4 16)))
            (is (not (contains report secret))
                "the report shows a secret:~%~a" report)))
        (handler-case
            (handler-bind ((smtp-error
                             (lambda (e)
                               (dolist (restart (compute-restarts e))
                                 (is (not (contains (princ-to-string restart)
                                                    password)))))))
              (send-letter (server d) *cap-from* "a@example.net" "x"
                           :login "u" :password password))
          (smtp-error () nil))))))

(defun cap-base64 (string)
  "STRING (UTF-8) in cap-base64, for looking for secrets in reports."
  (let* ((octets (net.post-office::string-to-utf8 string))
         (alphabet
           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"))
    (with-output-to-string (out)
      (loop for i from 0 below (length octets) by 3
            do (let* ((n (min 3 (- (length octets) i)))
                      (bits (loop for k below 3
                                  sum (ash (if (< k n)
                                               (aref octets (+ i k))
                                               0)
                                           (* 8 (- 2 k))))))
                 (loop for k below 4
                       do (write-char (if (<= k n)
                                          (char alphabet
                                                (ldb (byte 6 (* 6 (- 3 k)))
                                                     bits))
                                          #\=)
                                      out)))))))

;;; ------------------------------------------------------------------
;;; Docstrings

(test capture-exports-documented
  "Every exported symbol is documented: as a function, a variable or a
type (class, condition), whatever it names; the new names are
exported."
  (dolist (name '(with-captured-letters captured-letters capture-mailbox
                  captured-letter captured-letter-from
                  captured-letter-recipients captured-letter-octets
                  captured-letter-header captured-letter-headers
                  captured-letter-text captured-letter-html
                  captured-letter-attachments captured-letter-message-id
                  decode-header-text retry-send
                  continue-without-refused-recipients use-mail-server))
    (is (eq :external (nth-value 1 (find-symbol (symbol-name name)
                                                :postoffice)))
        "~s is not exported" name))
  (do-external-symbols (symbol :postoffice)
    (when (fboundp symbol)
      (is (documentation symbol 'function) "~s has no function docstring"
          symbol))
    (when (boundp symbol)
      (is (documentation symbol 'variable) "~s has no variable docstring"
          symbol))
    (when (find-class symbol nil)
      (is (documentation symbol 'type) "~s has no type docstring" symbol))
    (is (or (fboundp symbol) (boundp symbol) (find-class symbol nil))
        "~s names nothing" symbol)))
