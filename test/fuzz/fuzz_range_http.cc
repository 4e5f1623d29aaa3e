// libFuzzer harness for the range driver's response parser (native/h5/range_http.h):
// arbitrary bytes as the head of the block cache's answer to a ranged GET.
// Input: 8 bytes of the requested offset, 1 byte for the requested size
// (1..256, so seeds can name it), then the response bytes, copied into an
// exactly-sized buffer (ASan sees any read past them), cut at kMaxHeader as
// the driver does. Checks: no crash or sanitizer report; a refusal always says
// why; an acceptance is an HTTP/1.x 206 that names the requested range in a
// Content-Range and the requested size in a Content-Length, and header_end
// agrees with a plain search.
// Seeds (test/fuzz/corpus/fuzz_range_http/): seed0-3 are hand-written answers
// (good, HTTP/1.0 with Connection: close, a 500, a chunked body);
// finding-bare-lf is this harness's first finding (a Transfer-Encoding hidden
// after a bare LF), fixed in range_http.cc and tested in range-driver.test.ts.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "h5/range_http.h"

using namespace h5v::h5::http;

static bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

static std::string lower(const char* s, size_t n) {
  std::string out(s, n);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 9) return 0;
  uint64_t addr = 0;
  std::memcpy(&addr, data, 8);
  addr %= uint64_t(1) << 48;
  size_t want = size_t(data[8]) + 1;
  size_t n = size - 9;
  if (n > kMaxHeader) n = kMaxHeader;
  std::vector<char> head(data + 9, data + 9 + n);

  // header_end in two steps (as bytes arrive) equals one search.
  size_t split = n / 2;
  size_t first = header_end(head.data(), split, 0);
  size_t end = first ? first : header_end(head.data(), n, split >= 3 ? split - 3 : 0);
  const char* found = nullptr;
  for (size_t i = 0; i + 3 < n && !found; i++)
    if (std::memcmp(head.data() + i, "\r\n\r\n", 4) == 0) found = head.data() + i;
  if ((found ? size_t(found - head.data()) + 4 : 0) != end) abort();
  if (end == 0) return 0;

  bool close_after = false;
  std::string why;
  bool ok = check_response_head(head.data(), end, addr, want, &close_after, &why);
  if (!ok) {
    if (why.empty()) abort();
    return 0;
  }
  std::string text = lower(head.data(), end);
  if (text.compare(0, 7, "http/1.") != 0 || text.compare(9, 3, "206") != 0) abort();
  std::string range = "bytes " + std::to_string(addr) + "-" + std::to_string(addr + want - 1) + "/";
  if (!contains(text, "content-range:") || !contains(std::string(head.data(), end), range)) abort();
  if (!contains(text, "content-length:") || !contains(text, std::to_string(want))) abort();
  if (contains(text, "\ntransfer-encoding:")) abort();
  return 0;
}
