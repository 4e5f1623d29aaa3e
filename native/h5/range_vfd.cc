#include "range_vfd.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "../common/hid.h"
#include "range_http.h"

namespace h5v::h5 {

namespace {

using http::kMaxHeader;

struct Fapl {
  uint64_t size;
  uint32_t timeout_ms;
};

// libhdf5 sees the H5FD_t at offset 0; the rest is ours. Plain data only:
// libhdf5 never copies it, but it is made and freed by open/close below.
struct RangeFile {
  H5FD_t pub;
  char* url;   // as given; compared by cmp()
  char* path;  // the request target, checked to be printable ASCII
  uint16_t port;
  uint64_t eof;
  haddr_t eoa;
  uint32_t timeout_ms;
  int fd;           // the kept-alive connection, or -1
  unsigned served;  // requests answered on fd
};

hid_t g_driver = -1;

// A failed exchange with the block cache (classified H5_S3_NETWORK).
void push(const char* func, const std::string& msg) {
  H5Epush2(H5E_DEFAULT, __FILE__, func, __LINE__, H5E_ERR_CLS, H5E_VFL, H5E_READERROR, "%s%s", kRangeErrorTag,
           msg.c_str());
}

// A refused open (a URL or options the driver does not take): libhdf5's open failure.
void push_arg(const char* func, const char* msg) {
  H5Epush2(H5E_DEFAULT, __FILE__, func, __LINE__, H5E_ERR_CLS, H5E_ARGS, H5E_BADVALUE, "%s", msg);
}

void drop_connection(RangeFile* f) {
  if (f->fd >= 0) ::close(f->fd);
  f->fd = -1;
  f->served = 0;
}

// Waits until fd is ready for `events`; false on timeout or poll failure.
bool wait_for(int fd, short events, uint32_t timeout_ms) {
  pollfd p{fd, events, 0};
  for (;;) {
    int r = ::poll(&p, 1, static_cast<int>(timeout_ms));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

std::string seconds(uint32_t ms) {
  char b[32];
  std::snprintf(b, sizeof b, "%g s", ms / 1000.0);
  return b;
}

bool connect_to(RangeFile* f, std::string* why) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    *why = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(f->port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    if (errno != EINPROGRESS) {
      *why = "connect to 127.0.0.1:" + std::to_string(f->port) + ": " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    if (!wait_for(fd, POLLOUT, f->timeout_ms)) {
      *why = "connect to 127.0.0.1:" + std::to_string(f->port) + ": no answer within " + seconds(f->timeout_ms);
      ::close(fd);
      return false;
    }
    int e = 0;
    socklen_t len = sizeof e;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len);
    if (e != 0) {
      *why = "connect to 127.0.0.1:" + std::to_string(f->port) + ": " + std::strerror(e);
      ::close(fd);
      return false;
    }
  }
  f->fd = fd;
  f->served = 0;
  return true;
}

bool send_all(RangeFile* f, const std::string& s, std::string* why) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(f->fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_for(f->fd, POLLOUT, f->timeout_ms)) {
        *why = "the block cache took no request bytes for " + seconds(f->timeout_ms);
        return false;
      }
    } else {
      *why = std::string("send: ") + std::strerror(n < 0 ? errno : EPIPE);
      return false;
    }
  }
  return true;
}

// One receive of up to `cap` bytes: > 0 bytes, 0 = peer closed, -1 = error/timeout (why set).
ssize_t recv_some(RangeFile* f, char* buf, size_t cap, std::string* why) {
  for (;;) {
    ssize_t n = ::recv(f->fd, buf, cap, 0);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait_for(f->fd, POLLIN, f->timeout_ms)) {
        *why = "no answer from the block cache within " + seconds(f->timeout_ms);
        return -1;
      }
      continue;
    }
    *why = std::string("receive: ") + std::strerror(errno);
    return -1;
  }
}

enum class Outcome { Ok, Failed, Retry };

