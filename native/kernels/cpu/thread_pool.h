// thread_pool.h: the small persistent pool the CPU kernels and the bandwidth probe run on.
//
// Why persistent: a decode-sized GEMV (M = 1, 4096 x 4096 INT4) takes ~0.5 ms; creating threads
// per call would cost tens of microseconds of it. Workers spin briefly after each job (a
// kernel call is usually followed by another within microseconds) and then sleep on a
// condition variable, so an idle pool costs no CPU.
//
// Work model: run(tasks, fn) calls fn(t) once for every t in [0, tasks), on the workers and
// the calling thread together, and returns when all are done. Tasks are handed out through
// one atomic counter (dynamic scheduling): on a shared cloud VM one core is often slower than
// the other, and static halves would leave the fast core idle. Calls from inside a task run
// inline (no nesting), and concurrent run() calls from different threads are serialised.
#pragma once
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace qb::cpu {

class ThreadPool {
public:
    explicit ThreadPool(int threads);   // total threads including the caller (>= 1)
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return (int)workers_.size() + 1; }
    void run(int tasks, const std::function<void(int)>& fn);

private:
    void worker_loop();
    void drain(const std::function<void(int)>& fn, int tasks);

    std::vector<std::thread> workers_;
    std::mutex run_mu_;                  // one job at a time
    std::mutex mu_;
    std::condition_variable wake_, done_;
    std::atomic<unsigned> generation_{0};
    std::atomic<int> next_{0}, remaining_{0}, busy_{0};
    int tasks_ = 0;
    const std::function<void(int)>* fn_ = nullptr;
    bool stop_ = false;
};

// The process-wide pool: QB_THREADS (env) threads, else std::thread::hardware_concurrency().
ThreadPool& global_pool();
// Replaces the global pool with one of n threads (n <= 0: the default). Not while a kernel runs.
void set_num_threads(int n);
int num_threads();

}  // namespace qb::cpu
