// Option-table pieces and helpers every HTTP output shares: the tls.* keys, `header Name Value`
// entries, and the Retry-After of an answer. Outputs keep their own tables; these keep the shared
// keys spelled, documented and parsed one way.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>
#include <vector>

#include "core/common/status.h"
#include "core/http/http_client.h"
#include "core/plugin/options.h"

namespace firelane::http {

// tls.verify, tls.ca_file, tls.crt_file, tls.key_file, tls.vhost (TLS itself stays per output: its
// default differs).
std::vector<OptionSpec> tlsOptionSpecs();
// Copies the tls.* values into `tls` (alpn is left to the client).
void readTlsOptions(const OptionValues& v, net::TlsOptions& tls);

// Every value of the repeatable key `key` as 'Name Value' (the value may contain spaces; spaces after
// the name are skipped). An error names the file:line of the bad entry and the section.
Result<std::vector<Header>> parseHeaderOptions(const OptionValues& v, std::string_view key);

// The Retry-After of an answer in seconds (the HTTP-date form is not used by log intakes).
std::optional<std::chrono::milliseconds> retryAfter(const Response& r);

}  // namespace firelane::http
