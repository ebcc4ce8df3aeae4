// Fused CPU kernels for BERT on TensorFlow's native library (the course's "tensorflow"
// engine), loaded next to tfjs-node's addon by lib/runtime/native_kernels.ts.
//
// Why: in eager execution every TensorFlow op is one pass over memory. tfjs composes exact GELU
// and LayerNorm from 5-12 such ops each (forward and backward), which cost a BERT training step
// more time than its matrix products do. Each kernel here is one pass (two for LayerNorm's
// backward), vectorized by Eigen and split over TensorFlow's intra-op threads, like TensorFlow's
// own element-wise kernels.
//
// Built by tools/setup/setup_native.ts with g++ against the headers of the TensorFlow wheel whose
// libtensorflow_framework the addon loads (a C++ library must match its TensorFlow exactly).
//
// Reductions (LayerNorm's dγ, dβ) sum fixed row blocks in a fixed order, so results do not
// depend on how threads were scheduled: the same inputs give the same bits on every run.
//
// Two kernels serve the "tensorflow" inference engine's graph (lib/models/tf_graph): attention's
// whole core, softmax(scale·QKᵀ + mask)·V per head, read straight from the fused QKV projection
// and written with the heads merged, so no split, transpose, batched GEMM or softmax op runs; and
// a sublayer's residual sum with its LayerNorm. The graph's dense layers stay TensorFlow's own
// fused oneDNN MatMul, which measured faster than an Eigen GEMM here.
#define EIGEN_USE_THREADS
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "unsupported/Eigen/CXX11/Tensor"

