#include "error.h"

#include <vector>

namespace h5v::h5 {

namespace {

struct Frame {
  hid_t maj = -1, min = -1;
  std::string desc, func;
};

herr_t collect(unsigned n, const H5E_error2_t* e, void* data) {
  auto* frames = static_cast<std::vector<Frame>*>(data);
  Frame f;
  f.maj = e->maj_num;
  f.min = e->min_num;
  f.desc = e->desc ? e->desc : "";
  f.func = e->func_name ? e->func_name : "";
  frames->push_back(std::move(f));
  return 0;
}

std::string msg_text(hid_t id) {
  if (id < 0) return "";
  char buf[256];
  H5E_type_t type;
  ssize_t n = H5Eget_msg(id, &type, buf, sizeof buf);
  if (n <= 0) return "";
  return std::string(buf, static_cast<size_t>(n) < sizeof buf ? static_cast<size_t>(n) : sizeof buf - 1);
}

bool any_minor(const std::vector<Frame>& fs, std::initializer_list<hid_t> mins) {
  for (const auto& f : fs)
    for (hid_t m : mins)
      if (f.min == m) return true;
  return false;
}

// Like any_minor, but ignores frames that blame the arguments (major
// H5E_ARGS): their H5E_BADVALUE says an option was invalid, not the file.
bool any_minor_in_data(const std::vector<Frame>& fs, std::initializer_list<hid_t> mins) {
  for (const auto& f : fs)
    if (f.maj != H5E_ARGS)
      for (hid_t m : mins)
        if (f.min == m) return true;
  return false;
}

bool any_desc(const std::vector<Frame>& fs, const char* needle) {
  for (const auto& f : fs)
    if (f.desc.find(needle) != std::string::npos) return true;
  return false;
}

// Stable codes (docs/errors.md). Order matters: the most specific cause wins.
std::string classify(const std::vector<Frame>& fs) {
  // The range driver could not get bytes from the block cache (h5/range_vfd.h):
  // whatever libhdf5 made of the failed read, the cause is the connection.
  if (any_desc(fs, kRangeErrorTag)) return "H5_S3_NETWORK";
  if (any_desc(fs, "file signature not found")) return "H5_NOT_HDF5";
  if (any_minor(fs, {H5E_NOTREGISTERED, H5E_NOFILTER}) || any_desc(fs, "filter is not registered") ||
      any_desc(fs, "not registered"))
    return "H5_FILTER_UNAVAILABLE";
  // A chunk whose filter fails on read (bad deflate stream, fletcher32
  // mismatch, corrupt LZF/LZ4) is damaged data, as the parallel engine reports
  // it; without this the frames below classify it as H5_IO.
  if (any_desc(fs, "filter returned failure during read")) return "H5_CORRUPT";
  // A truncated file (interrupted copy) is damage, not an open failure.
  if (any_minor(fs, {H5E_TRUNCATED})) return "H5_CORRUPT";
  if (any_desc(fs, "no write intent")) return "H5_READ_ONLY";
  if (any_minor(fs, {H5E_EXISTS, H5E_ALREADYEXISTS, H5E_FILEEXISTS}) || any_desc(fs, "already exists"))
    return "H5_EXISTS";
  // Only when the root cause is a missing object: every failed create has an
  // intermediate "internal path traversal failed / Object not found" frame.
  if (fs.back().min == H5E_NOTFOUND) return "H5_NOT_FOUND";
  if (any_minor(fs, {H5E_CANTLOCKFILE})) return "H5_FILE_LOCKED";
  // The sec2 driver's open(2) failed for lack of rights: not a bad file.
  if (any_desc(fs, "errno = 13,") || any_desc(fs, "errno = 1,")) return "H5_PERMISSION";
  if (any_minor(fs, {H5E_CANTOPENFILE, H5E_FILEOPEN, H5E_CANTCREATE})) return "H5_OPEN_FAILED";
  if (any_minor_in_data(fs, {H5E_BADMESG, H5E_CANTDECODE, H5E_CANTLOAD, H5E_TRUNCATED, H5E_BADVALUE,
                             H5E_CANTUNSERIALIZE, H5E_BADFILE, H5E_VERSION, H5E_OVERFLOW}))
    return "H5_CORRUPT";
  if (any_minor(fs, {H5E_READERROR, H5E_WRITEERROR, H5E_SEEKERROR, H5E_NOSPACE})) return "H5_IO";
  return "H5_ERROR";
}

}  // namespace

void silence_error_printing() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

void clear_error_stack() { H5Eclear2(H5E_DEFAULT); }

ErrorInfo capture_error(const std::string& context) {
  std::vector<Frame> frames;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect, &frames);
  H5Eclear2(H5E_DEFAULT);

  ErrorInfo e;
  e.kind = ErrorKind::H5;
  if (frames.empty()) {
    e.code = "H5_ERROR";
    e.message = context + ": libhdf5 reported a failure without an error stack";
    return e;
  }
  // Downward walk: frames[0] is the API call the user made, back() is the root cause.
  const Frame& top = frames.front();
  const Frame& bottom = frames.back();
  e.code = classify(frames);
  e.major = msg_text(top.maj);
  e.minor = msg_text(top.min);
  std::string msg = top.desc;
  if (frames.size() > 1 && bottom.desc != top.desc) msg += " (" + bottom.desc + ")";
  e.message = context.empty() ? msg : context + ": " + msg;
  return e;
}

}  // namespace h5v::h5
