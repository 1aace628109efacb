// publish.h: merging a results file into data/results/ and uploading it to a qbench server.
//
// data/results/ holds one file per run, <run_id>.json (results_json canonical form), and
// index.json listing them ("schema": "qbench.results-index"). publish_results():
//   1. parses and validates the new run (nothing is written if it is invalid);
//   2. reads and validates every run already in the directory (a corrupt existing file stops
//      the publish, untouched, rather than being silently dropped from the index);
//   3. de-duplicates: a run whose run_id is already there, or whose environment +
//      measurements fingerprint equals an existing run's, is not added again;
//   4. writes <run_id>.json atomically, then index.json atomically (rebuilt from the
//      directory, so it can never list a file that is not there; a crash between the two
//      leaves a stale index that the next publish rewrites).
#pragma once
#include <string>
#include <vector>

#include "results_json.h"

namespace qb::native {

struct PublishOutcome {
    bool ok = false;
    bool added = false;              // false with ok: already there (duplicate)
    std::string run_id, file, duplicate_of, error;
    int runs_in_index = 0;
};

// `text` is the run (already read); `name` names it in error messages.
PublishOutcome publish_results(const std::string& text, const std::string& name, const std::string& dir);

// Rewrites <dir>/index.json from the runs in the directory (atomically); the server calls it
// after storing an upload. False (and *err) if a run file is invalid: the index is left as it was.
bool rebuild_results_index(const std::string& dir, int* runs, std::string* err);

struct UploadOutcome {
    bool ok = false;
    bool bad_input = false;          // the file, URL or token was rejected before any request
    int status = 0;                  // HTTP status (0: no response)
    std::string body, error;
};

// POST <url>/api/results with "Authorization: Bearer <token>" (cpp-httplib client; http and,
// where the library was built with OpenSSL, https). The run is validated first.
UploadOutcome upload_results(const std::string& text, const std::string& name, const std::string& url,
                             const std::string& token, int timeout_s = 10);

}  // namespace qb::native
