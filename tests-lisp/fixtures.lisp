;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; fixtures.lisp - what the tests share: temporary directories, the
;;; test certificates, the fixture SMTP servers (fixtures/smtpd.py, a real
;;; server on aiosmtpd, and fixtures/faultd.py, a scripted misbehaving
;;; one) run as child processes on 127.0.0.1 (or ::1) and stopped in
;;; UNWIND-PROTECT, reading back the letters they saved, a small JSON
;;; reader, a thread shim, and a stream that fails on purpose.

(in-package :net.post-office.tests)

(defparameter *python* "/usr/bin/python3"
  "Debian's Python, which has aiosmtpd (the python3 on PATH may not).")

;;; ------------------------------------------------------------------
;;; Files and directories

(defun fixture-file (name)
  "The native name of the file NAME in the checkout's fixtures/."
  (uiop:native-namestring
   (asdf:system-relative-pathname "smtp" (concatenate 'string "fixtures/"
                                                      name))))

(defvar *tmp-root* nil
  "The directory (a pathname) holding this run's temporary files.")

(defvar *tmp-counter* 0
  "The number of temporary directories made so far.")

(defvar *tmp-lock* (net.post-office::make-lock "tests tmp")
  "Protects *TMP-COUNTER*.")

(defun tmp-root ()
  "This run's temporary directory: $SMTP_TEST_TMP if set (run.sh sets it
and removes it afterwards), else a fresh one under /tmp."
  (or *tmp-root*
      (setf *tmp-root*
            (let ((env (uiop:getenv "SMTP_TEST_TMP")))
              (uiop:ensure-directory-pathname
               (if (and env (plusp (length env)))
                   env
                   (format nil "/tmp/smtp-lisp-tests-~36r/"
                           (random (expt 36 8) (make-random-state t)))))))))

(defun make-temp-dir (prefix)
  "A fresh empty directory under TMP-ROOT, as a pathname."
  (let ((dir (uiop:ensure-directory-pathname
              (merge-pathnames (format nil "~a-~d" prefix
                                       (net.post-office::with-lock
                                           (*tmp-lock*)
                                         (incf *tmp-counter*)))
                               (tmp-root)))))
    (ensure-directories-exist dir)
    dir))

(defun native (pathname)
  "PATHNAME as a native file name string."
  (uiop:native-namestring pathname))

