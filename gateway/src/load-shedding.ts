import { monitorEventLoopDelay } from "node:perf_hooks";

/** Whether the gateway is refusing new requests because its event loop is behind. */
export interface LoadShedder {
  readonly shedding: boolean;
  stop(): void;
}

const RESOLUTION_MS = 10;

/**
 * Watches the event loop's delay with Node's own sampler (perf_hooks.monitorEventLoopDelay): every
 * `intervalMs` it takes the mean delay of that interval, beyond the sampling resolution. Past
 * `thresholdMs` the gateway sheds: new requests get a quick 503 instead of joining a queue that
 * makes every request slow; once an interval's delay is back under the threshold it serves again.
 * The mean, not the maximum: one long garbage collection is not overload.
 */
export function eventLoopShedder(options: {
  thresholdMs: number;
  intervalMs?: number;
  /** Each interval's delay, and whether the gateway sheds from now on. */
  onSample?(delayMs: number, shedding: boolean): void;
}): LoadShedder {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  let shedding = false;
  const timer = setInterval(() => {
    const delayMs = histogram.count > 0 ? Math.max(0, histogram.mean / 1e6 - RESOLUTION_MS) : 0;
    histogram.reset();
    shedding = delayMs > options.thresholdMs;
    options.onSample?.(delayMs, shedding);
  }, options.intervalMs ?? 500);
  timer.unref();
  return {
    get shedding() {
      return shedding;
    },
    stop() {
      clearInterval(timer);
      histogram.disable();
    },
  };
}
