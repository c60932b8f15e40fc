// MsgpackCursor::skip: validates and steps over one whole msgpack object; runs once per record on
// the forward decoder's hot path.
#include "core/proto/msgpack_cursor.h"

namespace firelane::proto {

MsgpackStatus MsgpackCursor::skip(int maxDepth) {
  if (maxDepth > kMaxSkipDepth) maxDepth = kMaxSkipDepth;
  // stack[i] holds how many objects were still pending at level i when a container was entered:
  // an explicit stack instead of recursion so hostile nesting is bounded by maxDepth, not the stack.
  uint64_t stack[kMaxSkipDepth];
  int depth = 0;
  uint64_t pending = 1;
  const uint8_t* p = p_;

  // Each object still owed takes at least one byte: adding them up on Incomplete lets a frame that
  // announces a huge array be refused as too large before its bytes are buffered.
  auto owed = [&]() {
    uint64_t n = pending;
    for (int i = 0; i < depth; ++i) n += stack[i];
    return n;
  };

  for (;;) {
    while (pending == 0) {
      if (depth == 0) {
        p_ = p;
        return MsgpackStatus::Ok;
      }
      pending = stack[--depth];
    }
    --pending;
    if (p == end_) {
      needed_ = static_cast<size_t>(p - begin_) + 1 + owed();
      return MsgpackStatus::Incomplete;
    }
    MsgpackHeader h;
    MsgpackStatus s = detail::parseHeader(p, end_, h);
    if (s != MsgpackStatus::Ok) {
      if (s == MsgpackStatus::Incomplete) needed_ = static_cast<size_t>(p - begin_) + h.size + owed();
      return s;
    }
    p += h.size;
    switch (h.type) {
      case MsgpackType::Str:
      case MsgpackType::Bin:
      case MsgpackType::Ext:
        if (static_cast<size_t>(end_ - p) < h.length) {
          needed_ = static_cast<size_t>(p - begin_) + h.length + owed();
          return MsgpackStatus::Incomplete;
        }
        p += h.length;
        break;
      case MsgpackType::Array:
      case MsgpackType::Map: {
        if (depth >= maxDepth) return MsgpackStatus::TooDeep;
        const uint64_t n = h.type == MsgpackType::Map ? 2 * uint64_t{h.length} : h.length;
        if (n != 0) {
          stack[depth++] = pending;
          pending = n;
        }
        break;
      }
      default: break;
    }
  }
}

}  // namespace firelane::proto
