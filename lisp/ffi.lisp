;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; ffi.lisp - the raw bindings of c/postoffice.h, the one place where C
;;; statuses become conditions, and the callbacks C calls.
;;;
;;; Every C function has one %-prefixed DEFCFUN here, in the header's
;;; order; nothing else calls C.  Strings go to C as UTF-8 through the
;;; C-STRING type, which also refuses NUL characters (C would silently
;;; cut the string there).  Strings C returns are borrowed, so they are
;;; copied (decoded leniently: server replies need not be UTF-8).
;;;
;;; C handles and foreign memory are freed in UNWIND-PROTECT by the
;;; callers, never by finalizers.
;;;
;;; Callbacks get an integer key as their userdata pointer; the key maps
;;; to a Lisp object in a lock-protected table.  A Lisp error inside a
;;; callback never unwinds through C frames: it is caught, stored with
;;; the object, the callback returns non-zero so that C stops cleanly,
;;; and the stored condition is signalled again once the C call has
;;; returned (see CHECK-STATUS).

(in-package :net.post-office)

;;; ------------------------------------------------------------------
;;; Foreign types

(cffi:define-foreign-type c-string-type ()
  ()
  (:actual-type :pointer)
  (:simple-parser c-string)
  (:documentation "A Lisp string (or NIL for a NULL pointer) passed to C
as a freshly allocated NUL-terminated UTF-8 string, freed after the
call."))

(defun ascii-c-string (string)
  "A new foreign NUL-terminated copy of STRING if all its characters are
ASCII and none is NUL (the common case, done without the general
encoder), else NIL."
  ;; the fallback type of COPY cannot be optimised: SBCL says so
  (declare (optimize speed)
           #+sbcl (sb-ext:muffle-conditions sb-ext:compiler-note))
  (macrolet ((copy (type)
               `(let ((string string))
                  (declare (type ,type string))
                  (let ((n (length string)))
                    (when (loop for char across string
                                always (< 0 (char-code char) 128))
                      (let ((pointer (cffi:foreign-alloc :uint8
                                                         :count (1+ n))))
                        (dotimes (i n)
                          (setf (cffi:mem-aref pointer :uint8 i)
                                (char-code (char string i))))
                        (setf (cffi:mem-aref pointer :uint8 n) 0)
                        pointer))))))
    (typecase string
      ((simple-array character (*)) (copy (simple-array character (*))))
      (simple-base-string (copy simple-base-string))
      (t (copy string)))))

(defun c-string-pointer (value)
  "VALUE (a string, or NIL) as a new foreign NUL-terminated UTF-8 string
for C, or a null pointer for NIL; free it with FREE-C-STRING."
  (cond ((null value)
         (cffi:null-pointer))
        ((stringp value)
         (or (ascii-c-string value)
             (progn
               (when (find (code-char 0) value)
                 (smtp-argument-error "A string argument contains a NUL ~
character, which no address, header, file name or other text may ~
contain."))
               (cffi:foreign-string-alloc value :encoding :utf-8))))
        (t
         (smtp-argument-error "~s is not a string." value))))

(defun free-c-string (pointer)
  "Frees what C-STRING-POINTER made."
  (unless (cffi:null-pointer-p pointer)
    (cffi:foreign-free pointer)))

(defmethod cffi:translate-to-foreign (value (type c-string-type))
  (let ((pointer (c-string-pointer value)))
    (values pointer (not (cffi:null-pointer-p pointer)))))

(defmethod cffi:free-translated-object (pointer (type c-string-type) free-p)
  (when free-p
    (free-c-string pointer)))

;;; The %-functions below are compiled with this expansion instead of the
;;; generic translation above: no generic function is called for each
;;; string argument of each call.
(eval-when (:compile-toplevel :load-toplevel :execute)
  (defmethod cffi:expand-to-foreign-dyn (value var body
                                         (type c-string-type))
    `(let ((,var (c-string-pointer ,value)))
       (unwind-protect (progn ,@body)
         (free-c-string ,var)))))

(cffi:define-foreign-type file-name-type ()
  ()
  (:actual-type :pointer)
  (:simple-parser file-name)
  (:documentation "A file name (a Lisp string) passed to C encoded the
way this Lisp encodes file names itself, so that C opens the file Lisp
would: UTF-8, except on ECL, whose file names are Latin-1 (ECL 21 cannot
make others)."))

(defun file-name-octets (name)
  "The octets, NUL-terminated, of the native file name NAME."
  (when (find (code-char 0) name)
    (smtp-argument-error "The file name ~s contains a NUL character."
                         name))
  (let ((octets #+ecl (if (every (lambda (char) (< (char-code char) 256))
                                 name)
                          (map 'vector #'char-code name)
                          (string-to-utf8 name))
                #-ecl (string-to-utf8 name)))
    (concatenate '(vector (unsigned-byte 8)) octets #(0))))

(defmethod cffi:translate-to-foreign (value (type file-name-type))
  (unless (stringp value)
    (smtp-argument-error "~s is not a file name." value))
  (let* ((octets (file-name-octets value))
         (pointer (cffi:foreign-alloc :uint8 :count (length octets))))
    (dotimes (i (length octets))
      (setf (cffi:mem-aref pointer :uint8 i) (aref octets i)))
    (values pointer t)))

(defmethod cffi:free-translated-object (pointer (type file-name-type) free-p)
  (when free-p
    (cffi:foreign-free pointer)))

(cffi:define-foreign-type borrowed-string-type ()
  ()
  (:actual-type :pointer)
  (:simple-parser borrowed-string)
  (:documentation "A NUL-terminated string returned by C and owned by C:
copied into a Lisp string, decoded as UTF-8 with U+FFFD for invalid
octets.  A NULL pointer becomes NIL."))

(defmethod cffi:translate-from-foreign (pointer (type borrowed-string-type))
  (if (cffi:null-pointer-p pointer)
      nil
      (decode-utf8-pointer pointer)))

;;; ------------------------------------------------------------------
;;; Version and errors

(cffi:defcfun ("po_version" %po-version) borrowed-string)
(cffi:defcfun ("po_version_num" %po-version-num) :unsigned-long)
(cffi:defcfun ("po_init" %po-init) :int)
(cffi:defcfun ("po_strerror" %po-strerror) borrowed-string (status :int))
(cffi:defcfun ("po_errname" %po-errname) borrowed-string (status :int))
(cffi:defcfun ("po_last_error" %po-last-error) borrowed-string)

;;; ------------------------------------------------------------------
;;; Parts

(cffi:defcfun ("po_part_new_text" %po-part-new-text) :pointer
  (text :pointer) (len :size) (charset c-string))
(cffi:defcfun ("po_part_new_bytes" %po-part-new-bytes) :pointer
  (data :pointer) (len :size))
(cffi:defcfun ("po_part_new_file" %po-part-new-file) :int
  (path file-name) (part-out :pointer))
(cffi:defcfun ("po_part_new_reader" %po-part-new-reader) :pointer
  (fn :pointer) (userdata :pointer))
(cffi:defcfun ("po_part_new_multipart" %po-part-new-multipart) :pointer
  (subtype c-string))
(cffi:defcfun ("po_part_add" %po-part-add) :int
  (parent :pointer) (child :pointer))
(cffi:defcfun ("po_part_free" %po-part-free) :void (part :pointer))
(cffi:defcfun ("po_part_set_type" %po-part-set-type) :int
  (part :pointer) (type c-string))
(cffi:defcfun ("po_part_set_charset" %po-part-set-charset) :int
  (part :pointer) (charset c-string))
(cffi:defcfun ("po_part_add_param" %po-part-add-param) :int
  (part :pointer) (name c-string) (value c-string))
(cffi:defcfun ("po_part_set_encoding" %po-part-set-encoding) :int
  (part :pointer) (encoding c-string))
(cffi:defcfun ("po_part_set_disposition" %po-part-set-disposition) :int
  (part :pointer) (disposition :int) (filename c-string))
(cffi:defcfun ("po_part_set_id" %po-part-set-id) :int
  (part :pointer) (content-id c-string))
(cffi:defcfun ("po_part_set_description" %po-part-set-description) :int
  (part :pointer) (text c-string))
(cffi:defcfun ("po_part_add_header" %po-part-add-header) :int
  (part :pointer) (name c-string) (value c-string))
(cffi:defcfun ("po_part_set_boundary" %po-part-set-boundary) :int
  (part :pointer) (boundary c-string))
(cffi:defcfun ("po_part_set_generated_boundary"
               %po-part-set-generated-boundary) :int
  (part :pointer) (boundary c-string))
(cffi:defcfun ("po_boundary_new" %po-boundary-new) :int
  (out :pointer) (size :size))

(defconstant +boundary-size+ 44 "PO_BOUNDARY_SIZE")
(defconstant +max-depth+ 100 "PO_MAX_DEPTH")
(cffi:defcfun ("po_part_boundary" %po-part-boundary) borrowed-string
  (part :pointer))
(cffi:defcfun ("po_mime_type_for_name" %po-mime-type-for-name)
    borrowed-string
  (filename c-string))

(defconstant +disposition-none+ 0 "PO_DISPOSITION_NONE")
(defconstant +disposition-inline+ 1 "PO_DISPOSITION_INLINE")
(defconstant +disposition-attachment+ 2 "PO_DISPOSITION_ATTACHMENT")

;;; ------------------------------------------------------------------
;;; Letters

(cffi:defcfun ("po_letter_new" %po-letter-new) :pointer)
(cffi:defcfun ("po_letter_free" %po-letter-free) :void (letter :pointer))
(cffi:defcfun ("po_letter_set_from" %po-letter-set-from) :int
  (letter :pointer) (address c-string))
(cffi:defcfun ("po_letter_set_null_sender" %po-letter-set-null-sender) :int
  (letter :pointer))
(cffi:defcfun ("po_letter_add_to" %po-letter-add-to) :int
  (letter :pointer) (address c-string))
(cffi:defcfun ("po_letter_add_cc" %po-letter-add-cc) :int
  (letter :pointer) (address c-string))
(cffi:defcfun ("po_letter_add_bcc" %po-letter-add-bcc) :int
  (letter :pointer) (address c-string))
(cffi:defcfun ("po_letter_set_subject" %po-letter-set-subject) :int
  (letter :pointer) (subject c-string))
(cffi:defcfun ("po_letter_add_reply_to" %po-letter-add-reply-to) :int
  (letter :pointer) (address c-string))
(cffi:defcfun ("po_letter_add_header_line" %po-letter-add-header-line) :int
  (letter :pointer) (line c-string))
(cffi:defcfun ("po_letter_set_body" %po-letter-set-body) :int
  (letter :pointer) (body :pointer))
(cffi:defcfun ("po_letter_set_raw" %po-letter-set-raw) :int
  (letter :pointer) (data :pointer) (len :size))
(cffi:defcfun ("po_letter_set_raw_reader" %po-letter-set-raw-reader) :int
  (letter :pointer) (fn :pointer) (userdata :pointer))
(cffi:defcfun ("po_letter_message_id" %po-letter-message-id) borrowed-string
  (letter :pointer))
(cffi:defcfun ("po_letter_envelope_from" %po-letter-envelope-from)
    borrowed-string
  (letter :pointer))
(cffi:defcfun ("po_letter_recipient_count" %po-letter-recipient-count) :size
  (letter :pointer))
(cffi:defcfun ("po_letter_recipient" %po-letter-recipient) borrowed-string
  (letter :pointer) (i :size))
(cffi:defcfun ("po_letter_remove_recipient" %po-letter-remove-recipient)
    :size
  (letter :pointer) (address c-string))

;;; ------------------------------------------------------------------
;;; Rendering

(defconstant +render-bcc+ #x1 "PO_RENDER_BCC")
(defconstant +render-lf+ #x2 "PO_RENDER_LF")

(cffi:defcfun ("po_reader_new" %po-reader-new) :int
  (letter :pointer) (flags :unsigned-int) (reader-out :pointer))
(cffi:defcfun ("po_reader_new_part" %po-reader-new-part) :int
  (part :pointer) (flags :unsigned-int) (reader-out :pointer))
(cffi:defcfun ("po_reader_read" %po-reader-read) :int
  (reader :pointer) (buf :pointer) (len :size) (n-out :pointer))
(cffi:defcfun ("po_reader_free" %po-reader-free) :void (reader :pointer))

;;; ------------------------------------------------------------------
;;; SMTP

(defconstant +tls-none+ 0 "PO_TLS_NONE")
(defconstant +tls-implicit+ 1 "PO_TLS_IMPLICIT")
(defconstant +tls-starttls+ 2 "PO_TLS_STARTTLS")
(defconstant +tls-starttls-try+ 3 "PO_TLS_STARTTLS_TRY")

(defconstant +tlsopt-ca-file+ 1 "PO_TLSOPT_CA_FILE")
(defconstant +tlsopt-ca-path+ 2 "PO_TLSOPT_CA_PATH")
(defconstant +tlsopt-cert+ 3 "PO_TLSOPT_CERT")
(defconstant +tlsopt-key+ 4 "PO_TLSOPT_KEY")
(defconstant +tlsopt-key-password+ 5 "PO_TLSOPT_KEY_PASSWORD")
(defconstant +tlsopt-crl-file+ 6 "PO_TLSOPT_CRL_FILE")
(defconstant +tlsopt-ciphers+ 7 "PO_TLSOPT_CIPHERS")
(defconstant +tlsopt-tls13-ciphers+ 8 "PO_TLSOPT_TLS13_CIPHERS")
(defconstant +tlsopt-min-version+ 9 "PO_TLSOPT_MIN_VERSION")
(defconstant +tlsopt-server-name+ 10 "PO_TLSOPT_SERVER_NAME")

(defconstant +vrfy-ok+ 1 "PO_VRFY_OK")
(defconstant +vrfy-cannot+ 2 "PO_VRFY_CANNOT")
(defconstant +vrfy-unknown+ 3 "PO_VRFY_UNKNOWN")
(defconstant +vrfy-other+ 4 "PO_VRFY_OTHER")

(cffi:defcfun ("po_smtp_new" %po-smtp-new) :pointer)
(cffi:defcfun ("po_smtp_free" %po-smtp-free) :void (smtp :pointer))
(cffi:defcfun ("po_smtp_set_server" %po-smtp-set-server) :int
  (smtp :pointer) (host c-string) (port :unsigned-int))
(cffi:defcfun ("po_smtp_set_security" %po-smtp-set-security) :int
  (smtp :pointer) (mode :int))
(cffi:defcfun ("po_smtp_set_verify" %po-smtp-set-verify) :int
  (smtp :pointer) (verify :int))
(cffi:defcfun ("po_smtp_set_tls_option" %po-smtp-set-tls-option) :int
  (smtp :pointer) (option :int) (value c-string))
(cffi:defcfun ("po_smtp_set_auth" %po-smtp-set-auth) :int
  (smtp :pointer) (user c-string) (password c-string))
(cffi:defcfun ("po_smtp_set_bearer" %po-smtp-set-bearer) :int
  (smtp :pointer) (user c-string) (token c-string))
(cffi:defcfun ("po_smtp_set_auth_mechanisms" %po-smtp-set-auth-mechanisms)
    :int
  (smtp :pointer) (mechs c-string))
(cffi:defcfun ("po_smtp_set_timeouts" %po-smtp-set-timeouts) :int
  (smtp :pointer) (connect-ms :long) (reply-ms :long) (stall-ms :long)
  (total-ms :long))
(cffi:defcfun ("po_smtp_set_ehlo_name" %po-smtp-set-ehlo-name) :int
  (smtp :pointer) (name c-string))
(cffi:defcfun ("po_smtp_set_partial_delivery" %po-smtp-set-partial-delivery)
    :int
  (smtp :pointer) (on :int))
(cffi:defcfun ("po_smtp_set_require_tls" %po-smtp-set-require-tls) :int
  (smtp :pointer) (on :int))
(cffi:defcfun ("po_letter_set_dsn_notify" %po-letter-set-dsn-notify) :int
  (letter :pointer) (notify :unsigned-int))
(cffi:defcfun ("po_letter_set_dsn_ret" %po-letter-set-dsn-ret) :int
  (letter :pointer) (ret :int))
(cffi:defcfun ("po_letter_set_dsn_envid" %po-letter-set-dsn-envid) :int
  (letter :pointer) (envid c-string))
(cffi:defcfun ("po_smtp_set_keep_alive" %po-smtp-set-keep-alive) :int
  (smtp :pointer) (on :int))
(cffi:defcfun ("po_smtp_set_trace" %po-smtp-set-trace) :int
  (smtp :pointer) (fn :pointer) (userdata :pointer))
(cffi:defcfun ("po_smtp_send" %po-smtp-send) :int
  (smtp :pointer) (letter :pointer))
(cffi:defcfun ("po_smtp_vrfy" %po-smtp-vrfy) :int
  (smtp :pointer) (what c-string) (result-out :pointer))
(cffi:defcfun ("po_smtp_close" %po-smtp-close) :int (smtp :pointer))
(cffi:defcfun ("po_smtp_reply_code" %po-smtp-reply-code) :int
  (smtp :pointer))
(cffi:defcfun ("po_smtp_enhanced_code" %po-smtp-enhanced-code)
    borrowed-string
  (smtp :pointer))
(cffi:defcfun ("po_smtp_reply" %po-smtp-reply) borrowed-string
  (smtp :pointer))
(cffi:defcfun ("po_smtp_command" %po-smtp-command) borrowed-string
  (smtp :pointer))
(cffi:defcfun ("po_smtp_errmsg" %po-smtp-errmsg) borrowed-string
  (smtp :pointer))
(cffi:defcfun ("po_smtp_refused_count" %po-smtp-refused-count) :size
  (smtp :pointer))
(cffi:defcfun ("po_smtp_refused_address" %po-smtp-refused-address)
    borrowed-string
  (smtp :pointer) (i :size))
(cffi:defcfun ("po_smtp_refused_code" %po-smtp-refused-code) :int
  (smtp :pointer) (i :size))
(cffi:defcfun ("po_smtp_refused_reply" %po-smtp-refused-reply)
    borrowed-string
  (smtp :pointer) (i :size))
(cffi:defcfun ("po_smtp_message_id" %po-smtp-message-id) borrowed-string
  (smtp :pointer))
(cffi:defcfun ("po_smtp_has_credentials" %po-smtp-has-credentials) :int
  (smtp :pointer) (user c-string) (password c-string) (token c-string))
(cffi:defcfun ("po_smtp_credentials_unused" %po-smtp-credentials-unused)
    :int
  (smtp :pointer))
(cffi:defcfun ("po_smtp_outcome_unknown" %po-smtp-outcome-unknown) :int
  (smtp :pointer))
(cffi:defcfun ("po_smtp_connection_reused" %po-smtp-connection-reused) :int
  (smtp :pointer))

;;; ------------------------------------------------------------------
;;; The program transport

(cffi:defcfun ("po_program_new_argv" %po-program-new-argv) :pointer
  (argv :pointer))
(cffi:defcfun ("po_program_new_shell" %po-program-new-shell) :pointer
  (command c-string))
(cffi:defcfun ("po_program_free" %po-program-free) :void (program :pointer))
(cffi:defcfun ("po_program_set_timeout" %po-program-set-timeout) :int
  (program :pointer) (ms :long))
(cffi:defcfun ("po_program_kill" %po-program-kill) :int (program :pointer))
(cffi:defcfun ("po_program_send" %po-program-send) :int
  (program :pointer) (letter :pointer))
(cffi:defcfun ("po_program_exit_status" %po-program-exit-status) :int
  (program :pointer))
(cffi:defcfun ("po_program_stderr" %po-program-stderr) :pointer
  (program :pointer) (len-out :pointer))
(cffi:defcfun ("po_program_stdout" %po-program-stdout) :pointer
  (program :pointer) (len-out :pointer))
(cffi:defcfun ("po_program_errmsg" %po-program-errmsg) borrowed-string
  (program :pointer))

;;; ------------------------------------------------------------------
;;; Reading letters

(cffi:defcfun ("po_entity_parse" %po-entity-parse) :int
  (octets :pointer) (len :size) (entity-out :pointer))
(cffi:defcfun ("po_entity_free" %po-entity-free) :void (root :pointer))
(cffi:defcfun ("po_entity_part_count" %po-entity-part-count) :size
  (entity :pointer))
(cffi:defcfun ("po_entity_part" %po-entity-part) :pointer
  (entity :pointer) (i :size))
(cffi:defcfun ("po_entity_header_count" %po-entity-header-count) :size
  (entity :pointer))
(cffi:defcfun ("po_entity_header_name" %po-entity-header-name)
    borrowed-string
  (entity :pointer) (i :size))
(cffi:defcfun ("po_entity_header_raw" %po-entity-header-raw) borrowed-string
  (entity :pointer) (i :size))
(cffi:defcfun ("po_entity_header_text" %po-entity-header-text)
    borrowed-string
  (entity :pointer) (i :size))
(cffi:defcfun ("po_entity_header" %po-entity-header) borrowed-string
  (entity :pointer) (name c-string))
(cffi:defcfun ("po_entity_type" %po-entity-type) borrowed-string
  (entity :pointer))
(cffi:defcfun ("po_entity_param" %po-entity-param) borrowed-string
  (entity :pointer) (name c-string))
(cffi:defcfun ("po_entity_disposition" %po-entity-disposition)
    borrowed-string
  (entity :pointer))
(cffi:defcfun ("po_entity_disposition_param" %po-entity-disposition-param)
    borrowed-string
  (entity :pointer) (name c-string))
(cffi:defcfun ("po_entity_filename" %po-entity-filename) borrowed-string
  (entity :pointer))
(cffi:defcfun ("po_entity_content_id" %po-entity-content-id) borrowed-string
  (entity :pointer))
(cffi:defcfun ("po_entity_encoding" %po-entity-encoding) borrowed-string
  (entity :pointer))
(cffi:defcfun ("po_entity_body" %po-entity-body) :pointer
  (entity :pointer) (len-out :pointer))
(cffi:defcfun ("po_entity_text" %po-entity-text) :pointer
  (entity :pointer) (len-out :pointer))
(cffi:defcfun ("po_entity_is_attachment" %po-entity-is-attachment) :int
  (entity :pointer))
(cffi:defcfun ("po_entity_problem_count" %po-entity-problem-count) :size
  (entity :pointer))
(cffi:defcfun ("po_entity_problem" %po-entity-problem) borrowed-string
  (entity :pointer) (i :size))
(cffi:defcfun ("po_decode_header" %po-decode-header) :int
  (text :pointer) (len :size) (text-out :pointer))
(cffi:defcfun ("po_free" %po-free) :void (pointer :pointer))

;;; ------------------------------------------------------------------
;;; Previewing letters

(cffi:defcfun ("po_preview_new" %po-preview-new) :pointer)
(cffi:defcfun ("po_preview_free" %po-preview-free) :void (preview :pointer))
(cffi:defcfun ("po_preview_set_envelope_from" %po-preview-set-envelope-from)
    :int
  (preview :pointer) (address c-string))
(cffi:defcfun ("po_preview_add_recipient" %po-preview-add-recipient) :int
  (preview :pointer) (address c-string))
(cffi:defcfun ("po_preview_read_envelope" %po-preview-read-envelope) :int
  (preview :pointer) (text :pointer) (len :size))
(cffi:defcfun ("po_preview_set_directory" %po-preview-set-directory) :int
  (preview :pointer) (directory file-name))
(cffi:defcfun ("po_preview_write" %po-preview-write) :int
  (preview :pointer) (octets :pointer) (len :size))
(cffi:defcfun ("po_preview_write_file" %po-preview-write-file) :int
  (preview :pointer) (path file-name))
(cffi:defcfun ("po_preview_path" %po-preview-path) :pointer
  (preview :pointer))
(cffi:defcfun ("po_preview_open" %po-preview-open) :int (path :pointer))

;;; libc, for moving octets into C buffers quickly.
(cffi:defcfun ("memcpy" %memcpy) :pointer
  (dest :pointer) (src :pointer) (n :size))

;;; ------------------------------------------------------------------
;;; Threads: a lock, portably.  No new dependency: each implementation's
;;; own primitives, and a no-op fallback for single-threaded Lisps.

(defun make-lock (name)
  "Returns a new lock (mutex) named NAME."
  #+sbcl (sb-thread:make-mutex :name name)
  #+ecl (mp:make-lock :name name :recursive t)
  #+ccl (ccl:make-lock name)
  #-(or sbcl ecl ccl) (list name))

(defmacro with-lock ((lock) &body body)
  "Executes BODY with LOCK held; returns the values of BODY."
  #+sbcl `(sb-thread:with-recursive-lock (,lock) ,@body)
  #+ecl `(mp:with-lock (,lock) ,@body)
  #+ccl `(ccl:with-lock-grabbed (,lock) ,@body)
  #-(or sbcl ecl ccl) `(progn ,lock ,@body))

;;; ------------------------------------------------------------------
;;; The table of objects callbacks can reach

(defvar *registry-lock* (make-lock "libpostoffice callback registry")
  "The lock protecting *REGISTRY* and *REGISTRY-COUNTER*.")

(defvar *registry* (make-hash-table)
  "Maps the integer keys passed to C as userdata pointers to the Lisp
objects the callbacks work on.")

(defvar *registry-counter* 0
  "The last key handed out by REGISTER-OBJECT.")

(defun register-object (object)
  "Stores OBJECT in the callback table and returns its key, a positive
integer to pass to C as the userdata pointer (see KEY-POINTER)."
  (with-lock (*registry-lock*)
    (let ((key (loop (setf *registry-counter*
                           (if (>= *registry-counter* most-positive-fixnum)
                               1
                               (1+ *registry-counter*)))
                     (unless (nth-value 1 (gethash *registry-counter*
                                                   *registry*))
                       (return *registry-counter*)))))
      (setf (gethash key *registry*) object)
      key)))

(defun unregister-object (key)
  "Removes the object stored under KEY from the callback table."
  (with-lock (*registry-lock*)
    (remhash key *registry*)))

(defun registered-object (key)
  "The object stored under KEY, or NIL."
  (with-lock (*registry-lock*)
    (values (gethash key *registry*))))

(defun key-pointer (key)
  "The userdata pointer for the registry key KEY."
  (cffi:make-pointer key))

;;; ------------------------------------------------------------------
;;; Scopes: the callback objects of one operation

(defstruct (scope (:constructor make-scope ()))
  "The callback objects registered for one operation (a send, a
render): their keys, so they can all be unregistered at the end, and
the objects, so that a condition one of them stored can be signalled
again after the C call returns; and the warnings callbacks deferred."
  (keys nil)
  (objects nil)
  (cleanups nil)
  (deferred nil))

(defvar *scope* nil
  "The innermost SCOPE of this thread (bound by WITH-SCOPE), where
callbacks defer the warnings signalled while they run.")

(defun scope-on-release (scope function)
  "Arranges for FUNCTION to be called when SCOPE is released."
  (push function (scope-cleanups scope)))

(defun scope-register (scope object)
  "Registers OBJECT for callbacks within SCOPE and returns the userdata
pointer to give C."
  (let ((key (register-object object)))
    (push key (scope-keys scope))
    (push object (scope-objects scope))
    (key-pointer key)))

(defun scope-release (scope)
  "Unregisters every object of SCOPE, runs its cleanups, then signals
again, in order, the conditions its callbacks deferred (now that no C
frame is below us)."
  (loop while (scope-keys scope)
        do (unregister-object (pop (scope-keys scope))))
  (setf (scope-objects scope) nil)
  (loop while (scope-cleanups scope)
        do (ignore-errors (funcall (pop (scope-cleanups scope)))))
  (let ((deferred (reverse (scope-deferred scope))))
    (setf (scope-deferred scope) nil)
    (dolist (condition deferred)
      (if (typep condition 'warning)
          (warn condition)
          (signal condition)))))

(defmacro with-scope ((var) &body body)
  "Binds VAR (and *SCOPE*) to a fresh SCOPE for the extent of BODY and
releases it afterwards, normally or not.  Returns the values of BODY."
  `(let* ((,var (make-scope))
          (*scope* ,var))
     (unwind-protect (progn ,@body)
       (scope-release ,var))))

(defgeneric callback-condition (object)
  (:documentation "The condition a callback caught while working on
OBJECT, or NIL.")
  (:method (object)
    (declare (ignore object))
    nil))

(defun scope-condition (scope)
  "The first condition caught by a callback working on an object of
SCOPE, or NIL."
  (and scope
       (some #'callback-condition (scope-objects scope))))

;;; ------------------------------------------------------------------
;;; The choke point: C statuses become conditions

(defun status-keyword (status)
  "The C status STATUS as a keyword named after its PO_ name, e.g.
:ERECIPIENT."
  (intern (or (%po-errname status) "UNKNOWN") :keyword))

(defun status-condition-class (name code context)
  "The condition class for the status keyword NAME with the reply code
CODE (an integer or NIL), in CONTEXT (:SMTP, :PROGRAM or NIL)."
  (let ((class (case code
                 ((nil) nil)
                 (t (floor code 100)))))
    (case name
      ((:eaddress :eheader :etoolong :eutf8 :efilename :econtenttype
        :eencoding :eboundary :enobody :enosender :enorcpt :einval
        :edepth :eenvelope)
       'smtp-argument-error)
      ((:enoent :eacces :eisdir)
       'smtp-file-error)
      ((:eio :ereader :eline :ebadoctet :echanged)
       'smtp-input-error)
      ((:edns :econnect :econnlost :eprotocol :etransport)
       'smtp-connection-error)
      ((:etimeout)
       (if (eq context :program) 'smtp-program-error 'smtp-connection-error))
      ((:etls :ecert :estarttls)
       'smtp-tls-error)
      ((:eauth :eauthmech)
       'smtp-authentication-error)
      ((:erecipient)
       (case class
         (4 'smtp-transient-recipient-error)
         (5 'smtp-permanent-recipient-error)
         (t 'smtp-recipient-error)))
      ((:esmtputf8 :esize :e8bit :edsn :erequiretls)
       ;; the server lacks SMTPUTF8, DSN, REQUIRETLS, room for the
       ;; letter, or 8BITMIME for a raw 8-bit letter: no retry will help
       ;; (the code and reply are those of its EHLO, a 250)
       'smtp-permanent-error)
      ((:egreeting :ehelo :esender :edata :emessage)
       (case class
         (4 'smtp-transient-error)
         (5 'smtp-permanent-error)
         (t 'smtp-transaction-error)))
      ((:enoprogram)
       'smtp-program-not-found)
      ((:eprogram)
       'smtp-program-error)
      (t 'smtp-error))))

(defun non-empty (string)
  "STRING, or NIL if it is NIL or empty."
  (and string (plusp (length string)) string))

(defun program-output (program function)
  "The output PROGRAM's last run wrote, as returned by FUNCTION
\(%PO-PROGRAM-STDERR or %PO-PROGRAM-STDOUT), as a string."
  (cffi:with-foreign-object (len :size)
    (let ((pointer (funcall function program len)))
      (if (cffi:null-pointer-p pointer)
          ""
          (decode-utf8-pointer pointer (cffi:mem-ref len :size))))))

(defun smtp-refused-list (smtp)
  "The recipients refused during the last send on the handle SMTP, as a
list of (ADDRESS CODE REPLY)."
  (loop for i below (%po-smtp-refused-count smtp)
        collect (list (%po-smtp-refused-address smtp i)
                      (%po-smtp-refused-code smtp i)
                      (%po-smtp-refused-reply smtp i))))

(defparameter *certificate-hint*
  "  If the server uses a self-signed certificate or one from a private
  CA, name that CA's certificate with :ca-file in the server designator,
  e.g. (\"host\" :starttls t :ca-file \"/path/ca.pem\"), or turn
  verification off with :verify nil (insecure)."
  "Text added to the report of a failed certificate verification.")

(defun error-text (text name class server outcome-unknown exit-status
                   stderr stdout)
  "The report of an error: TEXT, the one-line explanation from C,
followed by what else helps: the server for connection errors, a hint
for certificate failures, a warning when the outcome is unknown, the
program's exit status and output."
  (with-output-to-string (out)
    (write-string text out)
    (when (and server (subtypep class 'smtp-connection-error))
      (format out " (server ~a)" server))
    (when (eq name :ecert)
      (format out "~%~a" *certificate-hint*))
    (when outcome-unknown
      (format out "~%  The server may have accepted the letter: the ~
connection failed after the whole message was sent."))
    (when exit-status
      (format out "~%  Exit status: ~d" exit-status))
    (when (non-empty stderr)
      (format out "~%  Standard error: ~a"
              (string-right-trim '(#\Newline) stderr)))
    (when (non-empty stdout)
      (format out "~%  Standard output: ~a"
              (string-right-trim '(#\Newline) stdout)))))

(defun po-error (status &key smtp program scope server file)
  "Signals the condition for the non-zero libpostoffice STATUS.  If a
callback of SCOPE caught a Lisp condition, that condition is signalled
instead.  SMTP or PROGRAM is the handle whose call failed, for the
details; SERVER is the \"host:port\" string to report; FILE the file
name for file errors.  Never returns."
  (let ((caught (scope-condition scope)))
    (when caught
      (error caught)))
  (let* ((name (status-keyword status))
         (context (cond (smtp :smtp) (program :program)))
         (code (and smtp (let ((c (%po-smtp-reply-code smtp)))
                           (and (plusp c) c))))
         (class (status-condition-class name code context))
         (text (or (non-empty (cond (smtp (%po-smtp-errmsg smtp))
                                    (program (%po-program-errmsg program))))
                   (non-empty (%po-last-error))
                   (%po-strerror status)))
         (outcome-unknown (and smtp
                               (subtypep class 'smtp-connection-error)
                               (= 1 (%po-smtp-outcome-unknown smtp))))
         (args (list :status name)))
    (when smtp
      (setf args (list* :server server
                        :command (non-empty (%po-smtp-command smtp))
                        :code code
                        :enhanced-code (non-empty
                                        (%po-smtp-enhanced-code smtp))
                        :reply (non-empty (%po-smtp-reply smtp))
                        args))
      (when (subtypep class 'smtp-connection-error)
        (setf args (list* :outcome-unknown outcome-unknown args)))
      (when (subtypep class 'smtp-recipient-error)
        (setf args (list* :refused-recipients (smtp-refused-list smtp)
                          args))))
    (let (exit-status stderr stdout)
      (when (and program (subtypep class 'smtp-program-error))
        (setf exit-status (let ((s (%po-program-exit-status program)))
                            (if (= s -1000) nil s))
              stderr (program-output program #'%po-program-stderr)
              stdout (program-output program #'%po-program-stdout)
              args (list* :exit-status exit-status
                          :stderr stderr
                          :stdout stdout
                          args)))
      (when (eq class 'smtp-file-error)
        (setf args (list* :pathname (or file "") args)))
      ;; The whole report is the format control (tildes escaped), so that
      ;; it also shows where Lisp prints the condition unreadably.
      (apply #'error class
             :format-control (escape-tildes
                              (error-text text name class server
                                          outcome-unknown exit-status
                                          stderr stdout))
             :format-arguments '()
             args))))

(defmacro check-status (form &rest context &key scope &allow-other-keys)
  "Evaluates FORM, a call returning a libpostoffice status, and returns
the status if it is PO_OK (0); otherwise signals the matching condition
through PO-ERROR, with CONTEXT (keyword arguments of PO-ERROR).  With a
SCOPE, a condition caught by one of its callbacks is signalled even if
C reported success."
  (let ((status (gensym "STATUS")))
    `(let ((,status ,form))
       (if (and (eql ,status 0)
                ,(if scope `(not (scope-condition ,scope)) t))
           ,status
           (po-error ,status ,@context)))))

(defun check-pointer (pointer what)
  "Returns POINTER, a handle just made by C, or signals an error saying
WHAT could not be made if it is NULL."
  (if (cffi:null-pointer-p pointer)
      (error 'smtp-error
             :status :enomem
             :format-control "libpostoffice could not make ~a: ~a"
             :format-arguments (list what (or (non-empty (%po-last-error))
                                              "out of memory")))
      pointer))

;;; ------------------------------------------------------------------
;;; Callbacks
;;;
;;; A callback runs on top of C frames (libcurl's, ours).  No Lisp
;;; condition may unwind through them: a handler outside SEND-LETTER that
;;; transfers control would leave libcurl in the middle of a transfer.
;;; So every condition signalled while a callback works stops at the
;;; callback: a warning is muffled and deferred (signalled again by
;;; SCOPE-RELEASE once C has returned, and the work goes on); any other
;;; serious condition ends the work, the callback reports failure so that
;;; C aborts cleanly, and the condition is signalled again after C
;;; returns (PO-ERROR); other conditions are declined as if no handler
;;; were there, and signalled again after C returns.  (A THROW or GO out
;;; of a stream method cannot be stopped this way: see
;;; CALL-ABANDONED-P.)

(defun defer-warning (warning)
  "Keeps WARNING to be signalled again when the current scope is
released, and muffles it now.  Returns NIL, without muffling, if that
is not possible (no scope, or no MUFFLE-WARNING restart)."
  (let ((restart (find-restart 'muffle-warning warning)))
    (when (and *scope* restart)
      (push warning (scope-deferred *scope*))
      (invoke-restart restart))))

(defun defer-condition (condition)
  "Keeps CONDITION, neither a warning nor serious, to be signalled again
when the current scope is released; declines it now.  Returns T if it
was kept."
  (when *scope*
    (push condition (scope-deferred *scope*))
    t))

(defmacro without-outer-handlers (&body body)
  "Executes BODY with the condition handlers established outside it
hidden, so that a condition signalled in BODY and not handled there is
declined (SIGNAL returns NIL) rather than handed to a handler outside,
which might transfer control through the C frames below.  Portable
fallback: the handlers stay visible, and WITH-CALLBACK-BARRIER treats
every condition that gets that far as ending the callback's work."
  #+sbcl `(let ((sb-kernel:*handler-clusters* nil)) ,@body)
  #+ecl `(let ((si::*handler-clusters* nil)) ,@body)
  #-(or sbcl ecl) `(progn ,@body))

(defconstant +outer-handlers-hidden+ #+(or sbcl ecl) t #-(or sbcl ecl) nil
  "True where WITHOUT-OUTER-HANDLERS really hides the outer handlers.")

(defmacro with-callback-barrier ((fail) &body body)
  "Runs BODY, the work of a callback, so that no condition signalled in
it unwinds out of the callback (see above): warnings are muffled and
deferred, other non-serious conditions deferred and declined (the work
goes on), and a serious condition ends the work.  FAIL is a function of
the condition that ended BODY; the value of the form is then NIL,
otherwise the values of BODY."
  (let ((barrier (gensym "BARRIER")))
    `(block ,barrier
       (flet ((end (condition)
                (funcall ,fail condition)
                (return-from ,barrier nil)))
         (without-outer-handlers
           (handler-bind ((serious-condition #'end)
                          (warning #'defer-warning)
                          (condition
                            (lambda (condition)
                              (unless (and +outer-handlers-hidden+
                                           (defer-condition condition))
                                (end condition)))))
             ,@body))))))

(cffi:defcallback read-callback :int
    ((userdata :pointer) (buf :pointer) (len :size) (n-out :pointer))
  (let ((source (registered-object (cffi:pointer-address userdata))))
    (setf (cffi:mem-ref n-out :size) 0)
    (if (null source)
        1
        (or (with-callback-barrier ((lambda (condition)
                                      (source-failed source condition)))
              (setf (cffi:mem-ref n-out :size) (source-fill source buf len))
              0)
            1))))

(cffi:defcallback trace-callback :void
    ((userdata :pointer) (direction :int) (line :pointer) (len :size))
  (let ((tracer (registered-object (cffi:pointer-address userdata))))
    (when tracer
      (with-callback-barrier ((lambda (condition)
                                (tracer-failed tracer condition)))
        (trace-line tracer (code-char direction)
                    (decode-utf8-pointer line len))))))
