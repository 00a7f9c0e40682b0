#include "policy/values.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <limits>
#include <system_error>

namespace xrole::policy {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool AllDigits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

// Reads exactly text.size() digits as a non-negative number (text is at most 9 digits).
std::optional<int> ReadFixedDigits(std::string_view text) {
  if (!AllDigits(text)) return std::nullopt;
  int value = 0;
  for (char c : text) value = value * 10 + (c - '0');
  return value;
}

bool IsLeapYear(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(std::int64_t year, int month) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date (month 1..12, day 1..31). Counts in
// 400-year eras of 146097 days, with years starting on March 1 so the leap day comes last.
std::int64_t DaysFromCivil(std::int64_t year, int month, int day) {
  const std::int64_t y = month <= 2 ? year - 1 : year;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t year_of_era = y - era * 400;                               // [0, 399]
  const std::int64_t month_from_march = month > 2 ? month - 3 : month + 9;      // [0, 11]
  const std::int64_t day_of_year = (153 * month_from_march + 2) / 5 + day - 1;  // [0, 365]
  const std::int64_t day_of_era =
      year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;  // [0, 146096]
  return era * 146097 + day_of_era - 719468;  // 719468: days from 0000-03-01 to 1970-01-01
}

constexpr std::int64_t kMillisPerSecond = 1000;
constexpr std::int64_t kMillisPerMinute = 60 * kMillisPerSecond;
constexpr std::int64_t kMillisPerHour = 60 * kMillisPerMinute;
constexpr std::int64_t kMillisPerDay = 24 * kMillisPerHour;

std::optional<std::int64_t> ParseEpoch(std::string_view text, bool in_milliseconds) {
  std::int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  if (in_milliseconds) return value;
  constexpr std::int64_t kLimit = std::numeric_limits<std::int64_t>::max() / kMillisPerSecond;
  if (value > kLimit || value < -kLimit) return std::nullopt;
  return value * kMillisPerSecond;
}

// "Z", "+hh:mm" or "-hh:mm" to an offset east of UTC in milliseconds.
std::optional<std::int64_t> ParseZone(std::string_view text) {
  if (text == "Z") return 0;
  if (text.size() != 6 || (text[0] != '+' && text[0] != '-') || text[3] != ':') {
    return std::nullopt;
  }
  const auto hours = ReadFixedDigits(text.substr(1, 2));
  const auto minutes = ReadFixedDigits(text.substr(4, 2));
  if (!hours || !minutes || *hours > 23 || *minutes > 59) return std::nullopt;
  const std::int64_t offset = *hours * kMillisPerHour + *minutes * kMillisPerMinute;
  return text[0] == '-' ? -offset : offset;
}

std::optional<std::int64_t> ParseIsoDate(std::string_view text) {
  // YYYY
  const auto year = ReadFixedDigits(text.substr(0, 4));
  if (text.size() < 4 || !year) return std::nullopt;
  int month = 1;
  int day = 1;
  std::size_t pos = 4;
  if (pos < text.size()) {  // -MM
    if (text[pos] != '-' || text.size() < pos + 3) return std::nullopt;
    const auto m = ReadFixedDigits(text.substr(pos + 1, 2));
    if (!m || *m < 1 || *m > 12) return std::nullopt;
    month = *m;
    pos += 3;
  }
  if (pos < text.size()) {  // -DD
    if (text[pos] != '-' || text.size() < pos + 3) return std::nullopt;
    const auto d = ReadFixedDigits(text.substr(pos + 1, 2));
    if (!d || *d < 1 || *d > DaysInMonth(*year, month)) return std::nullopt;
    day = *d;
    pos += 3;
  }
  std::int64_t millis = DaysFromCivil(*year, month, day) * kMillisPerDay;
  if (pos == text.size()) return millis;
  if (pos != 10) return std::nullopt;  // a time needs the full date

  // Thh:mm[:ss[.s+]]TZD
  if (text[pos] != 'T' || text.size() < pos + 6 || text[pos + 3] != ':') return std::nullopt;
  const auto hour = ReadFixedDigits(text.substr(pos + 1, 2));
  const auto minute = ReadFixedDigits(text.substr(pos + 4, 2));
  if (!hour || !minute || *hour > 23 || *minute > 59) return std::nullopt;
  millis += *hour * kMillisPerHour + *minute * kMillisPerMinute;
  pos += 6;
  if (pos < text.size() && text[pos] == ':') {
    if (text.size() < pos + 3) return std::nullopt;
    const auto second = ReadFixedDigits(text.substr(pos + 1, 2));
    if (!second || *second > 59) return std::nullopt;
    millis += *second * kMillisPerSecond;
    pos += 3;
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      const std::size_t digits_start = pos;
      std::int64_t fraction = 0;
      while (pos < text.size() && IsDigit(text[pos])) {
        if (pos - digits_start < 3) fraction = fraction * 10 + (text[pos] - '0');
        ++pos;
      }
      const std::size_t digits = pos - digits_start;
      if (digits == 0) return std::nullopt;
      for (std::size_t i = digits; i < 3; ++i) fraction *= 10;
      millis += fraction;  // sub-millisecond digits are truncated
    }
  }
  const auto zone = ParseZone(text.substr(pos));
  if (!zone) return std::nullopt;
  return millis - *zone;
}

std::optional<IpAddress> ParseIpv4(std::string_view text) {
  IpAddress address;
  std::size_t pos = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (pos >= text.size() || text[pos] != '.') return std::nullopt;
      ++pos;
    }
    const std::size_t start = pos;
    while (pos < text.size() && IsDigit(text[pos]) && pos - start < 4) ++pos;
    const std::string_view digits = text.substr(start, pos - start);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    if (digits.size() > 1 && digits[0] == '0') return std::nullopt;  // no octal look-alikes
    const auto value = ReadFixedDigits(digits);
    if (!value || *value > 255) return std::nullopt;
    address.bytes[static_cast<std::size_t>(part)] = static_cast<std::uint8_t>(*value);
  }
  if (pos != text.size()) return std::nullopt;
  return address;
}

