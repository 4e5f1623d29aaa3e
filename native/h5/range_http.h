// The range driver's parser of the block cache's answers (range_vfd.cc): the
// head of an HTTP/1.1 response to one ranged GET. Pure functions over a byte
// buffer, no sockets, so that test/fuzz/fuzz_range_http.cc fuzzes exactly the
// code that parses what arrives on the connection. Nothing is allocated from
// what the peer sends beyond copies of single header values (each within the
// head, itself at most kMaxHeader bytes).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace h5v::h5::http {

// Response heads larger than this are refused: the block cache sends ~150 bytes.
constexpr size_t kMaxHeader = 8192;

// Index just past the first "\r\n\r\n" in head[0, have) that ends at or after
// `from` + 4 (the caller's previous `have` - 3, so a search resumes where the
// last one stopped); 0 if there is none yet.
size_t header_end(const char* head, size_t have, size_t from);

// Checks head[0, end) (end: just past its blank line, from header_end; every
// line must end in CRLF, and a CR or LF elsewhere is refused) as the
// answer to a request of bytes [addr, addr + size), size >= 1: an HTTP/1.x 206
// whose Content-Length is `size` and whose Content-Range names exactly that
// range; a Transfer-Encoding is refused. *close_after: the server closes the
// connection after this answer (HTTP/1.0, or Connection: close). On false,
// *why says what was wrong, for the user.
bool check_response_head(const char* head, size_t end, uint64_t addr, size_t size, bool* close_after, std::string* why);

}  // namespace h5v::h5::http
