// Planning shared by read and write: what the dataset is (plan_dataset),
// which elements the caller selected (normalize, dim_parts) and how a chunk's
// bytes map onto the caller's buffer (copy_rows, chunk_is_direct).
#include "plan.h"

#include <algorithm>
#include <cstring>
#include <iterator>

#include "../codecs/zstd.h"
#include "../filters/register.h"
#include "thread_pool.h"

namespace h5v::engine::detail {

std::string coords_str(const std::vector<hsize_t>& v) {
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(v[i]);
  }
  return s + ")";
}

namespace {

// A failed libhdf5 query while planning: its error stack, labelled `what`.
Result plan_failed(ErrorInfo* err, const char* what) {
  if (err) *err = h5::capture_error(what);
  return Result::Failed;
}

// Type: only byte-for-byte copies (no conversion) are done here. Sets p->es.
Result plan_type(hid_t dset, hid_t mem_type, Plan* p, ErrorInfo* err) {
  h5::Hid ftype(H5Dget_type(dset));
  if (ftype.get() < 0) return plan_failed(err, "engine: get type");
  H5T_class_t cls = H5Tget_class(ftype.get());
  if (cls == H5T_VLEN || cls == H5T_REFERENCE || cls == H5T_NO_CLASS) return Result::Unsupported;
  if (H5Tdetect_class(ftype.get(), H5T_VLEN) != 0 || H5Tdetect_class(ftype.get(), H5T_REFERENCE) != 0) {
    h5::clear_error_stack();
    return Result::Unsupported;
  }
  if (cls == H5T_STRING && H5Tis_variable_str(ftype.get()) != 0) {
    h5::clear_error_stack();
    return Result::Unsupported;
  }
  htri_t eq = H5Tequal(ftype.get(), mem_type);
  if (eq < 0) return plan_failed(err, "engine: compare types");
  if (eq == 0) return Result::Unsupported;
  p->es = H5Tget_size(ftype.get());
  if (p->es == 0) return plan_failed(err, "engine: type size");
  return Result::Done;
}

// The engine's stage for pipeline filter `id` with its client data (counted
// into p->n_compress / n_fletcher); Unsupported for a filter or parameters
// left to libhdf5.
Result plan_stage(H5Z_filter_t id, size_t ncd, const unsigned* cd, bool for_write, Plan* p, Stage* s) {
  switch (id) {
    case H5Z_FILTER_DEFLATE:
      s->codec = Codec::Deflate;
      s->param = ncd >= 1 ? cd[0] : 6;
      if (s->param > 9) return Result::Unsupported;
      ++p->n_compress;
      break;
    case H5Z_FILTER_SHUFFLE:
      s->codec = Codec::Shuffle;
      s->param = ncd >= 1 && cd[0] ? cd[0] : unsigned(p->es);
      break;
    case H5Z_FILTER_FLETCHER32:
      s->codec = Codec::Fletcher;
      ++p->n_fletcher;
      break;
    case filters::kFilterLzf:
      s->codec = Codec::Lzf;
      ++p->n_compress;
      break;
    case filters::kFilterLz4:
      s->codec = Codec::Lz4;
      s->param = ncd >= 1 ? cd[0] : 0;
      ++p->n_compress;
      break;
    case filters::kFilterZstd:
      s->codec = Codec::Zstd;
      s->param = unsigned(codecs::zstd_filter_level(ncd, cd));  // as the filter clamps it
      ++p->n_compress;
      break;
    case filters::kFilterBlosc:
      // Slots 2-3 come from set_local; without them (or with a compressor
      // this libblosc lacks) libhdf5 and the filter report the problem.
      if (codecs::blosc_params(ncd, cd, &s->blosc) != codecs::Status::Ok) return Result::Unsupported;
      s->codec = Codec::Blosc;
      ++p->n_compress;
      break;
    case filters::kFilterBitshuffle:
      // Bad cd_values: libhdf5 and the filter report the problem.
      if (codecs::bitshuffle_params(ncd, cd, &s->bitshuffle) != codecs::Status::Ok) return Result::Unsupported;
      s->codec = Codec::Bitshuffle;
      ++p->n_compress;
      break;
    case H5Z_FILTER_SZIP:
      // Decode only, with the four parameters libhdf5's set_local stored
      // (mask, pixels per block, bits per pixel, pixels per scanline), and
      // only where libhdf5 itself has the szip decoder loaded. Writes and
      // anything else go through libhdf5's own filter.
      if (for_write || ncd != 4 || !codecs::szip_available()) return Result::Unsupported;
      s->codec = Codec::Szip;
      s->szip.options_mask = cd[0];
      s->szip.pixels_per_block = cd[1];
      s->szip.bits_per_pixel = cd[2];
      s->szip.pixels_per_scanline = cd[3];
      ++p->n_compress;
      break;
    default:  // nbit, scaleoffset, plugins: libhdf5 does it
      return Result::Unsupported;
  }
  return Result::Done;
}

// Filters: the pipeline as p->stages, in pipeline order.
Result plan_filters(hid_t dcpl, bool for_write, Plan* p, ErrorInfo* err) {
  int nf = H5Pget_nfilters(dcpl);
  if (nf < 0) return plan_failed(err, "engine: filter count");
  for (int i = 0; i < nf; ++i) {
    unsigned flags = 0, cd[32] = {0}, config = 0;
    size_t ncd = 32;
    char name[64];
    H5Z_filter_t id = H5Pget_filter2(dcpl, unsigned(i), &flags, &ncd, cd, sizeof name, name, &config);
    if (id < 0) return plan_failed(err, "engine: get filter");
    Stage s;
    s.index = unsigned(i);
    s.optional = (flags & H5Z_FLAG_OPTIONAL) != 0;
    if (Result r = plan_stage(id, ncd, cd, for_write, p, &s); r != Result::Done) return r;
    p->stages.push_back(s);
  }
  if (for_write && p->n_compress > 1) return Result::Unsupported;
  return Result::Done;
}

// Fill value behaviour, mirroring H5D__chunk_read / H5D__chunk_lock in 1.10.
Result plan_fill(hid_t dcpl, hid_t mem_type, Plan* p, ErrorInfo* err) {
  H5D_fill_value_t status;
  H5D_fill_time_t ftime;
  if (H5Pfill_value_defined(dcpl, &status) < 0 || H5Pget_fill_time(dcpl, &ftime) < 0)
    return plan_failed(err, "engine: fill value properties");
  bool defined = status == H5D_FILL_VALUE_USER_DEFINED || status == H5D_FILL_VALUE_DEFAULT;
  p->fill.assign(p->es, 0);
  bool user_value = false;
  if (status == H5D_FILL_VALUE_USER_DEFINED) {
    if (H5Pget_fill_value(dcpl, mem_type, p->fill.data()) < 0) return plan_failed(err, "engine: fill value");
    user_value = std::any_of(p->fill.begin(), p->fill.end(), [](uint8_t b) { return b != 0; });
  }
  if (ftime == H5D_FILL_TIME_NEVER || (ftime == H5D_FILL_TIME_IFSET && !defined))
    p->read_fill = FillMode::Skip;
  else if (user_value && (ftime == H5D_FILL_TIME_ALLOC || ftime == H5D_FILL_TIME_IFSET))
    p->read_fill = FillMode::Value;
  else
    p->read_fill = FillMode::Zero;
  p->write_pad = (user_value && ftime != H5D_FILL_TIME_NEVER) ? FillMode::Value : FillMode::Zero;
  return Result::Done;
}

// File access: pread on the sec2 descriptor for read-only files.
Result plan_file_access(hid_t dset, bool for_write, Plan* p, ErrorInfo* err) {
  h5::Hid file(H5Iget_file_id(dset));
  if (file.get() < 0) return plan_failed(err, "engine: get file");
  unsigned intent = 0;
  if (H5Fget_intent(file.get(), &intent) < 0) return plan_failed(err, "engine: file intent");
  p->read_only = (intent & H5F_ACC_RDWR) == 0;
  if (p->read_only && !for_write) {
    h5::Hid fapl(H5Fget_access_plist(file.get()));
    if (fapl.get() >= 0 && H5Pget_driver(fapl.get()) == H5FD_SEC2) {
      void* handle = nullptr;
      if (H5Fget_vfd_handle(file.get(), fapl.get(), &handle) >= 0 && handle) p->fd = *static_cast<int*>(handle);
    }
    h5::clear_error_stack();
  }
  return Result::Done;
}

}  // namespace

