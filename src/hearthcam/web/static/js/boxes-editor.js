// The boxes over the workbench's video: the model's pre-labels drawn near their keyframes while
// it plays, and, while it is paused on a keyframe, editable (drag a box to move it, a corner to
// resize it, empty space to draw one; pointer events, so mouse, pen and touch alike). Between
// keyframes nothing is interpolated here: each pre-label is its own track, so the export's
// interpolation would have nothing to carry either; a keyframe's boxes stay up for a second
// around it, read-only, as before.

/** The labels a corrected box may carry (the detector's classes the workbench knows). */
export const LABELS = ["person", "cat", "dog", "car", "truck"];

const COLOR = "#ffd54a";
const SELECTED = "#4ad8ff";
const MIN_SIZE = 0.01; // a drag shorter than this draws nothing (a click, not a box)
const clamp = (v) => Math.min(1, Math.max(0, v));
const round = (v) => Math.round(clamp(v) * 10000) / 10000;

export class BoxesEditor {
  /**
   * @param {HTMLCanvasElement} canvas drawn over the video, the same size
   * @param {HTMLVideoElement} video
   * @param {() => void} onChange called when the editing state or the selection changes
   */
  constructor(canvas, video, onChange) {
    this.canvas = canvas;
    this.video = video;
    this.onChange = onChange;
    this.drawLabel = LABELS[0]; // what a box drawn on empty space is labelled
    this.clear();
    canvas.addEventListener("pointerdown", (e) => this.#down(e));
    canvas.addEventListener("pointermove", (e) => this.#move(e));
    canvas.addEventListener("pointerup", (e) => this.#up(e));
    canvas.addEventListener("pointercancel", (e) => this.#up(e));
  }

  /** Forgets the lease's boxes. */
  clear() {
    this.fps = 10;
    this.frames = new Map(); // keyframe -> [{xyxy, label, track, score}]
    this.edited = new Set();
    this.selected = -1;
    this.drag = null;
    this.nextTrack = 0;
  }

  /** Takes a lease's keyframes and pre-labels (one track per box, as the model gave them). */
  load(lease) {
    this.clear();
    this.fps = lease.fps || 10;
    for (const frame of lease.keyframes) this.frames.set(frame, []);
    lease.boxes.forEach((box, i) => {
      const list = this.frames.get(box.frame) ?? [];
      list.push({ xyxy: [...box.xyxy], label: box.label, track: i, score: box.score });
      this.frames.set(box.frame, list);
    });
    this.nextTrack = lease.boxes.length;
  }

  /** What to record: keyframes with boxes, and edited ones even if emptied. */
  keyframes() {
    return [...this.frames]
      .filter(([frame, boxes]) => boxes.length || this.edited.has(frame))
      .sort(([a], [b]) => a - b)
      .map(([frame, boxes]) => ({
        frame,
        boxes: boxes.map((b) => ({ xyxy: b.xyxy.map(round), label: b.label, track: b.track })),
      }));
  }

  frameNow() {
    return Math.round(this.video.currentTime * this.fps);
  }

  /** The keyframe the video is paused on, or null. */
  editing() {
    const frame = this.frameNow();
    return this.video.paused && this.frames.has(frame) ? frame : null;
  }

  /** Pauses and seeks to the next (step 1) or previous (step -1) keyframe. */
  seekKeyframe(step) {
    const now = this.video.currentTime * this.fps;
    const frames = [...this.frames.keys()].sort((a, b) => a - b);
    const target = step > 0 ? frames.find((f) => f > now + 0.01) : frames.findLast((f) => f < now - 0.01);
    if (target === undefined) return;
    this.video.pause();
    this.selected = -1;
    this.video.currentTime = target / this.fps;
  }

  boxes() {
    const frame = this.editing();
    return frame === null ? [] : this.frames.get(frame);
  }

  selectedBox() {
    return this.boxes()[this.selected] ?? null;
  }

  select(index) {
    this.selected = index;
    this.#changed(false);
  }

  /** Selects the next box on this keyframe (keyboard users' way to reach each). */
  selectNext() {
    const count = this.boxes().length;
    if (count) this.select((this.selected + 1) % count);
  }

  /** Adds a box in the middle of the picture (the keyboard's and touch's way to draw one). */
  add(label) {
    if (this.editing() === null) return;
    this.boxes().push({ xyxy: [0.35, 0.3, 0.65, 0.7], label, track: this.nextTrack++, score: null });
    this.selected = this.boxes().length - 1;
    this.#changed(true);
  }

  remove() {
    if (!this.selectedBox()) return;
    this.boxes().splice(this.selected, 1);
    this.selected = -1;
    this.#changed(true);
  }

  setLabel(label) {
    const box = this.selectedBox();
    if (!box || box.label === label) return;
    box.label = label;
    box.score = null;
    this.#changed(true);
  }

  /** Moves the selected box, or (resize) its bottom-right corner, by a fraction of the frame. */
  nudge(dx, dy, resize) {
    const box = this.selectedBox();
    if (!box) return;
    const [a, b, c, d] = box.xyxy;
    box.xyxy = resize ? [a, b, clamp(Math.max(a + MIN_SIZE, c + dx)), clamp(Math.max(b + MIN_SIZE, d + dy))] : shift(box.xyxy, dx, dy);
    box.score = null;
    this.#changed(true);
  }

  #changed(edit) {
    const frame = this.editing();
    if (edit && frame !== null) this.edited.add(frame);
    this.draw();
    this.onChange();
  }

  // Where the picture is inside the element (object-fit: contain), in CSS pixels.
  #picture() {
    const rect = this.video.getBoundingClientRect();
    const scale = Math.min(rect.width / this.video.videoWidth, rect.height / this.video.videoHeight);
    const w = this.video.videoWidth * scale;
    const h = this.video.videoHeight * scale;
    return { left: rect.left + (rect.width - w) / 2, top: rect.top + (rect.height - h) / 2, w, h };
  }

  #point(event) {
    const p = this.#picture();
    return [clamp((event.clientX - p.left) / p.w), clamp((event.clientY - p.top) / p.h), p];
  }

  #down(event) {
    if (this.editing() === null || !this.video.videoWidth) return;
    event.preventDefault();
    // The picture was clicked: the keys (Delete, arrows) are for its boxes now, not a control.
    if (document.activeElement instanceof HTMLElement) document.activeElement.blur();
    const [x, y, p] = this.#point(event);
    const reach = event.pointerType === "touch" ? 18 : 10;
    const near = (u, v) => Math.abs((u - x) * p.w) <= reach && Math.abs((v - y) * p.h) <= reach;
    const boxes = this.boxes();
    // The selected box's corners first, then the topmost box under the pointer.
    const order = [...boxes.keys()].reverse().sort((i, j) => (j === this.selected) - (i === this.selected));
    let hit = null;
    for (const i of order) {
      const [a, b, c, d] = boxes[i].xyxy;
      const corner = [[a, b], [c, b], [a, d], [c, d]].findIndex(([u, v]) => near(u, v));
      if (corner >= 0) hit = { i, mode: "resize", corner };
      else if (x >= a && x <= c && y >= b && y <= d) hit = { i, mode: "move" };
      if (hit) break;
    }
    if (!hit) {
      boxes.push({ xyxy: [x, y, x, y], label: this.drawLabel, track: this.nextTrack++, score: null });
      hit = { i: boxes.length - 1, mode: "draw", corner: 3 };
    }
    this.selected = hit.i;
    this.drag = { ...hit, x, y, start: [...boxes[hit.i].xyxy] };
    this.canvas.setPointerCapture(event.pointerId);
    this.#changed(false);
  }

