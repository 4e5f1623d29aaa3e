// See range_http.h.
#include "range_http.h"

#include <cctype>
#include <cstring>
#include <string>

namespace h5v::h5::http {

namespace {

bool iequals_prefix(const char* s, size_t n, const char* name) {
  size_t k = std::strlen(name);
  if (n < k) return false;
  for (size_t i = 0; i < k; i++)
    if (std::tolower(static_cast<unsigned char>(s[i])) != name[i]) return false;
  return true;
}

// A decimal without sign or spaces, at most 19 digits (fits int64).
bool parse_u64(const char* s, size_t n, uint64_t* out) {
  if (n == 0 || n > 19) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + static_cast<uint64_t>(s[i] - '0');
  }
  *out = v;
  return true;
}

std::string trim(const char* s, size_t n) {
  size_t a = 0, b = n;
  while (a < b && (s[a] == ' ' || s[a] == '\t')) a++;
  while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t')) b--;
  return std::string(s + a, b - a);
}

// The header fields of a 206 answer to a request of bytes [addr, addr+size):
// Content-Length must be `size` and Content-Range must name exactly that
// range; a chunked body is refused. *close_after: the server will close the
// connection after this answer (HTTP/1.0, or Connection: close).
bool check_header_fields(const char* head, size_t line_len, size_t end, uint64_t addr, size_t size, bool* close_after,
                         std::string* why) {
  bool have_length = false, have_range = false;
  *close_after = head[7] == '0';
  uint64_t length = 0;
  size_t pos = line_len + 2;
  while (pos < end - 2) {
    const char* l = head + pos;
    const char* le = static_cast<const char*>(std::memchr(l, '\r', end - pos));
    size_t n = static_cast<size_t>(le - l);
    const char* colon = static_cast<const char*>(std::memchr(l, ':', n));
    if (colon == nullptr) {
      *why = "the block cache sent a malformed header line";
      return false;
    }
    size_t nk = static_cast<size_t>(colon - l);
    std::string value = trim(colon + 1, n - nk - 1);
    if (nk == 14 && iequals_prefix(l, nk, "content-length")) {
      if (have_length || !parse_u64(value.data(), value.size(), &length)) {
        *why = "the block cache sent a bad Content-Length '" + value.substr(0, 40) + "'";
        return false;
      }
      have_length = true;
    } else if (nk == 13 && iequals_prefix(l, nk, "content-range")) {
      std::string want = "bytes " + std::to_string(addr) + "-" + std::to_string(addr + size - 1) + "/";
      if (value.compare(0, want.size(), want) != 0) {
        *why = "the block cache sent Content-Range '" + value.substr(0, 60) + "' for a request of " + want.substr(6) +
               "...";
        return false;
      }
      have_range = true;
    } else if (nk == 17 && iequals_prefix(l, nk, "transfer-encoding")) {
      *why = "the block cache sent a body with Transfer-Encoding '" + value.substr(0, 40) + "'";
      return false;
    } else if (nk == 10 && iequals_prefix(l, nk, "connection")) {
      if (value.size() == 5 && iequals_prefix(value.data(), 5, "close")) *close_after = true;
    }
    pos += n + 2;
  }
  if (!have_length || length != size) {
    *why = "the block cache announced " + (have_length ? std::to_string(length) + " bytes" : "no Content-Length") +
           " for a read of " + std::to_string(size);
    return false;
  }
  if (!have_range) {
    *why = "the block cache's 206 answer has no Content-Range";
    return false;
  }
  return true;
}

}  // namespace

size_t header_end(const char* head, size_t have, size_t from) {
  for (size_t i = from; i + 3 < have; i++)
    if (std::memcmp(head + i, "\r\n\r\n", 4) == 0) return i + 4;
  return 0;
}

bool check_response_head(const char* head, size_t end, uint64_t addr, size_t size, bool* close_after,
                         std::string* why) {
  // Lines end in CRLF and nowhere else: a bare CR or LF would let a field
  // hide inside another line (a "Transfer-Encoding" after a bare LF would
  // otherwise be read as part of the line before it, and ignored).
  for (size_t i = 0; i < end; i++)
    if ((head[i] == '\r') != (i + 1 < end && head[i + 1] == '\n') ||
        (head[i] == '\n' && (i == 0 || head[i - 1] != '\r'))) {
      *why = "the block cache sent a header line that does not end in CRLF";
      return false;
    }
  // Status line: HTTP/1.1 206 ...
  const char* line_end = static_cast<const char*>(std::memchr(head, '\r', end));
  if (line_end == nullptr) {
    *why = "the block cache's answer is not HTTP";
    return false;
  }
  size_t line_len = static_cast<size_t>(line_end - head);
  if (line_len < 12 || std::memcmp(head, "HTTP/1.", 7) != 0 || head[8] != ' ') {
    *why = "the block cache's answer is not HTTP";
    return false;
  }
  uint64_t status = 0;
  if (!parse_u64(head + 9, 3, &status)) {
    *why = "the block cache's answer has no status code";
    return false;
  }
  if (status != 206) {
    *why = "the block cache answered HTTP " + std::to_string(status) + " for bytes " + std::to_string(addr) + "-" +
           std::to_string(addr + size - 1);
    return false;
  }
  return check_header_fields(head, line_len, end, addr, size, close_after, why);
}

}  // namespace h5v::h5::http