// Everything below in plan() runs with the lock held.
Result plan_dataset(hid_t dset, hid_t mem_type, bool for_write, Plan* p, ErrorInfo* err) {
  h5::Hid dcpl(H5Dget_create_plist(dset));
  if (dcpl.get() < 0) return plan_failed(err, "engine: get creation properties");
  if (H5Pget_layout(dcpl.get()) != H5D_CHUNKED) return Result::Unsupported;
  unsigned chunk_opts = 0;
  if (H5Pget_chunk_opts(dcpl.get(), &chunk_opts) < 0) return plan_failed(err, "engine: chunk options");
  if (chunk_opts & H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS) return Result::Unsupported;
  int ext = H5Pget_external_count(dcpl.get());
  if (ext != 0) return ext < 0 ? plan_failed(err, "engine: external count") : Result::Unsupported;
  if (Result r = plan_type(dset, mem_type, p, err); r != Result::Done) return r;
  if (Result r = plan_filters(dcpl.get(), for_write, p, err); r != Result::Done) return r;
  if (Result r = plan_fill(dcpl.get(), mem_type, p, err); r != Result::Done) return r;
  return plan_file_access(dset, for_write, p, err);
}

bool normalize(const Selection& in, const std::vector<hsize_t>& dims, Sel* s, ErrorInfo* err) {
  size_t r = dims.size();
  if (in.start.empty() && in.count.empty() && in.step.empty()) {
    s->start.assign(r, 0);
    s->count = dims;
    s->step.assign(r, 1);
  } else {
    if (in.start.size() != r || in.count.size() != r || (!in.step.empty() && in.step.size() != r)) {
      if (err) *err = ErrorInfo::range_error("selection rank does not match the dataset rank");
      return false;
    }
    s->start = in.start;
    s->count = in.count;
    if (in.step.empty())
      s->step.assign(r, 1);
    else
      s->step = in.step;
  }
  s->nsel = 1;
  for (size_t d = 0; d < r; ++d) {
    if (s->step[d] == 0) {
      if (err) *err = ErrorInfo::range_error("selection step must be at least 1");
      return false;
    }
    if (s->count[d] == 0) {
      s->nsel = 0;
      continue;
    }
    hsize_t last = s->start[d] + (s->count[d] - 1) * s->step[d];
    if (last < s->start[d] || last >= dims[d] || (s->count[d] - 1) > (~hsize_t(0)) / s->step[d]) {
      if (err) *err = ErrorInfo::range_error("selection extends beyond the dataset extent");
      return false;
    }
    s->nsel *= s->count[d];
  }
  return true;
}

