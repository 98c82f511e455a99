// Einsum (opsets 12-21): any equation with letters, one '...' per term, repeated labels
// (diagonals), implicit (no '->') and explicit outputs, size-1 broadcasting. Operands are
// contracted left to right; each contraction is a batched GEMM over [batch, free, contracted]
// layouts, using GEMM transposes instead of copies where the layout allows (so attention's
// "bhid,bhjd->bhij" and "bhij,bhjd->bhid" run without any copy). Labels no later step needs
// are summed out as early as possible.
#include <Eigen/Core>
#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "linalg.h"
#include "linalg_gemm.h"
#include "linalg_transpose.h"

namespace nnc::ops::linalg {
namespace {

constexpr int kEllipsisBase = 52;  // letters are labels 0-51, ellipsis dims 52+

int letterLabel(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return 26 + (c - 'A');
  return -1;
}
// Implicit outputs are sorted like the characters (ASCII: upper case first).
char labelChar(int l) { return l < 26 ? static_cast<char>('a' + l) : static_cast<char>('A' + l - 26); }

struct Term {
  std::vector<int> letters_before, letters_after;  // around the ellipsis (all in before if none)
  bool ellipsis = false;
};

Expected<Term> parseTerm(const std::string& s) {
  Term t;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s.compare(i, 3, "...") == 0) {
      if (t.ellipsis) return invalidModel("more than one '...' in einsum term '" + s + "'");
      t.ellipsis = true;
      i += 2;
      continue;
    }
    int l = letterLabel(s[i]);
    if (l < 0) return invalidModel("unexpected character '" + std::string(1, s[i]) + "' in einsum equation");
    (t.ellipsis ? t.letters_after : t.letters_before).push_back(l);
  }
  return t;
}

template <typename T>
struct Operand {
  std::vector<T> own;  // storage when the operand is an intermediate
  const T* data = nullptr;
  std::vector<int> labels;
  std::vector<int64_t> shape;
};

template <typename T>
Operand<T> permuted(Operand<T> op, const std::vector<int>& order) {
  if (order == op.labels) return op;
  std::vector<size_t> perm;
  std::vector<int64_t> shape;
  for (int l : order) {
    size_t d = static_cast<size_t>(std::find(op.labels.begin(), op.labels.end(), l) - op.labels.begin());
    perm.push_back(d);
    shape.push_back(op.shape[d]);
  }
  Operand<T> r;
  r.own.resize(static_cast<size_t>(product(op.shape)));
  transposeCopy<T>(op.data, op.shape, perm, r.own.data());
  r.data = r.own.data();
  r.labels = order;
  r.shape = std::move(shape);
  return r;
}

// Takes the diagonal over repeated labels (sizes already checked equal) and drops size-1 dims.
template <typename T>
Operand<T> diagonalAndSqueeze(Operand<T> op) {
  std::vector<int> labels;
  std::vector<int64_t> shape, strides;
  std::vector<int64_t> in_strides(op.shape.size(), 1);
  for (size_t d = op.shape.size(); d-- > 1;) in_strides[d - 1] = in_strides[d] * op.shape[d];
  bool copy = false;
  for (size_t d = 0; d < op.labels.size(); ++d) {
    auto it = std::find(labels.begin(), labels.end(), op.labels[d]);
    if (it != labels.end()) {
      strides[static_cast<size_t>(it - labels.begin())] += in_strides[d];
      copy = true;
    } else {
      labels.push_back(op.labels[d]);
      shape.push_back(op.shape[d]);
      strides.push_back(in_strides[d]);
    }
  }
  // Size-1 dims carry no data: dropping them lets a broadcast label live in one operand only.
  std::vector<int> kept_labels;
  std::vector<int64_t> kept_shape, kept_strides;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (shape[i] == 1) continue;
    kept_labels.push_back(labels[i]);
    kept_shape.push_back(shape[i]);
    kept_strides.push_back(strides[i]);
  }
  if (copy) {
    Operand<T> r;
    const int64_t total = product(kept_shape);
    r.own.resize(static_cast<size_t>(total));
    std::vector<int64_t> index(kept_shape.size(), 0);
    int64_t offset = 0;
    for (int64_t i = 0; i < total; ++i) {
      r.own[static_cast<size_t>(i)] = op.data[offset];
      for (size_t d = kept_shape.size(); d-- > 0;) {
        offset += kept_strides[d];
        if (++index[d] < kept_shape[d]) break;
        offset -= kept_strides[d] * kept_shape[d];
        index[d] = 0;
      }
    }
    r.data = r.own.data();
    op = std::move(r);
  }
  op.labels = std::move(kept_labels);
  op.shape = std::move(kept_shape);
  return op;
}

