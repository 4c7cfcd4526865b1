// The oracle scripts' one PPM reader: a binary 8-bit P6 file (as `veribench embed
// --save-pixels` writes them) as an int32 [h, w, 3] tensor of the caller's tfjs (passed in,
// so this file needs no NODE_PATH of its own).
const fs = require('fs');

function readPPM(tf, path) {
  const buf = fs.readFileSync(path);
  const header = buf.toString('latin1', 0, 64).split(/\s+/);
  if (header[0] !== 'P6' || header[3] !== '255') throw new Error(`${path}: not an 8-bit P6 PPM`);
  const w = parseInt(header[1], 10), h = parseInt(header[2], 10);
  // The header is "P6\n<w> <h>\n255\n": pixels start after the fourth whitespace run.
  let pos = 0, fields = 0;
  while (fields < 4) {
    while (!/\s/.test(String.fromCharCode(buf[pos]))) pos++;
    fields++;
    pos++;
  }
  return tf.tensor3d(new Int32Array(buf.subarray(pos, pos + w * h * 3)), [h, w, 3], 'int32');
}

module.exports = { readPPM };