namespace course {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::shape_inference::InferenceContext;
using CPUDevice = Eigen::ThreadPoolDevice;

constexpr float kSqrtHalf = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;

absl::Status SameAsFirstInput(InferenceContext* c) {
  c->set_output(0, c->input(0));
  return absl::OkStatus();
}

REGISTER_OP("CourseGelu")
    .Input("x: float")
    .Output("y: float")
    .SetShapeFn(SameAsFirstInput)
    .Doc("Exact GELU, x * Phi(x) with Phi(x) = 0.5 * (1 + erf(x / sqrt(2))).");

REGISTER_OP("CourseGeluGrad")
    .Input("dy: float")
    .Input("x: float")
    .Output("dx: float")
    .SetShapeFn(SameAsFirstInput)
    .Doc("dy * (Phi(x) + x * phi(x)), the gradient of exact GELU at x.");

REGISTER_OP("CourseDropout")
    .Input("x: float")
    .Input("uniform: float")
    .Attr("rate: float")
    .Output("y: float")
    .SetShapeFn(SameAsFirstInput)
    .Doc("Inverted dropout with given uniform [0, 1) draws: x / (1 - rate) where uniform >= rate, "
         "else 0. Its gradient is the same op applied to dy with the same draws.");

REGISTER_OP("CourseMaskedSoftmax")
    .Input("scores: float")
    .Input("mask_bias: float")
    .Attr("scale: float")
    .Output("probs: float")
    .SetShapeFn(SameAsFirstInput)
    .Doc("Attention probabilities softmax(scale * scores + mask_bias) over the last axis; scores "
         "[b, heads, queries, keys], mask_bias [b, 1, 1, keys] (0 or a large negative number).");

REGISTER_OP("CourseSoftmaxGrad")
    .Input("dprobs: float")
    .Input("probs: float")
    .Attr("scale: float")
    .Output("dscores: float")
    .SetShapeFn(SameAsFirstInput)
    .Doc("scale * probs * (dprobs - sum(dprobs * probs)) per row: CourseMaskedSoftmax's gradient "
         "with respect to its scores.");

REGISTER_OP("CourseLayerNorm")
    .Input("x: float")
    .Input("gamma: float")
    .Input("beta: float")
    .Attr("epsilon: float")
    .Output("y: float")
    .Output("mean: float")
    .Output("rstd: float")
    .SetShapeFn([](InferenceContext* c) {
      c->set_output(0, c->input(0));
      c->set_output(1, c->UnknownShapeOfRank(1));
      c->set_output(2, c->UnknownShapeOfRank(1));
      return absl::OkStatus();
    })
    .Doc("LayerNorm over the last axis with biased variance (torch.nn.LayerNorm); mean and "
         "1/sqrt(var + epsilon) per row are returned for the backward pass.");

REGISTER_OP("CourseLayerNormGrad")
    .Input("dy: float")
    .Input("x: float")
    .Input("gamma: float")
    .Input("mean: float")
    .Input("rstd: float")
    .Output("dx: float")
    .Output("dgamma: float")
    .Output("dbeta: float")
    .SetShapeFn([](InferenceContext* c) {
      c->set_output(0, c->input(0));
      c->set_output(1, c->input(2));
      c->set_output(2, c->input(2));
      return absl::OkStatus();
    });

REGISTER_OP("CourseAddLayerNorm")
    .Input("x: float")
    .Input("residual: float")
    .Input("gamma: float")
    .Input("beta: float")
    .Attr("epsilon: float")
    .Output("y: float")
    .SetShapeFn(SameAsFirstInput)
    .Doc("LayerNorm(x + residual) over the last axis, as BERT's sublayers end (inference: no "
         "statistics are kept for a backward pass).");

REGISTER_OP("CourseAttention")
    .Input("qkv: float")
    .Input("mask_bias: float")
    .Attr("heads: int >= 1")
    .Attr("scale: float")
    .Output("context: float")
    .SetShapeFn([](InferenceContext* c) {
      tensorflow::shape_inference::DimensionHandle hidden;
      TF_RETURN_IF_ERROR(c->Divide(c->Dim(c->input(0), 1), 3, true, &hidden));
      c->set_output(0, c->Matrix(c->Dim(c->input(0), 0), hidden));
      return absl::OkStatus();
    })
    .Doc("Self-attention without dropout (inference): qkv [batch * seq, 3 * hidden] holds query, "
         "key and value side by side, rows batch-major; mask_bias [batch, 1, 1, seq] is added to "
         "the scores. context [batch * seq, hidden] = softmax(scale * Q Kᵀ + mask_bias) V per head, "
         "heads side by side, i.e. already merged.");

class GeluOp : public OpKernel {
 public:
  explicit GeluOp(OpKernelConstruction* c) : OpKernel(c) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    Tensor* y = nullptr;
    OP_REQUIRES_OK(ctx, ctx->forward_input_or_allocate_output({0}, 0, x.shape(), &y));
    auto xf = x.flat<float>();
    y->flat<float>().device(ctx->eigen_device<CPUDevice>()) =
        xf * ((xf * kSqrtHalf).erf() * 0.5f + 0.5f);
  }
};

class GeluGradOp : public OpKernel {
 public:
  explicit GeluGradOp(OpKernelConstruction* c) : OpKernel(c) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& dy = ctx->input(0);
    const Tensor& x = ctx->input(1);
    OP_REQUIRES(ctx, dy.shape() == x.shape(),
                absl::InvalidArgumentError("CourseGeluGrad: dy and x differ in shape"));
    Tensor* dx = nullptr;
    OP_REQUIRES_OK(ctx, ctx->forward_input_or_allocate_output({0}, 0, x.shape(), &dx));
    auto xf = x.flat<float>();
    dx->flat<float>().device(ctx->eigen_device<CPUDevice>()) =
        dy.flat<float>() * ((xf * kSqrtHalf).erf() * 0.5f + 0.5f +
                            xf * kInvSqrt2Pi * (xf.square() * -0.5f).exp());
  }
};

