;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; mime.lisp - Allegro's MIME construction API: the class
;;; MIME-PART-CONSTRUCTED with its setf-able accessors, MAKE-MIME-PART
;;; with Allegro's defaults, MIME-GET-HEADER, MAP-OVER-PARTS,
;;; MIME-PART-WRITER and WITH-MIME-PART-CONSTRUCTED-STREAM.
;;;
;;; Parts are plain CLOS objects.  They become a C part tree only while
;;; they are rendered or sent (BUILD-C-PART), inside the dynamic extent
;;; of the call, and that tree is freed in UNWIND-PROTECT.  The C
;;; library does all the rendering: headers, encodings, boundaries.

(in-package :net.post-office)

;;; ------------------------------------------------------------------
;;; Classes

(defclass mime-part ()
  ((part-type :initform nil :accessor mime-part-type)
   (subtype :initform nil :accessor mime-part-subtype)
   (parameters :initform nil :accessor mime-part-parameters)
   (id :initform nil :accessor mime-part-id)
   (description :initform nil :accessor mime-part-description)
   (encoding :initform nil :accessor mime-part-encoding)
   (headers :initform nil :accessor mime-part-headers)
   (parts :initform nil :accessor mime-part-parts)
   (boundary :initform nil :accessor mime-part-boundary))
  (:documentation "The base class of MIME parts, as in Allegro CL."))

