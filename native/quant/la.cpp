// la.cpp: picks the ISA build of la_impl.cpp (the level the CPU kernels use: detected, capped
// by QB_CPU_ISA / qb::cpu::set_isa_cap) and splits the big products across the qb::cpu pool.
#include "la.h"

#include "cpu_kernels.h"
#include "thread_pool.h"

namespace qb::quant::la {

namespace la_generic { const Ops* table(); }
#if (defined(__x86_64__) || defined(__i386__)) && !defined(QB_LA_GENERIC_ONLY)
namespace la_avx2 { const Ops* table(); }
namespace la_avx512 { const Ops* table(); }
#endif

const Ops& ops() {
#if (defined(__x86_64__) || defined(__i386__)) && !defined(QB_LA_GENERIC_ONLY)
    const cpu::Isa isa = cpu::active_isa();
    if ((int)isa >= (int)cpu::Isa::avx512) return *la_avx512::table();
    if (isa == cpu::Isa::avx2) return *la_avx2::table();
#endif
    return *la_generic::table();
}

const char* isa_name() { return ops().isa; }

#if !((defined(__x86_64__) || defined(__i386__)) && !defined(QB_LA_GENERIC_ONLY))
namespace amx {
bool available() { return false; }
void syrk_bf16(int, int, const float*, int, float*, int) {}
}  // namespace amx
#endif

namespace {

// [0, n) in about four chunks per thread (the pool hands them out dynamically: on a shared
// VM one core is often slower), each a multiple of `align`.
template <class F>
void split(int n, int align, const F& f) {
    cpu::ThreadPool& pool = cpu::global_pool();
    int chunks = pool.size() * 4;
    const int units = (n + align - 1) / align;
    if (chunks > units) chunks = units;
    if (chunks < 1) chunks = 1;
    const int per = (units + chunks - 1) / chunks * align;
    const int tasks = (n + per - 1) / per;
    pool.run(tasks, [&](int t) {
        const int a = t * per, b = a + per < n ? a + per : n;
        f(a, b);
    });
}

}  // namespace

void gemm_abt(int M, int N, int Kd, float alpha, const float* A, int lda, const float* B, int ldb, float beta, float* C, int ldc) {
    const Ops& o = ops();
    split(N, 64, [&](int n0, int n1) {
        o.gemm(M, n1 - n0, Kd, alpha, A, lda, false, B + (size_t)n0 * ldb, ldb, true, beta, C + n0, ldc);
    });
}

void fake_quant(const float* W, int R, int K, int bits, bool has_zero, int group_len, float* out) {
    const Ops& o = ops();
    split(R, 8, [&](int r0, int r1) {
        o.fake_quant_rows(W + (size_t)r0 * K, r1 - r0, K, bits, has_zero, group_len, out + (size_t)r0 * K);
    });
}

}  // namespace qb::quant::la