class DropoutOp : public OpKernel {
 public:
  explicit DropoutOp(OpKernelConstruction* c) : OpKernel(c) {
    OP_REQUIRES_OK(c, c->GetAttr("rate", &rate_));
    OP_REQUIRES(c, rate_ >= 0.f && rate_ < 1.f,
                absl::InvalidArgumentError("CourseDropout: rate must be in [0, 1)"));
  }
  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    const Tensor& u = ctx->input(1);
    OP_REQUIRES(ctx, x.shape() == u.shape(),
                absl::InvalidArgumentError("CourseDropout: x and uniform differ in shape"));
    Tensor* y = nullptr;
    OP_REQUIRES_OK(ctx, ctx->forward_input_or_allocate_output({0}, 0, x.shape(), &y));
    auto xf = x.flat<float>();
    auto uf = u.flat<float>();
    const float scale = 1.f / (1.f - rate_);
    y->flat<float>().device(ctx->eigen_device<CPUDevice>()) =
        (uf >= uf.constant(rate_)).select(xf * scale, xf.constant(0.f));
  }

 private:
  float rate_;
};

// Units [0, units) split over TensorFlow's intra-op threads, `cost` being one unit's work.
void ParallelFor(OpKernelContext* ctx, int64_t units, int64_t cost,
                 const std::function<void(int64_t, int64_t)>& fn) {
  ctx->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(units, cost, fn);
}

// LayerNorm over fewer elements than this runs on the calling thread: measured on 608 x 256, the
// handoff to TensorFlow's pool cost more than the second core saved (69 vs 39 µs).
constexpr int64_t kInlineElements = int64_t{1} << 18;

// Rows [0, n) of width h, split over the pool only when there are enough of them.
void ParallelRows(OpKernelContext* ctx, int64_t n, int64_t h, int64_t cost_per_element,
                  const std::function<void(int64_t, int64_t)>& fn) {
  if (n * h <= kInlineElements) {
    fn(0, n);
  } else {
    ParallelFor(ctx, n, cost_per_element * h, fn);
  }
}

using RowArray = Eigen::Map<Eigen::Array<float, Eigen::Dynamic, 1>>;
using ConstRowArray = Eigen::Map<const Eigen::Array<float, Eigen::Dynamic, 1>>;

class MaskedSoftmaxOp : public OpKernel {
 public:
  explicit MaskedSoftmaxOp(OpKernelConstruction* c) : OpKernel(c) {
    OP_REQUIRES_OK(c, c->GetAttr("scale", &scale_));
  }
  void Compute(OpKernelContext* ctx) override {
    const Tensor& scores = ctx->input(0);
    const Tensor& mask = ctx->input(1);
    OP_REQUIRES(ctx, scores.dims() == 4,
                absl::InvalidArgumentError("CourseMaskedSoftmax: scores must be [b, heads, q, k]"));
    const int64_t b = scores.dim_size(0), rows_per_batch = scores.dim_size(1) * scores.dim_size(2),
                  k = scores.dim_size(3);
    OP_REQUIRES(ctx, mask.NumElements() == b * k,
                absl::InvalidArgumentError("CourseMaskedSoftmax: mask_bias must be [b, 1, 1, k]"));
    Tensor* probs = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, scores.shape(), &probs));
    const float* sp = scores.flat<float>().data();
    const float* mp = mask.flat<float>().data();
    float* pp = probs->flat<float>().data();
    const float scale = scale_;
    ParallelFor(ctx, b * rows_per_batch, 12 * k, [=](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        ConstRowArray s(sp + r * k, k);
        ConstRowArray m(mp + (r / rows_per_batch) * k, k);
        RowArray p(pp + r * k, k);
        p = s * scale + m;
        p = (p - p.maxCoeff()).exp();
        p *= 1.f / p.sum();
      }
    });
  }

 private:
  float scale_;
};

