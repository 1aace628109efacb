// cmd_kernels.h: the CPU kernel issue's commands (bench, publish, calibrate). Each parses
// its own flags (argv[1] is the command name) and returns the process exit status: 0 ok,
// 1 a kernel or an upload failed, 2 bad input (one line on stderr says what).
#pragma once

int cmd_bench(int argc, char** argv);
int cmd_publish(int argc, char** argv);
int cmd_calibrate(int argc, char** argv);
