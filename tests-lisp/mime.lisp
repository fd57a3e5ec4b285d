;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; mime.lisp - MAKE-MIME-PART's defaults (allegro-reference §1.4, step
;;; by step), the charset table, the accessors and their effect on the
;;; output, MIME-GET-HEADER, MAP-OVER-PARTS, MIME-PART-WRITER and
;;; WITH-MIME-PART-CONSTRUCTED-STREAM.

(in-package :net.post-office.tests)

(def-suite :smtp.mime :in :smtp
  :description "MIME parts: construction, accessors, rendering.")

(in-suite :smtp.mime)

(defun render (part)
  "What MIME-PART-WRITER writes for PART to a character stream."
  (with-output-to-string (out)
    (mime-part-writer part :stream out)))

(defun render-octets (part)
  "What MIME-PART-WRITER writes for PART to a binary stream."
  (let ((file (merge-pathnames "render.bin" (make-temp-dir "render"))))
    (with-open-file (out file :direction :output
                              :element-type '(unsigned-byte 8))
      (mime-part-writer part :stream out))
    (read-file-octets file)))

(defun disposition-of (part)
  "The internal disposition and its filename of PART."
  (list (net.post-office::disposition part)
        (net.post-office::disposition-name part)))

(defun temp-file (name content)
  "A new file NAME holding CONTENT; returns its native name."
  (write-file (merge-pathnames name (make-temp-dir "file")) content))

(defun boundary-p (string)
  "True if STRING has Allegro's boundary shape: ^----------_[0-9a-e]{32}$."
  (and (stringp string)
       (= 43 (length string))
       (string= "----------_" string :end2 11)
       (every (lambda (c) (find c "0123456789abcde")) (subseq string 11))))

(test step-1-text-and-file
  "Text and file together are an error; END defaults to the length."
  (signals smtp-argument-error
    (make-mime-part :text "x" :file "/etc/hostname"))
  (is (equalp (ascii "bcd")
              (net.post-office::source
               (make-mime-part :text "abcde" :start 1 :end 4))))
  (is (equalp (ascii "cde")
              (net.post-office::source
               (make-mime-part :text "abcde" :start 2))))
  (is (equalp #(2 3)
              (net.post-office::source
               (make-mime-part :text (ascii (format nil "~c~c~c~c"
                                                    (code-char 1)
                                                    (code-char 2)
                                                    (code-char 3)
                                                    (code-char 4)))
                               :start 1 :end 3)))))

(test step-3-default-content-type
  "The default content type: guessed from the file name, else
multipart/mixed, octet-stream for files, text/plain for strings,
octet-stream for octets."
  (flet ((type-of-part (part)
           (format nil "~a/~a" (mime-part-type part)
                   (mime-part-subtype part))))
    (is (string= "text/plain" (type-of-part (make-mime-part :text "x"))))
    (is (string= "application/octet-stream"
                 (type-of-part (make-mime-part :text (ascii "x")))))
    (is (string= "application/pdf"
                 (type-of-part (make-mime-part
                                :file (temp-file "a.pdf" "%PDF")))))
    (is (string= "text/html"
                 (type-of-part (make-mime-part
                                :file (temp-file "Page.HTML" "<p>")))))
    (is (string= "application/x-gzip"
                 (type-of-part (make-mime-part
                                :file (temp-file "x.tar.gz" "gz")))))
    (is (string= "application/octet-stream"
                 (type-of-part (make-mime-part
                                :file (temp-file ".bashrc" "x")))))
    (is (string= "application/octet-stream"
                 (type-of-part (make-mime-part
                                :file (temp-file "noextension" "x")))))
    (is (string= "multipart/mixed"
                 (type-of-part (make-mime-part
                                :subparts (list (make-mime-part
                                                 :text "x"))))))
    (with-open-file (in (temp-file "s.png" "png")
                        :element-type '(unsigned-byte 8))
      (is (string= "image/png"
                   (type-of-part (make-mime-part :file in)))))
    (is (string= "image/gif"
                 (type-of-part (make-mime-part :content-type "image/gif"
                                               :text (ascii "GIF")))))))

(test step-4-5-content-type-checks
  "A content type without a slash, subparts on a leaf and a leaf without
content are errors; a multipart without subparts is fine.  Parameters in
the type string pass through (Q19)."
  (signals smtp-argument-error (make-mime-part :content-type "text"
                                               :text "x"))
  (signals smtp-argument-error
    (make-mime-part :content-type "text/plain"
                    :subparts (list (make-mime-part :text "x"))))
  (signals smtp-argument-error (make-mime-part :content-type "text/plain"))
  (is (mime-part-constructed-p
       (make-mime-part :content-type "multipart/alternative")))
  (let ((part (make-mime-part :content-type "text/html; format=flowed"
                              :text "<p>")))
    (is (string= "html; format=flowed" (mime-part-subtype part)))
    (is (contains (render part) "format="))))

(test step-6-charset
  "Text parts (and message/rfc822) get the charset of the external
format; an explicit charset is kept even on other types."
  (flet ((charset (part)
           (cdr (assoc "charset" (mime-part-parameters part)
                       :test #'string=))))
    (is (string= "utf-8" (charset (make-mime-part :text "x"))))
    (is (string= "iso-8859-1"
                 (charset (make-mime-part :text "x"
                                          :external-format :latin1))))
    (is (string= "us-ascii"
                 (charset (make-mime-part :text "x"
                                          :external-format :ascii))))
    (is (string= "utf-8"
                 (charset (make-mime-part :content-type "message/rfc822"
                                          :text "Subject: x

y"))))
    (is (null (charset (make-mime-part :text (ascii "x")))))
    (is (string= "koi8-r"
                 (charset (make-mime-part :content-type "application/x-y"
                                          :text (ascii "x")
                                          :charset "koi8-r"))))
    (is (string= "utf-8"
                 (charset (make-mime-part :file (temp-file "t.txt" "x")))))))

(test charset-label-and-octets-agree
  "A charset named in the content-type string is the part's charset (one
charset parameter on the wire, the subtype kept as Allegro keeps it);
with a charset given either way and no external format, the text is
encoded in it when it is known; an explicit external format is obeyed
as given, and an unknown charset stays a label on UTF-8."
  (flet ((charset (part)
           (cdr (assoc "charset" (mime-part-parameters part)
                       :test #'string=)))
         (body (part)
           (with-captured-letters (box)
             (send-letter "127.0.0.1:1" *from* *to* part)
             (let ((letter (first (captured-letters box))))
               (list (captured-letter-text letter)
                     (captured-letter-header letter "Content-Type")
                     (let ((type (captured-letter-header letter
                                                         "Content-Type")))
                       (loop for start = 0 then (1+ at)
                             for at = (search "charset" type :start2 start)
                             while at
                             count t)))))))
    (let ((part (make-mime-part :content-type "text/plain; charset=iso-8859-1"
                                :text "café")))
      (is (string= "iso-8859-1" (charset part)))
      (is (string= "plain; charset=iso-8859-1" (mime-part-subtype part)))
      (is (contains (render part) "Y2Fm6Q=="))   ; "caf" #xE9
      (destructuring-bind (text type n) (body part)
        (is (string= "café" text))
        (is (contains type "iso-8859-1") "~a" type)
        (is (= 1 n) "~a" type)))
    (let ((part (make-mime-part :charset "iso-8859-1" :text "café")))
      (is (contains (render part) "Y2Fm6Q=="))
      (is (string= "café" (first (body part)))))
    (let ((part (make-mime-part :content-type "text/plain; charset=KOI8-R"
                                :text "мир")))
      (is (equalp "koi8-r" (charset part)))
      (is (string= "мир" (first (body part)))))
    ;; explicit external format: Allegro's behaviour, a label only
    (let ((part (make-mime-part :charset "iso-8859-1" :external-format :utf8
                                :text "café")))
      (is (string= "iso-8859-1" (charset part)))
      (is (contains (render part) "Y2Fmw6k=")))  ; UTF-8 octets
    (let ((part (make-mime-part :content-type "text/plain; charset=x-unknown"
                                :text "café")))
      (is (string= "x-unknown" (charset part)))
      (is (contains (render part) "Y2Fmw6k=")))))

(test charset-table
  "Allegro's external format names and the native ones map to MIME
charsets (allegro-reference §3.6)."
  (loop for (format charset)
          in '((:ascii "us-ascii") (:utf8 "utf-8") (:utf-8 "utf-8")
               (:iso-2022-jp "iso-2022-jp") (:koi8-r "koi8-r")
               (:shiftjis "shift_jis") (:shift_jis "shift_jis")
               (:euc "euc-jp") (:euc-jp "euc-jp") (:gb2312 "gb2312")
               (:big5 "big5") (:latin1 "iso-8859-1")
               (:latin-1 "iso-8859-1") (:iso-8859-1 "iso-8859-1")
               (:iso8859-15 "iso-8859-15") (:iso-8859-2 "iso-8859-2")
               (:|1252| "windows-1252") (:cp1252 "windows-1252")
               (:windows-1251 "windows-1251") ((:utf-8 :replacement #\?)
                                               "utf-8")
               (:ebcdic nil) (:no-such-format nil))
        do (is (equal charset
                      (net.post-office::external-format-charset format))
               "~s gave ~s" format
               (net.post-office::external-format-charset format)))
  (is (string= "us-ascii"
               (cdr (assoc "charset"
                           (mime-part-parameters
                            (make-mime-part :text "x"
                                            :external-format :utf-16))
                           :test #'string=)))))

(test step-7-text-encoding
  "String text is encoded with the external format at construction."
  (is (equalp #(104 195 169) (net.post-office::source
                               (make-mime-part :text "hé"))))
  (is (equalp #(104 233) (net.post-office::source
                           (make-mime-part :text "hé"
                                           :external-format :latin1))))
  (is (equalp #(104 233) (net.post-office::source
                           (make-mime-part :text "hé"
                                           :external-format :|1252|))))
  (is (equalp #(164) (net.post-office::source
                       (make-mime-part :text (string (code-char #x20AC))
                                       :external-format :iso-8859-15))))
  (is (equalp #(#x82 #xA0) (net.post-office::source
                             (make-mime-part
                              :text (string (code-char #x3042))
                              :external-format :shiftjis)))))

(test step-8-encoding
  "7bit for ASCII string text, base64 for everything else, none for
multiparts; an explicit encoding is kept."
  (is (string= "7bit" (mime-part-encoding (make-mime-part :text "plain"))))
  (is (string= "base64" (mime-part-encoding (make-mime-part :text "hé"))))
  (is (string= "base64" (mime-part-encoding
                         (make-mime-part :text (ascii "plain")))))
  (is (string= "base64" (mime-part-encoding
                         (make-mime-part :file (temp-file "t.txt" "x")))))
  (is (null (mime-part-encoding (make-mime-part :subparts nil
                                                :content-type
                                                "multipart/mixed"))))
  (is (string= "quoted-printable"
               (mime-part-encoding (make-mime-part
                                    :text "x"
                                    :encoding "quoted-printable")))))

(test step-9-parameters
  "(charset . cs) and then (boundary . b) are pushed on the front of the
caller's alist, which is not modified."
  (let* ((parameters (list (cons "format" "flowed")))
         (copy (copy-tree parameters))
         (text (make-mime-part :text "x" :parameters parameters))
         (multi (make-mime-part :subparts (list text)
                                :parameters parameters)))
    (is (equal '(("charset" . "utf-8") ("format" . "flowed"))
               (mime-part-parameters text)))
    (is (equal "boundary" (car (first (mime-part-parameters multi)))))
    (is (equal (mime-part-boundary multi)
               (cdr (first (mime-part-parameters multi)))))
    (is (equal '("format" . "flowed") (second (mime-part-parameters multi))))
    (is (equal copy parameters))))

(test step-10-11-files-and-disposition
  "File parts: checked at construction, attachment by default with the
base name; :attachmentp nil gives inline for non-text, nothing for
text; :name overrides the filename; text parts have no disposition."
  (let ((pdf (temp-file "report.pdf" "%PDF"))
        (txt (temp-file "notes.txt" "hello")))
    (is (equal '("attachment" "report.pdf")
               (disposition-of (make-mime-part :file pdf))))
    (is (equal '("attachment" "r.pdf")
               (disposition-of (make-mime-part :file pdf :name "r.pdf"))))
    (is (equal '("inline" nil)
               (disposition-of (make-mime-part :file pdf :attachmentp nil))))
    (is (equal '(nil nil)
               (disposition-of (make-mime-part :file txt :attachmentp nil))))
    (is (equal '(nil nil) (disposition-of (make-mime-part :text "x"))))
    (is (equal '("attachment" "x.txt")
               (disposition-of (make-mime-part :text "x" :attachmentp t
                                               :name "x.txt"))))
    (is (equal '("inline" nil)
               (disposition-of (make-mime-part :text (ascii "x")))))
    (is (equal '(nil nil)
               (disposition-of (make-mime-part :subparts nil
                                               :content-type
                                               "multipart/mixed"))))
    (is (eq :file (net.post-office::source-type (make-mime-part
                                                 :file (pathname pdf)))))
    (with-input-from-string (in "streamed")
      (let ((part (make-mime-part :file in)))
        (is (eq :stream (net.post-office::source-type part)))
        (is (equal '("attachment" nil) (disposition-of part)))))))

(test step-12-boundary
  "A multipart gets Allegro's boundary shape at creation; boundaries are
random (seeded from the OS)."
  (let ((a (make-mime-part :subparts nil :content-type "multipart/mixed"))
        (b (make-mime-part :subparts nil :content-type "multipart/mixed")))
    (is (boundary-p (mime-part-boundary a)))
    (is (boundary-p (mime-part-boundary b)))
    (is (string/= (mime-part-boundary a) (mime-part-boundary b)))
    (is (null (mime-part-boundary (make-mime-part :text "x"))))))

(test predicates-and-headers
  "MIME-PART-P, MIME-PART-CONSTRUCTED-P and MIME-GET-HEADER (with SETF on
an existing header)."
  (let ((part (make-mime-part :text "x"
                              :headers (list (cons "X-Tag" "one")
                                             (cons "x-tag" "two")))))
    (is (mime-part-p part))
    (is (mime-part-constructed-p part))
    (is (not (mime-part-p "x")))
    (is (not (mime-part-constructed-p 42)))
    (is (string= "one" (mime-get-header "x-TAG" part)))
    (is (null (mime-get-header "Content-Type" part)))
    (setf (mime-get-header "X-TAG" part) "uno")
    (is (string= "uno" (mime-get-header "X-Tag" part)))
    (is (contains (render part) "X-Tag: uno"))))

(test map-over-parts-order
  "MAP-OVER-PARTS visits the part, then its subparts depth first."
  (let* ((a (make-mime-part :text "a"))
         (b (make-mime-part :text "b"))
         (inner (make-mime-part :subparts (list b)
                                :content-type "multipart/alternative"))
         (outer (make-mime-part :subparts (list a inner)))
         (seen '()))
    (map-over-parts outer (lambda (part) (push part seen)))
    (is (equal (list outer a inner b) (reverse seen)))))

(test accessors-change-output
  "The setf-able accessors change what is rendered."
  (let ((part (make-mime-part :text "body text")))
    (setf (mime-part-subtype part) "html"
          (mime-part-id part) "part1@example"
          (mime-part-description part) "a description"
          (mime-part-encoding part) :quoted-printable
          (mime-part-headers part) (list (cons "X-Extra" "yes"))
          (mime-part-parameters part) (list (cons "charset" "us-ascii")
                                            (cons "format" "flowed")))
    (let ((text (render part)))
      (is (contains text "Content-Type: text/html"))
      (is (contains text "charset=\"us-ascii\"")
          "no us-ascii charset in ~s" text)
      (is (contains text "format=\"flowed\""))
      (is (contains text "Content-Transfer-Encoding: quoted-printable"))
      (is (contains text "<part1@example>"))
      (is (contains text "Content-Description: a description"))
      (is (contains text "X-Extra: yes"))
      (is (not (contains text "7bit"))))))

(test boundary-setf
  "Setting MIME-PART-BOUNDARY keeps the parameters list as it was
\(Allegro) but renders the new boundary everywhere, so the letter stays
valid."
  (let* ((part (make-mime-part :subparts (list (make-mime-part :text "x"))))
         (old (mime-part-boundary part))
         (new "my-own-boundary-1234"))
    (setf (mime-part-boundary part) new)
    (is (equal old (cdr (assoc "boundary" (mime-part-parameters part)
                               :test #'string=))))
    (let ((text (render part)))
      (is (contains text (format nil "--~a" new)))
      (is (contains text (format nil "boundary=\"~a\"" new)))
      (is (not (contains text old))))))

(test writer-streams
  "MIME-PART-WRITER writes LF lines to a character stream and CRLF octets
to a binary stream; it returns NIL."
  (let* ((part (make-mime-part :text (format nil "line one~%line two")))
         (text (render part))
         (octets (render-octets part)))
    (is (null (mime-part-writer part :stream (make-broadcast-stream))))
    (is (eql 0 (search "MIME-Version: 1.0" text)))
    (is (not (find #\Return text)))
    (is (contains text (format nil "~%~%line one~%line two")))
    (is (search (ascii (format nil "MIME-Version: 1.0~c~c" #\Return
                               #\Newline))
                octets))
    (is (search (ascii (format nil "line one~c~cline two" #\Return
                               #\Newline))
                octets))
    (is (string= (remove #\Return (net.post-office::decode-utf8 octets))
                 text))))

(test writer-defaults-to-terminal-io
  "The stream defaults to *TERMINAL-IO*."
  (let ((out (make-string-output-stream)))
    (let ((*terminal-io* (make-two-way-stream (make-string-input-stream "")
                                              out)))
      (mime-part-writer (make-mime-part :text "to the terminal")))
    (is (contains (get-output-stream-string out) "to the terminal"))))

(test writer-file-and-stream-sources
  "File sources are read at each render; stream sources are read to the
end once, so a second render has an empty body."
  (let ((file-part (make-mime-part :file (temp-file "data.bin" "ABC"))))
    (is (contains (render file-part) "QUJD"))
    (is (contains (render file-part) "QUJD")))
  (with-input-from-string (in "streamed text")
    (let ((part (make-mime-part :file in)))
      (is (contains (render part) "c3RyZWFtZWQgdGV4dA=="))
      (is (not (contains (render part) "c3RyZWFtZWQ"))))))

(test writer-multipart-and-python
  "A nested multipart with text, octets and a file, read back by Python's
email package."
  (let* ((file (temp-file "photo.png" (coerce #(137 80 78 71 0 1 2 255)
                                              '(vector (unsigned-byte 8)))))
         (part (make-mime-part
                :subparts
                (list (make-mime-part
                       :content-type "multipart/alternative"
                       :subparts (list (make-mime-part :text "plain ünï")
                                       (make-mime-part
                                        :content-type "text/html"
                                        :text "<p>html</p>")))
                      (make-mime-part :text (coerce #(0 1 2 3)
                                                    '(vector
                                                      (unsigned-byte 8)))
                                      :name "raw.bin" :attachmentp t)
                      (make-mime-part :file file))))
         (eml (merge-pathnames "part.eml" (make-temp-dir "eml"))))
    (write-file eml (render-octets part))
    (let* ((read (python-read (native eml)))
           (parts (jget read "parts")))
      (is (= 0 (jget read "defects")))
      (is (equal '("text/plain" "text/html" "application/octet-stream"
                   "image/png")
                 (mapcar (lambda (p) (jget p "type")) parts)))
      (is (string= "plain ünï" (jget parts 0 "text")))
      (is (string= "<p>html</p>" (jget parts 1 "text")))
      (is (string= "raw.bin" (jget parts 2 "filename")))
      (is (= 4 (jget parts 2 "size")))
      (is (string= "photo.png" (jget parts 3 "filename")))
      (is (= 8 (jget parts 3 "size"))))))

(test part-cycles-refused
  "A part that contains itself is an argument error, not a hang."
  (let ((part (make-mime-part :subparts nil :content-type "multipart/mixed")))
    (setf (mime-part-parts part) (list part))
    (signals smtp-argument-error (render part))))

(test constructed-stream
  "WITH-MIME-PART-CONSTRUCTED-STREAM yields what MIME-PART-WRITER writes,
by characters, lines or octets, supports PEEK-CHAR and UNREAD-CHAR, and
returns the body's values."
  (let* ((part (make-mime-part :text (format nil "héllo~%wörld")
                               :encoding "8bit"))
         (text (render part)))
    (is (string= text
                 (with-mime-part-constructed-stream (s part)
                   (with-output-to-string (out)
                     (loop for char = (read-char s nil)
                           while char
                           do (write-char char out))))))
    (is (equalp (net.post-office::string-to-utf8 text)
                (with-mime-part-constructed-stream (s part)
                  (let ((octets (make-array 0 :adjustable t :fill-pointer 0
                                              :element-type
                                              '(unsigned-byte 8))))
                    (loop for byte = (read-byte s nil)
                          while byte
                          do (vector-push-extend byte octets))
                    octets))))
    (with-mime-part-constructed-stream (s part)
      (is (string= "MIME-Version: 1.0" (read-line s)))
      (is (char= #\C (peek-char nil s)))
      (is (char= #\C (read-char s)))
      (unread-char #\C s)
      (is (char= #\C (read-char s)))
      (let ((buffer (make-array 7 :element-type '(unsigned-byte 8))))
        (is (= 7 (read-sequence buffer s)))
        (is (equalp (ascii "ontent-") buffer)))
      (let ((buffer (make-string 4)))
        (is (= 4 (read-sequence buffer s)))
        (is (string= "Type" buffer)))
      ;; a character peeked or unread is read again as its octets
      (is (char= #\: (peek-char nil s)))
      (is (= (char-code #\:) (read-byte s)))
      (is (char= #\Space (read-char s)))
      (unread-char #\Space s)
      (is (= (char-code #\Space) (read-byte s)))
      (signals error (unread-char #\Space s)))
    (with-mime-part-constructed-stream (s part)
      (loop for char = (read-char s)
            until (char= char #\é))
      (unread-char #\é s)
      (is (= #xc3 (read-byte s)))
      (is (= #xa9 (read-byte s)))
      (is (char= #\l (read-char s))))
    (is (equal '(1 2 3)
               (multiple-value-list
                (with-mime-part-constructed-stream (s part)
                  (declare (ignore s))
                  (values 1 2 3)))))))

(test constructed-stream-peek-then-byte
  "PEEK-CHAR before every READ-BYTE over a part of many chunks, with
two-octet characters across the chunk boundaries: the octets come out
exactly as MIME-PART-WRITER writes them."
  (let* ((text (with-output-to-string (out)
                 (dotimes (i 20000)
                   (format out "~d éééééééé~%" i))))
         (part (make-mime-part :text text :encoding "8bit"))
         (want (net.post-office::string-to-utf8 (render part)))
         (got (make-array (length want) :element-type '(unsigned-byte 8)
                                        :fill-pointer 0 :adjustable t)))
    (with-mime-part-constructed-stream (s part)
      (loop for i from 0
            for peeked = (peek-char nil s nil)
            for byte = (read-byte s nil)
            while byte
            do (when (evenp i)
                 (let ((char (read-char s nil)))
                   (when char
                     (unread-char char s))))
               (vector-push-extend byte got)))
    (is (= (length want) (length got)))
    (is (equalp want got))))

(test constructed-stream-large
  "A large stream part is rendered lazily: 4 MB of characters through
the stream, base64-encoded, come out with the right size."
  (let* ((size (* 4 1024 1024))
         (source (make-string size :initial-element #\a))
         (count 0))
    (with-input-from-string (in source)
      (let ((part (make-mime-part :file in :name "big.txt")))
        (with-mime-part-constructed-stream (s part)
          (let ((buffer (make-array 65536 :element-type '(unsigned-byte 8))))
            (loop for n = (read-sequence buffer s)
                  while (plusp n)
                  do (incf count n))))))
    ;; base64 grows 4/3, plus line ends and headers
    (is (< (* 4/3 size) count (* 1.5 size)))))
