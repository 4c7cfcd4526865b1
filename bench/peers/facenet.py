"""The face_recognition net (face-api.js's dlib ResNet port) in PyTorch, built from
veribench's own GGUF file so that every peer runs the same net and weights, and the
preprocessing veribench applies (datasets/preprocess.c), for the descriptor check.

Needs only Debian's python3-torch (no numpy). Layouts: activations NHWC at the model's
boundary (as veribench), NCHW inside; GGUF conv filters are OHWI.
"""
import math
import struct

import torch
import torch.nn.functional as F

# GGUF metadata value types (models/gguf.h) and the tensor types a float model holds.
_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_TENSOR_F32, _TENSOR_F16 = 0, 1


def read_gguf(path):
    """(metadata dict, tensors dict name -> float32 torch tensor in numpy-order shape)."""
    with open(path, "rb") as f:
        data = f.read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return v[0]

    def string():
        nonlocal pos
        n = take("<Q")
        s = data[pos:pos + n].decode("utf-8")
        pos += n
        return s

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            at, n = take("<I"), take("<Q")
            return [value(at) for _ in range(n)]
        return take(_SCALAR[t])

    if data[:4] != b"GGUF":
        raise SystemExit(f"{path}: not a GGUF file")
    pos = 4
    take("<I")  # version
    n_tensors, n_kv = take("<Q"), take("<Q")
    meta = {}
    for _ in range(n_kv):
        key = string()
        meta[key] = value(take("<I"))
    infos = []
    for _ in range(n_tensors):
        name = string()
        n_dims = take("<I")
        ne = [take("<Q") for _ in range(n_dims)]
        infos.append((name, ne, take("<I"), take("<Q")))
    align = meta.get("general.alignment", 32)
    base = (pos + align - 1) // align * align
    tensors = {}
    for name, ne, ttype, off in infos:
        count = math.prod(ne)
        if ttype == _TENSOR_F32:
            t = torch.frombuffer(bytearray(data[base + off:base + off + 4 * count]), dtype=torch.float32)
        elif ttype == _TENSOR_F16:
            t = torch.frombuffer(bytearray(data[base + off:base + off + 2 * count]), dtype=torch.float16).float()
        else:
            raise SystemExit(f"{path}: tensor {name} has type {ttype}; the peers need an fp32/fp16 model")
        tensors[name] = t.reshape(list(reversed(ne)))
    return meta, tensors


class FaceNet(torch.nn.Module):
    """models/arch_face_recognition.c in PyTorch: conv+bias, per-channel scale, ReLU;
    residual blocks; 'down' blocks add an avg-pooled, zero-padded skip; mean; fc."""

    BLOCKS = [("conv32_1", 0), ("conv32_2", 0), ("conv32_3", 0), ("conv64_down", 1), ("conv64_1", 0),
              ("conv64_2", 0), ("conv64_3", 0), ("conv128_down", 1), ("conv128_1", 0), ("conv128_2", 0),
              ("conv256_down", 1), ("conv256_1", 0), ("conv256_2", 0), ("conv256_down_out", 1)]

    def __init__(self, tensors):
        super().__init__()
        self.layers = torch.nn.ParameterDict()
        for name, t in tensors.items():
            key = name.replace("/", "__")
            if name.endswith("conv/filters"):
                t = t.permute(0, 3, 1, 2).contiguous()  # OHWI -> OIHW
            self.layers[key] = torch.nn.Parameter(t.contiguous(), requires_grad=False)

    def conv(self, x, prefix, stride, same, relu):
        w = self.layers[prefix + "__conv__filters"]
        # a Python int, not a traced tensor (ONNX export)
        pad = int(w.shape[-1] // 2) if same else 0
        x = F.conv2d(x, w, self.layers[prefix + "__conv__bias"], stride=stride, padding=pad)
        x = x * self.layers[prefix + "__scale__weights"].view(1, -1, 1, 1) + \
            self.layers[prefix + "__scale__biases"].view(1, -1, 1, 1)
        return F.relu(x) if relu else x

    def forward(self, x):  # x: N x 150 x 150 x 3 (NHWC), normalized
        x = x.permute(0, 3, 1, 2).contiguous()
        x = self.conv(x, "conv32_down", 2, False, True)
        x = F.max_pool2d(x, 3, 2)
        for name, down in self.BLOCKS:
            y = self.conv(x, name + "__conv1", 2 if down else 1, not down, True)
            y = self.conv(y, name + "__conv2", 1, True, False)
            skip = F.avg_pool2d(x, 2, 2) if down else x
            # zero-pad both to the larger shape: bottom rows, right columns, last channels
            h, w, c = max(y.shape[2], skip.shape[2]), max(y.shape[3], skip.shape[3]), max(y.shape[1], skip.shape[1])
            y = F.pad(y, (0, w - y.shape[3], 0, h - y.shape[2], 0, c - y.shape[1]))
            skip = F.pad(skip, (0, w - skip.shape[3], 0, h - skip.shape[2], 0, c - skip.shape[1]))
            x = F.relu(y + skip)
        x = x.mean(dim=(2, 3))
        return x @ self.layers["fc"].t()


def load(model_path):
    meta, tensors = read_gguf(model_path)
    net = FaceNet(tensors).eval()
    return meta, net


def read_ppm(path):
    """(width, height, channels, bytes) of a binary P5/P6 file as --save-pixels writes it."""
    with open(path, "rb") as f:
        data = f.read()
    fields, pos = [], 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos)
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    pos += 1
    magic, w, h = fields[0], int(fields[1]), int(fields[2])
    c = 3 if magic == b"P6" else 1
    return w, h, c, data[pos:pos + w * h * c]


def preprocess(ppm, crop, meta, size=150):
    """datasets/preprocess.c: TF bilinear resize of the crop box in double, stored as float,
    then (v - mean[c]) * scale. Returns a 1 x size x size x 3 float tensor."""
    w, h, c, px = read_ppm(ppm)
    x0, y0, x1, y1 = crop if crop else (0, 0, w, h)
    rw, rh = x1 - x0, y1 - y0
    mean = meta["veribench.input.mean"]
    scale = meta["veribench.input.scale"]
    out = torch.empty(size * size * 3, dtype=torch.float32)
    ry, rx = rh / size, rw / size
    i = 0
    for y in range(size):
        sy = ry * y
        ya = math.floor(sy)
        yb = min(math.ceil(sy), rh - 1)
        fy = sy - ya
        r0 = ((y0 + ya) * w + x0) * c
        r1 = ((y0 + yb) * w + x0) * c
        for x in range(size):
            sx = rx * x
            xa = math.floor(sx)
            xb = min(math.ceil(sx), rw - 1)
            fx = sx - xa
            for ch in range(3):
                cc = ch if c == 3 else 0
                tl, tr = px[r0 + xa * c + cc], px[r0 + xb * c + cc]
                bl, br = px[r1 + xa * c + cc], px[r1 + xb * c + cc]
                top = tl + (tr - tl) * fx
                bottom = bl + (br - bl) * fx
                v = struct.unpack("<f", struct.pack("<f", top + (bottom - top) * fy))[0]
                out[i] = (v - mean[ch]) * scale
                i += 1
    return out.reshape(1, size, size, 3)
