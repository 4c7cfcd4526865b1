// Shared declarations of every veribench compute shader (see backends/vulkan/vk_kernels.h for
// the host side of this contract; the two must agree).
//
// Variants (glslc -D):
//   ACT_F16   activations are stored as fp16 (needs storageBuffer16BitAccess and
//             shaderFloat16); every sum still accumulates in fp32.
//
// Bindings (one descriptor set layout for all kernels; unused bindings get a dummy buffer):
//   0 src0 activations   1 src1 activations   2 dst activations
//   3 weights (raw 32-bit words: F32 bits, packed F16 pairs, or packed int8/int4 quants)
//   4 per-channel parameters: bias[oc], scale[oc], shift[oc] (fp32)
//   5 per-block weight scales of quantized weights (fp32)
#extension GL_GOOGLE_include_directive : require

#ifdef ACT_F16
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define act_t float16_t
#else
#define act_t float
#endif

layout(push_constant) uniform PushConstants {
    uint batch;
    uint ih, iw, ic;        // src0 shape per image
    uint oh, ow, oc;        // dst shape per image
    uint bh, bw, bc;        // src1 shape per image (add)
    uint kh, kw, stride, pad_top, pad_left;
    uint flags;             // FLAG_* below
    float alpha;            // FLAG_LEAKY: the slope for negative values
} pc;

const uint FLAG_BIAS = 1u;
const uint FLAG_AFFINE = 2u;
const uint FLAG_RELU = 4u;
const uint FLAG_ADD = 8u;
const uint FLAG_LEAKY = 16u;
const uint FLAG_RELU6 = 32u;
const uint FLAG_CONCAT = 64u;  // eltwise.comp only: dst = src0 ++ src1 per image

layout(std430, set = 0, binding = 0) readonly buffer Src0 { act_t src0[]; };
layout(std430, set = 0, binding = 1) readonly buffer Src1 { act_t src1[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Dst { act_t dst[]; };
layout(std430, set = 0, binding = 3) readonly buffer Weights { uint wdata[]; };
layout(std430, set = 0, binding = 4) readonly buffer Params { float params[]; };
layout(std430, set = 0, binding = 5) readonly buffer WScales { float wscale[]; };

// The per-channel epilogue shared by conv and element-wise kernels: the order of operations
// is the reference's (backends/cpu/ref_ops.c): conv + bias, then x * scale + shift, then ReLU,
// leaky ReLU or ReLU6 (a step fuses at most one of the three).
float epilogue_affine(float v, uint ch)
{
    if ((pc.flags & FLAG_BIAS) != 0u)
        v += params[ch];
    if ((pc.flags & FLAG_AFFINE) != 0u)
        v = v * params[pc.oc + ch] + params[2u * pc.oc + ch];
    return v;
}

float epilogue_activation(float v)
{
    if ((pc.flags & FLAG_RELU) != 0u)
        v = max(v, 0.0);
    if ((pc.flags & FLAG_LEAKY) != 0u)
        v = v > 0.0 ? v : pc.alpha * v;
    if ((pc.flags & FLAG_RELU6) != 0u)
        v = v > 0.0 ? min(v, 6.0) : 0.0;
    return v;
}

float epilogue(float v, uint ch)
{
    return epilogue_activation(epilogue_affine(v, ch));
}

// A conv step's epilogue at output pixel m (over batch * oh * ow) and channel ch: with
// FLAG_ADD a residual add_zeropad is fused between the affine and the activation, as the
// graph orders them; src1 (shape bh x bw x bc) reads zero outside its shape.
float conv_epilogue(float v, uint m, uint ch)
{
    v = epilogue_affine(v, ch);
    if ((pc.flags & FLAG_ADD) != 0u) {
        uint x = m % pc.ow, rest = m / pc.ow;
        uint y = rest % pc.oh, img = rest / pc.oh;
        if (y < pc.bh && x < pc.bw && ch < pc.bc)
            v += float(src1[((img * pc.bh + y) * pc.bw + x) * pc.bc + ch]);
    }
    return epilogue_activation(v);
}
