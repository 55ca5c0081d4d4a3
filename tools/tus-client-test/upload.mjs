// Uploads FILE to a tus endpoint with tus-js-client, in small chunks so several PATCHes are sent.
// Usage: node upload.mjs ENDPOINT FILE. Prints the upload URL on success; exits 1 on error.
import { readFileSync } from "node:fs";
import * as tus from "tus-js-client";

const [endpoint, file] = process.argv.slice(2);
const data = readFileSync(file);
const upload = new tus.Upload(data, {
  endpoint,
  uploadSize: data.length,
  chunkSize: 256 * 1024,
  retryDelays: [0, 200, 500],
  removeFingerprintOnSuccess: true,
  onError: (error) => { console.error(`upload failed: ${error}`); process.exit(1); },
  onSuccess: () => { console.log(upload.url); },
});
upload.start();
