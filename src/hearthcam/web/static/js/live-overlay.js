// What the live page draws over each picture: the objects the camera is following and where it
// saw motion (GET /api/live/{camera}/overlay: the newest analysed frame, in 0..1 of the frame),
// and its zones (GET /api/cameras/{camera}/geometry). Neither live stream carries boxes (the
// fMP4 is the camera's own H.264; the MJPEG the bare detect frame), so the page asks for them,
// a few times a second and only while a toggle is on and the page is visible.

import { api } from "./api.js";
import { h } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const POLL_MS = 400;
const ZONES_MS = 30000; // zones change rarely: fetched again this often while shown
// Every analysed frame replaces the boxes (with none when nothing is there); older than this
// they are not drawn: the camera stopped analysing (a slow box analyses a second or more late).
const STALE_S = 5;
const KEY = "hearthcam.live.overlay";

function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  return el;
}

function rect([x1, y1, x2, y2], cls) {
  return svg("rect", { x: x1, y: y1, width: Math.max(0, x2 - x1), height: Math.max(0, y2 - y1), class: cls });
}

function label(text, x, y, cls) {
  const el = h("span", { class: `live-label ${cls}` }, text);
  // Through CSSOM, not a style attribute: the CSP (style-src 'self') refuses inline styles.
  el.style.left = `${x * 100}%`;
  el.style.top = `${y * 100}%`;
  return el;
}

/** The toggles' state, kept in this browser between visits. */
function loadShown() {
  try {
    const saved = JSON.parse(localStorage.getItem(KEY) ?? "{}");
    return { boxes: Boolean(saved.boxes), motion: Boolean(saved.motion), zones: Boolean(saved.zones) };
  } catch {
    return { boxes: false, motion: false, zones: false };
  }
}

export class LiveOverlays {
  /** @param {Map<string, HTMLElement>} tiles camera name -> its tile */
  constructor(tiles) {
    this.tiles = tiles;
    this.shown = loadShown();
    this.latest = new Map(); // camera -> overlay answer
    this.zones = new Map(); // camera -> [{name, points}]
    this.timer = 0;
    this.zonesAt = 0;
    this.busy = false;
  }

  /** Wires the toggle buttons and starts polling if one is on. */
  wire(group) {
    for (const button of group.querySelectorAll("[data-overlay]")) {
      const kind = button.dataset.overlay;
      button.setAttribute("aria-pressed", String(this.shown[kind]));
      button.addEventListener("click", () => {
        this.shown[kind] = !this.shown[kind];
        button.setAttribute("aria-pressed", String(this.shown[kind]));
        try {
          localStorage.setItem(KEY, JSON.stringify(this.shown));
        } catch {
          /* private mode: the toggles just are not remembered */
        }
        if (kind === "zones") this.zonesAt = 0;
        this.drawAll();
        this.restart();
      });
    }
    document.addEventListener("visibilitychange", () => this.restart());
    this.restart();
  }

  get active() {
    return this.shown.boxes || this.shown.motion || this.shown.zones;
  }

  restart() {
    window.clearTimeout(this.timer);
    this.timer = 0;
    if (this.active && !document.hidden) this.poll();
  }

  async poll() {
    this.timer = 0;
    if (this.busy) return;
    this.busy = true;
    const names = [...this.tiles.keys()];
    const wantZones = this.shown.zones && Date.now() - this.zonesAt > ZONES_MS;
    if (wantZones) this.zonesAt = Date.now();
    await Promise.all(
      names.map(async (name) => {
        const path = encodeURIComponent(name);
        if (this.shown.boxes || this.shown.motion) {
          try {
            this.latest.set(name, await api(`/api/live/${path}/overlay`, { quiet: true }));
          } catch {
            this.latest.delete(name);
          }
        }
        if (wantZones) {
          try {
            const geometry = await api(`/api/cameras/${path}/geometry`, { quiet: true });
            this.zones.set(name, geometry?.zones ?? []);
          } catch {
            this.zones.delete(name);
          }
        }
      }),
    );
    this.busy = false;
    this.drawAll();
    if (this.active && !document.hidden) {
      // Zones alone need no fast refresh: they are fetched again after ZONES_MS.
      const wait = this.shown.boxes || this.shown.motion ? POLL_MS : ZONES_MS;
      this.timer = window.setTimeout(() => this.poll(), wait);
    }
  }

  drawAll() {
    for (const [name, node] of this.tiles) this.draw(name, node);
  }

  draw(name, node) {
    const drawing = node.querySelector(".live-drawing");
    const labels = node.querySelector(".live-labels");
    const shapes = [];
    const texts = [];
    if (this.shown.zones) {
      for (const zone of this.zones.get(name) ?? []) {
        shapes.push(svg("polygon", { points: zone.points.map(([x, y]) => `${x},${y}`).join(" "), class: "overlay-zone" }));
        const xs = zone.points.map((p) => p[0]);
        const ys = zone.points.map((p) => p[1]);
        texts.push(label(zone.name, (Math.min(...xs) + Math.max(...xs)) / 2, (Math.min(...ys) + Math.max(...ys)) / 2, "live-label-zone"));
      }
    }
    const latest = this.latest.get(name);
    const fresh = latest?.at != null && latest.server_time - latest.at <= STALE_S;
    if (fresh && this.shown.motion) for (const box of latest.motion) shapes.push(rect(box, "overlay-motion"));
    if (fresh && this.shown.boxes) {
      for (const object of latest.objects) {
        shapes.push(rect(object.box, "overlay-box"));
        texts.push(label(`${object.label} ${Math.round(object.score * 100)}%`, object.box[0], object.box[1], "live-label-box"));
      }
    }
    drawing.replaceChildren(...shapes);
    labels.replaceChildren(...texts);
    node.dataset.overlay = [
      this.shown.boxes ? "boxes" : "",
      this.shown.motion ? "motion" : "",
      this.shown.zones ? "zones" : "",
    ].filter(Boolean).join(" ");
  }
}
