;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; faults.lisp - the fault matrix from Lisp (issue #6): a scripted
;;; server (fixtures/faultd.py) refuses (4xx and 5xx), closes the
;;; connection or stops answering at every step of the dialogue; TLS
;;; fails in the handshake or on a bad certificate; a server reads
;;; slowly.  The table is the one of tests-c/test_faults.c, each C status
;;; mapped to the condition class the Lisp code signals for it:
;;;
;;;   EGREETING EHELO ESENDER EDATA EMESSAGE  4yz smtp-transient-error
;;;                                           5yz smtp-permanent-error
;;;   ERECIPIENT   4yz smtp-transient-recipient-error, 5yz the permanent one
;;;   ESTARTTLS ETLS ECERT                    smtp-tls-error (whatever code)
;;;   EAUTH EAUTHMECH                         smtp-authentication-error
;;;   ECONNLOST ETIMEOUT                      smtp-connection-error
;;;
;;; For every case: the condition class, status, reply code, enhanced
;;; code and command; OUTCOME-UNKNOWN exactly when the whole message went
;;; out without a reply; the refused recipients; the condition within
;;; the configured timeout (1 s) plus a second of libcurl's granularity
;;; and a second of slack (from MAIL on, twice the first two: libcurl
;;; waits once more for the QUIT it sends after a timeout, a known bug,
;;; FAULT-TIMEOUT-DOUBLED); nothing saved by the server unless it
;;; accepted the letter;
;;; exactly one connection (no hidden resend); and afterwards a normal
;;; SEND-LETTER to a good server from the same thread succeeds.
;;;
;;; The cases of one group run at once, one thread each, against their
;;; own faultd (started in parallel from the main thread): the stalls
;;; alone would otherwise take ~15 s.  Worker threads only record what
;;; they saw; every check (FiveAM's IS) runs in the main thread.
;;;
;;; Then the Lisp-specific faults: a stream that fails halfway through a
;;; send (message, attachment, raw SEND-SMTP, on a connection), and a
;;; *SMTP-DEBUG* stream that fails, and conditions and non-local exits
;;; out of a stream while C runs.

(in-package :net.post-office.tests)

(def-suite :smtp.faults :in :smtp
  :description "The fault matrix: refusals, closes, stalls, TLS failures
and failing streams, each with its condition, in bounded time, with no
false delivery and the image still sending afterwards.")

(in-suite :smtp.faults)

;;; ------------------------------------------------------------------
;;; Shared helpers (also used by secrets.lisp and load.lisp)

(defun elapsed-seconds (start)
  "Seconds of real time since the internal real time START."
  (/ (float (- (get-internal-real-time) start) 1d0)
     internal-time-units-per-second))

(defun process-fds ()
  "What the file descriptors of this process refer to: the targets of
the links in /proc/self/fd (\"socket:[123]\", \"pipe:[45]\", file
names...)."
  (loop for link in (directory #p"/proc/self/fd/*" :resolve-symlinks nil)
        collect (cffi:with-foreign-pointer (buffer 4096)
                  (let ((n (cffi:foreign-funcall "readlink"
                                                 :string (native link)
                                                 :pointer buffer
                                                 :size 4095 :long)))
                    (if (plusp n)
                        (cffi:foreign-string-to-lisp buffer :count n
                                                            :encoding :utf-8)
                        "?")))))

(defun full-gc ()
  "Collects all garbage, running finalizers."
  #+sbcl (sb-ext:gc :full t)
  #+ecl (si:gc t)
  #+ccl (ccl:gc))

(defun counted-fds (&key (free-idle-handles t))
  "The targets of the file descriptors this process has open, after a
full garbage collection and, unless FREE-IDLE-HANDLES is false, with no
idle handle in the pool, not counting the
pipes to the fixture servers, their stderr.log files and /dev/null: ECL
keeps those of stopped servers and of finished programs open until its
garbage collector finalizes the process objects.  Sockets, other files
and anonymous inodes (eventfd...) all count."
  (when free-idle-handles
    (net.post-office::free-idle-handles))
  (full-gc)
  (remove-if (lambda (target)
               (or (eql 0 (search "pipe:" target))
                   (member target '("/dev/null" "?") :test #'string=)
                   (let ((tail "/stderr.log"))
                     (and (> (length target) (length tail))
                          (string= tail target
                                   :start2 (- (length target)
                                              (length tail)))))))
             (process-fds)))

(defun process-fd-count ()
  "The number of file descriptors COUNTED-FDS counts."
  (length (counted-fds)))

(defun process-rss-kb ()
  "This process's resident set size in KiB (VmRSS of /proc/self/status)."
  (with-open-file (in "/proc/self/status")
    (loop for line = (read-line in nil)
          while line
          when (eql 0 (search "VmRSS:" line))
            return (parse-integer line :start 6 :junk-allowed t))))

(defun start-fixtures (specs)
  "Starts one fixture server per SPEC, a list (SCRIPT . ARGS), all at
once, and waits until each listens.  Returns the FIXTUREs in order.  If
one does not start, all are stopped and an error is signalled."
  (let ((fixtures '()))
    (handler-bind ((error (lambda (e)
                            (declare (ignore e))
                            (mapc #'stop-fixture fixtures))))
      (loop for (script . args) in specs
            do (let ((dir (make-temp-dir "server")))
                 (push (make-fixture
                        :dir dir :host "127.0.0.1"
                        :process (uiop:launch-program
                                  (list* *python* (fixture-file script)
                                         "--dir" (native dir)
                                         "--host" "127.0.0.1" "--port" "0"
                                         args)
                                  :input :stream :output :stream
                                  :error-output
                                  (native (merge-pathnames "stderr.log" dir))
                                  :if-error-output-exists :supersede))
                       fixtures)))
      (setf fixtures (nreverse fixtures))
      (loop for fixture in fixtures
            for (script . args) in specs
            do (let ((line (read-line (uiop:process-info-output
                                       (fixture-process fixture))
                                      nil nil)))
                 (unless (and line (eql 0 (search "READY " line)))
                   (error "The fixture ~a ~{~a~^ ~} did not start: ~a~%~a"
                          script args line
                          (ignore-errors
                           (read-file-string
                            (merge-pathnames "stderr.log"
                                             (fixture-dir fixture))))))
                 (setf (fixture-port fixture) (parse-integer line :start 6))))
      fixtures)))

(defmacro with-fault-server ((var args) &body body)
  "Runs BODY with VAR bound to a faultd.py started with the list ARGS
\(evaluated), stopped afterwards."
  `(let ((,var (start-fixture "faultd.py" "127.0.0.1" ,args)))
     (unwind-protect (progn ,@body)
       (stop-fixture ,var))))

(defun run-in-threads (functions)
  "Calls each of FUNCTIONS in a thread of its own, all at once, and
returns their values (the first of each) in order.  An error escaping a
function is returned as its value."
  (let* ((results (make-array (length functions) :initial-element nil))
         (threads (loop for function in functions
                        for i from 0
                        collect (let ((function function) (i i))
                                  (spawn (lambda ()
                                           (setf (aref results i)
                                                 (handler-case
                                                     (funcall function)
                                                   (error (e) e)))))))))
    (mapc #'join threads)
    (coerce results 'list)))

(defun wait-for-letters (fixture count &optional (seconds 3))
  "The letters FIXTURE saved, waiting up to SECONDS for COUNT of them."
  (let ((deadline (+ (get-internal-real-time)
                     (* seconds internal-time-units-per-second))))
    (loop for letters = (letters fixture)
          when (or (>= (length letters) count)
                   (> (get-internal-real-time) deadline))
            return letters
          do (sleep 0.05))))

;;; ------------------------------------------------------------------
;;; The matrix

(defparameter *fault-timeout* 1
  "The :timeout (seconds) of the fault tests: connect, each reply, and
no progress while sending.")

(defparameter *fault-slack* 1.0
  "Seconds allowed beyond *FAULT-TIMEOUT* plus libcurl's granularity
\(it checks reply timeouts once a second, so a 1 s timeout can take up
to 2 s), for the scheduling of the threads and servers of a group.")

(defun fault-time-limit (fault)
  "The most seconds FAULT's send may take: the timeout, one second of
libcurl's granularity and the slack; one second more for the stalls
from MAIL on, where libcurl sends QUIT after the timeout and the C
library stops waiting for its reply within a second (see
FAULT-TIMEOUT-NOT-DOUBLED)."
  (+ *fault-timeout* 1 (if (fault-doubled fault) 1 0) *fault-slack*))

(defparameter *fault-body*
  (with-output-to-string (out)
    (loop repeat 845 do (write-line (make-string 70 :initial-element #\b)
                                    out)))
  "The body of the ordinary fault letter: 60 kB in lines of 70.")

(defparameter *fault-big-body*
  (with-output-to-string (out)
    (loop repeat (floor (* 4 1024 1024) 71)
          do (write-line (make-string 70 :initial-element #\x) out)))
  "A 4 MB body, still being sent when the server gives up in the middle
of DATA.")

(defparameter *fault-from* "sender@example.com")

(defstruct (fault (:constructor make-fault
                      (name rules &key tls auth big partial (class nil)
                                       (status nil) (code nil)
                                       (enhanced nil) (command nil)
                                       unknown refused stall doubled
                                       (connections 1) saved)))
  "One case of the matrix.  RULES are faultd's arguments; TLS is NIL,
:STARTTLS or :IMPLICIT; AUTH true logs in as u/p with PLAIN.  The
expectations: CLASS (NIL for success), STATUS, CODE and ENHANCED (NIL
for none, :ANY not checked), COMMAND (NIL for none, a string the
command must start with, :ANY), UNKNOWN (outcome unknown), REFUSED (the
refused addresses), STALL (the server stops answering: the condition
comes after the timeout, not before), DOUBLED (see FAULT-TIME-LIMIT),
CONNECTIONS, SAVED (letters the server keeps)."
  name rules tls auth big partial class status code enhanced command
  unknown refused stall doubled connections saved)

(defparameter *fault-rcpts*
  '("one@example.com" "two@example.com" "three@example.com")
  "The recipients of the ordinary letter: two To and one Cc.")

(defun refusal-faults ()
  "Refusals (4yz and 5yz) at every step, and the cases that succeed."
  (list
   (make-fault "greeting 421" '("--at" "greeting" "--do" "reply-close"
                                "--reply" "421 4.3.2 Try later")
               :class 'smtp-transient-error :status :egreeting :code 421
               :enhanced "4.3.2")
   (make-fault "greeting 554" '("--at" "greeting" "--do" "reply" "--reply"
                                "554 5.7.1 Go away")
               :class 'smtp-permanent-error :status :egreeting :code 554
               :enhanced "5.7.1")
   (make-fault "ehlo+helo 421" '("--at" "ehlo" "--do" "reply" "--reply"
                                 "421 4.7.0 Busy" "--at" "helo" "--do"
                                 "reply" "--reply" "421 4.7.0 Busy")
               ;; 421 means the server is closing: no HELO is tried
               :class 'smtp-transient-error :status :ehelo :code 421
               :enhanced "4.7.0" :command "EHLO ")
   (make-fault "ehlo+helo 550" '("--at" "ehlo" "--do" "reply" "--reply"
                                 "550 5.7.1 No" "--at" "helo" "--do" "reply"
                                 "--reply" "550 5.7.1 No")
               :class 'smtp-permanent-error :status :ehelo :code 550
               :enhanced "5.7.1" :command "HELO ")
   (make-fault "ehlo 502, helo works" '("--at" "ehlo" "--do" "reply"
                                        "--reply" "502 5.5.2 Not implemented")
               :saved 1)
   (make-fault "starttls 454" '("--at" "starttls" "--do" "reply" "--reply"
                                "454 4.7.0 TLS not available")
               :tls :starttls :class 'smtp-tls-error :status :estarttls
               :code 454 :enhanced "4.7.0" :command "STARTTLS")
   (make-fault "starttls 554" '("--at" "starttls" "--do" "reply" "--reply"
                                "554 5.7.0 No")
               :tls :starttls :class 'smtp-tls-error :status :estarttls
               :code 554 :enhanced "5.7.0" :command "STARTTLS")
   (make-fault "auth 454" '("--user" "u" "--password" "p" "--at" "auth"
                            "--do" "reply" "--reply"
                            "454 4.7.0 Temporary failure")
               :auth t :class 'smtp-authentication-error :status :eauth
               :code 454 :enhanced "4.7.0" :command "AUTH PLAIN")
   (make-fault "auth 535 (wrong password)" '("--user" "u" "--password"
                                             "other")
               :auth t :class 'smtp-authentication-error :status :eauth
               :code 535 :enhanced "5.7.8" :command "AUTH PLAIN")
   (make-fault "auth result 534" '("--user" "u" "--password" "p" "--at"
                                   "auth-result" "--do" "reply" "--reply"
                                   "534 5.7.9 Mechanism too weak")
               :auth t :class 'smtp-authentication-error :status :eauth
               :code 534 :enhanced "5.7.9" :command "AUTH PLAIN")
   (make-fault "mail 451" '("--at" "mail" "--do" "reply" "--reply"
                            "451 4.3.0 Try again")
               :class 'smtp-transient-error :status :esender :code 451
               :enhanced "4.3.0" :command "MAIL FROM:<sender@example.com>")
   (make-fault "mail 553" '("--at" "mail" "--do" "reply" "--reply"
                            "553 5.1.8 Bad sender")
               :class 'smtp-permanent-error :status :esender :code 553
               :enhanced "5.1.8" :command "MAIL FROM:<sender@example.com>")
   (make-fault "mail 421 and close" '("--at" "mail" "--do" "reply-close"
                                      "--reply" "421 4.4.2 Shutting down")
               :class 'smtp-transient-error :status :esender :code 421
               :enhanced "4.4.2" :command "MAIL FROM:")
   (make-fault "rcpt 2 of 3 450" '("--at" "rcpt:2" "--do" "reply" "--reply"
                                   "450 4.2.1 Mailbox busy")
               :class 'smtp-transient-recipient-error :status :erecipient
               :code 450 :enhanced "4.2.1"
               :command "RCPT TO:<two@example.com>"
               :refused '("two@example.com"))
   (make-fault "rcpt 2 of 3 550" '("--at" "rcpt:2" "--do" "reply" "--reply"
                                   "550 5.1.1 No such user")
               :class 'smtp-permanent-recipient-error :status :erecipient
               :code 550 :enhanced "5.1.1"
               :command "RCPT TO:<two@example.com>"
               :refused '("two@example.com"))
   ;; all or nothing: the first refusal ends the transaction
   (make-fault "rcpt all 450" '("--at" "rcpt" "--do" "reply" "--reply"
                                "450 4.2.1 Mailbox busy")
               :class 'smtp-transient-recipient-error :status :erecipient
               :code 450 :enhanced "4.2.1"
               :command "RCPT TO:<one@example.com>"
               :refused '("one@example.com"))
   (make-fault "rcpt all 550" '("--at" "rcpt" "--do" "reply" "--reply"
                                "550 5.1.1 No such user")
               :class 'smtp-permanent-recipient-error :status :erecipient
               :code 550 :enhanced "5.1.1"
               :command "RCPT TO:<one@example.com>"
               :refused '("one@example.com"))
   ;; :partial-delivery t tries them all
   (make-fault "rcpt all 550, partial delivery"
               '("--at" "rcpt" "--do" "reply" "--reply"
                 "550 5.1.1 No such user")
               :partial t
               :class 'smtp-permanent-recipient-error :status :erecipient
               :code 550 :enhanced "5.1.1" :command "RCPT TO:<"
               :refused *fault-rcpts*)
   (make-fault "rcpt 2 of 3 550, partial delivery"
               '("--at" "rcpt:2" "--do" "reply" "--reply"
                 "550 5.1.1 No such user")
               :partial t :refused '("two@example.com") :saved 1)
   (make-fault "data 451" '("--at" "data" "--do" "reply" "--reply"
                            "451 4.3.0 Not now")
               :class 'smtp-transient-error :status :edata :code 451
               :enhanced "4.3.0" :command "DATA")
   (make-fault "data 554" '("--at" "data" "--do" "reply" "--reply"
                            "554 5.5.1 No valid recipients")
               :class 'smtp-permanent-error :status :edata :code 554
               :enhanced "5.5.1" :command "DATA")
   (make-fault "eod 451" '("--at" "eod" "--do" "reply" "--reply"
                           "451 4.7.1 Greylisted")
               :class 'smtp-transient-error :status :emessage :code 451
               :enhanced "4.7.1" :command ".")
   (make-fault "eod 554" '("--at" "eod" "--do" "reply" "--reply"
                           "554 5.7.1 Spam")
               :class 'smtp-permanent-error :status :emessage :code 554
               :enhanced "5.7.1" :command ".")
   (make-fault "eod 554 multi-line" '("--at" "eod" "--do" "reply" "--reply"
                                      "554 5.7.1 Spam\\nsee the policy")
               :class 'smtp-permanent-error :status :emessage :code 554
               :enhanced "5.7.1" :command ".")
   ;; a failed QUIT does not undo an accepted letter
   (make-fault "quit 500" '("--at" "quit" "--do" "reply" "--reply"
                            "500 5.5.1 What")
               :saved 1)
   (make-fault "quit close" '("--at" "quit" "--do" "close") :saved 1)))

(defun close-faults ()
  "The server closes the connection, without a reply, at every step."
  (flet ((lost (name rules command &rest keys)
           (apply #'make-fault name rules :class 'smtp-connection-error
                                          :status :econnlost :command command
                                          keys)))
    (list
     (lost "greeting close" '("--at" "greeting" "--do" "close") nil)
     (lost "ehlo close" '("--at" "ehlo" "--do" "close") "EHLO ")
     (lost "starttls close" '("--at" "starttls" "--do" "close") "STARTTLS"
           :tls :starttls)
     (lost "auth close" '("--user" "u" "--password" "p" "--at" "auth" "--do"
                          "close")
           "AUTH PLAIN" :auth t)
     (lost "auth result close" '("--user" "u" "--password" "p" "--at"
                                 "auth-result" "--do" "close")
           "AUTH PLAIN" :auth t)
     (lost "mail close" '("--at" "mail" "--do" "close") "MAIL FROM:")
     (lost "rcpt close" '("--at" "rcpt:2" "--do" "close")
           "RCPT TO:<two@example.com>")
     (lost "data close" '("--at" "data" "--do" "close") "DATA")
     (lost "mid-data close" '("--at" "body" "--do" "close" "--after-bytes"
                              "20000")
           "DATA" :big t)
     (lost "mid-data reset" '("--at" "body" "--do" "reset" "--after-bytes"
                              "20000")
           "DATA" :big t)
     ;; the whole message went out: the outcome is unknown
     (lost "eod close" '("--at" "eod" "--do" "close") "." :unknown t)
     (lost "eod reset" '("--at" "eod" "--do" "reset") "." :unknown t))))

(defun stall-faults ()
  "The server stops answering at every step."
  (flet ((stall (name rules command &rest keys)
           (apply #'make-fault name rules :class 'smtp-connection-error
                                          :status :etimeout :command command
                                          :stall t keys)))
    (list
     (stall "greeting stall" '("--at" "greeting" "--do" "stall") nil)
     (stall "ehlo stall" '("--at" "ehlo" "--do" "stall") "EHLO ")
     (stall "starttls stall" '("--at" "starttls" "--do" "stall") "STARTTLS"
            :tls :starttls)
     ;; the 220 to STARTTLS is a go-ahead, not the condition's reply
     (stall "tls handshake stall" '("--at" "tlshandshake" "--do" "stall")
            "STARTTLS" :tls :starttls)
     (stall "auth stall" '("--user" "u" "--password" "p" "--at" "auth"
                           "--do" "stall")
            "AUTH PLAIN" :auth t)
     (stall "auth result stall" '("--user" "u" "--password" "p" "--at"
                                  "auth-result" "--do" "stall")
            "AUTH PLAIN" :auth t)
     ;; from MAIL on libcurl waits for a QUIT after the timeout
     (stall "mail stall" '("--at" "mail" "--do" "stall") "MAIL FROM:"
            :doubled t)
     (stall "rcpt stall" '("--at" "rcpt:2" "--do" "stall")
            "RCPT TO:<two@example.com>" :doubled t)
     (stall "data stall" '("--at" "data" "--do" "stall") "DATA" :doubled t)
     ;; the server reads the rest and never answers: all of it went out
     (stall "mid-data stall" '("--at" "body" "--do" "stall" "--after-bytes"
                               "20000")
            "." :unknown t :doubled t)
     (stall "eod stall" '("--at" "eod" "--do" "stall") "." :unknown t
            :doubled t))))

(defun tls-faults ()
  "TLS handshakes that fail."
  (list
   (make-fault "starttls handshake garbage" '("--at" "tlshandshake" "--do"
                                              "reply")
               :tls :starttls :class 'smtp-tls-error :status :etls
               :command :any)
   (make-fault "implicit tls garbage" '("--at" "tlshandshake" "--do"
                                        "reply")
               :tls :implicit :class 'smtp-tls-error :status :etls
               :command :any)
   (make-fault "implicit tls close" '("--at" "tlshandshake" "--do" "close")
               :tls :implicit :class 'smtp-tls-error :status :etls
               :command :any)))

(defun fault-letter-args (fault)
  "The arguments after MAIL-SERVER of the SEND-LETTER call of FAULT."
  (if (fault-big fault)
      (list *fault-from* "one@example.com" *fault-big-body*)
      (list *fault-from* (subseq *fault-rcpts* 0 2) *fault-body*
            :cc (third *fault-rcpts*))))

(defun fault-designator (fault fixture)
  "The mail server designator for FAULT's server FIXTURE."
  (append (list (fixture-host fixture) :port (fixture-port fixture)
                :timeout *fault-timeout* :total-timeout 10)
          (case (fault-tls fault)
            (:starttls (list :starttls t :verify nil))
            (:implicit (list :ssl t :verify nil)))
          (when (fault-auth fault) (list :auth-mechanism :plain))
          (when (fault-partial fault) (list :partial-delivery t))))

(defun fault-server-args (fault)
  "faultd's command line for FAULT."
  (append (fault-rules fault)
          (when (fault-tls fault)
            (list "--tls" (string-downcase (fault-tls fault))
                  "--cert" (cert "server.pem") "--key" (cert "server.key")))))

(defstruct observation
  "What a worker saw when it ran one case."
  value condition seconds warnings after after-error)

(defun run-fault (fault fixture good)
  "Sends FAULT's letter to its server FIXTURE and then, from the same
thread, an ordinary letter to the good server GOOD.  Returns an
OBSERVATION.  Runs in a worker thread: no FiveAM checks here."
  (let ((observation (make-observation))
        (start (get-internal-real-time)))
    (handler-case
        (handler-bind ((warning (lambda (w)
                                  (push w (observation-warnings observation))
                                  (muffle-warning w))))
          (setf (observation-value observation)
                (apply #'send-letter (fault-designator fault fixture)
                       (append (fault-letter-args fault)
                               (list :subject (fault-name fault))
                               (when (fault-auth fault)
                                 (list :login "u" :password "p"))))))
      (error (e) (setf (observation-condition observation) e)))
    (setf (observation-seconds observation) (elapsed-seconds start))
    (handler-case
        (setf (observation-after observation)
              (send-letter (server good :timeout 10) *fault-from*
                           "after@example.com" "after the fault"
                           :subject (fault-name fault)))
      (error (e) (setf (observation-after-error observation) e)))
    observation))

(defun check-fault (fault fixture observation)
  "The checks of one case, in the main thread."
  (let* ((name (fault-name fault))
         (e (observation-condition observation))
         (seconds (observation-seconds observation))
         (class (fault-class fault)))
    (when (uiop:getenv "SMTP_TEST_VERBOSE")
      (format t "~&~30a ~5,2f s ~a~@[ ~s~]~@[ code ~a~]~@[ ~s~]~%" name
              seconds (if e (type-of e) "sent")
              (and (typep e 'smtp-error) (smtp-error-status e))
              (and (typep e 'smtp-error) (smtp-error-code e))
              (and (typep e 'smtp-error) (smtp-error-command e))))
    ;; bounded time; a stall waits for the timeout, nothing else does
    (is (< seconds (fault-time-limit fault))
        "~a: took ~,2f s, more than ~,1f s" name seconds
        (fault-time-limit fault))
    (when (fault-stall fault)
      (is (>= seconds (* 0.9 *fault-timeout*))
          "~a: gave up after ~,2f s, before the timeout" name seconds))
    (cond
      ((null class)
       (is (and (null e) (sent-p (observation-value observation)))
           "~a: expected success, got ~a" name e)
       (when (fault-refused fault)
         (let ((w (find-if (lambda (w) (typep w 'smtp-recipients-refused))
                           (observation-warnings observation))))
           (is (and w (equal (fault-refused fault)
                             (mapcar #'first
                                     (smtp-error-refused-recipients w))))
               "~a: refused recipients warning ~a" name w))))
      ((not (typep e 'smtp-error))
       (fail "~a: expected ~a, got ~s~@[: ~a~]" name class e
             (and (typep e 'condition) e)))
      (t
       (is (typep e class) "~a: ~a is not a ~a: ~a" name (type-of e) class e)
       ;; transient and permanent exclude each other, and both exclude
       ;; connection errors
       (cond ((subtypep class 'smtp-transient-error)
              (is (not (typep e 'smtp-permanent-error)) "~a: ~a" name e))
             ((subtypep class 'smtp-permanent-error)
              (is (not (typep e 'smtp-transient-error)) "~a: ~a" name e)))
       (unless (subtypep class 'smtp-connection-error)
         (is (not (typep e 'smtp-connection-error)) "~a: ~a" name e))
       (when (eq class 'smtp-connection-error)
         (is (not (typep e 'smtp-tls-error)) "~a: ~a" name e))
       (is (eq (fault-status fault) (smtp-error-status e))
           "~a: status ~s, expected ~s" name (smtp-error-status e)
           (fault-status fault))
       (unless (eq :any (fault-code fault))
         (is (eql (fault-code fault) (smtp-error-code e))
             "~a: code ~s, expected ~s" name (smtp-error-code e)
             (fault-code fault)))
       (unless (eq :any (fault-enhanced fault))
         (is (equal (fault-enhanced fault) (smtp-error-enhanced-code e))
             "~a: enhanced code ~s, expected ~s" name
             (smtp-error-enhanced-code e) (fault-enhanced fault)))
       (let ((command (smtp-error-command e))
             (expected (fault-command fault)))
         (unless (eq expected :any)
           (is (if expected
                   (and command (eql 0 (search expected command)))
                   (null command))
               "~a: command ~s, expected ~s" name command expected)))
       (when (fault-code fault)
         (unless (eq :any (fault-code fault))
           (is (contains (smtp-error-reply e)
                         (princ-to-string (fault-code fault)))
               "~a: reply ~s" name (smtp-error-reply e))
           (is (contains (princ-to-string e)
                         (princ-to-string (fault-code fault)))
               "~a: the report does not give the code: ~a" name e)))
       (is (> (length (princ-to-string e)) 10) "~a: report ~s" name
           (princ-to-string e))
       (is (equal (server-string fixture) (smtp-error-server e))
           "~a: server ~s" name (smtp-error-server e))
       (when (typep e 'smtp-connection-error)
         (is (eq (fault-unknown fault)
                 (and (smtp-error-outcome-unknown e) t))
             "~a: outcome-unknown ~s, expected ~s" name
             (smtp-error-outcome-unknown e) (fault-unknown fault))
         (is (contains (princ-to-string e) (server-string fixture))
             "~a: the report does not name the server: ~a" name e)
         (when (fault-unknown fault)
           (is (contains (princ-to-string e) "may have accepted")
               "~a: the report does not warn: ~a" name e)))
       (when (typep e 'smtp-recipient-error)
         (let ((refused (smtp-error-refused-recipients e)))
           (is (equal (fault-refused fault) (mapcar #'first refused))
               "~a: refused ~s" name refused)
           (is (every (lambda (r)
                        (and (eql (fault-code fault) (second r))
                             (contains (third r)
                                       (princ-to-string (fault-code fault)))))
                      refused)
               "~a: refused ~s" name refused)))))
    ;; never reported as sent unless the server kept it, and kept once
    (let ((saved (length (wait-for-letters fixture
                                           (or (fault-saved fault) 0)))))
      (is (= (or (fault-saved fault) 0) saved)
          "~a: the server saved ~d letters" name saved))
    (is (= (fault-connections fault) (connection-count fixture))
        "~a: ~d connections" name (connection-count fixture))
    ;; the image keeps sending
    (is (sent-p (observation-after observation))
        "~a: the next letter failed: ~a" name
        (observation-after-error observation))))

(defun run-fault-group (faults)
  "Runs the cases FAULTS at once, each against its own faultd, checks
them, and checks that the good server got one letter after each and
that no file descriptor was left open."
  (with-smtpd (good)
    (let ((fds (counted-fds))
          (fixtures (start-fixtures
                     (mapcar (lambda (fault)
                               (cons "faultd.py" (fault-server-args fault)))
                             faults))))
      (unwind-protect
           (let ((observations
                   (run-in-threads
                    (loop for fault in faults
                          for fixture in fixtures
                          collect (let ((fault fault) (fixture fixture))
                                    (lambda ()
                                      (run-fault fault fixture good)))))))
             (loop for fault in faults
                   for fixture in fixtures
                   for observation in observations
                   do (if (observation-p observation)
                          (check-fault fault fixture observation)
                          (fail "~a: the worker failed: ~a" (fault-name fault)
                                observation))))
        (mapc #'stop-fixture fixtures))
      (let ((subjects (mapcar (lambda (l) (header l "Subject"))
                              (wait-for-letters good (length faults)))))
        (is (equal (sort (mapcar #'fault-name faults) #'string<)
                   (sort subjects #'string<))
            "the good server got ~s" subjects))
      (let ((now (counted-fds)))
        (is (= (length fds) (length now))
            "file descriptors: ~d before, ~d after; new ~s, gone ~s"
            (length fds) (length now)
            (set-difference now fds :test #'string=)
            (set-difference fds now :test #'string=))))))

(test fault-refusals
  "The server refuses (4yz, 5yz) the greeting, EHLO and HELO, STARTTLS,
AUTH, MAIL, one RCPT of three or all of them, DATA, and the message."
  (run-fault-group (refusal-faults)))

(test fault-closes
  "The server closes the connection at every step, in the middle of DATA
and after the final dot (the outcome is then unknown)."
  (run-fault-group (close-faults)))

(test fault-stalls
  "The server stops answering at every step: the condition comes after
the 1 s timeout and well before twice it plus slack."
  (run-fault-group (stall-faults)))

(defun pipelined (faults)
  "FAULTS again, against a faultd that offers PIPELINING: MAIL, the
RCPTs and DATA go in one flight and each fault hits that position of it;
every expectation stays the same, but that every RCPT refused is
reported."
  (mapcar (lambda (fault)
            (let ((copy (copy-fault fault)))
              (setf (fault-name copy) (format nil "~a (pipelined)"
                                              (fault-name fault))
                    (fault-rules copy) (append (fault-rules fault)
                                               '("--pipelining")))
              ;; every RCPT went out in the flight: each refusal is
              ;; reported, where lockstep stops at the first
              (when (and (fault-refused fault)
                         (member "rcpt" (fault-rules fault) :test #'equal))
                (setf (fault-refused copy) *fault-rcpts*))
              copy))
          (remove-if-not (lambda (fault)
                           (some (lambda (step)
                                   (member step (fault-rules fault)
                                           :test (lambda (a b)
                                                   (and (stringp b)
                                                        (eql 0 (search a b))))))
                                 '("mail" "rcpt" "data" "body" "eod")))
                         faults)))

(test fault-pipelined
  "Refusals, closes and stalls at each position of a pipelined flight
(MAIL, the second RCPT of three, every RCPT, DATA, the body, the end of
data): the same conditions, codes, commands and outcomes as in lockstep
\(and every refused recipient reported)."
  (run-fault-group (pipelined (append (refusal-faults) (close-faults)
                                      (stall-faults)))))

(test fault-out-of-order-replies
  "A server that answers DATA with 250, answers an RCPT with 354, or
sends one reply too many, in a pipelined flight or in lockstep: an
SMTP-CONNECTION-ERROR with status :EPROTOCOL, never a hang, never
\"sent\"."
  (dolist (rules '(("--pipelining" "--at" "data" "--do" "reply" "--reply"
                    "250 2.0.0 Ok")
                   ("--pipelining" "--at" "rcpt" "--do" "reply" "--reply"
                    "354 Go ahead")
                   ("--pipelining" "--at" "rcpt" "--do" "extra" "--reply"
                    "250 2.1.5 Extra")
                   ("--at" "mail" "--do" "extra" "--reply"
                    "250 2.1.0 Extra")))
    (with-fault-server (f rules)
      (let ((e (handler-case (send-letter (server f :timeout 2) *fault-from*
                                          "one@example.com" "order")
                 (error (e) e))))
        (is (typep e 'smtp-connection-error) "~s: ~s" rules e)
        (is (and (typep e 'smtp-error) (eq :eprotocol (smtp-error-status e)))
            "~s: ~a" rules e)
        (is (null (letters f)) "~s" rules)))))

(test fault-rset-keeps-connection
  "After a letter whose recipient is refused, the connection stays open:
RSET, and the next letter goes on it (lockstep and pipelined)."
  (dolist (extra '(() ("--pipelining")))
    (with-fault-server (f (list* "--at" "rcpt=bad@example.com" "--do" "reply"
                                 "--reply" "550 5.1.1 No such user" extra))
      (with-smtp-connection (c (server f))
        (signals smtp-permanent-recipient-error
          (send-letter c *fault-from* "bad@example.com" "refused"))
        (is (stringp (send-letter c *fault-from* "one@example.com" "next"))))
      (is (= 1 (length (letters f))))
      (is (= 1 (connection-count f)) "~s" extra)
      (is (contains (transcript f) "C: RSET") "~s" extra))))

(test fault-421-mid-session
  "A server that answers a later letter's RCPT with 421 and closes: that
letter had not gone out, and is sent once more on a new connection."
  (dolist (extra '(() ("--pipelining")))
    (with-fault-server (f (list* "--at" "rcpt=two@example.com" "--do"
                                 "reply-close" "--reply"
                                 "421 4.3.2 Shutting down" "--conn" "1"
                                 extra))
      (with-smtp-connection (c (server f))
        (is (stringp (send-letter c *fault-from* "one@example.com" "first")))
        (is (stringp (send-letter c *fault-from* "two@example.com" "second"))))
      (is (= 2 (length (letters f))) "~s" extra)
      (is (= 2 (connection-count f)) "~s" extra))))

(test fault-tls-handshake
  "TLS handshakes that fail: garbage instead of a handshake after
STARTTLS and with implicit TLS, a connection closed instead."
  (run-fault-group (tls-faults)))

;;; ------------------------------------------------------------------
;;; Certificates and TLS versions (fixtures/smtpd.py with bad
;;; certificates from fixtures/certs.sh)

(test fault-certificates
  "Wrong name, expired and self-signed certificates, over STARTTLS and
implicit TLS, verified against the test CA: SMTP-TLS-ERROR :ECERT with
the hint, quickly, nothing saved, and the image keeps sending.  A TLS
version the server does not speak is :ETLS."
  (let* ((cases (loop for name in '("wrongname" "expired" "selfsigned")
                      nconc (loop for mode in '(:starttls :implicit)
                                  collect (list name mode))))
         (fds (process-fd-count)))
    (with-smtpd (good)
      (let ((fixtures (start-fixtures
                       (loop for (name mode) in cases
                             collect (list* "smtpd.py"
                                            (tls-args (string-downcase mode)
                                                      name))))))
        (unwind-protect
             (loop for (name mode) in cases
                   for fixture in fixtures
                   do (let* ((start (get-internal-real-time))
                             (e (handler-case
                                    (send-letter
                                     (server fixture
                                             (if (eq mode :starttls)
                                                 :starttls
                                                 :ssl)
                                             t
                                             :ca-file (cert "ca.pem")
                                             :timeout *fault-timeout*)
                                     *fault-from* "one@example.com" "x")
                                  (error (e) e)))
                             (seconds (elapsed-seconds start)))
                        (is (typep e 'smtp-tls-error) "~a ~a: ~a" name mode e)
                        (when (typep e 'smtp-error)
                          (is (eq :ecert (smtp-error-status e))
                              "~a ~a: ~s" name mode (smtp-error-status e))
                          (is (null (smtp-error-code e)) "~a ~a: code ~s"
                              name mode (smtp-error-code e))
                          (is (contains (princ-to-string e) ":ca-file")))
                        (is (< seconds (+ *fault-timeout* 1
                                          *fault-slack*))
                            "~a ~a: ~,2f s" name mode seconds)
                        (is (null (letters fixture)) "~a ~a: saved" name mode)
                        (is (stringp (send-letter (server good) *fault-from*
                                               "after@example.com"
                                               (format nil "after ~a ~a"
                                                       name mode))))))
          (mapc #'stop-fixture fixtures))
        (is (= (length cases) (length (letters good))))))
    (with-smtpd (d "--tls" "starttls" "--cert" (cert "server.pem")
                   "--key" (cert "server.key") "--tls-max" "1.2")
      (let ((e (handler-case
                   (send-letter (server d :starttls t :ca-file (cert "ca.pem")
                                          :method :tlsv1.3
                                          :timeout *fault-timeout*)
                                *fault-from* "one@example.com" "x")
                 (error (e) e))))
        (is (typep e 'smtp-tls-error) "~a" e)
        (is (eq :etls (and (typep e 'smtp-error) (smtp-error-status e)))))
      (is (null (letters d)))
      (is (stringp (send-letter (server d :starttls t :ca-file (cert "ca.pem"))
                             *fault-from* "one@example.com" "then 1.2")))
      (is (= 1 (length (letters d)))))
    (is (= fds (process-fd-count)))))

;;; ------------------------------------------------------------------
;;; A server that reads slowly

(defmacro with-fixtures ((var specs) &body body)
  "Runs BODY with VAR bound to the list of fixture servers started (at
once) from SPECS, a list of (SCRIPT . ARGS); stops them afterwards."
  `(let ((,var (start-fixtures ,specs)))
     (unwind-protect (progn ,@body)
       (mapc #'stop-fixture ,var))))

(defun timed-send (function)
  "Calls FUNCTION; returns its value or the error it signalled, and the
seconds it took."
  (let ((start (get-internal-real-time)))
    (values (handler-case (funcall function)
              (error (e) e))
            (elapsed-seconds start))))

(test fault-slow-reader
  "A server reading the body at 400 kB/s: a 600 kB letter takes its
time and arrives once.  With a 1 s timeout the letter sits in the
kernel's socket buffers once libcurl has written it, so the reply
timeout runs while the server is still reading: the send fails as a
timeout with OUTCOME-UNKNOWN set, never as a plain failure, and the
image keeps sending."
  (let ((body (with-output-to-string (out)
                (loop repeat 8500
                      do (write-line (make-string 70 :initial-element #\s)
                                     out)))))
    (with-smtpd (good)
      (with-fixtures (fixtures '(("faultd.py" "--slow-read" "400000")
                                 ("faultd.py" "--slow-read" "100000")))
        (destructuring-bind ((value seconds after) (e short-seconds after-2))
            (run-in-threads
             (list (lambda ()
                     (multiple-value-call #'list
                       (timed-send (lambda ()
                                     (send-letter (server (first fixtures)
                                                          :timeout 30)
                                                  *fault-from*
                                                  "one@example.com" body)))
                       (values (send-letter (server good) *fault-from*
                                            "one@example.com"
                                            "after slow"))))
                   (lambda ()
                     (multiple-value-call #'list
                       (timed-send (lambda ()
                                     (send-letter (server (second fixtures)
                                                          :timeout 1
                                                          :total-timeout 10)
                                                  *fault-from*
                                                  "one@example.com" body)))
                       (values (send-letter (server good) *fault-from*
                                            "one@example.com"
                                            "after slow"))))))
          (is (sent-p value) "~a" value)
          (is (> seconds 1.0) "only ~,2f s: the server was not slow" seconds)
          (is (< seconds 10.0) "~,2f s" seconds)
          (is (= 1 (length (letters (first fixtures)))))
          (is (= 1 (connection-count (first fixtures))))
          (is (typep e 'smtp-connection-error) "~a" e)
          (when (typep e 'smtp-connection-error)
            (is (eq :etimeout (smtp-error-status e)))
            (is (smtp-error-outcome-unknown e)))
          ;; the reply timeout after the final dot, and the QUIT's
          (is (< short-seconds (+ (* 2 (+ 1 1)) *fault-slack*)) "~,2f s"
              short-seconds)
          (is (null (letters (second fixtures))))
          (is (sent-p after))
          (is (sent-p after-2))))
      (is (= 2 (length (letters good)))))))

;;; ------------------------------------------------------------------
;;; Faults on a connection from WITH-SMTP-CONNECTION

(test fault-on-connection
  "A connection the server closes or stalls (before DATA, or after the
final dot) fails that letter only; the next letter on the same
WITH-SMTP-CONNECTION goes out on a new connection, once.  The letter
whose outcome is unknown is not sent again."
  (let ((cases '((("--at" "mail" "--do" "close" "--conn" "1")
                  :econnlost nil)
                 (("--at" "rcpt" "--do" "stall" "--conn" "1")
                  :etimeout nil)
                 (("--at" "eod" "--do" "close" "--conn" "1")
                  :econnlost t)
                 (("--at" "greeting" "--do" "reply-close" "--reply"
                   "421 4.3.2 Busy" "--conn" "1")
                  :egreeting nil))))
    (with-fixtures (fixtures (mapcar (lambda (case)
                                       (cons "faultd.py" (first case)))
                                     cases))
      (loop for (rules status unknown) in cases
            for f in fixtures
            for (e after)
              in (run-in-threads
                  (mapcar (lambda (f)
                            (lambda ()
                              (with-smtp-connection
                                  (c (server f :timeout *fault-timeout*))
                                (list (handler-case
                                          (send-letter c *fault-from*
                                                       "one@example.com"
                                                       "first"
                                                       :subject "first")
                                        (error (e) e))
                                      (handler-case
                                          (send-letter c *fault-from*
                                                       "one@example.com"
                                                       "second"
                                                       :subject "second")
                                        (error (e) e))))))
                          fixtures))
            do (is (typep e 'smtp-error) "~s: ~a" rules e)
               (when (typep e 'smtp-error)
                 (is (eq status (smtp-error-status e)) "~s: ~a" rules e)
                 (when (typep e 'smtp-connection-error)
                   (is (eq unknown (and (smtp-error-outcome-unknown e) t))
                       "~s: ~a" rules e)))
               (is (sent-p after) "~s: the second letter: ~a" rules after)
               (is (equal '("second")
                          (mapcar (lambda (l) (header l "Subject"))
                                  (letters f)))
                   "~s: ~s" rules (mapcar (lambda (l) (header l "Subject"))
                                          (letters f)))
               (is (= 2 (connection-count f)) "~s: ~d connections" rules
                   (connection-count f))))))

(test fault-stale-connection
  "A kept connection the server has meanwhile closed (idle close) or
answered 421 (idle 421) is replaced before the next letter, which is
delivered once."
  (with-fixtures (fixtures '(("faultd.py" "--idle-close" "1")
                             ("faultd.py" "--idle-421" "1")))
    (loop for f in fixtures
          for (one two)
            in (run-in-threads
                (mapcar (lambda (f)
                          (lambda ()
                            (with-smtp-connection (c (server f :timeout 5))
                              (list (handler-case
                                        (send-letter c *fault-from*
                                                     "one@example.com" "one"
                                                     :subject "one")
                                      (error (e) e))
                                    (progn
                                      (sleep 1.6)
                                      (handler-case
                                          (send-letter c *fault-from*
                                                       "one@example.com"
                                                       "two"
                                                       :subject "two")
                                        (error (e) e)))))))
                        fixtures))
          do (is (sent-p one) "~a" one)
             (is (sent-p two) "~a" two)
             (is (equal '("one" "two")
                        (mapcar (lambda (l) (header l "Subject"))
                                (letters f)))))))

;;; ------------------------------------------------------------------
;;; Lisp streams that fail halfway

(define-condition fault-stream-error (error)
  ((where :initarg :where :reader fault-stream-error-where))
  (:report (lambda (c s)
             (format s "the ~a stream failed on purpose"
                     (fault-stream-error-where c))))
  (:documentation "The error the failing test streams signal."))

(defclass fault-character-stream
    (trivial-gray-streams:fundamental-character-input-stream)
  ((left :initarg :after :accessor fault-stream-left)
   (read :initform 0 :accessor fault-stream-read)
   (condition :initarg :condition :reader fault-stream-condition))
  (:documentation "Lines of z's; after AFTER characters it signals its
CONDITION (the very object)."))

(defmethod trivial-gray-streams:stream-read-char
    ((stream fault-character-stream))
  (when (<= (fault-stream-left stream) 0)
    (error (fault-stream-condition stream)))
  (decf (fault-stream-left stream))
  (if (zerop (mod (incf (fault-stream-read stream)) 71))
      #\Newline
      #\z))

(defmethod trivial-gray-streams:stream-unread-char
    ((stream fault-character-stream) char)
  (declare (ignore char))
  (incf (fault-stream-left stream))
  (decf (fault-stream-read stream))
  nil)

(defclass fault-binary-stream
    (trivial-gray-streams:fundamental-binary-input-stream)
  ((left :initarg :after :accessor fault-stream-left)
   (read :initform 0 :accessor fault-stream-read)
   (condition :initarg :condition :reader fault-stream-condition))
  (:documentation "Octets; after AFTER of them it signals its CONDITION."))

(defmethod stream-element-type ((stream fault-binary-stream))
  '(unsigned-byte 8))

(defmethod trivial-gray-streams:stream-read-byte
    ((stream fault-binary-stream))
  (when (<= (fault-stream-left stream) 0)
    (error (fault-stream-condition stream)))
  (decf (fault-stream-left stream))
  (logand #xff (incf (fault-stream-read stream))))

(defparameter *fault-stream-after* 1000000
  "When the failing streams fail: after several of libcurl's 256 kB
upload buffers went out.")

(defun fault-stream (kind where)
  "A failing stream of KIND (:character or :binary) and its condition."
  (let ((condition (make-condition 'fault-stream-error :where where)))
    (values (make-instance (if (eq kind :character)
                               'fault-character-stream
                               'fault-binary-stream)
                           :after *fault-stream-after*
                           :condition condition)
            condition)))

(defun ended-transcript (fixture k)
  "faultd's transcript of connection K of FIXTURE, once the connection has
ended (its \"* end\" line; waits up to 5 s)."
  (let ((path (merge-pathnames (format nil "conn-~d.log" k)
                               (fixture-dir fixture))))
    (loop repeat 50
          for log = (and (probe-file path) (read-file-string path))
          when (and log (search "* end" log))
            return log
          do (sleep 0.1)
          finally (return (if (probe-file path) (read-file-string path) "")))))

(test fault-stream-errors
  "A stream that signals an error halfway through a send (as the
message, as an attachment, through SEND-SMTP; characters and octets):
that very condition is signalled again, after DATA began and before the
final dot, nothing is delivered, and the image keeps sending."
  (with-faultd (f)
    (let ((sends
            (list
             (list "character message"
                   (lambda (stream)
                     (send-letter (server f) *fault-from* "one@example.com"
                                  stream))
                   :character)
             (list "binary message"
                   (lambda (stream)
                     (send-letter (server f) *fault-from* "one@example.com"
                                  stream))
                   :binary)
             (list "character attachment"
                   (lambda (stream)
                     (send-letter (server f) *fault-from* "one@example.com"
                                  "the message" :attachments stream))
                   :character)
             (list "binary attachment"
                   (lambda (stream)
                     (send-letter (server f) *fault-from* "one@example.com"
                                  "the message"
                                  :attachments (list stream)))
                   :binary)
             (list "send-smtp"
                   (lambda (stream)
                     (send-smtp (server f) *fault-from* "one@example.com"
                                (format nil "Subject: raw~%~%") stream))
                   :character))))
      (loop for (what function kind) in sends
            for k from 1
            do (multiple-value-bind (stream condition)
                   (fault-stream kind what)
                 (let ((caught (handler-case (progn (funcall function stream)
                                                    :returned)
                                 (error (e) e))))
                   (is (eq condition caught) "~a: got ~s: ~a" what caught
                       caught)
                   (is (>= (fault-stream-read stream) *fault-stream-after*)
                       "~a: failed after ~d" what (fault-stream-read stream))
                   (is (= (1- k) (length (letters f))) "~a: delivered"
                       what)
                   (is (stringp (send-letter (server f) *fault-from*
                                          "one@example.com" "fine"))
                       "~a: the next letter" what)
                   (let ((log (ended-transcript f (1- (* 2 k)))))
                     (is (contains log "C: DATA") "~a: ~a" what log)
                     (is (contains log "S: 354") "~a" what)
                     (is (not (contains log (format nil "C: .~%")))
                         "~a: the final dot went out: ~a" what log)
                     ;; the body ended with the connection: no QUIT (nor
                     ;; anything else) was written into it
                     (let* ((tail (search "* body ended without the final dot"
                                          log))
                            (quit (and tail (search "QUIT" log :start2 tail))))
                       (is (not (null tail)) "~a: ~a" what log)
                       (is (null quit) "~a: QUIT after the body: ~a" what
                           log)))
                   (is (= k (length (letters f))) "~a" what)))))))

(test fault-stream-error-on-connection
  "A failing stream on a WITH-SMTP-CONNECTION: its condition is
signalled, the half-sent letter is never delivered, and the next letter
on the same connection arrives whole."
  (with-smtpd (d)
    (with-smtp-connection (c (server d))
      (is (stringp (send-letter c *fault-from* "one@example.com" "before"
                             :subject "before")))
      (multiple-value-bind (stream condition)
          (fault-stream :character "connection")
        (is (eq condition
                (handler-case (send-letter c *fault-from* "one@example.com"
                                           stream :subject "broken")
                  (error (e) e)))))
      (is (stringp (send-letter c *fault-from* "one@example.com" "after"
                             :subject "after"))))
    (let ((letters (wait-for-letters d 2)))
      (is (equal '("before" "after")
                 (mapcar (lambda (l) (header l "Subject")) letters)))
      (is (contains (body (second letters)) "after"))
      (is (not (contains (body (second letters)) "zzzz"))))))

;;; ------------------------------------------------------------------
;;; A *SMTP-DEBUG* stream that fails

(defclass fault-debug-stream
    (trivial-gray-streams:fundamental-character-output-stream)
  ((left :initarg :after :accessor fault-stream-left)
   (text :initform (make-string-output-stream) :reader fault-debug-text)
   (condition :initarg :condition :reader fault-stream-condition))
  (:documentation "An output stream that keeps what it is given and
signals its CONDITION once AFTER characters were written."))

(defmethod trivial-gray-streams:stream-write-char
    ((stream fault-debug-stream) char)
  (when (<= (fault-stream-left stream) 0)
    (error (fault-stream-condition stream)))
  (decf (fault-stream-left stream))
  (write-char char (fault-debug-text stream)))

(defmethod trivial-gray-streams:stream-line-column
    ((stream fault-debug-stream))
  nil)

(defun fault-debug-stream (after)
  "A *SMTP-DEBUG* stream failing after AFTER characters, and its
condition."
  (let ((condition (make-condition 'fault-stream-error :where "debug")))
    (values (make-instance 'fault-debug-stream :after after
                                               :condition condition)
            condition)))

(test fault-debug-stream-errors
  "An error inside the *SMTP-DEBUG* stream, at the start or in the
middle of the dialogue, does not stop the letter: it is delivered once,
an SMTP-WARNING describes the error, and the next letter is traced
again.  A failing send with a failing debug stream signals the send's
own condition."
  (with-faultd (f "--at" "rcpt" "--do" "reply" "--reply"
                  "550 5.1.1 No such user" "--conn" "3")
    (loop for after in '(0 200)
          for n from 1
          do (multiple-value-bind (stream condition) (fault-debug-stream after)
               (let ((warnings '()))
                 (handler-bind ((warning (lambda (w)
                                           (push w warnings)
                                           (muffle-warning w))))
                   (let ((*smtp-debug* stream))
                     (is (stringp (send-letter (server f) *fault-from*
                                            "one@example.com" "traced")))))
                 (is (= n (length (letters f))))
                 (is (= 1 (length warnings)) "~s" warnings)
                 (is (typep (first warnings) 'smtp-warning))
                 (is (contains (princ-to-string (first warnings))
                               (princ-to-string condition))
                     "~a" (first warnings))
                 (when (plusp after)
                   (is (contains (get-output-stream-string
                                  (fault-debug-text stream))
                                 "220"))))))
    ;; the third connection refuses the recipient
    (let ((stream (fault-debug-stream 100)))
      (let ((e (handler-bind ((warning #'muffle-warning))
                 (let ((*smtp-debug* stream))
                   (handler-case (send-letter (server f) *fault-from*
                                              "one@example.com" "refused")
                     (error (e) e))))))
        (is (typep e 'smtp-permanent-recipient-error) "~a" e)))
    (is (= 2 (length (letters f)))))
  (with-smtpd (d)
    (with-smtp-connection (c (server d))
      (let ((warned nil))
        (handler-bind ((warning (lambda (w)
                                  (setf warned w)
                                  (muffle-warning w))))
          (let ((*smtp-debug* (fault-debug-stream 10)))
            (is (stringp (send-letter c *fault-from* "one@example.com" "one")))))
        (is (typep warned 'smtp-warning)))
      (let ((trace (debug-output
                     (is (stringp (send-letter c *fault-from* "one@example.com"
                                            "two"))))))
        (is (contains trace "MAIL FROM:") "~s" trace)))
    (is (= 2 (length (letters d))))))

;;; ------------------------------------------------------------------
;;; Conditions that are not errors, and THROW, out of a stream

(define-condition fault-note (condition)
  ()
  (:documentation "A condition that is not an error."))

(defclass fault-noting-stream
    (trivial-gray-streams:fundamental-character-input-stream)
  ((left :initarg :after :accessor fault-stream-left)
   (how :initarg :how :reader fault-stream-how))
  (:documentation "Lines of n's; after AFTER characters it signals a
non-error condition (:signal), warns (:warn) or throws to the tag
FAULT-OUT (:throw), and then goes on: 300,000 more characters."))

(defmethod trivial-gray-streams:stream-read-char
    ((stream fault-noting-stream))
  (when (= (decf (fault-stream-left stream)) 0)
    (ecase (fault-stream-how stream)
      (:signal (signal 'fault-note))
      (:warn (warn "fault-noting-stream warns"))
      (:throw (throw 'fault-out :thrown))))
  (if (< (fault-stream-left stream) -300000)
      :eof
      (if (zerop (mod (fault-stream-left stream) 71)) #\Newline #\n)))

(defun fault-leave-send (designator how)
  "Sends a letter whose stream signals, warns or throws (HOW), with a
HANDLER-CASE and a CATCH around SEND-LETTER that leave it.  Returns T
\(sent without leaving), :NOTED, :WARNED or :THROWN."
  (catch 'fault-out
    (handler-case
        (send-letter designator *fault-from* "one@example.com"
                     (make-instance 'fault-noting-stream :after 400000
                                                         :how how))
      (fault-note () :noted)
      (warning () :warned))))

(defun fault-noted-letters (fixture)
  "The letters of FIXTURE that came from a FAULT-NOTING-STREAM."
  (remove-if-not (lambda (l) (contains (body l) "nnnnnnnnnn"))
                 (letters fixture)))

(defclass fault-warning-debug-stream
    (trivial-gray-streams:fundamental-character-output-stream)
  ((line :initform (make-string-output-stream) :reader fault-debug-line)
   (on :initarg :on :reader fault-debug-on))
  (:documentation "A *SMTP-DEBUG* stream that warns when a line
containing ON is printed."))

(defmethod trivial-gray-streams:stream-write-char
    ((stream fault-warning-debug-stream) char)
  (write-char char (fault-debug-line stream))
  (when (char= char #\Newline)
    (when (search (fault-debug-on stream)
                  (get-output-stream-string (fault-debug-line stream)))
      (warn "the debug stream saw ~a" (fault-debug-on stream))))
  char)

(defmethod trivial-gray-streams:stream-line-column
    ((stream fault-warning-debug-stream))
  nil)

(test fault-stream-conditions
  "A stream, or a *SMTP-DEBUG* stream, that signals a condition which a
HANDLER-CASE around SEND-LETTER handles, never leaves through libcurl's
frames: the condition is declined while C runs (as if no handler were
there), the letter goes out whole, once, and the condition is signalled
again once C has returned, when the handler runs.  No descriptor is
left open, and a WITH-SMTP-CONNECTION keeps working."
  (with-smtpd (d)
    (send-letter (server d) *fault-from* "one@example.com" "warm-up")
    (let ((fds (counted-fds)))
      (is (eq :noted (fault-leave-send (server d) :signal)))
      (is (= 1 (length (fault-noted-letters d))))
      (is (eq :warned (fault-leave-send (server d) :warn)))
      (is (= 2 (length (fault-noted-letters d))))
      (let ((seen nil))
        (handler-bind ((warning (lambda (w)
                                  ;; deferred: the letter is there already
                                  (setf seen (length (fault-noted-letters d)))
                                  (muffle-warning w))))
          (is (stringp (send-letter (server d) *fault-from* "one@example.com"
                                 (make-instance 'fault-noting-stream
                                                :after 400000 :how :warn)))))
        (is (eql 3 seen) "the warning came with ~s noted letters" seen))
      (is (eq :warned
              (handler-case
                  (let ((*smtp-debug* (make-instance
                                       'fault-warning-debug-stream
                                       :on "MAIL FROM")))
                    (send-letter (server d) *fault-from*
                                 "one@example.com" "traced"))
                (warning () :warned))))
      (let ((now (counted-fds)))
        (is (= (length fds) (length now)) "file descriptors: ~d, then ~d: ~s"
            (length fds) (length now) (set-difference now fds
                                                      :test #'string=))))
    (with-smtp-connection (c (server d))
      (is (eq :noted (fault-leave-send c :signal)))
      (is (eq :warned (fault-leave-send c :warn)))
      (is (sent-p (handler-case (send-letter c *fault-from* "one@example.com"
                                           "after the conditions")
                  (error (e) e)))))
    (is (= 5 (length (fault-noted-letters d))))
    (is (= 8 (length (letters d))) "~d letters" (length (letters d)))))

(test idle-handle-pool
  "One-shot sends keep at most 8 idle handles, the most recently used
first, each holding no descriptor and no connection; a send with the settings of an idle handle reuses it; and
FREE-IDLE-HANDLES frees them all, descriptors included."
  (with-smtpd (d)
    (net.post-office::free-idle-handles)
    (let ((fds (process-fd-count)))
      ;; ten settings: the same server, reply timeouts of 11 to 20 s
      (dotimes (i 10)
        (is (stringp (send-letter (server d :timeout (+ 11 i)) *fault-from*
                               "one@example.com" (format nil "pool ~d" i)))))
      (let* ((pool (copy-list net.post-office::*handle-pool*))
             (oldest (cdr (first (last pool))))
             (held (length (counted-fds :free-idle-handles nil))))
        (is (= 8 (length pool)) "~d idle handles" (length pool))
        (is (= fds held) "file descriptors: ~d, then ~d" fds held)
        ;; the handles of 11 and 12 s were freed; that of 13 s is the
        ;; least recently used one kept, and the next send with its
        ;; settings takes it and puts it first
        (send-letter (server d :timeout 13) *fault-from* "one@example.com"
                     "pool again")
        (is (cffi:pointer-eq oldest
                             (cdr (first net.post-office::*handle-pool*)))
            "the idle handle with those settings was not reused")
        (is (= 8 (length net.post-office::*handle-pool*))))
      (is (= 8 (net.post-office::free-idle-handles)))
      (is (null net.post-office::*handle-pool*))
      (is (= fds (process-fd-count)))
      (is (= 11 (length (letters d)))))))

;;; ------------------------------------------------------------------
;;; Leaving a send from inside a stream, and timing details

(test fault-throw-from-stream
  "A stream that THROWs to a CATCH around SEND-LETTER (or a GO or
RETURN-FROM out of it) leaves through libcurl's frames, which nothing in
Lisp can stop (lisp/ffi.lisp says: don't).  The damage is contained:
the C handle that was abandoned is never used or freed again (libcurl's
state is broken; its connection and socket pair, three descriptors,
are leaked), one-shot sends go on working, and a WITH-SMTP-CONNECTION
whose send was abandoned says so clearly on its next use instead of
failing obscurely."
  (with-smtpd (d)
    (send-letter (server d) *fault-from* "one@example.com" "warm-up")
    (let ((fds (process-fd-count)))
      (is (eq :thrown (fault-leave-send (server d) :throw)))
      (is (stringp (send-letter (server d) *fault-from* "one@example.com"
                             "after")))
      (is (<= (process-fd-count) (+ fds 3)) "file descriptors: ~d, then ~d"
          fds (process-fd-count)))
    (with-smtp-connection (c (server d))
      (is (eq :thrown (fault-leave-send c :throw)))
      (let ((e (handler-case (send-letter c *fault-from* "one@example.com"
                                          "after a throw")
                 (error (e) e))))
        (is (typep e 'smtp-error) "~s" e)
        (is (search "unusable" (princ-to-string e)) "~a" e)))
    (is (stringp (send-letter (server d) *fault-from* "one@example.com"
                           "after the connection")))
    (is (null (fault-noted-letters d)))))

(define-condition fault-progress (condition)
  ((count :initarg :count :reader fault-progress-count))
  (:documentation "A progress notification a stream signals for
whoever wants it (handlers decline it)."))

(defclass fault-progress-stream
    (trivial-gray-streams:fundamental-character-input-stream)
  ((read :initform 0 :accessor fault-stream-read))
  (:documentation "50,000 p's, signalling FAULT-PROGRESS every 10,000."))

(defmethod trivial-gray-streams:stream-read-char
    ((stream fault-progress-stream))
  (let ((n (incf (fault-stream-read stream))))
    (when (zerop (mod n 10000))
      (signal 'fault-progress :count n))
    (if (> n 50000) :eof #\p)))

(test fault-stream-declined-condition
  "A stream that SIGNALs a condition which nobody handles, or which an
outer HANDLER-BIND only looks at (a progress notification), goes on as
if it were not there: while C runs the condition is declined (the
outer handlers are hidden from callbacks, lisp/ffi.lisp), and once the
letter is sent every such condition is signalled again, in order, so
the outer handler still sees them all."
  (with-smtpd (d)
    (let* ((seen 0)
           (value (handler-case
                      (handler-bind ((fault-progress
                                       (lambda (c)
                                         (declare (ignore c))
                                         (incf seen))))
                        (send-letter (server d) *fault-from*
                                     "one@example.com"
                                     (make-instance
                                      'fault-progress-stream)))
                    (error (c) c))))
      (is (sent-p value) "~s" value)
      (is (= 5 seen) "~d progress notifications seen" seen)
      (is (= 1 (length (letters d)))))))

(test fault-handshake-timeout-code
  "A TLS handshake that times out after the 220 to STARTTLS does not
keep that 220 as SMTP-ERROR-CODE, -ENHANCED-CODE and -REPLY: the
go-ahead did not decide the failure."
  (progn
      (with-fault-server (f (list* "--at" "tlshandshake" "--do" "stall"
                                   (tls-args "starttls")))
        (let ((e (handler-case
                     (send-letter (server f :timeout 1 :starttls t
                                            :verify nil)
                                  *fault-from* "one@example.com" "x")
                   (smtp-error (e) e))))
          (is (eq :etimeout (smtp-error-status e)))
          (is (null (smtp-error-code e)) "code ~s, reply ~s"
              (smtp-error-code e) (smtp-error-reply e))))))

(test fault-timeout-not-doubled
  "Once the session is set up (from MAIL on, and after the final dot), a
server that stops answering is not given the reply timeout twice:
libcurl answers the timeout by sending QUIT and would wait for its
reply as long again (with the default 120 s, 4 minutes in all); the C
library stops that wait within a second."
  (progn
      (let ((steps '("mail" "rcpt" "data" "eod")))
        (with-fixtures (fixtures (mapcar (lambda (step)
                                           (list "faultd.py" "--at" step
                                                 "--do" "stall"))
                                         steps))
          (loop for step in steps
                for (e seconds)
                  in (run-in-threads
                      (mapcar (lambda (f)
                                (lambda ()
                                  (multiple-value-list
                                   (timed-send
                                    (lambda ()
                                      (send-letter (server f :timeout 3)
                                                   *fault-from*
                                                   "one@example.com"
                                                   "x"))))))
                              fixtures))
                do (is (and (typep e 'smtp-error)
                            (eq :etimeout (smtp-error-status e)))
                       "~a stall: ~a" step e)
                   ;; 3 s, one more for libcurl's whole seconds, one for
                   ;; the QUIT, and slack (doubled would be 6 s or more)
                   (is (< seconds 5.6) "~a stall: ~,2f s with :timeout 3"
                       step seconds))))))

(test fault-ehlo-421-close
  "A server that answers EHLO with 421 and closes the connection (RFC
5321 3.8: what a server shutting down does) gives an
SMTP-TRANSIENT-ERROR :EHELO with the 421; libcurl is not left to try
HELO on the closed connection."
  (progn
      (with-fault-server (f '("--at" "ehlo" "--do" "reply-close" "--reply"
                              "421 4.3.2 Shutting down"))
        (let ((e (handler-case (send-letter (server f :timeout 1)
                                            *fault-from* "one@example.com"
                                            "x")
                   (error (e) e))))
          (is (typep e 'smtp-transient-error) "~a" e)
          (is (and (typep e 'smtp-error) (eql 421 (smtp-error-code e)))
              "~a" e)))))