class SoftmaxGradOp : public OpKernel {
 public:
  explicit SoftmaxGradOp(OpKernelConstruction* c) : OpKernel(c) {
    OP_REQUIRES_OK(c, c->GetAttr("scale", &scale_));
  }
  void Compute(OpKernelContext* ctx) override {
    const Tensor& dprobs = ctx->input(0);
    const Tensor& probs = ctx->input(1);
    OP_REQUIRES(ctx, dprobs.shape() == probs.shape() && probs.dims() >= 1,
                absl::InvalidArgumentError("CourseSoftmaxGrad: dprobs and probs differ in shape"));
    const int64_t k = probs.dim_size(probs.dims() - 1);
    const int64_t n = k == 0 ? 0 : probs.NumElements() / k;
    Tensor* dscores = nullptr;
    OP_REQUIRES_OK(ctx, ctx->forward_input_or_allocate_output({0}, 0, probs.shape(), &dscores));
    const float* dp = dprobs.flat<float>().data();
    const float* pp = probs.flat<float>().data();
    float* dsp = dscores->flat<float>().data();
    const float scale = scale_;
    ParallelFor(ctx, n, 6 * k, [=](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        ConstRowArray d(dp + r * k, k);
        ConstRowArray p(pp + r * k, k);
        const float dot = (d * p).sum();
        RowArray(dsp + r * k, k) = (d - dot) * p * scale;
      }
    });
  }

 private:
  float scale_;
};


