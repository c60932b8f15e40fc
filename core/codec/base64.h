// Base64 (RFC 4648, standard alphabet, padded): forward chunk ids and salts, HTTP Basic auth.
#pragma once

#include <string>
#include <string_view>

namespace firelane::codec {

std::string base64(std::string_view bytes);

}  // namespace firelane::codec
