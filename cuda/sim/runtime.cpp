// The SIMT emulator's scheduler (see runtime.h for the model).
//
// Fibers are ucontext contexts on mmap'ed stacks with a guard page below each. glibc's
// swapcontext saves and restores the signal mask with a system call, which bounds the
// speed (docs/cuda.md has the measured numbers); test launches are small, so that is fine.
//
// Errors inside a fiber: fail() records the message, marks the launch aborted and switches
// to the scheduler, which never resumes any fiber of that launch again. Fibers are never
// unwound, so kernel code must not own resources that need destructors (device code
// never does).
#include "cuda/sim/runtime.h"

#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <stdexcept>
#include <vector>

namespace qkern::sim {
namespace {

constexpr int kWarp = 32;
constexpr size_t kStackBytes = 128 * 1024;  // per fiber; kernels keep little on the stack
constexpr size_t kRedZone = 256;            // bytes checked on each side of dynamic smem
constexpr unsigned char kRedZoneByte = 0xA5, kPoisonByte = 0xCD;

enum class State : uint8_t { kRunnable, kAtBarrier, kAtCollective, kExited };

struct PendingCopy {
  void* dst;
  unsigned char bytes[16];
  int n;
  int group;  // commit-group number, or -1 while not committed
};

struct Fiber {
  ucontext_t ctx;
  uint3 tid;
  unsigned linear = 0;
  State state = State::kRunnable;
  // at a collective:
  const CollectiveKind* kind = nullptr;
  uint32_t mask = 0, tag = 0;
  void* data = nullptr;
  // cp.async
  std::vector<PendingCopy> copies;
  int committed_groups = 0;
};

// Stacks for up to 1024 fibers, reserved once per OS thread and reused.
class StackPool {
 public:
  ~StackPool() {
    if (base_) munmap(base_, slot_ * count_);
  }
  void* stack(unsigned i) {
    if (!base_) reserve();
    return static_cast<char*>(base_) + size_t(i) * slot_ + page_;
  }

