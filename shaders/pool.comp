#version 450
// K x K pooling windows (K = pc.kh), in-range taps only. Variants: POOL_MAX (max of the
// in-range taps; padding never wins, a window without taps gives -FLT_MAX as in the
// reference) or POOL_AVG (mean of the in-range taps, summed in fp32 in the reference's tap
// order; 0 without taps).
//
// As dwconv.comp: one invocation per group of CV channels (4 where the channel count
// allows, else 1) and run of PPI neighbouring output pixels of a row, channels fastest; the
// run shares its input columns ((PPI - 1) * STRIDE + K per window row instead of PPI * K)
// and loads them unconditionally (clamped, then masked), CV = 4 making each one vec4 load.
// On llvmpipe that is ~1 load and under one integer division per output instead of K*K
// loads and four divisions. Window size, stride, run length and channel group are
// specialization constants.
#include "common.glsl"

layout(constant_id = 0) const uint K = 2;
layout(constant_id = 1) const uint STRIDE = 2;
layout(constant_id = 2) const uint PPI = 4;     // output pixels per invocation, along x
layout(constant_id = 3) const uint CV = 4;      // channels per invocation: 4 (c % 4 == 0) or 1
layout(local_size_x = 256) in;

const uint WIN = (PPI - 1u) * STRIDE + K;       // input columns a run reads per window row
const float LOWEST = -3.402823466e+38;

#include "act4.glsl"

vec4 act_c(uint idx)
{
    return CV == 4u ? load_act4(idx) : vec4(float(src0[idx]), 0.0, 0.0, 0.0);
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
        float taps[PPI];
        for (uint p = 0u; p < PPI; p++) {
#ifdef POOL_MAX
            acc[p] = vec4(LOWEST);
#else
            acc[p] = vec4(0.0);
#endif
            taps[p] = 0.0;
        }
        for (uint ky = 0u; ky < K; ky++) {
            const int iy = y0 + int(ky);
            const bool row_in = iy >= 0 && iy < int(pc.ih);
            const uint in_row = (img * pc.ih + uint(clamp(iy, 0, int(pc.ih) - 1))) * pc.iw;
            vec4 win[WIN];
            bool valid[WIN];
            for (uint t = 0u; t < WIN; t++) {
                const int ix = x0 + int(t);
                win[t] = act_c((in_row + uint(clamp(ix, 0, int(pc.iw) - 1))) * pc.ic + ch);
                valid[t] = row_in && ix >= 0 && ix < int(pc.iw);
            }
            for (uint kx = 0u; kx < K; kx++)
                for (uint p = 0u; p < PPI; p++) {
                    const uint t = p * STRIDE + kx;
#ifdef POOL_MAX
                    acc[p] = valid[t] ? max(acc[p], win[t]) : acc[p];
#else
                    acc[p] += valid[t] ? win[t] : vec4(0.0);
                    taps[p] += valid[t] ? 1.0 : 0.0;
#endif
                }
        }
        const uint out_row = (img * pc.oh + oy) * pc.ow;
        for (uint p = 0u; p < PPI && ox0 + p < pc.ow; p++) {
#ifdef POOL_MAX
            const vec4 v = acc[p];
#else
            const vec4 v = taps[p] > 0.0 ? acc[p] / taps[p] : vec4(0.0);
#endif
            const uint o = (out_row + ox0 + p) * pc.oc + ch;
            if (CV == 4u)
                store_act4(o, v);
            else
                dst[o] = act_t(v.x);
        }
    }
}
