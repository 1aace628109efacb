// The safetensors reader on files written here: good ones (F32 / F16 / BF16, metadata, the
// writer's own output) and broken ones, each of which must fail with a message naming the rule.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>

#include "qformat.h"
#include "safetensors.h"

namespace {

std::string tmp(const std::string& name) { return ::testing::TempDir() + "/qbq_st_" + name; }

// A file from a header text and a data section.
std::string raw(const std::string& name, const std::string& header, const std::string& data, int64_t claimed_len = -1) {
    const std::string path = tmp(name);
    std::ofstream f(path, std::ios::binary);
    const uint64_t n = claimed_len < 0 ? header.size() : (uint64_t)claimed_len;
    for (int i = 0; i < 8; ++i) f.put((char)(n >> (8 * i)));
    f << header << data;
    return path;
}

std::string bytes(size_t n, char c = 0) { return std::string(n, c); }

// Opens and expects failure with `needle` in the message.
void expect_error(const std::string& path, const std::string& needle) {
    qb::st::File f;
    std::string err;
    EXPECT_FALSE(f.open(path, &err)) << path;
    EXPECT_NE(err.find(needle), std::string::npos) << "message: " << err;
    EXPECT_TRUE(f.tensors().empty());
}

TEST(QuantSafetensors, ReadsF32F16Bf16AndMetadata) {
    std::string data;
    const float f32[3] = {1.5f, -2.0f, 0.25f};
    data.append((const char*)f32, 12);
    const uint16_t f16[2] = {qb::f32_to_fp16(3.0f), qb::f32_to_fp16(-0.5f)};
    data.append((const char*)f16, 4);
    const uint16_t bf[2] = {0x4040, 0xBF80};   // 3.0, -1.0
    data.append((const char*)bf, 4);
    const std::string h =
        R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},)"
        R"("b":{"dtype":"F16","shape":[1,2],"data_offsets":[12,16]},"c":{"dtype":"BF16","shape":[2],"data_offsets":[16,20]}})";
    const std::string path = raw("good", h, data);
    qb::st::File f;
    std::string err;
    ASSERT_TRUE(f.open(path, &err)) << err;
    EXPECT_EQ(f.tensors().size(), 3u);
    EXPECT_EQ(f.metadata().at("format"), "pt");
    float out[3];
    ASSERT_TRUE(f.read_floats(*f.find("a"), 0, 3, out, &err));
    EXPECT_EQ(out[1], -2.0f);
    ASSERT_TRUE(f.read_floats(*f.find("b"), 0, 2, out, &err));
    EXPECT_EQ(out[0], 3.0f);
    EXPECT_EQ(out[1], -0.5f);
    ASSERT_TRUE(f.read_floats(*f.find("c"), 0, 2, out, &err));
    EXPECT_EQ(out[0], 3.0f);
    EXPECT_EQ(out[1], -1.0f);
    EXPECT_EQ(f.find("b")->shape, std::vector<int64_t>({1, 2}));
    EXPECT_FALSE(f.read_floats(*f.find("a"), 2, 2, out, &err));   // out of range
}

TEST(QuantSafetensors, WriterRoundTrips) {
    const std::vector<float> w = {1, 2, 3, 4, 5, 6};
    const std::vector<uint8_t> u = {7, 8, 9};
    const std::string path = tmp("written.safetensors");
    std::string err;
    ASSERT_TRUE(qb::st::write(path, {{"w", qb::st::DType::F32, {2, 3}, w.data(), 24}, {"u", qb::st::DType::U8, {3}, u.data(), 3},
                                     {"empty", qb::st::DType::F32, {0, 4}, nullptr, 0}},
                              {{"k", "v"}}, &err))
        << err;
    qb::st::File f;
    ASSERT_TRUE(f.open(path, &err)) << err;
    EXPECT_EQ(f.metadata().at("k"), "v");
    EXPECT_EQ(std::memcmp(f.data(*f.find("u")), u.data(), 3), 0);
    std::vector<float> back(6);
    ASSERT_TRUE(f.read_floats(*f.find("w"), 0, 6, back.data(), &err));
    EXPECT_EQ(back, w);
    EXPECT_EQ(f.find("empty")->numel(), 0);
    // The writer refuses a shape that disagrees with the bytes.
    EXPECT_FALSE(qb::st::write(tmp("bad.safetensors"), {{"w", qb::st::DType::F32, {2, 2}, w.data(), 24}}, {}, &err));
}

TEST(QuantSafetensors, RejectsBrokenFiles) {
    const std::string ok_entry = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
    expect_error(tmp("does_not_exist"), "cannot open");
    {
        const std::string p = tmp("short");
        std::ofstream(p, std::ios::binary) << "abc";
        expect_error(p, "truncated");
    }
    expect_error(raw("hdr_past_eof", "{" + ok_entry + "}", bytes(8), 1000), "runs past the end");
    expect_error(raw("not_json", "{this is not json", bytes(8)), "not valid JSON");
    expect_error(raw("not_object", "[1,2,3]", ""), "not a JSON object");
    expect_error(raw("offsets_past", R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", bytes(8)), "past the data section");
    expect_error(raw("overlap", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", bytes(12)),
                 "overlaps");
    expect_error(raw("hole", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})", bytes(12)),
                 "hole");
    expect_error(raw("trailing", "{" + ok_entry + "}", bytes(12)), "after the last tensor");
    expect_error(raw("dtype", R"({"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", bytes(8)), "unknown dtype 'F33'");
    expect_error(raw("no_dtype", R"({"a":{"shape":[2],"data_offsets":[0,8]}})", bytes(8)), "no dtype");
    expect_error(raw("mismatch", R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", bytes(8)), "needs 12 bytes but data_offsets give 8");
    expect_error(raw("f16_mismatch", R"({"a":{"dtype":"F16","shape":[2,3],"data_offsets":[0,8]}})", bytes(8)), "needs 12 bytes");
    expect_error(raw("huge_dim", R"({"a":{"dtype":"F32","shape":[1099511627777],"data_offsets":[0,8]}})", bytes(8)), "absurd");
    expect_error(raw("overflow", R"({"a":{"dtype":"F32","shape":[1000000000,1000000000,1000000000],"data_offsets":[0,8]}})", bytes(8)), "overflows");
    expect_error(raw("neg_dim", R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", bytes(8)), "non-negative integers");
    expect_error(raw("float_dim", R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", bytes(8)), "non-negative integers");
    expect_error(raw("bad_offsets", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8]}})", bytes(8)), "data_offsets must be");
    expect_error(raw("reversed", R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", bytes(8)), "begin 8 > end 0");
    expect_error(raw("meta", R"({"__metadata__":{"x":1},)" + ok_entry + "}", bytes(8)), "not a string");
    expect_error(raw("rank", R"({"a":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,2],"data_offsets":[0,8]}})", bytes(8)), "rank 9");
    // A truncated copy of a good file: the header now promises more data than there is.
    expect_error(raw("truncated_data", "{" + ok_entry + "}", bytes(5)), "past the data section");
}

TEST(QuantSafetensors, ReadFloatsRejectsOtherDtypes) {
    const std::string path = raw("f64", R"({"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", bytes(8));
    qb::st::File f;
    std::string err;
    ASSERT_TRUE(f.open(path, &err)) << err;   // a valid file ...
    float out;
    EXPECT_FALSE(f.read_floats(*f.find("a"), 0, 1, &out, &err));   // ... but not a weight dtype
    EXPECT_NE(err.find("must be F16, BF16 or F32"), std::string::npos) << err;
}

}  // namespace
