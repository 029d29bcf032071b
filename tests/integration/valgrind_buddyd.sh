#!/bin/sh
# buddyd under valgrind memcheck, for the integration tests (cmake -DBUDDY_VALGRIND=ON makes
# the tests start this instead of buddyd). An invalid read or write, a use of uninitialised
# memory or a definite leak makes the daemon exit 99, which every test's clean-stop check
# catches; the report goes to the daemon's stderr (the test's log).
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite "${BUDDYD_REAL:?set BUDDYD_REAL to the real buddyd}" "$@"
