// The live grid: one tile per camera, each a LivePlayer (MSE, or MJPEG as the fallback).
// Players stop while the page is hidden (a phone in a pocket should not stream video).

import { api } from "../api.js";
import { ago, healthState, lastError, lastFrame, number, watchHealth } from "../health.js";
import { LivePlayer } from "../live-player.js";

const STATE_TEXT = {
  connecting: "Connecting",
  reconnecting: "Reconnecting",
  playing: "Live",
  offline: "Offline",
  stopped: "Paused",
  idle: "Connecting",
};

const players = [];

function tile(camera, forceMjpeg) {
  const template = document.getElementById("tile-template");
  const node = template.content.firstElementChild.cloneNode(true);
  const name = camera.display_name || camera.name;
  node.dataset.camera = camera.name;
  node.querySelector(".live-name").textContent = name;
  const history = node.querySelector(".live-history");
  history.href = `/history/${encodeURIComponent(camera.name)}`;
  history.setAttribute("aria-label", `${name}: history`);
  node.setAttribute("aria-label", `${name}, live view`);
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
    { forceMjpeg },
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
    summarize();
    return;
  }
  grid.dataset.count = String(Math.min(cameras.length, 4));
  const tiles = cameras.map((camera) => tile(camera, forceMjpeg));
  grid.replaceChildren(...tiles.map(({ node }) => node));
  for (const { player } of tiles) player.start();
  summarize();
  const nodes = new Map(tiles.map(({ node }) => [node.dataset.camera, node]));
  watchHealth([...nodes.keys()], (name, health) => showHealth(nodes.get(name), health));

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
