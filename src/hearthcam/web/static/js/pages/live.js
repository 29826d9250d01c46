// The live grid: one tile per camera, each a LivePlayer (MSE, or MJPEG as the fallback), laid
// out to fit the screen (as many columns as make the pictures largest while every row fits
// under the page head; no picture is ever taller than the window). A tap on a picture opens
// that camera's history. Objects, motion and zones can be drawn over the pictures
// (live-overlay.js). Players stop while the page is hidden (a phone in a pocket should not
// stream video).

import { api } from "../api.js";
import { ago, healthState, lastError, lastFrame, number, watchHealth } from "../health.js";
import { LiveOverlays } from "../live-overlay.js";
import { LivePlayer } from "../live-player.js";

const DEFAULT_ASPECT = 16 / 9; // until a camera's picture says otherwise
const MIN_WIDTH = 150; // below this a tile is unreadable: the grid scrolls instead
const BOTTOM_GAP = 12; // pixels kept free under the grid

const STATE_TEXT = {
  connecting: "Connecting",
  reconnecting: "Reconnecting",
  playing: "Live",
  offline: "Offline",
  stopped: "Paused",
  idle: "Connecting",
};

const players = [];
const aspects = new Map(); // camera -> width / height of its picture

/**
 * Columns and tile width that make the pictures largest with every row fitting in `height`
 * (the layout's aspect is the tallest picture's, so none overflows its row).
 */
export function fit(count, width, height, gap, aspect) {
  let best = { columns: 1, width: 0 };
  for (let columns = 1; columns <= count; columns += 1) {
    const rows = Math.ceil(count / columns);
    const byWidth = (width - (columns - 1) * gap) / columns;
    const byHeight = ((height - (rows - 1) * gap) / rows) * aspect;
    const tile = Math.min(byWidth, byHeight);
    if (tile > best.width + 0.5) best = { columns, width: tile };
  }
  if (best.width < MIN_WIDTH) {
    // Too many for one screen: the widest tiles that still fit the window one at a time.
    const columns = Math.max(1, Math.floor((width + gap) / (MIN_WIDTH + gap)));
    const byWidth = (width - (columns - 1) * gap) / columns;
    best = { columns, width: Math.min(byWidth, height * aspect) };
  }
  return { columns: best.columns, width: Math.floor(best.width), height: Math.floor(best.width / aspect) };
}

function layout() {
  const grid = document.getElementById("live-grid");
  const count = grid.children.length;
  if (!count) return;
  const style = getComputedStyle(grid);
  const gap = parseFloat(style.columnGap) || 0;
  const top = grid.getBoundingClientRect().top + window.scrollY;
  const height = Math.max(120, window.innerHeight - top - BOTTOM_GAP);
  const known = [...aspects.values()];
  const aspect = known.length ? Math.min(DEFAULT_ASPECT, ...known) : DEFAULT_ASPECT;
  const { columns, width, height: rowHeight } = fit(count, grid.clientWidth, height, gap, aspect);
  grid.style.gridTemplateColumns = `repeat(${columns}, ${width}px)`;
  grid.style.gridAutoRows = `${rowHeight}px`;
  grid.dataset.columns = String(columns);
}

function tile(camera, forceMjpeg) {
  const template = document.getElementById("tile-template");
  const node = template.content.firstElementChild.cloneNode(true);
  const name = camera.display_name || camera.name;
  node.dataset.camera = camera.name;
  node.querySelector(".live-name").textContent = name;
  node.setAttribute("aria-label", `${name}, live view`);
  const link = node.querySelector(".live-link");
  link.href = `/history/${encodeURIComponent(camera.name)}`;
  link.querySelector(".live-link-text").textContent = `${name}: open its history`;
  const stateText = node.querySelector(".live-state");
  const pathText = node.querySelector(".live-path");
  const player = new LivePlayer(
    camera,
    node.querySelector(".live-media"),
    (state, path) => {
      node.dataset.state = state;
      node.dataset.path = path;
      stateText.textContent = STATE_TEXT[state] ?? state;
      pathText.textContent = path === "mjpeg" ? "Fallback picture (MJPEG)" : "";
      summarize();
    },
    {
      forceMjpeg,
      onShape: (width, height) => {
        const before = aspects.get(camera.name);
        aspects.set(camera.name, width / height);
        if (before !== width / height) layout();
      },
    },
  );
  node.querySelector(".live-fullscreen").addEventListener("click", () => {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else node.requestFullscreen?.().catch(() => {});
  });
  players.push(player);
  return { node, player };
}

/** The tile's status line: what analysis is doing, and the error when it fails. */
function healthLine(health) {
  const state = healthState(health);
  const error = lastError(health);
  switch (state.key) {
    case "off":
      return { state, text: "Switched off" };
    case "connecting":
      return { state, text: "Connecting…" };
    case "reconnecting": {
      const why = error ? ` · ${error.message}` : "";
      return { state, text: `Reconnecting${why}` };
    }
    case "failing": {
      // "Analysis failing ×37: KeyError: 'x'" (the message says "analysis failed" itself).
      const count = error?.repeats ? ` ${error.repeats}` : "";
      const why = error ? `: ${error.message.replace(/^analysis failed: /, "")}` : "";
      return { state, text: `Analysis failing${count}${why}` };
    }
    case "quiet":
      return { state, text: `No picture since ${ago(health.server_time - health.last_frame_at)}` };
    default:
      return { state, text: `Analysing · ${number(health.frames_analysed)} frames · ${lastFrame(health)}` };
  }
}

function showHealth(node, health) {
  const line = node.querySelector(".live-health");
  if (!health) {
    line.hidden = true;
    return;
  }
  const { state, text } = healthLine(health);
  line.hidden = false;
  line.dataset.state = state.key;
  node.dataset.health = state.key;
  const label = line.querySelector(".live-health-text");
  label.textContent = text;
  line.title = text;
}

function summarize() {
  const total = players.length;
  const playing = players.filter((player) => player.state === "playing").length;
  const summary = document.getElementById("live-summary");
  if (!total) summary.textContent = "No cameras.";
  else if (playing === total) summary.textContent = `${total} camera${total === 1 ? "" : "s"}, all live`;
  else summary.textContent = `${playing} of ${total} camera${total === 1 ? "" : "s"} live`;
}

export async function init() {
  const grid = document.getElementById("live-grid");
  // ?path=mjpeg shows the fallback on purpose (for a browser that plays MSE badly).
  const forceMjpeg = new URLSearchParams(location.search).get("path") === "mjpeg";
  let cameras;
  try {
    cameras = await api("/api/cameras");
  } catch {
    document.getElementById("live-summary").textContent = "Could not load the cameras.";
    return;
  }
  if (!cameras?.length) {
    document.getElementById("empty").hidden = false;
    document.getElementById("overlay-toggles").hidden = true;
    summarize();
    return;
  }
  grid.dataset.count = String(cameras.length);
  const tiles = cameras.map((camera) => tile(camera, forceMjpeg));
  grid.replaceChildren(...tiles.map(({ node }) => node));
  layout();
  window.addEventListener("resize", layout);
  for (const { player } of tiles) player.start();
  summarize();
  const nodes = new Map(tiles.map(({ node }) => [node.dataset.camera, node]));
  watchHealth([...nodes.keys()], (name, health) => showHealth(nodes.get(name), health));
  new LiveOverlays(nodes).wire(document.getElementById("overlay-toggles"));

  document.addEventListener("visibilitychange", () => {
    for (const player of players) {
      if (document.hidden) player.stop();
      else player.start();
    }
  });
  window.addEventListener("pagehide", () => {
    for (const player of players) player.stop();
  });
}
