// Plays a camera's recording at any moment through Media Source Extensions.
//
// The server streams windows of the recording as fragmented MP4 whose media time is wall time
// minus one origin this player chose (GET /api/history/{camera}/media?since&until&origin), so
// every window lands where it belongs in one SourceBuffer: segment after segment plays on with
// no reload, and a seek to a moment already fetched is instant. Where the recording has a hole
// (the camera was down, or a few milliseconds between two segments) the buffered ranges do
// too; the player jumps it. It fetches ahead while playing and forgets what lies far behind.

const WINDOW_S = 30; // seconds of recording one request asks for
const AHEAD_S = 20; // fetch the next window when less than this is buffered ahead
const KEEP_BEHIND_S = 90; // buffered media kept behind the playhead
const JUMP_S = 0.25; // this close to the end of a buffered range, jump to the next one
const TICK_MS = 100;

export class HistoryPlayer {
  /**
   * @param {HTMLVideoElement} video
   * @param {string} mediaUrl /api/history/{camera}/media
   * @param {number} origin wall seconds at media time 0
   * @param {{spans: {start: number, end: number}[], until: number}} recording
   * @param {(state: string, detail?: string) => void} onState
   */
  constructor(video, mediaUrl, origin, recording, onState) {
    this.video = video;
    this.mediaUrl = mediaUrl;
    this.origin = origin;
    this.spans = recording.spans;
    this.until = recording.until;
    this.onState = onState;
    this.source = null;
    this.buffer = null;
    this.mime = "";
    this.loading = null; // {controller, since}
    this.skipTo = 0; // wall time up to which a fetch found nothing
    this.target = null; // wall time to show once it is buffered
    this.timer = null;
    this.queue = Promise.resolve();
    this.failed = false;
  }