 private:
  void reserve() {
    page_ = size_t(sysconf(_SC_PAGESIZE));
    slot_ = kStackBytes + page_;
    count_ = 1024;
    base_ = mmap(nullptr, slot_ * count_, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base_ == MAP_FAILED) {
      base_ = nullptr;
      throw std::runtime_error("qkern sim: cannot reserve fiber stacks");
    }
    for (size_t i = 0; i < count_; ++i)  // guard page at the low end of every stack
      mprotect(static_cast<char*>(base_) + i * slot_, page_, PROT_NONE);
  }
  void* base_ = nullptr;
  size_t page_ = 0, slot_ = 0, count_ = 0;
};

struct Scheduler {
  // launch
  LaunchSpec spec{};
  void (*body)(void*) = nullptr;
  void* arg = nullptr;
  // block
  uint3 bid{};
  std::vector<Fiber> fibers;
  unsigned nthreads = 0, current = 0, exited = 0, at_barrier = 0;
  std::vector<unsigned char> smem;  // red zone | dynamic smem | red zone
  ucontext_t main_ctx;
  bool aborted = false;
  std::string error;
  // configuration and counters
  Schedule sched = Schedule::kForward;
  std::mt19937_64 rng{0};
  Stats stats;
  StackPool stacks;
};

thread_local Scheduler tls;
thread_local std::string tls_last_error;

Fiber& cur() { return tls.fibers[tls.current]; }

std::string dim_str(uint3 d) {
  char b[64];
  std::snprintf(b, sizeof b, "(%u,%u,%u)", d.x, d.y, d.z);
  return b;
}

std::string where(const Fiber* f) {
  std::string s = "kernel '" + std::string(tls.spec.kernel) + "' block " + dim_str(tls.bid);
  if (f) s += " thread " + dim_str(f->tid) + " (warp " + std::to_string(f->linear / kWarp) +
              ", lane " + std::to_string(f->linear % kWarp) + ")";
  return s;
}

void to_scheduler() {
  ++tls.stats.switches;
  swapcontext(&cur().ctx, &tls.main_ctx);
}

// Records the first error of the launch; the caller then leaves the fiber for good.
void set_error(const std::string& msg) {
  if (!tls.aborted) {
    tls.aborted = true;
    tls.error = msg;
  }
}

// Also run for kernels without dynamic shared memory: a stray write just past a zero-size
// buffer lands in the red zones too.
void check_red_zones() {
  const unsigned char* lo = tls.smem.data();
  const unsigned char* hi = lo + kRedZone + tls.spec.dyn_smem;
  for (size_t i = 0; i < kRedZone; ++i) {
    if (lo[i] != kRedZoneByte || hi[i] != kRedZoneByte) {
      bool below = lo[i] != kRedZoneByte;
      long off = below ? -long(kRedZone - i) : long(tls.spec.dyn_smem + i);
      set_error("qkern sim: shared-memory out-of-bounds write in " + where(nullptr) +
                ": byte at offset " + std::to_string(off) + " of the dynamic shared memory (" +
                std::to_string(tls.spec.dyn_smem) + " bytes) was modified");
      return;
    }
  }
}

void land_copies(Fiber& f, int allowed_pending) {
  // Groups are numbered 0, 1, ...; wait_group(n) lands every committed group older than
  // the newest n.
  const int limit = f.committed_groups - allowed_pending;
  auto& q = f.copies;
  size_t keep = 0;
  for (size_t i = 0; i < q.size(); ++i) {
    if (q[i].group >= 0 && q[i].group < limit) std::memcpy(q[i].dst, q[i].bytes, size_t(q[i].n));
    else q[keep++] = q[i];
  }
  q.resize(keep);
}

std::string lanes_str(uint32_t m) {
  std::string s;
  for (int l = 0; l < kWarp; ++l)
    if (m >> l & 1u) s += (s.empty() ? "" : ",") + std::to_string(l);
  return s.empty() ? "none" : s;
}

// Lanes that exist in warp w of the current block.
uint32_t warp_lanes(unsigned w) {
  unsigned first = w * kWarp, n = std::min<unsigned>(kWarp, tls.nthreads - first);
  return n == 32 ? 0xFFFFFFFFu : ((1u << n) - 1u);
}

// A fiber that left its body or failed. Checks that nobody waits for it.
void on_exit(Fiber& f) {
  f.state = State::kExited;
  ++tls.exited;
  ++tls.stats.threads;
  if (tls.at_barrier > 0) {
    set_error("qkern sim: __syncthreads not reached by all threads in " + where(&f) +
              ": this thread exited while " + std::to_string(tls.at_barrier) +
              " thread(s) wait at the barrier");
    return;
  }
  unsigned w = f.linear / kWarp, lane = f.linear % kWarp;
  for (unsigned l = 0; l < kWarp; ++l) {
    unsigned i = w * kWarp + l;
    if (i >= tls.nthreads) break;
    const Fiber& g = tls.fibers[i];
    if (g.state == State::kAtCollective && (g.mask >> lane & 1u)) {
      set_error("qkern sim: " + std::string(g.kind->name) + " with mask 0x" +
                [&] { char b[16]; std::snprintf(b, sizeof b, "%08x", g.mask); return std::string(b); }() +
                " not reached by lane " + std::to_string(lane) + " (it exited) in " + where(&f));
      return;
    }
  }
}

void fiber_entry() {
  Fiber& f = cur();
  tls.body(tls.arg);
  on_exit(f);
  ++tls.stats.switches;
  swapcontext(&f.ctx, &tls.main_ctx);  // never resumed
  std::abort();
}

void resume(unsigned i) {
  tls.current = i;
  ++tls.stats.switches;
  swapcontext(&tls.main_ctx, &tls.fibers[i].ctx);
}

std::string describe_waiters() {
  std::string s;
  for (const Fiber& f : tls.fibers) {
    if (f.state == State::kAtBarrier) s += "\n  thread " + std::to_string(f.linear) + ": __syncthreads";
    if (f.state == State::kAtCollective) {
      char b[16];
      std::snprintf(b, sizeof b, "%08x", f.mask);
      s += "\n  thread " + std::to_string(f.linear) + ": " + f.kind->name + " mask 0x" + b;
    }
    if (s.size() > 2000) return s + "\n  ...";
  }
  return s;
}

void run_block(uint3 bid) {
  tls.bid = bid;
  tls.exited = tls.at_barrier = 0;
  ++tls.stats.blocks;
  std::memset(tls.smem.data() + kRedZone, kPoisonByte, tls.spec.dyn_smem);
  const dim3 bd = tls.spec.block;
  for (unsigned i = 0; i < tls.nthreads; ++i) {
    Fiber& f = tls.fibers[i];
    f.tid = uint3{i % bd.x, (i / bd.x) % bd.y, i / (bd.x * bd.y)};
    f.linear = i;
    f.state = State::kRunnable;
    f.kind = nullptr;
    f.copies.clear();
    f.committed_groups = 0;
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = tls.stacks.stack(i);
    f.ctx.uc_stack.ss_size = kStackBytes;
    f.ctx.uc_link = nullptr;
    makecontext(&f.ctx, fiber_entry, 0);
  }
  std::vector<unsigned> order(tls.nthreads);
  for (unsigned i = 0; i < tls.nthreads; ++i) order[i] = i;
  if (tls.sched == Schedule::kReverse) std::reverse(order.begin(), order.end());
  while (!tls.aborted) {
    if (tls.sched == Schedule::kShuffle) std::shuffle(order.begin(), order.end(), tls.rng);
    bool progressed = false;
    for (unsigned i : order) {
      if (tls.fibers[i].state != State::kRunnable) continue;
      progressed = true;
      resume(i);
      if (tls.aborted) return;
    }
    if (tls.exited == tls.nthreads) break;
    if (!progressed) {
      set_error("qkern sim: deadlock in " + where(nullptr) +
                ": no thread can continue; waiting threads:" + describe_waiters());
      return;
    }
  }
  if (!tls.aborted) check_red_zones();
}

}  // namespace

// ---------------------------------------------------------------- configuration

void set_schedule(Schedule s, uint64_t seed) {
  tls.sched = s;
  tls.rng.seed(seed);
}
Schedule schedule() { return tls.sched; }
Stats stats() { return tls.stats; }
void reset_stats() { tls.stats = Stats{}; }
const std::string& last_error() { return tls_last_error; }

ArchLimits arch_limits(int arch) {
  // cudaDevAttrMaxSharedMemoryPerBlockOptin of the GPUs of each arch.
  size_t smem = arch >= 1200 ? 101376   // sm_120: 99 KiB
              : arch >= 1000 ? 232448   // sm_100: 227 KiB
              : arch >= 900 ? 232448    // sm_90: 227 KiB
              : arch >= 860 ? 101376    // sm_86, sm_89: 99 KiB
                            : 166912;   // sm_80: 163 KiB
  return ArchLimits{arch, 1024, smem};
}

// ---------------------------------------------------------------- launch

Status launch(const LaunchSpec& spec, void (*body)(void*), void* arg) {
  tls_last_error.clear();
  const ArchLimits lim = arch_limits(spec.arch);
  const uint64_t threads = uint64_t(spec.block.x) * spec.block.y * spec.block.z;
  std::string bad;
  if (threads == 0 || spec.grid.x == 0 || spec.grid.y == 0 || spec.grid.z == 0)
    bad = "empty grid or block";
  else if (threads > uint64_t(lim.max_threads_per_block) || spec.block.z > 64)
    bad = std::to_string(threads) + " threads per block (block " + dim_str(spec.block) +
          "); the limit is " + std::to_string(lim.max_threads_per_block) + " and 64 in z";
  else if (spec.grid.y > 65535 || spec.grid.z > 65535 || spec.grid.x > 0x7FFFFFFFu)
    bad = "grid " + dim_str(spec.grid) + " exceeds (2^31-1, 65535, 65535)";
  else if (spec.dyn_smem > lim.max_dyn_smem_optin)
    bad = std::to_string(spec.dyn_smem) + " bytes of dynamic shared memory; sm_" +
          std::to_string(spec.arch / 10) + " allows at most " +
          std::to_string(lim.max_dyn_smem_optin);
  if (!bad.empty()) {
    tls_last_error = "qkern sim: launch of kernel '" + std::string(spec.kernel) +
                     "' refused by the emulated sm_" + std::to_string(spec.arch / 10) + ": " + bad;
    return Status::kInvalidArgument;
  }
  if (tls.body != nullptr) {
    tls_last_error = "qkern sim: kernel '" + std::string(spec.kernel) +
                     "' launched from inside a running emulated kernel";
    return Status::kInvalidArgument;
  }

  auto t0 = std::chrono::steady_clock::now();
  tls.spec = spec;
  tls.body = body;
  tls.arg = arg;
  tls.aborted = false;
  tls.error.clear();
  tls.nthreads = unsigned(threads);
  tls.fibers.resize(tls.nthreads);
  tls.smem.assign(spec.dyn_smem + 2 * kRedZone, kRedZoneByte);
  ++tls.stats.launches;
  for (unsigned z = 0; z < spec.grid.z && !tls.aborted; ++z)
    for (unsigned y = 0; y < spec.grid.y && !tls.aborted; ++y)
      for (unsigned x = 0; x < spec.grid.x && !tls.aborted; ++x) run_block(uint3{x, y, z});
  tls.body = nullptr;
  tls.stats.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (tls.aborted) {
    tls_last_error = tls.error;
    return Status::kCudaError;
  }
  return Status::kOk;
}

// ---------------------------------------------------------------- inside a kernel

const uint3& thread_idx() { return cur().tid; }
const uint3& block_idx() { return tls.bid; }
const dim3& block_dim() { return tls.spec.block; }
const dim3& grid_dim() { return tls.spec.grid; }
unsigned lane_id() { return cur().linear % kWarp; }
unsigned char* dynamic_smem() { return tls.smem.data() + kRedZone; }

void fail(const std::string& what) {
  set_error("qkern sim: " + what + " in " + where(&cur()));
  cur().state = State::kExited;  // never resumed
  to_scheduler();
  std::abort();  // unreachable: an aborted launch resumes no fiber
}

void syncthreads() {
  Fiber& f = cur();
  if (tls.exited > 0)
    fail("__syncthreads not reached by all threads (" + std::to_string(tls.exited) +
         " thread(s) of the block have exited)");
  f.state = State::kAtBarrier;
  if (++tls.at_barrier == tls.nthreads) {
    ++tls.stats.barriers;
    tls.at_barrier = 0;
    for (Fiber& g : tls.fibers) g.state = State::kRunnable;
    check_red_zones();
    if (tls.aborted) fail("shared-memory check failed");
  }
  to_scheduler();  // the scheduler picks who continues, in schedule order
}

uint32_t live_lanes() {
  unsigned w = cur().linear / kWarp;
  uint32_t m = 0, exist = warp_lanes(w);
  for (unsigned l = 0; l < kWarp; ++l)
    if ((exist >> l & 1u) && tls.fibers[w * kWarp + l].state != State::kExited) m |= 1u << l;
  return m;
}

void warp_collective(const CollectiveKind& kind, uint32_t mask, uint32_t tag, void* data) {
  Fiber& f = cur();
  const unsigned w = f.linear / kWarp, lane = f.linear % kWarp;
  const uint32_t exist = warp_lanes(w);
  auto hex = [](uint32_t m) { char b[16]; std::snprintf(b, sizeof b, "0x%08x", m); return std::string(b); };
  if (!(mask >> lane & 1u))
    fail(std::string(kind.name) + " called with mask " + hex(mask) + " that omits the calling lane");
  if (mask & ~exist)
    fail(std::string(kind.name) + " mask " + hex(mask) + " names lanes that do not exist in this warp (" +
         lanes_str(mask & ~exist) + ")");
  f.state = State::kAtCollective;
  f.kind = &kind;
  f.mask = mask;
  f.tag = tag;
  f.data = data;
  bool complete = true;
  for (unsigned l = 0; l < kWarp; ++l) {
    if (!(mask >> l & 1u)) continue;
    const Fiber& g = tls.fibers[w * kWarp + l];
    switch (g.state) {
      case State::kRunnable: complete = false; break;
      case State::kExited:
        fail(std::string(kind.name) + " with mask " + hex(mask) + " not reached by lane " +
             std::to_string(l) + " (it exited)");
      case State::kAtBarrier:
        fail(std::string(kind.name) + " with mask " + hex(mask) + ": lane " + std::to_string(l) +
             " waits at __syncthreads instead (divergent collective)");
      case State::kAtCollective:
        if (g.kind != &kind || g.mask != mask || g.tag != tag)
          fail(std::string(kind.name) + " with mask " + hex(mask) + ": lane " + std::to_string(l) +
               " waits at a different collective (" + g.kind->name + ", mask " + hex(g.mask) +
               ", tag " + std::to_string(g.tag) + " vs " + std::to_string(tag) + ")");
        break;
    }
  }
  if (complete) {
    void* datas[kWarp] = {};
    for (unsigned l = 0; l < kWarp; ++l)
      if (mask >> l & 1u) datas[l] = tls.fibers[w * kWarp + l].data;
    ++tls.stats.collectives;
    kind.fn(datas, mask, tag);
    for (unsigned l = 0; l < kWarp; ++l)
      if (mask >> l & 1u) tls.fibers[w * kWarp + l].state = State::kRunnable;
  }
  to_scheduler();
}

void cp_async_issue(void* dst, const void* src, int bytes, int src_bytes) {
  if (bytes != 4 && bytes != 8 && bytes != 16) fail("cp.async of " + std::to_string(bytes) + " bytes");
  if (src_bytes < 0 || src_bytes > bytes) fail("cp.async src-size out of range");
  if ((reinterpret_cast<uintptr_t>(dst) | reinterpret_cast<uintptr_t>(src)) % unsigned(bytes))
    fail("cp.async addresses not aligned to " + std::to_string(bytes) + " bytes");
  PendingCopy c{dst, {}, bytes, -1};
  std::memcpy(c.bytes, src, size_t(src_bytes));  // the rest is zero-filled
  cur().copies.push_back(c);
}

void cp_async_commit() {
  Fiber& f = cur();
  for (PendingCopy& c : f.copies)
    if (c.group < 0) c.group = f.committed_groups;
  ++f.committed_groups;
}

void cp_async_wait(int pending_groups_allowed) { land_copies(cur(), pending_groups_allowed); }

}  // namespace qkern::sim
