;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; preview.lisp - PREVIEW-LETTER: every kind of letter it takes (a
;;; captured letter, octets, an .eml file of the (:FILE ...) transport
;;; with its envelope, a MIME part), bad input, errors, and opening the
;;; page.  The page itself (escaping, saved parts) is tested in C
;;; (tests-c/test_preview.c) and in a browser (tests-c/test_browser.c);
;;; here, that Lisp hands the C library the right octets and envelope.

(in-package :net.post-office.tests)

(def-suite :smtp.preview :in :smtp
  :description "PREVIEW-LETTER.")

(in-suite :smtp.preview)

(defun pv-page (pathname)
  "The text of the page PATHNAME."
  (read-file-string pathname))

(defun pv-has (page &rest needles)
  "True if PAGE contains every one of NEEDLES."
  (every (lambda (needle) (search needle page)) needles))

(defun pv-files (directory)
  "The names of the files in DIRECTORY, sorted."
  (sort (mapcar #'file-namestring
                (directory (merge-pathnames
                            (make-pathname :name :wild :type :wild)
                            directory)))
        #'string<))

(defun pv-setenv (name value)
  "Sets (VALUE a string) or removes (NIL) the environment variable NAME
of this process, where C's getenv sees it."
  (if value
      (cffi:foreign-funcall "setenv" :string name :string value :int 1 :int)
      (cffi:foreign-funcall "unsetenv" :string name :int)))

(defmacro pv-with-env ((&rest bindings) &body body)
  "Executes BODY with the environment variables of BINDINGS ((NAME
VALUE) ...) set, restoring them afterwards."
  (let ((saved (gensym "SAVED")))
    `(let ((,saved (list ,@(loop for (name) in bindings
                                 collect `(cons ,name (uiop:getenv ,name))))))
       (unwind-protect
            (progn ,@(loop for (name value) in bindings
                           collect `(pv-setenv ,name ,value))
                   ,@body)
         (loop for (name . value) in ,saved
               do (pv-setenv name (and value (plusp (length value))
                                       value)))))))

(defun pv-send (box)
  "Captures into BOX a letter with an envelope, a Bcc, non-ASCII header
text and an attachment with a non-ASCII name; returns it."
  (declare (ignore box))
  (send-letter "127.0.0.1:1" "Jörg Müller <joerg@example.com>"
               '("Zoë <zoe@example.net>")
               (format nil "Hallo <Zoë> & co.~%")
               :subject "Grüße <b>✓</b>"
               :bcc "hidden@example.net"
               :attachments
               (list (make-mime-part :content-type "application/pdf"
                                     :text (net.post-office::string-to-utf8
                                            "%PDF-1.4")
                                     :name "Überweisung März.pdf"
                                     :attachmentp t))))

(test preview-captured-letter
  "A captured letter: the page is written under DIRECTORY, shows the
decoded, escaped header fields, the envelope with the Bcc, the text and
the attachment; with :OPEN NIL the second value is NIL."
  (let ((dir (make-temp-dir "preview-captured")))
    (with-captured-letters (box)
      (pv-send box)
      (multiple-value-bind (page opened)
          (preview-letter (first (captured-letters box)) :open nil
                                                         :directory dir)
        (is (pathnamep page))
        (is (null opened))
        (is (string= "index.html" (file-namestring page)))
        (is (probe-file page))
        (is (eql 0 (search (native dir) (native page))))
        (let ((text (pv-page page)))
          (is (pv-has text
                      "<h1 id=\"subject\"><bdi>Grüße &lt;b&gt;✓&lt;/b&gt;"
                      "<dt>From</dt><dd><bdi>Jörg Müller &lt;joerg@"
                      "<dt>MAIL FROM</dt><dd><bdi>joerg@example.com"
                      "id=\"bcc\"><bdi>hidden@example.net</bdi>"
                      "<pre id=\"text\">Hallo &lt;Zoë&gt; &amp; co."
                      "<bdi>Überweisung März.pdf</bdi>")))
        (is (equal '("index.html" "letter.eml" "part-2.pdf")
                   (pv-files (uiop:pathname-directory-pathname page))))
        (is (equalp (captured-letter-octets (first (captured-letters box)))
                    (read-file-octets (merge-pathnames "letter.eml"
                                                       page))))))))

(test preview-octets-and-parts
  "Octets are shown as they are, without an envelope; a
MIME-PART-CONSTRUCTED is rendered by the library first; a string as a
directory works like a pathname."
  (let ((dir (make-temp-dir "preview-octets")))
    (with-captured-letters (box)
      (pv-send box)
      (let* ((octets (captured-letter-octets (first (captured-letters box))))
             (text (pv-page (preview-letter octets :open nil
                                                   :directory (native dir)))))
        (is (pv-has text "Grüße &lt;b&gt;✓&lt;/b&gt;"
                    "Not known: only the letter was given"))
        (is (not (search "hidden@example.net" text)))
        ;; a general vector of integers
        (is (pv-has (pv-page (preview-letter (coerce octets 'simple-vector)
                                             :open nil :directory dir))
                    "Grüße"))))
    (let* ((part (make-mime-part
                  :content-type "multipart/alternative"
                  :subparts (list (make-mime-part :text "plain ✓")
                                  (make-mime-part
                                   :content-type "text/html"
                                   :text "<p>Hi &amp; <i>bye</i></p>"))))
           (text (pv-page (preview-letter part :open nil :directory dir))))
      (is (pv-has text "<iframe sandbox=\"\""
                      "&lt;p&gt;Hi &amp;amp; &lt;i&gt;bye&lt;/i&gt;&lt;/p&gt;"
                      "<pre id=\"text\">plain ✓</pre>"
                      "<h1 id=\"subject\" class=\"none\">(no subject)")))))

(test preview-eml-file
  "An .eml file written by the (:FILE ...) transport: its envelope comes
from the .envelope file beside it, so the Bcc shows; without that file,
none."
  (let* ((dir (make-temp-dir "preview-eml"))
         (out (make-temp-dir "preview-eml-out"))
         (eml (progn (send-letter (cons :file (native dir))
                                  "a@example.org" "b@example.net"
                                  "Body ✓" :subject "From a file"
                                  :bcc "secret@example.net")
                     ;; the file transport's "reply": the .eml's name
                     *smtp-last-reply*))
         (page (preview-letter (pathname eml) :open nil :directory out)))
    (is (pv-has (pv-page page)
                "<bdi>From a file</bdi>"
                "<dt>MAIL FROM</dt><dd><bdi>a@example.org"
                "id=\"bcc\"><bdi>secret@example.net</bdi>"
                "<pre id=\"text\">Body ✓"))
    (delete-file (make-pathname :type "envelope" :defaults (pathname eml)))
    (is (pv-has (pv-page (preview-letter (pathname eml) :open nil
                                                        :directory out))
                "Not known: only the letter was given"))))

(test preview-bad-input
  "Input that is no letter still gives a page that says so; what is not
a letter designator, a missing file and a missing directory signal."
  (let ((dir (make-temp-dir "preview-bad")))
    (is (pv-has (pv-page (preview-letter (cap-octets "garbage" 0 255)
                                         :open nil :directory dir))
                "no header fields: this does not look like a letter"))
    (is (pv-has (pv-page (preview-letter
                          (cap-octets "Content-Type: multipart/mixed; "
                                      "boundary=b" 13 10 13 10 "--b" 13 10
                                      13 10 "cut sh")
                          :open nil :directory dir))
                "the closing boundary is missing"
                "<pre id=\"text\">cut sh</pre>"))
    (signals smtp-argument-error (preview-letter 42 :open nil))
    (signals smtp-argument-error (preview-letter "Subject: x" :open nil))
    (signals smtp-argument-error (preview-letter #(1 2 300) :open nil))
    (let ((condition (handler-case
                         (preview-letter (merge-pathnames "none.eml" dir)
                                         :open nil)
                       (smtp-file-error (condition) condition))))
      (is (typep condition 'smtp-file-error))
      (is (search "none.eml" (princ-to-string condition))))
    (signals smtp-file-error
      (preview-letter (cap-octets "Subject: x" 13 10 13 10)
                      :open nil
                      :directory (merge-pathnames "missing/" dir)))))

(test preview-open
  ":OPEN T starts $BROWSER (or xdg-open) with the page and returns T;
with no browser it returns NIL and signals nothing."
  (let* ((dir (make-temp-dir "preview-open"))
         (script (merge-pathnames "browser.sh" dir))
         (out (merge-pathnames "opened" dir)))
    (write-file script (format nil "#!/bin/sh~%printf '%s\\n' \"$1\" > ~
\"$OUT.tmp\"; /bin/mv \"$OUT.tmp\" \"$OUT\"~%"))
    (cffi:foreign-funcall "chmod" :string (native script) :int #o755 :int)
    (pv-with-env (("BROWSER" (native script)) ("OUT" (native out)))
      (multiple-value-bind (page opened)
          (preview-letter (cap-octets "Subject: open me" 13 10 13 10 "x")
                          :directory dir)
        (is (eq t opened))
        (is (loop repeat 500
                  thereis (probe-file out)
                  do (sleep 0.02)))
        (is (string= (format nil "~a~%" (native page))
                     (read-file-string out)))))
    (pv-with-env (("BROWSER" nil) ("PATH" (native dir)))
      (multiple-value-bind (page opened)
          (preview-letter (cap-octets "Subject: no browser" 13 10 13 10)
                          :directory dir)
        (is (probe-file page))
        (is (null opened))))))

(test preview-exported
  "PREVIEW-LETTER is exported from POSTOFFICE, documented, and not
exported from NET.POST-OFFICE (Allegro's names only)."
  (is (eq :external (nth-value 1 (find-symbol "PREVIEW-LETTER"
                                              :postoffice))))
  (is (not (eq :external (nth-value 1 (find-symbol "PREVIEW-LETTER"
                                                   :net.post-office)))))
  (is (documentation 'preview-letter 'function)))