  /** Opens the MediaSource (once). */
  async open() {
    if (!("MediaSource" in window)) throw new Error("This browser cannot play recordings (no Media Source Extensions).");
    this.source = new MediaSource();
    const opened = new Promise((resolve) => this.source.addEventListener("sourceopen", resolve, { once: true }));
    this.video.src = URL.createObjectURL(this.source);
    await opened;
    // Room for the whole listed stretch (and what is recorded while watching).
    this.source.duration = this.until - this.origin + 6 * 3600;
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  /** The wall time on screen. */
  get position() {
    return this.origin + this.video.currentTime;
  }

  /** Shows the recording at wall time ``wall`` (the next recorded moment if none then). */
  seek(wall) {
    const at = this.recordedAt(wall);
    if (at === null) {
      this.onState("end", "Nothing was recorded after this moment.");
      return;
    }
    const t = at - this.origin;
    this.skipTo = 0;
    if (this.buffered(t)) {
      this.target = null;
      this.video.currentTime = t;
      return;
    }
    this.target = at;
    this.onState("loading");
    this.load(at);
  }

  /** ``wall`` if it was recorded, else the start of the next span (null after the last). */
  recordedAt(wall) {
    for (const span of this.spans) {
      if (wall < span.end) return Math.max(wall, span.start);
    }
    return null;
  }

  /** Whether media time ``t`` is buffered with a little to play after it. */
  buffered(t) {
    const ranges = this.buffer?.buffered;
    if (!ranges) return false;
    for (let i = 0; i < ranges.length; i++) {
      if (ranges.start(i) <= t + 0.05 && t < ranges.end(i) - 0.1) return true;
    }
    return false;
  }

  play() {
    return this.video.play().catch(() => {});
  }

  pause() {
    this.video.pause();
  }

  close() {
    clearInterval(this.timer);
    this.loading?.controller.abort();
    this.video.pause();
    this.video.removeAttribute("src");
    this.video.load();
  }

  /** Fetches the window starting at ``since`` (aborting any other fetch) into the buffer. */
  load(since) {
    if (this.loading) this.loading.controller.abort();
    const controller = new AbortController();
    const loading = { controller, since };
    this.loading = loading;
    this.fetchWindow(loading).then(
      (got) => {
        if (this.loading !== loading) return;
        this.loading = null;
        // An empty window (a span that ended, or a listing gone stale): look after it next.
        if (!got) this.skipTo = since + WINDOW_S;
        // A window that added nothing new (the last fragment again): not again from here.
        const reached = this.origin + this.bufferedEndFrom(since - this.origin);
        if (got && reached < since + 0.5) this.skipTo = Math.max(this.skipTo, since + 0.5);
        if (this.target !== null && got) {
          // The moment asked for lies in the last tenth of a second fetched: show it anyway.
          this.video.currentTime = this.target - this.origin;
          this.target = null;
          this.onState("ready");
        } else if (this.target !== null) {
          const next = this.recordedAt(since + WINDOW_S);
          if (next === null) this.onState("end", "Nothing was recorded after this moment.");
          else this.seek(next);
        }
      },
      (error) => {
        if (this.loading === loading) this.loading = null;
        if (error?.name === "AbortError") return;
        this.skipTo = since + WINDOW_S; // not again at once: the next tick looks past it
        this.fail(error);
      },
    );
  }

  /** One window: its bytes appended as they arrive; resolves whether it held any media. */
  async fetchWindow(loading) {
    const { since, controller } = loading;
    const until = since + WINDOW_S;
    const url = `${this.mediaUrl}?since=${since.toFixed(3)}&until=${until.toFixed(3)}&origin=${this.origin}`;
    const response = await fetch(url, { signal: controller.signal, credentials: "same-origin" });
    if (response.status === 404) {
      const body = await response.json().catch(() => ({}));
      if (body?.detail === "nothing was recorded then") return false;
      throw new HistoryError(404, "This recording is gone (deleted, or past its retention).");
    }
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new HistoryError(response.status, body?.detail || `The recording could not be loaded (${response.status}).`);
    }
    await this.ensureBuffer(response.headers.get("content-type") || "video/mp4");
    // A window cut off earlier may have left half a box in the parser.
    await this.enqueue(() => this.buffer.abort());
    const reader = response.body.getReader();
    let bytes = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (controller.signal.aborted) throw new DOMException("aborted", "AbortError");
      bytes += value.byteLength;
      await this.append(value);
      this.afterAppend();
    }
    return bytes > 0;
  }

  /** The end of the run of buffered ranges that holds (or starts after) media time ``t``. */
  bufferedEndFrom(t) {
    const ranges = this.buffer?.buffered;
    if (!ranges || !ranges.length) return t;
    let end = t;
    for (let i = 0; i < ranges.length; i++) {
      if (ranges.end(i) <= t) continue;
      if (ranges.start(i) > end + JUMP_S && end > t) break;
      end = Math.max(end, ranges.end(i));
    }
    return end;
  }

  async ensureBuffer(mime) {
    if (this.buffer) {
      if (mime !== this.mime && typeof this.buffer.changeType === "function") {
        await this.enqueue(() => this.buffer.changeType(mime));
        this.mime = mime;
      }
      return;
    }
    if (!MediaSource.isTypeSupported(mime)) {
      throw new HistoryError(415, "This browser cannot play this camera's recordings.");
    }
    this.buffer = this.source.addSourceBuffer(mime);
    this.buffer.mode = "segments";
    this.mime = mime;
  }

  /** Runs ``operation`` on the buffer once it is idle; waits for the update it starts. */
  enqueue(operation) {
    const run = () =>
      new Promise((resolve, reject) => {
        const buffer = this.buffer;
        const started = operation();
        if (!buffer.updating) {
          resolve(started);
          return;
        }
        const done = () => {
          buffer.removeEventListener("updateend", done);
          buffer.removeEventListener("error", failed);
          resolve(started);
        };
        const failed = () => {
          buffer.removeEventListener("updateend", done);
          buffer.removeEventListener("error", failed);
          reject(new HistoryError(0, "The browser could not decode this recording."));
        };
        buffer.addEventListener("updateend", done);
        buffer.addEventListener("error", failed);
      });
    this.queue = this.queue.then(run, run);
    return this.queue;
  }

  async append(data) {
    try {
      await this.enqueue(() => this.buffer.appendBuffer(data));
    } catch (error) {
      if (error?.name !== "QuotaExceededError") throw error;
      await this.evict(0);
      await this.enqueue(() => this.buffer.appendBuffer(data));
    }
  }

  /** Forgets buffered media more than ``behind`` seconds behind the playhead. */
  async evict(behind = KEEP_BEHIND_S) {
    const ranges = this.buffer?.buffered;
    if (!ranges?.length) return;
    const cut = this.video.currentTime - behind;
    if (ranges.start(0) < cut - 1) await this.enqueue(() => this.buffer.remove(0, Math.max(0.001, cut)));
  }

  /** Once the moment asked for is buffered, show it there. */
  afterAppend() {
    if (this.target === null) return;
    const t = this.target - this.origin;
    if (this.buffered(t)) {
      this.target = null;
      this.video.currentTime = t;
      this.onState("ready");
    }
  }

  /** Every 100 ms: jump holes, fetch ahead, forget far behind. */
  tick() {
    if (!this.buffer || this.failed) return;
    const t = this.video.currentTime;
    const ranges = this.buffer.buffered;
    if (this.target === null && !this.video.seeking) {
      for (let i = 0; i + 1 < ranges.length; i++) {
        const inside = ranges.start(i) - 0.05 <= t && t <= ranges.end(i) + 0.05;
        if (inside && ranges.end(i) - t < JUMP_S) {
          this.video.currentTime = ranges.start(i + 1) + 0.001;
          this.onState("jumped");
          break;
        }
      }
    }
    if (this.loading || this.target !== null) return;
    const end = this.bufferedEndFrom(t);
    if (end - t >= AHEAD_S) return;
    const next = this.recordedAt(Math.max(this.origin + end + 0.01, this.skipTo));
    if (next === null) return; // nothing recorded after what is buffered
    this.evict();
    this.load(next);
  }

  fail(error) {
    this.onState("error", error?.message || "The recording could not be played.");
    // Locked, or a codec the browser cannot play: trying again will not help until a reload.
    if (error?.status === 423 || error?.status === 415 || error?.status === 410) this.failed = true;
  }
}

export class HistoryError extends Error {
  constructor(status, message) {
    super(message);
    this.name = "HistoryError";
    this.status = status;
  }
}
