// Checks the view log in the browser, trusting nothing the server says but its signing key:
// an entry's inclusion proof against a checkpoint's root (RFC 6962 hashing, RFC 9162 §2.1.3.2
// verification), a later checkpoint's consistency with an earlier one (§2.1.4.2), and the
// checkpoint's Ed25519 signature. The same math as hearthcam.viewlog.merkle; WebCrypto does the
// hashing and the signature, so the page needs a secure context (https or localhost).
//
// Sizes and indexes are walked as BigInt: JavaScript's bit operators stop at 32 bits.

const HASH_BYTES = 32;
const encoder = new TextEncoder();

export function hexToBytes(hex) {
  if (typeof hex !== "string" || hex.length % 2 || /[^0-9a-f]/i.test(hex)) return null;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function base64ToBytes(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function bytesToBase64(bytes) {
  return btoa(String.fromCharCode(...bytes));
}

function equal(a, b) {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

async function sha256(prefix, ...parts) {
  const size = 1 + parts.reduce((n, p) => n + p.length, 0);
  const buffer = new Uint8Array(size);
  buffer[0] = prefix;
  let at = 1;
  for (const part of parts) {
    buffer.set(part, at);
    at += part.length;
  }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", buffer));
}

// SHA-256(0x00 || entry): the leaf hash of an entry's exact bytes.
export function leafHash(entryBytes) {
  return sha256(0x00, entryBytes);
}

// SHA-256(0x01 || left || right): an inner node.
export function nodeHash(left, right) {
  return sha256(0x01, left, right);
}

// A leaf given as the entry's bytes (Uint8Array / ArrayBuffer) or as its leaf hash (hex).
async function leafOf(leaf) {
  if (typeof leaf === "string") {
    const hash = hexToBytes(leaf);
    return hash && hash.length === HASH_BYTES ? hash : null;
  }
  if (leaf instanceof ArrayBuffer) return leafHash(new Uint8Array(leaf));
  if (leaf instanceof Uint8Array) return leafHash(leaf);
  return null;
}

function hashesOf(proofHex) {
  if (!Array.isArray(proofHex)) return null;
  const proof = proofHex.map(hexToBytes);
  return proof.every((p) => p && p.length === HASH_BYTES) ? proof : null;
}

function big(value) {
  return Number.isSafeInteger(value) && value >= 0 ? BigInt(value) : null;
}

// Right-shifts both while fn's low bit is `odd` (and fn is not 0).
function shiftWhile(fn, sn, odd) {
  while (fn !== 0n && (fn & 1n) === (odd ? 1n : 0n)) {
    fn >>= 1n;
    sn >>= 1n;
  }
  return [fn, sn];
}

// The root an audit path leads to, or null if it cannot lead to one.
export async function rootFromInclusion(leaf, index, treeSize, proof) {
  const size = big(treeSize);
  let fn = big(index);
  if (size === null || fn === null || fn >= size || leaf.length !== HASH_BYTES) return null;
  let sn = size - 1n;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) return null;
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      [fn, sn] = shiftWhile(fn, sn, false);
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n ? r : null;
}

// Whether `proofHex` puts `leaf` (entry bytes, or a leaf hash in hex) at `index` in the tree of
// `treeSize` entries whose root is `rootHex`.
export async function verifyInclusion(leaf, index, treeSize, proofHex, rootHex) {
  const hash = await leafOf(leaf);
  const proof = hashesOf(proofHex);
  const root = hexToBytes(rootHex);
  if (!hash || !proof || !root) return false;
  const got = await rootFromInclusion(hash, index, treeSize, proof);
  return got !== null && equal(got, root);
}

// Whether `proofHex` shows the tree (oldSize, oldRootHex) is a prefix of (newSize, newRootHex).
export async function verifyConsistency(oldSize, newSize, oldRootHex, newRootHex, proofHex) {
  const m = big(oldSize);
  const n = big(newSize);
  const oldRoot = hexToBytes(oldRootHex);
  const newRoot = hexToBytes(newRootHex);
  const proof = hashesOf(proofHex);
  if (m === null || n === null || !oldRoot || !newRoot || !proof || m > n) return false;
  if (m === n) return proof.length === 0 && equal(oldRoot, newRoot);
  if (m === 0n) return proof.length === 0;
  if (proof.length === 0) return false;
  // An old tree that is a complete subtree starts the walk with its own root.
  const path = (m & (m - 1n)) === 0n ? [oldRoot, ...proof] : proof;
  let [fn, sn] = shiftWhile(m - 1n, n - 1n, true);
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      [fn, sn] = shiftWhile(fn, sn, false);
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equal(fr, oldRoot) && equal(sr, newRoot);
}

// The text a checkpoint signs (as hearthcam.viewlog.signing.Checkpoint.note).
export function checkpointNote(size, rootHex, timeMs) {
  const root = hexToBytes(rootHex);
  if (!root) throw new Error("the root is not hex");
  return `hearthcam view log\n${size}\n${bytesToBase64(root)}\n${timeMs}\n`;
}

// Whether the checkpoint (size, root, time) carries an Ed25519 signature (base64) by the
// 32-byte public key (base64). Throws where the browser has no Ed25519 in WebCrypto.
export async function verifyCheckpoint({ size, rootHex, timeMs, signature }, publicKeyBase64) {
  const key = await crypto.subtle.importKey("raw", base64ToBytes(publicKeyBase64), { name: "Ed25519" }, false, [
    "verify",
  ]);
  const note = encoder.encode(checkpointNote(size, rootHex, timeMs));
  return crypto.subtle.verify({ name: "Ed25519" }, key, base64ToBytes(signature), note);
}
