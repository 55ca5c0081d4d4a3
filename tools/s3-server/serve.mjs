// Starts s3rver (an S3-compatible server) on a free loopback port for the tests.
// Usage: node --openssl-legacy-provider serve.mjs DATA_DIR BUCKET [PORT]
// (s3rver encrypts list continuation tokens with DES, which OpenSSL 3 keeps in its legacy provider)
// Prints "listening http://127.0.0.1:PORT" once the bucket exists, then serves until killed or
// until its standard input closes (so a test that dies does not leave it running).
import S3rver from 's3rver';

const [directory, bucket, port = '0'] = process.argv.slice(2);
if (!directory || !bucket) {
  console.error('usage: node serve.mjs DATA_DIR BUCKET [PORT]');
  process.exit(2);
}

const server = new S3rver({
  address: '127.0.0.1',
  port: Number(port),
  silent: true,
  directory,
  configureBuckets: [{ name: bucket }],
});
const listening = await server.run();
console.log(`listening http://${listening.address}:${listening.port}`);
process.stdin.resume();
process.stdin.on('end', async () => {
  await server.close();
  process.exit(0);
});
