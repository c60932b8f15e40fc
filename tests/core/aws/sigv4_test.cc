// SigV4 against every aws-c-auth header-signing vector in ../shared/testdata/aws-sigv4/v4: canonical
// request, string to sign, signature and Authorization must match the files byte for byte.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/aws/sigv4.h"

using namespace firelane;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::chrono::system_clock::time_point parseTime(const std::string& iso) {
  std::tm tm{};
  strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

// request.txt: "METHOD path HTTP/1.1", header lines (a line starting with whitespace continues the
// previous value), an empty line, the body.
http::Request parseRequest(const std::string& text) {
  http::Request r;
  size_t eol = text.find('\n');
  std::string first = text.substr(0, eol);
  r.method = first.substr(0, first.find(' '));
  size_t pathStart = first.find(' ') + 1;
  r.path = first.substr(pathStart, first.rfind(" HTTP/") - pathStart);
  size_t pos = eol == std::string::npos ? text.size() : eol + 1;
  while (pos < text.size()) {
    eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty()) {
      if (pos < text.size()) r.body = text.substr(pos);
      break;
    }
    if ((line[0] == ' ' || line[0] == '\t') && !r.headers.empty()) {
      r.headers.back().value += "\n" + line;
      continue;
    }
    size_t colon = line.find(':');
    r.headers.push_back({line.substr(0, colon), line.substr(colon + 1)});
  }
  return r;
}

std::string authorizationOf(const std::string& signedRequest) {
  auto p = signedRequest.find("Authorization:");
  if (p == std::string::npos) return "";
  auto e = signedRequest.find('\n', p);
  return signedRequest.substr(p + 14, e == std::string::npos ? std::string::npos : e - p - 14);
}

}  // namespace

TEST_CASE("sigv4: every header-signing test vector matches", "[aws][sigv4]") {
  const fs::path dir = fs::path(FIRELANE_SOURCE_DIR "/../shared/testdata/aws-sigv4/v4");
  // The vectors live beside the repository (CI clones shared/ next to it). Missing vectors fail.
  REQUIRE(fs::is_directory(dir));
  size_t cases = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_directory()) continue;
    const fs::path d = entry.path();
    if (!fs::exists(d / "header-canonical-request.txt")) continue;
    INFO("vector " << d.filename().string());
    auto ctx = nlohmann::json::parse(slurp(d / "context.json"));
    aws::Credentials creds;
    creds.accessKeyId = ctx["credentials"]["access_key_id"];
    creds.secretAccessKey = ctx["credentials"]["secret_access_key"];
    if (ctx["credentials"].contains("token")) creds.sessionToken = ctx["credentials"]["token"];
    aws::SigningParams params;
    params.region = ctx["region"];
    params.service = ctx["service"];
    params.normalizePath = ctx.value("normalize", true);
    params.signBody = ctx.value("sign_body", false);
    params.omitSessionToken = ctx.value("omit_session_token", false);

    http::Request req = parseRequest(slurp(d / "request.txt"));
    aws::Signer signer;
    aws::Signature sig = signer.sign(req, "", creds, params, parseTime(ctx["timestamp"]));
    CHECK(sig.canonicalRequest == slurp(d / "header-canonical-request.txt"));
    CHECK(sig.stringToSign == slurp(d / "header-string-to-sign.txt"));
    CHECK(sig.signature == slurp(d / "header-signature.txt"));
    CHECK(sig.authorization == authorizationOf(slurp(d / "header-signed-request.txt")));
    bool tokenHeader = false;
    for (const auto& h : req.headers) tokenHeader |= h.name == "X-Amz-Security-Token";
    CHECK(tokenHeader == !creds.sessionToken.empty());
    ++cases;
  }
  CHECK(cases >= 38);
}

TEST_CASE("sigv4: the cached signing key follows the day and the secret", "[aws][sigv4]") {
  aws::Credentials a{"AKIDEXAMPLE", "secretA", "", {}, "test"};
  aws::Credentials b{"AKIDEXAMPLE", "secretB", "", {}, "test"};
  aws::SigningParams params{"us-east-1", "logs", true, false, false};
  auto t0 = std::chrono::system_clock::from_time_t(1'700'000'000);
  auto sign = [&](aws::Signer& s, const aws::Credentials& c, std::chrono::system_clock::time_point t) {
    http::Request r;
    r.body = "{}";
    return s.sign(r, "logs.us-east-1.amazonaws.com", c, params, t).signature;
  };
  aws::Signer cached;
  std::string first = sign(cached, a, t0);
  CHECK(sign(cached, a, t0) == first);
  aws::Signer fresh1, fresh2, fresh3;
  // Another secret or another day must not reuse the cached key.
  CHECK(sign(cached, b, t0) == sign(fresh1, b, t0));
  CHECK(sign(cached, a, t0 + std::chrono::hours(24)) == sign(fresh2, a, t0 + std::chrono::hours(24)));
  CHECK(sign(cached, a, t0) == sign(fresh3, a, t0));
  CHECK(sign(cached, b, t0) != first);
}

TEST_CASE("sigv4: the host argument is signed and not added as a header", "[aws][sigv4]") {
  aws::Credentials c{"AKID", "secret", "tok", {}, "test"};
  http::Request r;
  r.headers.push_back({"Content-Type", "application/x-amz-json-1.1"});
  aws::Signer s;
  auto sig = s.sign(r, "127.0.0.1:4566", c, {"eu-west-1", "logs", true, false, false},
                    std::chrono::system_clock::from_time_t(1'700'000'000));
  CHECK(sig.canonicalRequest.find("\nhost:127.0.0.1:4566\n") != std::string::npos);
  CHECK(sig.authorization.find("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,") !=
        std::string::npos);
  for (const auto& h : r.headers) CHECK(h.name != "Host");
  CHECK(sig.canonicalRequest.find("secret") == std::string::npos);
}
