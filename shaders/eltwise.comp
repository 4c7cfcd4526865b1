#version 450
// Element-wise ops, one invocation per output element in a grid-stride loop:
//   y = relu?( affine?( pad(src0) + (FLAG_ADD ? pad(src1) : 0) ) )
// pad() is the residual-down rule of VB_OP_ADD_ZEROPAD: an input smaller than the output in
// h, w or c reads zero at the bottom rows, right columns and last channels. Without
// FLAG_ADD, src0 has the output's shape. The affine parameters sit at params[oc..3*oc) as
// in conv2d (the bias slot is unused here).
// FLAG_CONCAT (VB_OP_CONCAT, alone): per image, dst = src0's ih*iw*ic floats, then src1's
// bh*bw*bc; the output is 1 x 1 x oc with oc their sum.
#include "common.glsl"

layout(local_size_x = 256) in;

float padded(uint which, uint img, uint y, uint x, uint ch)
{
    uint h = which == 0u ? pc.ih : pc.bh;
    uint w = which == 0u ? pc.iw : pc.bw;
    uint c = which == 0u ? pc.ic : pc.bc;
    if (y >= h || x >= w || ch >= c)
        return 0.0;
    uint i = ((img * h + y) * w + x) * c + ch;
    return which == 0u ? float(src0[i]) : float(src1[i]);
}

void main()
{
    const uint total = pc.batch * pc.oh * pc.ow * pc.oc;
    const uint step = gl_NumWorkGroups.x * 256u;
    if ((pc.flags & FLAG_CONCAT) != 0u) {
        const uint na = pc.ih * pc.iw * pc.ic, nb = pc.bh * pc.bw * pc.bc;
        for (uint idx = gl_GlobalInvocationID.x; idx < total; idx += step) {
            uint j = idx % pc.oc, img = idx / pc.oc;
            dst[idx] = j < na ? src0[img * na + j] : src1[img * nb + (j - na)];
        }
        return;
    }
    for (uint idx = gl_GlobalInvocationID.x; idx < total; idx += step) {
        uint ch = idx % pc.oc, px = idx / pc.oc;
        uint x = px % pc.ow, rest = px / pc.ow;
        uint y = rest % pc.oh, img = rest / pc.oh;
        float v = padded(0u, img, y, x, ch);
        if ((pc.flags & FLAG_ADD) != 0u)
            v += padded(1u, img, y, x, ch);
        dst[idx] = act_t(epilogue(v, ch));
    }
}
