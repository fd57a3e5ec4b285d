;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; preview.lisp - PREVIEW-LETTER: a letter as its reader will see it,
;;; as an HTML page in the browser.
;;;
;;; The page is the C library's (po_preview_write, c/preview.c), the
;;; same the command line's `postoffice preview` writes: Lisp only finds
;;; the letter's wire octets and its envelope and hands them over.  A
;;; captured letter has both; an .eml file written by the (:FILE ...)
;;; transport has its envelope in the .envelope file beside it; a
;;; MIME-PART-CONSTRUCTED is rendered by the C library as
;;; MIME-PART-WRITER renders it; octets are taken as they are.

(in-package :net.post-office)

(defun read-file-octets-or-lose (pathname)
  "The contents of the file PATHNAME, an octet vector; signals an
SMTP-FILE-ERROR if it cannot be read."
  (handler-case
      (with-open-file (in pathname :element-type '(unsigned-byte 8))
        (let ((octets (make-array (file-length in)
                                  :element-type '(unsigned-byte 8))))
          (let ((n (read-sequence octets in)))
            (if (= n (length octets))
                octets
                (subseq octets 0 n)))))
    (error (condition)
      (error 'smtp-file-error
             :status (if (probe-file pathname) :eacces :enoent)
             :pathname (uiop:native-namestring pathname)
             :format-control (escape-tildes
                              (format nil "Cannot read the letter ~a: ~a"
                                      (uiop:native-namestring pathname)
                                      condition))
             :format-arguments '()))))

(defun envelope-file-text (pathname)
  "The text of the .envelope file beside the .eml file PATHNAME (as the
\(:FILE ...) transport writes them), or NIL if there is none."
  (when (string-equal (pathname-type pathname) "eml")
    (let ((envelope (make-pathname :type "envelope" :defaults pathname)))
      (ignore-errors
       (and (probe-file envelope)
            (decode-utf8 (read-file-octets-or-lose envelope)))))))

(defun part-octets (part)
  "The wire octets of the MIME-PART-CONSTRUCTED PART as MIME-PART-WRITER
renders it to a binary stream (CRLF line endings)."
  (call-with-part-reader
   part 0
   (lambda (reader scope)
     (let ((buffer (cffi:foreign-alloc :uint8 :count +chunk-size+))
           (chunks '())
           (total 0))
       (unwind-protect
            (cffi:with-foreign-object (n-out :size)
              (loop
                (check-status (%po-reader-read reader buffer +chunk-size+
                                               n-out)
                              :scope scope)
                (let ((n (cffi:mem-ref n-out :size)))
                  (when (zerop n)
                    (return))
                  (let ((chunk (make-array n :element-type
                                           '(unsigned-byte 8))))
                    (copy-from-foreign buffer 0 n chunk 0)
                    (push chunk chunks)
                    (incf total n)))))
         (cffi:foreign-free buffer))
       (let ((octets (make-array total :element-type '(unsigned-byte 8)))
             (start 0))
         (dolist (chunk (nreverse chunks) octets)
           (replace octets chunk :start1 start)
           (incf start (length chunk))))))))

(defun preview-directory-name (directory)
  "The native name of DIRECTORY (a pathname or a native name string),
taken as a directory even without a trailing slash."
  (string-right-trim
   "/"
   (uiop:native-namestring
    (merge-pathnames (uiop:ensure-directory-pathname
                      (if (stringp directory)
                          (uiop:parse-native-namestring directory)
                          directory))))))

(defun native-name-from-pointer (pointer)
  "The file name C returned at POINTER (NUL-terminated octets) as this
Lisp names files: UTF-8, Latin-1 on ECL (see the FILE-NAME type)."
  #+ecl (let ((octets (loop for i from 0
                            for octet = (cffi:mem-aref pointer :uint8 i)
                            until (zerop octet)
                            collect octet)))
          (map 'string #'code-char octets))
  #-ecl (decode-utf8-pointer pointer))

(defun preview-letter (letter &key (open t) directory)
  "Writes an HTML page that shows LETTER as its reader will see it, and
returns two values: the pathname of the page and whether it was opened
in a browser.

LETTER is a CAPTURED-LETTER (from WITH-CAPTURED-LETTERS), a vector of
octets (a letter as it goes on the wire), the pathname of an .eml file
\(such as the (:FILE ...) transport writes; its envelope is read from
the .envelope file beside it) or a MIME-PART-CONSTRUCTED (rendered by
the library as MIME-PART-WRITER renders it).  The page is built by the
library's C reader from these octets, so it shows what a receiver gets.

The page shows the envelope when one is known (MAIL FROM, RCPT TO, and
as Bcc the recipients no To or Cc header names), the decoded From, To,
Cc, Reply-To, Subject, Date and Message-ID, the HTML part in a
sandboxed frame that runs no scripts and loads nothing from the network
\(images of the letter's multipart/related shown inline), the text
part and the raw source in tabs, every other part with its type, size
and a link to its saved file, and what could not be read (a truncated
letter, an unknown charset ...): bad input still gives a page.

The page (index.html) and the parts (under names the page makes up,
never names from the letter) are written into a fresh directory,
readable by the user only, made under DIRECTORY (a pathname or native
name; default: $TMPDIR or /tmp).  With OPEN true (the default) the page
is opened with $BROWSER or xdg-open, in the background; when there is
no browser nothing happens and the second value is NIL.  Tests should
pass :OPEN NIL.

Signals SMTP-FILE-ERROR when the .eml file cannot be read or the
directory cannot be made (SMTP-INPUT-ERROR when writing into it fails),
SMTP-ARGUMENT-ERROR when LETTER is none of the above."
  (multiple-value-bind (octets from recipients envelope-text)
      (typecase letter
        (captured-letter
         (values (captured-letter-octets letter)
                 (captured-letter-from letter)
                 (captured-letter-recipients letter)))
        ((or pathname)
         (values (read-file-octets-or-lose letter) nil nil
                 (envelope-file-text letter)))
        (mime-part-constructed
         (part-octets letter))
        ((and vector (not string))
         (if (every (lambda (x) (typep x '(unsigned-byte 8))) letter)
             (coerce letter 'octets)
             (smtp-argument-error "PREVIEW-LETTER: the vector ~s is not a ~
vector of octets." letter)))
        (t
         (smtp-argument-error "PREVIEW-LETTER needs a captured letter, a ~
vector of octets, the pathname of an .eml file or a MIME part, not ~s."
                              letter)))
    (let ((preview (check-pointer (%po-preview-new) "a preview")))
      (unwind-protect
           (progn
             (when directory
               (check-status (%po-preview-set-directory
                              preview (preview-directory-name directory))))
             (cond (envelope-text
                    (call-with-octets-pointer
                     (string-to-utf8 envelope-text)
                     (lambda (pointer length)
                       (check-status (%po-preview-read-envelope
                                      preview pointer length)))))
                   ((or from recipients)
                    (when from
                      (check-status (%po-preview-set-envelope-from
                                     preview from)))
                    (dolist (recipient recipients)
                      (check-status (%po-preview-add-recipient
                                     preview recipient)))))
             (call-with-octets-pointer
              octets
              (lambda (pointer length)
                (check-status (%po-preview-write preview pointer length)
                              :file (and directory
                                         (preview-directory-name
                                          directory)))))
             (let ((path (%po-preview-path preview)))
               (values (uiop:parse-native-namestring
                        (native-name-from-pointer path))
                       (and open (zerop (%po-preview-open path))))))
        (%po-preview-free preview)))))