(defun write-file (pathname content)
  "Writes CONTENT, a string (UTF-8) or an octet vector, to PATHNAME.
Returns the native file name."
  (with-open-file (out pathname :direction :output :if-exists :supersede
                                :element-type '(unsigned-byte 8))
    (write-sequence (if (stringp content)
                        (net.post-office::string-to-utf8 content)
                        content)
                    out))
  (native pathname))

(defun read-file-octets (pathname)
  "The contents of the file PATHNAME as an octet vector."
  (with-open-file (in pathname :element-type '(unsigned-byte 8))
    (let ((octets (make-array (file-length in)
                              :element-type '(unsigned-byte 8))))
      (read-sequence octets in)
      octets)))

(defun read-file-string (pathname)
  "The contents of the file PATHNAME decoded as UTF-8."
  (net.post-office::decode-utf8 (read-file-octets pathname)))

(defvar *certs* nil
  "The directory of the test certificates, made once per run.")

(defun cert (name)
  "The native name of the test certificate file NAME (\"ca.pem\",
\"server.pem\"...), made by fixtures/certs.sh on first use."
  (unless *certs*
    (let ((dir (merge-pathnames "certs/" (tmp-root))))
      (ensure-directories-exist dir)
      ;; The exit status is not trusted (ECL can lose it to its child
      ;; reaper); the files are checked instead.
      (uiop:run-program (list "/bin/sh" (fixture-file "certs.sh")
                              (native dir))
                        :output nil :error-output nil
                        :ignore-error-status t)
      (unless (probe-file (merge-pathnames ".certs-complete" dir))
        (error "fixtures/certs.sh could not make the test certificates ~
in ~a" (native dir)))
      (setf *certs* dir)))
  (native (merge-pathnames name *certs*)))

;;; ------------------------------------------------------------------
;;; (asdf:test-system "smtp")

(defparameter *test-op-suites* '(:smtp)
  "The FiveAM suites (ASDF:TEST-SYSTEM \"smtp\") runs.")

(defun test-op-run ()
  "What (ASDF:TEST-SYSTEM \"smtp\") does, for a user's CI as much as for
us: runs the suites *TEST-OP-SUITES* with FiveAM and explains the
failures.  Each test starts the fixture servers it needs; the temporary
files go to $SMTP_TEST_TMP if that is set, else to a fresh directory
under /tmp that is removed afterwards.  Returns true if every check
passed."
  (let ((own (not (plusp (length (or (uiop:getenv "SMTP_TEST_TMP") "")))))
        (results '()))
    ;; Set, not bound: the tests' threads must see the same directory.
    (when own
      (setf *tmp-root* nil
            *certs* nil))
    (unwind-protect
         (progn
           (dolist (suite *test-op-suites*)
             (setf results (append results (run suite))))
           (explain! results)
           (and results (results-status results)))
      (when (and own *tmp-root*)
        (uiop:delete-directory-tree *tmp-root* :validate t
                                               :if-does-not-exist :ignore)
        (setf *tmp-root* nil
              *certs* nil)))))

;;; ------------------------------------------------------------------
;;; Fixture servers

(defstruct fixture
  "A running fixture server."
  process
  port
  dir
  host)

(defun start-fixture (script host args)
  "Starts the fixture server SCRIPT (\"smtpd.py\" or \"faultd.py\") on
HOST with the extra command line ARGS and waits until it listens."
  (let* ((dir (make-temp-dir "server"))
         (process (uiop:launch-program
                   (list* *python* (fixture-file script)
                          "--dir" (native dir) "--host" host "--port" "0"
                          args)
                   :input :stream :output :stream
                   :error-output (native (merge-pathnames "stderr.log" dir))
                   :if-error-output-exists :supersede))
         (line (read-line (uiop:process-info-output process) nil nil)))
    (unless (and line (eql 0 (search "READY " line)))
      (ignore-errors (uiop:terminate-process process))
      (ignore-errors (uiop:wait-process process))
      (error "The fixture ~a ~{~a~^ ~} did not start: ~a~%~a" script args
             line
             (ignore-errors (read-file-string
                             (merge-pathnames "stderr.log" dir)))))
    (make-fixture :process process :dir dir :host host
                  :port (parse-integer line :start 6))))

(defun stop-fixture (fixture)
  "Stops FIXTURE: closes its standard input and sends it SIGTERM (it
exits on either; ECL does not always close the pipe), then waits for
it, killing it if it has not exited within five seconds."
  (let ((process (fixture-process fixture)))
    (ignore-errors (close (uiop:process-info-input process)))
    (ignore-errors (uiop:terminate-process process))
    (loop repeat 100
          while (uiop:process-alive-p process)
          do (sleep 0.05))
    (when (uiop:process-alive-p process)
      (ignore-errors (uiop:terminate-process process :urgent t)))
    (ignore-errors (uiop:wait-process process))
    (ignore-errors (close (uiop:process-info-output process)))))

(defmacro with-fixture-server ((var script &rest args) &body body)
  "Runs BODY with VAR bound to a running fixture server SCRIPT started
with the command line ARGS (strings, evaluated); an ARGS list may start
with :HOST host.  The server is stopped afterwards, normally or not."
  (let ((host "127.0.0.1"))
    (when (eq (first args) :host)
      (setf host (second args)
            args (cddr args)))
    `(let ((,var (start-fixture ,script ,host (list ,@args))))
       (unwind-protect (progn ,@body)
         (stop-fixture ,var)))))

(defmacro with-smtpd ((var &rest args) &body body)
  "Runs BODY with VAR bound to a running fixtures/smtpd.py started with
ARGS."
  `(with-fixture-server (,var "smtpd.py" ,@args) ,@body))

(defmacro with-faultd ((var &rest args) &body body)
  "Runs BODY with VAR bound to a running fixtures/faultd.py started with
ARGS."
  `(with-fixture-server (,var "faultd.py" ,@args) ,@body))

(defun server (fixture &rest options)
  "The long-form mail server designator for FIXTURE, with OPTIONS."
  (list* (fixture-host fixture) :port (fixture-port fixture) options))

(defun server-string (fixture)
  "The \"host:port\" mail server designator for FIXTURE."
  (format nil "~a:~d" (fixture-host fixture) (fixture-port fixture)))

(defun tls-args (mode &optional (name "server"))
  "The smtpd.py/faultd.py arguments for TLS MODE with certificate NAME."
  (list "--tls" mode "--cert" (cert (format nil "~a.pem" name))
        "--key" (cert (format nil "~a.key" name))))

(defun connection-count (fixture)
  "How many connections the faultd.py FIXTURE has seen."
  (length (directory (merge-pathnames "conn-*.log" (fixture-dir fixture)))))

(defun transcript (fixture)
  "All connection transcripts of the faultd.py FIXTURE, concatenated."
  (format nil "~{~a~}"
          (mapcar #'read-file-string
                  (sort (directory (merge-pathnames "conn-*.log"
                                                    (fixture-dir fixture)))
                        #'string< :key #'native))))

;;; ------------------------------------------------------------------
;;; The letters a fixture saved

(defstruct letter
  "A letter a fixture server accepted: its file name, its octets as a
string and its JSON metadata as an alist."
  file
  eml
  json)

(defun letters (fixture)
  "The letters FIXTURE accepted, in order."
  (loop for eml in (sort (directory (merge-pathnames "*.eml"
                                                     (fixture-dir fixture)))
                         #'string< :key #'native)
        collect (make-letter
                 :file (native eml)
                 :eml (read-file-string eml)
                 :json (parse-json (read-file-string
                                    (make-pathname :type "json"
                                                   :defaults eml))))))

(defun the-letter (fixture)
  "The only letter FIXTURE accepted; fails the test unless there is
exactly one."
  (let ((letters (letters fixture)))
    (is (= 1 (length letters)) "expected one letter, got ~d"
        (length letters))
    (first letters)))

(defun json (letter key)
  "The value of KEY (a string) in LETTER's metadata."
  (cdr (assoc key (letter-json letter) :test #'string=)))

(defun split-eml (eml)
  "The header block and the body of the message text EML."
  (let ((blank (search (format nil "~c~c~c~c" #\Return #\Newline
                               #\Return #\Newline)
                       eml)))
    (if blank
        (values (subseq eml 0 (+ blank 2)) (subseq eml (+ blank 4)))
        (values eml ""))))

(defun header-fields (eml)
  "The header fields of the message text EML as a list of (NAME .
VALUE), unfolded, in order."
  (let ((block (split-eml eml))
        (fields '()))
    (loop for line in (split-lines block)
          do (cond ((zerop (length line)))
                   ((member (char line 0) '(#\Space #\Tab))
                    (when fields
                      (setf (cdr (first fields))
                            (concatenate 'string (cdr (first fields))
                                         line))))
                   (t
                    (let ((colon (position #\: line)))
                      (push (cons (subseq line 0 colon)
                                  (string-left-trim " " (subseq line
                                                                (1+ colon))))
                            fields)))))
    (nreverse fields)))

(defun header (letter name)
  "The first header NAME of LETTER (a LETTER or message text), or NIL."
  (cdr (assoc name (header-fields (if (letter-p letter)
                                      (letter-eml letter)
                                      letter))
              :test #'string-equal)))

(defun headers (letter name)
  "All values of the header NAME in LETTER."
  (loop for (field . value) in (header-fields (if (letter-p letter)
                                                  (letter-eml letter)
                                                  letter))
        when (string-equal field name)
          collect value))

(defun body (letter)
  "The body of LETTER (a LETTER or message text)."
  (nth-value 1 (split-eml (if (letter-p letter) (letter-eml letter) letter))))

(defun split-lines (string)
  "The lines of STRING, split at CRLF or LF."
  (loop for start = 0 then (1+ end)
        for end = (position #\Newline string :start start)
        collect (string-right-trim '(#\Return) (subseq string start end))
        while end))

(defun sent-p (value)
  "True if VALUE is what a successful send returns: T (SEND-SMTP of a
letter without a Message-ID) or a Message-ID string \"<...>\"."
  (or (eq t value)
      (and (stringp value)
           (> (length value) 2)
           (char= #\< (char value 0))
           (char= #\> (char value (1- (length value)))))))

(defun contains (string part)
  "True if STRING contains PART."
  (and string (search part string) t))

;;; ------------------------------------------------------------------
;;; Python's email package, as an independent reader

(defparameter *python-reader*
  "import email, json, sys
from email import policy
with open(sys.argv[1], 'rb') as f:
    m = email.message_from_binary_file(f, policy=policy.default)
out = {'headers': {k: str(v) for k, v in m.items()}, 'parts': [],
       'defects': len(m.defects)}
for p in m.walk():
    if p.is_multipart():
        continue
    d = {'type': p.get_content_type(), 'filename': p.get_filename(),
         'disposition': p.get_content_disposition()}
    payload = p.get_payload(decode=True) or b''
    d['size'] = len(payload)
    if p.get_content_maintype() == 'text':
        d['text'] = p.get_content()
    else:
        d['latin1'] = payload.decode('latin-1')
    out['parts'].append(d)
print(json.dumps(out))
"
  "A Python program printing what Python's email package reads from a
message file, as JSON.")

(defun python-read (file)
  "What Python's email package reads from the message FILE: an alist
with \"headers\" (decoded) and \"parts\" (type, filename, size, text)."
  (parse-json (uiop:run-program (list *python* "-c" *python-reader* file)
                                :output :string
                                :external-format :utf-8)))

(defun jget (object &rest keys)
  "Follows KEYS (strings, or integers for arrays) into the JSON OBJECT."
  (dolist (key keys object)
    (setf object (if (integerp key)
                     (nth key object)
                     (cdr (assoc key object :test #'string=))))))

;;; ------------------------------------------------------------------
;;; A small JSON reader: objects are alists with string keys, arrays
;;; lists, true/false/null :TRUE/:FALSE/NIL.

(defun parse-json (string)
  "The value of the JSON text STRING."
  (let ((i 0))
    (labels ((peek () (and (< i (length string)) (char string i)))
             (skip-space ()
               (loop while (and (peek)
                                (member (peek) '(#\Space #\Tab #\Newline
                                                 #\Return)))
                     do (incf i)))
             (expect (char)
               (skip-space)
               (unless (eql (peek) char)
                 (error "JSON: expected ~c at ~d" char i))
               (incf i))
             (value ()
               (skip-space)
               (let ((c (peek)))
                 (cond ((eql c #\{) (object))
                       ((eql c #\[) (array))
                       ((eql c #\") (str))
                       ((string-at "true") (incf i 4) :true)
                       ((string-at "false") (incf i 5) :false)
                       ((string-at "null") (incf i 4) nil)
                       (t (num)))))
             (string-at (word)
               (and (<= (+ i (length word)) (length string))
                    (string= word string :start2 i
                                         :end2 (+ i (length word)))))
             (object ()
               (expect #\{)
               (skip-space)
               (if (eql (peek) #\})
                   (progn (incf i) nil)
                   (loop collect (let ((key (progn (skip-space) (str))))
                                   (expect #\:)
                                   (cons key (value)))
                         do (skip-space)
                            (if (eql (peek) #\,)
                                (incf i)
                                (progn (expect #\}) (loop-finish))))))
             (array ()
               (expect #\[)
               (skip-space)
               (if (eql (peek) #\])
                   (progn (incf i) nil)
                   (loop collect (value)
                         do (skip-space)
                            (if (eql (peek) #\,)
                                (incf i)
                                (progn (expect #\]) (loop-finish))))))
             (str ()
               (expect #\")
               (with-output-to-string (out)
                 (loop for c = (char string i)
                       do (incf i)
                          (cond ((char= c #\") (return))
                                ((char= c #\\)
                                 (let ((e (char string i)))
                                   (incf i)
                                   (case e
                                     (#\n (write-char #\Newline out))
                                     (#\t (write-char #\Tab out))
                                     (#\r (write-char #\Return out))
                                     (#\b (write-char #\Backspace out))
                                     (#\f (write-char #\Page out))
                                     (#\u (let ((code (parse-integer
                                                       string :start i
                                                       :end (+ i 4)
                                                       :radix 16)))
                                            (incf i 4)
                                            (when (and (<= #xD800 code
                                                           #xDBFF)
                                                       (string-at "\\u"))
                                              (let ((low (parse-integer
                                                          string
                                                          :start (+ i 2)
                                                          :end (+ i 6)
                                                          :radix 16)))
                                                (incf i 6)
                                                (setf code
                                                      (+ #x10000
                                                         (ash (- code #xD800)
                                                              10)
                                                         (- low #xDC00)))))
                                            (write-char (code-char code)
                                                        out)))
                                     (t (write-char e out)))))
                                (t (write-char c out))))))
             (num ()
               (let ((start i))
                 (loop while (and (peek) (find (peek) "+-0123456789.eE"))
                       do (incf i))
                 (let ((text (subseq string start i)))
                   (if (every (lambda (c) (or (digit-char-p c) (char= c #\-)))
                              text)
                       (parse-integer text)
                       (let ((*read-default-float-format* 'double-float))
                         (read-from-string text)))))))
      (value))))

;;; ------------------------------------------------------------------
;;; Threads

(defun spawn (function)
  "Runs FUNCTION in a new thread; returns the thread."
  #+sbcl (sb-thread:make-thread function)
  #+ecl (mp:process-run-function "test" function)
  #+ccl (ccl:process-run-function "test" function)
  #-(or sbcl ecl ccl) (progn (funcall function) nil))

(defun join (thread)
  "Waits for THREAD to finish."
  #+sbcl (sb-thread:join-thread thread :default nil)
  #+ecl (mp:process-join thread)
  #+ccl (loop while (ccl::process-active-p thread) do (sleep 0.01))
  #-(or sbcl ecl ccl) thread)

;;; ------------------------------------------------------------------
;;; Lambda lists

(defun lambda-list (name)
  "The lambda list of the function or macro NAME, or :UNKNOWN where the
implementation cannot tell."
  (let ((function (or (macro-function name) (fdefinition name))))
    (declare (ignorable function))
    #+sbcl (sb-introspect:function-lambda-list function)
    #+ecl (multiple-value-bind (list found)
              (ext:function-lambda-list name)
            (if found list :unknown))
    #+ccl (ccl:arglist name)
    #-(or sbcl ecl ccl) :unknown))

(defun lambda-list-names (lambda-list)
  "The parameter names in LAMBDA-LIST, lambda list keywords kept, as
strings (so that package and default forms do not matter)."
  (loop for item in lambda-list
        collect (let ((name (if (consp item)
                                (let ((first (first item)))
                                  (if (consp first) (second first) first))
                                item)))
                  (symbol-name name))))

;;; ------------------------------------------------------------------
;;; A stream that fails on purpose

(define-condition test-stream-failure (error)
  ()
  (:report "the test stream failed on purpose"))

(defclass failing-stream
    (trivial-gray-streams:fundamental-character-input-stream)
  ((remaining :initarg :after :accessor remaining))
  (:documentation "A character input stream yielding #\\x until AFTER
characters were read, then signalling TEST-STREAM-FAILURE."))

(defmethod trivial-gray-streams:stream-read-char ((stream failing-stream))
  (when (<= (remaining stream) 0)
    (error 'test-stream-failure))
  (decf (remaining stream))
  #\x)

(defmethod trivial-gray-streams:stream-unread-char ((stream failing-stream)
                                                    char)
  (declare (ignore char))
  (incf (remaining stream))
  nil)

(defun octet-stream (octets)
  "A binary input stream over OCTETS (through a temporary file, which
every implementation can open as a binary stream)."
  (let ((file (merge-pathnames "octets.bin" (make-temp-dir "octets"))))
    (write-file file (coerce octets '(vector (unsigned-byte 8))))
    (open file :element-type '(unsigned-byte 8))))

(defun ascii (string)
  "STRING as an octet vector (its characters must be ASCII)."
  (map '(vector (unsigned-byte 8)) #'char-code string))

(defmacro debug-output (&body body)
  "Runs BODY with *SMTP-DEBUG* bound to a string stream and returns what
was printed to it."
  `(with-output-to-string (out)
     (let ((*smtp-debug* out))
       ,@body)))
