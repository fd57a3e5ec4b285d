;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; demo.lisp - what `make demo` runs: one letter with a non-ASCII subject
;;; and an attachment, sent with Allegro's SEND-LETTER to the SMTP server
;;; listening on 127.0.0.1 at port $DEMO_PORT (scripts/demo.sh starts one).
;;; Run it yourself from the checkout after `make` with
;;;
;;;   DEMO_PORT=2525 DEMO_ATTACHMENT=file.txt \
;;;     sbcl --non-interactive --load examples/demo.lisp

(require :asdf)
(asdf:load-asd (merge-pathnames "smtp.asd" (uiop:getcwd)))
(let ((*compile-verbose* nil))           ; no "; compiling file" lines
  (asdf:load-system "smtp"))

(defpackage :demo (:use :cl :net.post-office))
(in-package :demo)

(let ((port (parse-integer (uiop:getenv "DEMO_PORT")))
      (attachment (uiop:getenv "DEMO_ATTACHMENT")))
  ;; Show the dialogue, as Allegro's *smtp-debug* does (secrets masked).
  (let ((net.post-office::*smtp-debug* *standard-output*))
    (let ((message-id
            (send-letter (list "127.0.0.1" :port port)
                         "Jörg Müller <joerg@example.com>"
                         '("ann@example.com" "Bob <bob@example.com>")
                         (format nil "Hello Ann and Bob,~%~%the report is ~
attached.~%~%-- ~%Jörg~%")
                         :subject "Grüße aus Köln: the report ✓"
                         :cc "carol@example.com"
                         :bcc "audit@example.com"
                         :attachments attachment)))
      (format t "~&~%send-letter returned the Message-ID ~a~%  server: ~a~%"
              message-id postoffice:*smtp-last-reply*))))