// One ranged GET of bytes [addr, addr+size) into buf. Retry: a kept-alive
// connection the server had closed before answering (its idle timeout).
Outcome get_range(RangeFile* f, uint64_t addr, size_t size, unsigned char* buf, std::string* why) {
  bool reused = f->fd >= 0;
  if (!reused && !connect_to(f, why)) return Outcome::Failed;
  std::string req = "GET ";
  req += f->path;
  req += " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(f->port) + "\r\nRange: bytes=" + std::to_string(addr) + "-" +
         std::to_string(addr + size - 1) + "\r\n\r\n";
  if (!send_all(f, req, why)) return reused ? Outcome::Retry : Outcome::Failed;

  char head[kMaxHeader];
  size_t have = 0;
  size_t end = 0;  // bytes of headers including the blank line
  while (end == 0) {
    if (have == sizeof head) {
      *why = "the block cache's response headers exceed " + std::to_string(kMaxHeader) + " bytes";
      return Outcome::Failed;
    }
    ssize_t n = recv_some(f, head + have, sizeof head - have, why);
    if (n < 0) return (reused && have == 0 && why->rfind("receive:", 0) == 0) ? Outcome::Retry : Outcome::Failed;
    if (n == 0) {
      if (reused && have == 0) return Outcome::Retry;
      *why = "the block cache closed the connection " +
             std::string(have == 0 ? "without an answer" : "in the middle of its response headers");
      return Outcome::Failed;
    }
    size_t from = have >= 3 ? have - 3 : 0;
    have += static_cast<size_t>(n);
    end = http::header_end(head, have, from);
  }

  bool close_after = false;
  if (!http::check_response_head(head, end, addr, size, &close_after, why)) return Outcome::Failed;

  // Body: what came with the headers, then straight into libhdf5's buffer.
  size_t extra = have - end;
  if (extra > size) {
    *why = "the block cache sent more bytes than its Content-Length";
    return Outcome::Failed;
  }
  std::memcpy(buf, head + end, extra);
  size_t got = extra;
  while (got < size) {
    ssize_t n = recv_some(f, reinterpret_cast<char*>(buf) + got, size - got, why);
    if (n < 0) {
      *why += " (after " + std::to_string(got) + " of " + std::to_string(size) + " bytes)";
      return Outcome::Failed;
    }
    if (n == 0) {
      *why = "the block cache closed the connection after " + std::to_string(got) + " of " + std::to_string(size) +
             " bytes";
      return Outcome::Failed;
    }
    got += static_cast<size_t>(n);
  }
  f->served++;
  if (close_after) drop_connection(f);
  return Outcome::Ok;
}

// --- the H5FD_class_t callbacks ---

void* fapl_copy(const void* fa) {
  void* p = std::malloc(sizeof(Fapl));
  if (p) std::memcpy(p, fa, sizeof(Fapl));
  return p;
}

herr_t fapl_free(void* fa) {
  std::free(fa);
  return 0;
}

void* fapl_get(H5FD_t* file) {
  auto* f = reinterpret_cast<RangeFile*>(file);
  Fapl fa{f->eof, f->timeout_ms};
  return fapl_copy(&fa);
}

H5FD_t* open_cb(const char* name, unsigned flags, hid_t fapl, haddr_t maxaddr) {
  static const char* func = "h5vault_range_open";
  if (flags & (H5F_ACC_RDWR | H5F_ACC_TRUNC | H5F_ACC_CREAT)) {
    push_arg(func, "the remote file driver is read-only");
    return nullptr;
  }
  const auto* fa = static_cast<const Fapl*>(H5Pget_driver_info(fapl));
  if (fa == nullptr) {
    push_arg(func, "no driver options");
    return nullptr;
  }
  if (maxaddr == 0 || maxaddr == HADDR_UNDEF || fa->size > maxaddr) {
    push_arg(func, "the object is larger than libhdf5 can address");
    return nullptr;
  }
  // http://127.0.0.1:PORT/PATH, PATH printable ASCII without spaces.
  const char* prefix = "http://127.0.0.1:";
  size_t pl = std::strlen(prefix);
  if (std::strncmp(name, prefix, pl) != 0) {
    push_arg(func, "the remote file driver only reads from http://127.0.0.1:PORT/");
    return nullptr;
  }
  const char* p = name + pl;
  unsigned long port = 0;
  int digits = 0;
  while (*p >= '0' && *p <= '9' && digits < 6) port = port * 10 + static_cast<unsigned long>(*p++ - '0'), digits++;
  if (digits == 0 || port == 0 || port > 65535 || *p != '/') {
    push_arg(func, "bad port in the block cache's URL");
    return nullptr;
  }
  for (const char* q = p; *q; q++)
    if (*q <= 0x20 || *q >= 0x7f) {
      push_arg(func, "the block cache's URL has a character that cannot go in a request line");
      return nullptr;
    }
  auto* f = static_cast<RangeFile*>(std::calloc(1, sizeof(RangeFile)));
  if (f == nullptr) return nullptr;
  f->url = strdup(name);
  f->path = strdup(p);
  if (f->url == nullptr || f->path == nullptr) {
    std::free(f->url);
    std::free(f->path);
    std::free(f);
    return nullptr;
  }
  f->port = static_cast<uint16_t>(port);
  f->eof = fa->size;
  f->eoa = 0;
  f->timeout_ms = fa->timeout_ms == 0 ? 1 : fa->timeout_ms;
  f->fd = -1;
  return &f->pub;
}

herr_t close_cb(H5FD_t* file) {
  auto* f = reinterpret_cast<RangeFile*>(file);
  drop_connection(f);
  std::free(f->url);
  std::free(f->path);
  std::free(f);
  return 0;
}

int cmp_cb(const H5FD_t* a, const H5FD_t* b) {
  return std::strcmp(reinterpret_cast<const RangeFile*>(a)->url, reinterpret_cast<const RangeFile*>(b)->url);
}

herr_t query_cb(const H5FD_t*, unsigned long* flags) {
  // As ROS3: the sieve buffer turns libhdf5's many small raw-data reads into fewer requests.
  if (flags) *flags = H5FD_FEAT_DATA_SIEVE;
  return 0;
}

