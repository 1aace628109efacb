// upload.cpp: the HTTP client side of publish (kept in its own unit: only it includes httplib).
#include <httplib.h>

#include "publish.h"

namespace qb::native {

UploadOutcome upload_results(const std::string& text, const std::string& name, const std::string& url,
                             const std::string& token, int timeout_s) {
    UploadOutcome out;
    std::vector<DataError> errs;
    Results run;
    if (!parse_results(text, name, &run, &errs)) {
        out.error = errs.front().str();
        out.bad_input = true;
        return out;
    }
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
        out.error = "--to must be an http:// or https:// URL, not '" + url + "'";
        out.bad_input = true;
        return out;
    }
    if (token.empty()) {
        out.error = "--token is required with --to";
        out.bad_input = true;
        return out;
    }
    // Split "scheme://host[:port]" from an optional base path.
    const size_t host_start = url.find("://") + 3;
    const size_t slash = url.find('/', host_start);
    const std::string origin = url.substr(0, slash);
    std::string base = slash == std::string::npos ? "" : url.substr(slash);
    while (!base.empty() && base.back() == '/') base.pop_back();
    httplib::Client cli(origin);
    if (!cli.is_valid()) {
        out.error = "cannot use URL '" + url + "'";
        out.bad_input = true;
        return out;
    }
    cli.set_connection_timeout(timeout_s, 0);
    cli.set_read_timeout(timeout_s, 0);
    cli.set_write_timeout(timeout_s, 0);
    const httplib::Headers headers = {{"Authorization", "Bearer " + token}};
    const std::string body = results_json(run);
    const httplib::Result r = cli.Post((base + "/api/results").c_str(), headers, body, "application/json");
    if (!r) {
        out.error = "cannot reach " + origin + ": " + httplib::to_string(r.error());
        return out;
    }
    out.status = r->status;
    out.body = r->body.size() > 2000 ? r->body.substr(0, 2000) + "..." : r->body;
    out.ok = r->status >= 200 && r->status < 300;
    if (!out.ok) out.error = "server answered HTTP " + std::to_string(r->status) + (out.body.empty() ? "" : ": " + out.body);
    return out;
}

}  // namespace qb::native