std::vector<Part> dim_parts(hsize_t start, hsize_t count, hsize_t step, hsize_t cd) {
  std::vector<Part> v;
  if (count == 0) return v;
  hsize_t k = 0;
  while (k < count) {
    hsize_t pos = start + k * step;
    hsize_t c = pos / cd;
    hsize_t end = (c + 1) * cd;  // first coordinate past this chunk
    // selected indices k' >= k with start + k'*step < end
    hsize_t kend = (end - start + step - 1) / step;  // first k' with pos >= end
    if (kend > count) kend = count;
    v.push_back(Part{c, k, kend - k});
    k = kend;
  }
  return v;
}

ChunkParts selection_parts(const Plan& p, const Sel& s, uint64_t* items) {
  ChunkParts parts(p.rank);
  *items = 1;
  for (int d = 0; d < p.rank; ++d) {
    parts[d] = dim_parts(s.start[d], s.count[d], s.step[d], p.chunk[d]);
    *items *= parts[d].size();
  }
  return parts;
}

void chunk_at(const ChunkParts& parts, uint64_t i, const Plan& p, Part* pp, hsize_t* off) {
  for (int d = p.rank - 1; d >= 0; --d) {
    const Part& part = parts[d][i % parts[d].size()];
    i /= parts[d].size();
    if (pp) pp[d] = part;
    off[d] = part.chunk * p.chunk[d];
  }
}

template <bool kToOut>
void copy_rows(const Geometry& g, const Sel& s, const Plan& p, const Part* parts, uint8_t* chunk_buf, uint8_t* user,
               const uint8_t* fill) {
  const int r = g.rank;
  size_t cbase = 0, obase = 0;
  for (int d = 0; d < r; ++d) {
    hsize_t in_chunk = s.start[d] + parts[d].kmin * s.step[d] - parts[d].chunk * p.chunk[d];
    cbase += in_chunk * g.cstride[d];
    obase += parts[d].kmin * g.ostride[d];
  }
  const size_t es = g.es;
  const hsize_t inner = parts[r - 1].kcount;
  const size_t cstep_inner = s.step[r - 1] * es;
  const bool contiguous_inner = s.step[r - 1] == 1;
  std::vector<hsize_t> j(r, 0);
  for (;;) {
    size_t co = cbase, oo = obase;
    for (int d = 0; d < r - 1; ++d) {
      co += j[d] * s.step[d] * g.cstride[d];
      oo += j[d] * g.ostride[d];
    }
    uint8_t* o = user + oo;
    if (fill) {
      if (kToOut) {
        bool zero = true;
        for (size_t b = 0; b < es; ++b) zero = zero && fill[b] == 0;
        if (zero)
          std::memset(o, 0, inner * es);
        else
          for (hsize_t k = 0; k < inner; ++k) std::memcpy(o + k * es, fill, es);
      }
    } else if (contiguous_inner) {
      if (kToOut)
        std::memcpy(o, chunk_buf + co, inner * es);
      else
        std::memcpy(chunk_buf + co, o, inner * es);
    } else {
      uint8_t* c = chunk_buf + co;
      switch (es) {
#define H5V_STRIDED(N)                                  \
  case N:                                               \
    for (hsize_t k = 0; k < inner; ++k) {               \
      if (kToOut)                                       \
        std::memcpy(o + k * N, c + k * cstep_inner, N); \
      else                                              \
        std::memcpy(c + k * cstep_inner, o + k * N, N); \
    }                                                   \
    break;
        H5V_STRIDED(1)
        H5V_STRIDED(2)
        H5V_STRIDED(4)
        H5V_STRIDED(8)
#undef H5V_STRIDED
        default:
          for (hsize_t k = 0; k < inner; ++k) {
            if (kToOut)
              std::memcpy(o + k * es, c + k * cstep_inner, es);
            else
              std::memcpy(c + k * cstep_inner, o + k * es, es);
          }
      }
    }
    int d = r - 2;
    for (; d >= 0; --d) {
      if (++j[d] < parts[d].kcount) break;
      j[d] = 0;
    }
    if (d < 0) break;
  }
}