// Sums out every label of op that is not in `keep`.
template <typename T>
Operand<T> sumOut(Operand<T> op, const std::set<int>& keep) {
  std::vector<int> kept, summed;
  for (int l : op.labels) (keep.count(l) ? kept : summed).push_back(l);
  if (summed.empty()) return op;
  std::vector<int> order = kept;
  order.insert(order.end(), summed.begin(), summed.end());
  Operand<T> p = permuted(std::move(op), order);
  const int64_t rows = product(p.shape, 0, kept.size()), n = product(p.shape, kept.size());
  Operand<T> r;
  r.own.resize(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) {
    if constexpr (std::is_floating_point_v<T>) {
      r.own[static_cast<size_t>(i)] = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(p.data + i * n, n).sum();
    } else {
      T s = 0;
      for (int64_t j = 0; j < n; ++j) s += p.data[i * n + j];
      r.own[static_cast<size_t>(i)] = s;
    }
  }
  r.data = r.own.data();
  r.labels = kept;
  r.shape.assign(p.shape.begin(), p.shape.begin() + static_cast<std::ptrdiff_t>(kept.size()));
  return r;
}

bool startsWith(const std::vector<int>& labels, const std::vector<int>& a, const std::vector<int>& b, const std::vector<int>& c) {
  std::vector<int> all = a;
  all.insert(all.end(), b.begin(), b.end());
  all.insert(all.end(), c.begin(), c.end());
  return all == labels;
}

// A (labels) x B (labels) -> [batch, freeA, freeB], contracting shared labels not in keep.
template <typename T>
Operand<T> contract(Operand<T> a, Operand<T> b, const std::set<int>& keep, int threads) {
  auto in = [](const Operand<T>& o, int l) { return std::find(o.labels.begin(), o.labels.end(), l) != o.labels.end(); };
  std::set<int> keep_a = keep, keep_b = keep;
  for (int l : b.labels) keep_a.insert(l);
  for (int l : a.labels) keep_b.insert(l);
  a = sumOut(std::move(a), keep_a);
  b = sumOut(std::move(b), keep_b);
  auto sizeOf = [](const Operand<T>& o, int l) {
    return o.shape[static_cast<size_t>(std::find(o.labels.begin(), o.labels.end(), l) - o.labels.begin())];
  };
  // Label groups, in the order of a (or of b where a lacks them); try b's order when a's needs a copy.
  auto groups = [&](const Operand<T>& first, std::vector<int>& batch, std::vector<int>& contr) {
    batch.clear();
    contr.clear();
    for (int l : first.labels)
      if (in(a, l) && in(b, l)) (keep.count(l) ? batch : contr).push_back(l);
  };
  std::vector<int> free_a, free_b;
  for (int l : a.labels)
    if (!in(b, l)) free_a.push_back(l);
  for (int l : b.labels)
    if (!in(a, l)) free_b.push_back(l);
  std::vector<int> batch, contr;
  bool ta = false, tb = false;
  int best_copies = 3;
  for (const Operand<T>* first : {&a, &b}) {
    std::vector<int> bt, ct;
    groups(*first, bt, ct);
    bool a_plain = startsWith(a.labels, bt, free_a, ct), a_trans = startsWith(a.labels, bt, ct, free_a);
    bool b_plain = startsWith(b.labels, bt, ct, free_b), b_trans = startsWith(b.labels, bt, free_b, ct);
    int copies = (a_plain || a_trans ? 0 : 1) + (b_plain || b_trans ? 0 : 1);
    if (copies < best_copies) {
      best_copies = copies;
      batch = bt;
      contr = ct;
      ta = !a_plain && a_trans;
      tb = !b_plain && b_trans;
    }
  }
  std::vector<int> order_a = batch, order_b = batch;
  if (ta) order_a.insert(order_a.end(), contr.begin(), contr.end()), order_a.insert(order_a.end(), free_a.begin(), free_a.end());
  else order_a.insert(order_a.end(), free_a.begin(), free_a.end()), order_a.insert(order_a.end(), contr.begin(), contr.end());
  if (tb) order_b.insert(order_b.end(), free_b.begin(), free_b.end()), order_b.insert(order_b.end(), contr.begin(), contr.end());
  else order_b.insert(order_b.end(), contr.begin(), contr.end()), order_b.insert(order_b.end(), free_b.begin(), free_b.end());
  a = permuted(std::move(a), order_a);
  b = permuted(std::move(b), order_b);
  int64_t count = 1, M = 1, N = 1, K = 1;
  Operand<T> r;
  for (int l : batch) count *= sizeOf(a, l), r.labels.push_back(l), r.shape.push_back(sizeOf(a, l));
  for (int l : free_a) M *= sizeOf(a, l), r.labels.push_back(l), r.shape.push_back(sizeOf(a, l));
  for (int l : free_b) N *= sizeOf(b, l), r.labels.push_back(l), r.shape.push_back(sizeOf(b, l));
  for (int l : contr) K *= sizeOf(a, l);
  r.own.resize(static_cast<size_t>(count * M * N));
  r.data = r.own.data();
  std::vector<int64_t> a_off(static_cast<size_t>(count)), b_off(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) a_off[static_cast<size_t>(i)] = i * M * K, b_off[static_cast<size_t>(i)] = i * K * N;
  if (count * M * N > 0) batchedGemm<T>(ta, tb, M, N, K, a.data, a_off, b.data, b_off, r.own.data(), threads);
  return r;
}

