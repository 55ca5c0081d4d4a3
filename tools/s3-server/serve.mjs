// Starts s3rver (an S3-compatible server) on a free loopback port for the tests.
// Usage: node --openssl-legacy-provider serve.mjs DATA_DIR BUCKET
// (s3rver encrypts list continuation tokens with DES, which OpenSSL 3 keeps in its legacy provider)
// Prints "listening http://127.0.0.1:PORT" once the bucket exists, then serves until killed or
// until its standard input closes (so a test that dies does not leave it running).
import S3rver from 's3rver';

const [directory, bucket] = process.argv.slice(2);
if (!directory || !bucket) {
  console.error('usage: node serve.mjs DATA_DIR BUCKET');
  process.exit(2);
}

const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  configureBuckets: [{ name: bucket }],
});
const { address, port } = await server.run();
console.log(`listening http://${address}:${port}`);
process.stdin.resume();
process.stdin.on('end', async () => {
  await server.close();
  process.exit(0);
});
