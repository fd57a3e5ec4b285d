;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; alternative.lisp - a letter with a plain text and an HTML version
;;; (multipart/alternative), the HTML showing an inline image it refers
;;; to by its Content-ID (multipart/related), built with Allegro's
;;; MAKE-MIME-PART.  A reader shows the HTML if it can, else the text.
;;;
;;;   multipart/alternative
;;;     text/plain
;;;     multipart/related
;;;       text/html          <img src="cid:logo@example.com">
;;;       image/png          Content-ID: <logo@example.com>
;;;
;;; By hand, with a server as in plain-letter.lisp:
;;;
;;;   (load "examples/alternative.lisp")
;;;   (smtp-example-alternative:send-alternative-letter "127.0.0.1:2525")

(defpackage :smtp-example-alternative
  (:use :cl :net.post-office)
  (:export #:send-alternative-letter #:*logo*))

(in-package :smtp-example-alternative)

(defparameter *logo*
  (coerce #(137 80 78 71 13 10 26 10 0 0 0 13 73 72 68 82 0 0 0 1 0 0 0 1
            8 2 0 0 0 144 119 83 222 0 0 0 12 73 68 65 84 120 156 99 56 195
            192 0 0 2 104 0 205 37 226 156 110 0 0 0 0 73 69 78 68 174 66 96
            130)
          '(vector (unsigned-byte 8)))
  "A one-pixel PNG image, as octets.  (make-mime-part :file
\"logo.png\") would read one from a file instead.")

(defun send-alternative-letter (mail-server
                                &key (from "news@example.com")
                                     (to "ann@example.net"))
  "Sends a multipart/alternative letter from FROM to TO through
MAIL-SERVER: a text version, and an HTML version with an inline image.
Returns what SEND-LETTER returns: T, the Message-ID and the server's
final reply."
  (let* ((text (make-mime-part
                :text (format nil "Our news~%~%Spring is here.~%")))
         (html (make-mime-part
                :content-type "text/html"
                :text (format nil "<html><body><h1>Our news</h1>~
<p>Spring is here.</p><img src=\"cid:logo@example.com\" alt=\"logo\">~
</body></html>~%")))
         ;; :id gives the Content-ID the HTML refers to; octets make an
         ;; inline part (no file name, not an attachment)
         (logo (make-mime-part :content-type "image/png"
                               :text *logo*
                               :id "logo@example.com"))
         (related (make-mime-part :content-type "multipart/related"
                                  :subparts (list html logo)))
         (letter (make-mime-part :content-type "multipart/alternative"
                                 :subparts (list text related))))
    (send-letter mail-server from to letter :subject "Our news")))
