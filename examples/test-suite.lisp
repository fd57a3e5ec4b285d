;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; test-suite.lisp - testing code that sends mail, with FiveAM and
;;; WITH-CAPTURED-LETTERS: no server is needed, nothing is sent, and the
;;; tests look at each letter exactly as it would have gone out.
;;;
;;; SEND-WELCOME stands for your application's code.  The suite
;;; WELCOME-MAIL checks its letter: envelope, decoded headers, text and
;;; attachment.
;;;
;;; By hand:
;;;
;;;   (asdf:load-system "fiveam")
;;;   (load "examples/test-suite.lisp")
;;;   (fiveam:run! 'smtp-example-test-suite::welcome-mail)

(defpackage :smtp-example-test-suite
  (:use :cl :postoffice :fiveam)
  (:export #:send-welcome #:welcome-mail))

(in-package :smtp-example-test-suite)

;;; The code under test

(defun send-welcome (mail-server name address)
  "Sends the welcome letter to the new user NAME at ADDRESS through
MAIL-SERVER, with the terms as an attachment and a copy for the
archive.  Returns the letter's Message-ID."
  (send-letter mail-server "Example Shop <shop@example.com>"
               (format nil "~a <~a>" name address)
               (format nil "Welcome, ~a!~%~%Your account is ready.~%" name)
               :subject (format nil "Welcome, ~a" name)
               :bcc "archive@example.com"
               :attachments
               (make-mime-part
                :text (format nil "Terms and conditions.~%")
                :content-type "text/plain"
                :name "Geschäftsbedingungen.txt"
                :attachmentp t)))

;;; The tests

(def-suite welcome-mail
  :description "The welcome letter, checked with WITH-CAPTURED-LETTERS.")

(in-suite welcome-mail)

(test welcome-letter
  "One letter, to the user and the archive, with a personal subject,
text and the terms attached."
  (with-captured-letters (mailbox)
    ;; any designator: nothing is sent inside WITH-CAPTURED-LETTERS
    (let ((message-id (send-welcome "smtp.example.com" "Zoë"
                                    "zoe@example.net")))
      (let ((letters (captured-letters mailbox)))
        (is (= 1 (length letters)))
        (let ((letter (first letters)))
          (is (string= "shop@example.com" (captured-letter-from letter)))
          (is (equal '("zoe@example.net" "archive@example.com")
                     (captured-letter-recipients letter)))
          ;; headers come back decoded
          (is (string= "Welcome, Zoë" (captured-letter-header letter
                                                               "Subject")))
          (is (string= "Zoë <zoe@example.net>"
                       (captured-letter-header letter "To")))
          (is (null (captured-letter-header letter "Bcc")))
          (is (string= message-id (captured-letter-message-id letter)))
          (is (search "Your account is ready."
                      (captured-letter-text letter)))
          (destructuring-bind ((name type octets))
              (captured-letter-attachments letter)
            (is (string= "Geschäftsbedingungen.txt" name))
            (is (string= "text/plain" type))
            ;; a text attachment travels with CRLF line endings
            (is (equalp (map 'vector #'char-code
                             (format nil "Terms and conditions.~c~c"
                                     #\Return #\Newline))
                        octets))))))))

(test welcome-bad-address
  "A malformed address is refused before anything is sent."
  (with-captured-letters (mailbox)
    (signals smtp-argument-error
      (send-welcome "smtp.example.com" "Eve" "not an address"))
    (is (null (captured-letters mailbox)))))