(defclass mime-part-constructed (mime-part)
  ((source-type :initform :usb8 :accessor source-type)
   (source :initform nil :accessor source)
   (file-name :initform nil :accessor source-file-name)
   (disposition :initform nil :accessor disposition)
   (disposition-name :initform nil :accessor disposition-name)
   ;; the boundary MAKE-MIME-PART drew: while MIME-PART-BOUNDARY is still
   ;; this one, the library may replace it in a letter whose content
   ;; holds it (it is no boundary the caller chose)
   (generated-boundary :initform nil :accessor generated-boundary))
  (:documentation "A MIME part made by MAKE-MIME-PART, for SEND-LETTER
and MIME-PART-WRITER.  Its accessors MIME-PART-TYPE, -SUBTYPE,
-PARAMETERS, -ID, -DESCRIPTION, -ENCODING, -HEADERS, -PARTS and
-BOUNDARY are setf-able, and changes show up in the output."))

(setf (documentation 'mime-part-type 'function)
      "The part's content type before the slash, e.g. \"text\" (a
string; setf-able)."
      (documentation 'mime-part-subtype 'function)
      "The part's content subtype after the slash, e.g. \"plain\" (a
string; setf-able)."
      (documentation 'mime-part-parameters 'function)
      "The part's Content-Type parameters, an alist of (NAME . VALUE)
strings; setf-able.  A \"charset\" entry gives the charset; a
\"boundary\" entry is ignored on output (MIME-PART-BOUNDARY is used)."
      (documentation 'mime-part-id 'function)
      "The part's Content-ID, or NIL; setf-able."
      (documentation 'mime-part-description 'function)
      "The part's Content-Description, or NIL; setf-able."
      (documentation 'mime-part-encoding 'function)
      "The part's Content-Transfer-Encoding as a string such as \"7bit\"
or \"base64\" (a symbol such as :BASE64 means its lower-case name), or
NIL for the library's choice; setf-able."
      (documentation 'mime-part-headers 'function)
      "The part's extra header fields, an alist of (NAME . VALUE);
setf-able.  On the top part of a letter, From, To, Cc, Subject and
Reply-To given here replace those SEND-LETTER would make.  The part's
own Content-* fields replace those the library makes, so that no part
ever has two of one name: a Content-Type sets the part's type, charset
and parameters (and a multipart's boundary, which is then fixed); a
Content-Transfer-Encoding is the encoding applied, and the send signals
an error when the content does not fit it (7bit with octets over 127,
a line over 998 octets or a lone \".\" line); Content-Disposition,
Content-ID and Content-Description are written as given.  Two Content-*
fields of one name, or a Bcc field (which would show the blind copies
to every recipient), are errors."
      (documentation 'mime-part-parts 'function)
      "The subparts of a multipart part, a list; setf-able."
      (documentation 'mime-part-boundary 'function)
      "The boundary of a multipart part, made when the part was made
\(from the operating system's random source); setf-able.  Setting it
does not change the \"boundary\" entry of MIME-PART-PARAMETERS (as in
Allegro), but the output uses this value for both the delimiters and
the Content-Type parameter, so the letter stays valid.  A boundary that
some content of the letter holds on a line of its own would let that
content pass for a part: a boundary made by MAKE-MIME-PART is then
replaced in that letter by a fresh one (the part is not changed); one
set by the caller (with SETF, or in a Content-Type of MIME-PART-HEADERS)
is kept, and the content goes quoted-printable instead, or, when its
Content-Transfer-Encoding was fixed in MIME-PART-HEADERS too, the send
signals an SMTP-ARGUMENT-ERROR.")

(defun mime-part-p (thing)
  "Returns true if THING is a MIME part."
  (typep thing 'mime-part))

(defun mime-part-constructed-p (thing)
  "Returns true if THING is a MIME-PART-CONSTRUCTED, as made by
MAKE-MIME-PART."
  (typep thing 'mime-part-constructed))

(defmacro mime-get-header (header part)
  "The value of the first header named HEADER (compared ignoring case)
in the MIME-PART-HEADERS of PART, or NIL.  Only the part's own extra
headers are searched.  SETF works on it when the header exists."
  `(cdr (assoc ,header (mime-part-headers ,part) :test #'equalp)))

(defun multipart-p (part)
  "True if PART is a multipart part."
  (equalp (mime-part-type part) "multipart"))

(defun multipart-mixed-p (part)
  "True if PART is a multipart/mixed part."
  (and (multipart-p part)
       (equalp (mime-part-subtype part) "mixed")))

(defun map-over-parts (part function)
  "Calls FUNCTION with PART, then with each of its subparts, depth
first.  Returns NIL."
  (funcall function part)
  (when (multipart-p part)
    (dolist (subpart (mime-part-parts part))
      (map-over-parts subpart function)))
  nil)

;;; ------------------------------------------------------------------
;;; External formats and charsets

(defun external-format-name (external-format)
  "The lower-case name of EXTERNAL-FORMAT, a keyword or symbol, or a
list whose first element is one (SBCL's (:UTF-8 :REPLACEMENT ...))."
  (let ((name (if (consp external-format)
                  (first external-format)
                  external-format)))
    (and (or (symbolp name) (stringp name))
         (string-downcase (string name)))))

(defun digits-p (string)
  "True if STRING is a non-empty string of decimal digits."
  (and (plusp (length string)) (every #'digit-char-p string)))

(defun string-prefix-p (prefix string)
  "True if STRING starts with PREFIX."
  (and (>= (length string) (length prefix))
       (string= prefix string :end2 (length prefix))))

(defun external-format-charset (external-format)
  "The MIME charset for EXTERNAL-FORMAT, in Allegro's table (design
reference §3.6), accepting Allegro's names (:UTF8 :LATIN1 :ASCII
:ISO8859-1 :1252 :SHIFTJIS :EUC ...) and the native ones (:UTF-8
:LATIN-1 :ISO-8859-1 :CP1252 :SHIFT_JIS :EUC-JP ...).  Returns NIL for
anything else."
  (let ((name (external-format-name external-format)))
    (when name
      (flet ((suffix (prefix)
               (and (string-prefix-p prefix name)
                    (digits-p (subseq name (length prefix)))
                    (subseq name (length prefix)))))
        (cond ((member name '("ascii" "us-ascii" "ansi_x3.4-1968")
                       :test #'string=)
               "us-ascii")
              ((member name '("utf8" "utf-8" "default") :test #'string=)
               "utf-8")
              ((member name '("latin1" "latin-1" "iso-latin-1")
                       :test #'string=)
               "iso-8859-1")
              ((member name '("iso-2022-jp" "jis") :test #'string=)
               "iso-2022-jp")
              ((member name '("koi8-r" "koi8r") :test #'string=)
               "koi8-r")
              ((member name '("shiftjis" "shift_jis" "shift-jis" "sjis")
                       :test #'string=)
               "shift_jis")
              ((member name '("euc" "euc-jp" "eucjp") :test #'string=)
               "euc-jp")
              ((string= name "gb2312") "gb2312")
              ((string= name "big5") "big5")
              ((or (suffix "iso8859-") (suffix "iso-8859-")
                   (suffix "iso8859_"))
               (format nil "iso-8859-~a"
                       (or (suffix "iso8859-") (suffix "iso-8859-")
                           (suffix "iso8859_"))))
              ((digits-p name) (format nil "windows-~a" name))
              ((or (suffix "cp") (suffix "windows-"))
               (format nil "windows-~a"
                       (or (suffix "cp") (suffix "windows-"))))
              (t nil))))))

(defun babel-encoding (external-format)
  "The babel encoding name for EXTERNAL-FORMAT, or NIL if babel has
none: babel's own name (:UTF-16, :CP437...) or the one for its MIME
charset."
  (let* ((encodings (babel-encodings:list-character-encodings))
         (name (external-format-name external-format))
         (charset (external-format-charset external-format))
         (by-charset (cond ((null charset) nil)
                           ((string= charset "us-ascii") :ascii)
                           ((string= charset "shift_jis") :cp932)
                           ((string= charset "euc-jp") :eucjp)
                           ((string= charset "gb2312") :gbk)
                           ((string-prefix-p "windows-" charset)
                            (intern (format nil "CP~a" (subseq charset 8))
                                    :keyword))
                           (t (intern (string-upcase charset) :keyword)))))
    (or (and by-charset (find by-charset encodings))
        (and name (find (intern (string-upcase name) :keyword) encodings)))))

(defun charset-external-format (charset)
  "An external format that encodes in the MIME charset CHARSET (a
string), or NIL if none is known."
  (let* ((charset (text-of charset))
         (format (intern (string-upcase charset) :keyword))
         (its-charset (external-format-charset format)))
    (and (equalp its-charset charset)
         (or (equal its-charset "utf-8") (babel-encoding format))
         format)))

(defun seven-bit-p (octets)
  "True if every octet of the octet vector OCTETS is below 128."
  (declare (type octets octets) (optimize speed))
  (loop for octet across octets always (< octet 128)))

(defun encode-text (string start end external-format)
  "The characters of STRING from START to END encoded in
EXTERNAL-FORMAT, as a fresh octet vector.  Characters the format cannot
represent are replaced."
  (let ((charset (external-format-charset external-format)))
    (cond
      ((equal charset "utf-8")
       (string-to-utf8 string :start start :end end))
      ((babel-encoding external-format)
       (coerce (babel:string-to-octets string
                                       :encoding (babel-encoding
                                                  external-format)
                                       :start start :end end
                                       :errorp nil)
               'octets))
      (t
       (let ((octets
               (handler-case
                   #+sbcl (sb-ext:string-to-octets
                           string :external-format external-format
                           :start start :end end)
                   #+ecl (let ((octets (make-array
                                        (- end start)
                                        :element-type '(unsigned-byte 8)
                                        :adjustable t :fill-pointer 0)))
                           (with-open-stream
                               (out (ext:make-sequence-output-stream
                                     octets
                                     :external-format external-format))
                             (write-string string out :start start :end end))
                           octets)
                   #+ccl (ccl:encode-string-to-octets
                          string :external-format external-format
                          :start start :end end)
                   #-(or sbcl ecl ccl) nil
                 (error () nil))))
         (unless octets
           (smtp-argument-error "The external format ~s is not ~
supported." external-format))
         (coerce octets 'octets))))))

;;; ------------------------------------------------------------------
;;; MAKE-MIME-PART

(defun generate-boundary ()
  "A fresh boundary of Allegro's shape: \"----------_\" and 32
characters drawn from \"01234567890abcdef\" by an index from 0 to 15
\(so only 0-9 and a-e occur).  The randomness comes from the operating
system at each call (the C library's po_boundary_new, over getrandom),
never from a Lisp random state, which a saved image would repeat in
every run."
  (cffi:with-foreign-pointer-as-string (out +boundary-size+)
    (check-status (%po-boundary-new out +boundary-size+))))

(defun base-name (file-name)
  "The last component of the file name FILE-NAME (a string), or NIL if
it is empty."
  (and file-name
       (let ((name (subseq file-name
                           (1+ (or (position #\/ file-name :from-end t)
                                   -1)))))
         (and (plusp (length name)) name))))

(defun file-name-string (file)
  "FILE, a pathname or a string, as a string."
  (if (pathnamep file)
      (uiop:native-namestring file)
      (text-of file)))

(defun native-file-name (file)
  "The absolute native file name for FILE (a string, taken as a native
name, or a pathname), relative names being merged with
*DEFAULT-PATHNAME-DEFAULTS* as OPEN would."
  (let ((name
          (if (pathnamep file)
              (uiop:native-namestring (merge-pathnames file))
              (let ((name (text-of file)))
                (if (and (plusp (length name)) (char= (char name 0) #\/))
                    name
                    (let ((directory (ignore-errors
                                      (uiop:native-namestring
                                       (uiop:pathname-directory-pathname
                                        *default-pathname-defaults*)))))
                      (if (and directory (plusp (length directory)))
                          (concatenate 'string
                                       (string-right-trim "/" directory)
                                       "/" name)
                          name)))))))
    #+ecl (ecl-file-name name)
    #-ecl name))

#+ecl
(defun ecl-file-name (name)
  "NAME, or the form of it under which ECL finds the file.  ECL 21 takes
the characters of a file name as its octets (Latin-1), so a file whose
name other programs wrote in UTF-8 (\"Größe.txt\" as the octets C3 B6
C3 9F) is found only under the string of those octets; NAME with its
real characters would not be found, and one with characters beyond
Latin-1 cannot be opened at all.  That form is returned when NAME is not
ASCII, names no file, and its UTF-8 form does."
  (flet ((exists-p (name)
           (ignore-errors (probe-file (uiop:parse-native-namestring name)))))
    (if (or (every (lambda (char) (< (char-code char) 128)) name)
            (exists-p name))
        name
        (let ((utf-8 (map 'string #'code-char (string-to-utf8 name))))
          (if (exists-p utf-8) utf-8 name)))))

(defun c-file-name-p (native)
  "True if C can be given the file name NATIVE: it must reach C as the
same octets this Lisp uses, and be UTF-8 (C derives the attachment's
filename from it).  Only ECL, whose file names are Latin-1, has names
that fail this: non-ASCII ones."
  (declare (ignorable native))
  #+ecl (every (lambda (char) (< (char-code char) 128)) native)
  #-ecl t)

(defun lisp-file-error (native original)
  "Signals an SMTP-FILE-ERROR unless Lisp can open the file NATIVE for
reading (for file names C cannot be given, see C-FILE-NAME-P)."
  (let ((path (uiop:parse-native-namestring native)))
    (unless (ignore-errors
             (and (not (uiop:directory-exists-p
                        (uiop:ensure-directory-pathname path)))
                  (with-open-file (in path :element-type '(unsigned-byte 8))
                    (declare (ignorable in))
                    t)))
      (error 'smtp-file-error
             :pathname original
             :status :enoent
             :format-control (escape-tildes
                              (format nil "attachment ~a: cannot be read"
                                      native))
             :format-arguments '()))))

(defun check-file (native original)
  "Signals an SMTP-FILE-ERROR unless the file NATIVE names exists, is a
regular file and can be read; ORIGINAL is what the caller gave."
  ;; see MAKE-C-LEAF
  (declare #+sbcl (sb-ext:muffle-conditions sb-ext:compiler-note))
  (if (c-file-name-p native)
      (cffi:with-foreign-object (out :pointer)
        (setf (cffi:mem-ref out :pointer) (cffi:null-pointer))
        (let ((status (%po-part-new-file native out)))
          (%po-part-free (cffi:mem-ref out :pointer))
          (check-status status :file original)))
      (lisp-file-error native original)))

(defun known-mime-type (file-name)
  "The content type the C library's table gives the file name
FILE-NAME, or NIL when it knows none."
  (let ((name (base-name file-name)))
    (and name
         (let ((type (%po-mime-type-for-name name)))
           (and type
                (string/= type "application/octet-stream")
                type)))))

(defun octet-vector (value start end)
  "The octets of the vector VALUE from START to END, as a fresh simple
octet vector."
  (unless (and (vectorp value)
               (every (lambda (x) (typep x '(unsigned-byte 8))) value))
    (smtp-argument-error ":text must be a string or a vector of octets, ~
not ~s." value))
  (coerce (subseq value start end) 'octets))

(defun make-mime-part (&key content-type encoding headers
                            (attachmentp nil attachmentp-p)
                            name text (start 0) end file subparts
                            (external-format :utf8 external-format-p)
                            parameters charset id description)
  "Returns a fresh MIME-PART-CONSTRUCTED, with Allegro CL's defaults:

TEXT is the content, a string (encoded at once with EXTERNAL-FORMAT,
default :UTF8, from START to END) or a vector of octets; or FILE is the
content, a file name (string or pathname: the file must be readable now,
else an SMTP-FILE-ERROR is signalled, and it is read only when the part
is rendered) or an input stream (read to its end when the part is
rendered, never closed or rewound); or SUBPARTS, a list of parts, makes
a multipart.  Giving both TEXT and FILE is an error.

CONTENT-TYPE, \"type/subtype\", defaults to the type guessed from the
file's name, else multipart/mixed with SUBPARTS, else
application/octet-stream for a FILE, text/plain for a string TEXT,
application/octet-stream for octets.  CHARSET defaults to a charset
named in CONTENT-TYPE (\"text/plain; charset=iso-8859-1\"), else, for
text/* and message/rfc822 parts, to the charset of EXTERNAL-FORMAT
(\"utf-8\" for :UTF8; \"us-ascii\" when unknown).  With a CHARSET (given
either way) and no EXTERNAL-FORMAT, a string TEXT is encoded in that
charset when it is a known one, so that label and octets agree.
ENCODING defaults to \"7bit\" for a string TEXT that encodes to ASCII,
\"base64\" otherwise (files, streams, octets), none for multiparts.
PARAMETERS is an alist of Content-Type parameters; (\"charset\" .
CHARSET) and, for multiparts, (\"boundary\" . BOUNDARY) are pushed on
its front.  ATTACHMENTP defaults to true for FILE parts: the part gets
Content-Disposition attachment with the filename NAME, else the file's
base name.  A part that is neither text nor multipart nor an attachment
gets Content-Disposition inline (with NAME if given).  HEADERS is an alist of extra header fields (NAME .
VALUE), whose Content-* fields replace the library's (see
MIME-PART-HEADERS); ID and DESCRIPTION give Content-ID and
Content-Description.  A multipart gets its random boundary now, from the
operating system's random source.  Parts nest at most 100 levels deep."
  (when (and text file)
    (smtp-argument-error "Only one of :text or :file may be specified."))
  (when (and text (null end))
    (setf end (length text)))
  (let ((part (make-instance 'mime-part-constructed))
        (text-argument text)
        (file-path (cond ((streamp file)
                          (ignore-errors (file-name-string
                                          (pathname file))))
                         (file (file-name-string file))))
        type subtype multipart textp)
    (unless content-type
      (setf content-type
            (or (and file-path (known-mime-type file-path))
                (cond (subparts "multipart/mixed")
                      (file "application/octet-stream")
                      ((stringp text) "text/plain")
                      (t "application/octet-stream")))))
    (let ((slash (and (stringp content-type)
                      (position #\/ content-type))))
      (unless slash
        (smtp-argument-error "Invalid content-type: ~s" content-type))
      (setf type (subseq content-type 0 slash)
            subtype (subseq content-type (1+ slash))))
    (setf multipart (equalp type "multipart")
          textp (or (equalp type "text")
                    (and (equalp type "message")
                         (equalp subtype "rfc822"))))
    (when (and subparts (not multipart))
      (smtp-argument-error "subparts may not be specified for ~
non-multipart parts (content-type ~s)." content-type))
    (when (and (not multipart) (null text) (null file))
      (smtp-argument-error "One of :text or :file must be specified."))
    ;; a charset in the content-type string ("text/plain; charset=x",
    ;; kept in the subtype as Allegro keeps it) counts as CHARSET
    (unless charset
      (setf charset (cdr (assoc "charset"
                                (nth-value 1 (split-subtype subtype))
                                :test #'equalp))))
    (when (and charset (not external-format-p))
      (let ((format (charset-external-format charset)))
        (when format
          (setf external-format format))))
    (when (and (null charset) textp)
      (setf charset (or (external-format-charset external-format)
                        "us-ascii")))
    (let ((string-text-p (stringp text)))
      (when text
        (setf text (if string-text-p
                       (encode-text text start end external-format)
                       (octet-vector text start end))))
      (when (and (not multipart) (null encoding))
        (setf encoding (if (and string-text-p (seven-bit-p text))
                           "7bit"
                           "base64"))))
    (setf (mime-part-type part) type
          (mime-part-subtype part) subtype
          (mime-part-parameters part) parameters)
    (when charset
      (push (cons "charset" charset) (mime-part-parameters part)))
    (setf (mime-part-encoding part) encoding
          (mime-part-id part) id
          (mime-part-description part) description
          (mime-part-headers part) headers)
    (cond (file
           (setf (source part) file)
           (cond ((streamp file)
                  (unless (and (input-stream-p file) (open-stream-p file))
                    (smtp-argument-error "~s is not an open input stream."
                                         file))
                  (setf (source-type part) :stream))
                 (t
                  (let ((native (native-file-name file)))
                    (check-file native file)
                    (setf (source-file-name part) native
                          (source-type part) :file))))
           (unless attachmentp-p
             (setf attachmentp t)))
          (t
           ;; :TEXT for a string: canonical CRLF text (see MAKE-C-LEAF)
           (setf (source-type part) (if (stringp text-argument) :text :usb8)
                 (source part) text)))
    (when (and (not textp) (not attachmentp) (not multipart))
      (setf (disposition part) "inline"))
    (when attachmentp
      (setf (disposition part) "attachment")
      (when (and (null name) file)
        (setf name (base-name file-path))))
    (when name
      (setf (disposition-name part) name))
    (when multipart
      (let ((boundary (generate-boundary)))
        (setf (mime-part-boundary part) boundary
              (generated-boundary part) boundary)
        (push (cons "boundary" boundary) (mime-part-parameters part))))
    (setf (mime-part-parts part) subparts)
    part))

(defun make-text-stream-part (stream &optional content-type encoding)
  "A text part (charset utf-8) whose text is read from the character
STREAM while rendering: what SEND-LETTER makes of a character stream
given as its message (design §4.10).  CONTENT-TYPE, \"text/plain\" by
default, may name no other charset: the text goes out as UTF-8.  The
transfer encoding ENCODING is by default left to the library, which
chooses quoted-printable, safe for any text read later."
  (let* ((content-type (or content-type "text/plain"))
         (slash (position #\/ content-type))
         (part (make-instance 'mime-part-constructed)))
    (unless slash
      (smtp-argument-error "Invalid content-type: ~s" content-type))
    (multiple-value-bind (subtype parameters)
        (split-subtype (subseq content-type (1+ slash)))
      (let ((charset (cdr (assoc "charset" parameters :test #'equalp))))
        (unless (or (null charset) (string-equal charset "utf-8"))
          (smtp-argument-error "A character stream message is sent as ~
UTF-8, so its content type cannot name the charset ~a." charset)))
      (setf (mime-part-type part) (subseq content-type 0 slash)
            (mime-part-subtype part) subtype
            (mime-part-parameters part)
            (cons (cons "charset" "utf-8")
                  (remove "charset" parameters :key #'car
                                               :test #'equalp))
            (mime-part-encoding part) encoding
            (source-type part) :stream
            (source part) stream))
    part))

;;; ------------------------------------------------------------------
;;; Lisp parts to C parts

(defun split-subtype (subtype)
  "Splits SUBTYPE at its first semicolon: Allegro lets \"text/plain;
charset=x\" through as the subtype \"plain; charset=x\" (Q19).  Returns
the subtype proper and an alist of the parameters after it."
  (let* ((subtype (text-of subtype))
         (semicolon (position #\; subtype)))
    (if (null semicolon)
        (values subtype nil)
        (values (string-trim " " (subseq subtype 0 semicolon))
                (loop for piece in (split-string (subseq subtype
                                                         (1+ semicolon))
                                                 #\;)
                      for equals = (position #\= piece)
                      when equals
                        collect (cons (string-trim " " (subseq piece 0
                                                               equals))
                                      (string-trim "\" "
                                                   (subseq piece
                                                           (1+ equals)))))))))

(defun split-string (string separator)
  "The pieces of STRING between SEPARATOR characters."
  (loop for start = 0 then (1+ end)
        for end = (position separator string :start start)
        collect (subseq string start end)
        while end))

(defun encoding-string (encoding)
  "The transfer encoding ENCODING (a string, a symbol such as :BASE64,
or NIL) as a string for C, or NIL."
  (typecase encoding
    (null nil)
    (symbol (string-downcase (symbol-name encoding)))
    (t (text-of encoding))))

(defun disposition-code (disposition)
  "The C constant for the disposition DISPOSITION (\"attachment\",
\"inline\" or NIL)."
  (cond ((null disposition) +disposition-none+)
        ((string-equal disposition "attachment") +disposition-attachment+)
        ((string-equal disposition "inline") +disposition-inline+)
        (t (smtp-argument-error "Unknown content disposition ~s: use ~
\"attachment\" or \"inline\"." disposition))))

(defun call-with-octets-pointer (octets function)
  "Calls FUNCTION with a foreign pointer to the contents of the octet
vector OCTETS, valid during the call, and their length."
  (let ((octets (if (typep octets 'octets) octets (coerce octets 'octets))))
    #+(or sbcl ecl ccl)
    (if (zerop (length octets))
        (funcall function (cffi:null-pointer) 0)
        (cffi:with-pointer-to-vector-data (pointer octets)
          (funcall function pointer (length octets))))
    #-(or sbcl ecl ccl)
    (let ((pointer (cffi:foreign-alloc :uint8
                                       :count (max 1 (length octets)))))
      (unwind-protect
           (progn (copy-to-foreign octets 0 (length octets) pointer 0)
                  (funcall function pointer (length octets)))
        (cffi:foreign-free pointer)))))

(defun make-c-leaf (part scope textp charset)
  "A new C leaf part for the content of PART."
  ;; where C opens every file (all but ECL), the Lisp branch is dead
  (declare #+sbcl (sb-ext:muffle-conditions sb-ext:compiler-note))
  (ecase (source-type part)
    ((:usb8 :text)
     ;; text from a string is canonical (CRLF) even in base64; octets
     ;; stay byte for byte
     (call-with-octets-pointer
      (or (source part) (make-array 0 :element-type '(unsigned-byte 8)))
      (lambda (pointer length)
        (check-pointer (if (and textp (eq (source-type part) :text))
                           (%po-part-new-text pointer length charset)
                           (%po-part-new-bytes pointer length))
                       "a part"))))
    (:file
     (let ((native (or (source-file-name part)
                       (native-file-name (source part)))))
       (if (c-file-name-p native)
           (cffi:with-foreign-object (out :pointer)
             (check-status (%po-part-new-file native out)
                           :file (source part))
             (cffi:mem-ref out :pointer))
           ;; Lisp reads the file for C, and closes it with the scope.
           (let ((stream (progn
                           (lisp-file-error native (source part))
                           (open (uiop:parse-native-namestring native)
                                 :element-type '(unsigned-byte 8)))))
             (scope-on-release scope (lambda () (close stream)))
             (check-pointer (%po-part-new-reader
                             (cffi:callback read-callback)
                             (scope-register scope
                                             (make-source (list stream))))
                            "a part")))))
    (:stream
     (let ((stream (source part)))
       (unless (and (streamp stream) (input-stream-p stream)
                    (open-stream-p stream))
         (smtp-argument-error "~s is not an open input stream." stream))
       (check-pointer (%po-part-new-reader
                       (cffi:callback read-callback)
                       (scope-register scope (make-source (list stream)
                                                          :crlf textp)))
                      "a part")))))

(defun build-c-part (part scope &optional extra-subparts ancestors)
  "Returns a new C part tree for the MIME-PART-CONSTRUCTED PART, with
EXTRA-SUBPARTS appended to its subparts (the attachments of
SEND-LETTER, so the caller's part is never modified).  Stream sources
are registered in SCOPE for the read callback.  ANCESTORS are the parts
above PART, to refuse cycles and trees deeper than the library takes
\(+MAX-DEPTH+ levels), before the recursion could go deep.  The caller
frees the tree (or hands it to a letter, which then owns it)."
  (unless (mime-part-constructed-p part)
    (smtp-argument-error "~s is not a mime-part-constructed." part))
  (when (member part ancestors)
    (smtp-argument-error "The MIME part ~s contains itself." part))
  (when (>= (length ancestors) +max-depth+)
    (smtp-argument-error "The MIME parts are nested more than ~d levels ~
deep." +max-depth+))
  (let* ((type (text-of (mime-part-type part)))
         (multipart (equalp type "multipart"))
         (textp (or (equalp type "text")
                    (and (equalp type "message")
                         (equalp (mime-part-subtype part) "rfc822"))))
         (c-part nil)
         (done nil))
    (multiple-value-bind (subtype type-parameters)
        (split-subtype (mime-part-subtype part))
      (let* ((parameters (append (mime-part-parameters part)
                                 type-parameters))
             (charset (let ((entry (assoc "charset" parameters
                                          :test #'equalp)))
                        (and entry (cdr entry)
                             (text-of (cdr entry))))))
        (unwind-protect
             (progn
               (setf c-part
                     (if multipart
                         (check-pointer (%po-part-new-multipart nil)
                                        "a multipart")
                         (make-c-leaf part scope textp charset)))
               (check-status (%po-part-set-type
                              c-part (concatenate 'string type "/"
                                                 (text-of subtype))))
               (check-status (%po-part-set-charset c-part charset))
               (loop for (name . value) in parameters
                     unless (or (equalp name "charset")
                                (equalp name "boundary"))
                       do (check-status (%po-part-add-param
                                         c-part (text-of name)
                                         (text-of value))))
               (unless multipart
                 (check-status (%po-part-set-encoding
                                c-part
                                (encoding-string (mime-part-encoding part)))))
               (let ((disposition (disposition part))
                     (name (disposition-name part)))
                 (check-status (%po-part-set-disposition
                                c-part (disposition-code disposition)
                                (and disposition name
                                     (base-name (text-of name))))))
               (when (mime-part-id part)
                 (check-status (%po-part-set-id
                                c-part (text-of (mime-part-id part)))))
               (when (mime-part-description part)
                 (check-status (%po-part-set-description
                                c-part
                                (text-of
                                 (mime-part-description part)))))
               ;; before the headers: a Content-Type among them that
               ;; names a boundary wins
               (when (and multipart (mime-part-boundary part))
                 (let ((boundary (text-of (mime-part-boundary part))))
                   (check-status
                    (if (equal boundary (generated-boundary part))
                        (%po-part-set-generated-boundary c-part boundary)
                        (%po-part-set-boundary c-part boundary)))))
               ;; a Content-Type or Content-Transfer-Encoding here
               ;; replaces the library's (and what was set above)
               (loop for (name . value) in (mime-part-headers part)
                     do (check-status (%po-part-add-header
                                       c-part (text-of name)
                                       (text-of value))))
               (when multipart
                 (dolist (subpart (append (mime-part-parts part)
                                          extra-subparts))
                   (let ((child (build-c-part subpart scope nil
                                              (cons part ancestors))))
                     (let ((status (%po-part-add c-part child)))
                       (unless (zerop status)
                         (%po-part-free child)
                         (po-error status))))))
               (setf done t)
               c-part)
          (unless done
            (when c-part
              (%po-part-free c-part))))))))

;;; ------------------------------------------------------------------
;;; Rendering

(defun call-with-part-reader (part flags function)
  "Builds PART in C, starts rendering it as a top-level entity with the
render FLAGS, and calls FUNCTION with the C reader and the scope of the
callbacks.  Everything is freed afterwards.  Returns the values of
FUNCTION."
  (with-scope (scope)
    (let ((c-part (build-c-part part scope))
          (reader nil))
      (unwind-protect
           (progn
             (cffi:with-foreign-object (out :pointer)
               (check-status (%po-reader-new-part c-part flags out)
                             :scope scope)
               (setf reader (cffi:mem-ref out :pointer)))
             (funcall function reader scope))
        (when reader
          (%po-reader-free reader))
        (%po-part-free c-part)))))

(defun character-output-stream-p (stream)
  "True if STREAM takes characters rather than octets."
  (let ((type (stream-element-type stream)))
    (not (and (subtypep type 'integer)
              (not (subtypep type 'character))))))

(defgeneric mime-part-writer (part &key stream)
  (:documentation "Writes PART as a top-level MIME entity (MIME-Version,
its headers, its Content-* fields, a blank line and its body) to STREAM,
which defaults to *TERMINAL-IO*.  A character stream gets lines ending
in a newline (as in Allegro); a binary stream gets the octets with CRLF
line endings, as they would go on the wire.  File sources are opened and
closed during the call; stream sources are read to their end, so a
second render of the same part has an empty body.  Returns NIL."))

(defmethod mime-part-writer ((part mime-part-constructed)
                             &key (stream *terminal-io*))
  (let ((characters (character-output-stream-p stream)))
    (call-with-part-reader
     part (if characters +render-lf+ 0)
     (lambda (reader scope)
       (let ((buffer (cffi:foreign-alloc :uint8 :count +chunk-size+))
             (octets (make-octet-buffer (+ +chunk-size+ 4)))
             (string (and characters (make-string (+ +chunk-size+ 4))))
             (carry 0))
         (unwind-protect
              (cffi:with-foreign-object (n-out :size)
                (loop
                  (check-status (%po-reader-read reader buffer +chunk-size+
                                                 n-out)
                                :scope scope)
                  (let ((n (cffi:mem-ref n-out :size)))
                    (copy-from-foreign buffer 0 n octets carry)
                    (cond
                      ((not characters)
                       (write-sequence octets stream :end n))
                      (t
                       ;; decode the complete characters, keep a split one
                       (let ((end (+ carry n))
                             (i 0)
                             (j 0))
                         (loop while (< i end)
                               do (multiple-value-bind (char next)
                                      (decode-utf8-char octets i end)
                                    (cond (char
                                           (setf (char string j) char
                                                 i next)
                                           (incf j))
                                          ((zerop n)
                                           ;; truncated at the end
                                           (setf (char string j)
                                                 (code-char
                                                  +replacement-character+)
                                                 i end)
                                           (incf j))
                                          (t (loop-finish)))))
                         (write-string string stream :end j)
                         (setf carry (- end i))
                         (replace octets octets :start2 i :end2 end))))
                    (when (zerop n)
                      (return)))))
           (cffi:foreign-free buffer)))))
    nil))

;;; ------------------------------------------------------------------
;;; The stream of WITH-MIME-PART-CONSTRUCTED-STREAM

(defclass mime-part-input-stream
    (trivial-gray-streams:fundamental-binary-input-stream
     trivial-gray-streams:fundamental-character-input-stream)
  ((reader :initarg :reader :accessor stream-reader)
   (scope :initarg :scope :accessor stream-scope)
   (foreign-buffer :initarg :foreign-buffer :accessor foreign-buffer)
   (n-out :initarg :n-out :accessor stream-n-out)
   (octets :initform (make-octet-buffer) :accessor stream-octets)
   (start :initform 0 :accessor stream-start)
   (end :initform 0 :accessor stream-end)
   (eof :initform nil :accessor stream-eof)
   ;; where the octets of the character READ-CHAR returned last start in
   ;; OCTETS, so that UNREAD-CHAR can step back over them; NIL after any
   ;; other read
   (char-start :initform nil :accessor stream-char-start))
  (:documentation "An input stream over the rendering of a MIME part,
pulled from the C renderer chunk by chunk (memory use does not depend on
the part's size).  It is bivalent: READ-BYTE and READ-SEQUENCE of
octets, READ-CHAR, READ-LINE, PEEK-CHAR and UNREAD-CHAR all work, in
any mix (the octets are decoded as UTF-8 for characters; a character
peeked or unread is read again by READ-BYTE as its octets).  Lines end
in a newline, as MIME-PART-WRITER writes them to a character stream."))

(defmethod character-stream-p ((stream mime-part-input-stream))
  nil)

#+(or sbcl ecl ccl)
(defmethod stream-element-type ((stream mime-part-input-stream))
  '(unsigned-byte 8))

(defun stream-refill (stream)
  "Reads the next chunk of the rendering into STREAM's buffer, keeping
the octets not consumed yet (and those of a character UNREAD-CHAR may
give back).  Returns the number of octets read, 0 at the end."
  (when (stream-eof stream)
    (return-from stream-refill 0))
  (unless (stream-reader stream)
    (error "The stream ~s is used outside ~
WITH-MIME-PART-CONSTRUCTED-STREAM." stream))
  (let* ((octets (stream-octets stream))
         (from (or (stream-char-start stream) (stream-start stream)))
         (end (stream-end stream))
         (kept (- end from)))
    (replace octets octets :start2 from :end2 end)
    (decf (stream-start stream) from)
    (when (stream-char-start stream)
      (setf (stream-char-start stream) 0))
    (setf (stream-end stream) kept)
    (check-status (%po-reader-read (stream-reader stream)
                                   (foreign-buffer stream)
                                   (- (length octets) kept)
                                   (stream-n-out stream))
                  :scope (stream-scope stream))
    (let ((n (cffi:mem-ref (stream-n-out stream) :size)))
      (copy-from-foreign (foreign-buffer stream) 0 n octets kept)
      (incf (stream-end stream) n)
      (when (zerop n)
        (setf (stream-eof stream) t))
      n)))

(defmethod trivial-gray-streams:stream-read-byte
    ((stream mime-part-input-stream))
  (setf (stream-char-start stream) nil)
  (when (and (>= (stream-start stream) (stream-end stream))
             (zerop (stream-refill stream)))
    (return-from trivial-gray-streams:stream-read-byte :eof))
  (prog1 (aref (stream-octets stream) (stream-start stream))
    (incf (stream-start stream))))

(defmethod trivial-gray-streams:stream-read-char
    ((stream mime-part-input-stream))
  (setf (stream-char-start stream) nil)
  (loop
    (when (and (>= (stream-start stream) (stream-end stream))
               (zerop (stream-refill stream)))
      (return :eof))
    (multiple-value-bind (char next)
        (decode-utf8-char (stream-octets stream) (stream-start stream)
                          (stream-end stream))
      (cond (char
             ;; a refill moves the octets kept to the front, so the
             ;; character's start is only known now
             (setf (stream-char-start stream) (stream-start stream)
                   (stream-start stream) next)
             (return char))
            ((zerop (stream-refill stream))
             ;; a sequence cut short by the end of the data
             (setf (stream-char-start stream) (stream-start stream)
                   (stream-start stream) (stream-end stream))
             (return (code-char +replacement-character+)))))))

(defmethod trivial-gray-streams:stream-unread-char
    ((stream mime-part-input-stream) char)
  (let ((start (stream-char-start stream)))
    (unless start
      (error "UNREAD-CHAR of ~s on ~s, which was not the last character ~
READ-CHAR returned." char stream))
    ;; its octets are still in the buffer (STREAM-REFILL keeps them)
    (setf (stream-start stream) start
          (stream-char-start stream) nil))
  nil)

(defmethod trivial-gray-streams:stream-listen
    ((stream mime-part-input-stream))
  (or (< (stream-start stream) (stream-end stream))
      (plusp (stream-refill stream))))

(defmethod trivial-gray-streams:stream-read-char-no-hang
    ((stream mime-part-input-stream))
  (trivial-gray-streams:stream-read-char stream))

(defmethod trivial-gray-streams:stream-read-sequence
    ((stream mime-part-input-stream) sequence start end &key)
  (let ((end (or end (length sequence))))
    (setf (stream-char-start stream) nil)
    (if (and (vectorp sequence)
             (subtypep (array-element-type sequence) 'character))
        (loop for i from start below end
              for char = (trivial-gray-streams:stream-read-char stream)
              do (when (eq char :eof)
                   (return i))
                 (setf (char sequence i) char)
              finally (return end))
        (let ((i start))
          (loop while (< i end)
                do (when (and (>= (stream-start stream) (stream-end stream))
                              (zerop (stream-refill stream)))
                     (return))
                   (let ((k (min (- end i)
                                 (- (stream-end stream)
                                    (stream-start stream)))))
                     (replace sequence (stream-octets stream)
                              :start1 i :end1 (+ i k)
                              :start2 (stream-start stream))
                     (incf (stream-start stream) k)
                     (incf i k)))
          i))))

(defun call-with-mime-part-stream (part function)
  "Calls FUNCTION with a MIME-PART-INPUT-STREAM over the rendering of
PART and returns its values; frees everything afterwards."
  (call-with-part-reader
   part +render-lf+
   (lambda (reader scope)
     (let ((buffer (cffi:foreign-alloc :uint8 :count +chunk-size+))
           (n-out (cffi:foreign-alloc :size))
           (stream nil))
       (unwind-protect
            (progn
              (setf stream (make-instance 'mime-part-input-stream
                                          :reader reader
                                          :scope scope
                                          :foreign-buffer buffer
                                          :n-out n-out))
              (funcall function stream))
         (when stream
           (setf (stream-reader stream) nil
                 (stream-eof stream) t)
           (close stream))
         (cffi:foreign-free n-out)
         (cffi:foreign-free buffer))))))

(defmacro with-mime-part-constructed-stream ((var part) &body body)
  "Executes BODY with VAR bound to an input stream that yields what
MIME-PART-WRITER would write for PART to a character stream (lines end
in a newline).  The stream is bivalent: it supports READ-BYTE and
READ-SEQUENCE of octets (so it can be given to SEND-SMTP) as well as
READ-CHAR, READ-LINE, PEEK-CHAR and UNREAD-CHAR.  The part is rendered
lazily, in constant memory, and everything is freed when BODY is left.
Returns the values of BODY."
  `(call-with-mime-part-stream ,part (lambda (,var) ,@body)))