Geometry geometry(const Plan& p, const Sel& s) {
  const int r = p.rank;
  Geometry g;
  g.rank = r;
  g.es = p.es;
  g.cstride.assign(r, p.es);
  g.ostride.assign(r, p.es);
  for (int d = r - 2; d >= 0; --d) {
    g.cstride[d] = g.cstride[d + 1] * p.chunk[d + 1];
    g.ostride[d] = g.ostride[d + 1] * s.count[d + 1];
  }
  return g;
}

template void copy_rows<true>(const Geometry&, const Sel&, const Plan&, const Part*, uint8_t*, uint8_t*,
                              const uint8_t*);
template void copy_rows<false>(const Geometry&, const Sel&, const Plan&, const Part*, uint8_t*, uint8_t*,
                               const uint8_t*);

bool chunk_is_direct(const Sel& s, const Plan& p, const Part* parts, const std::vector<hsize_t>& gc) {
  for (int d = 0; d < p.rank; ++d) {
    if (s.step[d] != 1) return false;
    if (parts[d].kcount != p.chunk[d]) return false;  // whole chunk, not an edge chunk
    if (d > 0 && s.count[d] != p.chunk[d]) return false;
  }
  return true;
}

bool cancelled(const Options& opt) { return opt.cancel && opt.cancel->load(std::memory_order_relaxed); }

ErrorInfo aborted() { return ErrorInfo::make("H5_ABORTED", "operation was cancelled"); }

ErrorInfo corrupt(const std::vector<hsize_t>& off, const char* stage, codecs::Status st) {
  return ErrorInfo::make("H5_CORRUPT", std::string("chunk at ") + coords_str(off) + ": " + stage + " failed (" +
                                           codecs::status_message(st) + ")");
}

const char* codec_name(Codec c) {
  // Indexed by Codec, in the order plan.h declares it.
  static constexpr const char* kNames[] = {"shuffle", "deflate", "fletcher32", "lzf", "lz4",
                                           "zstd",    "blosc",   "bitshuffle", "szip"};
  static_assert(std::size(kNames) == static_cast<size_t>(Codec::Szip) + 1, "one name per Codec");
  auto i = static_cast<size_t>(c);
  return i < std::size(kNames) ? kNames[i] : "?";
}

unsigned worker_count(const Options& opt, uint64_t items) {
  // The caller is one worker; helpers come from the shared pool.
  unsigned cap = pool_size() + 1;
  unsigned w = opt.threads ? std::min(opt.threads, cap) : pool_size();
  if (w == 0) w = 1;
  if (items < w) w = unsigned(std::max<uint64_t>(items, 1));
  return w;
}

// Pins the caller's dataset id for the whole call (another thread may close
// its own reference meanwhile) and plans the dataset. Done means go on.
Result begin_call(hid_t dset, hid_t mem_type, bool for_write, std::optional<h5::Hid>* keep, Plan* p, ErrorInfo* err) {
  h5::Lock lock;
  if (H5Iinc_ref(dset) < 0) {
    *err = h5::capture_error(for_write ? "engine write" : "engine read");
    return Result::Failed;
  }
  keep->emplace(dset);
  return plan_dataset(dset, mem_type, for_write, p, err);
}

// Once p->dims and p->chunk are known: chunk size, the normalised selection,
// and the caller's buffer size checked against it (`which`: "input"/"output").
bool bind_selection(const Selection& selection, size_t bytes, const char* which, Plan* p, Sel* s, ErrorInfo* err) {
  p->chunk_bytes = p->es;
  for (hsize_t c : p->chunk) p->chunk_bytes *= c;
  if (!normalize(selection, p->dims, s, err)) return false;
  if (uint64_t(bytes) != s->nsel * p->es) {
    *err = ErrorInfo::range_error(std::string(which) + " buffer is " + std::to_string(bytes) +
                                  " bytes, selection needs " + std::to_string(s->nsel * p->es));
    return false;
  }
  return true;
}

}  // namespace h5v::engine::detail
