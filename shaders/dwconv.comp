#version 450
// Depthwise convolution (VB_OP_DWCONV): one KH x KW filter per channel, weights HWC
// [ky][kx][c] in the activations' float format (W_F32 or W_F16, weights.glsl). One
// invocation per group of CV channels (4 where the channel count allows, else 1) and run of
// PPI neighbouring output pixels of a row, in a grid-stride loop with the channels fastest:
// neighbouring invocations read neighbouring channels of one input pixel and neighbouring
// weights (coalesced on a GPU). The run shares its input columns ((PPI - 1) * STRIDE + KW per
// filter row instead of PPI * KW) and its KH x KW weights (once instead of PPI times), and
// CV = 4 makes each of those one vec4 load: on a CPU device (llvmpipe), where every buffer
// load is emulated lane by lane (see conv2d_sg.comp, act4.glsl), loads are the cost; the loads are
// unconditional (clamped, then zeroed when out of range), since a per-lane branch around
// each costs more than the load. Out-of-range taps read zero. Sums in fp32 in the
// reference's tap order, then the shared epilogue (bias, affine, ReLU or leaky ReLU).
//
// Filter size, stride, run length and channel group are specialization constants (set per
// layer on the host), so the tap loops unroll and the input window fits in registers.
#include "common.glsl"
#include "weights.glsl"

layout(constant_id = 0) const uint KH = 3;
layout(constant_id = 1) const uint KW = 3;
layout(constant_id = 2) const uint STRIDE = 1;
layout(constant_id = 3) const uint PPI = 4;     // output pixels per invocation, along x
layout(constant_id = 4) const uint CV = 4;      // channels per invocation: 4 (c % 4 == 0) or 1
layout(local_size_x = 256) in;

const uint WIN = (PPI - 1u) * STRIDE + KW;      // input columns a run reads per filter row

#include "act4.glsl"

vec4 act_c(uint idx)
{
    return CV == 4u ? load_act4(idx) : vec4(float(src0[idx]), 0.0, 0.0, 0.0);
}
vec4 weight_c(uint idx)
{
    return CV == 4u ? load_weight4(idx) : vec4(load_weight(idx), 0.0, 0.0, 0.0);
}

void main()
{
    const uint runs = (pc.ow + PPI - 1u) / PPI;
    const uint groups = pc.oc / CV;
    const uint total = pc.batch * pc.oh * runs * groups;
    const uint step = gl_NumWorkGroups.x * 256u;
    for (uint idx = gl_GlobalInvocationID.x; idx < total; idx += step) {
        const uint ch = (idx % groups) * CV, rest = idx / groups;
        const uint run = rest % runs, row = rest / runs;
        const uint oy = row % pc.oh, img = row / pc.oh;
        const uint ox0 = run * PPI;
        const int y0 = int(oy * STRIDE) - int(pc.pad_top);
        const int x0 = int(ox0 * STRIDE) - int(pc.pad_left);
        vec4 acc[PPI];
        for (uint p = 0u; p < PPI; p++)
            acc[p] = vec4(0.0);
        for (uint ky = 0u; ky < KH; ky++) {
            const int iy = y0 + int(ky);
            const bool row_in = iy >= 0 && iy < int(pc.ih);
            const uint in_row = (img * pc.ih + uint(clamp(iy, 0, int(pc.ih) - 1))) * pc.iw;
            vec4 win[WIN];
            for (uint t = 0u; t < WIN; t++) {
                const int ix = x0 + int(t);
                const vec4 v = act_c((in_row + uint(clamp(ix, 0, int(pc.iw) - 1))) * pc.ic + ch);
                win[t] = row_in && ix >= 0 && ix < int(pc.iw) ? v : vec4(0.0);
            }
            for (uint kx = 0u; kx < KW; kx++) {
                const vec4 w = weight_c((ky * KW + kx) * pc.oc + ch);
                for (uint p = 0u; p < PPI; p++)
                    acc[p] = fma(win[p * STRIDE + kx], w, acc[p]);
            }
        }
        const uint out_row = (img * pc.oh + oy) * pc.ow;
        for (uint p = 0u; p < PPI && ox0 + p < pc.ow; p++) {
            const uint o = (out_row + ox0 + p) * pc.oc + ch;
            if (CV == 4u)
                store_act4(o, vec4(epilogue(acc[p].x, ch), epilogue(acc[p].y, ch + 1u), epilogue(acc[p].z, ch + 2u),
                                   epilogue(acc[p].w, ch + 3u)));
            else
                dst[o] = act_t(epilogue(acc[p].x, ch));
        }
    }
}
