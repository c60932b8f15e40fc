// AWS Signature Version 4 (header signing): canonical request, string to sign, signature and the
// Authorization header. Pure apart from a per-instance signing-key cache; one Signer per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/http/http_client.h"

namespace firelane::aws {

// A set of AWS credentials. `provider` names where they came from (for logs; never the secret).
struct Credentials {
  std::string accessKeyId;
  std::string secretAccessKey;  // secret: never logged
  std::string sessionToken;     // secret: never logged; empty for long-term keys
  // When the credentials stop working; time_point::max() when they do not expire.
  std::chrono::system_clock::time_point expiration = std::chrono::system_clock::time_point::max();
  std::string provider;  // "environment", "profile default", "ecs", "imds", "sts assume-role", ...
  bool empty() const { return accessKeyId.empty() || secretAccessKey.empty(); }
};

struct SigningParams {
  std::string region;
  std::string service;
  bool normalizePath = true;       // remove dot segments and duplicate slashes (every service but S3)
  bool signBody = false;           // add (and sign) x-amz-content-sha256
  bool omitSessionToken = false;   // add X-Amz-Security-Token after signing (not signed)
};

// What signing produced; the canonical request and string to sign are kept for tests. The canonical
// request holds the session token when it is signed: never log it.
struct Signature {
  std::string canonicalRequest;
  std::string stringToSign;
  std::string signature;      // lowercase hex
  std::string authorization;  // the Authorization header value
};

// Lowercase hex SHA-256 of `data`.
std::string sha256Hex(std::string_view data);
// "20150830T123600Z" for a time point (UTC).
std::string amzDate(std::chrono::system_clock::time_point t);
// RFC 3986 percent-encoding of everything but unreserved characters; '/' kept when !encodeSlash.
void uriEncode(std::string& out, std::string_view in, bool encodeSlash);
// The canonical URI of a raw (not yet encoded) path: normalized when asked, then percent-encoded.
std::string canonicalPath(std::string_view path, bool normalize);
// The canonical query string: pairs decoded, re-encoded, sorted by key then value.
std::string canonicalQuery(std::string_view query);

// The Host header value the HTTP client sends for these upstream options.
std::string hostHeader(const http::UpstreamOptions& upstream);

class Signer {
 public:
  // Signs `request` in place: adds X-Amz-Date (and X-Amz-Security-Token, x-amz-content-sha256 as
  // the params say) and Authorization. Every header present is signed, plus `host:<host>` when
  // `host` is not empty (the HTTP client adds the Host header itself: pass what it will send, see
  // hostHeader()). `request.path` may carry a "?query".
  Signature sign(http::Request& request, std::string_view host, const Credentials& creds,
                 const SigningParams& params, std::chrono::system_clock::time_point now);

 private:
  // The derived key of the last (day, region, service, secret): one HMAC instead of five per request.
  std::string keyDate_, keyRegion_, keyService_, keySecretHash_;
  std::string key_;
};

}  // namespace firelane::aws
