/**
 * Runs `task` one call at a time, with at most one more queued behind the running one; calls made
 * while one is queued share it. A slow run that finishes last can never undo what a newer one
 * read, and a burst of triggers (file events) costs two runs, not one per trigger.
 */
export function latestWins<T>(task: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  let queued: Promise<T> | undefined;
  const run = (): Promise<T> => {
    if (!running) {
      running = task().finally(() => (running = undefined));
      return running;
    }
    queued ??= running
      .catch(() => undefined)
      .then(() => {
        queued = undefined;
        return run();
      });
    return queued;
  };
  return run;
}
