// Generates chunking and hashing test vectors with Hugging Face's chunker, the conformance oracle.
// Inputs are described by recipes (segments built from a SplitMix64 stream) that the C# tests
// rebuild byte for byte, so no input data is committed. Usage: node generate.mjs OUT.json
import { writeFileSync } from "node:fs";
import { getChunks, createChunker, nextBlock, finalize, hashToHex, fileHash, xorbHash } from "@huggingface/xetchunk-wasm";

const KiB = 1024, MiB = 1024 * KiB;
const MIN = 8 * KiB, MAX = 128 * KiB;

// SplitMix64, as in xet-core's chunking tests; bytes are each output's 8 little-endian bytes.
function splitmixBytes(seed, length) {
  const out = new Uint8Array(length);
  let state = BigInt.asUintN(64, BigInt(seed));
  const mask = (1n << 64n) - 1n;
  for (let i = 0; i < length; i += 8) {
    state = (state + 0x9E3779B97F4A7C15n) & mask;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xBF58476D1CE4E5B9n) & mask;
    z = ((z ^ (z >> 27n)) * 0x94D049BB133111EBn) & mask;
    z = z ^ (z >> 31n);
    for (let b = 0; b < 8 && i + b < length; b++) out[i + b] = Number((z >> BigInt(8 * b)) & 0xffn);
  }
  return out;
}

// Words picked by SplitMix64 bytes; a newline after every 12th word. ASCII only.
const WORDS = ["the", "data", "set", "version", "chunk", "hash", "merkle", "tree", "file", "sync", "push", "pull",
  "content", "defined", "boundary", "gear", "blake3", "xet", "store", "pack", "index", "snapshot", "diff", "verify"];
function textBytes(seed, length) {
  const picks = splitmixBytes(seed, length);
  const out = new Uint8Array(length);
  let pos = 0, word = 0;
  for (let i = 0; pos < length; i++) {
    const w = WORDS[picks[i % length] % WORDS.length];
    const sep = (++word % 12 === 0) ? "\n" : " ";
    for (const c of w + sep) { if (pos < length) out[pos++] = c.charCodeAt(0); }
  }
  return out;
}

function build(recipe) {
  const parts = recipe.segments.map(s => {
    switch (s.kind) {
      case "random": return splitmixBytes(s.seed, s.length);
      case "text": return textBytes(s.seed, s.length);
      case "fill": return new Uint8Array(s.length).fill(s.value);
      default: throw new Error(`unknown segment kind ${s.kind}`);
    }
  });
  const total = parts.reduce((n, p) => n + p.length, 0);
  const data = new Uint8Array(total);
  let at = 0;
  for (const p of parts) { data.set(p, at); at += p.length; }
  for (const p of recipe.patches ?? []) data[p.offset] = p.value;
  return data;
}

const random = (seed, length) => ({ kind: "random", seed, length });
const fill = (value, length) => ({ kind: "fill", value, length });
const text = (seed, length) => ({ kind: "text", seed, length });

const recipes = [
  { name: "empty", segments: [] },
  { name: "one-byte", segments: [fill(0x61, 1)] },
  ...[MIN - 65, MIN - 1, MIN, MIN + 1, 64 * KiB, MAX - 1, MAX, MAX + 1, 2 * MAX + 1]
    .map(n => ({ name: `random-${n}`, segments: [random(n, n)] })),
  ...[MIN, MAX - 1, MAX, MAX + 1, 3 * MAX].map(n => ({ name: `zeros-${n}`, segments: [fill(0, n)] })),
  { name: "zeros-1MiB-then-random", segments: [fill(0, MiB), random(11, 300 * KiB)] },
  { name: "random-zeros-random", segments: [random(12, 200 * KiB), fill(0, 700 * KiB), random(13, 200 * KiB)] },
  { name: "random-1MiB", segments: [random(1, MiB)] },
  { name: "random-3MiB", segments: [random(2, 3 * MiB)] },
  { name: "text-512KiB", segments: [text(3, 512 * KiB)] },
  { name: "mixed-4MiB", segments: [text(4, 700 * KiB), random(5, MiB), fill(0xff, 300 * KiB), text(6, 500 * KiB),
    fill(0, 77 * KiB), random(7, 1500 * KiB + 123)] },
  // Byte 248's gear value has its top 16 bits clear, so placed where hashing starts (minimum - 65)
  // it matches at once: the early cut that current Xet ignores and this oracle still makes.
  { name: "early-cut-at-8128", segments: [random(9, 300 * KiB)], patches: [{ offset: MIN - 65, value: 248 }] },
];

const vectors = recipes.map(recipe => {
  const data = build(recipe);
  const chunks = getChunks(data);
  // The streaming API must agree with the one-shot one; feed in odd-sized pieces.
  const chunker = createChunker();
  const streamed = [];
  for (let p = 0; p < data.length; p += 4099) streamed.push(...nextBlock(chunker, data.subarray(p, Math.min(p + 4099, data.length))));
  const last = finalize(chunker);
  if (last) streamed.push(last);
  if (streamed.map(c => c.length).join() !== chunks.map(c => c.length).join()) throw new Error(`streaming differs for ${recipe.name}`);
  const earlyCut = chunks.slice(0, -1).some(c => c.length < MIN);
  return {
    name: recipe.name,
    recipe: { segments: recipe.segments, patches: recipe.patches ?? [] },
    length: data.length,
    early_cut: earlyCut,
    chunks: chunks.map(c => ({ length: c.length, hash: hashToHex(c.hash) })),
    aggregated_hash: hashToHex(xorbHash(chunks)),
    file_hash: hashToHex(fileHash(chunks)),
  };
});

const out = {
  oracle: "@huggingface/xetchunk-wasm 0.2.0",
  note: "Legacy early-cut rule: the oracle cuts on a hash match below the minimum chunk size; current Xet does not. Vectors with early_cut=true differ from current Xet.",
  text_words: WORDS,
  vectors,
};
writeFileSync(process.argv[2] ?? "xetchunk-wasm.json", JSON.stringify(out, null, 1) + "\n");
console.log(`${vectors.length} vectors, ${vectors.filter(v => v.early_cut).length} with an early cut`);
