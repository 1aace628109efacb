#include "thread_pool.h"

#include <cstdlib>
#include <memory>

namespace qb::cpu {

namespace {
thread_local bool t_in_task = false;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}
}  // namespace

ThreadPool::ThreadPool(int threads) {
    if (threads < 1) threads = 1;
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lk(mu_);
        stop_ = true;
        generation_.fetch_add(1);
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
}

// Takes tasks of the job (fn, tasks) until none are left; the last finisher wakes the caller.
// Touches nothing of the job after its last task, so the caller may return as soon as
// remaining_ reaches 0.
void ThreadPool::drain(const std::function<void(int)>& fn, int tasks) {
    t_in_task = true;
    for (int t; (t = next_.fetch_add(1)) < tasks;) {
        fn(t);
        if (remaining_.fetch_sub(1) == 1) {
            std::lock_guard<std::mutex> lk(mu_);
            done_.notify_all();
        }
    }
    t_in_task = false;
}

void ThreadPool::worker_loop() {
    unsigned seen = 0;
    for (;;) {
        // Spin a little (~50 us) for the next job before sleeping: back-to-back kernel calls
        // then start without a futex wake-up.
        for (int i = 0; i < 20000 && generation_.load(std::memory_order_acquire) == seen; ++i) cpu_relax();
        const std::function<void(int)>* fn;
        int tasks;
        {
            // Snapshot the job and mark this worker busy under the same lock the caller
            // publishes under: a job is never replaced while a worker holds its snapshot.
            std::unique_lock<std::mutex> lk(mu_);
            wake_.wait(lk, [&] { return stop_ || generation_.load() != seen; });
            if (stop_) return;
            seen = generation_.load();
            fn = fn_;
            tasks = tasks_;
            busy_.fetch_add(1);
        }
        drain(*fn, tasks);
        busy_.fetch_sub(1, std::memory_order_release);
    }
}

void ThreadPool::run(int tasks, const std::function<void(int)>& fn) {
    if (tasks <= 0) return;
    if (t_in_task || workers_.empty() || tasks == 1) {
        for (int t = 0; t < tasks; ++t) fn(t);
        return;
    }
    std::lock_guard<std::mutex> one(run_mu_);
    {
        // A worker of the previous job may still be leaving drain() with that job's snapshot;
        // publishing now would let it run the old (destroyed) fn on the new indices.
        std::unique_lock<std::mutex> lk(mu_);
        while (busy_.load() != 0) {
            lk.unlock();
            cpu_relax();
            lk.lock();
        }
        fn_ = &fn;
        tasks_ = tasks;
        next_.store(0);
        remaining_.store(tasks);
        generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    drain(fn, tasks);
    for (int i = 0; i < 2000 && remaining_.load(std::memory_order_acquire) != 0; ++i) cpu_relax();
    std::unique_lock<std::mutex> lk(mu_);
    done_.wait(lk, [&] { return remaining_.load() == 0; });
}

namespace {
std::mutex g_mu;
std::unique_ptr<ThreadPool> g_pool;

int default_threads() {
    if (const char* e = std::getenv("QB_THREADS")) {
        const int n = std::atoi(e);
        if (n >= 1 && n <= 1024) return n;
    }
    const unsigned hc = std::thread::hardware_concurrency();
    return hc ? (int)hc : 1;
}
}  // namespace

ThreadPool& global_pool() {
    std::lock_guard<std::mutex> lk(g_mu);
    if (!g_pool) g_pool = std::make_unique<ThreadPool>(default_threads());
    return *g_pool;
}

void set_num_threads(int n) {
    std::lock_guard<std::mutex> lk(g_mu);
    g_pool = std::make_unique<ThreadPool>(n > 0 ? n : default_threads());
}

int num_threads() { return global_pool().size(); }

}  // namespace qb::cpu
