// values.h: typed readings of condition values (iam-semantics.md 3.5), shared by both
// evaluators and the validator. Every parser returns nullopt for text that is not a value of
// its type; the operators then treat the comparison as failed.
#ifndef XROLE_POLICY_VALUES_H_
#define XROLE_POLICY_VALUES_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace xrole::policy {

// Decimal numbers: optional sign, digits, optional fraction ("10", "-3", "10.0", ".5" is
// rejected). No exponents, no hex. Compared as long double.
std::optional<long double> ParseNumber(std::string_view text);

// Dates: the W3C ISO 8601 profile (YYYY, YYYY-MM, YYYY-MM-DD, YYYY-MM-DDThh:mmTZD,
// YYYY-MM-DDThh:mm:ssTZD, YYYY-MM-DDThh:mm:ss.sTZD with TZD = Z or +hh:mm/-hh:mm) or an
// integer count of epoch seconds (milliseconds when `epoch_in_milliseconds`). Exactly four
// digits are the year form when `four_digits_are_a_year`, else an epoch count. Returns epoch
// milliseconds, UTC.
std::optional<std::int64_t> ParseDateMillis(std::string_view text,
                                            bool epoch_in_milliseconds = false,
                                            bool four_digits_are_a_year = true);

// "true"/"false", ASCII case-insensitive.
std::optional<bool> ParseBool(std::string_view text);

// Standard base64 (with padding) to bytes.
std::optional<std::string> DecodeBase64(std::string_view text);

struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // v4 uses the first 4
};

struct IpNetwork {
  IpAddress address;  // with host bits cleared
  int prefix = 0;     // 0..32 (v4) or 0..128 (v6)
  bool prefix_given = false;
};

std::optional<IpAddress> ParseIpAddress(std::string_view text);
// "a.b.c.d/n", "a.b.c.d" (/32), IPv6 with or without "/n" (bare: /128).
std::optional<IpNetwork> ParseIpNetwork(std::string_view text);
// v4 never inside a v6 network and vice versa.
bool NetworkContains(const IpNetwork& network, const IpAddress& address);

}  // namespace xrole::policy

#endif  // XROLE_POLICY_VALUES_H_
