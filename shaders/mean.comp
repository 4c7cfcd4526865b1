#version 450
// Global mean over h and w: one invocation per (image, channel); neighbouring invocations
// read neighbouring channels of a pixel. Sums in fp32 (the reference uses double; for the
// pixel counts of a classifier head, a few thousand at most, the difference is far below
// the tolerances of the tests).
#include "common.glsl"

layout(local_size_x = 64) in;

void main()
{
    const uint total = pc.batch * pc.ic;
    const uint step = gl_NumWorkGroups.x * 64u;
    const uint pixels = pc.ih * pc.iw;
    for (uint idx = gl_GlobalInvocationID.x; idx < total; idx += step) {
        uint ch = idx % pc.ic, img = idx / pc.ic;
        float sum = 0.0;
        for (uint p = 0; p < pixels; p++)
            sum += float(src0[(img * pixels + p) * pc.ic + ch]);
        dst[idx] = act_t(sum / float(pixels));
    }
}
