#include "common/parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <pthread.h>
#include <vector>

namespace qkern {
namespace {

// Workers wait for a new job generation, then claim chunk indices from an atomic
// counter, so uneven chunks balance themselves. Waiting (a worker for the next job, the
// caller for the workers) first polls for kSpin, yielding the core on every poll, and only
// then sleeps on a condition variable: waking a sleeping thread costs tens of microseconds
// on a VM, as much as a whole small GEMV, and LLM decode issues such calls back to back.
// The yield lets any other runnable thread (torch's, say) have the core while we poll.
class ThreadPool {
 public:
  static constexpr auto kSpin = std::chrono::microseconds(200);

  explicit ThreadPool(int n) { resize(n); }
  ~ThreadPool() { stop_workers(); }

  int size() const { return int(workers_.size()) + 1; }

  void resize(int n) {
    n = std::max(1, n);
    if (n == size()) return;
    stop_workers();
    stopping_ = false;
    for (int i = 0; i < n - 1; ++i) workers_.emplace_back([this] { worker_loop(); });
  }

  void run(int64_t chunks, const std::function<void(int64_t)>& job) {
    std::lock_guard<std::mutex> serial(run_mutex_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &job;
      chunks_ = chunks;
      next_.store(0);
      active_.store(int(workers_.size()));
      generation_.fetch_add(1, std::memory_order_release);  // publishes job_ and chunks_
    }
    wake_.notify_all();
    drain(job, chunks);
    if (!spin_until([this] { return active_.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, [this] { return active_.load() == 0; });
    }
    job_ = nullptr;
  }

 private:
  // Polls ready() for up to kSpin; true once it holds.
  template <class Ready>
  static bool spin_until(Ready ready) {
    const auto deadline = std::chrono::steady_clock::now() + kSpin;
    while (!ready()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::yield();
    }
    return true;
  }

  void drain(const std::function<void(int64_t)>& job, int64_t chunks) {
    for (int64_t c = next_.fetch_add(1); c < chunks; c = next_.fetch_add(1)) job(c);
  }

  void worker_loop() {
    uint64_t seen = 0;
    for (;;) {
      const auto published = [&] {
        return generation_.load(std::memory_order_acquire) != seen || stopping_.load();
      };
      if (!spin_until(published)) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, published);
      }
      if (stopping_.load()) return;
      seen = generation_.load(std::memory_order_acquire);
      drain(*job_, chunks_);
      if (active_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mutex_);  // the caller may be between its check and wait
        done_.notify_one();
      }
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_, run_mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t chunks_ = 0;
  std::atomic<int64_t> next_{0};
  std::atomic<int> active_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stopping_{false};
};

// The pool lives behind a pointer so that a forked child (e.g. a DataLoader worker), which
// inherits the pool's state but none of its threads, can drop it and start a fresh one;
// the parent's pool is deliberately leaked in the child (its mutexes may be held).
std::atomic<ThreadPool*> g_pool{nullptr};
std::mutex g_pool_mutex;
int g_pool_size = 0;  // 0: hardware concurrency

ThreadPool& pool() {
  ThreadPool* p = g_pool.load(std::memory_order_acquire);
  if (p) return *p;
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  if (!g_pool.load()) {
    static bool registered = [] {
      pthread_atfork(nullptr, nullptr, [] { g_pool.store(nullptr); new (&g_pool_mutex) std::mutex(); });
      return true;
    }();
    (void)registered;
    const int n = g_pool_size > 0 ? g_pool_size : int(std::max(1u, std::thread::hardware_concurrency()));
    g_pool.store(new ThreadPool(n), std::memory_order_release);
  }
  return *g_pool.load();
}

thread_local bool in_parallel_region = false;

// The host process's OpenMP runtime, when Python found one (set_openmp_parallel): its
// GOMP_parallel(fn, data, num_threads, flags) runs fn(data) on a team of num_threads
// threads, the caller included, and returns when all are done (the GNU OpenMP ABI of
// `#pragma omp parallel`; LLVM's libomp and Intel's libiomp5 export it too). torch's CPU
// ops run on that runtime, whose threads keep spinning for a while after each op; a pool
// of our own would then compete with them for the cores. Measured (2 vCPU, N = K = 4096
// INT4 GEMV right after a 64 MiB torch add_): 990 us on qkern's pool against 587 us for
// torch's int4 kernel, which runs on the spinning threads.
using GompParallel = void (*)(void (*)(void*), void*, unsigned, unsigned);
std::atomic<GompParallel> g_gomp{nullptr};

struct OmpJob {
  const std::function<void(int64_t, int64_t)>* fn;
  int64_t n, step, chunks;
  std::atomic<int64_t> next{0};
};

void omp_team_body(void* data) {
  OmpJob& job = *static_cast<OmpJob*>(data);
  in_parallel_region = true;
  for (int64_t c = job.next.fetch_add(1); c < job.chunks; c = job.next.fetch_add(1))
    (*job.fn)(c * job.step, std::min(job.n, (c + 1) * job.step));
  in_parallel_region = false;
}

}  // namespace

int num_threads() {
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  return g_pool_size > 0 ? g_pool_size : int(std::max(1u, std::thread::hardware_concurrency()));
}

void set_num_threads(int n) {
  {
    std::lock_guard<std::mutex> lock(g_pool_mutex);
    g_pool_size = n;
  }
  if (g_pool.load()) pool().resize(n);  // else created at that size when first needed
}

void set_openmp_parallel(void* gomp_parallel) {
  static bool registered = [] {
    // A forked child keeps the pointer but not the runtime's threads: use our own pool,
    // which restarts cleanly there.
    pthread_atfork(nullptr, nullptr, [] { g_gomp.store(nullptr); });
    return true;
  }();
  (void)registered;
  g_gomp.store(reinterpret_cast<GompParallel>(gomp_parallel));
}

bool uses_openmp() { return g_gomp.load() != nullptr; }

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  int threads = num_threads();
  // A few chunks per thread for balance, none smaller than the grain.
  int64_t chunks = std::min<int64_t>((n + grain - 1) / grain, int64_t(threads) * 4);
  if (chunks <= 1 || threads == 1 || in_parallel_region) {
    fn(0, n);
    return;
  }
  int64_t step = (n + chunks - 1) / chunks;
  chunks = (n + step - 1) / step;
  if (GompParallel gomp = g_gomp.load()) {
    OmpJob job;
    job.fn = &fn, job.n = n, job.step = step, job.chunks = chunks;
    gomp(omp_team_body, &job, unsigned(std::min<int64_t>(threads, chunks)), 0);
    return;
  }
  pool().run(chunks, [&](int64_t c) {
    in_parallel_region = true;
    fn(c * step, std::min(n, (c + 1) * step));
    in_parallel_region = false;
  });
}

}  // namespace qkern
