// value.h, text: fixed-length string padding as HDF5 defines it, and the
// UTF-8 check that decides whether a string crosses to JS as UTF-8.
#include <cstring>
#include <string>
#include <vector>

#include "value.h"

namespace h5v::h5 {

std::string fixed_string(const char* p, size_t size, H5T_str_t pad) {
  size_t n = strnlen(p, size);
  if (pad == H5T_STR_SPACEPAD)
    while (n > 0 && p[n - 1] == ' ') --n;
  return std::string(p, n);
}

// One pass validates and, when `out` is given, writes UTF-16 (at most n
// units: a code point never takes more units than bytes), so valid text
// reaches V8 without its own UTF-8 scan and decode after this check.
bool utf8_to_utf16(const char* s, size_t n, char16_t* out, size_t* units) {
  const auto* p = reinterpret_cast<const unsigned char*>(s);
  size_t i = 0, o = 0;
  while (i < n) {
    unsigned c = p[i];
    if (c < 0x80) {
      if (out) out[o] = static_cast<char16_t>(c);
      ++o, ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf)
      len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
      len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
      len = 4, cp = c & 0x07;
    else
      return false;
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    if (out && cp >= 0x10000) {
      out[o++] = static_cast<char16_t>(0xd800 + ((cp - 0x10000) >> 10));
      out[o++] = static_cast<char16_t>(0xdc00 + ((cp - 0x10000) & 0x3ff));
    } else {
      if (out) out[o] = static_cast<char16_t>(cp);
      o += cp >= 0x10000 ? 2 : 1;
    }
    i += len;
  }
  if (units) *units = o;
  return true;
}

bool is_valid_utf8(const std::string& s) { return utf8_to_utf16(s.data(), s.size(), nullptr, nullptr); }

const char16_t* utf16_of(const std::string& s, size_t* units) {
  static thread_local std::vector<char16_t> buf;
  // One huge string must not pin its size for the thread's life: the next
  // ordinary string gives the memory back.
  if (buf.size() > 65536 && s.size() <= 65536) std::vector<char16_t>().swap(buf);
  if (buf.size() < s.size()) buf.resize(s.size());
  return utf8_to_utf16(s.data(), s.size(), buf.data(), units) ? buf.data() : nullptr;
}

}  // namespace h5v::h5