haddr_t get_eoa_cb(const H5FD_t* file, H5FD_mem_t) { return reinterpret_cast<const RangeFile*>(file)->eoa; }

herr_t set_eoa_cb(H5FD_t* file, H5FD_mem_t, haddr_t addr) {
  reinterpret_cast<RangeFile*>(file)->eoa = addr;
  return 0;
}

haddr_t get_eof_cb(const H5FD_t* file, H5FD_mem_t) { return reinterpret_cast<const RangeFile*>(file)->eof; }

herr_t get_handle_cb(H5FD_t* file, hid_t, void** handle) {
  // Never a descriptor: posix_fd() asks for sec2 files only.
  *handle = file;
  return 0;
}

herr_t read_cb(H5FD_t* file, H5FD_mem_t, hid_t, haddr_t addr, size_t size, void* buffer) {
  static const char* func = "h5vault_range_read";
  auto* f = reinterpret_cast<RangeFile*>(file);
  if (addr == HADDR_UNDEF || size > UINT64_MAX - addr) {
    push(func, "read address overflows");
    return -1;
  }
  auto* buf = static_cast<unsigned char*>(buffer);
  // Past the end of the object reads zeros, as the POSIX driver does (libhdf5's
  // search for its signature reads there).
  size_t n = addr >= f->eof ? 0 : static_cast<size_t>(std::min<uint64_t>(size, f->eof - addr));
  if (n < size) std::memset(buf + n, 0, size - n);
  if (n == 0) return 0;
  std::string why;
  Outcome o = get_range(f, addr, n, buf, &why);
  if (o == Outcome::Retry) {
    drop_connection(f);
    why.clear();
    o = get_range(f, addr, n, buf, &why);
  }
  if (o != Outcome::Ok) {
    drop_connection(f);  // a connection in an unknown state is never reused
    push(func, why == "" ? "failed" : why);
    return -1;
  }
  return 0;
}

herr_t write_cb(H5FD_t*, H5FD_mem_t, hid_t, haddr_t, size_t, const void*) {
  push("h5vault_range_write", "the remote file driver is read-only");
  return -1;
}

herr_t truncate_cb(H5FD_t*, hid_t, hbool_t) { return 0; }

const H5FD_class_t kClass = {
    "h5vault_range",                  // name
    static_cast<haddr_t>(INT64_MAX),  // maxaddr
    H5F_CLOSE_WEAK,                   // fc_degree
    nullptr,                          // terminate
    nullptr,                          // sb_size
    nullptr,                          // sb_encode
    nullptr,                          // sb_decode
    sizeof(Fapl),                     // fapl_size
    fapl_get,                         // fapl_get
    fapl_copy,                        // fapl_copy
    fapl_free,                        // fapl_free
    0,                                // dxpl_size
    nullptr,                          // dxpl_copy
    nullptr,                          // dxpl_free
    open_cb,                          // open
    close_cb,                         // close
    cmp_cb,                           // cmp
    query_cb,                         // query
    nullptr,                          // get_type_map
    nullptr,                          // alloc
    nullptr,                          // free
    get_eoa_cb,                       // get_eoa
    set_eoa_cb,                       // set_eoa
    get_eof_cb,                       // get_eof
    get_handle_cb,                    // get_handle
    read_cb,                          // read
    write_cb,                         // write
    nullptr,                          // flush
    truncate_cb,                      // truncate
    nullptr,                          // lock
    nullptr,                          // unlock
    H5FD_FLMAP_DICHOTOMY,             // fl_map
};

hid_t driver_id() {
  if (g_driver < 0 || H5Iis_valid(g_driver) <= 0) g_driver = H5FDregister(&kClass);
  return g_driver;
}

}  // namespace

std::shared_ptr<FileHandle> open_range(const std::string& name, const std::string& url, const RangeOptions& opt,
                                       ErrorInfo* err) {
  hid_t drv = driver_id();
  if (drv < 0) {
    *err = capture_error("register the remote file driver");
    return nullptr;
  }
  Hid fapl(H5Pcreate(H5P_FILE_ACCESS));
  H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
  Fapl fa{opt.size, opt.timeout_ms};
  if (H5Pset_driver(fapl.get(), drv, &fa) < 0) {
    *err = capture_error("set up the remote file driver for '" + name + "'");
    return nullptr;
  }
  hid_t fid = H5Fopen(url.c_str(), H5F_ACC_RDONLY, fapl.get());
  if (fid < 0) {
    *err = capture_error("open '" + name + "'");
    return nullptr;
  }
  return FileHandle::adopt(name, fid);
}

bool is_range_file(hid_t fid) {
  if (g_driver < 0) return false;
  bool r = false;
  hid_t fapl = H5Fget_access_plist(fid);
  if (fapl >= 0) {
    r = H5Pget_driver(fapl) == g_driver;
    H5Pclose(fapl);
  }
  clear_error_stack();
  return r;
}

}  // namespace h5v::h5
