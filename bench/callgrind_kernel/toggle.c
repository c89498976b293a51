#include <valgrind/callgrind.h>
void kbench_toggle(void) { CALLGRIND_TOGGLE_COLLECT; }
