#!/bin/sh
# run.sh - run every C test executable given as an argument, with cmocka's
# TAP output, and end with one summary line: "c: N passed, M failed".
# Exit status 0 only when every test passed and every executable ran.
# With --valgrind first, each executable runs under memcheck and any
# error or leak fails it.
wrap=""
if [ "${1:-}" = --valgrind ]; then
	shift
	wrap="valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --child-silent-after-fork=yes --suppressions=$(dirname "$0")/valgrind.supp"
fi
passed=0
failed=0
for t in "$@"; do
	out=$(CMOCKA_MESSAGE_OUTPUT=TAP $wrap "$t" 2>&1)
	status=$?
	printf '%s\n' "$out" | sed "s|^|$(basename "$t"): |"
	p=$(printf '%s\n' "$out" | grep -c '^ok ')
	f=$(printf '%s\n' "$out" | grep -c '^not ok ')
	if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
		# crashed or failed outside a test: count it as one failure
		f=1
		echo "$(basename "$t"): exited with status $status"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
done
echo "c: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
