#version 450
// k x k pooling windows (pc.kh), one invocation per output element in a grid-stride loop.
// Variants: POOL_MAX (max of the in-range taps; padding never wins, a window without taps
// gives -FLT_MAX as in the reference) or POOL_AVG (mean of the in-range taps, summed in fp32).
#include "common.glsl"

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
#ifdef POOL_MAX
        float best = -3.402823466e+38;
#else
        float sum = 0.0;
        uint taps = 0u;
#endif
        for (int ky = 0; ky < int(pc.kh); ky++) {
            int iy = y0 + ky;
            if (iy < 0 || iy >= int(pc.ih))
                continue;
            for (int kx = 0; kx < int(pc.kh); kx++) {
                int ix = x0 + kx;
                if (ix < 0 || ix >= int(pc.iw))
                    continue;
                float v = float(src0[((img * pc.ih + uint(iy)) * pc.iw + uint(ix)) * pc.ic + ch]);
#ifdef POOL_MAX
                best = max(best, v);
#else
                sum += v;
                taps++;
#endif
            }
        }
#ifdef POOL_MAX
        dst[idx] = act_t(best);
#else
        dst[idx] = act_t(taps > 0u ? sum / float(taps) : 0.0);
#endif
    }
}
