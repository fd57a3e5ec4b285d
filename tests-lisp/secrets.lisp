;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; secrets.lisp - passwords and tokens never show (issue #6): with
;;; NET.POST-OFFICE::*SMTP-DEBUG* bound to a string stream (that is the
;;; C library's trace: po_smtp_set_trace feeds it), across PLAIN, LOGIN,
;;; CRAM-MD5 and XOAUTH2 (fixtures/smtpd.py supports all four; XOAUTH2
;;; through the designator's :OAUTH-TOKEN), each with good and with bad
;;; credentials, neither the password, the token, nor any base64 form of
;;; them appears in the trace, in any condition's or warning's report,
;;; in what its readers return, in what DESCRIBE shows of it, in the
;;; letter the server saved, or in a captured letter.
;;;
;;; The base64 forms: of the password and of the token alone, of PLAIN's
;;; "\0user\0password" and of XOAUTH2's "user=U\1auth=Bearer T\1\1"; and
;;; since a secret can sit anywhere in a longer blob, each also with 1
;;; and 2 arbitrary octets in front, keeping only the characters that
;;; come from the secret's own bits (dropping the partial ones at both
;;; ends).  Every embedding of the secret in any base64 text contains one
;;; of those three fragments.

(in-package :net.post-office.tests)

(def-suite :smtp.secrets :in :smtp
  :description "Passwords and tokens appear nowhere: trace, conditions,
warnings, saved and captured letters.")

(in-suite :smtp.secrets)

(defparameter *secret-user* "alice.secret-test@example.org")
(defparameter *secret-password* "Pa55-w0rd!kq7Zr~x")
(defparameter *secret-wrong-password* "Wr0ng-pa55!xJ3~vv")
(defparameter *secret-token* "ya29.A0ARrdaM-t0k3n_9fQzLw")
(defparameter *secret-wrong-token* "ya29.Wr0ngT0k3n-Qp4Hs")

;;; ------------------------------------------------------------------
;;; Base64 forms

(defparameter *secret-base64-alphabet*
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

(defun secret-base64 (octets)
  "OCTETS (a vector of (unsigned-byte 8)) in base64, with padding."
  (with-output-to-string (out)
    (loop for i from 0 below (length octets) by 3
          do (let* ((n (min 3 (- (length octets) i)))
                    (group (loop for k below 3
                                 sum (ash (if (< k n) (aref octets (+ i k)) 0)
                                          (* 8 (- 2 k))))))
               (loop for k below 4
                     do (write-char (if (<= k n)
                                        (char *secret-base64-alphabet*
                                              (ldb (byte 6 (* 6 (- 3 k)))
                                                   group))
                                        #\=)
                                    out))))))

(defun secret-octets (string)
  "STRING as UTF-8 octets."
  (net.post-office::string-to-utf8 string))

(defun secret-fragments (octets)
  "The base64 text that every base64 encoding containing OCTETS
contains, one fragment per alignment: OCTETS preceded by 0, 1 and 2
arbitrary octets, encoded, keeping only the characters made of OCTETS'
bits alone."
  (loop for k from 0 to 2
        collect (let* ((prefixed (concatenate '(vector (unsigned-byte 8))
                                              (make-array k :initial-element
                                                            #xA5)
                                              octets))
                       (text (secret-base64 prefixed))
                       (first (ceiling (* 8 k) 6))
                       (end (floor (* 8 (+ k (length octets))) 6)))
                  (subseq text first end))))

(defun secret-patterns ()
  "The strings that must appear nowhere, as (DESCRIPTION . STRING)."
  (let ((patterns '()))
    (flet ((add (what string)
             (push (cons what string) patterns))
           (join (&rest parts)
             (apply #'concatenate 'string parts)))
      (dolist (secret (list *secret-password* *secret-wrong-password*
                            *secret-token* *secret-wrong-token*))
        (add (format nil "~s" secret) secret)
        (add (format nil "base64 of ~s" secret)
             (secret-base64 (secret-octets secret)))
        (loop for fragment in (secret-fragments (secret-octets secret))
              for k from 0
              do (add (format nil "base64 of ~s at offset ~d" secret k)
                      fragment)))
      (dolist (password (list *secret-password* *secret-wrong-password*))
        (let ((plain (join (string (code-char 0)) *secret-user*
                           (string (code-char 0)) password)))
          (add (format nil "PLAIN blob with ~s" password)
               (secret-base64 (secret-octets plain)))
          (loop for fragment in (secret-fragments (secret-octets plain))
                for k from 0
                do (add (format nil "PLAIN blob with ~s at offset ~d"
                                password k)
                        fragment))))
      (dolist (token (list *secret-token* *secret-wrong-token*))
        (let ((blob (join "user=" *secret-user* (string (code-char 1))
                          "auth=Bearer " token (string (code-char 1))
                          (string (code-char 1)))))
          (add (format nil "XOAUTH2 blob with ~s" token)
               (secret-base64 (secret-octets blob)))
          (loop for fragment in (secret-fragments (secret-octets blob))
                for k from 0
                do (add (format nil "XOAUTH2 blob with ~s at offset ~d"
                                token k)
                        fragment)))))
    (nreverse patterns)))

(defun secret-leaks (text)
  "The descriptions of the secret patterns TEXT contains."
  (loop for (what . pattern) in (secret-patterns)
        when (search pattern text)
          collect what))

(test secret-base64-forms
  "The base64 encoder and the fragments: known vectors, and each
fragment found in the encoding of a longer blob at its alignment."
  (is (string= "" (secret-base64 (secret-octets ""))))
  (is (string= "Zg==" (secret-base64 (secret-octets "f"))))
  (is (string= "Zm9vYmE=" (secret-base64 (secret-octets "fooba"))))
  (is (string= "Zm9vYmFy" (secret-base64 (secret-octets "foobar"))))
  (is (string= "AGFsaWNlAFBhNTUtdzByZCE="
               (secret-base64 (secret-octets (format nil "~calice~cPa55-w0rd!"
                                                     (code-char 0)
                                                     (code-char 0))))))
  (let ((fragments (secret-fragments (secret-octets *secret-password*))))
    (loop for k from 0 to 2
          do (let ((blob (secret-base64
                          (secret-octets
                           (concatenate 'string (subseq "xyz" 0 k)
                                        *secret-password* "tail")))))
               (is (search (nth k fragments) blob) "offset ~d" k)
               (is (> (length (nth k fragments)) 16)))))
  ;; what the mechanisms would send, were it not masked, is caught
  (flet ((caught (string)
           (secret-leaks (secret-base64 (secret-octets string)))))
    (is (caught *secret-password*))
    (is (caught (format nil "~c~a~c~a" (code-char 0) *secret-user*
                        (code-char 0) *secret-password*)))
    (is (caught (format nil "someone-else~c~a~c~a" (code-char 0)
                        *secret-user* (code-char 0)
                        *secret-wrong-password*)))
    (is (caught (format nil "user=~a~cauth=Bearer ~a~c~c" *secret-user*
                        (code-char 1) *secret-token* (code-char 1)
                        (code-char 1))))
    (is (caught (format nil "n,a=~a,~cauth=Bearer ~a~c~c" *secret-user*
                        (code-char 1) *secret-wrong-token* (code-char 1)
                        (code-char 1))))
    (is (null (caught *secret-user*)))
    (is (null (secret-leaks "AUTH PLAIN <masked>")))))

;;; ------------------------------------------------------------------
;;; Where secrets could show

(defun secret-describe (object)
  "What DESCRIBE prints about OBJECT."
  (with-output-to-string (out)
    (describe object out)))

(defun secret-condition-texts (condition)
  "Every text a user can get from CONDITION: its report, how it prints,
what DESCRIBE shows (all its slots), and what each reader returns."
  (append
   (list (princ-to-string condition)
         (prin1-to-string condition)
         (secret-describe condition))
   (when (typep condition 'simple-condition)
     (list (princ-to-string (simple-condition-format-control condition))
           (prin1-to-string (simple-condition-format-arguments condition))))
   (when (typep condition 'smtp-error)
     (mapcar #'prin1-to-string
             (list (smtp-error-status condition)
                   (smtp-error-server condition)
                   (smtp-error-command condition)
                   (smtp-error-code condition)
                   (smtp-error-enhanced-code condition)
                   (smtp-error-reply condition))))
   (when (typep condition 'smtp-connection-error)
     (list (prin1-to-string (smtp-error-outcome-unknown condition))))
   (when (typep condition '(or smtp-recipient-error smtp-recipients-refused))
     (list (prin1-to-string (smtp-error-refused-recipients condition))))))

(defun check-no-secrets (what texts)
  "Checks that none of TEXTS (strings) contains a secret."
  (dolist (text texts)
    (let ((leaks (secret-leaks text)))
      (is (null leaks) "~a leaks ~{~a~^, ~}:~%~a" what leaks text))))

(defun saved-texts (fixture)
  "The letters FIXTURE saved and their metadata, as text."
  (loop for letter in (letters fixture)
        collect (letter-eml letter)
        collect (read-file-string (make-pathname :type "json"
                                                 :defaults
                                                 (letter-file letter)))))

(defstruct secret-run
  "What one send with credentials left behind."
  value trace conditions)

(defun secret-send (function)
  "Calls FUNCTION with *SMTP-DEBUG* bound to a string stream; returns a
SECRET-RUN with its value (or NIL), the trace, and every condition and
warning signalled (warnings are muffled)."
  (let ((run (make-secret-run)))
    (setf (secret-run-trace run)
          (with-output-to-string (out)
            (let ((*smtp-debug* out))
              (handler-case
                  (handler-bind ((warning
                                   (lambda (w)
                                     (push w (secret-run-conditions run))
                                     (muffle-warning w))))
                    (setf (secret-run-value run) (funcall function)))
                (error (e)
                  (push e (secret-run-conditions run)))))))
    run))

(defun check-secret-run (what run &key ok)
  "Checks RUN: success or an SMTP-AUTHENTICATION-ERROR as OK says, the
AUTH exchange in the trace, masked, and no secret anywhere."
  (let ((errors (remove-if-not (lambda (c) (typep c 'error))
                               (secret-run-conditions run)))
        (trace (secret-run-trace run)))
    (if ok
        (is (and (sent-p (secret-run-value run)) (null errors))
            "~a: expected success: ~{~a~^; ~}" what errors)
        (is (and (= 1 (length errors))
                 (typep (first errors) 'smtp-authentication-error))
            "~a: expected an authentication error: ~{~a~^; ~}" what errors))
    ;; the trace was on and saw the AUTH exchange
    (is (contains trace "to smtp command: \"AUTH ") "~a: ~a" what trace)
    (is (contains trace "<masked>") "~a: nothing masked: ~a" what trace)
    (is (contains trace (if ok (format nil "~%235") "5"))
        "~a: ~a" what trace)
    (check-no-secrets (format nil "~a: the trace" what) (list trace))
    (dolist (condition (secret-run-conditions run))
      (check-no-secrets (format nil "~a: the ~a" what (type-of condition))
                        (secret-condition-texts condition)))))

(defmacro with-secret-server ((var &rest args) &body body)
  "Runs BODY with VAR bound to an smtpd.py requiring AUTH from
*SECRET-USER* with *SECRET-PASSWORD* or the token *SECRET-TOKEN*."
  `(with-smtpd (,var "--auth" "required" "--user" *secret-user*
                     "--password" *secret-password* "--token" *secret-token*
                     "--mechanisms" "PLAIN,LOGIN,CRAM-MD5,XOAUTH2" ,@args)
     ,@body))

;;; ------------------------------------------------------------------
;;; The tests

(test secret-mechanisms
  "PLAIN, LOGIN, CRAM-MD5 and the library's own choice, with the right
and a wrong password; XOAUTH2 with the right and a wrong token: the
trace, the conditions and the saved letters hold no secret."
  (with-secret-server (d)
    (let ((sent 0))
      (dolist (mechanism '(:plain :login "CRAM-MD5" nil))
        (loop for (password ok) in `((,*secret-password* t)
                                     (,*secret-wrong-password* nil))
              do (let ((run (secret-send
                             (lambda ()
                               (send-letter (apply #'server d
                                                   (and mechanism
                                                        (list :auth-mechanism
                                                              mechanism)))
                                            *from* *to* "the body"
                                            :login *secret-user*
                                            :password password)))))
                   (when ok (incf sent))
                   (check-secret-run (format nil "~a ~:[bad~;good~] password"
                                             (or mechanism "automatic") ok)
                                     run :ok ok))))
      (loop for (token ok) in `((,*secret-token* t)
                                (,*secret-wrong-token* nil))
            do (let ((run (secret-send
                           (lambda ()
                             (send-letter (server d :auth-mechanism :xoauth2
                                                    :oauth-token token)
                                          *from* *to* "the body"
                                          :login *secret-user*)))))
                 (when ok (incf sent))
                 (check-secret-run (format nil "XOAUTH2 ~:[bad~;good~] token"
                                           ok)
                                   run :ok ok)))
      (let ((letters (letters d)))
        (is (= sent (length letters)))
        (is (equal '("PLAIN" "LOGIN" "CRAM-MD5" "CRAM-MD5" "XOAUTH2")
                   (mapcar (lambda (l) (json l "auth_mechanism")) letters))))
      (check-no-secrets "the saved letters" (saved-texts d)))))

(test secret-send-smtp-auth-and-connections
  "SEND-SMTP-AUTH, and WITH-SMTP-CONNECTION with credentials (the
connection object printed too), good and bad."
  (with-secret-server (d)
    (loop for (password ok) in `((,*secret-password* t)
                                 (,*secret-wrong-password* nil))
          do (check-secret-run
              (format nil "send-smtp-auth ~:[bad~;good~]" ok)
              (secret-send (lambda ()
                             (send-smtp-auth (server d :auth-mechanism :plain)
                                             *from* *to* *secret-user*
                                             password
                                             (format nil "Subject: raw~%~%x"))))
              :ok ok)
             (let ((printed '()))
               (check-secret-run
                (format nil "with-smtp-connection ~:[bad~;good~]" ok)
                (secret-send
                 (lambda ()
                   (with-smtp-connection (c (server d :auth-mechanism :login)
                                            :login *secret-user*
                                            :password password)
                     (push (princ-to-string c) printed)
                     (push (prin1-to-string c) printed)
                     (send-letter c *from* *to* "one")
                     (send-letter c *from* *to* "two"))))
                :ok ok)
               (check-no-secrets "the connection object" printed)))
    (is (= 3 (length (letters d))))
    (check-no-secrets "the saved letters" (saved-texts d))))

(test secret-connection-described
  "The SMTP-CONNECTION of WITH-SMTP-CONNECTION keeps no password (C
compares credentials given again: po_smtp_has_credentials) and no
:OAUTH-TOKEN (dropped once the C handle has it), so DESCRIBE or the
inspector cannot show them."
  (progn
      (with-secret-server (d)
        (with-smtp-connection (c (server d :oauth-token *secret-token*)
                                 :login *secret-user*
                                 :password *secret-password*)
          (check-no-secrets "the connection, described"
                            (list (secret-describe c)
                                  (let ((*print-length* nil)
                                        (*print-level* nil))
                                    (secret-describe c))))))))

(test secret-xoauth2-with-password-designators
  "Credentials given in other ways: a token with a password as well, a
bearer token for a mechanism the server lacks, and implicit TLS."
  (with-secret-server (d "--tls" "implicit" "--cert" (cert "server.pem")
                         "--key" (cert "server.key"))
    (let ((run (secret-send
                (lambda ()
                  (send-letter (server d :ssl t :ca-file (cert "ca.pem")
                                         :oauth-token *secret-token*)
                               *from* *to* "x" :login *secret-user*
                               :password *secret-password*)))))
      (check-secret-run "TLS, token and password" run :ok t))
    (let ((run (secret-send
                (lambda ()
                  (send-letter (server d :ssl t :ca-file (cert "ca.pem")
                                         :auth-mechanism :plain)
                               *from* *to* "x" :login *secret-user*
                               :password *secret-wrong-password*)))))
      (check-secret-run "TLS, bad password" run :ok nil)))
  ;; a mechanism the server does not offer: no AUTH sent at all
  (with-smtpd (d "--auth" "required" "--user" *secret-user* "--password"
                 *secret-password* "--mechanisms" "LOGIN")
    (let ((run (secret-send
                (lambda ()
                  (send-letter (server d :auth-mechanism :xoauth2
                                         :oauth-token *secret-token*)
                               *from* *to* "x" :login *secret-user*)))))
      (is (typep (first (secret-run-conditions run))
                 'smtp-authentication-error))
      (check-no-secrets "no usable mechanism"
                        (cons (secret-run-trace run)
                              (mapcan #'secret-condition-texts
                                      (secret-run-conditions run)))))))

(test secret-credentials-unused
  "A server without AUTH: the SMTP-CREDENTIALS-UNUSED warning and the
trace hold no secret."
  (with-smtpd (d)
    (let ((run (secret-send
                (lambda ()
                  (send-letter (server d) *from* *to* "x"
                               :login *secret-user*
                               :password *secret-password*)))))
      (is (sent-p (secret-run-value run)))
      (is (some (lambda (c) (typep c 'smtp-credentials-unused))
                (secret-run-conditions run)))
      (check-no-secrets "credentials unused"
                        (cons (secret-run-trace run)
                              (mapcan #'secret-condition-texts
                                      (secret-run-conditions run)))))
    (check-no-secrets "the saved letter" (saved-texts d))))

(test secret-argument-errors
  "Designators and arguments that are refused before connecting: the
reports never show the token or the key password."
  (let ((designators
          (list (list "127.0.0.1" :port 2525 :oauth-token *secret-token*
                      :no-such-option 1)
                (list "127.0.0.1" :port 2525 :oauth-token *secret-token*
                      :method :no-such-method)
                (list "127.0.0.1" :port 2525
                      :certificate-password *secret-password*
                      :verify :perhaps)
                (list "127.0.0.1" :port 2525
                      :certificate-password *secret-password*
                      :timeout -1)
                (list "127.0.0.1" :port "no port" :oauth-token *secret-token*)
                (list "127.0.0.1" :port 2525
                      :oauth-token (list *secret-token*)))))
    (dolist (designator designators)
      (let ((e (handler-case (send-letter designator *from* *to* "x"
                                          :login *secret-user*)
                 (error (e) e))))
        (is (typep e 'smtp-argument-error) "~a" e)
        (check-no-secrets "an argument error" (secret-condition-texts e)))))
  ;; a token without the user it was issued for
  (let ((e (handler-case (send-letter (list "127.0.0.1" :port 2525
                                            :oauth-token *secret-token*)
                                      *from* *to* "x")
             (error (e) e))))
    (is (typep e 'smtp-argument-error) "~a" e)
    (check-no-secrets "a token without LOGIN" (secret-condition-texts e)))
  ;; a password with a NUL in it
  (let ((e (handler-case (send-letter "127.0.0.1:2525" *from* *to* "x"
                                      :login *secret-user*
                                      :password (format nil "~a~c"
                                                        *secret-password*
                                                        (code-char 0)))
             (error (e) e))))
    (is (typep e 'smtp-error) "~a" e)
    (check-no-secrets "a password with a NUL" (secret-condition-texts e))))

;;; ------------------------------------------------------------------
;;; Captured letters (WITH-CAPTURED-LETTERS, when the system has it)

(defun secret-capture-symbol (name)
  "The symbol NAME of NET.POST-OFFICE if it names a function or macro."
  (let ((symbol (find-symbol name :net.post-office)))
    (and symbol (fboundp symbol) symbol)))

(defun secret-capture-available-p ()
  "True if the system has WITH-CAPTURED-LETTERS and its readers."
  (let ((macro (secret-capture-symbol "WITH-CAPTURED-LETTERS")))
    (and macro
         (macro-function macro)
         (secret-capture-symbol "CAPTURED-LETTERS")
         (secret-capture-symbol "CAPTURED-LETTER-OCTETS"))))

(defun secret-call-capturing (thunk)
  "Calls THUNK inside WITH-CAPTURED-LETTERS (looked up when called, so
that this file compiles without it).  Returns the mailbox."
  (funcall (coerce `(lambda (thunk)
                      (,(secret-capture-symbol "WITH-CAPTURED-LETTERS")
                       (mailbox)
                       (funcall thunk)
                       mailbox))
                   'function)
           thunk))

(test secret-captured-letters
  "Letters sent with credentials inside WITH-CAPTURED-LETTERS: no secret
in their octets, envelope, printed or described form, nor in the
mailbox's."
  (if (not (secret-capture-available-p))
      (skip "WITH-CAPTURED-LETTERS is not in the system yet")
      (let* ((letters-function (secret-capture-symbol "CAPTURED-LETTERS"))
             (octets-function (secret-capture-symbol
                               "CAPTURED-LETTER-OCTETS"))
             (mailbox
               (secret-call-capturing
                (lambda ()
                  (send-letter "127.0.0.1:2525" *from* *to* "password"
                               :login *secret-user*
                               :password *secret-password*)
                  (send-letter (list "127.0.0.1" :port 2525
                                     :oauth-token *secret-token*
                                     :auth-mechanism :xoauth2)
                               *from* *to* "token" :login *secret-user*)
                  (send-smtp-auth "127.0.0.1:2525" *from* *to* *secret-user*
                                  *secret-password*
                                  (format nil "Subject: raw~%~%raw"))
                  (with-smtp-connection (c "127.0.0.1:2525"
                                           :login *secret-user*
                                           :password *secret-password*)
                    (send-letter c *from* *to* "connection")))))
             (letters (funcall letters-function mailbox)))
        (is (= 4 (length letters)) "~s" letters)
        (check-no-secrets "the mailbox" (list (princ-to-string mailbox)
                                              (secret-describe mailbox)))
        (dolist (letter letters)
          (check-no-secrets
           "a captured letter"
           (list (net.post-office::decode-utf8
                  (coerce (funcall octets-function letter)
                          '(simple-array (unsigned-byte 8) (*))))
                 (map 'string #'code-char (funcall octets-function letter))
                 (princ-to-string letter)
                 (secret-describe letter)))))))
