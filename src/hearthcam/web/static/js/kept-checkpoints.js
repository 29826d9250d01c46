// The view log's signed checkpoints this browser verified, kept per household in localStorage:
// evidence the server's database cannot take back. Whoever can write that database can cut the
// log back to an earlier checkpoint (or empty it) and rewrite its head so that it agrees with
// itself again; only a checkpoint kept outside it shows the log shrank or was rewritten. The
// page proves each new checkpoint extends the newest kept one before it keeps it, so every kept
// checkpoint is a prefix of the next.
//
// The export is what `hearthcam audit verify --against FILE` reads (a list of the objects
// hearthcam.viewlog.signing.checkpoint_json writes).

const PREFIX = "hearthcam.viewlog.";
const ORIGIN = "hearthcam view log";

function storageKey(householdId) {
  return `${PREFIX}${householdId}`;
}

function wellFormed(cp) {
  return (
    cp &&
    Number.isSafeInteger(cp.size) &&
    cp.size >= 0 &&
    Number.isSafeInteger(cp.time_ms) &&
    typeof cp.root === "string" &&
    typeof cp.signature === "string"
  );
}

// { publicKey, checkpoints: [{size, root, time_ms, signature}] } oldest first, or null.
export function loadKept(householdId) {
  let value;
  try {
    value = JSON.parse(localStorage.getItem(storageKey(householdId)) ?? "null");
  } catch {
    return null;
  }
  if (!value || typeof value.publicKey !== "string" || !Array.isArray(value.checkpoints)) return null;
  const checkpoints = value.checkpoints.filter(wellFormed);
  return checkpoints.length ? { publicKey: value.publicKey, checkpoints } : null;
}

// The kept checkpoint of the largest log (the one a new checkpoint must extend).
export function newest(kept) {
  return kept.checkpoints.reduce((a, b) => (b.size > a.size || (b.size === a.size && b.time_ms > a.time_ms) ? b : a));
}

// `kept` with `cp` added (unless one of the same size and root is there already).
export function including(kept, publicKey, cp) {
  const checkpoints = kept ? [...kept.checkpoints] : [];
  const entry = { size: cp.size, root: cp.root, time_ms: cp.time_ms, signature: cp.signature };
  if (!checkpoints.some((c) => c.size === entry.size && c.root === entry.root)) checkpoints.push(entry);
  return { publicKey, checkpoints };
}

// Keeps them; when the browser's quota is full, drops the oldest but the first (the newest is
// what the next visit checks against, the first shows how far back the evidence goes).
export function saveKept(householdId, kept) {
  let checkpoints = kept.checkpoints;
  for (;;) {
    try {
      localStorage.setItem(storageKey(householdId), JSON.stringify({ ...kept, checkpoints }));
      return checkpoints.length;
    } catch (error) {
      if (checkpoints.length <= 2) throw error;
      checkpoints = [checkpoints[0], ...checkpoints.slice(2)];
    }
  }
}

// The kept checkpoints as `hearthcam audit verify --against` reads them.
export function exportJson(kept) {
  const list = kept.checkpoints.map((c) => ({
    origin: ORIGIN,
    size: c.size,
    root: c.root,
    time_ms: c.time_ms,
    signature: c.signature,
    public_key: kept.publicKey,
  }));
  return JSON.stringify(list, null, 2);
}
