// cmd_publish.cpp: `qbench-native publish [FILE] [--dir data/results] [--to URL --token T]`.
// Validates a results file (FILE, or stdin when FILE is omitted or "-") and merges it into the
// results directory (native/bench/publish.h), or uploads it to a qbench server.
#include <cstdio>
#include <iostream>
#include <iterator>

#include "cli_args.h"
#include "cmd_kernels.h"
#include "file_io.h"
#include "publish.h"
#include "results_json.h"

using namespace qb;

int cmd_publish(int argc, char** argv) {
    cli::Flags f;
    std::string err;
    if (!cli::parse_flags(argc, argv, 2, {"help"}, {"dir", "to", "token", "timeout"}, &f, &err)) return cli::fail(err);
    if (f.has("help")) {
        std::puts("usage: qbench-native publish [FILE|-] [--dir data/results] [--to URL --token T]\n"
                  "  merges a bench results file into DIR (one <run_id>.json per run + index.json, de-duplicated,\n"
                  "  atomic), or with --to uploads it to a qbench server (POST URL/api/results, Bearer token)");
        return 0;
    }
    if (f.positional.size() > 1) return cli::fail("publish takes one results file");
    const std::string file = f.positional.empty() ? "-" : f.positional[0];
    std::string text;
    if (file == "-") {
        text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
        if (text.size() > kResultsMaxBytes) return cli::fail("stdin: larger than 32 MB");
    } else if (!native::read_text_file(file, &text, &err, kResultsMaxBytes)) {
        return cli::fail(err);
    }
    const std::string name = file == "-" ? "stdin" : file;
    if (f.given("to")) {
        int timeout = 10;
        if (f.given("timeout")) timeout = std::atoi(f.get("timeout").c_str());
        const native::UploadOutcome u = native::upload_results(text, name, f.get("to"), f.get("token"), timeout > 0 ? timeout : 10);
        if (!u.ok) {
            std::fprintf(stderr, "qbench-native: upload failed: %s\n", u.error.c_str());
            return u.bad_input ? 2 : 1;
        }
        std::printf("uploaded to %s: HTTP %d %s\n", f.get("to").c_str(), u.status, u.body.c_str());
        return 0;
    }
    if (f.given("token")) return cli::fail("--token goes with --to");
    const std::string dir = f.get("dir", "data/results");
    const native::PublishOutcome o = native::publish_results(text, name, dir);
    if (!o.ok) return cli::fail(o.error + " (nothing written)");
    if (o.added) std::printf("published %s to %s/%s (%d run(s) in %s/index.json)\n", o.run_id.c_str(), dir.c_str(), o.file.c_str(),
                             o.runs_in_index, dir.c_str());
    else std::printf("not added: run %s is already in %s as %s (same run_id or identical environment + measurements)\n",
                     o.run_id.c_str(), dir.c_str(), o.duplicate_of.c_str());
    return 0;
}
