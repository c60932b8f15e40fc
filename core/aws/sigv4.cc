// SigV4 header signing as the AWS IAM guide describes it, checked against aws-c-auth's test vectors.
#include "core/aws/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <ctime>

namespace firelane::aws {
namespace {

constexpr char kHex[] = "0123456789abcdef";

std::string toHex(const unsigned char* d, size_t n) {
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[d[i] >> 4];
    out[2 * i + 1] = kHex[d[i] & 15];
  }
  return out;
}

std::string hmac(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), md, &len);
  return std::string(reinterpret_cast<char*>(md), len);
}

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '~';
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string uriDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size()) {
      int hi = hexValue(in[i + 1]), lo = hexValue(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(in[i]);
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Trims and collapses runs of whitespace (including folded line breaks) into one space.
std::string canonicalValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string sha256Hex(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return toHex(md, sizeof(md));
}

std::string amzDate(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

void uriEncode(std::string& out, std::string_view in, bool encodeSlash) {
  for (unsigned char c : in) {
    if (unreserved(c) || (c == '/' && !encodeSlash)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back("0123456789ABCDEF"[c >> 4]);
      out.push_back("0123456789ABCDEF"[c & 15]);
    }
  }
}

std::string canonicalPath(std::string_view path, bool normalize) {
  if (path.empty()) return "/";
  std::string raw(path);
  if (normalize) {
    // RFC 3986 dot-segment removal, empty segments dropped, trailing slash kept.
    std::vector<std::string_view> segs;
    std::string_view p = path;
    bool trailing = p.back() == '/';
    size_t i = 0;
    while (i <= p.size()) {
      size_t j = p.find('/', i);
      if (j == std::string_view::npos) j = p.size();
      std::string_view seg = p.substr(i, j - i);
      if (seg == "..") {
        if (!segs.empty()) segs.pop_back();
        if (j == p.size()) trailing = true;
      } else if (seg == ".") {
        if (j == p.size()) trailing = true;
      } else if (!seg.empty()) {
        segs.push_back(seg);
      }
      i = j + 1;
    }
    raw = "/";
    for (size_t k = 0; k < segs.size(); ++k) {
      raw.append(segs[k]);
      if (k + 1 < segs.size()) raw.push_back('/');
    }
    if (trailing && !segs.empty()) raw.push_back('/');
  }
  std::string out;
  out.reserve(raw.size() + 16);
  uriEncode(out, raw, false);
  return out;
}

std::string canonicalQuery(std::string_view query) {
  if (query.empty()) return "";
  std::vector<std::pair<std::string, std::string>> pairs;
  size_t i = 0;
  while (i <= query.size()) {
    size_t j = query.find('&', i);
    if (j == std::string_view::npos) j = query.size();
    std::string_view kv = query.substr(i, j - i);
    if (!kv.empty()) {
      size_t eq = kv.find('=');
      std::string k, v;
      uriEncode(k, uriDecode(kv.substr(0, eq)), true);
      if (eq != std::string_view::npos) uriEncode(v, uriDecode(kv.substr(eq + 1)), true);
      pairs.emplace_back(std::move(k), std::move(v));
    }
    i = j + 1;
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [k, v] : pairs) {
    if (!out.empty()) out.push_back('&');
    out.append(k).append("=").append(v);
  }
  return out;
}

std::string hostHeader(const http::UpstreamOptions& o) {
  std::string authority = o.tlsOptions.vhost.empty() ? o.host : o.tlsOptions.vhost;
  bool defaultPort = (o.tls && o.port == 443) || (!o.tls && o.port == 80);
  if (!defaultPort) authority += ":" + std::to_string(o.port);
  return authority;
}

Signature Signer::sign(http::Request& request, std::string_view host, const Credentials& creds,
                       const SigningParams& params, std::chrono::system_clock::time_point now) {
  const std::string date = amzDate(now);
  const std::string day = date.substr(0, 8);
  const bool token = !creds.sessionToken.empty();
  std::string payloadHash = sha256Hex(request.body);

  request.headers.push_back({"X-Amz-Date", date});
  if (params.signBody) request.headers.push_back({"x-amz-content-sha256", payloadHash});
  if (token && !params.omitSessionToken) request.headers.push_back({"X-Amz-Security-Token", creds.sessionToken});

  // Lowercased names, values canonicalized; repeated names joined with ',' in order.
  std::vector<std::pair<std::string, std::string>> headers;
  headers.reserve(request.headers.size() + 1);
  if (!host.empty()) headers.emplace_back("host", std::string(host));
  for (const auto& h : request.headers) {
    std::string name = lower(h.name);
    if (!host.empty() && name == "host") continue;
    headers.emplace_back(std::move(name), canonicalValue(h.value));
  }
  std::stable_sort(headers.begin(), headers.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });

  Signature sig;
  std::string signedHeaders;
  std::string canonicalHeaders;
  for (size_t i = 0; i < headers.size(); ++i) {
    if (i > 0 && headers[i].first == headers[i - 1].first) {
      canonicalHeaders.pop_back();  // '\n'
      canonicalHeaders.append(",").append(headers[i].second).append("\n");
      continue;
    }
    if (!signedHeaders.empty()) signedHeaders.push_back(';');
    signedHeaders.append(headers[i].first);
    canonicalHeaders.append(headers[i].first).append(":").append(headers[i].second).append("\n");
  }

  std::string_view target = request.path;
  std::string_view path = target, query;
  if (auto q = target.find('?'); q != std::string_view::npos) {
    path = target.substr(0, q);
    query = target.substr(q + 1);
  }
  std::string& cr = sig.canonicalRequest;
  cr.reserve(256 + canonicalHeaders.size());
  cr.append(request.method).append("\n");
  cr.append(canonicalPath(path, params.normalizePath)).append("\n");
  cr.append(canonicalQuery(query)).append("\n");
  cr.append(canonicalHeaders).append("\n");
  cr.append(signedHeaders).append("\n");
  cr.append(payloadHash);

  std::string scope = day + "/" + params.region + "/" + params.service + "/aws4_request";
  sig.stringToSign = "AWS4-HMAC-SHA256\n" + date + "\n" + scope + "\n" + sha256Hex(cr);

  // The key changes only with the day, region, service and secret; a hash of the secret identifies
  // it without keeping a second copy of it around.
  std::string secretId = sha256Hex(creds.secretAccessKey);
  if (day != keyDate_ || params.region != keyRegion_ || params.service != keyService_ || secretId != keySecretHash_) {
    std::string k = hmac("AWS4" + creds.secretAccessKey, day);
    k = hmac(k, params.region);
    k = hmac(k, params.service);
    key_ = hmac(k, "aws4_request");
    keyDate_ = day;
    keyRegion_ = params.region;
    keyService_ = params.service;
    keySecretHash_ = std::move(secretId);
  }
  std::string mac = hmac(key_, sig.stringToSign);
  sig.signature = toHex(reinterpret_cast<const unsigned char*>(mac.data()), mac.size());
  sig.authorization = "AWS4-HMAC-SHA256 Credential=" + creds.accessKeyId + "/" + scope +
                      ", SignedHeaders=" + signedHeaders + ", Signature=" + sig.signature;
  request.headers.push_back({"Authorization", sig.authorization});
  if (token && params.omitSessionToken) request.headers.push_back({"X-Amz-Security-Token", creds.sessionToken});
  return sig;
}

}  // namespace firelane::aws
