"""PyTorch peer for `make bench-peers` (bench/peers/run.sh). Subcommands:

  check MODEL CROP PIXELS_DIR VERIBENCH_CSV OUT_DIR
      descriptors of the images veribench embedded (--save-pixels PPMs, same crop),
      cosine against veribench's per image; writes OUT_DIR/inputs.f32 (the preprocessed
      inputs, N x 150 x 150 x 3 float32) and OUT_DIR/veribench.f32 (veribench's descriptors)
      for the other peers; exit 1 when a cosine is below 0.9999.
  export MODEL ONNX_PATH
      the same net as ONNX (dynamic batch, NHWC input "input", output "descriptor").
  compare OUT_DIR PEER_DESCRIPTORS.f32 NAME
      cosine of another peer's descriptors (float32, N x 128) against veribench's.
  time MODEL BATCH THREADS SECONDS
      eval + no_grad, BATCH synthetic inputs (veribench bench's generator), calls for at
      least SECONDS after one warm-up call; prints "ms_per_face,calls".
"""
import csv
import os
import struct
import sys
import time

# torch splits the work over its own threads; a BLAS that threads too (Debian's
# libopenblas0-pthread) would oversubscribe the cores
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import facenet  # noqa: E402

MIN_COSINE = 0.9999


def cosine(a, b):
    return float(torch.dot(a.double(), b.double()) / (a.double().norm() * b.double().norm()))


def synthetic(batch):
    """cli/cmd_bench.c's inputs: an LCG, (s >> 8) / 2^24 - 0.5."""
    n = batch * 150 * 150 * 3
    out = torch.empty(n, dtype=torch.float32)
    s = 1
    vals = []
    for _ in range(n):
        s = (s * 1664525 + 1013904223) & 0xFFFFFFFF
        vals.append((s >> 8) / 16777216.0 - 0.5)
    out[:] = torch.tensor(vals, dtype=torch.float32)
    return out.reshape(batch, 150, 150, 3)


def cmd_check(model, crop, pixels, vcsv, out_dir):
    meta, net = facenet.load(model)
    crop = [int(v) for v in crop.split(",")]
    with open(vcsv) as f:
        rows = list(csv.reader(f))[1:]
    inputs, ref = [], []
    for i, row in enumerate(rows):
        inputs.append(facenet.preprocess(os.path.join(pixels, f"{i}.ppm"), crop, meta))
        ref.append(torch.tensor([float(v) for v in row[1:]], dtype=torch.float32))
    x = torch.cat(inputs)
    ref = torch.stack(ref)
    with torch.no_grad():
        got = net(x)
    worst = min(cosine(got[i], ref[i]) for i in range(len(rows)))
    with open(os.path.join(out_dir, "inputs.f32"), "wb") as f:
        f.write(struct.pack(f"<{x.numel()}f", *x.flatten().tolist()))
    with open(os.path.join(out_dir, "veribench.f32"), "wb") as f:
        f.write(struct.pack(f"<{ref.numel()}f", *ref.flatten().tolist()))
    print(f"pytorch: {len(rows)} images, lowest descriptor cosine vs veribench {worst:.9f}")
    return 0 if worst >= MIN_COSINE else 1


def cmd_export(model, onnx_path):
    _, net = facenet.load(model)
    x = torch.zeros(1, 150, 150, 3)
    torch.onnx.export(net, x, onnx_path, input_names=["input"], output_names=["descriptor"],
                      dynamic_axes={"input": {0: "batch"}, "descriptor": {0: "batch"}}, opset_version=13)
    print(f"pytorch: exported {onnx_path}")
    return 0


def cmd_compare(out_dir, peer_path, name):
    def load(p):
        with open(p, "rb") as f:
            b = f.read()
        return torch.tensor(struct.unpack(f"<{len(b) // 4}f", b)).reshape(-1, 128)
    ref, got = load(os.path.join(out_dir, "veribench.f32")), load(peer_path)
    if got.shape != ref.shape:
        print(f"{name}: {got.shape[0]} descriptors, veribench {ref.shape[0]}")
        return 1
    worst = min(cosine(got[i], ref[i]) for i in range(ref.shape[0]))
    print(f"{name}: {ref.shape[0]} images, lowest descriptor cosine vs veribench {worst:.9f}")
    return 0 if worst >= MIN_COSINE else 1


def cmd_time(model, batch, threads, seconds):
    torch.set_num_threads(int(threads))
    _, net = facenet.load(model)
    batch, seconds = int(batch), float(seconds)
    x = synthetic(batch)
    with torch.no_grad():
        net(x)
        calls, start = 0, time.perf_counter()
        while calls < 3 or time.perf_counter() - start < seconds:
            net(x)
            calls += 1
        total = time.perf_counter() - start
    print(f"{total * 1e3 / calls / batch:.3f},{calls}")
    return 0


def main(argv):
    cmds = {"check": (cmd_check, 5), "export": (cmd_export, 2), "compare": (cmd_compare, 3), "time": (cmd_time, 4)}
    if len(argv) < 2 or argv[1] not in cmds or len(argv) - 2 != cmds[argv[1]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    return cmds[argv[1]][0](*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