// Attention for one (batch, head) at a time, on the fixed-width vectors of GCC's vector
// extensions (one AVX-512 register, two AVX2 ones, four NEON ones). The products are tiny (seq
// by head size), so a GEMM's packing would cost more than they do, and a dot product per
// (query, key) pair would end in a horizontal sum each: instead the keys are copied transposed
// and a block of queries is scored against sixteen keys at once, with every accumulator in a
// register. Padded keys get a bias of −∞, so softmax gives them weight 0 (TensorFlow runs
// kernels with denormals flushed, so their exp costs nothing extra).
namespace attention {

typedef float Vec __attribute__((vector_size(64)));
constexpr int kLanes = 16;
constexpr int kQueryBlock = 4;
constexpr int kOutputBlock = 4;

inline Vec Load(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void Store(float* p, Vec v) { std::memcpy(p, &v, sizeof v); }
inline Vec Splat(float x) { return Vec{} + x; }

// scores[r][j] = q_r · k_j for R consecutive query rows (row stride `row`) and every padded key;
// keys_t is [D][padded].
template <int D, int R>
inline void Scores(const float* q, int64_t row, const float* keys_t, int64_t padded,
                   float* scores) {
  for (int64_t jb = 0; jb < padded; jb += kLanes) {
    Vec acc[R] = {};
    for (int c = 0; c < D; ++c) {
      const Vec k = Load(keys_t + c * padded + jb);
      for (int r = 0; r < R; ++r) acc[r] += Splat(q[r * row + c]) * k;
    }
    for (int r = 0; r < R; ++r) Store(scores + r * padded + jb, acc[r]);
  }
}

// out_r = Σ_j p_rj · v_j for R consecutive query rows.
template <int D, int R>
inline void Weighted(const float* p, int64_t padded, const float* v, int64_t row, int64_t seq,
                     float* out, int64_t out_row) {
  constexpr int kVecs = D / kLanes;
  Vec acc[R][kVecs] = {};
  for (int64_t j = 0; j < seq; ++j) {
    Vec vj[kVecs];
    for (int u = 0; u < kVecs; ++u) vj[u] = Load(v + j * row + u * kLanes);
    for (int r = 0; r < R; ++r) {
      const Vec pj = Splat(p[r * padded + j]);
      for (int u = 0; u < kVecs; ++u) acc[r][u] += pj * vj[u];
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int u = 0; u < kVecs; ++u) Store(out + r * out_row + u * kLanes, acc[r][u]);
  }
}

using Packet = Eigen::internal::packet_traits<float>::type;
constexpr int kPacket = Eigen::internal::unpacket_traits<Packet>::size;

// s = softmax(scale·s + bias) over n entries, n a multiple of kLanes, s and bias 64-byte aligned.
inline void SoftmaxRow(float* s, const float* bias, int64_t n, float scale) {
  using namespace Eigen::internal;
  const Packet sc = pset1<Packet>(scale);
  Packet mx = pset1<Packet>(-std::numeric_limits<float>::infinity());
  for (int64_t j = 0; j < n; j += kPacket) {
    const Packet x = pmadd(pload<Packet>(s + j), sc, pload<Packet>(bias + j));
    pstore(s + j, x);
    mx = pmax(mx, x);
  }
  const Packet m = pset1<Packet>(predux_max(mx));
  Packet sum = pzero(m);
  for (int64_t j = 0; j < n; j += kPacket) {
    const Packet e = pexp(psub(pload<Packet>(s + j), m));
    pstore(s + j, e);
    sum = padd(sum, e);
  }
  const Packet inv = pset1<Packet>(1.f / predux(sum));
  for (int64_t j = 0; j < n; j += kPacket) pstore(s + j, pmul(pload<Packet>(s + j), inv));
}

using AlignedFloats = std::vector<float, Eigen::aligned_allocator<float>>;

// Per-thread scratch for one (batch, head): its keys transposed, its scores, its padded bias;
// rows are padded to whole vectors.
struct Scratch {
  Scratch(int64_t d, int64_t seq)
      : padded((seq + kLanes - 1) / kLanes * kLanes),
        keys_t(d * padded, 0.f),
        scores(seq * padded),
        bias(padded) {}
  int64_t padded;
  AlignedFloats keys_t, scores, bias;
};

// One (batch, head): q, k, v point at its first row's slices (row stride `row`), out at its
// first output row (stride out_row); bias has seq entries.
using AttendFn = void (*)(const float* q, const float* k, const float* v, const float* bias,
                          float* out, int64_t seq, int64_t d, int64_t row, int64_t out_row,
                          float scale, Scratch& scratch);

template <int D>
void AttendHead(const float* q, const float* k, const float* v, const float* bias, float* out,
                int64_t seq, int64_t /*d == D*/, int64_t row, int64_t out_row, float scale,
                Scratch& scratch) {
  const int64_t padded = scratch.padded;
  float* keys_t = scratch.keys_t.data();
  float* scores = scratch.scores.data();
  float* padded_bias = scratch.bias.data();
  for (int64_t j = 0; j < seq; ++j) {
    for (int c = 0; c < D; ++c) keys_t[c * padded + j] = k[j * row + c];
  }
  std::copy(bias, bias + seq, padded_bias);
  std::fill(padded_bias + seq, padded_bias + padded, -std::numeric_limits<float>::infinity());
  int64_t i = 0;
  for (; i + kQueryBlock <= seq; i += kQueryBlock) {
    Scores<D, kQueryBlock>(q + i * row, row, keys_t, padded, scores + i * padded);
  }
  for (; i < seq; ++i) Scores<D, 1>(q + i * row, row, keys_t, padded, scores + i * padded);
  for (i = 0; i < seq; ++i) SoftmaxRow(scores + i * padded, padded_bias, padded, scale);
  for (i = 0; i + kOutputBlock <= seq; i += kOutputBlock) {
    Weighted<D, kOutputBlock>(scores + i * padded, padded, v, row, seq, out + i * out_row,
                              out_row);
  }
  for (; i < seq; ++i) {
    Weighted<D, 1>(scores + i * padded, padded, v, row, seq, out + i * out_row, out_row);
  }
}

// Any other head size: vectorized dot products and multiply-adds along it.
void AttendHeadAnySize(const float* q, const float* k, const float* v, const float* bias,
                       float* out, int64_t seq, int64_t d, int64_t row, int64_t out_row,
                       float scale, Scratch& scratch) {
  float* p = scratch.scores.data();
  for (int64_t i = 0; i < seq; ++i) {
    ConstRowArray qi(q + i * row, d);
    for (int64_t j = 0; j < seq; ++j) p[j] = (qi * ConstRowArray(k + j * row, d)).sum();
    RowArray probs(p, seq);
    probs = probs * scale + ConstRowArray(bias, seq);
    probs = (probs - probs.maxCoeff()).exp();
    probs *= 1.f / probs.sum();
    RowArray o(out + i * out_row, d);
    o.setZero();
    for (int64_t j = 0; j < seq; ++j) o += p[j] * ConstRowArray(v + j * row, d);
  }
}

// The register-blocked path for the head sizes it is compiled for, else the general one.
inline AttendFn AttendFor(int64_t d) {
  switch (d) {
    case 32: return AttendHead<32>;
    case 64: return AttendHead<64>;
    case 128: return AttendHead<128>;
    default: return AttendHeadAnySize;
  }
}

}  // namespace attention

class AttentionOp : public OpKernel {
 public:
  explicit AttentionOp(OpKernelConstruction* c) : OpKernel(c) {
    OP_REQUIRES_OK(c, c->GetAttr("heads", &heads_));
    OP_REQUIRES_OK(c, c->GetAttr("scale", &scale_));
  }
  void Compute(OpKernelContext* ctx) override {
    const Tensor& qkv = ctx->input(0);
    const Tensor& mask = ctx->input(1);
    OP_REQUIRES(ctx, qkv.dims() == 2 && qkv.dim_size(1) % (3 * heads_) == 0,
                absl::InvalidArgumentError(
                    "CourseAttention: qkv must be [batch * seq, 3 * hidden], hidden a multiple of heads"));
    OP_REQUIRES(ctx, mask.dims() >= 1 && mask.NumElements() == qkv.dim_size(0),
                absl::InvalidArgumentError("CourseAttention: mask_bias must be [batch, 1, 1, seq]"));
    const int64_t tokens = qkv.dim_size(0), hidden = qkv.dim_size(1) / 3;
    const int64_t seq = mask.dim_size(mask.dims() - 1);
    OP_REQUIRES(ctx, seq > 0 && tokens % seq == 0,
                absl::InvalidArgumentError("CourseAttention: rows are not batch * seq"));
    const int64_t batch = tokens / seq, heads = heads_, d = hidden / heads;
    Tensor* context = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({tokens, hidden}), &context));
    const float* qp = qkv.flat<float>().data();
    const float* mp = mask.flat<float>().data();
    float* cp = context->flat<float>().data();
    const float scale = scale_;
    const int64_t row = 3 * hidden;
    const attention::AttendFn attend = attention::AttendFor(d);
    ParallelFor(ctx, batch * heads, 4 * seq * seq * d + 12 * seq * seq,
                [=](int64_t begin, int64_t end) {
      attention::Scratch scratch(d, seq);
      for (int64_t unit = begin; unit < end; ++unit) {
        const int64_t bi = unit / heads, h = unit % heads;
        const float* q = qp + bi * seq * row + h * d;
        const float* bias = mp + bi * seq;
        float* out = cp + bi * seq * hidden + h * d;
        attend(q, q + hidden, q + 2 * hidden, bias, out, seq, d, row, hidden, scale, scratch);
      }
    });
  }

 private:
  int64_t heads_;
  float scale_;
};

