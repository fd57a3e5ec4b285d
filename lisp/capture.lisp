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
;;; The captured letters are read with the C library's MIME reader
;;; (po_entity_parse, c/parse.c), the same one behind the preview page
;;; (preview.lisp): RFC 5322 header fields (unfolded), RFC 2045
;;; parameters with RFC 2231 continuations and charsets, RFC 2046
;;; multipart bodies, base64 and quoted-printable, RFC 2047 encoded
;;; words, charsets through iconv.  It is lenient: it never fails on
;;; malformed input, it makes the best of it.  The C tree is copied into
;;; Lisp ENTITY structures and freed at once.

(in-package :net.post-office)

;;; ------------------------------------------------------------------
;;; The MIME reader (C's)

(defun decode-header-text (text)
  "Returns the string TEXT, a header field value, with its RFC 2047
encoded words (\"=?utf-8?b?...?=\", \"=?iso-8859-1?q?...?=\") decoded.
White space between two adjacent encoded words is dropped, as RFC 2047
says, and adjacent words in the same charset are decoded together, so a
character split between two words comes out whole.  Charsets: utf-8,
us-ascii, and every charset iconv knows (iso-8859-*, windows-1252,
koi8-r, shift_jis ...).  An encoded word in an unknown charset, or one
that is malformed, is left as it is (Allegro CL signals an error
there).  Text that is not encoded, including raw UTF-8, is returned
unchanged.  Allegro's function, from mime-api.cl."
  (check-type text string)
  (if (not (search "=?" text))
      text
      (call-with-octets-pointer
       (string-to-utf8 text)
       (lambda (octets length)
         (cffi:with-foreign-object (out :pointer)
           (check-status (%po-decode-header (if (zerop length)
                                                (cffi:null-pointer)
                                                octets)
                                            length out))
           (let ((pointer (cffi:mem-ref out :pointer)))
             (unwind-protect (decode-utf8-pointer pointer)
               (%po-free pointer))))))))

(defstruct (entity (:constructor %make-entity) (:copier nil))
  "A MIME entity read by the C reader and copied into Lisp: its header
FIELDS ((NAME RAW . TEXT): RAW unfolded, TEXT also RFC 2047-decoded),
its content TYPE and SUBTYPE (lower case), its CHARSET parameter, its
DISPOSITION (lower case, or NIL), FILENAME, CONTENT-ID and transfer
ENCODING, its BODY (transfer-decoded octets) and, for a text leaf, its
TEXT (a string, line endings as on the wire), whether it is an
ATTACHMENT (a leaf not part of the letter's text), its PARTS when it is
a multipart, and the PROBLEMS the reader noted (strings)."
  fields
  (type "text")
  (subtype "plain")
  charset
  disposition
  filename
  content-id
  (encoding "7bit")
  body
  text
  attachment
  parts
  problems)

(defun foreign-octets (function entity)
  "The octets FUNCTION (%PO-ENTITY-BODY or %PO-ENTITY-TEXT) returns for
the C ENTITY, a fresh vector, or NIL for a null pointer."
  (cffi:with-foreign-object (len :size)
    (let ((pointer (funcall function entity len)))
      (unless (cffi:null-pointer-p pointer)
        (let ((octets (make-array (cffi:mem-ref len :size)
                                  :element-type '(unsigned-byte 8))))
          (copy-from-foreign pointer 0 (length octets) octets 0)
          octets)))))

(defun entity-from-c (pointer)
  "A Lisp ENTITY holding everything of the C entity at POINTER and its
children."
  (let* ((type (%po-entity-type pointer))
         (slash (position #\/ type))
         (text (foreign-octets #'%po-entity-text pointer)))
    (%make-entity
     :fields (loop for i below (%po-entity-header-count pointer)
                   collect (list* (%po-entity-header-name pointer i)
                                  (%po-entity-header-raw pointer i)
                                  (%po-entity-header-text pointer i)))
     :type (subseq type 0 slash)
     :subtype (subseq type (1+ slash))
     :charset (%po-entity-param pointer "charset")
     :disposition (%po-entity-disposition pointer)
     :filename (%po-entity-filename pointer)
     :content-id (%po-entity-content-id pointer)
     :encoding (%po-entity-encoding pointer)
     :body (foreign-octets #'%po-entity-body pointer)
     :text (and text (decode-utf8 text))
     :attachment (= 1 (%po-entity-is-attachment pointer))
     :parts (loop for i below (%po-entity-part-count pointer)
                  collect (entity-from-c (%po-entity-part pointer i)))
     :problems (loop for i below (%po-entity-problem-count pointer)
                     collect (%po-entity-problem pointer i)))))

(defun parse-entity (octets)
  "Reads the letter (or any MIME entity) in the octet vector OCTETS with
the C reader and returns it as an ENTITY."
  (call-with-octets-pointer
   octets
   (lambda (pointer length)
     (cffi:with-foreign-object (out :pointer)
       (check-status (%po-entity-parse pointer length out))
       (let ((root (cffi:mem-ref out :pointer)))
         (unwind-protect (entity-from-c root)
           (%po-entity-free root)))))))

(defun source-message-id (source)
  "The Message-ID field of the header block SOURCE handed to C (made
with :SNIFF-HEADER), a string such as \"<x@y.example>\", or NIL."
  (let ((header (source-header source)))
    (and header
         (plusp (length header))
         (let ((value (entity-field-text (parse-entity (coerce header 'octets))
                                         "Message-ID")))
           (and value (non-empty (string-trim '(#\Space #\Tab) value)))))))

(defun entity-field (entity name)
  "The raw value of the first field NAME (any case) of ENTITY, or NIL."
  (cadr (assoc name (entity-fields entity) :test #'string-equal)))

(defun entity-field-text (entity name)
  "The decoded value of the first field NAME (any case) of ENTITY, or
NIL."
  (cddr (assoc name (entity-fields entity) :test #'string-equal)))

(defun entity-content-type (entity)
  "\"type/subtype\" of ENTITY, in lower case."
  (format nil "~a/~a" (entity-type entity) (entity-subtype entity)))

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

(defun entity-string (entity)
  "The text of the text ENTITY as a string: transfer-decoded, decoded
from its charset, CRLF turned into #\\Newline."
  (crlf-to-newline (or (entity-text entity) "")))

(defun entity-leaves (entity)
  "The leaf entities of ENTITY, depth first, in order (a multipart whose
parts could not be found is none)."
  (if (entity-parts entity)
      (mapcan #'entity-leaves (entity-parts entity))
      (if (string= (entity-type entity) "multipart")
          nil
          (list entity))))

(defun body-text-entity-p (entity)
  "True if the leaf ENTITY is part of the letter's text rather than an
attachment: text/*, not Content-Disposition attachment, no file name."
  (not (entity-attachment entity)))

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
  (loop for (name nil . text) in (entity-fields (letter-entity letter))
        collect (cons name text)))

(defun captured-letter-header (letter name)
  "Returns the value of the header field NAME (a string, any case) of
the captured LETTER: unfolded and with its RFC 2047 encoded words
decoded, so a Subject reads as it was given and a From as
\"Jörg Müller <joerg@example.com>\".  Returns NIL if there is no such
field; the first one if there are several."
  (entity-field-text (letter-entity letter) name))

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
    (and entity (entity-string entity))))

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
                        (entity-body entity))))

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
