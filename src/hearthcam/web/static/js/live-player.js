// One camera's live picture. The preferred path is fragmented MP4 over a WebSocket into Media
// Source Extensions (the camera's own H.264, not re-encoded, about half a second behind); if the
// browser has no MSE, cannot play the codec, or the socket fails before any picture arrived, it
// falls back to the MJPEG stream of the detect frames in an <img> (or, past MAX_MJPEG_STREAMS
// of them on one page, to its snapshot refreshed a few times a second).

const MAX_LATENCY = 1.0; // seconds behind the newest buffered frame before jumping ahead
const START_LATENCY = 0.5; // the same, just after connecting (the server replays the GOP so far)
const START_MS = 3000; // how long "just after connecting" lasts
const TARGET_LATENCY = 0.2; // where a jump lands, behind the newest frame
const CATCH_UP_LATENCY = 0.5; // above this, play slightly faster to drift back
const KEEP_BEHIND = 3; // seconds of already played video kept in the buffer
const STALL_MS = 6000; // no data for this long: reconnect
const MAX_QUEUE = 300; // pending appends (a throttled tab): start over instead
const FAILURES_BEFORE_FALLBACK = 2; // socket failures with no picture before using MJPEG
const MJPEG_RETRY_MS = 5000;
// A browser opens at most 6 HTTP/1.1 connections to one host, and an MJPEG stream holds one
// for good: past this many streams, a fallback picture is the camera's snapshot, refreshed.
const MAX_MJPEG_STREAMS = 4;
const SNAPSHOT_MS = 700;
let mjpegStreams = 0;

