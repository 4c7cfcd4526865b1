// Oracle: the tiny face detector's detections and the 68-point landmark net's landmarks as
// face-api.js itself computes them (@vladmandic/face-api 1.7.15, tfjs CPU backend under
// node) from pixels decoded by veribench (binary PPM files written by
// `veribench embed --save-pixels`), the whole image (no crop).
// usage:
//   node faceapi_face_nets.cjs MODEL_DIR detections T ITEM...   CSV of every detection, scoreThreshold T
//   node faceapi_face_nets.cjs MODEL_DIR landmarks T ITEM...    CSV of the best box's landmarks
//   node faceapi_face_nets.cjs MODEL_DIR count FILE.ppm...      images with no face (stdout)
//   node faceapi_face_nets.cjs MODEL_DIR ssd_detections T ITEM...  as detections, SSD MobileNet v1
//   node faceapi_face_nets.cjs MODEL_DIR ssd_count FILE.ppm...     as count, SSD MobileNet v1
// ITEM is NAME=FILE.ppm, or NAME=FILE.ppm@x0,y0,x1,y1 to run on that region only (a
// non-square image: exercises the detector's padding and correction factors and the
// landmark crop's clipping). The CSVs name the region (rx0,ry0,rx1,ry1: the whole image when
// none was given); their coordinates are in the region's pixels.
// Detector options: inputSize 416 (FACEAPI_TINY_SIZE=N: N) and scoreThreshold 0.5
// (TinyFaceDetectorOptions' defaults) unless T says otherwise; SSD MobileNet v1: minConfidence 0.5 and maxResults 100
// (SsdMobilenetv1Options' defaults) unless T says otherwise.
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
const tf = faceapi.tf;

const ppm = require('./ppm.cjs');
const readPPM = (path) => ppm.readPPM(tf, path);

const num = (v) => v.toPrecision(9);
const tinySize = Number(process.env.FACEAPI_TINY_SIZE || 416);
const tinyOptions = (t = 0.5) => new faceapi.TinyFaceDetectorOptions({ inputSize: tinySize, scoreThreshold: t });
const ssdOptions = (t = 0.5) => new faceapi.SsdMobilenetv1Options({ minConfidence: t, maxResults: 100 });
let options = tinyOptions;

// NAME=FILE[@x0,y0,x1,y1] -> { name, img (int32 tensor), region [x0, y0, x1, y1] }
function readItem(item) {
  const [name, spec] = item.split('=');
  const [file, box] = spec.split('@');
  const whole = readPPM(file);
  if (!box) return { name, img: whole, region: [0, 0, whole.shape[1], whole.shape[0]] };
  const [x0, y0, x1, y1] = box.split(',').map(Number);
  const img = tf.slice(whole, [y0, x0, 0], [y1 - y0, x1 - x0, 3]);
  tf.dispose(whole);
  return { name, img, region: [x0, y0, x1, y1] };
}

async function detections(threshold, items) {
  // One row per detection, best first (face-api.js's NMS order); n = 0 with empty fields
  // for an image without a face. x1 = box.right, y1 = box.bottom.
  console.log('image,rx0,ry0,rx1,ry1,threshold,n,index,x0,y0,x1,y1,score');
  for (const item of items) {
    const { name, img, region } = readItem(item);
    const dets = await faceapi.detectAllFaces(img, options(threshold));
    const head = [name, ...region, threshold];
    if (!dets.length) console.log([...head, 0, '', '', '', '', '', ''].join(','));
    dets.forEach((d, i) => {
      const b = d.box;
      console.log([...head, dets.length, i, num(b.x), num(b.y), num(b.right), num(b.bottom), num(d.score)].join(','));
    });
    tf.dispose(img);
  }
}

async function landmarks(threshold, items) {
  // detectSingleFace (the highest-scoring box) + withFaceLandmarks (the full 68-point net):
  // the box it ran on and landmarks.positions, image pixels.
  const cols = [];
  for (let i = 0; i < 68; i++) cols.push(`x${i}`, `y${i}`);
  console.log(['image', 'rx0', 'ry0', 'rx1', 'ry1', 'threshold', 'bx0', 'by0', 'bx1', 'by1', 'score', ...cols].join(','));
  for (const item of items) {
    const { name, img, region } = readItem(item);
    const res = await faceapi.detectSingleFace(img, options(threshold)).withFaceLandmarks();
    if (res) {
      const b = res.detection.box;
      const pts = res.landmarks.positions.flatMap((p) => [num(p.x), num(p.y)]);
      console.log([name, ...region, threshold, num(b.x), num(b.y), num(b.right), num(b.bottom), num(res.detection.score), ...pts].join(','));
    }
    tf.dispose(img);
  }
}

async function count(files) {
  let none = 0;
  const start = Date.now();
  for (const file of files) {
    const img = readPPM(file);
    const dets = await faceapi.detectAllFaces(img, options());
    if (!dets.length) {
      none++;
      console.error(`no face: ${file}`);
    }
    tf.dispose(img);
  }
  const s = (Date.now() - start) / 1000;
  const which = options === ssdOptions ? 'SSD MobileNet v1 (minConfidence 0.5)' : `tiny face detector (inputSize ${tinySize}, scoreThreshold 0.5)`;
  console.log(`${which}: no face in ${none} of ${files.length} images (${s.toFixed(1)} s)`);
}

(async () => {
  const [modelDir, mode, ...items] = process.argv.slice(2);
  // The CPU backend is the reference; FACEAPI_BACKEND=wasm (about 10x faster, the same
  // maths in another summation order) is for the long fold-1 count only.
  await tf.setBackend(process.env.FACEAPI_BACKEND || 'cpu');
  await tf.ready();
  await faceapi.nets.tinyFaceDetector.loadFromDisk(modelDir);
  await faceapi.nets.faceLandmark68Net.loadFromDisk(modelDir);
  await faceapi.nets.ssdMobilenetv1.loadFromDisk(modelDir);
  if (mode === 'ssd_detections' || mode === 'ssd_count') options = ssdOptions;
  if (mode === 'detections' || mode === 'ssd_detections') await detections(Number(items[0]), items.slice(1));
  else if (mode === 'landmarks') await landmarks(Number(items[0]), items.slice(1));
  else if (mode === 'count' || mode === 'ssd_count') await count(items);
  else throw new Error(`unknown mode ${mode}`);
})().catch((err) => { console.error(err); process.exit(1); });