// Rows are handed to threads in blocks of at least this many elements.
constexpr int64_t kBlockElements = 16384;


// One row of LayerNorm: y = (x − mean)·rstd·γ + β; y may be x itself. Eigen's vectorized sums
// add in an order fixed by h and the row's alignment, so a row always gives the same bits.
void NormalizeRow(const float* x, const float* gamma, const float* beta, int64_t h, float eps,
                  float* y, float* mean, float* rstd) {
  const float inv_h = 1.f / static_cast<float>(h);
  ConstRowArray xr(x, h);
  const float mu = xr.sum() * inv_h;
  const float rs = 1.f / std::sqrt((xr - mu).square().sum() * inv_h + eps);
  RowArray(y, h) = (xr - mu) * rs * ConstRowArray(gamma, h) + ConstRowArray(beta, h);
  *mean = mu;
  *rstd = rs;
}

class LayerNormOp : public OpKernel {
 public:
  explicit LayerNormOp(OpKernelConstruction* c) : OpKernel(c) {
    OP_REQUIRES_OK(c, c->GetAttr("epsilon", &epsilon_));
  }
  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    const Tensor& gamma = ctx->input(1);
    const Tensor& beta = ctx->input(2);
    OP_REQUIRES(ctx, x.dims() >= 1,
                absl::InvalidArgumentError("CourseLayerNorm: x needs at least one axis"));
    const int64_t h = x.dim_size(x.dims() - 1);
    OP_REQUIRES(ctx, gamma.NumElements() == h && beta.NumElements() == h,
                absl::InvalidArgumentError("CourseLayerNorm: gamma and beta need the last axis' size"));
    const int64_t n = h == 0 ? 0 : x.NumElements() / h;
    Tensor *y = nullptr, *mean = nullptr, *rstd = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &y));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({n}), &mean));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, TensorShape({n}), &rstd));
    const float* xp = x.flat<float>().data();
    const float* gp = gamma.flat<float>().data();
    const float* bp = beta.flat<float>().data();
    float* yp = y->flat<float>().data();
    float* mp = mean->flat<float>().data();
    float* rp = rstd->flat<float>().data();
    const float eps = epsilon_;
    ParallelRows(ctx, n, h, 4, [=](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        NormalizeRow(xp + r * h, gp, bp, h, eps, yp + r * h, mp + r, rp + r);
      }
    });
  }

 private:
  float epsilon_;
};

