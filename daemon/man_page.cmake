# Makes buddyd.8.scd from buddyd.8.scd.in: @BUDDYD_HELP@ becomes what `buddyd --help` prints,
# as an scdoc literal block (backslashes escaped), so the page and the help cannot disagree.
# Run as: cmake -DBUDDYD=... -DIN=... -DOUT=... -P man_page.cmake
execute_process(COMMAND ${BUDDYD} --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${BUDDYD} --help failed (${rc})")
endif()
string(REPLACE "\\" "\\\\" help "${help}")
file(READ ${IN} page)
string(REPLACE "@BUDDYD_HELP@" "```\n${help}```\n" page "${page}")
file(WRITE ${OUT} "${page}")
