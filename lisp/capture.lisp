;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; capture.lisp - letters that go nowhere: WITH-CAPTURED-LETTERS for
;;; users' test suites, the (:FILE . "dir/") transport for looking at
;;; letters by hand, and the small MIME reader the captured letters are
;;; examined with (also behind Allegro's DECODE-HEADER-TEXT).
;;;
;;; Both transports take the C letter SEND-LETTER or SEND-SMTP built
;;; (every argument already checked, exactly as for a real send) and
;;; render it with po_reader_new, flags 0: the octets are exactly those
;;; SMTP would carry (CRLF line endings, no Bcc header, no
;;; dot-stuffing).
;;;
;;; Active captures live in global state behind a lock, not in a
;;; dynamic binding, so that letters sent from other threads are caught
;;; too.  Which capture a send goes to: the innermost active capture
;;; opened by the sending thread, else the most recently opened active
;;; capture of any thread.
;;;
;;; The MIME reader: RFC 5322 header fields (unfolded), RFC 2045
;;; parameters with RFC 2231 continuations and charsets, RFC 2046
;;; multipart bodies (recursively), base64 and quoted-printable, RFC 2047
;;; encoded words; charsets utf-8, us-ascii and iso-8859-1 built in,
;;; others through babel.  It is lenient: it never signals on malformed
;;; input, it makes the best of it.

(in-package :net.post-office)

;;; ------------------------------------------------------------------
;;; Charsets

(defun latin1-decode (octets &key (start 0) (end (length octets)))
  "The string the ISO-8859-1 OCTETS between START and END encode."
  (let ((string (make-string (- end start))))
    (loop for i from start below end
          for j from 0
          do (setf (char string j) (code-char (aref octets i))))
    string))

(defun charset-name (charset)
  "CHARSET (a string or NIL) normalised for comparison: lower case,
without an RFC 2231 language suffix (\"utf-8*en\")."
  (and charset
       (let ((star (position #\* charset)))
         (string-downcase (string-trim " \"" (subseq charset 0 star))))))

(defun charset-decoder (charset)
  "A function of one octet vector returning the string it encodes in
CHARSET, or NIL if CHARSET is not known.  NIL as CHARSET means
us-ascii."
  (let ((name (or (charset-name charset) "us-ascii")))
    (cond ((member name '("utf-8" "utf8" "us-ascii" "ascii" "ansi_x3.4-1968"
                          "646" "us")
                   :test #'string=)
           ;; 8-bit octets labelled us-ascii are nearly always UTF-8
           #'decode-utf8)
          ((member name '("iso-8859-1" "iso8859-1" "iso_8859-1" "latin1"
                          "latin-1" "l1")
                   :test #'string=)
           #'latin1-decode)
          (t
           (let ((encoding (ignore-errors (babel-encoding name))))
             (and encoding
                  (lambda (octets)
                    (handler-case
                        (babel:octets-to-string (coerce octets 'octets)
                                                :encoding encoding
                                                :errorp nil)
                      (error () (decode-utf8 (coerce octets 'octets)))))))))))

(defun decode-charset (octets charset)
  "The string the OCTETS encode in CHARSET; octets in an unknown charset
are decoded as UTF-8 (invalid sequences become U+FFFD)."
  (funcall (or (charset-decoder charset) #'decode-utf8)
           (coerce octets 'octets)))

;;; ------------------------------------------------------------------
;;; Transfer encodings

(defparameter *base64-values*
  (let ((table (make-array 256 :element-type '(signed-byte 8)
                               :initial-element -1)))
    (loop for char across (concatenate 'string
                                       "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "abcdefghijklmnopqrstuvwxyz"
                                       "0123456789+/")
          for i from 0
          do (setf (aref table (char-code char)) i))
    table)
  "The value of each base64 character by octet, -1 for the others.")

(defun base64-decode (octets &key (start 0) (end (length octets)))
  "The octets the base64 text in OCTETS (a vector of octets or a string)
between START and END encodes.  Characters outside the alphabet (line
breaks, white space) are skipped; decoding stops at the first \"=\"."
  (let ((out (make-array (+ 3 (floor (* 3 (- end start)) 4))
                         :element-type '(unsigned-byte 8)))
        (n 0)
        (bits 0)
        (count 0))
    (declare (type fixnum n bits count))
    (loop for i from start below end
          for code = (let ((x (aref octets i)))
                       (if (characterp x) (char-code x) x))
          do (when (= code 61)          ; =
               (loop-finish))
             (let ((value (if (< code 256) (aref *base64-values* code) -1)))
               (when (>= value 0)
                 (setf bits (logior (ash (logand bits #x3FFFF) 6) value))
                 (incf count)
                 (when (= count 4)
                   (setf (aref out n) (ldb (byte 8 16) bits)
                         (aref out (+ n 1)) (ldb (byte 8 8) bits)
                         (aref out (+ n 2)) (ldb (byte 8 0) bits))
                   (incf n 3)
                   (setf count 0 bits 0)))))
    ;; a final group of 2 or 3 characters
    (case count
      (2 (setf (aref out n) (ldb (byte 8 4) bits))
       (incf n 1))
      (3 (setf (aref out n) (ldb (byte 8 10) bits)
               (aref out (+ n 1)) (ldb (byte 8 2) bits))
       (incf n 2)))
    (subseq out 0 n)))

(defun hex-value (code)
  "The value of the hexadecimal digit with the character code CODE, or
NIL."
  (and code (digit-char-p (code-char code) 16)))

(defun qp-decode (octets &key (start 0) (end (length octets)))
  "The octets the quoted-printable OCTETS between START and END encode
\(RFC 2045 6.7): =XX escapes, soft line breaks (\"=\" at the end of a
line), trailing white space on a line removed.  Line breaks are kept as
CRLF."
  (let ((out (make-array (- end start) :element-type '(unsigned-byte 8)
                                       :adjustable t :fill-pointer 0)))
    (loop with line-start = start
          while (< line-start end)
          do (let* ((lf (position 10 octets :start line-start :end end))
                    (line-end (or lf end))
                    (stop line-end))
               ;; drop the CR and the transport padding
               (loop while (and (> stop line-start)
                                (member (aref octets (1- stop)) '(13 32 9)))
                     do (decf stop))
               (let ((soft (and (> stop line-start)
                                (= (aref octets (1- stop)) 61))))
                 (when soft
                   (decf stop))
                 (loop with i = line-start
                       while (< i stop)
                       do (let ((octet (aref octets i)))
                            (if (and (= octet 61) (< (+ i 2) (1+ stop)))
                                (let ((high (hex-value
                                             (and (< (1+ i) stop)
                                                  (aref octets (1+ i)))))
                                      (low (hex-value
                                            (and (< (+ i 2) stop)
                                                 (aref octets (+ i 2))))))
                                  (if (and high low)
                                      (progn
                                        (vector-push-extend (+ (* 16 high) low)
                                                            out)
                                        (incf i 3))
                                      (progn (vector-push-extend octet out)
                                             (incf i))))
                                (progn (vector-push-extend octet out)
                                       (incf i)))))
                 (when (and lf (not soft))
                   (vector-push-extend 13 out)
                   (vector-push-extend 10 out)))
               (setf line-start (if lf (1+ lf) end))))
    (coerce out 'octets)))

(defun q-decode (string)
  "The octets of the RFC 2047 \"Q\" encoded STRING: =XX escapes and _
for a space.  Returns NIL if STRING is not valid Q text."
  (let ((out (make-array (length string) :element-type '(unsigned-byte 8)
                                         :fill-pointer 0)))
    (loop with i = 0
          while (< i (length string))
          do (let ((char (char string i)))
               (cond ((char= char #\_)
                      (vector-push 32 out)
                      (incf i))
                     ((char= char #\=)
                      (let ((high (and (< (+ i 2) (length string))
                                       (digit-char-p (char string (+ i 1))
                                                     16)))
                            (low (and (< (+ i 2) (length string))
                                      (digit-char-p (char string (+ i 2))
                                                    16))))
                        (unless (and high low)
                          (return-from q-decode nil))
                        (vector-push (+ (* 16 high) low) out)
                        (incf i 3)))
                     ((< (char-code char) 128)
                      (vector-push (char-code char) out)
                      (incf i))
                     (t (return-from q-decode nil)))))
    (coerce out 'octets)))

;;; ------------------------------------------------------------------
;;; RFC 2047 encoded words

(defun linear-white-space-p (string &key (start 0) (end (length string)))
  "True if STRING between START and END is made of spaces, tabs and
line breaks only."
  (loop for i from start below end
        always (member (char string i)
                       '(#\Space #\Tab #\Return #\Newline))))

(defun parse-encoded-word (text start)
  "If an RFC 2047 encoded word \"=?charset?B|Q?text?=\" starts at START
in TEXT, returns its charset, its octets and the index after it;
otherwise NIL."
  (let ((length (length text)))
    (when (and (< (+ start 1) length)
               (char= (char text start) #\=)
               (char= (char text (1+ start)) #\?))
      (let* ((q1 (position #\? text :start (+ start 2)))
             (q2 (and q1
                      (< (+ q1 2) length)
                      (char= (char text (+ q1 2)) #\?)
                      (+ q1 2)))
             (end (and q2 (search "?=" text :start2 (1+ q2)))))
        (when (and end (> q1 (+ start 2)))
          (let ((charset (subseq text (+ start 2) q1))
                (encoding (char-upcase (char text (1+ q1))))
                (data (subseq text (1+ q2) end)))
            (when (and (member encoding '(#\B #\Q))
                       (not (find-if (lambda (char)
                                       (member char '(#\Space #\Tab #\Return
                                                      #\Newline)))
                                     (concatenate 'string charset data))))
              (let ((octets (if (char= encoding #\B)
                                (and (every (lambda (char)
                                              (or (char= char #\=)
                                                  (and (< (char-code char) 128)
                                                       (>= (aref
                                                            *base64-values*
                                                            (char-code char))
                                                           0))))
                                            data)
                                     (base64-decode data))
                                (q-decode data))))
                (when octets
                  (values charset octets (+ end 2)))))))))))

(defun decode-header-text (text)
  "Returns the string TEXT, a header field value, with its RFC 2047
encoded words (\"=?utf-8?b?...?=\", \"=?iso-8859-1?q?...?=\") decoded.
White space between two adjacent encoded words is dropped, as RFC 2047
says, and adjacent words in the same charset are decoded together, so a
character split between two words comes out whole.  Charsets: utf-8,
us-ascii and iso-8859-1, and whatever else babel knows (windows-1252,
iso-8859-15, koi8-r, shift_jis ...).  An encoded word in an unknown
charset, or one that is malformed, is left as it is (Allegro CL signals
an error there).  Text that is not encoded, including raw UTF-8, is
returned unchanged.  Allegro's function, from mime-api.cl."
  (check-type text string)
  (let ((pieces '())
        (plain-start 0)
        (i 0))
    ;; split into plain text and encoded words
    (loop while (< i (length text))
          do (multiple-value-bind (charset octets next)
                 (and (char= (char text i) #\=)
                      (parse-encoded-word text i))
               (cond ((and charset (charset-decoder charset))
                      (when (> i plain-start)
                        (push (list :text (subseq text plain-start i))
                              pieces))
                      (push (list :word (charset-name charset) octets)
                            pieces)
                      (setf i next
                            plain-start next))
                     (t (incf i)))))
    (when (< plain-start (length text))
      (push (list :text (subseq text plain-start)) pieces))
    (setf pieces (nreverse pieces))
    ;; drop white space between words; merge words of one charset
    (let ((merged '()))
      (loop for (piece . rest) on pieces
            for previous = (first merged)
            do (cond ((and (eq (first piece) :text)
                           (eq (first previous) :word)
                           (eq (first (first rest)) :word)
                           (linear-white-space-p (second piece))))
                     ((and (eq (first piece) :word)
                           (eq (first previous) :word)
                           (string= (second piece) (second previous)))
                      (setf (third previous)
                            (concatenate 'octets (third previous)
                                         (third piece))))
                     (t (push (copy-list piece) merged))))
      (with-output-to-string (out)
        (dolist (piece (nreverse merged))
          (write-string (if (eq (first piece) :text)
                            (second piece)
                            (decode-charset (third piece) (second piece)))
                        out))))))

;;; ------------------------------------------------------------------
;;; Header fields and parameters

(defparameter *white-space* '(#\Space #\Tab #\Return #\Newline)
  "The characters trimmed around header field parts.")

(defun octets-search (pattern octets start end)
  "The index of the first occurrence of the octet vector PATTERN in
OCTETS between START and END, or NIL."
  (search pattern octets :start2 start :end2 end))

(defun header-end (octets start end)
  "Where the header block of the entity in OCTETS between START and END
ends: returns the index of the empty line's first octet and the index
of the body.  A block that starts with an empty line is empty."
  (cond ((and (< start end) (= (aref octets start) 10))
         (values start (1+ start)))
        ((and (< (1+ start) end) (= (aref octets start) 13)
              (= (aref octets (1+ start)) 10))
         (values start (+ start 2)))
        (t
         (let ((crlf (octets-search #(13 10 13 10) octets start end))
               (lf (octets-search #(10 10) octets start end)))
           (cond ((and crlf (or (null lf) (< crlf lf)))
                  (values (+ crlf 2) (+ crlf 4)))
                 (lf
                  (values (1+ lf) (+ lf 2)))
                 (t (values end end)))))))

(defun parse-header-fields (octets start end)
  "The header fields in OCTETS between START and END, a header block
without its empty line, as a list of (NAME . VALUE) in order: VALUE
unfolded (line breaks before white space removed), decoded as UTF-8,
without leading and trailing white space; lines without a colon are
skipped."
  (let ((text (decode-utf8 (coerce (subseq octets start end) 'octets)))
        (fields '()))
    (dolist (line (split-string text #\Newline))
      (let ((line (string-right-trim '(#\Return) line)))
        (cond ((zerop (length line)))
              ((member (char line 0) '(#\Space #\Tab))
               (when fields
                 (setf (cdr (first fields))
                       (concatenate 'string (cdr (first fields)) line))))
              (t
               (let ((colon (position #\: line)))
                 (when (and colon (plusp colon))
                   (push (cons (string-trim " " (subseq line 0 colon))
                               (subseq line (1+ colon)))
                         fields)))))))
    (loop for (name . value) in (nreverse fields)
          collect (cons name (string-trim '(#\Space #\Tab) value)))))

(defun split-parameters (string)
  "STRING, a structured field value such as \"text/plain;
charset=\\\"utf-8\\\"\", split at the semicolons outside quoted strings.
Returns the first piece and the list of (NAME . VALUE) after it, NAME
in lower case and VALUE unquoted."
  (let ((pieces '())
        (current (make-string-output-stream))
        (quoted nil)
        (i 0))
    (loop while (< i (length string))
          do (let ((char (char string i)))
               (cond ((and quoted (char= char #\\) (< (1+ i) (length string)))
                      (write-char char current)
                      (write-char (char string (1+ i)) current)
                      (incf i))
                     ((char= char #\")
                      (setf quoted (not quoted))
                      (write-char char current))
                     ((and (not quoted) (char= char #\;))
                      (push (get-output-stream-string current) pieces))
                     (t (write-char char current))))
             (incf i))
    (push (get-output-stream-string current) pieces)
    (setf pieces (nreverse pieces))
    (values (string-trim *white-space* (first pieces))
            (loop for piece in (rest pieces)
                  for equals = (position #\= piece)
                  when equals
                    collect (cons (string-downcase
                                   (string-trim *white-space*
                                                (subseq piece 0 equals)))
                                  (unquote (string-trim
                                            *white-space*
                                            (subseq piece (1+ equals)))))))))

(defun unquote (string)
  "STRING without its surrounding double quotes and backslash escapes,
if it is a quoted string; otherwise STRING."
  (if (and (>= (length string) 2)
           (char= (char string 0) #\")
           (char= (char string (1- (length string))) #\"))
      (with-output-to-string (out)
        (loop with i = 1
              while (< i (1- (length string)))
              do (let ((char (char string i)))
                   (when (and (char= char #\\) (< (1+ i) (1- (length string))))
                     (incf i)
                     (setf char (char string i)))
                   (write-char char out)
                   (incf i))))
      string))

(defun percent-decode (string)
  "The octets of the RFC 2231 extended value STRING (%XX escapes)."
  (let ((out (make-array (length string) :element-type '(unsigned-byte 8)
                                         :fill-pointer 0)))
    (loop with i = 0
          while (< i (length string))
          do (let ((char (char string i)))
               (if (and (char= char #\%) (< (+ i 2) (length string))
                        (digit-char-p (char string (+ i 1)) 16)
                        (digit-char-p (char string (+ i 2)) 16))
                   (progn
                     (vector-push (parse-integer string :start (+ i 1)
                                                        :end (+ i 3)
                                                        :radix 16)
                                  out)
                     (incf i 3))
                   (let ((octets (string-to-utf8 (string char))))
                     (when (> (+ (fill-pointer out) (length octets))
                              (array-dimension out 0))
                       (setf out (adjust-array out (+ (length out)
                                                      (length string)
                                                      4))))
                     (loop for octet across octets
                           do (vector-push octet out))
                     (incf i)))))
    (coerce out 'octets)))

(defun decode-parameters (parameters)
  "The alist PARAMETERS from SPLIT-PARAMETERS with RFC 2231 parameters
\(name*=charset'lang'value, name*0=..., name*1*=...) joined and decoded.
A decoded name* parameter replaces a plain one of the same name; plain
values have their RFC 2047 encoded words decoded (a common fallback for
file names)."
  (let ((plain '())
        (extended '()))
    (loop for (name . value) in parameters
          do (let* ((star (position #\* name))
                    (base (if star (subseq name 0 star) name)))
               (if (null star)
                   (push (cons name (decode-header-text value)) plain)
                   (let* ((rest (subseq name (1+ star)))
                          (encoded (and (plusp (length rest))
                                        (char= (char rest
                                                     (1- (length rest)))
                                               #\*)))
                          (digits (string-right-trim "*" rest))
                          (index (cond ((zerop (length rest)) 0)
                                       ((digits-p digits)
                                        (parse-integer digits))
                                       (t nil)))
                          (encoded (or encoded (zerop (length rest)))))
                     (when index
                       (push (list index encoded value)
                             (cdr (or (assoc base extended :test #'string=)
                                      (first (push (list base)
                                                   extended))))))))))
    (let ((result (reverse plain)))
      (loop for (base . segments) in (reverse extended)
            do (let ((segments (sort (copy-list segments) #'< :key #'first))
                     (charset nil)
                     (octets (make-array 0 :element-type '(unsigned-byte 8))))
                 (loop for (index encoded value) in segments
                       do (let ((value value))
                            (when (and encoded (= index 0))
                              (let* ((q1 (position #\' value))
                                     (q2 (and q1 (position #\' value
                                                           :start (1+ q1)))))
                                (when q2
                                  (setf charset (subseq value 0 q1)
                                        value (subseq value (1+ q2))))))
                            (setf octets
                                  (concatenate 'octets octets
                                               (if encoded
                                                   (percent-decode value)
                                                   (string-to-utf8 value))))))
                 (let ((decoded (decode-charset octets charset))
                       (entry (assoc base result :test #'string=)))
                   (if entry
                       (setf (cdr entry) decoded)
                       (setf result (append result
                                            (list (cons base decoded))))))))
      result)))

(defun parse-structured (value)
  "VALUE, a field value with parameters (Content-Type,
Content-Disposition), as its lower-case first part and the alist of its
decoded parameters."
  (multiple-value-bind (main parameters) (split-parameters (or value ""))
    (values (string-downcase main) (decode-parameters parameters))))

;;; ------------------------------------------------------------------
;;; MIME entities

(defstruct (entity (:constructor %make-entity))
  "A MIME entity read from OCTETS: its header FIELDS ((NAME . VALUE),
unfolded, not decoded), its content type (TYPE and SUBTYPE in lower
case, PARAMETERS decoded), its DISPOSITION and DISPOSITION-PARAMETERS,
its transfer ENCODING, where its body is (BODY-START, BODY-END), and
its PARTS when it is a multipart."
  octets
  fields
  (type "text")
  (subtype "plain")
  parameters
  disposition
  disposition-parameters
  (encoding "7bit")
  body-start
  body-end
  parts)

(defun entity-field (entity name)
  "The value of the first field NAME (any case) of ENTITY, or NIL."
  (cdr (assoc name (entity-fields entity) :test #'string-equal)))

(defun entity-parameter (entity name)
  "The Content-Type parameter NAME of ENTITY, or NIL."
  (cdr (assoc name (entity-parameters entity) :test #'string-equal)))

(defun line-break-before (octets index start)
  "The index where the line break that ends just before INDEX begins
\(CRLF or LF), not before START."
  (cond ((and (>= (- index 2) start)
              (= (aref octets (- index 1)) 10)
              (= (aref octets (- index 2)) 13))
         (- index 2))
        ((and (>= (- index 1) start)
              (= (aref octets (- index 1)) 10))
         (- index 1))
        (t index)))

(defun multipart-bodies (octets start end boundary)
  "The (START . END) of each body part of the multipart body in OCTETS
between START and END with the delimiter BOUNDARY (RFC 2046 5.1.1: the
line break before a delimiter belongs to it; the preamble and the
epilogue are left out)."
  (let ((dash (concatenate 'octets #(45 45) (string-to-utf8 boundary)))
        (bodies '())
        (open nil))
    (loop with position = start
          for found = (octets-search dash octets position end)
          while found
          do (let ((after (+ found (length dash))))
               (if (or (= found start) (= (aref octets (1- found)) 10))
                   (let* ((close (and (<= (+ after 2) end)
                                      (= (aref octets after) 45)
                                      (= (aref octets (1+ after)) 45)))
                          (lf (position 10 octets :start after :end end))
                          (next (if lf (1+ lf) end)))
                     (when open
                       (push (cons open (line-break-before octets found open))
                             bodies))
                     (when close
                       (setf open nil)
                       (loop-finish))
                     (setf open next
                           position next))
                   (setf position after))))
    (when (and open (< open end))
      (push (cons open end) bodies))
    (nreverse bodies)))

(defun parse-entity (octets &key (start 0) (end (length octets)) (depth 0))
  "Reads the MIME entity in OCTETS between START and END, with its
subparts if it is a multipart (to a depth of 50).  Returns an ENTITY."
  (multiple-value-bind (header-end body-start) (header-end octets start end)
    (let* ((fields (parse-header-fields octets start header-end))
           (entity (%make-entity :octets octets :fields fields
                                 :body-start body-start :body-end end)))
      (flet ((field (name)
               (cdr (assoc name fields :test #'string-equal))))
        (let ((content-type (field "Content-Type")))
          (when content-type
            (multiple-value-bind (main parameters)
                (parse-structured content-type)
              (let ((slash (position #\/ main)))
                (when (and slash (plusp slash) (< (1+ slash) (length main)))
                  (setf (entity-type entity) (subseq main 0 slash)
                        (entity-subtype entity) (subseq main (1+ slash)))))
              (setf (entity-parameters entity) parameters))))
        (let ((disposition (field "Content-Disposition")))
          (when disposition
            (multiple-value-bind (main parameters)
                (parse-structured disposition)
              (setf (entity-disposition entity) main
                    (entity-disposition-parameters entity) parameters))))
        (let ((encoding (field "Content-Transfer-Encoding")))
          (when encoding
            (setf (entity-encoding entity)
                  (string-downcase (string-trim '(#\Space #\Tab)
                                                encoding))))))
      (let ((boundary (entity-parameter entity "boundary")))
        (when (and (string= (entity-type entity) "multipart")
                   boundary (plusp (length boundary))
                   (< depth 50))
          (setf (entity-parts entity)
                (loop for (part-start . part-end)
                        in (multipart-bodies octets body-start end boundary)
                      collect (parse-entity octets :start part-start
                                                   :end part-end
                                                   :depth (1+ depth))))))
      entity)))

(defun entity-content-type (entity)
  "\"type/subtype\" of ENTITY, in lower case."
  (format nil "~a/~a" (entity-type entity) (entity-subtype entity)))

(defun entity-body-octets (entity)
  "The body of the leaf ENTITY, transfer-decoded."
  (let ((octets (entity-octets entity))
        (start (entity-body-start entity))
        (end (entity-body-end entity)))
    (cond ((string= (entity-encoding entity) "base64")
           (base64-decode octets :start start :end end))
          ((string= (entity-encoding entity) "quoted-printable")
           (qp-decode octets :start start :end end))
          (t (coerce (subseq octets start end) 'octets)))))

(defun crlf-to-newline (string)
  "STRING with each CRLF replaced by a #\\Newline."
  (if (find #\Return string)
      (with-output-to-string (out)
        (loop with i = 0
              while (< i (length string))
              do (let ((char (char string i)))
                   (if (and (char= char #\Return)
                            (< (1+ i) (length string))
                            (char= (char string (1+ i)) #\Newline))
                       (progn (write-char #\Newline out)
                              (incf i 2))
                       (progn (write-char char out)
                              (incf i))))))
      string))

(defun entity-text (entity)
  "The body of the text ENTITY as a string: transfer-decoded, decoded
from its charset, CRLF turned into #\\Newline."
  (crlf-to-newline (decode-charset (entity-body-octets entity)
                                   (entity-parameter entity "charset"))))

(defun entity-leaves (entity)
  "The leaf entities of ENTITY, depth first, in order."
  (if (entity-parts entity)
      (mapcan #'entity-leaves (entity-parts entity))
      (if (string= (entity-type entity) "multipart")
          nil
          (list entity))))

(defun entity-filename (entity)
  "The file name of ENTITY: the Content-Disposition filename (RFC 2231
filename* preferred, else the RFC 2047-decoded filename), else the
Content-Type name, else NIL."
  (let ((name (or (cdr (assoc "filename"
                              (entity-disposition-parameters entity)
                              :test #'string=))
                  (entity-parameter entity "name"))))
    (and name (plusp (length name)) name)))

(defun body-text-entity-p (entity)
  "True if the leaf ENTITY is part of the letter's text rather than an
attachment: text/*, not Content-Disposition attachment, no file name."
  (and (string= (entity-type entity) "text")
       (not (equal (entity-disposition entity) "attachment"))
       (null (entity-filename entity))))

;;; ------------------------------------------------------------------
;;; Captured letters

(defclass captured-letter ()
  ((from :initarg :from
         :reader captured-letter-from)
   (recipients :initarg :recipients
               :reader captured-letter-recipients)
   (octets :initarg :octets
           :reader captured-letter-octets)
   (c-message-id :initarg :message-id
                 :initform nil)
   (entity :initform nil))
  (:documentation "A letter caught by WITH-CAPTURED-LETTERS instead of
being sent.  Its readers: CAPTURED-LETTER-FROM, -RECIPIENTS, -OCTETS,
-MESSAGE-ID, -HEADER, -HEADERS, -TEXT, -HTML and -ATTACHMENTS."))

(setf (documentation 'captured-letter-from 'function)
      "Returns the envelope sender of the captured LETTER (what MAIL FROM
would have carried), a bare address such as \"a@b.example\"."
      (documentation 'captured-letter-recipients 'function)
      "Returns the envelope recipients of the captured LETTER (what RCPT
TO would have carried), a list of bare addresses in the order To, Cc,
Bcc.  Bcc recipients are here, though not in the octets."
      (documentation 'captured-letter-octets 'function)
      "Returns the captured LETTER exactly as it would have gone over
SMTP after DATA: a vector of (UNSIGNED-BYTE 8) with CRLF line endings,
without dot-stuffing and without the final \".\" line, and without a
Bcc header.")

(defmethod print-object ((letter captured-letter) stream)
  (print-unreadable-object (letter stream :type t :identity t)
    (format stream "~a -> ~{~a~^, ~}~@[ ~s~]"
            (captured-letter-from letter)
            (captured-letter-recipients letter)
            (ignore-errors (captured-letter-header letter "Subject")))))

(defun letter-entity (letter)
  "The parsed MIME structure of LETTER, read on first use."
  (or (slot-value letter 'entity)
      (setf (slot-value letter 'entity)
            (parse-entity (captured-letter-octets letter)))))

(defun captured-letter-headers (letter)
  "Returns the header fields of the captured LETTER (its top level) as
a list of (NAME . VALUE) in order, each VALUE unfolded and with its
RFC 2047 encoded words decoded."
  (loop for (name . value) in (entity-fields (letter-entity letter))
        collect (cons name (decode-header-text value))))

(defun captured-letter-header (letter name)
  "Returns the value of the header field NAME (a string, any case) of
the captured LETTER: unfolded and with its RFC 2047 encoded words
decoded, so a Subject reads as it was given and a From as
\"Jörg Müller <joerg@example.com>\".  Returns NIL if there is no such
field; the first one if there are several."
  (let ((value (entity-field (letter-entity letter) name)))
    (and value (decode-header-text value))))

(defun captured-letter-message-id (letter)
  "Returns the Message-ID of the captured LETTER as a string such as
\"<...@host>\", or NIL if it has none (a SEND-SMTP letter without one)."
  (or (non-empty (slot-value letter 'c-message-id))
      (captured-letter-header letter "Message-ID")))

(defun first-text (letter subtype)
  "The first body text part of LETTER of type text/SUBTYPE, decoded, or
NIL."
  (let ((entity (find-if (lambda (entity)
                           (and (body-text-entity-p entity)
                                (string= (entity-subtype entity) subtype)))
                         (entity-leaves (letter-entity letter)))))
    (and entity (entity-text entity))))

(defun captured-letter-text (letter)
  "Returns the text of the captured LETTER: its first text/plain part
that is not an attachment (searched depth first through multiparts),
transfer-decoded (base64, quoted-printable) and decoded from its
charset, with CRLF line endings turned into #\\Newline.  Returns NIL if
the letter has no such part."
  (first-text letter "plain"))

(defun captured-letter-html (letter)
  "Returns the first text/html part of the captured LETTER that is not
an attachment, decoded like CAPTURED-LETTER-TEXT, or NIL."
  (first-text letter "html"))

(defun captured-letter-attachments (letter)
  "Returns the attachments of the captured LETTER as a list of lists
\(FILENAME CONTENT-TYPE OCTETS), in order: every leaf MIME part except
the body text (text/* parts without a file name that are not
Content-Disposition attachment).  FILENAME is a string decoded from the
RFC 2231 filename* parameter or else the plain filename (RFC 2047
encoded words decoded) or the Content-Type name, NIL if the part has
none (an inline image made from octets, say).  CONTENT-TYPE is
\"type/subtype\" in lower case.  OCTETS is the decoded content, a
vector of (UNSIGNED-BYTE 8): byte for byte what was attached, except
that a text part sent as 7bit or quoted-printable has the CRLF line
endings it had on the wire."
  (loop for entity in (entity-leaves (letter-entity letter))
        unless (body-text-entity-p entity)
          collect (list (entity-filename entity)
                        (entity-content-type entity)
                        (entity-body-octets entity))))

;;; ------------------------------------------------------------------
;;; Rendering a C letter for the capture and file transports

(defvar *inside-foreign-call* nil
  "True while a C function that may call back into Lisp (a send, a
render) is running in this thread.  The send restarts are hidden then,
so that none is ever invoked from a callback: that would unwind through
C frames.")

(defmacro with-foreign-call (&body body)
  "Executes BODY, a call into C, with *INSIDE-FOREIGN-CALL* true.
Returns the values of BODY."
  `(let ((*inside-foreign-call* t))
     ,@body))

(defun map-letter-octets (letter scope function)
  "Renders the C LETTER as it goes on the wire (po_reader_new, flags 0)
and calls FUNCTION with an octet vector and a count for each chunk, in
order.  Conditions caught by the callbacks of SCOPE are signalled once
C has returned."
  (let ((reader nil)
        (buffer nil))
    (unwind-protect
         (progn
           (cffi:with-foreign-object (out :pointer)
             (check-status (with-foreign-call (%po-reader-new letter 0 out))
                           :scope scope)
             (setf reader (cffi:mem-ref out :pointer)))
           (setf buffer (cffi:foreign-alloc :uint8 :count +chunk-size+))
           (let ((octets (make-octet-buffer)))
             (cffi:with-foreign-object (n-out :size)
               (loop
                 (check-status (with-foreign-call
                                 (%po-reader-read reader buffer +chunk-size+
                                                  n-out))
                               :scope scope)
                 (let ((n (cffi:mem-ref n-out :size)))
                   (when (zerop n)
                     (return))
                   (copy-from-foreign buffer 0 n octets 0)
                   (funcall function octets n))))))
      (when buffer
        (cffi:foreign-free buffer))
      (when reader
        (%po-reader-free reader)))))

(defun letter-envelope (letter)
  "The envelope sender and the list of envelope recipients of the C
LETTER."
  (values (%po-letter-envelope-from letter)
          (loop for i below (%po-letter-recipient-count letter)
                collect (%po-letter-recipient letter i))))

(defun render-letter (letter scope)
  "The octets of the C LETTER as they go on the wire, a fresh vector."
  (let ((chunks '())
        (total 0))
    (map-letter-octets letter scope
                       (lambda (octets n)
                         (push (subseq octets 0 n) chunks)
                         (incf total n)))
    (let ((result (make-array total :element-type '(unsigned-byte 8)))
          (position 0))
      (dolist (chunk (nreverse chunks))
        (replace result chunk :start1 position)
        (incf position (length chunk)))
      result)))

;;; ------------------------------------------------------------------
;;; Mailboxes: WITH-CAPTURED-LETTERS

(defun current-thread ()
  "The thread running this code (an object to compare with EQ)."
  #+sbcl sb-thread:*current-thread*
  #+ecl mp:*current-process*
  #+ccl ccl:*current-process*
  #-(or sbcl ecl ccl) :main)

(defclass capture-mailbox ()
  ((letters :initform '())
   (lock :initform (make-lock "capture mailbox")
         :reader mailbox-lock)
   (thread :initform (current-thread)
           :reader mailbox-thread)
   (active :initform t
           :accessor capture-mailbox-active-p))
  (:documentation "Where WITH-CAPTURED-LETTERS collects the letters
sent during its extent.  CAPTURED-LETTERS returns them; the mailbox
stays readable after the extent ends."))

(setf (documentation 'capture-mailbox-active-p 'function)
      "Returns true while the WITH-CAPTURED-LETTERS of MAILBOX is active,
NIL once its extent has ended.")

(defmethod print-object ((mailbox capture-mailbox) stream)
  (print-unreadable-object (mailbox stream :type t :identity t)
    (format stream "~d letter~:p~:[, closed~;~]"
            (length (slot-value mailbox 'letters))
            (capture-mailbox-active-p mailbox))))

(defvar *capture-lock* (make-lock "active captures")
  "The lock protecting *ACTIVE-MAILBOXES*.")

(defvar *active-mailboxes* '()
  "The mailboxes of the active WITH-CAPTURED-LETTERS forms of all
threads, the most recently opened first.  Global rather than a dynamic
binding, so that sends from other threads see them.")

(defun active-mailbox ()
  "The mailbox a letter sent now by this thread goes to, or NIL: the
innermost active capture of this thread, else the most recently opened
active capture of any thread."
  (when *active-mailboxes*
    (with-lock (*capture-lock*)
      (or (find (current-thread) *active-mailboxes* :key #'mailbox-thread)
          (first *active-mailboxes*)))))

(defun captured-letters (mailbox)
  "Returns the letters captured so far in MAILBOX (the variable of
WITH-CAPTURED-LETTERS), a fresh list of CAPTURED-LETTER objects in the
order they were sent.  Letters sent from other threads appear as soon
as their send has returned.  Can be called inside the body and after
it."
  (with-lock ((mailbox-lock mailbox))
    (reverse (slot-value mailbox 'letters))))

(defun capture-letter (mailbox letter scope)
  "Renders the C LETTER into a CAPTURED-LETTER stored in MAILBOX.
Returns the letter's Message-ID."
  (let ((octets (render-letter letter scope)))
    (multiple-value-bind (from recipients) (letter-envelope letter)
      (let* ((message-id (%po-letter-message-id letter))
             (captured (make-instance 'captured-letter
                                      :from from
                                      :recipients recipients
                                      :octets octets
                                      :message-id message-id)))
        (with-lock ((mailbox-lock mailbox))
          (push captured (slot-value mailbox 'letters)))
        message-id))))

(defun call-with-captured-letters (function)
  "Calls FUNCTION with a fresh CAPTURE-MAILBOX that is active during the
call.  Returns the values of FUNCTION."
  (let ((mailbox (make-instance 'capture-mailbox)))
    (with-lock (*capture-lock*)
      (push mailbox *active-mailboxes*))
    (unwind-protect (funcall function mailbox)
      (with-lock (*capture-lock*)
        (setf *active-mailboxes* (remove mailbox *active-mailboxes*))
        (setf (capture-mailbox-active-p mailbox) nil)))))

(defmacro with-captured-letters ((var) &body body)
  "Executes BODY with VAR bound to a fresh CAPTURE-MAILBOX, and returns
the values of BODY.  During BODY, SEND-LETTER, SEND-SMTP and
SEND-SMTP-AUTH (also through a connection of WITH-SMTP-CONNECTION, or
with a (:PROGRAM ...) or (:FILE ...) mail server) deliver nowhere: no
connection is made, no program run, no file written.  Each letter is
built and checked exactly as for a real send, so bad arguments signal
the same errors, then rendered by the C library exactly as it would go
over SMTP and recorded in VAR.  (CAPTURED-LETTERS VAR) returns the
letters so far, in send order; read them with CAPTURED-LETTER-FROM,
-RECIPIENTS, -OCTETS, -MESSAGE-ID, -HEADER, -HEADERS, -TEXT, -HTML and
-ATTACHMENTS.  SEND-LETTER returns the Message-ID, and
*SMTP-LAST-REPLY* is set to NIL.

Threads: letters sent from other threads during BODY are captured too.
A send goes to the innermost active capture opened by the sending
thread; a thread with none of its own sends to the most recently opened
active capture of any thread.  So nested captures in one thread see
only the letters sent while they are innermost, and tests running in
parallel threads each see their own letters, while letters from their
worker threads go to the most recently opened capture."
  `(call-with-captured-letters (lambda (,var) ,@body)))

;;; ------------------------------------------------------------------
;;; The file transport: (:file . "dir/")

(defstruct (file-transport (:constructor %make-file-transport
                               (directory designator)))
  "The (:FILE . \"dir/\") mail server: letters are written as files
into DIRECTORY (a directory pathname).  DESIGNATOR is what the caller
gave; LAST-REPLY the native name of the last .eml file written through
this object (see SMTP-CONNECTION-LAST-REPLY)."
  directory
  designator
  (last-reply nil))

(defmethod print-object ((transport file-transport) stream)
  (print-unreadable-object (transport stream :type t)
    (format stream "~a"
            (uiop:native-namestring (file-transport-directory transport)))))

(defun file-designator-p (designator)
  "True if DESIGNATOR is a (:FILE ...) mail server designator."
  (and (consp designator) (eq (car designator) :file)))

(defun parse-file-designator (designator)
  "The FILE-TRANSPORT for (:FILE . \"dir/\"), (:FILE . #p\"dir/\") or
\(:FILE \"dir/\").  The directory is taken as a directory even without
a trailing slash, relative to *DEFAULT-PATHNAME-DEFAULTS*."
  (let* ((rest (cdr designator))
         (directory (cond ((or (stringp rest) (pathnamep rest)) rest)
                          ((and (consp rest) (null (cdr rest))
                                (or (stringp (car rest))
                                    (pathnamep (car rest))))
                           (car rest))
                          (t nil))))
    (when (or (null directory)
              (and (stringp directory) (zerop (length directory))))
      (smtp-argument-error "Bad mail server ~s: use (:file . \"directory/\")."
                           designator))
    (%make-file-transport
     (merge-pathnames (uiop:ensure-directory-pathname
                       (if (stringp directory)
                           (uiop:parse-native-namestring directory)
                           directory)))
     designator)))

(defvar *file-counter* 0
  "The number of letters this process has written with the file
transport; part of each file name.")

(defvar *file-counter-lock* (make-lock "file transport counter")
  "The lock protecting *FILE-COUNTER*.")

(defun next-file-base-name ()
  "A fresh base name for a letter file: the UTC time, a counter and the
process id, e.g. \"20250131T235959Z-00000001-4242\".  Names sort in the
order the letters were written by one process."
  (multiple-value-bind (second minute hour day month year)
      (decode-universal-time (get-universal-time) 0)
    (format nil "~4,'0d~2,'0d~2,'0dT~2,'0d~2,'0d~2,'0dZ-~8,'0d-~d"
            year month day hour minute second
            (with-lock (*file-counter-lock*)
              (incf *file-counter*))
            (cffi:foreign-funcall "getpid" :int))))

(defun rename-native (from to)
  "Renames the file FROM to TO (native names), atomically, replacing TO.
Signals an error on failure."
  (unless (zerop (cffi:foreign-funcall "rename" file-name from
                                       file-name to :int))
    (error "cannot rename ~a to ~a" from to)))

(defun write-file-atomically (native function)
  "Writes the file NATIVE: calls FUNCTION with a binary output stream to
a temporary file next to it (a dot name), then renames that into place.
The temporary file is removed on failure."
  (let* ((slash (position #\/ native :from-end t))
         (temp (concatenate 'string (subseq native 0 (1+ slash)) "."
                            (subseq native (1+ slash)) ".tmp"))
         (path (uiop:parse-native-namestring temp))
         (done nil))
    (unwind-protect
         (progn
           (with-open-file (out path :direction :output
                                     :element-type '(unsigned-byte 8)
                                     :if-exists :error
                                     :if-does-not-exist :create)
             (funcall function out))
           (rename-native temp native)
           (setf done t))
      (unless done
        (ignore-errors (delete-file path))))))

(defun envelope-text (from recipients)
  "The contents of a .envelope file: a MAIL FROM line and one RCPT TO
line per recipient, each ending in a newline."
  (with-output-to-string (out)
    (format out "MAIL FROM:<~a>~%" from)
    (dolist (recipient recipients)
      (format out "RCPT TO:<~a>~%" recipient))))

(defun deliver-file (transport letter scope)
  "Writes the C LETTER into TRANSPORT's directory as NAME.eml (the wire
octets) and NAME.envelope.  Returns the Message-ID and the native name
of the .eml file."
  (let* ((directory (file-transport-directory transport))
         (native-directory (uiop:native-namestring directory))
         (eml nil))
    (handler-bind ((error
                     (lambda (condition)
                       (unless (or (typep condition 'smtp-error)
                                   (scope-condition scope))
                         (error 'smtp-error
                                :status nil
                                :format-control (escape-tildes
                                                 (format nil "Could not ~
write the letter into the directory ~a: ~a" native-directory condition))
                                :format-arguments '())))))
      (ensure-directories-exist directory)
      (loop for base = (next-file-base-name)
            for native = (concatenate 'string
                                      (string-right-trim "/" native-directory)
                                      "/" base)
            do (unless (probe-file (uiop:parse-native-namestring
                                    (concatenate 'string native ".eml")))
                 (setf eml native)
                 (return)))
      (write-file-atomically (concatenate 'string eml ".eml")
                             (lambda (out)
                               (map-letter-octets
                                letter scope
                                (lambda (octets n)
                                  (write-sequence octets out :end n)))))
      (multiple-value-bind (from recipients) (letter-envelope letter)
        (write-file-atomically (concatenate 'string eml ".envelope")
                               (lambda (out)
                                 (write-sequence
                                  (string-to-utf8 (envelope-text from
                                                                 recipients))
                                  out)))))
    (values (%po-letter-message-id letter)
            (concatenate 'string eml ".eml"))))
