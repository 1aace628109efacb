// cmd_bench_cuda.h: the `bench --backend cuda` command (built only with QB_CUDA=ON).
#pragma once

namespace qb::cli {
// argv: the arguments after "bench". Exit status: 0 ok, 1 a kernel disagreed with the CPU
// reference, 2 bad input or no usable GPU.
int cmd_bench_cuda(int argc, char** argv);
}  // namespace qb::cli
