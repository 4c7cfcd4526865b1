#version 450
// Depthwise convolution (VB_OP_DWCONV): one KH x KW filter per channel, weights HWC
// [ky][kx][c] in the activations' float format (W_F32 or W_F16, weights.glsl), one invocation
// per output element in a grid-stride loop, channel fastest: neighbouring invocations read
// neighbouring channels of one input pixel and neighbouring weights. Out-of-range taps read
// zero (they are skipped, as in the reference). Sums in fp32, then the shared epilogue (bias,
// affine, ReLU or leaky ReLU).
//
// The filter size is a pair of specialization constants (set per layer on the host), so the
// tap loops unroll for the 3x3 and 5x5 filters of the separable nets.
#include "common.glsl"
#include "weights.glsl"

layout(constant_id = 0) const uint KH = 3;
layout(constant_id = 1) const uint KW = 3;
layout(local_size_x = 256) in;

void main()
{
    const uint total = pc.batch * pc.oh * pc.ow * pc.oc;
    const uint step = gl_NumWorkGroups.x * 256u;
    for (uint idx = gl_GlobalInvocationID.x; idx < total; idx += step) {
        uint ch = idx % pc.oc, px = idx / pc.oc;
        uint ox = px % pc.ow, rest = px / pc.ow;
        uint oy = rest % pc.oh, img = rest / pc.oh;
        int y0 = int(oy * pc.stride) - int(pc.pad_top);
        int x0 = int(ox * pc.stride) - int(pc.pad_left);
        float acc = 0.0;
        for (uint ky = 0u; ky < KH; ky++) {
            int iy = y0 + int(ky);
            if (iy < 0 || iy >= int(pc.ih))
                continue;
            uint row = (img * pc.ih + uint(iy)) * pc.iw;
            for (uint kx = 0u; kx < KW; kx++) {
                int ix = x0 + int(kx);
                if (ix < 0 || ix >= int(pc.iw))
                    continue;
                float v = float(src0[(row + uint(ix)) * pc.ic + ch]);
                acc = fma(v, load_weight((ky * KW + kx) * pc.oc + ch), acc);
            }
        }
        dst[idx] = act_t(epilogue(acc, ch));
    }
}