class AddLayerNormOp : public OpKernel {
 public:
  explicit AddLayerNormOp(OpKernelConstruction* c) : OpKernel(c) {
    OP_REQUIRES_OK(c, c->GetAttr("epsilon", &epsilon_));
  }
  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    const Tensor& residual = ctx->input(1);
    const Tensor& gamma = ctx->input(2);
    const Tensor& beta = ctx->input(3);
    OP_REQUIRES(ctx, x.dims() >= 1 && x.shape() == residual.shape(),
                absl::InvalidArgumentError("CourseAddLayerNorm: x and residual differ in shape"));
    const int64_t h = x.dim_size(x.dims() - 1);
    OP_REQUIRES(ctx, gamma.NumElements() == h && beta.NumElements() == h,
                absl::InvalidArgumentError("CourseAddLayerNorm: gamma and beta need the last axis' size"));
    const int64_t n = h == 0 ? 0 : x.NumElements() / h;
    Tensor* y = nullptr;
    OP_REQUIRES_OK(ctx, ctx->forward_input_or_allocate_output({0}, 0, x.shape(), &y));
    const float* xp = x.flat<float>().data();
    const float* sp = residual.flat<float>().data();
    const float* gp = gamma.flat<float>().data();
    const float* bp = beta.flat<float>().data();
    float* yp = y->flat<float>().data();
    const float eps = epsilon_;
    ParallelRows(ctx, n, h, 5, [=](int64_t begin, int64_t end) {
      float mean, rstd;
      for (int64_t r = begin; r < end; ++r) {
        float* yr = yp + r * h;
        RowArray(yr, h) = ConstRowArray(xp + r * h, h) + ConstRowArray(sp + r * h, h);
        NormalizeRow(yr, gp, bp, h, eps, yr, &mean, &rstd);
      }
    });
  }

 private:
  float epsilon_;
};

