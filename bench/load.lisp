;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; load.lisp - the Lisp side of bench/load.sh, the full load run of
;;; issue #6: LOAD_LETTERS letters (10,000) from 4 SBCL threads, two
;;; sending over one WITH-SMTP-CONNECTION each and two with one
;;; SEND-LETTER (one connection) per letter, first against Postfix's
;;; smtp-sink (started by load.sh), then against fixtures/smtpd.py
;;; (aiosmtpd, started here).
;;;
;;; Every letter has a unique id in its Subject.  What the servers got
;;; is read back: smtp-sink's running counters (-c, the number of final
;;; dots it received) and the letters it dumped (-d, one file each), and
;;; smtpd.py's .json/.eml pairs.  Every letter reported sent must be
;;; there exactly once, and nothing else.  File descriptors and RSS are
;;; measured after a warm-up and after the run (after a full GC), and
;;; after each of the LOAD_ROUNDS rounds, so that a leak shows as a
;;; slope; the tolerances are those of tests-lisp/load.lisp.
;;;
;;; Environment: SINK_PORT, SINK_DIR (smtp-sink's dump directory),
;;; SINK_COUNTERS (its standard output), LOAD_LETTERS (10000),
;;; LOAD_THREADS (4), LOAD_ROUNDS (10), LOAD_TARGETS ("sink smtpd").
;;; Prints one block per server; exits 0 only if every check held.

(in-package :cl-user)

(require :asdf)

(defvar *load-root*
  (merge-pathnames "../" (make-pathname :name nil :type nil
                                        :defaults *load-truename*)))

(setf *debugger-hook*
      (lambda (condition hook)
        (declare (ignore hook))
        (format *error-output* "~&load.lisp: unhandled ~a: ~a~%"
                (type-of condition) condition)
        (finish-output *error-output*)
        (uiop:quit 3)))

(let ((*standard-output* (make-broadcast-stream))
      (*error-output* (make-broadcast-stream)))
  (asdf:load-asd (merge-pathnames "smtp.asd" *load-root*))
  (asdf:load-system "smtp/tests"))

(in-package :net.post-office.tests)

(defun env-integer (name default)
  (let ((value (uiop:getenv name)))
    (if (and value (plusp (length value)))
        (parse-integer value)
        default)))

(defvar *ok* t "False once a check failed.")

(defun check (ok format-control &rest arguments)
  "Prints the outcome of one check."
  (format t "  ~:[FAIL~;ok  ~] ~?~%" ok format-control arguments)
  (unless ok (setf *ok* nil))
  (finish-output))

(defun sink-files (dir)
  "All files under DIR's subdirectories (their names have no type)."
  (remove-duplicates (append (directory (merge-pathnames "*/*" dir))
                             (directory (merge-pathnames "*/*.*" dir)))
                     :test #'equal :key #'namestring))

(defun sink-dump-subjects (dir)
  "The subjects of the letters smtp-sink dumped under DIR (-d
DIR/%H%M%S/: one file per letter, one directory per second)."
  (mapcar (lambda (file) (load-subject (load-file-head file)))
          (sink-files dir)))

(defun sink-counter (file)
  "The last mesg=N of smtp-sink's -c counters in FILE, or NIL."
  (let* ((text (map 'string #'code-char (read-file-octets file)))
         (at (search "mesg=" text :from-end t)))
    (and at (parse-integer text :start (+ at 5) :junk-allowed t))))

(defun run-target (name designator subjects-function &key counter-function)
  "The full run against one server: warm-up, rounds, measurements,
delivery check.  SUBJECTS-FUNCTION returns the subjects the server
received; COUNTER-FUNCTION, if given, its own count of letters."
  (let* ((letters (env-integer "LOAD_LETTERS" 10000))
         (threads (env-integer "LOAD_THREADS" 4))
         (rounds (env-integer "LOAD_ROUNDS" 10))
         (per-thread (ceiling letters (* threads rounds)))
         (all (make-load-outcome))
         ;; the ids reported sent during the measured rounds, as bits
         ;; (round, thread, i), allocated before the first measurement
         ;; so that keeping 10,000 id strings does not count as growth
         (sent-bits (make-array (* rounds threads per-thread)
                                :element-type 'bit :initial-element 0))
         (rss-series '())
         (heap-before 0)
         (heap-after 0)
         (seconds 0))
    (format t "~&~a ~s~%" name designator)
    (let ((warm-up (load-send designator :threads threads :per-thread 50
                                         :tag (format nil "~a-warm" name))))
      (setf (load-outcome-sent all) (load-outcome-sent warm-up)
            (load-outcome-failures all) (load-outcome-failures warm-up))
      (format t "  warm-up: ~d letters in ~,2f s~%"
              (length (load-outcome-sent warm-up))
              (load-outcome-seconds warm-up)))
    (multiple-value-bind (fds-before rss-before) (load-measure)
      (setf heap-before (lisp-heap-kb))
      (dotimes (round rounds)
        (let ((outcome (load-send designator
                                  :threads threads :per-thread per-thread
                                  :tag (format nil "~a-r~d" name round))))
          (incf seconds (load-outcome-seconds outcome))
          (dolist (id (load-outcome-sent outcome))
            (destructuring-bind (thread i)
                (mapcar #'parse-integer
                        (last (uiop:split-string id :separator "-") 2))
              (setf (sbit sent-bits (+ (* round threads per-thread)
                                       (* thread per-thread)
                                       i))
                    1)))
          (setf (load-outcome-failures all)
                (append (load-outcome-failures outcome)
                        (load-outcome-failures all)))
          (push (nth-value 1 (load-measure)) rss-series)))
      (multiple-value-bind (fds-after rss-after) (load-measure)
        (setf heap-after (lisp-heap-kb))
        (setf (load-outcome-sent all)
              (append (loop for k below (length sent-bits)
                            when (= 1 (sbit sent-bits k))
                              collect (multiple-value-bind (round rest)
                                          (floor k (* threads per-thread))
                                        (multiple-value-bind (thread i)
                                            (floor rest per-thread)
                                          (load-id (format nil "~a-r~d" name
                                                           round)
                                                   thread i))))
                      (load-outcome-sent all)))
        (let* ((sent (length (load-outcome-sent all)))
               (measured (* rounds threads per-thread))
               (failures (load-outcome-failures all))
               (received (wait-for-count subjects-function sent 30))
               (limit (+ *load-rss-slack-kb*
                         (ceiling (* sent *load-rss-per-letter-bytes*)
                                  1024))))
          (format t "  letters: ~d measured (~d threads, ~d of them over ~
one connection each, ~d rounds), ~d in all with the warm-up~%"
                  measured threads (floor threads 2) rounds sent)
          (format t "  time: ~,2f s, ~,1f letters/s~%" seconds
                  (/ measured (max seconds 0.001)))
          (format t "  reported sent: ~d, failed: ~d~%" sent
                  (length failures))
          (loop for failure in (subseq failures 0 (min 5 (length failures)))
                do (format t "    failure: ~{~a~^ ~}~%" failure))
          (format t "  received (ids read back): ~d~%" (length received))
          (when counter-function
            (format t "  server's own count: ~a~%"
                    (funcall counter-function)))
          (format t "  fds: ~d before, ~d after~%"
                  (length fds-before) (length fds-after))
          (format t "  RSS: ~d KiB before, ~d KiB after (~@d KiB; limit ~
~d KiB)~%" rss-before rss-after (- rss-after rss-before) limit)
          (format t "  RSS after each round (KiB): ~{~d~^ ~}~%"
                  (reverse rss-series))
          (format t "  Lisp heap in use after a full GC: ~d KiB before, ~d KiB ~
after~%" heap-before heap-after)
          (multiple-value-bind (missing duplicates extra)
              (load-delivery all received)
            (check (null failures) "no failures")
            (check (= sent (+ measured (* threads 50)))
                   "~d letters reported sent" sent)
            (check (null missing) "every letter reported sent was received ~
(~d missing~@[: ~{~a~^ ~}~])" (length missing)
                   (subseq missing 0 (min 5 (length missing))))
            (check (null duplicates) "none received twice (~d~@[: ~
~{~a~^ ~}~])" (length duplicates)
                   (subseq duplicates 0 (min 5 (length duplicates))))
            (check (null extra) "nothing received that was not reported ~
sent (~d)" (length extra))
            (check (= sent (length received)) "~d received = ~d sent"
                   (length received) sent)
            (when counter-function
              (check (eql sent (funcall counter-function))
                     "the server's counter says ~a" (funcall counter-function))))
          (check (= (length fds-before) (length fds-after))
                 "no descriptor left open~@[ (new: ~{~a~^ ~})~]"
                 (set-difference fds-after fds-before :test #'string=))
          (check (null (load-memory-problems sent rss-before rss-after
                                             heap-before heap-after))
                 "RSS growth ~@d KiB and Lisp heap growth ~@d KiB within ~
~d KiB each" (- rss-after rss-before) (- heap-after heap-before)
                 limit))))))

(let ((targets (uiop:split-string (or (uiop:getenv "LOAD_TARGETS")
                                      "sink smtpd")
                                  :separator " ")))
  (when (member "sink" targets :test #'string=)
    (let ((port (env-integer "SINK_PORT" nil))
          (dir (uiop:ensure-directory-pathname (uiop:getenv "SINK_DIR")))
          (counters (uiop:getenv "SINK_COUNTERS")))
      (run-target "smtp-sink" (list "127.0.0.1" :port port :timeout 30)
                  (lambda () (sink-dump-subjects dir))
                  :counter-function (lambda () (sink-counter counters)))))
  (when (member "smtpd" targets :test #'string=)
    (with-smtpd (d)
      (run-target "smtpd.py" (server d :timeout 30)
                  (lambda () (smtpd-subjects (fixture-dir d)))))))

(format t "~&load: ~:[FAILED~;all checks passed~]~%" *ok*)
(finish-output)
(uiop:quit (if *ok* 0 1))