  #move(event) {
    const drag = this.drag;
    if (!drag) return;
    const [x, y] = this.#point(event);
    const box = this.boxes()[drag.i];
    if (!box) return;
    if (drag.mode === "move") box.xyxy = shift(drag.start, x - drag.x, y - drag.y);
    else {
      // The corner opposite the one dragged stays put.
      const [a, b, c, d] = drag.start;
      const fixedX = drag.corner % 2 ? a : c;
      const fixedY = drag.corner >= 2 ? b : d;
      const movedX = (drag.corner % 2 ? c : a) + x - drag.x;
      const movedY = (drag.corner >= 2 ? d : b) + y - drag.y;
      box.xyxy = [Math.min(fixedX, movedX), Math.min(fixedY, movedY), Math.max(fixedX, movedX), Math.max(fixedY, movedY)].map(clamp);
    }
    box.score = null;
    this.draw();
  }

  #up(event) {
    const drag = this.drag;
    if (!drag) return;
    this.drag = null;
    if (this.canvas.hasPointerCapture(event.pointerId)) this.canvas.releasePointerCapture(event.pointerId);
    const boxes = this.boxes();
    const [a, b, c, d] = boxes[drag.i]?.xyxy ?? [0, 0, 1, 1];
    const moved = boxes[drag.i]?.xyxy.some((v, k) => v !== drag.start[k]);
    if (drag.mode === "draw" && (c - a < MIN_SIZE || d - b < MIN_SIZE)) {
      boxes.splice(drag.i, 1); // a click on empty space: deselect
      this.selected = -1;
      this.#changed(false);
    } else this.#changed(Boolean(moved) || drag.mode === "draw");
  }

  /** Redraws: editable boxes with handles when paused on a keyframe, else those near one. */
  draw() {
    const { canvas, video } = this;
    const rect = video.getBoundingClientRect();
    const dpr = devicePixelRatio;
    canvas.width = Math.round(rect.width * dpr);
    canvas.height = Math.round(rect.height * dpr);
    const editing = this.editing() !== null;
    canvas.classList.toggle("is-editing", editing);
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (!video.videoWidth) return;
    const p = this.#picture();
    const x0 = (p.left - rect.left) * dpr;
    const y0 = (p.top - rect.top) * dpr;
    const w = p.w * dpr;
    const h = p.h * dpr;
    const frame = this.frameNow();
    // While playing, each keyframe's boxes stay up for a second around it: enough to see.
    const shown = editing
      ? this.boxes().map((box, i) => [box, i === this.selected])
      : [...this.frames].filter(([f]) => Math.abs(f - frame) <= this.fps / 2).flatMap(([, boxes]) => boxes.map((b) => [b, false]));
    ctx.font = `${12 * dpr}px system-ui, sans-serif`;
    for (const [box, selected] of shown) {
      const [a, b, c, d] = box.xyxy;
      ctx.strokeStyle = ctx.fillStyle = selected ? SELECTED : COLOR;
      ctx.lineWidth = (selected ? 3 : 2) * dpr;
      ctx.strokeRect(x0 + a * w, y0 + b * h, (c - a) * w, (d - b) * h);
      const score = box.score === null ? "" : ` ${Math.round(box.score * 100)}%`;
      ctx.fillText(`${box.label}${score}`, x0 + a * w + 3 * dpr, y0 + b * h + 14 * dpr);
      if (!editing) continue;
      const s = (selected ? 5 : 3.5) * dpr;
      for (const [u, v] of [[a, b], [c, b], [a, d], [c, d]]) ctx.fillRect(x0 + u * w - s, y0 + v * h - s, 2 * s, 2 * s);
    }
  }
}

// A box moved by (dx, dy), kept whole inside the frame.
function shift([a, b, c, d], dx, dy) {
  const mx = Math.min(Math.max(dx, -a), 1 - c);
  const my = Math.min(Math.max(dy, -b), 1 - d);
  return [a + mx, b + my, c + mx, d + my];
}
