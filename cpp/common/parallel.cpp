#include "common/parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#include <pthread.h>
#include <vector>

namespace qkern {
namespace {

// qkern's own pool (used where no OpenMP runtime was found, and in forked children).
// Every thread of the pool, the caller included, runs the task of each run() once (the
// task claims chunks of work itself, see ChunkJob). Workers wait for a new job
// generation. Waiting (a worker for the next job, the caller for the workers) first polls
// for kSpin, yielding the core on every poll, and only then sleeps on a condition
// variable: waking a sleeping thread costs tens of microseconds on a VM, as much as a
// whole small GEMV, and LLM decode issues such calls back to back. The yield lets any
// other runnable thread (torch's, say) have the core while we poll.
class ThreadPool {
 public:
  static constexpr auto kSpin = std::chrono::microseconds(200);

  explicit ThreadPool(int n) { resize(n); }
  ~ThreadPool() { stop_workers(); }

  int size() const { return int(workers_.size()) + 1; }

  void resize(int n) {
    std::lock_guard<std::mutex> serial(run_mutex_);  // not while a job runs
    n = std::max(1, n);
    if (n == size()) return;
    stop_workers();
    stopping_ = false;
    // A new worker waits for the generation after the current one, not for any change
    // from 0 (which past jobs made long ago).
    const uint64_t current = generation_.load();
    for (int i = 0; i < n - 1; ++i) workers_.emplace_back([this, current] { worker_loop(current); });
  }

  void run(const std::function<void()>& task) {
    std::lock_guard<std::mutex> serial(run_mutex_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = &task;
      active_.store(int(workers_.size()));
      generation_.fetch_add(1, std::memory_order_release);  // publishes task_
    }
    wake_.notify_all();
    task();
    if (!spin_until([this] { return active_.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, [this] { return active_.load() == 0; });
    }
    task_ = nullptr;
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

  void worker_loop(uint64_t seen) {
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
      (*task_)();
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
  const std::function<void()>* task_ = nullptr;
  std::atomic<int> active_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stopping_{false};
};

// The pool lives behind a pointer so that a forked child (e.g. a DataLoader worker), which
// inherits the pool's state but none of its threads, can drop it and start a fresh one;
// the parent's pool is deliberately leaked in the child (its mutexes may be held).
std::atomic<ThreadPool*> g_pool{nullptr};
std::mutex g_pool_mutex;          // creating the pool
std::atomic<int> g_threads{0};    // 0: hardware concurrency

int configured_threads() {
  const int n = g_threads.load(std::memory_order_relaxed);
  return n > 0 ? n : int(std::max(1u, std::thread::hardware_concurrency()));
}

void register_fork_handlers();

ThreadPool& pool() {
  ThreadPool* p = g_pool.load(std::memory_order_acquire);
  if (p) return *p;
  register_fork_handlers();
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  if (!g_pool.load()) g_pool.store(new ThreadPool(configured_threads()), std::memory_order_release);
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

// In a forked child: no OpenMP runtime (its threads are gone; our pool restarts cleanly)
// and a fresh pool. Registered once, before the first use of either.
void register_fork_handlers() {
  static const bool registered = [] {
    pthread_atfork(nullptr, nullptr, [] {
      g_gomp.store(nullptr);
      g_pool.store(nullptr);
      new (&g_pool_mutex) std::mutex();
    });
    return true;
  }();
  (void)registered;
}

// One parallel_for: every thread of the team runs drain(), which calls fn on chunks
// claimed from `next` until none is left, so uneven chunks balance themselves. The first exception a body throws is kept and rethrown by the caller after all
// threads are done (none may escape into the OpenMP runtime or a pool worker); the rest
// of that thread's chunks are left to the others.
struct ChunkJob {
  const std::function<void(int64_t, int64_t)>* fn;
  int64_t n, step, chunks;
  std::atomic<int64_t> next{0};
  std::mutex error_mutex;
  std::exception_ptr error;

  void drain() {
    in_parallel_region = true;
    try {
      for (int64_t c = next.fetch_add(1); c < chunks; c = next.fetch_add(1))
        (*fn)(c * step, std::min(n, (c + 1) * step));
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
    }
    in_parallel_region = false;
  }
};

void omp_team_body(void* job) { static_cast<ChunkJob*>(job)->drain(); }

}  // namespace

int num_threads() { return configured_threads(); }

void set_num_threads(int n) {
  g_threads.store(n);
  if (g_pool.load()) pool().resize(n);  // else created at that size when first needed
}

void set_openmp_parallel(void* gomp_parallel) {
  register_fork_handlers();
  g_gomp.store(reinterpret_cast<GompParallel>(gomp_parallel));
}

bool uses_openmp() { return g_gomp.load() != nullptr; }

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int threads = num_threads();
  // A few chunks per thread for balance, none smaller than the grain.
  int64_t chunks = std::min<int64_t>((n + grain - 1) / grain, int64_t(threads) * 4);
  if (chunks <= 1 || threads == 1 || in_parallel_region) {
    fn(0, n);
    return;
  }
  ChunkJob job;
  job.fn = &fn, job.n = n, job.step = (n + chunks - 1) / chunks;
  job.chunks = (n + job.step - 1) / job.step;
  if (GompParallel gomp = g_gomp.load()) {
    // Always the full team, even with fewer chunks than threads: libgomp lets the
    // surplus threads of its pool exit when a team is smaller than the last one, and
    // torch's next op would have to create them again.
    gomp(omp_team_body, &job, unsigned(threads), 0);
  } else {
    pool().run([&job] { job.drain(); });
  }
  if (job.error) std::rethrow_exception(job.error);
}

}  // namespace qkern
