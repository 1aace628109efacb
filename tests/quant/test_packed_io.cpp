// The packed container (packed_io.h): what quantize --out-dir writes loads back bit for bit,
// and the CPU kernels run the loaded weights: W4A16 / W8A16 output against the reference
// matmul on dequantize_ref, and the whole storage chain against the quantizer's W_hat.
#include <gtest/gtest.h>

#include <cmath>

#include "cpu_kernels.h"
#include "packed_io.h"
#include "quant.h"
#include "quant_fixture.h"
#include "safetensors.h"

namespace {

using qb::quant::Matrix;
using qb::quant::QuantSpec;
using qb::quant::Result;

using qbt::spec;

std::string tmp(const std::string& name) { return ::testing::TempDir() + "/qbq_packed_" + name + ".safetensors"; }

TEST(QuantPackedIo, KernelRunsLoadedWeights) {
    const int N = 40, K = 256, M = 3;
    const Matrix W = qbt::gaussian(N, K, 1, 1.0 / 16);
    const Matrix X = qbt::activations(K, 4, 64, 2);
    const qb::quant::Calibration c = qbt::calib_of(X, 128);
    const Matrix Xq = qbt::gaussian(M, K, 3);
    for (int bits : {4, 3, 2, 8})
        for (bool zero : {false, true}) {
            const QuantSpec s = spec(bits, bits == 8 ? 0 : 64, zero && bits != 8);
            qb::quant::GptqOptions go;
            go.act_order = true;
            for (const Result& r : {qb::quant::quantize_rtn(W, s), qb::quant::quantize_gptq(W, c.H, s, go), qb::quant::quantize_awq(W, c, s, {}),
                                    qb::quant::quantize_quip(W, c.H, s, {})}) {
                ASSERT_TRUE(r.ok()) << r.error;
                const std::string name = std::string(qb::quant::method_name(r.method)) + std::to_string(bits) + (zero ? "z" : "");
                std::string err;
                ASSERT_TRUE(qb::quant::write_packed(tmp(name), r, "layers.0.test", "unit-test", &err)) << err;
                qb::quant::PackedLayer L;
                ASSERT_TRUE(qb::quant::read_packed(tmp(name), &L, &err)) << err;
                EXPECT_EQ(L.method, qb::quant::method_name(r.method));
                EXPECT_EQ(L.layer, "layers.0.test");
                EXPECT_EQ(L.r.packed.q, r.packed.q);
                EXPECT_EQ(L.r.packed.scales, r.packed.scales);
                EXPECT_EQ(L.r.packed.zeros, r.packed.zeros);
                EXPECT_EQ(L.r.perm, r.perm);
                EXPECT_EQ(L.r.input_scale, r.input_scale);
                EXPECT_EQ(L.r.has_transform, r.has_transform);
                // The CPU kernel on the loaded packed matrix vs the reference on dequantize_ref's weights.
                const qb::QuantizedMatrix w = L.r.packed.view();
                Matrix D(N, K);
                ASSERT_TRUE(qb::dequantize_ref(w, D.v.data()));
                std::vector<float> y((size_t)M * N), yref((size_t)M * N);
                const qb::cpu::KernelRun run = qb::cpu::gemm_weight_only(Xq.v.data(), M, w, y.data());
                ASSERT_TRUE(run.ok()) << qb::cpu::status_str(run.status);
                qb::matmul_f32_ref(Xq.v.data(), M, D.v.data(), N, K, yref.data());
                for (int m = 0; m < M; ++m)
                    for (int n = 0; n < N; ++n) {
                        double mag = 0;
                        for (int k = 0; k < K; ++k) mag += std::fabs((double)Xq.at(m, k) * D.at(n, k));
                        ASSERT_NEAR(y[(size_t)m * N + n], yref[(size_t)m * N + n], (K + 4) * 6e-8 * mag + 1e-12)
                            << name << " (" << m << ", " << n << ") on " << run.impl;
                    }
                // The loaded layer, through its storage chain, is the quantizer's W_hat.
                const Matrix yl = qb::quant::layer_forward(L.r, Xq);
                for (int m = 0; m < M; ++m)
                    for (int n = 0; n < N; ++n) {
                        double ref = 0, mag = 0;
                        for (int k = 0; k < K; ++k) {
                            ref += (double)Xq.at(m, k) * r.w_hat.at(n, k);
                            mag += std::fabs((double)Xq.at(m, k) * r.w_hat.at(n, k));
                        }
                        ASSERT_NEAR(yl.at(m, n), ref, 2e-6 * mag + 1e-9) << name;
                    }
            }
        }
}

TEST(QuantPackedIo, RejectsForeignAndInconsistentFiles) {
    const Matrix W = qbt::gaussian(8, 64, 1, 0.1);
    const Result r = qb::quant::quantize_rtn(W, spec(4, 32, true));
    std::string err;
    qb::quant::PackedLayer L;
    // A plain safetensors file is not a packed layer.
    const std::vector<float> w = {1, 2};
    ASSERT_TRUE(qb::st::write(tmp("plain"), {{"w", qb::st::DType::F32, {2}, w.data(), 8}}, {}, &err));
    EXPECT_FALSE(qb::quant::read_packed(tmp("plain"), &L, &err));
    EXPECT_NE(err.find("not a qbench.packed file"), std::string::npos) << err;
    // Metadata that disagrees with the tensors.
    const std::vector<uint8_t> q(8 * 32, 0);
    const std::vector<uint16_t> sc(8 * 2, 0x3C00);
    const std::vector<uint8_t> z(8, 0x88);
    ASSERT_TRUE(qb::st::write(tmp("lying"),
                              {{"qweight", qb::st::DType::U8, {8, 32}, q.data(), q.size()},
                               {"scales", qb::st::DType::F16, {8, 2}, sc.data(), sc.size() * 2},
                               {"qzeros", qb::st::DType::U8, {8}, z.data(), z.size()}},
                              {{"format", "qbench.packed"}, {"version", "1"}, {"method", "rtn"}, {"rows", "8"}, {"cols", "128"},
                               {"bits", "4"}, {"group", "32"}, {"zero_point", "true"}, {"scale_type", "f16"}},
                              &err));
    EXPECT_FALSE(qb::quant::read_packed(tmp("lying"), &L, &err));
    EXPECT_NE(err.find("qweight"), std::string::npos) << err;
}

}  // namespace
