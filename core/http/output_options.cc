// Shared option specs and parsing for the HTTP outputs.
#include "core/http/output_options.h"

#include <charconv>

namespace firelane::http {

std::vector<OptionSpec> tlsOptionSpecs() {
  using T = OptionType;
  return {
      {"tls.verify", T::Bool, "on", "verify the server certificate"},
      {"tls.ca_file", T::String, "", "CA bundle (PEM) instead of the system store"},
      {"tls.crt_file", T::String, "", "client certificate (PEM)"},
      {"tls.key_file", T::String, "", "client key (PEM)"},
      {"tls.vhost", T::String, "", "host name for SNI and certificate verification"},
  };
}

void readTlsOptions(const OptionValues& v, net::TlsOptions& tls) {
  tls.verify = v.boolean("tls.verify");
  tls.caFile = std::string(v.str("tls.ca_file"));
  tls.crtFile = std::string(v.str("tls.crt_file"));
  tls.keyFile = std::string(v.str("tls.key_file"));
  tls.vhost = std::string(v.str("tls.vhost"));
}

Result<std::vector<Header>> parseHeaderOptions(const OptionValues& v, std::string_view key) {
  std::vector<Header> out;
  auto all = v.all(key);
  for (size_t i = 0; i < all.size(); ++i) {
    std::string_view h = all[i];
    auto sp = h.find(' ');
    if (sp == std::string_view::npos || sp == 0)
      return Status::error(v.where(key, i) + ": invalid value for '" + std::string(key) + "' in " + v.label() +
                           ": expected 'Name Value'");
    std::string_view value = h.substr(sp + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    out.push_back({std::string(h.substr(0, sp)), std::string(value)});
  }
  return out;
}

std::optional<std::chrono::milliseconds> retryAfter(const Response& r) {
  auto h = r.header("Retry-After");
  if (!h) return std::nullopt;
  int64_t secs = 0;
  auto [p, ec] = std::from_chars(h->data(), h->data() + h->size(), secs);
  if (ec != std::errc() || secs < 0) return std::nullopt;
  return std::chrono::milliseconds(secs * 1000);
}

}  // namespace firelane::http
