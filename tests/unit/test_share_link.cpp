// share_link.h: selections <-> "v=1&m=...&q=..." fragments. Round trips, the pinned v1 baseline and
// every kind of broken link (decoding never fails: each problem is reported, the rest still applies).
#include <gtest/gtest.h>

#include <functional>
#include <random>

#include "fixture.h"
#include "share_link.h"

namespace {

using qb::KvType;
using qb::Method;
using qb::Selections;
using qbt::catalog;

template <class T>
const T& pick(std::mt19937& rng, const std::vector<T>& v) {
    return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
}
int uniform(std::mt19937& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }

double random_tokens_per_day(std::mt19937& rng) {
    switch (uniform(rng, 0, 6)) {
        case 0: return 0;
        case 1: return 12345678.9;
        case 2: return 1e13;
        case 3: return (double)uniform(rng, 1, 2000000000);
        case 4: return uniform(rng, 1, 99999999) / 10.0;   // one decimal, like 12345678.9
        case 5: return std::uniform_real_distribution<double>(0, 1e13)(rng);   // all 17 digits
        default: return 10e6;   // the default
    }
}

double random_usd(std::mt19937& rng) {
    switch (uniform(rng, 0, 3)) {
        case 0: return 0;
        case 1: return 2.49;
        case 2: return uniform(rng, 1, 99999) / 100.0;   // cents
        default: return std::uniform_real_distribution<double>(0.001, 1000)(rng);
    }
}

// A random selection that validate() accepts, drawn over every field the link carries.
Selections random_valid(std::mt19937& rng) {
    const qb::Catalog& c = catalog();
    for (int attempt = 0; attempt < 1000; ++attempt) {
        Selections s;
        const qb::ModelArch& m = pick(rng, c.models);
        const qb::Hardware& h = pick(rng, c.hardware);
        s.model = m.id;
        s.hardware = h.id;
        qb::apply_method_defaults(s, (Method)uniform(rng, 0, (int)Method::count - 1));
        if (uniform(rng, 0, 2)) {   // any bits / group / zero the method accepts, not only its defaults
            s.bits = pick(rng, std::vector<int>{2, 3, 4, 8, 16});
            s.group_size = pick(rng, std::vector<int>(std::begin(qb::kGroupChoices), std::end(qb::kGroupChoices)));
            s.zero_point = uniform(rng, 0, 1);
            if (qb::fixed_bits(s.method) && uniform(rng, 0, 1)) s.bits = qb::fixed_bits(s.method);
        }
        s.act_order = uniform(rng, 0, 1);
        s.kv = (KvType)uniform(rng, 0, (int)KvType::count - 1);
        std::vector<int> tp;
        for (int n = 1; n <= h.max_devices; ++n)
            if (m.heads % n == 0) tp.push_back(n);
        s.gpus = pick(rng, tp);
        s.batch = uniform(rng, 0, 3) == 0 ? 1 : uniform(rng, 1, 4096);
        s.prompt_tokens = uniform(rng, 1, m.max_context - 1);
        s.output_tokens = uniform(rng, 1, m.max_context - s.prompt_tokens);
        if (uniform(rng, 0, 2) == 0) { s.prompt_tokens = 512; s.output_tokens = 256; }
        s.input_tokens_per_day = random_tokens_per_day(rng);
        s.output_tokens_per_day = random_tokens_per_day(rng);
        s.usd_per_hour = random_usd(rng);
        s.calib_samples = uniform(rng, 0, 1) ? 128 : uniform(rng, 1, 100000);
        s.calib_tokens = uniform(rng, 0, 1) ? 512 : uniform(rng, 1, 1000000);
        if (uniform(rng, 0, 1)) {
            s.compare_api.clear();
            const int n = uniform(rng, 0, 5);
            for (int i = 0; i < n; ++i) s.compare_api.push_back(pick(rng, c.api_models).id);
        }
        if (qb::validate(c, s).empty()) return s;
    }
    ADD_FAILURE() << "could not draw a valid selection";
    return Selections{};
}

TEST(ShareLink, DefaultSelectionEncodesToJustTheVersion) {
    EXPECT_EQ(qb::encode_link(Selections{}), "v=1");
    const qb::LinkDecode d = qb::decode_link(catalog(), "v=1");
    EXPECT_EQ(d.sel, Selections{});
    EXPECT_TRUE(d.problems.empty()) << qbt::describe(d.problems);
}

TEST(ShareLink, V1BaselineIsPinned) {
    // Version 1 links write only the fields that differ from these defaults, so an old link means
    // something else the day one of them changes. CHANGING ANY VALUE HERE NEEDS A NEW LINK VERSION
    // (kLinkVersion = 2, with v=1 links still decoded against this baseline).
    const Selections s;
    EXPECT_EQ(qb::kLinkVersion, 1);
    EXPECT_EQ(s.model, "llama-2-7b");
    EXPECT_EQ(s.method, Method::gptq);
    EXPECT_EQ(s.bits, 4);
    EXPECT_EQ(s.group_size, 128);
    EXPECT_FALSE(s.zero_point);
    EXPECT_TRUE(s.act_order);
    EXPECT_EQ(s.kv, KvType::fp16);
    EXPECT_EQ(s.hardware, "h100-sxm");
    EXPECT_EQ(s.gpus, 1);
    EXPECT_EQ(s.batch, 1);
    EXPECT_EQ(s.prompt_tokens, 512);
    EXPECT_EQ(s.output_tokens, 256);
    EXPECT_EQ(s.input_tokens_per_day, 10e6);
    EXPECT_EQ(s.output_tokens_per_day, 5e6);
    EXPECT_EQ(s.usd_per_hour, 0);
    EXPECT_EQ(s.calib_samples, 128);
    EXPECT_EQ(s.calib_tokens, 512);
    EXPECT_EQ(s.compare_api, (std::vector<std::string>{"claude-3-5-sonnet", "gpt-4o-mini", "haiku-3.5"}));
}

TEST(ShareLink, EncodesOnlyChangedFields) {
    Selections s;
    s.model = "llama-3.1-8b";
    qb::apply_method_defaults(s, Method::awq);   // awq W4 g128 + zero: the method's own defaults
    s.hardware = "a100-80gb";
    s.batch = 8;
    EXPECT_EQ(qb::encode_link(s), "v=1&m=llama-3.1-8b&q=awq&hw=a100-80gb&bs=8");
    s.zero_point = false;   // differs from awq's default: written
    s.input_tokens_per_day = 12345678.9;
    s.usd_per_hour = 2.49;
    s.compare_api = {"gpt-4o"};
    EXPECT_EQ(qb::encode_link(s), "v=1&m=llama-3.1-8b&q=awq&z=0&hw=a100-80gb&bs=8&ti=12345678.9&usd=2.49&api=gpt-4o");
    // fp8's 8 bits per-channel are its defaults too; a hand-written "q=fp8" means the same.
    Selections f;
    qb::apply_method_defaults(f, Method::fp8);
    EXPECT_EQ(qb::encode_link(f), "v=1&q=fp8");
    EXPECT_EQ(qb::decode_link(catalog(), "v=1&q=fp8").sel, f);
    // INT8 weight-only with groups of 128 is not INT8's default (per-channel): the group is written.
    Selections i8;
    qb::apply_method_defaults(i8, Method::int8);
    i8.group_size = 128;
    ASSERT_TRUE(qb::validate(catalog(), i8).empty());
    EXPECT_EQ(qb::encode_link(i8), "v=1&q=int8&g=128");
}

TEST(ShareLink, PlusInNumbersIsEscaped) {
    // fmt_double writes 1e7 as "1e+07"; in a link '+' reads as a space, so the encoder escapes it.
    Selections s;
    s.output_tokens_per_day = 1e7;
    const std::string link = qb::encode_link(s);
    EXPECT_EQ(link, "v=1&to=1e%2B07");
    const qb::LinkDecode d = qb::decode_link(catalog(), link);
    EXPECT_TRUE(d.problems.empty()) << qbt::describe(d.problems);
    EXPECT_EQ(d.sel.output_tokens_per_day, 1e7);
}

TEST(ShareLink, RandomValidSelectionsRoundTripExactly) {
    std::mt19937 rng(1234567);
    int fractional = 0;
    for (int i = 0; i < 1500; ++i) {
        const Selections s = random_valid(rng);
        const std::string link = qb::encode_link(s);
        const qb::LinkDecode d = qb::decode_link(catalog(), link);
        ASSERT_TRUE(d.problems.empty()) << link << ": " << qbt::describe(d.problems);
        ASSERT_EQ(d.sel, s) << link;
        ASSERT_EQ(qb::encode_link(d.sel), link);
        // The same link behind '#', '?' or a whole URL decodes the same.
        ASSERT_EQ(qb::decode_link(catalog(), "#" + link).sel, s);
        ASSERT_EQ(qb::decode_link(catalog(), "https://example.org/qbench/?x=1#" + link).sel, s);
        fractional += s.input_tokens_per_day != (double)(long long)s.input_tokens_per_day;
    }
    EXPECT_GT(fractional, 50) << "the draw should include fractional tokens per day";
}

TEST(ShareLink, HandPickedRoundTrips) {
    Selections s;
    s.input_tokens_per_day = 12345678.9;
    s.output_tokens_per_day = 0.1;
    s.usd_per_hour = 2.49;
    s.compare_api = {};
    const qb::LinkDecode d = qb::decode_link(catalog(), qb::encode_link(s));
    EXPECT_TRUE(d.problems.empty()) << qbt::describe(d.problems);
    EXPECT_EQ(d.sel, s);
    EXPECT_EQ(d.sel.input_tokens_per_day, 12345678.9);
    EXPECT_EQ(d.sel.usd_per_hour, 2.49);
    EXPECT_TRUE(d.sel.compare_api.empty());
}

// A problem that names `field`: either the selection field or, for a part that is not even a
// key=value pair, the raw part (which starts with the link key).
bool names(const qb::LinkDecode& d, const std::string& field) {
    for (const qb::FieldError& e : d.problems)
        if (e.field == field) return true;
    return false;
}

struct Broken {
    std::string link;
    std::vector<std::string> fields;                // each must be named by a problem
    std::function<void(const Selections&)> keeps;   // the fields the problem does not affect
};

void defaults_kept(const Selections& s) { EXPECT_EQ(s, Selections{}); }

TEST(ShareLink, BrokenLinksDecodeSafely) {
    static const char raw[] = "v=1&bs=4&\x00\xff\x80=\x01\x7f&m=\xc3\xa9&\x1b[2J";
    const std::string binary(raw, sizeof raw - 1);   // with its NUL byte
    ASSERT_EQ(binary.size(), 25u);
    const std::vector<Broken> cases = {
        {"%%%", {"%%%", "v"}, defaults_kept},
        // The value's %-escape is bad: the whole part is reported (it starts with the key, m).
        {"m=%ZZ", {"m=%ZZ", "v"}, defaults_kept},
        {"v=1&m=llama-3.1-8b&m=%ZZ", {"m=%ZZ"}, [](const Selections& s) { EXPECT_EQ(s.model, "llama-3.1-8b"); }},
        {"v=1&zz=1&bs=8", {"zz"}, [](const Selections& s) { EXPECT_EQ(s.batch, 8); }},
        {"v=1&bs=2&bs=3", {"bs"}, [](const Selections& s) { EXPECT_EQ(s.batch, 2); }},
        {"v=1&m=llama-3.1-8b&b=four", {"bits"},
         [](const Selections& s) { EXPECT_EQ(s.model, "llama-3.1-8b"); EXPECT_EQ(s.bits, 4); }},
        {"v=1&m=llama-3.1-8b&bs=99999", {"batch"},
         [](const Selections& s) { EXPECT_EQ(s.model, "llama-3.1-8b"); EXPECT_EQ(s.batch, 1); }},
        {"v=1&m=llama-3.1-8b&bs=zz", {"batch"},
         [](const Selections& s) { EXPECT_EQ(s.model, "llama-3.1-8b"); EXPECT_EQ(s.batch, 1); }},
        {"v=1&m=gpt-9&bs=8", {"model"},
         [](const Selections& s) { EXPECT_EQ(s.model, "llama-2-7b"); EXPECT_EQ(s.batch, 8); }},
        {"v=1&q=foo&hw=a100-80gb", {"method"},
         [](const Selections& s) { EXPECT_EQ(s.method, Method::gptq); EXPECT_EQ(s.hardware, "a100-80gb"); }},
        {"v=1&api=gpt-4o,nope,haiku-3.5&bs=8", {"compare_api"},
         [](const Selections& s) {
             EXPECT_EQ(s.compare_api, (std::vector<std::string>{"gpt-4o", "haiku-3.5"}));
             EXPECT_EQ(s.batch, 8);
         }},
        {"v=2&m=llama-3.1-8b", {"v"}, [](const Selections& s) { EXPECT_EQ(s.model, "llama-3.1-8b"); }},
        {"v=x&m=llama-3.1-8b", {"v"}, [](const Selections& s) { EXPECT_EQ(s.model, "llama-3.1-8b"); }},
        {"m=llama-3.1-8b", {"v"}, [](const Selections& s) { EXPECT_EQ(s.model, "llama-3.1-8b"); }},
        // fp8 alone is fine and so is the A100, together they are not: the method goes back to the
        // default (GPTQ), and the bits and group the link carries (the v1 baseline, W4 g128) stay.
        {"v=1&q=fp8&hw=a100-80gb", {"method"},
         [](const Selections& s) {
             EXPECT_EQ(s.hardware, "a100-80gb");
             EXPECT_EQ(s.method, Method::gptq);
             EXPECT_EQ(s.bits, 4);
             EXPECT_EQ(s.group_size, 128);
         }},
        // 3-bit fp8: the method stays, its width goes back to the format's 8 bits (per-channel).
        {"v=1&q=fp8&b=3&bs=8", {"bits"},
         [](const Selections& s) {
             EXPECT_EQ(s.method, Method::fp8);
             EXPECT_EQ(s.bits, 8);
             EXPECT_EQ(s.group_size, 0);
             EXPECT_EQ(s.batch, 8);
         }},
        // 5 bits parses as an integer but no method takes it: bits back to 4, the model stays.
        {"v=1&m=llama-3.1-8b&b=5", {"bits"},
         [](const Selections& s) { EXPECT_EQ(s.model, "llama-3.1-8b"); EXPECT_EQ(s.bits, 4); }},
        // AWQ has no 2-bit kernel: bits back to 4; the zero point the link gave (none) stays.
        {"v=1&q=awq&b=2&z=0&hw=l4", {"bits"},
         [](const Selections& s) {
             EXPECT_EQ(s.method, Method::awq);
             EXPECT_EQ(s.bits, 4);
             EXPECT_FALSE(s.zero_point);
             EXPECT_EQ(s.hardware, "l4");
         }},
        {"v=1&q=quip&g=128&bs=8", {"group_size"},
         [](const Selections& s) { EXPECT_EQ(s.method, Method::quip); EXPECT_EQ(s.group_size, 0); EXPECT_EQ(s.batch, 8); }},
        // SmolLM2 has 9 heads: 2 devices cannot split them.
        {"v=1&m=smollm2-135m&n=2", {"gpus"},
         [](const Selections& s) { EXPECT_EQ(s.model, "smollm2-135m"); EXPECT_EQ(s.gpus, 1); }},
        // 4000 + 200 tokens exceed Llama-2-7B's 4096.
        {"v=1&pt=4000&ot=200&bs=8", {"prompt_tokens"},
         [](const Selections& s) { EXPECT_EQ(s.prompt_tokens, 512); EXPECT_EQ(s.output_tokens, 256); EXPECT_EQ(s.batch, 8); }},
        {"v=1&ti=-5&to=nan&usd=1e9&bs=8", {"input_tokens_per_day", "output_tokens_per_day", "usd_per_hour"},
         [](const Selections& s) {
             EXPECT_EQ(s.input_tokens_per_day, 10e6);
             EXPECT_EQ(s.output_tokens_per_day, 5e6);
             EXPECT_EQ(s.usd_per_hour, 0);
             EXPECT_EQ(s.batch, 8);
         }},
        {"v=1&z=yes&ao=2&kv=fp4", {"zero_point", "act_order", "kv"}, defaults_kept},
        {"v=1&m=llama-3.1-8b&" + std::string(10000, 'a'), {"link"}, defaults_kept},
        {binary, {}, [](const Selections& s) { EXPECT_EQ(s.batch, 4); }},
    };
    for (const Broken& b : cases) {
        SCOPED_TRACE("link: " + b.link.substr(0, 80));
        const qb::LinkDecode d = qb::decode_link(catalog(), b.link);
        EXPECT_FALSE(d.problems.empty());
        for (const std::string& f : b.fields) EXPECT_TRUE(names(d, f)) << "no problem names '" << f << "': " << qbt::describe(d.problems);
        for (const qb::FieldError& e : d.problems) {
            EXPECT_FALSE(e.field.empty());
            EXPECT_FALSE(e.reason.empty());
            EXPECT_LE(e.field.size(), 64u) << "fields are clipped";
        }
        EXPECT_TRUE(qb::validate(catalog(), d.sel).empty()) << qbt::describe(qb::validate(catalog(), d.sel));
        b.keeps(d.sel);
    }
}

TEST(ShareLink, EmptyLinksAreTheDefaultsWithoutComplaint) {
    // No fragment at all (a page opened without a link) is not a broken link: the defaults, silently.
    for (const char* l : {"", "#", "?", "https://example.org/qbench/#", "https://example.org/qbench/?"}) {
        const qb::LinkDecode d = qb::decode_link(catalog(), l);
        EXPECT_EQ(d.sel, Selections{}) << l;
        EXPECT_TRUE(d.problems.empty()) << l << ": " << qbt::describe(d.problems);
    }
}

TEST(ShareLink, WholeUrlUsesTheFragment) {
    const qb::LinkDecode d = qb::decode_link(catalog(), "https://x/y?z#v=1&m=llama-3.1-8b");
    EXPECT_TRUE(d.problems.empty()) << qbt::describe(d.problems);
    EXPECT_EQ(d.sel.model, "llama-3.1-8b");
    Selections want;
    want.model = "llama-3.1-8b";
    EXPECT_EQ(d.sel, want);
}

TEST(ShareLink, PercentEscapesAndEmptyParts) {
    // %2D is '-', %2C ',': escaped ids decode; stray '&&' parts are skipped.
    const qb::LinkDecode d = qb::decode_link(catalog(), "v=1&&m=llama%2D3.1%2D8b&api=gpt-4o%2Chaiku-3.5&");
    EXPECT_TRUE(d.problems.empty()) << qbt::describe(d.problems);
    EXPECT_EQ(d.sel.model, "llama-3.1-8b");
    EXPECT_EQ(d.sel.compare_api, (std::vector<std::string>{"gpt-4o", "haiku-3.5"}));
    // A truncated escape at the very end.
    const qb::LinkDecode t = qb::decode_link(catalog(), "v=1&bs=8&m=llama%2");
    EXPECT_FALSE(t.problems.empty());
    EXPECT_EQ(t.sel.batch, 8);
    EXPECT_EQ(t.sel.model, "llama-2-7b");
}

TEST(ShareLink, FuzzedLinksAlwaysGiveAValidSelection) {
    // Random bytes, and valid links with random bytes flipped, inserted or cut: never a crash (ASan
    // and UBSan watch), always a selection validate() accepts.
    std::mt19937 rng(99);
    const std::string alphabet = "v=&1%#?,.-abcdefgmnoqstuwxyz0123456789+ \x01\xff";
    for (int i = 0; i < 2000; ++i) {
        std::string link;
        if (i % 2) {
            link = qb::encode_link(random_valid(rng));
            const int edits = uniform(rng, 1, 4);
            for (int e = 0; e < edits && !link.empty(); ++e) {
                const size_t at = (size_t)uniform(rng, 0, (int)link.size() - 1);
                const char ch = alphabet[(size_t)uniform(rng, 0, (int)alphabet.size() - 1)];
                switch (uniform(rng, 0, 2)) {
                    case 0: link[at] = ch; break;
                    case 1: link.insert(link.begin() + (long)at, ch); break;
                    default: link.erase(at, (size_t)uniform(rng, 1, 5)); break;
                }
            }
        } else {
            const int n = uniform(rng, 0, 60);
            for (int k = 0; k < n; ++k) link.push_back((char)uniform(rng, 0, 255));
        }
        const qb::LinkDecode d = qb::decode_link(catalog(), link);
        ASSERT_TRUE(qb::validate(catalog(), d.sel).empty()) << link << " -> " << qbt::describe(qb::validate(catalog(), d.sel));
        // Whatever was decoded re-encodes to a link that decodes cleanly to the same selection.
        const qb::LinkDecode again = qb::decode_link(catalog(), qb::encode_link(d.sel));
        ASSERT_TRUE(again.problems.empty()) << qbt::describe(again.problems);
        ASSERT_EQ(again.sel, d.sel);
    }
}

}  // namespace