function wsUrl(path) {
  const url = new URL(path, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

function mediaSourceClass() {
  return window.MediaSource ?? window.ManagedMediaSource ?? null;
}

export class LivePlayer {
  /**
   * @param {{name: string, display_name?: string, mse_url: string, mjpeg_url: string}} camera
   * @param {HTMLElement} mount where the <video> or <img> goes
   * @param {(state: string, path: string) => void} onState
   * @param {{forceMjpeg?: boolean, onShape?: (width: number, height: number) => void}} [options]
   */
  constructor(camera, mount, onState, options = {}) {
    this.camera = camera;
    this.mount = mount;
    this.onState = onState;
    this.forceMjpeg = Boolean(options.forceMjpeg);
    this.onShape = options.onShape ?? (() => {});
    this.path = "mse";
    this.state = "idle";
    this.failures = 0;
    this.hadPicture = false;
    this.timer = 0;
    this.retry = 0;
    this.ws = null;
    this.video = null;
    this.img = null;
    this.streaming = false; // holds one of the MAX_MJPEG_STREAMS connections
    this.resetMse();
  }

  resetMse() {
    this.mediaSource = null;
    this.sourceBuffer = null;
    this.mime = "";
    this.queue = [];
    this.lastData = 0;
    this.connectedAt = performance.now();
    this.lastTime = -1;
    this.lastProgress = performance.now();
  }

  get latency() {
    const video = this.video;
    if (!video || !video.buffered.length) return null;
    return video.buffered.end(video.buffered.length - 1) - video.currentTime;
  }

  start() {
    if (this.state !== "idle" && this.state !== "stopped") return;
    const MS = mediaSourceClass();
    if (this.forceMjpeg || !MS) this.startMjpeg(MS ? "forced" : "no-mse");
    else this.startMse();
  }

  stop() {
    window.clearTimeout(this.retry);
    window.clearInterval(this.timer);
    this.timer = 0;
    this.closeSocket();
    this.detachVideo();
    if (this.img) {
      this.img.onload = null;
      this.img.onerror = null;
      this.img.removeAttribute("src"); // ends the multipart request
    }
    this.releaseStream();
    this.setState("stopped");
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.onState(state, this.path);
  }

  releaseStream() {
    if (this.streaming) mjpegStreams -= 1;
    this.streaming = false;
  }

  /** Gives the tile the picture's shape, so a 4:3 camera is not shown between black bars. */
  fitFrame(width, height) {
    const frame = this.mount.closest(".live-frame");
    if (frame instanceof HTMLElement && width > 0 && height > 0) {
      frame.style.aspectRatio = `${width} / ${height}`;
      frame.style.setProperty("--aspect", String(width / height));
      this.onShape(width, height);
    }
  }

  // -- MSE -------------------------------------------------------------------------------------

  startMse() {
    this.path = "mse";
    if (!this.video) {
      const video = document.createElement("video");
      video.muted = true;
      video.autoplay = true;
      video.playsInline = true;
      video.setAttribute("aria-label", `${this.camera.display_name || this.camera.name}, live`);
      if (window.ManagedMediaSource && !window.MediaSource) video.disableRemotePlayback = true;
      video.addEventListener("playing", () => {
        this.hadPicture = true;
        this.failures = 0;
        this.setState("playing");
      });
      video.addEventListener("resize", () => this.fitFrame(video.videoWidth, video.videoHeight));
      video.addEventListener("error", () => {
        if (this.path !== "mse" || !this.mediaSource) return;
        this.startMjpeg("decode-error");
      });
      this.video = video;
      this.mount.replaceChildren(video);
    }
    this.setState(this.hadPicture ? "reconnecting" : "connecting");
    this.connect();
    window.clearInterval(this.timer);
    this.timer = window.setInterval(() => this.watch(), 1000);
  }

  connect() {
    this.resetMse();
    let socket;
    try {
      socket = new WebSocket(wsUrl(this.camera.mse_url));
    } catch {
      this.socketFailed();
      return;
    }
    socket.binaryType = "arraybuffer";
    socket.addEventListener("message", (message) => {
      if (socket !== this.ws) return;
      this.lastData = performance.now();
      if (typeof message.data === "string") this.control(message.data);
      else this.enqueue(message.data);
    });
    socket.addEventListener("close", () => {
      if (socket === this.ws) this.socketFailed();
    });
    this.ws = socket;
    this.lastData = performance.now();
  }

  closeSocket() {
    const socket = this.ws;
    this.ws = null;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000);
  }

  detachVideo() {
    this.resetMse();
    if (this.video) {
      this.video.removeAttribute("src");
      this.video.load();
    }
  }

  socketFailed() {
    this.closeSocket();
    this.failures += 1;
    // Once MSE has shown a picture it is worth reconnecting to; if it never did, it won't.
    if (!this.hadPicture && this.failures >= FAILURES_BEFORE_FALLBACK) {
      this.startMjpeg("socket");
      return;
    }
    this.detachVideo();
    this.setState(this.hadPicture ? "reconnecting" : "connecting");
    const delay = Math.min(15000, 1000 * 2 ** Math.min(this.failures - 1, 4));
    window.clearTimeout(this.retry);
    this.retry = window.setTimeout(() => {
      if (this.path === "mse" && this.state !== "stopped") this.connect();
    }, delay);
  }

  /** A text message: `{"mime": "..."}` before the first init segment and before a new one. */
  control(text) {
    let info;
    try {
      info = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof info?.mime !== "string") return;
    const MS = mediaSourceClass();
    if (!MS?.isTypeSupported(info.mime)) {
      this.startMjpeg("codec");
      return;
    }
    if (!this.mediaSource) this.openMediaSource(info.mime);
    else this.enqueue({ mime: info.mime });
  }

  openMediaSource(mime) {
    const MS = mediaSourceClass();
    const mediaSource = new MS();
    this.mediaSource = mediaSource;
    this.mime = mime;
    mediaSource.addEventListener(
      "sourceopen",
      () => {
        if (this.mediaSource !== mediaSource) return;
        URL.revokeObjectURL(this.video.src);
        try {
          const buffer = mediaSource.addSourceBuffer(mime);
          // The server gives each viewer a continuous timeline from 0, so the media
          // timestamps can be used as they are.
          buffer.mode = "segments";
          buffer.addEventListener("updateend", () => {
            this.followEdge();
            this.pump();
          });
          this.sourceBuffer = buffer;
        } catch {
          this.startMjpeg("codec");
          return;
        }
        this.pump();
      },
      { once: true },
    );
    this.video.src = URL.createObjectURL(mediaSource);
  }

  enqueue(item) {
    this.queue.push(item);
    if (this.queue.length > MAX_QUEUE) {
      this.closeSocket();
      this.socketFailed(); // too far behind: start again at the next keyframe
      return;
    }
    this.pump();
  }

  pump() {
    const buffer = this.sourceBuffer;
    if (!buffer || buffer.updating || this.mediaSource?.readyState !== "open") return;
    if (this.trim(buffer)) return; // updateend comes back here
    const next = this.queue.shift();
    if (next === undefined) return;
    if (!(next instanceof ArrayBuffer)) {
      if (next.mime !== this.mime) {
        if (typeof buffer.changeType !== "function") {
          this.socketFailed();
          return;
        }
        buffer.changeType(next.mime);
        this.mime = next.mime;
      }
      this.pump();
      return;
    }
    try {
      buffer.appendBuffer(next);
    } catch (error) {
      if (error?.name === "QuotaExceededError") {
        this.queue.unshift(next);
        const video = this.video;
        if (buffer.buffered.length && video.currentTime - buffer.buffered.start(0) > 0.5) {
          buffer.remove(buffer.buffered.start(0), video.currentTime - 0.5);
        }
        return;
      }
      this.socketFailed();
    }
  }

  /** Drops video already played (keeps the buffer small); true if a removal started. */
  trim(buffer) {
    const ranges = buffer.buffered;
    if (!ranges.length) return false;
    const start = ranges.start(0);
    const played = this.video.currentTime - start;
    if (played <= KEEP_BEHIND + 2) return false;
    buffer.remove(start, this.video.currentTime - KEEP_BEHIND);
    return true;
  }

  /** Keeps playback near the newest frame: a jump when far behind, a faster pace when a bit. */
  followEdge() {
    const video = this.video;
    const ranges = video?.buffered;
    if (!ranges?.length) return;
    const last = ranges.length - 1;
    const end = ranges.end(last);
    const latency = end - video.currentTime;
    const limit = performance.now() - this.connectedAt < START_MS ? START_LATENCY : MAX_LATENCY;
    if (video.currentTime < ranges.start(0) || latency > limit || video.currentTime > end) {
      video.currentTime = Math.max(ranges.start(last), end - TARGET_LATENCY);
    }
    video.playbackRate = latency > CATCH_UP_LATENCY ? 1.1 : 1;
    if (video.paused && !video.ended) video.play().catch(() => {});
    this.mount.closest("[data-camera]")?.setAttribute("data-latency", latency.toFixed(2));
  }

  watch() {
    if (this.path !== "mse" || !this.video) return;
    const now = performance.now();
    if (this.ws && now - this.lastData > STALL_MS) {
      this.socketFailed(); // the camera or the connection went quiet
      return;
    }
    const time = this.video.currentTime;
    if (time !== this.lastTime) {
      this.lastTime = time;
      this.lastProgress = now;
    } else if (now - this.lastProgress > 3000 && this.video.buffered.length) {
      this.followEdge(); // stuck (a gap, a tab that was in the background): jump to the edge
      this.lastProgress = now;
    }
  }

  // -- MJPEG fallback --------------------------------------------------------------------------

  startMjpeg(reason) {
    window.clearInterval(this.timer);
    window.clearTimeout(this.retry);
    this.timer = 0;
    this.closeSocket();
    if (this.video) {
      this.detachVideo();
      this.video.remove();
      this.video = null;
    }
    this.path = "mjpeg";
    this.fallbackReason = reason;
    this.setState("connecting");
    this.onState(this.state, this.path); // the path changed even if the state did not
    const img = this.img ?? document.createElement("img");
    img.alt = `${this.camera.display_name || this.camera.name}, live picture`;
    img.decoding = "async";
    this.releaseStream();
    this.streaming = mjpegStreams < MAX_MJPEG_STREAMS;
    if (this.streaming) mjpegStreams += 1;
    const source = () =>
      this.streaming ? `${this.camera.mjpeg_url}?t=${Date.now()}` : `${this.camera.snapshot_url}?t=${Date.now()}`;
    img.onload = () => {
      this.fitFrame(img.naturalWidth, img.naturalHeight);
      this.hadPicture = true;
      this.setState("playing");
      if (!this.streaming) {
        window.clearTimeout(this.retry);
        this.retry = window.setTimeout(() => {
          if (this.state !== "stopped") img.src = source();
        }, SNAPSHOT_MS);
      }
    };
    img.onerror = () => {
      this.setState("offline");
      window.clearTimeout(this.retry);
      this.retry = window.setTimeout(() => {
        if (this.state !== "stopped") img.src = source();
      }, MJPEG_RETRY_MS);
    };
    img.src = this.streaming ? this.camera.mjpeg_url : source();
    this.img = img;
    this.mount.replaceChildren(img);
  }
}
