# main_keeps_its_sender.gdb - provokes chapter 03's classic hang and shows it
# the way a debugger does.
#
#   gdb -batch -x docs/examples/main_keeps_its_sender.gdb --args PROGRAM ARGS...
#
# It makes the mistake for you: main's own mpsc_sender_drop (the only one
# that runs on thread 1, the main thread) returns at once without dropping
# anything, so the channel never closes.  Then, once main has waited a
# while for the manager to finish (the 20th call of manager_finished), it
# prints every thread's stack, kills the program and quits.
# docs/03-manager-task.md runs it through a report block, so the stacks the
# page shows come from the current code.
set pagination off
set confirm off
set print thread-events off
set print frame-arguments none
set print address off

break mpsc_sender_drop if $_thread == 1
commands
  silent
  return
  continue
end

break manager_finished
ignore 2 20
commands
  silent
  thread apply all bt
  kill
  quit
end

run