class LayerNormGradOp : public OpKernel {
 public:
  explicit LayerNormGradOp(OpKernelConstruction* c) : OpKernel(c) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& dy = ctx->input(0);
    const Tensor& x = ctx->input(1);
    const Tensor& gamma = ctx->input(2);
    const Tensor& mean = ctx->input(3);
    const Tensor& rstd = ctx->input(4);
    OP_REQUIRES(ctx, dy.shape() == x.shape() && x.dims() >= 1,
                absl::InvalidArgumentError("CourseLayerNormGrad: dy and x differ in shape"));
    const int64_t h = x.dim_size(x.dims() - 1);
    const int64_t n = h == 0 ? 0 : x.NumElements() / h;
    OP_REQUIRES(ctx, gamma.NumElements() == h && mean.NumElements() == n && rstd.NumElements() == n,
                absl::InvalidArgumentError("CourseLayerNormGrad: gamma, mean or rstd has the wrong size"));
    Tensor *dx = nullptr, *dgamma = nullptr, *dbeta = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &dx));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, gamma.shape(), &dgamma));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, gamma.shape(), &dbeta));
    // Fixed row blocks, each with its own partial dγ and dβ, summed in block order below.
    const int64_t rows_per_block = std::max<int64_t>(1, kBlockElements / std::max<int64_t>(h, 1));
    const int64_t blocks = (n + rows_per_block - 1) / rows_per_block;
    std::vector<float> partial(static_cast<size_t>(2 * blocks * h), 0.f);
    const float* dyp = dy.flat<float>().data();
    const float* xp = x.flat<float>().data();
    const float* gp = gamma.flat<float>().data();
    const float* mp = mean.flat<float>().data();
    const float* rp = rstd.flat<float>().data();
    float* dxp = dx->flat<float>().data();
    float* pp = partial.data();
    const float inv_h = h == 0 ? 0.f : 1.f / static_cast<float>(h);
    ParallelFor(ctx, blocks, 8 * kBlockElements, [=](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        float* pg = pp + 2 * b * h;
        float* pb = pg + h;
        const int64_t last = std::min(n, (b + 1) * rows_per_block);
        for (int64_t r = b * rows_per_block; r < last; ++r) {
          ConstRowArray dyr(dyp + r * h, h), xr(xp + r * h, h), gr(gp, h);
          const auto xhat = (xr - mp[r]) * rp[r];  // expressions: evaluated where used
          const auto g = dyr * gr;
          const float mean_g = g.sum() * inv_h, mean_gx = (g * xhat).sum() * inv_h;
          RowArray(pg, h) += dyr * xhat;
          RowArray(pb, h) += dyr;
          RowArray(dxp + r * h, h) = (g - mean_g - xhat * mean_gx) * rp[r];
        }
      }
    });
    float* dgp = dgamma->flat<float>().data();
    float* dbp = dbeta->flat<float>().data();
    std::fill(dgp, dgp + h, 0.f);
    std::fill(dbp, dbp + h, 0.f);
    for (int64_t b = 0; b < blocks; ++b) {
      const float* pg = pp + 2 * b * h;
      for (int64_t i = 0; i < h; ++i) {
        dgp[i] += pg[i];
        dbp[i] += pg[h + i];
      }
    }
  }
};

REGISTER_KERNEL_BUILDER(Name("CourseGelu").Device(tensorflow::DEVICE_CPU), GeluOp);
REGISTER_KERNEL_BUILDER(Name("CourseGeluGrad").Device(tensorflow::DEVICE_CPU), GeluGradOp);
REGISTER_KERNEL_BUILDER(Name("CourseDropout").Device(tensorflow::DEVICE_CPU), DropoutOp);
REGISTER_KERNEL_BUILDER(Name("CourseMaskedSoftmax").Device(tensorflow::DEVICE_CPU), MaskedSoftmaxOp);
REGISTER_KERNEL_BUILDER(Name("CourseSoftmaxGrad").Device(tensorflow::DEVICE_CPU), SoftmaxGradOp);
REGISTER_KERNEL_BUILDER(Name("CourseLayerNorm").Device(tensorflow::DEVICE_CPU), LayerNormOp);
REGISTER_KERNEL_BUILDER(Name("CourseLayerNormGrad").Device(tensorflow::DEVICE_CPU), LayerNormGradOp);
REGISTER_KERNEL_BUILDER(Name("CourseAddLayerNorm").Device(tensorflow::DEVICE_CPU), AddLayerNormOp);
REGISTER_KERNEL_BUILDER(Name("CourseAttention").Device(tensorflow::DEVICE_CPU), AttentionOp);

}  // namespace course
