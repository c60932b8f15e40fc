// A minimal blocking HTTP/1.1 client for tests: one request per connection over 127.0.0.1, with a
// deadline; enough to probe the monitoring server the way curl or a Prometheus scraper would.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace firelane::testsupport {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// Sends `method path` to host:port with `Connection: close` and reads until EOF; nullopt on a
// connection error, a malformed answer or when `timeout` passes.
std::optional<HttpResponse> httpRequest(const std::string& host, uint16_t port, const std::string& method,
                                     const std::string& path,
                                     std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
inline std::optional<HttpResponse> httpGet(uint16_t port, const std::string& path) {
  return httpRequest("127.0.0.1", port, "GET", path);
}

// Sends raw bytes and returns everything read until EOF (or the timeout), for malformed requests.
std::optional<std::string> httpRaw(uint16_t port, const std::string& bytes,
                                   std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

}  // namespace firelane::testsupport
