// Typed options of the http output (Fluent Bit's out_http names), its option table and
// registration. Built once at config time; every worker's output reads it.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/codec/compressor.h"
#include "core/codec/record_format.h"
#include "core/http/http_client.h"
#include "core/plugin/registry.h"

namespace firelane::outputs::http_output {

struct HttpOutputConfig {
  std::string instance;
  firelane::http::UpstreamOptions upstream;
  std::shared_ptr<net::TlsContext> tls;  // shared by every worker's pool
  std::string method = "POST";
  std::string uri = "/";
  codec::RecordFormatOptions format;  // Fluent Bit's default: msgpack
  std::string contentType;
  // Every request's headers in Fluent Bit's order (Content-Type, Content-Encoding, Authorization,
  // User-Agent, then the user's `header`s), duplicates already resolved by allow_duplicated_headers.
  // Authorization holds the Basic credentials: a secret, never logged.
  std::vector<firelane::http::Header> headers;
  std::string headerTag;  // header_tag: a header carrying the request's tag (one request per tag)
  bool compress = false;
  codec::CompressorOptions compression;
  bool logResponsePayload = true;
  unsigned maxInFlight = 2;
  size_t maxRequestRecordBytes = 2u << 20;  // msgpack bytes per request, Fluent Bit's chunk size
};

// "Basic <base64(user:password)>" (RFC 7617).
std::string basicAuthorization(std::string_view user, std::string_view password);

// Adds `h` to `headers`; unless `allowDuplicates`, a header of the same name (case-insensitive) is
// removed first, so the last one set wins (Fluent Bit's allow_duplicated_headers false).
void addHeader(std::vector<firelane::http::Header>& headers, firelane::http::Header h, bool allowDuplicates);

void registerPlugin(Registry& registry);

}  // namespace firelane::outputs::http_output
