;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; api.lisp - the package's surface: exports, lambda lists, the library
;;; and its version gate, the condition classes and the status mapping,
;;; server designators, and every argument error (signalled before any
;;; connection).

(in-package :net.post-office.tests)

(def-suite :smtp.api :in :smtp
  :description "Exports, lambda lists, library, conditions, designators
and argument errors.")

(in-suite :smtp.api)

;;; ------------------------------------------------------------------
;;; Exports and lambda lists

(defparameter *allegro-functions*
  '(send-letter send-smtp send-smtp-auth test-email-address make-mime-part
    mime-part-writer mime-part-p mime-part-constructed-p map-over-parts
    mime-part-type mime-part-subtype mime-part-parameters mime-part-id
    mime-part-description mime-part-encoding mime-part-headers
    mime-part-parts mime-part-boundary)
  "Allegro's exported functions.")

(defparameter *allegro-names*
  (append *allegro-functions*
          '(decode-header-text mime-get-header
            with-mime-part-constructed-stream mime-part-constructed))
  "Every name NET.POST-OFFICE exports: Allegro's, and no other.")

(test exports
  "NET.POST-OFFICE exports Allegro's names and nothing else, so ported
code that uses it collides with nothing of ours; POSTOFFICE re-exports
them and exports our additions; *SMTP-DEBUG* is internal in
NET.POST-OFFICE, as in Allegro, and external in POSTOFFICE."
  (let ((external '()))
    (do-external-symbols (symbol :net.post-office)
      (push symbol external))
    (is (null (set-exclusive-or external *allegro-names*))
        "NET.POST-OFFICE exports ~s, not exactly Allegro's names"
        (set-difference external *allegro-names*))
    (dolist (symbol external)
      (is (eq :external (nth-value 1 (find-symbol (symbol-name symbol)
                                                  :postoffice)))
          "~s is not re-exported from POSTOFFICE" symbol)))
  (do-external-symbols (symbol :postoffice)
    (is (eq (find-package :net.post-office) (symbol-package symbol))
        "~s is not a symbol of NET.POST-OFFICE" symbol))
  (dolist (name '(with-smtp-connection reload smtp-connection-last-reply
                  continue-without-tls continue-without-verification
                  *test-email-address-server* *test-email-address-literals*
                  *smtp-timeout* *libpostoffice-path* *smtp-debug*
                  *smtp-last-reply*
                  smtp-condition smtp-error smtp-argument-error
                  smtp-file-error smtp-input-error
                  smtp-connection-error smtp-tls-error
                  smtp-authentication-error smtp-transaction-error
                  smtp-transient-error smtp-permanent-error
                  smtp-recipient-error smtp-transient-recipient-error
                  smtp-permanent-recipient-error smtp-program-error
                  smtp-program-not-found smtp-warning
                  smtp-credentials-unused smtp-recipients-refused
                  smtp-error-code smtp-error-command
                  smtp-error-enhanced-code smtp-error-reply
                  smtp-error-refused-recipients smtp-error-status
                  smtp-error-server smtp-error-outcome-unknown
                  smtp-error-exit-status smtp-error-stderr
                  smtp-error-stdout))
    (is (eq :external (nth-value 1 (find-symbol (symbol-name name)
                                                :postoffice)))
        "~s is not exported from POSTOFFICE" name))
  (dolist (name *allegro-functions*)
    (is (fboundp name)))
  (is (macro-function 'mime-get-header))
  (is (macro-function 'with-mime-part-constructed-stream))
  (is (macro-function 'with-smtp-connection))
  (is (find-class 'mime-part-constructed))
  (is (eq :internal (nth-value 1 (find-symbol "*SMTP-DEBUG*"
                                              :net.post-office))))
  (is (null (symbol-value 'net.post-office::*smtp-debug*)))
  (is (boundp '*smtp-timeout*)))

(defun check-lambda-list (name expected)
  "Checks that NAME's lambda list has the parameter names EXPECTED
\(strings), where the implementation can tell."
  (let ((list (lambda-list name)))
    (unless (eq list :unknown)
      (is (equal expected (lambda-list-names list))
          "~s has the lambda list ~s" name list))))

(test lambda-lists
  "The lambda lists are exactly Allegro's (design §4.1)."
  (check-lambda-list 'send-letter
                     '("MAIL-SERVER" "FROM" "TO" "MESSAGE" "&KEY" "SUBJECT"
                       "REPLY-TO" "CC" "BCC" "HEADERS" "LOGIN" "PASSWORD"
                       "ATTACHMENTS"))
  (check-lambda-list 'send-smtp
                     '("MAIL-SERVER" "FROM" "TO" "&REST" "MESSAGES"))
  (check-lambda-list 'send-smtp-auth
                     '("MAIL-SERVER" "FROM" "TO" "LOGIN" "PASSWORD" "&REST"
                       "MESSAGES"))
  (check-lambda-list 'test-email-address '("ADDRESS"))
  (check-lambda-list 'make-mime-part
                     '("&KEY" "CONTENT-TYPE" "ENCODING" "HEADERS"
                       "ATTACHMENTP" "NAME" "TEXT" "START" "END" "FILE"
                       "SUBPARTS" "EXTERNAL-FORMAT" "PARAMETERS" "CHARSET"
                       "ID" "DESCRIPTION"))
  (check-lambda-list 'mime-part-writer '("PART" "&KEY" "STREAM"))
  (check-lambda-list 'map-over-parts '("PART" "FUNCTION"))
  (let ((list (lambda-list 'with-mime-part-constructed-stream)))
    (unless (eq list :unknown)
      (is (= 2 (length (first list))))
      (is (string= "&BODY" (symbol-name (second list))))))
  (let ((list (lambda-list 'with-smtp-connection)))
    (unless (eq list :unknown)
      (is (equal '("CONNECTION" "MAIL-SERVER" "&KEY" "LOGIN" "PASSWORD")
                 (lambda-list-names (first list)))))))

(test keywords-accepted
  "Every documented keyword is accepted, and no other (a check that needs
no introspection): the calls below fail on their arguments, not on their
keywords."
  (signals smtp-argument-error
    (send-letter "127.0.0.1:1" "a@b.example" nil "text" :subject "s"
                 :reply-to "r@b.example" :cc nil :bcc nil :headers nil
                 :login nil :password nil :attachments nil))
  (signals error
    (funcall 'send-letter "127.0.0.1:1" "a@b.example" "c@d.example" "text"
             :no-such-keyword t))
  (is (mime-part-constructed-p
       (make-mime-part :content-type "text/plain" :encoding "7bit"
                       :headers nil :attachmentp nil :name nil :text "x"
                       :start 0 :end 1 :file nil :subparts nil
                       :external-format :utf8 :parameters nil :charset nil
                       :id nil :description nil)))
  (signals error (funcall 'make-mime-part :text "x" :no-such-keyword t)))

;;; ------------------------------------------------------------------
;;; The library

(test library
  "RELOAD loads the library again and returns its version; the version
gate accepts the same major version at least as new, nothing else."
  (let ((version (reload)))
    (is (stringp version))
    (is (string= version (net.post-office::%po-version))))
  (is (net.post-office::version-compatible-p #x000100 #x000100))
  (is (net.post-office::version-compatible-p #x000205 #x000100))
  (is (not (net.post-office::version-compatible-p #x000009 #x000100)))
  (is (not (net.post-office::version-compatible-p #x010000 #x000100)))
  (is (net.post-office::version-compatible-p
       (net.post-office::%po-version-num)))
  ;; still usable after RELOAD
  (is (string= "application/pdf"
               (net.post-office::%po-mime-type-for-name "x.pdf"))))

(test status-names
  "Every C status has a name, and every name maps to a condition class
of the documented kind."
  (loop for code from 1 to 42
        for name = (net.post-office::status-keyword code)
        do (is (not (eq name :unknown)) "status ~d has no name" code)
           (is (subtypep (net.post-office::status-condition-class
                          name nil nil)
                         'smtp-error)))
  (is (eq :ok (net.post-office::status-keyword 0)))
  (flet ((class-of-status (name &optional code context)
           (net.post-office::status-condition-class name code context)))
    (is (eq 'smtp-argument-error (class-of-status :eaddress)))
    (is (eq 'smtp-argument-error (class-of-status :enorcpt)))
    (is (eq 'smtp-file-error (class-of-status :enoent)))
    (is (eq 'smtp-input-error (class-of-status :ereader)))
    (is (eq 'smtp-connection-error (class-of-status :econnect)))
    (is (eq 'smtp-tls-error (class-of-status :ecert)))
    (is (eq 'smtp-authentication-error (class-of-status :eauth)))
    (is (eq 'smtp-permanent-recipient-error
            (class-of-status :erecipient 550 :smtp)))
    (is (eq 'smtp-transient-recipient-error
            (class-of-status :erecipient 450 :smtp)))
    (is (eq 'smtp-permanent-error (class-of-status :emessage 554 :smtp)))
    (is (eq 'smtp-transient-error (class-of-status :edata 451 :smtp)))
    (is (eq 'smtp-transaction-error (class-of-status :esender nil :smtp)))
    (is (eq 'smtp-program-not-found (class-of-status :enoprogram)))
    (is (eq 'smtp-program-error (class-of-status :eprogram)))
    (is (eq 'smtp-program-error (class-of-status :etimeout nil :program)))
    (is (eq 'smtp-connection-error (class-of-status :etimeout nil :smtp)))))

;;; ------------------------------------------------------------------
;;; Conditions

(test condition-classes
  "The hierarchy: every error is a SIMPLE-ERROR (existing handlers keep
working), file errors are FILE-ERRORs, recipient errors combine both
axes, warnings are warnings."
  (dolist (class '(smtp-argument-error smtp-file-error smtp-input-error
                   smtp-connection-error smtp-tls-error
                   smtp-authentication-error smtp-transaction-error
                   smtp-transient-error smtp-permanent-error
                   smtp-recipient-error smtp-transient-recipient-error
                   smtp-permanent-recipient-error smtp-program-error
                   smtp-program-not-found))
    (is (subtypep class 'smtp-error))
    (is (subtypep class 'simple-error))
    (is (subtypep class 'smtp-condition)))
  (is (subtypep 'smtp-file-error 'file-error))
  (is (subtypep 'smtp-file-error 'smtp-argument-error))
  (is (subtypep 'smtp-tls-error 'smtp-connection-error))
  (is (subtypep 'smtp-transient-recipient-error 'smtp-transient-error))
  (is (subtypep 'smtp-transient-recipient-error 'smtp-recipient-error))
  (is (subtypep 'smtp-permanent-recipient-error 'smtp-permanent-error))
  (is (subtypep 'smtp-permanent-recipient-error 'smtp-recipient-error))
  (is (subtypep 'smtp-credentials-unused 'smtp-warning))
  (is (subtypep 'smtp-recipients-refused 'smtp-warning))
  (is (subtypep 'smtp-warning 'warning))
  (is (not (subtypep 'smtp-warning 'error)))
  ;; a report is readable text built from the format control
  (let ((condition (make-condition 'smtp-permanent-recipient-error
                                   :format-control "refused: ~a"
                                   :format-arguments '("x")
                                   :code 550 :command "RCPT TO:<x@y>"
                                   :enhanced-code "5.1.1" :reply "550 no"
                                   :refused-recipients '(("x@y" 550 "no")))))
    (is (string= "refused: x" (princ-to-string condition)))
    (is (= 550 (smtp-error-code condition)))
    (is (string= "RCPT TO:<x@y>" (smtp-error-command condition)))
    (is (string= "5.1.1" (smtp-error-enhanced-code condition)))
    (is (string= "550 no" (smtp-error-reply condition)))
    (is (equal '(("x@y" 550 "no"))
               (smtp-error-refused-recipients condition))))
  ;; old-style handlers still catch our errors
  (is (eq :caught (handler-case (send-letter "127.0.0.1:1" "a@b.example"
                                             nil "x")
                    (simple-error () :caught)))))

;;; ------------------------------------------------------------------
;;; Server designators

(defun parsed (designator)
  "DESIGNATOR normalised, as a plist of the interesting fields."
  (let ((server (net.post-office::parse-server designator)))
    (list :kind (net.post-office::server-kind server)
          :host (net.post-office::server-host server)
          :port (net.post-office::server-port server)
          :security (net.post-office::server-security server)
          :verify (net.post-office::server-verify server))))

(test server-designators
  "Every form of allegro-reference §2.1, with the fixed defaults."
  (is (equal '(:kind :smtp :host "mail.example" :port 25 :security 0
               :verify t)
             (parsed "mail.example")))
  (is (equal 587 (getf (parsed "mail.example:587") :port)))
  (is (equal "mail.example" (getf (parsed "mail.example:587") :host)))
  (is (equal '("10.0.0.1" 2525)
             (let ((p (parsed "10.0.0.1:2525")))
               (list (getf p :host) (getf p :port)))))
  (is (equal '("::1" 25)
             (let ((p (parsed "::1"))) (list (getf p :host) (getf p :port)))))
  (is (equal '("::1" 2525)
             (let ((p (parsed "[::1]:2525")))
               (list (getf p :host) (getf p :port)))))
  (is (equal "127.0.0.1" (getf (parsed 2130706433) :host)))
  (is (equal "0:0:0:0:0:0:0:1"
             (getf (parsed (coerce '(0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1)
                                   '(vector (unsigned-byte 8))))
                   :host)))
  (is (equal 99 (getf (parsed '("mail.example" . 99)) :port)))
  (is (equal 25 (getf (parsed '("mail.example")) :port)))
  (is (equal 465 (getf (parsed '("mail.example" :ssl t)) :port)))
  (is (equal 1 (getf (parsed '("mail.example" :ssl t)) :security)))
  (is (equal 25 (getf (parsed '("mail.example" :starttls t)) :port)))
  (is (equal 2 (getf (parsed '("mail.example" :starttls t)) :security)))
  (is (equal 3 (getf (parsed '("mail.example" :starttls :try)) :security)))
  (is (equal 2525 (getf (parsed '("mail.example" :ssl t :port 2525)) :port)))
  (is (null (getf (parsed '("mail.example" :verify nil)) :verify)))
  (dolist (verify '(t :required :optional))
    (is (eq t (getf (parsed (list "mail.example" :verify verify)) :verify))))
  (is (equal "127.0.0.1" (getf (parsed '(2130706433 :port 2525)) :host)))
  (let ((server (net.post-office::parse-server
                 '("h" :method :tlsv1.2 :ca-file "/ca.pem"
                   :certificate #p"/c.pem" :key "/k.pem"
                   :certificate-password "pw" :ciphers "HIGH"
                   :ciphersuites "TLS_AES_128_GCM_SHA256" :max-depth 3
                   :crl-file "/crl.pem" :crl-check t :server-name "n"
                   :timeout 5 :total-timeout 60
                   :auth-mechanism (:plain "login")
                   :ehlo-name "client.example" :partial-delivery t))))
    (is (equal '((9 . "1.2") (3 . "/c.pem") (4 . "/k.pem") (1 . "/ca.pem")
                 (6 . "/crl.pem") (5 . "pw") (7 . "HIGH")
                 (8 . "TLS_AES_128_GCM_SHA256") (10 . "n"))
               (net.post-office::server-tls-options server)))
    (is (= 5000 (net.post-office::server-connect-ms server)))
    (is (= 5000 (net.post-office::server-reply-ms server)))
    (is (= 60000 (net.post-office::server-total-ms server)))
    (is (string= "PLAIN LOGIN" (net.post-office::server-mechanisms server)))
    (is (string= "client.example" (net.post-office::server-ehlo-name server)))
    (is (net.post-office::server-partial-delivery server)))
  (dolist (method '(:tlsv1 :tlsv1.1 :tlsv1.3 :sslv23 :tlsv1+))
    (is (net.post-office::parse-server (list "h" :starttls t
                                             :method method))))
  (let ((shell (net.post-office::parse-server '(:program . "sendmail -t")))
        (argv (net.post-office::parse-server
               '(:program "/usr/sbin/sendmail" "-t"))))
    (is (eq :program (net.post-office::server-kind shell)))
    (is (string= "sendmail -t" (net.post-office::server-command shell)))
    (is (equal '("/usr/sbin/sendmail" "-t")
               (net.post-office::server-argv argv)))))

(test server-designator-errors
  "Unknown keys, :context, bad ports and bad forms are argument errors;
secrets never appear in the report; the caller's list is never
modified."
  (dolist (designator '(("h" :bogus 1) ("h" :port) ("h" :port 0)
                        ("h" :port 70000) ("h" :verify :maybe)
                        ("h" :method :sslv9) ("h" :timeout -1)
                        ("h" . "x") (:program) (:program 1 2) ("")
                        :keyword 3.5 #(1 2 3) ("h" :context :ctx)))
    (signals smtp-argument-error
      (net.post-office::parse-server designator)))
  (let ((report (handler-case
                    (net.post-office::parse-server
                     '("h" :certificate-password "hunter2" :oauth-token
                       "tok3n" :bogus 1))
                  (smtp-argument-error (e) (princ-to-string e)))))
    (is (contains report ":BOGUS"))
    (is (not (contains report "hunter2")))
    (is (not (contains report "tok3n"))))
  (is (contains (handler-case (net.post-office::parse-server
                               '("h" :context nil))
                  (smtp-argument-error (e) (princ-to-string e)))
                ":context"))
  (let* ((designator (list "h" :starttls t :port 587 :ssl nil))
         (copy (copy-tree designator)))
    (net.post-office::parse-server designator)
    (net.post-office::parse-server designator)
    (is (equal copy designator))))

;;; ------------------------------------------------------------------
;;; Recipients and headers

(test recipient-and-header-normalisation
  "to/cc/bcc as a string or a list; headers as a string or a list, with
Allegro's trailing newline removed and folded lines unfolded."
  (is (equal '("a@b") (net.post-office::recipient-list "a@b" "to" t)))
  (is (equal '("a@b" "c@d")
             (net.post-office::recipient-list '("a@b" "c@d") "to" t)))
  (is (null (net.post-office::recipient-list nil "cc")))
  (signals smtp-argument-error (net.post-office::recipient-list nil "to" t))
  (signals smtp-argument-error (net.post-office::recipient-list 42 "cc"))
  (is (equal '("X-A: 1") (net.post-office::header-lines "X-A: 1")))
  (is (equal '("X-A: 1" "X-B: 2")
             (net.post-office::header-lines
              (list "X-A: 1" (format nil "X-B: 2~%")))))
  (is (equal '("X-C: a b")
             (net.post-office::header-lines (format nil "X-C: a~% b"))))
  (is (equal (list (format nil "X-D: a~%"))
             (net.post-office::header-lines (format nil "X-D: a~%~%"))))
  (signals smtp-argument-error (net.post-office::header-lines 42)))

;;; ------------------------------------------------------------------
;;; Argument errors come before any connection

(defmacro refused-before-connecting (fixture &body forms)
  "Checks that each of FORMS signals an SMTP-ARGUMENT-ERROR and that
FIXTURE saw no connection."
  `(progn
     ,@(loop for form in forms
             collect `(signals smtp-argument-error ,form))
     (is (= 0 (connection-count ,fixture))
         "the server saw ~d connection~:p" (connection-count ,fixture))))

(test argument-errors-before-connecting
  "Bad input is refused before any connection: the server sees none."
  (with-faultd (f)
    (let ((s (server f))
          (file (native (merge-pathnames "no-such-file.txt"
                                         (make-temp-dir "nofile")))))
      (refused-before-connecting f
        (send-letter s "a@b.example" nil "x")
        (send-letter s "a@b.example" 42 "x")
        (send-letter s "a@b.example" "c@d.example" "x" :cc 42)
        (send-letter s "a@b.example" "c@d.example" "x" :bcc :nobody)
        (send-letter s "a@b.example" "c@d.example" "x" :headers 42)
        (send-letter s "a@b.example" "c@d.example" 42)
        (send-letter s "a@b.example" "c@d.example" "x" :attachments 42)
        (send-letter s "a@b.example" "c@d.example"
                     (make-mime-part :text "x") :attachments "/etc/hostname")
        (send-letter s "a@b.example" "c@d.example" "x"
                     :subject (format nil "a~%Bcc: evil@x.example"))
        (send-letter s "a@b.example" "c@d.example" "x"
                     :subject (format nil "a~cb" (code-char 0)))
        (send-letter s "a@b.example" "c@d.example" "x"
                     :headers (format nil "X-A: 1~%X-B: 2"))
        (send-letter s "a@b.example" "c@d.example" "x"
                     :headers "no colon here")
        (send-letter s "not an address" "c@d.example" "x")
        (send-letter s "a@b.example" "c d@e.example" "x")
        (send-letter s "a@b.example" (format nil "c@d.example~%RCPT TO:<x@y>")
                     "x")
        (send-letter s "a@b.example" "c@d.example" "x" :attachments file)
        (send-letter (append s '(:bogus 1)) "a@b.example" "c@d.example" "x")
        (send-smtp s "a@b.example" nil "x")
        (send-smtp s "a@b.example" "c@d.example" 42)
        (send-smtp '(:program . "cat") "a@b.example" "c@d.example" "x")
        (send-smtp-auth '(:program "cat") "a@b.example" "c@d.example" "u" "p"
                        "x")
        (let ((*smtp-timeout* -3))
          (send-letter s "a@b.example" "c@d.example" "x")))
      ;; and a good letter does connect (the count works)
      (send-letter s "a@b.example" "c@d.example" "x")
      (is (= 1 (connection-count f))))))

(test file-errors
  "A missing, unreadable or directory attachment signals an
SMTP-FILE-ERROR, which is also a FILE-ERROR naming the file."
  (let* ((dir (make-temp-dir "files"))
         (missing (native (merge-pathnames "missing.txt" dir))))
    (let ((condition (handler-case (make-mime-part :file missing)
                       (smtp-file-error (e) e))))
      (is (typep condition 'file-error))
      (is (typep condition 'smtp-argument-error))
      (is (equal missing (file-error-pathname condition)))
      (is (contains (princ-to-string condition) "missing.txt")))
    (signals smtp-file-error (make-mime-part :file (native dir)))
    (signals file-error (send-letter "127.0.0.1:1" "a@b.example"
                                     "c@d.example" "x"
                                     :attachments (list missing)))))