std::optional<IpAddress> ParseIpv6(std::string_view text) {
  // The longest text form is 45 characters (eight groups, the last two as dotted quad).
  constexpr std::size_t kMaxText = 45;
  if (text.size() > kMaxText) return std::nullopt;
  for (char c : text) {
    const bool ok =
        IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
    if (!ok) return std::nullopt;
  }
  char buffer[kMaxText + 1];
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  IpAddress address;
  address.v6 = true;
  if (inet_pton(AF_INET6, buffer, address.bytes.data()) != 1) return std::nullopt;
  return address;
}

int DecodeBase64Char(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (IsDigit(c)) return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::optional<long double> ParseNumber(std::string_view text) {
  bool negative = false;
  std::string_view body = text;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  const std::size_t dot = body.find('.');
  const std::string_view integer = body.substr(0, dot);
  if (!AllDigits(integer)) return std::nullopt;
  if (dot != std::string_view::npos && !AllDigits(body.substr(dot + 1))) return std::nullopt;
  long double value = 0;
  const char* end = body.data() + body.size();
  auto [ptr, ec] = std::from_chars(body.data(), end, value, std::chars_format::fixed);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return negative ? -value : value;
}

std::optional<std::int64_t> ParseDateMillis(std::string_view text, bool epoch_in_milliseconds,
                                            bool four_digits_are_a_year) {
  if (text.empty()) return std::nullopt;
  const bool signed_number = text[0] == '-' && AllDigits(text.substr(1));
  // NOTE(prim): exactly four digits is the W3C year form ("2030"), not 2030 epoch seconds.
  if (signed_number || (AllDigits(text) && (text.size() != 4 || !four_digits_are_a_year))) {
    return ParseEpoch(text, epoch_in_milliseconds);
  }
  return ParseIsoDate(text);
}

std::optional<bool> ParseBool(std::string_view text) {
  auto equals_folded = [&](std::string_view word) {
    if (text.size() != word.size()) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
      char c = text[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != word[i]) return false;
    }
    return true;
  };
  if (equals_folded("true")) return true;
  if (equals_folded("false")) return false;
  return std::nullopt;
}

std::optional<std::string> DecodeBase64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') ++padding;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last_quad = i + 4 == text.size();
    const std::size_t used = last_quad ? 4 - padding : 4;
    std::uint32_t bits = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      int v = 0;
      if (j < used) {
        v = DecodeBase64Char(text[i + j]);
        if (v < 0) return std::nullopt;
      }
      bits = (bits << 6) | static_cast<std::uint32_t>(v);
    }
    out.push_back(static_cast<char>((bits >> 16) & 0xff));
    if (used >= 3) out.push_back(static_cast<char>((bits >> 8) & 0xff));
    if (used >= 4) out.push_back(static_cast<char>(bits & 0xff));
  }
  return out;
}

std::optional<IpAddress> ParseIpAddress(std::string_view text) {
  if (text.find(':') != std::string_view::npos) return ParseIpv6(text);
  return ParseIpv4(text);
}

std::optional<IpNetwork> ParseIpNetwork(std::string_view text) {
  const std::size_t slash = text.find('/');
  const auto address = ParseIpAddress(text.substr(0, slash));
  if (!address) return std::nullopt;
  IpNetwork network;
  network.address = *address;
  const int max_prefix = address->v6 ? 128 : 32;
  network.prefix = max_prefix;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    const auto prefix = ReadFixedDigits(digits);
    if (!prefix || *prefix > max_prefix) return std::nullopt;
    network.prefix = *prefix;
    network.prefix_given = true;
  }
  const std::size_t bytes = address->v6 ? 16 : 4;
  for (std::size_t i = 0; i < bytes; ++i) {
    const int bit_start = static_cast<int>(i) * 8;
    const int keep = network.prefix - bit_start;  // bits of this byte inside the prefix
    if (keep >= 8) continue;
    const unsigned mask = keep <= 0 ? 0u : (0xffu << (8 - keep)) & 0xffu;
    network.address.bytes[i] = static_cast<std::uint8_t>(network.address.bytes[i] & mask);
  }
  return network;
}

bool NetworkContains(const IpNetwork& network, const IpAddress& address) {
  if (network.address.v6 != address.v6) return false;
  int remaining = network.prefix;
  for (std::size_t i = 0; remaining > 0; ++i, remaining -= 8) {
    const unsigned mask = remaining >= 8 ? 0xffu : (0xffu << (8 - remaining)) & 0xffu;
    if ((network.address.bytes[i] & mask) != (address.bytes[i] & mask)) return false;
  }
  return true;
}

}  // namespace xrole::policy