Status einsum(KernelContext& ctx) {
  std::string eq;
  for (char c : ctx.attrString("equation", "")) if (c != ' ') eq += c;
  const size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  std::vector<Term> terms;
  for (size_t start = 0;;) {
    size_t comma = lhs.find(',', start);
    auto term = parseTerm(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (!term) return term.status().withContext(ctx.node().describe());
    terms.push_back(std::move(term).value());
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (terms.size() != ctx.inputCount()) return ctx.fail("einsum equation has " + std::to_string(terms.size()) + " terms for " + std::to_string(ctx.inputCount()) + " inputs");
  std::vector<const Tensor*> inputs;
  for (size_t i = 0; i < terms.size(); ++i) {
    NNC_ASSIGN_OR_RETURN(const Tensor* t, ctx.requiredInput(i));
    if (t->dtype != ctx.input(0)->dtype) return ctx.fail("einsum inputs have different types");
    inputs.push_back(t);
  }
  // Labels per input dim; ellipsis dims right-aligned across inputs, like numpy broadcasting.
  int64_t ell_rank = 0;
  for (size_t i = 0; i < terms.size(); ++i) {
    const int64_t letters = static_cast<int64_t>(terms[i].letters_before.size() + terms[i].letters_after.size());
    const int64_t rank = static_cast<int64_t>(inputs[i]->shape.size());
    if (terms[i].ellipsis ? rank < letters : rank != letters)
      return ctx.fail("einsum term " + std::to_string(i) + " does not match input rank " + std::to_string(rank));
    if (terms[i].ellipsis) ell_rank = std::max(ell_rank, rank - letters);
  }
  std::vector<std::vector<int>> labels(terms.size());
  std::map<int, int64_t> sizes;
  std::map<int, int> occurrences;
  for (size_t i = 0; i < terms.size(); ++i) {
    auto& l = labels[i];
    l = terms[i].letters_before;
    if (terms[i].ellipsis) {
      const int64_t e = static_cast<int64_t>(inputs[i]->shape.size() - l.size() - terms[i].letters_after.size());
      for (int64_t k = 0; k < e; ++k) l.push_back(kEllipsisBase + static_cast<int>(ell_rank - e + k));
    }
    l.insert(l.end(), terms[i].letters_after.begin(), terms[i].letters_after.end());
    for (size_t d = 0; d < l.size(); ++d) {
      const int64_t s = inputs[i]->shape[d];
      auto [it, fresh] = sizes.emplace(l[d], s);
      if (!fresh && it->second != s) {
        if (it->second != 1 && s != 1) return ctx.fail("einsum label sizes " + std::to_string(it->second) + " and " + std::to_string(s) + " differ");
        if (it->second == 1) it->second = s;  // 1 broadcasts to the other size (even 0)
      }
      ++occurrences[l[d]];
    }
  }
  std::vector<int> out_labels;
  if (arrow != std::string::npos) {
    auto term = parseTerm(eq.substr(arrow + 2));
    if (!term) return term.status().withContext(ctx.node().describe());
    out_labels = term->letters_before;
    if (term->ellipsis)
      for (int64_t k = 0; k < ell_rank; ++k) out_labels.push_back(kEllipsisBase + static_cast<int>(k));
    out_labels.insert(out_labels.end(), term->letters_after.begin(), term->letters_after.end());
  } else {
    for (int64_t k = 0; k < ell_rank; ++k) out_labels.push_back(kEllipsisBase + static_cast<int>(k));
    std::vector<int> once;
    for (const auto& [l, n] : occurrences)
      if (n == 1 && l < kEllipsisBase) once.push_back(l);
    std::sort(once.begin(), once.end(), [](int x, int y) { return labelChar(x) < labelChar(y); });
    out_labels.insert(out_labels.end(), once.begin(), once.end());
  }
  std::set<int> out_set(out_labels.begin(), out_labels.end());
  if (out_set.size() != out_labels.size()) return ctx.fail("einsum output repeats a label");
  for (int l : out_labels)
    if (!sizes.count(l)) return ctx.fail("einsum output label '" + std::string(1, labelChar(l)) + "' is not an input label");
  for (size_t i = 0; i < terms.size(); ++i)  // repeated labels in one term need equal sizes
    for (size_t d = 0; d < labels[i].size(); ++d)
      for (size_t e = d + 1; e < labels[i].size(); ++e)
        if (labels[i][d] == labels[i][e] && inputs[i]->shape[d] != inputs[i]->shape[e])
          return ctx.fail("einsum repeated label has different sizes");
  std::vector<int64_t> out_shape;
  for (int l : out_labels) out_shape.push_back(sizes[l]);

  Tensor out;
  const int threads = ctx.threads();
  bool handled = dispatchGemmTypes(inputs[0]->dtype, [&](auto zero) {
    using T = decltype(zero);
    std::vector<Operand<T>> ops;
    for (size_t i = 0; i < inputs.size(); ++i) {
      Operand<T> op;
      op.data = inputs[i]->dataAs<T>();
      op.labels = labels[i];
      op.shape = inputs[i]->shape;
      ops.push_back(diagonalAndSqueeze(std::move(op)));
    }
    // keep_after[i]: labels needed once operands 0..i are combined.
    std::vector<std::set<int>> keep_after(ops.size(), out_set);
    for (size_t i = ops.size(); i-- > 1;) {
      keep_after[i - 1] = keep_after[i];
      for (int l : ops[i].labels) keep_after[i - 1].insert(l);
    }
    Operand<T> acc = sumOut(std::move(ops[0]), keep_after[0]);
    for (size_t i = 1; i < ops.size(); ++i) acc = contract(std::move(acc), std::move(ops[i]), keep_after[i], threads);
    acc = sumOut(std::move(acc), out_set);
    T* y = nullptr;
    out = allocate<T>(inputs[0]->dtype, out_shape, &y);
    std::vector<int> order;  // output labels the result holds (the rest are size 1)
    for (int l : out_labels)
      if (std::find(acc.labels.begin(), acc.labels.end(), l) != acc.labels.end()) order.push_back(l);
    const int64_t total = product(out_shape);
    if (total == 0) return;
    Operand<T> fin = permuted(std::move(acc), order);
    std::memcpy(y, fin.data, static_cast<size_t>(total) * sizeof(T));
  });
  if (!handled) return ctx.unsupportedHere("type " + dtypeName(inputs[0]->dtype) + " is not supported");
  ctx.setOutput(0, std::move(out));
  return Status::ok();
}

}  // namespace

void registerEinsumOps(OpRegistry& registry) { registry.add({"", "Einsum", 12, 1000, einsum}); }

}  // namespace nnc::ops::linalg
