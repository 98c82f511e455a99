// Finds the QDQ groups of a graph (see qdq_fusion.h). A group is fused only when the integer
// kernel computes what the float graph means: scalar activation scales and zero points, 8-bit
// tensors, weight scales per tensor or per output channel on the axis the kernel expects, an
// int32 bias whose scale is x_scale * w_scale with zero point 0, and intermediates nobody else
// reads (graph outputs included).
#include "qdq_fusion.h"

#include <algorithm>
#include <cmath>

#include "ops/qdq_ops.h"
#include "ops/qgemm_u8s8.h"

namespace nnc {
namespace {

bool is8Bit(int32_t elem_type) {
  return elem_type == static_cast<int32_t>(DType::kInt8) || elem_type == static_cast<int32_t>(DType::kUInt8);
}

// The element type of a value: from its constant, or from its declared type.
int32_t elemType(const Value* v) {
  if (v == nullptr) return 0;
  if (const Tensor* t = v->initializer()) return static_cast<int32_t>(t->dtype);
  return v->type.kind == ValueType::Kind::kTensor ? v->type.elem_type : 0;
}

// The element type of a DequantizeLinear's input: declared, or (ONNX requires x and x_zero_point to
// share a type) its zero point's, or that of the QuantizeLinear producing it (its zero point's, uint8
// without one).
int32_t dequantizeInputType(const Node* dq) {
  if (int32_t t = elemType(dq->input(0))) return t;
  if (int32_t t = elemType(dq->input(2))) return t;
  const Node* q = dq->input(0)->producer();
  if (q && q->domain.empty() && q->op_type == "QuantizeLinear")
    return q->input(2) ? elemType(q->input(2)) : static_cast<int32_t>(DType::kUInt8);
  return 0;
}

// The number of elements of a constant, or of a value with a fully known static shape; -1 otherwise.
int64_t knownCount(const Value* v) {
  if (v == nullptr) return -1;
  if (const Tensor* t = v->initializer()) return t->elementCount();
  if (v->type.kind != ValueType::Kind::kTensor || !v->type.has_shape) return -1;
  int64_t n = 1;
  for (const Dim& d : v->type.dims) {
    if (!d.value) return -1;
    n *= *d.value;
  }
  return n;
}

// The one node reading `v`, when it is read exactly once and is not a graph output.
const Node* soleReader(const Value* v) {
  if (v == nullptr || v->isGraphOutput() || v->uses().size() != 1) return nullptr;
  return v->uses()[0].node;
}

const Node* producerOf(const Value* v, const char* op_type) {
  const Node* p = v ? v->producer() : nullptr;
  return p && p->domain.empty() && p->op_type == op_type ? p : nullptr;
}

// A DequantizeLinear the kernels can read directly: 8-bit (or int32 for a bias) input, no blocks,
// scale with `scale_count` elements (1: per tensor) on axis `axis` when per channel.
bool plainDequantize(const Node* dq, int64_t opset, int64_t scale_count, int64_t axis, bool bias) {
  if (dq == nullptr || dq->inputs().size() < 2 || dq->input(0) == nullptr || dq->input(1) == nullptr) return false;
  if (opset >= 21 && dq->attrInt("block_size", 0) != 0) return false;
  const int32_t t = dequantizeInputType(dq);
  if (bias ? t != static_cast<int32_t>(DType::kInt32) : !is8Bit(t)) return false;
  if (elemType(dq->input(1)) != static_cast<int32_t>(DType::kFloat)) return false;
  const int64_t n = knownCount(dq->input(1));
  if (n != 1 && n != scale_count) return false;
  if (n > 1) {
    const Value* x = dq->input(0);
    const int64_t rank = x->initializer() ? static_cast<int64_t>(x->initializer()->shape.size()) : -1;
    int64_t a = dq->attrInt("axis", 1);
    if (a < 0) a += rank;
    if (a != axis) return false;
  }
  const Value* zp = dq->input(2);
  if (zp != nullptr && knownCount(zp) != n && knownCount(zp) != 1) return false;
  return true;
}

// The bias dequantizes with zero point 0 and scale x_scale * w_scale (per channel), so its int32
// values add straight to the accumulator. Needs the scales as constants to check.
bool biasMatches(const Node* dq_b, const Node* dq_x, const Node* dq_w) {
  const Tensor* bs = dq_b->input(1)->initializer();
  const Tensor* xs = dq_x->input(1)->initializer();
  const Tensor* ws = dq_w->input(1)->initializer();
  if (!bs || !xs || !ws || bs->dtype != DType::kFloat || xs->dtype != DType::kFloat || ws->dtype != DType::kFloat) return false;
  if (const Value* zp = dq_b->input(2)) {
    const Tensor* z = zp->initializer();
    if (!z || z->dtype != DType::kInt32) return false;
    for (int64_t i = 0; i < z->elementCount(); ++i)
      if (z->dataAs<int32_t>()[i] != 0) return false;
  }
  const int64_t n = std::max(bs->elementCount(), ws->elementCount());
  for (int64_t i = 0; i < n; ++i) {
    const float b = bs->dataAs<float>()[bs->elementCount() == 1 ? 0 : i];
    const float want = xs->dataAs<float>()[0] * ws->dataAs<float>()[ws->elementCount() == 1 ? 0 : i];
    if (!(std::fabs(b - want) <= 1e-6f * std::fabs(want))) return false;
  }
  return true;
}

std::unique_ptr<Node> fusedNode(const Node& op, const char* fused_op, bool relu) {
  auto node = std::make_unique<Node>();
  node->op_type = fused_op;
  node->domain = ops::kQdqDomain;
  node->name = op.name;
  for (const Attribute& a : op.attributes) {
    // Conv's attributes are ints, int lists and strings (auto_pad); MatMul has none.
    Attribute c;
    c.name = a.name;
    c.type = a.type;
    c.i = a.i;
    c.f = a.f;
    c.s = a.s;
    c.ints = a.ints;
    c.floats = a.floats;
    c.strings = a.strings;
    node->attributes.push_back(std::move(c));
  }
  Attribute r;
  r.name = "relu";
  r.type = AttrType::kInt;
  r.i = relu ? 1 : 0;
  node->attributes.push_back(std::move(r));
  return node;
}

// The weights packed for the u8 x s8 kernels (an attribute of the fused node, so they are packed
// once per Session, not per run); an empty tensor when they can't be (not int8, a zero point that
// is not 0, values outside [-64, 64], no AVX2): the kernels then use the general integer GEMM.
Tensor packWeights(const Node& op, const Node& dq_w, bool trans_b) {
  const Tensor& w = *dq_w.input(0)->initializer();
  if (w.dtype != DType::kInt8) return Tensor();
  if (const Value* zp = dq_w.input(2)) {
    const Tensor* z = zp->initializer();
    if (z == nullptr || z->dtype != DType::kInt8) return Tensor();
    for (int64_t i = 0; i < z->elementCount(); ++i)
      if (z->dataAs<int8_t>()[i] != 0) return Tensor();
  }
  const int8_t* data = w.dataAs<int8_t>();
  if (op.op_type == "Conv") {
    const int64_t group = op.attrInt("group", 1), M = w.shape[0], K = w.elementCount() / std::max<int64_t>(M, 1);
    return ops::packU8S8Weights(data, M, K, K, 1, ops::WeightRole::kBroadcast, group);
  }
  // MatMul / Gemm: B is [K, N], or [N, K] with transB.
  const int64_t rows = w.shape[0], cols = w.shape[1];
  return trans_b ? ops::packU8S8Weights(data, rows, cols, cols, 1, ops::WeightRole::kPanel)
                 : ops::packU8S8Weights(data, cols, rows, 1, cols, ops::WeightRole::kPanel);
}

bool isFloatValue(const Value* v) { return elemType(v) == static_cast<int32_t>(DType::kFloat); }


// The QuantizeLinear that is the only reader of `op`'s output, with a scalar float scale and a scalar
// 8-bit zero point (or none), saturating, not block-wise; nullptr otherwise.
const Node* soleQuantize(const Node* op, int64_t opset) {
  const Node* q = soleReader(op->output(0));
  if (!q || !q->domain.empty() || q->op_type != "QuantizeLinear" || q->input(0) == nullptr || q->input(1) == nullptr ||
      q->outputs().size() != 1 || knownCount(q->input(1)) != 1 || !isFloatValue(q->input(1)) ||
      (q->input(2) != nullptr && (!is8Bit(elemType(q->input(2))) || knownCount(q->input(2)) != 1)) ||
      (opset >= 19 && q->attrInt("saturate", 1) != 1) || (opset >= 21 && q->attrInt("block_size", 0) != 0))
    return nullptr;
  return q;
}

// The 8-bit type a QuantizeLinear writes (its zero point's; uint8 without one).
int32_t quantizeOutputType(const Node* q) {
  return q->input(2) ? elemType(q->input(2)) : static_cast<int32_t>(DType::kUInt8);
}

// Whether a scalar scale / zero point pair of `a` equals that of `b` (same values, constants).
bool sameScalar(const Value* a, const Value* b) {
  if (a == b) return true;
  if (a == nullptr || b == nullptr) return false;
  const Tensor* ta = a->initializer();
  const Tensor* tb = b->initializer();
  return ta && tb && ta->elementCount() == 1 && tb->elementCount() == 1 && sameContents(*ta, *tb);
}

std::unique_ptr<Node> copyOf(const Node& op, const char* domain, const char* op_type) {
  auto node = fusedNode(op, op_type, false);
  node->domain = domain;
  node->attributes.pop_back();  // the "relu" flag fusedNode adds
  return node;
}

// DequantizeLinear(a), DequantizeLinear(b) -> Add -> QuantizeLinear, all scalar parameters of one
// 8-bit type: ONNX Runtime's QLinearAdd (its kernel here is bit-exact with MLAS), as ORT fuses it.
// Other Adds and Muls of two DequantizeLinears (mixed input types, no QuantizeLinear: a float
// output): QdqBinary, the float arithmetic in one pass.
// DequantizeLinear(x) -> MaxPool -> QuantizeLinear with the same scale and zero point: MaxPool on
// the 8-bit values (max commutes with the monotonic dequantization, and requantizing a dequantized
// value with the same parameters gives it back).
void findElementwiseGroups(const Graph& graph, int64_t opset, std::vector<QdqGroup>& groups) {
  for (const Node* op : graph.nodes()) {
    if (!op->domain.empty() || op->outputs().size() != 1) continue;
    const bool add = op->op_type == "Add", mul = op->op_type == "Mul", pool = op->op_type == "MaxPool";
    if (!add && !mul && !pool) continue;
    const Node* q = soleQuantize(op, opset);
    // Without a QuantizeLinear the output is float: the DequantizeLinears have float scales.
    if ((q == nullptr && pool) || op->inputs().size() != (pool ? 1u : 2u)) continue;
    std::vector<const Node*> dqs;
    for (const Value* in : op->inputs()) {
      const Node* dq = producerOf(in, "DequantizeLinear");
      if (!dq || !plainDequantize(dq, opset, 1, 0, false)) break;
      dqs.push_back(dq);
    }
    if (dqs.size() != op->inputs().size()) continue;
    bool same_types = q != nullptr;
    for (const Node* dq : dqs) same_types = same_types && dequantizeInputType(dq) == quantizeOutputType(q);
    if (pool && !same_types) continue;
    QdqGroup g;
    g.quantize = q ? q : op;
    g.absorbed = {op};
    if (q) g.absorbed.push_back(q);
    for (const Node* dq : dqs)
      if (soleReader(dq->output(0)) == op && std::count(dqs.begin(), dqs.end(), dq) == 1) g.absorbed.push_back(dq);
    if (!pool) {
      if (same_types && add) {
        g.fused = copyOf(*op, "com.microsoft", "QLinearAdd");
      } else {
        g.fused = copyOf(*op, ops::kQdqDomain, ops::kQdqBinaryOp);
        Attribute m;
        m.name = "mul";
        m.type = AttrType::kInt;
        m.i = mul ? 1 : 0;
        g.fused->attributes.push_back(std::move(m));
      }
      g.inputs = {dqs[0]->input(0), dqs[0]->input(1), dqs[0]->input(2), dqs[1]->input(0), dqs[1]->input(1),
                  dqs[1]->input(2), q ? q->input(1) : nullptr, q ? q->input(2) : nullptr};
    } else {
      if (!sameScalar(dqs[0]->input(1), q->input(1)) || !sameScalar(dqs[0]->input(2), q->input(2))) continue;
      g.fused = copyOf(*op, "", "MaxPool");
      g.inputs = {dqs[0]->input(0)};
    }
    g.output = q ? q->output(0) : op->output(0);
    groups.push_back(std::move(g));
  }
}

}  // namespace

std::vector<QdqGroup> findQdqGroups(const Graph& graph, int64_t opset) {
  std::vector<QdqGroup> groups;
  if (opset < 10) return groups;
  for (const Node* op : graph.nodes()) {
    if (!op->domain.empty() || (op->op_type != "Conv" && op->op_type != "MatMul" && op->op_type != "Gemm")) continue;
    const bool conv = op->op_type == "Conv", gemm = op->op_type == "Gemm";
    if (op->inputs().size() < 2 || op->outputs().size() != 1) continue;
    if (gemm && op->attrInt("transA", 0) != 0) continue;
    const bool trans_b = gemm && op->attrInt("transB", 0) != 0;
    const Node* dq_x = producerOf(op->input(0), "DequantizeLinear");
    const Node* dq_w = producerOf(op->input(1), "DequantizeLinear");
    if (!dq_x || !dq_w || !dq_w->input(0) || !dq_w->input(0)->initializer()) continue;
    const Tensor& w = *dq_w->input(0)->initializer();
    // Per-channel weight scales: Conv on axis 0 (output channels), MatMul/Gemm on the axis of N
    // (1 for a [K, N] B, 0 for Gemm's transposed [N, K]).
    if (conv ? w.shape.size() < 3 : w.shape.size() != 2) continue;
    const int64_t channel_axis = conv || trans_b ? 0 : 1;
    const int64_t channels = w.shape[static_cast<size_t>(channel_axis)];
    if (!plainDequantize(dq_x, opset, 1, 0, false) || !plainDequantize(dq_w, opset, channels, channel_axis, false)) continue;
    // The bias: an int32 DequantizeLinear with scale x_s * w_s (Conv; Gemm with alpha == beta),
    // else (Gemm with a float output) any float C.
    const Node* dq_b = nullptr;
    const Value* c_float = nullptr;
    if ((conv || gemm) && op->input(2) != nullptr) {
      dq_b = producerOf(op->input(2), "DequantizeLinear");
      const bool int_bias = dq_b && plainDequantize(dq_b, opset, channels, 0, true) && biasMatches(dq_b, dq_x, dq_w) &&
                            (!gemm || op->attrFloat("alpha", 1.0f) == op->attrFloat("beta", 1.0f));
      if (!int_bias) {
        if (conv || !isFloatValue(op->input(2))) continue;
        dq_b = nullptr;
        c_float = op->input(2);
      }
    }
    // op -> [Relu] -> QuantizeLinear, each intermediate read once; or (MatMul, Gemm) op alone with a
    // float output, computed from the int32 sums.
    const Node* next = soleReader(op->output(0));
    const Node* relu = next && next->domain.empty() && next->op_type == "Relu" ? next : nullptr;
    const Node* q = relu ? soleReader(relu->output(0)) : next;
    if (!q || !q->domain.empty() || q->op_type != "QuantizeLinear" || q->input(0) == nullptr || q->input(1) == nullptr ||
        q->outputs().size() != 1 || knownCount(q->input(1)) != 1 || !isFloatValue(q->input(1)) ||
        (q->input(2) != nullptr && (!is8Bit(elemType(q->input(2))) || knownCount(q->input(2)) != 1)) ||
        (opset >= 19 && q->attrInt("saturate", 1) != 1) || (opset >= 21 && q->attrInt("block_size", 0) != 0))
      q = relu = nullptr;
    if (q == nullptr && conv) continue;  // (the output is float: the DequantizeLinears have float scales)
    if (q != nullptr && c_float != nullptr) continue;  // a float C can't be added to int32 sums exactly
    Tensor packed = packWeights(*op, *dq_w, trans_b);
    // Gemm and float outputs run only on the packed kernels.
    if (packed.dtype == DType::kUndefined && (gemm || q == nullptr)) continue;

    QdqGroup g;
    g.quantize = q ? q : op;
    g.absorbed = {op};
    if (q) g.absorbed.push_back(q);
    if (relu) g.absorbed.push_back(relu);
    for (const Node* dq : {dq_x, dq_w, dq_b})
      if (dq && soleReader(dq->output(0)) == op) g.absorbed.push_back(dq);
    g.fused = fusedNode(*op, conv ? ops::kQdqConvOp : gemm ? ops::kQdqGemmOp : ops::kQdqMatMulOp, relu != nullptr);
    if (packed.dtype != DType::kUndefined) {
      Attribute a;
      a.name = ops::kPackedWeightsAttr;
      a.type = AttrType::kTensor;
      a.t = std::move(packed);
      g.fused->attributes.push_back(std::move(a));
    }
    g.inputs = {dq_x->input(0), dq_x->input(1), dq_x->input(2), dq_w->input(0), dq_w->input(1), dq_w->input(2),
                q ? q->input(1) : nullptr, q ? q->input(2) : nullptr, dq_b ? dq_b->input(0) : nullptr, c_float};
    g.output = q ? q->output(0) : op->output(0);
    groups.push_back(std::move(g));
  }
  findElementwiseGroups(graph, opset, groups);
  return groups;
}

}  // namespace nnc
