;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; load.lisp - letters from several threads at once (issue #6): half
;;; of the threads send over one WITH-SMTP-CONNECTION each, the others
;;; one SEND-LETTER (one connection) per letter.  Every letter carries a
;;; unique id in its Subject; the server's letters are read back and
;;; every letter reported sent must be there exactly once, and nothing
;;; else.  File descriptors and resident memory are measured after a
;;; warm-up and after the run, and must not grow.
;;;
;;; The test here is the light version that `make test` runs: 4 threads
;;; x 250 letters against fixtures/smtpd.py (aiosmtpd), on SBCL and ECL
;;; (mp threads; a few seconds on either).  bench/load.sh runs the full
;;; one, 10,000 letters against Postfix's smtp-sink and against
;;; smtpd.py, with the functions below (bench/load.lisp).
;;;
;;; Tolerances:
;;; - file descriptors: none.  Every handle is freed (and its socket
;;;   closed) before SEND-LETTER or WITH-SMTP-CONNECTION returns, and
;;;   the measurements are taken with no send in progress.  The pipes to
;;;   the fixture servers do not count (see COUNTED-FDS in faults.lisp).
;;; - resident memory: from after the warm-up to after the run, both
;;;   after a full garbage collection, neither the RSS nor (on SBCL)
;;;   the live data of the Lisp heap may grow by more than
;;;   *LOAD-RSS-SLACK-KB* plus *LOAD-RSS-PER-LETTER-BYTES* per letter.
;;;   Observed: ~0.1 MB on SBCL, whose dynamic space the warm-up has
;;;   touched; on ECL the warm-up is as long as the run (see
;;;   *LOAD-WARM-UP-PER-THREAD*), as Boehm's heap grows in blocks while
;;;   4 threads allocate and keeps them.  The fixed part covers malloc's
;;;   per-thread arenas of the new threads and the collectors'
;;;   bookkeeping; the per-letter part
;;;   (which also covers the list of ids the test keeps) is below what
;;;   any per-letter leak costs: a letter's C structures and rendered
;;;   buffers are kilobytes, libcurl's easy handle with its buffers
;;;   tens of kilobytes, so leaking any of them for every letter
;;;   exceeds the bound (a simulated leak of 10 kB a letter, 2.5 MB over
;;;   250 letters, was plainly visible against a growth of ~0.1 MB).
;;;   The full run reports the RSS after every round, so a leak shows as
;;;   a steady slope there.

(in-package :net.post-office.tests)

(def-suite :smtp.load :in :smtp
  :description "Letters from several threads at once: each delivered
exactly once, no descriptor or memory growth.")

(in-suite :smtp.load)

(defparameter *load-rss-slack-kb* (* 6 1024)
  "The fixed part of the RSS growth allowed over a load run, in KiB.")

(defparameter *load-rss-per-letter-bytes* 1024
  "The part of the RSS growth allowed per letter, in octets.")

(defparameter *load-body*
  (format nil "A letter of the load test.~%~{~a~%~}"
          (loop repeat 12
                collect "The quick brown fox jumps over the lazy dog, again."))
  "The body of every load letter (about 650 octets).")

(defstruct load-outcome
  "What one run of LOAD-SEND saw: the ids of the letters reported sent,
the failures as (ID CONDITION-TYPE OUTCOME-UNKNOWN REPORT), and the
seconds it took."
  (sent '())
  (failures '())
  (seconds 0))

(defun load-id (tag thread i)
  "The id of letter I of THREAD in the run TAG."
  (format nil "~a-~d-~d" tag thread i))

(defun load-worker (designator tag thread count session)
  "The body of one load thread: COUNT letters to DESIGNATOR, over one
WITH-SMTP-CONNECTION if SESSION, else one SEND-LETTER each.  Returns
the sent ids and the failures."
  (let ((sent '())
        (failures '()))
    (flet ((send (server i)
             (let ((id (load-id tag thread i)))
               (handler-case
                   (progn
                     (send-letter server "load@example.org"
                                  "sink@example.net" *load-body*
                                  :subject id)
                     (push id sent))
                 (error (e)
                   (push (list id (type-of e)
                               (and (typep e 'smtp-connection-error)
                                    (smtp-error-outcome-unknown e))
                               (princ-to-string e))
                         failures))))))
      (handler-case
          (if session
              (with-smtp-connection (c designator)
                (dotimes (i count) (send c i)))
              (dotimes (i count) (send designator i)))
        ;; opening or closing the session itself failed
        (error (e)
          (push (list (load-id tag thread "session") (type-of e) nil
                      (princ-to-string e))
                failures))))
    (cons sent failures)))

(defun load-send (designator &key (threads 4) (per-thread 250)
                                  (sessions (floor threads 2)) (tag "load"))
  "Sends THREADS x PER-THREAD letters to DESIGNATOR from THREADS threads
at once, the first SESSIONS of them over a WITH-SMTP-CONNECTION each,
the others one connection per letter.  Returns a LOAD-OUTCOME."
  (let* ((start (get-internal-real-time))
         (results (run-in-threads
                   (loop for thread below threads
                         collect (let ((thread thread))
                                   (lambda ()
                                     (load-worker designator tag thread
                                                  per-thread
                                                  (< thread sessions)))))))
         (outcome (make-load-outcome
                   :seconds (elapsed-seconds start))))
    (dolist (result results outcome)
      (if (consp result)
          (setf (load-outcome-sent outcome)
                (append (car result) (load-outcome-sent outcome))
                (load-outcome-failures outcome)
                (append (cdr result) (load-outcome-failures outcome)))
          (push (list "thread" (type-of result) nil
                      (princ-to-string result))
                (load-outcome-failures outcome))))))

(defun lisp-heap-kb ()
  "The KiB of the Lisp heap in use after a full GC (live data), or NIL
where that cannot be told (ECL: Boehm's counters are not reliable under
threads)."
  #+sbcl (floor (sb-kernel:dynamic-usage) 1024)
  #-sbcl nil)

(defun load-measure ()
  "After a full GC: the counted file descriptors, the RSS in KiB, and
the KiB of live data in the Lisp heap (or NIL, see LISP-HEAP-KB)."
  (let ((fds (counted-fds)))
    (full-gc)
    (values fds (process-rss-kb) (lisp-heap-kb))))

(defun load-memory-problems (letters rss-before rss-after live-before
                             live-after)
  "The memory growth over a run of LETTERS letters beyond the tolerance,
as a list of explanations (NIL when within it): the RSS growth, and
the growth of the Lisp heap's live data where it is known."
  (let ((limit (+ *load-rss-slack-kb*
                  (ceiling (* letters *load-rss-per-letter-bytes*) 1024))))
    (append
     (when (> (- rss-after rss-before) limit)
       (list (format nil "RSS grew by ~d KiB (~d -> ~d), more than ~d KiB"
                     (- rss-after rss-before) rss-before rss-after limit)))
     (when (and live-before live-after (> (- live-after live-before) limit))
       (list (format nil "the Lisp heap's live data grew by ~d KiB (~d -> ~
~d), more than ~d KiB" (- live-after live-before) live-before live-after
                     limit))))))

(defparameter *load-warm-up-per-thread*
  #+ecl 250
  #-ecl 25
  "The letters each thread sends before the first measurement.  On ECL
as many as in the measured run: Boehm's collector expands its heap in
blocks (never given back) as 4 threads allocate, and after a warm-up of
100 letters the run itself could still grow the RSS by ~9 MB, after one
of 1000 it does not.")

;;; ------------------------------------------------------------------
;;; What the servers received

(defun load-subject (text)
  "The value of the Subject header field in the message TEXT (its header
block only), or NIL."
  (let ((end (or (search (format nil "~c~c~c~c" #\Return #\Newline #\Return
                                 #\Newline)
                         text)
                 (search (format nil "~%~%") text)
                 (length text))))
    (loop for start = 0 then (1+ eol)
          for eol = (or (position #\Newline text :start start :end end) end)
          do (let ((line (string-right-trim '(#\Return)
                                            (subseq text start eol))))
               (when (and (> (length line) 9)
                          (string-equal "Subject: " line :end2 9))
                 (return (subseq line 9))))
          while (< eol end))))

(defun load-file-head (pathname &optional (octets 4096))
  "The first OCTETS octets of the file PATHNAME, as a Latin-1 string."
  (with-open-file (in pathname :element-type '(unsigned-byte 8))
    (let* ((buffer (make-array (min octets (file-length in))
                               :element-type '(unsigned-byte 8)))
           (n (read-sequence buffer in)))
      (map 'string #'code-char (subseq buffer 0 n)))))

(defun smtpd-subjects (dir)
  "The subjects of the letters fixtures/smtpd.py saved in DIR, one per
.json file (a .json is written after its complete .eml)."
  (loop for json in (directory (merge-pathnames "*.json" dir))
        collect (load-subject
                 (load-file-head (make-pathname :type "eml"
                                                :defaults json)))))

(defun load-delivery (outcome subjects)
  "Compares what OUTCOME reports sent with SUBJECTS, what the server
received.  Returns the ids reported sent but missing, the ids received
more than once, and the ids received but never reported sent (those
whose outcome was unknown excepted)."
  (let ((received (make-hash-table :test #'equal))
        (sent (make-hash-table :test #'equal))
        (missing '())
        (duplicates '())
        (extra '()))
    (dolist (subject subjects)
      (incf (gethash subject received 0)))
    (dolist (id (load-outcome-sent outcome))
      (setf (gethash id sent) t)
      (when (zerop (gethash id received 0))
        (push id missing)))
    (maphash (lambda (subject count)
               (when (> count 1)
                 (push subject duplicates))
               (unless (or (gethash subject sent)
                           (find-if (lambda (f)
                                      (and (equal subject (first f))
                                           (third f)))
                                    (load-outcome-failures outcome)))
                 (push subject extra)))
             received)
    (values missing duplicates extra)))

(defun wait-for-count (function count &optional (seconds 10))
  "Calls FUNCTION (returning a list) until it returns COUNT elements or
more or SECONDS passed; returns its last value."
  (let ((deadline (+ (get-internal-real-time)
                     (* seconds internal-time-units-per-second))))
    (loop for value = (funcall function)
          when (or (>= (length value) count)
                   (> (get-internal-real-time) deadline))
            return value
          do (sleep 0.1))))

;;; ------------------------------------------------------------------
;;; The light test

(test load-threads
  "4 threads x 250 letters against smtpd.py, 2 over one connection each
and 2 with one connection per letter: all sent, each received exactly
once, nothing else received, no descriptor left open, no memory
growth beyond the tolerance."
  (with-smtpd (d)
    (let ((warm-up (load-send (server d :timeout 30)
                              :per-thread *load-warm-up-per-thread*
                              :tag "warm")))
      (is (null (load-outcome-failures warm-up))
          "warm-up failures: ~s" (load-outcome-failures warm-up))
      (multiple-value-bind (fds-before rss-before live-before)
          (load-measure)
        (let* ((outcome (load-send (server d :timeout 30) :per-thread 250
                                                          :tag "load"))
               (letters (+ (length (load-outcome-sent warm-up))
                           (length (load-outcome-sent outcome)))))
          (multiple-value-bind (fds-after rss-after live-after)
              (load-measure)
            (when (uiop:getenv "SMTP_TEST_VERBOSE")
              (format t "~&load: ~d letters in ~,2f s (~,1f/s); fds ~d -> ~d; ~
RSS ~d -> ~d KiB; heap in use ~a -> ~a KiB~%"
                      (length (load-outcome-sent outcome))
                      (load-outcome-seconds outcome)
                      (/ (length (load-outcome-sent outcome))
                         (max 0.001 (load-outcome-seconds outcome)))
                      (length fds-before) (length fds-after)
                      rss-before rss-after live-before live-after))
            (is (= 1000 (length (load-outcome-sent outcome))))
            (is (null (load-outcome-failures outcome))
                "failures: ~s" (subseq (load-outcome-failures outcome) 0
                                       (min 5 (length (load-outcome-failures
                                                       outcome)))))
            (let ((subjects (wait-for-count (lambda ()
                                              (smtpd-subjects
                                               (fixture-dir d)))
                                            letters))
                  (both (make-load-outcome
                         :sent (append (load-outcome-sent warm-up)
                                       (load-outcome-sent outcome)))))
              (is (= letters (length subjects)) "~d letters received, ~d sent"
                  (length subjects) letters)
              (multiple-value-bind (missing duplicates extra)
                  (load-delivery both subjects)
                (is (null missing) "missing: ~s" missing)
                (is (null duplicates) "received twice: ~s" duplicates)
                (is (null extra) "never reported sent: ~s" extra)))
            (is (= (length fds-before) (length fds-after))
                "file descriptors: ~d before, ~d after; new ~s"
                (length fds-before) (length fds-after)
                (set-difference fds-after fds-before :test #'string=))
            (let ((problems (load-memory-problems
                             letters rss-before rss-after live-before
                             live-after)))
              (is (null problems) "~{~a~^; ~}" problems))))))))
