;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; util.lisp - what the API needs besides C: UTF-8 in both directions,
;;; moving octets into C buffers, the sources the read callback pulls
;;; from, the tracer behind *SMTP-DEBUG*, and the normalisation of
;;; designators (server, recipients, headers), each done once.

(in-package :net.post-office)

(deftype octets (&optional (length '*))
  "A simple vector of octets."
  `(simple-array (unsigned-byte 8) (,length)))

;;; ------------------------------------------------------------------
;;; UTF-8

(defconstant +replacement-character+ #xFFFD
  "U+FFFD, which stands for octets that are not valid UTF-8 and for
characters that cannot be encoded.")

(defun utf8-sequence-length (octet)
  "The length of the UTF-8 sequence the lead octet OCTET starts, or NIL
if OCTET cannot start one."
  (declare (type (unsigned-byte 8) octet))
  (cond ((< octet #x80) 1)
        ((< octet #xC2) nil)
        ((< octet #xE0) 2)
        ((< octet #xF0) 3)
        ((< octet #xF5) 4)
        (t nil)))

(defun decode-utf8-char (octets start end)
  "Decodes one character from OCTETS between START and END.  Returns the
character and the index after it; an invalid sequence yields U+FFFD and
consumes one octet.  Returns NIL when the sequence at START is
incomplete (it needs octets beyond END)."
  (declare (type octets octets) (type fixnum start end)
           (optimize speed)
           ;; CODE-CHAR's fallback is unreachable here: SBCL says so
           #+sbcl (sb-ext:muffle-conditions sb-ext:compiler-note))
  (let* ((lead (aref octets start))
         (n (utf8-sequence-length lead)))
    (cond ((eql n 1)
           (values (code-char lead) (1+ start)))
          ((null n)
           (values (code-char +replacement-character+) (1+ start)))
          (t
           (let ((code (logand lead (case n (2 #x1F) (3 #x0F) (t #x07)))))
             (declare (type (unsigned-byte 21) code))
             (loop for i from (1+ start) below (+ start n)
                   do (when (>= i end)
                        (return-from decode-utf8-char nil))
                      (let ((octet (aref octets i)))
                        (unless (= (logand octet #xC0) #x80)
                          (return-from decode-utf8-char
                            (values (code-char +replacement-character+)
                                    (1+ start))))
                        (setf code (logior (ash code 6)
                                           (logand octet #x3F)))))
             (if (or (and (= n 3) (< code #x800))
                     (and (= n 4) (or (< code #x10000) (> code #x10FFFF)))
                     (<= #xD800 code #xDFFF))
                 (values (code-char +replacement-character+) (1+ start))
                 (values (or (code-char code)
                             (code-char +replacement-character+))
                         (+ start n))))))))

(defun decode-utf8 (octets &key (start 0) (end (length octets)))
  "The string OCTETS between START and END encode in UTF-8, with U+FFFD
for invalid or incomplete sequences."
  (let ((string (make-string (- end start)))
        (j 0))
    (loop with i = start
          while (< i end)
          do (multiple-value-bind (char next) (decode-utf8-char octets i end)
               (unless char
                 (setf char (code-char +replacement-character+)
                       next end))
               (setf (char string j) char
                     i next)
               (incf j)))
    (subseq string 0 j)))

(defun decode-utf8-pointer (pointer &optional length)
  "The string the UTF-8 octets at the foreign POINTER encode: LENGTH
octets, or up to the first NUL if LENGTH is NIL."
  (declare (optimize speed))
  (let* ((length (or length
                     (loop for i of-type fixnum from 0
                           until (zerop (cffi:mem-aref pointer :uint8 i))
                           finally (return i))))
         (octets (make-array length :element-type '(unsigned-byte 8)))
         (ascii t))
    (declare (type fixnum length))
    (dotimes (i length)
      (let ((octet (cffi:mem-aref pointer :uint8 i)))
        (when (>= octet #x80)
          (setf ascii nil))
        (setf (aref octets i) octet)))
    (if ascii
        ;; replies and Message-IDs are ASCII: no decoding needed
        (map 'string #'code-char octets)
        (decode-utf8 octets))))

(defun encode-utf8-into (string start end octets)
  "Encodes the characters of STRING between START and END as UTF-8 into
OCTETS from index 0, which must have room for four octets a character.
Surrogates become U+FFFD.  Returns the number of octets written."
  (declare (type string string) (type fixnum start end)
           (type octets octets) (optimize speed)
           ;; a STRING of unknown kind cannot be optimised: SBCL says so
           #+sbcl (sb-ext:muffle-conditions sb-ext:compiler-note))
  (let ((j 0))
    (declare (type fixnum j))
    (flet ((put (octet)
             (setf (aref octets j) octet)
             (incf j)))
      (declare (inline put))
      (loop for i from start below end
            for code of-type (integer 0 #x10FFFF) = (char-code (char string i))
            do (when (<= #xD800 code #xDFFF)
                 (setf code +replacement-character+))
               (cond ((< code #x80)
                      (put code))
                     ((< code #x800)
                      (put (logior #xC0 (ash code -6)))
                      (put (logior #x80 (logand code #x3F))))
                     ((< code #x10000)
                      (put (logior #xE0 (ash code -12)))
                      (put (logior #x80 (logand (ash code -6) #x3F)))
                      (put (logior #x80 (logand code #x3F))))
                     (t
                      (put (logior #xF0 (ash code -18)))
                      (put (logior #x80 (logand (ash code -12) #x3F)))
                      (put (logior #x80 (logand (ash code -6) #x3F)))
                      (put (logior #x80 (logand code #x3F)))))))
    j))

(declaim (inline text-of))
(defun text-of (thing)
  "THING as printed by PRINC (Allegro prints these arguments with ~A):
THING itself if it is a string, without the copy PRINC-TO-STRING
makes."
  (if (stringp thing) thing (princ-to-string thing)))

(defun ascii-octets (string start end)
  "STRING between START and END as a fresh octet vector if every
character is ASCII, else NIL: the common case, without the general
encoder (a letter body is often kilobytes)."
  (declare (type fixnum start end) (optimize speed))
  (macrolet ((copy (type)
               `(let ((string string))
                  (declare (type ,type string))
                  (when (loop for i of-type fixnum from start below end
                              always (< (char-code (char string i)) 128))
                    (let ((octets (make-array (- end start)
                                              :element-type
                                              '(unsigned-byte 8))))
                      (loop for i of-type fixnum from start below end
                            for j of-type fixnum from 0
                            do (setf (aref octets j)
                                     (char-code (char string i))))
                      octets)))))
    (typecase string
      ((simple-array character (*)) (copy (simple-array character (*))))
      (simple-base-string (copy simple-base-string))
      (t nil))))

(defun string-to-utf8 (string &key (start 0) (end (length string)))
  "STRING between START and END encoded as UTF-8, a fresh octet vector."
  (let ((string (coerce string 'simple-string)))
    (or (ascii-octets string start end)
        (let* ((buffer (make-array (* 4 (- end start))
                                   :element-type '(unsigned-byte 8)))
               (n (encode-utf8-into string start end buffer)))
          (subseq buffer 0 n)))))

;;; ------------------------------------------------------------------
;;; Moving octets between Lisp vectors and C buffers

(defun make-octet-buffer (&optional (size +chunk-size+))
  "A fresh octet vector of SIZE octets that C can be pointed at."
  (cffi:make-shareable-byte-vector size))

(defun copy-to-foreign (octets start count pointer offset)
  "Copies COUNT octets of the Lisp vector OCTETS from START into the
foreign memory at POINTER plus OFFSET."
  (declare (type octets octets) (type fixnum start count offset))
  (when (plusp count)
    #+(or sbcl ecl ccl)
    (cffi:with-pointer-to-vector-data (source octets)
      (%memcpy (cffi:inc-pointer pointer offset)
               (cffi:inc-pointer source start)
               count))
    #-(or sbcl ecl ccl)
    (dotimes (i count)
      (setf (cffi:mem-aref pointer :uint8 (+ offset i))
            (aref octets (+ start i)))))
  count)

(defun copy-from-foreign (pointer offset count octets start)
  "Copies COUNT octets from the foreign memory at POINTER plus OFFSET
into the Lisp vector OCTETS from START."
  (declare (type octets octets) (type fixnum start count offset))
  (when (plusp count)
    #+(or sbcl ecl ccl)
    (cffi:with-pointer-to-vector-data (target octets)
      (%memcpy (cffi:inc-pointer target start)
               (cffi:inc-pointer pointer offset)
               count))
    #-(or sbcl ecl ccl)
    (dotimes (i count)
      (setf (aref octets (+ start i))
            (cffi:mem-aref pointer :uint8 (+ offset i)))))
  count)

;;; ------------------------------------------------------------------
;;; Sources: what the read callback pulls from

(defgeneric character-stream-p (stream)
  (:documentation "True if STREAM is read with READ-CHAR rather than
READ-BYTE.")
  (:method (stream)
    (values (ignore-errors (subtypep (stream-element-type stream)
                                     'character)))))

(defstruct (source (:constructor %make-source (items)))
  "A sequence of ITEMS (strings, streams, octet vectors; NIL items are
skipped) read in order by the read callback, chunk by chunk: binary
streams with READ-SEQUENCE into a reusable octet buffer, character
streams and strings encoded to UTF-8 on the fly.  Streams are read to
their end, never closed or rewound."
  (items nil)
  ;; the item being read, and how
  (current nil)
  (kind nil)
  (index 0 :type fixnum)
  ;; octets waiting to be handed to C: OCTETS from PENDING-START to
  ;; PENDING-END (the UTF-8 of characters already read)
  (octets nil)
  (pending-start 0 :type fixnum)
  (pending-end 0 :type fixnum)
  (chars nil)
  ;; the octets of the header block handed to C so far (see
  ;; SOURCE-MESSAGE-ID), or NIL if not wanted; HEADER-STATE is 1 after a
  ;; line feed, 0 otherwise, and :DONE once the blank line was seen
  (header nil)
  (header-state 0)
  ;; true: characters read are text whose line ends go out as CRLF;
  ;; PREVIOUS is the last octet handed over so far
  (crlf nil)
  (previous 0)
  ;; the condition a callback caught while reading
  (condition nil))

(defconstant +max-sniffed-header+ (* 256 1024)
  "At most this many octets of a pre-formatted letter's header block are
kept to find its Message-ID.")

(defun make-source (items &key sniff-header crlf)
  "A source reading ITEMS in order.  With SNIFF-HEADER, the octets up to
the first empty line (the header block of a pre-formatted letter) are
kept for SOURCE-MESSAGE-ID.  With CRLF, the text of character streams
and strings is handed over in canonical form, each LF not after a CR
made CRLF (RFC 2045 §6.8: a text part read from a character stream is
then the same in base64 as in any other encoding)."
  (let ((source (%make-source (copy-list items))))
    (setf (source-crlf source) crlf)
    (when sniff-header
      (setf (source-header source)
            (make-array 1024 :element-type '(unsigned-byte 8)
                             :adjustable t :fill-pointer 0)))
    source))

(defun source-note (source octets start count)
  "Keeps the COUNT octets of OCTETS from START, about to be handed to C,
while they belong to the header block of SOURCE (if it keeps one)."
  (declare (type octets octets) (type fixnum start count))
  (let ((header (source-header source)))
    (when (and header (not (eq (source-header-state source) :done)))
      (loop with state = (source-header-state source)
            for i from start below (+ start count)
            for octet = (aref octets i)
            do (when (>= (fill-pointer header) +max-sniffed-header+)
                 (setf state :done)
                 (loop-finish))
               (vector-push-extend octet header)
               (cond ((/= octet 10)
                      (unless (= octet 13)
                        (setf state 0)))
                     ((= state 1)
                      (setf state :done)
                      (loop-finish))
                     (t (setf state 1)))
            finally (setf (source-header-state source) state)))))

(defmethod callback-condition ((source source))
  (source-condition source))

(defun source-failed (source condition)
  "Records that reading SOURCE failed with CONDITION, caught by the read
callback, to be signalled again once C has returned."
  (unless (source-condition source)
    (setf (source-condition source) condition)))

(defun source-next-item (source)
  "Makes the next non-NIL item of SOURCE current.  Returns NIL when
there is none left."
  (loop
    (when (null (source-items source))
      (setf (source-current source) nil)
      (return nil))
    (let ((item (pop (source-items source))))
      (when item
        (setf (source-index source) 0)
        (multiple-value-bind (current kind)
            (etypecase item
              (string (values item :string))
              ((vector (unsigned-byte 8))
               (values (coerce item 'octets) :vector))
              (stream (values item (if (character-stream-p item)
                                       :character
                                       :binary))))
          (setf (source-current source) current
                (source-kind source) kind))
        (return t)))))

(defun source-ensure-buffers (source)
  "Gives SOURCE its octet and character buffers on first use."
  (unless (source-octets source)
    (setf (source-octets source) (make-octet-buffer)
          (source-chars source) (make-string (floor +chunk-size+ 4)))))

(defun crlf-expand (octets end previous)
  "Makes each LF among the first END OCTETS that does not follow a CR a
CRLF, in place (OCTETS has room: at most four octets a character were
reserved, and an LF takes two).  PREVIOUS is the octet before
OCTETS[0].  Returns the new end."
  (declare (type octets octets) (type fixnum end)
           (type (unsigned-byte 8) previous) (optimize speed))
  (flet ((bare-lf-p (i)
           (and (= (aref octets i) 10)
                (/= (if (zerop i) previous (aref octets (1- i))) 13))))
    (let ((extra (loop for i of-type fixnum below end
                       count (bare-lf-p i))))
      (declare (type fixnum extra))
      (when (zerop extra)
        (return-from crlf-expand end))
      ;; backwards, so that every octet is read before it is overwritten
      (let ((j (+ end extra)))
        (declare (type fixnum j))
        (loop for i of-type fixnum from (1- end) downto 0
              do (let ((bare (bare-lf-p i)))
                   (setf (aref octets (decf j)) (aref octets i))
                   (when bare
                     (setf (aref octets (decf j)) 13))))
        (+ end extra)))))

(defun source-fill (source pointer length)
  "Copies up to LENGTH octets of SOURCE into the foreign buffer at
POINTER.  Returns the number of octets copied, 0 at the end."
  (declare (type fixnum length))
  (source-ensure-buffers source)
  (let ((n 0)
        (octets (source-octets source))
        (chars (source-chars source)))
    (declare (type fixnum n) (type octets octets))
    (loop
      (when (>= n length)
        (return n))
      (cond
        ;; octets already encoded
        ((< (source-pending-start source) (source-pending-end source))
         (let ((k (min (- (source-pending-end source)
                          (source-pending-start source))
                       (- length n))))
           (source-note source octets (source-pending-start source) k)
           (copy-to-foreign octets (source-pending-start source) k
                            pointer n)
           (incf (source-pending-start source) k)
           (incf n k)))
        ;; the next item
        ((and (null (source-current source))
              (not (source-next-item source)))
         (return n))
        (t
         (let ((current (source-current source)))
           (ecase (source-kind source)
             (:binary
              (let* ((want (min (- length n) (length octets)))
                     (got (read-sequence octets current :end want)))
                (source-note source octets 0 got)
                (copy-to-foreign octets 0 got pointer n)
                (incf n got)
                (when (< got want)
                  (setf (source-current source) nil))))
             ((:character :string)
              (let* ((want (min (- length n) (length chars)))
                     (got (if (eq (source-kind source) :string)
                              (let* ((start (source-index source))
                                     (end (min (length current)
                                               (+ start want))))
                                (setf (source-index source) end)
                                (replace chars current :start2 start
                                                       :end2 end)
                                (- end start))
                              (read-sequence chars current :end want))))
                (setf (source-pending-start source) 0
                      (source-pending-end source)
                      (encode-utf8-into chars 0 got octets))
                (when (source-crlf source)
                  (setf (source-pending-end source)
                        (crlf-expand octets (source-pending-end source)
                                     (source-previous source)))
                  (when (plusp (source-pending-end source))
                    (setf (source-previous source)
                          (aref octets (1- (source-pending-end source))))))
                (when (< got want)
                  (setf (source-current source) nil))))
             (:vector
              (let* ((start (source-index source))
                     (k (min (- (length current) start) (- length n))))
                (source-note source current start k)
                (copy-to-foreign current start k pointer n)
                (incf n k)
                (incf (source-index source) k)
                (when (>= (source-index source) (length current))
                  (setf (source-current source) nil)))))))))))

;;; ------------------------------------------------------------------
;;; The tracer behind *SMTP-DEBUG*

(defstruct (tracer (:constructor make-tracer ()))
  "Where the trace callback prints the SMTP dialogue of one handle."
  (stream nil)
  (condition nil))

(defun debug-stream ()
  "The stream *SMTP-DEBUG* designates, or NIL."
  (let ((debug *smtp-debug*))
    (cond ((null debug) nil)
          ((eq debug t) *standard-output*)
          ((streamp debug) debug)
          (t nil))))

(defun trace-line (tracer direction line)
  "Prints LINE, which came in DIRECTION (#\\C for a command we sent, #\\S
for a server reply line, #\\I for a remark), to TRACER's stream in
Allegro's style."
  (let ((stream (tracer-stream tracer))
        ;; what a server says must not drive the terminal (nor, in our
        ;; own lines, an address or a name of the caller's)
        (line (printable-text line)))
    (when stream
      (case direction
        (#\C (format stream "to smtp command: ~s~%" line))
        (#\S (write-line line stream))
        (t (format stream "; ~a~%" line)))
      (force-output stream))))

(defun tracer-failed (tracer condition)
  "Records that printing to TRACER's stream failed with CONDITION; the
rest of the dialogue is not printed."
  (unless (tracer-condition tracer)
    (setf (tracer-condition tracer) condition))
  (setf (tracer-stream tracer) nil))

(defun tracer-report (tracer)
  "Signals a warning if printing the dialogue through TRACER failed."
  (let ((condition (and tracer (tracer-condition tracer))))
    (when condition
      (setf (tracer-condition tracer) nil)
      (warn 'smtp-warning
            :format-control "Printing the SMTP dialogue to ~
NET.POST-OFFICE::*SMTP-DEBUG* failed: ~a"
            :format-arguments (list condition)))))

;;; ------------------------------------------------------------------
;;; Recipients and headers

(defun recipient-list (value what &optional required)
  "VALUE, a recipient designator (a string or a list of them), as a
fresh list of strings; each string may be an address list (\"a@b.example,
Carol <c@d.example>\"), which C parses.  WHAT names the argument for the
error message.  NIL gives NIL unless REQUIRED."
  (cond ((stringp value) (list value))
        ((and (consp value) (null (cdr (last value))))
         (when (member nil value)
           (smtp-argument-error "~a contains NIL, which is not an ~
address: ~s" what value))
         (mapcar #'princ-to-string value))
        ((and (null value) (not required)) nil)
        (t (smtp-argument-error "~a should be a string or a non-empty list ~
of addresses, not ~s" what value))))

(defun header-line (string)
  "The raw header line STRING ready for C: a single trailing newline
\(Allegro's quirk Q18) is removed, and folded continuation lines (a
newline followed by a space or tab) are unfolded.  Other line breaks are
left for C to refuse."
  (let ((line (string-right-trim '(#\Return) (princ-to-string string))))
    (when (and (plusp (length line))
               (char= (char line (1- (length line))) #\Newline))
      (setf line (string-right-trim '(#\Return)
                                    (subseq line 0 (1- (length line))))))
    (flet ((line-break-p (char)
             (member char '(#\Return #\Newline))))
      (with-output-to-string (out)
        (loop with i = 0
              while (< i (length line))
              do (let* ((char (char line i))
                        (next (and (line-break-p char)
                                   (position-if-not #'line-break-p line
                                                    :start i))))
                   (if (and next
                            (<= (- next i) 2)
                            (member (char line next) '(#\Space #\Tab)))
                       ;; a folded line: drop the line break
                       (setf i next)
                       (progn (write-char char out)
                              (incf i)))))))))

(defun header-lines (headers)
  "The :HEADERS argument of SEND-LETTER (a string or a list of strings)
as a list of header lines for C."
  (cond ((null headers) nil)
        ((stringp headers) (list (header-line headers)))
        ((and (consp headers) (null (cdr (last headers))))
         (mapcar #'header-line headers))
        (t (smtp-argument-error "Unknown headers format: ~s." headers))))

;;; ------------------------------------------------------------------
;;; Server designators

(defstruct server
  "A mail server designator, normalised.  KIND is :SMTP or :PROGRAM."
  (kind :smtp)
  (host nil)
  (port 25)
  (security 0)
  (verify t)
  (tls-options nil)
  (connect-ms 0)
  (reply-ms 0)
  (stall-ms 0)
  (total-ms 0)
  (mechanisms nil)
  (oauth-token nil)
  (partial-delivery nil)
  (ehlo-name nil)
  (dsn-notify 0)
  (dsn-ret 0)
  (dsn-envid nil)
  (require-tls nil)
  (argv nil)
  (command nil))

(defun forget-oauth-token (server)
  "Drops the :OAUTH-TOKEN of SERVER, once a C handle holds it, so that
no Lisp object keeps the secret."
  (setf (server-oauth-token server) nil))

(defparameter *server-keys*
  '(:port :ssl :starttls :method :certificate :key :certificate-password
    :ca-file :ca-directory :crl-file :crl-check :ciphers :ciphersuites
    :max-depth :verify :server-name :timeout :connect-timeout
    :reply-timeout :total-timeout :auth-mechanism :oauth-token
    :partial-delivery :ehlo-name :dsn-notify :dsn-ret :dsn-envid
    :require-tls)
  "The keys a long-form server designator (\"host\" :port ...) may
have.")

(defparameter *secret-server-keys* '(:certificate-password :oauth-token)
  "Server designator keys whose values are never printed.")

(defparameter *tls-methods*
  '((:sslv2 . "1.0") (:sslv3 . "1.0") (:sslv23 . "1.0") (:tlsv1 . "1.0")
    (:tlsv1+ . "1.0") (:tlsv1.1 . "1.1") (:tlsv1.2 . "1.2")
    (:tlsv1.3 . "1.3"))
  "Allegro's :METHOD values and the minimum TLS version each means.
\(Allegro pins :TLSV1.2 and the like to one version; we take them as a
minimum, design §4.2.)")

(defun masked-designator (designator)
  "A copy of DESIGNATOR fit for an error message: the values of secret
keys are replaced."
  (if (and (consp designator) (consp (cdr designator))
           (not (eq (car designator) :program)))
      (cons (car designator)
            (loop for (key value) on (cdr designator) by #'cddr
                  collect key
                  collect (if (member key *secret-server-keys*)
                              "<masked>"
                              value)))
      designator))

(defun server-error (designator format-control &rest format-arguments)
  "Signals an SMTP-ARGUMENT-ERROR about the server designator
DESIGNATOR."
  (smtp-argument-error "Bad mail server ~s: ~?"
                       (masked-designator designator)
                       format-control format-arguments))

(defun parse-port (value designator)
  "VALUE as a port number (an integer or a string of digits from 1 to
65535)."
  (let ((port (typecase value
                (integer value)
                (string (and (plusp (length value))
                             (every #'digit-char-p value)
                             (parse-integer value)))
                (t nil))))
    (unless (and port (<= 1 port 65535))
      (server-error designator "~s is not a port number." value))
    port))

(defun ipv6-text (octets)
  "The 16 OCTETS of an IPv6 address as text (eight hexadecimal groups)."
  (format nil "~{~(~x~)~^:~}"
          (loop for i from 0 below 16 by 2
                collect (+ (* 256 (elt octets i)) (elt octets (1+ i))))))

(defun host-string (host designator)
  "The host designator HOST (a name or address string, an IPv4 address
as an integer or 4 octets, an IPv6 address as 16 octets) as a string."
  (cond ((stringp host)
         (when (zerop (length host))
           (server-error designator "the host name is empty."))
         host)
        ((and (integerp host) (<= 0 host #xFFFFFFFF))
         (format nil "~d.~d.~d.~d" (ldb (byte 8 24) host)
                 (ldb (byte 8 16) host) (ldb (byte 8 8) host)
                 (ldb (byte 8 0) host)))
        ((and (vectorp host)
              (member (length host) '(4 16))
              (every (lambda (x) (typep x '(unsigned-byte 8))) host))
         (if (= (length host) 4)
             (format nil "~{~d~^.~}" (coerce host 'list))
             (ipv6-text host)))
        ((pathnamep host)
         (host-string (namestring host) designator))
        (t (server-error designator "~s is not a host." host))))

(defun parse-host-and-port (string designator)
  "Splits a server string: \"host:port\" (one colon, digits after it),
\"[v6-address]:port\", \"[v6-address]\", or a plain host (which may be an
IPv6 address such as \"::1\").  Returns the host and the port or NIL."
  (let ((colon (position #\: string)))
    (cond ((and (plusp (length string)) (char= (char string 0) #\[))
           (let ((close (position #\] string)))
             (unless close
               (server-error designator "no closing ]."))
             (values (subseq string 1 close)
                     (cond ((= close (1- (length string))) nil)
                           ((char= (char string (1+ close)) #\:)
                            (parse-port (subseq string (+ close 2))
                                        designator))
                           (t (server-error designator
                                            "junk after ]."))))))
          ((and colon
                (plusp colon)
                (not (find #\: string :start (1+ colon)))
                (< (1+ colon) (length string))
                (every #'digit-char-p (subseq string (1+ colon))))
           (values (subseq string 0 colon)
                   (parse-port (subseq string (1+ colon)) designator)))
          (t (values string nil)))))

(defun seconds-to-ms (value key designator)
  "The timeout VALUE (seconds, a positive real) in milliseconds."
  (unless (and (realp value) (plusp value))
    (server-error designator "~s ~s is not a positive number of seconds."
                  key value))
  (max 1 (round (* value 1000))))

(defun file-option (value key designator)
  "VALUE, a file name given as a string or pathname, as a native file
name for C."
  (typecase value
    (string value)
    (pathname (uiop:native-namestring (merge-pathnames value)))
    (t (server-error designator "~s needs a file name, not ~s." key
                     (if (member key *secret-server-keys*)
                         "<masked>"
                         value)))))

(defun mechanism-string (value designator)
  "The :AUTH-MECHANISM value (a string, a symbol, or a list of them) as
the space-separated upper-case list C takes."
  (let ((names (if (listp value) value (list value))))
    (format nil "~{~a~^ ~}"
            (mapcar (lambda (name)
                      (typecase name
                        ((or string symbol) (string-upcase (string name)))
                        (t (server-error designator
                                         "~s is not an authentication ~
mechanism." name))))
                    names))))

(defun string-option (value key designator)
  "VALUE, which must be a string, for the option KEY."
  (unless (stringp value)
    (server-error designator "~s needs a string, not ~s." key
                  (if (member key *secret-server-keys*) "<masked>" value)))
  value)

(defun parse-long-form (designator)
  "Normalises a long-form server designator (host :port ... :ssl ...)."
  (let ((plist (cdr designator))
        (server (make-server)))
    (unless (and (null (cdr (last plist))) (evenp (length plist)))
      (server-error designator "the options must be a property list."))
    (loop for (key) on plist by #'cddr
          do (cond ((eq key :context)
                    (server-error designator ":context (an Allegro SSL ~
context object) is not supported: give the TLS options (:ca-file, ~
:certificate, :key, :method...) in the designator instead."))
                   ((not (member key *server-keys*))
                    (server-error designator "unknown option ~s; the ~
options are ~{~s~^ ~}." key *server-keys*))))
    (flet ((option (key) (getf plist key)))
      (let ((ssl (option :ssl))
            (starttls (option :starttls))
            (tls nil))
        (setf (server-host server) (host-string (car designator) designator)
              (server-port server) (if (option :port)
                                       (parse-port (option :port) designator)
                                       (if ssl 465 25))
              (server-security server) (cond (ssl +tls-implicit+)
                                             ((eq starttls :try)
                                              +tls-starttls-try+)
                                             (starttls +tls-starttls+)
                                             (t +tls-none+)))
        (let ((verify (getf plist :verify t)))
          (unless (member verify '(nil t :required :optional))
            (server-error designator ":verify must be NIL, T, :REQUIRED ~
or :OPTIONAL, not ~s." verify))
          (setf (server-verify server) (and verify t)))
        (let ((method (option :method)))
          (when method
            (let ((version (or (cdr (assoc method *tls-methods*))
                               (and (stringp method)
                                    (find method '("1.0" "1.1" "1.2" "1.3")
                                          :test #'string=)))))
              (unless version
                (server-error designator "unknown :method ~s; use one of ~
~{~s~^ ~}." method (mapcar #'car *tls-methods*)))
              (push (cons +tlsopt-min-version+ version) tls))))
        (loop for (key . option) in `((:certificate . ,+tlsopt-cert+)
                                      (:key . ,+tlsopt-key+)
                                      (:ca-file . ,+tlsopt-ca-file+)
                                      (:ca-directory . ,+tlsopt-ca-path+)
                                      (:crl-file . ,+tlsopt-crl-file+))
              for value = (option key)
              when value
                do (push (cons option (file-option value key designator))
                         tls))
        (loop for (key . option)
                in `((:certificate-password . ,+tlsopt-key-password+)
                     (:ciphers . ,+tlsopt-ciphers+)
                     (:ciphersuites . ,+tlsopt-tls13-ciphers+)
                     (:server-name . ,+tlsopt-server-name+))
              for value = (option key)
              when value
                do (push (cons option (string-option value key designator))
                         tls))
        (setf (server-tls-options server) (nreverse tls))
        (let ((timeout (option :timeout)))
          (when timeout
            (let ((ms (seconds-to-ms timeout :timeout designator)))
              (setf (server-connect-ms server) ms
                    (server-reply-ms server) ms
                    (server-stall-ms server) ms))))
        (loop for (key . writer)
                in (list (cons :connect-timeout
                               (lambda (ms) (setf (server-connect-ms server)
                                                  ms)))
                         (cons :reply-timeout
                               (lambda (ms) (setf (server-reply-ms server) ms
                                                  (server-stall-ms server)
                                                  ms)))
                         (cons :total-timeout
                               (lambda (ms) (setf (server-total-ms server)
                                                  ms))))
              for value = (option key)
              when value
                do (funcall writer (seconds-to-ms value key designator)))
        (when (option :auth-mechanism)
          (setf (server-mechanisms server)
                (mechanism-string (option :auth-mechanism) designator)))
        (when (option :oauth-token)
          (setf (server-oauth-token server)
                (string-option (option :oauth-token) :oauth-token
                               designator)))
        (setf (server-partial-delivery server)
              (and (option :partial-delivery) t))
        (when (option :ehlo-name)
          (setf (server-ehlo-name server)
                (string-option (option :ehlo-name) :ehlo-name designator)))
        (parse-dsn-options server plist designator)
        (setf (server-require-tls server) (and (option :require-tls) t))
        server))))

(defconstant +dsn-notify-never+ 1)

(defparameter *dsn-notify-bits*
  '((:success . 2) (:failure . 4) (:delay . 8))
  "The C bits of the :DSN-NOTIFY keywords other than :NEVER.")

(defun parse-dsn-options (server plist designator)
  "Sets the DSN fields of SERVER from :DSN-NOTIFY (:NEVER, or a list of
:SUCCESS, :FAILURE, :DELAY), :DSN-RET (:FULL or :HDRS) and :DSN-ENVID
(a string) in PLIST."
  (let ((notify (getf plist :dsn-notify))
        (ret (getf plist :dsn-ret))
        (envid (getf plist :dsn-envid)))
    (when notify
      (setf (server-dsn-notify server)
            (cond ((eq notify :never) +dsn-notify-never+)
                  ((and (listp notify) (null (cdr (last notify)))
                        (every (lambda (k) (assoc k *dsn-notify-bits*))
                               notify))
                   (reduce #'logior notify
                           :key (lambda (k)
                                  (cdr (assoc k *dsn-notify-bits*)))))
                  ((assoc notify *dsn-notify-bits*)
                   (cdr (assoc notify *dsn-notify-bits*)))
                  (t (server-error designator ":dsn-notify must be :NEVER ~
or a list of :SUCCESS, :FAILURE and :DELAY, not ~s." notify)))))
    (when ret
      (setf (server-dsn-ret server)
            (case ret
              (:full 1)
              (:hdrs 2)
              (t (server-error designator ":dsn-ret must be :FULL or ~
:HDRS, not ~s." ret)))))
    (when envid
      (setf (server-dsn-envid server)
            (string-option envid :dsn-envid designator)))))

(defun parse-program (designator)
  "Normalises (:PROGRAM . \"command\"), (:PROGRAM \"prog\" \"arg\" ...
[:TIMEOUT seconds]) and (:PROGRAM :COMMAND \"command\" [:TIMEOUT
seconds]).  The program and its arguments are strings, so the options
after them, keywords, can never be taken for an argument.  :TIMEOUT
bounds the program's whole run (kept as the server's total timeout)."
  (let ((rest (cdr designator))
        (server (make-server :kind :program :host nil)))
    (flet ((bad ()
             (server-error designator "(:program . \"command args\"), ~
\(:program \"program\" \"arg\" ... [:timeout seconds]) or (:program ~
:command \"command args\" [:timeout seconds])."))
           (non-empty-string-p (x)
             (and (stringp x) (plusp (length x)))))
      (cond ((non-empty-string-p rest)
             (setf (server-command server) rest))
            ((and (consp rest) (null (cdr (last rest))))
             (let* ((argv (loop for x in rest while (stringp x) collect x))
                    (plist (nthcdr (length argv) rest))
                    (seen '()))
               (unless (evenp (length plist))
                 (bad))
               (loop for (key value) on plist by #'cddr
                     do (when (member key seen)
                          (server-error designator "~s given twice." key))
                        (push key seen)
                        (case key
                          (:timeout
                           (setf (server-total-ms server)
                                 (seconds-to-ms value :timeout designator)))
                          (:command
                           (unless (non-empty-string-p value)
                             (bad))
                           (setf (server-command server) value))
                          (t (server-error designator "unknown option ~s; ~
a program takes :timeout (and :command, without the program and its ~
arguments)." key))))
               (cond ((and argv (server-command server)) (bad))
                     (argv
                      (unless (non-empty-string-p (first argv))
                        (bad))
                      (setf (server-argv server) argv))
                     ((null (server-command server)) (bad)))))
            (t (bad)))
      server)))

(defun parse-server (designator)
  "Normalises the mail server DESIGNATOR of SEND-LETTER and friends into
a SERVER structure, signalling an SMTP-ARGUMENT-ERROR for anything
invalid.  The designator itself is never modified."
  (typecase designator
    (string
     (multiple-value-bind (host port)
         (parse-host-and-port designator designator)
       (make-server :host (host-string host designator) :port (or port 25))))
    (cons
     (let ((head (car designator))
           (tail (cdr designator)))
       (cond ((eq head :program)
              (parse-program designator))
             ((null tail)
              ;; ("host"): port 25 (Allegro fails here, Q12)
              (make-server :host (host-string head designator)))
             ((atom tail)
              (make-server :host (host-string head designator)
                           :port (parse-port tail designator)))
             (t (parse-long-form designator)))))
    ((or integer vector)
     (make-server :host (host-string designator designator)))
    (t (smtp-argument-error "~s is not a mail server designator: use ~
\"host\", \"host:port\", (\"host\" . port), (\"host\" :port ...) or ~
\(:program ...)." designator))))

(defun server-label (server)
  "\"host:port\" for SERVER, for error messages."
  (let ((host (server-host server)))
    (and host
         (if (find #\: host)
             (format nil "[~a]:~d" host (server-port server))
             (format nil "~a:~d" host (server-port server))))))
