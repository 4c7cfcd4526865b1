// Oracle: face descriptors computed by face-api.js itself (@vladmandic/face-api 1.7.15,
// tfjs CPU backend under node) from pixels decoded by veribench's libjpeg-turbo decoder
// (binary PPM files written by `veribench embed --save-pixels`).
// usage: node faceapi_descriptors.cjs MODEL_DIR x0,y0,x1,y1 NAME=FILE.ppm...
// Prints CSV: image,d0..d127 (%.9g-like, 9 significant digits).
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
const tf = faceapi.tf;

const ppm = require('./ppm.cjs');
const readPPM = (path) => ppm.readPPM(tf, path);

(async () => {
  const [modelDir, crop, ...items] = process.argv.slice(2);
  await tf.setBackend('cpu');
  await tf.ready();
  await faceapi.nets.faceRecognitionNet.loadFromDisk(modelDir);
  const [x0, y0, x1, y1] = crop.split(',').map(Number);
  const cols = Array.from({ length: 128 }, (_, i) => `d${i}`);
  console.log(['image', ...cols].join(','));
  for (const item of items) {
    const [name, file] = item.split('=');
    const img = readPPM(file);
    const cropped = tf.slice(img, [y0, x0, 0], [y1 - y0, x1 - x0, 3]);
    const d = await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(cropped);
    console.log([name, ...Array.from(d, (v) => v.toPrecision(9))].join(','));
    tf.dispose([img, cropped]);
  }
})().catch((err) => { console.error(err); process.exit(1); });
