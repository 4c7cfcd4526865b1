// ONNX Runtime peer for `make bench-peers` (bench/peers/run.sh): the net exported by
// torch_peer.py export, on onnxruntime-node's CPU execution provider.
//   node ort_peer.js check MODEL.onnx INPUTS.f32 OUT.f32
//       descriptors of the preprocessed inputs (N x 150 x 150 x 3 float32) into OUT.f32
//   node ort_peer.js time MODEL.onnx BATCH THREADS SECONDS
//       one warm-up call, then calls for at least SECONDS; prints "ms_per_face,calls"
// NODE_PATH must reach the onnxruntime-node package (run.sh installs it under build/).
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function session(model, threads) {
  return ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
}

// cli/cmd_bench.c's inputs: an LCG, (s >> 8) / 2^24 - 0.5
function synthetic(batch) {
  const x = new Float32Array(batch * 150 * 150 * 3);
  let s = 1;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = (s >>> 8) / 16777216 - 0.5;
  }
  return x;
}

async function check(model, inputs, out) {
  const buf = fs.readFileSync(inputs);
  const x = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  const n = x.length / (150 * 150 * 3);
  const s = await session(model, 1);
  const r = await s.run({ input: new ort.Tensor('float32', x, [n, 150, 150, 3]) });
  const d = r.descriptor.data;
  fs.writeFileSync(out, Buffer.from(d.buffer, d.byteOffset, d.length * 4));
}

async function time(model, batch, threads, seconds) {
  const s = await session(model, threads);
  const feeds = { input: new ort.Tensor('float32', synthetic(batch), [batch, 150, 150, 3]) };
  await s.run(feeds);
  let calls = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (calls < 3 || elapsed < seconds) {
    await s.run(feeds);
    calls++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  console.log(`${((elapsed * 1e3) / calls / batch).toFixed(3)},${calls}`);
}

async function main(argv) {
  if (argv[0] === 'check' && argv.length === 4) return check(argv[1], argv[2], argv[3]);
  if (argv[0] === 'time' && argv.length === 5) return time(argv[1], +argv[2], +argv[3], +argv[4]);
  console.error('usage: ort_peer.js check MODEL INPUTS.f32 OUT.f32 | time MODEL BATCH THREADS SECONDS');
  process.exit(2);
}

main(process.argv.slice(2)).catch((err) => {
  console.error(`ort_peer: ${err.message}`);
  process.exit(1);
});
